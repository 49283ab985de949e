import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { IoManager } from "../../src/io/mod.ts";
import { MemoryManager } from "../../src/memory/mod.ts";
import { externalSort } from "../../src/sort/external_sort.ts";
import type { MergeWorkerFault } from "../../src/sort/merge_worker.ts";
import { BytesOrder } from "../../src/sort/record_order.ts";
import { makeRandom, makeWorkDir } from "./_gnu.ts";
import { propertySeed } from "../_support/property.ts";

/** Random lines, some duplicated, so that the runs interleave. */
function randomLines(random: () => number, lineCount: number): Uint8Array {
  const parts: number[] = [];
  for (let i = 0; i < lineCount; i += 1) {
    const length = Math.floor(random() * 30);
    for (let j = 0; j < length; j += 1) parts.push(0x61 + Math.floor(random() * 26));
    parts.push(10);
  }
  return new Uint8Array(parts);
}

/** Sorts `input` with the final merge on the Worker; returns the outcome and the leftovers. */
async function sortWithFault(
  input: string,
  fault: MergeWorkerFault | undefined,
): Promise<{ error: unknown; output: Uint8Array | undefined; usedMergeWorker: boolean }> {
  const work = await makeWorkDir();
  const memory = new MemoryManager({ budgetBytes: 1024 * 1024, segmentBytes: 4096 });
  const io = await IoManager.open({ memory, tmpDirs: [work.spill], handleSignals: false });
  let error: unknown = undefined;
  let output: Uint8Array | undefined = undefined;
  let usedMergeWorker = false;
  try {
    const stats = await externalSort([input], work.path("out"), {
      memory,
      io,
      order: new BytesOrder(false),
      orderDescriptor: { kind: "bytes", reverse: false },
      parallelMergeBytesMin: 0,
      mergeWorkerSilenceMsMax: 300,
      ...(fault === undefined ? {} : { mergeWorkerFault: fault }),
    });
    usedMergeWorker = stats.usedMergeWorker;
    output = await Deno.readFile(work.path("out"));
  } catch (caught) {
    error = caught;
    await rejects(Deno.stat(work.path("out")), Deno.errors.NotFound, "no partial output");
  } finally {
    await io.close();
    memory.assertAllReleased();
    deepStrictEqual(work.spillLeftovers(), [], "spill files left behind");
    await work.remove();
  }
  return { error, output, usedMergeWorker };
}

Deno.test("A merge Worker that throws, crashes, exits or hangs fails the sort, never hangs it", async () => {
  const seed = propertySeed();
  const work = await makeWorkDir();
  try {
    const input = work.path("in");
    await Deno.writeFile(input, randomLines(makeRandom(seed), 60_000));
    const clean = await sortWithFault(input, undefined);
    strictEqual(clean.error, undefined);
    strictEqual(clean.usedMergeWorker, true, "the test must reach the merge Worker");
    const expected: Record<MergeWorkerFault["kind"], RegExp> = {
      throw: /^Merge worker failed: Error: injected merge worker fault after 2 blocks$/,
      crash: /^Merge worker crashed: .*injected merge worker crash after 2 blocks/,
      exit: /^Merge worker stopped answering: silent for \d+ ms, nothing pending$/,
      hang: /^Merge worker stopped answering: silent for \d+ ms, nothing pending$/,
    };
    for (const kind of ["throw", "crash", "exit", "hang"] as const) {
      const started = Date.now();
      const { error } = await sortWithFault(input, { kind, afterBlocks: 2 });
      ok(error instanceof Error, `${kind}: the sort must fail (seed ${seed})`);
      ok(expected[kind].test(error.message), `${kind}: ${error.message}`);
      ok(Date.now() - started < 30_000, `${kind}: took ${Date.now() - started} ms`);
    }
  } finally {
    await work.remove();
  }
});

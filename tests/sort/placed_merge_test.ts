/**
 * The final merge as key ranges at their offsets (src/sort/placed_merge.ts): the merge Worker
 * and the main thread each merge whole ranges into the output's temp file, placed by the runs'
 * line-bytes indexes. Checked against a C-locale oracle (and GNU sort where it is installed)
 * and against the one-Worker merge, on inputs that spill many runs at a small budget: random
 * lines with many duplicates, lines of thousands of bytes, lines of 128+ bytes (two-byte
 * varints, which the index must discount), `-r`; keyed orders and `-u` keep one lane.
 */
import { deepStrictEqual, ok, rejects, strictEqual, throws } from "node:assert/strict";
import { Buffer } from "node:buffer";
import { IoManager, type SpillRun } from "../../src/io/mod.ts";
import { MemoryManager } from "../../src/memory/mod.ts";
import { externalSort, type SortStats } from "../../src/sort/external_sort.ts";
import {
  checkRangeBytes,
  mergePlacedRanges,
  PLACED_MERGE_BYTES_MIN,
  PLACED_MERGE_SHRINKING_BYTES_MIN,
  placedMergeCuts,
} from "../../src/sort/placed_merge.ts";
import { evenCuts, shrinkingCuts } from "../../src/sort/key_split.ts";
import { WasmKernels } from "../../src/kernels/mod.ts";
import { BytesOrder } from "../../src/sort/record_order.ts";
import { parseSortOrder, type SortOrderSpec } from "../../src/sort/sort_order.ts";
import { gnuSort, gnuSortAvailable, makeRandom, makeWorkDir, randomLines } from "./_gnu.ts";
import { propertySeed } from "../_support/property.ts";
import { plainSpec } from "./_fixtures.ts";

// The smallest budget whose plan has the Worker gather runs (only those carry a line-bytes index).
const BUDGET_BYTES = 8 * 1024 * 1024;
const SEGMENT_BYTES = 8192;

/** Lines with many duplicates, some of 128+ bytes and a few of thousands of bytes. */
function mixedLines(random: () => number, lineCount: number): Uint8Array {
  const parts: number[] = [];
  const words = ["", "a", "ab", "abc", "b", "ba", "zz", "the", "of", "a b"];
  for (let i = 0; i < lineCount; i += 1) {
    const kind = random();
    if (kind < 0.4) {
      for (const ch of words[Math.floor(random() * words.length)]!) parts.push(ch.charCodeAt(0));
    } else if (kind < 0.9) {
      const length = Math.floor(random() * 20);
      for (let j = 0; j < length; j += 1) parts.push(0x61 + Math.floor(random() * 6));
    } else if (kind < 0.998) {
      const length = 120 + Math.floor(random() * 200);
      for (let j = 0; j < length; j += 1) parts.push(0x61 + Math.floor(random() * 3));
    } else {
      // Under a page (a longer line is spilled as a run of its own), often across block borders.
      const length = 3000 + Math.floor(random() * 5000);
      const ch = 0x61 + Math.floor(random() * 3);
      for (let j = 0; j < length; j += 1) parts.push(ch);
    }
    parts.push(10);
  }
  return new Uint8Array(parts);
}

/** What a C-locale sort writes. */
function expectedSort(input: Uint8Array, reverse: boolean): Uint8Array {
  const records: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < input.length; i += 1) {
    if (input[i] === 10) {
      records.push(input.subarray(start, i));
      start = i + 1;
    }
  }
  records.sort((a, b) => reverse ? Buffer.compare(b, a) : Buffer.compare(a, b));
  return Buffer.concat(records.flatMap((record) => [record, new Uint8Array([10])]));
}

async function sortFile(
  input: string,
  options: {
    reverse?: boolean;
    unique?: boolean;
    spec?: SortOrderSpec;
    placed: boolean;
    /** The default ranges instead of 12 equal ones (`shrinking`: shrinking ones at any size). */
    ranges?: "default" | "shrinking";
    stdout?: boolean;
    /** externalSort's `blockFirstKeysBytesMax`. */
    firstKeysBytesMax?: number;
  },
): Promise<{ output: Uint8Array; stats: SortStats }> {
  const work = await makeWorkDir();
  const memory = new MemoryManager({ budgetBytes: BUDGET_BYTES, segmentBytes: SEGMENT_BYTES });
  const io = await IoManager.open({ memory, tmpDirs: [work.spill], handleSignals: false });
  const reverse = options.reverse ?? false;
  try {
    const spec = options.spec;
    const stats = await externalSort([input], work.path("out"), {
      memory,
      io,
      order: spec === undefined ? new BytesOrder(reverse) : parseSortOrder(spec),
      orderDescriptor: spec === undefined ? { kind: "bytes", reverse } : { kind: "spec", spec },
      unique: options.unique ?? false,
      parallelMergeBytesMin: 0,
      placedMerge: options.placed
        ? (options.ranges === "default"
          ? { bytesMin: 0 }
          : options.ranges === "shrinking"
          ? { bytesMin: 0, shrinkingBytesMin: 0 }
          : { rangeCount: 12, bytesMin: 0 })
        : false,
      ...(options.firstKeysBytesMax === undefined
        ? {}
        : { blockFirstKeysBytesMax: options.firstKeysBytesMax }),
    });
    return { stats, output: await Deno.readFile(work.path("out")) };
  } finally {
    await io.close();
    memory.assertAllReleased();
    deepStrictEqual(work.spillLeftovers(), [], "spill files left behind");
    await work.remove();
  }
}

Deno.test("the placed final merge writes what one merge writes, every range in its place (-r, long lines)", async () => {
  const seed = propertySeed();
  const work = await makeWorkDir();
  try {
    const random = makeRandom(seed);
    const inputs = [
      ["mixed", mixedLines(random, 300_000)],
      ["random", randomLines(random, 900_000)],
    ] as const;
    for (const [name, bytes] of inputs) {
      const input = work.path(name);
      await Deno.writeFile(input, bytes);
      for (const reverse of [false, true]) {
        const label = `${name}, reverse ${reverse}, seed ${seed}`;
        const expected = expectedSort(bytes, reverse);
        const placed = await sortFile(input, { reverse, placed: true });
        ok(placed.stats.runCount > 2, `${label}: ${placed.stats.runCount} runs`);
        ok(placed.stats.mergeRanges > 4, `${label}: ${placed.stats.mergeRanges} ranges`);
        strictEqual(placed.stats.outputRecords, placed.stats.inputRecords, label);
        ok(Buffer.compare(placed.output, expected) === 0, `${label}: placed output differs`);
        const one = await sortFile(input, { reverse, placed: false });
        strictEqual(one.stats.mergeRanges, 0, label);
        ok(Buffer.compare(one.output, placed.output) === 0, `${label}: one merge differs`);
        if (gnuSortAvailable) {
          const gnu = await gnuSort([...(reverse ? ["-r"] : []), input]);
          ok(Buffer.compare(gnu.stdout, placed.output) === 0, `${label}: GNU sort differs`);
        }
      }
    }
  } finally {
    await work.remove();
  }
});

Deno.test("the placed final merge's ranges shrink towards the end and write what one merge writes", async () => {
  const seed = propertySeed();
  const work = await makeWorkDir();
  try {
    const random = makeRandom(seed);
    const bytes = randomLines(random, 900_000);
    const input = work.path("random");
    await Deno.writeFile(input, bytes);
    const placed = await sortFile(input, { placed: true, ranges: "shrinking" });
    const label = `seed ${seed}`;
    // Eight equal ranges before; the shrinking cuts make eleven where the samples allow.
    ok(placed.stats.mergeRanges > 8, `${label}: ${placed.stats.mergeRanges} ranges`);
    ok(Buffer.compare(placed.output, expectedSort(bytes, false)) === 0, `${label}: output differs`);
  } finally {
    await work.remove();
  }
});

Deno.test("a placed final merge below 256 MiB is two halves, one per lane, and writes what one merge writes", async () => {
  const seed = propertySeed();
  const work = await makeWorkDir();
  try {
    const random = makeRandom(seed);
    const bytes = randomLines(random, 900_000);
    const input = work.path("random");
    await Deno.writeFile(input, bytes);
    const placed = await sortFile(input, { placed: true, ranges: "default" });
    const label = `seed ${seed}`;
    ok(placed.stats.runCount > 2, `${label}: ${placed.stats.runCount} runs`);
    strictEqual(placed.stats.mergeRanges, 2, label);
    ok(Buffer.compare(placed.output, expectedSort(bytes, false)) === 0, `${label}: output differs`);
  } finally {
    await work.remove();
  }
});

Deno.test("placed merge cuts: two halves below 256 MiB, shrinking ranges from it", () => {
  deepStrictEqual(placedMergeCuts(PLACED_MERGE_BYTES_MIN), [0.5]);
  deepStrictEqual(placedMergeCuts(PLACED_MERGE_SHRINKING_BYTES_MIN - 1), [0.5]);
  deepStrictEqual(
    placedMergeCuts(PLACED_MERGE_SHRINKING_BYTES_MIN),
    shrinkingCuts(1 / 4, 1 / 32),
  );
  deepStrictEqual(placedMergeCuts(1, 0), shrinkingCuts(1 / 4, 1 / 32));
});

Deno.test("shrinking cuts: each range a share of what is left, none below the least share", () => {
  const cuts = shrinkingCuts(1 / 4, 1 / 32);
  const shares = [...cuts, 1].map((cut, i) => cut - (i === 0 ? 0 : cuts[i - 1]!));
  strictEqual(shares.length, 11);
  strictEqual(shares[0], 1 / 4);
  for (let i = 1; i < shares.length; i += 1) {
    ok(shares[i]! <= shares[i - 1]! || i === shares.length - 1, `share ${i} grew`);
    ok(shares[i]! >= 1 / 32 - 1e-12, `share ${i} below the least`);
  }
  ok(shares[shares.length - 1]! < 1 / 16, "the last range is small");
  deepStrictEqual(evenCuts(4), [0.25, 0.5, 0.75]);
  deepStrictEqual(evenCuts(1), []);
});

Deno.test("the placed final merge leaves -u and keyed orders to one merge, which stays right", async () => {
  const seed = propertySeed();
  const work = await makeWorkDir();
  try {
    const input = work.path("in");
    const bytes = randomLines(makeRandom(seed), 700_000);
    await Deno.writeFile(input, bytes);
    const unique = await sortFile(input, { unique: true, placed: true });
    strictEqual(unique.stats.mergeRanges, 0, "-u is one merge");
    const spec = plainSpec(["2"], { fieldSeparator: 0x3a });
    const keyed = await sortFile(input, { spec, placed: true });
    strictEqual(keyed.stats.mergeRanges, 0, "keyed runs are one merge");
    ok(keyed.stats.runCount > 2, `${keyed.stats.runCount} runs`);
    if (gnuSortAvailable) {
      const gnuUnique = await gnuSort(["-u", input]);
      ok(Buffer.compare(gnuUnique.stdout, unique.output) === 0, `-u differs, seed ${seed}`);
      const gnuKeyed = await gnuSort(["-t:", "-k2", input]);
      ok(Buffer.compare(gnuKeyed.stdout, keyed.output) === 0, `-k2 differs, seed ${seed}`);
    }
  } finally {
    await work.remove();
  }
});

Deno.test("a key range that writes other than its place's bytes is an internal error", () => {
  checkRangeBytes(100, 100);
  throws(() => checkRangeBytes(99, 100), /wrote 99 bytes into a place of 100/);
  throws(() => checkRangeBytes(200, 100), /wrote 200 bytes into a place of 100/);
});

Deno.test("a placed final merge that fails before its lanes start ends the Worker it was given", async () => {
  // A run that cannot be read when the splitters are sampled (a corrupt or vanished spill
  // file): the error must not leave the merge Worker running (an idle Worker keeps the process
  // alive: the CLI printed the error and hung).
  const memory = new MemoryManager({ budgetBytes: BUDGET_BYTES, segmentBytes: SEGMENT_BYTES });
  const work = await makeWorkDir();
  let terminated = 0;
  const worker = { terminate: () => void (terminated += 1) } as unknown as Worker;
  const run = {
    path: work.path("no-such-run"),
    byteLength: 4096 + 3 * SEGMENT_BYTES,
    recordCount: 10,
  } as unknown as SpillRun;
  try {
    await rejects(
      mergePlacedRanges([run], undefined, {
        memory,
        kernels: new WasmKernels(memory.wasmMemory),
        reverse: false,
        terminator: 10,
        expectedRecords: 10,
        cuts: evenCuts(4),
        outputSegments: 4,
        lineBytesIndexes: new Map([[run, [0, 10, 20, 30]]]),
        parts: { path: work.path("parts"), offset: 0, writeback: false },
        worker,
      }),
    );
    strictEqual(terminated, 1, "the Worker was not ended");
    memory.assertAllReleased();
  } finally {
    await work.remove();
  }
});

Deno.test("a Worker lane that fails stops the placed merge with its own error, nothing left", async () => {
  const work = await makeWorkDir();
  const memory = new MemoryManager({ budgetBytes: BUDGET_BYTES, segmentBytes: SEGMENT_BYTES });
  const io = await IoManager.open({ memory, tmpDirs: [work.spill], handleSignals: false });
  try {
    const input = work.path("in");
    await Deno.writeFile(input, randomLines(makeRandom(propertySeed()), 900_000));
    await rejects(
      externalSort([input], work.path("out"), {
        memory,
        io,
        order: new BytesOrder(false),
        orderDescriptor: { kind: "bytes", reverse: false },
        parallelMergeBytesMin: 0,
        placedMerge: { rangeCount: 2, bytesMin: 0 },
        mergeWorkerFault: { kind: "throw", afterBlocks: 3 },
      }),
      (error: Error) => /injected merge worker/.test(error.message) && error.name !== "LaneStopped",
    );
    await rejects(Deno.stat(work.path("out")), Deno.errors.NotFound, "no partial output");
  } finally {
    await io.close();
    memory.assertAllReleased();
    deepStrictEqual(work.spillLeftovers(), [], "spill files left behind");
    await work.remove();
  }
});

Deno.test("the placed final merge with the runs' block first keys bounded: runs without keys (or with some) merge the same", async () => {
  const seed = propertySeed();
  const work = await makeWorkDir();
  try {
    const bytes = mixedLines(makeRandom(seed), 300_000);
    const input = work.path("mixed");
    await Deno.writeFile(input, bytes);
    const expected = expectedSort(bytes, false);
    // None kept; then a bound that the first two runs' keys fit in (~48 KB each), not the rest.
    for (const firstKeysBytesMax of [0, 100 * 1024]) {
      const placed = await sortFile(input, { placed: true, firstKeysBytesMax });
      const label = `bound ${firstKeysBytesMax}, seed ${seed}`;
      ok(placed.stats.runCount > 2, `${label}: ${placed.stats.runCount} runs`);
      ok(Buffer.from(placed.output).equals(Buffer.from(expected)), `${label}: output differs`);
    }
  } finally {
    await work.remove();
  }
});

Deno.test("a sort that lends its idle merge Worker: the leak check shares the poison check with it, same findings", async () => {
  const seed = propertySeed();
  const work = await makeWorkDir();
  const memory = new MemoryManager({ budgetBytes: 16 * 1024 * 1024, segmentBytes: 32 * 1024 });
  const io = await IoManager.open({ memory, tmpDirs: [work.spill], handleSignals: false });
  const posted: string[] = [];
  let terminated = 0;
  const { postMessage, terminate } = Worker.prototype;
  Worker.prototype.postMessage = function (this: Worker, message: { type?: string }) {
    posted.push(String(message?.type));
    return postMessage.call(this, message);
  } as typeof postMessage;
  Worker.prototype.terminate = function (this: Worker) {
    terminated += 1;
    return terminate.call(this);
  };
  try {
    const bytes = randomLines(makeRandom(seed), 900_000);
    await Deno.writeFile(work.path("in"), bytes);
    const stats = await externalSort([work.path("in")], work.path("out"), {
      memory,
      io,
      order: new BytesOrder(false),
      orderDescriptor: { kind: "bytes", reverse: false },
      parallelMergeBytesMin: 0,
      placedMerge: { bytesMin: 0 },
      lendIdleWorker: true,
    });
    const label = `seed ${seed}`;
    strictEqual(stats.mergeRanges, 2, `${label}: the placed merge ran`);
    strictEqual(terminated, 0, `${label}: the idle Worker was ended, not lent`);
    ok(Buffer.compare(await Deno.readFile(work.path("out")), expectedSort(bytes, false)) === 0);
    await io.close();
    // A write after release into a free page (page 10: written by the sort, poisoned).
    const page = new Uint8Array(
      memory.wasmMemory.buffer,
      memory.kernelScratch.byteOffset +
        memory.kernelScratch.byteLength + 10 * memory.segmentBytes,
      memory.segmentBytes,
    );
    strictEqual(page[5], 0xdb, "page 10 is free and poisoned");
    page[5] = 0x42;

    const report = memory.leakReport();
    ok(posted.includes("poison-check"), `${label}: the Worker was not asked: ${posted}`);
    strictEqual(report.poisonViolations.length, 1, report.text);
    ok(report.poisonViolations[0]!.detail.startsWith("page 10, byte 5 is 0x42"), report.text);
    memory.detachPoisonHelper();
    strictEqual(terminated, 1, "detaching ends the Worker");
  } finally {
    Worker.prototype.postMessage = postMessage;
    Worker.prototype.terminate = terminate;
    memory.detachPoisonHelper();
    await io.close();
    await work.remove();
  }
});

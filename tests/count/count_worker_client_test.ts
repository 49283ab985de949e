/**
 * The count Worker's error paths: whatever failed (the Worker's own spill, or this thread),
 * `close()` has the Worker delete its files and end its work before its memory goes back.
 */
import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { MemoryManager } from "../../src/memory/mod.ts";
import { CountWorkerClient } from "../../src/count/count_worker_client.ts";

const SEGMENT_BYTES = 4096;

/** Chunks of unique lines (so that the Worker's table fills and spills). */
function uniqueLines(chunkIndex: number, chunkBytes: number): Uint8Array {
  let text = "";
  for (let line = 0; text.length + 24 < chunkBytes; line += 1) {
    text += `w${chunkIndex.toString(36)}-${line.toString(36)}-${(line * 7919).toString(36)}\n`;
  }
  return new TextEncoder().encode(text);
}

/** Offers chunks until the Worker has failed (offer throws), or `chunkCount` are handed over. */
async function offerUntilFailed(client: CountWorkerClient, chunkCount: number): Promise<unknown> {
  await client.whenReady();
  for (let i = 0; i < chunkCount; i += 1) {
    const chunk = uniqueLines(i, 16 * 1024);
    try {
      while (!client.offer(chunk)) await new Promise((resolve) => setTimeout(resolve, 1));
    } catch (error) {
      return error;
    }
  }
  return undefined;
}

/**
 * A count Worker of `budgetSegments` pages (of a 256-page budget) on `tmp`, counting lines, whose
 * `failAtOperation`th I/O operation fails.
 */
function startFailingWorker(
  tmp: string,
  failAtOperation: number,
  budgetSegments: number,
  chunkBytes: number,
): { memory: MemoryManager; client: CountWorkerClient } {
  const memory = new MemoryManager({
    budgetBytes: 256 * SEGMENT_BYTES,
    segmentBytes: SEGMENT_BYTES,
    leakDetection: "simple",
  });
  const client = CountWorkerClient.start(memory, {
    budgetBytes: budgetSegments * SEGMENT_BYTES,
    segmentBytes: SEGMENT_BYTES,
    leakDetection: "simple",
    tokenizer: "line",
    caseMode: "preserve",
    tmpDirs: [tmp],
    spillMode: "file",
    tableRunsShare: 8,
    chunkBytes,
    failAtOperation,
  });
  return { memory, client };
}

Deno.test("count worker: close after the Worker's spill failed deletes its files and checks its memory", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "count-worker-client-" });
  try {
    for (const failAtOperation of [2, 3, 4, 6]) {
      const { memory, client } = startFailingWorker(tmp, failAtOperation, 96, 16 * 1024);
      const failure = await offerUntilFailed(client, 400);
      ok(failure instanceof Error, `fault at operation ${failAtOperation}: the Worker failed`);
      ok(/Injected I\/O fault/.test(failure.message), failure.message);
      await client.close();
      // Its private directory and its spill files are gone (not left to a terminated Worker).
      deepStrictEqual([...Deno.readDirSync(tmp)].map((entry) => entry.name), []);
      const report = memory.leakReport();
      strictEqual(report.text, "", report.text);
      strictEqual(report.poisonViolations.length, 0);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("count worker: close while the Worker still counts, and then fails, waits for its close", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "count-worker-client-" });
  try {
    for (const failAtOperation of [2, 3, 5, 8]) {
      const { memory, client } = startFailingWorker(tmp, failAtOperation, 48, 128 * 1024);
      await client.whenReady();
      // This thread fails (its input, say) with both chunks queued on the Worker, whose spill
      // then fails while it counts them: its `failed` comes before its `closed`.
      for (let i = 0; i < 2; i += 1) ok(client.offer(uniqueLines(i, 128 * 1024)));
      await client.close();
      // The injected fault fired (else this case tests a plain close): the client holds it.
      throws(
        () => client.offer(new Uint8Array(1)),
        /Injected I\/O fault/,
        `fault at ${failAtOperation}`,
      );
      deepStrictEqual([...Deno.readDirSync(tmp)].map((entry) => entry.name), []);
      const report = memory.leakReport();
      strictEqual(report.text, "", report.text);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

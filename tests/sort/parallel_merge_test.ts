import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  CorruptSpillError,
  type IoManager,
  SpillReadError,
  type SpillRun,
} from "../../src/io/mod.ts";
import type { MemoryManager } from "../../src/memory/mod.ts";
import { externalSort } from "../../src/sort/external_sort.ts";
import { type MergeWorkerFault, WORKER_SITES } from "../../src/sort/merge_worker.ts";
import { mergeOnWorker, RunOnWorker, startMergeWorker } from "../../src/sort/parallel_merge.ts";
import { BytesOrder } from "../../src/sort/record_order.ts";
import { makeRandom, makeWorkDir } from "./_gnu.ts";
import { withMergeFixture } from "./_fixtures.ts";
import { propertySeed } from "../_support/property.ts";

/** The merge of ascending lines ended by "\n", every one kept. */
const LINES = { reverse: false, unique: false, terminator: 10 } as const;

/** `runs` for the merge Worker to read itself. */
function onWorker(runs: readonly SpillRun[]): RunOnWorker[] {
  return runs.map((run) => new RunOnWorker(run));
}

/**
 * Merges `runs` (of ascending lines) on the Worker, which writes `byteLength` bytes into `path`
 * itself, as in the placed final merge.
 */
function mergeIntoFile(
  runs: readonly SpillRun[],
  path: string,
  byteLength: number,
  options: Omit<Parameters<typeof mergeOnWorker>[2], keyof typeof LINES | "output">,
): ReturnType<typeof mergeOnWorker> {
  return mergeOnWorker(onWorker(runs), () => {
    throw new Error("the Worker writes the output itself");
  }, { ...LINES, ...options, output: { path, position: 0, byteLength, writeback: false } });
}

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

/**
 * Sorts `input` with the final merge on the Worker under a watchdog of `silenceMs`; returns the
 * outcome and the leftovers.
 */
async function sortWithFault(
  input: string,
  fault: MergeWorkerFault | undefined,
  silenceMs: number,
  stall: { onMergeStall?: (message: string) => void; mergeStallWarnMs?: number } = {},
): Promise<{ error: unknown; output: Uint8Array | undefined; usedMergeWorker: boolean }> {
  let error: unknown = undefined;
  let output: Uint8Array | undefined = undefined;
  let usedMergeWorker = false;
  await withMergeFixture(1024 * 1024, async ({ memory, io, work }) => {
    try {
      const stats = await externalSort([input], work.path("out"), {
        memory,
        io,
        order: new BytesOrder(false),
        orderDescriptor: { kind: "bytes", reverse: false },
        parallelMergeBytesMin: 0,
        mergeWorkerSilenceMsMax: silenceMs,
        ...(fault === undefined ? {} : { mergeWorkerFault: fault }),
        ...stall,
      });
      usedMergeWorker = stats.usedMergeWorker;
      output = await Deno.readFile(work.path("out"));
    } catch (caught) {
      error = caught;
      await rejects(Deno.stat(work.path("out")), Deno.errors.NotFound, "no partial output");
    }
  }, { noSpillLeftovers: true });
  return { error, output, usedMergeWorker };
}

Deno.test("A merge Worker that throws, crashes, exits or hangs fails the sort, never hangs it", async () => {
  const seed = propertySeed();
  const work = await makeWorkDir();
  try {
    const input = work.path("in");
    await Deno.writeFile(input, randomLines(makeRandom(seed), 60_000));
    // Only a Worker that exits or hangs needs the watchdog to end the sort, at 300 ms of silence;
    // the others run under 5 s, so that a stall on a loaded machine does not fail them first.
    const clean = await sortWithFault(input, undefined, 5_000);
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
      const silenceMs = kind === "exit" || kind === "hang" ? 300 : 5_000;
      const { error } = await sortWithFault(input, { kind, afterBlocks: 2 }, silenceMs);
      ok(error instanceof Error, `${kind}: the sort must fail (seed ${seed})`);
      ok(expected[kind].test(error.message), `${kind}: ${error.message}`);
      ok(Date.now() - started < 30_000, `${kind}: took ${Date.now() - started} ms`);
    }
  } finally {
    await work.remove();
  }
});

/** Where the merge Worker may be, as the stall warning names it. */
const SITE = `(${WORKER_SITES.join("|")})`;

Deno.test("A merge Worker silent for seconds is named in a stall warning before the watchdog fails it", async () => {
  const seed = propertySeed();
  const work = await makeWorkDir();
  try {
    const input = work.path("in");
    await Deno.writeFile(input, randomLines(makeRandom(seed), 60_000));
    const warnings: string[] = [];
    const { error } = await sortWithFault(input, { kind: "hang", afterBlocks: 2 }, 3_000, {
      onMergeStall: (message: string) => warnings.push(message),
      mergeStallWarnMs: 300,
    });
    ok(error instanceof Error && /^Merge worker stopped answering/.test(error.message));
    strictEqual(warnings.length, 1, `one warning: ${warnings.join(" / ")} (seed ${seed})`);
    const pattern = new RegExp(
      "^The final merge stalled: the merge Worker has said nothing for \\d+\\.\\d s while " +
        `nothing else was pending; the Worker is ${SITE}( \\(for \\d+\\.\\d s at least\\))?$`,
    );
    ok(pattern.test(warnings[0]!), warnings[0]);
  } finally {
    await work.remove();
  }
});

/** Busy-waits `ms`: this thread's event loop is held up. */
function holdUp(ms: number): void {
  const endMs = performance.now() + ms;
  while (performance.now() < endMs) { /* held up */ }
}

/**
 * Merges three runs on the Worker while this thread is held up once for 2.5 s, in the first
 * output write (`inWrite`: a reader that takes its time) or after it (a starved process).
 * A silence limit below the hold-up: the Worker's messages queued meanwhile are no silence.
 *
 * @returns The warnings.
 */
async function mergeHeldUp(inWrite: boolean): Promise<string[]> {
  const seed = propertySeed();
  return await withMergeFixture(1024 * 1024, async ({ memory, io }) => {
    const { runs, expected, recordCount } = await writeSortedRuns(io, makeRandom(seed), 3);
    const parts: Uint8Array[] = [];
    const warnings: string[] = [];
    let heldUp = false;
    const result = await mergeOnWorker(onWorker(runs), (bytes) => {
      parts.push(bytes.slice());
      if (!heldUp) {
        heldUp = true;
        if (inWrite) holdUp(2_500);
        else setTimeout(() => holdUp(2_500), 0);
      }
      return undefined;
    }, {
      memory,
      ...LINES,
      expectedRecords: recordCount,
      outputSegments: 4,
      workerSilenceMsMax: 2_000,
      onStall: (message) => warnings.push(message),
      stallWarnMs: 1_000,
    });
    strictEqual(result.writtenCount, recordCount);
    strictEqual(Buffer.compare(Buffer.concat(parts), expected), 0, `seed ${seed}`);
    return warnings;
  });
}

Deno.test("A merge whose main thread is held up for seconds warns once and still succeeds", async () => {
  const warnings = await mergeHeldUp(false);
  strictEqual(warnings.length, 1, warnings.join(" / "));
  const pattern = new RegExp(
    "^The final merge stalled: this thread was held up for \\d+\\.\\d s \\(by a machine " +
      "overloaded or short of memory, or by a slow read\\); the Worker " +
      `is ${SITE}( \\(for \\d+\\.\\d s at least\\))?$`,
  );
  ok(pattern.test(warnings[0]!), warnings[0]);
});

Deno.test("A merge whose output write waits seconds for its reader (| less) does not warn", async () => {
  deepStrictEqual(await mergeHeldUp(true), []);
});

/** Sorted runs of random lines written through `io`; their lines, all sorted, as the oracle. */
async function writeSortedRuns(
  io: IoManager,
  random: () => number,
  runCount: number,
  linesPerRun = 3000,
): Promise<{ runs: SpillRun[]; expected: Uint8Array; recordCount: number }> {
  const runs: SpillRun[] = [];
  const all: Uint8Array[] = [];
  for (let r = 0; r < runCount; r += 1) {
    const text = new TextDecoder().decode(randomLines(random, linesPerRun));
    const lines = text.split("\n").slice(0, -1).map((line) => new TextEncoder().encode(line));
    lines.sort(Buffer.compare);
    const writer = await io.createRunWriter("test-run");
    for (const line of lines) {
      const pending = writer.writeRecord(line, 0, line.length);
      if (pending) await pending;
      all.push(line);
    }
    runs.push(await writer.finish());
  }
  all.sort(Buffer.compare);
  const expected = Buffer.concat(all.flatMap((line) => [line, new Uint8Array([10])]));
  return { runs, expected, recordCount: all.length };
}

/** Merges `runs` on the Worker, which reads them itself; returns the output or the error. */
async function mergeRunsOnWorker(
  memory: MemoryManager,
  runs: readonly SpillRun[],
): Promise<{ output: Uint8Array; blocksRead: number }> {
  const parts: Uint8Array[] = [];
  let expectedRecords = 0;
  for (const run of runs) expectedRecords += run.recordCount;
  const result = await mergeOnWorker(onWorker(runs), (bytes) => {
    parts.push(bytes.slice());
    return undefined;
  }, {
    memory,
    ...LINES,
    expectedRecords,
    outputSegments: 4,
    workerSilenceMsMax: 5_000,
  });
  strictEqual(result.writtenCount, expectedRecords);
  return { output: Buffer.concat(parts), blocksRead: result.blocksReadOnWorker };
}

Deno.test("The merge Worker reads runs itself, and reports a corrupt or missing run", async () => {
  const seed = propertySeed();
  await withMergeFixture(1024 * 1024, async ({ memory, io }) => {
    const { runs, expected } = await writeSortedRuns(io, makeRandom(seed), 3);
    const clean = await mergeRunsOnWorker(memory, runs);
    strictEqual(Buffer.compare(clean.output, expected), 0, `seed ${seed}`);
    let blockCount = 0;
    for (const run of runs) blockCount += (run.byteLength - 4096) / 4096;
    strictEqual(clean.blocksRead, blockCount);
    memory.assertAllReleased();

    const original = await Deno.readFile(runs[1]!.path);
    const damaged = original.slice();
    damaged[4096 * 3 + 100] = damaged[4096 * 3 + 100]! ^ 0x40;
    await Deno.writeFile(runs[1]!.path, damaged);
    await rejects(() => mergeRunsOnWorker(memory, runs), (error: unknown) => {
      ok(error instanceof CorruptSpillError, String(error));
      ok(
        error.message.startsWith(
          `Corrupt spill file ${runs[1]!.path} at block 2: CRC32C expected 0x`,
        ),
        error.message,
      );
      strictEqual(error.exitCode, 3);
      return true;
    });
    memory.assertAllReleased();

    await Deno.remove(runs[1]!.path);
    await rejects(() => mergeRunsOnWorker(memory, runs), (error: unknown) => {
      ok(error instanceof SpillReadError, String(error));
      ok(error.message.includes(`from ${runs[1]!.path}: ENOENT`), error.message);
      strictEqual(error.exitCode, 3);
      return true;
    });
    memory.assertAllReleased();
    await Deno.writeFile(runs[1]!.path, original);
  });
});

Deno.test("The merge Worker fills a ring of output regions, is read ahead for, and releases the blocks it read when asked", async () => {
  const seed = propertySeed();
  const random = makeRandom(seed);
  await withMergeFixture(1024 * 1024, async ({ memory, io }) => {
    // Two runs of about 1.4 MB (more than one 1 MiB batch of released blocks each).
    const { runs, expected, recordCount } = await writeSortedRuns(io, random, 2, 90_000);
    const allocated = (run: SpillRun) => Deno.statSync(run.path).blocks! * 512;
    const before = runs.map(allocated);
    const parts: Uint8Array[] = [];
    let writes = 0;
    const result = await mergeOnWorker(onWorker(runs), (bytes) => {
      parts.push(bytes.slice());
      writes += 1;
      // Every other write settles late: the Worker fills the regions ahead meanwhile.
      return writes % 2 === 0 ? new Promise((resolve) => setTimeout(resolve, 2)) : undefined;
    }, {
      memory,
      ...LINES,
      expectedRecords: recordCount,
      outputSegments: 8,
      outputRegions: 4,
      releaseReadBlocks: true,
      workerSilenceMsMax: 5_000,
    });
    strictEqual(result.writtenCount, recordCount);
    strictEqual(Buffer.compare(Buffer.concat(parts), expected), 0, `seed ${seed}`);
    // This thread, idle between the writes, reads and checks blocks ahead for the Worker.
    ok(
      result.blocksReadAhead > 0 && result.blocksReadAhead <= result.blocksReadOnWorker,
      `${result.blocksReadAhead} of ${result.blocksReadOnWorker} blocks read ahead here`,
    );
    ok(parts.every((part) => part.length <= 2 * 4096), "a region is outputSegments / regions");
    runs.forEach((run, i) => {
      const released = before[i]! - allocated(run);
      ok(released >= 1024 * 1024, `run ${i}: ${released} bytes released, seed ${seed}`);
    });
    memory.assertAllReleased();
  });
});

Deno.test("A merge Worker writing its own output tells the watchdog it works, and writes it all", async () => {
  // A Worker that writes its key range itself (the placed final merge) posts nothing else until
  // the end: without a heartbeat, a range that takes longer than the watchdog's silence (60 s
  // by default: a range of a large merge, or on a slow disk) failed a healthy merge. The test
  // runs the watchdog at 40 ms (the merge takes ~80 ms): a Worker descheduled longer than that
  // on a loaded machine (91 ms seen) is a stall, not a silent Worker, and tells itself apart by
  // the heartbeats heard before it; the merge then runs again under 4x the stall measured.
  const seed = propertySeed();
  await withMergeFixture(4 * 1024 * 1024, async ({ memory, io, work }) => {
    const random = makeRandom(seed);
    const { runs, expected, recordCount } = await writeSortedRuns(io, random, 4, 150_000);
    const path = work.path("out");
    let silenceMs = 40;
    for (let attempt = 1;; attempt += 1) {
      const outcome = await mergeToFileOnWorker(runs, path, {
        memory,
        expectedRecords: recordCount,
        byteLength: expected.length,
        silenceMs,
      });
      const alive = outcome.heard.filter((type) => type === "alive").length;
      const heard = `${alive} heartbeats in ${outcome.tookMs.toFixed(0)} ms, seed ${seed}`;
      if (outcome.error !== undefined) {
        const stallMs = stallOf(outcome.error);
        ok(alive > 0, `no heartbeat before the watchdog fired at ${silenceMs} ms: ${heard}`);
        ok(attempt < 4, `stalls of ${stallMs} ms past the watchdog's ${silenceMs} ms: ${heard}`);
        silenceMs = 4 * stallMs;
        continue;
      }
      strictEqual(outcome.writtenCount, recordCount);
      strictEqual(Buffer.compare(await Deno.readFile(path), expected), 0, `seed ${seed}`);
      ok(alive > 0, `no heartbeat: ${heard}`);
      break;
    }
    memory.assertAllReleased();
  });
});

/**
 * The silence a watchdog failure measured (`silent for N ms`); rethrows any other error.
 */
function stallOf(error: unknown): number {
  const match = /^Merge worker stopped answering: silent for (\d+) ms/.exec(
    error instanceof Error ? error.message : "",
  );
  if (match === null) throw error;
  return Number(match[1]);
}

/**
 * Merges `runs` into `path` (emptied first) on a new merge Worker that writes the file itself,
 * under a watchdog of `silenceMs`; returns what it posted and how it ended.
 */
async function mergeToFileOnWorker(
  runs: SpillRun[],
  path: string,
  options: {
    memory: MemoryManager;
    expectedRecords: number;
    byteLength: number;
    silenceMs: number;
  },
): Promise<{ heard: string[]; tookMs: number; writtenCount?: number; error?: unknown }> {
  await Deno.writeFile(path, new Uint8Array(0));
  const worker = startMergeWorker();
  const heard: string[] = [];
  worker.addEventListener("message", (event) => heard.push((event as MessageEvent).data.type));
  const started = performance.now();
  try {
    const result = await mergeIntoFile(runs, path, options.byteLength, {
      memory: options.memory,
      expectedRecords: options.expectedRecords,
      outputSegments: 4,
      worker,
      workerSilenceMsMax: options.silenceMs,
    });
    return { heard, tookMs: performance.now() - started, writtenCount: result.writtenCount };
  } catch (error) {
    return { heard, tookMs: performance.now() - started, error };
  }
}

Deno.test("A merge Worker writing its own output has its carry pages from the start: no round trip for them", async () => {
  // The main thread answers a request for a carry page only on a turn of its event loop; in the
  // placed merge it is then merging or finding the next bounds, and a range's inputs all cut
  // their first record at a block border within its first milliseconds: the Worker waited.
  const seed = propertySeed();
  await withMergeFixture(4 * 1024 * 1024, async ({ memory, io, work }) => {
    const { runs, expected, recordCount } = await writeSortedRuns(io, makeRandom(seed), 4, 40_000);
    const path = work.path("out");
    await Deno.writeFile(path, new Uint8Array(0));
    const worker = startMergeWorker();
    const heard: string[] = [];
    worker.addEventListener("message", (event) => heard.push((event as MessageEvent).data.type));
    const result = await mergeIntoFile(runs, path, expected.length, {
      memory,
      expectedRecords: recordCount,
      outputSegments: 4,
      worker,
    });
    strictEqual(result.writtenCount, recordCount);
    strictEqual(Buffer.compare(await Deno.readFile(path), expected), 0, `seed ${seed}`);
    deepStrictEqual(heard.filter((type) => type === "grow"), [], `seed ${seed}`);
  });
});

Deno.test("A merge on the Worker stops when its signal aborts (the placed merge's other lane failed)", async () => {
  await withMergeFixture(4 * 1024 * 1024, async ({ memory, io }) => {
    const random = makeRandom(propertySeed());
    const { runs } = await writeSortedRuns(io, random, 3, 20_000);
    const stop = new AbortController();
    const reason = new Error("the other lane failed");
    const started = performance.now();
    setTimeout(() => stop.abort(reason), 50);
    // The Worker hangs after its first block: only the signal (or a 60 s watchdog) ends it.
    await rejects(
      mergeOnWorker(onWorker(runs), () => undefined, {
        memory,
        ...LINES,
        expectedRecords: -1,
        outputSegments: 4,
        workerFault: { kind: "hang", afterBlocks: 1 },
        signal: stop.signal,
      }),
      (error) => error === reason,
    );
    const tookMs = performance.now() - started;
    ok(tookMs < 10_000, `stopped after ${tookMs.toFixed(0)} ms`);
    memory.assertAllReleased();
  });
});

Deno.test("The merge Worker asks for reads ahead on the check bell, not by a message per block", async () => {
  // A Worker message cost the main isolate ~2.5 KB of heap, part of which outlived two
  // scavenges: a message per block raised its old generation through a large final merge.
  const seed = propertySeed();
  const random = makeRandom(seed);
  await withMergeFixture(1024 * 1024, async ({ memory, io }) => {
    const { runs, expected, recordCount } = await writeSortedRuns(io, random, 3, 40_000);
    const worker = startMergeWorker();
    let messageCount = 0;
    worker.addEventListener("message", () => messageCount += 1);
    const parts: Uint8Array[] = [];
    const result = await mergeOnWorker(onWorker(runs), (bytes) => {
      parts.push(bytes.slice());
      // Each write settles a little later: this thread is idle for the reads ahead meanwhile.
      return new Promise((resolve) => setTimeout(resolve, 1));
    }, {
      worker,
      memory,
      ...LINES,
      expectedRecords: recordCount,
      outputSegments: 16,
      workerSilenceMsMax: 5_000,
    });
    strictEqual(result.writtenCount, recordCount);
    strictEqual(Buffer.compare(Buffer.concat(parts), expected), 0, `seed ${seed}`);
    ok(result.blocksReadAhead > 0, `seed ${seed}: no block read ahead here`);
    // The Worker posts its filled output regions, its grow requests and the end, no more.
    ok(
      messageCount <= parts.length + 8,
      `${messageCount} messages for ${parts.length} writes and ${result.blocksReadAhead} blocks read ahead here, seed ${seed}`,
    );
    memory.assertAllReleased();
  });
});

Deno.test("A merge Worker counts each message before it posts it (the placed merge turns its event loop on the count)", async () => {
  // The placed merge's lane on this thread turned its event loop every 2 ms to let the Worker's
  // messages in (0.4-0.6 ms a turn at load 1.6: ~25 ms of a 115 ms lane); it now turns when
  // the Worker's count of posted messages moved (and every 50 ms for timers and signals).
  const seed = propertySeed();
  await withMergeFixture(4 * 1024 * 1024, async ({ memory, io }) => {
    const { runs, expected, recordCount } = await writeSortedRuns(io, makeRandom(seed), 4, 40_000);
    const worker = startMergeWorker();
    let postedCount: (() => number) | undefined = undefined;
    const heard: Array<{ type: string; counted: number }> = [];
    // Registered before the merge's own handler: the control block is still lent here.
    worker.addEventListener("message", (event) => {
      heard.push({ type: (event as MessageEvent).data.type, counted: postedCount?.() ?? -1 });
    });
    const parts: Uint8Array[] = [];
    // The output regions come to this thread: a message each, all through the merge.
    const result = await mergeOnWorker(onWorker(runs), (bytes) => {
      parts.push(bytes.slice());
      return undefined;
    }, {
      memory,
      ...LINES,
      expectedRecords: recordCount,
      outputSegments: 4,
      worker,
      onPostedCount: (count) => postedCount = count,
    });
    strictEqual(result.writtenCount, recordCount);
    strictEqual(Buffer.compare(Buffer.concat(parts), expected), 0, `seed ${seed}`);
    ok(heard.length > parts.length && heard.at(-1)!.type === "done", `seed ${seed}`);
    heard.forEach(({ type, counted }, i) => {
      // Counted before it was posted: at least the messages heard so far, this one included.
      ok(counted >= i + 1, `message ${i} (${type}) heard with a count of ${counted}, seed ${seed}`);
    });
    strictEqual(heard.at(-1)!.counted, heard.length, `the last message, seed ${seed}`);
  });
});

Deno.test("A merge Worker loads libc once for all its range merges, before the first if told to", async () => {
  // Each range merge's output writer and hole punching took libc and gave it back: every range
  // loaded it again (1.6-2.9 ms of the Worker's start). `prepare-merge` loads it ahead.
  const seed = propertySeed();
  await withMergeFixture(4 * 1024 * 1024, async ({ memory, io, work }) => {
    const { runs, expected, recordCount } = await writeSortedRuns(io, makeRandom(seed), 3, 5_000);
    for (const prepared of [false, true]) {
      const worker = startMergeWorker();
      try {
        if (prepared) worker.postMessage({ type: "prepare-merge" });
        const loads: number[] = [];
        worker.addEventListener("message", (event) => {
          const data = (event as MessageEvent).data;
          if (data.type === "done") loads.push(data.libcLoads);
        });
        for (let round = 0; round < 3; round += 1) {
          const path = work.path(`out-${prepared}-${round}`);
          await Deno.writeFile(path, new Uint8Array(0));
          const result = await mergeIntoFile(runs, path, expected.length, {
            memory,
            expectedRecords: recordCount,
            outputSegments: 4,
            worker,
            keepWorker: true,
          });
          strictEqual(result.writtenCount, recordCount);
          strictEqual(Buffer.compare(await Deno.readFile(path), expected), 0, `seed ${seed}`);
        }
        deepStrictEqual(loads, [1, 1, 1], `prepared: ${prepared}, seed ${seed}`);
      } finally {
        worker.terminate();
      }
    }
  });
});

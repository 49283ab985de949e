/**
 * The end of the Worker's help with a split sort (split_sort.ts): a sort that fails between a
 * buffer's split sort and its hand-over releases the buffer's pages itself, so the Worker's
 * help must never begin after that, and one under way must be over first. (CI caught the race:
 * a full temp dir failed the previous run's write while the Worker still sorted a bucket of the
 * next buffer, and the memory manager found the bucket's index entries written into released
 * pages.)
 */
import { notDeepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { WasmKernels } from "../../src/kernels/mod.ts";
import { MemoryManager } from "../../src/memory/mod.ts";
import { ENTRY_BYTES } from "../../src/sort/index_sort.ts";
import { kernelAreaBytes } from "../../src/sort/kernel_sort.ts";
import { BytesOrder } from "../../src/sort/record_order.ts";
import { SortBuffer } from "../../src/sort/sort_buffer.ts";
import { SortWorker, SpillRing } from "../../src/sort/sort_worker_pool.ts";
import {
  endSplitSortHelp,
  endSplitSortHelpNotBegun,
  helpSplitSort,
  SPLIT_SORT_WORDS,
  startSplitSort,
} from "../../src/sort/split_sort.ts";

const HELPER = SPLIT_SORT_WORDS - 1;
const RUNNING = 1;
const OVER = 2;

/** The first byte at which `a` and `b` differ, or -1. */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : a.length;
}

function control(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(SPLIT_SORT_WORDS * 4));
}

Deno.test("endSplitSortHelp: a help not begun never begins; one over is not waited for", () => {
  const memory = new MemoryManager({ budgetBytes: 1 << 20, segmentBytes: 4096 });
  const kernels = new WasmKernels(memory.wasmMemory);
  const ended = control();
  ended[0] = 1 << 16; // one bucket left: a help that began would claim it
  ended[2] = 0;
  ended[3] = 0;
  strictEqual(endSplitSortHelp(ended, 10_000), true);
  const job = { segments: [], index: 0, recordCount: 0, segmentShift: 12 };
  strictEqual(helpSplitSort({ job, control: ended, reverse: false }, kernels, 0), 0);
  strictEqual(ended[0], 1 << 16, "the Worker claimed a bucket after the help was ended");
  strictEqual(Atomics.load(ended, HELPER), OVER);
  // Ended twice (both buffers' controls at the end of every failed sort): still at once.
  const started = performance.now();
  strictEqual(endSplitSortHelp(ended, 10_000), true);
  ok(performance.now() - started < 1000);
});

Deno.test("endSplitSortHelpNotBegun (the last buffer's): a help not begun or done needs no wait; one under way or failed does", () => {
  const memory = new MemoryManager({ budgetBytes: 4 << 20, segmentBytes: 4096 });
  const kernels = new WasmKernels(memory.wasmMemory);
  const area = memory.allocateContiguous("test-area", Math.ceil(kernelAreaBytes(1) / 4096));
  const at = area.segments[0]!.memoryOffset;
  const job = { segments: [], index: 0, recordCount: 2, segmentShift: 12 };
  const oneBucket = () => {
    const words = control();
    words[0] = 1 << 16; // bucket 0 left
    words[2] = 0;
    words[3] = 2; // two records: a sort
    return words;
  };
  const pending = oneBucket();
  strictEqual(endSplitSortHelpNotBegun(pending), true);
  strictEqual(helpSplitSort({ job, control: pending, reverse: false }, kernels, at), 0);
  const running = oneBucket();
  Atomics.store(running, HELPER, RUNNING);
  strictEqual(endSplitSortHelpNotBegun(running), false);
  strictEqual(Atomics.load(running, HELPER), RUNNING, "a help under way is left to end");
  const done = oneBucket();
  done[0] = 0; // every bucket taken
  strictEqual(helpSplitSort({ job, control: done, reverse: false }, kernels, at), 0);
  strictEqual(endSplitSortHelpNotBegun(done), true);
  // A bucket sort that throws leaves the help failed, not over: the caller must not trust it.
  const failing = oneBucket();
  const broken = {
    memory: kernels.memory,
    sortBytesBucket: () => {
      throw new Error("bucket sort failed");
    },
  } as unknown as WasmKernels;
  throws(() => helpSplitSort({ job, control: failing, reverse: false }, broken, at), /failed/);
  strictEqual(endSplitSortHelpNotBegun(failing), false);
  strictEqual(endSplitSortHelp(failing, 10), true, "a failed help is not waited for");
  area.release();
  memory.assertAllReleased();
});

Deno.test("endSplitSortHelp: a help under way that never ends (a Worker terminated mid-bucket) times out", () => {
  const stuck = control();
  Atomics.store(stuck, HELPER, RUNNING);
  const started = performance.now();
  strictEqual(endSplitSortHelp(stuck, 50), false);
  ok(performance.now() - started >= 45, "returned before its timeout");
});

Deno.test("endSplitSortHelp: waits for the Worker's bucket under way; nothing writes the index after", async () => {
  const segmentBytes = 64 * 1024;
  const memory = new MemoryManager({ budgetBytes: 96 << 20, segmentBytes });
  const kernels = new WasmKernels(memory.wasmMemory);
  const buffer = new SortBuffer(memory, {
    owner: "sort-buffer-0",
    dataSegmentCount: 512,
    indexEntryCount: 1 << 20,
    order: new BytesOrder(),
  });
  const areaSegments = Math.ceil(kernelAreaBytes(512) / segmentBytes);
  const area = memory.allocateContiguous("sort-kernel-area-main", areaSegments);
  const ring = new SpillRing(memory, { dataSegments: 512, blockCount: 2 });
  const worker = new SortWorker({ kind: "bytes", reverse: false }, memory);
  try {
    // Random 16-byte lines: every bucket is a few thousand records.
    let state = 12345;
    const line = new Uint8Array(16);
    for (let i = 0; i < 800_000; i += 1) {
      for (let j = 0; j < line.length; j += 1) {
        state = (state * 1103515245 + 12345) >>> 0;
        line[j] = 97 + (state >>> 16) % 26;
      }
      if (!buffer.tryAppend(line, 0, line.length)) break;
    }
    const job = buffer.jobHere();
    const help = { job, control: control(), reverse: false };
    startSplitSort(help.control, job, kernels, area.segments[0]!.memoryOffset);
    worker.help(help, ring);
    // This thread takes no bucket: the Worker sorts all 256, one after the other.
    while (Atomics.load(help.control, HELPER) === 0) await new Promise((r) => setTimeout(r, 0));
    const endedWhileRunning = Atomics.load(help.control, HELPER) === RUNNING;
    strictEqual(endSplitSortHelp(help.control, 10_000), true);
    strictEqual(Atomics.load(help.control, HELPER), OVER);
    const indexBytes = job.recordCount * ENTRY_BYTES;
    const view = () => new Uint8Array(memory.wasmMemory.buffer, job.index, indexBytes).slice();
    const atEnd = view();
    await new Promise((r) => setTimeout(r, 200));
    strictEqual(firstDifference(view(), atEnd), -1, "the index changed after endSplitSortHelp");
    strictEqual(Atomics.load(help.control, 0) & 0xffff, 0, "this thread claimed no bucket");
    // The Worker sorted every bucket (the index differs from the partition's).
    notDeepStrictEqual(atEnd.subarray(0, 64), new Uint8Array(64));
    ok(endedWhileRunning, "the Worker finished before the end was asked: raise the records");
  } finally {
    worker.close();
    ring.release();
    area.release();
    buffer.release();
  }
  memory.assertAllReleased();
});

Deno.test("a write after release into a buffer shared with the Worker for a split sort names the Worker", () => {
  const memory = new MemoryManager({ budgetBytes: 64 * 4096, segmentBytes: 4096 });
  const buffer = new SortBuffer(memory, {
    owner: "sort-buffer-1",
    dataSegmentCount: 8,
    indexEntryCount: 1024,
    order: new BytesOrder(),
  });
  const line = new TextEncoder().encode("a line of the buffer");
  ok(buffer.tryAppend(line, 0, line.length));
  // Never lent: only the split sort's help works on it (the CI case: the second buffer's
  // first split sort, the first run's write failed meanwhile).
  const job = buffer.jobHere();
  buffer.shareWith("sort-worker");
  buffer.release();
  new Uint8Array(memory.wasmMemory.buffer, job.index, ENTRY_BYTES).fill(0); // the late help
  const report = memory.leakReport();
  strictEqual(report.poisonViolations.length, 1);
  strictEqual(report.poisonViolations[0]!.lastBorrower, "sort-worker");
  ok(/"sort-buffer-1" last lent pages to "sort-worker"/.test(report.text), report.text);
});

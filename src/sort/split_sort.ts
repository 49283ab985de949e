/**
 * One full sort buffer's index sorted by two threads at once (issue 11: both cores busy in run
 * generation). The main thread runs the first radix pass of the kernel sort
 * (`partitionBytesIndex`: 256 buckets by the first prefix byte the records do not all share),
 * publishes the bucket bounds in a small control block, and asks the sort Worker to help; then
 * both take buckets, this thread from the low end and the Worker from the high end, each
 * claimed by a compare-exchange, and sort them with `sortBytesBucket` in their own kernel
 * areas, until none is left. Buckets are disjoint ranges of the index, so the two never touch
 * the same entry, and the result is the index that one `sortBytesIndex` call leaves (ties are
 * equal lines: plain bytes orders only).
 *
 * ```
 * control (Int32Array, SPLIT_SORT_WORDS):
 * | claims: low cursor (bits 0-15) | high cursor (bits 16-31) | first byte | starts[257] | helper |
 * ```
 *
 * No thread waits on the other here: the Worker helps when the message reaches it (after the
 * job it is on), and the buffer is handed to it for its gather only after this thread has
 * sorted what it claimed; the Worker handles messages in order, so its own buckets are sorted
 * by the time it gathers. Only where the buffer is not handed over (the sort failed: its
 * pages go back to the budget) does this thread end the help itself ({@linkcode endSplitSortHelp}):
 * a help not begun never begins, one under way is waited for, so that no bucket sort writes
 * the index after its pages were released.
 *
 * @module
 */
// Leaf modules only: this file is in the sort Worker's module graph.
import type { WasmKernels } from "../kernels/wasm_kernels.ts";
import { writePageTable } from "./kernel_sort.ts";
import type { SortJob } from "./job_sort.ts";

const CLAIMS = 0;
const FIRST_BYTE = 1;
const STARTS = 2;
/** Buckets of the partition (one per byte value). */
const BUCKETS = 256;
/** The Worker's help: one of the `HELP_` states. */
const HELPER = STARTS + BUCKETS + 1;
/** The Worker has not begun (it may still take buckets). */
const HELP_PENDING = 0;
/** The Worker takes and sorts buckets. */
const HELP_RUNNING = 1;
/** The Worker is done, or this thread ended a help not begun: no bucket is taken any more. */
const HELP_OVER = 2;
/** The Worker's bucket sort threw: a bucket it took may be unsorted (no bucket is taken any more). */
const HELP_FAILED = 3;

/** Words of a split sort's control block. */
export const SPLIT_SORT_WORDS = HELPER + 1;
/** Records from which a full buffer is sorted by both threads (below, one thread sorts it). */
export const SPLIT_SORT_RECORDS_MIN = 8192;

/** What the Worker needs to help sort a buffer (a `help` request of sort_worker.ts). */
export interface SplitSortHelp {
  /** The buffer's pages and index (not lent: this thread sorts it at the same time). */
  job: SortJob;
  /** The control block. */
  control: Int32Array;
  /** `-r`. */
  reverse: boolean;
}

/**
 * Partitions `job`'s index (this thread, its kernel area at `areaOffset`) and fills `control`
 * for {@linkcode sortClaimedBuckets}.
 */
export function startSplitSort(
  control: Int32Array,
  job: SortJob,
  kernels: WasmKernels,
  areaOffset: number,
): void {
  const count = job.recordCount;
  const byte = kernels.partitionBytesIndex(job.index, count, areaOffset);
  const ends = new Uint32Array(kernels.memory.buffer, areaOffset + 1024, BUCKETS);
  control[FIRST_BYTE] = Math.min(8, byte + 1);
  control[STARTS] = 0;
  for (let b = 0; b < BUCKETS; b += 1) {
    // Byte 8: one bucket (every prefix byte shared), sorted from the bytes past the prefix.
    control[STARTS + b + 1] = byte === 8 ? count : ends[b]!;
  }
  Atomics.store(control, HELPER, HELP_PENDING);
  Atomics.store(control, CLAIMS, BUCKETS << 16);
}

/**
 * The Worker's side of a split sort: sorts the buckets it claims from the high end, unless
 * this thread has ended the help already ({@linkcode endSplitSortHelp}).
 *
 * @returns The records the Worker sorted.
 */
export function helpSplitSort(
  help: SplitSortHelp,
  kernels: WasmKernels,
  areaOffset: number,
): number {
  const { control } = help;
  if (Atomics.compareExchange(control, HELPER, HELP_PENDING, HELP_RUNNING) !== HELP_PENDING) {
    return 0;
  }
  let state = HELP_FAILED;
  try {
    const sorted = sortClaimedBuckets(help, true, kernels, areaOffset);
    state = HELP_OVER;
    return sorted;
  } finally {
    Atomics.store(control, HELPER, state);
    Atomics.notify(control, HELPER);
  }
}

/**
 * Ends the Worker's part of the split sort on `control`, before its buffer's pages go back to
 * the budget without the Worker's own job on them: a help not begun will not begin, one under
 * way is waited for (at most `timeoutMs`: a Worker terminated in the middle of a bucket never
 * says it is done, and writes nothing more once it is ended).
 *
 * @returns Whether the Worker's help is over (false: the wait timed out).
 */
export function endSplitSortHelp(control: Int32Array, timeoutMs: number): boolean {
  if (endSplitSortHelpNotBegun(control)) return true;
  const deadline = performance.now() + timeoutMs;
  while (Atomics.load(control, HELPER) === HELP_RUNNING) {
    const left = deadline - performance.now();
    if (left <= 0) return false;
    Atomics.wait(control, HELPER, HELP_RUNNING, left);
  }
  return true;
}

/**
 * Ends a help the Worker has not begun (it then never begins), without waiting: for a buffer
 * that is not handed to the Worker after its split sort (the last one, kept in memory).
 *
 * @returns Whether every bucket is sorted: the Worker never began, or it is done (false: it
 *   still sorts, or its sort failed; its own next job, which it runs after the help, then says
 *   when it is over, or fails with the help's error).
 */
export function endSplitSortHelpNotBegun(control: Int32Array): boolean {
  const state = Atomics.compareExchange(control, HELPER, HELP_PENDING, HELP_OVER);
  return state === HELP_PENDING || state === HELP_OVER;
}

/**
 * Claims buckets of a started split sort, from the low end (this thread) or the high end (the
 * Worker), and sorts each in the kernel area at `areaOffset`, until none is left.
 *
 * @returns The records this thread sorted.
 */
export function sortClaimedBuckets(
  help: SplitSortHelp,
  fromHigh: boolean,
  kernels: WasmKernels,
  areaOffset: number,
): number {
  const { job, control } = help;
  const layout = {
    pageTableOffset: writePageTable(kernels.memory.buffer as SharedArrayBuffer, job, areaOffset),
    segmentShift: job.segmentShift,
    reverse: help.reverse,
    scratchOffset: areaOffset,
  };
  const byte = control[FIRST_BYTE]!;
  let sorted = 0;
  for (let b = claimBucket(control, fromHigh); b >= 0; b = claimBucket(control, fromHigh)) {
    const lo = control[STARTS + b]!;
    const hi = control[STARTS + b + 1]!;
    if (hi - lo > 1) kernels.sortBytesBucket(job.index, { lo, hi, byte }, layout);
    sorted += hi - lo;
  }
  return sorted;
}

/** The next bucket from one end, or -1 when every bucket is taken. */
function claimBucket(control: Int32Array, fromHigh: boolean): number {
  while (true) {
    const claims = Atomics.load(control, CLAIMS);
    const low = claims & 0xffff;
    const high = claims >>> 16;
    if (low >= high) return -1;
    const next = fromHigh ? ((high - 1) << 16) | low : (high << 16) | (low + 1);
    if (Atomics.compareExchange(control, CLAIMS, claims, next) === claims) {
      return fromHigh ? high - 1 : low;
    }
  }
}

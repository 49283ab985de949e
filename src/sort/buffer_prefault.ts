/**
 * Which memory the sort buffers will write while the rest of an input is read, so that it can be
 * faulted in ahead on another thread (io's `prefaultMemory`): a first write to a fresh page
 * makes the kernel zero it, 2 MiB at a time with huge pages, and the thread that appends the
 * input paid that for every page of both buffers (on the 2-core VM of the benches, ~100 ms of
 * the main thread's time in a 100 MiB sort, while the other core waited for the first buffer).
 *
 * The estimate follows the buffers' fill order from where the filling one stands: that one up
 * to full, then the next, and so on, each only to its first fill (later fills write pages
 * already resident). Records are assumed to be as long as those appended so far (before the
 * first, as those at the head of the first chunk: the sort starts the prefault then, so that
 * the kernel zeroes the pages while `new Worker()` blocks the thread that will write them), so
 * only the pages the input is expected to touch become resident: the peak RSS stays what the
 * sort would reach anyway.
 *
 * @module
 */

import type { SortBuffer } from "./sort_buffer.ts";

/** A byte range of the shared memory. */
export interface BufferRange {
  /** Where it starts. */
  byteOffset: number;
  /** How long it is. */
  byteLength: number;
}

/** How much of a chunk {@linkcode storedBytesGuess} looks at. */
const GUESS_SAMPLE_BYTES = 64 * 1024;

/**
 * The average record length (terminator excluded) in the first 64 KiB of `chunk`: the guess
 * {@linkcode bufferPrefaultRanges} goes by before a record is appended.
 *
 * @param chunk Input bytes from the start of a record.
 * @param terminator The record terminator.
 * @returns The average length, or undefined if no terminator is in the sample.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { storedBytesGuess } from "./buffer_prefault.ts";
 * strictEqual(storedBytesGuess(new TextEncoder().encode("ab\ncdef\n"), 10), 3);
 * ```
 */
export function storedBytesGuess(chunk: Uint8Array, terminator: number): number | undefined {
  const sample = chunk.subarray(0, Math.min(chunk.length, GUESS_SAMPLE_BYTES));
  let count = 0;
  let end = -1;
  for (let at = sample.indexOf(terminator); at !== -1; at = sample.indexOf(terminator, at + 1)) {
    count += 1;
    end = at;
  }
  return count === 0 ? undefined : (end + 1 - count) / count;
}

/**
 * The memory ranges the sort buffers will first write while `inputBytesLeft` more input bytes
 * are appended, in the order they will be written.
 *
 * @param buffers The sort buffers, in their fill order.
 * @param filling The index of the buffer being filled; it holds records already (their
 *   average length is the estimate's).
 * @param inputBytesLeft Input bytes still to read (terminators included).
 * @param options `storedBytesGuess`: the records' average length while the filling buffer is
 *   empty ({@linkcode storedBytesGuess}); without it an empty buffer wants nothing.
 * @returns The ranges (none when the filling buffer is empty and no guess is given).
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { MemoryManager } from "../memory/mod.ts";
 * import { BytesOrder } from "./record_order.ts";
 * import { SortBuffer } from "./sort_buffer.ts";
 * import { bufferPrefaultRanges } from "./buffer_prefault.ts";
 * const memory = new MemoryManager({ budgetBytes: 64 * 4096, segmentBytes: 4096 });
 * const buffer = new SortBuffer(memory, {
 *   owner: "sort-buffer", dataSegmentCount: 8, indexEntryCount: 1024, order: new BytesOrder(),
 * });
 * buffer.tryAppend(new Uint8Array(99), 0, 99);
 * // 100 more records of 99 bytes and their terminators: 3 pages of data.
 * const ranges = bufferPrefaultRanges([buffer], 0, 100 * 100);
 * strictEqual(ranges.slice(1).reduce((sum, range) => sum + range.byteLength, 0), 3 * 4096);
 * buffer.release();
 * memory.assertAllReleased();
 * ```
 */
export function bufferPrefaultRanges(
  buffers: readonly SortBuffer[],
  filling: number,
  inputBytesLeft: number,
  options: { storedBytesGuess?: number | undefined } = {},
): BufferRange[] {
  const current = buffers[filling];
  if (current === undefined) return [];
  const average = current.recordCount > 0
    ? current.dataBytes / current.recordCount
    : options.storedBytesGuess;
  if (average === undefined) return [];
  // An empty record still takes a byte of its page.
  const storedBytes = Math.max(1, average);
  let recordsLeft = Math.floor(inputBytesLeft / (storedBytes + 1));
  const ranges: BufferRange[] = [];
  for (let k = 0; k < buffers.length && recordsLeft > 0; k += 1) {
    const buffer = buffers[(filling + k) % buffers.length]!;
    const held = k === 0 ? buffer.recordCount : 0;
    const capacity = Math.min(
      buffer.entryCapacity,
      Math.floor(buffer.dataCapacityBytes / storedBytes),
    );
    if (buffer.isLent) {
      // Filled before (a Worker sorts it): its pages are resident.
      recordsLeft -= capacity;
      continue;
    }
    const target = Math.min(capacity, held + recordsLeft);
    if (target <= held) continue;
    ranges.push(...buffer.memoryRangesFor(target, Math.ceil(target * storedBytes)));
    recordsLeft -= target - held;
  }
  return ranges;
}

/**
 * Which memory the sort buffers will write while the rest of an input is read, so that it can be
 * faulted in ahead on another thread (io's `prefaultMemory`): a first write to a fresh page
 * makes the kernel zero it, 2 MiB at a time with huge pages, and the thread that appends the
 * input paid that for every page of both buffers (on the 2-core VM of the benches, ~100 ms of
 * the main thread's time in a 100 MiB sort, while the other core waited for the first buffer).
 *
 * The estimate follows the buffers' fill order from where the filling one stands: that one up
 * to full, then the next, and so on, each only to its first fill (later fills write pages
 * already resident). Records are assumed to be as long as those appended so far, so only the
 * pages the input is expected to touch become resident: the peak RSS stays what the sort
 * would reach anyway.
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

/**
 * The memory ranges the sort buffers will first write while `inputBytesLeft` more input bytes
 * are appended, in the order they will be written.
 *
 * @param buffers The sort buffers, in their fill order.
 * @param filling The index of the buffer being filled; it holds records already (their
 *   average length is the estimate's).
 * @param inputBytesLeft Input bytes still to read (terminators included).
 * @returns The ranges (none when the filling buffer is empty).
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
): BufferRange[] {
  const current = buffers[filling];
  if (current === undefined || current.recordCount === 0) return [];
  // An empty record still takes a byte of its page.
  const storedBytes = Math.max(1, current.dataBytes / current.recordCount);
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

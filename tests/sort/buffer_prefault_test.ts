import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { MemoryManager } from "../../src/memory/mod.ts";
import { bufferPrefaultRanges } from "../../src/sort/buffer_prefault.ts";
import { BytesOrder } from "../../src/sort/record_order.ts";
import { indexHeadBytes, SortBuffer } from "../../src/sort/sort_buffer.ts";

const SEGMENT = 4096;

function makeBuffers(memory: MemoryManager, entries = 1000): SortBuffer[] {
  return [0, 1].map((i) =>
    new SortBuffer(memory, {
      owner: `sort-buffer-${i}`,
      dataSegmentCount: 8,
      indexEntryCount: entries,
      order: new BytesOrder(),
    })
  );
}

/** Appends `count` records of `length` bytes. */
function fill(buffer: SortBuffer, count: number, length: number): void {
  const record = new Uint8Array(length).fill(97);
  for (let i = 0; i < count; i += 1) strictEqual(buffer.tryAppend(record, 0, length), true);
}

function totalBytes(ranges: { byteLength: number }[]): number {
  return ranges.reduce((sum, range) => sum + range.byteLength, 0);
}

Deno.test("bufferPrefaultRanges wants nothing before a record is appended", () => {
  const memory = new MemoryManager({ budgetBytes: 64 * SEGMENT, segmentBytes: SEGMENT });
  const buffers = makeBuffers(memory);
  deepStrictEqual(bufferPrefaultRanges(buffers, 0, 1 << 20), []);
  for (const buffer of buffers) buffer.release();
  memory.assertAllReleased();
});

Deno.test("bufferPrefaultRanges covers the filling buffer's index and data pages the rest fills", () => {
  const memory = new MemoryManager({ budgetBytes: 64 * SEGMENT, segmentBytes: SEGMENT });
  const buffers = makeBuffers(memory);
  fill(buffers[0]!, 10, 99); // 990 bytes in page 0
  // 50 more records of 99 bytes (+ terminator): 60 records, 5940 bytes: 2 data pages.
  const ranges = bufferPrefaultRanges(buffers, 0, 50 * 100);
  const head = indexHeadBytes(8);
  deepStrictEqual(ranges[0]!.byteLength, head + 60 * 16);
  strictEqual(totalBytes(ranges.slice(1)), 2 * SEGMENT);
  for (const range of ranges.slice(1)) {
    strictEqual(
      buffers[0]!.segments.some((segment) => segment.memoryOffset === range.byteOffset),
      true,
      "data ranges start at the filling buffer's pages",
    );
  }
  for (const buffer of buffers) buffer.release();
  memory.assertAllReleased();
});

Deno.test("bufferPrefaultRanges goes on to the next buffer, each up to its capacity once", () => {
  const memory = new MemoryManager({ budgetBytes: 64 * SEGMENT, segmentBytes: SEGMENT });
  const buffers = makeBuffers(memory);
  fill(buffers[1]!, 4, 100);
  // Far more than both buffers hold: each is covered to full (8 pages; 327 records of 100 bytes).
  const ranges = bufferPrefaultRanges(buffers, 1, 1 << 30);
  const capacity = Math.floor(8 * SEGMENT / 100);
  const head = indexHeadBytes(8);
  const indexRanges = ranges.filter((range) => range.byteLength === head + capacity * 16);
  strictEqual(indexRanges.length, 2);
  strictEqual(totalBytes(ranges) - 2 * (head + capacity * 16), 2 * 8 * SEGMENT);
  // The filling buffer (1) comes first.
  strictEqual(
    buffers[1]!.segments.some((segment) => segment.memoryOffset === ranges[1]!.byteOffset),
    true,
  );
  for (const buffer of buffers) buffer.release();
  memory.assertAllReleased();
});

Deno.test("bufferPrefaultRanges stops at a full index: short records touch few data pages", () => {
  const memory = new MemoryManager({ budgetBytes: 64 * SEGMENT, segmentBytes: SEGMENT });
  const buffers = makeBuffers(memory, 100);
  fill(buffers[0]!, 10, 3);
  const ranges = bufferPrefaultRanges(buffers, 0, 1000 * 4);
  // 100 entries per buffer, 300 bytes of records: one data page each.
  strictEqual(totalBytes(ranges), 2 * (indexHeadBytes(8) + 100 * 16) + 2 * SEGMENT);
  for (const buffer of buffers) buffer.release();
  memory.assertAllReleased();
});

Deno.test("bufferPrefaultRanges skips a buffer lent to a Worker (its pages are resident)", () => {
  const memory = new MemoryManager({ budgetBytes: 64 * SEGMENT, segmentBytes: SEGMENT });
  const buffers = makeBuffers(memory);
  fill(buffers[1]!, 4, 100);
  const lentOffsets = buffers[1]!.segments.map((segment) => segment.memoryOffset);
  buffers[1]!.lend("sort-worker");
  fill(buffers[0]!, 4, 100);
  const ranges = bufferPrefaultRanges(buffers, 0, 1 << 30);
  strictEqual(ranges.length > 1, true);
  for (const range of ranges) {
    strictEqual(lentOffsets.includes(range.byteOffset), false, "no range in the lent buffer");
  }
  buffers[1]!.takeBack();
  for (const buffer of buffers) buffer.release();
  memory.assertAllReleased();
});

import { assert } from "../base/mod.ts";
import type { BucketArray } from "./kernel_state.ts";

/**
 * The count spill kernels (src/kernels/assembly/count_spill.ts) written plainly: the oracle of
 * tests/kernels/count_spill_kernel_test.ts. Builds the 16-byte sort index
 * `[prefix0, prefix1, address, length]` of a count table's entries in place over its buckets,
 * in word order (`order` 0: the key is the word) or count order (`order` 1: each record is
 * rewritten to `| len | ~count u64 BE | word |` and the key is `[~count][word]`).
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { countSpillIndexReference } from "./reference_count_spill.ts";
 * const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
 * const view = new DataView(memory.buffer);
 * view.setUint32(0, 4096, true); // page table: page 0 at byte 4096
 * view.setUint32(4096, 2, true); // record: length 2, "hi", count 7
 * new Uint8Array(memory.buffer).set([0x68, 0x69, 0, 0, 0, 0, 0, 0, 0, 7], 4100);
 * view.setUint32(64 + 8 + 4, 1, true); // bucket 1 of 4 points at record 0 (pointer + 1)
 * strictEqual(countSpillIndexReference(memory, { byteOffset: 64, bucketCount: 4 }, 0, 10, 0), 1);
 * strictEqual(view.getUint32(64, true), 0x6869_0000); // "hi" zero padded
 * strictEqual(view.getUint32(64 + 8, true), 4); // address: page 0, byte 4
 * strictEqual(view.getUint32(64 + 12, true), 2); // key length
 * ```
 *
 * @param memory The memory.
 * @param buckets The bucket array (16 bytes an entry must fit its 8 bytes a bucket).
 * @param pageTable Memory offset of the page table (u32 memory offset per record page).
 * @param pointerShift log2(segment bytes) - 2.
 * @param order 0 word order, 1 count order.
 * @returns Entries written.
 */
export function countSpillIndexReference(
  memory: WebAssembly.Memory,
  buckets: BucketArray,
  pageTable: number,
  pointerShift: number,
  order: number,
): number {
  const view = new DataView(memory.buffer);
  const bytes = new Uint8Array(memory.buffer);
  const pointers: number[] = [];
  for (let j = 0; j < buckets.bucketCount; j += 1) {
    const pointer = view.getUint32(buckets.byteOffset + 8 * j + 4, true);
    if (pointer !== 0) pointers.push(pointer - 1);
  }
  assert(16 * pointers.length <= 8 * buckets.bucketCount, "the index does not fit the buckets");
  // From 128 entries the kernel reads the records in pointer order (a radix sort of the
  // pointers, whose scratch the index then covers); the entries follow that order.
  if (pointers.length >= 128) pointers.sort((a, b) => a - b);
  const entries = pointers.map((pointer) => {
    const page = Math.floor(pointer / 2 ** pointerShift);
    const offset = (pointer % 2 ** pointerShift) * 4;
    const record = view.getUint32(pageTable + 4 * page, true) + offset;
    const wordBytes = view.getUint32(record, true);
    const word = bytes.slice(record + 4, record + 4 + wordBytes);
    let key = word;
    if (order === 1) {
      const inverted = bytes.slice(record + 4 + wordBytes, record + 12 + wordBytes)
        .map((byte) => ~byte & 0xff);
      key = new Uint8Array(8 + wordBytes);
      key.set(inverted);
      key.set(word, 8);
      bytes.set(key, record + 4);
    }
    const prefix = new Uint8Array(8);
    prefix.set(key.subarray(0, 8));
    const address = page * 2 ** (pointerShift + 2) + offset + 4;
    return [prefixWord(prefix, 0), prefixWord(prefix, 4), address, key.length];
  });
  entries.forEach((entry, i) => {
    for (let w = 0; w < 4; w += 1) {
      view.setUint32(buckets.byteOffset + 16 * i + 4 * w, entry[w]!, true);
    }
  });
  return entries.length;
}

/**
 * Adds `bytes` to the length word of `count` index entries (the reference of
 * `countSpillLengths`).
 *
 * @param memory The memory.
 * @param indexOffset The index.
 * @param count Entries.
 * @param bytes Bytes to add.
 */
export function countSpillLengthsReference(
  memory: WebAssembly.Memory,
  indexOffset: number,
  count: number,
  bytes: number,
): void {
  const view = new DataView(memory.buffer);
  for (let i = 0; i < count; i += 1) {
    const at = indexOffset + 16 * i + 12;
    view.setUint32(at, view.getUint32(at, true) + bytes, true);
  }
}

function prefixWord(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>>
    0;
}

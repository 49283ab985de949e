import { deepStrictEqual, strictEqual } from "node:assert/strict";
import fc from "fast-check";
import {
  countSpillIndexReference,
  countSpillLengthsReference,
  WasmKernels,
} from "../../src/kernels/mod.ts";
import { checkProperty } from "../_support/property.ts";

const PAGE = 4096;
const POINTER_SHIFT = Math.log2(PAGE) - 2;

/**
 * A count table in a fresh shared memory: records `| len | word | count BE | pad |` on pages
 * listed in a page table, and a bucket array with the entries at `slots`.
 */
function table(words: Uint8Array[], counts: number[], slots: number[], bucketCount: number) {
  const pageCount = 1 + Math.ceil(words.reduce((sum, w) => sum + w.length + 16, 0) / PAGE) + 1;
  const pages = pageCount * PAGE;
  const memory = new WebAssembly.Memory({
    initial: Math.ceil((65536 + 8 * bucketCount + pages + PAGE) / 65536),
    maximum: 64,
    shared: true,
  });
  const view = new DataView(memory.buffer);
  const bytes = new Uint8Array(memory.buffer);
  const pageTable = 64;
  const buckets = 65536;
  // Pages in reverse memory order, so page index and memory order differ.
  const pagesBase = buckets + 8 * bucketCount + PAGE;
  for (let p = 0; p < pageCount; p += 1) {
    view.setUint32(pageTable + 4 * p, pagesBase + (pageCount - 1 - p) * PAGE, true);
  }
  let page = 0;
  let offset = 0;
  words.forEach((word, i) => {
    const recordBytes = (4 + word.length + 8 + 3) & ~3;
    if (offset + recordBytes > PAGE) {
      page += 1;
      offset = 0;
    }
    const record = view.getUint32(pageTable + 4 * page, true) + offset;
    view.setUint32(record, word.length, true);
    bytes.set(word, record + 4);
    view.setUint32(record + 4 + word.length, Math.floor(counts[i]! / 2 ** 32));
    view.setUint32(record + 8 + word.length, counts[i]! >>> 0);
    const slot = slots[i]!;
    view.setUint32(buckets + 8 * slot, 0x9e37_79b9 * (i + 1) >>> 0, true);
    view.setUint32(buckets + 8 * slot + 4, ((page << POINTER_SHIFT) | (offset >>> 2)) + 1, true);
    offset += recordBytes;
  });
  return { memory, pageTable, buckets: { byteOffset: buckets, bucketCount } };
}

Deno.test("countSpillIndex and countSpillLengths equal their references", () => {
  checkProperty(
    fc.property(
      fc.oneof(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 40 }), { minLength: 0, maxLength: 64 }),
        // From 128 entries the kernel sorts the pointers first.
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 12 }), {
          minLength: 120,
          maxLength: 400,
        }),
      ),
      fc.integer({ min: 0, max: 2 }),
      fc.integer({ min: 0, max: 2 ** 31 }),
      fc.constantFrom(0, 1),
      (words, extraBits, seed, order) => {
        const n = words.length;
        const bucketCount = 2 **
          (Math.max(1, Math.ceil(Math.log2(Math.max(1, 2 * n)))) + extraBits);
        // Distinct slots, spread by a seeded shuffle.
        const slots = Array.from({ length: bucketCount }, (_, i) => i);
        let state = seed | 1;
        for (let i = slots.length - 1; i > 0; i -= 1) {
          state = (Math.imul(state, 1103515245) + 12345) >>> 0;
          const j = state % (i + 1);
          [slots[i], slots[j]] = [slots[j]!, slots[i]!];
        }
        const counts = words.map((_, i) =>
          1 + ((seed + i * 7919) % 2 ** 20) * (i % 3 === 0 ? 2 ** 20 : 1)
        );
        const a = table(words, counts, slots, bucketCount);
        const b = table(words, counts, slots, bucketCount);
        const kernels = new WasmKernels(a.memory);
        const found = kernels.countSpillIndex(a.buckets, a.pageTable, POINTER_SHIFT, order);
        strictEqual(
          found,
          countSpillIndexReference(b.memory, b.buckets, b.pageTable, POINTER_SHIFT, order),
        );
        strictEqual(found, n);
        kernels.countSpillLengths(a.buckets.byteOffset, n, 8);
        countSpillLengthsReference(b.memory, b.buckets.byteOffset, n, 8);
        // The index and the (rewritten) records, byte for byte.
        deepStrictEqual(new Uint8Array(a.memory.buffer), new Uint8Array(b.memory.buffer));
      },
    ),
  );
});

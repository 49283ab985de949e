// CountTable.sortKernel (the final in-memory sort through the WebAssembly kernels) against an
// oracle of (word, count) pairs, in word and count order, and its limits.
import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import fc from "fast-check";
import { CountTable, type CountTableOrder } from "../../src/count/mod.ts";
import { BuddyAllocator, MemoryManager } from "../../src/memory/mod.ts";
import { checkProperty } from "../_support/property.ts";

const PAGE = 4096;

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** `word:count` lines as the table walks them after sorting (kernel or JS). */
function walked(
  words: Array<[Uint8Array, number]>,
  order: CountTableOrder,
  kernel: boolean,
): string[] {
  const memory = new MemoryManager({ budgetBytes: 768 * PAGE, segmentBytes: PAGE });
  const buddy = new BuddyAllocator(memory, { segmentCount: 128 });
  const table = new CountTable(memory, { buddy, recordPagesMax: 560 });
  try {
    if (kernel) ok(table.useSpillKernel({ force: true }), "the kernel area does not fit");
    for (const [word, count] of words) ok(table.add(word, 0, word.length, count), "table full");
    if (kernel) ok(table.sortKernel(order), "sortKernel refused");
    else strictEqual(table.sortKernel(order), false);
    if (!kernel) table.sort(order);
    const lines: string[] = [];
    while (table.nextSorted()) {
      const at = table.recordOffset;
      const word = table.recordBytes.subarray(at, at + table.recordLength - 8);
      lines.push(`${hex(word)}:${table.count}`);
    }
    strictEqual(table.nextSorted(), false);
    return lines;
  } finally {
    table.close();
    buddy.close();
    memory.assertAllReleased();
  }
}

function oracle(words: Array<[Uint8Array, number]>, order: CountTableOrder): string[] {
  const rows = words.map(([word, count]) => ({ key: hex(word), count }));
  rows.sort((a, b) => {
    if (order === "count" && a.count !== b.count) return b.count - a.count;
    return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
  });
  return rows.map((row) => `${row.key}:${row.count}`);
}

const wordsArbitrary = fc.uniqueArray(
  fc.oneof(
    fc.uint8Array({ minLength: 0, maxLength: 20 }),
    fc.array(fc.constantFrom(0x00, 0x01, 0x61, 0xff), { minLength: 0, maxLength: 17 })
      .map((bytes) => Uint8Array.from(bytes)),
    fc.uint8Array({ minLength: 100, maxLength: 600 }),
  ),
  { selector: hex, minLength: 0, maxLength: 300 },
);
const countArbitrary = fc.oneof(
  fc.constant(1),
  fc.integer({ min: 1, max: 3 }),
  fc.integer({ min: 1, max: 2 ** 40 }),
  fc.constant(2 ** 32 - 1),
  fc.constant(2 ** 32),
);

Deno.test("CountTable.sortKernel walks the words an oracle sorts, as sort() does", () => {
  checkProperty(
    fc.property(
      wordsArbitrary.chain((words) =>
        fc.tuple(
          fc.constant(words),
          fc.array(countArbitrary, { minLength: words.length, maxLength: words.length }),
        )
      ),
      fc.constantFrom<CountTableOrder>("word", "count"),
      ([words, counts], order) => {
        const counted: Array<[Uint8Array, number]> = words.map((word, i) => [word, counts[i]!]);
        const expected = oracle(counted, order);
        deepStrictEqual(walked(counted, order, true), expected);
        deepStrictEqual(walked(counted, order, false), expected);
      },
    ),
    60,
  );
});

Deno.test("CountTable.sortKernel leaves no second sort or limit, and reset() makes it usable", () => {
  const memory = new MemoryManager({ budgetBytes: 768 * PAGE, segmentBytes: PAGE });
  const buddy = new BuddyAllocator(memory, { segmentCount: 128 });
  const table = new CountTable(memory, { buddy, recordPagesMax: 560 });
  try {
    ok(table.useSpillKernel({ force: true }));
    const word = new TextEncoder().encode("again");
    ok(table.add(word, 0, word.length, 3));
    ok(table.sortKernel("count"));
    strictEqual(table.sortKernel("word"), false); // sorted already
    throws(() => table.sort("word"), /after sortKernel/);
    throws(() => table.limitSorted(1), /limitSorted/);
    ok(table.nextSorted());
    strictEqual(table.count, 3);
    table.reset();
    ok(table.add(word, 0, word.length, 2));
    table.sort("word");
    ok(table.nextSorted());
    strictEqual(table.count, 2);
  } finally {
    table.close();
    buddy.close();
    memory.assertAllReleased();
  }
});

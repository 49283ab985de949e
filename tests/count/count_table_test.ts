import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import fc from "fast-check";
import { CountTable, readCount, writeCount } from "../../src/count/mod.ts";
import { BuddyAllocator, MemoryManager } from "../../src/memory/mod.ts";
import { checkProperty } from "../_support/property.ts";

const PAGE = 4096;
const encoder = new TextEncoder();

function setup(recordPagesMax: number, arenaSegments: number) {
  const memory = new MemoryManager({ budgetBytes: 256 * PAGE, segmentBytes: PAGE });
  const buddy = new BuddyAllocator(memory, { segmentCount: arenaSegments });
  const table = new CountTable(memory, { buddy, recordPagesMax });
  const close = () => {
    table.close();
    buddy.close();
    memory.assertAllReleased();
  };
  return { memory, buddy, table, close };
}

function drain(table: CountTable): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  while (table.nextSorted()) {
    const word = table.recordBytes.slice(
      table.recordOffset,
      table.recordOffset + table.recordLength - 8,
    );
    out.push([Array.from(word, (byte) => String.fromCharCode(byte)).join(""), table.count]);
  }
  return out;
}

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0; // strings of chars < 256: same as byte order
}

Deno.test("CountTable counts words and sorts them by word and by count", () => {
  const { table, close } = setup(8, 8);
  for (const word of ["b", "a", "b", "ab", "b", "a", ""]) {
    const bytes = encoder.encode(word);
    ok(table.addToken(bytes, 0, bytes.length));
  }
  strictEqual(table.entryCount, 4);
  strictEqual(table.tokenCount, 7);
  table.sort("word");
  deepStrictEqual(drain(table), [["", 1], ["a", 2], ["ab", 1], ["b", 3]]);
  table.sort("count");
  deepStrictEqual(drain(table), [["b", 3], ["a", 2], ["", 1], ["ab", 1]]);
  table.reset();
  strictEqual(table.entryCount, 0);
  table.sort("word");
  deepStrictEqual(drain(table), []);
  close();
});

Deno.test("CountTable keeps counts exact beyond 2^32", () => {
  const { table, close } = setup(4, 4);
  const word = encoder.encode("big");
  ok(table.add(word, 0, 3, 2 ** 32 - 1));
  ok(table.addToken(word, 0, 3));
  ok(table.add(word, 0, 3, 2 ** 40));
  table.sort("word");
  ok(table.nextSorted());
  strictEqual(table.count, 2 ** 32 + 2 ** 40);
  const bytes = new Uint8Array(8);
  writeCount(bytes, 0, 2 ** 53 - 1);
  strictEqual(readCount(bytes, 0), 2 ** 53 - 1);
  close();
});

Deno.test("CountTable refuses when full and words longer than a page", () => {
  const { table, close } = setup(1, 1);
  strictEqual(table.addToken(new Uint8Array(PAGE), 0, PAGE - 11), false);
  ok(table.addToken(new Uint8Array(PAGE), 0, PAGE - 12)); // exactly one page: fits
  strictEqual(table.addToken(encoder.encode("x"), 0, 1), false); // no second page
  table.reset();
  let added = 0;
  while (table.addToken(encoder.encode(`w${added}`), 0, `w${added}`.length)) added += 1;
  // One 4 KiB bucket block of 512 buckets at most 2/3 full, or one page of 16-byte records.
  ok(added > 100 && added <= 341, `added ${added}`);
  table.sort("word");
  strictEqual(drain(table).length, added);
  close();
});

Deno.test("CountTable asserts on add after sort", () => {
  const { table, close } = setup(2, 2);
  table.addToken(encoder.encode("a"), 0, 1);
  table.sort("word");
  throws(() => table.addToken(encoder.encode("a"), 0, 1), /reset/);
  close();
});

Deno.test("CountTable matches a Map oracle, growing and spilling (random words)", () => {
  checkProperty(
    fc.property(
      fc.array(
        fc.oneof(
          fc.constantFrom("", "a", "the", "x".repeat(8), "x".repeat(9), "\u00ff\u0000"),
          fc.string({
            unit: fc.integer({ min: 0, max: 255 }).map((code) => String.fromCharCode(code)),
            maxLength: 20,
          }),
        ),
        { maxLength: 600, size: "max" },
      ),
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 1, max: 8 }),
      (words, recordPages, arena) => {
        const { table, close } = setup(recordPages, arena);
        const oracle = new Map<string, number>();
        const spilled: Array<Array<[string, number]>> = [];
        for (const word of words) {
          const bytes = Uint8Array.from(word, (char) => char.charCodeAt(0));
          if (!table.addToken(bytes, 0, bytes.length)) {
            table.sort("word");
            spilled.push(drain(table));
            table.reset();
            ok(table.addToken(bytes, 0, bytes.length), "an empty table takes a short word");
          }
          oracle.set(word, (oracle.get(word) ?? 0) + 1);
        }
        table.sort("word");
        spilled.push(drain(table));
        // Each spill is sorted and duplicate-free; their sum is the oracle.
        const sum = new Map<string, number>();
        for (const run of spilled) {
          const keys = run.map(([word]) => word);
          deepStrictEqual(keys, [...new Set(keys)].sort(byteOrder));
          for (const [word, count] of run) sum.set(word, (sum.get(word) ?? 0) + count);
        }
        deepStrictEqual(
          [...sum.entries()].sort((a, b) => byteOrder(a[0], b[0])),
          [...oracle.entries()].sort((a, b) => byteOrder(a[0], b[0])),
        );
        if (spilled.length === 1) {
          table.sort("count");
          const expected = [...oracle.entries()].sort((a, b) =>
            b[1] - a[1] || byteOrder(a[0], b[0])
          );
          deepStrictEqual(drain(table), expected);
        }
        close();
      },
    ),
    150,
  );
});

Deno.test("CountTable sorts long runs of words that share their first bytes", () => {
  const { table, close } = setup(16, 16);
  const words: string[] = [];
  for (let i = 0; i < 300; i += 1) {
    // 200 words behind one 12-byte prefix (a tie run longer than 32), 100 short ones.
    const word = i < 200 ? `common-prefix${(i * 7919) % 1000}` : `w${i}`;
    words.push(word);
    const bytes = encoder.encode(word);
    ok(table.addToken(bytes, 0, bytes.length));
  }
  table.sort("word");
  deepStrictEqual(
    drain(table).map(([word]) => word),
    [...new Set(words)].sort(byteOrder),
  );
  close();
});

/** Adds `${prefix}${i}` (base 36) padded to `width` bytes, i = 0, 1, ... until the table is full. */
function fillTable(table: CountTable, prefix: string, width: number): number {
  let added = 0;
  for (;;) {
    const bytes = encoder.encode(`${prefix}${added.toString(36)}`.padEnd(width, "."));
    if (!table.addToken(bytes, 0, bytes.length)) return added;
    added += 1;
  }
}

Deno.test("CountTable fills its record pages again after a reset instead of taking new ones", () => {
  const { memory, table, close } = setup(4, 8);
  const first = fillTable(table, "a", 12);
  const pages = table.pageCount;
  strictEqual(pages, 4);
  const allocations = memory.allocationCount;
  table.sort("word");
  strictEqual(drain(table).length, first);
  table.reset();
  strictEqual(table.pageCount, pages);
  strictEqual(fillTable(table, "b", 12), first);
  // No page handle was made for the second fill (a spill no longer costs one per page).
  strictEqual(memory.allocationCount, allocations);
  table.sort("word");
  const words = drain(table);
  strictEqual(words.length, first);
  ok(words.every(([word, count]) => word.startsWith("b") && count === 1));
  // A table that takes no more words gives back the kept pages it did not fill again.
  table.reset();
  ok(table.addToken(encoder.encode("c"), 0, 1));
  const used = memory.usedPages;
  table.releaseUnwrittenPages();
  strictEqual(table.pageCount, 1);
  strictEqual(memory.usedPages, used - (pages - 1));
  table.sort("word");
  deepStrictEqual(drain(table), [["c", 1]]);
  close();
});

Deno.test("CountTable grows its buckets after a reset as an empty table does (kept pages)", () => {
  // Long words fill the 16 record pages with few entries; after the reset, short words need
  // the buckets to grow into the whole arena, which parks the old pairs in record pages.
  const fresh = setup(16, 8);
  const shortMax = fillTable(fresh.table, "s", 4);
  fresh.close();
  const { table, close } = setup(16, 8);
  fillTable(table, "l", 200);
  strictEqual(table.pageCount, 16);
  table.reset();
  strictEqual(fillTable(table, "s", 4), shortMax);
  table.sort("word");
  strictEqual(drain(table).length, shortMax);
  close();
});

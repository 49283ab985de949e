import { deepStrictEqual } from "node:assert/strict";
import fc from "fast-check";
import { ENTRY_BYTES, sortIndex } from "../../src/sort/mod.ts";
import { checkProperty } from "../_support/property.ts";

const ENTRY_WORDS = ENTRY_BYTES / 4;
const encoder = new TextEncoder();

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i += 1) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}

/**
 * Sorts `records` through sortIndex: each entry is [prefix hi, prefix lo, record number,
 * length], prefixes the first 8 bytes big-endian (zero padded); ties compare whole records,
 * then record numbers (input order), as the sort buffer's tie compare does.
 */
function sortByIndex(records: readonly Uint8Array[]): number[] {
  const index = new Uint32Array(records.length * ENTRY_WORDS);
  records.forEach((record, n) => {
    const padded = new Uint8Array(8);
    padded.set(record.subarray(0, 8));
    const view = new DataView(padded.buffer);
    index[n * ENTRY_WORDS] = view.getUint32(0);
    index[n * ENTRY_WORDS + 1] = view.getUint32(4);
    index[n * ENTRY_WORDS + 2] = n;
    index[n * ENTRY_WORDS + 3] = record.length;
  });
  sortIndex(index, records.length, (a, b) => {
    const byBytes = compareBytes(records[index[a + 2]!]!, records[index[b + 2]!]!);
    return byBytes !== 0 ? byBytes : index[a + 2]! - index[b + 2]!;
  });
  const order: number[] = [];
  for (let n = 0; n < records.length; n += 1) order.push(index[n * ENTRY_WORDS + 2]!);
  return order;
}

function stableOrder(records: readonly Uint8Array[]): number[] {
  return records.map((_, n) => n).sort((a, b) => compareBytes(records[a]!, records[b]!) || a - b);
}

Deno.test("sortIndex sorts examples, equal prefixes and empty records", () => {
  const records = ["banana", "apple", "", "applesauce", "apple", "b"].map((s) => encoder.encode(s));
  deepStrictEqual(sortByIndex(records), [2, 1, 4, 3, 5, 0]);
  deepStrictEqual(sortByIndex([]), []);
  deepStrictEqual(sortByIndex([encoder.encode("x")]), [0]);
});

Deno.test("sortIndex sorts every small input (up to 4 records over 2 letters, lengths 0..2)", () => {
  const words = ["", "a", "b", "aa", "ab", "ba", "bb"].map((s) => encoder.encode(s));
  const lists: Uint8Array[][] = [[]];
  for (let size = 1; size <= 4; size += 1) {
    for (const list of lists.filter((l) => l.length === size - 1)) {
      for (const word of words) lists.push([...list, word]);
    }
  }
  for (const list of lists) deepStrictEqual(sortByIndex(list), stableOrder(list));
});

Deno.test("sortIndex equals a stable sort, below and above the radix split (property)", () => {
  const record = fc.uint8Array({ maxLength: 12 });
  checkProperty(
    fc.property(fc.array(record, { maxLength: 300 }), (records) => {
      deepStrictEqual(sortByIndex(records), stableOrder(records));
    }),
  );
  // Past 4096 entries the index is first split on the top 16 bits (American flag pass).
  checkProperty(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 0, maxLength: 3 }), { minLength: 4100, maxLength: 5000 }),
      (records) => deepStrictEqual(sortByIndex(records), stableOrder(records)),
    ),
    5,
  );
});

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import fc from "fast-check";
import { mergeSummingCounts, ReservedScratch, writeCount } from "../../src/count/mod.ts";
import { MemoryManager } from "../../src/memory/mod.ts";
import type { RecordCursor } from "../../src/sort/mod.ts";
import { checkAsyncProperty } from "../_support/property.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A word-sorted source of `[word][count u64 BE]` records (async every third record). */
class CountSource implements RecordCursor {
  recordBytes: Uint8Array = new Uint8Array(0);
  recordOffset = 0;
  recordLength = 0;
  #records: Uint8Array[];
  #index = -1;

  constructor(pairs: ReadonlyArray<[string, number]>) {
    this.#records = pairs.map(([word, count]) => {
      const bytes = encoder.encode(word);
      const record = new Uint8Array(bytes.length + 8);
      record.set(bytes);
      writeCount(record, bytes.length, count);
      return record;
    });
  }

  next(): boolean | Promise<boolean> {
    this.#index += 1;
    const record = this.#records[this.#index];
    if (record === undefined) return false;
    this.recordBytes = record;
    this.recordLength = record.length;
    return this.#index % 3 === 2 ? Promise.resolve(true) : true;
  }
}

async function sum(sources: Array<Array<[string, number]>>): Promise<Array<[string, number]>> {
  const memory = new MemoryManager({ budgetBytes: 16 * 4096, segmentBytes: 4096 });
  const scratch = new ReservedScratch(memory, "test-scratch");
  const out: Array<[string, number]> = [];
  const emitted = await mergeSummingCounts(
    sources.map((pairs) => new CountSource(pairs)),
    scratch,
    (bytes, offset, length, count) => {
      out.push([decoder.decode(bytes.subarray(offset, offset + length)), count]);
      return undefined;
    },
  );
  strictEqual(emitted, out.length);
  scratch.close();
  memory.assertAllReleased();
  return out;
}

Deno.test("mergeSummingCounts sums equal words across sources, in word order", async () => {
  deepStrictEqual(
    await sum([[["a", 1], ["c", 2]], [["a", 3], ["b", 1]], [["c", 5]]]),
    [["a", 4], ["b", 1], ["c", 7]],
  );
  deepStrictEqual(await sum([]), []);
  deepStrictEqual(await sum([[], [["x", 2 ** 40]], []]), [["x", 2 ** 40]]);
  // Equal words inside one source (a run of an earlier merge) are summed too.
  deepStrictEqual(await sum([[["w", 1], ["w", 2]], [["w", 3]]]), [["w", 6]]);
});

Deno.test("mergeSummingCounts equals summing in a map (property)", async () => {
  const pair = fc.tuple(fc.string({ maxLength: 5 }), fc.integer({ min: 1, max: 1000 }));
  await checkAsyncProperty(
    fc.asyncProperty(fc.array(fc.array(pair, { maxLength: 10 }), { maxLength: 6 }), async (raw) => {
      const byBytes = (a: [string, number], b: [string, number]): number => {
        const x = encoder.encode(a[0]);
        const y = encoder.encode(b[0]);
        for (let i = 0; i < Math.min(x.length, y.length); i += 1) {
          if (x[i] !== y[i]) return x[i]! - y[i]!;
        }
        return x.length - y.length;
      };
      const sources = raw.map((pairs) => [...pairs].sort(byBytes));
      const totals = new Map<string, number>();
      for (const [word, count] of raw.flat()) totals.set(word, (totals.get(word) ?? 0) + count);
      deepStrictEqual(await sum(sources), [...totals].sort(byBytes));
    }),
  );
});

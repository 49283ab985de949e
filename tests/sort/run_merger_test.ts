import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import fc from "fast-check";
import { MemoryManager } from "../../src/memory/mod.ts";
import { BytesOrder, mergeCursors, type RecordCursor, UniqueFilter } from "../../src/sort/mod.ts";
import { RecordTooLargeError } from "../../src/io/mod.ts";
import { checkAsyncProperty } from "../_support/property.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A cursor over strings; every other `next()` answers with a promise, like a block read. */
class ArrayCursor implements RecordCursor {
  recordBytes: Uint8Array = new Uint8Array(0);
  recordOffset = 0;
  recordLength = 0;
  #records: Uint8Array[];
  #index = -1;

  constructor(records: readonly string[]) {
    this.#records = records.map((record) => encoder.encode(`#${record}`));
  }

  next(): boolean | Promise<boolean> {
    this.#index += 1;
    const record = this.#records[this.#index];
    if (record === undefined) return false;
    this.recordBytes = record;
    this.recordOffset = 1; // records do not start at 0 in real blocks either
    this.recordLength = record.length - 1;
    return this.#index % 2 === 1 ? Promise.resolve(true) : true;
  }
}

async function merge(runs: string[][], unique = false, reverse = false): Promise<string[]> {
  const memory = new MemoryManager({ budgetBytes: 64 * 4096, segmentBytes: 4096 });
  const out: string[] = [];
  const count = await mergeCursors(
    runs.map((run) => new ArrayCursor(run)),
    (bytes, offset, length) => {
      out.push(decoder.decode(bytes.subarray(offset, offset + length)));
      return undefined;
    },
    { order: new BytesOrder(reverse), unique, memory, owner: "test-unique" },
  );
  strictEqual(count, out.length);
  memory.assertAllReleased();
  return out;
}

function byteOrder(a: string, b: string): number {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i += 1) {
    if (x[i] !== y[i]) return x[i]! - y[i]!;
  }
  return x.length - y.length;
}

Deno.test("mergeCursors merges examples, empty runs and no runs", async () => {
  deepStrictEqual(await merge([["a", "c"], ["b", "d"]]), ["a", "b", "c", "d"]);
  deepStrictEqual(await merge([[], ["x"], []]), ["x"]);
  deepStrictEqual(await merge([]), []);
  deepStrictEqual(await merge([["b", "a"].sort().reverse()], false, true), ["b", "a"]);
  deepStrictEqual(await merge([["a", "a"], ["a", "b"]], true), ["a", "b"]);
});

Deno.test("mergeCursors keeps ties in run order (a stable merge)", async () => {
  // Equal keys under a reverse order compare equal; the earlier run's record comes first.
  const runs = [["k"], ["k"], ["k"]];
  deepStrictEqual(await merge(runs), ["k", "k", "k"]);
  deepStrictEqual(await merge(runs, true), ["k"]);
});

Deno.test("mergeCursors merges every small input (up to 3 runs of 2 records over 3 letters)", async () => {
  const runsOf = (size: number): string[][] => {
    const all: string[][] = [[]];
    for (const a of ["a", "b", "c"]) {
      all.push([a]);
      if (size > 1) { for (const b of ["a", "b", "c"]) if (a <= b) all.push([a, b]); }
    }
    return all;
  };
  const runs = runsOf(2);
  for (const x of runs) {
    for (const y of runs) {
      for (const z of [[], ["b"], ["a", "c"]]) {
        const expected = [...x, ...y, ...z].sort(byteOrder);
        deepStrictEqual(await merge([x, y, z]), expected);
        deepStrictEqual(await merge([x, y, z], true), [...new Set(expected)]);
      }
    }
  }
});

Deno.test("mergeCursors equals sorting the concatenation (property)", async () => {
  await checkAsyncProperty(
    fc.asyncProperty(
      fc.array(fc.array(fc.string({ maxLength: 6 }), { maxLength: 8 }), { maxLength: 7 }),
      fc.boolean(),
      async (runs, unique) => {
        const sorted = runs.map((run) => [...run].sort(byteOrder));
        const expected = sorted.flat().sort(byteOrder);
        const actual = await merge(sorted, unique);
        deepStrictEqual(actual, unique ? [...new Set(expected)] : expected);
      },
    ),
  );
});

Deno.test("UniqueFilter names the -u copy that does not fit the budget and a -S that holds it", () => {
  const memory = new MemoryManager({ budgetBytes: 64 * 1024, segmentBytes: 4096 });
  const held = memory.allocate("merge-input", 12);
  const filter = new UniqueFilter({
    order: new BytesOrder(false),
    unique: true,
    memory,
    owner: "merge-unique",
  });
  try {
    const line = new Uint8Array(20_000).fill(0x61);
    throws(() => filter.accept(line, 0, line.length), (error: unknown) => {
      ok(error instanceof RecordTooLargeError, String(error));
      strictEqual(
        error.message,
        "Cannot keep the -u copy of the last line written (32 KiB for a line of 19.5 KiB) " +
          "beside the 48 KiB of the 64 KiB budget held now; raise --memory (-S) to at least 1m",
      );
      return true;
    });
  } finally {
    filter.release();
    held.release();
  }
  memory.assertAllReleased();
});

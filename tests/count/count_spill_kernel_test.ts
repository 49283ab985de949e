// The count table's kernel spill (countSpillIndex + sortBytesIndex + gather into sealed
// blocks) and its JS sort against an oracle, record for record, and a whole WordCounter on the
// kernel spill against the JS spill and a Map oracle.
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import fc from "fast-check";
import {
  type CountFinishOptions,
  CountTable,
  type CountTableOrder,
  WordCounter,
  writeCount,
} from "../../src/count/mod.ts";
import { IoManager } from "../../src/io/mod.ts";
import { BuddyAllocator, MemoryManager } from "../../src/memory/mod.ts";
import { checkAsyncProperty } from "../_support/property.ts";

const PAGE = 4096;

/** Words as byte arrays, each with a count. */
type Counted = Array<[Uint8Array, number]>;

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** The records a table spills in `order`: through the kernel, the JS sort, or the oracle's. */
async function spilledRecords(
  words: Counted,
  order: CountTableOrder,
  path: "kernel" | "js" | "oracle",
): Promise<string[]> {
  const kernel = path === "kernel";
  const tmp = await Deno.makeTempDir({ prefix: "spillway-count-spill-test-" });
  const memory = new MemoryManager({ budgetBytes: 768 * PAGE, segmentBytes: PAGE });
  const io = await IoManager.open({ memory, tmpDirs: [tmp], handleSignals: false });
  const buddy = new BuddyAllocator(memory, { segmentCount: 128 });
  const table = new CountTable(memory, { buddy, recordPagesMax: 560 });
  try {
    if (kernel) ok(table.useSpillKernel({ force: true }), "the kernel area does not fit");
    strictEqual(table.usesSpillKernel, kernel);
    for (const [word, count] of words) ok(table.add(word, 0, word.length, count), "table full");
    const records: string[] = [];
    if (kernel) {
      const writer = await io.createRunWriter("spill-test", { writeBehindSegments: 0 });
      strictEqual(await table.spillSorted(order, writer), table.entryCount);
      const run = await writer.finish();
      strictEqual(run.recordCount, table.entryCount);
      const reader = await io.openRunReader(run);
      for (;;) {
        let more = reader.next();
        if (more instanceof Promise) more = await more;
        if (!more) break;
        const at = reader.recordOffset;
        records.push(hex(reader.recordBytes.subarray(at, at + reader.recordLength)));
      }
      await reader.close();
      await io.deleteRun(run);
    } else if (path === "js") {
      table.sort(order);
      while (table.nextSorted()) {
        const at = table.recordOffset;
        const length = table.recordLength;
        const record = table.recordBytes.slice(at, at + length);
        if (order === "word") {
          records.push(hex(record));
        } else {
          const inverted = record.slice(length - 8).map((byte) => ~byte & 0xff);
          records.push(hex(inverted) + hex(record.subarray(0, length - 8)));
        }
      }
    } else {
      // The oracle: [word][count u64 BE] by word bytes, or [~count u64 BE][word] by count
      // descending, then word bytes (hex sorts as the bytes do).
      const encoded = words.map(([word, count]) => {
        const countBytes = new Uint8Array(8);
        writeCount(countBytes, 0, count);
        if (order === "word") return { key: hex(word), record: hex(word) + hex(countBytes) };
        const inverted = hex(countBytes.map((byte) => ~byte & 0xff));
        return { key: inverted + hex(word), record: inverted + hex(word) };
      });
      encoded.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      records.push(...encoded.map((entry) => entry.record));
    }
    return records;
  } finally {
    table.close();
    buddy.close();
    await io.close();
    memory.assertAllReleased();
    await Deno.remove(tmp, { recursive: true });
  }
}

/** Distinct words, weighted to edges: empty, shared prefixes, bytes 0x00 and 0xff, 8-byte cuts. */
const wordsArbitrary = fc.uniqueArray(
  fc.oneof(
    fc.uint8Array({ minLength: 0, maxLength: 20 }),
    fc.array(fc.constantFrom(0x00, 0x01, 0x61, 0xff), { minLength: 0, maxLength: 17 })
      .map((bytes) => Uint8Array.from(bytes)),
    fc.uint8Array({ minLength: 100, maxLength: 600 }),
  ),
  { selector: hex, minLength: 0, maxLength: 400 },
);
const countArbitrary = fc.oneof(
  fc.constant(1),
  fc.integer({ min: 1, max: 3 }),
  fc.integer({ min: 1, max: 2 ** 40 }),
  fc.constant(2 ** 32),
);

Deno.test("CountTable.spillSorted and sort write the records an oracle sorts, in word and count order", async () => {
  await checkAsyncProperty(
    fc.asyncProperty(
      wordsArbitrary.chain((words) =>
        fc.tuple(
          fc.constant(words),
          fc.array(countArbitrary, { minLength: words.length, maxLength: words.length }),
        )
      ),
      fc.constantFrom<CountTableOrder>("word", "count"),
      async ([words, counts], order) => {
        const counted: Counted = words.map((word, i) => [word, counts[i]!]);
        const expected = await spilledRecords(counted, order, "oracle");
        deepStrictEqual(await spilledRecords(counted, order, "kernel"), expected);
        deepStrictEqual(await spilledRecords(counted, order, "js"), expected);
      },
    ),
    40,
  );
});

Deno.test("CountTable.spillSorted spills tables over many blocks and gives its area back", async () => {
  // 20000 words of 9-30 bytes: ~100 blocks of 4 KiB, records cut by block borders.
  const words: Counted = [];
  let state = 7;
  for (let i = 0; i < 20000; i += 1) {
    state = (state * 1103515245 + 12345) >>> 0;
    const word = new TextEncoder().encode(`w${state.toString(36)}-${i}`.padEnd(9 + (i % 22), "x"));
    words.push([word, 1 + (state % 5)]);
  }
  for (const order of ["word", "count"] as const) {
    deepStrictEqual(
      await spilledRecords(words, order, "kernel"),
      await spilledRecords(words, order, "oracle"),
    );
  }
});

// ------------------------------------------------------------------------------------------
// WordCounter on the kernel spill

async function countText(
  text: Uint8Array,
  spillKernel: "always" | "never",
  finish: CountFinishOptions,
): Promise<{ lines: string[]; wordRuns: number; countOrderRuns: number }> {
  const tmp = await Deno.makeTempDir({ prefix: "spillway-count-spill-test-" });
  // 8 KiB pages: the kernel area (sort scratch, page table, two blocks) is ~70 of them.
  const memory = new MemoryManager({ budgetBytes: 192 * 8 * 1024, segmentBytes: 8 * 1024 });
  const io = await IoManager.open({ memory, tmpDirs: [tmp], handleSignals: false });
  const counter = new WordCounter(memory, io, { tokenizer: "whitespace", spillKernel });
  const lines: string[] = [];
  try {
    let start = 0;
    for (let i = 0; i < text.length; i += 1) {
      if (text[i] !== 10 || i - start < 4096) continue;
      const pending = counter.addChunk(text.subarray(start, i + 1));
      if (pending) await pending;
      start = i + 1;
    }
    const pending = counter.addChunk(text.subarray(start));
    if (pending) await pending;
    await counter.finish(finish, (bytes, offset, length, n) => {
      lines.push(`${hex(bytes.subarray(offset, offset + length))} ${n}`);
      return undefined;
    });
    const { wordRuns, countOrderRuns } = counter.stats;
    return { lines, wordRuns, countOrderRuns };
  } finally {
    await counter.close();
    await io.close();
    memory.assertAllReleased();
    deepStrictEqual([...Deno.readDirSync(tmp)], []);
    await Deno.remove(tmp, { recursive: true });
  }
}

function oracle(text: Uint8Array, finish: CountFinishOptions): string[] {
  const counts = new Map<string, number>();
  let start = -1;
  for (let i = 0; i <= text.length; i += 1) {
    const byte = i < text.length ? text[i]! : 0x20;
    const space = byte === 0x20 || (byte >= 0x09 && byte <= 0x0d);
    if (!space && start < 0) start = i;
    if (space && start >= 0) {
      const key = hex(text.subarray(start, i));
      counts.set(key, (counts.get(key) ?? 0) + 1);
      start = -1;
    }
  }
  const minCount = finish.minCount ?? 1;
  // Hex of bytes sorts as the bytes do.
  const byWord = (
    a: [string, number],
    b: [string, number],
  ) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
  const byCount = (a: [string, number], b: [string, number]) => b[1] - a[1] || byWord(a, b);
  let entries = [...counts.entries()].filter(([, n]) => n >= minCount).sort(byCount);
  if (finish.top !== undefined) entries = entries.slice(0, finish.top);
  entries.sort(finish.order === "count" ? byCount : byWord);
  return entries.map(([word, n]) => `${word} ${n}`);
}

/** Many distinct tokens (some repeated), with bytes the order must get right. */
function highCardinalityText(seed: number, tokenCount: number): Uint8Array {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
  const bytes: number[] = [];
  for (let t = 0; t < tokenCount; t += 1) {
    const r = next();
    if (r % 4 === 0) {
      bytes.push(...new TextEncoder().encode(`common${r % 37}`));
    } else {
      const length = 1 + (r % 19);
      for (let i = 0; i < length; i += 1) {
        const b = next() % 96;
        bytes.push(b < 2 ? b : 0x21 + b); // 0x00, 0x01, or printable and high bytes
      }
    }
    bytes.push(t % 9 === 8 ? 10 : 0x20);
  }
  return Uint8Array.from(bytes);
}

Deno.test("WordCounter spilling through the kernels equals the JS spill and the oracle", async () => {
  const text = highCardinalityText(0x5eed, 100000);
  const cases: CountFinishOptions[] = [
    { order: "count" },
    { order: "word" },
    { order: "count", minCount: 2 },
    { order: "word", top: 50 },
  ];
  for (const finish of cases) {
    const expected = oracle(text, finish);
    const kernel = await countText(text, "always", finish);
    const js = await countText(text, "never", finish);
    ok(kernel.wordRuns > 3, `expected spills, got ${kernel.wordRuns} runs`);
    deepStrictEqual(kernel.lines, expected, JSON.stringify(finish));
    deepStrictEqual(js.lines, expected, JSON.stringify(finish));
  }
});

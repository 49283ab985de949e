import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import {
  COUNT_TABLE_FIRST_BYTES,
  CountTable,
  countTableFirstSegments,
  planCount,
  WordCounter,
} from "../../src/count/mod.ts";
import { IoManager } from "../../src/io/mod.ts";
import { BuddyAllocator, MemoryManager } from "../../src/memory/mod.ts";

const encoder = new TextEncoder();

Deno.test("planCount starts each table at 16 MiB at most, and a small table whole", () => {
  const plan = planCount({
    totalSegments: 2048,
    freeSegments: 2047,
    segmentBytes: 32768,
    threads: 1,
  });
  strictEqual(COUNT_TABLE_FIRST_BYTES, 16 * 1024 * 1024);
  strictEqual(plan.tableSegmentsFirst, 512);
  ok(plan.tableSegments > 2 * plan.tableSegmentsFirst, `${plan.tableSegments}`);
  // With a Worker: this thread's half starts at 16 MiB too, and so does the Worker's.
  const split = planCount({
    totalSegments: 2048,
    freeSegments: 2047,
    segmentBytes: 32768,
    threads: 2,
  });
  strictEqual(split.tableSegmentsFirst, 512);
  // Each table's runs may take its share of the fan-in: half of it beside the Worker's.
  strictEqual(plan.tableRunsShare, 128);
  strictEqual(split.tableRunsShare, 64);
  // Alone a table grows for its runs only near the fan-in; beside a Worker from 3/4 of its half.
  strictEqual(plan.tableGrowRuns, 120);
  strictEqual(split.tableGrowRuns, 48);
  strictEqual(
    planCount({
      totalSegments: 2048,
      freeSegments: 2047,
      segmentBytes: 32768,
      threads: 2,
      fanIn: 16,
    })
      .tableRunsShare,
    8,
  );
  strictEqual(countTableFirstSegments(split.workerSegments - 3, 32768), 512);
  // A budget whose table is at most 16 MiB starts whole.
  const small = planCount({
    totalSegments: 256,
    freeSegments: 256,
    segmentBytes: 4096,
    threads: 1,
  });
  strictEqual(small.tableSegmentsFirst, small.tableSegments);
  strictEqual(countTableFirstSegments(0, 4096), 0);
  strictEqual(countTableFirstSegments(10_000, 4096), 4096);
});

Deno.test("CountTable reports full at its page limit until raisePageLimit doubles it", () => {
  const memory = new MemoryManager({ budgetBytes: 64 * 4096, segmentBytes: 4096 });
  const buddy = new BuddyAllocator(memory, { segmentCount: 16 });
  const table = new CountTable(memory, { buddy, recordPagesMax: 8, recordPagesFirst: 2 });
  const word = new Uint8Array(100); // 112-byte records: 36 a page
  const view = new DataView(word.buffer);
  let added = 0;
  const fill = () => {
    for (;;) {
      view.setUint32(0, added);
      if (!table.addToken(word, 0, word.length)) return;
      added += 1;
    }
  };
  fill();
  strictEqual(table.pageCount, 2);
  strictEqual(added, 72);
  strictEqual(table.pageLimit, 2);
  strictEqual(table.raisePageLimit(), true);
  strictEqual(table.pageLimit, 4);
  fill();
  strictEqual(table.pageCount, 4);
  strictEqual(table.raisePageLimit(), true);
  strictEqual(table.pageLimit, 8);
  fill();
  strictEqual(table.pageCount, 8);
  strictEqual(table.raisePageLimit(), false);
  strictEqual(table.entryCount, added);
  table.close();
  buddy.close();
  memory.assertAllReleased();
});

/** Counts `text` (one chunk a line) in a 1 MiB budget of 4 KiB pages with a 200-page table. */
async function countWith(
  text: string,
  options: {
    tablePagesFirst?: number;
    kernel: boolean;
    fanInMax?: number;
    tableGrowRuns?: number;
  },
): Promise<
  { counts: Map<string, number>; wordRuns: number; peakSegments: number; mergeNewPages: number }
> {
  const tmp = await Deno.makeTempDir({ prefix: "spillway-table-size-test-" });
  const memory = new MemoryManager({ budgetBytes: 256 * 4096, segmentBytes: 4096 });
  const io = await IoManager.open({ memory, tmpDirs: [tmp], handleSignals: false });
  const counter = new WordCounter(memory, io, {
    tokenizer: "whitespace",
    tablePages: 200,
    kernel: options.kernel,
    ...(options.fanInMax === undefined ? {} : { fanInMax: options.fanInMax }),
    ...(options.tablePagesFirst === undefined ? {} : { tablePagesFirst: options.tablePagesFirst }),
    ...(options.tableGrowRuns === undefined ? {} : { tableGrowRuns: options.tableGrowRuns }),
  });
  const counts = new Map<string, number>();
  try {
    for (const line of text.split("\n")) {
      const pending = counter.addChunk(encoder.encode(`${line}\n`));
      if (pending) await pending;
    }
    const decoder = new TextDecoder();
    const highWater = memory.highWaterPages;
    await counter.finish({ order: "word" }, (bytes, offset, length, count) => {
      counts.set(decoder.decode(bytes.subarray(offset, offset + length)), count);
      return undefined;
    });
    const wordRuns = counter.stats.wordRuns;
    const mergeNewPages = memory.highWaterPages - highWater;
    await counter.close();
    await io.close();
    memory.assertAllReleased();
    deepStrictEqual([...Deno.readDirSync(tmp)], []);
    return { counts, wordRuns, peakSegments: memory.peakSegments, mergeNewPages };
  } finally {
    await counter.close();
    await io.close();
    await Deno.remove(tmp, { recursive: true });
  }
}

/** `words` distinct 8-byte words, each `repeats` times in a row, 16 tokens a line. */
function corpus(words: number, repeats: number): { text: string; expected: Map<string, number> } {
  const tokens: string[] = [];
  const expected = new Map<string, number>();
  for (let w = 0; w < words; w += 1) {
    const word = `w${(w * 7919 % 10_000_000).toString().padStart(7, "0")}`;
    expected.set(word, repeats);
    for (let r = 0; r < repeats; r += 1) tokens.push(word);
  }
  const lines: string[] = [];
  for (let i = 0; i < tokens.length; i += 16) lines.push(tokens.slice(i, i + 16).join(" "));
  return { text: lines.join("\n"), expected };
}

for (const kernel of [true, false]) {
  const path = kernel ? "kernel" : "JS";
  Deno.test(`WordCounter (${path}): unique words spill at the table's first size`, async () => {
    const { text, expected } = corpus(12_000, 1);
    const whole = await countWith(text, { kernel });
    deepStrictEqual(whole.counts, expected);
    strictEqual(whole.wordRuns, 0); // all of them fit the whole table
    const capped = await countWith(text, { kernel, tablePagesFirst: 20 });
    deepStrictEqual(capped.counts, expected);
    ok(capped.wordRuns >= 4, `${capped.wordRuns} runs`);
    ok(capped.peakSegments < whole.peakSegments, `${capped.peakSegments} ${whole.peakSegments}`);
    // Runs that near the fan-in grow the table: fewer, larger runs.
    const more = corpus(30_000, 1);
    const many = await countWith(more.text, { kernel, tablePagesFirst: 20 });
    deepStrictEqual(many.counts, more.expected);
    const fanIn = await countWith(more.text, { kernel, tablePagesFirst: 20, fanInMax: 4 });
    deepStrictEqual(fanIn.counts, more.expected);
    ok(fanIn.wordRuns + 4 <= many.wordRuns, `${fanIn.wordRuns} ${many.wordRuns}`);
    // The plan's tableGrowRuns moves that mark: a table given the whole fan-in as its mark
    // (15/16 of it for a table counting alone) writes its runs at its first size, where the
    // default three quarters grows it: more, smaller runs.
    const mid = corpus(36_000, 1);
    const later = await countWith(mid.text, {
      kernel,
      tablePagesFirst: 20,
      fanInMax: 16,
      tableGrowRuns: 16,
    });
    deepStrictEqual(later.counts, mid.expected);
    const sooner = await countWith(mid.text, { kernel, tablePagesFirst: 20, fanInMax: 16 });
    deepStrictEqual(sooner.counts, mid.expected);
    ok(later.wordRuns > sooner.wordRuns, `${later.wordRuns} ${sooner.wordRuns}`);
    // The final merge of that many runs writes the last table out instead of keeping it, so
    // that its readers take the table's pages: at most 1/32 of the budget's pages (256) that
    // the count never touched.
    ok(later.mergeNewPages <= 8, `${later.mergeNewPages} pages`);
    ok(many.mergeNewPages <= 8, `${many.mergeNewPages} pages`);
  });

  Deno.test(`WordCounter (${path}): an aggregating table grows past its first size`, async () => {
    const { text, expected } = corpus(6_000, 3);
    const capped = await countWith(text, { kernel, tablePagesFirst: 20 });
    deepStrictEqual(capped.counts, expected);
    strictEqual(capped.wordRuns, 0);
  });
}

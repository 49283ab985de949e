// WordCounter.addForeignTable: a counter over a share of the same memory (as the count Worker
// is) hands its table over in place, and the main counter adds its words; the result equals
// one counter over all the text, also when the main table must spill while adding.
import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { WordCounter } from "../../src/count/mod.ts";
import { IoManager } from "../../src/io/mod.ts";
import { MemoryManager } from "../../src/memory/mod.ts";

const KIB = 1024;
const PAGE = 4 * KIB;

/** Lines of words from a small vocabulary (repeats) plus some rare ones. */
function text(seed: number, lineCount: number, vocabulary: number): Uint8Array {
  let state = seed;
  // The high bits of a 31-bit LCG (its low bits cycle fast).
  const next = () => (state = (state * 1103515245 + 12345) % 2 ** 31) >>> 8;
  let out = "";
  for (let line = 0; line < lineCount; line += 1) {
    const words: string[] = [];
    for (let w = next() % 7; w >= 0; w -= 1) {
      const rank = next() % vocabulary;
      words.push(rank % 5 === 0 ? `Word${rank}` : `w${rank.toString(36)}`);
    }
    out += words.join(next() % 3 === 0 ? "\t" : " ") + "\n";
  }
  return new TextEncoder().encode(out);
}

/** "word count" lines of one counter over all of `bytes` (the oracle). */
async function counted(
  counter: WordCounter,
  order: "count" | "word",
): Promise<string[]> {
  const lines: string[] = [];
  const decoder = new TextDecoder();
  await counter.finish({ order }, (bytes, offset, length, n) => {
    lines.push(`${decoder.decode(bytes.subarray(offset, offset + length))} ${n}`);
    return undefined;
  });
  return lines;
}

async function split(
  bytes: Uint8Array,
  options: {
    mainBudgetBytes: number;
    order: "count" | "word";
    /** Whether the main counter has the count kernel (which then adds the table). */
    mainKernel?: boolean;
    /** Words added with a count to the main and to the other counter before the hand-off. */
    counted?: { main: Array<[string, number]>; other: Array<[string, number]> };
  },
): Promise<{ lines: string[]; tokens: number; spilled: boolean; layout: boolean }> {
  const tmp = await Deno.makeTempDir({ prefix: "spillway-count-foreign-table-" });
  const memory = new MemoryManager({ budgetBytes: options.mainBudgetBytes, segmentBytes: PAGE });
  const io = await IoManager.open({ memory, tmpDirs: [tmp], handleSignals: false });
  // The other counter's budget: a contiguous share of the main memory, lent as to a Worker.
  const shareBytes = 1024 * KIB;
  const share = memory.allocateContiguous("other", shareBytes / PAGE);
  const [byteOffset] = memory.lend("other", share.segments);
  const otherMemory = new MemoryManager({
    budgetBytes: shareBytes,
    segmentBytes: PAGE,
    region: { memory: memory.wasmMemory, byteOffset: byteOffset!, byteLength: shareBytes },
  });
  const otherIo = await IoManager.open({
    memory: otherMemory,
    tmpDirs: [tmp],
    handleSignals: false,
  });
  const main = new WordCounter(memory, io, {
    tokenizer: "whitespace",
    caseMode: "lower",
    kernel: options.mainKernel ?? true,
  });
  let other: WordCounter | undefined = new WordCounter(otherMemory, otherIo, {
    tokenizer: "whitespace",
    caseMode: "lower",
  });
  try {
    const half = bytes.lastIndexOf(10, bytes.length >>> 1) + 1;
    await main.addChunk(bytes.subarray(0, half));
    await other.addChunk(bytes.subarray(half));
    const encoder = new TextEncoder();
    for (const [word, count] of options.counted?.main ?? []) {
      await main.addCounted(encoder.encode(word), 0, word.length, count);
    }
    for (const [word, count] of options.counted?.other ?? []) {
      await other.addCounted(encoder.encode(word), 0, word.length, count);
    }
    const layout = other.tableLayout();
    ok(layout !== undefined, "the other counter spilled");
    strictEqual(layout.pageTableOffset !== 0, true, "the other counter has no kernel");
    await main.addForeignTable(layout);
    const spilled = main.runCount > 0;
    await other.close();
    main.addForeignRuns([], other.stats);
    other = undefined;
    await otherIo.close();
    otherMemory.assertAllReleased();
    memory.takeBack("other", share.segments);
    share.release();
    const lines = await counted(main, options.order);
    return { lines, tokens: main.stats.tokens, spilled, layout: true };
  } finally {
    if (other !== undefined) {
      await other.close();
      await otherIo.close();
    }
    if (share.segments[0]!.isLent) memory.takeBack("other", share.segments);
    if (!share.isReleased) share.release();
    await main.close();
    await io.close();
    memory.assertAllReleased();
    await Deno.remove(tmp, { recursive: true });
  }
}

async function whole(bytes: Uint8Array, order: "count" | "word"): Promise<string[]> {
  const tmp = await Deno.makeTempDir({ prefix: "spillway-count-foreign-oracle-" });
  const memory = new MemoryManager({ budgetBytes: 4096 * KIB, segmentBytes: PAGE });
  const io = await IoManager.open({ memory, tmpDirs: [tmp], handleSignals: false });
  const counter = new WordCounter(memory, io, { tokenizer: "whitespace", caseMode: "lower" });
  try {
    await counter.addChunk(bytes);
    return await counted(counter, order);
  } finally {
    await counter.close();
    await io.close();
    await Deno.remove(tmp, { recursive: true });
  }
}

Deno.test("WordCounter.addForeignTable adds another counter's table in place, as one counter counts", async () => {
  for (const [seed, vocabulary] of [[1, 300], [7, 4000]] as const) {
    const bytes = text(seed, 3000, vocabulary);
    for (
      const [order, mainKernel] of [["count", true], ["word", true], ["count", false]] as const
    ) {
      const expected = await whole(bytes, order);
      const result = await split(bytes, { mainBudgetBytes: 4096 * KIB, order, mainKernel });
      strictEqual(result.spilled, false);
      deepStrictEqual(result.lines, expected);
      strictEqual(
        result.tokens,
        expected.reduce((sum, line) => sum + Number(line.split(" ")[1]), 0),
      );
    }
  }
});

Deno.test("WordCounter.addForeignTable spills the main table when the words do not fit", async () => {
  const bytes = text(3, 8000, 40000);
  const expected = await whole(bytes, "count");
  // Beside the other counter's share, a main table that holds fewer words than both halves.
  for (const mainKernel of [true, false]) {
    const result = await split(bytes, {
      mainBudgetBytes: (1024 + 320) * KIB,
      order: "count",
      mainKernel,
    });
    ok(result.spilled, "the main table did not spill: make the budget smaller");
    deepStrictEqual(result.lines, expected);
  }
});

Deno.test("WordCounter.addForeignTable adds counts past 2^32 exactly, and refuses sums past 2^53", async () => {
  const bytes = text(5, 500, 200);
  const expected = await whole(bytes, "word");
  const counted = {
    // "zbig" is new to the main table, "zsum" is in both, "w1" is in the text too; the
    // "zhalf" words add 2^32 between them (the kernel stops and goes on).
    main: [["zsum", 2 ** 40], ["w1", 2 ** 33 + 1]] as Array<[string, number]>,
    other: [
      ["zbig", 2 ** 32 + 7],
      ["zsum", 2 ** 40 + 3],
      ["w1", 5],
      ["zhalf1", 2 ** 31],
      ["zhalf2", 2 ** 31 + 1],
    ] as Array<[string, number]>,
  };
  const result = await split(bytes, { mainBudgetBytes: 4096 * KIB, order: "word", counted });
  const byWord = new Map(expected.map((line) => line.split(" ") as [string, string]));
  const w1 = Number(byWord.get("w1") ?? 0);
  ok(w1 > 0, "w1 is not in the text: pick another word");
  byWord.set("w1", String(w1 + 2 ** 33 + 6));
  byWord.set("zbig", String(2 ** 32 + 7));
  byWord.set("zsum", String(2 ** 41 + 3));
  byWord.set("zhalf1", String(2 ** 31));
  byWord.set("zhalf2", String(2 ** 31 + 1));
  deepStrictEqual(
    result.lines,
    [...byWord].map(([word, count]) => `${word} ${count}`).sort((a, b) =>
      a.split(" ")[0]! < b.split(" ")[0]! ? -1 : 1
    ),
  );
  await rejects(
    () =>
      split(bytes, {
        mainBudgetBytes: 4096 * KIB,
        order: "word",
        counted: { main: [["zsum", 2 ** 52]], other: [["zsum", 2 ** 52]] },
      }),
    /2\^53|exact/i,
  );
});

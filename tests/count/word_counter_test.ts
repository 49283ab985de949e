import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import fc from "fast-check";
import { ResourceError } from "../../src/base/mod.ts";
import { type CountFinishOptions, type TokenizerKind, WordCounter } from "../../src/count/mod.ts";
import { IoManager } from "../../src/io/mod.ts";
import { MemoryManager } from "../../src/memory/mod.ts";
import { checkAsyncProperty } from "../_support/property.ts";

const KIB = 1024;
const encoder = new TextEncoder();

interface RunOptions {
  budgetBytes: number;
  segmentBytes: number;
  tokenizer?: TokenizerKind;
  finish?: CountFinishOptions;
  /** Chunk boundaries are cut after these line ends (default: every line its own chunk). */
  linesPerChunk?: number;
}

/** Counts `text` with a real IoManager in a temp dir; returns "word count" lines in output order. */
async function count(text: Uint8Array, options: RunOptions) {
  const tmp = await Deno.makeTempDir({ prefix: "spillway-count-test-" });
  const memory = new MemoryManager({
    budgetBytes: options.budgetBytes,
    segmentBytes: options.segmentBytes,
  });
  const io = await IoManager.open({ memory, tmpDirs: [tmp], handleSignals: false });
  const lines: Array<[Uint8Array, number]> = [];
  let counter: WordCounter | undefined;
  try {
    counter = new WordCounter(memory, io, { tokenizer: options.tokenizer ?? "words" });
    const perChunk = options.linesPerChunk ?? 1;
    let start = 0;
    let seen = 0;
    for (let i = 0; i < text.length; i += 1) {
      if (text[i] !== 10) continue;
      seen += 1;
      if (seen % perChunk !== 0) continue;
      const pending = counter.addChunk(text.subarray(start, i + 1));
      if (pending) await pending;
      start = i + 1;
    }
    if (start < text.length) await counter.addChunk(text.subarray(start));
    await counter.finish(options.finish ?? { order: "count" }, (bytes, offset, length, n) => {
      lines.push([bytes.slice(offset, offset + length), n]);
      return undefined;
    });
    const stats = counter.stats;
    await counter.close();
    await io.close();
    memory.assertAllReleased();
    // No leftover files in the temp dir (the private spill dir is gone too).
    deepStrictEqual([...Deno.readDirSync(tmp)].map((entry) => entry.name), []);
    return { lines, stats };
  } finally {
    await counter?.close();
    await io.close();
    await Deno.remove(tmp, { recursive: true });
  }
}

function asText(lines: Array<[Uint8Array, number]>): string[] {
  return lines.map(([word, n]) => `${Array.from(word, (b) => b.toString(16)).join(".")} ${n}`);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const common = Math.min(a.length, b.length);
  for (let i = 0; i < common; i += 1) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Map oracle over whitespace tokens (bytes), in the asked order. */
function oracle(text: Uint8Array, order: "count" | "word"): string[] {
  const counts = new Map<string, [Uint8Array, number]>();
  let start = -1;
  for (let i = 0; i <= text.length; i += 1) {
    const byte = i < text.length ? text[i]! : 32;
    const blank = byte === 32 || (byte >= 9 && byte <= 13);
    if (!blank && start < 0) start = i;
    if (blank && start >= 0) {
      const word = text.slice(start, i);
      const key = word.join(",");
      const entry = counts.get(key) ?? [word, 0];
      entry[1] += 1;
      counts.set(key, entry);
      start = -1;
    }
  }
  const entries = [...counts.values()];
  entries.sort((a, b) =>
    order === "count" ? b[1] - a[1] || compareBytes(a[0], b[0]) : compareBytes(a[0], b[0])
  );
  return asText(entries);
}

function randomText(seed: number, lineCount: number, vocabulary: number): Uint8Array {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  const words: string[] = [];
  for (let i = 0; i < vocabulary; i += 1) {
    const length = 1 + Math.floor(next() * 14);
    let word = "";
    for (let j = 0; j < length; j += 1) word += String.fromCharCode(97 + Math.floor(next() * 26));
    words.push(word);
  }
  let text = "";
  for (let line = 0; line < lineCount; line += 1) {
    const count = Math.floor(next() * 10);
    const parts: string[] = [];
    // Zipf-ish: small indices are more frequent.
    for (let j = 0; j < count; j += 1) parts.push(words[Math.floor(vocabulary * next() ** 3)]!);
    text += parts.join(next() < 0.1 ? "\t" : " ") + (next() < 0.1 ? "\r\n" : "\n");
  }
  return encoder.encode(text);
}

Deno.test("WordCounter with a 256 KiB budget (many spills) equals a 64 MiB budget and the oracle", async () => {
  const text = randomText(42, 12000, 40000);
  const big = await count(text, {
    budgetBytes: 64 * 1024 * KIB,
    segmentBytes: 32 * KIB,
    tokenizer: "whitespace",
  });
  const tiny = await count(text, {
    budgetBytes: 256 * KIB,
    segmentBytes: 4 * KIB,
    tokenizer: "whitespace",
    linesPerChunk: 50,
  });
  ok(tiny.stats.wordRuns > 3, `expected spills, got ${tiny.stats.wordRuns} runs`);
  ok(tiny.stats.countOrderRuns > 0, "expected the count-order sort to spill");
  strictEqual(big.stats.wordRuns, 0);
  const expected = oracle(text, "count");
  deepStrictEqual(asText(big.lines), expected);
  deepStrictEqual(asText(tiny.lines), expected);
  strictEqual(tiny.stats.tokens, big.stats.tokens);
});

Deno.test("WordCounter word order, top N and min count agree across budgets", async () => {
  const text = randomText(7, 3000, 3000);
  for (const budget of [64 * KIB, 32 * 1024 * KIB]) {
    const base = { budgetBytes: budget, segmentBytes: 4 * KIB, tokenizer: "whitespace" as const };
    const byWord = await count(text, { ...base, finish: { order: "word" } });
    deepStrictEqual(asText(byWord.lines), oracle(text, "word"));
    const top = await count(text, { ...base, finish: { order: "count", top: 25 } });
    deepStrictEqual(asText(top.lines), oracle(text, "count").slice(0, 25));
    const topByWord = await count(text, { ...base, finish: { order: "word", top: 25 } });
    deepStrictEqual(
      asText(topByWord.lines),
      asText(top.lines.slice().sort((a, b) => compareBytes(a[0], b[0]))),
    );
    const frequent = await count(text, { ...base, finish: { order: "count", minCount: 5 } });
    deepStrictEqual(
      asText(frequent.lines),
      oracle(text, "count").filter((line) => Number(line.split(" ")[1]) >= 5),
    );
  }
});

Deno.test("WordCounter random texts: tiny budgets equal the oracle", async () => {
  await checkAsyncProperty(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 2 ** 31 - 1 }),
      fc.integer({ min: 0, max: 800 }),
      fc.integer({ min: 1, max: 2000 }),
      fc.constantFrom("count", "word") as fc.Arbitrary<"count" | "word">,
      async (seed, lines, vocabulary, order) => {
        const text = randomText(seed, lines, vocabulary);
        const result = await count(text, {
          budgetBytes: 64 * KIB,
          segmentBytes: 4 * KIB,
          tokenizer: "whitespace",
          finish: { order },
          linesPerChunk: 7,
        });
        deepStrictEqual(asText(result.lines), oracle(text, order), `seed ${seed}, ${lines} lines`);
      },
    ),
    15,
  );
});

Deno.test("WordCounter edges: empty, no word, CRLF, NUL bytes, invalid UTF-8, segment border", async () => {
  const run = async (bytes: Uint8Array, tokenizer: TokenizerKind = "words") =>
    asText((await count(bytes, { budgetBytes: 64 * KIB, segmentBytes: 4 * KIB, tokenizer })).lines);
  deepStrictEqual(await run(new Uint8Array(0)), []);
  deepStrictEqual(await run(encoder.encode(" ,.;\n\n\t!\n")), []);
  deepStrictEqual(await run(encoder.encode("a\r\nb\r\na\r\n")), ["61 2", "62 1"]);
  deepStrictEqual(await run(new Uint8Array([0x61, 0, 0x61, 10]), "whitespace"), ["61.0.61 1"]);
  deepStrictEqual(await run(new Uint8Array([0x61, 0, 0x61, 10])), ["61 2"]);
  const invalid = await count(new Uint8Array([0x61, 0xff, 0x61, 0xc3, 10]), {
    budgetBytes: 64 * KIB,
    segmentBytes: 4 * KIB,
  });
  deepStrictEqual(asText(invalid.lines), ["61 2"]);
  strictEqual(invalid.stats.invalidUtf8Bytes, 2);
  // Records of exactly one page (4 KiB - 12 bytes of word) and one byte more (a long-word run).
  const fits = "x".repeat(4096 - 12);
  const tooLong = "y".repeat(4096 - 11);
  const border = await count(encoder.encode(`${fits}\n${tooLong}\n${fits} ${tooLong} z\n`), {
    budgetBytes: 128 * KIB,
    segmentBytes: 4 * KIB,
  });
  deepStrictEqual(border.lines.map(([word, n]) => [word.length, word[0], n]), [
    [4096 - 12, 0x78, 2],
    [4096 - 11, 0x79, 2],
    [1, 0x7a, 1],
  ]);
  strictEqual(border.stats.longWords, 2);
});

Deno.test("WordCounter counts a 5 MiB word", async () => {
  const word = new Uint8Array(5 * 1024 * KIB).fill(0x71);
  const text = new Uint8Array(word.length + 6);
  text.set(word);
  text.set(encoder.encode(" q\nq\n"), word.length);
  // One chunk per line: the line reader would hand the long line over alone, too.
  const result = await count(text, { budgetBytes: 64 * 1024 * KIB, segmentBytes: 32 * KIB });
  strictEqual(result.lines.length, 2);
  strictEqual(result.lines[0]![0].length, 1);
  strictEqual(result.lines[0]![1], 2);
  strictEqual(result.lines[1]![0].length, 5 * 1024 * KIB);
  strictEqual(result.lines[1]![1], 1);
});

Deno.test("WordCounter refuses a budget too small for a table and a spill writer", async () => {
  const memory = new MemoryManager({ budgetBytes: 13 * 4 * KIB, segmentBytes: 4 * KIB });
  const io = await IoManager.open({ memory, handleSignals: false });
  try {
    throws(
      () => new WordCounter(memory, io),
      (error: unknown) =>
        error instanceof ResourceError &&
        /Cannot count words in 13 free segments of 4096 bytes: need at least 14/.test(
          error.message,
        ),
    );
  } finally {
    await io.close();
  }
  memory.assertAllReleased();
});

Deno.test("WordCounter count order with a 64 KiB budget (regression: seed 1, 261 lines)", async () => {
  const text = randomText(1, 584, 896);
  const result = await count(text, {
    budgetBytes: 64 * KIB,
    segmentBytes: 4 * KIB,
    tokenizer: "whitespace",
    finish: { order: "count" },
    linesPerChunk: 7,
  });
  deepStrictEqual(asText(result.lines), oracle(text, "count"));
});

Deno.test("WordCounter cleans up after an I/O failure at any operation (fault injection)", async () => {
  const text = randomText(3, 1500, 2000);
  let failures = 0;
  for (let failAt = 1; failAt <= 60; failAt += 3) {
    const tmp = await Deno.makeTempDir({ prefix: "spillway-count-fault-" });
    const memory = new MemoryManager({ budgetBytes: 96 * KIB, segmentBytes: 4 * KIB });
    const io = await IoManager.open({
      memory,
      tmpDirs: [tmp],
      handleSignals: false,
      faultInjection: { failAtOperation: failAt, error: new Error(`injected at ${failAt}`) },
    });
    const counter = new WordCounter(memory, io, { tokenizer: "whitespace" });
    try {
      for (let start = 0; start < text.length;) {
        let end = text.indexOf(10, start + 2000);
        end = end < 0 ? text.length : end + 1;
        const pending = counter.addChunk(text.subarray(start, end));
        if (pending) await pending;
        start = end;
      }
      await counter.finish({ order: "count" }, () => undefined);
    } catch (error) {
      failures += 1;
      ok(/injected at/.test(String(error)), String(error));
    } finally {
      await counter.close();
      await io.close();
    }
    memory.assertAllReleased();
    deepStrictEqual([...Deno.readDirSync(tmp)], []);
    await Deno.remove(tmp, { recursive: true });
  }
  ok(failures > 5, `only ${failures} runs hit the injected failure`);
});

Deno.test("WordCounter merges or absorbs another counter's runs (the Worker split)", async () => {
  const text = randomText(9, 3000, 1500);
  const half = text.lastIndexOf(10, text.length >>> 1) + 1;
  for (const mainBudget of [64 * 1024 * KIB, 96 * KIB]) {
    const tmp = await Deno.makeTempDir({ prefix: "spillway-count-split-" });
    const otherMemory = new MemoryManager({ budgetBytes: 96 * KIB, segmentBytes: 4 * KIB });
    const otherIo = await IoManager.open({
      memory: otherMemory,
      tmpDirs: [tmp],
      handleSignals: false,
    });
    const memory = new MemoryManager({ budgetBytes: mainBudget, segmentBytes: 4 * KIB });
    const io = await IoManager.open({ memory, tmpDirs: [tmp], handleSignals: false });
    const other = new WordCounter(otherMemory, otherIo, { tokenizer: "whitespace" });
    const main = new WordCounter(memory, io, { tokenizer: "whitespace" });
    try {
      await other.addChunk(text.subarray(half));
      await main.addChunk(text.subarray(0, half));
      const runs = await other.finishToRuns();
      ok(runs.length >= 1);
      main.addForeignRuns(runs, other.stats);
      const lines: Array<[Uint8Array, number]> = [];
      await main.finish({ order: "count" }, (bytes, offset, length, n) => {
        lines.push([bytes.slice(offset, offset + length), n]);
        return undefined;
      });
      deepStrictEqual(asText(lines), oracle(text, "count"));
      strictEqual(
        main.stats.tokens,
        oracle(text, "count").reduce((sum, line) => sum + Number(line.split(" ")[1]), 0),
      );
    } finally {
      await main.close();
      await other.close();
      await io.close();
      await otherIo.close();
      await Deno.remove(tmp, { recursive: true });
    }
    memory.assertAllReleased();
    otherMemory.assertAllReleased();
  }
});

Deno.test("WordCounter reports progress in every merge phase (no frozen merge line)", async () => {
  // Many distinct words in a small budget: the table spills, runs merge in several passes
  // (fan-in 2), and the count order sorts through a second phase.
  let text = "";
  for (let i = 0; i < 40000; i += 1) text += `w${i % 15000} x${i % 7}\n`;
  const bytes = encoder.encode(text);
  // With `lines`, the kernels write tsv lines (count order: a second merge prints the words at
  // the lowest count).
  const runs = [["count", false], ["word", false], ["count", true], ["word", true]] as const;
  for (const [order, kernelLines] of runs) {
    const tmp = await Deno.makeTempDir({ prefix: "spillway-count-progress-" });
    const memory = new MemoryManager({ budgetBytes: 256 * KIB, segmentBytes: 4 * KIB });
    const io = await IoManager.open({ memory, tmpDirs: [tmp], handleSignals: false });
    const phases: Array<{ name: string; totalBytes: number | undefined; advanced: number }> = [];
    const progress = {
      phase(phase: { name: string; totalBytes?: number }) {
        phases.push({ name: phase.name, totalBytes: phase.totalBytes, advanced: 0 });
      },
      advance(byteCount: number) {
        ok(byteCount > 0);
        phases.at(-1)!.advanced += byteCount;
      },
      finish() {},
    };
    const counter = new WordCounter(memory, io, { tokenizer: "words", fanInMax: 2, progress });
    try {
      for (let at = 0; at < bytes.length;) {
        const end = bytes.indexOf(10, Math.min(bytes.length - 1, at + 8 * KIB)) + 1;
        const pending = counter.addChunk(bytes, at, end);
        if (pending) await pending;
        at = end;
      }
      let emitted = 0;
      const lines = {
        kernelFormat: 0,
        writeLines(bytes: Uint8Array, offset: number, length: number) {
          for (let i = offset; i < offset + length; i += 1) if (bytes[i] === 10) emitted += 1;
          return undefined;
        },
      };
      await counter.finish({ order, ...(kernelLines ? { lines } : {}) }, () => {
        emitted += 1;
        return undefined;
      });
      strictEqual(emitted, 15007);
      ok(counter.stats.intermediateMerges > 0, "several merge passes");
      ok(phases.some((phase) => phase.name === "merge"), JSON.stringify(phases));
      for (const phase of phases) {
        ok(phase.advanced > 0, `phase ${phase.name} moved: ${JSON.stringify(phases)}`);
        if (phase.totalBytes !== undefined) ok(phase.advanced <= phase.totalBytes);
      }
    } finally {
      await counter.close();
      await io.close();
      await Deno.remove(tmp, { recursive: true });
    }
    memory.assertAllReleased();
  }
});

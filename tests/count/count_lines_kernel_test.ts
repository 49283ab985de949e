import { deepStrictEqual, strictEqual } from "node:assert/strict";
import {
  type CountFinishOptions,
  type CountFormat,
  countFormats,
  CountFormatter,
  WordCounter,
} from "../../src/count/mod.ts";
import { IoManager } from "../../src/io/mod.ts";
import { MemoryManager } from "../../src/memory/mod.ts";

const MAX = Number.MAX_SAFE_INTEGER;

/** A word list: csv specials, long words (a line longer than a 4 KiB page), many digits. */
function pairs(seed: number): [Uint8Array, number][] {
  const enc = (text: string) => new TextEncoder().encode(text);
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>>= 0);
  };
  const out: [Uint8Array, number][] = [];
  for (let i = 0; i < 30_000; i += 1) {
    const r = next();
    const word = r % 7 === 0
      ? `w${r % 50}` // repeated across spills: summed
      : `${(r % 1_000_003).toString(36)}${["", ",", '"', "\r", "\n", "\t", "é"][r % 7]}${i}`;
    const count = r % 11 === 0 ? 1_000_000 + (r % 9_000_000) : r % 13 === 0 ? 2 : 1;
    out.push([enc(word), count]);
  }
  out.push([enc("big"), MAX - 10], [enc("big"), 10], [enc("huge"), 123_456_789_012_345]);
  out.push([new Uint8Array(2100).fill(0x22), 3]); // csv doubles it past the page
  out.push([new Uint8Array(2500).fill(0x61), 12_345_678]);
  out.push([new Uint8Array([0xff, 0xfe, 0x2c]), 4]);
  return out;
}

/**
 * Counts `input` on a small budget (it spills) and writes it in `format`, either through the
 * kernel's lines (`kernel`) or word by word; returns the output and the kernel's writes.
 */
async function output(
  input: [Uint8Array, number][],
  format: CountFormat,
  finish: CountFinishOptions,
  kernel: boolean,
  budget: { budgetBytes: number; fanInMax: number },
): Promise<
  {
    text: Uint8Array;
    kernelWrites: number;
    distinct: number;
    kernelMerges: number;
    jsWords: number;
  }
> {
  const tmp = await Deno.makeTempDir({ prefix: "spillway-lines-kernel-test-" });
  const memory = new MemoryManager({ budgetBytes: budget.budgetBytes, segmentBytes: 4096 });
  const io = await IoManager.open({ memory, tmpDirs: [tmp], handleSignals: false });
  const chunks: Uint8Array[] = [];
  let counter: WordCounter | undefined;
  try {
    counter = new WordCounter(memory, io, {
      tokenizer: "whitespace",
      spillKernel: "always",
      fanInMax: budget.fanInMax,
    });
    for (const [word, count] of input) {
      const pending = counter.addCounted(word, 0, word.length, count);
      if (pending) await pending;
    }
    strictEqual(counter.stats.wordRuns >= 3, true, "the test must spill");
    const formatter = new CountFormatter({
      write(bytes, offset, length) {
        chunks.push(bytes.slice(offset, offset + length));
        return undefined;
      },
    }, format);
    let kernelWrites = 0;
    let jsWords = 0;
    const lines = {
      kernelFormat: formatter.kernelFormat,
      writeLines(bytes: Uint8Array, offset: number, length: number) {
        kernelWrites += 1;
        return formatter.writeLines(bytes, offset, length);
      },
    };
    formatter.begin();
    await counter.finish(
      { ...finish, ...(kernel ? { lines } : {}) },
      (bytes, offset, length, count) => {
        jsWords += 1;
        return formatter.word(bytes, offset, length, count);
      },
    );
    formatter.end();
    const distinct = counter.stats.distinctWords;
    const kernelMerges = counter.kernelSumMerges;
    await counter.close();
    await io.close();
    memory.assertAllReleased();
    const text = new Uint8Array(chunks.reduce((sum, c) => sum + c.length, 0));
    let at = 0;
    for (const chunk of chunks) {
      text.set(chunk, at);
      at += chunk.length;
    }
    return { text, kernelWrites, distinct, kernelMerges, jsWords };
  } finally {
    await counter?.close();
    await io.close();
    await Deno.remove(tmp, { recursive: true });
  }
}

Deno.test("count lines from the formatter kernel equal the JS formatter's in every format", async () => {
  const input = pairs(11);
  for (const format of countFormats) {
    for (
      const finish of [
        { order: "word" },
        { order: "word", minCount: 2 },
        { order: "count" },
        { order: "count", minCount: 3 },
        { order: "word", top: 40 },
        { order: "count", top: 40 },
      ] as CountFinishOptions[]
    ) {
      for (
        const budget of [{ budgetBytes: 5 << 18, fanInMax: 128 }, {
          budgetBytes: 1 << 20,
          fanInMax: 4,
        }]
      ) {
        const kernel = await output(input, format, finish, true, budget);
        const js = await output(input, format, finish, false, budget);
        const label = `${format} ${JSON.stringify(finish)} ${JSON.stringify(budget)}`;
        strictEqual(js.kernelWrites, 0);
        deepStrictEqual(kernel.text, js.text, label);
        strictEqual(kernel.distinct, js.distinct, label);
        // The kernel writes tsv, uniq and csv after spills unless --top picks the words: in
        // word order every word, in count order those at the lowest count printed.
        const kernelFormat = format !== "json" && format !== "yaml" && finish.top === undefined;
        const covered = kernelFormat && (finish.order === "word" || finish.minCount === undefined);
        if (covered || !kernelFormat) {
          strictEqual(kernel.kernelWrites > 0, covered, `kernel writes ${label}`);
        }
      }
    }
  }
});

Deno.test("count order after spills merges the word runs once when no word is at the lowest count", async () => {
  // Every word counted at least twice: the first merge finds none at the floor (count 1), so
  // the second merge, which would print them, does not run. With words at the floor it does.
  const twice = pairs(5).map(([word, count]) =>
    [word, count === MAX - 10 ? count - 1 : count + 1] as [Uint8Array, number]
  );
  const budget = { budgetBytes: 5 << 18, fanInMax: 128 };
  for (const format of ["tsv", "uniq", "csv"] as const) {
    for (const [input, kernelMerges] of [[twice, 1], [pairs(5), 2]] as const) {
      const kernel = await output([...input], format, { order: "count" }, true, budget);
      const js = await output([...input], format, { order: "count" }, false, budget);
      deepStrictEqual(kernel.text, js.text, format);
      strictEqual(kernel.distinct, js.distinct, format);
      strictEqual(kernel.kernelMerges, kernelMerges, `${format}: kernel merges`);
    }
  }
});

Deno.test("count order after spills writes a count-order table that fits with the formatSorted kernel", async () => {
  // An eighth of the words counted once more: ~8k words above the floor, which fit the
  // count-order table (no count-order run); the kernels sort it and write its lines, so no
  // word goes through the JS formatter.
  const base = pairs(5);
  const input = base.concat(base.filter(([, count], i) => i % 8 === 0 && count < 1000));
  const budget = { budgetBytes: 5 << 18, fanInMax: 128 };
  for (const format of ["tsv", "uniq", "csv"] as const) {
    const kernel = await output(input, format, { order: "count" }, true, budget);
    const js = await output(input, format, { order: "count" }, false, budget);
    deepStrictEqual(kernel.text, js.text, format);
    strictEqual(kernel.distinct, js.distinct, format);
    strictEqual(kernel.jsWords, 0, `${format}: words through the JS formatter`);
    strictEqual(js.jsWords, js.distinct);
  }
});

import { deepStrictEqual, match, rejects, strictEqual } from "node:assert/strict";
import fc from "fast-check";
import { type CountFinishOptions, WordCounter } from "../../src/count/mod.ts";
import { IoManager } from "../../src/io/mod.ts";
import { MemoryManager } from "../../src/memory/mod.ts";
import { checkAsyncProperty } from "../_support/property.ts";

interface SumRun {
  budgetBytes: number;
  segmentBytes: number;
  fanInMax: number;
  /** Sum runs with the merge kernel (true) or the JS loser tree (false, the reference). */
  mergeKernel: boolean;
  finish: CountFinishOptions;
}

/** Counts whitespace tokens of `text` in chunks of 500 lines; "word count" lines in order. */
async function count(text: string, run: SumRun) {
  const tmp = await Deno.makeTempDir({ prefix: "spillway-sum-merge-test-" });
  const memory = new MemoryManager({
    budgetBytes: run.budgetBytes,
    segmentBytes: run.segmentBytes,
  });
  const io = await IoManager.open({ memory, tmpDirs: [tmp], handleSignals: false });
  const lines: string[] = [];
  let counter: WordCounter | undefined;
  try {
    counter = new WordCounter(memory, io, {
      tokenizer: "whitespace",
      mergeKernel: run.mergeKernel,
      fanInMax: run.fanInMax,
      // Small tables sort and spill in JS by default; the kernel-sorted table joins the merge.
      spillKernel: "always",
    });
    const bytes = new TextEncoder().encode(text);
    let start = 0;
    let seen = 0;
    for (let i = 0; i <= bytes.length; i += 1) {
      if (i < bytes.length && (bytes[i] !== 10 || ++seen % 500 !== 0)) continue;
      const pending = counter.addChunk(bytes, start, Math.min(i + 1, bytes.length));
      if (pending) await pending;
      start = i + 1;
    }
    const decoder = new TextDecoder();
    await counter.finish(run.finish, (b, offset, length, n) => {
      lines.push(`${decoder.decode(b.subarray(offset, offset + length))} ${n}`);
      return undefined;
    });
    const kernelMerges = counter.kernelSumMerges;
    const runs = counter.stats.wordRuns;
    await counter.close();
    await io.close();
    memory.assertAllReleased();
    return { lines, kernelMerges, runs };
  } finally {
    await counter?.close();
    await io.close();
    await Deno.remove(tmp, { recursive: true });
  }
}

/** The oracle: count descending then word bytes (or word order), top N, min count. */
function oracle(text: string, finish: CountFinishOptions): string[] {
  const counts = new Map<string, number>();
  for (const word of text.split(/[ \t\n\v\f\r]+/)) {
    if (word !== "") counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  const byBytes = (a: string, b: string) => {
    const x = new TextEncoder().encode(a);
    const y = new TextEncoder().encode(b);
    for (let i = 0; i < Math.min(x.length, y.length); i += 1) {
      if (x[i] !== y[i]) return x[i]! - y[i]!;
    }
    return x.length - y.length;
  };
  let entries = [...counts].filter(([, n]) => n >= (finish.minCount ?? 1));
  entries.sort((a, b) => b[1] - a[1] || byBytes(a[0], b[0]));
  if (finish.top !== undefined) entries = entries.slice(0, finish.top);
  if (finish.order === "word") entries.sort((a, b) => byBytes(a[0], b[0]));
  return entries.map(([w, n]) => `${w} ${n}`);
}

/** Many distinct words (so the table spills) with some repeated across chunks. */
function highCardinalityText(seed: number, words: number): string {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  const out: string[] = [];
  for (let i = 0; i < words; i += 1) {
    const r = next();
    const word = r % 5 === 0 ? `w${r % 97}` : `${(r % 1_000_003).toString(36)}x${i % 13}`;
    out.push(i % 9 === 8 ? `${word}\n` : `${word} `);
  }
  return out.join("");
}

Deno.test("WordCounter sums spilled runs on the merge kernel like the JS merge", async () => {
  const text = highCardinalityText(7, 20_000);
  for (const order of ["word", "count"] as const) {
    for (const fanInMax of [128, 3]) {
      const base = { budgetBytes: 1 << 20, segmentBytes: 4096, fanInMax, finish: { order } };
      const kernel = await count(text, { ...base, mergeKernel: true });
      const js = await count(text, { ...base, mergeKernel: false });
      strictEqual(kernel.runs >= 3, true, `only ${kernel.runs} runs: the test must spill`);
      strictEqual(kernel.kernelMerges > 0, true, "the merge kernel did not run");
      strictEqual(js.kernelMerges, 0);
      deepStrictEqual(kernel.lines, js.lines);
      deepStrictEqual(kernel.lines, oracle(text, { order }));
    }
  }
});

Deno.test("WordCounter's kernel sum keeps long words on the JS merge and equals it", async () => {
  const long = "L".repeat(5000); // longer than a 4 KiB page: a run of its own
  const text = `${highCardinalityText(3, 8000)}\n${long} a ${long}\n${long}x\n`;
  for (const order of ["word", "count"] as const) {
    const base = { budgetBytes: 1 << 20, segmentBytes: 4096, fanInMax: 128, finish: { order } };
    const kernel = await count(text, { ...base, mergeKernel: true });
    const js = await count(text, { ...base, mergeKernel: false });
    deepStrictEqual(kernel.lines, js.lines);
    deepStrictEqual(kernel.lines, oracle(text, { order }));
  }
});

Deno.test("WordCounter's kernel sum equals the oracle on random texts, budgets and options", async () => {
  await checkAsyncProperty(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 0x7fff_ffff }),
      fc.integer({ min: 500, max: 12_000 }),
      fc.constantFrom(256 * 1024, 512 * 1024, 1 << 20),
      fc.constantFrom(2, 4, 128),
      fc.constantFrom("word", "count"),
      fc.option(fc.integer({ min: 1, max: 50 }), { nil: undefined }),
      fc.integer({ min: 1, max: 3 }),
      async (seed, words, budgetBytes, fanInMax, order, top, minCount) => {
        const text = highCardinalityText(seed, words);
        const finish: CountFinishOptions = top === undefined
          ? { order, minCount }
          : { order, minCount, top };
        const kernel = await count(text, {
          budgetBytes,
          segmentBytes: 4096,
          fanInMax,
          mergeKernel: true,
          finish,
        });
        deepStrictEqual(kernel.lines, oracle(text, finish));
      },
    ),
    12,
  );
});

Deno.test("WordCounter's kernel sum is exact to 2^53 - 1 and an InputError past it", async () => {
  const max = Number.MAX_SAFE_INTEGER;
  for (const [first, expected] of [[max - 1, "ok"], [max, "error"]] as const) {
    for (const order of ["word", "count"] as const) {
      const tmp = await Deno.makeTempDir({ prefix: "spillway-sum-merge-test-" });
      const memory = new MemoryManager({ budgetBytes: 1 << 20, segmentBytes: 4096 });
      const io = await IoManager.open({ memory, tmpDirs: [tmp], handleSignals: false });
      const counter = new WordCounter(memory, io, { spillKernel: "always" });
      try {
        const word = new TextEncoder().encode("a");
        await counter.addCounted(word, 0, 1, first);
        // Enough other words that the table spills between the two counts of "a".
        const filler = new TextEncoder().encode(highCardinalityText(5, 20_000));
        await counter.addChunk(filler);
        await counter.addCounted(word, 0, 1, 1);
        strictEqual(counter.runCount >= 2, true, "the two counts must be in different runs");
        const totals = new Map<string, number>();
        const finishing = counter.finish({ order }, (bytes, offset, length, n) => {
          totals.set(new TextDecoder().decode(bytes.subarray(offset, offset + length)), n);
          return undefined;
        });
        if (expected === "ok") {
          await finishing;
          strictEqual(totals.get("a"), max);
          strictEqual(counter.kernelSumMerges > 0, true);
        } else {
          await rejects(finishing, (error: Error) => {
            strictEqual(error.name, "InputError");
            match(
              error.message,
              /^Cannot sum the counts of one word: 9007199254740991 \+ 1 passes/,
            );
            return true;
          });
        }
      } finally {
        await counter.close();
        await io.close();
        memory.assertAllReleased();
        await Deno.remove(tmp, { recursive: true });
      }
    }
  }
});

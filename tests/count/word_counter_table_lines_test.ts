import { deepStrictEqual, strictEqual } from "node:assert/strict";
import fc from "fast-check";
import {
  type CountFinishOptions,
  type CountFormat,
  countFormats,
  CountFormatter,
  WordCounter,
} from "../../src/count/mod.ts";
import { IoManager } from "../../src/io/mod.ts";
import { MemoryManager } from "../../src/memory/mod.ts";
import { checkAsyncProperty } from "../_support/property.ts";

/**
 * Counts `input` where it all fits one table (no spill) and writes it in `format`, through the
 * kernel's lines (`kernel`) or word by word; the output, the kernel's writes and the counters.
 */
async function output(
  input: [Uint8Array, number][],
  format: CountFormat,
  finish: CountFinishOptions,
  kernel: boolean,
): Promise<{ text: string; kernelWrites: number; distinct: number }> {
  const tmp = await Deno.makeTempDir({ prefix: "spillway-table-lines-test-" });
  const memory = new MemoryManager({ budgetBytes: 8 << 20, segmentBytes: 4096 });
  const io = await IoManager.open({ memory, tmpDirs: [tmp], handleSignals: false });
  let text = "";
  const decoder = new TextDecoder("latin1");
  let counter: WordCounter | undefined;
  try {
    counter = new WordCounter(memory, io, { tokenizer: "whitespace", spillKernel: "always" });
    for (const [word, count] of input) {
      const pending = counter.addCounted(word, 0, word.length, count);
      if (pending) await pending;
    }
    const formatter = new CountFormatter({
      write(bytes, offset, length) {
        text += decoder.decode(bytes.subarray(offset, offset + length));
        return undefined;
      },
    }, format);
    let kernelWrites = 0;
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
      (bytes, offset, length, count) => formatter.word(bytes, offset, length, count),
    );
    formatter.end();
    strictEqual(counter.stats.wordRuns, 0, "the test must not spill");
    const distinct = counter.stats.distinctWords;
    await counter.close();
    await io.close();
    memory.assertAllReleased();
    return { text, kernelWrites, distinct };
  } finally {
    await counter?.close();
    await io.close();
    await Deno.remove(tmp, { recursive: true });
  }
}

/** Distinct words enough for the kernels' sort (4096 and more), csv specials, long words. */
function words(seed: number, distinct: number): [Uint8Array, number][] {
  const enc = (text: string) => new TextEncoder().encode(text);
  const out: [Uint8Array, number][] = [];
  for (let i = 0; i < distinct; i += 1) {
    const r = Math.imul(i + seed, 0x9e37_79b1) >>> 0;
    const word = `${(r % 100_003).toString(36)}${["", ",", '"', "\r", "é"][r % 5]}${i}`;
    out.push([enc(word), r % 11 === 0 ? 1_000 + (r % 70_000) : 1 + (r % 4)]);
  }
  out.push([new Uint8Array(4000).fill(0x22), 7], [enc("big"), 2 ** 53 - 1]);
  return out;
}

const FINISHES: CountFinishOptions[] = [
  { order: "count" },
  { order: "word" },
  { order: "count", minCount: 3 },
  { order: "word", minCount: 2 },
];

Deno.test("a table that fits writes its lines with the formatSorted kernel, equal to the JS formatter's", async () => {
  const input = words(7, 6000);
  for (const format of countFormats) {
    for (const finish of FINISHES) {
      const label = `${format} ${JSON.stringify(finish)}`;
      const kernel = await output(input, format, finish, true);
      const js = await output(input, format, finish, false);
      strictEqual(js.kernelWrites, 0);
      strictEqual(kernel.text, js.text, label);
      strictEqual(kernel.distinct, js.distinct, label);
      const kernelFormat = format === "tsv" || format === "uniq" || format === "csv";
      strictEqual(kernel.kernelWrites > 0, kernelFormat, `kernel writes ${label}`);
    }
  }
});

Deno.test("a table that fits counts like a reference counter in TypeScript (random words)", async () => {
  const word = fc.uint8Array({ minLength: 1, maxLength: 9 }).filter((w) =>
    w.every((b) => b !== 0x20 && (b < 0x09 || b > 0x0d))
  );
  await checkAsyncProperty(
    fc.asyncProperty(
      fc.array(fc.tuple(word, fc.integer({ min: 1, max: 300 })), { maxLength: 60 }),
      fc.integer({ min: 4096, max: 4400 }),
      fc.constantFrom<CountFormat>("tsv", "uniq", "csv"),
      fc.constantFrom(...FINISHES),
      async (extra, distinct, format, finish) => {
        const input = [...words(distinct, distinct), ...extra];
        const reference = new Map<string, [Uint8Array, number]>();
        for (const [w, count] of input) {
          const key = [...w].join(",");
          reference.set(key, [w, (reference.get(key)?.[1] ?? 0) + count]);
        }
        const compare = (a: Uint8Array, b: Uint8Array) => {
          for (let i = 0; i < Math.min(a.length, b.length); i += 1) {
            if (a[i] !== b[i]) return a[i]! - b[i]!;
          }
          return a.length - b.length;
        };
        const sorted = [...reference.values()]
          .filter(([, count]) => count >= (finish.minCount ?? 1))
          .sort(([wa, ca], [wb, cb]) =>
            finish.order === "count" && ca !== cb ? cb - ca : compare(wa, wb)
          );
        let expected = "";
        const formatter = new CountFormatter({
          write(bytes, offset, length) {
            expected += new TextDecoder("latin1").decode(bytes.subarray(offset, offset + length));
            return undefined;
          },
        }, format);
        formatter.begin();
        for (const [w, count] of sorted) formatter.word(w, 0, w.length, count);
        formatter.end();
        const kernel = await output(input, format, finish, true);
        deepStrictEqual(kernel.text, expected);
        strictEqual(kernel.distinct, sorted.length);
      },
    ),
    10,
  );
});

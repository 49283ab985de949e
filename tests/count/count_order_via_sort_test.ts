import { deepStrictEqual, rejects, strictEqual } from "node:assert/strict";
import { countOrderViaSort } from "../../src/count/count_order_via_sort.ts";
import type { SortRouteRequest } from "../../src/count/count_via_sort.ts";
import { IoManager } from "../../src/io/mod.ts";
import { MemoryManager } from "../../src/memory/mod.ts";
import { makeRandom, makeWorkDir } from "../sort/_gnu.ts";

const SPACE = new Set([0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]);
const FORMATS = ["tsv", "uniq", "csv"] as const;
type Format = (typeof FORMATS)[number];

/**
 * Whitespace-separated text: nearly unique random tokens, words of a small vocabulary (many
 * repeats), and with `repeatShare` a share of the random tokens written twice or three times (so
 * that many words are above the lowest count: the keyed lines' sort spills too).
 */
function randomText(random: () => number, words: number, repeatShare: number): Uint8Array {
  const out: number[] = [];
  const vocabulary = ["a", "b", "ab", "b,a", 'q"t', "zz", "\u00e9t\u00e9", "\x01"];
  for (let i = 0; i < words; i += 1) {
    let token: number[];
    if (random() < 0.2) {
      token = [...new TextEncoder().encode(vocabulary[Math.floor(random() * vocabulary.length)])];
    } else {
      const length = 1 + Math.floor(random() * 30);
      token = Array.from({ length }, () => 0x21 + Math.floor(random() * 0x5e));
    }
    const copies = random() < repeatShare ? 2 + Math.floor(random() * 2) : 1;
    for (let c = 0; c < copies; c += 1) {
      out.push(...token);
      const gap = random();
      out.push(gap < 0.6 ? 0x20 : gap < 0.8 ? 0x0a : gap < 0.9 ? 0x09 : 0x0d);
    }
  }
  return Uint8Array.from(out);
}

/** `tr -s` | `sort | uniq -c | sort -k1,1nr -k2`, from `minCount` up, in a count format. */
function oracle(input: Uint8Array, format: Format, minCount: number): Uint8Array {
  const counts = new Map<string, number>();
  let token = "";
  for (const byte of [...input, 0x20]) {
    if (SPACE.has(byte)) {
      if (token !== "") counts.set(token, (counts.get(token) ?? 0) + 1);
      token = "";
    } else {
      token += String.fromCharCode(byte); // latin1: code unit order = byte order
    }
  }
  const rows = [...counts].filter(([, count]) => count >= minCount).sort((a, b) =>
    b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)
  );
  let out = format === "csv" ? "word,count\n" : "";
  for (const [word, count] of rows) {
    if (format === "tsv") out += `${word}\t${count}\n`;
    else if (format === "uniq") out += `${String(count).padStart(7)} ${word}\n`;
    else {out += /[,"]/.test(word)
        ? `"${word.replaceAll('"', '""')}",${count}\n`
        : `${word},${count}\n`;}
  }
  return Uint8Array.from(out, (c) => c.charCodeAt(0));
}

function request(input: string, output: string, format: Format, minCount: number) {
  return {
    inputs: [input],
    output,
    tokenizer: "whitespace",
    caseMode: "preserve",
    order: "count",
    top: undefined,
    minCount,
    distinct: false,
    total: false,
    format,
    threadsAuto: true,
    fanInMax: 128,
  } satisfies SortRouteRequest;
}

async function countOrder(
  input: Uint8Array,
  options: { format: Format; minCount: number; budgetBytes: number; output?: string },
) {
  const work = await makeWorkDir();
  const memory = new MemoryManager({ budgetBytes: options.budgetBytes, segmentBytes: 4096 });
  const io = await IoManager.open({ memory, tmpDirs: [work.spill], handleSignals: false });
  try {
    await Deno.writeFile(work.path("in"), input);
    const output = options.output ?? work.path("out");
    const format = FORMATS.indexOf(options.format);
    const stats = await countOrderViaSort(
      request(work.path("in"), output, options.format, options.minCount),
      { memory, io },
      format,
    );
    strictEqual(io.liveFiles.length, 0, `temp files left: ${io.liveFiles}`);
    return { stats, output: await Deno.readFile(output) };
  } finally {
    await io.close();
    memory.assertAllReleased();
    deepStrictEqual(work.spillLeftovers(), [], "spill files left behind");
    await work.remove();
  }
}

Deno.test("countOrderViaSort equals sort | uniq -c | sort -k1,1nr -k2 over seeds, formats, --min-count", async () => {
  for (let seed = 1; seed <= 6; seed += 1) {
    const random = makeRandom(seed);
    // Seeds 1-2: nearly unique; 3-4: a third of the words repeat; 5-6: no word repeats.
    const repeatShare = seed <= 2 ? 0.03 : seed <= 4 ? 0.35 : 0;
    const words = (seed === 4 ? 60000 : 3000) + Math.floor(random() * 5000);
    const input = seed >= 5
      ? new TextEncoder().encode(Array.from({ length: words }, (_, i) => `w${i} `).join(""))
      : randomText(random, words, repeatShare);
    for (const format of FORMATS) {
      for (const minCount of [1, 2, 3]) {
        const { stats, output } = await countOrder(input, {
          format,
          minCount,
          budgetBytes: seed % 2 === 0 ? 1 << 20 : 4 << 20,
        });
        strictEqual(
          Buffer.compare(output, oracle(input, format, minCount)),
          0,
          `seed ${seed} ${format} --min-count ${minCount}: ` +
            new TextDecoder().decode(output.subarray(0, 300)),
        );
        if (seed === 4 && minCount === 1) {
          // Both sorts spill in 1 MiB (half of it: the route's share).
          strictEqual(stats.wordRuns > 1, true, `runs ${stats.wordRuns}`);
          strictEqual(stats.countOrderRuns > 1, true, `count-order runs ${stats.countOrderRuns}`);
        }
      }
    }
  }
});

Deno.test("countOrderViaSort removes its temp files when the output cannot be written", async () => {
  const input = randomText(makeRandom(7), 3000, 0.1);
  await rejects(
    countOrder(input, {
      format: "tsv",
      minCount: 1,
      budgetBytes: 384 * 1024,
      output: "/nonexistent-dir/out",
    }),
    /Cannot create output/,
  );
});

Deno.test("countOrderViaSort writes tokens longer than its output pages (counted twice: keyed lines from the carry; once: below --min-count 2, not at all)", async () => {
  const random = makeRandom(11);
  const long = (length: number, first: number) =>
    Array.from({ length }, (_, i) => i === 0 ? first : 0x21 + Math.floor(random() * 0x5e));
  // Pages of 4 KiB: tokens of a page and more, some with csv's quotes and commas.
  const twice = [long(9000, 0x41), long(4096, 0x42), long(20000, 0x22), long(5000, 0x2c)];
  const once = [long(7000, 0x43), long(4500, 0x61)];
  const text = [...randomText(random, 4000, 0.2)];
  for (const token of [...twice, ...once, ...twice]) {
    text.splice(Math.floor(random() * text.length), 0, 0x20, ...token, 0x0a);
  }
  const input = Uint8Array.from(text);
  for (const format of FORMATS) {
    for (const minCount of [1, 2]) {
      const { stats, output } = await countOrder(input, { format, minCount, budgetBytes: 4 << 20 });
      const expected = oracle(input, format, minCount);
      strictEqual(Buffer.compare(output, expected), 0, `${format} --min-count ${minCount}`);
      const lines = expected.filter((byte) => byte === 0x0a).length;
      strictEqual(stats.distinctWords, lines - (format === "csv" ? 1 : 0), "distinct words");
    }
  }
});

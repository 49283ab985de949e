import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { Buffer } from "node:buffer";
import { TokenCounting } from "../../src/count/count_via_sort.ts";
import { IoManager } from "../../src/io/mod.ts";
import { MemoryManager } from "../../src/memory/mod.ts";
import { externalSort } from "../../src/sort/external_sort.ts";
import { BytesOrder } from "../../src/sort/record_order.ts";
import { makeRandom, makeWorkDir } from "../sort/_gnu.ts";

const SPACE = new Set([0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]);
const FORMATS = ["tsv", "uniq", "csv"] as const;

/** Text of words from a small vocabulary (repeats) and random ones (nearly unique). */
function randomText(random: () => number, words: number, longTokens: boolean): Uint8Array {
  const out: number[] = [];
  const vocabulary = ["a", "b", "ab", "b,a", 'q"t', "zz", "\u00e9t\u00e9"];
  for (let i = 0; i < words; i += 1) {
    if (longTokens && random() < 0.003) {
      // Tokens longer than a page (4 KiB): spilled alone, carried and staged whole.
      const long = random() < 0.5 ? 0x61 : 0x62;
      out.push(...new Array(5000 + (long - 0x61) * 4000).fill(long));
    } else if (random() < 0.4) {
      out.push(...new TextEncoder().encode(vocabulary[Math.floor(random() * vocabulary.length)]));
    } else {
      const length = 1 + Math.floor(random() * 30);
      for (let j = 0; j < length; j += 1) out.push(0x21 + Math.floor(random() * 0x5e));
    }
    const gap = random();
    out.push(gap < 0.6 ? 0x20 : gap < 0.8 ? 0x0a : gap < 0.9 ? 0x09 : 0x0d);
    if (random() < 0.1) out.push(0x20, 0x20);
  }
  return Uint8Array.from(out);
}

/** `tr -s` over ASCII whitespace | `LC_ALL=C sort | uniq -c`, in a count format. */
function oracle(input: Uint8Array, format: (typeof FORMATS)[number]): Uint8Array {
  const tokens: string[] = [];
  let token = "";
  for (const byte of input) {
    if (SPACE.has(byte)) {
      if (token !== "") tokens.push(token);
      token = "";
    } else {
      token += String.fromCharCode(byte); // latin1: code unit order = byte order
    }
  }
  if (token !== "") tokens.push(token);
  tokens.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let out = "";
  for (let i = 0; i < tokens.length;) {
    let j = i + 1;
    while (j < tokens.length && tokens[j] === tokens[i]) j += 1;
    const word = tokens[i]!;
    const count = j - i;
    if (format === "tsv") out += `${word}\t${count}\n`;
    else if (format === "uniq") out += `${String(count).padStart(7)} ${word}\n`;
    else {out += /[,"]/.test(word)
        ? `"${word.replaceAll('"', '""')}",${count}\n`
        : `${word},${count}\n`;}
    i = j;
  }
  return Uint8Array.from(out, (c) => c.charCodeAt(0));
}

async function countThroughSort(
  input: Uint8Array,
  options: { format: number; budgetBytes: number; fanInMax: number; useWorker: boolean },
) {
  const work = await makeWorkDir();
  const memory = new MemoryManager({ budgetBytes: options.budgetBytes, segmentBytes: 4096 });
  const io = await IoManager.open({ memory, tmpDirs: [work.spill], handleSignals: false });
  try {
    await Deno.writeFile(work.path("in"), input);
    const filter = new TokenCounting(memory, options.format, false);
    const stats = await externalSort([work.path("in")], work.path("out"), {
      memory,
      io,
      order: new BytesOrder(),
      orderDescriptor: { kind: "bytes", reverse: false },
      fanInMax: options.fanInMax,
      useWorker: options.useWorker,
      parallelMergeBytesMin: 0,
      filter,
    });
    return {
      stats,
      output: await Deno.readFile(work.path("out")),
      distinct: filter.linesWritten,
    };
  } finally {
    await io.close();
    memory.assertAllReleased();
    deepStrictEqual(work.spillLeftovers(), [], "spill files left behind");
    await work.remove();
  }
}

Deno.test("externalSort with count's TokenCounting filter equals tr -s | sort | uniq -c over seeds, spilling, every format", async () => {
  for (let seed = 1; seed <= 6; seed += 1) {
    const random = makeRandom(seed);
    const small = seed % 2 === 0;
    // Tokens longer than a page with the larger budget (each is a run of its own there).
    const input = randomText(random, 2000 + Math.floor(random() * 6000), !small);
    for (const [index, format] of FORMATS.entries()) {
      const { stats, output, distinct } = await countThroughSort(input, {
        format: index,
        budgetBytes: small ? 96 * 1024 : 4 << 20,
        fanInMax: seed % 3 === 0 ? 2 : 128,
        useWorker: seed % 4 !== 1,
      });
      strictEqual(
        Buffer.compare(output, oracle(input, format)),
        0,
        `seed ${seed} ${format}: ${new TextDecoder().decode(output.subarray(0, 200))}`,
      );
      if (small) strictEqual(stats.runCount > 1, true, `seed ${seed}: runs ${stats.runCount}`);
      strictEqual(distinct, output.filter((byte) => byte === 10).length, "lines written");
    }
  }
});

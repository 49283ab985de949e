import { ok, rejects, strictEqual } from "node:assert/strict";
import { Buffer } from "node:buffer";
import { countViaSort, SortRouteTooSmall } from "../../src/count/count_via_sort.ts";
import type { CountFormat } from "../../src/count/mod.ts";
import { FormatCountsFormat } from "../../src/kernels/mod.ts";
import { IoManager } from "../../src/io/mod.ts";
import { MemoryManager } from "../../src/memory/mod.ts";

const KERNEL_FORMATS = {
  tsv: FormatCountsFormat.tsv,
  uniq: FormatCountsFormat.uniq,
  csv: FormatCountsFormat.csv,
} as const;

/** `tr -s ' \t\n\v\f\r' '\n' | LC_ALL=C sort | uniq -c` in `format`, in memory. */
function oracle(input: Uint8Array, format: "tsv" | "uniq" | "csv"): Buffer {
  const tokens = Buffer.from(input).toString("latin1").split(/[ \t\n\v\f\r]+/).filter((t) =>
    t.length > 0
  );
  tokens.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)); // latin1: code units are the bytes
  const lines: string[] = format === "csv" ? ["word,count\n"] : [];
  for (let i = 0; i < tokens.length;) {
    let j = i + 1;
    while (j < tokens.length && tokens[j] === tokens[i]) j += 1;
    const word = tokens[i]!;
    const count = String(j - i);
    if (format === "tsv") lines.push(`${word}\t${count}\n`);
    else if (format === "uniq") lines.push(`${count.padStart(7)} ${word}\n`);
    else if (/[,"\r\n]/.test(word)) lines.push(`"${word.replaceAll('"', '""')}",${count}\n`);
    else lines.push(`${word},${count}\n`);
    i = j;
  }
  return Buffer.from(lines.join(""), "latin1");
}

/** Counts `input` through the sort route in `budgetBytes`; the output and the counters. */
async function route(
  input: Uint8Array,
  format: "tsv" | "uniq" | "csv",
  budgetBytes: number,
  read: { bytes: number } = { bytes: 0 },
): Promise<{ output: Buffer; tokens: number; distinct: number; runs: number }> {
  const dir = await Deno.makeTempDir({ prefix: "spillway-count-via-sort-test-" });
  const memory = new MemoryManager({ budgetBytes, segmentBytes: 32 * 1024 });
  try {
    await Deno.writeFile(`${dir}/in.txt`, input);
    const io = await IoManager.open({ memory, tmpDirs: [dir], handleSignals: false });
    try {
      const stats = await countViaSort(
        {
          inputs: [`${dir}/in.txt`],
          output: `${dir}/out.txt`,
          tokenizer: "whitespace",
          caseMode: "preserve",
          order: "word",
          top: undefined,
          minCount: 1,
          distinct: false,
          total: false,
          format: format as CountFormat,
          threadsAuto: true,
          fanInMax: 128,
        },
        {
          memory,
          io,
          progress: {
            phase() {},
            advance(byteCount) {
              read.bytes += byteCount;
            },
            finish() {},
          },
        },
        KERNEL_FORMATS[format],
      );
      return {
        output: Buffer.from(await Deno.readFile(`${dir}/out.txt`)),
        tokens: stats.tokens,
        distinct: stats.distinctWords,
        runs: stats.wordRuns,
      };
    } finally {
      await io.close();
      memory.assertAllReleased();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** About `bytes` of nearly unique tokens, some repeated, separated by mixed whitespace. */
function uniqueTokens(bytes: number, seed: number): string {
  const parts: string[] = [];
  let length = 0;
  for (let i = 0; length < bytes; i += 1) {
    const mixed = Math.imul(i + seed, 2654435761) >>> 0;
    const word = mixed % 17 === 0 ? ["a", 'q"', "b,c", "zz"][i % 4]! : mixed.toString(36) + i;
    const gap = i % 11 === 0 ? "\n" : i % 7 === 0 ? " \t " : " ";
    parts.push(word + gap);
    length += word.length + gap.length;
  }
  return parts.join("");
}

function expectSame(got: Buffer, want: Buffer, label: string): void {
  if (Buffer.compare(got, want) !== 0) {
    let at = 0;
    while (at < got.length && at < want.length && got[at] === want[at]) at += 1;
    ok(
      false,
      `${label}: outputs differ at byte ${at} of ${got.length} / ${want.length}: ` +
        JSON.stringify(got.subarray(at, at + 40).toString("latin1")) + " vs " +
        JSON.stringify(want.subarray(at, at + 40).toString("latin1")),
    );
  }
}

Deno.test("countViaSort counts tokens longer than its output page, written from the carry, equal to the pipeline", async () => {
  // -S 8m: the route sorts in 4 MiB. Tokens of 400 KiB and 500 KiB (twice, with quotes for
  // csv) need a carry and a stage each: 1 + 2 x 16 pages. The area of four copies of the
  // longest line (1 + 4 x 16 pages, 2 MiB) left the merge no room: the route gave up.
  const long1 = "L".repeat(400 * 1024);
  const long2 = 'M"q,'.repeat(500 * 256);
  const text = uniqueTokens(2 << 20, 1) + ` ${long1} ${long2}\n${long2} ` +
    uniqueTokens(1 << 20, 9);
  const input = Buffer.from(text, "latin1");
  for (const format of ["tsv", "uniq", "csv"] as const) {
    const got = await route(input, format, 8 << 20);
    expectSame(got.output, oracle(input, format), format);
    ok(got.runs > 1, `${format}: it spilled (${got.runs} runs)`);
  }
});

Deno.test("countViaSort carries on through a line of many tokens longer than a read chunk", async () => {
  // 3 MiB of tokens on one line (no LF) at -S 8m: the reader used to assemble the whole line
  // in one buffer of its length, which the route's 4 MiB could not hold beside its sort
  // buffers. It now cuts chunks at any whitespace.
  const oneLine = uniqueTokens(3 << 20, 3).replaceAll("\n", " ");
  const input = Buffer.from(`${oneLine}\n${uniqueTokens(1 << 20, 5)}last`, "latin1");
  const got = await route(input, "tsv", 8 << 20);
  expectSame(got.output, oracle(input, "tsv"), "tsv");
  const tokens = input.toString("latin1").split(/[ \t\n\v\f\r]+/).filter((t) => t.length > 0);
  strictEqual(got.tokens, tokens.length, "tokens counted");
  strictEqual(got.distinct, new Set(tokens).size, "distinct words");
});

Deno.test("countViaSort gives up (SortRouteTooSmall) on a token too long for its share, never with another error", async () => {
  // Tokens of 1.5-3.5 MiB at -S 32m (the route sorts in 16 MiB): each either counts or asks the
  // caller to count on the table's path (nothing was written: the output never opened). One of
  // them used to fit the counted output's area but leave the merge short of pages: a plain
  // ResourceError, exit 3, where the table's path counts it.
  for (const kib of [1500, 2500, 3000, 3500]) {
    const input = Buffer.from(
      uniqueTokens(1 << 20, kib) + "x".repeat(kib * 1024) + "\nzz\n",
      "latin1",
    );
    try {
      const got = await route(input, "uniq", 32 << 20);
      expectSame(got.output, oracle(input, "uniq"), `${kib} KiB`);
    } catch (error) {
      ok(error instanceof SortRouteTooSmall, `${kib} KiB: ${error}`);
    }
  }
});

Deno.test("countViaSort gives up at a token too long for it, not after the rest of the input", async () => {
  // At -S 8m (the route sorts in 4 MiB) a token of 700 KiB cannot be counted beside the final
  // merge: the route says so when it meets the token, and reads no further.
  const input = Buffer.from(
    uniqueTokens(256 << 10, 2) + "y".repeat(700 << 10) + "\n" + uniqueTokens(6 << 20, 4),
    "latin1",
  );
  const read = { bytes: 0 };
  await rejects(route(input, "tsv", 8 << 20, read), SortRouteTooSmall);
  ok(read.bytes < 4 << 20, `read ${read.bytes} of ${input.length} bytes before giving up`);
});

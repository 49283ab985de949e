import { rejects, strictEqual } from "node:assert/strict";
import { COUNT_TOO_LARGE, parseCount, sumCounts } from "../../src/count/mod.ts";
import { ioListFiles, openIoForTest, withIoTempDir } from "../_support/io_fixtures.ts";

const encoder = new TextEncoder();

Deno.test("parseCount takes 1 to 2^53 - 1 in plain digits, COUNT_TOO_LARGE beyond, else -1", () => {
  const parse = (text: string): number => parseCount(encoder.encode(text), 0, text.length);
  strictEqual(parse("42"), 42);
  strictEqual(parse("0"), 0);
  strictEqual(parse("9007199254740991"), Number.MAX_SAFE_INTEGER);
  strictEqual(parse("9007199254740992"), COUNT_TOO_LARGE);
  strictEqual(parse(""), -1);
  strictEqual(parse("1e3"), -1);
  strictEqual(parse("-1"), -1);
  strictEqual(parse("12345678901234567"), COUNT_TOO_LARGE);
  strictEqual(parse("000000000000000000042"), 42);
});

Deno.test("sumCounts sums partials into count order, spilling in a small budget", async () => {
  await withIoTempDir(async (dir) => {
    const words = Array.from({ length: 3000 }, (_, n) => `w${n}`);
    await Deno.writeTextFile(`${dir}/a.tsv`, words.map((w, n) => `${w}\t${n + 1}\n`).join(""));
    await Deno.writeTextFile(`${dir}/b.tsv`, words.map((w) => `${w}\t1\n`).join("") + "w0\t5\n");
    const { memory, io } = await openIoForTest(dir, { budgetBytes: 64 * 4096 });
    try {
      const result = await sumCounts([`${dir}/a.tsv`, `${dir}/b.tsv`], `${dir}/out.tsv`, {
        memory,
        io,
        format: "tsv",
        top: undefined,
      });
      strictEqual(result.inputLines, 6001);
      strictEqual(result.distinctWords, 3000);
      strictEqual(result.wordRuns > 0, true, "the small budget made it spill");
    } finally {
      await io.close();
      memory.assertAllReleased();
    }
    const lines = (await Deno.readTextFile(`${dir}/out.tsv`)).trimEnd().split("\n");
    strictEqual(lines[0], "w2999\t3001");
    strictEqual(lines.at(-1), "w1\t3");
    strictEqual(lines.includes("w0\t7"), true);
  });
});

Deno.test("sumCounts rejects a line without a count and writes nothing", async () => {
  await withIoTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/bad.tsv`, "a\t1\nb 2\n");
    const { memory, io } = await openIoForTest(dir);
    try {
      await rejects(
        () =>
          sumCounts([`${dir}/bad.tsv`], `${dir}/out.tsv`, { memory, io, format: "tsv", top: 1 }),
        /^InputError: Cannot sum .*bad\.tsv line 2: expected word<TAB>count/,
      );
    } finally {
      await io.close();
      memory.assertAllReleased();
    }
    strictEqual(ioListFiles(dir).join(","), "bad.tsv");
  });
});

import { ok, strictEqual } from "node:assert/strict";
import { runSpillway } from "../_support/cli.ts";
import { makeRandom } from "../sort/_gnu.ts";

// A record of a quarter of the budget sorts at -S 64m: the sort spills its buffers and frees
// their memory for the reader's large-record buffer (src/sort/sort_plan.ts), then takes them
// again; the long record is a run of its own and its merge reader has the pages back.

Deno.test("sort -S 64m sorts a 16 MiB line among short ones, byte for byte", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spillway-long-records-test-" });
  try {
    const random = makeRandom(16);
    const short = (count: number): string => {
      const lines: string[] = [];
      for (let i = 0; i < count; i += 1) lines.push(`w${Math.floor(random() * 100_000)}`);
      return lines.join("\n") + "\n";
    };
    const long = "m" + "x".repeat(16 * 1024 * 1024 - 1);
    const before = short(200_000);
    const after = short(200_000);
    await Deno.writeTextFile(`${dir}/in.txt`, before + long + "\n" + after);
    const result = await runSpillway([
      "sort",
      "-S",
      "64m",
      "-T",
      dir,
      "-o",
      `${dir}/out.txt`,
      `${dir}/in.txt`,
    ]);
    strictEqual(result.code, 0, result.stderr);
    const lines = (before + after).split("\n").filter((line) => line !== "");
    lines.push(long);
    lines.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)); // ASCII: code unit order = byte order
    const expected = new TextEncoder().encode(lines.join("\n") + "\n");
    const output = await Deno.readFile(`${dir}/out.txt`);
    strictEqual(output.length, expected.length);
    ok(Buffer.compare(output, expected) === 0, "output differs from the expected order");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sort, sort -m and merge -S 64m take two files holding a 16 MiB line each", async () => {
  // sort: each long line is a run of its own, and the final merge must not need a contiguous
  // 16 MiB carry per run (a fragmented budget failed with exit 3, and once on the merge Worker
  // with a write after release): such runs merge on the loser tree. sort -m and merge hold both
  // long lines at once: two quarter-budget buffers beside small read chunks.
  const dir = await Deno.makeTempDir({ prefix: "spillway-long-records-test-" });
  try {
    const long = "b".repeat(16 * 1024 * 1024);
    const first = ["a", long, "c"];
    const second = ["a2", long.slice(0, -1) + "c", "d"];
    await Deno.writeTextFile(`${dir}/one.txt`, first.join("\n") + "\n");
    await Deno.writeTextFile(`${dir}/two.txt`, second.join("\n") + "\n");
    const lines = [...first, ...second].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const expected = new TextEncoder().encode(lines.join("\n") + "\n");
    for (const command of [["sort"], ["sort", "-m"], ["merge"]]) {
      const out = `${dir}/out.txt`;
      const result = await runSpillway([
        ...command,
        "-S",
        "64m",
        "-T",
        dir,
        "-o",
        out,
        `${dir}/one.txt`,
        `${dir}/two.txt`,
      ]);
      strictEqual(result.code, 0, `${command.join(" ")}: ${result.stderr}`);
      const output = await Deno.readFile(out);
      strictEqual(output.length, expected.length);
      ok(Buffer.compare(output, expected) === 0, `${command.join(" ")}: output differs`);
      await Deno.remove(out);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

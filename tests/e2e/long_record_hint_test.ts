import { match, ok, strictEqual } from "node:assert/strict";
import { runSpillway } from "../_support/cli.ts";

// A record too long for the budget is exit 3 naming the -S that holds it (issue 13), and that
// -S does: sort, sort -m and merge read it.

Deno.test("a record too long for -S names the -S that sorts and merges it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spillway-long-record-hint-test-" });
  try {
    const long = "x".repeat(10 << 20);
    await Deno.writeTextFile(`${dir}/long.txt`, `${long}\nshort\n`);
    for (const command of [["sort"], ["sort", "-m"], ["merge"]]) {
      const name = command.join(" ");
      const refused = await runSpillway([...command, "-S", "8m", "-T", dir, `${dir}/long.txt`]);
      strictEqual(refused.code, 3, `${name}: ${refused.stderr}`);
      // A quarter of 41m holds the 10 MiB line and its terminator.
      match(
        refused.stderr,
        /^spillway: Cannot read .*long\.txt: a record of 10 MiB does not fit the memory budget of 8 MiB; raise --memory \(-S\) to 41m \(a record may take a quarter of it\)\n$/,
      );
      strictEqual(refused.stdout, "");
      const out = `${dir}/out.txt`;
      const done = await runSpillway([
        ...command,
        "-S",
        "41m",
        "-T",
        dir,
        "-o",
        out,
        `${dir}/long.txt`,
      ]);
      strictEqual(done.code, 0, `${name} -S 41m: ${done.stderr}`);
      const text = await Deno.readTextFile(out);
      ok(text === `short\n${long}\n` || text === `${long}\nshort\n`, `${name}: output`);
      // sort orders; -m and merge keep the (unsorted) input order of a single file.
      strictEqual(text.startsWith("short"), command.length === 1 && command[0] === "sort", name);
      await Deno.remove(out);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("count merges runs holding a 12 MiB word (3/16 of -S 64m)", async () => {
  // Spilled runs hold the long words across many blocks; a merge reader's scratch grew by
  // doubling to 16 MiB and ran out of the budget the plan had set aside for 12 MiB.
  const dir = await Deno.makeTempDir({ prefix: "spillway-long-word-test-" });
  try {
    const first = "m".repeat(12 << 20);
    const last = "z".repeat(12 << 20);
    const lines: string[] = [first];
    for (let i = 0; i < 300_000; i += 1) lines.push(`w${i % 5000} u${i}`);
    lines.push(last);
    await Deno.writeTextFile(`${dir}/in.txt`, lines.join("\n") + "\n");
    const out = `${dir}/out.tsv`;
    const result = await runSpillway([
      "count",
      "--threads",
      "1",
      "-S",
      "64m",
      "-T",
      dir,
      "-o",
      out,
      `${dir}/in.txt`,
    ]);
    strictEqual(result.code, 0, result.stderr);
    const rows = (await Deno.readTextFile(out)).split("\n");
    strictEqual(rows.length, 5000 + 300_000 + 2 + 1);
    strictEqual(rows[0], "w0\t60");
    strictEqual(rows.at(-1), "");
    ok(rows.includes(`${first}\t1`));
    ok(rows.includes(`${last}\t1`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

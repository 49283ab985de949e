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
      match(
        refused.stderr,
        /^spillway: Cannot read .*long\.txt: a record of 10 MiB does not fit the memory budget of 8 MiB; raise --memory \(-S\) to 64m \(a record may take a quarter of it\)\n$/,
      );
      strictEqual(refused.stdout, "");
      const out = `${dir}/out.txt`;
      const done = await runSpillway([
        ...command,
        "-S",
        "64m",
        "-T",
        dir,
        "-o",
        out,
        `${dir}/long.txt`,
      ]);
      strictEqual(done.code, 0, `${name} -S 64m: ${done.stderr}`);
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

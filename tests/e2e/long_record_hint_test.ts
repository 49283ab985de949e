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

Deno.test("sort -m and merge name an -S that holds the long lines of several inputs at once", async () => {
  // Each input starts with a line near a quarter of -S, so a merge holds all of them at once:
  // more than the budget. Each refusal names a larger -S with room for the lines held so far
  // (the old hint named the -S already given); following the hints ends in sorted output.
  const dir = await Deno.makeTempDir({ prefix: "spillway-long-merge-hint-test-" });
  try {
    const inputs: string[] = [];
    const all: string[] = [];
    for (let k = 0; k < 4; k += 1) {
      const lines = [
        "a".repeat((4 << 20) - 1 - k),
        ...Array.from({ length: 50 }, (_, i) => `b${k}${i}`),
      ];
      lines.sort();
      all.push(...lines);
      await Deno.writeTextFile(`${dir}/${k}.txt`, lines.join("\n") + "\n");
      inputs.push(`${dir}/${k}.txt`);
    }
    const expected = all.sort().join("\n") + "\n";
    for (const command of [["sort", "-m"], ["merge"]]) {
      const name = command.join(" ");
      let megabytes = 16;
      let refusals = 0;
      for (;;) {
        const out = `${dir}/out.txt`;
        const args = [...command, "-S", `${megabytes}m`, "-T", dir, "-o", out, ...inputs];
        const result = await runSpillway(args);
        if (result.code === 0) {
          strictEqual(await Deno.readTextFile(out), expected, name);
          await Deno.remove(out);
          break;
        }
        strictEqual(result.code, 3, `${name} -S ${megabytes}m: ${result.stderr}`);
        const hint = result.stderr.match(
          /^spillway: Cannot read .*\.txt: a record of 4\.0 MiB does not fit beside the .* budget held now \(a merge holds the current line of every input at once\); raise --memory \(-S\) to at least (\d+)m\n$/,
        );
        ok(hint !== null, `${name} -S ${megabytes}m: ${result.stderr}`);
        const next = Number(hint[1]);
        ok(next > megabytes, `${name}: the hint ${next}m grows from ${megabytes}m`);
        megabytes = next;
        refusals += 1;
        ok(refusals <= 3, `${name}: one refusal per input at most`);
      }
      ok(refusals >= 1, `${name}: -S 16m cannot hold four such lines at once`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

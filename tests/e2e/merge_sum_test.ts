import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { runSpillway } from "../_support/cli.ts";

interface Run {
  code: number;
  stdout: Uint8Array;
  stderr: string;
}

/** Runs spillway with the task's permissions; stdout stays bytes (invalid UTF-8 survives). */
async function spillway(args: string[]): Promise<Run> {
  const { code, stdoutBytes, stderr } = await runSpillway(args);
  return { code, stdout: stdoutBytes, stderr };
}

async function withTemp(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "spillway-merge-sum-e2e-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Seeded lines: repeated and unique ones, empty lines, a TAB inside some. */
function lines(seed: number, lineCount: number): string {
  let state = seed;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  let text = "";
  for (let i = 0; i < lineCount; i += 1) {
    const pick = next();
    if (pick < 0.05) text += "\n";
    else if (pick < 0.3) text += `unique ${seed} ${i}\n`;
    else if (pick < 0.35) text += "with\ttab\n";
    else text += `w${Math.floor(500 * next() ** 3)}\n`;
  }
  return text;
}

const SMALL = ["-S", "256k", "--segment-size", "4k"];

Deno.test("spillway merge --sum of partial counts equals one count, with count's --order, --top, --min-count and --format", async () => {
  await withTemp(async (dir) => {
    const parts = [lines(3, 6000), lines(5, 6000), lines(9, 6000)];
    for (const [index, part] of parts.entries()) {
      await Deno.writeTextFile(`${dir}/part${index}.txt`, part);
      const counted = await spillway([
        "count",
        "--lines",
        "-o",
        `${dir}/part${index}.tsv`,
        `${dir}/part${index}.txt`,
      ]);
      strictEqual(counted.code, 0, counted.stderr);
    }
    await Deno.writeTextFile(`${dir}/all.txt`, parts.join(""));
    const partials = parts.map((_, index) => `${dir}/part${index}.tsv`);
    const variants = [
      [],
      ["--order", "word"],
      ["--top", "7"],
      ["--top", "7", "--order", "word"],
      ["--min-count", "3", "--format", "uniq"],
      ["--min-count", "2", "--order", "word", "--format", "json"],
    ];
    for (const options of variants) {
      const whole = await spillway(["count", "--lines", ...options, `${dir}/all.txt`]);
      strictEqual(whole.code, 0, whole.stderr);
      for (const budget of [SMALL, []]) {
        const summed = await spillway(["merge", "--sum", ...budget, ...options, ...partials]);
        strictEqual(summed.code, 0, summed.stderr);
        deepStrictEqual(
          new TextDecoder().decode(summed.stdout),
          new TextDecoder().decode(whole.stdout),
          `${options.join(" ")} ${budget.join(" ")}`,
        );
      }
    }
    const bad = await spillway(["merge", "--sum", "--order", "size", ...partials]);
    strictEqual(bad.code, 2);
    match(bad.stderr, /Invalid --order "size"/);
  });
});

Deno.test("spillway merge --sum: counts and sums beyond 2^53 - 1 exit 2 with one line and no output", async () => {
  await withTemp(async (dir) => {
    const largest = Number.MAX_SAFE_INTEGER;
    await Deno.writeTextFile(`${dir}/huge.tsv`, "a\t1\nb\t18446744073709551616\n");
    await Deno.writeTextFile(`${dir}/max.tsv`, `a\t${largest}\n`);
    await Deno.writeTextFile(`${dir}/one.tsv`, "a\t1\n");
    await Deno.writeTextFile(`${dir}/zeros.tsv`, "a\t000000000000000000000002\n");
    // Many other words between the two "a" lines: with a small budget the table spills
    // between them and the sum happens in the merge of the runs.
    let filler = "";
    for (let i = 0; i < 30000; i += 1) filler += `filler${i}\t1\n`;
    await Deno.writeTextFile(`${dir}/filler.tsv`, filler);
    const out = `${dir}/out.tsv`;
    const cases: Array<[string[], RegExp]> = [
      [[`${dir}/huge.tsv`], /huge\.tsv line 2: count 18446744073709551616 passes 2\^53 - 1/],
      [[`${dir}/max.tsv`, `${dir}/one.tsv`], /9007199254740991 \+ 1 passes 2\^53 - 1/],
      [
        [...SMALL, `${dir}/max.tsv`, `${dir}/filler.tsv`, `${dir}/one.tsv`],
        /(9007199254740991 \+ 1|1 \+ 9007199254740991) passes 2\^53 - 1/,
      ],
    ];
    for (const [args, message] of cases) {
      const run = await spillway(["merge", "--sum", "-o", out, ...args]);
      strictEqual(run.code, 2, run.stderr);
      match(run.stderr, message);
      strictEqual(run.stderr.trim().split("\n").length, 1, run.stderr);
      deepStrictEqual(
        [...Deno.readDirSync(dir)].filter((entry) => entry.name.startsWith("out")),
        [],
        "no output file",
      );
    }
    const exact = await spillway(["merge", "--sum", `${dir}/zeros.tsv`, `${dir}/one.tsv`]);
    strictEqual(exact.code, 0, exact.stderr);
    strictEqual(new TextDecoder().decode(exact.stdout), "a\t3\n");
    const atMax = await spillway(["merge", "--sum", `${dir}/max.tsv`, `${dir}/filler.tsv`]);
    strictEqual(atMax.code, 0, atMax.stderr);
    strictEqual(new TextDecoder().decode(atMax.stdout).split("\n")[0], `a\t${largest}`);
  });
});

import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { runSpillway } from "../_support/cli.ts";

const encoder = new TextEncoder();

/** Runs GNU sort with LC_ALL=C as the oracle. */
async function gnuSort(args: string[]): Promise<string> {
  const output = await new Deno.Command("sort", {
    args,
    env: { LC_ALL: "C" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  strictEqual(output.code, 0, new TextDecoder().decode(output.stderr));
  return new TextDecoder().decode(output.stdout);
}

/** Writes `count` sorted files of pseudo-random lines; returns their paths. */
async function sortedInputs(dir: string, count: number, seed: number): Promise<string[]> {
  const paths: string[] = [];
  let state = seed;
  const random = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state;
  };
  for (let index = 0; index < count; index += 1) {
    const lines: string[] = [];
    const lineCount = index === 2 ? 0 : 40 + (random() % 200); // one empty input
    for (let line = 0; line < lineCount; line += 1) {
      lines.push(`${String.fromCharCode(97 + (random() % 26))}${random() % 1000} ${random() % 7}`);
    }
    const path = `${dir}/in${index}.txt`;
    const raw = lines.join("\n") + (lines.length > 0 ? "\n" : "");
    await Deno.writeTextFile(path, raw);
    // Sort each input with the oracle itself, so only the merge is under test.
    await Deno.writeTextFile(path, await gnuSort([path]));
    paths.push(path);
  }
  return paths;
}

Deno.test("spillway merge equals sort -m for many inputs at every fan-in (multi-pass)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spillway-merge-" });
  try {
    const inputs = await sortedInputs(dir, 9, 7);
    const expected = await gnuSort(["-m", ...inputs]);
    for (const fanIn of [2, 3, 9, 128]) {
      const result = await runSpillway([
        "merge",
        "-S",
        "64k",
        "--segment-size",
        "4k",
        "--fan-in",
        String(fanIn),
        "--stats=json",
        ...inputs,
      ]);
      strictEqual(result.code, 0, result.stderr);
      strictEqual(result.stdout, expected, `fan-in ${fanIn}`);
      const stats = JSON.parse(result.stderr);
      // 16 pages of 4 KiB afford (16 - 4) / 3 = 4 inputs at once.
      const effective = Math.min(fanIn, 4);
      let passes = 1;
      for (let width = 9; width > effective; width = Math.ceil(width / effective)) passes += 1;
      strictEqual(stats.spill.mergePasses, passes, `fan-in ${fanIn}`);
      strictEqual(stats.input.records, expected.split("\n").length - 1);
      strictEqual(stats.output.records, stats.input.records);
      strictEqual(stats.spill.runs > 0, passes > 1);
      deepStrictEqual(stats.leaks, { pages: 0, bytes: 0, dropped: 0, staleWrites: 0, report: "" });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spillway merge honours -r, -u, -n and -k like sort -m", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spillway-merge-" });
  try {
    const raw = await sortedInputs(dir, 5, 11);
    for (
      const flags of [["-r"], ["-u"], ["-n", "-k", "2,2"], ["-t", " ", "-k", "2n", "-s"], [
        "-u",
        "-r",
      ]]
    ) {
      const inputs: string[] = [];
      for (const [index, path] of raw.entries()) {
        const sorted = `${dir}/s${index}.txt`;
        await Deno.writeTextFile(sorted, await gnuSort([...flags, path]));
        inputs.push(sorted);
      }
      const expected = await gnuSort(["-m", ...flags, ...inputs]);
      const result = await runSpillway([
        "merge",
        "-S",
        "64k",
        "--segment-size",
        "4k",
        "--fan-in",
        "2",
        ...flags,
        ...inputs,
      ]);
      strictEqual(result.code, 0, result.stderr);
      strictEqual(result.stdout, expected, flags.join(" "));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spillway merge -o writes atomically and leaves no temp files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spillway-merge-" });
  try {
    await Deno.writeFile(`${dir}/a`, encoder.encode("a\nc\n"));
    await Deno.writeFile(`${dir}/b`, encoder.encode("b\nd"));
    const tmp = `${dir}/tmp`;
    await Deno.mkdir(tmp);
    const result = await runSpillway([
      "merge",
      "-T",
      tmp,
      "-o",
      `${dir}/a`,
      `${dir}/a`,
      `${dir}/b`,
    ]);
    strictEqual(result.code, 0, result.stderr);
    strictEqual(await Deno.readTextFile(`${dir}/a`), "a\nb\nc\nd\n");
    deepStrictEqual([...Deno.readDirSync(tmp)], []);
    const names = [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();
    deepStrictEqual(names, ["a", "b", "tmp"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spillway merge errors: no inputs, missing input, tiny budget", async () => {
  const none = await runSpillway(["merge"]);
  strictEqual(none.code, 2);
  match(none.stderr, /^spillway: No input files; usage: spillway merge/);
  const missing = await runSpillway(["merge", "/nonexistent/a.txt"]);
  strictEqual(missing.code, 2);
  strictEqual(missing.stdout, "");
  match(missing.stderr, /^spillway: Cannot read \/nonexistent\/a\.txt/);
  // A tiny -S is raised to the least budget (GNU sort -m takes -S1 too): it merges.
  const dir = await Deno.makeTempDir({ prefix: "spillway-merge-tiny-" });
  try {
    await Deno.writeTextFile(`${dir}/a`, "a\nc\n");
    await Deno.writeTextFile(`${dir}/b`, "b\n");
    const tiny = await runSpillway([
      "merge",
      "-S",
      "16k",
      "--segment-size",
      "4k",
      `${dir}/a`,
      `${dir}/b`,
    ]);
    strictEqual(tiny.code, 0, tiny.stderr);
    strictEqual(tiny.stdout, "a\nb\nc\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const unknown = await runSpillway(["merge", "--frobnicate", "a"]);
  strictEqual(unknown.code, 2);
  match(unknown.stderr, /see 'spillway merge --help'/);
});

/** Sums word<TAB>count lines with mawk and orders them like count (the oracle of --sum). */
async function oracleSum(paths: string[]): Promise<string> {
  const summed = await new Deno.Command("mawk", {
    args: ["-F\t", '{ c[$1] += $2 } END { for (w in c) printf "%s\\t%d\\n", w, c[w] }', ...paths],
    env: { LC_ALL: "C" },
    stdout: "piped",
  }).output();
  const sorter = new Deno.Command("sort", {
    args: ["-t", "\t", "-k2,2nr", "-k1,1"],
    env: { LC_ALL: "C" },
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const writer = sorter.stdin.getWriter();
  await writer.write(summed.stdout);
  await writer.close();
  return new TextDecoder().decode((await sorter.output()).stdout);
}

Deno.test("spillway merge --sum equals summing the partials, in count order, even when it spills", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spillway-merge-sum-" });
  try {
    const paths: string[] = [];
    for (let part = 0; part < 4; part += 1) {
      const lines: string[] = [];
      // Overlapping words with varied counts; some only in one part; any line order.
      for (let index = 0; index < 900; index += 1) {
        if ((index + part) % 3 === 0) continue;
        lines.push(`w${(index * 37 + part) % 1200}\t${1 + ((index * part + 7) % 50)}`);
      }
      lines.push(`only${part}\t${1000 + part}`);
      const path = `${dir}/part-${part}.tsv`;
      await Deno.writeTextFile(path, lines.join("\n") + "\n");
      paths.push(path);
    }
    const expected = await oracleSum(paths);
    const result = await runSpillway([
      "merge",
      "--sum",
      "-S",
      "64k",
      "--segment-size",
      "4k",
      "--stats=json",
      ...paths,
    ]);
    strictEqual(result.code, 0, result.stderr);
    strictEqual(result.stdout, expected);
    const stats = JSON.parse(result.stderr);
    strictEqual(stats.command, "merge");
    strictEqual(stats.spill.runs > 0, true, "a 64 KiB budget spills");
    strictEqual(stats.output.records, expected.split("\n").length - 1);
    deepStrictEqual(stats.leaks, { pages: 0, bytes: 0, dropped: 0, staleWrites: 0, report: "" });
    const top = await runSpillway(["merge", "--sum", "--top", "3", ...paths]);
    strictEqual(top.code, 0, top.stderr);
    strictEqual(top.stdout, expected.split("\n").slice(0, 3).join("\n") + "\n");
    // Summing spillway count outputs equals counting everything at once.
    const first = await runSpillway(["count", paths[0]!, paths[1]!]);
    const second = await runSpillway(["count", paths[2]!, paths[3]!]);
    await Deno.writeTextFile(`${dir}/c1`, first.stdout);
    await Deno.writeTextFile(`${dir}/c2`, second.stdout);
    const summed = await runSpillway(["merge", "--sum", `${dir}/c1`, `${dir}/c2`]);
    const direct = await runSpillway(["count", ...paths]);
    strictEqual(summed.stdout, direct.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spillway merge --sum rejects malformed lines and ordering options, writing nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spillway-merge-sum-" });
  try {
    await Deno.writeTextFile(`${dir}/bad.tsv`, "a\t3\nb x\n");
    await Deno.writeTextFile(`${dir}/zero.tsv`, "a\t0\n");
    await Deno.writeTextFile(`${dir}/good.tsv`, "a\t3\n");
    const bad = await runSpillway(["merge", "--sum", "-o", `${dir}/out`, `${dir}/bad.tsv`]);
    strictEqual(bad.code, 2);
    strictEqual(
      bad.stderr,
      `spillway: Cannot sum ${dir}/bad.tsv line 2: expected word<TAB>count with a count of at least 1, found "b x"; give merge --sum the tsv output of spillway count\n`,
    );
    const zero = await runSpillway(["merge", "--sum", `${dir}/zero.tsv`]);
    strictEqual(zero.code, 2);
    match(zero.stderr, /zero\.tsv line 1: expected word<TAB>count/);
    const ordered = await runSpillway(["merge", "--sum", "-r", `${dir}/good.tsv`]);
    strictEqual(ordered.code, 2);
    match(ordered.stderr, /Option --reverse cannot be used with --sum/);
    deepStrictEqual(
      [...Deno.readDirSync(dir)].map((entry) => entry.name).sort(),
      ["bad.tsv", "good.tsv", "zero.tsv"],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

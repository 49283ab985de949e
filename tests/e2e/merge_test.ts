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
      deepStrictEqual(stats.leaks, { pages: 0, bytes: 0, dropped: 0, report: "" });
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
  const tiny = await runSpillway(["merge", "-S", "16k", "--segment-size", "4k", "a", "b"]);
  strictEqual(tiny.code, 3);
  match(tiny.stderr, /^spillway: Cannot merge in 4 pages: need at least 10; raise --memory/);
  const unknown = await runSpillway(["merge", "--frobnicate", "a"]);
  strictEqual(unknown.code, 2);
  match(unknown.stderr, /see 'spillway merge --help'/);
});

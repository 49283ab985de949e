import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { runSpillway } from "../_support/cli.ts";

/** Lines "w<n> x<m>" with many repeats, deterministic. */
function corpus(lineCount: number): string {
  const lines: string[] = [];
  for (let index = 1; index <= lineCount; index += 1) {
    lines.push(`w${(index * 7919) % 5000} x${index % 13}`);
  }
  return lines.join("\n") + "\n";
}

async function gnu(command: string, args: string[], stdin?: string): Promise<string> {
  const child = new Deno.Command(command, {
    args,
    env: { LC_ALL: "C" },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const output = await child.output();
  return new TextDecoder().decode(output.stdout);
}

async function withJobDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "spillway-run-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const JOB = `name: e2e
config:
  taskmanager.memory.managed.size: 262144   # bytes (Flink)
  taskmanager.memory.segment-size: 4kb
  taskmanager.runtime.max-fan: 4
  io.tmp.dirs: spill
  leak-detection: advanced
steps:
  - sort: { input: in/words.txt, output: out/sorted.txt }
  - count: { input: in/words.txt, output: out/counts.tsv }
  - merge: { input: [out/sorted.txt, in/words.txt], output: out/merged.txt, unique: true }
`;

async function writeJob(dir: string, job = JOB): Promise<string> {
  await Deno.mkdir(`${dir}/in`);
  await Deno.mkdir(`${dir}/out`);
  await Deno.mkdir(`${dir}/spill`);
  await Deno.writeTextFile(`${dir}/in/words.txt`, corpus(20_000));
  await Deno.writeTextFile(`${dir}/job.yaml`, job);
  return `${dir}/job.yaml`;
}

Deno.test("spillway run runs every step like its command, paths relative to the job file", async () => {
  await withJobDir(async (dir) => {
    const job = await writeJob(dir);
    // Run from another directory: paths resolve against the job file.
    const result = await runSpillway(["run", "--stats=json", job], { cwd: "/" });
    strictEqual(result.code, 0, result.stderr);
    strictEqual(result.stdout, "");
    const words = await Deno.readTextFile(`${dir}/in/words.txt`);
    strictEqual(await Deno.readTextFile(`${dir}/out/sorted.txt`), await gnu("sort", [], words));
    const merged = await gnu("sort", ["-m", "-u", `${dir}/out/sorted.txt`, `${dir}/in/words.txt`]);
    strictEqual(await Deno.readTextFile(`${dir}/out/merged.txt`), merged);
    const counts = await Deno.readTextFile(`${dir}/out/counts.tsv`);
    const oracle = await gnu("mawk", [
      '{ for (i = 1; i <= NF; i++) c[$i]++ } END { for (w in c) printf "%s\\t%d\\n", w, c[w] }',
    ], words);
    strictEqual(counts, await gnu("sort", ["-t", "\t", "-k2,2nr", "-k1,1"], oracle));
    // One JSON report per step, labelled, consistent with the work done.
    const reports = result.stderr.trimEnd().split("\n").map((line) => JSON.parse(line));
    deepStrictEqual(reports.map((r) => [r.step, r.command, r.job]), [
      [1, "sort", job],
      [2, "count", job],
      [3, "merge", job],
    ]);
    for (const report of reports) {
      deepStrictEqual(report.leaks, {
        segments: 0,
        bytes: 0,
        dropped: 0,
        staleWrites: 0,
        report: "",
      });
      strictEqual(report.memory.budgetBytes, 262144);
      strictEqual(report.memory.segmentBytes, 4096);
      strictEqual(report.memory.segmentsBudget, 64);
      strictEqual(report.memory.segmentsPeak <= 64, true);
      strictEqual(report.memory.peakRssBytes > 0, true);
      strictEqual(report.exitCode, 0);
    }
    const [sort, count, merge] = reports;
    strictEqual(sort.input.bytes, words.length);
    strictEqual(sort.input.records, 20_000);
    strictEqual(sort.output.records, 20_000);
    strictEqual(sort.spill.runs > 1, true, "a 256 KiB budget spills");
    strictEqual(sort.spill.mergePasses >= 1, true);
    strictEqual(sort.spill.bytesWritten > 0 && sort.spill.bytesReadBack > 0, true);
    strictEqual(sort.spill.mode, "file");
    strictEqual(count.input.records, 40_000, "two words per line");
    strictEqual(count.output.records, counts.split("\n").length - 1);
    strictEqual(merge.output.records, merged.split("\n").length - 1);
    // The spill directory is empty again.
    deepStrictEqual([...Deno.readDirSync(`${dir}/spill`)], []);
  });
});

Deno.test("spillway run --dry-run predicts the sort's runs and merge passes", async () => {
  await withJobDir(async (dir) => {
    const job = await writeJob(dir);
    const plan = await runSpillway(["run", "--dry-run", job]);
    strictEqual(plan.code, 0, plan.stderr);
    strictEqual((await Deno.stat(`${dir}/out`)).isDirectory, true);
    deepStrictEqual([...Deno.readDirSync(`${dir}/out`)], [], "a dry run writes nothing");
    const lines = plan.stdout.trimEnd().split("\n");
    strictEqual(lines[0], `job e2e (${job}): 3 steps, dry run`);
    const sortLine = lines[1]!;
    match(
      sortLine,
      /^step 1 \(sort\): sort: 1 input, \d+\.\d KiB \(lines of ~9 bytes\); memory 256 KiB = 64 segments of 4 KiB; expect \d+ runs, \d+ merge pass\(es\) \(fan-in 4\)$/,
    );
    strictEqual(
      lines[2],
      `  spillway sort --memory=262144b --segment-size=4096b --tmp-dir=${dir}/spill --fan-in=4 --leak-detection=advanced --output=${dir}/out/sorted.txt -- ${dir}/in/words.txt`,
    );
    const [, runs, passes] = /expect (\d+) runs, (\d+) merge/.exec(sortLine)!;
    const real = await runSpillway(["run", "--stats=json", job]);
    strictEqual(real.code, 0, real.stderr);
    const sort = JSON.parse(real.stderr.split("\n")[0]!);
    strictEqual(sort.spill.runs, Number(runs), "planned runs = actual runs");
    strictEqual(sort.spill.mergePasses, Number(passes), "planned passes = actual passes");
  });
});

Deno.test("spillway run stops at the first failing step and returns its exit code", async () => {
  await withJobDir(async (dir) => {
    const job = await writeJob(
      dir,
      `steps:
  - sort: { input: in/words.txt, output: out/a.txt }
  - sort: { input: in/missing.txt, output: out/b.txt }
  - sort: { input: in/words.txt, output: out/c.txt }
`,
    );
    const result = await runSpillway(["run", "--stats", job]);
    strictEqual(result.code, 2);
    const lines = result.stderr.trimEnd().split("\n");
    match(lines[0]!, /^spillway: Cannot read .*in\/missing\.txt/);
    strictEqual(
      lines[1],
      `spillway: ${job}: step 2 (sort) failed with exit code 2; 1 later step not run`,
    );
    match(lines[2]!, /^spillway stats: .*job\.yaml step 1 \(sort\)$/);
    strictEqual(lines.filter((line) => line.startsWith("spillway stats:")).length, 1);
    deepStrictEqual([...Deno.readDirSync(`${dir}/out`)].map((entry) => entry.name), ["a.txt"]);
  });
});

Deno.test("spillway run rejects an invalid job with file:line:column before running anything", async () => {
  await withJobDir(async (dir) => {
    const job = await writeJob(
      dir,
      `steps:
  - sort: { input: in/words.txt, output: out/a.txt }
  - count:
      input: in/words.txt
      tpo: 5
`,
    );
    const result = await runSpillway(["run", job]);
    strictEqual(result.code, 2);
    strictEqual(
      result.stderr,
      `spillway: ${job}:5:7: Unknown option of count "tpo"; did you mean "top"?\n`,
    );
    deepStrictEqual([...Deno.readDirSync(`${dir}/out`)], []);
    const usage = await runSpillway(["run"]);
    strictEqual(usage.code, 2);
    match(usage.stderr, /^spillway: Expected one job file, got 0; usage: spillway run/);
    const missing = await runSpillway(["run", `${dir}/nope.yaml`]);
    strictEqual(missing.code, 2);
    match(missing.stderr, /^spillway: Cannot read .*nope\.yaml: no such file/);
  });
});

Deno.test("spillway run --stats=yaml --stats-file writes one YAML document per step", async () => {
  await withJobDir(async (dir) => {
    const job = await writeJob(
      dir,
      `config:
  memory: 128kb
  segment-size: 4kb
steps:
  - sort: { name: first, input: in/words.txt, output: out/a.txt, reverse: true }
  - sort: { input: out/a.txt, output: out/b.txt }
`,
    );
    const result = await runSpillway([
      "run",
      "--stats=yaml",
      "--stats-file",
      `${dir}/stats.yaml`,
      job,
    ]);
    strictEqual(result.code, 0, result.stderr);
    strictEqual(result.stderr, "");
    const { parseAllDocuments } = await import("yaml");
    const documents = parseAllDocuments(await Deno.readTextFile(`${dir}/stats.yaml`));
    const reports = (documents as { toJS(): Record<string, unknown> }[]).map((doc) => doc.toJS());
    deepStrictEqual(reports.map((report) => [report.step, report.name]), [
      [1, "first"],
      [2, "step 2 (sort)"],
    ]);
    const words = await Deno.readTextFile(`${dir}/in/words.txt`);
    strictEqual(await Deno.readTextFile(`${dir}/out/a.txt`), await gnu("sort", ["-r"], words));
    strictEqual(await Deno.readTextFile(`${dir}/out/b.txt`), await gnu("sort", [], words));
  });
});

Deno.test("Progress: nothing on a non-TTY stderr unless --progress; --progress reaches the steps", async () => {
  await withJobDir(async (dir) => {
    const job = await writeJob(
      dir,
      `config:
  memory: 128kb
  segment-size: 4kb
steps:
  - sort: { input: in/words.txt, output: out/a.txt }
`,
    );
    const quiet = await runSpillway(["run", job]);
    strictEqual(quiet.code, 0, quiet.stderr);
    strictEqual(quiet.stderr, "");
    const loud = await runSpillway(["run", "--progress", job]);
    strictEqual(loud.code, 0, loud.stderr);
    const lines = loud.stderr.trimEnd().split("\n");
    // Forced onto a pipe: plain lines (no \r redraws), starting with the read phase.
    strictEqual(loud.stderr.includes("\r"), false);
    match(lines[0]!, /^spillway: read {2}/);
    // Later phases may be skipped by the 10-per-second limit when they are fast.
    for (const line of lines) {
      match(line, /^spillway: (read|sort|spill|merge pass \d+ of \d+|count|write) {2}\d/);
    }
    const hidden = await runSpillway([
      "sort",
      "--no-progress",
      "-o",
      `${dir}/out/b.txt`,
      `${dir}/in/words.txt`,
    ]);
    strictEqual(hidden.stderr, "");
  });
});

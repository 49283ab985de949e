/**
 * The final merge's stall warning (parallel_merge.ts `onStall`) on stderr: `spillway sort`
 * prints it, `spillway count` through the sort engine too, and so does a job's sort or count step
 * (`spillway run`), after the job file and the step's name. The test seam
 * `SPILLWAY_TEST_MERGE_STALL_MS` makes the merge Worker stop answering, warns after that long and
 * fails the sort after ten times as long (exit 70).
 */
import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { runSpillway } from "../_support/cli.ts";

/** 60,000 lines in no order: spilled at -S 1m, merged on the merge Worker (the seam). */
function unsortedLines(): string {
  const lines: string[] = [];
  for (let i = 0; i < 60_000; i += 1) {
    lines.push(`${((i * 2_654_435_761) >>> 0).toString(16)}-${i}`);
  }
  return lines.join("\n") + "\n";
}

/**
 * The warning after `prefix` (how long and where the Worker is vary; on a loaded machine the
 * main thread's own hold-up of 300 ms may be what it reports).
 */
function stallWarning(prefix: string): RegExp {
  return new RegExp(
    `^spillway: ${prefix}warning: The final merge stalled: ` +
      "(the merge Worker has said nothing|this thread was held up) for \\d+\\.\\d s.*; " +
      "the Worker is [a-z ]+",
  );
}

Deno.test("sort and a job's sort step warn of a stalled final merge; the job's warning names the step", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spillway-merge-stall-" });
  try {
    await Deno.writeTextFile(`${dir}/in.txt`, unsortedLines());
    const env = { SPILLWAY_TEST_MERGE_STALL_MS: "300" };
    const sorted = await runSpillway(
      ["sort", "-S", "1m", "-o", `${dir}/out.txt`, `${dir}/in.txt`],
      {
        env,
      },
    );
    strictEqual(sorted.code, 70, sorted.stderr);
    const sortLines = sorted.stderr.trimEnd().split("\n");
    strictEqual(sortLines.length, 2, sorted.stderr);
    match(sortLines[0]!, stallWarning(""));
    match(sortLines[1]!, /^spillway: internal error: Merge worker stopped answering/);

    const job = `${dir}/job.yaml`;
    await Deno.writeTextFile(
      job,
      `config:
  taskmanager.memory.managed.size: 1m
steps:
  - gen: { kind: zipf, size: 10k, output: first.txt }
  - sort: { name: sort-lines, input: in.txt, output: out.txt }
`,
    );
    const ran = await runSpillway(["run", job], { env });
    strictEqual(ran.code, 70, ran.stderr);
    const jobLines = ran.stderr.trimEnd().split("\n");
    strictEqual(jobLines.length, 3, ran.stderr);
    match(jobLines[0]!, stallWarning(`${job}: sort-lines: `));
    match(jobLines[1]!, /^spillway: internal error: Merge worker stopped answering/);
    strictEqual(jobLines[2], `spillway: ${job}: sort-lines failed with exit code 70`);
    deepStrictEqual(
      [...Deno.readDirSync(dir)].map((entry) => entry.name).sort(),
      ["first.txt", "in.txt", "job.yaml"],
      "no output left",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** 33 MiB of nearly unique whitespace tokens: `count --threads auto` on an idle core sorts them. */
function nearlyUniqueTokens(): string {
  const parts: string[] = [];
  let bytes = 0;
  for (let i = 0; bytes < 33 * 1024 * 1024; i += 1) {
    const word = `${(Math.imul(i, 2_654_435_761) >>> 0).toString(36)}${i.toString(36)}`;
    const gap = i % 9 === 0 ? "\n" : " ";
    parts.push(word + gap);
    bytes += word.length + gap.length;
  }
  return parts.join("");
}

Deno.test("count through the sort engine and a job's count step warn of a stalled final merge", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spillway-merge-stall-count-" });
  try {
    await Deno.writeTextFile(`${dir}/in.txt`, nearlyUniqueTokens());
    // The sort route needs an idle core (SPILLWAY_TEST_IDLE_CORES: whatever the machine's load).
    const env = { SPILLWAY_TEST_MERGE_STALL_MS: "300", SPILLWAY_TEST_IDLE_CORES: "2" };
    const options = ["--tokenizer", "whitespace", "--order", "word", "--threads", "auto"];
    const counted = await runSpillway(
      ["count", ...options, "-S", "32m", "-o", `${dir}/out.tsv`, `${dir}/in.txt`],
      { env },
    );
    strictEqual(counted.code, 70, counted.stderr);
    const countLines = counted.stderr.trimEnd().split("\n");
    strictEqual(countLines.length, 2, counted.stderr);
    match(countLines[0]!, stallWarning(""));
    match(countLines[1]!, /^spillway: internal error: Merge worker stopped answering/);

    const job = `${dir}/job.yaml`;
    await Deno.writeTextFile(
      job,
      `config:
  taskmanager.memory.managed.size: 32m
steps:
  - count: { name: count-tokens, input: in.txt, tokenizer: whitespace, order: word, threads: auto, output: out.tsv }
`,
    );
    const ran = await runSpillway(["run", job], { env });
    strictEqual(ran.code, 70, ran.stderr);
    const jobLines = ran.stderr.trimEnd().split("\n");
    strictEqual(jobLines.length, 3, ran.stderr);
    match(jobLines[0]!, stallWarning(`${job}: count-tokens: `));
    strictEqual(jobLines[2], `spillway: ${job}: count-tokens failed with exit code 70`);
    deepStrictEqual(
      [...Deno.readDirSync(dir)].map((entry) => entry.name).sort(),
      ["in.txt", "job.yaml"],
      "no output left",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * The Dask job's split, hash and range-partition logic (scripts/scale_out/dask_job.py), checked
 * through python3 against reference implementations written here, and the job's whole contract
 * on the bundled corpus with its serial engine (the same tasks, no Dask). The Dask run itself is
 * opt-in: `deno task scale-out:dask`.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import fc from "fast-check";
import { ensureBuilt } from "../../scripts/build.ts";
import { spillwayCommand } from "../../scripts/scale_out/dask.ts";

const JOB = new URL("../../scripts/scale_out/dask_job.py", import.meta.url).pathname;
const JOB_DIR = new URL("../../scripts/scale_out/", import.meta.url).pathname;

function hasPython(): boolean {
  try {
    return new Deno.Command("python3", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

const ignore = !hasPython();

/** Calls `dask_job.FUNCTION(*args)` in python3; bytes travel as latin-1 strings in JSON. */
async function callPython(source: string, input: unknown): Promise<unknown> {
  const program = `
import json, sys
sys.path.insert(0, ${JSON.stringify(JOB_DIR)})
import dask_job
def b(s): return s.encode("latin-1")
def s(b): return b.decode("latin-1")
data = json.load(sys.stdin)
${source}
json.dump(result, sys.stdout)
`;
  const child = new Deno.Command("python3", {
    args: ["-c", program],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(input)));
  await writer.close();
  const output = await child.output();
  if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

function latin1(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

/** CRC-32 (ISO-HDLC, zlib's): the documented partition hash, written independently. */
function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit += 1) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function compareBytes(left: Uint8Array, right: Uint8Array): number {
  const length = Math.min(left.length, right.length);
  for (let index = 0; index < length; index += 1) {
    if (left[index] !== right[index]) return left[index]! - right[index]!;
  }
  return left.length - right.length;
}

Deno.test({
  name: "Dask job partition_of is CRC-32 of the word's bytes modulo R",
  ignore,
  fn: async () => {
    strictEqual(crc32(new TextEncoder().encode("123456789")), 0xcbf43926); // the check value
    const words = fc.sample(fc.uint8Array({ minLength: 0, maxLength: 12 }), { seed: 15 });
    words.push(new TextEncoder().encode("the"), new Uint8Array([0xff, 0xfe, 0x80]));
    for (const reducers of [1, 2, 4, 7]) {
      const got = await callPython(
        "result = [dask_job.partition_of(b(w), data['r']) for w in data['words']]",
        { words: words.map(latin1), r: reducers },
      );
      deepStrictEqual(got, words.map((word) => crc32(word) % reducers));
    }
  },
});

Deno.test({
  name: "Dask job partition_counts keeps every line and keys it by the text before the last TAB",
  ignore,
  fn: async () => {
    const lines = ["the\t9\n", "a\tb\t3\n", "\xff\xfe\t2\n", "of\t1\n", "to\t1\n", "and\t7\n"];
    const got = await callPython(
      "result = [s(p) for p in dask_job.partition_counts(b(data['out']), 3)]",
      { out: lines.join("") },
    ) as string[];
    strictEqual(got.length, 3);
    const expected = ["", "", ""];
    for (const line of lines) {
      const word = line.slice(0, line.lastIndexOf("\t"));
      const bytes = Uint8Array.from(word, (char) => char.charCodeAt(0));
      expected[crc32(bytes) % 3] += line;
    }
    deepStrictEqual(got, expected);
  },
});

Deno.test({
  name: "Dask job split_inputs cuts on line ends, loses no byte and balances the splits",
  ignore,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "spillway-dask-test-" });
    try {
      const cases = fc.sample(
        fc.tuple(
          fc.array(fc.array(fc.stringMatching(/^[a-c]{0,9}$/), { maxLength: 12 }), {
            minLength: 1,
            maxLength: 3,
          }),
          fc.boolean(),
          fc.integer({ min: 1, max: 6 }),
        ),
        { seed: 1515, numRuns: 40 },
      );
      const calls: Array<{ paths: string[]; n: number }> = [];
      const wholes: string[] = [];
      for (const [caseIndex, [files, finalNewline, count]] of cases.entries()) {
        const paths: string[] = [];
        let whole = "";
        for (const [fileIndex, lines] of files.entries()) {
          const text = lines.map((line) => `${line}\n`).join("").slice(
            0,
            finalNewline || lines.length === 0 ? undefined : -1,
          );
          const path = `${dir}/case-${caseIndex}-${fileIndex}.txt`;
          await Deno.writeTextFile(path, text);
          paths.push(path);
          whole += text.length > 0 && !text.endsWith("\n") ? `${text}\n` : text;
        }
        calls.push({ paths, n: count });
        wholes.push(whole);
      }
      const results = await callPython(
        `result = [[s(dask_job.read_split(p)) for p in dask_job.split_inputs(c['paths'], c['n'])]
          for c in data]`,
        calls,
      ) as string[][];
      for (const [caseIndex, splits] of results.entries()) {
        const whole = wholes[caseIndex]!;
        const count = calls[caseIndex]!.n;
        strictEqual(splits.length, count);
        strictEqual(splits.join(""), whole, `case ${caseIndex}`);
        const longestLine = Math.max(0, ...whole.split("\n").map((line) => line.length + 1));
        for (const split of splits) {
          ok(split === "" || split.endsWith("\n"), `case ${caseIndex}: ${JSON.stringify(split)}`);
          ok(
            split.length <= Math.ceil(whole.length / count) + 2 * longestLine,
            `case ${caseIndex}`,
          );
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "Dask job range partitions concatenate to the byte-order sort, equal lines together",
  ignore,
  fn: async () => {
    const inputs = fc.sample(
      fc.tuple(
        fc.array(fc.uint8Array({ maxLength: 4 }).map((bytes) => bytes.filter((b) => b !== 10)), {
          maxLength: 40,
        }),
        fc.integer({ min: 1, max: 5 }),
      ),
      { seed: 4242, numRuns: 30 },
    );
    const results = await callPython(
      `result = []
for c in data:
    samples = dask_job.sample_lines(b(c['data']), 8, 1)
    splitters = dask_job.choose_splitters(samples, c['r'])
    result.append([s(p) for p in dask_job.partition_lines(b(c['data']), splitters)])`,
      inputs.map(([lines, partitions]) => ({
        data: lines.map((line) => `${latin1(line)}\n`).join(""),
        r: partitions,
      })),
    ) as string[][];
    for (const [caseIndex, [lines, partitions]] of inputs.entries()) {
      const got = results[caseIndex]!;
      ok(got.length >= 1 && got.length <= partitions);
      const sorted = got.map((part) =>
        part.split("\n").slice(0, -1).map((line) => Uint8Array.from(line, (c) => c.charCodeAt(0)))
          .sort(compareBytes).map((line) => `${latin1(line)}\n`).join("")
      );
      const expected = [...lines].sort(compareBytes).map((line) => `${latin1(line)}\n`).join("");
      strictEqual(sorted.join(""), expected);
      for (const line of new Set(lines.map(latin1))) {
        strictEqual(got.filter((part) => `\n${part}`.includes(`\n${line}\n`)).length, 1);
      }
    }
  },
});

Deno.test({
  name: "Dask job contract (serial engine, 4 splits, 3 reducers, a killed map re-run) holds",
  ignore,
  fn: async () => {
    const corpus = new URL("../../data/corpus/", import.meta.url).pathname;
    await ensureBuilt();
    const report = await Deno.makeTempFile({ prefix: "spillway-dask-report-" });
    try {
      const output = await new Deno.Command("python3", {
        args: [
          JOB,
          "--engine=serial",
          "--splits=4",
          "--reducers=3",
          "--task-memory=256k",
          "--task-arg=--segment-size=4k",
          "--inject-failure",
          `--report-json=${report}`,
          `--spillway-json=${JSON.stringify(await spillwayCommand())}`,
          ...["part-1.txt", "part-2.txt", "part-3.txt"].map((name) => `${corpus}${name}`),
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stdout = new TextDecoder().decode(output.stdout);
      strictEqual(output.code, 0, stdout + new TextDecoder().decode(output.stderr));
      const result = JSON.parse(await Deno.readTextFile(report));
      for (const job of ["count", "sort"]) {
        strictEqual(result.jobs[job].equal, true, job);
        ok(result.jobs[job].bytes > 100_000, job);
      }
      const countTasks = result.jobs.count.tasks as Array<Record<string, unknown>>;
      strictEqual(countTasks.filter((task) => String(task.task).startsWith("map")).length, 4);
      ok(countTasks.every((task) => task.in_bytes !== 0 || !String(task.task).startsWith("map")));
      ok(String(countTasks[0]!.note).startsWith("re-run"));
    } finally {
      await Deno.remove(report);
    }
  },
});

Deno.test("Dask job runs the compiled binary when there is one, else deno run with the task's flags", async () => {
  const root = await Deno.makeTempDir({ prefix: "spillway-dask-root-" });
  try {
    await Deno.writeTextFile(
      `${root}/deno.json`,
      JSON.stringify({
        tasks: {
          spillway: {
            command: "X=$INIT_CWD deno run --allow-read --v8-flags=-a dist/js/main.js",
            dependencies: ["build"],
          },
        },
      }),
    );
    const rootUrl = new URL(`file://${root}/`);
    deepStrictEqual(await spillwayCommand(rootUrl), [
      Deno.execPath(),
      "run",
      "--allow-read",
      "--v8-flags=-a",
      `${root}/dist/js/main.js`,
    ]);
    await Deno.mkdir(`${root}/dist`);
    await Deno.writeTextFile(`${root}/dist/spillway`, "#!/bin/sh\n", { mode: 0o755 });
    deepStrictEqual(await spillwayCommand(rootUrl), [`${root}/dist/spillway`]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("deno task scale-out:dask says what to install when Dask is missing and apt-get is not there", async () => {
  const bin = await Deno.makeTempDir({ prefix: "spillway-dask-bin-" });
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("../../scripts/scale_out/dask.ts", import.meta.url).pathname],
      env: { PATH: bin, SPILLWAY_DASK_PYTHON: `${bin}/no-python3` },
      stdout: "piped",
      stderr: "piped",
    }).output();
    strictEqual(output.code, 3);
    strictEqual(
      new TextDecoder().decode(output.stderr).trim(),
      "Cannot run the Dask job: Dask is missing and apt-get is not available; install Debian's " +
        "python3-distributed and python3-dask (or dask and distributed for another Python, named " +
        "by SPILLWAY_DASK_PYTHON) and run again",
    );
  } finally {
    await Deno.remove(bin, { recursive: true });
  }
});

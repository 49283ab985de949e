import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { closestMatch, JobFileError, parseJobFile, type StepSchema } from "../../src/job/mod.ts";
import { loadYaml } from "../../src/job/mod.ts";

await loadYaml();

const schema: StepSchema = new Map([
  ["sort", ["reverse", "unique", "memory", "segment-size", "tmp-dir", "key", "fan-in", "output"]],
  ["count", ["top", "memory", "format", "output"]],
  ["gen", ["kind", "size", "seed", "output"]],
]);

function parse(text: string) {
  return parseJobFile(text, { path: "jobs/demo.yaml", schema });
}

/** Parses and returns the error's message, asserting it is a JobFileError. */
function errorOf(text: string): string {
  try {
    parse(text);
  } catch (error) {
    if (!(error instanceof JobFileError)) throw error;
    strictEqual(error.exitCode, 2);
    return error.message;
  }
  throw new Error("expected a JobFileError");
}

Deno.test("parseJobFile reads Flink's configuration keys, bare numbers as bytes", () => {
  const job = parse(`name: nightly
config:
  taskmanager.memory.managed.size: 65536
  taskmanager.memory.segment-size: 4kb
  io.tmp.dirs: spill-a, /var/spill-b
  taskmanager.runtime.max-fan: 16
  spill: file
  leak-detection: paranoid
steps:
  - sort: { input: a.txt }
`);
  strictEqual(job.name, "nightly");
  deepStrictEqual(job.config, {
    memoryBytes: 65536,
    segmentBytes: 4096,
    tmpDirs: ["jobs/spill-a", "/var/spill-b"],
    fanInMax: 16,
    spill: "file",
    leakDetection: "paranoid",
  });
});

Deno.test("parseJobFile resolves step paths against the job file's folder", () => {
  const job = parse(`steps:
  - gen: { kind: zipf, size: 1000, output: corpus.txt }
  - sort:
      name: sort the corpus
      input: [corpus.txt, ../other.txt, /abs/x.txt, "-"]
      output: out/sorted.txt
      reverse: true
      unique: false
      key: ["2,2n", "1"]
      tmp-dir: spill
      memory: 2048
`);
  strictEqual(job.name, "demo");
  strictEqual(job.steps.length, 2);
  const sort = job.steps[1]!;
  strictEqual(sort.name, "sort the corpus");
  strictEqual(sort.index, 2);
  deepStrictEqual(sort.inputs, ["jobs/corpus.txt", "other.txt", "/abs/x.txt", "-"]);
  strictEqual(sort.output, "jobs/out/sorted.txt");
  deepStrictEqual(sort.options.map((option) => [option.key, option.value]), [
    ["reverse", true],
    ["unique", false],
    ["key", ["2,2n", "1"]],
    ["tmp-dir", "jobs/spill"],
    ["memory", "2048b"],
  ]);
  deepStrictEqual(sort.options[0]!.position, { line: 7, column: 7 });
  strictEqual(job.steps[0]!.name, "step 1 (gen)");
});

Deno.test("parseJobFile names line and column of an unknown configuration key", () => {
  strictEqual(
    errorOf(`config:\n  taskmanager.memory.managed.sise: 64m\nsteps:\n  - sort: {}\n`),
    'jobs/demo.yaml:2:3: Unknown configuration key "taskmanager.memory.managed.sise"; ' +
      'did you mean "taskmanager.memory.managed.size"?',
  );
});

Deno.test("parseJobFile suggests the nearest option of the step's command", () => {
  strictEqual(
    errorOf(`steps:\n  - sort:\n      input: a\n      revrse: true\n`),
    'jobs/demo.yaml:4:7: Unknown option of sort "revrse"; did you mean "reverse"?',
  );
  strictEqual(
    errorOf(`steps:\n  - srot: { input: a }\n`),
    'jobs/demo.yaml:2:5: Unknown step command "srot"; did you mean "sort"?',
  );
  strictEqual(
    errorOf(`stepz:\n  - sort: {}\n`),
    'jobs/demo.yaml:1:1: Unknown top-level key "stepz"; did you mean "steps"?',
  );
});

Deno.test("parseJobFile lists the known keys when nothing is close", () => {
  strictEqual(
    errorOf(`steps:\n  - count: { zzzzzzzz: 1 }\n`),
    'jobs/demo.yaml:2:14: Unknown option of count "zzzzzzzz"; known: name, input, output, ' +
      "top, memory, format, output",
  );
});

Deno.test("parseJobFile rejects bad values at the value's position", () => {
  const cases: Array<[string, RegExp]> = [
    [
      "config:\n  taskmanager.memory.managed.size: 64q\nsteps:\n  - sort: {}\n",
      /^jobs\/demo\.yaml:2:36: Invalid taskmanager\.memory\.managed\.size "64q": unknown unit "q"/,
    ],
    [
      "config:\n  taskmanager.memory.segment-size: 3000\nsteps:\n  - sort: {}\n",
      /^jobs\/demo\.yaml:2:36: Invalid taskmanager\.memory\.segment-size "3000": must be a power of two/,
    ],
    [
      "config:\n  taskmanager.runtime.max-fan: 1\nsteps:\n  - sort: {}\n",
      /^jobs\/demo\.yaml:2:32: Invalid taskmanager\.runtime\.max-fan "1": expected a whole number from 2/,
    ],
    [
      "config:\n  spill: disk\nsteps:\n  - sort: {}\n",
      /^jobs\/demo\.yaml:2:10: Invalid spill "disk": use one of file, mmap, auto$/,
    ],
    [
      "config:\n  leak-detection: loud\nsteps:\n  - sort: {}\n",
      /^jobs\/demo\.yaml:2:19: Invalid leak-detection "loud": use one of disabled, simple/,
    ],
    [
      "config:\n  io.tmp.dirs: ' , '\nsteps:\n  - sort: {}\n",
      /^jobs\/demo\.yaml:2:16: Empty io\.tmp\.dirs: give at least one directory$/,
    ],
    ["steps:\n  - sort:\n      output:\n", /^jobs\/demo\.yaml:3:14: Missing value of "output"$/],
  ];
  for (const [text, expected] of cases) {
    const message = errorOf(text);
    strictEqual(expected.test(message), true, `${JSON.stringify(text)} gave: ${message}`);
  }
});

Deno.test("parseJobFile reports YAML syntax errors with a position", () => {
  const message = errorOf("steps:\n  - sort: { input: [a, b }\n");
  strictEqual(/^jobs\/demo\.yaml:2:\d+: Invalid YAML: /.test(message), true, message);
  strictEqual(message.includes("\n"), false);
});

Deno.test("parseJobFile rejects a job without steps and malformed steps", () => {
  strictEqual(
    errorOf("config: {}\n"),
    "jobs/demo.yaml:1:1: The job has no steps: add `steps:` with at least one of sort, count, merge, gen",
  );
  strictEqual(
    /^jobs\/demo\.yaml:1:1: A job file must be a mapping/.test(errorOf("- sort\n")),
    true,
  );
  strictEqual(
    /^jobs\/demo\.yaml:2:5: Step 1 must be one command/.test(
      errorOf("steps:\n  - sort: {}\n    count: {}\n"),
    ),
    true,
  );
  strictEqual(
    /^jobs\/demo\.yaml:1:8: `steps:` must be a list/.test(errorOf("steps: sort\n")),
    true,
  );
  strictEqual(
    /^jobs\/demo\.yaml:2:22: Invalid value of "reverse": expected a single value/.test(
      errorOf("steps:\n  - sort: { reverse: { a: 1 } }\n"),
    ),
    true,
  );
  // Duplicate keys are YAML errors, not silent overrides.
  strictEqual(/Invalid YAML/.test(errorOf("steps:\n  - sort: {}\nsteps:\n  - sort: {}\n")), true);
});

Deno.test("closestMatch only suggests near words", () => {
  strictEqual(closestMatch("io.tmp.dir", ["io.tmp.dirs", "spill"]), "io.tmp.dirs");
  strictEqual(closestMatch("Spill", ["io.tmp.dirs", "spill"]), "spill");
  strictEqual(closestMatch("xyz", ["spill"]), undefined);
  throws(() => parse("steps: [\n"), JobFileError);
});

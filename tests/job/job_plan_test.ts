import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { parseJobFile, stepArgv, type StepSchema } from "../../src/job/mod.ts";
import { planJob } from "../../src/job/job_plan.ts";
import { planSort } from "../../src/sort/mod.ts";
import { loadYaml } from "../../src/job/mod.ts";

await loadYaml();

const schema: StepSchema = new Map([
  ["sort", ["memory", "segment-size", "tmp-dir", "fan-in", "spill", "reverse", "output", "key"]],
  ["count", ["memory", "top", "output"]],
  ["merge", ["memory", "sum", "output", "fan-in"]],
  ["gen", ["kind", "size", "output"]],
]);

const job = parseJobFile(
  `config:
  taskmanager.memory.managed.size: 65536
  taskmanager.memory.segment-size: 4096
  io.tmp.dirs: a,b
  taskmanager.runtime.max-fan: 4
  spill: file
steps:
  - gen: { kind: zipf, size: 100k, output: corpus.txt }
  - sort: { input: corpus.txt, output: sorted.txt, reverse: true, tmp-dir: own }
  - count: { input: [big.txt], top: 5, memory: 1m }
  - merge: { input: [p1, p2, p3, p4, p5], output: merged.txt }
  - merge: { input: [p1, p2], sum: true }
`,
  { path: "j/job.yaml", schema },
);

Deno.test("stepArgv puts config first, step options after, inputs after --", () => {
  const argvOf = (index: number) =>
    stepArgv(job.config, job.steps[index]!, schema.get(job.steps[index]!.command)!);
  deepStrictEqual(argvOf(0), ["--kind=zipf", "--size=100k", "--output=j/corpus.txt"]);
  // The configuration is the operators' budget: gen keeps its own even if it takes --memory.
  deepStrictEqual(
    stepArgv(job.config, job.steps[0]!, ["kind", "size", "output", "memory", "segment-size"]),
    ["--kind=zipf", "--size=100k", "--output=j/corpus.txt"],
  );
  deepStrictEqual(argvOf(1), [
    "--memory=65536b",
    "--segment-size=4096b",
    "--fan-in=4",
    "--spill=file",
    "--reverse",
    "--tmp-dir=j/own",
    "--output=j/sorted.txt",
    "--",
    "j/corpus.txt",
  ]);
  // The step's own memory wins; count does not take tmp-dir or spill.
  deepStrictEqual(argvOf(2), ["--top=5", "--memory=1m", "--", "j/big.txt"]);
});

Deno.test("planJob estimates runs and merge passes from input sizes", () => {
  const sizes = new Map([["j/big.txt", 10 * 1024 * 1024], ["j/p1", 10], ["j/p2", 20]]);
  const plans = planJob(job, () => [], {
    fileBytes: (path) => sizes.get(path) ?? (path.startsWith("j/p") ? 5 : undefined),
    defaultMemoryBytes: 1 << 20,
  });
  strictEqual(plans.length, 5);
  // gen: output size from its option; the sort reads it.
  strictEqual(plans[0]!.outputBytes, 100 * 1024);
  const sort = plans[1]!;
  strictEqual(sort.inputBytes, 100 * 1024);
  strictEqual(sort.memoryBytes, 65536);
  strictEqual(sort.segmentCount, 16);
  // 16 pages: 5 for I/O, 11 left (no headroom: long lines borrow the buffers' pages): two
  // buffers of 5 pages (3 data, 2 index of 507 entries and an 80-byte head), no spill ring (the kernel area does
  // not fit); merge: 4 runs at once, 2 while a buffer stays in memory.
  const layout = planSort({ freeSegments: 16, segmentBytes: 4096, useWorker: true, fanInMax: 4 });
  deepStrictEqual(
    [
      layout.bufferSegments,
      layout.bufferDataSegments * 4096,
      layout.bufferIndexEntries,
      layout.mergeFanIn,
      layout.mergeFanInBesideBuffer,
    ],
    [5, 12288, 507, 4, 2],
  );
  strictEqual(sort.fanIn, 4);
  // Lines of unknown length count as 64 bytes: by bytes 9 buffers (100 KiB / 12 KiB), by
  // records 7 (1600 / 256); 9 is more than the fan-in of 4: all 9 spilled, merged in 2 passes.
  strictEqual(sort.expectedRuns, 9);
  strictEqual(sort.mergePasses, 2);
  // count: the runs depend on the distinct words, so the plan shows the table, not a guess.
  const count = plans[2]!;
  strictEqual(count.memoryBytes, 1 << 20);
  strictEqual(count.segmentCount, 256);
  strictEqual(count.expectedRuns, undefined);
  strictEqual(count.mergePasses, undefined);
  // 256 pages less a 32-page input chunk, 4 pages and the long-line room (a quarter of the
  // budget and its newline, 65 pages, plus one): 154 pages of 4 KiB.
  strictEqual(
    count.summary.includes(
      // 10 MiB under the default --threads auto: no Worker below 32 MiB (measured slower).
      "hash table of 616 KiB: runs",
    ),
    true,
  );
  // merge of 5 sorted inputs at fan-in 4: 2 passes; no runs.
  strictEqual(plans[3]!.inputBytes, 10 + 20 + 5 * 3);
  strictEqual(plans[3]!.mergePasses, 2);
  strictEqual(plans[3]!.expectedRuns, 0);
  strictEqual(plans[4]!.mergePasses, undefined);
});

Deno.test("planJob says 0 runs when the input fits and unknown for unknown sizes", () => {
  const one = parseJobFile("steps:\n  - sort: { input: x.txt }\n", { path: "j.yaml", schema });
  const small = planJob(one, () => [], { fileBytes: () => 1000, defaultMemoryBytes: 1 << 20 });
  strictEqual(small[0]!.expectedRuns, 0);
  strictEqual(small[0]!.mergePasses, 0);
  strictEqual(small[0]!.summary.includes("expect 0 runs, 0 merge pass(es)"), true);
  const unknown = planJob(job, () => [], {
    fileBytes: () => undefined,
    defaultMemoryBytes: 1 << 20,
  });
  strictEqual(unknown[2]!.inputBytes, undefined);
  strictEqual(unknown[1]!.inputBytes, 100 * 1024, "gen's output size is known");
  strictEqual(unknown[3]!.inputBytes, undefined);
  strictEqual(unknown[3]!.summary.includes("5 inputs of unknown size"), true);
});

Deno.test("planJob counts runs by records when lines are short", () => {
  const plans = planJob(job, () => [], {
    fileBytes: () => 100 * 1024,
    recordBytes: () => 8,
    defaultMemoryBytes: 1 << 20,
  });
  // 12800 lines of 8 bytes, 507 entries per buffer: 26 runs (bytes alone would say 9).
  strictEqual(plans[1]!.expectedRuns, 26);
  strictEqual(plans[1]!.mergePasses, 3);
  strictEqual(plans[1]!.summary.includes("(lines of ~8 bytes)"), true);
});

Deno.test("planJob shows where a large count table starts", () => {
  const large = parseJobFile(
    `steps:
  - count: { input: [big.txt], memory: 64m }
`,
    { path: "j/job.yaml", schema },
  );
  const [count] = planJob(large, () => [], {
    fileBytes: () => 100 * 1024 * 1024,
    defaultMemoryBytes: 64 * 1024 * 1024,
  });
  // 64 MiB of 32 KiB pages: the table may take ~45 MiB and starts at 16 MiB.
  strictEqual(
    count!.summary.includes(
      "hash table of 46.8 MiB, starts at 16 MiB and grows while it aggregates or its runs near the fan-in",
    ),
    true,
    count!.summary,
  );
});

import { formatBytes, parseByteSize } from "../base/mod.ts";
import { SEGMENT_BYTES_DEFAULT } from "../memory/mod.ts";
import type { JobConfig, JobSpec, JobStep } from "./job_file.ts";

/**
 * The command line a step runs, as arguments after the command name: configuration first
 * (as options the command accepts), then the step's options (which win), then `--output`,
 * then `--` and the inputs.
 *
 * Sizes from the job file are passed with an explicit unit (`--memory=65536b`), because a bare
 * number means bytes in a job file and KiB on the command line.
 *
 * @param config The job's configuration.
 * @param step The step.
 * @param accepted The command's long option names.
 * @returns The arguments.
 *
 * @example Usage
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { stepArgv } from "./job_plan.ts";
 * const step = {
 *   index: 1, command: "sort", name: "s", inputs: ["a.txt"], output: "b.txt",
 *   options: [{ key: "reverse", value: true, position: { line: 1, column: 1 } }],
 *   position: { line: 1, column: 1 },
 * };
 * deepStrictEqual(
 *   stepArgv({ memoryBytes: 65536 }, step, ["memory", "reverse", "output"]),
 *   ["--memory=65536b", "--reverse", "--output=b.txt", "--", "a.txt"],
 * );
 * ```
 */
export function stepArgv(config: JobConfig, step: JobStep, accepted: readonly string[]): string[] {
  const argv: string[] = [];
  const own = new Set(step.options.map((option) => option.key));
  const fromConfig = (key: string, values: string[]): void => {
    if (!accepted.includes(key) || own.has(key)) return;
    for (const value of values) argv.push(`--${key}=${value}`);
  };
  if (config.memoryBytes !== undefined) fromConfig("memory", [`${config.memoryBytes}b`]);
  if (config.segmentBytes !== undefined) fromConfig("segment-size", [`${config.segmentBytes}b`]);
  if (config.tmpDirs !== undefined) fromConfig("tmp-dir", config.tmpDirs);
  if (config.fanInMax !== undefined) fromConfig("fan-in", [String(config.fanInMax)]);
  if (config.spill !== undefined) fromConfig("spill", [config.spill]);
  if (config.leakDetection !== undefined) fromConfig("leak-detection", [config.leakDetection]);
  for (const option of step.options) {
    if (option.value === true) argv.push(`--${option.key}`);
    else if (option.value === false) argv.push(`--no-${option.key}`);
    else if (Array.isArray(option.value)) {
      for (const value of option.value) argv.push(`--${option.key}=${value}`);
    } else argv.push(`--${option.key}=${option.value}`);
  }
  if (step.output !== undefined) argv.push(`--output=${step.output}`);
  if (step.inputs.length > 0) argv.push("--", ...step.inputs);
  return argv;
}

/** What `--dry-run` says about one step. */
export interface StepPlan {
  /** The step. */
  step: JobStep;
  /** The arguments the command will get. */
  argv: string[];
  /** Total input bytes (undefined when an input's size is unknown: stdin, pipes, or a file an
   * earlier step makes with unknown size). */
  inputBytes: number | undefined;
  /** The memory budget of the step in bytes. */
  memoryBytes: number;
  /** The page size in bytes. */
  segmentBytes: number;
  /** Pages in the budget. */
  pages: number;
  /** The most runs merged at once. */
  fanIn: number;
  /** Expected sorted runs spilled (0: fits in memory; undefined: unknown). */
  expectedRuns: number | undefined;
  /** Expected merge passes (undefined: unknown). */
  mergePasses: number | undefined;
  /** Expected output bytes, when it follows from the input (sort, merge) or options (gen). */
  outputBytes: number | undefined;
  /** One line for people. */
  summary: string;
}

/** Sizes and defaults the planner needs from outside (the CLI stats the input files). */
export interface PlanInputs {
  /** Size in bytes of an existing input file, or undefined if unknown. */
  fileBytes: (path: string) => number | undefined;
  /** The budget a command uses when neither the job nor the step sets one. */
  defaultMemoryBytes: number;
  /** The merge fan-in limit when not configured (Flink's default is 128). */
  defaultFanInMax?: number;
}

/**
 * Fraction of the budget that holds records while sorting: the rest is the index (pointer and
 * key prefix per record) and the write-behind buffers of a spilling run.
 */
export const SORT_BUFFER_FRACTION = 0.7;

/**
 * Plans a job for `--dry-run`: per step the memory, expected runs and merge passes from the
 * input sizes (earlier steps' outputs are estimated from their inputs).
 *
 * Runs: `ceil(inputBytes / (budget * SORT_BUFFER_FRACTION))`, or 0 when the input fits in one
 * buffer. Merge passes: the least k with `fanIn^k >= runs`, where fan-in is the configured
 * maximum capped by the pages (one read page per run plus one output page).
 *
 * @param job The validated job.
 * @param argvOf The arguments each step will get (see {@linkcode stepArgv}).
 * @param inputs File sizes and defaults.
 * @returns One plan per step.
 */
export function planJob(
  job: JobSpec,
  argvOf: (step: JobStep) => string[],
  inputs: PlanInputs,
): StepPlan[] {
  const producedBytes = new Map<string, number | undefined>();
  const plans: StepPlan[] = [];
  for (const step of job.steps) {
    const memoryBytes = sizeOption(step, "memory") ?? job.config.memoryBytes ??
      inputs.defaultMemoryBytes;
    const segmentBytes = sizeOption(step, "segment-size") ?? job.config.segmentBytes ??
      SEGMENT_BYTES_DEFAULT;
    const pages = Math.floor(memoryBytes / segmentBytes);
    const fanInOption = step.options.find((option) => option.key === "fan-in");
    const fanInMax = typeof fanInOption?.value === "string"
      ? Number(fanInOption.value)
      : job.config.fanInMax ?? inputs.defaultFanInMax ?? 128;
    const fanIn = Math.max(2, Math.min(fanInMax, pages - 1));
    let inputBytes: number | undefined = 0;
    for (const path of step.inputs) {
      const bytes = producedBytes.has(path) ? producedBytes.get(path) : inputs.fileBytes(path);
      inputBytes = bytes === undefined || inputBytes === undefined ? undefined : inputBytes + bytes;
    }
    let expectedRuns: number | undefined = undefined;
    let mergePasses: number | undefined = undefined;
    let outputBytes: number | undefined = undefined;
    let summary: string;
    const budget = `memory ${formatBytes(memoryBytes)} = ${pages} pages of ${
      formatBytes(segmentBytes)
    }`;
    const input = inputBytes === undefined
      ? `${step.inputs.length} inputs of unknown size`
      : `${step.inputs.length} input${step.inputs.length === 1 ? "" : "s"}, ${
        formatBytes(inputBytes)
      }`;
    if (step.command === "sort" || step.command === "count") {
      if (inputBytes !== undefined) {
        const bufferBytes = Math.max(1, pages * segmentBytes * SORT_BUFFER_FRACTION);
        expectedRuns = inputBytes <= bufferBytes ? 0 : Math.ceil(inputBytes / bufferBytes);
        mergePasses = passesFor(expectedRuns, fanIn);
      }
      if (step.command === "sort") outputBytes = inputBytes;
      const bound = step.command === "count" ? "at most " : "";
      summary = `${input}; ${budget}; expect ${
        expectedRuns === undefined ? "unknown" : `${bound}${expectedRuns}`
      } runs, ${
        mergePasses === undefined ? "unknown" : `${bound}${mergePasses}`
      } merge passes (fan-in ${fanIn})`;
    } else if (step.command === "merge") {
      const sum = step.options.some((option) => option.key === "sum" && option.value === true);
      expectedRuns = sum ? undefined : 0;
      mergePasses = sum ? undefined : passesFor(step.inputs.length, fanIn);
      outputBytes = sum ? undefined : inputBytes;
      summary = `${input}; ${budget}; ${
        sum
          ? "sums counts (runs depend on distinct words)"
          : `${mergePasses} merge passes (fan-in ${fanIn})`
      }`;
    } else {
      outputBytes = sizeOption(step, "size");
      summary = `writes ${outputBytes === undefined ? "a corpus" : formatBytes(outputBytes)} to ${
        step.output ?? "stdout"
      }`;
    }
    if (step.output !== undefined) producedBytes.set(step.output, outputBytes);
    plans.push({
      step,
      argv: argvOf(step),
      inputBytes,
      memoryBytes,
      segmentBytes,
      pages,
      fanIn,
      expectedRuns,
      mergePasses,
      outputBytes,
      summary,
    });
  }
  return plans;
}

/**
 * Merge passes needed to merge `runs` runs with at most `fanIn` at once.
 *
 * @param runs Sorted runs (0 or 1: no merge pass).
 * @param fanIn At least 2.
 * @returns The least k with fanIn^k >= runs.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { passesFor } from "./job_plan.ts";
 * strictEqual(passesFor(1, 8), 0);
 * strictEqual(passesFor(8, 8), 1);
 * strictEqual(passesFor(9, 8), 2);
 * ```
 */
export function passesFor(runs: number, fanIn: number): number {
  let passes = 0;
  let capacity = 1;
  while (capacity < runs) {
    capacity *= fanIn;
    passes += 1;
  }
  return passes;
}

function sizeOption(step: JobStep, key: string): number | undefined {
  const option = step.options.find((candidate) => candidate.key === key);
  if (typeof option?.value !== "string") return undefined;
  try {
    return parseByteSize(option.value, { bareUnitBytes: 1 });
  } catch {
    return undefined; // the command reports a bad size when it runs
  }
}

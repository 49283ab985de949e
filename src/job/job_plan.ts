import { formatBytes, parseByteSize } from "../base/mod.ts";
import { AUTO_WORKER_LARGE_INPUT_BYTES, planCount, WORKER_START_BYTES } from "../count/mod.ts";
import { SEGMENT_BYTES_DEFAULT } from "../memory/mod.ts";
import {
  affordableFanIn,
  estimateSortRuns,
  FAN_IN_DEFAULT,
  MERGE_SPARE_SEGMENTS,
  mergeOutputSegments,
  mergePassCount,
  planSort,
} from "../sort/mod.ts";
import type { JobSpec, JobStep } from "./job_file.ts";

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
  segmentCount: number;
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
  /** Average record length (terminator included) of an existing input, from a sample. */
  recordBytes?: (path: string) => number | undefined;
  /** The budget a command uses when neither the job nor the step sets one. */
  defaultMemoryBytes: number;
  /** The page size a command picks for a budget when none is set (default 32 KiB). */
  defaultSegmentBytes?: (step: JobStep, memoryBytes: number) => number;
  /** The merge fan-in limit when not configured (Flink's default is 128). */
  defaultFanInMax?: number;
}

/**
 * Plans a job for `--dry-run`: per step the memory, expected runs and merge passes from the
 * input sizes (earlier steps' outputs are estimated from their inputs).
 *
 * Sort runs: how many sort buffers the input fills, by bytes or by records (lines of the
 * sampled average length), 0 when one buffer holds it all: the sort layer's `planSort` and
 * `estimateSortRuns`. Merge passes: the merge plan's `mergePassCount`. Count: `planCount`.
 *
 * @param job The validated job.
 * @param argvOf The arguments each step will get (see `stepArgv`).
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
    const context = stepContext(job, step, inputs, producedBytes);
    const estimate = step.command === "sort" && context.checks
      ? checkEstimate(context)
      : step.command === "sort"
      ? sortEstimate(context)
      : step.command === "count"
      ? countEstimate(context)
      : step.command === "merge"
      ? mergeEstimate(context)
      : genEstimate(context);
    if (step.output !== undefined) producedBytes.set(step.output, estimate.outputBytes);
    plans.push({
      step,
      argv: argvOf(step),
      inputBytes: context.inputBytes,
      memoryBytes: context.memoryBytes,
      segmentBytes: context.segmentBytes,
      segmentCount: context.segmentCount,
      ...estimate,
    });
  }
  return plans;
}

/** What every step's estimate starts from. */
interface StepContext {
  step: JobStep;
  memoryBytes: number;
  segmentBytes: number;
  segmentCount: number;
  fanInMax: number;
  /** Fan-in of a merge with every segment free (the merge plan). */
  mergeFanIn: number;
  inputBytes: number | undefined;
  /** The largest sampled average record length of the inputs. */
  recordBytes: number | undefined;
  /** Whether a sort step only checks (`check`). */
  checks: boolean;
  /** "N inputs, SIZE" for the summary. */
  inputText: string;
  /** "memory SIZE = N segments of SIZE" for the summary. */
  budgetText: string;
}

/** What a step's estimate adds to its plan. */
type StepEstimate = Pick<
  StepPlan,
  "fanIn" | "expectedRuns" | "mergePasses" | "outputBytes" | "summary"
>;

function stepContext(
  job: JobSpec,
  step: JobStep,
  inputs: PlanInputs,
  producedBytes: ReadonlyMap<string, number | undefined>,
): StepContext {
  const config = step.command === "gen" ? {} : job.config;
  const memoryBytes = sizeOption(step, "memory") ?? config.memoryBytes ??
    inputs.defaultMemoryBytes;
  const segmentBytes = sizeOption(step, "segment-size") ?? config.segmentBytes ??
    inputs.defaultSegmentBytes?.(step, memoryBytes) ?? SEGMENT_BYTES_DEFAULT;
  const segmentCount = Math.floor(memoryBytes / segmentBytes);
  const fanInOption = step.options.find((option) => option.key === "fan-in");
  const fanInMax = typeof fanInOption?.value === "string"
    ? Number(fanInOption.value)
    : config.fanInMax ?? inputs.defaultFanInMax ?? FAN_IN_DEFAULT;
  const mergeFanIn = Math.max(
    2,
    affordableFanIn(
      segmentCount,
      mergeOutputSegments(segmentCount, segmentBytes) + MERGE_SPARE_SEGMENTS,
      fanInMax,
    ),
  );
  let inputBytes: number | undefined = 0;
  for (const path of step.inputs) {
    const bytes = producedBytes.has(path) ? producedBytes.get(path) : inputs.fileBytes(path);
    inputBytes = bytes === undefined || inputBytes === undefined ? undefined : inputBytes + bytes;
  }
  let recordBytes: number | undefined = undefined;
  for (const path of step.inputs) {
    const sampled = inputs.recordBytes?.(path);
    if (sampled !== undefined) recordBytes = Math.max(recordBytes ?? 0, sampled);
  }
  const count = step.inputs.length;
  return {
    step,
    memoryBytes,
    segmentBytes,
    segmentCount,
    fanInMax,
    mergeFanIn,
    inputBytes,
    recordBytes,
    checks: step.command === "sort" &&
      step.options.some((option) => option.key === "check" && option.value !== false),
    inputText: inputBytes === undefined
      ? `${count} inputs of unknown size`
      : `${count} input${count === 1 ? "" : "s"}, ${formatBytes(inputBytes)}`,
    budgetText: `memory ${formatBytes(memoryBytes)} = ${segmentCount} segments of ${
      formatBytes(segmentBytes)
    }`,
  };
}

function recordsText(context: StepContext): string {
  return context.recordBytes === undefined
    ? ""
    : ` (lines of ~${Math.round(context.recordBytes)} bytes)`;
}

function checkEstimate(context: StepContext): StepEstimate {
  return {
    fanIn: context.mergeFanIn,
    expectedRuns: 0,
    mergePasses: 0,
    outputBytes: undefined,
    summary:
      `${context.inputText}; ${context.budgetText}; checks the order (reads once, writes nothing)`,
  };
}

/** Sort: how many buffers the input fills (by bytes or by records), through the sort plan. */
function sortEstimate(context: StepContext): StepEstimate {
  const { inputBytes, segmentBytes, fanInMax } = context;
  let fanIn = context.mergeFanIn;
  let expectedRuns: number | undefined = undefined;
  let mergePasses: number | undefined = undefined;
  if (inputBytes !== undefined) {
    const plan = planSort({
      freeSegments: context.segmentCount,
      segmentBytes,
      useWorker: true,
      fanInMax,
    });
    fanIn = plan.mergeFanIn;
    const records = inputBytes / Math.max(1, context.recordBytes ?? 64);
    const buffers = Math.ceil(
      Math.max(
        inputBytes / (plan.bufferDataSegments * segmentBytes),
        records / plan.bufferIndexEntries,
      ),
    );
    const planned = estimateSortRuns(plan, buffers, fanInMax);
    expectedRuns = planned.runCount;
    mergePasses = planned.mergePassCount;
  }
  return {
    fanIn,
    expectedRuns,
    mergePasses,
    outputBytes: inputBytes,
    summary: `${context.inputText}${recordsText(context)}; ${context.budgetText}; expect ${
      expectedRuns === undefined ? "unknown" : expectedRuns
    } runs, ${
      mergePasses === undefined ? "unknown" : mergePasses
    } merge pass(es) (fan-in ${fanIn})`,
  };
}

/** Count: runs depend on the distinct words (unknown before reading); show the table instead. */
function countEstimate(context: StepContext): StepEstimate {
  const { step, inputBytes, segmentBytes, segmentCount } = context;
  const plan = planCount({
    totalSegments: segmentCount,
    freeSegments: segmentCount,
    segmentBytes,
    threads: 1,
  });
  const tableBytes = Math.max(0, plan.tableSegments) * segmentBytes;
  const firstBytes = Math.max(0, plan.tableSegmentsFirst) * segmentBytes;
  const growth = firstBytes < tableBytes
    ? `, starts at ${
      formatBytes(firstBytes)
    } and grows while it aggregates or its runs near the fan-in`
    : "";
  return {
    fanIn: context.mergeFanIn,
    expectedRuns: inputBytes === 0 ? 0 : undefined,
    mergePasses: inputBytes === 0 ? 0 : undefined,
    outputBytes: undefined,
    summary: `${context.inputText}${recordsText(context)}; ${context.budgetText}; hash table of ${
      formatBytes(tableBytes)
    }${growth}${
      workerNote(step.options, inputBytes ?? 0)
    }: runs depend on the distinct words (0 when they fit)`,
  };
}

/** Merge: passes of the merge plan over the inputs; `--sum` depends on the distinct words. */
function mergeEstimate(context: StepContext): StepEstimate {
  const { step, inputBytes } = context;
  const fanIn = context.mergeFanIn;
  const sum = step.options.some((option) => option.key === "sum" && option.value === true);
  const mergePasses = sum ? undefined : mergePassCount(step.inputs.length, fanIn);
  return {
    fanIn,
    expectedRuns: sum ? undefined : 0,
    mergePasses,
    outputBytes: sum ? undefined : inputBytes,
    summary: `${context.inputText}; ${context.budgetText}; ${
      sum
        ? "sums counts (runs depend on distinct words)"
        : `${mergePasses} merge pass(es) (fan-in ${fanIn})`
    }`,
  };
}

function genEstimate(context: StepContext): StepEstimate {
  const outputBytes = sizeOption(context.step, "size");
  return {
    fanIn: context.mergeFanIn,
    expectedRuns: undefined,
    mergePasses: undefined,
    outputBytes,
    summary: `writes ${outputBytes === undefined ? "a corpus" : formatBytes(outputBytes)} to ${
      context.step.output ?? "stdout"
    }`,
  };
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

/**
 * The dry run's note on the counting Worker: with `threads: 2` it starts past 4 MiB; by
 * default (`auto`) from 32 MiB inputs when two cores are free to use (the run decides).
 */
function workerNote(
  options: ReadonlyArray<{ key: string; value: unknown }>,
  inputBytes: number,
): string {
  const threads = options.find((option) => option.key === "threads")?.value;
  if (threads === "1" || threads === 1) return "";
  if (threads === "2" || threads === 2) {
    return inputBytes > WORKER_START_BYTES
      ? " (about half of it once the counting Worker starts, past 4 MiB)"
      : "";
  }
  return inputBytes >= AUTO_WORKER_LARGE_INPUT_BYTES
    ? " (about half of it once the counting Worker starts, from 32 MiB with two cores)"
    : "";
}

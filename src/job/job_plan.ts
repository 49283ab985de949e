import { formatBytes, parseByteSize } from "../base/mod.ts";
import { SEGMENT_BYTES_DEFAULT } from "../memory/mod.ts";
import type { JobConfig, JobSpec, JobStep } from "./job_file.ts";

/**
 * The command line a step runs, as arguments after the command name: configuration first
 * (as options the command accepts), then the step's options (which win), then `--output`,
 * then `--` and the inputs.
 *
 * The configuration applies to sort, count and merge steps (gen keeps its own budget unless the
 * step sets one). Sizes from the job file are passed with an explicit unit (`--memory=65536b`), because a bare
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
  // The configuration is the budget of the batch operators; gen keeps its own default.
  const configured = step.command !== "gen";
  const fromConfig = (key: string, values: string[]): void => {
    if (!configured || !accepted.includes(key) || own.has(key)) return;
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
  /** Average record length (terminator included) of an existing input, from a sample. */
  recordBytes?: (path: string) => number | undefined;
  /** The budget a command uses when neither the job nor the step sets one. */
  defaultMemoryBytes: number;
  /** The page size a command picks for a budget when none is set (default 32 KiB). */
  defaultSegmentBytes?: (step: JobStep, memoryBytes: number) => number;
  /** The merge fan-in limit when not configured (Flink's default is 128). */
  defaultFanInMax?: number;
}

/** How `spillway sort` splits a budget (mirrors `plan()` in src/sort/external_sort.ts). */
export interface SortLayout {
  /** Pages of one sort buffer (record data plus index). */
  bufferSegments: number;
  /** Bytes of record data one sort buffer holds. */
  bufferDataBytes: number;
  /** Records one sort buffer can index. */
  bufferEntries: number;
  /** Runs merged at once with every page free. */
  fanIn: number;
  /** Runs merged at once while the last buffer stays in memory as a merge input. */
  fanInWithBuffer: number;
}

const ENTRY_BYTES = 16;
const MIN_BUFFER_SEGMENTS = 2;

/**
 * The sort's memory layout for a budget, computed like the sort computes it: fixed I/O pages
 * (input chunk P/32, write-behind P/64 up to 128 KiB, output P/64), a fifth of the rest as
 * headroom for long lines, the remainder as two sort buffers (one sorting on the Worker while
 * the other fills) plus gather pages the Worker copies sorted records into, each buffer 3/4
 * record data and 1/4 index entries of 16 bytes. The merge fan-in is what fits at three pages
 * per run beside the output writer and two spare pages.
 *
 * @param pages Pages in the budget.
 * @param segmentBytes Page size.
 * @param fanInMax The configured fan-in limit.
 * @returns The layout.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { sortLayout } from "./job_plan.ts";
 * strictEqual(sortLayout(64, 4096, 128).fanIn, 20);
 * ```
 */
export function sortLayout(pages: number, segmentBytes: number, fanInMax: number): SortLayout {
  const chunk = clamp(Math.floor(pages / 32), 1, Math.max(1, (4 * 1024 * 1024) / segmentBytes));
  const writeBehind = clamp(Math.floor(pages / 64), 1, Math.max(1, (128 * 1024) / segmentBytes));
  const output = clamp(Math.floor(pages / 64), 1, Math.max(1, (4 * 1024 * 1024) / segmentBytes));
  const fixed = chunk + 1 + writeBehind + output + 1;
  const headroom = Math.floor((pages - fixed) / 5);
  const left = Math.max(MIN_BUFFER_SEGMENTS, pages - fixed - headroom);
  const bufferCount = left >= 2 * MIN_BUFFER_SEGMENTS ? 2 : 1;
  let bufferSegments = Math.floor(left / bufferCount);
  if (bufferCount === 2) {
    const withGather = Math.floor((left - 2) / 2.82);
    const gather = Math.ceil(splitBuffer(withGather, segmentBytes).data * 1.07) + 1;
    if (withGather >= MIN_BUFFER_SEGMENTS && 2 * withGather + gather <= left) {
      bufferSegments = withGather;
    }
  }
  const split = splitBuffer(bufferSegments, segmentBytes);
  const mergeFanIn = (free: number): number => {
    const writer = 1 +
      clamp(Math.floor(free / 64), 1, Math.max(1, (4 * 1024 * 1024) / segmentBytes));
    return Math.max(2, Math.min(fanInMax, Math.floor((free - writer - 2) / 3)));
  };
  return {
    bufferSegments,
    bufferDataBytes: split.data * segmentBytes,
    bufferEntries: split.entries,
    fanIn: mergeFanIn(pages),
    fanInWithBuffer: mergeFanIn(pages - bufferSegments),
  };
}

function splitBuffer(segments: number, segmentBytes: number): { data: number; entries: number } {
  const data = Math.max(1, Math.floor(segments * 0.75));
  const entries = Math.max(1, Math.floor(((segments - data) * segmentBytes) / ENTRY_BYTES));
  return { data, entries };
}

/**
 * Runs and merge passes of a sort that fills `buffers` sort buffers: none when one buffer holds
 * everything; otherwise the last buffer stays in memory as the final merge's last input when
 * all runs fit one merge beside it, else every buffer is spilled and merged in passes.
 *
 * @param buffers Sort buffers the input fills.
 * @param layout The sort's layout.
 * @param fanInMax The configured fan-in limit.
 * @returns Spilled runs and merge passes.
 */
export function sortRunsFor(
  buffers: number,
  layout: SortLayout,
  fanInMax: number,
): { runs: number; mergePasses: number } {
  if (buffers <= 1) return { runs: 0, mergePasses: 0 };
  if (buffers <= fanInMax && buffers <= layout.fanInWithBuffer) {
    return { runs: buffers - 1, mergePasses: 1 };
  }
  const fanIn = buffers <= fanInMax ? layout.fanInWithBuffer : layout.fanIn;
  return { runs: buffers, mergePasses: passesFor(buffers, fanIn) };
}

function clamp(value: number, low: number, high: number): number {
  return value < low ? low : value > high ? high : value;
}

/**
 * Plans a job for `--dry-run`: per step the memory, expected runs and merge passes from the
 * input sizes (earlier steps' outputs are estimated from their inputs).
 *
 * Sort runs: how many sort buffers the input fills, by bytes or by records (lines of the
 * sampled average length), 0 when one buffer holds it all (see {@linkcode sortLayout}).
 * Merge passes: the least k with `fanIn^k >= runs`.
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
    const config = step.command === "gen" ? {} : job.config;
    const memoryBytes = sizeOption(step, "memory") ?? config.memoryBytes ??
      inputs.defaultMemoryBytes;
    const segmentBytes = sizeOption(step, "segment-size") ?? config.segmentBytes ??
      inputs.defaultSegmentBytes?.(step, memoryBytes) ?? SEGMENT_BYTES_DEFAULT;
    const pages = Math.floor(memoryBytes / segmentBytes);
    const fanInOption = step.options.find((option) => option.key === "fan-in");
    const fanInMax = typeof fanInOption?.value === "string"
      ? Number(fanInOption.value)
      : config.fanInMax ?? inputs.defaultFanInMax ?? 128;
    // spillway merge: three pages per input plus four (see mergeFanIn in src/cli).
    let fanIn = Math.max(2, Math.min(fanInMax, Math.floor((pages - 4) / 3)));
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
    const checks = step.command === "sort" &&
      step.options.some((option) => option.key === "check" && option.value !== false);
    if (checks) {
      expectedRuns = 0;
      mergePasses = 0;
      summary = `${input}; ${budget}; checks the order (reads once, writes nothing)`;
    } else if (step.command === "sort" || step.command === "count") {
      let recordBytes: number | undefined = undefined;
      for (const path of step.inputs) {
        const sampled = inputs.recordBytes?.(path);
        if (sampled !== undefined) recordBytes = Math.max(recordBytes ?? 0, sampled);
      }
      if (inputBytes !== undefined) {
        if (step.command === "sort") {
          const layout = sortLayout(pages, segmentBytes, fanInMax);
          fanIn = layout.fanIn;
          const records = inputBytes / Math.max(1, recordBytes ?? 64);
          const buffers = Math.ceil(
            Math.max(inputBytes / layout.bufferDataBytes, records / layout.bufferEntries),
          );
          const planned = sortRunsFor(buffers, layout, fanInMax);
          expectedRuns = planned.runs;
          mergePasses = planned.mergePasses;
        }
      }
      if (step.command === "count") {
        // Runs depend on the distinct words (unknown before reading), not on the input size.
        expectedRuns = undefined;
        mergePasses = undefined;
        if (inputBytes === 0) {
          expectedRuns = 0;
          mergePasses = 0;
        }
      }
      if (step.command === "sort") outputBytes = inputBytes;
      const records = recordBytes === undefined
        ? ""
        : ` (lines of ~${Math.round(recordBytes)} bytes)`;
      if (step.command === "count") {
        const chunkPages = Math.max(
          1,
          Math.min(Math.ceil((1 << 20) / segmentBytes), Math.floor(pages / 8)),
        );
        const tableBytes = Math.max(0, pages - chunkPages - 4) * segmentBytes;
        summary = `${input}${records}; ${budget}; hash table of ${formatBytes(tableBytes)}${
          (inputBytes ?? 0) > 4 * 1024 * 1024 &&
            !step.options.some((option) => option.key === "threads" && option.value === "1")
            ? " (about half of it once the counting Worker starts, past 4 MiB)"
            : ""
        }: runs depend on the distinct words (0 when they fit)`;
      } else {
        summary = `${input}${records}; ${budget}; expect ${
          expectedRuns === undefined ? "unknown" : expectedRuns
        } runs, ${
          mergePasses === undefined ? "unknown" : mergePasses
        } merge pass(es) (fan-in ${fanIn})`;
      }
    } else if (step.command === "merge") {
      const sum = step.options.some((option) => option.key === "sum" && option.value === true);
      expectedRuns = sum ? undefined : 0;
      mergePasses = sum ? undefined : passesFor(step.inputs.length, fanIn);
      outputBytes = sum ? undefined : inputBytes;
      summary = `${input}; ${budget}; ${
        sum
          ? "sums counts (runs depend on distinct words)"
          : `${mergePasses} merge pass(es) (fan-in ${fanIn})`
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

import { SpillwayError } from "../base/mod.ts";
import { COUNT_SEGMENTS_MIN, planCount } from "../count/mod.ts";
import { checkInputPath, checkOutputPath, checkTmpDirUsable } from "../io/mod.ts";
import { SEGMENT_BYTES_DEFAULT } from "../memory/mod.ts";
import type { JobSpec, JobStep } from "../job/mod.ts";
import { parseCountArgs } from "./count_command.ts";
import { parseSortArgs } from "./sort_args.ts";

/**
 * What `spillway run --dry-run` checks before it prints the plan, so that a job that passes
 * the dry run does not fail on something knowable up front: each step's options parse as the
 * command would parse them (sizes, `-k` specs, fan-in), its inputs exist (or an earlier step
 * writes them), its output and temp directories can be written, and a count step's budget holds
 * the smallest count.
 *
 * @param job The validated job.
 * @param argvOf The command line of a step, as the run would pass it.
 * @throws {SpillwayError} The first problem, naming the job file and the step (exit 2 or 3).
 */
export async function preflightJob(
  job: JobSpec,
  argvOf: (step: JobStep) => string[],
): Promise<void> {
  const produced = new Set<string>();
  for (const step of job.steps) {
    try {
      await preflightStep(step, argvOf(step), produced);
    } catch (error) {
      throw inJobTerms(error, `${job.path}: ${step.name}: `);
    }
    if (step.output !== undefined) produced.add(step.output);
  }
}

async function preflightStep(
  step: JobStep,
  argv: string[],
  produced: ReadonlySet<string>,
): Promise<void> {
  let tmpDirs: string[] = [];
  if (step.command === "sort" || (step.command === "merge" && !argv.includes("--sum"))) {
    const { request } = parseSortArgs(step.command === "merge" ? ["--merge", ...argv] : argv);
    tmpDirs = request.tmpDirs;
  } else if (step.command === "count") {
    const { request } = parseCountArgs(argv);
    tmpDirs = request.tmpDirs;
    const segmentBytes = request.segmentBytes ?? SEGMENT_BYTES_DEFAULT;
    const totalSegments = Math.floor(request.budgetBytes / segmentBytes);
    // The output buffer is reserved first: 256 KiB, at most an eighth of the budget.
    const outputSegments = Math.max(
      1,
      Math.min(Math.ceil((256 * 1024) / segmentBytes), Math.floor(totalSegments / 8)),
    );
    const freeSegments = totalSegments - outputSegments;
    const plan = planCount({ totalSegments, freeSegments, segmentBytes, threads: 1 });
    if (freeSegments < COUNT_SEGMENTS_MIN || plan.tableSegments < 3) {
      throw new SpillwayError(
        `Cannot count words in ${
          Math.max(0, freeSegments)
        } free segments of ${segmentBytes} bytes: need at least ${COUNT_SEGMENTS_MIN}; raise --memory (-S) or lower --segment-size`,
        3,
      );
    }
  }
  for (const input of step.inputs) {
    if (input !== "-" && !produced.has(input)) await checkInputPath(input);
  }
  if (step.output !== undefined) await checkOutputPath(step.output, "output");
  for (const dir of tmpDirs) await checkTmpDirUsable(dir);
}

/** Command-line option names in messages, and the job keys that set them. */
const jobTerms: ReadonlyArray<[string, string]> = [
  ["--memory (-S)", "taskmanager.memory.managed.size (or the step's memory)"],
  ["-S/--memory", "taskmanager.memory.managed.size (or the step's memory)"],
  ["--segment-size", "taskmanager.memory.segment-size"],
  ["-T/--tmp-dir", "io.tmp.dirs"],
  ["--fan-in", "taskmanager.runtime.max-fan"],
];

/**
 * An error of a job step, its message in the job's terms: the configuration keys instead of
 * the command-line options they become, and `prefix` (file and step) in front.
 *
 * @param error What the step threw.
 * @param prefix Put before the message (may be empty).
 * @returns The same error, its message rewritten (other values pass through).
 */
export function inJobTerms(error: unknown, prefix: string): unknown {
  if (!(error instanceof Error)) return error;
  let message = error.message;
  for (const [option, key] of jobTerms) message = message.replaceAll(option, key);
  error.message = prefix + message;
  return error;
}

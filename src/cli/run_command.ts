import { ExitCode, MiB, SpillwayError } from "../base/mod.ts";
import {
  type JobSpec,
  type JobStats,
  type JobStep,
  loadYaml,
  parseJobFile,
  planJob,
  stepArgv,
  type StepLabel,
  type StepSchema,
} from "../job/mod.ts";
import { checkOutputPath } from "../io/mod.ts";
import { SEGMENT_BYTES_DEFAULT } from "../memory/mod.ts";
import type { Command } from "./command.ts";
import { printError, printOut } from "./output.ts";
import { flagValue, parseCommandArgs } from "./parse_args.ts";
import { defaultSegmentBytes } from "./sort_command.ts";
import {
  collectStats,
  normalizeReportArgs,
  readReportOptions,
  readSmallTextFile,
  reportOptionsHelp,
  reportOptionSpecs,
  withSmallIo,
  writeStatsReports,
} from "./stats_report.ts";

/** The commands a job step may run. */
export const STEP_COMMANDS: readonly string[] = ["gen", "sort", "count", "merge"];

/** Options that belong to the job runner, never to a step. */
const runnerOnlyOptions = new Set(["help", "trace", "version", "progress", "stats", "stats-file"]);

/** The budget a step gets when neither the job nor the step sets one (sort's `-S` default). */
const STEP_MEMORY_DEFAULT_BYTES = 64 * MiB;

const help = `Usage: spillway run [options] JOB.yaml

Runs the steps of a job file in order, each exactly like the command of the same name
(paths relative to the job file). The first failing step's exit code ends the job; later
steps do not run. See docs/jobs.md for the schema.

  config:                              # Flink's keys where they mean the same
    taskmanager.memory.managed.size: 64m   # per step budget; a bare number means BYTES
    taskmanager.memory.segment-size: 32kb  # page size
    io.tmp.dirs: /tmp/a,/tmp/b             # spill directories (comma list)
    taskmanager.runtime.max-fan: 128       # most runs merged at once
    spill: auto                            # file | mmap | auto
    leak-detection: simple                 # disabled | simple | advanced | paranoid
  steps:
    - gen:   { kind: zipf, size: 200k, output: corpus.txt }
    - count: { input: corpus.txt, top: 10, output: top.tsv }

Options:
  --dry-run                   validate and print the plan (per step: memory, expected runs and
                              merge passes from the input sizes, the command line); run nothing
${reportOptionsHelp}
                              (under run: one report per step)

Exit codes: 0 all steps ok; otherwise the first failing step's code (2 also for an invalid
job file: the message names file:line:column and the bad key or value).`;

/** `spillway run JOB.yaml`: runs a job file's steps through the commands themselves. */
export const runCommand: Command = {
  name: "run",
  summary: "run a YAML job file (steps: gen, sort, count, merge; Flink-style config)",
  help,
  async run(argv: readonly string[]): Promise<number> {
    const { values, positionals } = parseCommandArgs("run", normalizeReportArgs(argv), {
      "dry-run": { type: "boolean" },
      ...reportOptionSpecs,
    });
    const report = readReportOptions(values);
    if (positionals.length !== 1) {
      throw new SpillwayError(
        `Expected one job file, got ${positionals.length}; usage: spillway run [--dry-run] JOB.yaml`,
        ExitCode.usage,
      );
    }
    if (report.statsFile !== undefined) await checkOutputPath(report.statsFile, "--stats-file");
    const result = await runJob(positionals[0]!, {
      dryRun: flagValue(values, "dry-run"),
      progress: report.progress,
    });
    const reports = result.reports;
    if (report.statsFormat !== undefined && reports.length > 0) {
      await writeStatsReports(reports, report.statsFormat, report.statsFile);
    }
    return result.exitCode;
  },
};

/** What {@linkcode runJob} did. */
export interface JobRun {
  /** The validated job. */
  job: JobSpec;
  /** 0, or the first failing step's exit code. */
  exitCode: number;
  /** The reports of the steps that ran (in order), labelled. */
  reports: { stats: JobStats; label: StepLabel }[];
}

/**
 * Validates a job file and runs its steps in order through the commands' own `run()`, or
 * prints the plan (`dryRun`). A failing step's error is printed as one line, followed by which
 * step failed; later steps do not run.
 *
 * @param jobPath The job file.
 * @param options Dry run, and `--progress`/`--no-progress` to pass to the steps.
 * @returns The job, the exit code and the steps' reports.
 * @throws {JobFileError} If the job file is invalid (nothing has run then).
 */
export async function runJob(
  jobPath: string,
  options: { dryRun?: boolean; progress?: boolean | undefined } = {},
): Promise<JobRun> {
  const commands = await stepCommands();
  const schema = stepSchema(commands);
  await loadYaml();
  const job = parseJobFile(await readSmallTextFile(jobPath), { path: jobPath, schema });
  const argvOf = (step: JobStep): string[] => {
    const stepArgs = stepArgv(job.config, step, schema.get(step.command) ?? []);
    // --progress is a runner option (not a step key) that the run passes on to the steps.
    const takesProgress = /--progress\b/.test(commands.get(step.command)!.help);
    if (options.progress !== undefined && takesProgress) {
      stepArgs.unshift(options.progress ? "--progress" : "--no-progress");
    }
    return stepArgs;
  };
  const reports: { stats: JobStats; label: StepLabel }[] = [];
  if (options.dryRun === true) {
    await printPlan(job, argvOf);
    return { job, exitCode: ExitCode.ok, reports };
  }
  let exitCode: number = ExitCode.ok;
  for (const step of job.steps) {
    const command = commands.get(step.command)!;
    const label: StepLabel = { job: job.path, step: step.index, name: step.name };
    try {
      exitCode = await collectStats(
        (stats) => reports.push({ stats, label }),
        () => command.run(argvOf(step)),
      );
    } catch (error) {
      const { reportError } = await import("./run_cli.ts");
      exitCode = reportError(error, Deno.args.includes("--trace"));
    }
    if (exitCode !== ExitCode.ok) {
      const skipped = job.steps.length - step.index;
      printError(
        `spillway: ${job.path}: ${step.name} failed with exit code ${exitCode}` +
          (skipped > 0 ? `; ${skipped} later step${skipped === 1 ? "" : "s"} not run` : ""),
      );
      break;
    }
  }
  return { job, exitCode, reports };
}

/** The commands a step may run, looked up in the CLI's table when `run` runs. */
async function stepCommands(): Promise<Map<string, Command>> {
  // run_cli.ts imports this module: read its table lazily, after both modules are loaded.
  const { commands } = await import("./run_cli.ts");
  const result = new Map<string, Command>();
  for (const command of commands) {
    if (STEP_COMMANDS.includes(command.name)) result.set(command.name, command);
  }
  return result;
}

/**
 * A command's long option names, read from its `--help` text (which documents every option).
 *
 * @param command The command.
 * @returns Names without `--`, runner-only options removed.
 */
export function optionNames(command: Command): string[] {
  const names = new Set<string>();
  // Options listed as unsupported fail when used: they are not step keys.
  const supported = command.help.split(/^Not supported/m)[0]!;
  for (const line of supported.split("\n")) {
    // Option lines: "  -o, --output=FILE   text" or "      --fan-in=N   text" (not prose).
    if (!/^ {1,8}(?:-[A-Za-z], )?--[a-z]/.test(line)) continue;
    const spec = line.trim().split(/\s{2,}/)[0]!;
    for (const match of spec.matchAll(/--(?:\[no-\])?([a-z][a-z0-9-]*)/g)) names.add(match[1]!);
  }
  return [...names].filter((name) => !runnerOnlyOptions.has(name) && !name.startsWith("no-"));
}

/**
 * The step schema (commands and their option names) for the job file parser.
 *
 * @param commands The step commands.
 * @returns Command name to option names.
 */
export function stepSchema(commands: ReadonlyMap<string, Command>): StepSchema {
  const schema = new Map<string, string[]>();
  for (const [name, command] of commands) schema.set(name, optionNames(command));
  return schema;
}

function fileBytes(path: string): number | undefined {
  if (path === "-") return undefined;
  try {
    const info = Deno.statSync(path);
    return info.isFile && !path.endsWith(".gz") ? info.size : undefined;
  } catch {
    return undefined;
  }
}

/** Average record length of the first chunk (up to 64 KiB) of each existing plain file. */
async function sampleRecordBytes(paths: readonly string[]): Promise<Map<string, number>> {
  const samples = new Map<string, number>();
  const existing = paths.filter((path) => fileBytes(path) !== undefined);
  if (existing.length === 0) return samples;
  await withSmallIo(async (io) => {
    for (const path of new Set(existing)) {
      const reader = await io.openInput(path, { owner: "plan-sample", chunkSegments: 16 });
      try {
        const chunk = await reader.nextChunk();
        if (chunk === undefined || chunk.byteLength === 0) continue;
        let lines = 0;
        for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines += 1;
        samples.set(path, chunk.byteLength / Math.max(1, lines));
      } finally {
        await reader.close();
      }
    }
  });
  return samples;
}

async function printPlan(job: JobSpec, argvOf: (step: JobStep) => string[]): Promise<void> {
  const samples = await sampleRecordBytes(job.steps.flatMap((step) => step.inputs));
  const plans = planJob(job, argvOf, {
    fileBytes,
    recordBytes: (path) => samples.get(path),
    defaultMemoryBytes: STEP_MEMORY_DEFAULT_BYTES,
    // sort and merge pick budget/512 pages (4 KiB to 128 KiB); count and merge --sum 32 KiB.
    defaultSegmentBytes: (step, memoryBytes) =>
      step.command === "sort" ||
        (step.command === "merge" && !step.options.some((option) => option.key === "sum"))
        ? defaultSegmentBytes(memoryBytes)
        : SEGMENT_BYTES_DEFAULT,
  });
  printOut(
    `job ${job.name} (${job.path}): ${plans.length} step${plans.length === 1 ? "" : "s"}, dry run`,
  );
  for (const plan of plans) {
    printOut(`${plan.step.name}: ${plan.step.command}: ${plan.summary}`);
    printOut(`  spillway ${plan.step.command} ${plan.argv.map(shellQuote).join(" ")}`);
  }
}

function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./=:,+-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}

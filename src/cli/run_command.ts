import { COMMAND_SUMMARIES } from "./command_summaries.ts";
import { ExitCode, SpillwayError } from "../base/mod.ts";
import {
  type JobSpec,
  type JobStats,
  type JobStep,
  loadYaml,
  parseJobFile,
  stepArgv,
  type StepLabel,
  type StepSchema,
} from "../job/mod.ts";
import { checkOutputPath } from "../io/mod.ts";
import type { Command, CommandContext } from "./command.ts";
import { printError } from "./output.ts";
import { printJobPlan } from "./dry_run.ts";
import { inJobTerms, preflightJob } from "./job_preflight.ts";
import { reportError } from "./report_error.ts";
import { stepCommands } from "./step_commands.ts";
import {
  type CommandSpec,
  informationOptions,
  optionsOf,
  parseBySpec,
  renderHelp,
  stepOptionNames,
} from "./option_spec.ts";
import { flagValue } from "./parse_args.ts";
import { reportOptions } from "./common_options.ts";
import {
  collectStats,
  normalizeReportArgs,
  readReportOptions,
  readSmallTextFile,
  writeStatsReports,
} from "./stats_report.ts";

export { STEP_COMMANDS } from "./step_commands.ts";

/** `spillway run`'s command line as data (see option_spec.ts). */
export const runSpec: CommandSpec = {
  name: "run",
  summary: COMMAND_SUMMARIES.run,
  usage: ["spillway run [options] JOB.yaml"],
  description:
    `Runs the steps of a job file in order, each exactly like the command of the same name
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
    - count: { input: corpus.txt, top: 10, output: top.tsv }`,
  groups: [
    {
      title: "Options",
      options: [{
        name: "dry-run",
        type: "flag",
        step: false,
        label: "--dry-run",
        help:
          "validate and print the plan (per step: memory, expected runs and merge passes from the input sizes, the command line); run nothing. Also checks what a run would find: options parse, inputs exist (or an earlier step writes them), outputs and temp dirs can be written, a count's budget is big enough",
      }],
    },
    {
      ...reportOptions,
      title: "Report (under run: one report per step)",
    },
    informationOptions(true),
  ],
  footer:
    `Exit codes: 0 all steps ok; otherwise the first failing step's code (2 also for an invalid
job file: the message names file:line:column and the bad key or value).`,
  operands: "file",
};

/** `spillway run JOB.yaml`: runs a job file's steps through the commands themselves. */
export const runCommand: Command = {
  name: "run",
  summary: runSpec.summary,
  get help(): string {
    return renderHelp(runSpec);
  },
  spec: runSpec,
  normalizeArgs: normalizeReportArgs,
  async run(argv: readonly string[], context?: CommandContext): Promise<number> {
    const { values, positionals } = parseBySpec(runSpec, normalizeReportArgs(argv));
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
      trace: context?.trace ?? false,
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
 * @param options Dry run, `--progress`/`--no-progress` to pass to the steps, and `--trace`
 *   (stack traces of a failing step).
 * @returns The job, the exit code and the steps' reports.
 * @throws {JobFileError} If the job file is invalid (nothing has run then).
 */
export async function runJob(
  jobPath: string,
  options: { dryRun?: boolean; progress?: boolean | undefined; trace?: boolean } = {},
): Promise<JobRun> {
  const commands = stepCommands;
  const schema = stepSchema(commands);
  await loadYaml();
  const job = parseJobFile(await readSmallTextFile(jobPath), { path: jobPath, schema });
  const argvOf = (step: JobStep): string[] => {
    const stepArgs = stepArgv(job.config, step, schema.get(step.command) ?? []);
    // --progress is a runner option (not a step key) that the run passes on to the steps.
    const takesProgress = optionsOf(commands.get(step.command)!.spec!)
      .some((option) => option.name === "progress");
    if (options.progress !== undefined && takesProgress) {
      stepArgs.unshift(options.progress ? "--progress" : "--no-progress");
    }
    return stepArgs;
  };
  const reports: { stats: JobStats; label: StepLabel }[] = [];
  if (options.dryRun === true) {
    await preflightJob(job, argvOf);
    await printJobPlan(job, argvOf);
    return { job, exitCode: ExitCode.ok, reports };
  }
  let exitCode: number = ExitCode.ok;
  for (const step of job.steps) {
    const command = commands.get(step.command)!;
    const label: StepLabel = { job: job.path, step: step.index, name: step.name };
    try {
      exitCode = await collectStats(
        (stats) => reports.push({ stats, label }),
        () =>
          command.run(argvOf(step), {
            trace: options.trace ?? false,
            step: `${job.path}: ${step.name}`,
          }),
      );
    } catch (error) {
      // Messages name the job's keys (taskmanager.memory.managed.size), not --memory (-S).
      exitCode = reportError(inJobTerms(error, ""), options.trace ?? false);
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

/**
 * The step schema (commands and their option names) for the job file parser, from the
 * commands' declared options.
 *
 * @param commands The step commands.
 * @returns Command name to option names.
 */
export function stepSchema(commands: ReadonlyMap<string, Command>): StepSchema {
  const schema = new Map<string, string[]>();
  for (const [name, command] of commands) {
    schema.set(name, command.spec === undefined ? [] : stepOptionNames(command.spec));
  }
  return schema;
}

import { COMMAND_SUMMARIES } from "./command_summaries.ts";
import { ExitCode, formatBytes, InputError, UsageError } from "../base/mod.ts";
import type { JobStats } from "../job/mod.ts";
import type { Command, CommandContext } from "./command.ts";
import { printOut } from "./output.ts";
import { type CommandSpec, informationOptions, parseBySpec, renderHelp } from "./option_spec.ts";
import { stringValue } from "./parse_args.ts";
import { runJob } from "./run_command.ts";
import { readSmallTextFile } from "./stats_report.ts";

/** The bundled demo job, relative to the project folder (where `deno task demo` runs). */
const DEMO_JOB = "data/demo.yaml";

/** `spillway demo`'s command line as data (see option_spec.ts). */
export const demoSpec: CommandSpec = {
  name: "demo",
  summary: COMMAND_SUMMARIES.demo,
  usage: ["spillway demo [--job FILE]"],
  description:
    `Runs the bundled demo job (data/demo.yaml, in the project folder) through the job runner, as
'spillway run data/demo.yaml' would: word counts of three small corpus parts computed as map
(count per part) and reduce (merge --sum), checked against one count of the whole corpus, and a
sort of the corpus, all in a 256 KiB budget so that every step spills and merges. Then shows the
top words, one line of stats per step, and that nothing leaked.`,
  groups: [{
    title: "Options",
    options: [
      {
        name: "job",
        type: "value",
        valueName: "FILE",
        completes: "file",
        help: "run another job file with the same summary",
      },
      {
        name: "progress",
        type: "flag",
        label: "--progress, --no-progress",
        help: "accepted for symmetry with run (steps show progress on a TTY)",
      },
    ],
  }, informationOptions(true)],
  footer: "Exit codes: those of 'spillway run'.",
  operands: "none",
};

/** `spillway demo`: the guided tour (`deno task demo`). */
export const demoCommand: Command = {
  name: "demo",
  summary: demoSpec.summary,
  get help(): string {
    return renderHelp(demoSpec);
  },
  spec: demoSpec,
  async run(argv: readonly string[], context?: CommandContext): Promise<number> {
    const { values, positionals } = parseBySpec(demoSpec, argv);
    if (positionals.length > 0) {
      throw new UsageError(
        `Unexpected operand "${positionals[0]}"; usage: spillway demo [--job FILE]`,
      );
    }
    const jobPath = stringValue(values, "job") ?? bundledDemoJob();
    if (jobPath === DEMO_JOB && !isFile(DEMO_JOB)) {
      throw new InputError(
        `Cannot find ${DEMO_JOB} in ${Deno.cwd()}; run 'deno task demo' in the project folder or give --job FILE`,
      );
    }
    printOut(`spillway demo: running ${jobPath} (the same as 'spillway run ${jobPath}')`);
    const progress = values["progress"];
    const { job, exitCode, reports } = await runJob(jobPath, {
      progress: typeof progress === "boolean" ? progress : undefined,
      trace: context?.trace ?? false,
    });
    printOut("");
    printOut("steps:");
    const width = Math.max(...reports.map((report) => report.label.name.length));
    for (const { stats, label } of reports) printOut(`  ${stepLine(label.name, width, stats)}`);
    if (exitCode !== ExitCode.ok) {
      printOut(`\nThe demo job failed with exit code ${exitCode} (see the message above)`);
      return exitCode;
    }
    const outputs = job.steps.map((step) => step.output);
    const reduced = outputs.find((path) => path?.endsWith("/counts.tsv"));
    const direct = outputs.find((path) => path?.endsWith("/counts-direct.tsv"));
    if (reduced !== undefined) {
      const text = await readSmallTextFile(reduced);
      const lines = text.split("\n").filter((line) => line !== "");
      printOut("");
      printOut(`top words of ${lines.length} distinct (${reduced}):`);
      for (const line of lines.slice(0, 10)) {
        const [word, count] = line.split("\t");
        printOut(`  ${(count ?? "").padStart(6)}  ${word}`);
      }
      if (direct !== undefined) {
        const same = text === await readSmallTextFile(direct);
        printOut("");
        printOut(
          same
            ? `map/reduce check: merge --sum of the 3 partial counts equals one count of the whole corpus`
            : `map/reduce check FAILED: ${reduced} differs from ${direct}`,
        );
        if (!same) return ExitCode.usage;
      }
    }
    const leakedSegments = reports.reduce((sum, report) => sum + report.stats.leaks.segments, 0);
    const leakedBytes = reports.reduce((sum, report) => sum + report.stats.leaks.bytes, 0);
    const dropped = reports.reduce((sum, report) => sum + report.stats.leaks.dropped, 0);
    const spilled = reports.reduce((sum, report) => sum + report.stats.spill.bytesWritten, 0);
    const runs = reports.reduce((sum, report) => sum + report.stats.spill.runs, 0);
    const files = reports.reduce((sum, report) => sum + report.stats.spill.files, 0);
    printOut(
      `spilled: ${runs} runs, ${formatBytes(spilled)} written to ${files} temp files`,
    );
    printOut(
      leakedSegments === 0 && leakedBytes === 0 && dropped === 0
        ? `leaks: none (0 segments still leased after each of the ${reports.length} steps)`
        : `leaks: ${leakedSegments} segments, ${formatBytes(leakedBytes)}, ${dropped} dropped`,
    );
    printOut(`full reports: spillway run --stats ${jobPath}   (or --stats=json|yaml)`);
    if (leakedSegments !== 0 || leakedBytes !== 0 || dropped !== 0) {
      throw new UsageError("The demo leaked memory: see the reports");
    }
    return ExitCode.ok;
  },
};

function stepLine(name: string, width: number, stats: JobStats): string {
  const memory = stats.memory;
  return [
    name.padEnd(width),
    `${stats.command.padEnd(5)}`,
    `in ${formatBytes(stats.input.bytes).padStart(9)}`,
    `runs ${String(stats.spill.runs).padStart(3)}`,
    `passes ${stats.spill.mergePasses}`,
    `spilled ${formatBytes(stats.spill.bytesWritten).padStart(9)}`,
    `segments ${memory.segmentsPeak}/${memory.segmentsBudget}`,
    `RSS ${formatBytes(memory.peakRssBytes)}`,
    `leaks ${stats.leaks.segments}`,
    `${stats.timeMs.total} ms`,
  ].join("  ");
}

/**
 * The bundled job: `data/demo.yaml` when run in the project folder, else the project's, found
 * from this module's place (`deno task demo` from another directory): `src/cli/` in the
 * sources, `dist/js/src/cli/` in the built JavaScript (scripts/build.ts). The compiled binary
 * does not embed it.
 */
function bundledDemoJob(): string {
  if (isFile(DEMO_JOB)) return DEMO_JOB;
  for (const up of ["../../", "../../../../"]) {
    const beside = new URL(`${up}${DEMO_JOB}`, import.meta.url);
    if (beside.protocol === "file:" && isFile(beside.pathname)) return beside.pathname;
  }
  return DEMO_JOB;
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

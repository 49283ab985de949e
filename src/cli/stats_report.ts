// deno-lint-ignore-file no-console
import { InputError, KiB, MiB, type ProgressSink, teeProgress, UsageError } from "../base/mod.ts";
import { checkOutputPath, IoManager } from "../io/mod.ts";
import { MemoryManager } from "../memory/mod.ts";
import {
  type JobStats,
  JobStatsRecorder,
  loadYaml,
  parseStatsFormat,
  renderStats,
  type StatsFormat,
  type StatsSources,
  type StepLabel,
} from "../job/mod.ts";
import { type ParsedValues, stringValue } from "./parse_args.ts";
import { createProgress } from "./progress.ts";

/**
 * Rewrites a bare `--stats` (optional value, like GNU's `--color[=WHEN]`) to `--stats=text`
 * so `node:util` parseArgs can take `stats` as a string option. Stops at `--`.
 *
 * @param argv A command's arguments.
 * @returns The arguments to parse.
 */
export function normalizeReportArgs(argv: readonly string[]): string[] {
  const result: string[] = [];
  let optionsEnded = false;
  for (const arg of argv) {
    if (arg === "--") optionsEnded = true;
    result.push(!optionsEnded && arg === "--stats" ? "--stats=text" : arg);
  }
  return result;
}

/** The report options as read from parsed values. */
export interface ReportOptions {
  /** The stats format, or undefined when no report was asked for. */
  statsFormat: StatsFormat | undefined;
  /** Where to write the report (undefined: stderr). */
  statsFile: string | undefined;
  /** `--progress` (true), `--no-progress` (false), or undefined (TTY decides). */
  progress: boolean | undefined;
}

/**
 * Reads `--progress`, `--stats` and `--stats-file`.
 *
 * @param values Parsed values including the report options (common_options.ts).
 * @returns The options.
 * @throws {UsageError} On a bad `--stats` format.
 */
export function readReportOptions(values: ParsedValues): ReportOptions {
  const stats = stringValue(values, "stats");
  const file = stringValue(values, "stats-file");
  const progress = values["progress"];
  let statsFormat = stats === undefined ? undefined : parseStatsFormat(stats);
  if (file !== undefined && statsFormat === undefined) statsFormat = "text";
  if (file === "") throw new UsageError("Invalid --stats-file: the path is empty");
  return {
    statsFormat,
    statsFile: file,
    progress: typeof progress === "boolean" ? progress : undefined,
  };
}

/** How often a running command samples its resident set size. */
const RSS_SAMPLE_INTERVAL_MS = 25;

/** Receives step reports while `spillway run` executes a step (instead of printing them). */
export type StatsCollector = (stats: JobStats) => void;

let activeCollector: StatsCollector | undefined = undefined;

/**
 * Runs `body` with reports going to `collector` (used by `spillway run` for its steps).
 *
 * @param collector Receives every report emitted during `body`.
 * @param body The work.
 * @returns What `body` returns.
 */
export async function collectStats<T>(
  collector: StatsCollector,
  body: () => Promise<T>,
): Promise<T> {
  const previous = activeCollector;
  activeCollector = collector;
  try {
    return await body();
  } finally {
    activeCollector = previous;
  }
}

/**
 * Writes reports in a format, to a file or stderr.
 *
 * @param reports The reports (with step labels under `spillway run`).
 * @param format The format.
 * @param file A path, or undefined for stderr.
 */
export async function writeStatsReports(
  reports: readonly { stats: JobStats; label?: StepLabel }[],
  format: StatsFormat,
  file: string | undefined,
): Promise<void> {
  if (format === "yaml") await loadYaml();
  const text = renderStats(reports, format);
  if (file === undefined) {
    console.error(text.replace(/\n$/, ""));
    return;
  }
  await writeSmallTextFile(file, text, "--stats-file");
}

/** Largest job file or report handled by {@linkcode readSmallTextFile}. */
const SMALL_FILE_BYTES_MAX = 4 * MiB;

/**
 * Runs `body` with a small private memory budget and IoManager (for job files and reports:
 * only src/io opens files), then closes both and checks that nothing leaked.
 *
 * @param body The work.
 * @returns What `body` returns.
 */
export async function withSmallIo<T>(body: (io: IoManager) => Promise<T>): Promise<T> {
  const memory = new MemoryManager({
    budgetBytes: 2 * SMALL_FILE_BYTES_MAX,
    segmentBytes: 4 * KiB,
  });
  const io = await IoManager.open({ memory, handleSignals: false });
  try {
    return await body(io);
  } finally {
    await io.close();
    memory.assertAllReleased();
  }
}

/**
 * Reads a small text file (a job file) through the io layer.
 *
 * @param path The file.
 * @returns Its text (UTF-8).
 * @throws {InputError} If it is missing, a directory, unreadable or larger than 4 MiB.
 */
export function readSmallTextFile(path: string): Promise<string> {
  return withSmallIo(async (io) => {
    const reader = await io.openInput(path, { owner: "small-file" });
    try {
      const decoder = new TextDecoder();
      let text = "";
      let bytes = 0;
      for (
        let chunk = await reader.nextChunk();
        chunk !== undefined;
        chunk = await reader.nextChunk()
      ) {
        bytes += chunk.byteLength;
        if (bytes > SMALL_FILE_BYTES_MAX) {
          throw new InputError(`Cannot read ${path}: larger than 4 MiB; is it really a job file?`);
        }
        text += decoder.decode(chunk, { stream: true });
      }
      text += decoder.decode();
      // The reader appends a newline to a last line without one: drop it again.
      return reader.sawMissingTerminator ? text.slice(0, -1) : text;
    } finally {
      await reader.close();
    }
  });
}

/**
 * Writes a small text file atomically (temp file, then rename) through the io layer.
 *
 * @param path The target.
 * @param text The content.
 * @param option The option that named the path, for messages.
 * @throws {UsageError} If the target cannot be written.
 */
export function writeSmallTextFile(path: string, text: string, option = "-o"): Promise<void> {
  return withSmallIo(async (io) => {
    const output = await io.createOutput(path, { owner: "small-file", option });
    try {
      const bytes = new TextEncoder().encode(text);
      const pending = output.write(bytes, 0, bytes.byteLength);
      if (pending) await pending;
      await output.commit();
    } catch (error) {
      await output.abort();
      throw error;
    }
  });
}

/**
 * One command's progress line and stats report. Create it after parsing options and hand it
 * to the command's scope (`CommandScope.open({ ..., report })`), which ends it on success and
 * disposes it (erasing the progress line) on every path; pass `progress` down to the
 * operators and fill `stats`.
 *
 * @example Usage in a command
 * ```ts ignore
 * const { values } = parseBySpec(sortSpec, normalizeReportArgs(argv));
 * await using scope = await CommandScope.open({ ...request, report: CommandReport.start("sort", values) });
 * const result = await externalSort(inputs, output, { ...scope, progress: scope.report.progress });
 * scope.report.stats.input.records = result.inputRecords;
 * return await scope.finish(ExitCode.ok);
 * ```
 */
export class CommandReport implements Disposable {
  /** The recorder (phase times, RSS samples) whose `stats` the command fills. */
  readonly recorder: JobStatsRecorder;
  /** The sink to give to sort/count/merge: the progress line and the recorder together. */
  readonly progress: ProgressSink;
  /** The options read from the command line. */
  readonly options: ReportOptions;
  #line: ProgressSink;
  #rssTimer: ReturnType<typeof setInterval> | undefined;

  private constructor(command: string, options: ReportOptions) {
    this.options = options;
    this.recorder = new JobStatsRecorder(command);
    this.#line = createProgress(options.progress);
    this.progress = teeProgress(this.#line, this.recorder);
    // Sample RSS while the command runs (timers fire whenever the command awaits I/O); the
    // timer never keeps the process alive and stops at end() or dispose.
    const timer = setInterval(() => this.recorder.sampleRss(), RSS_SAMPLE_INTERVAL_MS);
    Deno.unrefTimer(timer);
    this.#rssTimer = timer;
  }

  /**
   * Starts the report of a command.
   *
   * @param command The command name.
   * @param values Parsed values including the report options (common_options.ts).
   * @returns The report.
   */
  static start(command: string, values: ParsedValues): CommandReport {
    return new CommandReport(command, readReportOptions(values));
  }

  /** The report being filled. */
  get stats(): JobStats {
    return this.recorder.stats;
  }

  /** Whether a report will be written (`--stats`, `--stats-file` or a job step with stats). */
  get wanted(): boolean {
    return this.options.statsFormat !== undefined || activeCollector !== undefined;
  }

  /**
   * Completes the report and writes it if asked (or hands it to `spillway run`).
   *
   * @param sources The memory manager (after io closed), io counters, exit code.
   * @returns The finished stats.
   */
  async end(sources: StatsSources = {}): Promise<JobStats> {
    this.#stopSampling();
    this.#line.finish();
    const stats = this.recorder.complete(sources);
    if (activeCollector !== undefined) {
      activeCollector(stats);
    } else if (this.options.statsFormat !== undefined) {
      await writeStatsReports([{ stats }], this.options.statsFormat, this.options.statsFile);
    }
    return stats;
  }

  /**
   * Checks the command's output and `--stats-file` before any input is read (as GNU sort
   * checks `-o`), so that a bad path fails at once with exit 2.
   *
   * @param output The command's output path (undefined: stdout).
   * @throws {UsageError} If either cannot be written.
   */
  async checkTargets(output: string | undefined): Promise<void> {
    await checkOutputPath(output, "-o");
    if (this.options.statsFile !== undefined && activeCollector === undefined) {
      await checkOutputPath(this.options.statsFile, "--stats-file");
    }
  }

  /** Erases the progress line. */
  [Symbol.dispose](): void {
    this.#stopSampling();
    this.#line.finish();
  }

  #stopSampling(): void {
    if (this.#rssTimer === undefined) return;
    clearInterval(this.#rssTimer);
    this.#rssTimer = undefined;
  }
}

import { loadedYaml } from "./yaml_module.ts";
import {
  formatBytes,
  type ProgressPhase,
  type ProgressPhaseName,
  type ProgressSink,
  UsageError,
} from "../base/mod.ts";
import type { LeakReport, MemoryManager } from "../memory/mod.ts";

/** The formats of a stats report: `--stats` (text), `--stats=json`, `--stats=yaml`. */
export type StatsFormat = "text" | "json" | "yaml";

/** The accepted values of `--stats=FORMAT`. */
export const statsFormats: readonly StatsFormat[] = ["text", "json", "yaml"];

/** Milliseconds spent per phase (a phase lasts from its `phase()` call to the next one). */
export interface PhaseTimes {
  /** Reading and encoding input (and filling the sort buffer or hash table). */
  read: number;
  /** Sorting full buffers in memory. */
  sort: number;
  /** Writing runs to temp files. */
  spill: number;
  /** Merging runs (all passes). */
  merge: number;
  /** Counting (hashing words into the table). */
  count: number;
  /** Writing the final output. */
  write: number;
}

/**
 * One command's report: the stable keys of `--stats=json|yaml` (documented in docs/stats.md).
 *
 * Keys are only ever added, never renamed. Byte counts are exact bytes, times milliseconds.
 */
export interface JobStats {
  /** The command that ran: `sort`, `count`, `merge` or `gen`. */
  command: string;
  /** The exit code the command returned (0 unless it failed). */
  exitCode: number;
  /** What was read. */
  input: { files: number; bytes: number; records: number };
  /** What was written (records: lines, or words for count). */
  output: { bytes: number; records: number };
  /** Spilling to temp files and merging back. */
  spill: {
    /** `file`, `mmap`, or `none` when the command never opened an IoManager. */
    mode: string;
    /** Sorted runs (or count partials) written to temp files. */
    runs: number;
    /** Merge passes over spilled runs (0 when everything fit in memory). */
    mergePasses: number;
    /** Bytes written to temp files. */
    bytesWritten: number;
    /** Bytes read back from temp files. */
    bytesReadBack: number;
    /** Temp files created in all. */
    files: number;
    /** Most bytes of spill files mapped at once (`--spill mmap`: page cache, not budget). */
    mappedBytesPeak: number;
  };
  /** The managed memory budget and how much of it was used. */
  memory: {
    /** The budget (-S, taskmanager.memory.managed.size) in bytes. */
    budgetBytes: number;
    /**
     * The budget that was asked for: equal to `budgetBytes` unless a tiny `sort -S` (GNU sort
     * accepts `-S1`) was raised to the least budget spillway sorts in.
     */
    budgetRequestedBytes: number;
    /** The page size in bytes. */
    segmentBytes: number;
    /** Segments in the budget. */
    segmentsBudget: number;
    /** Most segments leased at once. */
    segmentsPeak: number;
    /**
     * Whether the budget was above what one 32-bit WebAssembly memory holds (4 GiB less its
     * 64 KiB static area) and was capped to it.
     */
    budgetCapped: boolean;
    /** Highest resident set size seen (sampled every 25 ms, at phase changes and on progress). */
    peakRssBytes: number;
  };
  /** Wall time in milliseconds: `total` and per phase. */
  timeMs: PhaseTimes & { total: number };
  /**
   * CPU time (user + system, every thread of the process: main, Workers, runtime) in
   * milliseconds: `total` and per phase. `cpuMs.read / timeMs.read` near 2 means both cores
   * were busy while reading.
   */
  cpuMs: PhaseTimes & { total: number };
  /** What the memory manager still held after the command: all zero when nothing leaked. */
  leaks: { segments: number; bytes: number; dropped: number; staleWrites: number; report: string };
}

/** Counters of the IoManager that a report copies (a subset of the io layer's `IoStats`). */
export interface SpillCounters {
  /** Temp files created. */
  filesCreated: number;
  /** Bytes written to temp files. */
  bytesSpilled: number;
  /** Bytes read back from temp files. */
  bytesReadBack: number;
  /** Most bytes mapped at once by mmap channels (absent: 0). */
  mappedBytesPeak?: number;
}

/** Options of {@linkcode JobStatsRecorder}. */
export interface JobStatsRecorderOptions {
  /** Milliseconds clock (default `performance.now`); a test seam. */
  now?: () => number;
  /** Resident set size in bytes (default `Deno.memoryUsage().rss`); a test seam. */
  rss?: () => number;
  /** CPU milliseconds used so far, user + system (default: getrusage, as node's `process.cpuUsage()`); a test seam. */
  cpu?: () => number;
}

/** What {@linkcode JobStatsRecorder.complete} copies from the command's resources. */
export interface StatsSources {
  /** The command's memory manager: budget, segments and the leak report. Call after closing io. */
  memory?: MemoryManager;
  /**
   * The manager's leak report when the caller took it already (it checks the poison of every
   * released page: one pass at a command's end, not two); else taken here.
   */
  leakReport?: LeakReport;
  /** The IoManager's counters. */
  io?: SpillCounters;
  /** The IoManager's resolved spill mode. */
  spillMode?: string;
  /** The exit code the command is about to return. */
  exitCode?: number;
}

const RSS_SAMPLE_INTERVAL_MS = 100;

/**
 * Builds one {@linkcode JobStats}: a {@linkcode ProgressSink} that times phases and samples
 * RSS, plus a `stats` object the command fills with its counters.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { JobStatsRecorder } from "./job_stats.ts";
 * let clock = 0;
 * const recorder = new JobStatsRecorder("sort", { now: () => clock, rss: () => 1000 });
 * recorder.phase({ name: "read", totalBytes: 10 });
 * recorder.advance(10);
 * clock = 5;
 * recorder.phase({ name: "merge", pass: 1, passCount: 2 });
 * recorder.phase({ name: "merge", pass: 2, passCount: 2 });
 * clock = 8;
 * const stats = recorder.complete();
 * strictEqual(stats.timeMs.read, 5);
 * strictEqual(stats.timeMs.merge, 3);
 * strictEqual(stats.spill.mergePasses, 2);
 * strictEqual(stats.input.bytes, 10);
 * ```
 */
export class JobStatsRecorder implements ProgressSink {
  /** The report being built; commands set the counters they know. */
  readonly stats: JobStats;
  #now: () => number;
  #rss: () => number;
  #cpu: () => number;
  #startMs: number;
  #startCpuMs: number;
  #phaseStartCpuMs = 0;
  #phaseName: ProgressPhaseName | undefined = undefined;
  #phaseStartMs = 0;
  #lastRssMs = 0;
  #readBytes = 0;
  #mergePassesSeen = 0;

  /**
   * Starts the clock of a command's report.
   *
   * @param command The command name for the report.
   * @param options Clock and RSS seams.
   */
  constructor(command: string, options: JobStatsRecorderOptions = {}) {
    this.#now = options.now ?? (() => performance.now());
    this.#rss = options.rss ?? (() => Deno.memoryUsage().rss);
    this.#cpu = options.cpu ?? processCpuMs;
    this.#startMs = this.#now();
    this.#startCpuMs = this.#cpu();
    this.stats = emptyJobStats(command);
    this.#sampleRss(this.#startMs);
  }

  /** Starts a phase: closes the previous phase's timer, counts merge passes. */
  phase(phase: ProgressPhase): void {
    const nowMs = this.#now();
    this.#closePhase(nowMs);
    this.#phaseName = phase.name;
    this.#phaseStartMs = nowMs;
    this.#phaseStartCpuMs = this.#cpu();
    if (phase.name === "merge") this.#mergePassesSeen += 1;
    this.#sampleRss(nowMs);
  }

  /** Counts bytes (read-phase bytes become `input.bytes` unless the command sets it). */
  advance(byteCount: number): void {
    if (this.#phaseName === "read" || this.#phaseName === "count") this.#readBytes += byteCount;
    const nowMs = this.#now();
    if (nowMs - this.#lastRssMs >= RSS_SAMPLE_INTERVAL_MS) this.#sampleRss(nowMs);
  }

  /** Samples the resident set size now (the CLI also calls this from a 25 ms timer). */
  sampleRss(): void {
    this.#sampleRss(this.#now());
  }

  /** Closes the current phase's timer. */
  finish(): void {
    const nowMs = this.#now();
    this.#closePhase(nowMs);
    this.#phaseName = undefined;
    this.#sampleRss(nowMs);
  }

  /**
   * Ends the report: total time, memory books, io counters and the leak report.
   *
   * Fields the command left at zero are filled from what the recorder saw (input bytes from
   * read-phase progress, merge passes from `merge` phases).
   *
   * @param sources The memory manager (after io is closed), io counters, exit code.
   * @returns The finished report (the same object as `stats`).
   */
  complete(sources: StatsSources = {}): JobStats {
    this.finish();
    const stats = this.stats;
    stats.timeMs.total = roundMs(this.#now() - this.#startMs);
    stats.cpuMs.total = roundMs(this.#cpu() - this.#startCpuMs);
    if (stats.input.bytes === 0) stats.input.bytes = this.#readBytes;
    if (stats.spill.mergePasses === 0) stats.spill.mergePasses = this.#mergePassesSeen;
    if (sources.exitCode !== undefined) stats.exitCode = sources.exitCode;
    if (sources.spillMode !== undefined) stats.spill.mode = sources.spillMode;
    if (sources.io !== undefined) {
      stats.spill.bytesWritten = sources.io.bytesSpilled;
      stats.spill.bytesReadBack = sources.io.bytesReadBack;
      stats.spill.files = sources.io.filesCreated;
      stats.spill.mappedBytesPeak = sources.io.mappedBytesPeak ?? 0;
    }
    const memory = sources.memory;
    if (memory !== undefined) {
      stats.memory.budgetBytes = memory.budgetBytes;
      if (stats.memory.budgetRequestedBytes === 0) {
        stats.memory.budgetRequestedBytes = memory.budgetBytes;
      }
      stats.memory.segmentBytes = memory.segmentBytes;
      stats.memory.segmentsBudget = memory.totalSegments;
      stats.memory.segmentsPeak = memory.peakSegments;
      stats.memory.budgetCapped = memory.budgetCapped;
      const report = sources.leakReport ?? memory.leakReport();
      stats.leaks = {
        segments: report.leakedSegments,
        bytes: report.leakedBytes,
        dropped: report.dropped.length,
        staleWrites: report.poisonViolations.length,
        report: report.text,
      };
    }
    return stats;
  }

  #closePhase(nowMs: number): void {
    if (this.#phaseName === undefined) return;
    const times = this.stats.timeMs;
    times[this.#phaseName] = roundMs(times[this.#phaseName] + nowMs - this.#phaseStartMs);
    const cpu = this.stats.cpuMs;
    cpu[this.#phaseName] = roundMs(cpu[this.#phaseName] + this.#cpu() - this.#phaseStartCpuMs);
  }

  #sampleRss(nowMs: number): void {
    this.#lastRssMs = nowMs;
    const rss = this.#rss();
    if (rss > this.stats.memory.peakRssBytes) this.stats.memory.peakRssBytes = rss;
  }
}

/**
 * A report with every key present and every counter zero.
 *
 * @param command The command name.
 * @returns A fresh report.
 */
export function emptyJobStats(command: string): JobStats {
  return {
    command,
    exitCode: 0,
    input: { files: 0, bytes: 0, records: 0 },
    output: { bytes: 0, records: 0 },
    spill: {
      mode: "none",
      runs: 0,
      mergePasses: 0,
      bytesWritten: 0,
      bytesReadBack: 0,
      files: 0,
      mappedBytesPeak: 0,
    },
    memory: {
      budgetBytes: 0,
      budgetRequestedBytes: 0,
      segmentBytes: 0,
      segmentsBudget: 0,
      segmentsPeak: 0,
      budgetCapped: false,
      peakRssBytes: 0,
    },
    timeMs: { total: 0, read: 0, sort: 0, spill: 0, merge: 0, count: 0, write: 0 },
    cpuMs: { total: 0, read: 0, sort: 0, spill: 0, merge: 0, count: 0, write: 0 },
    leaks: { segments: 0, bytes: 0, dropped: 0, staleWrites: 0, report: "" },
  };
}

/**
 * Reads a `--stats=FORMAT` value.
 *
 * @param text The value; empty means `text`.
 * @returns The format.
 * @throws {UsageError} On an unknown format.
 */
export function parseStatsFormat(text: string): StatsFormat {
  const format = text === "" ? "text" : text.toLowerCase();
  if (!(statsFormats as readonly string[]).includes(format)) {
    throw new UsageError(
      `Invalid --stats format "${text}": use --stats, --stats=json or --stats=yaml`,
    );
  }
  return format as StatsFormat;
}

/** Extra keys a job runner puts in front of a step's report. */
export interface StepLabel {
  /** The job file as given. */
  job: string;
  /** The 1-based step number. */
  step: number;
  /** The step's name (its `name:` key, or the command). */
  name: string;
}

/**
 * Renders reports in one format: text (for people), JSON (one object per line) or YAML (one
 * document per report).
 *
 * @param reports The reports, each optionally labelled with its job step.
 * @param format The format.
 * @returns The text to write to stderr or the stats file, ending with a newline.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { emptyJobStats, renderStats } from "./job_stats.ts";
 * const json = renderStats([{ stats: emptyJobStats("sort") }], "json");
 * strictEqual(JSON.parse(json).spill.runs, 0);
 * ```
 */
export function renderStats(
  reports: readonly { stats: JobStats; label?: StepLabel }[],
  format: StatsFormat,
): string {
  if (format === "json") {
    return reports.map((report) => JSON.stringify(labelled(report)) + "\n").join("");
  }
  if (format === "yaml") {
    return reports.map((report, index) =>
      (index > 0 || reports.length > 1 ? "---\n" : "") + loadedYaml().stringify(labelled(report))
    ).join("");
  }
  return reports.map((report) => renderText(report.stats, report.label)).join("");
}

function labelled(report: { stats: JobStats; label?: StepLabel }): object {
  if (report.label === undefined) return report.stats;
  return { ...report.label, ...report.stats };
}

function renderText(stats: JobStats, label: StepLabel | undefined): string {
  const head = label === undefined
    ? `spillway stats: ${stats.command}`
    : `spillway stats: ${label.job} step ${label.step} (${stats.command})${
      label.name === `step ${label.step} (${stats.command})` ? "" : ` "${label.name}"`
    }`;
  const t = stats.timeMs;
  const c = stats.cpuMs;
  const phaseNames = (["read", "sort", "spill", "merge", "count", "write"] as const)
    .filter((name) => t[name] > 0);
  const phases = phaseNames.map((name) => `${name} ${t[name]}`).join(", ");
  // CPU use = (user + system) / wall: 2.0 is both cores busy for the whole phase.
  const use = (cpuMs: number, wallMs: number): string =>
    wallMs > 0 ? (cpuMs / wallMs).toFixed(2) : "0.00";
  const cpuUse = phaseNames.map((name) => `${name} ${use(c[name], t[name])}`).join(", ");
  const m = stats.memory;
  const s = stats.spill;
  const lines = [
    head,
    `  input:   ${stats.input.files} files, ${
      bytes(stats.input.bytes)
    }, ${stats.input.records} records`,
    `  output:  ${bytes(stats.output.bytes)}, ${stats.output.records} records`,
    `  spill:   mode ${s.mode}, ${s.runs} runs, ${s.mergePasses} merge passes, ${
      bytes(s.bytesWritten)
    } written, ${bytes(s.bytesReadBack)} read back, ${s.files} files${
      s.mappedBytesPeak > 0 ? `, ${formatBytes(s.mappedBytesPeak)} mapped at most` : ""
    }`,
    `  memory:  budget ${formatBytes(m.budgetBytes)}${
      m.budgetRequestedBytes !== 0 && m.budgetRequestedBytes !== m.budgetBytes
        ? ` (raised from ${formatBytes(m.budgetRequestedBytes)}: the least spillway sorts in)`
        : ""
    } = ${m.segmentsBudget} segments of ${formatBytes(m.segmentBytes)}${
      m.budgetCapped ? " (capped: one WebAssembly memory holds 4 GiB)" : ""
    }, peak ${m.segmentsPeak} segments, peak RSS ${formatBytes(m.peakRssBytes)}`,
    `  time:    ${t.total} ms${phases === "" ? "" : ` (${phases})`}`,
    `  cpu:     ${c.total} ms, use ${use(c.total, t.total)}${cpuUse === "" ? "" : ` (${cpuUse})`}`,
    `  leaks:   ${
      stats.leaks.segments === 0 && stats.leaks.bytes === 0 && stats.leaks.dropped === 0 &&
        stats.leaks.staleWrites === 0
        ? "none"
        : stats.leaks.report.split("\n")[0]
    }`,
    `  exit:    ${stats.exitCode}`,
  ];
  return lines.join("\n") + "\n";
}

function bytes(count: number): string {
  return count < 1024 ? `${count} B` : `${formatBytes(count)} (${count} bytes)`;
}

interface CpuUsage {
  /** User CPU microseconds. */
  user: number;
  /** System CPU microseconds. */
  system: number;
}

/**
 * getrusage's user + system time of the whole process: `Deno.cpuUsage()`, the op behind node's
 * `process.cpuUsage()` (the same counters), which Deno 2.9 has but does not declare; node's
 * where it is missing. Loading node:process alone took ~10 ms of every command's start-up.
 */
const cpuUsage: () => CpuUsage = (() => {
  const deno = Deno as unknown as { cpuUsage?: () => CpuUsage };
  return typeof deno.cpuUsage === "function" ? () => deno.cpuUsage!() : undefined;
})() ?? (await import("node:process")).default.cpuUsage;

/** User + system CPU milliseconds of the whole process (all threads), from getrusage. */
function processCpuMs(): number {
  const usage = cpuUsage();
  return (usage.user + usage.system) / 1000;
}

function roundMs(ms: number): number {
  return Math.round(ms * 10) / 10;
}

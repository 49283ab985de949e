import {
  adviseHugePages,
  holdLibc,
  IoManager,
  type SpillMode,
  timelineEnd,
  timelineFlush,
  timelineStart,
} from "../io/mod.ts";
import { type LeakDetectionLevel, MemoryLeakError, MemoryManager } from "../memory/mod.ts";
import type { JobStats, StatsSources } from "./job_stats.ts";

/** The report a command fills: the CLI's progress line plus stats recorder. */
export interface ScopeReport extends Disposable {
  /** The stats being filled. */
  readonly stats: JobStats;
  /**
   * Completes the report (and writes it if asked).
   *
   * @param sources Memory (after io closed), io counters, spill mode, exit code.
   */
  end(sources: StatsSources): Promise<unknown>;
}

/** What a command's scope opens. */
export interface CommandScopeOptions<R extends ScopeReport> {
  /** The budget in bytes. */
  budgetBytes: number;
  /** The segment size (the memory manager's default when undefined). */
  segmentBytes?: number | undefined;
  /** `--leak-detection` (the memory manager's default when undefined). */
  leakDetection?: LeakDetectionLevel;
  /** Temp directories (the io manager's default when empty or undefined). */
  tmpDirs?: readonly string[];
  /** `--spill` (the io manager's default when undefined). */
  spillMode?: SpillMode;
  /** Check the temp directories only when the first spill file is made (GNU sort's -T). */
  lazyTmpDirs?: boolean;
  /** `--compress-program`: spill files are written through it (none when undefined). */
  compressProgram?: string | undefined;
  /** The command's report; the scope ends it on success and disposes it always. */
  report: R;
}

/**
 * One command's lifetime: the MemoryManager, the IoManager, the report and the final leak
 * check, opened together and closed together with `await using`, on success and on every
 * error path.
 *
 * - Success: the command calls {@linkcode CommandScope.finish} with its exit code: io closes,
 *   the report ends (stats with output bytes, memory and spill counters), and the leak check
 *   runs (a leak throws `MemoryLeakError`).
 * - Error: disposal closes io (deleting every spill file) and runs the leak check; a leak
 *   found there is thrown from disposal, so JavaScript reports it as a `SuppressedError`
 *   carrying both the leak and the original error: the leak is reported, not lost.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { CommandScope, JobStatsRecorder } from "./mod.ts";
 * const recorder = new JobStatsRecorder("sort");
 * const report = {
 *   stats: recorder.stats,
 *   end: (sources: object) => Promise.resolve(recorder.complete(sources)),
 *   [Symbol.dispose]() {},
 * };
 * {
 *   await using scope = await CommandScope.open({
 *     budgetBytes: 64 * 4096, segmentBytes: 4096, leakDetection: "simple",
 *     tmpDirs: [], spillMode: "file", report, handleSignals: false,
 *   });
 *   using _lease = scope.memory.allocate("example", 1);
 *   strictEqual(scope.memory.freeSegments, 63);
 * }
 * ```
 */
export class CommandScope<R extends ScopeReport> implements AsyncDisposable {
  /** The budget. */
  readonly memory: MemoryManager;
  /** Temp files, inputs and outputs. */
  readonly io: IoManager;
  /** The command's report. */
  readonly report: R;
  #finished = false;
  /** libc stays loaded for the command (the output checks, huge-page advice, descriptors). */
  #libc: Disposable;

  private constructor(memory: MemoryManager, io: IoManager, report: R, libc: Disposable) {
    this.memory = memory;
    this.io = io;
    this.report = report;
    this.#libc = libc;
  }

  /**
   * Opens the memory manager and the io manager of a command.
   *
   * @param options Budget, segment size, leak detection, temp dirs, spill mode, report.
   * @returns The scope (use with `await using`).
   * @throws {ResourceError} If no temp directory is usable (the report is disposed then).
   */
  static async open<R extends ScopeReport>(
    options: CommandScopeOptions<R> & { handleSignals?: boolean },
  ): Promise<CommandScope<R>> {
    const libc = holdLibc();
    try {
      const memory = new MemoryManager({
        budgetBytes: options.budgetBytes,
        ...(options.segmentBytes === undefined ? {} : { segmentBytes: options.segmentBytes }),
        ...(options.leakDetection === undefined ? {} : { leakDetection: options.leakDetection }),
      });
      // The whole range the pool may grow into (the kernels read it at random places).
      adviseHugePages(
        memory.wasmMemory,
        memory.kernelScratch.byteOffset + memory.totalSegments * memory.segmentBytes,
      );
      const io = await IoManager.open({
        memory,
        ...(options.tmpDirs === undefined || options.tmpDirs.length === 0
          ? {}
          : { tmpDirs: [...options.tmpDirs] }),
        ...(options.spillMode === undefined ? {} : { spillMode: options.spillMode }),
        ...(options.lazyTmpDirs === undefined ? {} : { lazyTmpDirs: options.lazyTmpDirs }),
        ...(options.compressProgram === undefined
          ? {}
          : { compressProgram: options.compressProgram }),
        ...(options.handleSignals === undefined ? {} : { handleSignals: options.handleSignals }),
      });
      return new CommandScope(memory, io, options.report, libc);
    } catch (error) {
      libc[Symbol.dispose]();
      options.report[Symbol.dispose]();
      throw error;
    }
  }

  /**
   * Ends a successful command: closes io, ends the report, checks for leaks.
   *
   * @param exitCode The exit code the command returns.
   * @returns `exitCode`.
   * @throws {MemoryLeakError} If a segment is still leased.
   */
  async finish(exitCode: number): Promise<number> {
    this.#finished = true;
    const { memory, io, report } = this;
    const closeMs = timelineStart();
    await io.close();
    timelineEnd("close-io", closeMs);
    // The bytes the outputs wrote, unless the command counted them itself (gen).
    if (report.stats.output.bytes === 0) report.stats.output.bytes = io.stats.outputBytesWritten;
    // One leak report for the stats and the check: it reads every poisoned page once.
    const leakMs = timelineStart();
    const leakReport = memory.leakReport();
    memory.detachPoisonHelper(); // a Worker the command lent it for the check
    timelineEnd("leak-check", leakMs);
    timelineFlush();
    await report.end({ memory, leakReport, io: io.stats, spillMode: io.spillMode, exitCode });
    if (leakReport.text !== "") throw new MemoryLeakError(leakReport.text);
    return exitCode;
  }

  /** Closes io and runs the leak check if the command did not finish (an error path). */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      if (this.#finished) return;
      this.#finished = true;
      await this.io.close();
      this.memory.assertAllReleased();
    } finally {
      this.memory.detachPoisonHelper();
      this.#libc[Symbol.dispose]();
      this.report[Symbol.dispose]();
    }
  }
}

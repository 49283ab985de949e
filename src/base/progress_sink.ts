/**
 * The phases a long operation reports. `merge` may carry a pass number (`merge pass 2 of 3`).
 */
export type ProgressPhaseName = "read" | "sort" | "spill" | "merge" | "count" | "write";

/** One phase of work as announced to a {@linkcode ProgressSink}. */
export interface ProgressPhase {
  /** What is being done. */
  name: ProgressPhaseName;
  /** Bytes this phase will process, when known (undefined for stdin, pipes, .gz). */
  totalBytes?: number;
  /** For `merge`: the 1-based pass number. */
  pass?: number;
  /** For `merge`: how many passes in all (when known). */
  passCount?: number;
}

/**
 * Where sort, count and merge report how far they got.
 *
 * Call it per block (a chunk read, a run spilled, a merge output page), never per record:
 * `advance()` must stay cheap, and implementations may read a clock on every call.
 * The CLI passes a renderer (a progress line on a TTY) or {@linkcode silentProgress};
 * the stats recorder in `src/job` is a sink too (it times phases and samples RSS).
 *
 * @example Usage
 * ```ts
 * import { silentProgress, type ProgressSink } from "./progress_sink.ts";
 * function readAll(progress: ProgressSink, blockBytes: number[]): void {
 *   progress.phase({ name: "read", totalBytes: blockBytes.reduce((a, b) => a + b, 0) });
 *   for (const bytes of blockBytes) progress.advance(bytes);
 *   progress.finish();
 * }
 * readAll(silentProgress, [4096, 4096, 100]);
 * ```
 */
export interface ProgressSink {
  /** Starts a new phase; the byte counter restarts at zero. */
  phase(phase: ProgressPhase): void;
  /** Adds `byteCount` bytes done in the current phase. */
  advance(byteCount: number): void;
  /** The work is over (success or failure): erase any progress line. Idempotent. */
  finish(): void;
}

/** A sink that ignores everything: the default when nobody watches. */
export const silentProgress: ProgressSink = {
  phase(): void {},
  advance(): void {},
  finish(): void {},
};

/**
 * Forwards every call to several sinks (e.g. the progress line and the stats recorder).
 *
 * @param sinks The sinks, called in order.
 * @returns One sink.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { teeProgress, type ProgressSink } from "./progress_sink.ts";
 * let total = 0;
 * const counter: ProgressSink = { phase() {}, advance(n) { total += n; }, finish() {} };
 * const both = teeProgress(counter, counter);
 * both.advance(10);
 * strictEqual(total, 20);
 * ```
 */
export function teeProgress(...sinks: ProgressSink[]): ProgressSink {
  const active = sinks.filter((sink) => sink !== silentProgress);
  if (active.length === 0) return silentProgress;
  if (active.length === 1) return active[0]!;
  return {
    phase(phase: ProgressPhase): void {
      for (const sink of active) sink.phase(phase);
    },
    advance(byteCount: number): void {
      for (const sink of active) sink.advance(byteCount);
    },
    finish(): void {
      for (const sink of active) sink.finish();
    },
  };
}

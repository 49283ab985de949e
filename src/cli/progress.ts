import { formatBytes, type ProgressPhase, type ProgressSink, silentProgress } from "../base/mod.ts";

/** Options of {@linkcode ProgressRenderer}. */
export interface ProgressRendererOptions {
  /** Writes raw text to the terminal (stderr). */
  write: (text: string) => void;
  /** Milliseconds clock (default `performance.now`). */
  now?: () => number;
  /**
   * True (default): one line redrawn in place with `\r` and erased at the end. False: plain
   * lines, one per update, for a forced `--progress` into a log file.
   */
  redraw?: boolean;
  /** Terminal width in columns: the line is cut to fit (default 80). */
  columns?: number;
  /** Least time between two updates (default 100 ms: at most 10 updates per second). */
  intervalMs?: number;
}

const ERASE_LINE = "\r\x1b[K";

/**
 * Draws a progress line (`merge pass 2 of 3  12 MiB of 40 MiB (30%)  8.1 MiB/s  ETA 3s`)
 * from {@linkcode ProgressSink} calls, at most once per `intervalMs`, and erases it at the end.
 *
 * Clock and writer are injected, so tests drive it with a fake clock and a fake TTY.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { ProgressRenderer } from "./progress.ts";
 * let clock = 0;
 * let screen = "";
 * const progress = new ProgressRenderer({ write: (t) => screen += t, now: () => clock });
 * progress.phase({ name: "read", totalBytes: 2048 });
 * clock = 1000;
 * progress.advance(1024);
 * strictEqual(screen.includes("read  1 KiB of 2 KiB (50%)"), true);
 * progress.finish();
 * strictEqual(screen.endsWith("\r\x1b[K"), true);
 * ```
 */
export class ProgressRenderer implements ProgressSink {
  #write: (text: string) => void;
  #now: () => number;
  #redraw: boolean;
  #columns: number;
  #intervalMs: number;
  #phase: ProgressPhase | undefined = undefined;
  #phaseStartMs = 0;
  #doneBytes = 0;
  #lastDrawMs = Number.NEGATIVE_INFINITY;
  #shown = false;
  #drawCount = 0;

  /** @param options Writer, clock, mode, width and update interval. */
  constructor(options: ProgressRendererOptions) {
    this.#write = options.write;
    this.#now = options.now ?? (() => performance.now());
    this.#redraw = options.redraw ?? true;
    this.#columns = Math.max(20, options.columns ?? 80);
    this.#intervalMs = options.intervalMs ?? 100;
  }

  /** How many times a line was drawn (for tests and the stats of the renderer itself). */
  get drawCount(): number {
    return this.#drawCount;
  }

  /** Starts a phase; its counter restarts at zero. */
  phase(phase: ProgressPhase): void {
    this.#phase = { ...phase };
    this.#doneBytes = 0;
    this.#phaseStartMs = this.#now();
    this.#maybeDraw(this.#phaseStartMs);
  }

  /** Adds bytes done; draws when the last update is at least `intervalMs` old. */
  advance(byteCount: number): void {
    this.#doneBytes += byteCount;
    this.#maybeDraw(this.#now());
  }

  /** Erases the line (redraw mode). Idempotent. */
  finish(): void {
    if (this.#shown && this.#redraw) this.#write(ERASE_LINE);
    this.#shown = false;
    this.#phase = undefined;
  }

  #maybeDraw(nowMs: number): void {
    if (this.#phase === undefined || nowMs - this.#lastDrawMs < this.#intervalMs) return;
    this.#lastDrawMs = nowMs;
    this.#drawCount += 1;
    const line = this.formatLine(nowMs).slice(0, this.#columns - 1);
    if (this.#redraw) {
      this.#write(`\r${line}\x1b[K`);
      this.#shown = true;
    } else {
      this.#write(`${line}\n`);
    }
  }

  /**
   * The current line without control characters.
   *
   * @param nowMs The clock reading to compute rate and ETA with.
   * @returns The line.
   */
  formatLine(nowMs: number): string {
    const phase = this.#phase;
    if (phase === undefined) return "";
    let label: string = phase.name;
    if (phase.pass !== undefined) {
      label += ` pass ${phase.pass}${
        phase.passCount === undefined ? "" : ` of ${phase.passCount}`
      }`;
    }
    const done = this.#doneBytes;
    const total = phase.totalBytes;
    let amount = formatBytes(done);
    if (total !== undefined && total > 0) {
      const percent = Math.min(100, Math.floor((done / total) * 100));
      amount += ` of ${formatBytes(total)} (${percent}%)`;
    }
    const elapsedMs = nowMs - this.#phaseStartMs;
    const parts = [`spillway: ${label}`, amount];
    if (elapsedMs > 0 && done > 0) {
      const bytesPerMs = done / elapsedMs;
      parts.push(`${formatBytes(Math.round(bytesPerMs * 1000))}/s`);
      if (total !== undefined && total > done) {
        parts.push(`ETA ${formatDuration((total - done) / bytesPerMs)}`);
      }
    }
    return parts.join("  ");
  }
}

/**
 * Formats a duration for an ETA: `42s`, `3m05s`, `1h02m`.
 *
 * @param ms Milliseconds.
 * @returns A short duration.
 */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.ceil(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`;
}

/** The option spec commands spread into their options: `--progress` / `--no-progress`. */
export const progressOptionSpecs = { progress: { type: "boolean" } } as const;

/**
 * The progress sink for a command: a renderer on stderr when `--progress` is given or stderr
 * is a terminal (and `--no-progress` is not given), otherwise the silent sink.
 *
 * @param requested `values.progress`: true (forced), false (`--no-progress`) or undefined.
 * @returns The sink to pass down to sort/count/merge; call `finish()` when done.
 */
export function createProgress(requested: boolean | string | undefined | unknown): ProgressSink {
  if (requested === false) return silentProgress;
  const isTerminal = Deno.stderr.isTerminal();
  if (requested !== true && !isTerminal) return silentProgress;
  const encoder = new TextEncoder();
  let columns = 80;
  if (isTerminal) {
    try {
      columns = Deno.consoleSize().columns;
    } catch {
      // not a console after all: keep 80
    }
  }
  const renderer = new ProgressRenderer({
    write: (text) => {
      const bytes = encoder.encode(text);
      let written = 0;
      while (written < bytes.length) written += Deno.stderr.writeSync(bytes.subarray(written));
    },
    redraw: isTerminal,
    columns,
  });
  // A signal ends the process through Deno.exit (after the IoManager's cleanup): erase the line
  // then too, so the shell prompt does not land after a half-drawn progress line.
  if (isTerminal) globalThis.addEventListener("unload", () => renderer.finish());
  return renderer;
}

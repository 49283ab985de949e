/**
 * A coarse timeline of what each thread does, for finding idle gaps (diagnostics only).
 *
 * Off unless the environment variable `SPILLWAY_TIMELINE` names a directory: then every thread
 * (the main thread, each Worker) appends one line per span to `<dir>/<pid>-<thread>.tsv`:
 * `thread <TAB> label <TAB> startMs <TAB> endMs`, in wall-clock milliseconds since the epoch
 * (`performance.timeOrigin + performance.now()`, comparable across threads). Spans are coarse
 * (per input chunk, per buffer, per block): buffered, written synchronously every 256 spans and
 * by {@linkcode timelineFlush}.
 * `tests/bench/timeline_report.ts` turns the files into busy and idle times per thread.
 *
 * @module
 */

let directory: string | undefined | null = null;
let threadName = "main";
let file: Deno.FsFile | undefined = undefined;
const encoder = new TextEncoder();
/** Spans not yet written (flushed every 256 lines and by {@linkcode timelineFlush}). */
let pending: string[] = [];

function timelineDirectory(): string | undefined {
  if (directory === null) {
    try {
      directory = Deno.env.get("SPILLWAY_TIMELINE") || undefined;
    } catch {
      directory = undefined; // no --allow-env: off
    }
  }
  return directory;
}

/**
 * Names this thread in the timeline (default `"main"`); call once, first, in a Worker.
 *
 * @param name The thread's name, e.g. `"sort-worker"`.
 */
export function setTimelineThread(name: string): void {
  threadName = name;
}

/**
 * The current time for a span's start, or 0 when the timeline is off (then nothing is recorded).
 *
 * @returns Milliseconds since the epoch, or 0.
 *
 * @example Usage
 * ```ts
 * import { timelineEnd, timelineStart } from "./timeline.ts";
 * const startMs = timelineStart();
 * timelineEnd("work", startMs); // records only with SPILLWAY_TIMELINE set
 * ```
 */
export function timelineStart(): number {
  if (timelineDirectory() === undefined) return 0;
  return performance.timeOrigin + performance.now();
}

/**
 * Records the span `label` from `startMs` (from {@linkcode timelineStart}) until now.
 *
 * @param label What the thread did.
 * @param startMs The span's start; 0 (timeline off) records nothing.
 */
export function timelineEnd(label: string, startMs: number): void {
  if (startMs === 0) return;
  timelineSpan(label, startMs, performance.timeOrigin + performance.now());
}

/**
 * Records a span with both ends given (e.g. the start-up, from the process's time origin).
 *
 * @param label What the thread did.
 * @param startMs Start, milliseconds since the epoch.
 * @param endMs End, milliseconds since the epoch.
 */
export function timelineSpan(label: string, startMs: number, endMs: number): void {
  if (timelineDirectory() === undefined) return;
  pending.push(`${threadName}\t${label}\t${startMs.toFixed(3)}\t${endMs.toFixed(3)}\n`);
  if (pending.length >= 256) timelineFlush();
}

/** Writes the buffered spans out (a Worker calls it at the end of each job: it may be ended). */
export function timelineFlush(): void {
  const dir = timelineDirectory();
  if (dir === undefined || pending.length === 0) return;
  const text = pending.join("");
  pending = [];
  try {
    file ??= Deno.openSync(`${dir}/${Deno.pid}-${threadName}.tsv`, {
      append: true,
      create: true,
    });
    file.writeSync(encoder.encode(text));
  } catch {
    directory = undefined; // unwritable: stop trying
  }
}

/**
 * The process's time origin in milliseconds since the epoch (in a Worker: the Worker's).
 *
 * @returns `performance.timeOrigin`.
 */
export function timelineOrigin(): number {
  return performance.timeOrigin;
}

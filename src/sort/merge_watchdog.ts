/**
 * The bookkeeping of the parallel final merge's watchdog (src/sort/parallel_merge.ts), over
 * times passed in, so that tests drive it with a clock of their own. The watchdog ticks on the
 * main thread's event loop; it fails the merge when the merge Worker stays silent too long while
 * this thread waits on nothing else, and it warns once when the merge stalls for seconds without
 * failing (docs/architecture.md, "What each wait of the final merge relies on").
 *
 * Time this thread's event loop was held up (a long synchronous stretch, a process starved of
 * CPU or stalled in the kernel's memory reclaim) is not the Worker's silence: its messages wait
 * unread in the queue meanwhile, and the first tick after the hold-up may run before them (seen
 * in about one run of three in Deno 2.9). Counted as silence, a hold-up of a minute failed a
 * merge whose Worker was fine.
 *
 * @module
 */

/** What a tick found. */
export interface WatchdogTick {
  /** The Worker's silence now (ms), not counting time this thread was held up. */
  silentMs: number;
  /** How late this tick ran (ms): how long this thread's event loop was held up. */
  heldUpMs: number;
  /** Fail the merge: the Worker stayed silent too long. */
  failed: boolean;
  /** Warn now (once per merge each): this thread was held up, or the Worker is silent. */
  warning: "held-up" | "silent" | undefined;
}

/** Options of {@linkcode MergeWatchdog}. */
export interface MergeWatchdogOptions {
  /** The longest silence of the Worker (ms) while this thread waits on nothing else. */
  silenceMsMax: number;
  /** How much longer it may be silent before its first message (it boots). */
  bootMsMax: number;
  /** How often it ticks (ms). */
  intervalMs: number;
  /** From how long a silence or a hold-up (ms) to warn. */
  warnMs: number;
  /** When the merge started (ms, the clock `heard` and `tick` are given). */
  startMs: number;
}

/**
 * The silence of the merge Worker, as the watchdog sees it.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { MergeWatchdog } from "./merge_watchdog.ts";
 * const watchdog = new MergeWatchdog({
 *   silenceMsMax: 60_000, bootMsMax: 10_000, intervalMs: 1_000, warnMs: 10_000, startMs: 0,
 * });
 * watchdog.heard(500);
 * strictEqual(watchdog.tick(1_000, false).silentMs, 500);
 * // The event loop was held up for 69 s: not the Worker's silence.
 * strictEqual(watchdog.tick(71_000, false).failed, false);
 * ```
 */
export class MergeWatchdog {
  readonly #options: MergeWatchdogOptions;
  #lastHeardMs: number;
  #lastTickMs: number;
  #heard = false;
  #warnedHeldUp = false;
  #warnedSilent = false;

  constructor(options: MergeWatchdogOptions) {
    this.#options = options;
    this.#lastHeardMs = options.startMs;
    this.#lastTickMs = options.startMs;
  }

  /** The Worker said something (a message, a rung bell) at `nowMs`. */
  heard(nowMs: number): void {
    this.#lastHeardMs = Math.max(this.#lastHeardMs, nowMs);
    this.#heard = true;
  }

  /**
   * One tick at `nowMs`; `busy`: this thread has work pending (an output write, a block read),
   * so the Worker may well wait on it; `slowWrite`: since the last tick, an output write held
   * this thread up (a reader that takes its time, `| less`): no stall to warn of.
   */
  tick(nowMs: number, busy: boolean, slowWrite = false): WatchdogTick {
    const { silenceMsMax, bootMsMax, intervalMs, warnMs } = this.#options;
    const heldUpMs = Math.max(0, nowMs - this.#lastTickMs - intervalMs);
    this.#lastTickMs = nowMs;
    // The hold-up was no time to listen in: the Worker's messages of that time are unread.
    this.#lastHeardMs = Math.min(nowMs, this.#lastHeardMs + heldUpMs);
    if (busy) this.#lastHeardMs = nowMs;
    const silentMs = nowMs - this.#lastHeardMs;
    const failed = silentMs > silenceMsMax + (this.#heard ? 0 : bootMsMax);
    let warning: WatchdogTick["warning"] = undefined;
    if (heldUpMs >= warnMs && !slowWrite && !this.#warnedHeldUp) {
      this.#warnedHeldUp = true;
      warning = "held-up";
    } else if (silentMs >= warnMs && !failed && !this.#warnedSilent) {
      this.#warnedSilent = true;
      warning = "silent";
    }
    return { silentMs, heldUpMs, failed, warning };
  }
}

/**
 * The poison check of many free pages split between this thread and an idle Worker. At a
 * command's end the leak report reads every free page (64 MiB at `-S 64m`: ~8 ms on one core);
 * the sort Worker is idle by then. The memory manager cuts its poisoned pages into chunks of
 * consecutive pages and publishes them in a control block; both threads take chunks by one
 * counter and mark each clean or dirty. Only a dirty chunk's pages are then checked one by one
 * here, by the same check as without help, so a write after release is reported exactly as
 * without it. The helper only reads: a chunk it took and has not marked by the time this thread
 * has no chunk left is read here again (this thread never waits for the helper), and a helper
 * that never comes leaves every chunk to this thread.
 *
 * The helper is asked once, when it is lent ({@linkcode PoisonHelper.post}), and then waits on
 * the control block's round word (`Atomics.wait`: a wake there took ~0.1 ms at load 4, where a
 * message to an idle Worker took 0.3-17 ms); it returns to its event loop when the round word
 * says ended ({@linkcode endPoisonHelp}) or after {@linkcode POISON_HELP_STANDBY_MS} without a
 * round, and a round that finds it gone asks it again.
 *
 * ```
 * control (Int32Array over a SharedArrayBuffer, 4 + 3 * POISON_CHUNKS_MAX words):
 * | round | next chunk | chunk count | helper waits | chunk i: first page, page count, mark |
 * round: 0 none yet, n > 0 the n-th check, -1 ended
 * mark: 4 * round + 1 clean, 4 * round + 2 dirty (a mark of an earlier round counts as none)
 * ```
 *
 * Leaf module: the sort Worker imports it for {@linkcode helpPoisonCheck}.
 *
 * @module
 */
import { firstDirtyByte, poisonOps } from "./_poison_scan.ts";

/** The least bytes of one chunk (a twentieth of a millisecond to scan). */
export const POISON_CHUNK_BYTES = 512 * 1024;
/** The most chunks of one round (larger chunks past 128 MiB of poisoned pages). */
export const POISON_CHUNKS_MAX = 256;
/** Below this many poisoned bytes the manager checks alone. */
export const POISON_HELP_BYTES_MIN = 4 * 1024 * 1024;
/** How long the helper waits for a round before it returns to its event loop. */
export const POISON_HELP_STANDBY_MS = 10_000;

const ROUND = 0;
const NEXT = 1;
const COUNT = 2;
const WAITING = 3;
const CHUNKS = 4;
const CHUNK_WORDS = 3;
const ENDED = -1;
const CLEAN = 1;
const DIRTY = 2;

/** What the helper needs (a message to it: structured-clonable). */
export interface PoisonCheckHelp {
  /** The shared memory the pages are in. */
  memory: WebAssembly.Memory;
  /** The control block ({@linkcode newPoisonHelpControl}). */
  control: Int32Array;
  /** Where page 0 is in the shared memory. */
  baseOffset: number;
  /** Bytes per page. */
  segmentBytes: number;
}

/** Another thread over the same shared memory that runs {@linkcode helpPoisonCheck}. */
export interface PoisonHelper extends Disposable {
  /** Asks it to help (e.g. a Worker's `postMessage`); it must not throw. */
  post(help: PoisonCheckHelp): void;
}

/**
 * A control block for one helper's rounds.
 *
 * @returns The block, no round yet.
 */
export function newPoisonHelpControl(): Int32Array {
  const words = CHUNKS + POISON_CHUNKS_MAX * CHUNK_WORDS;
  return new Int32Array(new SharedArrayBuffer(words * Int32Array.BYTES_PER_ELEMENT));
}

/**
 * The helper's side: waits for rounds and takes their chunks, until the control block says
 * ended or no round comes for {@linkcode POISON_HELP_STANDBY_MS}.
 *
 * @param help The memory, the control block and the pages' place.
 * @param options `standbyMs`: how long to wait for a round (default
 *   {@linkcode POISON_HELP_STANDBY_MS}; tests helping on the same thread: 0); `onRound`: called
 *   as a round begins, returns what to call as it ends (a timeline span).
 * @returns How many chunks it scanned.
 */
export function helpPoisonCheck(
  help: PoisonCheckHelp,
  options: { standbyMs?: number; onRound?: () => () => void } = {},
): number {
  const { control } = help;
  const ops = poisonOps(help.memory) ?? null;
  const standbyMs = options.standbyMs ?? POISON_HELP_STANDBY_MS;
  let round = 0;
  let scanned = 0;
  for (;;) {
    Atomics.store(control, WAITING, 1);
    const woken = Atomics.wait(control, ROUND, round, standbyMs);
    Atomics.store(control, WAITING, 0);
    const now = Atomics.load(control, ROUND);
    if (now === ENDED || (woken === "timed-out" && now === round)) return scanned;
    round = now;
    const roundEnd = options.onRound?.();
    for (let chunk = takeChunk(control); chunk >= 0; chunk = takeChunk(control)) {
      // A helper late for its round stops when the next one begins (it then takes that one):
      // what it took meanwhile is read again by this round's owner, its mark counting as none.
      if (Atomics.load(control, ROUND) !== round) break;
      const at = CHUNKS + chunk * CHUNK_WORDS;
      const byteOffset = help.baseOffset + control[at]! * help.segmentBytes;
      const byteLength = control[at + 1]! * help.segmentBytes;
      let clean = false;
      try {
        clean = firstDirtyByte(ops, help.memory.buffer, byteOffset, byteLength) < 0;
      } catch {
        // A chunk read while the next round rewrote it: "dirty" sends it to be checked there.
      }
      Atomics.store(control, at + 2, 4 * round + (clean ? CLEAN : DIRTY));
      scanned += 1;
    }
    roundEnd?.();
  }
}

/** The next chunk of the round, or -1 when none is left. */
function takeChunk(control: Int32Array): number {
  const chunk = Atomics.add(control, NEXT, 1);
  return chunk < Atomics.load(control, COUNT) ? chunk : -1;
}

/**
 * This thread's side of a round: publishes `chunks`, wakes the helper (or asks it again if it
 * is not waiting), scans chunks itself until none is left, and then the one the helper may
 * still be on.
 *
 * @param chunks First page and page count of each chunk, two words a chunk, in page order.
 * @param count How many chunks (at most {@linkcode POISON_CHUNKS_MAX}).
 * @param options The helper and what it was asked with, and this thread's scan.
 * @returns Per chunk, whether it holds a byte other than the poison (to check page by page).
 */
export function checkPoisonWithHelp(
  chunks: Int32Array,
  count: number,
  options: {
    /** The other thread. */
    helper: PoisonHelper;
    /** What it was asked with (its control block). */
    help: PoisonCheckHelp;
    /** Whether the chunk's pages hold only the poison, scanned here. */
    isClean(firstPage: number, pageCount: number): boolean;
  },
): boolean[] {
  const { control } = options.help;
  const round = Atomics.load(control, ROUND) + 1;
  for (let chunk = 0; chunk < count; chunk += 1) {
    const at = CHUNKS + chunk * CHUNK_WORDS;
    control[at] = chunks[2 * chunk]!;
    control[at + 1] = chunks[2 * chunk + 1]!;
    control[at + 2] = 0;
  }
  Atomics.store(control, COUNT, count);
  Atomics.store(control, NEXT, 0);
  Atomics.store(control, ROUND, round);
  if (Atomics.notify(control, ROUND) === 0 && Atomics.load(control, WAITING) === 0) {
    options.helper.post(options.help); // it returned to its event loop: ask again
  }
  const dirty = new Array<boolean>(count).fill(false);
  const mine = new Array<boolean>(count).fill(false);
  for (let chunk = takeChunk(control); chunk >= 0; chunk = takeChunk(control)) {
    mine[chunk] = true;
    dirty[chunk] = !options.isClean(chunks[2 * chunk]!, chunks[2 * chunk + 1]!);
  }
  // The helper takes one chunk at a time: at most one of its chunks is still under way, and
  // reading it here costs less than waiting for a thread the scheduler may have set aside.
  for (let chunk = 0; chunk < count; chunk += 1) {
    if (mine[chunk]) continue;
    const mark = Atomics.load(control, CHUNKS + chunk * CHUNK_WORDS + 2);
    dirty[chunk] = mark === 4 * round + CLEAN
      ? false
      : mark === 4 * round + DIRTY || !options.isClean(chunks[2 * chunk]!, chunks[2 * chunk + 1]!);
  }
  return dirty;
}

/**
 * Ends the helper's rounds: a helper waiting for one returns to its event loop (a Worker that
 * waits in `Atomics.wait` is not ended by `terminate()`).
 *
 * @param control The helper's control block.
 */
export function endPoisonHelp(control: Int32Array): void {
  Atomics.store(control, ROUND, ENDED);
  Atomics.notify(control, ROUND);
}

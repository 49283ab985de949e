/**
 * The poison work on many pages split between this thread and an idle Worker: the check of the
 * free pages (at a command's end the leak report reads every one: 64 MiB at `-S 64m`, ~7 ms on
 * one core) and the fill of a large lease's pages as it is released (the in-memory run's ~25 MiB
 * after the final merge, ~3 ms). The memory manager cuts the pages into chunks of consecutive
 * pages and publishes them in a control block as a round; both threads take chunks by one
 * counter.
 *
 * - A check: each chunk is marked clean or dirty; only a dirty chunk's pages are then checked one
 *   by one here, by the same check as without help, so a write after release is reported exactly
 *   as without it. The helper only reads: a chunk it took and has not marked by the time this
 *   thread has no chunk left is read here again (this thread never waits for it).
 * - A fill: each chunk is filled with the poison and marked done; this thread returns only once
 *   every chunk the helper took is done (the pages may be handed out again right after), which
 *   takes at most one chunk's fill (~0.05 ms) after its own last one.
 *
 * A helper that never comes leaves every chunk to this thread. The counter carries the round
 * (`takeChunk` claims by compare-exchange), so a helper late for its round takes nothing of the
 * next one, and marks carry it too, so a late mark counts as none.
 *
 * The helper is asked once, when it is lent ({@linkcode PoisonHelper.post}), and then waits on
 * the control block's round word (`Atomics.wait`: a wake there took ~0.1 ms at load 4, where a
 * message to an idle Worker took 0.3-17 ms); it returns to its event loop when the round word
 * says ended ({@linkcode endPoisonHelp}) or after {@linkcode POISON_HELP_STANDBY_MS} without a
 * round, and a round that finds it gone asks it again.
 *
 * ```
 * control (Int32Array over a SharedArrayBuffer, 5 + 3 * POISON_CHUNKS_MAX words):
 * | round | next: round tag << 16 | chunk | chunk count | helper waits | operation |
 * | chunk i: first page, page count, mark | ...
 * round: 0 none yet, n > 0 the n-th round, -1 ended; operation: 0 check, 1 fill
 * mark: 4 * round + 1 clean (check) or done (fill), 4 * round + 2 dirty
 * ```
 *
 * Leaf module: the sort Worker imports it for {@linkcode helpPoisonCheck}.
 *
 * @module
 */
import { firstDirtyByte, POISON_BYTE, type PoisonOps, poisonOps } from "./_poison_scan.ts";

/** The least bytes of one chunk (a twentieth of a millisecond to scan or fill). */
export const POISON_CHUNK_BYTES = 512 * 1024;
/** The most chunks of one round (larger chunks past 128 MiB of pages). */
export const POISON_CHUNKS_MAX = 256;
/** Below this many bytes the manager checks or fills alone. */
export const POISON_HELP_BYTES_MIN = 4 * 1024 * 1024;
/** How long the helper waits for a round before it returns to its event loop. */
export const POISON_HELP_STANDBY_MS = 10_000;
/** How long a fill waits for the helper's last chunk before it gives up (a stalled thread). */
const FILL_WAIT_MS_MAX = 10_000;

const ROUND = 0;
const NEXT = 1;
const COUNT = 2;
const WAITING = 3;
const OPERATION = 4;
const CHUNKS = 5;
const CHUNK_WORDS = 3;
const ENDED = -1;
const CHECK = 0;
const FILL = 1;
const CLEAN = 1;
const DIRTY = 2;
const TAG_MASK = 0x7fff;

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

/** The helper lent to a manager and what it was asked with, for a round. */
export interface LentPoisonHelper {
  /** The other thread. */
  helper: PoisonHelper;
  /** What it was asked with (its control block). */
  help: PoisonCheckHelp;
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
 * The helper's side: waits for rounds and works on their chunks, until the control block says
 * ended or no round comes for {@linkcode POISON_HELP_STANDBY_MS}.
 *
 * @param help The memory, the control block and the pages' place.
 * @param options `standbyMs`: how long to wait for a round (default
 *   {@linkcode POISON_HELP_STANDBY_MS}; tests helping on the same thread: 0); `onRound`: called
 *   as a round begins, returns what to call as it ends (a timeline span).
 * @returns How many chunks it worked on.
 */
export function helpPoisonCheck(
  help: PoisonCheckHelp,
  options: { standbyMs?: number; onRound?: () => () => void } = {},
): number {
  const { control } = help;
  const ops = poisonOps(help.memory) ?? null;
  const standbyMs = options.standbyMs ?? POISON_HELP_STANDBY_MS;
  let round = 0;
  let done = 0;
  for (;;) {
    Atomics.store(control, WAITING, 1);
    const woken = Atomics.wait(control, ROUND, round, standbyMs);
    Atomics.store(control, WAITING, 0);
    const now = Atomics.load(control, ROUND);
    if (now === ENDED || (woken === "timed-out" && now === round)) return done;
    round = now;
    const roundEnd = options.onRound?.();
    const fill = Atomics.load(control, OPERATION) === FILL;
    for (let chunk = takeChunk(control, round); chunk >= 0; chunk = takeChunk(control, round)) {
      // A fill's words stay as they are until it is marked (the round waits for it).
      const at = CHUNKS + chunk * CHUNK_WORDS;
      const byteOffset = help.baseOffset + control[at]! * help.segmentBytes;
      const byteLength = control[at + 1]! * help.segmentBytes;
      if (fill) {
        fillChunk(ops, help.memory, byteOffset, byteLength);
        Atomics.store(control, at + 2, 4 * round + CLEAN);
        Atomics.notify(control, at + 2);
      } else {
        Atomics.store(control, at + 2, 4 * round + checkChunk(ops, help, byteOffset, byteLength));
      }
      done += 1;
    }
    roundEnd?.();
  }
}

/** Fills a chunk with the poison. */
function fillChunk(
  ops: PoisonOps | null,
  memory: WebAssembly.Memory,
  byteOffset: number,
  byteLength: number,
): void {
  if (ops === null) new Uint8Array(memory.buffer, byteOffset, byteLength).fill(POISON_BYTE);
  else ops.fill(byteOffset, byteLength, POISON_BYTE);
}

/** Scans a chunk: its mark (clean or dirty). */
function checkChunk(
  ops: PoisonOps | null,
  help: PoisonCheckHelp,
  byteOffset: number,
  byteLength: number,
): number {
  try {
    return firstDirtyByte(ops, help.memory.buffer, byteOffset, byteLength) < 0 ? CLEAN : DIRTY;
  } catch {
    // A check does not wait for the helper: a chunk it read while the next round rewrote the
    // words is "dirty" (checked page by page there; its mark counts for no other round).
    return DIRTY;
  }
}

/** Takes the next chunk of `round`, or -1 when none is left (or the round is over). */
function takeChunk(control: Int32Array, round: number): number {
  for (;;) {
    const next = Atomics.load(control, NEXT);
    if (next >>> 16 !== (round & TAG_MASK)) return -1;
    const chunk = next & 0xffff;
    if (chunk >= Atomics.load(control, COUNT)) return -1;
    if (Atomics.compareExchange(control, NEXT, next, next + 1) === next) return chunk;
  }
}

/**
 * Publishes a round of `count` chunks and wakes the helper (or asks it again if it is not
 * waiting).
 *
 * @returns The round.
 */
function startRound(
  lent: LentPoisonHelper,
  chunks: Int32Array,
  count: number,
  operation: number,
): number {
  const { control } = lent.help;
  const round = Atomics.load(control, ROUND) + 1;
  // The counter first: whoever is still on the last round takes nothing of this one.
  Atomics.store(control, NEXT, (round & TAG_MASK) << 16);
  for (let chunk = 0; chunk < count; chunk += 1) {
    const at = CHUNKS + chunk * CHUNK_WORDS;
    control[at] = chunks[2 * chunk]!;
    control[at + 1] = chunks[2 * chunk + 1]!;
    control[at + 2] = 0;
  }
  Atomics.store(control, COUNT, count);
  Atomics.store(control, OPERATION, operation);
  Atomics.store(control, ROUND, round);
  if (Atomics.notify(control, ROUND) === 0 && Atomics.load(control, WAITING) === 0) {
    lent.helper.post(lent.help); // it returned to its event loop: ask again
  }
  return round;
}

/**
 * This thread's side of a check: publishes `chunks`, scans chunks itself until none is left,
 * and then the one the helper may still be on (it never waits for the helper).
 *
 * @param chunks First page and page count of each chunk, two words a chunk, in page order.
 * @param count How many chunks (at most {@linkcode POISON_CHUNKS_MAX}).
 * @param lent The helper, and this thread's scan of a chunk.
 * @returns Per chunk, whether it holds a byte other than the poison (to check page by page).
 */
export function checkPoisonWithHelp(
  chunks: Int32Array,
  count: number,
  lent: LentPoisonHelper & {
    /** Whether the chunk's pages hold only the poison, scanned here. */
    isClean(firstPage: number, pageCount: number): boolean;
  },
): boolean[] {
  const { control } = lent.help;
  const round = startRound(lent, chunks, count, CHECK);
  const dirty = new Array<boolean>(count).fill(false);
  const mine = new Array<boolean>(count).fill(false);
  for (let chunk = takeChunk(control, round); chunk >= 0; chunk = takeChunk(control, round)) {
    mine[chunk] = true;
    dirty[chunk] = !lent.isClean(chunks[2 * chunk]!, chunks[2 * chunk + 1]!);
  }
  // The helper takes one chunk at a time: at most one of its chunks is still under way, and
  // reading it here costs less than waiting for a thread the scheduler may have set aside.
  for (let chunk = 0; chunk < count; chunk += 1) {
    if (mine[chunk]) continue;
    const mark = Atomics.load(control, CHUNKS + chunk * CHUNK_WORDS + 2);
    dirty[chunk] = mark === 4 * round + CLEAN
      ? false
      : mark === 4 * round + DIRTY || !lent.isClean(chunks[2 * chunk]!, chunks[2 * chunk + 1]!);
  }
  return dirty;
}

/**
 * This thread's side of a fill: publishes `chunks`, fills chunks itself until none is left,
 * then waits until every chunk the helper took is filled.
 *
 * @param chunks First page and page count of each chunk, two words a chunk.
 * @param count How many chunks (at most {@linkcode POISON_CHUNKS_MAX}).
 * @param lent The helper, and this thread's fill of a chunk.
 * @throws {Error} If the helper left a chunk unfilled for 10 s (a stalled thread: internal).
 */
export function fillPoisonWithHelp(
  chunks: Int32Array,
  count: number,
  lent: LentPoisonHelper & {
    /** Fills the chunk's pages with the poison, here. */
    fill(firstPage: number, pageCount: number): void;
  },
): void {
  const { control } = lent.help;
  const round = startRound(lent, chunks, count, FILL);
  const mine = new Array<boolean>(count).fill(false);
  for (let chunk = takeChunk(control, round); chunk >= 0; chunk = takeChunk(control, round)) {
    mine[chunk] = true;
    lent.fill(chunks[2 * chunk]!, chunks[2 * chunk + 1]!);
  }
  // Every chunk is taken: those not taken here were taken by the helper in this round, and
  // it marks each once it is filled.
  const deadlineMs = performance.now() + FILL_WAIT_MS_MAX;
  for (let chunk = 0; chunk < count; chunk += 1) {
    if (mine[chunk]) continue;
    const at = CHUNKS + chunk * CHUNK_WORDS + 2;
    for (let mark = Atomics.load(control, at); mark !== 4 * round + CLEAN;) {
      if (performance.now() > deadlineMs) {
        throw new Error(`The poison helper left a chunk of pages unfilled for 10 s`);
      }
      Atomics.wait(control, at, mark, 50);
      mark = Atomics.load(control, at);
    }
  }
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

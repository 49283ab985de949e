/**
 * The poison check of many free pages split between this thread and an idle Worker. At a
 * command's end the leak report reads every free page (64 MiB at `-S 64m`: ~8 ms on one core,
 * about half on two); the sort Worker is idle by then. The memory manager cuts its poisoned
 * pages into chunks of consecutive pages (at most {@linkcode POISON_CHUNK_BYTES} each) and
 * publishes them in a control block; both threads take chunks by one counter and mark each clean
 * or dirty. Only a dirty chunk's pages are then checked one by one here, by the same check as
 * without help, so a write after release is reported exactly as without it. The helper only
 * reads: a chunk it took and has not marked by the time this thread has no chunk left is read
 * here again, and a helper that never comes leaves every chunk to this thread.
 *
 * ```
 * control (Int32Array over a SharedArrayBuffer, 2 + 3 * chunkCount words):
 * | next chunk | chunk count | chunk 0: first page, page count, state | chunk 1: ... |
 * state: 0 not marked yet, 1 clean, 2 dirty (page by page here)
 * ```
 *
 * Leaf module: the sort Worker imports it for {@linkcode helpPoisonCheck}.
 *
 * @module
 */
import { firstDirtyByte, poisonOps } from "./_poison_scan.ts";

/** The most bytes of one chunk (a fraction of a millisecond to scan). */
export const POISON_CHUNK_BYTES = 512 * 1024;
/** Below this many poisoned bytes the manager checks alone (a message costs more). */
export const POISON_HELP_BYTES_MIN = 4 * 1024 * 1024;

const NEXT = 0;
const COUNT = 1;
const CHUNKS = 2;
const CHUNK_WORDS = 3;
const PENDING = 0;
const CLEAN = 1;
const DIRTY = 2;

/** What the helper needs (a message to it: structured-clonable). */
export interface PoisonCheckHelp {
  /** The shared memory the pages are in. */
  memory: WebAssembly.Memory;
  /** The control block. */
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
 * The helper's side: takes chunks until none is left and marks each clean or dirty.
 *
 * @param help The memory, the control block and the pages' place.
 * @returns How many chunks it scanned.
 */
export function helpPoisonCheck(help: PoisonCheckHelp): number {
  const { memory, control, baseOffset, segmentBytes } = help;
  const ops = poisonOps(memory) ?? null;
  const count = Atomics.load(control, COUNT);
  let scanned = 0;
  for (
    let chunk = Atomics.add(control, NEXT, 1);
    chunk < count;
    chunk = Atomics.add(control, NEXT, 1)
  ) {
    const at = CHUNKS + chunk * CHUNK_WORDS;
    const byteOffset = baseOffset + control[at]! * segmentBytes;
    const byteLength = control[at + 1]! * segmentBytes;
    const clean = firstDirtyByte(ops, memory.buffer, byteOffset, byteLength) < 0;
    Atomics.store(control, at + 2, clean ? CLEAN : DIRTY);
    scanned += 1;
  }
  return scanned;
}

/**
 * This thread's side: publishes `chunks`, asks `helper`, scans chunks itself until none is left,
 * and then the one the helper may still be on (it never waits for the helper).
 *
 * @param chunks First page and page count of each chunk, in page order.
 * @param options The helper, the pages' place, and this thread's scan of a chunk.
 * @returns Per chunk, whether it holds a byte other than the poison (to check page by page).
 */
export function checkPoisonWithHelp(
  chunks: readonly (readonly [firstPage: number, pageCount: number])[],
  options: Omit<PoisonCheckHelp, "control"> & {
    /** The other thread. */
    helper: PoisonHelper;
    /** Whether the chunk's pages hold only the poison, scanned here. */
    isClean(firstPage: number, pageCount: number): boolean;
  },
): boolean[] {
  const count = chunks.length;
  const control = new Int32Array(new SharedArrayBuffer((CHUNKS + count * CHUNK_WORDS) * 4));
  for (let chunk = 0; chunk < count; chunk += 1) {
    control[CHUNKS + chunk * CHUNK_WORDS] = chunks[chunk]![0];
    control[CHUNKS + chunk * CHUNK_WORDS + 1] = chunks[chunk]![1];
  }
  Atomics.store(control, COUNT, count);
  options.helper.post({
    memory: options.memory,
    control,
    baseOffset: options.baseOffset,
    segmentBytes: options.segmentBytes,
  });
  const dirty = new Array<boolean>(count).fill(false);
  const mine = new Array<boolean>(count).fill(false);
  for (
    let chunk = Atomics.add(control, NEXT, 1);
    chunk < count;
    chunk = Atomics.add(control, NEXT, 1)
  ) {
    mine[chunk] = true;
    dirty[chunk] = !options.isClean(...chunks[chunk]!);
  }
  // The helper takes one chunk at a time: at most one of its chunks is still under way, and
  // reading it here costs less than waiting for a thread the scheduler may have set aside.
  for (let chunk = 0; chunk < count; chunk += 1) {
    if (mine[chunk]) continue;
    const state = Atomics.load(control, CHUNKS + chunk * CHUNK_WORDS + 2);
    dirty[chunk] = state === PENDING ? !options.isClean(...chunks[chunk]!) : state === DIRTY;
  }
  return dirty;
}

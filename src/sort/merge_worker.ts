/**
 * The merge Worker's side of the parallel final merge: runs the merge kernel loop
 * (src/sort/kernel_merge.ts) over the shared memory while the main thread writes the output
 * out and reads and checks the blocks ahead (src/sort/parallel_merge.ts). The Worker merges plain
 * spill runs from its own block buffers, one block ahead (the main thread reads the next block
 * into the other buffer; when it has not started on it by the time it is needed, the Worker
 * reads it itself, with io RunBlockReader, synchronously), and gathers the in-memory run itself; only runs it cannot read (compressed, or a
 * test's planned I/O fault) are read, checked and copied in by the main thread, one slot per
 * input. It runs in the
 * sort Worker (sort_worker.ts passes it the start message), so a sort has one Worker isolate
 * at a time. The two threads meet in a control block of the shared memory; the Worker blocks
 * on it with `Atomics.wait`, the main thread hears from the Worker by messages, and of a block
 * to read and check ahead by the check bell (word 7), which it waits on with
 * `Atomics.waitAsync`: a Worker message cost the main isolate ~2.5 KB of heap, part of which
 * outlived two scavenges, so one message per block raised its old generation through the final
 * merge of a 2 GiB sort by ~1.5 MiB, until a major GC that seldom comes (docs/performance.md,
 * "Memory"):
 *
 * ```
 * word 0..4           grow request: state (0 idle, 1 asked, 2 given, 3 refused), bytes asked,
 *                     offset given, bytes given, input (-1: the -u copy)
 * word 5              abort: 1 when the main thread gave up (it then sets every other word to
 *                     -1 and notifies, so a waiting Worker wakes: `terminate()` alone does
 *                     not end an `Atomics.wait`)
 * word 6              stopped: 1 once the Worker's merge has ended (the main thread gives the
 *                     pages back only then: a terminated Worker may still be writing)
 * word 7              check bell: the Worker adds 1 and notifies when it asks for a check (an
 *                     input slot in state 1); the main thread then looks at every slot
 * word 8, 9           where the Worker is ({@linkcode WORKER_SITES}) and how often that changed:
 *                     the watchdog names it when the merge stalls (merge_watchdog.ts)
 * word 10             messages posted: the Worker adds 1 before each (a main thread that merges
 *                     a lane of its own turns its event loop when this moved, not on a clock)
 * 11 + 4 i            input i's next block: full, start, end, last; for a run the Worker
 *                     reads: read-and-check state (1 asked, 2 checked, 3 the main thread
 *                     reads and checks it, 4 the Worker does), buffer offset, the check's
 *                     result, block index
 * 11 + 4 k + 4 h      output half h: full (1: filled, the main thread writes it; 0: free), bytes
 * ```
 *
 * @module
 */
// Leaf modules, not the layers' mod.ts: this file is in the sort Worker's module graph.
import { CorruptSpillError } from "../io/errors.ts";
import { OutputPartWriter } from "../io/output_part.ts";
import { holdLibc, libcLoadCount } from "../io/libc.ts";
import { checkSpillBlock, RunBlockReader } from "../io/run_block_reader.ts";
import { timelineEnd, timelineFlush, timelineStart } from "../io/timeline.ts";
import { kernelsOverBuffer, shareKernels, WasmKernels } from "../kernels/wasm_kernels.ts";
import type { RunRange } from "./key_split.ts";
import {
  type BlockSource,
  type BlockWrite,
  GatherBlocks,
  type GatherPlace,
  type KernelMergeOptions,
  type KernelMergeResult,
  mergeBlocksToLines,
  type MergeRegion,
  type MergeRegions,
} from "./kernel_merge.ts";

/** Word of the control block that says the main thread gave up. */
export const ABORT_WORD = 5;
/** Word of the control block the Worker sets when its merge has ended. */
export const STOPPED_WORD = 6;
/**
 * Word of the control block the Worker rings (adds 1, notifies) when it asks the main thread to
 * read and check a block.
 */
export const CHECK_BELL_WORD = 7;
/** Word of the control block that says where the Worker is (an index of WORKER_SITES). */
export const SITE_WORD = 8;
/** Word of the control block the Worker adds 1 to whenever it changes the site. */
export const SITE_CHANGES_WORD = 9;
/**
 * Word of the control block the Worker adds 1 to before it posts a message to the main thread
 * (placed_merge.ts: this thread's lane turns its event loop for the Worker's messages when the
 * word moved, instead of every 2 ms: a turn took 0.4-0.6 ms at load 1.6).
 */
export const POSTED_WORD = 10;
/** Words before the input slots. */
const HEADER_WORDS = 11;

/**
 * Where the merge Worker is, for the watchdog's warning (stored in {@linkcode SITE_WORD} when it
 * starts and ends each wait or blocking call; one store per block, not per record).
 */
export const WORKER_SITES = [
  "starting",
  "merging",
  "waiting for this thread to hand over an input block",
  "waiting for this thread to check a run block",
  "waiting for this thread to lend memory",
  "waiting for this thread to write an output half",
  "reading and checking a run block",
  "writing its part of the output",
] as const;

const SITE_MERGING = 1;
const SITE_WAIT_SLOT = 2;
const SITE_WAIT_CHECK = 3;
const SITE_WAIT_GROW = 4;
const SITE_WAIT_OUTPUT = 5;
const SITE_READ = 6;
const SITE_WRITE = 7;

/** Notes in the control block that the Worker is at `site` now. */
function enter(control: Int32Array, site: number): void {
  Atomics.store(control, SITE_WORD, site);
  Atomics.add(control, SITE_CHANGES_WORD, 1);
}

/** What the main thread writes into every control word when it gives up. */
export const ABORTED = -1;

/**
 * For tests: how the Worker fails after `afterBlocks` input blocks: `throw` (an error the merge
 * reports), `crash` (an uncaught error), `exit` (it closes itself without a word), `hang` (it
 * waits forever on a word nobody notifies).
 */
export interface MergeWorkerFault {
  /** How it fails. */
  kind: "throw" | "crash" | "exit" | "hang";
  /** Input blocks taken before. */
  afterBlocks: number;
}

/** Thrown in the Worker when the main thread gave up (nobody hears its error). */
class MergeAborted extends Error {
  constructor() {
    super("the main thread ended the merge");
    this.name = "MergeAborted";
  }
}

/** Throws {@linkcode MergeAborted} if the main thread gave up. */
function checkAbort(control: Int32Array): void {
  if (Atomics.load(control, ABORT_WORD) !== 0) throw new MergeAborted();
}

/**
 * Sets word `at` to `value` (a request the main thread answers by changing it), then checks
 * the abort word: a stop signalled just before overwrote `at` with ABORTED and will not
 * notify again, so waiting on the value stored here would never end. (The main thread sets
 * the abort word before it changes the other words.)
 */
function publish(control: Int32Array, at: number, value: number): void {
  Atomics.store(control, at, value);
  checkAbort(control);
}

/** Check states of a run the Worker reads (word 0 of its input slot; see the module doc). */
export const CHECK_ASKED = 1;
export const CHECK_DONE = 2;
export const CHECK_BY_MAIN = 3;
export const CHECK_BY_WORKER = 4;

/** Word index of input `input`'s slot in the control block. */
export function inputSlot(input: number): number {
  return HEADER_WORDS + 4 * input;
}

/** Word index of output half `half`'s slot for `inputCount` inputs. */
export function outputSlot(inputCount: number, half: number): number {
  return HEADER_WORDS + 4 * inputCount + 4 * half;
}

/** Bytes of the control block. */
export function controlBytes(inputCount: number, halfCount: number): number {
  return 4 * outputSlot(inputCount, halfCount);
}

/** The start message. */
export interface MergeStart {
  /** Message type. */
  type: "start";
  /** The shared memory. */
  memory: WebAssembly.Memory;
  /** Names the shared memory within this process (a Worker keeps its kernels for the same). */
  memoryTag: number;
  /** The compiled kernels. */
  module: WebAssembly.Module;
  /** Memory offset of the control block. */
  control: number;
  /** The spill file of each input, or "" (for messages). */
  paths: string[];
  /** Inputs the Worker gathers itself (the in-memory run), by input; null: see `reads`. */
  gathers: Array<GatherPlace | null>;
  /**
   * Inputs the Worker reads itself from their run file (`paths`), by input: the memory offset
   * of the two contiguous block buffers it reads them into; null: fed by slots (or gathered).
   */
  reads: Array<number | null>;
  /** The part of each run read (`reads`) that this merge takes; null: all of it. */
  ranges: Array<RunRange | null>;
  /** Bytes per spill block (the segment size). */
  blockBytes: number;
  /** The state block. */
  state: MergeRegion;
  /** The output halves. */
  outputs: MergeRegion[];
  /**
   * A carry page per input given with the start (null: none), so that the first record each
   * input cuts at a block border needs no round trip to the main thread, which answers only on
   * a turn of its event loop (a range merge's inputs all cut their first record within the
   * range's first few milliseconds, while the main thread merges or finds the next bounds).
   */
  carries?: Array<MergeRegion | null>;
  /** `-r`. */
  reverse: boolean;
  /** Keyed runs (kernel_merge.ts `KernelMergeOptions.keyed`). */
  keyed: boolean;
  /** Their keys end with the line, stored once. */
  lineEndsKey: boolean;
  /** `-u`. */
  unique: boolean;
  /** Line terminator. */
  terminator: number;
  /** Records the inputs hold (-1: unknown, not checked). */
  expectedRecords: number;
  /** Give each run block's file space back once read (the runs' last merge). */
  releaseReadBlocks: boolean;
  /**
   * Write the output here, at `position` on (an {@linkcode OutputPartWriter} into the output's
   * file, which starts the writeback as it goes when `writeback`), instead of handing the halves
   * to the main thread (a key range of the placed final merge: src/sort/placed_merge.ts).
   */
  output?: { path: string; position: number; byteLength: number; writeback: boolean };
  /**
   * With `output`: post `alive` at least this often while merging (ms). Such a merge sends the
   * main thread nothing else until it ends, and its watchdog fails a Worker that stays silent.
   */
  heartbeatMs?: number;
  /** For tests: fail this way. */
  fault?: MergeWorkerFault;
}

/**
 * Tells the sort Worker that it is the merge Worker from now on: it loads what its merges need
 * ({@linkcode holdLibcForMerges}) while the main thread prepares the merge.
 */
export interface MergePrepare {
  /** Message type. */
  type: "prepare-merge";
}

/** What the Worker tells the main thread. */
export type MergeEvent =
  | { type: "took"; input: number }
  | { type: "out"; half: number }
  | { type: "grow" }
  | { type: "alive" }
  | {
    type: "done";
    writtenCount: number;
    droppedCount: number;
    blocksRead: number;
    /** How often this Worker has loaded libc so far ({@linkcode holdLibcForMerges}: once). */
    libcLoads: number;
    /**
     * Views of this merge's memory object find the Worker's kernels ({@linkcode shareKernels}):
     * else its blocks' CRC32C took the table path.
     */
    kernelsFound: boolean;
  }
  | {
    type: "error";
    message: string;
    /** A spill block failed its checks: the parts of the {@linkcode CorruptSpillError}. */
    corrupt?: { path: string; blockIndex: number; what: string; expected: string; found: string };
    /** Reading a run file failed: the file, the error's message and `code`. */
    readError?: { path: string; message: string; code?: string };
    /** Writing the output failed: the error's message, `code` and the size of the write. */
    writeError?: { message: string; code?: string; byteLength: number };
  };

interface WorkerScope {
  postMessage(message: MergeEvent): void;
  close(): void;
}

const scope = globalThis as unknown as WorkerScope;

/** Posts `message` to the main thread, counted in {@linkcode POSTED_WORD} first. */
function post(control: Int32Array, message: MergeEvent): void {
  Atomics.add(control, POSTED_WORD, 1);
  scope.postMessage(message);
}

/** Input `input`'s blocks as the main thread hands them over in its slot. */
class SlotSource implements BlockSource {
  blockStart = 0;
  blockEnd = 0;
  isLastBlock = false;
  blockIndex = -1;
  readonly run: { readonly path: string } | undefined;
  readonly #control: Int32Array;
  readonly #slot: number;
  readonly #input: number;

  readonly #fault: FaultCounter;

  constructor(control: Int32Array, input: number, path: string, fault: FaultCounter) {
    this.#control = control;
    this.#input = input;
    this.#slot = inputSlot(input);
    this.run = path === "" ? undefined : { path };
    this.#fault = fault;
  }

  nextBlock(): boolean {
    if (this.isLastBlock) return false;
    const control = this.#control;
    const at = this.#slot;
    this.#fault.tick(control);
    enter(control, SITE_WAIT_SLOT);
    while (Atomics.load(control, at) === 0) Atomics.wait(control, at, 0);
    enter(control, SITE_MERGING);
    checkAbort(control);
    this.blockStart = control[at + 1]!;
    this.blockEnd = control[at + 2]!;
    this.isLastBlock = control[at + 3] === 1;
    this.blockIndex += 1;
    Atomics.store(control, at, 0);
    post(control, { type: "took", input: this.#input });
    return true;
  }
}

/** A read of a run file failed (the file system's error, with its `code`). */
class RunReadFailure extends Error {
  readonly path: string;
  readonly code: string | undefined;

  constructor(path: string, cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = "RunReadFailure";
    this.path = path;
    const code = (cause as { code?: unknown } | undefined)?.code;
    this.code = typeof code === "string" ? code : undefined;
  }
}

/**
 * A spill run's blocks in this Worker's two block buffers, read and checked by the main thread
 * (which writes the output otherwise): when a block becomes current, the read and check of the
 * next one into the other buffer are asked for (input slot: state 1, buffer offset, -, block
 * index; the answer: state 2 and io `checkSpillBlock`'s result in the third word), so they run
 * while this block is merged; a block the main thread has not started on when it is needed is
 * read and checked here.
 */
class FileBlocks implements BlockSource {
  blockStart = 0;
  blockEnd = 0;
  isLastBlock = false;
  blockIndex = -1;
  /** Blocks made current. */
  blockCount = 0;
  /** Blocks this thread read and checked itself (the main thread was behind). */
  checkedHere = 0;
  readonly run: { readonly path: string };
  readonly #reader: RunBlockReader;
  readonly #blocks: readonly Uint8Array[];
  readonly #control: Int32Array;
  readonly #slot: number;
  readonly #fault: FaultCounter;
  /** The buffer whose check was asked for, or -1. */
  #asked = -1;
  /** The range's first block and the payload offset of its first record there. */
  readonly #startBlock: number;
  readonly #startOffset: number;
  /** The range's last block and the payload offset where it ends there (-1: the payload's end). */
  readonly #lastBlock: number;
  readonly #endOffset: number;
  /** Whether this merge reads part of the run (another merge reads the blocks at its ends). */
  readonly #ranged: boolean;
  /** Whether blocks read are released (this is the run's last merge). */
  readonly #release: boolean;
  /**
   * Whether this Worker reads and checks every block itself (the main thread merges a lane of
   * its own: `MergeStart.output`), so the main thread is not asked.
   */
  readonly #readsOwn: boolean;

  constructor(
    reader: RunBlockReader,
    blocks: readonly Uint8Array[],
    control: Int32Array,
    options: {
      input: number;
      fault: FaultCounter;
      range: RunRange | null;
      release: boolean;
      readsOwn: boolean;
    },
  ) {
    this.run = { path: reader.path };
    this.#reader = reader;
    this.#blocks = blocks;
    this.#control = control;
    this.#slot = inputSlot(options.input);
    this.#fault = options.fault;
    const range = options.range;
    this.#ranged = range !== null;
    this.#release = options.release;
    this.#readsOwn = options.readsOwn;
    if (range === null) {
      this.#startBlock = 0;
      this.#startOffset = 0;
      this.#lastBlock = -1;
      this.#endOffset = -1;
    } else {
      this.#startBlock = range.start.block;
      this.#startOffset = range.start.offset;
      const endsAtBorder = range.end.offset === 0;
      this.#lastBlock = endsAtBorder ? range.end.block - 1 : range.end.block;
      this.#endOffset = endsAtBorder ? -1 : range.end.offset;
      reader.seek(range.start.block);
    }
  }

  nextBlock(): boolean {
    if (this.isLastBlock) return false;
    const control = this.#control;
    this.#fault.tick(control);
    checkAbort(control);
    if (this.#asked < 0) this.#ask(0);
    const at = this.#slot;
    // Not checked yet: the main thread is behind (writing), so this thread checks it.
    this.claimCheck();
    const spanMs = timelineStart();
    enter(control, SITE_WAIT_CHECK);
    for (let state = Atomics.load(control, at); state === CHECK_BY_MAIN;) {
      Atomics.wait(control, at, state);
      state = Atomics.load(control, at);
    }
    enter(control, SITE_MERGING);
    timelineEnd("merge-wait-check", spanMs);
    checkAbort(control);
    const reader = this.#reader;
    reader.accept(control[at + 2]!);
    Atomics.store(control, at, 0);
    const current = this.#asked;
    const block = this.#blocks[current]!;
    const index = reader.blockIndex;
    // In memory now, read for the last time: its file space can go. A range shares its first
    // and last blocks with the ranges beside it.
    if (
      this.#release &&
      (!this.#ranged || (index !== this.#startBlock && index !== this.#lastBlock))
    ) {
      reader.releaseBlocks(index, index + 1);
    }
    this.blockStart = block.byteOffset + reader.payloadStart +
      (index === this.#startBlock ? this.#startOffset : 0);
    const rangeEnds = index === this.#lastBlock;
    this.blockEnd = block.byteOffset +
      (rangeEnds && this.#endOffset >= 0
        ? reader.payloadStart + this.#endOffset
        : reader.payloadEnd);
    this.isLastBlock = reader.isLastBlock || rangeEnds;
    this.blockIndex = index;
    this.blockCount += 1;
    if (!this.isLastBlock) this.#ask(1 - current);
    return true;
  }

  /**
   * Checks the block read ahead here if the main thread has not started on it (a Worker that
   * would wait for the main thread checks instead; the two claim a check with a
   * compare-exchange, so each block is checked once).
   */
  claimCheck(): void {
    const control = this.#control;
    const at = this.#slot;
    if (Atomics.compareExchange(control, at, CHECK_ASKED, CHECK_BY_WORKER) !== CHECK_ASKED) {
      return;
    }
    const reader = this.#reader;
    const block = this.#blocks[this.#asked]!;
    let count: number;
    const readMs = timelineStart();
    enter(control, SITE_READ);
    try {
      count = reader.readNext(block);
    } catch (error) {
      throw error instanceof CorruptSpillError ? error : new RunReadFailure(reader.path, error);
    }
    timelineEnd("merge-read", readMs);
    const spanMs = timelineStart();
    control[at + 2] = checkSpillBlock(this.run.path, block, count, control[at + 3]!);
    enter(control, SITE_MERGING);
    timelineEnd("merge-check", spanMs);
    this.checkedHere += 1;
    Atomics.store(control, at, CHECK_DONE);
  }

  /**
   * Asks the main thread to read the next block into buffer `buffer` and check it (input slot:
   * state 1, the buffer's offset, -, the block index); this thread does it itself if the main
   * thread has not started when the block is wanted ({@linkcode FileBlocks.claimCheck}).
   */
  #ask(buffer: number): void {
    const control = this.#control;
    const at = this.#slot;
    control[at + 1] = this.#blocks[buffer]!.byteOffset;
    control[at + 2] = 0;
    control[at + 3] = this.#reader.blockIndex + 1;
    this.#asked = buffer;
    publish(control, at, CHECK_ASKED);
    if (!this.#readsOwn) {
      Atomics.add(control, CHECK_BELL_WORD, 1);
      Atomics.notify(control, CHECK_BELL_WORD);
    }
  }
}

/** Counts input blocks taken and fails as a test asked ({@linkcode MergeWorkerFault}). */
class FaultCounter {
  readonly #fault: MergeWorkerFault | undefined;
  #blocks = 0;

  constructor(fault: MergeWorkerFault | undefined) {
    this.#fault = fault;
  }

  tick(control: Int32Array): void {
    const fault = this.#fault;
    if (fault === undefined) return;
    this.#blocks += 1;
    if (this.#blocks <= fault.afterBlocks) return;
    switch (fault.kind) {
      case "throw":
        throw new Error(`injected merge worker fault after ${fault.afterBlocks} blocks`);
      case "crash":
        setTimeout(() => {
          throw new Error(`injected merge worker crash after ${fault.afterBlocks} blocks`);
        }, 0);
        throw new MergeAborted(); // ends the merge loop silently; the timer crashes
      case "exit":
        scope.close();
        throw new MergeAborted();
      case "hang": {
        const unused = STOPPED_WORD + 1;
        while (Atomics.load(control, ABORT_WORD) === 0) Atomics.wait(control, unused, 0, 1000);
        throw new MergeAborted();
      }
    }
  }
}

/** Asks the main thread for `byteLength` bytes of the budget and waits for the answer. */
function ask(control: Int32Array, byteLength: number, key: number): MergeRegion {
  control[1] = byteLength;
  control[4] = key;
  publish(control, 0, 1);
  post(control, { type: "grow" });
  enter(control, SITE_WAIT_GROW);
  while (Atomics.load(control, 0) === 1) Atomics.wait(control, 0, 1);
  enter(control, SITE_MERGING);
  checkAbort(control);
  if (Atomics.load(control, 0) === 3) {
    Atomics.store(control, 0, 0);
    throw new Error(`the main thread refused ${byteLength} bytes`);
  }
  const region = { byteOffset: control[2]!, byteLength: control[3]! };
  Atomics.store(control, 0, 0);
  return region;
}

/** This Worker's hold on libc ({@linkcode holdLibcForMerges}), never given back. */
let libcHold: Disposable | undefined = undefined;

/**
 * Loads libc in this Worker and keeps it loaded until the Worker ends, for its merges: a range
 * merge's output writer and its readers' hole punching each took libc and gave it back, so the
 * first of them loaded it (1.6-2.9 ms of the Worker's start of the 100 MiB sort's placed merge,
 * its lane then the later one) and every range merge of a larger sort again. The sort Worker is
 * told to call it when it becomes the merge Worker (`prepare-merge`, while the main thread still
 * releases the run buffers and finds the first bounds); a merge job calls it too. Idempotent.
 */
export function holdLibcForMerges(): void {
  libcHold ??= holdLibc();
}

/** The longest a merge writing its own output stays silent by default (`MergeStart.heartbeatMs`). */
const HEARTBEAT_MS_MAX = 1_000;

/** A write of the output failed (the file system's error, with its `code`). */
class OutputWriteFailure extends Error {
  readonly code: string | undefined;

  /** @param byteLength The size of the write that failed (0 when opening the file failed). */
  constructor(cause: unknown, readonly byteLength: number) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = "OutputWriteFailure";
    const code = (cause as { code?: unknown } | undefined)?.code;
    this.code = typeof code === "string" ? code : undefined;
  }
}

/**
 * Merges into the output's temp file from `output.position` on (see `MergeStart.output`);
 * throws an internal error when the range wrote other than the `output.byteLength` bytes of its
 * place.
 */
async function mergeToPart(
  output: { path: string; position: number; byteLength: number; writeback: boolean },
  sources: BlockSource[],
  options: KernelMergeOptions,
  control: Int32Array,
  heartbeatMs: number,
): Promise<KernelMergeResult> {
  let part: OutputPartWriter;
  try {
    part = new OutputPartWriter(output.path, { writeback: output.writeback });
  } catch (error) {
    throw new OutputWriteFailure(error, 0);
  }
  let at = output.position;
  let spokeMs = performance.now();
  try {
    const result = await mergeBlocksToLines(sources, (bytes, byteLength) => {
      enter(control, SITE_WRITE);
      try {
        part.writeAt(bytes.subarray(0, byteLength), at);
      } catch (error) {
        throw new OutputWriteFailure(error, byteLength);
      }
      enter(control, SITE_MERGING);
      at += byteLength;
      // Nothing else goes to the main thread until the end: tell its watchdog this one works.
      const nowMs = performance.now();
      if (nowMs - spokeMs >= heartbeatMs) {
        spokeMs = nowMs;
        post(control, { type: "alive" });
      }
      checkAbort(control);
      return undefined;
    }, options);
    if (at - output.position !== output.byteLength) {
      throw new Error(
        `A key range of the merge wrote ${
          at - output.position
        } bytes into a place of ${output.byteLength}`,
      );
    }
    return result;
  } finally {
    part.close();
  }
}

/**
 * Makes `memory.buffer` cover `region`: a region the main thread allocated during the merge
 * may lie in pages the memory grew by after this Worker received it, and a shared memory's
 * `buffer` here keeps its old length until `grow(0)` refreshes it.
 */
function reach(memory: WebAssembly.Memory, region: MergeRegion): MergeRegion {
  if (region.byteOffset + region.byteLength > memory.buffer.byteLength) memory.grow(0);
  return region;
}

function regionsOf(start: MergeStart, control: Int32Array): MergeRegions {
  const carries = new Map<number, MergeRegion>();
  return {
    memory: start.memory,
    state: () => start.state,
    outputs: () => start.outputs,
    carry: (input, byteLength, keepBytes) => {
      const given = start.carries?.[input] ?? null;
      if (given !== null && !carries.has(input) && byteLength <= given.byteLength) {
        carries.set(input, given);
        return reach(start.memory, given);
      }
      const region = reach(start.memory, ask(control, byteLength, input));
      const old = carries.get(input);
      if (old !== undefined) {
        new Uint8Array(start.memory.buffer).copyWithin(
          region.byteOffset,
          old.byteOffset,
          old.byteOffset + keepBytes,
        );
      }
      carries.set(input, region);
      return region;
    },
    scratch: (byteLength, moveInto) => {
      const region = reach(start.memory, ask(control, byteLength, -1));
      moveInto(region);
      return region;
    },
    release: () => {},
  };
}

/**
 * This Worker's kernels over the shared memory, kept for its next merge: a split final merge
 * runs one merge per key range on the same Worker, and an instance costs a compile.
 */
let cachedKernels: { memoryTag: number; kernels: WasmKernels } | undefined = undefined;

function kernelsFor(start: MergeStart): WasmKernels {
  // A posted memory arrives as a new object each time: the tag says whether it is the same.
  if (cachedKernels?.memoryTag !== start.memoryTag) {
    cachedKernels = {
      memoryTag: start.memoryTag,
      kernels: new WasmKernels(start.memory, start.module),
    };
  }
  // The views of this merge are of this message's memory object: they find the kernels too
  // (else each range after the first checked its blocks' CRC32C by tables).
  shareKernels(start.memory, cachedKernels.kernels);
  return cachedKernels.kernels;
}

async function run(start: MergeStart, control: Int32Array): Promise<MergeEvent> {
  const kernels = kernelsFor(start);
  enter(control, SITE_MERGING);
  const fault = new FaultCounter(start.fault);
  const readers: RunBlockReader[] = [];
  const files: FileBlocks[] = [];
  try {
    const sources = start.paths.map((path, i): BlockSource => {
      const gather = start.gathers[i];
      if (gather) return new GatherBlocks(start.memory, kernels, gather);
      const buffer = start.reads[i];
      if (buffer === null || buffer === undefined) return new SlotSource(control, i, path, fault);
      let reader: RunBlockReader;
      try {
        reader = new RunBlockReader(path, start.blockBytes);
      } catch (error) {
        throw error instanceof CorruptSpillError ? error : new RunReadFailure(path, error);
      }
      readers.push(reader);
      const blocks = [0, 1].map((b) =>
        new Uint8Array(start.memory.buffer, buffer + b * start.blockBytes, start.blockBytes)
      );
      const range = start.ranges[i] ?? null;
      const file = new FileBlocks(reader, blocks, control, {
        input: i,
        fault,
        range,
        release: start.releaseReadBlocks,
        readsOwn: start.output !== undefined,
      });
      files.push(file);
      return file;
    });
    const result = await merge(start, control, kernels, sources, files);
    let blocksRead = 0;
    for (const file of files) blocksRead += file.blockCount;
    const kernelsFound = kernelsOverBuffer(start.memory.buffer) !== undefined;
    return { type: "done", ...result, blocksRead, libcLoads: libcLoadCount(), kernelsFound };
  } finally {
    for (const reader of readers) reader.close();
    timelineFlush();
  }
}

async function merge(
  start: MergeStart,
  control: Int32Array,
  kernels: WasmKernels,
  sources: BlockSource[],
  files: readonly FileBlocks[],
): Promise<{ writtenCount: number; droppedCount: number }> {
  const k = start.paths.length;
  if (start.output !== undefined) {
    return await mergeToPart(
      start.output,
      sources,
      kernelOptions(start, control, kernels),
      control,
      start.heartbeatMs ?? HEARTBEAT_MS_MAX,
    );
  }
  const write: BlockWrite = (_bytes, byteLength, half) => {
    const at = outputSlot(k, half);
    control[at + 1] = byteLength;
    publish(control, at, 1);
    post(control, { type: "out", half });
    // The merge fills the next half at once: wait until the main thread has written it out
    // (it writes the halves in order, so that one was handed over before this one).
    const next = outputSlot(k, (half + 1) % start.outputs.length);
    // The main thread is still writing: take its pending checks meanwhile.
    if (Atomics.load(control, next) === 1) { for (const file of files) file.claimCheck(); }
    const spanMs = timelineStart();
    enter(control, SITE_WAIT_OUTPUT);
    while (Atomics.load(control, next) === 1) Atomics.wait(control, next, 1);
    enter(control, SITE_MERGING);
    timelineEnd("merge-wait-output", spanMs);
    checkAbort(control);
    return undefined;
  };
  return await mergeBlocksToLines(sources, write, kernelOptions(start, control, kernels));
}

function kernelOptions(
  start: MergeStart,
  control: Int32Array,
  kernels: WasmKernels,
): KernelMergeOptions {
  return {
    regions: regionsOf(start, control),
    kernels,
    reverse: start.reverse,
    keyed: start.keyed,
    lineEndsKey: start.lineEndsKey,
    unique: start.unique,
    terminator: start.terminator,
    expectedRecords: start.expectedRecords,
  };
}

/**
 * Runs the merge a start message describes, on this Worker; posts its events and, last,
 * `done` or `error`.
 *
 * @param start The start message.
 */
export function runMergeJob(start: MergeStart): void {
  const startMs = timelineStart();
  timelineEnd("merge-job-start", startMs); // when the range's start message arrived
  holdLibcForMerges();
  const control = new Int32Array(
    start.memory.buffer,
    start.control,
    controlBytes(start.paths.length, start.outputs.length) / 4,
  );
  // The last message is counted before the stop: once stopped, the main thread may give the
  // control block's page back.
  const stopped = (posting: boolean) => {
    if (posting) Atomics.add(control, POSTED_WORD, 1);
    Atomics.store(control, STOPPED_WORD, 1);
    Atomics.notify(control, STOPPED_WORD);
  };
  run(start, control).then(
    (done) => {
      stopped(true);
      scope.postMessage(done);
    },
    (error: unknown) => {
      // Nobody listens any more after an abort.
      stopped(!(error instanceof MergeAborted));
      if (error instanceof MergeAborted) return;
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      const reply: MergeEvent = { type: "error", message };
      if (error instanceof CorruptSpillError) {
        const { path, blockIndex, what, expected, found } = error;
        reply.corrupt = { path, blockIndex, what, expected, found };
      } else if (error instanceof OutputWriteFailure) {
        const { message, code, byteLength } = error;
        reply.writeError = code === undefined
          ? { message, byteLength }
          : { message, code, byteLength };
      } else if (error instanceof RunReadFailure) {
        const { path, code } = error;
        reply.readError = code === undefined
          ? { path, message: error.message }
          : { path, message: error.message, code };
      }
      scope.postMessage(reply);
    },
  );
}

import { assert } from "../base/mod.ts";
import { compileKernels } from "../kernels/mod.ts";
import type { MemoryManager, MemorySegment, SegmentLease } from "../memory/mod.ts";
import { type BlockFirstKeys, kernelAreaBytes, type SealedBlock } from "./kernel_sort.ts";
import type { OrderDescriptor } from "./order_descriptor.ts";
import type { SortBuffer } from "./sort_buffer.ts";
import type { SplitSortHelp } from "./split_sort.ts";
import type {
  BlockReply,
  FreeRequest,
  HelpRequest,
  SortInit,
  SortReply,
  SortRequest,
  StopRequest,
} from "./sort_worker.ts";

/** How long a Worker asked to stop after a failed block write may take to reply (ms). */
const STOP_REPLY_MS_MAX = 10_000;

/** The owner name the sort Worker's lent segments are booked under. */
export const SORT_WORKER_OWNER = "sort-worker";

/** What one job on the Worker did. */
export interface SortResult {
  /** Records gathered into spill blocks (0 without a ring). */
  gatheredCount: number;
  /** Blocks the Worker wrote to the run file (0 unless {@linkcode RingSpill.runFile}). */
  blocksWritten: number;
  /** Whether the WebAssembly kernels sorted (false: the JavaScript index sort). */
  kernelSorted: boolean;
  /** The run's line-bytes index (plain records gathered into blocks; kernel_sort.ts). */
  lineBytesIndex?: number[];
  /** Its blocks' first keys (plain records gathered into blocks; kernel_sort.ts). */
  blockFirstKeys?: BlockFirstKeys;
}

/**
 * The sort Worker's own memory, lent to it with every job: the kernel area (sort scratch,
 * gather state, page table; kernel_sort.ts) and the ring of block segments the Worker gathers
 * sealed spill blocks into. The main thread takes each block back when the Worker posts it,
 * writes it out and lends it again.
 */
export class SpillRing implements Disposable {
  readonly #memory: MemoryManager;
  readonly #area: SegmentLease;
  readonly #blocks: SegmentLease;
  /** Which block segments the Worker holds. */
  readonly #lent: boolean[];
  #areaLent = false;

  /**
   * Takes the kernel area (contiguous) and the ring's blocks from the budget.
   *
   * @param memory The manager.
   * @param options Data pages per sort buffer (the page table's size) and ring blocks.
   */
  constructor(memory: MemoryManager, options: { dataSegments: number; blockCount: number }) {
    this.#memory = memory;
    const areaSegments = Math.ceil(kernelAreaBytes(options.dataSegments) / memory.segmentBytes);
    this.#area = memory.allocateContiguous("sort-kernel-area", areaSegments);
    this.areaOffset = this.#area.segments[0]!.memoryOffset;
    try {
      this.#blocks = memory.allocate("sort-spill-ring", options.blockCount);
    } catch (error) {
      this.#area.release();
      throw error;
    }
    this.#lent = new Array(options.blockCount).fill(false);
  }

  /** Blocks in the ring. */
  get blockCount(): number {
    return this.#lent.length;
  }

  /**
   * The kernel area's offset, for a split sort's help request (split_sort.ts), which the Worker
   * runs between its jobs: the area is the Worker's alone (lent to it for every job, used by
   * nothing here), so the offset is noted when the area is taken, not asked of a segment that a
   * job may hold lent at the time the request is posted.
   */
  readonly areaOffset: number;

  /** Lends the kernel area; returns its offset. */
  lendArea(borrower: string): number {
    assert(!this.#areaLent, "kernel area lent twice");
    this.#areaLent = true;
    return this.#memory.lend(borrower, this.#area.segments)[0]!;
  }

  /** Takes the kernel area back. */
  takeBackArea(borrower: string): void {
    if (!this.#areaLent) return;
    this.#areaLent = false;
    this.#memory.takeBack(borrower, this.#area.segments);
  }

  /** Lends every block; returns their offsets. */
  lendBlocks(borrower: string): number[] {
    return this.#blocks.segments.map((_segment, slot) => this.lendBlock(borrower, slot));
  }

  /** Lends one block again (after it was written). */
  lendBlock(borrower: string, slot: number): number {
    assert(!this.#lent[slot], `ring block ${slot} lent twice`);
    this.#lent[slot] = true;
    return this.#memory.lend(borrower, [this.#blocks.segments[slot]!])[0]!;
  }

  /**
   * Takes block `slot` back from the Worker, which sealed it.
   *
   * @returns Its bytes (valid until it is lent again).
   */
  takeBackBlock(borrower: string, slot: number): Uint8Array {
    const segment: MemorySegment = this.#blocks.segments[slot]!;
    assert(this.#lent[slot], `ring block ${slot} is not lent`);
    this.#lent[slot] = false;
    this.#memory.takeBack(borrower, [segment]);
    return segment.bytes;
  }

  /** Takes back every block still lent (`written`: whether the Worker may have written them). */
  takeBackAll(borrower: string, written: boolean): void {
    for (let slot = 0; slot < this.#lent.length; slot += 1) {
      if (!this.#lent[slot]) continue;
      this.#lent[slot] = false;
      this.#memory.takeBack(borrower, [this.#blocks.segments[slot]!], written ? undefined : [0]);
    }
  }

  /** Whether the Worker holds any of it. */
  get isLent(): boolean {
    return this.#areaLent || this.#lent.includes(true);
  }

  /** Gives everything back (unless lent: the Worker still holds it). */
  release(): void {
    if (this.isLent || this.#area.isReleased) return;
    this.#area.release();
    this.#blocks.release();
  }

  /** Same as {@linkcode SpillRing.release}. */
  [Symbol.dispose](): void {
    this.release();
  }
}

/** What {@linkcode SortWorker.sort} needs to spill through the ring. */
export interface RingSpill {
  /** The ring. */
  ring: SpillRing;
  /** Drop `-u` duplicates on the way. */
  unique: boolean;
  /**
   * Writes one sealed block (the bytes stay valid until the promise settles); the block goes
   * back to the Worker after. Unused with `runFile`.
   */
  writeBlock(bytes: Uint8Array, block: SealedBlock): Promise<void>;
  /** The Worker writes the blocks to this run file itself (the header is written here). */
  runFile?: string;
  /** The buffer is sorted already (by this thread): the Worker only gathers it. */
  presorted?: boolean;
}

/** A run file write on the Worker failed ({@linkcode RingSpill.runFile}); `cause` has the code. */
export class WorkerWriteError extends Error {
  /** The class name. */
  override name = "WorkerWriteError";
}

/**
 * A handle on the sort Worker. The Worker gets the manager's shared memory and the compiled
 * kernels once, at start; `sort(buffer)` lends the buffer's pages and index (booked under
 * {@linkcode SORT_WORKER_OWNER}), posts their offsets, and takes them back when the Worker
 * replies, or fails. Nothing is copied or transferred.
 */
export class SortWorker implements Disposable {
  readonly #worker: Worker;
  readonly #kernels: boolean;
  /** Word 0: 1 from a request's post until the Worker has finished it (set there), else 0. */
  readonly #status = new Int32Array(new SharedArrayBuffer(4));
  #busy = false;
  #closed = false;

  /**
   * Starts the Worker (it boots in the background) and hands it the shared memory.
   *
   * @param order How the Worker orders records.
   * @param memory The manager whose memory the Worker works in.
   * @param options `kernels: false` keeps the Worker on the JavaScript sort and gather.
   */
  constructor(order: OrderDescriptor, memory: MemoryManager, options: { kernels?: boolean } = {}) {
    this.#worker = new Worker(new URL("./sort_worker.ts", import.meta.url).href, {
      type: "module",
    });
    this.#kernels = options.kernels ?? true;
    const init: SortInit = {
      type: "init",
      memory: memory.wasmMemory,
      order,
      status: this.#status,
    };
    if (this.#kernels) init.kernels = compileKernels();
    this.#worker.postMessage(init);
  }

  /**
   * Whether the Worker has finished its last job (or never had one), read from a word it sets
   * itself: true even before this thread has handled the reply (which waits for this thread to
   * yield to the event loop).
   */
  get isIdle(): boolean {
    return Atomics.load(this.#status, 0) === 0;
  }

  /** Whether the Worker was ended (terminated or handed over): it takes no more requests. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /**
   * Sorts `buffer` on the Worker; with `spill` (whose ring also lends the kernel area) the
   * Worker then gathers the sorted records into sealed blocks that `spill.writeBlock` writes.
   * The buffer is unusable until the promise settles. With `presorted` and no spill the Worker
   * sorts nothing and replies at once, after the messages sent before: a split sort's help
   * (split_sort.ts) is then over, or its failure rejects.
   *
   * @param buffer A filled buffer.
   * @param options The kernel area's ring (sort with the kernels), what to spill, and whether
   *   `buffer` is sorted already.
   * @returns Records gathered and whether the kernels sorted; settles after every block write.
   */
  sort(
    buffer: SortBuffer,
    options: { ring?: SpillRing; spill?: RingSpill; presorted?: boolean } = {},
  ): Promise<SortResult> {
    assert(!this.#busy && !this.#closed, "SortWorker is busy or closed");
    this.#busy = true;
    const ring = options.spill?.ring ?? options.ring;
    const spill = options.spill;
    const request = lendSortJob(buffer, ring, spill);
    if (options.presorted === true) request.presorted = true;
    return new Promise<SortResult>((resolve, reject) => {
      const call: SortCall = {
        buffer,
        ring,
        spill,
        // Blocks written on the Worker stay lent until the end: written, whatever happened.
        blocksWrittenThere: spill?.runFile !== undefined,
        writes: [],
        writeError: undefined,
        workerDone: false,
        stopTimer: undefined,
        tookBack: false,
        resolve,
        reject,
      };
      this.#worker.onmessage = (event: MessageEvent<SortReply | BlockReply>) => {
        const reply = event.data;
        if (reply.type === "block") this.#onBlock(call, reply);
        else this.#onDone(call, reply);
      };
      this.#worker.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        // The Worker is dead: end it so that it cannot touch the pages, then take them back.
        this.close();
        this.#takeBack(call, false);
        reject(new Error(`Sort worker crashed: ${event.message}`));
      };
      Atomics.store(this.#status, 0, 1);
      this.#worker.postMessage(request);
    });
  }

  /** Gives the job's pages back to their owners, once (`done`: the Worker finished the job). */
  #takeBack(call: SortCall, done: boolean): void {
    if (call.tookBack) return;
    call.tookBack = true;
    this.#busy = false;
    // A Worker that finished wrote only the index (and parked words it restored) and the
    // blocks; otherwise assume it wrote anything it was lent.
    call.buffer.takeBack(done);
    call.ring?.takeBackArea(SORT_WORKER_OWNER);
    call.ring?.takeBackAll(SORT_WORKER_OWNER, !done || call.blocksWrittenThere);
  }

  /** A sealed block from the Worker: write it, then lend it back (or stop on a failed write). */
  #onBlock(call: SortCall, reply: BlockReply): void {
    const spill = call.spill!;
    const block = reply.block;
    const bytes = spill.ring.takeBackBlock(SORT_WORKER_OWNER, block.slot);
    // A write that fails at once (a full disk, `ulimit -f`) rejects like a later one:
    // thrown here, it would escape this handler uncaught.
    let written: Promise<void>;
    try {
      written = spill.writeBlock(bytes, block);
    } catch (error) {
      written = Promise.reject(error);
    }
    const write = written.then(() => {
      if (block.last || call.workerDone || this.#closed || call.writeError !== undefined) return;
      spill.ring.lendBlock(SORT_WORKER_OWNER, block.slot);
      const free: FreeRequest = { type: "free" };
      this.#worker.postMessage(free);
    }, (error: unknown) => this.#onBlockWriteError(call, error));
    call.writes.push(write);
  }

  /** A block write failed: end the job once the Worker no longer touches the pages. */
  #onBlockWriteError(call: SortCall, error: unknown): void {
    if (call.writeError !== undefined) return;
    call.writeError = error;
    if (call.workerDone) {
      this.close();
      this.#takeBack(call, false);
      call.reject(error);
      return;
    }
    // The Worker may still be gathering blocks into the ring (terminate() does not stop
    // it at once): ask it to stop, and take the pages back on its last reply; one that
    // never replies (hung) is ended after STOP_REPLY_MS_MAX, its work long over by then.
    const stop: StopRequest = { type: "stop" };
    this.#worker.postMessage(stop);
    call.stopTimer = setTimeout(() => {
      if (call.workerDone) return;
      call.workerDone = true;
      this.close();
      this.#takeBack(call, false);
      call.reject(error);
    }, STOP_REPLY_MS_MAX);
  }

  /** The Worker's last reply to the job: settle the call after every block write. */
  #onDone(call: SortCall, reply: SortReply): void {
    if (call.workerDone) return; // ended already: it did not reply to the stop in time
    call.workerDone = true;
    clearTimeout(call.stopTimer);
    if (call.writeError !== undefined) {
      // It stopped after a failed block write: nothing of the job touches the pages now.
      this.close();
      this.#takeBack(call, false);
      call.reject(call.writeError);
      return;
    }
    this.#takeBack(call, reply.error === undefined);
    if (reply.error !== undefined) {
      call.reject(new Error(`Sort worker failed: ${reply.error}`));
      return;
    }
    if (reply.writeError !== undefined) {
      const cause = Object.assign(new Error(reply.writeError.message), {
        code: reply.writeError.code,
      });
      call.reject(new WorkerWriteError(reply.writeError.message, { cause }));
      return;
    }
    const result = sortResult(reply);
    Promise.all(call.writes).then(() => {
      if (call.writeError === undefined) call.resolve(result);
    });
  }

  /**
   * Asks the Worker to help sort a buffer this thread is sorting (split_sort.ts), in its kernel
   * area of `ring`, once it is done with the job it is on. No reply: the buffer's own job, sent
   * after, finds every bucket the Worker took sorted.
   */
  help(help: SplitSortHelp, ring: SpillRing): void {
    if (this.#closed) return;
    const request: HelpRequest = { type: "help", ...help, areaOffset: ring.areaOffset };
    this.#worker.postMessage(request);
  }

  /**
   * Hands the idle Worker over for another job (the final merge: `mergeOnWorker` in
   * parallel_merge.ts) instead of terminating it, so that a sort has one Worker isolate at
   * a time (each costs ~15 MiB of RSS). This handle is closed after.
   *
   * @returns The Worker, or undefined if it is busy or closed (then it is terminated).
   */
  handOver(): Worker | undefined {
    if (this.#busy || this.#closed) {
      this.close();
      return undefined;
    }
    this.#closed = true;
    this.#worker.onmessage = null;
    this.#worker.onerror = null;
    return this.#worker;
  }

  /** Terminates the Worker. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#worker.terminate();
  }

  /** Same as {@linkcode SortWorker.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** One {@linkcode SortWorker.sort} call while the Worker has its job. */
interface SortCall {
  buffer: SortBuffer;
  ring: SpillRing | undefined;
  spill: RingSpill | undefined;
  /** Whether the Worker writes the blocks to the run file itself. */
  blocksWrittenThere: boolean;
  /** The block writes under way or done. */
  writes: Promise<void>[];
  /** The first block write's failure. */
  writeError: unknown;
  /** Whether the Worker's last reply came (or it was ended for not sending it). */
  workerDone: boolean;
  /** Ends a Worker asked to stop that does not reply. */
  stopTimer: ReturnType<typeof setTimeout> | undefined;
  /** Whether the pages went back. */
  tookBack: boolean;
  resolve(result: SortResult): void;
  reject(error: unknown): void;
}

/** Lends `buffer` (and the ring's area and blocks) to the Worker; returns the job's request. */
function lendSortJob(
  buffer: SortBuffer,
  ring: SpillRing | undefined,
  spill: RingSpill | undefined,
): SortRequest {
  const owner = SORT_WORKER_OWNER;
  const job = buffer.lend(owner);
  const request: SortRequest = { type: "sort", job };
  if (ring !== undefined) request.areaOffset = ring.lendArea(owner);
  if (spill !== undefined) {
    request.ring = {
      blocks: spill.ring.lendBlocks(owner),
      blockBytes: buffer.segmentBytes,
      unique: spill.unique,
    };
    if (spill.runFile !== undefined) request.runFile = spill.runFile;
    if (spill.presorted === true) request.presorted = true;
  }
  return request;
}

/** The result of a job the Worker finished. */
function sortResult(reply: SortReply): SortResult {
  return {
    gatheredCount: reply.gatheredCount,
    kernelSorted: reply.kernelSorted,
    blocksWritten: reply.blocksWritten ?? 0,
    ...(reply.lineBytesIndex === undefined ? {} : { lineBytesIndex: reply.lineBytesIndex }),
    ...(reply.blockFirstKeys === undefined ? {} : { blockFirstKeys: reply.blockFirstKeys }),
  };
}

/**
 * The final merge on two threads: the merge Worker (src/sort/merge_worker.ts) merges the spill
 * runs' blocks in its own buffers ({@linkcode RunOnWorker}: two block buffers per run, one block
 * ahead), gathers the in-memory run, and runs the merge kernel loop; this thread reads each
 * run's next block into the Worker's other buffer and checks it (io RunBlockReader, CRC32C,
 * while the Worker merges the block before; the Worker does both itself for a block this
 * thread has not started on when it needs it) and writes the output halves the Worker fills,
 * in order. Same bytes as
 * {@linkcode mergeBlocksToLines} on one thread. Measured on 100 MiB (4 runs): this thread
 * reading, checking and copying every block in (the inputs given as {@linkcode BlockSource}s,
 * fed through slots, still the way for runs the Worker cannot read) took about as long as the
 * merge itself, and the Worker waited on it most of the time.
 *
 * ```
 *  merge Worker                                              main thread
 *  asks for block b+1 of run i ───────────── check bell (word) ──► readNext + checkSpillBlock
 *  mergeLines over block b ◄── (reads b+1 itself if not started, else waits) ◄──┘
 *  mergeLines ─► output half h ─────────────────── "out h" ────► sink.write
 *                                                ◄── free half h ──┘
 *  (slot inputs: this thread's RunReader ─ copy ─► slot i, "took i")
 * ```
 *
 * @module
 */
import { assert } from "../base/mod.ts";
import {
  checkSpillBlock,
  CorruptSpillError,
  RunBlockReader,
  SpillReadError,
  type SpillRun,
  timelineEnd,
  timelineStart,
} from "../io/mod.ts";
import { compileKernels } from "../kernels/mod.ts";
import type { MemoryManager, PoisonCheckHelp, PoisonHelper, SegmentLease } from "../memory/mod.ts";
import { readingRun, type RunRange } from "./key_split.ts";
import {
  type BlockSource,
  type GatherPlace,
  type KernelMergeResult,
  type MergeRegion,
  SortBufferBlocks,
} from "./kernel_merge.ts";
import {
  ABORT_WORD,
  ABORTED,
  CHECK_ASKED,
  CHECK_BELL_WORD,
  CHECK_BY_MAIN,
  CHECK_DONE,
  controlBytes,
  inputSlot,
  type MergeEvent,
  type MergeStart,
  type MergeWorkerFault,
  outputSlot,
  POSTED_WORD,
  SITE_CHANGES_WORD,
  SITE_WORD,
  STOPPED_WORD,
  WORKER_SITES,
} from "./merge_worker.ts";
import { MergeWatchdog, type WatchdogTick } from "./merge_watchdog.ts";
import type { PoisonCheckRequest } from "./sort_worker.ts";
import { MergeLinesState } from "../kernels/mod.ts";

/** A spill run the merge Worker reads and checks itself (see the module doc). */
export class RunOnWorker {
  /** The run. */
  readonly run: SpillRun;

  /** The part of the run merged (a key range), or all of it. */
  readonly range: RunRange | null;

  /**
   * @param run A plain spill run (see `IoManager.runsReadableElsewhere`).
   * @param range The part of it merged (default: all of it).
   */
  constructor(run: SpillRun, range: RunRange | null = null) {
    this.run = run;
    this.range = range;
  }
}

/** Records of a sorted index the merge Worker gathers itself (a started gather state). */
export class GatherOnWorker {
  /** The started state and its staging page. */
  readonly place: GatherPlace;
  /** No run file. */
  readonly run: undefined = undefined;

  /** @param place The started gather state and its staging page. */
  constructor(place: GatherPlace) {
    this.place = place;
  }
}

/** An input of {@linkcode mergeOnWorker}. */
export type ParallelMergeInput = BlockSource | RunOnWorker | GatherOnWorker;

/** What {@linkcode mergeOnWorker} did. */
export interface ParallelMergeResult extends KernelMergeResult {
  /** Spill blocks of the runs the Worker reads (for the I/O stats). */
  blocksReadOnWorker: number;
  /** Of those, the blocks this thread read and checked ahead for it (the Worker did the rest). */
  blocksReadAhead: number;
  /**
   * The Worker's views of the memory it was sent for this merge found its kernels (a Worker kept
   * for the next merge receives a new memory object each time: merge_worker.ts `shareKernels`).
   */
  workerFoundKernels: boolean;
}

/** The owner name of the pages the merge Worker is lent. */
export const MERGE_WORKER_OWNER = "sort-merge-worker";

/** Options of {@linkcode mergeOnWorker}. */
export interface ParallelMergeOptions {
  /** The budget every buffer comes from. */
  memory: MemoryManager;
  /** `-r`. */
  reverse: boolean;
  /** The inputs are keyed runs (kernel_merge.ts `KernelMergeOptions.keyed`). */
  keyed?: boolean;
  /** Their keys end with the line, stored once. */
  lineEndsKey?: boolean;
  /** `-u`. */
  unique: boolean;
  /** Line terminator. */
  terminator: number;
  /** Records the sources hold (-1: unknown, not checked). */
  expectedRecords: number;
  /** Leave the Worker running after a merge that succeeded (for the next one). */
  keepWorker?: boolean;
  /** Segments of the output regions together. */
  outputSegments: number;
  /**
   * Output regions the Worker fills in turn (default 2, each `outputSegments / regions`): more
   * let it merge on while this thread is held up by a slow write or by the scheduler.
   */
  outputRegions?: number;
  /**
   * Give each run block's file space back once the Worker has read it
   * (`RunBlockReader.releaseBlocks`): for the last merge that reads the runs (the final merge);
   * the runs cannot be read again after it.
   */
  releaseReadBlocks?: boolean;
  /** How long the Worker may stay silent while nothing else is pending (default 60 s). */
  workerSilenceMsMax?: number;
  /**
   * Called once (each kind) when the merge stalls for `stallWarnMs` without failing: this
   * thread's event loop was held up that long, or the Worker was silent that long while nothing
   * else was pending. The message says for how long and where the Worker is.
   */
  onStall?: (message: string) => void;
  /** From how long a stall (ms) `onStall` is called (default 10 s). */
  stallWarnMs?: number;
  /** For tests: make the Worker fail this way after some blocks. */
  workerFault?: MergeWorkerFault;
  /**
   * Stops the merge when aborted (the Worker is told to stop; the merge rejects with the
   * signal's reason): another part of the work failed and this merge's output is not wanted.
   */
  signal?: AbortSignal;
  /**
   * The Worker writes the output itself into this file from `position` on (the output's file,
   * src/io/output_part.ts; `writeback`: see `OutputParts.writeback`), `byteLength` bytes (else
   * an internal error), instead of handing the halves to `write`.
   */
  output?: { path: string; position: number; byteLength: number; writeback: boolean };
  /**
   * Hears how many messages the Worker has posted so far (a count it raises before each one:
   * merge_worker.ts `POSTED_WORD`) and how many of them this thread has handled, once the merge
   * has started: a caller that keeps this thread busy (placed_merge.ts) turns its event loop
   * while the first is ahead of the second. The count rises before its message is posted, so
   * a turn right after the rise may find nothing yet: the message is still unheard, and the
   * next check turns again.
   */
  onPostedCount?: (postedCount: () => number, heardCount: () => number) => void;
}

/**
 * Segments {@linkcode mergeOnWorker} takes for `inputCount` inputs before any carry: the
 * control block and state, the output regions, two buffers per input.
 */
export function parallelMergeSegments(
  memory: MemoryManager,
  inputCount: number,
  outputSegments: number,
  outputRegions = 2,
): number {
  const small = Math.ceil(
    (controlBytes(inputCount, outputRegions) + MergeLinesState.bytes(inputCount)) /
      memory.segmentBytes,
  );
  return small + outputRegions * Math.max(1, Math.floor(outputSegments / outputRegions)) +
    2 * inputCount;
}

/**
 * Starts a merge Worker (the sort Worker's module, which runs merges too): it takes ~0.1 s to
 * load, so a sort without a sort Worker starts it when it spills its first run and hands it to
 * {@linkcode mergeOnWorker} later. Terminate it if it is not used.
 *
 * @returns The Worker, waiting for its start message.
 */
export function startMergeWorker(): Worker {
  return new Worker(new URL("./sort_worker.ts", import.meta.url).href, { type: "module" });
}

/**
 * An idle merge Worker (sort_worker.ts) as the memory manager's poison-check helper
 * (MemoryManager.attachPoisonHelper): the manager ends the Worker when it detaches it.
 *
 * @param worker The Worker, idle: its merges ended.
 * @returns The helper.
 */
export function workerPoisonHelper(worker: Worker): PoisonHelper {
  return {
    post(help: PoisonCheckHelp): void {
      try {
        worker.postMessage({ type: "poison-check", ...help } satisfies PoisonCheckRequest);
      } catch {
        // Not heard: the manager checks every chunk itself.
      }
    },
    [Symbol.dispose](): void {
      worker.terminate();
    },
  };
}

/**
 * Merges the sources into lines on the merge Worker (see the module doc).
 *
 * @param sources The sorted inputs: runs the Worker reads, or sources this thread reads.
 * @param write Receives each filled output half, in order; the view is reused once it settles.
 * @param options Budget, order, `-u`, terminator, and a Worker from
 *   {@linkcode startMergeWorker} if one was started already (it is terminated at the end).
 * @returns Records written and dropped, blocks the Worker read.
 * @throws {CorruptSpillError} If a spill block fails its checks.
 * @throws {SpillReadError} If the Worker cannot read a run file.
 * @throws {Error} If the Worker fails, crashes or stops answering (an internal error), or
 *   the error of this thread's reads and writes; either way the Worker is stopped first.
 */
export async function mergeOnWorker(
  sources: readonly ParallelMergeInput[],
  write: (bytes: Uint8Array, byteLength: number) => PromiseLike<void> | undefined,
  options: ParallelMergeOptions & { worker?: Worker | undefined },
): Promise<ParallelMergeResult> {
  const merge = new ParallelMerge(sources, write, options);
  try {
    return await merge.run(options.worker);
  } finally {
    await merge.close();
  }
}

/** How long the Worker may stay silent while this thread waits on nothing else (default). */
const WORKER_SILENCE_MS_MAX = 60_000;
/**
 * How much longer the Worker may stay silent before its first message: a Worker started just
 * now loads its module first (~0.1 s, far more on a loaded machine).
 */
const WORKER_BOOT_MS_MAX = 10_000;
/** How often the silence is checked. */
const WATCHDOG_INTERVAL_MS = 1_000;
/** From how long a stall `ParallelMergeOptions.onStall` hears of it (default). */
const STALL_WARN_MS = 10_000;
/**
 * How long one wait on the check bell lasts at most: a bound, so that the wait ends with the
 * merge even if its wake were lost (Deno's event loop does not wait for `Atomics.waitAsync`;
 * a block the main thread has not checked in time the Worker checks itself).
 */
const CHECK_BELL_WAIT_MS = 250;
/** How long a failed merge waits for the Worker to see the abort before terminating it. */
const STOP_WAIT_MS = 2_000;

/** One parallel merge: the pages, the control block, and this thread's side of the protocol. */
class ParallelMerge {
  readonly #sources: readonly ParallelMergeInput[];
  readonly #write: (bytes: Uint8Array, byteLength: number) => PromiseLike<void> | undefined;
  readonly #options: ParallelMergeOptions;
  /** Listens to `options.signal` while the merge runs. */
  #onAbort: (() => void) | undefined = undefined;
  readonly #memory: MemoryManager;
  /** This thread's readers of the runs the Worker reads (it reads their blocks ahead). */
  readonly #readers = new Map<number, RunBlockReader>();
  /** Blocks this thread read ahead for the Worker. */
  #blocksReadAhead = 0;
  /** Every lease of the merge, given back when the Worker is gone. */
  readonly #leases: SegmentLease[] = [];
  /** The carry (by input) or `-u` copy (key -1) each grow request replaced. */
  readonly #grown = new Map<number, SegmentLease>();
  /** Replaced regions: given back at the Worker's next message (it has moved off them then). */
  #retired: SegmentLease[] = [];
  #control: Int32Array<ArrayBufferLike> = new Int32Array(0);
  #outputs: MergeRegion[] = [];
  /** Each fed input's two buffer pages (none for inputs the Worker gathers itself). */
  #buffers: MergeRegion[][] = [];
  #nextBuffer: number[] = [];
  #worker: Worker | undefined = undefined;
  #writing: Promise<void> = Promise.resolve();
  /** Messages of the Worker handled here (against its count, merge_worker.ts `POSTED_WORD`). */
  #heardCount = 0;
  /** Output halves being written and blocks being read: this thread is busy, not waiting. */
  #busyCount = 0;
  /** An output write held this thread up since the watchdog's last tick (a slow reader). */
  #slowWrite = false;
  /** The Worker's silence (created when the merge starts). */
  #watchdog: MergeWatchdog | undefined = undefined;
  #watchdogTimer: ReturnType<typeof setInterval> | undefined = undefined;
  /** The Worker's site changes seen last, and since when it is at its site (ms). */
  #siteChanges = 0;
  #siteSinceMs = 0;
  /** Whether this thread waits on the check bell (the merge runs, with inputs the Worker reads). */
  #listening = false;
  #failed = false;
  #reject: (error: unknown) => void = () => {};

  constructor(
    sources: readonly ParallelMergeInput[],
    write: (bytes: Uint8Array, byteLength: number) => PromiseLike<void> | undefined,
    options: ParallelMergeOptions,
  ) {
    this.#sources = sources;
    this.#write = write;
    this.#options = options;
    this.#memory = options.memory;
  }

  /** Takes the pages, starts the Worker's merge and feeds it until it is done. */
  async run(worker: Worker | undefined): Promise<ParallelMergeResult> {
    const start = this.#prepare();
    this.#worker = worker ?? startMergeWorker();
    const running = this.#worker;
    return await new Promise<ParallelMergeResult>((resolve, reject) => {
      this.#reject = reject;
      running.onmessage = (event: MessageEvent<MergeEvent>) => {
        this.#heardCount += 1;
        this.#onMessage(event.data, resolve);
      };
      running.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        this.#fail(new Error(`Merge worker crashed: ${event.message}`));
      };
      running.postMessage(start);
      const control = this.#control;
      // 0 once the pages are given back (the control block with them).
      this.#options.onPostedCount?.(
        () => this.#leases.length === 0 ? 0 : Atomics.load(control, POSTED_WORD),
        () => this.#leases.length === 0 ? 0 : this.#heardCount,
      );
      this.#startWatchdog();
      const signal = this.#options.signal;
      if (signal !== undefined) {
        this.#onAbort = () => this.#fail(signal.reason);
        if (signal.aborted) this.#onAbort();
        else signal.addEventListener("abort", this.#onAbort, { once: true });
      }
      for (let i = 0; i < start.gathers.length; i += 1) {
        if (start.gathers[i] === null && start.reads[i] === null) this.#feed(i);
      }
      const readInputs = start.reads.flatMap((read, i) => read === null ? [] : [i]);
      if (readInputs.length > 0 && start.output === undefined) this.#listen(readInputs);
    });
  }

  /**
   * Waits on the check bell while the merge runs and, each time the Worker rang it, reads and
   * checks the blocks it asked for (inputs `readInputs`, the runs it reads).
   */
  async #listen(readInputs: readonly number[]): Promise<void> {
    this.#listening = true;
    const control = this.#control;
    let rung = 0;
    while (this.#listening && !this.#failed) {
      const wait = Atomics.waitAsync(control, CHECK_BELL_WORD, rung, CHECK_BELL_WAIT_MS);
      if (wait.async) await wait.value;
      if (!this.#listening || this.#failed) return;
      const now = Atomics.load(control, CHECK_BELL_WORD);
      if (now === rung) continue;
      rung = now;
      this.#watchdog?.heard(performance.now());
      for (const i of readInputs) this.#check(i);
    }
  }

  /**
   * Stops the Worker and gives back every page once it no longer touches them: after its
   * merge has ended (it says so in the control block), or, if it never says so, after
   * {@linkcode STOP_WAIT_MS} and a terminate.
   */
  async close(): Promise<void> {
    if (this.#onAbort !== undefined) {
      this.#options.signal?.removeEventListener("abort", this.#onAbort);
    }
    this.#onAbort = undefined;
    this.#signalStop();
    this.#stopListening();
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker !== undefined) {
      const control = this.#control;
      const deadline = Date.now() + STOP_WAIT_MS;
      while (
        control.length > 0 && Atomics.load(control, STOPPED_WORD) !== 1 && Date.now() < deadline
      ) {
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      const reusable = this.#options.keepWorker === true && !this.#failed &&
        control.length > 0 && Atomics.load(control, STOPPED_WORD) === 1;
      if (!reusable) worker.terminate();
    }
    for (const reader of this.#readers.values()) reader.close();
    this.#readers.clear();
    for (const lease of this.#leases) lease.release();
    this.#leases.length = 0;
  }

  /** Ends the wait on the check bell (before the control block's page goes back). */
  #stopListening(): void {
    if (!this.#listening) return;
    this.#listening = false;
    Atomics.notify(this.#control, CHECK_BELL_WORD);
  }

  /** The control block, state, output halves and input buffers; the start message. */
  #prepare(): MergeStart {
    const memory = this.#memory;
    const sources = this.#sources;
    const k = sources.length;
    const regionCount = this.#options.outputRegions ?? 2;
    assert(regionCount >= 2, "a parallel merge needs two output regions");
    const control = controlBytes(k, regionCount);
    const controlRegion = this.#take(control + MergeLinesState.bytes(k) + 64);
    this.#control = new Int32Array(memory.wasmMemory.buffer, controlRegion.byteOffset, control / 4);
    this.#control.fill(0);
    const stateOffset = controlRegion.byteOffset + Math.ceil(control / 64) * 64;
    const regionBytes = Math.max(1, Math.floor(this.#options.outputSegments / regionCount)) *
      memory.segmentBytes;
    this.#outputs = Array.from({ length: regionCount }, () => this.#take(regionBytes));
    // The in-memory run is gathered and the runs on the Worker are read by the Worker
    // itself: no buffers here (a run read there has its one block buffer), no copies.
    const gathers = sources.map((source) =>
      source instanceof SortBufferBlocks || source instanceof GatherOnWorker ? source.place : null
    );
    const reads = sources.map((source) =>
      source instanceof RunOnWorker ? this.#take(2 * memory.segmentBytes).byteOffset : null
    );
    this.#buffers = sources.map((_source, i) =>
      gathers[i] === null && reads[i] === null
        ? [this.#take(memory.segmentBytes), this.#take(memory.segmentBytes)]
        : []
    );
    this.#nextBuffer = sources.map(() => 0);
    const start: MergeStart = {
      type: "start",
      memory: memory.wasmMemory,
      memoryTag: memoryTagOf(memory.wasmMemory),
      module: compileKernels(),
      control: controlRegion.byteOffset,
      paths: sources.map((source) => source.run?.path ?? ""),
      gathers,
      reads,
      ranges: sources.map((source) => source instanceof RunOnWorker ? source.range : null),
      blockBytes: memory.segmentBytes,
      state: { byteOffset: stateOffset, byteLength: MergeLinesState.bytes(k) },
      outputs: this.#outputs,
      reverse: this.#options.reverse,
      keyed: this.#options.keyed === true,
      lineEndsKey: this.#options.lineEndsKey === true,
      unique: this.#options.unique,
      terminator: this.#options.terminator,
      expectedRecords: this.#options.expectedRecords,
      releaseReadBlocks: this.#options.releaseReadBlocks === true,
    };
    if (this.#options.workerFault !== undefined) start.fault = this.#options.workerFault;
    if (this.#options.output !== undefined) {
      start.output = this.#options.output;
      // A range merge: every input's first carry page comes with the start (the budget holds a
      // carry page per input), not on request (merge_worker.ts `MergeStart.carries`).
      start.carries = sources.map((_source, i) => {
        const lease = this.#allocate(memory.segmentBytes);
        this.#grown.set(i, lease);
        return regionOf(lease);
      });
      // Such a Worker posts nothing else until the end: it speaks up well within the silence
      // the watchdog allows (a range of a large merge takes minutes on a slow disk).
      const silenceMsMax = this.#options.workerSilenceMsMax ?? WORKER_SILENCE_MS_MAX;
      start.heartbeatMs = Math.max(1, Math.min(1_000, Math.floor(silenceMsMax / 4)));
    }
    return start;
  }

  #allocate(byteLength: number): SegmentLease {
    const memory = this.#memory;
    const segmentCount = Math.ceil(Math.max(1, byteLength) / memory.segmentBytes);
    const lease = segmentCount === 1
      ? memory.allocate(MERGE_WORKER_OWNER, 1)
      : memory.allocateContiguous(MERGE_WORKER_OWNER, segmentCount);
    this.#leases.push(lease);
    return lease;
  }

  #take(byteLength: number): MergeRegion {
    return regionOf(this.#allocate(byteLength));
  }

  #onMessage(message: MergeEvent, resolve: (result: ParallelMergeResult) => void): void {
    this.#watchdog?.heard(performance.now());
    for (const lease of this.#retired) {
      this.#leases.splice(this.#leases.indexOf(lease), 1);
      lease.release();
    }
    this.#retired = [];
    switch (message.type) {
      case "took":
        this.#feed(message.input);
        return;
      case "out":
        this.#busyCount += 1;
        this.#writing = this.#writing.then(() => this.#writeHalf(message.half));
        this.#writing.catch((error) => this.#fail(error));
        return;
      case "grow":
        this.#grow();
        return;
      case "alive": // the Worker writes its own output (`output`): heard above
        return;
      case "done":
        this.#writing.then(() => {
          resolve({
            writtenCount: message.writtenCount,
            droppedCount: message.droppedCount,
            blocksReadOnWorker: message.blocksRead,
            blocksReadAhead: this.#blocksReadAhead,
            workerFoundKernels: message.kernelsFound,
          });
        }, (error) => this.#fail(error));
        return;
      case "error":
        this.#fail(workerError(message, this.#memory.segmentBytes));
    }
  }

  /** Reads input i's next block into its next buffer and hands it to the Worker. */
  #feed(i: number): void {
    this.#busyCount += 1;
    this.#fill(i).then(() => {
      this.#busyCount -= 1;
    }, (error) => this.#fail(error));
  }

  async #fill(i: number): Promise<void> {
    const source = this.#sources[i]!;
    assert(
      !(source instanceof RunOnWorker) && !(source instanceof GatherOnWorker),
      "an input the Worker reads is fed",
    );
    let more = source.nextBlock();
    if (more instanceof Promise) more = await more;
    if (!more || this.#failed) return;
    const buffer = this.#buffers[i]![this.#nextBuffer[i]!]!;
    this.#nextBuffer[i] = 1 - this.#nextBuffer[i]!;
    const length = source.blockEnd - source.blockStart;
    assert(length <= buffer.byteLength, "a block payload is larger than a page");
    new Uint8Array(this.#memory.wasmMemory.buffer).copyWithin(
      buffer.byteOffset,
      source.blockStart,
      source.blockEnd,
    );
    const control = this.#control;
    const at = inputSlot(i);
    assert(Atomics.load(control, at) === 0, "input slot filled twice");
    control[at + 1] = buffer.byteOffset;
    control[at + 2] = buffer.byteOffset + length;
    control[at + 3] = source.isLastBlock ? 1 : 0;
    Atomics.store(control, at, 1);
    Atomics.notify(control, at);
  }

  /**
   * Reads and checks the next block of input `i` (asked for by the Worker) and tells it the
   * result, unless the Worker claimed it first (it does when this thread is behind).
   */
  #check(i: number): void {
    if (this.#failed) return;
    const control = this.#control;
    const at = inputSlot(i);
    if (Atomics.compareExchange(control, at, CHECK_ASKED, CHECK_BY_MAIN) !== CHECK_ASKED) return;
    const blockBytes = this.#memory.segmentBytes;
    const block = new Uint8Array(this.#memory.wasmMemory.buffer, control[at + 1]!, blockBytes);
    const blockIndex = control[at + 3]!;
    const path = this.#sources[i]!.run!.path;
    let checked: number;
    const spanMs = timelineStart();
    try {
      let reader = this.#readers.get(i);
      if (reader === undefined) {
        reader = readingRun(path, blockBytes, () => new RunBlockReader(path, blockBytes));
        this.#readers.set(i, reader);
      }
      const opened = reader;
      opened.seek(blockIndex);
      const count = readingRun(path, blockBytes, () => opened.readNext(block));
      checked = checkSpillBlock(path, block, count, blockIndex);
      this.#blocksReadAhead += 1;
    } catch (error) {
      this.#fail(error);
      return;
    }
    timelineEnd("check", spanMs);
    control[at + 2] = checked;
    Atomics.store(control, at, CHECK_DONE);
    Atomics.notify(control, at);
  }

  /** Writes output half `half` out and hands it back to the Worker. */
  async #writeHalf(half: number): Promise<void> {
    if (this.#failed) return;
    const control = this.#control;
    const at = outputSlot(this.#sources.length, half);
    const byteLength = control[at + 1]!;
    const region = this.#outputs[half]!;
    const bytes = new Uint8Array(this.#memory.wasmMemory.buffer, region.byteOffset, byteLength);
    const spanMs = timelineStart();
    const startMs = performance.now();
    await this.#write(bytes, byteLength);
    if (performance.now() - startMs >= WATCHDOG_INTERVAL_MS) this.#slowWrite = true;
    timelineEnd("write", spanMs);
    this.#busyCount -= 1;
    Atomics.store(control, at, 0);
    Atomics.notify(control, at);
  }

  /** Answers the Worker's request for a larger carry or `-u` copy. */
  #grow(): void {
    const control = this.#control;
    try {
      const lease = this.#allocate(control[1]!);
      const key = control[4]!;
      const old = this.#grown.get(key);
      if (old !== undefined) this.#retired.push(old);
      this.#grown.set(key, lease);
      const region = regionOf(lease);
      control[2] = region.byteOffset;
      control[3] = region.byteLength;
      Atomics.store(control, 0, 2);
    } catch (error) {
      Atomics.store(control, 0, 3);
      this.#fail(error);
    }
    Atomics.notify(control, 0);
  }

  /**
   * Fails the merge once: tells the Worker to stop (waking it from any `Atomics.wait`) and
   * rejects with `error`; {@linkcode ParallelMerge.close} then waits for it to stop.
   */
  #fail(error: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#signalStop();
    this.#reject(error);
  }

  /**
   * Tells a running Worker to stop: the abort word says so, and every word it may wait on is
   * changed and notified, so that it wakes and sees it (a Worker blocked in `Atomics.wait`
   * outlives `terminate()` and keeps the process from exiting). Once only; a Worker whose
   * merge has ended is left alone.
   */
  #signalStop(): void {
    if (this.#watchdogTimer !== undefined) clearInterval(this.#watchdogTimer);
    this.#watchdogTimer = undefined;
    const control = this.#control;
    if (
      this.#worker === undefined || control.length === 0 ||
      Atomics.load(control, STOPPED_WORD) === 1 || Atomics.load(control, ABORT_WORD) === 1
    ) {
      return;
    }
    Atomics.store(control, ABORT_WORD, 1);
    for (let word = 0; word < control.length; word += 1) {
      if (word === ABORT_WORD || word === STOPPED_WORD) continue;
      Atomics.store(control, word, ABORTED);
      Atomics.notify(control, word);
    }
  }

  /**
   * Fails the merge if the Worker stays silent while this thread waits on nothing else; tells
   * `onStall` when the merge stalls for seconds (merge_watchdog.ts).
   */
  #startWatchdog(): void {
    const options = this.#options;
    const silenceMsMax = options.workerSilenceMsMax ?? WORKER_SILENCE_MS_MAX;
    const intervalMs = Math.min(WATCHDOG_INTERVAL_MS, silenceMsMax);
    const startMs = performance.now();
    const watchdog = new MergeWatchdog({
      silenceMsMax,
      bootMsMax: WORKER_BOOT_MS_MAX,
      intervalMs,
      warnMs: options.stallWarnMs ?? STALL_WARN_MS,
      startMs,
    });
    this.#watchdog = watchdog;
    this.#siteSinceMs = startMs;
    this.#watchdogTimer = setInterval(() => {
      const nowMs = performance.now();
      const tick = watchdog.tick(nowMs, this.#busyCount > 0, this.#slowWrite);
      this.#slowWrite = false;
      const changes = Atomics.load(this.#control, SITE_CHANGES_WORD);
      if (changes !== this.#siteChanges) {
        this.#siteChanges = changes;
        this.#siteSinceMs = nowMs;
      }
      if (tick.warning !== undefined) options.onStall?.(this.#stallMessage(tick, nowMs));
      if (tick.failed) {
        this.#fail(
          new Error(
            `Merge worker stopped answering: silent for ${
              Math.round(tick.silentMs)
            } ms, nothing pending`,
          ),
        );
      }
    }, intervalMs);
  }

  /** The warning of a stall: how long, and where the Worker is since when. */
  #stallMessage(tick: WatchdogTick, nowMs: number): string {
    const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    const what = tick.warning === "held-up"
      ? `this thread was held up for ${seconds(tick.heldUpMs)} (by a machine overloaded or ` +
        `short of memory, or by a slow read)`
      : `the merge Worker has said nothing for ${seconds(tick.silentMs)} while nothing else ` +
        `was pending`;
    const site = WORKER_SITES[Atomics.load(this.#control, SITE_WORD)] ?? "stopped";
    // How long it is there is known from ticks on time only (not across a hold-up).
    const siteMs = nowMs - this.#siteSinceMs;
    const since = siteMs >= WATCHDOG_INTERVAL_MS ? ` (for ${seconds(siteMs)} at least)` : "";
    return `The final merge stalled: ${what}; the Worker is ${site}${since}`;
  }
}

/** The merge Worker could not write its part of the output (`code`: the file system's). */
export class OutputPartError extends Error {
  /** The file system's error code (ENOSPC), if any. */
  code: string | undefined = undefined;

  /**
   * @param byteLength The size of the write that failed (0 when opening the file failed), for the
   *   message that names the output.
   */
  constructor(message: string, readonly byteLength: number) {
    super(message);
    this.name = "OutputPartError";
  }
}

/** The error a Worker's `error` message stands for. */
function workerError(message: MergeEvent & { type: "error" }, blockBytes: number): Error {
  const corrupt = message.corrupt;
  if (corrupt !== undefined) {
    const { path, blockIndex, what, expected, found } = corrupt;
    return new CorruptSpillError(path, blockIndex, what, expected, found);
  }
  const written = message.writeError;
  if (written !== undefined) {
    return Object.assign(new OutputPartError(written.message, written.byteLength), {
      code: written.code,
    });
  }
  const read = message.readError;
  if (read !== undefined) {
    const cause = Object.assign(new Error(read.message), { code: read.code });
    return new SpillReadError(read.path, blockBytes, cause);
  }
  return new Error(`Merge worker failed: ${message.message}`);
}

const memoryTags = new WeakMap<WebAssembly.Memory, number>();
let nextMemoryTag = 1;

/** A number that names `memory` in this process (see `MergeStart.memoryTag`). */
function memoryTagOf(memory: WebAssembly.Memory): number {
  let tag = memoryTags.get(memory);
  if (tag === undefined) {
    tag = nextMemoryTag;
    nextMemoryTag += 1;
    memoryTags.set(memory, tag);
  }
  return tag;
}

function regionOf(lease: SegmentLease): MergeRegion {
  const segment = lease.segments[0]!;
  return { byteOffset: segment.memoryOffset, byteLength: segment.byteLength };
}

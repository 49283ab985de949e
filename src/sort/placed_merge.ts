/**
 * The final merge on both cores, by key range, each range written at its own place in the output
 * (issue 11 item 3): splitters cut the merge into ranges (src/sort/key_split.ts), and where each
 * range starts in the output is known before it is merged: every run the Worker gathered carries
 * a line-bytes index (kernel_sort.ts `BlockGather.lineBytesIndex`: per block, the output bytes
 * before its first record start), so the output bytes before a splitter are the index entry of
 * the block it falls in, a scan of that block, and a sum over the in-memory run's ranks. Two
 * lanes take the ranges in turn, whichever is free next: the merge Worker (one
 * {@linkcode mergeOnWorker} per range, which writes its output itself with
 * {@linkcode OutputPartWriter}) and this thread (the same kernel, its blocks read and checked
 * here). No lane waits for another, so the ranges can be few and large; they shrink towards the
 * end (each a quarter of what is left, down to 1/32 of the whole), so that the lane that ends
 * first waits for a small last range of the other, not for one of eight equal ones.
 *
 * ```
 *  output file  [ range 0        | range 1      | range 2        | range 3     ]
 *               ^ offset 0       ^ bytes before splitter 1 ...
 *  Worker       range 0 ───────────────► range 2 ──────────────►
 *  this thread  (finds the splitters) range 1 ──────────► range 3 ────────►
 * ```
 *
 * Not with `-u` (a range's output size depends on the duplicates dropped) or keyed runs (the
 * splitters compare lines), nor when the output is not a regular file (no positions) or a run
 * has no index (written by the main thread): those keep the one-Worker merge.
 *
 * @module
 */
import { assert } from "../base/mod.ts";
import {
  type OutputParts,
  OutputPartWriter,
  RunBlockReader,
  type SpillRun,
  timelineEnd,
  timelineStart,
} from "../io/mod.ts";
import { GatherState, type KernelSet, WasmKernels } from "../kernels/mod.ts";
import type { MemoryManager, SegmentLease } from "../memory/mod.ts";
import {
  evenCuts,
  isEmptyRange,
  KeySplit,
  readingRun,
  type RunPosition,
  type RunRange,
  shrinkingCuts,
} from "./key_split.ts";
import {
  type BlockSource,
  GatherBlocks,
  managedMergeRegions,
  mergeBlocksToLines,
} from "./kernel_merge.ts";
import type { MergeWorkerFault } from "./merge_worker.ts";
import {
  GatherOnWorker,
  mergeOnWorker,
  OutputPartError,
  type ParallelMergeInput,
  parallelMergeSegments,
  RunOnWorker,
  startMergeWorker,
} from "./parallel_merge.ts";
import type { SortBuffer, SortJob } from "./sort_buffer.ts";
import type { BlockFirstKeys } from "./kernel_sort.ts";

/** The owner of this merge's own pages (gather states, stages, this thread's block buffers). */
const PLACED_MERGE_OWNER = "sort-placed-merge";
/** Lanes: the merge Worker (0) and this thread (1). */
const LANE_COUNT = 2;
/** Most blocks sampled for splitters (all runs together). */
const SAMPLES_MAX = 256;
/**
 * How long this thread merges at most before it lets the event loop turn (timers, signals); it
 * turns at once when the Worker has posted a message (its range's end: it takes the next one
 * then; a request for memory). A turn took 0.4-0.6 ms (median) at load 1.6: every 2 ms, as
 * before, that was 24-32 ms of this lane's ~115 ms on 100 MiB of Zipf words.
 */
const TURN_INTERVAL_MS = 50;

/**
 * The least a final merge holds to run as placed key ranges (below, the one-Worker merge of
 * parallel_merge.ts): finding the splitter costs block reads and starting both lanes ~15 ms.
 */
export const PLACED_MERGE_BYTES_MIN = 64 * 1024 * 1024;
/** From this many bytes to merge, a placed merge cuts shrinking ranges ({@linkcode placedMergeCuts}). */
export const PLACED_MERGE_SHRINKING_BYTES_MIN = 256 * 1024 * 1024;

/**
 * Where the key ranges of a placed final merge of `mergeBytes` end (fractions of the input; the
 * two lanes take the ranges in turn, whichever is free).
 *
 * - Below {@linkcode PLACED_MERGE_SHRINKING_BYTES_MIN}: two halves, one per lane. Each range
 *   costs the Worker a round trip (~5-15 ms idle between two ranges) and a bound search; on
 *   100 MiB of Zipf words (4 runs) three or more ranges were slower than the one-Worker merge,
 *   two were faster (docs/performance.md, "sort: the final merge").
 * - From it: each range a quarter of what is left, down to 1/32 of the merge (11 ranges). With
 *   eight equal ranges the lane that ended first waited for the other's last range: 0.34-0.6 s
 *   of a 2.8-5 s merge of 1 GiB.
 *
 * @param mergeBytes Bytes the merge reads.
 * @param shrinkingBytesMin Where shrinking ranges start (tests set a smaller floor).
 * @returns Ascending fractions (key_split.ts `evenCuts`, `shrinkingCuts`).
 *
 * @example Usage
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { placedMergeCuts } from "./placed_merge.ts";
 * deepStrictEqual(placedMergeCuts(100 * 1024 * 1024), [0.5]);
 * deepStrictEqual(placedMergeCuts(1024 * 1024 * 1024).length, 10);
 * ```
 */
export function placedMergeCuts(
  mergeBytes: number,
  shrinkingBytesMin: number = PLACED_MERGE_SHRINKING_BYTES_MIN,
): number[] {
  return mergeBytes < shrinkingBytesMin ? evenCuts(2) : shrinkingCuts(1 / 4, 1 / 32);
}

/** Options of {@linkcode mergePlacedRanges}. */
export interface PlacedMergeOptions {
  /** The budget every buffer comes from. */
  memory: MemoryManager;
  /** This thread's kernels. */
  kernels: KernelSet;
  /** `-r`. */
  reverse: boolean;
  /** Line terminator. */
  terminator: number;
  /** Records the inputs hold (checked at the end). */
  expectedRecords: number;
  /**
   * Where ranges end, as fractions of the input's bytes (key_split.ts `shrinkingCuts`,
   * `evenCuts`); fewer ranges when the sampled keys do not have that many distinct ones.
   */
  cuts: readonly number[];
  /** Segments of each lane's two output halves together. */
  outputSegments: number;
  /** Each run's line-bytes index (every run must have one). */
  lineBytesIndexes: ReadonlyMap<SpillRun, readonly number[]>;
  /**
   * The first keys of the runs' blocks, where known (kernel_sort.ts `BlockGather.blockFirstKeys`):
   * the splitters are then found without reading blocks but the one each falls in.
   */
  blockFirstKeys?: ReadonlyMap<SpillRun, BlockFirstKeys>;
  /** The output's file and where the output starts in it (`OutputSink.parts`). */
  parts: OutputParts;
  /** A merge Worker started already, or undefined. */
  worker?: Worker | undefined;
  /**
   * Takes the merge Worker once its lane has merged its last range, idle and still running
   * (the caller ends it); without it the lane ends the Worker. A lane that fails ends it always.
   */
  onIdleWorker?: (worker: Worker) => void;
  /** How long the Worker may stay silent while nothing else is pending. */
  workerSilenceMsMax?: number;
  /** For tests: make the merge Worker fail this way. */
  workerFault?: MergeWorkerFault;
  /** As `ParallelMergeOptions.onStall`, for each range the Worker merges. */
  onStall?: (message: string) => void;
  /** As `ParallelMergeOptions.stallWarnMs`. */
  stallWarnMs?: number;
  /** Called with each range's output bytes once it is written (progress). */
  onRangeWritten?: (byteLength: number) => void;
}

/** What {@linkcode mergePlacedRanges} did. */
export interface PlacedMergeResult {
  /** Records written. */
  writtenCount: number;
  /** Output bytes written. */
  outputBytes: number;
  /** Ranges merged, and of those on the Worker. */
  rangeCount: number;
  rangesOnWorker: number;
  /** Run blocks the Worker read, and this thread (for the I/O stats). */
  blocksReadOnWorker: number;
  blocksReadHere: number;
}

/**
 * Segments {@linkcode mergePlacedRanges} takes at most for `inputCount` inputs: the Worker's
 * range merge (its pages, a carry page per input), this thread's (state, output halves, a block
 * buffer and a carry page per input), the gather states with the in-memory run's page table,
 * a staging page per lane, and the page the splitters' run probes read into.
 */
export function placedMergeSegments(
  memory: MemoryManager,
  inputCount: number,
  outputSegments: number,
): number {
  const workerLane = parallelMergeSegments(memory, inputCount, outputSegments) + inputCount;
  const threadLane = 1 + outputSegments + 2 * inputCount;
  return workerLane + threadLane + 1 + LANE_COUNT + 1;
}

/** Whether the in-memory run's page table fits the page it shares with the gather states. */
export function placedMergeTableFits(segmentBytes: number, dataPages: number): boolean {
  return LANE_COUNT * GatherState.BYTES + 4 * dataPages <= segmentBytes;
}

/** Where a range starts: in every run, in the in-memory run (a rank), in the output. */
interface Bound {
  runs: RunPosition[];
  rank: number;
  offset: number;
}

/**
 * Merges plain spill runs and the sorted in-memory run into the output's file, key ranges at
 * their offsets, on the merge Worker and this thread (see the module doc). Byte-identical to
 * one merge of the same inputs in the same order (plain byte orders of lines, `-r`; not `-u`).
 *
 * @param runs Plain spill runs with line-bytes indexes, in input order.
 * @param memoryRun The sorted in-memory run (plain records), merged after the runs; lent until
 *   the merge ends.
 * @param options Budget, kernels, order, ranges, the indexes and the output's file.
 * @returns Records and bytes written, ranges.
 * @throws {OutputPartError} If a write of the output fails (the caller names the output).
 * @throws As {@linkcode mergeOnWorker}; an internal error if a range writes other than its bytes.
 */
export async function mergePlacedRanges(
  runs: readonly SpillRun[],
  memoryRun: SortBuffer | undefined,
  options: PlacedMergeOptions,
): Promise<PlacedMergeResult> {
  const merge = new PlacedMerge(runs, memoryRun, options);
  try {
    return await merge.run();
  } finally {
    merge.close();
  }
}

class PlacedMerge {
  readonly #runs: readonly SpillRun[];
  readonly #memoryRun: SortBuffer | undefined;
  readonly #options: PlacedMergeOptions;
  readonly #leases: SegmentLease[] = [];
  #job: SortJob | undefined = undefined;
  #split: KeySplit | undefined = undefined;
  #splitters: Uint8Array[] = [];
  readonly #bounds: Array<Bound | undefined> = [];
  /** The in-memory run's gather states and page table (one page), and a stage per lane. */
  #table = 0;
  #stages: number[] = [];
  #nextRange = 0;
  #failed = false;
  /** Aborted when a lane fails: the other lane's running range stops too. */
  readonly #stop = new AbortController();
  /** Turns of the event loop this thread's lane takes (a message port, closed at the end). */
  readonly #turns = new LoopTurns();
  /** The Worker's messages posted so far in its current range (0 before it has one). */
  #workerPosted: () => number = () => 0;
  /** How many of them this thread has handled. */
  #workerHeard: () => number = () => 0;
  #writtenCount = 0;
  #rangesOnWorker = 0;
  #blocksReadOnWorker = 0;
  #blocksReadHere = 0;

  constructor(
    runs: readonly SpillRun[],
    memoryRun: SortBuffer | undefined,
    options: PlacedMergeOptions,
  ) {
    this.#runs = runs;
    this.#memoryRun = memoryRun;
    this.#options = options;
  }

  get #rangeCount(): number {
    return this.#splitters.length + 1;
  }

  async run(): Promise<PlacedMergeResult> {
    try {
      const prepareMs = timelineStart();
      this.#prepare();
      timelineEnd("placed-prepare", prepareMs);
    } catch (error) {
      // The Worker lane, which ends the Worker it was given, never starts: an idle Worker
      // left running keeps the process from exiting after the error is reported.
      this.#options.worker?.terminate();
      throw error;
    }
    const lanes = [this.#workerLane(), this.#threadLane()];
    const settled = await Promise.allSettled(lanes);
    // The lane that failed first, not the one it stopped.
    const failures = settled.flatMap((lane) => lane.status === "rejected" ? [lane.reason] : []);
    const first = failures.find((reason) => !(reason instanceof LaneStopped));
    if (first !== undefined || failures.length > 0) throw first ?? failures[0];
    const expected = this.#options.expectedRecords;
    if (this.#writtenCount !== expected) {
      throw new Error(
        `The placed merge wrote ${this.#writtenCount} records, the inputs hold ${expected}`,
      );
    }
    return {
      writtenCount: this.#writtenCount,
      outputBytes: this.#bound(this.#rangeCount).offset,
      rangeCount: this.#rangeCount,
      rangesOnWorker: this.#rangesOnWorker,
      blocksReadOnWorker: this.#blocksReadOnWorker,
      blocksReadHere: this.#blocksReadHere,
    };
  }

  close(): void {
    this.#turns.close();
    this.#split?.close();
    this.#split = undefined;
    for (const lease of this.#leases) lease.release();
    this.#leases.length = 0;
    if (this.#job !== undefined) this.#memoryRun!.takeBack(true);
    this.#job = undefined;
  }

  /** Lends the in-memory run, samples the runs and chooses the splitters. */
  #prepare(): void {
    const { memory, cuts, kernels } = this.#options;
    const rangeCount = cuts.length + 1;
    const segmentBytes = memory.segmentBytes;
    const runs = this.#runs;
    const memoryRun = this.#memoryRun;
    if (memoryRun !== undefined) {
      const job = memoryRun.lend(PLACED_MERGE_OWNER);
      this.#job = job;
      assert(
        placedMergeTableFits(segmentBytes, job.segments.length),
        "the in-memory run's page table is larger than a page (the caller checks)",
      );
      const pages = memory.allocate(PLACED_MERGE_OWNER, 1 + LANE_COUNT);
      this.#leases.push(pages);
      this.#table = pages.segments[0]!.memoryOffset;
      new Uint32Array(
        memory.wasmMemory.buffer,
        this.#table + LANE_COUNT * GatherState.BYTES,
        job.segments.length,
      ).set(job.segments);
      this.#stages = pages.segments.slice(1).map((segment) => segment.memoryOffset);
    }
    const job = this.#job;
    const probe = memory.allocate(PLACED_MERGE_OWNER, 1);
    this.#leases.push(probe);
    this.#split = new KeySplit(
      runs,
      job === undefined ? undefined : {
        job,
        bytes: new Uint8Array(memory.wasmMemory.buffer),
        dataBytes: memoryRun!.dataBytes,
        ...(kernels instanceof WasmKernels
          ? { lineBytes: (index: number, count: number) => kernels.indexLineBytes(index, count) }
          : {}),
      },
      {
        segmentBytes,
        reverse: this.#options.reverse,
        probeBlock: probe.segments[0]!.bytes,
        firstKeys: runs.map((run) => this.#options.blockFirstKeys?.get(run)),
        samplesPerRun: Math.max(
          2,
          Math.min(
            64,
            Math.ceil((8 * rangeCount) / Math.max(1, runs.length)),
            Math.floor(SAMPLES_MAX / Math.max(1, runs.length)),
          ),
        ),
      },
    );
    this.#splitters = this.#split.chooseSplitters(cuts);
  }

  /** Where range `b` starts (range count: where the last ends), found once. */
  #bound(b: number): Bound {
    const known = this.#bounds[b];
    if (known !== undefined) return known;
    const split = this.#split!;
    const runs = this.#runs;
    const job = this.#job;
    const spanMs = timelineStart();
    let bound: Bound;
    if (b === 0) {
      bound = { runs: runs.map(() => ({ block: 0, offset: 0 })), rank: 0, offset: 0 };
    } else {
      const splitter = this.#splitters[b - 1];
      // Bounds are found in order, each when the range before it is taken: the search reads no
      // block before the previous bound, where a range merged already released its blocks.
      const previous = this.#bound(b - 1);
      const rank = job === undefined
        ? 0
        : splitter === undefined
        ? job.recordCount
        : split.memoryRank(splitter);
      let offset = job === undefined ? 0 : split.memoryLineBytesBefore(rank);
      // Each run's bytes right after its position: the run's block is still in the probe page
      // that all runs share.
      const positions = runs.map((run, i) => {
        const position = splitter === undefined
          ? split.runEnd(i)
          : split.runPosition(i, splitter, previous.runs[i]!);
        const index = this.#options.lineBytesIndexes.get(run);
        assert(index !== undefined, "a run without its line-bytes index");
        offset += split.lineBytesBefore(i, position, index);
        return position;
      });
      bound = { runs: positions, rank, offset };
    }
    this.#bounds[b] = bound;
    timelineEnd("placed-bound", spanMs);
    return bound;
  }

  /** Marks the merge failed and stops the other lane's range. */
  #fail(error: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#stop.abort(new LaneStopped(error));
  }

  /** The next range to merge, or -1 when none is left (or a lane failed). */
  #takeRange(): number {
    if (this.#failed || this.#nextRange >= this.#rangeCount) return -1;
    const r = this.#nextRange;
    this.#nextRange += 1;
    return r;
  }

  /**
   * Finds where the range after the next ends now (no range from the next on has started, so
   * no block it reads is released yet), so that the lane that takes the next range need not:
   * called once a range is under way on the Worker, or before this thread starts one.
   */
  #prefetchBound(): void {
    const b = this.#nextRange + 1;
    if (!this.#failed && b <= this.#rangeCount) this.#bound(b);
  }

  /** The runs' parts of range `r` and its place in the output. */
  #range(
    r: number,
  ): { lower: Bound; upper: Bound; parts: Array<{ run: number; range: RunRange }> } {
    const lower = this.#bound(r);
    const upper = this.#bound(r + 1);
    assert(upper.offset >= lower.offset && upper.rank >= lower.rank, "ranges out of order");
    const parts: Array<{ run: number; range: RunRange }> = [];
    this.#runs.forEach((_run, i) => {
      const range = { start: lower.runs[i]!, end: upper.runs[i]! };
      if (!isEmptyRange(range)) parts.push({ run: i, range });
    });
    return { lower, upper, parts };
  }

  /** Starts the gather of the in-memory run's ranks [lower, upper) in lane `lane`'s state. */
  #startGather(lane: number, lower: number, upper: number): number {
    const job = this.#job!;
    const stateOffset = this.#table + lane * GatherState.BYTES;
    new GatherState(this.#options.memory.wasmMemory, stateOffset).start({
      indexOffset: job.index + lower * 16,
      recordCount: upper - lower,
      pageTableOffset: this.#table + LANE_COUNT * GatherState.BYTES,
      segmentShift: job.segmentShift,
    });
    return stateOffset;
  }

  /** The Worker's lane: one {@linkcode mergeOnWorker} per range it takes. */
  async #workerLane(): Promise<void> {
    const options = this.#options;
    const segmentBytes = options.memory.segmentBytes;
    const worker = options.worker ?? startMergeWorker();
    try {
      for (let r = this.#takeRange(); r >= 0; r = this.#takeRange()) {
        const { lower, upper, parts } = this.#range(r);
        const inputs: ParallelMergeInput[] = parts.map(({ run, range }) =>
          new RunOnWorker(this.#runs[run]!, range)
        );
        if (upper.rank > lower.rank) {
          const stateOffset = this.#startGather(0, lower.rank, upper.rank);
          const stageOffset = this.#stages[0]!;
          inputs.push(new GatherOnWorker({ stateOffset, stageOffset, stageBytes: segmentBytes }));
        }
        if (inputs.length === 0) continue;
        const running = mergeOnWorker(inputs, () => undefined, {
          memory: options.memory,
          reverse: options.reverse,
          unique: false,
          terminator: options.terminator,
          expectedRecords: -1,
          outputSegments: options.outputSegments,
          releaseReadBlocks: true,
          output: {
            path: options.parts.path,
            position: options.parts.offset + lower.offset,
            byteLength: upper.offset - lower.offset,
            writeback: options.parts.writeback,
          },
          worker,
          keepWorker: true,
          ...(options.workerSilenceMsMax === undefined
            ? {}
            : { workerSilenceMsMax: options.workerSilenceMsMax }),
          ...(options.workerFault === undefined ? {} : { workerFault: options.workerFault }),
          ...(options.onStall === undefined ? {} : { onStall: options.onStall }),
          ...(options.stallWarnMs === undefined ? {} : { stallWarnMs: options.stallWarnMs }),
          signal: this.#stop.signal,
          onPostedCount: (postedCount, heardCount) => {
            this.#workerPosted = postedCount;
            this.#workerHeard = heardCount;
          },
        });
        try {
          this.#prefetchBound();
        } finally {
          await running.catch(() => {}); // its error, if any, is thrown below
        }
        const result = await running;
        this.#workerPosted = () => 0; // its control block is given back
        this.#workerHeard = () => 0;
        this.#writtenCount += result.writtenCount;
        this.#blocksReadOnWorker += result.blocksReadOnWorker;
        this.#rangesOnWorker += 1;
        options.onRangeWritten?.(upper.offset - lower.offset);
      }
    } catch (error) {
      try {
        this.#fail(error);
      } finally {
        worker.terminate();
      }
      throw error;
    }
    if (options.onIdleWorker === undefined) worker.terminate();
    else options.onIdleWorker(worker);
  }

  /** This thread's lane: the merge kernel here over the ranges it takes. */
  async #threadLane(): Promise<void> {
    const options = this.#options;
    const memory = options.memory;
    const buffers = memory.allocate(PLACED_MERGE_OWNER, Math.max(1, this.#runs.length));
    this.#leases.push(buffers);
    let part: OutputPartWriter | undefined = undefined;
    try {
      // The Worker's lane, called first, has posted its first range's start by now (a lane runs
      // synchronously up to its first wait): no turn of the event loop first (0.4-1 ms).
      part = partWriter(options.parts);
      for (let r = this.#takeRange(); r >= 0; r = this.#takeRange()) {
        const { lower, upper, parts } = this.#range(r);
        this.#prefetchBound();
        // (Not `+= await`: that reads the count before the other lane adds to it.)
        const written = await this.#mergeHere(part, { lower, upper, parts }, buffers);
        this.#writtenCount += written;
        options.onRangeWritten?.(upper.offset - lower.offset);
      }
    } catch (error) {
      this.#fail(error);
      throw error;
    } finally {
      part?.close();
    }
  }

  /** Merges one range on this thread into `part`; returns the records written. */
  async #mergeHere(
    part: OutputPartWriter,
    range: { lower: Bound; upper: Bound; parts: Array<{ run: number; range: RunRange }> },
    buffers: SegmentLease,
  ): Promise<number> {
    const options = this.#options;
    const memory = options.memory;
    const { lower, upper, parts } = range;
    const sources: BlockSource[] = [];
    const opened: RangeBlocks[] = [];
    try {
      for (const { run, range: runRange } of parts) {
        const segment = buffers.segments[run]!;
        const block = new Uint8Array(
          memory.wasmMemory.buffer,
          segment.memoryOffset,
          segment.byteLength,
        );
        const source = new RangeBlocks(this.#runs[run]!, runRange, block);
        opened.push(source);
        sources.push(source);
      }
      if (upper.rank > lower.rank) {
        const stateOffset = this.#startGather(1, lower.rank, upper.rank);
        sources.push(
          new GatherBlocks(memory.wasmMemory, options.kernels, {
            stateOffset,
            stageOffset: this.#stages[1]!,
            stageBytes: memory.segmentBytes,
          }),
        );
      }
      if (sources.length === 0) return 0;
      const start = options.parts.offset + lower.offset;
      let at = start;
      let turnedMs = performance.now();
      const result = await mergeBlocksToLines(sources, (bytes, byteLength) => {
        if (this.#failed) throw this.#stop.signal.reason;
        writePart(part, bytes.subarray(0, byteLength), at);
        at += byteLength;
        // Let the Worker's messages in (its range's end: it takes the next one then).
        // A message counted but not yet handled (it may still be on its way: the count rises
        // first) gets a turn at every check until it is in.
        const unheard = this.#workerPosted() > this.#workerHeard();
        if (!unheard && performance.now() - turnedMs < TURN_INTERVAL_MS) return undefined;
        turnedMs = performance.now();
        return this.#turns.turn();
      }, {
        regions: managedMergeRegions(memory, {
          owner: PLACED_MERGE_OWNER,
          outputSegments: options.outputSegments,
        }),
        kernels: options.kernels,
        reverse: options.reverse,
        unique: false,
        terminator: options.terminator,
        expectedRecords: -1,
      });
      checkRangeBytes(at - start, upper.offset - lower.offset);
      return result.writtenCount;
    } finally {
      for (const source of opened) {
        this.#blocksReadHere += source.blocksRead;
        source.close();
      }
    }
  }
}

/**
 * Turns of the event loop on demand: a message to itself through a port, ~0.3 ms
 * (`setTimeout(0)` took several ms under load), so that this thread's lane lets the Worker's
 * messages in while it merges.
 */
class LoopTurns {
  readonly #channel = new MessageChannel();
  #waiting: Array<() => void> = [];

  constructor() {
    this.#channel.port1.onmessage = () => {
      const waiting = this.#waiting;
      this.#waiting = [];
      for (const resolve of waiting) resolve();
    };
  }

  /** Resolves after one turn of the event loop. */
  turn(): Promise<void> {
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
      if (this.#waiting.length === 1) this.#channel.port2.postMessage(0);
    });
  }

  /** Closes the port (a turn still pending then never resolves: call it at the end). */
  close(): void {
    this.#channel.port1.close();
    this.#channel.port2.close();
  }
}

/** Throws an internal error when a range wrote other than the bytes its place holds. */
export function checkRangeBytes(writtenBytes: number, placeBytes: number): void {
  if (writtenBytes !== placeBytes) {
    throw new Error(
      `A key range of the merge wrote ${writtenBytes} bytes into a place of ${placeBytes}`,
    );
  }
}

function partWriter(parts: OutputParts): OutputPartWriter {
  try {
    return new OutputPartWriter(parts.path, { writeback: parts.writeback });
  } catch (error) {
    throw partError(error, 0);
  }
}

function writePart(part: OutputPartWriter, bytes: Uint8Array, position: number): void {
  try {
    part.writeAt(bytes, position);
  } catch (error) {
    throw partError(error, bytes.length);
  }
}

/** The reason a lane stops when the other lane failed (never the error reported). */
class LaneStopped extends Error {
  constructor(cause: unknown) {
    super("stopped: the other lane of the placed merge failed", { cause });
    this.name = "LaneStopped";
  }
}

function partError(error: unknown, byteLength: number): OutputPartError {
  const code = (error as { code?: unknown } | undefined)?.code;
  const message = error instanceof Error ? error.message : String(error);
  const failure = new OutputPartError(message, byteLength);
  failure.code = typeof code === "string" ? code : undefined;
  return failure;
}

/**
 * A spill run's part (a key range) read and checked on this thread, one block at a time into
 * one buffer page (the merge copies a record cut by the block border out first).
 */
class RangeBlocks implements BlockSource {
  blockStart = 0;
  blockEnd = 0;
  isLastBlock = false;
  blockIndex = -1;
  /** Blocks read. */
  blocksRead = 0;
  readonly run: { readonly path: string };
  readonly #reader: RunBlockReader;
  readonly #block: Uint8Array;
  readonly #startBlock: number;
  readonly #startOffset: number;
  /** The range's last block, and where it ends there (-1: the payload's end). */
  readonly #lastBlock: number;
  readonly #endOffset: number;

  constructor(run: SpillRun, range: RunRange, block: Uint8Array) {
    this.run = { path: run.path };
    this.#block = block;
    this.#reader = readingRun(
      run.path,
      block.length,
      () => new RunBlockReader(run.path, block.length),
    );
    this.#startBlock = range.start.block;
    this.#startOffset = range.start.offset;
    const endsAtBorder = range.end.offset === 0;
    this.#lastBlock = endsAtBorder ? range.end.block - 1 : range.end.block;
    this.#endOffset = endsAtBorder ? -1 : range.end.offset;
    this.#reader.seek(range.start.block);
  }

  nextBlock(): boolean {
    if (this.isLastBlock) return false;
    const reader = this.#reader;
    const spanMs = timelineStart();
    readingRun(reader.path, this.#block.length, () => reader.next(this.#block));
    timelineEnd("merge-read-check", spanMs);
    this.blocksRead += 1;
    const index = reader.blockIndex;
    // Read for the last time (the final merge): its file space can go. The blocks at a range's
    // ends belong to the ranges beside it too.
    if (index !== this.#startBlock && index !== this.#lastBlock) {
      reader.releaseBlocks(index, index + 1);
    }
    const base = this.#block.byteOffset;
    this.blockStart = base + reader.payloadStart +
      (index === this.#startBlock ? this.#startOffset : 0);
    const rangeEnds = index === this.#lastBlock;
    this.blockEnd = base +
      (rangeEnds && this.#endOffset >= 0
        ? reader.payloadStart + this.#endOffset
        : reader.payloadEnd);
    this.isLastBlock = reader.isLastBlock || rangeEnds;
    this.blockIndex = index;
    return true;
  }

  close(): void {
    this.#reader.close();
  }
}

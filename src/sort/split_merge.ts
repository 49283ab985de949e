/**
 * The final merge on two merge Workers, split by key range (src/sort/key_split.ts): the merge
 * is cut into ranges that go to the two Workers in turn; each range is one
 * {@linkcode mergeOnWorker} (the Worker reads its runs' part from the range's first block on,
 * and gathers the in-memory run's ranks), and the output reaches the writer in range order: a
 * range's output halves wait until the range before it is written, so a Worker runs ahead by
 * at most its two output halves.
 *
 * ```
 *  ranges   0      1      2      3   ...
 *  Worker   A      B      A      B
 *  writer   0 ──── 1 ──── 2 ──── 3      (B fills its halves while 0 is written, then waits)
 * ```
 *
 * @module
 */
import { assert } from "../base/mod.ts";
import type { SpillRun } from "../io/mod.ts";
import { GatherState } from "../kernels/mod.ts";
import type { MemoryManager, SegmentLease } from "../memory/mod.ts";
import { isEmptyRange, KeySplit, type RunPosition } from "./key_split.ts";
import {
  GatherOnWorker,
  mergeOnWorker,
  type ParallelMergeInput,
  type ParallelMergeOptions,
  type ParallelMergeResult,
  parallelMergeSegments,
  RunOnWorker,
  startMergeWorker,
} from "./parallel_merge.ts";
import type { SortBuffer, SortJob } from "./sort_buffer.ts";

/** The owner of the split merge's own pages (gather states, page table, staging pages). */
const SPLIT_MERGE_OWNER = "sort-split-merge";
/** Most blocks sampled for splitters (all runs together). */
const SAMPLES_MAX = 256;
/** Concurrent range merges (one per merge Worker). */
const LANE_COUNT = 2;

/**
 * Whether the in-memory run's page table fits the one page it shares with the lanes' gather
 * states (else the caller keeps the one-Worker merge).
 *
 * @param segmentBytes Bytes of a page.
 * @param dataPages The in-memory run's data pages.
 * @returns True when it fits.
 */
export function splitMergeTableFits(segmentBytes: number, dataPages: number): boolean {
  return LANE_COUNT * GatherState.BYTES + 4 * dataPages <= segmentBytes;
}

/**
 * Segments {@linkcode mergeByKeyRanges} takes at once for `inputCount` inputs: two range
 * merges (with a carry page per input and the `-u` copy), the in-memory run's page table and
 * staging pages, and the page the splitters' run probes read into.
 */
export function splitMergeSegments(
  memory: MemoryManager,
  inputCount: number,
  outputSegments: number,
): number {
  // Per range merge: its pages, a carry page per input (a record across a block border) and
  // the `-u` copy, which the Worker asks for while it merges.
  const perLane = parallelMergeSegments(memory, inputCount, outputSegments) + inputCount + 1;
  return LANE_COUNT * perLane + 1 + LANE_COUNT + 1;
}

/** Options of {@linkcode mergeByKeyRanges}. */
export interface SplitMergeOptions extends ParallelMergeOptions {
  /** Ranges wanted (fewer when the sampled keys do not have that many distinct ones). */
  rangeCount: number;
  /** A merge Worker started already (it boots in ~0.1 s), or undefined. */
  worker?: Worker | undefined;
}

/** What {@linkcode mergeByKeyRanges} did. */
export interface SplitMergeResult extends ParallelMergeResult {
  /** Ranges merged. */
  rangeCount: number;
}

/**
 * Merges plain spill runs (and the sorted in-memory run) into lines on two merge Workers, by
 * key range (see the module doc). Byte-identical to {@linkcode mergeOnWorker} over the same
 * inputs in the same order (plain byte orders of lines; `-r`, `-u`).
 *
 * @param runs Plain spill runs (format version 2), in input order.
 * @param memoryRun The sorted in-memory run (plain records), merged after the runs; it is lent
 *   until the merge ends.
 * @param write Receives each output half, in order.
 * @param options As {@linkcode mergeOnWorker}, and the ranges wanted.
 * @returns Records written and dropped, blocks read, ranges.
 * @throws As {@linkcode mergeOnWorker}; an internal error if the ranges miss records.
 */
export async function mergeByKeyRanges(
  runs: readonly SpillRun[],
  memoryRun: SortBuffer | undefined,
  write: (bytes: Uint8Array, byteLength: number) => PromiseLike<void> | undefined,
  options: SplitMergeOptions,
): Promise<SplitMergeResult> {
  const memory = options.memory;
  const leases: SegmentLease[] = [];
  const workers: Worker[] = [];
  let job: SortJob | undefined = undefined;
  let split: KeySplit | undefined = undefined;
  try {
    // Both Workers boot while the keys are sampled.
    workers.push(options.worker ?? startMergeWorker());
    workers.push(startMergeWorker()); // one at a time: a throw here still ends the first
    let gather: MemoryRunGather | undefined = undefined;
    if (memoryRun !== undefined) {
      job = memoryRun.lend(SPLIT_MERGE_OWNER);
      gather = placeMemoryRun(memory, job, leases);
    }
    split = openKeySplit(runs, memoryRun, job, leases, options);
    const splitters = split.chooseSplitters(options.rangeCount);
    // Every boundary before any range starts: a probe that fails (a corrupt block) then fails
    // the merge while no lane holds pages.
    const bounds = rangeBoundaries(runs, job, split, splitters);
    const lanes = new RangeLanes();
    await mergeRanges(lanes, bounds, write, { runs, gather, workers, options });
    return lanes.result(options.expectedRecords, splitters.length + 1);
  } finally {
    split?.close();
    for (const worker of workers) worker.terminate();
    for (const lease of leases) lease.release();
    if (job !== undefined) memoryRun!.takeBack(true);
  }
}

/** Where the lanes gather the in-memory run's ranges: its page table and a staging page per lane. */
interface MemoryRunGather {
  /** The lent run. */
  job: SortJob;
  /** The offset of the page that holds the lanes' gather states, then the page table. */
  table: number;
  /** Each lane's staging page (its offset). */
  stages: number[];
}

/**
 * Takes the in-memory run's page (gather states, page table) and the lanes' staging pages, and
 * writes the run's page table.
 */
function placeMemoryRun(
  memory: MemoryManager,
  job: SortJob,
  leases: SegmentLease[],
): MemoryRunGather {
  const pages = memory.allocate(SPLIT_MERGE_OWNER, 1 + LANE_COUNT);
  leases.push(pages);
  const table = pages.segments[0]!.memoryOffset;
  const tableOffset = table + LANE_COUNT * GatherState.BYTES;
  assert(
    splitMergeTableFits(memory.segmentBytes, job.segments.length),
    "the in-memory run's page table is larger than a page (the caller checks)",
  );
  new Uint32Array(memory.wasmMemory.buffer, tableOffset, job.segments.length)
    .set(job.segments);
  const stages = pages.segments.slice(1).map((segment) => segment.memoryOffset);
  return { job, table, stages };
}

/** The key split over the runs and the in-memory run, with a probe page of its own. */
function openKeySplit(
  runs: readonly SpillRun[],
  memoryRun: SortBuffer | undefined,
  job: SortJob | undefined,
  leases: SegmentLease[],
  options: SplitMergeOptions,
): KeySplit {
  const memory = options.memory;
  const bytes = new Uint8Array(memory.wasmMemory.buffer);
  const probe = memory.allocate(SPLIT_MERGE_OWNER, 1);
  leases.push(probe);
  return new KeySplit(
    runs,
    job === undefined ? undefined : { job, bytes, dataBytes: memoryRun!.dataBytes },
    {
      segmentBytes: memory.segmentBytes,
      reverse: options.reverse,
      probeBlock: probe.segments[0]!.bytes,
      samplesPerRun: samplesPerRun(options.rangeCount, runs.length),
    },
  );
}

/**
 * About eight samples per range, at most 256 in all: each costs a block read (and its check)
 * on this thread before the merge starts.
 */
function samplesPerRun(rangeCount: number, runCount: number): number {
  return Math.max(
    2,
    Math.min(
      64,
      Math.ceil((8 * rangeCount) / Math.max(1, runCount)),
      Math.floor(SAMPLES_MAX / Math.max(1, runCount)),
    ),
  );
}

/** Where a range starts (and the one before it ends): in every run, and in the in-memory run. */
interface RangeBoundary {
  /** Each run's position. */
  runs: RunPosition[];
  /** The in-memory run's rank. */
  rank: number;
}

/** The `splitters.length + 2` boundaries of the ranges: the start, each splitter, the end. */
function rangeBoundaries(
  runs: readonly SpillRun[],
  job: SortJob | undefined,
  split: KeySplit,
  splitters: readonly Uint8Array[],
): RangeBoundary[] {
  const rangeCount = splitters.length + 1;
  const boundary = (b: number): RangeBoundary => {
    if (b === 0) {
      return { runs: runs.map(() => ({ block: 0, offset: 0 })), rank: 0 };
    }
    if (b === rangeCount) {
      return {
        runs: runs.map((_run, i) => split.runEnd(i)),
        rank: job?.recordCount ?? 0,
      };
    }
    const splitter = splitters[b - 1]!;
    return {
      runs: runs.map((_run, i) => split.runPosition(i, splitter)),
      rank: job === undefined ? 0 : split.memoryRank(splitter),
    };
  };
  return Array.from({ length: rangeCount + 1 }, (_, b) => boundary(b));
}

/** What {@linkcode mergeRanges} merges with. */
interface RangeMergeContext {
  runs: readonly SpillRun[];
  gather: MemoryRunGather | undefined;
  workers: readonly Worker[];
  options: SplitMergeOptions;
}

/**
 * Merges range after range on the lanes in turn; each range's writes wait for the range before
 * it. Stops starting ranges at the first failure; returns when every lane has settled.
 */
async function mergeRanges(
  lanes: RangeLanes,
  bounds: readonly RangeBoundary[],
  write: (bytes: Uint8Array, byteLength: number) => PromiseLike<void> | undefined,
  context: RangeMergeContext,
): Promise<void> {
  let previous: Promise<unknown> = Promise.resolve();
  const rangeCount = bounds.length - 1;
  for (let r = 0; r < rangeCount && !lanes.failed; r += 1) {
    const lane = r % LANE_COUNT;
    await lanes.settle(lane);
    if (lanes.failed) break;
    const inputs = rangeInputs(context, lane, bounds[r]!, bounds[r + 1]!);
    if (inputs.length === 0) continue;
    const gate = previous;
    const gatedWrite = (out: Uint8Array, byteLength: number): PromiseLike<void> =>
      gate.then(() => write(out, byteLength));
    const running = mergeOnWorker(inputs, gatedWrite, {
      ...context.options,
      expectedRecords: -1,
      worker: context.workers[lane],
      keepWorker: true,
    });
    lanes.start(lane, running);
    previous = running;
  }
  for (let lane = 0; lane < LANE_COUNT; lane += 1) await lanes.settle(lane);
}

/**
 * The inputs of the range from `lower` to `upper`: each run's part that is not empty, and the
 * in-memory run's ranks, gathered by `lane` (its gather state is started here).
 */
function rangeInputs(
  context: RangeMergeContext,
  lane: number,
  lower: RangeBoundary,
  upper: RangeBoundary,
): ParallelMergeInput[] {
  const inputs: ParallelMergeInput[] = [];
  context.runs.forEach((run, i) => {
    const range = { start: lower.runs[i]!, end: upper.runs[i]! };
    if (!isEmptyRange(range)) inputs.push(new RunOnWorker(run, range));
  });
  const gather = context.gather;
  if (gather !== undefined && upper.rank > lower.rank) {
    const memory = context.options.memory;
    const stateOffset = gather.table + lane * GatherState.BYTES;
    new GatherState(memory.wasmMemory, stateOffset).start({
      indexOffset: gather.job.index + lower.rank * 16,
      recordCount: upper.rank - lower.rank,
      pageTableOffset: gather.table + LANE_COUNT * GatherState.BYTES,
      segmentShift: gather.job.segmentShift,
    });
    inputs.push(
      new GatherOnWorker({
        stateOffset,
        stageOffset: gather.stages[lane]!,
        stageBytes: memory.segmentBytes,
      }),
    );
  }
  return inputs;
}

/** The range merges running on the lanes, and what the settled ones did (or the first failure). */
class RangeLanes {
  readonly #running: Array<Promise<ParallelMergeResult> | undefined> = [];
  #writtenCount = 0;
  #droppedCount = 0;
  #blocksReadOnWorker = 0;
  #blocksReadAhead = 0;
  #workerFoundKernels = true;
  #failure: { error: unknown } | undefined = undefined;

  /** Whether a range merge failed. */
  get failed(): boolean {
    return this.#failure !== undefined;
  }

  /** Notes the range merge `lane` runs now. */
  start(lane: number, running: Promise<ParallelMergeResult>): void {
    running.catch(() => {}); // settled in settle()
    this.#running[lane] = running;
  }

  /** Waits for `lane`'s range merge (if any) and adds what it did, or notes its failure. */
  async settle(lane: number): Promise<void> {
    const running = this.#running[lane];
    this.#running[lane] = undefined;
    if (running === undefined) return;
    try {
      const result = await running;
      this.#writtenCount += result.writtenCount;
      this.#droppedCount += result.droppedCount;
      this.#blocksReadOnWorker += result.blocksReadOnWorker;
      this.#blocksReadAhead += result.blocksReadAhead;
      this.#workerFoundKernels &&= result.workerFoundKernels;
    } catch (error) {
      this.#failure ??= { error };
    }
  }

  /**
   * What the settled lanes did together.
   *
   * @throws The first failure; an internal error if the ranges miss records.
   */
  result(expectedRecords: number, rangeCount: number): SplitMergeResult {
    if (this.#failure !== undefined) throw this.#failure.error;
    const writtenCount = this.#writtenCount;
    const droppedCount = this.#droppedCount;
    if (expectedRecords >= 0 && writtenCount + droppedCount !== expectedRecords) {
      throw new Error(
        `The key-range merge merged ${
          writtenCount + droppedCount
        } records, the inputs hold ${expectedRecords}`,
      );
    }
    return {
      writtenCount,
      droppedCount,
      blocksReadOnWorker: this.#blocksReadOnWorker,
      blocksReadAhead: this.#blocksReadAhead,
      workerFoundKernels: this.#workerFoundKernels,
      rangeCount,
    };
  }
}

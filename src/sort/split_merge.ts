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
  const segmentBytes = memory.segmentBytes;
  const leases: SegmentLease[] = [];
  const workers: Worker[] = [];
  let job: SortJob | undefined = undefined;
  let split: KeySplit | undefined = undefined;
  try {
    // Both Workers boot while the keys are sampled.
    workers.push(options.worker ?? startMergeWorker());
    workers.push(startMergeWorker()); // one at a time: a throw here still ends the first
    let table = 0;
    let stages: number[] = [];
    if (memoryRun !== undefined) {
      job = memoryRun.lend(SPLIT_MERGE_OWNER);
      const pages = memory.allocate(SPLIT_MERGE_OWNER, 1 + LANE_COUNT);
      leases.push(pages);
      table = pages.segments[0]!.memoryOffset;
      const tableOffset = table + LANE_COUNT * GatherState.BYTES;
      assert(
        splitMergeTableFits(segmentBytes, job.segments.length),
        "the in-memory run's page table is larger than a page (the caller checks)",
      );
      new Uint32Array(memory.wasmMemory.buffer, tableOffset, job.segments.length)
        .set(job.segments);
      stages = pages.segments.slice(1).map((segment) => segment.memoryOffset);
    }
    const bytes = new Uint8Array(memory.wasmMemory.buffer);
    const probe = memory.allocate(SPLIT_MERGE_OWNER, 1);
    leases.push(probe);
    split = new KeySplit(
      runs,
      job === undefined ? undefined : { job, bytes, dataBytes: memoryRun!.dataBytes },
      {
        segmentBytes,
        reverse: options.reverse,
        probeBlock: probe.segments[0]!.bytes,
        // About eight samples per range, at most 256 in all: each costs a block read (and its
        // check) on this thread before the merge starts.
        samplesPerRun: Math.max(
          2,
          Math.min(
            64,
            Math.ceil((8 * options.rangeCount) / Math.max(1, runs.length)),
            Math.floor(SAMPLES_MAX / Math.max(1, runs.length)),
          ),
        ),
      },
    );
    const splitters = split.chooseSplitters(options.rangeCount);
    const rangeCount = splitters.length + 1;
    const keySplit = split;
    const boundary = (b: number): { runs: RunPosition[]; rank: number } => {
      if (b === 0) {
        return { runs: runs.map(() => ({ block: 0, offset: 0 })), rank: 0 };
      }
      if (b === rangeCount) {
        return {
          runs: runs.map((_run, i) => keySplit.runEnd(i)),
          rank: job?.recordCount ?? 0,
        };
      }
      const splitter = splitters[b - 1]!;
      return {
        runs: runs.map((_run, i) => keySplit.runPosition(i, splitter)),
        rank: job === undefined ? 0 : keySplit.memoryRank(splitter),
      };
    };
    // Every boundary before any range starts: a probe that fails (a corrupt block) then fails
    // the merge while no lane holds pages.
    const bounds = Array.from({ length: rangeCount + 1 }, (_, b) => boundary(b));
    const lanes: Array<Promise<ParallelMergeResult> | undefined> = [];
    let previous: Promise<unknown> = Promise.resolve();
    let lower = bounds[0]!;
    let writtenCount = 0;
    let droppedCount = 0;
    let blocksReadOnWorker = 0;
    let blocksReadAhead = 0;
    let workerFoundKernels = true;
    let failure: { error: unknown } | undefined = undefined;
    const settle = async (lane: number): Promise<void> => {
      const running = lanes[lane];
      lanes[lane] = undefined;
      if (running === undefined) return;
      try {
        const result = await running;
        writtenCount += result.writtenCount;
        droppedCount += result.droppedCount;
        blocksReadOnWorker += result.blocksReadOnWorker;
        blocksReadAhead += result.blocksReadAhead;
        workerFoundKernels &&= result.workerFoundKernels;
      } catch (error) {
        failure ??= { error };
      }
    };
    for (let r = 0; r < rangeCount && failure === undefined; r += 1) {
      const lane = r % LANE_COUNT;
      await settle(lane);
      if (failure !== undefined) break;
      const upper = bounds[r + 1]!;
      const inputs: ParallelMergeInput[] = [];
      runs.forEach((run, i) => {
        const range = { start: lower.runs[i]!, end: upper.runs[i]! };
        if (!isEmptyRange(range)) inputs.push(new RunOnWorker(run, range));
      });
      if (job !== undefined && upper.rank > lower.rank) {
        const stateOffset = table + lane * GatherState.BYTES;
        new GatherState(memory.wasmMemory, stateOffset).start({
          indexOffset: job.index + lower.rank * 16,
          recordCount: upper.rank - lower.rank,
          pageTableOffset: table + LANE_COUNT * GatherState.BYTES,
          segmentShift: job.segmentShift,
        });
        inputs.push(
          new GatherOnWorker({ stateOffset, stageOffset: stages[lane]!, stageBytes: segmentBytes }),
        );
      }
      lower = upper;
      if (inputs.length === 0) continue;
      const gate = previous;
      const gatedWrite = (out: Uint8Array, byteLength: number): PromiseLike<void> =>
        gate.then(() => write(out, byteLength));
      const running = mergeOnWorker(inputs, gatedWrite, {
        ...options,
        expectedRecords: -1,
        worker: workers[lane],
        keepWorker: true,
      });
      running.catch(() => {}); // settled above or below
      lanes[lane] = running;
      previous = running;
    }
    for (let lane = 0; lane < LANE_COUNT; lane += 1) await settle(lane);
    if (failure !== undefined) throw (failure as { error: unknown }).error;
    if (
      options.expectedRecords >= 0 && writtenCount + droppedCount !== options.expectedRecords
    ) {
      throw new Error(
        `The key-range merge merged ${
          writtenCount + droppedCount
        } records, the inputs hold ${options.expectedRecords}`,
      );
    }
    return {
      writtenCount,
      droppedCount,
      blocksReadOnWorker,
      blocksReadAhead,
      workerFoundKernels,
      rangeCount,
    };
  } finally {
    split?.close();
    for (const worker of workers) worker.terminate();
    for (const lease of leases) lease.release();
    if (job !== undefined) memoryRun!.takeBack(true);
  }
}

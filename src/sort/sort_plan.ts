/**
 * The sort plan: how the external sort splits its segments between the read chunk, the sort
 * buffers, the Worker's gather segments, the run writer's write-behind and the output. The one
 * place that decides it: {@linkcode externalSort} allocates by it and the job dry run prints it.
 *
 * ```
 *  P segments
 *  +-------+---+-------+--------+---+----------+----------+------+--------+
 *  | input | 1 | write | output | 1 | buffer A | buffer B | ring | kernel |
 *  | chunk |   | behind|        |   | 3/4 data | 1/4 index|      | area   |
 *  +-------+---+-------+--------+---+----------+----------+------+--------+
 *    P/16        P/64     P/64        2 B + ring + area = the rest
 * ```
 * A line longer than the read chunk is assembled in a buffer reserved from the budget: the
 * sort then spills what it holds and frees both sort buffers for it (external_sort.ts), so a
 * record can take most of the budget without any headroom set aside. Fixed-size records read
 * through the same reader keep a fifth of what is left as headroom (their reading loop needs
 * the buffers while a chunk without any newline byte is assembled).
 * The Worker sorts a full buffer and gathers it into sealed spill blocks in the ring (P/32
 * segments, at most 4 MiB), which the main thread writes out and hands back, so the two
 * buffers take nearly all of the budget (kernel_sort.ts; the kernel area holds the sort
 * kernels' scratch, about 514 KiB). With `mainSorts` the main thread sorts in a kernel area of
 * its own and the Worker writes the run file itself: the ring shrinks to 2 blocks.
 * The buffers take all that is left even where two of them overflow the last-level cache: buffers
 * of 6-12 MiB sort and gather faster per MiB, but their extra runs cost the final merge more than
 * that saves (measured at `-S 64m`: docs/performance.md, "Sort buffers against the cache").
 *
 * @module
 */

import { formatBytes, KiB, MiB, ResourceError } from "../base/mod.ts";
import { ENTRY_BYTES } from "./index_sort.ts";
import { kernelAreaBytes } from "./kernel_sort.ts";
import { indexHeadBytes } from "./sort_buffer.ts";
import {
  affordableFanIn,
  MERGE_SPARE_SEGMENTS,
  mergeOutputSegments,
  mergePassCount,
} from "./merge_plan.ts";

/** Fewest segments of one sort buffer. */
export const SORT_BUFFER_SEGMENTS_MIN = 2;
/** The input chunk takes 1/16 of the segments ... */
const INPUT_CHUNK_DIVISOR = 16;
/** ... up to 8 MiB (large reads: fewer awaits and calls per byte). */
export const INPUT_CHUNK_BYTES_MAX = 8 * MiB;
/** The Worker's spill ring takes 1/32 of the segments ... */
const RING_DIVISOR = 32;
/** ... up to 4 MiB, and at least this many blocks (one written while the next fills). */
const RING_SEGMENTS_MIN = 2;
/** ... up to 4 MiB. */
export const RING_BYTES_MAX = 4 * MiB;
/** The kernel area may take at most 1/8 of the segments (else the Worker sorts in JavaScript). */
const KERNEL_AREA_DIVISOR = 8;
/** A run's write-behind takes 1/64 of the segments ... */
const WRITE_BEHIND_DIVISOR = 64;
/** ... up to 128 KiB (the io layer allocates it per run: garbage). */
export const WRITE_BEHIND_BYTES_MAX = 128 * KiB;
/** The output buffer takes 1/64 of the segments ... */
const OUTPUT_DIVISOR = 64;
/** ... up to 4 MiB. */
export const OUTPUT_BYTES_MAX = 4 * MiB;
/** Segments besides the chunk, write-behind and output: the run writer's block and slack. */
const FIXED_EXTRA_SEGMENTS = 2;
/**
 * With `headroom`, a fifth of what is left stays free for the input's large-record buffer
 * (a chunk without a terminator is assembled in memory reserved from the budget, growing by
 * doubling).
 */
const HEADROOM_DIVISOR = 5;
/** Share of a sort buffer that holds record bytes; the rest holds index entries. */
export const BUFFER_DATA_SHARE = 0.75;

/** The smallest number of segments a sort can run in: chunk 1, run writer 2, output 1, one buffer, slack 1. */
export const SORT_SEGMENTS_MIN: number = 1 + 2 + 1 + SORT_BUFFER_SEGMENTS_MIN + 1;

/** How one sort uses its segments. */
export interface SortPlan {
  /** Bytes per segment. */
  segmentBytes: number;
  /** Segments the plan splits. */
  totalSegments: number;
  /** Segments of the input read chunk. */
  inputChunkSegments: number;
  /** Write-behind segments of a run writer. */
  writeBehindSegments: number;
  /** Segments of the output buffer (when everything fits in memory). */
  outputSegments: number;
  /** Segments left free for long records. */
  headroomSegments: number;
  /** Sort buffers: 2 (one sorts on the Worker while the other fills) or 1. */
  bufferCount: number;
  /** Segments of one sort buffer (record bytes plus index). */
  bufferSegments: number;
  /** Segments of record bytes in one buffer. */
  bufferDataSegments: number;
  /** Index entries of one buffer (records it can hold). */
  bufferIndexEntries: number;
  /** Blocks of the ring the Worker gathers sealed spill blocks into (0: no ring). */
  ringSegments: number;
  /** Segments of the Worker's kernel area (sort scratch, gather state, page table). */
  kernelAreaSegments: number;
  /** Segments of the main thread's own kernel area (0: the Worker sorts). */
  mainKernelAreaSegments: number;
  /** Runs merged at once with every segment free (the configured limit applied). */
  mergeFanIn: number;
  /** Runs merged at once while the last buffer stays in memory as a merge input. */
  mergeFanInBesideBuffer: number;
}

/** What {@linkcode planSort} needs to know. */
export interface SortPlanOptions {
  /** Segments free for the sort. */
  freeSegments: number;
  /** Bytes per segment. */
  segmentBytes: number;
  /** Whether a Worker sorts full buffers (then two buffers and gather segments). */
  useWorker: boolean;
  /** The configured merge fan-in limit. */
  fanInMax: number;
  /**
   * Keep a fifth of the rest free for the reader's large-record buffer (fixed-size records);
   * default false: lines longer than the chunk borrow the sort buffers' memory instead.
   */
  headroom?: boolean;
  /**
   * The main thread sorts each full buffer with the kernels in a kernel area of its own, and
   * the Worker only gathers it into blocks that it writes to the run file itself (then the
   * ring needs only {@linkcode RING_SEGMENTS_MIN} blocks). Default false: the Worker sorts and
   * gathers, and this thread writes the blocks of the ring.
   */
  mainSorts?: boolean;
}

/**
 * Plans a sort.
 *
 * @param options Free segments, segment size, Worker, fan-in limit.
 * @returns The plan.
 * @throws {ResourceError} If fewer than {@linkcode SORT_SEGMENTS_MIN} segments are free.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { planSort } from "./sort_plan.ts";
 * const plan = planSort({ freeSegments: 16, segmentBytes: 4096, useWorker: true, fanInMax: 4 });
 * strictEqual(plan.bufferCount, 2);
 * strictEqual(plan.bufferSegments, 5);
 * strictEqual(plan.mergeFanIn, 4);
 * ```
 */
export function planSort(options: SortPlanOptions): SortPlan {
  const { freeSegments: pages, segmentBytes, useWorker, fanInMax } = options;
  if (pages < SORT_SEGMENTS_MIN) {
    throw new ResourceError(
      `Cannot sort in ${formatBytes(pages * segmentBytes)} (${pages} segments of ${
        formatBytes(segmentBytes)
      }): the sort needs at least ${SORT_SEGMENTS_MIN} segments (${
        formatBytes(SORT_SEGMENTS_MIN * segmentBytes)
      }); raise --memory (-S) or lower --segment-size`,
    );
  }
  const share = (divisor: number, bytesMax: number, low = 1): number =>
    clamp(Math.floor(pages / divisor), low, Math.max(low, bytesMax / segmentBytes));
  const inputChunkSegments = share(INPUT_CHUNK_DIVISOR, INPUT_CHUNK_BYTES_MAX);
  const writeBehindSegments = share(WRITE_BEHIND_DIVISOR, WRITE_BEHIND_BYTES_MAX);
  const outputSegments = share(OUTPUT_DIVISOR, OUTPUT_BYTES_MAX);
  const fixed = inputChunkSegments + writeBehindSegments + outputSegments + FIXED_EXTRA_SEGMENTS;
  const headroomSegments = options.headroom === true
    ? Math.floor((pages - fixed) / HEADROOM_DIVISOR)
    : 0;
  const left = Math.max(SORT_BUFFER_SEGMENTS_MIN, pages - fixed - headroomSegments);
  const bufferCount = useWorker && left >= 2 * SORT_BUFFER_SEGMENTS_MIN ? 2 : 1;
  let bufferSegments = Math.floor(left / bufferCount);
  let ringSegments = 0;
  let kernelAreaSegments = 0;
  let mainKernelAreaSegments = 0;
  if (bufferCount === 2) {
    const areaFor = (buffer: number): number =>
      Math.ceil(kernelAreaBytes(splitSortBuffer(buffer, segmentBytes).dataSegments) / segmentBytes);
    // The area grows with the buffer (its page table): size the buffer for the area of a
    // buffer of all that is left, which is at least as large.
    const area = areaFor(Math.floor(left / 2));
    // Two areas (this thread sorts too) where they fit, else one (the Worker sorts), else none.
    for (const areaCount of options.mainSorts === true ? [2, 1] : [1]) {
      const ring = areaCount === 2
        ? RING_SEGMENTS_MIN
        : share(RING_DIVISOR, RING_BYTES_MAX, RING_SEGMENTS_MIN);
      const areas = areaCount * area;
      const withRing = Math.floor((left - ring - areas) / 2);
      if (
        withRing >= SORT_BUFFER_SEGMENTS_MIN && areas <= Math.floor(pages / KERNEL_AREA_DIVISOR)
      ) {
        bufferSegments = withRing;
        ringSegments = ring;
        kernelAreaSegments = area;
        mainKernelAreaSegments = areas - area;
        break;
      }
    }
  }
  const split = splitSortBuffer(bufferSegments, segmentBytes);
  const fanInFor = (free: number): number =>
    Math.max(
      2,
      affordableFanIn(
        free,
        mergeOutputSegments(free, segmentBytes) + MERGE_SPARE_SEGMENTS,
        fanInMax,
      ),
    );
  return {
    segmentBytes,
    totalSegments: pages,
    inputChunkSegments,
    writeBehindSegments,
    outputSegments,
    headroomSegments,
    bufferCount,
    bufferSegments,
    bufferDataSegments: split.dataSegments,
    bufferIndexEntries: split.indexEntries,
    ringSegments,
    kernelAreaSegments,
    mainKernelAreaSegments,
    mergeFanIn: fanInFor(pages),
    mergeFanInBesideBuffer: fanInFor(pages - bufferSegments),
  };
}

/**
 * Splits a sort buffer's segments between record bytes (3/4) and index entries.
 *
 * @param bufferSegments Segments of the buffer.
 * @param segmentBytes Bytes per segment.
 * @returns Data segments and index entries (at least 1 each).
 */
export function splitSortBuffer(
  bufferSegments: number,
  segmentBytes: number,
): { dataSegments: number; indexEntries: number } {
  const dataSegments = Math.max(1, Math.floor(bufferSegments * BUFFER_DATA_SHARE));
  const indexEntries = Math.max(
    1,
    Math.floor(
      ((bufferSegments - dataSegments) * segmentBytes - indexHeadBytes(dataSegments)) /
        ENTRY_BYTES,
    ),
  );
  return { dataSegments, indexEntries };
}

/**
 * Runs and merge passes of a sort whose input fills `bufferFills` sort buffers: none when one
 * buffer holds everything; otherwise the last buffer stays in memory as the final merge's last
 * input when all runs fit one merge beside it, else every buffer is spilled and merged in
 * passes.
 *
 * @param plan The sort's plan.
 * @param bufferFills Sort buffers the input fills.
 * @param fanInMax The configured fan-in limit.
 * @returns Spilled runs and merge passes.
 *
 * @example Usage
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { estimateSortRuns, planSort } from "./sort_plan.ts";
 * const plan = planSort({ freeSegments: 64, segmentBytes: 4096, useWorker: true, fanInMax: 128 });
 * deepStrictEqual(estimateSortRuns(plan, 2, 128), { runCount: 1, mergePassCount: 1 });
 * ```
 */
export function estimateSortRuns(
  plan: SortPlan,
  bufferFills: number,
  fanInMax: number,
): { runCount: number; mergePassCount: number } {
  if (bufferFills <= 1) return { runCount: 0, mergePassCount: 0 };
  if (bufferFills <= fanInMax && bufferFills <= plan.mergeFanInBesideBuffer) {
    return { runCount: bufferFills - 1, mergePassCount: 1 };
  }
  const fanIn = bufferFills <= fanInMax ? plan.mergeFanInBesideBuffer : plan.mergeFanIn;
  return { runCount: bufferFills, mergePassCount: mergePassCount(bufferFills, fanIn) };
}

function clamp(value: number, low: number, high: number): number {
  return value < low ? low : value > high ? high : value;
}

/** The smallest default segment size of a sort. */
const SEGMENT_BYTES_LOW = 4 * KiB;
/** The largest default segment size of a sort. */
const SEGMENT_BYTES_HIGH = 128 * KiB;
/** A sort's default budget holds at least this many segments. */
const SEGMENTS_PER_BUDGET = 512;

/**
 * The segment size of a sort without `--segment-size`: budget / 512, as a power of two from
 * 4 KiB to 128 KiB. 64 MiB gives 128 KiB segments: larger I/O blocks and less per-block work
 * than 32 KiB (measured 10-20% faster on 1 GiB), while 512 segments still allow a merge fan-in
 * above 128 (a reader needs 3; 256 KiB segments forced a second merge pass on 1 GiB).
 *
 * @param budgetBytes The budget.
 * @returns The segment size in bytes.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { defaultSortSegmentBytes } from "./sort_plan.ts";
 * strictEqual(defaultSortSegmentBytes(64 * 1024 * 1024), 128 * 1024);
 * strictEqual(defaultSortSegmentBytes(256 * 1024), 4 * 1024);
 * ```
 */
export function defaultSortSegmentBytes(budgetBytes: number): number {
  let bytes = SEGMENT_BYTES_LOW;
  while (bytes * 2 <= SEGMENT_BYTES_HIGH && bytes * 2 * SEGMENTS_PER_BUDGET <= budgetBytes) {
    bytes *= 2;
  }
  return bytes;
}

/**
 * The merge plan: how many sorted inputs one merge takes at once (fan-in), how a merge's
 * segments split between its readers and its output, and how many passes a merge of N runs
 * needs. The one place that decides it: the external sort, `sort -m`, `spillway merge`,
 * count's run merges and the job dry run all ask here.
 *
 * ```
 *  free segments of the merge
 *  +--------+-------+--------------------------------------------------+
 *  | output | spare | reader 1 | reader 2 | ...          | reader fanIn |
 *  +--------+-------+--------------------------------------------------+
 *   1 + P/64   2      each: block + read-ahead + scratch (at least 3)
 * ```
 *
 * @module
 */

import { MiB, ResourceError } from "../base/mod.ts";
import { runReaderScratchBytes } from "../io/mod.ts";

/**
 * The free segments cannot hold a 2-way merge: a budget error (exit 3) that a caller with a
 * fallback (count's sort route) can tell from a full disk.
 */
export class MergeBudgetError extends ResourceError {}

/** Default merge fan-in of the whole tool (Flink's `taskmanager.runtime.max-fan`). */
export const FAN_IN_DEFAULT = 128;
/** Largest `--fan-in` accepted. */
export const MERGE_INPUTS_MAX = 4096;
/** Segments one merge reader needs at least: its block, one read ahead, scratch for a record across blocks. */
export const MERGE_READER_SEGMENTS_MIN = 3;
/** Segments a merge keeps free besides readers and output: the `-u` copy and rounding of byte reservations. */
export const MERGE_SPARE_SEGMENTS = 2;
/** The output buffer of a merge takes this share of the free segments (1/64) ... */
const OUTPUT_SEGMENTS_DIVISOR = 64;
/** ... and at most this many bytes. */
export const MERGE_OUTPUT_BYTES_MAX = 4 * MiB;
/**
 * Read-ahead takes at most a third of the readers' room (the rest stays free for readers'
 * scratch when records are long) ...
 */
const READ_AHEAD_ROOM_DIVISOR = 3;
/**
 * ... and at most 1 MiB per reader: when the free pages are fragmented, the io layer's
 * read-ahead buffers are heap allocations, not the pages the sort phase already touched, so a
 * smaller total keeps the peak RSS of a many-run merge near that of the sort phase.
 */
export const READ_AHEAD_BYTES_MAX = 1 * MiB;

/** How one merge uses its segments. */
export interface MergePlan {
  /** Inputs merged at once (at least 2). */
  fanIn: number;
  /** Read-ahead segments of each run reader. */
  readAheadSegments: number;
  /** Segments of the output: 1 for the writer plus its buffer. */
  outputSegments: number;
  /** Passes over the data to merge `inputCount` inputs (1: one final merge). */
  passCount: number;
}

/** What {@linkcode planMerge} needs to know. */
export interface MergePlanOptions {
  /** Segments free for the merge. */
  freeSegments: number;
  /** Bytes per segment. */
  segmentBytes: number;
  /** The configured fan-in limit (`--fan-in`, default {@linkcode FAN_IN_DEFAULT}). */
  fanInMax: number;
  /** Inputs to merge (sorted runs or sorted files). */
  inputCount: number;
  /**
   * The longest record an input holds across a block border (a run's
   * `spanningRecordBytesMax`; default: none longer than a block). Each reader may hold such
   * a record in scratch at the same time, so longer records mean fewer inputs at once.
   */
  spanningRecordBytesMax?: number;
}

/**
 * Segments one merge reader takes at least: its block, one read ahead, and the scratch for a
 * record across blocks, at most one segment doubled until the record fits (RunReader doubles
 * it up to 1 MiB, then grows it to the segments needed).
 *
 * @param segmentBytes Bytes per segment.
 * @param spanningRecordBytesMax The longest record held across a block border (0: none
 *   longer than a block).
 * @returns {@linkcode MERGE_READER_SEGMENTS_MIN} for records up to a block, more above.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { mergeReaderSegments } from "./merge_plan.ts";
 * strictEqual(mergeReaderSegments(4096, 100), 3);
 * strictEqual(mergeReaderSegments(4096, 6000), 4);
 * strictEqual(mergeReaderSegments(4096, 10_000), 6);
 * ```
 */
export function mergeReaderSegments(segmentBytes: number, spanningRecordBytesMax = 0): number {
  return MERGE_READER_SEGMENTS_MIN - 1 + scratchSegments(segmentBytes, spanningRecordBytesMax);
}

/** Segments of a run reader's scratch that holds `recordBytes` (at least one). */
function scratchSegments(segmentBytes: number, recordBytes: number): number {
  return runReaderScratchBytes(segmentBytes, recordBytes) / segmentBytes;
}

/**
 * Segments of a merge's output (writer block plus buffer): 1 + P/64, at most 4 MiB of buffer.
 *
 * @param freeSegments Segments free for the merge.
 * @param segmentBytes Bytes per segment.
 * @returns At least 2.
 */
export function mergeOutputSegments(freeSegments: number, segmentBytes: number): number {
  return 1 + clamp(
    Math.floor(freeSegments / OUTPUT_SEGMENTS_DIVISOR),
    1,
    Math.max(1, MERGE_OUTPUT_BYTES_MAX / segmentBytes),
  );
}

/**
 * The fan-in that fits: what is left after `fixedSegments`, at `readerSegments` per reader
 * (three unless records are longer than a block), capped by `fanInMax`. May be below 2
 * (then nothing can be merged).
 *
 * @param freeSegments Segments free for the merge.
 * @param fixedSegments Segments taken by the output and scratch.
 * @param fanInMax The configured limit.
 * @param readerSegments Segments per reader ({@linkcode mergeReaderSegments}).
 * @returns The fan-in.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { affordableFanIn } from "./merge_plan.ts";
 * strictEqual(affordableFanIn(16, 4, 128), 4);
 * strictEqual(affordableFanIn(1000, 4, 128), 128);
 * ```
 */
export function affordableFanIn(
  freeSegments: number,
  fixedSegments: number,
  fanInMax: number,
  readerSegments: number = MERGE_READER_SEGMENTS_MIN,
): number {
  return Math.min(fanInMax, Math.floor((freeSegments - fixedSegments) / readerSegments));
}

/**
 * How many of the oldest inputs one merge takes when their readers differ in size (runs holding
 * records longer than a block need that record's scratch): as many as fit `roomSegments` in
 * order, at most `fanInMax`. Count's run merges group by it, so fewer runs with long words are
 * merged at once.
 *
 * @param readerSegments Segments of each input's reader, oldest first
 *   ({@linkcode mergeReaderSegments}).
 * @param roomSegments Segments free for the readers.
 * @param fanInMax The configured limit.
 * @returns The group size (below 2: two inputs do not fit).
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { fittingMergeGroup } from "./merge_plan.ts";
 * strictEqual(fittingMergeGroup([3, 3, 100, 3], 108, 128), 3);
 * strictEqual(fittingMergeGroup([3, 3, 100, 3], 50, 128), 2);
 * strictEqual(fittingMergeGroup([3, 3, 3], 50, 2), 2);
 * ```
 */
export function fittingMergeGroup(
  readerSegments: readonly number[],
  roomSegments: number,
  fanInMax: number,
): number {
  let groupSize = 0;
  let used = 0;
  while (groupSize < readerSegments.length && groupSize < fanInMax) {
    const segments = readerSegments[groupSize]!;
    if (used + segments > roomSegments) break;
    used += segments;
    groupSize += 1;
  }
  return groupSize;
}

/**
 * Plans one merge of sorted inputs in the free segments.
 *
 * @param options Free segments, segment size, fan-in limit and input count.
 * @returns Fan-in, read-ahead, output segments and passes.
 * @throws {ResourceError} If two inputs cannot be merged at once.
 *
 * @example Usage
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { planMerge } from "./merge_plan.ts";
 * deepStrictEqual(
 *   planMerge({ freeSegments: 16, segmentBytes: 4096, fanInMax: 128, inputCount: 9 }),
 *   { fanIn: 4, readAheadSegments: 1, outputSegments: 2, passCount: 2 },
 * );
 * ```
 */
export function planMerge(options: MergePlanOptions): MergePlan {
  const { freeSegments, segmentBytes, fanInMax, inputCount } = options;
  const longest = options.spanningRecordBytesMax ?? 0;
  const outputSegments = mergeOutputSegments(freeSegments, segmentBytes);
  const readerMin = mergeReaderSegments(segmentBytes, longest);
  // The spare holds `-u`'s copy of the last record: as long as the longest record.
  const spare = Math.max(MERGE_SPARE_SEGMENTS, scratchSegments(segmentBytes, longest));
  const room = freeSegments - outputSegments - spare;
  const fanIn = affordableFanIn(freeSegments, outputSegments + spare, fanInMax, readerMin);
  if (fanIn < 2) {
    const needed = outputSegments + spare + 2 * readerMin;
    throw new MergeBudgetError(
      `Cannot merge in ${freeSegments} segments: need at least ${needed}; raise --memory (-S) or lower --segment-size`,
    );
  }
  const readers = Math.max(1, Math.min(fanIn, inputCount));
  const perReader = Math.floor(room / READ_AHEAD_ROOM_DIVISOR / readers);
  const readAheadSegments = clamp(
    perReader - (readerMin - 1),
    1,
    Math.max(1, READ_AHEAD_BYTES_MAX / segmentBytes),
  );
  return {
    fanIn,
    readAheadSegments,
    outputSegments,
    passCount: Math.max(1, mergePassCount(inputCount, fanIn)),
  };
}

/**
 * Merge passes needed to merge `runCount` runs with at most `fanIn` at once.
 *
 * @param runCount Sorted runs (0 or 1: no merge pass).
 * @param fanIn At least 2.
 * @returns The least k with fanIn^k >= runCount.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { mergePassCount } from "./merge_plan.ts";
 * strictEqual(mergePassCount(1, 8), 0);
 * strictEqual(mergePassCount(8, 8), 1);
 * strictEqual(mergePassCount(9, 8), 2);
 * ```
 */
export function mergePassCount(runCount: number, fanIn: number): number {
  let passes = 0;
  let capacity = 1;
  while (capacity < runCount) {
    capacity *= fanIn;
    passes += 1;
  }
  return passes;
}

/** One intermediate merge round: which runs stay and how large each merged group is. */
export interface MergeRound {
  /** Runs at the front that this round leaves untouched. */
  untouchedCount: number;
  /** Runs per merged group (the last group may be smaller). */
  groupSize: number;
}

/**
 * One intermediate round (Flink's `UnilateralSortMerger` formula): merge just enough runs
 * that the untouched ones plus the merged ones form a power of the fan-in, so that the final
 * merge is full.
 *
 * @param runCount Runs before the round (more than `fanIn`).
 * @param fanIn The fan-in.
 * @returns The round.
 *
 * @example Usage
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { planMergeRound } from "./merge_plan.ts";
 * // 5 runs at fan-in 4: 3 stay, 2 are merged into one; the final merge takes 4.
 * deepStrictEqual(planMergeRound(5, 4), { untouchedCount: 3, groupSize: 2 });
 * ```
 */
export function planMergeRound(runCount: number, fanIn: number): MergeRound {
  // The largest power of the fan-in below the run count, in integers: log(125) / log(5) is
  // 3.0000000000000004 in floating point, which made a round that merged nothing.
  let endCount = 1;
  while (endCount * fanIn < runCount) endCount *= fanIn;
  const mergeCount = Math.ceil((runCount - endCount) / (fanIn - 1));
  const untouchedCount = endCount - mergeCount;
  const groupSize = Math.ceil((runCount - untouchedCount) / mergeCount);
  return { untouchedCount, groupSize };
}

/** Segments `sort -m` keeps aside before splitting the rest between its inputs. */
const INPUT_MERGE_RESERVED_SEGMENTS = 4;
/** Half of the rest goes to input chunks; the other half stays free for long lines. */
const INPUT_MERGE_CHUNK_SHARE_DIVISOR = 2;
/** Largest input chunk of `sort -m`, in segments. */
export const INPUT_MERGE_CHUNK_SEGMENTS_MAX = 64;

/** ... and at most this many bytes: the rest stays free for the long lines of several inputs. */
export const INPUT_MERGE_CHUNK_BYTES_MAX = 2 * 1024 * 1024;

/**
 * The read chunk of each input of a one-pass merge of sorted files (`sort -m`).
 *
 * @param freeSegments Segments free.
 * @param inputCount Inputs merged.
 * @param segmentBytes Bytes per segment (the chunk stays within 2 MiB); default: no byte cap.
 * @returns Segments per input chunk (1 to 64).
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { inputMergeChunkSegments } from "./merge_plan.ts";
 * strictEqual(inputMergeChunkSegments(512, 2), 64);
 * strictEqual(inputMergeChunkSegments(512, 2, 131072), 16);
 * strictEqual(inputMergeChunkSegments(16, 9), 1);
 * ```
 */
export function inputMergeChunkSegments(
  freeSegments: number,
  inputCount: number,
  segmentBytes?: number,
): number {
  const high = segmentBytes === undefined ? INPUT_MERGE_CHUNK_SEGMENTS_MAX : clamp(
    Math.floor(INPUT_MERGE_CHUNK_BYTES_MAX / segmentBytes),
    1,
    INPUT_MERGE_CHUNK_SEGMENTS_MAX,
  );
  return clamp(
    Math.floor(
      (freeSegments - INPUT_MERGE_RESERVED_SEGMENTS) / Math.max(1, inputCount) /
        INPUT_MERGE_CHUNK_SHARE_DIVISOR,
    ),
    1,
    high,
  );
}

function clamp(value: number, low: number, high: number): number {
  return value < low ? low : value > high ? high : value;
}

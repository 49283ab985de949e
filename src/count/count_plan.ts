/**
 * The count plan: how `spillway count` (and `merge --sum`) splits its segments between the
 * input chunk, the hash table and, with `--threads 2`, a counting Worker. The one place that
 * decides it: the counting pipeline allocates by it and the job dry run prints it. (Run merges
 * inside the counter follow the sort layer's merge plan.)
 *
 * ```
 *  P segments
 *  +-------+----------+-------------+----------------------+----------------------+
 *  | chunk | reserved | long record | hash table (main)    | Worker's table       |
 *  +-------+----------+-------------+----------------------+----------------------+
 *   1 MiB     4         P/4 + 1       (rest - 2 chunks) / 2  (rest - 2 chunks) / 2   (with a Worker)
 *   up to P/8                         or all the rest                                (without)
 * ```
 *
 * Each hash table (this thread's, the Worker's) starts at {@linkcode COUNT_TABLE_FIRST_BYTES}
 * at most ({@linkcode CountPlan.tableSegmentsFirst}) and takes more of its share only while it
 * aggregates or its runs near its share of the fan-in ({@linkcode CountPlan.tableRunsShare},
 * {@linkcode CountPlan.tableGrowRuns}): nearly unique tokens spill the same bytes from any
 * table size, and a smaller one misses the cache less and touches fewer pages.
 *
 * The long-record room holds the one buffer a line longer than the chunk is read into, up to a
 * quarter of the budget ({@linkcode CountPlan.recordBytesMax}); a word longer than a page is
 * written from there straight into a run of its own, and only the main thread reads lines, so
 * the Worker needs none. After counting, the Worker gives its share back, and the merges plan
 * their readers by the longest record each run holds (a long word's scratch per reader).
 *
 * @module
 */

import { MiB } from "../base/mod.ts";
import { recordBytesMaxOf } from "../io/mod.ts";

/** The fan-in the count's merge uses unless told (`--fan-in`; the sort layer's default). */
const COUNT_FAN_IN_DEFAULT = 128;
/** Bytes of one input chunk (at most 1/8 of the segments). */
export const COUNT_INPUT_CHUNK_BYTES = 1 * MiB;
/** The input chunk takes at most 1/8 of the segments. */
const INPUT_CHUNK_DIVISOR = 8;
/** Segments kept beside the chunk and the table: a spill writer's and the merge's scratch. */
export const COUNT_RESERVED_SEGMENTS = 4;
/** The long-record room never leaves the table fewer pages than this (tiny budgets). */
const TABLE_SEGMENTS_FLOOR = 8;
/**
 * Share of its runs share from which a table beside a Worker (and the Worker's) grows for its
 * run count (the `WordCounter` default).
 */
export const WORKER_TABLE_GROW_RUNS = 0.75;
/** Share of the counting segments a Worker gets with `--threads 2`. */
export const WORKER_SHARE = 0.5;
/** Fewest segments for either side of a split; smaller budgets count on one thread. */
export const WORKER_SEGMENTS_MIN = 48;
/** The Worker starts once this many input bytes were read (small inputs do not pay for it) ... */
export const WORKER_START_BYTES = 4 * MiB;
/** ... or at once for a file known to be at least this large. */
export const WORKER_LARGE_INPUT_BYTES = 8 * MiB;
/**
 * The default `--threads auto` starts the Worker later: past this many bytes read (a pipe) ...
 * Measured on 2 shared, busy cores (KJV text, whitespace tokens, 3 alternating runs, medians):
 * the Worker cost more than it saved at 10 MB (10.4 s against 7.6 s on one thread) and 20 MB
 * (17.3 s against 15.7 s), and saved 9% at 43 MB (13.9 s against 15.3 s). Its start (a second
 * isolate, module load, kernel compile) is paid once, so only large inputs earn it back.
 */
export const AUTO_WORKER_START_BYTES = 24 * MiB;
/** ... or at once for a file known to be at least this large. */
export const AUTO_WORKER_LARGE_INPUT_BYTES = 32 * MiB;
/**
 * ... and only when the machine has a core to spare: the cores this process may use less the
 * 1-minute load average must be at least this. Measured with the count kernel on 2 cores at a
 * load average of 7-10 (KJV x10 and x100, whitespace tokens, alternating runs): the Worker made
 * the count slower at every size (43 MB: 2.97/3.32/3.73 s against 2.06/3.14/2.45 s on one
 * thread; 430 MB: 19.2/19.2 s against 17.1/15.6 s). A busy machine gives the second thread no
 * core of its own, and the hand-off between the threads waits on the scheduler. Half a core is
 * enough: a load average of 1.1-1.3 on 2 cores is mostly the residue of runs that already ended
 * (a script running one count after another), and there the Worker paid (KJV x10: 0.70 s against
 * 0.83 s on one thread; x100: 3.6 s against 5.7 s; 5 and 3 alternating runs, medians).
 */
export const AUTO_IDLE_CORES_MIN = 0.5;
/**
 * `--threads auto` decides on the Worker only after this thread counted at least this many
 * tokens (or {@linkcode AUTO_CARDINALITY_BYTES_MAX} of input, whichever comes first) ...
 */
export const AUTO_CARDINALITY_TOKENS_MIN = 10_000;
/** ... or this many input bytes (long tokens: it decides with what it has). */
export const AUTO_CARDINALITY_BYTES_MAX = 8 * MiB;
/**
 * ... and stays on one thread when more than this share of those tokens were distinct: nearly
 * unique tokens fill and spill the table, a Worker's table spills as much beside it, and the
 * merge of both tables' runs runs on one thread anyway. Measured on 2 shared cores (load
 * average 2.8, 100 MiB of unique lines, `--order word`, 5 alternating runs): one thread 1.23-2.14
 * s wall, 1.08-1.14 s user CPU, 93-96 MiB peak RSS; with the Worker 1.63-2.49 s, 1.25-1.35 s and
 * 130-132 MiB (1 GiB: 147 MiB against 117). The first megabyte of the corpora tells them apart:
 * unique lines 0.98-1.0 distinct, Zipf words, real text and the KJV 0.05-0.2.
 */
export const AUTO_DISTINCT_SHARE_MAX = 0.5;
/**
 * Each table (this thread's, the Worker's) starts with at most this many bytes of pages and
 * grows past them (doubling, up to its share) only while it aggregates
 * ({@linkcode COUNT_TABLE_GROW_RATIO}) or its runs reach {@linkcode CountPlan.tableGrowRuns}
 * (15/16 of the fan-in alone, three quarters of half of it each beside a Worker). On nearly unique tokens a larger table spills the
 * same bytes (nothing aggregates) but misses the cache more and touches more pages: see
 * docs/performance.md, "Count: the table's size".
 */
export const COUNT_TABLE_FIRST_BYTES = 16 * MiB;
/**
 * A full table grows instead of spilling when it took at least this many tokens per distinct
 * word since its last spill (it halved what it would have written, or better).
 */
export const COUNT_TABLE_GROW_RATIO = 2;
/**
 * A table counting alone grows for its run count only from this share of the fan-in (beside a
 * Worker: three quarters of its half), so that the final merge needs no intermediate pass: the
 * 1 GiB of unique lines writes 118 runs from 16 MiB and no longer grows to 32 MiB at 96 runs
 * (peak RSS 104-105 MiB instead of 116-119, the same wall time: 9.4 / 11.3 s against 9.9 / 10.9
 * s, `--threads 1`, 2 alternating runs, load average 3).
 */
export const COUNT_TABLE_GROW_RUNS_ALONE = 15 / 16;

/**
 * The thread count of `--threads auto` (the default): 2 when the process may use at least two
 * cores (a Worker then counts on its own core, from {@linkcode AUTO_WORKER_LARGE_INPUT_BYTES}),
 * else 1.
 *
 * @param availableCores Cores this process may use (`os.availableParallelism()`).
 * @returns 1 or 2.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { autoCountThreads } from "./count_plan.ts";
 * strictEqual(autoCountThreads(1), 1);
 * strictEqual(autoCountThreads(8), 2);
 * ```
 */
export function autoCountThreads(availableCores: number): number {
  return availableCores >= 2 ? 2 : 1;
}

/**
 * Whether `--threads auto` may start the Worker on this machine now: at least
 * {@linkcode AUTO_IDLE_CORES_MIN} (half a core) of the cores the process may use are idle by
 * the 1-minute load average (unknown load: yes).
 *
 * @param availableCores Cores this process may use (`os.availableParallelism()`).
 * @param loadAverage The 1-minute load average, if known.
 * @returns True when a second thread would get a core of its own.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { autoWorkerAllowed } from "./count_plan.ts";
 * strictEqual(autoWorkerAllowed(2, 0.3), true);
 * strictEqual(autoWorkerAllowed(2, 1.3), true);
 * strictEqual(autoWorkerAllowed(2, 1.6), false);
 * strictEqual(autoWorkerAllowed(8, 3), true);
 * strictEqual(autoWorkerAllowed(2, undefined), true);
 * ```
 */
export function autoWorkerAllowed(
  availableCores: number,
  loadAverage: number | undefined,
): boolean {
  if (availableCores < 2) return false;
  if (loadAverage === undefined || !Number.isFinite(loadAverage)) return true;
  return availableCores - loadAverage >= AUTO_IDLE_CORES_MIN;
}

/** What `--threads auto` makes of the words this thread counted so far. */
export type AutoCardinality = "undecided" | "worker" | "one thread";

/**
 * Whether `--threads auto` may start the Worker, judged by the words this thread counted
 * first: "one thread" for nearly unique tokens (more than {@linkcode AUTO_DISTINCT_SHARE_MAX}
 * of them distinct, or a table that spilled already), "worker" otherwise, "undecided" until
 * {@linkcode AUTO_CARDINALITY_TOKENS_MIN} tokens or {@linkcode AUTO_CARDINALITY_BYTES_MAX}
 * input bytes were counted.
 *
 * @param sample Tokens and distinct words of this thread's table, runs it spilled, input bytes
 *   it counted.
 * @returns The verdict.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { autoCardinality } from "./count_plan.ts";
 * strictEqual(autoCardinality({ tokenCount: 0, distinctCount: 0, runCount: 0, inputBytes: 0 }), "undecided");
 * strictEqual(autoCardinality({ tokenCount: 27_798, distinctCount: 27_381, runCount: 0, inputBytes: 1 << 20 }), "one thread");
 * strictEqual(autoCardinality({ tokenCount: 201_772, distinctCount: 10_964, runCount: 0, inputBytes: 1 << 20 }), "worker");
 * strictEqual(autoCardinality({ tokenCount: 10, distinctCount: 10, runCount: 1, inputBytes: 1 << 20 }), "one thread");
 * ```
 */
export function autoCardinality(
  sample: { tokenCount: number; distinctCount: number; runCount: number; inputBytes: number },
): AutoCardinality {
  if (sample.runCount > 0) return "one thread";
  if (
    sample.tokenCount < AUTO_CARDINALITY_TOKENS_MIN &&
    sample.inputBytes < AUTO_CARDINALITY_BYTES_MAX
  ) {
    return "undecided";
  }
  if (sample.tokenCount === 0) return "worker"; // nothing to judge by: the old rule
  return sample.distinctCount > AUTO_DISTINCT_SHARE_MAX * sample.tokenCount
    ? "one thread"
    : "worker";
}

/** How one count uses its segments. */
export interface CountPlan {
  /** Bytes per segment. */
  segmentBytes: number;
  /** Segments of one input chunk (also the chunk size sent to the Worker). */
  inputChunkSegments: number;
  /** Segments of this thread's hash table (bucket arena plus record pages): its share. */
  tableSegments: number;
  /**
   * Segments the table starts with (at most {@linkcode COUNT_TABLE_FIRST_BYTES}); it grows to
   * `tableSegments` only while it aggregates ({@linkcode countTableFirstSegments}).
   */
  tableSegmentsFirst: number;
  /**
   * Runs one table may write of the fan-in (all of it, or half beside a Worker's table): from
   * `tableGrowRuns` of it, a full table grows instead of spilling (see `WordCounter`), so the
   * final merge needs no intermediate pass.
   */
  tableRunsShare: number;
  /**
   * The run count from which a full table grows instead of spilling (see `WordCounter`):
   * {@linkcode COUNT_TABLE_GROW_RUNS_ALONE} of `tableRunsShare` alone, three quarters of it
   * beside a Worker (which applies the same three quarters to its own table).
   */
  tableGrowRuns: number;
  /** Segments of the Worker's own budget (0: no Worker). */
  workerSegments: number;
  /**
   * The longest line (and so word) counted: a quarter of the budget, in bytes (less on a
   * budget of a few dozen pages, where the table keeps 8).
   */
  recordBytesMax: number;
  /** Segments kept free for the buffer of a line longer than the chunk (up to the longest). */
  longRecordSegments: number;
}

/** What {@linkcode planCount} needs to know. */
export interface CountPlanOptions {
  /** Segments of the whole budget. */
  totalSegments: number;
  /** Segments free now. */
  freeSegments: number;
  /** Bytes per segment. */
  segmentBytes: number;
  /** 1, or 2 to count on a Worker too. */
  threads: number;
  /** Most runs merged at once (default 128). */
  fanIn?: number;
}

/**
 * Plans a count.
 *
 * @param options Segments, segment size and threads.
 * @returns The plan.
 *
 * @example Usage
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { planCount } from "./count_plan.ts";
 * deepStrictEqual(
 *   planCount({ totalSegments: 256, freeSegments: 256, segmentBytes: 4096, threads: 1 }),
 *   {
 *     segmentBytes: 4096,
 *     inputChunkSegments: 32,
 *     tableSegments: 154,
 *     tableSegmentsFirst: 154,
 *     tableRunsShare: 128,
 *     tableGrowRuns: 120,
 *     workerSegments: 0,
 *     recordBytesMax: 262_144,
 *     longRecordSegments: 66,
 *   },
 * );
 * ```
 */
export function planCount(options: CountPlanOptions): CountPlan {
  const { totalSegments, freeSegments, segmentBytes, threads } = options;
  const fanIn = Math.max(2, options.fanIn ?? COUNT_FAN_IN_DEFAULT);
  const inputChunkSegments = Math.max(
    1,
    Math.min(
      Math.ceil(COUNT_INPUT_CHUNK_BYTES / segmentBytes),
      Math.floor(totalSegments / INPUT_CHUNK_DIVISOR),
    ),
  );
  let recordBytesMax = countRecordBytesMax(totalSegments * segmentBytes);
  // The line's buffer (and its terminator), plus one page for rounding byte reservations.
  let longRecordSegments = Math.ceil((recordBytesMax + 1) / segmentBytes) + 1;
  const rest = freeSegments - inputChunkSegments - COUNT_RESERVED_SEGMENTS;
  if (rest - longRecordSegments < TABLE_SEGMENTS_FLOOR) {
    // A tiny budget (a few dozen pages) keeps its table: lines get what is left.
    longRecordSegments = Math.max(0, rest - TABLE_SEGMENTS_FLOOR);
    recordBytesMax = Math.max(0, (longRecordSegments - 1) * segmentBytes - 1);
  }
  const spare = rest - longRecordSegments;
  let workerSegments = 0;
  if (threads > 1) {
    // The Worker and this thread each keep a chunk in flight: two more chunks.
    const shared = spare - 2 * inputChunkSegments;
    const candidate = Math.floor(shared * WORKER_SHARE);
    if (candidate >= WORKER_SEGMENTS_MIN && shared - candidate >= WORKER_SEGMENTS_MIN) {
      workerSegments = candidate;
    }
  }
  const tableSegments = workerSegments > 0
    ? spare - 2 * inputChunkSegments - workerSegments
    : spare;
  const runsShare = workerSegments > 0 ? Math.max(1, Math.floor(fanIn / 2)) : fanIn;
  return {
    segmentBytes,
    inputChunkSegments,
    tableSegments,
    tableSegmentsFirst: countTableFirstSegments(tableSegments, segmentBytes),
    tableRunsShare: runsShare,
    tableGrowRuns: Math.floor(
      runsShare * (workerSegments > 0 ? WORKER_TABLE_GROW_RUNS : COUNT_TABLE_GROW_RUNS_ALONE),
    ),
    workerSegments,
    recordBytesMax,
    longRecordSegments,
  };
}

/**
 * The segments a count table of `tableSegments` starts with: at most
 * {@linkcode COUNT_TABLE_FIRST_BYTES} (the Worker's counter asks it of its own share).
 *
 * @param tableSegments The table's share (its most segments).
 * @param segmentBytes Bytes per segment.
 * @returns Segments to start with (all of them for a share of at most 16 MiB).
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { countTableFirstSegments } from "./count_plan.ts";
 * strictEqual(countTableFirstSegments(1437, 32 * 1024), 512);
 * strictEqual(countTableFirstSegments(100, 32 * 1024), 100);
 * ```
 */
export function countTableFirstSegments(tableSegments: number, segmentBytes: number): number {
  const first = Math.max(1, Math.floor(COUNT_TABLE_FIRST_BYTES / segmentBytes));
  return Math.max(0, Math.min(tableSegments, first));
}

/**
 * The longest record `count` and `merge --sum` take with a budget: a quarter of it.
 *
 * @param budgetBytes The whole budget.
 * @returns Bytes of the longest line (without its newline).
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { countRecordBytesMax } from "./count_plan.ts";
 * strictEqual(countRecordBytesMax(64 * 1024 * 1024), 16 * 1024 * 1024);
 * ```
 */
export function countRecordBytesMax(budgetBytes: number): number {
  return recordBytesMaxOf(budgetBytes);
}

/**
 * Whether the Worker should start now.
 *
 * @param fileBytes The current input's size, when known.
 * @param bytesRead Input bytes read so far (all inputs).
 * @param auto Whether the thread count was chosen by `--threads auto` (later thresholds).
 * @returns True past {@linkcode WORKER_START_BYTES}, or for a file of
 *   {@linkcode WORKER_LARGE_INPUT_BYTES} (with `auto`: {@linkcode AUTO_WORKER_START_BYTES},
 *   {@linkcode AUTO_WORKER_LARGE_INPUT_BYTES}).
 */
export function workerShouldStart(
  fileBytes: number | undefined,
  bytesRead: number,
  auto = false,
): boolean {
  const large = auto ? AUTO_WORKER_LARGE_INPUT_BYTES : WORKER_LARGE_INPUT_BYTES;
  const start = auto ? AUTO_WORKER_START_BYTES : WORKER_START_BYTES;
  return (fileBytes !== undefined && fileBytes >= large) || bytesRead > start;
}

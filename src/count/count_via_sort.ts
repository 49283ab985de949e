import { MiB } from "../base/mod.ts";
import { plainInputBytes, RecordTooLargeError } from "../io/mod.ts";
import { FormatCountsFormat, type WasmKernels } from "../kernels/mod.ts";
import { MemoryBudgetError } from "../memory/mod.ts";
import type { ProgressSink } from "../base/mod.ts";
import type { IoManager, OutputSink } from "../io/mod.ts";
import type { MemoryManager, SegmentLease } from "../memory/mod.ts";
import type { ExternalSortOptions, LineFilter } from "../sort/mod.ts";
import { kernelsFor } from "./count_table.ts";
import { CountedOutput, type CountedOutputSplit } from "./counted_output.ts";
import type { CountRequest } from "./count_request.ts";
import type { WordCountStats } from "./word_counter.ts";

/** What of a count request decides the sort route. */
export type SortRouteRequest = Pick<
  CountRequest,
  | "inputs"
  | "output"
  | "tokenizer"
  | "caseMode"
  | "order"
  | "top"
  | "minCount"
  | "distinct"
  | "total"
  | "format"
  | "threadsAuto"
  | "fanInMax"
>;

/**
 * The sort route ran out of its share of the budget (a record too long for it) before its
 * output opened: the count can start again on the table's path, which has the whole budget.
 * Never reported: the count pipeline catches it.
 */
export class SortRouteTooSmall extends Error {
  constructor(cause: unknown) {
    super("the sort route's share of the budget cannot hold a record", { cause });
    this.name = "SortRouteTooSmall";
  }
}

/** The count formats the sort route writes (the `countLines` kernel's `FormatCountsFormat`). */
const SORT_ROUTE_FORMATS: Readonly<Record<string, number>> = {
  tsv: FormatCountsFormat.tsv,
  uniq: FormatCountsFormat.uniq,
  csv: FormatCountsFormat.csv,
};

/**
 * The share of the budget the sort route sorts in: half, so that its sort Worker's isolate
 * (~20 MiB) and the engine's own heap stay within the peak RSS bar of the budget + 64 MiB
 * (docs/performance.md, "Count: nearly unique tokens through the sort engine").
 */
export const SORT_ROUTE_BUDGET_SHARE = 0.5;

/** The sort route needs at least this much budget in its share (below: the table's path). */
export const SORT_ROUTE_BUDGET_MIN = 16 * MiB;

/**
 * Whether `--threads auto` may count the rest through the sort engine once the first words
 * show nearly unique tokens: whitespace tokens as they are, in word or count order (count
 * order: src/count/count_order_via_sort.ts), in tsv, uniq or csv, with `--min-count` but
 * without `--top`, `--distinct` or `--total`, plain files only (the sort route reads them again
 * from the start) and a budget whose share holds the route. The count format, or undefined.
 *
 * @param request The parsed count.
 * @param budgetBytes The whole budget.
 * @returns The `FormatCountsFormat` of the lines, or undefined for the table's path.
 */
export function sortRouteFormat(
  request: SortRouteRequest,
  budgetBytes: number,
): number | undefined {
  const format = SORT_ROUTE_FORMATS[request.format];
  if (
    format === undefined || request.threadsAuto !== true || request.tokenizer !== "whitespace" ||
    request.caseMode !== "preserve" || request.top !== undefined ||
    request.distinct || request.total || request.inputs.length === 0 ||
    budgetBytes * SORT_ROUTE_BUDGET_SHARE < SORT_ROUTE_BUDGET_MIN ||
    plainInputBytes(request.inputs) === undefined
  ) {
    return undefined;
  }
  return format;
}

/**
 * The final merge's stall warning for the route's sort (the CLI's `onMergeStall`), and the
 * test seam's knobs that make it stall (src/cli/merge_stall.ts).
 */
export type MergeStallOptions = Pick<
  ExternalSortOptions,
  | "onMergeStall"
  | "mergeStallWarnMs"
  | "mergeWorkerSilenceMsMax"
  | "mergeWorkerFault"
  | "parallelMergeBytesMin"
>;

/** What the route's sort runs in: the budget, io, progress and the stall warning. */
export interface SortRouteContext {
  memory: MemoryManager;
  io: IoManager;
  progress?: ProgressSink;
  mergeStall?: MergeStallOptions;
}

/**
 * Counts the inputs through the sort engine (`externalSort` with a {@linkcode TokenCounting}
 * filter): both cores in
 * run generation (main thread reads and appends tokens, the sort Worker sorts and spills) and
 * a final kernel merge whose output counts equal neighbours. It sorts in
 * {@linkcode SORT_ROUTE_BUDGET_SHARE} of the budget; the rest stays reserved, unused.
 *
 * @param request The parsed count (see {@linkcode sortRouteFormat}).
 * @param context Budget, io and progress.
 * @param format The `FormatCountsFormat` of the lines.
 * @param spool For count order: the output is a temp file (no csv header; a failure may start
 *   over), which groups go where (`--min-count`: all at or above it to the output by default),
 *   and whether the sort Worker runs (default: it does).
 * @returns The counters (tokens, distinct words, runs) and the input bytes.
 */
export async function countViaSort(
  request: SortRouteRequest,
  context: SortRouteContext,
  format: number,
  spool?: { split: CountedOutputSplit; useWorker: boolean },
): Promise<WordCountStats & { inputBytes: number }> {
  const { memory, io } = context;
  // Loaded only here: `spillway count` keeps its start-up without the sort engine.
  const { externalSort, BytesOrder, MergeBudgetError } = await import("../sort/mod.ts");
  using _headroom = memory.reserve(
    "count-sort-route-headroom",
    Math.floor(memory.totalSegments * (1 - SORT_ROUTE_BUDGET_SHARE)) * memory.segmentBytes,
  );
  const counting = new TokenCounting(
    memory,
    format,
    request.format === "csv" && spool === undefined,
    spool?.split ?? { minCount: request.minCount },
  );
  const stats = await externalSort(request.inputs, request.output, {
    memory,
    io,
    order: new BytesOrder(false),
    orderDescriptor: { kind: "bytes", reverse: false },
    fanInMax: request.fanInMax,
    ...(context.progress === undefined ? {} : { progress: context.progress }),
    useWorker: spool?.useWorker ?? true,
    filter: counting,
    ...context.mergeStall,
  }).catch((error: unknown) => {
    // Before the output opens nothing has been written: the caller may count again.
    const tooSmall = error instanceof MemoryBudgetError || error instanceof RecordTooLargeError ||
      error instanceof MergeBudgetError;
    // A spooled output is a temp file: nothing reached the output yet.
    const written = counting.opened && spool === undefined;
    throw tooSmall && !written ? new SortRouteTooSmall(error) : error;
  });
  return {
    tokens: stats.inputRecords,
    distinctWords: counting.linesWritten,
    invalidUtf8Bytes: 0,
    wordRuns: stats.runCount,
    longWords: 0,
    longWordBytesMax: 0,
    longWordDigests: [],
    countOrderRuns: 0,
    intermediateMerges: Math.max(0, stats.mergePasses - 1),
    tableGrowths: 0,
    tablePages: 0,
    buddy: undefined,
    inputBytes: stats.inputBytes,
  };
}

/**
 * The sort route's filter over the sort engine: each read chunk becomes its whitespace tokens one
 * a line (the `tokenLines` kernel), and the sorted lines are counted into the output by a
 * {@linkcode CountedOutput}.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { FormatCountsFormat } from "../kernels/mod.ts";
 * import { MemoryManager } from "../memory/mod.ts";
 * import { TokenCounting } from "./count_via_sort.ts";
 * const memory = new MemoryManager({ budgetBytes: 64 * 4096, segmentBytes: 4096 });
 * const counting = new TokenCounting(memory, FormatCountsFormat.tsv, false);
 * const chunk = new TextEncoder().encode("  to be\tor\n");
 * strictEqual(new TextDecoder().decode(counting.rewriteChunk(chunk)), "to\nbe\nor\n");
 * ```
 */
export class TokenCounting implements LineFilter {
  readonly cutsAtWhitespace = true;
  readonly #memory: MemoryManager;
  readonly #kernels: WasmKernels;
  readonly #format: number;
  readonly #csvHeader: boolean;
  readonly #split: CountedOutputSplit | undefined;
  #output: CountedOutput | undefined = undefined;
  /** Whether the output opened (from then on bytes may have reached standard output). */
  opened = false;

  /**
   * @param memory The budget (the counted output's kernels run over its memory).
   * @param format The `FormatCountsFormat` of the lines (tsv, uniq, csv).
   * @param csvHeader Whether the output starts with csv's `word,count` header.
   * @param split Which groups are written where (default: all, to the output).
   */
  constructor(
    memory: MemoryManager,
    format: number,
    csvHeader: boolean,
    split?: CountedOutputSplit,
  ) {
    this.#memory = memory;
    this.#kernels = kernelsFor(memory.wasmMemory);
    this.#format = format;
    this.#csvHeader = csvHeader;
    this.#split = split;
  }

  /** Distinct tokens written. */
  get linesWritten(): number {
    return this.#output?.linesWritten ?? 0;
  }

  rewriteChunk(chunk: Uint8Array): Uint8Array {
    if (!(chunk.buffer instanceof SharedArrayBuffer)) return tokenLinesHere(chunk);
    return chunk.subarray(0, this.#kernels.tokenLines(chunk.byteOffset, chunk.length));
  }

  segmentsFor(lineBytesMax: number): number {
    const aboveMin = this.#split?.aboveMin !== undefined;
    return CountedOutput.segmentsFor(this.#memory.segmentBytes, lineBytesMax, aboveMin);
  }

  async open(output: OutputSink, area: SegmentLease): Promise<CountedOutput> {
    this.opened = true;
    if (this.#csvHeader) {
      const header = new TextEncoder().encode("word,count\n");
      await output.write(header, 0, header.length);
    }
    this.#output = new CountedOutput(
      output,
      this.#memory,
      this.#kernels,
      this.#format,
      area,
      this.#split,
    );
    return this.#output;
  }
}

/**
 * `tokenLines` for a chunk outside the shared memory (a token longer than a chunk, assembled by
 * the reader): whitespace runs after a token become one LF, in place; returns the tokens.
 */
function tokenLinesHere(chunk: Uint8Array): Uint8Array {
  let out = 0;
  let afterToken = false;
  for (let i = 0; i < chunk.length; i += 1) {
    const byte = chunk[i]!;
    if (byte === 0x20 || (byte >= 0x09 && byte <= 0x0d)) {
      if (afterToken) chunk[out++] = 0x0a;
      afterToken = false;
    } else {
      chunk[out++] = byte;
      afterToken = true;
    }
  }
  return chunk.subarray(0, out);
}

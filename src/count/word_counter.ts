import {
  assert,
  type ProgressPhase,
  type ProgressPhaseName,
  type ProgressSink,
  ResourceError,
  silentProgress,
} from "../base/mod.ts";
import {
  BuddyAllocator,
  type BuddyStats,
  type MemoryManager,
  type SegmentLease,
} from "../memory/mod.ts";
import type { IoManager, RunReader, RunWriter, SpillRun } from "../io/mod.ts";
import { FormatCountsFormat } from "../kernels/mod.ts";
import {
  FAN_IN_DEFAULT,
  fittingMergeGroup,
  MERGE_READER_SEGMENTS_MIN,
  mergeReaderSegments,
  type RecordCursor,
} from "../sort/blocks/mod.ts";
import {
  COUNT_BYTES,
  CountTable,
  type CountTableLayout,
  type KernelTokenizerKind,
  readCount,
  ScanStop,
  writeCount,
} from "./count_table.ts";
import { copyBytes } from "./copy_bytes.ts";
import {
  COUNT_TABLE_GROW_RATIO,
  countTableFirstSegments,
  WORKER_TABLE_GROW_RUNS,
} from "./count_plan.ts";
import { hashBytes } from "./hash_bytes.ts";
import {
  decodeCountOrderCount,
  encodeCountOrderRecord,
  mergeRecords,
  mergeSummingCounts,
  type RecordEmitter,
  ReservedScratch,
} from "./count_merger.ts";
import { type CaseMode, Tokenizer, type TokenizerKind, type TokenSink } from "./tokenizer.ts";
import { TopHeap } from "./top_heap.ts";
import {
  type CountLineOutput,
  kernelSumMergeSegments,
  mergeSummingCountsKernel,
} from "./kernel_sum_merge.ts";

/** Options of {@linkcode WordCounter}. */
export interface WordCounterOptions {
  /** Tokenizer rule (default `words`). */
  tokenizer?: TokenizerKind;
  /** Case mode (default: the tokenizer's). */
  caseMode?: CaseMode;
  /**
   * Pages for the hash table (bucket arena plus record pages). Default: the free pages less
   * what a spill writer needs.
   */
  tablePages?: number;
  /**
   * Pages the table starts with (default: the count plan's `countTableFirstSegments`); it grows
   * to `tablePages` (doubling) only while it aggregates or its runs reach `tableGrowRuns`.
   */
  tablePagesFirst?: number;
  /**
   * Runs this table may write of the merge's fan-in (default `fanInMax`; half of it beside a
   * Worker's table): from `tableGrowRuns` a full table grows instead of spilling, and each
   * such growth moves that mark halfway to the share.
   */
  tableRunsShare?: number;
  /**
   * The run count from which a full table grows (default: three quarters of
   * `tableRunsShare`, the count plan's `tableGrowRuns` beside a Worker).
   */
  tableGrowRuns?: number;
  /** Prefix of the spill file names (default `count`). */
  spillPrefix?: string;
  /** Most runs merged at once (default 128, the tool's; lowered to what the budget allows). */
  fanInMax?: number;
  /**
   * Where the merge phases report (`merge` with the run bytes to read, then `write`); the
   * caller reports the counting itself. Default: nowhere.
   */
  progress?: ProgressSink;
  /**
   * Count with the WebAssembly kernel when the tokenizer has one (`letters`, `whitespace`,
   * `line`) and the table can spare its page table (default true; false: the JS tokenizer).
   */
  kernel?: boolean;
  /**
   * Sort and spill full tables with the WebAssembly kernels (sortBytesIndex, gather) instead
   * of JS: `auto` (default) when their area (sort scratch, page table, two blocks) is at most a
   * quarter of a table's record pages, `always` whenever it fits, `never`.
   */
  spillKernel?: "auto" | "always" | "never";
  /**
   * Sum the word runs with the summing merge kernel (`mergeSum`) when its pages fit and no
   * record is longer than its output block (default true; false: the JS loser tree).
   */
  mergeKernel?: boolean;
}

/** What {@linkcode WordCounter.finish} emits and in which order. */
export interface CountFinishOptions {
  /** `count`: count descending, ties by word bytes; `word`: byte order of words. */
  order: "count" | "word";
  /** Keep only the N most frequent words (then output them in `order`). */
  top?: number;
  /** Drop words counted fewer times. */
  minCount?: number;
  /**
   * Where the count formatter kernel may write lines straight from the summing merge's
   * blocks (a `CountFormatter` in a format the kernel writes); words it does not cover still
   * go to the emitter. Without it every word goes to the emitter.
   */
  lines?: CountLines | undefined;
}

/** A sink for lines the count formatter kernel writes (`CountFormatter` is one). */
export interface CountLines {
  /** The `FormatCountsFormat` code of the lines, or undefined when the kernel cannot write them. */
  readonly kernelFormat: number | undefined;
  /** Writes formatted lines (a view of the shared memory, read during the call only). */
  writeLines(bytes: Uint8Array, byteOffset: number, byteLength: number): Promise<void> | undefined;
}

/** Counters for `--stats`. */
export interface WordCountStats {
  /** Tokens counted. */
  tokens: number;
  /** Distinct words emitted. */
  distinctWords: number;
  /** Bytes of invalid UTF-8 seen by the `words` tokenizer (they separate words). */
  invalidUtf8Bytes: number;
  /** Sorted runs spilled by the hash table (first phase). */
  wordRuns: number;
  /** Words longer than a page, spilled as runs of their own. */
  longWords: number;
  /** Bytes of the longest of those words (0: none); merges budget their readers by it. */
  longWordBytesMax: number;
  /**
   * Digests of the distinct long words (see {@linkcode longWordDigest}): a `--top` heap plans
   * room for one copy of each, not one per run the word was written to.
   */
  longWordDigests: string[];
  /** Runs spilled by the count-order sort (second phase). */
  countOrderRuns: number;
  /** Intermediate merges (fan-in exceeded). */
  intermediateMerges: number;
  /** Bucket array doublings. */
  tableGrowths: number;
  /** Pages the table could use. */
  tablePages: number;
  /** The buddy allocator's counters at the end (fragmentation, peak). */
  buddy: BuddyStats | undefined;
}

/**
 * Tells long words apart without keeping them: the length and two seeded 32-bit hashes.
 *
 * @param bytes Storage of the word.
 * @param byteOffset Where it starts.
 * @param byteLength Its length.
 * @returns The digest, equal for equal words.
 */
export function longWordDigest(bytes: Uint8Array, byteOffset: number, byteLength: number): string {
  const first = hashBytes(bytes, byteOffset, byteLength, 0);
  const second = hashBytes(bytes, byteOffset, byteLength, 0x9e3779b9);
  return `${byteLength}:${first.toString(16)}:${second.toString(16)}`;
}

const WRITER_PAGES = 2;
const NEWLINE = 10;
/** A merge reader's pages (the merge plan's): its block, one read ahead, and a scratch. */
const READER_PAGES = MERGE_READER_SEGMENTS_MIN;
/** Pages kept free during merges for the scratch buffers (the word being summed, encoding). */
const SCRATCH_PAGES = 1;
/**
 * Share of the budget the final merge may take beside a kept table in pages the count never
 * touched (2 MiB of 64): past it the table is written as a run and its pages serve the
 * readers, so that the merge of many runs does not raise the peak RSS (the 1 GiB of unique
 * lines: 118 runs, 354 reader and carry pages beside a 16 MiB table, 8 MiB more RSS).
 */
const KEPT_TABLE_NEW_PAGES_SHARE = 1 / 32;
/**
 * Fewest free pages to start with: the count-order sort at the end needs its bucket arena
 * share, a record page, two merge readers, a writer and scratch.
 */
/** The fewest free segments a count can work in (a table of 3 pages, a spill writer, buffers). */
export const COUNT_SEGMENTS_MIN = 14;
const PAGES_MIN = COUNT_SEGMENTS_MIN;
/** The bucket arena's share of a table's pages. */
const ARENA_SHARE = 0.35;
/** What a `--top` heap's arena adds to a long word (64 KiB rounding and the short words). */
const LONG_WORD_SLACK_BYTES = 128 * 1024;
/** Fewest pages of the count-order table beside merge readers holding long words. */
const ORDER_TABLE_PAGES_MIN = 2;

/** How count order after spills shares the budget (`WordCounter#planCountOrder`). */
interface CountOrderPlan {
  /** Pages the summing merge kernel takes (0: the JS merge sums). */
  kernelPages: number;
  /** The kernels write the lines: the floor words come from a second merge of the word runs. */
  remerge: boolean;
  /** Pages of the second-phase table, its arena included. */
  orderPages: number;
  /** Pages of the second-phase table's bucket arena. */
  arenaPages: number;
  orderBuddy: BuddyAllocator;
}
/** The kernel's input window: at most this many bytes (the input chunk's size). */
const WINDOW_BYTES_MAX = 1024 * 1024;
/** ... and at most this share of the table's pages. */
const WINDOW_TABLE_DIVISOR = 16;
/** Why {@linkcode WordCounter}'s kernel step stopped, beyond {@linkcode ScanStop}. */
const NO_CUT = 3;
/**
 * A table that fits is sorted for the output by the kernels from this many words: below, the JS
 * sort is done before the engine would have compiled the kernel's sort (~10 ms on its first call);
 * above, the JS sort runs cold (28k words of the KJV bible: ~60 ms against ~15 ms).
 */
const KERNEL_SORT_ENTRIES_MIN = 4096;
/** Merges report progress in steps of this many record bytes (not per record). */
const PROGRESS_STEP_BYTES = 256 * 1024;

/**
 * Counts words in managed memory: tokenizes chunks into a binary {@linkcode CountTable},
 * spills it as a word-sorted run when full, and at the end merges runs and table while
 * summing equal words, then orders the result (count descending through an external sort of
 * `[~count][word]` records when it was spilled, or in memory when it fits).
 *
 * Memory: the bucket arena (a {@linkcode BuddyAllocator}) and the record pages come out of
 * `tablePages`; spill writers, merge readers and scratch buffers out of the rest.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { MemoryManager } from "../memory/mod.ts";
 * import { IoManager } from "../io/mod.ts";
 * import { WordCounter } from "./word_counter.ts";
 * const memory = new MemoryManager({ budgetBytes: 64 * 4096, segmentBytes: 4096 });
 * const io = await IoManager.open({ memory, handleSignals: false });
 * const counter = new WordCounter(memory, io);
 * await counter.addChunk(new TextEncoder().encode("to be or not to be\n"));
 * const lines: string[] = [];
 * await counter.finish({ order: "count" }, (bytes, offset, length, count) => {
 *   lines.push(`${new TextDecoder().decode(bytes.subarray(offset, offset + length))} ${count}`);
 *   return undefined;
 * });
 * strictEqual(lines.join(","), "be 2,to 2,not 1,or 1");
 * await counter.close();
 * await io.close();
 * memory.assertAllReleased();
 * ```
 */
export class WordCounter implements TokenSink {
  /** The tokenizer in use. */
  readonly tokenizer: Tokenizer;
  #memory: MemoryManager;
  #io: IoManager;
  #prefix: string;
  #buddy: BuddyAllocator;
  /** The count-order table's bucket arena (count order after spills). */
  #orderBuddy: BuddyAllocator | undefined = undefined;
  #table: CountTable | undefined;
  #tablePages: number;
  #runs: SpillRun[] = [];
  #writers = new Set<RunWriter>();
  #readers = new Set<RunReader>();
  /** A word longer than a page that the tokenizer stopped at: written by the slow path. */
  #longBytes: Uint8Array | undefined = undefined;
  #longOffset = 0;
  #longLength = 0;
  /** The long word the scan resumes at was written: take it as counted. */
  #longWritten = false;
  /** The 8-byte count (or count-order prefix) written after (before) a long word. */
  #countBytes = new Uint8Array(COUNT_BYTES);
  /** The bucket arena was closed early (its stats are kept here). */
  #buddyStats: BuddyStats | undefined = undefined;
  #scratch: ReservedScratch;
  #encode: ReservedScratch;
  #stats: WordCountStats;
  #longWordDigests = new Set<string>();
  #closed = false;
  #tableClosed = false;
  #foreignInvalidBytes = 0;
  /** The table's count of invalid UTF-8 bytes the kernel skipped (kept past the table). */
  #kernelInvalid = 0;
  /** Runs of another counter (not ours to delete). */
  #foreignRuns: SpillRun[] = [];
  #fanInMax: number;
  #progress: ProgressSink;
  #progressPending = 0;
  /** The kernel's tokenizer kind (undefined: the JS tokenizer counts). */
  #kernelKind: KernelTokenizerKind | undefined;
  /** Where chunks outside the shared memory are copied for the kernel. */
  #window: SegmentLease | undefined;
  #windowBytes: Uint8Array = new Uint8Array(0);
  #windowOffset = 0;
  /** Why the last kernel step stopped (a ScanStop or NO_CUT). */
  #stepStop = 0;
  #spillKernel: "auto" | "always" | "never";
  #mergeKernel: boolean;
  #kernelSumMerges = 0;
  /** Runs of the fan-in this table may write, and the run count from which it grows. */
  #runsShare: number;
  #growRuns: number;

  /**
   * Makes a counter: reserves the bucket arena and sets the table size.
   *
   * @param memory The budget.
   * @param io Where runs spill.
   * @param options Tokenizer, case mode and table size.
   * @throws {ResourceError} If the budget cannot hold a table and a spill writer.
   */
  constructor(memory: MemoryManager, io: IoManager, options: WordCounterOptions = {}) {
    this.#memory = memory;
    this.#io = io;
    this.#prefix = options.spillPrefix ?? "count";
    this.#fanInMax = Math.max(2, options.fanInMax ?? FAN_IN_DEFAULT);
    this.#progress = options.progress ?? silentProgress;
    this.#spillKernel = options.spillKernel ?? "auto";
    this.#mergeKernel = options.mergeKernel ?? true;
    this.#runsShare = Math.max(1, options.tableRunsShare ?? this.#fanInMax);
    this.#growRuns = Math.min(
      this.#runsShare,
      options.tableGrowRuns ?? Math.floor(this.#runsShare * WORKER_TABLE_GROW_RUNS),
    );
    const tokenizerOptions: { kind?: TokenizerKind; caseMode?: CaseMode } = {};
    if (options.tokenizer !== undefined) tokenizerOptions.kind = options.tokenizer;
    if (options.caseMode !== undefined) tokenizerOptions.caseMode = options.caseMode;
    this.tokenizer = new Tokenizer(tokenizerOptions);
    const tablePages = options.tablePages ?? memory.freeSegments - WRITER_PAGES - 1;
    if (tablePages < 3 || memory.freeSegments < PAGES_MIN) {
      throw new ResourceError(
        `Cannot count words in ${memory.freeSegments} free segments of ${memory.segmentBytes} bytes: need at least ${PAGES_MIN}; raise --memory (-S) or lower --segment-size`,
      );
    }
    this.#tablePages = tablePages;
    const arenaPages = Math.max(1, Math.floor(tablePages * ARENA_SHARE));
    this.#buddy = new BuddyAllocator(memory, { segmentCount: arenaPages, owner: "count-buckets" });
    const kind = this.tokenizer.kind;
    const kernelKind = options.kernel !== false ? kind : undefined;
    const windowSegments = Math.max(
      1,
      Math.min(
        Math.ceil(WINDOW_BYTES_MAX / memory.segmentBytes),
        Math.floor(tablePages / WINDOW_TABLE_DIVISOR),
      ),
    );
    const recordPagesMax = tablePages - arenaPages;
    const useKernel = kernelKind !== undefined && recordPagesMax - windowSegments >= 4;
    const recordPages = useKernel ? recordPagesMax - windowSegments : recordPagesMax;
    // The first limit takes the same share of the record pages as of the table.
    const tablePagesFirst = Math.min(
      tablePages,
      options.tablePagesFirst ?? countTableFirstSegments(tablePages, memory.segmentBytes),
    );
    this.#table = new CountTable(memory, {
      buddy: this.#buddy,
      recordPagesMax: recordPages,
      recordPagesFirst: Math.max(1, Math.ceil(recordPages * tablePagesFirst / tablePages)),
    });
    this.#useSpillKernel(this.#table);
    if (
      useKernel && this.#table.useKernel({
        kind: kernelKind,
        lower: this.tokenizer.caseMode === "lower",
      })
    ) {
      this.#kernelKind = kernelKind;
      try {
        this.#window = memory.allocateContiguous("count-input-window", windowSegments);
        const segment = this.#window.segments[0]!;
        this.#windowOffset = segment.memoryOffset;
        this.#windowBytes = segment.bytes;
      } catch {
        this.#window = undefined; // fragmented: only chunks already in the memory use it
      }
    }
    this.#scratch = new ReservedScratch(memory, "count-merge");
    this.#encode = new ReservedScratch(memory, "count-order-encode");
    this.#scratch.ensure(256);
    this.#encode.ensure(256);
    this.#stats = {
      tokens: 0,
      distinctWords: 0,
      invalidUtf8Bytes: 0,
      wordRuns: 0,
      longWords: 0,
      longWordBytesMax: 0,
      longWordDigests: [],
      countOrderRuns: 0,
      intermediateMerges: 0,
      tableGrowths: 0,
      tablePages,
      buddy: undefined,
    };
  }

  /** Live counters (final after `finish`). */
  get stats(): WordCountStats {
    this.#stats.invalidUtf8Bytes = this.tokenizer.invalidBytes + this.#foreignInvalidBytes +
      this.#kernelInvalidBytes();
    return this.#stats;
  }

  /** Summing merges run on the merge kernel so far (the rest ran on the JS loser tree). */
  get kernelSumMerges(): number {
    return this.#kernelSumMerges;
  }

  /**
   * Tokens and distinct words of the table now (since its last spill): `--threads auto`
   * judges the input's cardinality by them.
   */
  get tableSample(): { tokenCount: number; distinctCount: number } {
    const table = this.#table;
    return table === undefined
      ? { tokenCount: 0, distinctCount: 0 }
      : { tokenCount: table.tokenCount, distinctCount: table.entryCount };
  }

  /** Spilled runs waiting for the merge. */
  get runCount(): number {
    return this.#runs.length;
  }

  /**
   * Counts a token (the tokenizer's sink). A word longer than a page stops the scan: the slow
   * path writes it as a run of its own straight from `bytes` (no copy of it is made), and the
   * scan resumes at it, which is then taken as counted.
   *
   * @returns False when the table is full (the caller spills and retries) or the word is long.
   */
  addToken(bytes: Uint8Array, byteOffset: number, byteLength: number, hash: number): boolean {
    const table = this.#table!;
    if (table.addToken(bytes, byteOffset, byteLength, hash)) return true;
    if (byteLength <= table.wordBytesMax) return false;
    if (this.#longWritten) {
      this.#longWritten = false;
      return true;
    }
    this.#longBytes = bytes;
    this.#longOffset = byteOffset;
    this.#longLength = byteLength;
    return false;
  }

  /** Writes the long word the scan stopped at as a run of its own; the rescan takes it. */
  async #writePendingLongWord(): Promise<void> {
    const bytes = this.#longBytes!;
    this.#longBytes = undefined;
    await this.#writeLongWord(bytes, this.#longOffset, this.#longLength, 1);
    this.#longWritten = true;
  }

  /**
   * Writes a word longer than a page as a run `[word][count]` of its own, straight from where
   * it lies (no copy of it is held in the budget).
   */
  async #writeLongWord(
    bytes: Uint8Array,
    byteOffset: number,
    byteLength: number,
    count: number,
  ): Promise<void> {
    if (byteLength > this.#stats.longWordBytesMax) this.#stats.longWordBytesMax = byteLength;
    this.#noteLongWord(longWordDigest(bytes, byteOffset, byteLength));
    const countBytes = this.#countBytes;
    writeCount(countBytes, 0, count);
    await this.#writeRun(
      (writer) =>
        writer.writeRecordParts(bytes, byteOffset, byteLength, countBytes, 0, COUNT_BYTES),
      this.#runs,
    );
    this.#stats.longWords += 1;
    this.#stats.tokens += count;
  }

  /** Counts a long word's digest once, however many runs the word was written to. */
  #noteLongWord(digest: string): void {
    if (this.#longWordDigests.has(digest)) return;
    this.#longWordDigests.add(digest);
    this.#stats.longWordDigests.push(digest);
  }

  /**
   * Adds `count` occurrences of one word without tokenizing: the reduce side of a split job
   * (`spillway merge --sum` reads `word<TAB>count` partials). Added for the job helper.
   *
   * @param bytes Storage of the word.
   * @param byteOffset Where the word starts.
   * @param byteLength The word's length in bytes.
   * @param count Occurrences to add (at least 1).
   * @returns A promise only when the table had to spill; await it before the next call.
   */
  addCounted(
    bytes: Uint8Array,
    byteOffset: number,
    byteLength: number,
    count: number,
  ): Promise<void> | undefined {
    assert(!this.#closed && this.#table !== undefined, "WordCounter.addCounted after finish/close");
    assert(Number.isSafeInteger(count) && count >= 1, "addCounted needs a count of at least 1");
    if (this.#table.add(bytes, byteOffset, byteLength, count)) return undefined;
    return this.#addCountedSlow(bytes, byteOffset, byteLength, count);
  }

  async #addCountedSlow(
    bytes: Uint8Array,
    byteOffset: number,
    byteLength: number,
    count: number,
  ): Promise<void> {
    const table = this.#table!;
    if (byteLength > table.wordBytesMax) {
      // Longer than a page: a run of its own, like a long token, with its count.
      await this.#writeLongWord(bytes, byteOffset, byteLength, count);
      return;
    }
    if (this.#growTable() && table.add(bytes, byteOffset, byteLength, count)) return;
    await this.#spillTable();
    if (!table.add(bytes, byteOffset, byteLength, count)) {
      throw new ResourceError(
        `Cannot fit one word in an empty count table of ${this.#tablePages} segments; raise --memory (-S)`,
      );
    }
  }

  /**
   * Tokenizes and counts `bytes[from, end)`, which must end at a line end (or input end).
   *
   * @returns A promise only when the table had to spill; await it before the next chunk.
   */
  addChunk(bytes: Uint8Array, from = 0, end: number = bytes.length): Promise<void> | undefined {
    assert(!this.#closed && this.#table !== undefined, "WordCounter.addChunk after finish/close");
    if (this.#kernelKind !== undefined) {
      const at = this.#kernelStep(bytes, from, end);
      if (this.#stepStop === ScanStop.done) return undefined;
      return this.#addChunkKernelSlow(bytes, at, end);
    }
    return this.#addChunkJs(bytes, from, end);
  }

  /** Counting is over: the window and the kernel's pages go back to the budget. */
  #releaseKernel(): void {
    this.#kernelKind = undefined;
    this.#table?.releaseKernel();
    this.#window?.release();
    this.#window = undefined;
    this.#windowBytes = new Uint8Array(0);
  }

  /** Whether the count kernel counts (else the JS tokenizer). */
  get usesKernel(): boolean {
    return this.#kernelKind !== undefined;
  }

  /**
   * Counts what the kernel can of `bytes[at, end)` without awaiting: straight from the shared
   * memory when the chunk lives there (a Worker's lent chunk), else piece by piece through
   * the window. Sets `#stepStop`; returns where it stopped.
   */
  #kernelStep(bytes: Uint8Array, at: number, end: number): number {
    const table = this.#table!;
    const direct = bytes.buffer === this.#memory.wasmMemory.buffer;
    if (!direct && this.#window === undefined) {
      this.#stepStop = NO_CUT;
      return at;
    }
    while (at < end) {
      let pieceEnd = end;
      let delta = bytes.byteOffset;
      if (!direct) {
        pieceEnd = this.#pieceEnd(bytes, at, end);
        if (pieceEnd < 0) {
          this.#stepStop = NO_CUT;
          return at;
        }
        this.#windowBytes.set(bytes.subarray(at, pieceEnd));
        delta = this.#windowOffset - at;
      }
      const stop = table.scanShared(at + delta, pieceEnd + delta) - delta;
      if (table.scanStop !== ScanStop.done) {
        this.#stepStop = table.scanStop;
        return stop;
      }
      at = pieceEnd;
    }
    this.#stepStop = ScanStop.done;
    return end;
  }

  /** The end of the next piece of `bytes[at, end)` that fits the window (-1: no cut fits). */
  #pieceEnd(bytes: Uint8Array, at: number, end: number): number {
    const limit = at + this.#windowBytes.length;
    if (end <= limit) return end;
    const newline = bytes.lastIndexOf(NEWLINE, limit - 1);
    if (newline >= at) return newline + 1;
    if (this.#kernelKind === "line") return -1;
    for (let i = limit - 1; i >= at; i -= 1) {
      if (this.#isSeparator(bytes[i]!)) return i + 1;
    }
    return -1;
  }

  #isSeparator(byte: number): boolean {
    const kind = this.#kernelKind;
    if (kind === "line") return byte === NEWLINE;
    if (kind === "whitespace") return byte === 0x20 || (byte >= 0x09 && byte <= 0x0d);
    const letter = (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a);
    if (kind === "letters") return !letter;
    // words, flink: an ASCII byte other than [A-Za-z0-9_] (a cut before it splits no UTF-8
    // sequence and no token).
    return byte < 0x80 && !letter && !(byte >= 0x30 && byte <= 0x39) && byte !== 0x5f;
  }

  /** Invalid UTF-8 bytes the kernel skipped (the table keeps the number). */
  #kernelInvalidBytes(): number {
    if (this.#table !== undefined) this.#kernelInvalid = this.#table.invalidBytes;
    return this.#kernelInvalid;
  }

  /** The end of the token (for `line`: the line and its \n) at or after `from`. */
  #tokenEnd(bytes: Uint8Array, from: number, end: number): number {
    let i = from;
    while (i < end && !this.#isSeparator(bytes[i]!)) i += 1;
    return this.#kernelKind === "line" && i < end ? i + 1 : i;
  }

  /** The kernel path after a stop: spill, or let the JS tokenizer take a long token. */
  async #addChunkKernelSlow(bytes: Uint8Array, at: number, end: number): Promise<void> {
    let spilledAt = -1;
    for (;;) {
      const stop = this.#stepStop;
      if (stop === ScanStop.done) return;
      if (stop === ScanStop.full) {
        spilledAt = await this.#makeRoom(at, spilledAt);
      } else {
        // A token longer than a record (parked as a long word), or a stretch the window
        // cannot cut: the JS tokenizer counts it, into the same table.
        const tokenEnd = stop !== NO_CUT
          ? this.#tokenEnd(bytes, at, end)
          : this.#window === undefined
          ? end // not in the shared memory and no window: all of it
          : this.#tokenEnd(bytes, at + this.#windowBytes.length, end);
        const pending = this.#addChunkJs(bytes, at, tokenEnd);
        if (pending) await pending;
        at = tokenEnd;
      }
      at = this.#kernelStep(bytes, at, end);
    }
  }

  /**
   * Makes room in a full table for the token at `at`: grows it, or spills it.
   *
   * @param spilledAt Where the last spill for this chunk happened (-1: none).
   * @returns Where the table was spilled now (or `spilledAt` when it grew instead).
   * @throws {ResourceError} When one word does not fit the empty table.
   */
  async #makeRoom(at: number, spilledAt: number): Promise<number> {
    if (this.#growTable()) return spilledAt;
    if (spilledAt === at) {
      throw new ResourceError(
        `Cannot fit one word in an empty count table of ${this.#tablePages} segments; raise --memory (-S)`,
      );
    }
    await this.#spillTable();
    return at;
  }

  /** Tokenizes `bytes[from, end)` with the JS tokenizer. */
  #addChunkJs(bytes: Uint8Array, from: number, end: number): Promise<void> | undefined {
    const at = this.tokenizer.scan(bytes, from, end, this);
    if (at === end && this.#longBytes === undefined) return undefined;
    return this.#addChunkSlow(bytes, at, end);
  }

  /** The scan stopped at `at`: at a long word (written now) or because the table is full. */
  async #addChunkSlow(bytes: Uint8Array, at: number, end: number): Promise<void> {
    let spilledAt = -1;
    for (;;) {
      if (this.#longBytes !== undefined) {
        await this.#writePendingLongWord();
      } else {
        if (at === end) return;
        spilledAt = await this.#makeRoom(at, spilledAt);
      }
      at = this.tokenizer.scan(bytes, at, end, this);
      assert(!this.#longWritten, "the rescan did not resume at the long word written");
      if (at === end && this.#longBytes === undefined) return;
    }
  }

  async #writeRun(
    fill: (writer: RunWriter) => Promise<void>,
    into: SpillRun[],
    writeBehindSegments = WRITER_PAGES - 1,
  ): Promise<void> {
    const writer = await this.#io.createRunWriter(this.#prefix, {
      owner: "count-spill",
      writeBehindSegments,
    });
    this.#writers.add(writer);
    try {
      await fill(writer);
      into.push(await writer.finish());
    } catch (error) {
      await writer.abort();
      throw error;
    } finally {
      this.#writers.delete(writer);
    }
  }

  /** Lets `table` spill through the kernels when the option and its size allow. */
  #useSpillKernel(table: CountTable): void {
    if (this.#spillKernel === "never") return;
    table.useSpillKernel({ force: this.#spillKernel === "always" });
  }

  /**
   * A full table in the counting phase: raise its page limit (it takes more words instead of
   * spilling) while it aggregates, at least {@linkcode COUNT_TABLE_GROW_RATIO} tokens per
   * distinct word since its last spill, or when its runs reach the count plan's
   * `tableGrowRuns` (then the mark moves halfway to the share), and it is below its most pages.
   *
   * @returns True when the limit was raised (then retry before spilling).
   */
  #growTable(): boolean {
    const table = this.#table!;
    const aggregates = table.tokenCount >= COUNT_TABLE_GROW_RATIO * table.entryCount;
    // Its runs near its share of the fan-in (an intermediate merge past it): larger runs.
    const manyRuns = this.#runs.length >= this.#growRuns;
    if (!(aggregates || manyRuns) || !table.raisePageLimit()) return false;
    if (!aggregates) this.#growRuns += Math.ceil((this.#runsShare - this.#growRuns) / 2);
    return true;
  }

  async #spillTable(): Promise<void> {
    const table = this.#table!;
    if (table.entryCount === 0) return;
    if (table.usesSpillKernel) {
      this.#stats.tokens += table.tokenCount;
      await this.#writeRun(
        async (writer) => {
          await table.spillSorted("word", writer);
        },
        this.#runs,
        0,
      );
      table.reset();
      this.#stats.wordRuns += 1;
      return;
    }
    table.sort("word");
    this.#stats.tokens += table.tokenCount;
    await this.#writeRun(async (writer) => {
      // Sorted records sit on pages in random order; staging each one in one buffer keeps the
      // writer on a single source buffer (it caches a view per source buffer, so a new page per
      // record would allocate per record).
      while (table.nextSorted()) {
        const length = table.recordLength;
        const staging = this.#encode.ensure(length);
        copyBytes(table.recordBytes, table.recordOffset, staging, 0, length);
        const pending = writer.writeRecord(staging, 0, length);
        if (pending) await pending;
      }
    }, this.#runs);
    table.reset();
    this.#stats.wordRuns += 1;
  }

  /**
   * Ends counting on this side of a split: the table is spilled, and the word-sorted, summed
   * `[word][count]` runs are handed over (none if nothing was counted) for another counter to
   * merge with {@linkcode WordCounter.addForeignRuns}: no extra merge pass here. The files live
   * until {@linkcode WordCounter.close}.
   *
   * @returns The runs.
   */
  async finishToRuns(): Promise<SpillRun[]> {
    assert(!this.#closed && this.#table !== undefined, "WordCounter.finishToRuns after finish");
    this.#releaseKernel();
    if (!this.#tableClosed) {
      await this.#spillTable();
      this.#closeTable();
    }
    // The files are the caller's now: close() leaves them to the IoManager's close.
    return this.#runs.splice(0);
  }

  /**
   * Where this counter's words lie when all of them are in its table (nothing spilled, no
   * long word): another counter over the same shared memory can add them in place with
   * {@linkcode WordCounter.addForeignTable}, with no sort, run file or merge (a Worker's
   * low-cardinality hand-off). Valid until this counter changes or closes.
   *
   * @returns The table's layout, or undefined when some words are in runs.
   */
  tableLayout(): CountTableLayout | undefined {
    const table = this.#table;
    if (this.#closed || this.#tableClosed || table === undefined) return undefined;
    if (this.#runs.length > 0 || this.#stats.longWords > 0) return undefined;
    return table.layout();
  }

  /**
   * Adds the words of another counter's table ({@linkcode WordCounter.tableLayout}, read in
   * place from the shared memory) with their counts; the table may spill meanwhile. The other
   * counter must not change until this resolves; its counters come with
   * {@linkcode WordCounter.addForeignRuns} (no runs) after it closed.
   *
   * @param layout The other table's layout in this counter's memory.
   */
  async addForeignTable(layout: CountTableLayout): Promise<void> {
    const buffer = this.#memory.wasmMemory.buffer;
    const bytes = new Uint8Array(buffer);
    const words = new Uint32Array(buffer);
    const pageMask = (1 << layout.pageShift) - 1;
    const bucketsWord = layout.bucketsOffset >>> 2;
    assert(!this.#closed && this.#table !== undefined, "WordCounter.addForeignTable after close");
    // One entry the slow way: the bucket holds the word's hash (the same function on the same
    // folded bytes), so no second hashing; a full table spills, then adds.
    const addEntry = (bucket: number): Promise<void> | undefined => {
      const pointer = words[bucketsWord + bucket * 2 + 1]!;
      if (pointer === 0) return undefined;
      const address = pointer - 1;
      const record = layout.pageOffsets[address >>> layout.pageShift]! +
        ((address & pageMask) << 2);
      const length = words[record >>> 2]!;
      const count = readCount(bytes, record + 4 + length);
      if (
        this.#table!.add(bytes, record + 4, length, count, words[bucketsWord + bucket * 2]! | 0)
      ) {
        return undefined;
      }
      return this.addCounted(bytes, record + 4, length, count);
    };
    let bucket = 0;
    // The kernel adds the entries (a few milliseconds where the loop below, cold, takes tens);
    // an entry it cannot take (a full table, a huge count) goes the slow way.
    while (layout.pageTableOffset !== 0 && this.#table!.usesKernel) {
      bucket = this.#table!.addTableShared(layout, bucket);
      if (bucket >= layout.bucketCount) return;
      const pending = addEntry(bucket);
      if (pending) await pending;
      bucket += 1;
    }
    const from = bucket;
    let found = 0;
    for (; bucket < layout.bucketCount; bucket += 1) {
      if (words[bucketsWord + bucket * 2 + 1] === 0) continue;
      found += 1;
      const pending = addEntry(bucket);
      if (pending) await pending;
    }
    assert(
      from > 0 || found === layout.entryCount,
      `found ${found} of ${layout.entryCount} foreign words`,
    );
  }

  /**
   * Adds word-sorted, summed runs made by another counter (a Worker's
   * {@linkcode WordCounter.finishToRuns}) to this counter's merge, with its counters.
   * The files stay the other counter's to delete.
   *
   * @param runs The runs.
   * @param stats The other counter's stats.
   */
  addForeignRuns(runs: readonly SpillRun[], stats: WordCountStats): void {
    assert(!this.#closed, "WordCounter.addForeignRuns after close");
    this.#runs.push(...runs);
    this.#foreignRuns.push(...runs);
    this.#stats.tokens += stats.tokens;
    this.#foreignInvalidBytes += stats.invalidUtf8Bytes;
    this.#stats.wordRuns += stats.wordRuns;
    this.#stats.longWords += stats.longWords;
    this.#stats.longWordBytesMax = Math.max(this.#stats.longWordBytesMax, stats.longWordBytesMax);
    for (const digest of stats.longWordDigests) this.#noteLongWord(digest);
    this.#stats.intermediateMerges += stats.intermediateMerges;
    this.#stats.tableGrowths += stats.tableGrowths;
  }

  /**
   * Merges everything counted and emits `(word, count)` pairs in the asked order.
   *
   * @param options Order, top N and minimum count.
   * @param emit Receives each word and its count.
   */
  async finish(options: CountFinishOptions, emit: RecordEmitter): Promise<void> {
    assert(!this.#closed && this.#table !== undefined, "WordCounter.finish twice or after close");
    await this.#finishCounts(options, emit);
    this.#flushProgress();
  }

  async #finishCounts(options: CountFinishOptions, emit: RecordEmitter): Promise<void> {
    this.#releaseKernel();
    await this.#absorbForeignRuns();
    // The table takes no more words: the pages it kept from its last spill and did not fill
    // again go back for the merges (they were touched: readers there add no RSS).
    if (!this.#tableClosed) this.#table!.releaseUnwrittenPages();
    const minCount = options.minCount ?? 1;
    if (this.#runs.length === 0) {
      await this.#finishInTable(options, minCount, emit);
      return;
    }
    // `--top N` in count order takes the count-order sort too when the heap would hold copies
    // of several distinct long words (two near a quarter of the budget do not fit beside the
    // merge): the sort holds none, and its first N words are the heap's N.
    const longTop = Math.min(options.top ?? 0, this.#longWordDigests.size) > 1;
    if (options.order === "count" && (options.top === undefined || longTop)) {
      let left = options.top ?? Infinity;
      const lines = options.top === undefined
        ? this.#lineOutput(options.lines, minCount)
        : undefined;
      await this.#countOrder(
        (bytes, offset, length, count) => {
          if (count < minCount || left === 0) return undefined;
          left -= 1;
          this.#stats.distinctWords += 1;
          return emit(bytes, offset, length, count);
        },
        minCount,
        lines,
      );
      return;
    }
    if (options.order === "word" && longTop) {
      await this.#topInWordOrder(options.top!, minCount, emit);
      return;
    }
    let top: TopHeap | undefined;
    try {
      if (options.top !== undefined) {
        // The heap's memory comes from the table's: spill it and free it first.
        await this.#spillTable();
        this.#closeTable();
        top = new TopHeap(this.#memory, options.top);
      }
      const heap = top;
      // The heap keeps copies of at most N words: of the long ones, at most one per distinct
      // long word (told apart by digest: a plan up to a 64-bit hash collision; past it the
      // heap's own reservation fails with exit 3, before any output).
      const heapPages = options.top === undefined ? 0 : Math.ceil(
        Math.min(options.top, this.#longWordDigests.size) *
          (this.#stats.longWordBytesMax + LONG_WORD_SLACK_BYTES) / this.#memory.segmentBytes,
      );
      const lines = heap === undefined ? this.#lineOutput(options.lines, minCount) : undefined;
      await this.#mergeWords(heapPages, (bytes, offset, length, count) => {
        if (count < minCount) return undefined;
        this.#stats.distinctWords += 1;
        if (heap === undefined) return emit(bytes, offset, length, count);
        heap.offer(bytes, offset, length, count);
        return undefined;
      }, lines);
      if (top !== undefined) await top.drain(options.order, emit);
    } finally {
      top?.close();
    }
  }

  /** Everything fits: sorts the table in the order asked and emits it, no I/O, no heap. */
  async #finishInTable(
    options: CountFinishOptions,
    minCount: number,
    emit: RecordEmitter,
  ): Promise<void> {
    const table = this.#table!;
    this.#stats.tokens += table.tokenCount;
    let kernel = false;
    if (options.top === undefined) {
      kernel = table.entryCount >= KERNEL_SORT_ENTRIES_MIN && table.sortKernel(options.order);
      if (!kernel) table.sort(options.order);
    } else {
      table.sort("count");
      let kept = 0;
      while (kept < options.top && table.nextSorted() && table.count >= minCount) kept += 1;
      table.limitSorted(kept);
      if (options.order === "word") table.sort("word");
    }
    this.#beginPhase("write", []);
    const format = options.lines?.kernelFormat;
    if (kernel && format !== undefined) {
      const lines = options.lines!;
      await this.#writeSortedLines(
        table,
        format,
        minCount,
        (bytes, offset, length) => lines.writeLines(bytes, offset, length),
      );
      return;
    }
    while (table.nextSorted()) {
      const pending = this.#emitSorted(minCount, emit);
      if (pending) await pending;
    }
  }

  /**
   * A table sorted by the kernels, written by the `formatSorted` kernel: its lines go to
   * `write` a ring of blocks (2 pages) at a time, where the emitter formatted word by word in
   * TypeScript. The longest line fits: a csv word of `segmentBytes - 12` quotes is
   * 2 x segmentBytes with its quotes, comma, 20 digits and LF.
   */
  async #writeSortedLines(
    table: CountTable,
    format: number,
    minCount: number,
    write: CountLineOutput["write"],
  ): Promise<void> {
    for (;;) {
      const formatted = table.formatSorted(format, minCount);
      this.#stats.distinctWords += formatted.lineCount;
      this.#tick(formatted.recordBytes);
      const length = formatted.bytes.byteLength;
      assert(length > 0 || formatted.done, "a count line longer than the format ring");
      if (length > 0) {
        const pending = write(formatted.bytes, 0, length, formatted.lineCount);
        if (pending) await pending;
      }
      if (formatted.done) return;
    }
  }

  /** Emits the table's current sorted entry unless it is counted fewer than `minCount` times. */
  #emitSorted(minCount: number, emit: RecordEmitter): Promise<void> | undefined {
    const table = this.#table!;
    const count = table.count;
    this.#tick(table.recordLength);
    if (count < minCount) return undefined;
    this.#stats.distinctWords += 1;
    return emit(table.recordBytes, table.recordOffset, table.recordLength - COUNT_BYTES, count);
  }

  /**
   * `--top N --order word` when the heap would hold copies of several distinct long words: the
   * count-order sort picks the N words into a run (no copies held), and a counter of their own
   * puts them in word order (its long words go to runs of their own, as here).
   */
  async #topInWordOrder(top: number, minCount: number, emit: RecordEmitter): Promise<void> {
    const picked: SpillRun[] = [];
    await this.#writeRun(async (writer) => {
      let left = top;
      const countBytes = this.#countBytes;
      await this.#countOrder((bytes, offset, length, count) => {
        if (count < minCount || left === 0) return undefined;
        left -= 1;
        writeCount(countBytes, 0, count);
        return writer.writeRecordParts(bytes, offset, length, countBytes, 0, COUNT_BYTES);
      }, minCount);
    }, picked);
    this.#scratch.close(); // the count-order merge's copy of the longest word: done with
    const counter = new WordCounter(this.#memory, this.#io, {
      spillPrefix: `${this.#prefix}-top`,
      fanInMax: this.#fanInMax,
      kernel: false,
    });
    try {
      await this.#addRunTo(counter, picked[0]!);
      await this.#io.deleteRun(picked[0]!);
      this.#beginPhase("write", []);
      await counter.finish({ order: "word" }, (bytes, offset, length, count) => {
        this.#stats.distinctWords += 1;
        return emit(bytes, offset, length, count);
      });
    } finally {
      await counter.close();
    }
  }

  /** Adds the `[word][count]` records of `run` to `counter`; returns the sum of their counts. */
  async #addRunTo(counter: WordCounter, run: SpillRun): Promise<number> {
    const reader = (await this.#openReaders([run]))[0]!;
    let added = 0;
    try {
      for (;;) {
        let more = reader.next();
        if (more instanceof Promise) more = await more;
        if (!more) return added;
        const wordLength = reader.recordLength - COUNT_BYTES;
        const count = readCount(reader.recordBytes, reader.recordOffset + wordLength);
        added += count;
        const pending = counter.addCounted(
          reader.recordBytes,
          reader.recordOffset,
          wordLength,
          count,
        );
        if (pending) await pending;
      }
    } finally {
      await this.#closeReaders([reader]);
    }
  }

  /**
   * When this counter never spilled and another counter's runs are small next to the table,
   * adds their words into the table instead of merging: a low-cardinality count then ends
   * with one in-memory sort. (A table that fills while absorbing spills as usual.)
   */
  async #absorbForeignRuns(): Promise<void> {
    if (this.#foreignRuns.length === 0 || this.#tableClosed) return;
    if (this.#runs.length !== this.#foreignRuns.length) return; // we spilled: merge anyway
    const foreignBytes = this.#foreignRuns.reduce((sum, run) => sum + run.byteLength, 0);
    if (foreignBytes * 4 > this.#tablePages * this.#memory.segmentBytes) return;
    const absorb = this.#foreignRuns.splice(0);
    this.#runs = this.#runs.filter((run) => !absorb.includes(run));
    let absorbed = 0;
    // One reader at a time: a run holding a long word takes that word's scratch.
    for (const run of absorb) absorbed += await this.#addRunTo(this, run);
    // The table (or its spills) now counts these tokens; addForeignRuns counted them already.
    this.#stats.tokens -= absorbed;
  }

  /**
   * The count formatter kernel's view of `lines` (undefined when there are none or the kernel
   * does not write their format): its lines count as distinct words and as merge progress.
   */
  #lineOutput(lines: CountLines | undefined, minCount: number): CountLineOutput | undefined {
    const format = lines?.kernelFormat;
    if (lines === undefined || format === undefined) return undefined;
    return {
      format,
      minCount,
      write: (bytes, offset, length) => lines.writeLines(bytes, offset, length),
      noted: (lineCount, recordBytes) => {
        this.#stats.distinctWords += lineCount;
        this.#tick(recordBytes);
      },
    };
  }

  /**
   * Merges the word runs (and the table, when readers fit beside it), summing counts; with
   * `lines`, the summing merge kernel writes formatted lines (see CountFinishOptions.lines).
   */
  async #mergeWords(
    heapPages: number,
    emit: RecordEmitter,
    lines?: CountLineOutput,
  ): Promise<void> {
    const table = this.#table!;
    this.#reserveSumScratch();
    const keepPages = SCRATCH_PAGES + heapPages;
    const keepTable = !this.#tableClosed && this.#runs.length + 1 <= this.#fanInMax &&
      this.#readerPages(this.#runs) + keepPages <= this.#memory.freeSegments &&
      this.#keptTableFitsTouched(keepPages);
    // The kept table joins the summing merge kernel as gathered blocks when the kernel's pages
    // fit beside the readers (no reduction is needed then: the runs fit the fan-in).
    const tableBlocks = keepTable && table.entryCount > 0 && table.usesSpillKernel &&
      this.#sumKernelFits(this.#runs) &&
      this.#readerPages(this.#runs) + keepPages +
            kernelSumMergeSegments(this.#memory.segmentBytes, this.#runs.length + 1) + 1 <=
        this.#memory.freeSegments;
    if (!keepTable) {
      if (!this.#tableClosed) await this.#spillTable();
      this.#closeTable();
      this.#closeArena(); // the last phase: the bucket arena's pages serve the readers
    } else {
      this.#stats.tokens += table.tokenCount;
      if (table.entryCount > 0 && !tableBlocks) table.sort("word");
    }
    await this.#reduceRuns(this.#runs, true, {
      fanInMax: this.#fanInMax - (keepTable ? 1 : 0),
      keepPages,
    });
    this.#beginPhase("merge", this.#runs);
    const readers = await this.#openReaders(this.#runs);
    try {
      const sumEmit: RecordEmitter = (bytes, offset, length, count) => {
        this.#tick(length + COUNT_BYTES);
        return emit(bytes, offset, length, count);
      };
      if (tableBlocks) {
        const expectedRecords = this.#runs.reduce((sum, run) => sum + run.recordCount, 0) +
          table.entryCount;
        await mergeSummingCountsKernel([...readers, table.sortedBlocks()], sumEmit, {
          memory: this.#memory,
          owner: "count-merge-kernel",
          expectedRecords,
          lines,
        });
        this.#kernelSumMerges += 1;
      } else if (keepTable && table.entryCount > 0) {
        const sources: RecordCursor[] = [...readers, table];
        await mergeSummingCounts(sources, this.#scratch, sumEmit);
      } else {
        await this.#sumRuns(readers, this.#runs, keepPages, sumEmit, lines);
      }
    } finally {
      await this.#closeReaders(readers);
    }
    for (const run of this.#runs.splice(0)) await this.#io.deleteRun(run);
  }

  /**
   * Whether the final merge's pages beside the kept table (readers, carries and the kernel's)
   * fit the pages the count already touched and freed, plus
   * {@linkcode KEPT_TABLE_NEW_PAGES_SHARE} of the budget.
   */
  #keptTableFitsTouched(keepPages: number): boolean {
    const memory = this.#memory;
    const runCount = this.#runs.length;
    const mergePages = this.#readerPages(this.#runs) + runCount + keepPages +
      kernelSumMergeSegments(memory.segmentBytes, runCount + 1);
    const touchedFree = memory.highWaterPages - (memory.totalSegments - memory.freeSegments);
    return mergePages <= touchedFree + Math.ceil(memory.totalSegments * KEPT_TABLE_NEW_PAGES_SHARE);
  }

  /** Starts a progress phase over `runs` (their bytes are the phase's total). */
  #beginPhase(name: ProgressPhaseName, runs: readonly SpillRun[], pass?: number): void {
    this.#flushProgress();
    const phase: ProgressPhase = { name };
    // Without runs (an in-memory table) the total is not known up front.
    if (runs.length > 0) phase.totalBytes = runs.reduce((sum, run) => sum + run.byteLength, 0);
    if (pass !== undefined) phase.pass = pass;
    this.#progress.phase(phase);
  }

  /** Reports the bytes not reported yet to the current phase. */
  #flushProgress(): void {
    if (this.#progressPending > 0) this.#progress.advance(this.#progressPending);
    this.#progressPending = 0;
  }

  /** Adds merged record bytes to the phase, reporting every {@linkcode PROGRESS_STEP_BYTES}. */
  #tick(byteCount: number): void {
    this.#progressPending += byteCount;
    if (this.#progressPending >= PROGRESS_STEP_BYTES) {
      this.#progress.advance(this.#progressPending);
      this.#progressPending = 0;
    }
  }

  /**
   * Pages the readers of `runs` take at once: each its block, one read ahead and the scratch
   * for its run's longest record across blocks (a long word), as the run reader reserves it.
   */
  #readerPages(runs: readonly SpillRun[]): number {
    let pages = 0;
    for (const run of runs) pages += this.#runReaderPages(run);
    return pages;
  }

  #runReaderPages(run: SpillRun): number {
    return mergeReaderSegments(this.#memory.segmentBytes, run.spanningRecordBytesMax ?? 0);
  }

  /**
   * Grows the summing merge's scratch to the longest record of the runs before any reader
   * opens, so that the merge plans below see it taken (it holds the word being summed).
   */
  #reserveSumScratch(): void {
    let longest = 0;
    for (const run of this.#runs) longest = Math.max(longest, run.spanningRecordBytesMax ?? 0);
    this.#scratch.ensure(longest);
  }

  /**
   * Merges groups of the oldest runs (summing, or by plain bytes) until at most `fanInMax`
   * runs are left whose readers fit the free pages at once with `keepPages` to spare. A group
   * is as many runs as fit beside a writer: runs holding long words take their scratch, so
   * fewer of them are merged at once.
   *
   * @throws {ResourceError} If two runs cannot be merged at once.
   */
  async #reduceRuns(
    runs: SpillRun[],
    summing: boolean,
    limits: { fanInMax: number; keepPages: number },
  ): Promise<void> {
    for (;;) {
      const free = this.#memory.freeSegments;
      if (runs.length <= limits.fanInMax && this.#readerPages(runs) + limits.keepPages <= free) {
        return;
      }
      const room = free - WRITER_PAGES - SCRATCH_PAGES;
      const groupSize = fittingMergeGroup(
        runs.map((run) => this.#runReaderPages(run)),
        room,
        this.#fanInMax,
      );
      if (groupSize < 2) {
        const needed = runs.length < 2
          ? this.#readerPages(runs) + limits.keepPages
          : this.#readerPages(runs.slice(0, 2)) + WRITER_PAGES + SCRATCH_PAGES;
        throw new ResourceError(
          `Cannot merge ${runs.length} count runs in ${free} free segments of ${this.#memory.segmentBytes} bytes: need ${needed}; raise --memory (-S)`,
        );
      }
      const group = runs.splice(0, groupSize);
      this.#beginPhase("merge", group, this.#stats.intermediateMerges + 1);
      const readers = await this.#openReaders(group);
      try {
        await this.#writeRun(async (writer) => {
          if (summing) {
            await this.#sumRuns(readers, group, 0, (bytes, offset, length, count) => {
              this.#tick(length + COUNT_BYTES);
              writeCount(bytes, offset + length, count); // the scratch has room for the count
              return writer.writeRecord(bytes, offset, length + COUNT_BYTES);
            });
          } else {
            await mergeRecords(readers, (bytes, offset, length) => {
              this.#tick(length);
              return writer.writeRecord(bytes, offset, length);
            });
          }
        }, runs);
      } finally {
        await this.#closeReaders(readers);
      }
      for (const run of group) await this.#io.deleteRun(run);
      this.#stats.intermediateMerges += 1;
    }
  }

  /**
   * Whether the summing merge kernel can merge `runs`: it is enabled and every record fits its
   * output block (a page; long words, written as runs of their own, take the JS merge).
   */
  #sumKernelFits(runs: readonly SpillRun[]): boolean {
    const recordMax = this.#memory.segmentBytes - 16;
    return this.#mergeKernel && runs.length > 0 &&
      runs.every((run) => (run.spanningRecordBytesMax ?? 0) <= recordMax);
  }

  /**
   * Sums the runs (their fresh readers) into `emit` in word order: on the summing merge kernel
   * when it fits (see {@linkcode WordCounter.#sumKernelFits}) and its pages are free beside
   * `keepPages` and the carries (one page per run, which the readers' record scratch was
   * planned for and block mode never takes), else on the JS loser tree. A negative
   * `keepPages` means those pages were planned for the kernel already.
   *
   * @returns The distinct words the kernel summed (undefined: the JS loser tree merged).
   */
  async #sumRuns(
    readers: readonly RunReader[],
    runs: readonly SpillRun[],
    keepPages: number,
    emit: RecordEmitter,
    lines?: CountLineOutput,
  ): Promise<number | undefined> {
    const kernelPages = kernelSumMergeSegments(this.#memory.segmentBytes, runs.length);
    const free = this.#memory.freeSegments - runs.length - Math.max(0, keepPages);
    if (this.#sumKernelFits(runs) && (keepPages < 0 || free >= kernelPages)) {
      const expectedRecords = runs.reduce((sum, run) => sum + run.recordCount, 0);
      const { words } = await mergeSummingCountsKernel(readers, emit, {
        memory: this.#memory,
        owner: "count-merge-kernel",
        expectedRecords,
        lines,
      });
      this.#kernelSumMerges += 1;
      return words;
    }
    await mergeSummingCounts(readers, this.#scratch, emit);
    return undefined;
  }

  async #openReaders(runs: readonly SpillRun[]): Promise<RunReader[]> {
    const readers: RunReader[] = [];
    try {
      for (const run of runs) {
        const reader = await this.#io.openRunReader(run, {
          owner: "count-merge-input",
          readAheadSegments: 1,
        });
        this.#readers.add(reader);
        readers.push(reader);
      }
    } catch (error) {
      await this.#closeReaders(readers);
      throw error;
    }
    return readers;
  }

  async #closeReaders(readers: readonly RunReader[]): Promise<void> {
    for (const reader of readers) {
      this.#readers.delete(reader);
      await reader.close();
    }
  }

  /**
   * Count order after spills: stream the summed words into a second table sorted by
   * (count desc, word), spilling `[~count][word]` runs when it fills, then merge those.
   */
  async #countOrder(
    emit: RecordEmitter,
    floorCount: number,
    lines?: CountLineOutput,
  ): Promise<void> {
    const countRuns: SpillRun[] = [];
    const floorRuns: SpillRun[] = [];
    let phase2: CountTable | undefined;
    try {
      const plan = await this.#planCountOrder(lines);
      this.#beginPhase("merge", this.#runs);
      const readers = await this.#openReaders(this.#runs);
      let noFloorWords = false;
      try {
        // Readers reserve their scratch (a page, or a long word's) lazily: it stays free.
        const table = new CountTable(this.#memory, {
          buddy: plan.orderBuddy,
          recordPagesMax: plan.orderPages - plan.arenaPages,
          owner: "count-order",
        });
        this.#useSpillKernel(table);
        phase2 = table;
        noFloorWords = await this.#sumIntoCountOrder(readers, plan, floorCount, {
          table,
          countRuns,
          floorRuns,
        });
      } finally {
        await this.#closeReaders(readers);
      }
      if (!plan.remerge) { for (const run of this.#runs.splice(0)) await this.#io.deleteRun(run); }
      await this.#emitCountOrder(phase2, countRuns, emit, floorRuns, lines);
      phase2 = undefined;
      if (!plan.remerge) {
        // Then the floor words, in word order.
        await this.#printFloorRun(floorRuns, floorCount, emit, lines);
      } else if (noFloorWords) {
        for (const run of this.#runs.splice(0)) await this.#io.deleteRun(run);
      } else {
        await this.#printFloorWords(emit, floorCount, lines!);
      }
    } finally {
      phase2?.close();
      this.#closeOrderArena();
      for (const run of countRuns) await this.#io.deleteRun(run);
      for (const run of floorRuns) await this.#io.deleteRun(run);
    }
  }

  /**
   * Count order's memory plan: frees the first table, merges the word runs down to what the
   * second-phase table leaves room for, and opens that table's arena.
   */
  async #planCountOrder(lines: CountLineOutput | undefined): Promise<CountOrderPlan> {
    // Free the first table and its bucket arena; the second phase gets an arena sized to
    // what the readers leave.
    await this.#spillTable();
    this.#closeTable();
    this.#closeArena();
    this.#reserveSumScratch();
    // Split the free pages between the merge readers and the second-phase table (two
    // writers: the count-order spills and the floor run, which has no write-behind). The
    // table gets half of what the readers' long-word scratch leaves, but no more than lets
    // two readers merge (tiny budgets), and at least a few pages.
    const writerPages = WRITER_PAGES + 1 + SCRATCH_PAGES;
    const freeSegments = this.#memory.freeSegments - writerPages;
    const longScratchPages = this.#readerPages(this.#runs) - READER_PAGES * this.#runs.length;
    const tablePages = Math.max(
      ORDER_TABLE_PAGES_MIN,
      Math.min(
        Math.floor((freeSegments - longScratchPages) / 2),
        freeSegments - longScratchPages - 2 * READER_PAGES,
      ),
    );
    await this.#reduceRuns(this.#runs, true, {
      fanInMax: this.#fanInMax,
      keepPages: writerPages + tablePages,
    });
    // The summing merge kernel's pages (state, output) come out of what the table would
    // get beyond its planned share; without them to spare, the JS merge sums.
    const plainPages = this.#memory.freeSegments - writerPages - this.#readerPages(this.#runs);
    const sumPages = kernelSumMergeSegments(this.#memory.segmentBytes, this.#runs.length);
    const kernelPages = this.#sumKernelFits(this.#runs) && plainPages - sumPages >= tablePages
      ? sumPages
      : 0;
    const orderPages = plainPages - kernelPages;
    const arenaPages = Math.max(1, Math.floor(orderPages * ARENA_SHARE));
    if (orderPages - arenaPages < 1) {
      throw new ResourceError(
        `Cannot sort counts with ${this.#memory.freeSegments} free segments; raise --memory (-S)`,
      );
    }
    return {
      kernelPages,
      remerge: kernelPages > 0 && lines !== undefined,
      orderPages,
      arenaPages,
      orderBuddy: this.#openOrderArena(arenaPages),
    };
  }

  /**
   * Count order's summing merge of the word runs: words above `floorCount` go into the
   * second-phase table (spilling count runs), the floor words to a run of their own, or, when
   * the kernels write the lines (`plan.remerge`), nowhere: a second merge prints them.
   *
   * @returns Whether no word was counted exactly `floorCount` times (only with `remerge`).
   */
  async #sumIntoCountOrder(
    readers: RunReader[],
    plan: CountOrderPlan,
    floorCount: number,
    into: { table: CountTable; countRuns: SpillRun[]; floorRuns: SpillRun[] },
  ): Promise<boolean> {
    const { table, countRuns } = into;
    // Words counted exactly `floorCount` times (the lowest count that is printed: most
    // words of a high-cardinality input) come last in count order, and among themselves
    // in word order: the merge already yields them so, so they go straight to a run of
    // their own instead of through the sort. When the kernels write the output lines,
    // they skip that run: the kernel merge skips them here and prints them from a second
    // merge of the same runs at the end (a read of the runs instead of a write and a read
    // of the floor run).
    if (plan.remerge) {
      return !await this.#sumAboveFloor(
        readers,
        -plan.kernelPages,
        floorCount,
        (bytes, offset, length, count) =>
          this.#addCountOrder(table, countRuns, bytes, offset, length, count),
      );
    }
    await this.#writeRun(
      async (floor) => {
        // The merge scratch holds the current word while the table spills: records are
        // encoded in a buffer of their own.
        const sumEmit: RecordEmitter = (bytes, offset, length, count) => {
          this.#tick(length + COUNT_BYTES);
          if (count < floorCount) return undefined;
          if (count === floorCount) {
            writeCount(bytes, offset + length, count); // the scratch has room for it
            return floor.writeRecord(bytes, offset, length + COUNT_BYTES);
          }
          return this.#addCountOrder(table, countRuns, bytes, offset, length, count);
        };
        if (plan.kernelPages === 0) {
          await mergeSummingCounts(readers, this.#scratch, sumEmit);
          return;
        }
        // The count formatter kernel copies the floor words' records from the merge's
        // blocks into the floor run's blocks; the others stop it and go to sumEmit.
        const split: CountLineOutput = {
          format: FormatCountsFormat.records,
          minCount: floorCount,
          maxCount: floorCount,
          room: () => floor.blockRoom,
          write: (bytes, offset, length, lineCount) => {
            floor.writeRecords(bytes, offset, length, lineCount);
            return undefined;
          },
          noted: (_lineCount, recordBytes) => this.#tick(recordBytes),
        };
        await this.#sumRuns(readers, this.#runs, -plan.kernelPages, sumEmit, split);
      },
      into.floorRuns,
      0,
    );
    return false;
  }

  /** Prints the floor run's words (each counted `floorCount` times), in word order. */
  async #printFloorRun(
    floorRuns: SpillRun[],
    floorCount: number,
    emit: RecordEmitter,
    lines: CountLineOutput | undefined,
  ): Promise<void> {
    const floorReaders = await this.#openReaders(floorRuns);
    try {
      // With `lines`, the summing merge kernel reads the run's blocks (one input: it sums
      // nothing) and the count formatter kernel writes them: no JS per word.
      const floorKernel = lines !== undefined && this.#sumKernelFits(floorRuns) &&
        this.#memory.freeSegments - floorRuns.length >=
          kernelSumMergeSegments(this.#memory.segmentBytes, floorRuns.length);
      if (floorKernel) {
        await mergeSummingCountsKernel(floorReaders, (bytes, offset, length, count) => {
          this.#tick(length + COUNT_BYTES);
          return emit(bytes, offset, length, count);
        }, {
          memory: this.#memory,
          owner: "count-merge-kernel",
          expectedRecords: floorRuns[0]!.recordCount,
          lines,
        });
        this.#kernelSumMerges += 1;
        return;
      }
      const reader = floorReaders[0]!;
      for (;;) {
        let more = reader.next();
        if (more instanceof Promise) more = await more;
        if (!more) break;
        this.#tick(reader.recordLength);
        const pending = emit(
          reader.recordBytes,
          reader.recordOffset,
          reader.recordLength - COUNT_BYTES,
          floorCount,
        );
        if (pending) await pending;
      }
    } finally {
      await this.#closeReaders(floorReaders);
    }
  }

  /**
   * Count order's first merge when the kernels write the lines: sums the word runs on the
   * kernel, which skips the words counted at most `floorCount` times; the others go to `emit`.
   *
   * @returns Whether any word was counted at most `floorCount` times (false: every word is
   *   above the floor, each counted at least twice, say, and the second merge would print
   *   nothing).
   */
  async #sumAboveFloor(
    readers: readonly RunReader[],
    keepPages: number,
    floorCount: number,
    emit: RecordEmitter,
  ): Promise<boolean> {
    const skip: CountLineOutput = {
      format: FormatCountsFormat.records,
      minCount: floorCount + 1, // nothing is copied: counts up to the floor are skipped,
      maxCount: floorCount, // and those above stop the kernel for sumEmit
      write: () => undefined,
      noted: (_lineCount, recordBytes) => this.#tick(recordBytes),
    };
    let aboveFloor = 0;
    const sumEmit: RecordEmitter = (bytes, offset, length, count) => {
      this.#tick(length + COUNT_BYTES);
      if (count <= floorCount) return undefined;
      aboveFloor += 1;
      return emit(bytes, offset, length, count);
    };
    const words = await this.#sumRuns(readers, this.#runs, keepPages, sumEmit, skip);
    return words !== aboveFloor;
  }

  /**
   * Count order's last part when the kernels write the lines: the words counted exactly
   * `floorCount` times, in word order, from a second summing merge of the word runs (the
   * formatter kernel prints those at the floor and skips the others); then the runs go.
   */
  async #printFloorWords(
    emit: RecordEmitter,
    floorCount: number,
    lines: CountLineOutput,
  ): Promise<void> {
    this.#beginPhase("write", this.#runs);
    const readers = await this.#openReaders(this.#runs);
    try {
      // Words above the floor were printed already; a floor word whose line is longer than a
      // page comes here.
      const floorEmit: RecordEmitter = (bytes, offset, length, count) => {
        this.#tick(length + COUNT_BYTES);
        if (count !== floorCount) return undefined;
        return emit(bytes, offset, length, count);
      };
      const kernelPages = kernelSumMergeSegments(this.#memory.segmentBytes, this.#runs.length);
      if (this.#memory.freeSegments - this.#runs.length >= kernelPages) {
        await mergeSummingCountsKernel(readers, floorEmit, {
          memory: this.#memory,
          owner: "count-merge-kernel",
          expectedRecords: this.#runs.reduce((sum, run) => sum + run.recordCount, 0),
          lines: { ...lines, maxCount: floorCount },
        });
        this.#kernelSumMerges += 1;
      } else {
        await mergeSummingCounts(readers, this.#scratch, floorEmit);
      }
    } finally {
      await this.#closeReaders(readers);
    }
    for (const run of this.#runs.splice(0)) await this.#io.deleteRun(run);
  }

  /** Adds a word to the count-order table, spilling it when full. */
  #addCountOrder(
    table: CountTable,
    countRuns: SpillRun[],
    bytes: Uint8Array,
    offset: number,
    length: number,
    count: number,
  ): Promise<void> | undefined {
    if (table.add(bytes, offset, length, count)) return undefined;
    if (length > table.wordBytesMax) {
      // A run of its own, `[~count][word]` written in two parts: no copy of the word.
      const prefix = this.#countBytes;
      encodeCountOrderRecord(prefix, bytes, offset, 0, count);
      return this.#writeRun(
        (writer) => writer.writeRecordParts(prefix, 0, COUNT_BYTES, bytes, offset, length),
        countRuns,
      );
    }
    return this.#spillCountOrder(table, countRuns).then(() => {
      if (!table.add(bytes, offset, length, count)) {
        throw new ResourceError(
          `Cannot fit a word of ${length} bytes in the count-order table; raise --memory (-S)`,
        );
      }
    });
  }

  /**
   * Emits the count-order table (in memory, or spilled and merged) and closes it; with `lines`,
   * a table the kernels sorted is written by the `formatSorted` kernel.
   */
  async #emitCountOrder(
    table: CountTable,
    countRuns: SpillRun[],
    emit: RecordEmitter,
    floorRuns: readonly SpillRun[],
    lines?: CountLineOutput,
  ): Promise<void> {
    try {
      if (countRuns.length === 0) {
        // Usually the words counted more than the lowest count, a few percent of a
        // high-cardinality input's: the kernel sorts them (the JS sort was 5% of that count).
        const kernel = table.entryCount >= KERNEL_SORT_ENTRIES_MIN && table.sortKernel("count");
        if (!kernel) table.sort("count");
        this.#beginPhase("write", floorRuns);
        if (kernel && lines !== undefined) {
          await this.#writeSortedLines(table, lines.format, lines.minCount, lines.write);
          return;
        }
        while (table.nextSorted()) {
          this.#tick(table.recordLength);
          const pending = emit(
            table.recordBytes,
            table.recordOffset,
            table.recordLength - COUNT_BYTES,
            table.count,
          );
          if (pending) await pending;
        }
        return;
      }
      if (table.entryCount > 0) await this.#spillCountOrder(table, countRuns);
    } finally {
      table.close();
    }
    // The last phase: the bucket arena's pages serve the readers.
    this.#closeOrderArena();
    await this.#reduceRuns(countRuns, false, {
      fanInMax: this.#fanInMax,
      keepPages: SCRATCH_PAGES,
    });
    // The last phase writes these runs, then the floor run.
    this.#beginPhase("write", [...countRuns, ...floorRuns]);
    const finalReaders = await this.#openReaders(countRuns);
    try {
      await mergeRecords(finalReaders, (bytes, offset, length) => {
        this.#tick(length);
        const count = decodeCountOrderCount(bytes, offset);
        return emit(bytes, offset + COUNT_BYTES, length - COUNT_BYTES, count);
      });
    } finally {
      await this.#closeReaders(finalReaders);
    }
  }

  /** Sorts a count-order table by (count desc, word) and spills it as `[~count][word]`. */
  async #spillCountOrder(table: CountTable, into: SpillRun[]): Promise<void> {
    if (table.usesSpillKernel) {
      await this.#writeRun(
        async (writer) => {
          await table.spillSorted("count", writer);
        },
        into,
        0,
      );
      table.reset();
      this.#stats.countOrderRuns += 1;
      return;
    }
    table.sort("count");
    await this.#writeRun(async (writer) => {
      while (table.nextSorted()) {
        const length = table.recordLength - COUNT_BYTES;
        const record = this.#encode.ensure(table.recordLength);
        encodeCountOrderRecord(record, table.recordBytes, table.recordOffset, length, table.count);
        const pending = writer.writeRecord(record, 0, table.recordLength);
        if (pending) await pending;
      }
    }, into);
    table.reset();
    this.#stats.countOrderRuns += 1;
  }

  /**
   * Takes the count-order table's bucket arena. It is sized for a table of every word (a third
   * of the free pages) and stays mostly unwritten where the words sit at the floor (nearly
   * unique tokens): placed high, it leaves the pages the count touched to the merge's readers
   * and carries, whose number grows with the runs (1 GiB of unique lines, 112 runs: 339 pages,
   * 6 MiB of RSS).
   */
  #openOrderArena(arenaPages: number): BuddyAllocator {
    this.#orderBuddy = new BuddyAllocator(this.#memory, {
      segmentCount: arenaPages,
      owner: "count-order-buckets",
      placement: "high",
    });
    return this.#orderBuddy;
  }

  /** Gives the count-order table's bucket arena back (idempotent). */
  #closeOrderArena(): void {
    this.#orderBuddy?.close();
    this.#orderBuddy = undefined;
  }

  /** Gives the bucket arena back once no table will be made again (its stats are kept). */
  #closeArena(): void {
    if (this.#buddyStats !== undefined) return;
    this.#buddyStats = this.#buddy.stats();
    this.#buddy.close();
  }

  #closeTable(): void {
    if (this.#table !== undefined && !this.#tableClosed) {
      this.#tableClosed = true;
      this.#stats.tableGrowths += this.#table.growCount;
      this.#table.close();
    }
  }

  /**
   * Releases every page, the arena and the scratch buffers, aborts writers and deletes runs.
   * Idempotent; call it on success and on failure.
   *
   * @throws {MemoryLeakError} If a bucket block is still held (a bug).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const reader of [...this.#readers]) await reader.close().catch(() => {});
    for (const writer of [...this.#writers]) await writer.abort().catch(() => {});
    for (const run of this.#runs.splice(0)) await this.#io.deleteRun(run).catch(() => {});
    this.#closeTable();
    this.#closeOrderArena();
    this.#releaseKernel();
    this.#kernelInvalidBytes(); // keep the count past the table
    this.#table = undefined;
    this.#scratch.close();
    this.#encode.close();
    this.#closeArena();
    this.#stats.buddy = this.#buddyStats;
  }
}

import { assert } from "../base/mod.ts";

/**
 * The state blocks the stepping kernels (gather, merge step, tokenize + count) keep in the
 * shared memory: each thread passes its own block by offset, so the module itself holds no
 * mutable state. These classes are typed views of such a block (u32 words, little-endian).
 *
 * @module
 */

/** What a stepping kernel returned. */
export const KernelStatus = {
  /** All input consumed (gather: every entry written; count: every byte scanned). */
  done: 0,
  /** gather, merge: the output block is full; give a new one and call again. */
  outputFull: 1,
  /** merge: input `inputAsking` has no complete record left: refill or finish it. */
  needInput: 2,
  /** merge: input `inputAsking` ends inside a record or holds a bad varint. */
  corrupt: 3,
} as const;

/** What the tokenize + count kernel returned (the token at `position` was not counted). */
export const CountStatus = {
  /** Every byte of the range was scanned. */
  done: 0,
  /** A new word needs a bucket beyond `entryLimit`: grow the buckets (or raise the limit). */
  needBuckets: 1,
  /** A new word's record does not fit the pages given: add a page to the page table. */
  needPage: 2,
  /** The token is longer than `wordBytesMax`. */
  tooLong: 3,
  /** `countAddTable`: the entry's count is too large for the kernel; add it another way. */
  addSlow: 4,
  /** `countAddTable`: the counts added would reach 2^32 in one call; call again. */
  addAgain: 5,
} as const;

function wordsView(memory: WebAssembly.Memory, byteOffset: number, words: number): Uint32Array {
  assert(byteOffset % 4 === 0, `kernel state offset ${byteOffset} is not 4-byte aligned`);
  assert(
    byteOffset >= 0 && byteOffset + words * 4 <= memory.buffer.byteLength,
    `kernel state [${byteOffset}, +${words * 4}) is outside the memory`,
  );
  return new Uint32Array(memory.buffer, byteOffset, words);
}

/** Where a sorted index and its records are, for {@linkcode GatherState.start}. */
export interface GatherInput {
  /** Byte offset of the sorted index (16-byte entries). */
  indexOffset: number;
  /** Entries to write. */
  recordCount: number;
  /** Byte offset of the page table (u32 byte offset of each segment's page). */
  pageTableOffset: number;
  /** log2 of the segment size. */
  segmentShift: number;
  /**
   * `gatherKeyed` only: the keys end with the line itself (the last resort), so the stored
   * key leaves that copy out (docs/spill-format.md). Bit 8 of word 4.
   */
  lineEndsKey?: boolean;
  /**
   * `gather` only: each entry's prefix words are its record's first 8 bytes (zero padded:
   * plain byte order), so a record of at most 8 bytes is written from them and never read
   * (its read is a cache miss). Bit 9 of word 4.
   */
  prefixHoldsRecord?: boolean;
  /** With `prefixHoldsRecord`: the prefix words are inverted (`-r`). Bit 10 of word 4. */
  prefixInverted?: boolean;
}

/**
 * State of the gather kernel:
 * ```
 * word 0 index  1 count  2 next entry  3 page table  4 shift | flags  5 out pos  6 out end
 * word 7 encoding bytes of the next entry already written (it continues in the next block)
 * word 8 the kernel's own (what its read-ahead read, so that no compiler drops the reads)
 * ```
 */
export class GatherState {
  /** Bytes of the block. */
  static readonly BYTES = 48;
  /** Byte offset of the block in the memory. */
  readonly byteOffset: number;
  readonly #words: Uint32Array;

  /**
   * A view of the block at `byteOffset`.
   *
   * @param memory The shared memory.
   * @param byteOffset 4-byte aligned offset of {@linkcode GatherState.BYTES} bytes.
   */
  constructor(memory: WebAssembly.Memory, byteOffset: number) {
    this.byteOffset = byteOffset;
    this.#words = wordsView(memory, byteOffset, GatherState.BYTES / 4);
  }

  /** Starts a gather of a sorted index (no output block yet). */
  start(input: GatherInput): void {
    const w = this.#words;
    w[0] = input.indexOffset;
    w[1] = input.recordCount;
    w[2] = 0;
    w[3] = input.pageTableOffset;
    w[4] = input.segmentShift | (input.lineEndsKey === true ? 0x100 : 0) |
      (input.prefixHoldsRecord === true ? 0x200 : 0) | (input.prefixInverted === true ? 0x400 : 0);
    w[5] = 0;
    w[6] = 0;
    w[7] = 0;
  }

  /** Gives the kernel the output range `[byteOffset, byteEnd)` (a block's payload). */
  setOutput(byteOffset: number, byteEnd: number): void {
    // Called per block: the message is built only on failure (a string per call otherwise).
    if (byteOffset > byteEnd) assert(false, `bad output range [${byteOffset}, ${byteEnd})`);
    this.#words[5] = byteOffset;
    this.#words[6] = byteEnd;
  }

  /** Where the kernel stopped writing. */
  get outputOffset(): number {
    return this.#words[5]!;
  }

  /** Entries fully written. */
  get writtenCount(): number {
    return this.#words[2]!;
  }

  /** Encoding bytes of the next entry already written (0: none). */
  get pendingBytes(): number {
    return this.#words[7]!;
  }
}

/**
 * State of the merge step kernel for `inputCount` inputs:
 * ```
 * word 0 inputCount  1 out pos  2 out end  3 flags (bit 0 reverse, bit 1 keyed records,
 *   bit 2 their keys end with the line, stored once)
 * word 4 pending input (0xffffffff none)
 * word 5 encoding bytes of the pending record written  6 input asking  7 records merged
 * byte 32 + 32 i: input i: pos, end, finished; the rest is the kernel's (head, length, prefix)
 * byte 32 + 32 k: the loser tree, k words (the kernel's)
 * ```
 */
export class MergeState {
  /** Inputs merged. */
  readonly inputCount: number;
  /** Byte offset of the block in the memory. */
  readonly byteOffset: number;
  readonly #words: Uint32Array;

  /** Bytes of the block for `inputCount` inputs. */
  static bytes(inputCount: number): number {
    return 32 + 32 * inputCount + 4 * inputCount;
  }

  /**
   * A view of the block at `byteOffset`; call {@linkcode MergeState.start} before use.
   *
   * @param memory The shared memory.
   * @param options Where the block is and how many inputs it merges.
   */
  constructor(memory: WebAssembly.Memory, options: { byteOffset: number; inputCount: number }) {
    assert(options.inputCount >= 1, `a merge needs at least one input, not ${options.inputCount}`);
    this.inputCount = options.inputCount;
    this.byteOffset = options.byteOffset;
    this.#words = wordsView(memory, options.byteOffset, MergeState.bytes(options.inputCount) / 4);
  }

  /**
   * Resets the block: every input empty and not finished, no output, nothing pending.
   * `keyed` (merge to lines only): the records are a keyed run's, compared by their keys.
   */
  start(options: { reverse: boolean; keyed?: boolean; lineEndsKey?: boolean }): void {
    const w = this.#words;
    w.fill(0);
    w[0] = this.inputCount;
    w[3] = (options.reverse ? 1 : 0) | (options.keyed === true ? 2 : 0) |
      (options.lineEndsKey === true ? 4 : 0);
    w[4] = 0xffff_ffff;
  }

  /** Gives input `input` the records in `[byteOffset, byteEnd)`; `finished`: no more follow. */
  setInput(input: number, range: { byteOffset: number; byteEnd: number; finished: boolean }): void {
    if (!(input >= 0 && input < this.inputCount)) assert(false, `no merge input ${input}`);
    assert(range.byteOffset <= range.byteEnd, `bad input range`);
    const at = 8 + 8 * input;
    this.#words[at] = range.byteOffset;
    this.#words[at + 1] = range.byteEnd;
    this.#words[at + 2] = range.finished ? 1 : 0;
  }

  /** Where input `input`'s next record starts (its unread bytes are `[inputOffset, inputEnd)`). */
  inputOffset(input: number): number {
    return this.#words[8 + 8 * input]!;
  }

  /** The end of input `input`'s bytes. */
  inputEnd(input: number): number {
    return this.#words[8 + 8 * input + 1]!;
  }

  /** Gives the kernel the output range `[byteOffset, byteEnd)`. */
  setOutput(byteOffset: number, byteEnd: number): void {
    // Called per block: the message is built only on failure (a string per call otherwise).
    if (byteOffset > byteEnd) assert(false, `bad output range [${byteOffset}, ${byteEnd})`);
    this.#words[1] = byteOffset;
    this.#words[2] = byteEnd;
  }

  /** Where the kernel stopped writing. */
  get outputOffset(): number {
    return this.#words[1]!;
  }

  /** The input that status `needInput` or `corrupt` names. */
  get inputAsking(): number {
    return this.#words[6]!;
  }

  /** Records merged so far (modulo 2^32). */
  get mergedCount(): number {
    return this.#words[7]!;
  }

  /** Whether a record is half-written (it continues in the next output block). */
  get hasPending(): boolean {
    return this.#words[4] !== 0xffff_ffff;
  }
}

/** The table and input of {@linkcode CountState.start}. */
export interface CountSetup {
  /**
   * `letters` ([A-Za-z]+), `whitespace` (runs of non-space bytes) or `line` (each line without
   * its \n; only {@linkcode KernelSet.countScan} knows it).
   */
  kind: "letters" | "whitespace" | "line" | "words" | "flink";
  /** Fold ASCII upper case (`words`: Unicode lower case; `flink` always lowers). */
  lower: boolean;
  /** Byte offset of the bucket array (i32 pairs [hash, pointer + 1]). */
  bucketsOffset: number;
  /** Buckets in it (a power of two). */
  bucketCount: number;
  /** New words are refused (needBuckets) beyond this many entries. */
  entryLimit: number;
  /** Byte offset of the page table (u32 byte offset of each record page). */
  pageTableOffset: number;
  /** Page size in bytes (a power of two). */
  segmentBytes: number;
  /**
   * Byte offset of a scratch: `words`, `flink`: at least `segmentBytes` (the folded token);
   * `whitespace`, `letters`: at least `segmentBytes` or {@linkcode COUNT_BATCH_SCRATCH_BYTES},
   * whichever is less (a batch of tokens); `line`: none.
   */
  scratchOffset: number;
  /** The Unicode tables of `words` (see {@linkcode CountUnicodeTables}); 0 offsets otherwise. */
  unicode?: CountUnicodeTables;
}

/** Where the `words` tokenizer's Unicode tables lie in the memory (src/count/unicode_tables.ts). */
export interface CountUnicodeTables {
  /** Byte offset of the i32 [start, end] pairs of letters and digits (sorted, disjoint). */
  wordRangesOffset: number;
  /** Pairs there. */
  wordRangeCount: number;
  /** Byte offset of the i32 [start, end, delta, stride] lower-case ranges (sorted). */
  lowerRangesOffset: number;
  /** Quadruples there. */
  lowerRangeCount: number;
}

const KIND_NUMBERS = { letters: 0, whitespace: 1, line: 2, words: 3, flink: 4 } as const;

/**
 * Scratch bytes `countScan` needs for `whitespace` and `letters` when segments are larger: it
 * counts in batches (a batch of tokens found and hashed, then probed), kept in the scratch.
 */
export const COUNT_BATCH_SCRATCH_BYTES = 512;

/**
 * State of the tokenize + count kernel:
 * ```
 * word 0 pos  1 end  2 kind (0 letters, 1 whitespace, 2 line, 3 words, 4 flink)  3 lower
 * word 4 buckets  5 bucket mask  6 entries  7 entry limit  8 page table  9 pages in it
 * word 10 current page (-1 none)  11 write offset in the page  12 segment bytes  13 page shift
 * word 14 tokens counted  15 scratch  16 word bytes max  17 invalid UTF-8 bytes (words)
 * word 18 word ranges  19 their count  20 lower-case ranges  21 their count
 * ```
 */
export class CountState {
  /** Bytes of the block. */
  static readonly BYTES = 88;
  /** Byte offset of the block in the memory. */
  readonly byteOffset: number;
  readonly #words: Uint32Array;

  /**
   * A view of the block at `byteOffset`.
   *
   * @param memory The shared memory.
   * @param byteOffset 4-byte aligned offset of {@linkcode CountState.BYTES} bytes.
   */
  constructor(memory: WebAssembly.Memory, byteOffset: number) {
    this.byteOffset = byteOffset;
    this.#words = wordsView(memory, byteOffset, CountState.BYTES / 4);
  }

  /** Starts an empty table (no pages yet, no input). */
  start(setup: CountSetup): void {
    const b = setup.bucketCount;
    assert(b >= 1 && (b & (b - 1)) === 0, `bucket count ${b} is not a power of two`);
    const s = setup.segmentBytes;
    assert(s >= 64 && (s & (s - 1)) === 0, `segment size ${s} is not a power of two >= 64`);
    const w = this.#words;
    w.fill(0);
    w[2] = KIND_NUMBERS[setup.kind];
    w[3] = setup.lower ? 1 : 0;
    w[4] = setup.bucketsOffset;
    w[5] = b - 1;
    w[7] = setup.entryLimit;
    w[8] = setup.pageTableOffset;
    w[10] = 0xffff_ffff;
    w[12] = s;
    w[13] = Math.log2(s) - 2;
    w[15] = setup.scratchOffset;
    w[16] = s - 12;
    if (setup.unicode !== undefined) this.setUnicode(setup.unicode);
  }

  /** Gives the `words` kernel its Unicode tables. */
  setUnicode(unicode: CountUnicodeTables): void {
    const w = this.#words;
    w[18] = unicode.wordRangesOffset;
    w[19] = unicode.wordRangeCount;
    w[20] = unicode.lowerRangesOffset;
    w[21] = unicode.lowerRangeCount;
  }

  /** Bytes of invalid UTF-8 the `words` kernel skipped (they separate words), modulo 2^32. */
  get invalidBytes(): number {
    return this.#words[17]!;
  }

  /** Gives the kernel the text `[byteOffset, byteEnd)` (whole lines: tokens never span calls). */
  setInput(byteOffset: number, byteEnd: number): void {
    if (byteOffset > byteEnd) assert(false, `bad input range [${byteOffset}, ${byteEnd})`);
    this.#words[0] = byteOffset;
    this.#words[1] = byteEnd;
  }

  /** Where the scan stopped (the refused token's start, or the end). */
  get position(): number {
    return this.#words[0]!;
  }

  /** Distinct words in the table. */
  get entryCount(): number {
    return this.#words[6]!;
  }

  /** Most entries before a new word is refused with `needBuckets`. */
  get entryLimit(): number {
    return this.#words[7]!;
  }

  set entryLimit(value: number) {
    this.#words[7] = value;
  }

  /** Pages in the page table the kernel may use. */
  get pageCount(): number {
    return this.#words[9]!;
  }

  set pageCount(value: number) {
    this.#words[9] = value;
  }

  /** Tokens counted (modulo 2^32). */
  get tokenCount(): number {
    return this.#words[14]!;
  }

  /** Longest word a record can hold (a record fits one page). */
  get wordBytesMax(): number {
    return this.#words[16]!;
  }

  /**
   * Sets the table's fill (a table the host also adds to): entries, pages in the page table,
   * the current page (-1: none yet) and the write offset in it.
   */
  setTable(
    fill: { entryCount: number; pageCount: number; page: number; writeOffset: number },
  ): void {
    const w = this.#words;
    w[6] = fill.entryCount;
    w[9] = fill.pageCount;
    w[10] = fill.page < 0 ? 0xffff_ffff : fill.page;
    w[11] = fill.writeOffset;
  }

  /** The current record page (-1: none yet). */
  get page(): number {
    return this.#words[10]! | 0;
  }

  /** The write offset in the current page. */
  get writeOffset(): number {
    return this.#words[11]!;
  }

  /** Byte offset of the bucket array. */
  get bucketsOffset(): number {
    return this.#words[4]!;
  }

  /** Buckets in the array. */
  get bucketCount(): number {
    return this.#words[5]! + 1;
  }

  /** Points the table at a new bucket array (after {@linkcode KernelSet.countRehash}). */
  setBuckets(bucketsOffset: number, bucketCount: number): void {
    assert(
      bucketCount >= 1 && (bucketCount & (bucketCount - 1)) === 0,
      `bucket count ${bucketCount} is not a power of two`,
    );
    this.#words[4] = bucketsOffset;
    this.#words[5] = bucketCount - 1;
  }
}

/** Where the records of an index live, for the sort kernels. */
export interface IndexLayout {
  /** Byte offset of the page table: u32 byte offset of segment s's page at `4 * s`. */
  pageTableOffset: number;
  /** log2 of the segment size (address = segmentIndex << shift | byteOffset). */
  segmentShift: number;
  /** Descending byte order (the prefix words are stored inverted). */
  reverse: boolean;
  /** Byte offset of {@linkcode SORT_SCRATCH_BYTES} bytes the sort may overwrite. */
  scratchOffset: number;
}

/** Where the key of each record lies, for {@linkcode KernelSet.sortBytesIndex}. */
export interface BytesIndexLayout extends IndexLayout {
  /** Key start inside the record (0 for whole lines). */
  keyOffset: number;
  /** Key length for fixed-size records, or -1: the key is the whole record. */
  keyBytes: number;
}

/** A bucket array of the count table, for {@linkcode KernelSet.countRehash}. */
export interface BucketArray {
  /** Byte offset (8-byte buckets). */
  byteOffset: number;
  /** Buckets (a power of two for the target). */
  bucketCount: number;
}

/** Scratch bytes the sort kernels need: radix bucket starts and cursors, a range stack. */
export const SORT_SCRATCH_BYTES: number = (65536 + 1) * 4 + 65536 * 4 + 128 * 12;

/**
 * The kernels, as the WebAssembly module and the TypeScript reference both implement them.
 * Every argument is a byte offset into the shared memory (or a count): kernels get offsets,
 * never objects.
 */
export interface KernelSet {
  /**
   * Sorts `count` 16-byte index entries at `indexOffset` by memcmp of a byte key, then address
   * (today's `sortBytesIndex`; the prefix words are rewritten on the way).
   */
  sortBytesIndex(indexOffset: number, count: number, layout: BytesIndexLayout): void;
  /**
   * Sorts `count` entries by their prefix words, then the whole record in byte order (reversed
   * for `reverse`), then address: the result of today's `sortIndex` with the plain-bytes tie
   * compare. The prefixes must be the plain-bytes ones (the record's first 8 bytes, inverted for
   * `reverse`). The kernel gets there by the multikey sort with address ties, then restores the
   * prefix words.
   */
  sortIndex(indexOffset: number, count: number, layout: IndexLayout): void;
  /** {@linkcode KernelSet.sortIndex} by today's algorithm (quicksort with full-record ties). */
  sortIndexQuicksort(indexOffset: number, count: number, layout: IndexLayout): void;
  /** Runs the gather of the {@linkcode GatherState} at `stateOffset`; a {@linkcode KernelStatus}. */
  gather(stateOffset: number): number;
  /**
   * {@linkcode KernelSet.gather} of keyed records (`[key][key length][line]`, the entry at the
   * line) into a keyed run's payload: varint(body), varint(key length + 1; 0 when the record
   * has no stored key), key, line (docs/spill-format.md).
   */
  gatherKeyed(stateOffset: number): number;
  /** Runs the merge step of the {@linkcode MergeState} at `stateOffset`. */
  mergeStep(stateOffset: number): number;
  /** Runs the merge to lines of the `MergeLinesState` at `stateOffset` (merge_lines_state.ts). */
  mergeLines(stateOffset: number): number;
  /**
   * Runs the merge of text of the `MergeLinesState` at `stateOffset` (assembly/merge_text.ts):
   * the inputs are whole lines, each ending with the terminator, not block payloads.
   */
  mergeText(stateOffset: number): number;
  /** Runs the summing merge of the `MergeSumState` at `stateOffset` (merge_sum_state.ts). */
  mergeSum(stateOffset: number): number;
  /** Formats the count records of the `FormatCountsState` at `stateOffset` (format_counts_state.ts). */
  formatCounts(stateOffset: number): number;
  /**
   * Formats the lines of a kernel-sorted count table, the `FormatSortedState` at `stateOffset`
   * (format_sorted_state.ts).
   */
  formatSorted(stateOffset: number): number;
  /** Counts the tokens of the {@linkcode CountState} at `stateOffset`; a {@linkcode CountStatus}. */
  countTokens(stateOffset: number): number;
  /**
   * {@linkcode KernelSet.countTokens} by count v2's loop (no copy of a repeated token; kind
   * `line`, `words`, `flink` too); the same table afterwards, byte for byte. Only `words` and
   * `flink` use the scratch.
   */
  countScan(stateOffset: number): number;
  /** Re-inserts the pairs of `from` into the zeroed bucket array `to`. */
  countRehash(from: BucketArray, to: BucketArray): void;
}

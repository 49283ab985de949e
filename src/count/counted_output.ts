import { assert } from "../base/mod.ts";
import type { OutputSink } from "../io/mod.ts";
import { CountFormatter } from "./count_format.ts";
import { FormatCountsFormat, type WasmKernels } from "../kernels/mod.ts";
import type { MemoryManager, SegmentLease } from "../memory/mod.ts";

/** Bytes of the `countLines` kernel's state at the start of the area. */
const STATE_BYTES = 96;
/** The state's u32 words (format_counts.ts, `countLines`). */
const IN_POS = 0;
const IN_END = 1;
const OUT_POS = 2;
const OUT_END = 3;
const FORMAT = 4;
const CARRY_PTR = 5;
const CARRY_LENGTH = 6;
const CARRY_AREA = 7;
const HAS_CARRY = 8;
const FINAL = 9;
const LINES_WRITTEN = 10;
/** The carry's count, a u64 at this u32 word. */
const CARRY_COUNT = 12;
/** Groups counted fewer times are not written: a u64 at this u32 word. */
const MIN_COUNT = 14;
/** Groups counted more times go to the keyed output (0: none): a u64 at this u32 word. */
const SPLIT_COUNT = 16;
const KEYED_POS = 18;
const KEYED_END = 19;
/** A keyed line's key: `~count` as this many hex digits. */
const KEY_DIGITS = 16;
/** `countLines`' status: the keyed output is full. */
const KEYED_FULL = 2;

/**
 * Which groups a {@linkcode CountedOutput} writes, and where (count order:
 * count_order_via_sort.ts).
 */
export interface CountedOutputSplit {
  /** Groups counted fewer times are not written (1: all). */
  minCount: number;
  /**
   * Groups counted more than `minCount` times go here as keyed lines (`~count` as 16 hex
   * digits, then the word: their byte order is count order) instead of the output; undefined:
   * every group goes to the output.
   */
  aboveMin?: Pick<OutputSink, "write">;
  /** The lines written are sorted keyed lines: each is written as its count line. */
  keyed?: boolean;
}

/**
 * The output of count's sort route (count_via_sort.ts): it counts equal neighbours of the
 * sorted lines written to it and writes each distinct line once with its count (the
 * `countLines` kernel, in a `FormatCountsFormat`: tsv, uniq or csv), as `sort | uniq -c` does.
 *
 * ```
 * area: [state 96 B | output (rest of page 0)] ([keyed output: a page]) [carry: longest line]
 *       [stage: longest line]
 * ```
 *
 * Lines the sort writes from the shared memory (its merge's output regions) are counted where
 * they lie; a line cut by a write, or written from elsewhere, is staged first. The kernel keeps
 * the last line of a call in the carry (its group may go on in the next call). A count line
 * that does not fit the output page (a word of half a page and more) is written by
 * {@linkcode CountedOutput} itself, straight from the carry: no copy of a long word beyond the
 * carry and the stage.
 *
 * With a {@linkcode CountedOutputSplit} (count order) groups below its minimum are not written,
 * those above it go to its `aboveMin` output as keyed lines (a keyed line longer than its page
 * also straight from the carry), and with `keyed` the lines written are sorted keyed lines,
 * each written as its count line (the `keyedLines` kernel).
 */
export class CountedOutput {
  readonly #sink: OutputSink;
  readonly #kernels: WasmKernels;
  readonly #lease: SegmentLease;
  readonly #memory: MemoryManager;
  readonly #state: number;
  readonly #outStart: number;
  readonly #outEnd: number;
  readonly #stageStart: number;
  /** The stage (a view of the shared memory: valid while the area is held). */
  readonly #stage: Uint8Array;
  /** Small scratch for a long keyed line's key and LF. */
  readonly #scratch = new Uint8Array(32);
  /** Writes the count lines that do not fit the output page (from where their word lies). */
  readonly #longLines: CountFormatter;
  readonly #aboveMin: Pick<OutputSink, "write"> | undefined;
  readonly #keyed: boolean;
  readonly #keyedStart: number;
  #staged = 0;
  /** Lines written (the kernel's counter is a u32 that wraps; this one does not). */
  #linesWritten = 0;

  /**
   * Pages of the area for lines of at most `lineBytesMax` bytes: the state and the output page,
   * with `aboveMin` ({@linkcode CountedOutputSplit}) the keyed output's page, the carry and the
   * stage (a longest line each).
   *
   * @param segmentBytes The page size.
   * @param lineBytesMax The longest line (without its LF).
   * @param aboveMin Whether groups above the minimum go to a keyed output.
   * @returns Pages.
   */
  static segmentsFor(segmentBytes: number, lineBytesMax: number, aboveMin = false): number {
    return (aboveMin ? 2 : 1) + 2 * CountedOutput.#lineSegments(segmentBytes, lineBytesMax);
  }

  static #lineSegments(segmentBytes: number, lineBytesMax: number): number {
    return Math.ceil((lineBytesMax + 1) / segmentBytes);
  }

  /**
   * @param sink The real output.
   * @param memory The budget.
   * @param kernels This thread's kernels over the budget's memory.
   * @param format A `FormatCountsFormat`: tsv, uniq or csv.
   * @param area Contiguous pages, {@linkcode CountedOutput.segmentsFor} of them; released by
   *   {@linkcode CountedOutput.commit} and {@linkcode CountedOutput.abort}.
   * @param split Which groups are written where (default: all to `sink`).
   */
  constructor(
    sink: OutputSink,
    memory: MemoryManager,
    kernels: WasmKernels,
    format: number,
    area: SegmentLease,
    split?: CountedOutputSplit,
  ) {
    assert(
      format === FormatCountsFormat.tsv || format === FormatCountsFormat.uniq ||
        format === FormatCountsFormat.csv,
      `the counted output writes tsv, uniq or csv, not format ${format}`,
    );
    this.#sink = sink;
    this.#memory = memory;
    this.#kernels = kernels;
    this.#lease = area;
    this.#longLines = new CountFormatter(
      sink,
      format === FormatCountsFormat.tsv
        ? "tsv"
        : format === FormatCountsFormat.uniq
        ? "uniq"
        : "csv",
    );
    this.#aboveMin = split?.aboveMin;
    this.#keyed = split?.keyed ?? false;
    const page = memory.segmentBytes;
    const pages = area.segments.reduce((sum, segment) => sum + segment.bytes.length, 0) / page;
    const keyedPages = this.#aboveMin === undefined ? 0 : 1;
    const lineSegments = (pages - 1 - keyedPages) / 2;
    assert(Number.isInteger(lineSegments) && lineSegments >= 1, "a counted output's area");
    const base = area.segments[0]!.bytes.byteOffset;
    this.#state = base;
    this.#outStart = base + STATE_BYTES;
    this.#outEnd = base + page;
    this.#keyedStart = this.#outEnd;
    const carryArea = this.#keyedStart + keyedPages * page;
    this.#stageStart = carryArea + lineSegments * page;
    this.#stage = new Uint8Array(memory.wasmMemory.buffer, this.#stageStart, lineSegments * page);
    const words = this.#words();
    words.fill(0);
    words[FORMAT] = format;
    words[CARRY_AREA] = carryArea;
    const counts = new BigUint64Array(memory.wasmMemory.buffer, base, STATE_BYTES / 8);
    counts[MIN_COUNT / 2] = BigInt(split?.minCount ?? 1);
    counts[SPLIT_COUNT / 2] = this.#aboveMin === undefined ? 0n : BigInt(split!.minCount);
  }

  /** Appends sorted lines (any cut). */
  async write(bytes: Uint8Array, byteOffset: number, byteLength: number): Promise<void> {
    let from = byteOffset;
    const end = byteOffset + byteLength;
    if (this.#staged === 0 && bytes.buffer === this.#memory.wasmMemory.buffer) {
      // Lines in the managed memory (the merge's output regions): counted where they are.
      const complete = bytes.subarray(from, end).lastIndexOf(10) + 1;
      if (complete > 0) {
        await this.#count(bytes.byteOffset + from, bytes.byteOffset + from + complete, false);
        from += complete;
      }
    }
    const stage = this.#stage;
    while (from < end) {
      const room = stage.length - this.#staged;
      if (room === 0) {
        await this.#flush(false);
        continue;
      }
      const take = Math.min(room, end - from);
      if (take <= 16) {
        for (let i = 0; i < take; i += 1) stage[this.#staged + i] = bytes[from + i]!;
      } else {
        stage.set(bytes.subarray(from, from + take), this.#staged);
      }
      this.#staged += take;
      from += take;
    }
  }

  /** Appends one byte (no allocation). */
  writeByte(byte: number): Promise<void> | undefined {
    if (this.#staged < this.#stage.length) {
      this.#stage[this.#staged] = byte;
      this.#staged += 1;
      return undefined;
    }
    return this.#flush(false).then(() => this.writeByte(byte));
  }

  /** Writes the last group, commits the real output and releases the area. */
  async commit(): Promise<void> {
    try {
      await this.#flush(true);
      await this.#sink.commit();
    } finally {
      this.#release();
    }
  }

  /** Drops the output and releases the area; idempotent. */
  async abort(): Promise<void> {
    this.#release();
    await this.#sink.abort();
  }

  /** Lines written so far (count lines and keyed lines: the distinct words printed). */
  get linesWritten(): number {
    return this.#linesWritten;
  }

  #release(): void {
    if (!this.#lease.isReleased) this.#lease.release();
  }

  #words(): Uint32Array {
    return new Uint32Array(this.#memory.wasmMemory.buffer, this.#state, STATE_BYTES / 4);
  }

  /** Runs the kernel over the staged complete lines, keeps a cut line for the next write. */
  async #flush(final: boolean): Promise<void> {
    const stage = this.#stage;
    const complete = stage.subarray(0, this.#staged).lastIndexOf(10) + 1;
    assert(complete > 0 || !final || this.#staged === 0, "the counted output ends in a cut line");
    assert(complete > 0 || final, "a line longer than the counted output's stage");
    await this.#count(this.#stageStart, this.#stageStart + complete, final);
    stage.copyWithin(0, complete, this.#staged);
    this.#staged -= complete;
  }

  /** Counts the lines at [start, end) of the memory (final: writes the last group too). */
  async #count(start: number, end: number, final: boolean): Promise<void> {
    const words = this.#words();
    words[IN_POS] = start;
    words[IN_END] = end;
    words[FINAL] = final ? 1 : 0;
    const all = new Uint8Array(this.#memory.wasmMemory.buffer);
    while (true) {
      words[OUT_POS] = this.#outStart;
      words[OUT_END] = this.#outEnd;
      words[KEYED_POS] = this.#keyedStart;
      words[KEYED_END] = this.#keyedStart + this.#memory.segmentBytes;
      const linesBefore = words[LINES_WRITTEN]!;
      const status = this.#keyed
        ? this.#kernels.keyedLines(this.#state)
        : this.#kernels.countLines(this.#state);
      this.#linesWritten += (words[LINES_WRITTEN]! - linesBefore) >>> 0;
      const written = words[OUT_POS]! - this.#outStart;
      if (written > 0) await this.#sink.write(all, this.#outStart, written);
      const keyed = words[KEYED_POS]! - this.#keyedStart;
      if (keyed > 0) await this.#aboveMin!.write(all, this.#keyedStart, keyed);
      if (status === 0) break;
      // An output page is full; when nothing fit in it, the line is longer than the page.
      const toKeyed = status === KEYED_FULL;
      if ((toKeyed ? keyed : written) === 0) await this.#writeLongLine(words, all, toKeyed);
    }
  }

  /**
   * Writes the line that does not fit its output page, and drops it: the carried group's (as a
   * keyed line when `toKeyed`), or with `keyed` the keyed line the input is at.
   */
  async #writeLongLine(words: Uint32Array, all: Uint8Array, toKeyed: boolean): Promise<void> {
    if (this.#keyed) {
      const at = words[IN_POS]!;
      const stop = all.indexOf(10, at);
      assert(stop !== -1 && stop < words[IN_END]!, "a keyed line without its end");
      const key = BigInt(`0x${new TextDecoder().decode(all.subarray(at, at + KEY_DIGITS))}`);
      words[IN_POS] = stop + 1;
      const word = at + KEY_DIGITS;
      await this.#writeCountLine(all, word, stop - word, Number(BigInt.asUintN(64, ~key)));
    } else {
      assert(words[HAS_CARRY] === 1, "the counted output's page cannot hold a short line");
      const count = words[CARRY_COUNT]! + words[CARRY_COUNT + 1]! * 2 ** 32;
      words[HAS_CARRY] = 0;
      const word = words[CARRY_PTR]!;
      const wordLength = words[CARRY_LENGTH]!;
      if (toKeyed) await this.#writeKeyedLine(all, word, wordLength, count);
      else await this.#writeCountLine(all, word, wordLength, count);
    }
    this.#linesWritten += 1;
  }

  /** Writes a keyed line (`~count` in 16 hex digits, the word, LF) to the keyed output. */
  async #writeKeyedLine(all: Uint8Array, word: number, wordLength: number, count: number) {
    const sink = this.#aboveMin!;
    const key = BigInt.asUintN(64, ~BigInt(count)).toString(16).padStart(KEY_DIGITS, "0");
    await sink.write(this.#ascii(key), 0, KEY_DIGITS);
    await sink.write(all, word, wordLength);
    await sink.write(this.#ascii("\n"), 0, 1);
  }

  /** Writes the count line of `word` in the format. */
  async #writeCountLine(all: Uint8Array, word: number, wordLength: number, count: number) {
    await this.#longLines.word(all, word, wordLength, count);
  }

  /** `text` (ASCII, at most 32 characters) in the scratch. */
  #ascii(text: string): Uint8Array {
    const scratch = this.#scratch;
    for (let i = 0; i < text.length; i += 1) scratch[i] = text.charCodeAt(i);
    return scratch;
  }
}

import { assert } from "../base/mod.ts";
import type { OutputSink } from "../io/mod.ts";
import { FormatCountsFormat, type WasmKernels } from "../kernels/mod.ts";
import type { MemoryManager, SegmentLease } from "../memory/mod.ts";

/** Bytes of the `countLines` kernel's state at the start of the area. */
const STATE_BYTES = 64;
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
/** Width of `uniq -c`'s count column. */
const UNIQ_WIDTH = 7;

/**
 * The output of count's sort route (count_via_sort.ts): it counts equal neighbours of the
 * sorted lines written to it and writes each distinct line once with its count (the
 * `countLines` kernel, in a `FormatCountsFormat`: tsv, uniq or csv), as `sort | uniq -c` does.
 *
 * ```
 * area: [state 64 B | output (rest of page 0)] [carry: longest line] [stage: longest line]
 * ```
 *
 * Lines the sort writes from the shared memory (its merge's output regions) are counted where
 * they lie; a line cut by a write, or written from elsewhere, is staged first. The kernel keeps
 * the last line of a call in the carry (its group may go on in the next call). A count line
 * that does not fit the output page (a word of half a page and more) is written by
 * {@linkcode CountedOutput} itself, straight from the carry: no copy of a long word beyond the
 * carry and the stage.
 */
export class CountedOutput {
  readonly #sink: OutputSink;
  readonly #kernels: WasmKernels;
  readonly #lease: SegmentLease;
  readonly #memory: MemoryManager;
  readonly #format: number;
  readonly #state: number;
  readonly #outStart: number;
  readonly #outEnd: number;
  readonly #stageStart: number;
  /** The stage (a view of the shared memory: valid while the area is held). */
  readonly #stage: Uint8Array;
  /** Small scratch for a long line's count and separators. */
  readonly #scratch = new Uint8Array(32);
  #staged = 0;
  /** Lines written (the kernel's counter is a u32 that wraps; this one does not). */
  #linesWritten = 0;

  /**
   * Pages of the area for lines of at most `lineBytesMax` bytes: the state and the output page,
   * the carry and the stage (a longest line each).
   *
   * @param segmentBytes The page size.
   * @param lineBytesMax The longest line (without its LF).
   * @returns Pages.
   */
  static segmentsFor(segmentBytes: number, lineBytesMax: number): number {
    return 1 + 2 * CountedOutput.#lineSegments(segmentBytes, lineBytesMax);
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
   */
  constructor(
    sink: OutputSink,
    memory: MemoryManager,
    kernels: WasmKernels,
    format: number,
    area: SegmentLease,
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
    this.#format = format;
    const page = memory.segmentBytes;
    const pages = area.segments.reduce((sum, segment) => sum + segment.bytes.length, 0) / page;
    const lineSegments = (pages - 1) / 2;
    assert(Number.isInteger(lineSegments) && lineSegments >= 1, "a counted output's area");
    const base = area.segments[0]!.bytes.byteOffset;
    this.#state = base;
    this.#outStart = base + STATE_BYTES;
    this.#outEnd = base + page;
    const carryArea = this.#outEnd;
    this.#stageStart = carryArea + lineSegments * page;
    this.#stage = new Uint8Array(memory.wasmMemory.buffer, this.#stageStart, lineSegments * page);
    const words = this.#words();
    words.fill(0);
    words[FORMAT] = format;
    words[CARRY_AREA] = carryArea;
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

  /** Lines written so far (distinct lines). */
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
    while (true) {
      words[OUT_POS] = this.#outStart;
      words[OUT_END] = this.#outEnd;
      const linesBefore = words[LINES_WRITTEN]!;
      const status = this.#kernels.countLines(this.#state);
      this.#linesWritten += (words[LINES_WRITTEN]! - linesBefore) >>> 0;
      const written = words[OUT_POS]! - this.#outStart;
      if (written > 0) {
        await this.#sink.write(
          new Uint8Array(this.#memory.wasmMemory.buffer),
          this.#outStart,
          written,
        );
      }
      if (status === 0) break;
      // The output page is full; when nothing fit, the carried group's line is longer than it.
      if (written === 0) await this.#writeLongLine(words);
    }
  }

  /** Writes the carried group's line, which does not fit the output page, and drops it. */
  async #writeLongLine(words: Uint32Array): Promise<void> {
    assert(words[HAS_CARRY] === 1, "the counted output's page cannot hold a short line");
    const all = new Uint8Array(this.#memory.wasmMemory.buffer);
    const word = words[CARRY_PTR]!;
    const wordLength = words[CARRY_LENGTH]!;
    const count = words[CARRY_COUNT]! + words[CARRY_COUNT + 1]! * 2 ** 32;
    const sink = this.#sink;
    const digits = String(count);
    if (this.#format === FormatCountsFormat.uniq) {
      const head = digits.padStart(UNIQ_WIDTH) + " ";
      await sink.write(this.#ascii(head), 0, head.length);
      await sink.write(all, word, wordLength);
    } else if (this.#format === FormatCountsFormat.tsv) {
      await sink.write(all, word, wordLength);
    } else {
      await this.#writeCsvField(all, word, wordLength);
    }
    const tail = this.#format === FormatCountsFormat.uniq
      ? "\n"
      : `${this.#format === FormatCountsFormat.tsv ? "\t" : ","}${digits}\n`;
    await sink.write(this.#ascii(tail), 0, tail.length);
    words[HAS_CARRY] = 0;
    this.#linesWritten += 1;
  }

  /** A csv field of a long word: quoted, its quotes doubled, when it holds `,` `"` CR or LF. */
  async #writeCsvField(all: Uint8Array, word: number, wordLength: number): Promise<void> {
    const end = word + wordLength;
    let quoted = false;
    for (let i = word; i < end && !quoted; i += 1) {
      const byte = all[i]!;
      quoted = byte === 0x2c || byte === 0x22 || byte === 10 || byte === 13;
    }
    if (!quoted) {
      await this.#sink.write(all, word, wordLength);
      return;
    }
    const quote = this.#ascii('"');
    await this.#sink.write(quote, 0, 1);
    let from = word;
    for (let at = all.indexOf(0x22, word); at !== -1 && at < end; at = all.indexOf(0x22, at + 1)) {
      await this.#sink.write(all, from, at + 1 - from);
      from = at; // the quote again: doubled
    }
    await this.#sink.write(all, from, end - from);
    await this.#sink.write(quote, 0, 1);
  }

  /** `text` (ASCII, at most 32 characters) in the scratch. */
  #ascii(text: string): Uint8Array {
    const scratch = this.#scratch;
    for (let i = 0; i < text.length; i += 1) scratch[i] = text.charCodeAt(i);
    return scratch;
  }
}

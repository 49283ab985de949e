import { assert, UsageError } from "../base/mod.ts";
import type { MemoryManager, MemoryReservation } from "../memory/mod.ts";
import { Prng } from "./_prng.ts";
import { buildVocabulary, type Vocabulary, WORD_BYTES_MAX } from "./_vocabulary.ts";
import { ZipfSampler } from "./_zipf.ts";

/**
 * The corpora `spillway gen` makes:
 * - `text`: lines of 1 to 20 words drawn from a Zipf distribution (exponent 1) over a
 *   pseudo-word vocabulary built from syllables with the seed (50,000 words, shorter words at
 *   the frequent ranks); sometimes capitalized or all caps, sometimes followed by a comma, lines
 *   often end with `.`, `?` or `!`.
 * - `lines`: lines of 8 to 120 random printable ASCII bytes (0x20..0x7e), practically unique.
 * - `records`: 100-byte binary records in the style of the Sort Benchmark's gensort (see
 *   {@linkcode RECORD_BYTES}).
 */
export type CorpusKind = "text" | "lines" | "records";

/** Every kind, in help order. */
export const corpusKinds: readonly CorpusKind[] = ["text", "lines", "records"];

/**
 * Bytes of one `records` record:
 *
 * ```
 *  0..9    key: 10 random bytes (any value, including 0x0a)
 *  10..11  0x00 0x11
 *  12..43  row id: 32 uppercase hex digits (0-based record number)
 *  44..47  0x88 0x99 0xAA 0xBB
 *  48..95  filler: 12 groups of 4 equal hex digits, the digit of group g is (row + g) mod 16
 *  96..99  0xCC 0xDD 0xEE 0xFF
 * ```
 */
export const RECORD_BYTES = 100;

/** Key bytes at the start of each record (`sort --record-size 100 --key-bytes 10`). */
export const RECORD_KEY_BYTES = 10;

/** Words per `text` line: 1 to this many. */
export const TEXT_WORDS_MAX = 20;

/** Shortest and longest `lines` line, without the newline. */
export const LINE_BYTES_MIN = 8;
/** Longest `lines` line, without the newline. */
export const LINE_BYTES_MAX = 120;

/**
 * `text` and `lines` are made of blocks: block b is the lines drawn from stream b + 1 of the seed
 * (the vocabulary uses stream 0) up to the first line end at or past this many bytes. Blocks
 * are independent, so Workers can make them in parallel and still give the same bytes.
 */
export const LINE_BLOCK_BYTES = 256 * 1024;

/** Distinct words of the `text` vocabulary. */
export const VOCABULARY_WORDS = 50_000;

/** Options of {@linkcode CorpusGenerator}. */
export interface CorpusOptions {
  /** What to generate. */
  kind: CorpusKind;
  /**
   * Target size in bytes. `text` and `lines` stop at the first line end at or past it;
   * `records` writes ceil(sizeBytes / 100) records.
   */
  sizeBytes: number;
  /** Seed (a safe integer, default 1): equal seeds give equal bytes. */
  seed?: number;
}

const HEX_DIGITS = new TextEncoder().encode("0123456789ABCDEF");
const SPACE = 0x20;
const NEWLINE = 0x0a;
const COMMA = 0x2c;
const END_MARKS = new TextEncoder().encode("....??!");

/**
 * Deterministic corpus generator: fills caller buffers (pages) with whole lines or records,
 * never splitting one across buffers, so the bytes depend only on kind, size and seed.
 *
 * The `text` vocabulary and Zipf tables (52 bytes per word, 2.5 MiB) are reserved from the memory
 * budget; {@linkcode CorpusGenerator.release} (or `using`) gives them back.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { MemoryManager } from "../memory/mod.ts";
 * import { CorpusGenerator } from "./corpus_generator.ts";
 * const memory = new MemoryManager({ budgetBytes: 4 * 1024 * 1024 });
 * {
 *   using generator = new CorpusGenerator(memory, { kind: "records", sizeBytes: 250 });
 *   const buffer = new Uint8Array(1000);
 *   strictEqual(generator.fill(buffer, 0, buffer.length), 300);
 *   strictEqual(generator.done, true);
 * }
 * memory.assertAllReleased();
 * ```
 */
export class CorpusGenerator implements Disposable {
  /** What it generates. */
  readonly kind: CorpusKind;
  /** The target size in bytes. */
  readonly sizeBytes: number;
  /** The seed. */
  readonly seed: number;
  /** The most bytes one line or record can take: a buffer must hold at least this many. */
  readonly unitBytesMax: number;
  readonly #prng: Prng;
  readonly #vocabulary: Vocabulary | undefined;
  readonly #zipf: ZipfSampler | undefined;
  #reservation: MemoryReservation | undefined;
  #bytesGenerated = 0;
  #unitsGenerated = 0;
  #recordsLeft: number;
  #rowId = 0;
  #blockIndex = 0;
  #blockBytes = 0;
  /** Set by seekBlock: stop at the end of the current block. */
  #blockOnly = false;
  #blockDone = false;

  /**
   * Creates a generator; `text` builds its vocabulary and Zipf tables here.
   *
   * @param memory The budget the `text` tables are reserved from.
   * @param options Kind, size and seed.
   * @throws {UsageError} On a bad size or seed.
   * @throws {MemoryBudgetError} If the `text` tables do not fit the budget.
   */
  constructor(memory: MemoryManager, options: CorpusOptions) {
    const seed = options.seed ?? 1;
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new UsageError(`Invalid seed ${seed}: expected a whole number from 0 up`);
    }
    if (!Number.isSafeInteger(options.sizeBytes) || options.sizeBytes < 0) {
      throw new UsageError(`Invalid corpus size ${options.sizeBytes} bytes: expected 0 or more`);
    }
    this.kind = options.kind;
    this.sizeBytes = options.sizeBytes;
    this.seed = seed;
    // Records use stream 0; text and lines start with block 0 (stream 1).
    this.#prng = new Prng(seed, options.kind === "records" ? 0 : 1);
    this.#recordsLeft = Math.ceil(options.sizeBytes / RECORD_BYTES);
    this.#reservation = undefined;
    if (options.kind === "text") {
      // Reserve first, so a budget that is too small fails before any work.
      const tableBytes = VOCABULARY_WORDS * (WORD_BYTES_MAX + 4 + 16 + 4);
      this.#reservation = memory.reserve("gen-vocabulary", tableBytes);
      this.#vocabulary = buildVocabulary(new Prng(seed, 0), VOCABULARY_WORDS);
      this.#zipf = new ZipfSampler(VOCABULARY_WORDS, 1);
      assert(
        this.#vocabulary.bytes.byteLength + this.#vocabulary.starts.byteLength +
            this.#vocabulary.rows.byteLength + this.#zipf.tableBytes <= tableBytes,
        "text tables exceed their reservation",
      );
      // Each word: itself, a comma, a space; plus the end mark and the newline.
      // (+ 8: the last word's two int32 stores may reach 8 bytes past its start.)
      this.unitBytesMax = TEXT_WORDS_MAX * (WORD_BYTES_MAX + 2) + 2 + 8;
    } else {
      this.#vocabulary = undefined;
      this.#zipf = undefined;
      this.unitBytesMax = options.kind === "lines" ? LINE_BYTES_MAX + 1 : RECORD_BYTES;
    }
  }

  /** Bytes generated so far. */
  get bytesGenerated(): number {
    return this.#bytesGenerated;
  }

  /** Lines (`text`, `lines`) or records (`records`) generated so far. */
  get unitsGenerated(): number {
    return this.#unitsGenerated;
  }

  /** Whether the target size (after {@linkcode CorpusGenerator.seekBlock}: the block) is done. */
  get done(): boolean {
    if (this.kind === "records") return this.#recordsLeft === 0;
    return this.#blockOnly ? this.#blockDone : this.#bytesGenerated >= this.sizeBytes;
  }

  /**
   * Makes this generator produce exactly block `block` of its `text` or `lines` corpus (see
   * {@linkcode LINE_BLOCK_BYTES}), then report `done`; the size is ignored from now on. For
   * parallel generation: concatenating blocks 0, 1, 2, ... and cutting at the first line end at
   * or past the size gives the same bytes as one generator.
   *
   * @param block The block index (0-based).
   */
  seekBlock(block: number): void {
    assert(this.kind !== "records", "records have no blocks");
    assert(Number.isSafeInteger(block) && block >= 0 && block < 0xffff_ffff, `bad block ${block}`);
    this.#blockIndex = block;
    this.#blockBytes = 0;
    this.#blockOnly = true;
    this.#blockDone = false;
    this.#prng.reset(this.seed, block + 1);
  }

  /** Probability of the most frequent `text` word (for tests); 0 for other kinds. */
  get topWordProbability(): number {
    return this.#zipf?.topProbability ?? 0;
  }

  /**
   * Writes whole lines or records into `buffer[byteOffset, byteOffset + byteLength)` until the
   * next one might not fit or the target is reached.
   *
   * @returns Bytes written (0 once {@linkcode CorpusGenerator.done}).
   */
  fill(buffer: Uint8Array, byteOffset: number, byteLength: number): number {
    assert(
      byteLength >= this.unitBytesMax,
      `Buffer of ${byteLength} bytes cannot hold a ${this.kind} unit of up to ${this.unitBytesMax}`,
    );
    assert(byteOffset + byteLength <= buffer.length, "fill range is outside the buffer");
    let written: number;
    if (this.kind === "text") written = this.#fillText(buffer, byteOffset, byteOffset + byteLength);
    else if (this.kind === "lines") {
      written = this.#fillLines(buffer, byteOffset, byteOffset + byteLength);
    } else written = this.#fillRecords(buffer, byteOffset, byteOffset + byteLength);
    this.#bytesGenerated += written;
    return written;
  }

  /** Gives the `text` tables' reservation back; idempotent. */
  release(): void {
    this.#reservation?.release();
    this.#reservation = undefined;
  }

  /** Same as {@linkcode CorpusGenerator.release}. */
  [Symbol.dispose](): void {
    this.release();
  }

  #fillText(buffer: Uint8Array, start: number, limit: number): number {
    const prng = this.#prng;
    const zipf = this.#zipf!;
    const table = zipf.table;
    const columnScale = zipf.columnScale;
    const { bytes: words, rows } = this.#vocabulary!;
    const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    const lastStart = limit - this.unitBytesMax;
    const target = this.#blockOnly ? Number.POSITIVE_INFINITY : this.sizeBytes;
    let generated = this.#bytesGenerated;
    let blockBytes = this.#blockBytes;
    let position = start;
    // xorshift128 inlined on locals (the same steps as Prng.nextU32), stored back below.
    let x = prng.x;
    let y = prng.y;
    let z = prng.z;
    let w = prng.w;
    let t = 0;
    let lines = 0;
    while (position <= lastStart && generated < target && !this.#blockDone) {
      const lineStart = position;
      t = x ^ (x << 11);
      x = y;
      y = z;
      z = w;
      w = w ^ (w >>> 19) ^ t ^ (t >>> 8);
      const wordCount = 1 + (((w >>> 0) * (TEXT_WORDS_MAX / 0x1_0000_0000)) | 0);
      let firstWord = 1;
      for (let wordIndex = 0; wordIndex < wordCount; wordIndex += 1) {
        // Draw 1: the alias column. Draw 2: its high half picks column or alias (as in
        // ZipfSampler.sample), its low half decorates the word.
        t = x ^ (x << 11);
        x = y;
        y = z;
        z = w;
        w = w ^ (w >>> 19) ^ t ^ (t >>> 8);
        const column = ((w >>> 0) * columnScale) | 0;
        t = x ^ (x << 11);
        x = y;
        y = z;
        z = w;
        w = w ^ (w >>> 19) ^ t ^ (t >>> 8);
        const entry = table[column]!;
        const rank = (w >>> 16) < (entry >>> 16) ? column : entry & 0xffff;
        const decoration = w & 0xffff;
        const row = 4 * rank;
        const first = position;
        // Case: a line's first word half the time, else 1 in 64 words capitalized and 1 in 1024
        // in capitals. (Branch-free: ((d & 0x7e) + 2) >>> 7 is 1 exactly when d & 0x7e is 0x7e.)
        // The first letter is the low byte of the little-endian head: subtracting 0x20 from the
        // int32 capitalizes it (a lowercase letter never borrows).
        const capital = (((decoration & 0x7e) + 2) >>> 7) | (firstWord & ~decoration & 1);
        firstWord = 0;
        // Most words fit 8 bytes: write them as two unaligned int32 (the slack past the word is
        // inside the unit reserve and is overwritten next); longer words copy the rest.
        view.setInt32(position, rows[row]! - (capital << 5), true);
        view.setInt32(position + 4, rows[row + 1]!, true);
        const wordBytes = rows[row + 3]!;
        if (wordBytes <= 8) {
          position += wordBytes;
        } else {
          const wordEnd = rows[row + 2]! + wordBytes;
          position += 8;
          for (let index = rows[row + 2]! + 8; index < wordEnd; index += 1) {
            buffer[position++] = words[index]!;
          }
        }
        if ((decoration & 0x3ff) === 0x3fd) {
          for (let index = first; index < position; index += 1) {
            buffer[index] = buffer[index]! - 0x20;
          }
        }
        if (wordIndex + 1 < wordCount) {
          if (((decoration >>> 10) & 31) === 0) buffer[position++] = COMMA;
          buffer[position++] = SPACE;
        } else {
          const mark = (decoration >>> 13) & 7;
          if (mark < END_MARKS.length) buffer[position++] = END_MARKS[mark]!;
        }
      }
      buffer[position++] = NEWLINE;
      generated += position - lineStart;
      lines += 1;
      blockBytes += position - lineStart;
      if (blockBytes >= LINE_BLOCK_BYTES) {
        blockBytes = 0;
        if (this.#blockOnly) {
          this.#blockDone = true;
        } else {
          this.#blockIndex += 1;
          prng.reset(this.seed, this.#blockIndex + 1);
          x = prng.x;
          y = prng.y;
          z = prng.z;
          w = prng.w;
        }
      }
    }
    this.#blockBytes = blockBytes;
    this.#unitsGenerated += lines;
    prng.x = x;
    prng.y = y;
    prng.z = z;
    prng.w = w;
    return position - start;
  }

  #fillLines(buffer: Uint8Array, start: number, limit: number): number {
    const prng = this.#prng;
    const lastStart = limit - this.unitBytesMax;
    const target = this.#blockOnly ? Number.POSITIVE_INFINITY : this.sizeBytes;
    let generated = this.#bytesGenerated;
    let position = start;
    let lines = 0;
    while (position <= lastStart && generated < target && !this.#blockDone) {
      const lineStart = position;
      const lineBytes = LINE_BYTES_MIN + prng.below(LINE_BYTES_MAX - LINE_BYTES_MIN + 1);
      const lineEnd = position + lineBytes;
      // Four bytes per draw: each byte b of the u32 maps to 0x20 + floor(b * 95 / 256).
      while (position < lineEnd) {
        let random = prng.nextU32();
        const stop = lineEnd - position < 4 ? lineEnd : position + 4;
        while (position < stop) {
          buffer[position++] = 0x20 + (((random & 0xff) * 95) >>> 8);
          random >>>= 8;
        }
      }
      buffer[position++] = NEWLINE;
      generated += position - lineStart;
      lines += 1;
      this.#blockBytes += position - lineStart;
      if (this.#blockBytes >= LINE_BLOCK_BYTES) {
        this.#blockBytes = 0;
        if (this.#blockOnly) {
          this.#blockDone = true;
        } else {
          this.#blockIndex += 1;
          prng.reset(this.seed, this.#blockIndex + 1);
        }
      }
    }
    this.#unitsGenerated += lines;
    return position - start;
  }

  #fillRecords(buffer: Uint8Array, start: number, limit: number): number {
    const prng = this.#prng;
    let position = start;
    while (position + RECORD_BYTES <= limit && this.#recordsLeft > 0) {
      const rowId = this.#rowId;
      const k0 = prng.nextU32();
      const k1 = prng.nextU32();
      const k2 = prng.nextU32();
      buffer[position] = k0 >>> 24;
      buffer[position + 1] = k0 >>> 16;
      buffer[position + 2] = k0 >>> 8;
      buffer[position + 3] = k0;
      buffer[position + 4] = k1 >>> 24;
      buffer[position + 5] = k1 >>> 16;
      buffer[position + 6] = k1 >>> 8;
      buffer[position + 7] = k1;
      buffer[position + 8] = k2 >>> 24;
      buffer[position + 9] = k2 >>> 16;
      buffer[position + 10] = 0x00;
      buffer[position + 11] = 0x11;
      // Row id as 128-bit hex: 16 zero digits, then the high and low 32-bit halves.
      for (let index = 12; index < 28; index += 1) buffer[position + index] = HEX_DIGITS[0]!;
      const high = Math.floor(rowId / 0x1_0000_0000);
      const low = rowId >>> 0;
      for (let digit = 0; digit < 8; digit += 1) {
        const shift = 28 - digit * 4;
        buffer[position + 28 + digit] = HEX_DIGITS[(high >>> shift) & 15]!;
        buffer[position + 36 + digit] = HEX_DIGITS[(low >>> shift) & 15]!;
      }
      buffer[position + 44] = 0x88;
      buffer[position + 45] = 0x99;
      buffer[position + 46] = 0xaa;
      buffer[position + 47] = 0xbb;
      for (let group = 0; group < 12; group += 1) {
        const digit = HEX_DIGITS[(low + group) & 15]!;
        const at = position + 48 + group * 4;
        buffer[at] = digit;
        buffer[at + 1] = digit;
        buffer[at + 2] = digit;
        buffer[at + 3] = digit;
      }
      buffer[position + 96] = 0xcc;
      buffer[position + 97] = 0xdd;
      buffer[position + 98] = 0xee;
      buffer[position + 99] = 0xff;
      position += RECORD_BYTES;
      this.#rowId = rowId + 1;
      this.#recordsLeft -= 1;
      this.#unitsGenerated += 1;
    }
    return position - start;
  }
}

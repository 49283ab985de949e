import { assert } from "../base/mod.ts";
import { utf8SequenceLength } from "./tokenizer.ts";
import { copyBytes } from "./copy_bytes.ts";
import { FormatCountsFormat } from "../kernels/mod.ts";

/** `--format` of `spillway count`. */
export type CountFormat = "tsv" | "csv" | "json" | "yaml" | "uniq";

/** All formats, default first. */
export const countFormats: readonly CountFormat[] = ["tsv", "csv", "json", "yaml", "uniq"];

/** Width of the count column of `uniq -c` (`%7d ` then the line). */
const UNIQ_COUNT_WIDTH = 7;

/**
 * A tsv, uniq or csv word from this many bytes goes to the sink from where it lies, not through the
 * formatter's buffer: no heap copy of a long word beside the budget (its RSS).
 */
const WORD_DIRECT_BYTES_MIN = 64 * 1024;

/** Where formatted bytes go (an `OutputSink`). */
export interface ByteSink {
  /** Writes bytes; a promise only when the sink must flush. */
  write(bytes: Uint8Array, byteOffset: number, byteLength: number): Promise<void> | undefined;
}

const HEX = new TextEncoder().encode("0123456789abcdef");
const BASE64 = new TextEncoder().encode(
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
);

/**
 * Writes `(word, count)` pairs in one of the output formats, escaping arbitrary bytes so that
 * every word round-trips (see docs/count.md):
 *
 * - `tsv`: `word<TAB>count`, the word's bytes as they are (only the `line` tokenizer can put a
 *   TAB or CR in a word, never LF; the count follows the last TAB, so no escaping is needed).
 * - `uniq`: `uniq -c`'s lines byte for byte: the count right-aligned in 7 columns (wider when
 *   it needs more), a space, the word's bytes as they are.
 * - `csv`: RFC 4180 with a `word,count` header; a word with `,` `"` CR or LF is quoted and its
 *   quotes doubled; other bytes (invalid UTF-8 too) are written as they are.
 * - `json`: an array of `{"word": ..., "count": N}` objects, one per line. Control characters
 *   are `\uXXXX` (or `\n` `\t` ...) escaped. A word that is not valid UTF-8 gets
 *   `"word"` with each invalid byte replaced by U+FFFD for reading, plus `"word_base64"`
 *   holding its exact bytes.
 * - `yaml`: a sequence of `word: "..."` / `count: N` mappings, words double-quoted with
 *   YAML escapes; a word that is not valid UTF-8 is written as `word: !!binary BASE64`.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { CountFormatter } from "./count_format.ts";
 * const chunks: Uint8Array[] = [];
 * const sink = { write(b: Uint8Array, o: number, n: number) { chunks.push(b.slice(o, o + n)); return undefined; } };
 * const formatter = new CountFormatter(sink, "json");
 * formatter.begin();
 * formatter.word(new TextEncoder().encode('say "hi"'), 0, 8, 3);
 * formatter.end();
 * const text = chunks.map((c) => new TextDecoder().decode(c)).join("");
 * strictEqual(JSON.parse(text)[0].word, 'say "hi"');
 * ```
 */
export class CountFormatter {
  /** The format in force. */
  readonly format: CountFormat;
  #sink: ByteSink;
  #buffer: Uint8Array = new Uint8Array(1024);
  #length = 0;
  #first = true;

  /**
   * Makes a formatter that writes to `sink`.
   *
   * @param sink Where the bytes go.
   * @param format The format.
   */
  constructor(sink: ByteSink, format: CountFormat) {
    this.#sink = sink;
    this.format = format;
  }

  /**
   * The count formatter kernel's code for this format (`FormatCountsFormat`: tsv, uniq, csv),
   * or undefined for the formats only this class writes (json, yaml).
   */
  get kernelFormat(): number | undefined {
    switch (this.format) {
      case "tsv":
        return FormatCountsFormat.tsv;
      case "uniq":
        return FormatCountsFormat.uniq;
      case "csv":
        return FormatCountsFormat.csv;
      default:
        return undefined;
    }
  }

  /**
   * Writes lines the count formatter kernel made in this format (after {@linkcode begin},
   * in order with {@linkcode word}); only for a format with a {@linkcode kernelFormat}.
   *
   * @param bytes Storage of the lines.
   * @param byteOffset Where they start.
   * @param byteLength Their bytes.
   * @returns A promise only when the sink must flush.
   */
  writeLines(
    bytes: Uint8Array,
    byteOffset: number,
    byteLength: number,
  ): Promise<void> | undefined {
    assert(this.kernelFormat !== undefined, `the kernel does not write ${this.format}`);
    if (byteLength === 0) return undefined;
    this.#first = false;
    return this.#sink.write(bytes, byteOffset, byteLength);
  }

  /** Writes the format's opening (CSV header, JSON `[`). */
  begin(): Promise<void> | undefined {
    if (this.format === "csv") this.#ascii("word,count\n");
    else if (this.format === "json") this.#ascii("[");
    return this.#flush();
  }

  /**
   * Writes one pair.
   *
   * @returns A promise only when the sink must flush.
   */
  word(
    bytes: Uint8Array,
    byteOffset: number,
    byteLength: number,
    count: number,
  ): Promise<void> | undefined {
    this.#length = 0;
    if (
      byteLength >= WORD_DIRECT_BYTES_MIN &&
      (this.format === "tsv" || this.format === "uniq" || this.format === "csv")
    ) {
      return this.#wordDirect(bytes, byteOffset, byteLength, count);
    }
    switch (this.format) {
      case "tsv":
        this.#raw(bytes, byteOffset, byteLength);
        this.#byte(9);
        this.#number(count);
        this.#byte(10);
        break;
      case "uniq":
        this.#numberPadded(count, UNIQ_COUNT_WIDTH);
        this.#byte(0x20);
        this.#raw(bytes, byteOffset, byteLength);
        this.#byte(10);
        break;
      case "csv":
        this.#csvField(bytes, byteOffset, byteLength);
        this.#byte(0x2c);
        this.#number(count);
        this.#byte(10);
        break;
      case "json":
        this.#ascii(this.#first ? "\n" : ",\n");
        this.#ascii('{"word": ');
        this.#jsonString(bytes, byteOffset, byteLength);
        if (!isValidUtf8(bytes, byteOffset, byteLength)) {
          this.#ascii(', "word_base64": "');
          this.#base64(bytes, byteOffset, byteLength);
          this.#byte(0x22);
        }
        this.#ascii(', "count": ');
        this.#number(count);
        this.#byte(0x7d);
        break;
      case "yaml":
        if (isValidUtf8(bytes, byteOffset, byteLength)) {
          this.#ascii("- word: ");
          this.#yamlString(bytes, byteOffset, byteLength);
        } else {
          this.#ascii("- word: !!binary ");
          this.#base64(bytes, byteOffset, byteLength);
        }
        this.#ascii("\n  count: ");
        this.#number(count);
        this.#byte(10);
        break;
    }
    this.#first = false;
    return this.#flush();
  }

  /** A long tsv, uniq or csv line: its word written to the sink from where it lies. */
  async #wordDirect(
    bytes: Uint8Array,
    byteOffset: number,
    byteLength: number,
    count: number,
  ): Promise<void> {
    if (this.format === "uniq") {
      this.#numberPadded(count, UNIQ_COUNT_WIDTH);
      this.#byte(0x20);
      await this.#flush();
    }
    if (this.format === "csv") await this.#csvFieldDirect(bytes, byteOffset, byteLength);
    else await this.#sink.write(bytes, byteOffset, byteLength);
    if (this.format !== "uniq") {
      this.#byte(this.format === "tsv" ? 9 : 0x2c);
      this.#number(count);
    }
    this.#byte(10);
    await this.#flush();
  }

  /** A long csv field written from where it lies: quoted, its quotes doubled, when needed. */
  async #csvFieldDirect(bytes: Uint8Array, byteOffset: number, byteLength: number): Promise<void> {
    const end = byteOffset + byteLength;
    if (!csvNeedsQuotes(bytes, byteOffset, end)) {
      await this.#sink.write(bytes, byteOffset, byteLength);
      return;
    }
    this.#byte(0x22);
    await this.#flush();
    let from = byteOffset;
    for (
      let at = bytes.indexOf(0x22, from);
      at !== -1 && at < end;
      at = bytes.indexOf(0x22, at + 1)
    ) {
      await this.#sink.write(bytes, from, at + 1 - from);
      from = at; // the quote again: doubled
    }
    await this.#sink.write(bytes, from, end - from);
    this.#byte(0x22);
  }

  /** Writes the format's closing (JSON `]`; YAML `[]` for an empty list). */
  end(): Promise<void> | undefined {
    this.#length = 0;
    if (this.format === "json") this.#ascii(this.#first ? "]\n" : "\n]\n");
    else if (this.format === "yaml" && this.#first) this.#ascii("[]\n");
    return this.#flush();
  }

  #flush(): Promise<void> | undefined {
    const length = this.#length;
    this.#length = 0;
    return length === 0 ? undefined : this.#sink.write(this.#buffer, 0, length);
  }

  #room(extra: number): Uint8Array {
    if (this.#length + extra > this.#buffer.length) {
      let size = this.#buffer.length * 2;
      while (size < this.#length + extra) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.#buffer.subarray(0, this.#length));
      this.#buffer = grown;
    }
    return this.#buffer;
  }

  #byte(byte: number): void {
    this.#room(1)[this.#length++] = byte;
  }

  #ascii(text: string): void {
    const buffer = this.#room(text.length);
    for (let i = 0; i < text.length; i += 1) buffer[this.#length++] = text.charCodeAt(i);
  }

  #raw(bytes: Uint8Array, byteOffset: number, byteLength: number): void {
    copyBytes(bytes, byteOffset, this.#room(byteLength), this.#length, byteLength);
    this.#length += byteLength;
  }

  #number(count: number): void {
    if (!(count >= 0 && count <= Number.MAX_SAFE_INTEGER && count === Math.floor(count))) {
      assert(false, `count ${count} is not a whole number`);
    }
    // Digits straight into the buffer, no string per record.
    let digits = 1;
    for (let rest = count; rest >= 10; rest = Math.floor(rest / 10)) digits += 1;
    const buffer = this.#room(digits);
    let at = this.#length + digits;
    let rest = count;
    do {
      at -= 1;
      const next = Math.floor(rest / 10);
      buffer[at] = 0x30 + (rest - next * 10);
      rest = next;
    } while (rest > 0);
    this.#length += digits;
  }

  #numberPadded(count: number, width: number): void {
    let digits = 1;
    for (let rest = count; rest >= 10; rest = Math.floor(rest / 10)) digits += 1;
    for (let pad = digits; pad < width; pad += 1) this.#byte(0x20);
    this.#number(count);
  }

  #csvField(bytes: Uint8Array, byteOffset: number, byteLength: number): void {
    if (!csvNeedsQuotes(bytes, byteOffset, byteOffset + byteLength)) {
      this.#raw(bytes, byteOffset, byteLength);
      return;
    }
    const buffer = this.#room(byteLength * 2 + 2);
    buffer[this.#length++] = 0x22;
    for (let i = byteOffset; i < byteOffset + byteLength; i += 1) {
      const byte = bytes[i]!;
      if (byte === 0x22) buffer[this.#length++] = 0x22;
      buffer[this.#length++] = byte;
    }
    buffer[this.#length++] = 0x22;
  }

  /** A JSON string; invalid UTF-8 bytes become U+FFFD (the exact bytes go in word_base64). */
  #jsonString(bytes: Uint8Array, byteOffset: number, byteLength: number): void {
    const buffer = this.#room(byteLength * 6 + 2);
    buffer[this.#length++] = 0x22;
    const end = byteOffset + byteLength;
    for (let i = byteOffset; i < end;) {
      const byte = bytes[i]!;
      if (byte >= 0x80) {
        const size = utf8SequenceLength(bytes, i, end);
        if (size === 0) {
          buffer[this.#length++] = 0xef; // U+FFFD
          buffer[this.#length++] = 0xbf;
          buffer[this.#length++] = 0xbd;
          i += 1;
        } else {
          for (let j = 0; j < size; j += 1) buffer[this.#length++] = bytes[i + j]!;
          i += size;
        }
        continue;
      }
      i += 1;
      if (byte === 0x22 || byte === 0x5c) {
        buffer[this.#length++] = 0x5c;
        buffer[this.#length++] = byte;
      } else if (byte < 0x20 || byte === 0x7f) {
        const short = byte === 10 ? 0x6e : byte === 9 ? 0x74 : byte === 13 ? 0x72 : 0;
        buffer[this.#length++] = 0x5c;
        if (short !== 0) {
          buffer[this.#length++] = short;
        } else {
          buffer[this.#length++] = 0x75; // \u00XX
          buffer[this.#length++] = 0x30;
          buffer[this.#length++] = 0x30;
          buffer[this.#length++] = HEX[byte >>> 4]!;
          buffer[this.#length++] = HEX[byte & 15]!;
        }
      } else {
        buffer[this.#length++] = byte;
      }
    }
    buffer[this.#length++] = 0x22;
  }

  /**
   * A YAML double-quoted scalar of valid UTF-8: `\"`, `\\`, `\xNN` for C0 controls and
   * `\uXXXX` for the code points YAML does not allow raw (C1 controls, U+2028, U+2029,
   * U+FEFF, U+FFFE, U+FFFF).
   */
  #yamlString(bytes: Uint8Array, byteOffset: number, byteLength: number): void {
    const buffer = this.#room(byteLength * 6 + 2);
    buffer[this.#length++] = 0x22;
    const end = byteOffset + byteLength;
    for (let i = byteOffset; i < end;) {
      const byte = bytes[i]!;
      if (byte >= 0x80) {
        const size = utf8SequenceLength(bytes, i, end);
        assert(size > 0, "yamlString needs valid UTF-8");
        const codePoint = size === 2
          ? ((byte & 0x1f) << 6) | (bytes[i + 1]! & 0x3f)
          : size === 3
          ? ((byte & 0x0f) << 12) | ((bytes[i + 1]! & 0x3f) << 6) | (bytes[i + 2]! & 0x3f)
          : 0x10000;
        if (
          codePoint <= 0x9f || codePoint === 0x2028 || codePoint === 0x2029 ||
          codePoint === 0xfeff || codePoint === 0xfffe || codePoint === 0xffff
        ) {
          buffer[this.#length++] = 0x5c;
          buffer[this.#length++] = 0x75;
          for (let shift = 12; shift >= 0; shift -= 4) {
            buffer[this.#length++] = HEX[(codePoint >>> shift) & 15]!;
          }
        } else {
          for (let j = 0; j < size; j += 1) buffer[this.#length++] = bytes[i + j]!;
        }
        i += size;
        continue;
      }
      i += 1;
      if (byte === 0x22 || byte === 0x5c) {
        buffer[this.#length++] = 0x5c;
        buffer[this.#length++] = byte;
      } else if (byte < 0x20 || byte === 0x7f) {
        buffer[this.#length++] = 0x5c;
        buffer[this.#length++] = 0x78;
        buffer[this.#length++] = HEX[byte >>> 4]!;
        buffer[this.#length++] = HEX[byte & 15]!;
      } else {
        buffer[this.#length++] = byte;
      }
    }
    buffer[this.#length++] = 0x22;
  }

  #base64(bytes: Uint8Array, byteOffset: number, byteLength: number): void {
    const buffer = this.#room(Math.ceil(byteLength / 3) * 4);
    const end = byteOffset + byteLength;
    let i = byteOffset;
    for (; i + 2 < end; i += 3) {
      const value = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
      buffer[this.#length++] = BASE64[value >>> 18]!;
      buffer[this.#length++] = BASE64[(value >>> 12) & 63]!;
      buffer[this.#length++] = BASE64[(value >>> 6) & 63]!;
      buffer[this.#length++] = BASE64[value & 63]!;
    }
    const rest = end - i;
    if (rest > 0) {
      const value = (bytes[i]! << 16) | (rest === 2 ? bytes[i + 1]! << 8 : 0);
      buffer[this.#length++] = BASE64[value >>> 18]!;
      buffer[this.#length++] = BASE64[(value >>> 12) & 63]!;
      buffer[this.#length++] = rest === 2 ? BASE64[(value >>> 6) & 63]! : 0x3d;
      buffer[this.#length++] = 0x3d;
    }
  }
}

/** Whether a csv field of bytes [start, end) must be quoted: it holds `,` `"` CR or LF. */
function csvNeedsQuotes(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i += 1) {
    const byte = bytes[i]!;
    if (byte === 0x2c || byte === 0x22 || byte === 10 || byte === 13) return true;
  }
  return false;
}

/**
 * Whether a byte range is valid UTF-8.
 *
 * @param bytes The bytes.
 * @param byteOffset Where the range starts.
 * @param byteLength Its length.
 * @returns True if every sequence is well formed.
 */
export function isValidUtf8(bytes: Uint8Array, byteOffset: number, byteLength: number): boolean {
  const end = byteOffset + byteLength;
  for (let i = byteOffset; i < end;) {
    if (bytes[i]! < 0x80) {
      i += 1;
      continue;
    }
    const size = utf8SequenceLength(bytes, i, end);
    if (size === 0) return false;
    i += size;
  }
  return true;
}

import { assert } from "../base/mod.ts";
import {
  COMBINING_DOT_ABOVE,
  DOTTED_CAPITAL_I,
  isWordCodePoint,
  lowerCodePoint,
  unicodeTables,
} from "./unicode_tables.ts";
import { hashBytes } from "./hash_bytes.ts";

/** The tokenizers of `spillway count --tokenizer`. */
export type TokenizerKind = "words" | "letters" | "flink" | "whitespace" | "line";

/** All tokenizer names, default first. */
export const tokenizerKinds: readonly TokenizerKind[] = [
  "words",
  "letters",
  "flink",
  "whitespace",
  "line",
];

/** The tokenizers that keep case unless told otherwise. */
export function preservesCaseByDefault(kind: TokenizerKind): boolean {
  return kind === "whitespace" || kind === "line";
}

const NEWLINE = 10;

/** `--case`: keep tokens as they are or fold them to lower case. */
export type CaseMode = "preserve" | "lower";

/** Receives tokens as byte ranges; returns false when it is full (the caller makes room). */
export interface TokenSink {
  /**
   * Takes one token. The bytes are only valid during the call.
   *
   * @param bytes The token's bytes (case-folded as asked).
   * @param byteOffset Where the token starts.
   * @param byteLength Its length.
   * @param hash `hashBytes(bytes, byteOffset, byteLength) | 0`, computed while scanning.
   * @returns False if the token was not taken because the sink is full.
   */
  addToken(bytes: Uint8Array, byteOffset: number, byteLength: number, hash: number): boolean;
}

/** Options of {@linkcode Tokenizer}. */
export interface TokenizerOptions {
  /** Which rule (default `words`). */
  kind?: TokenizerKind;
  /** Case folding (default `lower`, except `preserve` for `whitespace` and `line`). */
  caseMode?: CaseMode;
}

// ASCII classes: bit 0 = token byte for words/flink ([A-Za-z0-9_]), bit 1 = letter [A-Za-z],
// bit 2 = upper case [A-Z], bit 3 = whitespace (space, \t \n \v \f \r).
const WORD = 1;
const LETTER = 2;
const UPPER = 4;
const SPACE = 8;
const asciiClass = new Uint8Array(256);
for (let byte = 0; byte < 128; byte += 1) {
  const isUpper = byte >= 0x41 && byte <= 0x5a;
  const isLower = byte >= 0x61 && byte <= 0x7a;
  const isDigit = byte >= 0x30 && byte <= 0x39;
  let bits = 0;
  if (isUpper || isLower || isDigit || byte === 0x5f) bits |= WORD;
  if (isUpper || isLower) bits |= LETTER;
  if (isUpper) bits |= UPPER;
  if (byte === 0x20 || (byte >= 0x09 && byte <= 0x0d)) bits |= SPACE;
  asciiClass[byte] = bits;
}

/** Scratch for lower-cased tokens: starts small, grows to the longest token seen. */
const SCRATCH_BYTES_INITIAL = 4096;

/**
 * Splits bytes into tokens and hands each (case-folded as asked) to a {@linkcode TokenSink},
 * with no strings on the way.
 *
 * - `words`: runs of Unicode letters, digits (`\p{L}`, `\p{N}`) and `_` in UTF-8. Only bytes
 *   from 0x80 are decoded. Invalid UTF-8 separates words and is counted in
 *   {@linkcode Tokenizer.invalidBytes}. Lower case maps each code point on its own (no
 *   final-sigma rule; U+0130 becomes "i" + U+0307).
 * - `letters`: runs of ASCII `[A-Za-z]` (`tr -cs A-Za-z '\n'`).
 * - `flink`: Apache Flink's WordCount: lower case, then runs of `[A-Za-z0-9_]` (Java `\W+`
 *   splits). Non-ASCII separates, except U+212A KELVIN SIGN and U+0130, whose Java lower
 *   case is ASCII (`k`, `i`).
 * - `whitespace`: runs of bytes other than space, `\t \n \v \f \r`.
 * - `line`: each whole line without its `\n` (empty lines too; bytes as they are, invalid
 *   UTF-8 included), like `sort | uniq -c`. Lower case folds ASCII `A-Z` only.
 *
 * Tokens never span calls: callers pass whole lines.
 *
 * @example Usage
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { Tokenizer } from "./tokenizer.ts";
 * const seen: string[] = [];
 * const sink = { addToken(b: Uint8Array, o: number, n: number, _hash: number) {
 *   seen.push(new TextDecoder().decode(b.subarray(o, o + n)));
 *   return true;
 * } };
 * const text = new TextEncoder().encode("Größe, GRÖSSE; x_1\n");
 * new Tokenizer({ kind: "words" }).scan(text, 0, text.length, sink);
 * deepStrictEqual(seen, ["größe", "grösse", "x_1"]);
 * ```
 */
export class Tokenizer {
  /** The rule in force. */
  readonly kind: TokenizerKind;
  /** The case mode in force. */
  readonly caseMode: CaseMode;
  /** Bytes of invalid UTF-8 seen by the `words` tokenizer (they separate words). */
  invalidBytes = 0;
  /** Tokens handed to sinks (accepted ones only). */
  tokenCount = 0;
  #scratch: Uint8Array = new Uint8Array(SCRATCH_BYTES_INITIAL);
  #lower: boolean;

  /**
   * Makes a tokenizer (the `words` rule derives its Unicode tables on first use).
   *
   * @param options Rule and case mode.
   */
  constructor(options: TokenizerOptions = {}) {
    this.kind = options.kind ?? "words";
    this.caseMode = options.caseMode ??
      (preservesCaseByDefault(this.kind) ? "preserve" : "lower");
    this.#lower = this.caseMode === "lower";
    if (this.kind === "words") unicodeTables();
  }

  /** Bytes held by the scratch buffer for lower-cased tokens (grows with the longest token). */
  get scratchBytes(): number {
    return this.#scratch.length;
  }

  /**
   * Tokenizes `bytes[from, end)` into `sink`.
   *
   * @param bytes The input.
   * @param from First byte to look at (a token start or separator).
   * @param end One past the last byte; must not cut a token or a UTF-8 sequence.
   * @param sink Where tokens go.
   * @returns `end` when done, or the start of the token the sink refused: call again from there
   *   once the sink has room.
   */
  scan(bytes: Uint8Array, from: number, end: number, sink: TokenSink): number {
    assert(from >= 0 && from <= end && end <= bytes.length, `bad range [${from}, ${end})`);
    switch (this.kind) {
      case "words":
        return this.#scanWords(bytes, from, end, sink);
      case "letters":
        return this.#scanAscii(bytes, from, end, sink, LETTER);
      case "flink":
        return this.#scanFlink(bytes, from, end, sink);
      case "whitespace":
        return this.#scanWhitespace(bytes, from, end, sink);
      case "line":
        return this.#scanLines(bytes, from, end, sink);
    }
  }

  #scanAscii(bytes: Uint8Array, from: number, end: number, sink: TokenSink, mask: number): number {
    // One pass per token: find its end, fold case and compute MurmurHash3 x86_32 of the
    // folded bytes on the way (the same value as hashBytes), so no byte is read twice.
    const classes = asciiClass;
    const foldBit = this.#lower ? UPPER << 3 : 0; // UPPER (4) << 3 = 0x20, the case bit
    let i = from;
    while (i < end) {
      let bits = classes[bytes[i]!]!;
      if ((bits & mask) === 0) {
        i += 1;
        continue;
      }
      const start = i;
      let upper = 0;
      let h = 0;
      let k = 0;
      let shift = 0;
      for (;;) {
        upper |= bits;
        k |= (bytes[i]! | ((bits & UPPER) << 3 & foldBit)) << shift;
        shift += 8;
        if (shift === 32) {
          k = Math.imul(k, 0xcc9e2d51);
          k = (k << 15) | (k >>> 17);
          h ^= Math.imul(k, 0x1b873593);
          h = (h << 13) | (h >>> 19);
          h = (Math.imul(h, 5) + 0xe6546b64) | 0;
          k = 0;
          shift = 0;
        }
        i += 1;
        if (i === end) break;
        bits = classes[bytes[i]!]!;
        if ((bits & mask) === 0) break;
      }
      const length = i - start;
      if (shift !== 0) {
        k = Math.imul(k, 0xcc9e2d51);
        k = (k << 15) | (k >>> 17);
        h ^= Math.imul(k, 0x1b873593);
      }
      h ^= length;
      h ^= h >>> 16;
      h = Math.imul(h, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      h ^= h >>> 16;
      if (!this.#emitAscii(bytes, start, i, foldBit !== 0 && (upper & UPPER) !== 0, sink, h)) {
        return start;
      }
    }
    return end;
  }

  /** Hands `bytes[start, stop)` over, ASCII-lower-cased into the scratch when `fold`. */
  #emitAscii(
    bytes: Uint8Array,
    start: number,
    stop: number,
    fold: boolean,
    sink: TokenSink,
    hash: number,
  ): boolean {
    const length = stop - start;
    let accepted: boolean;
    if (fold) {
      const scratch = this.#ensureScratch(length);
      for (let j = 0; j < length; j += 1) {
        const byte = bytes[start + j]!;
        scratch[j] = byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte;
      }
      accepted = sink.addToken(scratch, 0, length, hash);
    } else {
      accepted = sink.addToken(bytes, start, length, hash);
    }
    if (accepted) this.tokenCount += 1;
    return accepted;
  }

  /** Like #emitAscii, hashing the emitted bytes afterwards (paths that do not hash inline). */
  #emitAsciiHashing(
    bytes: Uint8Array,
    start: number,
    stop: number,
    fold: boolean,
    sink: TokenSink,
  ): boolean {
    const length = stop - start;
    if (!fold) {
      return this.#emitAscii(bytes, start, stop, false, sink, hashBytes(bytes, start, length) | 0);
    }
    const scratch = this.#ensureScratch(length);
    for (let j = 0; j < length; j += 1) {
      const byte = bytes[start + j]!;
      scratch[j] = byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte;
    }
    return this.#emitAscii(scratch, 0, length, false, sink, hashBytes(scratch, 0, length) | 0);
  }

  #scanLines(bytes: Uint8Array, from: number, end: number, sink: TokenSink): number {
    // A line is everything up to its newline; bytes after the last newline of the range
    // (a final line without one) are a line too.
    const fold = this.#lower;
    let start = from;
    while (start < end) {
      let stop = bytes.indexOf(NEWLINE, start);
      if (stop === -1 || stop >= end) stop = end;
      if (!this.#emitAsciiHashing(bytes, start, stop, fold, sink)) return start;
      start = stop + 1;
    }
    return end;
  }

  #scanFlink(bytes: Uint8Array, from: number, end: number, sink: TokenSink): number {
    // Fast path per token over [A-Za-z0-9_]; a token may continue through U+212A (E2 84 AA,
    // Java lower case "k") and U+0130 (C4 B0, Java lower case "i" + U+0307, which then splits).
    const classes = asciiClass;
    let i = from;
    while (i < end) {
      if ((classes[bytes[i]!]! & WORD) === 0 && !isFlinkAsciiLowered(bytes, i, end)) {
        i += 1;
        continue;
      }
      const start = i;
      let special = false;
      let upper = 0;
      for (;;) {
        if (i >= end) break;
        const bits = classes[bytes[i]!]!;
        if ((bits & WORD) !== 0) {
          upper |= bits;
          i += 1;
        } else if (isFlinkAsciiLowered(bytes, i, end)) {
          special = true;
          if (bytes[i] === 0xc4) {
            i += 2; // "i" + U+0307: the combining dot ends the token
            break;
          }
          i += 3;
        } else {
          break;
        }
      }
      if (!special) {
        const fold = (upper & UPPER) !== 0;
        if (!this.#emitAsciiHashing(bytes, start, i, fold, sink)) return start;
        continue;
      }
      // Rare path: rebuild the lower-cased token in the scratch.
      const scratch = this.#ensureScratch(i - start);
      let length = 0;
      for (let j = start; j < i;) {
        const byte = bytes[j]!;
        if (byte === 0xe2) {
          scratch[length++] = 0x6b;
          j += 3;
        } else if (byte === 0xc4) {
          scratch[length++] = 0x69;
          j += 2;
        } else {
          scratch[length++] = byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte;
          j += 1;
        }
      }
      if (!sink.addToken(scratch, 0, length, hashBytes(scratch, 0, length) | 0)) return start;
      this.tokenCount += 1;
    }
    return end;
  }

  #scanWhitespace(bytes: Uint8Array, from: number, end: number, sink: TokenSink): number {
    const classes = asciiClass;
    let i = from;
    while (i < end) {
      if ((classes[bytes[i]!]! & SPACE) !== 0) {
        i += 1;
        continue;
      }
      const start = i;
      let upper = 0;
      let bits = 0;
      while (i < end && ((bits = classes[bytes[i]!]!) & SPACE) === 0) {
        upper |= bits;
        i += 1;
      }
      // Lower case here folds ASCII only: whitespace tokens are bytes, not text.
      if (!this.#emitAsciiHashing(bytes, start, i, this.#lower && (upper & UPPER) !== 0, sink)) {
        return start;
      }
    }
    return end;
  }

  #scanWords(bytes: Uint8Array, from: number, end: number, sink: TokenSink): number {
    const classes = asciiClass;
    const lower = this.#lower;
    let i = from;
    while (i < end) {
      const first = bytes[i]!;
      if (first < 0x80) {
        if ((classes[first]! & WORD) === 0) {
          i += 1;
          continue;
        }
      } else {
        const length = decodedLength(bytes, i, end);
        if (length === 0) {
          this.invalidBytes += 1;
          i += 1;
          continue;
        }
        if (!isWordCodePoint(decodeAt(bytes, i, length))) {
          i += length;
          continue;
        }
      }
      // A token starts at i: extend it over word bytes and word code points. ASCII bytes are
      // folded and hashed (MurmurHash3, as hashBytes) on the way; a token with non-ASCII
      // letters is lower-cased and hashed afterwards.
      const start = i;
      const foldBit = lower ? UPPER << 3 : 0;
      let fold = 0; // bit UPPER: ASCII upper case seen; bit 16: non-ASCII seen
      let h = 0;
      let k = 0;
      let shift = 0;
      for (;;) {
        if (i >= end) break;
        const byte = bytes[i]!;
        if (byte < 0x80) {
          const bits = classes[byte]!;
          if ((bits & WORD) === 0) break;
          fold |= bits;
          k |= (byte | ((bits & UPPER) << 3 & foldBit)) << shift;
          shift += 8;
          if (shift === 32) {
            k = Math.imul(k, 0xcc9e2d51);
            k = (k << 15) | (k >>> 17);
            h ^= Math.imul(k, 0x1b873593);
            h = (h << 13) | (h >>> 19);
            h = (Math.imul(h, 5) + 0xe6546b64) | 0;
            k = 0;
            shift = 0;
          }
          i += 1;
          continue;
        }
        const length = decodedLength(bytes, i, end);
        if (length === 0 || !isWordCodePoint(decodeAt(bytes, i, length))) break;
        fold |= 0x10000;
        i += length;
      }
      let accepted: boolean;
      if ((fold & 0x10000) === 0) {
        const length = i - start;
        if (shift !== 0) {
          k = Math.imul(k, 0xcc9e2d51);
          k = (k << 15) | (k >>> 17);
          h ^= Math.imul(k, 0x1b873593);
        }
        h ^= length;
        h ^= h >>> 16;
        h = Math.imul(h, 0x85ebca6b);
        h ^= h >>> 13;
        h = Math.imul(h, 0xc2b2ae35);
        h ^= h >>> 16;
        accepted = this.#emitAscii(bytes, start, i, lower && (fold & UPPER) !== 0, sink, h);
        if (accepted) this.tokenCount -= 1; // counted below
      } else if (!lower) {
        accepted = sink.addToken(bytes, start, i - start, hashBytes(bytes, start, i - start) | 0);
      } else {
        const length = this.#lowerUnicode(bytes, start, i);
        accepted = sink.addToken(this.#scratch, 0, length, hashBytes(this.#scratch, 0, length) | 0);
      }
      if (!accepted) return start;
      this.tokenCount += 1;
    }
    return end;
  }

  /** Lower-cases valid UTF-8 word bytes into the scratch; returns the length. */
  #lowerUnicode(bytes: Uint8Array, start: number, stop: number): number {
    // Lower case grows a code point by at most one byte (U+0130: 2 bytes -> 3).
    let scratch = this.#ensureScratch(((stop - start) * 3) >>> 1 | 0);
    let length = 0;
    for (let i = start; i < stop;) {
      const byte = bytes[i]!;
      if (byte < 0x80) {
        scratch[length++] = byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte;
        i += 1;
        continue;
      }
      const size = decodedLength(bytes, i, stop);
      const codePoint = decodeAt(bytes, i, size);
      i += size;
      const lowered = lowerCodePoint(codePoint);
      length = encodeAt(scratch, length, lowered);
      if (codePoint === DOTTED_CAPITAL_I) length = encodeAt(scratch, length, COMBINING_DOT_ABOVE);
      scratch = this.#scratch;
    }
    return length;
  }

  #ensureScratch(byteLength: number): Uint8Array {
    if (this.#scratch.length < byteLength + 4) {
      let size = this.#scratch.length;
      while (size < byteLength + 4) size *= 2;
      this.#scratch = new Uint8Array(size);
    }
    return this.#scratch;
  }
}

function isFlinkAsciiLowered(bytes: Uint8Array, i: number, end: number): boolean {
  const byte = bytes[i]!;
  if (byte === 0xe2) return i + 2 < end && bytes[i + 1] === 0x84 && bytes[i + 2] === 0xaa;
  if (byte === 0xc4) return i + 1 < end && bytes[i + 1] === 0xb0;
  return false;
}

/**
 * Length of the valid multi-byte UTF-8 sequence at `i` (2 to 4), or 0 if the bytes there are
 * not one (ASCII, stray continuation byte, overlong form, surrogate, beyond U+10FFFF, or cut
 * short by `end`).
 *
 * @param bytes The bytes.
 * @param i Where the sequence starts.
 * @param end One past the last byte that may be read.
 * @returns 2, 3, 4, or 0.
 */
export function utf8SequenceLength(bytes: Uint8Array, i: number, end: number): number {
  return decodedLength(bytes, i, end);
}

function decodedLength(bytes: Uint8Array, i: number, end: number): number {
  const b0 = bytes[i]!;
  if (b0 < 0xc2 || b0 > 0xf4) return 0;
  if (i + 1 >= end) return 0;
  const b1 = bytes[i + 1]!;
  if (b0 < 0xe0) return (b1 & 0xc0) === 0x80 ? 2 : 0;
  if (i + 2 >= end) return 0;
  const b2 = bytes[i + 2]!;
  if ((b2 & 0xc0) !== 0x80) return 0;
  if (b0 < 0xf0) {
    if (
      b0 === 0xe0
        ? b1 < 0xa0 || b1 > 0xbf
        : b0 === 0xed
        ? b1 < 0x80 || b1 > 0x9f
        : (b1 & 0xc0) !== 0x80
    ) {
      return 0;
    }
    return 3;
  }
  if (i + 3 >= end) return 0;
  const b3 = bytes[i + 3]!;
  if ((b3 & 0xc0) !== 0x80) return 0;
  if (
    b0 === 0xf0
      ? b1 < 0x90 || b1 > 0xbf
      : b0 === 0xf4
      ? b1 < 0x80 || b1 > 0x8f
      : (b1 & 0xc0) !== 0x80
  ) {
    return 0;
  }
  return 4;
}

function decodeAt(bytes: Uint8Array, i: number, length: number): number {
  const b0 = bytes[i]!;
  if (length === 2) return ((b0 & 0x1f) << 6) | (bytes[i + 1]! & 0x3f);
  if (length === 3) {
    return ((b0 & 0x0f) << 12) | ((bytes[i + 1]! & 0x3f) << 6) | (bytes[i + 2]! & 0x3f);
  }
  return ((b0 & 0x07) << 18) | ((bytes[i + 1]! & 0x3f) << 12) | ((bytes[i + 2]! & 0x3f) << 6) |
    (bytes[i + 3]! & 0x3f);
}

function encodeAt(out: Uint8Array, at: number, codePoint: number): number {
  if (codePoint < 0x80) {
    out[at] = codePoint;
    return at + 1;
  }
  if (codePoint < 0x800) {
    out[at] = 0xc0 | (codePoint >> 6);
    out[at + 1] = 0x80 | (codePoint & 0x3f);
    return at + 2;
  }
  if (codePoint < 0x10000) {
    out[at] = 0xe0 | (codePoint >> 12);
    out[at + 1] = 0x80 | ((codePoint >> 6) & 0x3f);
    out[at + 2] = 0x80 | (codePoint & 0x3f);
    return at + 3;
  }
  out[at] = 0xf0 | (codePoint >> 18);
  out[at + 1] = 0x80 | ((codePoint >> 12) & 0x3f);
  out[at + 2] = 0x80 | ((codePoint >> 6) & 0x3f);
  out[at + 3] = 0x80 | (codePoint & 0x3f);
  return at + 4;
}

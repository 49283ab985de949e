/**
 * Unicode word-character classes and lower-case mappings for the `words` tokenizer, as compact
 * sorted range tables in typed arrays.
 *
 * The tables are derived from the JavaScript engine's own Unicode data by
 * {@linkcode deriveUnicodeTables}: `/\p{L}|\p{N}/u` for word characters and
 * `String.prototype.toLowerCase` per code point for case mappings, over all of Unicode (BMP and
 * astral planes, surrogates excluded). That takes 0.1 s on an idle core (0.8 s on a busy one),
 * paid again by every Worker, so the result is generated into `_unicode_data.ts`
 * (`deno task build:unicode`) and decoded on first use in microseconds;
 * tests/count/unicode_tables_test.ts fails when the engine's data no longer matches it.
 *
 * Layout:
 * ```
 * wordRanges:  Int32Array [start0, end0, start1, end1, ...]        inclusive, sorted, disjoint
 * lowerRanges: Int32Array [start, end, delta, stride, ...]         lower(cp) = cp + delta
 *              for cp in start..end with (cp - start) % stride == 0; stride 1 or 2 (the Latin
 *              Extended pairs Ā ā Ă ă ... alternate, so one entry covers a whole block)
 * ```
 * The only code point whose lower case is longer than one code point is U+0130 (İ, lower
 * case "i" followed by U+0307): it is handled by {@linkcode DOTTED_CAPITAL_I}.
 *
 * @module
 */
import { LOWER_RANGES, WORD_RANGES } from "./_unicode_data.ts";

/** U+0130 LATIN CAPITAL LETTER I WITH DOT ABOVE: lower case is U+0069 U+0307. */
export const DOTTED_CAPITAL_I = 0x130;
/** U+0307 COMBINING DOT ABOVE: the second code point of U+0130's lower case. */
export const COMBINING_DOT_ABOVE = 0x307;

/** The derived tables. */
export interface UnicodeTables {
  /** Inclusive [start, end] pairs of letters and digits (`_` is ASCII and handled apart). */
  readonly wordRanges: Int32Array;
  /** [start, end, delta, stride] quadruples of single-code-point lower-case mappings. */
  readonly lowerRanges: Int32Array;
}

let cached: UnicodeTables | undefined;

/**
 * Returns the tables, deriving them on the first call.
 *
 * @returns The cached tables.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { isWordCodePoint, lowerCodePoint } from "./unicode_tables.ts";
 * strictEqual(isWordCodePoint(0x416), true); // Ж
 * strictEqual(lowerCodePoint(0x416), 0x436); // ж
 * ```
 */
export function unicodeTables(): UnicodeTables {
  if (cached === undefined) {
    const decode = (text: string) => Int32Array.from(text.split(","), (n) => parseInt(n, 36));
    cached = { wordRanges: decode(WORD_RANGES), lowerRanges: decode(LOWER_RANGES) };
  }
  return cached;
}

/**
 * Derives the tables from the JavaScript engine's Unicode data (what `_unicode_data.ts` holds).
 *
 * @returns Fresh tables.
 */
export function deriveUnicodeTables(): UnicodeTables {
  const wordPattern = /^[\p{L}\p{N}]$/u;
  const words: number[] = [];
  const lowers: number[] = [];
  let wordStart = -1;
  // Lower-case run being built: [start, end, delta, stride].
  let runStart = -1;
  let runEnd = -1;
  let runDelta = 0;
  let runStride = 0;
  const flushLower = () => {
    if (runStart >= 0) lowers.push(runStart, runEnd, runDelta, runStride === 0 ? 1 : runStride);
    runStart = -1;
  };
  for (let cp = 0; cp <= 0x10ffff; cp += 1) {
    if (cp === 0xd800) {
      // Surrogates are not characters: close any open run and jump over them.
      if (wordStart >= 0) words.push(wordStart, cp - 1);
      wordStart = -1;
      flushLower();
      cp = 0xdfff;
      continue;
    }
    const text = String.fromCodePoint(cp);
    const isWord = wordPattern.test(text);
    if (isWord && wordStart < 0) wordStart = cp;
    if (!isWord && wordStart >= 0) {
      words.push(wordStart, cp - 1);
      wordStart = -1;
    }
    const lower = text.toLowerCase();
    if (lower === text || cp === DOTTED_CAPITAL_I) continue;
    const lowerCp = lower.codePointAt(0)!;
    if (String.fromCodePoint(lowerCp) !== lower) continue; // multi-code-point: only U+0130
    const delta = lowerCp - cp;
    if (runStart >= 0 && delta === runDelta) {
      const gap = cp - runEnd;
      if ((runStride === 0 && (gap === 1 || gap === 2)) || gap === runStride) {
        runStride = gap;
        runEnd = cp;
        continue;
      }
    }
    flushLower();
    runStart = cp;
    runEnd = cp;
    runDelta = delta;
    runStride = 0;
  }
  if (wordStart >= 0) words.push(wordStart, 0x10ffff);
  flushLower();
  return { wordRanges: Int32Array.from(words), lowerRanges: Int32Array.from(lowers) };
}

/**
 * Whether a code point is a Unicode letter or number (`\p{L}` or `\p{N}`).
 *
 * @param codePoint A code point.
 * @returns True for letters and digits.
 */
export function isWordCodePoint(codePoint: number): boolean {
  const ranges = unicodeTables().wordRanges;
  let low = 0;
  let high = (ranges.length >>> 1) - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    if (codePoint < ranges[middle * 2]!) high = middle - 1;
    else if (codePoint > ranges[middle * 2 + 1]!) low = middle + 1;
    else return true;
  }
  return false;
}

/**
 * The simple (one code point) lower case of a code point; itself when it has none. U+0130
 * maps to U+0069 here; callers append {@linkcode COMBINING_DOT_ABOVE} for it.
 *
 * @param codePoint A code point.
 * @returns Its lower-case code point.
 */
export function lowerCodePoint(codePoint: number): number {
  if (codePoint === DOTTED_CAPITAL_I) return 0x69;
  const ranges = unicodeTables().lowerRanges;
  let low = 0;
  let high = (ranges.length >>> 2) - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const base = middle * 4;
    if (codePoint < ranges[base]!) high = middle - 1;
    else if (codePoint > ranges[base + 1]!) low = middle + 1;
    else {
      const stride = ranges[base + 3]!;
      return (codePoint - ranges[base]!) % stride === 0 ? codePoint + ranges[base + 2]! : codePoint;
    }
  }
  return codePoint;
}

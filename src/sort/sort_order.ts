import { assert, UsageError } from "../base/mod.ts";
import { applyOrderingOption, checkCompatible, KeyField, parseKeyDef } from "./_key_def.ts";
import { compareGeneralNumeric } from "./_general_numeric.ts";
import {
  BLANKS,
  compareHumanNumeric,
  compareNumeric,
  monthOf,
  writeNumericPrefix,
} from "./_numeric.ts";
import { compareRandom, RANDOM_SALT_BYTES } from "./_random.ts";
import { compareVersion } from "./_version.ts";

/**
 * What decides the order of records, as plain data (it can be posted to a Worker and rebuilt
 * there with {@linkcode parseSortOrder}). The fields mirror GNU sort's options.
 */
export interface SortOrderSpec {
  /** Raw `-k` KEYDEFs in order, e.g. `["2,2n", "1"]`. */
  keys: string[];
  /** The `-t` byte; absent: fields start at each blank-to-nonblank transition (GNU default). */
  fieldSeparator?: number;
  /** `-r`: reverse the result (keys without options and the last-resort comparison). */
  reverse: boolean;
  /** `-n`: compare numerically (keys without options, or the whole record). */
  numeric: boolean;
  /** `-f`: fold lowercase to uppercase. */
  foldCase: boolean;
  /** `-b`: ignore leading blanks at key starts and ends. */
  ignoreLeadingBlanks: boolean;
  /** `-s`: no last-resort whole-record comparison. */
  stable: boolean;
  /** `-u`: output only the first of records with equal keys (implies no last resort). */
  unique: boolean;
  /** `-g`: compare as floating-point numbers. */
  generalNumeric?: boolean;
  /** `-h`: compare human-readable numbers (2K, 1G). */
  humanNumeric?: boolean;
  /** `-M`: compare month names. */
  month?: boolean;
  /** `-V`: compare version strings. */
  version?: boolean;
  /** `-R`: order by a salted hash of the keys. */
  random?: boolean;
  /** `-d`: only letters, digits and blanks count. */
  dictionary?: boolean;
  /** `-i`: only printable bytes count. */
  ignoreNonprinting?: boolean;
  /**
   * The 16 salt bytes of `-R` (or an `R` key): the first 16 bytes of `--random-source`, or
   * random ones. Required when any key is random, so every Worker hashes the same way.
   */
  randomSalt?: number[];
}

const A_LOWER = 0x61;
const Z_LOWER = 0x7a;

/** `-f`: a-z to A-Z, every other byte unchanged (C locale `toupper`). */
export const FOLD_TABLE: Uint8Array = (() => {
  const table = new Uint8Array(256);
  for (let byte = 0; byte < 256; byte += 1) {
    table[byte] = byte >= A_LOWER && byte <= Z_LOWER ? byte - 0x20 : byte;
  }
  return table;
})();

/** Identity: lets plain and folded keys share one loop. */
export const IDENTITY_TABLE: Uint8Array = (() => {
  const table = new Uint8Array(256);
  for (let byte = 0; byte < 256; byte += 1) table[byte] = byte;
  return table;
})();

/** `-d`: 1 for bytes to ignore (neither alphanumeric nor blank, C locale). */
export const NON_DICTIONARY: Uint8Array = (() => {
  const table = new Uint8Array(256);
  for (let byte = 0; byte < 256; byte += 1) {
    const alnum = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) ||
      (byte >= A_LOWER && byte <= Z_LOWER);
    table[byte] = alnum || BLANKS[byte] === 1 ? 0 : 1;
  }
  return table;
})();

/** `-i`: 1 for bytes to ignore (not printable ASCII, C locale). */
export const NON_PRINTING: Uint8Array = (() => {
  const table = new Uint8Array(256);
  for (let byte = 0; byte < 256; byte += 1) table[byte] = byte >= 0x20 && byte < 0x7f ? 0 : 1;
  return table;
})();

/** Prefix kinds of {@linkcode SortOrder.writePrefix}. */
const PREFIX_NONE = 0;
const PREFIX_BYTES = 1;
const PREFIX_NUMERIC = 2;

/**
 * GNU sort ordering (C locale) over byte ranges: `-k` keys with `b d f n r`, `-t`, the global
 * `-b -f -n -r`, the last-resort whole-record comparison, and `-s`/`-u`.
 *
 * Build one with {@linkcode parseSortOrder}. Comparisons never allocate and never make strings.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { parseSortOrder } from "./sort_order.ts";
 * const order = parseSortOrder({
 *   keys: ["2,2n"], fieldSeparator: 0x2c, reverse: false, numeric: false, foldCase: false,
 *   ignoreLeadingBlanks: false, stable: false, unique: false,
 * });
 * const a = new TextEncoder().encode("x,10");
 * const b = new TextEncoder().encode("y,9");
 * strictEqual(order.compare(a, 0, a.length, b, 0, b.length) > 0, true);
 * ```
 */
export class SortOrder {
  /** The plain-data spec this order was built from. */
  readonly spec: SortOrderSpec;
  /** No keys and no ordering flags: whole-record memcmp, then length (maybe reversed). */
  readonly isPlainBytes: boolean;
  /** For `isPlainBytes`: whether the memcmp order is reversed. */
  readonly reverse: boolean;
  readonly #keys: KeyField[];
  readonly #separator: number;
  readonly #lastResort: boolean;
  readonly #lastResortReverse: boolean;
  readonly #prefixKind: number;
  readonly #prefixTable: Uint8Array;
  readonly #prefixInvert: boolean;
  readonly #salt: Uint8Array;

  /**
   * Same as {@linkcode parseSortOrder}.
   *
   * @param spec The options (kept as is).
   * @throws {UsageError} See {@linkcode parseSortOrder}.
   */
  constructor(spec: SortOrderSpec) {
    const keys = compileKeys(spec);
    this.spec = spec;
    this.#keys = keys;
    this.#separator = spec.fieldSeparator ?? -1;
    this.#lastResort = !spec.stable && !spec.unique;
    this.#lastResortReverse = spec.reverse;
    this.#salt = new Uint8Array(spec.randomSalt ?? []);
    if (keys.some((key) => key.random)) {
      assert(this.#salt.length === RANDOM_SALT_BYTES, "a random key needs 16 salt bytes");
    }
    let plain = keys.length === 0;
    let plainReverse = spec.reverse;
    const first = keys[0];
    if (keys.length === 1 && first !== undefined && isWholeRecordBytes(first)) {
      // `-k1` (no options): the key is the record; a tie means equal bytes, so the last
      // resort can never decide and only the key's direction matters.
      plain = true;
      plainReverse = first.reverse;
    }
    this.isPlainBytes = plain;
    this.reverse = plainReverse;
    if (plain) {
      this.#prefixKind = PREFIX_BYTES;
      this.#prefixTable = IDENTITY_TABLE;
      this.#prefixInvert = plainReverse;
    } else if (first !== undefined && isPrefixable(first)) {
      this.#prefixKind = first.numeric ? PREFIX_NUMERIC : PREFIX_BYTES;
      this.#prefixTable = first.foldCase ? FOLD_TABLE : IDENTITY_TABLE;
      this.#prefixInvert = first.reverse;
    } else {
      this.#prefixKind = PREFIX_NONE;
      this.#prefixTable = IDENTITY_TABLE;
      this.#prefixInvert = false;
    }
  }

  /** The compiled keys, in order (for `--debug` annotations and warnings). */
  get keyFields(): readonly KeyField[] {
    return this.#keys;
  }

  /** The `-t` byte, or -1 for GNU's blank-separated fields. */
  get fieldSeparator(): number {
    return this.#separator;
  }

  /**
   * Compares two records (without terminators) the way `LC_ALL=C sort` does: the keys in
   * order, then (unless `-s` or `-u`) the whole records byte by byte, reversed by `-r`.
   *
   * @returns Negative if `a` sorts first, positive if `b` does, zero if they are equal.
   */
  compare(
    a: Uint8Array,
    aOffset: number,
    aLength: number,
    b: Uint8Array,
    bOffset: number,
    bLength: number,
  ): number {
    if (this.isPlainBytes) {
      const diff = compareRange(a, aOffset, aOffset + aLength, b, bOffset, bOffset + bLength);
      return this.reverse ? -diff : diff;
    }
    const diff = this.#compareKeys(a, aOffset, aLength, b, bOffset, bLength);
    if (diff !== 0 || !this.#lastResort) return diff;
    const last = compareRange(a, aOffset, aOffset + aLength, b, bOffset, bOffset + bLength);
    return this.#lastResortReverse ? -last : last;
  }

  /**
   * Compares only the keys (what `-u` uses to find duplicates); for an order without keys
   * the whole records.
   *
   * @returns Negative, zero (duplicates under `-u`) or positive.
   */
  compareKeys(
    a: Uint8Array,
    aOffset: number,
    aLength: number,
    b: Uint8Array,
    bOffset: number,
    bLength: number,
  ): number {
    if (this.isPlainBytes) {
      const diff = compareRange(a, aOffset, aOffset + aLength, b, bOffset, bOffset + bLength);
      return this.reverse ? -diff : diff;
    }
    return this.#compareKeys(a, aOffset, aLength, b, bOffset, bLength);
  }

  /**
   * Writes `words` big-endian u32 words of an order-preserving prefix of a record into
   * `out[outIndex..]`: a smaller prefix (lexicographic over words) means the record sorts
   * first; equal prefixes decide nothing. Orders with a cheap prefix: whole-record bytes
   * (plain, `-f`, `-b`, `-r`), a first key compared as bytes (with `-t` or default fields,
   * `f`, `b`, `r`) and a first `-n` key; others write zeros.
   */
  writePrefix(
    bytes: Uint8Array,
    offset: number,
    length: number,
    out: Uint32Array,
    outIndex: number,
    words: number,
  ): void {
    const kind = this.#prefixKind;
    if (kind === PREFIX_NONE) {
      out.fill(0, outIndex, outIndex + words);
      return;
    }
    let start = offset;
    let end = offset + length;
    if (!this.isPlainBytes) {
      const key = this.#keys[0]!;
      const limit = end;
      findKey(bytes, offset, limit, key, this.#separator);
      start = foundStart;
      end = foundEnd < start ? start : foundEnd;
    }
    if (kind === PREFIX_NUMERIC) {
      writeNumericPrefix(bytes, start, end, out, outIndex, words);
    } else {
      const table = this.#prefixTable;
      let position = start;
      for (let wordIndex = 0; wordIndex < words; wordIndex += 1) {
        let word = 0;
        for (let byteIndex = 0; byteIndex < 4; byteIndex += 1) {
          word = (word << 8) | (position < end ? table[bytes[position]!]! : 0);
          position += 1;
        }
        out[outIndex + wordIndex] = word >>> 0;
      }
    }
    if (this.#prefixInvert) {
      for (let wordIndex = 0; wordIndex < words; wordIndex += 1) {
        out[outIndex + wordIndex] = ~out[outIndex + wordIndex]! >>> 0;
      }
    }
  }

  #compareKeys(
    a: Uint8Array,
    aOffset: number,
    aLength: number,
    b: Uint8Array,
    bOffset: number,
    bLength: number,
  ): number {
    const keys = this.#keys;
    const separator = this.#separator;
    const aLimit = aOffset + aLength;
    const bLimit = bOffset + bLength;
    for (let keyIndex = 0; keyIndex < keys.length; keyIndex += 1) {
      const key = keys[keyIndex]!;
      // GNU: a key whose end lies before its start is empty.
      findKey(a, aOffset, aLimit, key, separator);
      const aStart = foundStart;
      const aEnd = foundEnd < aStart ? aStart : foundEnd;
      findKey(b, bOffset, bLimit, key, separator);
      const bStart = foundStart;
      const bEnd = foundEnd < bStart ? bStart : foundEnd;
      let diff: number;
      if (key.numeric) {
        diff = compareNumeric(a, aStart, aEnd, b, bStart, bEnd);
      } else if (isSpecial(key)) {
        diff = this.#compareSpecial(key, a, aStart, aEnd, b, bStart, bEnd);
      } else if (key.dictionary || key.nonprinting) {
        diff = compareIgnoring(
          a,
          aStart,
          aEnd,
          b,
          bStart,
          bEnd,
          key.foldCase ? FOLD_TABLE : IDENTITY_TABLE,
          key.dictionary ? NON_DICTIONARY : NON_PRINTING,
        );
      } else if (key.foldCase) {
        diff = compareTranslated(a, aStart, aEnd, b, bStart, bEnd, FOLD_TABLE);
      } else {
        diff = compareRange(a, aStart, aEnd, b, bStart, bEnd);
      }
      if (diff !== 0) return key.reverse ? -diff : diff;
    }
    return 0;
  }

  /**
   * Keys GNU compares through a copy (`n g h M R V`): with `f`, `d` or `i` the copy holds the
   * translated, filtered bytes (GNU's keycompare does the same), in a reused scratch buffer.
   */
  #compareSpecial(
    key: KeyField,
    a: Uint8Array,
    aStart: number,
    aEnd: number,
    b: Uint8Array,
    bStart: number,
    bEnd: number,
  ): number {
    let aBytes = a;
    let bBytes = b;
    if (key.foldCase || key.dictionary || key.nonprinting) {
      const needed = (aEnd - aStart) + (bEnd - bStart);
      if (scratch.length < needed) scratch = new Uint8Array(Math.max(needed, scratch.length * 2));
      const table = key.foldCase ? FOLD_TABLE : IDENTITY_TABLE;
      const ignore = key.dictionary ? NON_DICTIONARY : key.nonprinting ? NON_PRINTING : NONE;
      const aLength = filterInto(a, aStart, aEnd, table, ignore, scratch, 0);
      const bLength = filterInto(b, bStart, bEnd, table, ignore, scratch, aLength);
      aBytes = scratch;
      bBytes = scratch;
      aStart = 0;
      aEnd = aLength;
      bStart = aLength;
      bEnd = aLength + bLength;
    }
    if (key.numeric) return compareNumeric(aBytes, aStart, aEnd, bBytes, bStart, bEnd);
    if (key.generalNumeric) {
      return compareGeneralNumeric(aBytes, aStart, aEnd, bBytes, bStart, bEnd);
    }
    if (key.humanNumeric) return compareHumanNumeric(aBytes, aStart, aEnd, bBytes, bStart, bEnd);
    if (key.month) return monthOf(aBytes, aStart, aEnd) - monthOf(bBytes, bStart, bEnd);
    if (key.random) {
      return compareRandom(this.#salt, aBytes, aStart, aEnd, bBytes, bStart, bEnd);
    }
    return compareVersion(aBytes, aStart, aEnd, bBytes, bStart, bEnd);
  }
}

/** Translated, filtered copies of keys (`-f`/`-d`/`-i` with `n g h M R V`); grown on demand. */
let scratch = new Uint8Array(256);

/** No byte ignored. */
const NONE = new Uint8Array(256);

function filterInto(
  bytes: Uint8Array,
  start: number,
  end: number,
  table: Uint8Array,
  ignore: Uint8Array,
  out: Uint8Array,
  outStart: number,
): number {
  let position = outStart;
  for (let index = start; index < end; index += 1) {
    const byte = bytes[index]!;
    if (ignore[byte] === 0) out[position++] = table[byte]!;
  }
  return position - outStart;
}

/** A key compared through GNU's copying branch (`n g h M R V`). */
function isSpecial(key: KeyField): boolean {
  return key.numeric || key.generalNumeric || key.humanNumeric || key.month || key.random ||
    key.version;
}

/** A first key whose order a bytes or `-n` prefix can carry. */
function isPrefixable(key: KeyField): boolean {
  return !key.dictionary && !key.nonprinting && !key.generalNumeric && !key.humanNumeric &&
    !key.month && !key.random && !key.version;
}

function isWholeRecordBytes(key: KeyField): boolean {
  return key.startField === 0 && key.startChar === 0 && key.endField === -1 &&
    key.hasNoOrderingOptions();
}

// Results of findKey (module-level: no allocation per comparison).
let foundStart = 0;
let foundEnd = 0;

/**
 * Finds a key in the record `[start, limit)` as the comparator does (GNU `begfield` and
 * `limfield`, an end before the start meaning empty); read the result with
 * {@linkcode foundKeyStart} and {@linkcode foundKeyEnd}. No allocation.
 *
 * @param bytes The record's bytes.
 * @param start Where the record starts.
 * @param limit Where it ends.
 * @param key The key.
 * @param separator The `-t` byte or -1.
 */
export function locateKey(
  bytes: Uint8Array,
  start: number,
  limit: number,
  key: KeyField,
  separator: number,
): void {
  findKey(bytes, start, limit, key, separator);
  if (foundEnd < foundStart) foundEnd = foundStart;
}

/** The start of the key {@linkcode locateKey} found last. */
export function foundKeyStart(): number {
  return foundStart;
}

/** The end of the key {@linkcode locateKey} found last (never before its start). */
export function foundKeyEnd(): number {
  return foundEnd;
}

/**
 * Finds a key in the record `[start, limit)` in one pass over its fields: GNU's `begfield`
 * (into `foundStart`) and `limfield` (into `foundEnd`, which may lie before `foundStart`).
 *
 * Both count "fields skipped" the same way, so one scan serves both:
 * ```
 *   -t X: skip = advance to the next X, then past it
 *         (limfield does not step past the X that ends its last field when endChar is 0)
 *   default: skip = blanks, then non-blanks (a field owns its leading blanks)
 *   begfield skips startField fields; limfield skips endField + 1 (endChar 0) or endField
 * ```
 */
function findKey(
  bytes: Uint8Array,
  start: number,
  limit: number,
  key: KeyField,
  separator: number,
): void {
  const startSkips = key.startField;
  const endChar = key.endChar;
  const endSkips = key.endField < 0 ? -1 : endChar === 0 ? key.endField + 1 : key.endField;
  const skipsMax = startSkips > endSkips ? startSkips : endSkips;
  let keyStart = startSkips === 0 ? start : limit;
  let keyEnd = endSkips === 0 ? start : limit;
  let position = start;
  let skipped = 0;
  if (separator >= 0) {
    while (position < limit && skipped < skipsMax) {
      while (position < limit && bytes[position] !== separator) position += 1;
      skipped += 1;
      if (skipped === endSkips && endChar === 0) keyEnd = position;
      if (position < limit) position += 1;
      if (skipped === startSkips) keyStart = position;
      if (skipped === endSkips && endChar !== 0) keyEnd = position;
    }
  } else {
    while (position < limit && skipped < skipsMax) {
      while (position < limit && BLANKS[bytes[position]!] === 1) position += 1;
      while (position < limit && BLANKS[bytes[position]!] === 0) position += 1;
      skipped += 1;
      if (skipped === startSkips) keyStart = position;
      if (skipped === endSkips) keyEnd = position;
    }
  }
  if (key.skipStartBlanks) {
    while (keyStart < limit && BLANKS[bytes[keyStart]!] === 1) keyStart += 1;
  }
  keyStart += key.startChar;
  foundStart = keyStart < limit ? keyStart : limit;
  if (endSkips >= 0 && endChar !== 0) {
    if (key.skipEndBlanks) {
      while (keyEnd < limit && BLANKS[bytes[keyEnd]!] === 1) keyEnd += 1;
    }
    keyEnd += endChar;
    if (keyEnd > limit) keyEnd = limit;
  }
  foundEnd = keyEnd;
}

/**
 * Where a key lies in a record, as GNU's begfield/limfield find it (for `--debug`); the end
 * may lie before the start (an empty key).
 *
 * @returns `[start, end)` offsets into `bytes`.
 */
export function findKeyRange(
  bytes: Uint8Array,
  start: number,
  limit: number,
  key: KeyField,
  separator: number,
): [number, number] {
  findKey(bytes, start, limit, key, separator);
  return [foundStart, foundEnd];
}

/** memcmp of two ranges, then the shorter first. */
function compareRange(
  a: Uint8Array,
  aStart: number,
  aEnd: number,
  b: Uint8Array,
  bStart: number,
  bEnd: number,
): number {
  const aLength = aEnd - aStart;
  const bLength = bEnd - bStart;
  const common = aLength < bLength ? aLength : bLength;
  for (let index = 0; index < common; index += 1) {
    const diff = a[aStart + index]! - b[bStart + index]!;
    if (diff !== 0) return diff;
  }
  return aLength - bLength;
}

function compareTranslated(
  a: Uint8Array,
  aStart: number,
  aEnd: number,
  b: Uint8Array,
  bStart: number,
  bEnd: number,
  table: Uint8Array,
): number {
  const aLength = aEnd - aStart;
  const bLength = bEnd - bStart;
  const common = aLength < bLength ? aLength : bLength;
  for (let index = 0; index < common; index += 1) {
    const diff = table[a[aStart + index]!]! - table[b[bStart + index]!]!;
    if (diff !== 0) return diff;
  }
  return aLength - bLength;
}

/** `d`/`i`: compare the translated bytes that `ignore` keeps. */
function compareIgnoring(
  a: Uint8Array,
  aStart: number,
  aEnd: number,
  b: Uint8Array,
  bStart: number,
  bEnd: number,
  table: Uint8Array,
  ignore: Uint8Array,
): number {
  let aIndex = aStart;
  let bIndex = bStart;
  while (true) {
    while (aIndex < aEnd && ignore[a[aIndex]!] === 1) aIndex += 1;
    while (bIndex < bEnd && ignore[b[bIndex]!] === 1) bIndex += 1;
    if (aIndex >= aEnd || bIndex >= bEnd) break;
    const diff = table[a[aIndex]!]! - table[b[bIndex]!]!;
    if (diff !== 0) return diff;
    aIndex += 1;
    bIndex += 1;
  }
  return (aIndex < aEnd ? 1 : 0) - (bIndex < bEnd ? 1 : 0);
}

/**
 * Builds a {@linkcode SortOrder} from its spec: parses the KEYDEFs and applies GNU's rule that
 * a key with no ordering option of its own (`b d f g h i M n R V`; `r` alone also counts)
 * inherits all the global ones. Without keys, global options make the whole record a key.
 *
 * @param spec The options, as plain data.
 * @returns The order.
 * @throws {UsageError} On a malformed KEYDEF,
 *   incompatible options, or a field separator that is not a byte.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { parseSortOrder } from "./sort_order.ts";
 * const order = parseSortOrder({
 *   keys: [], reverse: true, numeric: false, foldCase: false, ignoreLeadingBlanks: false,
 *   stable: false, unique: false,
 * });
 * strictEqual(order.isPlainBytes, true);
 * strictEqual(order.reverse, true);
 * ```
 */
export function parseSortOrder(spec: SortOrderSpec): SortOrder {
  return new SortOrder(spec);
}

/**
 * Compiles the keys of a spec the way {@linkcode SortOrder} does (KEYDEFs parsed, global
 * options inherited; without keys, a whole-record key when global options are set).
 *
 * @param spec The options.
 * @returns The keys in order (empty: plain byte order).
 * @throws {UsageError} See {@linkcode parseSortOrder}.
 */
export function compileKeys(spec: SortOrderSpec): KeyField[] {
  const separator = spec.fieldSeparator;
  if (
    separator !== undefined && !(Number.isInteger(separator) && separator >= 0 && separator < 256)
  ) {
    throw new UsageError(`Invalid field separator ${separator}: must be one byte (0 to 255)`);
  }
  const global = globalKey(spec);
  const keys: KeyField[] = [];
  for (const text of spec.keys) {
    const key = parseKeyDef(text);
    if (key.hasNoOrderingOptions() && !key.reverse) inheritGlobal(key, global);
    keys.push(key);
  }
  if (keys.length === 0 && !global.hasNoOrderingOptions()) keys.push(global);
  for (const key of keys) {
    checkCompatible(key);
    assert(key.startField >= 0, "key start field is 0-based");
  }
  return keys;
}

/**
 * GNU's `gkey`: the global ordering options as a whole-record key.
 *
 * @param spec The options.
 * @returns The key (whole record, global options).
 */
export function globalKey(spec: SortOrderSpec): KeyField {
  const key = new KeyField();
  const flags: Array<[boolean | undefined, string]> = [
    [spec.ignoreLeadingBlanks, "b"],
    [spec.dictionary, "d"],
    [spec.foldCase, "f"],
    [spec.generalNumeric, "g"],
    [spec.humanNumeric, "h"],
    [spec.ignoreNonprinting, "i"],
    [spec.month, "M"],
    [spec.numeric, "n"],
    [spec.random, "R"],
    [spec.reverse, "r"],
    [spec.version, "V"],
  ];
  for (const [on, letter] of flags) if (on === true) applyOrderingOption(key, letter, "both");
  return key;
}

function inheritGlobal(key: KeyField, global: KeyField): void {
  key.skipStartBlanks = global.skipStartBlanks;
  key.skipEndBlanks = global.skipEndBlanks;
  key.numeric = global.numeric;
  key.foldCase = global.foldCase;
  key.dictionary = global.dictionary;
  key.nonprinting = global.nonprinting;
  key.generalNumeric = global.generalNumeric;
  key.humanNumeric = global.humanNumeric;
  key.month = global.month;
  key.version = global.version;
  key.random = global.random;
  key.reverse = global.reverse;
}

/**
 * Whether an order needs `-R` salt (a random key, or global `-R` that keys inherit).
 *
 * @param spec The options.
 * @returns True when some key compares by hash.
 */
export function needsRandomSalt(spec: SortOrderSpec): boolean {
  return compileKeys({ ...spec, randomSalt: [] }).some((key) => key.random);
}

/**
 * Reads a `-t` argument: one byte, or `\0` for NUL (as GNU sort accepts).
 *
 * @param text The option value.
 * @returns The separator byte.
 * @throws {UsageError} When the value is empty or longer than one byte.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { parseFieldSeparator } from "./sort_order.ts";
 * strictEqual(parseFieldSeparator(","), 0x2c);
 * strictEqual(parseFieldSeparator("\\0"), 0);
 * ```
 */
export function parseFieldSeparator(text: string): number {
  if (text === "\\0") return 0;
  const bytes = new TextEncoder().encode(text);
  if (bytes.length === 0) {
    throw new UsageError(`Empty field separator -t ''; give one byte such as -t ,`);
  }
  if (bytes.length > 1) {
    throw new UsageError(
      `Invalid field separator -t '${text}': ${bytes.length} bytes; give exactly one byte (or '\\0' for NUL)`,
    );
  }
  return bytes[0]!;
}

/**
 * Normalized sort keys: for a record and GNU sort options, a byte string whose unsigned byte
 * order (memcmp, then the shorter first) is exactly the order of `LC_ALL=C sort` with those
 * options, so sorting and merging can compare keys without a comparator (DuckDB's and Flink's
 * normalized keys, here for the whole key rather than a prefix).
 *
 * ```
 * key       = part(key 1) part(key 2) ... [last resort]
 * bytes     = each kept byte (after -f/-d/-i), 0x00 written as 0x00 0xff, then 0x00 0x00
 *             (the end mark sorts below every byte: the shorter key first)
 * -n        = 0x40 for zero; 0x80 + magnitude; 0x00 + inverted magnitude (see writeNumericKey)
 * -h        = 0x10 + SI suffix order (-10..10), then the -n part
 * -M        = the month number (0 unknown, 1..12)
 * r         = the part with every byte inverted (each part is prefix-free, so this reverses it)
 * last      = the whole record (with -r: as a bytes part, inverted); absent with -s or -u
 * ```
 * Every part is prefix-free: two keys whose earlier parts are equal are aligned at the next
 * part. So memcmp of two keys decides at the first key where the records differ, and keys are
 * equal exactly when GNU's key comparison (`-u`'s notion of duplicates) says equal.
 *
 * `-g`, `-V` and `-R` cannot be normalized at bounded cost (long-double parsing with hex
 * floats and NaN payloads; filevercmp's suffix rules; an MD5 per key with collision
 * fallback): orders that use them keep the comparator ({@linkcode normalizedKeySupport}).
 *
 * @module
 */
import type { KeyField } from "./_key_def.ts";
import { BLANKS, monthOf, unitOrder, writeNumericKey } from "./_numeric.ts";
import type { RecordOrder } from "./record_order.ts";
import {
  compileKeys,
  FOLD_TABLE as FOLD,
  foundKeyEnd,
  foundKeyStart,
  IDENTITY_TABLE as IDENTITY,
  locateKey,
  NON_DICTIONARY as DROP_DICTIONARY,
  NON_PRINTING as DROP_NONPRINTING,
  SortOrder,
  type SortOrderSpec,
} from "./sort_order.ts";

const DROP_NONE = new Uint8Array(256);

/** How one key is encoded. */
const PART_BYTES = 0;
const PART_NUMERIC = 1;
const PART_HUMAN = 2;
const PART_MONTH = 3;

/** Whether an order can be normalized, and if not, why. */
export interface NormalizedKeySupport {
  /** True when every key of the order has a normalized form. */
  normalizable: boolean;
  /** For `normalizable: false`: the options that need the comparator, e.g. `"-g"`. */
  reason: string;
}

/**
 * Says whether {@linkcode NormalizedKeyEncoder} can encode an order: every order except those
 * with a `g`, `V` or `R` key (global or per key).
 *
 * @param spec The options.
 * @returns Support and, if unsupported, which options need the comparator.
 * @throws {UsageError} On a malformed KEYDEF (as {@linkcode compileKeys}).
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { normalizedKeySupport } from "./normalized_key.ts";
 * const base = {
 *   keys: ["2,2n"], reverse: false, numeric: false, foldCase: false,
 *   ignoreLeadingBlanks: false, stable: false, unique: false,
 * };
 * strictEqual(normalizedKeySupport(base).normalizable, true);
 * strictEqual(normalizedKeySupport({ ...base, keys: ["1V"] }).reason, "-V");
 * ```
 */
export function normalizedKeySupport(spec: SortOrderSpec): NormalizedKeySupport {
  const keys = compileKeys({ ...spec, randomSalt: [] });
  const reasons = new Set<string>();
  for (const key of keys) {
    if (key.generalNumeric) reasons.add("-g");
    if (key.version) reasons.add("-V");
    if (key.random) reasons.add("-R");
  }
  return { normalizable: reasons.size === 0, reason: [...reasons].join(" ") };
}

/**
 * The encoder a sort buffer uses for an order: one for a GNU {@linkcode SortOrder} with keys
 * that can all be normalized; none for plain byte orders (the record is already its key),
 * fixed-size records, and orders with `-g`, `-V` or `-R` (they keep the comparator).
 *
 * @param order The order.
 * @returns The encoder, or undefined.
 */
export function normalizedKeysFor(order: RecordOrder): NormalizedKeyEncoder | undefined {
  if (!(order instanceof SortOrder) || order.isPlainBytes) return undefined;
  if (!normalizedKeySupport(order.spec).normalizable) return undefined;
  return new NormalizedKeyEncoder(order.spec);
}

/**
 * Builds normalized keys for one order (see the module doc for the layout). Allocation-free
 * per record: it writes into a range the caller gives and reports the length it needed.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { compareBytes } from "../memory/mod.ts";
 * import { NormalizedKeyEncoder } from "./normalized_key.ts";
 * const encoder = new NormalizedKeyEncoder({
 *   keys: ["2,2n"], fieldSeparator: 0x2c, reverse: false, numeric: false, foldCase: false,
 *   ignoreLeadingBlanks: false, stable: false, unique: false,
 * });
 * const text = new TextEncoder();
 * const a = text.encode("x,10");
 * const b = text.encode("y,9");
 * const keyA = new Uint8Array(64);
 * const keyB = new Uint8Array(64);
 * const lengthA = encoder.encode(a, 0, a.length, keyA, 0, 64);
 * const lengthB = encoder.encode(b, 0, b.length, keyB, 0, 64);
 * strictEqual(compareBytes(keyA, 0, lengthA, keyB, 0, lengthB) > 0, true); // 10 > 9
 * ```
 */
export class NormalizedKeyEncoder {
  /** The options the keys encode. */
  readonly spec: SortOrderSpec;
  readonly #keys: KeyField[];
  readonly #kinds: Uint8Array;
  readonly #tables: Uint8Array[];
  readonly #drops: Uint8Array[];
  /** Per key: n/h/M with f/d/i, which GNU compares through a filtered copy. */
  readonly #filtered: Uint8Array;
  readonly #separator: number;
  /** 0: none; 1: the record as is; 2: the record as a bytes part, inverted (-r). */
  readonly #lastResort: number;
  /** The plain byte order: the key is the record (inverted and terminated for -r). */
  readonly #plain: boolean;
  #scratch: Uint8Array;

  /**
   * Compiles the keys of an order.
   *
   * @param spec The options; check {@linkcode normalizedKeySupport} first.
   * @throws {RangeError} When the order has a `g`, `V` or `R` key.
   */
  constructor(spec: SortOrderSpec) {
    const support = normalizedKeySupport(spec);
    if (!support.normalizable) {
      throw new RangeError(`Cannot normalize sort keys with ${support.reason}: use the comparator`);
    }
    const keys = compileKeys({ ...spec, randomSalt: [] });
    this.spec = spec;
    this.#separator = spec.fieldSeparator ?? -1;
    let plain = keys.length === 0;
    let plainReverse = spec.reverse;
    const first = keys[0];
    if (keys.length === 1 && first !== undefined && isWholeRecordBytes(first)) {
      plain = true;
      plainReverse = first.reverse;
    }
    this.#plain = plain;
    this.#keys = plain ? [] : keys;
    this.#kinds = new Uint8Array(this.#keys.length);
    this.#filtered = new Uint8Array(this.#keys.length);
    this.#tables = [];
    this.#drops = [];
    this.#keys.forEach((key, keyIndex) => {
      this.#kinds[keyIndex] = key.numeric
        ? PART_NUMERIC
        : key.humanNumeric
        ? PART_HUMAN
        : key.month
        ? PART_MONTH
        : PART_BYTES;
      this.#tables.push(key.foldCase ? FOLD : IDENTITY);
      this.#drops.push(
        key.dictionary ? DROP_DICTIONARY : key.nonprinting ? DROP_NONPRINTING : DROP_NONE,
      );
      const special = key.numeric || key.humanNumeric || key.month;
      this.#filtered[keyIndex] = special && (key.foldCase || key.dictionary || key.nonprinting)
        ? 1
        : 0;
    });
    if (plain) this.#lastResort = plainReverse ? 2 : 1;
    else if (spec.stable || spec.unique) this.#lastResort = 0;
    else this.#lastResort = spec.reverse ? 2 : 1;
    this.#scratch = new Uint8Array(256);
  }

  /**
   * Whether keys end with the record itself as is (plain order or the ascending last resort):
   * then two records with equal keys are equal records.
   */
  get endsWithRecord(): boolean {
    return this.#lastResort === 1;
  }

  /**
   * An upper bound of the key length for a record of `byteLength` bytes.
   *
   * @param byteLength The record length.
   * @returns Bytes that always suffice.
   */
  keyBytesBound(byteLength: number): number {
    let bound = 0;
    for (let keyIndex = 0; keyIndex < this.#keys.length; keyIndex += 1) {
      const kind = this.#kinds[keyIndex]!;
      if (kind === PART_BYTES) bound += 2 * byteLength + 2;
      else if (kind === PART_MONTH) bound += 1;
      else bound += byteLength + 8;
    }
    if (this.#lastResort === 1) bound += byteLength;
    else if (this.#lastResort === 2) bound += 2 * byteLength + 2;
    return bound;
  }

  /**
   * Writes the key of the record `bytes[offset, offset + length)` into `out[outOffset, outEnd)`.
   * When the key is longer than that range, the bytes that fit are written (they are the key's
   * true prefix) and the return value says how long it is.
   *
   * @returns The key's length in bytes; more than `outEnd - outOffset` means it did not fit.
   */
  encode(
    bytes: Uint8Array,
    offset: number,
    length: number,
    out: Uint8Array,
    outOffset: number,
    outEnd: number,
  ): number {
    const limit = offset + length;
    let position = outOffset;
    const keys = this.#keys;
    for (let keyIndex = 0; keyIndex < keys.length; keyIndex += 1) {
      const key = keys[keyIndex]!;
      locateKey(bytes, offset, limit, key, this.#separator);
      let start = foundKeyStart();
      let end = foundKeyEnd();
      let source = bytes;
      const kind = this.#kinds[keyIndex]!;
      const partStart = position;
      if (kind === PART_BYTES) {
        position = writeBytesPart(
          bytes,
          start,
          end,
          this.#tables[keyIndex]!,
          this.#drops[keyIndex]!,
          out,
          position,
          outEnd,
        );
      } else {
        if (this.#filtered[keyIndex] === 1) {
          source = this.#filter(bytes, start, end, keyIndex);
          start = 0;
          end = filteredLength;
        }
        if (kind === PART_NUMERIC) {
          position = writeNumericKey(source, start, end, out, position, outEnd);
        } else if (kind === PART_HUMAN) {
          while (start < end && BLANKS[source[start]!] === 1) start += 1;
          if (position < outEnd) out[position] = 0x10 + unitOrder(source, start, end);
          position = writeNumericKey(source, start, end, out, position + 1, outEnd);
        } else {
          if (position < outEnd) out[position] = monthOf(source, start, end);
          position += 1;
        }
      }
      if (key.reverse) invert(out, partStart, position < outEnd ? position : outEnd);
    }
    const lastResort = this.#lastResort;
    if (lastResort === 1) {
      const room = outEnd - position;
      if (length <= room) {
        if (length <= 64) {
          for (let i = 0; i < length; i += 1) out[position + i] = bytes[offset + i]!;
        } else {
          out.set(bytes.subarray(offset, limit), position);
        }
      } else if (room > 0) {
        for (let i = 0; i < room; i += 1) out[position + i] = bytes[offset + i]!;
      }
      position += length;
    } else if (lastResort === 2) {
      const partStart = position;
      position = writeBytesPart(bytes, offset, limit, IDENTITY, DROP_NONE, out, position, outEnd);
      invert(out, partStart, position < outEnd ? position : outEnd);
    }
    return position - outOffset;
  }

  /** GNU's translated copy of a key (f/d/i before n/h/M), in the reused scratch. */
  #filter(bytes: Uint8Array, start: number, end: number, keyIndex: number): Uint8Array {
    if (this.#scratch.length < end - start) {
      this.#scratch = new Uint8Array(Math.max(end - start, this.#scratch.length * 2));
    }
    const scratch = this.#scratch;
    const table = this.#tables[keyIndex]!;
    const drop = this.#drops[keyIndex]!;
    let count = 0;
    for (let index = start; index < end; index += 1) {
      const byte = bytes[index]!;
      if (drop[byte] === 0) scratch[count++] = table[byte]!;
    }
    filteredLength = count;
    return scratch;
  }
}

/** Result of NormalizedKeyEncoder.#filter (module-level: no allocation per record). */
let filteredLength = 0;

/** A bytes part: kept, translated bytes with 0x00 escaped, then the end mark 0x00 0x00. */
function writeBytesPart(
  bytes: Uint8Array,
  start: number,
  end: number,
  table: Uint8Array,
  drop: Uint8Array,
  out: Uint8Array,
  position: number,
  outEnd: number,
): number {
  if (table === IDENTITY && drop === DROP_NONE && position + 2 * (end - start) + 2 <= outEnd) {
    // Fast path: everything fits even if every byte is 0x00.
    for (let index = start; index < end; index += 1) {
      const byte = bytes[index]!;
      out[position++] = byte;
      if (byte === 0) out[position++] = 0xff;
    }
    out[position] = 0;
    out[position + 1] = 0;
    return position + 2;
  }
  for (let index = start; index < end; index += 1) {
    const byte = bytes[index]!;
    if (drop[byte] === 1) continue;
    const mapped = table[byte]!;
    if (position < outEnd) out[position] = mapped;
    position += 1;
    if (mapped === 0) {
      if (position < outEnd) out[position] = 0xff;
      position += 1;
    }
  }
  if (position < outEnd) out[position] = 0;
  if (position + 1 < outEnd) out[position + 1] = 0;
  return position + 2;
}

function invert(out: Uint8Array, start: number, end: number): void {
  for (let index = start; index < end; index += 1) out[index] = ~out[index]! & 0xff;
}

function isWholeRecordBytes(key: KeyField): boolean {
  return key.startField === 0 && key.startChar === 0 && key.endField === -1 &&
    key.hasNoOrderingOptions();
}

/**
 * Records stored with their normalized key in front, for the sort buffer when the order can be
 * normalized ({@linkcode NormalizedKeyEncoder}):
 *
 * ```
 * page: ... | key bytes (keyBytes) | keyBytes u32 LE | record bytes | ...
 *                                                     ^ the index entry's address
 * ```
 * The index keeps the key's first 8 bytes as its prefix words; ties compare the stored keys by
 * memcmp, never calling the comparator. A key too long for an empty page is not stored
 * (`keyBytes` is {@linkcode NO_KEY}); its prefix is still the key's true prefix and ties that
 * involve it call the comparator, which orders exactly like the keys (that is what the
 * normalized-key property tests check), so the order stays total and consistent.
 *
 * @module
 */
import { type RecordOrder, writeBytesPrefix } from "./record_order.ts";
import type { NormalizedKeyEncoder } from "./normalized_key.ts";
import { ADDRESS_WORD, LENGTH_WORD, type TieCompare } from "./index_sort.ts";

/** The key length word of a record stored without its key. */
export const NO_KEY = 0xffff_ffff;

/** Bytes of the key length word. */
export const KEY_LENGTH_BYTES = 4;

/**
 * The key length word stored before the record at `recordOffset` of `page`.
 *
 * @returns The key's length, or {@linkcode NO_KEY}.
 */
export function readKeyLength(page: Uint8Array, recordOffset: number): number {
  return (page[recordOffset - 4]! | page[recordOffset - 3]! << 8 | page[recordOffset - 2]! << 16 |
    page[recordOffset - 1]! << 24) >>> 0;
}

const prefixScratch = new Uint8Array(8);

/**
 * Writes `[key][key length][record]` into `page[offset, pageEnd)` and the entry's two prefix
 * words into `index[entry..]`.
 *
 * @param allowKeyless When the key does not fit: store the record without it (true), or fail.
 * @returns The record's offset in the page (its end is that plus `byteLength`), or -1 when it
 *   did not fit.
 */
export function writeKeyedRecord(
  keys: NormalizedKeyEncoder,
  bytes: Uint8Array,
  byteOffset: number,
  byteLength: number,
  page: Uint8Array,
  offset: number,
  pageEnd: number,
  allowKeyless: boolean,
  index: Uint32Array,
  entry: number,
): number {
  // An empty record still ends before the page end: its address must name this page (an
  // address equal to the page end would read as the next page's first byte).
  const room = pageEnd - offset - KEY_LENGTH_BYTES - (byteLength === 0 ? 1 : byteLength);
  if (room < 0) return -1;
  let keyBytes = keys.encode(bytes, byteOffset, byteLength, page, offset, offset + room);
  let stored = keyBytes;
  if (keyBytes > room) {
    if (!allowKeyless) return -1;
    keys.encode(bytes, byteOffset, byteLength, prefixScratch, 0, 8);
    writePrefixWords(prefixScratch, 0, keyBytes, index, entry);
    keyBytes = 0;
    stored = NO_KEY;
  } else {
    writePrefixWords(page, offset, keyBytes, index, entry);
  }
  let position = offset + keyBytes;
  page[position] = stored & 0xff;
  page[position + 1] = (stored >>> 8) & 0xff;
  page[position + 2] = (stored >>> 16) & 0xff;
  page[position + 3] = stored >>> 24;
  position += KEY_LENGTH_BYTES;
  if (byteLength <= 128) {
    for (let i = 0; i < byteLength; i += 1) page[position + i] = bytes[byteOffset + i]!;
  } else {
    page.set(bytes.subarray(byteOffset, byteOffset + byteLength), position);
  }
  return position;
}

/** The first 8 key bytes (zero padded) as two big-endian words. */
function writePrefixWords(
  key: Uint8Array,
  start: number,
  keyBytes: number,
  index: Uint32Array,
  entry: number,
): void {
  if (keyBytes >= 8) {
    index[entry] = (key[start]! << 24 | key[start + 1]! << 16 | key[start + 2]! << 8 |
      key[start + 3]!) >>> 0;
    index[entry + 1] = (key[start + 4]! << 24 | key[start + 5]! << 16 | key[start + 6]! << 8 |
      key[start + 7]!) >>> 0;
    return;
  }
  let w0 = 0;
  let w1 = 0;
  for (let b = 0; b < 8; b += 1) {
    const byte = b < keyBytes ? key[start + b]! : 0;
    if (b < 4) w0 = w0 * 256 + byte;
    else w1 = w1 * 256 + byte;
  }
  index[entry] = w0;
  index[entry + 1] = w1;
}

/**
 * The tie comparison of a keyed sort buffer: memcmp of the stored keys (their first 8 bytes
 * are already equal), then the shorter first; the comparator only for keyless records.
 *
 * @param index The index words.
 * @param pages The data pages.
 * @param segmentShift log2 of the page size.
 * @param order The comparator for keyless records.
 * @returns The comparison for `sortIndex`.
 */
export function keyedTieCompare(
  index: Uint32Array,
  pages: readonly Uint8Array[],
  segmentShift: number,
  order: RecordOrder,
): TieCompare {
  const mask = (1 << segmentShift) - 1;
  return (a, b) => {
    const addressA = index[a + ADDRESS_WORD]!;
    const addressB = index[b + ADDRESS_WORD]!;
    const pageA = pages[addressA >>> segmentShift]!;
    const pageB = pages[addressB >>> segmentShift]!;
    const offsetA = addressA & mask;
    const offsetB = addressB & mask;
    const keyA = (pageA[offsetA - 4]! | pageA[offsetA - 3]! << 8 | pageA[offsetA - 2]! << 16 |
      pageA[offsetA - 1]! << 24) >>> 0;
    const keyB = (pageB[offsetB - 4]! | pageB[offsetB - 3]! << 8 | pageB[offsetB - 2]! << 16 |
      pageB[offsetB - 1]! << 24) >>> 0;
    if (keyA === NO_KEY || keyB === NO_KEY) {
      return order.compare(
        pageA,
        offsetA,
        index[a + LENGTH_WORD]!,
        pageB,
        offsetB,
        index[b + LENGTH_WORD]!,
      );
    }
    const startA = offsetA - KEY_LENGTH_BYTES - keyA;
    const startB = offsetB - KEY_LENGTH_BYTES - keyB;
    const common = keyA < keyB ? keyA : keyB;
    for (let i = common < 8 ? common : 8; i < common; i += 1) {
      const diff = pageA[startA + i]! - pageB[startB + i]!;
      if (diff !== 0) return diff;
    }
    return keyA - keyB;
  };
}

/**
 * Where the line of a keyed run's record starts: past varint(key length + 1) and the key
 * (docs/spill-format.md). The line ends where the record ends.
 *
 * @param bytes Storage of the record.
 * @param offset Where the record starts.
 * @returns The line's offset in `bytes`.
 */
export function keyedLineOffset(bytes: Uint8Array, offset: number): number {
  const field = readVarint(bytes, offset);
  let at = offset;
  while (bytes[at]! >= 0x80) at += 1;
  return at + 1 + (field === 0 ? 0 : field - 1);
}

/**
 * The order of a keyed run's records (`varint(key length + 1)`, key, line): memcmp of the
 * keys, then the shorter first, which is the line order's (see {@linkcode NormalizedKeyEncoder});
 * a record stored without its key (field 0) is compared by the line order on the lines. The
 * merges of keyed runs use it for intermediate passes and when the merge kernel cannot run.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { KeyedRunOrder } from "./keyed_records.ts";
 * import { SortOrder } from "./sort_order.ts";
 * const order = new KeyedRunOrder(new SortOrder({
 *   keys: [], reverse: false, numeric: true, foldCase: false,
 *   ignoreLeadingBlanks: false, stable: false, unique: false,
 * }));
 * // key "b" + line "x" against key "a" + line "y": the keys decide.
 * const a = new Uint8Array([2, 0x62, 0x78]);
 * const b = new Uint8Array([2, 0x61, 0x79]);
 * strictEqual(order.compare(a, 0, 3, b, 0, 3) > 0, true);
 * ```
 */
export class KeyedRunOrder implements RecordOrder {
  /** False: records compare by their keys. */
  readonly isPlainBytes = false;
  /** False: the keys encode `-r`. */
  readonly reverse = false;
  /** The order of the lines (for records stored without their key). */
  readonly lineOrder: RecordOrder;
  /** The keys end with the line, stored once: the compared key runs on through the line. */
  readonly lineEndsKey: boolean;
  /** The encoder of keyless records' prefixes. */
  readonly #keys: NormalizedKeyEncoder | undefined;
  #prefixScratch = new Uint8Array(8);

  /**
   * Wraps the order the keys were encoded for.
   *
   * @param lineOrder The order of the lines.
   * @param lineEndsKey Whether the stored keys leave out their last-resort copy of the line
   *   (then key + line, adjacent in the record, is the whole key).
   * @param keys The encoder of the keys: {@linkcode KeyedRunOrder.writePrefix} needs it for a
   *   record stored without its key (the modules that only compare leave it out).
   */
  constructor(lineOrder: RecordOrder, lineEndsKey = false, keys?: NormalizedKeyEncoder) {
    this.lineOrder = lineOrder;
    this.lineEndsKey = lineEndsKey;
    this.#keys = keys;
  }

  /** Keys by memcmp (then length); the line order when a record has no stored key. */
  compare(
    a: Uint8Array,
    aOffset: number,
    aLength: number,
    b: Uint8Array,
    bOffset: number,
    bLength: number,
  ): number {
    return this.#compare(a, aOffset, aLength, b, bOffset, bLength, false);
  }

  /** As compare (the keys of `-u` leave out the last-resort comparison). */
  compareKeys(
    a: Uint8Array,
    aOffset: number,
    aLength: number,
    b: Uint8Array,
    bOffset: number,
    bLength: number,
  ): number {
    return this.#compare(a, aOffset, aLength, b, bOffset, bLength, true);
  }

  /** The key's first bytes (the line order's prefix for a record without a stored key). */
  writePrefix(
    bytes: Uint8Array,
    offset: number,
    length: number,
    out: Uint32Array,
    outIndex: number,
    words: number,
  ): void {
    const line = keyedLineOffset(bytes, offset);
    const field = bytes[offset]!;
    if (field === 0) {
      // A record stored without its key: the prefix is still its key's first bytes (what the
      // sort buffer's index holds for it), not the line order's own prefix, so that records
      // with and without a stored key compare consistently.
      const keys = this.#keys;
      if (keys === undefined) {
        throw new RangeError("KeyedRunOrder: a keyless record's prefix needs the key encoder");
      }
      const scratchBytes = words * 4;
      if (this.#prefixScratch.length < scratchBytes) {
        this.#prefixScratch = new Uint8Array(scratchBytes);
      }
      const keyBytes = keys.encode(
        bytes,
        line,
        offset + length - line,
        this.#prefixScratch,
        0,
        scratchBytes,
      );
      writeBytesPrefix(
        this.#prefixScratch,
        0,
        Math.min(keyBytes, scratchBytes),
        out,
        outIndex,
        words,
      );
      return;
    }
    let keyStart = offset + 1;
    while (bytes[keyStart - 1]! >= 0x80) keyStart += 1;
    const keyEnd = this.lineEndsKey ? offset + length : line;
    writeBytesPrefix(bytes, keyStart, keyEnd - keyStart, out, outIndex, words);
  }

  #compare(
    a: Uint8Array,
    aOffset: number,
    aLength: number,
    b: Uint8Array,
    bOffset: number,
    bLength: number,
    keysOnly: boolean,
  ): number {
    // The key field: one byte for keys up to 126 bytes, else a longer varint.
    let aField = a[aOffset]!;
    let aKey = aOffset + 1;
    if (aField >= 0x80) {
      aKey = aOffset;
      aField = readVarint(a, aOffset);
      while (a[aKey]! >= 0x80) aKey += 1;
      aKey += 1;
    }
    let bField = b[bOffset]!;
    let bKey = bOffset + 1;
    if (bField >= 0x80) {
      bKey = bOffset;
      bField = readVarint(b, bOffset);
      while (b[bKey]! >= 0x80) bKey += 1;
      bKey += 1;
    }
    if (aField === 0 || bField === 0) {
      const aLine = aField === 0 ? aKey : aKey + aField - 1;
      const bLine = bField === 0 ? bKey : bKey + bField - 1;
      const order = this.lineOrder;
      const aLineLength = aOffset + aLength - aLine;
      const bLineLength = bOffset + bLength - bLine;
      return keysOnly
        ? order.compareKeys(a, aLine, aLineLength, b, bLine, bLineLength)
        : order.compare(a, aLine, aLineLength, b, bLine, bLineLength);
    }
    // With lineEndsKey the key is the stored part and the line after it: to the record's end.
    const aKeyLength = this.lineEndsKey ? aOffset + aLength - aKey : aField - 1;
    const bKeyLength = this.lineEndsKey ? bOffset + bLength - bKey : bField - 1;
    const common = aKeyLength < bKeyLength ? aKeyLength : bKeyLength;
    for (let i = 0; i < common; i += 1) {
      const diff = a[aKey + i]! - b[bKey + i]!;
      if (diff !== 0) return diff;
    }
    return aKeyLength - bKeyLength;
  }
}

function readVarint(bytes: Uint8Array, offset: number): number {
  let value = 0;
  let scale = 1;
  let at = offset;
  for (;;) {
    const byte = bytes[at]!;
    at += 1;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return value;
    scale *= 128;
  }
}

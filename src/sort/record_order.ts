// A leaf module, not memory/mod.ts: this file is in the sort Worker's module graph.
import { compareBytes } from "../memory/memory_segment.ts";

/**
 * What the sort core needs from an ordering: the subset of `SortOrder` (src/sort/sort_order.ts)
 * that the sorter, the merger and the checker use. `SortOrder` satisfies it structurally.
 */
export interface RecordOrder {
  /** Whole-record memcmp order (then length); the core may use its own fast path. */
  readonly isPlainBytes: boolean;
  /** For plain bytes: descending order. */
  readonly reverse: boolean;
  /** Full comparison of two records (no terminators): negative, zero or positive. */
  compare(
    a: Uint8Array,
    aOffset: number,
    aLength: number,
    b: Uint8Array,
    bOffset: number,
    bLength: number,
  ): number;
  /** Equality for `-u`: keys only. */
  compareKeys(
    a: Uint8Array,
    aOffset: number,
    aLength: number,
    b: Uint8Array,
    bOffset: number,
    bLength: number,
  ): number;
  /** Writes `words` big-endian u32 words of an order-preserving prefix into `out[outIndex..]`. */
  writePrefix(
    bytes: Uint8Array,
    offset: number,
    length: number,
    out: Uint32Array,
    outIndex: number,
    words: number,
  ): void;
}

/**
 * Writes the first `words * 4` bytes of a record as big-endian u32 words (zero padded).
 *
 * Zero padding keeps the order: a shorter record that is a prefix of a longer one gets a
 * prefix less than or equal to the longer one's, and equal prefixes always go to the full
 * comparison.
 */
export function writeBytesPrefix(
  bytes: Uint8Array,
  offset: number,
  length: number,
  out: Uint32Array,
  outIndex: number,
  words: number,
): void {
  for (let w = 0; w < words; w += 1) {
    const start = offset + w * 4;
    const available = length - w * 4;
    let word = 0;
    if (available >= 4) {
      word = (bytes[start]! << 24 | bytes[start + 1]! << 16 | bytes[start + 2]! << 8 |
        bytes[start + 3]!) >>> 0;
    } else if (available > 0) {
      for (let b = 0; b < 4; b += 1) {
        word = word * 256 + (b < available ? bytes[start + b]! : 0);
      }
    }
    out[outIndex + w] = word;
  }
}

/** Plain byte order (`LC_ALL=C sort` without keys), optionally reversed. */
export class BytesOrder implements RecordOrder {
  /** Always true. */
  readonly isPlainBytes = true;
  /** Whether the order is descending. */
  readonly reverse: boolean;

  /**
   * Creates the order.
   *
   * @param reverse Descending order (`-r`).
   */
  constructor(reverse = false) {
    this.reverse = reverse;
  }

  /** memcmp then length, reversed for `-r`. */
  compare(
    a: Uint8Array,
    aOffset: number,
    aLength: number,
    b: Uint8Array,
    bOffset: number,
    bLength: number,
  ): number {
    const result = compareBytes(a, aOffset, aLength, b, bOffset, bLength);
    return this.reverse ? -result : result;
  }

  /** Same as compare: the whole record is the key. */
  compareKeys(
    a: Uint8Array,
    aOffset: number,
    aLength: number,
    b: Uint8Array,
    bOffset: number,
    bLength: number,
  ): number {
    return this.compare(a, aOffset, aLength, b, bOffset, bLength);
  }

  /** The first bytes, inverted for `-r`. */
  writePrefix(
    bytes: Uint8Array,
    offset: number,
    length: number,
    out: Uint32Array,
    outIndex: number,
    words: number,
  ): void {
    writeBytesPrefix(bytes, offset, length, out, outIndex, words);
    if (this.reverse) {
      for (let w = 0; w < words; w += 1) out[outIndex + w] = ~out[outIndex + w]! >>> 0;
    }
  }
}

/** Binary fixed-size records ordered by memcmp of the key bytes (ties: input order). */
export class FixedKeyOrder implements RecordOrder {
  /** False: the key is a slice of the record. */
  readonly isPlainBytes = false;
  /** Always ascending. */
  readonly reverse = false;
  /** Where the key starts in the record. */
  readonly keyOffset: number;
  /** How many key bytes. */
  readonly keyBytes: number;

  /**
   * Creates the order.
   *
   * @param keyOffset Where the key starts in the record.
   * @param keyBytes How many bytes of key.
   */
  constructor(keyOffset: number, keyBytes: number) {
    this.keyOffset = keyOffset;
    this.keyBytes = keyBytes;
  }

  /** memcmp of the key bytes. */
  compare(
    a: Uint8Array,
    aOffset: number,
    _aLength: number,
    b: Uint8Array,
    bOffset: number,
    _bLength: number,
  ): number {
    const k = this.keyBytes;
    return compareBytes(a, aOffset + this.keyOffset, k, b, bOffset + this.keyOffset, k);
  }

  /** Same as compare. */
  compareKeys(
    a: Uint8Array,
    aOffset: number,
    aLength: number,
    b: Uint8Array,
    bOffset: number,
    bLength: number,
  ): number {
    return this.compare(a, aOffset, aLength, b, bOffset, bLength);
  }

  /** The first key bytes. */
  writePrefix(
    bytes: Uint8Array,
    offset: number,
    _length: number,
    out: Uint32Array,
    outIndex: number,
    words: number,
  ): void {
    writeBytesPrefix(bytes, offset + this.keyOffset, this.keyBytes, out, outIndex, words);
  }
}

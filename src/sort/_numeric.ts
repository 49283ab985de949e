/**
 * GNU `sort -n` number comparison in the C locale (strnumcmp with '.' as the decimal point
 * and no thousands separator), on byte ranges.
 *
 * A key reads as: blanks*, an optional '-', digits*, then optionally '.' and digits*
 * (plus GNU's 0x80 quirk, see `THOUSANDS`).
 * Whatever follows is ignored; a key without digits is zero; -0 equals 0. Numbers compare by
 * value with unbounded precision (digit strings, never floats):
 *
 * ```
 *   "  -012.500x"   sign -1, integer digits "12", fraction digits "5"
 *        ^ ^  ^^    (leading zeros and trailing fraction zeros are dropped)
 * ```
 */

const ZERO = 0x30;
const NINE = 0x39;
const MINUS = 0x2d;
const DOT = 0x2e;

/** Blank bytes in the C locale as GNU sort sees them: space, tab and newline. */
export const BLANKS: Uint8Array = (() => {
  const table = new Uint8Array(256);
  table[0x20] = 1;
  table[0x09] = 1;
  table[0x0a] = 1;
  return table;
})();

/**
 * GNU sort's thousands separator in the C locale. The locale has none, so sort.c uses
 * `NON_CHAR` (CHAR_MAX + 1), which is 128 where `char` is signed (x86-64): strnumcmp then skips
 * byte 0x80 among the integer digits. We match that so `-n` output is byte-identical.
 */
const THOUSANDS = 0x80;

// Scratch results of parseNumber (module-level: no allocation per comparison).
let parsedNegative = false;
let parsedIntStart = 0;
let parsedIntEnd = 0;
let parsedIntDigits = 0;
let parsedFracStart = 0;
let parsedFracEnd = 0;

function parseNumber(bytes: Uint8Array, start: number, end: number): void {
  let index = start;
  while (index < end && BLANKS[bytes[index]!] === 1) index += 1;
  parsedNegative = false;
  if (index < end && bytes[index] === MINUS) {
    parsedNegative = true;
    index += 1;
  }
  while (index < end && (bytes[index] === ZERO || bytes[index] === THOUSANDS)) index += 1;
  parsedIntStart = index;
  let digits = 0;
  while (index < end) {
    const byte = bytes[index]!;
    if (byte >= ZERO && byte <= NINE) digits += 1;
    else if (byte !== THOUSANDS) break;
    index += 1;
  }
  parsedIntEnd = index;
  parsedIntDigits = digits;
  parsedFracStart = index;
  parsedFracEnd = index;
  if (index < end && bytes[index] === DOT) {
    index += 1;
    parsedFracStart = index;
    while (index < end) {
      const byte = bytes[index]!;
      if (byte < ZERO || byte > NINE) break;
      index += 1;
    }
    while (index > parsedFracStart && bytes[index - 1] === ZERO) index -= 1;
    parsedFracEnd = index;
  }
}

/**
 * Compares two keys as GNU `sort -n` does in the C locale.
 *
 * @returns Negative, zero or positive.
 */
export function compareNumeric(
  a: Uint8Array,
  aStart: number,
  aEnd: number,
  b: Uint8Array,
  bStart: number,
  bEnd: number,
): number {
  parseNumber(a, aStart, aEnd);
  const aIntStart = parsedIntStart;
  const aIntEnd = parsedIntEnd;
  const aIntLength = parsedIntDigits;
  const aFracStart = parsedFracStart;
  const aFracLength = parsedFracEnd - parsedFracStart;
  const aSign = aIntLength === 0 && aFracLength === 0 ? 0 : parsedNegative ? -1 : 1;
  parseNumber(b, bStart, bEnd);
  const bIntStart = parsedIntStart;
  const bIntEnd = parsedIntEnd;
  const bIntLength = parsedIntDigits;
  const bFracStart = parsedFracStart;
  const bFracLength = parsedFracEnd - parsedFracStart;
  const bSign = bIntLength === 0 && bFracLength === 0 ? 0 : parsedNegative ? -1 : 1;

  if (aSign !== bSign) return aSign < bSign ? -1 : 1;
  if (aSign === 0) return 0;
  let magnitude: number;
  if (aIntLength !== bIntLength) {
    magnitude = aIntLength < bIntLength ? -1 : 1;
  } else {
    magnitude = compareIntegerDigits(a, aIntStart, aIntEnd, b, bIntStart, bIntEnd);
    if (magnitude === 0) {
      magnitude = compareDigits(a, aFracStart, aFracLength, b, bFracStart, bFracLength);
    }
  }
  return aSign < 0 ? -magnitude : magnitude;
}

/** Integer parts with the same digit count, skipping separator bytes. */
function compareIntegerDigits(
  a: Uint8Array,
  aStart: number,
  aEnd: number,
  b: Uint8Array,
  bStart: number,
  bEnd: number,
): number {
  let aIndex = aStart;
  let bIndex = bStart;
  while (true) {
    while (aIndex < aEnd && a[aIndex] === THOUSANDS) aIndex += 1;
    while (bIndex < bEnd && b[bIndex] === THOUSANDS) bIndex += 1;
    if (aIndex >= aEnd || bIndex >= bEnd) return 0;
    const diff = a[aIndex]! - b[bIndex]!;
    if (diff !== 0) return diff;
    aIndex += 1;
    bIndex += 1;
  }
}

function compareDigits(
  a: Uint8Array,
  aStart: number,
  aLength: number,
  b: Uint8Array,
  bStart: number,
  bLength: number,
): number {
  const common = aLength < bLength ? aLength : bLength;
  for (let index = 0; index < common; index += 1) {
    const diff = a[aStart + index]! - b[bStart + index]!;
    if (diff !== 0) return diff;
  }
  return aLength - bLength;
}

let scratch = new Uint8Array(64);

/**
 * Writes an order-preserving big-endian encoding of a `-n` key into `words` u32 words:
 * prefix(a) < prefix(b) implies compareNumeric(a, b) < 0.
 *
 * ```
 *  byte 0: class    0x40 = zero, 0x80 = positive, 0x00 = negative
 *  byte 1: integer digit count (negatives store 0xff - count)
 *  then:   integer digits then fraction digits, one byte each ('0'..'9' -> 1..10; negatives
 *          store 10 - digit), then an end mark (0; negatives 0x0f: a shorter fraction is
 *          a smaller magnitude), then zeros
 * ```
 * More than 254 integer digits: class then 0xff (positive) or 0x00 (negative), then zeros,
 * so such keys tie among themselves and `compare` decides.
 */
export function writeNumericPrefix(
  bytes: Uint8Array,
  start: number,
  end: number,
  out: Uint32Array,
  outIndex: number,
  words: number,
): void {
  parseNumber(bytes, start, end);
  const totalBytes = words * 4;
  if (scratch.length < totalBytes) scratch = new Uint8Array(totalBytes);
  const buffer = scratch;
  buffer.fill(0, 0, totalBytes);
  const intLength = parsedIntDigits;
  const fracLength = parsedFracEnd - parsedFracStart;
  let position = 0;
  if (intLength === 0 && fracLength === 0) {
    buffer[position++] = 0x40;
  } else if (intLength > 254) {
    buffer[position++] = parsedNegative ? 0x00 : 0x80;
    if (position < totalBytes) buffer[position++] = parsedNegative ? 0x00 : 0xff;
  } else {
    const negative = parsedNegative;
    buffer[position++] = negative ? 0x00 : 0x80;
    if (position < totalBytes) buffer[position++] = negative ? 0xff - intLength : intLength;
    for (let index = parsedIntStart; index < parsedIntEnd && position < totalBytes; index += 1) {
      if (bytes[index] === THOUSANDS) continue;
      const digit = bytes[index]! - ZERO;
      buffer[position++] = negative ? 10 - digit : digit + 1;
    }
    for (let index = parsedFracStart; index < parsedFracEnd && position < totalBytes; index += 1) {
      const digit = bytes[index]! - ZERO;
      buffer[position++] = negative ? 10 - digit : digit + 1;
    }
    if (position < totalBytes) buffer[position++] = negative ? 0x0f : 0;
  }
  for (let wordIndex = 0; wordIndex < words; wordIndex += 1) {
    const base = wordIndex * 4;
    out[outIndex + wordIndex] = ((buffer[base]! << 24) | (buffer[base + 1]! << 16) |
      (buffer[base + 2]! << 8) | buffer[base + 3]!) >>> 0;
  }
}

/**
 * Writes the byte-comparable key of a `-n` key into `out[position..end)` (bytes past `end`
 * are counted, not written): unsigned byte order of two keys equals {@linkcode compareNumeric}
 * order, and equal keys are exactly the numbers GNU calls equal, for any digit count.
 *
 * ```
 *  zero (no digits, or only zeros):  0x40
 *  positive:  0x80, magnitude                 negative:  0x00, ~magnitude (each byte)
 *  magnitude: integer digit count (one byte below 0xff; else 0xff and 4 bytes big-endian),
 *             integer then fraction digits as 1..10 (no leading/trailing zeros), then 0x00
 * ```
 * The magnitude is prefix-free (digits are never 0x00), so inverting it reverses its order.
 *
 * @returns The position after the key (may exceed `end`: the key did not fit).
 */
export function writeNumericKey(
  bytes: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
  position: number,
  outEnd: number,
): number {
  parseNumber(bytes, start, end);
  const intLength = parsedIntDigits;
  const fracLength = parsedFracEnd - parsedFracStart;
  if (intLength === 0 && fracLength === 0) {
    if (position < outEnd) out[position] = 0x40;
    return position + 1;
  }
  const negative = parsedNegative;
  const flip = negative ? 0xff : 0;
  if (position < outEnd) out[position] = negative ? 0x00 : 0x80;
  position += 1;
  if (intLength < 0xff) {
    if (position < outEnd) out[position] = intLength ^ flip;
    position += 1;
  } else {
    if (position < outEnd) out[position] = 0xff ^ flip;
    position += 1;
    for (let shift = 24; shift >= 0; shift -= 8) {
      if (position < outEnd) out[position] = ((intLength >>> shift) & 0xff) ^ flip;
      position += 1;
    }
  }
  for (let index = parsedIntStart; index < parsedIntEnd; index += 1) {
    const byte = bytes[index]!;
    if (byte === THOUSANDS) continue;
    if (position < outEnd) out[position] = (byte - ZERO + 1) ^ flip;
    position += 1;
  }
  for (let index = parsedFracStart; index < parsedFracEnd; index += 1) {
    if (position < outEnd) out[position] = (bytes[index]! - ZERO + 1) ^ flip;
    position += 1;
  }
  if (position < outEnd) out[position] = flip;
  return position + 1;
}

/**
 * SI suffix orders of GNU `sort -h`: k/K 1, M 2, G 3, T 4, P 5, E 6, Z 7, Y 8, and the 2022 SI
 * prefixes R 9 and Q 10 (newer GNU sort knows them; 9.1 does not).
 */
const UNIT_ORDER: Int8Array = (() => {
  const table = new Int8Array(256);
  const units = "KMGTPEZYRQ";
  for (let index = 0; index < units.length; index += 1) {
    table[units.charCodeAt(index)] = index + 1;
  }
  table[0x6b] = 1; // k
  return table;
})();

/**
 * GNU's `find_unit_order` after blanks: the suffix order of a nonzero number (negated for
 * a leading '-'), 0 for zero or no suffix.
 */
export function unitOrder(bytes: Uint8Array, start: number, end: number): number {
  let index = start;
  const negative = index < end && bytes[index] === MINUS;
  if (negative) index += 1;
  let digitMax = 0;
  while (index < end && bytes[index]! >= ZERO && bytes[index]! <= NINE) {
    if (bytes[index]! > digitMax) digitMax = bytes[index]!;
    index += 1;
  }
  if (index < end && bytes[index] === DOT) {
    index += 1;
    while (index < end && bytes[index]! >= ZERO && bytes[index]! <= NINE) {
      if (bytes[index]! > digitMax) digitMax = bytes[index]!;
      index += 1;
    }
  }
  if (digitMax <= ZERO) return 0;
  const order = index < end ? UNIT_ORDER[bytes[index]!]! : 0;
  return negative ? -order : order;
}

/**
 * Compares two keys as GNU `sort -h` does in the C locale: the SI suffix first, then the
 * number as `-n` reads it.
 *
 * @returns Negative, zero or positive.
 */
export function compareHumanNumeric(
  a: Uint8Array,
  aStart: number,
  aEnd: number,
  b: Uint8Array,
  bStart: number,
  bEnd: number,
): number {
  let aIndex = aStart;
  while (aIndex < aEnd && BLANKS[a[aIndex]!] === 1) aIndex += 1;
  let bIndex = bStart;
  while (bIndex < bEnd && BLANKS[b[bIndex]!] === 1) bIndex += 1;
  const diff = unitOrder(a, aIndex, aEnd) - unitOrder(b, bIndex, bEnd);
  return diff !== 0 ? diff : compareNumeric(a, aIndex, aEnd, b, bIndex, bEnd);
}

/** Month names of the C locale, upper case, and their numbers. */
const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
  .map((name) => new TextEncoder().encode(name));

/**
 * GNU's `getmonth` in the C locale: after blanks, the first three bytes folded to upper
 * case name a month (1 to 12); anything else is 0.
 *
 * @returns The month number, or 0.
 */
export function monthOf(bytes: Uint8Array, start: number, end: number): number {
  let index = start;
  while (index < end && BLANKS[bytes[index]!] === 1) index += 1;
  if (end - index < 3) return 0;
  const first = upper(bytes[index]!);
  const second = upper(bytes[index + 1]!);
  const third = upper(bytes[index + 2]!);
  for (let month = 0; month < 12; month += 1) {
    const name = MONTHS[month]!;
    if (name[0] === first && name[1] === second && name[2] === third) return month + 1;
  }
  return 0;
}

function upper(byte: number): number {
  return byte >= 0x61 && byte <= 0x7a ? byte - 0x20 : byte;
}

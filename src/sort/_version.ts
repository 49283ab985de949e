/**
 * GNU `sort -V`: gnulib's `filenvercmp` as built into coreutils 9.1, on byte ranges.
 *
 * ```
 *   empty < "." < ".." < other names starting with "." < other names
 *   then compare without the file suffix (\.[A-Za-z~][A-Za-z0-9~]*)*$, and when that ties,
 *   again with it; each comparison alternates non-digit runs (~ first, then end of string,
 *   letters, then other bytes) and digit runs (by numeric value)
 * ```
 */

function isDigit(byte: number): boolean {
  return byte >= 0x30 && byte <= 0x39;
}

function isAlpha(byte: number): boolean {
  const lower = byte | 0x20;
  return lower >= 0x61 && lower <= 0x7a;
}

const TILDE = 0x7e;
const DOT = 0x2e;
const ZERO = 0x30;

/**
 * Length of `bytes[start, end)` without its file suffix. As in the gnulib of coreutils 9.1,
 * the suffix may be the whole key (".b1" has an empty prefix); later gnulib keeps the first
 * byte, but 9.1 is the oracle.
 */
function prefixLength(bytes: Uint8Array, start: number, end: number): number {
  const length = end - start;
  let index = 0;
  while (true) {
    const prefix = index;
    while (
      index + 1 < length && bytes[start + index] === DOT &&
      (isAlpha(bytes[start + index + 1]!) || bytes[start + index + 1] === TILDE)
    ) {
      index += 2;
      while (
        index < length && (isAlpha(bytes[start + index]!) || isDigit(bytes[start + index]!) ||
          bytes[start + index] === TILDE)
      ) {
        index += 1;
      }
    }
    if (index >= length) return prefix;
    index += 1;
  }
}

/** A byte's weight in a non-digit run; `-1` at the end of the string. */
function order(bytes: Uint8Array, position: number, end: number): number {
  if (position === end) return -1;
  const byte = bytes[position]!;
  if (isDigit(byte)) return 0;
  if (isAlpha(byte)) return byte;
  if (byte === TILDE) return -2;
  return byte + 256;
}

function compareRuns(
  a: Uint8Array,
  aStart: number,
  aEnd: number,
  b: Uint8Array,
  bStart: number,
  bEnd: number,
): number {
  let aPos = aStart;
  let bPos = bStart;
  while (aPos < aEnd || bPos < bEnd) {
    let firstDiff = 0;
    while ((aPos < aEnd && !isDigit(a[aPos]!)) || (bPos < bEnd && !isDigit(b[bPos]!))) {
      const aOrder = order(a, aPos, aEnd);
      const bOrder = order(b, bPos, bEnd);
      if (aOrder !== bOrder) return aOrder - bOrder;
      aPos += 1;
      bPos += 1;
    }
    while (aPos < aEnd && a[aPos] === ZERO) aPos += 1;
    while (bPos < bEnd && b[bPos] === ZERO) bPos += 1;
    while (aPos < aEnd && bPos < bEnd && isDigit(a[aPos]!) && isDigit(b[bPos]!)) {
      if (firstDiff === 0) firstDiff = a[aPos]! - b[bPos]!;
      aPos += 1;
      bPos += 1;
    }
    if (aPos < aEnd && isDigit(a[aPos]!)) return 1;
    if (bPos < bEnd && isDigit(b[bPos]!)) return -1;
    if (firstDiff !== 0) return firstDiff;
  }
  return 0;
}

/**
 * Compares two keys as GNU `sort -V` does.
 *
 * @returns Negative, zero or positive.
 */
export function compareVersion(
  a: Uint8Array,
  aStart: number,
  aEnd: number,
  b: Uint8Array,
  bStart: number,
  bEnd: number,
): number {
  const aEmpty = aEnd <= aStart;
  const bEmpty = bEnd <= bStart;
  if (aEmpty) return bEmpty ? 0 : -1;
  if (bEmpty) return 1;
  if (a[aStart] === DOT) {
    if (b[bStart] !== DOT) return -1;
    const aDot = aEnd - aStart === 1;
    const bDot = bEnd - bStart === 1;
    if (aDot) return bDot ? 0 : -1;
    if (bDot) return 1;
    const aDotDot = a[aStart + 1] === DOT && aEnd - aStart === 2;
    const bDotDot = b[bStart + 1] === DOT && bEnd - bStart === 2;
    if (aDotDot) return bDotDot ? 0 : -1;
    if (bDotDot) return 1;
  } else if (b[bStart] === DOT) {
    return 1;
  }
  const aPrefix = prefixLength(a, aStart, aEnd);
  const bPrefix = bStart + prefixLength(b, bStart, bEnd);
  const onePass = aStart + aPrefix === aEnd && bPrefix === bEnd;
  const result = compareRuns(a, aStart, aStart + aPrefix, b, bStart, bPrefix);
  return result !== 0 || onePass ? result : compareRuns(a, aStart, aEnd, b, bStart, bEnd);
}

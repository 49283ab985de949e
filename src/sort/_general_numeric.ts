/**
 * GNU `sort -g` in the C locale: each key is read the way glibc's `strtold` reads it, and keys
 * compare as x86 80-bit `long double` values do in GNU's `general_numcompare`:
 *
 * ```
 *   not a number (strtold read nothing)  <  NaN  <  -inf < ... < -0 = 0 < ... < inf
 *   NaNs among themselves: memcmp of the long double's bytes (little-endian: the low
 *   mantissa byte first, the sign last), so "nan" < "nan(1)" and "nan" < "-nan"
 * ```
 * Accepted: leading white space (space, \t \n \v \f \r), a sign, then `inf`/`infinity`,
 * `nan`/`nan(chars)`, a decimal (`1.5e-3`, `.5`, `1.`) or a hexadecimal float (`0x1.8p3`).
 *
 * Numbers compare exactly without allocating when both are decimals of at most 18
 * significant digits (18 digits survive rounding to a 64-bit significand, so their order is
 * the order of the reals). Anything else (hex floats, more digits, exponents near the
 * long double range) is rounded to a long double with BigInt arithmetic: rare, and exact.
 */

const ZERO = 0x30;
const NINE = 0x39;
const DOT = 0x2e;
const PLUS = 0x2b;
const MINUS = 0x2d;
const OPEN = 0x28;
const CLOSE = 0x29;

/** What strtold found. */
const CLASS_NONE = 0;
const CLASS_NAN = 1;
const CLASS_NUMBER = 2;

/** Long double limits (x86 80-bit): lowest exponent of the last significand bit. */
const LSB_EXPONENT_MIN = -16445;
const TOP_EXPONENT_MAX = 16383;
/** Beyond these decimal exponents of the leading digit, the value is inf or 0 for sure. */
const DECIMAL_EXPONENT_INF = 4935;
const DECIMAL_EXPONENT_ZERO = -4955;
/** Safe range for the exact decimal comparison (well inside the normal range). */
const DECIMAL_EXPONENT_SAFE = 4900;
const SAFE_DIGITS_MAX = 18;

function isSpace(byte: number): boolean {
  return byte === 0x20 || (byte >= 0x09 && byte <= 0x0d);
}

function hexValue(byte: number): number {
  if (byte >= ZERO && byte <= NINE) return byte - ZERO;
  const lower = byte | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

function lowerAt(bytes: Uint8Array, index: number, end: number): number {
  return index < end ? bytes[index]! | 0x20 : 0;
}

function matchWord(bytes: Uint8Array, index: number, end: number, word: string): boolean {
  if (end - index < word.length) return false;
  for (let offset = 0; offset < word.length; offset += 1) {
    if ((bytes[index + offset]! | 0x20) !== word.charCodeAt(offset)) return false;
  }
  return true;
}

// Scratch results of parseFloat (module-level: no allocation per comparison).
let parsedClass = CLASS_NONE;
let parsedNegative = false;
let parsedInfinite = false;
let parsedHex = false;
/** Mantissa digits: [intStart, intEnd) then [fracStart, fracEnd). */
let parsedIntStart = 0;
let parsedIntEnd = 0;
let parsedFracStart = 0;
let parsedFracEnd = 0;
/** The exponent after e/p (clamped to +-1e9). */
let parsedExponent = 0;
/** Where strtold stopped (`start` when it read nothing): for `--debug` underlines. */
let parsedEnd = 0;
/** NaN payload range inside the parentheses, or an empty range. */
let parsedPayloadStart = 0;
let parsedPayloadEnd = 0;

function parseFloat(bytes: Uint8Array, start: number, end: number): void {
  let index = start;
  parsedEnd = start;
  while (index < end && isSpace(bytes[index]!)) index += 1;
  parsedNegative = false;
  parsedInfinite = false;
  parsedHex = false;
  parsedExponent = 0;
  parsedPayloadStart = 0;
  parsedPayloadEnd = 0;
  parsedClass = CLASS_NONE;
  if (index < end && (bytes[index] === MINUS || bytes[index] === PLUS)) {
    parsedNegative = bytes[index] === MINUS;
    index += 1;
  }
  const first = lowerAt(bytes, index, end);
  if (first === 0x69) {
    if (matchWord(bytes, index, end, "inf")) {
      parsedClass = CLASS_NUMBER;
      parsedInfinite = true;
      parsedEnd = matchWord(bytes, index, end, "infinity") ? index + 8 : index + 3;
    }
    return;
  }
  if (first === 0x6e) {
    if (matchWord(bytes, index, end, "nan")) {
      parsedClass = CLASS_NAN;
      let scan = index + 3;
      parsedEnd = scan;
      if (scan < end && bytes[scan] === OPEN) {
        scan += 1;
        const payloadStart = scan;
        while (scan < end && isNanChar(bytes[scan]!)) scan += 1;
        if (scan < end && bytes[scan] === CLOSE) {
          parsedPayloadStart = payloadStart;
          parsedPayloadEnd = scan;
          parsedEnd = scan + 1;
        }
      }
    }
    return;
  }
  const base16 = first === ZERO && lowerAt(bytes, index + 1, end) === 0x78 &&
    (hexValue(index + 2 < end ? bytes[index + 2]! : 0) >= 0 ||
      (index + 3 < end && bytes[index + 2] === DOT && hexValue(bytes[index + 3]!) >= 0));
  if (base16) {
    parsedHex = true;
    index += 2;
  }
  const digitOf = base16 ? hexValue : decimalValue;
  parsedIntStart = index;
  while (index < end && digitOf(bytes[index]!) >= 0) index += 1;
  parsedIntEnd = index;
  parsedFracStart = index;
  parsedFracEnd = index;
  if (index < end && bytes[index] === DOT) {
    index += 1;
    parsedFracStart = index;
    while (index < end && digitOf(bytes[index]!) >= 0) index += 1;
    parsedFracEnd = index;
  }
  if (parsedIntEnd === parsedIntStart && parsedFracEnd === parsedFracStart) return;
  parsedClass = CLASS_NUMBER;
  parsedEnd = index;
  const marker = base16 ? 0x70 : 0x65;
  if (lowerAt(bytes, index, end) === marker) {
    let scan = index + 1;
    let negative = false;
    if (scan < end && (bytes[scan] === MINUS || bytes[scan] === PLUS)) {
      negative = bytes[scan] === MINUS;
      scan += 1;
    }
    if (scan < end && decimalValue(bytes[scan]!) >= 0) {
      let exponent = 0;
      while (scan < end && decimalValue(bytes[scan]!) >= 0) {
        if (exponent < 1e9) exponent = exponent * 10 + bytes[scan]! - ZERO;
        scan += 1;
      }
      parsedExponent = negative ? -exponent : exponent;
      parsedEnd = scan;
    }
  }
}

/**
 * Where glibc's strtold stops reading `bytes[start, end)` (`start` when it reads no number):
 * what GNU `sort --debug` underlines for a `-g` key.
 *
 * @returns The index after the number.
 */
export function generalNumericEnd(bytes: Uint8Array, start: number, end: number): number {
  parseFloat(bytes, start, end);
  return parsedEnd;
}

function decimalValue(byte: number): number {
  return byte >= ZERO && byte <= NINE ? byte - ZERO : -1;
}

function isNanChar(byte: number): boolean {
  return (byte >= ZERO && byte <= NINE) || byte === 0x5f ||
    ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7a);
}

// Normalized decimal of the last `normalizeDecimal` call.
let firstDigitIndex = 0;
let significantDigits = 0;
let leadingExponent = 0;

/**
 * For a parsed decimal: where its first significant digit is, how many significant digits
 * (without trailing zeros) and the decimal exponent of the first one (1.5 -> 0, 0.015 -> -2).
 * Zero has no significant digits.
 */
function normalizeDecimal(bytes: Uint8Array): void {
  let count = 0;
  let first = -1;
  let exponent = 0;
  let lastNonZero = 0;
  let position = 0; // digits seen so far, counting from the first significant one
  for (let index = parsedIntStart; index < parsedIntEnd; index += 1) {
    const byte = bytes[index]!;
    if (first < 0) {
      if (byte === ZERO) continue;
      first = index;
      exponent = parsedIntEnd - index - 1;
    }
    position += 1;
    if (byte !== ZERO) lastNonZero = position;
  }
  for (let index = parsedFracStart; index < parsedFracEnd; index += 1) {
    const byte = bytes[index]!;
    if (first < 0) {
      if (byte === ZERO) continue;
      first = index;
      exponent = -(index - parsedFracStart) - 1;
    }
    position += 1;
    if (byte !== ZERO) lastNonZero = position;
  }
  count = lastNonZero;
  firstDigitIndex = first;
  significantDigits = first < 0 ? 0 : count;
  leadingExponent = first < 0 ? 0 : exponent + parsedExponent;
}

/** The n-th significant digit (0-based) of the normalized decimal starting at `first`. */
function digitAt(bytes: Uint8Array, first: number, intEnd: number, fracStart: number, n: number) {
  const inInt = intEnd - first;
  if (n < inInt) return bytes[first + n]!;
  const fracFirst = first >= fracStart ? first : fracStart;
  return bytes[fracFirst + (n - (inInt > 0 ? inInt : 0))]!;
}

/**
 * Compares two keys as GNU `sort -g` does in the C locale.
 *
 * @returns Negative, zero or positive.
 */
export function compareGeneralNumeric(
  a: Uint8Array,
  aStart: number,
  aEnd: number,
  b: Uint8Array,
  bStart: number,
  bEnd: number,
): number {
  parseFloat(a, aStart, aEnd);
  const aClass = parsedClass;
  const aNegative = parsedNegative;
  const aInfinite = parsedInfinite;
  const aHex = parsedHex;
  const aIntStart = parsedIntStart;
  const aIntEnd = parsedIntEnd;
  const aFracStart = parsedFracStart;
  const aFracEnd = parsedFracEnd;
  const aExponent = parsedExponent;
  const aPayloadStart = parsedPayloadStart;
  const aPayloadEnd = parsedPayloadEnd;
  parseFloat(b, bStart, bEnd);
  const bClass = parsedClass;
  if (aClass === CLASS_NONE) return bClass === CLASS_NONE ? 0 : -1;
  if (bClass === CLASS_NONE) return 1;
  if (aClass === CLASS_NAN || bClass === CLASS_NAN) {
    if (aClass !== CLASS_NAN) return 1;
    if (bClass !== CLASS_NAN) return -1;
    return compareNans(
      aNegative,
      payload(a, aPayloadStart, aPayloadEnd),
      parsedNegative,
      payload(b, parsedPayloadStart, parsedPayloadEnd),
    );
  }
  // Both are numbers: signs first (zero has no sign).
  const bNegative = parsedNegative;
  const bInfinite = parsedInfinite;
  const bHex = parsedHex;
  let bZero = false;
  let bDigits = 0;
  let bFirst = 0;
  let bLeading = 0;
  if (!bInfinite && !bHex) {
    normalizeDecimal(b);
    bZero = significantDigits === 0;
    bDigits = significantDigits;
    bFirst = firstDigitIndex;
    bLeading = leadingExponent;
  }
  const bIntEnd = parsedIntEnd;
  const bFracStart = parsedFracStart;
  // Restore a's parse for its own normalization.
  parsedIntStart = aIntStart;
  parsedIntEnd = aIntEnd;
  parsedFracStart = aFracStart;
  parsedFracEnd = aFracEnd;
  parsedExponent = aExponent;
  let aZero = false;
  let aDigits = 0;
  let aFirst = 0;
  let aLeading = 0;
  if (!aInfinite && !aHex) {
    normalizeDecimal(a);
    aZero = significantDigits === 0;
    aDigits = significantDigits;
    aFirst = firstDigitIndex;
    aLeading = leadingExponent;
  }
  const safe = !aHex && !bHex && !aInfinite && !bInfinite &&
    aDigits <= SAFE_DIGITS_MAX && bDigits <= SAFE_DIGITS_MAX &&
    (aZero || (aLeading < DECIMAL_EXPONENT_SAFE && aLeading > -DECIMAL_EXPONENT_SAFE)) &&
    (bZero || (bLeading < DECIMAL_EXPONENT_SAFE && bLeading > -DECIMAL_EXPONENT_SAFE));
  if (!safe) {
    return compareRounded(a, aStart, aEnd, b, bStart, bEnd);
  }
  const aSign = aZero ? 0 : aNegative ? -1 : 1;
  const bSign = bZero ? 0 : bNegative ? -1 : 1;
  if (aSign !== bSign) return aSign < bSign ? -1 : 1;
  if (aSign === 0) return 0;
  let magnitude = 0;
  if (aLeading !== bLeading) {
    magnitude = aLeading < bLeading ? -1 : 1;
  } else {
    const common = aDigits < bDigits ? aDigits : bDigits;
    for (let n = 0; n < common && magnitude === 0; n += 1) {
      magnitude = digitAt(a, aFirst, aIntEnd, aFracStart, n) -
        digitAt(b, bFirst, bIntEnd, bFracStart, n);
    }
    if (magnitude === 0) magnitude = aDigits - bDigits;
  }
  return aSign < 0 ? -magnitude : magnitude;
}

/** glibc's NaN payload: the parenthesized chars read as strtoull(base 0) if all are used. */
function payload(bytes: Uint8Array, start: number, end: number): bigint {
  if (end <= start) return 0n;
  const text = new TextDecoder().decode(bytes.subarray(start, end));
  let match = /^(0[xX])([0-9a-fA-F]+)$/.exec(text);
  let value: bigint;
  if (match !== null) value = BigInt(`0x${match[2]}`);
  else if ((match = /^0([0-7]*)$/.exec(text)) !== null) value = BigInt(`0o${match[1] || "0"}`);
  else if (/^[1-9][0-9]*$/.test(text)) value = BigInt(text);
  else return 0n;
  const ullMax = (1n << 64n) - 1n;
  return value > ullMax ? ullMax : value;
}

/** memcmp of two x86 long double NaNs, as GNU's nan_compare. */
function compareNans(
  aNegative: boolean,
  aPayload: bigint,
  bNegative: boolean,
  bPayload: bigint,
): number {
  const mask = (1n << 62n) - 1n;
  const quiet = 0xc000_0000_0000_0000n;
  const aMantissa = (aPayload & mask) === 0n ? quiet : quiet | (aPayload & mask);
  const bMantissa = (bPayload & mask) === 0n ? quiet : quiet | (bPayload & mask);
  for (let byteIndex = 0n; byteIndex < 8n; byteIndex += 1n) {
    const diff = Number((aMantissa >> (byteIndex * 8n)) & 0xffn) -
      Number((bMantissa >> (byteIndex * 8n)) & 0xffn);
    if (diff !== 0) return diff;
  }
  return (aNegative ? 0xff : 0x7f) - (bNegative ? 0xff : 0x7f);
}

// Result of roundToLongDouble.
let roundedInfinite = false;
let roundedExponent = 0;
let roundedSignificand = 0n;
let roundedZero = false;

/** The slow path: round both keys to long doubles and compare those. */
function compareRounded(
  a: Uint8Array,
  aStart: number,
  aEnd: number,
  b: Uint8Array,
  bStart: number,
  bEnd: number,
): number {
  parseFloat(a, aStart, aEnd);
  const aNegative = parsedNegative;
  roundParsed(a);
  const aZero = roundedZero;
  const aInfinite = roundedInfinite;
  const aExponent = roundedExponent;
  const aSignificand = roundedSignificand;
  parseFloat(b, bStart, bEnd);
  const bNegative = parsedNegative;
  roundParsed(b);
  const aSign = aZero ? 0 : aNegative ? -1 : 1;
  const bSign = roundedZero ? 0 : bNegative ? -1 : 1;
  if (aSign !== bSign) return aSign < bSign ? -1 : 1;
  if (aSign === 0) return 0;
  let magnitude: number;
  if (aInfinite || roundedInfinite) {
    magnitude = (aInfinite ? 1 : 0) - (roundedInfinite ? 1 : 0);
  } else if (aExponent !== roundedExponent) {
    magnitude = aExponent < roundedExponent ? -1 : 1;
  } else {
    magnitude = aSignificand < roundedSignificand ? -1 : aSignificand > roundedSignificand ? 1 : 0;
  }
  return aSign < 0 ? -magnitude : magnitude;
}

/** Rounds the last parse (a number) to an x86 long double, into the `rounded*` variables. */
function roundParsed(bytes: Uint8Array): void {
  roundedInfinite = false;
  roundedZero = false;
  roundedExponent = LSB_EXPONENT_MIN;
  roundedSignificand = 0n;
  if (parsedInfinite) {
    roundedInfinite = true;
    return;
  }
  const digits = new TextDecoder().decode(bytes.subarray(parsedIntStart, parsedIntEnd)) +
    new TextDecoder().decode(bytes.subarray(parsedFracStart, parsedFracEnd));
  const fracDigits = parsedFracEnd - parsedFracStart;
  const mantissa = BigInt(parsedHex ? `0x${digits}` : digits.length > 0 ? digits : "0");
  if (mantissa === 0n) {
    roundedZero = true;
    return;
  }
  let pow10 = 0;
  let pow2 = 0;
  if (parsedHex) {
    pow2 = parsedExponent - 4 * fracDigits;
    const topBit = mantissa.toString(2).length - 1 + pow2;
    if (topBit > TOP_EXPONENT_MAX + 1) {
      roundedInfinite = true;
      return;
    }
    if (topBit < LSB_EXPONENT_MIN - 2) {
      roundedZero = true;
      return;
    }
  } else {
    pow10 = parsedExponent - fracDigits;
    const leading = mantissa.toString().length - 1 + pow10;
    if (leading > DECIMAL_EXPONENT_INF) {
      roundedInfinite = true;
      return;
    }
    if (leading < DECIMAL_EXPONENT_ZERO) {
      roundedZero = true;
      return;
    }
  }
  let numerator = mantissa;
  let denominator = 1n;
  if (pow10 >= 0) numerator *= 10n ** BigInt(pow10);
  else denominator *= 10n ** BigInt(-pow10);
  if (pow2 >= 0) numerator <<= BigInt(pow2);
  else denominator <<= BigInt(-pow2);
  // topBit: 2^topBit <= numerator / denominator < 2^(topBit + 1)
  let topBit = numerator.toString(2).length - denominator.toString(2).length;
  const atTop = topBit >= 0
    ? numerator >= denominator << BigInt(topBit)
    : numerator << BigInt(-topBit) >= denominator;
  if (!atTop) topBit -= 1;
  let lsb = topBit - 63 > LSB_EXPONENT_MIN ? topBit - 63 : LSB_EXPONENT_MIN;
  const scaledNumerator = lsb <= 0 ? numerator << BigInt(-lsb) : numerator;
  const scaledDenominator = lsb <= 0 ? denominator : denominator << BigInt(lsb);
  let quotient = scaledNumerator / scaledDenominator;
  const twiceRemainder = (scaledNumerator - quotient * scaledDenominator) * 2n;
  if (
    twiceRemainder > scaledDenominator ||
    (twiceRemainder === scaledDenominator && (quotient & 1n) === 1n)
  ) {
    quotient += 1n;
  }
  if (quotient === 1n << 64n) {
    quotient = 1n << 63n;
    lsb += 1;
  }
  if (quotient === 0n) {
    roundedZero = true;
    return;
  }
  // Subnormals that round up into the normal range keep lsb = minimum: still ordered.
  if (lsb + 63 > TOP_EXPONENT_MAX) {
    roundedInfinite = true;
    return;
  }
  roundedExponent = lsb;
  roundedSignificand = quotient;
}

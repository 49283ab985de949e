/**
 * GNU `sort -R`: keys compare by the MD5 digest of (16 salt bytes, key bytes); equal keys
 * have equal digests, so they stay together. A digest collision falls back to byte order.
 *
 * With `--random-source=FILE`, GNU's salt is the first 16 bytes of FILE, so the order is
 * the same as GNU's for the same file. MD5 here is a plain RFC 1321 implementation over
 * module-level scratch state: no allocation per comparison.
 */

/** Salt length: GNU reads MD5_DIGEST_SIZE bytes from the random source. */
export const RANDOM_SALT_BYTES = 16;

const SHIFTS = new Uint8Array([
  7,
  12,
  17,
  22,
  7,
  12,
  17,
  22,
  7,
  12,
  17,
  22,
  7,
  12,
  17,
  22,
  5,
  9,
  14,
  20,
  5,
  9,
  14,
  20,
  5,
  9,
  14,
  20,
  5,
  9,
  14,
  20,
  4,
  11,
  16,
  23,
  4,
  11,
  16,
  23,
  4,
  11,
  16,
  23,
  4,
  11,
  16,
  23,
  6,
  10,
  15,
  21,
  6,
  10,
  15,
  21,
  6,
  10,
  15,
  21,
  6,
  10,
  15,
  21,
]);

const SINES: Int32Array = (() => {
  const table = new Int32Array(64);
  for (let index = 0; index < 64; index += 1) {
    table[index] = Math.floor(Math.abs(Math.sin(index + 1)) * 0x1_0000_0000) | 0;
  }
  return table;
})();

const block = new Uint8Array(64);
const words = new Int32Array(16);
const state = new Int32Array(4);
const digestA = new Uint8Array(16);
const digestB = new Uint8Array(16);

function processBlock(): void {
  for (let index = 0; index < 16; index += 1) {
    const base = index * 4;
    words[index] = block[base]! | (block[base + 1]! << 8) | (block[base + 2]! << 16) |
      (block[base + 3]! << 24);
  }
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  for (let round = 0; round < 64; round += 1) {
    let f: number;
    let g: number;
    if (round < 16) {
      f = (b & c) | (~b & d);
      g = round;
    } else if (round < 32) {
      f = (d & b) | (~d & c);
      g = (5 * round + 1) & 15;
    } else if (round < 48) {
      f = b ^ c ^ d;
      g = (3 * round + 5) & 15;
    } else {
      f = c ^ (b | ~d);
      g = (7 * round) & 15;
    }
    const sum = (a + f + SINES[round]! + words[g]!) | 0;
    const shift = SHIFTS[round]!;
    a = d;
    d = c;
    c = b;
    b = (b + ((sum << shift) | (sum >>> (32 - shift)))) | 0;
  }
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
}

/** MD5 of salt || bytes[start, end) into `out`. */
function digest(salt: Uint8Array, bytes: Uint8Array, start: number, end: number, out: Uint8Array) {
  state[0] = 0x67452301;
  state[1] = 0xefcdab89 | 0;
  state[2] = 0x98badcfe | 0;
  state[3] = 0x10325476;
  const total = salt.length + (end - start);
  let filled = 0;
  for (let index = 0; index < salt.length; index += 1) {
    block[filled++] = salt[index]!;
    if (filled === 64) {
      processBlock();
      filled = 0;
    }
  }
  for (let index = start; index < end; index += 1) {
    block[filled++] = bytes[index]!;
    if (filled === 64) {
      processBlock();
      filled = 0;
    }
  }
  block[filled++] = 0x80;
  if (filled > 56) {
    block.fill(0, filled, 64);
    processBlock();
    filled = 0;
  }
  block.fill(0, filled, 56);
  const bits = total * 8;
  const low = bits >>> 0;
  const high = Math.floor(bits / 0x1_0000_0000) >>> 0;
  for (let index = 0; index < 4; index += 1) {
    block[56 + index] = (low >>> (8 * index)) & 0xff;
    block[60 + index] = (high >>> (8 * index)) & 0xff;
  }
  processBlock();
  for (let word = 0; word < 4; word += 1) {
    const value = state[word]!;
    for (let index = 0; index < 4; index += 1) {
      out[word * 4 + index] = (value >>> (8 * index)) & 0xff;
    }
  }
}

/**
 * Compares two keys as GNU `sort -R` does in the C locale.
 *
 * @param salt The 16 salt bytes shared by every comparison of one sort.
 * @returns Negative, zero (equal keys) or positive.
 */
export function compareRandom(
  salt: Uint8Array,
  a: Uint8Array,
  aStart: number,
  aEnd: number,
  b: Uint8Array,
  bStart: number,
  bEnd: number,
): number {
  digest(salt, a, aStart, aEnd, digestA);
  digest(salt, b, bStart, bEnd, digestB);
  for (let index = 0; index < 16; index += 1) {
    const diff = digestA[index]! - digestB[index]!;
    if (diff !== 0) return diff;
  }
  const aLength = aEnd - aStart;
  const bLength = bEnd - bStart;
  const common = aLength < bLength ? aLength : bLength;
  for (let index = 0; index < common; index += 1) {
    const diff = a[aStart + index]! - b[bStart + index]!;
    if (diff !== 0) return diff;
  }
  return aLength - bLength;
}

/**
 * MD5 hex digest of bytes (for tests).
 *
 * @param bytes The message.
 * @returns 32 lower-case hex digits.
 */
export function md5Hex(bytes: Uint8Array): string {
  const out = new Uint8Array(16);
  digest(new Uint8Array(0), bytes, 0, bytes.length, out);
  return [...out].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

// CRC32C (Castagnoli, reflected polynomial 0x82F63B78) of 16 lanes at once in the vector unit.
//
// The range [at, at + 16 * laneBytes) is cut into 16 lanes of `laneBytes` bytes (a multiple
// of 16). SIMD lane j of each vector holds lane j's CRC register, one byte per vector (c0 the
// low byte .. c3 the high one), and every step feeds each lane its next byte:
//
//   x = c0 ^ byte;  c = T[x] ^ (c >>> 8)      (T: the one-byte table of the bitwise CRC)
//
// T is linear, so T[x] = T[x & 15] ^ T[x & 0xf0]: eight 16-entry tables (low / high nibble,
// one per byte of the 32-bit value) looked up with a byte shuffle each. The bytes come from a
// 16 x 16 transpose of 16 bytes of every lane (four rounds of byte interleaves: each round
// rotates the 8 bits of (vector, position) by one, so four of them swap the two). Sixteen
// lanes keep the shuffle units busy where a table CRC waits on one chain of loads.
//
// Lane 0 starts from `register` (the CRC register, i.e. the inverted running CRC), the others
// from 0. The lanes are joined as a CRC of their concatenation: crc(A B) = crc(A) * x^(8|B|)
// ^ crc(B) mod P (registers), with `shift` = x^(8 * laneBytes) mod P given by the caller.
//
// `zero` must be 0: the tables are derived from it, because V8 rebuilds a v128 constant at
// every use (several instructions) but keeps a computed vector in a register.

const LO0 = i8x16(0, 3, -9, -12, 31, 28, -24, -21, -49, -52, 56, 59, -48, -45, 39, 36);
const LO1 = i8x16(0, -125, 112, -13, -105, 20, -25, 100, 88, -37, 40, -85, -49, 76, -65, 60);
const LO2 = i8x16(0, 107, 59, 80, -102, -15, -95, -54, -39, -78, -30, -119, 67, 40, 120, 19);
const LO3 = i8x16(0, -14, -31, 19, -57, 53, 38, -44, -118, 120, 107, -103, 77, -65, -84, 94);
const HI0 = i8x16(0, 111, -34, -79, -68, -45, 98, 13, 120, 23, -90, -55, -60, -85, 26, 117);
const HI1 = i8x16(0, -57, -114, 73, 29, -38, -109, 84, 59, -4, -75, 114, 38, -31, -88, 111);
const HI2 = i8x16(0, 94, -67, -29, 123, 37, -58, -104, -10, -88, 75, 21, -115, -45, 48, 110);
const HI3 = i8x16(0, 16, 32, 48, 65, 81, 97, 113, -126, -110, -94, -78, -61, -45, -29, -13);
const NIBBLE = i8x16(15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15);

// @ts-ignore: decorator
@inline function low(a: v128, b: v128): v128 {
  return i8x16.shuffle(a, b, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
}

// @ts-ignore: decorator
@inline function high(a: v128, b: v128): v128 {
  return i8x16.shuffle(a, b, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
}

// @ts-ignore: decorator
@inline function look(lowTable: v128, highTable: v128, lo: v128, hi: v128): v128 {
  return v128.xor(i8x16.relaxed_swizzle(lowTable, lo), i8x16.relaxed_swizzle(highTable, hi));
}

/** a * b mod P, both reflected (bit 31 is x^0). */
export function crc32cMultiply(a: u32, b: u32): u32 {
  let product: u32 = 0;
  for (let bit: u32 = 0; bit < 32; bit += 1) {
    product ^= b & (0 - ((a >>> (31 - bit)) & 1));
    b = (b >>> 1) ^ (0x82f63b78 & (0 - (b & 1)));
  }
  return product;
}

/**
 * The CRC register after the 16 lanes of `laneBytes` bytes at `at`, from `register`; `shift`
 * is x^(8 * laneBytes) mod P (reflected), `zero` is 0 (see the top).
 */
export function crc32cLanes(at: usize, laneBytes: usize, register: u32, shift: u32, zero: u32): u32 {
  const z = i32x4.splat(zero);
  const lo0 = v128.xor(LO0, z), lo1 = v128.xor(LO1, z), lo2 = v128.xor(LO2, z), lo3 = v128.xor(LO3, z);
  const hi0 = v128.xor(HI0, z), hi1 = v128.xor(HI1, z), hi2 = v128.xor(HI2, z), hi3 = v128.xor(HI3, z);
  const nibble = v128.xor(NIBBLE, z);
  let c0 = i32x4.replace_lane(z, 0, register & 0xff);
  let c1 = i32x4.replace_lane(z, 0, (register >>> 8) & 0xff);
  let c2 = i32x4.replace_lane(z, 0, (register >>> 16) & 0xff);
  let c3 = i32x4.replace_lane(z, 0, register >>> 24);
  for (let t: usize = 0; t < laneBytes; t += 16) {
    const p = at + t;
    let a0 = v128.load(p), a1 = v128.load(p + laneBytes), a2 = v128.load(p + 2 * laneBytes);
    let a3 = v128.load(p + 3 * laneBytes), a4 = v128.load(p + 4 * laneBytes);
    let a5 = v128.load(p + 5 * laneBytes), a6 = v128.load(p + 6 * laneBytes);
    let a7 = v128.load(p + 7 * laneBytes), a8 = v128.load(p + 8 * laneBytes);
    let a9 = v128.load(p + 9 * laneBytes), a10 = v128.load(p + 10 * laneBytes);
    let a11 = v128.load(p + 11 * laneBytes), a12 = v128.load(p + 12 * laneBytes);
    let a13 = v128.load(p + 13 * laneBytes), a14 = v128.load(p + 14 * laneBytes);
    let a15 = v128.load(p + 15 * laneBytes);
    for (let round = 0; round < 4; round += 1) {
      const b0 = low(a0, a8), b1 = high(a0, a8), b2 = low(a1, a9), b3 = high(a1, a9);
      const b4 = low(a2, a10), b5 = high(a2, a10), b6 = low(a3, a11), b7 = high(a3, a11);
      const b8 = low(a4, a12), b9 = high(a4, a12), b10 = low(a5, a13), b11 = high(a5, a13);
      const b12 = low(a6, a14), b13 = high(a6, a14), b14 = low(a7, a15), b15 = high(a7, a15);
      a0 = b0; a1 = b1; a2 = b2; a3 = b3; a4 = b4; a5 = b5; a6 = b6; a7 = b7;
      a8 = b8; a9 = b9; a10 = b10; a11 = b11; a12 = b12; a13 = b13; a14 = b14; a15 = b15;
    }
    // a_k now holds byte k of every lane; four bytes per pass, in order.
    for (let quarter = 0; quarter < 4; quarter += 1) {
      let x = v128.xor(c0, a0);
      let lo = v128.and(x, nibble), hi = v128.and(i16x8.shr_u(x, 4), nibble);
      c0 = v128.xor(c1, look(lo0, hi0, lo, hi)); c1 = v128.xor(c2, look(lo1, hi1, lo, hi));
      c2 = v128.xor(c3, look(lo2, hi2, lo, hi)); c3 = look(lo3, hi3, lo, hi);
      x = v128.xor(c0, a1);
      lo = v128.and(x, nibble); hi = v128.and(i16x8.shr_u(x, 4), nibble);
      c0 = v128.xor(c1, look(lo0, hi0, lo, hi)); c1 = v128.xor(c2, look(lo1, hi1, lo, hi));
      c2 = v128.xor(c3, look(lo2, hi2, lo, hi)); c3 = look(lo3, hi3, lo, hi);
      x = v128.xor(c0, a2);
      lo = v128.and(x, nibble); hi = v128.and(i16x8.shr_u(x, 4), nibble);
      c0 = v128.xor(c1, look(lo0, hi0, lo, hi)); c1 = v128.xor(c2, look(lo1, hi1, lo, hi));
      c2 = v128.xor(c3, look(lo2, hi2, lo, hi)); c3 = look(lo3, hi3, lo, hi);
      x = v128.xor(c0, a3);
      lo = v128.and(x, nibble); hi = v128.and(i16x8.shr_u(x, 4), nibble);
      c0 = v128.xor(c1, look(lo0, hi0, lo, hi)); c1 = v128.xor(c2, look(lo1, hi1, lo, hi));
      c2 = v128.xor(c3, look(lo2, hi2, lo, hi)); c3 = look(lo3, hi3, lo, hi);
      a0 = a4; a1 = a5; a2 = a6; a3 = a7; a4 = a8; a5 = a9; a6 = a10; a7 = a11;
      a8 = a12; a9 = a13; a10 = a14; a11 = a15;
    }
  }
  return joinLanes(c0, c1, c2, c3, shift);
}

// The registers of lanes 4q .. 4q + 3 as u32 lanes (bytes c0..c3 of each, low to high).
// @ts-ignore: decorator
@inline function registers(c01: v128, c23: v128, upper: bool): v128 {
  return upper
    ? i8x16.shuffle(c01, c23, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31)
    : i8x16.shuffle(c01, c23, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
}

// @ts-ignore: decorator
@inline function timesX(b: u32): u32 {
  return (b >>> 1) ^ (0x82f63b78 & (0 - (b & 1)));
}

// b, b * x, b * x^2, b * x^3 as u32 lanes.
// @ts-ignore: decorator
@inline function fourPowers(b: u32): v128 {
  const b1 = timesX(b), b2 = timesX(b1);
  const v = i32x4.replace_lane(i32x4.replace_lane(i32x4.splat(b), 1, b1), 2, b2);
  return i32x4.replace_lane(v, 3, timesX(b2));
}

// @ts-ignore: decorator
@inline function timesX4(b: u32): u32 {
  return timesX(timesX(timesX(timesX(b))));
}

// a * K, with k_q = K * x^(4q .. 4q + 3): bit 31 - i of a (the coefficient of x^i) selects
// K * x^i, lane i & 3 of k_(i >> 2). Lane l of `bits` is a << l, so its sign after a shift by
// 4q is that bit.
// @ts-ignore: decorator
@inline function times(
  a: u32, k0: v128, k1: v128, k2: v128, k3: v128, k4: v128, k5: v128, k6: v128, k7: v128,
): u32 {
  let bits = i32x4.replace_lane(i32x4.replace_lane(i32x4.splat(a), 1, a << 1), 2, a << 2);
  bits = i32x4.replace_lane(bits, 3, a << 3);
  let sum = v128.and(k0, i32x4.shr_s(bits, 31));
  sum = v128.xor(sum, v128.and(k1, i32x4.shr_s(i32x4.shl(bits, 4), 31)));
  sum = v128.xor(sum, v128.and(k2, i32x4.shr_s(i32x4.shl(bits, 8), 31)));
  sum = v128.xor(sum, v128.and(k3, i32x4.shr_s(i32x4.shl(bits, 12), 31)));
  sum = v128.xor(sum, v128.and(k4, i32x4.shr_s(i32x4.shl(bits, 16), 31)));
  sum = v128.xor(sum, v128.and(k5, i32x4.shr_s(i32x4.shl(bits, 20), 31)));
  sum = v128.xor(sum, v128.and(k6, i32x4.shr_s(i32x4.shl(bits, 24), 31)));
  sum = v128.xor(sum, v128.and(k7, i32x4.shr_s(i32x4.shl(bits, 28), 31)));
  sum = v128.xor(sum, i8x16.shuffle(sum, sum, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7));
  return i32x4.extract_lane(sum, 0) ^ i32x4.extract_lane(sum, 1);
}

// Joins the 16 lane registers (Horner: r = r * x^(8 * laneBytes) ^ next lane).
function joinLanes(c0: v128, c1: v128, c2: v128, c3: v128, shift: u32): u32 {
  let b = shift;
  const k0 = fourPowers(b); b = timesX4(b);
  const k1 = fourPowers(b); b = timesX4(b);
  const k2 = fourPowers(b); b = timesX4(b);
  const k3 = fourPowers(b); b = timesX4(b);
  const k4 = fourPowers(b); b = timesX4(b);
  const k5 = fourPowers(b); b = timesX4(b);
  const k6 = fourPowers(b); b = timesX4(b);
  const k7 = fourPowers(b);
  const low01 = low(c0, c1), low23 = low(c2, c3), high01 = high(c0, c1), high23 = high(c2, c3);
  let register = join4(0, registers(low01, low23, false), k0, k1, k2, k3, k4, k5, k6, k7);
  register = join4(register, registers(low01, low23, true), k0, k1, k2, k3, k4, k5, k6, k7);
  register = join4(register, registers(high01, high23, false), k0, k1, k2, k3, k4, k5, k6, k7);
  return join4(register, registers(high01, high23, true), k0, k1, k2, k3, k4, k5, k6, k7);
}

// @ts-ignore: decorator
@inline function join4(
  register: u32, four: v128,
  k0: v128, k1: v128, k2: v128, k3: v128, k4: v128, k5: v128, k6: v128, k7: v128,
): u32 {
  register = times(register, k0, k1, k2, k3, k4, k5, k6, k7) ^ i32x4.extract_lane(four, 0);
  register = times(register, k0, k1, k2, k3, k4, k5, k6, k7) ^ i32x4.extract_lane(four, 1);
  register = times(register, k0, k1, k2, k3, k4, k5, k6, k7) ^ i32x4.extract_lane(four, 2);
  return times(register, k0, k1, k2, k3, k4, k5, k6, k7) ^ i32x4.extract_lane(four, 3);
}

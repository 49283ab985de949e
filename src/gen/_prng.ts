/**
 * Marsaglia's xorshift128: four u32 words of state, period 2^128 - 1, a few integer
 * operations per draw. Good enough for test corpora (not for anything secret), and the same
 * sequence on every platform because it only uses 32-bit integer arithmetic.
 */
export class Prng {
  // Public so hot loops can copy the state into locals and store it back (see fillText).
  /** State word 1. */
  x: number;
  /** State word 2. */
  y: number;
  /** State word 3. */
  z: number;
  /** State word 4. */
  w: number;

  /** @param seed Any safe integer; equal seeds give equal sequences. */
  constructor(seed: number) {
    // Spread both halves of the seed over four non-zero words (splitmix-style mixing).
    let mix = (seed >>> 0) ^ Math.imul(Math.floor(seed / 0x1_0000_0000) >>> 0, 0x9e37_79b9);
    const next = (): number => {
      mix = (mix + 0x9e37_79b9) | 0;
      let value = mix;
      value = Math.imul(value ^ (value >>> 16), 0x85eb_ca6b);
      value = Math.imul(value ^ (value >>> 13), 0xc2b2_ae35);
      value ^= value >>> 16;
      return value === 0 ? 0x6d2b_79f5 : value | 0;
    };
    this.x = next();
    this.y = next();
    this.z = next();
    this.w = next();
  }

  /** The next u32 (0 .. 2^32 - 1). */
  nextU32(): number {
    const t = this.x ^ (this.x << 11);
    this.x = this.y;
    this.y = this.z;
    this.z = this.w;
    this.w = this.w ^ (this.w >>> 19) ^ t ^ (t >>> 8);
    return this.w >>> 0;
  }

  /** A uniform integer in [0, bound) for bound <= 2^32 (multiply-shift, no modulo bias). */
  below(bound: number): number {
    return Math.floor(this.nextU32() * (bound / 0x1_0000_0000));
  }
}

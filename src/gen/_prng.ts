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

  /**
   * Creates a generator positioned at the start of one stream.
   *
   * @param seed Any safe integer; equal seeds (and streams) give equal sequences.
   * @param stream Which independent sequence of that seed (default 0).
   */
  constructor(seed: number, stream = 0) {
    this.x = 0;
    this.y = 0;
    this.z = 0;
    this.w = 0;
    this.reset(seed, stream);
  }

  /**
   * Moves to the start of stream `stream` of `seed` (a splitmix-style hash of both spread over
   * four non-zero words).
   *
   * @param seed Any safe integer.
   * @param stream A whole number below 2^32.
   */
  reset(seed: number, stream: number): void {
    const base = (seed >>> 0) ^ Math.imul(Math.floor(seed / 0x1_0000_0000) >>> 0, 0x9e37_79b9) ^
      Math.imul(stream >>> 0, 0x632b_e5ab);
    this.x = mix32(base, 1);
    this.y = mix32(base, 2);
    this.z = mix32(base, 3);
    this.w = mix32(base, 4);
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

/** The `round`-th output of a splitmix32-style sequence from `base`; never 0. */
function mix32(base: number, round: number): number {
  let value = (base + Math.imul(round, 0x9e37_79b9)) | 0;
  value = Math.imul(value ^ (value >>> 16), 0x85eb_ca6b);
  value = Math.imul(value ^ (value >>> 13), 0xc2b2_ae35);
  value ^= value >>> 16;
  return value === 0 ? 0x6d2b_79f5 : value | 0;
}

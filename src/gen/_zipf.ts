import { assert } from "../base/mod.ts";
import type { Prng } from "./_prng.ts";

/**
 * Samples ranks 0..n-1 with Zipf probabilities p(k) ~ 1 / (k + 1)^exponent in O(1) per draw,
 * with Walker's alias method (Vose's construction): column i is taken with probability
 * threshold[i] / 2^32, else its alias.
 *
 * ```
 *   draw column i uniformly; draw u: u < threshold[i] ? i : alias[i]
 * ```
 */
export class ZipfSampler {
  /** Number of ranks. */
  readonly rankCount: number;
  /** P(rank 0), for tests. */
  readonly topProbability: number;
  /** Column i: `[threshold, alias]` at `[2i, 2i + 1]` (one cache line per draw). */
  readonly columns: Uint32Array;
  /** `rankCount / 2^32`: a u32 times this, floored, is a uniform column. */
  readonly columnScale: number;

  /**
   * @param rankCount Ranks (at least 1).
   * @param exponent Zipf exponent (1 for natural-language-like text).
   */
  constructor(rankCount: number, exponent: number) {
    assert(Number.isSafeInteger(rankCount) && rankCount >= 1, `rankCount ${rankCount} < 1`);
    this.rankCount = rankCount;
    const scaled = new Float64Array(rankCount);
    let total = 0;
    for (let rank = 0; rank < rankCount; rank += 1) {
      const weight = 1 / Math.pow(rank + 1, exponent);
      scaled[rank] = weight;
      total += weight;
    }
    this.topProbability = scaled[0]! / total;
    // Scale so the average column holds exactly 1.
    for (let rank = 0; rank < rankCount; rank += 1) {
      scaled[rank] = scaled[rank]! * rankCount / total;
    }
    const threshold = new Uint32Array(rankCount);
    const alias = new Uint32Array(rankCount);
    const small = new Uint32Array(rankCount);
    const large = new Uint32Array(rankCount);
    let smallCount = 0;
    let largeCount = 0;
    for (let rank = rankCount - 1; rank >= 0; rank -= 1) {
      if (scaled[rank]! < 1) small[smallCount++] = rank;
      else large[largeCount++] = rank;
    }
    while (smallCount > 0 && largeCount > 0) {
      const less = small[--smallCount]!;
      const more = large[largeCount - 1]!;
      threshold[less] = Math.min(0xffff_ffff, Math.floor(scaled[less]! * 0x1_0000_0000));
      alias[less] = more;
      scaled[more] = scaled[more]! + scaled[less]! - 1;
      if (scaled[more]! < 1) {
        largeCount -= 1;
        small[smallCount++] = more;
      }
    }
    // Leftovers hold (up to rounding) exactly 1: always themselves.
    while (largeCount > 0) {
      const rank = large[--largeCount]!;
      threshold[rank] = 0xffff_ffff;
      alias[rank] = rank;
    }
    while (smallCount > 0) {
      const rank = small[--smallCount]!;
      threshold[rank] = 0xffff_ffff;
      alias[rank] = rank;
    }
    this.columns = new Uint32Array(rankCount * 2);
    for (let rank = 0; rank < rankCount; rank += 1) {
      this.columns[2 * rank] = threshold[rank]!;
      this.columns[2 * rank + 1] = alias[rank]!;
    }
    this.columnScale = rankCount / 0x1_0000_0000;
  }

  /** Bytes held by the tables (for the memory budget). */
  get tableBytes(): number {
    return this.columns.byteLength;
  }

  /** Draws one rank. */
  sample(prng: Prng): number {
    const column = Math.floor(prng.nextU32() * this.columnScale);
    return prng.nextU32() < this.columns[2 * column]! ? column : this.columns[2 * column + 1]!;
  }
}

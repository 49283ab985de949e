import { assert } from "../base/mod.ts";
import type { Prng } from "./_prng.ts";

/** Most ranks a {@linkcode ZipfSampler} takes: aliases are stored in 16 bits. */
export const ZIPF_RANKS_MAX = 65_536;

/**
 * Samples ranks 0..n-1 with Zipf probabilities p(k) ~ 1 / (k + 1)^exponent in O(1) per draw,
 * with Walker's alias method (Vose's construction). Each column packs a 16-bit threshold and a
 * 16-bit alias into one int32, so the table is 4 bytes per rank (200 KiB for 50,000 ranks, one
 * load per draw):
 *
 * ```
 *   entry = table[column]           column uniform in 0..n-1
 *   u16 < (entry >>> 16) ? column : (entry & 0xffff)
 * ```
 * The 16-bit threshold quantizes each column's split to 1/65536 (for 50,000 ranks, tail
 * probabilities are off by at most 0.02% of themselves).
 */
export class ZipfSampler {
  /** Number of ranks. */
  readonly rankCount: number;
  /** P(rank 0), for tests. */
  readonly topProbability: number;
  /** Column i: `threshold16 << 16 | alias16`. */
  readonly table: Int32Array;
  /** `rankCount / 2^32`: a u32 times this, truncated, is a uniform column. */
  readonly columnScale: number;

  /**
   * Builds the alias table.
   *
   * @param rankCount Ranks (1 to 65,536).
   * @param exponent Zipf exponent (1 for natural-language-like text).
   */
  constructor(rankCount: number, exponent: number) {
    assert(
      Number.isSafeInteger(rankCount) && rankCount >= 1 && rankCount <= ZIPF_RANKS_MAX,
      `rankCount ${rankCount} out of 1..${ZIPF_RANKS_MAX}`,
    );
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
    const table = new Int32Array(rankCount);
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
      const threshold = Math.min(0xffff, Math.floor(scaled[less]! * 0x1_0000));
      table[less] = (threshold << 16) | more;
      scaled[more] = scaled[more]! + scaled[less]! - 1;
      if (scaled[more]! < 1) {
        largeCount -= 1;
        small[smallCount++] = more;
      }
    }
    // Leftovers hold (up to rounding) exactly 1: their alias is themselves.
    while (largeCount > 0) {
      const rank = large[--largeCount]!;
      table[rank] = (0xffff << 16) | rank;
    }
    while (smallCount > 0) {
      const rank = small[--smallCount]!;
      table[rank] = (0xffff << 16) | rank;
    }
    this.table = table;
    this.columnScale = rankCount / 0x1_0000_0000;
  }

  /** Bytes held by the table (for the memory budget). */
  get tableBytes(): number {
    return this.table.byteLength;
  }

  /** Draws one rank (two draws of `prng`; the generator's hot loop inlines the same steps). */
  sample(prng: Prng): number {
    const column = (prng.nextU32() * this.columnScale) | 0;
    const entry = this.table[column]!;
    return (prng.nextU32() >>> 16) < (entry >>> 16) ? column : entry & 0xffff;
  }
}

/**
 * Sorting a job's index in JavaScript (when the kernels are not used): the part of the sort
 * buffer a Worker needs, kept apart so that the Worker's module graph does not load the buffer,
 * the normalized key encoders or the memory manager.
 *
 * @module
 */
import {
  ADDRESS_WORD,
  ENTRY_WORDS,
  LENGTH_WORD,
  sortBytesIndex,
  sortIndex,
  type TieCompare,
} from "./index_sort.ts";
import { keyedTieCompare } from "./keyed_records.ts";
import { FixedKeyOrder, type RecordOrder } from "./record_order.ts";

/**
 * Everything a Worker needs to sort a buffer: offsets into the shared memory the Worker
 * already has (the segments are lent, not moved; see `SortBuffer.lend`).
 */
export interface SortJob {
  /** Memory offsets of the data pages in use, in order. */
  segments: number[];
  /** Memory offset of the index words. */
  index: number;
  /** How many entries are used. */
  recordCount: number;
  /** log2 of the page size. */
  segmentShift: number;
  /** Optional gather target: memory offsets of the pages sorted records are copied into. */
  target?: number[];
  /** Set by `gatherJob`: how many records (from the first) were gathered. */
  gatheredCount?: number;
  /** Set by `gatherJob`: bytes used in each target page. */
  targetUsed?: number[];
  /** Records carry normalized keys (src/sort/keyed_records.ts): ties compare keys. */
  keyed?: boolean;
  /** The keys end with the record itself (the last resort): a keyed run stores it once. */
  keyEndsWithLine?: boolean;
  /**
   * Each entry's prefix words are its record's first 8 bytes, zero padded (plain byte order,
   * records without keys; the sorts leave them so for records of at most 8 bytes): the gather
   * writes those records from the index.
   */
  prefixHoldsRecord?: boolean;
  /** With `prefixHoldsRecord`: the prefix words are inverted (`-r`). */
  prefixInverted?: boolean;
}

/**
 * Sorts a lent {@linkcode SortJob} in place (what the Worker runs).
 *
 * @param job The pages and index, as offsets.
 * @param order The ordering.
 * @param buffer The shared memory's buffer (covering every offset of the job).
 */
export function sortJob(job: SortJob, order: RecordOrder, buffer: SharedArrayBuffer): void {
  const pageBytes = 2 ** job.segmentShift;
  const index = new Uint32Array(buffer, job.index, job.recordCount * ENTRY_WORDS);
  const pages = job.segments.map((offset) => new Uint8Array(buffer, offset, pageBytes));
  sortEntries(index, job.recordCount, pages, job.segmentShift, order, job.keyed === true);
}

/**
 * Sorts `count` index entries over `pages`: by the stored keys (`keyed`), by plain bytes, by a
 * fixed key, or through the order's comparator.
 *
 * @param index The index (ENTRY_WORDS words per record).
 * @param count Records in the index.
 * @param pages The record pages, by page number.
 * @param segmentShift log2 of the page size.
 * @param order The ordering.
 * @param keyed Whether records start with a stored normalized key.
 */
export function sortEntries(
  index: Uint32Array,
  count: number,
  pages: Uint8Array[],
  segmentShift: number,
  order: RecordOrder,
  keyed: boolean,
): void {
  if (keyed) {
    sortIndex(index, count, keyedTieCompare(index, pages, segmentShift, order));
  } else if (order.isPlainBytes) {
    sortBytesIndex(index, count, {
      pages,
      segmentShift,
      reverse: order.reverse,
      keyOffset: 0,
      keyBytes: -1,
    });
  } else if (order instanceof FixedKeyOrder) {
    sortBytesIndex(index, count, {
      pages,
      segmentShift,
      reverse: false,
      keyOffset: order.keyOffset,
      keyBytes: order.keyBytes,
    });
  } else {
    sortIndex(index, count, makeTieCompare(index, pages, segmentShift, order));
  }
}

function makeTieCompare(
  index: Uint32Array,
  pages: Uint8Array[],
  segmentShift: number,
  order: RecordOrder,
): TieCompare {
  const mask = (1 << segmentShift) - 1;
  if (order.isPlainBytes) {
    const sign = order.reverse ? -1 : 1;
    return (a, b) => {
      const addressA = index[a + ADDRESS_WORD]!;
      const addressB = index[b + ADDRESS_WORD]!;
      const lengthA = index[a + LENGTH_WORD]!;
      const lengthB = index[b + LENGTH_WORD]!;
      const pageA = pages[addressA >>> segmentShift]!;
      const pageB = pages[addressB >>> segmentShift]!;
      const offsetA = addressA & mask;
      const offsetB = addressB & mask;
      const common = lengthA < lengthB ? lengthA : lengthB;
      // The prefixes are equal, so the first PREFIX_WORDS * 4 bytes (or fewer) are equal.
      for (let i = common < 8 ? common : 8; i < common; i += 1) {
        const d = pageA[offsetA + i]! - pageB[offsetB + i]!;
        if (d !== 0) return d * sign;
      }
      return (lengthA - lengthB) * sign;
    };
  }
  return (a, b) => {
    const addressA = index[a + ADDRESS_WORD]!;
    const addressB = index[b + ADDRESS_WORD]!;
    return order.compare(
      pages[addressA >>> segmentShift]!,
      addressA & mask,
      index[a + LENGTH_WORD]!,
      pages[addressB >>> segmentShift]!,
      addressB & mask,
      index[b + LENGTH_WORD]!,
    );
  };
}

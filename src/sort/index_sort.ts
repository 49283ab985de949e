/**
 * Sorting of a sort index: fixed-width entries of {@linkcode ENTRY_WORDS} u32 words,
 *
 * ```
 * word 0..1  key prefix, big-endian words (byte order = unsigned integer order)
 * word 2     record address: segmentIndex * segmentBytes + byteOffset
 * word 3     record length in bytes
 * ```
 *
 * Entries are compared by prefix words as integers; only equal prefixes call `compareTie`
 * (the full record comparison), and equal records order by address, that is input order.
 * So the order is total and the result does not depend on the algorithm: stable by
 * construction. Records never move; only entries do.
 *
 * @module
 */

/** u32 words per index entry. */
export const ENTRY_WORDS = 4;
/** Bytes per index entry. */
export const ENTRY_BYTES = ENTRY_WORDS * 4;
/** Prefix words per entry. */
export const PREFIX_WORDS = 2;
/** Word of the record address inside an entry. */
export const ADDRESS_WORD = 2;
/** Word of the record length inside an entry. */
export const LENGTH_WORD = 3;

/** Full comparison of the records of two entries (word offsets into the index). */
export type TieCompare = (entryA: number, entryB: number) => number;

const INSERTION_MAX = 12;

/**
 * Sorts the first `count` entries of `index` in place.
 *
 * MSD radix on the top 16 prefix bits (in-place American flag permutation) splits large
 * inputs into buckets, then each bucket is sorted by an introspective quicksort on the
 * prefix words with insertion sort for small ranges.
 *
 * @param index The index words.
 * @param count How many entries.
 * @param compareTie Full comparison for entries with equal prefixes (0 only for equal records).
 */
export function sortIndex(index: Uint32Array, count: number, compareTie: TieCompare): void {
  if (count < 2) return;
  if (count < 4096) {
    quickSort(index, 0, count, compareTie);
    return;
  }
  radixTop16(index, count, compareTie);
}

function radixTop16(index: Uint32Array, count: number, compareTie: TieCompare): void {
  const bucketCount = 65536;
  const counts = new Uint32Array(bucketCount);
  for (let i = 0; i < count; i += 1) counts[index[i * ENTRY_WORDS]! >>> 16]! += 1;
  const starts = new Uint32Array(bucketCount + 1);
  let sum = 0;
  for (let b = 0; b < bucketCount; b += 1) {
    starts[b] = sum;
    sum += counts[b]!;
  }
  starts[bucketCount] = sum;
  const next = starts.slice(0, bucketCount);
  // American flag sort: walk each bucket, swapping every misplaced entry into its bucket.
  for (let b = 0; b < bucketCount; b += 1) {
    const end = starts[b + 1]!;
    let i = next[b]!;
    while (i < end) {
      let at = i * ENTRY_WORDS;
      let target = index[at]! >>> 16;
      if (target === b) {
        i += 1;
        continue;
      }
      // Carry the entry around the cycle until an entry of bucket b lands at i.
      let w0 = index[at]!, w1 = index[at + 1]!, w2 = index[at + 2]!, w3 = index[at + 3]!;
      while (target !== b) {
        const dest = next[target]! * ENTRY_WORDS;
        next[target]! += 1;
        const d0 = index[dest]!, d1 = index[dest + 1]!, d2 = index[dest + 2]!;
        const d3 = index[dest + 3]!;
        index[dest] = w0;
        index[dest + 1] = w1;
        index[dest + 2] = w2;
        index[dest + 3] = w3;
        w0 = d0;
        w1 = d1;
        w2 = d2;
        w3 = d3;
        target = w0 >>> 16;
      }
      at = i * ENTRY_WORDS;
      index[at] = w0;
      index[at + 1] = w1;
      index[at + 2] = w2;
      index[at + 3] = w3;
      i += 1;
    }
    next[b] = end;
  }
  for (let b = 0; b < bucketCount; b += 1) {
    const start = starts[b]!;
    const end = starts[b + 1]!;
    if (end - start > 1) quickSort(index, start, end, compareTie);
  }
}

/** Compares entries at entry numbers i and j. */
function compareEntries(index: Uint32Array, i: number, j: number, compareTie: TieCompare): number {
  const a = i * ENTRY_WORDS;
  const b = j * ENTRY_WORDS;
  const a0 = index[a]!, b0 = index[b]!;
  if (a0 !== b0) return a0 < b0 ? -1 : 1;
  const a1 = index[a + 1]!, b1 = index[b + 1]!;
  if (a1 !== b1) return a1 < b1 ? -1 : 1;
  const full = compareTie(a, b);
  if (full !== 0) return full;
  return index[a + ADDRESS_WORD]! - index[b + ADDRESS_WORD]!;
}

function swapEntries(index: Uint32Array, i: number, j: number): void {
  const a = i * ENTRY_WORDS;
  const b = j * ENTRY_WORDS;
  const t0 = index[a]!, t1 = index[a + 1]!, t2 = index[a + 2]!, t3 = index[a + 3]!;
  index[a] = index[b]!;
  index[a + 1] = index[b + 1]!;
  index[a + 2] = index[b + 2]!;
  index[a + 3] = index[b + 3]!;
  index[b] = t0;
  index[b + 1] = t1;
  index[b + 2] = t2;
  index[b + 3] = t3;
}

function insertionSort(
  index: Uint32Array,
  start: number,
  end: number,
  compareTie: TieCompare,
): void {
  for (let i = start + 1; i < end; i += 1) {
    for (let j = i; j > start && compareEntries(index, j - 1, j, compareTie) > 0; j -= 1) {
      swapEntries(index, j - 1, j);
    }
  }
}

/** Quicksort of entries [start, end) with median-of-three pivots; heapsort-free (depth-limited by recursion on the small side). */
function quickSort(index: Uint32Array, start: number, end: number, compareTie: TieCompare): void {
  while (end - start > INSERTION_MAX) {
    const mid = start + ((end - start) >> 1);
    const last = end - 1;
    // Median of three to position start.
    if (compareEntries(index, mid, start, compareTie) < 0) swapEntries(index, mid, start);
    if (compareEntries(index, last, start, compareTie) < 0) swapEntries(index, last, start);
    if (compareEntries(index, last, mid, compareTie) < 0) swapEntries(index, last, mid);
    // Now start <= mid <= last; use mid as pivot, parked at start.
    swapEntries(index, start, mid);
    // Hoare partition around the pivot at `start` (entries are all distinct: total order).
    let i = start + 1;
    let j = last;
    while (true) {
      while (i <= j && compareEntries(index, i, start, compareTie) < 0) i += 1;
      while (j >= i && compareEntries(index, j, start, compareTie) > 0) j -= 1;
      if (i >= j) break;
      swapEntries(index, i, j);
      i += 1;
      j -= 1;
    }
    swapEntries(index, start, j);
    // Recurse on the smaller side, loop on the larger: stack depth O(log n).
    if (j - start < end - j - 1) {
      quickSort(index, start, j, compareTie);
      start = j + 1;
    } else {
      quickSort(index, j + 1, end, compareTie);
      end = j;
    }
  }
  insertionSort(index, start, end, compareTie);
}

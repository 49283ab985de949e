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
/** Entries from which sortBytesIndex first splits on the top 16 bits (American flag pass). */
const BUCKET_MIN_COUNT = 4096;

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

/** Where the sort key of each record lies, for {@linkcode sortBytesIndex}. */
export interface BytesKeyLayout {
  /** The data pages. */
  pages: readonly Uint8Array[];
  /** log2 of the page size. */
  segmentShift: number;
  /** Descending order (prefix words are stored inverted). */
  reverse: boolean;
  /** Key start inside the record (0 for whole lines). */
  keyOffset: number;
  /** Key length for fixed records, or -1: the key is the whole record. */
  keyBytes: number;
}

/**
 * Sorts an index whose order is plain memcmp of a byte key (whole lines, or fixed-size
 * records' key bytes): a multikey quicksort (Bentley-Sedgewick) with 8-byte digits. A range is
 * split three ways on its current digit (the two prefix words plus how many key bytes are
 * left); the "equal" part moves one digit deeper, re-keyed with its next 8 bytes, so a record
 * is read once per digit, never once per comparison. Equal keys keep input order (address).
 *
 * @param index The index words; entry prefixes hold key bytes 0..7 (inverted for reverse).
 * @param count How many entries.
 * @param layout The pages and where keys lie.
 */
export function sortBytesIndex(index: Uint32Array, count: number, layout: BytesKeyLayout): void {
  if (count < 2) return;
  const stack: number[] = [];
  if (count >= BUCKET_MIN_COUNT) {
    // Split on the top 16 bits first (in place), then sort each bucket.
    const starts = bucketTop16(index, count);
    for (let b = 0; b < 65536; b += 1) {
      const start = starts[b]!;
      const end = starts[b + 1]!;
      if (end - start > 1) stack.push(start, end, 0);
    }
  } else {
    stack.push(0, count, 0);
  }
  const { reverse, keyBytes } = layout;
  const restSign = reverse ? -1 : 1;
  const fixed = keyBytes >= 0;
  while (stack.length > 0) {
    const depth = stack.pop()!;
    let hi = stack.pop()!;
    let lo = stack.pop()!;
    const skip = depth * 8;
    while (hi - lo > INSERTION_MAX) {
      // Median of three by digit; the pivot's digit values are copied out.
      const mid = lo + ((hi - lo) >> 1);
      const pe = medianOfThree(index, lo, mid, hi - 1, skip, keyBytes, restSign) * ENTRY_WORDS;
      const v0 = index[pe]!;
      const v1 = index[pe + 1]!;
      const vr = restOf(index, pe, skip, keyBytes) * restSign;
      // Dijkstra's three-way partition: [lo, lt) < pivot, [lt, i) = pivot, (gt, hi) > pivot.
      let lt = lo;
      let i = lo;
      let gt = hi - 1;
      while (i <= gt) {
        const e = i * ENTRY_WORDS;
        const w0 = index[e]!;
        let c: number;
        if (w0 !== v0) {
          c = w0 < v0 ? -1 : 1;
        } else {
          const w1 = index[e + 1]!;
          if (w1 !== v1) {
            c = w1 < v1 ? -1 : 1;
          } else {
            c = restOf(index, e, skip, keyBytes) * restSign - vr;
          }
        }
        if (c < 0) {
          swapEntries(index, lt, i);
          lt += 1;
          i += 1;
        } else if (c > 0) {
          swapEntries(index, i, gt);
          gt -= 1;
        } else {
          i += 1;
        }
      }
      // The equal part: go one digit deeper if the keys go on, else it is done (equal keys:
      // order by address, which matters only for fixed-size records' payloads).
      if (gt + 1 - lt > 1) {
        if (vr * restSign === 9) {
          rekey(index, lt, gt + 1, depth + 1, layout);
          stack.push(lt, gt + 1, depth + 1);
        } else if (fixed) {
          sortByAddress(index, lt, gt + 1);
        }
      }
      // Loop on the larger side, queue the smaller one.
      if (lt - lo < hi - gt - 1) {
        if (lt - lo > 1) stack.push(lo, lt, depth);
        lo = gt + 1;
      } else {
        if (hi - gt - 1 > 1) stack.push(gt + 1, hi, depth);
        hi = lt;
      }
    }
    insertionSortFrom(index, lo, hi, skip, layout);
  }
}

/**
 * Sorts the small range `[lo, hi)` of {@linkcode sortBytesIndex} by insertion: by the key
 * from byte `skip` on (prefix words first, then the record bytes), then by address.
 */
function insertionSortFrom(
  index: Uint32Array,
  lo: number,
  hi: number,
  skip: number,
  layout: BytesKeyLayout,
): void {
  const { pages, segmentShift, reverse, keyOffset, keyBytes } = layout;
  const mask = (1 << segmentShift) - 1;
  const restSign = reverse ? -1 : 1;
  for (let i = lo + 1; i < hi; i += 1) {
    for (let j = i; j > lo; j -= 1) {
      const a = (j - 1) * ENTRY_WORDS;
      const b = j * ENTRY_WORDS;
      let c: number;
      const a0 = index[a]!, b0 = index[b]!;
      if (a0 !== b0) {
        c = a0 < b0 ? -1 : 1;
      } else {
        const a1 = index[a + 1]!, b1 = index[b + 1]!;
        if (a1 !== b1) {
          c = a1 < b1 ? -1 : 1;
        } else {
          const restA = restOf(index, a, skip, keyBytes);
          c = (restA - restOf(index, b, skip, keyBytes)) * restSign;
          if (c === 0 && restA === 9) {
            c = compareKeysFrom(
              index,
              a,
              b,
              pages,
              segmentShift,
              mask,
              keyOffset,
              keyBytes,
              skip + 8,
            ) * restSign;
          }
          if (c === 0) c = index[a + ADDRESS_WORD]! - index[b + ADDRESS_WORD]!;
        }
      }
      if (c <= 0) break;
      swapEntries(index, j - 1, j);
    }
  }
}

/** Key bytes left from `skip` on, capped at 9 (9: the key goes on past this digit). */
function restOf(index: Uint32Array, e: number, skip: number, keyBytes: number): number {
  const length = keyBytes >= 0 ? keyBytes : index[e + LENGTH_WORD]!;
  const remaining = length - skip;
  return remaining > 8 ? 9 : remaining < 0 ? 0 : remaining;
}

function digitCompare(
  index: Uint32Array,
  i: number,
  j: number,
  skip: number,
  keyBytes: number,
  restSign: number,
): number {
  const a = i * ENTRY_WORDS;
  const b = j * ENTRY_WORDS;
  const a0 = index[a]!, b0 = index[b]!;
  if (a0 !== b0) return a0 < b0 ? -1 : 1;
  const a1 = index[a + 1]!, b1 = index[b + 1]!;
  if (a1 !== b1) return a1 < b1 ? -1 : 1;
  return (restOf(index, a, skip, keyBytes) - restOf(index, b, skip, keyBytes)) * restSign;
}

function medianOfThree(
  index: Uint32Array,
  x: number,
  y: number,
  z: number,
  skip: number,
  keyBytes: number,
  restSign: number,
): number {
  const xy = digitCompare(index, x, y, skip, keyBytes, restSign);
  const yz = digitCompare(index, y, z, skip, keyBytes, restSign);
  if (xy < 0) {
    if (yz < 0) return y;
    return digitCompare(index, x, z, skip, keyBytes, restSign) < 0 ? z : x;
  }
  if (yz > 0) return y;
  return digitCompare(index, x, z, skip, keyBytes, restSign) < 0 ? x : z;
}

/**
 * Compares two entries' keys from byte `skip` on (earlier bytes are equal): memcmp, then
 * length; 0 for equal keys.
 */
function compareKeysFrom(
  index: Uint32Array,
  a: number,
  b: number,
  pages: readonly Uint8Array[],
  segmentShift: number,
  mask: number,
  keyOffset: number,
  keyBytes: number,
  skip: number,
): number {
  const addressA = index[a + ADDRESS_WORD]!;
  const addressB = index[b + ADDRESS_WORD]!;
  const pageA = pages[addressA >>> segmentShift]!;
  const pageB = pages[addressB >>> segmentShift]!;
  const offsetA = (addressA & mask) + keyOffset;
  const offsetB = (addressB & mask) + keyOffset;
  const lengthA = keyBytes >= 0 ? keyBytes : index[a + LENGTH_WORD]!;
  const lengthB = keyBytes >= 0 ? keyBytes : index[b + LENGTH_WORD]!;
  const common = lengthA < lengthB ? lengthA : lengthB;
  for (let k = skip; k < common; k += 1) {
    const d = pageA[offsetA + k]! - pageB[offsetB + k]!;
    if (d !== 0) return d;
  }
  return lengthA - lengthB;
}

function sortByAddress(index: Uint32Array, lo: number, hi: number): void {
  for (let i = lo + 1; i < hi; i += 1) {
    for (
      let j = i;
      j > lo &&
      index[(j - 1) * ENTRY_WORDS + ADDRESS_WORD]! > index[j * ENTRY_WORDS + ADDRESS_WORD]!;
      j -= 1
    ) {
      swapEntries(index, j - 1, j);
    }
  }
}

/** In-place American flag permutation on the top 16 bits of word 0; returns bucket starts. */
let bucketStarts: Uint32Array | undefined;
let bucketNext: Uint32Array | undefined;

function bucketTop16(index: Uint32Array, count: number): Uint32Array {
  const bucketCount = 65536;
  // Reused between sorts (512 KiB): a Worker sorts buffer after buffer.
  bucketStarts ??= new Uint32Array(bucketCount + 1);
  bucketNext ??= new Uint32Array(bucketCount);
  const starts = bucketStarts;
  starts.fill(0);
  for (let i = 0; i < count; i += 1) starts[(index[i * ENTRY_WORDS]! >>> 16) + 1]! += 1;
  for (let b = 0; b < bucketCount; b += 1) starts[b + 1]! += starts[b]!;
  const next = bucketNext;
  next.set(starts.subarray(0, bucketCount));
  for (let b = 0; b < bucketCount; b += 1) {
    const end = starts[b + 1]!;
    let i = next[b]!;
    while (i < end) {
      const at = i * ENTRY_WORDS;
      let target = index[at]! >>> 16;
      if (target === b) {
        i += 1;
        continue;
      }
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
      index[at] = w0;
      index[at + 1] = w1;
      index[at + 2] = w2;
      index[at + 3] = w3;
      i += 1;
    }
    next[b] = end;
  }
  return starts;
}

function rekey(
  index: Uint32Array,
  start: number,
  end: number,
  depth: number,
  layout: BytesKeyLayout,
): void {
  const { pages, segmentShift, reverse, keyOffset, keyBytes } = layout;
  const mask = (1 << segmentShift) - 1;
  const skip = depth * 8;
  for (let i = start; i < end; i += 1) {
    const e = i * ENTRY_WORDS;
    const address = index[e + ADDRESS_WORD]!;
    const page = pages[address >>> segmentShift]!;
    const length = keyBytes >= 0 ? keyBytes : index[e + LENGTH_WORD]!;
    const o = (address & mask) + keyOffset + skip;
    const available = length - skip;
    let w0 = 0;
    let w1 = 0;
    if (available >= 8) {
      w0 = (page[o]! << 24 | page[o + 1]! << 16 | page[o + 2]! << 8 | page[o + 3]!) >>> 0;
      w1 = (page[o + 4]! << 24 | page[o + 5]! << 16 | page[o + 6]! << 8 | page[o + 7]!) >>> 0;
    } else {
      for (let b = 0; b < 8; b += 1) {
        const byte = b < available ? page[o + b]! : 0;
        if (b < 4) w0 = w0 * 256 + byte;
        else w1 = w1 * 256 + byte;
      }
    }
    index[e] = reverse ? ~w0 >>> 0 : w0;
    index[e + 1] = reverse ? ~w1 >>> 0 : w1;
  }
}

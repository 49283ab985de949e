// Index sorts over the sort buffer's index layout (see docs/kernels.md):
//
//   entry (16 bytes): u32 prefix0 | u32 prefix1 | u32 address | u32 length
//   address = segmentIndex * segmentBytes + byteOffset; the page of segment s starts at
//   load<u32>(pageTable + 4 * s) in this memory.
//
// No static mutable state: every buffer (radix counts, the scatter buffer, the explicit stack)
// is caller scratch.

const ENTRY: usize = 16;
const INSERTION_MAX: i32 = 12;
/**
 * The multikey quicksort's insertion sort takes ranges up to this long: it compares digits
 * alone (no record read), so longer ranges than the tie quicksort's pay.
 */
const MULTIKEY_INSERTION_MAX: i32 = 20;
const BUCKET_MIN_COUNT: u32 = 4096;
const BUCKETS: u32 = 65536;
/** Entries of the explicit range stack (3 words each): 2 * log2(2^32) pushes at most. */
const STACK_ENTRIES: u32 = 128;

/** Bytes of scratch that sortBytesIndex and sortIndexTie need. */
export function sortScratchBytes(): u32 {
  return (BUCKETS + 1) * 4 + BUCKETS * 4 + STACK_ENTRIES * 12;
}

// @ts-ignore: decorator
@inline function prefixOf(e: usize): u64 {
  // Words 0 and 1 as one unsigned integer: word 0 high.
  return rotr<u64>(load<u64>(e), 32);
}

// @ts-ignore: decorator
@inline function swapEntries(a: usize, b: usize): void {
  const a0 = load<u64>(a);
  const a1 = load<u64>(a, 8);
  store<u64>(a, load<u64>(b));
  store<u64>(a, load<u64>(b, 8), 8);
  store<u64>(b, a0);
  store<u64>(b, a1, 8);
}

// @ts-ignore: decorator
@inline function recordAt(pageTable: usize, shift: u32, mask: u32, address: u32): usize {
  return <usize>load<u32>(pageTable + (<usize>(address >>> shift) << 2)) + <usize>(address & mask);
}

/** Compares `n` bytes at a and b from `from` on; returns the sign of the first difference. */
function compareFrom(a: usize, b: usize, from: i32, n: i32): i32 {
  let k = from;
  while (k + 8 <= n) {
    const x = bswap<u64>(load<u64>(a + <usize>k));
    const y = bswap<u64>(load<u64>(b + <usize>k));
    if (x != y) return x < y ? -1 : 1;
    k += 8;
  }
  while (k < n) {
    const d = <i32>load<u8>(a + <usize>k) - <i32>load<u8>(b + <usize>k);
    if (d != 0) return d;
    k += 1;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// sortBytesIndex: multikey quicksort with 8-byte digits (the plain-bytes path of index_sort.ts)

// @ts-ignore: decorator
@inline function restOf(e: usize, skip: i32, keyBytes: i32): i32 {
  const length: i32 = keyBytes >= 0 ? keyBytes : <i32>load<u32>(e, 12);
  const remaining = length - skip;
  return remaining > 8 ? 9 : remaining < 0 ? 0 : remaining;
}

function digitCompare(a: usize, b: usize, skip: i32, keyBytes: i32, restSign: i32): i32 {
  const pa = prefixOf(a);
  const pb = prefixOf(b);
  if (pa != pb) return pa < pb ? -1 : 1;
  return (restOf(a, skip, keyBytes) - restOf(b, skip, keyBytes)) * restSign;
}

function medianOfThree(
  index: usize, x: i32, y: i32, z: i32, skip: i32, keyBytes: i32, restSign: i32,
): i32 {
  const ex = index + <usize>x * ENTRY;
  const ey = index + <usize>y * ENTRY;
  const ez = index + <usize>z * ENTRY;
  const xy = digitCompare(ex, ey, skip, keyBytes, restSign);
  const yz = digitCompare(ey, ez, skip, keyBytes, restSign);
  if (xy < 0) {
    if (yz < 0) return y;
    return digitCompare(ex, ez, skip, keyBytes, restSign) < 0 ? z : x;
  }
  if (yz > 0) return y;
  return digitCompare(ex, ez, skip, keyBytes, restSign) < 0 ? x : z;
}

/** Where entry e's key bytes from `skip` on start. */
// @ts-ignore: decorator
@inline function keyAt(
  e: usize, pageTable: usize, shift: u32, mask: u32, keyOffset: u32, skip: i32,
): usize {
  return recordAt(pageTable, shift, mask, load<u32>(e, 8)) + <usize>keyOffset + <usize>skip;
}

/** The digit of `available` key bytes (0 past the key) from the 8 bytes `raw` read there. */
// @ts-ignore: decorator
@inline function digitOf(raw: u64, available: i32): u64 {
  const value = bswap<u64>(raw);
  if (available >= 8) return value;
  if (available <= 0) return 0;
  return value & (<u64>-1 << (64 - 8 * <u64>available));
}

/** Reads entry e's digit byte by byte (near the end of the memory). */
function digitSlow(o: usize, available: i32): u64 {
  let value: u64 = 0;
  for (let b = 0; b < 8; b += 1) {
    const byte: u64 = b < available ? <u64>load<u8>(o + <usize>b) : 0;
    value = (value << 8) | byte;
  }
  return value;
}

/**
 * Writes the key's 8-byte digit `depth` (bytes 8 * depth on, zero padded past the key,
 * inverted for reverse) into the prefix words of entries [start, end). The record reads are
 * issued four at a time: they miss the cache, and independent loads overlap their misses.
 */
function rekey(
  index: usize, start: i32, end: i32, depth: i32,
  pageTable: usize, shift: u32, reverse: bool, keyOffset: u32, keyBytes: i32,
): void {
  const mask: u32 = (1 << shift) - 1;
  const skip = depth * 8;
  const invert: u64 = reverse ? <u64>-1 : 0;
  // Whole words are read only where 8 bytes fit in the memory.
  const readEnd = (<usize>memory.size() << 16) - 8;
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const e = index + <usize>i * ENTRY;
    const o0 = keyAt(e, pageTable, shift, mask, keyOffset, skip);
    const o1 = keyAt(e + ENTRY, pageTable, shift, mask, keyOffset, skip);
    const o2 = keyAt(e + 2 * ENTRY, pageTable, shift, mask, keyOffset, skip);
    const o3 = keyAt(e + 3 * ENTRY, pageTable, shift, mask, keyOffset, skip);
    const top = max(max(o0, o1), max(o2, o3));
    if (top > readEnd) break;
    const r0 = load<u64>(o0);
    const r1 = load<u64>(o1);
    const r2 = load<u64>(o2);
    const r3 = load<u64>(o3);
    const fixed = keyBytes >= 0;
    const a0 = (fixed ? keyBytes : <i32>load<u32>(e, 12)) - skip;
    const a1 = (fixed ? keyBytes : <i32>load<u32>(e, 12 + ENTRY)) - skip;
    const a2 = (fixed ? keyBytes : <i32>load<u32>(e, 12 + 2 * ENTRY)) - skip;
    const a3 = (fixed ? keyBytes : <i32>load<u32>(e, 12 + 3 * ENTRY)) - skip;
    store<u64>(e, rotr<u64>(digitOf(r0, a0) ^ invert, 32));
    store<u64>(e, rotr<u64>(digitOf(r1, a1) ^ invert, 32), ENTRY);
    store<u64>(e, rotr<u64>(digitOf(r2, a2) ^ invert, 32), 2 * ENTRY);
    store<u64>(e, rotr<u64>(digitOf(r3, a3) ^ invert, 32), 3 * ENTRY);
  }
  for (; i < end; i += 1) {
    const e = index + <usize>i * ENTRY;
    const o = keyAt(e, pageTable, shift, mask, keyOffset, skip);
    const available = (keyBytes >= 0 ? keyBytes : <i32>load<u32>(e, 12)) - skip;
    const value = o <= readEnd ? digitOf(load<u64>(o), available) : digitSlow(o, available);
    store<u64>(e, rotr<u64>(value ^ invert, 32));
  }
}

/** Sorts entries [lo, hi) by address (distinct): quicksort, insertion sort for short ranges. */
function sortByAddress(index: usize, lo: i32, hi: i32): void {
  while (hi - lo > 16) {
    const mid = lo + ((hi - lo) >> 1);
    const el = index + <usize>lo * ENTRY;
    const em = index + <usize>mid * ENTRY;
    const eh = index + <usize>(hi - 1) * ENTRY;
    // Median of three into lo.
    if (load<u32>(em, 8) < load<u32>(el, 8)) swapEntries(em, el);
    if (load<u32>(eh, 8) < load<u32>(el, 8)) swapEntries(eh, el);
    if (load<u32>(eh, 8) < load<u32>(em, 8)) swapEntries(eh, em);
    swapEntries(el, em);
    const pivot = load<u32>(el, 8);
    let i = lo + 1;
    let j = hi - 1;
    for (;;) {
      while (i <= j && load<u32>(index + <usize>i * ENTRY, 8) < pivot) i += 1;
      while (j >= i && load<u32>(index + <usize>j * ENTRY, 8) > pivot) j -= 1;
      if (i >= j) break;
      swapEntries(index + <usize>i * ENTRY, index + <usize>j * ENTRY);
      i += 1;
      j -= 1;
    }
    swapEntries(el, index + <usize>j * ENTRY);
    if (j - lo < hi - j - 1) {
      sortByAddress(index, lo, j);
      lo = j + 1;
    } else {
      sortByAddress(index, j + 1, hi);
      hi = j;
    }
  }
  for (let i = lo + 1; i < hi; i += 1) {
    for (let j = i; j > lo; j -= 1) {
      const a = index + <usize>(j - 1) * ENTRY;
      const b = a + ENTRY;
      if (load<u32>(a, 8) <= load<u32>(b, 8)) break;
      swapEntries(a, b);
    }
  }
}

/** In-place American flag permutation on the top 16 bits of word 0; fills starts[0..65536]. */
function bucketTop16(index: usize, count: u32, starts: usize, next: usize): void {
  memory.fill(starts, 0, <usize>(BUCKETS + 1) * 4);
  for (let i: u32 = 0; i < count; i += 1) {
    const at = starts + ((<usize>(load<u32>(index + <usize>i * ENTRY) >>> 16) + 1) << 2);
    store<u32>(at, load<u32>(at) + 1);
  }
  for (let b: u32 = 0; b < BUCKETS; b += 1) {
    const at = starts + (<usize>b << 2);
    store<u32>(at, load<u32>(at, 4) + load<u32>(at), 4);
  }
  memory.copy(next, starts, <usize>BUCKETS * 4);
  for (let b: u32 = 0; b < BUCKETS; b += 1) {
    const end = load<u32>(starts + (<usize>(b + 1) << 2));
    let i = load<u32>(next + (<usize>b << 2));
    while (i < end) {
      const at = index + <usize>i * ENTRY;
      let target = load<u32>(at) >>> 16;
      if (target == b) {
        i += 1;
        continue;
      }
      let w01 = load<u64>(at);
      let w23 = load<u64>(at, 8);
      while (target != b) {
        const slot = next + (<usize>target << 2);
        const destIndex = load<u32>(slot);
        store<u32>(slot, destIndex + 1);
        const dest = index + <usize>destIndex * ENTRY;
        const d01 = load<u64>(dest);
        const d23 = load<u64>(dest, 8);
        store<u64>(dest, w01);
        store<u64>(dest, w23, 8);
        w01 = d01;
        w23 = d23;
        target = (<u32>w01) >>> 16;
      }
      store<u64>(at, w01);
      store<u64>(at, w23, 8);
      i += 1;
    }
    store<u32>(next + (<usize>b << 2), end);
  }
}

/**
 * Sorts `count` index entries at `index` by plain memcmp of a byte key, then address (the
 * plain-bytes path of today's `sortBytesIndex`: same result, same final index words).
 */
export function sortBytesIndex(
  index: usize, count: u32, pageTable: usize, shift: u32, reverse: u32,
  keyOffset: u32, keyBytes: i32, scratch: usize,
): void {
  multikey(index, count, pageTable, shift, reverse != 0, keyOffset, keyBytes, scratch, false);
}

/**
 * The order of sortIndexTie (prefix, whole record in byte order, then address) by the multikey
 * sort: with plain-bytes prefixes, "prefix then record" is the record's byte order, so the
 * multikey sort with address ties gives the same (unique) order; the prefix words it re-keys
 * are then restored. Records are read once per 8-byte digit instead of once per comparison.
 */
export function sortIndexMultikey(
  index: usize, count: u32, pageTable: usize, shift: u32, reverse: u32, scratch: usize,
): void {
  multikey(index, count, pageTable, shift, reverse != 0, 0, -1, scratch, true);
  rekey(index, 0, <i32>count, 0, pageTable, shift, reverse != 0, 0, -1);
}

function multikey(
  index: usize, count: u32, pageTable: usize, shift: u32, reverse: bool,
  keyOffset: u32, keyBytes: i32, scratch: usize, addressTies: bool,
): void {
  if (count < 2) return;
  // The radix levels' counts take the scratch up to the scatter buffer, which ends where the
  // quicksort's range stack begins.
  const stack = scratch + <usize>(BUCKETS + 1) * 4 + <usize>BUCKETS * 4;
  radixRange(
    index, 0, <i32>count, 0, 0, pageTable, shift, reverse, keyOffset, keyBytes, addressTies,
    stack, scratch, stack - SCATTER_BYTES,
  );
}

/** Ranges shorter than this go to the multikey quicksort instead of a radix pass. */
const RADIX_MIN: i32 = 256;
/** Ranges from this many entries look for a heavy group of entries that share more bytes. */
const HEAVY_MIN: i32 = 1024;
/** A heavy group is split off when it shares this many digit bytes from the radix byte on. */
const HEAVY_SKIP_MIN: u32 = 3;
/** Scratch of one radix level: bucket cursors and bucket ends, 256 each. */
const RADIX_LEVEL_BYTES: usize = 256 * 4 * 2;
/** The scatter buffer at the end of the radix levels' scratch (before the range stack). */
const SCATTER_BYTES: usize = 256 * 1024;

/**
 * The radix digit of an entry: byte `byte` (0..7) of its current 8-byte key digit, or, for
 * `byte` 8, how many key bytes are left past the digit (0..8, 9: more), in key order.
 */
// @ts-ignore: decorator
@inline function radixDigit(e: usize, byte: u32, skip: i32, keyBytes: i32, reverse: bool): u32 {
  if (byte < 8) return <u32>(prefixOf(e) >>> (56 - 8 * <u64>byte)) & 0xff;
  const rest = <u32>restOf(e, skip, keyBytes);
  return reverse ? 9 - rest : rest;
}

/**
 * MSD radix sort of entries [lo, hi), which share digit `depth`'s bytes before `byte`: an
 * American flag pass per byte of the 8-byte digit (bytes the whole range shares are found by
 * the counting pass and skipped), then one on the bytes left, then the entries whose keys go on
 * are re-keyed with the next digit and sorted the same way. A pass permutes in place, or, when
 * the range fits the scatter buffer at `countsEnd` (SCATTER_BYTES), scatters it there and
 * copies it back. On ranges of HEAVY_MIN entries or more the counting pass also counts how
 * many digit bytes each entry shares with the range's middle entry: when a quarter of the
 * entries or more share HEAVY_SKIP_MIN bytes from `byte` on with it or more (Zipf text, where
 * many lines start with one word), one three-way pass splits that group off, the entries
 * before and after it are sorted from `byte`, and the group goes on past the bytes it shares,
 * instead of a pass per byte of them. Short ranges (and digits past the scratch) go to the
 * multikey quicksort. Recursion is bounded by the scratch: one level (RADIX_LEVEL_BYTES) per
 * call, at most (countsEnd - counts) / RADIX_LEVEL_BYTES deep.
 */
function radixRange(
  index: usize, lo: i32, hi: i32, byte: u32, depth: i32, pageTable: usize, shift: u32,
  reverse: bool, keyOffset: u32, keyBytes: i32, addressTies: bool, stack: usize,
  counts: usize, countsEnd: usize,
): void {
  let skip = depth * 8;
  for (;;) {
    if (hi - lo < RADIX_MIN || counts + RADIX_LEVEL_BYTES > countsEnd) {
      sortRange(index, lo, hi, depth, pageTable, shift, reverse, keyOffset, keyBytes, stack, addressTies);
      return;
    }
    const cursors = counts;
    const ends = counts + 1024;
    memory.fill(cursors, 0, 1024);
    if (byte < 8) {
      // Counts the digit byte and, in the same pass, which digit bits differ anywhere: when
      // every entry has the same byte, the digit bytes they all share are skipped at once.
      const p0 = prefixOf(index + <usize>lo * ENTRY);
      const digitShift = 56 - 8 * <u64>byte;
      let diff: u64 = 0;
      if (hi - lo < HEAVY_MIN || byte + HEAVY_SKIP_MIN > 8 || !heavyLikely(index, lo, hi, byte)) {
        for (let i = lo; i < hi; i += 1) {
          const p = prefixOf(index + <usize>i * ENTRY);
          diff |= p ^ p0;
          const at = cursors + (<usize>(<u32>(p >>> digitShift) & 0xff) << 2);
          store<u32>(at, load<u32>(at) + 1);
        }
      } else {
        // Also how many digit bytes each entry shares with the middle one (9 counts in `ends`).
        const middle = prefixOf(index + <usize>(lo + ((hi - lo) >> 1)) * ENTRY);
        memory.fill(ends, 0, 9 * 4);
        for (let i = lo; i < hi; i += 1) {
          const p = prefixOf(index + <usize>i * ENTRY);
          diff |= p ^ p0;
          const at = cursors + (<usize>(<u32>(p >>> digitShift) & 0xff) << 2);
          store<u32>(at, load<u32>(at) + 1);
          const shared = ends + ((<usize>clz<u64>(p ^ middle) >>> 3) << 2);
          store<u32>(shared, load<u32>(shared) + 1);
        }
        if (((diff >>> digitShift) & 0xff) != 0) {
          // The most bytes that a quarter of the entries or more share with the middle one.
          let group: u32 = 0;
          let sharing: u32 = 8;
          for (; sharing >= byte + HEAVY_SKIP_MIN; sharing -= 1) {
            group += load<u32>(ends + (<usize>sharing << 2));
            if (group * 4 >= <u32>(hi - lo)) break;
          }
          if (sharing >= byte + HEAVY_SKIP_MIN) {
            // A heavy group (Zipf text: many lines that start with the same word): split the
            // range three ways on those bytes, sort the smaller and larger parts from `byte`
            // and go on with the group past the bytes it shares.
            const keyShift = 64 - 8 * <u64>sharing;
            const pivot = sharing == 8 ? middle : middle >>> keyShift;
            let lt = lo;
            let i = lo;
            let gt = hi - 1;
            while (i <= gt) {
              const e = index + <usize>i * ENTRY;
              const p = prefixOf(e);
              const k = sharing == 8 ? p : p >>> keyShift;
              if (k < pivot) {
                swapEntries(index + <usize>lt * ENTRY, e);
                lt += 1;
                i += 1;
              } else if (k > pivot) {
                swapEntries(e, index + <usize>gt * ENTRY);
                gt -= 1;
              } else {
                i += 1;
              }
            }
            if (lt - lo > 1) {
              radixRange(
                index, lo, lt, byte, depth, pageTable, shift, reverse, keyOffset, keyBytes,
                addressTies, stack, counts + RADIX_LEVEL_BYTES, countsEnd,
              );
            }
            if (hi - gt - 1 > 1) {
              radixRange(
                index, gt + 1, hi, byte, depth, pageTable, shift, reverse, keyOffset, keyBytes,
                addressTies, stack, counts + RADIX_LEVEL_BYTES, countsEnd,
              );
            }
            lo = lt;
            hi = gt + 1;
            byte = sharing;
            continue;
          }
        }
      }
      if (((diff >>> digitShift) & 0xff) == 0) {
        // One bucket: nothing moves. The bytes before `byte` are shared too, so this is past it.
        byte = <u32>(clz<u64>(diff) >>> 3);
        continue;
      }
    } else {
      for (let i = lo; i < hi; i += 1) {
        const at = cursors + (<usize>radixDigit(index + <usize>i * ENTRY, 8, skip, keyBytes, reverse) << 2);
        store<u32>(at, load<u32>(at) + 1);
      }
    }
    const first = radixDigit(index + <usize>lo * ENTRY, byte, skip, keyBytes, reverse);
    if (byte == 8 && load<u32>(cursors + (<usize>first << 2)) == <u32>(hi - lo)) {
      // One bucket of bytes left: nothing moves.
      if (first == (reverse ? 0 : 9)) {
        // Every key goes on: the next digit, in this loop (no recursion per shared digit).
        depth += 1;
        skip = depth * 8;
        byte = 0;
        rekey(index, lo, hi, depth, pageTable, shift, reverse, keyOffset, keyBytes);
        continue;
      }
      if (keyBytes >= 0 || addressTies) sortByAddress(index, lo, hi);
      return;
    }
    permuteRange(index, lo, hi, byte, skip, keyBytes, reverse, cursors, ends, countsEnd);
    let start: i32 = lo;
    for (let b: u32 = 0; b < 256; b += 1) {
      const end = <i32>load<u32>(ends + (<usize>b << 2));
      if (end - start > 1) {
        if (byte < 8) {
          radixRange(
            index, start, end, byte + 1, depth, pageTable, shift, reverse, keyOffset, keyBytes,
            addressTies, stack, counts + RADIX_LEVEL_BYTES, countsEnd,
          );
        } else {
          finishDigit(
            index, start, end, b, depth, pageTable, shift, reverse, keyOffset, keyBytes,
            addressTies, stack, counts + RADIX_LEVEL_BYTES, countsEnd,
          );
        }
      }
      start = end;
    }
    return;
  }
}

/**
 * Whether a heavy group is worth looking for in [lo, hi) at radix byte `byte`: one of 8 entries
 * spread over the range shares HEAVY_SKIP_MIN digit bytes from `byte` on with the middle one (a
 * group of a quarter of the range is missed by all 8 one time in 10; unique lines skip the
 * counting it costs).
 */
function heavyLikely(index: usize, lo: i32, hi: i32, byte: u32): bool {
  const middle = prefixOf(index + <usize>(lo + ((hi - lo) >> 1)) * ENTRY);
  const step = (hi - lo) >> 3;
  for (let k = 0; k < 8; k += 1) {
    const p = prefixOf(index + <usize>(lo + k * step + (step >> 1)) * ENTRY);
    if (<u32>(clz<u64>(p ^ middle) >>> 3) >= byte + HEAVY_SKIP_MIN) return true;
  }
  return false;
}

/**
 * The American flag permutation of entries [lo, hi) by radix digit `byte` (radixDigit), from
 * the digit counts at `cursors` (256 u32): afterwards bucket b's entries lie before the end
 * written at `ends` + 4b.
 */
// @ts-ignore: decorator
@inline function permuteRange(
  index: usize, lo: i32, hi: i32, byte: u32, skip: i32, keyBytes: i32, reverse: bool,
  cursors: usize, ends: usize, scatter: usize,
): void {
  let position: u32 = <u32>lo;
  for (let b: usize = 0; b < 256; b += 1) {
    const n = load<u32>(cursors + (b << 2));
    store<u32>(cursors + (b << 2), position);
    position += n;
    store<u32>(ends + (b << 2), position);
  }
  const rangeBytes = <usize>(hi - lo) * ENTRY;
  if (scatter != 0 && rangeBytes <= SCATTER_BYTES) {
    // Out of place: no chain of dependent loads (each entry's place is known from its digit).
    const from = index + <usize>lo * ENTRY;
    const base = scatter - from;
    for (let at = from; at < from + rangeBytes; at += ENTRY) {
      const w01 = load<u64>(at);
      const w23 = load<u64>(at, 8);
      const target = byte < 8
        ? <u32>(rotr<u64>(w01, 32) >>> (56 - 8 * <u64>byte)) & 0xff
        : restDigit(<i32>(w23 >>> 32), skip, keyBytes, reverse);
      const slot = cursors + (<usize>target << 2);
      const destIndex = load<u32>(slot);
      store<u32>(slot, destIndex + 1);
      const dest = base + index + <usize>destIndex * ENTRY;
      store<u64>(dest, w01);
      store<u64>(dest, w23, 8);
    }
    memory.copy(from, scatter, rangeBytes);
    return;
  }
  for (let b: u32 = 0; b < 256; b += 1) {
    const end = load<u32>(ends + (<usize>b << 2));
    let i = load<u32>(cursors + (<usize>b << 2));
    while (i < end) {
      const at = index + <usize>i * ENTRY;
      let target = radixDigit(at, byte, skip, keyBytes, reverse);
      if (target == b) {
        i += 1;
        continue;
      }
      let w01 = load<u64>(at);
      let w23 = load<u64>(at, 8);
      while (target != b) {
        const slot = cursors + (<usize>target << 2);
        const destIndex = load<u32>(slot);
        store<u32>(slot, destIndex + 1);
        const dest = index + <usize>destIndex * ENTRY;
        const d01 = load<u64>(dest);
        const d23 = load<u64>(dest, 8);
        store<u64>(dest, w01);
        store<u64>(dest, w23, 8);
        w01 = d01;
        w23 = d23;
        target = byte < 8
          ? <u32>(rotr<u64>(w01, 32) >>> (56 - 8 * <u64>byte)) & 0xff
          : restDigit(<i32>(w23 >>> 32), skip, keyBytes, reverse);
      }
      store<u64>(at, w01);
      store<u64>(at, w23, 8);
      i += 1;
    }
  }
}

/**
 * The first radix pass of sortBytesIndex (keyOffset 0, whole-record keys) alone, so that two
 * threads can sort the buckets it leaves (sortBytesBucket), each taking buckets from its end:
 * entries [0, count) are permuted by the first byte of their prefix that not all of them share,
 * and the 256 bucket ends are written at `scratch` + 1024 (u32 each). Returns that byte
 * (0..7): bucket b holds the entries whose prefix has b there. 8: all 8 prefix bytes are
 * shared, nothing moved (sort [0, count) as one bucket from byte 8).
 */
export function partitionBytesIndex(index: usize, count: u32, scratch: usize): u32 {
  const cursors = scratch;
  const ends = scratch + 1024;
  if (count < 2) return 8;
  const p0 = prefixOf(index);
  let byte: u32 = 0;
  for (;;) {
    memory.fill(cursors, 0, 1024);
    const digitShift = 56 - 8 * <u64>byte;
    let diff: u64 = 0;
    for (let i: u32 = 0; i < count; i += 1) {
      const p = prefixOf(index + <usize>i * ENTRY);
      diff |= p ^ p0;
      const at = cursors + (<usize>(<u32>(p >>> digitShift) & 0xff) << 2);
      store<u32>(at, load<u32>(at) + 1);
    }
    if (diff == 0) return 8;
    if (((diff >>> digitShift) & 0xff) != 0) break;
    byte = <u32>(clz<u64>(diff) >>> 3);
  }
  permuteRange(index, 0, <i32>count, byte, 0, -1, false, cursors, ends, 0);
  return byte;
}

/**
 * Sorts entries [lo, hi) that share their prefix bytes before `byte` (a bucket of
 * partitionBytesIndex, from the byte after its own; 8: the bytes left past the prefix) as
 * sortBytesIndex sorts them. Buckets are disjoint: two threads may sort two at once, each with
 * its own scratch.
 */
export function sortBytesBucket(
  index: usize, lo: u32, hi: u32, byte: u32, pageTable: usize, shift: u32, reverse: u32,
  scratch: usize,
): void {
  if (hi - lo < 2) return;
  const stack = scratch + <usize>(BUCKETS + 1) * 4 + <usize>BUCKETS * 4;
  radixRange(
    index, <i32>lo, <i32>hi, byte, 0, pageTable, shift, reverse != 0, 0, -1, false, stack,
    scratch, stack - SCATTER_BYTES,
  );
}

// @ts-ignore: decorator
@inline function restDigit(length: i32, skip: i32, keyBytes: i32, reverse: bool): u32 {
  const remaining = (keyBytes >= 0 ? keyBytes : length) - skip;
  const rest: u32 = remaining > 8 ? 9 : remaining < 0 ? 0 : <u32>remaining;
  return reverse ? 9 - rest : rest;
}

/**
 * Entries [lo, hi) with the same digit and the same bytes-left bucket `bucket`: equal keys
 * (by address when ties need it), or keys that go on: re-keyed and sorted on the next digit.
 */
function finishDigit(
  index: usize, lo: i32, hi: i32, bucket: u32, depth: i32, pageTable: usize, shift: u32,
  reverse: bool, keyOffset: u32, keyBytes: i32, addressTies: bool, stack: usize,
  counts: usize, countsEnd: usize,
): void {
  const more: u32 = reverse ? 0 : 9;
  if (bucket == more) {
    rekey(index, lo, hi, depth + 1, pageTable, shift, reverse, keyOffset, keyBytes);
    radixRange(
      index, lo, hi, 0, depth + 1, pageTable, shift, reverse, keyOffset, keyBytes, addressTies,
      stack, counts, countsEnd,
    );
  } else if (keyBytes >= 0 || addressTies) {
    sortByAddress(index, lo, hi);
  }
}

function sortRange(
  index: usize, startLo: i32, startHi: i32, startDepth: i32, pageTable: usize, shift: u32,
  reverse: bool, keyOffset: u32, keyBytes: i32, stack: usize, addressTies: bool,
): void {
  const mask: u32 = (1 << shift) - 1;
  const restSign: i32 = reverse ? -1 : 1;
  const fixed = keyBytes >= 0;
  let top = 0; // stack entries in use
  let lo = startLo;
  let hi = startHi;
  let depth = startDepth;
  for (;;) {
    const skip = depth * 8;
    if (hi - lo > MULTIKEY_INSERTION_MAX) {
      const mid = lo + ((hi - lo) >> 1);
      const pe = index + <usize>medianOfThree(index, lo, mid, hi - 1, skip, keyBytes, restSign) * ENTRY;
      const pivot = prefixOf(pe);
      const vr = restOf(pe, skip, keyBytes) * restSign;
      let lt = lo;
      let i = lo;
      let gt = hi - 1;
      while (i <= gt) {
        const e = index + <usize>i * ENTRY;
        const w = prefixOf(e);
        let c: i32;
        if (w != pivot) c = w < pivot ? -1 : 1;
        else c = restOf(e, skip, keyBytes) * restSign - vr;
        if (c < 0) {
          swapEntries(index + <usize>lt * ENTRY, e);
          lt += 1;
          i += 1;
        } else if (c > 0) {
          swapEntries(e, index + <usize>gt * ENTRY);
          gt -= 1;
        } else {
          i += 1;
        }
      }
      // Three parts: [lo, lt) and (gt, hi) at this digit, [lt, gt] one digit deeper.
      const lessSize = lt - lo;
      const moreSize = hi - gt - 1;
      const equalSize = gt + 1 - lt;
      let equalWork = false;
      if (equalSize > 1) {
        if (vr * restSign == 9) {
          rekey(index, lt, gt + 1, depth + 1, pageTable, shift, reverse, keyOffset, keyBytes);
          equalWork = true;
        } else if (fixed || addressTies) {
          sortByAddress(index, lt, gt + 1);
        }
      }
      // Go on with the smallest part that needs work and push the others: the part we go on
      // with is at most half of the range whenever something is pushed, so the stack stays
      // below 2 * log2(count) entries.
      let bestLo = -1, bestHi = -1, bestDepth = 0, bestSize = 0x7fffffff;
      if (lessSize > 1) { bestLo = lo; bestHi = lt; bestDepth = depth; bestSize = lessSize; }
      if (moreSize > 1) {
        if (moreSize < bestSize) {
          if (bestLo >= 0) { push(stack, top, bestLo, bestHi, bestDepth); top += 1; }
          bestLo = gt + 1; bestHi = hi; bestDepth = depth; bestSize = moreSize;
        } else {
          push(stack, top, gt + 1, hi, depth); top += 1;
        }
      }
      if (equalWork) {
        if (equalSize < bestSize) {
          if (bestLo >= 0) { push(stack, top, bestLo, bestHi, bestDepth); top += 1; }
          bestLo = lt; bestHi = gt + 1; bestDepth = depth + 1; bestSize = equalSize;
        } else {
          push(stack, top, lt, gt + 1, depth + 1); top += 1;
        }
      }
      if (bestLo >= 0) {
        lo = bestLo;
        hi = bestHi;
        depth = bestDepth;
        continue;
      }
    } else {
      insertionRange(index, lo, hi, depth, pageTable, shift, mask, reverse, keyOffset, keyBytes, restSign);
    }
    if (top == 0) return;
    top -= 1;
    const s = stack + <usize>top * 12;
    lo = load<i32>(s);
    hi = load<i32>(s, 4);
    depth = load<i32>(s, 8);
  }
}

// @ts-ignore: decorator
@inline function push(stack: usize, top: i32, lo: i32, hi: i32, depth: i32): void {
  const s = stack + <usize>top * 12;
  store<i32>(s, lo);
  store<i32>(s, hi, 4);
  store<i32>(s, depth, 8);
}

/**
 * Sorts the short range [lo, hi) at digit `depth`: by digit alone first (prefix words, then
 * bytes left: no record is read), then each run of equal digits on its own. A run whose keys go
 * on and that holds RUN_REKEY_MIN entries or more is re-keyed with the next digit first (its
 * record reads all in flight at once, where the insertion sort's record compares would wait on
 * them one after the other); a shorter one, and the ties left after that, compare their records.
 */
function insertionRange(
  index: usize, lo: i32, hi: i32, depth: i32, pageTable: usize, shift: u32, mask: u32,
  reverse: bool, keyOffset: u32, keyBytes: i32, restSign: i32,
): void {
  const skip = depth * 8;
  for (let i = lo + 1; i < hi; i += 1) {
    for (let j = i; j > lo; j -= 1) {
      const a = index + <usize>(j - 1) * ENTRY;
      const b = a + ENTRY;
      const pa = prefixOf(a);
      const pb = prefixOf(b);
      if (pa < pb) break;
      if (pa == pb && (restOf(a, skip, keyBytes) - restOf(b, skip, keyBytes)) * restSign <= 0) break;
      swapEntries(a, b);
    }
  }
  let start = lo;
  while (start < hi) {
    const es = index + <usize>start * ENTRY;
    const p = prefixOf(es);
    const rest = restOf(es, skip, keyBytes);
    let end = start + 1;
    while (end < hi) {
      const e = index + <usize>end * ENTRY;
      if (prefixOf(e) != p || restOf(e, skip, keyBytes) != rest) break;
      end += 1;
    }
    if (end - start > 1) {
      if (rest == 9 && end - start >= RUN_REKEY_MIN) {
        rekey(index, start, end, depth + 1, pageTable, shift, reverse, keyOffset, keyBytes);
        insertionRun(index, start, end, skip + 8, pageTable, shift, mask, keyOffset, keyBytes, restSign);
      } else {
        insertionRun(index, start, end, skip, pageTable, shift, mask, keyOffset, keyBytes, restSign);
      }
    }
    start = end;
  }
}

/** Runs of equal digits this long or longer are re-keyed before their records are compared. */
const RUN_REKEY_MIN: i32 = 3;

/**
 * Insertion sort of [lo, hi) by the key from byte `skip` on (the prefix words hold its digit
 * there), then address: ties of the digit compare their records from byte `skip` + 8.
 */
function insertionRun(
  index: usize, lo: i32, hi: i32, skip: i32, pageTable: usize, shift: u32, mask: u32,
  keyOffset: u32, keyBytes: i32, restSign: i32,
): void {
  for (let i = lo + 1; i < hi; i += 1) {
    for (let j = i; j > lo; j -= 1) {
      const a = index + <usize>(j - 1) * ENTRY;
      const b = a + ENTRY;
      const pa = prefixOf(a);
      const pb = prefixOf(b);
      let c: i32;
      if (pa != pb) {
        c = pa < pb ? -1 : 1;
      } else {
        const restA = restOf(a, skip, keyBytes);
        c = (restA - restOf(b, skip, keyBytes)) * restSign;
        if (c == 0 && restA == 9) {
          const lengthA: i32 = keyBytes >= 0 ? keyBytes : <i32>load<u32>(a, 12);
          const lengthB: i32 = keyBytes >= 0 ? keyBytes : <i32>load<u32>(b, 12);
          const common = lengthA < lengthB ? lengthA : lengthB;
          const ra = recordAt(pageTable, shift, mask, load<u32>(a, 8)) + <usize>keyOffset;
          const rb = recordAt(pageTable, shift, mask, load<u32>(b, 8)) + <usize>keyOffset;
          c = compareFrom(ra, rb, skip + 8, common);
          if (c == 0) c = lengthA - lengthB;
          c *= restSign;
        }
        if (c == 0) c = load<u32>(a, 8) < load<u32>(b, 8) ? -1 : 1;
      }
      if (c <= 0) break;
      swapEntries(a, b);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// sortIndexTie: the prefix quicksort of index_sort.ts's sortIndex, with the full-record tie
// compare of plain byte order (memcmp from byte 8, then length; reversed for -r), then address.

// @ts-ignore: decorator
@inline function compareTie(
  a: usize, b: usize, pageTable: usize, shift: u32, mask: u32, sign: i32,
): i32 {
  const pa = prefixOf(a);
  const pb = prefixOf(b);
  if (pa != pb) return pa < pb ? -1 : 1;
  const lengthA = <i32>load<u32>(a, 12);
  const lengthB = <i32>load<u32>(b, 12);
  const common = lengthA < lengthB ? lengthA : lengthB;
  if (common > 8) {
    const ra = recordAt(pageTable, shift, mask, load<u32>(a, 8));
    const rb = recordAt(pageTable, shift, mask, load<u32>(b, 8));
    const d = compareFrom(ra, rb, 8, common);
    if (d != 0) return d * sign;
  }
  if (lengthA != lengthB) return (lengthA - lengthB) * sign;
  return load<u32>(a, 8) < load<u32>(b, 8) ? -1 : 1;
}

function quickSortTie(
  index: usize, start: i32, end: i32, pageTable: usize, shift: u32, mask: u32, sign: i32,
): void {
  while (end - start > INSERTION_MAX) {
    const mid = start + ((end - start) >> 1);
    const last = end - 1;
    const es = index + <usize>start * ENTRY;
    const em = index + <usize>mid * ENTRY;
    const el = index + <usize>last * ENTRY;
    if (compareTie(em, es, pageTable, shift, mask, sign) < 0) swapEntries(em, es);
    if (compareTie(el, es, pageTable, shift, mask, sign) < 0) swapEntries(el, es);
    if (compareTie(el, em, pageTable, shift, mask, sign) < 0) swapEntries(el, em);
    swapEntries(es, em);
    let i = start + 1;
    let j = last;
    for (;;) {
      while (i <= j && compareTie(index + <usize>i * ENTRY, es, pageTable, shift, mask, sign) < 0) i += 1;
      while (j >= i && compareTie(index + <usize>j * ENTRY, es, pageTable, shift, mask, sign) > 0) j -= 1;
      if (i >= j) break;
      swapEntries(index + <usize>i * ENTRY, index + <usize>j * ENTRY);
      i += 1;
      j -= 1;
    }
    swapEntries(es, index + <usize>j * ENTRY);
    if (j - start < end - j - 1) {
      quickSortTie(index, start, j, pageTable, shift, mask, sign);
      start = j + 1;
    } else {
      quickSortTie(index, j + 1, end, pageTable, shift, mask, sign);
      end = j;
    }
  }
  for (let i = start + 1; i < end; i += 1) {
    for (let j = i; j > start; j -= 1) {
      const a = index + <usize>(j - 1) * ENTRY;
      const b = a + ENTRY;
      if (compareTie(a, b, pageTable, shift, mask, sign) <= 0) break;
      swapEntries(a, b);
    }
  }
}

/**
 * Sorts `count` entries by prefix words, then the whole record in plain byte order (reversed
 * when `reverse`; the prefixes are then stored inverted), then address: today's `sortIndex`
 * with the plain-bytes tie compare.
 */
export function sortIndexTie(
  index: usize, count: u32, pageTable: usize, shift: u32, reverse: u32, scratch: usize,
): void {
  if (count < 2) return;
  const mask: u32 = (1 << shift) - 1;
  const sign: i32 = reverse != 0 ? -1 : 1;
  if (count < BUCKET_MIN_COUNT) {
    quickSortTie(index, 0, <i32>count, pageTable, shift, mask, sign);
    return;
  }
  const starts = scratch;
  const next = scratch + <usize>(BUCKETS + 1) * 4;
  bucketTop16(index, count, starts, next);
  for (let b: u32 = 0; b < BUCKETS; b += 1) {
    const start = load<u32>(starts + (<usize>b << 2));
    const end = load<u32>(starts + (<usize>(b + 1) << 2));
    if (end - start > 1) quickSortTie(index, <i32>start, <i32>end, pageTable, shift, mask, sign);
  }
}

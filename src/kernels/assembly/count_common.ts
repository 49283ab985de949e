// What the two tokenize + count loops share (count.ts: countTokens, count v1; count_scan.ts:
// countScan, the loop `spillway count` runs): the statuses, byte classes, MurmurHash3 x86_32
// pieces, ASCII case folding, and the probe of the table layout of src/count/count_table.ts:
//
//   buckets: i32 pairs [hash, pointer + 1] (0: empty), linear probing from hash & mask
//   records: | u32 length | word bytes | u64 count big-endian | pad to 4 |, in pages
//   pointer = pageIndex << pageShift | (byteOffsetInPage >>> 2), pageShift = log2(segment) - 2
//
// Everything here is @inline: each loop gets its own copy, specialised at compile time.

export const DONE: u32 = 0;
export const NEED_BUCKETS: u32 = 1;
export const NEED_PAGE: u32 = 2;
export const TOO_LONG: u32 = 3;

/** `probeCount`'s result when the word was there (and was counted). */
export const COUNTED: u32 = 0xffffffff;

// @ts-ignore: decorator
@inline export function isLetter(byte: u32): bool {
  return ((byte | 0x20) - 0x61) < 26;
}

// @ts-ignore: decorator
@inline export function isSpace(byte: u32): bool {
  return byte == 0x20 || (byte - 0x09) < 5;
}

// @ts-ignore: decorator
@inline export function mixK(k: u32): u32 {
  return rotl<u32>(k * 0xcc9e2d51, 15) * 0x1b873593;
}

/** MurmurHash3's block step: mixes a 4-byte block `k` into `h`. */
// @ts-ignore: decorator
@inline export function mixBlock(h: u32, k: u32): u32 {
  return rotl<u32>(h ^ mixK(k), 13) * 5 + 0xe6546b64;
}

/** MurmurHash3's finalization of `h` for a key of `length` bytes. */
// @ts-ignore: decorator
@inline export function finishHash(h: u32, length: u32): u32 {
  h ^= length;
  h ^= h >>> 16;
  h *= 0x85ebca6b;
  h ^= h >>> 13;
  h *= 0xc2b2ae35;
  return h ^ (h >>> 16);
}

// @ts-ignore: decorator
@inline export function fold32(x: u32): u32 {
  // Sets bit 5 of each byte in 'A'..'Z' (SWAR: the high bit of a byte's lane marks it).
  const heptets = x & 0x7f7f7f7f;
  const aboveZ = heptets + 0x25252525; // lane high bit: byte & 0x7f > 'Z'
  const atLeastA = heptets + 0x3f3f3f3f; // lane high bit: byte & 0x7f >= 'A'
  const upper = ~x & (atLeastA ^ aboveZ) & 0x80808080;
  return x | (upper >>> 2);
}

// @ts-ignore: decorator
@inline export function fold64(x: u64): u64 {
  const heptets = x & 0x7f7f7f7f7f7f7f7f;
  const aboveZ = heptets + 0x2525252525252525;
  const atLeastA = heptets + 0x3f3f3f3f3f3f3f3f;
  const upper = ~x & (atLeastA ^ aboveZ) & 0x8080808080808080;
  return x | (upper >>> 2);
}

// @ts-ignore: decorator
@inline export function fold8(byte: u32): u32 {
  return (byte - 0x41) < 26 ? byte | 0x20 : byte;
}

/**
 * Whether the stored word at `stored` equals the input at `input` (folded when `lower`). The
 * last partial 8 bytes are one masked compare when 8 bytes can be read at both (a stored word
 * is followed by its 8-byte count; the input by `limit`), else byte by byte.
 */
// @ts-ignore: decorator
@inline export function sameWord(
  stored: usize,
  input: usize,
  n: u32,
  limit: usize,
  lower: bool,
): bool {
  let i: usize = 0;
  const n8 = <usize>(n & ~7);
  while (i < n8) {
    let x = load<u64>(input + i);
    if (lower) x = fold64(x);
    if (load<u64>(stored + i) != x) return false;
    i += 8;
  }
  const tail = n & 7;
  if (tail == 0) return true;
  if (input + i + 8 <= limit) {
    let x = load<u64>(input + i);
    if (lower) x = fold64(x);
    const mask = (<u64>1 << (<u64>tail << 3)) - 1;
    return ((load<u64>(stored + i) ^ x) & mask) == 0;
  }
  while (i < <usize>n) {
    let byte = <u32>load<u8>(input + i);
    if (lower) byte = fold8(byte);
    if (<u32>load<u8>(stored + i) != byte) return false;
    i += 1;
  }
  return true;
}

/**
 * Adds 1 to the big-endian u64 count at `countAt`. WebAssembly has no byte swap, so a
 * 64-bit swap is ~20 instructions each way; 255 of 256 increments only change the last byte.
 */
// @ts-ignore: decorator
@inline export function incrementCount(countAt: usize): void {
  const last = <u32>load<u8>(countAt, 7);
  if (last != 0xff) {
    store<u8>(countAt, <u8>(last + 1), 7);
    return;
  }
  store<u64>(countAt, bswap<u64>(bswap<u64>(load<u64>(countAt)) + 1));
}

/**
 * Looks the word at `input` (`n` bytes, hash `h`) up in the table and counts it when found:
 * returns {@link COUNTED}, or the empty slot where it belongs.
 */
// @ts-ignore: decorator
@inline export function probeCount(
  buckets: usize,
  mask: u32,
  pageTable: usize,
  pageShift: u32,
  pageMask: u32,
  h: u32,
  input: usize,
  n: u32,
  limit: usize,
  lower: bool,
): u32 {
  let slot = h & mask;
  let bucket = buckets + (<usize>slot << 3);
  let pointer = load<u32>(bucket, 4);
  while (pointer != 0) {
    if (load<u32>(bucket) == h) {
      const address = pointer - 1;
      const record = <usize>load<u32>(pageTable + (<usize>(address >>> pageShift) << 2)) +
        (<usize>(address & pageMask) << 2);
      if (load<u32>(record) == n && sameWord(record + 4, input, n, limit, lower)) {
        incrementCount(record + 4 + <usize>n);
        return COUNTED;
      }
    }
    slot = (slot + 1) & mask;
    bucket = buckets + (<usize>slot << 3);
    pointer = load<u32>(bucket, 4);
  }
  return slot;
}

/**
 * {@link probeCount} for a word of `n` < 16 bytes held (folded, zero past its end) in `w0`
 * then `w1`: masked 8-byte compares with the record (its word is followed by the 8-byte
 * count, so 16 bytes can be read from a record of at least 8).
 */
// @ts-ignore: decorator
@inline export function probeShort(
  buckets: usize,
  mask: u32,
  pageTable: usize,
  pageShift: u32,
  pageMask: u32,
  h: u32,
  w0: u64,
  w1: u64,
  n: u32,
): u32 {
  const pointer = load<u32>(buckets + (<usize>(h & mask) << 3), 4);
  return probeShortFrom(pointer, buckets, mask, pageTable, pageShift, pageMask, h, w0, w1, n);
}

/**
 * {@link probeShort} given the pointer of the word's first bucket, read earlier (the table
 * unchanged since).
 */
// @ts-ignore: decorator
@inline export function probeShortFrom(
  pointer: u32,
  buckets: usize,
  mask: u32,
  pageTable: usize,
  pageShift: u32,
  pageMask: u32,
  h: u32,
  w0: u64,
  w1: u64,
  n: u32,
): u32 {
  const mask0: u64 = n >= 8 ? <u64>-1 : (<u64>1 << (<u64>n << 3)) - 1;
  const mask1: u64 = n > 8 ? (<u64>1 << (<u64>(n - 8) << 3)) - 1 : 0;
  let slot = h & mask;
  let bucket = buckets + (<usize>slot << 3);
  while (pointer != 0) {
    if (load<u32>(bucket) == h) {
      const address = pointer - 1;
      const record = <usize>load<u32>(pageTable + (<usize>(address >>> pageShift) << 2)) +
        (<usize>(address & pageMask) << 2);
      if (
        load<u32>(record) == n && (load<u64>(record, 4) & mask0) == w0 &&
        (n <= 8 || (load<u64>(record, 12) & mask1) == w1)
      ) {
        incrementCount(record + 4 + <usize>n);
        return COUNTED;
      }
    }
    slot = (slot + 1) & mask;
    bucket = buckets + (<usize>slot << 3);
    pointer = load<u32>(bucket, 4);
  }
  return slot;
}

/**
 * Writes a new record (count 1) for the word at `input` at `record` (page `page`, `writeOffset`
 * in it) and points the empty bucket `slot` at it.
 */
// @ts-ignore: decorator
@inline export function insertRecord(
  buckets: usize,
  slot: u32,
  h: u32,
  record: usize,
  page: i32,
  pageShift: u32,
  writeOffset: u32,
  input: usize,
  n: u32,
  lower: bool,
): void {
  store<u32>(record, n);
  copyWord(record + 4, input, n, lower);
  store<u64>(record + 4 + <usize>n, bswap<u64>(1));
  const bucket = buckets + (<usize>slot << 3);
  store<u32>(bucket, h);
  store<u32>(bucket, ((<u32>page << pageShift) | (writeOffset >>> 2)) + 1, 4);
}

/** Copies a word from the input into a record (folded when `lower`). */
// @ts-ignore: decorator
@inline export function copyWord(stored: usize, input: usize, n: u32, lower: bool): void {
  if (!lower) {
    memory.copy(stored, input, <usize>n);
    return;
  }
  let i: usize = 0;
  const n8 = <usize>(n & ~7);
  while (i < n8) {
    store<u64>(stored + i, fold64(load<u64>(input + i)));
    i += 8;
  }
  while (i < <usize>n) {
    store<u8>(stored + i, <u8>fold8(<u32>load<u8>(input + i)));
    i += 1;
  }
}

// Adds the entries of another count table to this one: the count Worker's table, read in
// place, at the end of a two-thread count (src/count/word_counter.ts, addForeignTable). Both
// tables have the layout of count_common.ts and the same hash of the same folded bytes, so
// the foreign bucket's hash is probed as it is (no key is hashed again) and a word is copied
// only when it is new here.
//
// State: the count table's block (count.ts, CountState), with words 0 and 1 a range of the
// foreign bucket array's indices instead of the input: [next bucket, bucket count). Word 14
// (tokens) grows by the counts added, wrapping: the kernel stops before one call adds 2^32.

import { DONE, NEED_BUCKETS, NEED_PAGE, sameWord } from "./count_common";

/** An entry the kernel leaves to the caller: its count is 2^32 or more, or the sum passes 2^53 - 1. */
export const ADD_SLOW: u32 = 4;
/** The counts added in this call would reach 2^32: call again from the position. */
export const ADD_AGAIN: u32 = 5;

const COUNT_EXACT_MAX: u64 = 0x1f_ffff_ffff_ffff; // 2^53 - 1

/**
 * Adds the foreign entries of buckets [pos, end) (state words 0, 1) to the table of `state`.
 * Returns DONE, NEED_BUCKETS, NEED_PAGE, {@link ADD_SLOW} or {@link ADD_AGAIN}; pos is the
 * bucket it stopped at (not added).
 */
export function countAddTable(
  state: usize,
  foreignBuckets: usize,
  foreignPageTable: usize,
  foreignPageShift: u32,
): u32 {
  let pos = load<u32>(state);
  const end = load<u32>(state, 4);
  const buckets = <usize>load<u32>(state, 16);
  const mask = load<u32>(state, 20);
  let entries = load<u32>(state, 24);
  const limit = load<u32>(state, 28);
  const pageTable = <usize>load<u32>(state, 32);
  const pageCount = load<i32>(state, 36);
  let page = load<i32>(state, 40);
  let writeOffset = load<u32>(state, 44);
  const segmentBytes = load<u32>(state, 48);
  const pageShift = load<u32>(state, 52);
  const pageMask: u32 = (1 << pageShift) - 1;
  const foreignPageMask: u32 = (1 << foreignPageShift) - 1;
  const tokensBefore = load<u32>(state, 56);
  let added: u64 = 0;
  let pageBase: usize = page >= 0 ? <usize>load<u32>(pageTable + (<usize>page << 2)) : 0;
  let status = DONE;
  for (; pos < end; pos += 1) {
    const from = foreignBuckets + (<usize>pos << 3);
    const foreignPointer = load<u32>(from, 4);
    if (foreignPointer == 0) continue;
    const h = load<u32>(from);
    const foreignAddress = foreignPointer - 1;
    const foreign = <usize>load<u32>(
      foreignPageTable + (<usize>(foreignAddress >>> foreignPageShift) << 2),
    ) + (<usize>(foreignAddress & foreignPageMask) << 2);
    const n = load<u32>(foreign);
    const count = bswap<u64>(load<u64>(foreign + 4 + <usize>n));
    if (count >= 0x1_0000_0000) {
      status = ADD_SLOW;
      break;
    }
    if (added + count >= 0x1_0000_0000) {
      status = ADD_AGAIN;
      break;
    }
    // Probe (the foreign word is followed by its 8-byte count: 8-byte loads may pass its end).
    let slot = h & mask;
    let bucket = buckets + (<usize>slot << 3);
    let pointer = load<u32>(bucket, 4);
    let found = false;
    while (pointer != 0) {
      if (load<u32>(bucket) == h) {
        const address = pointer - 1;
        const record = <usize>load<u32>(pageTable + (<usize>(address >>> pageShift) << 2)) +
          (<usize>(address & pageMask) << 2);
        if (load<u32>(record) == n && sameWord(record + 4, foreign + 4, n, foreign + 12 + <usize>n, false)) {
          const countAt = record + 4 + <usize>n;
          const sum = bswap<u64>(load<u64>(countAt)) + count;
          if (sum > COUNT_EXACT_MAX) {
            status = ADD_SLOW;
            break;
          }
          store<u64>(countAt, bswap<u64>(sum));
          found = true;
          break;
        }
      }
      slot = (slot + 1) & mask;
      bucket = buckets + (<usize>slot << 3);
      pointer = load<u32>(bucket, 4);
    }
    if (status != DONE) break;
    if (!found) {
      if (entries + 1 > limit) {
        status = NEED_BUCKETS;
        break;
      }
      const recordBytes = (4 + n + 8 + 3) & ~3;
      if (page < 0 || writeOffset + recordBytes > segmentBytes) {
        if (page + 1 >= pageCount) {
          status = NEED_PAGE;
          break;
        }
        page += 1;
        pageBase = <usize>load<u32>(pageTable + (<usize>page << 2));
        writeOffset = 0;
      }
      const record = pageBase + <usize>writeOffset;
      // The word and its count, as they are: the foreign record's tail.
      store<u32>(record, n);
      memory.copy(record + 4, foreign + 4, <usize>n + 8);
      store<u32>(bucket, h);
      store<u32>(bucket, ((<u32>page << pageShift) | (writeOffset >>> 2)) + 1, 4);
      writeOffset += recordBytes;
      entries += 1;
    }
    added += count;
  }
  store<u32>(state, pos);
  store<u32>(state, entries, 24);
  store<i32>(state, page, 40);
  store<u32>(state, writeOffset, 44);
  store<u32>(state, tokensBefore + <u32>added, 56);
  return status;
}

// Tokenize + count: splits text into tokens (`letters`: [A-Za-z]+; `whitespace`: runs of bytes
// other than space and \t \n \v \f \r), folds ASCII upper case when asked, hashes each token
// with MurmurHash3 x86_32 and counts it in the table layout of src/count/count_table.ts (drawn
// in count_common.ts, which holds what this loop shares with countScan: byte classes, hash
// steps, the probe and the record insert). Count v1: each token is copied (folded) into the
// scratch first; countScan, the loop `spillway count` runs, copies only new words.
//
// State (u32 words at `state`, see docs/kernels.md):
//   0 pos   1 end   2 kind (0 letters, 1 whitespace)   3 lower   4 buckets   5 bucket mask
//   6 entry count   7 entry limit   8 page table   9 pages in the table   10 current page (-1)
//   11 write offset in it   12 segment bytes   13 page shift   14 tokens counted
//   15 scratch (at least segment bytes)   16 word bytes max

import {
  COUNTED,
  DONE,
  finishHash,
  insertRecord,
  isLetter,
  isSpace,
  mixBlock,
  mixK,
  NEED_BUCKETS,
  NEED_PAGE,
  probeCount,
  TOO_LONG,
} from "./count_common";

/** Counts the tokens of [pos, end); returns 0 done, else why it stopped (pos: that token). */
export function countTokens(state: usize): u32 {
  // Two copies of the loop, each with its token rule folded in at compile time.
  return load<u32>(state, 8) == 1 ? countWhitespace(state) : countLetters(state);
}

function countWhitespace(state: usize): u32 {
  return countWith(state, true);
}

function countLetters(state: usize): u32 {
  return countWith(state, false);
}

// @ts-ignore: decorator
@inline function countWith(state: usize, whitespace: bool): u32 {
  let pos = <usize>load<u32>(state);
  const end = <usize>load<u32>(state, 4);
  const lower = load<u32>(state, 12) != 0;
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
  let tokens = load<u32>(state, 56);
  const scratch = <usize>load<u32>(state, 60);
  const wordBytesMax = load<u32>(state, 64);
  let pageBase: usize = page >= 0 ? <usize>load<u32>(pageTable + (<usize>page << 2)) : 0;
  let status = DONE;
  while (pos < end) {
    let byte = <u32>load<u8>(pos);
    if (whitespace ? isSpace(byte) : !isLetter(byte)) {
      pos += 1;
      continue;
    }
    // One pass per token: copy (folded) into the scratch and hash 4 bytes at a time.
    const start = pos;
    let h: u32 = 0;
    let k: u32 = 0;
    let shift: u32 = 0;
    let out = scratch;
    const scratchEnd = scratch + <usize>wordBytesMax;
    for (;;) {
      if (lower && (byte - 0x41) < 26) byte |= 0x20;
      if (out < scratchEnd) {
        store<u8>(out, <u8>byte);
        out += 1;
      }
      k |= byte << shift;
      shift += 8;
      if (shift == 32) {
        h = mixBlock(h, k);
        k = 0;
        shift = 0;
      }
      pos += 1;
      if (pos == end) break;
      byte = <u32>load<u8>(pos);
      if (whitespace ? isSpace(byte) : !isLetter(byte)) break;
    }
    const length = <u32>(pos - start);
    if (shift != 0) h ^= mixK(k);
    h = finishHash(h, length);
    if (length > wordBytesMax) {
      pos = start;
      status = TOO_LONG;
      break;
    }
    // Probe (a repeated word is counted there).
    const slot = probeCount(
      buckets, mask, pageTable, pageShift, pageMask, h, scratch, length, scratchEnd, false,
    );
    if (slot == COUNTED) {
      tokens += 1;
      continue;
    }
    // Insert: a bucket, then room in the record area.
    if (entries + 1 > limit) {
      pos = start;
      status = NEED_BUCKETS;
      break;
    }
    const recordBytes = (4 + length + 8 + 3) & ~3;
    if (page < 0 || writeOffset + recordBytes > segmentBytes) {
      if (page + 1 >= pageCount) {
        pos = start;
        status = NEED_PAGE;
        break;
      }
      page += 1;
      pageBase = <usize>load<u32>(pageTable + (<usize>page << 2));
      writeOffset = 0;
    }
    const record = pageBase + <usize>writeOffset;
    insertRecord(buckets, slot, h, record, page, pageShift, writeOffset, scratch, length, false);
    writeOffset += recordBytes;
    entries += 1;
    tokens += 1;
  }
  store<u32>(state, <u32>pos);
  store<u32>(state, entries, 24);
  store<i32>(state, page, 40);
  store<u32>(state, writeOffset, 44);
  store<u32>(state, tokens, 56);
  return status;
}

/**
 * Re-inserts the (hash, pointer) pairs of `oldBucketCount` buckets into the zeroed bucket
 * array at `buckets` (mask + 1 buckets): the table's growth, without reading any key.
 */
export function countRehash(oldBuckets: usize, oldBucketCount: u32, buckets: usize, mask: u32): void {
  for (let i: u32 = 0; i < oldBucketCount; i += 1) {
    const from = oldBuckets + (<usize>i << 3);
    const pointer = load<u32>(from, 4);
    if (pointer == 0) continue;
    const hash = load<u32>(from);
    let slot = hash & mask;
    while (load<u32>(buckets + (<usize>slot << 3), 4) != 0) slot = (slot + 1) & mask;
    store<u32>(buckets + (<usize>slot << 3), hash);
    store<u32>(buckets + (<usize>slot << 3), pointer, 4);
  }
}

// Tokenize + count, second version (count v2's hot loop): the table layout and state block of
// count.ts (CountState), with kind 2 (`line`: each line without its \n, empty lines too) and
// a loop that never copies a token before it knows the token is new:
//
//   1. find the token's end (byte classes inline, no table);
//   2. hash it (MurmurHash3 x86_32, 4-byte blocks read straight from the input, ASCII
//      upper case folded in a register when `lower`);
//   3. probe; compare the record with the input 8 bytes at a time (folding the input the same
//      way), so a repeated word costs no copy;
//   4. insert: copy (folding) into the record page.
//
// `whitespace` and `letters` words of at most 15 bytes (most words of most text) take a short
// path: one or two 8-byte loads find the end (SWAR), and the same registers, folded and
// masked, are hashed (the same MurmurHash3 value) and compared with the record.
//
// PENDING: in the one-token loop a short `whitespace` or `letters` word is probed one token
// late. When it is found, its hash is taken and its first bucket read, and the word before it
// (the pending one) is probed; this one becomes pending. So the bucket's cache miss overlaps
// the work of finding the next token (on 100 MiB of Zipf words, whose 50K words outgrow the L2
// cache, 0.93-0.97x the time of probing at once). The table changes in input order all the
// same: a pending word that is new is inserted at once and the scan goes on from the token
// after it (found again), and a long word or the range's end probes the pending one first.
//
// The counts are the JS path's byte for byte: the same folded bytes, the same hash, the same
// record and bucket layout (src/count/count_table.ts), so JS and kernel can share one table.
//
// `words` (kind 3) and `flink` (kind 4) find the token's end the same way over UTF-8 (the
// Unicode tables are data in the managed memory, given by the state); a token that lower case
// changes beyond ASCII (`words`) or that holds U+212A / U+0130 (`flink`) is lowered into the
// scratch first and counted from there (folding it again is a no-op).
//
// State: see count.ts, plus (u32 words) 15 scratch (`words`, `flink`: at least word bytes max
// + 8)   17 invalid UTF-8 bytes seen (`words`)   18 word ranges (i32 [start, end] pairs)
// 19 their count   20 lower-case ranges (i32 [start, end, delta, stride])   21 their count.
// Word 2 kind: 0 letters, 1 whitespace, 2 line, 3 words, 4 flink.

import {
  COUNTED,
  DONE,
  finishHash,
  fold32,
  fold64,
  fold8,
  insertRecord,
  isLetter,
  isSpace,
  mixBlock,
  mixK,
  NEED_BUCKETS,
  NEED_PAGE,
  probeCount,
  probeShort,
  probeShortFrom,
  TOO_LONG,
} from "./count_common";

const KIND_WHITESPACE: u32 = 1;
const KIND_LINE: u32 = 2;
const KIND_WORDS: u32 = 3;
const KIND_FLINK: u32 = 4;

/** U+0130 (lower case: "i" + U+0307) and the UTF-8 of U+0307. */
const DOTTED_CAPITAL_I: u32 = 0x130;
const COMBINING_DOT_ABOVE_UTF8: u32 = 0x87cc;

/** Counts the tokens of [pos, end); returns 0 done, else why it stopped (pos: that token). */
export function countScan(state: usize): u32 {
  // One copy of the loop per rule and case mode, each folded in at compile time.
  const kind = load<u32>(state, 8);
  const lower = load<u32>(state, 12) != 0;
  // `whitespace` and `letters` count in batches once the bucket array outgrows the caches
  // (see scanBatched): a table that big is one a high-cardinality input built.
  const batched = load<u32>(state, 20) >= BATCH_BUCKETS_MIN - 1;
  if (kind == KIND_WHITESPACE) {
    if (batched) return lower ? scanWhitespaceLowerBatched(state) : scanWhitespaceBatched(state);
    return lower ? scanWhitespaceLower(state) : scanWhitespace(state);
  }
  if (kind == KIND_LINE) return lower ? scanLineLower(state) : scanLine(state);
  if (kind == KIND_WORDS) return lower ? scanWordsLower(state) : scanWords(state);
  if (kind == KIND_FLINK) return scanFlink(state); // Flink always lowers
  if (batched) return lower ? scanLettersLowerBatched(state) : scanLettersBatched(state);
  return lower ? scanLettersLower(state) : scanLetters(state);
}

// The copies are exported (index.ts) only so that Binaryen keeps them as functions of their
// own instead of inlining all of them into countScan: the engine compiles a function on its
// first call, so a count compiles the one copy it runs (~1/9 of the work, tens of ms at start).

export function scanFlink(state: usize): u32 {
  return scanWith(state, KIND_FLINK, true);
}

export function scanWhitespace(state: usize): u32 {
  return scanWith(state, KIND_WHITESPACE, false);
}

export function scanWhitespaceBatched(state: usize): u32 {
  return scanBatched(state, KIND_WHITESPACE, false);
}

export function scanWhitespaceLower(state: usize): u32 {
  return scanWith(state, KIND_WHITESPACE, true);
}

export function scanWhitespaceLowerBatched(state: usize): u32 {
  return scanBatched(state, KIND_WHITESPACE, true);
}

export function scanLine(state: usize): u32 {
  return scanWith(state, KIND_LINE, false);
}

export function scanLineLower(state: usize): u32 {
  return scanWith(state, KIND_LINE, true);
}

export function scanWords(state: usize): u32 {
  return scanWith(state, KIND_WORDS, false);
}

export function scanWordsLower(state: usize): u32 {
  return scanWith(state, KIND_WORDS, true);
}

export function scanLetters(state: usize): u32 {
  return scanWith(state, 0, false);
}

export function scanLettersBatched(state: usize): u32 {
  return scanBatched(state, 0, false);
}

export function scanLettersLower(state: usize): u32 {
  return scanWith(state, 0, true);
}

export function scanLettersLowerBatched(state: usize): u32 {
  return scanBatched(state, 0, true);
}

/** The first whitespace byte at or after `pos` (or `end`). */
// @ts-ignore: decorator
@inline function spaceAt(pos: usize, end: usize): usize {
  // 8 bytes at a time: the lowest lane below 0x21 is found exactly (SWAR "has less than");
  // it is whitespace, or a control byte to step over.
  while (pos + 8 <= end) {
    const x = load<u64>(pos);
    const below = (x - 0x2121212121212121) & ~x & 0x8080808080808080;
    if (below == 0) {
      pos += 8;
      continue;
    }
    pos += <usize>(ctz<u64>(below) >>> 3);
    if (isSpace(<u32>load<u8>(pos))) return pos;
    pos += 1;
  }
  while (pos < end && !isSpace(<u32>load<u8>(pos))) pos += 1;
  return pos;
}

/**
 * Where the `whitespace` or `letters` token that covers the 8 bytes `x` (its first byte a
 * token byte) ends in them: 8 x the lane of the byte that ends it, 64 when all 8 belong to
 * it, or 128 when the SWAR test cannot tell (a control byte: the byte-wise path decides).
 */
// @ts-ignore: decorator
@inline function endShift(x: u64, kind: u32): u64 {
  if (kind == KIND_WHITESPACE) {
    // The lowest lane below 0x21 is exact (SWAR "less than"); it may be a control byte.
    const below = (x - 0x2121212121212121) & ~x & 0x8080808080808080;
    const shift = ctz<u64>(below) & ~7;
    if (shift == 64 || isSpace(<u32>(x >>> shift) & 0xff)) return shift;
    return 128;
  }
  // Letter lanes, exactly: (byte | 0x20) & 0x7f in 'a'..'z' and the high bit clear.
  const y = x | 0x2020202020202020;
  const t = y & 0x7f7f7f7f7f7f7f7f;
  const atLeastA = t + 0x1f1f1f1f1f1f1f1f; // lane high bit: t >= 0x61
  const aboveZ = t + 0x0505050505050505; // lane high bit: t >= 0x7b
  const letter = atLeastA & ~aboveZ & ~y & 0x8080808080808080;
  return ctz<u64>(~letter & 0x8080808080808080) & ~7;
}

/**
 * MurmurHash3 x86_32 of the `n` (< 16) bytes held in `w0` then `w1` (zero past the end): the
 * value the byte-wise path computes. Without branches on the length (it varies from token to
 * token, so they were mispredicted): each block step is computed and kept by a select, and the
 * tail's step always runs, since the tail block past the end is zero and mixK(0) is 0.
 */
// @ts-ignore: decorator
@inline function shortHash(w0: u64, w1: u64, n: u32): u32 {
  const blocks = n >>> 2;
  const k0 = <u32>w0;
  const k1 = <u32>(w0 >>> 32);
  const k2 = <u32>w1;
  const h1 = mixBlock(0, k0);
  let h = select<u32>(h1, 0, blocks >= 1);
  const h2 = mixBlock(h, k1);
  h = select<u32>(h2, h, blocks >= 2);
  const h3 = mixBlock(h, k2);
  h = select<u32>(h3, h, blocks >= 3);
  const kt = <u32>(select<u64>(w1, w0, blocks >= 2) >>> (<u64>(blocks & 1) << 5));
  h ^= mixK(kt);
  return finishHash(h, n);
}

/** The end of the line starting at `pos` (the \n's position, or `end`). */
// @ts-ignore: decorator
@inline function lineEnd(pos: usize, end: usize): usize {
  // 8 bytes at a time while a whole word fits: a lane equal to \n has a zero after the xor.
  while (pos + 8 <= end) {
    const x = load<u64>(pos) ^ 0x0a0a0a0a0a0a0a0a;
    const zero = (x - 0x0101010101010101) & ~x & 0x8080808080808080;
    if (zero != 0) return pos + <usize>(ctz<u64>(zero) >>> 3);
    pos += 8;
  }
  while (pos < end && load<u8>(pos) != 0x0a) pos += 1;
  return pos;
}

// @ts-ignore: decorator
@inline function scanWith(state: usize, kind: u32, lower: bool): u32 {
  let pos = <usize>load<u32>(state);
  const end = <usize>load<u32>(state, 4);
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
  const wordBytesMax = load<u32>(state, 64);
  const scratch = <usize>load<u32>(state, 60);
  let invalid = load<u32>(state, 68);
  const wordRanges = <usize>load<u32>(state, 72);
  const wordRangeCount = load<u32>(state, 76);
  const lowerRanges = <usize>load<u32>(state, 80);
  const lowerRangeCount = load<u32>(state, 84);
  let pageBase: usize = page >= 0 ? <usize>load<u32>(pageTable + (<usize>page << 2)) : 0;
  let status = DONE;
  // `whitespace` and `letters`: a short word is probed one token late (PENDING, at the top).
  let pending = false;
  let pendingStart: usize = 0;
  let pendingW0: u64 = 0;
  let pendingW1: u64 = 0;
  let pendingLength: u32 = 0;
  let pendingHash: u32 = 0;
  let pendingPointer: u32 = 0; // its first bucket's pointer, read when it was found
  while (pos < end || pending) {
    // 1. The token [start, stop), and where its (folded) bytes are: `src`, `length`.
    const start = pos;
    let tokenStart = start; // where to start again when this token cannot be counted now
    let h: u32 = 0;
    let slot: u32 = 0;
    let short = false; // the short-word path hashed and probed it already
    let stop: usize;
    let src = start;
    let srcLimit = end; // src may be read up to here (8-byte loads past the token)
    if (kind == KIND_LINE) {
      stop = lineEnd(pos, end);
      pos = stop < end ? stop + 1 : end;
    } else if (kind == KIND_WORDS) {
      const byte = <u32>load<u8>(pos);
      let wide = false;
      if (byte < 0x80) {
        if (!isWordByte(byte)) {
          pos += 1;
          continue;
        }
        stop = pos + 1;
      } else {
        const n = utf8Length(pos, end);
        if (n == 0) {
          invalid += 1;
          pos += 1;
          continue;
        }
        if (!inRanges(wordRanges, wordRangeCount, decode(pos, n))) {
          pos += <usize>n;
          continue;
        }
        stop = pos + <usize>n;
        wide = true;
      }
      while (stop < end) {
        const b = <u32>load<u8>(stop);
        if (b < 0x80) {
          if (!isWordByte(b)) break;
          stop += 1;
          continue;
        }
        const n = utf8Length(stop, end);
        if (n == 0 || !inRanges(wordRanges, wordRangeCount, decode(stop, n))) break;
        stop += <usize>n;
        wide = true;
      }
      pos = stop;
      if (lower && wide) {
        const lowered = lowerWords(
          scratch, start, stop, wordBytesMax, lowerRanges, lowerRangeCount,
        );
        if (lowered > wordBytesMax) {
          pos = start;
          status = TOO_LONG;
          break;
        }
        src = scratch;
        srcLimit = scratch + <usize>segmentBytes;
        stop = scratch + <usize>lowered;
      }
    } else if (kind == KIND_FLINK) {
      if (!isWordByte(<u32>load<u8>(pos)) && !isFlinkSpecial(pos, end)) {
        pos += 1;
        continue;
      }
      stop = pos;
      let special = false;
      while (stop < end) {
        const b = <u32>load<u8>(stop);
        if (isWordByte(b)) {
          stop += 1;
          continue;
        }
        if (!isFlinkSpecial(stop, end)) break;
        special = true;
        if (b == 0xc4) {
          stop += 2; // "i" + U+0307: the combining dot ends the token
          break;
        }
        stop += 3;
      }
      pos = stop;
      if (special) {
        const lowered = lowerFlink(scratch, start, stop, wordBytesMax);
        if (lowered > wordBytesMax) {
          pos = start;
          status = TOO_LONG;
          break;
        }
        src = scratch;
        srcLimit = scratch + <usize>segmentBytes;
        stop = scratch + <usize>lowered;
      }
    } else {
      // The pending short word is inserted this turn (it is new): `resolve`.
      let resolve = false;
      if (pos >= end) {
        resolve = true; // the pending word is the range's last: probe it now
      } else {
        const byte = <u32>load<u8>(pos);
        if (kind == KIND_WHITESPACE ? isSpace(byte) : !isLetter(byte)) {
          pos += 1;
          continue;
        }
      }
      stop = pos + 1;
      if (!resolve && pos + 8 <= end) {
        // A word of at most 15 bytes (most words) ends inside the 16 bytes at `pos`: its end,
        // hash and compare all come from one or two 8-byte loads.
        const x0 = load<u64>(pos);
        const shift0 = endShift(x0, kind);
        let n: u32 = 16; // 16: not a short word
        let w0: u64 = 0;
        let w1: u64 = 0;
        if (shift0 < 64) {
          n = <u32>(shift0 >>> 3);
          w0 = (lower ? fold64(x0) : x0) & ((<u64>1 << shift0) - 1);
        } else if (shift0 == 64 && pos + 16 <= end) {
          const x1 = load<u64>(pos, 8);
          const shift1 = endShift(x1, kind);
          if (shift1 < 64) {
            n = 8 + <u32>(shift1 >>> 3);
            w0 = lower ? fold64(x0) : x0;
            w1 = (lower ? fold64(x1) : x1) & ((<u64>1 << shift1) - 1);
          }
        }
        if (n < 16) {
          h = shortHash(w0, w1, n);
          // Its bucket is read now and the word probed next turn, so that the cache miss of
          // its bucket overlaps the work of a token; the pending word is probed now.
          const pointer = load<u32>(buckets + (<usize>(h & mask) << 3), 4);
          if (pending) {
            slot = probeShortFrom(
              pendingPointer, buckets, mask, pageTable, pageShift, pageMask,
              pendingHash, pendingW0, pendingW1, pendingLength,
            );
            if (slot == COUNTED) {
              tokens += 1;
            } else {
              resolve = true; // insert the pending word; this one is found again next turn
            }
          }
          if (!resolve) {
            pending = true;
            pendingStart = pos;
            pendingW0 = w0;
            pendingW1 = w1;
            pendingLength = n;
            pendingHash = h;
            pendingPointer = pointer;
            pos += <usize>n + 1; // the byte at its end is a delimiter, within the bytes loaded
            continue;
          }
        }
      }
      if (pending && !resolve) {
        // A long word (or the range's last bytes) after a pending one: the pending one first.
        slot = probeShortFrom(
          pendingPointer, buckets, mask, pageTable, pageShift, pageMask,
          pendingHash, pendingW0, pendingW1, pendingLength,
        );
        if (slot == COUNTED) {
          tokens += 1;
          pending = false;
        } else {
          resolve = true;
        }
      } else if (pending) {
        if (pos >= end) {
          slot = probeShortFrom(
            pendingPointer, buckets, mask, pageTable, pageShift, pageMask,
            pendingHash, pendingW0, pendingW1, pendingLength,
          );
          if (slot == COUNTED) {
            tokens += 1;
            pending = false;
            continue;
          }
        }
      }
      if (resolve) {
        // Insert the pending word (probed above: `slot`); the scan goes on at `pos`.
        pending = false;
        tokenStart = pendingStart;
        src = pendingStart;
        stop = pendingStart + <usize>pendingLength;
        h = pendingHash;
        short = true;
      } else {
        if (kind == KIND_WHITESPACE) {
          stop = spaceAt(stop, end);
        } else {
          while (stop < end && isLetter(<u32>load<u8>(stop))) stop += 1;
        }
        pos = stop;
      }
    }
    const length = <u32>(stop - src);
    if (length > wordBytesMax) {
      pos = tokenStart;
      status = TOO_LONG;
      break;
    }
    if (!short) {
      // 2. Hash the (folded) bytes.
      h = 0;
      const blockEnd = src + <usize>(length & ~3);
      let at = src;
      while (at < blockEnd) {
        let k = load<u32>(at);
        if (lower) k = fold32(k);
        h = mixBlock(h, k);
        at += 4;
      }
      const tail = length & 3;
      if (tail != 0) {
        let k = <u32>load<u8>(at);
        if (tail >= 2) k |= <u32>load<u8>(at + 1) << 8;
        if (tail == 3) k |= <u32>load<u8>(at + 2) << 16;
        if (lower) k = fold32(k);
        h ^= mixK(k);
      }
      h = finishHash(h, length);
      // 3. Probe (a repeated word is counted there).
      slot = probeCount(
        buckets, mask, pageTable, pageShift, pageMask, h, src, length, srcLimit, lower,
      );
      if (slot == COUNTED) {
        tokens += 1;
        continue;
      }
    }
    // 4. Insert: a bucket, then room in the record area.
    if (entries + 1 > limit) {
      pos = tokenStart;
      status = NEED_BUCKETS;
      break;
    }
    const recordBytes = (4 + length + 8 + 3) & ~3;
    if (page < 0 || writeOffset + recordBytes > segmentBytes) {
      if (page + 1 >= pageCount) {
        pos = tokenStart;
        status = NEED_PAGE;
        break;
      }
      page += 1;
      pageBase = <usize>load<u32>(pageTable + (<usize>page << 2));
      writeOffset = 0;
    }
    const record = pageBase + <usize>writeOffset;
    insertRecord(buckets, slot, h, record, page, pageShift, writeOffset, src, length, lower);
    writeOffset += recordBytes;
    entries += 1;
    tokens += 1;
  }
  store<u32>(state, <u32>pos);
  store<u32>(state, entries, 24);
  store<i32>(state, page, 40);
  store<u32>(state, writeOffset, 44);
  store<u32>(state, tokens, 56);
  store<u32>(state, invalid, 68);
  return status;
}

/** Whether a byte is an ASCII word byte of `words` and `flink`: [A-Za-z0-9_]. */
// @ts-ignore: decorator
@inline function isWordByte(byte: u32): bool {
  return ((byte | 0x20) - 0x61) < 26 || (byte - 0x30) < 10 || byte == 0x5f;
}

/**
 * Length of the valid 2- to 4-byte UTF-8 sequence at `at`, or 0 (a stray or invalid byte, an
 * overlong form, a surrogate, beyond U+10FFFF, or cut short by `end`).
 */
function utf8Length(at: usize, end: usize): u32 {
  const b0 = <u32>load<u8>(at);
  if (b0 < 0xc2 || b0 > 0xf4 || at + 1 >= end) return 0;
  const b1 = <u32>load<u8>(at, 1);
  if (b0 < 0xe0) return (b1 & 0xc0) == 0x80 ? 2 : 0;
  if (at + 2 >= end || (<u32>load<u8>(at, 2) & 0xc0) != 0x80) return 0;
  if (b0 < 0xf0) {
    const ok = b0 == 0xe0
      ? b1 >= 0xa0 && b1 <= 0xbf
      : b0 == 0xed
      ? b1 >= 0x80 && b1 <= 0x9f
      : (b1 & 0xc0) == 0x80;
    return ok ? 3 : 0;
  }
  if (at + 3 >= end || (<u32>load<u8>(at, 3) & 0xc0) != 0x80) return 0;
  const ok = b0 == 0xf0
    ? b1 >= 0x90 && b1 <= 0xbf
    : b0 == 0xf4
    ? b1 >= 0x80 && b1 <= 0x8f
    : (b1 & 0xc0) == 0x80;
  return ok ? 4 : 0;
}

/** The code point of the valid `n`-byte sequence at `at`. */
// @ts-ignore: decorator
@inline function decode(at: usize, n: u32): u32 {
  const b0 = <u32>load<u8>(at);
  const b1 = <u32>load<u8>(at, 1) & 0x3f;
  if (n == 2) return ((b0 & 0x1f) << 6) | b1;
  const b2 = <u32>load<u8>(at, 2) & 0x3f;
  if (n == 3) return ((b0 & 0x0f) << 12) | (b1 << 6) | b2;
  return ((b0 & 0x07) << 18) | (b1 << 12) | (b2 << 6) | (<u32>load<u8>(at, 3) & 0x3f);
}

/** Whether `cp` lies in one of the sorted, disjoint inclusive [start, end] i32 pairs. */
function inRanges(ranges: usize, count: u32, cp: u32): bool {
  let low: i32 = 0;
  let high = <i32>count - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const at = ranges + (<usize>middle << 3);
    if (cp < load<u32>(at)) high = middle - 1;
    else if (cp > load<u32>(at, 4)) low = middle + 1;
    else return true;
  }
  return false;
}

/** The one-code-point lower case of `cp` from the [start, end, delta, stride] ranges. */
function lowerCodePoint(ranges: usize, count: u32, cp: u32): u32 {
  let low: i32 = 0;
  let high = <i32>count - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const at = ranges + (<usize>middle << 4);
    const first = load<u32>(at);
    if (cp < first) high = middle - 1;
    else if (cp > load<u32>(at, 4)) low = middle + 1;
    else return (cp - first) % load<u32>(at, 12) == 0 ? cp + load<u32>(at, 8) : cp;
  }
  return cp;
}

/** Writes `cp` as UTF-8 at `out`; returns the bytes written. */
// @ts-ignore: decorator
@inline function encode(out: usize, cp: u32): u32 {
  if (cp < 0x80) {
    store<u8>(out, <u8>cp);
    return 1;
  }
  if (cp < 0x800) {
    store<u8>(out, <u8>(0xc0 | (cp >>> 6)));
    store<u8>(out, <u8>(0x80 | (cp & 0x3f)), 1);
    return 2;
  }
  if (cp < 0x10000) {
    store<u8>(out, <u8>(0xe0 | (cp >>> 12)));
    store<u8>(out, <u8>(0x80 | ((cp >>> 6) & 0x3f)), 1);
    store<u8>(out, <u8>(0x80 | (cp & 0x3f)), 2);
    return 3;
  }
  store<u8>(out, <u8>(0xf0 | (cp >>> 18)));
  store<u8>(out, <u8>(0x80 | ((cp >>> 12) & 0x3f)), 1);
  store<u8>(out, <u8>(0x80 | ((cp >>> 6) & 0x3f)), 2);
  store<u8>(out, <u8>(0x80 | (cp & 0x3f)), 3);
  return 4;
}

/**
 * Lower-cases the valid UTF-8 word [start, stop) into `out`, code point by code point (U+0130
 * becomes "i" + U+0307); returns its length, or a length above `bytesMax` as soon as it passes
 * it (then at most `bytesMax` + 4 bytes were written).
 */
function lowerWords(
  out: usize,
  start: usize,
  stop: usize,
  bytesMax: u32,
  ranges: usize,
  count: u32,
): u32 {
  let length: u32 = 0;
  let at = start;
  while (at < stop && length <= bytesMax) {
    const byte = <u32>load<u8>(at);
    if (byte < 0x80) {
      store<u8>(out + <usize>length, <u8>fold8(byte));
      length += 1;
      at += 1;
      continue;
    }
    const n = utf8Length(at, stop);
    const cp = decode(at, n);
    at += <usize>n;
    if (cp == DOTTED_CAPITAL_I) {
      store<u8>(out + <usize>length, 0x69);
      store<u16>(out + <usize>length + 1, <u16>COMBINING_DOT_ABOVE_UTF8);
      length += 3;
    } else {
      length += encode(out + <usize>length, lowerCodePoint(ranges, count, cp));
    }
  }
  return length;
}

/** Whether U+212A (E2 84 AA) or U+0130 (C4 B0), whose Java lower case is ASCII, is at `at`. */
// @ts-ignore: decorator
@inline function isFlinkSpecial(at: usize, end: usize): bool {
  const byte = <u32>load<u8>(at);
  if (byte == 0xe2) return at + 2 < end && load<u8>(at, 1) == 0x84 && load<u8>(at, 2) == 0xaa;
  if (byte == 0xc4) return at + 1 < end && load<u8>(at, 1) == 0xb0;
  return false;
}

/**
 * Lower-cases a `flink` token holding U+212A or U+0130 into `out` (`k`, `i`, ASCII folded);
 * returns its length, or a length above `bytesMax` as soon as it passes it.
 */
function lowerFlink(out: usize, start: usize, stop: usize, bytesMax: u32): u32 {
  let length: u32 = 0;
  let at = start;
  while (at < stop && length <= bytesMax) {
    const byte = <u32>load<u8>(at);
    if (byte == 0xe2) {
      store<u8>(out + <usize>length, 0x6b);
      at += 3;
    } else if (byte == 0xc4) {
      store<u8>(out + <usize>length, 0x69);
      at += 2;
    } else {
      store<u8>(out + <usize>length, <u8>fold8(byte));
      at += 1;
    }
    length += 1;
  }
  return length;
}

// `whitespace` and `letters` on a large table count in batches:
//
//   A.  find up to BATCH_MAX tokens and hash them (no table access)   -> [start, length, hash]
//   A2. read each one's bucket       (a loop of a few instructions a token: the processor has
//   A3. read the record of each      the whole batch's cache misses in flight at once, where
//       bucket whose hash matches    the one-token loop waits for one or two per token)
//   B.  probe and insert, in input order (the buckets and records are in the cache now)
//
// The table ends exactly as the one-token loop leaves it (the same inserts in the same order),
// so the two loops may take turns on one table. Measured with the kernels alone (CPU time,
// alternating, medians): on nearly unique tokens the batches took 0.64x the one-token loop's
// time; on Zipf words and the KJV, whose tables fit the caches, 1.15-1.2x, hence the switch on
// the bucket count (BATCH_BUCKETS_MIN, 2 MiB of buckets).
//
// Batch entries in the scratch (12 bytes each): [start, length, hash]; after them one u32,
// the sum of the words A2 and A3 read (stored, so that no compiler drops the reads).

/** Bucket count from which countScan counts `whitespace` and `letters` in batches. */
const BATCH_BUCKETS_MIN: u32 = 1 << 18;

/** Most tokens of one batch. */
const BATCH_MAX: u32 = 32;
const BATCH_ENTRY: usize = 12;

/** Scratch bytes the batched loop needs at most. */
const BATCH_SCRATCH_BYTES: u32 = 512;

// @ts-ignore: decorator
@inline function scanBatched(state: usize, kind: u32, lower: bool): u32 {
  let pos = <usize>load<u32>(state);
  const end = <usize>load<u32>(state, 4);
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
  const batch = <usize>load<u32>(state, 60);
  const wordBytesMax = load<u32>(state, 64);
  const scratchBytes = segmentBytes < BATCH_SCRATCH_BYTES ? segmentBytes : BATCH_SCRATCH_BYTES;
  const fits = (scratchBytes - 4) / <u32>BATCH_ENTRY;
  const batchMax = fits < BATCH_MAX ? fits : BATCH_MAX;
  let pageBase: usize = page >= 0 ? <usize>load<u32>(pageTable + (<usize>page << 2)) : 0;
  let status = DONE;
  let touched: u32 = 0;
  while (pos < end && status == DONE) {
    // A. Up to batchMax tokens: where each starts, its length and hash.
    let count: u32 = 0;
    let tooLong = false;
    while (count < batchMax && pos < end) {
      const byte = <u32>load<u8>(pos);
      if (kind == KIND_WHITESPACE ? isSpace(byte) : !isLetter(byte)) {
        pos += 1;
        continue;
      }
      const start = pos;
      let h: u32 = 0;
      let n: u32 = 16; // 16: not a short word
      if (pos + 8 <= end) {
        const x0 = load<u64>(pos);
        const shift0 = endShift(x0, kind);
        let w0: u64 = 0;
        let w1: u64 = 0;
        if (shift0 < 64) {
          n = <u32>(shift0 >>> 3);
          w0 = (lower ? fold64(x0) : x0) & ((<u64>1 << shift0) - 1);
        } else if (shift0 == 64 && pos + 16 <= end) {
          const x1 = load<u64>(pos, 8);
          const shift1 = endShift(x1, kind);
          if (shift1 < 64) {
            n = 8 + <u32>(shift1 >>> 3);
            w0 = lower ? fold64(x0) : x0;
            w1 = (lower ? fold64(x1) : x1) & ((<u64>1 << shift1) - 1);
          }
        }
        if (n < 16) h = shortHash(w0, w1, n);
      }
      let length: u32;
      if (n < 16) {
        length = n;
        pos = start + <usize>n + 1; // past the delimiter found in the bytes loaded
      } else {
        let stop = start + 1;
        if (kind == KIND_WHITESPACE) {
          stop = spaceAt(stop, end);
        } else {
          while (stop < end && isLetter(<u32>load<u8>(stop))) stop += 1;
        }
        length = <u32>(stop - start);
        pos = stop;
      }
      if (length > wordBytesMax) {
        tooLong = true;
        pos = start;
        break;
      }
      if (n >= 16) h = longHash(start, length, lower);
      const e = batch + <usize>count * BATCH_ENTRY;
      store<u32>(e, <u32>start);
      store<u32>(e, length, 4);
      store<u32>(e, h, 8);
      count += 1;
    }
    // A2. Each token's bucket: a loop of a few instructions a token, so that the processor has
    // the whole batch's reads in flight at once.
    for (let i: u32 = 0; i < count; i += 1) {
      const h = load<u32>(batch + <usize>i * BATCH_ENTRY, 8);
      touched += load<u32>(buckets + (<usize>(h & mask) << 3), 4);
    }
    // A3. The record of each bucket whose hash matches (a repeated word's, most likely).
    for (let i: u32 = 0; i < count; i += 1) {
      const h = load<u32>(batch + <usize>i * BATCH_ENTRY, 8);
      const bucket = buckets + (<usize>(h & mask) << 3);
      const pointer = load<u32>(bucket, 4);
      if (pointer != 0 && load<u32>(bucket) == h) {
        const address = pointer - 1;
        touched += load<u32>(
          <usize>load<u32>(pageTable + (<usize>(address >>> pageShift) << 2)) +
            (<usize>(address & pageMask) << 2),
        );
      }
    }
    // B. Probe and insert, in input order.
    for (let i: u32 = 0; i < count; i += 1) {
      const e = batch + <usize>i * BATCH_ENTRY;
      const start = <usize>load<u32>(e);
      const length = load<u32>(e, 4);
      const h = load<u32>(e, 8);
      let slot: u32;
      if (length < 16 && start + 16 <= end) {
        let w0 = load<u64>(start);
        let w1 = load<u64>(start, 8);
        if (lower) {
          w0 = fold64(w0);
          w1 = fold64(w1);
        }
        if (length < 8) {
          w0 &= (<u64>1 << (<u64>length << 3)) - 1;
          w1 = 0;
        } else {
          w1 &= (<u64>1 << (<u64>(length - 8) << 3)) - 1;
        }
        slot = probeShort(buckets, mask, pageTable, pageShift, pageMask, h, w0, w1, length);
      } else {
        slot = probeCount(
          buckets, mask, pageTable, pageShift, pageMask, h, start, length, end, lower,
        );
      }
      if (slot == COUNTED) {
        tokens += 1;
        continue;
      }
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
      insertRecord(buckets, slot, h, record, page, pageShift, writeOffset, start, length, lower);
      writeOffset += recordBytes;
      entries += 1;
      tokens += 1;
    }
    if (status == DONE && tooLong) status = TOO_LONG;
  }
  store<u32>(batch + <usize>batchMax * BATCH_ENTRY, touched);
  store<u32>(state, <u32>pos);
  store<u32>(state, entries, 24);
  store<i32>(state, page, 40);
  store<u32>(state, writeOffset, 44);
  store<u32>(state, tokens, 56);
  return status;
}

/** MurmurHash3 x86_32 of the `length` bytes at `src` (ASCII folded when `lower`). */
// @ts-ignore: decorator
@inline function longHash(src: usize, length: u32, lower: bool): u32 {
  let h: u32 = 0;
  const blockEnd = src + <usize>(length & ~3);
  let at = src;
  while (at < blockEnd) {
    let k = load<u32>(at);
    if (lower) k = fold32(k);
    h = mixBlock(h, k);
    at += 4;
  }
  const tail = length & 3;
  if (tail != 0) {
    let k = <u32>load<u8>(at);
    if (tail >= 2) k |= <u32>load<u8>(at + 1) << 8;
    if (tail == 3) k |= <u32>load<u8>(at + 2) << 16;
    if (lower) k = fold32(k);
    h ^= mixK(k);
  }
  return finishHash(h, length);
}

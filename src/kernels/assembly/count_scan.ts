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
// The counts are the JS path's byte for byte: the same folded bytes, the same hash, the same
// record and bucket layout (src/count/count_table.ts), so JS and kernel can share one table.
//
// State: see count.ts (word 2 kind: 0 letters, 1 whitespace, 2 line; word 15 is unused).

const DONE: u32 = 0;
const NEED_BUCKETS: u32 = 1;
const NEED_PAGE: u32 = 2;
const TOO_LONG: u32 = 3;

const KIND_WHITESPACE: u32 = 1;
const KIND_LINE: u32 = 2;

// @ts-ignore: decorator
@inline function isLetter(byte: u32): bool {
  return ((byte | 0x20) - 0x61) < 26;
}

// @ts-ignore: decorator
@inline function isSpace(byte: u32): bool {
  return byte == 0x20 || (byte - 0x09) < 5;
}

// @ts-ignore: decorator
@inline function mixK(k: u32): u32 {
  return rotl<u32>(k * 0xcc9e2d51, 15) * 0x1b873593;
}

// @ts-ignore: decorator
@inline function fold32(x: u32): u32 {
  // Sets bit 5 of each byte in 'A'..'Z' (SWAR: the high bit of a byte's lane marks it).
  const heptets = x & 0x7f7f7f7f;
  const aboveZ = heptets + 0x25252525; // lane high bit: byte & 0x7f > 'Z'
  const atLeastA = heptets + 0x3f3f3f3f; // lane high bit: byte & 0x7f >= 'A'
  const upper = ~x & (atLeastA ^ aboveZ) & 0x80808080;
  return x | (upper >>> 2);
}

// @ts-ignore: decorator
@inline function fold64(x: u64): u64 {
  const heptets = x & 0x7f7f7f7f7f7f7f7f;
  const aboveZ = heptets + 0x2525252525252525;
  const atLeastA = heptets + 0x3f3f3f3f3f3f3f3f;
  const upper = ~x & (atLeastA ^ aboveZ) & 0x8080808080808080;
  return x | (upper >>> 2);
}

// @ts-ignore: decorator
@inline function fold8(byte: u32): u32 {
  return (byte - 0x41) < 26 ? byte | 0x20 : byte;
}

/** Counts the tokens of [pos, end); returns 0 done, else why it stopped (pos: that token). */
export function countScan(state: usize): u32 {
  // One copy of the loop per rule and case mode, each folded in at compile time.
  const kind = load<u32>(state, 8);
  const lower = load<u32>(state, 12) != 0;
  if (kind == KIND_WHITESPACE) return lower ? scanWhitespaceLower(state) : scanWhitespace(state);
  if (kind == KIND_LINE) return lower ? scanLineLower(state) : scanLine(state);
  return lower ? scanLettersLower(state) : scanLetters(state);
}

function scanWhitespace(state: usize): u32 {
  return scanWith(state, KIND_WHITESPACE, false);
}

function scanWhitespaceLower(state: usize): u32 {
  return scanWith(state, KIND_WHITESPACE, true);
}

function scanLine(state: usize): u32 {
  return scanWith(state, KIND_LINE, false);
}

function scanLineLower(state: usize): u32 {
  return scanWith(state, KIND_LINE, true);
}

function scanLetters(state: usize): u32 {
  return scanWith(state, 0, false);
}

function scanLettersLower(state: usize): u32 {
  return scanWith(state, 0, true);
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
  let pageBase: usize = page >= 0 ? <usize>load<u32>(pageTable + (<usize>page << 2)) : 0;
  let status = DONE;
  while (pos < end) {
    // 1. The token [start, stop).
    const start = pos;
    let stop: usize;
    if (kind == KIND_LINE) {
      stop = lineEnd(pos, end);
      pos = stop < end ? stop + 1 : end;
    } else {
      const byte = <u32>load<u8>(pos);
      if (kind == KIND_WHITESPACE ? isSpace(byte) : !isLetter(byte)) {
        pos += 1;
        continue;
      }
      stop = pos + 1;
      if (kind == KIND_WHITESPACE) {
        while (stop < end && !isSpace(<u32>load<u8>(stop))) stop += 1;
      } else {
        while (stop < end && isLetter(<u32>load<u8>(stop))) stop += 1;
      }
      pos = stop;
    }
    const length = <u32>(stop - start);
    if (length > wordBytesMax) {
      pos = start;
      status = TOO_LONG;
      break;
    }
    // 2. Hash the (folded) bytes.
    let h: u32 = 0;
    const blockEnd = start + <usize>(length & ~3);
    let at = start;
    while (at < blockEnd) {
      let k = load<u32>(at);
      if (lower) k = fold32(k);
      h ^= mixK(k);
      h = rotl<u32>(h, 13) * 5 + 0xe6546b64;
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
    h ^= length;
    h ^= h >>> 16;
    h *= 0x85ebca6b;
    h ^= h >>> 13;
    h *= 0xc2b2ae35;
    h ^= h >>> 16;
    // 3. Probe.
    let slot = h & mask;
    let found = false;
    for (;;) {
      const bucket = buckets + (<usize>slot << 3);
      const pointer = load<u32>(bucket, 4);
      if (pointer == 0) break;
      if (load<u32>(bucket) == h) {
        const address = pointer - 1;
        const record = <usize>load<u32>(pageTable + (<usize>(address >>> pageShift) << 2)) +
          (<usize>(address & pageMask) << 2);
        if (load<u32>(record) == length && sameWord(record + 4, start, length, lower)) {
          const countAt = record + 4 + <usize>length;
          store<u64>(countAt, bswap<u64>(bswap<u64>(load<u64>(countAt)) + 1));
          found = true;
          break;
        }
      }
      slot = (slot + 1) & mask;
    }
    if (found) {
      tokens += 1;
      continue;
    }
    // 4. Insert: a bucket, then room in the record area.
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
    store<u32>(record, length);
    copyWord(record + 4, start, length, lower);
    store<u64>(record + 4 + <usize>length, bswap<u64>(1));
    const bucket = buckets + (<usize>slot << 3);
    store<u32>(bucket, h);
    store<u32>(bucket, ((<u32>page << pageShift) | (writeOffset >>> 2)) + 1, 4);
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

/** Whether the stored word at `stored` equals the input at `input` (folded when `lower`). */
// @ts-ignore: decorator
@inline function sameWord(stored: usize, input: usize, n: u32, lower: bool): bool {
  let i: usize = 0;
  const n8 = <usize>(n & ~7);
  while (i < n8) {
    let x = load<u64>(input + i);
    if (lower) x = fold64(x);
    if (load<u64>(stored + i) != x) return false;
    i += 8;
  }
  while (i < <usize>n) {
    let byte = <u32>load<u8>(input + i);
    if (lower) byte = fold8(byte);
    if (<u32>load<u8>(stored + i) != byte) return false;
    i += 1;
  }
  return true;
}

/** Copies a word from the input into a record (folded when `lower`). */
// @ts-ignore: decorator
@inline function copyWord(stored: usize, input: usize, n: u32, lower: bool): void {
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

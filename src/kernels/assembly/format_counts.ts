// Count formatter: turns a block of count records (`[word][count u64 BE]`, each as a spill
// payload record: varint length + bytes, none cut by the block's end) into output lines:
//   format 0 tsv   word TAB count LF
//   format 1 uniq  count right-aligned in 7 columns (wider when it needs more), space, word, LF
//   format 2 csv   word (quoted, quotes doubled, when it holds , " CR or LF), comma, count, LF
//   format 3       the record itself (varint + bytes), for a run of records at one count
// Records whose count is below the minimum are skipped; the kernel stops at a record whose
// count is above the maximum (status 5, the record not consumed). A line is written whole or
// not at all: when the next one does not fit the output, the kernel stops there (output full).
//
// State (u32 words at `state`, see docs/kernels.md):
//   0 inPos     1 inEnd     2 outPos    3 outEnd    4 format
//   5 lines written (wraps at 2^32)    6 records read (wraps)    7 record bytes read (wraps)
//   u64 at 32: the minimum count    u64 at 40: the maximum count

const DONE: u32 = 0;
const OUTPUT_FULL: u32 = 1;
const CORRUPT: u32 = 3;
const ABOVE: u32 = 5;
const COUNT_BYTES: u32 = 8;
const TSV: u32 = 0;
const UNIQ: u32 = 1;
const UNIQ_WIDTH: u32 = 7;

/** Decimal digits of `value`. */
// @ts-ignore: decorator
@inline function digitCount(value: u64): u32 {
  let digits: u32 = 1;
  let rest = value;
  while (rest >= 10) {
    rest /= 10;
    digits += 1;
  }
  return digits;
}

/** Writes `value` as `digits` decimal digits ending just before `end`. */
// @ts-ignore: decorator
@inline function writeDigits(value: u64, end: usize, digits: u32): void {
  let at = end;
  let rest = value;
  for (let i: u32 = 0; i < digits; i += 1) {
    at -= 1;
    const next = rest / 10;
    store<u8>(at, <u8>(0x30 + <u32>(rest - next * 10)));
    rest = next;
  }
}

/** Quotes a csv field of `length` bytes at `word` needs (0: none), 2 + one per `"` otherwise. */
function csvExtra(word: usize, length: u32): u32 {
  let special = false;
  let quotes: u32 = 0;
  for (let i: usize = 0; i < <usize>length; i += 1) {
    const byte = load<u8>(word + i);
    if (byte == 0x22) {
      quotes += 1;
      special = true;
    } else if (byte == 0x2c || byte == 0x0a || byte == 0x0d) {
      special = true;
    }
  }
  return special ? quotes + 2 : 0;
}

const RECORDS: u32 = 3;
/** {@link writeLine}'s answer when the line does not fit. */
const FULL: usize = <usize>0xffffffff;

/**
 * Writes the line of `word` (`wordLength` bytes) counted `count` times at `out` in `format`
 * (tsv, uniq or csv); returns where the line ends, or {@link FULL} (nothing written) when it
 * does not fit before `outEnd`.
 */
// @ts-ignore: decorator
@inline function writeLine(
  out: usize,
  outEnd: usize,
  word: usize,
  wordLength: u32,
  count: u64,
  format: u32,
): usize {
  const digits = digitCount(count);
  if (format == TSV) {
    const need = <usize>(wordLength + digits + 2);
    if (need > outEnd - out) return FULL;
    memory.copy(out, word, <usize>wordLength);
    out += <usize>wordLength;
    store<u8>(out, 0x09);
    writeDigits(count, out + 1 + <usize>digits, digits);
    out += 1 + <usize>digits;
    store<u8>(out, 0x0a);
    return out + 1;
  }
  if (format == UNIQ) {
    const width = digits > UNIQ_WIDTH ? digits : UNIQ_WIDTH;
    const need = <usize>(width + wordLength + 2);
    if (need > outEnd - out) return FULL;
    memory.fill(out, 0x20, <usize>(width - digits));
    out += <usize>width;
    writeDigits(count, out, digits);
    store<u8>(out, 0x20);
    out += 1;
    memory.copy(out, word, <usize>wordLength);
    out += <usize>wordLength;
    store<u8>(out, 0x0a);
    return out + 1;
  }
  const extra = csvExtra(word, wordLength);
  const need = <usize>(wordLength + extra + digits + 2);
  if (need > outEnd - out) return FULL;
  if (extra == 0) {
    memory.copy(out, word, <usize>wordLength);
    out += <usize>wordLength;
  } else {
    store<u8>(out, 0x22);
    out += 1;
    for (let i: usize = 0; i < <usize>wordLength; i += 1) {
      const byte = load<u8>(word + i);
      if (byte == 0x22) {
        store<u8>(out, 0x22);
        out += 1;
      }
      store<u8>(out, byte);
      out += 1;
    }
    store<u8>(out, 0x22);
    out += 1;
  }
  store<u8>(out, 0x2c);
  writeDigits(count, out + 1 + <usize>digits, digits);
  out += 1 + <usize>digits;
  store<u8>(out, 0x0a);
  return out + 1;
}

/**
 * Runs the formatter (see the header); 0 input consumed, 1 output full, 3 a bad record,
 * 5 a count above the maximum.
 */
export function formatCounts(state: usize): u32 {
  let at = <usize>load<u32>(state);
  const inEnd = <usize>load<u32>(state, 4);
  let out = <usize>load<u32>(state, 8);
  const outEnd = <usize>load<u32>(state, 12);
  const format = load<u32>(state, 16);
  let lines = load<u32>(state, 20);
  let records = load<u32>(state, 24);
  let recordBytes = load<u32>(state, 28);
  const minCount = load<u64>(state, 32);
  const maxCount = load<u64>(state, 40);
  let status = DONE;
  while (at < inEnd) {
    // The varint length (at most 5 bytes, as the spill format).
    let length: u32 = 0;
    let shift: u32 = 0;
    let p = at;
    let ok = false;
    while (p < inEnd && shift < 35) {
      const byte = <u32>load<u8>(p);
      p += 1;
      length |= (byte & 0x7f) << shift;
      shift += 7;
      if (byte < 0x80) {
        ok = true;
        break;
      }
    }
    if (!ok || length < COUNT_BYTES || <usize>length > inEnd - p) {
      status = CORRUPT;
      break;
    }
    const word = p;
    const wordLength = length - COUNT_BYTES;
    const count = bswap<u64>(load<u64>(word + <usize>wordLength));
    if (count > maxCount) {
      status = ABOVE;
      break;
    }
    if (count >= minCount) {
      if (format != RECORDS) {
        const next = writeLine(out, outEnd, word, wordLength, count, format);
        if (next == FULL) {
          status = OUTPUT_FULL;
          break;
        }
        out = next;
      } else {
        const need = word + <usize>length - at;
        if (need > outEnd - out) {
          status = OUTPUT_FULL;
          break;
        }
        memory.copy(out, at, need);
        out += need;
      }
      lines += 1;
    }
    records += 1;
    recordBytes += length;
    at = word + <usize>length;
  }
  store<u32>(state, <u32>at);
  store<u32>(state, <u32>out, 8);
  store<u32>(state, lines, 20);
  store<u32>(state, records, 24);
  store<u32>(state, recordBytes, 28);
  return status;
}

// The same lines straight from a count table sorted in place by the kernels (CountTable's
// sortKernel: no spill, no merge): the sorted index's 16-byte entries
// [prefix, prefix, page << segmentShift | key offset, key bytes] point through a page table
// (u32 byte offset per page) at the keys, `[~count u64 BE][word]` in count order (key bytes:
// the word's + 8) or `[word][count u64 BE]` in word order (key bytes: the word's).
//
// State (u32 words at `state`, see docs/kernels.md):
//   0 index    1 entries    2 next entry    3 page table    4 segment shift    5 count order
//   6 outPos   7 outEnd     8 format (tsv, uniq, csv)    9 lines written (wraps)
//   10 record bytes read (word + count, wraps)    u64 at 48: the minimum count

/**
 * Formats the sorted entries from `next` on (see above); 0 every entry read, 1 output full
 * (the next entry's line does not fit: `next` is that entry).
 */
export function formatSorted(state: usize): u32 {
  const index = <usize>load<u32>(state);
  const entries = load<u32>(state, 4);
  let next = load<u32>(state, 8);
  const pageTable = <usize>load<u32>(state, 12);
  const segmentShift = load<u32>(state, 16);
  const byCount = load<u32>(state, 20) != 0;
  let out = <usize>load<u32>(state, 24);
  const outEnd = <usize>load<u32>(state, 28);
  const format = load<u32>(state, 32);
  let lines = load<u32>(state, 36);
  let recordBytes = load<u32>(state, 40);
  const minCount = load<u64>(state, 48);
  const offsetMask: u32 = (1 << segmentShift) - 1;
  let status = DONE;
  while (next < entries) {
    const entry = index + (<usize>next << 4);
    const address = load<u32>(entry, 8);
    const keyBytes = load<u32>(entry, 12);
    const key = <usize>load<u32>(pageTable + (<usize>(address >>> segmentShift) << 2)) +
      <usize>(address & offsetMask);
    let word = key;
    let wordLength = keyBytes;
    let count: u64;
    if (byCount) {
      count = ~bswap<u64>(load<u64>(key));
      word = key + COUNT_BYTES;
      wordLength = keyBytes - COUNT_BYTES;
    } else {
      count = bswap<u64>(load<u64>(key + <usize>keyBytes));
    }
    if (count >= minCount) {
      const after = writeLine(out, outEnd, word, wordLength, count, format);
      if (after == FULL) {
        status = OUTPUT_FULL;
        break;
      }
      out = after;
      lines += 1;
    }
    recordBytes += wordLength + COUNT_BYTES;
    next += 1;
  }
  store<u32>(state, next, 8);
  store<u32>(state, <u32>out, 24);
  store<u32>(state, lines, 36);
  store<u32>(state, recordBytes, 40);
  return status;
}

// Counted lines: `count` through the sort engine.
//
// tokenLines rewrites a chunk of text in place as whitespace tokens, one a line: every run of
// space, \t \n \v \f \r after a token becomes one LF, whitespace before the first token is
// dropped. Returns the new length (the chunk ends with LF when it held a token and ended with
// whitespace).
//
// countLines turns sorted lines (each ending with LF) into count lines: equal neighbours are
// counted, the word is written with its count in `format` (tsv, uniq, csv) once the next
// differing line (or the end, `final`) shows the group is complete. The last group of a call
// is copied into the carry area so the next region can continue it.
// A group below the minimum count is not written; one above the split count (when not 0) goes
// to a second output as a keyed line (~count as 16 hex digits, the word, LF: byte order is count
// order), for count order: the groups at the minimum come last, already in word order.
// State (u32 words): 0 inPos 1 inEnd 2 outPos 3 outEnd 4 format 5 carry ptr 6 carry length
//   7 carry area 8 has carry 9 final 10 groups written (count lines and keyed lines; wraps);
//   u64 at 48: the carry's count; u64 at 56: the minimum count; u64 at 64: the split count;
//   18 keyed outPos 19 keyed outEnd (96 bytes).

/** Whether `byte` is ASCII whitespace (space, \t \n \v \f \r). */
// @ts-ignore: decorator
@inline function isSpace(byte: u32): bool {
  return byte == 0x20 || (byte >= 0x09 && byte <= 0x0d);
}

const ONES: u64 = 0x0101010101010101;
const HIGHS: u64 = 0x8080808080808080;

/** The high bit of each byte of `word` that is below 0x21 (exact: no carry crosses bytes). */
// @ts-ignore: decorator
@inline function lowBytes(word: u64): u64 {
  return ~(((word & ~HIGHS) + ONES * 0x5f) | word) & HIGHS;
}

/** Index of the first LF in `word` (8 when none). */
// @ts-ignore: decorator
@inline function firstLf(word: u64): u32 {
  const x = word ^ (ONES * 0x0a);
  const found = (x - ONES) & ~x & HIGHS;
  return found == 0 ? 8 : <u32>(ctz(found) >> 3);
}

/** Compacts `length` bytes at `at` into whitespace tokens one a line; returns the new length. */
export function tokenLines(at: usize, length: u32): u32 {
  const end = at + <usize>length;
  let out = at;
  let pos = at;
  let afterToken = false;
  while (pos < end) {
    if (pos + 8 <= end) {
      const word = load<u64>(pos);
      const low = lowBytes(word);
      if (low == 0) {
        if (out != pos) store<u64>(out, word);
        out += 8;
        pos += 8;
        afterToken = true;
        continue;
      }
      const index = <usize>(ctz(low) >> 3);
      if (index > 0) {
        // The whole word's store is safe once the gap is a word wide (it cannot reach pos + 8).
        if (pos - out >= 8) {
          store<u64>(out, word);
        } else if (out != pos) {
          for (let i: usize = 0; i < index; i += 1) store<u8>(out + i, load<u8>(pos + i));
        }
        out += index;
        pos += index;
        afterToken = true;
      }
    }
    const byte = <u32>load<u8>(pos);
    if (isSpace(byte)) {
      if (afterToken) {
        store<u8>(out, 0x0a);
        out += 1;
        afterToken = false;
      }
    } else {
      store<u8>(out, <u8>byte);
      out += 1;
      afterToken = true;
    }
    pos += 1;
  }
  return <u32>(out - at);
}

/** Where the LF at or after `from` is (the region ends with one). */
// @ts-ignore: decorator
@inline function lineEnd(from: usize, end: usize): usize {
  let at = from;
  while (at + 8 <= end) {
    const index = firstLf(load<u64>(at));
    if (index < 8) return at + <usize>index;
    at += 8;
  }
  while (load<u8>(at) != 0x0a) at += 1;
  return at;
}

const KEYED_FULL: u32 = 2;
const KEY_DIGITS: u32 = 16;

/**
 * Writes the keyed line of `word` counted `count` times at `out`: `~count` as 16 lower-case hex
 * digits (byte order is count descending), the word, LF; returns where it ends, or
 * {@link FULL} when it does not fit before `outEnd`.
 */
// @ts-ignore: decorator
@inline function writeKeyed(out: usize, outEnd: usize, word: usize, wordLength: u32, count: u64): usize {
  if (<usize>(KEY_DIGITS + wordLength + 1) > outEnd - out) return FULL;
  let key = ~count;
  for (let i: i32 = <i32>KEY_DIGITS - 1; i >= 0; i -= 1) {
    const digit = <u32>(key & 15);
    store<u8>(out + <usize>i, <u8>(digit < 10 ? 0x30 + digit : 0x57 + digit));
    key >>= 4;
  }
  memory.copy(out + KEY_DIGITS, word, <usize>wordLength);
  store<u8>(out + <usize>(KEY_DIGITS + wordLength), 0x0a);
  return out + <usize>(KEY_DIGITS + wordLength + 1);
}

/**
 * Writes a complete group (see above): below the minimum nothing, above the split count a
 * keyed line to the second output, else a count line; moves the state's output positions.
 * Returns DONE, OUTPUT_FULL or KEYED_FULL (nothing written).
 */
function writeGroup(state: usize, word: usize, wordLength: u32, count: u64): u32 {
  if (count < load<u64>(state, 56)) return DONE;
  const split = load<u64>(state, 64);
  if (split != 0 && count > split) {
    const next = writeKeyed(<usize>load<u32>(state, 72), <usize>load<u32>(state, 76), word, wordLength, count);
    if (next == FULL) return KEYED_FULL;
    store<u32>(state, <u32>next, 72);
    return DONE;
  }
  const format = load<u32>(state, 16);
  const next = writeLine(<usize>load<u32>(state, 8), <usize>load<u32>(state, 12), word, wordLength, count, format);
  if (next == FULL) return OUTPUT_FULL;
  store<u32>(state, <u32>next, 8);
  return DONE;
}

/**
 * Runs the line counter (see above): 0 input consumed, 1 output full, 2 keyed output full (the
 * group that did not fit is written by the next call).
 */
export function countLines(state: usize): u32 {
  let pos = <usize>load<u32>(state);
  const end = <usize>load<u32>(state, 4);
  let carry = <usize>load<u32>(state, 20);
  let carryLength = load<u32>(state, 24);
  const carryArea = <usize>load<u32>(state, 28);
  let hasCarry = load<u32>(state, 32) != 0;
  let groups = load<u32>(state, 40);
  let count = load<u64>(state, 48);
  const minimum = load<u64>(state, 56);
  let status = DONE;
  while (pos < end) {
    const stop = lineEnd(pos, end);
    const length = <u32>(stop - pos);
    if (hasCarry && length == carryLength && memory.compare(pos, carry, <usize>length) == 0) {
      count += 1;
      pos = stop + 1;
      continue;
    }
    if (hasCarry) {
      status = writeGroup(state, carry, carryLength, count);
      if (status != DONE) break;
      if (count >= minimum) groups += 1;
    }
    carry = pos;
    carryLength = length;
    count = 1;
    hasCarry = true;
    pos = stop + 1;
  }
  if (status == DONE && hasCarry && load<u32>(state, 36) != 0) {
    status = writeGroup(state, carry, carryLength, count);
    if (status == DONE) {
      if (count >= minimum) groups += 1;
      hasCarry = false;
    }
  } else if (status == DONE && hasCarry && carry != carryArea) {
    memory.copy(carryArea, carry, <usize>carryLength);
    carry = carryArea;
  }
  store<u32>(state, <u32>pos);
  store<u32>(state, <u32>carry, 20);
  store<u32>(state, carryLength, 24);
  store<u32>(state, hasCarry ? 1 : 0, 32);
  store<u32>(state, groups, 40);
  store<u64>(state, count, 48);
  return status;
}

/**
 * Writes keyed lines (sorted: count descending, then word) as count lines: each line is a
 * 16-digit hex key (`~count`) and a word (see {@link writeKeyed}); state words 0 inPos, 1 inEnd,
 * 2 outPos, 3 outEnd, 4 format, 10 lines written. 0 input consumed, 1 output full.
 */
export function keyedLines(state: usize): u32 {
  let pos = <usize>load<u32>(state);
  const end = <usize>load<u32>(state, 4);
  let out = <usize>load<u32>(state, 8);
  const outEnd = <usize>load<u32>(state, 12);
  const format = load<u32>(state, 16);
  let lines = load<u32>(state, 40);
  let status = DONE;
  while (pos < end) {
    const stop = lineEnd(pos, end);
    let key: u64 = 0;
    for (let i: usize = 0; i < <usize>KEY_DIGITS; i += 1) {
      const digit = <u64>load<u8>(pos + i);
      key = (key << 4) | (digit < 0x3a ? digit - 0x30 : digit - 0x57);
    }
    const word = pos + <usize>KEY_DIGITS;
    const next = writeLine(out, outEnd, word, <u32>(stop - word), ~key, format);
    if (next == FULL) {
      status = OUTPUT_FULL;
      break;
    }
    out = next;
    lines += 1;
    pos = stop + 1;
  }
  store<u32>(state, <u32>pos);
  store<u32>(state, <u32>out, 8);
  store<u32>(state, lines, 40);
  return status;
}

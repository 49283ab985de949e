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
const CSV: u32 = 2;
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
      const digits = digitCount(count);
      if (format == TSV) {
        const need = <usize>(wordLength + digits + 2);
        if (need > outEnd - out) {
          status = OUTPUT_FULL;
          break;
        }
        memory.copy(out, word, <usize>wordLength);
        out += <usize>wordLength;
        store<u8>(out, 0x09);
        writeDigits(count, out + 1 + <usize>digits, digits);
        out += 1 + <usize>digits;
        store<u8>(out, 0x0a);
        out += 1;
      } else if (format == UNIQ) {
        const width = digits > UNIQ_WIDTH ? digits : UNIQ_WIDTH;
        const need = <usize>(width + wordLength + 2);
        if (need > outEnd - out) {
          status = OUTPUT_FULL;
          break;
        }
        memory.fill(out, 0x20, <usize>(width - digits));
        out += <usize>width;
        writeDigits(count, out, digits);
        store<u8>(out, 0x20);
        out += 1;
        memory.copy(out, word, <usize>wordLength);
        out += <usize>wordLength;
        store<u8>(out, 0x0a);
        out += 1;
      } else if (format == CSV) {
        const extra = csvExtra(word, wordLength);
        const need = <usize>(wordLength + extra + digits + 2);
        if (need > outEnd - out) {
          status = OUTPUT_FULL;
          break;
        }
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
        out += 1;
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

// Gather: copies records in index order into spill block payloads (varint length + bytes; a
// record, even its varint, may continue into the next block). The caller seals each block
// (header + CRC32C stay in TypeScript).
//
// State (u32 words at `state`, see docs/kernels.md):
//   0 index      1 count      2 next entry   3 pageTable   4 shift (bits 0-7) | flags
//   5 outPos     6 outEnd     7 bytes of the next entry's encoding already written
//   8 the read-ahead's sum (see gather)
// Flags of word 4: 0x100 (gatherKeyed) the keys end with the line; 0x200 (gather) the prefix
// words hold each record's first 8 bytes, zero padded; 0x400 those words are inverted (-r).

const ENTRY: usize = 16;
/** Records read ahead at a time (see gather). */
const READ_AHEAD: u32 = 32;

/** Word 4's bit: each entry's prefix words are its record's first 8 bytes (zero padded). */
const PREFIX_HOLDS_RECORD: u32 = 0x200;
/** Word 4's bit: those prefix words are inverted (-r). */
const PREFIX_INVERTED: u32 = 0x400;

/** Returned when every entry is written. */
const DONE: u32 = 0;
/** Returned when the output block is full and entries remain. */
const OUTPUT_FULL: u32 = 1;

// @ts-ignore: decorator
@inline export function varintBytes(value: u32): u32 {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x20_0000 ? 3 : value < 0x1000_0000 ? 4 : 5;
}

/** Writes one encoding byte `k` (0-based) of varint(value). */
// @ts-ignore: decorator
@inline function varintByte(value: u32, k: u32, total: u32): u8 {
  const group = (value >>> (7 * k)) & 0x7f;
  return <u8>(k + 1 < total ? group | 0x80 : group);
}

/**
 * Writes encoding bytes [done, ...) of a record of `length` bytes at `record` into [out, end):
 * returns how many encoding bytes are written in total now.
 */
export function writeEncoded(record: usize, length: u32, done: u32, out: usize, end: usize): u32 {
  const head = varintBytes(length);
  const total = head + length;
  let at = out;
  let k = done;
  while (k < head && at < end) {
    store<u8>(at, varintByte(length, k, head));
    at += 1;
    k += 1;
  }
  if (k >= head && at < end) {
    const from = k - head;
    const room = <u32>(end - at);
    const n = length - from < room ? length - from : room;
    memory.copy(at, record + <usize>from, <usize>n);
    k += n;
  }
  return k < total ? k : total;
}

/** Runs the gather until every entry is written (0) or the output block is full (1). */
export function gather(state: usize): u32 {
  const index = <usize>load<u32>(state);
  const count = load<u32>(state, 4);
  let next = load<u32>(state, 8);
  const pageTable = <usize>load<u32>(state, 12);
  const shiftWord = load<u32>(state, 16);
  const shift = shiftWord & 0xff;
  const mask: u32 = (1 << shift) - 1;
  // Records of at most `shortMax` bytes are written from their entry's prefix words.
  const shortMax: u32 = (shiftWord & PREFIX_HOLDS_RECORD) != 0 ? 8 : 0;
  const invert: u64 = (shiftWord & PREFIX_INVERTED) != 0 ? <u64>-1 : 0;
  let out = <usize>load<u32>(state, 20);
  const end = <usize>load<u32>(state, 24);
  let done = load<u32>(state, 28);
  // Whole 16-byte chunks are read only where they fit in the memory.
  const readEnd = (<usize>memory.size() << 16) - 16;
  let status = DONE;
  // Every READ_AHEAD entries, a loop of a few instructions an entry reads the first byte of the
  // next READ_AHEAD records (the index is in key order, the records in arrival order: each is a
  // cache miss), so that their misses are in flight at once instead of one per copy. The sum is
  // stored (word 8), so that no compiler drops the reads.
  let touched: u32 = 0;
  let touchedUpTo = next;
  while (next < count) {
    if (next >= touchedUpTo) {
      touchedUpTo = next + READ_AHEAD < count ? next + READ_AHEAD : count;
      for (let k = next; k < touchedUpTo; k += 1) {
        const entry = index + <usize>k * ENTRY;
        const a = load<u32>(entry, 8);
        // An empty record may sit at the very end of the memory: nothing to read there.
        if (load<u32>(entry, 12) <= shortMax) continue;
        touched += load<u8>(<usize>load<u32>(pageTable + (<usize>(a >>> shift) << 2)) + <usize>(a & mask));
      }
    }
    const e = index + <usize>next * ENTRY;
    const address = load<u32>(e, 8);
    const length = load<u32>(e, 12);
    const record = <usize>load<u32>(pageTable + (<usize>(address >>> shift) << 2)) + <usize>(address & mask);
    if (done == 0 && length <= shortMax) {
      if (out + 9 <= end) {
        // The prefix words hold the whole record (zero padded): its bytes past the record
        // land inside the block, where the next record overwrites them.
        store<u8>(out, <u8>length);
        store<u64>(out + 1, bswap<u64>(rotr<u64>(load<u64>(e), 32) ^ invert));
        out += 1 + <usize>length;
        next += 1;
        continue;
      }
    } else if (done == 0 && length < 0x4000) {
      const head: usize = length < 0x80 ? 1 : 2;
      // Whole chunks may copy up to 15 bytes past the record: all inside the output block (the
      // next record overwrites them) and read inside the memory.
      const rounded = <usize>((length + 15) & ~15);
      if (out + head + rounded <= end && record + rounded <= readEnd + 16) {
        if (head == 1) {
          store<u8>(out, <u8>length);
        } else {
          store<u8>(out, <u8>(length | 0x80));
          store<u8>(out, <u8>(length >>> 7), 1);
        }
        const to = out + head;
        for (let k: usize = 0; k < rounded; k += 16) {
          v128.store(to + k, v128.load(record + k));
        }
        out = to + <usize>length;
        next += 1;
        continue;
      }
    }
    if (out >= end) {
      status = OUTPUT_FULL;
      break;
    }
    const written = writeEncoded(record, length, done, out, end);
    out += <usize>(written - done);
    if (written == varintBytes(length) + length) {
      done = 0;
      next += 1;
    } else {
      done = written;
      status = OUTPUT_FULL;
      break;
    }
  }
  store<u32>(state, next, 8);
  store<u32>(state, <u32>out, 20);
  store<u32>(state, done, 28);
  store<u32>(state, touched, 32);
  return status;
}

/** The key length word of a keyed record stored without its key (src/sort/keyed_records.ts). */
const NO_KEY: u32 = 0xffffffff;

/**
 * Writes encoding bytes [done, ...) of a keyed spill record into [out, end): varint(body),
 * varint(keyField), the key, the line, where body = the field's varint + key + line bytes.
 * Returns how many encoding bytes are written in total now.
 */
function writeKeyedEncoded(
  key: usize,
  keyLength: u32,
  keyField: u32,
  line: usize,
  lineLength: u32,
  done: u32,
  out: usize,
  end: usize,
): u32 {
  const fieldBytes = varintBytes(keyField);
  const body = fieldBytes + keyLength + lineLength;
  const head = varintBytes(body);
  const keyStart = head + fieldBytes;
  const lineStart = keyStart + keyLength;
  const total = lineStart + lineLength;
  let at = out;
  let k = done;
  while (k < head && at < end) {
    store<u8>(at, varintByte(body, k, head));
    at += 1;
    k += 1;
  }
  while (k >= head && k < keyStart && at < end) {
    store<u8>(at, varintByte(keyField, k - head, fieldBytes));
    at += 1;
    k += 1;
  }
  if (k >= keyStart && k < lineStart && at < end) {
    const room = <u32>(end - at);
    const left = lineStart - k;
    const n = left < room ? left : room;
    memory.copy(at, key + <usize>(k - keyStart), <usize>n);
    at += <usize>n;
    k += n;
  }
  if (k >= lineStart && k < total && at < end) {
    const room = <u32>(end - at);
    const left = total - k;
    const n = left < room ? left : room;
    memory.copy(at, line + <usize>(k - lineStart), <usize>n);
    k += n;
  }
  return k;
}

/**
 * The gather of keyed records (`[key][key length u32][line]` in the pages, the entry pointing
 * at the line) into a keyed run's payload: each record as varint(body), varint(key length + 1)
 * (0: stored without its key), the key, the line (docs/spill-format.md). Same state and
 * statuses as {@link gather}; word 7 counts encoding bytes of this layout. Bit 8 of word 4
 * (beside the shift): the keys end with the line itself (the last resort), which is then not
 * written twice: the stored key leaves out its last `line length` bytes.
 */
export function gatherKeyed(state: usize): u32 {
  const index = <usize>load<u32>(state);
  const count = load<u32>(state, 4);
  let next = load<u32>(state, 8);
  const pageTable = <usize>load<u32>(state, 12);
  const shiftWord = load<u32>(state, 16);
  const shift = shiftWord & 0xff;
  const lineEndsKey = (shiftWord & 0x100) != 0;
  const mask: u32 = (1 << shift) - 1;
  let out = <usize>load<u32>(state, 20);
  const end = <usize>load<u32>(state, 24);
  let done = load<u32>(state, 28);
  let status = DONE;
  while (next < count) {
    const e = index + <usize>next * ENTRY;
    const address = load<u32>(e, 8);
    const lineLength = load<u32>(e, 12);
    const line = <usize>load<u32>(pageTable + (<usize>(address >>> shift) << 2)) + <usize>(address & mask);
    const stored = load<u32>(line - 4);
    const key = line - 4 - <usize>(stored == NO_KEY ? 0 : stored);
    const keyLength: u32 = stored == NO_KEY ? 0 : lineEndsKey ? stored - lineLength : stored;
    const keyField: u32 = stored == NO_KEY ? 0 : keyLength + 1;
    if (done == 0 && keyField < 0x80) {
      const body = 1 + keyLength + lineLength;
      if (body < 0x4000) {
        const head: usize = body < 0x80 ? 1 : 2;
        if (out + head + 1 + <usize>(keyLength + lineLength) <= end) {
          if (head == 1) {
            store<u8>(out, <u8>body);
          } else {
            store<u8>(out, <u8>(body | 0x80));
            store<u8>(out, <u8>(body >>> 7), 1);
          }
          store<u8>(out + head, <u8>keyField);
          const to = out + head + 1;
          memory.copy(to, key, <usize>keyLength);
          memory.copy(to + <usize>keyLength, line, <usize>lineLength);
          out = to + <usize>keyLength + <usize>lineLength;
          next += 1;
          continue;
        }
      }
    }
    if (out >= end) {
      status = OUTPUT_FULL;
      break;
    }
    const written = writeKeyedEncoded(key, keyLength, keyField, line, lineLength, done, out, end);
    out += <usize>(written - done);
    const fieldBytes = varintBytes(keyField);
    const body = fieldBytes + keyLength + lineLength;
    if (written == varintBytes(body) + body) {
      done = 0;
      next += 1;
    } else {
      done = written;
      status = OUTPUT_FULL;
      break;
    }
  }
  store<u32>(state, next, 8);
  store<u32>(state, <u32>out, 20);
  store<u32>(state, done, 28);
  return status;
}

/**
 * Output bytes of the `count` index entries at `index` as lines: each record's length (the
 * entry's word 3) plus one terminator (the placed final merge's place of a key range in the
 * in-memory run). A float: exact up to 2^53.
 */
export function indexLineBytes(index: usize, count: u32): f64 {
  let sum: u64 = <u64>count;
  const end = index + (<usize>count << 4);
  for (let at = index; at < end; at += ENTRY) sum += <u64>load<u32>(at, 12);
  return <f64>sum;
}

// Append lines: splits a read chunk at its terminators and appends each record to a sort
// buffer (src/sort/sort_buffer.ts, plain byte order): the record bytes into the current data
// page (never across a page border; an empty record takes one byte so addresses increase),
// and its index entry: the first 8 bytes as two big-endian words (zero padded, inverted for
// -r), the address (page << shift | offset) and the length.
//
// State (u32 words at `state`, see docs/kernels.md):
//   0 chunk pos   1 chunk end   2 terminator   3 page table   4 page count   5 shift
//   6 page index  7 write offset  8 index  9 record count  10 entry capacity  11 invert
//   12 data bytes (mod 2^32)  13 records appended by this call

const ENTRY: usize = 16;

/** Every record of the chunk was appended. */
const DONE: u32 = 0;
/** The buffer is full (index or pages): the record at chunk pos was not appended. */
const FULL: u32 = 1;
/** The record at chunk pos is longer than a page. */
const TOO_LONG: u32 = 2;

/** Appends the chunk's records until done, full or a record longer than a page. */
export function appendLines(state: usize): u32 {
  let pos = <usize>load<u32>(state);
  const end = <usize>load<u32>(state, 4);
  const terminator = <u8>load<u32>(state, 8);
  const pageTable = <usize>load<u32>(state, 12);
  const pageCount = load<u32>(state, 16);
  const shift = load<u32>(state, 20);
  const pageBytes: u32 = 1 << shift;
  let page = load<u32>(state, 24);
  let offset = load<u32>(state, 28);
  const index = <usize>load<u32>(state, 32);
  let count = load<u32>(state, 36);
  const capacity = load<u32>(state, 40);
  const invert = load<u32>(state, 44) != 0;
  let dataBytes = load<u32>(state, 48);
  const first = count;
  let status = DONE;
  let pageStart = <usize>load<u32>(pageTable + (<usize>page << 2));
  while (pos < end) {
    if (count == capacity) {
      status = FULL;
      break;
    }
    // Find the terminator: 8 bytes at a time while they are inside the chunk.
    let stop = pos;
    const pattern: u64 = <u64>terminator * 0x0101_0101_0101_0101;
    while (stop + 8 <= end) {
      const word = load<u64>(stop) ^ pattern;
      const found = (word - 0x0101_0101_0101_0101) & ~word & 0x8080_8080_8080_8080;
      if (found != 0) {
        stop += <usize>(ctz<u64>(found) >> 3);
        break;
      }
      stop += 8;
    }
    while (stop < end && load<u8>(stop) != terminator) stop += 1;
    const length = <u32>(stop - pos);
    const footprint = length == 0 ? 1 : length;
    if (offset + footprint > pageBytes) {
      if (length > pageBytes) {
        status = TOO_LONG;
        break;
      }
      if (page + 1 >= pageCount) {
        status = FULL;
        break;
      }
      page += 1;
      offset = 0;
      pageStart = <usize>load<u32>(pageTable + (<usize>page << 2));
    }
    const target = pageStart + <usize>offset;
    memory.copy(target, pos, <usize>length);
    let prefix: u64 = 0;
    if (length >= 8) {
      prefix = bswap<u64>(load<u64>(pos));
    } else {
      for (let b: u32 = 0; b < 8; b += 1) {
        prefix = (prefix << 8) | (b < length ? <u64>load<u8>(pos + <usize>b) : 0);
      }
    }
    if (invert) prefix = ~prefix;
    const e = index + <usize>count * ENTRY;
    store<u32>(e, <u32>(prefix >>> 32));
    store<u32>(e, <u32>prefix, 4);
    store<u32>(e, (page << shift) | offset, 8);
    store<u32>(e, length, 12);
    offset += footprint;
    dataBytes += length;
    count += 1;
    pos = stop + 1;
  }
  store<u32>(state, <u32>pos);
  store<u32>(state, page, 24);
  store<u32>(state, offset, 28);
  store<u32>(state, count, 36);
  store<u32>(state, dataBytes, 48);
  store<u32>(state, count - first, 52);
  return status;
}

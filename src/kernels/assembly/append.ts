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
  const terminators = i8x16.splat(<i8>terminator);
  while (pos < end) {
    if (count == capacity) {
      status = FULL;
      break;
    }
    // Find the terminator 16 bytes at a time while they are inside the chunk, copying each
    // block before it to the record's place while the page has room for the whole block: no
    // byte past the record is written (the record's last bytes are copied once it is found).
    let target = pageStart + <usize>offset;
    const room = <usize>(pageBytes - offset);
    let copied: usize = 0;
    let stop = pos;
    let found = false;
    while (stop + 16 <= end) {
      const block = v128.load(stop);
      const hits = i8x16.bitmask(i8x16.eq(block, terminators));
      if (hits != 0) {
        stop += <usize>ctz<u32>(hits);
        found = true;
        break;
      }
      if (copied + 16 <= room) {
        v128.store(target + copied, block);
        copied += 16;
      }
      stop += 16;
    }
    if (!found) while (stop < end && load<u8>(stop) != terminator) stop += 1;
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
      target = pageStart;
      copied = 0;
    }
    copyRest(target, pos, <usize>length, copied);
    let prefix = prefixOf(pos, length);
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

/** A record's first 8 bytes as one big-endian number, zero padded. */
// @ts-ignore: decorator
@inline function prefixOf(record: usize, length: u32): u64 {
  if (length >= 8) return bswap<u64>(load<u64>(record));
  let prefix: u64 = 0;
  for (let b: u32 = 0; b < 8; b += 1) {
    prefix = (prefix << 8) | (b < length ? <u64>load<u8>(record + <usize>b) : 0);
  }
  return prefix;
}

/**
 * Copies the bytes of a record of `length` bytes at `from` to `to` that the search did not
 * (`copied`, a multiple of 16, are there already), writing nothing past `to + length`.
 */
// @ts-ignore: decorator
@inline function copyRest(to: usize, from: usize, length: usize, copied: usize): void {
  if (length >= 16) {
    if (length - copied <= 16) {
      // The last 16 bytes, overlapping what is copied already.
      v128.store(to + length - 16, v128.load(from + length - 16));
    } else {
      memory.copy(to + copied, from + copied, length - copied);
    }
  } else if (length >= 8) {
    store<u64>(to, load<u64>(from));
    store<u64>(to + length - 8, load<u64>(from + length - 8));
  } else if (length >= 4) {
    store<u32>(to, load<u32>(from));
    store<u32>(to + length - 4, load<u32>(from + length - 4));
  } else {
    for (let b: usize = 0; b < length; b += 1) store<u8>(to + b, load<u8>(from + b));
  }
}

// Count spill: turns a full count table (count_common.ts layout) into an index of the sort
// kernels' layout (sort.ts), so that the table's entries are sorted by sortBytesIndex and
// written by gather (gather.ts) with no per-record TypeScript:
//
//   buckets (8 bytes each): [hash, pointer + 1] (0: empty)   -> compacted in place to
//   index (16 bytes each):  [prefix0, prefix1, address, length]   (needs 16 * entries <= 8 * buckets)
//   address = page << segmentShift | byte offset of the key in the page (the sort's address)
//
// Mode 0 (word order): the key is the word (`length` = word bytes); countSpillLengths then
// widens each entry to the spill record `[word][count u64 BE]` for the gather.
// Mode 1 (count order): each record is rewritten in place from `| len | word | count |` to
// `| len | ~count | word |`, so the key `[~count u64 BE][word]` is the spill record itself.
//
// The prefix words hold the key's first 8 bytes big-endian, zero padded (sort.ts's digit 0).

const ENTRY: usize = 16;

/**
 * Builds the index of the `entryCount` entries of `bucketCount` buckets at `buckets`, in place
 * (16 * entryCount <= 8 * bucketCount). Records are found through `pageTable` (u32 memory
 * offset per page); a pointer is `page << pointerShift | byteOffset >>> 2`. Returns the
 * entries found.
 */
export function countSpillIndex(
  buckets: usize, bucketCount: u32, pageTable: usize, pointerShift: u32, mode: u32,
): u32 {
  // Pass 1: compact the pointers to the front (u32 each; never ahead of the reads).
  let n: u32 = 0;
  for (let j: u32 = 0; j < bucketCount; j += 1) {
    const pointer = load<u32>(buckets + (<usize>j << 3), 4);
    if (pointer == 0) continue;
    store<u32>(buckets + (<usize>n << 2), pointer - 1);
    n += 1;
  }
  // Pass 1b: sort the pointers by value (LSD radix, 4 passes of 8 bits through [4n, 8n), the
  // 256 counters at 8n): pass 2 then reads the records in address order, not hash order (a
  // cache miss per record). The index is sorted by key afterwards anyway. From 128 entries,
  // where the index covers everything the sort wrote (16n >= 8n + 1024).
  if (n >= 128) sortPointers(buckets, n);
  // Pass 2: widen to 16-byte entries from the back (entry i never covers pointer k < i).
  const pointerMask: u32 = (1 << pointerShift) - 1;
  const segmentShift = pointerShift + 2;
  for (let i = <i32>n - 1; i >= 0; i -= 1) {
    const pointer = load<u32>(buckets + (<usize>i << 2));
    const page = pointer >>> pointerShift;
    const offset = (pointer & pointerMask) << 2;
    const record = <usize>load<u32>(pageTable + (<usize>page << 2)) + <usize>offset;
    const wordBytes = load<u32>(record);
    const key = record + 4;
    let prefix: u64;
    let keyBytes: u32;
    if (mode == 0) {
      // 8 bytes are always readable: the count follows the word.
      const raw = bswap<u64>(load<u64>(key));
      prefix = wordBytes >= 8 ? raw : raw & ~(<u64>-1 >>> (<u64>wordBytes << 3));
      keyBytes = wordBytes;
    } else {
      const inverted = ~load<u64>(key + <usize>wordBytes);
      memory.copy(key + 8, key, <usize>wordBytes);
      store<u64>(key, inverted);
      prefix = bswap<u64>(inverted);
      keyBytes = wordBytes + 8;
    }
    const e = buckets + <usize>i * ENTRY;
    store<u32>(e, <u32>(prefix >>> 32));
    store<u32>(e, <u32>prefix, 4);
    store<u32>(e, (page << segmentShift) | (offset + 4), 8);
    store<u32>(e, keyBytes, 12);
  }
  return n;
}

/** Sorts the `n` u32 at `at` ascending, using [at + 4n, at + 8n + 1024) as scratch. */
function sortPointers(at: usize, n: u32): void {
  let from = at;
  let to = at + (<usize>n << 2);
  const counts = at + (<usize>n << 3);
  for (let shift: u32 = 0; shift < 32; shift += 8) {
    memory.fill(counts, 0, 1024);
    for (let i: usize = 0; i < <usize>n; i += 1) {
      const slot = counts + (<usize>((load<u32>(from + (i << 2)) >>> shift) & 255) << 2);
      store<u32>(slot, load<u32>(slot) + 1);
    }
    let sum: u32 = 0;
    for (let d: usize = 0; d < 256; d += 1) {
      const c = load<u32>(counts + (d << 2));
      store<u32>(counts + (d << 2), sum);
      sum += c;
    }
    for (let i: usize = 0; i < <usize>n; i += 1) {
      const pointer = load<u32>(from + (i << 2));
      const slot = counts + (<usize>((pointer >>> shift) & 255) << 2);
      const index = load<u32>(slot);
      store<u32>(slot, index + 1);
      store<u32>(to + (<usize>index << 2), pointer);
    }
    const swap = from;
    from = to;
    to = swap;
  }
}

/** Adds `bytes` to the length word of `count` index entries at `index`. */
export function countSpillLengths(index: usize, count: u32, bytes: u32): void {
  for (let i: u32 = 0; i < count; i += 1) {
    const e = index + <usize>i * ENTRY;
    store<u32>(e, load<u32>(e, 12) + bytes, 12);
  }
}

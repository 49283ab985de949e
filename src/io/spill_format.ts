/**
 * On-disk layout of a spill file (see docs/spill_format.md):
 *
 * ```
 * offset 0      file header, HEADER_BYTES (one 4 KiB page, so blocks stay page-aligned for mmap)
 *               [0,8)  magic "SPILLWAY"   [8,12) version u32 LE   [12,16) segment bytes u32 LE
 *               [16,20) CRC32C of [0,16)  rest zero
 * HEADER_BYTES  block 0, block 1, ... each exactly `segmentBytes` long (one memory segment)
 *
 * block:        [0,4)  payload length u32 LE
 *               [4,8)  flags u32 LE (bit 0: last block of the run; bits 1-31: 1 + the payload
 *                      offset of the first record that starts in the block, 0 if none does)
 *               [8,12) block index u32 LE
 *               [12,16) CRC32C of [0,12) followed by the payload
 *               [16, 16 + payload length) payload: records as varint length + bytes,
 *               a record may continue in the next block
 *
 * keyed run:    each record's bytes are varint(key length + 1) + normalized key + line
 *               (version 3; field 0: no stored key): a sort whose order is not plain bytes
 * ```
 */
export const HEADER_BYTES = 4096;
/** Bytes of the block header. */
export const BLOCK_HEADER_BYTES = 16;
/** Format version. */
export const SPILL_VERSION = 3;
/** Flag bit of the last block. */
export const LAST_BLOCK_FLAG = 1;
/** "SPILLWAY" in ASCII. */
export const SPILL_MAGIC: readonly number[] = [0x53, 0x50, 0x49, 0x4c, 0x4c, 0x57, 0x41, 0x59];

/** Offset in the file of block `blockIndex`. */
export function blockPosition(blockIndex: number, segmentBytes: number): number {
  return HEADER_BYTES + blockIndex * segmentBytes;
}

/**
 * The flags word of a block: the last-block bit and where the first record that starts in the
 * block begins (a merge split by key range starts reading a run there).
 *
 * @param last Whether the block is the run's last.
 * @param firstRecordOffset Payload offset of the first record that starts in the block; -1 if
 *   none does (the block lies inside a record longer than a block, or is empty).
 * @returns The flags word.
 */
export function blockFlags(last: boolean, firstRecordOffset: number): number {
  return ((firstRecordOffset + 1) * 2 + (last ? LAST_BLOCK_FLAG : 0)) >>> 0;
}

/**
 * The payload offset of the first record that starts in a block, from its flags word.
 *
 * @param flags The block's flags word.
 * @returns The offset, or -1 if no record starts in the block.
 */
export function firstRecordOffsetOf(flags: number): number {
  return (flags >>> 1) - 1;
}

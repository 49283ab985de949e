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
 *               [4,8)  flags u32 LE (bit 0: last block of the run)
 *               [8,12) block index u32 LE
 *               [12,16) CRC32C of [0,12) followed by the payload
 *               [16, 16 + payload length) payload: records as varint length + bytes,
 *               a record may continue in the next block
 * ```
 */
export const HEADER_BYTES = 4096;
/** Bytes of the block header. */
export const BLOCK_HEADER_BYTES = 16;
/** Format version. */
export const SPILL_VERSION = 1;
/** Flag bit of the last block. */
export const LAST_BLOCK_FLAG = 1;
/** "SPILLWAY" in ASCII. */
export const SPILL_MAGIC: readonly number[] = [0x53, 0x50, 0x49, 0x4c, 0x4c, 0x57, 0x41, 0x59];

/** Offset in the file of block `blockIndex`. */
export function blockPosition(blockIndex: number, segmentBytes: number): number {
  return HEADER_BYTES + blockIndex * segmentBytes;
}

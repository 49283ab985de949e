/**
 * Checks the first-record offsets spill blocks carry in their flags word against a decode of
 * the whole payload stream (varint length + bytes, records may cross block borders).
 */
import { strictEqual } from "node:assert/strict";

/**
 * Asserts that each sealed block (header + payload) names the first record that starts in it.
 *
 * @param blocks The run's blocks in order (each at least 16 + payload length bytes).
 * @param label For messages.
 */
export function assertBlockStarts(blocks: readonly Uint8Array[], label: string): void {
  // Absolute stream offsets of every record start.
  let streamBytes = 0;
  for (const block of blocks) streamBytes += u32(block, 0);
  const stream = new Uint8Array(streamBytes);
  const blockStarts: number[] = [];
  let at = 0;
  for (const block of blocks) {
    const payload = u32(block, 0);
    blockStarts.push(at);
    stream.set(block.subarray(16, 16 + payload), at);
    at += payload;
  }
  const recordStarts: number[] = [];
  let position = 0;
  while (position < streamBytes) {
    recordStarts.push(position);
    let length = 0;
    let scale = 1;
    for (;;) {
      const byte = stream[position]!;
      position += 1;
      length += (byte & 0x7f) * scale;
      scale *= 128;
      if (byte < 0x80) break;
    }
    position += length;
  }
  strictEqual(position, streamBytes, `${label}: the stream ends with a whole record`);
  let next = 0;
  for (let b = 0; b < blocks.length; b += 1) {
    const start = blockStarts[b]!;
    const end = start + u32(blocks[b]!, 0);
    while (next < recordStarts.length && recordStarts[next]! < start) next += 1;
    const expected = next < recordStarts.length && recordStarts[next]! < end
      ? recordStarts[next]! - start
      : -1;
    const flags = u32(blocks[b]!, 4);
    strictEqual((flags >>> 1) - 1, expected, `${label}: block ${b} of ${blocks.length}`);
    strictEqual(flags & 1, b === blocks.length - 1 ? 1 : 0, `${label}: last flag of block ${b}`);
  }
}

/** The blocks of a spill file (4 KiB header, then blocks of `segmentBytes`). */
export function spillFileBlocks(file: Uint8Array, segmentBytes: number): Uint8Array[] {
  const blocks: Uint8Array[] = [];
  for (let at = 4096; at + segmentBytes <= file.length; at += segmentBytes) {
    blocks.push(file.subarray(at, at + segmentBytes));
  }
  return blocks;
}

function u32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | bytes[at + 1]! << 8 | bytes[at + 2]! << 16 | bytes[at + 3]! << 24) >>> 0;
}

/**
 * Every record of a run's blocks, decoded from the payload stream (a varint length, then the
 * bytes; a record may cross block borders), with the block and payload offset it starts at.
 *
 * @param blocks The run's blocks in order (each at least 16 + payload length bytes).
 * @returns The records in order.
 */
export function decodedRecords(
  blocks: readonly Uint8Array[],
): { record: Uint8Array; block: number; offset: number }[] {
  const payloads = blocks.map((block) => block.subarray(16, 16 + u32(block, 0)));
  const records: { record: Uint8Array; block: number; offset: number }[] = [];
  let b = 0;
  let at = 0;
  const take = (): number => {
    while (at >= payloads[b]!.length) {
      b += 1;
      at = 0;
    }
    const byte = payloads[b]![at]!;
    at += 1;
    return byte;
  };
  for (;;) {
    while (b < payloads.length && at >= payloads[b]!.length) {
      b += 1;
      at = 0;
    }
    if (b >= payloads.length) return records;
    const start = { block: b, offset: at };
    let length = 0;
    let scale = 1;
    for (;;) {
      const byte = take();
      length += (byte & 0x7f) * scale;
      scale *= 128;
      if (byte < 0x80) break;
    }
    const record = new Uint8Array(length);
    for (let i = 0; i < length; i += 1) record[i] = take();
    records.push({ record, ...start });
  }
}

/**
 * The first record that starts in each block, from a decode of the payload stream: per block,
 * its length (-1: none starts there) and its first `keyBytesMax` bytes (empty when none).
 *
 * @param blocks The run's blocks in order (each at least 16 + payload length bytes).
 * @param keyBytesMax How many of a record's first bytes a key keeps.
 * @returns Per block, the length and the key.
 */
export function decodedFirstKeys(
  blocks: readonly Uint8Array[],
  keyBytesMax: number,
): { recordLength: number; key: Uint8Array }[] {
  const firsts = blocks.map(() => ({ recordLength: -1, key: new Uint8Array(0) }));
  for (const { record, block } of decodedRecords(blocks)) {
    if (firsts[block]!.recordLength < 0) {
      firsts[block] = { recordLength: record.length, key: record.slice(0, keyBytesMax) };
    }
  }
  return firsts;
}

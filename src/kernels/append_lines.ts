import { assert } from "../base/mod.ts";

/** What the append-lines kernel returned. */
export const AppendStatus = {
  /** Every record of the chunk was appended. */
  done: 0,
  /** The buffer is full (index or pages): the record at `chunkOffset` was not appended. */
  full: 1,
  /** The record at `chunkOffset` is longer than a page. */
  tooLong: 2,
} as const;

/** Where a sort buffer's pages and index are, for {@linkcode AppendState.setBuffer}. */
export interface AppendBuffer {
  /** Byte offset of the page table (u32 byte offset of each data page). */
  pageTableOffset: number;
  /** Data pages. */
  pageCount: number;
  /** log2 of the page size. */
  segmentShift: number;
  /** Byte offset of the index (16-byte entries). */
  indexOffset: number;
  /** Entries the index holds. */
  entryCapacity: number;
  /** Invert the prefix words (`-r`). */
  invert: boolean;
}

/**
 * State of the append-lines kernel (u32 words):
 * ```
 * 0 chunk pos  1 chunk end  2 terminator  3 page table  4 page count  5 shift  6 page index
 * 7 write offset  8 index  9 record count  10 entry capacity  11 invert  12 data bytes
 * 13 records appended by the last call
 * ```
 */
export class AppendState {
  /** Bytes of the block. */
  static readonly BYTES = 64;
  /** Byte offset of the block in the memory. */
  readonly byteOffset: number;
  readonly #words: Uint32Array;

  /**
   * A view of the block at `byteOffset` (4-byte aligned, {@linkcode AppendState.BYTES} long).
   *
   * @param memory The shared memory.
   * @param byteOffset Where the block is.
   */
  constructor(memory: WebAssembly.Memory, byteOffset: number) {
    assert(byteOffset % 4 === 0, `append state offset ${byteOffset} is not 4-byte aligned`);
    this.byteOffset = byteOffset;
    this.#words = new Uint32Array(memory.buffer, byteOffset, AppendState.BYTES / 4);
  }

  /** Sets the buffer appended to, empty. */
  setBuffer(buffer: AppendBuffer): void {
    const w = this.#words;
    w.fill(0);
    w[3] = buffer.pageTableOffset;
    w[4] = buffer.pageCount;
    w[5] = buffer.segmentShift;
    w[8] = buffer.indexOffset;
    w[10] = buffer.entryCapacity;
    w[11] = buffer.invert ? 1 : 0;
  }

  /** Sets where the buffer's fill stands (page, offset in it, records, pages it may use). */
  setFill(page: number, writeOffset: number, recordCount: number, pageCount: number): void {
    const w = this.#words;
    w[4] = pageCount;
    w[6] = page;
    w[7] = writeOffset;
    w[9] = recordCount;
    w[12] = 0;
  }

  /** Record bytes appended by the last call (after {@linkcode AppendState.setFill}). */
  get appendedBytes(): number {
    return this.#words[12]!;
  }

  /** Gives the kernel the chunk `[byteOffset, byteEnd)` of records ending with `terminator`. */
  setChunk(byteOffset: number, byteEnd: number, terminator: number): void {
    const w = this.#words;
    w[0] = byteOffset;
    w[1] = byteEnd;
    w[2] = terminator;
  }

  /** Where the next record of the chunk starts. */
  get chunkOffset(): number {
    return this.#words[0]!;
  }

  /** The current page. */
  get pageIndex(): number {
    return this.#words[6]!;
  }

  /** The write offset in the current page. */
  get writeOffset(): number {
    return this.#words[7]!;
  }

  /** Records in the buffer. */
  get recordCount(): number {
    return this.#words[9]!;
  }

  /** Records appended by the last call. */
  get appendedCount(): number {
    return this.#words[13]!;
  }
}

/**
 * The append-lines kernel in TypeScript (the tests' oracle): the same records, pages and
 * index entries as the WebAssembly `appendLines`.
 *
 * @param memory The memory.
 * @param stateOffset The {@linkcode AppendState} block.
 * @returns An {@linkcode AppendStatus}.
 */
export function appendLinesReference(memory: WebAssembly.Memory, stateOffset: number): number {
  const w = new Uint32Array(memory.buffer, stateOffset, AppendState.BYTES / 4);
  const bytes = new Uint8Array(memory.buffer);
  const words = new DataView(memory.buffer);
  let pos = w[0]!;
  const end = w[1]!;
  const terminator = w[2]!;
  const pageTable = w[3]!;
  const pageCount = w[4]!;
  const shift = w[5]!;
  const pageBytes = 2 ** shift;
  let page = w[6]!;
  let offset = w[7]!;
  const index = w[8]!;
  let count = w[9]!;
  const first = count;
  let status: number = AppendStatus.done;
  let dataBytes = w[12]!;
  while (pos < end) {
    if (count === w[10]!) {
      status = AppendStatus.full;
      break;
    }
    let stop = bytes.indexOf(terminator, pos);
    if (stop < 0 || stop > end) stop = end;
    const length = stop - pos;
    const footprint = length === 0 ? 1 : length;
    if (offset + footprint > pageBytes) {
      if (length > pageBytes) {
        status = AppendStatus.tooLong;
        break;
      }
      if (page + 1 >= pageCount) {
        status = AppendStatus.full;
        break;
      }
      page += 1;
      offset = 0;
    }
    const target = words.getUint32(pageTable + 4 * page, true) + offset;
    bytes.copyWithin(target, pos, stop);
    const prefix = [0, 0];
    for (let b = 0; b < 8; b += 1) {
      const byte = b < length ? bytes[pos + b]! : 0;
      prefix[b >> 2] = prefix[b >> 2]! * 256 + byte;
    }
    const e = index + 16 * count;
    const invert = w[11] !== 0;
    words.setUint32(e, invert ? ~prefix[0]! >>> 0 : prefix[0]!, true);
    words.setUint32(e + 4, invert ? ~prefix[1]! >>> 0 : prefix[1]!, true);
    words.setUint32(e + 8, page * pageBytes + offset, true);
    words.setUint32(e + 12, length, true);
    offset += footprint;
    dataBytes = (dataBytes + length) >>> 0;
    count += 1;
    pos = stop + 1;
  }
  w[0] = pos;
  w[6] = page;
  w[7] = offset;
  w[9] = count;
  w[12] = dataBytes;
  w[13] = count - first;
  return status;
}

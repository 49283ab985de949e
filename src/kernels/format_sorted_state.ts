import { assert } from "../base/mod.ts";
import { referenceLine } from "./format_counts_state.ts";
import { KernelStatus } from "./kernel_state.ts";

/** Bytes of the state block. */
const STATE_BYTES = 56;
const COUNT_BYTES = 8;

/** Where a kernel-sorted count table is, for {@linkcode FormatSortedState.start}. */
export interface FormatSortedInput {
  /** Byte offset of the sorted index (16-byte entries: prefix, prefix, address, key bytes). */
  indexOffset: number;
  /** Entries of the index. */
  entryCount: number;
  /** Byte offset of the page table (u32 byte offset of each page). */
  pageTableOffset: number;
  /** log2 of the page size: an entry's address is `page << segmentShift | key offset`. */
  segmentShift: number;
  /** Keys `[~count u64 BE][word]` (count order) instead of `[word][count u64 BE]`. */
  countOrder: boolean;
  /** A `FormatCountsFormat` other than `records`: tsv, uniq or csv. */
  format: number;
  /** Entries counted fewer times are read but not written. */
  minCount: number;
}

/**
 * State of the sorted-table formatter kernel (`formatSorted`,
 * src/kernels/assembly/format_counts.ts): it writes the lines of a count table that the
 * kernels sorted in place (`CountTable.sortKernel`) straight from its sorted index, the lines
 * `formatCounts` writes from count records. Layout (u32 words):
 * ```
 * 0 index  1 entries  2 next entry  3 page table  4 segment shift  5 count order
 * 6 outPos  7 outEnd  8 format  9 lines written  10 record bytes read (word + count; both wrap)
 * u64 at byte 48: the minimum count
 * ```
 * The kernel returns {@linkcode KernelStatus.done} when every entry is read and
 * {@linkcode KernelStatus.outputFull} when the next entry's line does not fit the output (the
 * next entry stays that one).
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { FormatCountsFormat, FormatSortedState, KernelStatus, WasmKernels } from "./mod.ts";
 * const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
 * const bytes = new Uint8Array(memory.buffer);
 * bytes.set([0x66, 0x69, 0x67, 0, 0, 0, 0, 0, 0, 0, 42], 1024); // "fig", count 42 (word order)
 * new Uint32Array(memory.buffer, 512, 4).set([0, 0, 1024, 3]); // the index: one entry
 * new Uint32Array(memory.buffer, 768, 1).set([0]); // the page table: page 0 at offset 0
 * const state = new FormatSortedState(memory, 64);
 * state.start({
 *   indexOffset: 512,
 *   entryCount: 1,
 *   pageTableOffset: 768,
 *   segmentShift: 16,
 *   countOrder: false,
 *   format: FormatCountsFormat.tsv,
 *   minCount: 1,
 * });
 * state.setOutput(2048, 2048 + 64);
 * strictEqual(new WasmKernels(memory).formatSorted(state.byteOffset), KernelStatus.done);
 * strictEqual(new TextDecoder().decode(bytes.subarray(2048, state.outputOffset)), "fig\t42\n");
 * ```
 */
export class FormatSortedState {
  /** Bytes of the block. */
  static readonly bytes: number = STATE_BYTES;
  /** Byte offset of the block in the memory. */
  readonly byteOffset: number;
  readonly #words: Uint32Array;
  readonly #view: DataView;

  /**
   * A view of the block at `byteOffset` (8-byte aligned); call {@linkcode FormatSortedState.start}
   * before use.
   *
   * @param memory The shared memory.
   * @param byteOffset Where the block is.
   */
  constructor(memory: WebAssembly.Memory, byteOffset: number) {
    assert(
      byteOffset % 8 === 0 && byteOffset + STATE_BYTES <= memory.buffer.byteLength,
      "format state outside the memory",
    );
    this.byteOffset = byteOffset;
    this.#words = new Uint32Array(memory.buffer, byteOffset, STATE_BYTES / 4);
    this.#view = new DataView(memory.buffer, byteOffset, STATE_BYTES);
  }

  /** Resets the block to the first entry of `input`, no output, counters zero. */
  start(input: FormatSortedInput): void {
    assert(
      Number.isSafeInteger(input.minCount) && input.minCount >= 0,
      `bad minimum count ${input.minCount}`,
    );
    assert(input.format >= 0 && input.format <= 2, `formatSorted writes no format ${input.format}`);
    this.#words.fill(0);
    this.#words[0] = input.indexOffset;
    this.#words[1] = input.entryCount;
    this.#words[3] = input.pageTableOffset;
    this.#words[4] = input.segmentShift;
    this.#words[5] = input.countOrder ? 1 : 0;
    this.#words[8] = input.format;
    this.#view.setBigUint64(48, BigInt(input.minCount), true);
  }

  /** Sets where lines go: `[byteOffset, byteEnd)` of the memory. */
  setOutput(byteOffset: number, byteEnd: number): void {
    assert(byteOffset <= byteEnd, "format output ends before it starts");
    this.#words[6] = byteOffset;
    this.#words[7] = byteEnd;
  }

  /** The next entry to read (the index's length when all are read). */
  get nextEntry(): number {
    return this.#words[2]!;
  }

  /** Moves to entry `entryIndex` (past one the caller handled itself). */
  set nextEntry(entryIndex: number) {
    assert(entryIndex >= 0 && entryIndex <= this.#words[1]!, `entry ${entryIndex} out of range`);
    this.#words[2] = entryIndex;
  }

  /** Where the next line goes. */
  get outputOffset(): number {
    return this.#words[6]!;
  }

  /** Lines written (modulo 2^32). */
  get lineCount(): number {
    return this.#words[9]!;
  }

  /** Bytes of the entries read, word and count (modulo 2^32). */
  get recordBytes(): number {
    return this.#words[10]!;
  }
}

/**
 * The sorted-table formatter kernel in plain TypeScript (the tests' oracle): the same lines,
 * stops and state words as `formatSorted`.
 *
 * @param memory The shared memory.
 * @param stateOffset The {@linkcode FormatSortedState} block.
 * @returns A {@linkcode KernelStatus}.
 */
export function referenceFormatSorted(memory: WebAssembly.Memory, stateOffset: number): number {
  const view = new DataView(memory.buffer);
  const bytes = new Uint8Array(memory.buffer);
  const word = (i: number) => view.getUint32(stateOffset + 4 * i, true);
  const [index, entries, pageTable, shift] = [word(0), word(1), word(3), word(4)];
  const byCount = word(5) !== 0;
  const outEnd = word(7);
  const format = word(8);
  const minCount = view.getBigUint64(stateOffset + 48, true);
  let next = word(2);
  let out = word(6);
  let lines = word(9);
  let recordBytes = word(10);
  let status: number = KernelStatus.done;
  for (; next < entries; next += 1) {
    const address = view.getUint32(index + 16 * next + 8, true);
    const keyBytes = view.getUint32(index + 16 * next + 12, true);
    const key = view.getUint32(pageTable + 4 * Math.floor(address / 2 ** shift), true) +
      (address % 2 ** shift);
    const wordAt = byCount ? key + COUNT_BYTES : key;
    const wordLength = byCount ? keyBytes - COUNT_BYTES : keyBytes;
    const count = byCount
      ? ~view.getBigUint64(key, false) & 0xffff_ffff_ffff_ffffn
      : view.getBigUint64(key + keyBytes, false);
    if (count >= minCount) {
      const line = referenceLine(format, bytes.slice(wordAt, wordAt + wordLength), count);
      if (line.length > outEnd - out) {
        status = KernelStatus.outputFull;
        break;
      }
      bytes.set(line, out);
      out += line.length;
      lines += 1;
    }
    recordBytes += wordLength + COUNT_BYTES;
  }
  view.setUint32(stateOffset + 8, next, true);
  view.setUint32(stateOffset + 24, out, true);
  view.setUint32(stateOffset + 36, lines >>> 0, true);
  view.setUint32(stateOffset + 40, recordBytes >>> 0, true);
  return status;
}

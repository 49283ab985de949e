import { assert } from "../base/mod.ts";
import { KernelStatus } from "./kernel_state.ts";

/** The output formats the count formatter kernel writes (`formatCounts`). */
export const FormatCountsFormat = {
  /** `word<TAB>count<LF>` */
  tsv: 0,
  /** `uniq -c`: `%7d word<LF>` */
  uniq: 1,
  /** RFC 4180: `word,count<LF>`, the word quoted when it holds `,` `"` CR or LF */
  csv: 2,
  /** The records themselves (varint length + bytes), e.g. into a run of one count */
  records: 3,
} as const;

/** What the count formatter kernel returns besides {@linkcode KernelStatus}. */
export const FormatCountsStatus = {
  /** The next record's count is above the maximum; it is not consumed. */
  above: 5,
} as const;

/** Bytes of the state block. */
const STATE_BYTES = 48;
const COUNT_NONE = 0xffff_ffff_ffff_ffffn;
const COUNT_BYTES = 8;
const UNIQ_WIDTH = 7;

/**
 * State of the count formatter kernel (`formatCounts`, src/kernels/assembly/format_counts.ts):
 * it turns count records (`[word][count u64 BE]`, each a spill payload record: varint length +
 * bytes, none cut by the input's end) into output lines (tsv, uniq or csv; see
 * {@linkcode FormatCountsFormat}), skipping counts below a minimum. Layout (u32 words):
 * ```
 * 0 inPos  1 inEnd  2 outPos  3 outEnd  4 format
 * 5 lines written  6 records read  7 record bytes read (each wraps at 2^32)
 * u64 at byte 32: the minimum count  u64 at byte 40: the maximum count
 * ```
 * The kernel returns {@linkcode KernelStatus.done} when the input is consumed,
 * {@linkcode KernelStatus.outputFull} when the next line does not fit the output (input and
 * output positions stay at that record), {@linkcode KernelStatus.corrupt} on a bad record,
 * {@linkcode FormatCountsStatus.above} at a record whose count is above the maximum.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { FormatCountsFormat, FormatCountsState, KernelStatus, WasmKernels } from "./mod.ts";
 * const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
 * const bytes = new Uint8Array(memory.buffer);
 * bytes.set([11, 0x66, 0x69, 0x67, 0, 0, 0, 0, 0, 0, 0, 42], 1024); // "fig", count 42
 * const state = new FormatCountsState(memory, 64);
 * state.start({ format: FormatCountsFormat.tsv, minCount: 1 });
 * state.setInput(1024, 1036);
 * state.setOutput(2048, 2048 + 64);
 * strictEqual(new WasmKernels(memory).formatCounts(state.byteOffset), KernelStatus.done);
 * strictEqual(new TextDecoder().decode(bytes.subarray(2048, state.outputOffset)), "fig\t42\n");
 * ```
 */
export class FormatCountsState {
  /** Bytes of the block. */
  static readonly bytes: number = STATE_BYTES;
  /** Byte offset of the block in the memory. */
  readonly byteOffset: number;
  readonly #words: Uint32Array;
  readonly #view: DataView;

  /**
   * A view of the block at `byteOffset` (8-byte aligned); call {@linkcode FormatCountsState.start}
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

  /** Resets the block: no input, no output, counters zero, no maximum unless given. */
  start(options: { format: number; minCount: number; maxCount?: number }): void {
    assert(
      Number.isSafeInteger(options.minCount) && options.minCount >= 0,
      `bad minimum count ${options.minCount}`,
    );
    this.#words.fill(0);
    this.#words[4] = options.format;
    this.#view.setBigUint64(32, BigInt(options.minCount), true);
    const max = options.maxCount === undefined ? COUNT_NONE : BigInt(options.maxCount);
    this.#view.setBigUint64(40, max, true);
  }

  /** Sets the records to format: `[byteOffset, byteEnd)` of the memory. */
  setInput(byteOffset: number, byteEnd: number): void {
    assert(byteOffset <= byteEnd, "format input ends before it starts");
    this.#words[0] = byteOffset;
    this.#words[1] = byteEnd;
  }

  /** Sets where lines go: `[byteOffset, byteEnd)` of the memory. */
  setOutput(byteOffset: number, byteEnd: number): void {
    assert(byteOffset <= byteEnd, "format output ends before it starts");
    this.#words[2] = byteOffset;
    this.#words[3] = byteEnd;
  }

  /** Where the next record to format starts. */
  get inputOffset(): number {
    return this.#words[0]!;
  }

  /** Where the next line goes. */
  get outputOffset(): number {
    return this.#words[2]!;
  }

  /** Lines written (modulo 2^32). */
  get lineCount(): number {
    return this.#words[5]!;
  }

  /** Records read, written or skipped (modulo 2^32). */
  get recordCount(): number {
    return this.#words[6]!;
  }

  /** Bytes of the records read, without their varints (modulo 2^32). */
  get recordBytes(): number {
    return this.#words[7]!;
  }
}

/**
 * The count formatter kernel in plain TypeScript (the tests' oracle): the same lines, stops
 * and state words as `formatCounts`.
 *
 * @param memory The shared memory.
 * @param stateOffset The {@linkcode FormatCountsState} block.
 * @returns A {@linkcode KernelStatus}.
 */
export function referenceFormatCounts(memory: WebAssembly.Memory, stateOffset: number): number {
  const view = new DataView(memory.buffer);
  const bytes = new Uint8Array(memory.buffer);
  const word = (i: number) => view.getUint32(stateOffset + 4 * i, true);
  let at = word(0);
  const inEnd = word(1);
  let out = word(2);
  const outEnd = word(3);
  const format = word(4);
  let lines = word(5);
  let records = word(6);
  let recordBytes = word(7);
  const minCount = view.getBigUint64(stateOffset + 32, true);
  const maxCount = view.getBigUint64(stateOffset + 40, true);
  const finish = (status: number) => {
    view.setUint32(stateOffset, at, true);
    view.setUint32(stateOffset + 8, out, true);
    view.setUint32(stateOffset + 20, lines >>> 0, true);
    view.setUint32(stateOffset + 24, records >>> 0, true);
    view.setUint32(stateOffset + 28, recordBytes >>> 0, true);
    return status;
  };
  while (at < inEnd) {
    let length = 0;
    let p = at;
    let ok = false;
    for (let k = 0; k < 5 && p < inEnd; k += 1) {
      const byte = bytes[p]!;
      p += 1;
      length = (length | ((byte & 0x7f) << (7 * k))) >>> 0;
      if (byte < 0x80) {
        ok = true;
        break;
      }
    }
    if (!ok || length < COUNT_BYTES || length > inEnd - p) return finish(KernelStatus.corrupt);
    const wordLength = length - COUNT_BYTES;
    const count = view.getBigUint64(p + wordLength, false);
    if (count > maxCount) return finish(FormatCountsStatus.above);
    if (count >= minCount) {
      const line = format === FormatCountsFormat.records
        ? [...bytes.subarray(at, p + length)]
        : referenceLine(format, bytes.slice(p, p + wordLength), count);
      if (line.length > outEnd - out) return finish(KernelStatus.outputFull);
      bytes.set(line, out);
      out += line.length;
      lines += 1;
    }
    records += 1;
    recordBytes += length;
    at = p + length;
  }
  return finish(KernelStatus.done);
}

/**
 * The line of a word and its count in a `FormatCountsFormat` other than `records` (the tests'
 * oracle of the kernels' line writer).
 *
 * @param format tsv, uniq or csv.
 * @param wordBytes The word.
 * @param count Its count.
 * @returns The line's bytes, its LF included.
 */
export function referenceLine(format: number, wordBytes: Uint8Array, count: bigint): number[] {
  const digits = [...count.toString()].map((c) => c.charCodeAt(0));
  if (format === FormatCountsFormat.tsv) return [...wordBytes, 9, ...digits, 10];
  if (format === FormatCountsFormat.uniq) {
    const pad = new Array(Math.max(0, UNIQ_WIDTH - digits.length)).fill(0x20);
    return [...pad, ...digits, 0x20, ...wordBytes, 10];
  }
  const special = wordBytes.some((b) => b === 0x2c || b === 0x22 || b === 10 || b === 13);
  const field = special
    ? [0x22, ...[...wordBytes].flatMap((b) => b === 0x22 ? [b, b] : [b]), 0x22]
    : [...wordBytes];
  return [...field, 0x2c, ...digits, 10];
}

import { assert } from "../base/mod.ts";
import { KernelStatus, MergeState } from "./kernel_state.ts";
import { compareRanges, type MergeHead, mergeHead } from "./reference_merge_lines.ts";

/** What the summing merge kernel returns besides {@linkcode KernelStatus}. */
export const MergeSumStatus = {
  /**
   * The next count of a word would take its sum past 2^53 - 1 ({@linkcode MergeSumState.tooLarge}
   * names the two counts); that record is not consumed.
   */
  tooLarge: 4,
} as const;

/** Bytes of the extension that follows the merge step's block. */
const EXTENSION_BYTES = 32;
const NONE = 0xffff_ffff;
const COUNT_BYTES = 8;
/** The largest sum the kernel keeps (2^53 - 1). */
const COUNT_MAX = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * State of the summing merge kernel (`mergeSum`, src/kernels/assembly/merge_sum.ts): the
 * {@linkcode MergeState} block for `inputCount` inputs of word-sorted `[word][count u64 BE]`
 * records, followed by
 * ```
 * word 0 the open record's word (0xffffffff: none)  1 its length  2 records written
 * word 3 the kernel's loser tree: 0 not built, 0xffffffff current, 1 + i: input i's head to
 *        decode again (the kernel keeps its tree across calls: between two calls only the
 *        input it asked for, `merge.inputAsking`, may be given bytes)
 * u64 at byte 16, 24: the two counts whose sum is too large
 * ```
 * The output is records of the same format, one per distinct word with the sum of its counts.
 * {@linkcode MergeSumState.merge} gives the inputs, the output and `inputAsking`;
 * `merge.mergedCount` counts the records consumed.
 */
export class MergeSumState {
  /** The merge step's part of the block (inputs, output, records consumed). */
  readonly merge: MergeState;
  readonly #words: Uint32Array;
  readonly #view: DataView;
  readonly #at: number;

  /** Bytes of the block for `inputCount` inputs. */
  static bytes(inputCount: number): number {
    return MergeState.bytes(inputCount) + EXTENSION_BYTES;
  }

  /**
   * A view of the block at `byteOffset`; call {@linkcode MergeSumState.start} before use.
   *
   * @param memory The shared memory.
   * @param options Where the block is and how many inputs it merges.
   */
  constructor(memory: WebAssembly.Memory, options: { byteOffset: number; inputCount: number }) {
    this.merge = new MergeState(memory, options);
    const at = options.byteOffset + MergeState.bytes(options.inputCount);
    assert(at + EXTENSION_BYTES <= memory.buffer.byteLength, "merge state outside the memory");
    this.#words = new Uint32Array(memory.buffer, at, EXTENSION_BYTES / 4);
    this.#view = new DataView(memory.buffer);
    this.#at = at;
  }

  /** Byte offset of the block in the memory. */
  get byteOffset(): number {
    return this.merge.byteOffset;
  }

  /** Resets the block: inputs empty, nothing written, no open record. */
  start(): void {
    this.merge.start({ reverse: false });
    this.#words.fill(0);
    this.#words[0] = NONE;
  }

  /** Records written (modulo 2^32). */
  get writtenCount(): number {
    return this.#words[2]!;
  }

  /** After status {@linkcode MergeSumStatus.tooLarge}: the sum so far and the next count. */
  get tooLarge(): [bigint, bigint] {
    return [
      this.#view.getBigUint64(this.#at + 16, true),
      this.#view.getBigUint64(this.#at + 24, true),
    ];
  }
}

/**
 * The summing merge kernel in plain TypeScript (the tests' oracle): the same statuses, stops
 * and state words as `mergeSum`, with the smallest word found by a linear scan (ties to the
 * lower input) instead of a loser tree.
 *
 * @param memory The shared memory.
 * @param stateOffset The {@linkcode MergeSumState} block.
 * @returns A {@linkcode KernelStatus} or {@linkcode MergeSumStatus.tooLarge}.
 */
export function referenceMergeSum(memory: WebAssembly.Memory, stateOffset: number): number {
  const view = new DataView(memory.buffer);
  const bytes = new Uint8Array(memory.buffer);
  const word = (i: number) => view.getUint32(stateOffset + 4 * i, true);
  const setWord = (i: number, value: number) => view.setUint32(stateOffset + 4 * i, value, true);
  const k = word(0);
  const ext = stateOffset + MergeState.bytes(k);
  const input = (i: number) => stateOffset + 32 + 32 * i;
  /** Input i's head as [word start, word length], or why there is none. */
  const head = (i: number): MergeHead => {
    const h = mergeHead(view, bytes, input(i));
    if (typeof h === "string") return h;
    return h[1] < COUNT_BYTES ? "corrupt" : [h[0], h[1] - COUNT_BYTES];
  };
  const end = word(2);
  let out = word(1);
  let records = word(7);
  let written = view.getUint32(ext + 8, true);
  let open = view.getUint32(ext, true);
  let openLength = view.getUint32(ext + 4, true);
  const finish = (status: number, asking?: number) => {
    if (asking !== undefined) setWord(6, asking);
    setWord(1, out);
    setWord(7, records >>> 0);
    view.setUint32(ext, open, true);
    view.setUint32(ext + 4, openLength, true);
    view.setUint32(ext + 8, written >>> 0, true);
    return status;
  };
  for (let i = 0; i < k; i += 1) {
    const h = head(i);
    if (h === "need") return finish(KernelStatus.needInput, i);
    if (h === "corrupt") return finish(KernelStatus.corrupt, i);
  }
  for (;;) {
    let best = -1;
    let bestHead: [number, number] = [0, 0];
    for (let i = 0; i < k; i += 1) {
      const h = head(i);
      if (typeof h === "string") continue;
      if (best < 0 || compareRanges(bytes, h[0], h[1], bestHead[0], bestHead[1]) < 0) {
        best = i;
        bestHead = h;
      }
    }
    if (best < 0) {
      open = NONE;
      return finish(KernelStatus.done);
    }
    const [start, length] = bestHead;
    const count = view.getBigUint64(start + length, false);
    if (
      open !== NONE && openLength === length &&
      compareRanges(bytes, open, length, start, length) === 0
    ) {
      const total = view.getBigUint64(open + length, false);
      if (total + count > COUNT_MAX) {
        view.setBigUint64(ext + 16, total, true);
        view.setBigUint64(ext + 24, count, true);
        return finish(MergeSumStatus.tooLarge);
      }
      view.setBigUint64(open + length, total + count, false);
    } else {
      const recordLength = length + COUNT_BYTES;
      const encoded = varint(recordLength);
      if (out + encoded.length + recordLength > end) {
        open = NONE;
        return finish(KernelStatus.outputFull);
      }
      bytes.set(encoded, out);
      out += encoded.length;
      bytes.copyWithin(out, start, start + recordLength);
      open = out;
      openLength = length;
      out += recordLength;
      written += 1;
    }
    records += 1;
    view.setUint32(input(best), start + length + COUNT_BYTES, true);
    const next = head(best);
    if (next === "need") return finish(KernelStatus.needInput, best);
    if (next === "corrupt") return finish(KernelStatus.corrupt, best);
  }
}

function varint(value: number): number[] {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}

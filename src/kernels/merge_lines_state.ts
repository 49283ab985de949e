import { assert } from "../base/mod.ts";
import { MergeState } from "./kernel_state.ts";

/** What the merge-to-lines kernel returns besides {@linkcode KernelStatus}: the `-u` copy. */
export const MergeLinesStatus = {
  /** Unique mode: the next record is longer than the scratch; give one of `scratchNeeded` bytes. */
  needScratch: 4,
} as const;

/** Bytes of the extension that follows the merge step's block. */
const EXTENSION_BYTES = 32;

/**
 * State of the merge-to-lines kernel (`mergeLines`): the {@linkcode MergeState} block for
 * `inputCount` inputs (pending record: bytes of record + terminator written), followed by
 * ```
 * word 0 terminator  1 unique  2 scratch (copy of the last record written)  3 scratch bytes
 * word 4 last record length (0xffffffff none)  5 scratch bytes needed  6 duplicates dropped
 * ```
 * It shares the merge step's inputs, output and statuses, so {@linkcode MergeLinesState.merge}
 * is a {@linkcode MergeState} for them.
 */
export class MergeLinesState {
  /** The merge step's part of the block (inputs, output, pending, counts). */
  readonly merge: MergeState;
  readonly #words: Uint32Array;

  /** Bytes of the block for `inputCount` inputs. */
  static bytes(inputCount: number): number {
    return MergeState.bytes(inputCount) + EXTENSION_BYTES;
  }

  /**
   * A view of the block at `byteOffset`; call {@linkcode MergeLinesState.start} before use.
   *
   * @param memory The shared memory.
   * @param options Where the block is and how many inputs it merges.
   */
  constructor(memory: WebAssembly.Memory, options: { byteOffset: number; inputCount: number }) {
    this.merge = new MergeState(memory, options);
    const at = options.byteOffset + MergeState.bytes(options.inputCount);
    assert(at + EXTENSION_BYTES <= memory.buffer.byteLength, "merge state outside the memory");
    this.#words = new Uint32Array(memory.buffer, at, EXTENSION_BYTES / 4);
  }

  /** Byte offset of the block in the memory. */
  get byteOffset(): number {
    return this.merge.byteOffset;
  }

  /** Resets the block: inputs empty, nothing written, no last record. */
  start(
    options: {
      reverse: boolean;
      terminator: number;
      unique: boolean;
      keyed?: boolean;
      lineEndsKey?: boolean;
    },
  ): void {
    assert(options.terminator >= 0 && options.terminator <= 255, "terminator is not a byte");
    this.merge.start({
      reverse: options.reverse,
      keyed: options.keyed === true,
      lineEndsKey: options.lineEndsKey === true,
    });
    const w = this.#words;
    w.fill(0);
    w[0] = options.terminator;
    w[1] = options.unique ? 1 : 0;
    w[4] = 0xffff_ffff;
  }

  /**
   * Gives the kernel `[byteOffset, byteOffset + byteLength)` for the copy of the last record
   * (unique mode); the copy, if any, is moved there.
   */
  setScratch(byteOffset: number, byteLength: number, bytes: Uint8Array): void {
    const w = this.#words;
    const lastLength = w[4]!;
    if (lastLength !== 0xffff_ffff) {
      assert(lastLength <= byteLength, "the new scratch cannot hold the last record");
      bytes.copyWithin(byteOffset, w[2]!, w[2]! + lastLength);
    }
    w[2] = byteOffset;
    w[3] = byteLength;
  }

  /** Bytes the scratch must hold (after status `needScratch`). */
  get scratchNeeded(): number {
    return this.#words[5]!;
  }

  /** Where the copy of the last record written is (unique mode), or undefined before the first. */
  get lastRecord(): { byteOffset: number; byteLength: number } | undefined {
    const w = this.#words;
    return w[4] === 0xffff_ffff ? undefined : { byteOffset: w[2]!, byteLength: w[4]! };
  }

  /** Records dropped as duplicates of the last one written (modulo 2^32). */
  get droppedCount(): number {
    return this.#words[6]!;
  }
}

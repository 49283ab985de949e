import { assert } from "../base/mod.ts";
import {
  allocateBudgetBuffer,
  type BudgetBuffer,
  compareBytes,
  type MemoryManager,
} from "../memory/mod.ts";
import { LoserTree, type RecordCursor } from "../sort/blocks/mod.ts";
import { COUNT_BYTES, exactSum, readCount, writeCount } from "./count_table.ts";
import { copyBytes } from "./copy_bytes.ts";

/** Receives merged records; may return a promise when it must wait for I/O. */
export type RecordEmitter = (
  bytes: Uint8Array,
  byteOffset: number,
  byteLength: number,
  count: number,
) => Promise<void> | undefined;

/** A heap buffer with a reservation of its bytes. */
function heapBuffer(memory: MemoryManager, owner: string, byteLength: number): BudgetBuffer {
  const reservation = memory.reserve(owner, byteLength);
  return {
    bytes: new Uint8Array(byteLength),
    inSharedMemory: false,
    release: () => reservation.release(),
  };
}

/**
 * A growable scratch buffer whose bytes are reserved from the memory budget.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { MemoryManager } from "../memory/mod.ts";
 * import { ReservedScratch } from "./count_merger.ts";
 * const memory = new MemoryManager({ budgetBytes: 16 * 4096, segmentBytes: 4096 });
 * const scratch = new ReservedScratch(memory, "merge-scratch");
 * strictEqual(scratch.ensure(100).length >= 100, true);
 * scratch.close();
 * memory.assertAllReleased();
 * ```
 */
export class ReservedScratch {
  #memory: MemoryManager;
  #owner: string;
  #buffer: BudgetBuffer | undefined;
  #bytes: Uint8Array = new Uint8Array(0);

  /**
   * Makes an empty scratch; nothing is reserved until {@linkcode ReservedScratch.ensure}.
   *
   * @param memory The budget.
   * @param owner Owner of the reservation.
   */
  constructor(memory: MemoryManager, owner: string) {
    this.#memory = memory;
    this.#owner = owner;
  }

  /** The buffer (at least as long as the last `ensure`). */
  get bytes(): Uint8Array {
    return this.#bytes;
  }

  /**
   * Makes the buffer at least `byteLength` long (keeps its content).
   *
   * @throws {MemoryBudgetError} If the budget cannot take it.
   */
  ensure(byteLength: number): Uint8Array {
    if (this.#bytes.length >= byteLength) return this.#bytes;
    let size = Math.max(256, this.#bytes.length);
    while (size < byteLength) size *= 2;
    // Past 1 MiB grow by what is needed (rounded to 64 KiB), not by doubling: a 5 MiB word
    // must not take 8 MiB of the budget.
    if (size > 1 << 20) size = Math.max(this.#bytes.length, Math.ceil(byteLength / 65536) * 65536);
    // From a page up, pages of the shared memory where a run of them is free: a long word's
    // copy then adds nothing to the RSS beyond the budget's pages.
    const buffer = size >= this.#memory.segmentBytes
      ? allocateBudgetBuffer(this.#memory, this.#owner, size)
      : heapBuffer(this.#memory, this.#owner, size);
    buffer.bytes.set(this.#bytes);
    this.#buffer?.release();
    this.#buffer = buffer;
    this.#bytes = buffer.bytes;
    return buffer.bytes;
  }

  /** Gives the bytes back. Idempotent. */
  close(): void {
    this.#buffer?.release();
    this.#buffer = undefined;
    this.#bytes = new Uint8Array(0);
  }
}

async function advance(source: RecordCursor): Promise<boolean> {
  let more = source.next();
  if (more instanceof Promise) more = await more;
  return more;
}

/**
 * Merges word-sorted `[word][count u64 BE]` sources, summing the counts of equal words, and
 * emits each word once with its total. Sources are not closed here.
 *
 * @param sources Sorted inputs (runs and at most one table cursor).
 * @param scratch Holds the word being summed (grows to the longest word).
 * @param emit Receives `(word bytes, offset, length, total count)`.
 * @returns How many words were emitted.
 */
export async function mergeSummingCounts(
  sources: readonly RecordCursor[],
  scratch: ReservedScratch,
  emit: RecordEmitter,
): Promise<number> {
  if (sources.length === 0) return 0;
  const wordLess = (i: number, j: number): boolean => {
    const a = sources[i]!;
    const b = sources[j]!;
    return compareBytes(
      a.recordBytes,
      a.recordOffset,
      a.recordLength - COUNT_BYTES,
      b.recordBytes,
      b.recordOffset,
      b.recordLength - COUNT_BYTES,
    ) < 0;
  };
  const tree = new LoserTree(sources.length, wordLess);
  const live = new Uint8Array(sources.length);
  for (let i = 0; i < sources.length; i += 1) live[i] = (await advance(sources[i]!)) ? 1 : 0;
  tree.init((i) => live[i] === 0);
  let emitted = 0;
  while (tree.winner >= 0) {
    let source = sources[tree.winner]!;
    const wordLength = source.recordLength - COUNT_BYTES;
    assert(wordLength >= 0, `merge record of ${source.recordLength} bytes has no count`);
    const word = scratch.ensure(wordLength + COUNT_BYTES);
    copyBytes(source.recordBytes, source.recordOffset, word, 0, wordLength);
    let count = readCount(source.recordBytes, source.recordOffset + wordLength);
    // Advance without an async call per record (that would allocate a promise each time).
    let more = source.next();
    if (more instanceof Promise) more = await more;
    tree.replaceTop(!more);
    while (tree.winner >= 0) {
      source = sources[tree.winner]!;
      if (
        source.recordLength - COUNT_BYTES !== wordLength ||
        compareBytes(word, 0, wordLength, source.recordBytes, source.recordOffset, wordLength) !==
          0
      ) break;
      count = exactSum(count, readCount(source.recordBytes, source.recordOffset + wordLength));
      more = source.next();
      if (more instanceof Promise) more = await more;
      tree.replaceTop(!more);
    }
    const pending = emit(word, 0, wordLength, count);
    if (pending) await pending;
    emitted += 1;
  }
  return emitted;
}

/**
 * Merges sources ordered by plain byte comparison of whole records (the `[~count][word]`
 * records of the count-order sort), emitting each record as is.
 *
 * @param sources Sorted inputs.
 * @param emit Receives `(record bytes, offset, length, 0)`.
 * @returns How many records were emitted.
 */
export async function mergeRecords(
  sources: readonly RecordCursor[],
  emit: RecordEmitter,
): Promise<number> {
  if (sources.length === 0) return 0;
  const less = (i: number, j: number): boolean => {
    const a = sources[i]!;
    const b = sources[j]!;
    return compareBytes(
      a.recordBytes,
      a.recordOffset,
      a.recordLength,
      b.recordBytes,
      b.recordOffset,
      b.recordLength,
    ) < 0;
  };
  const tree = new LoserTree(sources.length, less);
  const live = new Uint8Array(sources.length);
  for (let i = 0; i < sources.length; i += 1) live[i] = (await advance(sources[i]!)) ? 1 : 0;
  tree.init((i) => live[i] === 0);
  let emitted = 0;
  while (tree.winner >= 0) {
    const source = sources[tree.winner]!;
    const pending = emit(source.recordBytes, source.recordOffset, source.recordLength, 0);
    if (pending) await pending;
    emitted += 1;
    let more = source.next();
    if (more instanceof Promise) more = await more;
    tree.replaceTop(!more);
  }
  return emitted;
}

/**
 * Encodes a `(count, word)` pair as a record that sorts by count descending, then word, under
 * plain byte comparison: `[~count u64 BE][word]`.
 *
 * @param out Where the record goes (at least `8 + wordLength` bytes).
 * @param word The word's bytes.
 * @param wordOffset Where the word starts.
 * @param wordLength The word's length.
 * @param count The count.
 * @returns The record length.
 */
export function encodeCountOrderRecord(
  out: Uint8Array,
  word: Uint8Array,
  wordOffset: number,
  wordLength: number,
  count: number,
): number {
  writeCount(out, 0, count);
  for (let i = 0; i < COUNT_BYTES; i += 1) out[i] = ~out[i]! & 0xff;
  copyBytes(word, wordOffset, out, COUNT_BYTES, wordLength);
  return COUNT_BYTES + wordLength;
}

/**
 * Reads the count of a `[~count u64 BE][word]` record.
 *
 * @param bytes The record's bytes.
 * @param offset Where the record starts.
 * @returns The count.
 */
export function decodeCountOrderCount(bytes: Uint8Array, offset: number): number {
  const high = ~((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) |
    bytes[offset + 3]!) >>> 0;
  const low = ~((bytes[offset + 4]! << 24) | (bytes[offset + 5]! << 16) |
    (bytes[offset + 6]! << 8) | bytes[offset + 7]!) >>> 0;
  return high * 0x1_0000_0000 + low;
}

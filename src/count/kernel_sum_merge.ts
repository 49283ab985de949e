/**
 * The summing merge of count runs on the WebAssembly kernel `mergeSum`
 * (src/kernels/assembly/merge_sum.ts): the runs' blocks are merged in place (records cut by a
 * block border go through per-input carries, as in the sort's kernel merge), equal words are
 * summed in the kernel, and each output block of `[word][count u64 BE]` records is handed to
 * the emitter record by record. No loser tree, no compare and no copy per record in
 * TypeScript.
 *
 * ```
 *  run 0 blocks ──┐
 *  run 1 blocks ──┼─► mergeSum(state) ─► output block ─► emit(word, count) for each record
 *  run k blocks ──┘    (needInput: BlockInputs.refill)
 * ```
 *
 * @module
 */

import { assert } from "../base/mod.ts";
import {
  FormatCountsState,
  FormatCountsStatus,
  KernelStatus,
  MergeSumState,
  MergeSumStatus,
  type WasmKernels,
} from "../kernels/mod.ts";
import type { MemoryManager } from "../memory/mod.ts";
import {
  BlockInputs,
  type BlockSource,
  managedMergeRegions,
  type MergeRegion,
} from "../sort/blocks/mod.ts";
import { COUNT_BYTES, exactSum, kernelsFor, readCount } from "./count_table.ts";
import type { RecordEmitter } from "./count_merger.ts";

/** Pages the kernel merge takes beside the readers: its output blocks (the state is extra). */
const OUTPUT_SEGMENTS = 2;

/**
 * Formatted output for the count formatter kernel (`formatCounts`): the merge writes its
 * records as lines of `format` into its second output page, which goes out in one write.
 */
export interface CountLineOutput {
  /** A `FormatCountsFormat` code (tsv, uniq, csv). */
  readonly format: number;
  /** Records with a smaller count are skipped (not written, not noted). */
  readonly minCount: number;
  /** Records with a larger count go to the merge's emitter instead (default: none). */
  readonly maxCount?: number;
  /** The most bytes the next write takes (default: a page). */
  room?(): number;
  /**
   * Writes `lineCount` formatted lines (a view of the shared memory, read during the call
   * only).
   */
  write(
    bytes: Uint8Array,
    byteOffset: number,
    byteLength: number,
    lineCount: number,
  ): Promise<void> | undefined;
  /** Notes `lineCount` lines written and `recordBytes` bytes of records (word + count) read. */
  noted(lineCount: number, recordBytes: number): void;
}

/** Bytes of the merge state block plus the formatter's (8-byte aligned). */
function stateBytes(inputCount: number): number {
  return formatStateAt(inputCount) + FormatCountsState.bytes;
}

function formatStateAt(inputCount: number): number {
  return Math.ceil(MergeSumState.bytes(inputCount) / 8) * 8;
}

/**
 * Segments {@linkcode mergeSummingCountsKernel} takes beside its readers (state and output;
 * the carries take the place of the readers' record scratch, which block mode never uses).
 *
 * @param segmentBytes The page size.
 * @param inputCount Runs merged.
 * @returns Segments.
 */
export function kernelSumMergeSegments(segmentBytes: number, inputCount: number): number {
  return Math.ceil(stateBytes(inputCount) / segmentBytes) + OUTPUT_SEGMENTS;
}

/**
 * Merges word-sorted, summed count runs with the summing merge kernel and emits each word
 * once with its total, in word order: what `mergeSummingCounts` does for run readers. The
 * sources are run readers in block mode (fresh: no `next()` called), or a count table's
 * sorted blocks; they are not closed here. Every record
 * must fit an output block (words up to a page; longer words take the JS merge).
 *
 * With `options.lines`, the records go through the count formatter kernel into the merge's
 * second output page and out as lines; `emit` then gets only a record whose line is longer
 * than that page (its count at least the minimum or not).
 *
 * @param readers The sources.
 * @param emit Receives `(bytes, word offset, word length, total count)`.
 * @param options The budget, the owner of the kernel's pages, the records the runs hold and
 *   where formatted lines go.
 * @returns How many words were emitted, and how many distinct words the merge summed.
 * @throws {InputError} When a sum passes 2^53 - 1 (as `exactSum`).
 * @throws {CorruptSpillError} When a run ends inside a record or holds a bad length.
 */
export async function mergeSummingCountsKernel(
  readers: readonly BlockSource[],
  emit: RecordEmitter,
  options: {
    memory: MemoryManager;
    owner: string;
    expectedRecords: number;
    lines?: CountLineOutput | undefined;
  },
): Promise<{ emitted: number; words: number }> {
  assert(readers.length >= 1, "a kernel merge needs at least one run");
  const memory = options.memory;
  const regions = managedMergeRegions(memory, {
    owner: options.owner,
    outputSegments: OUTPUT_SEGMENTS,
  });
  try {
    const k = readers.length;
    const stateRegion = regions.state(stateBytes(k));
    const state = new MergeSumState(memory.wasmMemory, {
      byteOffset: stateRegion.byteOffset,
      inputCount: k,
    });
    state.start();
    const merge = state.merge;
    const inputs = new BlockInputs(readers, regions, merge);
    const [output, formatted] = regions.outputs() as [MergeRegion, MergeRegion];
    const kernels = kernelsFor(memory.wasmMemory);
    const lines = options.lines;
    const formatter = lines === undefined ? undefined : new LineFormatter(
      memory.wasmMemory,
      kernels,
      { stateOffset: stateRegion.byteOffset + formatStateAt(k), output: formatted, lines, emit },
    );
    let emitted = 0;
    // The kernel's count of records written wraps at 2^32: summed here call by call.
    let words = 0;
    let written = state.writtenCount;
    merge.setOutput(output.byteOffset, output.byteOffset + output.byteLength);
    for (;;) {
      const status = kernels.mergeSum(state.byteOffset);
      words += (state.writtenCount - written) >>> 0;
      written = state.writtenCount;
      if (status === KernelStatus.needInput) {
        await inputs.refill(merge.inputAsking);
        continue;
      }
      if (status === KernelStatus.corrupt) inputs.corrupt(merge.inputAsking);
      if (status === MergeSumStatus.tooLarge) {
        const [total, count] = state.tooLarge;
        exactSum(Number(total), Number(count)); // throws its InputError
        throw new Error("The summing merge kernel stopped on a sum that fits"); // not reached
      }
      if (status !== KernelStatus.outputFull && status !== KernelStatus.done) {
        assert(false, `summing merge kernel returned ${status}`); // per block: built on failure only
      }
      const end = merge.outputOffset;
      assert(
        status === KernelStatus.done || end > output.byteOffset,
        "a count record longer than the kernel's output block",
      );
      emitted += formatter === undefined
        ? await emitBlock(memory.wasmMemory, output.byteOffset, end, emit)
        : await formatter.format(output.byteOffset, end);
      if (status === KernelStatus.done) break;
      merge.setOutput(output.byteOffset, output.byteOffset + output.byteLength);
    }
    if (merge.mergedCount >>> 0 !== options.expectedRecords >>> 0) {
      throw new Error(
        `The summing merge kernel merged ${merge.mergedCount} records, the runs hold ${options.expectedRecords}`,
      );
    }
    return { emitted, words };
  } finally {
    regions.release();
  }
}

/**
 * Formats blocks of count records into lines with the count formatter kernel and writes them,
 * one write per filled page; a record whose line does not fit an empty page goes to `emit`.
 */
export class LineFormatter {
  readonly #memory: WebAssembly.Memory;
  readonly #kernels: WasmKernels;
  readonly #state: FormatCountsState;
  readonly #output: MergeRegion;
  readonly #lines: CountLineOutput;
  readonly #emit: RecordEmitter;

  /**
   * Makes a formatter over a state block and an output page of the shared memory.
   *
   * @param memory The shared memory.
   * @param kernels Its kernels.
   * @param parts The state block (8-byte aligned), the output page, where lines go and the
   *   emitter for lines longer than the page.
   */
  constructor(
    memory: WebAssembly.Memory,
    kernels: WasmKernels,
    parts: {
      stateOffset: number;
      output: MergeRegion;
      lines: CountLineOutput;
      emit: RecordEmitter;
    },
  ) {
    this.#memory = memory;
    this.#kernels = kernels;
    this.#state = new FormatCountsState(memory, parts.stateOffset);
    this.#state.start({
      format: parts.lines.format,
      minCount: parts.lines.minCount,
      ...(parts.lines.maxCount === undefined ? {} : { maxCount: parts.lines.maxCount }),
    });
    this.#output = parts.output;
    this.#lines = parts.lines;
    this.#emit = parts.emit;
  }

  /**
   * Formats and writes the records of `[start, end)`.
   *
   * @returns How many records it read.
   * @throws {Error} When a record is malformed (the merge's output: a bug).
   */
  async format(start: number, end: number): Promise<number> {
    const state = this.#state;
    const outStart = this.#output.byteOffset;
    const pageBytes = this.#output.byteLength;
    const room = this.#lines.room;
    state.setInput(start, end);
    const recordsBefore = state.recordCount;
    let emitted = 0;
    for (;;) {
      const outBytes = room === undefined ? pageBytes : Math.min(pageBytes, room());
      state.setOutput(outStart, outStart + outBytes);
      const lines = state.lineCount;
      const recordBytes = state.recordBytes;
      const status = this.#kernels.formatCounts(state.byteOffset);
      assert(status !== KernelStatus.corrupt, "a malformed record in a count block");
      const lineCount = (state.lineCount - lines) >>> 0;
      this.#lines.noted(lineCount, (state.recordBytes - recordBytes) >>> 0);
      const written = state.outputOffset - outStart;
      if (written > 0) {
        const bytes = new Uint8Array(this.#memory.buffer, outStart, written);
        const pending = this.#lines.write(bytes, 0, written, lineCount);
        if (pending) await pending;
      }
      if (status === KernelStatus.done) break;
      if (status === FormatCountsStatus.above || written === 0) {
        // A count above the maximum, or a line longer than the room: this one record goes
        // to the emitter.
        const at = state.inputOffset;
        const next = recordEnd(new Uint8Array(this.#memory.buffer), at);
        emitted += await emitBlock(this.#memory, at, next, this.#emit);
        state.setInput(next, end);
      }
    }
    return ((state.recordCount - recordsBefore) >>> 0) + emitted;
  }
}

/** Where the encoded record (varint length + bytes) at `at` ends. */
function recordEnd(bytes: Uint8Array, at: number): number {
  let length = 0;
  let scale = 1;
  for (;;) {
    const byte = bytes[at]!;
    at += 1;
    length += (byte & 0x7f) * scale;
    if (byte < 0x80) return at + length;
    scale *= 0x80;
  }
}

/** Emits the `[word][count]` records of the payload `[start, end)`; returns how many. */
async function emitBlock(
  memory: WebAssembly.Memory,
  start: number,
  end: number,
  emit: RecordEmitter,
): Promise<number> {
  // One view per block (the emitter may keep none of it past its call).
  const bytes = new Uint8Array(memory.buffer, start, end - start);
  const length = end - start;
  let at = 0;
  let emitted = 0;
  while (at < length) {
    let recordLength = bytes[at]!;
    at += 1;
    if (recordLength >= 0x80) {
      recordLength &= 0x7f;
      let scale = 0x80;
      for (;;) {
        const byte = bytes[at]!;
        at += 1;
        recordLength += (byte & 0x7f) * scale;
        if (byte < 0x80) break;
        scale *= 0x80;
      }
    }
    const wordLength = recordLength - COUNT_BYTES;
    const countAt = at + wordLength;
    const pending = emit(bytes, at, wordLength, readCount(bytes, countAt));
    if (pending) await pending;
    at += recordLength;
    emitted += 1;
  }
  return emitted;
}

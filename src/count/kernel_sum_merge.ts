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
import { KernelStatus, MergeSumState, MergeSumStatus } from "../kernels/mod.ts";
import type { MemoryManager } from "../memory/mod.ts";
import { BlockInputs, type BlockSource, managedMergeRegions } from "../sort/mod.ts";
import { COUNT_BYTES, exactSum, kernelsFor, readCount } from "./count_table.ts";
import type { RecordEmitter } from "./count_merger.ts";

/** Pages the kernel merge takes beside the readers: its output blocks (the state is extra). */
const OUTPUT_SEGMENTS = 2;

/**
 * Segments {@linkcode mergeSummingCountsKernel} takes beside its readers (state and output;
 * the carries take the place of the readers' record scratch, which block mode never uses).
 *
 * @param segmentBytes The page size.
 * @param inputCount Runs merged.
 * @returns Segments.
 */
export function kernelSumMergeSegments(segmentBytes: number, inputCount: number): number {
  return Math.ceil(MergeSumState.bytes(inputCount) / segmentBytes) + OUTPUT_SEGMENTS;
}

/**
 * Merges word-sorted, summed count runs with the summing merge kernel and emits each word
 * once with its total, in word order: what `mergeSummingCounts` does for run readers. The
 * sources are run readers in block mode (fresh: no `next()` called), or a count table's
 * sorted blocks; they are not closed here. Every record
 * must fit an output block (words up to a page; longer words take the JS merge).
 *
 * @param readers The sources.
 * @param emit Receives `(bytes, word offset, word length, total count)`.
 * @param options The budget, the owner of the kernel's pages and the records the runs hold.
 * @returns How many words were emitted.
 * @throws {InputError} When a sum passes 2^53 - 1 (as `exactSum`).
 * @throws {CorruptSpillError} When a run ends inside a record or holds a bad length.
 */
export async function mergeSummingCountsKernel(
  readers: readonly BlockSource[],
  emit: RecordEmitter,
  options: { memory: MemoryManager; owner: string; expectedRecords: number },
): Promise<number> {
  assert(readers.length >= 1, "a kernel merge needs at least one run");
  const memory = options.memory;
  const regions = managedMergeRegions(memory, {
    owner: options.owner,
    outputSegments: OUTPUT_SEGMENTS,
  });
  try {
    const k = readers.length;
    const state = new MergeSumState(memory.wasmMemory, {
      byteOffset: regions.state(MergeSumState.bytes(k)).byteOffset,
      inputCount: k,
    });
    state.start();
    const merge = state.merge;
    const inputs = new BlockInputs(readers, regions, merge);
    const output = regions.outputs()[0]!;
    const kernels = kernelsFor(memory.wasmMemory);
    let emitted = 0;
    merge.setOutput(output.byteOffset, output.byteOffset + output.byteLength);
    for (;;) {
      const status = kernels.mergeSum(state.byteOffset);
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
      assert(
        status === KernelStatus.outputFull || status === KernelStatus.done,
        `summing merge kernel returned ${status}`,
      );
      const end = merge.outputOffset;
      assert(
        status === KernelStatus.done || end > output.byteOffset,
        "a count record longer than the kernel's output block",
      );
      emitted += await emitBlock(memory.wasmMemory, output.byteOffset, end, emit);
      if (status === KernelStatus.done) break;
      merge.setOutput(output.byteOffset, output.byteOffset + output.byteLength);
    }
    if (merge.mergedCount >>> 0 !== options.expectedRecords >>> 0) {
      throw new Error(
        `The summing merge kernel merged ${merge.mergedCount} records, the runs hold ${options.expectedRecords}`,
      );
    }
    return emitted;
  } finally {
    regions.release();
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

/**
 * `sort -m` and `spillway merge` of a plain byte order (`-r`, `-u`, `-z` too) on the merge
 * kernel: each sorted input file is read in chunks of whole lines into the shared memory
 * (io's LineReader, `sharedChunk`), and the `mergeText` kernel merges the chunks in place into
 * output halves that this thread writes while the kernel fills the other
 * ({@linkcode mergeBlocksToLines} with `text`):
 *
 * ```
 *  input 0 ─ nextChunk ─► [ chunk 0: whole lines ]──┐  needInput i: the chunk is merged,
 *  input 1 ─ nextChunk ─► [ chunk 1: whole lines ]──┼─► read input i's next chunk
 *                                                   ▼
 *                 mergeText(state) ─► [ output half A ][ output half B ] ─► write
 * ```
 *
 * Like the loser tree (src/sort/run_merger.ts), the kernel writes the smallest head each time,
 * ties to the lower input, so unsorted inputs give the same output as before (and as GNU
 * `sort -m`, which does not check the order either). Keyed orders keep the loser tree.
 *
 * @module
 */

import { assert } from "../base/mod.ts";
import type { IoManager, LineReader } from "../io/mod.ts";
import type { KernelSet } from "../kernels/mod.ts";
import type { MemoryManager, SegmentLease } from "../memory/mod.ts";
import {
  type BlockSource,
  type BlockWrite,
  type KernelMergeResult,
  managedMergeRegions,
  mergeBlocksToLines,
} from "./kernel_merge.ts";
import { inputMergeChunkSegments } from "./merge_plan.ts";

/** Bytes of the output halves together when the budget has room (fewer, larger writes). */
const TEXT_MERGE_OUTPUT_BYTES_MAX = 2 * 1024 * 1024;
/** Pages beside the chunks and halves: the state, the `-u` copy, a long line's copy, spare. */
const TEXT_MERGE_OTHER_SEGMENTS = 5;

/** Counters a text merge adds to (the command's stats). */
export interface TextMergeCounters {
  /** Bytes of the chunks read (a terminator appended to a last line included). */
  inputBytes: number;
  /** Lines read. */
  inputRecords: number;
}

/** Options of {@linkcode mergeTextFiles}. */
export interface TextMergeOptions {
  /** The budget (the chunks, the state and the output halves come from it). */
  memory: MemoryManager;
  /** Opens the inputs. */
  io: IoManager;
  /** The kernels over the budget's memory, on this thread. */
  kernels: KernelSet;
  /** Descending byte order (`-r`). */
  reverse: boolean;
  /** Keep the first of equal lines only (`-u`). */
  unique: boolean;
  /** The line terminator: 10, or 0 for `-z`. */
  terminator: number;
  /** Owner of every page taken. */
  owner: string;
  /** The plan ({@linkcode planTextMerge}). */
  plan: TextMergePlan;
  /** Stats to add to. */
  counters: TextMergeCounters;
}

/** How a text merge splits the pages free when it starts. */
export interface TextMergePlan {
  /** Pages of each input's chunk. */
  chunkSegments: number;
  /** Pages of the two output halves together. */
  outputSegments: number;
}

/**
 * The pages of a text merge of `inputCount` inputs in `freeSegments` free pages: each input's
 * chunk as `chunkSegments` says (the merge's share, merge_plan.ts), output halves of an eighth
 * of what is left (at most {@linkcode TEXT_MERGE_OUTPUT_BYTES_MAX}), and the state and spares.
 *
 * @param memory The budget (its free pages and page size).
 * @param options Inputs, and the pages of each chunk (default: the merge's share, merge_plan.ts).
 * @returns The plan, or undefined when the pages free cannot hold it (then the loser tree).
 */
export function planTextMerge(
  memory: MemoryManager,
  options: { inputCount: number; chunkSegments?: number },
): TextMergePlan | undefined {
  const chunkSegments = options.chunkSegments ??
    inputMergeChunkSegments(memory.freeSegments, options.inputCount, memory.segmentBytes);
  const left = memory.freeSegments - options.inputCount * chunkSegments -
    TEXT_MERGE_OTHER_SEGMENTS;
  const wanted = 2 * Math.max(1, Math.floor(TEXT_MERGE_OUTPUT_BYTES_MAX / 2 / memory.segmentBytes));
  // At most an eighth of what is left: the rest stays free for long lines, which the readers
  // assemble in buffers of their own (every input may hold one at once), and the `-u` copy.
  const outputSegments = Math.min(wanted, 2 * Math.floor(left / 16));
  if (outputSegments < 2) return undefined;
  return { chunkSegments, outputSegments };
}

/**
 * Merges sorted text files in a plain byte order on the merge kernel (see the module doc);
 * every filled output half goes to `write`, in order.
 *
 * @param paths The inputs (`-` is standard input), in input order (ties go to the first).
 * @param write Receives each output half (a view of the shared memory until it settles).
 * @param options Order, budget, plan, counters.
 * @returns Lines written and dropped by `-u`.
 * @throws {InputError} When an input cannot be read.
 */
export async function mergeTextFiles(
  paths: readonly string[],
  write: BlockWrite,
  options: TextMergeOptions,
): Promise<KernelMergeResult> {
  assert(paths.length >= 1, "a text merge needs an input");
  const sources: LineBlocks[] = [];
  try {
    for (const path of paths) {
      const reader = await options.io.openInput(path, {
        owner: options.owner,
        terminator: options.terminator,
        chunkSegments: options.plan.chunkSegments,
        sharedChunk: true,
      });
      sources.push(new LineBlocks(reader, options));
    }
    const result = await mergeBlocksToLines(sources, write, {
      regions: managedMergeRegions(options.memory, {
        owner: options.owner,
        outputSegments: options.plan.outputSegments,
      }),
      kernels: options.kernels,
      reverse: options.reverse,
      unique: options.unique,
      terminator: options.terminator,
      expectedRecords: -1,
      text: true,
    });
    options.counters.inputRecords += result.writtenCount + result.droppedCount;
    return result;
  } finally {
    for (const source of sources) await source.close();
  }
}

/**
 * A {@linkcode LineReader}'s chunks as blocks of whole lines in the shared memory. A chunk off
 * the pages (a line longer than the chunk that the reader assembled in a heap buffer) is copied
 * into contiguous pages of its own, kept until the next chunk.
 */
class LineBlocks implements BlockSource {
  blockStart = 0;
  blockEnd = 0;
  blockIndex = -1;
  readonly isLastBlock = false;
  readonly #reader: LineReader;
  readonly #memory: MemoryManager;
  readonly #owner: string;
  readonly #counters: TextMergeCounters;
  #copy: SegmentLease | undefined = undefined;

  constructor(reader: LineReader, options: TextMergeOptions) {
    this.#reader = reader;
    this.#memory = options.memory;
    this.#owner = options.owner;
    this.#counters = options.counters;
  }

  async nextBlock(): Promise<boolean> {
    this.#copy?.release();
    this.#copy = undefined;
    const chunk = await this.#reader.nextChunk();
    if (chunk === undefined) return false;
    this.#counters.inputBytes += chunk.length;
    this.blockIndex += 1;
    const memory = this.#memory;
    let start = chunk.byteOffset;
    // A view of the shared memory may hold an older `buffer` object of it (each grow gives a
    // new one): the chunk's kind of buffer says where it is, not the buffer's identity.
    if (!(chunk.buffer instanceof SharedArrayBuffer)) {
      this.#copy = memory.allocateContiguous(
        this.#owner,
        Math.ceil(chunk.length / memory.segmentBytes),
      );
      const segment = this.#copy.segments[0]!;
      segment.bytes.set(chunk, 0);
      start = segment.memoryOffset;
    }
    this.blockStart = start;
    this.blockEnd = start + chunk.length;
    return true;
  }

  async close(): Promise<void> {
    this.#copy?.release();
    this.#copy = undefined;
    await this.#reader.close();
  }
}

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
 * Long lines: a line longer than the chunk comes from its reader's own buffer (the reader's
 * chunk pages are free meanwhile: `freeChunkForLongRecords`), in place when that buffer is
 * pages of the budget. A line in a heap buffer (no run of free pages that long), a reader that
 * finds no room for its buffer beside the kernel's output halves, or a `-u` copy that no run of
 * pages holds hands the rest of the merge to the loser tree ({@linkcode KernelHandoff}).
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
  type KernelMergeControl,
  type KernelMergeRest,
  type KernelMergeResult,
  KernelMergeStopped,
  managedMergeRegions,
  mergeBlocksToLines,
  type MergeRegion,
  type MergeRegions,
} from "./kernel_merge.ts";
import { inputMergeChunkSegments } from "./merge_plan.ts";
import { BytesOrder } from "./record_order.ts";
import { mergeCursors, type RecordCursor, UniqueFilter } from "./run_merger.ts";

/** Bytes of the output halves together when the budget has room (fewer, larger writes). */
const TEXT_MERGE_OUTPUT_BYTES_MAX = 2 * 1024 * 1024;
/** Pages beside the chunks and halves: the state, the `-u` copy, the handoff's page, spare. */
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
 * every filled output half goes to `write`, in order. A line the kernel cannot have in the
 * shared memory hands the rest of the merge to the loser tree ({@linkcode KernelHandoff}).
 *
 * @param paths The inputs (`-` is standard input), in input order (ties go to the first).
 * @param write Receives each output half (a view of the shared memory until it settles).
 * @param options Order, budget, plan, counters.
 * @returns Lines written and dropped by `-u`.
 * @throws {InputError} When an input cannot be read.
 * @throws {RecordTooLargeError} When a line does not fit the budget beside the lines held.
 */
export async function mergeTextFiles(
  paths: readonly string[],
  write: BlockWrite,
  options: TextMergeOptions,
): Promise<KernelMergeResult> {
  assert(paths.length >= 1, "a text merge needs an input");
  const sources: LineBlocks[] = [];
  const handoff = new KernelHandoff(options);
  try {
    for (const path of paths) {
      const reader = await options.io.openInput(path, {
        owner: options.owner,
        terminator: options.terminator,
        chunkSegments: options.plan.chunkSegments,
        sharedChunk: true,
        freeChunkForLongRecords: true,
        onMemoryShort: () => handoff.stopForMemory(),
      });
      sources.push(new LineBlocks(reader, options, handoff));
    }
    let result = await mergeBlocksToLines(sources, write, {
      regions: handoff.regions,
      kernels: options.kernels,
      reverse: options.reverse,
      unique: options.unique,
      terminator: options.terminator,
      expectedRecords: -1,
      text: true,
      control: handoff.control,
    });
    if (result.rest !== undefined) result = await handoff.mergeRest(sources, result.rest, write);
    options.counters.inputRecords += result.writtenCount + result.droppedCount;
    return result;
  } finally {
    handoff.release();
    for (const source of sources) await source.close();
  }
}

/**
 * The way from the kernel to the loser tree, taken at most once per merge and only for a line
 * the kernel cannot have in the shared memory: a line longer than the chunk that the reader
 * could read only into a heap buffer (no run of free pages as long), or into no buffer beside
 * the kernel's output halves; or a `-u` copy of a line that no run of free pages holds.
 *
 * ```
 *  kernel merge ── stop(): write the output merged so far; every input's unmerged lines
 *       │          stay where they are (its chunk); the -u copy of the last line written
 *       ▼          moves into the loser tree's filter; the halves and the state are freed
 *  loser tree (mergeCursors) over the same readers: each input's rest, then its next chunks,
 *  through one staging page to `write`
 * ```
 *
 * Output order, ties (to the lower input) and `-u` (against the last line written) are the
 * kernel's, so the output is the same as without the stop. The loser tree then merges the rest
 * of the inputs (slower per line, within the same budget); a merge without such a line never
 * stops.
 */
class KernelHandoff {
  /** Filled in by the kernel merge (its stop function while it waits for input). */
  readonly control: KernelMergeControl = {};
  /** The kernel's regions; their pages are given back by the stop or by `release()`. */
  readonly regions: MergeRegions;
  readonly #options: TextMergeOptions;
  readonly #managed: MergeRegions;
  /** The `-u` copy's pages: kept apart, freed after the filter took the copy. */
  #scratch: SegmentLease | undefined = undefined;
  #filter: UniqueFilter | undefined = undefined;
  #rest: KernelMergeRest | undefined = undefined;

  constructor(options: TextMergeOptions) {
    this.#options = options;
    const memory = options.memory;
    this.#managed = managedMergeRegions(memory, {
      owner: options.owner,
      outputSegments: options.plan.outputSegments,
    });
    this.regions = {
      memory: memory.wasmMemory,
      state: (byteLength) => this.#managed.state(byteLength),
      outputs: () => this.#managed.outputs(),
      carry: (input, byteLength, keepBytes) => this.#managed.carry(input, byteLength, keepBytes),
      scratch: (byteLength, moveInto) => this.#growScratch(byteLength, moveInto),
      // Given back here (the stop reads the state and the -u copy after the merge returns).
      release: () => {},
    };
  }

  /** Whether the kernel merge was stopped (the loser tree merges the rest). */
  get isStopped(): boolean {
    return this.#rest !== undefined;
  }

  /**
   * A reader's `onMemoryShort`: stops the kernel merge (freeing its output halves and state)
   * so that the reader may try its long line's buffer again; false once stopped already.
   */
  async stopForMemory(): Promise<boolean> {
    if (this.isStopped || this.control.stop === undefined) return false;
    await this.stop();
    return true;
  }

  /** Stops the kernel merge, which waits for input; see the class doc. */
  async stop(): Promise<void> {
    const stop = this.control.stop;
    assert(stop !== undefined && !this.isStopped, "the text merge's kernel cannot stop now");
    this.#stopped(await stop());
  }

  /**
   * Merges the rest of the inputs on the loser tree after the kernel merge stopped at `rest`.
   *
   * @returns The lines written and dropped by the kernel and by the loser tree together.
   */
  async mergeRest(
    sources: readonly LineBlocks[],
    rest: KernelMergeRest,
    write: BlockWrite,
  ): Promise<KernelMergeResult> {
    if (!this.isStopped) this.#stopped(rest); // the kernel stopped itself (-u copy)
    const options = this.#options;
    for (const [i, source] of sources.entries()) {
      source.resume(i === rest.asking ? undefined : rest.inputs[i]!);
    }
    const stage = new LineStage(options, write);
    try {
      const written = await mergeCursors(sources, (bytes, byteOffset, byteLength) => {
        return stage.add(bytes, byteOffset, byteLength);
      }, {
        order: new BytesOrder(options.reverse),
        unique: options.unique,
        memory: options.memory,
        owner: options.owner,
        filter: this.#filter,
      });
      await stage.flush();
      let lines = 0;
      for (const source of sources) lines += source.lineCount;
      return {
        writtenCount: rest.writtenCount + written,
        droppedCount: rest.droppedCount + lines - written,
      };
    } finally {
      stage.release();
    }
  }

  /** Gives every page back; idempotent. */
  release(): void {
    this.#managed.release();
    this.#scratch?.release();
    this.#scratch = undefined;
    this.#filter?.release();
  }

  /** After the stop: the -u copy moves into the loser tree's filter; the kernel's pages go. */
  #stopped(rest: KernelMergeRest): void {
    this.#rest = rest;
    const options = this.#options;
    this.#managed.release();
    const filter = new UniqueFilter({
      order: new BytesOrder(options.reverse),
      unique: options.unique,
      memory: options.memory,
      owner: options.owner,
    });
    this.#filter = filter;
    const last = rest.lastRecord;
    if (options.unique && last !== undefined) {
      const bytes = new Uint8Array(options.memory.wasmMemory.buffer);
      filter.accept(bytes, last.byteOffset, last.byteLength);
    }
    this.#scratch?.release();
    this.#scratch = undefined;
  }

  /** The kernel's `-u` copy: contiguous pages, the copy moved over before the old go. */
  #growScratch(byteLength: number, moveInto: (region: MergeRegion) => void): MergeRegion {
    const memory = this.#options.memory;
    const lease = memory.allocateContiguous(
      this.#options.owner,
      Math.ceil(Math.max(byteLength, 1) / memory.segmentBytes),
    );
    const segment = lease.segments[0]!;
    const region = { byteOffset: segment.memoryOffset, byteLength: segment.byteLength };
    try {
      moveInto(region);
    } catch (error) {
      lease.release();
      throw error;
    }
    this.#scratch?.release();
    this.#scratch = lease;
    return region;
  }
}

/**
 * The loser tree's output after a {@linkcode KernelHandoff}: lines and their terminators
 * copied into one page of the budget, handed to `write` when it is full.
 */
class LineStage {
  readonly #lease: SegmentLease;
  readonly #bytes: Uint8Array;
  readonly #terminator: number;
  readonly #write: BlockWrite;
  #filled = 0;

  constructor(options: TextMergeOptions, write: BlockWrite) {
    this.#lease = options.memory.allocate(options.owner, 1);
    this.#bytes = this.#lease.segments[0]!.bytes;
    this.#terminator = options.terminator;
    this.#write = write;
  }

  /** Appends a line and its terminator; a promise when the page had to be written first. */
  add(bytes: Uint8Array, byteOffset: number, byteLength: number): Promise<void> | undefined {
    const filled = this.#filled;
    if (filled + byteLength + 1 > this.#bytes.length) {
      return this.#addLong(bytes, byteOffset, byteLength);
    }
    this.#bytes.set(bytes.subarray(byteOffset, byteOffset + byteLength), filled);
    this.#bytes[filled + byteLength] = this.#terminator;
    this.#filled = filled + byteLength + 1;
    return undefined;
  }

  /** Hands what the page holds to `write` and waits for it. */
  async flush(): Promise<void> {
    if (this.#filled === 0) return;
    const pending = this.#write(this.#bytes, this.#filled, 0);
    this.#filled = 0;
    if (pending !== undefined) await pending;
  }

  release(): void {
    this.#lease[Symbol.dispose]();
  }

  /** A line that does not fit what is left of the page: written in pieces, page by page. */
  async #addLong(bytes: Uint8Array, byteOffset: number, byteLength: number): Promise<void> {
    let at = byteOffset;
    const end = byteOffset + byteLength;
    while (at < end) {
      if (this.#filled === this.#bytes.length) await this.flush();
      const take = Math.min(end - at, this.#bytes.length - this.#filled);
      this.#bytes.set(bytes.subarray(at, at + take), this.#filled);
      this.#filled += take;
      at += take;
    }
    if (this.#filled === this.#bytes.length) await this.flush();
    this.#bytes[this.#filled] = this.#terminator;
    this.#filled += 1;
  }
}

const NO_BYTES = new Uint8Array(0);

/**
 * A {@linkcode LineReader}'s chunks as blocks of whole lines in the shared memory for the
 * kernel, and after a {@linkcode KernelHandoff} its lines for the loser tree. A chunk off the
 * pages (a line longer than the chunk that the reader assembled in a heap buffer) is copied
 * into contiguous pages of its own, kept until the next chunk; where no run of free pages holds
 * it, the kernel merge stops and the loser tree reads the line where it is.
 */
class LineBlocks implements BlockSource, RecordCursor {
  blockStart = 0;
  blockEnd = 0;
  blockIndex = -1;
  readonly isLastBlock = false;
  /** The loser tree's current line (after {@linkcode LineBlocks.resume}). */
  recordBytes: Uint8Array = NO_BYTES;
  recordOffset = 0;
  recordLength = 0;
  /** Lines the loser tree read. */
  lineCount = 0;
  readonly #reader: LineReader;
  readonly #memory: MemoryManager;
  readonly #terminator: number;
  readonly #counters: TextMergeCounters;
  readonly #handoff: KernelHandoff;
  /** The last chunk read. */
  #chunk: Uint8Array = NO_BYTES;
  #position = 0;

  constructor(reader: LineReader, options: TextMergeOptions, handoff: KernelHandoff) {
    this.#reader = reader;
    this.#memory = options.memory;
    this.#terminator = options.terminator;
    this.#counters = options.counters;
    this.#handoff = handoff;
  }

  async nextBlock(): Promise<boolean> {
    if (!(await this.#read())) return false;
    const chunk = this.#chunk;
    // The reader's onMemoryShort stopped the kernel merge for this chunk's line.
    if (this.#handoff.isStopped) throw new KernelMergeStopped();
    // A view of the shared memory may hold an older `buffer` object of it (each grow gives a
    // new one): the chunk's kind of buffer says where it is, not the buffer's identity. A heap
    // chunk is a long line no run of free pages could take: a copy would need such a run too
    // (and hold the line twice), so the loser tree reads it where it is.
    if (!(chunk.buffer instanceof SharedArrayBuffer)) {
      await this.#handoff.stop();
      throw new KernelMergeStopped();
    }
    this.blockStart = chunk.byteOffset;
    this.blockEnd = chunk.byteOffset + chunk.length;
    return true;
  }

  /**
   * Where the loser tree starts: the unmerged lines `rest` of the current chunk, or (undefined)
   * the whole chunk read last (the one the kernel merge stopped for).
   */
  resume(rest: MergeRegion | undefined): void {
    this.recordBytes = rest === undefined
      ? this.#chunk
      : new Uint8Array(this.#memory.wasmMemory.buffer, rest.byteOffset, rest.byteLength);
    this.#position = 0;
  }

  /** The loser tree's next line. */
  next(): boolean | Promise<boolean> {
    const lines = this.recordBytes;
    const at = this.#position;
    if (at < lines.length) {
      const stop = lines.indexOf(this.#terminator, at);
      this.recordOffset = at;
      this.recordLength = stop - at;
      this.#position = stop + 1;
      this.lineCount += 1;
      return true;
    }
    return this.#nextLines();
  }

  async close(): Promise<void> {
    await this.#reader.close();
  }

  async #nextLines(): Promise<boolean> {
    const more = await this.#read();
    this.recordBytes = more ? this.#chunk : NO_BYTES;
    this.#position = 0;
    return more && this.next() === true;
  }

  /** Reads the next chunk into `#chunk`. */
  async #read(): Promise<boolean> {
    const chunk = await this.#reader.nextChunk();
    this.#chunk = chunk ?? NO_BYTES;
    if (chunk === undefined) return false;
    this.#counters.inputBytes += chunk.length;
    this.blockIndex += 1;
    return true;
  }
}

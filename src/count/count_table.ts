import { assert, InputError } from "../base/mod.ts";
import type { BuddyAllocator, BuddyBlock, MemoryManager, SegmentLease } from "../memory/mod.ts";
import {
  COUNT_BATCH_SCRATCH_BYTES,
  CountState,
  CountStatus,
  type CountUnicodeTables,
  FormatSortedState,
  GatherState,
  KernelStatus,
  SORT_SCRATCH_BYTES,
  WasmKernels,
} from "../kernels/mod.ts";
import type { RunWriter } from "../io/mod.ts";
import { BlockGather, GatherBlocks } from "../sort/blocks/mod.ts";
import { hashBytes } from "./hash_bytes.ts";
import type { TokenizerKind, TokenSink } from "./tokenizer.ts";
import { copyBytes } from "./copy_bytes.ts";
import { unicodeTables } from "./unicode_tables.ts";

/** Options of {@linkcode CountTable}. */
export interface CountTableOptions {
  /** Where bucket arrays come from (contiguous, doubling). */
  buddy: BuddyAllocator;
  /** Most pages the record area may take from the manager. */
  recordPagesMax: number;
  /**
   * Pages the record area takes before it reports full (default: `recordPagesMax`):
   * {@linkcode CountTable.raisePageLimit} doubles it, up to `recordPagesMax`.
   */
  recordPagesFirst?: number;
  /** Owner name in the books (default `count-table`). */
  owner?: string;
}

/** The tokenizers the count kernel runs (all of them). */
export type KernelTokenizerKind = TokenizerKind;

/** What {@linkcode CountTable.scanShared} stopped for. */
export const ScanStop = {
  /** Every byte of the range was counted. */
  done: 0,
  /** The table is full: spill it and scan again from the position. */
  full: 1,
  /** The token at the position is longer than a record can hold. */
  tooLong: 2,
} as const;

/**
 * Where a table's entries lie in the shared memory ({@linkcode CountTable.layout}): another
 * thread over the same memory reads them in place.
 */
export interface CountTableLayout {
  /** Byte offset of the bucket array: i32 pairs `[hash, pointer + 1]`, 0 an empty slot. */
  bucketsOffset: number;
  /** Buckets in the array. */
  bucketCount: number;
  /** Memory offset of each record page (`| len u32 | word | count u64 BE | pad to 4 |`). */
  pageOffsets: number[];
  /** A pointer is `page << pageShift | byteOffsetInPage >>> 2`. */
  pageShift: number;
  /** The same page offsets as u32s in the shared memory (the kernel's page table), or 0. */
  pageTableOffset: number;
  /** Entries in the table. */
  entryCount: number;
}

/** Sort orders of {@linkcode CountTable.sort}. */
export type CountTableOrder = "word" | "count";

/** Bytes of the record header (the word length) and of the count trailer. */
const HEADER_BYTES = 4;
/** Bytes of a count in a record or a spilled run: a big-endian u64 (`writeCount`). */
export const COUNT_BYTES = 8;
/** Grow the bucket array past this load; refuse inserts past the hard limit. */
const LOAD_GROW = 0.5;
/** At most 2/3 full, so sorting can turn the buckets into 3-word index entries in place. */
const LOAD_MAX = 0.66;
const INSERTION_SORT_MAX = 12;
/** Block segments the spill kernel gathers into while earlier blocks are written. */
const SPILL_RING_SEGMENTS = 2;
/** The spill kernel's area may take at most this share of the record pages (else: JS). */
const SPILL_AREA_SHARE_MAX = 0.25;
const SIGN = 0x8000_0000 | 0;
/** The count-order key word of a count of at least 2^32 - 1 (`~0xffff_ffff ^ SIGN`). */
const SATURATED_COUNT_KEY = SIGN;

/** Lines the `formatSorted` kernel wrote from a sorted table ({@linkcode CountTable.formatSorted}). */
export interface SortedLines {
  /** The lines (a view of the shared memory, valid until the table's next call). */
  bytes: Uint8Array;
  /** Lines written. */
  lineCount: number;
  /** Bytes of the entries read, words and counts. */
  recordBytes: number;
  /** Every entry is read. */
  done: boolean;
}

/**
 * A binary hash aggregation table in managed memory, in the shape of Flink's `BytesHashMap`:
 * a bucket array of (hash, pointer) pairs in one contiguous buddy block that doubles as it
 * grows, and an append-only record area in pages.
 *
 * ```
 * buckets (buddy block, Int32Array):   [hash0, ptr0+1, hash1, ptr1+1, ...]   0 = empty slot
 * record area (pages):  | len u32 | word bytes ... | count u64 BE | pad to 4 | next record
 *                       ^ ptr = pageIndex << (log2(segmentBytes) - 2) | wordOffsetInPage
 * ```
 * The spill record `[word bytes][count u64 BE]` is the record's tail, so spilling copies
 * straight out of the pages. Linear probing; the stored hash makes growth a re-insert of
 * pairs without reading keys.
 *
 * {@linkcode CountTable.addToken} returns `false` when the table is full (no page, no bucket
 * block): the caller sorts ({@linkcode CountTable.sort}), spills the sorted records
 * ({@linkcode CountTable.nextSorted}), then {@linkcode CountTable.reset}s. Sorting reuses the
 * bucket block as the index: entries `[key0, key1, ptr]` with an 8-byte order-preserving
 * prefix (the word's first bytes, or the inverted count), so most comparisons are integer
 * comparisons.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { BuddyAllocator, MemoryManager } from "../memory/mod.ts";
 * import { CountTable } from "./count_table.ts";
 * const memory = new MemoryManager({ budgetBytes: 64 * 4096, segmentBytes: 4096 });
 * const buddy = new BuddyAllocator(memory, { segmentCount: 8 });
 * const table = new CountTable(memory, { buddy, recordPagesMax: 8 });
 * const word = new TextEncoder().encode("spill");
 * table.addToken(word, 0, 5);
 * table.addToken(word, 0, 5);
 * strictEqual(table.entryCount, 1);
 * table.sort("word");
 * strictEqual(table.nextSorted(), true);
 * strictEqual(table.count, 2);
 * table.close();
 * buddy.close();
 * memory.assertAllReleased();
 * ```
 */
export class CountTable implements TokenSink {
  /** Owner in the memory books. */
  readonly owner: string;
  /** Longest word a record can hold (a record must fit one page). */
  readonly wordBytesMax: number;
  #memory: MemoryManager;
  #buddy: BuddyAllocator;
  #recordPagesMax: number;
  /** The record area reports full at this many pages (raised up to `#recordPagesMax`). */
  #recordPagesLimit: number;
  #segmentBytes: number;
  #pageShift: number;
  #pageMask: number;
  #leases: SegmentLease[] = [];
  #pageBytes: Uint8Array[] = [];
  #pageWords: Uint32Array[] = [];
  /** Current page (last of the lists) and the byte offset of its free space. */
  #currentBytes: Uint8Array | undefined;
  #currentWords: Uint32Array | undefined;
  #currentPage = -1;
  #writeOffset = 0;
  #block: BuddyBlock | undefined;
  #buckets: Int32Array = new Int32Array(0);
  #bucketMask = 0;
  #entryCount = 0;
  #growLimit = 0;
  #hardLimit = 0;
  #tokenCount = 0;
  #sorted = false;
  #cursor = -1;
  /** Entries in the sorted index (all entries, or fewer after `limitSorted`). */
  #sortedCount = 0;
  /** The order of the last sort (the tie-break of equal key prefixes). */
  #byCount = false;
  /**
   * The sorted index is the kernels' (16-byte entries, after {@linkcode CountTable.sortKernel})
   * instead of the JS sort's 3-word entries.
   */
  #kernelIndex = false;
  /** The current sorted record's count (kernel index in count order: records rewritten). */
  #cursorCount = 0;
  /** Current sorted record (valid until the next `nextSorted()`). */
  #recordBytes: Uint8Array = new Uint8Array(0);
  #recordOffset = 0;
  #recordLength = 0;
  #closed = false;
  /** Counters for --stats. */
  #spillCount = 0;
  #growCount = 0;
  /** The count kernel (after `useKernel`): its state block and the page table it reads. */
  #kernels: WasmKernels | undefined;
  #kernelLease: SegmentLease | undefined;
  #state: CountState | undefined;
  #pageTable: Uint32Array = new Uint32Array(0);
  #scanStop: number = ScanStop.done;
  /** Invalid UTF-8 bytes the `words` kernel skipped (its state's counter, kept past release). */
  #invalidBytes = 0;
  /**
   * The spill kernel's area (after `useSpillKernel`):
   * | sort scratch | gather state | page table (u32 per record page) | ... | ring blocks |.
   */
  #spillLease: SegmentLease | undefined;
  /** The bucket array could not grow: no new try until the next reset. */
  #growBlocked = false;

  /**
   * Makes an empty table; pages and the first bucket block are taken on the first add.
   *
   * @param memory The manager that lends the record pages.
   * @param options Bucket allocator, record page limit and owner.
   */
  constructor(memory: MemoryManager, options: CountTableOptions) {
    assert(options.recordPagesMax >= 1, `recordPagesMax ${options.recordPagesMax} < 1`);
    this.owner = options.owner ?? "count-table";
    this.#memory = memory;
    this.#buddy = options.buddy;
    this.#recordPagesMax = options.recordPagesMax;
    this.#recordPagesLimit = Math.max(1, options.recordPagesFirst ?? options.recordPagesMax);
    this.#segmentBytes = memory.segmentBytes;
    this.#pageShift = Math.log2(memory.segmentBytes) - 2;
    this.#pageMask = (1 << this.#pageShift) - 1;
    this.wordBytesMax = memory.segmentBytes - HEADER_BYTES - COUNT_BYTES;
  }

  /** Distinct words held. */
  get entryCount(): number {
    return this.#entryCount;
  }

  /** Tokens (with counts) accepted since the last reset. */
  get tokenCount(): number {
    return this.#tokenCount;
  }

  /** Record pages held now. */
  get pageCount(): number {
    return this.#leases.length;
  }

  /**
   * Where the entries lie in the shared memory, for another thread to read in place while this
   * table does not change (no add, sort, reset or close meanwhile).
   *
   * @returns The layout (no buckets and no pages when nothing was added yet).
   */
  layout(): CountTableLayout {
    assert(!this.#sorted && !this.#closed, "CountTable.layout after sort() or close()");
    return {
      bucketsOffset: this.#block?.memoryOffset ?? 0,
      bucketCount: this.#block === undefined ? 0 : this.#bucketMask + 1,
      pageOffsets: this.#leases.map((lease) => lease.segments[0]!.memoryOffset),
      pageShift: this.#pageShift,
      pageTableOffset: this.#kernels === undefined ? 0 : this.#pageTable.byteOffset,
      entryCount: this.#entryCount,
    };
  }

  /** Pages the record area takes before it reports full (now). */
  get pageLimit(): number {
    return Math.min(this.#recordPagesLimit, this.#recordPagesMax);
  }

  /**
   * Doubles the pages the record area takes before it reports full (up to its most), so a full
   * table can take more words instead of spilling.
   *
   * @returns False when it holds its most already (nothing changed).
   */
  raisePageLimit(): boolean {
    if (this.#recordPagesLimit >= this.#recordPagesMax) return false;
    this.#recordPagesLimit = Math.min(this.#recordPagesMax, this.#recordPagesLimit * 2);
    this.#growBlocked = false;
    return true;
  }

  /** Buckets in the current bucket array. */
  get bucketCount(): number {
    return this.#buckets.length >>> 1;
  }

  /** How many times the bucket array doubled. */
  get growCount(): number {
    return this.#growCount;
  }

  /** How many times the table was reset after a spill. */
  get spillCount(): number {
    return this.#spillCount;
  }

  /**
   * Lets {@linkcode CountTable.spillSorted} sort and write the table with the WebAssembly
   * kernels (the index built in the bucket array, sortBytesIndex, gather into sealed blocks):
   * leases the kernel area (sort scratch, gather state, page table, block ring) out of the
   * record pages, and keeps the table at most half full so the index fits the buckets. Call
   * it before the first add (and before {@linkcode CountTable.useKernel}).
   *
   * @param options `force`: take the area whenever it fits (default: only when it is at most
   *   a quarter of the record pages).
   * @returns False (nothing changed) when the area does not fit.
   */
  useSpillKernel(options: { force?: boolean } = {}): boolean {
    assert(this.#spillLease === undefined && this.#leases.length === 0, "useSpillKernel late");
    const areaBytes = SORT_SCRATCH_BYTES + GatherState.BYTES + 4 * this.#recordPagesMax;
    const segmentCount = Math.ceil(areaBytes / this.#segmentBytes) + SPILL_RING_SEGMENTS;
    const shareMax = options.force === true ? 1 : SPILL_AREA_SHARE_MAX;
    if (
      this.#recordPagesMax - segmentCount < 4 ||
      segmentCount > this.#recordPagesMax * shareMax ||
      segmentCount > this.#memory.freeSegments
    ) {
      return false;
    }
    try {
      this.#spillLease = this.#memory.allocateContiguous(`${this.owner}-spill`, segmentCount);
    } catch {
      return false; // fragmented: sort and spill in JS
    }
    this.#recordPagesMax -= segmentCount;
    return true;
  }

  /** Whether {@linkcode CountTable.spillSorted} can run (the spill kernel's area is held). */
  get usesSpillKernel(): boolean {
    return this.#spillLease !== undefined;
  }

  /**
   * Sorts the entries with the kernels and writes them to `writer` as sealed blocks: records
   * `[word][count u64 BE]` in word order, or `[~count u64 BE][word]` in count order (the
   * records are rewritten in place for it). The table must be {@linkcode CountTable.reset}
   * (or closed) afterwards.
   *
   * @param order `word` or `count` (count descending, ties by word).
   * @param writer A fresh run writer (nothing written to it yet).
   * @returns Records written.
   */
  async spillSorted(order: CountTableOrder, writer: RunWriter): Promise<number> {
    const n = this.#entryCount;
    const sorted = this.#sortForGather(order, "CountTable.spillSorted");
    if (sorted === undefined) return 0;
    const { area, pages, segmentShift, kernels } = sorted;
    const block = this.#block!;
    const segment = this.#spillLease!.segments[0]!;
    const buffer = this.#memory.wasmMemory.buffer as SharedArrayBuffer;
    const blockBytes = this.#segmentBytes;
    const ringBase = area + segment.bytes.byteLength - SPILL_RING_SEGMENTS * blockBytes;
    const ring: number[] = [];
    const ringBytes: Uint8Array[] = [];
    for (let slot = 0; slot < SPILL_RING_SEGMENTS; slot += 1) {
      ring.push(ringBase + slot * blockBytes);
      ringBytes.push(new Uint8Array(buffer, ringBase + slot * blockBytes, blockBytes));
    }
    const gather = new BlockGather(
      { segments: pages, index: block.memoryOffset, recordCount: n, segmentShift },
      { memory: this.#memory.wasmMemory, kernels, areaOffset: area, ring, blockBytes },
    );
    const writes: Promise<void>[] = [];
    try {
      while (!gather.isDone) {
        const sealed = gather.next();
        if (sealed === undefined) {
          await writes[0];
          writes.shift();
          gather.free();
          continue;
        }
        const write = writer.writeSealedBlock(ringBytes[sealed.slot]!, sealed.recordCount);
        write.catch(() => {}); // awaited below; a failure must not go unhandled meanwhile
        writes.push(write);
      }
      while (writes.length > 0) {
        await writes[0];
        writes.shift();
      }
    } finally {
      // A failed write: wait for the other blocks in flight before the ring is reused.
      await Promise.allSettled(writes);
    }
    assert(gather.gatheredCount === n, `gathered ${gather.gatheredCount} of ${n} entries`);
    return n;
  }

  /**
   * Sorts the entries with the kernels like {@linkcode CountTable.spillSorted} (word order)
   * and gives them as block payloads of `[word][count u64 BE]` records, gathered one block at
   * a time into the first ring block: an input of a kernel merge. The table must be
   * {@linkcode CountTable.reset} (or closed) afterwards, and the blocks read before that.
   *
   * @returns The blocks (none when the table is empty).
   */
  sortedBlocks(): GatherBlocks {
    const sorted = this.#sortForGather("word", "CountTable.sortedBlocks");
    const lease = this.#spillLease!;
    const segment = lease.segments[0]!;
    const ringBase = segment.memoryOffset + segment.bytes.byteLength -
      SPILL_RING_SEGMENTS * this.#segmentBytes;
    const stateOffset = segment.memoryOffset + SORT_SCRATCH_BYTES;
    const memory = this.#memory.wasmMemory;
    new GatherState(memory, stateOffset).start({
      indexOffset: this.#block?.memoryOffset ?? 0,
      recordCount: sorted === undefined ? 0 : this.#entryCount,
      pageTableOffset: stateOffset + GatherState.BYTES,
      segmentShift: this.#pageShift + 2,
    });
    return new GatherBlocks(memory, kernelsFor(memory), {
      stateOffset,
      stageOffset: ringBase,
      stageBytes: this.#segmentBytes,
    });
  }

  /**
   * The spill kernels' sort: the page table written into the area, the index built over the
   * buckets (count order rewrites the records), sorted, widened to whole records in word
   * order. Undefined when the table is empty.
   */
  #sortForGather(
    order: CountTableOrder,
    caller: string,
  ): { area: number; pages: number[]; segmentShift: number; kernels: WasmKernels } | undefined {
    const lease = this.#spillLease;
    assert(lease !== undefined && !this.#sorted && !this.#closed, caller);
    const n = this.#entryCount;
    this.#sorted = true; // the buckets become the index: no adds until reset()
    this.#sortedCount = 0; // and no cursor
    if (n === 0) return undefined;
    const block = this.#block!;
    const area = lease.segments[0]!.memoryOffset;
    const { pages, segmentShift, kernels } = this.#kernelSortIndex(block, area, n, order);
    if (order === "word") kernels.countSpillLengths(block.memoryOffset, n, COUNT_BYTES);
    return { area, pages, segmentShift, kernels };
  }

  /**
   * The kernels' sort of the buckets: the page table written into the kernel area at `area`,
   * the index built over the bucket array (count order rewrites the records as
   * `[~count][word]`), then sorted by sortBytesIndex. Shared by the spill and the final sort.
   */
  #kernelSortIndex(
    block: BuddyBlock,
    area: number,
    n: number,
    order: CountTableOrder,
  ): { pages: number[]; segmentShift: number; kernels: WasmKernels } {
    const buffer = this.#memory.wasmMemory.buffer as SharedArrayBuffer;
    const pageTableOffset = area + SORT_SCRATCH_BYTES + GatherState.BYTES;
    const pages = this.#leases.map((pageLease) => pageLease.segments[0]!.memoryOffset);
    new Uint32Array(buffer, pageTableOffset, pages.length).set(pages);
    const segmentShift = this.#pageShift + 2;
    assert(pages.length << segmentShift <= 0xffff_ffff, "count table larger than 4 GiB");
    const kernels = kernelsFor(this.#memory.wasmMemory);
    const bucketCount = this.#bucketMask + 1;
    assert(16 * n <= 8 * bucketCount, `${n} entries do not fit ${bucketCount} buckets as an index`);
    const found = kernels.countSpillIndex(
      { byteOffset: block.memoryOffset, bucketCount },
      pageTableOffset,
      this.#pageShift,
      order === "count" ? 1 : 0,
    );
    assert(found === n, `found ${found} entries, expected ${n}`);
    kernels.sortBytesIndex(block.memoryOffset, n, {
      pageTableOffset,
      segmentShift,
      scratchOffset: area,
      reverse: false,
      keyOffset: 0,
      keyBytes: -1,
    });
    return { pages, segmentShift, kernels };
  }

  /**
   * Lets {@linkcode CountTable.scanShared} count with the WebAssembly kernel: leases the
   * kernel's state block and page table (one u32 per record page) out of the record pages.
   * Call it before the first add.
   *
   * @param setup Tokenizer rule and case folding.
   * @returns False (nothing changed) when the record pages cannot spare the page table.
   */
  useKernel(setup: { kind: KernelTokenizerKind; lower: boolean }): boolean {
    assert(this.#kernels === undefined && this.#leases.length === 0, "useKernel after adds");
    const kernels = kernelsFor(this.#memory.wasmMemory);
    // | state | page table | scratch | word ranges, lower ranges (words) |
    // The scratch: a lowered token (words, flink), a batch of tokens (whitespace, letters).
    const tables = setup.kind === "words" ? unicodeTables() : undefined;
    const pageTableBytes = 4 * this.#recordPagesMax;
    const scratchBytes = setup.kind === "words" || setup.kind === "flink"
      ? this.#segmentBytes
      : setup.kind === "line"
      ? 0
      : Math.min(this.#segmentBytes, COUNT_BATCH_SCRATCH_BYTES);
    const tableBytes = CountState.BYTES + pageTableBytes + scratchBytes +
      4 * ((tables?.wordRanges.length ?? 0) + (tables?.lowerRanges.length ?? 0));
    const segmentCount = Math.ceil(tableBytes / this.#segmentBytes);
    if (this.#recordPagesMax - segmentCount < 2 || segmentCount > this.#memory.freeSegments) {
      return false;
    }
    let lease: SegmentLease;
    try {
      lease = this.#memory.allocateContiguous(`${this.owner}-kernel`, segmentCount);
    } catch {
      return false; // fragmented: count in JS
    }
    this.#recordPagesMax -= segmentCount;
    const segment = lease.segments[0]!;
    const base = segment.memoryOffset;
    const pageTableOffset = base + CountState.BYTES;
    const scratchOffset = pageTableOffset + pageTableBytes;
    this.#kernelLease = lease;
    this.#kernels = kernels;
    this.#state = new CountState(this.#memory.wasmMemory, base);
    this.#pageTable = new Uint32Array(segment.bytes.buffer, pageTableOffset, this.#recordPagesMax);
    let unicode: CountUnicodeTables | undefined = undefined;
    if (tables !== undefined) {
      const words = new Int32Array(segment.bytes.buffer);
      const wordRangesOffset = scratchOffset + scratchBytes;
      const lowerRangesOffset = wordRangesOffset + 4 * tables.wordRanges.length;
      words.set(tables.wordRanges, wordRangesOffset >>> 2);
      words.set(tables.lowerRanges, lowerRangesOffset >>> 2);
      unicode = {
        wordRangesOffset,
        wordRangeCount: tables.wordRanges.length >>> 1,
        lowerRangesOffset,
        lowerRangeCount: tables.lowerRanges.length >>> 2,
      };
    }
    this.#state.start({
      kind: setup.kind,
      lower: setup.lower,
      bucketsOffset: 0,
      bucketCount: 1,
      entryLimit: 0,
      pageTableOffset,
      segmentBytes: this.#segmentBytes,
      scratchOffset,
      ...(unicode === undefined ? {} : { unicode }),
    });
    return true;
  }

  /**
   * Gives the kernel's state block and page table back to the budget (the merge phases need
   * the pages); the table keeps working through the JS path. Idempotent.
   */
  releaseKernel(): void {
    this.#kernelLease?.release();
    this.#kernelLease = undefined;
    this.#kernels = undefined;
    this.#state = undefined;
    this.#pageTable = new Uint32Array(0);
  }

  /** Whether {@linkcode CountTable.useKernel} succeeded (and the kernel was not released). */
  get usesKernel(): boolean {
    return this.#kernels !== undefined;
  }

  /** Bytes of invalid UTF-8 the `words` kernel skipped in {@linkcode CountTable.scanShared}. */
  get invalidBytes(): number {
    return this.#invalidBytes;
  }

  /** Why the last {@linkcode CountTable.scanShared} stopped (a {@linkcode ScanStop}). */
  get scanStop(): number {
    return this.#scanStop;
  }

  /**
   * Tokenizes and counts the text at `[byteOffset, byteEnd)` of the shared memory with the
   * kernel (whole lines: tokens never span calls), growing the buckets and adding record pages
   * as it asks.
   *
   * @param byteOffset Where the text starts in the shared memory.
   * @param byteEnd Where it ends.
   * @returns Where it stopped: `byteEnd`, or the start of the token that did not fit (see
   *   {@linkcode CountTable.scanStop}).
   */
  scanShared(byteOffset: number, byteEnd: number): number {
    assert(!this.#sorted && !this.#closed, "CountTable.scanShared after sort() or close()");
    const state = this.#state!;
    const kernels = this.#kernels!;
    if (this.#block === undefined && !this.#growBuckets()) {
      this.#scanStop = ScanStop.full;
      return byteOffset;
    }
    state.setInput(byteOffset, byteEnd);
    this.#lendState(state);
    const tokensBefore = state.tokenCount;
    let stop: number = ScanStop.done;
    for (;;) {
      const status = kernels.countScan(state.byteOffset);
      if (status === CountStatus.done) break;
      if (status === CountStatus.tooLong) {
        stop = ScanStop.tooLong;
        break;
      }
      if (this.#grantRoom(state, status)) continue;
      stop = ScanStop.full;
      break;
    }
    this.#tokenCount += (state.tokenCount - tokensBefore) >>> 0;
    this.#takeState(state);
    this.#scanStop = stop;
    this.#invalidBytes = state.invalidBytes;
    return state.position;
  }

  /**
   * Adds the entries of another table over the same shared memory (its
   * {@linkcode CountTable.layout}, with a page table) with the kernel, from bucket `from` on,
   * growing the buckets and adding record pages as it asks.
   *
   * @param layout The other table (it must not change meanwhile).
   * @param from The first of its buckets to add.
   * @returns The bucket it stopped at: `layout.bucketCount`, or one whose entry this table
   *   could not take ({@linkcode CountTable.scanStop}: `full`, or `tooLong` for a count the
   *   kernel leaves to {@linkcode CountTable.add}).
   */
  addTableShared(layout: CountTableLayout, from: number): number {
    assert(!this.#sorted && !this.#closed, "CountTable.addTableShared after sort() or close()");
    assert(layout.pageTableOffset !== 0, "CountTable.addTableShared: no page table");
    const state = this.#state!;
    const kernels = this.#kernels!;
    if (this.#block === undefined && !this.#growBuckets()) {
      this.#scanStop = ScanStop.full;
      return from;
    }
    state.setInput(from, layout.bucketCount);
    this.#lendState(state);
    let stop: number = ScanStop.done;
    for (;;) {
      const tokensBefore = state.tokenCount;
      const status = kernels.countAddTable(state.byteOffset, layout);
      this.#tokenCount += (state.tokenCount - tokensBefore) >>> 0;
      if (status === CountStatus.done) break;
      if (status === CountStatus.addAgain) continue;
      if (status === CountStatus.addSlow) {
        stop = ScanStop.tooLong;
        break;
      }
      if (this.#grantRoom(state, status)) continue;
      stop = ScanStop.full;
      break;
    }
    this.#takeState(state);
    this.#scanStop = stop;
    return state.position;
  }

  /**
   * Counts one occurrence of a word.
   *
   * @returns False if the table is full or the word is longer than
   *   {@linkcode CountTable.wordBytesMax} (nothing changed then).
   */
  addToken(
    bytes: Uint8Array,
    byteOffset: number,
    byteLength: number,
    hash: number = hashBytes(bytes, byteOffset, byteLength) | 0,
  ): boolean {
    return this.#add(bytes, byteOffset, byteLength, 1, hash, false);
  }

  /**
   * Adds `count` occurrences of a word.
   *
   * @param bytes The word's bytes.
   * @param byteOffset Where the word starts.
   * @param byteLength The word's length.
   * @param count A positive whole number (sums stay exact up to 2^53).
   * @param hash The word's hash when known (another table's bucket holds it: the same function
   *   on the same bytes), else computed here.
   * @returns False if the table is full or the word is too long.
   */
  add(
    bytes: Uint8Array,
    byteOffset: number,
    byteLength: number,
    count: number,
    hash: number = hashBytes(bytes, byteOffset, byteLength) | 0,
  ): boolean {
    return this.#add(bytes, byteOffset, byteLength, count, hash, true);
  }

  /** `counted`: a count from outside (checked sum), not one token (a plain increment). */
  #add(
    bytes: Uint8Array,
    byteOffset: number,
    byteLength: number,
    count: number,
    hash: number,
    counted: boolean,
  ): boolean {
    if (this.#sorted || this.#closed) {
      assert(false, "CountTable.add after sort() or close(): reset() first");
    }
    if (byteLength > this.wordBytesMax) return false;
    if (this.#block === undefined && !this.#growBuckets()) return false;
    const buckets = this.#buckets;
    const mask = this.#bucketMask;
    let slot = hash & mask;
    for (;;) {
      const pointer = buckets[slot * 2 + 1]!;
      if (pointer === 0) break;
      if (buckets[slot * 2] === hash) {
        const address = pointer - 1;
        const page = this.#pageBytes[address >>> this.#pageShift]!;
        const recordOffset = (address & this.#pageMask) << 2;
        if (
          this.#pageWords[address >>> this.#pageShift]![recordOffset >>> 2] === byteLength &&
          equalBytes(page, recordOffset + HEADER_BYTES, bytes, byteOffset, byteLength)
        ) {
          const countOffset = recordOffset + HEADER_BYTES + byteLength;
          if (!counted) incrementCount(page, countOffset);
          else writeCount(page, countOffset, exactSum(readCount(page, countOffset), count));
          this.#tokenCount += count;
          return true;
        }
      }
      slot = (slot + 1) & mask;
    }
    // Insert: first make sure the bucket array has room, then the record area.
    if (this.#entryCount + 1 > this.#growLimit) {
      // (A failed growth may have moved the array: probe again then.)
      if (!this.#growBlocked && (this.#growBuckets() || this.#buckets !== buckets)) {
        return this.#add(bytes, byteOffset, byteLength, count, hash, counted);
      }
      if (this.#entryCount + 1 > this.#hardLimit) return false;
    }
    const address = this.#appendRecord(bytes, byteOffset, byteLength, count);
    if (address < 0) return false;
    buckets[slot * 2] = hash;
    buckets[slot * 2 + 1] = address + 1;
    this.#entryCount += 1;
    this.#tokenCount += count;
    return true;
  }

  #appendRecord(bytes: Uint8Array, byteOffset: number, byteLength: number, count: number): number {
    const recordBytes = (HEADER_BYTES + byteLength + COUNT_BYTES + 3) & ~3;
    if (this.#currentBytes === undefined || this.#writeOffset + recordBytes > this.#segmentBytes) {
      // The next page: one the kernel was given and did not use yet, or a new one.
      if (this.#currentPage + 1 >= this.#leases.length && !this.#addPage()) return -1;
      this.#currentPage += 1;
      this.#currentBytes = this.#pageBytes[this.#currentPage]!;
      this.#currentWords = this.#pageWords[this.#currentPage]!;
      this.#writeOffset = 0;
    }
    const offset = this.#writeOffset;
    const page = this.#currentBytes;
    this.#currentWords![offset >>> 2] = byteLength;
    copyBytes(bytes, byteOffset, page, offset + HEADER_BYTES, byteLength);
    writeCount(page, offset + HEADER_BYTES + byteLength, count);
    this.#writeOffset = offset + recordBytes;
    return (this.#currentPage << this.#pageShift) | (offset >>> 2);
  }

  /** Hands the table (buckets, entries, record pages, write position) to a kernel's state. */
  #lendState(state: CountState): void {
    state.setBuckets(this.#block!.memoryOffset, this.#bucketMask + 1);
    state.entryLimit = this.#growLimit;
    state.setTable({
      entryCount: this.#entryCount,
      pageCount: this.#leases.length,
      page: this.#currentPage,
      writeOffset: this.#writeOffset,
    });
  }

  /** Takes back what a kernel changed: the entries, the current record page, the write position. */
  #takeState(state: CountState): void {
    this.#entryCount = state.entryCount;
    const page = state.page;
    if (page !== this.#currentPage) {
      this.#currentPage = page;
      this.#currentBytes = this.#pageBytes[page];
      this.#currentWords = this.#pageWords[page];
    }
    this.#writeOffset = state.writeOffset;
  }

  /**
   * Serves a kernel's request for room (more buckets, or a record page) and updates its state.
   *
   * @returns True when the kernel may go on; false when the table is full.
   */
  #grantRoom(state: CountState, status: number): boolean {
    if (status === CountStatus.needBuckets) {
      // The kernel's record page too: a growth may release the kept pages past it.
      this.#takeState(state);
      if (!this.#growBlocked && this.#growBuckets()) {
        state.setBuckets(this.#block!.memoryOffset, this.#bucketMask + 1);
        state.entryLimit = this.#growLimit;
        state.pageCount = this.#leases.length;
        return true;
      }
      // A failed growth may have moved the array (parked and put back).
      state.setBuckets(this.#block!.memoryOffset, this.#bucketMask + 1);
      state.pageCount = this.#leases.length;
      if (state.entryLimit < this.#hardLimit) {
        state.entryLimit = this.#hardLimit;
        return true;
      }
      return false;
    }
    if (status === CountStatus.needPage && this.#addPage()) {
      state.pageCount = this.#leases.length;
      return true;
    }
    return false;
  }

  /** Leases one more record page (entered in the kernel's page table); false when none is left. */
  #addPage(): boolean {
    if (this.#leases.length >= this.pageLimit) return false;
    const lease = this.#memory.tryAllocate(this.owner, 1);
    if (lease === undefined) return false;
    const segment = lease.segments[0]!;
    const pageBytes = segment.bytes;
    if (this.#kernels !== undefined) this.#pageTable[this.#leases.length] = segment.memoryOffset;
    this.#leases.push(lease);
    this.#pageBytes.push(pageBytes);
    this.#pageWords.push(
      new Uint32Array(pageBytes.buffer, pageBytes.byteOffset, pageBytes.byteLength >>> 2),
    );
    return true;
  }

  /** Allocates a bucket array twice as large (or the first one) and re-inserts the pairs. */
  #growBuckets(): boolean {
    const oldBlock = this.#block;
    const segmentCount = oldBlock === undefined ? 1 : oldBlock.segmentCount * 2;
    if (segmentCount > this.#buddy.blockSegmentsMax) {
      this.#growBlocked = oldBlock !== undefined;
      return false;
    }
    let block = this.#buddy.tryAllocate(this.owner, segmentCount);
    let old = this.#buckets;
    let parked: SegmentLease | undefined = undefined;
    if (block === undefined) {
      // The arena's free blocks are too small while the old array sits where the new one
      // would go (a buddy arena holds one block of its largest size): park the old pairs in
      // record pages the table may still take, free the old block, and try again.
      if (oldBlock === undefined) return false;
      parked = this.#parkBuckets(oldBlock);
      if (parked === undefined) {
        this.#growBlocked = true;
        return false;
      }
      const parkedBytes = parked.segments[0]!.bytes;
      old = new Int32Array(parkedBytes.buffer, parkedBytes.byteOffset, old.length);
      block = this.#buddy.tryAllocate(this.owner, segmentCount);
      if (block === undefined) {
        this.#unparkBuckets(parked, oldBlock.segmentCount);
        this.#growBlocked = true;
        return false;
      }
    }
    const words = block.words;
    const buckets = new Int32Array(words.buffer, words.byteOffset, words.length);
    buckets.fill(0);
    const mask = (buckets.length >>> 1) - 1;
    for (let i = 0; i < old.length; i += 2) {
      const pointer = old[i + 1]!;
      if (pointer === 0) continue;
      const hash = old[i]!;
      let slot = hash & mask;
      while (buckets[slot * 2 + 1] !== 0) slot = (slot + 1) & mask;
      buckets[slot * 2] = hash;
      buckets[slot * 2 + 1] = pointer;
    }
    if (parked !== undefined) parked.release();
    else oldBlock?.release();
    if (oldBlock !== undefined) this.#growCount += 1;
    this.#block = block;
    this.#buckets = buckets;
    this.#bucketMask = mask;
    this.#growLimit = Math.floor((mask + 1) * LOAD_GROW);
    // With the spill kernel, the index (16 bytes an entry) is built in the buckets (8 bytes).
    this.#hardLimit = this.#spillLease !== undefined
      ? this.#growLimit
      : Math.floor((mask + 1) * LOAD_MAX);
    return true;
  }

  /**
   * Copies the bucket pairs of `oldBlock` into contiguous pages within the table's record page
   * allowance and releases the block; undefined (nothing changed) when no such pages are free.
   */
  #parkBuckets(oldBlock: BuddyBlock): SegmentLease | undefined {
    const segmentCount = oldBlock.segmentCount;
    this.releaseUnwrittenPages();
    if (this.#leases.length + segmentCount > this.#recordPagesMax) return undefined;
    if (segmentCount > this.#memory.freeSegments) return undefined;
    let parked: SegmentLease;
    try {
      parked = this.#memory.allocateContiguous(`${this.owner}-grow`, segmentCount);
    } catch {
      return undefined; // fragmented
    }
    parked.segments[0]!.bytes.set(oldBlock.bytes);
    oldBlock.release();
    this.#block = undefined;
    this.#buckets = new Int32Array(0);
    return parked;
  }

  /**
   * Releases the record pages past the current one (kept by {@linkcode CountTable.reset}, not
   * written since): for a table that takes no more words (the final merge's readers want the
   * pages the count touched), or before a bucket growth parks its pairs in record pages.
   */
  releaseUnwrittenPages(): void {
    const keep = this.#currentPage + 1;
    for (let i = keep; i < this.#leases.length; i += 1) this.#leases[i]!.release();
    this.#leases.length = keep;
    this.#pageBytes.length = keep;
    this.#pageWords.length = keep;
  }

  /** Undoes {@linkcode CountTable.#parkBuckets}: the pairs go back into a block of the old size. */
  #unparkBuckets(parked: SegmentLease, segmentCount: number): void {
    const block = this.#buddy.tryAllocate(this.owner, segmentCount);
    assert(block !== undefined, "the bucket block just released cannot be taken again");
    const parkedBytes = parked.segments[0]!.bytes;
    block.bytes.set(parkedBytes.subarray(0, block.bytes.length));
    parked.release();
    const words = block.words;
    this.#block = block;
    this.#buckets = new Int32Array(words.buffer, words.byteOffset, words.length);
  }

  /**
   * Sorts the entries with the WebAssembly kernels (the index built in the bucket array as
   * {@linkcode CountTable.spillSorted} builds it, then sortBytesIndex) and starts a cursor:
   * {@linkcode CountTable.nextSorted} walks them, in the order of
   * {@linkcode CountTable.sort}. The final sort of a table that fits: a few milliseconds where
   * the JS sort of tens of thousands of words takes tens (it runs before the JIT warms up).
   * In count order the records are rewritten in place (`[~count][word]`), so afterwards the
   * table can only be walked (a `count` of the cursor, its word), closed or reset; no
   * {@linkcode CountTable.limitSorted} or second sort.
   *
   * @param order `word` or `count` (count descending, ties by word).
   * @returns False (nothing done) without the spill kernel's area (then use `sort`).
   */
  sortKernel(order: CountTableOrder): boolean {
    const lease = this.#spillLease;
    assert(!this.#closed, "CountTable.sortKernel after close()");
    if (lease === undefined || this.#sorted) return false;
    const n = this.#entryCount;
    this.#sorted = true; // the buckets become the index: no adds until reset()
    this.#kernelIndex = true;
    this.#byCount = order === "count";
    this.#sortedCount = n;
    this.#cursor = -1;
    if (n === 0) return true;
    this.#kernelSortIndex(this.#block!, lease.segments[0]!.memoryOffset, n, order);
    return true;
  }

  /**
   * Writes the entries after the cursor of a {@linkcode CountTable.sortKernel} index as lines
   * (a `FormatCountsFormat`: tsv, uniq or csv) with the `formatSorted` kernel, into the spill
   * area's ring blocks (free once the table is sorted), and moves the cursor past the entries
   * it read. When the next entry's line is longer than the ring, it writes nothing and stops
   * before it: {@linkcode CountTable.nextSorted} then gives that entry.
   *
   * @param format tsv, uniq or csv.
   * @param minCount Entries counted fewer times are read, not written.
   * @returns The lines (a view of the shared memory, valid until the next call), how many,
   *   the bytes of the entries read (word + count) and whether every entry is read.
   */
  formatSorted(format: number, minCount: number): SortedLines {
    const lease = this.#spillLease;
    assert(this.#kernelIndex && lease !== undefined, "CountTable.formatSorted before sortKernel()");
    const area = lease.segments[0]!.memoryOffset;
    const memory = this.#memory.wasmMemory;
    const state = new FormatSortedState(memory, area);
    state.start({
      indexOffset: this.#block?.memoryOffset ?? 0,
      entryCount: this.#sortedCount,
      pageTableOffset: area + SORT_SCRATCH_BYTES + GatherState.BYTES,
      segmentShift: this.#pageShift + 2,
      countOrder: this.#byCount,
      format,
      minCount,
    });
    state.nextEntry = Math.min(this.#cursor + 1, this.#sortedCount);
    const ringBytes = SPILL_RING_SEGMENTS * this.#segmentBytes;
    const ring = area + lease.segments[0]!.bytes.byteLength - ringBytes;
    state.setOutput(ring, ring + ringBytes);
    const done = kernelsFor(memory).formatSorted(state.byteOffset) === KernelStatus.done;
    this.#cursor = state.nextEntry - 1;
    return {
      bytes: new Uint8Array(memory.buffer, ring, state.outputOffset - ring),
      lineCount: state.lineCount,
      recordBytes: state.recordBytes,
      done,
    };
  }

  /**
   * Sorts the entries (by word bytes, or by count descending then word) and starts a cursor:
   * {@linkcode CountTable.nextSorted} walks them. No adds until {@linkcode CountTable.reset}.
   *
   * @param order `word`: byte order of words; `count`: count descending, ties by word.
   */
  sort(order: CountTableOrder): void {
    assert(!this.#closed, "CountTable.sort after close()");
    assert(!this.#kernelIndex, "CountTable.sort after sortKernel(): reset() first");
    const index = this.#buckets;
    if (!this.#sorted) {
      const n = this.#entryCount;
      // Compact the (hash, ptr) pairs to the front, then widen them to [key0, key1, ptr]
      // from the back, so no unread pair is overwritten (3n <= 2 * buckets by LOAD_MAX).
      let pairs = 0;
      for (let i = 0; i < index.length; i += 2) {
        const pointer = index[i + 1]!;
        if (pointer === 0) continue;
        index[pairs * 2 + 1] = pointer - 1;
        pairs += 1;
      }
      assert(pairs === n, `found ${pairs} entries, expected ${n}`);
      assert(3 * n <= index.length, `${n} entries do not fit ${index.length} index words`);
      this.#sorted = true;
      this.#sortedCount = n;
      if (order === "word" && n > INSERTION_SORT_MAX) {
        this.#sortWordsNative(n);
        this.#cursor = -1;
        this.#byCount = false;
        return;
      }
      for (let e = n - 1; e >= 0; e -= 1) index[e * 3 + 2] = index[e * 2 + 1]!;
    }
    const n = this.#sortedCount;
    for (let e = 0; e < n; e += 1) {
      const address = index[e * 3 + 2]!;
      const page = this.#pageBytes[address >>> this.#pageShift]!;
      const offset = (address & this.#pageMask) << 2;
      const length = this.#pageWords[address >>> this.#pageShift]![offset >>> 2]!;
      if (order === "word") {
        const word = offset + HEADER_BYTES;
        // Keys are stored sign-flipped so that signed int32 order is unsigned order.
        index[e * 3] = prefixWord(page, word, length, 0) ^ SIGN;
        index[e * 3 + 1] = prefixWord(page, word, length, 4) ^ SIGN;
      } else {
        // Count descending (saturated at 2^32 - 1; ties ask the exact count), then the
        // word's first 4 bytes.
        const countOffset = offset + HEADER_BYTES + length;
        const low = readU32(page, countOffset) > 0 ? 0xffff_ffff : readU32(page, countOffset + 4);
        index[e * 3] = ~low ^ SIGN;
        index[e * 3 + 1] = prefixWord(page, offset + HEADER_BYTES, length, 0) ^ SIGN;
      }
    }
    this.#byCount = order === "count";
    this.#quickSort(0, n - 1);
    this.#cursor = -1;
  }

  /**
   * Moves the sorted cursor to the next entry.
   *
   * @returns False after the last entry.
   */
  nextSorted(): boolean {
    assert(this.#sorted, "CountTable.nextSorted before sort()");
    this.#cursor += 1;
    if (this.#cursor >= this.#sortedCount) {
      this.#cursor = this.#sortedCount;
      return false;
    }
    if (this.#kernelIndex) {
      // [prefix0, prefix1, page << segmentShift | key offset, key bytes]
      const entry = this.#cursor * 4;
      const address = this.#buckets[entry + 2]! >>> 0;
      const page = this.#pageBytes[address >>> (this.#pageShift + 2)]!;
      const keyOffset = address & (this.#segmentBytes - 1);
      const keyBytes = this.#buckets[entry + 3]!;
      this.#recordBytes = page;
      if (this.#byCount) {
        // [~count u64 BE][word]
        this.#cursorCount = (~readU32(page, keyOffset) >>> 0) * 0x1_0000_0000 +
          (~readU32(page, keyOffset + 4) >>> 0);
        this.#recordOffset = keyOffset + COUNT_BYTES;
        this.#recordLength = keyBytes;
      } else {
        this.#recordOffset = keyOffset;
        this.#recordLength = keyBytes + COUNT_BYTES;
      }
      return true;
    }
    const address = this.#buckets[this.#cursor * 3 + 2]!;
    const offset = (address & this.#pageMask) << 2;
    const length = this.#pageWords[address >>> this.#pageShift]![offset >>> 2]!;
    this.#recordBytes = this.#pageBytes[address >>> this.#pageShift]!;
    this.#recordOffset = offset + HEADER_BYTES;
    this.#recordLength = length + COUNT_BYTES;
    return true;
  }

  /**
   * Keeps only the first `entryCount` entries of the sorted index (a later
   * {@linkcode CountTable.sort} re-sorts just those): top N without a heap.
   *
   * @param entryCount How many entries to keep.
   */
  limitSorted(entryCount: number): void {
    assert(this.#sorted && !this.#kernelIndex, "CountTable.limitSorted before sort()");
    this.#sortedCount = Math.min(this.#sortedCount, Math.max(0, entryCount));
    this.#cursor = -1;
  }

  /** Same as {@linkcode CountTable.nextSorted}: the table is a sorted merge source. */
  next(): boolean {
    return this.nextSorted();
  }

  /**
   * The current sorted record `[word][count u64 BE]`: its bytes (a page). After
   * {@linkcode CountTable.sortKernel} in count order only the word is there (read
   * {@linkcode CountTable.count}).
   */
  get recordBytes(): Uint8Array {
    return this.#recordBytes;
  }

  /** Where the current sorted record starts in {@linkcode CountTable.recordBytes}. */
  get recordOffset(): number {
    return this.#recordOffset;
  }

  /** Length of the current sorted record (word length + 8). */
  get recordLength(): number {
    return this.#recordLength;
  }

  /** Count of the current sorted record. */
  get count(): number {
    if (this.#kernelIndex && this.#byCount) return this.#cursorCount;
    return readCount(this.#recordBytes, this.#recordOffset + this.#recordLength - COUNT_BYTES);
  }

  /**
   * Empties the table after a spill, keeping its record pages and the bucket array for reuse:
   * a table spills when full and fills the same pages again, so a page handle (its lease, its
   * views) is made once per table instead of once per page and spill; short-lived handles
   * outlive a scavenge while the table fills and pile up in the old space until a major GC
   * (docs/performance.md, "Count order's peak"), and a released page is poisoned and checked
   * again when taken.
   */
  reset(): void {
    assert(!this.#closed, "CountTable.reset after close()");
    this.#currentBytes = this.#pageBytes[0];
    this.#currentWords = this.#pageWords[0];
    this.#currentPage = Math.min(0, this.#leases.length - 1);
    this.#writeOffset = 0;
    this.#buckets.fill(0);
    this.#growBlocked = false;
    this.#entryCount = 0;
    this.#tokenCount = 0;
    this.#sorted = false;
    this.#kernelIndex = false;
    this.#cursor = -1;
    this.#sortedCount = 0;
    this.#recordBytes = new Uint8Array(0);
    this.#spillCount += 1;
  }

  /** Releases every page and the bucket block. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const lease of this.#leases) lease.release();
    this.#leases = [];
    this.#pageBytes = [];
    this.#pageWords = [];
    this.#currentBytes = undefined;
    this.#currentWords = undefined;
    this.#block?.release();
    this.#block = undefined;
    this.#buckets = new Int32Array(0);
    this.#recordBytes = new Uint8Array(0);
    this.releaseKernel();
    this.#spillLease?.release();
    this.#spillLease = undefined;
  }

  /**
   * Sorts a fresh table by word with the engine's native numeric sort: each entry becomes one
   * float64 `prefix * 2^indexBits + entry` (the word's first `53 - indexBits` bits, then the
   * entry number), runs of equal prefixes are finished by full comparison, and the result is
   * laid out as the `[key0, key1, ptr]` index the cursor reads.
   *
   * ```
   * bucket block (int32):  [ keys: float64 x n ............ | ... | addresses: n ]
   *                        then sorted addresses overwrite the consumed keys from the front
   * ```
   * The pointers sit at odd positions `2e + 1` on entry (compacted pairs).
   */
  #sortWordsNative(n: number): void {
    const index = this.#buckets;
    // Move the addresses to the block's end (2 * buckets >= 3n, so they do not overlap).
    const addressBase = index.length - n;
    for (let e = n - 1; e >= 0; e -= 1) index[addressBase + e] = index[e * 2 + 1]!;
    const keys = new Float64Array(index.buffer, index.byteOffset, n);
    const indexBits = Math.max(1, Math.ceil(Math.log2(n)));
    const indexScale = 2 ** indexBits;
    const prefixBits = 53 - indexBits;
    const shift = 2 ** (prefixBits - 32); // < 1 when fewer than 32 prefix bits
    for (let e = 0; e < n; e += 1) {
      const address = index[addressBase + e]!;
      const page = this.#pageBytes[address >>> this.#pageShift]!;
      const offset = (address & this.#pageMask) << 2;
      const length = this.#pageWords[address >>> this.#pageShift]![offset >>> 2]!;
      const high = prefixWord(page, offset + HEADER_BYTES, length, 0);
      let prefix: number;
      if (prefixBits >= 32) {
        const low = prefixWord(page, offset + HEADER_BYTES, length, 4);
        prefix = high * shift + Math.floor(low / 2 ** (64 - prefixBits));
      } else {
        prefix = Math.floor(high * shift);
      }
      keys[e] = prefix * indexScale + e;
    }
    keys.sort();
    // Finish runs of equal prefixes by comparing whole words.
    let runStart = 0;
    let runPrefix = Math.floor(keys[0]! / indexScale);
    for (let r = 1; r <= n; r += 1) {
      const prefix = r < n ? Math.floor(keys[r]! / indexScale) : -1;
      if (prefix === runPrefix) continue;
      if (r - runStart > 1) this.#sortTies(keys, runStart, r, indexScale, addressBase);
      runStart = r;
      runPrefix = prefix;
    }
    // Sorted addresses to the front (each key is read before its slot is overwritten), then
    // widened to the [key0, key1, ptr] layout from the back.
    for (let r = 0; r < n; r += 1) {
      const entry = keys[r]! % indexScale;
      index[r] = index[addressBase + entry]!;
    }
    for (let r = n - 1; r >= 0; r -= 1) index[r * 3 + 2] = index[r]!;
  }

  /** Sorts keys[from, to) (equal prefixes) by whole words. */
  #sortTies(
    keys: Float64Array,
    from: number,
    to: number,
    indexScale: number,
    addressBase: number,
  ): void {
    const index = this.#buckets;
    const address = (key: number) => index[addressBase + (key % indexScale)]!;
    if (to - from <= 32) {
      for (let k = from + 1; k < to; k += 1) {
        const key = keys[k]!;
        let m = k;
        while (m > from && this.#compareWords(address(key), address(keys[m - 1]!)) < 0) {
          keys[m] = keys[m - 1]!;
          m -= 1;
        }
        keys[m] = key;
      }
      return;
    }
    const run = Array.from(keys.subarray(from, to));
    run.sort((a, b) => this.#compareWords(address(a), address(b)));
    keys.set(run, from);
  }

  /** Whether entry `a` sorts before entry `b` (indices into the sorted index). */
  #less(a: number, b: number): boolean {
    const index = this.#buckets;
    const a0 = index[a * 3]!;
    const b0 = index[b * 3]!;
    if (a0 !== b0) return a0 < b0;
    const addressA = index[a * 3 + 2]!;
    const addressB = index[b * 3 + 2]!;
    if (this.#byCount && a0 === SATURATED_COUNT_KEY) {
      // Both counts are at least 2^32 - 1: the exact counts decide before the words.
      const countA = this.#countAt(addressA);
      const countB = this.#countAt(addressB);
      if (countA !== countB) return countA > countB;
    }
    const a1 = index[a * 3 + 1]!;
    const b1 = index[b * 3 + 1]!;
    if (a1 !== b1) return a1 < b1;
    if (this.#byCount) {
      const countA = this.#countAt(addressA);
      const countB = this.#countAt(addressB);
      if (countA !== countB) return countA > countB;
    }
    return this.#compareWords(addressA, addressB) < 0;
  }

  #countAt(address: number): number {
    const offset = (address & this.#pageMask) << 2;
    const length = this.#pageWords[address >>> this.#pageShift]![offset >>> 2]!;
    return readCount(this.#pageBytes[address >>> this.#pageShift]!, offset + HEADER_BYTES + length);
  }

  #compareWords(addressA: number, addressB: number): number {
    const shift = this.#pageShift;
    const mask = this.#pageMask;
    const offsetA = (addressA & mask) << 2;
    const offsetB = (addressB & mask) << 2;
    const lengthA = this.#pageWords[addressA >>> shift]![offsetA >>> 2]!;
    const lengthB = this.#pageWords[addressB >>> shift]![offsetB >>> 2]!;
    const pageA = this.#pageBytes[addressA >>> shift]!;
    const pageB = this.#pageBytes[addressB >>> shift]!;
    const common = lengthA < lengthB ? lengthA : lengthB;
    const startA = offsetA + HEADER_BYTES;
    const startB = offsetB + HEADER_BYTES;
    for (let i = 0; i < common; i += 1) {
      const difference = pageA[startA + i]! - pageB[startB + i]!;
      if (difference !== 0) return difference;
    }
    return lengthA - lengthB;
  }

  #swap(a: number, b: number): void {
    const index = this.#buckets;
    const i = a * 3;
    const j = b * 3;
    const t0 = index[i]!;
    const t1 = index[i + 1]!;
    const t2 = index[i + 2]!;
    index[i] = index[j]!;
    index[i + 1] = index[j + 1]!;
    index[i + 2] = index[j + 2]!;
    index[j] = t0;
    index[j + 1] = t1;
    index[j + 2] = t2;
  }

  /** Iterative quicksort (median of three, Hoare partition) with insertion sort for runs. */
  #quickSort(low: number, high: number): void {
    const stack: number[] = [];
    for (;;) {
      while (high - low > INSERTION_SORT_MAX) {
        const middle = (low + high) >>> 1;
        if (this.#less(middle, low)) this.#swap(middle, low);
        if (this.#less(high, low)) this.#swap(high, low);
        if (this.#less(high, middle)) this.#swap(high, middle);
        // Pivot (the median) goes to high - 1.
        this.#swap(middle, high - 1);
        const pivot = high - 1;
        let i = low;
        let j = high - 1;
        for (;;) {
          do i += 1; while (this.#less(i, pivot));
          do j -= 1; while (j > low && this.#less(pivot, j));
          if (i >= j) break;
          this.#swap(i, j);
        }
        this.#swap(i, high - 1);
        // Recurse into the smaller side later; loop on the larger one.
        if (i - low < high - i) {
          stack.push(i + 1, high);
          high = i - 1;
        } else {
          stack.push(low, i - 1);
          low = i + 1;
        }
      }
      for (let k = low + 1; k <= high; k += 1) {
        for (let m = k; m > low && this.#less(m, m - 1); m -= 1) this.#swap(m, m - 1);
      }
      if (stack.length === 0) return;
      high = stack.pop()!;
      low = stack.pop()!;
    }
  }
}

function equalBytes(a: Uint8Array, aOffset: number, b: Uint8Array, bOffset: number, n: number) {
  for (let i = 0; i < n; i += 1) {
    if (a[aOffset + i] !== b[bOffset + i]) return false;
  }
  return true;
}

/** Four bytes of a word from `at`, big-endian, zero-padded past its end. */
function prefixWord(page: Uint8Array, word: number, length: number, at: number): number {
  let value = 0;
  for (let i = at; i < at + 4; i += 1) {
    value = (value << 8) | (i < length ? page[word + i]! : 0);
  }
  return value >>> 0;
}

function readU32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) |
    bytes[offset + 3]!) >>> 0;
}

/**
 * Reads a u64 big-endian count (exact up to 2^53).
 *
 * @param bytes The bytes.
 * @param offset Where the 8 bytes start.
 * @returns The count.
 */
export function readCount(bytes: Uint8Array, offset: number): number {
  return readU32(bytes, offset) * 0x1_0000_0000 + readU32(bytes, offset + 4);
}

/**
 * `a + b` for two counts, or an {@linkcode InputError} when the sum passes 2^53 - 1, the
 * largest count a double holds exactly (only `merge --sum` of huge partial counts gets there).
 *
 * @param a A count.
 * @param b Another count.
 * @returns The exact sum.
 * @throws {InputError} If the sum is beyond `Number.MAX_SAFE_INTEGER`.
 */
export function exactSum(a: number, b: number): number {
  const sum = a + b;
  if (sum > Number.MAX_SAFE_INTEGER) {
    throw new InputError(
      `Cannot sum the counts of one word: ${a} + ${b} passes 2^53 - 1 (${Number.MAX_SAFE_INTEGER}), the largest count spillway sums exactly`,
    );
  }
  return sum;
}

/**
 * Writes a count as u64 big-endian.
 *
 * @param bytes The bytes.
 * @param offset Where the 8 bytes go.
 * @param count A whole number from 0 to 2^53.
 */
export function writeCount(bytes: Uint8Array, offset: number, count: number): void {
  const high = Math.floor(count / 0x1_0000_0000);
  const low = count - high * 0x1_0000_0000;
  bytes[offset] = high >>> 24;
  bytes[offset + 1] = (high >>> 16) & 0xff;
  bytes[offset + 2] = (high >>> 8) & 0xff;
  bytes[offset + 3] = high & 0xff;
  bytes[offset + 4] = low >>> 24;
  bytes[offset + 5] = (low >>> 16) & 0xff;
  bytes[offset + 6] = (low >>> 8) & 0xff;
  bytes[offset + 7] = low & 0xff;
}

function incrementCount(bytes: Uint8Array, offset: number): void {
  for (let i = offset + 7; i >= offset; i -= 1) {
    const value = bytes[i]! + 1;
    if (value < 256) {
      bytes[i] = value;
      return;
    }
    bytes[i] = 0;
  }
}

/** This thread's kernels over each memory (instantiated once per memory and thread). */
const kernelsByMemory = new WeakMap<WebAssembly.Memory, WasmKernels>();

/**
 * Lets this thread's count tables over `memory` use an already compiled kernels module (a
 * Worker given its parent's): no second compile, and the engine shares the code it compiled.
 *
 * @param memory The shared memory the tables work in.
 * @param module The compiled kernels (`compileKernels()` of another thread).
 */
export function shareKernelModule(memory: WebAssembly.Memory, module: WebAssembly.Module): void {
  if (!kernelsByMemory.has(memory)) kernelsByMemory.set(memory, new WasmKernels(memory, module));
}

/**
 * The kernels instance of `memory` for this thread (one per memory: the module shared by
 * {@linkcode shareKernelModule}, else compiled once).
 *
 * @param memory The shared memory.
 * @returns Its kernels.
 */
export function kernelsFor(memory: WebAssembly.Memory): WasmKernels {
  let kernels = kernelsByMemory.get(memory);
  if (kernels === undefined) {
    kernels = new WasmKernels(memory);
    kernelsByMemory.set(memory, kernels);
  }
  return kernels;
}

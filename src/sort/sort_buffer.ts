import { assert } from "../base/mod.ts";
import type { MemoryManager, MemorySegment, SegmentLease } from "../memory/mod.ts";
import { AppendState, AppendStatus } from "../kernels/mod.ts";
import { ADDRESS_WORD, ENTRY_BYTES, ENTRY_WORDS, LENGTH_WORD, PREFIX_WORDS } from "./index_sort.ts";
import type { RecordOrder } from "./record_order.ts";
import { sortEntries, type SortJob } from "./job_sort.ts";
import { KEY_LENGTH_BYTES, NO_KEY, readKeyLength, writeKeyedRecord } from "./keyed_records.ts";
import { type NormalizedKeyEncoder, normalizedKeysFor } from "./normalized_key.ts";

/** Options of {@linkcode SortBuffer}. */
export interface SortBufferOptions {
  /** Owner name for the pages and the index reservation. */
  owner: string;
  /** Pages for record bytes (at least 1). */
  dataSegmentCount: number;
  /** Capacity of the index in entries (at least 1); its pages come from the budget. */
  indexEntryCount: number;
  /** The ordering. */
  order: RecordOrder;
  /**
   * Store each record's normalized key in front of it and sort by memcmp of keys when the
   * order allows (src/sort/keyed_records.ts); default true. False keeps the comparator.
   */
  normalizedKeys?: boolean;
  /**
   * The kernels of this thread: with them a plain-bytes buffer appends whole read chunks with
   * the append-lines kernel ({@linkcode SortBuffer.appendLines}).
   */
  kernels?: AppendKernel;
}

/** The append-lines kernel of this thread (`WasmKernels` has it). */
export interface AppendKernel {
  /** Runs the kernel on an `AppendState` block; returns an `AppendStatus`. */
  appendLines(stateOffset: number): number;
}

/**
 * Bytes in front of a buffer's index entries: the append kernel's state and the data pages'
 * page table (a 16-byte multiple, so the entries stay aligned).
 */
export function indexHeadBytes(dataSegments: number): number {
  return Math.ceil((AppendState.BYTES + 4 * dataSegments) / 16) * 16;
}

/** Bytes of the length prefix of a gathered record (u32, little-endian). */
export const GATHER_PREFIX_BYTES = 4;

/**
 * Copies the records of a sorted job into its target pages in sorted order, each as a u32
 * little-endian length and the bytes, never across a page border, so that the spill reads
 * them sequentially instead of gathering from random pages. Stops at the first record that
 * does not fit the remaining pages; `gatheredCount` says how many made it.
 *
 * @param job A sorted job with `target` pages.
 * @param buffer The shared memory's buffer (covering every offset of the job).
 */
export function gatherJob(job: SortJob, buffer: SharedArrayBuffer): void {
  const pageBytes = 2 ** job.segmentShift;
  const targets = (job.target ?? []).map((offset) => new Uint8Array(buffer, offset, pageBytes));
  const used: number[] = new Array(targets.length).fill(0);
  const index = new Uint32Array(buffer, job.index, job.recordCount * ENTRY_WORDS);
  const pages = job.segments.map((offset) => new Uint8Array(buffer, offset, pageBytes));
  const shift = job.segmentShift;
  const mask = (1 << shift) - 1;
  const end = job.recordCount * ENTRY_WORDS;
  let t = 0;
  let target = targets[0];
  let position = 0;
  let gathered = 0;
  for (let e = 0; e < end && target !== undefined; e += ENTRY_WORDS) {
    const address = index[e + ADDRESS_WORD]!;
    const length = index[e + LENGTH_WORD]!;
    if (position + GATHER_PREFIX_BYTES + length > target.length) {
      used[t] = position;
      t += 1;
      target = targets[t];
      position = 0;
      if (target === undefined || GATHER_PREFIX_BYTES + length > target.length) break;
    }
    target[position] = length & 255;
    target[position + 1] = (length >>> 8) & 255;
    target[position + 2] = (length >>> 16) & 255;
    target[position + 3] = length >>> 24;
    position += GATHER_PREFIX_BYTES;
    const page = pages[address >>> shift]!;
    const from = address & mask;
    if (length <= 128) {
      for (let i = 0; i < length; i += 1) target[position + i] = page[from + i]!;
    } else {
      target.set(page.subarray(from, from + length), position);
    }
    position += length;
    gathered += 1;
  }
  if (target !== undefined) used[t] = position;
  job.gatheredCount = gathered;
  job.targetUsed = used;
}

/**
 * An in-memory sorter: Flink's normalized-key sorter over managed pages.
 *
 * ```
 * data pages:  | rec0 | rec1 | rec2 ...      |  | rec7 | ...          |   (records never move,
 *                 ^                                   ^                       never span pages)
 * index:       [p0 p1 addr len][p0 p1 addr len] ...  16 bytes per record (reserved bytes)
 * ```
 * `tryAppend` copies a record into the current page and writes its index entry (two prefix
 * words from the order). `sort()` sorts the index only. Records longer than a page never fit
 * ({@linkcode SortBuffer.canHold}); the caller spills them as a run of their own.
 *
 * @example Usage
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { MemoryManager } from "../memory/mod.ts";
 * import { BytesOrder } from "./record_order.ts";
 * import { SortBuffer } from "./sort_buffer.ts";
 * const memory = new MemoryManager({ budgetBytes: 64 * 1024, segmentBytes: 4096 });
 * const buffer = new SortBuffer(memory, {
 *   owner: "sort-buffer", dataSegmentCount: 2, indexEntryCount: 16, order: new BytesOrder(),
 * });
 * for (const word of ["pear", "apple", "fig"]) buffer.tryAppend(new TextEncoder().encode(word), 0, word.length);
 * buffer.sort();
 * const out: string[] = [];
 * for (let i = 0; i < buffer.recordCount; i += 1) {
 *   out.push(new TextDecoder().decode(buffer.recordBytes(i).subarray(buffer.recordOffset(i), buffer.recordOffset(i) + buffer.recordLength(i))));
 * }
 * deepStrictEqual(out, ["apple", "fig", "pear"]);
 * buffer.release();
 * memory.assertAllReleased();
 * ```
 */
export class SortBuffer implements Disposable {
  /** The ordering. */
  readonly order: RecordOrder;
  /** Page size in bytes. */
  readonly segmentBytes: number;
  readonly #segmentShift: number;
  readonly #offsetMask: number;
  readonly #memory: MemoryManager;
  readonly #lease: SegmentLease;
  readonly #indexLease: SegmentLease;
  readonly #index: Uint32Array;
  /** Views of the data pages in use (0 to #segmentIndex), taken as the buffer fills. */
  #pages: Uint8Array[] = [];
  #lentTo: string | undefined = undefined;
  readonly #entryCapacity: number;
  #recordCount = 0;
  /** The most records the buffer ever held (the written part of the index). */
  #recordCountMax = 0;
  #segmentIndex = 0;
  #writeOffset = 0;
  #dataBytes = 0;
  /** Keyed records stored without their key (it did not fit an empty page). */
  #keylessCount = 0;
  #released = false;
  readonly #plainBytes: boolean;
  readonly #invert: boolean;
  readonly #keys: NormalizedKeyEncoder | undefined;
  readonly #headBytes: number;
  readonly #kernels: AppendKernel | undefined;
  readonly #appendState: AppendState | undefined;
  readonly #pageTable: Uint32Array;
  /** After {@linkcode SortBuffer.appendLines}: where in the chunk it stopped. */
  appendStop = 0;
  /** After {@linkcode SortBuffer.appendLines}: records it appended. */
  appendedCount = 0;

  /**
   * Takes the data pages and the index pages (contiguous) from the budget.
   *
   * @param memory The manager to take pages and index bytes from.
   * @param options Sizes, owner and order.
   * @throws {MemoryBudgetError} If the pages or index bytes do not fit the budget.
   */
  constructor(memory: MemoryManager, options: SortBufferOptions) {
    assert(options.dataSegmentCount >= 1, "a sort buffer needs at least one data page");
    assert(options.indexEntryCount >= 1, "a sort buffer needs at least one index entry");
    const segmentBytes = memory.segmentBytes;
    assert(
      options.dataSegmentCount * segmentBytes <= 2 ** 32,
      "a sort buffer addresses at most 4 GiB of records",
    );
    this.order = options.order;
    this.#plainBytes = options.order.isPlainBytes;
    this.#invert = options.order.isPlainBytes && options.order.reverse;
    this.#keys = options.normalizedKeys === false ? undefined : normalizedKeysFor(options.order);
    this.segmentBytes = segmentBytes;
    this.#segmentShift = Math.log2(segmentBytes);
    this.#offsetMask = segmentBytes - 1;
    this.#memory = memory;
    this.#headBytes = indexHeadBytes(options.dataSegmentCount);
    const indexPages = Math.ceil(
      (this.#headBytes + options.indexEntryCount * ENTRY_BYTES) / segmentBytes,
    );
    this.#indexLease = memory.allocateContiguous(options.owner, indexPages);
    try {
      this.#lease = memory.allocate(options.owner, options.dataSegmentCount);
    } catch (error) {
      this.#indexLease.release();
      throw error;
    }
    this.#entryCapacity = options.indexEntryCount;
    const indexBytes = this.#indexLease.segments[0]!.bytes;
    this.#index = new Uint32Array(
      indexBytes.buffer,
      indexBytes.byteOffset + this.#headBytes,
      options.indexEntryCount * ENTRY_WORDS,
    );
    this.#pageTable = new Uint32Array(
      indexBytes.buffer,
      indexBytes.byteOffset + AppendState.BYTES,
      options.dataSegmentCount,
    );
    const appendable = options.kernels !== undefined && this.#plainBytes &&
      this.#keys === undefined;
    this.#kernels = appendable ? options.kernels : undefined;
    this.#appendState = undefined;
    if (appendable) {
      this.#appendState = new AppendState(memory.wasmMemory, indexBytes.byteOffset);
      this.#appendState.setBuffer({
        pageTableOffset: indexBytes.byteOffset + AppendState.BYTES,
        pageCount: 0,
        segmentShift: this.#segmentShift,
        indexOffset: indexBytes.byteOffset + this.#headBytes,
        entryCapacity: options.indexEntryCount,
        invert: this.#invert,
      });
    }
    // Page views are taken as the buffer fills: a page never written is never touched (a
    // huge budget on a small input costs only what it uses).
    this.#openPage();
  }

  /** The data pages (for accounting). */
  get segments(): readonly MemorySegment[] {
    return this.#lease.segments;
  }

  /** Bytes of record data the buffer's pages hold at most. */
  get dataCapacityBytes(): number {
    return this.#lease.segments.length * this.segmentBytes;
  }

  /**
   * The memory ranges that holding `recordCount` records of `dataBytes` bytes in all writes:
   * the index's head and that many entries, and the data pages those bytes fill, in the order
   * the buffer fills them (adjacent pages joined).
   *
   * @param recordCount Records (at most the index's capacity).
   * @param dataBytes Their bytes (at most the pages' capacity).
   * @returns Ranges of the shared memory (offsets and lengths in bytes).
   */
  memoryRangesFor(
    recordCount: number,
    dataBytes: number,
  ): { byteOffset: number; byteLength: number }[] {
    // Offsets only: a lent buffer's pages are not touched here.
    assert(!this.#released, "sort buffer used after release");
    const entries = Math.min(Math.max(0, recordCount), this.#entryCapacity);
    const ranges = [{
      byteOffset: this.#indexLease.segments[0]!.memoryOffset,
      byteLength: this.#headBytes + entries * ENTRY_BYTES,
    }];
    const segments = this.#lease.segments;
    const pageCount = Math.min(segments.length, Math.ceil(dataBytes / this.segmentBytes));
    for (let page = 0; page < pageCount; page += 1) {
      const byteOffset = segments[page]!.memoryOffset;
      const last = ranges[ranges.length - 1]!;
      if (page > 0 && last.byteOffset + last.byteLength === byteOffset) {
        last.byteLength += this.segmentBytes;
      } else {
        ranges.push({ byteOffset, byteLength: this.segmentBytes });
      }
    }
    return ranges;
  }

  /** How many records the buffer holds. */
  get recordCount(): number {
    return this.#recordCount;
  }

  /** Record bytes held (without terminators). */
  get dataBytes(): number {
    return this.#dataBytes;
  }

  /** How many records the index can hold. */
  get entryCapacity(): number {
    return this.#entryCapacity;
  }

  /** Whether a record of `byteLength` bytes can ever fit (one page at most). */
  canHold(byteLength: number): boolean {
    return byteLength + (this.#keys === undefined ? 0 : KEY_LENGTH_BYTES) <= this.segmentBytes;
  }

  /** Whether {@linkcode SortBuffer.appendLines} can take chunks (plain bytes, kernels given). */
  get appendsChunks(): boolean {
    return this.#appendState !== undefined;
  }

  /**
   * Appends the records of `chunk` from `start` on (each ends with `terminator`; `chunk` is a
   * view of the shared memory) with the append-lines kernel, until the chunk is done, the
   * buffer is full or a record is longer than a page. Sets
   * {@linkcode SortBuffer.appendStop} (where the first record not appended starts) and
   * {@linkcode SortBuffer.appendedCount}.
   *
   * @returns `AppendStatus.done`, `full` or `tooLong`.
   */
  appendLines(chunk: Uint8Array, start: number, terminator: number): number {
    const state = this.#appendState!;
    const base = chunk.byteOffset;
    state.setChunk(base + start, base + chunk.length, terminator);
    let appended = 0;
    for (;;) {
      state.setFill(this.#segmentIndex, this.#writeOffset, this.#recordCount, this.#pages.length);
      const status = this.#kernels!.appendLines(state.byteOffset);
      const count = state.appendedCount;
      appended += count;
      this.#recordCount += count;
      this.#dataBytes += state.appendedBytes;
      this.#segmentIndex = state.pageIndex;
      this.#writeOffset = state.writeOffset;
      if (
        status === AppendStatus.full && this.#recordCount < this.#entryCapacity &&
        this.#pages.length < this.#lease.segments.length
      ) {
        this.#openPage(); // the kernel only writes to opened pages
        continue;
      }
      this.appendedCount = appended;
      this.appendStop = state.chunkOffset - base;
      return status;
    }
  }

  /** Takes the next data page's view (and its page table entry). */
  #openPage(): void {
    const segment = this.#lease.segments[this.#pages.length]!;
    if (this.#appendState !== undefined) {
      this.#pageTable[this.#pages.length] = segment.memoryOffset;
    }
    this.#pages.push(segment.bytes);
  }

  /** Whether records are stored with normalized keys (ties never call the comparator). */
  get keyed(): boolean {
    return this.#keys !== undefined;
  }

  /**
   * Whether the stored keys end with the record itself (the ascending last resort): a keyed
   * run then stores the key without that copy (docs/spill-format.md).
   */
  get keyEndsWithLine(): boolean {
    return this.#keys?.endsWithRecord ?? false;
  }

  /** Keyed records stored without their key (their key did not fit an empty page). */
  get keylessCount(): number {
    return this.#keylessCount;
  }

  /**
   * The key length a keyed run stores for sorted record `i` of a keyed buffer (without the
   * line's copy when {@linkcode SortBuffer.keyEndsWithLine}), or -1 when the record has no
   * stored key. The key starts at {@linkcode SortBuffer.recordKeyOffset}.
   */
  recordKeyLength(i: number): number {
    const stored = readKeyLength(this.recordBytes(i), this.recordOffset(i));
    if (stored === NO_KEY) return -1;
    return this.keyEndsWithLine ? stored - this.recordLength(i) : stored;
  }

  /** Where the key of sorted record `i` of a keyed buffer starts (in its page). */
  recordKeyOffset(i: number): number {
    const offset = this.recordOffset(i);
    const stored = readKeyLength(this.recordBytes(i), offset);
    return offset - KEY_LENGTH_BYTES - (stored === NO_KEY ? 0 : stored);
  }

  /**
   * Writes the keyed records in index order (after `sort()`), each as its key (or none) and its
   * line: the spill of a keyed run from this thread. A key that ends with the line is passed
   * without that copy ({@linkcode SortBuffer.keyEndsWithLine}).
   *
   * @param write Receives page, key offset, key length (-1: no stored key), line offset, line
   *   length; returns a promise only when it must be awaited.
   */
  async writeSortedKeyed(
    write: (
      bytes: Uint8Array,
      keyOffset: number,
      keyLength: number,
      lineOffset: number,
      lineLength: number,
    ) => Promise<void> | undefined,
  ): Promise<void> {
    this.#checkLive();
    assert(this.#keys !== undefined, "only a keyed buffer writes keyed records");
    const index = this.#index;
    const pages = this.#pages;
    const shift = this.#segmentShift;
    const mask = this.#offsetMask;
    const end = this.#recordCount * ENTRY_WORDS;
    const trim = this.keyEndsWithLine;
    for (let e = 0; e < end; e += ENTRY_WORDS) {
      const address = index[e + ADDRESS_WORD]!;
      const page = pages[address >>> shift]!;
      const offset = address & mask;
      const lineLength = index[e + LENGTH_WORD]!;
      const stored = readKeyLength(page, offset);
      const keyOffset = offset - KEY_LENGTH_BYTES - (stored === NO_KEY ? 0 : stored);
      const keyLength = stored === NO_KEY ? -1 : trim ? stored - lineLength : stored;
      const pending = write(page, keyOffset, keyLength, offset, lineLength);
      if (pending !== undefined) await pending;
    }
  }

  /**
   * Appends one record (copied; without its terminator).
   *
   * @returns False when the buffer is full (or the record is longer than a page).
   */
  tryAppend(bytes: Uint8Array, byteOffset: number, byteLength: number): boolean {
    if (this.#recordCount === this.#entryCapacity) return false;
    if (this.#keys !== undefined) {
      return this.#appendKeyed(this.#keys, bytes, byteOffset, byteLength);
    }
    let offset = this.#writeOffset;
    // An empty record still takes one byte, so addresses strictly increase in input order
    // (the address is the last tie-breaker of the sort: that makes it stable).
    const footprint = byteLength === 0 ? 1 : byteLength;
    if (offset + footprint > this.segmentBytes) {
      const segments = this.#lease.segments;
      if (byteLength > this.segmentBytes || this.#segmentIndex + 1 >= segments.length) {
        return false;
      }
      this.#segmentIndex += 1;
      if (this.#pages.length === this.#segmentIndex) this.#openPage();
      offset = 0;
    }
    const page = this.#pages[this.#segmentIndex]!;
    if (byteLength <= 128) {
      // A byte loop: `set(subarray())` would allocate a view per record (garbage, heap growth).
      for (let i = 0; i < byteLength; i += 1) page[offset + i] = bytes[byteOffset + i]!;
    } else {
      page.set(bytes.subarray(byteOffset, byteOffset + byteLength), offset);
    }
    const entry = this.#recordCount * ENTRY_WORDS;
    const index = this.#index;
    if (this.#plainBytes && byteLength >= 8) {
      // Inline prefix of plain byte order: the first 8 bytes as two big-endian words.
      const o = byteOffset;
      const w0 = (bytes[o]! << 24 | bytes[o + 1]! << 16 | bytes[o + 2]! << 8 | bytes[o + 3]!) >>> 0;
      const w1 = (bytes[o + 4]! << 24 | bytes[o + 5]! << 16 | bytes[o + 6]! << 8 |
        bytes[o + 7]!) >>> 0;
      index[entry] = this.#invert ? ~w0 >>> 0 : w0;
      index[entry + 1] = this.#invert ? ~w1 >>> 0 : w1;
    } else {
      this.order.writePrefix(bytes, byteOffset, byteLength, index, entry, PREFIX_WORDS);
    }
    index[entry + ADDRESS_WORD] = this.#segmentIndex * this.segmentBytes + offset;
    index[entry + LENGTH_WORD] = byteLength;
    this.#writeOffset = offset + footprint;
    this.#dataBytes += byteLength;
    this.#recordCount += 1;
    return true;
  }

  /** `[key][key length][record]` into the current page, else the next (keyed_records.ts). */
  #appendKeyed(
    keys: NormalizedKeyEncoder,
    bytes: Uint8Array,
    byteOffset: number,
    byteLength: number,
  ): boolean {
    const segmentBytes = this.segmentBytes;
    const entry = this.#recordCount * ENTRY_WORDS;
    const index = this.#index;
    let offset = this.#writeOffset;
    let recordOffset = writeKeyedRecord(
      keys,
      bytes,
      byteOffset,
      byteLength,
      this.#pages[this.#segmentIndex]!,
      offset,
      segmentBytes,
      offset === 0,
      index,
      entry,
    );
    if (recordOffset < 0) {
      const segments = this.#lease.segments;
      if (offset === 0 || this.#segmentIndex + 1 >= segments.length) return false;
      this.#segmentIndex += 1;
      if (this.#pages.length === this.#segmentIndex) this.#openPage();
      this.#writeOffset = 0;
      offset = 0;
      recordOffset = writeKeyedRecord(
        keys,
        bytes,
        byteOffset,
        byteLength,
        this.#pages[this.#segmentIndex]!,
        0,
        segmentBytes,
        true,
        index,
        entry,
      );
      if (recordOffset < 0) return false;
    }
    index[entry + ADDRESS_WORD] = this.#segmentIndex * segmentBytes + recordOffset;
    index[entry + LENGTH_WORD] = byteLength;
    if (offset === 0) {
      const page = this.#pages[this.#segmentIndex]!;
      if (readKeyLength(page, recordOffset) === NO_KEY) this.#keylessCount += 1;
    }
    this.#writeOffset = recordOffset + byteLength;
    this.#dataBytes += byteLength;
    this.#recordCount += 1;
    return true;
  }

  /** Sorts the index on this thread. */
  sort(): void {
    this.#checkLive();
    sortEntries(
      this.#index,
      this.#recordCount,
      this.#pages,
      this.#segmentShift,
      this.order,
      this.#keys !== undefined,
    );
  }

  /** The page holding sorted record `i` (valid until the next reset, lend or release). */
  recordBytes(i: number): Uint8Array {
    return this.#pages[this.#index[i * ENTRY_WORDS + ADDRESS_WORD]! >>> this.#segmentShift]!;
  }

  /** The offset of record `i` in {@linkcode SortBuffer.recordBytes}. */
  recordOffset(i: number): number {
    return this.#index[i * ENTRY_WORDS + ADDRESS_WORD]! & this.#offsetMask;
  }

  /** The length of record `i`. */
  recordLength(i: number): number {
    return this.#index[i * ENTRY_WORDS + LENGTH_WORD]!;
  }

  /**
   * Writes the records in index order to `writer` (after `sort()`), without per-record method
   * calls on the buffer: the spill's hot loop.
   *
   * @param write Receives each record; returns a promise only when it must be awaited.
   */
  async writeSorted(
    write: (bytes: Uint8Array, byteOffset: number, byteLength: number) => Promise<void> | undefined,
  ): Promise<void> {
    this.#checkLive();
    const index = this.#index;
    const pages = this.#pages;
    const shift = this.#segmentShift;
    const mask = this.#offsetMask;
    const end = this.#recordCount * ENTRY_WORDS;
    for (let e = 0; e < end; e += ENTRY_WORDS) {
      const address = index[e + ADDRESS_WORD]!;
      const pending = write(pages[address >>> shift]!, address & mask, index[e + LENGTH_WORD]!);
      if (pending !== undefined) await pending;
    }
  }

  /**
   * Like {@linkcode SortBuffer.writeSorted} but from record `first` on (the records before it
   * were gathered into target pages and written from there).
   */
  async writeSortedFrom(
    first: number,
    write: (bytes: Uint8Array, byteOffset: number, byteLength: number) => Promise<void> | undefined,
  ): Promise<void> {
    this.#checkLive();
    const index = this.#index;
    const pages = this.#pages;
    const shift = this.#segmentShift;
    const mask = this.#offsetMask;
    const end = this.#recordCount * ENTRY_WORDS;
    for (let e = first * ENTRY_WORDS; e < end; e += ENTRY_WORDS) {
      const address = index[e + ADDRESS_WORD]!;
      const pending = write(pages[address >>> shift]!, address & mask, index[e + LENGTH_WORD]!);
      if (pending !== undefined) await pending;
    }
  }

  /** Empties the buffer for refilling (pages and index stay allocated). */
  reset(): void {
    this.#checkLive();
    if (this.#recordCount > this.#recordCountMax) this.#recordCountMax = this.#recordCount;
    this.#recordCount = 0;
    this.#segmentIndex = 0; // the page views taken so far stay valid: the lease is the same
    this.#writeOffset = 0;
    this.#dataBytes = 0;
    this.#keylessCount = 0;
  }

  /**
   * Lends the data pages and the index to a Worker (booked under `borrower` by the memory
   * manager; nothing is copied or moved); every accessor fails until
   * {@linkcode SortBuffer.takeBack}.
   *
   * @param borrower The Worker's owner name.
   * @returns The job: offsets into the shared memory the Worker already has.
   */
  lend(borrower: string): SortJob {
    this.#checkLive();
    const offsets = this.#memory.lend(borrower, this.#lease.segments);
    const [index] = this.#memory.lend(borrower, this.#indexLease.segments);
    this.#lentTo = borrower;
    return this.#job(offsets, index!);
  }

  /**
   * Notes that `borrower` sorts part of the buffer by offset while this thread sorts the rest
   * (a split sort's help: nothing is lent), so that a write after release names it.
   *
   * @param borrower The Worker's owner name.
   */
  shareWith(borrower: string): void {
    this.#checkLive();
    this.#memory.noteBorrower(this.#lease.owner, borrower);
  }

  /**
   * The buffer as a job for a kernel on this thread (nothing lent): valid until the buffer is
   * appended to, reset, lent or released.
   *
   * @returns The pages and index as offsets into the shared memory.
   */
  jobHere(): SortJob {
    this.#checkLive();
    // Only the pages in use: learning a page's offset counts it as written (poisoned later).
    const used = this.#lease.segments.slice(0, this.#pages.length);
    return this.#job(
      used.map((segment) => segment.memoryOffset),
      this.#indexLease.segments[0]!.memoryOffset,
    );
  }

  #job(offsets: readonly number[], index: number): SortJob {
    return {
      segments: offsets.slice(0, this.#pages.length),
      index: index + this.#headBytes,
      recordCount: this.#recordCount,
      segmentShift: this.#segmentShift,
      keyed: this.#keys !== undefined,
      keyEndsWithLine: this.keyEndsWithLine,
      prefixHoldsRecord: this.#plainBytes && this.#keys === undefined,
      prefixInverted: this.#invert,
    };
  }

  /**
   * Takes back what {@linkcode SortBuffer.lend} lent.
   *
   * @param sorted Whether the Worker finished the job: then it only read the data pages and
   *   wrote the used part of the index (what is not written is not poisoned on release);
   *   otherwise anything lent may have been written.
   */
  takeBack(sorted = true): void {
    assert(this.#lentTo !== undefined && !this.#released, "takeBack() without lend()");
    const data = this.#lease.segments;
    this.#memory.takeBack(this.#lentTo, data, sorted ? data.map(() => 0) : undefined);
    this.#memory.takeBack(
      this.#lentTo,
      this.#indexLease.segments,
      sorted ? [this.#headBytes + this.#recordCount * ENTRY_BYTES] : undefined,
    );
    this.#lentTo = undefined;
  }

  /** Whether the pages are lent to a Worker. */
  get isLent(): boolean {
    return this.#lentTo !== undefined;
  }

  /**
   * Gives the pages and the index bytes back to the manager. Idempotent. A buffer whose
   * pages are lent out cannot be released (the Worker still owns them).
   */
  release(): void {
    if (this.#released) return;
    assert(
      this.#lentTo === undefined,
      "Cannot release a sort buffer while a Worker holds its pages",
    );
    if (this.#recordCount > this.#recordCountMax) this.#recordCountMax = this.#recordCount;
    this.#released = true;
    this.#lease.release();
    // Only the entries ever used were written: poison (touch) no more of a large index.
    this.#indexLease.segments[0]!.limitWrittenTo(
      this.#headBytes + this.#recordCountMax * ENTRY_BYTES,
    );
    this.#indexLease.release();
    this.#pages = [];
  }

  /** Same as {@linkcode SortBuffer.release}. */
  [Symbol.dispose](): void {
    this.release();
  }

  #checkLive(): void {
    assert(!this.#released, "sort buffer used after release");
    assert(this.#lentTo === undefined, "sort buffer used while lent to a Worker");
  }
}

export { type SortJob, sortJob } from "./job_sort.ts";

/**
 * What the sort Worker runs on a full sort buffer, by offset into the shared memory: sort the
 * index (with the WebAssembly kernels where the order allows, else with index_sort.ts), drop
 * `-u` duplicates, and gather the records in sorted order straight into sealed spill blocks
 * (docs/spill_format.md: header, CRC32C, `varint + bytes` payload) in a ring of block
 * segments that the main thread writes out and hands back.
 *
 * ```
 * kernel area (contiguous, from the budget):
 * | sort scratch (SORT_SCRATCH_BYTES) | gather state (32) | page table (4 per data page) |
 * ```
 *
 * @module
 */
import { assert } from "../base/mod.ts";
// Leaf modules, not the layers' mod.ts: this file is in the sort Worker's module graph.
import { crc32c } from "../io/crc32c.ts";
import { BLOCK_HEADER_BYTES, blockFlags } from "../io/spill_format.ts";
import {
  GatherState,
  type KernelSet,
  KernelStatus,
  SORT_SCRATCH_BYTES,
} from "../kernels/kernel_state.ts";
import { ReferenceKernels } from "../kernels/reference_kernels.ts";
import { WasmKernels } from "../kernels/wasm_kernels.ts";
import { ADDRESS_WORD, ENTRY_WORDS, LENGTH_WORD } from "./index_sort.ts";
import { KEY_LENGTH_BYTES, NO_KEY } from "./keyed_records.ts";
import { FixedKeyOrder, type RecordOrder } from "./record_order.ts";
import { type SortJob, sortJob } from "./job_sort.ts";

/**
 * The most bytes of a record a run's first keys keep (its first bytes): the key split's
 * splitters are cut to as many (key_split.ts `SPLIT_KEY_BYTES_MAX`), so that a kept key orders
 * exactly against any splitter.
 */
export const FIRST_KEY_BYTES_MAX = 256;
/** The most key bytes a run's first keys hold; the blocks after are left out (read instead). */
export const FIRST_KEYS_BYTES_MAX = 64 * 1024;

/**
 * The first record that starts in each of a run's blocks, from its first blocks up to
 * {@linkcode FIRST_KEYS_BYTES_MAX} key bytes: the key split (key_split.ts) samples them and
 * searches a run without reading its blocks.
 */
export interface BlockFirstKeys {
  /**
   * Per block: the length of the first record that starts in it (-1: none starts there).
   * Blocks from this array's length on are not known.
   */
  recordLengths: number[];
  /** Per block: where its key ends in `bytes` (it starts where the block before's ends). */
  keyEnds: number[];
  /** The keys: each the record's first min(length, {@linkcode FIRST_KEY_BYTES_MAX}) bytes. */
  bytes: Uint8Array;
}

/** Bytes of the kernel area for a buffer of `dataSegments` pages (see the module doc). */
export function kernelAreaBytes(dataSegments: number): number {
  return SORT_SCRATCH_BYTES + GatherState.BYTES + 4 * dataSegments;
}

/**
 * Sorts a job's index in place: with the kernels when `kernels` is a {@linkcode WasmKernels}
 * and the order is plain bytes, fixed-size keys, or normalized keys (every record stored with
 * its key); otherwise with index_sort.ts (comparator orders: -g, -V, -R, -M, ... and keyless
 * records). Both give the same order, entry for entry.
 *
 * @param job The lent pages and index.
 * @param order The order.
 * @param options The memory, the kernels (undefined: JavaScript only) and the kernel area.
 * @returns Whether the kernels sorted it.
 */
export function sortJobWith(
  job: SortJob,
  order: RecordOrder,
  options: { memory: WebAssembly.Memory; kernels: KernelSet | undefined; areaOffset: number },
): boolean {
  const buffer = options.memory.buffer as SharedArrayBuffer;
  const kernels = options.kernels;
  if (kernels === undefined || !(kernels instanceof WasmKernels) || job.recordCount < 2) {
    sortJob(job, order, buffer);
    return false;
  }
  const area = options.areaOffset;
  const pageTable = writePageTable(buffer, job, area);
  const layout = {
    pageTableOffset: pageTable,
    segmentShift: job.segmentShift,
    scratchOffset: area,
  };
  if (job.keyed === true) {
    if (!pointEntriesAtKeys(job, buffer)) {
      sortJob(job, order, buffer);
      return false;
    }
    kernels.sortIndex(job.index, job.recordCount, { ...layout, reverse: false });
    pointEntriesAtRecords(job, buffer);
    return true;
  }
  if (order.isPlainBytes) {
    kernels.sortBytesIndex(job.index, job.recordCount, {
      ...layout,
      reverse: order.reverse,
      keyOffset: 0,
      keyBytes: -1,
    });
    return true;
  }
  if (order instanceof FixedKeyOrder) {
    kernels.sortBytesIndex(job.index, job.recordCount, {
      ...layout,
      reverse: false,
      keyOffset: order.keyOffset,
      keyBytes: order.keyBytes,
    });
    return true;
  }
  sortJob(job, order, buffer);
  return false;
}

/** Writes the job's page table into the kernel area; returns its offset. */
export function writePageTable(buffer: SharedArrayBuffer, job: SortJob, area: number): number {
  const offset = area + SORT_SCRATCH_BYTES + GatherState.BYTES;
  const table = new Uint32Array(buffer, offset, Math.max(1, job.segments.length));
  for (let s = 0; s < job.segments.length; s += 1) table[s] = job.segments[s]!;
  return offset;
}

/**
 * Keyed records (`[key][key length][record]`, keyed_records.ts) sort by their key bytes: each
 * entry is pointed at its key (address, key length), and the record's length is parked in the
 * key length word meanwhile. Returns false (nothing changed) when a record has no stored key.
 */
function pointEntriesAtKeys(job: SortJob, buffer: SharedArrayBuffer): boolean {
  const index = new Uint32Array(buffer, job.index, job.recordCount * ENTRY_WORDS);
  const view = new DataView(buffer);
  const shift = job.segmentShift;
  const mask = (1 << shift) - 1;
  const end = job.recordCount * ENTRY_WORDS;
  for (let e = 0; e < end; e += ENTRY_WORDS) {
    const address = index[e + ADDRESS_WORD]!;
    const at = job.segments[address >>> shift]! + (address & mask) - KEY_LENGTH_BYTES;
    if (view.getUint32(at, true) === NO_KEY) return false;
  }
  swapKeyAndRecord(job, buffer, true);
  return true;
}

/** Undoes {@linkcode pointEntriesAtKeys} after the sort. */
function pointEntriesAtRecords(job: SortJob, buffer: SharedArrayBuffer): void {
  swapKeyAndRecord(job, buffer, false);
}

/**
 * Points every entry at its key (`toKeys`) or back at its record, swapping the entry's length
 * word with the key length word stored before the record.
 */
function swapKeyAndRecord(job: SortJob, buffer: SharedArrayBuffer, toKeys: boolean): void {
  const index = new Uint32Array(buffer, job.index, job.recordCount * ENTRY_WORDS);
  const view = new DataView(buffer);
  const shift = job.segmentShift;
  const mask = (1 << shift) - 1;
  const end = job.recordCount * ENTRY_WORDS;
  for (let e = 0; e < end; e += ENTRY_WORDS) {
    const entryLength = index[e + LENGTH_WORD]!;
    // The record's address: the entry's now, or past its key when it points at the key.
    const address = toKeys
      ? index[e + ADDRESS_WORD]!
      : index[e + ADDRESS_WORD]! + entryLength + KEY_LENGTH_BYTES;
    const at = job.segments[address >>> shift]! + (address & mask) - KEY_LENGTH_BYTES;
    const stored = view.getUint32(at, true);
    view.setUint32(at, entryLength, true);
    index[e + LENGTH_WORD] = stored;
    index[e + ADDRESS_WORD] = toKeys ? address - KEY_LENGTH_BYTES - stored : address;
  }
}

/**
 * `-u` on a sorted job: keeps the first of each run of entries whose keys compare equal (what
 * the spill's unique filter kept), moving the kept entries down.
 *
 * @returns The entries kept (the job's `recordCount` is set to it).
 */
export function dropDuplicates(
  job: SortJob,
  order: RecordOrder,
  buffer: SharedArrayBuffer,
): number {
  const count = job.recordCount;
  if (count < 2) return count;
  const pageBytes = 2 ** job.segmentShift;
  const pages = job.segments.map((offset) => new Uint8Array(buffer, offset, pageBytes));
  const index = new Uint32Array(buffer, job.index, count * ENTRY_WORDS);
  const shift = job.segmentShift;
  const mask = pageBytes - 1;
  let kept = 1;
  let last = 0;
  for (let i = 1; i < count; i += 1) {
    const e = i * ENTRY_WORDS;
    const a = index[last + ADDRESS_WORD]!;
    const b = index[e + ADDRESS_WORD]!;
    const equal = order.compareKeys(
      pages[a >>> shift]!,
      a & mask,
      index[last + LENGTH_WORD]!,
      pages[b >>> shift]!,
      b & mask,
      index[e + LENGTH_WORD]!,
    ) === 0;
    if (equal) continue;
    const to = kept * ENTRY_WORDS;
    if (to !== e) index.copyWithin(to, e, e + ENTRY_WORDS);
    last = to;
    kept += 1;
  }
  job.recordCount = kept;
  return kept;
}

/** One sealed block of a {@linkcode BlockGather}. */
export interface SealedBlock {
  /** Ring slot the block is in. */
  slot: number;
  /** Records that end in the block. */
  recordCount: number;
  /** Whether it is the run's last block. */
  last: boolean;
}

/**
 * Gathers a sorted job into sealed spill blocks, one ring slot at a time: {@linkcode next}
 * fills the next free slot and seals it; {@linkcode free} gives a slot back once written.
 */
export class BlockGather {
  readonly #kernels: KernelSet;
  readonly #bytes: Uint8Array;
  readonly #state: GatherState;
  readonly #ring: readonly number[];
  readonly #blockBytes: number;
  /** Memory offset of the job's index (a record cut by a block border: its length). */
  readonly #indexOffset: number;
  /** Keyed records: gathered as a keyed run's (`gatherKeyed`). */
  readonly #keyed: boolean;
  /** Their keys end with the line, which the run stores once. */
  readonly #lineEndsKey: boolean;
  /** The job's pages (a keyed record cut by a block border: its key length). */
  readonly #segments: readonly number[];
  readonly #segmentShift: number;
  #slot = 0;
  #freeSlots: number;
  #blockIndex = 0;
  #done = false;
  /** Payload bytes of the blocks sealed so far. */
  #payloadBefore = 0;
  /** Varint bytes beyond one per record, of the records gathered whole so far. */
  #longVarintBytes = 0;
  /**
   * Per sealed block of plain records: the output bytes (record + terminator each) of the
   * records before the first one that starts in it; -1 when none starts in it (see
   * {@linkcode BlockGather.lineBytesIndex}).
   */
  readonly #lineBytesBefore: number[] = [];
  /** The blocks' first keys ({@linkcode BlockGather.blockFirstKeys}), of plain records. */
  readonly #firstKeys: BlockFirstKeys = {
    recordLengths: [],
    keyEnds: [],
    bytes: new Uint8Array(0),
  };
  #firstKeysFull = false;
  /** Records to gather. */
  readonly #recordCount: number;
  /** The memory as words (index entries: word 3 is the record's length). */
  readonly #lengths: Uint32Array;

  /**
   * Starts the gather of `job` (sorted) into blocks of `blockBytes` at the `ring` offsets.
   *
   * @param job The sorted job.
   * @param options Memory, kernels (the reference ones when undefined), kernel area, ring.
   */
  constructor(
    job: SortJob,
    options: {
      memory: WebAssembly.Memory;
      kernels: KernelSet | undefined;
      areaOffset: number;
      ring: readonly number[];
      blockBytes: number;
    },
  ) {
    assert(options.ring.length >= 1, "a gather needs at least one block");
    const buffer = options.memory.buffer as SharedArrayBuffer;
    this.#kernels = options.kernels ?? new ReferenceKernels(options.memory);
    this.#bytes = new Uint8Array(buffer);
    this.#ring = options.ring;
    this.#blockBytes = options.blockBytes;
    this.#freeSlots = options.ring.length;
    this.#indexOffset = job.index;
    assert(job.index % 4 === 0, "a sort index starts 4-byte aligned");
    this.#recordCount = job.recordCount;
    this.#lengths = new Uint32Array(buffer);
    this.#keyed = job.keyed === true;
    this.#lineEndsKey = this.#keyed && job.keyEndsWithLine === true;
    this.#segments = job.segments;
    this.#segmentShift = job.segmentShift;
    this.#state = new GatherState(options.memory, options.areaOffset + SORT_SCRATCH_BYTES);
    this.#state.start({
      indexOffset: job.index,
      recordCount: job.recordCount,
      pageTableOffset: writePageTable(buffer, job, options.areaOffset),
      segmentShift: job.segmentShift,
      lineEndsKey: this.#lineEndsKey,
      prefixHoldsRecord: !this.#keyed && job.prefixHoldsRecord === true,
      prefixInverted: job.prefixInverted === true,
    });
  }

  /** Bytes the gather writes for the entry at memory offset `entry` of `length` bytes. */
  #encodedBytes(entry: number, length: number): number {
    if (!this.#keyed) return varintLength(length) + length;
    const bytes = this.#bytes;
    const address = (bytes[entry + 8]! | bytes[entry + 9]! << 8 | bytes[entry + 10]! << 16 |
      bytes[entry + 11]! << 24) >>> 0;
    const shift = this.#segmentShift;
    const at = this.#segments[address >>> shift]! + (address & ((1 << shift) - 1)) -
      KEY_LENGTH_BYTES;
    const keyLength = (bytes[at]! | bytes[at + 1]! << 8 | bytes[at + 2]! << 16 |
      bytes[at + 3]! << 24) >>> 0;
    const stored = keyLength !== NO_KEY && this.#lineEndsKey ? keyLength - length : keyLength;
    return keyedEncodedBytes(stored, length);
  }

  /**
   * Notes the block's entry of the line-bytes index ({@linkcode BlockGather.lineBytesIndex}):
   * the records before the block's first record start hold its payload bytes before it less
   * their varint bytes plus one terminator each, that is the payload bytes less the varint
   * bytes beyond one per record. Then counts those of the records completed in the block
   * (ranks [`before`, `after`)): one loop over their index lengths; no record is read.
   */
  #indexBlock(
    before: number,
    pending: number,
    first: number,
    after: number,
    payloadBytes: number,
  ): void {
    const lengths = this.#lengths;
    const base = (this.#indexOffset >>> 2) + 3;
    let long = this.#longVarintBytes;
    if (first < 0) {
      this.#lineBytesBefore.push(-1);
    } else {
      const cut = pending > 0 ? varintLength(lengths[base + 4 * before]!) - 1 : 0;
      this.#lineBytesBefore.push(this.#payloadBefore + first - long - cut);
    }
    for (let rank = before; rank < after; rank += 1) {
      const length = lengths[base + 4 * rank]!;
      if (length >= 0x80) long += varintLength(length) - 1;
    }
    this.#longVarintBytes = long;
    this.#payloadBefore += payloadBytes;
    // After the last block: the run's output bytes in all.
    if (after === this.#recordCount) this.#lineBytesBefore.push(this.#payloadBefore - long);
  }

  /**
   * Notes the key of the block's first record start (rank `rank`, when `starts`), read from the
   * sort buffer: its first bytes, up to {@linkcode FIRST_KEY_BYTES_MAX}; none once the keys
   * hold {@linkcode FIRST_KEYS_BYTES_MAX} bytes.
   */
  #noteFirstKey(rank: number, starts: boolean): void {
    if (this.#firstKeysFull) return;
    const keys = this.#firstKeys;
    const used = keys.keyEnds.length === 0 ? 0 : keys.keyEnds[keys.keyEnds.length - 1]!;
    if (!starts) {
      keys.recordLengths.push(-1);
      keys.keyEnds.push(used);
      return;
    }
    const word = (this.#indexOffset >>> 2) + rank * ENTRY_WORDS;
    const address = this.#lengths[word + ADDRESS_WORD]!;
    const length = this.#lengths[word + LENGTH_WORD]!;
    const keyBytes = Math.min(length, FIRST_KEY_BYTES_MAX);
    if (used + keyBytes > FIRST_KEYS_BYTES_MAX) {
      this.#firstKeysFull = true;
      return;
    }
    if (keys.bytes.length < used + keyBytes) {
      const grown = new Uint8Array(Math.min(FIRST_KEYS_BYTES_MAX, 2 * (used + keyBytes) + 1024));
      grown.set(keys.bytes.subarray(0, used));
      keys.bytes = grown;
    }
    const shift = this.#segmentShift;
    // A record never crosses a page border (sort_buffer.ts).
    const from = this.#segments[address >>> shift]! + (address & ((1 << shift) - 1));
    keys.bytes.set(this.#bytes.subarray(from, from + keyBytes), used);
    keys.recordLengths.push(length);
    keys.keyEnds.push(used + keyBytes);
  }

  /**
   * The first record start of each block, from the run's first block up to
   * {@linkcode FIRST_KEYS_BYTES_MAX} key bytes (plain records only; undefined for keyed ones).
   */
  get blockFirstKeys(): BlockFirstKeys | undefined {
    if (this.#keyed) return undefined;
    const keys = this.#firstKeys;
    const used = keys.keyEnds.length === 0 ? 0 : keys.keyEnds[keys.keyEnds.length - 1]!;
    return {
      recordLengths: keys.recordLengths,
      keyEnds: keys.keyEnds,
      bytes: keys.bytes.slice(0, used),
    };
  }

  /** Whether the last block was sealed. */
  get isDone(): boolean {
    return this.#done;
  }

  /**
   * The run's line-bytes index (plain records only; undefined for keyed ones): for each block,
   * the output bytes of the run's records before the first record that starts in the block
   * (-1: none starts there), and one entry more: the run's output bytes in all. With the first-record offset of the block's flags, it gives how
   * many output bytes lie before any record start without reading the blocks before it: the
   * placed final merge writes each key range at its offset (src/sort/placed_merge.ts).
   */
  get lineBytesIndex(): number[] | undefined {
    return this.#keyed ? undefined : this.#lineBytesBefore;
  }

  /** Records gathered so far. */
  get gatheredCount(): number {
    return this.#state.writtenCount;
  }

  /** A slot was written out: it may be filled again. */
  free(): void {
    this.#freeSlots += 1;
    assert(this.#freeSlots <= this.#ring.length, "more ring slots freed than filled");
  }

  /**
   * Fills and seals the next slot.
   *
   * @returns The block, or undefined when no slot is free or the gather is done.
   */
  next(): SealedBlock | undefined {
    if (this.#done || this.#freeSlots === 0) return undefined;
    const slot = this.#slot;
    const base = this.#ring[slot]!;
    const state = this.#state;
    const before = state.writtenCount;
    const pending = state.pendingBytes;
    state.setOutput(base + BLOCK_HEADER_BYTES, base + this.#blockBytes);
    const status = this.#keyed
      ? this.#kernels.gatherKeyed(state.byteOffset)
      : this.#kernels.gather(state.byteOffset);
    const last = status === KernelStatus.done;
    const payloadBytes = state.outputOffset - base - BLOCK_HEADER_BYTES;
    const bytes = this.#bytes;
    // The first record that starts here: at 0, or after the rest of the record cut before.
    let first = 0;
    if (pending > 0) {
      const entry = this.#indexOffset + before * 16;
      const length = (bytes[entry + 12]! | bytes[entry + 13]! << 8 | bytes[entry + 14]! << 16 |
        bytes[entry + 15]! << 24) >>> 0;
      first = this.#encodedBytes(entry, length) - pending;
    }
    if (first >= payloadBytes) first = -1;
    if (!this.#keyed) {
      this.#indexBlock(before, pending, first, state.writtenCount, payloadBytes);
      this.#noteFirstKey(pending > 0 ? before + 1 : before, first >= 0);
    }
    writeU32(bytes, base, payloadBytes);
    writeU32(bytes, base + 4, blockFlags(last, first));
    writeU32(bytes, base + 8, this.#blockIndex);
    writeU32(
      bytes,
      base + 12,
      crc32c(bytes, base + BLOCK_HEADER_BYTES, state.outputOffset, crc32c(bytes, base, base + 12)),
    );
    this.#blockIndex += 1;
    this.#slot = (slot + 1) % this.#ring.length;
    this.#freeSlots -= 1;
    this.#done = last;
    return { slot, recordCount: state.writtenCount - before, last };
  }
}

/** Bytes of the encoding of an entry's record (keyed: varint(body), key field, key, line). */
function keyedEncodedBytes(keyLength: number, lineLength: number): number {
  const field = keyLength === NO_KEY ? 0 : keyLength + 1;
  const body = varintLength(field) + (keyLength === NO_KEY ? 0 : keyLength) + lineLength;
  return varintLength(body) + body;
}

function varintLength(value: number): number {
  return value < 0x80
    ? 1
    : value < 0x4000
    ? 2
    : value < 0x20_0000
    ? 3
    : value < 0x1000_0000
    ? 4
    : 5;
}

function writeU32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff;
  bytes[at + 1] = (value >>> 8) & 0xff;
  bytes[at + 2] = (value >>> 16) & 0xff;
  bytes[at + 3] = value >>> 24;
}

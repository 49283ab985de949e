import { formatBytes, MiB, ResourceError } from "../base/mod.ts";
import { RecordTooLargeError } from "../io/mod.ts";
import type { MemoryManager, MemoryReservation } from "../memory/mod.ts";
import { LoserTree } from "./loser_tree.ts";
import type { RecordOrder } from "./record_order.ts";

/**
 * A sorted stream of records: a spilled run's reader, a sorted in-memory buffer, or a sorted
 * input file (`-m`). `next()` is synchronous in the fast path and returns a promise only when
 * a block must be awaited. The current record is valid until the next `next()`.
 */
export interface RecordCursor {
  /** Advances; true when a record is current, false at the end. */
  next(): boolean | Promise<boolean>;
  /** Storage of the current record. */
  readonly recordBytes: Uint8Array;
  /** Offset of the current record in `recordBytes`. */
  readonly recordOffset: number;
  /** Length of the current record. */
  readonly recordLength: number;
}

/** Where merged records go: synchronous in the fast path, a promise when a block is flushed. */
export type RecordSink = (
  bytes: Uint8Array,
  byteOffset: number,
  byteLength: number,
) => Promise<void> | undefined;

/** Options of {@linkcode mergeCursors}. */
export interface MergeOptions {
  /** The ordering. */
  order: RecordOrder;
  /** Keep only the first of each group of records with equal keys (`-u`). */
  unique: boolean;
  /** The manager that budgets the `-u` scratch copy of the last record. */
  memory: MemoryManager;
  /** Owner of that reservation. */
  owner: string;
  /**
   * The `-u` filter to use (and release): one that kept the last record written before this
   * merge, which the merge continues (src/sort/text_merge.ts); default: a new, empty one.
   */
  filter?: UniqueFilter | undefined;
}

/**
 * Merges sorted cursors into `sink` with a {@linkcode LoserTree}; ties go to the lower cursor
 * index, so merging runs in input order keeps the sort stable.
 *
 * @param cursors The sorted inputs, in input order (not yet advanced).
 * @param sink Receives each output record.
 * @param options Order, `-u`, and the budget for the `-u` scratch copy.
 * @returns How many records were written.
 */
export async function mergeCursors(
  cursors: readonly RecordCursor[],
  sink: RecordSink,
  options: MergeOptions,
): Promise<number> {
  const k = cursors.length;
  if (k === 0) return 0;
  const live = new Uint8Array(k);
  for (let i = 0; i < k; i += 1) {
    let more = cursors[i]!.next();
    if (more instanceof Promise) more = await more;
    live[i] = more ? 1 : 0;
  }
  const order = options.order;
  if (order.isPlainBytes) return await mergePlainBytes(cursors, live, sink, options);
  const isLess = makeIsLess(cursors, order);
  const tree = new LoserTree(k, isLess);
  tree.init((i) => live[i] === 0);
  const unique = options.filter ?? new UniqueFilter(options);
  let written = 0;
  try {
    while (true) {
      const w = tree.winner;
      if (w === -1) break;
      const cursor = cursors[w]!;
      if (unique.accept(cursor.recordBytes, cursor.recordOffset, cursor.recordLength)) {
        const pending = sink(cursor.recordBytes, cursor.recordOffset, cursor.recordLength);
        if (pending !== undefined) await pending;
        written += 1;
      }
      let more = cursor.next();
      if (more instanceof Promise) more = await more;
      tree.replaceTop(!more);
    }
  } finally {
    unique.release();
  }
  return written;
}

/**
 * The merge for plain byte order: each cursor's head gets an 8-byte prefix (two big-endian
 * words, inverted for -r) when it advances, so most tree matches are two integer compares.
 */
async function mergePlainBytes(
  cursors: readonly RecordCursor[],
  live: Uint8Array,
  sink: RecordSink,
  options: MergeOptions,
): Promise<number> {
  const k = cursors.length;
  const reverse = options.order.reverse;
  const heads = new Uint32Array(2 * k);
  const setHead = (i: number): void => {
    const cursor = cursors[i]!;
    const bytes = cursor.recordBytes;
    const o = cursor.recordOffset;
    const length = cursor.recordLength;
    let w0: number;
    let w1: number;
    if (length >= 8) {
      w0 = (bytes[o]! << 24 | bytes[o + 1]! << 16 | bytes[o + 2]! << 8 | bytes[o + 3]!) >>> 0;
      w1 = (bytes[o + 4]! << 24 | bytes[o + 5]! << 16 | bytes[o + 6]! << 8 | bytes[o + 7]!) >>> 0;
    } else {
      w0 = 0;
      w1 = 0;
      for (let b = 0; b < 8; b += 1) {
        const byte = b < length ? bytes[o + b]! : 0;
        if (b < 4) w0 = w0 * 256 + byte;
        else w1 = w1 * 256 + byte;
      }
    }
    heads[2 * i] = reverse ? ~w0 >>> 0 : w0;
    heads[2 * i + 1] = reverse ? ~w1 >>> 0 : w1;
  };
  for (let i = 0; i < k; i += 1) if (live[i] === 1) setHead(i);
  const isLess = (i: number, j: number): boolean => {
    const a0 = heads[2 * i]!, b0 = heads[2 * j]!;
    if (a0 !== b0) return a0 < b0;
    const a1 = heads[2 * i + 1]!, b1 = heads[2 * j + 1]!;
    if (a1 !== b1) return a1 < b1;
    const a = cursors[i]!;
    const b = cursors[j]!;
    const aBytes = a.recordBytes, bBytes = b.recordBytes;
    const aOffset = a.recordOffset, bOffset = b.recordOffset;
    const aLength = a.recordLength, bLength = b.recordLength;
    const common = aLength < bLength ? aLength : bLength;
    for (let x = common < 8 ? common : 8; x < common; x += 1) {
      const d = aBytes[aOffset + x]! - bBytes[bOffset + x]!;
      if (d !== 0) return reverse ? d > 0 : d < 0;
    }
    return reverse ? aLength > bLength : aLength < bLength;
  };
  const tree = new LoserTree(k, isLess);
  tree.init((i) => live[i] === 0);
  const unique = options.filter ?? new UniqueFilter(options);
  let written = 0;
  try {
    while (true) {
      const w = tree.winner;
      if (w === -1) break;
      const cursor = cursors[w]!;
      if (unique.accept(cursor.recordBytes, cursor.recordOffset, cursor.recordLength)) {
        const pending = sink(cursor.recordBytes, cursor.recordOffset, cursor.recordLength);
        if (pending !== undefined) await pending;
        written += 1;
      }
      let more = cursor.next();
      if (more instanceof Promise) more = await more;
      if (more) setHead(w);
      tree.replaceTop(!more);
    }
  } finally {
    unique.release();
  }
  return written;
}

function makeIsLess(
  cursors: readonly RecordCursor[],
  order: RecordOrder,
): (i: number, j: number) => boolean {
  if (order.isPlainBytes) {
    const reverse = order.reverse;
    return (i, j) => {
      const a = cursors[i]!;
      const b = cursors[j]!;
      const aBytes = a.recordBytes, bBytes = b.recordBytes;
      const aOffset = a.recordOffset, bOffset = b.recordOffset;
      const aLength = a.recordLength, bLength = b.recordLength;
      const common = aLength < bLength ? aLength : bLength;
      for (let x = 0; x < common; x += 1) {
        const d = aBytes[aOffset + x]! - bBytes[bOffset + x]!;
        if (d !== 0) return reverse ? d > 0 : d < 0;
      }
      return reverse ? aLength > bLength : aLength < bLength;
    };
  }
  return (i, j) => {
    const a = cursors[i]!;
    const b = cursors[j]!;
    return order.compare(
      a.recordBytes,
      a.recordOffset,
      a.recordLength,
      b.recordBytes,
      b.recordOffset,
      b.recordLength,
    ) < 0;
  };
}

/**
 * A `-u` copy larger than this is given back once a record shorter than an eighth of it is kept
 * (the copy then shrinks to that record's size): a merge that wrote a line of a quarter of the
 * budget does not keep a quarter aside for the rest of it, while the lines of the other inputs
 * may be that long too (`sort -m -u`). Shorter copies never shrink (no allocation per line).
 */
const SHRINK_FROM_BYTES = 64 * 1024;

/**
 * The `-u` filter: remembers a copy of the last accepted record (in budgeted scratch memory)
 * and rejects records whose keys equal it.
 */
export class UniqueFilter {
  readonly #enabled: boolean;
  readonly #order: RecordOrder;
  readonly #memory: MemoryManager;
  readonly #owner: string;
  #scratch: Uint8Array = new Uint8Array(0);
  #reservation: MemoryReservation | undefined = undefined;
  #length = -1;

  /**
   * Creates a filter; it keeps nothing until the first record.
   *
   * @param options Order, whether `-u` is on, and the budget for the copy.
   */
  constructor(options: MergeOptions) {
    this.#enabled = options.unique;
    this.#order = options.order;
    this.#memory = options.memory;
    this.#owner = options.owner;
  }

  /**
   * Whether the record is kept (always, unless `-u` and its keys equal the last kept one).
   *
   * @throws {RecordTooLargeError} When the budget has no room for the copy of a kept record.
   */
  accept(bytes: Uint8Array, byteOffset: number, byteLength: number): boolean {
    if (!this.#enabled) return true;
    if (
      this.#length >= 0 &&
      this.#order.compareKeys(this.#scratch, 0, this.#length, bytes, byteOffset, byteLength) === 0
    ) {
      return false;
    }
    const capacity = this.#scratch.length;
    if (byteLength > capacity || (capacity > SHRINK_FROM_BYTES && byteLength < capacity >>> 3)) {
      this.#resize(byteLength);
    }
    this.#scratch.set(bytes.subarray(byteOffset, byteOffset + byteLength), 0);
    this.#length = byteLength;
    return true;
  }

  /** Gives the scratch bytes back. Idempotent. */
  release(): void {
    this.#reservation?.release();
    this.#reservation = undefined;
    this.#scratch = new Uint8Array(0);
    this.#length = -1;
  }

  #resize(byteLength: number): void {
    const capacity = Math.max(256, 2 ** Math.ceil(Math.log2(byteLength)));
    this.#reservation?.release();
    this.#reservation = undefined;
    try {
      this.#reservation = this.#memory.reserve(this.#owner, capacity);
    } catch (error) {
      if (!(error instanceof ResourceError)) throw error;
      throw uniqueCopyTooLarge(this.#memory, byteLength, capacity, error);
    }
    this.#scratch = new Uint8Array(capacity);
  }
}

/**
 * The budget error for a `-u` copy that does not fit beside what is held (the current line of
 * every input of a merge, or the sort buffer being spilled): exit 3, naming the copy, what is
 * held and a budget with room for both.
 */
function uniqueCopyTooLarge(
  memory: MemoryManager,
  lineBytes: number,
  copyBytes: number,
  cause: ResourceError,
): RecordTooLargeError {
  const heldBytes = (memory.totalSegments - memory.freeSegments) * memory.segmentBytes;
  const neededMiB = Math.ceil((heldBytes + copyBytes) / MiB);
  return new RecordTooLargeError(
    `Cannot keep the -u copy of the last line written (${formatBytes(copyBytes)} for a line of ${
      formatBytes(lineBytes)
    }) beside the ${formatBytes(heldBytes)} of the ${
      formatBytes(memory.budgetBytes)
    } budget held now; raise --memory (-S) to at least ${neededMiB}m`,
    { cause },
  );
}

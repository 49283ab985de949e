import { SegmentReleasedError } from "./errors.ts";

const MAX_SAFE_HIGH_WORD = 0x1f_ffff; // 2^53 - 1 = 0x1f_ffff_ffff_ffff

/** A handle's expected generation while its segment is lent out: no page ever has it. */
const LENT = -1;

/**
 * What a segment needs from its manager: the page generations and the memory's buffer.
 * Only the {@linkcode MemoryManager} makes one.
 */
export interface SegmentPool {
  /** The current generation of every page; a release bumps the page's entry. */
  readonly generations: Uint32Array;
  /** The shared memory's buffer, covering at least every page handed out so far. */
  readonly buffer: SharedArrayBuffer;
}

/** Where a segment is and which lease of its pages it stands for. */
export interface SegmentPlace {
  /** Unique id of this lease of the pages, for messages. */
  id: number;
  /** The owner it was allocated to. */
  owner: string;
  /** Index of its first page in the manager's pool. */
  pageIndex: number;
  /** Byte offset of its first byte in the shared memory. */
  memoryOffset: number;
  /** Size in bytes (one page, or several contiguous pages). */
  byteLength: number;
  /** The first page's generation when handed out. */
  generation: number;
}

/** Internal hooks of the manager into its segments (not exported from `mod.ts`). */
export interface SegmentInternals {
  /**
   * How many leading bytes a raw view, an address or a write may have reached (0: the bytes
   * are as they were when handed out; `byteLength`: all of them).
   */
  writtenBytes(segment: MemorySegment): number;
  /** Widens the written extent to at least `byteLength` (what a borrower wrote). */
  addWrittenBytes(segment: MemorySegment, byteLength: number): void;
  /**
   * Marks a segment lent to `borrower` (every accessor throws until it comes back).
   *
   * @returns Its memory offset (without counting as a write: the borrower reports its writes).
   */
  lend(segment: MemorySegment, borrower: string): number;
  /** Marks a lent segment returned. */
  takeBack(segment: MemorySegment): void;
  /**
   * What the borrower left in each page ({@linkcode PageContent}, one byte a page), as it
   * reported when the segment came back; undefined when it did not say, or once the segment
   * was written through a view, an address or a write since.
   */
  pageContents(segment: MemorySegment): Uint8Array | undefined;
  /** Records the borrower's report of {@linkcode SegmentInternals.pageContents}. */
  setPageContents(segment: MemorySegment, contents: Uint8Array): void;
  /** The borrower of a lent segment, or undefined. */
  borrower(segment: MemorySegment): string | undefined;
}

/** The manager's hooks; see {@linkcode SegmentInternals}. */
export let segmentInternals: SegmentInternals;

/**
 * A fixed-size range of managed memory: Flink's `MemorySegment`, as a handle
 * `(memoryOffset, byteLength, generation)` into the manager's one shared `WebAssembly.Memory`.
 *
 * Segments are made only by a {@linkcode MemoryManager}. Releasing a segment bumps its
 * page's generation, so every accessor of the stale handle throws
 * {@linkcode SegmentReleasedError} naming the owner and the segment; an access outside the
 * segment throws `RangeError`. Raw `bytes` views cannot be detached (the memory is shared):
 * they must not outlive the lease, and in checked leak-detection levels the manager poisons
 * a released page and verifies the poison when it hands the page out again, so a write
 * through a stale view is reported.
 *
 * Layout is up to the operator that leases the segment; `bytes` is the raw view for hot loops,
 * `memoryOffset` the address for WebAssembly kernels.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { MemoryManager } from "./memory_manager.ts";
 * const memory = new MemoryManager({ budgetBytes: 64 * 1024, segmentBytes: 4096 });
 * {
 *   using lease = memory.allocate("example", 1);
 *   const segment = lease.segments[0]!;
 *   segment.setU32BE(0, 0xcafe_babe);
 *   strictEqual(segment.getU8(0), 0xca);
 * }
 * memory.assertAllReleased();
 * ```
 */
export class MemorySegment {
  /** Unique id of this lease of the pages (a page gets a new id each time it is handed out). */
  readonly id: number;
  /** The owner this segment was allocated to. */
  readonly owner: string;
  /** Size in bytes (a power of two for a page; a multiple of it for a contiguous segment). */
  readonly byteLength: number;
  /** Index of the first page in the manager's pool. */
  readonly pageIndex: number;
  /** The page generation this handle stands for. */
  readonly generation: number;
  readonly #memoryOffset: number;
  readonly #pool: SegmentPool;
  #expected: number;
  #borrower: string | undefined = undefined;
  /** How many leading bytes may have been written since hand-out (see `writtenBytes`). */
  #writtenBytes = 0;
  /** The borrower's report of its pages (see `pageContents`); dropped by any later write. */
  #pageContents: Uint8Array | undefined = undefined;
  #view: DataView<SharedArrayBuffer> | undefined = undefined;
  #bytes: Uint8Array<SharedArrayBuffer> | undefined = undefined;

  static {
    segmentInternals = {
      writtenBytes: (segment) => segment.#writtenBytes,
      addWrittenBytes(segment, byteLength) {
        if (byteLength > segment.#writtenBytes) segment.#writtenBytes = byteLength;
      },
      lend(segment, borrower) {
        segment.#check("lend");
        segment.#borrower = borrower;
        segment.#expected = LENT;
        return segment.#memoryOffset;
      },
      takeBack(segment) {
        segment.#borrower = undefined;
        segment.#expected = segment.generation;
      },
      borrower: (segment) => segment.#borrower,
      pageContents: (segment) => segment.#pageContents,
      setPageContents(segment, contents) {
        segment.#pageContents = contents;
      },
    };
  }

  /**
   * Wraps a range of the pool. Only the {@linkcode MemoryManager} calls this.
   *
   * @param pool The manager's page generations and buffer.
   * @param place Where the segment is, its id, owner and generation.
   */
  constructor(pool: SegmentPool, place: SegmentPlace) {
    this.id = place.id;
    this.owner = place.owner;
    this.byteLength = place.byteLength;
    this.pageIndex = place.pageIndex;
    this.generation = place.generation;
    this.#memoryOffset = place.memoryOffset;
    this.#pool = pool;
    this.#expected = place.generation;
  }

  /** Whether the segment was released (every accessor throws then). */
  get isReleased(): boolean {
    return this.#pool.generations[this.pageIndex] !== this.generation;
  }

  /**
   * Declares that only the first `byteLength` bytes were written since the segment was handed
   * out (e.g. the used part of a large index), so that release poisons (touches) only those.
   * The holder vouches for it: a write beyond it is not covered by the poison check.
   *
   * @param byteLength The written prefix in bytes.
   */
  limitWrittenTo(byteLength: number): void {
    this.#check("limit");
    this.#writtenBytes = Math.max(0, Math.min(this.#writtenBytes, byteLength));
  }

  /** Whether the segment is lent to a Worker right now (every accessor throws then). */
  get isLent(): boolean {
    return this.#borrower !== undefined && !this.isReleased;
  }

  /**
   * The byte offset of the segment in the shared `WebAssembly.Memory`, for kernels and
   * Workers (whoever learns it may write, so the page counts as written).
   *
   * @throws {SegmentReleasedError} If the segment was released or is lent out.
   */
  get memoryOffset(): number {
    this.#check("address");
    this.#markWritten();
    return this.#memoryOffset;
  }

  /**
   * The raw bytes of the segment, for hot loops inside the operator that leased it. A view
   * of shared memory: it stays readable after release, so it must not outlive the lease.
   *
   * @throws {SegmentReleasedError} If the segment was released or is lent out.
   */
  get bytes(): Uint8Array<SharedArrayBuffer> {
    this.#check("view");
    this.#markWritten();
    return this.#bytes ??= new Uint8Array(this.#pool.buffer, this.#memoryOffset, this.byteLength);
  }

  /** Reads an unsigned byte at `byteOffset`. */
  getU8(byteOffset: number): number {
    return this.#readView().getUint8(byteOffset);
  }

  /** Writes an unsigned byte at `byteOffset`. */
  setU8(byteOffset: number, value: number): void {
    this.#writeView().setUint8(byteOffset, value);
  }

  /** Reads a signed byte at `byteOffset`. */
  getI8(byteOffset: number): number {
    return this.#readView().getInt8(byteOffset);
  }

  /** Writes a signed byte at `byteOffset`. */
  setI8(byteOffset: number, value: number): void {
    this.#writeView().setInt8(byteOffset, value);
  }

  /** Reads a 2-byte unsigned value, big-endian, at `byteOffset`. */
  getU16BE(byteOffset: number): number {
    return this.#readView().getUint16(byteOffset, false);
  }

  /** Writes a 2-byte unsigned value, big-endian, at `byteOffset`. */
  setU16BE(byteOffset: number, value: number): void {
    this.#writeView().setUint16(byteOffset, value, false);
  }

  /** Reads a 2-byte unsigned value, little-endian, at `byteOffset`. */
  getU16LE(byteOffset: number): number {
    return this.#readView().getUint16(byteOffset, true);
  }

  /** Writes a 2-byte unsigned value, little-endian, at `byteOffset`. */
  setU16LE(byteOffset: number, value: number): void {
    this.#writeView().setUint16(byteOffset, value, true);
  }

  /** Reads a 2-byte signed value, big-endian, at `byteOffset`. */
  getI16BE(byteOffset: number): number {
    return this.#readView().getInt16(byteOffset, false);
  }

  /** Writes a 2-byte signed value, big-endian, at `byteOffset`. */
  setI16BE(byteOffset: number, value: number): void {
    this.#writeView().setInt16(byteOffset, value, false);
  }

  /** Reads a 2-byte signed value, little-endian, at `byteOffset`. */
  getI16LE(byteOffset: number): number {
    return this.#readView().getInt16(byteOffset, true);
  }

  /** Writes a 2-byte signed value, little-endian, at `byteOffset`. */
  setI16LE(byteOffset: number, value: number): void {
    this.#writeView().setInt16(byteOffset, value, true);
  }

  /** Reads a 4-byte unsigned value, big-endian, at `byteOffset`. */
  getU32BE(byteOffset: number): number {
    return this.#readView().getUint32(byteOffset, false);
  }

  /** Writes a 4-byte unsigned value, big-endian, at `byteOffset`. */
  setU32BE(byteOffset: number, value: number): void {
    this.#writeView().setUint32(byteOffset, value, false);
  }

  /** Reads a 4-byte unsigned value, little-endian, at `byteOffset`. */
  getU32LE(byteOffset: number): number {
    return this.#readView().getUint32(byteOffset, true);
  }

  /** Writes a 4-byte unsigned value, little-endian, at `byteOffset`. */
  setU32LE(byteOffset: number, value: number): void {
    this.#writeView().setUint32(byteOffset, value, true);
  }

  /** Reads a 4-byte signed value, big-endian, at `byteOffset`. */
  getI32BE(byteOffset: number): number {
    return this.#readView().getInt32(byteOffset, false);
  }

  /** Writes a 4-byte signed value, big-endian, at `byteOffset`. */
  setI32BE(byteOffset: number, value: number): void {
    this.#writeView().setInt32(byteOffset, value, false);
  }

  /** Reads a 4-byte signed value, little-endian, at `byteOffset`. */
  getI32LE(byteOffset: number): number {
    return this.#readView().getInt32(byteOffset, true);
  }

  /** Writes a 4-byte signed value, little-endian, at `byteOffset`. */
  setI32LE(byteOffset: number, value: number): void {
    this.#writeView().setInt32(byteOffset, value, true);
  }

  /** Reads a 4-byte float value, big-endian, at `byteOffset`. */
  getF32BE(byteOffset: number): number {
    return this.#readView().getFloat32(byteOffset, false);
  }

  /** Writes a 4-byte float value, big-endian, at `byteOffset`. */
  setF32BE(byteOffset: number, value: number): void {
    this.#writeView().setFloat32(byteOffset, value, false);
  }

  /** Reads a 4-byte float value, little-endian, at `byteOffset`. */
  getF32LE(byteOffset: number): number {
    return this.#readView().getFloat32(byteOffset, true);
  }

  /** Writes a 4-byte float value, little-endian, at `byteOffset`. */
  setF32LE(byteOffset: number, value: number): void {
    this.#writeView().setFloat32(byteOffset, value, true);
  }

  /** Reads a 8-byte float value, big-endian, at `byteOffset`. */
  getF64BE(byteOffset: number): number {
    return this.#readView().getFloat64(byteOffset, false);
  }

  /** Writes a 8-byte float value, big-endian, at `byteOffset`. */
  setF64BE(byteOffset: number, value: number): void {
    this.#writeView().setFloat64(byteOffset, value, false);
  }

  /** Reads a 8-byte float value, little-endian, at `byteOffset`. */
  getF64LE(byteOffset: number): number {
    return this.#readView().getFloat64(byteOffset, true);
  }

  /** Writes a 8-byte float value, little-endian, at `byteOffset`. */
  setF64LE(byteOffset: number, value: number): void {
    this.#writeView().setFloat64(byteOffset, value, true);
  }

  /**
   * Reads an unsigned 64-bit value as a number.
   *
   * @throws {RangeError} If the value exceeds `Number.MAX_SAFE_INTEGER` (use `getU64Words`).
   */
  getU64(byteOffset: number, littleEndian = false): number {
    const high = littleEndian ? this.getU32LE(byteOffset + 4) : this.getU32BE(byteOffset);
    const low = littleEndian ? this.getU32LE(byteOffset) : this.getU32BE(byteOffset + 4);
    if (high > MAX_SAFE_HIGH_WORD) {
      throw new RangeError(
        `Cannot read u64 at ${byteOffset} of segment #${this.id} as a number: it exceeds 2^53 - 1`,
      );
    }
    return high * 0x1_0000_0000 + low;
  }

  /**
   * Writes a non-negative integer up to 2^53 - 1 as an unsigned 64-bit value.
   *
   * @throws {RangeError} If `value` is not a safe non-negative integer.
   */
  setU64(byteOffset: number, value: number, littleEndian = false): void {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`Cannot write ${value} as u64: expected an integer in [0, 2^53 - 1]`);
    }
    const high = Math.floor(value / 0x1_0000_0000);
    const low = value >>> 0;
    this.setU64Words(byteOffset, high, low, littleEndian);
  }

  /** Reads an unsigned 64-bit value as its two 32-bit words, into `out[0]` (high), `out[1]` (low). */
  getU64Words(byteOffset: number, out: Uint32Array, littleEndian = false): void {
    out[0] = littleEndian ? this.getU32LE(byteOffset + 4) : this.getU32BE(byteOffset);
    out[1] = littleEndian ? this.getU32LE(byteOffset) : this.getU32BE(byteOffset + 4);
  }

  /** Writes an unsigned 64-bit value given as two 32-bit words. */
  setU64Words(byteOffset: number, high: number, low: number, littleEndian = false): void {
    this.#writeView(); // liveness first, then bounds
    if (byteOffset < 0 || byteOffset + 8 > this.byteLength) {
      throw new RangeError("Offset is outside the bounds of the DataView");
    }
    if (littleEndian) {
      this.setU32LE(byteOffset, low);
      this.setU32LE(byteOffset + 4, high);
    } else {
      this.setU32BE(byteOffset, high);
      this.setU32BE(byteOffset + 4, low);
    }
  }

  /**
   * Copies `byteLength` bytes starting at `byteOffset` into `target` at `targetOffset`.
   *
   * @throws {RangeError} If either range is out of bounds.
   */
  get(
    byteOffset: number,
    target: Uint8Array,
    targetOffset = 0,
    byteLength = target.length - targetOffset,
  ): void {
    const bytes = this.#range(byteOffset, byteLength, "read");
    if (targetOffset < 0 || targetOffset + byteLength > target.length) {
      throw new RangeError(
        `Target range [${targetOffset}, +${byteLength}) exceeds ${target.length} bytes`,
      );
    }
    target.set(bytes.subarray(byteOffset, byteOffset + byteLength), targetOffset);
  }

  /**
   * Copies `byteLength` bytes of `source` from `sourceOffset` into this segment at `byteOffset`.
   *
   * @throws {RangeError} If either range is out of bounds.
   */
  put(
    byteOffset: number,
    source: Uint8Array,
    sourceOffset = 0,
    byteLength = source.length - sourceOffset,
  ): void {
    const bytes = this.#range(byteOffset, byteLength, "write");
    if (sourceOffset < 0 || sourceOffset + byteLength > source.length) {
      throw new RangeError(
        `Source range [${sourceOffset}, +${byteLength}) exceeds ${source.length} bytes`,
      );
    }
    bytes.set(source.subarray(sourceOffset, sourceOffset + byteLength), byteOffset);
  }

  /**
   * Copies a byte range of this segment into another segment (or into itself; overlap is safe).
   *
   * @throws {RangeError} If either range is out of bounds.
   */
  copyTo(
    byteOffset: number,
    target: MemorySegment,
    targetOffset: number,
    byteLength: number,
  ): void {
    const from = this.#range(byteOffset, byteLength, "read");
    const to = target.#range(targetOffset, byteLength, "write");
    if (target === this) {
      from.copyWithin(targetOffset, byteOffset, byteOffset + byteLength);
    } else {
      to.set(from.subarray(byteOffset, byteOffset + byteLength), targetOffset);
    }
  }

  /**
   * Compares two byte ranges like `memcmp` (unsigned), then by length.
   *
   * @returns A negative number, zero or a positive number.
   */
  compare(
    byteOffset: number,
    other: MemorySegment,
    otherOffset: number,
    byteLength: number,
    otherLength: number = byteLength,
  ): number {
    const left = this.#range(byteOffset, byteLength, "read");
    const right = other.#range(otherOffset, otherLength, "read");
    return compareBytes(left, byteOffset, byteLength, right, otherOffset, otherLength);
  }

  /** Whether two byte ranges of the same length hold the same bytes. */
  equals(
    byteOffset: number,
    other: MemorySegment,
    otherOffset: number,
    byteLength: number,
  ): boolean {
    return this.compare(byteOffset, other, otherOffset, byteLength, byteLength) === 0;
  }

  /**
   * Swaps two byte ranges of the same length, in this segment or between two segments.
   *
   * The ranges must not overlap when they are in the same segment.
   */
  swap(byteOffset: number, other: MemorySegment, otherOffset: number, byteLength: number): void {
    const left = this.#range(byteOffset, byteLength, "write");
    const right = other.#range(otherOffset, byteLength, "write");
    if (
      other === this && byteOffset < otherOffset + byteLength &&
      otherOffset < byteOffset + byteLength &&
      byteOffset !== otherOffset
    ) {
      throw new RangeError(`Cannot swap overlapping ranges at ${byteOffset} and ${otherOffset}`);
    }
    for (let i = 0; i < byteLength; i += 1) {
      const byte = left[byteOffset + i]!;
      left[byteOffset + i] = right[otherOffset + i]!;
      right[otherOffset + i] = byte;
    }
  }

  /** Any of the segment's bytes may have been written from now on. */
  #markWritten(): void {
    this.#writtenBytes = this.byteLength;
    this.#pageContents = undefined;
  }

  #check(action: string): void {
    if (this.#pool.generations[this.pageIndex] !== this.#expected) this.#throwDead(action);
  }

  #readView(): DataView<SharedArrayBuffer> {
    this.#check("read");
    return this.#view ??= new DataView(this.#pool.buffer, this.#memoryOffset, this.byteLength);
  }

  #writeView(): DataView<SharedArrayBuffer> {
    this.#check("write");
    this.#markWritten();
    return this.#view ??= new DataView(this.#pool.buffer, this.#memoryOffset, this.byteLength);
  }

  #range(byteOffset: number, byteLength: number, action: string): Uint8Array<SharedArrayBuffer> {
    this.#check(action);
    if (
      !(byteOffset >= 0 && byteLength >= 0 && byteOffset + byteLength <= this.byteLength) ||
      !Number.isInteger(byteOffset) || !Number.isInteger(byteLength)
    ) {
      throw new RangeError(
        `Cannot ${action} [${byteOffset}, +${byteLength}) of segment #${this.id}: it has ${this.byteLength} bytes`,
      );
    }
    if (action !== "read") this.#markWritten();
    return this.#bytes ??= new Uint8Array(this.#pool.buffer, this.#memoryOffset, this.byteLength);
  }

  #throwDead(action: string): never {
    if (this.isReleased) throw new SegmentReleasedError(this.id, this.owner, action);
    throw new SegmentReleasedError(this.id, this.owner, action, this.#borrower);
  }
}

/**
 * Compares two byte ranges like `memcmp` (unsigned), then by length.
 *
 * @returns A negative number, zero or a positive number.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { compareBytes } from "./memory_segment.ts";
 * const a = new Uint8Array([1, 2]);
 * const b = new Uint8Array([1, 2, 0]);
 * strictEqual(compareBytes(a, 0, 2, b, 0, 3) < 0, true);
 * ```
 */
export function compareBytes(
  left: Uint8Array,
  leftOffset: number,
  leftLength: number,
  right: Uint8Array,
  rightOffset: number,
  rightLength: number,
): number {
  const common = leftLength < rightLength ? leftLength : rightLength;
  for (let i = 0; i < common; i += 1) {
    const difference = left[leftOffset + i]! - right[rightOffset + i]!;
    if (difference !== 0) return difference;
  }
  return leftLength - rightLength;
}

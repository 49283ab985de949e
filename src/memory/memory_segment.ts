import { SegmentReleasedError } from "./errors.ts";

const MAX_SAFE_HIGH_WORD = 0x1f_ffff; // 2^53 - 1 = 0x1f_ffff_ffff_ffff

let takeBackingOf: (segment: MemorySegment) => ArrayBuffer;

// Views over a detached buffer: every access through them throws, so a lent or released
// segment needs no liveness check on its hot accessors.
const DEAD_VIEW = new DataView(new ArrayBuffer(8));
DEAD_VIEW.buffer.transfer();
const DEAD_BYTES = new Uint8Array(0);

/**
 * A fixed-size page of managed memory: Flink's `MemorySegment` over one `ArrayBuffer`.
 *
 * Segments are made only by a {@linkcode MemoryManager}. Every accessor of a released
 * segment throws {@linkcode SegmentReleasedError}; an access outside the page throws
 * `RangeError`. On release the backing store is moved away with `ArrayBuffer.transfer()`,
 * so every view of it (including `bytes` views kept by mistake) becomes zero-length.
 *
 * Layout is up to the operator that leases the segment; `bytes` is the raw view for hot loops
 * and must not outlive the lease.
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
  /** Unique id of this lease of a page (a page gets a new id each time it is allocated). */
  readonly id: number;
  /** The owner this segment was allocated to. */
  readonly owner: string;
  /** Size of the page in bytes (a power of two). */
  readonly byteLength: number;
  #buffer: ArrayBuffer;
  #view: DataView;
  #bytes: Uint8Array;
  #released = false;
  #lent = false;

  static {
    takeBackingOf = (segment) => segment.#takeBacking();
  }

  /**
   * Wraps a page. Only the {@linkcode MemoryManager} calls this.
   *
   * @param buffer The page's backing store (exclusively owned from now on).
   * @param id A unique id for messages.
   * @param owner The owner for messages and leak reports.
   */
  constructor(buffer: ArrayBuffer, id: number, owner: string) {
    this.id = id;
    this.owner = owner;
    this.byteLength = buffer.byteLength;
    this.#buffer = buffer;
    this.#view = new DataView(buffer);
    this.#bytes = new Uint8Array(buffer);
  }

  /** Whether the segment was released (every accessor throws then). */
  get isReleased(): boolean {
    return this.#released;
  }

  /**
   * The raw bytes of the page, for hot loops inside the operator that leased it.
   *
   * @throws {SegmentReleasedError} If the segment was released or its buffer is lent out.
   */
  get bytes(): Uint8Array {
    if (this.#released || this.#lent) this.#throwDead("view");
    return this.#bytes;
  }

  /** Reads an unsigned byte at `byteOffset`. */
  getU8(byteOffset: number): number {
    try {
      return this.#view.getUint8(byteOffset);
    } catch (error) {
      throw this.#accessError(error, "read");
    }
  }

  /** Writes an unsigned byte at `byteOffset`. */
  setU8(byteOffset: number, value: number): void {
    try {
      this.#view.setUint8(byteOffset, value);
    } catch (error) {
      throw this.#accessError(error, "write");
    }
  }

  /** Reads a signed byte at `byteOffset`. */
  getI8(byteOffset: number): number {
    try {
      return this.#view.getInt8(byteOffset);
    } catch (error) {
      throw this.#accessError(error, "read");
    }
  }

  /** Writes a signed byte at `byteOffset`. */
  setI8(byteOffset: number, value: number): void {
    try {
      this.#view.setInt8(byteOffset, value);
    } catch (error) {
      throw this.#accessError(error, "write");
    }
  }

  /** Reads a 2-byte unsigned value, big-endian, at `byteOffset`. */
  getU16BE(byteOffset: number): number {
    try {
      return this.#view.getUint16(byteOffset, false);
    } catch (error) {
      throw this.#accessError(error, "read");
    }
  }

  /** Writes a 2-byte unsigned value, big-endian, at `byteOffset`. */
  setU16BE(byteOffset: number, value: number): void {
    try {
      this.#view.setUint16(byteOffset, value, false);
    } catch (error) {
      throw this.#accessError(error, "write");
    }
  }

  /** Reads a 2-byte unsigned value, little-endian, at `byteOffset`. */
  getU16LE(byteOffset: number): number {
    try {
      return this.#view.getUint16(byteOffset, true);
    } catch (error) {
      throw this.#accessError(error, "read");
    }
  }

  /** Writes a 2-byte unsigned value, little-endian, at `byteOffset`. */
  setU16LE(byteOffset: number, value: number): void {
    try {
      this.#view.setUint16(byteOffset, value, true);
    } catch (error) {
      throw this.#accessError(error, "write");
    }
  }

  /** Reads a 2-byte signed value, big-endian, at `byteOffset`. */
  getI16BE(byteOffset: number): number {
    try {
      return this.#view.getInt16(byteOffset, false);
    } catch (error) {
      throw this.#accessError(error, "read");
    }
  }

  /** Writes a 2-byte signed value, big-endian, at `byteOffset`. */
  setI16BE(byteOffset: number, value: number): void {
    try {
      this.#view.setInt16(byteOffset, value, false);
    } catch (error) {
      throw this.#accessError(error, "write");
    }
  }

  /** Reads a 2-byte signed value, little-endian, at `byteOffset`. */
  getI16LE(byteOffset: number): number {
    try {
      return this.#view.getInt16(byteOffset, true);
    } catch (error) {
      throw this.#accessError(error, "read");
    }
  }

  /** Writes a 2-byte signed value, little-endian, at `byteOffset`. */
  setI16LE(byteOffset: number, value: number): void {
    try {
      this.#view.setInt16(byteOffset, value, true);
    } catch (error) {
      throw this.#accessError(error, "write");
    }
  }

  /** Reads a 4-byte unsigned value, big-endian, at `byteOffset`. */
  getU32BE(byteOffset: number): number {
    try {
      return this.#view.getUint32(byteOffset, false);
    } catch (error) {
      throw this.#accessError(error, "read");
    }
  }

  /** Writes a 4-byte unsigned value, big-endian, at `byteOffset`. */
  setU32BE(byteOffset: number, value: number): void {
    try {
      this.#view.setUint32(byteOffset, value, false);
    } catch (error) {
      throw this.#accessError(error, "write");
    }
  }

  /** Reads a 4-byte unsigned value, little-endian, at `byteOffset`. */
  getU32LE(byteOffset: number): number {
    try {
      return this.#view.getUint32(byteOffset, true);
    } catch (error) {
      throw this.#accessError(error, "read");
    }
  }

  /** Writes a 4-byte unsigned value, little-endian, at `byteOffset`. */
  setU32LE(byteOffset: number, value: number): void {
    try {
      this.#view.setUint32(byteOffset, value, true);
    } catch (error) {
      throw this.#accessError(error, "write");
    }
  }

  /** Reads a 4-byte signed value, big-endian, at `byteOffset`. */
  getI32BE(byteOffset: number): number {
    try {
      return this.#view.getInt32(byteOffset, false);
    } catch (error) {
      throw this.#accessError(error, "read");
    }
  }

  /** Writes a 4-byte signed value, big-endian, at `byteOffset`. */
  setI32BE(byteOffset: number, value: number): void {
    try {
      this.#view.setInt32(byteOffset, value, false);
    } catch (error) {
      throw this.#accessError(error, "write");
    }
  }

  /** Reads a 4-byte signed value, little-endian, at `byteOffset`. */
  getI32LE(byteOffset: number): number {
    try {
      return this.#view.getInt32(byteOffset, true);
    } catch (error) {
      throw this.#accessError(error, "read");
    }
  }

  /** Writes a 4-byte signed value, little-endian, at `byteOffset`. */
  setI32LE(byteOffset: number, value: number): void {
    try {
      this.#view.setInt32(byteOffset, value, true);
    } catch (error) {
      throw this.#accessError(error, "write");
    }
  }

  /** Reads a 4-byte float value, big-endian, at `byteOffset`. */
  getF32BE(byteOffset: number): number {
    try {
      return this.#view.getFloat32(byteOffset, false);
    } catch (error) {
      throw this.#accessError(error, "read");
    }
  }

  /** Writes a 4-byte float value, big-endian, at `byteOffset`. */
  setF32BE(byteOffset: number, value: number): void {
    try {
      this.#view.setFloat32(byteOffset, value, false);
    } catch (error) {
      throw this.#accessError(error, "write");
    }
  }

  /** Reads a 4-byte float value, little-endian, at `byteOffset`. */
  getF32LE(byteOffset: number): number {
    try {
      return this.#view.getFloat32(byteOffset, true);
    } catch (error) {
      throw this.#accessError(error, "read");
    }
  }

  /** Writes a 4-byte float value, little-endian, at `byteOffset`. */
  setF32LE(byteOffset: number, value: number): void {
    try {
      this.#view.setFloat32(byteOffset, value, true);
    } catch (error) {
      throw this.#accessError(error, "write");
    }
  }

  /** Reads a 8-byte float value, big-endian, at `byteOffset`. */
  getF64BE(byteOffset: number): number {
    try {
      return this.#view.getFloat64(byteOffset, false);
    } catch (error) {
      throw this.#accessError(error, "read");
    }
  }

  /** Writes a 8-byte float value, big-endian, at `byteOffset`. */
  setF64BE(byteOffset: number, value: number): void {
    try {
      this.#view.setFloat64(byteOffset, value, false);
    } catch (error) {
      throw this.#accessError(error, "write");
    }
  }

  /** Reads a 8-byte float value, little-endian, at `byteOffset`. */
  getF64LE(byteOffset: number): number {
    try {
      return this.#view.getFloat64(byteOffset, true);
    } catch (error) {
      throw this.#accessError(error, "read");
    }
  }

  /** Writes a 8-byte float value, little-endian, at `byteOffset`. */
  setF64LE(byteOffset: number, value: number): void {
    try {
      this.#view.setFloat64(byteOffset, value, true);
    } catch (error) {
      throw this.#accessError(error, "write");
    }
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
    if (byteOffset < 0 || byteOffset + 8 > this.byteLength) {
      throw this.#accessError(
        new RangeError("Offset is outside the bounds of the DataView"),
        "write",
      );
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
    this.#checkRange(byteOffset, byteLength, "read");
    if (targetOffset < 0 || targetOffset + byteLength > target.length) {
      throw new RangeError(
        `Target range [${targetOffset}, +${byteLength}) exceeds ${target.length} bytes`,
      );
    }
    target.set(this.#bytes.subarray(byteOffset, byteOffset + byteLength), targetOffset);
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
    this.#checkRange(byteOffset, byteLength, "write");
    if (sourceOffset < 0 || sourceOffset + byteLength > source.length) {
      throw new RangeError(
        `Source range [${sourceOffset}, +${byteLength}) exceeds ${source.length} bytes`,
      );
    }
    this.#bytes.set(source.subarray(sourceOffset, sourceOffset + byteLength), byteOffset);
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
    this.#checkRange(byteOffset, byteLength, "read");
    target.#checkRange(targetOffset, byteLength, "write");
    if (target === this) {
      this.#bytes.copyWithin(targetOffset, byteOffset, byteOffset + byteLength);
    } else {
      target.#bytes.set(this.#bytes.subarray(byteOffset, byteOffset + byteLength), targetOffset);
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
    this.#checkRange(byteOffset, byteLength, "read");
    other.#checkRange(otherOffset, otherLength, "read");
    return compareBytes(
      this.#bytes,
      byteOffset,
      byteLength,
      other.#bytes,
      otherOffset,
      otherLength,
    );
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
    this.#checkRange(byteOffset, byteLength, "write");
    other.#checkRange(otherOffset, byteLength, "write");
    if (
      other === this && byteOffset < otherOffset + byteLength &&
      otherOffset < byteOffset + byteLength &&
      byteOffset !== otherOffset
    ) {
      throw new RangeError(`Cannot swap overlapping ranges at ${byteOffset} and ${otherOffset}`);
    }
    const left = this.#bytes;
    const right = other.#bytes;
    for (let i = 0; i < byteLength; i += 1) {
      const byte = left[byteOffset + i]!;
      left[byteOffset + i] = right[otherOffset + i]!;
      right[otherOffset + i] = byte;
    }
  }

  /**
   * Hands the backing store out for a `postMessage` transfer list (e.g. to a sort Worker).
   *
   * Until {@linkcode MemorySegment.returnBacking} gives it back, every accessor throws.
   *
   * @returns The page's `ArrayBuffer`, to be listed in the transfer list.
   */
  lendBacking(): ArrayBuffer {
    if (this.#released || this.#lent) this.#throwDead("lend");
    this.#lent = true;
    this.#view = DEAD_VIEW;
    this.#bytes = DEAD_BYTES;
    return this.#buffer;
  }

  /**
   * Takes back the backing store lent with {@linkcode MemorySegment.lendBacking}.
   *
   * @param buffer The buffer as it came back from the Worker (same size).
   */
  returnBacking(buffer: ArrayBuffer): void {
    if (this.#released) this.#throwDead("return a backing to");
    if (!this.#lent) {
      throw new Error(`Cannot return a backing to segment #${this.id}: it is not lent out`);
    }
    if (buffer.byteLength !== this.byteLength || buffer.detached) {
      throw new RangeError(
        `Cannot return a ${buffer.byteLength}-byte buffer to segment #${this.id} of ${this.byteLength} bytes`,
      );
    }
    this.#buffer = buffer;
    this.#view = new DataView(buffer);
    this.#bytes = new Uint8Array(buffer);
    this.#lent = false;
  }

  #takeBacking(): ArrayBuffer {
    if (this.#released) throw new SegmentReleasedError(this.id, this.owner, "release");
    if (this.#lent) throw new SegmentReleasedError(this.id, this.owner, "release", true);
    this.#released = true;
    this.#view = DEAD_VIEW;
    this.#bytes = DEAD_BYTES;
    return this.#buffer.transfer();
  }

  #checkRange(byteOffset: number, byteLength: number, action: string): void {
    if (this.#released || this.#lent) this.#throwDead(action);
    if (
      !(byteOffset >= 0 && byteLength >= 0 && byteOffset + byteLength <= this.byteLength) ||
      !Number.isInteger(byteOffset) || !Number.isInteger(byteLength)
    ) {
      throw new RangeError(
        `Cannot ${action} [${byteOffset}, +${byteLength}) of segment #${this.id}: it has ${this.byteLength} bytes`,
      );
    }
  }

  #accessError(error: unknown, action: string): Error {
    if (this.#released || this.#lent) {
      return new SegmentReleasedError(this.id, this.owner, action, this.#lent && !this.#released);
    }
    return error instanceof Error ? error : new Error(String(error));
  }

  #throwDead(action: string): never {
    throw new SegmentReleasedError(
      this.id,
      this.owner,
      this.#lent ? `${action} (lent out)` : action,
    );
  }
}

/**
 * Moves a segment's backing store out (detaching every view of it) and marks it released.
 * Only the {@linkcode MemoryManager} calls this.
 *
 * @throws {SegmentReleasedError} If it was released already.
 */
export function takeBacking(segment: MemorySegment): ArrayBuffer {
  return takeBackingOf(segment);
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

import { assert } from "../base/mod.ts";
import type { MemoryManager, MemorySegment, SegmentLease } from "../memory/mod.ts";
import type { BlockChannel } from "./channel.ts";
import { crc32c } from "./crc32c.ts";
import { isDiskError, SpillDiskError } from "./errors.ts";
import type { IoStats } from "./io_stats.ts";
import {
  BLOCK_HEADER_BYTES,
  blockPosition,
  HEADER_BYTES,
  LAST_BLOCK_FLAG,
  SPILL_MAGIC,
  SPILL_VERSION,
} from "./spill_format.ts";

/** A finished spill file: what a {@linkcode RunReader} needs to read it back. */
export interface SpillRun {
  /** The spill file. */
  readonly path: string;
  /** Records written. */
  readonly recordCount: number;
  /** File length in bytes. */
  readonly byteLength: number;
}

/** What a writer or reader needs from its {@linkcode IoManager}. */
export interface RunHost {
  /** Live counters. */
  readonly stats: IoStats;
  /** The temp directory of a file (for error messages). */
  directoryOf(path: string): string;
  /** Removes a file the manager created and forgets it. */
  deleteFile(path: string): Promise<void>;
}

/** Parts of a writer the manager sets up. */
export interface RunWriterParts {
  /** The open channel of the new file. */
  channel: BlockChannel;
  /** The pages: 1 + write-behind. */
  lease: SegmentLease;
  /** The memory manager. */
  memory: MemoryManager;
  /** The manager. */
  host: RunHost;
}

const headerCache = new Map<number, Uint8Array>();

/** The 4 KiB file header for a segment size (immutable, shared). */
export function spillHeader(segmentBytes: number): Uint8Array {
  let header = headerCache.get(segmentBytes);
  if (header === undefined) {
    header = new Uint8Array(HEADER_BYTES);
    header.set(SPILL_MAGIC, 0);
    const view = new DataView(header.buffer);
    view.setUint32(8, SPILL_VERSION, true);
    view.setUint32(12, segmentBytes, true);
    view.setUint32(16, crc32c(header, 0, 16), true);
    headerCache.set(segmentBytes, header);
  }
  return header;
}

interface InFlight {
  segment: MemorySegment;
  done: Promise<void>;
}

/**
 * Paged output view of one spill run: records as varint length + bytes, packed into
 * segment-sized blocks with a checksum each; records may span blocks and be larger than a
 * segment. Full blocks are written behind while the caller fills the next one.
 *
 * Hot path: `const pending = writer.writeRecord(bytes, offset, length); if (pending) await pending;`
 */
export class RunWriter {
  /** The spill file. */
  readonly path: string;
  #channel: BlockChannel;
  #lease: SegmentLease;
  #host: RunHost;
  #segmentBytes: number;
  #free: MemorySegment[];
  #inFlight: InFlight[] = [];
  #current: MemorySegment;
  #bytes: Uint8Array;
  #position = BLOCK_HEADER_BYTES;
  #blockIndex = 0;
  #recordCount = 0;
  #state: "open" | "finished" | "aborted" = "open";
  #error: unknown = undefined;
  #varint = new Uint8Array(10);
  #headerWrite: Promise<void>;

  /** Made by {@linkcode IoManager.createRunWriter}. */
  constructor(parts: RunWriterParts) {
    this.path = parts.channel.path;
    this.#channel = parts.channel;
    this.#lease = parts.lease;
    this.#host = parts.host;
    this.#segmentBytes = parts.memory.segmentBytes;
    this.#free = [...parts.lease.segments];
    this.#current = this.#free.pop()!;
    this.#bytes = this.#current.bytes;
    this.#headerWrite = this.#track(
      this.#channel.write(0, spillHeader(this.#segmentBytes)),
      HEADER_BYTES,
    );
  }

  /** Records written so far. */
  get recordCount(): number {
    return this.#recordCount;
  }

  /**
   * Appends one record (a byte range of `bytes`).
   *
   * @returns `undefined` in the fast path, or a promise when a full block had to be awaited.
   * @throws {SpillDiskError} (possibly through the promise) when the disk refuses the bytes.
   */
  writeRecord(
    bytes: Uint8Array,
    byteOffset: number,
    byteLength: number,
  ): Promise<void> | undefined {
    const out = this.#bytes;
    const position = this.#position;
    if (byteLength < 128 && position + 1 + byteLength <= out.length) {
      out[position] = byteLength;
      if (byteLength <= 16) {
        for (let i = 0; i < byteLength; i += 1) out[position + 1 + i] = bytes[byteOffset + i]!;
      } else {
        out.set(bytes.subarray(byteOffset, byteOffset + byteLength), position + 1);
      }
      this.#position = position + 1 + byteLength;
      this.#recordCount += 1;
      return undefined;
    }
    return this.#writeSlow(bytes, byteOffset, byteLength);
  }

  async #writeSlow(bytes: Uint8Array, byteOffset: number, byteLength: number): Promise<void> {
    this.#checkOpen();
    try {
      await this.#writeSpanning(bytes, byteOffset, byteLength);
    } catch (error) {
      await this.abort();
      throw error;
    }
  }

  async #writeSpanning(bytes: Uint8Array, byteOffset: number, byteLength: number): Promise<void> {
    assert(
      Number.isSafeInteger(byteLength) && byteLength >= 0 &&
        byteOffset + byteLength <= bytes.length,
      `record range [${byteOffset}, +${byteLength}) exceeds ${bytes.length} bytes`,
    );
    const varint = this.#varint;
    let varintLength = 0;
    let value = byteLength;
    while (value >= 128) {
      varint[varintLength] = (value % 128) | 128;
      value = Math.floor(value / 128);
      varintLength += 1;
    }
    varint[varintLength] = value;
    varintLength += 1;
    await this.#copy(varint, 0, varintLength);
    await this.#copy(bytes, byteOffset, byteLength);
    this.#recordCount += 1;
  }

  async #copy(source: Uint8Array, offset: number, length: number): Promise<void> {
    let done = 0;
    while (done < length) {
      if (this.#position === this.#segmentBytes) await this.#advance(false);
      const count = Math.min(length - done, this.#segmentBytes - this.#position);
      this.#bytes.set(source.subarray(offset + done, offset + done + count), this.#position);
      this.#position += count;
      done += count;
    }
  }

  /** Seals the current block, writes it behind, and takes a free segment (awaiting one). */
  async #advance(last: boolean): Promise<void> {
    this.#seal(last);
    if (last) return;
    if (this.#free.length === 0) {
      const oldest = this.#inFlight.shift()!;
      await oldest.done;
      this.#throwIfFailed();
      this.#free.push(oldest.segment);
    }
    this.#current = this.#free.pop()!;
    this.#bytes = this.#current.bytes;
    this.#position = BLOCK_HEADER_BYTES;
  }

  #seal(last: boolean): void {
    const out = this.#bytes;
    const payloadLength = this.#position - BLOCK_HEADER_BYTES;
    writeU32(out, 0, payloadLength);
    writeU32(out, 4, last ? LAST_BLOCK_FLAG : 0);
    writeU32(out, 8, this.#blockIndex);
    writeU32(out, 12, crc32c(out, BLOCK_HEADER_BYTES, this.#position, crc32c(out, 0, 12)));
    const position = blockPosition(this.#blockIndex, this.#segmentBytes);
    this.#blockIndex += 1;
    const done = this.#track(this.#channel.write(position, out), out.length);
    this.#inFlight.push({ segment: this.#current, done });
  }

  #track(write: Promise<void>, byteLength: number): Promise<void> {
    const stats = this.#host.stats;
    return write.then(() => {
      stats.bytesSpilled += byteLength;
      stats.blocksWritten += 1;
    }, (error: unknown) => {
      this.#error ??= isDiskError(error)
        ? new SpillDiskError(this.#host.directoryOf(this.path), byteLength, error)
        : error;
    });
  }

  #throwIfFailed(): void {
    if (this.#error !== undefined) throw this.#error;
  }

  #checkOpen(): void {
    if (this.#state !== "open") throw new Error(`Cannot write to ${this.#state} run ${this.path}`);
    this.#throwIfFailed();
  }

  /**
   * Writes the last block, waits for every write, closes the file and releases the pages.
   * On failure the run is aborted (file deleted, pages released) and the error rethrown.
   *
   * @returns The finished run.
   */
  async finish(): Promise<SpillRun> {
    this.#checkOpen();
    try {
      await this.#advance(true);
      await this.#headerWrite;
      for (const entry of this.#inFlight) await entry.done;
      this.#throwIfFailed();
      const byteLength = blockPosition(this.#blockIndex, this.#segmentBytes);
      await this.#channel.truncate(byteLength);
      this.#channel.close();
      this.#inFlight = [];
      this.#lease.release();
      this.#state = "finished";
      this.#host.stats.runsWritten += 1;
      return { path: this.path, recordCount: this.#recordCount, byteLength };
    } catch (error) {
      await this.abort();
      if (isDiskError(error) && !(error instanceof SpillDiskError)) {
        throw new SpillDiskError(this.#host.directoryOf(this.path), this.#segmentBytes, error);
      }
      throw error;
    }
  }

  /** Releases the pages and deletes the file; safe after errors; idempotent. */
  async abort(): Promise<void> {
    if (this.#state !== "open") return;
    this.#state = "aborted";
    await this.#headerWrite;
    for (const entry of this.#inFlight) await entry.done;
    this.#inFlight = [];
    this.#channel.close();
    if (!this.#lease.isReleased) this.#lease.release();
    await this.#host.deleteFile(this.path);
  }
}

function writeU32(out: Uint8Array, offset: number, value: number): void {
  out[offset] = value & 0xff;
  out[offset + 1] = (value >>> 8) & 0xff;
  out[offset + 2] = (value >>> 16) & 0xff;
  out[offset + 3] = (value >>> 24) & 0xff;
}

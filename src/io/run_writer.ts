import { assert, AssertionError, ResourceError, type SpillwayError } from "../base/mod.ts";
import type { MemoryManager, MemorySegment, SegmentLease } from "../memory/mod.ts";
import type { BlockChannel } from "./channel.ts";
import { crc32c } from "./crc32c.ts";
import { errorCode, isDiskError, SpillDiskError } from "./errors.ts";
import type { IoStats } from "./io_stats.ts";
import {
  BLOCK_HEADER_BYTES,
  blockFlags,
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
  /** File length in bytes (before compression, when compressed). */
  readonly byteLength: number;
  /** Written through `--compress-program` (read back through `PROG -d`). */
  readonly compressed?: boolean;
  /**
   * The longest record written across a block border (0 or absent: none longer than a
   * block). A reader assembles such a record in scratch memory: merge plans reserve it.
   */
  readonly spanningRecordBytesMax?: number;
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
  /** Whether the channel compresses (the run then says so). */
  compressed?: boolean;
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
  /** Set when the write settled (so the segment can be reused without awaiting). */
  completed: boolean;
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
  #fieldVarint = new Uint8Array(5);
  #sourceView: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  #targetView: DataView;
  #headerWrite: Promise<void>;
  #compressed: boolean;
  /** A sealed block flagged last was written ({@linkcode RunWriter.writeSealedBlock}). */
  #lastSealed = false;
  /**
   * Writes of sealed blocks not settled yet (they never reject: errors land in #error). Each
   * leaves when it settles: kept for the run's life (hundreds of blocks), they outlived the
   * scavenges and filled the old space (docs/performance.md, "Count order's peak").
   */
  #sealedWrites = new Set<Promise<void>>();
  /** The longest record that went through #writeSpanning (sealed blocks hold none longer than a block). */
  #spanningMax = 0;
  /** Where the first record that starts in the current block starts (-1: none yet). */
  #firstRecordAt = -1;
  /** A record goes through #put: #put notes where its first byte lands. */
  #recordStarting = false;

  /** Made by {@linkcode IoManager.createRunWriter}. */
  constructor(parts: RunWriterParts) {
    this.path = parts.channel.path;
    this.#channel = parts.channel;
    this.#lease = parts.lease;
    this.#host = parts.host;
    this.#segmentBytes = parts.memory.segmentBytes;
    this.#compressed = parts.compressed ?? false;
    this.#free = [...parts.lease.segments];
    this.#current = this.#free.pop()!;
    this.#bytes = this.#current.bytes;
    this.#targetView = new DataView(
      this.#bytes.buffer,
      this.#bytes.byteOffset,
      this.#bytes.byteLength,
    );
    this.#headerWrite = this.#track(
      this.#channel.write(0, spillHeader(this.#segmentBytes)),
      HEADER_BYTES,
    );
  }

  /** Whether the writer finished or was aborted. */
  get isClosed(): boolean {
    return this.#state !== "open";
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
    let position = this.#position;
    if (byteOffset + byteLength > bytes.length) {
      return this.#writeSpanning(bytes, byteOffset, byteLength); // asserts the range
    }
    if (byteLength < 128) {
      if (position + 1 + byteLength <= out.length) {
        if (this.#firstRecordAt < 0) this.#firstRecordAt = position;
        out[position] = byteLength;
        position += 1;
        // Short records: 4 bytes per step through DataViews; `subarray` here would allocate
        // one object per record (measured: 22% of spill CPU went to GC).
        let source = this.#sourceView;
        if (source.buffer !== bytes.buffer) {
          source = new DataView(bytes.buffer);
          this.#sourceView = source;
        }
        const target = this.#targetView;
        const from = bytes.byteOffset + byteOffset;
        let i = 0;
        for (; i + 4 <= byteLength; i += 4) {
          target.setInt32(position + i, source.getInt32(from + i, true), true);
        }
        for (; i < byteLength; i += 1) out[position + i] = bytes[byteOffset + i]!;
        this.#position = position + byteLength;
        this.#recordCount += 1;
        return undefined;
      }
    } else if (byteLength < 16384 && position + 2 + byteLength <= out.length) {
      if (this.#firstRecordAt < 0) this.#firstRecordAt = position;
      out[position] = (byteLength & 127) | 128;
      out[position + 1] = byteLength >>> 7;
      out.set(bytes.subarray(byteOffset, byteOffset + byteLength), position + 2);
      this.#position = position + 2 + byteLength;
      this.#recordCount += 1;
      return undefined;
    }
    return this.#writeSpanning(bytes, byteOffset, byteLength);
  }

  /**
   * Appends one record of a keyed run (docs/spill-format.md): varint(key length + 1) (0 when
   * the record has no stored key), the key, the line, as one record. Key and line may lie
   * apart (a sort buffer stores `[key][key length][line]`).
   *
   * @param bytes Storage of the key and the line.
   * @param keyOffset Where the key starts.
   * @param keyLength Bytes of the key; -1: the record has no stored key.
   * @param lineOffset Where the line starts.
   * @param lineLength Bytes of the line.
   * @returns `undefined` in the fast path, or a promise when a full block had to be awaited.
   * @throws {SpillDiskError} (possibly through the promise) when the disk refuses the bytes.
   */
  writeKeyedRecord(
    bytes: Uint8Array,
    keyOffset: number,
    keyLength: number,
    lineOffset: number,
    lineLength: number,
  ): Promise<void> | undefined {
    const keyBytes = keyLength < 0 ? 0 : keyLength;
    const field = keyLength < 0 ? 0 : keyLength + 1;
    const body = (field < 128 ? 1 : field < 16384 ? 2 : 5) + keyBytes + lineLength;
    const out = this.#bytes;
    const position = this.#position;
    if (field < 128 && body < 16384 && position + 2 + body <= out.length) {
      if (this.#firstRecordAt < 0) this.#firstRecordAt = position;
      let at = position;
      if (body < 128) {
        out[at] = body;
        at += 1;
      } else {
        out[at] = (body & 127) | 128;
        out[at + 1] = body >>> 7;
        at += 2;
      }
      out[at] = field;
      at += 1;
      copyShort(bytes, keyOffset, keyBytes, out, at);
      at += keyBytes;
      copyShort(bytes, lineOffset, lineLength, out, at);
      this.#position = at + lineLength;
      this.#recordCount += 1;
      return undefined;
    }
    return this.#writeKeyedSlow(bytes, keyOffset, keyLength, lineOffset, lineLength);
  }

  async #writeKeyedSlow(
    bytes: Uint8Array,
    keyOffset: number,
    keyLength: number,
    lineOffset: number,
    lineLength: number,
  ): Promise<void> {
    this.#checkOpen();
    const keyBytes = keyLength < 0 ? 0 : keyLength;
    assert(
      keyOffset >= 0 && keyOffset + keyBytes <= bytes.length && lineOffset >= 0 &&
        lineLength >= 0 && lineOffset + lineLength <= bytes.length,
      "keyed record parts exceed their buffer",
    );
    // varint(body) then varint(field), in the one 10-byte scratch (5 bytes each at most).
    const head = this.#varint;
    const field = keyLength < 0 ? 0 : keyLength + 1;
    const fieldScratch = this.#fieldVarint;
    const fieldBytes = encodeVarint(field, fieldScratch);
    const body = fieldBytes + keyBytes + lineLength;
    const headBytes = encodeVarint(body, head);
    head.set(fieldScratch.subarray(0, fieldBytes), headBytes);
    if (body > this.#spanningMax) this.#spanningMax = body; // as #writeSpanning
    try {
      this.#recordStarting = true;
      await this.#putAll(head, 0, headBytes + fieldBytes);
      await this.#putAll(bytes, keyOffset, keyBytes);
      await this.#putAll(bytes, lineOffset, lineLength);
      this.#recordCount += 1;
    } catch (error) {
      await this.abort();
      throw error;
    }
  }

  /**
   * Bytes left in the current block: {@linkcode RunWriter.writeRecords} takes up to this many
   * (0 when the block is full; the next record then goes through `writeRecord`).
   */
  get blockRoom(): number {
    return this.#segmentBytes - this.#position;
  }

  /**
   * Appends `recordCount` records already encoded as payload (varint length + bytes each, the
   * block format) with one copy: `bytes[byteOffset, +byteLength)` must hold whole records and
   * fit {@linkcode RunWriter.blockRoom}.
   *
   * @param bytes Storage of the encoded records.
   * @param byteOffset Where the first starts.
   * @param byteLength Their bytes, at most `blockRoom`.
   * @param recordCount How many records they are.
   */
  writeRecords(
    bytes: Uint8Array,
    byteOffset: number,
    byteLength: number,
    recordCount: number,
  ): void {
    this.#checkOpen();
    assert(
      byteOffset >= 0 && byteOffset + byteLength <= bytes.length &&
        byteLength <= this.blockRoom && (byteLength > 0 || recordCount === 0),
      `encoded records [${byteOffset}, +${byteLength}) do not fit the block's ${this.blockRoom} bytes`,
    );
    if (byteLength === 0) return;
    if (this.#firstRecordAt < 0) this.#firstRecordAt = this.#position;
    this.#bytes.set(bytes.subarray(byteOffset, byteOffset + byteLength), this.#position);
    this.#position += byteLength;
    this.#recordCount += recordCount;
  }

  /**
   * Appends one record made of two byte ranges, `first` then `second`, without joining them in
   * a buffer first: a long record (a count's word of megabytes and its 8-byte count) goes
   * straight from where it lies into the blocks, so no scratch as long as the record is needed.
   *
   * @param first Storage of the record's first part.
   * @param firstOffset Where the first part starts.
   * @param firstLength Bytes of the first part.
   * @param second Storage of the second part.
   * @param secondOffset Where the second part starts.
   * @param secondLength Bytes of the second part.
   * @returns When the record is copied into the writer's blocks (the sources may change then).
   * @throws {SpillDiskError} (through the promise) when the disk refuses the bytes.
   */
  async writeRecordParts(
    first: Uint8Array,
    firstOffset: number,
    firstLength: number,
    second: Uint8Array,
    secondOffset: number,
    secondLength: number,
  ): Promise<void> {
    this.#checkOpen();
    assert(
      firstOffset >= 0 && firstLength >= 0 && firstOffset + firstLength <= first.length &&
        secondOffset >= 0 && secondLength >= 0 && secondOffset + secondLength <= second.length,
      "record parts exceed their buffers",
    );
    const byteLength = firstLength + secondLength;
    if (byteLength > this.#spanningMax) this.#spanningMax = byteLength; // as #writeSpanning
    const varint = this.#varint;
    const varintLength = encodeVarint(byteLength, varint);
    try {
      this.#recordStarting = true;
      await this.#putAll(varint, 0, varintLength);
      await this.#putAll(first, firstOffset, firstLength);
      await this.#putAll(second, secondOffset, secondLength);
      this.#recordCount += 1;
    } catch (error) {
      await this.abort();
      throw error;
    }
  }

  /** Copies `source[offset, +length)` into the blocks, awaiting a free block when needed. */
  async #putAll(source: Uint8Array, offset: number, length: number): Promise<void> {
    let done = this.#put(source, offset, length);
    while (done < length) {
      await this.#takeFreeSegment();
      done += this.#put(source, offset + done, length - done);
    }
  }

  /**
   * Writes a block that was filled and sealed elsewhere (header with payload length, flags,
   * block index and CRC32C; e.g. by the sort Worker's gather), without copying it. Only before
   * any record was written through {@linkcode RunWriter.writeRecord}; a block flagged last ends
   * the run ({@linkcode RunWriter.finish} then writes no block of its own).
   *
   * @param block One segment's bytes: the sealed block (it must stay unchanged until the
   *   promise settles).
   * @param recordCount Records that start in the block.
   * @returns When the write finished (rejects with {@linkcode SpillDiskError} on a disk error).
   */
  writeSealedBlock(block: Uint8Array, recordCount: number): Promise<void> {
    this.#checkOpen();
    assert(
      this.#position === BLOCK_HEADER_BYTES && this.#inFlight.length === 0 && !this.#lastSealed,
      "a sealed block after records or after the last block",
    );
    assert(block.length === this.#segmentBytes, "a sealed block is one segment long");
    const blockIndex = (block[8]! | block[9]! << 8 | block[10]! << 16 | block[11]! << 24) >>> 0;
    if (blockIndex !== this.#blockIndex) {
      assert(false, `sealed block ${blockIndex}, ${this.#blockIndex} next`); // built on failure only
    }
    this.#blockIndex += 1;
    this.#recordCount += recordCount;
    if ((block[4]! & LAST_BLOCK_FLAG) !== 0) this.#lastSealed = true;
    const write: Promise<void> = this.#track(
      this.#channel.write(blockPosition(blockIndex, this.#segmentBytes), block),
      block.length,
    ).then(() => {
      this.#sealedWrites.delete(write);
    });
    this.#sealedWrites.add(write);
    return write.then(() => this.#throwIfFailed());
  }

  /**
   * Takes note of `blockCount` sealed blocks (the run's last one flagged) that another thread
   * wrote into this run's file at their block positions (see
   * {@linkcode IoManager.runsWritableElsewhere}); nothing may have been written here but the
   * header. {@linkcode RunWriter.finish} then closes the run as usual.
   *
   * @param blockCount Blocks written, the last one flagged last.
   * @param recordCount Records that start in them.
   */
  adoptBlocks(blockCount: number, recordCount: number): void {
    this.#checkOpen();
    assert(
      this.#blockIndex === 0 && this.#position === BLOCK_HEADER_BYTES &&
        this.#inFlight.length === 0 && blockCount >= 1,
      "adopted blocks after records or blocks written here",
    );
    this.#blockIndex = blockCount;
    this.#recordCount += recordCount;
    this.#lastSealed = true;
    this.#host.stats.bytesSpilled += blockCount * this.#segmentBytes;
    this.#host.stats.blocksWritten += blockCount;
  }

  /**
   * The error to report for a failed write of this run's blocks elsewhere: a disk error (no
   * space, EIO, ...) becomes the exit-3 {@linkcode SpillDiskError}, any other (the file gone,
   * ...) an exit-3 {@linkcode ResourceError} naming the file.
   *
   * @param error What the write threw (its `code` kept).
   * @returns The error to throw.
   */
  writeFailure(error: unknown): SpillwayError {
    if (isDiskError(error)) {
      return new SpillDiskError(this.#host.directoryOf(this.path), this.#segmentBytes, error);
    }
    return new ResourceError(
      `Cannot write spill file ${this.path}: ${errorCode(error)} (${
        error instanceof Error ? error.message : String(error)
      })`,
      { cause: error },
    );
  }

  /** A record that does not fit the current block: copy across blocks, awaiting only if needed. */
  #writeSpanning(
    bytes: Uint8Array,
    byteOffset: number,
    byteLength: number,
  ): Promise<void> | undefined {
    this.#checkOpen();
    if (byteLength > this.#spanningMax) this.#spanningMax = byteLength;
    if (
      !(Number.isSafeInteger(byteLength) && byteLength >= 0 && byteOffset >= 0 &&
        byteOffset + byteLength <= bytes.length)
    ) {
      const error = new AssertionError(
        `record range [${byteOffset}, +${byteLength}) exceeds ${bytes.length} bytes`,
      );
      return this.abort().then(() => Promise.reject(error));
    }
    const varint = this.#varint;
    const varintLength = encodeVarint(byteLength, varint);
    try {
      this.#recordStarting = true;
      const varintDone = this.#put(varint, 0, varintLength);
      const bytesDone = varintDone === varintLength ? this.#put(bytes, byteOffset, byteLength) : 0;
      if (bytesDone === byteLength && varintDone === varintLength) {
        this.#recordCount += 1;
        return undefined;
      }
      return this.#writeAsync(
        varintLength - varintDone,
        bytes,
        byteOffset + bytesDone,
        byteLength - bytesDone,
      );
    } catch (error) {
      return this.abort().then(() => Promise.reject(error));
    }
  }

  async #writeAsync(
    varintLeft: number,
    bytes: Uint8Array,
    byteOffset: number,
    byteLength: number,
  ): Promise<void> {
    try {
      const varint = this.#varint;
      let varintEnd = 0;
      while (varint[varintEnd]! >= 128) varintEnd += 1;
      varintEnd += 1;
      let varintAt = varintEnd - varintLeft;
      while (varintAt < varintEnd) {
        await this.#takeFreeSegment();
        varintAt += this.#put(varint, varintAt, varintEnd - varintAt);
      }
      let done = 0;
      while (done < byteLength) {
        if (this.#position === this.#segmentBytes) await this.#takeFreeSegment();
        done += this.#put(bytes, byteOffset + done, byteLength - done);
      }
      this.#recordCount += 1;
    } catch (error) {
      await this.abort();
      throw error;
    }
  }

  /**
   * Copies as much as fits without waiting: fills the current block, then moves on to free
   * segments (or ones whose write already finished).
   *
   * @returns Bytes copied; fewer than `length` when a block write must be awaited first.
   */
  #put(source: Uint8Array, offset: number, length: number): number {
    let done = 0;
    while (done < length) {
      if (this.#position === this.#segmentBytes) {
        const oldest = this.#inFlight[0];
        if (this.#free.length === 0 && (oldest === undefined || !oldest.completed)) return done;
        this.#seal(false);
        this.#switchSegment();
      }
      const count = Math.min(length - done, this.#segmentBytes - this.#position);
      if (this.#recordStarting) {
        this.#recordStarting = false;
        if (this.#firstRecordAt < 0) this.#firstRecordAt = this.#position;
      }
      if (count <= 16) {
        const out = this.#bytes;
        const at = this.#position;
        for (let i = 0; i < count; i += 1) out[at + i] = source[offset + done + i]!;
      } else {
        this.#bytes.set(source.subarray(offset + done, offset + done + count), this.#position);
      }
      this.#position += count;
      done += count;
    }
    return done;
  }

  /** The current block is full: seal it and wait for a segment to fill next. */
  async #takeFreeSegment(): Promise<void> {
    if (this.#position < this.#segmentBytes) return;
    this.#seal(false);
    if (this.#free.length === 0) {
      await this.#inFlight[0]!.done;
    }
    this.#switchSegment();
  }

  /** Makes a free segment (or the oldest finished in-flight one) current. */
  #switchSegment(): void {
    this.#throwIfFailed();
    if (this.#free.length === 0) {
      const oldest = this.#inFlight.shift()!;
      assert(oldest.completed, "the oldest block write has finished");
      this.#free.push(oldest.segment);
    }
    this.#current = this.#free.pop()!;
    this.#bytes = this.#current.bytes;
    this.#targetView = new DataView(
      this.#bytes.buffer,
      this.#bytes.byteOffset,
      this.#bytes.byteLength,
    );
    this.#position = BLOCK_HEADER_BYTES;
    this.#firstRecordAt = -1;
  }

  #seal(last: boolean): void {
    const out = this.#bytes;
    const payloadLength = this.#position - BLOCK_HEADER_BYTES;
    writeU32(out, 0, payloadLength);
    const first = this.#firstRecordAt < 0 ? -1 : this.#firstRecordAt - BLOCK_HEADER_BYTES;
    writeU32(out, 4, blockFlags(last, first));
    writeU32(out, 8, this.#blockIndex);
    writeU32(out, 12, crc32c(out, BLOCK_HEADER_BYTES, this.#position, crc32c(out, 0, 12)));
    const position = blockPosition(this.#blockIndex, this.#segmentBytes);
    this.#blockIndex += 1;
    const entry: InFlight = { segment: this.#current, done: Promise.resolve(), completed: false };
    entry.done = this.#track(this.#channel.write(position, out), out.length).then(() => {
      entry.completed = true;
    });
    this.#inFlight.push(entry);
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
      if (!this.#lastSealed) this.#seal(true);
      await this.#headerWrite;
      for (const write of this.#sealedWrites) await write;
      for (const entry of this.#inFlight) await entry.done;
      this.#throwIfFailed();
      const byteLength = blockPosition(this.#blockIndex, this.#segmentBytes);
      await this.#channel.truncate(byteLength);
      // Only a process-backed channel is awaited: a file channel lets go of its pages at once,
      // before this call returns (callers may allocate right after an unawaited close).
      const closing = this.#channel.close();
      if (closing !== undefined) await closing;
      this.#inFlight = [];
      this.#lease.release();
      this.#state = "finished";
      this.#host.stats.runsWritten += 1;
      const run: SpillRun = {
        path: this.path,
        recordCount: this.#recordCount,
        byteLength,
        spanningRecordBytesMax: this.#spanningMax,
      };
      return this.#compressed ? { ...run, compressed: true } : run;
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
    for (const write of this.#sealedWrites) await write;
    for (const entry of this.#inFlight) await entry.done;
    this.#inFlight = [];
    const closing = this.#channel.close();
    if (closing !== undefined) await closing; // file channels: synchronous, as before
    if (!this.#lease.isReleased) this.#lease.release();
    await this.#host.deleteFile(this.path);
  }
}

/** Copies `length` bytes; a loop for short ranges (a `subarray` per record would allocate). */
function copyShort(
  from: Uint8Array,
  fromOffset: number,
  length: number,
  to: Uint8Array,
  toOffset: number,
): void {
  if (length <= 64) {
    for (let i = 0; i < length; i += 1) to[toOffset + i] = from[fromOffset + i]!;
  } else {
    to.set(from.subarray(fromOffset, fromOffset + length), toOffset);
  }
}

function writeU32(out: Uint8Array, offset: number, value: number): void {
  out[offset] = value & 0xff;
  out[offset + 1] = (value >>> 8) & 0xff;
  out[offset + 2] = (value >>> 16) & 0xff;
  out[offset + 3] = (value >>> 24) & 0xff;
}

/**
 * Writes `value` as the spill format's varint length (7 bits a byte, low first, high bit set
 * on all but the last) into `into`.
 *
 * @returns Bytes written.
 */
function encodeVarint(value: number, into: Uint8Array): number {
  let length = 0;
  while (value >= 128) {
    into[length] = (value % 128) | 128;
    value = Math.floor(value / 128);
    length += 1;
  }
  into[length] = value;
  return length + 1;
}

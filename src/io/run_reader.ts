import type {
  MemoryManager,
  MemoryReservation,
  MemorySegment,
  SegmentLease,
} from "../memory/mod.ts";
import type { BlockChannel } from "./channel.ts";
import { CorruptSpillError, isDiskError, SpillReadError } from "./errors.ts";
import { checkSpillBlock, checkSpillHeader } from "./run_block_reader.ts";
import type { RunHost, SpillRun } from "./run_writer.ts";
import { BLOCK_HEADER_BYTES, blockPosition, HEADER_BYTES } from "./spill_format.ts";

/** Parts of a reader the manager sets up. */
export interface RunReaderParts {
  /** The run to read. */
  run: SpillRun;
  /** The open channel. */
  channel: BlockChannel;
  /** The pages: 1 + read-ahead. */
  lease: SegmentLease;
  /** The memory manager (for the scratch buffer of records spanning blocks). */
  memory: MemoryManager;
  /** Owner for the scratch reservation. */
  owner: string;
  /** The manager. */
  host: RunHost;
}

interface PendingRead {
  segment: MemorySegment;
  blockIndex: number;
  /** Bytes read, or -1 when the read failed (the error is kept in the reader). */
  done: Promise<number>;
}

/**
 * Paged input view of one spill run: reads blocks ahead, checks each block's checksum, and
 * yields records one by one. A record inside one block is returned in place (zero copy); a
 * record spanning blocks is assembled in a scratch buffer reserved from the memory budget.
 *
 * Hot path: `let more = reader.next(); if (more instanceof Promise) more = await more;`
 */
export class RunReader {
  /** The run read. */
  readonly run: SpillRun;
  /** Bytes of the current record's storage (valid until the next `next()` or `close()`). */
  recordBytes: Uint8Array = new Uint8Array(0);
  /** Offset of the current record in {@linkcode RunReader.recordBytes}. */
  recordOffset = 0;
  /** Length of the current record. */
  recordLength = 0;
  #channel: BlockChannel;
  #lease: SegmentLease;
  #memory: MemoryManager;
  #owner: string;
  #host: RunHost;
  #segmentBytes: number;
  #blockCount: number;
  #nextRequest = 0;
  #pending: PendingRead[] = [];
  #current: MemorySegment | undefined = undefined;
  #bytes: Uint8Array = new Uint8Array(0);
  #position = 0;
  #end = 0;
  #lastBlock = false;
  #blockIndex = -1;
  #recordsRead = 0;
  #error: unknown = undefined;
  #scratch: Uint8Array = new Uint8Array(0);
  #scratchReservation: MemoryReservation | undefined = undefined;
  /** The scratch's page when it is one (a record within a page). */
  #scratchPage: SegmentLease | undefined = undefined;
  #closed = false;
  #ended = false;
  #blockStart = 0;

  /** Made by {@linkcode IoManager.openRunReader}; call {@linkcode RunReader.start} next. */
  constructor(parts: RunReaderParts) {
    this.run = parts.run;
    this.#channel = parts.channel;
    this.#lease = parts.lease;
    this.#memory = parts.memory;
    this.#owner = parts.owner;
    this.#host = parts.host;
    this.#segmentBytes = parts.memory.segmentBytes;
    this.#blockCount = Math.max(
      0,
      Math.ceil((parts.run.byteLength - HEADER_BYTES) / this.#segmentBytes),
    );
  }

  /** Checks the file header and starts the read-ahead. */
  async start(): Promise<void> {
    const header = new Uint8Array(20);
    const count = await this.#guard(this.#channel.read(0, header), 0);
    checkSpillHeader(this.run.path, header.subarray(0, count), this.#segmentBytes);
    for (const segment of this.#lease.segments) this.#request(segment);
  }

  #request(segment: MemorySegment): void {
    if (this.#nextRequest >= this.#blockCount) return;
    const blockIndex = this.#nextRequest;
    this.#nextRequest += 1;
    const done = this.#channel.read(blockPosition(blockIndex, this.#segmentBytes), segment.bytes)
      .then(
        (count) => count,
        (error: unknown) => {
          this.#error ??= error;
          return -1;
        },
      );
    this.#pending.push({ segment, blockIndex, done });
  }

  async #guard(read: Promise<number>, byteLength: number): Promise<number> {
    try {
      return await read;
    } catch (error) {
      if (isDiskError(error)) throw new SpillReadError(this.run.path, byteLength, error);
      throw error;
    }
  }

  /** Whether the reader was closed. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Records read so far. */
  get recordsRead(): number {
    return this.#recordsRead;
  }

  /**
   * Moves to the next record.
   *
   * @returns True when a record is current, false at the end of the run; a promise only when
   *   a block has to be awaited.
   * @throws {CorruptSpillError} When a block fails its checks.
   */
  next(): boolean | Promise<boolean> {
    const bytes = this.#bytes;
    const position = this.#position;
    const end = this.#end;
    if (position < end) {
      let length = bytes[position]!;
      let start = position + 1;
      if (length >= 128 && start < end) {
        const second = bytes[start]!;
        if (second < 128) {
          length = (length & 127) | (second << 7);
          start += 1;
        } else {
          return this.#nextSlow();
        }
      }
      if (length < 16384 && start + length <= end) {
        this.recordBytes = bytes;
        this.recordOffset = start;
        this.recordLength = length;
        this.#position = start + length;
        this.#recordsRead += 1;
        return true;
      }
    }
    return this.#nextSlow();
  }

  async #nextSlow(): Promise<boolean> {
    if (this.#closed) throw new Error(`Cannot read closed run ${this.run.path}`);
    if (this.#ended) return false;
    if (this.#position >= this.#end) {
      if (!(await this.#fill())) return false;
    }
    // Varint length, possibly across a block border.
    let length = 0;
    let scale = 1;
    for (;;) {
      if (this.#position >= this.#end && !(await this.#fill())) this.#truncated("record length");
      const byte = this.#bytes[this.#position]!;
      this.#position += 1;
      length += (byte & 127) * scale;
      if (byte < 128) break;
      scale *= 128;
      if (scale > 2 ** 49) this.#corrupt("record length", "a varint", "an overlong varint");
    }
    if (length > this.run.byteLength) {
      this.#corrupt("record length", `at most ${this.run.byteLength}`, String(length));
    }
    if (this.#position + length <= this.#end) {
      this.recordBytes = this.#bytes;
      this.recordOffset = this.#position;
      this.recordLength = length;
      this.#position += length;
      this.#recordsRead += 1;
      return true;
    }
    const scratch = this.#reserveScratch(length);
    let done = 0;
    while (done < length) {
      if (this.#position >= this.#end && !(await this.#fill())) this.#truncated("record bytes");
      const count = Math.min(length - done, this.#end - this.#position);
      scratch.set(this.#bytes.subarray(this.#position, this.#position + count), done);
      this.#position += count;
      done += count;
    }
    this.recordBytes = scratch;
    this.recordOffset = 0;
    this.recordLength = length;
    this.#recordsRead += 1;
    return true;
  }

  /**
   * Block mode, for merge kernels that read the payloads in place (instead of `next()`; do not
   * mix the two): makes the next block current, checked, and gives its previous block back to
   * the read-ahead, so the previous payload's bytes must be copied out first. The record count
   * is not checked here: the caller counts what it merged.
   *
   * @returns False after the last block.
   * @throws {CorruptSpillError} When a block fails its checks or the last-block flag is missing.
   */
  async nextBlock(): Promise<boolean> {
    if (this.#closed) throw new Error(`Cannot read closed run ${this.run.path}`);
    if (this.#lastBlock || this.#ended) {
      this.#ended = true;
      return false;
    }
    if (this.#current !== undefined) {
      const previous = this.#current;
      this.#current = undefined;
      this.#bytes = new Uint8Array(0);
      this.#request(previous);
    }
    const next = this.#pending.shift();
    if (next === undefined) {
      this.#corrupt("block", "a block with the last-block flag", "end of file");
    }
    const count = await next.done;
    if (this.#error !== undefined) {
      const error = this.#error;
      if (isDiskError(error)) throw new SpillReadError(this.run.path, this.#segmentBytes, error);
      throw error;
    }
    this.#current = next.segment;
    this.#blockIndex = next.blockIndex;
    this.#verify(next.segment.bytes, count);
    this.#blockStart = next.segment.memoryOffset + BLOCK_HEADER_BYTES;
    return true;
  }

  /** Block mode: where the current block's payload starts in the shared memory. */
  get blockStart(): number {
    return this.#blockStart;
  }

  /** Block mode: where the current block's payload ends in the shared memory. */
  get blockEnd(): number {
    return this.#blockStart + this.#end - BLOCK_HEADER_BYTES;
  }

  /** Block mode: whether the current block is the run's last. */
  get isLastBlock(): boolean {
    return this.#lastBlock;
  }

  /** Block mode: the current block's index (for messages). */
  get blockIndex(): number {
    return this.#blockIndex;
  }

  /** Makes the next block current; false at the end of the run (after checking counts). */
  async #fill(): Promise<boolean> {
    for (;;) {
      if (this.#lastBlock) {
        this.#finishChecks();
        return false;
      }
      if (this.#current !== undefined) {
        const previous = this.#current;
        this.#current = undefined;
        this.#bytes = new Uint8Array(0);
        this.#request(previous);
      }
      const next = this.#pending.shift();
      if (next === undefined) {
        throw new CorruptSpillError(
          this.run.path,
          this.#blockIndex + 1,
          "block",
          "a block with the last-block flag",
          "end of file",
        );
      }
      const count = await next.done;
      if (this.#error !== undefined) {
        const error = this.#error;
        if (isDiskError(error)) throw new SpillReadError(this.run.path, this.#segmentBytes, error);
        throw error;
      }
      this.#current = next.segment;
      this.#blockIndex = next.blockIndex;
      this.#verify(next.segment.bytes, count);
      if (this.#position < this.#end) return true;
    }
  }

  #verify(bytes: Uint8Array, count: number): void {
    const signedEnd = checkSpillBlock(this.run.path, bytes, count, this.#blockIndex);
    const end = signedEnd < 0 ? -signedEnd : signedEnd;
    const stats = this.#host.stats;
    stats.blocksRead += 1;
    stats.bytesReadBack += this.#segmentBytes;
    this.#bytes = bytes;
    this.#position = BLOCK_HEADER_BYTES;
    this.#end = end;
    this.#lastBlock = signedEnd < 0;
  }

  #finishChecks(): void {
    this.#ended = true;
    this.#bytes = new Uint8Array(0);
    this.#position = 0;
    this.#end = 0;
    if (this.#recordsRead !== this.run.recordCount) {
      this.#corrupt("record count", String(this.run.recordCount), String(this.#recordsRead));
    }
  }

  #truncated(what: string): never {
    this.#corrupt(what, "more bytes", "end of run");
  }

  #corrupt(what: string, expected: string, found: string): never {
    throw new CorruptSpillError(this.run.path, this.#blockIndex, what, expected, found);
  }

  /**
   * The scratch for a record of `length` bytes across a block border. One that fits a page
   * goes to a page of the budget: the merge plans count a scratch page per reader, and its
   * pages are resident already, while a heap buffer of a segment per reader added its bytes to
   * the RSS on top of them (62 readers of an intermediate pass: 8 MiB, and glibc kept the heap
   * it grew). Longer records, or no free page, take a heap buffer reserved from the budget.
   */
  #reserveScratch(length: number): Uint8Array {
    if (this.#scratch.length >= length) return this.#scratch;
    if (length <= this.#segmentBytes && this.#scratchReservation === undefined) {
      const page = this.#memory.tryAllocate(this.#owner, 1);
      if (page !== undefined) {
        this.#scratchPage = page;
        this.#scratch = page.segments[0]!.bytes;
        return this.#scratch;
      }
    }
    const capacity = Math.max(
      this.#scratch.length,
      runReaderScratchBytes(this.#segmentBytes, length),
    );
    this.#releaseScratch();
    this.#scratchReservation = this.#memory.reserve(this.#owner, capacity);
    this.#scratch = new Uint8Array(capacity);
    return this.#scratch;
  }

  #releaseScratch(): void {
    this.#scratch = new Uint8Array(0);
    this.#scratchReservation?.release();
    this.#scratchReservation = undefined;
    this.#scratchPage?.release();
    this.#scratchPage = undefined;
  }

  /** Waits for reads in flight, releases the pages and the scratch buffer; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#bytes = new Uint8Array(0);
    this.#position = 0;
    this.#end = 0;
    this.recordBytes = this.#bytes;
    for (const pending of this.#pending) await pending.done;
    this.#pending = [];
    const closing = this.#channel.close();
    if (closing !== undefined) await closing; // file channels: synchronous, as before
    if (!this.#lease.isReleased) this.#lease.release();
    this.#releaseScratch();
  }
}

/**
 * Bytes of the scratch a {@linkcode RunReader} reserves to assemble a record of
 * `recordBytes` across blocks: one segment doubled until it fits, and past 1 MiB the segments
 * the record needs (a 12 MiB record must not take 16 MiB of the budget). Merge plans reserve
 * this much per reader of a run holding such a record.
 *
 * @param segmentBytes Bytes per segment.
 * @param recordBytes The record's length.
 * @returns The scratch's bytes (a whole number of segments).
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { runReaderScratchBytes } from "./run_reader.ts";
 * strictEqual(runReaderScratchBytes(4096, 5000), 8192);
 * strictEqual(runReaderScratchBytes(4096, 3 << 20), 3 << 20);
 * ```
 */
export function runReaderScratchBytes(segmentBytes: number, recordBytes: number): number {
  let capacity = segmentBytes;
  while (capacity < recordBytes) capacity *= 2;
  if (capacity > 1 << 20) capacity = Math.ceil(recordBytes / segmentBytes) * segmentBytes;
  return capacity;
}

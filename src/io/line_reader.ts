import { assert, formatBytes, InputError, MiB } from "../base/mod.ts";
import type {
  BudgetBuffer,
  MemoryManager,
  MemoryReservation,
  SegmentLease,
} from "../memory/mod.ts";
import { allocateBudgetBuffer } from "../memory/mod.ts";
import { RecordTooLargeError } from "./errors.ts";
import type { IoStats } from "./io_stats.ts";

/** A byte source a {@linkcode LineReader} pulls from (file, stdin, pipe, gzip stream). */
export interface ByteSource {
  /** What to call the source in messages. */
  readonly name: string;
  /** Reads into `into`; returns the count, or null at end of input. */
  read(into: Uint8Array): Promise<number | null>;
  /** Closes the source; idempotent. */
  close(): void;
}

/** Parts of a line reader the manager sets up. */
export interface LineReaderParts {
  /** Where the bytes come from. */
  source: ByteSource;
  /** The memory manager (the chunk buffer is reserved from it). */
  memory: MemoryManager;
  /** Owner of the reservations. */
  owner: string;
  /** Chunk size in bytes. */
  chunkBytes: number;
  /** Record terminator: 10 (`\n`) or 0 (`\0`). */
  terminator: number;
  /** Input size when known (regular files). */
  totalBytes: number | undefined;
  /** Live counters. */
  stats: IoStats;
  /** Take the chunk buffer from the shared memory's pages (kernels can read it in place). */
  sharedChunk?: boolean | undefined;
  /** Free the shared chunk's pages during a long record (see {@linkcode InputOptions}). */
  freeChunkForLongRecords?: boolean | undefined;
  /** End chunks at any ASCII whitespace byte (see {@linkcode InputOptions}). */
  cutAtWhitespace?: boolean | undefined;
  /** Called when the large-record buffer does not fit (see {@linkcode InputOptions}). */
  onMemoryShort?: ((bytes: number) => Promise<boolean>) | undefined;
  /** The longest record planned for (see {@linkcode InputOptions}); default: doubling. */
  recordBytesMax?: number | undefined;
}

/** A record (line) may take this fraction of the memory budget: a quarter. */
export const RECORD_BUDGET_DIVISOR = 4;

/**
 * The longest record a budget holds (a quarter of it, the terminator aside): what the readers
 * grow to and what plans set aside.
 *
 * @param budgetBytes The memory budget.
 * @returns Bytes.
 */
export function recordBytesMaxOf(budgetBytes: number): number {
  return Math.floor(budgetBytes / RECORD_BUDGET_DIVISOR);
}

/**
 * Reads an input in big chunks of complete records, with no strings and no per-record work.
 *
 * Each chunk is a view of one or more whole records, each ending with the terminator byte.
 * A final record without a terminator gets one appended (and `sawMissingTerminator` is set);
 * a carriage return is data. A record longer than the chunk is delivered alone from a larger
 * buffer reserved from the memory budget (growing by doubling; when the budget is short, the
 * owner's `onMemoryShort` may free memory once per record).
 */
export class LineReader {
  /** The input's name in messages. */
  readonly name: string;
  /** Input size in bytes when known (regular files); undefined for pipes, stdin and gzip. */
  readonly totalBytes: number | undefined;
  #source: ByteSource;
  #memory: MemoryManager;
  #onMemoryShort: ((bytes: number) => Promise<boolean>) | undefined;
  #recordBytesMax: number | undefined;
  #owner: string;
  #terminator: number;
  /** Chunks may end at any ASCII whitespace byte, not only at the terminator. */
  #cutAtWhitespace: boolean;
  #reservation: MemoryReservation | undefined = undefined;
  #chunkLease: SegmentLease | undefined = undefined;
  /** Bytes of the chunk buffer. */
  #chunkBytes: number;
  /** The shared chunk's pages are freed while a long record is delivered. */
  #freeChunkForLongRecords: boolean;
  /**
   * A former large buffer that holds the chunk (its first `#chunkBytes`) because no run of free
   * pages could take the chunk back after a long record.
   */
  #chunkHolder: BudgetBuffer | undefined = undefined;
  /** The most bytes the chunk buffer ever held. */
  #filledMax = 0;
  #buffer: Uint8Array;
  #large: Uint8Array | undefined = undefined;
  /** The large buffer's memory: pages of the shared memory where a run of them is free. */
  #largeBuffer: BudgetBuffer | undefined = undefined;
  /** The large buffer's bytes filled (its pages are poisoned no further on release). */
  #largeFilled = 0;
  #largeCarryStart = 0;
  #largeCarryEnd = 0;
  #start = 0;
  #filled = 0;
  #eof = false;
  #bytesRead = 0;
  #sawMissingTerminator = false;
  #closed = false;
  #stats: IoStats;

  /** Made by {@linkcode IoManager.openInput}. */
  constructor(parts: LineReaderParts) {
    assert(parts.terminator === 10 || parts.terminator === 0, "terminator must be 10 or 0");
    this.name = parts.source.name;
    this.totalBytes = parts.totalBytes;
    this.#source = parts.source;
    this.#memory = parts.memory;
    this.#owner = parts.owner;
    this.#terminator = parts.terminator;
    this.#cutAtWhitespace = parts.cutAtWhitespace === true;
    this.#stats = parts.stats;
    this.#onMemoryShort = parts.onMemoryShort;
    this.#recordBytesMax = parts.recordBytesMax;
    this.#chunkBytes = parts.chunkBytes;
    this.#freeChunkForLongRecords = parts.sharedChunk === true &&
      parts.freeChunkForLongRecords === true;
    if (parts.sharedChunk === true) {
      const segmentBytes = parts.memory.segmentBytes;
      this.#chunkLease = parts.memory.allocateContiguous(
        parts.owner,
        Math.ceil(parts.chunkBytes / segmentBytes),
      );
      this.#buffer = this.#chunkLease.segments[0]!.bytes.subarray(0, parts.chunkBytes);
    } else {
      this.#reservation = parts.memory.reserve(parts.owner, parts.chunkBytes);
      this.#buffer = new Uint8Array(parts.chunkBytes);
    }
  }

  /** Whether the reader was closed. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Bytes read from the input so far (after decompression). */
  get bytesRead(): number {
    return this.#bytesRead;
  }

  /** Whether the last record lacked its terminator (one was appended). */
  get sawMissingTerminator(): boolean {
    return this.#sawMissingTerminator;
  }

  /**
   * Returns the next chunk of complete records, or undefined at the end of the input.
   *
   * @returns A view valid until the next call.
   * @throws {InputError} When the input cannot be read.
   */
  async nextChunk(): Promise<Uint8Array | undefined> {
    if (this.#closed) throw new Error(`Cannot read closed input ${this.name}`);
    if (this.#large !== undefined && this.#buffer.length === 0) this.#takeChunkBack();
    const buffer = this.#buffer;
    if (this.#large !== undefined) {
      // The record delivered from the large buffer is done: carry its tail back.
      buffer.set(this.#large.subarray(this.#largeCarryStart, this.#largeCarryEnd), 0);
      this.#filled = this.#largeCarryEnd - this.#largeCarryStart;
      if (this.#filled > this.#filledMax) this.#filledMax = this.#filled;
      this.#start = 0;
      this.#dropLarge();
    } else if (this.#start > 0) {
      buffer.copyWithin(0, this.#start, this.#filled);
      this.#filled -= this.#start;
      this.#start = 0;
    }
    await this.#fillTo(buffer, buffer.length);
    const filled = this.#filled;
    if (filled === 0) return undefined;
    const terminator = this.#terminator;
    // The carry of a large record may hold whole records: search all of it.
    const last = this.#cutAtWhitespace
      ? lastWhitespace(buffer, filled)
      : buffer.lastIndexOf(terminator, filled - 1);
    if (last === filled - 1) {
      this.#start = filled;
      return buffer.subarray(0, filled);
    }
    if (this.#eof && filled < buffer.length) {
      // The final record lacks its terminator and there is room to append it.
      buffer[filled] = terminator;
      this.#sawMissingTerminator = true;
      this.#filled = filled + 1;
      this.#start = filled + 1;
      return buffer.subarray(0, filled + 1);
    }
    if (last >= 0) {
      this.#start = last + 1;
      return buffer.subarray(0, last + 1);
    }
    return await this.#largeRecord();
  }

  async #fillTo(buffer: Uint8Array, limit: number): Promise<void> {
    while (this.#filled < limit && !this.#eof) {
      let count: number | null;
      try {
        count = await this.#source.read(buffer.subarray(this.#filled, limit));
      } catch (error) {
        throw readError(this.name, error);
      }
      if (count === null) {
        this.#eof = true;
      } else {
        this.#filled += count;
        if (buffer === this.#large) {
          // With room for the terminator a final record may get.
          this.#largeFilled = Math.max(this.#largeFilled, this.#filled + 1);
        } else if (this.#filled > this.#filledMax) {
          this.#filledMax = this.#filled;
        }
        this.#bytesRead += count;
        this.#stats.inputBytesRead += count;
      }
    }
  }

  /** The buffer is full and holds no terminator: grow a large buffer until the record ends. */
  async #largeRecord(): Promise<Uint8Array> {
    const chunkBytes = this.#buffer.length;
    const planned = this.#recordBytesMax;
    if (planned !== undefined && planned + 1 <= chunkBytes) {
      throw await this.#tooLong(this.#buffer, this.#filled, undefined);
    }
    let large = await this.#growLarge(
      this.#buffer,
      this.#filled,
      planned === undefined ? this.#nextLargeCapacity(chunkBytes) : planned + 1,
    );
    if (this.#freeChunkForLongRecords) this.#freeChunk();
    const terminator = this.#terminator;
    for (;;) {
      const searchFrom = this.#filled;
      // Read at most one chunk at a time, so the tail after the record fits the chunk buffer.
      await this.#fillTo(large, Math.min(large.length, this.#filled + chunkBytes));
      const end = this.#cutAtWhitespace
        ? firstWhitespace(large, searchFrom, this.#filled)
        : large.indexOf(terminator, searchFrom);
      if (end >= 0 && end < this.#filled) {
        this.#largeCarryStart = end + 1;
        this.#largeCarryEnd = this.#filled;
        return large.subarray(0, end + 1);
      }
      if (this.#eof) {
        if (this.#filled === large.length) {
          if (planned !== undefined) throw await this.#tooLong(large, this.#filled, undefined);
          large = await this.#growLarge(large, this.#filled, large.length + 1);
        }
        large[this.#filled] = terminator;
        this.#sawMissingTerminator = true;
        this.#largeCarryStart = this.#filled + 1;
        this.#largeCarryEnd = this.#filled + 1;
        return large.subarray(0, this.#filled + 1);
      }
      if (this.#filled === large.length) {
        if (planned !== undefined) throw await this.#tooLong(large, this.#filled, undefined);
        large = await this.#growLarge(large, this.#filled, this.#nextLargeCapacity(large.length));
      }
    }
  }

  /**
   * The next size of the large buffer: doubling, but no further than a quarter of the budget
   * plus the terminator (a record may take a quarter), so a record of a quarter of the budget
   * never holds twice its size; past that it grows by doubling again (and fails unless the
   * budget has room).
   */
  #nextLargeCapacity(capacity: number): number {
    const quarter = recordBytesMaxOf(this.#memory.budgetBytes) + 1;
    return capacity < quarter ? Math.min(capacity * 2, quarter) : capacity * 2;
  }

  /** The budget error for a record that does not fit, naming the `-S` that holds it. */
  async #tooLong(from: Uint8Array, used: number, cause: unknown): Promise<RecordTooLargeError> {
    // A budget problem, not a bad input: exit 3 like every other budget error (README).
    const { recordBytes, complete } = await this.#measureRecord(from, used);
    // A quarter of the budget holds one record (the caller planned it, or the large buffer
    // grows to it: #nextLargeCapacity), with its terminator.
    const memoryMiB = Math.ceil((RECORD_BUDGET_DIVISOR * (recordBytes + 1)) / MiB);
    const memory = this.#memory;
    if (complete && recordBytes + 1 <= recordBytesMaxOf(memory.budgetBytes) + 1) {
      // A record the budget's quarter holds, but not beside what else is held now: the
      // current line of every input of a merge (`sort -m`, `merge`). Name a budget with room
      // for what is held and the record's buffer (which may grow to twice the record).
      const heldBytes = (memory.totalSegments - memory.freeSegments) * memory.segmentBytes -
        (this.#large?.length ?? 0);
      const neededMiB = Math.ceil((heldBytes + 2 * (recordBytes + 1)) / MiB);
      return new RecordTooLargeError(
        `Cannot read ${this.name}: a record of ${
          formatBytes(recordBytes)
        } does not fit beside the ${formatBytes(heldBytes)} of the ${
          formatBytes(memory.budgetBytes)
        } budget held now (a merge holds the current line of every input at once); raise --memory (-S) to at least ${neededMiB}m`,
        cause === undefined ? undefined : { cause },
      );
    }
    return new RecordTooLargeError(
      `Cannot read ${this.name}: a record of ${formatBytes(recordBytes)}${
        complete ? "" : " or more"
      } does not fit the memory budget of ${
        formatBytes(this.#memory.budgetBytes)
      }; raise --memory (-S) to ${memoryMiB}m (a record may take a quarter of it)`,
      cause === undefined ? undefined : { cause },
    );
  }

  async #growLarge(from: Uint8Array, used: number, capacity: number): Promise<Uint8Array> {
    let buffer: BudgetBuffer;
    try {
      buffer = await this.#allocateLarge(capacity);
    } catch (error) {
      throw await this.#tooLong(from, used, error);
    }
    const large = buffer.bytes;
    large.set(from.subarray(0, used), 0);
    this.#dropLarge();
    this.#large = large;
    this.#largeBuffer = buffer;
    this.#largeFilled = used + 1;
    return large;
  }

  /**
   * The length of the record that did not fit: reads on (over `buffer`, which holds its first
   * `used` bytes) until its terminator or the end of the input. The command fails next, so the
   * input is consumed; at most 1 GiB is read past the first bytes (then "or more").
   */
  async #measureRecord(
    buffer: Uint8Array,
    used: number,
  ): Promise<{ recordBytes: number; complete: boolean }> {
    const terminator = this.#terminator;
    let length = used;
    if (this.#eof) return { recordBytes: length, complete: true };
    const limit = used + 1024 * MiB;
    while (length < limit) {
      let count: number | null;
      try {
        count = await this.#source.read(buffer);
      } catch {
        break;
      }
      if (count === null) {
        this.#eof = true;
        return { recordBytes: length, complete: true };
      }
      const end = buffer.subarray(0, count).indexOf(terminator);
      if (end >= 0) return { recordBytes: length + end, complete: true };
      length += count;
    }
    return { recordBytes: length, complete: false };
  }

  /**
   * A buffer of `capacity` bytes from the budget (pages of the shared memory where a run of
   * them is free, so that a long record adds no heap bytes to the RSS), asking the owner to
   * free memory once if it does not fit.
   */
  async #allocateLarge(capacity: number): Promise<BudgetBuffer> {
    try {
      return allocateBudgetBuffer(this.#memory, this.#owner, capacity);
    } catch (error) {
      if (this.#onMemoryShort === undefined || !(await this.#onMemoryShort(capacity))) throw error;
      return allocateBudgetBuffer(this.#memory, this.#owner, capacity);
    }
  }

  /** The chunk is idle while the large buffer holds the record (and its copy): free its pages. */
  #freeChunk(): void {
    if (this.#chunkLease !== undefined) {
      this.#chunkLease.segments[0]!.limitWrittenTo(this.#filledMax);
      this.#chunkLease.release();
      this.#chunkLease = undefined;
    }
    this.#chunkHolder?.release();
    this.#chunkHolder = undefined;
    this.#filledMax = 0;
    this.#buffer = new Uint8Array(0);
  }

  /**
   * Pages for the chunk again after a long record (see {@linkcode LineReader.#freeChunk}): as
   * many as before, or where no run of them is free, half as many, and so on while they hold
   * the record's tail (smaller chunks are only more reads). Where not even that is free, the
   * large buffer keeps serving as the chunk, its tail moved to its start (then `#large` is
   * dropped here and the caller reads on as after a chunk).
   */
  #takeChunkBack(): void {
    const memory = this.#memory;
    const tailBytes = this.#largeCarryEnd - this.#largeCarryStart;
    const fewest = Math.max(1, Math.ceil(tailBytes / memory.segmentBytes));
    for (
      let pages = Math.ceil(this.#chunkBytes / memory.segmentBytes);
      pages >= fewest;
      pages = pages === fewest ? 0 : Math.max(fewest, pages >>> 1)
    ) {
      const lease = memory.tryAllocateContiguous(this.#owner, pages);
      if (lease !== undefined) {
        const chunkBytes = Math.min(this.#chunkBytes, pages * memory.segmentBytes);
        this.#chunkLease = lease;
        this.#buffer = lease.segments[0]!.bytes.subarray(0, chunkBytes);
        return;
      }
    }
    const large = this.#large!;
    large.copyWithin(0, this.#largeCarryStart, this.#largeCarryEnd);
    this.#filled = this.#largeCarryEnd - this.#largeCarryStart;
    this.#filledMax = this.#filled;
    this.#start = 0;
    this.#chunkHolder = this.#largeBuffer;
    this.#buffer = large.subarray(0, this.#chunkBytes);
    this.#large = undefined;
    this.#largeBuffer = undefined;
    this.#largeFilled = 0;
  }

  #dropLarge(): void {
    this.#large = undefined;
    this.#largeBuffer?.release(Math.min(this.#largeFilled, this.#largeBuffer.bytes.length));
    this.#largeBuffer = undefined;
    this.#largeFilled = 0;
  }

  /** Closes the input and gives back the buffers; idempotent. */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#dropLarge();
      this.#chunkHolder?.release();
      this.#chunkHolder = undefined;
      this.#reservation?.release();
      this.#reservation = undefined;
      if (this.#chunkLease !== undefined) {
        // Only what reads filled was written: poison (touch) no more of a large chunk.
        this.#chunkLease.segments[0]!.limitWrittenTo(this.#filledMax);
        this.#chunkLease.release();
        this.#chunkLease = undefined;
      }
      this.#buffer = new Uint8Array(0);
      this.#source.close();
    }
    return Promise.resolve();
  }
}

/** Turns an error from reading an input into a one-line {@linkcode InputError}. */
export function readError(name: string, error: unknown): Error {
  if (error instanceof InputError) return error;
  if (error instanceof Deno.errors.NotFound) {
    return new InputError(`Cannot read ${name}: no such file or directory`, { cause: error });
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new InputError(`Cannot read ${name}: permission denied`, { cause: error });
  }
  if (error instanceof Deno.errors.IsADirectory) {
    return new InputError(`Cannot read ${name}: it is a directory`, { cause: error });
  }
  if (error instanceof TypeError && /decompress|gzip|corrupt|header|invalid/i.test(error.message)) {
    return new InputError(`Cannot decompress ${name}: ${error.message}`, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new InputError(`Cannot read ${name}: ${message}`, { cause: error });
}

/** Whether `byte` is ASCII whitespace: space, `\t \n \v \f \r`. */
function isWhitespace(byte: number): boolean {
  return byte === 0x20 || (byte >= 0x09 && byte <= 0x0d);
}

/** The index of the last whitespace byte of `bytes[0, end)`, or -1. */
function lastWhitespace(bytes: Uint8Array, end: number): number {
  let at = end - 1;
  while (at >= 0 && !isWhitespace(bytes[at]!)) at -= 1;
  return at;
}

/** The index of the first whitespace byte of `bytes[from, end)`, or -1. */
function firstWhitespace(bytes: Uint8Array, from: number, end: number): number {
  for (let at = from; at < end; at += 1) if (isWhitespace(bytes[at]!)) return at;
  return -1;
}

import { assert, formatBytes, ResourceError } from "../base/mod.ts";
import type { MemoryManager, MemoryReservation } from "../memory/mod.ts";
import { diskFix, errorCode, isDiskError, OutputClosedError, SpillDiskError } from "./errors.ts";
import type { IoStats } from "./io_stats.ts";

/** Where an {@linkcode OutputSink} sends its bytes. */
export interface OutputTarget {
  /** The output's name in messages (`stdout` or the target path). */
  readonly name: string;
  /** Writes all of `bytes`. */
  write(bytes: Uint8Array): Promise<void>;
  /**
   * Makes the output final (rename into place); stdout: nothing, or after parts were written
   * into it, moves its offset past them.
   *
   * @param partBytes Bytes part writers wrote into {@linkcode OutputTarget.parts}.
   */
  commit(partBytes: number): Promise<void>;
  /** Drops the output (delete the temp file); stdout: nothing. */
  abort(): Promise<void>;
  /**
   * The regular file that becomes the output, when other writers may write it at positions
   * ({@linkcode OutputSink.parts}).
   */
  readonly parts?: OutputParts;
}

/** A regular file that part writers (`OutputPartWriter`) write the output into at positions. */
export interface OutputParts {
  /**
   * The path each writer opens: the temp file renamed over the target at commit, or
   * `/proc/self/fd/1` (a regular file on standard output).
   */
  readonly path: string;
  /** Where the output starts in the file (standard output: its offset when the output opened). */
  readonly offset: number;
  /**
   * Whether writers start the writeback of what they write as they go: a temp file (a rename
   * over an existing file writes it all out first, ext4 auto_da_alloc; for a new target it
   * measured neutral), not standard output (measured slower with it).
   */
  readonly writeback: boolean;
}

/** Parts of a sink the manager sets up. */
export interface OutputSinkParts {
  /** Where the bytes go. */
  target: OutputTarget;
  /** The memory manager (the buffer is reserved from it). */
  memory: MemoryManager;
  /** Owner of the reservation. */
  owner: string;
  /** Buffer size in bytes. */
  bufferBytes: number;
  /** Live counters. */
  stats: IoStats;
  /** Whether the bytes count as spilled (a temp file) instead of output (default false). */
  spill?: boolean;
  /**
   * The temp directory (-T) of a spilled temp file, which a full disk's message names instead
   * of the file (default: the parent of the target's name).
   */
  spillDirectory?: string;
}

/**
 * Buffered output to stdout or to a temporary file beside the target that `commit()` renames
 * into place; `abort()` (or any failure) leaves an existing target untouched.
 *
 * Hot path: `const pending = sink.write(bytes, offset, length); if (pending) await pending;`
 */
export class OutputSink {
  /** The output's name in messages. */
  readonly name: string;
  #target: OutputTarget;
  #reservation: MemoryReservation | undefined;
  #buffer: Uint8Array;
  #filled = 0;
  #bytesWritten = 0;
  #partBytes = 0;
  #state: "open" | "committed" | "aborted" = "open";
  #stats: IoStats;
  readonly #spill: boolean;
  readonly #spillDirectory: string | undefined;

  /** Made by {@linkcode IoManager.createOutput}. */
  constructor(parts: OutputSinkParts) {
    this.name = parts.target.name;
    this.#target = parts.target;
    this.#stats = parts.stats;
    this.#spill = parts.spill ?? false;
    this.#spillDirectory = parts.spillDirectory;
    this.#reservation = parts.memory.reserve(parts.owner, parts.bufferBytes);
    this.#buffer = new Uint8Array(parts.bufferBytes);
  }

  /** Whether the output was committed or aborted. */
  get isClosed(): boolean {
    return this.#state !== "open";
  }

  /** Bytes accepted so far. */
  get bytesWritten(): number {
    return this.#bytesWritten;
  }

  /**
   * The file that becomes the output (a temp file beside a regular `-o` target, or a regular
   * file on standard output opened without O_APPEND), which `OutputPartWriter`s may write at
   * known positions, on any thread, instead of this sink (then nothing may be written here, and
   * {@linkcode OutputSink.countPartBytes} counts their bytes); undefined once bytes went through
   * this sink, and for pipes, terminals, appends and in-place outputs.
   */
  get parts(): OutputParts | undefined {
    return this.#bytesWritten === 0 && this.#partBytes === 0 && this.#state === "open"
      ? this.#target.parts
      : undefined;
  }

  /** Counts `byteLength` bytes that part writers wrote into {@linkcode OutputSink.parts}. */
  countPartBytes(byteLength: number): void {
    this.#partBytes += byteLength;
    this.#count(byteLength);
  }

  /**
   * The error a failed write of `byteLength` bytes to this output stands for (a full disk: a
   * {@linkcode ResourceError} that names the output).
   */
  writeError(byteLength: number, error: unknown): Error {
    if (this.#spill && isDiskError(error)) {
      const directory = this.#spillDirectory ?? this.name.slice(0, this.name.lastIndexOf("/"));
      return new SpillDiskError(directory, byteLength, error);
    }
    return outputError(this.name, byteLength, error);
  }

  /**
   * Appends `bytes[byteOffset, byteOffset + byteLength)`.
   *
   * @returns `undefined` when buffered, or a promise when the buffer had to be flushed.
   * @throws {OutputClosedError} When stdout was closed by its reader.
   */
  write(bytes: Uint8Array, byteOffset: number, byteLength: number): Promise<void> | undefined {
    const buffer = this.#buffer;
    const filled = this.#filled;
    if (filled + byteLength <= buffer.length && byteOffset + byteLength <= bytes.length) {
      if (byteLength <= 16) {
        for (let i = 0; i < byteLength; i += 1) buffer[filled + i] = bytes[byteOffset + i]!;
      } else {
        buffer.set(bytes.subarray(byteOffset, byteOffset + byteLength), filled);
      }
      this.#filled = filled + byteLength;
      this.#bytesWritten += byteLength;
      return undefined;
    }
    return this.#writeSlow(bytes, byteOffset, byteLength);
  }

  /**
   * Appends one byte.
   *
   * @returns `undefined` when buffered, or a promise when the buffer had to be flushed.
   */
  writeByte(byte: number): Promise<void> | undefined {
    const filled = this.#filled;
    if (filled < this.#buffer.length) {
      this.#buffer[filled] = byte;
      this.#filled = filled + 1;
      this.#bytesWritten += 1;
      return undefined;
    }
    return this.#writeByteSlow(byte);
  }

  async #writeByteSlow(byte: number): Promise<void> {
    await this.#flush();
    this.#buffer[0] = byte;
    this.#filled = 1;
    this.#bytesWritten += 1;
  }

  async #writeSlow(bytes: Uint8Array, byteOffset: number, byteLength: number): Promise<void> {
    assert(
      byteOffset >= 0 && byteLength >= 0 && byteOffset + byteLength <= bytes.length,
      `output range [${byteOffset}, +${byteLength}) exceeds ${bytes.length} bytes`,
    );
    await this.#flush();
    if (byteLength >= this.#buffer.length) {
      await this.#send(bytes.subarray(byteOffset, byteOffset + byteLength));
    } else {
      this.#buffer.set(bytes.subarray(byteOffset, byteOffset + byteLength), 0);
      this.#filled = byteLength;
    }
    this.#bytesWritten += byteLength;
  }

  async #flush(): Promise<void> {
    if (this.#state !== "open") {
      throw new Error(`Cannot write to ${this.#state} output ${this.name}`);
    }
    if (this.#filled === 0) return;
    const count = this.#filled;
    this.#filled = 0;
    await this.#send(this.#buffer.subarray(0, count));
  }

  async #send(bytes: Uint8Array): Promise<void> {
    try {
      await this.#target.write(bytes);
      this.#count(bytes.length);
    } catch (error) {
      await this.abort();
      throw this.writeError(bytes.length, error);
    }
  }

  #count(byteLength: number): void {
    if (this.#spill) this.#stats.bytesSpilled += byteLength;
    else this.#stats.outputBytesWritten += byteLength;
  }

  /**
   * Flushes and makes the output final: a file is renamed over its target.
   *
   * @throws {ResourceError} When the output cannot be written (disk full).
   */
  async commit(): Promise<void> {
    await this.#flush();
    try {
      await this.#target.commit(this.#partBytes);
    } catch (error) {
      await this.abort();
      throw this.writeError(0, error);
    }
    this.#state = "committed";
    this.#releaseBuffer();
  }

  /** Deletes the temp file (the target stays untouched) and gives back the buffer; idempotent. */
  async abort(): Promise<void> {
    if (this.#state !== "open") return;
    this.#state = "aborted";
    this.#releaseBuffer();
    await this.#target.abort();
  }

  #releaseBuffer(): void {
    this.#buffer = new Uint8Array(0);
    this.#filled = 0;
    this.#reservation?.release();
    this.#reservation = undefined;
  }
}

function outputError(name: string, byteLength: number, error: unknown): Error {
  if (error instanceof OutputClosedError) return error;
  if (error instanceof Deno.errors.BrokenPipe || errorCode(error) === "EPIPE") {
    return new OutputClosedError(error);
  }
  if (isDiskError(error)) {
    return new ResourceError(
      `Cannot write ${byteLength > 0 ? `${formatBytes(byteLength)} ` : ""}to ${name}: ${
        errorCode(error)
      } (${(error as Error).message}); ${diskFix(error, "free space there or choose another -o")}`,
      { cause: error },
    );
  }
  return error instanceof Error ? error : new Error(String(error));
}

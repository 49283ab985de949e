import { ExitCode, ResourceError, SpillwayError } from "../base/mod.ts";
import type { MemoryReservation } from "../memory/mod.ts";
import type { BlockChannel, OperationCounter } from "./channel.ts";

/**
 * `--compress-program` could not be run, or ended with a failure status: exit 2, as GNU sort
 * ends on "couldn't execute compress program" and "PROG [-d] terminated abnormally".
 */
export class CompressProgramError extends SpillwayError {
  /** The class name. */
  override name = "CompressProgramError";

  /**
   * Creates the error (exit 2).
   *
   * @param message The message (names the program).
   * @param options The cause.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.usage, options);
  }
}

/**
 * Child processes alive now, killed on the signal path (the process exits right after, so no
 * zombie can stay: a child outlives us only until it notices its closed pipes).
 */
const liveChildren = new Set<Deno.ChildProcess>();

/** Kills every compressor and decompressor still running (the signal path; synchronous). */
export function killCompressorsSync(): void {
  for (const child of liveChildren) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already ended
    }
  }
  liveChildren.clear();
}

/**
 * Operating-system errors that mean "no process can be made right now" (GNU's failed fork or
 * pipe): a spill file is then written uncompressed. Anything else (the program is missing or
 * not executable) is an error.
 */
const NO_PROCESS_NOW = /\(os error (11|12|23|24)\)/;

/**
 * Starts `program` (or `program -d`) with piped standard input and output; its standard error
 * stays ours, so its own message reaches the user.
 *
 * @param program The `--compress-program`.
 * @param decompress Whether to pass `-d`.
 * @returns The child, or undefined when no process can be made now and `decompress` is false
 *   (the caller spills uncompressed, as GNU sort does when it cannot fork).
 * @throws {CompressProgramError} If the program cannot be executed.
 * @throws {ResourceError} If `decompress` and no process can be made now.
 */
export function spawnCompressor(
  program: string,
  decompress: boolean,
): Deno.ChildProcess | undefined {
  const label = decompress ? `${program} -d` : program;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, {
      args: decompress ? ["-d"] : [],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof Deno.errors.NotCapable) {
      throw new CompressProgramError(
        `Cannot run --compress-program ${program}: it needs the --allow-run permission`,
        { cause: error },
      );
    }
    if (NO_PROCESS_NOW.test(message)) {
      if (!decompress) return undefined;
      throw new ResourceError(
        `Cannot start ${label} to read a spill file: ${message}; raise ulimit -u / ulimit -n`,
        { cause: error },
      );
    }
    const reason = error instanceof Deno.errors.NotFound
      ? "not found"
      : error instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : message;
    throw new CompressProgramError(`Cannot run --compress-program ${label}: ${reason}`, {
      cause: error,
    });
  }
  liveChildren.add(child);
  return child;
}

/** The error for a child that ended with a failure status. */
function statusError(label: string, status: Deno.CommandStatus): CompressProgramError {
  const how = status.signal !== null
    ? `was killed by ${status.signal}`
    : `exited with status ${status.code}`;
  return new CompressProgramError(
    `Cannot use --compress-program: '${label}' ${how}; it must read standard input and write standard output (with -d: decompress)`,
  );
}

/** Parts of a compressed channel the manager sets up. */
export interface CompressedChannelParts {
  /** The spill file. */
  path: string;
  /** The spill file, open (write for a writer, read for a reader). */
  file: Deno.FsFile;
  /** The compressor (`PROG`) or decompressor (`PROG -d`), just spawned. */
  child: Deno.ChildProcess;
  /** The `--compress-program`. */
  program: string;
  /** The fault-injection counter. */
  counter: OperationCounter;
  /** Bytes of pipe buffers (the writer's write-behind or reader's read-ahead share). */
  bufferBytes: number;
  /** Their reservation from the budget; released when the channel closes. */
  reservation: MemoryReservation;
}

/** Writes all of `bytes` to `file`. */
function writeAll(file: Deno.FsFile, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += file.writeSync(done === 0 ? bytes : bytes.subarray(done));
}

/** Waits for `child` to end, forgetting it. */
async function reap(child: Deno.ChildProcess): Promise<Deno.CommandStatus> {
  try {
    return await child.status;
  } finally {
    liveChildren.delete(child);
  }
}

/**
 * A write-only {@linkcode BlockChannel} through `--compress-program`: the blocks go to PROG's
 * standard input, in order, and a pump copies its standard output into the spill file through
 * one buffer reserved from the budget. `truncate` (the writer's last step) closes PROG's input
 * and waits for it: the file is complete only when PROG exited 0.
 *
 * ```
 * RunWriter --write(position, block)--> PROG stdin ... PROG stdout --pump(staging)--> file
 * ```
 *
 * Positions must follow each other (a run is written front to back); the file holds PROG's
 * output, so the checksummed blocks are checked again after `PROG -d` on the way back.
 */
export class CompressedWriteChannel implements BlockChannel {
  readonly path: string;
  #file: Deno.FsFile;
  #child: Deno.ChildProcess;
  #label: string;
  #counter: OperationCounter;
  #reservation: MemoryReservation;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #stdout: ReadableStreamBYOBReader;
  #pump: Promise<void>;
  #position = 0;
  #error: unknown = undefined;
  #exited = false;
  #closing: Promise<void> | undefined = undefined;

  /** @param parts The file, the child and the buffer. */
  constructor(parts: CompressedChannelParts) {
    this.path = parts.path;
    this.#file = parts.file;
    this.#child = parts.child;
    this.#label = parts.program;
    this.#counter = parts.counter;
    this.#reservation = parts.reservation;
    this.#stdin = parts.child.stdin.getWriter();
    this.#stdout = parts.child.stdout.getReader({ mode: "byob" });
    this.#pump = this.#pumpOut(new ArrayBuffer(parts.bufferBytes));
  }

  /** Copies PROG's output into the file until it ends; on a write error, stops PROG. */
  async #pumpOut(first: ArrayBuffer): Promise<void> {
    // Each BYOB read transfers the buffer: the next read reuses the one it came back in.
    let buffer = first;
    try {
      for (;;) {
        const { value, done } = await this.#stdout.read(new Uint8Array(buffer));
        if (value !== undefined) buffer = value.buffer as ArrayBuffer;
        if (done || value === undefined) return;
        writeAll(this.#file, value);
      }
    } catch (error) {
      this.#error ??= error;
      this.#kill();
      await this.#stdout.cancel().catch(() => {});
    }
  }

  #kill(): void {
    if (!this.#exited) killChild(this.#child);
  }

  write(position: number, bytes: Uint8Array): Promise<void> {
    try {
      this.#counter.tick();
      if (this.#error !== undefined) throw this.#error;
      if (position !== this.#position) {
        throw new Error(
          `Cannot write compressed spill file ${this.path} out of order: at ${position}, expected ${this.#position}`,
        );
      }
      this.#position += bytes.length;
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#stdin.write(bytes).catch((error) => this.#failure(error));
  }

  /** A pipe error: the pump's error if it had one, else PROG's status (it ended early). */
  async #failure(error: unknown): Promise<never> {
    if (this.#error !== undefined) throw this.#error;
    this.#kill();
    const status = await reap(this.#child);
    this.#exited = true;
    if (this.#error !== undefined) throw this.#error;
    if (!status.success) throw statusError(this.#label, status);
    throw error;
  }

  read(): Promise<number> {
    return Promise.reject(new Error(`Cannot read compressed spill file ${this.path} for writing`));
  }

  /** Ends PROG's input and waits for it and the pump: the file is complete when this returns. */
  async truncate(byteLength: number): Promise<void> {
    this.#counter.tick();
    if (byteLength !== this.#position) {
      throw new Error(
        `Cannot end compressed spill file ${this.path} at ${byteLength}: ${this.#position} bytes written`,
      );
    }
    try {
      await this.#stdin.close();
    } catch (error) {
      await this.#failure(error);
    }
    await this.#pump;
    const status = await reap(this.#child);
    this.#exited = true;
    if (this.#error !== undefined) throw this.#error;
    if (!status.success) throw statusError(this.#label, status);
  }

  /** Stops PROG if it still runs, waits for it, closes the file, gives back the buffer. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    this.#kill();
    await this.#stdin.abort().catch(() => {});
    await this.#pump;
    await reap(this.#child).catch(() => {});
    this.#exited = true;
    this.#stdout.releaseLock();
    this.#file.close();
    this.#reservation.release();
  }
}

/**
 * A read-only {@linkcode BlockChannel} through `PROG -d`: one pump feeds the spill file to its
 * standard input, and reads take its standard output in order (a run is read front to back;
 * a read may skip forward, never back). Both pipe buffers are halves of the reader's read-ahead
 * share of the budget. After the last byte of the run, PROG's exit status is checked.
 */
export class CompressedReadChannel implements BlockChannel {
  readonly path: string;
  #file: Deno.FsFile;
  #child: Deno.ChildProcess;
  #label: string;
  #counter: OperationCounter;
  #reservation: MemoryReservation;
  #byteLength: number;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #stdout: ReadableStreamBYOBReader;
  #pump: Promise<void>;
  #outBuffer: ArrayBuffer;
  #chunk: Uint8Array = new Uint8Array(0);
  #chunkOffset = 0;
  #position = 0;
  #ended = false;
  #error: unknown = undefined;
  #exited = false;
  #queue: Promise<unknown> = Promise.resolve();
  #closing: Promise<void> | undefined = undefined;

  /**
   * @param parts The file, the child and the buffer.
   * @param byteLength The run's length before compression (where the status is checked).
   */
  constructor(parts: CompressedChannelParts, byteLength: number) {
    this.path = parts.path;
    this.#file = parts.file;
    this.#child = parts.child;
    this.#label = `${parts.program} -d`;
    this.#counter = parts.counter;
    this.#reservation = parts.reservation;
    this.#byteLength = byteLength;
    // Two separate buffers: the output one is transferred by every BYOB read.
    const half = Math.max(1, Math.floor(parts.bufferBytes / 2));
    this.#outBuffer = new ArrayBuffer(half);
    this.#stdin = parts.child.stdin.getWriter();
    this.#stdout = parts.child.stdout.getReader({ mode: "byob" });
    this.#pump = this.#pumpIn(new Uint8Array(Math.max(1, parts.bufferBytes - half)));
  }

  /** Feeds the file to PROG's input; on a read error, stops PROG. */
  async #pumpIn(buffer: Uint8Array): Promise<void> {
    try {
      for (;;) {
        const count = this.#file.readSync(buffer);
        if (count === null) break;
        await this.#stdin.write(buffer.subarray(0, count));
      }
      await this.#stdin.close();
    } catch (error) {
      // A closed pipe means PROG ended early: its status tells why.
      if (!/broken pipe|os error 32/i.test(String(error))) this.#error ??= error;
      this.#kill();
      await this.#stdin.abort().catch(() => {});
    }
  }

  #kill(): void {
    if (!this.#exited) killChild(this.#child);
  }

  write(): Promise<void> {
    return Promise.reject(new Error(`Cannot write compressed spill file ${this.path} for reading`));
  }

  read(position: number, into: Uint8Array): Promise<number> {
    const result = this.#queue.then(() => this.#readAt(position, into));
    this.#queue = result.catch(() => {});
    return result;
  }

  async #readAt(position: number, into: Uint8Array): Promise<number> {
    this.#counter.tick();
    if (position < this.#position) {
      throw new Error(
        `Cannot read compressed spill file ${this.path} backwards: at ${position}, after ${this.#position}`,
      );
    }
    let skip = position - this.#position;
    while (skip > 0) {
      if (this.#chunkOffset >= this.#chunk.length && !(await this.#pull())) return 0;
      const count = Math.min(skip, this.#chunk.length - this.#chunkOffset);
      this.#chunkOffset += count;
      this.#position += count;
      skip -= count;
    }
    let done = 0;
    while (done < into.length) {
      if (this.#chunkOffset >= this.#chunk.length && !(await this.#pull())) break;
      const count = Math.min(into.length - done, this.#chunk.length - this.#chunkOffset);
      into.set(this.#chunk.subarray(this.#chunkOffset, this.#chunkOffset + count), done);
      this.#chunkOffset += count;
      done += count;
    }
    this.#position += done;
    // The whole run is out: PROG must end now, and end well.
    if (this.#position >= this.#byteLength && !this.#ended) {
      while (await this.#pull()) {
        this.#position += this.#chunk.length;
        this.#chunkOffset = this.#chunk.length;
      }
    }
    return done;
  }

  /** The next chunk of PROG's output; false at its end (after checking how PROG ended). */
  async #pull(): Promise<boolean> {
    if (this.#ended) return false;
    let result: ReadableStreamReadResult<Uint8Array>;
    try {
      result = await this.#stdout.read(new Uint8Array(this.#outBuffer));
    } catch (error) {
      this.#error ??= error;
      this.#ended = true;
      throw error;
    }
    const { value, done } = result;
    if (value !== undefined) this.#outBuffer = value.buffer as ArrayBuffer;
    if (!done && value !== undefined) {
      this.#chunk = value;
      this.#chunkOffset = 0;
      return true;
    }
    this.#ended = true;
    this.#chunk = new Uint8Array(0);
    this.#chunkOffset = 0;
    await this.#pump;
    const status = await reap(this.#child);
    this.#exited = true;
    if (this.#error !== undefined) throw this.#error;
    if (!status.success) throw statusError(this.#label, status);
    return false;
  }

  truncate(): Promise<void> {
    return Promise.reject(new Error(`Cannot truncate compressed spill file ${this.path}`));
  }

  /** Stops PROG if it still runs, waits for it, closes the file, gives back the buffer. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    this.#kill();
    await this.#stdout.cancel().catch(() => {});
    await this.#queue;
    await this.#pump;
    await reap(this.#child).catch(() => {});
    this.#exited = true;
    this.#stdout.releaseLock();
    this.#file.close();
    this.#outBuffer = new ArrayBuffer(0);
    this.#chunk = new Uint8Array(0);
    this.#reservation.release();
  }
}

/** Kills PROG with SIGKILL; a child that already ended is fine. */
function killChild(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch {
    // already ended
  }
}

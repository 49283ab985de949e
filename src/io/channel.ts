/**
 * A block channel: positional reads and writes of whole segments to one spill file.
 *
 * Implementations: {@linkcode FileChannel} (Deno file ops), `MmapChannel` (libc via FFI), and
 * the sequential `CompressedWriteChannel` / `CompressedReadChannel` (`--compress-program`).
 * Operations on one channel are issued in order; callers keep a bounded number in flight.
 */
export interface BlockChannel {
  /** The file. */
  readonly path: string;
  /** Writes all of `bytes` at file offset `position`. */
  write(position: number, bytes: Uint8Array): Promise<void>;
  /**
   * Reads into `into` from `position` until it is full or the file ends.
   *
   * @returns How many bytes were read (less than `into.length` only at end of file).
   */
  read(position: number, into: Uint8Array): Promise<number>;
  /** Makes the file exactly `byteLength` long (after the last write). */
  truncate(byteLength: number): Promise<void>;
  /** Closes the file (and ends any process behind it); idempotent. */
  close(): void | Promise<void>;
}

/** Counts I/O operations and fails the Nth one (the fault-injection test seam). */
export class OperationCounter {
  #count = 0;
  #failAt: number;
  #error: Error | undefined;

  /**
   * @param failAt The 1-based operation that fails (0: never).
   * @param error The error to throw.
   */
  constructor(failAt: number, error: Error | undefined) {
    this.#failAt = failAt;
    this.#error = error;
  }

  /** Operations so far. */
  get count(): number {
    return this.#count;
  }

  /** Whether a fault is still to come (then every operation must go through the counter). */
  get armed(): boolean {
    return this.#failAt > this.#count;
  }

  /** Counts one operation; throws the injected error when it is the chosen one. */
  tick(): void {
    this.#count += 1;
    if (this.#count === this.#failAt) {
      throw this.#error ??
        Object.assign(new Error("Injected I/O fault (os error 5)"), { code: "EIO" });
    }
  }
}

import type { BlockChannel, OperationCounter } from "./channel.ts";
import { ResourceError } from "../base/mod.ts";
import type { IoStats } from "./io_stats.ts";
import {
  cString,
  errno,
  type Libc,
  libcUnavailableReason,
  O_CLOEXEC,
  O_CREAT,
  O_EXCL,
  O_RDONLY,
  O_RDWR,
  osError,
} from "./libc.ts";

const PAGE_BYTES = 4096;
const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
const MADV_SEQUENTIAL = 2;
const SEEK_END = 2;

export { acquireLibc, type Libc, processAliveByKill, releaseLibc } from "./libc.ts";

/** Why mmap is unusable here, or undefined when it can be used (loads nothing). */
export function mmapUnavailableReason(): string | undefined {
  const reason = libcUnavailableReason();
  return reason === undefined ? undefined : `mmap spilling ${reason}`;
}

/**
 * A {@linkcode BlockChannel} that maps the file in bounded windows and copies blocks in and
 * out of the mapping.
 *
 * Safety rules: file space is reserved with `posix_fallocate` before a window is mapped for
 * writing (a full disk is an error, never SIGBUS); a window's `ArrayBuffer` is detached with
 * `transfer(0)` before `munmap`, so a stale view has length 0 instead of pointing at freed
 * address space; views of a window never leave this class.
 */
export class MmapChannel implements BlockChannel {
  readonly path: string;
  #lib: Libc;
  #fd: number;
  #writable: boolean;
  #windowBytes: number;
  #fileBytes: number;
  #reservedEnd = 0;
  #counter: OperationCounter;
  #stats: IoStats;
  #pointer: Deno.PointerValue = null;
  #buffer: ArrayBuffer | undefined = undefined;
  #view: Uint8Array = new Uint8Array(0);
  #windowStart = 0;
  #windowLength = 0;

  private constructor(
    path: string,
    lib: Libc,
    fd: number,
    writable: boolean,
    options: { windowBytes: number; fileBytes: number; counter: OperationCounter; stats: IoStats },
  ) {
    this.path = path;
    this.#lib = lib;
    this.#fd = fd;
    this.#writable = writable;
    this.#windowBytes = options.windowBytes;
    this.#fileBytes = options.fileBytes;
    this.#counter = options.counter;
    this.#stats = options.stats;
  }

  /**
   * Creates a new file exclusively (mode 0600) for writing.
   *
   * @throws {Error} With an errno `code` when the file cannot be created.
   */
  static create(
    path: string,
    options: { lib: Libc; windowBytes: number; counter: OperationCounter; stats: IoStats },
  ): MmapChannel {
    const lib = options.lib;
    const fd = lib.open(cString(path), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600);
    if (fd < 0) throw osError(errno(lib), "open", path);
    return new MmapChannel(path, lib, fd, true, { ...options, fileBytes: 0 });
  }

  /** Opens an existing file for reading. */
  static openRead(
    path: string,
    options: { lib: Libc; windowBytes: number; counter: OperationCounter; stats: IoStats },
  ): MmapChannel {
    const lib = options.lib;
    const fileBytes = Deno.statSync(path).size;
    const fd = lib.open(cString(path), O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) throw osError(errno(lib), "open", path);
    return new MmapChannel(path, lib, fd, false, { ...options, fileBytes });
  }

  write(position: number, bytes: Uint8Array): Promise<void> {
    try {
      this.#counter.tick();
      this.#map(position, bytes.length);
      this.#view.set(bytes, position - this.#windowStart);
      if (position + bytes.length > this.#fileBytes) this.#fileBytes = position + bytes.length;
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  read(position: number, into: Uint8Array): Promise<number> {
    try {
      this.#counter.tick();
      const count = Math.max(0, Math.min(into.length, this.#fileBytes - position));
      if (count === 0) return Promise.resolve(0);
      this.#map(position, count);
      const offset = position - this.#windowStart;
      into.set(this.#view.subarray(offset, offset + count), 0);
      return Promise.resolve(count);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  truncate(byteLength: number): Promise<void> {
    try {
      this.#counter.tick();
      this.#unmap();
      if (this.#lib.ftruncate(this.#fd, BigInt(byteLength)) !== 0) {
        throw osError(errno(this.#lib), "ftruncate", this.path);
      }
      this.#fileBytes = byteLength;
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  close(): void {
    if (this.#fd < 0) return;
    this.#unmap();
    this.#lib.close(this.#fd);
    this.#fd = -1;
  }

  /** Maps a window covering `[position, position + byteLength)`. */
  #map(position: number, byteLength: number): void {
    if (this.#fd < 0) throw new Error(`Cannot use closed spill file ${this.path}`);
    if (
      position >= this.#windowStart &&
      position + byteLength <= this.#windowStart + this.#windowLength
    ) return;
    this.#unmap();
    const start = position - (position % PAGE_BYTES);
    let length = Math.max(this.#windowBytes, roundUp(position + byteLength - start));
    if (!this.#writable) length = Math.min(length, roundUp(this.#fileBytes - start));
    if (this.#writable && start + length > this.#reservedEnd) {
      // Reserve the blocks first: a full disk fails here, not as SIGBUS on a store.
      const result = this.#lib.posix_fallocate(this.#fd, BigInt(start), BigInt(length));
      if (result !== 0) throw osError(result, "posix_fallocate", this.path);
      this.#reservedEnd = start + length;
    }
    // A mapping past the end of the file faults (SIGBUS) on access: check the size first.
    // Left: a truncation between this check and the copy still faults (see docs/spill_format.md).
    const sizeNow = Number(this.#lib.lseek(this.#fd, 0n, SEEK_END));
    const needed = Math.min(start + length, this.#writable ? start + length : this.#fileBytes);
    if (sizeNow < needed) {
      throw new ResourceError(
        `Cannot map spill file ${this.path}: it has ${sizeNow} bytes, at least ${needed} expected ` +
          `(truncated while in use); keep other programs away from the temp directory`,
      );
    }
    const protection = this.#writable ? PROT_READ | PROT_WRITE : PROT_READ;
    const pointer = this.#lib.mmap(
      null,
      BigInt(length),
      protection,
      MAP_SHARED,
      this.#fd,
      BigInt(start),
    );
    const address = Deno.UnsafePointer.value(pointer);
    if (pointer === null || address === -1n || address === 0xffff_ffff_ffff_ffffn) {
      throw osError(errno(this.#lib), "mmap", this.path);
    }
    if (!this.#writable) this.#lib.madvise(pointer, BigInt(length), MADV_SEQUENTIAL);
    this.#pointer = pointer;
    this.#buffer = Deno.UnsafePointerView.getArrayBuffer(pointer, length);
    this.#view = new Uint8Array(this.#buffer);
    this.#windowStart = start;
    this.#windowLength = length;
    if (length > this.#stats.mappedBytesPeak) this.#stats.mappedBytesPeak = length;
  }

  #unmap(): void {
    if (this.#buffer === undefined) return;
    // Detach first: every view of the window becomes zero-length before the pages go away.
    this.#buffer.transfer(0);
    this.#buffer = undefined;
    this.#view = new Uint8Array(0);
    this.#lib.munmap(this.#pointer, BigInt(this.#windowLength));
    this.#pointer = null;
    this.#windowStart = 0;
    this.#windowLength = 0;
  }
}

function roundUp(bytes: number): number {
  return Math.ceil(bytes / PAGE_BYTES) * PAGE_BYTES;
}

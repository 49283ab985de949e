import type { BlockChannel, OperationCounter } from "./channel.ts";
import type { IoStats } from "./io_stats.ts";

const PAGE_BYTES = 4096;
const O_RDONLY = 0;
const O_RDWR = 2;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const O_CLOEXEC = 0o2000000;
const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
const MADV_SEQUENTIAL = 2;

const errnoNames: Readonly<Record<number, string>> = {
  1: "EPERM",
  2: "ENOENT",
  5: "EIO",
  9: "EBADF",
  12: "ENOMEM",
  13: "EACCES",
  17: "EEXIST",
  22: "EINVAL",
  24: "EMFILE",
  27: "EFBIG",
  28: "ENOSPC",
  30: "EROFS",
  95: "EOPNOTSUPP",
  122: "EDQUOT",
};

const symbols = {
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  madvise: { parameters: ["pointer", "usize", "i32"], result: "i32" },
  posix_fallocate: { parameters: ["i32", "i64", "i64"], result: "i32" },
  ftruncate: { parameters: ["i32", "i64"], result: "i32" },
  kill: { parameters: ["i32", "i32"], result: "i32" },
  ["__errno_location"]: { parameters: [], result: "pointer" },
} as const;

/** The libc functions the mmap channel calls. */
export type Libc = Deno.DynamicLibrary<typeof symbols>["symbols"];

let library: Deno.DynamicLibrary<typeof symbols> | undefined;
let libraryUsers = 0;

function availability(): string | undefined {
  if (
    Deno.build.os !== "linux" || (Deno.build.arch !== "x86_64" && Deno.build.arch !== "aarch64")
  ) {
    return `mmap spilling needs Linux on x86_64 or arm64, not ${Deno.build.os} ${Deno.build.arch}`;
  }
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return "mmap spilling needs the --allow-ffi permission";
  }
  return undefined;
}

/**
 * Loads libc through FFI (reference counted: one load while any user holds it).
 *
 * @returns The symbols, or why mmap is unusable here (for the `--spill mmap` error).
 */
export function acquireLibc(): Libc | string {
  const problem = availability();
  if (problem !== undefined) return problem;
  if (library === undefined) {
    for (const name of ["libc.so.6", "libc.so"]) {
      try {
        library = Deno.dlopen(name, symbols);
        break;
      } catch {
        // try the next name
      }
    }
    if (library === undefined) return "mmap spilling could not load libc (libc.so.6)";
  }
  libraryUsers += 1;
  return library.symbols;
}

/** Gives back a libc reference from {@linkcode acquireLibc}; unloads it after the last. */
export function releaseLibc(): void {
  if (libraryUsers === 0) return;
  libraryUsers -= 1;
  if (libraryUsers === 0 && library !== undefined) {
    library.close();
    library = undefined;
  }
}

/**
 * Whether a process runs, by `kill(pid, 0)` through libc (for sweeping stale temp dirs when
 * Deno denies `/proc`, which it does without --allow-all).
 *
 * @returns true or false, or undefined when FFI is unavailable.
 */
export function processAliveByKill(pid: number): boolean | undefined {
  const lib = acquireLibc();
  if (typeof lib === "string") return undefined;
  try {
    if (lib.kill(pid, 0) === 0) return true;
    const code = errno(lib);
    if (code === 3) return false; // ESRCH: no such process
    return code === 1 ? true : undefined; // EPERM: it runs as another user
  } finally {
    releaseLibc();
  }
}

/** Why mmap is unusable here, or undefined when it can be used (loads nothing). */
export function mmapUnavailableReason(): string | undefined {
  return availability();
}

function errno(lib: Libc): number {
  const location = lib.__errno_location();
  return location === null ? 0 : new Deno.UnsafePointerView(location).getInt32();
}

function osError(code: number, action: string, path: string): Error {
  const name = errnoNames[code] ?? `errno ${code}`;
  if (code === 2) return new Deno.errors.NotFound(`${action} '${path}' failed (os error 2)`);
  if (code === 13 || code === 1) {
    return new Deno.errors.PermissionDenied(`${action} '${path}' failed (os error ${code})`);
  }
  return Object.assign(new Error(`${name}: ${action} '${path}' failed (os error ${code})`), {
    code: name,
  });
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

function cString(text: string): Uint8Array<ArrayBuffer> {
  const encoded = new TextEncoder().encode(text);
  const result = new Uint8Array(encoded.length + 1);
  result.set(encoded, 0);
  return result;
}

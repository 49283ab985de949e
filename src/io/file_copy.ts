/**
 * `copy_file_range(2)` through FFI, in a load of libc of its own: only `count`'s sort route in
 * count order calls it (on the main thread), so the other users of libc (the merge Worker among
 * them) do not prepare its call. A {@linkcode FileCopier} loads it once, at its first copy, and
 * unloads it at close: the IoManager keeps one (each load costs a fraction of a millisecond;
 * loaded as libc is, without fast-call trampolines: see `openLibraryWithoutTrampolines`).
 *
 * @module
 */
import {
  cString,
  errno,
  LIBC_NAMES,
  libcUnavailableReason,
  type LoadedLibrary,
  O_CLOEXEC,
  O_RDONLY,
  openLibraryWithoutTrampolines,
  osError,
} from "./libc.ts";

const symbols = {
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  // Optional (glibc 2.27): without it, files are copied through a buffer.
  copy_file_range: {
    parameters: ["i32", "buffer", "i32", "buffer", "usize", "u32"],
    result: "isize",
    optional: true,
  },
  ["__errno_location"]: { parameters: [], result: "pointer" },
} as const;

/**
 * `copy_file_range` errors that mean "not between these files" (EXDEV before Linux 5.3 or across
 * file system types, EINVAL, ENOSYS, EOPNOTSUPP): the caller copies through a buffer instead.
 */
const COPY_UNSUPPORTED = new Set([18, 22, 38, 95]);

/**
 * Copies byte ranges between files inside the kernel (see the module doc).
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { FileCopier } from "./file_copy.ts";
 * using copier = new FileCopier();
 * strictEqual(copier.loadCount, 0); // libc loads at the first copy, once
 * ```
 */
export class FileCopier implements Disposable {
  #library: LoadedLibrary<Deno.DynamicLibrary<typeof symbols>["symbols"]> | undefined;
  /** Whether a load failed (no libc here): the copies go through a buffer from then on. */
  #unavailable = false;
  #closed = false;
  #loadCount = 0;

  /** How many times libc was loaded: at most once. */
  get loadCount(): number {
    return this.#loadCount;
  }

  /**
   * Copies up to `byteLengthMax` bytes of the file at `source`, from its offset `from`, to
   * offset `position` of the open descriptor `fd` (no buffer, no copy through this process).
   *
   * @param source The file to read.
   * @param fd The descriptor to write (opened for writing, not O_APPEND).
   * @param range `position` in `fd`, `from` in `source`, `byteLengthMax`.
   * @returns The bytes copied (0: `from` is the source's end), or undefined when the kernel
   *   cannot copy between these files (no libc or `copy_file_range`, EXDEV, EINVAL, ENOSYS,
   *   EOPNOTSUPP): then nothing was written.
   * @throws The open or copy error (with its `code`: ENOSPC for a full disk).
   */
  copy(
    source: string,
    fd: number,
    range: { position: number; from: number; byteLengthMax: number },
  ): number | undefined {
    if (this.#closed) throw new Error("Cannot copy with a closed FileCopier");
    const library = this.#load();
    return library === undefined ? undefined : copyWith(library.symbols, source, fd, range);
  }

  /** Unloads libc. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#library?.library.close();
    this.#library = undefined;
  }

  /** Same as {@linkcode FileCopier.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  #load(): LoadedLibrary<Deno.DynamicLibrary<typeof symbols>["symbols"]> | undefined {
    if (this.#library !== undefined || this.#unavailable) return this.#library;
    if (libcUnavailableReason() === undefined) {
      this.#library = openLibraryWithoutTrampolines(LIBC_NAMES, symbols);
      if (this.#library !== undefined) this.#loadCount += 1;
    }
    this.#unavailable = this.#library === undefined;
    return this.#library;
  }
}

function copyWith(
  lib: Deno.DynamicLibrary<typeof symbols>["symbols"],
  source: string,
  fd: number,
  range: { position: number; from: number; byteLengthMax: number },
): number | undefined {
  if (lib.copy_file_range === null) return undefined;
  const input = lib.open(cString(source), O_RDONLY | O_CLOEXEC, 0);
  if (input < 0) throw osError(errno(lib), "open", source);
  try {
    const offsets = BigInt64Array.of(BigInt(range.from), BigInt(range.position));
    const inOffset = new Uint8Array(offsets.buffer, 0, 8);
    const outOffset = new Uint8Array(offsets.buffer, 8, 8);
    let done = 0;
    while (done < range.byteLengthMax) {
      const left = BigInt(range.byteLengthMax - done);
      const count = Number(lib.copy_file_range(input, inOffset, fd, outOffset, left, 0));
      if (count === 0) break;
      if (count < 0) {
        const code = errno(lib);
        if (code === 4) continue; // EINTR
        if (done === 0 && COPY_UNSUPPORTED.has(code)) return undefined;
        throw osError(code, "copy_file_range", source);
      }
      done += count;
    }
    return done;
  } finally {
    lib.close(input);
  }
}

/**
 * A part of an output file written at known positions by one thread (the placed final merge of
 * `sort`: each key range goes to its own offset, src/sort/placed_merge.ts). The file is the
 * output's temp file, or the regular file on standard output ({@linkcode OutputSink.parts});
 * the sink renames the temp file into place once every part is written. Writes are `pwrite`s
 * through its own descriptor, so two threads write their parts at once. Into a temp file, the
 * writeback of each 8 MiB written is started as it goes (`sync_file_range`, no wait), so a
 * rename over an existing file does not write it all out at the end; on standard output it is
 * not (no rename follows). Without libc, a Deno handle seeks and writes.
 *
 * A leaf module (libc, file_copy, timeline): the merge Worker imports it.
 *
 * @module
 */
import {
  acquireLibc,
  cString,
  errno,
  type Libc,
  O_CLOEXEC,
  O_WRONLY,
  osError,
  releaseLibc,
  SYNC_FILE_RANGE_WRITE,
} from "./libc.ts";
import type { FileCopier } from "./file_copy.ts";
import { timelineEnd, timelineStart } from "./timeline.ts";

/** Start the writeback of every this many bytes written in a row. */
const PART_WRITEBACK_BYTES = 8 * 1024 * 1024;

/**
 * Writes byte ranges of an existing file at given positions (see the module doc).
 *
 * @example Usage
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { OutputPartWriter } from "./output_part.ts";
 * const path = await Deno.makeTempFile();
 * const part = new OutputPartWriter(path);
 * part.writeAt(new TextEncoder().encode("b\n"), 2);
 * part.writeAt(new TextEncoder().encode("a\n"), 0);
 * part.close();
 * deepStrictEqual(await Deno.readTextFile(path), "a\nb\n");
 * await Deno.remove(path);
 * ```
 */
export class OutputPartWriter {
  /** The file. */
  readonly path: string;
  #lib: Libc | undefined;
  #fd = -1;
  #file: Deno.FsFile | undefined;
  /** Whether the writeback of each 8 MiB written starts as it goes. */
  readonly #writeback: boolean;
  /** The range written in a row since the last writeback: [#writebackFrom, #writtenTo). */
  #writebackFrom = 0;
  #writtenTo = 0;

  /**
   * Opens `path` (it must exist) for writing.
   *
   * @param path The file.
   * @param options `writeback`: start writing each 8 MiB out as it is written (a rename
   *   follows: {@linkcode OutputParts.writeback}); default false.
   * @throws The open error (with its `code`).
   */
  constructor(path: string, options: { writeback?: boolean } = {}) {
    this.path = path;
    this.#writeback = options.writeback ?? false;
    const lib = acquireLibc();
    if (typeof lib === "string") {
      this.#file = Deno.openSync(path, { write: true });
      return;
    }
    const fd = lib.open(cString(path), O_WRONLY | O_CLOEXEC, 0);
    if (fd < 0) {
      const code = errno(lib);
      releaseLibc();
      throw osError(code, "open", path);
    }
    this.#lib = lib;
    this.#fd = fd;
  }

  /**
   * Writes all of `bytes` at file offset `position`.
   *
   * @throws The write error (with its `code`: ENOSPC for a full disk).
   */
  writeAt(bytes: Uint8Array, position: number): void {
    if (position !== this.#writtenTo) {
      this.#startWriteback();
      this.#writebackFrom = position;
    }
    const spanMs = timelineStart();
    const lib = this.#lib;
    if (lib === undefined) {
      const file = this.#file!;
      file.seekSync(position, Deno.SeekMode.Start);
      let done = 0;
      while (done < bytes.length) done += file.writeSync(bytes.subarray(done));
    } else {
      let done = 0;
      while (done < bytes.length) {
        const count = Number(
          lib.pwrite(
            this.#fd,
            bytes.subarray(done),
            BigInt(bytes.length - done),
            BigInt(position + done),
          ),
        );
        if (count < 0) {
          const code = errno(lib);
          if (code === 4) continue; // EINTR
          throw osError(code, "write", this.path);
        }
        done += count;
      }
    }
    timelineEnd("write-syscall", spanMs);
    this.#writtenTo = position + bytes.length;
    if (this.#writtenTo - this.#writebackFrom >= PART_WRITEBACK_BYTES) this.#startWriteback();
  }

  /**
   * Copies up to `byteLengthMax` bytes of the file at `source`, from offset `from`, to offset
   * `position` of this file inside the kernel, with `copier` ({@linkcode FileCopier.copy}).
   *
   * @returns The bytes copied (0: `from` is the source's end), or undefined when the kernel
   *   cannot copy between these files: then nothing was written.
   * @throws The open or copy error (with its `code`: ENOSPC for a full disk).
   */
  copyFileAt(
    source: string,
    position: number,
    options: { from: number; byteLengthMax: number; copier: FileCopier },
  ): number | undefined {
    if (this.#lib === undefined) return undefined;
    if (position !== this.#writtenTo) {
      this.#startWriteback();
      this.#writebackFrom = position;
    }
    const spanMs = timelineStart();
    const { from, byteLengthMax } = options;
    const done = options.copier.copy(source, this.#fd, { position, from, byteLengthMax });
    timelineEnd("copy-file-range", spanMs);
    if (done === undefined) return undefined;
    this.#writtenTo = position + done;
    if (this.#writtenTo - this.#writebackFrom >= PART_WRITEBACK_BYTES) this.#startWriteback();
    return done;
  }

  /** Starts the writeback of what is written and closes the file. Idempotent. */
  close(): void {
    this.#startWriteback();
    this.#file?.close();
    this.#file = undefined;
    if (this.#lib !== undefined) {
      this.#lib.close(this.#fd);
      this.#lib = undefined;
      this.#fd = -1;
      releaseLibc();
    }
  }

  /** Starts writing the bytes written in a row since the last call out (no wait; best effort). */
  #startWriteback(): void {
    const from = this.#writebackFrom;
    const to = this.#writtenTo;
    this.#writebackFrom = to;
    const lib = this.#lib;
    if (!this.#writeback || lib === undefined || lib.sync_file_range === null || to <= from) {
      return;
    }
    const spanMs = timelineStart();
    lib.sync_file_range(this.#fd, BigInt(from), BigInt(to - from), SYNC_FILE_RANGE_WRITE);
    timelineEnd("writeback", spanMs);
  }
}

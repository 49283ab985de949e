import { timelineEnd, timelineStart } from "./timeline.ts";
import { InputError, UsageError } from "../base/mod.ts";
import type { OperationCounter } from "./channel.ts";
import { errorCode } from "./errors.ts";
import { loopTurnDue } from "./event_loop.ts";
import {
  acquireLibc,
  cString,
  currentUid,
  errno,
  type Libc,
  libcUnavailableReason,
  O_ACCMODE,
  O_APPEND,
  O_CLOEXEC,
  O_CREAT,
  O_EXCL,
  O_NOFOLLOW,
  O_RDONLY,
  O_TRUNC,
  O_WRONLY,
  osError,
  releaseLibc,
  SEEK_CUR,
  SEEK_SET,
  SYNC_FILE_RANGE_WRITE,
  withLibc,
} from "./libc.ts";
import type { OutputParts, OutputTarget } from "./output_sink.ts";

/**
 * How an output path is written, decided before any input is read:
 *
 * ```
 * "-", /dev/stdout, /dev/fd/1   -> stdout      written to the process's standard output (a
 *                                              regular file not opened O_APPEND: also at
 *                                              positions, OutputTarget.parts; a regular file
 *                                              is cut back to the output's start on abort)
 * /dev/stderr, /dev/fd/2        -> stderr
 * /dev/null                     -> null        bytes are dropped
 * missing, or a regular file    -> atomic      temp file beside the real target (symlinks
 *   with one link in a writable                 followed), renamed over it on commit
 *   directory
 * anything else: a FIFO, a      -> in-place    opened (and truncated) only when the output
 *   device, /dev/fd/N, a hard-                  starts; a regular file that fails is left
 *   linked file, a file in a                    empty (a FIFO or device gets what was sent)
 *   directory we cannot write
 * ```
 */
export type OutputPlan =
  | { readonly kind: "stdout" | "stderr" | "null"; readonly name: string }
  | {
    readonly kind: "atomic";
    readonly name: string;
    /** The real target (symlinks resolved). */
    readonly target: string;
    /** Its directory, where the temp file goes. */
    readonly dir: string;
    /** The mode of the existing target, or undefined for a new file. */
    readonly mode: number | undefined;
  }
  | {
    readonly kind: "in-place";
    readonly name: string;
    readonly target: string;
    /** Open it through libc: Deno refuses /dev, /proc and /sys paths without --allow-all. */
    readonly native: boolean;
  };

/** The pattern of output temp files: `.NAME.spillway-PID-TAG.tmp`. */
export const OUTPUT_TEMP_PATTERN = /^\..+\.spillway-\d+-[0-9a-z]+\.tmp$/;
/** An output temp file is created as its name + `.new`, locked, then renamed. */
const OUTPUT_CLAIM_SUFFIX = ".new";
/** How old a claim file with a free lock must be before a sweep removes it. */
const CLAIM_STALE_MS = 60_000;

/**
 * An output temp file's dirty pages are sent to the disk every this many bytes written
 * (`sync_file_range`, which starts the writeback and does not wait for it). The rename over an
 * existing target writes the new file's data out first on ext4 (auto_da_alloc): started early,
 * that work overlaps the merge instead of following it (1 GiB: the rename took 0.45-0.7 s,
 * with the writeback started early 0.2-0.25 s, for ~0.1 s of calls spread over the writes).
 */
const OUTPUT_WRITEBACK_BYTES = 8 * 1024 * 1024;

const SYMLINK_HOPS_MAX = 40;
const W_OK = 2;
const X_OK = 1;
const F_GETFL = 3;
const LOCK_EX = 2;
const LOCK_NB = 4;
/** `statx(2)`: the call on the descriptor itself, the type wanted, the result's size and mode. */
const AT_EMPTY_PATH = 0x1000;
const STATX_TYPE = 1;
const STATX_SIZE = 0x200;
const STATX_BYTES = 256;
const STATX_MODE_OFFSET = 28;
const STATX_SIZE_OFFSET = 40;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
/** What part writers open to write a regular file on standard output at positions. */
const STDOUT_LINK = "/proc/self/fd/1";

const streamAliases: ReadonlyMap<string, "stdout" | "stderr" | "null"> = new Map([
  ["-", "stdout"],
  ["/dev/stdout", "stdout"],
  ["/dev/fd/1", "stdout"],
  ["/proc/self/fd/1", "stdout"],
  ["/dev/stderr", "stderr"],
  ["/dev/fd/2", "stderr"],
  ["/proc/self/fd/2", "stderr"],
  ["/dev/null", "null"],
]);

/** Input paths that mean standard input. */
export const STDIN_ALIASES: ReadonlySet<string> = new Set([
  "-",
  "/dev/stdin",
  "/dev/fd/0",
  "/proc/self/fd/0",
]);

/** Whether Deno refuses `path` without --allow-all (so spillway opens it through libc). */
export function isRestrictedPath(path: string): boolean {
  return /^\/(dev|proc|sys)(\/|$)/.test(path);
}

/**
 * Decides how `path` is written and checks that it can be, without changing anything.
 *
 * @param path The output path (`-` or undefined: stdout).
 * @param option The option that named it, for messages (`-o`, `--stats-file`).
 * @returns The plan.
 * @throws {UsageError} For an empty path, a directory, a missing directory, ENOTDIR, ELOOP,
 *   ENAMETOOLONG, EACCES, or a closed standard output.
 */
export async function planOutput(path: string | undefined, option: string): Promise<OutputPlan> {
  if (path === "") throw new UsageError(`Invalid ${option}: the path is empty`);
  const alias = streamAliases.get(path ?? "-");
  if (alias !== undefined) return streamPlan(alias, path ?? "-");
  const name = path!;
  const fail = (reason: string, cause?: unknown): never => {
    throw new UsageError(`Cannot create output ${name}: ${reason}; choose another ${option}`, {
      cause,
    });
  };
  let target = name;
  let info: Deno.FileInfo | undefined;
  for (let hop = 0;; hop += 1) {
    if (isRestrictedPath(target)) {
      const restricted = streamAliases.get(target);
      if (restricted !== undefined) return streamPlan(restricted, name);
      return nativePlan(name, target, fail);
    }
    if (hop > SYMLINK_HOPS_MAX) fail("too many levels of symbolic links");
    try {
      info = await Deno.lstat(target);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) fail(reasonOf(error), error);
      info = undefined;
    }
    if (info === undefined || !info.isSymlink) break;
    const link = await Deno.readLink(target);
    target = link.startsWith("/") ? link : `${dirOf(target)}/${link}`;
  }
  const dir = dirOf(target);
  if (info === undefined) {
    // A new file: its directory must exist and take a file.
    let dirInfo: Deno.FileInfo;
    try {
      dirInfo = await Deno.stat(dir);
    } catch (error) {
      return fail(
        error instanceof Deno.errors.NotFound ? "its directory does not exist" : reasonOf(error),
        error,
      );
    }
    if (!dirInfo.isDirectory) fail("a component of the path is not a directory");
    if (accessible(dir, W_OK | X_OK) === false) fail("permission denied");
    return { kind: "atomic", name, target, dir, mode: undefined };
  }
  if (info.isDirectory) {
    throw new UsageError(`Cannot write output ${name}: it is a directory; choose a file path`);
  }
  if (accessible(target, W_OK) === false) fail("permission denied");
  if (info.isFile && (info.nlink ?? 1) <= 1 && accessible(dir, W_OK | X_OK) !== false) {
    return { kind: "atomic", name, target, dir, mode: (info.mode ?? 0o644) & 0o7777 };
  }
  return { kind: "in-place", name, target, native: false };
}

/**
 * Checks that `path` can be written as an output, without touching it (see
 * {@linkcode planOutput}); commands call it before reading any input.
 *
 * @param path The output path (`-` or undefined: stdout).
 * @param option The option that named it, for messages (`-o`, `--stats-file`).
 * @throws {UsageError} If it cannot be written.
 */
export async function checkOutputPath(path: string | undefined, option: string): Promise<void> {
  await planOutput(path, option);
}

function streamPlan(kind: "stdout" | "stderr" | "null", path: string): OutputPlan {
  if (kind === "null") return { kind, name: path };
  const fd = kind === "stdout" ? 1 : 2;
  if (standardStreamClosed(fd)) {
    throw new UsageError(
      `Cannot write to standard ${kind === "stdout" ? "output" : "error"}: it is closed (EBADF); ` +
        `redirect it or write to a file with ${kind === "stdout" ? "-o" : "--stats-file"}`,
    );
  }
  return { kind, name: kind === "stdout" ? "standard output" : "standard error" };
}

function nativePlan(name: string, target: string, fail: (reason: string) => never): OutputPlan {
  const reason = libcUnavailableReason();
  if (reason !== undefined) fail(`writing a device path ${reason}`);
  const allowed = accessible(target, W_OK);
  if (allowed === false) {
    const code = withLibc((lib) => errno(lib), 0);
    fail(code === 2 ? "it does not exist" : "permission denied");
  }
  return { kind: "in-place", name, target, native: true };
}

/** `access(2)`: true or false, or undefined without libc (then the open decides). */
function accessible(path: string, mode: number): boolean | undefined {
  return withLibc((lib) => lib.access(cString(path), mode) === 0, undefined);
}

function dirOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
}

function reasonOf(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "its directory does not exist";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  switch (errorCode(error)) {
    case "ENOTDIR":
      return "a component of the path is not a directory";
    case "ELOOP":
      return "too many levels of symbolic links";
    case "ENAMETOOLONG":
      return "the file name is too long";
    case "EACCES":
    case "EPERM":
      return "permission denied";
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * Whether standard stream `fd` is closed (EBADF). A stream closed when spillway started
 * (`>&-`, `<&-`) is not: the Rust runtime under Deno reopens a closed 0, 1 or 2 on /dev/null
 * read-write before any script runs, and that cannot be told from a /dev/null that the caller
 * opened read-write (Python's `subprocess.DEVNULL`, Node's `stdio: "ignore"`, `1<>/dev/null`):
 * /proc/self/fdinfo shows the same flags, position, mount and inode for both (measured on
 * Linux 6.x with Deno 2.9.6), nothing else the process can read differs, and the caller's
 * copy may be closed already. The working case wins, as in GNU sort: such a stream is
 * /dev/null (output discarded, input empty).
 *
 * @returns false when it cannot tell (no libc).
 */
export function standardStreamClosed(fd: 0 | 1 | 2): boolean {
  return withLibc((lib) => lib.fcntl(fd, F_GETFL) < 0, false);
}

/**
 * The file a path names, seen through the descriptor links Deno will not read without
 * --allow-all (`/dev/fd/N`, `/dev/stdout`, `/proc/self/fd/N`: libc `readlink`); any other path
 * is returned as it is.
 *
 * @param path A path.
 * @returns The file's path, or undefined when the link leads to no file (a pipe, a terminal) or
 *   cannot be read.
 */
export function fileBehind(path: string): string | undefined {
  let current = path;
  for (let hop = 0; hop < 8 && isRestrictedPath(current); hop += 1) {
    const link = withLibc((lib) => readLink(lib, current, 4096), undefined);
    if (link === undefined || !link.startsWith("/")) return undefined;
    current = link;
  }
  return isRestrictedPath(current) ? undefined : current;
}

/** The target of symbolic link `path` (at most `capacity` bytes of it), or undefined. */
function readLink(lib: Libc, path: string, capacity: number): string | undefined {
  const into = new Uint8Array(capacity);
  const length = Number(lib.readlink(cString(path), into, BigInt(capacity)));
  return length > 0 ? new TextDecoder().decode(into.subarray(0, length)) : undefined;
}

/**
 * Throws when standard input was closed (`<&-`).
 *
 * @throws {InputError} If it was.
 */
export function checkStdinOpen(): void {
  if (standardStreamClosed(0)) {
    throw new InputError("Cannot read standard input: it is closed (EBADF); give a FILE");
  }
}

/** A file written with plain synchronous writes, by libc descriptor or a Deno handle. */
interface WriteHandle {
  write(bytes: Uint8Array): void;
  /** Sets the permission bits on the open file (fchmod), before the rename. */
  setMode(mode: number): void;
  /** Starts writing out what is not yet on its way to the disk (before the rename), if kept. */
  startTailWriteback?(): void;
  /** Takes an exclusive advisory lock without waiting; false if another holder has it. */
  tryLock(): boolean;
  /** Empties the file if it is a regular file (an in-place output that failed); best effort. */
  emptyIfRegular?(): void;
  close(): void;
}

/** Waited on for a millisecond when a non-blocking descriptor is full (EAGAIN). */
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

class LibcHandle implements WriteHandle {
  #lib: Libc;
  #fd: number;
  #path: string;
  /** Start the writeback of every this many bytes written (0: never; see below). */
  #writebackBytes = 0;
  /** Bytes written, and where the writeback not yet started begins. */
  #writtenBytes = 0;
  #writebackFrom = 0;

  /** Whether `close` closes the descriptor (not standard output's). */
  readonly #ownsFd: boolean;

  /** Bytes written so far (a failed write's written part too). */
  get writtenBytes(): number {
    return this.#writtenBytes;
  }

  private constructor(lib: Libc, fd: number, path: string, ownsFd = true) {
    this.#lib = lib;
    this.#fd = fd;
    this.#path = path;
    this.#ownsFd = ownsFd;
  }

  /**
   * Standard output, written by descriptor 1 (left open at close), or undefined without libc.
   * Not `Deno.stdout`: its writes go through the runtime's line buffer, which keeps the bytes
   * after the last newline of a failed write and writes them again as the process exits, when
   * a write past `ulimit -f` meets SIGXFSZ's default action (killed, exit 153, not 3).
   */
  static standardOutput(): LibcHandle | undefined {
    const lib = acquireLibc();
    return typeof lib === "string" ? undefined : new LibcHandle(lib, 1, "standard output", false);
  }

  /**
   * Starts the writeback of each `byteLength` bytes written as they are written (see
   * {@linkcode OUTPUT_WRITEBACK_BYTES}); a no-op where libc has no `sync_file_range`.
   */
  startWritebackEvery(byteLength: number): void {
    if (this.#lib.sync_file_range !== null) this.#writebackBytes = byteLength;
  }

  /** Opens `path`; errors after the open name `name` (where the file will be by then). */
  static open(path: string, flags: number, mode: number, name = path): LibcHandle {
    const lib = acquireLibc();
    if (typeof lib === "string") throw new Error(`Cannot open ${path}: libc ${lib}`);
    const fd = lib.open(cString(path), flags | O_CLOEXEC, mode);
    if (fd < 0) {
      const code = errno(lib);
      releaseLibc();
      throw osError(code, "open", path);
    }
    return new LibcHandle(lib, fd, name);
  }

  write(bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.length) {
      const count = Number(
        this.#lib.write(this.#fd, bytes.subarray(done), BigInt(bytes.length - done)),
      );
      if (count < 0) {
        const code = errno(this.#lib);
        if (code === 4) continue; // EINTR
        if (code === 11) {
          // EAGAIN: a descriptor left non-blocking by whoever started us (standard output).
          Atomics.wait(PAUSE, 0, 0, 1);
          continue;
        }
        throw osError(code, "write", this.#path);
      }
      done += count;
      this.#writtenBytes += count;
    }
    if (
      this.#writebackBytes > 0 && this.#writtenBytes - this.#writebackFrom >= this.#writebackBytes
    ) {
      this.#startWriteback();
    }
  }

  /**
   * Starts writing the pages written since the last call out (no wait). Best effort: an error
   * here (EIO) shows again where it matters, at the rename or the next write.
   */
  #startWriteback(): void {
    const from = this.#writebackFrom;
    const to = this.#writtenBytes;
    this.#writebackFrom = to;
    const spanMs = timelineStart();
    this.#lib.sync_file_range!(this.#fd, BigInt(from), BigInt(to - from), SYNC_FILE_RANGE_WRITE);
    timelineEnd("writeback", spanMs);
  }

  /** Starts the writeback of the bytes written since the last one (before the rename). */
  startTailWriteback(): void {
    if (this.#writebackBytes > 0 && this.#writtenBytes > this.#writebackFrom) {
      this.#startWriteback();
    }
  }

  setMode(mode: number): void {
    if (this.#lib.fchmod(this.#fd, mode) !== 0) {
      throw osError(errno(this.#lib), "fchmod", this.#path);
    }
  }

  tryLock(): boolean {
    return this.#lib.flock(this.#fd, LOCK_EX | LOCK_NB) === 0;
  }

  emptyIfRegular(): void {
    if (this.#fd < 0) return;
    const info = statFd(this.#lib, this.#fd, STATX_TYPE);
    if (info !== undefined && isRegular(info)) this.#lib.ftruncate(this.#fd, 0n);
  }

  close(): void {
    if (this.#fd < 0) return;
    if (this.#ownsFd) this.#lib.close(this.#fd);
    this.#fd = -1;
    releaseLibc();
  }
}

class DenoHandle implements WriteHandle {
  #file: Deno.FsFile;
  #path: string;

  constructor(file: Deno.FsFile, path: string) {
    this.#file = file;
    this.#path = path;
  }

  write(bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.length) done += this.#file.writeSync(bytes.subarray(done));
  }

  setMode(mode: number): void {
    // No fchmod in Deno's API: chmod the path, but only while it still names this file.
    const open = this.#file.statSync();
    const named = Deno.lstatSync(this.#path);
    if (named.isSymlink || named.ino !== open.ino || named.dev !== open.dev) {
      throw new Error(`Cannot set the mode of ${this.#path}: the file was replaced`);
    }
    Deno.chmodSync(this.#path, mode);
  }

  tryLock(): boolean {
    try {
      return this.#file.tryLockSync(true);
    } catch {
      return false;
    }
  }

  emptyIfRegular(): void {
    try {
      if (this.#file.statSync().isFile) this.#file.truncateSync(0);
    } catch {
      // best effort: the error that failed the output is the one reported
    }
  }

  close(): void {
    try {
      this.#file.close();
    } catch {
      // already closed
    }
  }
}

/**
 * Creates `path` exclusively with mode 0600, never through a symlink, and locks it. The file
 * is made under a claim name (`path` + `.new`, which sweeps leave alone while it is young),
 * locked, then renamed: a sweep never sees a temp file whose lock is not yet taken.
 */
function createTempFile(path: string, replaces: boolean): WriteHandle {
  const claim = `${path}${OUTPUT_CLAIM_SUFFIX}`;
  let handle: WriteHandle;
  if (libcUnavailableReason() === undefined) {
    const native = LibcHandle.open(claim, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600, path);
    // Only a rename over an existing file waits for the write-out; a new file's pages may stay
    // dirty in the page cache as long as the kernel likes.
    if (replaces) native.startWritebackEvery(OUTPUT_WRITEBACK_BYTES);
    handle = native;
  } else {
    handle = new DenoHandle(
      Deno.openSync(claim, { write: true, createNew: true, mode: 0o600 }),
      path,
    );
  }
  try {
    handle.tryLock();
    Deno.renameSync(claim, path);
  } catch (error) {
    handle.close();
    try {
      Deno.removeSync(claim);
    } catch {
      // already gone
    }
    throw error;
  }
  return handle;
}

/** Opens an existing target for writing in place, truncating a regular file. */
function openInPlace(plan: { target: string; native: boolean }): WriteHandle {
  if (plan.native) return LibcHandle.open(plan.target, O_WRONLY | O_CREAT | O_TRUNC, 0o666);
  return new DenoHandle(
    Deno.openSync(plan.target, { write: true, create: true, truncate: true }),
    plan.target,
  );
}

/** What an output target needs from the IoManager: its file registry and fault counter. */
export interface OutputTargetHost {
  readonly counter: OperationCounter;
  /** Records a file to remove on close or on a signal. */
  addFile(path: string): void;
  /** Forgets a file that was renamed away. */
  forgetFile(path: string): void;
  /** Removes a file it recorded. */
  deleteFile(path: string): Promise<void>;
  /**
   * Records `undo` to run (synchronously) when a signal ends the process; returns what forgets
   * it again.
   */
  undoOnSignal(undo: () => void): () => void;
}

/**
 * Opens the target of a plan (the output is about to start).
 *
 * @throws The open error; the caller turns it into a message.
 */
export function openOutputTarget(plan: OutputPlan, host: OutputTargetHost): OutputTarget {
  const counter = host.counter;
  switch (plan.kind) {
    case "stdout":
      return stdoutTarget(plan.name, host);
    case "stderr":
      return handleTarget(plan.name, counter, streamHandle(Deno.stderr), {});
    case "null":
      return handleTarget(plan.name, counter, {
        write: () => {},
        setMode: () => {},
        tryLock: () => true,
        close: () => {},
      }, {});
    case "in-place": {
      counter.tick();
      const handle = openInPlace(plan);
      // Opened truncated: a regular file that failed is left empty, not with a part.
      return handleTarget(plan.name, counter, handle, {
        abort: () => Promise.resolve(handle.emptyIfRegular?.()),
      });
    }
    case "atomic": {
      const base = plan.target.slice(plan.target.lastIndexOf("/") + 1);
      const tempPath = `${
        plan.dir === "/" ? "" : plan.dir
      }/.${base}.spillway-${Deno.pid}-${randomTag()}.tmp`;
      counter.tick();
      const handle = createTempFile(tempPath, plan.mode !== undefined);
      host.addFile(tempPath);
      const finalMode = plan.mode ?? (0o666 & ~processUmask());
      return handleTarget(plan.name, counter, handle, {
        // The part writers start the writeback as they go, new target or not: for a new one,
        // going without it measured neutral to slower (docs/performance.md 'The output path').
        parts: { path: tempPath, offset: 0, writeback: true },
        commit: async () => {
          handle.startTailWriteback?.();
          handle.setMode(finalMode);
          counter.tick();
          // The handle (and with it the owner lock) stays open until the file has its final
          // name: a sweep by another spillway writing into this directory removes a temp file
          // whose lock is free, and would take the finished output away before the rename.
          // A rename over an existing file: on ext4 it writes the new data out before it
          // returns (auto_da_alloc), which keeps a replaced file whole across a power cut.
          await Deno.rename(tempPath, plan.target);
          host.forgetFile(tempPath);
        },
        abort: () => host.deleteFile(tempPath),
      });
    }
  }
}

function handleTarget(
  name: string,
  counter: OperationCounter,
  handle: WriteHandle,
  hooks: {
    commit?: (partBytes: number) => Promise<void>;
    abort?: () => Promise<void>;
    parts?: OutputParts;
  },
): OutputTarget {
  let open = true;
  const close = () => {
    if (open) {
      open = false;
      handle.close();
    }
  };
  return {
    name,
    ...(hooks.parts === undefined ? {} : { parts: hooks.parts }),
    write: (bytes) => {
      try {
        counter.tick();
        const spanMs = timelineStart();
        handle.write(bytes);
        timelineEnd("write-syscall", spanMs);
        return loopTurnDue() ?? Promise.resolve();
      } catch (error) {
        return Promise.reject(error);
      }
    },
    commit: async (partBytes) => {
      if (hooks.commit !== undefined) await hooks.commit(partBytes);
      close();
    },
    abort: async () => {
      try {
        // Before the close: an in-place output is emptied through its descriptor.
        if (hooks.abort !== undefined) await hooks.abort();
      } finally {
        close();
      }
    },
  };
}

/** Standard error (or standard output without libc), written through the runtime's handle. */
function streamHandle(stream: typeof Deno.stdout | typeof Deno.stderr): WriteHandle {
  return {
    write: (bytes) => {
      let done = 0;
      while (done < bytes.length) done += stream.writeSync(bytes.subarray(done));
    },
    setMode: () => {},
    tryLock: () => true,
    close: () => {},
  };
}

/**
 * Standard output. A regular file there (`> f`, `1<> f`, `>> f`) is cut back on abort to where
 * the output started in it ({@linkcode StdoutFile.keepBytes}): a failed run leaves no partial
 * output, and above all no sparse file of key ranges written at their places with holes
 * between (the placed merge). Opened without O_APPEND, it may be written at positions
 * ({@linkcode OutputParts}) and its offset is moved past the output at commit.
 */
function stdoutTarget(name: string, host: OutputTargetHost): OutputTarget {
  const counter = host.counter;
  const handle = LibcHandle.standardOutput();
  if (handle === undefined) return handleTarget(name, counter, streamHandle(Deno.stdout), {});
  const file = stdoutFile();
  if (file === undefined) return handleTarget(name, counter, handle, {});
  const parts = file.append || !linkWritable() ? undefined : {
    path: STDOUT_LINK,
    offset: file.offset,
    writeback: false,
  };
  // A signal ends the process without an abort: cut the file back there too. The merge Worker
  // may be writing a range meanwhile: the file size limit is lowered first, so that no write
  // lands past the cut (a write and the truncate take the file's lock in turn).
  const forget = host.undoOnSignal(() => {
    if (parts !== undefined) limitFileSize(file.keepBytes);
    truncateStdout(file, handle.writtenBytes);
  });
  return handleTarget(name, counter, handle, {
    ...(parts === undefined ? {} : { parts }),
    commit: (partBytes) => {
      forget();
      if (parts !== undefined && partBytes > 0) seekStdout(parts.offset + partBytes);
      return Promise.resolve();
    },
    abort: () => {
      forget();
      truncateStdout(file, handle.writtenBytes);
      return Promise.resolve();
    },
  });
}

/** `RLIMIT_FSIZE`, and the bytes of a `struct rlimit` (soft and hard limit, 64 bits each). */
const RLIMIT_FSIZE = 1;
const RLIMIT_BYTES = 16;

/**
 * Lowers this process's file size limit (the soft `ulimit -f`) to `byteLength`: a write past it
 * on any thread fails with EFBIG (the CLI ignores SIGXFSZ: `ignoreFileSizeSignal`, src/io/libc.ts).
 * Only for a process about to exit.
 */
function limitFileSize(byteLength: number): void {
  withLibc((lib) => {
    const limits = new BigUint64Array(RLIMIT_BYTES / 8);
    const bytes = new Uint8Array(limits.buffer);
    if (lib.getrlimit(RLIMIT_FSIZE, bytes) !== 0 || limits[0]! <= BigInt(byteLength)) return;
    limits[0] = BigInt(byteLength);
    lib.setrlimit(RLIMIT_FSIZE, bytes);
  }, undefined);
}

/** A regular file on standard output, as the output opens (see {@linkcode stdoutFile}). */
interface StdoutFile {
  /** Opened with O_APPEND (`>>`): every write goes to the end; no writes at positions. */
  readonly append: boolean;
  /** The descriptor's offset now: where the output starts in it (unless it appends). */
  readonly offset: number;
  /** The file's size now. */
  readonly sizeBytes: number;
  /**
   * What an abort keeps: the bytes before the output's start (its offset, or for an append the
   * size), and never less than the size now, which is what was there before this output.
   */
  readonly keepBytes: number;
}

/**
 * Standard output when it is a regular file opened for writing, or undefined for anything else
 * (a pipe, a terminal, /dev/null) and without libc or `statx`.
 */
function stdoutFile(): StdoutFile | undefined {
  return withLibc((lib): StdoutFile | undefined => {
    const flags = lib.fcntl(1, F_GETFL);
    if (flags < 0 || (flags & O_ACCMODE) === O_RDONLY) return undefined;
    const info = statFd(lib, 1, STATX_TYPE | STATX_SIZE);
    if (info === undefined || !isRegular(info)) return undefined;
    const sizeBytes = statSize(info);
    const offset = Number(lib.lseek(1, 0n, SEEK_CUR));
    if (offset < 0) return undefined;
    const append = (flags & O_APPEND) !== 0;
    return { append, offset, sizeBytes, keepBytes: Math.max(sizeBytes, append ? 0 : offset) };
  }, undefined);
}

/**
 * Whether this process may open standard output again by its /proc link (what the part
 * writers do: the open checks the file's permissions again).
 */
function linkWritable(): boolean {
  return withLibc((lib) => {
    const fd = lib.open(cString(STDOUT_LINK), O_WRONLY | O_CLOEXEC, 0);
    if (fd < 0) return false;
    lib.close(fd);
    return true;
  }, false);
}

/**
 * Cuts the regular file on standard output back to `file.keepBytes` after a failed output
 * (`ftruncate`), and moves the descriptor's offset back to where the output started, so that a
 * writer after this process in the same redirection goes on there, not after a hole. Best
 * effort: the error that failed the output is the one reported. An append is cut only while the
 * file holds nothing but what was there and what this process wrote: another writer's lines
 * appended meanwhile (a shared log) stay.
 */
function truncateStdout(file: StdoutFile, writtenBytes: number): void {
  withLibc((lib) => {
    if (!file.append) lib.lseek(1, BigInt(file.offset), SEEK_SET);
    const info = statFd(lib, 1, STATX_SIZE);
    if (info === undefined) return;
    const sizeBytes = statSize(info);
    if (sizeBytes <= file.keepBytes) return;
    if (file.append && sizeBytes !== file.keepBytes + writtenBytes) return;
    lib.ftruncate(1, BigInt(file.keepBytes));
  }, undefined);
}

/** `statx(2)` of descriptor `fd` itself for the fields in `mask`; undefined without it or on error. */
function statFd(lib: Libc, fd: number, mask: number): DataView | undefined {
  const info = new Uint8Array(STATX_BYTES);
  if (lib.statx === null || lib.statx(fd, cString(""), AT_EMPTY_PATH, mask, info) !== 0) {
    return undefined;
  }
  return new DataView(info.buffer);
}

/** Whether a {@linkcode statFd} result (with `STATX_TYPE`) is a regular file. */
function isRegular(info: DataView): boolean {
  return (info.getUint16(STATX_MODE_OFFSET, true) & S_IFMT) === S_IFREG;
}

/** The size of a {@linkcode statFd} result (with `STATX_SIZE`). */
function statSize(info: DataView): number {
  return Number(info.getBigUint64(STATX_SIZE_OFFSET, true));
}

/**
 * Moves standard output's offset to `position` (past the parts written at positions), so that
 * a writer after this process in the same redirection goes on where the output ends.
 */
function seekStdout(position: number): void {
  withLibc((lib) => {
    if (Number(lib.lseek(1, BigInt(position), SEEK_SET)) < 0) {
      throw osError(errno(lib), "lseek", "standard output");
    }
  }, undefined);
}

function processUmask(): number {
  try {
    return Deno.umask();
  } catch {
    return 0o022;
  }
}

/** A short random tag for file names. */
export function randomTag(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  let tag = "";
  for (const byte of bytes) tag += byte.toString(36).padStart(2, "0");
  return tag;
}

/**
 * Whether the process that created `path` is gone: its exclusive advisory lock (held from
 * creation until exit, released by the kernel even after `kill -9`) can be taken now. Never
 * follows a symlink; only files of the current user count.
 */
export function ownerLockFree(path: string): boolean {
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(path);
  } catch {
    return false;
  }
  if (!info.isFile || info.uid === null || info.uid !== currentUid()) return false;
  let file: Deno.FsFile | undefined;
  try {
    file = Deno.openSync(path, { read: true });
    const opened = file.statSync();
    if (opened.ino !== info.ino || opened.dev !== info.dev) return false;
    return file.tryLockSync(true);
  } catch {
    return false;
  } finally {
    file?.close();
  }
}

/**
 * Removes output temp files (`.NAME.spillway-PID-TAG.tmp`) in `dir` left by a process that
 * died without cleaning up (`kill -9`): only regular files of the current user whose owner
 * lock is free. Claim files (the same name + `.new`, a process killed while creating its temp
 * file) go too once their lock is free and they are older than a minute.
 */
export async function sweepStaleOutputTemps(dir: string): Promise<void> {
  if (Deno.build.os !== "linux") return;
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && outputTempName(entry.name) !== undefined) names.push(entry.name);
    }
  } catch {
    return; // an unreadable directory: the create reports what matters
  }
  for (const name of names) {
    const path = `${dir === "/" ? "" : dir}/${name}`;
    if (outputTempName(name) === "claim") {
      const info = await Deno.lstat(path).catch(() => undefined);
      if (
        info === undefined || Date.now() - (info.mtime?.getTime() ?? Date.now()) < CLAIM_STALE_MS
      ) {
        continue;
      }
    }
    if (ownerLockFree(path)) await Deno.remove(path).catch(() => {});
  }
}

/** Whether `name` is an output temp file, a claim file for one, or neither. */
function outputTempName(name: string): "temp" | "claim" | undefined {
  if (OUTPUT_TEMP_PATTERN.test(name)) return "temp";
  if (
    name.endsWith(OUTPUT_CLAIM_SUFFIX) &&
    OUTPUT_TEMP_PATTERN.test(name.slice(0, -OUTPUT_CLAIM_SUFFIX.length))
  ) return "claim";
  return undefined;
}

import { readError } from "./line_reader.ts";
import { cString, type Libc, O_CLOEXEC, O_DIRECTORY, O_RDONLY, withLibc } from "./libc.ts";

/**
 * Reads up to `byteCount` bytes from the start of a file (`-` is standard input): for small
 * option files such as `--random-source` (which may be `/dev/urandom`) and `--files0-from`.
 *
 * @param path The file.
 * @param byteCount The most bytes to read.
 * @returns The bytes read (fewer at end of file).
 * @throws {InputError} When the file cannot be opened or read.
 */
export function readFileHead(path: string, byteCount: number): Uint8Array {
  const buffer = new Uint8Array(byteCount);
  let filled = 0;
  let file: Deno.FsFile | undefined;
  try {
    const reader = path === "-" ? Deno.stdin : (file = Deno.openSync(path, { read: true }));
    while (filled < byteCount) {
      const count = reader.readSync(buffer.subarray(filled));
      if (count === null) break;
      filled += count;
    }
  } catch (error) {
    // The wording of every other input (`Cannot read F: no such file or directory`).
    throw readError(path, error);
  } finally {
    file?.close();
  }
  return buffer.subarray(0, filled);
}

/** `RLIMIT_NOFILE` and `F_GETFD` on Linux. */
const RLIMIT_NOFILE = 7;
const F_GETFD = 1;
/** Above this soft limit, open descriptors are not counted one by one. */
const COUNTED_LIMIT_MAX = 65_536;
/** Where `struct linux_dirent64` keeps `d_reclen` (u16) and `d_name`. */
const DIRENT_RECLEN_OFFSET = 16;
const DIRENT_NAME_OFFSET = 19;

/**
 * How many more files this process may open: the soft `ulimit -n` minus the descriptors open
 * now, through libc: `getrlimit`, then the entries of `/proc/self/fd` (`open` + `getdents64`:
 * a few microseconds), or where that fails `fcntl(F_GETFD)` on each descriptor below the limit
 * (~2 ms for a limit of 20000). Deno denies `/proc/self` without --allow-all, so FFI it is.
 * Linux only. It shares the process's libc load (`holdLibc`): a caller about to hold libc anyway
 * takes the hold first, so that libc is loaded once.
 *
 * @returns The count, or undefined where libc or FFI permission is unavailable.
 */
export function fileDescriptorsFree(): number | undefined {
  return withLibc((lib) => {
    const limits = new BigUint64Array(2);
    if (lib.getrlimit(RLIMIT_NOFILE, limits) !== 0) return undefined;
    const soft = Number(limits[0]!);
    if (soft > COUNTED_LIMIT_MAX) return soft - 1024;
    return soft - (openDescriptorsListed(lib) ?? openDescriptorsProbed(lib, soft));
  }, undefined);
}

/** The descriptors open now, from the entries of `/proc/self/fd`; undefined if unreadable. */
function openDescriptorsListed(lib: Libc): number | undefined {
  if (lib.getdents64 === null) return undefined;
  const directory = lib.open(cString("/proc/self/fd"), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (directory < 0) return undefined;
  try {
    const buffer = new Uint8Array(32 * 1024);
    const view = new DataView(buffer.buffer);
    let entries = 0;
    while (true) {
      const filled = Number(lib.getdents64(directory, buffer, BigInt(buffer.length)));
      if (filled < 0) return undefined;
      if (filled === 0) break;
      for (let at = 0; at < filled; at += view.getUint16(at + DIRENT_RECLEN_OFFSET, true)) {
        if (buffer[at + DIRENT_NAME_OFFSET] !== 0x2e) entries += 1; // not "." or ".."
      }
    }
    return entries - 1; // the directory's own descriptor is listed too
  } finally {
    lib.close(directory);
  }
}

/** The descriptors open now, by asking for each one's flags. */
function openDescriptorsProbed(lib: Libc, soft: number): number {
  let open = 0;
  for (let fd = 0; fd < soft; fd += 1) {
    if (lib.fcntl(fd, F_GETFD) !== -1) open += 1;
  }
  return open;
}

/**
 * Creates an empty private file in `$TMPDIR` (or /tmp) for a command's intermediate output
 * (`sort --debug` sorts into it, then annotates it); remove it with
 * {@linkcode removeScratchFile}.
 *
 * @returns Its path.
 */
export function createScratchFile(): string {
  return Deno.makeTempFileSync({ prefix: "spillway-scratch-" });
}

/**
 * Removes a file from {@linkcode createScratchFile}; a missing file is fine.
 *
 * @param path The file.
 */
export function removeScratchFile(path: string): void {
  try {
    Deno.removeSync(path);
  } catch {
    // already gone
  }
}

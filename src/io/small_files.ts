import { InputError } from "../base/mod.ts";

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
    const reason = error instanceof Error ? error.message.split(":")[0] : String(error);
    throw new InputError(`Cannot read ${path}: ${reason}`);
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

/**
 * How many more files this process may open: the soft `ulimit -n` minus the descriptors open
 * now, through libc (`getrlimit`, then `fcntl(F_GETFD)` on each descriptor below the limit).
 * Deno denies `/proc/self` without --allow-all, so FFI it is. Linux only.
 *
 * @returns The count, or undefined where libc or FFI permission is unavailable.
 */
export function fileDescriptorsFree(): number | undefined {
  if (Deno.build.os !== "linux") return undefined;
  let library: Deno.DynamicLibrary<{
    getrlimit: { parameters: ["i32", "buffer"]; result: "i32" };
    fcntl: { parameters: ["i32", "i32"]; result: "i32" };
  }>;
  try {
    library = Deno.dlopen("libc.so.6", {
      getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
      fcntl: { parameters: ["i32", "i32"], result: "i32" },
    });
  } catch {
    return undefined;
  }
  try {
    const limits = new BigUint64Array(2);
    if (library.symbols.getrlimit(RLIMIT_NOFILE, limits) !== 0) return undefined;
    const soft = Number(limits[0]!);
    if (soft > COUNTED_LIMIT_MAX) return soft - 1024;
    let open = 0;
    for (let fd = 0; fd < soft; fd += 1) {
      if (library.symbols.fcntl(fd, F_GETFD) !== -1) open += 1;
    }
    // The library itself holds no descriptor once loaded.
    return soft - open;
  } finally {
    library.close();
  }
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

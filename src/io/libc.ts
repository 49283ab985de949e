/**
 * The few libc functions spillway calls through FFI (Linux only): memory mapping for
 * `--spill mmap`, and plain descriptors for what Deno's file API cannot do: open `/dev/fd/N` and
 * other device paths (Deno asks for --allow-all there), set the mode of an open file, take an
 * advisory lock on a descriptor, tell a closed standard stream from a redirected one, find
 * a regular file on standard output (its type, flags and offset), count the open descriptors
 * (`getrlimit`, `getdents64` of `/proc/self/fd`), hold writes off a file as a signal ends the
 * process (`setrlimit`); `copy_file_range` has a load of its own
 * (src/io/file_copy.ts).
 */

/** `open(2)` flags (Linux, x86_64 and arm64 share them). */
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_ACCMODE = 3;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_NOFOLLOW = 0o400000;
export const O_DIRECTORY = 0o200000;
export const O_CLOEXEC = 0o2000000;

/** `lseek(2)` whence values. */
export const SEEK_SET = 0;
export const SEEK_CUR = 1;

/** `sync_file_range(2)` flag: start writing the range's dirty pages out, do not wait. */
export const SYNC_FILE_RANGE_WRITE = 2;

/** `fallocate(2)` modes: keep the file's size, and free the range's space (a hole). */
export const FALLOC_FL_KEEP_SIZE = 1;
export const FALLOC_FL_PUNCH_HOLE = 2;

const errnoNames: Readonly<Record<number, string>> = {
  1: "EPERM",
  2: "ENOENT",
  5: "EIO",
  6: "ENXIO",
  9: "EBADF",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  17: "EEXIST",
  20: "ENOTDIR",
  21: "EISDIR",
  22: "EINVAL",
  24: "EMFILE",
  27: "EFBIG",
  28: "ENOSPC",
  30: "EROFS",
  32: "EPIPE",
  36: "ENAMETOOLONG",
  40: "ELOOP",
  95: "EOPNOTSUPP",
  122: "EDQUOT",
};

const symbols = {
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  lseek: { parameters: ["i32", "i64", "i32"], result: "i64" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  pwrite: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  fcntl: { parameters: ["i32", "i32"], result: "i32" },
  fchmod: { parameters: ["i32", "u32"], result: "i32" },
  flock: { parameters: ["i32", "i32"], result: "i32" },
  access: { parameters: ["buffer", "i32"], result: "i32" },
  readlink: { parameters: ["buffer", "buffer", "usize"], result: "isize" },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  madvise: { parameters: ["pointer", "usize", "i32"], result: "i32" },
  // The same call on a thread of the runtime's blocking pool: the caller goes on meanwhile.
  madviseAsync: {
    name: "madvise",
    parameters: ["pointer", "usize", "i32"],
    result: "i32",
    nonblocking: true,
  },
  posix_fallocate: { parameters: ["i32", "i64", "i64"], result: "i32" },
  fallocate: { parameters: ["i32", "i32", "i64", "i64"], result: "i32" },
  ftruncate: { parameters: ["i32", "i64"], result: "i32" },
  // Optional (glibc 2.28): without it, standard output is never written at positions.
  statx: { parameters: ["i32", "buffer", "i32", "u32", "buffer"], result: "i32", optional: true },
  // Optional: a libc without it loads all the same (the caller then skips the early writeback).
  sync_file_range: { parameters: ["i32", "i64", "i64", "u32"], result: "i32", optional: true },
  kill: { parameters: ["i32", "i32"], result: "i32" },
  getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  setrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  // Optional (glibc 2.30): without it, open descriptors are counted one `fcntl` at a time.
  getdents64: { parameters: ["i32", "buffer", "usize"], result: "isize", optional: true },
  getuid: { parameters: [], result: "u32" },
  signal: { parameters: ["i32", "pointer"], result: "pointer" },
  ["__errno_location"]: { parameters: [], result: "pointer" },
} as const;

/** The libc functions spillway calls. */
export type Libc = Deno.DynamicLibrary<typeof symbols>["symbols"];

/** The names libc is loaded by, tried in order. */
export const LIBC_NAMES: readonly string[] = ["libc.so.6", "libc.so"];

/** A library loaded by {@linkcode openLibraryWithoutTrampolines}. */
export interface LoadedLibrary<T> {
  /** The load (close it to unload). */
  library: Deno.DynamicLibrary<Deno.ForeignLibraryInterface>;
  /** The symbols, each returning what its declaration says. */
  symbols: T;
}

/** A synchronous symbol whose result is a value: loaded with a struct result. */
type ValueResultFunction = Deno.ForeignFunction & {
  result: Exclude<Deno.NativeType, Deno.NativeStructType>;
};

/**
 * Loads `definitions` from the first library of `names` that opens, each synchronous symbol
 * called through libffi rather than a fast-call trampoline: the load declares its result as a
 * struct of that one value, and the symbol returned decodes it. Why: Deno compiles a trampoline
 * (with Cranelift) for every synchronous symbol at load time, and the compiler's code that this
 * pages in of the executable (~2.3 MiB, resident to the end, in every process that loads a
 * symbol) and the compiles (~1.5 ms a load of 24 symbols, on each thread that loads) cost more
 * than they save: spillway calls libc at most once per block, where libffi's slower call (well
 * under a microsecond) does not show. On x86_64 and arm64 a struct of one integer or pointer
 * comes back in the same register as the value itself, so the call is the same call.
 * Nonblocking symbols (no trampoline) and other results (`void`, floats, bytes) load as declared.
 *
 * @param names The library's names, tried in order (`libc.so.6`, then `libc.so`).
 * @param definitions The symbols, declared as they are in C.
 * @returns The library (close it to unload) and its symbols as declared, or undefined when none
 *   of the names opens.
 */
export function openLibraryWithoutTrampolines<const S extends Deno.ForeignLibraryInterface>(
  names: readonly string[],
  definitions: S,
): LoadedLibrary<Deno.DynamicLibrary<S>["symbols"]> | undefined {
  const declarations = structResultDeclarations(definitions);
  for (const name of names) {
    let library: Deno.DynamicLibrary<Deno.ForeignLibraryInterface>;
    try {
      library = Deno.dlopen(name, declarations);
    } catch {
      continue; // try the next name
    }
    const symbols: Record<string, unknown> = {};
    for (const [symbol, definition] of Object.entries(definitions)) {
      const call = library.symbols[symbol];
      symbols[symbol] = !viaLibffi(definition)
        ? call
        : library.symbols[PRESENCE_PREFIX + symbol] === null
        ? null
        : structResultDecoder(call as (...args: unknown[]) => Uint8Array, definition.result);
    }
    return { library, symbols: symbols as Deno.DynamicLibrary<S>["symbols"] };
  }
  return undefined;
}

/**
 * Prefix of the extra declaration of an optional symbol that tells whether the library has it:
 * Deno (2.9.6) makes a symbol with a struct result a function even when it is missing (and so a
 * nonblocking one), where it gives null for a plain one; a static (its first byte, which Deno
 * reads at load) is null when missing, and builds nothing.
 */
const PRESENCE_PREFIX = "spillway presence of ";

/** `definitions` as loaded: struct results, and a presence declaration per optional symbol. */
function structResultDeclarations(
  definitions: Deno.ForeignLibraryInterface,
): Deno.ForeignLibraryInterface {
  const declarations: Record<string, Deno.ForeignFunction | Deno.ForeignStatic> = {};
  for (const [symbol, definition] of Object.entries(definitions)) {
    if (!viaLibffi(definition)) {
      declarations[symbol] = definition;
      continue;
    }
    declarations[symbol] = { ...definition, result: { struct: [definition.result] } };
    if (definition.optional === true) {
      declarations[PRESENCE_PREFIX + symbol] = {
        name: definition.name ?? symbol,
        type: "u8",
        optional: true,
      };
    }
  }
  return declarations;
}

/** The result types a struct of one value stands in for (the ones spillway's symbols return). */
const STRUCT_RESULT_TYPES: ReadonlySet<unknown> = new Set([
  "i32",
  "u32",
  "i64",
  "u64",
  "isize",
  "usize",
  "pointer",
]);

function viaLibffi(
  definition: Deno.ForeignFunction | Deno.ForeignStatic,
): definition is ValueResultFunction {
  return "parameters" in definition && definition.nonblocking !== true &&
    STRUCT_RESULT_TYPES.has(definition.result);
}

/**
 * `call` with its one-value struct result decoded as `type`, as Deno returns that type (a 64-bit
 * integer as a bigint, a pointer as a pointer object or null).
 */
function structResultDecoder(
  call: (...args: unknown[]) => Uint8Array,
  type: Deno.NativeResultType,
): (...args: unknown[]) => unknown {
  switch (type) {
    case "i32":
      return (...args) => resultView(call(...args)).getInt32(0, true);
    case "u32":
      return (...args) => resultView(call(...args)).getUint32(0, true);
    case "i64":
    case "isize":
      return (...args) => resultView(call(...args)).getBigInt64(0, true);
    case "u64":
    case "usize":
      return (...args) => resultView(call(...args)).getBigUint64(0, true);
    case "pointer":
      return (...args) =>
        Deno.UnsafePointer.create(resultView(call(...args)).getBigUint64(0, true));
    default:
      throw new Error(`unsupported FFI result type for a struct result: ${String(type)}`);
  }
}

function resultView(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The loaded libc, while any user holds it. */
let library: LoadedLibrary<Libc> | undefined;
let libraryUsers = 0;
/** How often this thread has loaded libc (diagnostics: a load costs ~1-3 ms). */
let libraryLoads = 0;

/**
 * How often this thread has loaded libc so far (each load after the last user let go of it:
 * ~1-3 ms, libffi prepares a call per symbol).
 *
 * @returns The loads, 0 before the first.
 */
export function libcLoadCount(): number {
  return libraryLoads;
}

/** Why libc cannot be called here (`needs ...`), or undefined when it can (loads nothing). */
export function libcUnavailableReason(): string | undefined {
  if (
    Deno.build.os !== "linux" || (Deno.build.arch !== "x86_64" && Deno.build.arch !== "aarch64")
  ) {
    return `needs Linux on x86_64 or arm64, not ${Deno.build.os} ${Deno.build.arch}`;
  }
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return "needs the --allow-ffi permission";
  }
  return undefined;
}

/**
 * Loads libc through FFI (reference counted: one load while any user holds it), without fast-call
 * trampolines ({@linkcode openLibraryWithoutTrampolines}).
 *
 * @returns The symbols, or why libc is unusable here (for messages).
 */
export function acquireLibc(): Libc | string {
  const problem = libcUnavailableReason();
  if (problem !== undefined) return problem;
  if (library === undefined) {
    library = openLibraryWithoutTrampolines(LIBC_NAMES, symbols);
    if (library === undefined) return "could not load libc (libc.so.6)";
    libraryLoads += 1;
  }
  libraryUsers += 1;
  return library.symbols;
}

/** Gives back a libc reference from {@linkcode acquireLibc}; unloads it after the last. */
export function releaseLibc(): void {
  if (libraryUsers === 0) return;
  libraryUsers -= 1;
  if (libraryUsers === 0 && library !== undefined) {
    library.library.close();
    library = undefined;
  }
}

/**
 * Keeps libc loaded until the hold is disposed, so that the calls in between share one load
 * (each load costs ~1 ms: libffi prepares a call per symbol). A command holds it
 * for its lifetime; without libc the hold is empty.
 *
 * @returns The hold (idempotent dispose).
 */
export function holdLibc(): Disposable {
  let held = typeof acquireLibc() !== "string";
  return {
    [Symbol.dispose](): void {
      if (!held) return;
      held = false;
      releaseLibc();
    },
  };
}

/** `SIGXFSZ` on Linux (x86_64 and arm64). */
const SIGXFSZ = 25;
/** `SIG_IGN` and `SIG_ERR` as the handlers `signal()` takes and returns. */
const SIG_IGN = 1n;
const SIG_ERR = 0xffff_ffff_ffff_ffffn;

/**
 * Makes a write past the file size limit (`ulimit -f`), on any thread, fail with EFBIG instead
 * of raising SIGXFSZ, whose default action ends the process where it stands (temp files and a
 * partial output left behind): the error then takes the disk-error path (one line, exit 3,
 * everything removed). With libc the signal is ignored (`signal(SIGXFSZ, SIG_IGN)`: the kernel
 * drops it, and children inherit that); without, a runtime listener hears it for the rest of
 * the process. The listener is the weaker guard: the runtime hands a signal to its listeners on
 * a thread of its own, later, and one handed over as the process exits, its listeners gone, met
 * the default action (a sort into `> f` past the limit, 1 run in 10 at load 12).
 *
 * @returns How: `ignored`, `heard`, or `none` (no such signal here).
 */
export function ignoreFileSizeSignal(): "ignored" | "heard" | "none" {
  const lib = acquireLibc();
  if (typeof lib !== "string") {
    try {
      const previous = lib.signal(SIGXFSZ, Deno.UnsafePointer.create(SIG_IGN));
      if (Deno.UnsafePointer.value(previous) !== SIG_ERR) return "ignored";
    } finally {
      releaseLibc();
    }
  }
  try {
    Deno.addSignalListener("SIGXFSZ", () => {});
    return "heard";
  } catch {
    return "none"; // no such signal here (Windows)
  }
}

/**
 * Runs `use` with libc loaded, or returns `fallback` when libc is unavailable.
 *
 * @param use What to call.
 * @param fallback The answer without libc.
 * @returns What `use` returned, or `fallback`.
 */
export function withLibc<T>(use: (lib: Libc) => T, fallback: T): T {
  const lib = acquireLibc();
  if (typeof lib === "string") return fallback;
  try {
    return use(lib);
  } finally {
    releaseLibc();
  }
}

/** The calling thread's `errno`. */
export function errno(lib: Pick<Libc, "__errno_location">): number {
  const location = lib.__errno_location();
  return location === null ? 0 : new Deno.UnsafePointerView(location).getInt32();
}

/** The symbolic name of an errno value (`ENOSPC`), or `errno N`. */
export function errnoName(code: number): string {
  return errnoNames[code] ?? `errno ${code}`;
}

/**
 * An error shaped like Deno's own for an errno (NotFound, PermissionDenied, or an Error with
 * `code` and the `(os error N)` suffix the rest of the io layer recognizes).
 */
export function osError(code: number, action: string, path: string): Error {
  const name = errnoName(code);
  const message = `${action} '${path}' failed: ${name} (os error ${code})`;
  if (code === 2) return Object.assign(new Deno.errors.NotFound(message), { code: name });
  if (code === 13 || code === 1) {
    return Object.assign(new Deno.errors.PermissionDenied(message), { code: name });
  }
  if (code === 32) return Object.assign(new Deno.errors.BrokenPipe(message), { code: name });
  return Object.assign(new Error(message), { code: name });
}

/** `text` as a NUL-terminated C string. */
export function cString(text: string): Uint8Array<ArrayBuffer> {
  const encoded = new TextEncoder().encode(text);
  const result = new Uint8Array(encoded.length + 1);
  result.set(encoded, 0);
  return result;
}

/**
 * Whether process `pid` runs, by `kill(pid, 0)`.
 *
 * @returns true or false, or undefined when FFI is unavailable.
 */
export function processAliveByKill(pid: number): boolean | undefined {
  return withLibc((lib) => {
    if (lib.kill(pid, 0) === 0) return true;
    const code = errno(lib);
    if (code === 3) return false; // ESRCH: no such process
    return code === 1 ? true : undefined; // EPERM: it runs as another user
  }, undefined);
}

/** `madvise(2)` advice: back the range with transparent huge pages where possible. */
const MADV_HUGEPAGE = 14;
/** x86_64 and arm64 (4 KiB base pages) huge page size. */
const HUGE_PAGE_BYTES = 2 * 1024 * 1024;

/**
 * Asks the kernel to back the first `byteLength` bytes of a WebAssembly memory's address range
 * with transparent huge pages (`madvise(MADV_HUGEPAGE)` on the 2 MiB-aligned part; Linux's
 * default THP mode, `madvise`, uses them only where asked). The range may run past the memory's
 * current size into its reserved, not yet grown, part: the advice covers what grows there later.
 * Touching a page still decides what is resident, so RSS follows use, but where the kernel
 * backs a huge page it does so in 2 MiB steps (docs/memory.md gives the cost).
 *
 * Why: the kernels read records at random places in the pool (sort re-keys, gather), and with
 * 4 KiB pages most such reads miss the TLB too (a page walk, costly under virtualization).
 *
 * @returns true when the advice was taken; false without libc, on a kernel without THP, or
 *   when the range holds no whole huge page.
 */
export function adviseHugePages(memory: WebAssembly.Memory, byteLength: number): boolean {
  return withLibc((lib) => {
    try {
      const start = BigInt(
        Deno.UnsafePointer.value(Deno.UnsafePointer.of(new Uint8Array(memory.buffer, 0, 1))),
      );
      const hugeMask = BigInt(HUGE_PAGE_BYTES - 1);
      const first = (start + hugeMask) & ~hugeMask;
      const end = (start + BigInt(byteLength)) & ~hugeMask;
      if (end <= first) return false;
      return lib.madvise(Deno.UnsafePointer.create(first), end - first, MADV_HUGEPAGE) === 0;
    } catch {
      return false; // advice only: a runtime that will not give the address goes without it
    }
  }, false);
}

/** `madvise(2)` advice (Linux 5.14+): fault the range in writable, as a write to each page would. */
const MADV_POPULATE_WRITE = 23;
/** Base page size the populated ranges are trimmed to (x86_64 and arm64 Linux). */
const PAGE_BYTES = 4096;

/** A byte range of a WebAssembly memory. */
export interface MemoryRange {
  /** Where it starts. */
  byteOffset: number;
  /** How long it is. */
  byteLength: number;
}

/** Most populate calls in flight at once (each holds a thread of the blocking pool). */
const PREFAULT_LANES = 4;

/**
 * Faults the given ranges of a WebAssembly memory in, writable, on threads of the runtime's
 * blocking pool (`madvise(MADV_POPULATE_WRITE)`, one call per range), while the caller goes on:
 * a first write to fresh memory makes the kernel zero the page (2 MiB at a time with huge
 * pages), which costs the writing thread more than the write itself, and most on a VM whose
 * host backs the page only then. Up to {@linkcode PREFAULT_LANES} calls run at once, so a few
 * ranges all start at once (a call chained after another waits for the caller's next
 * event-loop turn); more ranges queue in those lanes. The contents stay as they are (a
 * concurrent write is never lost); only what is resident changes, so pass only ranges that will
 * be written soon. Each range is trimmed to whole base pages and must lie inside the memory's
 * current size.
 *
 * @param memory The memory.
 * @param ranges The ranges, the first to be written first.
 * @returns The bytes populated (0 without libc, off Linux or on a kernel older than 5.14).
 */
export async function prefaultMemory(
  memory: WebAssembly.Memory,
  ranges: readonly MemoryRange[],
): Promise<number> {
  const lib = acquireLibc();
  if (typeof lib === "string") return 0;
  try {
    const base = BigInt(
      Deno.UnsafePointer.value(Deno.UnsafePointer.of(new Uint8Array(memory.buffer, 0, 1))),
    );
    const pageMask = BigInt(PAGE_BYTES - 1);
    const pages: { first: bigint; byteLength: bigint }[] = [];
    for (const range of ranges) {
      const first = (base + BigInt(range.byteOffset) + pageMask) & ~pageMask;
      const end = (base + BigInt(range.byteOffset + range.byteLength)) & ~pageMask;
      if (range.byteLength > 0 && end > first) pages.push({ first, byteLength: end - first });
    }
    const lane = async (start: number): Promise<number> => {
      let populatedBytes = 0;
      for (let i = start; i < pages.length; i += PREFAULT_LANES) {
        const { first, byteLength } = pages[i]!;
        const result = await lib.madviseAsync(
          Deno.UnsafePointer.create(first),
          byteLength,
          MADV_POPULATE_WRITE,
        );
        if (result !== 0) break; // EINVAL: a kernel before 5.14; advice only
        populatedBytes += Number(byteLength);
      }
      return populatedBytes;
    };
    const lanes: Promise<number>[] = [];
    for (let i = 0; i < Math.min(PREFAULT_LANES, pages.length); i += 1) lanes.push(lane(i));
    let populatedBytes = 0;
    for (const bytes of await Promise.all(lanes)) populatedBytes += bytes;
    return populatedBytes;
  } catch {
    return 0; // advice only: a runtime that will not give the address goes without it
  } finally {
    releaseLibc();
  }
}

/** The real user id: `Deno.uid()` (needs --allow-sys), else getuid(2), else undefined. */
export function currentUid(): number | undefined {
  try {
    const uid = Deno.uid();
    if (uid !== null) return uid;
  } catch {
    // no --allow-sys
  }
  return withLibc((lib) => lib.getuid(), undefined);
}

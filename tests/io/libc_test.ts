import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import {
  acquireLibc,
  LIBC_NAMES,
  libcUnavailableReason,
  openLibraryWithoutTrampolines,
  releaseLibc,
} from "../../src/io/libc.ts";

const ffi = libcUnavailableReason() === undefined;

function onTmpfs(): boolean {
  try {
    return Deno.statSync("/dev/shm").isDirectory;
  } catch {
    return false;
  }
}

const probe = {
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  lseek: { parameters: ["i32", "i64", "i32"], result: "i64" },
  pwrite: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  getuid: { parameters: [], result: "u32" },
  ["__errno_location"]: { parameters: [], result: "pointer" },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  closeLater: { name: "close", parameters: ["i32"], result: "i32", nonblocking: true },
  getuidIfThere: { name: "getuid", parameters: [], result: "u32", optional: true },
  // Not in libc: an optional symbol stays null, as Deno.dlopen leaves it.
  spillwayNoSuchSymbol: { parameters: [], result: "i32", optional: true },
} as const;

Deno.test({
  name: "openLibraryWithoutTrampolines returns what Deno.dlopen's symbols return",
  ignore: !ffi,
  fn() {
    const plain = Deno.dlopen(LIBC_NAMES[0]!, probe);
    const loaded = openLibraryWithoutTrampolines(LIBC_NAMES, probe);
    ok(loaded !== undefined);
    // On tmpfs (/dev/shm) a file offset may pass 2^53; most other file systems refuse that.
    const dir = Deno.makeTempDirSync(onTmpfs() ? { dir: "/dev/shm" } : {});
    try {
      const [a, b] = [plain.symbols, loaded.symbols];
      strictEqual(b.getuid(), a.getuid());
      strictEqual(b.close(-1), -1); // i32, negative
      strictEqual(b.close(-1), a.close(-1));
      const path = new TextEncoder().encode(`${dir}/f\0`);
      const fd = b.open(path, 0o102, 0o600); // O_RDWR | O_CREAT
      ok(fd >= 0);
      const bytes = new Uint8Array([1, 2, 3, 4, 5]);
      strictEqual(b.pwrite(fd, bytes, 5n, 0n), 5n); // isize
      strictEqual(a.pwrite(fd, bytes, 5n, 0n), 5n);
      strictEqual(b.lseek(fd, 0n, 2), 5n); // i64 (SEEK_END)
      // Past 2^53 too (else EINVAL: -1 on both).
      strictEqual(b.lseek(fd, 2n ** 60n, 0), a.lseek(fd, 2n ** 60n, 0));
      if (onTmpfs()) strictEqual(b.lseek(fd, 2n ** 60n, 0), 2n ** 60n);
      strictEqual(b.lseek(-1, 0n, 0), -1n);
      strictEqual(b.close(fd), 0);
      // Pointers: the same address as the plain load's, and MAP_FAILED (all bits set) for a
      // refused mapping, not null.
      deepStrictEqual(
        Deno.UnsafePointer.value(b.__errno_location()),
        Deno.UnsafePointer.value(a.__errno_location()),
      );
      const failed = b.mmap(null, 4096n, 1, 1, -1, 0n); // PROT_READ, MAP_SHARED, no fd: EBADF
      strictEqual(Deno.UnsafePointer.value(failed), 2n ** 64n - 1n);
      strictEqual(b.getuidIfThere?.(), a.getuid());
      strictEqual(b.spillwayNoSuchSymbol, null);
    } finally {
      plain.close();
      loaded.library.close();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "openLibraryWithoutTrampolines keeps nonblocking symbols asynchronous",
  ignore: !ffi,
  async fn() {
    const loaded = openLibraryWithoutTrampolines(LIBC_NAMES, probe);
    ok(loaded !== undefined);
    try {
      const result = loaded.symbols.closeLater(-1);
      ok(result instanceof Promise);
      strictEqual(await result, -1);
    } finally {
      loaded.library.close();
    }
  },
});

Deno.test({
  name: "libc loads its synchronous symbols with struct results (no fast-call trampolines)",
  ignore: !ffi,
  fn() {
    // Deno compiles a trampoline, paging in ~2.3 MiB of its code generator that stays resident,
    // for each synchronous symbol whose result and parameters are not structs.
    const original = Deno.dlopen;
    const loads: Deno.ForeignLibraryInterface[] = [];
    Deno.dlopen = ((name: string, symbols: Deno.ForeignLibraryInterface) => {
      loads.push(symbols);
      return original(name, symbols);
    }) as typeof Deno.dlopen;
    try {
      ok(typeof acquireLibc() !== "string");
      releaseLibc();
    } finally {
      Deno.dlopen = original;
    }
    strictEqual(loads.length, 1);
    for (const [name, symbol] of Object.entries(loads[0]!)) {
      if (!("parameters" in symbol) || symbol.nonblocking === true) continue;
      const result = symbol.result;
      ok(typeof result === "object" && "struct" in result, `${name}: result ${String(result)}`);
      ok(symbol.parameters.every((type) => typeof type === "string"), name);
    }
  },
});

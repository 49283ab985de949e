import { strictEqual } from "node:assert/strict";
import { prefaultMemory } from "../../src/io/mod.ts";

const MiB = 1024 * 1024;

/** Whether MADV_POPULATE_WRITE can be expected: Linux 5.14 or later, with FFI. */
function populateExpected(): boolean {
  if (Deno.build.os !== "linux") return false;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return false;
  const [major = 0, minor = 0] = Deno.osRelease().split(".").map((part) => parseInt(part, 10));
  return major > 5 || (major === 5 && minor >= 14);
}

/** Resident bytes of the process (Linux), or undefined. */
function residentBytes(): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
    return match === null ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}

Deno.test("prefaultMemory makes the ranges resident and leaves their bytes as they were", async () => {
  const memory = new WebAssembly.Memory({ initial: 512, maximum: 512, shared: true }); // 32 MiB
  const bytes = new Uint8Array(memory.buffer);
  bytes[MiB] = 7; // a byte written before, inside the first range
  bytes[20 * MiB + 5] = 9; // and inside the second
  const before = residentBytes();
  const populated = await prefaultMemory(memory, [
    { byteOffset: MiB, byteLength: 8 * MiB },
    { byteOffset: 20 * MiB, byteLength: 4 * MiB + 100 }, // trimmed to whole pages
  ]);
  if (populateExpected()) {
    strictEqual(populated, 12 * MiB);
    const after = residentBytes();
    if (before !== undefined && after !== undefined) {
      strictEqual(after - before >= 10 * MiB, true, `RSS grew by ${after - before} bytes`);
    }
  } else {
    strictEqual(populated, 0);
  }
  strictEqual(bytes[MiB], 7);
  strictEqual(bytes[20 * MiB + 5], 9);
  strictEqual(bytes[2 * MiB], 0);
});

Deno.test("prefaultMemory skips empty ranges and ranges shorter than a page", async () => {
  const memory = new WebAssembly.Memory({ initial: 16, maximum: 16, shared: true });
  strictEqual(await prefaultMemory(memory, []), 0);
  strictEqual(await prefaultMemory(memory, [{ byteOffset: 4096, byteLength: 0 }]), 0);
  strictEqual(await prefaultMemory(memory, [{ byteOffset: 100, byteLength: 4000 }]), 0);
});

Deno.test("prefaultMemory populates more ranges than it runs at once", async () => {
  const memory = new WebAssembly.Memory({ initial: 256, maximum: 256, shared: true }); // 16 MiB
  const ranges = Array.from({ length: 11 }, (_, i) => ({ byteOffset: i * MiB, byteLength: 4096 }));
  const populated = await prefaultMemory(memory, ranges);
  strictEqual(populated, populateExpected() ? 11 * 4096 : 0);
});

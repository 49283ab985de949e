import { strictEqual } from "node:assert/strict";
import { adviseHugePages } from "../../src/io/mod.ts";

const MiB = 1024 * 1024;

/** Linux's transparent huge page mode (`always`, `madvise`, `never`), or undefined. */
function hugePageMode(): string | undefined {
  try {
    const text = Deno.readTextFileSync("/sys/kernel/mm/transparent_hugepage/enabled");
    return /\[(\w+)\]/.exec(text)?.[1];
  } catch {
    return undefined;
  }
}

Deno.test("adviseHugePages advises a shared memory's reserved range and leaves it usable", () => {
  // 1 page now, 64 MiB reserved: the advice covers the part that grows later too.
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 1024, shared: true });
  const mode = hugePageMode();
  const advised = adviseHugePages(memory, 1024 * 65536);
  const ffi = Deno.permissions.querySync({ name: "ffi" }).state === "granted";
  if (Deno.build.os === "linux" && ffi && mode !== undefined && mode !== "never") {
    strictEqual(advised, true, `THP mode ${mode}: madvise(MADV_HUGEPAGE) should be taken`);
  }
  memory.grow(1023);
  const bytes = new Uint8Array(memory.buffer);
  for (let at = 0; at < bytes.length; at += 4096) bytes[at] = at / 4096;
  for (let at = 0; at < bytes.length; at += 4096) strictEqual(bytes[at], (at / 4096) & 255);
});

Deno.test("adviseHugePages declines a range that holds no whole huge page", () => {
  const memory = new WebAssembly.Memory({ initial: 16, maximum: 16, shared: true });
  strictEqual(adviseHugePages(memory, MiB), false);
  strictEqual(adviseHugePages(memory, 0), false);
});

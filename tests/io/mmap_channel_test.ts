import { strictEqual } from "node:assert/strict";
import { acquireLibc, releaseLibc } from "../../src/io/mmap_channel.ts";
import { withIoTempDir } from "../_support/io_fixtures.ts";

Deno.test("MmapChannel's detach-then-munmap leaves stale views at length 0 without a crash", async () => {
  await withIoTempDir(async (dir) => {
    const libc = acquireLibc();
    if (typeof libc === "string") return; // not Linux or no --allow-ffi: nothing to check
    try {
      const path = `${dir}/window.bin`;
      await Deno.writeFile(path, new Uint8Array(8192).fill(7));
      const file = await Deno.open(path, { read: true });
      file.close();
      const cPath = new TextEncoder().encode(path + "\0");
      const fd = libc.open(cPath, 0, 0);
      strictEqual(fd >= 0, true);
      const pointer = libc.mmap(null, 8192n, 1, 1, fd, 0n);
      const buffer = Deno.UnsafePointerView.getArrayBuffer(pointer!, 8192);
      const view = new Uint8Array(buffer);
      strictEqual(view[100], 7);
      buffer.transfer(0);
      strictEqual(libc.munmap(pointer, 8192n), 0);
      strictEqual(view.length, 0);
      strictEqual(view[100], undefined);
      strictEqual(buffer.detached, true);
      libc.close(fd);
    } finally {
      releaseLibc();
    }
  });
});

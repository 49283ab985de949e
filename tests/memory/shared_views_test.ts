import { deepStrictEqual, ok, rejects, strictEqual, throws } from "node:assert/strict";
import { MemoryManager } from "../../src/memory/mod.ts";

// Segments are views of a SharedArrayBuffer. These are the platform edges spillway relies
// on (they must accept such views without a copy) and the ones that refuse them (any future
// use must copy first, with `slice()`, which makes a plain ArrayBuffer copy).

function withPage(body: (bytes: Uint8Array) => Promise<void> | void): Promise<void> | void {
  const memory = new MemoryManager({ budgetBytes: 8 * 4096, segmentBytes: 4096 });
  const lease = memory.allocate("edge", 1);
  const finish = () => {
    lease.release();
    memory.assertAllReleased();
  };
  const pending = body(lease.segments[0]!.bytes);
  if (pending === undefined) return finish();
  return pending.then(finish);
}

Deno.test("Deno file reads and writes take views of the shared memory directly", async () => {
  const path = await Deno.makeTempFile();
  try {
    await withPage(async (bytes) => {
      ok(bytes.buffer instanceof SharedArrayBuffer);
      bytes.set(new TextEncoder().encode("spillway\n"));
      using file = await Deno.open(path, { write: true, read: true });
      strictEqual(file.writeSync(bytes.subarray(0, 4)), 4);
      strictEqual(await file.write(bytes.subarray(4, 9)), 5);
      file.seekSync(0, Deno.SeekMode.Start);
      bytes.fill(0, 0, 9);
      strictEqual(file.readSync(bytes.subarray(0, 4)), 4);
      strictEqual(await file.read(bytes.subarray(4, 9)), 5);
      strictEqual(new TextDecoder().decode(bytes.subarray(0, 9)), "spillway\n");
    });
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("TextEncoder.encodeInto and TextDecoder.decode accept views of the shared memory", () =>
  withPage((bytes) => {
    const { written } = new TextEncoder().encodeInto("größe", bytes);
    strictEqual(written, 7);
    strictEqual(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(0, 7)), "größe");
  }));

Deno.test("crypto.subtle and Blob refuse shared views; slice() copies to a plain buffer", () =>
  withPage(async (bytes) => {
    bytes.set([1, 2, 3]);
    const shared = bytes.subarray(0, 3) as unknown as Uint8Array<ArrayBuffer>; // the types forbid it too
    await rejects(() => crypto.subtle.digest("SHA-256", shared), TypeError);
    throws(() => new Blob([shared]), TypeError);
    const copy = bytes.slice(0, 3);
    ok(copy.buffer instanceof ArrayBuffer && !(copy.buffer instanceof SharedArrayBuffer));
    strictEqual((await crypto.subtle.digest("SHA-256", copy)).byteLength, 32);
    deepStrictEqual([...new Uint8Array(await new Blob([copy]).arrayBuffer())], [1, 2, 3]);
  }));

import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { CorruptSpillError, RunBlockReader } from "../../src/io/mod.ts";
import { ioWriteRun, openIoForTest, withIoTempDir } from "../_support/io_fixtures.ts";

function patterned(length: number, salt: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i += 1) bytes[i] = (i * 31 + salt * 7) & 0xff;
  return bytes;
}

/** Every payload of a run, as RunBlockReader reads them. */
function payloadsOf(path: string, blockBytes: number): Uint8Array[] {
  const reader = new RunBlockReader(path, blockBytes);
  const block = new Uint8Array(blockBytes);
  const payloads: Uint8Array[] = [];
  try {
    while (reader.next(block)) {
      strictEqual(reader.blockIndex, payloads.length);
      payloads.push(block.slice(reader.payloadStart, reader.payloadEnd));
    }
    ok(reader.isLastBlock, "the reader ended without the last-block flag");
  } finally {
    reader.close();
  }
  return payloads;
}

/** Decodes `varint length + bytes` records from concatenated payloads. */
function decode(payloads: readonly Uint8Array[]): Uint8Array[] {
  const all = new Uint8Array(payloads.reduce((sum, payload) => sum + payload.length, 0));
  let at = 0;
  for (const payload of payloads) {
    all.set(payload, at);
    at += payload.length;
  }
  const records: Uint8Array[] = [];
  for (let i = 0; i < all.length;) {
    let length = 0;
    let scale = 1;
    for (;;) {
      const byte = all[i]!;
      i += 1;
      length += (byte & 127) * scale;
      if (byte < 128) break;
      scale *= 128;
    }
    records.push(all.slice(i, i + length));
    i += length;
  }
  return records;
}

Deno.test("RunBlockReader reads back the records a RunWriter wrote, block by block", async () => {
  await withIoTempDir(async (dir) => {
    const { memory, io } = await openIoForTest(dir);
    const segmentBytes = memory.segmentBytes;
    // Empty records, short ones, and some longer than a block (they span blocks).
    const records = Array.from(
      { length: 400 },
      (_, i) => patterned(i % 50 === 0 ? segmentBytes * 2 + i : i % 7 === 0 ? 0 : 20 + (i % 90), i),
    );
    const run = await ioWriteRun(io, records);
    const payloads = payloadsOf(run.path, segmentBytes);
    strictEqual(payloads.length, Math.ceil((run.byteLength - 4096) / segmentBytes));
    deepStrictEqual(decode(payloads), records);
    await io.close();
    memory.assertAllReleased();
  });
});

Deno.test("RunBlockReader detects a flipped byte, a truncation and a foreign segment size", async () => {
  await withIoTempDir(async (dir) => {
    const { memory, io } = await openIoForTest(dir);
    const records = Array.from({ length: 300 }, (_, i) => patterned(50 + (i % 70), i));
    const run = await ioWriteRun(io, records);
    const original = await Deno.readFile(run.path);
    const readAll = () => payloadsOf(run.path, 4096);
    const corrupt = (pattern: RegExp) => (error: unknown) => {
      ok(error instanceof CorruptSpillError, String(error));
      ok(pattern.test(error.message), error.message);
      strictEqual(error.exitCode, 3);
      strictEqual(error.path, run.path);
      return true;
    };
    const cases: Array<[number, RegExp]> = [
      [3, /at its header: magic expected SPILLWAY/],
      [17, /at its header: CRC32C expected/],
      [4096 + 2, /at block 0: payload length expected at most 4080/],
      [4096 + 20, /at block 0: CRC32C expected 0x[0-9a-f]{8}, found 0x[0-9a-f]{8}/],
      [4096 * 2 + 8, /at block 1: CRC32C expected/],
      [original.length - 4096 + 100, /at block \d+: CRC32C expected/],
    ];
    for (const [offset, pattern] of cases) {
      const damaged = original.slice();
      damaged[offset] = damaged[offset]! ^ 0x40;
      await Deno.writeFile(run.path, damaged);
      throws(readAll, corrupt(pattern));
    }
    await Deno.writeFile(run.path, original.subarray(0, original.length - 1));
    throws(readAll, corrupt(/: length expected 4096 bytes, found 4095 bytes \(truncated\)/));
    await Deno.writeFile(run.path, original.subarray(0, original.length - 4096));
    throws(
      readAll,
      corrupt(/: block expected a block with the last-block flag, found end of file/),
    );
    await Deno.writeFile(run.path, original.subarray(0, 10));
    throws(readAll, corrupt(/at its header: length expected 4096 bytes, found 10 bytes/));
    await Deno.writeFile(run.path, original);
    throws(() => payloadsOf(run.path, 8192), corrupt(/segment size expected 8192 bytes/));
    deepStrictEqual(decode(readAll()), records);
    await io.close();
    memory.assertAllReleased();
  });
});

Deno.test("RunBlockReader throws the file system's error for a missing run", () => {
  throws(
    () => new RunBlockReader("/nonexistent/spillway-run.spill", 4096),
    (error: unknown) => error instanceof Deno.errors.NotFound,
  );
});

Deno.test("RunBlockReader releases the file space of the blocks it is told are read", async () => {
  await withIoTempDir(async (dir) => {
    const { memory, io } = await openIoForTest(dir);
    const segmentBytes = memory.segmentBytes;
    // About 3 MiB of blocks: the first 2 MiB released block by block, the rest kept.
    const records = Array.from({ length: 3000 }, (_, i) => patterned(1000 + (i % 50), i));
    const run = await ioWriteRun(io, records);
    const blockCount = Math.ceil((run.byteLength - 4096) / segmentBytes);
    const releasedCount = Math.floor((2 * 1024 * 1024) / segmentBytes);
    const allocatedBefore = Deno.statSync(run.path).blocks! * 512;
    const reader = new RunBlockReader(run.path, segmentBytes);
    const block = new Uint8Array(segmentBytes);
    const payloads: Uint8Array[] = [];
    try {
      while (reader.next(block)) {
        payloads.push(block.slice(reader.payloadStart, reader.payloadEnd));
        const index = reader.blockIndex;
        if (index < releasedCount) reader.releaseBlocks(index, index + 1);
      }
    } finally {
      reader.close();
    }
    deepStrictEqual(decode(payloads), records);
    strictEqual(payloads.length, blockCount);
    const stat = Deno.statSync(run.path);
    strictEqual(stat.size, run.byteLength, "the file keeps its size");
    const allocatedAfter = stat.blocks! * 512;
    // Punched in batches of 1 MiB: both full batches are gone, the kept blocks are not.
    strictEqual(allocatedBefore - allocatedAfter, releasedCount * segmentBytes);
    // The blocks not released still read back and check.
    const again = new RunBlockReader(run.path, segmentBytes);
    try {
      again.seek(releasedCount);
      let index = releasedCount;
      while (again.next(block)) {
        deepStrictEqual(block.slice(again.payloadStart, again.payloadEnd), payloads[index]);
        index += 1;
      }
      strictEqual(index, blockCount);
    } finally {
      again.close();
    }
    await io.deleteRun(run);
    await io.close();
    memory.assertAllReleased();
  });
});

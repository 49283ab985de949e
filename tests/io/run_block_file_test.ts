import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { RunBlockFile } from "../../src/io/mod.ts";
import { ioReadAll, ioWriteRun, openIoForTest, withIoTempDir } from "../_support/io_fixtures.ts";

/** Records of varied lengths, some across block borders. */
function records(count: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i += 1) {
    const record = new Uint8Array((i * 37) % 900);
    for (let j = 0; j < record.length; j += 1) record[j] = (i + j * 13) & 0xff;
    out.push(record);
  }
  return out;
}

Deno.test("RunWriter adopts sealed blocks another writer put into its file", async () => {
  await withIoTempDir(async (dir) => {
    const { memory, io } = await openIoForTest(dir);
    strictEqual(io.runsWritableElsewhere, true);
    const written = records(300);
    // A run written the usual way supplies real sealed blocks (header, CRC, last flag).
    const source = await ioWriteRun(io, written);
    const file = await Deno.readFile(source.path);
    const headerBytes = 4096;
    const blockCount = (file.length - headerBytes) / memory.segmentBytes;
    strictEqual(Number.isInteger(blockCount) && blockCount > 2, true);

    const writer = await io.createRunWriter("adopted");
    const blocks = new RunBlockFile(writer.path, memory.segmentBytes);
    try {
      for (let b = 0; b < blockCount; b += 1) {
        const at = headerBytes + b * memory.segmentBytes;
        blocks.write(file.subarray(at, at + memory.segmentBytes));
      }
      throws(() => blocks.write(new Uint8Array(10)), /one segment long/);
    } finally {
      blocks.close();
    }
    strictEqual(blocks.blockCount, blockCount);
    writer.adoptBlocks(blockCount, written.length);
    const run = await writer.finish();
    strictEqual(run.recordCount, written.length);
    strictEqual(run.byteLength, file.length);
    deepStrictEqual(await Deno.readFile(run.path), file);
    deepStrictEqual(await ioReadAll(io, run), written);
    await io.close();
    memory.assertAllReleased();
  });
});

Deno.test("runsWritableElsewhere is false for mmap spills and with a fault planned", async () => {
  await withIoTempDir(async (dir) => {
    const mmap = await openIoForTest(dir, { spillMode: "mmap" });
    strictEqual(mmap.io.runsWritableElsewhere, false);
    await mmap.io.close();
    const faulty = await openIoForTest(dir, { faultInjection: { failAtOperation: 3 } });
    strictEqual(faulty.io.runsWritableElsewhere, false);
    await faulty.io.close();
  });
});

import { SpillwayError } from "../../src/base/mod.ts";
import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import fc from "fast-check";
import { CorruptSpillError, SpillDiskError, SpillReadError } from "../../src/io/mod.ts";
import {
  ioListFiles,
  ioReadAll,
  ioTestSeed,
  ioWriteRun,
  openIoForTest,
  withIoTempDir,
} from "../_support/io_fixtures.ts";
import { assertBlockStarts, spillFileBlocks } from "../_support/block_starts.ts";

const modes = ["file", "mmap"] as const;

function patterned(length: number, salt: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i += 1) bytes[i] = (i * 31 + salt * 7) & 0xff;
  return bytes;
}

for (const spillMode of modes) {
  Deno.test(`RunWriter round-trips hand-picked records over the ${spillMode} channel`, async () => {
    await withIoTempDir(async (dir) => {
      const { memory, io } = await openIoForTest(dir, { spillMode });
      const segmentBytes = memory.segmentBytes;
      const lengths = [
        0,
        1,
        127,
        128,
        segmentBytes - 17,
        segmentBytes - 16,
        segmentBytes,
        segmentBytes * 3 + 5,
        0,
        200_000,
        2,
      ];
      const records = lengths.map((length, index) => patterned(length, index));
      const run = await ioWriteRun(io, records);
      strictEqual(run.recordCount, records.length);
      strictEqual((await Deno.stat(run.path)).size, run.byteLength);
      deepStrictEqual(await ioReadAll(io, run), records);
      await io.deleteRun(run);
      await io.close();
      memory.assertAllReleased();
      deepStrictEqual(ioListFiles(dir), []);
    });
  });

  Deno.test(`RunWriter writes an empty run over the ${spillMode} channel`, async () => {
    await withIoTempDir(async (dir) => {
      const { memory, io } = await openIoForTest(dir, { spillMode });
      const run = await ioWriteRun(io, []);
      strictEqual(run.recordCount, 0);
      deepStrictEqual(await ioReadAll(io, run), []);
      await io.close();
      memory.assertAllReleased();
      deepStrictEqual(ioListFiles(dir), []);
    });
  });

  Deno.test(`RunWriter round-trips random records over random segment sizes (${spillMode})`, async () => {
    const seed = ioTestSeed(`run round trip ${spillMode}`);
    await withIoTempDir(async (dir) => {
      const lengthArbitrary = fc.oneof(
        { weight: 6, arbitrary: fc.integer({ min: 0, max: 40 }) },
        { weight: 2, arbitrary: fc.integer({ min: 100, max: 5000 }) },
        { weight: 1, arbitrary: fc.constantFrom(4080, 4096, 8192 - 16, 8192) },
        { weight: 1, arbitrary: fc.integer({ min: 5000, max: 70_000 }) },
      );
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(lengthArbitrary, fc.integer({ min: 0, max: 255 })), {
            maxLength: 120,
          }),
          fc.constantFrom(4096, 8192, 16384),
          fc.integer({ min: 0, max: 3 }),
          fc.integer({ min: 0, max: 3 }),
          async (specs, segmentBytes, writeBehind, readAhead) => {
            const { memory, io } = await openIoForTest(dir, {
              spillMode,
              segmentBytes,
              budgetBytes: 64 * segmentBytes,
              mmapWindowBytes: 2 * segmentBytes,
            });
            try {
              const records = specs.map(([length, salt]) => patterned(length, salt));
              const run = await ioWriteRun(io, records, { writeBehindSegments: writeBehind });
              deepStrictEqual(
                await ioReadAll(io, run, { readAheadSegments: readAhead }),
                records,
              );
            } finally {
              await io.close();
            }
            memory.assertAllReleased();
          },
        ),
        { seed, numRuns: 40 },
      );
      deepStrictEqual(ioListFiles(dir), []);
    });
  });

  Deno.test(`RunReader detects a flipped byte in any block (${spillMode})`, async () => {
    await withIoTempDir(async (dir) => {
      const { memory, io } = await openIoForTest(dir, { spillMode });
      const records = Array.from({ length: 300 }, (_, i) => patterned(50 + (i % 70), i));
      const run = await ioWriteRun(io, records);
      const original = await Deno.readFile(run.path);
      const blockCount = (original.length - 4096) / 4096;
      ok(blockCount >= 3, `expected several blocks, got ${blockCount}`);
      for (const offset of [3, 4096 + 2, 4096 + 20, 4096 * 2 + 100, original.length - 4096 + 17]) {
        const damaged = original.slice();
        damaged[offset] = damaged[offset]! ^ 0x40;
        await Deno.writeFile(run.path, damaged);
        await rejects(() => ioReadAll(io, run), (error: unknown) => {
          ok(error instanceof CorruptSpillError, String(error));
          ok(error.message.startsWith(`Corrupt spill file ${run.path} at `), error.message);
          ok(/expected .+, found /.test(error.message), error.message);
          strictEqual(error.exitCode, 3);
          return true;
        });
      }
      await io.close();
      memory.assertAllReleased();
      deepStrictEqual(ioListFiles(dir), []);
    });
  });

  Deno.test(`RunReader detects a truncated run (${spillMode})`, async () => {
    await withIoTempDir(async (dir) => {
      const { memory, io } = await openIoForTest(dir, { spillMode });
      const records = Array.from({ length: 300 }, (_, i) => patterned(60, i));
      const run = await ioWriteRun(io, records);
      const original = await Deno.readFile(run.path);
      for (const keep of [10, 4096, 4096 + 4096, original.length - 4096, original.length - 1]) {
        await Deno.writeFile(run.path, original.subarray(0, keep));
        await rejects(() => ioReadAll(io, run), (error: unknown) => {
          ok(error instanceof CorruptSpillError, String(error));
          return true;
        });
      }
      await io.close();
      memory.assertAllReleased();
    });
  });

  Deno.test(`RunWriter removes its file after an injected write error (${spillMode})`, async () => {
    await withIoTempDir(async (dir) => {
      for (const failAtOperation of [1, 2, 3, 5, 9]) {
        const fault = Object.assign(new Error("No space left on device (os error 28)"), {
          code: "ENOSPC",
        });
        const { memory, io } = await openIoForTest(dir, {
          spillMode,
          faultInjection: { failAtOperation, error: fault },
        });
        const records = Array.from({ length: 400 }, (_, i) => patterned(100, i));
        await rejects(() => ioWriteRun(io, records), (error: unknown) => {
          ok(error instanceof SpillDiskError, `op ${failAtOperation}: ${error}`);
          ok(error.message.startsWith(`Cannot write `), error.message);
          ok(error.message.includes(` of spill data to ${dir}: ENOSPC`), error.message);
          ok(error.message.endsWith("free space there or point -T/--tmp-dir elsewhere"));
          strictEqual(error.exitCode, 3);
          return true;
        });
        deepStrictEqual(io.liveFiles, []);
        memory.assertAllReleased();
        await io.close();
        deepStrictEqual(ioListFiles(dir), []);
      }
    });
  });

  Deno.test(`RunReader fails cleanly on an injected read error (${spillMode})`, async () => {
    await withIoTempDir(async (dir) => {
      // ops: 1 create, 2 header write, 3..5 block writes, 6 truncate, 7 open, 8 header read
      const { memory, io } = await openIoForTest(dir, {
        spillMode,
        faultInjection: { failAtOperation: 10 },
      });
      const records = Array.from({ length: 100 }, (_, i) => patterned(100, i));
      const run = await ioWriteRun(io, records);
      await rejects(() => ioReadAll(io, run), (error: unknown) => {
        // A read error is not a lack of space: no "free space there" advice.
        ok(error instanceof SpillReadError, String(error));
        ok(error.message.startsWith(`Cannot read `), error.message);
        ok(error.message.includes(": EIO ("), error.message);
        ok(
          error.message.endsWith("the temp disk may be failing, rerun with -T/--tmp-dir elsewhere"),
        );
        strictEqual(error.exitCode, 3);
        return true;
      });
      await io.close();
      memory.assertAllReleased();
      deepStrictEqual(ioListFiles(dir), []);
    });
  });
  Deno.test(`Every injected fault in a write and read-back is a spillway error (${spillMode})`, async () => {
    // Whatever operation fails (open, write, read, ...), the CLI must get an error with an exit
    // code (a SpillwayError), never a plain Error it would call an internal error.
    await withIoTempDir(async (dir) => {
      const records = Array.from({ length: 100 }, (_, i) => patterned(100, i));
      for (let failAtOperation = 1; failAtOperation <= 12; failAtOperation += 1) {
        const { memory, io } = await openIoForTest(dir, {
          spillMode,
          faultInjection: { failAtOperation },
        });
        try {
          const run = await ioWriteRun(io, records);
          await ioReadAll(io, run);
        } catch (error) {
          ok(error instanceof SpillwayError, `operation ${failAtOperation}: ${error}`);
        }
        await io.close();
        memory.assertAllReleased();
        deepStrictEqual(ioListFiles(dir), []);
      }
    });
  });
}

Deno.test("RunWriter rejects a record range outside its bytes and removes its file", async () => {
  await withIoTempDir(async (dir) => {
    const { memory, io } = await openIoForTest(dir);
    const writer = await io.createRunWriter("sort");
    const bytes = patterned(100, 3);
    await rejects(async () => {
      const pending = writer.writeRecord(bytes, 90, 20);
      if (pending) await pending;
    }, /record range \[90, \+20\) exceeds 100 bytes/);
    deepStrictEqual(io.liveFiles, []);
    memory.assertAllReleased();
    await io.close();
    deepStrictEqual(ioListFiles(dir), []);
  });
});

Deno.test("IoManager.close aborts an unfinished writer and removes its file", async () => {
  await withIoTempDir(async (dir) => {
    const { memory, io } = await openIoForTest(dir);
    const writer = await io.createRunWriter("sort");
    const record = patterned(3000, 1);
    for (let i = 0; i < 10; i += 1) {
      const pending = writer.writeRecord(record, 0, record.length);
      if (pending) await pending;
    }
    strictEqual(io.liveFiles.length, 1);
    await io.close();
    memory.assertAllReleased();
    deepStrictEqual(ioListFiles(dir), []);
  });
});

Deno.test("RunWriter spreads runs round-robin over the temp dirs", async () => {
  await withIoTempDir(async (dir) => {
    const dirA = `${dir}/a`;
    const dirB = `${dir}/b`;
    await Deno.mkdir(dirA);
    await Deno.mkdir(dirB);
    const { memory, io } = await openIoForTest(dir, { tmpDirs: [dirA, dirB] });
    const runs = [];
    for (let i = 0; i < 4; i += 1) runs.push(await ioWriteRun(io, [patterned(10, i)]));
    const parents = runs.map((run) => run.path.slice(0, run.path.lastIndexOf("/")));
    strictEqual(parents[0], parents[2]);
    strictEqual(parents[1], parents[3]);
    ok(parents[0] !== parents[1]);
    ok(parents[0]!.startsWith(`${dirA}/spillway-${Deno.pid}-`));
    ok(parents[1]!.startsWith(`${dirB}/spillway-${Deno.pid}-`));
    ok(/\/test\.000001\.spill$/.test(runs[0]!.path), runs[0]!.path);
    strictEqual((await Deno.stat(runs[0]!.path)).mode! & 0o777, 0o600);
    strictEqual((await Deno.stat(parents[0]!)).mode! & 0o777, 0o700);
    await io.close();
    memory.assertAllReleased();
    deepStrictEqual(ioListFiles(dir), ["a/", "b/"]);
  });
});

Deno.test("RunWriter.writeRecordParts writes a record in two parts as one, across blocks", async () => {
  await withIoTempDir(async (dir) => {
    const { memory, io } = await openIoForTest(dir);
    const segmentBytes = memory.segmentBytes;
    // Parts of every size class: empty, short, a block, many blocks (with 1 write-behind).
    const splits: Array<[number, number]> = [
      [0, 0],
      [0, 8],
      [5, 8],
      [segmentBytes - 20, 8],
      [8, segmentBytes * 3 + 1],
      [200_000, 8],
      [3, 0],
    ];
    const records = splits.map(([first, second], index) => patterned(first + second, index));
    const writer = await io.createRunWriter("parts", { writeBehindSegments: 1 });
    for (let index = 0; index < records.length; index += 1) {
      const record = records[index]!;
      const first = splits[index]![0];
      // The parts come from different buffers, as a word and its count do.
      const head = new Uint8Array(first + 3);
      head.set(record.subarray(0, first), 3);
      const tail = record.slice(first);
      await writer.writeRecordParts(head, 3, first, tail, 0, tail.length);
      const pending = writer.writeRecord(record, 0, record.length); // then the same, in one
      if (pending) await pending;
    }
    const run = await writer.finish();
    strictEqual(run.recordCount, 2 * records.length);
    ok((run.spanningRecordBytesMax ?? 0) >= 200_008);
    deepStrictEqual(await ioReadAll(io, run), records.flatMap((record) => [record, record]));
    // A record across blocks is assembled in pages of the shared memory (no heap copy).
    const reader = await io.openRunReader(run);
    try {
      let longest = 0;
      for (let more = await reader.next(); more; more = await reader.next()) {
        if (reader.recordLength > longest) {
          longest = reader.recordLength;
          ok(reader.recordBytes.buffer instanceof SharedArrayBuffer, `${longest} bytes`);
        }
      }
    } finally {
      await reader.close();
    }
    await io.deleteRun(run);
    await io.close();
    memory.assertAllReleased();
    deepStrictEqual(ioListFiles(dir), []);
  });
});

Deno.test("RunWriter marks in each block where its first record starts (records and record parts)", async () => {
  await withIoTempDir(async (dir) => {
    const { memory, io } = await openIoForTest(dir, { spillMode: "file" });
    const segmentBytes = memory.segmentBytes;
    const seed = ioTestSeed("RunWriter block starts");
    const lengthArb = fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 0, max: 40 }) },
      { weight: 2, arbitrary: fc.integer({ min: 100, max: 300 }) },
      { weight: 1, arbitrary: fc.integer({ min: segmentBytes - 40, max: segmentBytes + 40 }) },
      { weight: 1, arbitrary: fc.integer({ min: 2 * segmentBytes, max: 3 * segmentBytes }) },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(lengthArb, fc.boolean()), { maxLength: 120 }),
        async (specs) => {
          const writer = await io.createRunWriter("test");
          for (const [length, parts] of specs) {
            const record = patterned(length, length);
            if (parts) {
              const cut = length >>> 1;
              await writer.writeRecordParts(record, 0, cut, record, cut, length - cut);
            } else {
              const pending = writer.writeRecord(record, 0, length);
              if (pending) await pending;
            }
          }
          const run = await writer.finish();
          const blocks = spillFileBlocks(await Deno.readFile(run.path), segmentBytes);
          assertBlockStarts(blocks, `${specs.length} records, seed ${seed}`);
          await io.deleteRun(run);
        },
      ),
      { seed, numRuns: 40 },
    );
    await io.close();
    memory.assertAllReleased();
  });
});

Deno.test("RunWriter.writeRecords appends encoded records into the block's room, mixed with writeRecord", async () => {
  await withIoTempDir(async (dir) => {
    const { memory, io } = await openIoForTest(dir, { spillMode: "file" });
    const segmentBytes = memory.segmentBytes;
    const records = Array.from(
      { length: 400 },
      (_, i) => patterned(i % 7 === 0 ? 300 + i : i % 50, i),
    );
    const encode = (record: Uint8Array) => {
      const head = record.length < 128 ? [record.length] : [
        (record.length & 127) | 128,
        record.length >>> 7,
      ];
      return Uint8Array.from([...head, ...record]);
    };
    const writer = await io.createRunWriter("test");
    try {
      // Runs of records that fit the room go in one copy; the record that does not (or every
      // fifth one) goes through writeRecord and may span two blocks.
      let i = 0;
      while (i < records.length) {
        const parts: Uint8Array[] = [];
        let bytes = 0;
        while (i < records.length && i % 5 !== 4) {
          const encoded = encode(records[i]!);
          if (bytes + encoded.length > writer.blockRoom) break;
          parts.push(encoded);
          bytes += encoded.length;
          i += 1;
        }
        const chunk = new Uint8Array(bytes + 3);
        let at = 3; // not at offset 0 of its buffer
        for (const part of parts) {
          chunk.set(part, at);
          at += part.length;
        }
        writer.writeRecords(chunk, 3, bytes, parts.length);
        if (i < records.length) {
          const pending = writer.writeRecord(records[i]!, 0, records[i]!.length);
          if (pending) await pending;
          i += 1;
        }
      }
      strictEqual(writer.recordCount, records.length);
      ok(writer.blockRoom >= 0 && writer.blockRoom <= segmentBytes - 16);
      const run = await writer.finish();
      deepStrictEqual(await ioReadAll(io, run), records);
      assertBlockStarts(spillFileBlocks(await Deno.readFile(run.path), segmentBytes), "mixed");
      await io.deleteRun(run);
    } finally {
      await writer.abort();
    }
    await io.close();
    memory.assertAllReleased();
    deepStrictEqual(ioListFiles(dir), []);
  });
});

Deno.test("RunReader assembles records across block borders in a page of the budget, not the heap", async () => {
  await withIoTempDir(async (dir) => {
    const { memory, io } = await openIoForTest(dir, { budgetBytes: 256 * 4096 });
    const segmentBytes = memory.segmentBytes;
    // Short records of 1 + 10 bytes: one crosses nearly every border of the 4 KiB blocks.
    const records = Array.from({ length: 3000 }, (_, index) => patterned(10, index));
    const runCount = 24;
    const runs = [];
    for (let i = 0; i < runCount; i += 1) runs.push(await ioWriteRun(io, records));
    const readers = [];
    for (const run of runs) {
      readers.push(await io.openRunReader(run, { owner: "merge-in", readAheadSegments: 1 }));
    }
    let crossed = 0;
    for (const record of records) {
      for (const reader of readers) {
        let more = reader.next();
        if (more instanceof Promise) more = await more;
        ok(more);
        const view = reader.recordBytes.subarray(reader.recordOffset, reader.recordOffset + 10);
        deepStrictEqual(view, record);
        if (reader.recordOffset === 0) crossed += 1;
      }
      // A heap scratch of a segment per reader (24 x 4 KiB here, 62 x 128 KiB in an
      // intermediate pass of a 4 GiB sort) lay outside the pages: nothing is reserved beside
      // them, and each reader holds at most its block, its read-ahead and one scratch page.
      strictEqual(memory.reservedBytes, 0);
      ok(memory.holdings().get("merge-in")! <= runCount * 3);
    }
    ok(crossed >= runCount * Math.floor((records.length * 11) / segmentBytes) / 2);
    for (const reader of readers) await reader.close();
    for (const run of runs) await io.deleteRun(run);
    await io.close();
    memory.assertAllReleased();
    deepStrictEqual(ioListFiles(dir), []);
  });
});

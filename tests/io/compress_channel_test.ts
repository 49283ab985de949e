import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { CompressProgramError } from "../../src/io/mod.ts";
import { ioListFiles, ioReadAll, openIoForTest, withIoTempDir } from "../_support/io_fixtures.ts";

const encoder = new TextEncoder();

/** Records of many lengths: short, two-byte varints, and ones spanning several 4 KiB blocks. */
function sampleRecords(): Uint8Array[] {
  const records: Uint8Array[] = [];
  for (let i = 0; i < 3000; i += 1) {
    const length = i % 97 === 0 ? 5000 + i : i % 13 === 0 ? 300 : i % 7;
    const record = new Uint8Array(length);
    for (let j = 0; j < length; j += 1) record[j] = (i * 31 + j * 7) & 0xff;
    records.push(record);
  }
  records.push(new Uint8Array(20_000).fill(65));
  return records;
}

Deno.test("IoManager writes runs through --compress-program gzip and reads them back", async () => {
  await withIoTempDir(async (dir) => {
    const { memory, io } = await openIoForTest(dir, { compressProgram: "gzip" });
    const records = sampleRecords();
    const writer = await io.createRunWriter("gz", { writeBehindSegments: 2 });
    for (const record of records) {
      const pending = writer.writeRecord(record, 0, record.length);
      if (pending) await pending;
    }
    const run = await writer.finish();
    strictEqual(run.compressed, true);
    const head = new Uint8Array(2);
    using file = await Deno.open(run.path);
    await file.read(head);
    deepStrictEqual([...head], [0x1f, 0x8b]);
    const stored = (await Deno.stat(run.path)).size;
    ok(stored < run.byteLength / 2, `${stored} bytes stored for ${run.byteLength}`);
    for (const readAheadSegments of [1, 3]) {
      deepStrictEqual(await ioReadAll(io, run, { readAheadSegments }), records);
    }
    await io.close();
    memory.assertAllReleased();
    deepStrictEqual(ioListFiles(dir), []);
  });
});

/** Writes `records` to a new run; returns the run or the error. */
async function writeRun(
  io: Awaited<ReturnType<typeof openIoForTest>>["io"],
  records: readonly Uint8Array[],
) {
  const writer = await io.createRunWriter("gz");
  for (const record of records) {
    const pending = writer.writeRecord(record, 0, record.length);
    if (pending) await pending;
  }
  return await writer.finish();
}

/** A shell script in `dir` named `name`. */
async function script(dir: string, name: string, body: string): Promise<string> {
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(path, `#!/bin/sh\n${body}\n`);
  await Deno.chmod(path, 0o755);
  return path;
}

function isProgramError(pattern: RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    ok(error instanceof CompressProgramError, String(error));
    strictEqual(error.exitCode, 2);
    ok(pattern.test(error.message), error.message);
    return true;
  };
}

Deno.test("IoManager reports a --compress-program that is missing, before any file is made", async () => {
  await withIoTempDir(async (dir) => {
    const tmp = `${dir}/tmp`;
    await Deno.mkdir(tmp);
    const { memory, io } = await openIoForTest(tmp, {
      compressProgram: `${dir}/no-such-program`,
    });
    await rejects(
      () => io.createRunWriter("gz"),
      isProgramError(/^Cannot run --compress-program .*no-such-program: not found$/),
    );
    await io.close();
    memory.assertAllReleased();
    deepStrictEqual(ioListFiles(tmp), []);
  });
});

Deno.test("IoManager reports a compressor that fails, and one that fails with -d", async () => {
  await withIoTempDir(async (dir) => {
    const tmp = `${dir}/tmp`;
    await Deno.mkdir(tmp);
    const records = sampleRecords();
    const cases: Array<[string, string, RegExp, "write" | "read"]> = [
      ["fails", "exit 3", /'.*fails' exited with status 3/, "write"],
      ["dies", "head -c 100 >/dev/null; kill -9 $$", /'.*dies' was killed by SIGKILL/, "write"],
      [
        "fails-d",
        'if [ "$1" = -d ]; then exit 1; fi\nexec cat',
        /'.*fails-d -d' exited with status 1/,
        "read",
      ],
      ["short-d", 'if [ "$1" = -d ]; then head -c 9000; exit 0; fi\nexec cat', /./, "read"],
      [
        "late-d",
        'if [ "$1" = -d ]; then cat; exit 4; fi\nexec cat',
        /'.*late-d -d' exited with status 4/,
        "read",
      ],
    ];
    for (const [name, body, pattern, phase] of cases) {
      const program = await script(dir, name, body);
      const { memory, io } = await openIoForTest(tmp, { compressProgram: program });
      if (phase === "write") {
        await rejects(() => writeRun(io, records), isProgramError(pattern));
      } else {
        const run = await writeRun(io, records);
        await rejects(() => ioReadAll(io, run), (error: unknown) => {
          ok(error instanceof Error && pattern.test(error.message), `${name}: ${error}`);
          return true;
        });
      }
      await io.close();
      memory.assertAllReleased();
      deepStrictEqual(ioListFiles(tmp), [], name);
    }
  });
});

Deno.test("IoManager catches a compressed run changed on disk (PROG -d fails or checksums do)", async () => {
  await withIoTempDir(async (dir) => {
    const tmp = `${dir}/tmp`;
    await Deno.mkdir(tmp);
    const { memory, io } = await openIoForTest(tmp, { compressProgram: "gzip" });
    const run = await writeRun(io, [encoder.encode("one"), encoder.encode("two")]);
    const bytes = await Deno.readFile(run.path);
    bytes[bytes.length - 12] = bytes[bytes.length - 12]! ^ 0xff;
    await Deno.writeFile(run.path, bytes);
    await rejects(() => ioReadAll(io, run), /gzip -d' exited with status|CRC32C|spill/);
    await io.close();
    memory.assertAllReleased();
    deepStrictEqual(ioListFiles(tmp), []);
  });
});

import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { appendToOutput } from "../../src/io/append_output.ts";
import { FileCopier } from "../../src/io/file_copy.ts";
import { ioListFiles, openIoForTest, withIoTempDir } from "../_support/io_fixtures.ts";

const encoder = new TextEncoder();

/** Writes `bytes` to a new temp file of `io` (as an output, as the count order's spools are). */
async function tempFile(
  io: Awaited<ReturnType<typeof openIoForTest>>["io"],
  bytes: Uint8Array,
): Promise<string> {
  const path = io.tempPath("spool");
  const sink = await io.createOutput(path, { bufferSegments: 1 });
  const pending = sink.write(bytes, 0, bytes.length);
  if (pending) await pending;
  await sink.commit();
  return path;
}

function pattern(byteLength: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: byteLength }, (_, i) => (i * 31 + seed) & 0xff);
}

for (const target of ["regular", "in-place"] as const) {
  Deno.test(`IoManager.appendFiles writes bytes and temp files in order into a ${target} output`, async () => {
    await withIoTempDir(async (dir) => {
      const { memory, io } = await openIoForTest(dir, { segmentBytes: 4096 });
      const out = `${dir}/out.txt`;
      if (target === "in-place") {
        // A hard-linked target is written in place: no parts, the files go through the buffer.
        await Deno.writeTextFile(out, "old\n");
        await Deno.link(out, `${dir}/link.txt`);
      }
      const first = pattern(300_000, 1);
      const second = pattern(70_001, 2);
      const paths = [await tempFile(io, first), await tempFile(io, second)];
      const empty = await tempFile(io, new Uint8Array(0));
      strictEqual(io.stats.outputBytesWritten, 0, "temp files are not output");
      strictEqual(io.stats.bytesSpilled, first.length + second.length);
      const sink = await io.createOutput(out, { bufferSegments: 1 });
      strictEqual(sink.parts !== undefined, target === "regular");
      const header = encoder.encode("word,count\n");
      {
        using buffer = memory.allocate("copy", 1);
        let calls = 0;
        const take = () => {
          calls += 1;
          return buffer.segments[0]!.bytes;
        };
        await io.appendFiles(sink, [header, paths[0]!, empty, paths[1]!], take);
        // Into a regular file the kernel copies: no buffer.
        strictEqual(calls, target === "regular" ? 0 : 1);
      }
      await sink.commit();
      const expected = new Uint8Array(header.length + first.length + second.length);
      expected.set(header, 0);
      expected.set(first, header.length);
      expected.set(second, header.length + first.length);
      deepStrictEqual(await Deno.readFile(out), expected);
      strictEqual(io.stats.outputBytesWritten, expected.length);
      for (const path of [...paths, empty]) await io.deleteFile(path);
      await io.close();
      memory.assertAllReleased();
      deepStrictEqual(
        ioListFiles(dir).filter((name) => !name.endsWith("/")).sort(),
        target === "regular" ? ["out.txt"] : ["link.txt", "out.txt"],
      );
    });
  });
}

/** A copier that counts its kernel copy calls. */
class CountingCopier extends FileCopier {
  calls = 0;

  override copy(
    source: string,
    fd: number,
    range: { position: number; from: number; byteLengthMax: number },
  ): number | undefined {
    this.calls += 1;
    return super.copy(source, fd, range);
  }
}

Deno.test("appendToOutput copies files in many kernel calls with one load of libc", {
  ignore: Deno.build.os !== "linux",
}, async () => {
  await withIoTempDir(async (dir) => {
    const { memory, io } = await openIoForTest(dir, { segmentBytes: 4096 });
    const first = pattern(300_000, 3);
    const second = pattern(9_001, 4);
    const paths = [await tempFile(io, first), await tempFile(io, second)];
    const sink = await io.createOutput(`${dir}/out.txt`, { bufferSegments: 1 });
    const copier = new CountingCopier();
    try {
      const header = encoder.encode("HEAD");
      await appendToOutput(sink, [header, paths[0]!, paths[1]!, header], {
        buffer: () => {
          throw new Error("the kernel copies into a regular file: no buffer");
        },
        stats: io.stats,
        copier,
        copyCallBytes: 4096,
      });
      await sink.commit();
      // 74 + 3 calls that copy, and one per file that finds its end.
      strictEqual(copier.calls, Math.ceil(300_000 / 4096) + Math.ceil(9_001 / 4096) + 2);
      strictEqual(copier.loadCount, 1, "libc loaded once for all the calls");
      const expected = new Uint8Array(8 + first.length + second.length);
      expected.set(header, 0);
      expected.set(first, 4);
      expected.set(second, 4 + first.length);
      expected.set(header, 4 + first.length + second.length);
      deepStrictEqual(await Deno.readFile(`${dir}/out.txt`), expected);
    } finally {
      copier.close();
      for (const path of paths) await io.deleteFile(path);
      await io.close();
    }
    memory.assertAllReleased();
  });
});

Deno.test("FileCopier loads libc at its first copy only, and refuses copies once closed", () => {
  const copier = new FileCopier();
  strictEqual(copier.loadCount, 0);
  copier.close();
  copier.close();
  throws(() => copier.copy("/nonexistent", 1, { position: 0, from: 0, byteLengthMax: 1 }), {
    message: "Cannot copy with a closed FileCopier",
  });
  strictEqual(copier.loadCount, 0);
});

import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import fc from "fast-check";
import { InputError } from "../../src/base/mod.ts";
import type { IoManager } from "../../src/io/mod.ts";
import type { SegmentLease } from "../../src/memory/mod.ts";
import { ioTestSeed, openIoForTest, withIoTempDir } from "../_support/io_fixtures.ts";

const encoder = new TextEncoder();

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const result = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    result.set(part, offset);
    offset += part.length;
  }
  return result;
}

/** Reads all chunks, checking the chunk invariants; returns them joined. */
async function readChunks(
  io: IoManager,
  path: string,
  options: { terminator: number; chunkSegments?: number; segmentBytes: number },
): Promise<{ joined: Uint8Array; missing: boolean; bytesRead: number }> {
  const chunkSegments = options.chunkSegments ?? 1;
  const reader = await io.openInput(path, { terminator: options.terminator, chunkSegments });
  const chunks: Uint8Array[] = [];
  const chunkBytes = chunkSegments * options.segmentBytes;
  try {
    for (;;) {
      const chunk = await reader.nextChunk();
      if (chunk === undefined) break;
      ok(chunk.length > 0, "chunks are never empty");
      strictEqual(chunk[chunk.length - 1], options.terminator, "a chunk ends with a terminator");
      if (chunk.length > chunkBytes) {
        strictEqual(
          chunk.indexOf(options.terminator),
          chunk.length - 1,
          "a chunk longer than the buffer holds exactly one record",
        );
      }
      chunks.push(chunk.slice());
    }
    return {
      joined: concat(chunks),
      missing: reader.sawMissingTerminator,
      bytesRead: reader.bytesRead,
    };
  } finally {
    await reader.close();
  }
}

/** The oracle: the input with a terminator appended when the last record lacks one. */
function expectedOf(input: Uint8Array, terminator: number): Uint8Array {
  if (input.length === 0 || input[input.length - 1] === terminator) return input;
  return concat([input, new Uint8Array([terminator])]);
}

Deno.test("LineReader matches the oracle on random inputs with every terminator case", async () => {
  const seed = ioTestSeed("line reader oracle");
  await withIoTempDir(async (dir) => {
    const segmentBytes = 4096;
    const { memory, io } = await openIoForTest(dir, { segmentBytes, budgetBytes: 1 << 20 });
    const path = `${dir}/input.txt`;
    const byteArbitrary = fc.constantFrom(10, 0, 13, 65, 66, 0xff);
    const lineArbitrary = fc.oneof(
      { weight: 8, arbitrary: fc.uint8Array({ maxLength: 40 }) },
      {
        weight: 1,
        arbitrary: fc.array(byteArbitrary, { maxLength: 50 }).map((a) => Uint8Array.from(a)),
      },
      {
        weight: 1,
        arbitrary: fc.integer({ min: 4000, max: 20_000 }).map((n) => new Uint8Array(n).fill(66)),
      },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(lineArbitrary, { maxLength: 60 }),
        fc.constantFrom(10, 0),
        fc.boolean(),
        fc.integer({ min: 1, max: 3 }),
        async (lines, terminator, finalTerminator, chunkSegments) => {
          const parts: Uint8Array[] = [];
          lines.forEach((line, index) => {
            // Lines are raw bytes: a terminator inside one just makes more records.
            parts.push(line);
            if (index < lines.length - 1 || finalTerminator) {
              parts.push(new Uint8Array([terminator]));
            }
          });
          const input = concat(parts);
          await Deno.writeFile(path, input);
          const result = await readChunks(io, path, { terminator, chunkSegments, segmentBytes });
          deepStrictEqual(result.joined, expectedOf(input, terminator));
          strictEqual(result.missing, input.length > 0 && input[input.length - 1] !== terminator);
          strictEqual(result.bytesRead, input.length);
          memory.assertAllReleased();
        },
      ),
      { seed, numRuns: 150 },
    );
    await io.close();
    memory.assertAllReleased();
  });
});

Deno.test("LineReader keeps CR as data and appends a missing final newline", async () => {
  await withIoTempDir(async (dir) => {
    const { memory, io } = await openIoForTest(dir);
    const path = `${dir}/crlf.txt`;
    await Deno.writeTextFile(path, "a\r\nb\r\nc");
    const result = await readChunks(io, path, { terminator: 10, segmentBytes: 4096 });
    deepStrictEqual(result.joined, encoder.encode("a\r\nb\r\nc\n"));
    strictEqual(result.missing, true);
    await Deno.writeTextFile(path, "");
    const empty = await readChunks(io, path, { terminator: 10, segmentBytes: 4096 });
    strictEqual(empty.joined.length, 0);
    strictEqual(empty.missing, false);
    await io.close();
    memory.assertAllReleased();
  });
});

Deno.test("LineReader with cutAtWhitespace ends chunks at any whitespace and reads a line of many words without a large buffer", async () => {
  await withIoTempDir(async (dir) => {
    // 4 KiB chunks, a budget of 64 KiB: the line of 40 KiB of words (no LF) is more than the
    // quarter of the budget a large buffer may take; cut at whitespace it needs none.
    const { memory, io } = await openIoForTest(dir, { budgetBytes: 64 * 1024 });
    const words = Array.from({ length: 8000 }, (_, i) => `w${i}`).join(" \t ");
    const long = "x".repeat(6000); // a word longer than the chunk: delivered alone
    const text = `${words}\v${long} \n\ftail`;
    const path = `${dir}/words.txt`;
    await Deno.writeTextFile(path, text);
    const reader = await io.openInput(path, { chunkSegments: 1, cutAtWhitespace: true });
    const chunks: Uint8Array[] = [];
    try {
      for (
        let chunk = await reader.nextChunk();
        chunk !== undefined;
        chunk = await reader.nextChunk()
      ) {
        const last = chunk[chunk.length - 1]!;
        ok(
          last === 0x20 || (last >= 0x09 && last <= 0x0d),
          `a chunk ends with whitespace: ${last}`,
        );
        if (chunk.length > 4096) {
          strictEqual(chunk.subarray(0, -1).findIndex((b) => b <= 0x20), -1, "one word alone");
        }
        chunks.push(chunk.slice());
      }
    } finally {
      await reader.close();
    }
    ok(chunks.length > 10, `${chunks.length} chunks`);
    deepStrictEqual(new TextDecoder().decode(concat(chunks)), `${text}\n`);
    await io.close();
    memory.assertAllReleased();
  });
});

Deno.test("LineReader reads a record longer than its chunk into pages of the shared memory", async () => {
  await withIoTempDir(async (dir) => {
    // A heap buffer beside the budget's pages would add its bytes to the RSS beyond the budget.
    const { memory, io } = await openIoForTest(dir, { budgetBytes: 256 * 1024 });
    const path = `${dir}/long.txt`;
    await Deno.writeTextFile(path, `a\n${"x".repeat(40_000)}\nb\n`);
    const reader = await io.openInput(path, { chunkSegments: 1 });
    const chunks: Uint8Array[] = [];
    try {
      for (let chunk = await reader.nextChunk(); chunk; chunk = await reader.nextChunk()) {
        if (chunk.length > 4096) {
          ok(
            chunk.buffer instanceof SharedArrayBuffer,
            "the long record lies in the shared memory",
          );
        }
        chunks.push(chunk.slice());
      }
    } finally {
      await reader.close();
    }
    deepStrictEqual(new TextDecoder().decode(concat(chunks)), `a\n${"x".repeat(40_000)}\nb\n`);
    await io.close();
    memory.assertAllReleased();
  });
});

Deno.test("LineReader with freeChunkForLongRecords frees its chunk during a long record and takes pages again after it", async () => {
  // After a long record the reader needs its chunk back: 4 free pages in a row, or fewer
  // (every other page taken: one page holds the tail of the second long record, 2 bytes), or
  // none (every page taken, or no 3 pages in a row for the tail of the first: the long record's
  // buffer serves as the chunk). The pages taken are given back after that read.
  const text = ["a", "b".repeat(40_000), ...Array.from({ length: 3000 }, (_, i) => `c${i}`)]
    .concat(["d".repeat(30_000), "e"]).join("\n") + "\n";
  const heldAtLong: number[] = [];
  for (
    const [free, take] of [[false, "none"], [true, "none"], [true, "every other"], [
      true,
      "all",
    ]] as const
  ) {
    await withIoTempDir(async (dir) => {
      const { memory, io } = await openIoForTest(dir, { budgetBytes: 64 * 4096 });
      const path = `${dir}/long.txt`;
      await Deno.writeTextFile(path, text);
      const reader = await io.openInput(path, {
        chunkSegments: 4,
        sharedChunk: true,
        freeChunkForLongRecords: free,
      });
      const chunks: Uint8Array[] = [];
      let taken: SegmentLease[] = [];
      try {
        for (let chunk = await reader.nextChunk(); chunk; chunk = await reader.nextChunk()) {
          for (const lease of taken) lease.release();
          taken = [];
          chunks.push(chunk.slice());
          if (chunk.length <= 4 * 4096) continue;
          if (chunk.length === 40_001) heldAtLong.push(memory.totalSegments - memory.freeSegments);
          for (
            let lease = memory.tryAllocate("test", 1);
            lease;
            lease = memory.tryAllocate("test", 1)
          ) {
            taken.push(lease);
          }
          if (take === "every other") {
            for (const [i, lease] of taken.entries()) if (i % 2 === 1) lease.release();
            taken = taken.filter((_lease, i) => i % 2 === 0);
          }
          if (take === "none") { for (const lease of taken.splice(0)) lease.release(); }
        }
      } finally {
        for (const lease of taken) lease.release();
        await reader.close();
      }
      strictEqual(new TextDecoder().decode(concat(chunks)), text, `${free} ${take}`);
      await io.close();
      memory.assertAllReleased();
    });
  }
  // The chunk's 4 pages are free while the long record is held.
  deepStrictEqual(heldAtLong.map((held) => heldAtLong[0]! - held), [0, 4, 4, 4]);
});

Deno.test("LineReader reports totalBytes for files only", async () => {
  await withIoTempDir(async (dir) => {
    const { memory, io } = await openIoForTest(dir);
    const path = `${dir}/sized.txt`;
    await Deno.writeTextFile(path, "x\ny\n");
    const reader = await io.openInput(path);
    strictEqual(reader.totalBytes, 4);
    await reader.close();
    await io.close();
    memory.assertAllReleased();
  });
});

Deno.test("LineReader reads gzip input", async () => {
  await withIoTempDir(async (dir) => {
    const { memory, io } = await openIoForTest(dir);
    const lines = Array.from({ length: 20_000 }, (_, i) => `line ${i * 7919 % 10007}`).join("\n");
    const plain = encoder.encode(lines);
    const compressed = new Uint8Array(
      await new Response(new Blob([plain]).stream().pipeThrough(new CompressionStream("gzip")))
        .arrayBuffer(),
    );
    const path = `${dir}/input.txt.gz`;
    await Deno.writeFile(path, compressed);
    const reader = await io.openInput(path);
    strictEqual(reader.totalBytes, undefined);
    await reader.close();
    const result = await readChunks(io, path, { terminator: 10, segmentBytes: 4096 });
    deepStrictEqual(result.joined, expectedOf(plain, 10));
    strictEqual(result.missing, true);
    // Concatenated members are one stream, as for zcat.
    await Deno.writeFile(path, new Uint8Array([...compressed, ...compressed]));
    const twice = await readChunks(io, path, { terminator: 10, segmentBytes: 4096 });
    deepStrictEqual(twice.joined, new Uint8Array([...plain, ...plain, 10]));
    await Deno.writeFile(path, compressed.subarray(0, compressed.length - 30));
    await rejects(
      () => readChunks(io, path, { terminator: 10, segmentBytes: 4096 }),
      (error: unknown) => {
        ok(error instanceof InputError, String(error));
        ok(error.message.startsWith(`Cannot decompress ${path}: `), error.message);
        return true;
      },
    );
    await Deno.writeFile(path, encoder.encode("not gzip at all\n"));
    await rejects(
      () => readChunks(io, path, { terminator: 10, segmentBytes: 4096 }),
      /Cannot decompress .*: incorrect header check/,
    );
    await io.close();
    memory.assertAllReleased();
  });
});

Deno.test("LineReader rejects a directory, a missing file and an unreadable file", async () => {
  await withIoTempDir(async (dir) => {
    const { memory, io } = await openIoForTest(dir);
    await rejects(() => io.openInput(dir), (error: unknown) => {
      ok(error instanceof InputError);
      strictEqual(error.message, `Cannot read ${dir}: it is a directory`);
      strictEqual(error.exitCode, 2);
      return true;
    });
    await rejects(() => io.openInput(`${dir}/missing.txt`), (error: unknown) => {
      ok(error instanceof InputError);
      strictEqual(error.message, `Cannot read ${dir}/missing.txt: no such file or directory`);
      return true;
    });
    if (Deno.uid() !== 0) {
      const path = `${dir}/secret.txt`;
      await Deno.writeTextFile(path, "x\n");
      await Deno.chmod(path, 0);
      await rejects(() => io.openInput(path), /Cannot read .*: permission denied/);
    }
    await io.close();
    memory.assertAllReleased();
  });
});

Deno.test("LineReader reads a FIFO without trusting its size", async () => {
  await withIoTempDir(async (dir) => {
    const { memory, io } = await openIoForTest(dir);
    const fifo = `${dir}/pipe`;
    const source = `${dir}/source.txt`;
    const text = Array.from({ length: 5000 }, (_, i) => `row ${i}`).join("\n") + "\n";
    await Deno.writeTextFile(source, text);
    const mkfifo = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    strictEqual(mkfifo.code, 0);
    const writer = new Deno.Command("sh", { args: ["-c", `cat "${source}" > "${fifo}"`] }).spawn();
    const result = await readChunks(io, fifo, { terminator: 10, segmentBytes: 4096 });
    strictEqual((await writer.status).code, 0);
    deepStrictEqual(result.joined, encoder.encode(text));
    await io.close();
    memory.assertAllReleased();
  });
});

Deno.test("LineReader reads stdin of a child process and OutputSink writes its stdout", async () => {
  await withIoTempDir(async (dir) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../_support/io_cat_child.ts", import.meta.url).pathname,
        "-",
        "-",
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { TMPDIR: dir },
    }).spawn();
    const lines = Array.from({ length: 100_000 }, (_, i) => `${(i * 48271) % 65537}`).join("\n");
    const input = encoder.encode(lines);
    const writer = child.stdin.getWriter();
    const feed = writer.write(input).then(() => writer.close());
    const [output] = await Promise.all([child.output(), feed]);
    const stderr = new TextDecoder().decode(output.stderr);
    strictEqual(output.code, 0, stderr);
    deepStrictEqual(output.stdout, expectedOf(input, 10));
    strictEqual(stderr.trim(), `missing=true bytes=${input.length}`);
    deepStrictEqual([...Deno.readDirSync(dir)], []);
  });
});

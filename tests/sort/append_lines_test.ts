import { deepStrictEqual, strictEqual } from "node:assert/strict";
import fc from "fast-check";
import { appendLinesReference, AppendStatus, WasmKernels } from "../../src/kernels/mod.ts";
import { MemoryManager } from "../../src/memory/mod.ts";
import { BytesOrder, SortBuffer } from "../../src/sort/mod.ts";
import { checkProperty } from "../_support/property.ts";

// The append-lines kernel (src/kernels/assembly/append.ts) and its TypeScript reference fill a
// sort buffer exactly like SortBuffer.tryAppend, record for record, index entry for index entry,
// page byte for page byte (but for bytes no record covers, in pages that hold records).

/** Fills a buffer from `input` (lines) one way or the other; returns what it holds. */
function fill(
  input: Uint8Array,
  options: {
    kernels: "wasm" | "reference" | "none";
    reverse: boolean;
    dataSegments: number;
    entries: number;
  },
) {
  const memory = new MemoryManager({ budgetBytes: 8 << 20, segmentBytes: 4096 });
  const order = new BytesOrder(options.reverse);
  const kernels = options.kernels === "wasm"
    ? new WasmKernels(memory.wasmMemory)
    : options.kernels === "reference"
    ? { appendLines: (state: number) => appendLinesReference(memory.wasmMemory, state) }
    : undefined;
  const buffer = new SortBuffer(memory, {
    owner: "test-buffer",
    dataSegmentCount: options.dataSegments,
    indexEntryCount: options.entries,
    order,
    ...(kernels === undefined ? {} : { kernels }),
  });
  // The chunk lives in the shared memory, as the line reader's does.
  const chunkLease = memory.allocateContiguous("test-chunk", Math.ceil((input.length + 1) / 4096));
  const chunk = chunkLease.segments[0]!.bytes.subarray(0, input.length);
  chunk.set(input);
  const stops: string[] = [];
  let start = 0;
  if (kernels !== undefined) {
    strictEqual(buffer.appendsChunks, true);
    while (start < chunk.length) {
      const status = buffer.appendLines(chunk, start, 10);
      start = buffer.appendStop;
      if (status === AppendStatus.done) break;
      // Not appended (the sort's slow path then decides by the length, as here for tryAppend).
      const stop = chunk.indexOf(10, start);
      strictEqual(status === AppendStatus.full || status === AppendStatus.tooLong, true);
      stops.push(`${buffer.canHold(stop - start) ? "full" : "long"}@${start}`);
      start = stop + 1; // skip the record
    }
  } else {
    while (start < chunk.length) {
      const stop = chunk.indexOf(10, start);
      if (!buffer.tryAppend(chunk, start, stop - start)) {
        stops.push(`${buffer.canHold(stop - start) ? "full" : "long"}@${start}`);
      }
      start = stop + 1;
    }
  }
  const job = buffer.lend("test");
  const index = [...new Uint32Array(memory.wasmMemory.buffer, job.index, job.recordCount * 4)];
  const pages = job.segments.map((offset) =>
    new Uint8Array(memory.wasmMemory.buffer, offset, 4096)
  );
  const records: number[][] = [];
  for (let e = 0; e < index.length; e += 4) {
    const address = index[e + 2]!;
    const page = pages[address >>> 12]!;
    records.push([...page.subarray(address & 4095, (address & 4095) + index[e + 3]!)]);
  }
  // Whole pages, but for the bytes no record covers: the kernel copies a record in 16-byte
  // blocks as it looks for its end, into the page's room, before it knows whether the record
  // fits there (or in any page: a record longer than a page is refused after it copied its first
  // blocks); one that does not leaves those bytes behind, which later records overwrite. The
  // covered bytes say that every record is where its index entry says and nothing else of the
  // buffer's moved. One hex string per page, "--" for a byte no record covers, so that a
  // difference is reported at once (an assertion's diff of arrays this long takes minutes).
  const covered = pages.map(() => new Uint8Array(4096));
  for (let e = 0; e < index.length; e += 4) {
    const address = index[e + 2]!;
    covered[address >>> 12]!.fill(1, address & 4095, (address & 4095) + index[e + 3]!);
  }
  const pageBytes = pages.map((page, p) =>
    [...page].map((byte, k) => covered[p]![k] === 0 ? "--" : byte.toString(16).padStart(2, "0"))
      .join("")
  );
  buffer.takeBack(true);
  const result = {
    index,
    records,
    pageBytes,
    stops,
    dataBytes: buffer.dataBytes,
    count: buffer.recordCount,
  };
  buffer.release();
  chunkLease.release();
  memory.assertAllReleased();
  return result;
}

Deno.test("appendLines fills a sort buffer exactly like tryAppend", () => {
  const line = fc.oneof(
    { weight: 6, arbitrary: fc.uint8Array({ maxLength: 40 }) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 3000, maxLength: 5000 }) },
    { weight: 1, arbitrary: fc.constant(new Uint8Array(0)) },
  ).map((bytes) => bytes.map((b) => (b === 10 ? 11 : b)));
  checkProperty(
    fc.property(
      fc.array(line, { maxLength: 300 }),
      fc.boolean(),
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 1, max: 300 }),
      (lines, reverse, dataSegments, entries) => {
        const parts: number[] = [];
        for (const bytes of lines) parts.push(...bytes, 10);
        const input = new Uint8Array(parts);
        const options = { reverse, dataSegments, entries };
        const js = fill(input, { ...options, kernels: "none" });
        deepStrictEqual(fill(input, { ...options, kernels: "wasm" }), js);
        deepStrictEqual(fill(input, { ...options, kernels: "reference" }), js);
      },
    ),
    150,
  );
});

/**
 * A run gathered by two threads (split_gather.ts): the Worker's chunks from the low end and this
 * thread's from the high end give the blocks (header and payload) one gather seals, and the
 * parts' line-bytes indexes and first keys join into that gather's. Both sides run here, one
 * after the other, for every split point of each case.
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { WasmKernels } from "../../src/kernels/mod.ts";
import { MemoryManager } from "../../src/memory/mod.ts";
import {
  BlockGather,
  dropDuplicates,
  FIRST_KEYS_BYTES_MAX,
  kernelAreaBytes,
  sortJobWith,
} from "../../src/sort/kernel_sort.ts";
import { BytesOrder, SortBuffer, type SortJob } from "../../src/sort/mod.ts";
import {
  claimGatherChunk,
  gatherChunkEnd,
  gatherClaimedChunks,
  type GatherPart,
  joinGatherParts,
  publishGatherSplit,
  resetGatherSplit,
  SPLIT_GATHER_WORDS,
  splitGatherBlockCount,
  splitGatherRecordCount,
} from "../../src/sort/split_gather.ts";
import { makeRandom, randomLines } from "./_gnu.ts";

const SEED = Number(Deno.env.get("SPILLWAY_SEED") ?? Date.now() % 1_000_000);
const BLOCK_BYTES = 4096;

/** Header and payload of the block at `base`. */
function sealedAt(bytes: Uint8Array, base: number): Uint8Array {
  const payload = bytes[base]! | bytes[base + 1]! << 8;
  return bytes.slice(base, base + 16 + payload);
}

interface Case {
  name: string;
  input: Uint8Array;
  dataSegments: number;
  indexEntries: number;
  unique: boolean;
}

function cases(): Case[] {
  const random = makeRandom(SEED);
  const text = new TextEncoder();
  // Records of 1000-3000 bytes: a long key for nearly every block, more than the first keys hold.
  const long = Array.from({ length: 700 }, (_, i) => {
    const head = String.fromCharCode(0x61 + (i % 26));
    return head.repeat(1000 + Math.floor(random() * 2000));
  });
  return [
    // Short and long records (1- and 2-byte varints), records of at most 8 bytes among them.
    {
      name: "mixed",
      input: randomLines(random, 6000, { maxLength: 300 }),
      dataSegments: 512,
      indexEntries: 8192,
      unique: false,
    },
    {
      name: "-u",
      input: randomLines(random, 6000, { maxLength: 40 }),
      dataSegments: 512,
      indexEntries: 8192,
      unique: true,
    },
    {
      name: "first keys full",
      input: text.encode(long.join("\n") + "\n"),
      dataSegments: 600,
      indexEntries: 1024,
      unique: false,
    },
  ];
}

Deno.test("split gather: the Worker's and this thread's chunks give one gather's blocks and indexes, at every split point", () => {
  const order = new BytesOrder();
  for (const testCase of cases()) {
    const label = `${testCase.name}, seed ${SEED}`;
    const memory = new MemoryManager({ budgetBytes: 16 * 1024 * 1024, segmentBytes: BLOCK_BYTES });
    const areaSegments = Math.ceil(kernelAreaBytes(testCase.dataSegments) / BLOCK_BYTES);
    const workerArea = memory.allocateContiguous("test-area-worker", areaSegments);
    const mainArea = memory.allocateContiguous("test-area-main", areaSegments);
    const ring = memory.allocate("test-ring", 2);
    const kernels = new WasmKernels(memory.wasmMemory);
    const buffer = new SortBuffer(memory, {
      owner: "test-buffer",
      dataSegmentCount: testCase.dataSegments,
      indexEntryCount: testCase.indexEntries,
      order,
    });
    const input = testCase.input;
    let start = 0;
    for (let stop = input.indexOf(10); stop >= 0; stop = input.indexOf(10, start)) {
      strictEqual(buffer.tryAppend(input, start, stop - start), true, label);
      start = stop + 1;
    }
    const job = buffer.lend("test-worker");
    const shared = memory.wasmMemory.buffer as SharedArrayBuffer;
    const workerAreaOffset = workerArea.segments[0]!.memoryOffset;
    sortJobWith(job, order, { memory: memory.wasmMemory, kernels, areaOffset: workerAreaOffset });
    if (testCase.unique) dropDuplicates(job, order, shared);
    const [workerBlock, mainBlock] = ring.segments.map((segment) => segment.memoryOffset) as [
      number,
      number,
    ];
    const bytes = new Uint8Array(shared);
    // One gather of the whole run: the oracle.
    const whole = new BlockGather(job, {
      memory: memory.wasmMemory,
      kernels,
      areaOffset: workerAreaOffset,
      ring: [workerBlock],
      blockBytes: BLOCK_BYTES,
    });
    const expected: Uint8Array[] = [];
    for (let block = whole.next(); block !== undefined; block = whole.next()) {
      expected.push(sealedAt(bytes, workerBlock));
      whole.free();
    }
    strictEqual(whole.isDone, true, label);
    if (testCase.name === "first keys full") {
      strictEqual(
        whole.blockFirstKeys!.recordLengths.length < expected.length,
        true,
        `${label}: the first keys stop before the last block`,
      );
    }
    const control = new Int32Array(new SharedArrayBuffer(SPLIT_GATHER_WORDS * 4));
    // The sort's scratch is free while the job gathers.
    const publishing = { kernels, scratchOffset: workerAreaOffset, blockBytes: BLOCK_BYTES };
    resetGatherSplit(control);
    strictEqual(
      claimGatherChunk(control, true),
      -1,
      `${label}: nothing to claim before publishing`,
    );
    publishGatherSplit(control, job, publishing);
    strictEqual(splitGatherBlockCount(control), expected.length, `${label}: blocks`);
    strictEqual(splitGatherRecordCount(control), job.recordCount, `${label}: records`);
    const chunkCount = control[2]!;
    strictEqual(chunkCount >= 3, true, `${label}: ${chunkCount} chunks`);
    for (let workerChunks = 0; workerChunks <= chunkCount; workerChunks += 1) {
      const at = `${label}, the Worker takes ${workerChunks} of ${chunkCount} chunks`;
      publishGatherSplit(control, job, publishing);
      const written = new Map<number, Uint8Array>();
      // The Worker: one gather from the start, extended chunk by chunk (sort_worker.ts).
      const worker = new BlockGather(job, {
        memory: memory.wasmMemory,
        kernels,
        areaOffset: workerAreaOffset,
        ring: [workerBlock],
        blockBytes: BLOCK_BYTES,
      });
      worker.gatherUpTo(0);
      for (let c = 0; c < workerChunks; c += 1) {
        strictEqual(claimGatherChunk(control, false), c, at);
        worker.gatherUpTo(gatherChunkEnd(control, c));
        for (let block = worker.next(); block !== undefined; block = worker.next()) {
          written.set(worker.blockIndex - 1, sealedAt(bytes, workerBlock));
          worker.free();
        }
      }
      // This thread: the rest, from the high end.
      const parts = new Map<number, GatherPart>();
      gatherClaimedChunks(control, { ...job, recordCount: 0 }, {
        memory: memory.wasmMemory,
        kernels,
        areaOffset: mainArea.segments[0]!.memoryOffset,
        blockOffset: mainBlock,
        blockBytes: BLOCK_BYTES,
        parts,
        writeBlock: (blockIndex, block) => {
          strictEqual(block.length, BLOCK_BYTES, at);
          strictEqual(written.has(blockIndex), false, `${at}: block ${blockIndex} written twice`);
          written.set(blockIndex, sealedAt(bytes, mainBlock));
        },
      });
      // The Worker: what this thread left (at least the last chunk, unless it took it already).
      for (let c = claimGatherChunk(control, false); c >= 0; c = claimGatherChunk(control, false)) {
        strictEqual(c, workerChunks, `${at}: the chunk left`);
        worker.gatherUpTo(gatherChunkEnd(control, c));
        for (let block = worker.next(); block !== undefined; block = worker.next()) {
          written.set(worker.blockIndex - 1, sealedAt(bytes, workerBlock));
          worker.free();
        }
      }
      // It ends the run only when this thread had nothing to take.
      strictEqual(worker.isDone, workerChunks >= chunkCount - 1, at);
      strictEqual(written.size, expected.length, `${at}: blocks written`);
      for (let b = 0; b < expected.length; b += 1) {
        deepStrictEqual(written.get(b), expected[b], `${at}: block ${b}`);
      }
      const joined = joinGatherParts([
        {
          blockCount: worker.blockIndex,
          lineBytesIndex: worker.lineBytesIndex!,
          blockFirstKeys: worker.blockFirstKeys!,
        },
        ...[...parts.keys()].sort((a, b) => a - b).map((chunk) => parts.get(chunk)!),
      ]);
      deepStrictEqual(joined.lineBytesIndex, whole.lineBytesIndex, `${at}: line-bytes index`);
      deepStrictEqual(joined.blockFirstKeys, whole.blockFirstKeys, `${at}: first keys`);
      strictEqual(joined.blockFirstKeys.bytes.length <= FIRST_KEYS_BYTES_MAX, true, at);
    }
    buffer.takeBack(true);
    buffer.release();
    ring.release();
    workerArea.release();
    mainArea.release();
    memory.assertAllReleased();
  }
});

Deno.test("split gather: chunks are claimed once, from either end, until none is left", () => {
  const control = new Int32Array(new SharedArrayBuffer(SPLIT_GATHER_WORDS * 4));
  const memory = new MemoryManager({ budgetBytes: 1024 * 1024, segmentBytes: BLOCK_BYTES });
  const index = memory.allocate("test-index", 16);
  const words = new Uint32Array(memory.wasmMemory.buffer, index.segments[0]!.memoryOffset, 4);
  // One record of 100 KiB: 26 blocks of 4 KiB, 7 chunks of 4 blocks.
  words[3] = 100 * 1024;
  const job: SortJob = {
    segments: [],
    index: index.segments[0]!.memoryOffset,
    recordCount: 1,
    segmentShift: 12,
  };
  const scratch = memory.allocate("test-scratch", 1);
  publishGatherSplit(control, job, {
    kernels: new WasmKernels(memory.wasmMemory),
    scratchOffset: scratch.segments[0]!.memoryOffset,
    blockBytes: BLOCK_BYTES,
  });
  strictEqual(splitGatherBlockCount(control), Math.ceil((100 * 1024 + 3) / (BLOCK_BYTES - 16)));
  // The high end leaves the last chunk to the low end.
  deepStrictEqual(
    [true, false, true, false, true, false, true, false, false].map((fromHigh) =>
      claimGatherChunk(control, fromHigh)
    ),
    [6, 0, 5, 1, 4, 2, -1, 3, -1],
  );
  strictEqual(gatherChunkEnd(control, 5), 24);
  strictEqual(gatherChunkEnd(control, 6), splitGatherBlockCount(control));
  resetGatherSplit(control);
  strictEqual(splitGatherBlockCount(control), 0);
  strictEqual(claimGatherChunk(control, false), -1);
  index.release();
  scratch.release();
  memory.assertAllReleased();
});

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import fc from "fast-check";
import {
  GatherState,
  type KernelSet,
  KernelStatus,
  ReferenceKernels,
  WasmKernels,
} from "../../src/kernels/mod.ts";
import { checkProperty } from "../_support/property.ts";
import { Arena, decodeRecords, recordsArbitrary } from "./_arena.ts";

interface GatherCase {
  arena: Arena;
  stateOffset: number;
  outOffset: number;
  indexOffset: number;
  pageTableOffset: number;
  segmentShift: number;
  /** The records in index order. */
  expected: Uint8Array[];
}

/** Records in pages (in reverse page order in memory), an index in a shuffled order. */
function layOut(
  records: readonly Uint8Array[],
  order: readonly number[],
  shift: number,
): GatherCase {
  const segmentBytes = 1 << shift;
  const addresses: number[] = [];
  let address = 0;
  for (const record of records) {
    if ((address & (segmentBytes - 1)) + record.length > segmentBytes) {
      address = ((address >>> shift) + 1) << shift;
    }
    addresses.push(address);
    address += Math.max(1, record.length);
  }
  const segmentCount = (address >>> shift) + 1;
  const arena = new Arena(segmentCount * segmentBytes + records.length * 16 + 8 * 65536);
  const pageTableOffset = arena.take(4 * segmentCount);
  const stateOffset = arena.take(GatherState.BYTES);
  const indexOffset = arena.take(16 * records.length);
  const pagesOffset = arena.take(segmentCount * segmentBytes);
  const outOffset = arena.take(65536);
  const view = arena.view;
  for (let s = 0; s < segmentCount; s += 1) {
    view.setUint32(
      pageTableOffset + 4 * s,
      pagesOffset + (segmentCount - 1 - s) * segmentBytes,
      true,
    );
  }
  const pageOf = (a: number) => view.getUint32(pageTableOffset + 4 * (a >>> shift), true);
  records.forEach((record, i) => {
    arena.bytes.set(record, pageOf(addresses[i]!) + (addresses[i]! & (segmentBytes - 1)));
  });
  order.forEach((recordIndex, i) => {
    view.setUint32(indexOffset + 16 * i + 8, addresses[recordIndex]!, true);
    view.setUint32(indexOffset + 16 * i + 12, records[recordIndex]!.length, true);
  });
  return {
    arena,
    stateOffset,
    outOffset,
    indexOffset,
    pageTableOffset,
    segmentShift: shift,
    expected: order.map((i) => records[i]!),
  };
}

/** Gathers into blocks of the given payload sizes (cycled); returns each block's bytes. */
function runGather(kernels: KernelSet, c: GatherCase, arena: Arena, sizes: number[]): string[] {
  const state = new GatherState(arena.memory, c.stateOffset);
  state.start({
    indexOffset: c.indexOffset,
    recordCount: c.expected.length,
    pageTableOffset: c.pageTableOffset,
    segmentShift: c.segmentShift,
  });
  const blocks: string[] = [];
  for (let b = 0;; b += 1) {
    const size = sizes[b % sizes.length]!;
    state.setOutput(c.outOffset, c.outOffset + size);
    const status = kernels.gather(c.stateOffset);
    const block = arena.bytes.slice(c.outOffset, state.outputOffset);
    blocks.push(Array.from(block, (x) => x.toString(16).padStart(2, "0")).join(""));
    if (status === KernelStatus.done) break;
    strictEqual(status, KernelStatus.outputFull);
    strictEqual(state.outputOffset, c.outOffset + size, "a full block is filled to its end");
    if (b > 1_000_000) throw new Error("gather does not progress");
  }
  strictEqual(state.writtenCount, c.expected.length);
  strictEqual(state.pendingBytes, 0);
  return blocks;
}

function checkGather(records: Uint8Array[], order: number[], shift: number, sizes: number[]) {
  const c = layOut(records, order, shift);
  const oracle = c.arena.clone();
  const kernelBlocks = runGather(new WasmKernels(c.arena.memory), c, c.arena, sizes);
  const oracleBlocks = runGather(new ReferenceKernels(oracle.memory), c, oracle, sizes);
  deepStrictEqual(kernelBlocks, oracleBlocks);
  const stream = Uint8Array.from(
    kernelBlocks.join("").match(/../g)?.map((h) => parseInt(h, 16)) ?? [],
  );
  deepStrictEqual(decodeRecords(stream), c.expected);
}

Deno.test("gather kernel writes records in index order as spill payload", () => {
  const words = ["pear", "", "fig", "a".repeat(300), "x"].map((w) => new TextEncoder().encode(w));
  checkGather(words, [3, 1, 0, 4, 2], 9, [4096]);
  checkGather(words, [3, 1, 0, 4, 2], 9, [1]); // one byte per block: everything spans
  checkGather(words, [3, 1, 0, 4, 2], 9, [2, 7, 130]);
  checkGather([], [], 9, [16]);
});

Deno.test("gather kernel agrees with the oracle on random records and block sizes", () => {
  checkProperty(
    fc.property(
      recordsArbitrary(600).chain((records) =>
        fc.tuple(
          fc.constant(records),
          fc.shuffledSubarray(records.map((_, i) => i), {
            minLength: records.length,
            maxLength: records.length,
          }),
          fc.array(
            fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 9, max: 2000 })),
            { minLength: 1, maxLength: 4 },
          ),
        )
      ),
      ([records, order, sizes]) => checkGather(records, order, 10, sizes),
    ),
    150,
  );
});

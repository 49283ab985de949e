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
  /** The entries' prefix words are the records' first 8 bytes (inverted with `invert`). */
  prefixHoldsRecord: boolean;
  prefixInverted: boolean;
}

/** How the entries' prefix words are written (default: left zero). */
interface PrefixOptions {
  /** The record's first 8 bytes, zero padded, as two big-endian words. */
  prefix?: boolean;
  /** Those words inverted (the prefixes of `-r`). */
  invert?: boolean;
}

/** Records in pages (in reverse page order in memory), an index in a shuffled order. */
function layOut(
  records: readonly Uint8Array[],
  order: readonly number[],
  shift: number,
  prefixOptions: PrefixOptions = {},
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
    if (prefixOptions.prefix === true) {
      const first = new Uint8Array(8);
      first.set(records[recordIndex]!.subarray(0, 8));
      const words = new DataView(first.buffer);
      const invert = prefixOptions.invert === true ? 0xffff_ffff : 0;
      view.setUint32(indexOffset + 16 * i, (words.getUint32(0) ^ invert) >>> 0, true);
      view.setUint32(indexOffset + 16 * i + 4, (words.getUint32(4) ^ invert) >>> 0, true);
    }
  });
  return {
    arena,
    stateOffset,
    outOffset,
    indexOffset,
    pageTableOffset,
    segmentShift: shift,
    expected: order.map((i) => records[i]!),
    prefixHoldsRecord: prefixOptions.prefix === true,
    prefixInverted: prefixOptions.invert === true,
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
    prefixHoldsRecord: c.prefixHoldsRecord,
    prefixInverted: c.prefixInverted,
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

function checkGather(
  records: Uint8Array[],
  order: number[],
  shift: number,
  sizes: number[],
  prefixOptions: PrefixOptions = {},
) {
  const c = layOut(records, order, shift, prefixOptions);
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

/**
 * `records`, an order of them all and 1-4 block sizes, small ones (up to `smallMax` bytes, where
 * records span blocks) as often as large ones.
 */
function gatherCaseArbitrary(
  records: fc.Arbitrary<Uint8Array[]>,
  smallMax: number,
): fc.Arbitrary<[Uint8Array[], number[], number[]]> {
  return records.chain((chosen) =>
    fc.tuple(
      fc.constant(chosen),
      fc.shuffledSubarray(chosen.map((_, i) => i), {
        minLength: chosen.length,
        maxLength: chosen.length,
      }),
      fc.array(
        fc.oneof(
          fc.integer({ min: 1, max: smallMax }),
          fc.integer({ min: smallMax + 1, max: 2000 }),
        ),
        { minLength: 1, maxLength: 4 },
      ),
    )
  );
}

Deno.test("gather kernel agrees with the oracle on random records and block sizes", () => {
  checkProperty(
    fc.property(
      gatherCaseArbitrary(recordsArbitrary(600), 8),
      ([records, order, sizes]) => checkGather(records, order, 10, sizes),
    ),
    150,
  );
});

/** Records of 0-16 bytes, weighted toward NUL and 0xFF bytes and shared beginnings. */
function shortRecordsArbitrary(): fc.Arbitrary<Uint8Array[]> {
  const byte = fc.oneof(fc.constantFrom(0, 0xff, 0x61), fc.integer({ min: 0, max: 255 }));
  return fc.array(
    fc.array(byte, { maxLength: 16 }).map((bytes) => Uint8Array.from(bytes)),
    { maxLength: 300 },
  ).map((records) =>
    // Equal beginnings of different lengths: each record also as its own 8-byte-or-less head.
    records.flatMap((record) => [record, record.subarray(0, record.length >> 1)])
  );
}

Deno.test("gather kernel writes records of at most 8 bytes from prefix words as from the pages", () => {
  checkProperty(
    fc.property(
      gatherCaseArbitrary(shortRecordsArbitrary(), 12),
      fc.boolean(),
      ([records, order, sizes], invert) =>
        checkGather(records, order, 10, sizes, { prefix: true, invert }),
    ),
    150,
  );
});

Deno.test("gather kernel with prefixHoldsRecord does not read records of at most 8 bytes", () => {
  const records = ["ab", "ab\0", "", "\xff\xff\xff\xff\xff\xff\xff\xff", "abcdefghi"].map((w) =>
    Uint8Array.from(w, (ch) => ch.charCodeAt(0))
  );
  for (const invert of [false, true]) {
    const c = layOut(records, [4, 2, 0, 1, 3], 9, { prefix: true, invert });
    // Overwrite the short records in their pages: only the prefix words still hold them.
    const view = c.arena.view;
    for (let i = 0; i < records.length; i += 1) {
      const entry = c.indexOffset + 16 * i;
      const length = view.getUint32(entry + 12, true);
      if (length > 8) continue;
      const address = view.getUint32(entry + 8, true);
      const page = view.getUint32(c.pageTableOffset + 4 * (address >>> 9), true);
      c.arena.bytes.fill(0x5a, page + (address & 511), page + (address & 511) + length);
    }
    for (const kernels of [new WasmKernels(c.arena.memory), new ReferenceKernels(c.arena.memory)]) {
      for (const sizes of [[4096], [1], [3, 10]]) {
        const blocks = runGather(kernels, c, c.arena, sizes);
        const stream = Uint8Array.from(
          blocks.join("").match(/../g)?.map((h) => parseInt(h, 16)) ?? [],
        );
        const decoded = decodeRecords(stream);
        // Short records come from the prefix words; a short record cut by a block border is
        // copied from the page (the slow path), as is every longer record.
        if (sizes[0] === 4096) deepStrictEqual(decoded, c.expected);
        else strictEqual(decoded.length, c.expected.length);
      }
    }
  }
});

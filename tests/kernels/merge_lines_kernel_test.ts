import { deepStrictEqual, strictEqual } from "node:assert/strict";
import fc from "fast-check";
import {
  type KernelSet,
  KernelStatus,
  MergeLinesState,
  MergeLinesStatus,
  ReferenceKernels,
  WasmKernels,
} from "../../src/kernels/mod.ts";
import { checkProperty } from "../_support/property.ts";
import { Arena, compareBytes, encodeRecords, recordsArbitrary } from "./_arena.ts";

interface Options {
  reverse: boolean;
  unique: boolean;
  cuts: number[];
  outSizes: number[];
  /** Bytes of the first `-u` scratch (grown on needScratch). */
  scratchBytes: number;
}

/**
 * Merges encoded runs into lines with `kernels`, refilling an input with its unread tail plus
 * the next cut of its stream, growing the `-u` scratch when asked. Returns the output blocks
 * (hex) and the statuses seen.
 */
function runMerge(
  kernels: KernelSet,
  arena: Arena,
  streams: Uint8Array[],
  options: Options & { stateOffset: number; buffers: number[]; outOffset: number },
): { blocks: string[]; statuses: number[]; dropped: number } {
  const state = new MergeLinesState(arena.memory, {
    byteOffset: options.stateOffset,
    inputCount: streams.length,
  });
  state.start({ reverse: options.reverse, terminator: 10, unique: options.unique });
  state.setScratch(arena.take(options.scratchBytes), options.scratchBytes, arena.bytes);
  const merge = state.merge;
  const read = streams.map(() => 0);
  const cutIndex = streams.map(() => 0);
  const refill = (i: number) => {
    const stream = streams[i]!;
    const buffer = options.buffers[i]!;
    const tail = arena.bytes.slice(merge.inputOffset(i), merge.inputEnd(i));
    const cut = options.cuts[cutIndex[i]! % options.cuts.length]!;
    cutIndex[i]! += 1;
    const block = stream.subarray(read[i]!, read[i]! + cut);
    read[i]! += block.length;
    arena.bytes.set(tail, buffer);
    arena.bytes.set(block, buffer + tail.length);
    merge.setInput(i, {
      byteOffset: buffer,
      byteEnd: buffer + tail.length + block.length,
      finished: read[i]! >= stream.length,
    });
  };
  streams.forEach((_, i) => refill(i));
  const blocks: string[] = [];
  const statuses: number[] = [];
  let outIndex = 0;
  merge.setOutput(options.outOffset, options.outOffset + options.outSizes[0]!);
  for (let step = 0;; step += 1) {
    if (step > 1_000_000) throw new Error("merge does not progress");
    const status = kernels.mergeLines(state.byteOffset);
    statuses.push(status);
    if (status === KernelStatus.needInput) {
      refill(merge.inputAsking);
      continue;
    }
    if (status === MergeLinesStatus.needScratch) {
      const bytes = state.scratchNeeded;
      state.setScratch(arena.take(bytes), bytes, arena.bytes);
      continue;
    }
    strictEqual(status === KernelStatus.corrupt, false, `corrupt input ${merge.inputAsking}`);
    const block = arena.bytes.slice(options.outOffset, merge.outputOffset);
    blocks.push(Array.from(block, (x) => x.toString(16).padStart(2, "0")).join(""));
    if (status === KernelStatus.done) break;
    outIndex += 1;
    const size = options.outSizes[outIndex % options.outSizes.length]!;
    merge.setOutput(options.outOffset, options.outOffset + size);
  }
  strictEqual(merge.hasPending, false);
  return { blocks, statuses, dropped: state.droppedCount };
}

function checkMerge(runs: Uint8Array[][], options: Options): void {
  const sign = options.reverse ? -1 : 1;
  const sorted = runs.map((run) => [...run].sort((a, b) => compareBytes(a, b) * sign));
  const streams = sorted.map((run) => encodeRecords(run));
  const longest = Math.max(0, ...streams.map((s) => s.length));
  const total = streams.reduce((sum, s) => sum + s.length, 0);
  const arena = new Arena(
    MergeLinesState.bytes(runs.length) + runs.length * (2 * longest + 8192) + 65536 * 2 +
      2 * total + options.scratchBytes + 8192,
  );
  const stateOffset = arena.take(MergeLinesState.bytes(runs.length));
  const buffers = streams.map(() => arena.take(2 * longest + 8192));
  const outOffset = arena.take(65536);
  const oracle = arena.clone();
  const layout = { ...options, stateOffset, buffers, outOffset };
  const kernel = runMerge(new WasmKernels(arena.memory), arena, streams, layout);
  const reference = runMerge(new ReferenceKernels(oracle.memory), oracle, streams, layout);
  deepStrictEqual(kernel, reference);
  let expected = sorted.flat().sort((a, b) => compareBytes(a, b) * sign);
  const expectedCount = expected.length;
  if (options.unique) {
    expected = expected.filter((r, i) => i === 0 || compareBytes(r, expected[i - 1]!) !== 0);
  }
  strictEqual(kernel.dropped, expectedCount - expected.length);
  const lines = expected.map((r) => [...r, 10]).flat();
  const hex = lines.map((x) => x.toString(16).padStart(2, "0")).join("");
  strictEqual(kernel.blocks.join(""), hex);
}

Deno.test("merge-to-lines kernel merges examples, with -u, -r and split lines", () => {
  const enc = (words: string[]) => words.map((w) => new TextEncoder().encode(w));
  const runs = [
    enc(["b", "d", "f", "zzzzzzzzzzzz", "zzzzzzzzzzzz"]),
    enc(["", "", "a", "d", "e"]),
    enc([]),
    enc(["c", "d"]),
  ];
  for (const reverse of [false, true]) {
    for (const unique of [false, true]) {
      const base = { reverse, unique, scratchBytes: 16 };
      checkMerge(runs, { ...base, cuts: [1 << 20], outSizes: [1 << 15] });
      checkMerge(runs, { ...base, cuts: [1], outSizes: [1] });
      checkMerge(runs, { ...base, cuts: [3, 1, 7], outSizes: [2, 5] });
      checkMerge(runs, { ...base, scratchBytes: 1, cuts: [3, 1, 7], outSizes: [2, 5] });
    }
  }
  checkMerge([enc(["a".repeat(200), "a".repeat(200)]), enc(["a".repeat(200)])], {
    reverse: false,
    unique: true,
    scratchBytes: 8,
    cuts: [64],
    outSizes: [100],
  });
});

Deno.test("merge-to-lines kernel agrees with the oracle on random runs, cuts and blocks", () => {
  const sizes = fc.array(
    fc.oneof(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 7, max: 3000 })),
    { minLength: 1, maxLength: 3 },
  );
  checkProperty(
    fc.property(
      fc.array(recordsArbitrary(300), { minLength: 1, maxLength: 6 }),
      fc.boolean(),
      fc.boolean(),
      sizes,
      sizes,
      fc.integer({ min: 1, max: 400 }),
      (runs, reverse, unique, cuts, outSizes, scratchBytes) =>
        checkMerge(runs, { reverse, unique, cuts, outSizes, scratchBytes }),
    ),
    120,
  );
});

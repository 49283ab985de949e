import { deepStrictEqual, strictEqual } from "node:assert/strict";
import fc from "fast-check";
import {
  type KernelSet,
  KernelStatus,
  MergeState,
  ReferenceKernels,
  WasmKernels,
} from "../../src/kernels/mod.ts";
import { checkProperty } from "../_support/property.ts";
import { Arena, compareBytes, decodeRecords, encodeRecords, recordsArbitrary } from "./_arena.ts";

/** How a run arrives: its encoded bytes cut into blocks at the given sizes (cycled). */
interface RunInput {
  stream: Uint8Array;
  cuts: number[];
}

/**
 * Merges `runs` with `kernels`, refilling inputs the way a reader would: on `needInput`, the
 * unread tail of that input plus its next block are copied into its buffer. Returns the output
 * blocks and the statuses seen.
 */
function runMerge(
  kernels: KernelSet,
  arena: Arena,
  runs: RunInput[],
  options: {
    reverse: boolean;
    outSizes: number[];
    stateOffset: number;
    buffers: number[];
    outOffset: number;
  },
): { blocks: string[]; statuses: number[] } {
  const state = new MergeState(arena.memory, {
    byteOffset: options.stateOffset,
    inputCount: runs.length,
  });
  state.start({ reverse: options.reverse });
  const read = runs.map(() => 0);
  const cutIndex = runs.map(() => 0);
  const refill = (i: number) => {
    const run = runs[i]!;
    const buffer = options.buffers[i]!;
    const tail = arena.bytes.slice(state.inputOffset(i), state.inputEnd(i));
    const cut = run.cuts[cutIndex[i]! % run.cuts.length]!;
    cutIndex[i]! += 1;
    const block = run.stream.subarray(read[i]!, read[i]! + cut);
    read[i]! += block.length;
    arena.bytes.set(tail, buffer);
    arena.bytes.set(block, buffer + tail.length);
    state.setInput(i, {
      byteOffset: buffer,
      byteEnd: buffer + tail.length + block.length,
      finished: read[i]! >= run.stream.length,
    });
  };
  runs.forEach((_, i) => refill(i));
  const blocks: string[] = [];
  const statuses: number[] = [];
  let outIndex = 0;
  state.setOutput(options.outOffset, options.outOffset + options.outSizes[0]!);
  for (let step = 0;; step += 1) {
    if (step > 1_000_000) throw new Error("merge does not progress");
    const status = kernels.mergeStep(state.byteOffset);
    statuses.push(status);
    if (status === KernelStatus.needInput) {
      refill(state.inputAsking);
      continue;
    }
    strictEqual(status === KernelStatus.corrupt, false, `corrupt input ${state.inputAsking}`);
    const block = arena.bytes.slice(options.outOffset, state.outputOffset);
    blocks.push(Array.from(block, (x) => x.toString(16).padStart(2, "0")).join(""));
    if (status === KernelStatus.done) break;
    outIndex += 1;
    const size = options.outSizes[outIndex % options.outSizes.length]!;
    state.setOutput(options.outOffset, options.outOffset + size);
  }
  strictEqual(state.hasPending, false);
  return { blocks, statuses };
}

function checkMerge(
  runs: Uint8Array[][],
  options: { reverse: boolean; cuts: number[]; outSizes: number[] },
): void {
  const sign = options.reverse ? -1 : 1;
  const sorted = runs.map((run) => [...run].sort((a, b) => compareBytes(a, b) * sign));
  const inputs = sorted.map((run) => ({ stream: encodeRecords(run), cuts: options.cuts }));
  const longest = Math.max(0, ...inputs.map((i) => i.stream.length));
  const arena = new Arena(
    MergeState.bytes(runs.length) + runs.length * (2 * longest + 8192) + 65536 * 2,
  );
  const stateOffset = arena.take(MergeState.bytes(runs.length));
  const buffers = inputs.map(() => arena.take(2 * longest + 8192));
  const outOffset = arena.take(65536);
  const oracle = arena.clone();
  const layout = { ...options, stateOffset, buffers, outOffset };
  const kernel = runMerge(new WasmKernels(arena.memory), arena, inputs, layout);
  const reference = runMerge(new ReferenceKernels(oracle.memory), oracle, inputs, layout);
  deepStrictEqual(kernel, reference);
  const stream = Uint8Array.from(
    kernel.blocks.join("").match(/../g)?.map((h) => parseInt(h, 16)) ?? [],
  );
  // A stable merge: equal records keep run order (JS sort is stable).
  const expected = sorted.flat().sort((a, b) => compareBytes(a, b) * sign);
  deepStrictEqual(decodeRecords(stream), expected);
}

Deno.test("merge kernel merges examples, refilling inputs and spanning output blocks", () => {
  const enc = (words: string[]) => words.map((w) => new TextEncoder().encode(w));
  const runs = [
    enc(["b", "d", "f", "zzzzzzzzzzzz"]),
    enc(["", "a", "d", "e"]),
    enc([]),
    enc(["c"]),
  ];
  for (const reverse of [false, true]) {
    checkMerge(runs, { reverse, cuts: [1 << 20], outSizes: [1 << 15] });
    checkMerge(runs, { reverse, cuts: [1], outSizes: [1] });
    checkMerge(runs, { reverse, cuts: [3, 1, 7], outSizes: [2, 5] });
  }
  checkMerge([enc(["only"])], { reverse: false, cuts: [2], outSizes: [3] });
  checkMerge([enc(["a".repeat(200), "a".repeat(200)]), enc(["a".repeat(200)])], {
    reverse: false,
    cuts: [64],
    outSizes: [100],
  });
});

Deno.test("merge kernel agrees with the oracle on random runs, cuts and block sizes", () => {
  checkProperty(
    fc.property(
      fc.array(recordsArbitrary(300), { minLength: 1, maxLength: 6 }),
      fc.boolean(),
      fc.array(fc.oneof(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 7, max: 3000 })), {
        minLength: 1,
        maxLength: 3,
      }),
      fc.array(fc.oneof(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 7, max: 3000 })), {
        minLength: 1,
        maxLength: 3,
      }),
      (runs, reverse, cuts, outSizes) => checkMerge(runs, { reverse, cuts, outSizes }),
    ),
    120,
  );
});

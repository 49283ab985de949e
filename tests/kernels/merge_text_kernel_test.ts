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
import { Arena, compareBytes, recordsArbitrary } from "./_arena.ts";

interface Options {
  reverse: boolean;
  unique: boolean;
  terminator: number;
  cuts: number[];
  outSizes: number[];
  /** Bytes of the first `-u` scratch (grown on needScratch). */
  scratchBytes: number;
}

/**
 * Merges text streams with `kernels`, refilling an input with its unread tail plus the next cut
 * of its stream (a cut may end inside a line), growing the `-u` scratch when asked. Returns the
 * output blocks (hex) and the records dropped.
 */
function runMerge(
  kernels: KernelSet,
  arena: Arena,
  streams: Uint8Array[],
  options: Options & { stateOffset: number; buffers: number[]; outOffset: number },
): { blocks: string[]; dropped: number; written: number } {
  const state = new MergeLinesState(arena.memory, {
    byteOffset: options.stateOffset,
    inputCount: streams.length,
  });
  state.start({ reverse: options.reverse, terminator: options.terminator, unique: options.unique });
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
  let outIndex = 0;
  merge.setOutput(options.outOffset, options.outOffset + options.outSizes[0]!);
  for (let step = 0;; step += 1) {
    if (step > 1_000_000) throw new Error("merge does not progress");
    const status = kernels.mergeText(state.byteOffset);
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
  return { blocks, dropped: state.droppedCount, written: merge.mergedCount };
}

/** The lines of `run` (the terminator replaced inside them) each followed by the terminator. */
function textOf(run: Uint8Array[], terminator: number): Uint8Array {
  return Uint8Array.from(run.flatMap((line) => [...line, terminator]));
}

function withoutTerminator(runs: Uint8Array[][], terminator: number): Uint8Array[][] {
  const other = terminator === 10 ? 11 : 1;
  return runs.map((run) => run.map((line) => line.map((b) => b === terminator ? other : b)));
}

/** Merges `runs` sorted (or as given, with `sorted: false`) and checks the kernel's output. */
function checkMerge(given: Uint8Array[][], options: Options & { sorted?: boolean }): void {
  const sign = options.reverse ? -1 : 1;
  const clean = withoutTerminator(given, options.terminator);
  const runs = options.sorted === false
    ? clean
    : clean.map((run) => [...run].sort((a, b) => compareBytes(a, b) * sign));
  const streams = runs.map((run) => textOf(run, options.terminator));
  const longest = Math.max(0, ...streams.map((s) => s.length));
  const arena = new Arena(
    MergeLinesState.bytes(runs.length) + runs.length * (2 * longest + 8192) + 65536 * 2 +
      options.scratchBytes + 4 * longest + 8192,
  );
  const stateOffset = arena.take(MergeLinesState.bytes(runs.length));
  const buffers = streams.map(() => arena.take(2 * longest + 8192));
  const outOffset = arena.take(65536);
  const oracle = arena.clone();
  const layout = { ...options, stateOffset, buffers, outOffset };
  const kernel = runMerge(new WasmKernels(arena.memory), arena, streams, layout);
  const reference = runMerge(new ReferenceKernels(oracle.memory), oracle, streams, layout);
  deepStrictEqual(kernel, reference);
  const expected = mergeOracle(runs, sign, options.unique);
  strictEqual(kernel.written, expected.length);
  strictEqual(kernel.dropped, runs.flat().length - expected.length);
  const hex = Array.from(
    textOf(expected, options.terminator),
    (x) => x.toString(16).padStart(2, "0"),
  )
    .join("");
  strictEqual(kernel.blocks.join(""), hex);
}

/**
 * What `sort -m` writes: the smallest head each time (ties: the lower input), whether or not
 * the runs are sorted; with `-u`, lines equal to the last one written are dropped.
 */
function mergeOracle(runs: Uint8Array[][], sign: number, unique: boolean): Uint8Array[] {
  const at = runs.map(() => 0);
  const out: Uint8Array[] = [];
  for (;;) {
    let best = -1;
    for (let i = 0; i < runs.length; i += 1) {
      if (at[i]! >= runs[i]!.length) continue;
      if (best < 0 || compareBytes(runs[i]![at[i]!]!, runs[best]![at[best]!]!) * sign < 0) best = i;
    }
    if (best < 0) return out;
    const line = runs[best]![at[best]!]!;
    at[best]! += 1;
    if (unique && out.length > 0 && compareBytes(out[out.length - 1]!, line) === 0) continue;
    out.push(line);
  }
}

Deno.test("merge-of-text kernel merges examples, with -u, -r, -z and cut lines", () => {
  const enc = (words: string[]) => words.map((w) => new TextEncoder().encode(w));
  const runs = [
    enc(["b", "d", "f", "zzzzzzzzzzzzzzzzzzzz", "zzzzzzzzzzzzzzzzzzzz"]),
    enc(["", "", "a", "d", "e", "abcdefgh", "abcdefgh\x00", "abcdefghi"]),
    enc([]),
    enc(["c", "d"]),
  ];
  for (const reverse of [false, true]) {
    for (const unique of [false, true]) {
      for (const terminator of [10, 0]) {
        const base = { reverse, unique, terminator, scratchBytes: 16 };
        checkMerge(runs, { ...base, cuts: [1 << 20], outSizes: [1 << 15] });
        checkMerge(runs, { ...base, cuts: [1], outSizes: [1] });
        checkMerge(runs, { ...base, cuts: [3, 1, 7], outSizes: [2, 5] });
        checkMerge(runs, { ...base, scratchBytes: 1, cuts: [3, 1, 7], outSizes: [2, 5] });
      }
    }
  }
  checkMerge([enc(["a".repeat(200), "a".repeat(200)]), enc(["a".repeat(200)])], {
    reverse: false,
    unique: true,
    terminator: 10,
    scratchBytes: 8,
    cuts: [64],
    outSizes: [100],
  });
});

Deno.test("merge-of-text kernel merges unsorted inputs head by head, like sort -m", () => {
  const enc = (words: string[]) => words.map((w) => new TextEncoder().encode(w));
  const runs = [enc(["c", "a", "b"]), enc(["b", "a"]), enc(["a", "z", "a"])];
  for (const unique of [false, true]) {
    const options = { reverse: false, unique, terminator: 10, scratchBytes: 4 };
    checkMerge(runs, { ...options, sorted: false, cuts: [2, 5], outSizes: [3] });
  }
});

Deno.test("merge-of-text kernel agrees with the oracle on random runs, cuts and blocks", () => {
  const sizes = fc.array(
    fc.oneof(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 7, max: 3000 })),
    { minLength: 1, maxLength: 3 },
  );
  checkProperty(
    fc.property(
      fc.array(recordsArbitrary(300), { minLength: 1, maxLength: 6 }),
      fc.boolean(),
      fc.boolean(),
      fc.constantFrom(10, 0),
      sizes,
      sizes,
      fc.integer({ min: 1, max: 400 }),
      (runs, reverse, unique, terminator, cuts, outSizes, scratchBytes) =>
        checkMerge(runs, { reverse, unique, terminator, cuts, outSizes, scratchBytes }),
    ),
    120,
  );
});

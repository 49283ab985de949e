import { deepStrictEqual, strictEqual } from "node:assert/strict";
import fc from "fast-check";
import {
  type KernelSet,
  KernelStatus,
  MergeSumState,
  MergeSumStatus,
  ReferenceKernels,
  WasmKernels,
} from "../../src/kernels/mod.ts";
import { checkProperty } from "../_support/property.ts";
import { Arena, compareBytes, decodeRecords, encodeRecords } from "./_arena.ts";

/** A run: `[word, count]` pairs, sorted by word (equal words may repeat). */
type CountRun = [Uint8Array, bigint][];

const MAX = BigInt(Number.MAX_SAFE_INTEGER);

interface Options {
  /** Bytes handed to an input at each refill (cycled). */
  cuts: number[];
  /** Output block sizes (cycled; each at least the longest encoded record). */
  outSizes: number[];
}

interface MergeResult {
  blocks: string[];
  statuses: number[];
  tooLarge: [bigint, bigint] | undefined;
  consumed: number;
  written: number;
}

function record(word: Uint8Array, count: bigint): Uint8Array {
  const out = new Uint8Array(word.length + 8);
  out.set(word);
  new DataView(out.buffer).setBigUint64(word.length, count, false);
  return out;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Runs the summing merge with `kernels`, refilling inputs by the cuts, until done or a stop. */
function runMerge(
  kernels: KernelSet,
  arena: Arena,
  streams: Uint8Array[],
  options: Options & { stateOffset: number; buffers: number[]; outOffset: number },
): MergeResult {
  const state = new MergeSumState(arena.memory, {
    byteOffset: options.stateOffset,
    inputCount: streams.length,
  });
  state.start();
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
  let tooLarge: [bigint, bigint] | undefined = undefined;
  merge.setOutput(options.outOffset, options.outOffset + options.outSizes[0]!);
  for (let step = 0;; step += 1) {
    if (step > 1_000_000) throw new Error("merge does not progress");
    const status = kernels.mergeSum(state.byteOffset);
    statuses.push(status);
    if (status === KernelStatus.needInput) {
      refill(merge.inputAsking);
      continue;
    }
    strictEqual(status === KernelStatus.corrupt, false, `corrupt input ${merge.inputAsking}`);
    if (status === MergeSumStatus.tooLarge) {
      tooLarge = state.tooLarge;
      break;
    }
    const filled = merge.outputOffset - options.outOffset;
    if (status === KernelStatus.outputFull && filled === 0) throw new Error("record never fits");
    blocks.push(hex(arena.bytes.slice(options.outOffset, merge.outputOffset)));
    if (status === KernelStatus.done) break;
    outIndex += 1;
    const size = options.outSizes[outIndex % options.outSizes.length]!;
    merge.setOutput(options.outOffset, options.outOffset + size);
  }
  return { blocks, statuses, tooLarge, consumed: merge.mergedCount, written: state.writtenCount };
}

function checkMerge(runs: CountRun[], options: Options): void {
  const sorted = runs.map((run) => [...run].sort((a, b) => compareBytes(a[0], b[0])));
  const streams = sorted.map((run) => encodeRecords(run.map(([w, c]) => record(w, c))));
  const longest = Math.max(0, ...streams.map((s) => s.length));
  const longestRecord = Math.max(0, ...runs.flat().map(([w]) => w.length + 8 + 3));
  const outSizes = options.outSizes.map((size) => Math.max(size, longestRecord));
  const outBytes = Math.max(...outSizes);
  const arena = new Arena(
    MergeSumState.bytes(runs.length) + runs.length * (2 * longest + 8192) + outBytes + 65536,
  );
  const stateOffset = arena.take(MergeSumState.bytes(runs.length));
  const buffers = streams.map(() => arena.take(2 * longest + 8192));
  const outOffset = arena.take(outBytes);
  const oracle = arena.clone();
  const layout = { cuts: options.cuts, outSizes, stateOffset, buffers, outOffset };
  const kernel = runMerge(new WasmKernels(arena.memory), arena, streams, layout);
  const reference = runMerge(new ReferenceKernels(oracle.memory), oracle, streams, layout);
  deepStrictEqual(kernel, reference);
  // The oracle: every word once, in byte order, with the sum of its counts.
  const all = sorted.flat().sort((a, b) => compareBytes(a[0], b[0]));
  const expected: [Uint8Array, bigint][] = [];
  let overflow = false;
  for (const [w, c] of all) {
    const last = expected[expected.length - 1];
    if (last !== undefined && compareBytes(last[0], w) === 0) {
      last[1] += c;
      if (last[1] > MAX) overflow = true;
    } else {
      expected.push([w, c]);
    }
  }
  if (overflow) {
    strictEqual(kernel.tooLarge !== undefined, true, "a sum past 2^53 - 1 was not reported");
    const [a, b] = kernel.tooLarge!;
    strictEqual(a + b > MAX, true);
    return;
  }
  strictEqual(kernel.tooLarge, undefined);
  strictEqual(kernel.consumed, all.length);
  strictEqual(kernel.written, expected.length);
  const out = decodeRecords(
    Uint8Array.from(kernel.blocks.join("").match(/../g) ?? [], (h) => parseInt(h, 16)),
  );
  deepStrictEqual(out.map(hex), expected.map(([w, c]) => hex(record(w, c))));
  // A word is never split across two output blocks.
  const firstWords = kernel.blocks.map((block) =>
    decodeRecords(Uint8Array.from(block.match(/../g) ?? [], (h) => parseInt(h, 16)))
  );
  for (let i = 1; i < firstWords.length; i += 1) {
    const before = firstWords[i - 1]!.at(-1);
    const after = firstWords[i]![0];
    if (before === undefined || after === undefined) continue;
    const word = (r: Uint8Array) => hex(r.subarray(0, r.length - 8));
    strictEqual(word(before) !== word(after), true, "a word was split across blocks");
  }
}

const enc = (word: string) => new TextEncoder().encode(word);

Deno.test("summing merge kernel sums equal words across runs (examples, cut blocks)", () => {
  const runs: CountRun[] = [
    [[enc("a"), 1n], [enc("b"), 2n], [enc("zzzzzzzzzzzz"), 5n]],
    [[enc(""), 3n], [enc("a"), 4n], [enc("a\u0000"), 1n], [enc("zzzzzzzzzzzz"), 7n]],
    [],
    [[enc("a"), 10n], [enc("ab"), 1n]],
  ];
  for (const cuts of [[1 << 20], [1], [3, 1, 7]]) {
    for (const outSizes of [[1 << 15], [1], [2, 40]]) checkMerge(runs, { cuts, outSizes });
  }
  // Words that differ only after 8 bytes, and words shorter than the count.
  checkMerge([
    [[enc("abcdefgh1"), 1n], [enc("abcdefgh2"), 2n]],
    [[enc("abcdefgh1"), 3n], [enc("abcdefgh"), 9n]],
  ], { cuts: [5], outSizes: [1] });
});

Deno.test("summing merge kernel keeps sums to 2^53 - 1 and stops past it", () => {
  const big = MAX - 5n;
  checkMerge([[[enc("w"), big]], [[enc("w"), 5n]]], { cuts: [4], outSizes: [64] });
  checkMerge([[[enc("w"), big]], [[enc("w"), 6n]]], { cuts: [4], outSizes: [64] });
  checkMerge([[[enc("a"), 1n], [enc("w"), MAX]], [[enc("w"), 1n]]], { cuts: [64], outSizes: [64] });
  checkMerge([[[enc("x"), 2n ** 60n]], [[enc("y"), 1n]]], { cuts: [64], outSizes: [64] });
});

Deno.test("summing merge kernel merges long words cut into many blocks", () => {
  const long = new Uint8Array(70_000).fill(0x61);
  const longer = new Uint8Array(70_001).fill(0x61);
  checkMerge([
    [[long, 1n], [longer, 2n]],
    [[enc("a"), 1n], [long, 3n]],
    [[longer, 4n]],
  ], { cuts: [4096, 1], outSizes: [1] });
});

Deno.test("summing merge kernel agrees with the oracle on random runs, cuts and blocks", () => {
  const alphabet = fc.constantFrom(0x61, 0x62, 0x00, 0xff, 0x7f);
  const word = fc.oneof(
    { weight: 5, arbitrary: fc.array(alphabet, { maxLength: 10 }) },
    { weight: 1, arbitrary: fc.array(alphabet, { minLength: 8, maxLength: 40 }) },
    { weight: 1, arbitrary: fc.array(alphabet, { minLength: 100, maxLength: 400 }) },
  ).map((a) => Uint8Array.from(a));
  const count = fc.oneof(
    { weight: 8, arbitrary: fc.bigInt({ min: 1n, max: 100n }) },
    { weight: 1, arbitrary: fc.bigInt({ min: 1n, max: MAX }) },
    { weight: 1, arbitrary: fc.bigInt({ min: MAX / 2n - 10n, max: MAX / 2n + 10n }) },
  );
  const run = fc.array(fc.tuple(word, count), { maxLength: 40 });
  const sizes = fc.array(
    fc.oneof(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 21, max: 3000 })),
    { minLength: 1, maxLength: 3 },
  );
  checkProperty(
    fc.property(
      fc.array(run, { minLength: 1, maxLength: 7 }),
      sizes,
      sizes,
      (runs, cuts, outSizes) => checkMerge(runs, { cuts, outSizes }),
    ),
    150,
  );
});

Deno.test("summing merge kernel keeps its loser tree across stops and decodes only the asking input again", () => {
  const arena = new Arena(1 << 16);
  const k = 2;
  const stateOffset = arena.take(MergeSumState.bytes(k));
  const treeWord = stateOffset + MergeSumState.bytes(k) - 32 + 12; // ext word 3
  const inputs = [arena.take(256), arena.take(256)];
  const outOffset = arena.take(256);
  const kernels = new WasmKernels(arena.memory);
  const state = new MergeSumState(arena.memory, { byteOffset: stateOffset, inputCount: k });
  state.start();
  const merge = state.merge;
  const give = (i: number, records: Uint8Array[], finished: boolean) => {
    const bytes = encodeRecords(records);
    arena.bytes.set(bytes, inputs[i]!);
    merge.setInput(i, { byteOffset: inputs[i]!, byteEnd: inputs[i]! + bytes.length, finished });
  };
  const treeState = () => arena.view.getUint32(treeWord, true);
  strictEqual(treeState(), 0, "not built after start()");
  give(0, [record(enc("a"), 1n)], false);
  give(1, [record(enc("b"), 2n), record(enc("d"), 4n)], true);
  merge.setOutput(outOffset, outOffset + 256);
  strictEqual(kernels.mergeSum(state.byteOffset), KernelStatus.needInput);
  strictEqual(merge.inputAsking, 0);
  strictEqual(treeState(), 1, "input 0's head is decoded again at the next call");
  const written = decodeRecords(arena.bytes.slice(outOffset, merge.outputOffset));
  give(0, [record(enc("c"), 3n)], true);
  // Room for one record only: "b" is written, then the output is full.
  merge.setOutput(outOffset, outOffset + 1 + 9);
  strictEqual(kernels.mergeSum(state.byteOffset), KernelStatus.outputFull);
  strictEqual(treeState(), 0xffff_ffff, "the tree and the heads stay current");
  written.push(...decodeRecords(arena.bytes.slice(outOffset, merge.outputOffset)));
  merge.setOutput(outOffset, outOffset + 256);
  strictEqual(kernels.mergeSum(state.byteOffset), KernelStatus.done);
  written.push(...decodeRecords(arena.bytes.slice(outOffset, merge.outputOffset)));
  deepStrictEqual(
    written.map(hex),
    [["a", 1n], ["b", 2n], ["c", 3n], ["d", 4n]].map(([w, c]) =>
      hex(record(enc(w as string), c as bigint))
    ),
  );
});

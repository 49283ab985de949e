import { deepStrictEqual, strictEqual } from "node:assert/strict";
import fc from "fast-check";
import { type CountFormat, CountFormatter } from "../../src/count/mod.ts";
import {
  FormatCountsFormat,
  FormatCountsState,
  FormatCountsStatus,
  type KernelSet,
  KernelStatus,
  ReferenceKernels,
  WasmKernels,
} from "../../src/kernels/mod.ts";
import { checkProperty } from "../_support/property.ts";
import { Arena, encodeRecords } from "./_arena.ts";

const MAX = Number.MAX_SAFE_INTEGER;
const KERNEL_FORMATS = ["tsv", "uniq", "csv"] as const;

interface Result {
  text: number[];
  statuses: number[];
  lines: number;
  records: number;
  recordBytes: number;
}

function record(word: Uint8Array, count: number): Uint8Array {
  const out = new Uint8Array(word.length + 8);
  out.set(word);
  new DataView(out.buffer).setBigUint64(word.length, BigInt(count), false);
  return out;
}

/** Formats `stream` with `kernels`, output blocks of the given sizes (cycled). */
function runFormat(
  kernels: KernelSet,
  arena: Arena,
  stream: Uint8Array,
  options: {
    format: number;
    minCount: number;
    outSizes: number[];
    stateOffset: number;
    inOffset: number;
    outOffset: number;
  },
): Result {
  arena.bytes.set(stream, options.inOffset);
  const state = new FormatCountsState(arena.memory, options.stateOffset);
  state.start({ format: options.format, minCount: options.minCount });
  state.setInput(options.inOffset, options.inOffset + stream.length);
  const text: number[] = [];
  const statuses: number[] = [];
  for (let block = 0;; block += 1) {
    if (block > 100_000) throw new Error("format does not progress");
    const size = options.outSizes[block % options.outSizes.length]!;
    state.setOutput(options.outOffset, options.outOffset + size);
    const status = kernels.formatCounts(state.byteOffset);
    statuses.push(status);
    strictEqual(status === KernelStatus.corrupt, false, "corrupt input");
    text.push(...arena.bytes.subarray(options.outOffset, state.outputOffset));
    if (status === KernelStatus.done) break;
    // A line longer than this block: the caller would take the JS path; the test grows it.
    if (state.outputOffset === options.outOffset) options.outSizes = [size * 2];
  }
  return {
    text,
    statuses,
    lines: state.lineCount,
    records: state.recordCount,
    recordBytes: state.recordBytes,
  };
}

/** The JS formatter's lines for the same pairs (without the csv header). */
function oracle(pairs: [Uint8Array, number][], format: CountFormat, minCount: number): number[] {
  const out: number[] = [];
  const formatter = new CountFormatter({
    write(bytes, offset, length) {
      out.push(...bytes.subarray(offset, offset + length));
      return undefined;
    },
  }, format);
  for (const [word, count] of pairs) {
    if (count >= minCount) formatter.word(word, 0, word.length, count);
  }
  return out;
}

function checkFormat(
  pairs: [Uint8Array, number][],
  format: (typeof KERNEL_FORMATS)[number],
  minCount: number,
  outSizes: number[],
): void {
  const stream = encodeRecords(pairs.map(([w, c]) => record(w, c)));
  const longest = Math.max(0, ...pairs.map(([w]) => 2 * w.length + 20));
  const sizes = outSizes.map((size) => Math.max(1, size));
  const arena = new Arena(stream.length + 2 * Math.max(longest, ...sizes) + 65536);
  const stateOffset = arena.take(FormatCountsState.bytes);
  const inOffset = arena.take(stream.length + 8);
  const outOffset = arena.take(2 * Math.max(longest, ...sizes));
  const oracleArena = arena.clone();
  const layout = {
    format: FormatCountsFormat[format],
    minCount,
    stateOffset,
    inOffset,
    outOffset,
  };
  const kernel = runFormat(new WasmKernels(arena.memory), arena, stream, {
    ...layout,
    outSizes: [...sizes],
  });
  const reference = runFormat(new ReferenceKernels(oracleArena.memory), oracleArena, stream, {
    ...layout,
    outSizes: [...sizes],
  });
  deepStrictEqual(kernel, reference);
  deepStrictEqual(
    new TextDecoder().decode(Uint8Array.from(kernel.text)),
    new TextDecoder().decode(Uint8Array.from(oracle(pairs, format, minCount))),
  );
  deepStrictEqual(kernel.text, oracle(pairs, format, minCount));
  strictEqual(kernel.records, pairs.length);
  strictEqual(kernel.lines, pairs.filter(([, c]) => c >= minCount).length);
  strictEqual(kernel.recordBytes, pairs.reduce((sum, [w]) => sum + w.length + 8, 0));
}

const enc = (word: string) => new TextEncoder().encode(word);

Deno.test("count formatter kernel writes tsv, uniq and csv lines as the JS formatter", () => {
  const pairs: [Uint8Array, number][] = [
    [enc(""), 1],
    [enc("a"), 9],
    [enc("word"), 10],
    [enc('say, "hi"'), 1234567],
    [enc("tab\there\rcr"), 12345678],
    [enc("line\nbreak"), MAX],
    [enc('""'), 100],
    [enc("héllo wörld"), 42],
    [new Uint8Array([0xff, 0x00, 0x2c]), 7],
    [new Uint8Array(300).fill(0x22), 3],
    [new Uint8Array(20_000).fill(0x61), 1_000_000_000_000],
  ];
  for (const format of KERNEL_FORMATS) {
    for (const minCount of [0, 1, 10, MAX]) {
      for (const outSizes of [[1 << 16], [1], [7, 30, 100]]) {
        checkFormat(pairs, format, minCount, outSizes);
      }
    }
    checkFormat([], format, 1, [16]);
  }
});

Deno.test("count formatter kernel stops at the line that does not fit, never splitting it", () => {
  const arena = new Arena(65536);
  const stateOffset = arena.take(FormatCountsState.bytes);
  const stream = encodeRecords([record(enc("ab"), 5), record(enc("cd"), 12)]);
  const inOffset = arena.take(stream.length);
  arena.bytes.set(stream, inOffset);
  const outOffset = arena.take(64);
  const kernels = new WasmKernels(arena.memory);
  const state = new FormatCountsState(arena.memory, stateOffset);
  state.start({ format: FormatCountsFormat.tsv, minCount: 1 });
  state.setInput(inOffset, inOffset + stream.length);
  state.setOutput(outOffset, outOffset + 6); // "ab\t5\n" fits (5), "cd\t12\n" does not (6 + 5)
  strictEqual(kernels.formatCounts(stateOffset), KernelStatus.outputFull);
  strictEqual(state.outputOffset, outOffset + 5);
  strictEqual(state.inputOffset, inOffset + 11);
  strictEqual(state.lineCount, 1);
  state.setOutput(outOffset, outOffset + 6);
  strictEqual(kernels.formatCounts(stateOffset), KernelStatus.done);
  strictEqual(new TextDecoder().decode(arena.bytes.subarray(outOffset, outOffset + 6)), "cd\t12\n");
});

Deno.test("count formatter kernel reports a record cut short or too short for its count", () => {
  for (const bad of [[0x85, 0x61], [3, 0x61, 0x62, 0x63], [0x80], [0x80, 0x80, 0x80, 0x80, 0x80]]) {
    for (const kernels of ["wasm", "reference"]) {
      const arena = new Arena(65536);
      const stateOffset = arena.take(FormatCountsState.bytes);
      const inOffset = arena.take(16);
      arena.bytes.set(bad, inOffset);
      const outOffset = arena.take(256);
      const set = kernels === "wasm"
        ? new WasmKernels(arena.memory)
        : new ReferenceKernels(arena.memory);
      const state = new FormatCountsState(arena.memory, stateOffset);
      state.start({ format: FormatCountsFormat.tsv, minCount: 1 });
      state.setInput(inOffset, inOffset + bad.length);
      state.setOutput(outOffset, outOffset + 256);
      strictEqual(set.formatCounts(stateOffset), KernelStatus.corrupt, `${kernels} ${bad}`);
      strictEqual(state.inputOffset, inOffset);
    }
  }
});

Deno.test("count formatter kernel agrees with the JS formatter on random records", () => {
  const alphabet = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(0x61, 0x2c, 0x22, 0x0a, 0x0d, 0x09, 0x20, 0xff) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
  );
  const word = fc.oneof(
    { weight: 6, arbitrary: fc.array(alphabet, { maxLength: 12 }) },
    { weight: 1, arbitrary: fc.array(alphabet, { minLength: 100, maxLength: 300 }) },
  ).map((a) => Uint8Array.from(a));
  const count = fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 1, max: 20 }) },
    { weight: 2, arbitrary: fc.integer({ min: 999_999, max: 100_000_000 }) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: MAX }) },
    { weight: 1, arbitrary: fc.constantFrom(0, 9, 10, 9_999_999, 10_000_000, MAX) },
  );
  checkProperty(
    fc.property(
      fc.array(fc.tuple(word, count), { maxLength: 60 }),
      fc.constantFrom(...KERNEL_FORMATS),
      fc.constantFrom(0, 1, 2, 10),
      fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 3 }),
      (pairs, format, minCount, outSizes) => checkFormat(pairs, format, minCount, outSizes),
    ),
    200,
  );
});

Deno.test("count formatter kernel copies the records of one count and stops above it", () => {
  const counts = [1, 2, 2, 5, 2, 1, 9, 2, 2];
  const words = counts.map((_, i) => i === 4 ? new Uint8Array(200).fill(0x62) : enc(`w${i}`));
  const stream = encodeRecords(words.map((w, i) => record(w, counts[i]!)));
  for (const kernels of ["wasm", "reference"] as const) {
    for (const outBytes of [4096, 40]) {
      const arena = new Arena(65536);
      const stateOffset = arena.take(FormatCountsState.bytes);
      const inOffset = arena.take(stream.length);
      arena.bytes.set(stream, inOffset);
      const outOffset = arena.take(4096);
      const set = kernels === "wasm"
        ? new WasmKernels(arena.memory)
        : new ReferenceKernels(arena.memory);
      const state = new FormatCountsState(arena.memory, stateOffset);
      state.start({ format: FormatCountsFormat.records, minCount: 2, maxCount: 2 });
      state.setInput(inOffset, inOffset + stream.length);
      const copied: number[] = [];
      const above: number[] = [];
      const statuses: number[] = [];
      for (let step = 0; step < 100; step += 1) {
        state.setOutput(outOffset, outOffset + outBytes);
        const status = set.formatCounts(stateOffset);
        statuses.push(status);
        copied.push(...arena.bytes.subarray(outOffset, state.outputOffset));
        if (status === KernelStatus.done) break;
        if (status === FormatCountsStatus.above || state.outputOffset === outOffset) {
          // Take the record at the input position by hand, as the caller does.
          const at = state.inputOffset;
          const length = arena.bytes[at]! < 0x80
            ? arena.bytes[at]! + 1
            : (arena.bytes[at]! & 0x7f) + arena.bytes[at + 1]! * 128 + 2;
          if (status === FormatCountsStatus.above) above.push(at - inOffset);
          state.setInput(at + length, inOffset + stream.length);
        }
      }
      const twos = words.filter((_, i) => counts[i] === 2 && (outBytes > 200 || i !== 4));
      deepStrictEqual(
        copied,
        [...encodeRecords(twos.map((w) => record(w, 2)))],
        `${kernels} ${outBytes}`,
      );
      strictEqual(above.length, 2, `${kernels} stops at the counts 5 and 9: ${statuses}`);
      strictEqual(state.lineCount, outBytes > 200 ? 5 : 4);
    }
  }
});

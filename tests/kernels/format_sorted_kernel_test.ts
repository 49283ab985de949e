import { deepStrictEqual, strictEqual } from "node:assert/strict";
import fc from "fast-check";
import { CountFormatter } from "../../src/count/mod.ts";
import {
  FormatCountsFormat,
  FormatSortedState,
  type KernelSet,
  KernelStatus,
  ReferenceKernels,
  WasmKernels,
} from "../../src/kernels/mod.ts";
import { checkProperty } from "../_support/property.ts";
import { Arena } from "./_arena.ts";

const SEGMENT_SHIFT = 10; // 1 KiB pages: a word of up to ~1000 bytes
const FORMATS = ["tsv", "uniq", "csv"] as const;

interface Table {
  indexOffset: number;
  pageTableOffset: number;
  entryCount: number;
}

/**
 * Lays `pairs` out as a kernel-sorted count table would be, in the index order given: keys
 * in pages (count order `[~count][word]`, word order `[word][count]`), a page table, and the
 * index's 16-byte entries `[prefix, prefix, page << shift | offset, key bytes]`.
 */
function layOut(arena: Arena, pairs: [Uint8Array, bigint][], countOrder: boolean): Table {
  const pageBytes = 1 << SEGMENT_SHIFT;
  const pages: number[] = [];
  const entries: number[] = [];
  let page = -1;
  let used = pageBytes;
  for (const [word, count] of pairs) {
    const keyLength = word.length + 8;
    if (used + keyLength > pageBytes) {
      pages.push(arena.take(pageBytes, 8));
      page += 1;
      used = 0;
    }
    const key = pages[page]! + used;
    const view = arena.view;
    if (countOrder) {
      view.setBigUint64(key, ~count & 0xffff_ffff_ffff_ffffn, false);
      arena.bytes.set(word, key + 8);
    } else {
      arena.bytes.set(word, key);
      view.setBigUint64(key + word.length, count, false);
    }
    entries.push(
      0x1234,
      0x5678,
      (page << SEGMENT_SHIFT) | used,
      countOrder ? keyLength : word.length,
    );
    used += keyLength + (4 - keyLength % 4) % 4;
  }
  const pageTableOffset = arena.take(4 * Math.max(1, pages.length));
  new Uint32Array(arena.memory.buffer, pageTableOffset, pages.length).set(pages);
  const indexOffset = arena.take(16 * Math.max(1, entries.length), 16);
  new Uint32Array(arena.memory.buffer, indexOffset, entries.length).set(entries);
  return { indexOffset, pageTableOffset, entryCount: pairs.length };
}

/** Runs formatSorted with output blocks of the given sizes (cycled); the lines and counters. */
function run(
  kernels: KernelSet,
  arena: Arena,
  table: Table,
  options: { countOrder: boolean; format: number; minCount: number; outSizes: number[] },
): { text: number[]; statuses: number[]; lines: number; recordBytes: number } {
  const stateOffset = arena.take(FormatSortedState.bytes);
  const outOffset = arena.take(1 << 16);
  const state = new FormatSortedState(arena.memory, stateOffset);
  state.start({ ...table, segmentShift: SEGMENT_SHIFT, ...options });
  const text: number[] = [];
  const statuses: number[] = [];
  let sizes = options.outSizes;
  for (let block = 0;; block += 1) {
    if (block > 100_000) throw new Error("formatSorted does not progress");
    const size = sizes[block % sizes.length]!;
    state.setOutput(outOffset, outOffset + size);
    const status = kernels.formatSorted(state.byteOffset);
    statuses.push(status);
    text.push(...arena.bytes.subarray(outOffset, state.outputOffset));
    if (status === KernelStatus.done) break;
    strictEqual(status, KernelStatus.outputFull);
    if (state.outputOffset === outOffset) sizes = [size * 2]; // a line longer than the block
  }
  strictEqual(state.nextEntry, table.entryCount);
  return { text, statuses, lines: state.lineCount, recordBytes: state.recordBytes };
}

/** The JS formatter's lines for the pairs in order (without the csv header). */
function oracle(pairs: [Uint8Array, bigint][], format: "tsv" | "uniq" | "csv", minCount: number) {
  const out: number[] = [];
  const formatter = new CountFormatter({
    write(bytes, offset, length) {
      out.push(...bytes.subarray(offset, offset + length));
      return undefined;
    },
  }, format);
  for (const [word, count] of pairs) {
    if (count >= BigInt(minCount)) formatter.word(word, 0, word.length, Number(count));
  }
  return out;
}

function check(
  pairs: [Uint8Array, bigint][],
  countOrder: boolean,
  format: "tsv" | "uniq" | "csv",
  minCount: number,
  outSizes: number[],
): void {
  const arena = new Arena(1 << 22);
  const table = layOut(arena, pairs, countOrder);
  const reference = arena.clone();
  const options = { countOrder, format: FormatCountsFormat[format], minCount, outSizes };
  const kernel = run(new WasmKernels(arena.memory), arena, table, options);
  const oracleRun = run(new ReferenceKernels(reference.memory), reference, table, options);
  deepStrictEqual(kernel, oracleRun);
  deepStrictEqual(arena.bytes, reference.bytes, "the kernel's memory differs from the oracle's");
  deepStrictEqual(kernel.text, oracle(pairs, format, minCount));
  const kept = pairs.filter(([, count]) => count >= BigInt(minCount));
  strictEqual(kernel.lines, kept.length);
  strictEqual(kernel.recordBytes, pairs.reduce((sum, [word]) => sum + word.length + 8, 0));
}

const enc = (text: string) => new TextEncoder().encode(text);

Deno.test("formatSorted writes a sorted table's lines like the JS formatter (examples)", () => {
  const pairs: [Uint8Array, bigint][] = [
    [enc("the"), 62_000n],
    [enc("a,b"), 300n],
    [enc('say "hi"'), 255n],
    [enc("x"), 2n],
    [enc(""), 1n],
    [new Uint8Array([0xff, 0x0a, 0x0d]), 1n],
    [new Uint8Array(900).fill(0x22), 9_007_199_254_740_991n],
  ];
  for (const countOrder of [false, true]) {
    for (const format of FORMATS) {
      for (const minCount of [0, 1, 2, 300]) {
        check(pairs, countOrder, format, minCount, [1 << 16]);
        check(pairs, countOrder, format, minCount, [1, 7, 40]);
      }
      check([], countOrder, format, 1, [16]);
    }
  }
});

Deno.test("formatSorted agrees with the oracle and the JS formatter on random tables", () => {
  const word = fc.oneof(
    { weight: 5, arbitrary: fc.uint8Array({ maxLength: 12 }) },
    { weight: 2, arbitrary: fc.constantFrom(enc(","), enc('"'), enc("\r\n"), enc("")) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 100, maxLength: 600 }) },
  );
  const count = fc.oneof(
    fc.bigInt({ min: 1n, max: 300n }),
    fc.constantFrom(255n, 256n, 65_535n, 9_999_999n, 10_000_000n),
    fc.bigInt({ min: 1n, max: 2n ** 53n - 1n }),
  );
  checkProperty(
    fc.property(
      fc.array(fc.tuple(word, count), { maxLength: 60 }),
      fc.boolean(),
      fc.constantFrom(...FORMATS),
      fc.integer({ min: 0, max: 5 }),
      fc.array(fc.integer({ min: 1, max: 2000 }), { minLength: 1, maxLength: 4 }),
      (pairs, countOrder, format, minCount, outSizes) => {
        check(pairs, countOrder, format, minCount, outSizes);
      },
    ),
  );
});

import { deepStrictEqual } from "node:assert/strict";
import fc from "fast-check";
import { WasmKernels } from "../../src/kernels/mod.ts";
import { checkProperty } from "../_support/property.ts";
import { Arena } from "./_arena.ts";

const SPACE = new Set([0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]);
const bytesArbitrary = fc.array(
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(0x61, 0x62, 0x20, 0x0a, 0x09, 0x0d) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
  ),
  { maxLength: 200 },
).map((a) => Uint8Array.from(a));

/** The tokens of `bytes` one a line, as `tr -s` over all ASCII whitespace would write them. */
function referenceTokenLines(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let afterToken = false;
  for (const byte of bytes) {
    if (SPACE.has(byte)) {
      if (afterToken) out.push(0x0a);
      afterToken = false;
    } else {
      out.push(byte);
      afterToken = true;
    }
  }
  return out;
}

Deno.test("tokenLines rewrites whitespace runs as one LF after each token (property)", () => {
  const kernels = new WasmKernels(new Arena(1 << 16).memory);
  checkProperty(
    fc.property(bytesArbitrary, fc.integer({ min: 1, max: 7 }), (bytes, shift) => {
      const at = 1024 + shift; // unaligned on purpose
      const memory = new Uint8Array(kernels.memory.buffer);
      memory.set(bytes, at);
      const length = kernels.tokenLines(at, bytes.length);
      deepStrictEqual([...memory.subarray(at, at + length)], referenceTokenLines(bytes));
    }),
  );
});

/** `uniq -c` in tsv (`word TAB count LF`) over sorted lines; with `split`, see below. */
function referenceCounts(
  lines: string[],
  minCount = 1,
  split = false,
): [string, string, number] {
  let out = "";
  let keyed = "";
  let written = 0;
  for (let i = 0; i < lines.length;) {
    let j = i + 1;
    while (j < lines.length && lines[j] === lines[i]) j += 1;
    const count = j - i;
    if (count >= minCount) written += 1;
    if (split && count > minCount) keyed += `${keyOf(count)}${lines[i]}\n`;
    else if (count >= minCount) out += `${lines[i]}\t${count}\n`;
    i = j;
  }
  return [out, keyed, written];
}

/** A keyed line's key: `~count` (u64) as 16 lower-case hex digits. */
function keyOf(count: number): string {
  return (0xffffffffffffffffn - BigInt(count)).toString(16).padStart(16, "0");
}

const COUNT_LINES_STATE_BYTES = 96;

/**
 * Runs countLines over `text` cut in regions of whole lines (`cuts`), with outputs of
 * `outBytes`; returns the count lines, the keyed lines and how many lines it says it wrote.
 */
function runCountLines(
  arena: Arena,
  kernels: WasmKernels,
  areas: { state: number; carry: number; input: number; output: number; keyed: number },
  text: Uint8Array,
  options: { cuts: number[]; outBytes: number; minCount: number; split: boolean },
): [string, string, number] {
  const { state, carry, input, output, keyed } = areas;
  new Uint8Array(arena.memory.buffer).set(text, input);
  const words32 = new Uint32Array(arena.memory.buffer, state, COUNT_LINES_STATE_BYTES / 4);
  words32.fill(0);
  words32[7] = carry;
  const counts = new BigUint64Array(arena.memory.buffer, state, COUNT_LINES_STATE_BYTES / 8);
  counts[7] = BigInt(options.minCount);
  counts[8] = options.split ? BigInt(options.minCount) : 0n;
  let written = "";
  let keyedWritten = "";
  let from = 0;
  let cut = 0;
  // Regions of whole lines, each at least `cuts[k]` bytes.
  while (true) {
    const final = from >= text.length;
    let to = Math.min(text.length, from + options.cuts[cut++ % options.cuts.length]!);
    while (to < text.length && text[to - 1] !== 0x0a) to += 1;
    words32[0] = input + from;
    words32[1] = input + (final ? from : to);
    words32[9] = final ? 1 : 0;
    while (true) {
      words32[2] = output;
      words32[3] = output + options.outBytes;
      words32[18] = keyed;
      words32[19] = keyed + options.outBytes;
      const status = kernels.countLines(state);
      const decode = (at: number, end: number) =>
        new TextDecoder().decode(new Uint8Array(arena.memory.buffer, at, end - at));
      written += decode(output, words32[2]!);
      keyedWritten += decode(keyed, words32[18]!);
      if (status === 0) break;
    }
    if (final) break;
    from = to;
  }
  return [written, keyedWritten, words32[10]!];
}

Deno.test("countLines counts equal neighbours across regions and small outputs (property)", () => {
  const arena = new Arena(1 << 20);
  const kernels = new WasmKernels(arena.memory);
  const areas = {
    state: arena.take(COUNT_LINES_STATE_BYTES),
    carry: arena.take(4096),
    input: arena.take(65536),
    output: arena.take(65536),
    keyed: arena.take(65536),
  };
  const wordArbitrary = fc.stringMatching(/^[ab]{0,70}$/);
  checkProperty(
    fc.property(
      fc.array(wordArbitrary, { maxLength: 60 }),
      fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 5 }),
      fc.integer({ min: 90, max: 400 }),
      fc.integer({ min: 1, max: 3 }),
      fc.boolean(),
      (words, cuts, outBytes, minCount, split) => {
        const lines = words.sort();
        const text = new TextEncoder().encode(lines.map((line) => `${line}\n`).join(""));
        const options = { cuts, outBytes, minCount, split };
        deepStrictEqual(
          runCountLines(arena, kernels, areas, text, options),
          referenceCounts(lines, minCount, split),
        );
      },
    ),
  );
});

Deno.test("keyedLines writes sorted keyed lines as count lines in count order (property)", () => {
  const arena = new Arena(1 << 20);
  const kernels = new WasmKernels(arena.memory);
  const state = arena.take(COUNT_LINES_STATE_BYTES);
  const input = arena.take(65536);
  const output = arena.take(65536);
  checkProperty(
    fc.property(
      fc.uniqueArray(fc.stringMatching(/^[ab,"]{0,40}$/), { maxLength: 60 }),
      fc.array(fc.oneof(fc.integer({ min: 2, max: 20 }), fc.constant(2 ** 53 - 1)), {
        minLength: 60,
        maxLength: 60,
      }),
      fc.integer({ min: 60, max: 300 }),
      fc.constantFrom(0, 1, 2),
      (words, counts, outBytes, format) => {
        const lines = words.map((word, i) => `${keyOf(counts[i]!)}${word}\n`).sort();
        const text = new TextEncoder().encode(lines.join(""));
        new Uint8Array(arena.memory.buffer).set(text, input);
        const words32 = new Uint32Array(arena.memory.buffer, state, COUNT_LINES_STATE_BYTES / 4);
        words32.fill(0);
        words32[0] = input;
        words32[1] = input + text.length;
        words32[4] = format;
        let written = "";
        while (true) {
          words32[2] = output;
          words32[3] = output + outBytes;
          const status = kernels.keyedLines(state);
          written += new TextDecoder().decode(
            new Uint8Array(arena.memory.buffer, output, words32[2]! - output),
          );
          if (status === 0) break;
        }
        const expected = words
          .map((word, i) => ({ word, count: counts[i]! }))
          .sort((a, b) => b.count - a.count || (a.word < b.word ? -1 : a.word > b.word ? 1 : 0))
          .map(({ word, count }) => formatLine(word, count, format))
          .join("");
        deepStrictEqual(written, expected);
        deepStrictEqual(words32[10], words.length);
      },
    ),
  );
});

/** A count line in the kernels' tsv (0), uniq (1) or csv (2). */
function formatLine(word: string, count: number, format: number): string {
  if (format === 0) return `${word}\t${count}\n`;
  if (format === 1) return `${String(count).padStart(7)} ${word}\n`;
  const quoted = /[,"\r\n]/.test(word) ? `"${word.replaceAll('"', '""')}"` : word;
  return `${quoted},${count}\n`;
}

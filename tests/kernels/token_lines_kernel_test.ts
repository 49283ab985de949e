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

/** `uniq -c` in tsv (`word TAB count LF`) over sorted lines. */
function referenceCounts(lines: string[]): string {
  let out = "";
  for (let i = 0; i < lines.length;) {
    let j = i + 1;
    while (j < lines.length && lines[j] === lines[i]) j += 1;
    out += `${lines[i]}\t${j - i}\n`;
    i = j;
  }
  return out;
}

Deno.test("countLines counts equal neighbours across regions and small outputs (property)", () => {
  const arena = new Arena(1 << 20);
  const kernels = new WasmKernels(arena.memory);
  const state = arena.take(64);
  const carry = arena.take(4096);
  const input = arena.take(65536);
  const output = arena.take(65536);
  const wordArbitrary = fc.stringMatching(/^[ab]{0,70}$/);
  checkProperty(
    fc.property(
      fc.array(wordArbitrary, { maxLength: 60 }),
      fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 5 }),
      fc.integer({ min: 80, max: 400 }),
      (words, cuts, outBytes) => {
        const lines = words.sort();
        const text = new TextEncoder().encode(lines.map((line) => `${line}\n`).join(""));
        new Uint8Array(arena.memory.buffer).set(text, input);
        const words32 = new Uint32Array(arena.memory.buffer, state, 16);
        words32.fill(0);
        words32[7] = carry;
        let written = "";
        let from = 0;
        let cut = 0;
        // Regions of whole lines, each at least `cuts[k]` bytes.
        while (true) {
          const final = from >= text.length;
          let to = Math.min(text.length, from + cuts[cut++ % cuts.length]!);
          while (to < text.length && text[to - 1] !== 0x0a) to += 1;
          words32[0] = input + from;
          words32[1] = input + (final ? from : to);
          words32[9] = final ? 1 : 0;
          while (true) {
            words32[2] = output;
            words32[3] = output + outBytes;
            const status = kernels.countLines(state);
            written += new TextDecoder().decode(
              new Uint8Array(arena.memory.buffer, output, words32[2]! - output),
            );
            if (status === 0) break;
          }
          if (final) break;
          from = to;
        }
        deepStrictEqual(written, referenceCounts(lines));
      },
    ),
  );
});

import { deepStrictEqual, notDeepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { MemoryBudgetError, MemoryManager } from "../../src/memory/mod.ts";
import {
  CorpusGenerator,
  type CorpusKind,
  LINE_BLOCK_BYTES,
  LINE_BYTES_MAX,
  LINE_BYTES_MIN,
  RECORD_BYTES,
  TEXT_WORDS_MAX,
} from "../../src/gen/mod.ts";

function generate(
  memory: MemoryManager,
  kind: CorpusKind,
  sizeBytes: number,
  seed: number,
  bufferBytes = 8192,
): Uint8Array {
  using generator = new CorpusGenerator(memory, { kind, sizeBytes, seed });
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(bufferBytes);
  while (!generator.done) {
    const written = generator.fill(buffer, 0, buffer.length);
    strictEqual(written > 0, true, "a fill before done writes something");
    chunks.push(buffer.slice(0, written));
  }
  strictEqual(generator.fill(buffer, 0, buffer.length), 0, "nothing after done");
  const out = new Uint8Array(generator.bytesGenerated);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  strictEqual(offset, generator.bytesGenerated);
  const units = kind === "records"
    ? out.length / RECORD_BYTES
    : out.reduce((count, byte) => count + (byte === 0x0a ? 1 : 0), 0);
  strictEqual(generator.unitsGenerated, units, "units generated");
  return out;
}

function splitLines(bytes: Uint8Array): Uint8Array[] {
  strictEqual(bytes[bytes.length - 1], 0x0a, "ends with a newline");
  const lines: Uint8Array[] = [];
  let start = 0;
  for (let index = 0; index < bytes.length; index += 1) {
    if (bytes[index] === 0x0a) {
      lines.push(bytes.subarray(start, index));
      start = index + 1;
    }
  }
  return lines;
}

const kinds: CorpusKind[] = ["text", "lines", "records"];

Deno.test("CorpusGenerator gives the same bytes for the same seed, whatever the buffer size", () => {
  const memory = new MemoryManager({ budgetBytes: 8 * 1024 * 1024, segmentBytes: 4096 });
  for (const kind of kinds) {
    const first = generate(memory, kind, 50_000, 42, 4096);
    const second = generate(memory, kind, 50_000, 42, 65_536);
    deepStrictEqual(first, second, `${kind}: same seed`);
    const other = generate(memory, kind, 50_000, 43);
    notDeepStrictEqual(first, other, `${kind}: another seed`);
    const defaultSeed = generate(memory, kind, 1000, 1);
    using generator = new CorpusGenerator(memory, { kind, sizeBytes: 1000 });
    const buffer = new Uint8Array(8192);
    const written = generator.fill(buffer, 0, buffer.length);
    deepStrictEqual(buffer.subarray(0, written), defaultSeed, `${kind}: the default seed is 1`);
  }
  memory.assertAllReleased();
});

Deno.test("CorpusGenerator stops text and lines at the first line end at or past the size", () => {
  const memory = new MemoryManager({ budgetBytes: 8 * 1024 * 1024 });
  for (const kind of ["text", "lines"] as const) {
    for (const sizeBytes of [1, 2, 100, 4095, 4096, 123_457]) {
      const bytes = generate(memory, kind, sizeBytes, 7);
      strictEqual(bytes.length >= sizeBytes, true, `${kind} ${sizeBytes}: at least the size`);
      const lines = splitLines(bytes);
      const last = lines[lines.length - 1]!;
      strictEqual(
        bytes.length - (last.length + 1) < sizeBytes,
        true,
        `${kind} ${sizeBytes}: the last line is the one that crosses the size`,
      );
    }
    strictEqual(generate(memory, kind, 0, 7).length, 0, `${kind}: size 0 is empty`);
  }
  memory.assertAllReleased();
});

Deno.test("CorpusGenerator writes ceil(size / 100) records", () => {
  const memory = new MemoryManager({ budgetBytes: 1024 * 1024 });
  for (const [sizeBytes, records] of [[0, 0], [1, 1], [100, 1], [101, 2], [10_000, 100]]) {
    strictEqual(generate(memory, "records", sizeBytes!, 3).length, records! * RECORD_BYTES);
  }
  memory.assertAllReleased();
});

Deno.test("CorpusGenerator lines are 8 to 120 printable ASCII bytes and distinct", () => {
  const memory = new MemoryManager({ budgetBytes: 1024 * 1024 });
  const lines = splitLines(generate(memory, "lines", 2_000_000, 9));
  let shortest = Infinity;
  let longest = 0;
  const seen = new Set<string>();
  const decoder = new TextDecoder();
  for (const line of lines) {
    shortest = Math.min(shortest, line.length);
    longest = Math.max(longest, line.length);
    for (const byte of line) strictEqual(byte >= 0x20 && byte <= 0x7e, true, `byte ${byte}`);
    seen.add(decoder.decode(line));
  }
  strictEqual(shortest, LINE_BYTES_MIN);
  strictEqual(longest, LINE_BYTES_MAX);
  strictEqual(seen.size, lines.length, "no duplicate lines");
  memory.assertAllReleased();
});

Deno.test("CorpusGenerator text lines hold 1 to 20 words of letters and punctuation", () => {
  const memory = new MemoryManager({ budgetBytes: 8 * 1024 * 1024 });
  const lines = splitLines(generate(memory, "text", 1_000_000, 11));
  const wordCounts = new Set<number>();
  let capitalized = 0;
  for (const line of lines) {
    const text = new TextDecoder().decode(line);
    strictEqual(/^[A-Za-z]+(,? [A-Za-z]+)*[.?!]?$/.test(text), true, JSON.stringify(text));
    wordCounts.add(text.split(" ").length);
    if (/^[A-Z]/.test(text)) capitalized += 1;
  }
  strictEqual(Math.min(...wordCounts), 1);
  strictEqual(Math.max(...wordCounts), TEXT_WORDS_MAX);
  const share = capitalized / lines.length;
  strictEqual(share > 0.4 && share < 0.6, true, `capitalized first words: ${share}`);
  memory.assertAllReleased();
});

Deno.test("CorpusGenerator text follows Zipf: the top word dominates", () => {
  const memory = new MemoryManager({ budgetBytes: 8 * 1024 * 1024 });
  let expectedTop: number;
  {
    using generator = new CorpusGenerator(memory, { kind: "text", sizeBytes: 0, seed: 5 });
    expectedTop = generator.topWordProbability;
  }
  strictEqual(expectedTop > 0.08 && expectedTop < 0.1, true, `P(top) = ${expectedTop}`);
  const text = new TextDecoder().decode(generate(memory, "text", 2_000_000, 5));
  const counts = new Map<string, number>();
  let total = 0;
  for (const word of text.toLowerCase().split(/[^a-z]+/)) {
    if (word === "") continue;
    counts.set(word, (counts.get(word) ?? 0) + 1);
    total += 1;
  }
  const ranked = [...counts.values()].sort((a, b) => b - a);
  const top = ranked[0]! / total;
  // Case folding may merge a few words, so allow some slack around the model.
  strictEqual(top > expectedTop * 0.9 && top < expectedTop * 1.3, true, `top share ${top}`);
  strictEqual(ranked[0]! > 1.6 * ranked[1]!, true, "rank 1 about twice rank 2");
  strictEqual(ranked[9]! > 5 * ranked[99]!, true, "rank 10 far above rank 100");
  strictEqual(counts.size > 10_000, true, `many distinct words: ${counts.size}`);
  memory.assertAllReleased();
});

Deno.test("CorpusGenerator records follow the documented gensort-style layout", () => {
  const memory = new MemoryManager({ budgetBytes: 1024 * 1024 });
  const bytes = generate(memory, "records", 300 * RECORD_BYTES, 13);
  const hex = "0123456789ABCDEF";
  const keys = new Set<string>();
  for (let row = 0; row < 300; row += 1) {
    const record = bytes.subarray(row * RECORD_BYTES, (row + 1) * RECORD_BYTES);
    keys.add(Array.from(record.subarray(0, 10)).join(","));
    deepStrictEqual([...record.subarray(10, 12)], [0x00, 0x11]);
    const rowText = new TextDecoder().decode(record.subarray(12, 44));
    strictEqual(rowText, row.toString(16).toUpperCase().padStart(32, "0"));
    deepStrictEqual([...record.subarray(44, 48)], [0x88, 0x99, 0xaa, 0xbb]);
    for (let group = 0; group < 12; group += 1) {
      const digit = hex.charCodeAt((row + group) & 15);
      deepStrictEqual([...record.subarray(48 + group * 4, 52 + group * 4)], [
        digit,
        digit,
        digit,
        digit,
      ]);
    }
    deepStrictEqual([...record.subarray(96, 100)], [0xcc, 0xdd, 0xee, 0xff]);
  }
  strictEqual(keys.size, 300, "random keys are distinct");
  memory.assertAllReleased();
});

Deno.test("CorpusGenerator reserves its text tables from the budget", () => {
  const small = new MemoryManager({ budgetBytes: 512 * 1024, segmentBytes: 4096 });
  throws(() => new CorpusGenerator(small, { kind: "text", sizeBytes: 10 }), MemoryBudgetError);
  small.assertAllReleased();
  const memory = new MemoryManager({ budgetBytes: 8 * 1024 * 1024 });
  {
    using _generator = new CorpusGenerator(memory, { kind: "text", sizeBytes: 10 });
    strictEqual(memory.reservedBytes > 1024 * 1024, true, "tables are reserved");
  }
  memory.assertAllReleased();
  throws(
    () => new CorpusGenerator(memory, { kind: "lines", sizeBytes: 10, seed: -1 }),
    /Invalid seed -1/,
  );
});

Deno.test("CorpusGenerator blocks made one by one concatenate to the whole corpus", () => {
  const memory = new MemoryManager({ budgetBytes: 16 * 1024 * 1024 });
  for (const kind of ["text", "lines"] as const) {
    const sizeBytes = 3 * LINE_BLOCK_BYTES + 12_345;
    const whole = generate(memory, kind, sizeBytes, 21);
    const parts: Uint8Array[] = [];
    let total = 0;
    {
      using generator = new CorpusGenerator(memory, { kind, sizeBytes: 0, seed: 21 });
      const buffer = new Uint8Array(8192);
      for (let block = 0; total < whole.length; block += 1) {
        generator.seekBlock(block);
        let blockBytes = 0;
        while (!generator.done) {
          const written = generator.fill(buffer, 0, buffer.length);
          parts.push(buffer.slice(0, written));
          blockBytes += written;
        }
        strictEqual(blockBytes >= LINE_BLOCK_BYTES, true, "a block reaches the block size");
        strictEqual(blockBytes < LINE_BLOCK_BYTES + generator.unitBytesMax, true);
        total += blockBytes;
      }
    }
    const joined = new Uint8Array(total);
    let offset = 0;
    for (const part of parts) {
      joined.set(part, offset);
      offset += part.length;
    }
    deepStrictEqual(joined.subarray(0, whole.length), whole, `${kind}: blocks = corpus`);
  }
  memory.assertAllReleased();
});

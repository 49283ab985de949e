import { deepStrictEqual, strictEqual } from "node:assert/strict";
import fc from "fast-check";
import {
  CountState,
  CountStatus,
  type KernelSet,
  murmur3,
  ReferenceKernels,
  WasmKernels,
} from "../../src/kernels/mod.ts";
import { hashBytes } from "../../src/count/hash_bytes.ts";
import { unicodeTables } from "../../src/count/unicode_tables.ts";
import { nextWordsToken } from "../../src/kernels/reference_count_words.ts";
import { Tokenizer } from "../../src/count/tokenizer.ts";
import { checkProperty } from "../_support/property.ts";
import { Arena } from "./_arena.ts";

const SEGMENT_BYTES = 256;
const PAGES_MAX = 256;
const BUCKETS_MAX = 1 << 12;

interface CountCase {
  kind: "letters" | "whitespace" | "line" | "words" | "flink";
  /** The kernel: countTokens (default) or count v2's countScan (knows `line` too). */
  kernel?: "countTokens" | "countScan";
  lower: boolean;
  text: Uint8Array;
  /** Input chunk sizes (cycled); the driver cuts at whitespace so tokens never span chunks. */
  chunk: number;
  /**
   * A table of this many buckets from the start (default 4, doubled on request), taking new
   * words a few at a time: each needBuckets raises the entry limit by 3 instead of growing.
   */
  largeBuckets?: number;
}

/** The bucket count from which countScan counts `whitespace` and `letters` in batches. */
const BATCH_BUCKETS_MIN = 1 << 18;

/** Counts `text` with `kernels` in `arena`, growing buckets and adding pages on request. */
function runCount(
  kernels: KernelSet,
  arena: Arena,
  c: CountCase,
): { statuses: number[]; stateOffset: number; scratchOffset: number } {
  const stateOffset = arena.take(CountState.BYTES);
  const pageTableOffset = arena.take(4 * PAGES_MAX);
  const scratchOffset = arena.take(SEGMENT_BYTES);
  const tables = unicodeTables();
  const wordRangesOffset = arena.take(4 * tables.wordRanges.length);
  new Int32Array(arena.memory.buffer, wordRangesOffset).set(tables.wordRanges);
  const lowerRangesOffset = arena.take(4 * tables.lowerRanges.length);
  new Int32Array(arena.memory.buffer, lowerRangesOffset).set(tables.lowerRanges);
  const unicode = {
    wordRangesOffset,
    wordRangeCount: tables.wordRanges.length / 2,
    lowerRangesOffset,
    lowerRangeCount: tables.lowerRanges.length / 4,
  };
  const textOffset = arena.take(c.text.length + 1);
  arena.bytes.set(c.text, textOffset);
  let bucketCount = c.largeBuckets ?? 4;
  let bucketsOffset = arena.take(8 * bucketCount);
  const state = new CountState(arena.memory, stateOffset);
  state.start({
    kind: c.kind,
    lower: c.lower,
    bucketsOffset,
    bucketCount,
    entryLimit: c.largeBuckets === undefined ? bucketCount / 2 : 3,
    pageTableOffset,
    segmentBytes: SEGMENT_BYTES,
    scratchOffset,
    unicode,
  });
  const statuses: number[] = [];
  const isLetter = (byte: number) =>
    (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a);
  const isSeparator = (byte: number) =>
    c.kind === "line"
      ? byte === 0x0a
      : c.kind === "whitespace"
      ? byte === 0x20 || (byte >= 0x09 && byte <= 0x0d)
      : c.kind === "letters"
      ? !isLetter(byte)
      : byte < 0x80 && !isLetter(byte) && !(byte >= 0x30 && byte <= 0x39) && byte !== 0x5f;
  const count = c.kernel === "countScan"
    ? (offset: number) => kernels.countScan(offset)
    : (offset: number) => kernels.countTokens(offset);
  let from = 0;
  while (from < c.text.length) {
    let to = Math.min(c.text.length, from + c.chunk);
    while (to < c.text.length && !isSeparator(c.text[to - 1]!)) to += 1; // whole tokens
    state.setInput(textOffset + from, textOffset + to);
    for (;;) {
      const status = count(stateOffset);
      statuses.push(status);
      if (status === CountStatus.done) break;
      if (status === CountStatus.needBuckets && c.largeBuckets !== undefined) {
        strictEqual(state.entryLimit < bucketCount / 2, true, "test table is full");
        state.entryLimit += 3;
      } else if (status === CountStatus.needBuckets) {
        strictEqual(bucketCount < BUCKETS_MAX, true, "test table is full");
        const grown = arena.take(16 * bucketCount);
        kernels.countRehash({ byteOffset: bucketsOffset, bucketCount }, {
          byteOffset: grown,
          bucketCount: 2 * bucketCount,
        });
        bucketCount *= 2;
        bucketsOffset = grown;
        state.setBuckets(bucketsOffset, bucketCount);
        state.entryLimit = bucketCount / 2;
      } else if (status === CountStatus.needPage) {
        strictEqual(state.pageCount < PAGES_MAX, true, "test pages are used up");
        arena.view.setUint32(
          pageTableOffset + 4 * state.pageCount,
          arena.take(SEGMENT_BYTES),
          true,
        );
        state.pageCount += 1;
      } else {
        strictEqual(status, CountStatus.tooLong);
        if (c.kind === "words" || c.kind === "flink") {
          // Past the refused token (it holds no invalid byte: it starts a token).
          const rule = {
            kind: c.kind,
            lower: c.lower,
            wordRanges: unicode.wordRangesOffset,
            wordRangeCount: unicode.wordRangeCount,
            lowerRanges: unicode.lowerRangesOffset,
            lowerRangeCount: unicode.lowerRangeCount,
          };
          const none = { bytes: 0 };
          const token = nextWordsToken(arena.memory, rule, state.position, textOffset + to, none);
          strictEqual(token?.start, state.position);
          state.setInput(token.stop, textOffset + to);
          continue;
        }
        let end = state.position;
        while (end < textOffset + to && !isSeparator(arena.bytes[end]!)) end += 1;
        // A line's \n belongs to it (the next line starts after it).
        if (c.kind === "line" && end < textOffset + to) end += 1;
        state.setInput(end, textOffset + to);
      }
    }
    from = to;
  }
  return { statuses, stateOffset, scratchOffset };
}

/** The (word, count) pairs of the table, checking each stored hash against today's hashBytes. */
function tableContents(arena: Arena, stateOffset: number): Map<string, number> {
  const view = arena.view;
  const word = (i: number) => view.getUint32(stateOffset + 4 * i, true);
  const buckets = word(4);
  const bucketCount = word(5) + 1;
  const pageShift = word(13);
  const pageTable = word(8);
  const contents = new Map<string, number>();
  for (let b = 0; b < bucketCount; b += 1) {
    const pointer = view.getUint32(buckets + 8 * b + 4, true);
    if (pointer === 0) continue;
    const address = pointer - 1;
    const record = view.getUint32(pageTable + 4 * (address >>> pageShift), true) +
      (address & ((1 << pageShift) - 1)) * 4;
    const length = view.getUint32(record, true);
    const bytes = arena.bytes.slice(record + 4, record + 4 + length);
    strictEqual(view.getInt32(buckets + 8 * b, true), hashBytes(bytes, 0, length) | 0);
    contents.set(
      new TextDecoder("latin1").decode(bytes),
      Number(view.getBigUint64(record + 4 + length)),
    );
  }
  return contents;
}

/** What today's Tokenizer finds (tokens longer than a record can hold left out). */
function todayCounts(c: CountCase): { counts: Map<string, number>; invalidBytes: number } {
  const counts = new Map<string, number>();
  const tokenizer = new Tokenizer({ kind: c.kind, caseMode: c.lower ? "lower" : "preserve" });
  tokenizer.scan(c.text, 0, c.text.length, {
    addToken(bytes, offset, length, hash) {
      strictEqual(hash, murmur3(bytes.subarray(offset, offset + length)) | 0);
      if (length > SEGMENT_BYTES - 12) return true;
      const key = new TextDecoder("latin1").decode(bytes.subarray(offset, offset + length));
      counts.set(key, (counts.get(key) ?? 0) + 1);
      return true;
    },
  });
  return { counts, invalidBytes: tokenizer.invalidBytes };
}

function checkCount(c: CountCase): void {
  const size = c.text.length + 8 * BUCKETS_MAX * 2 + 8 * (c.largeBuckets ?? 0) +
    PAGES_MAX * (SEGMENT_BYTES + 8) + 65536;
  const arena = new Arena(size);
  const oracle = arena.clone();
  const kernel = runCount(new WasmKernels(arena.memory), arena, c);
  const reference = runCount(new ReferenceKernels(oracle.memory), oracle, c);
  deepStrictEqual(kernel, reference);
  // The scratch is the kernel's own (words and flink lower there, a large table's batches of
  // whitespace and letters tokens go there; the oracle uses none).
  const scratch = kernel.scratchOffset;
  const batched = c.kernel === "countScan" && (c.kind === "letters" || c.kind === "whitespace") &&
    (c.largeBuckets ?? 0) >= BATCH_BUCKETS_MIN;
  const ownScratch = c.kind === "words" || c.kind === "flink" || batched;
  strictEqual(
    arena.bytes.every((byte, i) =>
      byte === oracle.bytes[i] ||
      (ownScratch && i >= scratch && i < scratch + SEGMENT_BYTES)
    ),
    true,
    "the kernel's memory differs from the oracle's (table, pages, state)",
  );
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => a[0] < b[0] ? -1 : 1);
  const today = todayCounts(c);
  if (batched && today.counts.size > 0) {
    const used = arena.bytes.subarray(scratch, scratch + SEGMENT_BYTES).some((byte) => byte !== 0);
    strictEqual(used, true, "a large table's tokens were not counted in batches");
  }
  deepStrictEqual(sorted(tableContents(arena, kernel.stateOffset)), sorted(today.counts));
  const invalidBytes = new CountState(arena.memory, kernel.stateOffset).invalidBytes;
  strictEqual(invalidBytes, c.kind === "words" ? today.invalidBytes : 0);
}

const text = (s: string) => new TextEncoder().encode(s);

Deno.test("count kernel counts letters and whitespace tokens like today's tokenizer", () => {
  const sample = text(
    "The cat, the CAT and the hat.\n\tx-ray x_ray ÉTÉ été 42 " + "Long".repeat(70),
  );
  for (const kind of ["letters", "whitespace"] as const) {
    for (const lower of [false, true]) {
      checkCount({ kind, lower, text: sample, chunk: 1 << 20 });
      checkCount({ kind, lower, text: sample, chunk: 7 });
    }
  }
  checkCount({ kind: "letters", lower: true, text: new Uint8Array(0), chunk: 16 });
  checkCount({ kind: "letters", lower: true, text: text("word"), chunk: 16 });
  checkCount({ kind: "whitespace", lower: false, text: text(" \t\n\v\f\r"), chunk: 16 });
});

Deno.test("count kernel agrees with the oracle and today's tokenizer on random text", () => {
  const piece = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom("a", "b", "ab", "The", "the", "THE", "Zipf", "zipF") },
    {
      weight: 4,
      arbitrary: fc.constantFrom(" ", "\n", "\t", ",", "-", "_", "1", "\r\n", "\u00e9"),
    },
    { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
    { weight: 1, arbitrary: fc.integer({ min: 240, max: 260 }).map((n) => "q".repeat(n)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 6 }).map((b) => String.fromCharCode(...b)) },
  );
  checkProperty(
    fc.property(
      fc.array(piece, { maxLength: 400 }),
      fc.constantFrom("letters" as const, "whitespace" as const),
      fc.boolean(),
      fc.integer({ min: 1, max: 300 }),
      (pieces, kind, lower, chunk) => {
        const latin1 = pieces.join("");
        const bytes = Uint8Array.from(latin1, (ch) => ch.charCodeAt(0) & 0xff);
        checkCount({ kind, lower, text: bytes, chunk });
      },
    ),
    100,
  );
});

Deno.test("countScan (count v2's loop) agrees with the oracle and today's tokenizer", () => {
  const sample = text(
    "The cat, the CAT and the hat.\n\n\tx-ray x_ray ÉTÉ été 42 \n" + "LongWord".repeat(40) +
      "\nThe cat, the CAT and the hat.\n",
  );
  for (const kind of ["letters", "whitespace", "line"] as const) {
    for (const lower of [false, true]) {
      for (const chunk of [1 << 20, 7, 1]) {
        checkCount({ kind, lower, text: sample, chunk, kernel: "countScan" });
      }
    }
    checkCount({ kind, lower: true, text: new Uint8Array(0), chunk: 16, kernel: "countScan" });
    checkCount({ kind, lower: false, text: text("word"), chunk: 16, kernel: "countScan" });
  }
  // Every byte value next to the fold boundaries, in 8-byte and shorter words.
  const edges = [
    0x00,
    0x40,
    0x41,
    0x5a,
    0x5b,
    0x60,
    0x61,
    0x7a,
    0x7b,
    0x7f,
    0x80,
    0xc1,
    0xda,
    0xff,
  ];
  const bytes: number[] = [];
  for (let n = 1; n <= 17; n += 1) {
    for (const edge of edges) {
      for (let i = 0; i < n; i += 1) bytes.push(i % 3 === 0 ? edge : 0x41 + ((i * 7) % 58));
      bytes.push(i8(n));
    }
  }
  for (const kind of ["letters", "whitespace", "line"] as const) {
    for (const lower of [false, true]) {
      checkCount({ kind, lower, text: Uint8Array.from(bytes), chunk: 64, kernel: "countScan" });
    }
  }
});

Deno.test("countScan carries a count past 255 and 65535 (the last byte's increment)", () => {
  // The kernel adds 1 to the big-endian count's last byte unless it is 0xff; the carry takes
  // the whole 64-bit sum. 65,793 = 0x10101: both carries, in short and long words alike.
  const repeated = (word: string, times: number) => (word + "\n").repeat(times);
  const sample = text(
    repeated("a", 65_793) + repeated("Carry", 256) + repeated("a-sixteen-byte-w", 257) +
      repeated("b", 255),
  );
  for (const kind of ["letters", "whitespace", "line"] as const) {
    checkCount({ kind, lower: true, text: sample, chunk: 1 << 20, kernel: "countScan" });
  }
  checkCount({
    kind: "whitespace",
    lower: false,
    text: sample,
    chunk: 1 << 20,
    kernel: "countScan",
    largeBuckets: BATCH_BUCKETS_MIN,
  });
});

/** A separator for every kind now and then: \n, space or a tab. */
function i8(n: number): number {
  return n % 3 === 0 ? 0x0a : n % 3 === 1 ? 0x20 : 0x09;
}

Deno.test("countScan agrees with the oracle and today's tokenizer on random bytes", () => {
  const piece = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom("a", "b", "ab", "The", "the", "THE", "Zipf", "zipF") },
    {
      weight: 4,
      arbitrary: fc.constantFrom(" ", "\n", "\t", ",", "-", "_", "1", "\r\n", "\u00e9", "\n\n"),
    },
    { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 30 }).map((n) => "WordWORD".repeat(n)) },
    { weight: 1, arbitrary: fc.integer({ min: 240, max: 260 }).map((n) => "q".repeat(n)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 9 }).map((b) => String.fromCharCode(...b)) },
  );
  checkProperty(
    fc.property(
      fc.array(piece, { maxLength: 400 }),
      fc.constantFrom("letters" as const, "whitespace" as const, "line" as const),
      fc.boolean(),
      fc.integer({ min: 1, max: 300 }),
      (pieces, kind, lower, chunk) => {
        const latin1 = pieces.join("");
        const bytes = Uint8Array.from(latin1, (ch) => ch.charCodeAt(0) & 0xff);
        checkCount({ kind, lower, text: bytes, chunk, kernel: "countScan" });
      },
    ),
    150,
  );
});

Deno.test("countScan counts in batches on a large table like the oracle and today's tokenizer", () => {
  // From 2^18 buckets whitespace and letters go through the batched loop: every stop (new
  // words refused, a page full, a token too long, a chunk's end) may fall inside a batch.
  const sample = text(
    "The cat, the CAT and the hat.\n\tx-ray x_ray \u00c9T\u00c9 42 \n" + "LongWord".repeat(40) +
      " " + "q".repeat(250) + " zipfZIPFzipfZIPF16 tail",
  );
  for (const kind of ["letters", "whitespace"] as const) {
    for (const lower of [false, true]) {
      for (const chunk of [1 << 20, 64, 7]) {
        const c = { kind, lower, chunk, kernel: "countScan" as const };
        checkCount({ ...c, text: sample, largeBuckets: BATCH_BUCKETS_MIN });
        checkCount({ ...c, text: text("word"), largeBuckets: BATCH_BUCKETS_MIN });
      }
    }
  }
  const piece = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom("a", "b", "ab", "The", "the", "THE", "Zipf", "zipF") },
    { weight: 4, arbitrary: fc.constantFrom(" ", "\n", "\t", ",", "-", "1", "\r\n", "\u00e9") },
    { weight: 2, arbitrary: fc.string({ maxLength: 20 }) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 30 }).map((n) => "WordWORD".repeat(n)) },
    { weight: 1, arbitrary: fc.integer({ min: 240, max: 260 }).map((n) => "q".repeat(n)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 9 }).map((b) => String.fromCharCode(...b)) },
  );
  checkProperty(
    fc.property(
      fc.array(piece, { maxLength: 300 }),
      fc.constantFrom("letters" as const, "whitespace" as const),
      fc.boolean(),
      fc.integer({ min: 1, max: 300 }),
      (pieces, kind, lower, chunk) => {
        const latin1 = pieces.join("");
        const bytes = Uint8Array.from(latin1, (ch) => ch.charCodeAt(0) & 0xff);
        checkCount({
          kind,
          lower,
          text: bytes,
          chunk,
          kernel: "countScan",
          largeBuckets: BATCH_BUCKETS_MIN,
        });
      },
    ),
    25,
  );
});

Deno.test("countScan counts words and flink tokens like today's tokenizer (examples)", () => {
  const sample = text(
    "Größe GRÖSSE größe \u0130stanbul \u212aelvin x_1 ΣΊΣΥΦΟΣ Ж\u{1d400}\u{10400}x 😀 \u2162\n" +
      "ǅ ǈ ﬀ Ⅻ ⓐ \u0345 é\u0301 \u212a\u0130\u212a k\u0130k " + "\u0130".repeat(100) + " " +
      "\u212a".repeat(300) + " " + "É".repeat(130) + " " + "ж".repeat(121) + " " + "q".repeat(244) +
      " " + "q".repeat(245) + "\n",
  );
  const invalid = Uint8Array.from([
    0x61,
    0x80,
    0x62,
    0xc0,
    0xaf,
    0x63,
    0xe0,
    0x80,
    0xaf,
    0xed,
    0xa0,
    0x80,
    0x64,
    0xf4,
    0x90,
    0x80,
    0x80,
    0xf8,
    0x88,
    0x80,
    0x80,
    0x80,
    0x65,
    0xc3,
    0x0a,
    0xe2,
    0x84,
    0xc3,
    0xa9,
    0xff,
    0xf0,
    0x9f,
    0x98,
    0x80,
    0xe2,
    0x84,
    0xaa,
    0xc4,
    0xb0,
    0xc4,
    0x0a,
    0xc3,
  ]);
  for (const kind of ["words", "flink"] as const) {
    for (const lower of [false, true]) {
      for (const chunk of [1 << 20, 7, 1]) {
        checkCount({ kind, lower, text: sample, chunk, kernel: "countScan" });
        checkCount({ kind, lower, text: invalid, chunk, kernel: "countScan" });
      }
    }
    checkCount({ kind, lower: true, text: new Uint8Array(0), chunk: 16, kernel: "countScan" });
  }
});

Deno.test("countScan counts words and flink like today's tokenizer on random Unicode", () => {
  const piece = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom("a", "The", "THE", "x_1", "42", "Größe", "ΣΊΣΥΦΟΣ") },
    { weight: 4, arbitrary: fc.constantFrom(" ", "\n", ",", "-", "\u00a0", "\u2028", "。") },
    {
      weight: 3,
      arbitrary: fc.constantFrom("\u0130", "\u212a", "ß", "ǅ", "Ⅲ", "\u{10400}", "\u{1e900}", "ﬀ"),
    },
    { weight: 3, arbitrary: fc.string({ unit: "grapheme", maxLength: 8 }) },
    { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 8 }) },
    { weight: 1, arbitrary: fc.integer({ min: 60, max: 130 }).map((n) => "\u0130".repeat(n)) },
    { weight: 1, arbitrary: fc.integer({ min: 80, max: 250 }).map((n) => "\u212a".repeat(n)) },
  );
  // Raw bytes: stray continuations, cut, overlong and surrogate sequences.
  const raw = fc.array(
    fc.oneof(
      fc.integer({ min: 0, max: 255 }),
      fc.constantFrom(0x80, 0xbf, 0xc0, 0xc1, 0xc4, 0xb0, 0xe0, 0xe2, 0x84, 0xaa, 0xed, 0xa0),
      fc.constantFrom(0xf0, 0xf4, 0x90, 0x8f, 0xf5, 0xff),
    ),
    { maxLength: 8 },
  ).map((b) => Uint8Array.from(b));
  checkProperty(
    fc.property(
      fc.array(fc.oneof(piece.map((p) => text(p)), raw), { maxLength: 200 }),
      fc.constantFrom("words" as const, "flink" as const),
      fc.boolean(),
      fc.integer({ min: 1, max: 300 }),
      (pieces, kind, lower, chunk) => {
        const bytes = new Uint8Array(pieces.reduce((sum, p) => sum + p.length, 0));
        let at = 0;
        for (const p of pieces) {
          bytes.set(p, at);
          at += p.length;
        }
        checkCount({ kind, lower, text: bytes, chunk, kernel: "countScan" });
      },
    ),
    150,
  );
});

Deno.test("countScan keeps words with the same hash and length apart", () => {
  // Pairs of equal-length words with equal MurmurHash3 (found by a birthday search), so the
  // probe gets to compare the bytes: a short tail, a 7-byte tail, 8 bytes + a tail.
  const pairs = [["sswqd", "daqxe"], ["cmevite", "helhuwe"], ["gdfhihwlgtulb", "ytfytsqogwpcc"]];
  for (const [a, b] of pairs) strictEqual(murmur3(text(a!)), murmur3(text(b!)));
  const lines = pairs.flatMap(([a, b]) => [a, b, a!.toUpperCase(), b, a]).join("\n") + "\n";
  for (const kind of ["letters", "whitespace", "line", "words", "flink"] as const) {
    for (const lower of [false, true]) {
      for (const chunk of [1 << 20, 5]) {
        checkCount({ kind, lower, text: text(lines), chunk, kernel: "countScan" });
      }
    }
  }
});

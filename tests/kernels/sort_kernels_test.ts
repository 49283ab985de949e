import { deepStrictEqual } from "node:assert/strict";
import fc from "fast-check";
import {
  type BytesIndexLayout,
  ReferenceKernels,
  SORT_SCRATCH_BYTES,
  WasmKernels,
} from "../../src/kernels/mod.ts";
import { sortBytesIndex, sortIndex } from "../../src/sort/index_sort.ts";
import { checkProperty } from "../_support/property.ts";
import { Arena, recordsArbitrary } from "./_arena.ts";

interface SortCase {
  arena: Arena;
  indexOffset: number;
  count: number;
  layout: BytesIndexLayout;
  /** Views of the pages, segment by segment (today's JS sorts take these). */
  pages: Uint8Array[];
}

/**
 * Lays records out like the sort buffer: records never span pages (an empty record still takes
 * a byte), pages in scrambled places (the page table maps them), 16-byte index entries with
 * the key's first 8 bytes as two big-endian words (inverted for reverse).
 */
function layOut(
  records: readonly Uint8Array[],
  options: { segmentShift: number; reverse: boolean; keyOffset: number; keyBytes: number },
): SortCase {
  const segmentBytes = 1 << options.segmentShift;
  const placements: number[] = [];
  let segment = 0;
  let offset = 0;
  for (const record of records) {
    const footprint = Math.max(1, record.length);
    if (offset + footprint > segmentBytes) {
      segment += 1;
      offset = 0;
    }
    placements.push(segment * segmentBytes + offset);
    offset += footprint;
  }
  const segmentCount = segment + 1;
  const arena = new Arena(
    (segmentCount + 1) * segmentBytes + records.length * 16 + SORT_SCRATCH_BYTES + 65536,
  );
  const pageTableOffset = arena.take(4 * segmentCount);
  const scratchOffset = arena.take(SORT_SCRATCH_BYTES);
  const indexOffset = arena.take(16 * records.length, 16);
  // Scramble: segment s lives at slot (s * 7 + 3) % segmentCount when 7 is coprime, else s.
  const slotsBase = arena.take(segmentCount * segmentBytes, 8);
  const pages: Uint8Array[] = [];
  const view = arena.view;
  for (let s = 0; s < segmentCount; s += 1) {
    const slot = segmentCount % 7 === 0 ? s : (s * 7 + 3) % segmentCount;
    const at = slotsBase + slot * segmentBytes;
    view.setUint32(pageTableOffset + 4 * s, at, true);
    pages.push(new Uint8Array(arena.memory.buffer, at, segmentBytes));
  }
  records.forEach((record, i) => {
    const address = placements[i]!;
    const page = pages[address >>> options.segmentShift]!;
    page.set(record, address & (segmentBytes - 1));
    const key = options.keyBytes >= 0
      ? record.subarray(options.keyOffset, options.keyOffset + options.keyBytes)
      : record;
    let w0 = 0;
    let w1 = 0;
    for (let b = 0; b < 8; b += 1) {
      const byte = b < key.length ? key[b]! : 0;
      if (b < 4) w0 = w0 * 256 + byte;
      else w1 = w1 * 256 + byte;
    }
    const e = indexOffset + 16 * i;
    view.setUint32(e, options.reverse ? ~w0 >>> 0 : w0, true);
    view.setUint32(e + 4, options.reverse ? ~w1 >>> 0 : w1, true);
    view.setUint32(e + 8, address, true);
    view.setUint32(e + 12, record.length, true);
  });
  return {
    arena,
    indexOffset,
    count: records.length,
    pages,
    layout: { pageTableOffset, scratchOffset, ...options },
  };
}

function indexWords(c: SortCase, arena = c.arena): Uint32Array {
  return new Uint32Array(arena.memory.buffer, c.indexOffset, 4 * c.count).slice();
}

function addressesAndLengths(words: Uint32Array): number[] {
  return Array.from(words).filter((_, i) => i % 4 >= 2);
}

/** The records in index order, as hex strings (for readable failures). */
function recordsOf(c: SortCase, words: Uint32Array): string[] {
  const mask = (1 << c.layout.segmentShift) - 1;
  const out: string[] = [];
  for (let i = 0; i < c.count; i += 1) {
    const address = words[4 * i + 2]!;
    const page = c.pages[address >>> c.layout.segmentShift]!;
    const record = page.subarray(address & mask, (address & mask) + words[4 * i + 3]!);
    out.push(Array.from(record, (b) => b.toString(16).padStart(2, "0")).join(""));
  }
  return out;
}

function plainTie(index: Uint32Array, pages: Uint8Array[], shift: number, reverse: boolean) {
  const mask = (1 << shift) - 1;
  const sign = reverse ? -1 : 1;
  return (a: number, b: number): number => {
    const addressA = index[a + 2]!, addressB = index[b + 2]!;
    const lengthA = index[a + 3]!, lengthB = index[b + 3]!;
    const pageA = pages[addressA >>> shift]!, pageB = pages[addressB >>> shift]!;
    const common = Math.min(lengthA, lengthB);
    for (let i = Math.min(common, 8); i < common; i += 1) {
      const d = pageA[(addressA & mask) + i]! - pageB[(addressB & mask) + i]!;
      if (d !== 0) return d * sign;
    }
    return (lengthA - lengthB) * sign;
  };
}

/** Fails naming the first entry where two lists differ (a whole-array diff is too big). */
function sameList<T>(actual: readonly T[], expected: readonly T[], what: string): void {
  const n = Math.max(actual.length, expected.length);
  for (let i = 0; i < n; i += 1) {
    if (actual[i] !== expected[i]) {
      throw new Error(`${what}: entry ${i} of ${n} is ${actual[i]}, expected ${expected[i]}`);
    }
  }
}

/**
 * Runs the kernel, the oracle and today's JS on the same case; all must agree: on the
 * addresses for fixed-size records (equal keys in input order), on the records for whole
 * lines (equal keys are equal lines, in no particular order). The prefix words are left as
 * each sort's re-keying left them, so they are not compared.
 */
function checkBytesSort(c: SortCase): void {
  const oracle = c.arena.clone();
  const today = c.arena.clone();
  new WasmKernels(c.arena.memory).sortBytesIndex(c.indexOffset, c.count, c.layout);
  new ReferenceKernels(oracle.memory).sortBytesIndex(c.indexOffset, c.count, c.layout);
  const todayIndex = new Uint32Array(today.memory.buffer, c.indexOffset, 4 * c.count);
  const todayPages = c.pages.map((p) =>
    new Uint8Array(today.memory.buffer, p.byteOffset, p.length)
  );
  sortBytesIndex(todayIndex, c.count, { ...c.layout, pages: todayPages });
  const kernel = indexWords(c);
  if (c.layout.keyBytes >= 0) {
    // Fixed-size records: equal keys keep input order (address), payloads differ.
    const expected = addressesAndLengths(indexWords(c, oracle));
    sameList(addressesAndLengths(kernel), expected, "kernel and reference");
    sameList(addressesAndLengths(todayIndex.slice()), expected, "today's JS and reference");
  } else {
    const expected = recordsOf(c, indexWords(c, oracle));
    sameList(recordsOf(c, kernel), expected, "kernel and reference");
    sameList(recordsOf(c, todayIndex.slice()), expected, "today's JS and reference");
  }
}

function checkTieSort(c: SortCase): void {
  const quick = c.arena.clone();
  new WasmKernels(quick.memory).sortIndexQuicksort(c.indexOffset, c.count, c.layout);
  checkTieSortWith(c);
  deepStrictEqual(indexWords(c), indexWords(c, quick), "sortIndex and sortIndexQuicksort differ");
}

function checkTieSortWith(c: SortCase): void {
  const oracle = c.arena.clone();
  const today = c.arena.clone();
  new WasmKernels(c.arena.memory).sortIndex(c.indexOffset, c.count, c.layout);
  new ReferenceKernels(oracle.memory).sortIndex(c.indexOffset, c.count, c.layout);
  const todayIndex = new Uint32Array(today.memory.buffer, c.indexOffset, 4 * c.count);
  const todayPages = c.pages.map((p) =>
    new Uint8Array(today.memory.buffer, p.byteOffset, p.length)
  );
  sortIndex(
    todayIndex,
    c.count,
    plainTie(todayIndex, todayPages, c.layout.segmentShift, c.layout.reverse),
  );
  const kernel = indexWords(c);
  deepStrictEqual(kernel, indexWords(c, oracle), "kernel and reference sortIndex differ");
  deepStrictEqual(kernel, todayIndex.slice(), "kernel and today's sortIndex differ");
}

const whole = { keyOffset: 0, keyBytes: -1 };

Deno.test("sortBytesIndex kernel sorts examples like today's sort", () => {
  const words = ["pear", "apple", "", "fig", "apple", "applesauce-and-more", "b", "a\u00ff"];
  const records = words.map((w) => new TextEncoder().encode(w));
  for (const reverse of [false, true]) {
    checkBytesSort(layOut(records, { segmentShift: 6, reverse, ...whole }));
    checkTieSort(layOut(records, { segmentShift: 6, reverse, ...whole }));
  }
  checkBytesSort(layOut([], { segmentShift: 6, reverse: false, ...whole }));
  checkTieSort(layOut([records[0]!], { segmentShift: 6, reverse: false, ...whole }));
});

Deno.test("sort kernels agree with the oracle and today's JS on random records", () => {
  checkProperty(
    fc.property(
      recordsArbitrary(200),
      fc.boolean(),
      fc.integer({ min: 8, max: 12 }),
      (records, reverse, shift) => {
        checkBytesSort(layOut(records, { segmentShift: shift, reverse, ...whole }));
        checkTieSort(layOut(records, { segmentShift: shift, reverse, ...whole }));
      },
    ),
    150,
  );
});

Deno.test("sortBytesIndex kernel sorts fixed-size records by their key bytes", () => {
  checkProperty(
    fc.property(
      fc.integer({ min: 1, max: 40 }).chain((recordBytes) =>
        fc.tuple(
          fc.array(fc.uint8Array({ minLength: recordBytes, maxLength: recordBytes }), {
            maxLength: 50,
          }),
          fc.integer({ min: 0, max: recordBytes }),
        ).chain(([records, keyOffset]) =>
          fc.tuple(
            fc.constant(records),
            fc.constant(keyOffset),
            fc.integer({ min: 0, max: recordBytes - keyOffset }),
          )
        )
      ),
      ([records, keyOffset, keyBytes]) => {
        // Few distinct key bytes: many equal keys, ordered by address.
        const squashed = records.map((r) => r.map((b) => b & 3));
        checkBytesSort(layOut(squashed, { segmentShift: 10, reverse: false, keyOffset, keyBytes }));
      },
    ),
    100,
  );
});

Deno.test("sort kernels take the radix path on large inputs (Zipf-like words)", () => {
  let seed = 12345;
  const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  const vocabulary = Array.from({ length: 3000 }, (_, i) => {
    const length = 1 + (next() % 14);
    return Uint8Array.from({ length }, (_, j) => 0x61 + ((next() >>> 8) + i * j) % 26);
  });
  const records = Array.from({ length: 20000 }, () => {
    const r = next() / 2 ** 32;
    return vocabulary[Math.floor(vocabulary.length * r * r * r)]!;
  });
  for (const reverse of [false, true]) {
    checkBytesSort(layOut(records, { segmentShift: 12, reverse, ...whole }));
    checkTieSort(layOut(records, { segmentShift: 12, reverse, ...whole }));
  }
});

/** A deterministic record maker (the case is small to describe, big to sort). */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0);
}

type Shape = "random" | "sorted" | "reversed" | "allEqual";

/**
 * Records for the radix passes (hundreds to thousands, past the quicksort threshold): a shared
 * head of `head` bytes, then up to `tail` bytes from a small alphabet, so digits tie often,
 * keys shorter than 8 bytes and empty records are common, and prefixes repeat across digits.
 */
function radixRecords(
  seed: number,
  count: number,
  head: number,
  tail: number,
  alphabet: number,
  shape: Shape,
): Uint8Array[] {
  const next = lcg(seed);
  const letters = [0x00, 0x61, 0x62, 0xff, 0x7f, 0x20].slice(0, alphabet);
  const headBytes = Uint8Array.from({ length: head }, (_, i) => 0x61 + (i % 3));
  const one = () => {
    const length = next() % (tail + 1);
    const out = new Uint8Array(head + length);
    out.set(headBytes);
    for (let i = 0; i < length; i += 1) out[head + i] = letters[(next() >>> 8) % letters.length]!;
    return out.subarray(0, next() % 16 === 0 ? next() % (head + length + 1) : out.length);
  };
  if (shape === "allEqual") return new Array(count).fill(one());
  const records = Array.from({ length: count }, one);
  if (shape === "random") return records;
  records.sort(compareRecords);
  return shape === "sorted" ? records : records.reverse();
}

function compareRecords(a: Uint8Array, b: Uint8Array): number {
  const common = Math.min(a.length, b.length);
  for (let i = 0; i < common; i += 1) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

Deno.test("sort kernels agree with the oracle on radix-sized inputs (ties, short keys, shapes)", () => {
  checkProperty(
    fc.property(
      fc.integer({ min: 0, max: 0x7fff_ffff }),
      fc.integer({ min: 200, max: 3000 }),
      fc.constantFrom(0, 3, 7, 8, 9, 16, 30),
      fc.integer({ min: 0, max: 24 }),
      fc.integer({ min: 1, max: 6 }),
      fc.constantFrom<Shape>("random", "random", "sorted", "reversed", "allEqual"),
      fc.boolean(),
      (seed, count, head, tail, alphabet, shape, reverse) => {
        const records = radixRecords(seed, count, head, tail, alphabet, shape);
        checkBytesSort(layOut(records, { segmentShift: 12, reverse, ...whole }));
        checkTieSortWith(layOut(records, { segmentShift: 12, reverse, ...whole }));
      },
    ),
    40,
  );
});

Deno.test("sortBytesIndex kernel: fixed-size keys with many ties on radix-sized inputs", () => {
  checkProperty(
    fc.property(
      fc.integer({ min: 0, max: 0x7fff_ffff }),
      fc.integer({ min: 300, max: 3000 }),
      fc.integer({ min: 1, max: 20 }),
      (seed, count, recordBytes) => {
        const next = lcg(seed);
        const records = Array.from(
          { length: count },
          () => Uint8Array.from({ length: recordBytes }, () => (next() >>> 12) & 1),
        );
        const keyOffset = next() % (recordBytes + 1);
        const keyBytes = next() % (recordBytes - keyOffset + 1);
        checkBytesSort(layOut(records, { segmentShift: 12, reverse: false, keyOffset, keyBytes }));
      },
    ),
    30,
  );
});

Deno.test("sort kernels: keys splitting at every digit run the radix out of scratch levels", () => {
  // Record j is j digits of "AAAAAAAA", then "B": each digit splits one record off the rest,
  // one radix level deeper each time, past the levels the scratch holds (the deep digits fall
  // back to the multikey quicksort); a shared 4 KiB head never takes a level.
  const digit = new Uint8Array(8).fill(0x41);
  const splitting = Array.from({ length: 520 }, (_, j) => {
    const record = new Uint8Array(8 * j + 1);
    for (let d = 0; d < j; d += 1) record.set(digit, 8 * d);
    record[8 * j] = 0x42;
    return record;
  });
  const next = lcg(99);
  const shared = Array.from({ length: 300 }, () => {
    const record = new Uint8Array(4096 + 3).fill(0x41);
    for (let i = 0; i < 3; i += 1) record[4096 + i] = 0x30 + (next() >>> 8) % 4;
    return record;
  });
  for (const records of [splitting, shared]) {
    for (const reverse of [false, true]) {
      checkBytesSort(layOut(records, { segmentShift: 13, reverse, ...whole }));
    }
    checkTieSortWith(layOut(records, { segmentShift: 13, reverse: false, ...whole }));
  }
});

/**
 * Lines of Zipf-like text whose first word is one word in about `heavyPercent` percent of them
 * (the radix passes split such a heavy group off past the bytes it shares), others starting
 * like it for a few bytes (so that parts sort before and after the group), then a few words.
 */
function heavyLines(seed: number, count: number, heavyPercent: number): Uint8Array[] {
  const next = lcg(seed);
  const encoder = new TextEncoder();
  const heavy = "testis";
  const near = ["te", "tes", "test", "testi", "testis", "testy", "tesla", "ta", "tz", "q", ""];
  const word = () => {
    const letters = 1 + (next() >>> 8) % 9;
    return Array.from({ length: letters }, () => String.fromCharCode(0x61 + (next() >>> 9) % 4))
      .join("");
  };
  return Array.from({ length: count }, () => {
    const first = (next() >>> 8) % 100 < heavyPercent
      ? heavy
      : near[(next() >>> 8) % near.length]! + word();
    const rest = Array.from({ length: (next() >>> 8) % 4 }, word);
    return encoder.encode([first, ...rest].join(" "));
  });
}

Deno.test("sort kernels split a heavy group of shared leading bytes off the radix passes", () => {
  checkProperty(
    fc.property(
      fc.integer({ min: 0, max: 0x7fff_ffff }),
      fc.integer({ min: 1100, max: 6000 }),
      fc.integer({ min: 20, max: 90 }),
      fc.boolean(),
      (seed, count, heavyPercent, reverse) => {
        const records = heavyLines(seed, count, heavyPercent);
        checkBytesSort(layOut(records, { segmentShift: 12, reverse, ...whole }));
        checkTieSortWith(layOut(records, { segmentShift: 12, reverse, ...whole }));
        checkSplitSort(layOut(records, { segmentShift: 12, reverse, ...whole }));
        // Fixed-size records: a heavy group of keys (from byte 2), equal keys by address, in
        // both directions (-r inverts the key order, not the address order of equal keys).
        const fixed = records.map((line) => {
          const record = new Uint8Array(14);
          record.set(line.subarray(0, 12), 2);
          return record;
        });
        checkBytesSort(layOut(fixed, { segmentShift: 12, reverse, keyOffset: 2, keyBytes: 9 }));
      },
    ),
    25,
  );
});

/**
 * The split sort's kernels (src/sort/split_sort.ts): partitionBytesIndex, then every bucket by
 * sortBytesBucket in any order (here: from the high end, as the Worker takes them, with
 * another scratch than the partition's), give the records in sortBytesIndex's order.
 */
function checkSplitSort(c: SortCase): void {
  const one = c.arena.clone();
  new WasmKernels(one.memory).sortBytesIndex(c.indexOffset, c.count, c.layout);
  const kernels = new WasmKernels(c.arena.memory);
  const scratch = c.layout.scratchOffset;
  const byte = kernels.partitionBytesIndex(c.indexOffset, c.count, scratch);
  const ends = byte === 8
    ? [c.count]
    : Array.from(new Uint32Array(c.arena.memory.buffer, scratch + 1024, 256));
  for (let b = ends.length - 1; b >= 0; b -= 1) {
    const lo = b === 0 ? 0 : ends[b - 1]!;
    kernels.sortBytesBucket(c.indexOffset, { lo, hi: ends[b]!, byte: Math.min(8, byte + 1) }, {
      ...c.layout,
      scratchOffset: scratch, // reused: a bucket's sort needs nothing of the partition's
    });
  }
  sameList(recordsOf(c, indexWords(c)), recordsOf(c, indexWords(c, one)), "split and one sort");
}

Deno.test("partitionBytesIndex and sortBytesBucket sort like one sortBytesIndex (shared prefixes too)", () => {
  const prefixes = ["", "a", "abc", "abcdefgh", "abcdefghijk"].map((p) =>
    new TextEncoder().encode(p)
  );
  checkProperty(
    fc.property(
      fc.array(recordsArbitrary(40), { minLength: 1, maxLength: 40 }),
      fc.constantFrom(...prefixes),
      fc.boolean(),
      (groups, prefix, reverse) => {
        // Enough records that buckets take the radix passes (256 and more), not only the
        // quicksort.
        const records = groups.flat().map((r) => Uint8Array.from([...prefix, ...r]));
        checkSplitSort(layOut(records, { segmentShift: 12, reverse, ...whole }));
      },
    ),
    60,
  );
  checkSplitSort(layOut([], { segmentShift: 6, reverse: false, ...whole }));
});

import { deepStrictEqual, ok, rejects, strictEqual, throws } from "node:assert/strict";
import { Buffer } from "node:buffer";
import fc from "fast-check";
import { CorruptSpillError, SpillReadError, type SpillRun } from "../../src/io/mod.ts";
import { externalSort, type SortStats } from "../../src/sort/external_sort.ts";
import { KeySplit, type RunPosition, SPLIT_KEY_BYTES_MAX } from "../../src/sort/key_split.ts";
import { BytesOrder } from "../../src/sort/record_order.ts";
import type { BlockFirstKeys } from "../../src/sort/kernel_sort.ts";
import { mergeByKeyRanges } from "../../src/sort/split_merge.ts";
import { makeRandom, makeWorkDir } from "./_gnu.ts";
import { withMergeFixture } from "./_fixtures.ts";
import { decodedFirstKeys, decodedRecords, spillFileBlocks } from "../_support/block_starts.ts";
import { checkAsyncProperty, propertySeed } from "../_support/property.ts";

const SEGMENT_BYTES = 4096;

/** Every record of a spill file with the position it starts at. */
function decodeRun(file: Uint8Array): { record: Uint8Array; position: RunPosition }[] {
  return decodedRecords(spillFileBlocks(file, SEGMENT_BYTES)).map(({ record, block, offset }) => ({
    record,
    position: { block, offset },
  }));
}

const recordArb = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom("", "a", "ab", "abc", "b", "ba", "zz", "a\u0000") },
  { weight: 8, arbitrary: fc.string({ maxLength: 12 }) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.constantFrom("a", "b", "q"), fc.integer({ min: 4000, max: 9000 }))
      .map(([ch, n]) => ch.repeat(n)),
  },
).map((text) => new TextEncoder().encode(text));

Deno.test("KeySplit finds the first record not before each splitter in every run (-r too)", async () => {
  await withMergeFixture(1024 * 1024, async ({ memory, io }) => {
    const probePage = memory.allocate("test-probe", 1);
    try {
      await checkAsyncProperty(
        fc.asyncProperty(
          fc.array(fc.array(recordArb, { maxLength: 400 }), { minLength: 1, maxLength: 4 }),
          // Splitters are sampled keys, cut to SPLIT_KEY_BYTES_MAX (runPosition asserts it).
          fc.array(recordArb.map((key) => key.subarray(0, SPLIT_KEY_BYTES_MAX)), { maxLength: 6 }),
          fc.boolean(),
          async (runRecords, extraSplitters, reverse) => {
            const order = (a: Uint8Array, b: Uint8Array) =>
              reverse ? Buffer.compare(b, a) : Buffer.compare(a, b);
            const runs: SpillRun[] = [];
            try {
              for (const records of runRecords) {
                const writer = await io.createRunWriter("test");
                for (const record of [...records].sort(order)) {
                  const pending = writer.writeRecord(record, 0, record.length);
                  if (pending) await pending;
                }
                runs.push(await writer.finish());
              }
              const split = new KeySplit(runs, undefined, {
                segmentBytes: SEGMENT_BYTES,
                reverse,
                samplesPerRun: 3,
                probeBlock: probePage.segments[0]!.bytes,
              });
              try {
                const chosen = split.chooseSplitters(5);
                for (let i = 1; i < chosen.length; i += 1) {
                  ok(order(chosen[i - 1]!, chosen[i]!) < 0, "splitters ascend in merge order");
                }
                const decoded = await Promise.all(
                  runs.map(async (run) => decodeRun(await Deno.readFile(run.path))),
                );
                for (const splitter of [...chosen, ...extraSplitters]) {
                  runs.forEach((_run, i) => {
                    const found = decoded[i]!.find(({ record }) => order(record, splitter) >= 0);
                    const expected = found?.position ?? split.runEnd(i);
                    deepStrictEqual(split.runPosition(i, splitter), expected);
                  });
                }
              } finally {
                split.close();
              }
            } finally {
              for (const run of runs) await io.deleteRun(run);
            }
          },
        ),
        40,
      );
    } finally {
      probePage.release();
    }
  }, { segmentBytes: SEGMENT_BYTES });
});

/** A run's first keys as its gather records them, of its first `known` blocks (a decode). */
function firstKeysOf(file: Uint8Array, known: number): BlockFirstKeys {
  const decoded = decodedFirstKeys(spillFileBlocks(file, SEGMENT_BYTES), SPLIT_KEY_BYTES_MAX)
    .slice(0, known);
  const keys: BlockFirstKeys = { recordLengths: [], keyEnds: [], bytes: new Uint8Array(0) };
  const parts: Uint8Array[] = [];
  let end = 0;
  for (const { recordLength, key } of decoded) {
    keys.recordLengths.push(recordLength);
    end += key.length;
    keys.keyEnds.push(end);
    parts.push(key);
  }
  keys.bytes = new Uint8Array(Buffer.concat(parts));
  return keys;
}

Deno.test("KeySplit with the runs' first keys (all blocks or the first few) finds the same records, and the output bytes before them", async () => {
  await withMergeFixture(1024 * 1024, async ({ memory, io }) => {
    const probePage = memory.allocate("test-probe", 1);
    try {
      await checkAsyncProperty(
        fc.asyncProperty(
          fc.array(fc.array(recordArb, { maxLength: 400 }), { minLength: 1, maxLength: 4 }),
          fc.array(recordArb.map((key) => key.subarray(0, SPLIT_KEY_BYTES_MAX)), { maxLength: 6 }),
          fc.boolean(),
          fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 4, maxLength: 4 }),
          async (runRecords, extraSplitters, reverse, knownBlocks) => {
            const order = (a: Uint8Array, b: Uint8Array) =>
              reverse ? Buffer.compare(b, a) : Buffer.compare(a, b);
            const runs: SpillRun[] = [];
            try {
              for (const records of runRecords) {
                const writer = await io.createRunWriter("test");
                for (const record of [...records].sort(order)) {
                  const pending = writer.writeRecord(record, 0, record.length);
                  if (pending) await pending;
                }
                runs.push(await writer.finish());
              }
              const files = await Promise.all(runs.map((run) => Deno.readFile(run.path)));
              const decoded = files.map((file) => decodeRun(file));
              const split = new KeySplit(runs, undefined, {
                segmentBytes: SEGMENT_BYTES,
                reverse,
                samplesPerRun: 3,
                probeBlock: probePage.segments[0]!.bytes,
                // 40: every block of these runs; fewer: the keys stopped at their bound.
                firstKeys: files.map((file, i) => firstKeysOf(file, knownBlocks[i]!)),
              });
              try {
                const chosen = split.chooseSplitters(5);
                for (let i = 1; i < chosen.length; i += 1) {
                  ok(order(chosen[i - 1]!, chosen[i]!) < 0, "splitters ascend in merge order");
                }
                for (const splitter of [...chosen, ...extraSplitters]) {
                  runs.forEach((_run, i) => {
                    const records = decoded[i]!;
                    const at = records.findIndex(({ record }) => order(record, splitter) >= 0);
                    const expected = at < 0 ? split.runEnd(i) : records[at]!.position;
                    const position = split.runPosition(i, splitter);
                    deepStrictEqual(position, expected);
                    let bytes = 0;
                    for (const { record } of at < 0 ? records : records.slice(0, at)) {
                      bytes += record.length + 1;
                    }
                    const index = lineBytesIndex(records, split.runEnd(i).block);
                    strictEqual(split.lineBytesBefore(i, position, index), bytes);
                  });
                }
              } finally {
                split.close();
              }
            } finally {
              for (const run of runs) await io.deleteRun(run);
            }
          },
        ),
        40,
      );
    } finally {
      probePage.release();
    }
  }, { segmentBytes: SEGMENT_BYTES });
});

/** A run's line-bytes index from its decoded records (kernel_sort.ts `lineBytesIndex`). */
function lineBytesIndex(
  records: { record: Uint8Array; position: RunPosition }[],
  blockCount: number,
): number[] {
  const index: number[] = [];
  let bytes = 0;
  let next = 0;
  for (let b = 0; b < blockCount; b += 1) {
    while (next < records.length && records[next]!.position.block < b) {
      bytes += records[next]!.record.length + 1;
      next += 1;
    }
    index.push(next < records.length && records[next]!.position.block === b ? bytes : -1);
  }
  for (; next < records.length; next += 1) bytes += records[next]!.record.length + 1;
  index.push(bytes);
  return index;
}

Deno.test("KeySplit finds a record longer than the key it samples at a block border (a sample cut to SPLIT_KEY_BYTES_MAX is not before an equal splitter), and refuses a longer splitter", async () => {
  await withMergeFixture(1024 * 1024, async ({ memory, io }) => {
    const probePage = memory.allocate("test-probe", 1);
    try {
      // 4078 bytes + a 2-byte length fill a block's payload exactly; 4079 cross into the next.
      for (const length of [4077, 4078, 4079]) {
        const record = new TextEncoder().encode("q".repeat(length));
        const writer = await io.createRunWriter("test");
        for (let r = 0; r < 2; r += 1) {
          const pending = writer.writeRecord(record, 0, record.length);
          if (pending) await pending;
        }
        const run = await writer.finish();
        const split = new KeySplit([run], undefined, {
          segmentBytes: SEGMENT_BYTES,
          reverse: false,
          samplesPerRun: 3,
          probeBlock: probePage.segments[0]!.bytes,
        });
        try {
          for (const n of [1, SPLIT_KEY_BYTES_MAX - 1, SPLIT_KEY_BYTES_MAX]) {
            deepStrictEqual(split.runPosition(0, record.subarray(0, n)), { block: 0, offset: 0 });
          }
          throws(
            () => split.runPosition(0, record.subarray(0, SPLIT_KEY_BYTES_MAX + 1)),
            /at most/,
          );
        } finally {
          split.close();
          await io.deleteRun(run);
        }
      }
    } finally {
      probePage.release();
    }
  }, { segmentBytes: SEGMENT_BYTES });
});

Deno.test("KeySplit reads every run into the one probe block it is given, and reads a block again after another run's", async () => {
  await withMergeFixture(1024 * 1024, async ({ memory, io }) => {
    const runs: SpillRun[] = [];
    try {
      const random = makeRandom(11);
      for (let r = 0; r < 3; r += 1) {
        const records = Array.from({ length: 3000 }, () => {
          const length = 1 + Math.floor(random() * 12);
          return Uint8Array.from({ length }, () => 0x61 + Math.floor(random() * 20));
        }).sort(Buffer.compare);
        const writer = await io.createRunWriter("test");
        for (const record of records) {
          const pending = writer.writeRecord(record, 0, record.length);
          if (pending) await pending;
        }
        runs.push(await writer.finish());
      }
      const page = memory.allocate("test-probe", 1);
      try {
        const probeBlock = page.segments[0]!.bytes;
        throws(
          () =>
            new KeySplit(runs, undefined, {
              segmentBytes: SEGMENT_BYTES,
              reverse: false,
              probeBlock: probeBlock.subarray(1),
            }),
          /a probe block is one segment long/,
        );
        const split = new KeySplit(runs, undefined, {
          segmentBytes: SEGMENT_BYTES,
          reverse: false,
          samplesPerRun: 4,
          probeBlock,
        });
        try {
          ok(probeBlock.subarray(0, 16).some((byte) => byte !== 0), "the probes read into it");
          const decoded = await Promise.all(
            runs.map(async (run) => decodeRun(await Deno.readFile(run.path))),
          );
          // Every run in turn, twice over: each search reads its run's blocks into the one page.
          const splitters = split.chooseSplitters(6);
          ok(splitters.length >= 2, "enough splitters");
          for (const splitter of [...splitters, ...[...splitters].reverse()]) {
            runs.forEach((_run, i) => {
              const found = decoded[i]!.find(({ record }) => Buffer.compare(record, splitter) >= 0);
              deepStrictEqual(split.runPosition(i, splitter), found?.position ?? split.runEnd(i));
            });
          }
        } finally {
          split.close();
        }
      } finally {
        page.release();
      }
    } finally {
      for (const run of runs) await io.deleteRun(run);
    }
  }, { segmentBytes: SEGMENT_BYTES });
});

/** Lines with many duplicates across runs, and some longer than a block. */
function lines(random: () => number, lineCount: number): Uint8Array {
  const parts: number[] = [];
  const words = ["", "a", "ab", "abc", "b", "ba", "zz", "the", "of", "a b"];
  for (let i = 0; i < lineCount; i += 1) {
    const kind = random();
    if (kind < 0.5) {
      for (const ch of words[Math.floor(random() * words.length)]!) parts.push(ch.charCodeAt(0));
    } else if (kind < 0.998) {
      const length = Math.floor(random() * 20);
      for (let j = 0; j < length; j += 1) parts.push(0x61 + Math.floor(random() * 6));
    } else {
      const length = 4096 + Math.floor(random() * 9000);
      const ch = 0x61 + Math.floor(random() * 3);
      for (let j = 0; j < length; j += 1) parts.push(ch);
    }
    parts.push(10);
  }
  return new Uint8Array(parts);
}

/** What a C-locale sort writes (the oracle). */
function expectedSort(input: Uint8Array, reverse: boolean, unique: boolean): Uint8Array {
  const records: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < input.length; i += 1) {
    if (input[i] === 10) {
      records.push(input.subarray(start, i));
      start = i + 1;
    }
  }
  records.sort((a, b) => reverse ? Buffer.compare(b, a) : Buffer.compare(a, b));
  const kept = unique
    ? records.filter((record, i) => i === 0 || Buffer.compare(record, records[i - 1]!) !== 0)
    : records;
  const out: number[] = [];
  for (const record of kept) {
    for (const byte of record) out.push(byte);
    out.push(10);
  }
  return new Uint8Array(out);
}

async function sortFile(
  input: string,
  options: { reverse: boolean; unique: boolean; splitMerge: false | { rangeBytes: number } },
): Promise<{ output: Uint8Array; stats: SortStats }> {
  return await withMergeFixture(4 * 1024 * 1024, async ({ memory, io, work }) => {
    const stats = await externalSort([input], work.path("out"), {
      memory,
      io,
      order: new BytesOrder(options.reverse),
      orderDescriptor: { kind: "bytes", reverse: options.reverse },
      unique: options.unique,
      parallelMergeBytesMin: 0,
      splitMerge: options.splitMerge,
    });
    return { stats, output: await Deno.readFile(work.path("out")) };
  }, { segmentBytes: SEGMENT_BYTES, noSpillLeftovers: true });
}

Deno.test("the final merge split by key range writes what one merge writes (-r, -u, long lines)", async () => {
  const seed = propertySeed();
  const work = await makeWorkDir();
  try {
    const input = work.path("in");
    const bytes = lines(makeRandom(seed), 200_000);
    await Deno.writeFile(input, bytes);
    for (const reverse of [false, true]) {
      for (const unique of [false, true]) {
        const label = `reverse ${reverse}, unique ${unique}, seed ${seed}`;
        const expected = expectedSort(bytes, reverse, unique);
        const split = await sortFile(input, {
          reverse,
          unique,
          splitMerge: { rangeBytes: 16_384 },
        });
        ok(split.stats.mergeRanges > 4, `${label}: ${split.stats.mergeRanges} ranges`);
        ok(split.stats.runCount > 2, `${label}: ${split.stats.runCount} runs`);
        ok(Buffer.compare(split.output, expected) === 0, `${label}: split output differs`);
        const one = await sortFile(input, { reverse, unique, splitMerge: false });
        strictEqual(one.stats.mergeRanges, 0);
        ok(Buffer.compare(one.output, expected) === 0, `${label}: one merge's output differs`);
      }
    }
  } finally {
    await work.remove();
  }
});

Deno.test("the split merge reports a corrupt or missing run and gives every page back", async () => {
  const seed = propertySeed();
  await withMergeFixture(1024 * 1024, async ({ memory, io }) => {
    const random = makeRandom(seed);
    const runs: SpillRun[] = [];
    const all: Uint8Array[] = [];
    for (let r = 0; r < 3; r += 1) {
      const records: Uint8Array[] = [];
      for (let i = 0; i < 3000; i += 1) {
        const length = Math.floor(random() * 12);
        const record = new Uint8Array(length);
        for (let j = 0; j < length; j += 1) record[j] = 0x61 + Math.floor(random() * 5);
        records.push(record);
      }
      records.sort(Buffer.compare);
      all.push(...records);
      const writer = await io.createRunWriter("test");
      for (const record of records) {
        const pending = writer.writeRecord(record, 0, record.length);
        if (pending) await pending;
      }
      runs.push(await writer.finish());
    }
    const expectedRecords = all.length;
    const merge = async (): Promise<Uint8Array> => {
      const chunks: Uint8Array[] = [];
      const result = await mergeByKeyRanges(runs, undefined, (bytes, byteLength) => {
        chunks.push(bytes.slice(0, byteLength));
        return undefined;
      }, {
        memory,
        reverse: false,
        unique: false,
        terminator: 10,
        expectedRecords,
        outputSegments: 2,
        rangeCount: 6,
      });
      ok(result.rangeCount > 2, `${result.rangeCount} ranges`);
      return Buffer.concat(chunks);
    };
    all.sort(Buffer.compare);
    const expected = Buffer.concat(all.flatMap((record) => [record, new Uint8Array([10])]));
    strictEqual(Buffer.compare(await merge(), expected), 0, `seed ${seed}`);
    memory.assertAllReleased();

    const original = await Deno.readFile(runs[1]!.path);
    const damaged = original.slice();
    damaged[4096 + SEGMENT_BYTES * 3 + 100] = damaged[4096 + SEGMENT_BYTES * 3 + 100]! ^ 0x40;
    await Deno.writeFile(runs[1]!.path, damaged);
    await rejects(merge, (error: unknown) => {
      ok(error instanceof CorruptSpillError, String(error));
      ok(
        error.message.startsWith(`Corrupt spill file ${runs[1]!.path} at block 3: CRC32C`),
        error.message,
      );
      return true;
    });
    memory.assertAllReleased();

    await Deno.remove(runs[1]!.path);
    await rejects(merge, (error: unknown) => {
      ok(error instanceof SpillReadError, String(error));
      ok(error.message.includes(`from ${runs[1]!.path}: ENOENT`), error.message);
      return true;
    });
    memory.assertAllReleased();
    await Deno.writeFile(runs[1]!.path, original);
  }, { segmentBytes: SEGMENT_BYTES });
});

Deno.test("the merge Worker's later ranges find its kernels over the memory object each one is sent with", async () => {
  // A Worker kept for the next range receives the shared memory as a new object with each
  // range; without shareKernels its views of that object did not find the kernels it had
  // instantiated for the first range, and its blocks' CRC32C took the table path (correct, and
  // several times slower per block): visible only in this flag.
  await withMergeFixture(1024 * 1024, async ({ memory, io }) => {
    const random = makeRandom(7);
    const runs: SpillRun[] = [];
    let recordCount = 0;
    for (let r = 0; r < 3; r += 1) {
      const records = Array.from({ length: 3000 }, () => {
        const record = new Uint8Array(1 + Math.floor(random() * 12));
        for (let j = 0; j < record.length; j += 1) record[j] = 0x61 + Math.floor(random() * 5);
        return record;
      }).sort(Buffer.compare);
      recordCount += records.length;
      const writer = await io.createRunWriter("test");
      for (const record of records) {
        const pending = writer.writeRecord(record, 0, record.length);
        if (pending) await pending;
      }
      runs.push(await writer.finish());
    }
    const result = await mergeByKeyRanges(runs, undefined, () => undefined, {
      memory,
      reverse: false,
      unique: false,
      terminator: 10,
      expectedRecords: recordCount,
      outputSegments: 2,
      rangeCount: 6,
    });
    ok(result.rangeCount > 2, `${result.rangeCount} ranges: a Worker merged one range only`);
    ok(result.blocksReadOnWorker > 0, "the Workers read no block");
    strictEqual(result.workerFoundKernels, true);
  }, { segmentBytes: SEGMENT_BYTES });
});

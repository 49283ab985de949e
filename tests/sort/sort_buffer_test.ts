import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import fc from "fast-check";
import { MemoryManager } from "../../src/memory/mod.ts";
import { BytesOrder, FixedKeyOrder, type RecordOrder } from "../../src/sort/record_order.ts";
import { GATHER_PREFIX_BYTES, gatherJob, SortBuffer, sortJob } from "../../src/sort/sort_buffer.ts";
import { parseSortOrder } from "../../src/sort/sort_order.ts";
import { compareBytes } from "../../src/memory/mod.ts";
import { plainSpec } from "./_fixtures.ts";

function fill(buffer: SortBuffer, records: Uint8Array[]): number {
  let appended = 0;
  for (const record of records) {
    if (!buffer.tryAppend(record, 0, record.length)) break;
    appended += 1;
  }
  return appended;
}

function drain(buffer: SortBuffer): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < buffer.recordCount; i += 1) {
    const offset = buffer.recordOffset(i);
    out.push(buffer.recordBytes(i).slice(offset, offset + buffer.recordLength(i)));
  }
  return out;
}

/** Oracle: a stable sort of (record, input position) by the order's compare. */
function oracle(records: Uint8Array[], order: RecordOrder): Uint8Array[] {
  return records
    .map((record, position) => ({ record, position }))
    .sort((a, b) =>
      order.compare(a.record, 0, a.record.length, b.record, 0, b.record.length) ||
      a.position - b.position
    )
    .map((entry) => entry.record);
}

const recordArbitrary = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 20 }) },
  {
    weight: 3,
    arbitrary: fc.array(fc.constantFrom(0, 1, 0x61, 0x62, 0xff), { maxLength: 24 }).map((a) =>
      new Uint8Array(a)
    ),
  },
  { weight: 1, arbitrary: fc.constant(new Uint8Array(0)) },
  { weight: 1, arbitrary: fc.constant(new Uint8Array(16).fill(0x61)) },
);

function sortWith(order: RecordOrder, records: Uint8Array[], viaJob: boolean): Uint8Array[] {
  const memory = new MemoryManager({ budgetBytes: 2 << 20, segmentBytes: 4096 });
  const buffer = new SortBuffer(memory, {
    owner: "test",
    dataSegmentCount: 128,
    indexEntryCount: 32768,
    order,
  });
  try {
    strictEqual(fill(buffer, records), records.length);
    if (viaJob) {
      const job = buffer.lend("test-worker");
      sortJob(job, order, memory.wasmMemory.buffer as SharedArrayBuffer);
      buffer.takeBack();
    } else {
      buffer.sort();
    }
    return drain(buffer);
  } finally {
    buffer.release();
    memory.assertAllReleased();
  }
}

Deno.test("SortBuffer sorts hand-written records in byte order", () => {
  const encode = (text: string) => new TextEncoder().encode(text);
  const records = ["pear", "", "apple", "applesauce", "apple", "b", "", "Zebra"].map(encode);
  const sorted = sortWith(new BytesOrder(), records, false).map((r) => new TextDecoder().decode(r));
  deepStrictEqual(sorted, ["", "", "Zebra", "apple", "apple", "applesauce", "b", "pear"]);
});

Deno.test("SortBuffer matches a stable oracle sort for byte order, reverse, keys and fixed keys", () => {
  const orders: Array<[string, RecordOrder]> = [
    ["bytes", new BytesOrder()],
    ["reverse", new BytesOrder(true)],
    ["fixed key 2..5", new FixedKeyOrder(2, 3)],
    [
      "-s -k1.2,1.3",
      parseSortOrder(plainSpec(["1.2,1.3"], { stable: true })),
    ],
  ];
  for (const [name, order] of orders) {
    fc.assert(
      fc.property(fc.array(recordArbitrary, { maxLength: 300 }), fc.boolean(), (raw, viaJob) => {
        const records = order instanceof FixedKeyOrder
          ? raw.map((r) => {
            const fixed = new Uint8Array(8);
            fixed.set(r.subarray(0, 8));
            return fixed;
          })
          : raw;
        const actual = sortWith(order, records, viaJob);
        const expected = oracle(records, order);
        strictEqual(actual.length, expected.length, name);
        for (let i = 0; i < actual.length; i += 1) {
          const a = actual[i]!, e = expected[i]!;
          strictEqual(compareBytes(a, 0, a.length, e, 0, e.length), 0, `${name} at ${i}`);
        }
      }),
      { numRuns: 60 },
    );
  }
});

Deno.test("SortBuffer sorts large inputs through the radix path (4096 records and more)", () => {
  const records: Uint8Array[] = [];
  let state = 12345;
  for (let i = 0; i < 20000; i += 1) {
    state = (state * 1103515245 + 12345) >>> 0;
    const length = state % 24;
    const record = new Uint8Array(length);
    for (let j = 0; j < length; j += 1) {
      state = (state * 1103515245 + 12345) >>> 0;
      record[j] = 0x61 + (state >>> 28);
    }
    records.push(record);
  }
  for (const order of [new BytesOrder(), new BytesOrder(true)]) {
    const actual = sortWith(order, records, false);
    const expected = oracle(records, order);
    for (let i = 0; i < actual.length; i += 1) {
      const a = actual[i]!, e = expected[i]!;
      strictEqual(compareBytes(a, 0, a.length, e, 0, e.length), 0, `at ${i}`);
    }
  }
});

Deno.test("SortBuffer.tryAppend returns false when full and for records longer than a page", () => {
  const memory = new MemoryManager({ budgetBytes: 64 * 1024, segmentBytes: 4096 });
  const buffer = new SortBuffer(memory, {
    owner: "test",
    dataSegmentCount: 2,
    indexEntryCount: 4,
    order: new BytesOrder(),
  });
  const record = new Uint8Array(3000);
  strictEqual(buffer.tryAppend(record, 0, 3000), true);
  strictEqual(buffer.tryAppend(record, 0, 3000), true); // second page
  strictEqual(buffer.tryAppend(record, 0, 3000), false); // data full
  strictEqual(buffer.tryAppend(record, 0, 10), true);
  strictEqual(buffer.tryAppend(record, 0, 10), true);
  strictEqual(buffer.tryAppend(record, 0, 10), false); // index full (4 entries)
  strictEqual(buffer.canHold(4097), false);
  buffer.reset();
  strictEqual(buffer.recordCount, 0);
  strictEqual(buffer.tryAppend(new Uint8Array(5000), 0, 5000), false);
  buffer.lend("test-worker");
  throws(() => buffer.sort(), /lent/);
  throws(() => buffer.segments[0]!.getU8(0), /lent out to "test-worker"/);
  deepStrictEqual([...memory.holdings()], [["test-worker", 3]]);
  buffer.takeBack();
  buffer.release();
  buffer.release(); // idempotent
  memory.assertAllReleased();
});

Deno.test("gatherJob copies sorted records with length prefixes and stops when the pages run out", () => {
  const memory = new MemoryManager({ budgetBytes: 1 << 20, segmentBytes: 4096 });
  const buffer = new SortBuffer(memory, {
    owner: "test",
    dataSegmentCount: 8,
    indexEntryCount: 2048,
    order: new BytesOrder(),
  });
  const records: Uint8Array[] = [];
  for (let i = 0; i < 1000; i += 1) {
    records.push(new TextEncoder().encode(`record ${(i * 7919) % 1000}`.padEnd(10 + (i % 7), "x")));
  }
  strictEqual(fill(buffer, records), 1000);
  const job = buffer.lend("test-worker");
  sortJob(job, new BytesOrder(), memory.wasmMemory.buffer as SharedArrayBuffer);
  using targetLease = memory.allocate("test-target", 2); // room for ~400 of 1000
  job.target = targetLease.segments.map((segment) => segment.memoryOffset);
  // The memory may have grown for the target pages: take its buffer as it is now.
  gatherJob(job, memory.wasmMemory.buffer as SharedArrayBuffer);
  const gathered = job.gatheredCount!;
  strictEqual(gathered > 300 && gathered < 1000, true, `gathered ${gathered}`);
  const expected = oracle(records, new BytesOrder());
  let n = 0;
  targetLease.segments.forEach((page, p) => {
    const bytes = page.bytes;
    let position = 0;
    while (position < job.targetUsed![p]!) {
      const length = page.getU32LE(position);
      position += GATHER_PREFIX_BYTES;
      const e = expected[n]!;
      strictEqual(compareBytes(bytes, position, length, e, 0, e.length), 0, `record ${n}`);
      position += length;
      n += 1;
    }
  });
  strictEqual(n, gathered);
  buffer.takeBack();
  buffer.release();
  targetLease.release();
  memory.assertAllReleased();
});

Deno.test("SortBuffer with normalized keys matches the comparator, keyless long records included", () => {
  const specs: string[][] = [
    ["2,2n", "1"],
    ["1.2,1.3r"],
    ["2", "1,1fr"],
    ["1,1M", "2h"],
    ["1bd,1"],
  ];
  const records = fc.array(
    fc.oneof(
      { weight: 6, arbitrary: recordArbitrary },
      {
        weight: 4,
        arbitrary: fc.array(fc.constantFrom(" ", "-", "1", "9", ".", "a", "K", "jan", "\x00"), {
          maxLength: 12,
        }).map((parts) => new TextEncoder().encode(parts.join(""))),
      },
      // Longer than a third of a 4 KiB page: the key (up to 2x per bytes key) may not fit.
      // Few distinct starts, so long records tie on their prefixes with each other.
      {
        weight: 2,
        arbitrary: fc.tuple(
          fc.constantFrom("1 a", "1 b", "a 1", "jan 2K"),
          fc.integer({ min: 1300, max: 4000 }),
          fc.constantFrom(0x00, 0x61, 0x62, 0xff),
        ).map(([start, length, last]) => {
          const record = new Uint8Array(length).fill(0x61);
          record.set(new TextEncoder().encode(start));
          record[length - 1] = last;
          return record;
        }),
      },
    ),
    { maxLength: 200 },
  );
  for (const keys of specs) {
    for (const reverse of [false, true]) {
      const order = parseSortOrder(
        plainSpec(keys, { reverse, ...(keys.length > 1 ? { fieldSeparator: 0x20 } : {}) }),
      );
      fc.assert(
        fc.property(records, fc.boolean(), (input, viaJob) => {
          const memory = new MemoryManager({ budgetBytes: 4 << 20, segmentBytes: 4096 });
          const buffer = new SortBuffer(memory, {
            owner: "test",
            dataSegmentCount: 512,
            indexEntryCount: 4096,
            order,
          });
          try {
            strictEqual(buffer.keyed, true);
            strictEqual(fill(buffer, input), input.length);
            if (viaJob) {
              const job = buffer.lend("test-worker");
              sortJob(job, order, memory.wasmMemory.buffer as SharedArrayBuffer);
              buffer.takeBack();
            } else {
              buffer.sort();
            }
            const actual = drain(buffer);
            const expected = oracle(input, order);
            strictEqual(actual.length, expected.length);
            for (let i = 0; i < actual.length; i += 1) {
              const a = actual[i]!, e = expected[i]!;
              strictEqual(compareBytes(a, 0, a.length, e, 0, e.length), 0, `${keys} at ${i}`);
            }
          } finally {
            buffer.release();
            memory.assertAllReleased();
          }
        }),
        { numRuns: 25 },
      );
    }
  }
});

Deno.test("SortBuffer keeps the comparator for -g, -V, -R and when normalizedKeys is false", () => {
  const memory = new MemoryManager({ budgetBytes: 1 << 20, segmentBytes: 4096 });
  const cases: Array<[string[], boolean, boolean]> = [
    [["1g"], true, false],
    [["1V"], true, false],
    [["1,1n"], true, true],
    [["1,1n"], false, false],
  ];
  for (const [keys, normalizedKeys, keyed] of cases) {
    const buffer = new SortBuffer(memory, {
      owner: "test",
      dataSegmentCount: 2,
      indexEntryCount: 16,
      order: parseSortOrder(plainSpec(keys)),
      normalizedKeys,
    });
    strictEqual(buffer.keyed, keyed, `${keys} normalizedKeys=${normalizedKeys}`);
    buffer.release();
  }
  memory.assertAllReleased();
});

Deno.test("SortBuffer's jobs mark prefix words that hold records of at most 8 bytes (plain byte order)", () => {
  const memory = new MemoryManager({ budgetBytes: 1 << 20, segmentBytes: 4096 });
  const words = ["ab", "ab\0", "", "\xff\xff", "abcdefgh", "abcdefghi", "\0"];
  const records = words.map((w) => Uint8Array.from(w, (ch) => ch.charCodeAt(0)));
  const cases: [RecordOrder, boolean, boolean][] = [
    [new BytesOrder(), true, false],
    [new BytesOrder(true), true, true],
    [parseSortOrder(plainSpec([], { reverse: true })), true, true],
    [parseSortOrder(plainSpec(["2,2n"])), false, false],
  ];
  for (const [order, holds, inverted] of cases) {
    const buffer = new SortBuffer(memory, {
      owner: "test",
      dataSegmentCount: 2,
      indexEntryCount: 16,
      order,
    });
    strictEqual(fill(buffer, records), records.length);
    buffer.sort();
    const job = buffer.jobHere();
    strictEqual(job.prefixHoldsRecord, holds);
    strictEqual(job.prefixInverted, inverted);
    if (holds) {
      // After the sort each short record's prefix words are still its bytes (what the gather
      // writes in its place).
      const view = new DataView(memory.wasmMemory.buffer);
      const bytes = new Uint8Array(memory.wasmMemory.buffer);
      const invert = inverted ? 0xffff_ffff : 0;
      for (let i = 0; i < records.length; i += 1) {
        const entry = job.index + 16 * i;
        const length = view.getUint32(entry + 12, true);
        if (length > 8) continue;
        const address = view.getUint32(entry + 8, true);
        const at = job.segments[address >>> job.segmentShift]! +
          (address & ((1 << job.segmentShift) - 1));
        const prefix = new Uint8Array(8);
        new DataView(prefix.buffer).setUint32(0, (view.getUint32(entry, true) ^ invert) >>> 0);
        new DataView(prefix.buffer).setUint32(4, (view.getUint32(entry + 4, true) ^ invert) >>> 0);
        const expected = new Uint8Array(8);
        expected.set(bytes.subarray(at, at + length));
        deepStrictEqual(prefix, expected);
      }
    }
    buffer.release();
  }
  memory.assertAllReleased();
});

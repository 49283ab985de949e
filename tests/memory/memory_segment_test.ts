import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import fc from "fast-check";
import { MemoryManager, type MemorySegment } from "../../src/memory/mod.ts";
import { checkProperty } from "../_support/property.ts";

const SEGMENT_BYTES = 4096;

function withSegment(body: (segment: MemorySegment, memory: MemoryManager) => void): void {
  const memory = new MemoryManager({ budgetBytes: 4 * SEGMENT_BYTES, segmentBytes: SEGMENT_BYTES });
  {
    using lease = memory.allocate("test", 2);
    body(lease.segments[0]!, memory);
  }
  memory.assertAllReleased();
}

type Accessor = {
  name: string;
  width: number;
  get: (segment: MemorySegment, offset: number) => number;
  set: (segment: MemorySegment, offset: number, value: number) => void;
  viewGet: (view: DataView, offset: number) => number;
  arbitrary: fc.Arbitrary<number>;
};

const u = (bits: number) => fc.integer({ min: 0, max: 2 ** bits - 1 });
const i = (bits: number) => fc.integer({ min: -(2 ** (bits - 1)), max: 2 ** (bits - 1) - 1 });

const accessors: Accessor[] = [
  {
    name: "u8",
    width: 1,
    get: (s, o) => s.getU8(o),
    set: (s, o, v) => s.setU8(o, v),
    viewGet: (d, o) => d.getUint8(o),
    arbitrary: u(8),
  },
  {
    name: "i8",
    width: 1,
    get: (s, o) => s.getI8(o),
    set: (s, o, v) => s.setI8(o, v),
    viewGet: (d, o) => d.getInt8(o),
    arbitrary: i(8),
  },
  {
    name: "u16BE",
    width: 2,
    get: (s, o) => s.getU16BE(o),
    set: (s, o, v) => s.setU16BE(o, v),
    viewGet: (d, o) => d.getUint16(o),
    arbitrary: u(16),
  },
  {
    name: "u16LE",
    width: 2,
    get: (s, o) => s.getU16LE(o),
    set: (s, o, v) => s.setU16LE(o, v),
    viewGet: (d, o) => d.getUint16(o, true),
    arbitrary: u(16),
  },
  {
    name: "i16BE",
    width: 2,
    get: (s, o) => s.getI16BE(o),
    set: (s, o, v) => s.setI16BE(o, v),
    viewGet: (d, o) => d.getInt16(o),
    arbitrary: i(16),
  },
  {
    name: "i16LE",
    width: 2,
    get: (s, o) => s.getI16LE(o),
    set: (s, o, v) => s.setI16LE(o, v),
    viewGet: (d, o) => d.getInt16(o, true),
    arbitrary: i(16),
  },
  {
    name: "u32BE",
    width: 4,
    get: (s, o) => s.getU32BE(o),
    set: (s, o, v) => s.setU32BE(o, v),
    viewGet: (d, o) => d.getUint32(o),
    arbitrary: u(32),
  },
  {
    name: "u32LE",
    width: 4,
    get: (s, o) => s.getU32LE(o),
    set: (s, o, v) => s.setU32LE(o, v),
    viewGet: (d, o) => d.getUint32(o, true),
    arbitrary: u(32),
  },
  {
    name: "i32BE",
    width: 4,
    get: (s, o) => s.getI32BE(o),
    set: (s, o, v) => s.setI32BE(o, v),
    viewGet: (d, o) => d.getInt32(o),
    arbitrary: i(32),
  },
  {
    name: "i32LE",
    width: 4,
    get: (s, o) => s.getI32LE(o),
    set: (s, o, v) => s.setI32LE(o, v),
    viewGet: (d, o) => d.getInt32(o, true),
    arbitrary: i(32),
  },
  {
    name: "f32BE",
    width: 4,
    get: (s, o) => s.getF32BE(o),
    set: (s, o, v) => s.setF32BE(o, v),
    viewGet: (d, o) => d.getFloat32(o),
    arbitrary: fc.float({ noNaN: true }).map(Math.fround),
  },
  {
    name: "f32LE",
    width: 4,
    get: (s, o) => s.getF32LE(o),
    set: (s, o, v) => s.setF32LE(o, v),
    viewGet: (d, o) => d.getFloat32(o, true),
    arbitrary: fc.float({ noNaN: true }).map(Math.fround),
  },
  {
    name: "f64BE",
    width: 8,
    get: (s, o) => s.getF64BE(o),
    set: (s, o, v) => s.setF64BE(o, v),
    viewGet: (d, o) => d.getFloat64(o),
    arbitrary: fc.double({ noNaN: true }),
  },
  {
    name: "f64LE",
    width: 8,
    get: (s, o) => s.getF64LE(o),
    set: (s, o, v) => s.setF64LE(o, v),
    viewGet: (d, o) => d.getFloat64(o, true),
    arbitrary: fc.double({ noNaN: true }),
  },
  {
    name: "u64BE",
    width: 8,
    get: (s, o) => s.getU64(o),
    set: (s, o, v) => s.setU64(o, v),
    viewGet: (d, o) => Number(d.getBigUint64(o)),
    arbitrary: fc.maxSafeNat(),
  },
  {
    name: "u64LE",
    width: 8,
    get: (s, o) => s.getU64(o, true),
    set: (s, o, v) => s.setU64(o, v, true),
    viewGet: (d, o) => Number(d.getBigUint64(o, true)),
    arbitrary: fc.maxSafeNat(),
  },
];

for (const accessor of accessors) {
  Deno.test(`MemorySegment ${accessor.name} agrees with a DataView oracle`, () => {
    withSegment((segment) => {
      checkProperty(
        fc.property(
          fc.integer({ min: 0, max: SEGMENT_BYTES - accessor.width }),
          accessor.arbitrary,
          (offset, value) => {
            accessor.set(segment, offset, value);
            const bytes = segment.bytes;
            const oracle = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
            strictEqual(accessor.viewGet(oracle, offset), value);
            strictEqual(accessor.get(segment, offset), value);
          },
        ),
      );
    });
  });

  Deno.test(`MemorySegment ${accessor.name} throws RangeError out of bounds`, () => {
    withSegment((segment) => {
      throws(() => accessor.get(segment, SEGMENT_BYTES - accessor.width + 1), RangeError);
      throws(() => accessor.set(segment, -1, 0), RangeError);
    });
  });
}

Deno.test("MemorySegment u64 words round trip beyond 2^53", () => {
  withSegment((segment) => {
    segment.setU64Words(8, 0xffff_ffff, 0x1234_5678);
    const words = new Uint32Array(2);
    segment.getU64Words(8, words);
    deepStrictEqual([...words], [0xffff_ffff, 0x1234_5678]);
    throws(() => segment.getU64(8), /exceeds 2\^53 - 1/);
    segment.setU64Words(16, 1, 2, true);
    segment.getU64Words(16, words, true);
    deepStrictEqual([...words], [1, 2]);
    throws(() => segment.setU64(0, -1), RangeError);
  });
});

function oracleCompare(a: Uint8Array, b: Uint8Array): number {
  const common = Math.min(a.length, b.length);
  for (let k = 0; k < common; k += 1) {
    if (a[k] !== b[k]) return a[k]! < b[k]! ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

Deno.test("MemorySegment compare agrees with a byte-by-byte oracle", () => {
  const memory = new MemoryManager({ budgetBytes: 4 * SEGMENT_BYTES, segmentBytes: SEGMENT_BYTES });
  {
    using lease = memory.allocate("test", 2);
    const [left, right] = lease.segments as [MemorySegment, MemorySegment];
    const bytes = fc.uint8Array({ maxLength: 40 }).map((a) => a.map((x) => x % 4)); // many ties
    checkProperty(
      fc.property(bytes, bytes, fc.nat(100), fc.nat(100), (a, b, leftOffset, rightOffset) => {
        left.put(leftOffset, a);
        right.put(rightOffset, b);
        const sign = Math.sign(left.compare(leftOffset, right, rightOffset, a.length, b.length));
        strictEqual(sign, oracleCompare(a, b));
        strictEqual(
          left.equals(leftOffset, right, rightOffset, Math.min(a.length, b.length)),
          oracleCompare(
            a.subarray(0, Math.min(a.length, b.length)),
            b.subarray(0, Math.min(a.length, b.length)),
          ) === 0,
        );
      }),
      500,
    );
  }
  memory.assertAllReleased();
});

Deno.test("MemorySegment bulk get, put, copyTo and swap move the right bytes", () => {
  withSegment((segment, memory) => {
    using other = memory.allocate("other", 1);
    const target = other.segments[0]!;
    segment.put(10, new Uint8Array([1, 2, 3, 4, 5]), 1, 3);
    const out = new Uint8Array(3);
    segment.get(10, out);
    deepStrictEqual([...out], [2, 3, 4]);
    segment.copyTo(10, target, 100, 3);
    deepStrictEqual([...target.bytes.subarray(100, 103)], [2, 3, 4]);
    segment.copyTo(10, segment, 11, 3); // overlapping copy within one segment
    deepStrictEqual([...segment.bytes.subarray(10, 14)], [2, 2, 3, 4]);
    target.put(0, new Uint8Array([9, 9, 9, 9]));
    segment.swap(10, target, 0, 4);
    deepStrictEqual([...segment.bytes.subarray(10, 14)], [9, 9, 9, 9]);
    deepStrictEqual([...target.bytes.subarray(0, 4)], [2, 2, 3, 4]);
    throws(() => segment.swap(0, segment, 2, 4), /overlapping/);
    throws(() => segment.get(SEGMENT_BYTES - 2, new Uint8Array(3)), RangeError);
    throws(() => segment.put(0, new Uint8Array(3), 2, 2), RangeError);
  });
});

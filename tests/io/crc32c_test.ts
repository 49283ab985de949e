import { strictEqual } from "node:assert/strict";
import fc from "fast-check";
import { crc32c } from "../../src/io/mod.ts";
import { crc32cTables, LANES_MIN_BYTES } from "../../src/io/crc32c.ts";
import { kernelsOverBuffer, WasmKernels } from "../../src/kernels/mod.ts";
import { ioTestSeed } from "../_support/io_fixtures.ts";

/** Bit-at-a-time CRC32C: the slow, obviously right oracle. */
function crc32cSlow(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

Deno.test("crc32c matches the published check values", () => {
  const encoder = new TextEncoder();
  strictEqual(crc32c(encoder.encode("123456789"), 0, 9), 0xe3069283);
  strictEqual(crc32c(new Uint8Array(0), 0, 0), 0);
  strictEqual(crc32c(new Uint8Array(32), 0, 32), 0x8a9136aa); // RFC 3720 B.4: 32 zero bytes
  strictEqual(crc32c(new Uint8Array(32).fill(0xff), 0, 32), 0x62a8ab43); // 32 bytes of 0xff
});

Deno.test("crc32c equals the bitwise oracle on random ranges, whole or continued", () => {
  const seed = ioTestSeed("crc32c");
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), fc.nat(), (bytes, a, b) => {
      const start = bytes.length === 0 ? 0 : a % (bytes.length + 1);
      const end = start + (b % (bytes.length - start + 1));
      const expected = crc32cSlow(bytes.subarray(start, end));
      strictEqual(crc32c(bytes, start, end), expected);
      const middle = start + Math.floor((end - start) / 2);
      strictEqual(crc32c(bytes, middle, end, crc32c(bytes, start, middle)), expected);
    }),
    { seed, numRuns: 300 },
  );
});

/** A shared memory with kernels over it (the lanes path) and `length` random bytes at 4096. */
function kernelMemory(length: number, seed: number) {
  const memory = new WebAssembly.Memory({ initial: 4, maximum: 64, shared: true });
  const kernels = new WasmKernels(memory);
  const bytes = new Uint8Array(memory.buffer, 4096, length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i += 1) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state >>> 24;
  }
  return { memory, kernels, bytes };
}

Deno.test("crc32c over a kernel memory takes the 16 lanes and equals the bitwise oracle", () => {
  const { kernels, bytes } = kernelMemory(70_000, 7);
  strictEqual(kernelsOverBuffer(bytes.buffer), kernels);
  const seed = ioTestSeed("crc32c lanes");
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 40 }),
      fc.integer({ min: LANES_MIN_BYTES, max: 66_000 }),
      fc.nat(),
      (start, length, crc) => {
        const end = start + length;
        const expected = crc32cSlow(bytes.subarray(start, end));
        strictEqual(crc32c(bytes, start, end), expected);
        strictEqual(crc32cTables(bytes, start, end), expected);
        const middle = start + 17;
        strictEqual(crc32c(bytes, middle, end, crc32c(bytes, start, middle)), expected);
        strictEqual(crc32c(bytes, start, end, crc), crc32cTables(bytes, start, end, crc));
      },
    ),
    { seed, numRuns: 60 },
  );
});

Deno.test("crc32cLanes joins 16 lanes: each lane and each join counts", () => {
  const { kernels, bytes } = kernelMemory(16 * 2048, 11);
  for (const laneBytes of [16, 32, 48, 1024, 2032, 2048]) {
    // x^(8 * laneBytes) mod P: the register 1 (x^0) after laneBytes zero bytes.
    const shift = ~crc32cTables(new Uint8Array(laneBytes), 0, laneBytes, ~0x80000000) >>> 0;
    const range = bytes.subarray(0, 16 * laneBytes);
    const register = kernels.crc32cLanes(range.byteOffset, laneBytes, 0xffffffff, shift);
    strictEqual((~register) >>> 0, crc32cSlow(range), `lanes of ${laneBytes} bytes`);
    for (const lane of [0, 7, 15]) {
      const changed = bytes[lane * laneBytes + laneBytes - 1]!;
      bytes[lane * laneBytes + laneBytes - 1] = changed ^ 0x80;
      const again = kernels.crc32cLanes(range.byteOffset, laneBytes, 0xffffffff, shift);
      strictEqual((~again) >>> 0, crc32cSlow(range), `lane ${lane} changed`);
      bytes[lane * laneBytes + laneBytes - 1] = changed;
    }
  }
});

Deno.test("crc32c over a memory without kernels on this thread or a grown one stays right", () => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 4, shared: true });
  const bytes = new Uint8Array(memory.buffer, 0, 5000);
  bytes.forEach((_, i) => bytes[i] = i * 7);
  strictEqual(kernelsOverBuffer(bytes.buffer), undefined);
  strictEqual(crc32c(bytes, 3, 5000), crc32cSlow(bytes.subarray(3)));
  const { memory: grown, kernels } = kernelMemory(5000, 3);
  const before = new Uint8Array(grown.buffer, 4096, 5000);
  grown.grow(1);
  const after = new Uint8Array(grown.buffer, 4096, 5000);
  strictEqual(kernelsOverBuffer(after.buffer), kernels);
  strictEqual(crc32c(before, 1, 5000), crc32cSlow(after.subarray(1)));
  strictEqual(crc32c(after, 1, 5000), crc32cSlow(after.subarray(1)));
});

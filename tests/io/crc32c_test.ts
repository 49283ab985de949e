import { strictEqual } from "node:assert/strict";
import fc from "fast-check";
import { crc32c } from "../../src/io/mod.ts";
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

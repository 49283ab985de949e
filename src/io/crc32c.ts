/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), slicing-by-8.
 *
 * Eight 256-entry tables let the loop fold eight bytes per step with table lookups only.
 * Tables are Int32Array so every value stays a small integer in V8 (no heap numbers).
 */
const POLYNOMIAL = 0x82f63b78;

const table = buildTable();

function buildTable(): Int32Array {
  const result = new Int32Array(8 * 256);
  for (let byte = 0; byte < 256; byte += 1) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 1 ? (crc >>> 1) ^ POLYNOMIAL : crc >>> 1;
    result[byte] = crc;
  }
  for (let byte = 0; byte < 256; byte += 1) {
    let crc = result[byte]!;
    for (let slice = 1; slice < 8; slice += 1) {
      crc = result[crc & 0xff]! ^ (crc >>> 8);
      result[slice * 256 + byte] = crc;
    }
  }
  return result;
}

/**
 * Computes the CRC32C of `bytes[start, end)`, continuing from `crc` (0 to start).
 *
 * @param bytes The data.
 * @param start First byte index.
 * @param end One past the last byte index.
 * @param crc A previous result to continue from (default 0).
 * @returns The checksum as an unsigned 32-bit number.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { crc32c } from "./crc32c.ts";
 * const bytes = new TextEncoder().encode("123456789");
 * strictEqual(crc32c(bytes, 0, bytes.length), 0xe3069283);
 * ```
 */
export function crc32c(bytes: Uint8Array, start: number, end: number, crc = 0): number {
  const t = table;
  let c = ~crc;
  let i = start;
  const end8 = end - ((end - start) & 7);
  while (i < end8) {
    const low = c ^
      (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    c = t[1792 + (low & 0xff)]! ^ t[1536 + ((low >>> 8) & 0xff)]! ^
      t[1280 + ((low >>> 16) & 0xff)]! ^ t[1024 + (low >>> 24)]! ^
      t[768 + bytes[i + 4]!]! ^ t[512 + bytes[i + 5]!]! ^ t[256 + bytes[i + 6]!]! ^
      t[bytes[i + 7]!]!;
    i += 8;
  }
  while (i < end) {
    c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
    i += 1;
  }
  return ~c >>> 0;
}

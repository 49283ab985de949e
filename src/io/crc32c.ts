/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78): in the WebAssembly kernels' vector
 * unit for a long range of a kernel memory, else slicing-by-16 over 32-bit words.
 *
 * A range of at least {@linkcode LANES_MIN_BYTES} in the shared memory of kernels made on this
 * thread is cut into 16 lanes of equal length (a multiple of 16 bytes), checksummed side by side
 * by the kernel `crc32cLanes` (src/kernels/assembly/crc32c.ts) and joined; the rest (under 256
 * bytes) and every other range go through the tables below.
 *
 * Sixteen 256-entry tables fold sixteen bytes per step with table lookups only. The bulk is
 * read as little-endian 32-bit words through an `Int32Array` view once the position is 4-byte
 * aligned (measured ~1.4x faster than composing words from bytes); the ragged ends go byte by
 * byte. Tables are Int32Array so every value stays a small integer in V8 (no heap numbers).
 */
import { kernelsOverBuffer, type WasmKernels } from "../kernels/wasm_kernels.ts";

const POLYNOMIAL = 0x82f63b78;
const WORDS_MIN_BYTES = 64;
/** From this many bytes a range of a kernel memory is checksummed in 16 lanes. */
export const LANES_MIN_BYTES = 1024;

function buildTables(): Int32Array[] {
  const first = new Int32Array(256);
  for (let byte = 0; byte < 256; byte += 1) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 1 ? (crc >>> 1) ^ POLYNOMIAL : crc >>> 1;
    first[byte] = crc;
  }
  const tables = [first];
  for (let slice = 1; slice < 16; slice += 1) {
    const previous = tables[slice - 1]!;
    const table = new Int32Array(256);
    for (let byte = 0; byte < 256; byte += 1) {
      table[byte] = first[previous[byte]! & 0xff]! ^ (previous[byte]! >>> 8);
    }
    tables.push(table);
  }
  return tables;
}

const tables = buildTables();
const t0 = tables[0]!;
const t1 = tables[1]!;
const t2 = tables[2]!;
const t3 = tables[3]!;
const t4 = tables[4]!;
const t5 = tables[5]!;
const t6 = tables[6]!;
const t7 = tables[7]!;
const t8 = tables[8]!;
const t9 = tables[9]!;
const t10 = tables[10]!;
const t11 = tables[11]!;
const t12 = tables[12]!;
const t13 = tables[13]!;
const t14 = tables[14]!;
const t15 = tables[15]!;

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
  if (end - start < LANES_MIN_BYTES) return crc32cTables(bytes, start, end, crc);
  const kernels = kernelsOverBuffer(bytes.buffer);
  if (kernels === undefined) return crc32cTables(bytes, start, end, crc);
  const laneBytes = ((end - start) >>> 8) << 4;
  const register = kernels.crc32cLanes(
    bytes.byteOffset + start,
    laneBytes,
    ~crc,
    laneShift(kernels, laneBytes),
  );
  return crc32cTables(bytes, start + 16 * laneBytes, end, ~register);
}

let shiftLaneBytes = -1;
let shiftValue = 0;

/** x^(8 * laneBytes) mod P, reflected (the last one is kept: blocks repeat their length). */
function laneShift(kernels: WasmKernels, laneBytes: number): number {
  if (laneBytes === shiftLaneBytes) return shiftValue;
  let power = 0x80000000; // x^0
  let square = 1 << 23; // x^8
  for (let e = laneBytes; e > 0; e >>>= 1) {
    if ((e & 1) !== 0) power = kernels.crc32cMultiply(power, square);
    square = kernels.crc32cMultiply(square, square);
  }
  shiftLaneBytes = laneBytes;
  shiftValue = power;
  return power;
}

/** {@linkcode crc32c} with the tables only (any bytes). */
export function crc32cTables(bytes: Uint8Array, start: number, end: number, crc = 0): number {
  let c = ~crc;
  let i = start;
  if (end - start >= WORDS_MIN_BYTES) {
    while (((bytes.byteOffset + i) & 3) !== 0) {
      c = t0[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
      i += 1;
    }
    const wordCount = ((end - i) >>> 4) << 2;
    const words = new Int32Array(bytes.buffer, bytes.byteOffset + i, wordCount);
    for (let j = 0; j < wordCount; j += 4) {
      const a = c ^ words[j]!;
      const b = words[j + 1]!;
      const d = words[j + 2]!;
      const e = words[j + 3]!;
      c = t15[a & 0xff]! ^ t14[(a >>> 8) & 0xff]! ^ t13[(a >>> 16) & 0xff]! ^ t12[a >>> 24]! ^
        t11[b & 0xff]! ^ t10[(b >>> 8) & 0xff]! ^ t9[(b >>> 16) & 0xff]! ^ t8[b >>> 24]! ^
        t7[d & 0xff]! ^ t6[(d >>> 8) & 0xff]! ^ t5[(d >>> 16) & 0xff]! ^ t4[d >>> 24]! ^
        t3[e & 0xff]! ^ t2[(e >>> 8) & 0xff]! ^ t1[(e >>> 16) & 0xff]! ^ t0[e >>> 24]!;
    }
    i += wordCount * 4;
  }
  while (i < end) {
    c = t0[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
    i += 1;
  }
  return ~c >>> 0;
}

/**
 * A 32-bit hash of a byte range, MurmurHash3 x86_32 mixing (4-byte blocks, tail, final
 * avalanche), written for `Uint8Array`s with no allocation.
 *
 * @param bytes The bytes.
 * @param byteOffset First byte.
 * @param byteLength How many bytes.
 * @param seed Hash seed (default 0).
 * @returns The 32-bit hash as an unsigned number (`| 0` it for an int32 on hot paths).
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { hashBytes } from "./hash_bytes.ts";
 * const bytes = new TextEncoder().encode("hello");
 * strictEqual(hashBytes(bytes, 0, 5), 0x248bfa47); // MurmurHash3_x86_32("hello", 0)
 * ```
 */
export function hashBytes(
  bytes: Uint8Array,
  byteOffset: number,
  byteLength: number,
  seed = 0,
): number {
  let h = seed | 0;
  const blockEnd = byteOffset + (byteLength & ~3);
  let i = byteOffset;
  for (; i < blockEnd; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = byteLength & 3;
  if (tail !== 0) {
    let k = bytes[i]!;
    if (tail >= 2) k ^= bytes[i + 1]! << 8;
    if (tail === 3) k ^= bytes[i + 2]! << 16;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= byteLength;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Below this length a byte loop beats `subarray` + `set` (which allocates a view per call). */
const LOOP_BYTES_MAX = 64;

/**
 * Copies `byteLength` bytes from `source` to `target` without allocating for short ranges:
 * hot paths copy one word per record, and a `subarray()` view per record is garbage the
 * collector has to chase (and young-generation growth that shows in RSS).
 *
 * @param source Where the bytes are.
 * @param sourceOffset First byte to copy.
 * @param target Where they go.
 * @param targetOffset Where the first byte goes.
 * @param byteLength How many bytes.
 *
 * @example Usage
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { copyBytes } from "./copy_bytes.ts";
 * const target = new Uint8Array(4);
 * copyBytes(new Uint8Array([1, 2, 3]), 1, target, 2, 2);
 * deepStrictEqual(target, new Uint8Array([0, 0, 2, 3]));
 * ```
 */
export function copyBytes(
  source: Uint8Array,
  sourceOffset: number,
  target: Uint8Array,
  targetOffset: number,
  byteLength: number,
): void {
  if (byteLength <= LOOP_BYTES_MAX) {
    for (let i = 0; i < byteLength; i += 1) target[targetOffset + i] = source[sourceOffset + i]!;
  } else {
    target.set(source.subarray(sourceOffset, sourceOffset + byteLength), targetOffset);
  }
}

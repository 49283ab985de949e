/**
 * Poisoning and its check over the shared memory: two tiny WebAssembly functions (written out
 * below as bytes, no build step). `firstDirtyBlock` finds the first 64-byte block of a range
 * holding any byte other than the poison, 16 bytes a load (v128: 64 MiB in ~7.7 ms here, where
 * 8-byte loads took ~9.5 and the TypeScript loop over a `Float64Array` ~3x that; wider steps
 * gained nothing, the scan is bound by memory); `fill` is `memory.fill` (a `fill()` of a view
 * of a shared buffer stores byte by byte: about 8x slower). Private to the memory manager.
 *
 * ```wat
 * (module
 *   (import "env" "memory" (memory 1 65536 shared))
 *   (func (export "firstDirtyBlock") (param $at i32) (param $end i32) (param $poison i64)
 *     (result i32)
 *     (local $p v128)
 *     (local.set $p (i64x2.splat (local.get $poison)))
 *     (block (loop
 *       (br_if 1 (i32.ge_u (local.get $at) (local.get $end)))
 *       (if (v128.any_true (v128.or
 *             (v128.or
 *               (v128.xor (v128.load offset=0 (local.get $at)) (local.get $p))
 *               (v128.xor (v128.load offset=16 (local.get $at)) (local.get $p)))
 *             (v128.or
 *               (v128.xor (v128.load offset=32 (local.get $at)) (local.get $p))
 *               (v128.xor (v128.load offset=48 (local.get $at)) (local.get $p)))))
 *         (then (return (local.get $at))))
 *       (local.set $at (i32.add (local.get $at) (i32.const 64)))
 *       (br 0)))
 *     (i32.const -1))
 *   (func (export "fill") (param $at i32) (param $length i32) (param $byte i32)
 *     (memory.fill (local.get $at) (local.get $byte) (local.get $length))))
 * ```
 *
 * @module
 */

// deno-fmt-ignore
const MODULE_BYTES = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  // types: (i32, i32, i64) -> i32; (i32, i32, i32) -> ()
  0x01, 0x0e, 0x02, 0x60, 0x03, 0x7f, 0x7f, 0x7e, 0x01, 0x7f, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x00,
  // import env.memory: shared, min 1, max 65536
  0x02, 0x12, 0x01, 0x03, 0x65, 0x6e, 0x76, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79,
  0x02, 0x03, 0x01, 0x80, 0x80, 0x04,
  // functions 0 (type 0) and 1 (type 1)
  0x03, 0x03, 0x02, 0x00, 0x01,
  // exports "firstDirtyBlock" (0), "fill" (1)
  0x07, 0x1a, 0x02, 0x0f, 0x66, 0x69, 0x72, 0x73, 0x74, 0x44, 0x69, 0x72, 0x74, 0x79, 0x42,
  0x6c, 0x6f, 0x63, 0x6b, 0x00, 0x00, 0x04, 0x66, 0x69, 0x6c, 0x6c, 0x00, 0x01,
  // code: firstDirtyBlock (one v128 local; $p = i64x2.splat $poison)
  0x0a, 0x68, 0x02, 0x5a,
  0x01, 0x01, 0x7b,
  0x20, 0x02, 0xfd, 0x12, 0x21, 0x03,
  0x02, 0x40,
  0x03, 0x40,
  0x20, 0x00, 0x20, 0x01, 0x4f, 0x0d, 0x01,
  // four v128.load (offsets 0, 16, 32, 48) each xor $p, or-ed, v128.any_true
  0x20, 0x00, 0xfd, 0x00, 0x04, 0x00, 0x20, 0x03, 0xfd, 0x51,
  0x20, 0x00, 0xfd, 0x00, 0x04, 0x10, 0x20, 0x03, 0xfd, 0x51, 0xfd, 0x50,
  0x20, 0x00, 0xfd, 0x00, 0x04, 0x20, 0x20, 0x03, 0xfd, 0x51,
  0x20, 0x00, 0xfd, 0x00, 0x04, 0x30, 0x20, 0x03, 0xfd, 0x51, 0xfd, 0x50,
  0xfd, 0x50, 0xfd, 0x53,
  0x04, 0x40, 0x20, 0x00, 0x0f, 0x0b,
  0x20, 0x00, 0x41, 0xc0, 0x00, 0x6a, 0x21, 0x00,
  0x0c, 0x00,
  0x0b,
  0x00,
  0x0b,
  0x41, 0x7f,
  0x0b,
  // code: fill
  0x0b, 0x00, 0x20, 0x00, 0x20, 0x02, 0x20, 0x01, 0xfc, 0x0b, 0x00, 0x0b,
]);

let compiled: WebAssembly.Module | undefined;

/** The two functions over one memory. */
export interface PoisonOps {
  /** The first 64-byte block of `[byteOffset, byteEnd)` not all `poison` (8 bytes): -1 if none. */
  firstDirtyBlock(byteOffset: number, byteEnd: number, poison: bigint): number;
  /** Fills `[byteOffset, byteOffset + byteLength)` with `byte`. */
  fill(byteOffset: number, byteLength: number, byte: number): void;
}

/**
 * The functions over `memory` (instantiated once per manager; the module is compiled once per
 * thread), or undefined where WebAssembly refuses them (then the caller uses TypeScript).
 *
 * @param memory The shared memory the pages live in.
 * @returns The functions: offsets 8-byte aligned, scanned ranges a multiple of 64 bytes.
 */
export function poisonOps(memory: WebAssembly.Memory): PoisonOps | undefined {
  try {
    compiled ??= new WebAssembly.Module(MODULE_BYTES);
    const instance = new WebAssembly.Instance(compiled, { env: { memory } });
    return instance.exports as unknown as PoisonOps;
  } catch {
    return undefined;
  }
}

/** The byte every released page is filled with in checked leak-detection levels. */
export const POISON_BYTE = 0xdb;
const POISON_WORD = 0xdbdb_dbdb;
const POISON_U64 = 0xdbdb_dbdb_dbdb_dbdbn;
/** The first address past the 32-bit address space (a pool may end there). */
const ADDRESS_END = 2 ** 32;
/** The scan's block (it answers with the first dirty block's address). */
const POISON_BLOCK_BYTES = 64;
/** The scan's answer for "no dirty block", read unsigned (never a block's address). */
const NO_DIRTY_BLOCK = 0xffff_ffff;

/**
 * The first byte of `[byteOffset, byteOffset + byteLength)` that is not the poison: the
 * WebAssembly scan (`ops`), else a TypeScript loop; either way the byte is then found here.
 *
 * @param ops The scan over the memory `buffer` belongs to (null: the TypeScript loop).
 * @param buffer The shared memory's buffer.
 * @param byteOffset Where the range starts (8-byte aligned).
 * @param byteLength Its length (a multiple of 64).
 * @returns The dirty byte's index from `byteOffset`, or -1 when every byte is the poison.
 */
export function firstDirtyByte(
  ops: PoisonOps | null,
  buffer: ArrayBufferLike,
  byteOffset: number,
  byteLength: number,
): number {
  let from: number;
  if (ops !== null) {
    // The scan takes i32 addresses: its answer is read unsigned (a block at 2 GiB or above
    // would read as negative, "none"), and an end of 4 GiB (which would wrap to 0) stops one
    // block short, that last block checked here.
    const end = byteOffset + byteLength;
    const scanEnd = Math.min(end, ADDRESS_END - POISON_BLOCK_BYTES);
    let at = ops.firstDirtyBlock(byteOffset, scanEnd, POISON_U64) >>> 0;
    if (at === NO_DIRTY_BLOCK && scanEnd < end) {
      const tail = firstNot(new Uint32Array(buffer, scanEnd, (end - scanEnd) >>> 2), POISON_WORD);
      if (tail >= 0) at = scanEnd;
    }
    if (at === NO_DIRTY_BLOCK) return -1;
    from = at - byteOffset;
  } else {
    const bad = firstNot(new Uint32Array(buffer, byteOffset, byteLength >>> 2), POISON_WORD);
    if (bad < 0) return -1;
    from = bad * 4;
  }
  const bytes = new Uint8Array(buffer, byteOffset, byteLength);
  let byteIndex = from;
  while (bytes[byteIndex] === POISON_BYTE) byteIndex += 1;
  return byteIndex;
}

/** Two u32 words as one float64: 8 bytes per comparison in {@linkcode firstNot}. */
const PAIR = new Float64Array(1);
const PAIR_WORDS = new Uint32Array(PAIR.buffer);

/** The index of the first word of `words` that is not `value`, or -1. */
function firstNot(words: Uint32Array, value: number): number {
  const length = words.length;
  let i = 0;
  PAIR_WORDS[0] = value;
  PAIR_WORDS[1] = value;
  const pattern = PAIR[0]!;
  if ((words.byteOffset & 7) === 0 && pattern === pattern && pattern !== 0) {
    // Equal doubles are equal bits here (the pattern is neither NaN nor zero): skip the pairs
    // that match, then find the word.
    const pairs = new Float64Array(words.buffer, words.byteOffset, length >>> 1);
    const pairCount = pairs.length;
    let pair = 0;
    while (pair < pairCount && pairs[pair] === pattern) pair += 1;
    i = pair * 2;
  }
  for (; i < length; i += 1) {
    if (words[i] !== value) return i;
  }
  return -1;
}

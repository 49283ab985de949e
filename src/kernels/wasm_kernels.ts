import { assert } from "../base/mod.ts";
import { decodeBase64 } from "./_base64.ts";
import { KERNELS_WASM_BASE64 } from "./_kernels_wasm.ts";
import {
  type BucketArray,
  type BytesIndexLayout,
  type IndexLayout,
  type KernelSet,
  SORT_SCRATCH_BYTES,
} from "./kernel_state.ts";

/** The kernels module's exports (src/kernels/assembly/index.ts), as called from TypeScript. */
export interface KernelExports {
  sortBytesIndex(
    index: number,
    count: number,
    pageTable: number,
    shift: number,
    reverse: number,
    keyOffset: number,
    keyBytes: number,
    scratch: number,
  ): void;
  sortIndexTie(
    index: number,
    count: number,
    pageTable: number,
    shift: number,
    reverse: number,
    scratch: number,
  ): void;
  sortIndexMultikey(
    index: number,
    count: number,
    pageTable: number,
    shift: number,
    reverse: number,
    scratch: number,
  ): void;
  partitionBytesIndex(index: number, count: number, scratch: number): number;
  sortBytesBucket(
    index: number,
    lo: number,
    hi: number,
    byte: number,
    pageTable: number,
    shift: number,
    reverse: number,
    scratch: number,
  ): void;
  sortScratchBytes(): number;
  gather(state: number): number;
  gatherKeyed(state: number): number;
  indexLineBytes(index: number, count: number): number;
  mergeStep(state: number): number;
  mergeLines(state: number): number;
  mergeText(state: number): number;
  mergeSum(state: number): number;
  formatCounts(state: number): number;
  formatSorted(state: number): number;
  tokenLines(at: number, length: number): number;
  countLines(state: number): number;
  keyedLines(state: number): number;
  countTokens(state: number): number;
  countScan(state: number): number;
  countRehash(oldBuckets: number, oldBucketCount: number, buckets: number, mask: number): void;
  countAddTable(
    state: number,
    foreignBuckets: number,
    foreignPageTable: number,
    foreignPageShift: number,
  ): number;
  appendLines(state: number): number;
  countSpillIndex(
    buckets: number,
    bucketCount: number,
    pageTable: number,
    pointerShift: number,
    mode: number,
  ): number;
  countSpillLengths(index: number, count: number, bytes: number): void;
  crc32cLanes(at: number, laneBytes: number, register: number, shift: number, zero: number): number;
  crc32cMultiply(a: number, b: number): number;
}

let compiled: WebAssembly.Module | undefined;

/**
 * The compiled kernels module (compiled once per thread, then cached). A `WebAssembly.Module`
 * can be posted to a Worker, which then instantiates it without compiling again.
 *
 * @returns The module; it imports `env.memory` (shared, at most 4 GiB) and `env.abort`.
 */
export function compileKernels(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(decodeBase64(KERNELS_WASM_BASE64));
  return compiled;
}

/**
 * The memories with kernels made on this thread (weakly held) and one instance for each (held
 * as long as its memory), to find the kernels for a view's buffer.
 */
let threadMemories: WeakRef<WebAssembly.Memory>[] = [];
const instanceByMemory = new WeakMap<WebAssembly.Memory, WasmKernels>();
const instanceByBuffer = new WeakMap<ArrayBufferLike, WasmKernels>();
let buffersWithout = new WeakSet<ArrayBufferLike>();

/**
 * The kernels instantiated on this thread over the memory whose current buffer is `buffer`
 * (a view's `.buffer`), or undefined: not a kernel memory's, no instance on this thread, or
 * a buffer from before its memory grew and was first seen here after that (then the caller
 * takes its JavaScript path).
 *
 * @param buffer The buffer of a view.
 * @returns The kernels over it, or undefined.
 */
export function kernelsOverBuffer(buffer: ArrayBufferLike): WasmKernels | undefined {
  const known = instanceByBuffer.get(buffer);
  if (known !== undefined || buffersWithout.has(buffer)) return known;
  for (const reference of threadMemories) {
    const memory = reference.deref();
    if (memory !== undefined && memory.buffer === buffer) {
      const kernels = instanceByMemory.get(memory)!;
      instanceByBuffer.set(buffer, kernels);
      return kernels;
    }
  }
  buffersWithout.add(buffer);
  return undefined;
}

/**
 * Lets views of `memory`, another object over the shared memory `kernels` work in (a Worker
 * receives a new one with each message that carries the memory), find `kernels`
 * ({@linkcode kernelsOverBuffer}); else they take the JavaScript paths, such as CRC32C by
 * tables, several times slower per spill block.
 *
 * @param memory An object over the same shared memory as `kernels.memory`.
 * @param kernels Kernels instantiated on this thread.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { kernelsOverBuffer, shareKernels, WasmKernels } from "./wasm_kernels.ts";
 * const memory = new WebAssembly.Memory({ initial: 16, maximum: 64, shared: true });
 * const kernels = new WasmKernels(memory);
 * const received = structuredClone(memory); // as a Worker receives it again
 * strictEqual(kernelsOverBuffer(received.buffer), undefined);
 * shareKernels(received, kernels);
 * strictEqual(kernelsOverBuffer(received.buffer), kernels);
 * ```
 */
export function shareKernels(memory: WebAssembly.Memory, kernels: WasmKernels): void {
  kernels.seeMemory(memory);
  if (instanceByMemory.has(memory)) return;
  instanceByMemory.set(memory, kernels);
  threadMemories = threadMemories.filter((reference) => reference.deref() !== undefined);
  threadMemories.push(new WeakRef(memory));
  buffersWithout = new WeakSet();
}

function remember(kernels: WasmKernels): void {
  shareKernels(kernels.memory, kernels);
}

function abort(): never {
  throw new Error("A WebAssembly kernel aborted");
}

/**
 * The WebAssembly kernels instantiated over a shared memory (one instance per thread; the
 * module keeps no state of its own, so every thread can run its own instance over the same
 * memory, each with its own state blocks and scratch).
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { GatherState, KernelStatus, WasmKernels } from "./mod.ts";
 * const memory = new WebAssembly.Memory({ initial: 1, maximum: 16, shared: true });
 * const bytes = new Uint8Array(memory.buffer);
 * const words = new Uint32Array(memory.buffer);
 * bytes.set(new TextEncoder().encode("pearfig"), 1024); // one page at byte 1024
 * words[0] = 1024; // the page table: segment 0 starts at byte 1024
 * words.set([0, 0, 4, 3, 0, 0, 0, 4], 16); // index at byte 64: "fig" (address 4), "pear"
 * const kernels = new WasmKernels(memory);
 * const state = new GatherState(memory, 128);
 * state.start({ indexOffset: 64, recordCount: 2, pageTableOffset: 0, segmentShift: 12 });
 * state.setOutput(2048, 2048 + 64);
 * strictEqual(kernels.gather(state.byteOffset), KernelStatus.done);
 * strictEqual(new TextDecoder().decode(bytes.subarray(2048, state.outputOffset)), "\x03fig\x04pear");
 * ```
 */
export class WasmKernels implements KernelSet {
  /** The memory the instance works in. */
  readonly memory: WebAssembly.Memory;
  /**
   * The newest other object over the same memory ({@linkcode shareKernels}): after a grow on
   * another thread, an older object's `buffer` may still have the old length for a while, and
   * the range checks must not fail an offset that a newer object's views hold.
   */
  #newest: WebAssembly.Memory;
  readonly #exports: KernelExports;

  /**
   * Instantiates the module over `memory`.
   *
   * @param memory A shared `WebAssembly.Memory` (`shared: true`, `maximum` set).
   * @param module The compiled module (default {@linkcode compileKernels}()).
   */
  constructor(memory: WebAssembly.Memory, module: WebAssembly.Module = compileKernels()) {
    assert(
      memory.buffer instanceof SharedArrayBuffer,
      "The kernels need a shared WebAssembly.Memory",
    );
    this.memory = memory;
    this.#newest = memory;
    const instance = new WebAssembly.Instance(module, { env: { memory, abort } });
    this.#exports = instance.exports as unknown as KernelExports;
    assert(
      this.#exports.sortScratchBytes() === SORT_SCRATCH_BYTES,
      "kernels.wasm and SORT_SCRATCH_BYTES disagree: rebuild with deno task build:kernels",
    );
    remember(this);
  }

  /**
   * The CRC32C register after 16 lanes of `laneBytes` bytes from `at` (crc32c.ts: each lane
   * checksummed in a vector lane, then joined), starting from `register` (the inverted
   * running CRC).
   *
   * @param at First byte (memory offset).
   * @param laneBytes Bytes per lane, a multiple of 16.
   * @param register The CRC register to start from.
   * @param shift x^(8 * laneBytes) mod P, reflected ({@linkcode WasmKernels.crc32cMultiply}).
   * @returns The register after the `16 * laneBytes` bytes, unsigned.
   */
  crc32cLanes(at: number, laneBytes: number, register: number, shift: number): number {
    assert(laneBytes % 16 === 0, "lane bytes must be a multiple of 16");
    assert(at + 16 * laneBytes <= this.#memoryBytes(), "crc32c range outside memory");
    return this.#exports.crc32cLanes(at, laneBytes, register, shift, 0) >>> 0;
  }

  /**
   * Multiplies two polynomials modulo the CRC32C polynomial, both reflected (bit 31 is x^0).
   *
   * @param a A factor.
   * @param b A factor.
   * @returns The product, unsigned.
   */
  crc32cMultiply(a: number, b: number): number {
    return this.#exports.crc32cMultiply(a, b) >>> 0;
  }

  /**
   * Notes `memory`, another object over this instance's shared memory, as the newest one
   * ({@linkcode shareKernels} calls it for each object a Worker receives).
   *
   * @param memory An object over the same shared memory.
   */
  seeMemory(memory: WebAssembly.Memory): void {
    this.#newest = memory;
  }

  /** The shared memory's length in bytes, as the freshest of its objects here sees it. */
  #memoryBytes(): number {
    return Math.max(this.memory.buffer.byteLength, this.#newest.buffer.byteLength);
  }

  /** {@inheritDoc KernelSet.sortBytesIndex} */
  sortBytesIndex(indexOffset: number, count: number, layout: BytesIndexLayout): void {
    this.#checkSort(indexOffset, count, layout);
    this.#exports.sortBytesIndex(
      indexOffset,
      count,
      layout.pageTableOffset,
      layout.segmentShift,
      layout.reverse ? 1 : 0,
      layout.keyOffset,
      layout.keyBytes,
      layout.scratchOffset,
    );
  }

  /**
   * The first radix pass of {@linkcode WasmKernels.sortBytesIndex} of whole records alone, so
   * that two threads can sort its buckets ({@linkcode WasmKernels.sortBytesBucket}): permutes
   * the entries by the first prefix byte they do not all share and writes the 256 bucket ends
   * (u32 each) at `scratchOffset + 1024` (bucket b: the entries with byte b there).
   *
   * @returns That byte (0..7), or 8 when every prefix byte is shared (one bucket, unmoved).
   */
  partitionBytesIndex(indexOffset: number, count: number, scratchOffset: number): number {
    const limit = this.#memoryBytes();
    assert(indexOffset % 4 === 0 && indexOffset + count * 16 <= limit, "index outside memory");
    assert(scratchOffset + SORT_SCRATCH_BYTES <= limit, "sort scratch outside memory");
    return this.#exports.partitionBytesIndex(indexOffset, count, scratchOffset);
  }

  /**
   * Sorts the bucket [lo, hi) of {@linkcode WasmKernels.partitionBytesIndex} from `byte` (the
   * partition's byte + 1) as `sortBytesIndex` would (whole records, `keyOffset` 0). Buckets are
   * disjoint: two threads may each sort one at once, with their own scratch.
   */
  sortBytesBucket(
    indexOffset: number,
    bucket: { lo: number; hi: number; byte: number },
    layout: IndexLayout,
  ): void {
    this.#checkSort(indexOffset, bucket.hi, layout);
    this.#exports.sortBytesBucket(
      indexOffset,
      bucket.lo,
      bucket.hi,
      bucket.byte,
      layout.pageTableOffset,
      layout.segmentShift,
      layout.reverse ? 1 : 0,
      layout.scratchOffset,
    );
  }

  /** {@inheritDoc KernelSet.sortIndex} */
  sortIndex(indexOffset: number, count: number, layout: IndexLayout): void {
    this.#sortTie(this.#exports.sortIndexMultikey, indexOffset, count, layout);
  }

  /** {@inheritDoc KernelSet.sortIndexQuicksort} */
  sortIndexQuicksort(indexOffset: number, count: number, layout: IndexLayout): void {
    this.#sortTie(this.#exports.sortIndexTie, indexOffset, count, layout);
  }

  #sortTie(
    sort: KernelExports["sortIndexTie"],
    indexOffset: number,
    count: number,
    layout: IndexLayout,
  ): void {
    this.#checkSort(indexOffset, count, layout);
    sort(
      indexOffset,
      count,
      layout.pageTableOffset,
      layout.segmentShift,
      layout.reverse ? 1 : 0,
      layout.scratchOffset,
    );
  }

  /** {@inheritDoc KernelSet.gather} */
  gather(stateOffset: number): number {
    return this.#exports.gather(stateOffset);
  }

  /** {@inheritDoc KernelSet.gatherKeyed} */
  gatherKeyed(stateOffset: number): number {
    return this.#exports.gatherKeyed(stateOffset);
  }

  /** {@inheritDoc KernelSet.mergeStep} */
  mergeStep(stateOffset: number): number {
    return this.#exports.mergeStep(stateOffset);
  }

  /** {@inheritDoc KernelSet.mergeLines} */
  mergeLines(stateOffset: number): number {
    return this.#exports.mergeLines(stateOffset);
  }

  /** {@inheritDoc KernelSet.mergeText} */
  mergeText(stateOffset: number): number {
    return this.#exports.mergeText(stateOffset);
  }

  /** {@inheritDoc KernelSet.mergeSum} */
  mergeSum(stateOffset: number): number {
    return this.#exports.mergeSum(stateOffset);
  }

  /** {@inheritDoc KernelSet.formatCounts} */
  formatCounts(stateOffset: number): number {
    return this.#exports.formatCounts(stateOffset);
  }

  /** {@inheritDoc KernelSet.formatSorted} */
  formatSorted(stateOffset: number): number {
    return this.#exports.formatSorted(stateOffset);
  }

  /**
   * Output bytes of the `count` sort-index entries at memory offset `indexOffset` as lines:
   * their record lengths plus one terminator each.
   *
   * @param indexOffset The first entry (16 bytes each, the length in word 3).
   * @param count Entries.
   * @returns The bytes.
   */
  indexLineBytes(indexOffset: number, count: number): number {
    return this.#exports.indexLineBytes(indexOffset, count);
  }

  /**
   * Rewrites `length` bytes at `at` in place as whitespace tokens one a line (runs of space,
   * `\t \n \v \f \r` become one LF after a token; leading whitespace is dropped).
   *
   * @param at Byte offset in the memory.
   * @param length Bytes there.
   * @returns The new length.
   */
  tokenLines(at: number, length: number): number {
    return this.#exports.tokenLines(at, length);
  }

  /**
   * Counts equal neighbours of sorted lines into count lines (src/kernels/assembly/
   * format_counts.ts, `countLines`; state in {@linkcode CountLinesState}).
   *
   * @param stateOffset The state block.
   * @returns 0 input consumed, 1 output full, 2 keyed output full.
   */
  countLines(stateOffset: number): number {
    return this.#exports.countLines(stateOffset);
  }

  /**
   * Writes keyed lines (`~count` as 16 hex digits, then the word; sorted, they are in count
   * order) as count lines (format_counts.ts, `keyedLines`; the first words of `countLines`'
   * state).
   *
   * @param stateOffset The state block.
   * @returns 0 input consumed, 1 output full.
   */
  keyedLines(stateOffset: number): number {
    return this.#exports.keyedLines(stateOffset);
  }

  /** {@inheritDoc KernelSet.countTokens} */
  countTokens(stateOffset: number): number {
    return this.#exports.countTokens(stateOffset);
  }

  /** {@inheritDoc KernelSet.countScan} */
  countScan(stateOffset: number): number {
    return this.#exports.countScan(stateOffset);
  }

  /**
   * Appends a chunk's lines to a sort buffer (plain byte order): see append_lines.ts and
   * docs/kernels.md.
   *
   * @param stateOffset The `AppendState` block.
   * @returns An `AppendStatus`.
   */
  appendLines(stateOffset: number): number {
    return this.#exports.appendLines(stateOffset);
  }

  /**
   * Turns a count table's buckets into a sort index in place (see count_spill.ts): 16-byte
   * entries `[prefix0, prefix1, address, length]` keyed by the word (`order` 0) or by
   * `[~count][word]` (`order` 1, each record rewritten so in place).
   *
   * @param buckets The bucket array (`[hash, pointer + 1]` pairs; 16 * entries <= its bytes).
   * @param pageTable The record pages' memory offsets (u32 each).
   * @param pointerShift log2(segment bytes) - 2 (a pointer's page shift).
   * @param order 0 word order, 1 count order.
   * @returns The entries written.
   */
  countSpillIndex(
    buckets: BucketArray,
    pageTable: number,
    pointerShift: number,
    order: number,
  ): number {
    const end = buckets.byteOffset + 8 * buckets.bucketCount;
    assert(buckets.byteOffset % 8 === 0 && end <= this.#memoryBytes(), "bad buckets");
    return this.#exports.countSpillIndex(
      buckets.byteOffset,
      buckets.bucketCount,
      pageTable,
      pointerShift,
      order,
    );
  }

  /**
   * Adds `bytes` to the length word of `count` index entries (the word key widened to the
   * spill record `[word][count]`).
   *
   * @param indexOffset The index.
   * @param count Entries.
   * @param bytes Bytes to add.
   */
  countSpillLengths(indexOffset: number, count: number, bytes: number): void {
    assert(indexOffset + 16 * count <= this.#memoryBytes(), "index outside memory");
    this.#exports.countSpillLengths(indexOffset, count, bytes);
  }

  /**
   * Adds the entries of another count table of the same layout (read in place) to the table
   * of a `CountState`: the foreign buckets `[position, end)` of its input range (bucket
   * indices), probed with the hashes they hold (see count_add.ts).
   *
   * @param stateOffset The `CountState` block of the table that adds.
   * @param foreign The other table's bucket array, page table (a u32 memory offset per
   *   record page) and pointer page shift.
   * @returns A `CountStatus`: done, needBuckets, needPage, addSlow (that entry is left to
   *   the caller) or addAgain (call again); the state's position is the bucket it stopped at.
   */
  countAddTable(
    stateOffset: number,
    foreign: { bucketsOffset: number; pageTableOffset: number; pageShift: number },
  ): number {
    return this.#exports.countAddTable(
      stateOffset,
      foreign.bucketsOffset,
      foreign.pageTableOffset,
      foreign.pageShift,
    );
  }

  /** {@inheritDoc KernelSet.countRehash} */
  countRehash(from: BucketArray, to: BucketArray): void {
    const n = to.bucketCount;
    assert(n >= 1 && (n & (n - 1)) === 0, `bucket count ${n} is not a power of two`);
    this.#exports.countRehash(from.byteOffset, from.bucketCount, to.byteOffset, n - 1);
  }

  #checkSort(indexOffset: number, count: number, layout: IndexLayout): void {
    const limit = this.#memoryBytes();
    assert(indexOffset % 4 === 0 && indexOffset + count * 16 <= limit, "index outside memory");
    assert(layout.scratchOffset + SORT_SCRATCH_BYTES <= limit, "sort scratch outside memory");
    assert(layout.segmentShift >= 2 && layout.segmentShift <= 31, "bad segment shift");
  }
}

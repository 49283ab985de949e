/**
 * What the kernel benches (kernel_ab.ts, buffer_size_cpu.ts) share: the split sort's kernel calls
 * over one index (as src/sort/split_sort.ts makes them on one thread: `partitionBytesIndex` by
 * the first key byte that differs, then `sortBytesBucket` on each of its buckets), the append
 * state's set-up, and CPU time.
 *
 * @module
 */
import process from "node:process";
import type { KernelExports } from "../../src/kernels/wasm_kernels.ts";

/** The two kernels a split sort calls. */
export type SplitSortKernels = Pick<KernelExports, "partitionBytesIndex" | "sortBytesBucket">;

/** Where the index, its records' page table and the sort scratch are in the memory. */
export interface SplitSortPlace {
  memory: WebAssembly.Memory;
  index: number;
  pageTable: number;
  shift: number;
  scratch: number;
}

/**
 * Sorts `count` 16-byte entries at `place.index` in plain byte order (not reversed).
 *
 * @param kernels The kernels' exports.
 * @param place Where the index, the page table and the scratch are.
 * @param count The entries.
 */
export function splitSortIndex(
  kernels: SplitSortKernels,
  place: SplitSortPlace,
  count: number,
): void {
  const { memory, index, pageTable, shift, scratch } = place;
  const byte = kernels.partitionBytesIndex(index, count, scratch);
  if (byte === 8) {
    kernels.sortBytesBucket(index, 0, count, 8, pageTable, shift, 0, scratch);
    return;
  }
  // The bucket ends the partition left in the scratch, copied before the buckets reuse it.
  const ends = new Uint32Array(memory.buffer, scratch + 1024, 256).slice();
  let lo = 0;
  for (const hi of ends) {
    kernels.sortBytesBucket(index, lo, hi, byte + 1, pageTable, shift, 0, scratch);
    lo = hi;
  }
}

/**
 * Copies `pristine` (an appended, unsorted index) to `place.index` and sorts it there with
 * {@linkcode splitSortIndex}.
 *
 * @returns The process's CPU time of the sort alone, in ms (user + system).
 */
export function timedSplitSort(
  kernels: SplitSortKernels,
  place: SplitSortPlace,
  pristine: Uint32Array,
): number {
  const count = pristine.length / 4;
  new Uint32Array(place.memory.buffer, place.index, 4 * count).set(pristine);
  const start = cpuMs();
  splitSortIndex(kernels, place, count);
  return cpuMs() - start;
}

/** This process's CPU time so far (user + system), in ms. */
export function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/** Where `appendLines` writes: its state block, the page table and the index. */
export interface AppendPlace {
  state: number;
  pageTable: number;
  pageCount: number;
  shift: number;
  index: number;
  entryCapacity: number;
}

/**
 * Sets up `appendLines`'s state block for a new buffer of newline-separated records.
 *
 * @param words The memory as u32 words.
 * @param place Where the state, the pages and the index are.
 */
export function startAppend(words: Uint32Array, place: AppendPlace): void {
  const w = place.state >> 2;
  words.fill(0, w, w + 16);
  words[w + 2] = 10; // the record delimiter
  words[w + 3] = place.pageTable;
  words[w + 4] = place.pageCount;
  words[w + 5] = place.shift;
  words[w + 8] = place.index;
  words[w + 10] = place.entryCapacity;
}

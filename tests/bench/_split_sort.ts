/**
 * The split sort's kernel calls over one index (as src/sort/split_sort.ts makes them on one
 * thread): `partitionBytesIndex` by the first key byte that differs, then `sortBytesBucket` on
 * each of its buckets. Shared by the kernel benches (kernel_ab.ts, buffer_size_cpu.ts).
 *
 * @module
 */
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

/**
 * Compiling the sort Worker's kernels before its first job. With `--no-liftoff` V8 compiles a
 * WebAssembly function with TurboFan on its first call, and the Worker's first job (it sorts,
 * gathers and writes the first full buffer while the main thread fills and sorts the second) is
 * the critical path of the first run-generation cycle: the main thread waited 62-94 ms for it
 * with the lazy compiles against 21-28 ms with every function compiled at once (load 3-4). The
 * compiled code belongs to the `WebAssembly.Module`, not to an instance or a memory, so one small
 * plain-bytes job sorted and gathered in a private memory of the same module leaves the functions
 * the real jobs call compiled, on every thread that shares the module.
 *
 * ```
 * private memory (1.25 MiB, shared, never grown):
 * | unused page | data page (64 KiB) | index | kernel area | ring: 2 blocks of 64 KiB |
 * ```
 *
 * @module
 */
import { assert } from "../base/mod.ts";
import { WasmKernels } from "../kernels/wasm_kernels.ts";
import { ADDRESS_WORD, ENTRY_BYTES, ENTRY_WORDS, LENGTH_WORD } from "./index_sort.ts";
import type { SortJob } from "./job_sort.ts";
import { BlockGather, kernelAreaBytes, sortJobWith } from "./kernel_sort.ts";
import { BytesOrder } from "./record_order.ts";

const PAGE_SHIFT = 16;
const PAGE_BYTES = 1 << PAGE_SHIFT;
/** Enough records for the radix passes (ranges from 256), the quicksort and the insertion sort. */
const RECORD_COUNT = 2048;
/** The first 8 bytes of a quarter of the records: their order is decided past the prefix. */
const SHARED_HEAD = [0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61];

/**
 * Sorts and gathers one small job of plain records (2048 lines of 9-24 bytes, a quarter sharing
 * their first 8 bytes) in a private 1.25 MiB memory over `module`: the multikey and radix sort,
 * the gather and its CRC32C are compiled for every thread that instantiates the same module.
 *
 * @param module The compiled kernels (`compileKernels()`, posted to the Worker).
 * @returns How many records the warm-up gathered (all of them).
 */
export function warmSortKernels(module: WebAssembly.Module): number {
  const pages = 20;
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  const kernels = new WasmKernels(memory, module);
  const dataOffset = PAGE_BYTES;
  const indexOffset = dataOffset + PAGE_BYTES;
  const areaOffset = indexOffset + RECORD_COUNT * ENTRY_BYTES;
  const ringOffset = areaOffset + Math.ceil(kernelAreaBytes(1) / PAGE_BYTES) * PAGE_BYTES;
  assert(ringOffset + 2 * PAGE_BYTES <= pages * PAGE_BYTES, "the warm-up layout fits");
  const job: SortJob = {
    segments: [dataOffset],
    index: indexOffset,
    recordCount: fillRecords(memory, dataOffset, indexOffset),
    segmentShift: PAGE_SHIFT,
  };
  const options = { memory, kernels, areaOffset };
  assert(sortJobWith(job, new BytesOrder(false), options), "the warm-up sorted with kernels");
  const gather = new BlockGather(job, {
    ...options,
    ring: [ringOffset, ringOffset + PAGE_BYTES],
    blockBytes: PAGE_BYTES,
  });
  while (!gather.isDone) {
    if (gather.next() === undefined) gather.free();
  }
  return gather.gatheredCount;
}

/** Writes the records into the data page and their index entries; returns the count. */
function fillRecords(memory: WebAssembly.Memory, dataOffset: number, indexOffset: number): number {
  const bytes = new Uint8Array(memory.buffer);
  const index = new Uint32Array(memory.buffer, indexOffset, RECORD_COUNT * ENTRY_WORDS);
  let seed = 0x2545f491;
  let offset = 0;
  for (let record = 0; record < RECORD_COUNT; record += 1) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const length = 9 + (seed >>> 28);
    const at = dataOffset + offset;
    for (let i = 0; i < length; i += 1) {
      const shared = record % 4 === 0 && i < SHARED_HEAD.length;
      bytes[at + i] = shared ? SHARED_HEAD[i]! : 0x61 + ((seed >>> (i % 24)) + i * 7) % 26;
    }
    const entry = record * ENTRY_WORDS;
    index[entry] = (bytes[at]! << 24 | bytes[at + 1]! << 16 | bytes[at + 2]! << 8 |
      bytes[at + 3]!) >>> 0;
    index[entry + 1] = (bytes[at + 4]! << 24 | bytes[at + 5]! << 16 | bytes[at + 6]! << 8 |
      bytes[at + 7]!) >>> 0;
    index[entry + ADDRESS_WORD] = offset;
    index[entry + LENGTH_WORD] = length;
    offset += length;
  }
  assert(offset <= PAGE_BYTES, "the warm-up records fit one page");
  return RECORD_COUNT;
}

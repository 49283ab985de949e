/**
 * Kernels layer: the hot loops as WebAssembly (AssemblyScript sources in `assembly/`, built by
 * `deno task build:kernels`, the bytes committed as `kernels.wasm`), with a typed facade. The
 * module imports one shared `WebAssembly.Memory` and keeps no state: every thread instantiates
 * it over the same memory and passes its state blocks and scratch by offset. Kernels get byte
 * offsets, never objects. See docs/kernels.md for the layouts.
 *
 * - {@linkcode WasmKernels}: the kernels; {@linkcode compileKernels}: the module (postable).
 * - {@linkcode ReferenceKernels}: the same kernels in plain TypeScript, the tests' oracle.
 * - {@linkcode GatherState}, {@linkcode MergeState}, {@linkcode CountState}: the state blocks.
 *
 * @module
 */
export type {
  BucketArray,
  BytesIndexLayout,
  CountSetup,
  CountUnicodeTables,
  GatherInput,
  IndexLayout,
  KernelSet,
} from "./kernel_state.ts";
export {
  COUNT_BATCH_SCRATCH_BYTES,
  CountState,
  CountStatus,
  GatherState,
  KernelStatus,
  MergeState,
  SORT_SCRATCH_BYTES,
} from "./kernel_state.ts";
export { MergeLinesState, MergeLinesStatus } from "./merge_lines_state.ts";
export {
  FormatCountsFormat,
  FormatCountsState,
  FormatCountsStatus,
  referenceFormatCounts,
} from "./format_counts_state.ts";
export {
  type FormatSortedInput,
  FormatSortedState,
  referenceFormatSorted,
} from "./format_sorted_state.ts";
export { MergeSumState, MergeSumStatus, referenceMergeSum } from "./merge_sum_state.ts";
export { compileKernels, kernelsOverBuffer, WasmKernels } from "./wasm_kernels.ts";
export type { AppendBuffer } from "./append_lines.ts";
export { appendLinesReference, AppendState, AppendStatus } from "./append_lines.ts";
export { murmur3, ReferenceKernels } from "./reference_kernels.ts";
export { countSpillIndexReference, countSpillLengthsReference } from "./reference_count_spill.ts";

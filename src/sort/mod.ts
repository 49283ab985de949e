/**
 * Sort layer: the loser-tree merger, the in-memory normalized-key sorter, run spilling and the
 * external sort pipeline (read -> sort -> spill -> merge).
 *
 * @module
 */
export { LoserTree } from "./loser_tree.ts";
export type { SortOrderSpec } from "./sort_order.ts";
export { needsRandomSalt, parseFieldSeparator, parseSortOrder, SortOrder } from "./sort_order.ts";
export type { TieCompare } from "./index_sort.ts";
export { ENTRY_BYTES, sortIndex } from "./index_sort.ts";
export type { RecordOrder } from "./record_order.ts";
export { BytesOrder, FixedKeyOrder, writeBytesPrefix } from "./record_order.ts";
export type { OrderDescriptor } from "./order_descriptor.ts";
export { orderFromDescriptor } from "./order_descriptor.ts";
export type { AppendKernel, SortBufferOptions, SortJob } from "./sort_buffer.ts";
export { GATHER_PREFIX_BYTES, gatherJob, SortBuffer, sortJob } from "./sort_buffer.ts";
export type { RingSpill, SortResult } from "./sort_worker_pool.ts";
export type { SplitSortHelp } from "./split_sort.ts";
export { SortWorker, SpillRing } from "./sort_worker_pool.ts";
export type { BlockFirstKeys, SealedBlock } from "./kernel_sort.ts";
export { BlockGather } from "./kernel_sort.ts";
export type { BlockSource, MergeRegion, MergeRegions } from "./kernel_merge.ts";
export { BlockInputs, GatherBlocks, managedMergeRegions } from "./kernel_merge.ts";
export type { MergeOptions, RecordCursor, RecordSink } from "./run_merger.ts";
export { mergeCursors, UniqueFilter } from "./run_merger.ts";
export type { ExternalSortOptions, SortStats } from "./external_sort.ts";
export type { LineFilter, LineSink } from "./line_filter.ts";
export type { MergeWorkerFault } from "./merge_worker.ts";
export { externalSort, LineCursor } from "./external_sort.ts";
export type { MergePlan, MergePlanOptions, MergeRound } from "./merge_plan.ts";
export {
  affordableFanIn,
  FAN_IN_DEFAULT,
  fittingMergeGroup,
  inputMergeChunkSegments,
  MERGE_INPUTS_MAX,
  MERGE_READER_SEGMENTS_MIN,
  MERGE_SPARE_SEGMENTS,
  MergeBudgetError,
  mergeOutputSegments,
  mergePassCount,
  mergeReaderSegments,
  planMerge,
  planMergeRound,
} from "./merge_plan.ts";
export type { SortPlan, SortPlanOptions } from "./sort_plan.ts";
export {
  defaultSortSegmentBytes,
  estimateSortRuns,
  planSort,
  SORT_SEGMENTS_MIN,
  splitSortBuffer,
} from "./sort_plan.ts";
export type { CheckSortedOptions, Disorder } from "./check_sorted.ts";
export { checkSorted } from "./check_sorted.ts";
export { debugRecord, debugWarnings } from "./debug_keys.ts";
export type { KeyField } from "./_key_def.ts";
export type { MergeFilesContext, MergeFilesRequest, MergeResult } from "./merge_sorted_files.ts";
export { mergeSortedFiles } from "./merge_sorted_files.ts";

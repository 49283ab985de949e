/**
 * The sort layer's lean surface: the block pieces the count layer builds on (a buffer sorted
 * into checksummed blocks by the kernels, the gather of sorted blocks, the merge's regions and
 * fan-in arithmetic, the loser tree), without the sort engine (the external sort, its Workers,
 * the file merges, GNU key options) that `../mod.ts` also exports.
 *
 * The count Worker loads only this: every module of its graph is parsed and run in its own
 * isolate before it counts its first chunk, and kept in its heap for the whole count
 * (docs/performance.md, "Start-up").
 *
 * @module
 */
export { LoserTree } from "../loser_tree.ts";
export type { SealedBlock } from "../kernel_sort.ts";
export { BlockGather } from "../kernel_sort.ts";
export type { BlockSource, MergeRegion, MergeRegions } from "../kernel_merge.ts";
export { BlockInputs, GatherBlocks, managedMergeRegions } from "../kernel_merge.ts";
export type { RecordCursor } from "../run_merger.ts";
export {
  FAN_IN_DEFAULT,
  fittingMergeGroup,
  MERGE_READER_SEGMENTS_MIN,
  mergeReaderSegments,
} from "../merge_plan.ts";

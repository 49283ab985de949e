// The kernels module's exports (entry file of `deno task build:kernels`).
export {
  partitionBytesIndex,
  sortBytesBucket,
  sortBytesIndex,
  sortIndexMultikey,
  sortIndexTie,
  sortScratchBytes,
} from "./sort";
export { gather, gatherKeyed, indexLineBytes } from "./gather";
export { mergeStep } from "./merge";
export { countRehash, countTokens } from "./count";
export { mergeLines } from "./merge_lines";
export { mergeText } from "./merge_text";
export * from "./count_scan"; // countScan and its per-rule copies (see there)
export { appendLines } from "./append";
export { countSpillIndex, countSpillLengths } from "./count_spill";
export { mergeSum } from "./merge_sum";
export { countLines, formatCounts, formatSorted, keyedLines, tokenLines } from "./format_counts";
export { countAddTable } from "./count_add";
export { crc32cLanes, crc32cMultiply } from "./crc32c";

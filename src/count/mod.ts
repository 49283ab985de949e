/**
 * Count layer: byte tokenizers, a binary hash aggregation table in managed memory, sorted
 * (word, count) spills with a combining merge, top-N, count-order external sort and output
 * formats: the engine of `spillway count`.
 *
 * @module
 */
export type { ByteSink, CountFormat } from "./count_format.ts";
export { countFormats, CountFormatter, isValidUtf8 } from "./count_format.ts";
export type { RecordEmitter } from "./count_merger.ts";
export { mergeSummingCounts, ReservedScratch } from "./count_merger.ts";
export type { CountWorkerInit } from "./count_worker.ts";
export type { CountWorkerClientOptions } from "./count_worker_client.ts";
export { CountWorkerClient } from "./count_worker_client.ts";
export type {
  CountTableLayout,
  CountTableOptions,
  CountTableOrder,
  KernelTokenizerKind,
} from "./count_table.ts";
export { CountTable, readCount, ScanStop, type SortedLines, writeCount } from "./count_table.ts";
export { hashBytes } from "./hash_bytes.ts";
export type { CaseMode, TokenizerKind, TokenizerOptions, TokenSink } from "./tokenizer.ts";
export {
  preservesCaseByDefault,
  Tokenizer,
  tokenizerKinds,
  utf8SequenceLength,
} from "./tokenizer.ts";
export { TopHeap } from "./top_heap.ts";
export type {
  CountFinishOptions,
  CountLines,
  WordCounterOptions,
  WordCountStats,
} from "./word_counter.ts";
export { COUNT_SEGMENTS_MIN, WordCounter } from "./word_counter.ts";
export type { CountPlan, CountPlanOptions } from "./count_plan.ts";
export {
  AUTO_IDLE_CORES_MIN,
  AUTO_WORKER_LARGE_INPUT_BYTES,
  AUTO_WORKER_START_BYTES,
  autoCountThreads,
  autoWorkerAllowed,
  COUNT_INPUT_CHUNK_BYTES,
  COUNT_RESERVED_SEGMENTS,
  COUNT_TABLE_FIRST_BYTES,
  COUNT_TABLE_GROW_RATIO,
  countTableFirstSegments,
  planCount,
  WORKER_SEGMENTS_MIN,
  WORKER_SHARE,
  WORKER_START_BYTES,
  workerShouldStart,
} from "./count_plan.ts";
export type { CountContext, CountRequest, CountResult } from "./count_pipeline.ts";
export type { MergeStallOptions } from "./count_via_sort.ts";
export { countWords, spawnEarlyCountWorker } from "./count_pipeline.ts";
export type { SumCountsOptions, SumCountsResult } from "./count_sum.ts";
export { COUNT_TOO_LARGE, parseCount, sumCounts } from "./count_sum.ts";

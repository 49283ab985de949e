/**
 * I/O layer: the IoManager (temp dirs, spill files, cleanup), block channels (file, mmap),
 * paged run writers and readers with checksummed blocks, input line readers (files, stdin,
 * pipes, gzip) and atomic outputs.
 *
 * @module
 */
export { crc32c } from "./crc32c.ts";
export {
  adviseHugePages,
  holdLibc,
  ignoreFileSizeSignal,
  type MemoryRange,
  prefaultMemory,
} from "./libc.ts";
export { CompressProgramError } from "./compress_channel.ts";
export {
  CorruptSpillError,
  OutputClosedError,
  RecordTooLargeError,
  SpillDiskError,
  SpillReadError,
} from "./errors.ts";
export type {
  InputOptions,
  IoManagerOptions,
  OutputOptions,
  RunReaderOptions,
  RunWriterOptions,
  SpillMode,
} from "./io_manager.ts";
export {
  AUTO_SPILL_MODE_LINUX,
  checkInputPath,
  checkTmpDirUsable,
  IoManager,
} from "./io_manager.ts";
export { plainInputBytes } from "./input_bytes.ts";
export type { IoStats } from "./io_stats.ts";
export { LineReader, RECORD_BUDGET_DIVISOR, recordBytesMaxOf } from "./line_reader.ts";
export { type OutputParts, OutputSink } from "./output_sink.ts";
export { OutputPartWriter } from "./output_part.ts";
export { FileCopier } from "./file_copy.ts";
export { checkOutputPath } from "./output_target.ts";
export { RunReader, runReaderScratchBytes } from "./run_reader.ts";
export type { SpillRun } from "./run_writer.ts";
export { RunWriter } from "./run_writer.ts";
export {
  BLOCK_HEADER_BYTES,
  blockFlags,
  firstRecordOffsetOf,
  LAST_BLOCK_FLAG,
} from "./spill_format.ts";
export { RunBlockFile } from "./run_block_file.ts";
export { checkSpillBlock, RunBlockReader } from "./run_block_reader.ts";
export {
  createScratchFile,
  fileDescriptorsFree,
  readFileHead,
  removeScratchFile,
} from "./small_files.ts";
export {
  setTimelineThread,
  timelineEnd,
  timelineFlush,
  timelineOrigin,
  timelineSpan,
  timelineStart,
} from "./timeline.ts";

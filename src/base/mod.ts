/**
 * Base layer: assertions, byte-size units, error classes and exit codes.
 *
 * @module
 */
export { assert, AssertionError } from "./assert.ts";
export { ExitCode, InputError, ResourceError, SpillwayError, UsageError } from "./errors.ts";
export type { ParseByteSizeOptions } from "./units.ts";
export { formatBytes, GiB, isPowerOfTwo, KiB, MiB, parseByteSize, TiB } from "./units.ts";
export type { ProgressPhase, ProgressPhaseName, ProgressSink } from "./progress_sink.ts";
export { silentProgress, teeProgress } from "./progress_sink.ts";

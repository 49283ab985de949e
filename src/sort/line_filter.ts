import type { OutputSink } from "../io/mod.ts";
import type { SegmentLease } from "../memory/mod.ts";

/**
 * Where the sort writes its sorted lines: the output itself, or what a {@linkcode LineFilter}
 * made of it. {@linkcode OutputSink} is one.
 */
export interface LineSink {
  /** Appends bytes (any cut of the lines); `undefined` when nothing had to wait. */
  write(bytes: Uint8Array, byteOffset: number, byteLength: number): Promise<void> | undefined;
  /** Appends one byte (a line's terminator). */
  writeByte(byte: number): Promise<void> | undefined;
  /** Makes the output final. */
  commit(): Promise<void>;
  /** Drops the output; idempotent. */
  abort(): Promise<void>;
}

/**
 * A layer above the sort that rewrites the lines it reads and what it writes (count's sort route,
 * src/count/count_via_sort.ts, which counts equal neighbours like `sort | uniq -c`). The sort knows
 * nothing of what the filter does: it reads chunks into the shared memory, hands each to
 * {@linkcode LineFilter.rewriteChunk}, and gives the final output, with pages of its own, to
 * {@linkcode LineFilter.open}. With a filter the sort's output always goes through one
 * {@linkcode LineSink}: it does not write the output file at placed offsets.
 */
export interface LineFilter {
  /**
   * The reader may end a chunk at any ASCII whitespace byte instead of only at a line's end
   * (the rewrite ends a line at every whitespace run): a line of many words longer than a chunk
   * then needs no buffer of its whole length.
   */
  readonly cutsAtWhitespace: boolean;
  /**
   * Rewrites `chunk` in place into the lines to sort and returns them (a prefix of it). A chunk
   * lies in the shared memory, except one line longer than a chunk (assembled by the reader).
   */
  rewriteChunk(chunk: Uint8Array): Uint8Array;
  /** Pages {@linkcode LineFilter.open} needs for lines of at most `lineBytesMax` bytes. */
  segmentsFor(lineBytesMax: number): number;
  /**
   * Opens the filter over the opened output, in `area` (contiguous pages, as many as
   * {@linkcode LineFilter.segmentsFor} said, taken before the final merge plans its own). The
   * sink it returns commits or aborts the output and releases `area`, also when that fails.
   */
  open(output: OutputSink, area: SegmentLease): Promise<LineSink>;
}

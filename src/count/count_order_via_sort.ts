import { MiB } from "../base/mod.ts";
import type { OutputSink } from "../io/mod.ts";
import type { SegmentLease } from "../memory/mod.ts";
import { countViaSort, type SortRouteContext, type SortRouteRequest } from "./count_via_sort.ts";
import type { WordCountStats } from "./word_counter.ts";

/** Keyed lines from this many bytes are sorted with the sort Worker (fewer: this thread). */
export const KEYED_WORKER_BYTES_MIN = 16 * MiB;

/** Pages of the buffer the output is copied through at most (4 MiB at 32 KiB pages). */
const COPY_SEGMENTS_MAX = 128;

/** Pages of the keyed lines' output buffer at most (and 1/64 of the budget at most). */
const KEYED_BUFFER_SEGMENTS = 8;

type RouteContext = SortRouteContext;

/**
 * Counts the inputs through the sort engine in count order (count descending, then word): the
 * sort route's counted stream is in word order, and the words at the lowest count printed (1, or
 * `--min-count`: nearly all of a nearly unique input) are already in their final order and come
 * last. So the first sort writes their lines to a temp file, and the words above that count to
 * a second temp file as keyed lines (`~count` in 16 hex digits, then the word), whose byte order
 * is count order; a second sort (small: this thread, unless they are many) writes those as count
 * lines to a third temp file. The output is then the csv header, the third file and the first.
 * The output opens only after both sorts: until then a record too long for the route's half of
 * the budget may start the count over on the table's path ({@linkcode countViaSort}).
 *
 * @param request The parsed count (`order: "count"`; see `sortRouteFormat`).
 * @param context Budget, io and progress.
 * @param format The `countLines` format.
 * @returns The counters (tokens, distinct words, runs) and the input bytes.
 */
export async function countOrderViaSort(
  request: SortRouteRequest,
  context: RouteContext,
  format: number,
): Promise<WordCountStats & { inputBytes: number }> {
  const { memory, io } = context;
  const floorPath = io.tempPath("count-floor");
  const keyedPath = io.tempPath("count-keyed");
  const orderedPath = io.tempPath("count-ordered");
  let keyed: OutputSink | undefined;
  try {
    keyed = await io.createOutput(keyedPath, {
      owner: "count-keyed",
      bufferSegments: Math.max(1, Math.min(KEYED_BUFFER_SEGMENTS, memory.totalSegments >> 6)),
    });
    const words = await countViaSort({ ...request, output: floorPath }, context, format, {
      split: { minCount: request.minCount, aboveMin: keyed },
      useWorker: true,
    });
    const keyedBytes = keyed.bytesWritten;
    await keyed.commit();
    keyed = undefined;
    let orderRuns = 0;
    if (keyedBytes > 0) {
      // No progress: the input's bytes were all read and merged already.
      const ordered = await countViaSort(
        { ...request, inputs: [keyedPath], output: orderedPath },
        { memory, io },
        format,
        { split: { minCount: 1, keyed: true }, useWorker: keyedBytes >= KEYED_WORKER_BYTES_MIN },
      );
      orderRuns = ordered.wordRuns;
    }
    await io.deleteFile(keyedPath);
    await writeParts(request, context, keyedBytes > 0 ? [orderedPath, floorPath] : [floorPath]);
    return { ...words, countOrderRuns: orderRuns };
  } finally {
    await keyed?.abort().catch(() => {});
    for (const path of [floorPath, keyedPath, orderedPath]) {
      await io.deleteFile(path).catch(() => {});
    }
  }
}

/**
 * Writes the output: the csv header, then the temp files `parts` (copied by the kernel into a
 * regular file, else through a buffer of the budget).
 */
async function writeParts(
  request: SortRouteRequest,
  context: RouteContext,
  parts: readonly string[],
): Promise<void> {
  const { memory, io } = context;
  let copy: SegmentLease | undefined;
  const buffer = () => {
    const segments = Math.max(1, Math.min(COPY_SEGMENTS_MAX, memory.freeSegments >> 1));
    copy = memory.tryAllocateContiguous("count-order-copy", segments) ??
      memory.allocate("count-order-copy", 1);
    const first = copy.segments[0]!.bytes;
    return new Uint8Array(
      first.buffer,
      first.byteOffset,
      copy.segments.length * memory.segmentBytes,
    );
  };
  const output = await io.createOutput(request.output, { owner: "count-output" });
  try {
    const header = request.format === "csv" ? [new TextEncoder().encode("word,count\n")] : [];
    await io.appendFiles(output, [...header, ...parts], buffer);
    await output.commit();
  } finally {
    copy?.release();
    await output.abort();
  }
}

import { InputError, type ProgressSink, silentProgress } from "../base/mod.ts";
import type { IoManager, LineReader } from "../io/mod.ts";
import type { MemoryManager } from "../memory/mod.ts";
import { type CountFormat, CountFormatter } from "./count_format.ts";
import { planCount } from "./count_plan.ts";
import { WordCounter, type WordCountStats } from "./word_counter.ts";

const NEWLINE = 10;
const TAB = 9;
const DIGIT_0 = 48;
/** {@linkcode parseCount}'s answer for plain digits beyond 2^53 - 1. */
export const COUNT_TOO_LARGE: number = -2;
/** Bytes of a bad line quoted in the error message. */
const PREVIEW_BYTES = 40;

/** What {@linkcode sumCounts} is asked to do besides its inputs. */
export interface SumCountsOptions {
  /** The budget. */
  memory: MemoryManager;
  /** Inputs, spills and the output. */
  io: IoManager;
  /** Phases `count` and `merge`; bytes read. */
  progress?: ProgressSink;
  /** Output format (as in count). */
  format: CountFormat;
  /** Only the N most frequent words. */
  top: number | undefined;
  /** `count` (default): count descending, then word; `word`: byte order of words. */
  order?: "count" | "word";
  /** Drop words whose sum is smaller (default 1). */
  minCount?: number;
}

/** What a sum did. */
export interface SumCountsResult extends WordCountStats {
  /** Bytes read from the inputs. */
  inputBytes: number;
  /** `word<TAB>count` lines read. */
  inputLines: number;
}

/**
 * The reduce side of a split count (`spillway merge --sum`): reads `word<TAB>count` lines (in
 * any order), sums equal words in count's hash table (spilling inside the budget, merging the
 * runs with the summing merge) and writes them like count: count descending, ties by word (or
 * in word order), with count's `--top` and `--min-count`. Counts are exact to 2^53 - 1: a larger
 * count on a line, or a sum that passes it, is an {@linkcode InputError} (exit 2).
 *
 * @param inputs The partial results.
 * @param output The target, or undefined for stdout.
 * @param options Budget, io, progress, format and top N.
 * @returns The counters.
 * @throws {InputError} On a line that is not `word<TAB>count` with a count from 1, or a count
 *   or sum beyond 2^53 - 1.
 */
export async function sumCounts(
  inputs: readonly string[],
  output: string | undefined,
  options: SumCountsOptions,
): Promise<SumCountsResult> {
  const { memory, io } = options;
  const progress = options.progress ?? silentProgress;
  const sink = await io.createOutput(output, { owner: "merge-sum-output" });
  let counter: WordCounter | undefined;
  try {
    // Planned with the output's buffer already taken.
    const plan = planCount({
      totalSegments: memory.totalSegments,
      freeSegments: memory.freeSegments,
      segmentBytes: memory.segmentBytes,
      threads: 1,
    });
    counter = new WordCounter(memory, io, {
      tokenizer: "whitespace",
      tablePages: plan.tableSegments,
      tablePagesFirst: plan.tableSegmentsFirst,
      spillPrefix: "merge-sum",
      progress,
    });
    let inputLines = 0;
    let inputBytes = 0;
    for (const path of inputs) {
      const reader = await io.openInput(path, {
        owner: "merge-sum-input",
        chunkSegments: plan.inputChunkSegments,
        recordBytesMax: plan.recordBytesMax,
      });
      try {
        inputLines += await addCountedLines(reader, path, counter, progress);
        inputBytes += reader.bytesRead;
      } finally {
        await reader.close();
      }
    }
    progress.phase({ name: "merge" });
    const formatter = new CountFormatter(sink, options.format);
    const begun = formatter.begin();
    if (begun) await begun;
    await counter.finish(
      {
        order: options.order ?? "count",
        minCount: options.minCount ?? 1,
        ...(options.top === undefined ? {} : { top: options.top }),
        lines: formatter,
      },
      (bytes, offset, length, count) => formatter.word(bytes, offset, length, count),
    );
    const ended = formatter.end();
    if (ended) await ended;
    progress.finish();
    await counter.close();
    await sink.commit();
    return { ...counter.stats, inputBytes, inputLines };
  } catch (error) {
    await counter?.close().catch(() => {});
    await sink.abort().catch(() => {});
    throw error;
  }
}

/** Adds the `word<TAB>count` lines of one input to the counter; returns how many. */
async function addCountedLines(
  reader: LineReader,
  path: string,
  counter: WordCounter,
  progress: ProgressSink,
): Promise<number> {
  progress.phase(
    reader.totalBytes === undefined
      ? { name: "count" }
      : { name: "count", totalBytes: reader.totalBytes },
  );
  let lineNumber = 0;
  let reported = 0;
  for (
    let chunk = await reader.nextChunk();
    chunk !== undefined;
    chunk = await reader.nextChunk()
  ) {
    let lineStart = 0;
    while (lineStart < chunk.length) {
      const lineEnd = chunk.indexOf(NEWLINE, lineStart);
      lineNumber += 1;
      // The count follows the last TAB; the word before it may be empty (count --lines).
      const tab = lineEnd > lineStart ? chunk.lastIndexOf(TAB, lineEnd - 1) : -1;
      const count = tab >= lineStart ? parseCount(chunk, tab + 1, lineEnd) : -1;
      if (count === COUNT_TOO_LARGE) throw tooLarge(path, lineNumber, chunk, tab + 1, lineEnd);
      if (count < 1) throw badLine(path, lineNumber, chunk, lineStart, lineEnd);
      const pending = counter.addCounted(chunk, lineStart, tab - lineStart, count);
      if (pending) await pending;
      lineStart = lineEnd + 1;
    }
    progress.advance(reader.bytesRead - reported);
    reported = reader.bytesRead;
  }
  return lineNumber;
}

/**
 * The decimal count in `bytes[from, end)`: -1 if it is not plain digits,
 * {@linkcode COUNT_TOO_LARGE} if they pass 2^53 - 1.
 *
 * @param bytes The line's storage.
 * @param from First digit.
 * @param end End of the digits.
 * @returns The count, or -1.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { parseCount } from "./count_sum.ts";
 * const bytes = new TextEncoder().encode("the\t42");
 * strictEqual(parseCount(bytes, 4, 6), 42);
 * strictEqual(parseCount(bytes, 0, 3), -1);
 * const huge = new TextEncoder().encode("18446744073709551615");
 * strictEqual(parseCount(huge, 0, huge.length), -2);
 * ```
 */
export function parseCount(bytes: Uint8Array, from: number, end: number): number {
  if (end <= from) return -1;
  let value = 0;
  for (let index = from; index < end; index += 1) {
    const digit = bytes[index]! - DIGIT_0;
    if (digit < 0 || digit > 9) return -1;
    // Past 2^53 the value is inexact, but then only "too large" matters (leading zeros are
    // fine).
    value = value * 10 + digit;
  }
  return Number.isSafeInteger(value) ? value : COUNT_TOO_LARGE;
}

function tooLarge(
  path: string,
  lineNumber: number,
  chunk: Uint8Array,
  from: number,
  end: number,
): InputError {
  const digits = new TextDecoder().decode(
    chunk.subarray(from, Math.min(end, from + PREVIEW_BYTES)),
  );
  return new InputError(
    `Cannot sum ${path} line ${lineNumber}: count ${digits} passes 2^53 - 1 (${Number.MAX_SAFE_INTEGER}), the largest count spillway sums exactly`,
  );
}

function badLine(
  path: string,
  lineNumber: number,
  chunk: Uint8Array,
  lineStart: number,
  lineEnd: number,
): InputError {
  const preview = new TextDecoder().decode(
    chunk.subarray(lineStart, Math.min(lineEnd, lineStart + PREVIEW_BYTES)),
  );
  return new InputError(
    `Cannot sum ${path} line ${lineNumber}: expected word<TAB>count with a count of at least 1, found ${
      JSON.stringify(preview)
    }${
      lineEnd - lineStart > PREVIEW_BYTES ? "..." : ""
    }; give merge --sum the tsv output of spillway count`,
  );
}

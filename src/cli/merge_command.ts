import {
  ExitCode,
  InputError,
  KiB,
  MiB,
  parseByteSize,
  type ProgressSink,
  ResourceError,
  UsageError,
} from "../base/mod.ts";
import { type CountFormat, countFormats, CountFormatter, WordCounter } from "../count/mod.ts";
import { IoManager, type RunReader, type SpillRun } from "../io/mod.ts";
import { type LeakDetectionLevel, leakDetectionLevels, MemoryManager } from "../memory/mod.ts";
import {
  LineCursor,
  mergeCursors,
  orderFromDescriptor,
  type RecordCursor,
  type RecordSink,
} from "../sort/mod.ts";
import type { Command } from "./command.ts";
import {
  flagValue,
  integerValue,
  parseCommandArgs,
  type ParsedValues,
  stringList,
  stringValue,
} from "./parse_args.ts";
import { parseSortArgs, type SortRequest } from "./sort_command.ts";
import {
  CommandReport,
  normalizeReportArgs,
  reportOptionsHelp,
  reportOptionSpecs,
} from "./stats_report.ts";

const help = `Usage: spillway merge [OPTION]... FILE...
       spillway merge --sum [OPTION]... FILE...

Merges FILEs that are already sorted (like 'sort -m') into one sorted output, with any number
of inputs: when they exceed the fan-in, groups are merged into temporary runs first (several
passes), inside the memory budget.

With --sum, the FILEs hold 'word<TAB>count' lines (count's output, in any order, e.g. partial
results of several machines): equal words are summed and the result is written like 'spillway
count' writes it (count descending, ties by word in byte order).

Ordering (as in spillway sort; the inputs must be sorted the same way):
  -b, --ignore-leading-blanks  ignore leading blanks in keys
  -f, --ignore-case            fold lower case to upper case
  -n, --numeric-sort           compare by leading numeric value
  -r, --reverse                reverse the result of comparisons
  -k, --key=KEYDEF             sort key (repeatable), as in sort
  -t, --field-separator=SEP    field separator byte
  -s, --stable                 no last-resort comparison (ties keep input order)
  -u, --unique                 output only the first of lines with equal keys
  -z, --zero-terminated        lines end with NUL, not newline

Other:
  -o, --output=FILE            write to FILE (may be an input; written atomically)
  -S, --memory=SIZE            the memory budget (default 64 MiB); a bare number means KiB
  -T, --tmp-dir=DIR            directory for intermediate runs (repeatable)
      --segment-size=SIZE      page size of the budget (power of two, 4k to 16m; default 32k)
      --fan-in=N               most inputs merged at once (default 128, lowered to what the
                               budget allows: three pages per input plus four)
      --spill=file|mmap|auto   how intermediate runs are written (default auto)
      --leak-detection=LEVEL   disabled, simple (default), advanced or paranoid
      --sum                    sum the counts of 'word<TAB>count' inputs (see above); takes
                               -o, -S, -T, --segment-size, --spill, --leak-detection (and
                               --fan-in, ignored: count's merge plans its own fan-in) and:
      --format=FORMAT          with --sum: tsv (default), csv, json or yaml, as in count
      --top=N                  with --sum: only the N most frequent words
${reportOptionsHelp}

Exit codes: 0 ok; 2 usage or input error (also a --sum line without a TAB and a count);
3 resource error.`;

const optionSpecs = {
  "ignore-leading-blanks": { type: "boolean", short: "b" },
  "ignore-case": { type: "boolean", short: "f" },
  "numeric-sort": { type: "boolean", short: "n" },
  reverse: { type: "boolean", short: "r" },
  key: { type: "string", short: "k", multiple: true },
  "field-separator": { type: "string", short: "t", multiple: true },
  stable: { type: "boolean", short: "s" },
  unique: { type: "boolean", short: "u" },
  "zero-terminated": { type: "boolean", short: "z" },
  output: { type: "string", short: "o", multiple: true },
  memory: { type: "string", short: "S", multiple: true },
  "tmp-dir": { type: "string", short: "T", multiple: true },
  "segment-size": { type: "string" },
  "fan-in": { type: "string" },
  spill: { type: "string" },
  "leak-detection": { type: "string" },
  sum: { type: "boolean" },
  format: { type: "string" },
  top: { type: "string" },
  ...reportOptionSpecs,
} as const;

/** Pages a merge keeps besides its inputs: the run writer or output buffer, and scratch. */
const MERGE_FIXED_PAGES = 4;
/** Pages per merged input: its block, read-ahead and scratch for records across blocks. */
const MERGE_PAGES_PER_INPUT = 3;
/** Bytes merged between two progress reports. */
const PROGRESS_BLOCK_BYTES = 256 * 1024;

/** `spillway merge`: merges sorted inputs (multi-pass), or sums counted partials. */
export const mergeCommand: Command = {
  name: "merge",
  summary: "merge already sorted files (any number, multi-pass), or --sum counted partials",
  help,
  async run(argv: readonly string[]): Promise<number> {
    const normalized = normalizeReportArgs(argv);
    const { values, positionals } = parseCommandArgs("merge", normalized, optionSpecs);
    if (positionals.length === 0) {
      throw new UsageError("No input files; usage: spillway merge [OPTION]... FILE...");
    }
    if (flagValue(values, "sum")) {
      return await runMergeSum(values, positionals);
    }
    // The ordering and resource options mean what they mean for sort: let sort parse them.
    const { request } = parseSortArgs(["--merge", ...normalized]);
    using report = CommandReport.start("merge", values);
    await report.checkTargets(request.output);
    const memory = new MemoryManager({
      budgetBytes: request.budgetBytes,
      ...(request.segmentBytes === undefined ? {} : { segmentBytes: request.segmentBytes }),
      leakDetection: request.leakDetection,
    });
    const io = await IoManager.open({
      memory,
      ...(request.tmpDirs.length > 0 ? { tmpDirs: request.tmpDirs } : {}),
      spillMode: request.spillMode,
    });
    let result: MergeResult;
    try {
      result = await mergeSortedFiles(request, { memory, io, progress: report.progress });
    } finally {
      await io.close();
    }
    const stats = report.stats;
    stats.input.files = request.inputs.length;
    stats.input.bytes = result.inputBytes;
    stats.input.records = result.inputRecords;
    stats.output.records = result.outputRecords;
    stats.output.bytes = io.stats.outputBytesWritten;
    stats.spill.runs = result.runsWritten;
    stats.spill.mergePasses = result.passes;
    await report.end({ memory, io: io.stats, spillMode: io.spillMode, exitCode: ExitCode.ok });
    memory.assertAllReleased();
    return ExitCode.ok;
  },
};

/** What a merge did. */
export interface MergeResult {
  /** Passes over the data (1 when all inputs fit the fan-in). */
  passes: number;
  /** Intermediate runs written. */
  runsWritten: number;
  /** The fan-in used. */
  fanIn: number;
  /** Bytes read from the inputs. */
  inputBytes: number;
  /** Records read from the inputs. */
  inputRecords: number;
  /** Records written. */
  outputRecords: number;
}

/**
 * The fan-in a merge can afford in a budget: three pages per input plus four.
 *
 * @param totalPages Pages in the budget.
 * @param fanInMax The configured maximum.
 * @returns At least 2.
 * @throws {ResourceError} If the budget cannot merge two inputs.
 */
export function mergeFanIn(totalPages: number, fanInMax: number): number {
  const affordable = Math.floor((totalPages - MERGE_FIXED_PAGES) / MERGE_PAGES_PER_INPUT);
  if (affordable < 2) {
    throw new ResourceError(
      `Cannot merge in ${totalPages} pages: need at least ${
        MERGE_FIXED_PAGES + 2 * MERGE_PAGES_PER_INPUT
      }; raise --memory (-S) or lower --segment-size`,
    );
  }
  return Math.min(fanInMax, affordable);
}

/**
 * Merges sorted files into `request.output`: when there are more inputs than the fan-in,
 * groups of inputs are merged into spill runs, and runs into fewer runs, until one final
 * merge fits (each run deleted as soon as it is merged). Uses sort's loser-tree merge.
 *
 * @param request The parsed request (inputs, output, order, -u, terminator, fan-in).
 * @param context Budget, io and the progress sink.
 * @returns Counters for the report.
 */
export async function mergeSortedFiles(
  request: SortRequest,
  context: { memory: MemoryManager; io: IoManager; progress: ProgressSink },
): Promise<MergeResult> {
  const { memory, io, progress } = context;
  if (request.recordBytes !== undefined) {
    throw new UsageError("spillway merge merges lines; use 'spillway sort -m' for --record-size");
  }
  const fanIn = mergeFanIn(memory.totalPages, request.fanInMax);
  const order = orderFromDescriptor(request.descriptor);
  const counters = { inputBytes: 0, inputRecords: 0 };
  const result: MergeResult = {
    passes: 0,
    runsWritten: 0,
    fanIn,
    inputBytes: 0,
    inputRecords: 0,
    outputRecords: 0,
  };
  let passCount = 1;
  for (let width = request.inputs.length; width > fanIn; width = Math.ceil(width / fanIn)) {
    passCount += 1;
  }
  const merge = async (cursors: RecordCursor[], sink: RecordSink): Promise<number> => {
    return await mergeCursors(cursors, sink, {
      order,
      unique: request.unique,
      memory,
      owner: "merge-unique",
    });
  };
  let runs: SpillRun[] | undefined = undefined;
  if (request.inputs.length > fanIn) {
    // Pass 1: groups of input files into runs.
    progress.phase({ name: "merge", pass: 1, passCount, ...inputBytes(request.inputs) });
    runs = [];
    for (let start = 0; start < request.inputs.length; start += fanIn) {
      const group = request.inputs.slice(start, start + fanIn);
      const cursors = await openLineCursors(io, group, request.terminator, counters);
      try {
        runs.push(await mergeIntoRun(io, cursors, merge, progress));
      } finally {
        for (const cursor of cursors) await cursor.close();
      }
    }
    result.runsWritten += runs.length;
    result.passes += 1;
    // Middle passes: runs into fewer runs.
    while (runs.length > fanIn) {
      progress.phase({ name: "merge", pass: result.passes + 1, passCount, ...runBytes(runs) });
      const next: SpillRun[] = [];
      for (let start = 0; start < runs.length; start += fanIn) {
        const group = runs.slice(start, start + fanIn);
        const readers = await openRunReaders(io, group);
        try {
          next.push(await mergeIntoRun(io, readers, merge, progress));
        } finally {
          for (const reader of readers) await reader.close();
        }
        for (const run of group) await io.deleteRun(run);
      }
      result.runsWritten += next.length;
      result.passes += 1;
      runs = next;
    }
  }
  // Final pass: into the output, adding the terminator to each record.
  progress.phase({
    name: "merge",
    pass: result.passes + 1,
    passCount,
    ...(runs === undefined ? inputBytes(request.inputs) : runBytes(runs)),
  });
  const cursors: Array<RecordCursor & { close(): Promise<void> }> = runs === undefined
    ? await openLineCursors(io, request.inputs, request.terminator, counters)
    : await openRunReaders(io, runs);
  try {
    const output = await io.createOutput(request.output, { owner: "merge-output" });
    try {
      const terminator = request.terminator;
      let pendingBytes = 0;
      result.outputRecords = await merge(cursors, (bytes, offset, length) => {
        pendingBytes += length + 1;
        if (pendingBytes >= PROGRESS_BLOCK_BYTES) {
          progress.advance(pendingBytes);
          pendingBytes = 0;
        }
        const pending = output.write(bytes, offset, length);
        if (pending !== undefined) return pending.then(() => output.writeByte(terminator));
        return output.writeByte(terminator);
      });
      progress.advance(pendingBytes);
      await output.commit();
    } catch (error) {
      await output.abort();
      throw error;
    }
  } finally {
    for (const cursor of cursors) await cursor.close();
  }
  if (runs !== undefined) { for (const run of runs) await io.deleteRun(run); }
  result.passes += 1;
  progress.finish();
  result.inputBytes = counters.inputBytes;
  result.inputRecords = counters.inputRecords;
  return result;
}

/** The total size of plain input files, for the progress line (none for stdin, pipes, .gz). */
function inputBytes(paths: readonly string[]): { totalBytes?: number } {
  let total = 0;
  for (const path of paths) {
    if (path === "-" || path.endsWith(".gz")) return {};
    try {
      const info = Deno.statSync(path);
      if (!info.isFile) return {};
      total += info.size;
    } catch {
      return {}; // opening it reports the problem
    }
  }
  return { totalBytes: total };
}

/** The total size of spill runs, for the progress line. */
function runBytes(runs: readonly SpillRun[]): { totalBytes: number } {
  let total = 0;
  for (const run of runs) total += run.byteLength;
  return { totalBytes: total };
}

async function openLineCursors(
  io: IoManager,
  paths: readonly string[],
  terminator: number,
  counters: { inputBytes: number; inputRecords: number },
): Promise<LineCursor[]> {
  const cursors: LineCursor[] = [];
  try {
    for (const path of paths) {
      const reader = await io.openInput(path, {
        owner: "merge-input",
        terminator,
        chunkSegments: 1,
      });
      cursors.push(new LineCursor(reader, terminator, counters));
    }
  } catch (error) {
    for (const cursor of cursors) await cursor.close();
    throw error;
  }
  return cursors;
}

async function openRunReaders(io: IoManager, runs: readonly SpillRun[]): Promise<RunReader[]> {
  const readers: RunReader[] = [];
  try {
    for (const run of runs) {
      readers.push(await io.openRunReader(run, { owner: "merge-run", readAheadSegments: 1 }));
    }
  } catch (error) {
    for (const reader of readers) await reader.close();
    throw error;
  }
  return readers;
}

async function mergeIntoRun(
  io: IoManager,
  cursors: RecordCursor[],
  merge: (cursors: RecordCursor[], sink: RecordSink) => Promise<number>,
  progress: ProgressSink,
): Promise<SpillRun> {
  const writer = await io.createRunWriter("merge", { owner: "merge-run-out" });
  try {
    let pendingBytes = 0;
    await merge(cursors, (bytes, offset, length) => {
      pendingBytes += length + 1;
      if (pendingBytes >= PROGRESS_BLOCK_BYTES) {
        progress.advance(pendingBytes);
        pendingBytes = 0;
      }
      return writer.writeRecord(bytes, offset, length);
    });
    progress.advance(pendingBytes);
    return await writer.finish();
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/** Options that order lines: meaningless with --sum (its output is ordered like count's). */
const orderingOptions = [
  "ignore-leading-blanks",
  "ignore-case",
  "numeric-sort",
  "reverse",
  "key",
  "field-separator",
  "stable",
  "unique",
  "zero-terminated",
];

const TAB = 9;
const DIGIT_0 = 48;

/**
 * `merge --sum`: adds up `word<TAB>count` partials with count's hash table (spilling inside
 * the budget) and writes them like count: count descending, ties by word.
 */
async function runMergeSum(values: ParsedValues, inputs: readonly string[]): Promise<number> {
  for (const name of orderingOptions) {
    if (values[name] !== undefined && values[name] !== false) {
      throw new UsageError(
        `Option --${name} cannot be used with --sum: sums are written in count order; drop it`,
      );
    }
  }
  const outputs = stringList(values, "output");
  if (new Set(outputs).size > 1) {
    throw new UsageError(`Multiple output files specified: ${outputs.join(", ")}; give one -o`);
  }
  const format = stringValue(values, "format") ?? "tsv";
  if (!(countFormats as readonly string[]).includes(format)) {
    throw new UsageError(`Invalid --format "${format}": use ${countFormats.join(", ")}`);
  }
  const top = integerValue(values, "top", { min: 1 });
  const sizes = stringList(values, "memory");
  const segmentText = stringValue(values, "segment-size");
  const spill = stringValue(values, "spill") ?? "auto";
  if (spill !== "file" && spill !== "mmap" && spill !== "auto") {
    throw new UsageError(`Invalid --spill "${spill}": use file, mmap or auto`);
  }
  const leak = stringValue(values, "leak-detection") ?? "simple";
  if (!(leakDetectionLevels as readonly string[]).includes(leak)) {
    throw new UsageError(
      `Invalid --leak-detection "${leak}": use ${leakDetectionLevels.join(", ")}`,
    );
  }
  const budgetBytes = sizes.length === 0
    ? 64 * MiB
    : sizeOf(sizes[sizes.length - 1]!, "-S/--memory size", KiB);
  using report = CommandReport.start("merge", values);
  await report.checkTargets(outputs[0]);
  const memory = new MemoryManager({
    budgetBytes,
    ...(segmentText === undefined
      ? {}
      : { segmentBytes: sizeOf(segmentText, "--segment-size", 1) }),
    leakDetection: leak as LeakDetectionLevel,
  });
  const tmpDirs = stringList(values, "tmp-dir");
  const io = await IoManager.open({
    memory,
    ...(tmpDirs.length > 0 ? { tmpDirs } : {}),
    spillMode: spill,
  });
  try {
    await sumCounts(inputs, outputs[0], {
      memory,
      io,
      progress: report.progress,
      format: format as CountFormat,
      top,
      stats: report.stats,
    });
  } finally {
    await io.close();
  }
  report.stats.input.files = inputs.length;
  report.stats.output.bytes = io.stats.outputBytesWritten;
  await report.end({ memory, io: io.stats, spillMode: io.spillMode, exitCode: ExitCode.ok });
  memory.assertAllReleased();
  return ExitCode.ok;
}

function sizeOf(text: string, what: string, bareUnitBytes: number): number {
  try {
    return parseByteSize(text, { bareUnitBytes, what });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/**
 * Sums `word<TAB>count` lines of the inputs into `output` in count order.
 *
 * @param inputs The partial results (any order).
 * @param output The target, or undefined for stdout.
 * @param context Budget, io, progress, output format, top N and the report to fill.
 */
async function sumCounts(
  inputs: readonly string[],
  output: string | undefined,
  context: {
    memory: MemoryManager;
    io: IoManager;
    progress: ProgressSink;
    format: CountFormat;
    top: number | undefined;
    stats: {
      input: { bytes: number; records: number };
      output: { records: number };
      spill: { runs: number; mergePasses: number };
    };
  },
): Promise<void> {
  const { memory, io, progress } = context;
  const sink = await io.createOutput(output, { owner: "merge-sum-output" });
  let counter: WordCounter | undefined;
  try {
    const chunkSegments = Math.max(
      1,
      Math.min(Math.ceil(MiB / memory.segmentBytes), Math.floor(memory.totalPages / 8)),
    );
    counter = new WordCounter(memory, io, {
      tokenizer: "whitespace",
      tablePages: memory.freePages - chunkSegments - 4,
      spillPrefix: "merge-sum",
    });
    let lineCount = 0;
    for (const path of inputs) {
      const reader = await io.openInput(path, { owner: "merge-sum-input", chunkSegments });
      try {
        progress.phase(
          reader.totalBytes === undefined
            ? { name: "count" }
            : { name: "count", totalBytes: reader.totalBytes },
        );
        let lineNumber = 0;
        let before = 0;
        for (
          let chunk = await reader.nextChunk();
          chunk !== undefined;
          chunk = await reader.nextChunk()
        ) {
          let lineStart = 0;
          while (lineStart < chunk.length) {
            const lineEnd = chunk.indexOf(10, lineStart);
            lineNumber += 1;
            const tab = lineEnd > lineStart ? chunk.lastIndexOf(TAB, lineEnd - 1) : -1;
            const count = tab > lineStart ? parseCount(chunk, tab + 1, lineEnd) : -1;
            if (count < 1) throw badLine(path, lineNumber, chunk, lineStart, lineEnd);
            const pending = counter.addCounted(chunk, lineStart, tab - lineStart, count);
            if (pending) await pending;
            lineStart = lineEnd + 1;
          }
          progress.advance(reader.bytesRead - before);
          before = reader.bytesRead;
        }
        lineCount += lineNumber;
        context.stats.input.bytes += reader.bytesRead;
      } finally {
        await reader.close();
      }
    }
    progress.phase({ name: "merge" });
    const formatter = new CountFormatter(sink, context.format);
    const begun = formatter.begin();
    if (begun) await begun;
    await counter.finish(
      { order: "count", ...(context.top === undefined ? {} : { top: context.top }) },
      (bytes, offset, length, count) => formatter.word(bytes, offset, length, count),
    );
    const ended = formatter.end();
    if (ended) await ended;
    progress.finish();
    await counter.close();
    await sink.commit();
    const stats = counter.stats;
    context.stats.input.records = lineCount;
    context.stats.output.records = stats.distinctWords;
    context.stats.spill.runs = stats.wordRuns + stats.countOrderRuns + stats.longWords;
    context.stats.spill.mergePasses = stats.intermediateMerges +
      (context.stats.spill.runs > 0 ? 1 : 0);
  } catch (error) {
    await counter?.close().catch(() => {});
    await sink.abort().catch(() => {});
    throw error;
  }
}

/** The decimal count in bytes[from, end), or -1 if it is not 1 to 2^53 - 1 in plain digits. */
function parseCount(bytes: Uint8Array, from: number, end: number): number {
  if (end <= from || end - from > 16) return -1;
  let value = 0;
  for (let index = from; index < end; index += 1) {
    const digit = bytes[index]! - DIGIT_0;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return Number.isSafeInteger(value) ? value : -1;
}

function badLine(
  path: string,
  lineNumber: number,
  chunk: Uint8Array,
  lineStart: number,
  lineEnd: number,
): InputError {
  const preview = new TextDecoder().decode(
    chunk.subarray(lineStart, Math.min(lineEnd, lineStart + 40)),
  );
  return new InputError(
    `Cannot sum ${path} line ${lineNumber}: expected word<TAB>count with a count of at least 1, found ${
      JSON.stringify(preview)
    }${lineEnd - lineStart > 40 ? "..." : ""}; give merge --sum the tsv output of spillway count`,
  );
}

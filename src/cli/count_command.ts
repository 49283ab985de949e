// deno-lint-ignore-file no-console
import { ExitCode, KiB, MiB, parseByteSize, UsageError } from "../base/mod.ts";
import {
  type CaseMode,
  countFormats,
  type CountRequest,
  countWords,
  tokenizerKinds,
} from "../count/mod.ts";
import type { SpillMode } from "../io/mod.ts";
import { CommandScope } from "../job/mod.ts";
import { leakDetectionLevels } from "../memory/mod.ts";
import { FAN_IN_DEFAULT, MERGE_INPUTS_MAX } from "../sort/mod.ts";
import type { Command } from "./command.ts";
import {
  flagValue,
  integerValue,
  parseCommandArgs,
  type ParsedValues,
  stringList,
  stringValue,
} from "./parse_args.ts";
import {
  CommandReport,
  normalizeReportArgs,
  reportOptionsHelp,
  reportOptionSpecs,
} from "./stats_report.ts";

/** Default budget of `spillway count` without `-S`. */
export const COUNT_MEMORY_DEFAULT_BYTES = 64 * MiB;

const help = `Usage: spillway count [OPTION]... [FILE]...

Counts words in the FILEs (or standard input) inside a fixed memory budget and prints
word<TAB>count lines, count descending, ties by word in byte order. Words are counted in a
binary hash table in managed memory; when it fills it is sorted and spilled as a run, and the
runs are merged at the end, summing equal words.

Tokens:
      --tokenizer=NAME   words (default): runs of Unicode letters, digits and _ in UTF-8
                         (invalid UTF-8 separates words and is counted in --stats);
                         letters: runs of ASCII A-Z a-z (like tr -cs A-Za-z '\\n');
                         flink: Apache Flink's WordCount (lower case, split on Java \\W+);
                         whitespace: runs of bytes other than space, \\t \\n \\v \\f \\r
      --case=MODE        lower (default; whitespace: preserve) or preserve

Output:
      --order=ORDER      count (default: count descending, then word) or word (byte order)
      --top=N            only the N most frequent words (bounded heap, no full sort)
      --min-count=N      only words counted at least N times
      --distinct         print only the number of distinct words
      --total            print only the number of words (with --distinct: both, distinct
                         first)
      --format=FORMAT    tsv (default), csv, json or yaml (see docs/count.md for escaping)
  -o, --output=FILE      write to FILE atomically (default standard output)

Resources:
  -S, --memory=SIZE      the memory budget (default 64 MiB): 64m, 1g, 512k; a bare number
                         means KiB like GNU sort
  -T, --tmp-dir=DIR      spill directory (repeatable; default $TMPDIR or /tmp)
      --segment-size=SIZE  page size of the budget (power of two, 4k to 16m; default 32k)
      --fan-in=N         most runs merged at once (default 128, lowered to what the budget
                         allows; 2 or more)
      --spill=file|mmap|auto  how spill files are written and read (default auto)
      --leak-detection=LEVEL  disabled, simple (default), advanced or paranoid
      --threads=N        1, or 2 (default): for inputs from 8 MiB (or past the first 4 MiB
                         of a pipe) a Worker counts part of the chunks with half the
                         budget; its run joins the merge

Report:
${reportOptionsHelp}

Exit codes: 0 ok; 2 usage or input error; 3 resource error.`;

const optionSpecs = {
  tokenizer: { type: "string" },
  case: { type: "string" },
  order: { type: "string" },
  top: { type: "string" },
  "min-count": { type: "string" },
  distinct: { type: "boolean" },
  total: { type: "boolean" },
  format: { type: "string" },
  output: { type: "string", short: "o", multiple: true },
  memory: { type: "string", short: "S", multiple: true },
  "buffer-size": { type: "string", multiple: true },
  "tmp-dir": { type: "string", short: "T", multiple: true },
  "temporary-directory": { type: "string", multiple: true },
  "segment-size": { type: "string" },
  spill: { type: "string" },
  "leak-detection": { type: "string" },
  threads: { type: "string" },
  "fan-in": { type: "string" },
  ...reportOptionSpecs,
} as const;

/** Everything `spillway count` was asked to do, after parsing: the count and its resources. */
export interface CountCommandRequest extends CountRequest {
  /** The budget in bytes. */
  budgetBytes: number;
  /** The segment size, when given. */
  segmentBytes: number | undefined;
  /** `--spill`. */
  spillMode: SpillMode;
}

function byteSize(text: string, what: string, bareUnitBytes: number): number {
  try {
    return parseByteSize(text, { bareUnitBytes, what });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

function oneOf<T extends string>(
  values: ParsedValues,
  name: string,
  choices: readonly T[],
  fallback: T,
): T {
  const text = stringValue(values, name);
  if (text === undefined) return fallback;
  if (!(choices as readonly string[]).includes(text)) {
    throw new UsageError(`Invalid --${name} "${text}": use ${choices.join(", ")}`);
  }
  return text as T;
}

/**
 * Parses `spillway count` arguments.
 *
 * @param argv The arguments after `count`.
 * @returns The request and the parsed values (for the report options).
 * @throws {UsageError} On anything wrong.
 */
export function parseCountArgs(
  argv: readonly string[],
): { request: CountCommandRequest; values: ParsedValues } {
  const { values, positionals } = parseCommandArgs(
    "count",
    normalizeReportArgs(argv),
    optionSpecs,
  );
  const tokenizer = oneOf(values, "tokenizer", tokenizerKinds, "words");
  const caseMode = oneOf<CaseMode>(
    values,
    "case",
    ["lower", "preserve"],
    tokenizer === "whitespace" ? "preserve" : "lower",
  );
  if (tokenizer === "flink" && caseMode === "preserve") {
    throw new UsageError(
      "The flink tokenizer always lower-cases (Flink's rule); drop --case=preserve",
    );
  }
  const outputs = stringList(values, "output");
  if (new Set(outputs).size > 1) {
    throw new UsageError(`Multiple output files specified: ${outputs.join(", ")}; give one -o`);
  }
  const sizes = [...stringList(values, "buffer-size"), ...stringList(values, "memory")];
  const sizeText = sizes[sizes.length - 1];
  const segmentText = stringValue(values, "segment-size");
  const spillMode = oneOf<SpillMode>(values, "spill", ["file", "mmap", "auto"], "auto");
  const leak = oneOf(values, "leak-detection", leakDetectionLevels, "simple");
  const request: CountCommandRequest = {
    inputs: positionals.length > 0 ? positionals : ["-"],
    output: outputs[0],
    tokenizer,
    caseMode,
    order: oneOf(values, "order", ["count", "word"] as const, "count"),
    top: integerValue(values, "top", { min: 1 }),
    minCount: integerValue(values, "min-count", { min: 1 }) ?? 1,
    distinct: flagValue(values, "distinct"),
    total: flagValue(values, "total"),
    format: oneOf(values, "format", countFormats, "tsv"),
    budgetBytes: sizeText === undefined
      ? COUNT_MEMORY_DEFAULT_BYTES
      : byteSize(sizeText, "-S/--memory size", KiB),
    segmentBytes: segmentText === undefined
      ? undefined
      : byteSize(segmentText, "--segment-size", 1),
    tmpDirs: [...stringList(values, "tmp-dir"), ...stringList(values, "temporary-directory")],
    spillMode,
    leakDetection: leak,
    threads: integerValue(values, "threads", { min: 1, max: 2 }) ?? 2,
    fanInMax: integerValue(values, "fan-in", { min: 2, max: MERGE_INPUTS_MAX }) ?? FAN_IN_DEFAULT,
  };
  if ((request.distinct || request.total) && request.top !== undefined) {
    throw new UsageError("--top cannot be combined with --distinct or --total; drop one");
  }
  return { request, values };
}

/** `spillway count`: word frequencies within a memory budget. */
export const countCommand: Command = {
  name: "count",
  summary: "count words (frequencies, distinct, top N) within a memory budget",
  help,
  async run(argv: readonly string[]): Promise<number> {
    const { request, values } = parseCountArgs(argv);
    await using scope = await CommandScope.open({
      ...request,
      report: CommandReport.start("count", values),
    });
    const stats = await countWords(request, {
      memory: scope.memory,
      io: scope.io,
      progress: scope.report.progress,
    });
    const report = scope.report;
    const s = report.stats;
    s.input.files = request.inputs.length;
    s.input.bytes = stats.inputBytes;
    s.input.records = stats.tokens;
    s.output.records = stats.distinctWords;
    s.spill.runs = stats.wordRuns + stats.countOrderRuns + stats.longWords;
    s.spill.mergePasses = stats.intermediateMerges + (s.spill.runs > 0 ? 1 : 0);
    // Count-specific counters ride along in JSON/YAML reports and get a line in text ones.
    const countStats = {
      tokens: stats.tokens,
      distinctWords: stats.distinctWords,
      invalidUtf8Bytes: stats.invalidUtf8Bytes,
      wordRuns: stats.wordRuns,
      longWordRuns: stats.longWords,
      countOrderRuns: stats.countOrderRuns,
      intermediateMerges: stats.intermediateMerges,
      tableGrowths: stats.tableGrowths,
      tablePages: stats.tablePages,
      workerInputBytes: stats.workerBytes,
      bucketArenaSegments: stats.buddy?.arenaSegments ?? 0,
      bucketArenaPeakSegments: stats.buddy?.peakUsedSegments ?? 0,
      bucketArenaFragmentation: Number((stats.buddy?.fragmentation ?? 0).toFixed(3)),
    };
    (report.stats as unknown as Record<string, unknown>)["count"] = countStats;
    await scope.finish(ExitCode.ok);
    if (report.options.statsFormat === "text" && report.options.statsFile === undefined) {
      console.error(
        `  count: ${stats.tokens} tokens, ${stats.distinctWords} distinct, ${stats.invalidUtf8Bytes} invalid UTF-8 bytes; runs ${stats.wordRuns} word + ${stats.longWords} long-word + ${stats.countOrderRuns} count-order, ${stats.intermediateMerges} intermediate merges; buckets: ${countStats.bucketArenaSegments} arena segments, peak ${countStats.bucketArenaPeakSegments}, ${stats.tableGrowths} growths, fragmentation ${countStats.bucketArenaFragmentation}`,
      );
    }
    return ExitCode.ok;
  },
};

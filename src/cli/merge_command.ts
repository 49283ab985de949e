import { ExitCode, KiB, MiB, parseByteSize, UsageError } from "../base/mod.ts";
import { type CountFormat, countFormats, sumCounts } from "../count/mod.ts";
import { CommandScope } from "../job/mod.ts";
import { type LeakDetectionLevel, leakDetectionLevels } from "../memory/mod.ts";
import { mergeSortedFiles, orderFromDescriptor } from "../sort/mod.ts";
import type { Command } from "./command.ts";
import {
  flagValue,
  integerValue,
  parseCommandArgs,
  type ParsedValues,
  stringList,
  stringValue,
} from "./parse_args.ts";
import { parseSortArgs } from "./sort_command.ts";
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
    if (request.recordBytes !== undefined) {
      throw new UsageError("spillway merge merges lines; use 'spillway sort -m' for --record-size");
    }
    await using scope = await CommandScope.open({
      ...request,
      report: CommandReport.start("merge", values),
    });
    const result = await mergeSortedFiles({
      inputs: request.inputs,
      output: request.output,
      order: orderFromDescriptor(request.descriptor),
      unique: request.unique,
      terminator: request.terminator,
      fanInMax: request.fanInMax,
    }, { memory: scope.memory, io: scope.io, progress: scope.report.progress });
    const stats = scope.report.stats;
    stats.input.files = request.inputs.length;
    stats.input.bytes = result.inputBytes;
    stats.input.records = result.inputRecords;
    stats.output.records = result.outputRecords;
    stats.spill.runs = result.runsWritten;
    stats.spill.mergePasses = result.passes;
    return await scope.finish(ExitCode.ok);
  },
};

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
  await using scope = await CommandScope.open({
    budgetBytes,
    segmentBytes: segmentText === undefined ? undefined : sizeOf(segmentText, "--segment-size", 1),
    leakDetection: leak as LeakDetectionLevel,
    tmpDirs: stringList(values, "tmp-dir"),
    spillMode: spill,
    report: CommandReport.start("merge", values),
  });
  const result = await sumCounts(inputs, outputs[0], {
    memory: scope.memory,
    io: scope.io,
    progress: scope.report.progress,
    format: format as CountFormat,
    top,
  });
  const stats = scope.report.stats;
  stats.input.files = inputs.length;
  stats.input.bytes = result.inputBytes;
  stats.input.records = result.inputLines;
  stats.output.records = result.distinctWords;
  stats.spill.runs = result.wordRuns + result.countOrderRuns + result.longWords;
  stats.spill.mergePasses = result.intermediateMerges + (stats.spill.runs > 0 ? 1 : 0);
  return await scope.finish(ExitCode.ok);
}

function sizeOf(text: string, what: string, bareUnitBytes: number): number {
  try {
    return parseByteSize(text, { bareUnitBytes, what });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

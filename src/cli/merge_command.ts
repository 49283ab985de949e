import { ExitCode, KiB, MiB, UsageError } from "../base/mod.ts";
import { type CountFormat, countFormats, sumCounts } from "../count/mod.ts";
import { CommandScope } from "../job/mod.ts";
import { type LeakDetectionLevel, leakDetectionLevels } from "../memory/mod.ts";
import { mergeSortedFiles, orderFromDescriptor } from "../sort/mod.ts";
import type { Command } from "./command.ts";
import { mergeSpec } from "./merge_spec.ts";
import { parseBySpec, renderHelp } from "./option_spec.ts";
import {
  flagValue,
  integerValue,
  type ParsedValues,
  parseSize,
  stringList,
  stringValue,
} from "./parse_args.ts";
import { parseSortArgs } from "./sort_args.ts";
import { CommandReport, normalizeReportArgs } from "./stats_report.ts";

/** `spillway merge`: merges sorted inputs (multi-pass), or sums counted partials. */
export const mergeCommand: Command = {
  name: "merge",
  summary: mergeSpec.summary,
  get help(): string {
    return renderHelp(mergeSpec);
  },
  spec: mergeSpec,
  normalizeArgs: normalizeReportArgs,
  async run(argv: readonly string[]): Promise<number> {
    const normalized = normalizeReportArgs(argv);
    const { values, positionals } = parseBySpec(mergeSpec, normalized);
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
    await scope.report.checkTargets(request.output);
    const result = await mergeSortedFiles({
      // It reads its inputs while it writes: an input that is the output is copied first.
      inputs: await scope.io.protectInputs(request.inputs, request.output),
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
const orderingOptionNames = mergeSpec.groups[0]!.options.map((option) => option.name);

/**
 * `merge --sum`: adds up `word<TAB>count` partials with count's hash table (spilling inside
 * the budget) and writes them like count: count descending, ties by word.
 */
async function runMergeSum(values: ParsedValues, inputs: readonly string[]): Promise<number> {
  for (const name of orderingOptionNames) {
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
  const minCount = integerValue(values, "min-count", { min: 1 }) ?? 1;
  const order = stringValue(values, "order") ?? "count";
  if (order !== "count" && order !== "word") {
    throw new UsageError(`Invalid --order "${order}": use count, word`);
  }
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
    : parseSize(sizes[sizes.length - 1]!, "-S/--memory size", KiB);
  await using scope = await CommandScope.open({
    budgetBytes,
    segmentBytes: segmentText === undefined
      ? undefined
      : parseSize(segmentText, "--segment-size", 1),
    leakDetection: leak as LeakDetectionLevel,
    tmpDirs: stringList(values, "tmp-dir"),
    spillMode: spill,
    report: CommandReport.start("merge", values),
  });
  await scope.report.checkTargets(outputs[0]);
  const result = await sumCounts(inputs, outputs[0], {
    memory: scope.memory,
    io: scope.io,
    progress: scope.report.progress,
    format: format as CountFormat,
    top,
    order,
    minCount,
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

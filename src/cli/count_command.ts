// deno-lint-ignore-file no-console
import { availableParallelism } from "node:os";
import { ExitCode, KiB, MiB, UsageError } from "../base/mod.ts";
import {
  autoCountThreads,
  type CaseMode,
  countFormats,
  type CountRequest,
  countWords,
  preservesCaseByDefault,
  spawnEarlyCountWorker,
  tokenizerKinds,
} from "../count/mod.ts";
import type { SpillMode } from "../io/mod.ts";
import { CommandScope } from "../job/mod.ts";
import { leakDetectionLevels } from "../memory/mod.ts";
import { FAN_IN_DEFAULT, MERGE_INPUTS_MAX } from "../sort/mod.ts";
import type { Command, CommandContext } from "./command.ts";
import { mergeStallSeam, warnMergeStall } from "./merge_stall.ts";
import { idleCoresSinceStart } from "./cpu_idle.ts";
import { countSpec } from "./count_spec.ts";
import { parseBySpec, renderHelp } from "./option_spec.ts";
import {
  flagValue,
  integerValue,
  type ParsedValues,
  parseSize,
  stringList,
  stringValue,
} from "./parse_args.ts";
import { CommandReport, normalizeReportArgs } from "./stats_report.ts";

/** Default budget of `spillway count` without `-S`. */
export const COUNT_MEMORY_DEFAULT_BYTES = 64 * MiB;

/** Everything `spillway count` was asked to do, after parsing: the count and its resources. */
export interface CountCommandRequest extends CountRequest {
  /** The budget in bytes. */
  budgetBytes: number;
  /** The segment size, when given. */
  segmentBytes: number | undefined;
  /** `--spill`. */
  spillMode: SpillMode;
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

/** `--threads auto|1|2` (default auto: by the cores this process may use). */
function threadsValue(
  values: ParsedValues,
): Pick<CountCommandRequest, "threads" | "threadsAuto" | "idleCores" | "workerFirst"> {
  // Test seam (docs/stats.md): the Worker gets the first chunk even on a loaded machine.
  const workerFirst = Deno.env.get("SPILLWAY_TEST_WORKER_FIRST") === "1"
    ? { workerFirst: true }
    : {};
  const text = stringValue(values, "threads") ?? "auto";
  if (text === "auto") {
    // Test and bench seam (docs/stats.md): `auto` sees this many idle cores, whatever the load.
    const idleSeam = Deno.env.get("SPILLWAY_TEST_IDLE_CORES");
    return {
      threads: autoCountThreads(availableParallelism()),
      threadsAuto: true,
      idleCores: idleSeam === undefined ? idleCoresSinceStart : () => Number(idleSeam),
      ...workerFirst,
    };
  }
  return {
    threads: integerValue(values, "threads", { min: 1, max: 2 }) ?? 1,
    threadsAuto: false,
    ...workerFirst,
  };
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
  const { values, positionals } = parseBySpec(countSpec, normalizeReportArgs(argv));
  const tokenizer = oneOf(
    values,
    "tokenizer",
    tokenizerKinds,
    flagValue(values, "lines") ? "line" : "words",
  );
  if (flagValue(values, "lines") && tokenizer !== "line") {
    throw new UsageError(`--lines counts whole lines; drop --tokenizer ${tokenizer} or --lines`);
  }
  const ignoreCase = flagValue(values, "ignore-case");
  const caseMode = oneOf<CaseMode>(
    values,
    "case",
    ["lower", "preserve"],
    ignoreCase || !preservesCaseByDefault(tokenizer) ? "lower" : "preserve",
  );
  if (ignoreCase && caseMode !== "lower") {
    throw new UsageError("--ignore-case means --case lower; drop --case preserve");
  }
  if (tokenizer === "flink" && caseMode === "preserve") {
    throw new UsageError(
      "The flink tokenizer always lower-cases (Flink's rule); drop --case=preserve",
    );
  }
  const outputs = stringList(values, "output");
  if (new Set(outputs).size > 1) {
    throw new UsageError(`Multiple output files specified: ${outputs.join(", ")}; give one -o`);
  }
  const sizeText = stringValue(values, "memory");
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
      : parseSize(sizeText, "-S/--memory size", KiB),
    segmentBytes: segmentText === undefined
      ? undefined
      : parseSize(segmentText, "--segment-size", 1),
    tmpDirs: stringList(values, "tmp-dir"),
    spillMode,
    leakDetection: leak,
    ...threadsValue(values),
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
  summary: countSpec.summary,
  get help(): string {
    return renderHelp(countSpec);
  },
  spec: countSpec,
  normalizeArgs: normalizeReportArgs,
  async run(argv: readonly string[], context?: CommandContext): Promise<number> {
    const { request, values } = parseCountArgs(argv);
    // The Worker's isolate loads its modules while the scope and the output are set up.
    const spawnedWorker = spawnEarlyCountWorker(request);
    try {
      await using scope = await CommandScope.open({
        ...request,
        lazyTmpDirs: true, // most counts never spill: no private temp dir until one does
        report: CommandReport.start("count", values),
      });
      await scope.report.checkTargets(request.output);
      const stats = await countWords(request, {
        memory: scope.memory,
        io: scope.io,
        progress: scope.report.progress,
        ...(spawnedWorker === undefined ? {} : { spawnedWorker }),
        mergeStall: {
          onMergeStall: (message: string) => warnMergeStall(message, context?.step),
          ...mergeStallSeam(),
        },
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
        sortRoute: stats.sortRoute === true,
        sortRouteFallback: stats.sortRouteFallback === true,
      };
      (report.stats as unknown as Record<string, unknown>)["count"] = countStats;
      await scope.finish(ExitCode.ok);
      if (report.options.statsFormat === "text" && report.options.statsFile === undefined) {
        console.error(countStatsLine(countStats));
      }
      return ExitCode.ok;
    } finally {
      // Unused if the count failed before it took it over (a no-op after the count ended it).
      spawnedWorker?.terminate();
    }
  },
};

/** The text report's `count:` line (the sort route has no table: its own figures only). */
function countStatsLine(
  stats: {
    tokens: number;
    distinctWords: number;
    invalidUtf8Bytes: number;
    wordRuns: number;
    longWordRuns: number;
    countOrderRuns: number;
    intermediateMerges: number;
    tableGrowths: number;
    bucketArenaSegments: number;
    bucketArenaPeakSegments: number;
    bucketArenaFragmentation: number;
    sortRoute: boolean;
    sortRouteFallback: boolean;
  },
): string {
  const counted = `  count: ${stats.tokens} tokens, ${stats.distinctWords} distinct`;
  if (stats.sortRoute) {
    return `${counted}; through the sort engine: ${stats.wordRuns} sorted runs, ${stats.intermediateMerges} intermediate merges`;
  }
  return `${counted}, ${stats.invalidUtf8Bytes} invalid UTF-8 bytes; runs ${stats.wordRuns} word + ${stats.longWordRuns} long-word + ${stats.countOrderRuns} count-order, ${stats.intermediateMerges} intermediate merges; buckets: ${stats.bucketArenaSegments} arena segments, peak ${stats.bucketArenaPeakSegments}, ${stats.tableGrowths} growths, fragmentation ${stats.bucketArenaFragmentation}${
    stats.sortRouteFallback
      ? "; the sort route gave up (a token too long for its half of the budget) and the table counted again"
      : ""
  }`;
}

// deno-lint-ignore-file no-console
import { KiB, MiB, parseByteSize, UsageError } from "../base/mod.ts";
import {
  type CaseMode,
  type CountFormat,
  countFormats,
  CountFormatter,
  CountWorkerClient,
  type TokenizerKind,
  tokenizerKinds,
  WordCounter,
  type WordCountStats,
} from "../count/mod.ts";
import { IoManager, OutputClosedError, type OutputSink, type SpillMode } from "../io/mod.ts";
import { type LeakDetectionLevel, leakDetectionLevels, MemoryManager } from "../memory/mod.ts";
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

/** Share of the counting pages that a Worker gets with `--threads 2`. */
const WORKER_SHARE = 0.5;
/** Fewest pages for either side of a split; smaller budgets count on one thread. */
const WORKER_PAGES_MIN = 48;

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
                         first; json and yaml print {"distinct": N, "total": N})
      --format=FORMAT    tsv (default), csv, json or yaml (see docs/count.md for escaping)
  -o, --output=FILE      write to FILE atomically (default standard output)

Resources:
  -S, --memory=SIZE      the memory budget (default 64 MiB): 64m, 1g, 512k; a bare number
                         means KiB like GNU sort
  -T, --tmp-dir=DIR      spill directory (repeatable; default $TMPDIR or /tmp)
      --segment-size=SIZE  page size of the budget (power of two, 4k to 16m; default 32k)
      --fan-in=N         most runs merged at once (default 64, lowered to what the budget
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

/** Everything `spillway count` was asked to do, after parsing. */
export interface CountRequest {
  /** Input paths (`-` is stdin). */
  inputs: string[];
  /** Output path, or undefined for stdout. */
  output: string | undefined;
  /** `--tokenizer`. */
  tokenizer: TokenizerKind;
  /** `--case`. */
  caseMode: CaseMode;
  /** `--order`. */
  order: "count" | "word";
  /** `--top`. */
  top: number | undefined;
  /** `--min-count`. */
  minCount: number;
  /** `--distinct`. */
  distinct: boolean;
  /** `--total`. */
  total: boolean;
  /** `--format`. */
  format: CountFormat;
  /** The budget in bytes. */
  budgetBytes: number;
  /** The page size, when given. */
  segmentBytes: number | undefined;
  /** Temp directories. */
  tmpDirs: string[];
  /** `--spill`. */
  spillMode: SpillMode;
  /** `--leak-detection`. */
  leakDetection: LeakDetectionLevel;
  /** `--threads`: 1, or 2 to count on a Worker too. */
  threads: number;
  /** `--fan-in`. */
  fanInMax: number;
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
): { request: CountRequest; values: ParsedValues } {
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
  const request: CountRequest = {
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
    fanInMax: integerValue(values, "fan-in", { min: 2, max: 4096 }) ?? 64,
  };
  if ((request.distinct || request.total) && request.top !== undefined) {
    throw new UsageError("--top cannot be combined with --distinct or --total; drop one");
  }
  return { request, values };
}

/**
 * Runs a parsed count request against an open memory manager and IoManager.
 *
 * @param request What to count and print.
 * @param resources The budget, the I/O manager and the report.
 * @returns The counter's stats.
 */
export async function countWords(
  request: CountRequest,
  resources: { memory: MemoryManager; io: IoManager; report: CommandReport },
): Promise<WordCountStats & { workerBytes: number }> {
  const { memory, io, report } = resources;
  const progress = report.progress;
  let output: OutputSink | undefined;
  let counter: WordCounter | undefined;
  let worker: CountWorkerClient | undefined;
  let workerBytes = 0;
  using eventLoop = new EventLoopYield();
  try {
    output = await io.createOutput(request.output, { owner: "count-output" });
    // Inputs are opened one at a time; leave room for one input chunk beside the table.
    const chunkSegments = Math.max(
      1,
      Math.min(Math.ceil(MiB / memory.segmentBytes), Math.floor(memory.totalPages / 8)),
    );
    // With --threads 2 a Worker counts part of the chunks with its own share of the budget;
    // it starts once 4 MiB were read, so small inputs do not pay for it.
    const spare = memory.freePages - chunkSegments - 4;
    let workerPages = 0;
    if (request.threads > 1) {
      const candidate = Math.floor((spare - 2 * chunkSegments) * WORKER_SHARE);
      if (
        candidate >= WORKER_PAGES_MIN && spare - 2 * chunkSegments - candidate >= WORKER_PAGES_MIN
      ) {
        workerPages = candidate;
      }
    }
    counter = new WordCounter(memory, io, {
      tokenizer: request.tokenizer,
      caseMode: request.caseMode,
      tablePages: workerPages > 0 ? spare - 2 * chunkSegments - workerPages : spare,
      fanInMax: request.fanInMax,
    });
    let inputBytes = 0;
    for (const path of request.inputs) {
      const reader = await io.openInput(path, { owner: "count-input", chunkSegments });
      try {
        progress.phase(
          reader.totalBytes === undefined
            ? { name: "count" }
            : { name: "count", totalBytes: reader.totalBytes },
        );
        let before = 0;
        for (;;) {
          const chunk = await reader.nextChunk();
          if (chunk === undefined) break;
          const large = reader.totalBytes !== undefined && reader.totalBytes >= 8 * MiB;
          if (
            workerPages > 0 && worker === undefined &&
            (large || inputBytes + reader.bytesRead > 4 * MiB)
          ) {
            worker = CountWorkerClient.start(memory, {
              budgetBytes: workerPages * memory.segmentBytes,
              segmentBytes: memory.segmentBytes,
              leakDetection: request.leakDetection,
              tokenizer: request.tokenizer,
              caseMode: request.caseMode,
              tmpDirs: request.tmpDirs,
              spillMode: io.spillMode,
              chunkBytes: chunkSegments * memory.segmentBytes,
            });
          }
          if (worker === undefined || !worker.offer(chunk)) {
            const pending = counter.addChunk(chunk);
            if (pending) await pending;
            // Let the event loop deliver the Worker's returned buffers (a buffered read may
            // resolve without a macrotask turn); a MessageChannel turn costs ~20 us where
            // setTimeout(0) costs ~2 ms.
            if (worker !== undefined) await eventLoop.next();
          }
          progress.advance(reader.bytesRead - before);
          before = reader.bytesRead;
        }
        inputBytes += reader.bytesRead;
      } finally {
        await reader.close();
      }
    }
    if (worker !== undefined) {
      const { runs, stats } = await worker.finish();
      counter.addForeignRuns(runs, stats);
      workerBytes = worker.bytesSent;
    }
    progress.phase({ name: "merge" });
    const sink = output;
    const formatter = new CountFormatter(sink, request.format);
    let distinct = 0;
    let total = 0;
    if (request.distinct || request.total) {
      await counter.finish({ order: "word", minCount: request.minCount }, (_b, _o, _n, count) => {
        distinct += 1;
        total += count;
        return undefined;
      });
      const bytes = new TextEncoder().encode(numbersText(request, distinct, total));
      const pending = sink.write(bytes, 0, bytes.length);
      if (pending) await pending;
    } else {
      const begun = formatter.begin();
      if (begun) await begun;
      const finishOptions = {
        order: request.order,
        minCount: request.minCount,
        ...(request.top === undefined ? {} : { top: request.top }),
      };
      await counter.finish(finishOptions, (bytes, offset, length, count) => {
        return formatter.word(bytes, offset, length, count);
      });
      const ended = formatter.end();
      if (ended) await ended;
    }
    progress.phase({ name: "write" });
    await counter.close();
    await worker?.close();
    await output.commit();
    const stats = counter.stats;
    const s = report.stats;
    s.input.files = request.inputs.length;
    s.input.bytes = inputBytes;
    s.input.records = stats.tokens;
    s.output.records = stats.distinctWords;
    s.spill.runs = stats.wordRuns + stats.countOrderRuns + stats.longWords;
    s.spill.mergePasses = stats.intermediateMerges + (s.spill.runs > 0 ? 1 : 0);
    return { ...stats, workerBytes };
  } catch (error) {
    await counter?.close().catch(() => {});
    await worker?.close().catch(() => {});
    await output?.abort().catch(() => {});
    throw error;
  }
}

/**
 * Yields one turn of the event loop (pending Worker messages are delivered first) through a
 * MessageChannel: ~20 us where setTimeout(0) costs ~2 ms. The channel is opened per count and
 * closed at its end: an open port keeps the process alive, and `unref()` exists only where
 * Node's compatibility layer happened to be loaded.
 */
class EventLoopYield implements Disposable {
  #channel = new MessageChannel();
  #waiters: Array<() => void> = [];

  constructor() {
    this.#channel.port1.onmessage = () => this.#waiters.shift()?.();
  }

  /** Resolves after one turn of the event loop. */
  next(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#waiters.push(resolve);
      this.#channel.port2.postMessage(0);
    });
  }

  [Symbol.dispose](): void {
    this.#channel.port1.close();
    this.#channel.port2.close();
    for (const waiter of this.#waiters.splice(0)) waiter();
  }
}

/** `spillway count`: word frequencies within a memory budget. */
export const countCommand: Command = {
  name: "count",
  summary: "count words (frequencies, distinct, top N) within a memory budget",
  help,
  async run(argv: readonly string[]): Promise<number> {
    const { request, values } = parseCountArgs(argv);
    using report = CommandReport.start("count", values);
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
    let stats: WordCountStats & { workerBytes: number };
    try {
      stats = await countWords(request, { memory, io, report });
    } catch (error) {
      // The reader of stdout went away (`spillway count | head`): end quietly, like `sort`.
      if (!(error instanceof OutputClosedError)) throw error;
      await io.close();
      memory.assertAllReleased();
      return 0;
    } finally {
      await io.close();
    }
    report.stats.output.bytes = io.stats.outputBytesWritten;
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
    await report.end({ memory, io: io.stats, spillMode: io.spillMode, exitCode: 0 });
    if (report.options.statsFormat === "text" && report.options.statsFile === undefined) {
      console.error(
        `  count: ${stats.tokens} tokens, ${stats.distinctWords} distinct, ${stats.invalidUtf8Bytes} invalid UTF-8 bytes; runs ${stats.wordRuns} word + ${stats.longWords} long-word + ${stats.countOrderRuns} count-order, ${stats.intermediateMerges} intermediate merges; buckets: ${countStats.bucketArenaSegments} arena segments, peak ${countStats.bucketArenaPeakSegments}, ${stats.tableGrowths} growths, fragmentation ${countStats.bucketArenaFragmentation}`,
      );
    }
    memory.assertAllReleased();
    return 0;
  },
};

/**
 * The output of `--distinct`/`--total`: one number a line (tsv, csv), or one object with the
 * numbers asked for (json, yaml), so that every json or yaml output parses.
 */
function numbersText(request: CountRequest, distinct: number, total: number): string {
  const numbers: Array<[string, number]> = [
    ...(request.distinct ? [["distinct", distinct] as [string, number]] : []),
    ...(request.total ? [["total", total] as [string, number]] : []),
  ];
  if (request.format === "json") {
    return `{${numbers.map(([name, value]) => `"${name}": ${value}`).join(", ")}}\n`;
  }
  if (request.format === "yaml") {
    return numbers.map(([name, value]) => `${name}: ${value}\n`).join("");
  }
  return numbers.map(([, value]) => `${value}\n`).join("");
}

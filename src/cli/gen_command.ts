import { COMMAND_SUMMARIES } from "./command_summaries.ts";
import { ExitCode, MiB, parseByteSize, UsageError } from "../base/mod.ts";
import {
  type CorpusKind,
  generateCorpus,
  LINE_BYTES_MAX,
  LINE_BYTES_MIN,
  parseCorpusKind,
  RECORD_BYTES,
  TEXT_WORDS_MAX,
  VOCABULARY_WORDS,
} from "../gen/mod.ts";
import { type IoManager, OutputClosedError, type OutputSink } from "../io/mod.ts";
import { CommandScope } from "../job/mod.ts";
import type { MemoryManager } from "../memory/mod.ts";
import type { Command } from "./command.ts";
import { memoryOption, outputOption, reportOptions, segmentSizeOption } from "./common_options.ts";
import { type CommandSpec, informationOptions, parseBySpec, renderHelp } from "./option_spec.ts";
import { type ParsedValues, stringValue } from "./parse_args.ts";
import { CommandReport, normalizeReportArgs } from "./stats_report.ts";

const SIZE_DEFAULT_BYTES = MiB;
const MEMORY_DEFAULT_BYTES = 16 * MiB;

/** `spillway gen`'s command line as data (see option_spec.ts). */
export const genSpec: CommandSpec = {
  name: "gen",
  summary: COMMAND_SUMMARIES.gen,
  usage: ["spillway gen KIND [--size SIZE] [--seed N] [-o FILE]", "spillway gen --kind KIND ..."],
  description:
    `Writes a deterministic test corpus: the same KIND, SIZE and seed give the same bytes on every
machine. KIND is one of:

  text      lines of 1 to ${TEXT_WORDS_MAX} words drawn from a Zipf distribution (exponent 1) over
            ${VOCABULARY_WORDS} pseudo-words built from syllables with the seed (short words are the
            frequent ones); a line's first word is capitalized half the time, other words 1 in
            64 (1 in 1024 in capitals), 1 in 32 words is followed by a comma and 7 lines in 8
            end with '.', '?' or '!'. (aliases: zipf, words)
  lines     lines of ${LINE_BYTES_MIN} to ${LINE_BYTES_MAX} random printable ASCII bytes (space to '~'), practically
            all distinct. (alias: unique)
  records   ${RECORD_BYTES}-byte binary records in the style of gensort (no newlines): bytes 0-9 a
            random key, 10-11 0x00 0x11, 12-43 the row number as 32 hex digits, 44-47
            0x88 0x99 0xAA 0xBB, 48-95 filler (12 groups of 4 equal hex digits), 96-99
            0xCC 0xDD 0xEE 0xFF. Sort them with --record-size 100 --key-bytes 10.
            (alias: gensort)`,
  groups: [
    {
      title: "Options",
      options: [
        {
          name: "kind",
          type: "value",
          valueName: "KIND",
          choices: ["text", "lines", "records"],
          help: "the kind, instead of the first operand",
        },
        {
          name: "size",
          type: "value",
          valueName: "SIZE",
          help:
            "target size (default 1m; e.g. 100m, 1g, 12345): text and lines stop at the first line end at or past SIZE (so the output is SIZE plus less than one line); records write ceil(SIZE / 100) records. A bare number means bytes.",
        },
        {
          name: "seed",
          type: "value",
          valueName: "N",
          help: "the seed, a whole number (default 1)",
        },
        {
          ...outputOption,
          help:
            "write to FILE (atomically: a temporary file renamed when complete); default standard output",
        },
        {
          ...memoryOption,
          help:
            "memory budget (default 16 MiB; the text vocabulary takes 2.5 MiB); a bare number means KiB",
        },
        segmentSizeOption,
      ],
    },
    reportOptions,
    informationOptions(true),
  ],
  footer: `Examples:
  spillway gen text --size 1g -o corpus.txt
  spillway gen records --size 100m --seed 7 -o records.bin

Exit codes: 0 ok (also when the reader of standard output goes away early); 2 usage error;
3 resource error (budget too small, disk full).`,
  operands: "none",
};

/** What `spillway gen` was asked to do. */
export interface GenRequest {
  /** The corpus kind. */
  kind: CorpusKind;
  /** Target size in bytes. */
  sizeBytes: number;
  /** The seed. */
  seed: number;
  /** Output path, or undefined for stdout. */
  output: string | undefined;
  /** Memory budget in bytes. */
  budgetBytes: number;
  /** Page size in bytes, or undefined for the default. */
  segmentBytes: number | undefined;
}

/**
 * Parses `spillway gen` arguments.
 *
 * @param values Parsed option values.
 * @param positionals Operands.
 * @returns The request.
 * @throws {UsageError} On a missing or unknown kind, a bad size or seed.
 */
export function parseGenRequest(
  values: ParsedValues,
  positionals: readonly string[],
): GenRequest {
  const kindOption = stringValue(values, "kind");
  if (kindOption !== undefined && positionals.length > 0) {
    throw new UsageError(
      `Give the kind once: --kind=${kindOption} and operand "${
        positionals[0]
      }"; see 'spillway gen --help'`,
    );
  }
  if (positionals.length > 1) {
    throw new UsageError(
      `Expected one kind, got ${positionals.length} operands (${
        positionals.join(" ")
      }); see 'spillway gen --help'`,
    );
  }
  const kindText = kindOption ?? positionals[0];
  if (kindText === undefined) {
    throw new UsageError(
      "Missing corpus kind: use text, lines or records (e.g. spillway gen text --size 1g)",
    );
  }
  const kind = parseCorpusKind(kindText);
  const size = (name: string, bareUnitBytes: number, fallback: number): number => {
    const text = stringValue(values, name);
    if (text === undefined) return fallback;
    try {
      return parseByteSize(text, { bareUnitBytes, what: `--${name}` });
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  };
  const seedText = stringValue(values, "seed");
  let seed = 1;
  if (seedText !== undefined) {
    seed = Number(seedText);
    if (!/^\s*\d+\s*$/.test(seedText) || !Number.isSafeInteger(seed)) {
      throw new UsageError(
        `Invalid --seed "${seedText}": expected a whole number from 0 to ${Number.MAX_SAFE_INTEGER}`,
      );
    }
  }
  const segmentText = stringValue(values, "segment-size");
  return {
    kind,
    sizeBytes: size("size", 1, SIZE_DEFAULT_BYTES),
    seed,
    output: stringValue(values, "output"),
    budgetBytes: size("memory", 1024, MEMORY_DEFAULT_BYTES),
    segmentBytes: segmentText === undefined ? undefined : size("segment-size", 1, 0),
  };
}

/** `spillway gen`: deterministic test corpora (Zipf text, unique lines, gensort records). */
export const genCommand: Command = {
  name: "gen",
  summary: genSpec.summary,
  get help(): string {
    return renderHelp(genSpec);
  },
  spec: genSpec,
  normalizeArgs: normalizeReportArgs,
  async run(argv: readonly string[]): Promise<number> {
    const { values, positionals } = parseBySpec(genSpec, normalizeReportArgs(argv));
    const request = parseGenRequest(values, positionals);
    await using scope = await CommandScope.open({
      budgetBytes: request.budgetBytes,
      segmentBytes: request.segmentBytes,
      report: CommandReport.start("gen", values),
    });
    await scope.report.checkTargets(request.output);
    let written = { bytes: 0, records: 0 };
    try {
      written = await generateTo(scope.io, scope.memory, request, scope.report);
    } catch (error) {
      // The reader of standard output went away: the corpus so far stands, like `head`.
      if (!(error instanceof OutputClosedError)) throw error;
    }
    const stats = scope.report.stats;
    stats.output.bytes = written.bytes;
    stats.output.records = written.records;
    return await scope.finish(ExitCode.ok);
  },
};

async function generateTo(
  io: IoManager,
  memory: MemoryManager,
  request: GenRequest,
  report: CommandReport,
): Promise<{ bytes: number; records: number }> {
  const sink: OutputSink = await io.createOutput(request.output, { owner: "gen-output" });
  const progress = report.progress;
  progress.phase({ name: "write", totalBytes: request.sizeBytes });
  try {
    const result = await generateCorpus(memory, sink, {
      kind: request.kind,
      sizeBytes: request.sizeBytes,
      seed: request.seed,
      progress,
    });
    await sink.commit();
    return { bytes: result.bytes, records: result.units };
  } catch (error) {
    await sink.abort();
    throw error;
  }
}

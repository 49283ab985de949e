import { KiB, MiB, ResourceError, UsageError } from "../base/mod.ts";
import { fileDescriptorsFree, type SpillMode } from "../io/mod.ts";
import { type LeakDetectionLevel, leakDetectionLevels } from "../memory/mod.ts";
import {
  defaultSortSegmentBytes,
  FAN_IN_DEFAULT,
  MERGE_INPUTS_MAX,
  type OrderDescriptor,
  orderFromDescriptor,
  parseFieldSeparator,
  type SortOrderSpec,
} from "../sort/mod.ts";
import {
  addRandomSalt,
  type GnuArgs,
  type LongOption,
  matchChoice,
  normalizeGnuArgs,
  type ObsoleteKey,
  parseBatchSize,
  readFileList,
} from "./_gnu_sort_args.ts";
import { optionsOf, parseBySpec } from "./option_spec.ts";
import {
  flagValue,
  integerValue,
  type ParsedValues,
  parseSize,
  stringList,
  stringValue,
} from "./parse_args.ts";
import { sortSpec } from "./sort_spec.ts";
import { normalizeReportArgs } from "./stats_report.ts";

/** Default budget of `spillway sort` without `-S`. */
export const SORT_MEMORY_DEFAULT_BYTES = 64 * MiB;

/** Everything `spillway sort` was asked to do, after parsing. */
export interface SortRequest {
  /** Input paths (`-` is stdin). */
  inputs: string[];
  /** Output path, or undefined for stdout. */
  output: string | undefined;
  /** The ordering as plain data. */
  descriptor: OrderDescriptor;
  /** `-u`. */
  unique: boolean;
  /** `-c` (diagnose) or `-C` (quiet), or undefined. */
  check: "diagnose" | "quiet" | undefined;
  /** `-m`. */
  merge: boolean;
  /** 10 or 0 (`-z`). */
  terminator: number;
  /** The budget in bytes. */
  budgetBytes: number;
  /** The budget asked for (below the minimum, `budgetBytes` was raised). */
  budgetRequestedBytes: number;
  /** `--parallel=1`, or too few file descriptors for a Worker: sort on the main thread. */
  singleThread: boolean;
  /** `--debug`: GNU's key annotations on stdout and warnings on stderr. */
  debug: boolean;
  /** Keys given as `+POS1 [-POS2]`, by key index (for the `--debug` warning). */
  obsoleteKeys: Map<number, ObsoleteKey>;
  /** The page size (given, or the sort plan's default). */
  segmentBytes: number;
  /** Temp directories. */
  tmpDirs: string[];
  /** `--fan-in`. */
  fanInMax: number;
  /** `--spill`. */
  spillMode: SpillMode;
  /** `--leak-detection`. */
  leakDetection: LeakDetectionLevel;
  /** `--record-size`. */
  recordBytes: number | undefined;
  /** `--compress-program` (the last one given, as GNU sort takes it). */
  compressProgram: string | undefined;
}

/**
 * The least budget a sort runs in: 64 KiB or 16 pages. GNU sort takes a tiny `-S` (`-S1`) as
 * "as little as possible"; spillway raises it to this (`memory.budgetRequestedBytes` in
 * --stats keeps what was asked).
 *
 * @param segmentBytes The page size.
 * @returns The minimum budget in bytes.
 */
export function sortMemoryMinBytes(segmentBytes: number): number {
  return Math.max(64 * KiB, 16 * segmentBytes);
}

/**
 * Descriptors a merge needs beside its inputs: the output or run being written, and what the
 * runtime opens after the count (signal listeners, the output stream); measured.
 */
const DESCRIPTORS_RESERVED = 5;
/** Descriptors a sort Worker takes (its event loop and module loading; measured 4 to 8). */
const WORKER_DESCRIPTORS = 8;

/**
 * Fits the fan-in and the Worker to `ulimit -n`, as GNU sort merges fewer files at once when
 * it runs out of descriptors: without room for a Worker the sort runs on the main thread; with
 * too few descriptors for a 2-way merge, a clear error.
 *
 * With `--compress-program` a spill file read or written takes 3 descriptors (the file and
 * the two pipes of `PROG [-d]`), so the merge opens a third as many at once.
 *
 * @throws {ResourceError} When fewer than 2 inputs could be open at once.
 */
function fitToDescriptors(
  fanInMax: number,
  compressed: boolean,
): { fanInMax: number; workerAllowed: boolean } {
  const free = fileDescriptorsFree();
  if (free === undefined) return { fanInMax, workerAllowed: true };
  const perInput = compressed ? 3 : 1;
  const reserved = DESCRIPTORS_RESERVED + (compressed ? 2 : 0);
  const workerAllowed = free - reserved - WORKER_DESCRIPTORS >= 2 * perInput;
  const usable = Math.floor(
    (free - reserved - (workerAllowed ? WORKER_DESCRIPTORS : 0)) / perInput,
  );
  if (usable < 2) {
    throw new ResourceError(
      `Cannot merge with ${free} free file descriptors: a 2-way merge needs ${
        2 * perInput + reserved
      }; raise ulimit -n`,
    );
  }
  return { fanInMax: Math.min(fanInMax, usable), workerAllowed };
}

/** GNU sort's long options (they win an abbreviation that also fits one of spillway's). */
const GNU_LONG = new Set([
  "ignore-leading-blanks",
  "check",
  "compress-program",
  "debug",
  "dictionary-order",
  "ignore-case",
  "files0-from",
  "general-numeric-sort",
  "ignore-nonprinting",
  "key",
  "merge",
  "month-sort",
  "numeric-sort",
  "human-numeric-sort",
  "version-sort",
  "random-sort",
  "random-source",
  "sort",
  "output",
  "reverse",
  "stable",
  "batch-size",
  "buffer-size",
  "field-separator",
  "temporary-directory",
  "unique",
  "zero-terminated",
  "parallel",
  "help",
  "version",
]);

/** `--sort=WORD` values and the flag each one sets. */
const sortWords: Record<string, string> = {
  "general-numeric": "general-numeric-sort",
  "human-numeric": "human-numeric-sort",
  month: "month-sort",
  numeric: "numeric-sort",
  random: "random-sort",
  version: "version-sort",
};

/** The ordering flags that `--record-size` rejects. */
const orderingFlags = [
  "numeric-sort",
  "general-numeric-sort",
  "human-numeric-sort",
  "month-sort",
  "version-sort",
  "random-sort",
  "dictionary-order",
  "ignore-nonprinting",
];

/**
 * Long options with their value kind, for GNU's prefix abbreviations (from the spec, with
 * `--help` and `--version`: an exact name wins, so `--version` is never `--version-sort`, and
 * `--vers` is ambiguous, as in GNU sort).
 */
const longOptions: LongOption[] = [
  ...optionsOf(sortSpec).flatMap((decl) =>
    [decl.name, ...(decl.aliases ?? [])].map((name) => ({ name, type: decl.type }))
  ),
  ...(sortSpec.unsupported ?? []),
].filter((option) => option.name.length > 1)
  .map((option) => ({
    name: option.name,
    takesValue: option.type === "value",
    gnu: GNU_LONG.has(option.name),
  }));

/**
 * Rewrites GNU's conventions (long-option prefixes, `+POS` keys), the optional-value
 * `--check` and a bare `--stats` to what parseArgs accepts.
 *
 * @param argv The arguments after `sort`.
 * @returns The arguments as the spec's parser takes them, and the obsolete keys.
 * @throws {UsageError} On an ambiguous prefix.
 */
export function normalizeSortArgs(argv: readonly string[]): GnuArgs {
  const result: string[] = [];
  let ended = false;
  const gnuArgs = normalizeGnuArgs(normalizeReportArgs(argv), longOptions, "kotST");
  for (const arg of gnuArgs.args) {
    if (arg === "--") ended = true;
    result.push(!ended && arg === "--check" ? "--check=diagnose-first" : arg);
  }
  return { args: result, obsolete: gnuArgs.obsolete };
}

/**
 * Parses `spillway sort` arguments into a request.
 *
 * @param argv The arguments after `sort`.
 * @returns The request and the parsed values (for the report options).
 * @throws {UsageError} On anything wrong or unsupported.
 */
export function parseSortArgs(
  argv: readonly string[],
): { request: SortRequest; values: ParsedValues } {
  const normalized = normalizeSortArgs(argv);
  const { values, positionals } = parseBySpec(sortSpec, normalized.args);
  rejectUnsupported(values);
  const check = checkMode(values);
  const merge = flagValue(values, "merge");
  if (check !== undefined && merge) {
    throw new UsageError("Options -c/-C and -m are incompatible; use one of them");
  }
  const inputs = sortInputs(values, positionals, check);
  const output = sortOutput(values, check);
  const debug = debugFlag(values, check, output);
  for (const word of stringList(values, "sort")) {
    const flag = sortWords[matchChoice("--sort", word, Object.keys(sortWords))]!;
    values[flag] = true;
  }
  const separators = stringList(values, "field-separator");
  if (new Set(separators).size > 1) {
    throw new UsageError(`Incompatible field separators -t: ${separators.join(", ")}; give one`);
  }
  const budget = sortBudget(values);
  const batchText = stringValue(values, "batch-size");
  const program = compressProgram(values);
  const { fanInMax, workerAllowed } = fitToDescriptors(
    batchText !== undefined
      ? parseBatchSize(batchText, MERGE_INPUTS_MAX)
      : integerValue(values, "fan-in", { min: 2, max: MERGE_INPUTS_MAX }) ?? FAN_IN_DEFAULT,
    program !== undefined,
  );
  const parallelText = parallelValue(values);
  const spill = spillValue(values);
  const leak = leakDetectionValue(values);
  const unique = flagValue(values, "unique");
  const recordBytes = integerValue(values, "record-size", { min: 1, max: 16 * MiB });
  const descriptor = orderDescriptor(values, recordBytes, separators);

  const request: SortRequest = {
    inputs,
    output,
    descriptor,
    unique,
    check,
    merge,
    terminator: flagValue(values, "zero-terminated") ? 0 : 10,
    ...budget,
    singleThread: parallelText === "1" || !workerAllowed,
    debug: debug && recordBytes === undefined,
    obsoleteKeys: normalized.obsolete,
    tmpDirs: stringList(values, "tmp-dir"),
    fanInMax,
    spillMode: spill,
    leakDetection: leak,
    recordBytes,
    compressProgram: program,
  };
  return { request, values };
}

/** The input files: `--files0-from`'s list, the operands, or standard input. */
function sortInputs(
  values: ParsedValues,
  positionals: string[],
  check: SortRequest["check"],
): string[] {
  const listPath = stringValue(values, "files0-from");
  const inputs = listPath !== undefined
    ? readFileList(listPath, positionals)
    : positionals.length > 0
    ? positionals
    : ["-"];
  if (check !== undefined && inputs.length > 1) {
    throw new UsageError(
      `Extra operand "${inputs[1]}" not allowed with -c/-C; check one file at a time`,
    );
  }
  return inputs;
}

/** The `-o` file (one, however often given; none with -c/-C), or undefined: standard output. */
function sortOutput(values: ParsedValues, check: SortRequest["check"]): string | undefined {
  const outputs = stringList(values, "output");
  if (new Set(outputs).size > 1) {
    throw new UsageError(`Multiple output files specified: ${outputs.join(", ")}; give one -o`);
  }
  if (check !== undefined && outputs.length > 0) {
    throw new UsageError(`Options '-${check === "diagnose" ? "c" : "C"}o' are incompatible`);
  }
  return outputs[0];
}

/** `--debug`, which neither -c/-C nor -o go with. */
function debugFlag(
  values: ParsedValues,
  check: SortRequest["check"],
  output: string | undefined,
): boolean {
  const debug = flagValue(values, "debug");
  if (debug && (check !== undefined || output !== undefined)) {
    const letter = check === "diagnose" ? "c" : check === "quiet" ? "C" : "o";
    throw new UsageError(`Options '-${letter} --debug' are incompatible`);
  }
  return debug;
}

/** The budget asked for (`-S`, a bare number in KiB), its page size, and the budget used. */
function sortBudget(
  values: ParsedValues,
): { budgetBytes: number; budgetRequestedBytes: number; segmentBytes: number } {
  const sizeText = stringValue(values, "memory");
  const budgetRequestedBytes = sizeText === undefined
    ? SORT_MEMORY_DEFAULT_BYTES
    : parseSize(sizeText, "-S/--memory size", KiB);
  const segmentText = stringValue(values, "segment-size");
  const segmentBytes = segmentText === undefined
    ? defaultSortSegmentBytes(budgetRequestedBytes)
    : parseSize(segmentText, "--segment-size", 1);
  const budgetBytes = Math.max(budgetRequestedBytes, sortMemoryMinBytes(segmentBytes));
  return { budgetBytes, budgetRequestedBytes, segmentBytes };
}

/** `--parallel`'s text (a whole number from 1), or undefined. */
function parallelValue(values: ParsedValues): string | undefined {
  const parallelText = stringValue(values, "parallel");
  if (parallelText !== undefined && !/^[1-9][0-9]*$/.test(parallelText)) {
    throw new UsageError(`Invalid --parallel "${parallelText}": expected a whole number from 1`);
  }
  return parallelText;
}

/** `--spill` (default auto). */
function spillValue(values: ParsedValues): SpillMode {
  const spill = stringValue(values, "spill") ?? "auto";
  if (spill !== "file" && spill !== "mmap" && spill !== "auto") {
    throw new UsageError(`Invalid --spill "${spill}": use file, mmap or auto`);
  }
  return spill;
}

/** `--leak-detection` (default simple). */
function leakDetectionValue(values: ParsedValues): LeakDetectionLevel {
  const leak = stringValue(values, "leak-detection") ?? "simple";
  if (!(leakDetectionLevels as readonly string[]).includes(leak)) {
    throw new UsageError(
      `Invalid --leak-detection "${leak}": use ${leakDetectionLevels.join(", ")}`,
    );
  }
  return leak as LeakDetectionLevel;
}

/** The ordering the options ask for: fixed-size record keys, or GNU keys and flags. */
function orderDescriptor(
  values: ParsedValues,
  recordBytes: number | undefined,
  separators: readonly string[],
): OrderDescriptor {
  const unique = flagValue(values, "unique");
  const reverse = flagValue(values, "reverse");
  if (recordBytes !== undefined) {
    const keyOffset = integerValue(values, "key-offset", { min: 0, max: recordBytes - 1 }) ?? 0;
    const keyBytes = integerValue(values, "key-bytes", { min: 1, max: recordBytes - keyOffset }) ??
      recordBytes - keyOffset;
    const keyed = [
      "key",
      "field-separator",
      "ignore-case",
      "ignore-leading-blanks",
      ...orderingFlags,
    ]
      .filter((name) => values[name] !== undefined && values[name] !== false);
    if (keyed.length > 0 || reverse || unique || flagValue(values, "zero-terminated")) {
      throw new UsageError(
        "--record-size sorts binary records by --key-offset/--key-bytes only; drop -k, -t, -n, -f, -b, -r, -u and -z",
      );
    }
    return { kind: "fixed", keyOffset, keyBytes };
  } else {
    if (values["key-offset"] !== undefined || values["key-bytes"] !== undefined) {
      throw new UsageError("--key-offset and --key-bytes need --record-size N");
    }
    const spec: SortOrderSpec = {
      keys: stringList(values, "key"),
      reverse,
      numeric: flagValue(values, "numeric-sort"),
      foldCase: flagValue(values, "ignore-case"),
      ignoreLeadingBlanks: flagValue(values, "ignore-leading-blanks"),
      stable: flagValue(values, "stable"),
      unique,
      generalNumeric: flagValue(values, "general-numeric-sort"),
      humanNumeric: flagValue(values, "human-numeric-sort"),
      month: flagValue(values, "month-sort"),
      version: flagValue(values, "version-sort"),
      random: flagValue(values, "random-sort"),
      dictionary: flagValue(values, "dictionary-order"),
      ignoreNonprinting: flagValue(values, "ignore-nonprinting"),
    };
    if (separators.length > 0) spec.fieldSeparator = parseFieldSeparator(separators[0]!);
    const randomSources = stringList(values, "random-source");
    if (new Set(randomSources).size > 1) {
      throw new UsageError(`Multiple random sources specified: ${randomSources.join(", ")}`);
    }
    // Parse now so a bad KEYDEF is a usage error before anything is opened.
    orderFromDescriptor({ kind: "spec", spec: { ...spec, randomSalt: new Array(16).fill(0) } });
    addRandomSalt(spec, randomSources[0]);
    return { kind: "spec", spec };
  }
}

/** `--compress-program=PROG`: GNU sort refuses two different programs, and so do we. */
function compressProgram(values: ParsedValues): string | undefined {
  const programs = stringList(values, "compress-program");
  if (new Set(programs).size > 1) {
    throw new UsageError(`Multiple compress programs specified: ${programs.join(", ")}`);
  }
  const program = programs[0];
  if (program === "") throw new UsageError("Empty --compress-program; name a program such as gzip");
  return program;
}

/** Fails on a GNU option spillway does not support, naming it. */
function rejectUnsupported(values: ParsedValues): void {
  for (const option of sortSpec.unsupported ?? []) {
    if (values[option.name] === undefined) continue;
    const label = `${
      option.short === undefined ? `--${option.name}` : `-${option.short} (--${option.name})`
    }${option.reason === undefined ? "" : ` (${option.reason})`}`;
    throw new UsageError(
      `spillway sort does not support ${label}; see 'spillway sort --help' for the supported options`,
    );
  }
}

/** `-c`, `-C` or `--check[=diagnose-first|quiet|silent]` (GNU's value prefixes too). */
function checkMode(values: ParsedValues): "diagnose" | "quiet" | undefined {
  const checkModes = new Set<string>();
  if (flagValue(values, "c")) checkModes.add("c");
  if (flagValue(values, "C")) checkModes.add("C");
  const checkText = stringValue(values, "check");
  if (checkText !== undefined) {
    const mode = matchChoice("--check", checkText, ["quiet", "silent", "diagnose-first"]);
    checkModes.add(mode === "diagnose-first" ? "c" : "C");
  }
  if (checkModes.size > 1) throw new UsageError("Options '-cC' are incompatible");
  if (checkModes.has("c")) return "diagnose";
  if (checkModes.has("C")) return "quiet";
  return undefined;
}

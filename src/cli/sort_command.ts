import { ExitCode, KiB, MiB, parseByteSize, UsageError } from "../base/mod.ts";
import { IoManager, type SpillMode } from "../io/mod.ts";
import { type LeakDetectionLevel, leakDetectionLevels, MemoryManager } from "../memory/mod.ts";
import {
  checkSorted,
  externalSort,
  FAN_IN_DEFAULT,
  type OrderDescriptor,
  orderFromDescriptor,
  parseFieldSeparator,
  type SortOrderSpec,
} from "../sort/mod.ts";
import type { Command } from "./command.ts";
import { addRandomSalt, type LongOption, matchChoice, normalizeGnuArgs } from "./_gnu_sort_args.ts";
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

/** Default budget of `spillway sort` without `-S`. */
export const SORT_MEMORY_DEFAULT_BYTES = 64 * MiB;

const help = `Usage: spillway sort [OPTION]... [FILE]...

Sorts lines (or fixed-size binary records) of the FILEs, or standard input, to standard
output, in byte order exactly like 'LC_ALL=C sort' whatever the locale, inside a fixed memory
budget: full buffers are sorted and spilled as runs to temp files, then merged.

Ordering (GNU sort compatible, C locale):
  -b, --ignore-leading-blanks  ignore leading blanks in keys
  -d, --dictionary-order       consider only blanks, letters and digits
  -f, --ignore-case            fold lower case to upper case
  -g, --general-numeric-sort   compare as floating-point numbers (1e3, 0x1p4, inf, nan)
  -h, --human-numeric-sort     compare human-readable numbers (2K, 1G; suffixes K..Y, R, Q)
  -i, --ignore-nonprinting     consider only printable characters
  -M, --month-sort             compare month names: (unknown) < JAN < ... < DEC
  -n, --numeric-sort           compare by leading numeric value
  -R, --random-sort            shuffle, but keep equal keys together
      --random-source=FILE     take the -R salt from the first 16 bytes of FILE (as GNU does)
  -r, --reverse                reverse the result of comparisons
      --sort=WORD              general-numeric -g, human-numeric -h, month -M, numeric -n,
                               random -R, version -V
  -V, --version-sort           natural sort of version numbers within text
  -k, --key=KEYDEF             sort by a key (repeatable); KEYDEF is F[.C][OPTS][,F[.C][OPTS]]
                               with OPTS from b, d, f, g, h, i, M, n, R, r, V; the obsolete
                               +POS1 [-POS2] form is accepted too
  -t, --field-separator=SEP    use the byte SEP instead of blank-to-nonblank transitions
  -s, --stable                 no last-resort comparison of whole lines
  -u, --unique                 output only the first of lines with equal keys (with -c: strict)

Other:
  -c, --check[=diagnose-first] check that the input is sorted; exit 1 at the first disorder
  -C, --check=quiet|silent     like -c but print nothing
  -m, --merge                  merge already sorted files; do not sort
  -o, --output=FILE            write to FILE (may be an input; written atomically)
  -z, --zero-terminated        lines end with NUL, not newline
  -S, --buffer-size, --memory=SIZE
                               the memory budget (default 64 MiB): 64m, 1g, 512k; a bare
                               number means KiB like GNU sort (GNU's 50% form is not supported)
  -T, --temporary-directory, --tmp-dir=DIR
                               spill directory (repeatable: used round-robin; default $TMPDIR
                               or /tmp)
      --parallel=N             accepted for GNU compatibility and ignored (spillway sorts
                               full buffers on one Worker while reading)
      --segment-size=SIZE      page size of the budget (power of two, 4k to 16m; default
                               budget/512 within 4k..128k: 128k for 64m)
      --fan-in=N               most runs merged at once (default 128, lowered to what the
                               budget allows; 2 or more)
      --spill=file|mmap|auto   how spill files are written and read (default auto)
      --leak-detection=LEVEL   disabled, simple (default), advanced or paranoid

Fixed-size binary records (e.g. gensort's 100-byte records with 10-byte keys):
      --record-size=N          records are N bytes, not lines
      --key-offset=O           the key starts at byte O of the record (default 0)
      --key-bytes=K            the key is K bytes (default: the rest of the record); records
                               with equal keys keep their input order

Report:
${reportOptionsHelp}

Long options may be abbreviated to any unambiguous prefix (--rev, --p=2), as in GNU sort.

Not supported (a clear error, never silently ignored): --compress-program, --debug (GNU's key
annotations; spillway's stack traces are the global --trace).

Exit codes: 0 ok; 1 -c/-C found disorder; 2 usage or input error; 3 resource error.`;

const optionSpecs = {
  "ignore-leading-blanks": { type: "boolean", short: "b" },
  "ignore-case": { type: "boolean", short: "f" },
  "numeric-sort": { type: "boolean", short: "n" },
  reverse: { type: "boolean", short: "r" },
  key: { type: "string", short: "k", multiple: true },
  "field-separator": { type: "string", short: "t", multiple: true },
  stable: { type: "boolean", short: "s" },
  unique: { type: "boolean", short: "u" },
  check: { type: "string" },
  c: { type: "boolean", short: "c" },
  C: { type: "boolean", short: "C" },
  merge: { type: "boolean", short: "m" },
  output: { type: "string", short: "o", multiple: true },
  "zero-terminated": { type: "boolean", short: "z" },
  "buffer-size": { type: "string", short: "S", multiple: true },
  memory: { type: "string", multiple: true },
  "temporary-directory": { type: "string", short: "T", multiple: true },
  "tmp-dir": { type: "string", multiple: true },
  parallel: { type: "string" },
  "segment-size": { type: "string" },
  "fan-in": { type: "string" },
  spill: { type: "string" },
  "leak-detection": { type: "string" },
  "record-size": { type: "string" },
  "key-offset": { type: "string" },
  "key-bytes": { type: "string" },
  ...reportOptionSpecs,
  "general-numeric-sort": { type: "boolean", short: "g" },
  "human-numeric-sort": { type: "boolean", short: "h" },
  "month-sort": { type: "boolean", short: "M" },
  "random-sort": { type: "boolean", short: "R" },
  "version-sort": { type: "boolean", short: "V" },
  "dictionary-order": { type: "boolean", short: "d" },
  "ignore-nonprinting": { type: "boolean", short: "i" },
  "random-source": { type: "string", multiple: true },
  sort: { type: "string", multiple: true },
  "files0-from": { type: "string" },
  "batch-size": { type: "string" },
  // GNU options spillway does not support: parsed so that they fail with a clear message.
  "compress-program": { type: "string" },
  debug: { type: "boolean" },
} as const;

const unsupported: ReadonlyArray<[string, string]> = [
  ["compress-program", "--compress-program"],
  ["debug", "--debug (GNU's key annotations; spillway's stack traces are --trace)"],
];

/** `--sort=WORD` values and the flag each one sets. */
const sortWords: Record<string, string> = {
  "general-numeric": "general-numeric-sort",
  "human-numeric": "human-numeric-sort",
  month: "month-sort",
  numeric: "numeric-sort",
  random: "random-sort",
  version: "version-sort",
};

/** Long options with their value kind, for GNU's prefix abbreviations. */
const longOptions: LongOption[] = [
  ...Object.entries(optionSpecs)
    .filter(([name]) => name.length > 1)
    .map(([name, spec]) => ({ name, takesValue: spec.type === "string" })),
  { name: "help", takesValue: false },
];

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
  /** The page size (given, or {@linkcode defaultSegmentBytes}). */
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
}

/**
 * The page size of a sort without `--segment-size`: budget / 512, as a power of two from 4 KiB
 * to 128 KiB. 64 MiB gives 128 KiB pages: larger I/O blocks and less per-block work than 32 KiB
 * (measured 10-20% faster on 1 GiB), while 512 pages still allow a merge fan-in above 128 (a
 * reader needs 3 pages; 256 KiB pages forced a second merge pass on 1 GiB).
 *
 * @param budgetBytes The budget.
 * @returns The page size in bytes.
 */
export function defaultSegmentBytes(budgetBytes: number): number {
  let bytes = 4 * KiB;
  while (bytes * 2 <= 128 * KiB && bytes * 2 * 512 <= budgetBytes) bytes *= 2;
  return bytes;
}

function lastString(values: ParsedValues, name: string): string | undefined {
  return stringValue(values, name);
}

function byteSize(text: string, what: string, bareUnitBytes: number): number {
  try {
    return parseByteSize(text, { bareUnitBytes, what });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** Rewrites GNU's optional-value `--check` to a value parseArgs accepts. */
function normalizeSortArgs(argv: readonly string[]): string[] {
  const result: string[] = [];
  let ended = false;
  const gnuArgs = normalizeGnuArgs(normalizeReportArgs(argv), longOptions, "kotST");
  for (const arg of gnuArgs) {
    if (arg === "--") ended = true;
    result.push(!ended && arg === "--check" ? "--check=diagnose-first" : arg);
  }
  return result;
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
  const { values, positionals } = parseCommandArgs("sort", normalizeSortArgs(argv), optionSpecs);
  for (const [name, label] of unsupported) {
    if (values[name] !== undefined) {
      throw new UsageError(
        `spillway sort does not support ${label}; see 'spillway sort --help' for the supported options`,
      );
    }
  }
  let check: "diagnose" | "quiet" | undefined;
  const checkModes = new Set<string>();
  if (flagValue(values, "c")) checkModes.add("c");
  if (flagValue(values, "C")) checkModes.add("C");
  const checkText = lastString(values, "check");
  if (checkText !== undefined) {
    const mode = matchChoice("--check", checkText, ["quiet", "silent", "diagnose-first"]);
    checkModes.add(mode === "diagnose-first" ? "c" : "C");
  }
  if (checkModes.size > 1) throw new UsageError("Options '-cC' are incompatible");
  if (checkModes.has("c")) check = "diagnose";
  if (checkModes.has("C")) check = "quiet";
  const merge = flagValue(values, "merge");
  if (check !== undefined && merge) {
    throw new UsageError("Options -c/-C and -m are incompatible; use one of them");
  }
  const inputs = positionals.length > 0 ? positionals : ["-"];
  if (check !== undefined && inputs.length > 1) {
    throw new UsageError(
      `Extra operand "${inputs[1]}" not allowed with -c/-C; check one file at a time`,
    );
  }
  const outputs = stringList(values, "output");
  if (new Set(outputs).size > 1) {
    throw new UsageError(`Multiple output files specified: ${outputs.join(", ")}; give one -o`);
  }
  if (check !== undefined && outputs.length > 0) {
    throw new UsageError(`Options '-${check === "diagnose" ? "c" : "C"}o' are incompatible`);
  }
  for (const word of stringList(values, "sort")) {
    const flag = sortWords[matchChoice("--sort", word, Object.keys(sortWords))]!;
    values[flag] = true;
  }
  const randomSources = stringList(values, "random-source");
  if (new Set(randomSources).size > 1) {
    throw new UsageError(`Multiple random sources specified: ${randomSources.join(", ")}`);
  }
  const separators = stringList(values, "field-separator");
  if (new Set(separators).size > 1) {
    throw new UsageError(`Incompatible field separators -t: ${separators.join(", ")}; give one`);
  }
  const sizes = [...stringList(values, "buffer-size"), ...stringList(values, "memory")];
  const sizeText = sizes[sizes.length - 1];
  const budgetBytes = sizeText === undefined
    ? SORT_MEMORY_DEFAULT_BYTES
    : byteSize(sizeText, "-S/--memory size", KiB);
  const segmentText = lastString(values, "segment-size");
  const segmentBytes = segmentText === undefined
    ? defaultSegmentBytes(budgetBytes)
    : byteSize(segmentText, "--segment-size", 1);
  const fanInMax = integerValue(values, "fan-in", { min: 2, max: 4096 }) ?? FAN_IN_DEFAULT;
  const parallelText = lastString(values, "parallel");
  if (parallelText !== undefined && !/^[1-9][0-9]*$/.test(parallelText)) {
    throw new UsageError(`Invalid --parallel "${parallelText}": expected a whole number from 1`);
  }
  const spill = lastString(values, "spill") ?? "auto";
  if (spill !== "file" && spill !== "mmap" && spill !== "auto") {
    throw new UsageError(`Invalid --spill "${spill}": use file, mmap or auto`);
  }
  const leak = lastString(values, "leak-detection") ?? "simple";
  if (!(leakDetectionLevels as readonly string[]).includes(leak)) {
    throw new UsageError(
      `Invalid --leak-detection "${leak}": use ${leakDetectionLevels.join(", ")}`,
    );
  }
  const unique = flagValue(values, "unique");
  const reverse = flagValue(values, "reverse");
  const recordBytes = integerValue(values, "record-size", { min: 1, max: 16 * MiB });
  let descriptor: OrderDescriptor;
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
    ].filter((name) => values[name] !== undefined && values[name] !== false);
    if (keyed.length > 0 || reverse || unique || flagValue(values, "zero-terminated")) {
      throw new UsageError(
        "--record-size sorts binary records by --key-offset/--key-bytes only; drop -k, -t, -n, -f, -b, -r, -u and -z",
      );
    }
    descriptor = { kind: "fixed", keyOffset, keyBytes };
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
    // Parse now so a bad KEYDEF is a usage error before anything is opened.
    orderFromDescriptor({ kind: "spec", spec: { ...spec, randomSalt: new Array(16).fill(0) } });
    addRandomSalt(spec, randomSources[0]);
    descriptor = { kind: "spec", spec };
  }
  const request: SortRequest = {
    inputs,
    output: outputs[0],
    descriptor,
    unique,
    check,
    merge,
    terminator: flagValue(values, "zero-terminated") ? 0 : 10,
    budgetBytes,
    segmentBytes,
    tmpDirs: [...stringList(values, "temporary-directory"), ...stringList(values, "tmp-dir")],
    fanInMax,
    spillMode: spill,
    leakDetection: leak as LeakDetectionLevel,
    recordBytes,
  };
  return { request, values };
}

/** `spillway sort`: GNU-compatible byte-order sort inside a memory budget. */
export const sortCommand: Command = {
  name: "sort",
  summary: "sort lines (or fixed-size records) in byte order within a memory budget",
  help,
  async run(argv: readonly string[]): Promise<number> {
    const { request, values } = parseSortArgs(argv);
    using report = CommandReport.start("sort", values);
    await report.checkTargets(request.check === undefined ? request.output : undefined);
    const memory = new MemoryManager({
      budgetBytes: request.budgetBytes,
      segmentBytes: request.segmentBytes,
      leakDetection: request.leakDetection,
    });
    const io = await IoManager.open({
      memory,
      ...(request.tmpDirs.length > 0 ? { tmpDirs: request.tmpDirs } : {}),
      spillMode: request.spillMode,
    });
    const order = orderFromDescriptor(request.descriptor);
    let exitCode: number = ExitCode.ok;
    try {
      if (request.check !== undefined) {
        const input = request.inputs[0]!;
        const disorder = await checkSorted(input, {
          memory,
          io,
          order,
          unique: request.unique,
          terminator: request.terminator,
          ...(request.recordBytes === undefined ? {} : { recordBytes: request.recordBytes }),
        });
        if (disorder !== undefined) {
          exitCode = ExitCode.disorder;
          if (request.check === "diagnose") {
            const head = new TextEncoder().encode(
              `spillway: ${input}:${disorder.lineNumber}: disorder: `,
            );
            const line = request.recordBytes === undefined
              ? disorder.record
              : new TextEncoder().encode(`record ${disorder.lineNumber}`);
            writeStderrBytes(head, line, new Uint8Array([10]));
          }
        }
      } else {
        const stats = await externalSort(request.inputs, request.output, {
          memory,
          io,
          order,
          orderDescriptor: request.descriptor,
          unique: request.unique,
          terminator: request.terminator,
          fanInMax: request.fanInMax,
          mergeOnly: request.merge,
          progress: report.progress,
          ...(request.recordBytes === undefined ? {} : { recordBytes: request.recordBytes }),
        });
        const s = report.stats;
        s.input.files = request.inputs.length;
        s.input.bytes = stats.inputBytes;
        s.input.records = stats.inputRecords;
        s.output.records = stats.outputRecords;
        s.spill.runs = stats.runCount;
        s.spill.mergePasses = stats.mergePasses;
      }
    } finally {
      await io.close();
    }
    report.stats.output.bytes = io.stats.outputBytesWritten;
    await report.end({ memory, io: io.stats, spillMode: io.spillMode, exitCode });
    memory.assertAllReleased();
    return exitCode;
  },
};

function writeStderrBytes(...parts: Uint8Array[]): void {
  for (const part of parts) {
    let written = 0;
    while (written < part.length) written += Deno.stderr.writeSync(part.subarray(written));
  }
}

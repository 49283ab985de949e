import { parseArgs as nodeParseArgs, type ParseArgsConfig } from "node:util";
import { parseByteSize, UsageError } from "../base/mod.ts";

/** Option specs in `node:util` `parseArgs` form. */
export type OptionSpecs = NonNullable<ParseArgsConfig["options"]>;

/** Parsed values: strings, booleans, or arrays of them for `multiple` options. */
export type ParsedValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** The result of {@linkcode parseCommandArgs}. */
export interface ParsedArgs {
  /** Option values by long name. */
  values: ParsedValues;
  /** Operands (file names), in order. */
  positionals: string[];
}

/**
 * Parses a command's arguments strictly; every problem becomes a one-line {@linkcode UsageError}.
 *
 * @param command The command name, for the usage hint (`spillway sort --help`).
 * @param argv The arguments after the command name.
 * @param options The accepted options.
 * @returns Values and operands.
 * @throws {UsageError} On an unknown option, a missing value, or a value given to a flag.
 *
 * @example Usage
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { parseCommandArgs } from "./parse_args.ts";
 * const parsed = parseCommandArgs("sort", ["-r", "a.txt"], { reverse: { type: "boolean", short: "r" } });
 * deepStrictEqual(parsed.positionals, ["a.txt"]);
 * ```
 */
export function parseCommandArgs(
  command: string,
  argv: readonly string[],
  options: OptionSpecs,
): ParsedArgs {
  try {
    const parsed = nodeParseArgs({
      args: attachNegativeNumbers(argv, options),
      options,
      strict: true,
      allowPositionals: true,
      allowNegative: true,
    });
    return { values: parsed.values as ParsedValues, positionals: parsed.positionals };
  } catch (error) {
    throw new UsageError(parseErrorMessage(error, command));
  }
}

/**
 * node's parseArgs error as one line: its first sentence (its messages are multi-line and
 * mention node), how to give a value that starts with a dash when that was the problem, and
 * where help is.
 *
 * @param error What parseArgs threw.
 * @param command The command name (`""`: the top level).
 * @returns The message.
 */
export function parseErrorMessage(error: unknown, command: string): string {
  const message = error instanceof Error ? error.message : String(error);
  const lines = message.split("\n");
  const first = lines[0]!.replace(/\. To specify a positional argument.*$/, "").replace(/\.$/, "");
  const dashValue = /^To specify an option argument starting with a dash use (.*)\.$/
    .exec(lines[lines.length - 1]!);
  const hint = command === "" ? "spillway --help" : `spillway ${command} --help`;
  return `${first}${
    dashValue === null ? "" : `; a value that starts with a dash is written ${dashValue[1]}`
  }; see '${hint}'`;
}

/**
 * Rewrites `--top -1` as `--top=-1`: node's parseArgs refuses a value that starts with a dash
 * ("argument is ambiguous"), so a negative number would never reach the option's own check
 * and its clear message ("expected a whole number from 1 up").
 */
export function attachNegativeNumbers(argv: readonly string[], options: OptionSpecs): string[] {
  const result: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    if (arg === "--") {
      result.push(...argv.slice(i));
      break;
    }
    const next = argv[i + 1];
    let name: string | undefined;
    if (/^--[^=]+$/.test(arg)) name = arg.slice(2);
    else if (/^-[^-]$/.test(arg)) {
      name = Object.keys(options).find((key) => options[key]!.short === arg[1]);
    }
    if (
      name !== undefined && options[name]?.type === "string" && next !== undefined &&
      /^-[0-9.]/.test(next)
    ) {
      result.push(`--${name}=${next}`);
      i += 1;
    } else {
      result.push(arg);
    }
  }
  return result;
}

/** Reads a string option that may be given once. */
export function stringValue(values: ParsedValues, name: string): string | undefined {
  const value = values[name];
  if (Array.isArray(value)) return value.length > 0 ? String(value[value.length - 1]) : undefined;
  return typeof value === "string" ? value : undefined;
}

/** Reads a repeatable string option. */
export function stringList(values: ParsedValues, name: string): string[] {
  const value = values[name];
  if (Array.isArray(value)) return value.map(String);
  return typeof value === "string" ? [value] : [];
}

/** Reads a boolean flag. */
export function flagValue(values: ParsedValues, name: string): boolean {
  return values[name] === true;
}

/**
 * Reads a whole-number option.
 *
 * @throws {UsageError} If the value is not an integer in [min, max].
 */
export function integerValue(
  values: ParsedValues,
  name: string,
  range: { min: number; max?: number },
): number | undefined {
  const text = stringValue(values, name);
  if (text === undefined) return undefined;
  const value = Number(text);
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  if (
    !/^\s*-?\d+\s*$/.test(text) || !Number.isSafeInteger(value) || value < range.min || value > max
  ) {
    throw new UsageError(
      `Invalid --${name} "${text}": expected a whole number from ${range.min}${
        range.max === undefined ? " up" : ` to ${max}`
      }`,
    );
  }
  return value;
}

/**
 * Parses a byte size given on the command line; a bad one is a usage error.
 *
 * @param text The value (`64m`, `512k`, `65536b`).
 * @param what What it is, for the message (`-S/--memory size`).
 * @param bareUnitBytes What a bare number means (1024 for `-S`, like GNU sort; 1 for sizes).
 * @returns Bytes.
 * @throws {UsageError} On a malformed size.
 */
export function parseSize(text: string, what: string, bareUnitBytes: number): number {
  try {
    return parseByteSize(text, { bareUnitBytes, what });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

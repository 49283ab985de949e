import { parseArgs as nodeParseArgs } from "node:util";
import { UsageError } from "../base/mod.ts";
import {
  attachNegativeNumbers,
  type ParsedArgs,
  type ParsedValues,
  parseErrorMessage,
} from "./parse_args.ts";

/**
 * One command-line option, declared once: the parser, `--help`, docs/cli.md, the man page,
 * the shell completions and the job-file schema are all made from it.
 *
 * To add an option, add one object to a command's groups; to add a GNU sort option that is
 * parsed but not supported yet, add it to the command's `unsupported` list.
 */
export interface OptionDecl {
  /** The long name, without `--`. */
  readonly name: string;
  /** The one-letter short form, without `-`. */
  readonly short?: string;
  /** Other long names for the same option (GNU spellings); their values fold into `name`. */
  readonly aliases?: readonly string[];
  /** `flag` takes no value (`--no-NAME` negates it); `value` takes one. */
  readonly type: "flag" | "value";
  /** The value's placeholder in help (`SIZE`, `FILE`); defaults to `VALUE`. */
  readonly valueName?: string;
  /** The default, as shown to people (help, man page). */
  readonly defaultText?: string;
  /** The help text (one or more sentences; wrapped when rendered). */
  readonly help: string;
  /** Whether a job step may set it (default true). */
  readonly step?: boolean;
  /** Values for shell completion. */
  readonly choices?: readonly string[];
  /** What to complete the value with when there are no choices. */
  readonly completes?: "file" | "directory";
  /** Left column of the help line, when the generated one does not say it right. */
  readonly label?: string;
  /** Parsed, but not shown in help (an internal spelling such as sort's `-c`). */
  readonly hidden?: boolean;
}

/** A heading of a command's help and the options under it. */
export interface OptionGroup {
  /** The heading (`Ordering`, `Other`). */
  readonly title: string;
  /** The options, in help order. */
  readonly options: readonly OptionDecl[];
}

/** A GNU option that is parsed so that it fails with a clear message. */
export interface UnsupportedOption {
  /** The long name. */
  readonly name: string;
  /** The short form, if any. */
  readonly short?: string;
  /** Whether it takes a value. */
  readonly type: "flag" | "value";
  /** Why, for the message. */
  readonly reason?: string;
}

/** Everything about a command's command line, as data. */
export interface CommandSpec {
  /** The word after `spillway`. */
  readonly name: string;
  /** One line for `spillway --help`. */
  readonly summary: string;
  /** The usage lines (`spillway sort [OPTION]... [FILE]...`). */
  readonly usage: readonly string[];
  /** What the command does (paragraphs, already wrapped). */
  readonly description: string;
  /** The options by heading. */
  readonly groups: readonly OptionGroup[];
  /** Options parsed only to be refused. */
  readonly unsupported?: readonly UnsupportedOption[];
  /** Text after the options (examples, exit codes), already wrapped. */
  readonly footer: string;
  /** What the operands are, for completion. */
  readonly operands?: "file" | "none";
}

/** Option declarations in `node:util` parseArgs form. */
type NodeOptions = Record<
  string,
  { type: "boolean" | "string"; short?: string; multiple?: boolean }
>;

/** Where option help starts. */
const HELP_COLUMN = 31;
/** Help lines wrap before this column. */
const LINE_WIDTH = 96;

/** Every option of a spec, in help order (hidden ones included, unsupported ones not). */
export function optionsOf(spec: CommandSpec): OptionDecl[] {
  return spec.groups.flatMap((group) => group.options);
}

/**
 * Parses a command's arguments by its spec: strict, with operands; values of aliases fold
 * into the option's name in command-line order, so the last one given wins.
 *
 * @param spec The command's spec.
 * @param argv The arguments after the command name.
 * @returns Values by long name, and operands.
 * @throws {UsageError} On an unknown option, a missing value, or a value given to a flag.
 */
export function parseBySpec(spec: CommandSpec, argv: readonly string[]): ParsedArgs {
  const { options, canonical } = nodeOptions(spec);
  let parsed;
  try {
    parsed = nodeParseArgs({
      args: attachNegativeNumbers(argv, options),
      options,
      strict: true,
      allowPositionals: true,
      allowNegative: true,
      tokens: true,
    });
  } catch (error) {
    throw new UsageError(parseErrorMessage(error, spec.name));
  }
  const values = { ...parsed.values } as ParsedValues;
  if (canonical.size > 0) {
    const folding = new Set(canonical.values());
    const folded = new Map<string, string[]>();
    for (const token of parsed.tokens ?? []) {
      if (token.kind !== "option" || token.value === undefined) continue;
      const name = canonical.get(token.name) ?? token.name;
      if (!folding.has(name)) continue;
      folded.set(name, [...(folded.get(name) ?? []), token.value]);
    }
    for (const alias of canonical.keys()) delete values[alias];
    for (const [name, list] of folded) values[name] = list;
  }
  return { values, positionals: parsed.positionals };
}

/** A spec's options in `node:util` parseArgs form, and each alias's option name. */
function nodeOptions(
  spec: CommandSpec,
): { options: NodeOptions; canonical: Map<string, string> } {
  const canonical = new Map<string, string>();
  const options: NodeOptions = {};
  const declare = (name: string, decl: { type: "flag" | "value"; short?: string }): void => {
    options[name] = decl.type === "flag"
      ? { type: "boolean", ...(decl.short === undefined ? {} : { short: decl.short }) }
      : {
        type: "string",
        multiple: true,
        ...(decl.short === undefined ? {} : { short: decl.short }),
      };
  };
  for (const decl of optionsOf(spec)) {
    declare(decl.name, decl);
    for (const alias of decl.aliases ?? []) {
      declare(alias, { type: decl.type });
      canonical.set(alias, decl.name);
    }
  }
  for (const decl of spec.unsupported ?? []) declare(decl.name, decl);
  return { options, canonical };
}

/** What a command line may ask for instead of a run. */
export type InformationRequest = "help" | "version";

/**
 * The `--help` and `--version` options every command declares (in its last group), so that
 * help, docs/cli.md, the man page and the completions show them. `-h` is `--help` only where
 * the command has no `-h` of its own: sort's and merge's `-h` is --human-numeric-sort and their
 * `-V` is --version-sort, as in GNU sort; `-V` as the version is top-level only.
 *
 * @param helpShort Whether `-h` means `--help` for this command.
 * @returns The group.
 */
export function informationOptions(helpShort: boolean): OptionGroup {
  return {
    title: "Information",
    options: [
      {
        name: "help",
        ...(helpShort ? { short: "h" } : {}),
        type: "flag",
        step: false,
        help: "print this help and exit, reading no input",
      },
      {
        name: "version",
        type: "flag",
        step: false,
        help: "print spillway's version and exit, reading no input",
      },
    ],
  };
}

/**
 * Whether a command line asks for the command's help or the version instead of a run: the
 * first `--help` or `--version` read as the command's parser reads its options (not the value
 * of an option such as `-o --help`, nor an operand after `--`), even beside options that the
 * run would refuse.
 *
 * @param spec The command's spec (with {@linkcode informationOptions}).
 * @param argv The arguments after the command name, in the form the command's parser takes
 * (sort's GNU abbreviations expanded, a bare `--stats` given its value).
 * @returns What was asked, or undefined: run the command.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { informationAsked, informationOptions } from "./option_spec.ts";
 * const spec = { name: "x", summary: "", usage: [], description: "", footer: "",
 *   groups: [{ title: "Other", options: [{ name: "output", short: "o", type: "value" as const, help: "" }] },
 *     informationOptions(true)] };
 * strictEqual(informationAsked(spec, ["-o", "out", "--version"]), "version");
 * strictEqual(informationAsked(spec, ["-o", "--help"]), undefined);
 * strictEqual(informationAsked(spec, ["--", "-h"]), undefined);
 * ```
 */
export function informationAsked(
  spec: CommandSpec,
  argv: readonly string[],
): InformationRequest | undefined {
  const { options } = nodeOptions(spec);
  // Not strict: an unknown option or a missing value does not hide a later --help.
  const { tokens } = nodeParseArgs({
    args: attachNegativeNumbers(argv, options),
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  for (const token of tokens) {
    if (token.kind === "option-terminator") return undefined;
    // `--help=x` is left to the strict parse, which refuses it.
    if (token.kind === "option" && token.value === undefined) {
      if (token.name === "help" || token.name === "version") return token.name;
    }
  }
  return undefined;
}

/**
 * The names a job step may use for a command: every option's name and aliases unless it is
 * hidden from steps.
 *
 * @param spec The command's spec.
 * @returns Long names without `--`.
 */
export function stepOptionNames(spec: CommandSpec): string[] {
  return optionsOf(spec)
    .filter((decl) => decl.step !== false)
    .flatMap((decl) => [decl.name, ...(decl.aliases ?? [])]);
}

/** The left column of an option's help line. */
export function optionLabel(decl: OptionDecl): string {
  if (decl.label !== undefined) return decl.label;
  const short = decl.short === undefined ? "    " : `-${decl.short}, `;
  const names = [decl.name, ...(decl.aliases ?? [])].map((name) => `--${name}`).join(", ");
  const value = decl.type === "value" ? `=${decl.valueName ?? "VALUE"}` : "";
  return `${short}${names}${value}`;
}

/**
 * Renders a command's `--help` from its spec.
 *
 * @param spec The command's spec.
 * @returns The help text.
 */
export function renderHelp(spec: CommandSpec): string {
  const lines: string[] = [];
  spec.usage.forEach((usage, index) => lines.push(`${index === 0 ? "Usage:" : "      "} ${usage}`));
  lines.push("", spec.description);
  for (const group of spec.groups) {
    const shown = group.options.filter((decl) => decl.hidden !== true);
    if (shown.length === 0) continue;
    lines.push("", `${group.title}:`);
    for (const decl of shown) lines.push(...optionLines(decl));
  }
  lines.push("", spec.footer);
  return lines.join("\n");
}

function optionLines(decl: OptionDecl): string[] {
  const label = `  ${optionLabel(decl)}`;
  const text = decl.defaultText === undefined || decl.help.includes("(default")
    ? decl.help
    : `${decl.help} (default ${decl.defaultText})`;
  const wrapped = wrap(text, LINE_WIDTH - HELP_COLUMN);
  const pad = " ".repeat(HELP_COLUMN);
  if (label.length <= HELP_COLUMN - 1) {
    const [first, ...rest] = wrapped;
    return [label.padEnd(HELP_COLUMN) + (first ?? ""), ...rest.map((line) => pad + line)];
  }
  return [label, ...wrapped.map((line) => pad + line)];
}

/** Splits text into lines of at most `width` characters at spaces; `\n` forces a break. */
export function wrap(text: string, width: number): string[] {
  return text.split("\n").flatMap((paragraph) => wrapParagraph(paragraph, width));
}

function wrapParagraph(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter((part) => part !== "")) {
    if (line === "") line = word;
    else if (line.length + 1 + word.length <= width) line += ` ${word}`;
    else {
      lines.push(line);
      line = word;
    }
  }
  if (line !== "") lines.push(line);
  return lines;
}

import { UsageError } from "../base/mod.ts";
import { readFileHead } from "../io/mod.ts";
import { needsRandomSalt, type SortOrderSpec } from "../sort/mod.ts";

/**
 * GNU sort's command-line conventions that `node:util` parseArgs lacks, applied to argv
 * before parsing:
 *
 * ```
 *   --rev, --p=2         unambiguous prefixes of long options (getopt_long)
 *   +1 -2, +0.3nr        the obsolete key syntax +POS1 [-POS2], rewritten to -k KEYDEF
 * ```
 * and the option values GNU matches by prefix (`--sort=gen`, `--check=q`).
 */

/** How a long option is spelled and whether it takes a value. */
export interface LongOption {
  /** The name without dashes. */
  name: string;
  /** Whether it takes a value (`--name=V` or `--name V`). */
  takesValue: boolean;
  /** A GNU sort option: wins a prefix that also matches spillway's own (`--p` is --parallel). */
  gnu: boolean;
}

/** A key given in the obsolete form, for GNU's `--debug` warning. */
export interface ObsoleteKey {
  /** GNU's spelling of it, e.g. `+1 -2`. */
  text: string;
  /** GNU's suggested -k form, e.g. `-k 2,2`. */
  keydef: string;
}

/** The result of {@linkcode normalizeGnuArgs}. */
export interface GnuArgs {
  /** The rewritten arguments. */
  args: string[];
  /** Obsolete keys by their index among all keys. */
  obsolete: Map<number, ObsoleteKey>;
}

/**
 * Expands unambiguous long-option prefixes and rewrites `+POS1 [-POS2]` keys.
 *
 * @param argv The arguments after the command.
 * @param options Every long option the command accepts.
 * @param shortWithValue The short options that take a value (e.g. `"kotST"`).
 * @returns The rewritten arguments and the obsolete keys.
 * @throws {UsageError} On an ambiguous prefix.
 */
export function normalizeGnuArgs(
  argv: readonly string[],
  options: readonly LongOption[],
  shortWithValue: string,
): GnuArgs {
  const result: string[] = [];
  const obsolete = new Map<number, ObsoleteKey>();
  let keyCount = 0;
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index]!;
    if (arg === "--") {
      result.push(...argv.slice(index));
      break;
    }
    if (arg.startsWith("--")) {
      const equals = arg.indexOf("=");
      const name = arg.slice(2, equals < 0 ? undefined : equals);
      const option = resolveLongOption(name, options);
      if (option?.name === "key") keyCount += 1;
      result.push(
        option === undefined ? arg : `--${option.name}${equals < 0 ? "" : arg.slice(equals)}`,
      );
      if (option?.takesValue && equals < 0 && index + 1 < argv.length) {
        result.push(argv[index + 1]!);
        index += 1;
      }
      continue;
    }
    if (arg.startsWith("+")) {
      const start = obsoletePosition(arg.slice(1), "start");
      if (start !== undefined) {
        const next = argv[index + 1];
        let keydef = start;
        const startField = Number(/^[0-9]+/.exec(arg.slice(1))![0]);
        let text = `+${startField}`;
        let suggestion = `-k ${startField + 1}`;
        if (next !== undefined && /^-[0-9]/.test(next)) {
          const end = obsoletePosition(next.slice(1), "end");
          if (end === undefined) {
            throw new UsageError(
              `Invalid obsolete key end "${next}": expected -N[.C][OPTS]; use -k instead`,
            );
          }
          keydef += `,${end}`;
          index += 1;
          // GNU's warning shows the 0-based end word after its own adjustment, plus one.
          const match = /^-([0-9]+)(?:\.([0-9]+))?/.exec(next)!;
          const field = Number(match[1]);
          const char = match[2] === undefined ? 0 : Number(match[2]);
          const endWord = char === 0 && field > 0 ? field - 1 : field;
          text += ` -${endWord + 1}`;
          suggestion += `,${endWord + 1}`;
        }
        obsolete.set(keyCount, { text, keydef: suggestion });
        keyCount += 1;
        result.push("-k", keydef);
        continue;
      }
    }
    result.push(arg);
    if (arg.length >= 2 && arg[0] === "-" && arg[1] !== "-") {
      // A cluster of short options: the first that takes a value takes the rest, or the next.
      for (let position = 1; position < arg.length; position += 1) {
        if (shortWithValue.includes(arg[position]!)) {
          if (arg[position] === "k") keyCount += 1;
          if (position === arg.length - 1 && index + 1 < argv.length) {
            result.push(argv[index + 1]!);
            index += 1;
          }
          break;
        }
      }
    }
  }
  return { args: result, obsolete };
}

function resolveLongOption(
  name: string,
  options: readonly LongOption[],
): LongOption | undefined {
  const exact = options.find((option) => option.name === name);
  if (exact !== undefined || name === "") return exact;
  const matches = options.filter((option) => option.name.startsWith(name));
  if (matches.length === 1) return matches[0];
  const gnuMatches = matches.filter((option) => option.gnu);
  if (gnuMatches.length === 1) return gnuMatches[0];
  if (matches.length > 1) {
    throw new UsageError(
      `Option '--${name}' is ambiguous; possibilities: ${
        matches.map((option) => `'--${option.name}'`).join(" ")
      }`,
    );
  }
  return undefined;
}

/**
 * One obsolete position (`N[.C][OPTS]`, 0-based) as a -k position (1-based), or undefined
 * when the text is not one (GNU then reads a `+...` operand as a file name).
 *
 * ```
 *   +A.x  -> A+1.x+1        -B -> B (0 -> 1)        -B.y (y > 0) -> B+1.y
 * ```
 */
function obsoletePosition(text: string, side: "start" | "end"): string | undefined {
  const match = /^([0-9]+)(?:\.([0-9]+))?([bdfghiMnRrV]*)$/.exec(text);
  if (match === null) return undefined;
  const field = Number(match[1]);
  const char = match[2] === undefined ? 0 : Number(match[2]);
  const letters = match[3]!;
  if (side === "start") return `${field + 1}.${char + 1}${letters}`;
  if (char === 0) return `${field === 0 ? 1 : field}${letters}`;
  return `${field + 1}.${char}${letters}`;
}

/**
 * GNU's `argmatch`: a value or an unambiguous prefix of one.
 *
 * @param option The option for the message, e.g. `--sort`.
 * @param text The value given.
 * @param choices The valid values.
 * @returns The full value.
 * @throws {UsageError} When nothing or more than one value matches.
 */
export function matchChoice(option: string, text: string, choices: readonly string[]): string {
  if (choices.includes(text)) return text;
  const matches = choices.filter((choice) => choice.startsWith(text));
  if (matches.length === 1 && text !== "") return matches[0]!;
  throw new UsageError(
    `${matches.length > 1 ? "Ambiguous" : "Invalid"} argument '${text}' for '${option}'; ` +
      `valid arguments are ${choices.map((choice) => `'${choice}'`).join(", ")}`,
  );
}

/** The most bytes of a `--files0-from` list. */
const FILE_LIST_BYTES_MAX = 64 * 1024 * 1024;

/**
 * Reads `--files0-from=F`: file names each ended by NUL (the last one may lack it), as GNU
 * sort does, with GNU's checks.
 *
 * @param path The list (`-` is standard input).
 * @param operands File operands also given (must be none).
 * @returns The input names.
 * @throws {UsageError} On operands, an empty list, a `-` entry or an empty name.
 */
export function readFileList(path: string, operands: readonly string[]): string[] {
  if (operands.length > 0) {
    throw new UsageError(
      `Extra operand '${operands[0]}': file operands cannot be combined with --files0-from`,
    );
  }
  const bytes = readFileHead(path, FILE_LIST_BYTES_MAX + 1);
  if (bytes.length > FILE_LIST_BYTES_MAX) {
    throw new UsageError(`Cannot read --files0-from ${path}: more than 64 MiB of file names`);
  }
  const names = new TextDecoder().decode(bytes).split("\0");
  if (names[names.length - 1] === "") names.pop();
  if (names.length === 0) throw new UsageError(`No input from '${path}'`);
  names.forEach((name, index) => {
    if (name === "-") {
      throw new UsageError(
        `When reading file names from --files0-from, no file name of '-' is allowed`,
      );
    }
    if (name === "") {
      throw new UsageError(`${path}:${index + 1}: invalid zero-length file name`);
    }
  });
  return names;
}

/**
 * GNU's `--batch-size=N`: the merge fan-in, 2 or more.
 *
 * @param text The value.
 * @param fanInMaxLimit The largest fan-in spillway allows.
 * @returns The fan-in.
 * @throws {UsageError} With GNU's reasons: not a number, below 2, too large.
 */
export function parseBatchSize(text: string, fanInMaxLimit: number): number {
  if (!/^[0-9]+$/.test(text)) throw new UsageError(`Invalid --batch-size argument '${text}'`);
  const value = Number(text);
  if (value < 2) {
    throw new UsageError(
      `Invalid --batch-size argument '${text}': the minimum --batch-size argument is '2'`,
    );
  }
  if (value > fanInMaxLimit) {
    throw new UsageError(
      `--batch-size argument '${text}' too large: the maximum is ${fanInMaxLimit}`,
    );
  }
  return value;
}

/**
 * Adds the `-R` salt to a spec when some key needs it: the first 16 bytes of
 * `--random-source`, or random bytes.
 *
 * @param spec The order (changed in place).
 * @param randomSource The `--random-source` file, if given.
 * @throws {InputError} When the random source cannot be read or is shorter than 16 bytes.
 */
export function addRandomSalt(spec: SortOrderSpec, randomSource: string | undefined): void {
  if (!needsRandomSalt(spec)) return;
  let salt: Uint8Array;
  if (randomSource === undefined) {
    salt = crypto.getRandomValues(new Uint8Array(16));
  } else {
    salt = readFileHead(randomSource, 16);
    if (salt.length < 16) {
      throw new UsageError(
        `Cannot read 16 bytes from --random-source ${randomSource}: end of file`,
      );
    }
  }
  spec.randomSalt = [...salt];
}

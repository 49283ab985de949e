import { ExitCode, SpillwayError } from "../base/mod.ts";
import { MemoryLeakError, SegmentReleasedError } from "../memory/mod.ts";
import type { Command } from "./command.ts";
import { countCommand } from "./count_command.ts";
import { demoCommand } from "./demo_command.ts";
import { genCommand } from "./gen_command.ts";
import { mergeCommand } from "./merge_command.ts";
import { printError, printOut } from "./output.ts";
import { parseCommandArgs } from "./parse_args.ts";
import { runCommand } from "./run_command.ts";
import { sortCommand } from "./sort_command.ts";
import { VERSION } from "./version.ts";

/** Exit code of an internal error (a bug in spillway): EX_SOFTWARE. */
export const EXIT_INTERNAL = 70;

/** The subcommands, in `--help` order. Later commands register here. */
export const commands: readonly Command[] = [
  demoCommand,
  sortCommand,
  countCommand,
  mergeCommand,
  runCommand,
  genCommand,
];

/** The top-level `--help` text. */
export function topLevelHelp(): string {
  const width = Math.max(...commands.map((command) => command.name.length));
  const lines = commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`);
  return `spillway ${VERSION}: sort and count text far larger than memory, in a fixed memory budget

Usage: spillway <command> [options] [FILE...]
       spillway --help | --version

Commands:
${lines.join("\n")}

Run 'spillway <command> --help' for a command's options.
Global options: --trace (stack traces on errors), --help, --version.
Exit codes: 0 ok, 1 sort -c found disorder, 2 usage or input error, 3 resource error
(budget too small, disk full, temp dir unusable), 70 internal error, 129/130/143 interrupted.`;
}

/**
 * Runs the CLI: dispatches to a command and maps every error to one line and an exit code.
 *
 * @param argv The process arguments (without the program name).
 * @returns The exit code.
 */
export async function runCli(argv: readonly string[]): Promise<number> {
  const debug = argv.includes("--trace");
  const args = argv.filter((arg) => arg !== "--trace");
  try {
    const first = args[0];
    if (first === undefined || first === "--help" || first === "-h" || first === "help") {
      if (first === "help" && args[1] !== undefined) {
        return await dispatch(args[1], ["--help"]);
      }
      printOut(topLevelHelp());
      return first === undefined ? ExitCode.usage : ExitCode.ok;
    }
    if (first === "--version" || first === "-V") {
      printOut(`spillway ${VERSION}`);
      return ExitCode.ok;
    }
    if (first.startsWith("-")) {
      parseCommandArgs("", [first], {});
    }
    return await dispatch(first, args.slice(1));
  } catch (error) {
    return reportError(error, debug);
  }
}

async function dispatch(name: string, rest: readonly string[]): Promise<number> {
  const command = commands.find((candidate) => candidate.name === name);
  if (command === undefined) {
    const names = commands.map((candidate) => candidate.name).join(", ");
    throw new SpillwayError(
      `Unknown command "${name}"; commands are ${names}; see 'spillway --help'`,
      ExitCode.usage,
    );
  }
  if (rest.includes("--help") || rest.includes("-h") && name !== "sort") {
    printOut(command.help);
    return ExitCode.ok;
  }
  return await command.run(rest);
}

/**
 * Prints an error as one line (a stack trace too with `--trace`) and returns its exit code.
 *
 * @param error What was thrown.
 * @param debug Whether to print the stack trace.
 * @returns The exit code.
 */
export function reportError(error: unknown, debug: boolean): number {
  if (error instanceof SpillwayError && error.exitCode === ExitCode.ok) {
    // The reader of stdout went away (`spillway sort | head`): end quietly, like GNU tools.
    if (debug && error.stack) printError(error.stack);
    return ExitCode.ok;
  }
  if (error instanceof SpillwayError) {
    printError(`spillway: ${firstLine(error.message)}`);
    if (debug && error.stack) printError(error.stack);
    return error.exitCode;
  }
  if (error instanceof RangeError || error instanceof SyntaxError || error instanceof TypeError) {
    // Operating errors of the world thrown by lower layers (bad sizes, bad values).
    if (!(error instanceof TypeError) || !looksLikeBug(error)) {
      printError(`spillway: ${firstLine(error.message)}`);
      if (debug && error.stack) printError(error.stack);
      return ExitCode.usage;
    }
  }
  if (error instanceof MemoryLeakError) {
    printError(`spillway: internal error: ${error.message}`);
    return EXIT_INTERNAL;
  }
  const message = error instanceof Error ? error.message : String(error);
  const kind = error instanceof SegmentReleasedError ? "use after free" : "internal error";
  printError(`spillway: ${kind}: ${firstLine(message)} (rerun with --trace for a stack trace)`);
  if (debug && error instanceof Error && error.stack) printError(error.stack);
  return EXIT_INTERNAL;
}

function firstLine(message: string): string {
  return message.split("\n")[0] ?? message;
}

function looksLikeBug(error: TypeError): boolean {
  return /undefined|null|not a function|detached/.test(error.message);
}

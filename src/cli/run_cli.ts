import { ExitCode, SpillwayError } from "../base/mod.ts";
import { commandEntries, loadCommands } from "./commands.ts";
// Starts the CPU-idle window of `count --threads auto` now, before a command's modules load
// (cpu_idle.ts samples the CPU counters when it is evaluated).
import "./cpu_idle.ts";
import { informationAsked } from "./option_spec.ts";
import { printOut } from "./output.ts";
import { parseCommandArgs } from "./parse_args.ts";
import { reportError } from "./report_error.ts";
import { VERSION } from "./version.ts";

/** The top-level `--help` text. */
export function topLevelHelp(): string {
  const width = Math.max(...commandEntries.map((command) => command.name.length));
  const lines = commandEntries.map((command) =>
    `  ${command.name.padEnd(width)}  ${command.summary}`
  );
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
  const trace = argv.includes("--trace");
  const args = argv.filter((arg) => arg !== "--trace");
  try {
    const first = args[0];
    if (first === undefined || first === "--help" || first === "-h" || first === "help") {
      if (first === "help" && args[1] !== undefined) {
        return await dispatch(args[1], ["--help"], trace);
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
    return await dispatch(first, args.slice(1), trace);
  } catch (error) {
    return reportError(error, trace);
  }
}

async function dispatch(name: string, rest: readonly string[], trace: boolean): Promise<number> {
  const entry = commandEntries.find((candidate) => candidate.name === name);
  if (entry === undefined) {
    const names = commandEntries.map((candidate) => candidate.name).join(", ");
    throw new SpillwayError(
      `Unknown command "${name}"; commands are ${names}; see 'spillway --help'`,
      ExitCode.usage,
    );
  }
  const command = await entry.load();
  // GNU's way: an exact option name wins over abbreviations (sort --version is not
  // --version-sort), and -h is --help only where the command has no -h of its own.
  const asked = command.spec === undefined
    ? undefined
    : informationAsked(command.spec, command.normalizeArgs?.(rest) ?? rest);
  if (asked !== undefined) {
    printOut(asked === "help" ? command.help : `spillway ${VERSION}`);
    return ExitCode.ok;
  }
  // The command's modules loaded the io layer already.
  const { holdLibc, ignoreFileSizeSignal } = await import("../io/mod.ts");
  // One load of libc for the signal and the command (which holds it too).
  using _libc = holdLibc();
  ignoreFileSizeSignal();
  return await command.run(rest, { trace, loadCommands });
}

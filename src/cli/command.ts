/** What the dispatcher passes to every command besides its arguments. */
export interface CommandContext {
  /** `--trace`: print stack traces with errors. */
  readonly trace: boolean;
  /**
   * The job step the command runs as (`JOB.yaml: NAME`, from `spillway run`): its warnings
   * name it, so that a job's stderr says which step a warning is about.
   */
  readonly step?: string;
  /** Loads the CLI's commands (for commands about commands: completions). */
  readonly loadCommands?: () => Promise<readonly Command[]>;
}

import type { CommandSpec } from "./option_spec.ts";

/** One subcommand of the CLI. */
export interface Command {
  /** The word after `spillway`. */
  readonly name: string;
  /** One line for `spillway --help`. */
  readonly summary: string;
  /** The full `--help` text. */
  readonly help: string;
  /** The command line as data (options, help, job-step keys), when declared. */
  readonly spec?: CommandSpec;
  /**
   * The arguments as the command's parser reads them (sort: GNU's long-option abbreviations
   * expanded; a bare `--stats` given its value), for the dispatcher's `--help`/`--version`
   * check; absent: as given.
   *
   * @param argv The arguments after the command name.
   * @returns The rewritten arguments.
   * @throws {UsageError} On an ambiguous abbreviation.
   */
  normalizeArgs?(argv: readonly string[]): string[];
  /**
   * Runs the command.
   *
   * @param argv The arguments after the command name.
   * @param context Global flags (`--trace`); absent means all off.
   * @returns The exit code.
   */
  run(argv: readonly string[], context?: CommandContext): Promise<number>;
}

/** What the dispatcher passes to every command besides its arguments. */
export interface CommandContext {
  /** `--debug`: print stack traces with errors. */
  readonly debug: boolean;
}

/** One subcommand of the CLI. */
export interface Command {
  /** The word after `spillway`. */
  readonly name: string;
  /** One line for `spillway --help`. */
  readonly summary: string;
  /** The full `--help` text. */
  readonly help: string;
  /**
   * Runs the command.
   *
   * @param argv The arguments after the command name.
   * @param context Global flags (`--debug`); absent means all off.
   * @returns The exit code.
   */
  run(argv: readonly string[], context?: CommandContext): Promise<number>;
}

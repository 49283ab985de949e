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
   * @returns The exit code.
   */
  run(argv: readonly string[]): Promise<number>;
}

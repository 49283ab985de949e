/**
 * Command-line interface: argument parsing, help, dispatch, error reporting.
 *
 * @module
 */
export type { Command } from "./command.ts";
export { commands, EXIT_INTERNAL, reportError, runCli, topLevelHelp } from "./run_cli.ts";
export { VERSION } from "./version.ts";

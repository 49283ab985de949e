/**
 * Command-line interface: argument parsing, help, dispatch, error reporting.
 *
 * @module
 */
export type { Command } from "./command.ts";
export type { CommandContext } from "./command.ts";
export { commandEntries, type CommandEntry, loadCommands } from "./commands.ts";
export { completionScript, completionShells } from "./completions.ts";
export { manPage } from "./man_page.ts";
export { EXIT_INTERNAL, reportError } from "./report_error.ts";
export { runCli, topLevelHelp } from "./run_cli.ts";
export { VERSION } from "./version.ts";

import type { Command } from "./command.ts";
import { COMMAND_SUMMARIES } from "./command_summaries.ts";

/**
 * A subcommand as the dispatcher knows it before it runs: its name and summary at hand, the
 * command itself (its module, and through it the layers it uses) imported only when it runs.
 * `spillway count` then never loads the sort command's GNU option parsing, the job runner or
 * the corpus generator, and `spillway sort` never loads the count command: start-up time is
 * mostly module loading (docs/performance.md, "Start-up").
 */
export interface CommandEntry {
  /** The word after `spillway`. */
  readonly name: keyof typeof COMMAND_SUMMARIES;
  /** One line for `spillway --help`. */
  readonly summary: string;
  /** Imports the command's module (once; later calls return the same command). */
  load(): Promise<Command>;
}

function entry(
  name: keyof typeof COMMAND_SUMMARIES,
  importCommand: () => Promise<Command>,
): CommandEntry {
  let loaded: Promise<Command> | undefined;
  return {
    name,
    summary: COMMAND_SUMMARIES[name],
    load: () => loaded ??= importCommand(),
  };
}

/**
 * The subcommands, in `--help` order: the one table of the CLI. Only the dispatcher
 * (run_cli.ts) imports it; a command that runs other commands (`run`) gets its own table of
 * step commands (step_commands.ts), so no module imports itself through this table.
 */
export const commandEntries: readonly CommandEntry[] = [
  entry("demo", async () => (await import("./demo_command.ts")).demoCommand),
  entry("sort", async () => (await import("./sort_command.ts")).sortCommand),
  entry("count", async () => (await import("./count_command.ts")).countCommand),
  entry("merge", async () => (await import("./merge_command.ts")).mergeCommand),
  entry("run", async () => (await import("./run_command.ts")).runCommand),
  entry("gen", async () => (await import("./gen_command.ts")).genCommand),
  entry("completions", async () => (await import("./completions_command.ts")).completionsCommand),
];

/**
 * Every command, loaded (for the completions, the man page and docs/cli.md).
 *
 * @returns The commands in `--help` order.
 */
export function loadCommands(): Promise<Command[]> {
  return Promise.all(commandEntries.map((candidate) => candidate.load()));
}

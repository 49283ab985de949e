import type { Command } from "./command.ts";
import { completionsCommand } from "./completions_command.ts";
import { countCommand } from "./count_command.ts";
import { demoCommand } from "./demo_command.ts";
import { genCommand } from "./gen_command.ts";
import { mergeCommand } from "./merge_command.ts";
import { runCommand } from "./run_command.ts";
import { sortCommand } from "./sort_command.ts";

/**
 * The subcommands, in `--help` order: the one table of the CLI. Only the dispatcher
 * (run_cli.ts) imports it; a command that runs other commands (`run`) gets its own table of
 * step commands (step_commands.ts), so no module imports itself through this table.
 */
export const commands: readonly Command[] = [
  demoCommand,
  sortCommand,
  countCommand,
  mergeCommand,
  runCommand,
  genCommand,
  completionsCommand,
];

import type { Command } from "./command.ts";
import { countCommand } from "./count_command.ts";
import { genCommand } from "./gen_command.ts";
import { mergeCommand } from "./merge_command.ts";
import { sortCommand } from "./sort_command.ts";

/** The commands a job step may run, by name (`spillway run`). */
export const stepCommands: ReadonlyMap<string, Command> = new Map(
  [genCommand, sortCommand, countCommand, mergeCommand].map((command) => [command.name, command]),
);

/** The names of the step commands. */
export const STEP_COMMANDS: readonly string[] = [...stepCommands.keys()];

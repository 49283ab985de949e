import { COMMAND_SUMMARIES } from "./command_summaries.ts";
import { ExitCode, UsageError } from "../base/mod.ts";
import type { Command, CommandContext } from "./command.ts";
import { completionScript, type CompletionShell, completionShells } from "./completions.ts";
import { type CommandSpec, informationOptions, parseBySpec, renderHelp } from "./option_spec.ts";
import { printOut } from "./output.ts";

/** `spillway completions`'s command line as data (see option_spec.ts). */
export const completionsSpec: CommandSpec = {
  name: "completions",
  summary: COMMAND_SUMMARIES.completions,
  usage: ["spillway completions bash|zsh|fish"],
  description: `Prints a completion script for the shell, made from the same option declarations
as --help. Install it with, for example:

  spillway completions bash > ~/.local/share/bash-completion/completions/spillway
  spillway completions zsh > "\${fpath[1]}/_spillway"
  spillway completions fish > ~/.config/fish/completions/spillway.fish`,
  groups: [informationOptions(true)],
  footer: "Exit codes: 0 ok; 2 usage error (an unknown shell).",
  operands: "none",
};

/** `spillway completions SHELL`. */
export const completionsCommand: Command = {
  name: "completions",
  summary: completionsSpec.summary,
  get help(): string {
    return renderHelp(completionsSpec);
  },
  spec: completionsSpec,
  async run(argv: readonly string[], context?: CommandContext): Promise<number> {
    const { positionals } = parseBySpec(completionsSpec, argv);
    const shell = positionals[0];
    if (positionals.length !== 1 || !(completionShells as readonly string[]).includes(shell!)) {
      throw new UsageError(
        `Expected one shell, ${completionShells.join(", ")}; usage: spillway completions bash`,
      );
    }
    const commands = await context?.loadCommands?.() ?? [];
    printOut(completionScript(shell as CompletionShell, commands).trimEnd());
    return ExitCode.ok;
  },
};

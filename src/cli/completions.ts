import type { Command } from "./command.ts";
import { type CommandSpec, type OptionDecl, optionsOf } from "./option_spec.ts";

/** Shells `spillway completions` writes a script for. */
export const completionShells = ["bash", "zsh", "fish"] as const;

/** A shell `spillway completions` supports. */
export type CompletionShell = typeof completionShells[number];

/** The top-level options, completed after `spillway`. */
const GLOBAL_OPTIONS = ["--help", "--version", "--trace"];

/**
 * A completion script for a shell, generated from the commands' declared options.
 *
 * @param shell bash, zsh or fish.
 * @param commands The commands (with their specs).
 * @returns The script.
 */
export function completionScript(shell: CompletionShell, commands: readonly Command[]): string {
  const specs = commands.flatMap((command) => command.spec === undefined ? [] : [command.spec]);
  if (shell === "bash") return bashScript(specs);
  if (shell === "zsh") return zshScript(specs);
  return fishScript(specs);
}

/** The options a shell offers (hidden ones too: they are real spellings). */
function shownOptions(spec: CommandSpec): OptionDecl[] {
  return optionsOf(spec);
}

/** Long names of an option (an internal one-letter name such as sort's `c` has none). */
function longNames(decl: OptionDecl): string[] {
  return [...(decl.name.length > 1 ? [decl.name] : []), ...(decl.aliases ?? [])];
}

/** Every spelling of an option: `-s`, `--name`, `--alias`. */
function spellings(decl: OptionDecl): string[] {
  return [
    ...(decl.short === undefined ? [] : [`-${decl.short}`]),
    ...longNames(decl).map((name) => `--${name}`),
  ];
}

/** A short description for a shell: the help's first clause, plain characters only. */
function describe(text: string): string {
  const first = text.split(/[;:\n]| \(/)[0] ?? text;
  return first.replace(/[^A-Za-z0-9 ,./+-]/g, "").trim().slice(0, 70);
}

function bashScript(specs: readonly CommandSpec[]): string {
  const cases = specs.map((spec) => {
    const valueCases = shownOptions(spec).filter((decl) => decl.type === "value").map((decl) => {
      const reply = decl.choices !== undefined
        ? `COMPREPLY=($(compgen -W "${decl.choices.join(" ")}" -- "$cur"))`
        : decl.completes === "directory"
        ? `COMPREPLY=($(compgen -d -- "$cur"))`
        : decl.completes === "file"
        ? `COMPREPLY=($(compgen -f -- "$cur"))`
        : "COMPREPLY=()";
      return `        ${spellings(decl).join("|")}) ${reply}; return ;;`;
    });
    const words = shownOptions(spec).flatMap(spellings).join(" ");
    const operands = spec.operands === "none"
      ? "COMPREPLY=()"
      : `COMPREPLY=($(compgen -f -- "$cur"))`;
    return [
      `    ${spec.name})`,
      ...(valueCases.length === 0 ? [] : ['      case "$prev" in', ...valueCases, "      esac"]),
      `      if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "${words}" -- "$cur"));`,
      `      else ${operands}; fi ;;`,
    ].join("\n");
  });
  const names = specs.map((spec) => spec.name).join(" ");
  return `# bash completion for spillway (generated: spillway completions bash)
_spillway() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${names} ${GLOBAL_OPTIONS.join(" ")}" -- "$cur"))
    return
  fi
  case "\${COMP_WORDS[1]}" in
${cases.join("\n")}
  esac
}
complete -F _spillway spillway
`;
}

function zshScript(specs: readonly CommandSpec[]): string {
  const commandList = specs.map((spec) => `    '${spec.name}:${describe(spec.summary)}'`);
  const cases = specs.map((spec) => {
    const args = shownOptions(spec).map((decl) => {
      const names = spellings(decl);
      const exclusive = names.length > 1 ? `'(${names.join(" ")})'` : "";
      const action = decl.type === "flag"
        ? ""
        : decl.choices !== undefined
        ? `:${decl.valueName ?? "value"}:(${decl.choices.join(" ")})`
        : decl.completes === "directory"
        ? `:${decl.valueName ?? "dir"}:_files -/`
        : decl.completes === "file"
        ? `:${decl.valueName ?? "file"}:_files`
        : `:${decl.valueName ?? "value"}: `;
      const one = (name: string): string => {
        const equals = decl.type === "value" && name.startsWith("--") ? "=" : "";
        return `${exclusive}'${name}${equals}[${describe(decl.help)}]${action}'`;
      };
      return names.map((name) => `        ${one(name)}`).join(" \\\n");
    });
    const operands = spec.operands === "none" ? [] : ["        '*:file:_files'"];
    return [
      `    ${spec.name})`,
      "      _arguments -s \\",
      [...args, ...operands].join(" \\\n"),
      "      ;;",
    ]
      .join("\n");
  });
  return `#compdef spillway
# zsh completion for spillway (generated: spillway completions zsh)
_spillway() {
  local -a commands
  commands=(
${commandList.join("\n")}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  shift words
  (( CURRENT-- ))
  case \${words[1]} in
${cases.join("\n")}
  esac
}
_spillway "$@"
`;
}

function fishScript(specs: readonly CommandSpec[]): string {
  const lines = [
    "# fish completion for spillway (generated: spillway completions fish)",
    "complete -c spillway -f",
  ];
  for (const spec of specs) {
    lines.push(
      `complete -c spillway -n __fish_use_subcommand -a ${spec.name} -d '${
        describe(spec.summary)
      }'`,
    );
  }
  for (const spec of specs) {
    const when = `-n '__fish_seen_subcommand_from ${spec.name}'`;
    if (spec.operands !== "none") lines.push(`complete -c spillway ${when} -F`);
    for (const decl of shownOptions(spec)) {
      const names = [
        ...(decl.short === undefined ? [] : [`-s ${decl.short}`]),
        ...longNames(decl).map((name) => `-l ${name}`),
      ].join(" ");
      const value = decl.type === "flag"
        ? ""
        : decl.choices !== undefined
        ? ` -x -a '${decl.choices.join(" ")}'`
        : decl.completes === "directory"
        ? " -x -a '(__fish_complete_directories)'"
        : decl.completes === "file"
        ? " -r -F"
        : " -x";
      lines.push(`complete -c spillway ${when} ${names}${value} -d '${describe(decl.help)}'`);
    }
  }
  return lines.join("\n") + "\n";
}

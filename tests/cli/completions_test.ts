import { strictEqual } from "node:assert/strict";
import { completionScript, completionShells, loadCommands } from "../../src/cli/mod.ts";
import { optionsOf } from "../../src/cli/option_spec.ts";

const commands = await loadCommands();

async function bash(script: string, words: string[]): Promise<string> {
  const setup = `COMP_WORDS=(${words.map((word) => `'${word}'`).join(" ")}); COMP_CWORD=${
    words.length - 1
  }; _spillway; echo "\${COMPREPLY[@]}"`;
  const output = await new Deno.Command("bash", {
    args: ["-c", `${script}\n${setup}`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  strictEqual(output.success, true, new TextDecoder().decode(output.stderr));
  return new TextDecoder().decode(output.stdout).trim();
}

Deno.test("The bash completion parses and completes commands, options and choices", async () => {
  const script = completionScript("bash", commands);
  const syntax = await new Deno.Command("bash", { args: ["-n", "-c", script] }).output();
  strictEqual(syntax.success, true);
  strictEqual(await bash(script, ["spillway", "co"]), "count completions");
  strictEqual(await bash(script, ["spillway", "sort", "--sp"]), "--spill");
  strictEqual(await bash(script, ["spillway", "sort", "--spill", ""]), "file mmap auto");
  strictEqual(await bash(script, ["spillway", "count", "--tok"]), "--tokenizer");
  strictEqual(await bash(script, ["spillway", "merge", "--fo"]), "--format");
});

Deno.test("Every shell's completion names every declared long option of every command", () => {
  for (const shell of completionShells) {
    const script = completionScript(shell, commands);
    for (const command of commands) {
      strictEqual(script.includes(command.name), true, `${shell}: ${command.name}`);
      for (const option of optionsOf(command.spec!)) {
        if (option.name.length === 1) continue; // sort's internal -c/-C
        const spelled = shell === "fish" ? `-l ${option.name}` : `--${option.name}`;
        strictEqual(script.includes(spelled), true, `${shell}: ${command.name} ${spelled}`);
      }
    }
  }
});

Deno.test("spillway completions rejects an unknown shell with exit 2", async () => {
  const { runCli } = await import("../../src/cli/mod.ts");
  strictEqual(await runCli(["completions", "tcsh"]), 2);
});

import { strictEqual } from "node:assert/strict";
import { loadCommands } from "../../src/cli/mod.ts";

const commands = await loadCommands();

Deno.test("docs/cli.md is the commands' current help (regenerate: deno run -A scripts/cli_docs.ts)", async () => {
  const docs = await Deno.readTextFile(new URL("../../docs/cli.md", import.meta.url));
  for (const command of commands) {
    strictEqual(docs.includes(command.help), true, `docs/cli.md lacks the help of ${command.name}`);
  }
  const { topLevelHelp } = await import("../../src/cli/mod.ts");
  strictEqual(docs.includes(topLevelHelp()), true, "docs/cli.md lacks spillway --help");
});

Deno.test("docs/spillway.1 is the current man page (regenerate: deno run -A scripts/cli_docs.ts)", async () => {
  const { manPage } = await import("../../src/cli/mod.ts");
  const { MAN_SUMMARY } = await import("../../scripts/cli_docs.ts");
  const page = await Deno.readTextFile(new URL("../../docs/spillway.1", import.meta.url));
  strictEqual(page, manPage(commands, MAN_SUMMARY));
});

Deno.test("Every doc a help text or another doc points to exists", async () => {
  const root = new URL("../../", import.meta.url);
  const texts = [
    ...commands.map((command) => command.help),
    await Deno.readTextFile(new URL("docs/cli.md", root)),
  ];
  for (const text of texts) {
    for (const [path] of text.matchAll(/docs\/[a-z_-]+\.md/g)) {
      const exists = await Deno.stat(new URL(path, root)).then(() => true, () => false);
      strictEqual(exists, true, `${path} is referenced but missing`);
    }
  }
});

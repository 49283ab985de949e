import { deepStrictEqual } from "node:assert/strict";
import type { Command } from "../../src/cli/mod.ts";
import { optionNames, stepSchema } from "../../src/cli/run_command.ts";

const fake: Command = {
  name: "fake",
  summary: "a fake command",
  help: `Usage: spillway fake [OPTION]... FILE...

Mentions --not-an-option in prose, and sorts with --record-size 100.

Options:
  -r, --reverse                reverse
  -S, --buffer-size, --memory=SIZE
                               the budget; see also --also-prose
      --check[=diagnose-first] check
      --fan-in=N               fan-in
  --progress, --no-progress   progress (a runner option)
  --stats[=text|json|yaml]    stats (a runner option)
  --stats-file PATH           stats file (a runner option)

Not supported (a clear error): --random-source, --sort=WORD`,
  run: () => Promise.resolve(0),
};

Deno.test("optionNames reads option lines only, without runner options or unsupported ones", () => {
  deepStrictEqual(optionNames(fake), ["reverse", "buffer-size", "memory", "check", "fan-in"]);
  deepStrictEqual(
    stepSchema(new Map([["fake", fake]])),
    new Map([["fake", ["reverse", "buffer-size", "memory", "check", "fan-in"]]]),
  );
});

import { deepStrictEqual } from "node:assert/strict";
import type { Command } from "../../src/cli/mod.ts";
import { reportOptions } from "../../src/cli/common_options.ts";
import { stepSchema } from "../../src/cli/run_command.ts";
import { stepCommands } from "../../src/cli/step_commands.ts";

const fake: Command = {
  name: "fake",
  summary: "a fake command",
  help: "Usage: spillway fake --mentions-prose-only",
  spec: {
    name: "fake",
    summary: "a fake command",
    usage: ["spillway fake [OPTION]... FILE..."],
    description: "Mentions --not-an-option in prose.",
    groups: [
      {
        title: "Options",
        options: [
          { name: "reverse", short: "r", type: "flag", help: "reverse" },
          {
            name: "memory",
            short: "S",
            aliases: ["buffer-size"],
            type: "value",
            help: "the budget; see also --also-prose",
          },
          { name: "c", short: "c", type: "flag", step: false, help: "check" },
          { name: "check", type: "value", hidden: true, help: "check" },
          { name: "fan-in", type: "value", help: "fan-in" },
        ],
      },
      reportOptions,
    ],
    unsupported: [{ name: "random-source", type: "value" }],
    footer: "Not supported: --random-source",
  },
  run: () => Promise.resolve(0),
};

Deno.test("stepSchema takes declared options and aliases, not runner, internal or unsupported ones", () => {
  deepStrictEqual(
    stepSchema(new Map([["fake", fake]])),
    new Map([["fake", ["reverse", "memory", "buffer-size", "check", "fan-in"]]]),
  );
});

Deno.test("stepSchema of the real step commands keeps the keys job files use", () => {
  const schema = stepSchema(stepCommands);
  deepStrictEqual([...schema.keys()], ["gen", "sort", "count", "merge"]);
  for (const key of ["reverse", "unique", "memory", "segment-size", "tmp-dir", "key", "fan-in"]) {
    deepStrictEqual(schema.get("sort")!.includes(key), true, `sort ${key}`);
  }
  for (const key of ["top", "tokenizer", "memory", "threads", "format", "output"]) {
    deepStrictEqual(schema.get("count")!.includes(key), true, `count ${key}`);
  }
  deepStrictEqual(schema.get("merge")!.includes("sum"), true);
  deepStrictEqual(schema.get("gen")!.includes("kind"), true);
  for (const [name, keys] of schema) {
    for (const runnerOnly of ["progress", "stats", "stats-file", "debug"]) {
      deepStrictEqual(keys.includes(runnerOnly), false, `${name} ${runnerOnly}`);
    }
  }
});

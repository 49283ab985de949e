import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { UsageError } from "../../src/base/mod.ts";
import {
  type CommandSpec,
  optionLabel,
  parseBySpec,
  renderHelp,
  stepOptionNames,
  wrap,
} from "../../src/cli/option_spec.ts";

const spec: CommandSpec = {
  name: "demo-spec",
  summary: "a spec for tests",
  usage: ["spillway demo-spec [OPTION]... FILE..."],
  description: "Does nothing.",
  groups: [{
    title: "Options",
    options: [
      { name: "reverse", short: "r", type: "flag", help: "reverse the order" },
      {
        name: "memory",
        short: "S",
        aliases: ["buffer-size"],
        type: "value",
        valueName: "SIZE",
        help: "the budget",
      },
      { name: "hidden-one", type: "flag", hidden: true, help: "not shown" },
    ],
  }],
  unsupported: [{ name: "random-source", type: "value" }],
  footer: "Exit codes: 0 ok.",
};

Deno.test("parseBySpec folds aliases into the name in command-line order (last wins)", () => {
  const parsed = parseBySpec(spec, ["-S", "1m", "--buffer-size=2m", "a", "--memory", "3m"]);
  deepStrictEqual(parsed.values["memory"], ["1m", "2m", "3m"]);
  strictEqual(parsed.values["buffer-size"], undefined);
  deepStrictEqual(parsed.positionals, ["a"]);
  deepStrictEqual(parseBySpec(spec, ["--buffer-size", "5m", "-S", "4m"]).values["memory"], [
    "5m",
    "4m",
  ]);
  strictEqual(parseBySpec(spec, ["--no-reverse"]).values["reverse"], false);
  deepStrictEqual(parseBySpec(spec, ["--random-source=x"]).values["random-source"], ["x"]);
});

Deno.test("parseBySpec reports an unknown option with the command's help hint", () => {
  throws(
    () => parseBySpec(spec, ["--frobnicate"]),
    (error) =>
      error instanceof UsageError && /see 'spillway demo-spec --help'$/.test(error.message),
  );
});

Deno.test("renderHelp lines up labels, wraps help, hides hidden options", () => {
  const help = renderHelp(spec);
  strictEqual(
    help.startsWith("Usage: spillway demo-spec [OPTION]... FILE...\n\nDoes nothing."),
    true,
  );
  strictEqual(help.includes("  -r, --reverse                reverse the order\n"), true);
  strictEqual(help.includes("  -S, --memory, --buffer-size=SIZE\n"), true);
  strictEqual(help.includes("hidden-one"), false);
  strictEqual(help.endsWith("\n\nExit codes: 0 ok."), true);
  strictEqual(optionLabel({ name: "fan-in", type: "value", help: "" }), "    --fan-in=VALUE");
  deepStrictEqual(stepOptionNames(spec), ["reverse", "memory", "buffer-size", "hidden-one"]);
});

Deno.test("wrap breaks at spaces within the width and at newlines", () => {
  deepStrictEqual(wrap("aa bb cc dd", 5), ["aa bb", "cc dd"]);
  deepStrictEqual(wrap("one\ntwo three", 20), ["one", "two three"]);
  deepStrictEqual(wrap("", 10), []);
});

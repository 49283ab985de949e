import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { UsageError } from "../../src/base/mod.ts";
import { normalizeSortArgs } from "../../src/cli/sort_args.ts";
import { sortSpec } from "../../src/cli/sort_spec.ts";
import { commandEntries } from "../../src/cli/commands.ts";
import {
  type CommandSpec,
  informationAsked,
  informationOptions,
  optionLabel,
  optionsOf,
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

const informed: CommandSpec = {
  ...spec,
  groups: [...spec.groups, informationOptions(true)],
};

Deno.test("informationAsked finds --help, -h and --version where the parser reads options", () => {
  strictEqual(informationAsked(informed, ["--version"]), "version");
  strictEqual(informationAsked(informed, ["a", "-r", "--help", "--version"]), "help");
  strictEqual(informationAsked(informed, ["-rh"]), "help");
  // Beside an option the run would refuse, or a missing value, as GNU's --help anywhere.
  strictEqual(informationAsked(informed, ["--frobnicate", "--version"]), "version");
  strictEqual(informationAsked(informed, ["--version", "-S"]), "version");
  // A value, an operand after --, a negation or an argument given to it are not the option.
  strictEqual(informationAsked(informed, ["-S", "--help"]), undefined);
  strictEqual(informationAsked(informed, ["--buffer-size", "--version"]), undefined);
  strictEqual(informationAsked(informed, ["--", "--version", "-h"]), undefined);
  strictEqual(informationAsked(informed, ["--no-help", "--help=x", "a"]), undefined);
  strictEqual(informationAsked(informed, ["-V", "a"]), undefined);
  // Where the command has its own -h (sort, merge: --human-numeric-sort), -h is not help.
  const ownH: CommandSpec = {
    ...spec,
    groups: [{ title: "O", options: [{ name: "human", short: "h", type: "flag", help: "" }] }, {
      ...informationOptions(false),
    }],
  };
  strictEqual(informationAsked(ownH, ["-h"]), undefined);
  strictEqual(informationAsked(ownH, ["-h", "--help"]), "help");
});

Deno.test("Every command declares --help and --version; -h is --help unless it has its own", async () => {
  for (const entry of commandEntries) {
    const command = await entry.load();
    const options = optionsOf(command.spec!);
    const names = options.map((option) => option.name);
    strictEqual(names.includes("help") && names.includes("version"), true, entry.name);
    const ownH = options.some((option) => option.short === "h" && option.name !== "help");
    strictEqual(
      informationAsked(command.spec!, command.normalizeArgs?.(["-h"]) ?? ["-h"]),
      ownH ? undefined : "help",
      entry.name,
    );
    strictEqual(ownH, entry.name === "sort" || entry.name === "merge", entry.name);
  }
});

Deno.test("sort takes every exact long option as itself, never as a prefix of a longer one", () => {
  const names = [
    ...optionsOf(sortSpec).flatMap((option) => [option.name, ...(option.aliases ?? [])]),
    ...(sortSpec.unsupported ?? []).map((option) => option.name),
  ].filter((name) => name.length > 1);
  const prefixes = names.filter((name) =>
    names.some((other) => other !== name && other.startsWith(name))
  );
  // The cases this is about: version/version-sort, key/key-bytes, stats/stats-file, ...
  strictEqual(prefixes.includes("version") && prefixes.includes("key"), true, `${prefixes}`);
  for (const name of names) {
    strictEqual(normalizeSortArgs([`--${name}`]).args[0]!.split("=")[0], `--${name}`, name);
  }
  // Abbreviations still work as in GNU sort, and one that fits --version and --version-sort
  // is ambiguous there too.
  deepStrictEqual(normalizeSortArgs(["--he", "--rev"]).args, ["--help", "--reverse"]);
  deepStrictEqual(normalizeSortArgs(["--version-s"]).args, ["--version-sort"]);
  for (const text of ["--v", "--ver", "--versio"]) {
    throws(
      () => normalizeSortArgs([text]),
      (error) =>
        error instanceof UsageError &&
        error.message ===
          `Option '${text}' is ambiguous; possibilities: '--version-sort' '--version'`,
      text,
    );
  }
});

import { match, ok, strictEqual } from "node:assert/strict";
import { runSpillway } from "../_support/cli.ts";

Deno.test("spillway --help lists the commands and exits 0", async () => {
  const result = await runSpillway(["--help"]);
  strictEqual(result.code, 0);
  match(result.stdout, /^spillway \d+\.\d+\.\d+: sort and count text/);
  match(result.stdout, /Commands:/);
  strictEqual(result.stderr, "");
});

Deno.test("spillway --version prints the version", async () => {
  const result = await runSpillway(["--version"]);
  strictEqual(result.code, 0);
  match(result.stdout, /^spillway \d+\.\d+\.\d+\n$/);
});

Deno.test("spillway with no command prints help and exits 2", async () => {
  const result = await runSpillway([]);
  strictEqual(result.code, 2);
  match(result.stdout, /Usage: spillway <command>/);
});

Deno.test("An unknown command is one line on stderr with a hint, exit 2", async () => {
  const result = await runSpillway(["frobnicate"]);
  strictEqual(result.code, 2);
  strictEqual(result.stdout, "");
  const lines = result.stderr.trimEnd().split("\n");
  strictEqual(lines.length, 1);
  match(
    lines[0]!,
    /^spillway: Unknown command "frobnicate"; commands are .*; see 'spillway --help'$/,
  );
});

Deno.test("An unknown option is one line on stderr with a hint, exit 2", async () => {
  for (const args of [["--frobnicate"], ["demo", "--frobnicate"]]) {
    const result = await runSpillway(args);
    strictEqual(result.code, 2, args.join(" "));
    const lines = result.stderr.trimEnd().split("\n");
    strictEqual(lines.length, 1, result.stderr);
    match(lines[0]!, /^spillway: Unknown option '--frobnicate'; see 'spillway (demo )?--help'$/);
    ok(!/\bat\b.*\.ts:\d+/.test(result.stderr), "no stack trace");
  }
});

import { match, ok, strictEqual } from "node:assert/strict";
import { commandEntries, VERSION } from "../../src/cli/mod.ts";
import { runSpillway } from "../_support/cli.ts";

const encoder = new TextEncoder();

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

Deno.test("Every command's --version prints the version and reads no input", async () => {
  for (const { name } of commandEntries) {
    const result = await runSpillway([name, "--version"], { stdin: encoder.encode("b\na\n") });
    strictEqual(result.code, 0, name);
    strictEqual(result.stdout, `spillway ${VERSION}\n`, name);
    strictEqual(result.stderr, "", name);
  }
});

Deno.test("Every command's --help prints its help and reads no input", async () => {
  for (const { name } of commandEntries) {
    for (const args of [[name, "--help"], ["help", name], [name, "-x", "--help"]]) {
      const result = await runSpillway(args, { stdin: encoder.encode("b\na\n") });
      strictEqual(result.code, 0, args.join(" "));
      match(result.stdout, new RegExp(`^Usage: spillway ${name}\\b`), args.join(" "));
      match(result.stdout, /--version +print spillway's version and exit/, args.join(" "));
    }
  }
});

Deno.test("sort and merge keep GNU's -V and -h; an exact --version wins over --version-sort", async () => {
  const stdin = encoder.encode("a10\na9\n2K\n1M\n");
  const run = async (args: string[]) => await runSpillway(args, { stdin });
  strictEqual((await run(["sort", "-V"])).stdout, "1M\n2K\na9\na10\n");
  strictEqual((await run(["sort", "--version-sort"])).stdout, "1M\n2K\na9\na10\n");
  strictEqual((await run(["sort", "--version-s"])).stdout, "1M\n2K\na9\na10\n");
  strictEqual((await run(["sort", "-h"])).stdout, "a10\na9\n2K\n1M\n");
  match((await run(["sort", "--he"])).stdout, /^Usage: spillway sort/);
  const ambiguous = await run(["sort", "--vers"]);
  strictEqual(ambiguous.code, 2);
  strictEqual(
    ambiguous.stderr,
    "spillway: Option '--vers' is ambiguous; possibilities: '--version-sort' '--version'\n",
  );
  // After --, --version is a file name, as in GNU sort.
  const operand = await run(["sort", "--", "--version"]);
  strictEqual(operand.code, 2);
  match(operand.stderr, /Cannot read --version: no such file/);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/a`, "1K\n1M\n");
    await Deno.writeTextFile(`${dir}/b`, "2K\n1G\n");
    const merged = await runSpillway(["merge", "-h", `${dir}/a`, `${dir}/b`]);
    strictEqual(merged.stdout, "1K\n2K\n1M\n1G\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("demo refuses an operand (such as --version after --) instead of running", async () => {
  const result = await runSpillway(["demo", "--", "--version"]);
  strictEqual(result.code, 2);
  strictEqual(result.stdout, "");
  strictEqual(
    result.stderr,
    'spillway: Unexpected operand "--version"; usage: spillway demo [--job FILE]\n',
  );
});

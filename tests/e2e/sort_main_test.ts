/**
 * `main.ts sort` as a subprocess (few spawns): stdin to stdout, GNU's -c message, exit codes.
 */
import { strictEqual } from "node:assert/strict";
import { SPILLWAY_MAIN } from "../_support/cli.ts";

async function spillway(
  args: string[],
  stdin: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SPILLWAY_MAIN, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(stdin));
  await writer.close();
  const out = await child.output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("main.ts sort reads stdin, spills on a 64 KiB budget and writes stdout", async () => {
  const lines = Array.from({ length: 20000 }, (_, i) => `line ${(i * 7919) % 20000}`);
  const expected = [...lines].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const tmp = await Deno.makeTempDir();
  try {
    const result = await spillway(
      ["sort", "-S", "64k", "--segment-size", "4k", "-T", tmp],
      lines.join("\n"),
    );
    strictEqual(result.code, 0, result.stderr);
    strictEqual(result.stdout, expected.join("\n") + "\n");
    strictEqual([...Deno.readDirSync(tmp)].length, 0);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("main.ts sort -c prints GNU's disorder message and exits 1", async () => {
  const result = await spillway(["sort", "-c"], "a\nc\nb\nd\n");
  strictEqual(result.code, 1);
  strictEqual(result.stderr, "spillway: -:3: disorder: b\n");
  strictEqual(result.stdout, "");
});

Deno.test("main.ts sort --stats counts the bytes read, not the terminator appended to an input without one", async () => {
  const result = await spillway(["sort", "--stats=json"], "b\na");
  strictEqual(result.code, 0, result.stderr);
  strictEqual(result.stdout, "a\nb\n");
  strictEqual(JSON.parse(result.stderr).input.bytes, 3);
});

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { runCli } from "../../src/cli/mod.ts";
import { CorpusGenerator, RECORD_BYTES } from "../../src/gen/mod.ts";
import { MemoryManager } from "../../src/memory/mod.ts";
import { SPILLWAY_MAIN } from "../_support/cli.ts";

function expectedCorpus(kind: "text" | "lines" | "records", sizeBytes: number, seed: number) {
  const memory = new MemoryManager({ budgetBytes: 8 * 1024 * 1024 });
  using generator = new CorpusGenerator(memory, { kind, sizeBytes, seed });
  const buffer = new Uint8Array(sizeBytes + 4096);
  return buffer.slice(0, generator.fill(buffer, 0, buffer.length));
}

Deno.test("spillway gen writes the library's corpus to -o atomically", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spillway-gen-test-" });
  try {
    const path = `${dir}/corpus.txt`;
    strictEqual(await runCli(["gen", "text", "--size", "20k", "--seed", "4", "-o", path]), 0);
    deepStrictEqual(await Deno.readFile(path), expectedCorpus("text", 20 * 1024, 4));
    strictEqual(await runCli(["gen", "--kind=unique", "--size=5000", `--output=${path}`]), 0);
    deepStrictEqual(await Deno.readFile(path), expectedCorpus("lines", 5000, 1));
    strictEqual(await runCli(["gen", "gensort", "--size", "1k", "-o", path]), 0);
    strictEqual((await Deno.readFile(path)).length, 11 * RECORD_BYTES);
    const entries = [];
    for await (const entry of Deno.readDir(dir)) entries.push(entry.name);
    deepStrictEqual(entries, ["corpus.txt"], "no temporary files left");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spillway gen rejects bad usage with exit code 2 and leaves no output", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spillway-gen-test-" });
  try {
    const path = `${dir}/out.txt`;
    strictEqual(await runCli(["gen", "-o", path]), 2, "missing kind");
    strictEqual(await runCli(["gen", "poems", "-o", path]), 2, "unknown kind");
    strictEqual(await runCli(["gen", "text", "--size", "12q", "-o", path]), 2, "bad size");
    strictEqual(await runCli(["gen", "text", "--seed", "-3", "-o", path]), 2, "bad seed");
    strictEqual(await runCli(["gen", "text", "lines", "-o", path]), 2, "two kinds");
    strictEqual(await runCli(["gen", "text", "-S", "256", "-o", path]), 3, "budget too small");
    const entries = [];
    for await (const entry of Deno.readDir(dir)) entries.push(entry.name);
    deepStrictEqual(entries, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spillway gen ends quietly with exit 0 when stdout's reader goes away", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      SPILLWAY_MAIN,
      "gen",
      "lines",
      "--size",
      "1g",
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.getReader();
  const first = await reader.read();
  strictEqual(first.done, false);
  await reader.cancel();
  const status = await child.status;
  const stderr = new TextDecoder().decode(
    (await new Response(child.stderr).arrayBuffer()) as ArrayBuffer,
  );
  strictEqual(stderr, "");
  strictEqual(status.code, 0);
});

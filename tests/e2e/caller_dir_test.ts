/**
 * Relative paths mean the caller's directory however spillway is started: `deno task spillway`
 * and `deno task demo` (which run in the project folder and pass deno task's INIT_CWD on), and
 * the command `deno task install` makes with `deno install -g`. The documented ways are quiet:
 * nothing on stderr when all goes well. (The compiled binary's case is in
 * compiled_binary_test.ts: it needs a denort runtime.)
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;
const CONFIG = `${ROOT}deno.json`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command in `cwd` as a user's shell would: without the INIT_CWD of our own task. */
async function runIn(cwd: string, command: string, args: string[]): Promise<Run> {
  const env = Deno.env.toObject();
  delete env["INIT_CWD"];
  delete env["SPILLWAY_CWD"];
  const output = await new Deno.Command(command, {
    args,
    cwd,
    env: { ...env, NO_COLOR: "1" },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

async function withCallerDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "spillway caller " }); // a space, on purpose
  try {
    await Deno.writeTextFile(`${dir}/in.txt`, "pear\napple\nfig\n");
    await Deno.mkdir(`${dir}/sub`);
    await Deno.writeTextFile(`${dir}/sub/sorted-1.txt`, "a\nc\n");
    await Deno.writeTextFile(`${dir}/sub/sorted-2.txt`, "b\nd\n");
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("deno task -q spillway reads and writes relative paths in the caller's directory, quietly", async () => {
  await withCallerDir(async (dir) => {
    const sorted = await runIn(dir, Deno.execPath(), [
      "task",
      "-q",
      "--config",
      CONFIG,
      "spillway",
      "sort",
      "-o",
      "out.txt",
      "in.txt",
    ]);
    deepStrictEqual([sorted.code, sorted.stderr], [0, ""]);
    strictEqual(await Deno.readTextFile(`${dir}/out.txt`), "apple\nfig\npear\n");
    // The README's merge example, from a subdirectory.
    const merged = await runIn(`${dir}/sub`, Deno.execPath(), [
      "task",
      "-q",
      "--config",
      CONFIG,
      "spillway",
      "merge",
      "-o",
      "all.txt",
      "sorted-1.txt",
      "sorted-2.txt",
    ]);
    deepStrictEqual([merged.code, merged.stderr], [0, ""]);
    strictEqual(await Deno.readTextFile(`${dir}/sub/all.txt`), "a\nb\nc\nd\n");
    // A missing relative input is looked for in the caller's directory, not the project's.
    const missing = await runIn(dir, Deno.execPath(), [
      "task",
      "-q",
      "--config",
      CONFIG,
      "spillway",
      "sort",
      "deno.json",
    ]);
    strictEqual(missing.code, 2, missing.stderr);
  });
});

Deno.test("deno task -q demo --job takes a job file relative to the caller's directory", async () => {
  await withCallerDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/job.yaml`,
      "steps:\n  - sort: { input: in.txt, output: sorted.txt }\n",
    );
    const demo = await runIn(dir, Deno.execPath(), [
      "task",
      "-q",
      "--config",
      CONFIG,
      "demo",
      "--job",
      "job.yaml",
    ]);
    deepStrictEqual([demo.code, demo.stderr], [0, ""], demo.stdout);
    strictEqual(await Deno.readTextFile(`${dir}/sorted.txt`), "apple\nfig\npear\n");
  });
});

Deno.test("deno task install makes a spillway command (deno install -g) that works anywhere", async () => {
  await withCallerDir(async (dir) => {
    const installed = await runIn(dir, Deno.execPath(), [
      "task",
      "-q",
      "--config",
      CONFIG,
      "install",
      "--root",
      "inst",
    ]);
    strictEqual(installed.code, 0, installed.stderr);
    const spillway = `${dir}/inst/bin/spillway`;
    const sorted = await runIn(`${dir}/sub`, spillway, ["sort", "-o", "out.txt", "../in.txt"]);
    deepStrictEqual([sorted.code, sorted.stderr], [0, ""]);
    strictEqual(await Deno.readTextFile(`${dir}/sub/out.txt`), "apple\nfig\npear\n");
    // A job file needs npm:yaml: the installed command carries the project's import map.
    await Deno.writeTextFile(
      `${dir}/job.yaml`,
      "steps:\n  - merge: { input: [sub/sorted-1.txt, sub/sorted-2.txt], output: all.txt }\n",
    );
    const job = await runIn(dir, spillway, ["run", "job.yaml"]);
    deepStrictEqual([job.code, job.stderr], [0, ""]);
    strictEqual(await Deno.readTextFile(`${dir}/all.txt`), "a\nb\nc\nd\n");
  });
});

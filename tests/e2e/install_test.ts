import { ok, strictEqual } from "node:assert/strict";
import { BUILT_MAIN, ensureBuilt } from "../../scripts/build.ts";
import { installArgs } from "../../scripts/install.ts";
import { COMPILED_PERMISSIONS, SPILLWAY_V8_FLAGS, wasmModules } from "../_support/compile.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** A task's command, whether deno.json declares it as a string or as an object. */
function taskCommand(task: string | { command: string }): string {
  return typeof task === "string" ? task : task.command;
}

Deno.test("every way to run spillway passes the same V8 flags", async () => {
  const tasks = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).tasks;
  for (const name of ["spillway", "demo", "conformance"]) {
    const command = taskCommand(tasks[name]);
    ok(command.includes(`--v8-flags=${SPILLWAY_V8_FLAGS} `), `${name}: ${command}`);
  }
  ok(/--v8-flags=[^ ]*--no-liftoff/.test(taskCommand(tasks.test)), taskCommand(tasks.test));
  // What users run is the built tree, rebuilt first when stale (scripts/build.ts).
  for (const name of ["spillway", "demo"]) {
    ok(taskCommand(tasks[name]).includes(` ${BUILT_MAIN}`), `${name} runs ${BUILT_MAIN}`);
  }
  for (const name of ["spillway", "demo", "conformance", "test"]) {
    ok(tasks[name].dependencies?.includes("build"), `${name} depends on build`);
  }
  ok(/--v8-flags=[^ ]*--no-liftoff/.test(tasks.bench), tasks.bench);
  ok(COMPILED_PERMISSIONS.includes(`--v8-flags=${SPILLWAY_V8_FLAGS}`));
  ok(
    (await installArgs(undefined)).includes(`--v8-flags=${SPILLWAY_V8_FLAGS}`),
    "deno task install",
  );
  for (const path of await wasmModules()) ok(path.startsWith("src/") && path.endsWith(".wasm"));
});

Deno.test("deno task install's command works with the shared memory's Workers", async () => {
  await ensureBuilt();
  ok((await installArgs(undefined)).at(-1)!.endsWith(`/${BUILT_MAIN}`), "installs the built tree");
  const root = await Deno.makeTempDir({ prefix: "spillway-install-" });
  try {
    const installed = await new Deno.Command(Deno.execPath(), {
      args: await installArgs(root),
      stdout: "piped",
      stderr: "piped",
    }).output();
    strictEqual(installed.code, 0, new TextDecoder().decode(installed.stderr));
    const run = async (args: string[], stdin: string) => {
      const child = new Deno.Command(`${root}/bin/spillway`, {
        args,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
        cwd: root,
      }).spawn();
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(stdin));
      await writer.close();
      const output = await child.output();
      return {
        code: output.code,
        stdout: new TextDecoder().decode(output.stdout),
        stderr: new TextDecoder().decode(output.stderr),
      };
    };
    // Enough lines for two sort buffers and spills: the sort Worker runs.
    const lines = Array.from({ length: 60000 }, (_, i) => `${(i * 7919) % 60000}`).join("\n");
    const sorted = await run(["sort", "-n", "-S", "1m", "--stats=json"], lines + "\n");
    strictEqual(sorted.code, 0, sorted.stderr);
    const numbers = sorted.stdout.trim().split("\n");
    strictEqual(numbers.length, 60000);
    strictEqual(numbers[0], "0");
    strictEqual(numbers.at(-1), "59999");
    const counted = await run(["count", "--top", "1"], "b a b\n");
    strictEqual(counted.code, 0, counted.stderr);
    strictEqual(counted.stdout, "b\t2\n");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

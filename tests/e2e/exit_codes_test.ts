import { ok, strictEqual } from "node:assert/strict";
import { runSpillway, spillwayDenoArgs } from "../_support/cli.ts";

// Exit codes and messages as README.md and docs/cli.md document them: 2 for a bad command line
// or input, 3 for what the budget cannot hold; one clear line, never node's parser wording.

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "spillway-exit-codes-test-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a record longer than the budget holds is a resource error (exit 3)", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/long.txt`, "x".repeat(10 << 20) + "\nshort\n");
    for (const args of [["sort", "-S", "8m"], ["sort", "-m", "-S", "8m"], ["merge", "-S", "8m"]]) {
      const result = await runSpillway([...args, "-T", dir, `${dir}/long.txt`]);
      strictEqual(result.code, 3, `${args.join(" ")}: ${result.stderr}`);
      ok(result.stderr.includes("does not fit the memory budget"), result.stderr);
      strictEqual(result.stdout, "");
    }
  });
});

Deno.test("fractional sizes are refused on the command line and in job files", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/in.txt`, "b\na\n");
    const cli = await runSpillway(["sort", "-S", "1.5M", `${dir}/in.txt`]);
    strictEqual(cli.code, 2, cli.stderr);
    strictEqual(
      cli.stderr,
      'spillway: Invalid -S/--memory size "1.5M": a fraction is not a size; use a whole number in a smaller unit (e.g. 1536k for 1.5m)\n',
    );
    strictEqual(cli.stdout, "");
    await Deno.writeTextFile(
      `${dir}/job.yaml`,
      "config:\n  taskmanager.memory.managed.size: 1.5\nsteps:\n  - sort: { input: in.txt, output: out.txt }\n",
    );
    const job = await runSpillway(["run", `${dir}/job.yaml`]);
    strictEqual(job.code, 2, job.stderr);
    ok(job.stderr.includes("taskmanager.memory.managed.size"), job.stderr);
    ok(job.stderr.includes("fraction"), job.stderr);
  });
});

Deno.test("a negative number for a number option gets the option's own message", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/in.txt`, "b a\n");
    const top = await runSpillway(["count", "--top", "-1", `${dir}/in.txt`]);
    strictEqual(top.code, 2, top.stderr);
    strictEqual(top.stderr, 'spillway: Invalid --top "-1": expected a whole number from 1 up\n');
    const seed = await runSpillway(["gen", "text", "--seed", "-1", "--size", "10"]);
    strictEqual(seed.code, 2, seed.stderr);
    ok(
      seed.stderr.startsWith('spillway: Invalid --seed "-1": expected a whole number'),
      seed.stderr,
    );
    ok(!seed.stderr.includes("ambiguous"), seed.stderr);
  });
});

Deno.test("the CLI exits as soon as its command returns: with its code, after the unload event", async () => {
  // main.ts ends the process with Deno.exit: a ref'd timer left behind (here by a preloaded
  // module, once the CLI runs: a preload's own timers run out before the main module starts)
  // does not hold the exit, and `unload` listeners (the progress line's) still run.
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/in.txt`, "b\na\n");
    await Deno.writeTextFile(
      `${dir}/preload.js`,
      `const get = Deno.env.get.bind(Deno.env);
let armed = false;
Deno.env.get = (name) => {
  if (!armed) setTimeout(() => {}, 60_000);
  armed = true;
  return get(name);
};
globalThis.addEventListener("unload", () => console.error("unload ran"));
`,
    );
    const cases = [[["sort", `${dir}/in.txt`], 0], [["sort", "-c", `${dir}/in.txt`], 1]] as const;
    for (const [args, code] of cases) {
      const [run, ...rest] = spillwayDenoArgs(args);
      const startedMs = performance.now();
      const output = await new Deno.Command(Deno.execPath(), {
        args: [run!, `--preload=${dir}/preload.js`, ...rest],
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).output();
      const elapsedMs = performance.now() - startedMs;
      const stderr = new TextDecoder().decode(output.stderr);
      strictEqual(output.code, code, stderr);
      ok(stderr.endsWith("unload ran\n"), stderr);
      if (code === 0) strictEqual(new TextDecoder().decode(output.stdout), "a\nb\n");
      ok(elapsedMs < 30_000, `the exit waited for the timer: ${elapsedMs.toFixed(0)} ms`);
    }
  });
});

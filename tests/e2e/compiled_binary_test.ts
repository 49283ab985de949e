import { match, strictEqual } from "node:assert/strict";
import { BUILT_MAIN, builtPath } from "../../scripts/build.ts";
import {
  compileArgs,
  denortSource,
  SPILLWAY_V8_FLAGS,
  wasmModules,
  workerModules,
} from "../_support/compile.ts";

const source = denortSource();
const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("compile task bakes in least-privilege permissions and includes worker modules", async () => {
  const args = await compileArgs("dist/spillway");
  for (
    const flag of [
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-ffi",
      "--allow-sys",
      // sort --compress-program runs the program the user names (GNU sort parity)
      "--allow-run",
    ]
  ) {
    strictEqual(args.includes(flag), true, flag);
  }
  strictEqual(args.some((arg) => /^--allow-(net|all)|^-A$/.test(arg)), false);
  for (const module of [...(await workerModules()).map(builtPath), ...await wasmModules()]) {
    strictEqual(args[args.indexOf(module) - 1], "--include", module);
  }
  strictEqual(args.includes(`--v8-flags=${SPILLWAY_V8_FLAGS}`), true);
  strictEqual(args.at(-1), BUILT_MAIN);
});

Deno.test({
  name: source === undefined
    ? "compiled binary smoke test (SKIPPED: no denort runtime: set DENORT_BIN to a denort of this Deno version, or run once on a connected machine)"
    : `compiled binary smoke test (runtime: ${source})`,
  ignore: source === undefined,
  sanitizeResources: true,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "spillway-compile-" });
    try {
      const binary = `${dir}/spillway`;
      const built = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", `${ROOT}tests/_support/compile.ts`, "--output", binary],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
      }).output();
      strictEqual(built.code, 0, new TextDecoder().decode(built.stderr));
      const run = async (args: string[], stdin?: string) => {
        const child = new Deno.Command(binary, {
          args,
          stdin: stdin === undefined ? "null" : "piped",
          stdout: "piped",
          stderr: "piped",
          cwd: dir,
        }).spawn();
        if (stdin !== undefined) {
          const writer = child.stdin.getWriter();
          await writer.write(new TextEncoder().encode(stdin));
          await writer.close();
        }
        const output = await child.output();
        return {
          code: output.code,
          stdout: new TextDecoder().decode(output.stdout),
          stderr: new TextDecoder().decode(output.stderr),
        };
      };
      const version = await run(["--version"]);
      strictEqual(version.code, 0, version.stderr);
      match(version.stdout, /^spillway \d+\.\d+\.\d+\n$/);
      const lines = Array.from({ length: 3000 }, (_, index) => `line ${(index * 7919) % 3000}`);
      const sorted = await run(["sort", "-S", "64k"], lines.join("\n") + "\n");
      strictEqual(sorted.code, 0, sorted.stderr);
      const expected = [...lines].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      strictEqual(sorted.stdout, expected.join("\n") + "\n");
      const counted = await run(["count"], "b a b c b a\n");
      strictEqual(counted.code, 0, counted.stderr);
      strictEqual(counted.stdout, "b\t3\na\t2\nc\t1\n");
      // Relative paths mean the directory the binary runs in (here `dir`), also for -o.
      await Deno.writeTextFile(`${dir}/in.txt`, "b\na\n");
      const relative = await run(["sort", "-o", "out.txt", "in.txt"]);
      strictEqual(relative.code, 0, relative.stderr);
      strictEqual(await Deno.readTextFile(`${dir}/out.txt`), "a\nb\n");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

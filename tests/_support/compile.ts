/**
 * `deno task compile`: builds the single executable `dist/spillway` with `deno compile` of the
 * built JavaScript, `dist/js/main.js` (scripts/build.ts; built first when missing or stale).
 *
 * - Least-privilege permissions are baked in: read, write, env, ffi (mmap spills), sys (RSS,
 *   console size), run (only the program a user names with `sort --compress-program`). No net.
 * - Worker modules (found by scanning src/ for `new Worker(new URL("...", import.meta.url)`; their
 *   built `.js` files) and WebAssembly modules (`src/**.wasm`, the kernels) are passed with
 *   `--include`, since `deno compile` only follows static imports.
 * - `deno compile` needs the runtime `denort`: it downloads it, or uses `DENORT_BIN` (a path to a
 *   denort binary of the same Deno version) when set; the variable is passed through as is.
 *
 * Usage: deno task compile [--output PATH] [--target TRIPLE]
 * Exit codes: 0 built; 1 deno compile failed (the reason is printed, with a hint when the runtime
 * could not be downloaded).
 *
 * @module
 */
// deno-lint-ignore-file no-console
import { BUILT_MAIN, builtPath, ensureBuilt } from "../../scripts/build.ts";

/**
 * The V8 flags spillway runs with, everywhere: the `spillway`, `demo` and `conformance` tasks,
 * the compiled binary, `deno install` (README) and the CLI tests (`tests/_support/cli.ts`).
 *
 * - `--max-semi-space-size=1`: a 1 MiB young generation keeps V8's heap from growing with the
 *   allocation rate, so peak RSS stays flat on large inputs (measured: sort of 1 GiB 148 -> 135
 *   MiB at -S 64m).
 * - `--no-liftoff`: WebAssembly kernels are compiled by the optimizing tier at once; a long
 *   single call otherwise runs to its end in the baseline tier (measured by
 *   tests/bench/v8_flags_bench.ts: 2.9x on a 64 MiB loop). No effect on JavaScript.
 */
export const SPILLWAY_V8_FLAGS = "--max-semi-space-size=1,--no-liftoff";

/** The permissions the compiled binary runs with (the same as `deno task spillway`). */
export const COMPILED_PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-ffi",
  "--allow-sys",
  "--allow-run",
  `--v8-flags=${SPILLWAY_V8_FLAGS}`,
];

const ROOT = new URL("../../", import.meta.url);

/**
 * Module files that are started as Workers (relative to the project root).
 *
 * @returns Paths such as `src/sort/sort_worker.ts`.
 */
export async function workerModules(): Promise<string[]> {
  const found = new Set<string>();
  const pattern = /new\s+Worker\s*\(\s*new\s+URL\(\s*["'`]([^"'`]+)["'`]\s*,\s*import\.meta\.url/g;
  async function scan(dir: URL, relative: string): Promise<void> {
    for await (const entry of Deno.readDir(dir)) {
      const childRelative = `${relative}${entry.name}`;
      if (entry.isDirectory) {
        await scan(new URL(`${entry.name}/`, dir), `${childRelative}/`);
      } else if (entry.isFile && entry.name.endsWith(".ts")) {
        const text = await Deno.readTextFile(new URL(entry.name, dir));
        for (const match of text.matchAll(pattern)) {
          const target = new URL(match[1]!, new URL(entry.name, dir));
          found.add(target.pathname.slice(ROOT.pathname.length));
        }
      }
    }
  }
  await scan(new URL("src/", ROOT), "src/");
  return [...found].sort();
}

/**
 * WebAssembly modules under src/ (relative to the project root): loaded at run time, so they
 * must be embedded with `--include`.
 *
 * @returns Paths such as `src/kernels/kernels.wasm`.
 */
export async function wasmModules(): Promise<string[]> {
  const found: string[] = [];
  async function scan(dir: URL, relative: string): Promise<void> {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory) {
        await scan(new URL(`${entry.name}/`, dir), `${relative}${entry.name}/`);
      } else if (entry.isFile && entry.name.endsWith(".wasm")) {
        found.push(`${relative}${entry.name}`);
      }
    }
  }
  await scan(new URL("src/", ROOT), "src/");
  return found.sort();
}

/**
 * The arguments of `deno compile` for spillway.
 *
 * @param output The executable's path.
 * @param target An optional target triple.
 * @returns The arguments after `deno`.
 */
export async function compileArgs(output: string, target?: string): Promise<string[]> {
  const workers = (await workerModules()).map(builtPath);
  const includes = [...workers, ...await wasmModules()].flatMap((path) => [
    "--include",
    path,
  ]);
  return [
    "compile",
    "--quiet",
    ...COMPILED_PERMISSIONS,
    ...includes,
    ...(target === undefined ? [] : ["--target", target]),
    "--output",
    output,
    BUILT_MAIN,
  ];
}

/**
 * Where a usable denort is, if any: `DENORT_BIN`, or the zip `deno compile` caches in DENO_DIR
 * after one download. Undefined means `deno compile` would have to download it.
 *
 * @returns A description of the runtime source, or undefined.
 */
export function denortSource(): string | undefined {
  const fromEnv = Deno.env.get("DENORT_BIN");
  if (fromEnv !== undefined && fromEnv !== "") {
    try {
      if (Deno.statSync(fromEnv).isFile) return `DENORT_BIN=${fromEnv}`;
    } catch {
      return undefined;
    }
  }
  const home = Deno.env.get("HOME") ?? "";
  const denoDir = Deno.env.get("DENO_DIR") ?? `${home}/.cache/deno`;
  const release = `${denoDir}/dl/release/v${Deno.version.deno}`;
  try {
    for (const entry of Deno.readDirSync(release)) {
      if (entry.name.startsWith("denort-")) return `${release}/${entry.name}`;
    }
  } catch {
    // no cache
  }
  return undefined;
}

async function main(args: string[]): Promise<number> {
  let output = "dist/spillway";
  let target: string | undefined = undefined;
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index]!;
    if (arg === "--output") output = args[++index] ?? output;
    else if (arg === "--target") target = args[++index];
    else {
      console.error(
        `compile: unknown argument "${arg}"; usage: deno task compile [--output PATH] [--target TRIPLE]`,
      );
      return 2;
    }
  }
  await ensureBuilt();
  const compile = await compileArgs(output, target);
  const source = denortSource();
  console.error(`compile: deno ${compile.join(" ")}`);
  console.error(
    `compile: runtime: ${
      source ?? "downloaded by deno compile (needs network access to dl.deno.land)"
    }`,
  );
  const result = await new Deno.Command(Deno.execPath(), {
    args: compile,
    cwd: ROOT.pathname,
    stdout: "inherit",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(result.stderr);
  if (!result.success) {
    console.error(stderr.trimEnd());
    if (/download|dl\.deno\.land|network|dns|connect/i.test(stderr)) {
      console.error(
        "compile: deno compile could not fetch its runtime (denort). On a machine without " +
          "network access, set DENORT_BIN to a denort binary of Deno " +
          `${Deno.version.deno} for this platform and run 'deno task compile' again`,
      );
    }
    return 1;
  }
  if (stderr.trim() !== "") console.error(stderr.trimEnd());
  console.error(`compile: built ${output}`);
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}

/**
 * `deno task install`: installs a `spillway` command with `deno install -g` (no compiling: the
 * command runs this checkout's built JavaScript, `dist/js/main.js` (scripts/build.ts: built
 * first when missing or stale), with the `spillway` task's flags, read from deno.json, and this
 * project's deno.json for its lock file). Prints the command it runs. The command runs the
 * tree as it is: after changing the sources, any task that runs spillway (or `deno task build`)
 * rebuilds it.
 *
 * Usage: deno task install [--root DIR]   (default: deno's, i.e. $DENO_INSTALL_ROOT or ~/.deno)
 * Exit codes: 0 installed; 2 usage; otherwise deno install's.
 *
 * @module
 */
// deno-lint-ignore-file no-console
import { BUILT_MAIN, ensureBuilt } from "./build.ts";
import { spillwayTaskFlags } from "./spillway_task.ts";

const ROOT = new URL("../", import.meta.url);

/**
 * The arguments of `deno install` for the `spillway` command.
 *
 * @param installRoot `--root` for deno install, or undefined for its default.
 * @returns Arguments for `deno`.
 */
export async function installArgs(installRoot: string | undefined): Promise<string[]> {
  return [
    "install",
    "--global",
    "--force",
    "--quiet",
    "--name",
    "spillway",
    ...(installRoot === undefined ? [] : ["--root", installRoot]),
    "--config",
    new URL("deno.json", ROOT).pathname,
    ...(await spillwayTaskFlags(ROOT)),
    new URL(BUILT_MAIN, ROOT).pathname,
  ];
}

async function main(args: string[]): Promise<number> {
  let installRoot: string | undefined;
  if (args.length === 2 && args[0] === "--root") {
    const callerDir = Deno.env.get("INIT_CWD") ?? Deno.cwd();
    installRoot = args[1]!.startsWith("/") ? args[1]! : `${callerDir}/${args[1]!}`;
  } else if (args.length !== 0) {
    console.error("Usage: deno task install [--root DIR]");
    return 2;
  }
  await ensureBuilt();
  const denoArgs = await installArgs(installRoot);
  console.error(`deno ${denoArgs.join(" ")}`);
  const status = await new Deno.Command(Deno.execPath(), {
    args: denoArgs,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (status.success) {
    const bin = `${installRoot ?? Deno.env.get("DENO_INSTALL_ROOT") ?? "~/.deno"}/bin`;
    console.error(`Installed ${bin}/spillway (add ${bin} to PATH if it is not there)`);
  }
  return status.code;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}

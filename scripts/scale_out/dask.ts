/**
 * `deno task scale-out:dask`: runs spillway as the map and reduce tasks of a Dask distributed
 * job (scripts/scale_out/dask_job.py) and checks the result against one spillway run.
 *
 * 1. Finds a Python 3 with `dask` and `distributed` (`SPILLWAY_DASK_PYTHON`, else Debian's
 *    `/usr/bin/python3`, else `python3`); when they are missing, installs Debian's
 *    `python3-distributed` and `python3-dask` with apt-get (through `sudo -n` when not root).
 * 2. Decides how the tasks run spillway, the way the job would ship it: `dist/spillway` when
 *    `deno task compile` built it, else `deno run` with the flags of the `spillway` task in
 *    deno.json.
 * 3. Starts the job with the remaining arguments; relative FILEs mean the caller's directory.
 *
 * Usage: deno task scale-out:dask [--job count|sort|both] [--splits N] [--reducers R]
 *        [--workers W] [--task-memory SIZE] [--inject-failure] [FILE...]
 *        (default FILEs: data/corpus/*.txt)
 * Exit codes: 0 every job equals the single run; 1 a job differs; 2 usage; 3 a task failed or
 * Dask is missing and cannot be installed.
 *
 * @module
 */
// deno-lint-ignore-file no-console

import { BUILT_MAIN, ensureBuilt } from "../build.ts";
import { spillwayTaskFlags } from "../spillway_task.ts";

const ROOT = new URL("../../", import.meta.url);
const JOB = new URL("scripts/scale_out/dask_job.py", ROOT).pathname;
const PACKAGES = ["python3-distributed", "python3-dask"];

/** Options of the job that take a value (so that the value is not read as a FILE). */
const VALUE_OPTIONS = new Set([
  "--job",
  "--splits",
  "--reducers",
  "--workers",
  "--worker-memory",
  "--task-memory",
  "--task-arg",
  "--samples-per-split",
  "--engine",
  "--report-json",
]);

/**
 * The command that runs spillway the way a job ships it: the compiled binary when one exists,
 * otherwise `deno run` of the built JavaScript (`main` builds it first when missing or stale:
 * scripts/build.ts) with exactly the flags of the `spillway` task in deno.json.
 *
 * @param root The project root (holds deno.json, main.ts and perhaps dist/spillway).
 * @returns argv without spillway's own arguments.
 * @throws {SyntaxError} When the task is not `[NAME=value...] deno run FLAGS... dist/js/main.js`.
 */
export async function spillwayCommand(root: URL = ROOT): Promise<string[]> {
  const binary = new URL("dist/spillway", root).pathname;
  try {
    const info = await Deno.stat(binary);
    if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) return [binary];
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const flags = await spillwayTaskFlags(root);
  return [Deno.execPath(), "run", ...flags, new URL(BUILT_MAIN, root).pathname];
}

async function succeeds(command: string, args: string[]): Promise<boolean> {
  try {
    const output = await new Deno.Command(command, { args, stdout: "null", stderr: "null" })
      .output();
    return output.success;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function pythonWithDask(): Promise<string | undefined> {
  const chosen = Deno.env.get("SPILLWAY_DASK_PYTHON");
  const candidates = chosen ? [chosen] : ["/usr/bin/python3", "python3"];
  for (const python of candidates) {
    if (await succeeds(python, ["-c", "import dask, distributed"])) return python;
  }
  return undefined;
}

async function aptGet(args: string[]): Promise<boolean> {
  const root = Deno.uid() === 0;
  const command = root ? "apt-get" : "sudo";
  const full = root ? args : ["-n", "apt-get", ...args];
  console.error(`Running: ${command} ${full.join(" ")}`);
  const status = await new Deno.Command(command, {
    args: full,
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  return status.success;
}

async function installDask(): Promise<string | undefined> {
  const hint = `install Debian's ${PACKAGES.join(" and ")} (or dask and distributed for ` +
    `another Python, named by SPILLWAY_DASK_PYTHON) and run again`;
  if (!(await succeeds("apt-get", ["--version"]))) {
    console.error(`Cannot run the Dask job: Dask is missing and apt-get is not available; ${hint}`);
    return undefined;
  }
  if (Deno.uid() !== 0 && !(await succeeds("sudo", ["-n", "true"]))) {
    console.error(
      `Cannot run the Dask job: Dask is missing and installing it needs root (sudo -n failed); ${hint}`,
    );
    return undefined;
  }
  console.error(`Dask is missing: installing ${PACKAGES.join(" ")} with apt-get`);
  const install = ["install", "-y", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=300"];
  let installed = await aptGet([...install, ...PACKAGES]);
  if (!installed) {
    // A fresh machine may have no package lists yet.
    installed = await aptGet(["update"]) && await aptGet([...install, ...PACKAGES]);
  }
  if (!installed) {
    console.error(`Cannot run the Dask job: apt-get could not install the packages; ${hint}`);
    return undefined;
  }
  const python = await pythonWithDask();
  if (python === undefined) {
    console.error(`Cannot run the Dask job: Dask is still not importable after apt-get; ${hint}`);
  }
  return python;
}

/**
 * Resolves the relative FILE arguments against the caller's directory (`deno task` runs in the
 * project root and says where the caller was in INIT_CWD).
 */
function resolveInputs(args: string[], callerDir: string): { args: string[]; files: number } {
  const resolved: string[] = [];
  let files = 0;
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index]!;
    if (VALUE_OPTIONS.has(arg)) {
      const value = args[index + 1] ?? "";
      const isPath = arg === "--report-json" && value !== "" && !value.startsWith("/");
      resolved.push(arg, isPath ? `${callerDir}/${value}` : value);
      index += 1;
    } else if (arg.startsWith("-")) {
      resolved.push(arg);
    } else {
      resolved.push(arg.startsWith("/") ? arg : `${callerDir}/${arg}`);
      files += 1;
    }
  }
  return { args: resolved, files };
}

async function main(args: string[]): Promise<number> {
  const callerDir = Deno.env.get("INIT_CWD") ?? Deno.cwd();
  const { args: jobArgs, files } = resolveInputs(args, callerDir);
  if (files === 0) {
    const corpus = new URL("data/corpus/", ROOT).pathname;
    const names = [...Deno.readDirSync(corpus)].map((entry) => entry.name)
      .filter((name) => name.endsWith(".txt")).sort();
    jobArgs.push(...names.map((name) => `${corpus}${name}`));
  }
  const python = (await pythonWithDask()) ?? (await installDask());
  if (python === undefined) return 3;
  await ensureBuilt();
  const spillway = await spillwayCommand();
  console.error(`python: ${python}; job: ${JOB}`);
  const status = await new Deno.Command(python, {
    args: [JOB, "--spillway-json", JSON.stringify(spillway), ...jobArgs],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  return status.code;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}

/**
 * The `deno run` flags of the `spillway` task in deno.json, read from there so that every way
 * of running spillway without compiling it (`deno install -g`, the Dask job's tasks) uses the
 * same ones.
 *
 * @module
 */
import { BUILT_MAIN } from "./build.ts";

/**
 * Reads the flags between `deno run` and the built `dist/js/main.js` of the `spillway` task
 * (leading `NAME=value` environment assignments are skipped; the task is a string or an object
 * with a `command`).
 *
 * @param root The project root (holds deno.json).
 * @returns Flags such as `--allow-read`, `--v8-flags=...`.
 * @throws {SyntaxError} When the task is not `[NAME=value...] deno run FLAGS... dist/js/main.js`.
 */
export async function spillwayTaskFlags(root: URL): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  const declared = config.tasks?.spillway;
  const task = String(typeof declared === "object" ? declared?.command ?? "" : declared ?? "");
  const words = task.trim().split(/\s+/);
  while (words.length > 0 && /^[A-Z_][A-Z0-9_]*=/.test(words[0]!)) words.shift();
  const flags = words.slice(2, -1);
  if (
    words[0] !== "deno" || words[1] !== "run" || words.at(-1) !== BUILT_MAIN ||
    flags.some((flag) => !flag.startsWith("--"))
  ) {
    throw new SyntaxError(`Cannot read the spillway task of deno.json: '${task}'`);
  }
  return flags;
}

/**
 * The `deno run` flags of the `spillway` task in deno.json, read from there so that every way
 * of running spillway from source (`deno install -g`, the Dask job's tasks) uses the same ones.
 *
 * @module
 */

/**
 * Reads the flags between `deno run` and `main.ts` of the `spillway` task (leading
 * `NAME=value` environment assignments are skipped).
 *
 * @param root The project root (holds deno.json).
 * @returns Flags such as `--allow-read`, `--v8-flags=...`.
 * @throws {SyntaxError} When the task is not `[NAME=value...] deno run FLAGS... main.ts`.
 */
export async function spillwayTaskFlags(root: URL): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  const task = String(config.tasks?.spillway ?? "");
  const words = task.trim().split(/\s+/);
  while (words.length > 0 && /^[A-Z_][A-Z0-9_]*=/.test(words[0]!)) words.shift();
  const flags = words.slice(2, -1);
  if (
    words[0] !== "deno" || words[1] !== "run" || words.at(-1) !== "main.ts" ||
    flags.some((flag) => !flag.startsWith("--"))
  ) {
    throw new SyntaxError(`Cannot read the spillway task of deno.json: '${task}'`);
  }
  return flags;
}

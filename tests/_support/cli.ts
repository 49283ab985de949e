/**
 * Runs spillway as users do: the built JavaScript (`dist/js/main.js`, scripts/build.ts), so the
 * end-to-end tests exercise what ships. Importing this module builds the tree when it is missing
 * or older than the sources (`deno task test` builds it first; a test file run on its own after
 * an edit then still runs the edited code).
 *
 * @module
 */
import { BUILT_MAIN, ensureBuilt } from "../../scripts/build.ts";
import { SPILLWAY_V8_FLAGS } from "./compile.ts";

/** The result of running the CLI in a child process. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  stdoutBytes: Uint8Array;
}

/** The entry point the CLI tests run: the built `dist/js/main.js`. */
export const SPILLWAY_MAIN = new URL(`../../${BUILT_MAIN}`, import.meta.url).pathname;

await ensureBuilt();

/**
 * The permissions `deno task spillway` grants (least privilege: no net; run only for the
 * program a user names with `sort --compress-program`).
 */
export const SPILLWAY_PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-ffi",
  "--allow-sys",
  "--allow-run",
];

/**
 * The arguments of `deno` that run the built `main.js` with the task's permissions and V8 flags.
 *
 * @param args The CLI arguments.
 * @returns `run --quiet <permissions> <flags> .../dist/js/main.js ...args`.
 */
export function spillwayDenoArgs(args: readonly string[]): string[] {
  return [
    "run",
    "--quiet",
    ...SPILLWAY_PERMISSIONS,
    `--v8-flags=${SPILLWAY_V8_FLAGS}`,
    SPILLWAY_MAIN,
    ...args,
  ];
}

/**
 * Runs the built `main.js` in a child process with the task's permissions.
 *
 * @param args The CLI arguments.
 * @param options stdin bytes, working directory and extra environment.
 */
export async function runSpillway(
  args: string[],
  options: { stdin?: Uint8Array; cwd?: string; env?: Record<string, string> } = {},
): Promise<CliResult> {
  const command = new Deno.Command(Deno.execPath(), {
    args: spillwayDenoArgs(args),
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    env: { NO_COLOR: "1", ...(options.env ?? {}) },
  });
  const child = command.spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(options.stdin);
    await writer.close();
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
    stdoutBytes: output.stdout,
  };
}

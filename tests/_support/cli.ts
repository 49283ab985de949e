import { SPILLWAY_V8_FLAGS } from "./compile.ts";

/** The result of running the CLI in a child process. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  stdoutBytes: Uint8Array;
}

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

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
 * The arguments of `deno` that run `main.ts` with the task's permissions and V8 flags.
 *
 * @param args The CLI arguments.
 * @returns `run --quiet <permissions> <flags> main.ts ...args`.
 */
export function spillwayDenoArgs(args: readonly string[]): string[] {
  return [
    "run",
    "--quiet",
    ...SPILLWAY_PERMISSIONS,
    `--v8-flags=${SPILLWAY_V8_FLAGS}`,
    MAIN,
    ...args,
  ];
}

/**
 * Runs `main.ts` in a child process with the task's permissions.
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

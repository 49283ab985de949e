import { runCli } from "./src/cli/mod.ts";

if (import.meta.main) {
  // `deno task spillway` and `deno task demo` run in the project folder; the tasks pass the
  // caller's directory (deno task's INIT_CWD) here, so that relative paths mean what the user
  // typed. The installed command and the compiled binary start where the user is.
  const callerDir = Deno.env.get("SPILLWAY_CWD");
  if (callerDir !== undefined && callerDir !== "") {
    try {
      Deno.chdir(callerDir);
    } catch (error) {
      // deno-lint-ignore no-console
      console.error(`spillway: Cannot change to the caller's directory ${callerDir}: ${error}`);
      Deno.exit(2);
    }
  }
  // runCli returns once the command is complete: its output committed and closed, its files
  // removed, its leak check and stats report done, its Workers ended. Exiting here (after the
  // `unload` event, which Deno.exit dispatches) skips only the runtime's own teardown of its
  // isolates and heaps (~3 ms of a 100 MiB sort's tail, docs/performance.md).
  Deno.exit(await runCli(Deno.args));
}

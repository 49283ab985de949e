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
  Deno.exitCode = await runCli(Deno.args);
}

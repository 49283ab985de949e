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
  holdFileSizeSignal();
  Deno.exitCode = await runCli(Deno.args);
}

/**
 * A write past the file size limit (`ulimit -f`) raises SIGXFSZ, whose default action ends the
 * process where it stands: temp files and a partial output left behind. With a listener the
 * write fails with EFBIG instead and takes the disk-error path (one line, exit 3, everything
 * removed). The listener stays for the whole process: removing the last one restores the
 * default action, which a write still in flight on another thread could then meet.
 */
function holdFileSizeSignal(): void {
  try {
    Deno.addSignalListener("SIGXFSZ", () => {});
  } catch {
    // no such signal here (Windows)
  }
}

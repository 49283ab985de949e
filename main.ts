import { runCli } from "./src/cli/mod.ts";

if (import.meta.main) {
  Deno.exitCode = await runCli(Deno.args);
}

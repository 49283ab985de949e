/**
 * A command waiting on a pipe still honours SIGTERM at once: exit 143, no output, no files
 * left (a cluster killing its map or reduce task; docs/scale-out.md, retries). With a blocking
 * read the signal waited for the next input and, when the input then ended, was lost (exit 0
 * with the output of a partial input).
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { SPILLWAY_MAIN, SPILLWAY_PERMISSIONS } from "../_support/cli.ts";
import { waitForSignalHandler } from "../_support/signal_ready.ts";

for (
  const args of [["count", "-"], ["sort", "-"], ["merge", "--sum", "-"]]
) {
  Deno.test(`spillway ${args.join(" ")} exits 143 on SIGTERM while waiting for input`, async () => {
    const tmp = await Deno.makeTempDir({ prefix: "spillway-sigterm-" });
    try {
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--quiet",
          ...SPILLWAY_PERMISSIONS,
          SPILLWAY_MAIN,
          args[0]!,
          "-T",
          tmp,
          ...args.slice(1),
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode("some\twords 1\nmore\t2\n"));
      // Let it start and block on the pipe (the writer stays open): wait for its SIGTERM
      // listener, then a little more.
      await waitForSignalHandler(child.pid, "SIGTERM");
      await new Promise((resolve) => setTimeout(resolve, 500));
      child.kill("SIGTERM");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const exited = await Promise.race([
        child.status,
        new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), 5000);
        }),
      ]);
      clearTimeout(timer);
      await writer.close().catch(() => {});
      const output = await child.output();
      strictEqual(exited?.code, 143, "did not exit 143 within 5 s of SIGTERM");
      strictEqual(output.stdout.length, 0);
      deepStrictEqual([...Deno.readDirSync(tmp)], []);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  });
}

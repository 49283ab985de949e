import { ok, strictEqual } from "node:assert/strict";
import { SPILLWAY_MAIN, SPILLWAY_PERMISSIONS } from "../_support/cli.ts";
import { waitForSignalHandler } from "../_support/signal_ready.ts";

// A signal is acted on promptly even while spillway reads and spills with synchronous calls,
// a signalled run never exits 0, and it leaves no files and no half-drawn progress line.

Deno.test("count reading an endless pipe acts on SIGINT at once and exits 130", async () => {
  // Synchronous reads from a pipe that always has data never let the event loop turn unless
  // the io layer makes it: the signal listener would never run.
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      ...SPILLWAY_PERMISSIONS,
      SPILLWAY_MAIN,
      "count",
      "--threads",
      "1",
      "-",
    ],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // A child that never acts on its signals is killed outright after 15 s (the test fails).
  const killer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  const writer = child.stdin.getWriter();
  const chunk = new TextEncoder().encode("hello world\n".repeat(8192));
  let exited = false;
  let fedBytes = 0;
  const status = child.status.finally(() => exited = true);
  const feeding = (async () => {
    try {
      while (!exited) {
        await writer.write(chunk);
        fedBytes += chunk.length;
      }
    } catch {
      // the child went away
    }
  })();
  // Signal only once the child is consuming its input (past startup, listeners installed):
  // a pipe holds 64 KiB, so 4 MiB fed means it has been reading for a while. On a loaded
  // machine startup alone can take longer than any fixed delay.
  await waitForSignalHandler(child.pid, "SIGINT");
  const startedAt = performance.now();
  while ((fedBytes < 4 * 1024 * 1024 || performance.now() - startedAt < 1500) && !exited) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const sentAt = performance.now();
  child.kill("SIGINT");
  const result = await status;
  const afterSignalMs = performance.now() - sentAt;
  clearTimeout(killer);
  await feeding;
  await writer.close().catch(() => {});
  await child.stderr.cancel();
  strictEqual(
    result.signal,
    null,
    `killed by ${result.signal} after ${afterSignalMs.toFixed(0)} ms`,
  );
  strictEqual(result.code, 130);
  ok(afterSignalMs < 3000, `exited ${afterSignalMs.toFixed(0)} ms after SIGINT`);
});

Deno.test("Ctrl-C on a terminal erases the progress line", {
  ignore: Deno.build.os !== "linux",
}, async () => {
  const spillway = [Deno.execPath(), "run", "--quiet", ...SPILLWAY_PERMISSIONS, SPILLWAY_MAIN].join(
    " ",
  );
  // `script` gives spillway a terminal for stderr, so the progress line is redrawn in place.
  const inner = `yes hello world | ${spillway} count --threads 1 --progress - >/dev/null & ` +
    `P=$!; sleep 2.5; kill -INT $P; wait $P; echo "exit=$?"`;
  const output = await new Deno.Command("script", {
    args: ["-qec", `bash -c '${inner}'`, "/dev/null"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const screen = new TextDecoder().decode(output.stdout);
  const end = screen.lastIndexOf("exit=");
  ok(end > 0, JSON.stringify(screen.slice(-300)));
  strictEqual(screen.slice(end).trim(), "exit=130");
  ok(screen.includes("\x1b[K"), "a progress line was drawn");
  const before = screen.slice(0, end);
  ok(
    before.endsWith("\r\x1b[K") || before.endsWith("\n"),
    `the progress line was left on screen: ${JSON.stringify(before.slice(-120))}`,
  );
});

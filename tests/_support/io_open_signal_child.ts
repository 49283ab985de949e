/**
 * Child process for io tests: sends itself SIGTERM while `IoManager.open` is making its private
 * directory in TMPDIR (the first argument), right after the claim directory is made. The
 * handler must remove it and exit 143; a process still without a handler at that moment dies
 * of the signal and leaves the claim directory behind.
 *
 * Usage: io_open_signal_child.ts TMPDIR
 */
import { MemoryManager } from "../../src/memory/mod.ts";
import { IoManager } from "../../src/io/mod.ts";

const [tmp = "/tmp"] = Deno.args;
const memory = new MemoryManager({ budgetBytes: 1 << 20, segmentBytes: 4096 });
// The instant the claim directory exists (before its lock and rename), the process gets
// SIGTERM: the test's stand-in for a signal that lands in that window on a loaded machine.
// (IoManager makes its directories with synchronous calls.)
const mkdirSync = Deno.mkdirSync;
Deno.mkdirSync = (path, options) => {
  mkdirSync(path, options);
  if (String(path).includes("/.spillway-new-")) Deno.kill(Deno.pid, "SIGTERM");
};
const io = await IoManager.open({ memory, tmpDirs: [tmp] });
// The signal is handled on a coming turn: wait for it (the handler exits 143).
await new Promise((resolve) => setTimeout(resolve, 5000));
await io.close();
Deno.exit(0);

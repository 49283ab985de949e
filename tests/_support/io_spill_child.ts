// deno-lint-ignore-file no-console
/**
 * Child process for io tests: spills records into TMPDIR (the first argument).
 *
 * Usage: io_spill_child.ts TMPDIR slow|fast [BYTES]
 * slow: prints "spilling" once a spill file exists, then keeps writing slowly (waits for a
 * signal; IoManager's handler removes the files and exits 130/143/129).
 * fast: spills BYTES as fast as possible, then reads them back; a disk error prints its message
 * on stderr and exits with the error's exit code.
 */
import { MemoryManager } from "../../src/memory/mod.ts";
import { IoManager, type SpillMode } from "../../src/io/mod.ts";
import type { SpillwayError } from "../../src/base/mod.ts";

const [tmp = "/tmp", pace = "slow", bytesText = "4194304", mode = "file"] = Deno.args;
const memory = new MemoryManager({ budgetBytes: 1 << 20, segmentBytes: 4096 });
let io: IoManager | undefined;
let exitCode = 0;
try {
  io = await IoManager.open({ memory, tmpDirs: [tmp], spillMode: mode as SpillMode });
  if (pace === "slow") {
    // A second manager without signal handlers, like a Worker's: the first one's handler
    // must remove its files too.
    const sibling = await IoManager.open({ memory, tmpDirs: [tmp], handleSignals: false });
    const siblingWriter = await sibling.createRunWriter("sibling");
    const pending = siblingWriter.writeRecord(new Uint8Array(9000), 0, 9000);
    if (pending) await pending;
    // An uncommitted output: its temp file beside the target must go too.
    const output = await io.createOutput(`${tmp}/out.txt`);
    const written = output.write(new Uint8Array(5000), 0, 5000);
    if (written) await written;
  }
  const record = new Uint8Array(1000).fill(65);
  const writer = await io.createRunWriter("child");
  let written = 0;
  let announced = false;
  const limit = pace === "slow" ? Number.MAX_SAFE_INTEGER : Number(bytesText);
  while (written < limit) {
    const pending = writer.writeRecord(record, 0, record.length);
    if (pending) await pending;
    written += record.length;
    if (pace === "slow" && written % 8000 === 0) {
      if (!announced && io.liveFiles.length > 0) {
        announced = true;
        console.log("spilling");
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
  const run = await writer.finish();
  console.log(`spilled ${run.byteLength}`);
} catch (error) {
  console.error(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  exitCode = (error as SpillwayError).exitCode ?? 1;
} finally {
  await io?.close();
}
Deno.exit(exitCode);

// deno-lint-ignore-file no-console
/**
 * Child process for the read-only temp dir test: opens an IoManager on DIR and prints the
 * error message (or `opened` if it opened). The test runs it in a private mount namespace
 * where DIR is a read-only tmpfs, so that even root cannot write there.
 *
 * Usage: io_readonly_child.ts DIR
 */
import { MemoryManager } from "../../src/memory/mod.ts";
import { IoManager } from "../../src/io/mod.ts";

const [dir = "."] = Deno.args;
const memory = new MemoryManager({ budgetBytes: 1 << 20, segmentBytes: 4096 });
try {
  const io = await IoManager.open({ memory, tmpDirs: [dir], handleSignals: false });
  await io.close();
  console.log("opened");
} catch (error) {
  console.log(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
}

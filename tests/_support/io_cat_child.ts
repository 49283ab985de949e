// deno-lint-ignore-file no-console
/**
 * Child process for io tests: copies an input to an output through LineReader and OutputSink.
 *
 * Usage: io_cat_child.ts INPUT OUTPUT [TERMINATOR]   (INPUT/OUTPUT may be "-")
 * Prints `missing=<bool> bytes=<n>` on stderr; on a closed stdout prints `closed` and exits 0.
 */
import { MemoryManager } from "../../src/memory/mod.ts";
import { IoManager, OutputClosedError } from "../../src/io/mod.ts";

const [input = "-", output = "-", terminatorText = "10"] = Deno.args;
const memory = new MemoryManager({ budgetBytes: 1 << 20, segmentBytes: 4096 });
const tmp = await Deno.makeTempDir({ prefix: "spillway-io-child-" });
const io = await IoManager.open({ memory, tmpDirs: [tmp] });
let exitCode = 0;
try {
  const reader = await io.openInput(input, { terminator: Number(terminatorText) });
  const sink = await io.createOutput(output);
  for (;;) {
    const chunk = await reader.nextChunk();
    if (chunk === undefined) break;
    const pending = sink.write(chunk, 0, chunk.length);
    if (pending) await pending;
  }
  await sink.commit();
  await reader.close();
  console.error(`missing=${reader.sawMissingTerminator} bytes=${reader.bytesRead}`);
} catch (error) {
  if (error instanceof OutputClosedError) {
    console.error("closed");
  } else {
    console.error(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
    exitCode = 2;
  }
} finally {
  await io.close();
  await Deno.remove(tmp, { recursive: true });
}
const leaks = memory.leakReport();
if (leaks.text !== "") {
  console.error(leaks.text);
  exitCode = 1;
}
Deno.exit(exitCode);

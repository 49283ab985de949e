import { ok, strictEqual } from "node:assert/strict";

// A spill file truncated behind spillway's back while it is read through --spill mmap must be
// a clear resource error (exit 3), not SIGBUS (which ends the process and leaves its files).

const ioModule = new URL("../../src/io/mod.ts", import.meta.url).href;
const memoryModule = new URL("../../src/memory/mod.ts", import.meta.url).href;
const baseModule = new URL("../../src/base/mod.ts", import.meta.url).href;

Deno.test("a spill file truncated while mapped is exit 3 with a message, not SIGBUS", {
  ignore: Deno.build.os !== "linux",
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "spillway-mmap-truncated-test-" });
  try {
    const script = `
      const { IoManager } = await import(${JSON.stringify(ioModule)});
      const { MemoryManager } = await import(${JSON.stringify(memoryModule)});
      const { SpillwayError } = await import(${JSON.stringify(baseModule)});
      const memory = new MemoryManager({ budgetBytes: 1 << 20, segmentBytes: 4096 });
      const io = await IoManager.open({
        memory, tmpDirs: [${JSON.stringify(dir)}], spillMode: "mmap", mmapWindowBytes: 4096,
        handleSignals: false,
      });
      let code = 0;
      try {
        const writer = await io.createRunWriter("t");
        const record = new Uint8Array(1000).fill(65);
        for (let i = 0; i < 200; i += 1) {
          const pending = writer.writeRecord(record, 0, record.length);
          if (pending) await pending;
        }
        const run = await writer.finish();
        const reader = await io.openRunReader(run, { readAheadSegments: 0 });
        await Deno.truncate(run.path, 4096);
        for (;;) {
          let more = reader.next();
          if (more instanceof Promise) more = await more;
          if (!more) break;
        }
        await reader.close();
      } catch (error) {
        if (!(error instanceof SpillwayError)) throw error;
        console.error(error.message);
        code = error.exitCode;
      }
      await io.close();
      Deno.exit(code);
    `;
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--quiet", script],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    strictEqual(output.signal, null, stderr);
    strictEqual(output.code, 3, stderr);
    ok(/^Cannot map spill file .*: it has 4096 bytes, at least \d+ expected/.test(stderr), stderr);
    strictEqual([...Deno.readDirSync(dir)].length, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

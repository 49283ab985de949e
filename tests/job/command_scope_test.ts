import { ok, rejects, strictEqual } from "node:assert/strict";
import { CommandScope, JobStatsRecorder, type StatsSources } from "../../src/job/mod.ts";
import { MemoryLeakError } from "../../src/memory/mod.ts";
import { ioListFiles, withIoTempDir } from "../_support/io_fixtures.ts";

/** A report that records what the scope did with it. */
function fakeReport() {
  const recorder = new JobStatsRecorder("test");
  const calls: string[] = [];
  return {
    calls,
    stats: recorder.stats,
    end(sources: StatsSources): Promise<unknown> {
      calls.push(`end ${sources.exitCode}`);
      return Promise.resolve(recorder.complete(sources));
    },
    [Symbol.dispose](): void {
      calls.push("dispose");
    },
  };
}

function open(dir: string, report: ReturnType<typeof fakeReport>) {
  return CommandScope.open({
    budgetBytes: 16 * 4096,
    segmentBytes: 4096,
    tmpDirs: [dir],
    spillMode: "file",
    report,
    handleSignals: false,
  });
}

Deno.test("CommandScope.finish closes io, ends the report with the exit code, checks leaks", async () => {
  await withIoTempDir(async (dir) => {
    const report = fakeReport();
    {
      await using scope = await open(dir, report);
      const writer = await scope.io.createRunWriter("t", { owner: "writer" });
      await writer.abort();
      strictEqual(await scope.finish(1), 1);
    }
    strictEqual(report.calls.join(","), "end 1,dispose");
    strictEqual(report.stats.leaks.segments, 0);
    strictEqual(ioListFiles(dir).length, 0, "the private temp dir is gone");
  });
});

Deno.test("CommandScope on an error path closes io and disposes the report", async () => {
  await withIoTempDir(async (dir) => {
    const report = fakeReport();
    await rejects(async () => {
      await using scope = await open(dir, report);
      await scope.io.createRunWriter("t", { owner: "writer" }); // left open: io.close deletes it
      throw new RangeError("bad input");
    }, /bad input/);
    strictEqual(report.calls.join(","), "dispose");
    strictEqual(ioListFiles(dir).length, 0);
  });
});

Deno.test("CommandScope reports a leak on an error path together with the error", async () => {
  await withIoTempDir(async (dir) => {
    const report = fakeReport();
    await rejects(
      async () => {
        await using scope = await open(dir, report);
        scope.memory.allocate("forgotten", 2); // never released
        throw new RangeError("bad input");
      },
      (error: unknown) => {
        ok(error instanceof SuppressedError);
        ok(error.error instanceof MemoryLeakError, String(error.error));
        ok(/forgotten/.test((error.error as Error).message));
        ok(error.suppressed instanceof RangeError);
        return true;
      },
    );
    strictEqual(report.calls.join(","), "dispose");
  });
});

Deno.test("CommandScope.finish throws on a leak after a successful command", async () => {
  await withIoTempDir(async (dir) => {
    const report = fakeReport();
    await rejects(async () => {
      await using scope = await open(dir, report);
      scope.memory.allocate("kept", 1);
      await scope.finish(0);
    }, MemoryLeakError);
    strictEqual(report.calls.join(","), "end 0,dispose");
  });
});

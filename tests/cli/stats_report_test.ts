import { deepStrictEqual, rejects, strictEqual, throws } from "node:assert/strict";
import { UsageError } from "../../src/base/mod.ts";
import {
  collectStats,
  CommandReport,
  normalizeReportArgs,
  readReportOptions,
  readSmallTextFile,
  writeSmallTextFile,
} from "../../src/cli/stats_report.ts";
import type { JobStats } from "../../src/job/mod.ts";
import { MemoryManager } from "../../src/memory/mod.ts";

Deno.test("normalizeReportArgs gives a bare --stats the text format, up to --", () => {
  deepStrictEqual(normalizeReportArgs(["--stats", "a", "--stats=json", "--", "--stats"]), [
    "--stats=text",
    "a",
    "--stats=json",
    "--",
    "--stats",
  ]);
});

Deno.test("readReportOptions reads progress, stats and stats-file", () => {
  deepStrictEqual(readReportOptions({}), {
    statsFormat: undefined,
    statsFile: undefined,
    progress: undefined,
  });
  deepStrictEqual(readReportOptions({ stats: "yaml", progress: false }), {
    statsFormat: "yaml",
    statsFile: undefined,
    progress: false,
  });
  // A stats file alone implies the text format.
  deepStrictEqual(readReportOptions({ "stats-file": "s.txt", progress: true }), {
    statsFormat: "text",
    statsFile: "s.txt",
    progress: true,
  });
  throws(() => readReportOptions({ stats: "xml" }), UsageError);
  throws(() => readReportOptions({ "stats-file": "" }), /the path is empty/);
});

Deno.test("CommandReport hands its stats to the collector of spillway run", async () => {
  const collected: JobStats[] = [];
  const memory = new MemoryManager({ budgetBytes: 16 * 4096, segmentBytes: 4096 });
  const stats = await collectStats((report) => collected.push(report), async () => {
    using report = CommandReport.start("sort", { "no-such": true, progress: false });
    strictEqual(report.wanted, true);
    report.progress.phase({ name: "read", totalBytes: 10 });
    report.progress.advance(10);
    report.stats.input.records = 3;
    return await report.end({ memory, exitCode: 0 });
  });
  deepStrictEqual(collected, [stats]);
  strictEqual(stats.input.bytes, 10);
  strictEqual(stats.input.records, 3);
  strictEqual(stats.memory.segmentsBudget, 16);
  // Outside run, nothing is collected and no report is wanted without --stats.
  using quiet = CommandReport.start("sort", { progress: false });
  strictEqual(quiet.wanted, false);
  memory.assertAllReleased();
});

Deno.test("CommandReport writes --stats-file through the io layer, atomically", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spillway-stats-" });
  try {
    const path = `${dir}/stats.json`;
    {
      using report = CommandReport.start("count", {
        stats: "json",
        "stats-file": path,
        progress: false,
      });
      report.stats.output.records = 42;
      await report.end({ exitCode: 0 });
    }
    const parsed = JSON.parse(await readSmallTextFile(path));
    strictEqual(parsed.command, "count");
    strictEqual(parsed.output.records, 42);
    deepStrictEqual([...Deno.readDirSync(dir)].map((entry) => entry.name), ["stats.json"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readSmallTextFile and writeSmallTextFile round-trip text without a final newline", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spillway-small-" });
  try {
    for (
      const text of [
        "",
        "a",
        "steps:\n  - sort: {}\n",
        "no newline\nat the end",
        "é\n".repeat(5000),
      ]
    ) {
      await writeSmallTextFile(`${dir}/f.yaml`, text);
      strictEqual(await readSmallTextFile(`${dir}/f.yaml`), text);
    }
    await rejects(() => readSmallTextFile(`${dir}/missing.yaml`), /no such file/);
    await rejects(() => readSmallTextFile(dir), /it is a directory/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

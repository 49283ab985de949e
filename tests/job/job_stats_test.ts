import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { parse as parseYaml, parseAllDocuments } from "yaml";
import { UsageError } from "../../src/base/mod.ts";
import { MemoryManager } from "../../src/memory/mod.ts";
import {
  emptyJobStats,
  JobStatsRecorder,
  parseStatsFormat,
  renderStats,
} from "../../src/job/mod.ts";
import { loadYaml } from "../../src/job/mod.ts";

await loadYaml();

/** Every key path of an object, sorted ("spill.runs"). */
function keyPaths(value: unknown, prefix = ""): string[] {
  if (value === null || typeof value !== "object") return [prefix];
  return Object.entries(value).flatMap(([key, child]) =>
    keyPaths(child, prefix === "" ? key : `${prefix}.${key}`)
  ).sort();
}

const STABLE_KEYS = [
  "command",
  "cpuMs.count",
  "cpuMs.merge",
  "cpuMs.read",
  "cpuMs.sort",
  "cpuMs.spill",
  "cpuMs.total",
  "cpuMs.write",
  "exitCode",
  "input.bytes",
  "input.files",
  "input.records",
  "leaks.bytes",
  "leaks.dropped",
  "leaks.pages",
  "leaks.report",
  "leaks.staleWrites",
  "memory.budgetBytes",
  "memory.budgetCapped",
  "memory.budgetRequestedBytes",
  "memory.pagesBudget",
  "memory.pagesPeak",
  "memory.peakRssBytes",
  "memory.segmentBytes",
  "output.bytes",
  "output.records",
  "spill.bytesReadBack",
  "spill.bytesWritten",
  "spill.files",
  "spill.mappedBytesPeak",
  "spill.mergePasses",
  "spill.mode",
  "spill.runs",
  "timeMs.count",
  "timeMs.merge",
  "timeMs.read",
  "timeMs.sort",
  "timeMs.spill",
  "timeMs.total",
  "timeMs.write",
];

Deno.test("JobStats keys are the documented stable set", () => {
  deepStrictEqual(keyPaths(emptyJobStats("sort")), STABLE_KEYS);
  // docs/stats.md lists each key.
  const docs = Deno.readTextFileSync(new URL("../../docs/stats.md", import.meta.url));
  for (const key of STABLE_KEYS) strictEqual(docs.includes(`\`${key}\``), true, key);
});

Deno.test("JobStatsRecorder times phases, counts merge passes and samples RSS", () => {
  let clock = 1000;
  let rss = 10;
  const recorder = new JobStatsRecorder("sort", { now: () => clock, rss: () => rss });
  recorder.phase({ name: "read", totalBytes: 300 });
  recorder.advance(100);
  clock += 50;
  rss = 30;
  recorder.advance(200); // 50 ms since the last sample: no sample yet
  clock += 60;
  recorder.phase({ name: "sort" });
  rss = 20;
  clock += 5;
  recorder.phase({ name: "merge", pass: 1, passCount: 2 });
  clock += 7;
  recorder.phase({ name: "merge", pass: 2, passCount: 2 });
  clock += 3;
  const stats = recorder.complete({ exitCode: 0 });
  deepStrictEqual(stats.timeMs, {
    total: 125,
    read: 110,
    sort: 5,
    spill: 0,
    merge: 10,
    count: 0,
    write: 0,
  });
  strictEqual(stats.input.bytes, 300);
  strictEqual(stats.spill.mergePasses, 2);
  strictEqual(stats.memory.peakRssBytes, 30);
});

Deno.test("JobStatsRecorder.complete copies the memory books and a zero leak report", () => {
  const memory = new MemoryManager({ budgetBytes: 64 * 1024, segmentBytes: 4096 });
  const recorder = new JobStatsRecorder("count");
  recorder.stats.input.bytes = 5; // set by the command: kept
  {
    using _lease = memory.allocate("sort-buffer", 5);
  }
  const stats = recorder.complete({
    memory,
    io: { filesCreated: 3, bytesSpilled: 1000, bytesReadBack: 1000 },
    spillMode: "file",
  });
  strictEqual(stats.input.bytes, 5);
  deepStrictEqual(stats.memory.pagesBudget, 16);
  strictEqual(stats.memory.pagesPeak, 5);
  strictEqual(stats.memory.segmentBytes, 4096);
  strictEqual(stats.memory.budgetBytes, 65536);
  deepStrictEqual(stats.spill, {
    mode: "file",
    runs: 0,
    mergePasses: 0,
    bytesWritten: 1000,
    bytesReadBack: 1000,
    files: 3,
    mappedBytesPeak: 0,
  });
  deepStrictEqual(stats.leaks, { pages: 0, bytes: 0, dropped: 0, staleWrites: 0, report: "" });
  strictEqual(stats.memory.peakRssBytes > 0, true);
  memory.assertAllReleased();
});

Deno.test("JobStatsRecorder.complete reports leaked pages", () => {
  const memory = new MemoryManager({ budgetBytes: 64 * 1024, segmentBytes: 4096 });
  const lease = memory.allocate("merge-input", 2);
  const stats = new JobStatsRecorder("sort").complete({ memory });
  strictEqual(stats.leaks.pages, 2);
  strictEqual(stats.leaks.bytes, 8192);
  strictEqual(stats.leaks.report.includes("merge-input=2"), true);
  strictEqual(renderStats([{ stats }], "text").includes("leaks:   Memory leak: 2 segments"), true);
  lease.release();
  memory.assertAllReleased();
});

Deno.test("renderStats: JSON lines, YAML documents and text carry the same numbers", () => {
  const first = emptyJobStats("sort");
  first.spill.runs = 7;
  first.input.bytes = 123456;
  const second = emptyJobStats("count");
  second.output.records = 42;
  const reports = [
    { stats: first, label: { job: "j.yaml", step: 1, name: "step 1 (sort)" } },
    { stats: second, label: { job: "j.yaml", step: 2, name: "words" } },
  ];
  const lines = renderStats(reports, "json").trimEnd().split("\n");
  strictEqual(lines.length, 2);
  const parsed = lines.map((line) => JSON.parse(line));
  strictEqual(parsed[0].spill.runs, 7);
  strictEqual(parsed[0].step, 1);
  strictEqual(parsed[1].name, "words");
  strictEqual(parsed[1].output.records, 42);
  const documents = parseAllDocuments(renderStats(reports, "yaml"));
  strictEqual(Array.isArray(documents) && documents.length, 2);
  deepStrictEqual((documents as { toJS(): unknown }[]).map((doc) => doc.toJS()), parsed);
  deepStrictEqual(parseYaml(renderStats([{ stats: first }], "yaml")), first);
  const text = renderStats(reports, "text");
  strictEqual(text.includes("spillway stats: j.yaml step 1 (sort)\n"), true);
  strictEqual(text.includes(`spillway stats: j.yaml step 2 (count) "words"\n`), true);
  strictEqual(text.includes("120.6 KiB (123456 bytes)"), true);
  strictEqual(text.includes("7 runs"), true);
  strictEqual(text.includes("leaks:   none"), true);
});

Deno.test("parseStatsFormat accepts text, json, yaml", () => {
  strictEqual(parseStatsFormat(""), "text");
  strictEqual(parseStatsFormat("JSON"), "json");
  strictEqual(parseStatsFormat("yaml"), "yaml");
  throws(
    () => parseStatsFormat("xml"),
    (error) =>
      error instanceof UsageError &&
      error.message === 'Invalid --stats format "xml": use --stats, --stats=json or --stats=yaml',
  );
});

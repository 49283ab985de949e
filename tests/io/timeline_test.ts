/**
 * The run-generation timeline (src/io/timeline.ts): off by default; with SPILLWAY_TIMELINE set,
 * `main.ts sort` leaves one file per thread with the spans of reading, sorting and spilling.
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { timelineEnd, timelineStart } from "../../src/io/mod.ts";
import { SPILLWAY_MAIN } from "../_support/cli.ts";

Deno.test("timeline is off without SPILLWAY_TIMELINE: no start time, nothing recorded", () => {
  if (Deno.env.get("SPILLWAY_TIMELINE") !== undefined) return; // a timeline run of the tests
  const startMs = timelineStart();
  strictEqual(startMs, 0);
  timelineEnd("nothing", startMs);
});

Deno.test("sort with SPILLWAY_TIMELINE records the main thread's and the sort Worker's spans", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spillway-timeline-" });
  try {
    // ~9 MiB of lines in 12 MiB of 64 KiB segments: several buffers, a Worker, a kernel area
    // on each thread.
    const lines: string[] = [];
    for (let i = 0; i < 300_000; i += 1) lines.push(`line ${(i * 7919) % 300_007} of the test`);
    await Deno.writeTextFile(`${dir}/in`, lines.join("\n") + "\n");
    await Deno.mkdir(`${dir}/timeline`);
    // An old output to replace: the rename over it is what the early writeback is for.
    await Deno.writeTextFile(`${dir}/out`, "old output\n");
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        SPILLWAY_MAIN,
        "sort",
        "-S",
        "12m",
        "--segment-size",
        "64k",
        "-T",
        dir,
        "-o",
        `${dir}/out`,
        `${dir}/in`,
      ],
      env: { SPILLWAY_TIMELINE: `${dir}/timeline` },
      stdout: "piped",
      stderr: "piped",
    }).output();
    strictEqual(out.code, 0, new TextDecoder().decode(out.stderr));
    const sorted = lines.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).join("\n") + "\n";
    strictEqual(await Deno.readTextFile(`${dir}/out`), sorted);
    const labels = new Map<string, Set<string>>();
    for (const entry of Deno.readDirSync(`${dir}/timeline`)) {
      for (const line of Deno.readTextFileSync(`${dir}/timeline/${entry.name}`).split("\n")) {
        if (line === "") continue;
        const [thread, label, start, end] = line.split("\t");
        strictEqual(Number(end) >= Number(start), true, line);
        if (!labels.has(thread!)) labels.set(thread!, new Set());
        labels.get(thread!)!.add(label!);
      }
    }
    deepStrictEqual([...labels.keys()].sort(), ["main", "sort-worker"]);
    // `writeback`: the writeback of an output that replaces a file is started as it is written
    // and before the rename.
    for (const label of ["startup", "read", "append", "open-run", "merge", "writeback"]) {
      strictEqual(labels.get("main")!.has(label), true, `main: ${label}`);
    }
    for (const label of ["boot", "init", "gather", "write"]) {
      strictEqual(labels.get("sort-worker")!.has(label), true, `sort-worker: ${label}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

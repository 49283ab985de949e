import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { runSpillway } from "../_support/cli.ts";

// The main thread compiles the merge kernel (an empty merge: `warm-merge-kernel` in the
// timeline) before the final merge, at the latest while the Worker writes the last spill, so
// that neither lane's first kernel call waits ~5.5 ms for TurboFan. With split sorts (both
// threads sort each buffer) the Worker's status word says idle when this thread would have
// warmed it during run generation, and the warm-up never ran.

/** ~10 MB of ASCII lines in no order (spilled runs at -S 16m), and the same sorted. */
function corpus(): { input: Uint8Array; sorted: Uint8Array } {
  const lines: string[] = [];
  let x = 2024;
  for (let i = 0; i < 1_000_000; i += 1) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    lines.push(`w${(x >>> 7).toString(36)}${"y".repeat(x & 7)}\n`);
  }
  const encoder = new TextEncoder();
  return { input: encoder.encode(lines.join("")), sorted: encoder.encode(lines.sort().join("")) };
}

Deno.test("sort compiles the merge kernel on the main thread before the final merge", async () => {
  const { input, sorted } = corpus();
  const dir = await Deno.makeTempDir({ prefix: "spillway-merge-warm-test-" });
  try {
    await Deno.writeFile(`${dir}/in.txt`, input);
    await Deno.mkdir(`${dir}/tmp`);
    await Deno.mkdir(`${dir}/timeline`);
    const result = await runSpillway(
      ["sort", "--no-progress", "-S", "16m", "-T", "tmp", "--stats=json", "in.txt", "-o", "out"],
      { cwd: dir, env: { SPILLWAY_TIMELINE: `${dir}/timeline` } },
    );
    assertEquals(result.code, 0, result.stderr);
    assertEquals(await Deno.readFile(`${dir}/out`), sorted);
    const stats = JSON.parse(result.stderr);
    assert(stats.spill.runs >= 2, `spilled runs: ${stats.spill.runs}`);
    const labels: string[] = [];
    for (const entry of Deno.readDirSync(`${dir}/timeline`)) {
      if (!entry.name.endsWith("-main.tsv")) continue;
      const text = await Deno.readTextFile(`${dir}/timeline/${entry.name}`);
      for (const line of text.split("\n")) if (line !== "") labels.push(line.split("\t")[1]!);
    }
    const warm = labels.indexOf("warm-merge-kernel");
    assert(warm >= 0, `no warm-merge-kernel span: ${[...new Set(labels)].join(" ")}`);
    assert(warm < labels.indexOf("release-run-buffers"), "warmed after run generation");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

import { ok, strictEqual } from "node:assert/strict";
import { runSpillway } from "../_support/cli.ts";

const MiB = 1024 * 1024;
const THREE_LINES = new TextEncoder().encode("pear\napple\nfig\n");

function lastJson(stderr: string): {
  memory: { budgetCapped: boolean; peakRssBytes: number; segmentsBudget: number };
  leaks: { segments: number; staleWrites: number };
} {
  return JSON.parse(stderr.trim().split("\n").at(-1)!);
}

// The pool is one shared WebAssembly.Memory, grown and touched only as used: a huge budget on
// a tiny input costs a few pages. (docs/memory.md has the kernel's peak RSS measured with
// /usr/bin/time -v; here the command's own sampled peak is checked.)
Deno.test("spillway sort and count with -S 4g on three lines stay under 100 MiB RSS", async () => {
  for (const command of ["sort", "count"]) {
    const run = await runSpillway([command, "-S", "4g", "--stats=json"], { stdin: THREE_LINES });
    strictEqual(run.code, 0, run.stderr);
    const stats = lastJson(run.stderr);
    strictEqual(stats.memory.budgetCapped, true, "4 GiB is just above the pool's 4 GiB - 64 KiB");
    ok(stats.memory.peakRssBytes < 100 * MiB, `${command}: ${stats.memory.peakRssBytes}`);
    strictEqual(stats.leaks.segments, 0);
    strictEqual(stats.leaks.staleWrites, 0);
  }
});

Deno.test("spillway caps a budget beyond one 4 GiB memory instead of failing (-S 24g, -S 8t)", async () => {
  for (const [command, size] of [["sort", "24g"], ["count", "8t"], ["sort", "8t"]]) {
    const run = await runSpillway([command!, "-S", size!, "--stats"], { stdin: THREE_LINES });
    strictEqual(run.code, 0, `${command} -S ${size}: ${run.stderr}`);
    ok(/capped: one WebAssembly memory holds 4 GiB/.test(run.stderr), run.stderr);
    ok(run.stdout.includes("apple"), run.stdout);
  }
  const small = await runSpillway(["sort", "-S", "64m", "--stats=json"], { stdin: THREE_LINES });
  strictEqual(lastJson(small.stderr).memory.budgetCapped, false);
});

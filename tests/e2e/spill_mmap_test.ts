import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { runSpillway } from "../_support/cli.ts";

// `--spill mmap` copies records between the shared memory pool and the mapped window: the
// output must equal the `--spill file` one, with spilling, the sort Worker and the count Worker.
Deno.test("sort and count spill through mmap exactly like through files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spillway-mmap-" });
  try {
    const words = ["pear", "apple", "fig", "kiwi", "plum", "lime", "date", "yuzu"];
    const lines: string[] = [];
    for (let i = 0; i < 20000; i += 1) {
      lines.push(`${words[(i * 7) % 8]} ${words[(i * 13 + 5) % 8]} ${(i * 7919) % 20000}`);
    }
    const input = `${dir}/in.txt`;
    await Deno.writeTextFile(input, lines.join("\n") + "\n");
    const outputs = new Map<string, string>();
    for (const spill of ["file", "mmap"]) {
      const sort = await runSpillway([
        "sort",
        "-S",
        "256k",
        "--spill",
        spill,
        "-T",
        dir,
        "--stats=json",
        input,
      ]);
      strictEqual(sort.code, 0, sort.stderr);
      const stats = JSON.parse(sort.stderr.trim().split("\n").at(-1)!);
      strictEqual(stats.spill.mode, spill);
      ok(stats.spill.runs > 1, `${spill}: ${stats.spill.runs} runs`);
      strictEqual(stats.leaks.staleWrites, 0);
      outputs.set(`sort-${spill}`, sort.stdout);
      const count = await runSpillway([
        "count",
        "-S",
        "1m",
        "--threads",
        "2",
        "--spill",
        spill,
        "-T",
        dir,
        input,
      ]);
      strictEqual(count.code, 0, count.stderr);
      outputs.set(`count-${spill}`, count.stdout);
    }
    strictEqual(outputs.get("sort-mmap"), outputs.get("sort-file"));
    strictEqual(outputs.get("count-mmap"), outputs.get("count-file"));
    const expected = [...lines].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).join("\n") + "\n";
    strictEqual(outputs.get("sort-mmap"), expected);
    deepStrictEqual([...Deno.readDirSync(dir)].map((entry) => entry.name), ["in.txt"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

import { strictEqual } from "node:assert/strict";
import { runSpillway } from "../_support/cli.ts";

const DATA = new URL("../../data/", import.meta.url).pathname;

Deno.test("data/corpus is what spillway gen makes (else: regenerate as data/demo.yaml says)", async () => {
  for (const seed of [1, 2, 3]) {
    const made = await runSpillway(["gen", "text", "--size", "64k", "--seed", String(seed)]);
    strictEqual(made.code, 0, made.stderr);
    const committed = await Deno.readFile(`${DATA}corpus/part-${seed}.txt`);
    strictEqual(
      made.stdoutBytes.length === committed.length &&
        made.stdoutBytes.every((byte, index) => byte === committed[index]),
      true,
      `data/corpus/part-${seed}.txt differs from 'spillway gen text --size 64k --seed ${seed}'`,
    );
  }
});

Deno.test("The example jobs are valid (dry runs) and the demo job's output folder exists", async () => {
  for (const job of ["demo.yaml", "sort-lines.yaml"]) {
    const plan = await runSpillway(["run", "--dry-run", `${DATA}${job}`]);
    strictEqual(plan.code, 0, plan.stderr);
    strictEqual(plan.stdout.startsWith(`job ${job.replace(".yaml", "")} (`), true, plan.stdout);
  }
  strictEqual((await Deno.stat(`${DATA}out/.gitkeep`)).isFile, true);
});

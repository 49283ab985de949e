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

Deno.test("spillway demo runs the demo job end to end: map/reduce check passes, nothing leaks", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spillway-demo-" });
  try {
    // A copy of the demo job and corpus, so the test writes nothing into the repository.
    await Deno.mkdir(`${dir}/corpus`);
    await Deno.mkdir(`${dir}/out`);
    await Deno.copyFile(`${DATA}demo.yaml`, `${dir}/demo.yaml`);
    for (const seed of [1, 2, 3]) {
      await Deno.copyFile(`${DATA}corpus/part-${seed}.txt`, `${dir}/corpus/part-${seed}.txt`);
    }
    const result = await runSpillway(["demo", "--job", `${dir}/demo.yaml`]);
    strictEqual(result.code, 0, result.stderr);
    strictEqual(result.stderr, "");
    const out = result.stdout;
    strictEqual(out.includes("map/reduce check: merge --sum of the 3 partial counts equals"), true);
    strictEqual(
      out.includes("leaks: none (0 segments still leased after each of the 6 steps)"),
      true,
    );
    strictEqual(/^ {2}reduce +merge +in +\d/m.test(out), true, out);
    const top = /top words of (\d+) distinct/.exec(out);
    const counts = await Deno.readTextFile(`${dir}/out/counts.tsv`);
    strictEqual(Number(top?.[1]), counts.split("\n").length - 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

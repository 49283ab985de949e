import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { BytesOrder, mergePassCount, mergeSortedFiles } from "../../src/sort/mod.ts";
import { ioListFiles, openIoForTest, withIoTempDir } from "../_support/io_fixtures.ts";

Deno.test("mergeSortedFiles merges more inputs than the fan-in in several passes", async () => {
  await withIoTempDir(async (dir) => {
    const inputs: string[] = [];
    const all: string[] = [];
    for (let file = 0; file < 11; file += 1) {
      const lines = Array.from(
        { length: 50 },
        (_, n) => `${String(n * 11 + file).padStart(4, "0")}`,
      );
      all.push(...lines);
      await Deno.writeTextFile(`${dir}/in${file}`, lines.join("\n") + "\n");
      inputs.push(`${dir}/in${file}`);
    }
    for (const fanInMax of [2, 3, 128]) {
      const { memory, io } = await openIoForTest(dir, { budgetBytes: 16 * 4096 });
      try {
        const result = await mergeSortedFiles({
          inputs,
          output: `${dir}/out`,
          order: new BytesOrder(),
          unique: false,
          terminator: 10,
          fanInMax,
        }, { memory, io });
        const fanIn = Math.min(fanInMax, 4); // 16 segments afford 4 readers
        strictEqual(result.fanIn, fanIn);
        strictEqual(result.passes, mergePassCount(11, fanIn));
        strictEqual(result.inputRecords, 550);
        strictEqual(result.outputRecords, 550);
        strictEqual(result.runsWritten > 0, result.passes > 1);
      } finally {
        await io.close();
        memory.assertAllReleased();
      }
      const merged = (await Deno.readTextFile(`${dir}/out`)).trimEnd().split("\n");
      deepStrictEqual(merged, [...all].sort());
    }
    strictEqual(ioListFiles(dir).filter((name) => !name.startsWith("in")).join(","), "out");
  });
});

/** What `sort -m` writes: the smallest head each time, ties to the first input (oracle). */
function mergeOracle(runs: string[][], reverse: boolean, unique: boolean): string[] {
  const at = runs.map(() => 0);
  const out: string[] = [];
  const bytes = (line: string) => new TextEncoder().encode(line);
  const less = (a: string, b: string) => {
    const c = Buffer.compare(bytes(a), bytes(b));
    return reverse ? c > 0 : c < 0;
  };
  for (;;) {
    let best = -1;
    for (let i = 0; i < runs.length; i += 1) {
      if (
        at[i]! < runs[i]!.length && (best < 0 || less(runs[i]![at[i]!]!, runs[best]![at[best]!]!))
      ) {
        best = i;
      }
    }
    if (best < 0) return out;
    const line = runs[best]![at[best]!]!;
    at[best]! += 1;
    if (!unique || out.length === 0 || out[out.length - 1] !== line) out.push(line);
  }
}

Deno.test("mergeSortedFiles merges a plain byte order on the merge kernel (-r, -u, -z, long lines, empty inputs, no final terminator)", async () => {
  await withIoTempDir(async (dir) => {
    const long = "q".repeat(40_000); // longer than an input's chunk at this budget
    const runs = [
      ["", "a", "a", "b" + long, "c", "zz"],
      [],
      ["a", "ab", "b", long, "d"],
      ["b", "a"], // not sorted: merged head by head, like GNU sort -m
      ["\u00e9t\u00e9", "x\ty", "z"],
    ];
    for (
      const [reverse, unique, terminator] of [[false, false, 10], [true, false, 10], [
        false,
        true,
        0,
      ], [true, true, 10]] as const
    ) {
      const t = String.fromCharCode(terminator);
      const inputs: string[] = [];
      const given = runs.map((run) => reverse ? [...run].reverse() : run);
      for (const [i, run] of given.entries()) {
        // The last input lacks its final terminator.
        const text = run.join(t) + (run.length > 0 && i < given.length - 1 ? t : "");
        await Deno.writeTextFile(`${dir}/in${i}`, text);
        inputs.push(`${dir}/in${i}`);
      }
      const { memory, io } = await openIoForTest(dir, { budgetBytes: 128 * 4096 });
      try {
        const result = await mergeSortedFiles({
          inputs,
          output: `${dir}/out`,
          order: new BytesOrder(reverse),
          unique,
          terminator,
          fanInMax: 128,
        }, { memory, io });
        strictEqual(result.usedMergeKernel, true);
        const expected = mergeOracle(given, reverse, unique);
        strictEqual(result.outputRecords, expected.length);
        strictEqual(result.inputRecords, given.flat().length);
        strictEqual(await Deno.readTextFile(`${dir}/out`), expected.map((l) => l + t).join(""));
      } finally {
        await io.close();
        memory.assertAllReleased();
      }
    }
  });
});

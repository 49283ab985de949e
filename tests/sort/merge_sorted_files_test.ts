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

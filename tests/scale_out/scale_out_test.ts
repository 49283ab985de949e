import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { partitionOf, simulateScaleOut, splitLines } from "../../scripts/scale_out_sim.ts";

const encoder = new TextEncoder();

Deno.test("splitLines cuts on line ends and loses no byte", () => {
  const data = encoder.encode("a\nbb\nccc\ndddd\ne\n");
  for (let count = 1; count <= 6; count += 1) {
    const splits = splitLines(data, count);
    strictEqual(splits.length, count);
    deepStrictEqual(
      new TextDecoder().decode(new Uint8Array(splits.flatMap((split) => [...split]))),
      "a\nbb\nccc\ndddd\ne\n",
    );
    for (const split of splits) {
      strictEqual(split.length === 0 || split[split.length - 1] === 10, true);
    }
  }
});

Deno.test("partitionOf is stable and spreads words", () => {
  strictEqual(partitionOf(encoder.encode("the"), 4), partitionOf(encoder.encode("the"), 4));
  const used = new Set(
    ["a", "b", "c", "d", "e", "f", "g", "h", "the", "of"].map((w) =>
      partitionOf(encoder.encode(w), 4)
    ),
  );
  strictEqual(used.size > 1, true);
});

Deno.test("The scale-out simulation (4 splits, 2 reducers) equals one count over the whole input", async () => {
  const workDir = await Deno.makeTempDir({ prefix: "spillway-scale-out-" });
  try {
    const corpus = new URL("../../data/corpus/", import.meta.url).pathname;
    const inputs = ["part-1.txt", "part-2.txt", "part-3.txt"].map((name) => `${corpus}${name}`);
    const result = await simulateScaleOut({
      inputs,
      splits: 4,
      reducers: 2,
      memory: "256k",
      taskArgs: ["--segment-size", "4k"],
      workDir,
    });
    strictEqual(result.splitLines.length, 4);
    strictEqual(result.splitLines.every((lines) => lines > 0), true);
    strictEqual(result.partitionBytes.every((bytes) => bytes > 0), true);
    strictEqual(result.direct.length > 10_000, true);
    strictEqual(
      new TextDecoder().decode(result.mapReduce),
      new TextDecoder().decode(result.direct),
    );
  } finally {
    await Deno.remove(workDir, { recursive: true });
  }
});

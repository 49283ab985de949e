import { deepStrictEqual, strictEqual } from "node:assert/strict";
import fc from "fast-check";
import { LoserTree } from "../../src/sort/loser_tree.ts";

/** Merges `runs` (each sorted by key) and returns [key, runIndex] pairs in output order. */
function mergeWithTree(runs: number[][]): Array<[number, number]> {
  const heads = new Int32Array(runs.length);
  const key = (i: number) => runs[i]![heads[i]!]!;
  const tree = new LoserTree(runs.length, (i, j) => key(i) < key(j));
  tree.init((i) => runs[i]!.length === 0);
  const out: Array<[number, number]> = [];
  while (tree.winner !== -1) {
    const w = tree.winner;
    out.push([key(w), w]);
    heads[w]! += 1;
    tree.replaceTop(heads[w]! >= runs[w]!.length);
  }
  return out;
}

/** The oracle: a stable sort of all (key, runIndex) pairs. */
function oracle(runs: number[][]): Array<[number, number]> {
  const all: Array<[number, number]> = [];
  runs.forEach((run, runIndex) => run.forEach((k) => all.push([k, runIndex])));
  return all.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
}

Deno.test("LoserTree merges hand-written runs with ties by input index", () => {
  const runs = [[1, 3, 3], [], [0, 3], [3]];
  deepStrictEqual(mergeWithTree(runs), [[0, 2], [1, 0], [3, 0], [3, 0], [3, 2], [3, 3]]);
});

Deno.test("LoserTree with one input and with all inputs empty", () => {
  deepStrictEqual(mergeWithTree([[2, 5]]), [[2, 0], [5, 0]]);
  deepStrictEqual(mergeWithTree([[]]), []);
  deepStrictEqual(mergeWithTree([[], [], []]), []);
  const tree = new LoserTree(2, () => false);
  tree.init();
  strictEqual(tree.winner, 0);
  strictEqual(tree.liveCount, 2);
});

Deno.test("LoserTree merges every small input (up to 5 runs of 2 records)", () => {
  const values = [[], [0], [1], [0, 0], [0, 1], [1, 1]];
  for (let runCount = 1; runCount <= 5; runCount += 1) {
    const total = values.length ** runCount;
    for (let code = 0; code < total; code += 1) {
      const runs: number[][] = [];
      let c = code;
      for (let r = 0; r < runCount; r += 1) {
        runs.push(values[c % values.length]!);
        c = Math.floor(c / values.length);
      }
      deepStrictEqual(mergeWithTree(runs), oracle(runs));
    }
  }
});

Deno.test("LoserTree matches a stable sort on random runs", () => {
  fc.assert(
    fc.property(
      fc.array(fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 12 }), {
        minLength: 1,
        maxLength: 40,
      }),
      (unsorted) => {
        const runs = unsorted.map((run) => [...run].sort((a, b) => a - b));
        deepStrictEqual(mergeWithTree(runs), oracle(runs));
      },
    ),
    { numRuns: 300 },
  );
});

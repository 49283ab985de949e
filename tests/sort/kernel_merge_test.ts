import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { IoManager } from "../../src/io/mod.ts";
import { MemoryManager } from "../../src/memory/mod.ts";
import { externalSort, type SortStats } from "../../src/sort/external_sort.ts";
import { BytesOrder } from "../../src/sort/record_order.ts";
import { gnuSkipReason, gnuSort, gnuSortAvailable, makeRandom, makeWorkDir } from "./_gnu.ts";
import { propertySeed } from "../_support/property.ts";

interface Case {
  reverse: boolean;
  unique: boolean;
  mergeKernel: boolean;
  segmentBytes: number;
  budgetBytes: number;
  useWorker: boolean;
  /** Run the kernel merge on the merge Worker (its threshold 0). */
  parallel?: boolean;
}

/** Sorts the file `input` with the library; returns the output and the stats. */
async function sortFile(input: string, c: Case): Promise<{ output: Uint8Array; stats: SortStats }> {
  const work = await makeWorkDir();
  const memory = new MemoryManager({ budgetBytes: c.budgetBytes, segmentBytes: c.segmentBytes });
  const io = await IoManager.open({ memory, tmpDirs: [work.spill], handleSignals: false });
  try {
    const stats = await externalSort([input], work.path("out"), {
      memory,
      io,
      order: new BytesOrder(c.reverse),
      orderDescriptor: { kind: "bytes", reverse: c.reverse },
      unique: c.unique,
      mergeKernel: c.mergeKernel,
      useWorker: c.useWorker,
      parallelMergeBytesMin: c.parallel === true ? 0 : Number.MAX_SAFE_INTEGER,
    });
    return { stats, output: await Deno.readFile(work.path("out")) };
  } finally {
    await io.close();
    memory.assertAllReleased();
    deepStrictEqual(work.spillLeftovers(), [], "spill files left behind");
    await work.remove();
  }
}

/**
 * Lines with many duplicates and empty lines, some long enough to span several blocks (and
 * some longer than a sort buffer page, which become runs of their own).
 */
function mixedLines(random: () => number, lineCount: number, longBytes: number): Uint8Array {
  const parts: number[] = [];
  const words = ["", "a", "ab", "abc", "b", "ba", "\u00ff", "a\u0000b", "zz", "a b"];
  for (let i = 0; i < lineCount; i += 1) {
    const kind = random();
    if (kind < 0.4) {
      for (const ch of words[Math.floor(random() * words.length)]!) parts.push(ch.charCodeAt(0));
    } else if (kind < 0.995) {
      const length = Math.floor(random() * 40);
      for (let j = 0; j < length; j += 1) parts.push(0x20 + Math.floor(random() * 95));
    } else {
      const length = Math.floor(random() * longBytes);
      const fill = 0x61 + Math.floor(random() * 3);
      for (let j = 0; j < length; j += 1) parts.push(random() < 0.999 ? fill : 0x62);
    }
    parts.push(10);
  }
  return new Uint8Array(parts);
}

async function checkAgainstLoserTree(
  seed: number,
  c: Omit<Case, "mergeKernel">,
  longFactor = 2.5,
): Promise<void> {
  const random = makeRandom(seed);
  const work = await makeWorkDir();
  try {
    const input = work.path("in");
    await Deno.writeFile(input, mixedLines(random, 12000, longFactor * c.segmentBytes));
    const tree = await sortFile(input, { ...c, mergeKernel: false });
    const kernel = await sortFile(input, { ...c, mergeKernel: true });
    const label = `seed ${seed}, ${JSON.stringify(c)}`;
    strictEqual(kernel.stats.usedMergeKernel, true, label);
    const roomy = c.budgetBytes >= 2048 * 1024;
    // The Worker is used when asked for and the budget has room for its buffers.
    const asked = c.parallel === true && c.useWorker;
    if (!asked || roomy) strictEqual(kernel.stats.usedMergeWorker, asked, label);
    strictEqual(tree.stats.usedMergeKernel, false, label);
    strictEqual(kernel.stats.runCount >= 2, true, `${label}: ${kernel.stats.runCount} runs`);
    strictEqual(Buffer.compare(kernel.output, tree.output), 0, `outputs differ: ${label}`);
    strictEqual(kernel.stats.outputRecords, tree.stats.outputRecords, label);
    if (gnuSortAvailable) {
      const args = [...(c.reverse ? ["-r"] : []), ...(c.unique ? ["-u"] : []), input];
      const gnu = await gnuSort(args);
      strictEqual(Buffer.compare(kernel.output, gnu.stdout), 0, `GNU sort differs: ${label}`);
    }
  } finally {
    await work.remove();
  }
}

Deno.test(
  "kernel merge writes what the loser tree and GNU sort write (-r, -u, long lines)" + gnuSkipReason,
  async () => {
    const seed = propertySeed();
    let round = 0;
    for (const reverse of [false, true]) {
      for (const unique of [false, true]) {
        round += 1;
        await checkAgainstLoserTree(seed + round, {
          reverse,
          unique,
          segmentBytes: 4096,
          budgetBytes: 4096 * 1024,
          useWorker: true,
          parallel: round % 2 === 0,
        });
      }
    }
  },
);

Deno.test("kernel merge agrees at a tight and a roomy budget, on one thread and two", async () => {
  const seed = propertySeed();
  for (const budgetBytes of [320 * 1024, 2048 * 1024]) {
    for (const parallel of [false, true]) {
      await checkAgainstLoserTree(seed, {
        reverse: parallel,
        unique: true,
        segmentBytes: 4096,
        budgetBytes,
        useWorker: true,
        parallel,
      }, budgetBytes < 1024 * 1024 ? 0.9 : 1.5);
    }
  }
});

Deno.test("kernel merge on the Worker handles lines longer than a block and --parallel=1", async () => {
  const seed = propertySeed();
  for (const useWorker of [true, false]) {
    await checkAgainstLoserTree(seed + 7, {
      reverse: false,
      unique: false,
      segmentBytes: 4096,
      budgetBytes: 4096 * 1024,
      useWorker,
      parallel: true,
    }, 2.5);
  }
});

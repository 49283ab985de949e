import { ok, rejects } from "node:assert/strict";
import { CorruptSpillError, IoManager, type SpillRun } from "../../src/io/mod.ts";
import { MemoryManager } from "../../src/memory/mod.ts";
import { mergeByKeyRanges } from "../../src/sort/split_merge.ts";
import { makeWorkDir } from "./_gnu.ts";

const SEGMENT_BYTES = 4096;

// A corrupt block that only the binary search for the 2nd splitter reads: boundary(2) throws
// while range 0 is still merging on lane 0.
Deno.test("split merge: a corrupt block met while finding range boundaries fails the merge and gives every page back", async () => {
  const work = await makeWorkDir();
  const memory = new MemoryManager({ budgetBytes: 2 * 1024 * 1024, segmentBytes: SEGMENT_BYTES });
  const io = await IoManager.open({ memory, tmpDirs: [work.spill], handleSignals: false });
  const runs: SpillRun[] = [];
  try {
    const writer = await io.createRunWriter("test");
    const enc = new TextEncoder();
    const n = 40000;
    for (let i = 0; i < n; i += 1) {
      const record = enc.encode(`k${String(i).padStart(8, "0")}`);
      const pending = writer.writeRecord(record, 0, record.length);
      if (pending) await pending;
    }
    const run = await writer.finish();
    runs.push(run);
    const blockCount = Math.round((run.byteLength - 4096) / SEGMENT_BYTES);
    const rangeCount = 4;
    const samplesPerRun = Math.max(2, Math.min(64, Math.ceil(8 * rangeCount), 256));
    const count = Math.min(samplesPerRun, blockCount);
    const sampled = new Set<number>();
    for (let s = 0; s < count; s += 1) sampled.add(Math.floor((s * blockCount) / count));
    const file = await Deno.readFile(run.path);
    let damagedBlocks = 0;
    for (let b = Math.floor(blockCount * 0.4); b < Math.ceil(blockCount * 0.6); b += 1) {
      if (sampled.has(b)) continue;
      const at = 4096 + b * SEGMENT_BYTES + 100;
      file[at] = file[at]! ^ 0x40;
      damagedBlocks += 1;
    }
    ok(damagedBlocks > 0);
    await Deno.writeFile(run.path, file);
    await rejects(
      () =>
        mergeByKeyRanges(runs, undefined, () => undefined, {
          memory,
          reverse: false,
          unique: false,
          terminator: 10,
          expectedRecords: n,
          outputSegments: 2,
          rangeCount,
        }),
      (error: unknown) => {
        ok(error instanceof CorruptSpillError, String(error));
        return true;
      },
    );
    // Immediately after the rejection: is every page back?
    memory.assertAllReleased();
  } finally {
    for (const run of runs) await io.deleteRun(run).catch(() => {});
    await io.close();
    await work.remove();
  }
});

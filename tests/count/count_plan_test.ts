import { deepStrictEqual, strictEqual } from "node:assert/strict";
import {
  autoWorkerAllowed,
  COUNT_RESERVED_SEGMENTS,
  planCount,
  WORKER_SEGMENTS_MIN,
  workerShouldStart,
} from "../../src/count/mod.ts";

Deno.test("planCount: one thread gets every segment beside the chunk and the reserves", () => {
  // 1 MiB budget: a line may take 256 KiB; its buffer (and newline) takes 65 pages, plus one
  // for rounding.
  deepStrictEqual(
    planCount({ totalSegments: 256, freeSegments: 256, segmentBytes: 4096, threads: 1 }),
    {
      segmentBytes: 4096,
      inputChunkSegments: 32,
      tableSegments: 256 - 32 - COUNT_RESERVED_SEGMENTS - 66,
      tableSegmentsFirst: 256 - 32 - COUNT_RESERVED_SEGMENTS - 66,
      tableRunsShare: 128,
      tableGrowRuns: 120,
      workerSegments: 0,
      recordBytesMax: 256 * 1024,
      longRecordSegments: 66,
    },
  );
  // 64 MiB: a 16 MiB line fits its room.
  const plan = planCount({
    totalSegments: 2048,
    freeSegments: 2048,
    segmentBytes: 32768,
    threads: 1,
  });
  strictEqual(plan.recordBytesMax, 16 * 1024 * 1024);
  strictEqual(plan.longRecordSegments * 32768 >= 16 * 1024 * 1024 + 1, true);
  // 64 MiB of 32 KiB segments: a 1 MiB chunk.
  strictEqual(
    planCount({ totalSegments: 2048, freeSegments: 2048, segmentBytes: 32768, threads: 1 })
      .inputChunkSegments,
    32,
  );
});

Deno.test("planCount splits the table with a Worker only when both halves are large enough", () => {
  const plan = planCount({
    totalSegments: 2048,
    freeSegments: 2047,
    segmentBytes: 32768,
    threads: 2,
  });
  const spare = 2047 - plan.inputChunkSegments - COUNT_RESERVED_SEGMENTS -
    plan.longRecordSegments;
  strictEqual(plan.workerSegments, Math.floor((spare - 2 * plan.inputChunkSegments) / 2));
  strictEqual(plan.tableSegments, spare - 2 * plan.inputChunkSegments - plan.workerSegments);
  for (let free = 16; free < 400; free += 1) {
    const small = planCount({
      totalSegments: free,
      freeSegments: free,
      segmentBytes: 4096,
      threads: 2,
    });
    const used = small.inputChunkSegments * (small.workerSegments > 0 ? 3 : 1) +
      COUNT_RESERVED_SEGMENTS + small.longRecordSegments + small.tableSegments +
      small.workerSegments;
    strictEqual(used <= free, true, `${free}`);
    if (small.workerSegments > 0) {
      strictEqual(small.workerSegments >= WORKER_SEGMENTS_MIN, true);
      strictEqual(small.tableSegments >= WORKER_SEGMENTS_MIN, true);
    }
  }
});

Deno.test("workerShouldStart past 4 MiB read, or at once for a file of 8 MiB", () => {
  strictEqual(workerShouldStart(undefined, 4 * 1024 * 1024), false);
  strictEqual(workerShouldStart(undefined, 4 * 1024 * 1024 + 1), true);
  strictEqual(workerShouldStart(8 * 1024 * 1024, 0), true);
  strictEqual(workerShouldStart(8 * 1024 * 1024 - 1, 0), false);
});

Deno.test("autoWorkerAllowed wants half an idle core by the load average", () => {
  strictEqual(autoWorkerAllowed(2, 0), true);
  strictEqual(autoWorkerAllowed(2, 1), true);
  strictEqual(autoWorkerAllowed(2, 1.5), true);
  strictEqual(autoWorkerAllowed(2, 1.51), false);
  strictEqual(autoWorkerAllowed(2, 9.5), false);
  strictEqual(autoWorkerAllowed(16, 9.5), true);
  strictEqual(autoWorkerAllowed(1, 0), false);
  strictEqual(autoWorkerAllowed(2, undefined), true);
  strictEqual(autoWorkerAllowed(1, undefined), false);
  strictEqual(autoWorkerAllowed(2, Number.NaN), true);
});

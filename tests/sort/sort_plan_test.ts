import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { ResourceError } from "../../src/base/mod.ts";
import {
  ENTRY_BYTES,
  estimateSortRuns,
  mergePassCount,
  planSort,
  SORT_SEGMENTS_MIN,
} from "../../src/sort/mod.ts";

Deno.test("planSort without headroom gives long lines' memory to the buffers", () => {
  const plan = planSort({ freeSegments: 16, segmentBytes: 4096, useWorker: true, fanInMax: 4 });
  strictEqual(plan.headroomSegments, 0);
  strictEqual(plan.bufferSegments, 5); // (16 - 5 for I/O) / 2
});

Deno.test("planSort splits 16 segments: I/O 5, headroom 2, two buffers of 4, no ring", () => {
  const plan = planSort({
    freeSegments: 16,
    segmentBytes: 4096,
    useWorker: true,
    fanInMax: 4,
    headroom: true,
  });
  deepStrictEqual(plan, {
    segmentBytes: 4096,
    totalSegments: 16,
    inputChunkSegments: 1,
    writeBehindSegments: 1,
    outputSegments: 1,
    headroomSegments: 2,
    bufferCount: 2,
    bufferSegments: 4,
    bufferDataSegments: 3,
    // One index page less the 80-byte head (append kernel state, page table).
    bufferIndexEntries: (4096 - 80) / ENTRY_BYTES,
    // The kernel area (about 514 KiB) does not fit 1/8 of 64 KiB: the Worker sorts in JS.
    ringSegments: 0,
    kernelAreaSegments: 0,
    mainKernelAreaSegments: 0,
    mergeFanIn: 4,
    mergeFanInBesideBuffer: 2,
  });
});

Deno.test("planSort never plans more segments than it has", () => {
  for (const segmentBytes of [4096, 32768, 131072]) {
    for (let free = SORT_SEGMENTS_MIN; free <= 2048; free += free < 64 ? 1 : 37) {
      for (
        const [useWorker, headroom, mainSorts] of [
          [true, false, false],
          [false, false, false],
          [true, true, false],
          [true, false, true],
        ]
      ) {
        const plan = planSort({
          freeSegments: free,
          segmentBytes,
          useWorker: useWorker!,
          fanInMax: 128,
          headroom: headroom!,
          mainSorts: mainSorts!,
        });
        const used = plan.inputChunkSegments + plan.writeBehindSegments + plan.outputSegments +
          2 + plan.headroomSegments + plan.bufferCount * plan.bufferSegments +
          plan.ringSegments + plan.kernelAreaSegments + plan.mainKernelAreaSegments;
        strictEqual(used <= free, true, `${free} x ${segmentBytes}: ${used}`);
        strictEqual(plan.bufferSegments >= 2, true);
        strictEqual(plan.bufferCount, useWorker && free >= 9 ? 2 : 1);
        strictEqual(plan.mergeFanIn >= 2 && plan.mergeFanIn <= 128, true);
      }
    }
  }
});

Deno.test("planSort keeps the I/O shares within their byte caps at 64 MiB", () => {
  const plan = planSort({
    freeSegments: 512,
    segmentBytes: 131072,
    useWorker: true,
    fanInMax: 128,
  });
  strictEqual(plan.inputChunkSegments, 32); // 512 / 16, under 8 MiB
  strictEqual(plan.writeBehindSegments, 1); // 128 KiB cap
  strictEqual(plan.outputSegments, 8); // 512 / 64
  strictEqual(plan.ringSegments, 16); // 512 / 32, under 4 MiB
  strictEqual(plan.kernelAreaSegments, 5); // 514 KiB of sort scratch and a page table
  strictEqual(plan.mergeFanIn, 128);
});

Deno.test("planSort with mainSorts: a second kernel area, a 2-block ring, bigger buffers", () => {
  const options = { freeSegments: 512, segmentBytes: 131072, useWorker: true, fanInMax: 128 };
  const workerSorts = planSort(options);
  const plan = planSort({ ...options, mainSorts: true });
  strictEqual(plan.kernelAreaSegments, 5);
  strictEqual(plan.mainKernelAreaSegments, 5);
  strictEqual(plan.ringSegments, 2);
  strictEqual(workerSorts.mainKernelAreaSegments, 0);
  // The ring's 14 blocks less the second area's 5 go to the two buffers.
  strictEqual(plan.bufferSegments, workerSorts.bufferSegments + 4);
  // 4.5 MiB of 4 KiB segments: two areas (129 segments each) pass 1/8 of the budget, one fits.
  const small = { freeSegments: 1152, segmentBytes: 4096, useWorker: true, fanInMax: 128 };
  deepStrictEqual(planSort({ ...small, mainSorts: true }), planSort(small));
  strictEqual(planSort(small).kernelAreaSegments > 0, true);
});

Deno.test("planSort gives the two sort buffers most of a 64 MiB budget", () => {
  const plan = planSort({
    freeSegments: 512,
    segmentBytes: 131072,
    useWorker: true,
    fanInMax: 128,
  });
  // Two buffers, ring and kernel area take all but the I/O shares and the headroom.
  strictEqual(
    2 * plan.bufferSegments + plan.ringSegments + plan.kernelAreaSegments >=
      512 - plan.headroomSegments - plan.inputChunkSegments - plan.writeBehindSegments -
        plan.outputSegments - 2 - 1,
    true,
  );
  strictEqual(plan.bufferSegments >= 220, true, `${plan.bufferSegments} segments per buffer`);
});

Deno.test("planSort rejects a budget below the minimum with the sizes in the message", () => {
  throws(
    () => planSort({ freeSegments: 6, segmentBytes: 4096, useWorker: true, fanInMax: 128 }),
    (error) =>
      error instanceof ResourceError &&
      /needs at least 7 segments \(28 KiB\); raise --memory/.test(error.message),
  );
});

Deno.test("estimateSortRuns keeps the last buffer in memory when one merge takes all runs", () => {
  const plan = planSort({ freeSegments: 64, segmentBytes: 4096, useWorker: true, fanInMax: 128 });
  deepStrictEqual(estimateSortRuns(plan, 0, 128), { runCount: 0, mergePassCount: 0 });
  deepStrictEqual(estimateSortRuns(plan, 1, 128), { runCount: 0, mergePassCount: 0 });
  deepStrictEqual(estimateSortRuns(plan, 2, 128), { runCount: 1, mergePassCount: 1 });
  const most = plan.mergeFanInBesideBuffer;
  deepStrictEqual(estimateSortRuns(plan, most, 128), { runCount: most - 1, mergePassCount: 1 });
  deepStrictEqual(estimateSortRuns(plan, most + 1, 128), {
    runCount: most + 1,
    mergePassCount: mergePassCount(most + 1, most),
  });
  // Above the configured fan-in the sort spills every buffer and merges with all pages free.
  const narrow = planSort({ freeSegments: 64, segmentBytes: 4096, useWorker: true, fanInMax: 4 });
  deepStrictEqual(estimateSortRuns(narrow, 9, 4), {
    runCount: 9,
    mergePassCount: mergePassCount(9, 4),
  });
});

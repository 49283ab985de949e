import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { ResourceError } from "../../src/base/mod.ts";
import {
  affordableFanIn,
  FAN_IN_DEFAULT,
  inputMergeChunkSegments,
  MERGE_READER_SEGMENTS_MIN,
  mergeOutputSegments,
  mergePassCount,
  mergeReaderSegments,
  planMerge,
  planMergeRound,
} from "../../src/sort/mod.ts";

Deno.test("mergePassCount is the least k with fanIn^k >= runs", () => {
  for (const fanIn of [2, 3, 7, 128]) {
    for (let runs = 0; runs <= 300; runs += 1) {
      const passes = mergePassCount(runs, fanIn);
      strictEqual(fanIn ** passes >= runs, true);
      if (passes > 0) strictEqual(fanIn ** (passes - 1) < runs, true);
    }
  }
});

Deno.test("planMerge: 16 segments of 4 KiB merge 4 inputs at once", () => {
  deepStrictEqual(
    planMerge({ freeSegments: 16, segmentBytes: 4096, fanInMax: 128, inputCount: 9 }),
    { fanIn: 4, readAheadSegments: 1, outputSegments: 2, passCount: 2 },
  );
  strictEqual(FAN_IN_DEFAULT, 128);
});

Deno.test("planMerge never plans more segments than it has", () => {
  for (const segmentBytes of [4096, 131072]) {
    for (let free = 10; free <= 3000; free += free < 100 ? 1 : 97) {
      for (const inputCount of [2, 5, 200]) {
        const plan = planMerge({ freeSegments: free, segmentBytes, fanInMax: 128, inputCount });
        const readers = Math.min(plan.fanIn, inputCount);
        // Each reader: block + read-ahead + scratch; plus the output and 2 spare.
        const used = readers * (2 + plan.readAheadSegments) + plan.outputSegments + 2;
        strictEqual(used <= free, true, `${free} x ${segmentBytes}, ${inputCount} inputs`);
        strictEqual(plan.fanIn >= 2 && plan.fanIn <= 128, true);
        strictEqual(plan.passCount, Math.max(1, mergePassCount(inputCount, plan.fanIn)));
      }
    }
  }
});

Deno.test("planMerge leaves every reader scratch for the longest record across blocks", () => {
  // 40 segments of 4 KiB, 12 runs holding records of up to 6000 bytes across block borders:
  // each reader may hold one in a 2-segment scratch at the same time (seen: a merge of 12
  // such runs ran out of segments), so fewer inputs are merged at once.
  for (const longest of [0, 4096, 6000, 10_000, 40_000]) {
    for (let free = 12; free <= 400; free += 1) {
      for (const inputCount of [2, 12, 200]) {
        const options = { freeSegments: free, segmentBytes: 4096, fanInMax: 128, inputCount };
        let plan;
        try {
          plan = planMerge({ ...options, spanningRecordBytesMax: longest });
        } catch (error) {
          if (error instanceof ResourceError) continue;
          throw error;
        }
        const readers = Math.min(plan.fanIn, inputCount);
        const scratch = mergeReaderSegments(4096, longest) - 2;
        const used = readers * (1 + plan.readAheadSegments + scratch) + plan.outputSegments +
          Math.max(2, scratch);
        strictEqual(used <= free, true, `${free} segments, ${inputCount} inputs, ${longest} B`);
      }
    }
  }
  strictEqual(mergeReaderSegments(4096, 6000), 4);
  strictEqual(
    planMerge({ freeSegments: 40, segmentBytes: 4096, fanInMax: 128, inputCount: 12 }).fanIn,
    12,
  );
  strictEqual(
    planMerge({
      freeSegments: 40,
      segmentBytes: 4096,
      fanInMax: 128,
      inputCount: 12,
      spanningRecordBytesMax: 6000,
    }).fanIn,
    9, // (40 - 2 output - 2 spare) / 4 per reader
  );
});

Deno.test("planMerge names the segments it needs when two inputs do not fit", () => {
  throws(
    () => planMerge({ freeSegments: 4, segmentBytes: 4096, fanInMax: 128, inputCount: 2 }),
    (error) =>
      error instanceof ResourceError &&
      /^Cannot merge in 4 segments: need at least 10; raise --memory/.test(error.message),
  );
});

Deno.test("affordableFanIn is three segments per reader after the fixed ones", () => {
  strictEqual(MERGE_READER_SEGMENTS_MIN, 3);
  strictEqual(affordableFanIn(16, 4, 128), 4);
  strictEqual(affordableFanIn(19, 4, 128), 5);
  strictEqual(affordableFanIn(10_000, 4, 64), 64);
  strictEqual(mergeOutputSegments(64, 4096), 2);
  strictEqual(mergeOutputSegments(100_000, 4096), 1 + 1024); // 4 MiB cap
});

Deno.test("planMergeRound leaves a power of the fan-in for the final merge", () => {
  // Every fan-in up to 128 and every run count up to 2000: (125, 5) and (216, 6) once planned
  // a round that merged nothing (floating-point logarithms), and the merge passes never ended.
  for (let fanIn = 2; fanIn <= 128; fanIn += 1) {
    for (let runs = fanIn + 1; runs <= 2000; runs += 1) {
      const { untouchedCount, groupSize } = planMergeRound(runs, fanIn);
      strictEqual(groupSize >= 2 && groupSize <= fanIn, true, `${runs} at ${fanIn}`);
      const merged = Math.ceil((runs - untouchedCount) / groupSize);
      const after = untouchedCount + merged;
      strictEqual(after < runs, true, `${runs} at ${fanIn}`);
      // After the round the rest merges in full rounds: a power of the fan-in or fewer.
      strictEqual(mergePassCount(after, fanIn), mergePassCount(runs, fanIn) - 1);
    }
  }
});

Deno.test("inputMergeChunkSegments halves what is left per input, 1 to 64", () => {
  strictEqual(inputMergeChunkSegments(512, 2), 64);
  strictEqual(inputMergeChunkSegments(100, 4), 12);
  strictEqual(inputMergeChunkSegments(16, 9), 1);
  strictEqual(inputMergeChunkSegments(3, 1), 1);
  // At most 2 MiB a chunk: 16 segments of 128 KiB, 64 of 4 KiB (the segment cap first).
  strictEqual(inputMergeChunkSegments(512, 2, 131072), 16);
  strictEqual(inputMergeChunkSegments(512, 2, 4096), 64);
  strictEqual(inputMergeChunkSegments(512, 2, 4 * 1024 * 1024), 1);
});

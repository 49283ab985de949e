import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { MemoryManager } from "../../src/memory/mod.ts";

function manager(): MemoryManager {
  return new MemoryManager({ budgetBytes: 16 * 4096, segmentBytes: 4096 });
}

Deno.test("SegmentLease holds its segments under its owner until released", () => {
  const memory = manager();
  const lease = memory.allocate("sort-buffer", 3);
  strictEqual(lease.owner, "sort-buffer");
  strictEqual(lease.segments.length, 3);
  strictEqual(lease.isReleased, false);
  strictEqual(memory.freeSegments, 13);
  lease.release();
  strictEqual(lease.isReleased, true);
  strictEqual(memory.freeSegments, 16);
  memory.assertAllReleased();
});

Deno.test("SegmentLease: using releases at scope end, also when the body throws", () => {
  const memory = manager();
  {
    using lease = memory.allocate("a", 2);
    strictEqual(lease.segments.length, 2);
  }
  strictEqual(memory.freeSegments, 16);
  throws(() => {
    using _lease = memory.allocate("b", 4);
    throw new Error("boom");
  }, /boom/);
  strictEqual(memory.freeSegments, 16);
  memory.assertAllReleased();
});

Deno.test("SegmentLease: a second release throws; dispose after release does nothing", () => {
  const memory = manager();
  const lease = memory.allocate("merge-input", 1);
  lease.release();
  throws(() => lease.release(), /Cannot release the lease of "merge-input" twice/);
  lease[Symbol.dispose]();
  strictEqual(memory.freeSegments, 16);
  {
    using early = memory.allocate("early", 2);
    early.release();
  } // dispose after an explicit release: no throw
  deepStrictEqual(memory.freeSegments, 16);
  memory.assertAllReleased();
});

import { ok, strictEqual, throws } from "node:assert/strict";
import { allocateBudgetBuffer, MemoryBudgetError, MemoryManager } from "../../src/memory/mod.ts";

Deno.test("allocateBudgetBuffer takes contiguous pages of the shared memory, else a reserved heap array", () => {
  const memory = new MemoryManager({ budgetBytes: 16 * 4096, segmentBytes: 4096 });
  const pages = allocateBudgetBuffer(memory, "long-record", 3 * 4096 + 1);
  strictEqual(pages.inSharedMemory, true);
  ok(pages.bytes.buffer instanceof SharedArrayBuffer, "a view of the shared memory");
  strictEqual(pages.bytes.length, 3 * 4096 + 1);
  strictEqual(memory.freeSegments, 12);
  pages.bytes.fill(7, 0, 100);
  pages.release(100); // poisons (and so touches) only what was written
  strictEqual(memory.freeSegments, 16);
  // Every other page held: 8 free, none two in a row.
  const held = Array.from({ length: 8 }, () => memory.allocateContiguous("hole", 1));
  for (let i = 0; i < 8; i += 1) held.push(memory.allocateContiguous("filler", 1));
  for (let i = 0; i < 16; i += 2) held[i]!.release();
  const heap = allocateBudgetBuffer(memory, "long-record", 2 * 4096);
  strictEqual(heap.inSharedMemory, false);
  ok(!(heap.bytes.buffer instanceof SharedArrayBuffer), "a heap array");
  strictEqual(memory.freeSegments, 6, "its bytes are reserved from the budget");
  throws(() => allocateBudgetBuffer(memory, "too-long", 7 * 4096), MemoryBudgetError);
  heap.release();
  for (let i = 1; i < 16; i += 2) held[i]!.release();
  memory.assertAllReleased();
});

import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import fc from "fast-check";
import {
  BuddyAllocator,
  type BuddyBlock,
  MemoryBudgetError,
  MemoryLeakError,
  MemoryManager,
  SegmentReleasedError,
} from "../../src/memory/mod.ts";
import { checkProperty } from "../_support/property.ts";

const PAGE = 4096;

function manager(pages = 64): MemoryManager {
  return new MemoryManager({ budgetBytes: pages * PAGE, segmentBytes: PAGE });
}

Deno.test("BuddyAllocator splits on allocation and merges buddies on release", () => {
  const memory = manager();
  const buddy = new BuddyAllocator(memory, { segmentCount: 8 });
  const a = buddy.allocate("a", 2);
  strictEqual(a.segmentIndex, 0);
  deepStrictEqual(
    { free: buddy.stats().freeSegments, largest: buddy.stats().largestFreeSegments },
    { free: 6, largest: 4 },
  );
  const b = buddy.allocate("b", 2);
  strictEqual(b.segmentIndex, 2);
  const c = buddy.allocate("c", 4);
  strictEqual(c.segmentIndex, 4);
  strictEqual(buddy.tryAllocate("d", 1), undefined);
  a.release();
  strictEqual(buddy.stats().largestFreeSegments, 2);
  b.release();
  strictEqual(buddy.stats().largestFreeSegments, 4);
  c.release();
  deepStrictEqual(buddy.stats().largestFreeSegments, 8);
  strictEqual(buddy.stats().fragmentation, 0);
  buddy.close();
  memory.assertAllReleased();
});

Deno.test("BuddyAllocator cuts a non-power-of-two arena into aligned top-level blocks", () => {
  const memory = manager();
  const buddy = new BuddyAllocator(memory, { segmentCount: 6 });
  strictEqual(buddy.blockSegmentsMax, 4);
  const big = buddy.allocate("big", 4);
  const small = buddy.allocate("small", 2);
  strictEqual(big.segmentIndex, 0);
  strictEqual(small.segmentIndex, 4);
  throws(() => buddy.allocate("more", 1), MemoryBudgetError);
  big.release();
  small.release();
  // The 4 and the 2 never merge: 8 segments would pass the arena's end.
  deepStrictEqual(
    { free: buddy.stats().freeSegments, largest: buddy.stats().largestFreeSegments },
    { free: 6, largest: 4 },
  );
  buddy.close();
  memory.assertAllReleased();
});

Deno.test("BuddyAllocator reserves its arena from the budget until closed", () => {
  const memory = manager(16);
  const buddy = new BuddyAllocator(memory, { segmentCount: 10, owner: "count-buckets" });
  strictEqual(memory.freeSegments, 6);
  throws(() => memory.allocate("pages", 7), MemoryBudgetError);
  ok(/count-buckets/.test(memory.leakReport().text));
  throws(() => new BuddyAllocator(memory, { segmentCount: 7 }), MemoryBudgetError);
  buddy.close();
  buddy.close(); // idempotent
  strictEqual(memory.freeSegments, 16);
  memory.assertAllReleased();
});

Deno.test("BuddyAllocator close names the owners of blocks still held", () => {
  const memory = manager();
  const buddy = new BuddyAllocator(memory, { segmentCount: 16 });
  const block = buddy.allocate("count-table", 4);
  buddy.allocate("count-table", 1);
  buddy.allocate("other", 2);
  const view = block.bytes;
  throws(
    () => buddy.close(),
    (error: unknown) =>
      error instanceof MemoryLeakError &&
      /7 segments .* still held .*: count-table=5, other=2/.test(error.message),
  );
  // The arena was freed anyway: handles are dead and the budget is whole again. The raw view
  // still reaches the (shared) memory, now poisoned: a write through it is reported.
  throws(() => block.bytes, SegmentReleasedError);
  strictEqual(memory.usedPages, 0);
  view[3] = 1;
  throws(() => memory.assertAllReleased(), /segment #1 of "buddy-arena" was written after/);
});

Deno.test("BuddyAllocator rejects a double release and a foreign block", () => {
  const memory = manager();
  const buddy = new BuddyAllocator(memory, { segmentCount: 8 });
  const other = new BuddyAllocator(memory, { segmentCount: 8 });
  const block = buddy.allocate("a", 1);
  block.words[0] = 42;
  block.release();
  throws(() => block.release(), SegmentReleasedError);
  throws(() => buddy.release(block), SegmentReleasedError);
  throws(() => block.words, SegmentReleasedError);
  const foreign = other.allocate("b", 1);
  throws(() => buddy.release(foreign), SegmentReleasedError);
  foreign.release();
  {
    using scoped = buddy.allocate("scoped", 2);
    strictEqual(scoped.bytes.length, 2 * PAGE);
  }
  strictEqual(buddy.usedSegments, 0);
  buddy.close();
  other.close();
  memory.assertAllReleased();
});

Deno.test("BuddyAllocator blocks never overlap and coalesce fully (random sequences vs a model)", () => {
  checkProperty(
    fc.property(
      fc.integer({ min: 1, max: 40 }),
      fc.array(
        fc.record({
          allocate: fc.boolean(),
          order: fc.integer({ min: 0, max: 5 }),
          pick: fc.nat(),
        }),
        { maxLength: 80, size: "max" },
      ),
      (arenaSegments, steps) => {
        const memory = manager(64);
        const buddy = new BuddyAllocator(memory, { segmentCount: arenaSegments });
        // The model: which segments are taken; the allocator must agree.
        const taken = new Uint8Array(arenaSegments);
        const live: BuddyBlock[] = [];
        for (const step of steps) {
          if (step.allocate || live.length === 0) {
            const count = 2 ** step.order;
            const block = buddy.tryAllocate("model", count);
            if (block === undefined) {
              // Only refused when no free aligned run of `count` segments exists.
              for (let start = 0; start + count <= arenaSegments; start += count) {
                let free = true;
                for (let i = start; i < start + count; i += 1) if (taken[i] === 1) free = false;
                if (free && fitsTopLevel(start, count, arenaSegments)) {
                  throw new Error(`refused ${count} segments though ${start} was free`);
                }
              }
              continue;
            }
            strictEqual(block.segmentIndex % count, 0, "blocks are aligned");
            ok(block.segmentIndex + count <= arenaSegments, "block inside the arena");
            for (let i = block.segmentIndex; i < block.segmentIndex + count; i += 1) {
              strictEqual(taken[i], 0, `segment ${i} handed out twice`);
              taken[i] = 1;
            }
            block.bytes.fill(0xab);
            live.push(block);
          } else {
            const [block] = live.splice(step.pick % live.length, 1);
            for (let i = block!.segmentIndex; i < block!.segmentIndex + block!.segmentCount; i++) {
              taken[i] = 0;
            }
            block!.release();
          }
          const used = taken.reduce((sum, bit) => sum + bit, 0);
          strictEqual(buddy.usedSegments, used);
          strictEqual(buddy.stats().freeSegments, arenaSegments - used);
        }
        for (const block of live) block.release();
        const stats = buddy.stats();
        strictEqual(stats.freeSegments, arenaSegments);
        // Fully coalesced: the largest block is the arena's top bit.
        strictEqual(stats.largestFreeSegments, 2 ** Math.floor(Math.log2(arenaSegments)));
        strictEqual(buddy.tryAllocate("all", stats.largestFreeSegments)?.release(), undefined);
        buddy.close();
        memory.assertAllReleased();
      },
    ),
  );
});

/** Whether the aligned block [start, start+count) lies inside one top-level block. */
function fitsTopLevel(start: number, count: number, arenaSegments: number): boolean {
  let top = 0;
  for (let order = 31; order >= 0; order -= 1) {
    const size = 2 ** order;
    if (Math.floor(arenaSegments / size) % 2 === 1) {
      if (start >= top && start + count <= top + size) return true;
      top += size;
    }
  }
  return false;
}

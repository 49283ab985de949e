import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { ResourceError } from "../../src/base/mod.ts";
import {
  MemoryBudgetError,
  MemoryLeakError,
  MemoryManager,
  SegmentReleasedError,
} from "../../src/memory/mod.ts";

const PAGE = 4096;

function manager(pages = 8, leakDetection: "simple" | "advanced" | "paranoid" = "simple") {
  return new MemoryManager({ budgetBytes: pages * PAGE, segmentBytes: PAGE, leakDetection });
}

Deno.test("MemoryManager owns floor(budget / segment size) pages", () => {
  const memory = new MemoryManager({ budgetBytes: 10 * PAGE + 100, segmentBytes: PAGE });
  strictEqual(memory.totalPages, 10);
  strictEqual(memory.freePages, 10);
  memory.assertAllReleased();
});

Deno.test("MemoryManager rejects bad segment sizes and budgets", () => {
  throws(() => new MemoryManager({ budgetBytes: 1 << 20, segmentBytes: 3000 }), RangeError);
  throws(() => new MemoryManager({ budgetBytes: 1 << 20, segmentBytes: 2048 }), RangeError);
  throws(() => new MemoryManager({ budgetBytes: 1 << 30, segmentBytes: 32 << 20 }), RangeError);
  throws(
    () => new MemoryManager({ budgetBytes: 1000, segmentBytes: PAGE }),
    (error: unknown) =>
      error instanceof ResourceError && /smaller than one segment of 4 KiB/.test(error.message),
  );
});

Deno.test("MemoryManager allocation is all or nothing and names owner, request and free pages", () => {
  const memory = manager(8);
  const first = memory.allocate("sort-buffer", 6);
  throws(
    () => memory.allocate("merge-input", 3),
    (error: unknown) => {
      ok(error instanceof MemoryBudgetError);
      strictEqual(
        error.message,
        'Cannot allocate 3 segments for "merge-input": 2 of 8 free; raise --memory (-S)',
      );
      strictEqual(error.exitCode, 3);
      return true;
    },
  );
  strictEqual(memory.freePages, 2, "a failed allocation takes nothing");
  strictEqual(memory.tryAllocate("merge-input", 3), undefined);
  const second = memory.tryAllocate("merge-input", 2);
  ok(second !== undefined);
  strictEqual(memory.freePages, 0);
  first.release();
  second.release();
  strictEqual(memory.freePages, 8);
  memory.assertAllReleased();
});

Deno.test("MemoryManager tracks peak pages including reservations", () => {
  const memory = manager(8);
  const a = memory.allocate("a", 3);
  const reservation = memory.reserve("scratch", PAGE + 1); // two pages
  strictEqual(memory.freePages, 3);
  strictEqual(memory.peakPages, 5);
  a.release();
  reservation.release();
  const b = memory.allocate("b", 1);
  strictEqual(memory.peakPages, 5);
  b.release();
  memory.assertAllReleased();
});

Deno.test("MemoryManager reservations count against the budget and are given back", () => {
  const memory = manager(4);
  const reservation = memory.reserve("scratch", 3 * PAGE);
  throws(() => memory.allocate("x", 2), MemoryBudgetError);
  throws(() => memory.reserve("more", PAGE + 1), MemoryBudgetError);
  memory.reserve("more", PAGE).release();
  throws(() => memory.assertAllReleased(), /scratch=0/);
  memory.unreserve("scratch", PAGE);
  strictEqual(memory.reservedBytes, 2 * PAGE);
  throws(() => memory.unreserve("scratch", 3 * PAGE), /holds 8192/);
  memory.unreserve("scratch", 2 * PAGE);
  throws(() => reservation.release(), /holds 0/);
  memory.assertAllReleased();
  {
    using _scoped = memory.reserve("scoped", 100);
    strictEqual(memory.reservedBytes, 100);
  }
  strictEqual(memory.reservedBytes, 0);
  memory.assertAllReleased();
});

Deno.test("MemoryManager releaseAll returns what the owner still held", () => {
  const memory = manager(8);
  const lease = memory.allocate("merge-input", 3);
  memory.release(lease.segments[0]!);
  memory.reserve("merge-input", 10);
  strictEqual(memory.releaseAll("merge-input"), 2);
  strictEqual(memory.releaseAll("nobody"), 0);
  ok(lease.segments.every((segment) => segment.isReleased));
  lease.release(); // the lease itself was not released yet: this marks it, no double page release
  memory.assertAllReleased();
});

Deno.test("MemoryManager release accepts a segment, an array or a lease", () => {
  const memory = manager(8);
  const lease = memory.allocate("x", 4);
  memory.release(lease.segments[0]!);
  memory.release(lease.segments.slice(1, 3));
  memory.release(lease);
  strictEqual(memory.usedPages, 0);
  memory.assertAllReleased();
});

Deno.test("A released segment throws SegmentReleasedError naming owner and id", () => {
  const memory = manager(2);
  const lease = memory.allocate("sort-buffer", 1);
  const segment = lease.segments[0]!;
  lease.release();
  throws(() => segment.getU32BE(0), (error: unknown) => {
    ok(error instanceof SegmentReleasedError);
    strictEqual(
      error.message,
      `Cannot read segment #${segment.id} of "sort-buffer": it was already released`,
    );
    return true;
  });
  throws(() => segment.setU8(0, 1), SegmentReleasedError);
  throws(() => segment.bytes, SegmentReleasedError);
  throws(() => segment.put(0, new Uint8Array(1)), SegmentReleasedError);
  throws(() => segment.compare(0, segment, 0, 1), SegmentReleasedError);
  memory.assertAllReleased();
});

Deno.test("A stale raw view of a released page is dead and cannot write into the next owner", () => {
  const memory = manager(1);
  const first = memory.allocate("first", 1);
  const stale = first.segments[0]!.bytes;
  stale[0] = 1;
  first.release();
  strictEqual(stale.length, 0, "the stale view was detached");
  const second = memory.allocate("second", 1);
  const page = second.segments[0]!;
  page.setU8(0, 42);
  stale[0] = 7; // dropped: the view is detached
  strictEqual(page.getU8(0), 42, "the new owner's bytes are untouched");
  strictEqual(stale[0], undefined);
  second.release();
  memory.assertAllReleased();
});

Deno.test("Releasing twice always throws", () => {
  const memory = manager(2);
  const lease = memory.allocate("x", 2);
  memory.release(lease.segments[0]!);
  throws(() => memory.release(lease.segments[0]!), /Cannot release segment #\d+ of "x"/);
  lease.release();
  throws(() => lease.release(), /Cannot release the lease of "x" twice/);
  throws(() => memory.release(lease), /twice/);
  lease[Symbol.dispose](); // dispose after release is a no-op
  memory.assertAllReleased();
});

Deno.test("using releases a lease when the scope throws", () => {
  const memory = manager(4);
  throws(() => {
    using lease = memory.allocate("scoped", 3);
    strictEqual(lease.segments.length, 3);
    throw new Error("boom");
  }, /boom/);
  strictEqual(memory.usedPages, 0);
  memory.assertAllReleased();
});

Deno.test("assertAllReleased lists owners and pages, largest first", () => {
  const memory = manager(8);
  const small = memory.allocate("merge-input", 1);
  const big = memory.allocate("sort-buffer", 2);
  throws(
    () => memory.assertAllReleased(),
    (error: unknown) => {
      ok(error instanceof MemoryLeakError);
      const lines = error.message.split("\n");
      strictEqual(
        lines[0],
        "Memory leak: 3 segments (12 KiB) still leased: sort-buffer=2, merge-input=1",
      );
      strictEqual(lines[1], "  sort-buffer: 2 pages, 8 KiB");
      strictEqual(lines[2], "  merge-input: 1 pages, 4 KiB");
      return true;
    },
  );
  const report = memory.leakReport();
  deepStrictEqual(report.owners.map((o) => [o.owner, o.pages]), [["sort-buffer", 2], [
    "merge-input",
    1,
  ]]);
  small.release();
  big.release();
  memory.assertAllReleased();
});

Deno.test("advanced leak detection records allocation sites for a sample", () => {
  const memory = manager(64, "advanced");
  const leases = [];
  for (let i = 0; i < 32; i += 1) leases.push(memory.allocate("sampled", 1));
  const report = memory.leakReport();
  const sites = report.owners[0]!.sites;
  strictEqual(sites.length, 2, "one site per 16 allocations");
  ok(/memory_manager_test\.ts/.test(sites[0]!), `site names the test file: ${sites[0]}`);
  ok(/at /.test(report.text));
  for (const lease of leases) lease.release();
  memory.assertAllReleased();
});

Deno.test("paranoid leak detection reports a segment dropped without release", async () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");
  const memory = manager(4, "paranoid");
  (() => {
    memory.allocate("forgetful", 1); // dropped on the floor
  })();
  // leakReport() derefs weak references, which keeps their targets alive until the end of the
  // current job: collect in a job of its own.
  for (let attempt = 0; attempt < 100; attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    gc();
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (memory.leakDetectionDropped() > 0) break;
  }
  const report = memory.leakReport();
  strictEqual(report.dropped.length, 1);
  strictEqual(report.dropped[0]!.owner, "forgetful");
  ok(/dropped without release: segment #1 of "forgetful" at /.test(report.text), report.text);
  throws(() => memory.assertAllReleased(), /1 dropped without release/);
  strictEqual(memory.freePages, 4, "the dropped page's budget is usable again");
});

Deno.test("lent segments cannot be used until their backing returns", () => {
  const memory = manager(2);
  using lease = memory.allocate("worker", 1);
  const segment = lease.segments[0]!;
  segment.setU32BE(0, 7);
  const buffer = segment.lendBacking();
  throws(() => segment.getU32BE(0), /lent out/);
  throws(() => memory.release(segment), /lent out/);
  const moved = structuredClone(buffer, { transfer: [buffer] }); // what postMessage does
  strictEqual(buffer.byteLength, 0);
  segment.returnBacking(moved);
  strictEqual(segment.getU32BE(0), 7);
  throws(() => segment.returnBacking(new ArrayBuffer(PAGE)), /it is not lent out/);
});

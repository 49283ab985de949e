import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { ResourceError } from "../../src/base/mod.ts";
import {
  MemoryBudgetError,
  MemoryLeakError,
  MemoryManager,
  PageContent,
  POISON_BYTE,
  POOL_BYTES_MAX,
  SegmentPoisonError,
  SegmentReleasedError,
  STATIC_AREA_BYTES,
} from "../../src/memory/mod.ts";

const PAGE = 4096;

function manager(
  pages = 8,
  leakDetection: "disabled" | "simple" | "advanced" | "paranoid" = "simple",
) {
  return new MemoryManager({ budgetBytes: pages * PAGE, segmentBytes: PAGE, leakDetection });
}

Deno.test("MemoryManager owns floor(budget / segment size) pages", () => {
  const memory = new MemoryManager({ budgetBytes: 10 * PAGE + 100, segmentBytes: PAGE });
  strictEqual(memory.totalSegments, 10);
  strictEqual(memory.freeSegments, 10);
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
  strictEqual(memory.freeSegments, 2, "a failed allocation takes nothing");
  strictEqual(memory.tryAllocate("merge-input", 3), undefined);
  const second = memory.tryAllocate("merge-input", 2);
  ok(second !== undefined);
  strictEqual(memory.freeSegments, 0);
  first.release();
  second.release();
  strictEqual(memory.freeSegments, 8);
  memory.assertAllReleased();
});

Deno.test("MemoryManager tracks peak pages including reservations", () => {
  const memory = manager(8);
  const a = memory.allocate("a", 3);
  const reservation = memory.reserve("scratch", PAGE + 1); // two pages
  strictEqual(memory.freeSegments, 3);
  strictEqual(memory.peakSegments, 5);
  a.release();
  reservation.release();
  const b = memory.allocate("b", 1);
  strictEqual(memory.peakSegments, 5);
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

Deno.test("Releasing bumps the generation: the stale handle throws while the page has a new owner", () => {
  const memory = manager(1);
  const first = memory.allocate("first", 1);
  const stale = first.segments[0]!;
  first.release();
  const second = memory.allocate("second", 1);
  const page = second.segments[0]!;
  strictEqual(page.pageIndex, stale.pageIndex, "the one page was recycled");
  strictEqual(page.generation, stale.generation + 1);
  throws(() => stale.setU8(0, 1), /Cannot write segment #1 of "first": it was already released/);
  throws(() => stale.memoryOffset, SegmentReleasedError);
  ok(!page.isReleased && stale.isReleased);
  second.release();
  memory.assertAllReleased();
});

Deno.test("A write through a stale raw view is reported when the page is handed out again", () => {
  const memory = manager(1);
  const first = memory.allocate("sort-buffer", 1);
  const stale = first.segments[0]!.bytes;
  const releasedId = first.segments[0]!.id;
  first.release();
  strictEqual(stale[100], POISON_BYTE, "released pages are poisoned");
  stale[100] = 7; // a use-after-release bug
  throws(() => memory.allocate("merge-input", 1), (error: unknown) => {
    ok(error instanceof SegmentPoisonError, String(error));
    strictEqual(
      error.message,
      `Write after release: segment #${releasedId} of "sort-buffer" was written after ` +
        `"sort-buffer" released it (page 0, byte 100 is 0x07, not the poison 0xdb)`,
    );
    return true;
  });
  // Reported once: the page was poisoned again and serves the next request.
  const next = memory.allocate("merge-input", 1);
  strictEqual(next.segments[0]!.bytes[100], POISON_BYTE, "recycled pages are not zeroed");
  next.release();
  throws(() => memory.assertAllReleased(), /Write after release: segment #1 of "sort-buffer"/);
});

Deno.test("A write through a stale raw view is reported by assertAllReleased if never reused", () => {
  const memory = manager(4);
  const lease = memory.allocate("count-table", 2);
  const stale = lease.segments[1]!.bytes;
  lease.release();
  stale[PAGE - 1] = 0;
  throws(() => memory.assertAllReleased(), (error: unknown) => {
    ok(error instanceof MemoryLeakError);
    ok(
      /segment #2 of "count-table" was written after "count-table" released it \(page 1, byte 4095 is 0x00/
        .test(error.message),
      error.message,
    );
    return true;
  });
  strictEqual(memory.leakReport().poisonViolations.length, 1);
});

Deno.test("advanced and paranoid levels name the release site of a stale write", () => {
  for (const level of ["advanced", "paranoid"] as const) {
    const memory = manager(2, level);
    const lease = memory.allocate("merge-output", 1);
    const stale = lease.segments[0]!.bytes;
    lease.release();
    stale[0] = 1;
    throws(
      () => memory.allocate("next", 1),
      (error: unknown) =>
        error instanceof SegmentPoisonError && error.releaseSite !== undefined &&
        /released at .*memory_manager_test\.ts/.test(error.message),
    );
  }
});

Deno.test("Leak detection disabled does not poison released pages", () => {
  const memory = manager(1, "disabled");
  const lease = memory.allocate("x", 1);
  lease.segments[0]!.bytes[0] = 42;
  lease.release();
  const again = memory.allocate("y", 1);
  strictEqual(again.segments[0]!.bytes[0], 42, "no poison, no check: the cost is zero");
  again.release();
  memory.assertAllReleased();
});

Deno.test("A page never written is released without poisoning (it stays untouched)", () => {
  const memory = manager(1);
  const untouched = memory.allocate("planned", 1);
  untouched.release();
  const next = memory.allocate("planned", 1);
  ok(next.segments[0]!.bytes.every((byte) => byte === 0), "fresh pages are zero");
  next.release();
  memory.assertAllReleased();
});

Deno.test("The pool is one shared memory, grown lazily as pages are first handed out", () => {
  const memory = new MemoryManager({ budgetBytes: 1024 * 1024 * 1024, segmentBytes: 32 * 1024 });
  ok(memory.wasmMemory.buffer instanceof SharedArrayBuffer);
  ok(memory.committedBytes <= 128 * 1024, `committed ${memory.committedBytes}`);
  const lease = memory.allocate("small", 4);
  ok(memory.committedBytes >= STATIC_AREA_BYTES + 4 * 32 * 1024);
  ok(memory.committedBytes <= 1024 * 1024, `committed ${memory.committedBytes}`);
  strictEqual(memory.highWaterPages, 4);
  const offsets = lease.segments.map((segment) => segment.memoryOffset);
  deepStrictEqual(offsets, [0, 1, 2, 3].map((i) => STATIC_AREA_BYTES + i * 32 * 1024));
  lease.segments[2]!.setU32LE(8, 0x01020304);
  strictEqual(new DataView(memory.wasmMemory.buffer).getUint32(offsets[2]! + 8, true), 0x01020304);
  lease.release();
  memory.assertAllReleased();
});

Deno.test("A budget beyond one 4 GiB memory is capped, not an error", () => {
  const memory = new MemoryManager({ budgetBytes: 8 * 1024 ** 4, segmentBytes: 32 * 1024 });
  ok(memory.budgetCapped);
  strictEqual(memory.totalSegments, Math.floor(POOL_BYTES_MAX / (32 * 1024)));
  using lease = memory.allocate("sort-buffer", 2);
  lease.segments[1]!.setU8(0, 1);
  ok(memory.committedBytes < 1024 * 1024);
  ok(!new MemoryManager({ budgetBytes: 1 << 20 }).budgetCapped);
});

Deno.test("allocateContiguous hands out one segment over adjacent pages", () => {
  const memory = manager(8);
  const single = memory.allocate("a", 2);
  const block = memory.allocateContiguous("index", 3);
  const segment = block.segments[0]!;
  strictEqual(segment.byteLength, 3 * PAGE);
  strictEqual(memory.usedPages, 5);
  deepStrictEqual([...memory.holdings()], [["a", 2], ["index", 3]]);
  new Uint32Array(segment.bytes.buffer, segment.memoryOffset, 3 * PAGE / 4).fill(7);
  memory.release(single.segments[0]!); // frees page 0: a hole of one page
  throws(
    () => memory.allocateContiguous("big", 4),
    (error: unknown) => error instanceof MemoryBudgetError && /fragmented/.test(error.message),
  );
  // The same two refusals (fragmented, and more than is free) without an error.
  strictEqual(memory.tryAllocateContiguous("big", 4), undefined);
  strictEqual(memory.tryAllocateContiguous("big", 9), undefined);
  strictEqual(memory.usedPages, 4);
  block.release();
  const big = memory.tryAllocateContiguous("big", 6)!;
  strictEqual(big.segments[0]!.pageIndex, 2);
  big.release();
  single.release();
  memory.assertAllReleased();
});

Deno.test("allocateContiguous placed high leaves the low pages to later allocations", () => {
  const memory = manager(8);
  memory.allocate("touched", 1).release(); // page 0, on the free stack
  const arena = memory.allocateContiguous("arena", 3, { placement: "high" });
  strictEqual(arena.segments[0]!.pageIndex, 5);
  strictEqual(memory.highWaterPages, 1, "the high range is not counted as touched");
  strictEqual(memory.tryAllocateContiguous("big", 6, { placement: "high" }), undefined);
  const pages = memory.allocate("readers", 5);
  deepStrictEqual(pages.segments.map((segment) => segment.pageIndex).sort(), [0, 1, 2, 3, 4]);
  strictEqual(memory.freeSegments, 0);
  strictEqual(memory.pageContents().length, 8);
  const stale = arena.segments[0]!.bytes;
  stale[0] = 1; // written: poisoned on release
  arena.release();
  pages.release();
  stale[PAGE] = 7; // a write after release into the high range
  throws(() => memory.allocate("again", 8), SegmentPoisonError);
  throws(() => memory.assertAllReleased(), /Write after release: segment #\d+ of "arena"/);
});

Deno.test("A kernel scratch area comes out of the budget", () => {
  const memory = new MemoryManager({
    budgetBytes: 8 * PAGE,
    segmentBytes: PAGE,
    kernelScratchBytes: 5000,
  });
  deepStrictEqual(memory.kernelScratch, { byteOffset: STATIC_AREA_BYTES, byteLength: 2 * PAGE });
  strictEqual(memory.freeSegments, 6);
  using lease = memory.allocate("x", 1);
  strictEqual(lease.segments[0]!.memoryOffset, STATIC_AREA_BYTES + 2 * PAGE);
  throws(
    () => new MemoryManager({ budgetBytes: PAGE, segmentBytes: PAGE, kernelScratchBytes: 1 }),
    ResourceError,
  );
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
  strictEqual(memory.freeSegments, 4, "the dropped page's budget is usable again");
});

Deno.test("Lending books segments under the borrower until they come back", () => {
  const memory = manager(4);
  using lease = memory.allocate("sort-buffer", 2);
  const [segment, other] = lease.segments;
  segment!.setU32BE(0, 7);
  memory.lend("sort-worker", [segment!]);
  ok(segment!.isLent && !other!.isLent);
  throws(
    () => segment!.getU32BE(0),
    /Cannot read segment #1 of "sort-buffer": it is lent out to "sort-worker"/,
  );
  throws(() => segment!.bytes, SegmentReleasedError);
  throws(() => memory.release(segment!), /lent out to "sort-worker"/);
  throws(() => memory.lend("other-worker", [segment!]), /lent out to "sort-worker"/);
  deepStrictEqual([...memory.holdings()], [["sort-buffer", 1], ["sort-worker", 1]]);
  ok(/sort-worker=1/.test(memory.leakReport().text));
  throws(() => memory.takeBack("count-worker", [segment!]), /it is lent to "sort-worker"/);
  throws(() => memory.takeBack("sort-worker", [other!]), /it is not lent out/);
  memory.takeBack("sort-worker", [segment!]);
  strictEqual(segment!.getU32BE(0), 7);
  deepStrictEqual([...memory.holdings()], [["sort-buffer", 2]]);
});

Deno.test("takeBack with a borrower's page contents: its poison is kept, untouched pages stay so", () => {
  const memory = manager(8);
  const share = memory.allocateContiguous("count-worker", 6);
  const [byteOffset] = memory.lend("count-worker", share.segments);
  const region = new MemoryManager({
    budgetBytes: 6 * PAGE,
    segmentBytes: PAGE,
    region: { memory: memory.wasmMemory, byteOffset: byteOffset!, byteLength: 6 * PAGE },
  });
  // Pages 0-1 written and released (poisoned by the region), page 2 handed out but never
  // written, page 3 written and still held (a leak), pages 4-5 never handed out.
  const written = region.allocateContiguous("table", 2);
  written.segments[0]!.bytes.fill(7);
  const unwritten = region.allocate("table", 1);
  const held = region.allocate("table", 1);
  held.segments[0]!.bytes.fill(9);
  const staleView = written.segments[0]!.bytes;
  written.release();
  unwritten.release();
  const contents = region.pageContents();
  deepStrictEqual([...contents], [
    PageContent.poisoned,
    PageContent.poisoned,
    PageContent.untouched,
    PageContent.written,
  ]);
  memory.takeBack("count-worker", share.segments, undefined, { pageContents: [contents] });
  share.release();
  const pool = new Uint8Array(memory.wasmMemory.buffer, byteOffset!, 6 * PAGE);
  // Only the page the borrower wrote and did not poison was filled; the rest was not touched.
  ok(pool.subarray(3 * PAGE, 4 * PAGE).every((byte) => byte === POISON_BYTE));
  ok(pool.subarray(2 * PAGE, 3 * PAGE).every((byte) => byte === 0));
  ok(pool.subarray(4 * PAGE).every((byte) => byte === 0));
  memory.assertAllReleased();
  // The borrower's poisoned pages are checked as the lender's own: a stale write is caught.
  staleView[100] = 1;
  throws(() => memory.assertAllReleased(), /Write after release: .*page \d+, byte 100 is 0x01/);
});

Deno.test("releaseAll takes lent segments back before releasing them", () => {
  const memory = manager(4);
  const lease = memory.allocate("gather", 2);
  memory.lend("sort-worker", lease.segments);
  strictEqual(memory.releaseAll("sort-worker"), 2);
  ok(lease.segments.every((segment) => segment.isReleased));
  lease.release();
  memory.assertAllReleased();
});

Deno.test("A stale write at any byte of a free page is found at that byte, once", () => {
  // The scan reads 64-byte blocks 16 bytes a load: every byte of every block must count.
  const memory = manager(2);
  const lease = memory.allocate("sort-buffer", 2);
  const stale = [lease.segments[0]!.bytes, lease.segments[1]!.bytes];
  lease.release();
  let found = 0;
  for (let page = 0; page < 2; page += 1) {
    for (let byte = 0; byte < PAGE; byte += 1) {
      stale[page]![byte] = byte % 255 === POISON_BYTE ? 0 : byte % 255;
      const violations = memory.verifyPoison();
      found += 1;
      strictEqual(violations.length, found, `page ${page}, byte ${byte} not found`);
      ok(
        violations[found - 1]!.detail.startsWith(`page ${page}, byte ${byte} is `),
        violations[found - 1]!.detail,
      );
      strictEqual(stale[page]![byte], POISON_BYTE, "the page is poisoned again");
    }
  }
});

Deno.test("A stale write is found on pages at 2 GiB and above, up to the pool's last page", () => {
  // The poison scan runs on 32-bit addresses: an address of 2^31 or more, and a pool that ends
  // at 4 GiB, must still be scanned (the pages below are held, never touched).
  const SEGMENT = 64 * 1024;
  const memory = new MemoryManager({
    budgetBytes: POOL_BYTES_MAX,
    segmentBytes: SEGMENT,
    leakDetection: "simple",
  });
  const below = memory.allocateContiguous("below", memory.totalSegments - 2);
  let found = 0;
  for (const owner of ["high", "last"]) {
    const lease = memory.allocate(owner, 1);
    const segment = lease.segments[0]!;
    const offset = segment.memoryOffset;
    ok(offset >= 2 ** 31, `${owner}: at ${offset}`);
    const stale = segment.bytes;
    stale.fill(1);
    lease.release();
    stale[SEGMENT - 5] = 7;
    // verifyPoison answers with every write after release found so far.
    const violations = memory.verifyPoison();
    found += 1;
    strictEqual(violations.length, found, `${owner}: the stale write at ${offset}`);
    // Hold it, so the next request takes the page above.
    const held = memory.allocate(`${owner}-held`, 1);
    strictEqual(held.segments[0]!.memoryOffset, offset);
    if (owner === "last") {
      strictEqual(offset + SEGMENT, 2 ** 32, "the pool ends at 4 GiB");
    }
  }
  below.release();
});

Deno.test("A stale write names the borrower the owner last lent pages to", () => {
  const memory = manager(4);
  const buffer = memory.allocate("sort-buffer", 2);
  // Lent once (a Worker sorted it) and taken back: the Worker may still hold raw offsets.
  memory.lend("sort-worker", [buffer.segments[0]!]);
  memory.takeBack("sort-worker", [buffer.segments[0]!]);
  const stale = buffer.segments[1]!.bytes;
  const releasedId = buffer.segments[1]!.id;
  buffer.release();
  stale[8] = 1; // e.g. the Worker's index write into a page never lent this time
  throws(() => memory.allocate("merge-input", 2), (error: unknown) => {
    ok(error instanceof SegmentPoisonError, String(error));
    strictEqual(error.lastBorrower, "sort-worker");
    strictEqual(
      error.message,
      `Write after release: segment #${releasedId} of "sort-buffer" was written after ` +
        `"sort-buffer" released it (page 1, byte 8 is 0x01, not the poison 0xdb); ` +
        `"sort-buffer" last lent pages to "sort-worker"`,
    );
    return true;
  });
  strictEqual(memory.leakReport().poisonViolations[0]!.lastBorrower, "sort-worker");
  // An owner that never lent anything: no borrower named.
  const table = memory.allocate("count-table", 1);
  const tableView = table.segments[0]!.bytes;
  table.release();
  tableView[0] = 2;
  throws(() => memory.assertAllReleased(), (error: unknown) => {
    ok(error instanceof MemoryLeakError);
    ok(
      /"count-table" released it \(page \d, byte 0 is 0x02, not the poison 0xdb\)$/m.test(
        error.message,
      ),
      error.message,
    );
    return true;
  });
});

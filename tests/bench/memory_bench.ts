/**
 * Managed-memory benchmarks (bars from issue 2):
 * - allocate + release of single pages: at least 1 million per second;
 * - a getU32BE loop over a segment within 1.5x of the same loop on a raw DataView.
 *
 * Run: deno bench tests/bench/memory_bench.ts
 */
import { MemoryManager } from "../../src/memory/mod.ts";

const SEGMENT_BYTES = 32 * 1024;
const memory = new MemoryManager({
  budgetBytes: 64 * SEGMENT_BYTES,
  segmentBytes: SEGMENT_BYTES,
  leakDetection: "simple",
});
const OPERATIONS = 10_000;

Deno.bench({
  name: `allocate+release 1 page x ${OPERATIONS}`,
  group: "allocation",
  fn() {
    for (let i = 0; i < OPERATIONS; i += 1) {
      memory.allocate("bench", 1).release();
    }
  },
});

Deno.bench({
  name: `allocate+release 8 pages x ${OPERATIONS / 8}`,
  group: "allocation",
  fn() {
    for (let i = 0; i < OPERATIONS / 8; i += 1) {
      memory.allocate("bench", 8).release();
    }
  },
});

const lease = memory.allocate("read-loop", 1);
const segment = lease.segments[0]!;
for (let offset = 0; offset < SEGMENT_BYTES; offset += 4) {
  segment.setU32BE(offset, offset * 2654435761);
}
const rawView = new DataView(new ArrayBuffer(SEGMENT_BYTES));
for (let offset = 0; offset < SEGMENT_BYTES; offset += 4) {
  rawView.setUint32(offset, offset * 2654435761);
}
let sink = 0;

Deno.bench({
  name: "getU32BE over a 32 KiB segment",
  group: "read-loop",
  fn() {
    let sum = 0;
    for (let offset = 0; offset < SEGMENT_BYTES; offset += 4) {
      sum = (sum + segment.getU32BE(offset)) | 0;
    }
    sink ^= sum;
  },
});

Deno.bench({
  name: "getUint32 over a raw 32 KiB DataView",
  group: "read-loop",
  baseline: true,
  fn() {
    let sum = 0;
    for (let offset = 0; offset < SEGMENT_BYTES; offset += 4) {
      sum = (sum + rawView.getUint32(offset)) | 0;
    }
    sink ^= sum;
  },
});

globalThis.addEventListener("unload", () => {
  // deno-lint-ignore no-console
  if (sink === 0.5) console.log(sink); // keep the loops observable
  lease.release();
  memory.assertAllReleased();
});

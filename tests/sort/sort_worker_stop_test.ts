import { rejects, strictEqual } from "node:assert/strict";
import { MemoryManager } from "../../src/memory/mod.ts";
import { BytesOrder } from "../../src/sort/record_order.ts";
import { SortBuffer } from "../../src/sort/sort_buffer.ts";
import { SortWorker, SpillRing } from "../../src/sort/sort_worker_pool.ts";
import { SPLIT_SORT_WORDS } from "../../src/sort/split_sort.ts";

Deno.test("SortWorker: a block write that fails at once settles only once the Worker stopped touching the pages", async () => {
  const memory = new MemoryManager({ budgetBytes: 4 << 20, segmentBytes: 4096 });
  const buffer = new SortBuffer(memory, {
    owner: "sort-buffer-0",
    dataSegmentCount: 64,
    indexEntryCount: 16384,
    order: new BytesOrder(),
  });
  // Many more blocks than the ring's two slots: the Worker is mid-job when the first fails.
  const line = new TextEncoder().encode("record-0000000");
  for (let i = 0; buffer.tryAppend(line, 0, line.length); i += 1) {
    line.set(new TextEncoder().encode(String(i * 7919 % 10000000).padStart(7, "0")), 7);
  }
  const ring = new SpillRing(memory, { dataSegments: 64, blockCount: 2 });
  const worker = new SortWorker({ kind: "bytes", reverse: false }, memory);
  try {
    await rejects(
      worker.sort(buffer, {
        spill: {
          ring,
          unique: false,
          writeBlock: () => {
            throw Object.assign(new Error("No space left on device"), { code: "ENOSPC" });
          },
        },
      }),
      /No space left/,
    );
    // Its last reply came: the Worker finished with the pages before they were taken back.
    strictEqual(worker.isIdle, true, "the Worker still ran the job when the sort failed");
  } finally {
    worker.close();
    ring.release();
    buffer.release();
  }
  strictEqual(memory.freeSegments, memory.totalSegments);
});

Deno.test("SortWorker: a failed help with a split sort fails the next job (the buffer it helped), not the output", async () => {
  const memory = new MemoryManager({ budgetBytes: 4 << 20, segmentBytes: 4096 });
  const buffer = new SortBuffer(memory, {
    owner: "sort-buffer-0",
    dataSegmentCount: 64,
    indexEntryCount: 16384,
    order: new BytesOrder(),
  });
  const line = new TextEncoder().encode("record-0000000");
  for (let i = 0; i < 1000 && buffer.tryAppend(line, 0, line.length); i += 1) {
    line.set(new TextEncoder().encode(String(i * 7919 % 10000000).padStart(7, "0")), 7);
  }
  const ring = new SpillRing(memory, { dataSegments: 64, blockCount: 2 });
  const worker = new SortWorker({ kind: "bytes", reverse: false }, memory);
  try {
    // A bucket whose index lies outside the memory: the kernel facade refuses to sort it.
    const control = new Int32Array(new SharedArrayBuffer(SPLIT_SORT_WORDS * 4));
    control[0] = 1 << 16; // one bucket left, bucket 0
    control[1] = 1;
    control[2] = 0;
    control[3] = 2;
    const job = {
      segments: [],
      index: memory.wasmMemory.buffer.byteLength,
      recordCount: 2,
      segmentShift: 12,
    };
    worker.help({ job, control, reverse: false }, ring);
    // Long enough for the Worker to run the help: nothing of it may reach this thread now (a
    // reply nobody listens for is lost), the buffer's job must fail.
    while (Atomics.load(control, 0) >>> 16 !== 0) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 100));
    await rejects(worker.sort(buffer, { ring }), /Sort worker failed/);
    strictEqual(Atomics.load(control, 0) >>> 16, 0, "the Worker did not take the bucket");
  } finally {
    worker.close();
    ring.release();
    buffer.release();
  }
  strictEqual(memory.freeSegments, memory.totalSegments);
});

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { IoManager } from "../../src/io/mod.ts";
import { ReferenceKernels, SORT_SCRATCH_BYTES, WasmKernels } from "../../src/kernels/mod.ts";
import { MemoryManager } from "../../src/memory/mod.ts";
import {
  type BlockFirstKeys,
  BlockGather,
  dropDuplicates,
  FIRST_KEY_BYTES_MAX,
  FIRST_KEYS_BYTES_MAX,
  kernelAreaBytes,
  sortJobWith,
} from "../../src/sort/kernel_sort.ts";
import {
  BytesOrder,
  externalSort,
  type OrderDescriptor,
  orderFromDescriptor,
  type RecordOrder,
  SortBuffer,
  type SortJob,
  type SortOrderSpec,
} from "../../src/sort/mod.ts";
import { assertBlockStarts, decodedFirstKeys } from "../_support/block_starts.ts";
import { gnuSort, gnuSortAvailable, makeRandom, makeWorkDir, randomLines } from "./_gnu.ts";
import { plainSpec } from "./_fixtures.ts";

const SEED = Number(Deno.env.get("SPILLWAY_SEED") ?? Date.now() % 1_000_000);

function spec(keys: string[], flags: Partial<SortOrderSpec> = {}): OrderDescriptor {
  return { kind: "spec", spec: plainSpec(keys, flags) };
}

/** Orders the kernels sort (plain, normalized keys) and ones they leave to JavaScript. */
const CASES: { name: string; descriptor: OrderDescriptor; gnu: string[]; unique?: boolean }[] = [
  { name: "plain", descriptor: { kind: "bytes", reverse: false }, gnu: [] },
  { name: "-r", descriptor: { kind: "bytes", reverse: true }, gnu: ["-r"] },
  {
    name: "-u",
    descriptor: spec([], { unique: true }),
    gnu: ["-u"],
    unique: true,
  },
  { name: "-s -k2,2", descriptor: spec(["2,2"], { stable: true }), gnu: ["-s", "-k2,2"] },
  { name: "-k2n -r", descriptor: spec(["2n"], { reverse: true }), gnu: ["-k2n", "-r"] },
  {
    name: "-f -u -k1,1",
    descriptor: spec(["1,1"], { foldCase: true, unique: true }),
    gnu: ["-f", "-u", "-k1,1"],
    unique: true,
  },
  {
    name: "-t, -k2,2 -k1,1r",
    descriptor: spec(["2,2", "1,1r"], { fieldSeparator: 0x2c }),
    gnu: [
      "-t,",
      "-k2,2",
      "-k1,1r",
    ],
  },
  { name: "-V (comparator)", descriptor: spec([], { version: true }), gnu: ["-V"] },
];

async function sortWith(
  input: Uint8Array,
  descriptor: OrderDescriptor,
  options: {
    kernels: boolean;
    unique: boolean;
    budgetBytes?: number;
    segmentBytes?: number;
    workerSortsWhenIdle?: boolean;
    splitSort?: boolean;
  },
) {
  const work = await makeWorkDir();
  // 4.5 MiB of 4 KiB segments: room for the kernel area (1/8 at most), buffers of ~1.3 MiB.
  const memory = new MemoryManager({
    budgetBytes: options.budgetBytes ?? 4.5 * 1024 * 1024,
    segmentBytes: options.segmentBytes ?? 4096,
  });
  const io = await IoManager.open({ memory, tmpDirs: [work.spill], handleSignals: false });
  try {
    await Deno.writeFile(work.path("in"), input);
    const stats = await externalSort([work.path("in")], work.path("out"), {
      memory,
      io,
      order: orderFromDescriptor(descriptor),
      orderDescriptor: descriptor,
      unique: options.unique,
      kernels: options.kernels,
      ...(options.workerSortsWhenIdle === undefined
        ? {}
        : { workerSortsWhenIdle: options.workerSortsWhenIdle }),
      ...(options.splitSort === undefined ? {} : { splitSort: options.splitSort }),
    });
    return { stats, output: await Deno.readFile(work.path("out")) };
  } finally {
    await io.close();
    memory.assertAllReleased();
    deepStrictEqual(work.spillLeftovers(), [], "spill files left behind");
    await work.remove();
  }
}

for (const testCase of CASES) {
  Deno.test(`externalSort ${testCase.name}: the kernels' runs equal the JavaScript ones and GNU's output`, async () => {
    const random = makeRandom(SEED + testCase.name.length);
    const input = randomLines(random, 70_000, { maxLength: 40 });
    const unique = testCase.unique ?? false;
    const kernel = await sortWith(input, testCase.descriptor, { kernels: true, unique });
    const js = await sortWith(input, testCase.descriptor, { kernels: false, unique });
    const seed = `seed ${SEED} (SPILLWAY_SEED reruns)`;
    strictEqual(kernel.stats.runCount >= 2, true, `${kernel.stats.runCount} runs, ${seed}`);
    strictEqual(Buffer.compare(kernel.output, js.output), 0, `kernel != JS, ${seed}`);
    strictEqual(js.stats.kernelSorts, 0);
    const comparator = testCase.descriptor.kind === "spec" && testCase.descriptor.spec.version;
    strictEqual(kernel.stats.kernelSorts > 0, !comparator, `kernel sorts, ${seed}`);
    if (gnuSortAvailable) {
      const work = await makeWorkDir();
      try {
        await Deno.writeFile(work.path("in"), input);
        const gnu = await gnuSort([...testCase.gnu, work.path("in")]);
        strictEqual(Buffer.compare(kernel.output, gnu.stdout), 0, `kernel != GNU, ${seed}`);
      } finally {
        await work.remove();
      }
    }
  });
}

// 12 MiB of 64 KiB segments: room for two kernel areas, so the main thread sorts each full
// buffer (workerSortsWhenIdle false: every one; by default only those handed over while the
// Worker is busy) and the Worker gathers it and writes the run file itself. (splitSort false:
// plain lines are otherwise sorted by both threads, tested below.)
for (const testCase of CASES.filter((c) => ["plain", "-u", "-k2n -r"].includes(c.name))) {
  Deno.test(`externalSort ${testCase.name}, sorted on the main thread, written by the Worker: equals the JavaScript sort`, async () => {
    const random = makeRandom(SEED + 3 * testCase.name.length);
    const input = randomLines(random, 300_000, { maxLength: 40 });
    const unique = testCase.unique ?? false;
    const sizes = {
      budgetBytes: 12 * 1024 * 1024,
      segmentBytes: 65536,
      workerSortsWhenIdle: false,
      splitSort: false,
    };
    const kernel = await sortWith(input, testCase.descriptor, { kernels: true, unique, ...sizes });
    const js = await sortWith(input, testCase.descriptor, { kernels: false, unique, ...sizes });
    const seed = `seed ${SEED} (SPILLWAY_SEED reruns)`;
    strictEqual(kernel.stats.runCount >= 2, true, `${kernel.stats.runCount} runs, ${seed}`);
    strictEqual(kernel.stats.mainThreadSorts >= 2, true, `main-thread sorts, ${seed}`);
    strictEqual(js.stats.mainThreadSorts, 0);
    strictEqual(Buffer.compare(kernel.output, js.output), 0, `kernel != JS, ${seed}`);
  });
}

// The same sizes with the split sort (split_sort.ts): this thread partitions each full buffer
// of plain lines and sorts buckets from the low end while the Worker takes them from the high end.
for (const testCase of CASES.filter((c) => ["plain", "-u", "-r"].includes(c.name))) {
  Deno.test(`externalSort ${testCase.name}, each buffer sorted by both threads: equals the JavaScript sort`, async () => {
    const random = makeRandom(SEED + 5 * testCase.name.length);
    const input = randomLines(random, 300_000, { maxLength: 40 });
    const unique = testCase.unique ?? false;
    const sizes = { budgetBytes: 12 * 1024 * 1024, segmentBytes: 65536 };
    const kernel = await sortWith(input, testCase.descriptor, { kernels: true, unique, ...sizes });
    const js = await sortWith(input, testCase.descriptor, { kernels: false, unique, ...sizes });
    const seed = `seed ${SEED} (SPILLWAY_SEED reruns)`;
    strictEqual(kernel.stats.runCount >= 2, true, `${kernel.stats.runCount} runs, ${seed}`);
    strictEqual(
      kernel.stats.splitSorts >= 2,
      true,
      `${kernel.stats.splitSorts} split sorts, ${seed}`,
    );
    strictEqual(js.stats.splitSorts, 0);
    strictEqual(Buffer.compare(kernel.output, js.output), 0, `kernel != JS, ${seed}`);
  });
}

// The last buffer (kept in memory for the final merge) is sorted by both threads too: the Worker
// takes buckets once it has written the last spill, and the merge waits for them.
Deno.test("externalSort plain: the last buffer, kept in memory, is sorted by both threads", async () => {
  const random = makeRandom(SEED + 13);
  const input = randomLines(random, 250_000, { maxLength: 40 });
  const descriptor: OrderDescriptor = { kind: "bytes", reverse: false };
  const sizes = { budgetBytes: 12 * 1024 * 1024, segmentBytes: 65536 };
  const kernel = await sortWith(input, descriptor, { kernels: true, unique: false, ...sizes });
  const seed = `seed ${SEED} (SPILLWAY_SEED reruns)`;
  strictEqual(kernel.stats.runCount >= 2, true, `${kernel.stats.runCount} runs, ${seed}`);
  // Every spilled buffer and the one kept in memory.
  strictEqual(kernel.stats.splitSorts, kernel.stats.runCount + 1, `split sorts, ${seed}`);
  const js = await sortWith(input, descriptor, { kernels: false, unique: false, ...sizes });
  strictEqual(Buffer.compare(kernel.output, js.output), 0, `kernel != JS, ${seed}`);
});

/** Fills a buffer with `lines`, lends it, and returns the job and what to give back. */
function filledJob(memory: MemoryManager, order: RecordOrder, input: Uint8Array) {
  const buffer = new SortBuffer(memory, {
    owner: "test-buffer",
    dataSegmentCount: 64,
    indexEntryCount: 8192,
    order,
  });
  let start = 0;
  for (let stop = input.indexOf(10); stop >= 0; stop = input.indexOf(10, start)) {
    if (!buffer.tryAppend(input, start, stop - start)) break;
    start = stop + 1;
  }
  const job = buffer.lend("test-worker");
  return { buffer, job };
}

function sortedRecords(memory: MemoryManager, buffer: SortBuffer): string[] {
  buffer.takeBack(true);
  const out: string[] = [];
  const text = new TextDecoder("latin1");
  for (let i = 0; i < buffer.recordCount; i += 1) {
    const offset = buffer.recordOffset(i);
    out.push(text.decode(buffer.recordBytes(i).subarray(offset, offset + buffer.recordLength(i))));
  }
  buffer.release();
  void memory;
  return out;
}

Deno.test("sortJobWith: the kernel sort gives the JavaScript order, entry for entry", () => {
  for (const testCase of CASES) {
    const order = orderFromDescriptor(testCase.descriptor);
    const input = randomLines(makeRandom(SEED + 7), 3000, { maxLength: 30 });
    const results: string[][] = [];
    for (const useKernels of [true, false]) {
      const memory = new MemoryManager({ budgetBytes: 2 * 1024 * 1024, segmentBytes: 4096 });
      const area = memory.allocateContiguous("test-area", Math.ceil(kernelAreaBytes(64) / 4096));
      const kernels = useKernels ? new WasmKernels(memory.wasmMemory) : undefined;
      const { buffer, job } = filledJob(memory, order, input);
      sortJobWith(job, order, {
        memory: memory.wasmMemory,
        kernels,
        areaOffset: area.segments[0]!.memoryOffset,
      });
      results.push(sortedRecords(memory, buffer));
      area.release();
      memory.assertAllReleased();
    }
    deepStrictEqual(results[0], results[1], `${testCase.name}, seed ${SEED}`);
  }
});

Deno.test("BlockGather: WebAssembly and reference gathers seal the same blocks; -u drops like the filter", () => {
  const order = new BytesOrder();
  const input = randomLines(makeRandom(SEED + 11), 4000, { maxLength: 300 });
  const blocks: Uint8Array[][] = [];
  for (const useKernels of [true, false]) {
    const memory = new MemoryManager({ budgetBytes: 4 * 1024 * 1024, segmentBytes: 4096 });
    const area = memory.allocateContiguous("test-area", Math.ceil(kernelAreaBytes(64) / 4096));
    const ring = memory.allocate("test-ring", 3);
    const kernels = useKernels
      ? new WasmKernels(memory.wasmMemory)
      : new ReferenceKernels(memory.wasmMemory);
    const { buffer, job } = filledJob(memory, order, input);
    const areaOffset = area.segments[0]!.memoryOffset;
    sortJobWith(job, order, { memory: memory.wasmMemory, kernels, areaOffset });
    const before = job.recordCount;
    dropDuplicates(job, order, memory.wasmMemory.buffer as SharedArrayBuffer);
    strictEqual(job.recordCount < before, true, "random lines have duplicates");
    const offsets = ring.segments.map((segment) => segment.memoryOffset);
    const gather = new BlockGather(job, {
      memory: memory.wasmMemory,
      kernels,
      areaOffset,
      ring: offsets,
      blockBytes: 4096,
    });
    const sealed: Uint8Array[] = [];
    const bytes = new Uint8Array(memory.wasmMemory.buffer);
    let records = 0;
    for (let block = gather.next(); block !== undefined; block = gather.next()) {
      const base = offsets[block.slot]!;
      const payload = bytes[base]! | bytes[base + 1]! << 8;
      sealed.push(bytes.slice(base, base + 16 + payload));
      records += block.recordCount;
      gather.free();
    }
    strictEqual(gather.isDone, true);
    strictEqual(records, job.recordCount);
    assertBlockStarts(sealed, `gather (kernels: ${useKernels}), seed ${SEED}`);
    assertFirstKeys(gather.blockFirstKeys!, sealed, sealed.length, `seed ${SEED}`);
    blocks.push(sealed);
    buffer.takeBack(true);
    buffer.release();
    ring.release();
    area.release();
    memory.assertAllReleased();
  }
  deepStrictEqual(blocks[0], blocks[1], `seed ${SEED}`);
  strictEqual(SORT_SCRATCH_BYTES < kernelAreaBytes(1), true);
});

/** Asserts that the gather's first keys are those of a decode, for the first `known` blocks. */
function assertFirstKeys(
  keys: BlockFirstKeys,
  sealed: readonly Uint8Array[],
  known: number,
  label: string,
): void {
  const decoded = decodedFirstKeys(sealed, FIRST_KEY_BYTES_MAX);
  strictEqual(keys.recordLengths.length, known, `${label}: blocks known`);
  strictEqual(keys.keyEnds.length, known, `${label}: key ends`);
  for (let b = 0; b < known; b += 1) {
    const start = b === 0 ? 0 : keys.keyEnds[b - 1]!;
    strictEqual(keys.recordLengths[b], decoded[b]!.recordLength, `${label}: block ${b}`);
    deepStrictEqual(keys.bytes.subarray(start, keys.keyEnds[b]), decoded[b]!.key, `${label}: ${b}`);
  }
}

Deno.test("BlockGather's first keys stop at FIRST_KEYS_BYTES_MAX bytes: the blocks after are not known", () => {
  const order = new BytesOrder();
  const text = new TextEncoder();
  // Records of 1000-3000 bytes in 4 KiB blocks: a 256-byte key for nearly every block.
  const random = makeRandom(SEED + 17);
  const lines = Array.from({ length: 700 }, (_, i) => {
    const head = String.fromCharCode(0x61 + (i % 26));
    return head.repeat(1000 + Math.floor(random() * 2000));
  });
  const input = text.encode(lines.join("\n") + "\n");
  const memory = new MemoryManager({ budgetBytes: 8 * 1024 * 1024, segmentBytes: 4096 });
  const area = memory.allocateContiguous("test-area", Math.ceil(kernelAreaBytes(600) / 4096));
  const ring = memory.allocate("test-ring", 2);
  const kernels = new WasmKernels(memory.wasmMemory);
  const buffer = new SortBuffer(memory, {
    owner: "test-buffer",
    dataSegmentCount: 600,
    indexEntryCount: 1024,
    order,
  });
  let start = 0;
  for (let stop = input.indexOf(10); stop >= 0; stop = input.indexOf(10, start)) {
    strictEqual(buffer.tryAppend(input, start, stop - start), true);
    start = stop + 1;
  }
  const job = buffer.lend("test-worker");
  const { gather, sealed } = sortAndGather(job, order, { memory, kernels, area, ring });
  const keys = gather.blockFirstKeys!;
  const known = keys.recordLengths.length;
  ok(known < sealed.length, `${known} of ${sealed.length} blocks known`);
  ok(keys.bytes.length <= FIRST_KEYS_BYTES_MAX, "the keys stay within their bound");
  ok(keys.bytes.length + FIRST_KEY_BYTES_MAX > FIRST_KEYS_BYTES_MAX, "they stop at the bound");
  assertFirstKeys(keys, sealed, known, `seed ${SEED}`);
  buffer.takeBack(true);
  buffer.release();
  ring.release();
  area.release();
  memory.assertAllReleased();
});

Deno.test("indexLineBytes: the kernel sums an index's record lengths plus a terminator each", () => {
  const memory = new MemoryManager({ budgetBytes: 1024 * 1024, segmentBytes: 4096 });
  const page = memory.allocate("test-index", 16);
  const kernels = new WasmKernels(memory.wasmMemory);
  const at = page.segments[0]!.memoryOffset;
  strictEqual(page.segments[15]!.memoryOffset, at + 15 * 4096, "one contiguous run of pages");
  const words = new Uint32Array(memory.wasmMemory.buffer, at, 16 * 1024);
  const random = makeRandom(SEED + 19);
  let expected = 0;
  const sums = [0];
  for (let e = 0; e < 4096; e += 1) {
    words[4 * e] = 0xffffffff; // prefix words and address: not summed
    words[4 * e + 2] = 0xffffffff;
    words[4 * e + 3] = e === 7 ? 0xfffffff0 : Math.floor(random() * 5000);
    expected += words[4 * e + 3]! + 1;
    sums.push(expected);
  }
  for (const count of [0, 1, 7, 8, 100, 4096]) {
    strictEqual(kernels.indexLineBytes(at, count), sums[count], `${count} entries`);
  }
  page.release();
  memory.assertAllReleased();
});

Deno.test("an empty keyed record that would end exactly at a page end keeps its place (-s)", () => {
  const descriptor = spec(["2,2"], { stable: true });
  const order = orderFromDescriptor(descriptor);
  const text = new TextEncoder();
  for (let fill = 4060; fill <= 4092; fill += 1) {
    // Every record has an empty key 2, so the stable order is the input order.
    const records = ["q".repeat(fill), "", "a", "", "b"];
    const input = text.encode(records.join("\n") + "\n");
    for (const useKernels of [true, false]) {
      const memory = new MemoryManager({ budgetBytes: 2 * 1024 * 1024, segmentBytes: 4096 });
      const area = memory.allocateContiguous("test-area", Math.ceil(kernelAreaBytes(64) / 4096));
      const { buffer, job } = filledJob(memory, order, input);
      sortJobWith(job, order, {
        memory: memory.wasmMemory,
        kernels: useKernels ? new WasmKernels(memory.wasmMemory) : undefined,
        areaOffset: area.segments[0]!.memoryOffset,
      });
      deepStrictEqual(
        sortedRecords(memory, buffer),
        records,
        `fill ${fill}, kernels ${useKernels}`,
      );
      area.release();
      memory.assertAllReleased();
    }
  }
});

Deno.test("BlockGather's line-bytes index: output bytes before each block's first record start, then the total", () => {
  const order = new BytesOrder();
  const random = makeRandom(SEED + 12);
  const text = new TextEncoder();
  // Lengths across the one- and two-byte varints, and lines of most of a block (a sort buffer
  // holds lines up to a page).
  const lines: string[] = [];
  for (let i = 0; i < 900; i += 1) {
    const kind = random();
    const length = kind < 0.6
      ? Math.floor(random() * 127)
      : kind < 0.995
      ? 100 + Math.floor(random() * 400)
      : 3000 + Math.floor(random() * 1090);
    lines.push(String.fromCharCode(0x61 + Math.floor(random() * 4)).repeat(length));
  }
  const input = text.encode(lines.join("\n") + "\n");
  for (const useKernels of [true, false]) {
    const memory = new MemoryManager({ budgetBytes: 4 * 1024 * 1024, segmentBytes: 4096 });
    const area = memory.allocateContiguous("test-area", Math.ceil(kernelAreaBytes(256) / 4096));
    const ring = memory.allocate("test-ring", 3);
    const kernels = useKernels
      ? new WasmKernels(memory.wasmMemory)
      : new ReferenceKernels(memory.wasmMemory);
    const { buffer, job } = filledJob(memory, order, input);
    const { gather, sealed } = sortAndGather(job, order, { memory, kernels, area, ring });
    const payloads = sealed.map((block) => block.subarray(16));
    // The oracle: decode every record and note the output bytes before each block's first.
    const expected: number[] = payloads.map(() => -1);
    let outputBytes = 0;
    let b = 0;
    let at = 0;
    const next = (): number => {
      while (at >= payloads[b]!.length) {
        b += 1;
        at = 0;
      }
      at += 1;
      return payloads[b]![at - 1]!;
    };
    for (let record = 0; record < job.recordCount; record += 1) {
      while (at >= payloads[b]!.length) {
        b += 1;
        at = 0;
      }
      if (expected[b] === -1) expected[b] = outputBytes;
      let length = 0;
      let scale = 1;
      for (;;) {
        const byte = next();
        length += (byte & 0x7f) * scale;
        scale *= 128;
        if (byte < 0x80) break;
      }
      for (let k = 0; k < length; k += 1) next();
      outputBytes += length + 1;
    }
    expected.push(outputBytes);
    strictEqual(outputBytes, input.length, "the buffer holds the whole input");
    deepStrictEqual(gather.lineBytesIndex, expected, `kernels: ${useKernels}, seed ${SEED}`);
    buffer.takeBack(true);
    buffer.release();
    ring.release();
    area.release();
    memory.assertAllReleased();
  }
});

/**
 * Sorts `job` with `kernels` in `area`, then gathers it into 4 KiB blocks through `ring`: the
 * gather (its first keys, its line-bytes index) and each sealed block, its 16-byte header
 * included.
 */
function sortAndGather(
  job: SortJob,
  order: RecordOrder,
  parts: {
    memory: MemoryManager;
    kernels: Parameters<typeof sortJobWith>[2]["kernels"];
    area: ReturnType<MemoryManager["allocate"]>;
    ring: ReturnType<MemoryManager["allocate"]>;
  },
): { gather: BlockGather; sealed: Uint8Array[] } {
  const { memory, kernels } = parts;
  const areaOffset = parts.area.segments[0]!.memoryOffset;
  sortJobWith(job, order, { memory: memory.wasmMemory, kernels, areaOffset });
  const offsets = parts.ring.segments.map((segment) => segment.memoryOffset);
  const gather = new BlockGather(job, {
    memory: memory.wasmMemory,
    kernels,
    areaOffset,
    ring: offsets,
    blockBytes: 4096,
  });
  const sealed: Uint8Array[] = [];
  const bytes = new Uint8Array(memory.wasmMemory.buffer);
  for (let block = gather.next(); block !== undefined; block = gather.next()) {
    const base = offsets[block.slot]!;
    sealed.push(bytes.slice(base, base + 16 + (bytes[base]! | bytes[base + 1]! << 8)));
    gather.free();
  }
  return { gather, sealed };
}

import { deepStrictEqual, rejects, strictEqual } from "node:assert/strict";
import { IoManager } from "../../src/io/mod.ts";
import { MemoryManager } from "../../src/memory/mod.ts";
import { externalSort } from "../../src/sort/external_sort.ts";
import { BytesOrder } from "../../src/sort/record_order.ts";
import { makeRandom, makeWorkDir, randomLines } from "./_gnu.ts";

/** Sorts `input` with the library API; returns the output bytes and the stats. */
async function sortWithLibrary(
  input: Uint8Array,
  options: {
    budgetBytes: number;
    segmentBytes: number;
    fanInMax?: number;
    failAtOperation?: number;
    unique?: boolean;
    /** Where the input comes from: a file (default), the file gzipped (size unknown), a device. */
    source?: "file" | "gzip" | "/dev/null";
    /** Fixed-size binary records of this many bytes instead of lines. */
    recordBytes?: number;
  },
) {
  const work = await makeWorkDir();
  const memory = new MemoryManager({
    budgetBytes: options.budgetBytes,
    segmentBytes: options.segmentBytes,
  });
  const io = await IoManager.open({
    memory,
    tmpDirs: [work.spill],
    handleSignals: false,
    ...(options.failAtOperation === undefined
      ? {}
      : { faultInjection: { failAtOperation: options.failAtOperation } }),
  });
  try {
    const source = options.source ?? "file";
    let inputPath = work.path("in");
    if (source === "gzip") {
      inputPath = work.path("in.gz");
      const stream = new Blob([input.slice()]).stream().pipeThrough(new CompressionStream("gzip"));
      await Deno.writeFile(inputPath, new Uint8Array(await new Response(stream).arrayBuffer()));
    } else if (source === "/dev/null") {
      inputPath = source;
    } else {
      await Deno.writeFile(inputPath, input);
    }
    const stats = await externalSort([inputPath], work.path("out"), {
      memory,
      io,
      order: new BytesOrder(),
      orderDescriptor: { kind: "bytes", reverse: false },
      unique: options.unique ?? false,
      fanInMax: options.fanInMax ?? 128,
      ...(options.recordBytes === undefined ? {} : { recordBytes: options.recordBytes }),
    });
    return { stats, output: await Deno.readFile(work.path("out")) };
  } finally {
    await io.close();
    memory.assertAllReleased();
    deepStrictEqual(work.spillLeftovers(), [], "spill files left behind");
    await work.remove();
  }
}

function oracleSort(input: Uint8Array, unique = false): Uint8Array {
  const text = new TextDecoder("latin1").decode(input);
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  lines.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)); // latin1: code unit order = byte order
  const kept = unique ? lines.filter((line, i) => i === 0 || line !== lines[i - 1]) : lines;
  const out = kept.map((line) => line + "\n").join("");
  return Uint8Array.from(out, (c) => c.charCodeAt(0));
}

Deno.test("externalSort spills runs and merges them in several passes with fan-in 2", async () => {
  const input = randomLines(makeRandom(3), 6000, { exotic: false });
  const { stats, output } = await sortWithLibrary(input, {
    budgetBytes: 64 * 1024,
    segmentBytes: 4096,
    fanInMax: 2,
  });
  strictEqual(Buffer.compare(output, oracleSort(input)), 0);
  strictEqual(stats.inputRecords, 6000);
  strictEqual(stats.outputRecords, 6000);
  strictEqual(stats.runCount > 4, true, `runs: ${stats.runCount}`);
  strictEqual(stats.mergePasses >= Math.ceil(Math.log2(stats.runCount)), true);
});

Deno.test("externalSort keeps a small input in memory: no spill file, one pass of nothing", async () => {
  const input = randomLines(makeRandom(4), 100, { exotic: false });
  const { stats, output } = await sortWithLibrary(input, {
    budgetBytes: 1024 * 1024,
    segmentBytes: 32 * 1024,
    unique: true,
  });
  strictEqual(Buffer.compare(output, oracleSort(input, true)), 0);
  strictEqual(stats.runCount, 0);
  strictEqual(stats.usedWorker, false);
});

Deno.test("externalSort sorts an empty or small input of unknown size without a Worker", async () => {
  // A Worker blocks this thread ~12 ms to spawn and a sort on it waits ~35 ms for its boot: for
  // `sort /dev/null` or `printf ... | sort`, most of the run. It boots once 1 MiB has come.
  const budget = { budgetBytes: 32 * 1024 * 1024, segmentBytes: 64 * 1024 };
  const empty = await sortWithLibrary(new Uint8Array(0), { ...budget, source: "/dev/null" });
  strictEqual(empty.output.length, 0);
  strictEqual(empty.stats.usedWorker, false);
  const small = randomLines(makeRandom(11), 200, { exotic: false });
  const zipped = await sortWithLibrary(small, { ...budget, source: "gzip" });
  strictEqual(Buffer.compare(zipped.output, oracleSort(small)), 0);
  strictEqual(zipped.stats.usedWorker, false);
  const large = randomLines(makeRandom(12), 80_000, { exotic: false, maxLength: 64 }); // ~2 MiB
  const early = await sortWithLibrary(large, { ...budget, source: "gzip" });
  strictEqual(Buffer.compare(early.output, oracleSort(large)), 0);
  strictEqual(early.stats.runCount, 0, "one buffer held it");
  strictEqual(early.stats.usedWorker, true, "booted early for an input past 1 MiB");
  // Fixed-size records of unknown size too (they were read by their own loop, which never
  // booted the Worker before the first full buffer: review of the cli15 merge).
  const records = new Uint8Array(100 * 20_000); // ~2 MiB of 100-byte records
  const random = makeRandom(13);
  for (let i = 0; i < records.length; i += 1) records[i] = Math.floor(random() * 256);
  const fixed = await sortWithLibrary(records, { ...budget, source: "gzip", recordBytes: 100 });
  strictEqual(fixed.output.length, records.length);
  strictEqual(fixed.stats.runCount, 0, "one buffer held it");
  strictEqual(fixed.stats.usedWorker, true, "booted early for fixed records past 1 MiB");
});

Deno.test("externalSort faults the buffer pages in ahead for an input of known size", async () => {
  // 200 KiB of lines into two buffers of ~110 KiB: the rest of the input after the first
  // chunk fills both, so both are populated (on Linux 5.14+ with FFI), and the sort is unchanged.
  const input = randomLines(makeRandom(8), 4000, { exotic: false });
  const { stats, output } = await sortWithLibrary(input, {
    budgetBytes: 512 * 1024,
    segmentBytes: 4096,
  });
  strictEqual(Buffer.compare(output, oracleSort(input)), 0);
  strictEqual(stats.runCount >= 1, true, `runs: ${stats.runCount}`);
  const [major = 0, minor = 0] = Deno.osRelease().split(".").map((part) => parseInt(part, 10));
  const populates = Deno.build.os === "linux" && (major > 5 || (major === 5 && minor >= 14)) &&
    Deno.permissions.querySync({ name: "ffi" }).state === "granted";
  strictEqual(stats.prefaultedBytes > 0, populates, `prefaulted ${stats.prefaultedBytes} bytes`);
  if (populates) {
    // Both buffers' data pages the input reaches, and no more than the two buffers hold.
    strictEqual(stats.prefaultedBytes <= 2 * 512 * 1024, true);
  }
});

Deno.test("externalSort does not fault in ahead what one chunk holds", async () => {
  const input = randomLines(makeRandom(9), 50, { exotic: false });
  const { stats, output } = await sortWithLibrary(input, {
    budgetBytes: 1024 * 1024,
    segmentBytes: 32 * 1024,
  });
  strictEqual(Buffer.compare(output, oracleSort(input)), 0);
  strictEqual(stats.prefaultedBytes, 0);
});

Deno.test("externalSort cleans up pages, Workers and spill files when an I/O operation fails", async () => {
  const input = randomLines(makeRandom(5), 8000, { exotic: false });
  // Fail the 1st, a middle and a late I/O operation: while spilling, while merging.
  let failures = 0;
  for (const failAtOperation of [1, 5, 40, 120, 400]) {
    try {
      await sortWithLibrary(input, {
        budgetBytes: 128 * 1024,
        segmentBytes: 4096,
        fanInMax: 3,
        failAtOperation,
      });
    } catch (error) {
      // The expected path: an error, and sortWithLibrary's finally checked the cleanup.
      strictEqual(error instanceof Error, true, String(error));
      failures += 1;
    }
  }
  strictEqual(failures >= 4, true, `only ${failures} of 5 injected faults failed the sort`);
});

Deno.test("externalSort refuses a budget too small to sort, naming the minimum", async () => {
  await rejects(
    () => sortWithLibrary(new Uint8Array(10), { budgetBytes: 16 * 1024, segmentBytes: 4096 }),
    /needs at least 7 segments \(28 KiB\)/,
  );
});

Deno.test("externalSort spills records the gather pages cannot hold straight from the buffer", async () => {
  // 2046-byte lines: two fit a 4 KiB data page, but with 4-byte length prefixes only one fits
  // a gather page, so every hand-off gathers about half and spills the rest from the buffer.
  const random = makeRandom(9);
  const lines: string[] = [];
  for (let i = 0; i < 400; i += 1) {
    let line = "";
    while (line.length < 2046) line += Math.floor(random() * 36 ** 6).toString(36);
    lines.push(line.slice(0, 2046));
  }
  const input = new TextEncoder().encode(lines.join("\n") + "\n");
  const { stats, output } = await sortWithLibrary(input, {
    budgetBytes: 256 * 1024,
    segmentBytes: 4096,
  });
  strictEqual(stats.usedWorker, true);
  strictEqual(stats.runCount > 2, true);
  strictEqual(Buffer.compare(output, oracleSort(input)), 0);
});

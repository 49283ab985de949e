// deno-lint-ignore-file no-console
/**
 * WebAssembly kernels against today's JavaScript on the same data, in one process, alternating
 * (JS, wasm, JS, wasm, ...), medians of CPU time (the ratios) and of wall time (shown), a
 * script printing numbers:
 *
 *   deno run -A tests/bench/kernels_bench.ts [--corpus FILE] [--lines 2000000] [--rounds 7]
 *   deno run -A --v8-flags=--no-liftoff tests/bench/kernels_bench.ts ...   (the V8 flag question)
 *   deno run -A tests/bench/kernels_bench.ts --no-huge-pages   (the kernels' memory without the
 *     transparent huge page advice the job scope gives the pool)
 *
 * Data: the sort's own, lines of Zipf words (/work/corpus/words-zipf-100m.txt by default; made
 * with `spillway gen text --size 100m` into a temp dir when missing), in 128 KiB pages.
 *
 * | kernel                        | today's JS                                      | bar   |
 * | ----------------------------- | ----------------------------------------------- | ----- |
 * | sortBytesIndex, N lines       | src/sort/index_sort.ts sortBytesIndex           | 1.8x  |
 * | sortIndex (full-record ties)  | sortIndex with the plain-bytes tie compare      | 1.8x  |
 * | same, by today's quicksort    | (the same-algorithm port, for the record)       | none  |
 * | gather N lines, sorted order  | src/sort/sort_buffer.ts gatherJob               | 3x    |
 * | 16-way merge, 64 MiB          | src/sort/run_merger.ts mergeCursors + copy loop | 1.8x  |
 * | tokenize letters + count v1   | src/count Tokenizer + CountTable, 64 MiB        | none  |
 * | same, countScan (count's)     | the same, letters and whitespace                | 1.4x  |
 *
 * JS runs on plain ArrayBuffers (as today); the kernels on one shared WebAssembly.Memory.
 * CRC32C stays in TypeScript and is timed by neither side. Exit code 1 if a bar is missed.
 */
import process from "node:process";
import { parseArgs } from "node:util";
import {
  CountState,
  CountStatus,
  GatherState,
  KernelStatus,
  MergeState,
  SORT_SCRATCH_BYTES,
  WasmKernels,
} from "../../src/kernels/mod.ts";
import { BuddyAllocator, MemoryManager } from "../../src/memory/mod.ts";
import { adviseHugePages } from "../../src/io/mod.ts";
import { sortBytesIndex, sortIndex } from "../../src/sort/index_sort.ts";
import { gatherJob, type SortJob } from "../../src/sort/sort_buffer.ts";
import { BytesOrder } from "../../src/sort/record_order.ts";
import { mergeCursors, type RecordCursor } from "../../src/sort/run_merger.ts";
import { Tokenizer } from "../../src/count/tokenizer.ts";
import { CountTable } from "../../src/count/count_table.ts";

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      corpus: { type: "string", default: "/work/corpus/words-zipf-100m.txt" },
      lines: { type: "string", default: "2000000" },
      rounds: { type: "string", default: "7" },
      "merge-mib": { type: "string", default: "64" },
      "count-mib": { type: "string", default: "64" },
      only: { type: "string" },
      "no-huge-pages": { type: "boolean", default: false },
    },
  });
  const MiB = 1024 * 1024;
  const SEGMENT_SHIFT = 17;
  const SEGMENT_BYTES = 1 << SEGMENT_SHIFT;
  const BLOCK_PAYLOAD = SEGMENT_BYTES - 16;
  const rounds = Number(values.rounds);
  const lineCount = Number(values.lines);

  async function loadCorpus(): Promise<Uint8Array> {
    try {
      return await Deno.readFile(values.corpus);
    } catch {
      const path = await Deno.makeTempFile({ prefix: "spillway-kernels-bench-", suffix: ".txt" });
      console.log(`${values.corpus} is missing: generating 100 MiB of Zipf text into ${path}`);
      const main = new URL("../../main.ts", import.meta.url).pathname;
      const done = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", main, "gen", "text", "--size", "100m", "-o", path],
      }).output();
      if (!done.success) throw new Error("spillway gen text failed");
      const bytes = await Deno.readFile(path);
      await Deno.remove(path);
      return bytes;
    }
  }

  const corpus = await loadCorpus();

  // ---- the shared memory and a bump allocator over it -----------------------------------------
  const memoryBytes = 1536 * MiB;
  const memory = new WebAssembly.Memory({
    initial: memoryBytes / 65536,
    maximum: memoryBytes / 65536,
    shared: true,
  });
  // As the job scope does for the memory pool (src/job/command_scope.ts): before any page of
  // it is touched. The JS side keeps today's plain ArrayBuffers.
  const hugePages = !values["no-huge-pages"] && adviseHugePages(memory, memoryBytes);
  const heap = new Uint8Array(memory.buffer);
  const heapView = new DataView(memory.buffer);
  let top = 4096;
  function take(byteLength: number, align = 16): number {
    const at = Math.ceil(top / align) * align;
    top = at + byteLength;
    if (top > memoryBytes) throw new RangeError("bench memory is full");
    return at;
  }
  const kernels = new WasmKernels(memory);

  function median(xs: number[]): number {
    const s = [...xs].sort((a, b) => a - b);
    return s[s.length >> 1]!;
  }

  interface Row {
    name: string;
    /** Medians of CPU time (user + system of the process), ms: the ratio is taken on these. */
    js: number;
    wasm: number;
    /** Medians of wall time, ms (shown; on a shared box they carry other processes' load). */
    jsWall: number;
    wasmWall: number;
    bar: number;
  }
  const rows: Row[] = [];

  /** CPU time of this process, ms: steadier than wall time on a busy machine. */
  function cpuMs(): number {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1000;
  }

  /** Alternates js() and wasm() `rounds` times after one warm-up each; records medians. */
  async function compare(
    name: string,
    bar: number,
    sides: {
      setupJs?: () => void;
      js: () => void | Promise<void>;
      setupWasm?: () => void;
      wasm: () => void;
    },
  ): Promise<void> {
    if (values.only !== undefined && !name.includes(values.only)) return;
    const js: number[] = [], jsWall: number[] = [], wasm: number[] = [], wasmWall: number[] = [];
    let firstWasmMs = 0;
    for (let r = -1; r < rounds; r += 1) {
      sides.setupJs?.();
      let cpu = cpuMs();
      let wall = performance.now();
      await sides.js();
      if (r >= 0) {
        js.push(cpuMs() - cpu);
        jsWall.push(performance.now() - wall);
      }
      sides.setupWasm?.();
      cpu = cpuMs();
      wall = performance.now();
      sides.wasm();
      if (r >= 0) {
        wasm.push(cpuMs() - cpu);
        wasmWall.push(performance.now() - wall);
      } else {
        firstWasmMs = cpuMs() - cpu; // the first call: V8's baseline tier (Liftoff) unless off
      }
    }
    const row = {
      name,
      js: median(js),
      wasm: median(wasm),
      jsWall: median(jsWall),
      wasmWall: median(wasmWall),
      bar,
    };
    rows.push(row);
    const ms = (x: number) => x.toFixed(0).padStart(6);
    console.log(
      `${name.padEnd(40)} cpu js ${ms(row.js)} wasm ${ms(row.wasm)} ms ${
        (row.js / row.wasm).toFixed(2)
      }x | wall js ${ms(row.jsWall)} wasm ${ms(row.wasmWall)} ms ${
        (row.jsWall / row.wasmWall).toFixed(2)
      }x | first wasm call ${ms(firstWasmMs)} ms cpu`,
    );
  }

  // ---- records: the first N lines in 128 KiB pages (records never span pages) -------------------
  interface Lines {
    count: number;
    /** Per line: address (segment << shift | offset) and length. */
    addresses: Uint32Array;
    lengths: Uint32Array;
    segmentCount: number;
  }
  function splitLines(limit: number): Lines {
    const addresses = new Uint32Array(limit);
    const lengths = new Uint32Array(limit);
    let count = 0;
    let start = 0;
    let address = 0;
    while (count < limit && start < corpus.length) {
      let end = corpus.indexOf(10, start);
      if (end < 0) end = corpus.length;
      const length = end - start;
      if ((address & (SEGMENT_BYTES - 1)) + Math.max(1, length) > SEGMENT_BYTES) {
        address = ((address >>> SEGMENT_SHIFT) + 1) << SEGMENT_SHIFT;
      }
      addresses[count] = address;
      lengths[count] = length;
      address += Math.max(1, length);
      count += 1;
      start = end + 1;
    }
    return { count, addresses, lengths, segmentCount: (address >>> SEGMENT_SHIFT) + 1 };
  }
  const lines = splitLines(lineCount);
  let lineStarts = new Uint32Array(0);
  {
    lineStarts = new Uint32Array(lines.count);
    let start = 0;
    for (let i = 0; i < lines.count; i += 1) {
      lineStarts[i] = start;
      start += lines.lengths[i]! + 1;
    }
  }
  const dataBytes = lines.lengths.reduce((a, b) => a + b, 0);
  console.log(
    `${lines.count} lines (${(dataBytes / MiB).toFixed(0)} MiB) of ${values.corpus}, ` +
      `${lines.segmentCount} pages of ${SEGMENT_BYTES / 1024} KiB, ${rounds} rounds, ` +
      `kernel memory ${hugePages ? "advised to huge pages" : "in 4 KiB pages"}`,
  );

  // JS side: pages as separate ArrayBuffers, like today's segments.
  const jsPages = Array.from({ length: lines.segmentCount }, () => new Uint8Array(SEGMENT_BYTES));
  // wasm side: pages in the shared memory, reached through a page table.
  const pageTable = take(4 * lines.segmentCount);
  const pagesBase = take(lines.segmentCount * SEGMENT_BYTES, 8);
  for (let s = 0; s < lines.segmentCount; s += 1) {
    heapView.setUint32(pageTable + 4 * s, pagesBase + s * SEGMENT_BYTES, true);
  }
  const pristine = new Uint32Array(4 * lines.count);
  for (let i = 0; i < lines.count; i += 1) {
    const address = lines.addresses[i]!;
    const line = corpus.subarray(lineStarts[i], lineStarts[i]! + lines.lengths[i]!);
    jsPages[address >>> SEGMENT_SHIFT]!.set(line, address & (SEGMENT_BYTES - 1));
    heap.set(line, pagesBase + address);
    let w0 = 0;
    let w1 = 0;
    for (let b = 0; b < 8; b += 1) {
      const byte = b < line.length ? line[b]! : 0;
      if (b < 4) w0 = w0 * 256 + byte;
      else w1 = w1 * 256 + byte;
    }
    pristine.set([w0, w1, address, line.length], 4 * i);
  }
  const jsIndex = new Uint32Array(4 * lines.count);
  const wasmIndexOffset = take(16 * lines.count);
  const wasmIndex = new Uint32Array(memory.buffer, wasmIndexOffset, 4 * lines.count);
  const scratch = take(SORT_SCRATCH_BYTES);
  const layout = {
    pageTableOffset: pageTable,
    segmentShift: SEGMENT_SHIFT,
    reverse: false,
    scratchOffset: scratch,
  };

  function sameOrder(what: string): void {
    for (let i = 0; i < 4 * lines.count; i += 1) {
      if (jsIndex[i] !== wasmIndex[i]) {
        throw new Error(`${what}: kernel and JS differ at word ${i}`);
      }
    }
  }

  /**
   * The same records in the same order (equal lines may come in either order, and the prefix
   * words are whatever each sort left there).
   */
  function sameRecords(what: string): void {
    for (let i = 0; i < lines.count; i += 1) {
      const a = jsIndex[4 * i + 2]!, b = wasmIndex[4 * i + 2]!;
      const length = jsIndex[4 * i + 3]!;
      if (wasmIndex[4 * i + 3] !== length) throw new Error(`${what}: lengths differ at ${i}`);
      if (a === b) continue;
      const pageA = jsPages[a >>> SEGMENT_SHIFT]!, offsetA = a & (SEGMENT_BYTES - 1);
      for (let k = 0; k < length; k += 1) {
        if (pageA[offsetA + k] !== heap[pagesBase + b + k]) {
          throw new Error(`${what}: kernel and JS records differ at entry ${i}`);
        }
      }
    }
  }

  await compare(
    `sortBytesIndex, ${lines.count} lines`,
    1.8,
    {
      setupJs: () => jsIndex.set(pristine),
      setupWasm: () => wasmIndex.set(pristine),
      js: () =>
        sortBytesIndex(jsIndex, lines.count, {
          pages: jsPages,
          segmentShift: SEGMENT_SHIFT,
          reverse: false,
          keyOffset: 0,
          keyBytes: -1,
        }),
      wasm: () =>
        kernels.sortBytesIndex(wasmIndexOffset, lines.count, {
          ...layout,
          keyOffset: 0,
          keyBytes: -1,
        }),
    },
  );
  if (rows.length > 0) sameRecords("sortBytesIndex");

  const mask = SEGMENT_BYTES - 1;
  const plainTie = (a: number, b: number): number => {
    const addressA = jsIndex[a + 2]!, addressB = jsIndex[b + 2]!;
    const lengthA = jsIndex[a + 3]!, lengthB = jsIndex[b + 3]!;
    const pageA = jsPages[addressA >>> SEGMENT_SHIFT]!,
      pageB = jsPages[addressB >>> SEGMENT_SHIFT]!;
    const offsetA = addressA & mask, offsetB = addressB & mask;
    const common = lengthA < lengthB ? lengthA : lengthB;
    for (let i = common < 8 ? common : 8; i < common; i += 1) {
      const d = pageA[offsetA + i]! - pageB[offsetB + i]!;
      if (d !== 0) return d;
    }
    return lengthA - lengthB;
  };
  const before = rows.length;
  await compare(
    `sortIndex (full-record ties), ${lines.count}`,
    1.8,
    {
      setupJs: () => jsIndex.set(pristine),
      setupWasm: () => wasmIndex.set(pristine),
      js: () => sortIndex(jsIndex, lines.count, plainTie),
      wasm: () => kernels.sortIndex(wasmIndexOffset, lines.count, layout),
    },
  );
  if (rows.length > before) sameOrder("sortIndex");
  // The same algorithm as today (quicksort, full-record tie compares), for the record: its tie
  // compares read records in random order and are bound by memory latency on both sides.
  const beforeQuick = rows.length;
  await compare(
    `sortIndex, same algorithm (quicksort)`,
    0,
    {
      setupJs: () => jsIndex.set(pristine),
      setupWasm: () => wasmIndex.set(pristine),
      js: () => sortIndex(jsIndex, lines.count, plainTie),
      wasm: () => kernels.sortIndexQuicksort(wasmIndexOffset, lines.count, layout),
    },
  );
  if (rows.length > beforeQuick) sameOrder("sortIndexQuicksort");

  // ---- gather: the sorted index, records copied into blocks in sorted order ---------------------
  {
    jsIndex.set(pristine);
    wasmIndex.set(pristine);
    kernels.sortIndex(wasmIndexOffset, lines.count, layout);
    jsIndex.set(wasmIndex);
    const targetPages = Math.ceil((dataBytes + 4 * lines.count) / SEGMENT_BYTES) + 64;
    // gatherJob works by offset in a shared memory (what the sort Worker is lent): lay the
    // JS side's pages, index and target pages out in a shared memory of its own.
    const jsBytes = (jsPages.length + targetPages) * SEGMENT_BYTES + jsIndex.byteLength;
    const jsWasmPages = Math.ceil(jsBytes / 65536);
    const jsShared = new WebAssembly.Memory({
      initial: jsWasmPages,
      maximum: jsWasmPages,
      shared: true,
    }).buffer as SharedArrayBuffer;
    let jsTop = 0;
    const jsTake = (byteLength: number) => {
      const at = jsTop;
      jsTop += byteLength;
      return at;
    };
    const pageOffsets = jsPages.map((page) => {
      const at = jsTake(SEGMENT_BYTES);
      new Uint8Array(jsShared, at, SEGMENT_BYTES).set(page);
      return at;
    });
    const indexOffset = jsTake(jsIndex.byteLength);
    new Uint32Array(jsShared, indexOffset, jsIndex.length).set(jsIndex);
    const job: SortJob = {
      segments: pageOffsets,
      index: indexOffset,
      recordCount: lines.count,
      segmentShift: SEGMENT_SHIFT,
      target: Array.from({ length: targetPages }, () => jsTake(SEGMENT_BYTES)),
    };
    const outBlocks = targetPages;
    const outBase = take(outBlocks * SEGMENT_BYTES, 8);
    const state = new GatherState(memory, take(GatherState.BYTES));
    let gathered = 0;
    await compare(
      `gather ${lines.count} lines into blocks`,
      3,
      {
        js: () => {
          gatherJob(job, jsShared);
          gathered = job.gatheredCount!;
        },
        wasm: () => {
          state.start({
            indexOffset: wasmIndexOffset,
            recordCount: lines.count,
            pageTableOffset: pageTable,
            segmentShift: SEGMENT_SHIFT,
          });
          for (let b = 0;; b += 1) {
            const blockStart = outBase + b * SEGMENT_BYTES + 16;
            state.setOutput(blockStart, blockStart + BLOCK_PAYLOAD);
            if (kernels.gather(state.byteOffset) === KernelStatus.done) break;
          }
        },
      },
    );
    if (gathered !== 0 && gathered !== lines.count) {
      throw new Error(`gatherJob gathered ${gathered} of ${lines.count}`);
    }
  }

  // ---- 16-way merge of sorted runs, 64 MiB ------------------------------------------------------
  {
    const runCount = 16;
    const runs: number[][] = Array.from({ length: runCount }, () => []);
    let bytes = 0;
    for (let i = 0; i < lines.count && bytes < Number(values["merge-mib"]) * MiB; i += 1) {
      runs[i % runCount]!.push(i);
      bytes += lines.lengths[i]! + 1;
    }
    const lineOf = (i: number) =>
      corpus.subarray(lineStarts[i], lineStarts[i]! + lines.lengths[i]!);
    const compareLines = (a: number, b: number) => {
      const x = lineOf(a), y = lineOf(b);
      const n = Math.min(x.length, y.length);
      for (let k = 0; k < n; k += 1) if (x[k] !== y[k]) return x[k]! - y[k]!;
      return x.length - y.length;
    };
    // Each run as one contiguous stream of varint + bytes, in JS memory and in the shared memory.
    const jsStreams: Uint8Array[] = [];
    const wasmStreams: [number, number][] = [];
    let total = 0;
    for (const run of runs) {
      run.sort(compareLines);
      const size = run.reduce(
        (s, i) => s + lines.lengths[i]! + (lines.lengths[i]! < 128 ? 1 : 2),
        0,
      );
      const stream = new Uint8Array(size);
      let at = 0;
      for (const i of run) {
        const length = lines.lengths[i]!;
        if (length < 128) stream[at++] = length;
        else {
          stream[at++] = (length & 127) | 128;
          stream[at++] = length >>> 7;
        }
        stream.set(lineOf(i), at);
        at += length;
      }
      jsStreams.push(stream);
      const offset = take(size, 8);
      heap.set(stream, offset);
      wasmStreams.push([offset, offset + size]);
      total += run.length;
    }
    const outBytes = Math.ceil(bytes / BLOCK_PAYLOAD + 2) * SEGMENT_BYTES * 2;
    const jsOut = new Uint8Array(outBytes);
    const wasmOut = take(outBytes, 8);
    const state = new MergeState(memory, {
      byteOffset: take(MergeState.bytes(runCount)),
      inputCount: runCount,
    });
    const budget = new MemoryManager({ budgetBytes: 4 * MiB, segmentBytes: 64 * 1024 });
    class StreamCursor implements RecordCursor {
      recordBytes: Uint8Array;
      recordOffset = 0;
      recordLength = 0;
      #at = 0;
      constructor(stream: Uint8Array) {
        this.recordBytes = stream;
      }
      next(): boolean {
        const s = this.recordBytes;
        if (this.#at >= s.length) return false;
        let length = s[this.#at++]!;
        if (length >= 128) length = (length & 127) | (s[this.#at++]! << 7);
        this.recordOffset = this.#at;
        this.recordLength = length;
        this.#at += length;
        return true;
      }
    }
    let jsMerged = 0;
    let wasmMerged = 0;
    let jsEnd = 0;
    let wasmEnd = 0;
    await compare(
      `16-way merge, ${(bytes / MiB).toFixed(0)} MiB (${total} lines)`,
      1.8,
      {
        js: async () => {
          // Today's merge and, as its sink, RunWriter's copy loop into 128 KiB blocks (no I/O).
          let position = 16;
          let block = 0;
          const sink = (b: Uint8Array, o: number, n: number): undefined => {
            if (position + 2 + n > SEGMENT_BYTES) {
              block += 1;
              position = 16;
            }
            const base = block * SEGMENT_BYTES;
            if (n < 128) jsOut[base + position++] = n;
            else {
              jsOut[base + position++] = (n & 127) | 128;
              jsOut[base + position++] = n >>> 7;
            }
            for (let k = 0; k < n; k += 1) jsOut[base + position + k] = b[o + k]!;
            position += n;
            return undefined;
          };
          jsMerged = await mergeCursors(jsStreams.map((s) => new StreamCursor(s)), sink, {
            order: new BytesOrder(),
            unique: false,
            memory: budget,
            owner: "bench",
          });
          jsEnd = block * SEGMENT_BYTES + position;
        },
        wasm: () => {
          state.start({ reverse: false });
          wasmStreams.forEach(([from, to], i) =>
            state.setInput(i, { byteOffset: from, byteEnd: to, finished: true })
          );
          let block = 0;
          for (;;) {
            const start = wasmOut + block * SEGMENT_BYTES + 16;
            state.setOutput(start, start + BLOCK_PAYLOAD);
            const status = kernels.mergeStep(state.byteOffset);
            if (status === KernelStatus.done) break;
            if (status !== KernelStatus.outputFull) throw new Error(`merge status ${status}`);
            block += 1;
          }
          wasmMerged = state.mergedCount;
          wasmEnd = state.outputOffset - wasmOut;
        },
      },
    );
    if (wasmEnd > 0) {
      if (wasmMerged !== total) throw new Error(`the kernel merged ${wasmMerged} of ${total}`);
      if (jsMerged !== total) throw new Error(`mergeCursors merged ${jsMerged} of ${total}`);
      void jsEnd;
    }
  }

  // ---- tokenize (letters, lower case) + hash count, 64 MiB --------------------------------------
  {
    const countBytes = Math.min(corpus.length, Number(values["count-mib"]) * MiB);
    const textEnd = corpus.lastIndexOf(10, countBytes - 1) + 1;
    const text = corpus.subarray(0, textEnd);
    const textOffset = take(text.length, 8);
    heap.set(text, textOffset);
    const CHUNK = 1 << 20;
    const chunkEnds: number[] = [];
    for (let at = 0; at < text.length;) {
      let end = Math.min(text.length, at + CHUNK);
      if (end < text.length) end = text.lastIndexOf(10, end - 1) + 1;
      chunkEnds.push(end);
      at = end;
    }
    // wasm side: pages, buckets and a page table for up to 256 MiB of table.
    const PAGES_MAX = 2048;
    const countPageTable = take(4 * PAGES_MAX);
    const countScratch = take(SEGMENT_BYTES);
    const countState = new CountState(memory, take(CountState.BYTES));
    const bucketArea = take(64 * MiB, 8);
    const pageArea = take(128 * MiB, 8);
    // One kernel run over the text into a fresh table; `kernel` picks the loop.
    const countWithKernel = (
      kernel: "countTokens" | "countScan",
      kind: "letters" | "whitespace",
    ) => {
      let bucketCount = 1 << 13; // one 64 KiB block, as the JS table's first buddy block
      let bucketsOffset = bucketArea;
      let nextBuckets = bucketArea + 8 * bucketCount;
      heap.fill(0, bucketsOffset, bucketsOffset + 8 * bucketCount);
      countState.start({
        kind,
        lower: true,
        bucketsOffset,
        bucketCount,
        entryLimit: bucketCount / 2,
        pageTableOffset: countPageTable,
        segmentBytes: SEGMENT_BYTES,
        scratchOffset: countScratch,
      });
      let from = textOffset;
      for (const chunkEnd of chunkEnds) {
        const end = textOffset + chunkEnd;
        countState.setInput(from, end);
        for (;;) {
          const status = kernel === "countScan"
            ? kernels.countScan(countState.byteOffset)
            : kernels.countTokens(countState.byteOffset);
          if (status === CountStatus.done) break;
          if (status === CountStatus.needBuckets) {
            heap.fill(0, nextBuckets, nextBuckets + 16 * bucketCount);
            kernels.countRehash({ byteOffset: bucketsOffset, bucketCount }, {
              byteOffset: nextBuckets,
              bucketCount: 2 * bucketCount,
            });
            bucketsOffset = nextBuckets;
            nextBuckets += 16 * bucketCount;
            bucketCount *= 2;
            if (nextBuckets > bucketArea + 64 * MiB) throw new Error("bench bucket area full");
            countState.setBuckets(bucketsOffset, bucketCount);
            countState.entryLimit = bucketCount / 2;
          } else if (status === CountStatus.needPage) {
            const page = countState.pageCount;
            if (page >= PAGES_MAX || (page + 1) * SEGMENT_BYTES > 128 * MiB) {
              throw new Error("bench page area full");
            }
            heapView.setUint32(countPageTable + 4 * page, pageArea + page * SEGMENT_BYTES, true);
            countState.pageCount = page + 1;
          } else {
            throw new Error(`count status ${status}`);
          }
        }
        from = end;
      }
    };
    const countWithJs = (kind: "letters" | "whitespace") => {
      const manager = new MemoryManager({ budgetBytes: 512 * MiB, segmentBytes: SEGMENT_BYTES });
      const buddy = new BuddyAllocator(manager, { segmentCount: 512, owner: "count-buckets" });
      const table = new CountTable(manager, { buddy, recordPagesMax: 2048 });
      const tokenizer = new Tokenizer({ kind, caseMode: "lower" });
      let from = 0;
      for (const end of chunkEnds) {
        if (tokenizer.scan(text, from, end, table) !== end) throw new Error("table full");
        from = end;
      }
      const result = { tokens: table.tokenCount, entries: table.entryCount };
      table.close();
      buddy.close();
      return result;
    };
    const rowsOfCount: Array<["countTokens" | "countScan", "letters" | "whitespace", number]> = [
      ["countTokens", "letters", 0], // count v1's loop (copies each token first), for the record
      ["countScan", "letters", 1.4], // the loop `spillway count` runs
      ["countScan", "whitespace", 1.4], // the countwords task's tokenizer
    ];
    for (const [kernel, kind, bar] of rowsOfCount) {
      let js = { tokens: 0, entries: 0 };
      await compare(
        `tokenize ${kind} + count, ${kernel}, ${(text.length / MiB).toFixed(0)} MiB`,
        bar,
        {
          js: () => {
            js = countWithJs(kind);
          },
          wasm: () => countWithKernel(kernel, kind),
        },
      );
      if (js.entries !== 0) {
        if (countState.tokenCount !== js.tokens % 2 ** 32 || countState.entryCount !== js.entries) {
          throw new Error(
            `count differs: kernel ${countState.tokenCount} tokens, ${countState.entryCount} ` +
              `words; JS ${js.tokens} tokens, ${js.entries} words`,
          );
        }
      }
    }
  }

  let missed = 0;
  console.log("\nkernel (ratio of CPU-time medians)        ratio   bar");
  for (const row of rows) {
    const ratio = row.js / row.wasm;
    const ok = ratio >= row.bar;
    if (!ok) missed += 1;
    console.log(
      `${row.name.padEnd(40)} ${ratio.toFixed(2).padStart(5)}x  ${
        row.bar === 0 ? "(no bar)" : `${row.bar}x ${ok ? "ok" : "MISSED"}`
      }`,
    );
  }
  Deno.exit(missed === 0 ? 0 : 1);
}

if (import.meta.main) await main();

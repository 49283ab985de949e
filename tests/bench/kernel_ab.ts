// deno-lint-ignore-file no-console
/**
 * Two builds of kernels.wasm side by side on one sort buffer's work, in one process, alternating
 * (A, B, A, B, ...), medians of this process's CPU time per call:
 *
 * - `append`: appendLines over ~20 MiB of corpus lines (or the whole corpus, if smaller) in 1 MiB
 *   chunks into 128 KiB pages (one sort buffer of `-S 64m`);
 * - `sort`: the split sort's kernels on those lines (partitionBytesIndex, then sortBytesBucket
 *   per bucket), from the same unsorted index each time;
 * - `gather`: gather of the sorted index into 128 KiB spill block payloads (the blocks are not
 *   sealed: the CRC is the same for both builds), each block over the same output place;
 *   `--gather-flags-b N` sets bits of the gather state's shift word for B only (0x200: the
 *   prefix words hold records of up to 8 bytes).
 *
 * Both builds must leave the same result (the append's index and record bytes; the sort's
 * order of record bytes; the gather's bytes), or the script exits with 1.
 *
 *   deno run -A --v8-flags=--no-liftoff tests/bench/kernel_ab.ts \
 *     /work/wt/start13/src/kernels/kernels.wasm src/kernels/kernels.wasm [--rounds 21]
 *     [--corpus /work/corpus/words-zipf-100m.txt] [--only append|sort|gather]
 *     [--no-huge-pages]
 *
 * The memory gets the transparent huge page advice the job scope gives the pool
 * (`--no-huge-pages`: without it, in 4 KiB pages, where most random record reads also miss
 * the TLB).
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { KernelExports } from "../../src/kernels/wasm_kernels.ts";
import { cpuMs, startAppend, timedSplitSort } from "./_kernel_bench.ts";
import { adviseHugePages } from "../../src/io/mod.ts";

/** The exports this bench calls, as the kernels module declares them. */
type Kernels = Pick<
  KernelExports,
  "appendLines" | "gather" | "partitionBytesIndex" | "sortBytesBucket" | "sortScratchBytes"
>;

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    rounds: { type: "string", default: "21" },
    corpus: { type: "string", default: "/work/corpus/words-zipf-100m.txt" },
    only: { type: "string" },
    "gather-flags-b": { type: "string", default: "0" },
    "no-huge-pages": { type: "boolean", default: false },
  },
});
if (positionals.length !== 2) throw new Error("Usage: kernel_ab.ts A.wasm B.wasm [options]");

const MiB = 1 << 20;
const SHIFT = 17;
const PAGE_BYTES = 1 << SHIFT;
const PAGE_COUNT = 176;
const APPEND_BYTES = 20 * MiB;
const CHUNK_BYTES = MiB;
const ENTRY_CAPACITY = 1_000_000;

const memory = new WebAssembly.Memory({ initial: 4096, maximum: 65536, shared: true });
// As the job scope does for the memory pool (src/job/command_scope.ts), before any page is touched.
const hugePages = !values["no-huge-pages"] && adviseHugePages(memory, 4096 * 65536);
const instantiate = (path: string): Kernels =>
  new WebAssembly.Instance(new WebAssembly.Module(Deno.readFileSync(path)), {
    env: { memory, abort: () => {} },
  }).exports as unknown as Kernels;
const sides = positionals.map(instantiate);
const corpus = Deno.readFileSync(values.corpus);
const heap = new Uint8Array(memory.buffer);
const words = new Uint32Array(memory.buffer);

// Layout: append state, chunk, page table, pages, index, sort scratch.
const STATE = 1024;
const CHUNK = MiB;
const PAGE_TABLE = CHUNK + CHUNK_BYTES;
const PAGES = Math.ceil((PAGE_TABLE + 4 * PAGE_COUNT) / PAGE_BYTES) * PAGE_BYTES;
const INDEX = PAGES + PAGE_COUNT * PAGE_BYTES;
const SCRATCH = INDEX + 16 * ENTRY_CAPACITY;
for (let p = 0; p < PAGE_COUNT; p += 1) words[(PAGE_TABLE >> 2) + p] = PAGES + p * PAGE_BYTES;

/** Appends APPEND_BYTES of whole lines; returns the kernel's CPU ms and the record count. */
function append(kernels: Kernels): { ms: number; count: number } {
  const w = STATE >> 2;
  startAppend(words, {
    state: STATE,
    pageTable: PAGE_TABLE,
    pageCount: PAGE_COUNT,
    shift: SHIFT,
    index: INDEX,
    entryCapacity: ENTRY_CAPACITY,
  });
  let ms = 0;
  let from = 0;
  while (from < Math.min(APPEND_BYTES, corpus.length)) {
    let to = Math.min(corpus.length, from + CHUNK_BYTES);
    while (to > from && corpus[to - 1] !== 10) to -= 1;
    if (to === from) break; // a last line without its newline is left out (it looped forever)
    heap.set(corpus.subarray(from, to), CHUNK);
    words[w] = CHUNK;
    words[w + 1] = CHUNK + (to - from);
    const start = cpuMs();
    const status = kernels.appendLines(STATE);
    ms += cpuMs() - start;
    if (status !== 0) throw new Error(`appendLines stopped with status ${status}`);
    from = to;
  }
  return { ms, count: words[w + 9]! };
}

function record(index: Uint32Array, i: number): Uint8Array {
  const address = index[4 * i + 2]!;
  const at = PAGES + (address >>> SHIFT) * PAGE_BYTES + (address & (PAGE_BYTES - 1));
  return heap.subarray(at, at + index[4 * i + 3]!);
}

/** Sorts the appended index as the split sort does. */
function sort(kernels: Kernels, pristine: Uint32Array): number {
  const place = { memory, index: INDEX, pageTable: PAGE_TABLE, shift: SHIFT, scratch: SCRATCH };
  return timedSplitSort(kernels, place, pristine);
}

const GATHER_STATE = STATE + 256;
const BLOCK_BYTES = 128 * 1024;

/**
 * Gathers the sorted index at INDEX into blocks at CHUNK; returns the kernel's CPU ms and a
 * digest of the blocks' bytes.
 */
function gather(kernels: Kernels, count: number, flags: number): { ms: number; digest: number } {
  const w = GATHER_STATE >> 2;
  words.fill(0, w, w + 12);
  words[w] = INDEX;
  words[w + 1] = count;
  words[w + 3] = PAGE_TABLE;
  words[w + 4] = SHIFT | flags;
  let ms = 0;
  let digest = 0;
  for (;;) {
    words[w + 5] = CHUNK;
    words[w + 6] = CHUNK + BLOCK_BYTES;
    const start = cpuMs();
    const status = kernels.gather(GATHER_STATE);
    ms += cpuMs() - start;
    const block = heap.subarray(CHUNK, words[w + 5]!);
    for (let i = 0; i < block.length; i += 61) digest = (digest * 31 + block[i]!) | 0;
    digest = (digest * 31 + block.length) | 0;
    if (status === 0) return { ms, digest };
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const rounds = Number(values.rounds);
const report = (name: string, times: number[][]): void => {
  const [a, b] = times.map(median) as [number, number];
  console.log(
    `${name.padEnd(7)} A ${a.toFixed(2)} ms  B ${b.toFixed(2)} ms  B/A ${(b / a).toFixed(3)}` +
      `  (${rounds} alternating rounds, CPU ms per call, medians)`,
  );
};

// Same results first: the append's index and records, the sort's order of record bytes.
const appended = sides.map((kernels) => {
  const { count } = append(kernels);
  const index = new Uint32Array(memory.buffer, INDEX, 4 * count).slice();
  const bytes = [...index.keys()].filter((i) => i % 4 === 0).map((i) => record(index, i / 4));
  return {
    index,
    digest: bytes.reduce((h, line) => line.reduce((x, c) => (x * 31 + c) | 0, h), 0),
  };
});
const [first, second] = appended as [typeof appended[0], typeof appended[0]];
if (
  first.digest !== second.digest || first.index.length !== second.index.length ||
  first.index.some((word, i) => word !== second.index[i])
) {
  console.log("append: the builds differ");
  Deno.exit(1);
}
console.log(
  `${first.index.length / 4} lines of ${values.corpus}, memory ` +
    (hugePages ? "advised to huge pages" : "in 4 KiB pages"),
);
if (values.only === undefined || values.only === "append") {
  const times: number[][] = [[], []];
  for (let r = 0; r < rounds; r += 1) sides.forEach((k, s) => times[s]!.push(append(k).ms));
  report("append", times);
}
if (values.only !== "append" && values.only !== "gather") {
  const pristine = first.index;
  const count = pristine.length / 4;
  const orders = sides.map((kernels) => {
    sort(kernels, pristine);
    const index = new Uint32Array(memory.buffer, INDEX, 4 * count).slice();
    return Array.from({ length: count }, (_, i) => record(index, i).join(","));
  });
  if (orders[0]!.some((line, i) => line !== orders[1]![i])) {
    const at = orders[0]!.findIndex((line, i) => line !== orders[1]![i]);
    console.log(
      "sort: the builds order the lines differently",
      at,
      orders[0]![at]!.slice(0, 80),
      orders[1]![at]!.slice(0, 80),
    );
    Deno.exit(1);
  }
  const times: number[][] = [[], []];
  for (let r = 0; r < rounds; r += 1) {
    sides.forEach((k, s) => times[s]!.push(sort(k, pristine)));
  }
  report("sort", times);
}
if (values.only === undefined || values.only === "gather") {
  const count = first.index.length / 4;
  sort(sides[0]!, first.index);
  // Bits of the gather state's shift word for B only (A may be a build without them).
  const flags = [0, Number(values["gather-flags-b"])];
  const digests = sides.map((kernels, s) => gather(kernels, count, flags[s]!).digest);
  if (digests[0] !== digests[1]) {
    console.log("gather: the builds write different blocks");
    Deno.exit(1);
  }
  const times: number[][] = [[], []];
  for (let r = 0; r < rounds; r += 1) {
    sides.forEach((k, s) => times[s]!.push(gather(k, count, flags[s]!).ms));
  }
  report("gather", times);
}

// deno-lint-ignore-file no-console
/**
 * CPU per MiB of the sort kernels and of the gather as a function of a sort buffer's record
 * bytes: does a buffer that fits the last-level cache sort and gather faster? In one process,
 * for each size: whole lines of the corpus appended into 128 KiB pages (appendLines), then
 * rounds of (append again, the split sort's kernels on the unsorted index, gather of the sorted
 * index into 128 KiB blocks, two blocks used in turn as the spill ring does); medians of this
 * process's CPU time per call, divided by the record MiB.
 *
 * `--neighbour`: while each size is measured, a second copy of this script (`--loop`, on the
 * corpus from its middle) appends, sorts and gathers a buffer of the same size over and over,
 * as the other thread of a sort works on the other buffer: both share the last-level cache.
 *
 *   deno run -A --v8-flags=--no-liftoff tests/bench/buffer_size_cpu.ts \
 *     [--sizes 2,4,6,9,12,15,21] [--rounds 9] [--corpus /work/corpus/words-zipf-100m.txt]
 *     [--offset-mib 0] [--neighbour]
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { KernelExports } from "../../src/kernels/wasm_kernels.ts";
import { cpuMs, startAppend, timedSplitSort } from "./_kernel_bench.ts";

type Kernels = Pick<
  KernelExports,
  "appendLines" | "gather" | "partitionBytesIndex" | "sortBytesBucket"
>;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    sizes: { type: "string", default: "2,4,6,9,12,15,21" },
    rounds: { type: "string", default: "9" },
    corpus: { type: "string", default: "/work/corpus/words-zipf-100m.txt" },
    "offset-mib": { type: "string", default: "0" },
    neighbour: { type: "boolean", default: false },
    loop: { type: "boolean", default: false },
  },
});

const MiB = 1 << 20;
const SHIFT = 17;
const PAGE_BYTES = 1 << SHIFT;
const PAGE_COUNT = 176; // 22 MiB of record bytes at most
const ENTRY_CAPACITY = 1_600_000;
const CHUNK_BYTES = MiB;
const BLOCK_BYTES = 128 * 1024;

const sizesMiB = values.sizes.split(",").map(Number);
const rounds = Number(values.rounds);
const wasmPath = new URL("../../src/kernels/kernels.wasm", import.meta.url);
const memory = new WebAssembly.Memory({ initial: 4096, maximum: 65536, shared: true });
const kernels = new WebAssembly.Instance(new WebAssembly.Module(Deno.readFileSync(wasmPath)), {
  env: { memory, abort: () => {} },
}).exports as unknown as Kernels;
const corpus = Deno.readFileSync(values.corpus).subarray(Number(values["offset-mib"]) * MiB);
const heap = new Uint8Array(memory.buffer);
const words = new Uint32Array(memory.buffer);

// Layout: append state, gather state, chunk, page table, pages, index, sort scratch, blocks.
const STATE = 1024;
const GATHER_STATE = STATE + 256;
const CHUNK = MiB;
const PAGE_TABLE = CHUNK + CHUNK_BYTES;
const PAGES = Math.ceil((PAGE_TABLE + 4 * PAGE_COUNT) / PAGE_BYTES) * PAGE_BYTES;
const INDEX = PAGES + PAGE_COUNT * PAGE_BYTES;
const SCRATCH = INDEX + 16 * ENTRY_CAPACITY;
const BLOCKS = SCRATCH + 4 * MiB;
for (let p = 0; p < PAGE_COUNT; p += 1) words[(PAGE_TABLE >> 2) + p] = PAGES + p * PAGE_BYTES;

/** Appends the corpus's whole lines in its first `bytes`; returns the record count. */
function append(bytes: number): number {
  const w = STATE >> 2;
  startAppend(words, {
    state: STATE,
    pageTable: PAGE_TABLE,
    pageCount: PAGE_COUNT,
    shift: SHIFT,
    index: INDEX,
    entryCapacity: ENTRY_CAPACITY,
  });
  let from = 0;
  for (;;) {
    let to = Math.min(bytes, corpus.length, from + CHUNK_BYTES);
    while (to > from && corpus[to - 1] !== 10) to -= 1;
    if (to <= from) break;
    heap.set(corpus.subarray(from, to), CHUNK);
    words[w] = CHUNK;
    words[w + 1] = CHUNK + (to - from);
    const status = kernels.appendLines(STATE);
    if (status !== 0) throw new Error(`appendLines stopped with status ${status}`);
    from = to;
  }
  return words[w + 9]!;
}

/** Sorts the index as the split sort does (partition, then each bucket); returns CPU ms. */
function sort(pristine: Uint32Array): number {
  const place = { memory, index: INDEX, pageTable: PAGE_TABLE, shift: SHIFT, scratch: SCRATCH };
  return timedSplitSort(kernels, place, pristine);
}

/** Gathers the sorted index into blocks, two used in turn; returns CPU ms. */
function gather(count: number): number {
  const w = GATHER_STATE >> 2;
  words.fill(0, w, w + 12);
  words[w] = INDEX;
  words[w + 1] = count;
  words[w + 3] = PAGE_TABLE;
  words[w + 4] = SHIFT;
  let ms = 0;
  for (let block = 0;; block += 1) {
    const at = BLOCKS + (block & 1) * BLOCK_BYTES;
    words[w + 5] = at;
    words[w + 6] = at + BLOCK_BYTES;
    const start = cpuMs();
    const status = kernels.gather(GATHER_STATE);
    ms += cpuMs() - start;
    if (status === 0) return ms;
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
/** The neighbour: a copy of this script looping on one size (`--loop`) until killed. */
async function startNeighbour(sizeMiB: number): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--v8-flags=--no-liftoff",
      new URL(import.meta.url).pathname,
      "--sizes",
      String(sizeMiB),
      "--corpus",
      values.corpus,
      "--offset-mib",
      String(Math.floor(corpus.length / MiB / 2)),
      "--loop",
    ],
    stdout: "piped",
  }).spawn();
  // It writes one line once its buffer is filled and it starts sorting.
  const reader = child.stdout.getReader();
  await reader.read();
  reader.releaseLock();
  return child;
}

if (values.loop) {
  const sizeMiB = sizesMiB[0]!;
  const count = append(sizeMiB * MiB);
  const pristine = new Uint32Array(memory.buffer, INDEX, 4 * count).slice();
  console.log("looping");
  for (;;) {
    append(sizeMiB * MiB);
    sort(pristine);
    gather(count);
  }
}
const lines: string[] = [];
for (const sizeMiB of sizesMiB) {
  if (sizeMiB * MiB > PAGE_COUNT * PAGE_BYTES) throw new Error(`At most ${PAGE_COUNT / 8} MiB`);
  const neighbour = values.neighbour ? await startNeighbour(sizeMiB) : undefined;
  const count = append(sizeMiB * MiB);
  const pristine = new Uint32Array(memory.buffer, INDEX, 4 * count).slice();
  const sortMs: number[] = [];
  const gatherMs: number[] = [];
  for (let round = 0; round < rounds; round += 1) {
    append(sizeMiB * MiB); // the records written again, as a buffer is filled before its sort
    sortMs.push(sort(pristine));
    gatherMs.push(gather(count));
  }
  if (neighbour !== undefined) {
    neighbour.kill("SIGTERM");
    await neighbour.status;
    await neighbour.stdout.cancel();
  }
  lines.push(
    `${String(sizeMiB).padStart(3)} MiB ${String(count).padStart(8)} records  sort ${
      (median(sortMs) / sizeMiB).toFixed(3)
    } ms/MiB  gather ${(median(gatherMs) / sizeMiB).toFixed(3)} ms/MiB`,
  );
}
console.log(
  `${values.corpus}, ${rounds} rounds, medians${
    values.neighbour ? ", a neighbour sorting and gathering a buffer of the same size" : ""
  }:`,
);
for (const line of lines) console.log(line);

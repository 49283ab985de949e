/**
 * Corpus generator throughput (bar from issue 4 part 6: at least 200 MB/s per kind, one thread).
 * Each iteration generates 16 MiB into one 32 KiB page; MB/s = 16.78 / (time per iteration in s).
 *
 * Run: deno bench tests/bench/gen_bench.ts
 */
import { CorpusGenerator, type CorpusKind } from "../../src/gen/mod.ts";
import { MemoryManager } from "../../src/memory/mod.ts";

const ITERATION_BYTES = 16 * 1024 * 1024;
const memory = new MemoryManager({ budgetBytes: 16 * 1024 * 1024 });
const page = new Uint8Array(32 * 1024);

for (const kind of ["text", "lines", "records"] as CorpusKind[]) {
  // One endless generator per kind: the bench measures generation, not the vocabulary build.
  const generator = new CorpusGenerator(memory, { kind, sizeBytes: 2 ** 50, seed: 1 });
  Deno.bench({
    name: `gen ${kind}: 16 MiB`,
    group: "gen",
    fn() {
      let bytes = 0;
      while (bytes < ITERATION_BYTES) bytes += generator.fill(page, 0, page.length);
    },
  });
}

Deno.bench({
  name: "gen text: build the vocabulary and Zipf table",
  group: "setup",
  fn() {
    new CorpusGenerator(memory, { kind: "text", sizeBytes: 1 }).release();
  },
});

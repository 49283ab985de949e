import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { type CountRequest, countWords } from "../../src/count/mod.ts";
import { IoManager } from "../../src/io/mod.ts";
import { MemoryManager } from "../../src/memory/mod.ts";

/** 33 MiB of text: a file from 32 MiB lets `--threads auto` start the Worker at once. */
const INPUT_BYTES = 33 * 1024 * 1024;

/** Lines of `wordsPerLine` tokens; `token(i)` is the i-th token. */
function corpus(token: (i: number) => string): Uint8Array {
  const parts: string[] = [];
  let bytes = 0;
  for (let i = 0; bytes < INPUT_BYTES; i += 1) {
    const part = token(i) + (i % 8 === 7 ? "\n" : " ");
    parts.push(part);
    bytes += part.length;
  }
  return new TextEncoder().encode(parts.join(""));
}

/** Counts `input` with `threads` (auto: a machine with both cores idle), word order. */
async function count(
  path: string,
  tmp: string,
  threads: { threads: number; threadsAuto: boolean },
): Promise<{ text: string; workerBytes: number; wordRuns: number }> {
  const memory = new MemoryManager({ budgetBytes: 8 * 1024 * 1024, segmentBytes: 8 * 1024 });
  const io = await IoManager.open({ memory, tmpDirs: [tmp], handleSignals: false });
  const output = `${tmp}/out-${threads.threads}-${threads.threadsAuto}.txt`;
  const request: CountRequest = {
    inputs: [path],
    output,
    tokenizer: "whitespace",
    caseMode: "preserve",
    order: "word",
    top: undefined,
    minCount: 1,
    distinct: false,
    total: false,
    format: "tsv",
    tmpDirs: [tmp],
    leakDetection: "simple",
    fanInMax: 128,
    ...threads,
    idleCores: (cores) => cores, // an idle machine: the load never says no
    workerFirst: true, // a started Worker gets its first chunk (the test seam)
  };
  try {
    const result = await countWords(request, { memory, io });
    return {
      text: await Deno.readTextFile(output),
      workerBytes: result.workerBytes,
      wordRuns: result.wordRuns,
    };
  } finally {
    await io.close();
    memory.assertAllReleased();
  }
}

async function withTemp(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "count-auto-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("countWords with --threads auto stays on one thread for nearly unique tokens", async () => {
  await withTemp(async (dir) => {
    const path = `${dir}/unique.txt`;
    await Deno.writeFile(path, corpus((i) => `u${(i * 2654435761) % 4294967291}x${i}`));
    const auto = await count(path, dir, { threads: 2, threadsAuto: true });
    strictEqual(auto.workerBytes, 0, "the Worker counted nothing");
    ok(auto.wordRuns > 2, `the table spilled (${auto.wordRuns} runs)`);
    const one = await count(path, dir, { threads: 1, threadsAuto: false });
    deepStrictEqual(auto.text, one.text);
    // --threads 2 still counts on the Worker.
    const two = await count(path, dir, { threads: 2, threadsAuto: false });
    ok(two.workerBytes > 0, "--threads 2 starts the Worker");
    deepStrictEqual(two.text, one.text);
  });
});

Deno.test("countWords with --threads auto starts the Worker for repeated words", async () => {
  await withTemp(async (dir) => {
    const path = `${dir}/repeated.txt`;
    await Deno.writeFile(path, corpus((i) => `w${(i * 7919) % 5003}`));
    const auto = await count(path, dir, { threads: 2, threadsAuto: true });
    ok(auto.workerBytes > 0, "the Worker counted some chunks");
    const one = await count(path, dir, { threads: 1, threadsAuto: false });
    deepStrictEqual(auto.text, one.text);
  });
});

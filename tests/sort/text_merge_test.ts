import { strictEqual } from "node:assert/strict";
import fc from "fast-check";
import { Buffer } from "node:buffer";
import { WasmKernels } from "../../src/kernels/mod.ts";
import type { MemoryManager, SegmentLease } from "../../src/memory/mod.ts";
import { mergeTextFiles, planTextMerge } from "../../src/sort/text_merge.ts";
import { externalSort } from "../../src/sort/external_sort.ts";
import { BytesOrder, orderFromDescriptor } from "../../src/sort/mod.ts";
import { openIoForTest, withIoTempDir } from "../_support/io_fixtures.ts";
import { checkAsyncProperty } from "../_support/property.ts";
import { plainSpec } from "./_fixtures.ts";

/** What `sort -m` writes: the smallest head each time, ties to the first input (oracle). */
function mergeOracle(runs: Uint8Array[][], reverse: boolean, unique: boolean): Uint8Array[] {
  const at = runs.map(() => 0);
  const out: Uint8Array[] = [];
  for (;;) {
    let best = -1;
    for (let i = 0; i < runs.length; i += 1) {
      if (at[i]! >= runs[i]!.length) continue;
      if (best < 0) {
        best = i;
        continue;
      }
      const c = Buffer.compare(runs[i]![at[i]!]!, runs[best]![at[best]!]!);
      if (reverse ? c > 0 : c < 0) best = i;
    }
    if (best < 0) return out;
    const line = runs[best]![at[best]!]!;
    at[best]! += 1;
    if (unique && out.length > 0 && Buffer.compare(out[out.length - 1]!, line) === 0) continue;
    out.push(line);
  }
}

interface Case {
  runs: Uint8Array[][];
  reverse: boolean;
  unique: boolean;
  terminator: number;
  sorted: boolean;
  /** The last input lacks its final terminator (unless its last line is empty). */
  cutLast: boolean;
  /**
   * At the first output write, every other free page is taken (one-page output halves, so that
   * it comes early): from then on no run of two free pages exists, so a line longer than the
   * chunk is read into a heap buffer (the kernel merge hands the rest to the loser tree), the
   * `-u` copy cannot grow, and a reader cannot take its chunk's pages back after a long line.
   */
  fragment?: boolean;
}

/** Takes every other free page of `memory` (one page each); returns the leases taken. */
function fragmentFreePages(memory: MemoryManager): SegmentLease[] {
  const taken: SegmentLease[] = [];
  for (;;) {
    const lease = memory.tryAllocate("fragment", 1);
    if (lease === undefined) break;
    taken.push(lease);
  }
  const kept = taken.filter((lease, i) => {
    if (i % 2 === 0) return true;
    lease.release();
    return false;
  });
  return kept;
}

/** Merges the case's inputs with mergeTextFiles and checks the output against the oracle. */
async function checkCase(c: Case): Promise<void> {
  const sign = c.reverse ? -1 : 1;
  const runs = c.runs.map((run) => {
    const lines = run.map((line) => line.map((b) => b === c.terminator ? 0x41 : b));
    return c.sorted ? lines.sort((a, b) => Buffer.compare(a, b) * sign) : lines;
  });
  await withIoTempDir(async (dir) => {
    const paths: string[] = [];
    for (const [i, run] of runs.entries()) {
      const bytes = run.flatMap((line) => [...line, c.terminator]);
      if (c.cutLast && i === runs.length - 1 && (run.at(-1)?.length ?? 0) > 0) bytes.pop();
      await Deno.writeFile(`${dir}/in${i}`, Uint8Array.from(bytes));
      paths.push(`${dir}/in${i}`);
    }
    const { memory, io } = await openIoForTest(dir, {
      budgetBytes: 256 * 4096,
      segmentBytes: 4096,
    });
    const chunks: Uint8Array[] = [];
    const fragments: SegmentLease[] = [];
    try {
      let plan = planTextMerge(memory, { inputCount: paths.length, chunkSegments: 3 })!;
      if (c.fragment === true) plan = { ...plan, outputSegments: 2 };
      const counters = { inputBytes: 0, inputRecords: 0 };
      const result = await mergeTextFiles(paths, (bytes, byteLength) => {
        chunks.push(bytes.slice(0, byteLength));
        if (c.fragment === true && fragments.length === 0) {
          fragments.push(...fragmentFreePages(memory));
        }
        return undefined;
      }, {
        memory,
        io,
        kernels: new WasmKernels(memory.wasmMemory),
        reverse: c.reverse,
        unique: c.unique,
        terminator: c.terminator,
        owner: "merge-input",
        plan,
        counters,
      });
      const expected = mergeOracle(runs, c.reverse, c.unique);
      strictEqual(result.writtenCount, expected.length);
      strictEqual(counters.inputRecords, runs.flat().length);
      const want = Buffer.from(expected.flatMap((line) => [...line, c.terminator]));
      strictEqual(Buffer.compare(Buffer.concat(chunks), want), 0, JSON.stringify(c));
    } finally {
      for (const lease of fragments) lease.release();
      await io.close();
      memory.assertAllReleased();
    }
  });
}

const line = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 12 }) },
  {
    weight: 3,
    arbitrary: fc.uint8Array({ minLength: 1, maxLength: 40 }).map((a) =>
      a.map((b) => 0x61 + (b & 3))
    ),
  },
  // Longer than a 3-page chunk of 4 KiB pages.
  {
    weight: 1,
    arbitrary: fc.integer({ min: 4000, max: 20000 }).map((n) => new Uint8Array(n).fill(0x62)),
  },
);

Deno.test("mergeTextFiles merges like sort -m (unsorted inputs, long lines, -r, -u, -z)", async () => {
  const enc = (lines: string[]) => lines.map((l) => new TextEncoder().encode(l));
  const long = "q".repeat(9000);
  const orders = [[false, false, 10], [true, true, 10], [false, true, 0]] as const;
  for (const [reverse, unique, terminator] of orders) {
    await checkCase({
      runs: [enc(["", "a", long, "b", "b"]), enc([]), enc(["a", "b" + long, "c"]), enc(["b", "a"])],
      reverse,
      unique,
      terminator,
      sorted: false,
      cutLast: true,
    });
  }
});

Deno.test("mergeTextFiles hands a long line that no run of free pages holds to the loser tree", async () => {
  // Both inputs pass 4 KiB of output (the first write fragments the free pages) before their
  // long lines; equal lines on both sides of the handoff check -u against the kernel's last
  // line, and lines after the long ones check the readers' chunks (kept in the long line's
  // buffer: no three free pages in a row).
  const enc = (lines: string[]) => lines.map((l) => new TextEncoder().encode(l));
  const short = (tag: string) => Array.from({ length: 700 }, (_, i) => `${tag}${1000 + i}`);
  const long = "x".repeat(15000);
  const runs = [
    enc([...short("a"), "w", "w", long, long + "y", "y", "z"]),
    enc([...short("b"), "w", long, "x", "z", "z"]),
  ];
  for (const [reverse, unique, terminator] of [[false, true, 10], [false, false, 0]] as const) {
    await checkCase({
      runs,
      reverse,
      unique,
      terminator,
      sorted: true,
      cutLast: false,
      fragment: true,
    });
  }
  await checkCase({
    runs,
    reverse: true,
    unique: true,
    terminator: 10,
    sorted: true,
    cutLast: true,
    fragment: true,
  });
});

Deno.test("mergeTextFiles agrees with the oracle on random inputs", async () => {
  await checkAsyncProperty(
    fc.asyncProperty(
      fc.array(fc.array(line, { maxLength: 60 }), { minLength: 1, maxLength: 5 }),
      fc.boolean(),
      fc.boolean(),
      fc.constantFrom(10, 0),
      fc.boolean(),
      fc.boolean(),
      fc.boolean(),
      async (runs, reverse, unique, terminator, sorted, cutLast, fragment) =>
        await checkCase({ runs, reverse, unique, terminator, sorted, cutLast, fragment }),
    ),
    25,
  );
});

Deno.test("externalSort -m merges a plain byte order on the merge kernel, keyed orders on the loser tree", async () => {
  const numeric = orderFromDescriptor({
    kind: "spec",
    spec: plainSpec([], { numeric: true }),
  });
  // Each case's inputs are sorted in its order.
  const cases = [
    { order: new BytesOrder(false), kernel: true, a: "1 3 5", b: "10 2 4", out: "1 10 2 3 4 5" },
    { order: new BytesOrder(true), kernel: true, a: "5 3 1", b: "4 2 10", out: "5 4 3 2 10 1" },
    { order: numeric, kernel: false, a: "1 3 5", b: "2 4 10", out: "1 2 3 4 5 10" },
  ];
  await withIoTempDir(async (dir) => {
    for (const c of cases) {
      const lines = (words: string) => words.split(" ").join("\n") + "\n";
      await Deno.writeTextFile(`${dir}/a`, lines(c.a));
      await Deno.writeTextFile(`${dir}/b`, lines(c.b));
      const { memory, io } = await openIoForTest(dir, { budgetBytes: 64 * 4096 });
      try {
        const stats = await externalSort([`${dir}/a`, `${dir}/b`], `${dir}/out`, {
          memory,
          io,
          order: c.order,
          mergeOnly: true,
        });
        strictEqual(stats.usedMergeKernel, c.kernel);
        strictEqual(stats.outputRecords, 6);
      } finally {
        await io.close();
        memory.assertAllReleased();
      }
      strictEqual(await Deno.readTextFile(`${dir}/out`), lines(c.out));
    }
  });
});

/**
 * Keyed runs (docs/spill-format.md): a sort whose order is not plain bytes spills each record
 * with its normalized key, and the merges compare keys by memcmp (the merge kernel in keyed
 * mode for the final merge, the loser tree over the keys for intermediate passes). Checked
 * against `LC_ALL=C sort` on random `-k`/`-t`/`-n`/`-r`/`-f`/`-b`/`-u`/`-s` combinations at
 * tiny budgets (many runs, several merge passes), and through the library to see which merge ran.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { IoManager } from "../../src/io/mod.ts";
import { MemoryManager } from "../../src/memory/mod.ts";
import { externalSort } from "../../src/sort/external_sort.ts";
import { KeyedRunOrder } from "../../src/sort/keyed_records.ts";
import { normalizedKeysFor } from "../../src/sort/normalized_key.ts";
import { parseSortOrder, type SortOrderSpec } from "../../src/sort/sort_order.ts";
import {
  gnuSkipReason,
  gnuSort,
  gnuSortAvailable,
  makeRandom,
  makeWorkDir,
  randomLines,
  spillwaySort,
} from "./_gnu.ts";
import { plainSpec } from "./_fixtures.ts";

/** Random GNU flags of the normalizable kinds (keys, separator, modifiers, -u, -s). */
function randomFlags(random: () => number): string[] {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const flags: string[] = [];
  const separator = pick([undefined, ",", " ", ":"]);
  if (separator !== undefined) flags.push("-t", separator);
  const modifiers = () => {
    let text = "";
    for (const modifier of ["n", "r", "f", "b"]) if (random() < 0.25) text += modifier;
    return text;
  };
  const keyCount = Math.floor(random() * 3);
  for (let k = 0; k < keyCount; k += 1) {
    const field = 1 + Math.floor(random() * 3);
    const start = random() < 0.3 ? `${field}.${1 + Math.floor(random() * 3)}` : `${field}`;
    const end = pick([
      "",
      `,${field}`,
      `,${field + 1}`,
      `,${field}.${1 + Math.floor(random() * 4)}`,
    ]);
    flags.push(`-k${start}${modifiers()}${end}${random() < 0.3 ? modifiers() : ""}`);
  }
  for (const global of ["-n", "-r", "-f", "-b", "-u", "-s"]) {
    if (random() < 0.25) flags.push(global);
  }
  // A plain byte order would not be keyed: make sure something asks for keys.
  if (keyCount === 0 && !flags.some((flag) => ["-n", "-f", "-b"].includes(flag))) {
    flags.push(pick(["-n", "-f", "-b"]));
  }
  return flags;
}

const budgets: string[][] = [
  ["-S", "64k", "--segment-size", "4k", "--fan-in", "2"],
  ["-S", "64k", "--segment-size", "4k", "--fan-in", "3"],
  ["-S", "128k", "--segment-size", "4k"],
  ["-S", "256k", "--segment-size", "8k", "--parallel=1"],
];

Deno.test({
  name: `sort with keys matches LC_ALL=C sort on random options at tiny budgets${gnuSkipReason}`,
  ignore: !gnuSortAvailable,
  async fn() {
    const seed = Number(Deno.env.get("SPILLWAY_TEST_SEED") ?? 20261202);
    // The seed is in every failure message (`what`); SPILLWAY_TEST_SEED replays another.
    const random = makeRandom(seed);
    const work = await makeWorkDir();
    try {
      for (let round = 0; round < 48; round += 1) {
        const flags = randomFlags(random);
        const budget = budgets[round % budgets.length]!;
        const lines = 1500 + Math.floor(random() * 2500);
        await Deno.writeFile(
          work.path("in.txt"),
          randomLines(random, lines, { maxLength: 30, exotic: random() < 0.5 }),
        );
        const expected = await gnuSort([...flags, work.path("in.txt")]);
        strictEqual(expected.code, 0, expected.stderr);
        const code = await spillwaySort([
          ...flags,
          ...budget,
          "-T",
          work.spill,
          "-o",
          work.path("out.txt"),
          work.path("in.txt"),
        ]);
        const what = `round ${round} seed ${seed}: sort ${flags.join(" ")} ${budget.join(" ")}`;
        strictEqual(code, 0, what);
        const actual = await Deno.readFile(work.path("out.txt"));
        if (Buffer.compare(actual, expected.stdout) !== 0) {
          strictEqual(
            new TextDecoder().decode(actual),
            new TextDecoder().decode(expected.stdout),
            what,
          );
        }
        deepStrictEqual(work.spillLeftovers(), [], what);
      }
    } finally {
      await work.remove();
    }
  },
});

/** Sorts through the library; returns the output, the stats and GNU's output. */
async function sortKeyed(
  input: Uint8Array,
  orderSpec: SortOrderSpec,
  gnuFlags: string[],
  options: { mergeKernel: boolean; fanInMax?: number; budgetBytes?: number; kernels?: boolean },
) {
  const work = await makeWorkDir();
  const memory = new MemoryManager({
    budgetBytes: options.budgetBytes ?? 256 * 1024,
    segmentBytes: 4096,
  });
  const io = await IoManager.open({ memory, tmpDirs: [work.spill], handleSignals: false });
  try {
    await Deno.writeFile(work.path("in"), input);
    const stats = await externalSort([work.path("in")], work.path("out"), {
      memory,
      io,
      order: parseSortOrder(orderSpec),
      orderDescriptor: { kind: "spec", spec: orderSpec },
      unique: orderSpec.unique,
      fanInMax: options.fanInMax ?? 128,
      mergeKernel: options.mergeKernel,
      kernels: options.kernels ?? true,
    });
    const gnu = gnuSortAvailable
      ? (await gnuSort([...gnuFlags, work.path("in")])).stdout
      : undefined;
    return { stats, output: await Deno.readFile(work.path("out")), gnu };
  } finally {
    await io.close();
    memory.assertAllReleased();
    deepStrictEqual(work.spillLeftovers(), [], "spill files left behind");
    await work.remove();
  }
}

Deno.test("externalSort merges keyed runs on the merge kernel, and the loser tree agrees", async () => {
  const input = randomLines(makeRandom(11), 8000, { exotic: false });
  const cases: Array<[SortOrderSpec, string[]]> = [
    [plainSpec(["2,2n"]), ["-k2,2n"]],
    [plainSpec(["1,1f"], { stable: true }), ["-s", "-k1,1f"]],
    [plainSpec(["2"], { unique: true, reverse: true }), ["-u", "-r", "-k2"]],
    [plainSpec([], { numeric: true, unique: true }), ["-n", "-u"]],
  ];
  for (const [orderSpec, flags] of cases) {
    const kernel = await sortKeyed(input, orderSpec, flags, { mergeKernel: true });
    strictEqual(kernel.stats.runCount > 2, true, `runs: ${kernel.stats.runCount}`);
    strictEqual(kernel.stats.usedMergeKernel, true, `${flags.join(" ")}: the kernel merged`);
    const tree = await sortKeyed(input, orderSpec, flags, { mergeKernel: false, fanInMax: 2 });
    strictEqual(tree.stats.usedMergeKernel, false);
    strictEqual(tree.stats.mergePasses > 1, true, `passes: ${tree.stats.mergePasses}`);
    strictEqual(Buffer.compare(kernel.output, tree.output), 0, flags.join(" "));
    // The Worker's JavaScript sort and reference gather write the same keyed runs.
    const reference = await sortKeyed(input, orderSpec, flags, {
      mergeKernel: true,
      kernels: false,
    });
    strictEqual(Buffer.compare(kernel.output, reference.output), 0, `${flags.join(" ")} reference`);
    if (kernel.gnu !== undefined) {
      strictEqual(Buffer.compare(kernel.output, kernel.gnu), 0, `${flags.join(" ")} vs GNU`);
    }
  }
});

Deno.test("externalSort sorts keyed lines whose key and line exceed a block (keyless records)", async () => {
  // Lines of 3 to 40 KiB among short ones at 4 KiB pages: their keys (-f: the folded line, then
  // the line again as the last resort) do not fit a page, so they are spilled without a key
  // and the merge falls back to the comparator for them.
  const random = makeRandom(5);
  const text = new TextEncoder();
  const parts: Uint8Array[] = [];
  for (let i = 0; i < 3000; i += 1) {
    if (i % 500 === 7) {
      const long = new Uint8Array(3000 + Math.floor(random() * 37_000)).fill(0x61 + (i % 3));
      long[long.length - 1] = 0x41 + (i % 5);
      parts.push(long, text.encode("\n"));
    } else {
      const head = String.fromCharCode(0x61 + Math.floor(random() * 3));
      parts.push(text.encode(`${head}x${i % 17}${"y".repeat(30)}\n`));
    }
  }
  const input = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    input.set(part, at);
    at += part.length;
  }
  for (
    const [orderSpec, flags] of [[plainSpec([], { foldCase: true }), ["-f"]], [
      plainSpec(["1,1f"], { stable: true }),
      ["-s", "-k1,1f"],
    ]] as const
  ) {
    const result = await sortKeyed(input, orderSpec, [...flags], {
      mergeKernel: true,
      budgetBytes: 1024 * 1024,
    });
    strictEqual(result.stats.runCount > 1, true, `runs: ${result.stats.runCount}`);
    strictEqual(result.stats.usedMergeKernel, false, "keyless records take the comparator merge");
    if (result.gnu !== undefined) {
      strictEqual(Buffer.compare(result.output, result.gnu), 0, flags.join(" "));
    }
  }
});

Deno.test("externalSort merges runs whose keyless records came from the sort buffers", async () => {
  // Lines of 2100 to 4000 bytes at 4 KiB pages fit a page but their -f keys (about twice the
  // line) do not: the buffers store them without a key, and the runs the Worker gathers hold
  // them keyless. Only the first quarter of the input has them, so the last (in-memory) run has
  // none: the merge must still see that spilled runs do.
  const random = makeRandom(8);
  const text = new TextEncoder();
  const parts: Uint8Array[] = [];
  for (let i = 0; i < 200_000; i += 1) {
    if (i % 40 === 7 && i < 50_000) {
      const long = new Uint8Array(2100 + Math.floor(random() * 1900));
      for (let j = 0; j < long.length; j += 1) long[j] = [0x61, 0x62, 0x41, 0x42][j * 7 % 4]!;
      long[long.length - 1] = 0x61 + Math.floor(random() * 3);
      parts.push(long, text.encode("\n"));
    } else {
      const head = String.fromCharCode(0x61 + Math.floor(random() * 3));
      parts.push(text.encode(`${head}x${i % 17}${"y".repeat(30)}\n`));
    }
  }
  const input = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    input.set(part, at);
    at += part.length;
  }
  // 1 MiB: the buffers spill from this thread; 8 MiB: the Worker gathers and spills them.
  for (const budgetBytes of [1024 * 1024, 8 * 1024 * 1024]) {
    const result = await sortKeyed(input, plainSpec([], { foldCase: true }), ["-f"], {
      mergeKernel: true,
      budgetBytes,
    });
    strictEqual(result.stats.runCount > 1, true, `runs: ${result.stats.runCount}`);
    strictEqual(result.stats.usedMergeKernel, false, "keyless records take the comparator merge");
    if (result.gnu !== undefined) strictEqual(Buffer.compare(result.output, result.gnu), 0);
  }
});

Deno.test("externalSort merges an in-memory run whose page table spans pages", async () => {
  // 16 MiB of 4 KiB pages: the last buffer stays in memory with ~1700 pages, whose gather page
  // table (4 bytes a page) is longer than a page. It used to fail an assertion after lending
  // the buffer: exit 70 with the buffer still lent (a leak of all its pages).
  const random = makeRandom(21);
  const text = new TextEncoder();
  const lines: string[] = [];
  for (let i = 0; i < 170_000; i += 1) {
    lines.push(
      `${String.fromCharCode(0x61 + Math.floor(random() * 3))}x${i % 17}${"y".repeat(30)}\n`,
    );
  }
  const input = text.encode(lines.join(""));
  const result = await sortKeyed(input, plainSpec([], { foldCase: true }), ["-f"], {
    mergeKernel: true,
    budgetBytes: 16 * 1024 * 1024,
  });
  strictEqual(result.stats.runCount > 1, true, `runs: ${result.stats.runCount}`);
  strictEqual(result.stats.usedMergeKernel, true, "the kernel merged");
  if (result.gnu !== undefined) strictEqual(Buffer.compare(result.output, result.gnu), 0);
});

Deno.test("KeyedRunOrder prefixes agree with its comparison for records with and without a stored key", () => {
  const random = makeRandom(0x5eed7);
  const specs: Array<[SortOrderSpec, string]> = [
    [plainSpec(["2,2n"]), "-k2,2n"],
    [plainSpec(["1,1f"], { stable: true }), "-s -k1,1f"],
    [plainSpec(["2"], { reverse: true }), "-r -k2"],
    [plainSpec([], { numeric: true }), "-n"],
    [plainSpec(["1.2,1.4r", "2"]), "-k1.2,1.4r -k2"],
  ];
  for (const [orderSpec, flags] of specs) {
    const lineOrder = parseSortOrder(orderSpec);
    const keys = normalizedKeysFor(lineOrder);
    strictEqual(keys !== undefined, true, `${flags}: normalizable`);
    const order = new KeyedRunOrder(lineOrder, false, keys);
    // Each line as a spilled keyed record: varint(key length + 1) key line, or 0 line (keyless).
    const text = new TextDecoder().decode(randomLines(random, 60, { exotic: false }));
    const records = text.split("\n").slice(0, -1).map((line, i) => {
      const bytes = new TextEncoder().encode(line);
      const key = new Uint8Array(keys!.keyBytesBound(bytes.length));
      const keyLength = keys!.encode(bytes, 0, bytes.length, key, 0, key.length);
      const keyless = i % 3 === 0;
      // varint(key length + 1): one byte for the keys of these short lines.
      ok(keyLength + 1 < 0x80, `${flags}: key of ${keyLength} bytes`);
      const field = keyless ? [0] : [keyLength + 1];
      const stored = keyless ? new Uint8Array(0) : key.subarray(0, keyLength);
      return Uint8Array.from([...field, ...stored, ...bytes]);
    });
    const prefixes = records.map((record) => {
      const words = new Uint32Array(2);
      order.writePrefix(record, 0, record.length, words, 0, 2);
      return words;
    });
    for (let a = 0; a < records.length; a += 1) {
      for (let b = 0; b < records.length; b += 1) {
        const [pa, pb] = [prefixes[a]!, prefixes[b]!];
        const byPrefix = pa[0] !== pb[0] ? pa[0]! - pb[0]! : pa[1]! - pb[1]!;
        if (byPrefix === 0) continue;
        const compared = order.compare(
          records[a]!,
          0,
          records[a]!.length,
          records[b]!,
          0,
          records[b]!.length,
        );
        strictEqual(
          Math.sign(compared),
          Math.sign(byPrefix),
          `${flags}: prefix and comparison disagree on records ${a} and ${b}`,
        );
      }
    }
  }
});

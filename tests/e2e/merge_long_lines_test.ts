/**
 * `sort -m` and `spillway merge` of a plain byte order (the mergeText kernel, src/sort/
 * text_merge.ts) with lines longer than an input's chunk, up to a quarter of `-S` (the longest
 * line `sort` holds), in several inputs at once, first, last and in order, with `-u`, `-r`, `-z`,
 * at `-S 1m` and `-S 2m` (4 KiB pages) and at the default budget: byte for byte what
 * `LC_ALL=C sort -m` writes. Before the kernel merge could hand a line it cannot place to the
 * loser tree, `-S 1m` with two inputs starting with a 256 KiB line failed with exit 3.
 */
import { match, ok, strictEqual } from "node:assert/strict";
import { Buffer } from "node:buffer";
import { runCli } from "../../src/cli/mod.ts";
import { runSpillway } from "../_support/cli.ts";
import { gnuSkipReason, gnuSort, gnuSortAvailable, makeRandom, makeWorkDir } from "../sort/_gnu.ts";

/** Where each input's long line goes. */
type Place = "first" | "last" | "sorted";

interface LongCase {
  /** `-S` value. */
  budget: string;
  inputCount: number;
  /** Bytes of each input's long line (without the terminator). */
  longBytes: number;
  place: Place;
  flags: string[];
}

/** Short sorted lines, and one long line of one repeated letter, as an input file's bytes. */
function inputBytes(seed: number, c: LongCase): Uint8Array {
  const random = makeRandom(seed);
  const lines: Buffer[] = [];
  for (let i = 0; i < 300; i += 1) {
    const length = 1 + Math.floor(random() * 12);
    lines.push(Buffer.from(Array.from({ length }, () => 0x61 + Math.floor(random() * 4))));
  }
  const sign = c.flags.includes("-r") ? -1 : 1;
  lines.sort((a, b) => sign * Buffer.compare(a, b));
  const long = Buffer.alloc(c.longBytes, 0x61 + (seed % 4));
  if (c.place === "first") lines.unshift(long);
  else if (c.place === "last") lines.push(long);
  else {
    lines.push(long);
    lines.sort((a, b) => sign * Buffer.compare(a, b));
  }
  const terminator = c.flags.includes("-z") ? 0 : 10;
  return Buffer.concat(lines.flatMap((line) => [line, Buffer.from([terminator])]));
}

async function checkLongCase(c: LongCase): Promise<void> {
  const work = await makeWorkDir();
  try {
    const files: string[] = [];
    for (let i = 0; i < c.inputCount; i += 1) {
      files.push(work.path(`in${i}`));
      await Deno.writeFile(work.path(`in${i}`), inputBytes(i + 1, c));
    }
    const expected = await gnuSort(["-m", ...c.flags, ...files]);
    strictEqual(expected.code, 0, expected.stderr);
    for (const command of [["sort", "-m"], ["merge"]]) {
      const out = work.path("out");
      const args = [...command, ...c.flags, "-S", c.budget, "-T", work.spill, "-o", out, ...files];
      const name = `${JSON.stringify(c)} ${command.join(" ")}`;
      strictEqual(await runCli(args), 0, name);
      const actual = await Deno.readFile(out);
      strictEqual(actual.length, expected.stdout.length, name);
      strictEqual(Buffer.compare(actual, expected.stdout), 0, name);
    }
  } finally {
    await work.remove();
  }
}

const QUARTER_1M = 256 * 1024 - 1;

Deno.test({
  name: `sort -m and merge -S 1m take a 256 KiB line in each of two inputs at once${gnuSkipReason}`,
  ignore: !gnuSortAvailable,
  async fn() {
    for (const flags of [[], ["-u"], ["-r"], ["-z"], ["-r", "-u", "-z"]]) {
      await checkLongCase({
        budget: "1m",
        inputCount: 2,
        longBytes: QUARTER_1M,
        place: "first",
        flags,
      });
    }
  },
});

Deno.test({
  name: `sort -m and merge -S 1m and 2m: long lines first, last, in order${gnuSkipReason}`,
  ignore: !gnuSortAvailable,
  async fn() {
    const cases: LongCase[] = [
      { budget: "1m", inputCount: 3, longBytes: QUARTER_1M, place: "sorted", flags: [] },
      { budget: "1m", inputCount: 3, longBytes: QUARTER_1M, place: "sorted", flags: ["-u"] },
      { budget: "1m", inputCount: 1, longBytes: QUARTER_1M, place: "last", flags: ["-u"] },
      { budget: "1m", inputCount: 4, longBytes: 100_000, place: "first", flags: ["-r"] },
      {
        budget: "2m",
        inputCount: 2,
        longBytes: 2 * QUARTER_1M + 1,
        place: "sorted",
        flags: ["-u"],
      },
      { budget: "2m", inputCount: 5, longBytes: 150_000, place: "last", flags: ["-z", "-u"] },
    ];
    for (const c of cases) await checkLongCase(c);
  },
});

Deno.test({
  name: `sort -m and merge at the default -S take 10 MiB lines, two at once${gnuSkipReason}`,
  ignore: !gnuSortAvailable,
  async fn() {
    const random = makeRandom(5);
    for (const place of ["first", "sorted"] as const) {
      const flags = random() < 0.5 ? ["-u"] : ["-r"];
      await checkLongCase({ budget: "64m", inputCount: 2, longBytes: 10 << 20, place, flags });
    }
  },
});

Deno.test("sort -m and merge refuse lines the budget cannot hold at once: exit 3, -o kept", async () => {
  // Four inputs each starting with a line of 3/16 of -S 1m: a merge holds all four at once.
  const dir = await Deno.makeTempDir({ prefix: "spillway-merge-long-refused-" });
  try {
    const inputs: string[] = [];
    for (let k = 0; k < 4; k += 1) {
      const lines = ["b".repeat(196_000 + k), ...Array.from({ length: 200 }, (_, i) => `c${i}`)];
      await Deno.writeTextFile(`${dir}/${k}.txt`, lines.join("\n") + "\n");
      inputs.push(`${dir}/${k}.txt`);
    }
    const spill = `${dir}/spill`;
    await Deno.mkdir(spill);
    const out = `${dir}/out.txt`;
    await Deno.writeTextFile(out, "kept\n");
    for (const command of [["sort", "-m"], ["merge"]]) {
      const name = command.join(" ");
      const result = await runSpillway([...command, "-S", "1m", "-T", spill, "-o", out, ...inputs]);
      strictEqual(result.code, 3, `${name}: ${result.stderr}`);
      match(
        result.stderr,
        /^spillway: Cannot read .*\.txt: a record of 19\d\.\d KiB does not fit beside the .* budget held now \(a merge holds the current line of every input at once\); raise --memory \(-S\) to at least \d+m\n$/,
        name,
      );
      strictEqual(result.stdout, "", name);
      strictEqual(await Deno.readTextFile(out), "kept\n", `${name}: -o target clobbered`);
      const left = [...Deno.readDirSync(spill)].map((entry) => entry.name);
      strictEqual(left.length, 0, `${name}: left in -T: ${left.join(", ")}`);
      const beside = [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();
      strictEqual(
        beside.join(","),
        "0.txt,1.txt,2.txt,3.txt,out.txt,spill",
        `${name}: files beside -o`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    `sort -m -u and merge -u name the -u copy that does not fit: exit 3, then the -S it names merges${gnuSkipReason}`,
  ignore: !gnuSortAvailable,
  async fn() {
    // Three inputs each starting with the same line of 180,000 bytes: the loser tree holds the
    // three at once and its -u copy of the one written (256 KiB) does not fit -S 1m beside them.
    const work = await makeWorkDir();
    try {
      const files: string[] = [];
      for (let k = 0; k < 3; k += 1) {
        const lines = ["a".repeat(180_000), ...Array.from({ length: 300 }, (_, i) => `b${i}`)];
        await Deno.writeTextFile(work.path(`in${k}`), lines.sort().join("\n") + "\n");
        files.push(work.path(`in${k}`));
      }
      const expected = await gnuSort(["-m", "-u", ...files]);
      strictEqual(expected.code, 0, expected.stderr);
      for (const command of [["sort", "-m"], ["merge"]]) {
        const name = command.join(" ");
        const out = work.path("out");
        const args = [...command, "-u", "-T", work.spill, "-o", out];
        const refused = await runSpillway([...args, "-S", "1m", ...files]);
        strictEqual(refused.code, 3, `${name}: ${refused.stderr}`);
        const named = refused.stderr.match(
          /^spillway: Cannot keep the -u copy of the last line written \(256 KiB for a line of 175\.8 KiB\) beside the \d+ KiB of the 1 MiB budget held now; raise --memory \(-S\) to at least (\d+)m\n$/,
        );
        ok(named !== null, `${name}: ${refused.stderr}`);
        strictEqual(await runCli([...args, "-S", `${named[1]}m`, ...files]), 0, name);
        strictEqual(Buffer.compare(await Deno.readFile(out), expected.stdout), 0, name);
      }
    } finally {
      await work.remove();
    }
  },
});

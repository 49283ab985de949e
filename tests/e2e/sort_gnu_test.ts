/**
 * `spillway sort` against `LC_ALL=C sort` on random inputs: every supported flag, budgets from
 * 64 KiB, page sizes 4 KiB..1 MiB, fan-ins down to 2. Runs in-process through runCli with
 * `-o FILE` (the command itself asserts zero leaked segments: a leak would be exit 70); each
 * case checks that no spill file is left.
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import {
  gnuSkipReason,
  gnuSort,
  gnuSortAvailable,
  makeRandom,
  makeWorkDir,
  randomLines,
  spillwaySort,
} from "../sort/_gnu.ts";

interface Case {
  flags: string[];
  budget: string[];
  lines: number;
  seed: number;
  terminator?: number;
}

const flagSets: string[][] = [
  [],
  ["-r"],
  ["-u"],
  ["-r", "-u"],
  ["-f"],
  ["-n"],
  ["-n", "-r"],
  ["-n", "-u"],
  ["-s", "-k2,2"],
  ["-t", ",", "-k2,2", "-k1,1r"],
  ["-t:", "-k2n", "-s"],
  ["-b", "-k2"],
  ["-k1.2,1.4f", "-u"],
  ["-fu"],
  ["-z"],
  ["-rn", "-k2,2", "-t", " "],
];

const budgets: string[][] = [
  ["-S", "64k", "--segment-size", "4k"],
  ["-S", "64k", "--segment-size", "4k", "--fan-in", "2"],
  ["-S", "256k", "--segment-size", "8k", "--fan-in", "3"],
  ["-S", "8m", "--segment-size", "1m"],
  ["--memory", "1mb", "--segment-size", "16k"],
];

async function compareWithGnu(c: Case): Promise<void> {
  const work = await makeWorkDir();
  try {
    const random = makeRandom(c.seed);
    const terminator = c.flags.includes("-z") ? 0 : 10;
    await Deno.writeFile(
      work.path("in.txt"),
      randomLines(random, c.lines, { terminator, exotic: terminator === 10 }),
    );
    const expected = await gnuSort([...c.flags, work.path("in.txt")]);
    strictEqual(expected.code, 0, expected.stderr);
    const code = await spillwaySort([
      ...c.flags,
      ...c.budget,
      "-T",
      work.spill,
      "-o",
      work.path("out.txt"),
      work.path("in.txt"),
    ]);
    strictEqual(code, 0, `spillway sort ${c.flags.join(" ")} ${c.budget.join(" ")} failed`);
    const actual = await Deno.readFile(work.path("out.txt"));
    if (Buffer.compare(actual, expected.stdout) !== 0) {
      strictEqual(
        new TextDecoder().decode(actual),
        new TextDecoder().decode(expected.stdout),
        `flags ${c.flags.join(" ")} budget ${c.budget.join(" ")} seed ${c.seed}`,
      );
    }
    deepStrictEqual(work.spillLeftovers(), []);
  } finally {
    await work.remove();
  }
}

Deno.test({
  name: `sort matches LC_ALL=C sort for every flag set and budget${gnuSkipReason}`,
  ignore: !gnuSortAvailable,
  async fn() {
    let seed = 1;
    for (const flags of flagSets) {
      for (const budget of budgets) {
        // Small budgets spill a lot: 3000 short lines is ~40 KiB, several runs at 64 KiB.
        await compareWithGnu({ flags, budget, lines: 3000, seed: seed++ });
      }
    }
  },
});

Deno.test({
  name: `sort matches LC_ALL=C sort on larger inputs with several merge passes${gnuSkipReason}`,
  ignore: !gnuSortAvailable,
  async fn() {
    await compareWithGnu({
      flags: [],
      budget: ["-S", "64k", "--segment-size", "4k", "--fan-in", "2"],
      lines: 40_000,
      seed: 99,
    });
    await compareWithGnu({
      flags: ["-u"],
      budget: ["-S", "128k", "--segment-size", "4k", "--fan-in", "4"],
      lines: 40_000,
      seed: 100,
    });
  },
});

async function sortBytes(
  input: Uint8Array,
  flags: string[],
  budget: string[] = ["-S", "64k", "--segment-size", "4k"],
): Promise<{ gnu: Uint8Array; ours: Uint8Array; spill: string[] }> {
  const work = await makeWorkDir();
  try {
    await Deno.writeFile(work.path("in"), input);
    const expected = await gnuSort([...flags, work.path("in")]);
    const code = await spillwaySort([
      ...flags,
      ...budget,
      "-T",
      work.spill,
      "-o",
      work.path("out"),
      work.path("in"),
    ]);
    strictEqual(code, 0);
    return {
      gnu: expected.stdout,
      ours: await Deno.readFile(work.path("out")),
      spill: work.spillLeftovers(),
    };
  } finally {
    await work.remove();
  }
}

const encode = (text: string) => new TextEncoder().encode(text);

Deno.test({
  name: `sort edge cases match LC_ALL=C sort${gnuSkipReason}`,
  ignore: !gnuSortAvailable,
  async fn() {
    // A 40 KiB line: ten pages long, more than a run writer's block; it is spilled as a run
    // of its own. (A line must fit the budget's large-record headroom, about 1/15 of -S.)
    const big = new Uint8Array(40 * 1024).fill(0x62);
    const withBig = new Uint8Array([...encode("c\na\n"), ...big, ...encode("\nb\n")]);
    const inputs: Array<[string, Uint8Array, string[]]> = [
      ["empty", new Uint8Array(0), []],
      ["one line without newline", encode("hello"), []],
      ["all equal lines", encode("same\n".repeat(5000)), []],
      ["all equal lines, -u", encode("same\n".repeat(5000)), ["-u"]],
      ["NUL bytes", new Uint8Array([0x61, 0, 0x62, 10, 0x61, 10, 0, 10, 0x61, 0, 10]), []],
      ["invalid UTF-8", new Uint8Array([0xff, 0xfe, 10, 0xc3, 10, 0xc3, 0xa9, 10, 0x80, 10]), []],
      ["CRLF", encode("b\r\na\r\na\nb\n\r\n"), []],
      ["a line ten pages long", withBig, []],
      ["a line ten pages long, -r", withBig, ["-r"]],
      ["-z without final NUL", new Uint8Array([0x62, 10, 0x61, 0, 0x61, 0x0a]), ["-z"]],
    ];
    for (const [what, input, flags] of inputs) {
      const { gnu, ours, spill } = await sortBytes(input, flags, [
        "-S",
        "1m",
        "--segment-size",
        "4k",
      ]);
      strictEqual(Buffer.compare(ours, gnu), 0, what);
      deepStrictEqual(spill, [], what);
    }
  },
});

Deno.test({
  name: `sort handles 1 million empty lines${gnuSkipReason}`,
  ignore: !gnuSortAvailable,
  async fn() {
    const input = new Uint8Array(1_000_000).fill(10);
    const { gnu, ours, spill } = await sortBytes(input, [], ["-S", "1m", "--segment-size", "16k"]);
    strictEqual(ours.length, 1_000_000);
    strictEqual(Buffer.compare(ours, gnu), 0);
    deepStrictEqual(spill, []);
  },
});

Deno.test({
  name: `sort -m merges sorted inputs like LC_ALL=C sort -m${gnuSkipReason}`,
  ignore: !gnuSortAvailable,
  async fn() {
    const work = await makeWorkDir();
    try {
      const random = makeRandom(7);
      const files: string[] = [];
      for (let i = 0; i < 5; i += 1) {
        const raw = randomLines(random, 500 + i * 100);
        await Deno.writeFile(work.path(`raw${i}`), raw);
        const sorted = await gnuSort([work.path(`raw${i}`)]);
        await Deno.writeFile(work.path(`s${i}`), sorted.stdout);
        files.push(work.path(`s${i}`));
      }
      for (const flags of [["-m"], ["-m", "-u"]]) {
        const expected = await gnuSort([...flags, ...files]);
        const code = await spillwaySort([
          ...flags,
          "-S",
          "64k",
          "--segment-size",
          "4k",
          "-T",
          work.spill,
          "-o",
          work.path("out"),
          ...files,
        ]);
        strictEqual(code, 0);
        strictEqual(Buffer.compare(await Deno.readFile(work.path("out")), expected.stdout), 0);
      }
      deepStrictEqual(work.spillLeftovers(), []);
    } finally {
      await work.remove();
    }
  },
});

Deno.test({
  name: `sort -c and -C exit like LC_ALL=C sort${gnuSkipReason}`,
  ignore: !gnuSortAvailable,
  async fn() {
    const work = await makeWorkDir();
    try {
      const cases: Array<[string, string[]]> = [
        ["a\nb\nb\nc\n", []],
        ["a\nb\nb\nc\n", ["-u"]],
        ["a\nc\nb\n", []],
        ["3\n10\n", ["-n"]],
        ["10\n3\n", ["-n"]],
        ["", []],
        ["b\na", ["-r"]],
      ];
      for (const [text, flags] of cases) {
        await Deno.writeTextFile(work.path("in"), text);
        for (const check of ["-c", "-C"]) {
          const expected = await gnuSort([check, ...flags, work.path("in")]);
          const code = await spillwaySort([check, ...flags, "-T", work.spill, work.path("in")]);
          strictEqual(
            code,
            expected.code,
            `${check} ${flags.join(" ")} on ${JSON.stringify(text)}`,
          );
        }
      }
    } finally {
      await work.remove();
    }
  },
});

Deno.test("sort refuses unsupported GNU flags (exit 2) and raises a tiny budget", async () => {
  for (const flag of ["--sort=bogus", "-gn"]) {
    strictEqual(await spillwaySort([flag, "/dev/null"]), 2, flag);
  }
  for (
    const flag of [
      "-h",
      "-V",
      "-R",
      "-M",
      "-g",
      "-d",
      "-i",
      "--sort=random",
      "--sort=gen",
      "--compress-program=gzip",
    ]
  ) {
    strictEqual(await spillwaySort([flag, "/dev/null"]), 0, flag);
  }
  // GNU sort takes -S1 as "as little as possible": spillway raises it to 64 KiB.
  strictEqual(await spillwaySort(["-S", "16k", "--segment-size", "4k", "/dev/null"]), 0);
  strictEqual(await spillwaySort(["-k", "0,1", "/dev/null"]), 2);
  strictEqual(await spillwaySort(["--fan-in", "1", "/dev/null"]), 2);
});

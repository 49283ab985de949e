/**
 * GNU sort's command line, item by item, against `LC_ALL=C sort` as the oracle: obsolete
 * `+POS1 [-POS2]` keys, a tiny -S, conflicting options, long-option abbreviations,
 * --files0-from, --batch-size, --parallel, a missing -T that is never needed, and a low
 * `ulimit -n`. Each case runs the same arguments through both and compares output and exit.
 */
import { strictEqual } from "node:assert/strict";
import { runSpillway, SPILLWAY_MAIN, SPILLWAY_PERMISSIONS } from "../_support/cli.ts";
import {
  gnuSkipReason,
  gnuSort,
  gnuSortAvailable,
  makeWorkDir,
  spillwaySort,
} from "../sort/_gnu.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const ignore = !gnuSortAvailable;

const TEXT = [
  "b 3 x.c",
  "a 10 y.a",
  "C 2 z",
  "a 2 q",
  " d 1.5 w",
  "b 3 b",
  "",
  "e\t-4 k",
  "a 10 a",
].join("\n") + "\n";

/** Runs both with `args` on `files` (name -> text); compares exit codes and outputs. */
async function same(
  args: string[],
  files: Record<string, string> = { "in.txt": TEXT },
  operands: string[] = Object.keys(files),
): Promise<number> {
  const work = await makeWorkDir();
  try {
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(work.path(name), text);
    }
    const paths = operands.map((name) => work.path(name));
    const gnu = await gnuSort([...args, ...paths]);
    const outPath = work.path("spillway.out");
    const code = await spillwaySort(["-o", outPath, ...args, ...paths]);
    strictEqual(code, gnu.code, `exit of sort ${args.join(" ")}: ${gnu.stderr}`);
    if (code === 0) {
      strictEqual(await Deno.readTextFile(outPath), decoder.decode(gnu.stdout), args.join(" "));
    }
    strictEqual(work.spillLeftovers().length, 0);
    return code;
  } finally {
    await work.remove();
  }
}

Deno.test("sort reads obsolete +POS1 -POS2 keys like GNU" + gnuSkipReason, { ignore }, async () => {
  for (
    const args of [
      ["+1"],
      ["+1", "-2"],
      ["+0", "-1"],
      ["+1n", "-2"],
      ["+0.1", "-0.3"],
      ["+1.1b", "-2.2"],
      ["+2", "+1nr", "-2"],
      ["-k", "3", "+1", "-2"],
      ["+0", "-0"],
      ["-t", " ", "+1", "-2n"],
    ]
  ) {
    await same(args);
  }
  // Not a valid +POS1: an operand (a missing file: exit 2 in both).
  strictEqual(await same(["+1x"]), 2);
});

Deno.test("sort raises a tiny -S to its minimum and says so in --stats" + gnuSkipReason, {
  ignore,
}, async () => {
  for (const size of ["-S1", "-S1k", "-S32b", "-S10b", "-S16k"]) await same([size, "-u"]);
  const result = await runSpillway(["sort", "-S1", "--stats=json"], {
    stdin: encoder.encode(TEXT),
  });
  strictEqual(result.code, 0);
  const stats = JSON.parse(result.stderr.trim().split("\n").at(-1)!);
  strictEqual(stats.memory.budgetRequestedBytes, 1024);
  strictEqual(stats.memory.budgetBytes, 64 * 1024);
});

Deno.test("sort rejects GNU's conflicting options with exit 2" + gnuSkipReason, {
  ignore,
}, async () => {
  const work = await makeWorkDir();
  try {
    const input = work.path("in.txt");
    await Deno.writeTextFile(input, "a\n");
    for (
      const args of [
        ["-c", "-o", work.path("o")],
        ["-C", "-o", work.path("o")],
        ["-cC"],
        ["--check=quiet", "-c"],
        ["-gn"],
        ["-k1,1Mh"],
        ["--sort=numeric", "-R"],
      ]
    ) {
      strictEqual((await gnuSort([...args, input])).code, 2, `GNU ${args.join(" ")}`);
      strictEqual(await spillwaySort([...args, input]), 2, args.join(" "));
    }
  } finally {
    await work.remove();
  }
});

Deno.test("sort takes GNU's long-option abbreviations" + gnuSkipReason, { ignore }, async () => {
  for (
    const args of [
      ["--rev"],
      ["--p=1", "--st"],
      ["--numeric", "--rev"],
      ["--key=2,2n", "--s=gen"],
      ["--sort=h"],
      ["--ignore-c", "--uni"],
      ["--field-sep=:", "--k", "1"],
      ["--gen"],
    ]
  ) {
    await same(args);
  }
  strictEqual(await spillwaySort(["--s", "/dev/null"]), 2); // --sort or --stable: ambiguous
  strictEqual((await gnuSort(["--s", "/dev/null"])).code, 2);
});

Deno.test("sort --files0-from reads NUL-separated names like GNU" + gnuSkipReason, {
  ignore,
}, async () => {
  const work = await makeWorkDir();
  try {
    await Deno.writeTextFile(work.path("a"), "b\na\n");
    await Deno.writeTextFile(work.path("b"), "c\n0\n");
    const lists: Record<string, string> = {
      two: `${work.path("a")}\0${work.path("b")}\0`,
      noFinalNul: `${work.path("a")}\0${work.path("b")}`,
      empty: "",
      emptyName: `\0${work.path("a")}\0`,
      minus: "-\0",
    };
    for (const [name, text] of Object.entries(lists)) {
      const list = work.path(`list-${name}`);
      await Deno.writeTextFile(list, text);
      const gnu = await gnuSort([`--files0-from=${list}`]);
      const out = work.path(`out-${name}`);
      const code = await spillwaySort([`--files0-from=${list}`, "-o", out]);
      strictEqual(code, gnu.code, name);
      if (code === 0) strictEqual(await Deno.readTextFile(out), decoder.decode(gnu.stdout));
    }
    const list = work.path("list-two");
    strictEqual((await gnuSort([`--files0-from=${list}`, work.path("a")])).code, 2);
    strictEqual(await spillwaySort([`--files0-from=${list}`, work.path("a")]), 2);
  } finally {
    await work.remove();
  }
});

Deno.test("sort --batch-size is the merge fan-in, also for -m" + gnuSkipReason, {
  ignore,
}, async () => {
  const files: Record<string, string> = {};
  for (let index = 0; index < 9; index += 1) {
    const lines = [];
    for (let value = index; value < 60; value += 7) lines.push(String(value));
    files[`in${index}`] = lines.join("\n") + "\n";
  }
  await same(["-m", "-n", "--batch-size=2"], files);
  await same(["-m", "-n", "-u", "--batch-size=3"], files);
  await same(["-n", "--batch-size=2", "-S", "64k"], files);
  for (const bad of ["0", "1", "-1", "a", "18446744073709551616"]) {
    strictEqual(await same(["-m", `--batch-size=${bad}`], files), 2, bad);
  }
});

Deno.test("sort --parallel=1 sorts on one thread with the same output" + gnuSkipReason, {
  ignore,
}, async () => {
  const lines = [];
  for (let index = 0; index < 20_000; index += 1) lines.push(String((index * 7919) % 10007));
  await same(["--parallel=1", "-n", "-S", "64k"], { "in.txt": lines.join("\n") + "\n" });
  await same(["--parallel=2", "-S", "64k"], { "in.txt": lines.join("\n") + "\n" });
});

Deno.test("sort fails on a missing -T only when it has to spill", async () => {
  const work = await makeWorkDir();
  try {
    const small = work.path("small");
    await Deno.writeTextFile(small, "b\na\n");
    const out = work.path("out");
    strictEqual(await spillwaySort(["-T", work.path("missing"), "-o", out, small]), 0);
    strictEqual(await Deno.readTextFile(out), "a\nb\n");
    const big = work.path("big");
    const lines = [];
    for (let index = 0; index < 30_000; index += 1) lines.push(String(index));
    await Deno.writeTextFile(big, lines.join("\n") + "\n");
    const result = await runSpillway(["sort", "-S", "64k", "-T", work.path("missing"), big]);
    strictEqual(result.code, 3);
    strictEqual(result.stdout, "");
    strictEqual(
      /temp directory .*missing.*does not exist/.test(result.stderr),
      true,
      result.stderr,
    );
  } finally {
    await work.remove();
  }
});

Deno.test("sort under a low ulimit -n works or says why, never panics", async () => {
  const work = await makeWorkDir();
  try {
    const names: string[] = [];
    for (let index = 1; index <= 17; index += 1) {
      names.push(work.path(`in${index}`));
      await Deno.writeTextFile(names.at(-1)!, `${index}\n`);
    }
    const main = SPILLWAY_MAIN;
    for (const limit of [26, 32, 64]) {
      const script =
        `ulimit -n ${limit} && exec "$0" run --quiet ${SPILLWAY_PERMISSIONS.join(" ")} ` +
        `"${main}" sort -m --batch-size=16 "$@"`;
      const output = await new Deno.Command("sh", {
        args: ["-c", script, Deno.execPath(), ...names],
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).output();
      const stderr = decoder.decode(output.stderr);
      strictEqual(stderr.includes("panicked"), false, `ulimit -n ${limit}: ${stderr}`);
      if (output.code === 0) {
        const expected = names.map((_, index) => `${index + 1}\n`).sort().join("");
        strictEqual(decoder.decode(output.stdout), expected);
      } else {
        strictEqual(output.code, 3, stderr);
        strictEqual(/raise ulimit -n/.test(stderr), true, stderr);
      }
      if (limit === 64) strictEqual(output.code, 0, stderr);
    }
  } finally {
    await work.remove();
  }
});

Deno.test("sort --debug annotates keys and warns like GNU" + gnuSkipReason, {
  ignore,
}, async () => {
  const work = await makeWorkDir();
  try {
    const input = work.path("in.txt");
    await Deno.writeTextFile(input, "b 10 x.c\na  2 y\n\tjan 3K\nc -1.5e2 FEB\n 0x1p3 nan\nz\n");
    for (
      const args of [
        [],
        ["-k2,2n"],
        ["-k2n", "-r"],
        ["-k2,2g", "-s"],
        ["-k3M"],
        ["-k3h", "-u"],
        ["-b", "-k2,2"],
        ["-k1.2,1.3"],
        ["+1", "-2"],
        ["-t.", "-k2,2n"],
        ["-k2,1"],
        ["-d", "-k1,1"],
        ["-gbr", "-k1,1n"],
      ]
    ) {
      const gnu = await gnuSort(["--debug", ...args, input]);
      const ours = await runSpillway(["sort", "--debug", ...args, input]);
      strictEqual(ours.code, gnu.code, args.join(" "));
      strictEqual(ours.stdout, decoder.decode(gnu.stdout), args.join(" "));
      // GNU names itself by argv[0] (`/usr/bin/sort: `).
      strictEqual(
        ours.stderr.replace(/^spillway: /gm, ""),
        gnu.stderr.replace(/^\S*sort: /gm, ""),
        args.join(" "),
      );
    }
    strictEqual(await spillwaySort(["--debug", "-o", work.path("o"), input]), 2);
    strictEqual(await spillwaySort(["--debug", "-c", input]), 2);
  } finally {
    await work.remove();
  }
});

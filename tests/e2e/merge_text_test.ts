/**
 * `sort -m` and `spillway merge` of a plain byte order (the merge kernel, src/sort/text_merge.ts)
 * against `LC_ALL=C sort -m` on random inputs: sorted or not (GNU merges head by head and checks
 * nothing), empty inputs, a last line without its terminator, lines longer than an input's
 * chunk, `-r`, `-u`, `-z`, budgets from 64 KiB, and standard input among the files.
 */
import { strictEqual } from "node:assert/strict";
import { runCli } from "../../src/cli/mod.ts";
import {
  gnuSkipReason,
  gnuSort,
  gnuSortAvailable,
  makeRandom,
  makeWorkDir,
  randomLines,
} from "../sort/_gnu.ts";
import { SPILLWAY_MAIN } from "../_support/cli.ts";

const flagSets: string[][] = [[], ["-r"], ["-u"], ["-r", "-u"], ["-z"], ["-z", "-u", "-r"]];
const budgets: string[][] = [
  ["-S", "64k", "--segment-size", "4k"],
  ["-S", "1m", "--segment-size", "16k"],
  ["-S", "8m"],
];

/** One input: random lines, sorted by GNU sort with `flags` or left as they are. */
async function writeInput(
  path: string,
  random: () => number,
  options: { flags: string[]; terminator: number },
): Promise<void> {
  const kind = random();
  const lineCount = kind < 0.15 ? 0 : Math.floor(random() * 400);
  const maxLength = kind > 0.8 ? 9000 : 24; // longer than a chunk at -S 64k
  await Deno.writeFile(
    path,
    randomLines(random, lineCount, { maxLength, terminator: options.terminator }),
  );
  if (random() < 0.8) {
    const sortFlags = options.flags.filter((flag) => flag !== "-u");
    const sorted = await gnuSort([...sortFlags, path]);
    await Deno.writeFile(path, sorted.stdout);
  }
  if (random() < 0.3) {
    const bytes = await Deno.readFile(path);
    if (bytes.length > 0) await Deno.writeFile(path, bytes.subarray(0, bytes.length - 1));
  }
}

Deno.test({
  name: `sort -m and merge match LC_ALL=C sort -m on random inputs${gnuSkipReason}`,
  ignore: !gnuSortAvailable,
  async fn() {
    const random = makeRandom(11);
    for (const flags of flagSets) {
      for (const budget of budgets) {
        const work = await makeWorkDir();
        try {
          const terminator = flags.includes("-z") ? 0 : 10;
          const files: string[] = [];
          const inputCount = 1 + Math.floor(random() * 5);
          for (let i = 0; i < inputCount; i += 1) {
            files.push(work.path(`in${i}`));
            await writeInput(work.path(`in${i}`), random, { flags, terminator });
          }
          const expected = await gnuSort(["-m", ...flags, ...files]);
          strictEqual(expected.code, 0, expected.stderr);
          for (const command of [["sort", "-m"], ["merge"]]) {
            const out = work.path("out");
            const args = [...command, ...flags, ...budget, "-T", work.spill, "-o", out, ...files];
            strictEqual(await runCli(args), 0, args.join(" "));
            const actual = await Deno.readFile(out);
            strictEqual(Buffer.compare(actual, expected.stdout), 0, args.join(" "));
          }
        } finally {
          await work.remove();
        }
      }
    }
  },
});

Deno.test({
  name: `sort -m and merge read standard input among sorted files${gnuSkipReason}`,
  ignore: !gnuSortAvailable,
  async fn() {
    const work = await makeWorkDir();
    try {
      await Deno.writeTextFile(work.path("a"), "b\nd\nf\n");
      await Deno.writeTextFile(work.path("b"), "a\nc\ne");
      const expected = "a\nb\nc\nc\nd\ne\ne\nf\n";
      for (const command of [["sort", "-m"], ["merge"]]) {
        const child = new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            SPILLWAY_MAIN,
            ...command,
            "-S",
            "1m",
            work.path("a"),
            "-",
            work.path("b"),
          ],
          stdin: "piped",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const writer = child.stdin.getWriter();
        await writer.write(new TextEncoder().encode("c\ne\n"));
        await writer.close();
        const { code, stdout, stderr } = await child.output();
        strictEqual(code, 0, new TextDecoder().decode(stderr));
        strictEqual(new TextDecoder().decode(stdout), expected);
      }
    } finally {
      await work.remove();
    }
  },
});

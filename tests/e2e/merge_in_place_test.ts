/**
 * A streaming merge whose output is also an input (issue 13): an output written in place (a
 * hard-linked file, a file in a directory spillway cannot write, `/dev/fd/N`) is truncated when
 * the output starts, while the merge still reads it. GNU sort copies such an input first; so
 * does spillway. `LC_ALL=C sort -m` is the oracle.
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { SPILLWAY_MAIN, SPILLWAY_PERMISSIONS } from "../_support/cli.ts";
import { gnuSkipReason, gnuSort, gnuSortAvailable } from "../sort/_gnu.ts";

const ignore = !gnuSortAvailable;

/** `count` sorted numbers from `first`, step 2, zero-padded: sorted in byte order. */
function numbers(first: number, count: number): string {
  let text = "";
  for (let i = 0; i < count; i += 1) text += `${String(first + 2 * i).padStart(7, "0")}\n`;
  return text;
}

const SPILLWAY = [Deno.execPath(), "run", "--quiet", ...SPILLWAY_PERMISSIONS, SPILLWAY_MAIN].join(
  " ",
);

/**
 * Runs a bash command line in `dir` (`$SPILLWAY` is the shipped command), killed after 30 s:
 * reading an input that is being overwritten can go on until the disk is full (it reads what
 * it writes).
 */
async function shell(dir: string, script: string): Promise<{ code: number; stderr: string }> {
  const child = new Deno.Command("bash", {
    // Files of at most 8 MiB: a merge that reads what it writes fails fast instead of filling
    // the disk.
    args: ["-c", `exec ${script}`],
    cwd: dir,
    env: { SPILLWAY },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const output = await child.output();
  clearTimeout(killer);
  return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
}

/** Compares big outputs without asking assert for a diff (slow on ~1 MB arrays). */
function sameBytes(actual: Uint8Array, expected: Uint8Array, message: string): void {
  strictEqual(actual.length, expected.length, `${message}: output length`);
  strictEqual(actual.every((byte, i) => byte === expected[i]), true, `${message}: output bytes`);
}

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "spillway-merge-in-place-test-" });
  try {
    await Deno.mkdir(`${dir}/spill`);
    await body(dir);
  } finally {
    await Deno.chmod(dir, 0o700).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

const cases: ReadonlyArray<{ name: string; argv: string[]; gnu: string[] }> = [
  {
    name: "sort -m -o a a b",
    argv: ["sort", "-m", "-o", "a", "a", "b"],
    gnu: ["-m", "a", "b"],
  },
  {
    name: "sort -m -o a b a a",
    argv: ["sort", "-m", "-o", "a", "b", "a", "a"],
    gnu: ["-m", "b", "a", "a"],
  },
  {
    name: "sort -m --batch-size 2 -S 64k -o a b c a",
    argv: ["sort", "-m", "--batch-size", "2", "-S", "64k", "-o", "a", "b", "c", "a"],
    gnu: ["-m", "b", "c", "a"],
  },
  {
    name: "merge -o a a b",
    argv: ["merge", "-o", "a", "a", "b"],
    gnu: ["-m", "a", "b"],
  },
  {
    name: "merge -o a b a.link",
    argv: ["merge", "-o", "a", "b", "a.link"],
    gnu: ["-m", "b", "a"],
  },
];

Deno.test(
  "sort -m and merge with -o naming a hard-linked input merge it whole, like GNU" + gnuSkipReason,
  {
    ignore,
  },
  async () => {
    for (const { name, argv, gnu } of cases) {
      await withDir(async (dir) => {
        // Large enough that the output starts long before the input is read to its end.
        await Deno.writeTextFile(`${dir}/a`, numbers(1, 60_000));
        await Deno.writeTextFile(`${dir}/b`, numbers(2, 60_000));
        await Deno.writeTextFile(`${dir}/c`, numbers(3, 1_000));
        const expected = await gnuSort(
          gnu.map((word) => word.startsWith("-") ? word : `${dir}/${word}`),
        );
        strictEqual(expected.code, 0, expected.stderr);
        // A second name for `a`: its output is written in place, not renamed over it.
        await Deno.link(`${dir}/a`, `${dir}/a.link`);
        const result = await shell(dir, `$SPILLWAY ${argv.join(" ")} -T spill`);
        strictEqual(result.code, 0, `${name}: ${result.stderr}`);
        sameBytes(await Deno.readFile(`${dir}/a`), expected.stdout, name);
        strictEqual((await Deno.stat(`${dir}/a`)).nlink, 2, `${name}: the link is kept`);
        deepStrictEqual([...Deno.readDirSync(`${dir}/spill`)], [], `${name}: no temp file left`);
      });
    }
  },
);

Deno.test("sort -m -o /dev/fd/3 with fd 3 on an input merges it whole" + gnuSkipReason, {
  ignore,
}, async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/a`, numbers(1, 60_000));
    await Deno.writeTextFile(`${dir}/b`, numbers(2, 60_000));
    const expected = await gnuSort([`${dir}/a`, `${dir}/b`, "-m"]);
    const output = await shell(dir, "$SPILLWAY sort -m -T spill -o /dev/fd/3 a b 3<>a");
    strictEqual(output.code, 0, output.stderr);
    sameBytes(await Deno.readFile(`${dir}/a`), expected.stdout, "-o /dev/fd/3");
    deepStrictEqual([...Deno.readDirSync(`${dir}/spill`)], []);
  });
});

/**
 * A temp directory that fills up while the sort Worker writes a run file itself (the main
 * thread sorts, the Worker gathers and writes): exit 3 with the disk message, no output, and
 * nothing left in the temp directory. Checked on a small tmpfs in a private mount namespace
 * (root with CAP_SYS_ADMIN only, as the read-only temp dir test).
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { SPILLWAY_V8_FLAGS } from "../_support/compile.ts";
import { SPILLWAY_MAIN, SPILLWAY_PERMISSIONS } from "../_support/cli.ts";
import { randomLetterLines } from "../_support/random_letters.ts";

function canMountTmpfs(): boolean {
  try {
    return new Deno.Command("unshare", {
      args: ["-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt && touch /mnt/x"],
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
  } catch {
    return false;
  }
}

const mountable = Deno.uid() === 0 && canMountTmpfs();

/**
 * Runs `spillway sort -S budget -T tmp -o output input` in a private mount namespace with
 * `mountPoint` (made here) a fresh tmpfs of `tmpfsSize`; `left` lists what stayed in it.
 */
async function sortWithTmpfs(options: {
  tmpfsSize: string;
  mountPoint: string;
  tmp: string;
  input: string;
  output: string;
  budget: string;
  env?: Record<string, string>;
}) {
  const { tmpfsSize, mountPoint, tmp, input, output, budget } = options;
  await Deno.mkdir(mountPoint);
  const result = await new Deno.Command("unshare", {
    args: [
      "-m",
      "sh",
      "-c",
      // The sort's exit code, after listing what it left in the tmpfs (on stdout).
      `mount -t tmpfs -o size=${tmpfsSize} tmpfs "$1" || exit 99; t="$1"; shift; "$@"; c=$?; ls -A "$t"; exit $c`,
      "sh",
      mountPoint,
      Deno.execPath(),
      "run",
      "--quiet",
      ...SPILLWAY_PERMISSIONS,
      `--v8-flags=${SPILLWAY_V8_FLAGS}`,
      SPILLWAY_MAIN,
      "sort",
      "-S",
      budget,
      "-T",
      tmp,
      "-o",
      output,
      input,
    ],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...options.env },
  }).output();
  const decoder = new TextDecoder();
  return {
    code: result.code,
    stderr: decoder.decode(result.stderr),
    left: decoder.decode(result.stdout).trim(),
  };
}

/** Sorts `input` to `output` with a temp dir on a fresh tmpfs of `tmpfsSize`. */
function sortOnTmpfs(
  tmpfsSize: string,
  dir: string,
  input: string,
  output: string,
  budget = "16m",
) {
  const tmp = `${dir}/tmp`;
  return sortWithTmpfs({ tmpfsSize, mountPoint: tmp, tmp, input, output, budget });
}

Deno.test("sort: a temp dir that fills while the Worker writes a run is exit 3, no output", {
  ignore: !mountable,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "spillway-full-" });
  try {
    const input = `${dir}/in.txt`;
    await Deno.writeFile(input, randomLetterLines(24 << 20, 7));
    const output = `${dir}/out.txt`;
    const full = await sortOnTmpfs("2m", dir, input, output);
    strictEqual(full.code, 3, full.stderr);
    const lines = full.stderr.trim().split("\n");
    strictEqual(lines.length, 1, full.stderr);
    ok(
      /^spillway: Cannot write .* of spill data to .*: ENOSPC .*point -T\/--tmp-dir elsewhere$/
        .test(lines[0]!),
      full.stderr,
    );
    strictEqual(full.left, "", "files left in the temp dir");
    deepStrictEqual([...Deno.readDirSync(dir)].map((entry) => entry.name).sort(), [
      "in.txt",
      "tmp",
    ]);
    // The same sort with room enough succeeds and matches GNU sort.
    await Deno.remove(`${dir}/tmp`);
    const roomy = await sortOnTmpfs("64m", dir, input, output);
    strictEqual(roomy.code, 0, roomy.stderr);
    strictEqual(roomy.left, "", "files left in the temp dir");
    const gnu = await new Deno.Command("sort", {
      args: [input],
      env: { LC_ALL: "C" },
      stdout: "piped",
    }).output();
    ok(gnu.success);
    deepStrictEqual(await Deno.readFile(output), gnu.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * Sorts `input` into `out/out.txt`, with `out/` a fresh tmpfs of `tmpfsSize` and the placed
 * final merge forced on (test seam), so that its key ranges' writes are the ones that fail.
 */
function sortPlacedOnTmpfs(tmpfsSize: string, dir: string, input: string) {
  const out = `${dir}/out`;
  return sortWithTmpfs({
    tmpfsSize,
    mountPoint: out,
    tmp: dir,
    input,
    output: `${out}/out.txt`,
    budget: "16m",
    env: { SPILLWAY_TEST_PLACED_MERGE_BYTES: "0" },
  });
}

Deno.test("sort -o: an output disk that fills in the placed merge names the write, exit 3", {
  ignore: !mountable,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "spillway-full-out-" });
  try {
    const input = `${dir}/in.txt`;
    await Deno.writeFile(input, randomLetterLines(24 << 20, 11));
    const full = await sortPlacedOnTmpfs("4m", dir, input);
    strictEqual(full.code, 3, full.stderr);
    const lines = full.stderr.trim().split("\n");
    strictEqual(lines.length, 1, full.stderr);
    ok(
      /^spillway: Cannot write .* to .*out\.txt: ENOSPC .*choose another -o$/.test(lines[0]!),
      full.stderr,
    );
    // The size of the write that failed, not "0 B" (the ranges' writes are whole pages).
    ok(!/Cannot write 0 B /.test(lines[0]!), full.stderr);
    strictEqual(full.left, "", "files left beside the output");
    deepStrictEqual([...Deno.readDirSync(dir)].map((entry) => entry.name).sort(), [
      "in.txt",
      "out",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  "sort -S 8m: a temp dir that fills while this thread writes the Worker's blocks is exit 3",
  {
    ignore: !mountable,
  },
  async () => {
    // At budgets this small the Worker sorts and hands its blocks to this thread to write: a
    // write that failed at once there escaped the message handler (an uncaught error, the
    // private temp dir left behind).
    const dir = await Deno.makeTempDir({ prefix: "spillway-full-" });
    try {
      const input = `${dir}/in.txt`;
      await Deno.writeFile(input, randomLetterLines(24 << 20, 9));
      const full = await sortOnTmpfs("2m", dir, input, `${dir}/out.txt`, "8m");
      strictEqual(full.code, 3, full.stderr);
      const lines = full.stderr.trim().split("\n");
      strictEqual(lines.length, 1, full.stderr);
      ok(/^spillway: Cannot write .* of spill data to .*: ENOSPC /.test(lines[0]!), full.stderr);
      strictEqual(full.left, "", "files left in the temp dir");
      deepStrictEqual([...Deno.readDirSync(dir)].map((entry) => entry.name).sort(), [
        "in.txt",
        "tmp",
      ]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

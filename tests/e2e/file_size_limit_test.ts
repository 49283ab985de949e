/**
 * `ulimit -f`: a write past the file size limit raises SIGXFSZ, whose default action ends the
 * process on the spot (temp files and a partial output left behind). A command ignores the
 * signal, so the write fails with EFBIG instead: one line naming the limit, exit 3, nothing left.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { SPILLWAY_V8_FLAGS } from "../_support/compile.ts";
import { SPILLWAY_MAIN, SPILLWAY_PERMISSIONS, spillwayDenoArgs } from "../_support/cli.ts";
import { randomLetterLines } from "../_support/random_letters.ts";
import { type PrivateDenoDir, privateDenoDir } from "../_support/deno_dir.ts";

/**
 * The limit the tests run under: 16 MiB (1 KiB blocks). Deno's own cache databases are written
 * under it too (as the runtime starts, and a checkpoint as it shuts down, after spillway's
 * signal listener is gone): the children use a private `DENO_DIR` whose databases hold only
 * spillway's modules, far under the limit, whatever the shared cache has grown to.
 */
const LIMIT_BLOCKS = 16 * 1024;
/**
 * Runs `spillway sort -S budget -T tmp -o out.txt in.txt` in `dir.work` under `ulimit -f` (1 KiB
 * blocks), after the same sort without the limit (a module analysed or emitted for the first
 * time is written to Deno's caches then, not under the limit).
 */
async function sortUnderLimit(dir: Dirs, budget: string, stdout = false) {
  const primed = await sortWithLimit(dir, "unlimited", budget, stdout);
  strictEqual(primed.code, 0, primed.stderr);
  dir.denoDir.assertFilesUnder(LIMIT_BLOCKS * 1024);
  await Deno.remove(`${dir.work}/out.txt`);
  return await sortWithLimit(dir, String(LIMIT_BLOCKS), budget, stdout);
}

/**
 * `out.txt` is written with `-o`, or (`stdout`) by standard output redirected to it (`>`), where
 * the writes are spillway's own, not the sort's output file.
 */
async function sortWithLimit(dir: Dirs, blocks: string, budget: string, stdout = false) {
  const result = await new Deno.Command("bash", {
    args: [
      "-c",
      stdout
        ? `ulimit -f ${blocks} && exec "$@" > out.txt`
        : `ulimit -f ${blocks} && exec "$@" -o out.txt`,
      "bash",
      Deno.execPath(),
      "run",
      "--quiet",
      "--no-code-cache",
      ...SPILLWAY_PERMISSIONS,
      `--v8-flags=${SPILLWAY_V8_FLAGS}`,
      SPILLWAY_MAIN,
      "sort",
      "-S",
      budget,
      "-T",
      "tmp",
      "in.txt",
    ],
    cwd: dir.work,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", DENO_DIR: dir.denoDir.path },
  }).output();
  return {
    code: result.code,
    signal: result.signal,
    stderr: new TextDecoder().decode(result.stderr),
  };
}

/** The sort's working directory, and the Deno cache directory its runtime uses. */
interface Dirs {
  work: string;
  denoDir: PrivateDenoDir;
}

async function inFreshDir(body: (dirs: Dirs) => Promise<void>): Promise<void> {
  const work = await Deno.makeTempDir({ prefix: "spillway-fsize-" });
  const denoDir = await privateDenoDir();
  try {
    await Deno.mkdir(`${work}/tmp`);
    await body({ work, denoDir });
  } finally {
    await Deno.remove(work, { recursive: true });
    await denoDir.remove();
  }
}

function names(path: string): string[] {
  return [...Deno.readDirSync(path)].map((entry) => entry.name).sort();
}

Deno.test("sort -o past ulimit -f: exit 3 with the limit named, no output, no temp file", async () => {
  await inFreshDir(async (dirs) => {
    // No spill at -S 256m: the output is what passes the limit.
    await Deno.writeFile(`${dirs.work}/in.txt`, randomLetterLines(24 << 20, 5));
    const result = await sortUnderLimit(dirs, "256m");
    strictEqual(result.signal, null, result.stderr);
    strictEqual(result.code, 3, result.stderr);
    const lines = result.stderr.trim().split("\n");
    strictEqual(lines.length, 1, result.stderr);
    ok(/^spillway: Cannot write .* to out\.txt: EFBIG .*raise ulimit -f/.test(lines[0]!), lines[0]);
    deepStrictEqual(names(dirs.work), ["in.txt", "tmp"]);
    deepStrictEqual(names(`${dirs.work}/tmp`), []);
  });
});

Deno.test("sort spilling past ulimit -f: exit 3 with the limit named, temp dir emptied", async () => {
  await inFreshDir(async (dirs) => {
    // Runs of ~20 MiB at -S 64m (written by the sort Worker): the first passes the limit.
    await Deno.writeFile(`${dirs.work}/in.txt`, randomLetterLines(64 << 20, 6));
    const result = await sortUnderLimit(dirs, "64m");
    strictEqual(result.signal, null, result.stderr);
    strictEqual(result.code, 3, result.stderr);
    const lines = result.stderr.trim().split("\n");
    strictEqual(lines.length, 1, result.stderr);
    ok(
      /^spillway: Cannot write .* of spill data to .*: EFBIG .*raise ulimit -f/.test(lines[0]!),
      lines[0],
    );
    deepStrictEqual(names(dirs.work), ["in.txt", "tmp"]);
    deepStrictEqual(names(`${dirs.work}/tmp`), []);
  });
});

Deno.test("sort > out.txt past ulimit -f: exit 3, not killed by SIGXFSZ as it exits", async () => {
  await inFreshDir(async (dirs) => {
    // Through Deno.stdout the bytes after the failed write's last newline stayed in the
    // runtime's line buffer, written again at exit: killed (exit 153) in a third to a half of
    // the runs.
    await Deno.writeFile(`${dirs.work}/in.txt`, randomLetterLines(24 << 20, 7));
    for (let run = 0; run < 10; run += 1) {
      const result = run === 0
        ? await sortUnderLimit(dirs, "256m", true)
        : await sortWithLimit(dirs, String(LIMIT_BLOCKS), "256m", true);
      strictEqual(result.signal, null, `run ${run}: ${result.stderr}`);
      strictEqual(result.code, 3, result.stderr);
      const lines = result.stderr.trim().split("\n");
      strictEqual(lines.length, 1, result.stderr);
      ok(
        /^spillway: Cannot write .* to standard output: EFBIG .*ulimit -f/.test(lines[0]!),
        lines[0],
      );
      deepStrictEqual(names(`${dirs.work}/tmp`), []);
      await Deno.remove(`${dirs.work}/out.txt`);
    }
  });
});

Deno.test("a running command ignores SIGXFSZ (the kernel drops it: no listener to miss it at exit)", async () => {
  // With a runtime listener instead, a signal handed to the listeners as the process exited met
  // the default action: the test above was killed in 1 run of 10 at load 12.
  const child = new Deno.Command(Deno.execPath(), {
    args: spillwayDenoArgs(["sort"]),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const sigxfszBit = 1n << 24n; // signal 25
  let ignored = false;
  try {
    for (let tries = 0; tries < 200 && !ignored; tries += 1) {
      // (Deno asks for --allow-all to read another process's /proc entry: cat reads it.)
      const cat = await new Deno.Command("cat", { args: [`/proc/${child.pid}/status`] }).output();
      const status = new TextDecoder().decode(cat.stdout);
      const mask = /^SigIgn:\s*([0-9a-f]+)$/m.exec(status)?.[1];
      ignored = mask !== undefined && (BigInt(`0x${mask}`) & sigxfszBit) !== 0n;
      if (!ignored) await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode("b\na\n"));
    await writer.close();
  }
  const result = await child.output();
  strictEqual(new TextDecoder().decode(result.stdout), "a\nb\n");
  strictEqual(result.code, 0, new TextDecoder().decode(result.stderr));
  ok(ignored, "SIGXFSZ is not in the running sort's SigIgn mask");
});

/**
 * `sort --compress-program=PROG` against `LC_ALL=C sort` as the oracle: spill runs written
 * through PROG and read back through `PROG -d`, with every run spilled (a 64 KiB budget),
 * multi-pass merges, and the failures: a PROG that is missing, one that fails, one without
 * `-d`, and a signal while PROG runs (no file, no process left behind).
 */
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { runSpillway, SPILLWAY_MAIN, SPILLWAY_PERMISSIONS } from "../_support/cli.ts";
import { waitForSignalHandler } from "../_support/signal_ready.ts";
import { gnuSkipReason, gnuSort, gnuSortAvailable, makeRandom, randomLines } from "../sort/_gnu.ts";

const ignore = !gnuSortAvailable;
const SMALL = ["-S", "64k", "--segment-size", "4k"];

/** A work dir with `in.txt` (random lines), a `spill` dir and helpers. */
async function withWork(
  lineCount: number,
  body: (work: { dir: string; input: string; spill: string }) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "spillway-compress-test-" });
  try {
    const input = `${dir}/in.txt`;
    await Deno.writeFile(input, randomLines(makeRandom(lineCount), lineCount, { maxLength: 40 }));
    await Deno.mkdir(`${dir}/spill`);
    await body({ dir, input, spill: `${dir}/spill` });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A shell script `name` in `dir`. */
async function script(dir: string, name: string, body: string): Promise<string> {
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(path, `#!/bin/sh\n${body}\n`);
  await Deno.chmod(path, 0o755);
  return path;
}

Deno.test("sort --compress-program=gzip spills compressed runs, output as GNU's" + gnuSkipReason, {
  ignore,
}, async () => {
  await withWork(12_000, async ({ dir, input, spill }) => {
    // Counts the runs gzip compressed and decompressed, then is gzip.
    const counting = await script(
      dir,
      "counting-gzip",
      `echo "call$1" >> '${dir}/calls'\nexec gzip "$@"`,
    );
    for (const extra of [[], ["--batch-size", "2"], ["-u", "-k", "2"]]) {
      const gnu = await gnuSort(["--compress-program=gzip", "-S", "64k", ...extra, input]);
      strictEqual(gnu.code, 0, gnu.stderr);
      await Deno.remove(`${dir}/calls`).catch(() => {});
      const out = `${dir}/out.txt`;
      const ours = await runSpillway([
        "sort",
        `--compress-program=${counting}`,
        ...SMALL,
        "-T",
        spill,
        "--stats=json",
        "--stats-file",
        `${dir}/stats.json`,
        ...extra,
        "-o",
        out,
        input,
      ]);
      strictEqual(ours.code, 0, ours.stderr);
      const output = await Deno.readFile(out);
      // Not deepStrictEqual: its diff of two long arrays takes minutes.
      strictEqual(output.length, gnu.stdout.length, `output length ${extra.join(" ")}`);
      ok(output.every((byte, i) => byte === gnu.stdout[i]), `output bytes ${extra.join(" ")}`);
      const stats = JSON.parse(await Deno.readTextFile(`${dir}/stats.json`));
      const runs = stats.spill.runs as number;
      ok(runs >= 4, `${runs} runs`);
      const calls = (await Deno.readTextFile(`${dir}/calls`)).split("\n").filter((l) => l);
      const compressed = calls.filter((call) => call === "call").length;
      const decompressed = calls.filter((call) => call === "call-d").length;
      // Every spill file (runs and intermediate merge outputs) went through gzip, and back.
      ok(compressed >= runs, `${compressed} compressed for ${runs} runs`);
      strictEqual(decompressed, compressed, extra.join(" "));
      deepStrictEqual([...Deno.readDirSync(spill)], []);
    }
  });
});

Deno.test("sort --compress-program fails like GNU when PROG is missing or fails" + gnuSkipReason, {
  ignore,
}, async () => {
  await withWork(12_000, async ({ dir, input, spill }) => {
    const noDecompress = await script(dir, "no-d", 'if [ "$1" = -d ]; then exit 1; fi\nexec cat');
    const cases: Array<[string, RegExp]> = [
      [`${dir}/missing`, /^spillway: Cannot run --compress-program .*\/missing: not found$/m],
      ["false", /'false' exited with status 1/],
      ["cat", /'cat -d' exited with status 1/], // cat has no -d: GNU fails the same way
      [noDecompress, /'.*no-d -d' exited with status 1/],
    ];
    for (const [program, message] of cases) {
      const gnu = await gnuSort([`--compress-program=${program}`, "-S", "64k", input]);
      ok(gnu.code !== 0, `GNU sort with ${program} exited ${gnu.code}`);
      const out = `${dir}/out.txt`;
      const ours = await runSpillway([
        "sort",
        `--compress-program=${program}`,
        ...SMALL,
        "-T",
        spill,
        "-o",
        out,
        input,
      ]);
      strictEqual(ours.code, 2, `${program}: ${ours.stderr}`);
      match(ours.stderr, message);
      strictEqual(await Deno.stat(out).then(() => true, () => false), false, "no output");
      deepStrictEqual([...Deno.readDirSync(spill)], [], program);
    }
    // Nothing spills: PROG is never started, so a missing one is no error (GNU: the same).
    const small = `${dir}/small.txt`;
    await Deno.writeTextFile(small, "b\na\n");
    const gnu = await gnuSort([`--compress-program=${dir}/missing`, small]);
    const ours = await runSpillway(["sort", `--compress-program=${dir}/missing`, small]);
    strictEqual(ours.code, gnu.code);
    strictEqual(ours.stdout, new TextDecoder().decode(gnu.stdout));
    // Two different programs: a usage error in both.
    const both = await runSpillway(["sort", "--compress-program=gzip", "--compress-program=xz"]);
    strictEqual(both.code, 2);
    strictEqual((await gnuSort(["--compress-program=gzip", "--compress-program=xz"])).code, 2);
  });
});

Deno.test("sort --compress-program: SIGTERM while PROG runs leaves no file and no process", async () => {
  await withWork(12_000, async ({ dir, input, spill }) => {
    // A compressor that never reads: spillway blocks writing to it once the pipe is full.
    const stuck = await script(dir, "stuck", `echo $$ >> '${dir}/pids'\nexec sleep 60`);
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        ...SPILLWAY_PERMISSIONS,
        SPILLWAY_MAIN,
        "sort",
        `--compress-program=${stuck}`,
        ...SMALL,
        "-T",
        spill,
        "-o",
        `${dir}/out.txt`,
        input,
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    await waitForSignalHandler(child.pid, "SIGTERM");
    // Wait until the compressor runs (its pid is written).
    for (let i = 0; i < 500; i += 1) {
      if (await Deno.stat(`${dir}/pids`).then(() => true, () => false)) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    child.kill("SIGTERM");
    const status = await child.status;
    clearTimeout(killer);
    await child.stderr.cancel();
    strictEqual(status.code, 143);
    deepStrictEqual([...Deno.readDirSync(spill)], []);
    strictEqual(await Deno.stat(`${dir}/out.txt`).then(() => true, () => false), false);
    const pids = (await Deno.readTextFile(`${dir}/pids`)).split("\n").filter((l) => l);
    ok(pids.length >= 1);
    for (const pid of pids) {
      // Killed (and, its parent gone, reaped by init): no /proc entry is left for long.
      let alive = true;
      for (let i = 0; i < 100 && alive; i += 1) {
        alive = await Deno.stat(`/proc/${pid}`).then(() => true, () => false);
        if (alive) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      strictEqual(alive, false, `compressor ${pid} still exists`);
    }
  });
});

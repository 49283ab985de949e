/**
 * `ulimit -f`: a write past the file size limit raises SIGXFSZ, whose default action ends the
 * process on the spot (temp files and a partial output left behind). The IoManager hears the
 * signal, so the write fails with EFBIG instead: one line naming the limit, exit 3, nothing left.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { SPILLWAY_V8_FLAGS } from "../_support/compile.ts";
import { SPILLWAY_PERMISSIONS } from "../_support/cli.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** Seeded pseudo-random lines of 20-79 letters, about `bytes` long. */
function randomLines(bytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let state = seed >>> 0;
  let at = 0;
  while (at < bytes - 1) {
    const length = Math.min(bytes - 1 - at, 20 + (state % 60));
    for (let i = 0; i < length; i += 1) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      out[at + i] = 97 + ((state >>> 16) % 26);
    }
    out[at + length] = 10;
    at += length + 1;
  }
  out[bytes - 1] = 10;
  return out;
}

/**
 * Runs `spillway sort -S budget -T tmp -o out.txt in.txt` in `dir` under `ulimit -f blocks`
 * (1 KiB blocks). Deno's caches are databases larger than these limits, so the same sort runs
 * once without the limit first (a module analysed or emitted for the first time is written to
 * them), and the code cache is off.
 */
async function sortUnderLimit(dir: string, blocks: number, budget: string) {
  const primed = await sortWithLimit(dir, "unlimited", budget);
  strictEqual(primed.code, 0, primed.stderr);
  await Deno.remove(`${dir}/out.txt`);
  return await sortWithLimit(dir, String(blocks), budget);
}

async function sortWithLimit(dir: string, blocks: string, budget: string) {
  const result = await new Deno.Command("bash", {
    args: [
      "-c",
      `ulimit -f ${blocks} && exec "$@"`,
      "bash",
      Deno.execPath(),
      "run",
      "--quiet",
      "--no-code-cache",
      ...SPILLWAY_PERMISSIONS,
      `--v8-flags=${SPILLWAY_V8_FLAGS}`,
      MAIN,
      "sort",
      "-S",
      budget,
      "-T",
      "tmp",
      "-o",
      "out.txt",
      "in.txt",
    ],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return {
    code: result.code,
    signal: result.signal,
    stderr: new TextDecoder().decode(result.stderr),
  };
}

async function inFreshDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "spillway-fsize-" });
  try {
    await Deno.mkdir(`${dir}/tmp`);
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function names(path: string): string[] {
  return [...Deno.readDirSync(path)].map((entry) => entry.name).sort();
}

Deno.test("sort -o past ulimit -f: exit 3 with the limit named, no output, no temp file", async () => {
  await inFreshDir(async (dir) => {
    await Deno.writeFile(`${dir}/in.txt`, randomLines(3 << 20, 5));
    const result = await sortUnderLimit(dir, 1024, "64m");
    strictEqual(result.signal, null, result.stderr);
    strictEqual(result.code, 3, result.stderr);
    const lines = result.stderr.trim().split("\n");
    strictEqual(lines.length, 1, result.stderr);
    ok(/^spillway: Cannot write .* to out\.txt: EFBIG .*raise ulimit -f/.test(lines[0]!), lines[0]);
    deepStrictEqual(names(dir), ["in.txt", "tmp"]);
    deepStrictEqual(names(`${dir}/tmp`), []);
  });
});

Deno.test("sort spilling past ulimit -f: exit 3 with the limit named, temp dir emptied", async () => {
  await inFreshDir(async (dir) => {
    await Deno.writeFile(`${dir}/in.txt`, randomLines(12 << 20, 6));
    const result = await sortUnderLimit(dir, 2048, "8m");
    strictEqual(result.signal, null, result.stderr);
    strictEqual(result.code, 3, result.stderr);
    const lines = result.stderr.trim().split("\n");
    strictEqual(lines.length, 1, result.stderr);
    ok(
      /^spillway: Cannot write .* of spill data to .*: EFBIG .*raise ulimit -f/.test(lines[0]!),
      lines[0],
    );
    deepStrictEqual(names(dir), ["in.txt", "tmp"]);
    deepStrictEqual(names(`${dir}/tmp`), []);
  });
});

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { SPILLWAY_MAIN, SPILLWAY_PERMISSIONS } from "../_support/cli.ts";
import { SPILLWAY_V8_FLAGS } from "../_support/compile.ts";
import { privateDenoDir } from "../_support/deno_dir.ts";

// The placed final merge (key ranges written at their offsets by two threads) writes a regular
// file on standard output as well as a `-o` file: `> f` and `1<> f` from the offset the shell
// left, the offset moved past the output at the end; `>> f`, a pipe, /dev/null and a terminal
// keep the one-lane merge. The seam makes a small input take the placed merge; the timeline
// shows which merge ran. A failed output (past `ulimit -f`) is cut back to where it started.

// Expanded unquoted by bash: the words must hold no blanks.
const SPILLWAY = [
  Deno.execPath(),
  "run",
  "--quiet",
  ...SPILLWAY_PERMISSIONS,
  `--v8-flags=${SPILLWAY_V8_FLAGS}`,
  SPILLWAY_MAIN,
].join(" ");
const SORT = "$SPILLWAY sort --no-progress -S 8m -T tmp in.txt";

/**
 * ~10 MB of ASCII lines in no order (a fixed generator: enough for spilled runs the sort Worker
 * gathers at -S 8m), and the same sorted (UTF-16 order is byte order for ASCII).
 */
function corpus(): { input: Uint8Array; sorted: Uint8Array } {
  const lines: string[] = [];
  let x = 12345;
  for (let i = 0; i < 1_000_000; i += 1) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    lines.push(`w${(x >>> 7).toString(36)}${"x".repeat(x & 7)}\n`);
  }
  const encoder = new TextEncoder();
  const input = encoder.encode(lines.join(""));
  return { input, sorted: encoder.encode(lines.sort().join("")) };
}

const { input, sorted } = corpus();

function concat(...parts: Array<string | Uint8Array>): Uint8Array {
  const encoded = parts.map((part) =>
    typeof part === "string" ? new TextEncoder().encode(part) : part
  );
  const result = new Uint8Array(encoded.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of encoded) {
    result.set(part, at);
    at += part.length;
  }
  return result;
}

/**
 * Runs a bash command line in a fresh directory holding `in.txt`; returns the exit code, what
 * it printed, `out.txt` (if any) and whether a placed merge ran (the timeline's spans).
 */
async function shell(
  script: string,
  before?: Uint8Array,
  env: Record<string, string> = {},
): Promise<{ code: number; stderr: string; out: Uint8Array | undefined; placed: boolean }> {
  const dir = await Deno.makeTempDir({ prefix: "spillway-stdout-placed-test-" });
  try {
    await Deno.writeFile(`${dir}/in.txt`, input);
    await Deno.mkdir(`${dir}/tmp`);
    await Deno.mkdir(`${dir}/timeline`);
    if (before !== undefined) await Deno.writeFile(`${dir}/out.txt`, before);
    const output = await new Deno.Command("bash", {
      args: ["-c", script],
      cwd: dir,
      env: {
        SPILLWAY,
        NO_COLOR: "1",
        SPILLWAY_TEST_PLACED_MERGE_BYTES: "0",
        SPILLWAY_TIMELINE: `${dir}/timeline`,
        ...env,
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    let spans = "";
    for await (const entry of Deno.readDir(`${dir}/timeline`)) {
      spans += await Deno.readTextFile(`${dir}/timeline/${entry.name}`);
    }
    const out = await Deno.readFile(`${dir}/out.txt`).catch(() => undefined);
    return {
      code: output.code,
      stderr: new TextDecoder().decode(output.stderr),
      out,
      // A placed merge that failed records its bounds, not its whole span.
      placed: /\t(merge-placed|placed-bound)\t/.test(spans),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("sort > f: placed merge from the offset the shell left, offset past it after", async () => {
  const result = await shell(`{ printf HEAD; ${SORT}; printf TAIL; } > out.txt`);
  assertEquals(result.code, 0, result.stderr);
  assert(result.placed, "the placed merge wrote the regular file on stdout");
  assertEquals(result.out, concat("HEAD", sorted, "TAIL"));
});

Deno.test("sort 1<> f over a longer file: written at the offset, the rest kept", async () => {
  const old = new Uint8Array(input.length + 1000).fill(0x2e);
  const result = await shell(`{ printf HEAD; ${SORT}; printf TAIL; } 1<> out.txt`, old);
  assertEquals(result.code, 0, result.stderr);
  assert(result.placed, "the placed merge wrote the regular file on stdout");
  const written = concat("HEAD", sorted, "TAIL");
  assertEquals(result.out, concat(written, old.subarray(written.length)));
});

Deno.test("sort >> f (O_APPEND) keeps one lane and appends", async () => {
  const result = await shell(`{ printf HEAD; ${SORT}; printf TAIL; } >> out.txt`, concat("OLD"));
  assertEquals(result.code, 0, result.stderr);
  assert(!result.placed, "an appending stdout cannot be written at positions");
  assertEquals(result.out, concat("OLDHEAD", sorted, "TAIL"));
});

Deno.test("sort into a pipe and into /dev/null keeps one lane", async () => {
  const piped = await shell(`${SORT} | cat > out.txt`);
  assertEquals(piped.code, 0, piped.stderr);
  assert(!piped.placed, "a pipe has no positions");
  assertEquals(piped.out, sorted);
  const dropped = await shell(`${SORT} > /dev/null`);
  assertEquals(dropped.code, 0, dropped.stderr);
  assert(!dropped.placed, "/dev/null is no regular file");
});

/**
 * `script` run under `ulimit -f` 6 MiB: the ~10 MB output passes it, the spilled runs (~4 MiB
 * at -S 8m) do not. Deno's caches are a private DENO_DIR's (tests/_support/deno_dir.ts), without
 * the code cache (its database grows past a few MiB).
 */
async function shellUnderLimit(
  script: string,
  before?: Uint8Array,
  env: Record<string, string> = {},
) {
  const denoDir = await privateDenoDir();
  try {
    return await shell(`ulimit -f 6144 && ${script}`, before, {
      DENO_DIR: denoDir.path,
      SPILLWAY: SPILLWAY.replace(" run ", " run --no-code-cache "),
      ...env,
    });
  } finally {
    await denoDir.remove();
  }
}

/** `sort` between a HEAD and a TAIL printed into the same redirection; exits with sort's code. */
const BETWEEN = `{ printf HEAD; ${SORT}; code=$?; printf TAIL; exit $code; }`;

/** The one line a sort past the file size limit prints. */
const EFBIG_LINE = /^spillway: Cannot write .* to standard output: EFBIG .*ulimit -f[^\n]*\n$/;

Deno.test("sort > f failing in the placed merge cuts f back to where its output started", async () => {
  // The ranges were left at their places with holes between: 6 MiB of data in a 10 MB file.
  const result = await shellUnderLimit(`${BETWEEN} > out.txt`);
  assertEquals(result.code, 3, result.stderr);
  assert(EFBIG_LINE.test(result.stderr), result.stderr);
  assert(result.placed, "the placed merge wrote the regular file on stdout");
  assertEquals(result.out!.length, 8, "out.txt holds HEAD and TAIL only");
  assertEquals(result.out, concat("HEAD", "TAIL"));
});

Deno.test("sort > f failing in one lane cuts f and its offset back to where its output started", async () => {
  // The offset stayed past the bytes written: the shell's TAIL went there, after a hole.
  const result = await shellUnderLimit(`${BETWEEN} > out.txt`, undefined, {
    SPILLWAY_TEST_PLACED_MERGE_BYTES: "none",
  });
  assertEquals(result.code, 3, result.stderr);
  assert(EFBIG_LINE.test(result.stderr), result.stderr);
  assert(!result.placed, "the merge wrote standard output in one stream");
  assertEquals(result.out!.length, 8, "out.txt holds HEAD and TAIL only");
  assertEquals(result.out, concat("HEAD", "TAIL"));
});

Deno.test("sort 1<> f failing in the placed merge keeps the file's old length", async () => {
  // Cut back to the offset, never below what the file held: its old bytes past it stay.
  const old = new Uint8Array(1000).fill(0x2e);
  const result = await shellUnderLimit(`${BETWEEN} 1<> out.txt`, old);
  assertEquals(result.code, 3, result.stderr);
  assert(EFBIG_LINE.test(result.stderr), result.stderr);
  assert(result.placed, "the placed merge wrote the regular file on stdout");
  assertEquals(result.out!.length, old.length);
  assertEquals(result.out!.subarray(0, 8), concat("HEAD", "TAIL"));
});

Deno.test("sort >> f failing cuts f back to its length when the output started", async () => {
  const result = await shellUnderLimit(`${BETWEEN} >> out.txt`, concat("OLD"));
  // (Left at the limit, the file also ended the shell's `printf TAIL` by SIGXFSZ: exit 153.)
  assertEquals(result.out!.length, 11, "out.txt holds OLD, HEAD and TAIL only");
  assertEquals(result.code, 3, result.stderr);
  assert(EFBIG_LINE.test(result.stderr), result.stderr);
  assertEquals(result.out, concat("OLDHEAD", "TAIL"));
});

Deno.test("sort > f interrupted in the placed merge cuts f back to where its output started", async () => {
  // The ranges written by then stayed at their places, with holes between (SIGINT ends the
  // process without an abort); the merge Worker may still be writing one as the signal comes.
  const dir = await Deno.makeTempDir({ prefix: "spillway-stdout-placed-test-" });
  try {
    await Deno.writeFile(`${dir}/in.txt`, concat(input, input, input, input));
    await Deno.mkdir(`${dir}/tmp`);
    for (let attempt = 1;; attempt += 1) {
      const { code, out, stderr } = await interruptInMerge(dir);
      if (code === 0 && attempt < 5) continue; // the merge ended before the signal came
      assertEquals(code, 130, stderr);
      assertEquals(stderr, "", "a signal's exit prints nothing (the Worker's writes past the cut)");
      assertEquals(out.length, 4, `out.txt holds ${out.length} bytes, not HEAD only`);
      assertEquals(out, concat("HEAD"));
      assertEquals([...Deno.readDirSync(`${dir}/tmp`)], []);
      return;
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * Runs the placed merge of `in.txt` into `out.txt` after a HEAD on its descriptor (`exec`: the
 * child is spillway itself) and sends SIGINT once the merge has written past HEAD.
 */
async function interruptInMerge(
  dir: string,
): Promise<{ code: number; out: Uint8Array; stderr: string }> {
  const child = new Deno.Command("bash", {
    args: [
      "-c",
      `exec 3> out.txt; printf HEAD >&3; exec "$@" >&3`,
      "bash",
      ...SPILLWAY.split(" "),
      "sort",
      "--no-progress",
      "-S",
      "8m",
      "-T",
      "tmp",
      "in.txt",
    ],
    cwd: dir,
    env: { NO_COLOR: "1", SPILLWAY_TEST_PLACED_MERGE_BYTES: "0" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && sizeOf(`${dir}/out.txt`) <= 4 * 1024 * 1024) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  } finally {
    try {
      child.kill("SIGINT");
    } catch {
      // it has exited already
    }
  }
  const { code, stderr } = await child.output();
  return {
    code,
    out: await Deno.readFile(`${dir}/out.txt`),
    stderr: new TextDecoder().decode(stderr),
  };
}

/** The size of the file at `path`, 0 before it exists. */
function sizeOf(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch {
    return 0;
  }
}

/** `sort -o out.txt`, then the count of writeback spans in each timeline file on stderr. */
/** The count of writeback spans in each timeline file, on stderr, after `command`. */
function writebacks(command: string): string {
  return `${command}; code=$?; grep -h -c '\twriteback\t' timeline/* >&2; exit $code`;
}

Deno.test("the placed merge starts the early writeback into a temp file, not on stdout", async () => {
  const renamed = await shell(writebacks(`${SORT} -o out.txt`), concat("old\n"));
  assertEquals(renamed.code, 0, renamed.stderr);
  assert(renamed.placed);
  assertEquals(renamed.out, sorted);
  assert(sumCounts(renamed.stderr) > 0, "the rename over an old file finds it written out");
  const redirected = await shell(writebacks(`${SORT} > out.txt`));
  assertEquals(redirected.code, 0, redirected.stderr);
  assert(redirected.placed);
  assertEquals(redirected.out, sorted);
  assertEquals(sumCounts(redirected.stderr), 0, "no rename follows: nothing is written out early");
});

function sumCounts(text: string): number {
  return text.split("\n").filter((line) => line !== "").reduce(
    (sum, line) => sum + Number(line),
    0,
  );
}

Deno.test({
  name: "sort to a terminal keeps one lane",
  ignore: Deno.build.os !== "linux" || !hasScript(),
  fn: async () => {
    // `script` gives the command a pseudo-terminal as stdout and logs what it printed.
    const result = await shell(`script -qfec "${SORT}" out.txt > /dev/null`);
    assertEquals(result.code, 0, result.stderr);
    assert(!result.placed, "a terminal has no positions");
    const text = new TextDecoder().decode(result.out!).replaceAll("\r\n", "\n");
    assert(
      text.includes(new TextDecoder().decode(sorted)),
      "the sorted lines reached the terminal",
    );
  },
});

function hasScript(): boolean {
  try {
    return Deno.statSync("/usr/bin/script").isFile;
  } catch {
    return false;
  }
}

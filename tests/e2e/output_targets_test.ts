import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { runSpillway, SPILLWAY_MAIN, SPILLWAY_PERMISSIONS } from "../_support/cli.ts";
import { privateDenoDir } from "../_support/deno_dir.ts";

// Output targets in the shipped form (the `spillway` task's permissions): regular files are
// replaced atomically through symlinks, everything else is written in place, and a bad -o or
// --stats-file fails before any input is read.

// Expanded unquoted by bash: the words must hold no blanks.
const SPILLWAY = [Deno.execPath(), "run", "--quiet", ...SPILLWAY_PERMISSIONS, SPILLWAY_MAIN].join(
  " ",
);
const asRoot = Deno.uid() === 0;

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "spillway-targets-test-" });
  try {
    await body(dir);
  } finally {
    await Deno.chmod(dir, 0o700).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs a bash command line in `dir`; `$SPILLWAY` is the shipped command. */
async function shell(dir: string, script: string, env: Record<string, string> = {}) {
  const output = await new Deno.Command("bash", {
    args: ["-c", script],
    cwd: dir,
    env: { SPILLWAY, NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test("sort -o writes through a symlink and keeps it a symlink", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/in.txt`, "b\na\n");
    await Deno.symlink("in.txt", `${dir}/link.txt`);
    const result = await runSpillway(["sort", "-o", "link.txt", "in.txt"], { cwd: dir });
    strictEqual(result.code, 0, result.stderr);
    ok((await Deno.lstat(`${dir}/link.txt`)).isSymlink);
    strictEqual(await Deno.readTextFile(`${dir}/in.txt`), "a\nb\n");
    deepStrictEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["in.txt", "link.txt"]);
  });
});

Deno.test("sort -o keeps a hard link and a FIFO what they are", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/one.txt`, "b\na\n");
    await Deno.link(`${dir}/one.txt`, `${dir}/two.txt`);
    const linked = await runSpillway(["sort", "-o", "one.txt", "one.txt"], { cwd: dir });
    strictEqual(linked.code, 0, linked.stderr);
    strictEqual(await Deno.readTextFile(`${dir}/two.txt`), "a\nb\n");
    strictEqual((await Deno.stat(`${dir}/one.txt`)).nlink, 2);

    const fifo = await shell(
      dir,
      `mkfifo f && printf 'z\\ny\\n' > in.txt && { timeout 20 cat f > got.txt 2>/dev/null & } && ` +
        `$SPILLWAY sort -o f in.txt && wait && cat got.txt && test -p f`,
    );
    strictEqual(fifo.code, 0, fifo.stderr);
    strictEqual(fifo.stdout, "y\nz\n");
  });
});

Deno.test("sort -o a character device writes to it and leaves it a device", {
  ignore: !asRoot,
}, async () => {
  await withDir(async (dir) => {
    const result = await shell(
      dir,
      `mknod null c 1 3 && printf 'b\\na\\n' > in.txt && $SPILLWAY sort -o null in.txt && test -c null`,
    );
    strictEqual(result.code, 0, result.stderr);
    strictEqual(result.stderr, "");
  });
});

Deno.test("sort writes /dev/null, /dev/stdout, /dev/stderr, /dev/fd/3 and reads /dev/stdin", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/in.txt`, "b\na\n");
    const result = await shell(
      dir,
      `$SPILLWAY sort -o /dev/null in.txt && ` +
        `$SPILLWAY sort -o /dev/stdout in.txt && ` +
        `$SPILLWAY sort -o /dev/stderr in.txt 2>err.txt && ` +
        `$SPILLWAY sort -o /dev/fd/3 in.txt 3>fd3.txt && ` +
        `$SPILLWAY sort /dev/stdin < in.txt && ` +
        `$SPILLWAY sort --stats=json --stats-file /dev/stderr in.txt 2>stats.txt >/dev/null`,
    );
    strictEqual(result.code, 0, result.stderr);
    strictEqual(result.stdout, "a\nb\na\nb\n");
    strictEqual(await Deno.readTextFile(`${dir}/err.txt`), "a\nb\n");
    strictEqual(await Deno.readTextFile(`${dir}/fd3.txt`), "a\nb\n");
    strictEqual(JSON.parse(await Deno.readTextFile(`${dir}/stats.txt`)).exitCode ?? 0, 0);
  });
});

Deno.test("a bad -o or --stats-file fails with exit 2 before any input is read", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/in.txt`, "b\na\n");
    await Deno.symlink("loop2", `${dir}/loop1`);
    await Deno.symlink("loop1", `${dir}/loop2`);
    const cases: Array<[string[], string]> = [
      [["-o", "in.txt/out"], "a component of the path is not a directory"],
      [["-o", "loop1"], "too many levels of symbolic links"],
      [["-o", "x".repeat(300)], "the file name is too long"],
      [["-o", ""], "Invalid -o: the path is empty"],
      [["-o", "nope/out.txt"], "its directory does not exist"],
      [
        ["--stats-file", "nope/stats.txt"],
        "its directory does not exist; choose another --stats-file",
      ],
      [["--stats-file", "in.txt/x"], "not a directory; choose another --stats-file"],
    ];
    for (const [args, expected] of cases) {
      // stdin stays open and empty: reading it first would hang until the timeout.
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "--quiet", ...SPILLWAY_PERMISSIONS, SPILLWAY_MAIN, "sort", ...args],
        cwd: dir,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(20_000),
      }).spawn();
      const output = await child.output().finally(() => child.stdin.close().catch(() => {}));
      const stderr = new TextDecoder().decode(output.stderr);
      strictEqual(output.code, 2, `${args.join(" ")}: ${stderr}`);
      strictEqual(stderr.split("\n").length, 2, stderr);
      ok(stderr.includes(expected), `${args.join(" ")}: ${stderr}`);
    }
    deepStrictEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
      ["in.txt", "loop1", "loop2"],
    );
  });
});

Deno.test("sort -o a hard-linked file that fails is left empty, not with a part", async () => {
  await withDir(async (dir) => {
    // 6 MB of lines sorted in memory at -S 256m; the 4 MiB file size limit fails the output.
    const lines: string[] = [];
    for (let i = 0; i < 600_000; i += 1) lines.push(`${(i * 7919) % 600_011}`.padStart(9, "0"));
    await Deno.writeTextFile(`${dir}/in.txt`, lines.join("\n") + "\n");
    await Deno.writeTextFile(`${dir}/one.txt`, "old\n");
    await Deno.link(`${dir}/one.txt`, `${dir}/two.txt`);
    const denoDir = await privateDenoDir(); // Deno's caches under the limit: deno_dir.ts
    try {
      // A run without the limit first: the new cache gets the modules emitted.
      const script = `$SPILLWAY sort -o /dev/null in.txt && ulimit -f 4096 && ` +
        `$SPILLWAY sort -S 256m -o one.txt in.txt`;
      const spillway = SPILLWAY.replace(" run ", " run --no-code-cache ");
      const result = await shell(dir, script, { DENO_DIR: denoDir.path, SPILLWAY: spillway });
      strictEqual(result.code, 3, result.stderr);
      ok(
        /^spillway: Cannot write .* to one\.txt: EFBIG .*ulimit -f/.test(result.stderr),
        result.stderr,
      );
    } finally {
      await denoDir.remove();
    }
    strictEqual((await Deno.stat(`${dir}/two.txt`)).size, 0, "the 4 MiB part was left");
    strictEqual((await Deno.stat(`${dir}/one.txt`)).nlink, 2);
  });
});

Deno.test("sort -o a writable file in a directory it cannot write writes it in place", {
  ignore: !asRoot && Deno.build.os !== "linux",
}, async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/locked`);
    await Deno.writeTextFile(`${dir}/locked/f.txt`, "2\n1\n");
    await Deno.chmod(`${dir}/locked/f.txt`, 0o666);
    if (asRoot) await Deno.chown(`${dir}/locked`, 65534, 65534);
    await Deno.chmod(`${dir}/locked`, 0o555);
    // As root, drop the capabilities that bypass permissions (root stays root otherwise).
    const prefix = asRoot ? "setpriv --bounding-set=-dac_override,-dac_read_search,-fowner " : "";
    const result = await shell(dir, `${prefix}$SPILLWAY sort -o locked/f.txt locked/f.txt`);
    strictEqual(result.code, 0, result.stderr);
    strictEqual(await Deno.readTextFile(`${dir}/locked/f.txt`), "1\n2\n");
  });
});

/**
 * A stream closed at exec (`>&-`, `<&-`) reaches spillway as /dev/null opened read-write: the
 * Rust runtime under Deno reopens it so before any script runs. Nothing the process can read
 * tells that from a /dev/null the caller opened read-write (Python's `subprocess.DEVNULL`,
 * Node's `stdio: "ignore"`, `1<>/dev/null`): /proc/self/fdinfo shows the same flags, position,
 * mount and inode (standardStreamClosed, src/io/output_target.ts). GNU sort works with the
 * caller's /dev/null, so both work: the output is discarded, the input is empty. (Until
 * 2026-12 a read-write /dev/null was taken as closed, exit 2: that failed every Python or Node
 * caller that discards output.)
 */
Deno.test("stdout and stdin on /dev/null opened read-write (or closed) work", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/in.txt`, "b\na\n");
    const commands = ["sort in.txt", "sort --version", "count in.txt", "merge in.txt", "gen text"];
    for (const redirect of ["1<>/dev/null", ">&-", ">/dev/null"]) {
      for (const command of commands) {
        const result = await shell(dir, `$SPILLWAY ${command} ${redirect}`);
        strictEqual(result.code, 0, `${command} ${redirect}: ${result.stderr}`);
        strictEqual(result.stderr, "", `${command} ${redirect}`);
      }
    }
    for (const redirect of ["0<>/dev/null", "<&-", "</dev/null"]) {
      for (const command of ["sort", "count", "sort -m - in.txt"]) {
        const result = await shell(dir, `$SPILLWAY ${command} ${redirect}`);
        strictEqual(result.code, 0, `${command} ${redirect}: ${result.stderr}`);
        strictEqual(result.stdout, command === "sort -m - in.txt" ? "b\na\n" : "");
        strictEqual(result.stderr, "", `${command} ${redirect}`);
      }
    }
    const stats = await shell(dir, `$SPILLWAY sort --stats-file /dev/stderr in.txt 2<>/dev/null`);
    strictEqual(stats.code, 0, stats.stderr);
    strictEqual(stats.stdout, "a\nb\n");
  });
});

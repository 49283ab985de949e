import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { ResourceError } from "../../src/base/mod.ts";
import { MemoryManager } from "../../src/memory/mod.ts";
import { IoManager } from "../../src/io/mod.ts";
import { ioListFiles, ioWriteRun, openIoForTest, withIoTempDir } from "../_support/io_fixtures.ts";

const spillChild = new URL("../_support/io_spill_child.ts", import.meta.url).pathname;
const openSignalChild = new URL("../_support/io_open_signal_child.ts", import.meta.url)
  .pathname;
const decoder = new TextDecoder();

Deno.test("IoManager rejects a missing temp dir and a file as temp dir before any work", async () => {
  await withIoTempDir(async (dir) => {
    const memory = new MemoryManager({ budgetBytes: 1 << 20, segmentBytes: 4096 });
    await rejects(
      () => IoManager.open({ memory, tmpDirs: [dir, `${dir}/missing`], handleSignals: false }),
      (error: unknown) => {
        ok(error instanceof ResourceError);
        strictEqual(
          error.message,
          `Cannot use temp directory ${dir}/missing: it does not exist; create it or choose another -T/--tmp-dir`,
        );
        strictEqual(error.exitCode, 3);
        return true;
      },
    );
    await Deno.writeTextFile(`${dir}/file`, "");
    await rejects(
      () => IoManager.open({ memory, tmpDirs: [`${dir}/file`], handleSignals: false }),
      /Cannot use temp directory .*\/file: it is not a directory; choose another -T\/--tmp-dir/,
    );
    deepStrictEqual(ioListFiles(dir), ["file"]);
  });
});

/**
 * Whether a read-only tmpfs can be mounted in a private mount namespace (`unshare -m`): how the
 * read-only temp dir test checks as root, who writes anywhere a mode allows.
 */
function canMountReadOnly(): boolean {
  try {
    const probe = new Deno.Command("unshare", {
      args: ["-m", "sh", "-c", "mount -t tmpfs -o ro,size=64k tmpfs /mnt && ! touch /mnt/x"],
      stdout: "null",
      stderr: "null",
    }).outputSync();
    return probe.success;
  } catch {
    return false;
  }
}

const asRoot = Deno.uid() === 0;
const readOnlyMount = asRoot && canMountReadOnly();

Deno.test("IoManager reports a read-only temp dir (mode 0500, as a user)", {
  ignore: asRoot, // root writes whatever the mode says; the read-only mount test covers root
}, async () => {
  await withIoTempDir(async (dir) => {
    const memory = new MemoryManager({ budgetBytes: 1 << 20, segmentBytes: 4096 });
    await Deno.chmod(dir, 0o500);
    try {
      await rejects(
        () => IoManager.open({ memory, tmpDirs: [dir], handleSignals: false }),
        /Cannot use temp directory .*: it is not writable; choose another -T\/--tmp-dir/,
      );
    } finally {
      await Deno.chmod(dir, 0o700);
    }
  });
});

Deno.test("IoManager reports a read-only temp dir (a read-only tmpfs, as root)", {
  // Only root can mount; a root without CAP_SYS_ADMIN (some containers) cannot either.
  ignore: !readOnlyMount,
}, async () => {
  await withIoTempDir(async (dir) => {
    const child = new URL("../_support/io_readonly_child.ts", import.meta.url).pathname;
    const output = await new Deno.Command("unshare", {
      args: [
        "-m",
        "sh",
        "-c",
        `mount -t tmpfs -o ro,size=64k tmpfs "$1" && exec "$2" run -A "$3" "$1"`,
        "sh",
        dir,
        Deno.execPath(),
        child,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = decoder.decode(output.stdout).trim();
    strictEqual(output.success, true, decoder.decode(output.stderr));
    ok(
      /^ResourceError: Cannot use temp directory .*: (it is not writable|Read-only file system.*); choose another -T\/--tmp-dir$/
        .test(stdout),
      stdout,
    );
    deepStrictEqual(ioListFiles(dir), []);
  });
});

Deno.test("IoManager sweeps private dirs whose owner lock is free and keeps live ones", async () => {
  await withIoTempDir(async (dir) => {
    // A dead pid with a free lock goes; a dead-looking pid whose lock is held (a live process
    // in another PID namespace) stays, as do a dir without a lock and a dir of another user.
    const dead = `${dir}/spillway-4194999-abc123`;
    const live = `${dir}/spillway-4194998-def456`;
    const unlocked = `${dir}/spillway-4194997-aaa111`;
    const foreign = `${dir}/spillway-4194996-bbb222`;
    const other = `${dir}/spillway-notes`;
    for (const path of [dead, live, unlocked, foreign, other]) {
      await Deno.mkdir(path);
      await Deno.writeTextFile(`${path}/x.spill`, "data");
      if (path !== unlocked) await Deno.writeTextFile(`${path}/owner.lock`, "");
    }
    const liveLock = await Deno.open(`${live}/owner.lock`, { read: true });
    liveLock.lockSync(true);
    const asRoot = Deno.uid() === 0;
    if (asRoot) await Deno.chown(foreign, 65534, 65534);
    // A symlink to a stale-looking dir is never followed.
    const target = await Deno.makeTempDir({ prefix: "spillway-io-test-target-" });
    await Deno.writeTextFile(`${target}/owner.lock`, "");
    await Deno.symlink(target, `${dir}/spillway-4194995-ccc333`);
    try {
      const { memory, io } = await openIoForTest(dir);
      const names = ioListFiles(dir);
      ok(!names.includes("spillway-4194999-abc123/"), names.join(","));
      ok(names.includes("spillway-4194998-def456/x.spill"), names.join(","));
      ok(names.includes("spillway-4194997-aaa111/x.spill"));
      if (asRoot) ok(names.includes("spillway-4194996-bbb222/x.spill"));
      ok(names.includes("spillway-notes/x.spill"));
      ok(names.includes("spillway-4194995-ccc333"));
      deepStrictEqual([...Deno.readDirSync(target)].map((entry) => entry.name), ["owner.lock"]);
      await io.close();
      memory.assertAllReleased();
    } finally {
      liveLock.close();
      await Deno.remove(target, { recursive: true });
    }
  });
});

Deno.test("IoManager locks its private dir before it takes its sweepable name; old unlocked claims are swept", async () => {
  await withIoTempDir(async (dir) => {
    // A claim dir (`.spillway-new-*`) is what a process creates before it holds the lock: a
    // young one is left alone (its owner may be about to lock it), an old free one is swept.
    const young = `${dir}/.spillway-new-4194999-abc123`;
    const old = `${dir}/.spillway-new-4194998-def456`;
    for (const path of [young, old]) {
      await Deno.mkdir(path);
      await Deno.writeTextFile(`${path}/owner.lock`, "");
    }
    const hourAgo = new Date(Date.now() - 3_600_000);
    await Deno.utime(old, hourAgo, hourAgo);
    const { memory, io } = await openIoForTest(dir);
    try {
      const names = ioListFiles(dir);
      ok(names.some((name) => name.startsWith(".spillway-new-4194999-abc123")), names.join(","));
      ok(!names.some((name) => name.startsWith(".spillway-new-4194998-def456")), names.join(","));
      // This process's dir has its final name, no claim of its own is left, and its lock is
      // held (a sweep's try-lock fails).
      ok(!names.some((name) => name.startsWith(`.spillway-new-${Deno.pid}-`)), names.join(","));
      const own = [...Deno.readDirSync(dir)].filter((entry) =>
        entry.name.startsWith(`spillway-${Deno.pid}-`)
      );
      strictEqual(own.length, 1);
      const probe = await Deno.open(`${dir}/${own[0]!.name}/owner.lock`, { read: true });
      try {
        strictEqual(probe.tryLockSync(true), false);
      } finally {
        probe.close();
      }
    } finally {
      await io.close();
    }
    memory.assertAllReleased();
  });
});

Deno.test("IoManager sweeps stale dirs without --allow-all", async () => {
  await withIoTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/spillway-4194999-abc123`);
    await Deno.writeTextFile(`${dir}/spillway-4194999-abc123/x.spill`, "data");
    await Deno.writeTextFile(`${dir}/spillway-4194999-abc123/owner.lock`, "");
    await Deno.mkdir(`${dir}/spillway-1-def456`);
    const result = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-ffi",
        spillChild,
        dir,
        "fast",
        "10000",
        "file",
      ],
      stderr: "piped",
      stdout: "null",
    }).output();
    strictEqual(result.code, 0, decoder.decode(result.stderr));
    deepStrictEqual(ioListFiles(dir), ["spillway-1-def456/"]);
  });
});

Deno.test("IoManager installs and removes its signal handlers", async () => {
  await withIoTempDir(async (dir) => {
    const memory = new MemoryManager({ budgetBytes: 1 << 20, segmentBytes: 4096 });
    const io = await IoManager.open({ memory, tmpDirs: [dir] });
    const run = await ioWriteRun(io, [new Uint8Array(10)]);
    ok(run.path.startsWith(dir));
    await io.close();
    await io.close();
    memory.assertAllReleased();
    deepStrictEqual(ioListFiles(dir), []);
  });
});

Deno.test("IoManager removes a private directory it was making when SIGTERM arrives", async () => {
  // The signal is sent the moment the claim directory (or the renamed one) appears: the
  // handlers must be in place before the first directory is made.
  await withIoTempDir(async (dir) => {
    const result = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", openSignalChild, dir],
      stdout: "null",
      stderr: "piped",
    }).output();
    strictEqual(result.code, 143, decoder.decode(result.stderr));
    deepStrictEqual(ioListFiles(dir), []);
  });
});

Deno.test("IoManager uses $TMPDIR when no temp dir is given", async () => {
  // In a child process: TMPDIR is process-wide and other test modules run in parallel.
  await withIoTempDir(async (dir) => {
    const ioModule = new URL("../../src/io/mod.ts", import.meta.url).href;
    const memoryModule = new URL("../../src/memory/mod.ts", import.meta.url).href;
    const script = `
      const { IoManager } = await import(${JSON.stringify(ioModule)});
      const { MemoryManager } = await import(${JSON.stringify(memoryModule)});
      const memory = new MemoryManager({ budgetBytes: 1 << 20, segmentBytes: 4096 });
      const io = await IoManager.open({ memory, handleSignals: false });
      console.log(io.privateDirs[0] + " " + Deno.pid);
      await io.close();
      memory.assertAllReleased();
    `;
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--quiet", script],
      env: { TMPDIR: dir },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    strictEqual(output.code, 0, stderr);
    const [privateDir, pid] = new TextDecoder().decode(output.stdout).trim().split(" ");
    ok(privateDir!.startsWith(`${dir}/spillway-${pid}-`), privateDir);
    deepStrictEqual(ioListFiles(dir), []);
  });
});

for (const [signal, exitCode] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const) {
  Deno.test(`IoManager removes its files and exits ${exitCode} on ${signal} mid-spill`, async () => {
    await withIoTempDir(async (dir) => {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", spillChild, dir, "slow"],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const reader = child.stdout.getReader();
      let seen = "";
      while (!seen.includes("spilling")) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += decoder.decode(value);
      }
      reader.releaseLock();
      strictEqual(seen.trim(), "spilling");
      const names = ioListFiles(dir);
      ok(names.some((name) => /\/child\.\d{6}\.spill$/.test(name)), names.join(","));
      ok(names.some((name) => /\/sibling\.\d{6}\.spill$/.test(name)), names.join(","));
      ok(names.some((name) => /^\.out\.txt\.spillway-\d+-\w+\.tmp$/.test(name)), names.join(","));
      child.kill(signal);
      const status = await child.output();
      strictEqual(status.code, exitCode, decoder.decode(status.stderr));
      deepStrictEqual(ioListFiles(dir), []);
    });
  });
}

Deno.test("IoManager turns a real EFBIG (ulimit -f) into SpillDiskError and cleans up", async () => {
  await withIoTempDir(async (dir) => {
    // SIGXFSZ is ignored so the write fails with EFBIG instead of killing the child.
    const script =
      `trap '' XFSZ; ulimit -f 512; exec "${Deno.execPath()}" run -A "${spillChild}" "${dir}" fast 4194304`;
    const result = await new Deno.Command("bash", { args: ["-c", script], stderr: "piped" })
      .output();
    const stderr = decoder.decode(result.stderr).trim();
    strictEqual(result.code, 3, stderr);
    ok(stderr.startsWith(`SpillDiskError: Cannot write `), stderr);
    ok(stderr.includes(` of spill data to ${dir}: EFBIG`), stderr);
    ok(stderr.endsWith("free space there or point -T/--tmp-dir elsewhere"), stderr);
    deepStrictEqual(ioListFiles(dir), []);
  });
});

Deno.test("IoManager refuses --spill mmap without FFI and falls back to file for auto", async () => {
  await withIoTempDir(async (dir) => {
    const run = (mode: string) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-read",
          "--allow-write",
          "--allow-env",
          spillChild,
          dir,
          "fast",
          "100000",
          mode,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
    const mmap = await run("mmap");
    strictEqual(mmap.code, 2);
    strictEqual(
      decoder.decode(mmap.stderr).trim(),
      "UsageError: Cannot use --spill mmap: mmap spilling needs the --allow-ffi permission; use --spill file",
    );
    const auto = await run("auto");
    strictEqual(auto.code, 0, decoder.decode(auto.stderr));
    ok(decoder.decode(auto.stdout).startsWith("spilled "));
    deepStrictEqual(ioListFiles(dir), []);
  });
});

Deno.test("IoManager mmap spill works on the real disk path and reports EFBIG from fallocate", async () => {
  await withIoTempDir(async (dir) => {
    const script =
      `trap '' XFSZ; ulimit -f 512; exec "${Deno.execPath()}" run -A "${spillChild}" "${dir}" fast 4194304 mmap`;
    const result = await new Deno.Command("bash", { args: ["-c", script], stderr: "piped" })
      .output();
    const stderr = decoder.decode(result.stderr).trim();
    strictEqual(result.code, 3, stderr);
    ok(stderr.includes(` of spill data to ${dir}: EFBIG`), stderr);
    deepStrictEqual(ioListFiles(dir), []);
  });
});

import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { ResourceError, UsageError } from "../../src/base/mod.ts";
import { SpillDiskError } from "../../src/io/errors.ts";
import { ioListFiles, openIoForTest, withIoTempDir } from "../_support/io_fixtures.ts";

const encoder = new TextEncoder();
const childScript = new URL("../_support/io_cat_child.ts", import.meta.url).pathname;

Deno.test("OutputSink renames its temp file over the target on commit", async () => {
  await withIoTempDir(async (dir) => {
    const { memory, io } = await openIoForTest(dir, { segmentBytes: 4096 });
    const target = `${dir}/out.txt`;
    await Deno.writeTextFile(target, "old\n");
    await Deno.chmod(target, 0o640);
    const sink = await io.createOutput(target, { bufferSegments: 1 });
    const big = new Uint8Array(10_000).fill(120);
    const parts = [encoder.encode("a\n"), big, encoder.encode("\n")];
    for (const part of parts) {
      const pending = sink.write(part, 0, part.length);
      if (pending) await pending;
    }
    for (let i = 0; i < 5000; i += 1) {
      const pending = sink.writeByte(i % 2 === 0 ? 121 : 10);
      if (pending) await pending;
    }
    strictEqual(sink.bytesWritten, 2 + 10_000 + 1 + 5000);
    // Until commit the target is untouched and the temp file sits beside it.
    strictEqual(await Deno.readTextFile(target), "old\n");
    strictEqual(ioListFiles(dir).filter((name) => name.endsWith(".tmp")).length, 1);
    await sink.commit();
    const written = await Deno.readFile(target);
    strictEqual(written.length, sink.bytesWritten);
    strictEqual(written[2], 120);
    strictEqual((await Deno.stat(target)).mode! & 0o777, 0o640);
    await io.close();
    memory.assertAllReleased();
    deepStrictEqual(ioListFiles(dir), ["out.txt"]);
  });
});

Deno.test("OutputSink's commit replaces the old target: a reader keeps the old bytes, none is left", async () => {
  await withIoTempDir(async (dir) => {
    const { memory, io } = await openIoForTest(dir, { segmentBytes: 4096 });
    const target = `${dir}/out.txt`;
    const old = new Uint8Array(300_000).fill(111);
    await Deno.writeFile(target, old);
    using reader = await Deno.open(target);
    const sink = await io.createOutput(target, { bufferSegments: 1 });
    const fresh = new Uint8Array(200_000).fill(110);
    const pending = sink.write(fresh, 0, fresh.length);
    if (pending) await pending;
    await sink.commit();
    deepStrictEqual(await Deno.readFile(target), fresh);
    // The old file is unlinked (its name is gone) but stays whole for whoever has it open.
    const kept = new Uint8Array(old.length);
    let done = 0;
    while (done < kept.length) done += (await reader.read(kept.subarray(done)))!;
    deepStrictEqual(kept, old);
    strictEqual((await reader.stat()).nlink, 0);
    await io.close();
    memory.assertAllReleased();
    deepStrictEqual(ioListFiles(dir), ["out.txt"]);
  });
});

Deno.test("OutputSink abort leaves the old target untouched and removes the temp file", async () => {
  await withIoTempDir(async (dir) => {
    const { memory, io } = await openIoForTest(dir);
    const target = `${dir}/out.txt`;
    await Deno.writeTextFile(target, "keep me\n");
    const sink = await io.createOutput(target, { bufferSegments: 1 });
    const bytes = new Uint8Array(50_000).fill(65);
    const pending = sink.write(bytes, 0, bytes.length);
    if (pending) await pending;
    await sink.abort();
    await sink.abort();
    strictEqual(await Deno.readTextFile(target), "keep me\n");
    await io.close();
    memory.assertAllReleased();
    deepStrictEqual(ioListFiles(dir), ["out.txt"]);
  });
});

Deno.test("OutputSink may replace one of the inputs", async () => {
  await withIoTempDir(async (dir) => {
    const { memory, io } = await openIoForTest(dir);
    const path = `${dir}/data.txt`;
    const text = Array.from({ length: 3000 }, (_, i) => `line ${i}`).join("\n") + "\n";
    await Deno.writeTextFile(path, text);
    const reader = await io.openInput(path, { chunkSegments: 1 });
    const sink = await io.createOutput(path);
    for (;;) {
      const chunk = await reader.nextChunk();
      if (chunk === undefined) break;
      const pending = sink.write(chunk, 0, chunk.length);
      if (pending) await pending;
      const again = sink.write(chunk, 0, chunk.length);
      if (again) await again;
    }
    await reader.close();
    await sink.commit();
    strictEqual((await Deno.readTextFile(path)).length, 2 * text.length);
    await io.close();
    memory.assertAllReleased();
  });
});

Deno.test("OutputSink on a temp file (tempPath): a full disk names the -T directory, not -o", async () => {
  await withIoTempDir(async (dir) => {
    const fault = Object.assign(new Error("No space left on device (os error 28)"), {
      code: "ENOSPC",
    });
    const { memory, io } = await openIoForTest(dir, {
      faultInjection: { failAtOperation: 4, error: fault },
    });
    const sink = await io.createOutput(io.tempPath("count-floor"), { bufferSegments: 1 });
    const bytes = new Uint8Array(4000).fill(66);
    await rejects(async () => {
      for (let i = 0; i < 10; i += 1) {
        const pending = sink.write(bytes, 0, bytes.length);
        if (pending) await pending;
      }
    }, (error: unknown) => {
      ok(error instanceof SpillDiskError, String(error));
      ok(
        error.message.startsWith(`Cannot write 3.9 KiB of spill data to ${dir}: ENOSPC`),
        error.message,
      );
      ok(error.message.endsWith("point -T/--tmp-dir elsewhere"), error.message);
      return true;
    });
    memory.assertAllReleased();
    await io.close();
    deepStrictEqual(ioListFiles(dir), []);
  });
});

Deno.test("an output's disk error of no known size (a kernel copy, a commit) names no '0 B'", async () => {
  await withIoTempDir(async (dir) => {
    const fault = Object.assign(new Error("No space left on device (os error 28)"), {
      code: "ENOSPC",
    });
    const { memory, io } = await openIoForTest(dir);
    const target = `${dir}/out.txt`;
    const sink = await io.createOutput(target);
    const message = sink.writeError(0, fault).message;
    ok(message.startsWith(`Cannot write to ${target}: ENOSPC`), message);
    await sink.abort();
    memory.assertAllReleased();
    await io.close();
  });
});

Deno.test("OutputSink removes its temp file after an injected write error", async () => {
  await withIoTempDir(async (dir) => {
    const fault = Object.assign(new Error("No space left on device (os error 28)"), {
      code: "ENOSPC",
    });
    const { memory, io } = await openIoForTest(dir, {
      faultInjection: { failAtOperation: 3, error: fault },
    });
    const target = `${dir}/out.txt`;
    const sink = await io.createOutput(target, { bufferSegments: 1 });
    const bytes = new Uint8Array(4000).fill(66);
    await rejects(async () => {
      for (let i = 0; i < 10; i += 1) {
        const pending = sink.write(bytes, 0, bytes.length);
        if (pending) await pending;
      }
    }, (error: unknown) => {
      ok(error instanceof ResourceError, String(error));
      ok(error.message.startsWith(`Cannot write 3.9 KiB to ${target}: ENOSPC`), error.message);
      return true;
    });
    memory.assertAllReleased();
    const privateDir = `spillway-${Deno.pid}-${io.privateDirs[0]!.split("-").at(-1)}/`;
    deepStrictEqual(ioListFiles(dir), [privateDir, `${privateDir}owner.lock`]);
    await io.close();
    deepStrictEqual(ioListFiles(dir), []);
  });
});

Deno.test("OutputSink rejects a directory target and a missing directory", async () => {
  await withIoTempDir(async (dir) => {
    const { memory, io } = await openIoForTest(dir);
    await rejects(() => io.createOutput(dir), (error: unknown) => {
      ok(error instanceof UsageError);
      strictEqual(
        error.message,
        `Cannot write output ${dir}: it is a directory; choose a file path`,
      );
      return true;
    });
    await rejects(() => io.createOutput(`${dir}/nope/out.txt`), (error: unknown) => {
      ok(error instanceof UsageError);
      strictEqual(
        error.message,
        `Cannot create output ${dir}/nope/out.txt: its directory does not exist; choose another -o`,
      );
      return true;
    });
    await io.close();
    memory.assertAllReleased();
  });
});

Deno.test("OutputSink turns a closed stdout into OutputClosedError and cleans up", async () => {
  await withIoTempDir(async (dir) => {
    const input = `${dir}/big.txt`;
    const line = "x".repeat(99) + "\n";
    await Deno.writeTextFile(input, line.repeat(100_000));
    const result = await new Deno.Command("bash", {
      args: [
        "-c",
        `set -o pipefail; "${Deno.execPath()}" run -A "${childScript}" "${input}" - | head -c 100 > /dev/null`,
      ],
      env: { TMPDIR: dir },
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(result.stderr).trim();
    strictEqual(stderr, "closed");
    strictEqual(result.code, 0);
    deepStrictEqual(ioListFiles(dir), ["big.txt"]);
  });
});

Deno.test("OutputSink's temp file is 0600 while written; the final mode is set before the rename", async () => {
  await withIoTempDir(async (dir) => {
    const { memory, io } = await openIoForTest(dir);
    const target = `${dir}/out.txt`;
    await Deno.writeTextFile(target, "old\n");
    await Deno.chmod(target, 0o644);
    const sink = await io.createOutput(target, { bufferSegments: 1 });
    const bytes = new Uint8Array(10_000).fill(65);
    const pending = sink.write(bytes, 0, bytes.length);
    if (pending) await pending;
    const temp = ioListFiles(dir).find((name) => name.endsWith(".tmp"))!;
    strictEqual((await Deno.stat(`${dir}/${temp}`)).mode! & 0o777, 0o600);
    await sink.commit();
    strictEqual((await Deno.stat(target)).mode! & 0o777, 0o644);
    // A new target gets 0666 minus the umask, like any new file.
    const fresh = await io.createOutput(`${dir}/new.txt`);
    await fresh.commit();
    strictEqual((await Deno.stat(`${dir}/new.txt`)).mode! & 0o777, 0o666 & ~Deno.umask());
    await io.close();
    memory.assertAllReleased();
  });
});

Deno.test("OutputSink sweeps output temp files of dead writers, never live or foreign ones", async () => {
  await withIoTempDir(async (dir) => {
    const dead = `${dir}/.out.txt.spillway-4194999-abc123.tmp`;
    const live = `${dir}/.out.txt.spillway-4194998-def456.tmp`;
    const foreign = `${dir}/.out.txt.spillway-4194997-aaa111.tmp`;
    const other = `${dir}/.out.txt.notes.tmp`;
    for (const path of [dead, live, foreign, other]) await Deno.writeTextFile(path, "partial");
    if (Deno.uid() === 0) await Deno.chown(foreign, 65534, 65534);
    const target = await Deno.makeTempDir({ prefix: "spillway-io-test-target-" });
    await Deno.writeTextFile(`${target}/keep.txt`, "keep");
    await Deno.symlink(`${target}/keep.txt`, `${dir}/.x.spillway-4194996-ccc333.tmp`);
    const liveFile = await Deno.open(live, { read: true });
    liveFile.lockSync(true);
    try {
      const { memory, io } = await openIoForTest(dir);
      const sink = await io.createOutput(`${dir}/out.txt`);
      await sink.commit();
      await io.close();
      memory.assertAllReleased();
      const names = ioListFiles(dir);
      ok(!names.includes(".out.txt.spillway-4194999-abc123.tmp"), names.join(","));
      ok(names.includes(".out.txt.spillway-4194998-def456.tmp"));
      if (Deno.uid() === 0) ok(names.includes(".out.txt.spillway-4194997-aaa111.tmp"));
      ok(names.includes(".out.txt.notes.tmp"));
      ok(names.includes(".x.spillway-4194996-ccc333.tmp"));
      strictEqual(await Deno.readTextFile(`${target}/keep.txt`), "keep");
    } finally {
      liveFile.close();
      await Deno.remove(target, { recursive: true });
    }
  });
});

Deno.test("OutputSink's temp file is locked before it takes its sweepable name; old unlocked claims are swept", async () => {
  await withIoTempDir(async (dir) => {
    // A claim (`.tmp.new`) is what a writer creates before it holds the lock: a young one is
    // left alone (its writer may be about to lock it), an old one with a free lock is swept.
    const young = `${dir}/.out.txt.spillway-4194999-abc123.tmp.new`;
    const old = `${dir}/.out.txt.spillway-4194998-def456.tmp.new`;
    for (const path of [young, old]) await Deno.writeTextFile(path, "");
    const hourAgo = new Date(Date.now() - 3_600_000);
    await Deno.utime(old, hourAgo, hourAgo);
    const { memory, io } = await openIoForTest(dir);
    try {
      const sink = await io.createOutput(`${dir}/out.txt`);
      // While it is written, the temp file has its final name, no claim is left, and its
      // lock is held (a sweep's try-lock fails).
      const temps = ioListFiles(dir).filter((name) => name.startsWith(".out.txt.spillway-"));
      const own = temps.filter((name) => name.includes(`-${Deno.pid}-`));
      strictEqual(own.length, 1, temps.join(","));
      const temp = own[0]!;
      ok(temp.endsWith(".tmp"), temp);
      const probe = await Deno.open(`${dir}/${temp}`, { read: true });
      try {
        strictEqual(probe.tryLockSync(true), false);
      } finally {
        probe.close();
      }
      await sink.commit();
    } finally {
      await io.close();
    }
    memory.assertAllReleased();
    const names = ioListFiles(dir);
    ok(names.includes(".out.txt.spillway-4194999-abc123.tmp.new"), names.join(","));
    ok(!names.includes(".out.txt.spillway-4194998-def456.tmp.new"), names.join(","));
    ok(names.includes("out.txt"));
  });
});

Deno.test("OutputSink keeps its temp file locked until the rename, so a concurrent sweep leaves it", async () => {
  // Another spillway writing an output into the same directory sweeps temp files whose owner
  // lock is free. The commit used to close the file (dropping the lock) before the rename: a
  // sweep in that window removed the finished output (rename: ENOENT, exit 70).
  for (const existing of [false, true]) {
    await withIoTempDir(async (dir) => {
      const { memory, io } = await openIoForTest(dir, { segmentBytes: 4096 });
      const target = `${dir}/out.txt`;
      if (existing) await Deno.writeTextFile(target, "old\n");
      const sink = await io.createOutput(target, { bufferSegments: 1 });
      const bytes = encoder.encode("new\n");
      const pending = sink.write(bytes, 0, bytes.length);
      if (pending) await pending;
      // A sweep right when the commit moves the file (just before its rename).
      const rename = Deno.rename;
      let swept = 0;
      let probed = 0;
      Deno.rename = (from: string | URL, to: string | URL) => {
        if (to === target) {
          for (const name of ioListFiles(dir).filter((name) => name.endsWith(".tmp"))) {
            probed += 1;
            const probe = Deno.openSync(`${dir}/${name}`, { read: true });
            try {
              if (probe.tryLockSync(true)) {
                Deno.removeSync(`${dir}/${name}`);
                swept += 1;
              }
            } finally {
              probe.close();
            }
          }
        }
        return rename(from, to);
      };
      try {
        await sink.commit();
      } finally {
        Deno.rename = rename;
        await io.close();
      }
      strictEqual(probed, 1, "the sweep ran at the rename and saw the temp file");
      strictEqual(swept, 0, `existing target: ${existing}`);
      strictEqual(await Deno.readTextFile(target), "new\n");
      memory.assertAllReleased();
      deepStrictEqual(ioListFiles(dir), ["out.txt"]);
    });
  }
});

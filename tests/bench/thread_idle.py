#!/usr/bin/env python3
"""Per thread and per phase of one `sort`: CPU time, run-queue wait and idle, from the kernel.

Usage: tests/bench/thread_idle.py CHECKOUT CORPUS [TAG]
  MEMORY=64m; the spill and the output go to TMPDIR (default /tmp), the timeline to
  $TMPDIR/thread-idle-TAG/ (kept: tests/bench/timeline_report.ts reads it).

Runs `sort -S MEMORY CORPUS` from CHECKOUT with SPILLWAY_TIMELINE set (for the phases: run
generation ends where the `merge` span starts) and samples /proc/PID/task/*/schedstat every 20
ms: per thread the time on a CPU, the time it was runnable but waited for one (other jobs), and
the rest, idle: the time it slept on its own, waiting for the other thread or for I/O. On a
machine shared with other benches CPU use (CPU / wall) says little, as the run queue takes the
place of the work; the idle column still shows where one of spillway's threads waits for the
other (a balanced pipeline has little idle whatever the load).
"""
import glob
import os
import shutil
import subprocess
import sys
import time

checkout, corpus = sys.argv[1], sys.argv[2]
tag = sys.argv[3] if len(sys.argv) > 3 else "run"
tmp = os.environ.get("TMPDIR", "/tmp")
timeline = os.path.join(tmp, f"thread-idle-{tag}")
shutil.rmtree(timeline, ignore_errors=True)
os.makedirs(timeline)
subprocess.run(["sync"], check=True)
out_path = os.path.join(tmp, f"thread-idle-{tag}.out")
cmd = ["deno", "run", "--allow-read", "--allow-write", "--allow-env", "--allow-ffi",
       "--allow-sys", "--allow-run", "--v8-flags=--max-semi-space-size=1,--no-liftoff",
       checkout + "/main.ts", "sort", "-S", os.environ.get("MEMORY", "64m"), "-T", tmp, corpus]
samples = []  # (epoch ms, {tid: (comm, on-CPU ms, run-queue ms)})
with open(out_path, "wb") as out:
    process = subprocess.Popen(cmd, stdout=out, env=dict(os.environ, SPILLWAY_TIMELINE=timeline))
    while process.poll() is None:
        row = {}
        for task in glob.glob(f"/proc/{process.pid}/task/*"):
            try:
                with open(task + "/comm") as f:
                    comm = f.read().strip()
                with open(task + "/schedstat") as f:
                    fields = f.read().split()
            except OSError:
                continue  # the thread ended meanwhile
            row[task.rsplit("/", 1)[1]] = (comm, int(fields[0]) / 1e6, int(fields[1]) / 1e6)
        samples.append((time.time() * 1000, row))
        time.sleep(0.02)
os.remove(out_path)
spans = []
for path in glob.glob(timeline + "/*.tsv"):
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 4:
                spans.append((parts[1], float(parts[2]), float(parts[3])))
merge = next(s for s in spans if s[0] == "merge")


def nearest(ms):
    return min(samples, key=lambda sample: abs(sample[0] - ms))


print(f"{tag}: load {os.getloadavg()[0]:.2f}")
for phase, (start_ms, end_ms) in [("run generation", (samples[0][0], merge[1])),
                                  ("merge", (merge[1], merge[2]))]:
    first, last = nearest(start_ms), nearest(end_ms)
    wall = last[0] - first[0]
    latest = {}
    for at_ms, row in samples:
        if first[0] <= at_ms <= last[0]:
            latest.update(row)
    print(f"  {phase}: {wall:.0f} ms")
    total = 0.0
    for tid, (comm, on_cpu, queued) in sorted(latest.items(), key=lambda kv: -kv[1][1]):
        on_cpu0, queued0 = first[1].get(tid, (comm, 0.0, 0.0))[1:]
        ran, waited = on_cpu - on_cpu0, queued - queued0
        if ran < 20:
            continue  # runtime threads that did next to nothing
        total += ran
        print(f"    {comm:16} on CPU {ran:7.0f}  run queue {waited:7.0f}  idle {wall - ran - waited:7.0f}")
    print(f"    CPU use {total / max(1.0, wall):.2f}")

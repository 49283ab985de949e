#!/usr/bin/env python3
"""Two checkouts' `sort` start-up side by side, from their timelines: alternating runs, medians.

Usage: tests/bench/startup_ab.py ROUNDS BEFORE_DIR AFTER_DIR [CORPUS]
  CORPUS: default /work/corpus/words-zipf-100m.txt; MEMORY=64m; TMPDIR for spills, outputs and
  timelines; QUIET=N: before each run, wait (at most 60 s) for a second in which the CPUs were N%
  idle. Each side runs its built tree (DIR/dist/js/main.js, built first by DIR's scripts/build.ts).
Prints per checkout the medians of wall and CPU milliseconds (user + sys) and of the milestones
of the run's SPILLWAY_TIMELINE (docs/stats.md), in milliseconds from the process's start (the
`exec`, not Deno's time origin): `origin` (Deno's time origin), `sortStart` (the end of the main
thread's `startup`), `spawnEnd` (the end of `new Worker()`), `firstRead`, `workerReady` (the end
of the Worker's `warm-kernels`), `firstSortMain` and its end, `mergeStart`, `mergeEnd`; then
whether every output equals the first one, and the load average. The timeline costs a little:
compare wall and CPU with before_after.sh too.
"""
import glob
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from _quiet import wait_quiet

rounds = int(sys.argv[1])
dirs = sys.argv[2:4]
corpus = sys.argv[4] if len(sys.argv) > 4 else "/work/corpus/words-zipf-100m.txt"
memory = os.environ.get("MEMORY", "64m")
work = tempfile.mkdtemp(prefix="startup-ab-")
FLAGS = ["--allow-read", "--allow-write", "--allow-env", "--allow-ffi", "--allow-sys",
         "--allow-run", "--v8-flags=--max-semi-space-size=1,--no-liftoff"]
MILESTONES = [  # name, thread, label, which end of its first span
    ("origin", "main", "startup", 0), ("sortStart", "main", "startup", 1),
    ("spawnEnd", "main", "worker-spawn", 1), ("firstRead", "main", "read", 0),
    ("workerReady", "sort-worker", "warm-kernels", 1), ("firstSortMain", "main", "sort-main", 0),
    ("firstSortMainEnd", "main", "sort-main", 1), ("mergeStart", "main", "merge", 0),
    ("mergeEnd", "main", "merge", 1)]


def run_once(main):
    """One timed sort; returns the figures and the output's digest."""
    timeline = os.path.join(work, "timeline")
    shutil.rmtree(timeline, ignore_errors=True)
    os.mkdir(timeline)
    out_path = os.path.join(work, "out")
    env = dict(os.environ, SPILLWAY_TIMELINE=timeline)
    start_ms = time.time() * 1000
    process = subprocess.Popen(["deno", "run", *FLAGS, main, "sort", "-S", memory, "-T", work,
                                corpus, "-o", out_path], env=env)
    _, status, usage = os.wait4(process.pid, 0)
    end_ms = time.time() * 1000
    if status != 0:
        sys.exit(f"{main}: exit status {status}")
    spans = []
    for path in glob.glob(os.path.join(timeline, "*.tsv")):
        with open(path) as lines:
            for line in lines:
                thread, label, begin, end = line.rstrip("\n").split("\t")
                spans.append((thread, label, float(begin) - start_ms, float(end) - start_ms))
    row = {"wall": end_ms - start_ms, "cpu": (usage.ru_utime + usage.ru_stime) * 1000}
    for name, thread, label, which in MILESTONES:
        found = [s for s in spans if s[0] == thread and s[1] == label]
        if found:
            row[name] = min(found, key=lambda s: s[2])[2 + which]
    with open(out_path, "rb") as out:
        digest = hashlib.md5(out.read()).hexdigest()
    return row, digest


mains = []
for d in dirs:
    subprocess.run(["deno", "run", "--allow-read", "--allow-write", "--allow-env", "--allow-run",
                    "scripts/build.ts"], cwd=d, check=True, stdout=subprocess.DEVNULL)
    mains.append(os.path.join(d, "dist/js/main.js"))
rows = [[], []]
digests = set()
loads = []
for r in range(rounds):
    for k in ([0, 1] if r % 2 == 0 else [1, 0]):
        subprocess.run(["sync"], check=True)
        wait_quiet()
        row, digest = run_once(mains[k])
        rows[k].append(row)
        digests.add(digest)
    loads.append(os.getloadavg()[0])
names = ["wall", "cpu"] + [m[0] for m in MILESTONES]
print(f"{'ms (median)':18s}" + "".join(f"{os.path.basename(d.rstrip('/')):>14s}" for d in dirs))
for name in names:
    cells = []
    for k in (0, 1):
        values = [row[name] for row in rows[k] if name in row]
        cells.append(f"{statistics.median(values):14.1f}" if values else f"{'-':>14s}")
    print(f"{name:18s}" + "".join(cells))
print(f"outputs identical: {len(digests) == 1}; load average {min(loads):.1f}-{max(loads):.1f}")
shutil.rmtree(work, ignore_errors=True)

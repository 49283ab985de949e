#!/usr/bin/env python3
"""Two checkouts' `sort` side by side with the --stats phases: alternating runs, medians.

Usage: tests/bench/sort_phases_ab.py ROUNDS BEFORE_DIR AFTER_DIR [CORPUS]
  CORPUS: default /work/corpus/words-zipf-100m.txt; MEMORY=64m; TMPDIR for spills and outputs;
  QUIET=N: before each run, wait (at most 60 s) for a second in which the CPUs were N% idle
  (on a machine shared with other benches; the load average lags by a minute).
Prints per checkout the medians of wall and CPU seconds (user + sys), of the read phase's and
the merge phase's wall and CPU milliseconds, peak RSS (/usr/bin/time), each phase's CPU use
(CPU / wall, median of the runs), and whether every output equals the first one; then the
load average. Like
before_after.sh, but with the phases, which say where a change moved the time.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

from _quiet import wait_quiet

rounds = int(sys.argv[1])
dirs = sys.argv[2:4]
corpus = sys.argv[4] if len(sys.argv) > 4 else "/work/corpus/words-zipf-100m.txt"
memory = os.environ.get("MEMORY", "64m")
work = tempfile.mkdtemp(prefix="sort-phases-")
names = ["wall", "cpu", "readMs", "readCpuMs", "mergeMs", "mergeCpuMs", "rssMiB"]
results = [[], []]
identical = True
reference = None
loads = []


for r in range(rounds):
    for k in ([0, 1] if r % 2 == 0 else [1, 0]):
        subprocess.run(["sync"], check=True)
        wait_quiet()
        out_path = os.path.join(work, "out")
        cmd = ["/usr/bin/time", "-f", "TIME %e %U %S %M", "deno", "run", "--allow-read",
               "--allow-write", "--allow-env", "--allow-ffi", "--allow-sys", "--allow-run",
               "--v8-flags=--max-semi-space-size=1,--no-liftoff", dirs[k] + "/main.ts", "sort",
               "-S", memory, "--stats=json", "-T", work, corpus]
        with open(out_path, "wb") as out:
            p = subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE, text=True, check=True)
        err = p.stderr
        t = [line for line in err.splitlines() if line.startswith("TIME")][-1].split()
        stats = json.loads(err[:err.rindex("}") + 1])
        results[k].append((float(t[1]), float(t[2]) + float(t[3]), stats["timeMs"]["read"],
                           stats["cpuMs"]["read"], stats["timeMs"]["merge"],
                           stats["cpuMs"]["merge"], int(t[4]) / 1024))
        digest = subprocess.run(["md5sum", out_path], capture_output=True, text=True).stdout.split()[0]
        reference = reference or digest
        identical = identical and digest == reference
        os.remove(out_path)
    loads.append(os.getloadavg()[0])
for k in (0, 1):
    medians = [statistics.median(x[i] for x in results[k]) for i in range(len(names))]
    use = statistics.median(x[3] / x[2] for x in results[k])
    merge_use = statistics.median(x[5] / x[4] for x in results[k] if x[4] > 0) if any(
        x[4] > 0 for x in results[k]) else 0
    print(dirs[k], " ".join(f"{n}={v:.3f}" for n, v in zip(names, medians)),
          f"readCpuUse={use:.2f} mergeCpuUse={merge_use:.2f}")
    print("  walls", sorted(x[0] for x in results[k]))
print("outputs", "identical" if identical else "DIFFERENT", f"load {min(loads):.2f}-{max(loads):.2f}")
os.rmdir(work)

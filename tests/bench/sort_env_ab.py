#!/usr/bin/env python3
"""One checkout's `sort` under several environment settings, alternating, with phases and spans.

Usage: tests/bench/sort_env_ab.py ROUNDS CHECKOUT CORPUS VARIANT...
  VARIANT: "NAME=VALUE[,NAME=VALUE...]" set for that variant's runs ("-" for none), e.g.
  `SPILLWAY_BUFFER_MIB=0 SPILLWAY_BUFFER_MIB=12` for the buffer cap of the experiment commit
  6786da8 (branch buf16, reverted: docs/performance.md), or another knob an experiment adds.
  MEMORY=64m; TMPDIR for spills, outputs and timelines; QUIET=N as in sort_phases_ab.py;
  TIMELINE=0 leaves the timelines out (they add a few spans' cost).
Runs CHECKOUT/dist/js/main.js as it is (build it first: `deno task build` there), the
variants in a rotating order each round. Prints per variant the medians of wall and CPU seconds,
the read and merge phases (--stats), peak RSS (/usr/bin/time), spilled runs, and from the
timeline: the sum of this thread's `sort-main` spans and of the Worker's `gather` spans before
the merge, and their count; then whether every output was identical, and the load average.
"""
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from _quiet import wait_quiet

rounds = int(sys.argv[1])
checkout = sys.argv[2]
corpus = sys.argv[3]
variants = sys.argv[4:]
memory = os.environ.get("MEMORY", "64m")
timeline = os.environ.get("TIMELINE", "1") != "0"
entry = os.path.join(checkout, "dist/js/main.js")
if not os.path.exists(entry):
    entry = os.path.join(checkout, "main.ts")
work = tempfile.mkdtemp(prefix="sort-env-ab-")
names = ["wall", "cpu", "readMs", "mergeMs", "rssMiB", "runs", "sortMainMs", "sortMainN",
         "gatherMs"]
results = {v: [] for v in variants}
digests = set()
loads = []


def spans_of(directory):
    """(sort-main sum, sort-main count, Worker gather sum before the merge) of one timeline."""
    spans = []
    for path in glob.glob(directory + "/*.tsv"):
        with open(path) as f:
            for line in f:
                p = line.rstrip("\n").split("\t")
                if len(p) >= 4:
                    spans.append((p[0], p[1], float(p[2]), float(p[3])))
    merge = min((s[2] for s in spans if s[1] == "merge"), default=float("inf"))
    sort_main = [s[3] - s[2] for s in spans if s[1] in ("sort-main", "sort-last-main")]
    gather = sum(s[3] - s[2] for s in spans if s[1] == "gather" and s[2] < merge)
    return sum(sort_main), len(sort_main), gather


for r in range(rounds):
    order = variants[r % len(variants):] + variants[:r % len(variants)]
    for variant in order:
        env = dict(os.environ)
        if variant != "-":
            for pair in variant.split(","):
                key, value = pair.split("=", 1)
                env[key] = value
        tl = os.path.join(work, "tl")
        shutil.rmtree(tl, ignore_errors=True)
        if timeline:
            os.mkdir(tl)
            env["SPILLWAY_TIMELINE"] = tl
        subprocess.run(["sync"], check=True)
        wait_quiet()
        out_path = os.path.join(work, "out")
        cmd = ["/usr/bin/time", "-f", "TIME %e %U %S %M", "deno", "run", "--allow-read",
               "--allow-write", "--allow-env", "--allow-ffi", "--allow-sys", "--allow-run",
               "--v8-flags=--max-semi-space-size=1,--no-liftoff", entry, "sort", "-S", memory,
               "--stats=json", "-T", work, corpus, "-o", out_path]
        p = subprocess.run(cmd, stderr=subprocess.PIPE, text=True, env=env, check=True)
        err = p.stderr
        t = [line for line in err.splitlines() if line.startswith("TIME")][-1].split()
        stats = json.loads(err[:err.rindex("}") + 1])
        sm, smn, ga = spans_of(tl) if timeline else (0, 0, 0)
        results[variant].append((float(t[1]), float(t[2]) + float(t[3]), stats["timeMs"]["read"],
                                 stats["timeMs"]["merge"], int(t[4]) / 1024,
                                 stats["spill"]["runs"], sm, smn, ga))
        digest = subprocess.run(["md5sum", out_path], capture_output=True,
                                text=True).stdout.split()[0]
        digests.add(digest)
        os.remove(out_path)
    loads.append(os.getloadavg()[0])
for variant in variants:
    medians = [statistics.median(x[i] for x in results[variant]) for i in range(len(names))]
    print(f"{variant:28}", " ".join(f"{n}={v:.3f}" if n in ("wall", "cpu") else f"{n}={v:.1f}"
                                    for n, v in zip(names, medians)))
    print("  walls", " ".join(f"{x[0]:.2f}" for x in sorted(results[variant])))
print("outputs", "identical" if len(digests) == 1 else "DIFFERENT",
      f"load {min(loads):.2f}-{max(loads):.2f}")
shutil.rmtree(work, ignore_errors=True)

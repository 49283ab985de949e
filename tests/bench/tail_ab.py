#!/usr/bin/env python3
"""Two checkouts' command tails side by side: from the last span before `close-io` (the final
merge's end for a sort) to the process's exit as this script sees it after `wait`.

Usage: tests/bench/tail_ab.py ROUNDS BEFORE_DIR AFTER_DIR [COMMAND ARGS...]
  COMMAND ARGS: default `sort -S 64m /work/corpus/words-zipf-100m.txt` (stdout to a fresh file);
  each side runs what its checkout ships (tests/bench/entry.sh builds dist/js first).
Runs alternate, with SPILLWAY_TIMELINE set (docs/stats.md), outputs compared with the first.
Prints per side the medians (ms) of: end -> close-io (a sort: the in-memory run's release),
close-io, leak-check, leak check's end -> exit (the report and the process's end), and the whole
tail; then every run's tail and the load average.
"""
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

rounds = int(sys.argv[1])
dirs = sys.argv[2:4]
command = sys.argv[4:] or ["sort", "-S", "64m", "/work/corpus/words-zipf-100m.txt"]
flags = ["--allow-read", "--allow-write", "--allow-env", "--allow-ffi", "--allow-sys",
         "--allow-run", "--v8-flags=--max-semi-space-size=1,--no-liftoff"]
work = tempfile.mkdtemp(prefix="tail-ab-")
keys = ["end>close", "close-io", "leak-check", "leak>exit", "tail"]
entry = os.path.join(os.path.dirname(os.path.abspath(__file__)), "entry.sh")


def main_of(checkout):
    """What the checkout ships (entry.sh's spillway_entry)."""
    script = f'. "{entry}"; spillway_entry "{checkout}"'
    return subprocess.run(["bash", "-c", script], check=True, capture_output=True,
                          text=True).stdout.strip()


def main_spans(timeline):
    """The main thread's spans: label -> [(start, end)] in epoch milliseconds."""
    spans = {}
    for path in glob.glob(os.path.join(timeline, "*.tsv")):
        with open(path) as file:
            for line in file:
                thread, label, start, end = line.rstrip("\n").split("\t")
                if thread == "main":
                    spans.setdefault(label, []).append((float(start), float(end)))
    return spans


def run(main, side):
    """One run: the tail's parts in milliseconds."""
    timeline = os.path.join(work, "timeline")
    shutil.rmtree(timeline, ignore_errors=True)
    os.mkdir(timeline)
    out = os.path.join(work, f"out.{side}")
    if os.path.exists(out):
        os.unlink(out)
    env = dict(os.environ, SPILLWAY_TIMELINE=timeline)
    with open(out, "wb") as stdout:
        done = subprocess.run(["deno", "run", *flags, main, *command, "-T", work],
                              stdout=stdout, env=env)
        exit_ms = time.time() * 1000
    if done.returncode != 0:
        sys.exit(f"{main}: exit {done.returncode}")
    spans = main_spans(timeline)
    close = spans["close-io"][-1]
    leak = spans["leak-check"][-1]
    end = max(e for label, ends in spans.items() if label not in ("close-io", "leak-check")
              for _, e in ends if e <= close[0])
    return {"end>close": close[0] - end, "close-io": close[1] - close[0],
            "leak-check": leak[1] - leak[0], "leak>exit": exit_ms - leak[1],
            "tail": exit_ms - end}


mains = [main_of(d) for d in dirs]
results = [{k: [] for k in keys}, {k: [] for k in keys}]
identical = True
for _ in range(rounds):
    for side, main in enumerate(mains):
        for key, value in run(main, side).items():
            results[side][key].append(value)
    with open(os.path.join(work, "out.0"), "rb") as a, open(os.path.join(work, "out.1"), "rb") as b:
        identical = identical and a.read() == b.read()
for side, d in enumerate(dirs):
    medians = "  ".join(f"{k} {statistics.median(results[side][k]):5.1f}" for k in keys)
    print(f"{d}: {medians}")
    print("  tails: " + " ".join(f"{v:.1f}" for v in results[side]["tail"]))
print(f"outputs identical: {identical}; load {os.getloadavg()}")
shutil.rmtree(work, ignore_errors=True)

#!/usr/bin/env python3
"""Peak RSS of a command, broken down by mapping (docs/performance.md, "Memory").

Usage: tests/bench/rss_breakdown.py [-n RUNS] [--smaps FILE] -- COMMAND...

Runs COMMAND (stdout discarded), reads /proc/PID/smaps_rollup every few milliseconds and keeps
the full /proc/PID/smaps of the moment the resident set was largest (the poll can miss a short
peak by a little; /usr/bin/time's %M is the kernel's exact high-water mark). Prints, in MiB:
  total         the peak resident set (file-backed pages included, as %M counts them)
  wasm memory   the largest anonymous mapping: the shared WebAssembly.Memory (the budget)
  V8 heaps      anonymous mappings of 256 KiB, V8's page size (all isolates: main and Workers)
  malloc        [heap] and the other anonymous mappings of 1-64 MiB (glibc arenas of threads)
  malloc [heap] of those, the main heap alone (what the main thread's malloc keeps)
  deno text     the deno executable's code (r-xp), rodata (r--p), data (rw-p)
  other         libraries, stacks, caches, the rest
With -n, the median of each line over the runs. --smaps FILE keeps the last run's smaps of its
peak in FILE, to compare mapping by mapping (two builds, or the placed merge against one Worker).
"""
import re
import statistics
import subprocess
import sys
import time

MIB = 1024


def parse(smaps: str) -> list[tuple[str, str, int, int]]:
    """(name, perms, size KiB, rss KiB) per mapping."""
    mappings = []
    current = None
    for line in smaps.splitlines():
        head = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$", line)
        if head:
            start, end = int(head.group(1), 16), int(head.group(2), 16)
            current = [head.group(4) or "[anon]", head.group(3), (end - start) // 1024, 0]
            mappings.append(current)
        elif line.startswith("Rss:") and current is not None:
            current[3] = int(line.split()[1])
    return [tuple(m) for m in mappings]


def classify(mappings) -> dict[str, int]:
    parts = {"total": 0, "wasm memory": 0, "V8 heaps": 0, "malloc": 0, "malloc [heap]": 0,
             "deno code (r-xp)": 0, "deno rodata (r--p)": 0, "deno data (rw-p)": 0, "other": 0}
    anon = [m for m in mappings if m[0] == "[anon]"]
    largest = max(anon, key=lambda m: m[3]) if anon else None
    for m in mappings:
        name, perms, size, rss = m
        parts["total"] += rss
        if m is largest:
            parts["wasm memory"] += rss
        elif name == "[anon]" and size == 256:
            parts["V8 heaps"] += rss
        elif name == "[heap]" or (name == "[anon]" and MIB <= size <= 64 * MIB):
            parts["malloc"] += rss
            if name == "[heap]":
                parts["malloc [heap]"] += rss
        elif name.endswith("/deno") and "x" in perms:
            parts["deno code (r-xp)"] += rss
        elif name.endswith("/deno") and "w" not in perms:
            parts["deno rodata (r--p)"] += rss
        elif name.endswith("/deno"):
            parts["deno data (rw-p)"] += rss
        else:
            parts["other"] += rss
    return parts


def peak(command: list[str], smaps_path: str | None = None) -> dict[str, int]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    best_rss, best_smaps = 0, ""
    while process.poll() is None:
        try:
            with open(f"/proc/{process.pid}/smaps_rollup") as rollup:
                rss = int(re.search(r"^Rss:\s+(\d+)", rollup.read(), re.M).group(1))
            if rss > best_rss:
                with open(f"/proc/{process.pid}/smaps") as smaps:
                    best_rss, best_smaps = rss, smaps.read()
        except (OSError, AttributeError):
            pass
        time.sleep(0.003)
    if process.returncode != 0:
        sys.exit(f"rss_breakdown: the command exited with {process.returncode}")
    if smaps_path is not None:
        with open(smaps_path, "w") as kept:
            kept.write(best_smaps)
    return classify(parse(best_smaps))


def main() -> None:
    args = sys.argv[1:]
    runs = 1
    smaps_path = None
    while args[:1] in (["-n"], ["--smaps"]):
        if args[0] == "-n":
            runs = int(args[1])
        else:
            smaps_path = args[1]
        args = args[2:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        sys.exit(__doc__)
    results = [peak(args, smaps_path) for _ in range(runs)]
    for key in results[0]:
        values = [r[key] / 1024 for r in results]
        print(f"{key:20s} {statistics.median(values):7.1f} MiB   ({' '.join(f'{v:.1f}' for v in values)})")


main()

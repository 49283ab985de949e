"""Waiting for a quiet machine before a timed run, for the A/B bench scripts next to this file.

QUIET=N in the environment: wait_quiet() waits (at most 60 s) for a second in which the CPUs
were N% idle; unset or 0, it returns at once.
"""
import os
import time


def idle_percent():
    """The CPUs' idle share over the next second, from /proc/stat."""
    def sample():
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
        return fields[3] + fields[4], sum(fields)
    idle0, total0 = sample()
    time.sleep(1)
    idle1, total1 = sample()
    return 100 * (idle1 - idle0) / max(1, total1 - total0)


def wait_quiet():
    quiet = int(os.environ.get("QUIET", "0"))
    for _ in range(60):
        if quiet <= 0 or idle_percent() >= quiet:
            return

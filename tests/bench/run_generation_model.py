#!/usr/bin/env python3
"""A model of sort's run generation on two threads (docs/performance.md, "sort: run generation").

This thread fills a buffer (FILL ms per MiB) and, when the Worker is busy, sorts it (SORT_MAIN)
and hands it over to be gathered and written (GATHER); an idle Worker sorts (SORT_WORKER) and
gathers a buffer itself. Two buffers: a hand-off waits for the Worker's previous job. The last
buffer stays in memory (filled and sorted here). Prints the run-generation time in ms with every
buffer full and with planned cuts (a first run of 0.63 of a buffer, never a buffer more than full
buffers; a last spill of 0.58 of what is left between one and two buffers), for a few input sizes
and for the rates moved by 30%. The cuts were built and taken out again (docs/performance.md,
"sort: run generation"): the model leaves out that a larger run kept in memory is gathered in the
merge, on the merge Worker.

Usage: tests/bench/run_generation_model.py [BUFFER_MIB]   (default 21.5: -S 64m)
"""
import sys

RATES = {"fill": 0.58, "sort_main": 1.72, "sort_worker": 2.0, "gather": 1.67}
FIRST_RUN_SHARE = 0.63
LAST_SPILL_SHARE = 0.58


def run_generation_ms(fills, rates):
    now = worker_free = 0.0
    for size in fills[:-1]:
        now += rates["fill"] * size
        if worker_free <= now:
            worker_free = now + (rates["sort_worker"] + rates["gather"]) * size
        else:
            now += rates["sort_main"] * size
            now = max(now, worker_free)
            worker_free = now + rates["gather"] * size
    now += (rates["fill"] + rates["sort_main"]) * fills[-1]
    return max(now, worker_free)


def full_buffers(total, buffer):
    fills, left = [], total
    while left > 1e-9:
        fills.append(min(buffer, left))
        left -= fills[-1]
    return fills


def planned_cuts(total, buffer):
    fills, left, first = [], total, True
    while left > 1e-9:
        if left <= buffer:
            cut = left
        elif left <= 2 * buffer:
            cut = min(buffer, max(left - buffer, LAST_SPILL_SHARE * left))
        elif first:
            # never a buffer more than full buffers would take
            full = -(-left // buffer)
            cut = max(FIRST_RUN_SHARE * buffer, left - (full - 1) * buffer)
        else:
            cut = buffer
        fills.append(cut)
        left -= cut
        first = False
    return fills


def main():
    buffer = float(sys.argv[1]) if len(sys.argv) > 1 else 21.5
    sizes = (30, 50, 70, 100, 130, 200, 1024)
    for total in sizes:
        a = run_generation_ms(full_buffers(total, buffer), RATES)
        b = run_generation_ms(planned_cuts(total, buffer), RATES)
        spilled = sum(planned_cuts(total, buffer)[:-1])
        print(f"{total:5d} MiB: full buffers {a:7.1f} ms, planned cuts {b:7.1f} ms ({b / a:.3f}),"
              f" spilled {sum(full_buffers(total, buffer)[:-1]):.1f} -> {spilled:.1f} MiB")
    for name in RATES:
        for factor in (0.7, 1.3):
            rates = dict(RATES, **{name: RATES[name] * factor})
            ratios = [
                run_generation_ms(planned_cuts(t, buffer), rates)
                / run_generation_ms(full_buffers(t, buffer), rates)
                for t in sizes
            ]
            print(f"{name} x{factor}: " + " ".join(f"{r:.3f}" for r in ratios))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""spillway as the map and reduce tasks of a Dask distributed job (docs/scale-out.md).

Two jobs over the same corpus, each checked byte for byte against one spillway run over the
whole input:

  count  split the input on line ends into N splits; map: `spillway count -` per split;
         shuffle: each `word<TAB>count` line goes to reducer crc32(word) mod R; reduce:
         `spillway merge --sum -` per partition; collect: `spillway merge --sum` of the R
         outputs, compared with one `spillway count` of the whole input.
  sort   TeraSort's shape: sample lines of every split, choose R-1 splitters; map: route each
         line to the partition of its range; reduce: `spillway sort -` per partition; collect:
         the concatenated partitions, compared with one `spillway sort` of the whole input.

Tasks pass bytes (never text) between each other, so invalid UTF-8 survives the shuffle. Each
spillway task gets its own -S and a private -T directory in the worker's local directory, and
the task fails when spillway leaves a file behind in it.

Usage (normally started by `deno task scale-out:dask`, which installs Dask and says how to run
spillway):
  dask_job.py --spillway-json '["/path/spillway"]' [--job count|sort|both] [--splits N]
              [--reducers R] [--workers W] [--task-memory SIZE] [--inject-failure]
              [--engine dask|serial] [--report-json PATH] FILE...
  dask_job.py partition R PREFIX < map-output.tsv    (the count shuffle alone, for Slurm/k8s)
Exit codes: 0 every job equals the single run; 1 a job differs; 2 usage; 3 a task failed.

The pure functions at the top (split_inputs, partition_of, partition_counts, choose_splitters,
partition_lines) need only the standard library; tests/scale_out/dask_job_test.ts checks them.
"""

import argparse
import bisect
import filecmp
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zlib

NEWLINE = 10
TAB = 9
READ_CHUNK_BYTES = 1 << 16


# ---------------------------------------------------------------------------------------------
# Splits: byte ranges of the inputs, each split ending at a line end


def _next_line_end(path, offset, size):
    """The offset just after the first newline at or after `offset`, or `size` when none."""
    with open(path, "rb") as file:
        file.seek(offset)
        position = offset
        while position < size:
            chunk = file.read(READ_CHUNK_BYTES)
            if not chunk:
                break
            index = chunk.find(b"\n")
            if index != -1:
                return position + index + 1
            position += len(chunk)
    return size


def split_inputs(paths, count):
    """Cuts the inputs, read as one concatenated dataset, into `count` splits of about equal
    size, each ending at a line end (or at the end of a file).

    Returns a list of `count` splits; a split is a list of pieces [path, start, end,
    add_newline], where add_newline says the piece ends its file without a final newline (the
    reader adds one, as spillway does for a file's last line). A split may be empty."""
    if count < 1:
        raise ValueError("count must be at least 1")
    files = []
    total = 0
    for path in paths:
        size = os.path.getsize(path)
        last = b""
        if size > 0:
            with open(path, "rb") as file:
                file.seek(size - 1)
                last = file.read(1)
        files.append((path, total, size, size > 0 and last != b"\n"))
        total += size
    # Global cut points: each target moves forward to the end of the line it falls in.
    cuts = [0]
    for index in range(1, count):
        target = (total * index) // count
        cut = total
        for path, start, size, _ in files:
            if start <= target < start + size:
                # A file's start is a line start; elsewhere, the line holding byte target-1 ends
                # the split (so a target just after a newline stays where it is).
                cut = start if target == start else start + _next_line_end(
                    path, target - start - 1, size)
                break
        cuts.append(max(cut, cuts[-1]))
    cuts.append(total)
    splits = []
    for index in range(count):
        low, high = cuts[index], cuts[index + 1]
        pieces = []
        for path, start, size, no_final_newline in files:
            piece_low = max(low, start)
            piece_high = min(high, start + size)
            if piece_low < piece_high:
                ends_file = piece_high == start + size
                pieces.append([path, piece_low - start, piece_high - start,
                               ends_file and no_final_newline])
        splits.append(pieces)
    return splits


def read_split(pieces):
    """The bytes of a split (a final newline added where a file lacks one)."""
    parts = []
    for path, start, end, add_newline in pieces:
        with open(path, "rb") as file:
            file.seek(start)
            parts.append(file.read(end - start))
        if add_newline:
            parts.append(b"\n")
    return b"".join(parts)


# ---------------------------------------------------------------------------------------------
# The count shuffle: a stable hash of the word's bytes


def partition_of(word, partitions):
    """The reducer of a word: CRC-32 (zlib's, the ISO-HDLC polynomial) of its bytes, unsigned,
    modulo the number of reducers. Stable across processes and machines (Python's `hash` is
    salted per process, so it cannot be used)."""
    return zlib.crc32(word) % partitions


def partition_counts(output, partitions):
    """Splits `word<TAB>count` lines into `partitions` byte strings by partition_of(word). The
    word is the text before the line's last TAB (the count never holds one)."""
    buckets = [[] for _ in range(partitions)]
    start = 0
    length = len(output)
    while start < length:
        end = output.find(b"\n", start)
        if end == -1:
            raise ValueError("a map output line has no final newline")
        tab = output.rfind(b"\t", start, end)
        if tab == -1:
            raise ValueError("a map output line has no TAB")
        buckets[zlib.crc32(output[start:tab]) % partitions].append(output[start:end + 1])
        start = end + 1
    return [b"".join(bucket) for bucket in buckets]


# ---------------------------------------------------------------------------------------------
# The sort shuffle: ranges between sampled splitters, in byte order (the C locale)


def sample_lines(data, limit, seed):
    """Up to `limit` lines of `data` (without their newlines), chosen at random with `seed`."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if len(lines) <= limit:
        return lines
    return random.Random(seed).sample(lines, limit)


def choose_splitters(samples, partitions):
    """R-1 splitters at the quantiles of the sorted samples. Partition i receives the lines L
    with splitters[i-1] <= L < splitters[i] in byte order, so equal lines meet in one
    partition and the partitions, each sorted, concatenate to the sorted whole."""
    ordered = sorted(samples)
    if not ordered:
        return []
    return [ordered[(len(ordered) * index) // partitions] for index in range(1, partitions)]


def partition_lines(data, splitters):
    """Splits newline-terminated lines into len(splitters) + 1 byte strings by range."""
    buckets = [[] for _ in range(len(splitters) + 1)]
    start = 0
    length = len(data)
    while start < length:
        end = data.find(b"\n", start)
        if end == -1:
            raise ValueError("a split does not end with a newline")
        line = data[start:end]
        buckets[bisect.bisect_right(splitters, line)].append(data[start:end + 1])
        start = end + 1
    return [b"".join(bucket) for bucket in buckets]


# ---------------------------------------------------------------------------------------------
# One spillway process: stdin bytes -> stdout bytes, its own -T, its peak RSS


class TaskError(Exception):
    """A spillway task failed (non-zero exit, or files left in its temp directory)."""


def _local_directory():
    """The worker's local directory under Dask (its own disk), else the system temp dir."""
    try:
        from distributed import get_worker
        return get_worker().local_directory
    except (ImportError, ValueError):
        return tempfile.gettempdir()


def run_spillway(spillway, args, stdin=None, kill_after_bytes=None, output_path=None):
    """Runs `spillway ARGS -T <private dir>`; returns (stdout bytes, stats).

    stats: seconds, max_rss_mib (the spillway process's own peak RSS, from wait4), in_bytes,
    out_bytes. With kill_after_bytes, the process is sent SIGTERM once that many input bytes
    are written (a killed attempt, for the retry demonstration) and TaskError is raised."""
    tmp_dir = tempfile.mkdtemp(prefix="spillway-task-", dir=_local_directory())
    try:
        argv = list(spillway) + [args[0], "-T", tmp_dir] + list(args[1:])
        started = time.monotonic()
        process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        collected = {"out": b"", "err": b"", "busy": None}

        def feed():
            try:
                if kill_after_bytes is None:
                    process.stdin.write(stdin)
                else:
                    process.stdin.write(stdin[:kill_after_bytes])
                    process.stdin.flush()
                    # Kill it once it runs: its private directory exists in the -T directory.
                    deadline = time.monotonic() + 30
                    while not os.listdir(tmp_dir) and time.monotonic() < deadline:
                        time.sleep(0.05)
                    collected["busy"] = list(os.listdir(tmp_dir))
                    process.send_signal(signal.SIGTERM)
            except BrokenPipeError:
                pass
            finally:
                try:
                    process.stdin.close()
                except BrokenPipeError:
                    pass

        def drain(stream, name):
            collected[name] = stream.read()

        threads = [
            threading.Thread(target=drain, args=(process.stdout, "out")),
            threading.Thread(target=drain, args=(process.stderr, "err")),
        ]
        if stdin is not None:
            threads.append(threading.Thread(target=feed))
        for thread in threads:
            thread.start()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        for thread in threads:
            thread.join()
        seconds = time.monotonic() - started
        left = os.listdir(tmp_dir)
        if left:
            raise TaskError(f"spillway {args[0]} left {len(left)} files in its -T directory: {left}")
        if kill_after_bytes is not None:
            raise TaskError(
                f"injected failure: spillway {args[0]} killed with SIGTERM (exit "
                f"{process.returncode}) while its -T directory held {collected.get('busy')}; "
                f"it left the directory empty")
        if process.returncode != 0:
            message = collected["err"].decode("utf-8", "replace").strip()
            raise TaskError(f"spillway {' '.join(args)} exited with {process.returncode}: {message}")
        stats = {
            "seconds": round(seconds, 3),
            "max_rss_mib": round(usage.ru_maxrss / 1024, 1),
            "in_bytes": len(stdin) if stdin is not None else 0,
            "out_bytes": (len(collected["out"]) if output_path is None
                          else os.path.getsize(output_path)),
        }
        return collected["out"], stats
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def _first_attempt(marker_path):
    """True the first time only (creates a marker file at a path all workers see)."""
    if marker_path is None:
        return False
    try:
        fd = os.open(marker_path, os.O_CREAT | os.O_EXCL)
        os.close(fd)
        return True
    except FileExistsError:
        return False


# ---------------------------------------------------------------------------------------------
# Tasks (module-level functions: the engine ships them to the workers)


def count_map_task(spillway, task_args, pieces, reducers, fail_marker=None):
    data = read_split(pieces)
    kill = len(data) // 2 if _first_attempt(fail_marker) else None
    output, stats = run_spillway(spillway, ["count", *task_args, "-"], data, kill_after_bytes=kill)
    if fail_marker is not None:
        stats["note"] = "re-run after a killed attempt left no files"
    return partition_counts(output, reducers), stats


def count_reduce_task(spillway, task_args, *parts):
    return run_spillway(spillway, ["merge", "--sum", *task_args, "-"], b"".join(parts))


def sample_task(pieces, limit, seed):
    return sample_lines(read_split(pieces), limit, seed)


def sort_map_task(pieces, splitters):
    started = time.monotonic()
    data = read_split(pieces)
    buckets = partition_lines(data, splitters)
    return buckets, {"seconds": round(time.monotonic() - started, 3), "max_rss_mib": None,
                     "in_bytes": len(data), "out_bytes": len(data)}


def sort_reduce_task(spillway, task_args, *parts):
    return run_spillway(spillway, ["sort", *task_args, "-"], b"".join(parts))


def pick(result, index):
    return result[0][index]


def pick_stats(result):
    return result[1]


# ---------------------------------------------------------------------------------------------
# Engines: Dask distributed, or the same tasks one after another in this process (no Dask)


class SerialEngine:
    """Runs tasks at once, in this process: the job's logic without a cluster (tests)."""

    def submit(self, function, *args, key=None, retries=0):
        for attempt in range(retries + 1):
            try:
                return function(*args)
            except TaskError:
                if attempt == retries:
                    raise
        raise AssertionError(key)

    def gather(self, values):
        return values

    def close(self):
        pass


class DaskEngine:
    def __init__(self, workers, worker_memory):
        from dask.distributed import Client, LocalCluster
        self.cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=worker_memory,
            dashboard_address=None,
        )
        self.client = Client(self.cluster)

    def submit(self, function, *args, key, retries=0):
        return self.client.submit(function, *args, key=key, retries=retries, pure=False)

    def gather(self, futures):
        return self.client.gather(futures)

    def close(self):
        self.client.close()
        self.cluster.close()


# ---------------------------------------------------------------------------------------------
# The jobs


def count_job(engine, options, splits, work_dir):
    spillway = options.spillway
    task_args = ["-S", options.task_memory, *options.task_arg]
    reducers = options.reducers
    # --inject-failure: the first attempt of map 0 is killed; Dask re-runs it (retries=2).
    marker = os.path.join(work_dir, "map-0-failed") if options.inject_failure else None
    maps = [
        engine.submit(count_map_task, spillway, task_args, pieces, reducers,
                      marker if index == 0 else None, key=f"count-map-{index}", retries=2)
        for index, pieces in enumerate(splits)
    ]
    reduces = [
        engine.submit(
            count_reduce_task, spillway, task_args,
            *[engine.submit(pick, result, reducer, key=f"count-shuffle-{index}-{reducer}")
              for index, result in enumerate(maps)],
            key=f"count-reduce-{reducer}", retries=2)
        for reducer in range(reducers)
    ]
    map_stats = engine.gather(
        [engine.submit(pick_stats, result, key=f"count-map-stats-{index}")
         for index, result in enumerate(maps)])
    reduced = engine.gather(reduces)
    part_paths = []
    for reducer, (output, _) in enumerate(reduced):
        path = os.path.join(work_dir, f"count-part-r-{reducer:05d}")
        with open(path, "wb") as file:
            file.write(output)
        part_paths.append(path)
    collected_path = os.path.join(work_dir, "count-collected.tsv")
    direct_path = os.path.join(work_dir, "count-direct.tsv")
    _, collect_stats = run_spillway(
        spillway, ["merge", "--sum", *task_args, "-o", collected_path, *part_paths],
        output_path=collected_path)
    _, direct_stats = run_spillway(
        spillway, ["count", *task_args, "-o", direct_path, *options.inputs],
        output_path=direct_path)
    tasks = [(f"map {index}", stats) for index, stats in enumerate(map_stats)]
    tasks += [(f"reduce {reducer}", stats) for reducer, (_, stats) in enumerate(reduced)]
    tasks += [("collect", collect_stats), ("single count", direct_stats)]
    return collected_path, direct_path, tasks


def sort_job(engine, options, splits, work_dir):
    spillway = options.spillway
    task_args = ["-S", options.task_memory, *options.task_arg]
    partitions = options.reducers
    samples = engine.gather([
        engine.submit(sample_task, pieces, options.samples_per_split, index,
                      key=f"sort-sample-{index}")
        for index, pieces in enumerate(splits)
    ])
    splitters = choose_splitters([line for part in samples for line in part], partitions)
    maps = [
        engine.submit(sort_map_task, pieces, splitters, key=f"sort-map-{index}", retries=2)
        for index, pieces in enumerate(splits)
    ]
    reduces = [
        engine.submit(
            sort_reduce_task, spillway, task_args,
            *[engine.submit(pick, result, partition, key=f"sort-shuffle-{index}-{partition}")
              for index, result in enumerate(maps)],
            key=f"sort-reduce-{partition}", retries=2)
        for partition in range(len(splitters) + 1)
    ]
    map_stats = engine.gather(
        [engine.submit(pick_stats, result, key=f"sort-map-stats-{index}")
         for index, result in enumerate(maps)])
    reduced = engine.gather(reduces)
    collected_path = os.path.join(work_dir, "sort-collected.txt")
    with open(collected_path, "wb") as file:
        for output, _ in reduced:
            file.write(output)
    direct_path = os.path.join(work_dir, "sort-direct.txt")
    _, direct_stats = run_spillway(
        spillway, ["sort", *task_args, "-o", direct_path, *options.inputs],
        output_path=direct_path)
    tasks = [(f"map {index}", stats) for index, stats in enumerate(map_stats)]
    tasks += [(f"reduce {partition}", stats) for partition, (_, stats) in enumerate(reduced)]
    tasks += [("single sort", direct_stats)]
    return collected_path, direct_path, tasks


def _format_task(job, name, stats):
    rss = "-" if stats["max_rss_mib"] is None else f"{stats['max_rss_mib']:.1f}"
    return (f"  {job:5} {name:13} {stats['seconds']:8.2f} s  peak RSS {rss:>6} MiB  "
            f"in {stats['in_bytes']:>11} B  out {stats['out_bytes']:>11} B"
            + (f"  ({stats['note']})" if "note" in stats else ""))


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="dask_job.py", description=__doc__.split("\n")[0])
    parser.add_argument("inputs", nargs="+", metavar="FILE")
    parser.add_argument("--spillway-json", required=True,
                        help="the command that runs spillway, as a JSON array")
    parser.add_argument("--job", choices=["count", "sort", "both"], default="both")
    parser.add_argument("--splits", type=int, default=8)
    parser.add_argument("--reducers", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-memory", default="1GiB")
    parser.add_argument("--task-memory", default="64m", help="spillway -S of every task")
    parser.add_argument("--task-arg", action="append", default=[],
                        help="one more argument for every spillway task (repeatable)")
    parser.add_argument("--samples-per-split", type=int, default=1000)
    parser.add_argument("--engine", choices=["dask", "serial"], default="dask")
    parser.add_argument("--inject-failure", action="store_true",
                        help="kill the first attempt of map 0 (SIGTERM) to exercise retries")
    parser.add_argument("--report-json", help="write the task timings as JSON here")
    options = parser.parse_args(argv)
    options.spillway = json.loads(options.spillway_json)
    if options.splits < 1 or options.reducers < 1 or options.workers < 1:
        parser.error("--splits, --reducers and --workers must be at least 1")
    return options


def main(argv):
    options = parse_args(argv)
    jobs = ["count", "sort"] if options.job == "both" else [options.job]
    work_dir = tempfile.mkdtemp(prefix="spillway-dask-")
    engine = None
    exit_code = 0
    report = {"engine": options.engine, "splits": options.splits, "reducers": options.reducers,
              "workers": options.workers, "task_memory": options.task_memory,
              "spillway": options.spillway, "inputs": options.inputs, "jobs": {}}
    try:
        started = time.monotonic()
        engine = (DaskEngine(options.workers, options.worker_memory)
                  if options.engine == "dask" else SerialEngine())
        print(f"engine: {options.engine}"
              + (f" (LocalCluster, {options.workers} worker processes, 1 thread each, "
                 f"{options.worker_memory} each)" if options.engine == "dask" else "")
              + f"; startup {time.monotonic() - started:.2f} s", flush=True)
        print(f"spillway: {' '.join(options.spillway)}", flush=True)
        splits = split_inputs(options.inputs, options.splits)
        for job in jobs:
            started = time.monotonic()
            run = count_job if job == "count" else sort_job
            collected, direct, tasks = run(engine, options, splits, work_dir)
            seconds = time.monotonic() - started
            same = filecmp.cmp(collected, direct, shallow=False)
            size = os.path.getsize(direct)
            print(f"{job}: {options.splits} splits, {options.reducers} reducers, -S "
                  f"{options.task_memory} per task; {seconds:.2f} s in all", flush=True)
            for name, stats in tasks:
                print(_format_task(job, name, stats), flush=True)
            single = "spillway count" if job == "count" else "spillway sort"
            print(f"{job}: " + (f"equal to one '{single}' over the whole input ({size} bytes)"
                                if same else f"MISMATCH with one '{single}' ({size} bytes)"),
                  flush=True)
            report["jobs"][job] = {"equal": same, "seconds": round(seconds, 3), "bytes": size,
                                   "tasks": [{"task": name, **stats} for name, stats in tasks]}
            if not same:
                exit_code = 1
    except Exception as error:  # a task's error arrives as whatever class the engine rebuilt
        print(f"Task failed: {type(error).__name__}: {error}", file=sys.stderr)
        exit_code = 3
    finally:
        if engine is not None:
            engine.close()
        shutil.rmtree(work_dir, ignore_errors=True)
    if options.report_json:
        with open(options.report_json, "w", encoding="utf-8") as file:
            json.dump(report, file, indent=2)
    return exit_code


def partition_main(argv):
    """`dask_job.py partition R PREFIX`: the count shuffle outside Dask (a Slurm or Kubernetes
    map step): `word<TAB>count` lines on stdin -> PREFIX0 .. PREFIX{R-1} by partition_of."""
    if len(argv) != 2 or not argv[0].isdigit() or int(argv[0]) < 1:
        print("Usage: dask_job.py partition R PREFIX < word<TAB>count lines", file=sys.stderr)
        return 2
    parts = partition_counts(sys.stdin.buffer.read(), int(argv[0]))
    for index, part in enumerate(parts):
        with open(f"{argv[1]}{index}", "wb") as file:
            file.write(part)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["partition"]:
        sys.exit(partition_main(sys.argv[2:]))
    sys.exit(main(sys.argv[1:]))

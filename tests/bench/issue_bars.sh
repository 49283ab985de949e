#!/usr/bin/env bash
# The whole chain of benchmarks that issues 11 and 12 set bars on, in one run, as the closing
# notes report them: sort against GNU sort (100 MiB and 1 GiB), count against the pipelines (100
# MiB, and 1 GiB of unique lines), the countwords task, and a before/after against an older
# checkout. Run it on a quiet machine: it takes ~6 minutes and uses both cores.
#
# Usage: tests/bench/issue_bars.sh BEFORE_DIR [OUT_DIR]
#   BEFORE_DIR: a checkout to compare with (e.g. `git worktree add --detach /tmp/before <commit>`)
#   OUT_DIR: where each bench's output goes (default: a new directory under ${TMPDIR:-/tmp})
#   Corpora: /work/corpus (see ../shared/bench/corpus.sh); COUNT_BENCH_CACHE (default
#   /work/benchcache) keeps count_vs_pipelines.sh's generated inputs between runs.
#   DOCS=1: sort_vs_gnu.sh rewrites the table and chart in docs/performance.md.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
before="$1"
out="${2:-$(mktemp -d "${TMPDIR:-/tmp}/issue-bars.XXXXXX")}"
corpus="${CORPUS_DIR:-/work/corpus}"
cache="${COUNT_BENCH_CACHE:-/work/benchcache}"
mkdir -p "$out"
cd "$here/../.."

step() { # name command... -> runs it, its output into $out/name.txt
  local name="$1"
  shift
  echo "$(date -u +%H:%M:%S) $name (load $(cut -d' ' -f1-3 /proc/loadavg))"
  # A bench exits non-zero when a bar is missed or an output differs: its lines below say which.
  "$@" >"$out/$name.txt" 2>&1 || echo "  $name: exit $? (a missed bar or a failure: $out/$name.txt)"
}

step sort env ROUNDS=3 ROUNDS_1G=3 DOCS="${DOCS:-0}" tests/bench/sort_vs_gnu.sh
step count-100m env RUNS=3 COUNT_BENCH_CACHE="$cache" tests/bench/count_vs_pipelines.sh 100m
step countwords env RUNS=3 tests/bench/countwords_bench.sh
step before-after env ROUNDS=3 tests/bench/before_after.sh "$before" "$PWD"
step count-1g env RUNS=1 CASES=high LINES_FILE="$corpus/lines-unique-1g.txt" \
  COUNT_BENCH_CACHE="$cache" tests/bench/count_vs_pipelines.sh 1g
step before-after-1g env ROUNDS=2 COMMANDS=sort tests/bench/before_after.sh "$before" "$PWD" \
  "$corpus/words-zipf-1g.txt"
echo "$(date -u +%H:%M:%S) done (load $(cut -d' ' -f1-3 /proc/loadavg)): $out"
grep -h -E "ratio|BAR|x C|phases|->|peak RSS is" "$out"/*.txt || true

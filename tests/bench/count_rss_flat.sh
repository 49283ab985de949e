#!/usr/bin/env bash
# Whether a count's peak RSS stays flat from a small input to a large one of the same kind
# (issue 12's bar: within 10% from 100 MiB to 1 GiB), part by part (docs/performance.md,
# "Memory"): the budget's pages, the V8 heaps, malloc. Runs each size through
# tests/bench/rss_breakdown.py, alternating, and prints the medians side by side with the ratio.
#
# Usage: tests/bench/count_rss_flat.sh [SMALL_FILE LARGE_FILE]
#   default: /work/benchcache/lines-100m.txt /work/benchcache/lines-1g.txt (`spillway gen lines`:
#   the same generator, 37.5 bytes a token; /work/corpus/lines-unique-1g.txt has 78, so its table
#   holds the same words in twice the pages)
#   env: RUNS=1 (runs per size), BUDGET=64m, ARGS="--tokenizer whitespace" (the count's options:
#   default order, i.e. count order), CHECKOUT=this one (the spillway to run),
#   FLAGS=--max-semi-space-size=1,--no-liftoff (its V8 flags, as the spillway task's)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CHECKOUT=${CHECKOUT:-$ROOT}
SMALL=${1:-/work/benchcache/lines-100m.txt}
LARGE=${2:-/work/benchcache/lines-1g.txt}
RUNS=${RUNS:-1}
BUDGET=${BUDGET:-64m}
ARGS=${ARGS:-"--tokenizer whitespace"}
FLAGS=${FLAGS:-"--max-semi-space-size=1,--no-liftoff"}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/count-rss-flat.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

: >"$WORK/small"
: >"$WORK/large"
for _ in $(seq 1 "$RUNS"); do
  for size in small large; do
    if [ "$size" = small ]; then input=$SMALL; else input=$LARGE; fi
    # shellcheck disable=SC2086 # ARGS is a list of options
    python3 "$ROOT/tests/bench/rss_breakdown.py" -- deno run --allow-read --allow-write \
      --allow-env --allow-ffi --allow-sys --allow-run "--v8-flags=$FLAGS" "$CHECKOUT/main.ts" \
      count $ARGS -S "$BUDGET" -T "$WORK" -o "$WORK/out" "$input" >>"$WORK/$size"
  done
done

echo "count $ARGS -S $BUDGET, $RUNS run(s) each, medians (MiB); load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-20s %9s %9s %7s\n' part "$(basename "$SMALL")" "$(basename "$LARGE")" ratio
# Each rss_breakdown line: "<part> <MiB> MiB (<values>)"; parts may hold spaces.
awk '
  FNR == 1 { file += 1 }
  {
    sub(/ +\([0-9. ]*\)$/, "")
    value = $(NF - 1)
    $NF = ""; $(NF - 1) = ""
    part = $0
    sub(/ +$/, "", part)
    if (!(part in seen)) { seen[part] = 1; order[++parts] = part }
    values[file, part] = values[file, part] " " value
  }
  function median(list,    n, v, i, j, t) {
    n = split(list, v, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
    return v[int((n + 1) / 2)]
  }
  END {
    for (k = 1; k <= parts; k++) {
      p = order[k]; a = median(values[1, p]); b = median(values[2, p])
      printf "%-20s %9.1f %9.1f %7s\n", p, a, b, (a > 0 ? sprintf("%.3f", b / a) : "-")
    }
  }
' "$WORK/small" "$WORK/large"

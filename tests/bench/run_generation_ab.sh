#!/usr/bin/env bash
# Run generation side by side: the same sort from two or more checkouts, alternating, each run
# with a timeline (SPILLWAY_TIMELINE), medians per checkout of what timeline_report.ts says:
# run generation (process start to merge start), the whole run (wall, as measured here), and the
# main thread's waits (wait-last-spill, wait-worker) and help spans (help-sort on the Worker;
# help-gather existed only in branch gath16's split gather, e8267af..c2da5f9: 0 elsewhere). Run generation alone is steadier than the whole run's wall time (the merge and the
# output add their own noise), and the waits show which thread is the critical path.
#
# Usage: tests/bench/run_generation_ab.sh CHECKOUT...
#   ROUNDS=11, CORPUS=/work/corpus/words-zipf-100m.txt (a file, absolute path), MEMORY=64m; each
#   checkout runs its own dist/js/main.js as it is (run `deno task build` there first: this script
#   does not build) with the flags of the `spillway` task; no `sync` between runs.
# Prints per checkout: medians, and in how many rounds it was faster than the first checkout.
set -euo pipefail

rounds="${ROUNDS:-11}"
corpus="${CORPUS:-/work/corpus/words-zipf-100m.txt}"
memory="${MEMORY:-64m}"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/run-generation-ab.XXXXXX")"
trap 'rm -rf "$work"' EXIT

span() { # report name -> the span's total ms (0 when absent)
  awk -v name="$2" '$1 == name && $3 == "ms" { print $2; found = 1 } END { if (!found) print 0 }' "$1"
}

for round in $(seq "$rounds"); do
  side=0
  for checkout in "$@"; do
    timeline="$work/timeline"
    rm -rf "$timeline"
    mkdir "$timeline"
    start=$(date +%s%N)
    (cd "$checkout" && SPILLWAY_TIMELINE="$timeline" deno run --allow-read --allow-write \
      --allow-env --allow-ffi --allow-sys --allow-run \
      --v8-flags=--max-semi-space-size=1,--no-liftoff dist/js/main.js sort -S "$memory" \
      "$corpus" -T "$work" -o "$work/out.$side" >/dev/null)
    end=$(date +%s%N)
    deno run --allow-read "$here/timeline_report.ts" "$timeline" >"$work/report"
    generation=$(awk '/^run generation:/ { print $3 }' "$work/report")
    echo "$side $round $generation $(((end - start) / 1000000)) $(span "$work/report" wait-last-spill)" \
      "$(span "$work/report" wait-worker) $(span "$work/report" help-gather)" \
      "$(span "$work/report" help-sort)" >>"$work/results"
    if [ "$side" -gt 0 ] && ! cmp -s "$work/out.0" "$work/out.$side"; then
      echo "outputs differ: $checkout" >&2
      exit 1
    fi
    side=$((side + 1))
  done
done

python3 - "$work/results" "$@" <<'EOF'
import statistics
import sys

rows = [line.split() for line in open(sys.argv[1])]
checkouts = sys.argv[2:]
names = ["run generation", "wall", "wait-last-spill", "wait-worker", "help-gather", "help-sort"]
first = {row[1]: float(row[2]) for row in rows if row[0] == "0"}
for side, checkout in enumerate(checkouts):
    mine = [row for row in rows if row[0] == str(side)]
    medians = ", ".join(
        f"{name} {statistics.median(float(row[2 + i]) for row in mine):.1f}"
        for i, name in enumerate(names)
    )
    faster = sum(1 for row in mine if float(row[2]) < first[row[1]])
    print(f"{checkout} (x{len(mine)}, ms medians): {medians}; run generation faster than the "
          f"first in {faster} of {len(mine)}")
EOF

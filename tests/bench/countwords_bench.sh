#!/usr/bin/env bash
# The countwords task (ASCII whitespace split, ASCII lower case) on the KJV bible repeated x10
# and x100: spillway count against a single-threaded optimized C counter of the same kind
# (tests/bench/countwords.c: one hash table, one pass) and mawk, side by side.
#
# Usage: tests/bench/countwords_bench.sh [COPIES...]          (default: 10 100)
#   env: RUNS=3 (alternating), KJV=/work/corpus/kjv.txt, BUDGET=64m, THREADS=auto,
#        SPILLWAY="deno run -A --v8-flags=--no-liftoff,--max-semi-space-size=1 main.ts"
#
# Prints per tool the median wall time and peak RSS (GNU time %e %M) and the ratio to C; the
# outputs are compared byte for byte with the C counter's (spillway's tsv is the same format;
# mawk's is sorted the same way first). Exit 1 if an output differs.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${RUNS:-3}
KJV=${KJV:-/work/corpus/kjv.txt}
BUDGET=${BUDGET:-64m}
THREADS=${THREADS:-auto}
# What users run: the built JavaScript (tests/bench/entry.sh; SPILLWAY_SOURCE=1: main.ts).
# shellcheck source=entry.sh
. "$ROOT/tests/bench/entry.sh"
SPILLWAY=${SPILLWAY:-"deno run -A --v8-flags=--no-liftoff,--max-semi-space-size=1 $(spillway_entry "$ROOT")"}
COPIES=("$@")
[ ${#COPIES[@]} -eq 0 ] && COPIES=(10 100)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/countwords-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
FAILED=0

gcc -O2 -o "$WORK/countwords" "$ROOT/tests/bench/countwords.c"

run() {
  /usr/bin/time -f "%e %M" -o "$WORK/time" bash -c "$2" >"$1"
  tail -1 "$WORK/time"
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

for copies in "${COPIES[@]}"; do
  input=$WORK/kjv-x$copies.txt
  for ((i = 0; i < copies; i++)); do cat "$KJV"; done >"$input"
  declare -A times=() rss=()
  tools=(c spillway mawk)
  declare -A cmd=(
    [c]="'$WORK/countwords' < '$input'"
    [spillway]="$SPILLWAY count --tokenizer whitespace --case lower -S $BUDGET --threads $THREADS '$input'"
    [mawk]="mawk '{ for (i = 1; i <= NF; i++) c[tolower(\$i)]++ } END { for (w in c) print c[w], w }' '$input' | sort -k1,1nr -k2,2 | mawk '{ print \$2 \"\\t\" \$1 }'"
  )
  for ((r = 0; r < RUNS; r++)); do
    for tool in "${tools[@]}"; do
      read -r seconds kib < <(run "$WORK/$tool.out" "${cmd[$tool]}")
      times[$tool]+="$seconds "
      rss[$tool]+="$kib "
    done
  done
  for tool in spillway mawk; do
    if ! cmp -s "$WORK/c.out" "$WORK/$tool.out"; then
      echo "x$copies: $tool output differs from the C counter's" >&2
      FAILED=1
    fi
  done
  bytes=$(stat -c %s "$input")
  c_median=$(echo "${times[c]}" | tr ' ' '\n' | grep . | median)
  echo "KJV x$copies ($((bytes / 1000000)) MB), $RUNS alternating runs, medians:"
  for tool in "${tools[@]}"; do
    t=$(echo "${times[$tool]}" | tr ' ' '\n' | grep . | median)
    m=$(echo "${rss[$tool]}" | tr ' ' '\n' | grep . | sort -n | tail -1)
    printf '  %-9s %7.2f s  %6d MiB peak  %5.2fx C   (runs: %s)\n' "$tool" "$t" $((m / 1024)) \
      "$(echo "$t $c_median" | awk '{ printf "%.2f", $1 / $2 }')" "${times[$tool]% }"
  done
  rm -f "$input"
done
exit $FAILED

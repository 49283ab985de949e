#!/usr/bin/env bash
# spillway count against the classic pipelines, side by side on the same machine.
#
# Usage: tests/bench/count_vs_pipelines.sh [SIZE...]        (default: 100m 1g)
#   env: RUNS=3 (runs per tool, alternating), BUDGET=64m, THREADS=auto,
#        COUNT_BENCH_CACHE=tests/bench/.cache (corpora are generated once and kept there),
#        TEXT_FILE / LINES_FILE: use this file instead of the generated one (one SIZE then),
#        SPILLWAY="deno run -A --v8-flags=--no-liftoff,--max-semi-space-size=1 main.ts"
#        (the flags of the spillway task; or a compiled dist/spillway),
#        CASES="low high" (which cases to run: low and/or high cardinality)
#
# Cases per SIZE:
#   low cardinality:  `spillway gen text` (Zipf words), `count --tokenizer letters`
#     vs McIlroy: tr -cs A-Za-z '\n' | tr A-Z a-z | sort -S 64M | uniq -c | sort -rn  (bar <= 0.1)
#     vs mawk hash counting                                                          (bar <= 0.2)
#   high cardinality: `spillway gen lines` (unique lines), `count --tokenizer whitespace`
#     --order word vs tr -s ' ' '\n' | sort -S 64M | uniq -c   (the same tokens)     (bar <= 0.6)
#     default order vs the same | sort -k1,1nr -k2,2                                   (bar <= 0.5)
# Runs alternate (ours, theirs, ours, ...), the median of RUNS is reported with MB/s and peak
# RSS (GNU time %M), outputs are compared after normalizing to sorted "word count" lines, and
# spillway's peak RSS is checked against budget + 64 MiB (issue 12's bar). Exit 1 if an output differs.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${COUNT_BENCH_CACHE:-$ROOT/tests/bench/.cache}
RUNS=${RUNS:-3}
BUDGET=${BUDGET:-64m}
THREADS=${THREADS:-auto}
# What users run: the built JavaScript (tests/bench/entry.sh; SPILLWAY_SOURCE=1: main.ts).
# shellcheck source=entry.sh
. "$ROOT/tests/bench/entry.sh"
SPILLWAY=${SPILLWAY:-"deno run -A --v8-flags=--no-liftoff,--max-semi-space-size=1 $(spillway_entry "$ROOT")"}
SIZES=("$@")
[ ${#SIZES[@]} -eq 0 ] && SIZES=(100m 1g)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/count-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$CACHE"
FAILED=0

budget_mib=$(echo "$BUDGET" | sed -E 's/[mM]$//')
rss_limit_kib=$(((budget_mib + 64) * 1024))

# run LABEL OUT CMD: runs CMD (a shell string) with stdout to OUT; prints "seconds rss_kib".
run() {
  local out=$2 cmd=$3
  /usr/bin/time -f "%e %M" -o "$WORK/time" bash -c "$cmd" >"$out"
  cat "$WORK/time" | tail -1
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# normalize FORMAT FILE: sorted "word count" lines, empty words dropped.
normalize() {
  case $1 in
    ours) awk -F '\t' '$1 != "" { print $1 " " $2 }' "$2" ;;
    uniq) awk '{ n = $1; sub(/^ *[0-9]+ /, ""); if ($0 != "") print $0 " " n }' "$2" ;;
    mawk) awk '{ n = $1; sub(/^[0-9]+ /, ""); if ($0 != "") print $0 " " n }' "$2" ;;
  esac | sort
}

# bench CASE INPUT OURS_CMD [THEIR_NAME THEIR_CMD THEIR_FORMAT BAR]...
bench() {
  local case=$1 input=$2 ours=$3
  shift 3
  local bytes
  bytes=$(stat -c %s "$input")
  local mb
  mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
  local names=(ours) cmds=("$ours") formats=(ours) bars=("")
  while [ $# -gt 0 ]; do
    names+=("$1")
    cmds+=("$2")
    formats+=("$3")
    bars+=("$4")
    shift 4
  done
  for i in "${!names[@]}"; do : >"$WORK/${names[$i]}.times"; done
  for r in $(seq 1 "$RUNS"); do
    for i in "${!names[@]}"; do
      run "${names[$i]}" "$WORK/${names[$i]}.out" "${cmds[$i]}" >>"$WORK/${names[$i]}.times"
    done
  done
  normalize ours "$WORK/ours.out" >"$WORK/ours.norm"
  local ours_s ours_rss
  ours_s=$(awk '{ print $1 }' "$WORK/ours.times" | median)
  ours_rss=$(awk '{ print $2 }' "$WORK/ours.times" | sort -n | tail -1)
  printf '%-34s %-10s %8.2f s %8.1f MB/s  peak RSS %6.1f MiB' "$case ($mb MiB)" spillway \
    "$ours_s" "$(awk -v m="$mb" -v s="$ours_s" 'BEGIN { print m / s }')" \
    "$(awk -v k="$ours_rss" 'BEGIN { print k / 1024 }')"
  if [ "$ours_rss" -le "$rss_limit_kib" ]; then echo "  (<= budget + 64 MiB: ok)"; else
    echo "  (> budget + 64 MiB: MISSED)"
  fi
  for i in "${!names[@]}"; do
    [ "$i" -eq 0 ] && continue
    local name=${names[$i]} s rss ratio verdict same
    s=$(awk '{ print $1 }' "$WORK/$name.times" | median)
    rss=$(awk '{ print $2 }' "$WORK/$name.times" | sort -n | tail -1)
    ratio=$(awk -v a="$ours_s" -v b="$s" 'BEGIN { printf "%.3f", a / b }')
    verdict=$(awk -v r="$ratio" -v bar="${bars[$i]}" 'BEGIN { print (r <= bar) ? "met" : "MISSED" }')
    normalize "${formats[$i]}" "$WORK/$name.out" >"$WORK/$name.norm"
    if cmp -s "$WORK/ours.norm" "$WORK/$name.norm"; then same="outputs equal"; else
      same="OUTPUTS DIFFER"
      FAILED=1
    fi
    printf '%-34s %-10s %8.2f s %8.1f MB/s  peak RSS %6.1f MiB  ratio %s (bar <= %s: %s), %s\n' \
      "" "$name" "$s" "$(awk -v m="$mb" -v s="$s" 'BEGIN { print m / s }')" \
      "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" "$ratio" "${bars[$i]}" "$verdict" "$same"
  done
}

echo "spillway count vs pipelines: $RUNS alternating runs each, median; -S $BUDGET, --threads $THREADS"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%FT%TZ)"
for size in "${SIZES[@]}"; do
  text=${TEXT_FILE:-$CACHE/text-$size.txt}
  lines=${LINES_FILE:-$CACHE/lines-$size.txt}
  [[ " ${CASES:-low high} " != *" low "* ]] || [ -s "$text" ] || $SPILLWAY gen text --size "$size" -o "$text"
  [ -s "$lines" ] || $SPILLWAY gen lines --size "$size" -o "$lines"
  if [[ " ${CASES:-low high} " == *" low "* ]]; then
  bench "low cardinality text" "$text" \
    "$SPILLWAY count --tokenizer letters -S $BUDGET --threads $THREADS '$text'" \
    mcilroy "tr -cs A-Za-z '\\n' < '$text' | tr A-Z a-z | sort -S 64M | uniq -c | sort -rn" uniq 0.1 \
    mawk "mawk '{ \$0 = tolower(\$0); gsub(/[^a-z]+/, \" \"); for (i = 1; i <= NF; i++) c[\$i]++ } END { for (w in c) print c[w], w }' '$text'" mawk 0.2
  fi
  [[ " ${CASES:-low high} " == *" high "* ]] || continue
  bench "high cardinality, word order" "$lines" \
    "$SPILLWAY count --tokenizer whitespace --order word -S $BUDGET --threads $THREADS '$lines'" \
    sort-uniq "tr -s ' ' '\\n' < '$lines' | sort -S 64M | uniq -c" uniq 0.6
  bench "high cardinality, count order" "$lines" \
    "$SPILLWAY count --tokenizer whitespace -S $BUDGET --threads $THREADS '$lines'" \
    sort-uniq-sort "tr -s ' ' '\\n' < '$lines' | sort -S 64M | uniq -c | sort -S 64M -k1,1nr -k2,2" uniq 0.5
done
exit $FAILED

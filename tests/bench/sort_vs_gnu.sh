#!/usr/bin/env bash
# spillway sort vs `LC_ALL=C sort -S 64M --parallel=2`, side by side (ratios, not seconds).
#
# Usage: tests/bench/sort_vs_gnu.sh [CASE...]
#   CASE: words-100m, words-1g, lines-1g (default: all three)
#   ROUNDS=3     runs of each tool on the 100 MiB case (alternating which goes first)
#   ROUNDS_1G=1  runs of each tool on the 1 GiB cases (they take minutes on a shared machine)
#   MEMORY=64m   both tools' budget;  CORPUS=/work/corpus  where the corpora are looked for
#   SYNC=1       `sync` before each timed run (0: leave it out)
#   DOCS=1       also write docs/performance.md and docs/performance.svg from the results
#
# Corpora: $CORPUS/words-zipf-100m.txt, words-zipf-1g.txt, lines-unique-1g.txt when present,
# else built once with `spillway gen text|lines` into tests/bench/.cache/.
# Prints per case: median wall time of each tool, the ratio spillway/GNU, CPU use
# ((user+sys)/wall), peak RSS (/usr/bin/time %M), spillway's runs, merge passes and phase times
# (--stats=json), and whether the outputs are byte-identical in every round.
# Bars (issue 11, docs/DESIGN.md): ratio <= 0.6 on 1 GiB, <= 0.7 on 100 MiB; peak RSS <= budget
# + 64 MiB; 1 GiB peak RSS within 10% of the 100 MiB one. Exit 1 if a check fails.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cache="$root/tests/bench/.cache"
rounds="${ROUNDS:-3}"
rounds_1g="${ROUNDS_1G:-1}"
memory="${MEMORY:-64m}"
corpus_dir="${CORPUS:-/work/corpus}"
cases=("$@")
[ ${#cases[@]} -eq 0 ] && cases=(words-100m words-1g lines-1g)
mkdir -p "$cache"
work="$(mktemp -d "${TMPDIR:-/tmp}/sort-vs-gnu.XXXXXX")"
trap 'rm -rf "$work"' EXIT
spill="$work/spill"
mkdir -p "$spill"

# The flags of `deno task spillway` and the compiled binary (tests/_support/compile.ts
# SPILLWAY_V8_FLAGS): a 1 MiB young generation keeps the RSS from growing with the allocation
# rate; --no-liftoff compiles WebAssembly kernels with the optimizing tier at once.
v8_flags="${SPILLWAY_V8_FLAGS:---max-semi-space-size=1,--no-liftoff}"
# What users run: the built JavaScript (tests/bench/entry.sh; SPILLWAY_SOURCE=1: main.ts).
# shellcheck source=entry.sh
. "$root/tests/bench/entry.sh"
spillway=(deno run --allow-read --allow-write --allow-env --allow-ffi --allow-sys
  "--v8-flags=$v8_flags" "$(spillway_entry "$root")")

corpus() { # case -> path (the shared corpus, else built once)
  local kind size shared
  case "$1" in
    words-100m) kind=text; size=100m; shared=words-zipf-100m.txt ;;
    words-1g) kind=text; size=1g; shared=words-zipf-1g.txt ;;
    lines-1g) kind=lines; size=1g; shared=lines-unique-1g.txt ;;
    *) echo "unknown case $1 (use words-100m, words-1g, lines-1g)" >&2; exit 2 ;;
  esac
  if [ -s "$corpus_dir/$shared" ]; then echo "$corpus_dir/$shared"; return; fi
  local path="$cache/$kind-$size.txt"
  if [ ! -s "$path" ]; then
    echo "building $path ..." >&2
    "${spillway[@]}" gen "$kind" --size "$size" --seed 42 -o "$path.tmp" >&2
    mv "$path.tmp" "$path"
  fi
  echo "$path"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# Before each timed run: write back what the previous run left dirty (its 1 GiB output, spill
# files), so that neither tool's run pays for the other's writeback (SYNC=0 leaves it out).
settle() { [ "${SYNC:-1}" = 0 ] || sync; }

run_gnu() { # input -> appends "wall rss cpu" to gnu.runs
  settle
  /usr/bin/time -o "$work/t" -f "%e %M %U %S" env LC_ALL=C sort -S "${memory^^}" --parallel=2 \
    -T "$spill" "$1" >"$work/gnu.out"
  awk '{ printf "%s %s %.2f\n", $1, $2, ($3 + $4) / ($1 > 0 ? $1 : 1) }' "$work/t" >>"$work/gnu.runs"
}

run_ours() { # input -> appends "wall rss cpu" to ours.runs, stats json to ours.stats
  settle
  /usr/bin/time -o "$work/t" -f "%e %M %U %S" "${spillway[@]}" sort -S "$memory" -T "$spill" \
    --stats=json --stats-file "$work/stats.json" "$1" >"$work/ours.out"
  awk '{ printf "%s %s %.2f\n", $1, $2, ($3 + $4) / ($1 > 0 ? $1 : 1) }' "$work/t" >>"$work/ours.runs"
  cp "$work/stats.json" "$work/ours.stats"
}

budget_kib=$(( $(numfmt --from=iec "${memory^^}") / 1024 ))
rss_bar=$((budget_kib + 64 * 1024))
failed=0
declare -A rss_of
results="$work/results.tsv"
printf 'case\tbytes\tgnu_s\tours_s\tratio\tgnu_cpu\tours_cpu\tgnu_rss_kib\tours_rss_kib\truns\tpasses\tphases\tidentical\trounds\n' >"$results"

for name in "${cases[@]}"; do
  input="$(corpus "$name")"
  n="$rounds"; case "$name" in *-1g) n="$rounds_1g" ;; esac
  : >"$work/gnu.runs"; : >"$work/ours.runs"; same=identical
  for round in $(seq 1 "$n"); do
    # Alternate which tool goes first, so a slow spell of the shared machine hits both.
    if [ $((round % 2)) -eq 1 ]; then run_gnu "$input"; run_ours "$input"
    else run_ours "$input"; run_gnu "$input"; fi
    if ! cmp -s "$work/gnu.out" "$work/ours.out"; then same=DIFFERENT; failed=1; fi
    rm -f "$work/gnu.out" "$work/ours.out"
  done
  gnu=$(cut -d' ' -f1 "$work/gnu.runs" | median); ours=$(cut -d' ' -f1 "$work/ours.runs" | median)
  gnu_cpu=$(cut -d' ' -f3 "$work/gnu.runs" | median)
  ours_cpu=$(cut -d' ' -f3 "$work/ours.runs" | median)
  gnu_rss=$(cut -d' ' -f2 "$work/gnu.runs" | sort -n | tail -1)
  ours_rss=$(cut -d' ' -f2 "$work/ours.runs" | sort -n | tail -1)
  ratio=$(awk -v a="$ours" -v b="$gnu" 'BEGIN { printf "%.2f", a / b }')
  # runs, passes and phase times of the last spillway run
  read -r runs passes phases < <(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
t = s["timeMs"]
cpu = s.get("cpuMs", {})
parts = []
for k in ("read", "sort", "spill", "merge", "write"):
    if t.get(k, 0) > 0:
        use = f" cpu {cpu[k] / t[k]:.2f}" if k in cpu else ""
        parts.append(f"{k} {t[k] / 1000:.2f}s{use}")
print(s["spill"]["runs"], s["spill"]["mergePasses"], "; ".join(parts) or "-")
' "$work/ours.stats")
  rss_of["$name"]=$ours_rss
  bytes=$(stat -c %s "$input")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$bytes" "$gnu" \
    "$ours" "$ratio" "$gnu_cpu" "$ours_cpu" "$gnu_rss" "$ours_rss" "$runs" "$passes" "$phases" \
    "$same" "$n" >>"$results"
  printf '%-10s gnu %7.2fs (cpu %.2f)  spillway %7.2fs (cpu %.2f)  ratio %s  peak RSS spillway %d MiB (bar %d) gnu %d MiB  runs %s passes %s  output %s  (%s rounds)\n' \
    "$name" "$gnu" "$gnu_cpu" "$ours" "$ours_cpu" "$ratio" $((ours_rss / 1024)) \
    $((rss_bar / 1024)) $((gnu_rss / 1024)) "$runs" "$passes" "$same" "$n"
  echo "           spillway phases: $phases"
  bar=0.7; case "$name" in *-1g) bar=0.6 ;; esac
  if awk -v r="$ratio" -v b="$bar" 'BEGIN { exit !(r > b) }'; then
    echo "  BAR MISSED: ratio $ratio > $bar"; failed=1
  fi
  if [ "$ours_rss" -gt "$rss_bar" ]; then
    echo "  BAR MISSED: peak RSS $((ours_rss / 1024)) MiB > budget + 64 MiB"; failed=1
  fi
done

small="${rss_of[words-100m]:-}"; big="${rss_of[words-1g]:-}"
if [ -n "$small" ] && [ -n "$big" ]; then
  growth=$(awk -v a="$big" -v b="$small" 'BEGIN { printf "%.1f", (a / b - 1) * 100 }')
  echo "words: 1 GiB peak RSS is ${growth}% above 100 MiB"
  if awk -v g="$growth" 'BEGIN { exit !(g > 10) }'; then
    echo "  BAR MISSED: RSS grows with input size"; failed=1
  fi
fi

if [ "${DOCS:-0}" = 1 ]; then
  python3 "$root/tests/bench/_perf_docs.py" "$results" "$root/docs" "$memory" \
    "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%d)"
  deno fmt --quiet "$root/docs/performance.md" "$root/docs/performance.svg"
fi
exit "$failed"

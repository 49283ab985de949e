#!/usr/bin/env bash
# spillway sort vs `LC_ALL=C sort -S 64M --parallel=2`, side by side (ratios, not seconds).
#
# Usage: tests/bench/sort_vs_gnu.sh [SIZE...]     SIZE: 100m, 1g (default: 100m 1g)
#   ROUNDS=3 (runs of each tool, alternating), MEMORY=64m (both tools' budget)
#
# Corpora (`spillway gen text|lines`, fallback tests/bench/_gen_corpus.py) are built once and
# cached under tests/bench/.cache/. Prints per corpus: median wall time of each tool, the ratio
# spillway/GNU, peak RSS (/usr/bin/time -f %M) and whether the outputs are byte-identical.
# Bars (docs/DESIGN.md): ratio <= 0.5 on the 1 GiB corpora; peak RSS <= budget + 48 MiB; the
# 1 GiB peak RSS within 10% of the 100 MiB one. Exit 1 if a check fails.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cache="$root/tests/bench/.cache"
rounds="${ROUNDS:-3}"
memory="${MEMORY:-64m}"
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(100m 1g)
mkdir -p "$cache"
work="$(mktemp -d "${TMPDIR:-/tmp}/sort-vs-gnu.XXXXXX")"
trap 'rm -rf "$work"' EXIT
spill="$work/spill"
mkdir -p "$spill"

# The flags of `deno task spillway` and the compiled binary (tests/_support/compile.ts
# SPILLWAY_V8_FLAGS): a 1 MiB young generation keeps the RSS from growing with the allocation
# rate; --no-liftoff compiles WebAssembly kernels with the optimizing tier at once.
v8_flags="${SPILLWAY_V8_FLAGS:---max-semi-space-size=1,--no-liftoff}"
spillway=(deno run --allow-read --allow-write --allow-env --allow-ffi --allow-sys
  "--v8-flags=$v8_flags" "$root/main.ts")

size_bytes() {
  case "$1" in
    100m) echo $((100 * 1024 * 1024)) ;;
    1g) echo $((1024 * 1024 * 1024)) ;;
    *) echo "unknown size $1 (use 100m or 1g)" >&2; exit 2 ;;
  esac
}

corpus() { # kind size -> path (built once)
  local kind="$1" size="$2" path="$cache/$1-$2.txt"
  if [ ! -s "$path" ]; then
    echo "building $path ..." >&2
    if ! "${spillway[@]}" gen "$kind" --size "$size" --seed 42 -o "$path.tmp" >&2; then
      python3 "$root/tests/bench/_gen_corpus.py" "$kind" "$(size_bytes "$size")" "$path.tmp"
    fi
    mv "$path.tmp" "$path"
  fi
  echo "$path"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

budget_kib=$(( $(numfmt --from=iec "${memory^^}") / 1024 ))
failed=0
declare -A rss_of

for size in "${sizes[@]}"; do
  for kind in text lines; do
    input="$(corpus "$kind" "$size")"
    : >"$work/gnu.times"; : >"$work/ours.times"; : >"$work/gnu.rss"; : >"$work/ours.rss"
    for round in $(seq 1 "$rounds"); do
      /usr/bin/time -o "$work/t" -f "%e %M" env LC_ALL=C sort -S "${memory^^}" --parallel=2 \
        -T "$spill" "$input" >"$work/gnu.out"
      read -r wall rss <"$work/t"; echo "$wall" >>"$work/gnu.times"; echo "$rss" >>"$work/gnu.rss"
      /usr/bin/time -o "$work/t" -f "%e %M" "${spillway[@]}" sort -S "$memory" -T "$spill" \
        "$input" >"$work/ours.out"
      read -r wall rss <"$work/t"; echo "$wall" >>"$work/ours.times"; echo "$rss" >>"$work/ours.rss"
      if cmp -s "$work/gnu.out" "$work/ours.out"; then same=identical; else same=DIFFERENT; failed=1; fi
      rm -f "$work/gnu.out" "$work/ours.out"
    done
    gnu=$(median <"$work/gnu.times"); ours=$(median <"$work/ours.times")
    ours_rss=$(sort -n "$work/ours.rss" | tail -1); gnu_rss=$(sort -n "$work/gnu.rss" | tail -1)
    ratio=$(awk -v a="$ours" -v b="$gnu" 'BEGIN { printf "%.2f", a / b }')
    rss_of["$kind-$size"]=$ours_rss
    rss_bar=$((budget_kib + 48 * 1024))
    printf '%-6s %-5s gnu %7.2fs  spillway %7.2fs  ratio %s  peak RSS spillway %d MiB (bar %d) gnu %d MiB  output %s\n' \
      "$kind" "$size" "$gnu" "$ours" "$ratio" $((ours_rss / 1024)) $((rss_bar / 1024)) \
      $((gnu_rss / 1024)) "$same"
    if [ "$size" = 1g ] && awk -v r="$ratio" 'BEGIN { exit !(r > 0.5) }'; then
      echo "  BAR MISSED: ratio $ratio > 0.5"; failed=1
    fi
    if [ "$ours_rss" -gt "$rss_bar" ]; then
      echo "  BAR MISSED: peak RSS $((ours_rss / 1024)) MiB > budget + 48 MiB"; failed=1
    fi
  done
done

for kind in text lines; do
  small="${rss_of[$kind-100m]:-}"; big="${rss_of[$kind-1g]:-}"
  if [ -n "$small" ] && [ -n "$big" ]; then
    growth=$(awk -v a="$big" -v b="$small" 'BEGIN { printf "%.1f", (a / b - 1) * 100 }')
    echo "$kind: 1 GiB peak RSS is ${growth}% above 100 MiB"
    if awk -v g="$growth" 'BEGIN { exit !(g > 10) }'; then
      echo "  BAR MISSED: RSS grows with input size"; failed=1
    fi
  fi
done
exit "$failed"

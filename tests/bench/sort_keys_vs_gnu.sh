#!/usr/bin/env bash
# Keyed sorts (`-k2`, `-n -k3,3`: keyed runs, docs/spill-format.md) of ~72 MiB of 4-field lines:
# spillway (this checkout, and BEFORE=DIR, another checkout, when given) against
# `LC_ALL=C sort -S 64M --parallel=2`, side by side, alternating, medians, outputs compared.
#
# Usage: tests/bench/sort_keys_vs_gnu.sh
#   ROUNDS=3, MEMORY=64m; BEFORE=DIR: a second spillway checkout (e.g. the session's start);
#   CORPUS=/work/corpus/words-zipf-100m.txt: the words the fields are taken from
#   CASES="-k2|-n -k3,3": the option sets, separated by |
# The input (tests/bench/.cache/fields-72m.txt) is built once with awk: per corpus line, two of
# its words, a number in [-300000, 700000) and another word; then again with other columns.
# Prints per case and tool: median wall seconds, median CPU seconds (user + sys: steadier on a
# shared machine), median peak RSS, the ratios to GNU, and whether every output was identical.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cache="$root/tests/bench/.cache"
rounds="${ROUNDS:-3}"
memory="${MEMORY:-64m}"
corpus="${CORPUS:-/work/corpus/words-zipf-100m.txt}"
before="${BEFORE:-}"
IFS='|' read -r -a cases <<<"${CASES:--k2|-n -k3,3}"
mkdir -p "$cache"
input="$cache/fields-72m.txt"
if [ ! -s "$input" ]; then
  awk 'BEGIN { srand(42) }
    { printf "%s %s %d %s\n", $1, ($2 == "" ? "x" : $2), int(rand() * 1000000) - 300000, $NF }' \
    "$corpus" >"$input.tmp"
  awk 'BEGIN { srand(43) }
    { printf "%s %s %d %s\n", $NF, $1, int(rand() * 1000000) - 300000, ($2 == "" ? "x" : $2) }' \
    "$corpus" >>"$input.tmp"
  mv "$input.tmp" "$input"
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/sort-keys.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/spill"
flags="--v8-flags=--max-semi-space-size=1,--no-liftoff"

run() { # name dir|gnu args... -> "wall cpu rss" appended to $work/name.times
  local name="$1" dir="$2"
  shift 2
  local out="$work/out.$name"
  if [ "$dir" = gnu ]; then
    LC_ALL=C /usr/bin/time -f "%e %U %S %M" -o "$work/t" sort "$@" -S "${memory^^}" --parallel=2 \
      -T "$work/spill" -o "$out" "$input"
  else
    (cd "$dir" && /usr/bin/time -f "%e %U %S %M" -o "$work/t" deno run --allow-read --allow-write \
      --allow-env --allow-ffi --allow-sys --allow-run "$flags" main.ts sort "$@" -S "$memory" \
      -T "$work/spill" -o "$out" "$input")
  fi
  awk '{ printf "%s %.2f %d\n", $1, $2 + $3, $4 }' "$work/t" >>"$work/$name.times"
}

median() { # column file
  sort -n -k"$1","$1" "$2" | awk -v c="$1" '{ v[NR] = $c } END { print v[int((NR + 1) / 2)] }'
}

echo "input: $input ($(wc -c <"$input") bytes), -S $memory, $rounds rounds, load: $(cut -d' ' -f1-3 /proc/loadavg)"
for case in "${cases[@]}"; do
  read -r -a args <<<"$case"
  rm -f "$work"/*.times
  identical=yes
  tools=(spillway gnu)
  [ -n "$before" ] && tools=(spillway before gnu)
  for round in $(seq 1 "$rounds"); do
    for tool in "${tools[@]}"; do
      case "$tool" in
        spillway) run spillway "$root" "${args[@]}" ;;
        before) run before "$before" "${args[@]}" ;;
        gnu) run gnu gnu "${args[@]}" ;;
      esac
    done
    for tool in "${tools[@]}"; do
      cmp -s "$work/out.$tool" "$work/out.gnu" || identical=no
    done
  done
  gnu_wall="$(median 1 "$work/gnu.times")"
  gnu_cpu="$(median 2 "$work/gnu.times")"
  for tool in "${tools[@]}"; do
    wall="$(median 1 "$work/$tool.times")"
    cpu="$(median 2 "$work/$tool.times")"
    rss="$(median 3 "$work/$tool.times")"
    printf 'sort %-10s %-8s wall %6.2f s (%.2fx GNU)  cpu %6.2f s (%.2fx GNU)  peak RSS %d MiB\n' \
      "$case" "$tool" "$wall" "$(echo "$wall / $gnu_wall" | bc -l)" "$cpu" \
      "$(echo "$cpu / $gnu_cpu" | bc -l)" $((rss / 1024))
  done
  echo "sort $case: outputs identical to GNU in every round: $identical"
done

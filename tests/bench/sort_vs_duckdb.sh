#!/usr/bin/env bash
# spillway sort vs DuckDB's ORDER BY (and GNU sort as the common yardstick), side by side.
#
# Usage: tests/bench/sort_vs_duckdb.sh [CASE...]
#   CASE: words-100m, words-1g, lines-1g (default: words-100m)
#   ROUNDS=3              runs of each tool per case (alternating which goes first)
#   MEMORY=64m            spillway's and GNU sort's budget
#   DUCKDB_LIMITS="64MB 128MB 256MB"  DuckDB memory_limit values to try (each its own row)
#   CORPUS=/work/corpus   where the corpora are looked for (build them with ../shared/bench/corpus.sh)
#   SPILLWAY_SOURCE=1     run main.ts (the TypeScript sources) instead of the built dist/js/main.js
#   DOCS=1                also write the table to docs/performance-duckdb.md
#   SYNC=1                `sync` before each timed run (0: leave it out)
#   DUCKDB_VERSION=1.4.1-r.4  the @duckdb/node-api release, installed once with npm into
#                         tests/bench/.cache/duckdb (needs the npm registry)
# DuckDB reads the file as one VARCHAR column (no quoting, \x01 delimiter), sorts with
# COLLATE "C" (byte order, as LC_ALL=C sort) on 2 threads and writes the lines back; its output
# is compared with GNU sort's. A limit DuckDB cannot sort within is reported as "out of memory".
# Prints per tool: median wall time, ratio to GNU sort, CPU use, peak RSS, identical output.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cache="$root/tests/bench/.cache"
rounds="${ROUNDS:-3}"
memory="${MEMORY:-64m}"
limits=(${DUCKDB_LIMITS:-64MB 128MB 256MB})
corpus_dir="${CORPUS:-/work/corpus}"
version="${DUCKDB_VERSION:-1.4.1-r.4}"
cases=("$@")
[ ${#cases[@]} -eq 0 ] && cases=(words-100m)
mkdir -p "$cache"
work="$(mktemp -d "${TMPDIR:-/tmp}/sort-vs-duckdb.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/spill"

duck_dir="$cache/duckdb"
if [ ! -f "$duck_dir/node_modules/@duckdb/node-api/package.json" ] ||
  ! grep -q "\"version\": \"$version\"" "$duck_dir/node_modules/@duckdb/node-api/package.json"; then
  echo "installing @duckdb/node-api@$version into $duck_dir ..." >&2
  mkdir -p "$duck_dir"
  npm install --silent --prefix "$duck_dir" "@duckdb/node-api@$version" >&2
fi
cp "$root/tests/bench/_duckdb_sort.mjs" "$duck_dir/duckdb_sort.mjs"

v8_flags="${SPILLWAY_V8_FLAGS:---max-semi-space-size=1,--no-liftoff}"
# What users run: the built JavaScript, as in sort_vs_gnu.sh (SPILLWAY_SOURCE=1: main.ts).
# shellcheck source=entry.sh
. "$root/tests/bench/entry.sh"
spillway=(deno run --allow-read --allow-write --allow-env --allow-ffi --allow-sys
  "--v8-flags=$v8_flags" "$(spillway_entry "$root")")

corpus() { # case -> path
  local shared
  case "$1" in
    words-100m) shared=words-zipf-100m.txt ;;
    words-1g) shared=words-zipf-1g.txt ;;
    lines-1g) shared=lines-unique-1g.txt ;;
    *) echo "unknown case $1 (use words-100m, words-1g, lines-1g)" >&2; exit 2 ;;
  esac
  if [ -s "$corpus_dir/$shared" ]; then echo "$corpus_dir/$shared"; return; fi
  echo "missing $corpus_dir/$shared: build it with ../shared/bench/corpus.sh or run sort_vs_gnu.sh once" >&2
  exit 2
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

timed() { # tool-name output command... -> appends "wall rss cpu status" to $work/<tool>.runs
  local tool="$1" out="$2" status=0
  shift 2
  # As in sort_vs_gnu.sh: the previous run's dirty pages are written out before, not during, a run.
  [ "${SYNC:-1}" = 0 ] || sync
  /usr/bin/time -o "$work/t" -f "%e %M %U %S" "$@" >"$out" 2>"$work/err" || status=$?
  if [ "$status" -ne 0 ]; then tail -1 "$work/err" | sed "s/^/  $tool: /" >&2; fi
  awk -v s="$status" '{ printf "%s %s %.2f %s\n", $1, $2, ($3 + $4) / ($1 > 0 ? $1 : 1), s }' \
    "$work/t" | tail -1 >>"$work/$tool.runs"
}

run_tool() { # tool input
  case "$1" in
    gnu) timed gnu "$work/gnu.out" env LC_ALL=C sort -S "${memory^^}" --parallel=2 \
      -T "$work/spill" "$2" ;;
    spillway) timed spillway "$work/spillway.out" "${spillway[@]}" sort -S "$memory" \
      -T "$work/spill" "$2" ;;
    duckdb-*) timed "$1" /dev/null node "$duck_dir/duckdb_sort.mjs" "$2" "$work/$1.out" \
      "${1#duckdb-}" 2 "$work/spill/duck" ;;
  esac
}

tools=(gnu spillway)
for limit in "${limits[@]}"; do tools+=("duckdb-$limit"); done
printf '%-10s %-16s %9s %7s %5s %9s  %s\n' case tool wall ratio cpu "peak RSS" output
table="$work/table.md"
: >"$table"
for name in "${cases[@]}"; do
  input="$(corpus "$name")"
  for tool in "${tools[@]}"; do : >"$work/$tool.runs"; echo identical >"$work/$tool.same"; done
  for round in $(seq 1 "$rounds"); do
    order=("${tools[@]}")
    # Alternate the order, so a slow spell of the shared machine hits every tool.
    if [ $((round % 2)) -eq 0 ]; then
      order=(); for ((i = ${#tools[@]} - 1; i >= 0; i--)); do order+=("${tools[i]}"); done
    fi
    for tool in "${order[@]}"; do run_tool "$tool" "$input"; done
    for tool in "${tools[@]}"; do
      [ "$tool" = gnu ] && continue
      status=$(tail -1 "$work/$tool.runs" | cut -d' ' -f4)
      if [ "$status" = 3 ]; then echo "out of memory" >"$work/$tool.same"
      elif [ "$status" != 0 ]; then echo "failed (exit $status)" >"$work/$tool.same"
      elif ! cmp -s "$work/gnu.out" "$work/$tool.out"; then echo DIFFERENT >"$work/$tool.same"; fi
      rm -f "$work/$tool.out"
    done
    rm -f "$work/gnu.out"
  done
  gnu=$(cut -d' ' -f1 "$work/gnu.runs" | median)
  for tool in "${tools[@]}"; do
    wall=$(cut -d' ' -f1 "$work/$tool.runs" | median)
    cpu=$(cut -d' ' -f3 "$work/$tool.runs" | median)
    rss=$(cut -d' ' -f2 "$work/$tool.runs" | sort -n | tail -1)
    ratio=$(awk -v a="$wall" -v b="$gnu" 'BEGIN { printf "%.2f", a / b }')
    case "$(cat "$work/$tool.same")" in identical | DIFFERENT) ;; *) ratio=- ;; esac
    printf '%-10s %-16s %8.2fs %7s %5.2f %5d MiB  %s\n' "$name" "$tool" "$wall" "$ratio" "$cpu" \
      $((rss / 1024)) "$(cat "$work/$tool.same")"
    printf '| %s | %s | %.2f s | %s | %.2f | %d MiB | %s |\n' "$name" "$tool" "$wall" "$ratio" \
      "$cpu" $((rss / 1024)) "$(cat "$work/$tool.same")" >>"$table"
  done
done
machine="$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%d)"
echo "($rounds rounds; $machine)"
if [ "${DOCS:-0}" = 1 ]; then
  {
    echo "# Performance against DuckDB"
    echo
    echo "Generated by \`DOCS=1 tests/bench/sort_vs_duckdb.sh\` (do not edit by hand): spillway"
    echo "\`sort -S $memory\`, \`LC_ALL=C sort -S ${memory^^} --parallel=2\` and DuckDB $version"
    echo "(\`ORDER BY line COLLATE \"C\"\` over the file read as one VARCHAR column, 2 threads, at each"
    echo "\`memory_limit\` shown) on the same file, alternating the order, a \`sync\` before each run"
    echo "(unless SYNC=0); medians of $rounds rounds;"
    echo "ratio = wall time / GNU sort's; outputs compared byte for byte with GNU sort's."
    echo
    echo "Machine: $machine."
    echo
    echo "| input | tool | wall | ratio | CPU use | peak RSS | output |"
    echo "|---|---|---|---|---|---|---|"
    cat "$table"
    echo
    echo "A DuckDB row marked \"out of memory\" is a \`memory_limit\` DuckDB could not sort within:"
    echo "it stops with an Out of Memory error instead of spilling more."
  } >"$root/docs/performance-duckdb.md"
  deno fmt --quiet "$root/docs/performance-duckdb.md"
  echo "wrote docs/performance-duckdb.md"
fi

#!/usr/bin/env bash
# `count --tokenizer whitespace --order word` in BEFORE_DIR vs this checkout as `--threads auto`
# decides on an idle machine (SPILLWAY_TEST_IDLE_CORES=2: nearly unique tokens go through
# the sort engine) vs `tr -s ' \n' '\n' | LC_ALL=C
# sort -S 64M | uniq -c`, alternating, medians of wall seconds, peak RSS; outputs compared.
# Usage: tests/bench/count_via_sort.sh BEFORE_DIR CORPUS   (ROUNDS=5, MEMORY=64m)
set -euo pipefail
before="$1"
corpus="$2"
rounds="${ROUNDS:-5}"
memory="${MEMORY:-64m}"
here="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/count-via-sort.XXXXXX")"
trap 'rm -rf "$work"' EXIT
flags="--max-semi-space-size=1,--no-liftoff"
spill() { # dir env -> time line
  /usr/bin/time -f "%e %M" -o "$work/time" env $2 deno run --allow-read --allow-write --allow-env \
    --allow-ffi --allow-sys --allow-run "--v8-flags=$flags" "$1/main.ts" count --tokenizer whitespace \
    --order word -S "$memory" -T "$work" "$corpus" >"$work/out.$3"
  cat "$work/time"
}
pipe() {
  /usr/bin/time -f "%e %M" -o "$work/time" sh -c "tr -s ' \n' '\n' <'$corpus' | LC_ALL=C sort -S ${memory^^} -T '$work' | uniq -c >'$work/out.pipe'"
  cat "$work/time"
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
: >"$work/today"; : >"$work/via"; : >"$work/pipe"
uptime
for round in $(seq "$rounds"); do
  spill "$before" "X=1" today >>"$work/today"
  spill "$here" "SPILLWAY_TEST_IDLE_CORES=2" via >>"$work/via"
  pipe >>"$work/pipe"
  cmp -s "$work/out.today" "$work/out.via" || { echo "outputs differ" >&2; exit 1; }
done
uptime
t=$(cut -d' ' -f1 "$work/today" | median); v=$(cut -d' ' -f1 "$work/via" | median)
p=$(cut -d' ' -f1 "$work/pipe" | median)
echo "today $t s (rss $(cut -d' ' -f2 "$work/today" | median) KiB)  via-sort $v s (rss $(cut -d' ' -f2 "$work/via" | median) KiB)  pipeline $p s"
awk -v t="$t" -v v="$v" -v p="$p" 'BEGIN { printf "today/pipe %.2fx  via-sort/pipe %.2fx  via/today %.2fx\n", t / p, v / p, v / t }'

#!/usr/bin/env bash
# Small and empty inputs, before and after: the wall time of a sort whose input is empty, a
# device or a few lines is start-up plus what the sort does besides sorting (a Worker spawned
# and waited for, say). Two checkouts, alternating runs, medians in milliseconds.
#
# Usage: tests/bench/small_input_ab.sh BEFORE_DIR AFTER_DIR
#   ROUNDS=15; FLAGS: the --v8-flags value (default the spillway task's).
#   Each side runs what its checkout ships (tests/bench/entry.sh; SPILLWAY_SOURCE=1: main.ts).
# Prints per case: median ms before and after, the ratio after/before, and the load average.
set -euo pipefail

before="$1"
after="$2"
rounds="${ROUNDS:-15}"
flags="${FLAGS:---max-semi-space-size=1,--no-liftoff}"
work="$(mktemp -d "${TMPDIR:-/tmp}/small-input-ab.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# shellcheck source=entry.sh
. "$(dirname "$0")/entry.sh"
before_main="$(spillway_entry "$before")"
after_main="$(spillway_entry "$after")"

: >"$work/empty.txt"
printf 'b\na\nc\n' >"$work/small.txt"
cases=(
  "--version"
  "sort -S 64m /dev/null -o $work/out"
  "sort -S 64m $work/empty.txt -o $work/out"
  "sort -S 64m $work/small.txt -o $work/out"
  "sort -S 64m -o $work/out <$work/small.txt"
  "sort -S 64m -o $work/out - <<<b"
  "count $work/small.txt -o $work/out"
)

run_ms() { # main case -> milliseconds on stdout
  local start end
  start="$(date +%s%N)"
  eval "deno run --allow-read --allow-write --allow-env --allow-ffi --allow-sys --allow-run \
    --v8-flags=$flags $1 $2" >/dev/null
  end="$(date +%s%N)"
  echo $(((end - start) / 1000000))
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "load before: $(uptime | sed 's/.*load average: //')"
printf '%-52s %9s %9s %7s\n' case "before ms" "after ms" ratio
for index in "${!cases[@]}"; do
  : >"$work/before.t"
  : >"$work/after.t"
  for _ in $(seq "$rounds"); do
    run_ms "$before_main" "${cases[$index]}" >>"$work/before.t"
    run_ms "$after_main" "${cases[$index]}" >>"$work/after.t"
  done
  b="$(median <"$work/before.t")"
  a="$(median <"$work/after.t")"
  label="${cases[$index]//$work\//}"
  printf '%-52s %9s %9s %7.2f\n' "$label" "$b" "$a" "$(echo "$a / $b" | bc -l)"
done
echo "load after: $(uptime | sed 's/.*load average: //')"

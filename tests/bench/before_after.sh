#!/usr/bin/env bash
# End-to-end before/after: the same commands from two checkouts of spillway, side by side,
# alternating, medians of wall time and peak RSS (/usr/bin/time -v), outputs compared.
#
# Usage: tests/bench/before_after.sh BEFORE_DIR AFTER_DIR [CORPUS]
#   BEFORE_DIR, AFTER_DIR: checkouts (e.g. `git archive main | tar -x -C /tmp/before`)
#   CORPUS: default /work/corpus/words-zipf-100m.txt
#   ROUNDS=5, MEMORY=64m; BEFORE_FLAGS / AFTER_FLAGS: each side's --v8-flags value (default:
#   what that checkout's deno.json `spillway` task uses); COMMANDS="sort count" (which to run);
#   SYNC=1: `sync` before each timed run (0: leave it out);
#   COUNT_ARGS: extra options of `count` (e.g. "--tokenizer whitespace --order word").
#   Each side runs what its checkout ships: dist/js/main.js where it has `deno task build`
#   (tests/bench/entry.sh; SPILLWAY_SOURCE=1: main.ts on both sides).
# Prints per command: median wall seconds before and after, the ratio after/before, the same for
# CPU seconds (user + sys: steadier than wall time on a shared machine), median peak RSS.
set -euo pipefail

before="$1"
after="$2"
corpus="${3:-/work/corpus/words-zipf-100m.txt}"
rounds="${ROUNDS:-5}"
memory="${MEMORY:-64m}"
work="$(mktemp -d "${TMPDIR:-/tmp}/before-after.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# shellcheck source=entry.sh
. "$(dirname "$0")/entry.sh"

task_flags() { # checkout -> the --v8-flags value of its spillway task (a string or an object)
  grep -A3 '"spillway":' "$1/deno.json" | grep -m1 -- '--v8-flags=' |
    sed -E 's/.*--v8-flags=([^ ]+).*/\1/'
}
before_flags="${BEFORE_FLAGS:-$(task_flags "$before")}"
after_flags="${AFTER_FLAGS:-$(task_flags "$after")}"
before_main="$(spillway_entry "$before")"
after_main="$(spillway_entry "$after")"

run() { # side command... -> "seconds cpu_seconds rss_kib" on stdout, output in $work/out.$side
  local side="$1" main flags
  shift
  if [ "$side" = before ]; then main="$before_main" flags="$before_flags"; else main="$after_main" flags="$after_flags"; fi
  # The previous run's output and spills are written back first, not during this run (SYNC=0: no).
  [ "${SYNC:-1}" = 0 ] || sync
  /usr/bin/time -f "%e %U %S %M" -o "$work/time" deno run --allow-read --allow-write --allow-env \
    --allow-ffi --allow-sys "--v8-flags=$flags" "$main" "$@" -T "$work" \
    >"$work/out.$side"
  awk '{ printf "%s %.2f %s\n", $1, $2 + $3, $4 }' "$work/time"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

for command in ${COMMANDS:-sort count}; do
  for side in before after; do : >"$work/$side.t"; : >"$work/$side.c"; : >"$work/$side.m"; done
  for round in $(seq "$rounds"); do
    for side in before after; do
      extra=""
      [ "$command" = count ] && extra="${COUNT_ARGS:-}"
      # shellcheck disable=SC2086 # extra holds several options
      read -r seconds cpu rss < <(run "$side" "$command" $extra -S "$memory" "$corpus")
      echo "$seconds" >>"$work/$side.t"
      echo "$cpu" >>"$work/$side.c"
      echo "$rss" >>"$work/$side.m"
    done
    cmp -s "$work/out.before" "$work/out.after" || { echo "$command: outputs differ" >&2; exit 1; }
  done
  tb=$(median <"$work/before.t"); ta=$(median <"$work/after.t")
  cb=$(median <"$work/before.c"); ca=$(median <"$work/after.c")
  mb=$(median <"$work/before.m"); ma=$(median <"$work/after.m")
  awk -v c="$command" -v tb="$tb" -v ta="$ta" -v cb="$cb" -v ca="$ca" -v mb="$mb" -v ma="$ma" \
    -v r="$rounds" 'BEGIN {
    printf "%-6s -S '"$memory"' x%d: wall %.2f -> %.2f s (%.3f), cpu %.2f -> %.2f s (%.3f); peak RSS %.0f -> %.0f MiB\n",
      c, r, tb, ta, ta / tb, cb, ca, ca / cb, mb / 1024, ma / 1024 }'
  echo "  wall before: $(tr '\n' ' ' <"$work/before.t") after: $(tr '\n' ' ' <"$work/after.t")"
  echo "  cpu  before: $(tr '\n' ' ' <"$work/before.c") after: $(tr '\n' ' ' <"$work/after.c")"
done

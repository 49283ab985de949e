#!/usr/bin/env bash
# The output path of a large sort, side by side: two checkouts, each output mode, alternating,
# `sync` before every timed run (the previous run's output is otherwise written back during the
# next one), outputs compared and deleted after each round. Prints median wall / user / sys.
#
# Usage: tests/bench/output_path_ab.sh BEFORE_DIR AFTER_DIR [CORPUS]
#   CORPUS: default /work/corpus/words-zipf-1g.txt; ROUNDS=3, MEMORY=64m
#   MODES="o-new o-old stdout": -o to a new file, -o over an existing file, stdout > new file
#   OUT_DIR: where outputs go (default: a temp dir under TMPDIR); spill files go there too.
set -euo pipefail

before="$1"
after="$2"
corpus="${3:-/work/corpus/words-zipf-1g.txt}"
rounds="${ROUNDS:-3}"
memory="${MEMORY:-64m}"
work="$(mktemp -d "${OUT_DIR:-${TMPDIR:-/tmp}}/output-ab.XXXXXX")"
trap 'rm -rf "$work"' EXIT
flags="--max-semi-space-size=1,--no-liftoff"

run() { # side mode -> "wall user sys" on stdout; output in $work/out.$side
  local side="$1" mode="$2" dir out="$work/out.$1"
  if [ "$side" = before ]; then dir="$before"; else dir="$after"; fi
  rm -f "$out"
  [ "$mode" = o-old ] && head -c 1048576 "$corpus" >"$out"
  sync
  local cmd=(deno run --allow-read --allow-write --allow-env --allow-ffi --allow-sys --allow-run
    "--v8-flags=$flags" "$dir/main.ts" sort -S "$memory" -T "$work" "$corpus")
  if [ "$mode" = stdout ]; then
    /usr/bin/time -f "%e %U %S" -o "$work/time" "${cmd[@]}" >"$out"
  else
    /usr/bin/time -f "%e %U %S" -o "$work/time" "${cmd[@]}" -o "$out"
  fi
  cat "$work/time"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "load before: $(uptime)"
for mode in ${MODES:-o-new o-old stdout}; do
  for side in before after; do : >"$work/$side.w"; : >"$work/$side.u"; : >"$work/$side.s"; done
  for round in $(seq "$rounds"); do
    for side in before after; do
      read -r wall user sys < <(run "$side" "$mode")
      echo "$wall" >>"$work/$side.w"; echo "$user" >>"$work/$side.u"; echo "$sys" >>"$work/$side.s"
    done
    cmp -s "$work/out.before" "$work/out.after" || { echo "$mode: outputs differ" >&2; exit 1; }
    rm -f "$work/out.before" "$work/out.after"
  done
  for side in before after; do
    printf '%-7s %-6s wall %s user %s sys %s   (wall: %s)\n' "$mode" "$side" \
      "$(median <"$work/$side.w")" "$(median <"$work/$side.u")" "$(median <"$work/$side.s")" \
      "$(tr '\n' ' ' <"$work/$side.w")"
  done
done
echo "load after: $(uptime)"

#!/usr/bin/env bash
# The output path of a large sort, side by side: two checkouts, each output mode, alternating,
# `sync` before every timed run (the previous run's output is otherwise written back during the
# next one), outputs compared and deleted after each round. Prints median wall / user / sys of
# the whole command and the merge phase's wall time and CPU use (`--stats-file`).
#
# Usage: tests/bench/output_path_ab.sh BEFORE_DIR AFTER_DIR [CORPUS]
#   CORPUS: default /work/corpus/words-zipf-1g.txt; ROUNDS=3, MEMORY=64m
#   MODES="o-new o-old stdout": -o to a new file, -o over an existing file, stdout > new file
#   OUT_DIR: where outputs go (default: a temp dir under TMPDIR); spill files go there too.
#   QUIET=N: before each timed run, wait (at most 60 s) until the machine's CPUs were N% idle
#   over a second (other jobs on a shared machine; default 0: no wait).
#   BEFORE_ENV, AFTER_ENV: VAR=VALUE words set for that side's runs only, so one checkout can be
#   compared with itself, e.g. the placed final merge against the one-Worker merge:
#   AFTER_ENV=SPILLWAY_TEST_PLACED_MERGE_BYTES=999999999999 output_path_ab.sh DIR DIR
set -euo pipefail

before="$1"
after="$2"
corpus="${3:-/work/corpus/words-zipf-1g.txt}"
rounds="${ROUNDS:-3}"
memory="${MEMORY:-64m}"
work="$(mktemp -d "${OUT_DIR:-${TMPDIR:-/tmp}}/output-ab.XXXXXX")"
trap 'rm -rf "$work"' EXIT
flags="--max-semi-space-size=1,--no-liftoff"

idle_percent() { # over one second, all CPUs
  local a b
  read -r -a a < <(head -1 /proc/stat)
  sleep 1
  read -r -a b < <(head -1 /proc/stat)
  local total=0 i
  for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
  echo $(((100 * (b[4] - a[4] + b[5] - a[5])) / (total > 0 ? total : 1)))
}

wait_quiet() {
  local waited=0
  while [ "${QUIET:-0}" -gt 0 ] && [ "$waited" -lt 60 ] && [ "$(idle_percent)" -lt "$QUIET" ]; do
    waited=$((waited + 1))
  done
}

run() { # side mode -> "wall user sys rss_kib merge_ms merge_use" on stdout; output in $work/out.$side
  local side="$1" mode="$2" dir out="$work/out.$1" side_env
  if [ "$side" = before ]; then dir="$before"; else dir="$after"; fi
  if [ "$side" = before ]; then side_env="${BEFORE_ENV:-}"; else side_env="${AFTER_ENV:-}"; fi
  local envs=()
  read -r -a envs <<<"$side_env"
  rm -f "$out"
  [ "$mode" = o-old ] && head -c 1048576 "$corpus" >"$out"
  sync
  wait_quiet
  local cmd=(env "${envs[@]}" deno run --allow-read --allow-write --allow-env --allow-ffi --allow-sys --allow-run
    "--v8-flags=$flags" "$dir/main.ts" sort -S "$memory" -T "$work" --stats-file "$work/stats" "$corpus")
  if [ "$mode" = stdout ]; then
    /usr/bin/time -f "%e %U %S %M" -o "$work/time" "${cmd[@]}" >"$out"
  else
    /usr/bin/time -f "%e %U %S %M" -o "$work/time" "${cmd[@]}" -o "$out"
  fi
  echo "$(cat "$work/time") $(sed -nE 's/^  time: .*merge ([0-9.]+).*/\1/p' "$work/stats")" \
    "$(sed -nE 's/^  cpu: .*merge ([0-9.]+).*/\1/p' "$work/stats")"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "load before: $(uptime)"
for mode in ${MODES:-o-new o-old stdout}; do
  for side in before after; do
    for column in w u s r m c; do : >"$work/$side.$column"; done
  done
  for round in $(seq "$rounds"); do
    for side in before after; do
      read -r wall user sys rss merge use < <(run "$side" "$mode")
      echo "$wall" >>"$work/$side.w"; echo "$user" >>"$work/$side.u"; echo "$sys" >>"$work/$side.s"
      echo "$rss" >>"$work/$side.r"; echo "$merge" >>"$work/$side.m"; echo "$use" >>"$work/$side.c"
    done
    cmp -s "$work/out.before" "$work/out.after" || { echo "$mode: outputs differ" >&2; exit 1; }
    rm -f "$work/out.before" "$work/out.after"
  done
  for side in before after; do
    printf '%-7s %-6s wall %s user %s sys %s rss %s KiB merge %s ms (use %s)  (wall: %s merge: %s)\n' \
      "$mode" "$side" "$(median <"$work/$side.w")" "$(median <"$work/$side.u")" \
      "$(median <"$work/$side.s")" "$(median <"$work/$side.r")" "$(median <"$work/$side.m")" "$(median <"$work/$side.c")" \
      "$(tr '\n' ' ' <"$work/$side.w")" "$(tr '\n' ' ' <"$work/$side.m")"
  done
done
echo "load after: $(uptime)"

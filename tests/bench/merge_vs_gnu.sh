#!/usr/bin/env bash
# `spillway sort -m` and `spillway merge` against `LC_ALL=C sort -m` on K sorted parts of a
# corpus (split by lines, each part sorted by GNU sort first), alternating rounds, medians of
# the wall time and the peak RSS, every output compared byte for byte with GNU's. With BASE_DIR
# the same runs of another checkout go in the rounds too (before/after).
#
# Usage: tests/bench/merge_vs_gnu.sh [FILE] [BASE_DIR]
#   FILE      default /work/corpus/words-zipf-100m.txt
#   BASE_DIR  another checkout (e.g. /work/wt/start12), optional
#   ROUNDS=3  PARTS=4  MEMORY=64m  MERGE_ARGS="" (e.g. -u or -r)  OUT=file|null
#   WORK=dir  (scratch: the sorted parts and outputs, removed at the end; default under $TMPDIR)
#   KEEP=1    keep WORK, and reuse the sorted parts found there (the same FILE, PARTS, MERGE_ARGS)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
file="${1:-/work/corpus/words-zipf-100m.txt}"
base="${2:-}"
rounds="${ROUNDS:-3}"
parts="${PARTS:-4}"
memory="${MEMORY:-64m}"
out_mode="${OUT:-file}"
read -r -a extra <<<"${MERGE_ARGS:-}"
work="${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/merge-vs-gnu.XXXXXX")}"
mkdir -p "$work"
[[ -n "${KEEP:-}" ]] || trap 'rm -rf "$work"' EXIT
flags=(--allow-read --allow-write --allow-env --allow-ffi --allow-sys --allow-run
  --v8-flags=--max-semi-space-size=1,--no-liftoff)
sort_flags=()
for flag in ${extra[@]+"${extra[@]}"}; do [[ "$flag" == -u ]] || sort_flags+=("$flag"); done
if [[ -z "${KEEP:-}" || ! -f "$work/expected" ]]; then
  rm -f "$work"/part.*
  split -n "l/$parts" -d "$file" "$work/part."
  for part in "$work"/part.*; do
    LC_ALL=C sort -S 256M ${sort_flags[@]+"${sort_flags[@]}"} "$part" -o "$part.sorted"
    rm "$part"
  done
  LC_ALL=C sort -m ${extra[@]+"${extra[@]}"} "$work"/part.*.sorted >"$work/expected"
fi
inputs=("$work"/part.*.sorted)
target() { if [[ "$out_mode" == null ]]; then echo /dev/null; else echo "$work/out"; fi; }
run() { # name command...
  local name="$1"
  shift
  rm -f "$work/out"
  local start end
  start=$(date +%s%N)
  /usr/bin/time -f "%M" -o "$work/rss" "$@" >"$(target)"
  end=$(date +%s%N)
  local same=-
  if [[ "$out_mode" != null ]]; then same=no; cmp -s "$work/out" "$work/expected" && same=yes; fi
  echo "$name $(((end - start) / 1000000)) $(($(cat "$work/rss") / 1024)) $same" >>"$work/results"
  echo "$name $(((end - start) / 1000000)) ms  rss $(($(cat "$work/rss") / 1024)) MiB  identical $same"
}
round() {
  run gnu env LC_ALL=C sort -m -S "${memory^^}" ${extra[@]+"${extra[@]}"} "${inputs[@]}"
  for side in new ${base:+base}; do
    local dir="$root"
    [[ "$side" == base ]] && dir="$base"
    run "sort-m-$side" deno run "${flags[@]}" "$dir/main.ts" sort -m -S "$memory" \
      ${extra[@]+"${extra[@]}"} "${inputs[@]}"
    run "merge-$side" deno run "${flags[@]}" "$dir/main.ts" merge -S "$memory" \
      ${extra[@]+"${extra[@]}"} "${inputs[@]}"
  done
}
echo "# $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)  file: $file  parts: $parts" \
  " -S $memory ${MERGE_ARGS:-}  output: $out_mode"
: >"$work/results"
for ((i = 1; i <= rounds; i++)); do round; done
echo "# medians (wall ms, peak RSS MiB), ratio to GNU sort -m:"
python3 - "$work/results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, ms, rss, same = line.split()
    rows.setdefault(name, []).append((int(ms), int(rss), same))
gnu = statistics.median(ms for ms, _, _ in rows["gnu"])
for name, runs in rows.items():
    ms = statistics.median(r[0] for r in runs)
    rss = statistics.median(r[1] for r in runs)
    same = ",".join(sorted({r[2] for r in runs}))
    print(f"{name:14} {ms:7.0f} ms  {ms / gnu:5.2f}x  rss {rss:5.0f} MiB  identical {same}")
PY
echo "# end load: $(cut -d' ' -f1-3 /proc/loadavg)"

#!/usr/bin/env bash
# The final merge of two spillway checkouts side by side: alternating rounds of
# `spillway sort -S $MEMORY --stats=json FILE`, printing each round's merge-phase wall and CPU
# time (from --stats), CPU use of the merge (cpu/wall), total wall, peak RSS, and whether the
# outputs are byte-identical to `LC_ALL=C sort`.
#
# Usage: tests/bench/merge_ab.sh BASE_DIR [FILE]
#   BASE_DIR  another checkout (e.g. `git archive <commit> | tar -x -C /tmp/base`)
#   FILE      default /work/corpus/words-zipf-100m.txt
#   ROUNDS=3  MEMORY=64m  SORT_ARGS="" (extra sort options, e.g. -u or -r)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
base="$1"
file="${2:-/work/corpus/words-zipf-100m.txt}"
rounds="${ROUNDS:-3}"
memory="${MEMORY:-64m}"
read -r -a extra <<<"${SORT_ARGS:-}"
work="$(mktemp -d "${TMPDIR:-/tmp}/merge-ab.XXXXXX")"
trap 'rm -rf "$work"' EXIT
flags=(--allow-read --allow-write --allow-env --allow-ffi --allow-sys
  --v8-flags=--max-semi-space-size=1,--no-liftoff)
LC_ALL=C sort -S "$memory" ${extra[@]+"${extra[@]}"} "$file" >"$work/gnu"
run() { # name dir
  /usr/bin/time -f "%M" -o "$work/rss" deno run "${flags[@]}" "$2/main.ts" sort -S "$memory" \
    ${extra[@]+"${extra[@]}"} --stats=json -o "$work/out" "$file" 2>"$work/stats"
  local same=no
  cmp -s "$work/out" "$work/gnu" && same=yes
  python3 - "$1" "$work/stats" "$(cat "$work/rss")" "$same" <<'PY'
import json, sys
name, path, rss, same = sys.argv[1:]
s = json.loads(open(path).read().strip().splitlines()[-1])
t, c = s["timeMs"], s["cpuMs"]
print(f"{name:5} merge {t['merge']:7.0f} ms wall {c['merge']:7.0f} ms cpu  use {c['merge']/max(t['merge'],1):.2f}"
      f" | total {t['total']:7.0f} ms  runs {s['spill']['runs']}  rss {int(rss)/1024:.0f} MiB  identical {same}")
PY
}
echo "# $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)  file: $file  -S $memory ${SORT_ARGS:-}"
for ((i = 1; i <= rounds; i++)); do
  if ((i % 2)); then run base "$base"; run new "$root"; else run new "$root"; run base "$base"; fi
done
echo "# end load: $(cut -d' ' -f1-3 /proc/loadavg)"

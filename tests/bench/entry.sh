# shellcheck shell=bash
# Sourced by the bench scripts: which module runs spillway for a checkout.
#
# spillway_entry DIR -> prints the path to run with `deno run`: the built JavaScript users run
# (DIR/dist/js/main.js, built or refreshed first by DIR's scripts/build.ts, which is quick when it
# is current) when the checkout has a build, else DIR/main.ts (checkouts from before the build).
# SPILLWAY_SOURCE=1: DIR/main.ts anyway (the TypeScript sources, as the unit tests load them).
spillway_entry() {
  local dir="$1"
  if [ "${SPILLWAY_SOURCE:-0}" != 1 ] && [ -f "$dir/scripts/build.ts" ]; then
    (cd "$dir" && deno run --allow-read --allow-write --allow-env --allow-run scripts/build.ts) >&2 ||
      { echo "spillway_entry: cannot build $dir/dist/js" >&2; return 1; }
    echo "$dir/dist/js/main.js"
  else
    echo "$dir/main.ts"
  fi
}

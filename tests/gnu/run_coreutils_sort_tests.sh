#!/bin/sh
# Opt-in: runs GNU coreutils' own data-driven sort tests (sort.pl, sort-merge.pl,
# sort-files0-from.pl) against `spillway sort`, through spillway's own stand-in for the
# coreutils test driver (tests/gnu/perl/Coreutils.pm). GNU's files are not copied here: give
# the path of a coreutils checkout (tests under tests/sort/ or, before 9.2, tests/misc/).
#
#   tests/gnu/run_coreutils_sort_tests.sh /path/to/coreutils [PATTERN]
#
# PATTERN (a Perl regex) selects test names. SORT_UNDER_TEST=gnu runs GNU sort instead, to
# check the driver (every case passes with GNU sort 9.1). Each case prints PASS,
# PASS-STDERR-DIFFERS (exit and output match; spillway words its messages its own way) or
# FAIL; the exit status is 1 when any case fails.
set -eu
checkout=${1:?usage: $0 /path/to/coreutils [PATTERN]}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
if [ -d "$checkout/tests/sort" ] && [ -f "$checkout/tests/sort/sort.pl" ]; then
  dir="$checkout/tests/sort"
elif [ -f "$checkout/tests/misc/sort.pl" ]; then
  dir="$checkout/tests/misc"
else
  echo "No tests/sort/sort.pl or tests/misc/sort.pl under $checkout" >&2
  exit 2
fi
if [ "${SORT_UNDER_TEST:-spillway}" = gnu ]; then
  SPILLWAY_SORT="env LC_ALL=C sort"
else
  SPILLWAY_SORT="deno run --quiet --allow-read --allow-write --allow-env --allow-ffi --allow-sys --allow-run $repo/main.ts sort"
fi
export SPILLWAY_SORT
if [ $# -ge 2 ]; then export GNU_TEST_FILTER="$2"; fi
status=0
for test in sort.pl sort-merge.pl sort-files0-from.pl; do
  [ -f "$dir/$test" ] || continue
  LC_ALL=C perl -I"$here/perl" -MCoreutils "$dir/$test" || status=1
done
exit $status

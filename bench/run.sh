#!/bin/sh
# make bench: runs every bench/*_bench.sh with the release build tree as $1.
# Each prints its figures beside the peer it is compared to. A benchmark never
# fails the run because of a timing; it fails only if it could not run.
set -u
B=${1:-build}
cd "$(dirname "$0")/.."
rc=0
for f in bench/*_bench.sh; do
  [ -f "$f" ] || continue
  echo "==== $f"
  sh "$f" "$B" || { echo "bench: $f could not run"; rc=1; }
done
exit $rc

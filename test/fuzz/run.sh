#!/bin/sh
# test/fuzz/run.sh FUZZ_BUILD SECONDS
# SECONDS=0 replays each target's corpus (test/fuzz/corpus/NAME/) once;
# otherwise each target fuzzes for SECONDS into a scratch copy of its corpus.
set -eu
B=$1; T=$2
cd "$(dirname "$0")/../.."
rc=0
for bin in "$B"/fuzz/*_fuzz; do
  [ -x "$bin" ] || continue
  n=$(basename "$bin" _fuzz)
  corpus=test/fuzz/corpus/$n
  mkdir -p "$corpus"
  dict=""; [ -s "test/fuzz/$n.dict" ] && dict="-dict=test/fuzz/$n.dict"
  if [ "$T" = 0 ]; then
    echo "fuzz: replaying $(ls "$corpus" | wc -l) inputs for $n"
    "$bin" $dict -runs=0 "$corpus" >"$B/fuzz/$n.log" 2>&1 || { cat "$B/fuzz/$n.log"; rc=1; }
  else
    work=$(mktemp -d)
    cp -r "$corpus"/. "$work"/ 2>/dev/null || true
    echo "fuzz: $n for ${T}s"
    "$bin" $dict -max_total_time="$T" -artifact_prefix="$B/fuzz/$n-" "$work" "$corpus" >"$B/fuzz/$n.log" 2>&1 || { tail -40 "$B/fuzz/$n.log"; rc=1; }
    tail -1 "$B/fuzz/$n.log"
    rm -rf "$work"
  fi
done
exit $rc

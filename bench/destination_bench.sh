#!/bin/sh
# Destination benchmark (not a test): Get fan-out and memory.
#   sh bench/destination_bench.sh [BUILD]      (BUILD: a release tree, default build)
# bench/destination_load.c (grpc core, one completion queue) opens
#   - 10 channels x 100 Get streams, then 100 x 100 (plaintext), and
#   - 1000 channels x 1 stream over TLS,
# against a fresh cmesh-destination fed by the local API server, with the
# controller on core 0 and the client (and API server) on core 1. Reported:
# controller RSS with the streams open, and the time from one EndpointSlice
# write to its arrival at every subscriber (p50, p99 over the changes).
set -eu
cd "$(dirname "$0")/.."
B=${1:-build}
CHANGES=${DESTINATION_BENCH_CHANGES:-30}
if [ "$(nproc)" -lt 2 ]; then
  echo "destination bench: needs 2 cores to pin client and controller apart"; exit 1
fi
# 1000 TLS connections need more than the usual 1024 descriptors on each side.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "open file limit: $(ulimit -n)"
make --no-print-directory -s B="$B" "$B/lib/libmesh_proto.a" "$B/bin/cmesh-destination" "$B/bin/cmesh" pyproto
cc -O2 -std=gnu11 -Wall -Wextra -I"$B/gen" -I"$B/gen/proto" -o "$B/destination_load" bench/destination_load.c \
  "$B/lib/libmesh_proto.a" $(pkg-config --cflags --libs grpc libprotobuf-c) -lpthread
PYTHONPATH="$B/gen/py:test/lib:apiserver" CMESH_BIN="$B/bin" /usr/bin/python3 bench/destination_driver.py \
  "$B/destination_load" "$CHANGES"

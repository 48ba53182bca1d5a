#!/bin/sh
# make bench: the identity service (not a test; a timing never fails the run).
#   sh bench/identity_bench.sh [BUILD]   (BUILD: a release tree, default build)
# 1. `openssl speed ecdsap256` gives the bound: one CSR verify + one sign per
#    request. speed counts CPU (user) time, so the bound is per core-second.
# 2. bench/identity_sign.c: id_certify (decode, CSR parse + verify, sign,
#    encode) at concurrency 1, 16, 64. per_cpu_s (requests per CPU-second of
#    the process) is the figure set beside the bound; rps is wall clock and
#    drops when other work shares the machine.
# 3. bench/identity_e2e.py: cmesh-identity over TLS with TokenReviews against
#    the local API server, same concurrencies, plus the daemon's RSS (idle and
#    peak, goal < 20 MB).
# Exits non-zero only when something could not be built or run.
set -eu
cd "$(dirname "$0")/.."
B=${1:-build}
SECS=${IDENTITY_BENCH_SECONDS:-3}
make --no-print-directory -s B="$B" "$B/lib/libid.a" "$B/lib/libmesh.a" "$B/lib/libmesh_proto.a" \
  "$B/bin/cmesh-identity" "$B/bin/cmesh" pyproto
cc -O2 -std=gnu11 -D_GNU_SOURCE -Icommon/include -Iidentity/include -I"$B/gen" -I"$B/gen/proto" \
  $(pkg-config --cflags openssl libprotobuf-c) -o "$B/identity_sign" bench/identity_sign.c \
  "$B/lib/libid.a" "$B/lib/libmesh.a" "$B/lib/libmesh_proto.a" \
  $(pkg-config --libs openssl libprotobuf-c jansson libcurl) -lpthread
echo "== OpenSSL bound (openssl speed -seconds $SECS ecdsap256: ops per CPU-second)"
line=$(openssl speed -seconds "$SECS" ecdsap256 2>/dev/null | grep 'nistp256')
sign=$(echo "$line" | awk '{print $(NF-1)}'); verify=$(echo "$line" | awk '{print $NF}')
bound=$(awk -v s="$sign" -v v="$verify" 'BEGIN{printf "%.0f", 1/(1/s+1/v)}')
echo "sign/s=$sign verify/s=$verify bound=${bound} requests/s/core cores=$(nproc) load=$(cut -d' ' -f1 /proc/loadavg)"
echo "== signing path (id_certify, no I/O)"
for c in 1 16 64; do
  out=$("$B/identity_sign" "$c" "$SECS")
  rps=$(echo "$out" | sed 's/.*rps=\([0-9]*\).*/\1/')
  pcs=$(echo "$out" | sed 's/.*per_cpu_s=\([0-9]*\).*/\1/')
  cores=$([ "$c" -gt "$(nproc)" ] && nproc || echo "$c")
  echo "$out wall_per_core=$((rps / cores)) of_bound=$(awk -v r="$pcs" -v b="$bound" 'BEGIN{printf "%.0f%%", 100*r/b}')"
done
echo "== end to end (gRPC over TLS + TokenReview on the local API server)"
PYTHONPATH="$B/gen/py:test/lib:apiserver" CMESH_BIN="$B/bin" /usr/bin/python3 bench/identity_e2e.py "$SECS"

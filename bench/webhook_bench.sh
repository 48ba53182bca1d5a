#!/bin/sh
# make bench: the proxy injector.
#   bench/webhook_bench.sh BUILD_DIR      (BUILD_DIR/bin/cmesh-webhook, release build)
# Cases:
#   review/in-process  wh_review_handle alone (decode, decide, patch, encode), 1 thread
#   https/c1, c32      AdmissionReviews over HTTPS keep-alive (bench/webhook_load.c:
#                      one OpenSSL connection per thread), reviews/s, p50, p99, and the
#                      webhook's CPU per review
#   inject/10k         `cmesh inject` and `cmesh inject --manual` over 10,000 documents
# Goals (issue 5): >= 5,000 reviews/s, p99 <= 2 ms at concurrency 1, 10,000
# documents in <= 1 s. Client and server share this machine's cores; a timing
# never fails the run, only a case that could not run does.
set -u
B=${1:-build/release}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
case "$B" in /*) ;; *) B="$ROOT/$B" ;; esac
DURATION=${DURATION:-5}
DOCS=${DOCS:-10000}
OUT=${OUT:-$(mktemp -d /tmp/cmesh-webhook-bench.XXXXXX)}
HZ=$(getconf CLK_TCK)
PY=/usr/bin/python3
mkdir -p "$OUT"
WH_PID=""
cleanup() { [ -n "$WH_PID" ] && kill "$WH_PID" 2>/dev/null && wait "$WH_PID" 2>/dev/null; }
trap cleanup EXIT INT TERM

for f in "$B/bin/cmesh-webhook" "$B/bin/cmesh"; do
    [ -x "$f" ] || { echo "webhook_bench: no $f (build first)"; exit 1; }
done
fail() { echo "webhook_bench: $*"; exit 1; }

# ---- inputs ----
CFLAGS="-O2 -std=gnu11 -D_GNU_SOURCE -Wall"
cc $CFLAGS -o "$OUT/webhook_load" "$HERE/webhook_load.c" $(pkg-config --cflags --libs openssl) -lpthread ||
    fail "cannot build webhook_load.c"
"$B/bin/cmesh" certs generate --out "$OUT/pki" >/dev/null || fail "cmesh certs generate failed"
mkdir -p "$OUT/objects"
cat >"$OUT/objects/ns.yaml" <<'EOF'
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  annotations:
    linkerd.io/inject: enabled
EOF
# A Deployment's pod as the ReplicaSet controller creates it (1.5 KB review).
cat >"$OUT/review.json" <<'EOF'
{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"705ab4f5-6393-11e8-b7cc-42010a800002","kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},"requestKind":{"group":"","version":"v1","kind":"Pod"},"requestResource":{"group":"","version":"v1","resource":"pods"},"namespace":"shop","operation":"CREATE","userInfo":{"username":"system:serviceaccount:kube-system:replicaset-controller","uid":"x","groups":["system:serviceaccounts","system:authenticated"]},"object":{"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"web-5d8f7c9b6-","namespace":"shop","labels":{"app":"web","pod-template-hash":"5d8f7c9b6"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-5d8f7c9b6","uid":"1234","controller":true,"blockOwnerDeletion":true}]},"spec":{"serviceAccountName":"web","containers":[{"name":"web","image":"ghcr.io/example/web:1.2.3","ports":[{"containerPort":8080,"name":"http"},{"containerPort":9090,"name":"metrics"}],"env":[{"name":"A","value":"1"}],"resources":{"requests":{"cpu":"100m","memory":"64Mi"}},"readinessProbe":{"httpGet":{"path":"/healthz","port":8080}}}],"volumes":[{"name":"kube-api-access","projected":{"sources":[{"serviceAccountToken":{"path":"token","expirationSeconds":3607}}]}}]}},"oldObject":null,"dryRun":false,"options":{"kind":"CreateOptions","apiVersion":"meta.k8s.io/v1"}}}
EOF

# ---- in-process ----
LIBS="$B/lib/libwh.a $B/lib/libmesh_k8s.a $B/lib/libmesh.a $B/obj/gen/embedded.o"
if cc $CFLAGS -I"$ROOT/common/include" -I"$ROOT/webhook/include" $(pkg-config --cflags openssl jansson) \
    -o "$OUT/webhook_review" "$HERE/webhook_review.c" $LIBS \
    $(pkg-config --libs openssl jansson yaml-0.1 libcurl) -lpthread 2>"$OUT/cc.log"; then
    printf "%-22s " "review/in-process"
    "$OUT/webhook_review" "$OUT/review.json" "$OUT/pki/ca-bundle.crt" "$DURATION"
else
    echo "review/in-process      skipped (cannot link against $B/lib: $(head -1 "$OUT/cc.log"))"
fi

# ---- over HTTPS ----
"$B/bin/cmesh-webhook" --addr 127.0.0.1:0 --admin-addr 127.0.0.1:0 \
    --tls-cert "$OUT/pki/webhook/crt.pem" --tls-key "$OUT/pki/webhook/key.pem" \
    --objects-dir "$OUT/objects" --identity-trust-anchors-file "$OUT/pki/ca-bundle.crt" \
    --log-level info >"$OUT/webhook.log" 2>&1 &
WH_PID=$!
PORT=""
for _ in $(seq 100); do
    PORT=$(sed -n 's/.*serving AdmissionReviews on [^ ]* (port \([0-9]*\)).*/\1/p' "$OUT/webhook.log")
    [ -n "$PORT" ] && break
    kill -0 "$WH_PID" 2>/dev/null || break
    sleep 0.1
done
[ -n "$PORT" ] || fail "cmesh-webhook did not start: $(cat "$OUT/webhook.log")"
ADMIN=$(sed -n 's/.*admin on [^ ]* (port \([0-9]*\)).*/\1/p' "$OUT/webhook.log")
reply=$(curl -sk -H 'Content-Type: application/json' --data-binary @"$OUT/review.json" "https://127.0.0.1:$PORT/")
case "$reply" in *'"patchType":"JSONPatch"'*) ;; *) fail "the review was not injected: $reply" ;; esac

cpu_ticks() { awk '{print $14 + $15}' "/proc/$WH_PID/stat"; }
for c in 1 32; do
    t0=$(cpu_ticks)
    line=$("$OUT/webhook_load" 127.0.0.1 "$PORT" "$OUT/review.json" "$c" "$DURATION") ||
        fail "load at concurrency $c failed: $line"
    t1=$(cpu_ticks)
    n=$(echo "$line" | sed 's/.*reviews=\([0-9]*\).*/\1/')
    cpu=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v n="$n" 'BEGIN { printf "%.0f", n ? d / hz * 1e6 / n : 0 }')
    printf "%-22s %s webhook_cpu_us_per_review=%s\n" "https/c$c" "$line" "$cpu"
done
[ -n "$ADMIN" ] && curl -s "http://127.0.0.1:$ADMIN/metrics" |
    grep '^proxy_inject_admission_responses_total' | sed 's/^/  /'
kill "$WH_PID"; wait "$WH_PID" 2>/dev/null; WH_PID=""

# ---- cmesh inject over many documents ----
$PY - "$OUT/docs.yaml" "$DOCS" <<'EOF' || fail "cannot write the documents"
import sys
out, n = sys.argv[1], int(sys.argv[2])
with open(out, "w") as f:
    for i in range(n):
        f.write("""---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-%d
  namespace: shop
  labels: {app: web-%d}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web-%d}
  template:
    metadata:
      labels: {app: web-%d}
    spec:
      containers:
      - name: web
        image: ghcr.io/example/web:1.2.3
        ports:
        - containerPort: 8080
          name: http
        resources:
          requests: {cpu: 100m, memory: 64Mi}
""" % (i, i, i, i))
EOF
now() { date +%s.%N; }
for mode in "" --manual; do
    t0=$(now)
    "$B/bin/cmesh" inject $mode --identity-trust-anchors-file "$OUT/pki/ca-bundle.crt" \
        "$OUT/docs.yaml" >"$OUT/injected.yaml" 2>"$OUT/inject.err" ||
        fail "cmesh inject $mode failed: $(head -3 "$OUT/inject.err")"
    t1=$(now)
    docs=$(grep -c '^kind: Deployment' "$OUT/injected.yaml")
    awk -v a="$t0" -v b="$t1" -v n="$DOCS" -v d="$docs" -v m="${mode:-(annotation)}" \
        'BEGIN { printf "%-22s docs=%d out_docs=%d seconds=%.3f docs_per_s=%.0f\n", "inject/" m, n, d, b - a, n / (b - a) }'
done
echo "goals: >= 5000 reviews/s; p99 <= 2000 us at c=1; $DOCS documents <= 1 s (results in $OUT)"

#!/bin/bash
# make bench: the sidecar proxy beside HAProxy, nginx and nghttpx.
#   bench/proxy_bench.sh BUILD_DIR      (BUILD_DIR/bin/cmesh-proxy, release build)
# Cases:
#   h1/*  wrk, HTTP/1.1 keep-alive, 1 and 50 connections   (peers harness)
#   h2c/* h2load, 1 connection x 50 streams                 (peers harness)
#   tcp/* wrk through an opaque TCP relay: cmesh (detection off for the
#         port) and HAProxy "mode tcp", same nginx backend   (this script)
# Layout (2 cores): load generator on CPU 0; proxy and backend on CPU 1.
# Reports req/s, p50/p99, proxy CPU us per request, proxy RSS idle and under
# load. Tools missing are installed with apt when root; a case whose tools
# are still missing is skipped with a message (a timing never fails).
set -u
B=${1:-build/release}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
case "$B" in /*) ;; *) B="$ROOT/$B" ;; esac
PROXY=$B/bin/cmesh-proxy
PEERS=${PEERS:-/work/shared/bench/peers}
DURATION=${DURATION:-5}
REPS=${REPS:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
SERVER_CPU=${SERVER_CPU:-1}
OUT=${OUT:-$(mktemp -d /tmp/cmesh-proxy-bench.XXXXXX)}
HZ=$(getconf CLK_TCK)
mkdir -p "$OUT"
PIDS=""
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null; done; for p in $PIDS; do wait "$p" 2>/dev/null; done; }
trap cleanup EXIT INT TERM

[ -x "$PROXY" ] || { echo "proxy_bench: no $PROXY (build first)"; exit 1; }
missing=""
for t in haproxy nginx wrk nghttpx h2load; do command -v $t >/dev/null || missing="$missing $t"; done
if [ -n "$missing" ] && [ "$(id -u)" = 0 ]; then
    echo "proxy_bench: installing:$missing"
    apt-get -o DPkg::Lock::Timeout=600 install -y haproxy nginx wrk nghttp2-proxy nghttp2-client >"$OUT/apt.log" 2>&1 ||
        echo "proxy_bench: apt-get failed (see $OUT/apt.log); continuing with what is there"
fi
have() { command -v "$1" >/dev/null; }

proxy_env() { # $1 inbound port, $2 admin port, $3 forward addr, [$4 opaque ports]
    echo "LINKERD2_PROXY_INBOUND_LISTEN_ADDR=127.0.0.1:$1 LINKERD2_PROXY_OUTBOUND_LISTEN_ADDR=127.0.0.1:0" \
         "LINKERD2_PROXY_ADMIN_LISTEN_ADDR=127.0.0.1:$2 CMESH_PROXY_INBOUND_FORWARD_ADDR=$3" \
         "LINKERD2_PROXY_LOG=error ${4:+LINKERD2_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION=$4}"
}

# --- h1 and h2c through the peers harness (one run each, HAProxy rows beside ours) ---
if have haproxy && have nginx && have nghttpx && have wrk && have h2load && [ -x "$PEERS/run.sh" ]; then
    echo "== h1 keep-alive (1, 50 connections): cmesh beside haproxy, nginx, nghttpx"
    OUT="$OUT/h1" DURATION=$DURATION REPS=$REPS ONLY='^h1/' H1_CONNS="1 50" \
        EXTRA_NAME=cmesh EXTRA_H1_PORT=27189 \
        EXTRA_CMD="env $(proxy_env 27189 27199 127.0.0.1:27180) $PROXY" \
        bash "$PEERS/run.sh" >"$OUT/h1.log" 2>&1 || echo "proxy_bench: h1 harness failed (see $OUT/h1.log)"
    [ -f "$OUT/h1/summary.md" ] && cat "$OUT/h1/summary.md"
    echo "== h2c 1 connection x 50 streams: cmesh beside haproxy, nginx, nghttpx"
    OUT="$OUT/h2c" DURATION=$DURATION REPS=$REPS ONLY='^h2c/' H2_MODES="1x50" \
        EXTRA_NAME=cmesh EXTRA_H2C_PORT=27189 \
        EXTRA_CMD="env $(proxy_env 27189 27199 127.0.0.1:27190) $PROXY" \
        bash "$PEERS/run.sh" >"$OUT/h2c.log" 2>&1 || echo "proxy_bench: h2c harness failed (see $OUT/h2c.log)"
    [ -f "$OUT/h2c/summary.md" ] && cat "$OUT/h2c/summary.md"
else
    echo "proxy_bench: h1/h2c peer cases skipped (need haproxy nginx nghttpx wrk h2load and $PEERS/run.sh)"
fi

# --- TCP passthrough: our own case -------------------------------------------------------
if ! have nginx || ! have wrk; then
    echo "proxy_bench: tcp case skipped (needs nginx and wrk)"
    exit 0
fi
T=$OUT/tcp; mkdir -p "$T"
cat >"$T/nginx.conf" <<NG
worker_processes 1; daemon off; pid $T/nginx.pid; error_log $T/nginx.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:27280 backlog=4096; location / { return 200 "ok\n"; } } }
NG
taskset -c "$SERVER_CPU" nginx -p "$T/" -c "$T/nginx.conf" >"$T/nginx.log" 2>&1 & PIDS="$PIDS $!"
start() { # name cmd...
    local name=$1; shift
    taskset -c "$SERVER_CPU" "$@" >"$T/$name.log" 2>&1 & PIDS="$PIDS $!"; eval "PID_$name=$!"
}
start cmesh env $(proxy_env 27281 27291 127.0.0.1:27280 27280) "$PROXY"
if have haproxy; then
    cat >"$T/haproxy.cfg" <<HA
global
  nbthread 1
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend f
  bind 127.0.0.1:27282
  default_backend b
backend b
  server s 127.0.0.1:27280
HA
    start haproxy haproxy -db -f "$T/haproxy.cfg"
fi
sleep 1
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_kb() { awk '/^VmRSS/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
printf '%-14s %5s %10s %8s %8s %12s %9s %9s\n' case conns req/s p50_us p99_us cpu_us/req rss_idle rss_load
for name in cmesh haproxy; do
    eval "pid=\${PID_$name:-}"; [ -n "$pid" ] || continue
    port=27281; [ $name = haproxy ] && port=27282
    curl -s -o /dev/null "http://127.0.0.1:$port/" || { echo "tcp/$name: probe failed"; continue; }
    idle=$(rss_kb "$pid")
    for c in 1 50; do
        t0=$(cpu_ticks "$pid")
        out=$(taskset -c "$CLIENT_CPU" wrk -t1 -c$c -d${DURATION}s --latency "http://127.0.0.1:$port/" 2>&1)
        t1=$(cpu_ticks "$pid"); load=$(rss_kb "$pid")
        reqs=$(echo "$out" | awk '/requests in/{print $1}')
        rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
        us() { echo "$out" | awk -v k="$1" '$1==k{v=$2; m=1; if (v ~ /us$/) m=1; else if (v ~ /ms$/) m=1000; else if (v ~ /s$/) m=1000000; sub(/[a-z]+$/,"",v); printf "%.0f", v*m}'; }
        cpu=$(awk -v d=$((t1 - t0)) -v n="${reqs:-0}" -v hz="$HZ" 'BEGIN{printf "%.1f", (n>0 ? d*1e6/hz/n : 0)}')
        printf '%-14s %5s %10s %8s %8s %12s %9s %9s\n' "tcp/$name" $c "$rps" "$(us 50%)" "$(us 99%)" "$cpu" "${idle}kB" "${load}kB"
    done
done
echo "proxy_bench: raw output in $OUT"

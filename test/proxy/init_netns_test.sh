#!/bin/bash
# cmesh-proxy-init against the real iptables (nft and legacy back-ends), inside
# a network namespace of its own (unshare --net), so the host is untouched:
# the rules appear as planned, and a rerun converges to the same table
# (compared without iptables-save's timestamp comments).
set -euo pipefail
BIN=${CMESH_BIN:-build/asan/bin}
INIT=$BIN/cmesh-proxy-init
ARGS="--ipv6=false --incoming-proxy-port 4143 --outgoing-proxy-port 4140 --proxy-uid 2102 \
 --inbound-ports-to-ignore 4190,4191,4567,4568 --outbound-ports-to-ignore 4567,4568 \
 --subnets-to-ignore 10.10.0.0/16"
export ASAN_OPTIONS=detect_leaks=0
for mode in nft legacy; do
  save=iptables-$mode-save
  out=$(unshare --net bash -c "
    set -e
    $INIT --iptables-mode $mode $ARGS
    $save -t nat | grep -v '^#' > /tmp/cmesh-init-first.\$\$
    $INIT --iptables-mode $mode $ARGS
    $save -t nat | grep -v '^#' | diff -u /tmp/cmesh-init-first.\$\$ - >&2 || { echo RERUN-DIFFERS; exit 1; }
    rm -f /tmp/cmesh-init-first.\$\$
    $save -t nat
  ")
  echo "$out" | grep -q -- '-A PREROUTING .*-j PROXY_INIT_REDIRECT' || { echo "$mode: no PREROUTING jump"; echo "$out"; exit 1; }
  [ "$(echo "$out" | grep -c -- '-A PREROUTING .*-j PROXY_INIT_REDIRECT')" = 1 ] || { echo "$mode: jump duplicated"; exit 1; }
  [ "$(echo "$out" | grep -c -- '-A OUTPUT .*-j PROXY_INIT_OUTPUT')" = 1 ] || { echo "$mode: output jump missing or duplicated"; exit 1; }
  echo "$out" | grep -q -- '-A PROXY_INIT_OUTPUT -m owner --uid-owner 2102' || { echo "$mode: uid rule missing"; exit 1; }
  echo "$out" | grep -q -- '-A PROXY_INIT_REDIRECT -p tcp .*--to-ports 4143' || { echo "$mode: inbound redirect missing"; echo "$out"; exit 1; }
  echo "$out" | grep -q -- '-A PROXY_INIT_OUTPUT -p tcp .*--to-ports 4140' || { echo "$mode: outbound redirect missing"; exit 1; }
  echo "$out" | grep -q -- '-A PROXY_INIT_REDIRECT -s 10.10.0.0/16 -p tcp' || { echo "$mode: subnet rule missing"; echo "$out"; exit 1; }
  echo "$out" | grep -q -- 'dports 4190,4191,4567,4568' || { echo "$mode: ignore ports missing"; exit 1; }
  echo "proxy-init $mode: $(echo "$out" | grep -c '^-A') rules, rerun identical"
done
# A bad flag is an error with a message, and nothing is run.
if $INIT --incoming-proxy-port nope 2>/tmp/cmesh-init-err.$$; then echo "bad flag accepted"; exit 1; fi
grep -q 'invalid value "nope" for --incoming-proxy-port' /tmp/cmesh-init-err.$$
rm -f /tmp/cmesh-init-err.$$
echo ok

"""Destination fan-out benchmark driver (run by bench/destination_bench.sh).

Starts the local API server with one Service and one EndpointSlice, then for
each scenario a fresh cmesh-destination (pinned to core 0) and the C load
client bench/destination_load (pinned to core 1): it waits until every stream
has its first message, reads the controller's RSS, then edits the slice
CHANGES times and takes, for each edit, the time from just before the write to
the arrival at the last (and first) subscriber.

Usage: destination_driver.py LOAD_BIN CHANGES   (env CMESH_BIN; optional
DESTINATION_BENCH_ONLY, a comma list of 1k, 10k, tls)
"""
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time

import kubeapi
from cmeshtest import Proc, free_port, http_get, wait_for

NS = "demo"
AUTH = "web.demo.svc.cluster.local:80"
SLICE_PATH = "/apis/discovery.k8s.io/v1/namespaces/demo/endpointslices"
DST_NAME = "cmesh-destination.cmesh.serviceaccount.identity.cmesh.cluster.local"
ENDPOINTS = 10
CONTROLLER_CPU, CLIENT_CPU = 0, 1
READY_TIMEOUT = 300.0
UPDATE_TIMEOUT = 30.0
SETTLE_S = 1.0
PAUSE_S = 0.2
GOAL_RSS_MB_10K = 100
GOAL_P99_MS = {1000: 50, 10000: 500}


class Case:
    """The bits of MeshTestCase kubeapi.start_for needs."""
    def __init__(self, tmp):
        self.tmp = tmp
        self.cleanups = []

    def addCleanup(self, f, *a, **kw):
        self.cleanups.append((f, a, kw))


def status_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def anon_kb(pid):
    """Anonymous memory (heap, stacks): RSS less the shared library pages."""
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Anonymous:"):
                return int(line.split()[1])
    return -1


class Lines:
    """The load client's stdout, read by a thread so a wait can time out: a
    lost update then fails the run instead of hanging it."""
    def __init__(self, stream):
        self.q = queue.Queue()
        self.t = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self.t.start()

    def _pump(self, stream):
        for line in stream:
            self.q.put(line)
        self.q.put("")

    def get(self, timeout, what):
        try:
            return self.q.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError("no %s from the load client within %.0f s" % (what, timeout))


def eslice(ready_last):
    eps = [{"addresses": ["10.1.0.%d" % (i + 1)],
            "conditions": {"ready": ready_last if i == ENDPOINTS - 1 else True},
            "targetRef": {"kind": "Pod", "namespace": NS, "name": "web-%d" % i}}
           for i in range(ENDPOINTS)]
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "web-x", "namespace": NS,
                         "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4", "endpoints": eps,
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}


def put_slice(api, obj):
    cur = api.request("GET", SLICE_PATH + "/web-x")[2]
    obj = json.loads(json.dumps(obj))
    obj["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
    st, _, body = api.request("PUT", SLICE_PATH + "/web-x", obj)
    if st != 200:
        raise RuntimeError("PUT slice: %d %r" % (st, body))
    # A PUT that changes nothing keeps the resourceVersion and makes no event
    # (as a real API server does): no subscriber would ever see it.
    if body["metadata"]["resourceVersion"] == cur["metadata"]["resourceVersion"]:
        raise RuntimeError("PUT slice changed nothing (no-op PUT)")


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))]


def scenario(name, api, bindir, load_bin, tmp, channels, per, changes, tls=None):
    port, aport = free_port(), free_port()
    sec = ["--tls-cert", tls[0], "--tls-key", tls[1]] if tls else ["--insecure"]
    # DESTINATION_BENCH_WRAP: a profiler command line put before the daemon
    # (e.g. "heaptrack -o /tmp/dst"); RSS figures then include the profiler.
    wrap = os.environ.get("DESTINATION_BENCH_WRAP", "").split()
    dst = Proc(["taskset", "-c", str(CONTROLLER_CPU)] + wrap + [os.path.join(bindir, "cmesh-destination")] + sec +
               ["--addr", "127.0.0.1:%d" % port, "--admin-addr", "127.0.0.1:%d" % aport,
                "--kubeconfig", api.kubeconfig, "--log-level", "warn"],
               os.path.join(tmp, "dst-%s.log" % name))
    client = None
    try:
        try:
            wait_for(lambda: http_get("http://127.0.0.1:%d/ready" % aport, timeout=1)[0] == 200
                     or not dst.alive(), timeout=30, what="destination /ready")
            if not dst.alive():
                raise RuntimeError("cmesh-destination exited")
        except (AssertionError, RuntimeError):
            print(dst.output()[-3000:])
            raise
        base_kb = status_kb(dst.pid, "VmRSS")
        args = ["taskset", "-c", str(CLIENT_CPU), load_bin, "127.0.0.1:%d" % port, AUTH, str(channels), str(per)]
        if tls:
            args += [tls[2], DST_NAME]
        t0 = time.monotonic()
        client = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        lines = Lines(client.stdout)
        line = lines.get(READY_TIMEOUT, "READY")
        if not line.startswith("READY"):
            raise RuntimeError("%s: load client said %r" % (name, line))
        open_s = time.monotonic() - t0
        time.sleep(SETTLE_S)
        rss_kb = status_kb(dst.pid, "VmRSS")
        rss_anon_kb = anon_kb(dst.pid)
        streams = channels * per
        fan_last, fan_first = [], []
        # Start from what is stored: a scenario after an odd number of changes
        # would otherwise begin with a PUT identical to the stored slice.
        stored = api.request("GET", SLICE_PATH + "/web-x")[2]
        ready_last = stored["endpoints"][-1]["conditions"]["ready"]
        for i in range(1, changes + 1):
            ready_last = not ready_last
            t = time.monotonic()
            put_slice(api, eslice(ready_last))
            line = lines.get(UPDATE_TIMEOUT, "UPDATE %d" % i)
            parts = line.split()
            if len(parts) != 4 or parts[0] != "UPDATE" or int(parts[1]) != i:
                raise RuntimeError("%s: expected UPDATE %d, got %r" % (name, i, line))
            fan_first.append((float(parts[2]) - t) * 1000)
            fan_last.append((float(parts[3]) - t) * 1000)
            time.sleep(PAUSE_S)
        hwm_kb = status_kb(dst.pid, "VmHWM")
        after_kb = status_kb(dst.pid, "VmRSS")
        print("%-28s streams=%-6d conns=%-5d open=%.1fs rss_idle=%.1fMB rss=%.1fMB (%.1f KB/stream) peak=%.1fMB"
              % (name, streams, channels, open_s, base_kb / 1024, rss_kb / 1024,
                 (rss_kb - base_kb) / streams, hwm_kb / 1024))
        # Anonymous = heap and stacks (RSS less mapped library pages);
        # after = RSS once the changes went out (fan-out buffers, fragmentation).
        print("%-28s rss anonymous=%.1fMB, after the changes=%.1fMB"
              % ("", rss_anon_kb / 1024, after_kb / 1024))
        print("%-28s fan-out to every subscriber over %d changes: p50=%.1fms p99=%.1fms max=%.1fms;"
              " first subscriber p50=%.1fms"
              % ("", changes, pct(fan_last, 0.5), pct(fan_last, 0.99), max(fan_last), pct(fan_first, 0.5)))
        goal = GOAL_P99_MS.get(streams)
        if goal and not tls:
            print("%-28s goal p99 <= %d ms: %s" % ("", goal, "met" if pct(fan_last, 0.99) <= goal else "MISSED"))
        if streams == 10000 and not tls:
            print("%-28s goal RSS <= %d MB: %s" % ("", GOAL_RSS_MB_10K,
                                                   "met" if rss_kb / 1024 <= GOAL_RSS_MB_10K else "MISSED"))
        sys.stdout.flush()
    finally:
        if client is not None:
            client.stdin.close()
            try:
                client.wait(60)
            except subprocess.TimeoutExpired:
                client.kill()
                client.wait()
        dst.stop()


def main():
    load_bin, changes = sys.argv[1], int(sys.argv[2])
    bindir = os.environ["CMESH_BIN"]
    tmp = tempfile.mkdtemp(prefix="dstbench-")
    case = Case(tmp)
    try:
        api = kubeapi.start_for(case, history=100000)
        os.sched_setaffinity(api.proc.pid, {CLIENT_CPU})
        os.sched_setaffinity(0, {CLIENT_CPU})
        api.request("POST", "/api/v1/namespaces",
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        api.request("POST", "/api/v1/namespaces/demo/services",
                    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": NS},
                     "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}})
        api.request("POST", SLICE_PATH, eslice(True))
        only = os.environ.get("DESTINATION_BENCH_ONLY", "1k,10k,tls").split(",")
        if "1k" in only:
            scenario("plaintext 10x100", api, bindir, load_bin, tmp, 10, 100, changes)
        if "10k" in only:
            scenario("plaintext 100x100", api, bindir, load_bin, tmp, 100, 100, changes)
        if "tls" not in only:
            return
        pki = os.path.join(tmp, "pki")
        subprocess.run([os.path.join(bindir, "cmesh"), "certs", "generate", "--out", pki], check=True,
                       stdout=subprocess.DEVNULL)
        # The serving cert file holds leaf + issuer (the chain to the anchor).
        chain = os.path.join(pki, "destination", "crt.pem")
        scenario("TLS 1000x1", api, bindir, load_bin, tmp, 1000, 1, changes,
                 tls=(chain, os.path.join(pki, "destination", "key.pem"), os.path.join(pki, "ca-bundle.crt")))
    finally:
        for f, a, kw in reversed(case.cleanups):
            f(*a, **kw)
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()

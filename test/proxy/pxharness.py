"""Starts cmesh-proxy on free loopback ports for a MeshTestCase."""
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cmeshtest import bin_path, free_port, http_get, wait_for  # noqa: E402


def start_proxy(tc, forward=None, env=None, asan_quarantine=True):
    ports = {"in": free_port(), "out": free_port(), "admin": free_port()}
    e = {
        "LINKERD2_PROXY_INBOUND_LISTEN_ADDR": "127.0.0.1:%d" % ports["in"],
        "LINKERD2_PROXY_OUTBOUND_LISTEN_ADDR": "127.0.0.1:%d" % ports["out"],
        "LINKERD2_PROXY_ADMIN_LISTEN_ADDR": "127.0.0.1:%d" % ports["admin"],
        "LINKERD2_PROXY_LOG": "warn,linkerd=info",
        "CMESH_PROXY_OUTBOUND_TARGET_FROM_HOST": "true",
    }
    if forward:
        e["CMESH_PROXY_INBOUND_FORWARD_ADDR"] = forward
    if not asan_quarantine:
        e["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=0:detect_leaks=1"
    if env:
        e.update(env)
    p = tc.spawn([bin_path("cmesh-proxy")], name="proxy", env=e)
    wait_for(lambda: http_get("http://127.0.0.1:%d/ready" % ports["admin"], timeout=1)[0] == 200,
             timeout=20, what="proxy ready")
    return p, ports


def metrics(ports):
    st, body, _ = http_get("http://127.0.0.1:%d/metrics" % ports["admin"])
    assert st == 200
    return body.decode()


def metric_value(text, name, **labels):
    """Sum of the samples of `name` whose labels include all of `labels`."""
    total, found = 0.0, False
    for line in text.splitlines():
        if line.startswith(name + " "):
            lab, val = "", line[len(name) + 1:]
        elif line.startswith(name + "{"):
            lab, val = line[len(name) + 1:].rsplit("} ", 1)
        else:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', lab))
        if all(got.get(k) == v for k, v in labels.items()):
            total += float(val)
            found = True
    return total if found else None


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def raw(port, data, timeout=5.0, until_close=True, read_for=None):
    """Sends bytes, returns everything read until the peer closes (or for read_for s)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        end = time.time() + (read_for or timeout)
        while time.time() < end:
            try:
                d = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not d:
                break
            out += d
        return out
    finally:
        s.close()

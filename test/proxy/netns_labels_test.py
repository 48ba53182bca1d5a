"""Metric label parity between HTTP/1 and HTTP/2 (test/lib/netpods.py world).

Linkerd labels a request by the target the client dialled: on inbound the
pod's address and port (the original destination), not the 127.0.0.1:port the
proxy connects to. One HTTP/1 and one HTTP/2 request to the same address go
through the same listeners (a's outbound, b's inbound); each proxy must count
them in one request_total series whose target_* labels name that address.
The application on b answers both protocols on one port.
"""
import os
import re
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cmeshtest  # noqa: E402
from netpods import World  # noqa: E402

SUBNET = 78
B = "10.%d.0.2" % SUBNET
PORT = 8090
PY = "/usr/bin/python3"

# HTTP/1.1 and h2c (prior knowledge) on one port, told apart by the preface.
DUAL_APP = r"""
import socket, sys, threading
import h2.config, h2.connection, h2.events

def h2c(c):
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    c.sendall(conn.data_to_send())
    while True:
        d = c.recv(65536)
        if not d:
            return
        for ev in conn.receive_data(d):
            if isinstance(ev, h2.events.RequestReceived):
                conn.send_headers(ev.stream_id, [(":status", "200"), ("content-length", "3")])
                conn.send_data(ev.stream_id, b"h2\n", end_stream=True)
        c.sendall(conn.data_to_send())

def h1(c):
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = c.recv(65536)
        if not d:
            return
        buf += d
    c.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nh1\n")

def serve(c):
    try:
        first = b""
        while len(first) < 3:
            first = c.recv(3, socket.MSG_PEEK)
            if not first:
                return
        (h2c if first == b"PRI" else h1)(c)
    except OSError:
        pass
    finally:
        c.close()

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", int(sys.argv[1])))
srv.listen(16)
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""


def series(text, name, **labels):
    """{label string: value} of the samples of `name` having all `labels`."""
    out = {}
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        lab, val = line[len(name) + 1:].rsplit("} ", 1)
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', lab))
        if all(got.get(k) == v for k, v in labels.items()):
            out[lab] = float(val)
    return out


class NetnsLabelsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cmesh-labels-")
        cls.w = World(os.path.join(cls.tmp, "logs"), subnet=SUBNET)
        try:
            init = cmeshtest.bin_path("cmesh-proxy-init")
            cls.w.proxy_init("a", binpath=init)
            cls.w.proxy_init("b", binpath=init)
            cls.w.spawn("b", [PY, "-c", DUAL_APP, str(PORT)], "dual-app")
            cls.w.wait_port("b", PORT)
            proxy = cmeshtest.bin_path("cmesh-proxy")
            cls.pa = cls.w.start_proxy("a", proxy)
            cls.pb = cls.w.start_proxy("b", proxy)
        except Exception:
            cls.w.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.w.close()

    def test_h1_and_h2_share_one_label_set(self):
        url = "http://%s:%d/" % (B, PORT)
        r1 = self.w.run("a", ["curl", "-s", "--max-time", "10", url], check=False)
        r2 = self.w.run("a", ["curl", "-s", "--max-time", "10", "--http2-prior-knowledge", url],
                        check=False)
        self.assertEqual((r1.returncode, r1.stdout), (0, b"h1\n"))
        self.assertEqual((r2.returncode, r2.stdout), (0, b"h2\n"))
        for pod, direction in (("a", "outbound"), ("b", "inbound")):
            text = self.w.metrics(pod)
            for name in ("request_total", "response_total"):
                s = series(text, name, direction=direction)
                # Both protocols in one series, so the label sets are equal...
                self.assertEqual(list(s.values()), [2.0], "%s %s: %s" % (pod, name, s))
                labels = dict(re.findall(r'(\w+)="([^"]*)"', next(iter(s))))
                # ... and name the address the client dialled.
                self.assertEqual(labels["target_addr"], "%s:%d" % (B, PORT), labels)
                self.assertEqual(labels["target_ip"], B)
                self.assertEqual(labels["target_port"], str(PORT))
                self.assertEqual(labels["authority"], "%s:%d" % (B, PORT))


if __name__ == "__main__":
    unittest.main()

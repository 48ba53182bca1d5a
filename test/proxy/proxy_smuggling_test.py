"""Request-smuggling corpus: each file in smuggling/ is a raw request (the
second line, with Python escapes) and the status the proxy must answer
(first line, "expect: NNN"). The backend records every byte it receives, and
must receive none from any of these requests."""
import codecs
import glob
import os
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cmeshtest import MeshTestCase  # noqa: E402
from pxbackend import Backend  # noqa: E402
from pxharness import metric_value, metrics, start_proxy  # noqa: E402

CORPUS = sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)), "smuggling", "*.req")))


def load(path):
    with open(path) as f:
        first, rest = f.read().split("\n", 1)
    status = int(first.split(":")[1])
    data = codecs.escape_decode(rest.rstrip("\n").encode("ascii"))[0]
    return status, data


def exchange(port, data):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(data)
        out = b""
        while True:
            try:
                d = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not d:
                break
            out += d
        return out
    finally:
        s.close()


class SmugglingTest(MeshTestCase):
    def test_corpus_rejected_nothing_forwarded(self):
        self.assertGreaterEqual(len(CORPUS), 30)
        be = Backend()
        self.addCleanup(be.stop)
        p, ports = start_proxy(self, forward=be.addr())
        for path in CORPUS:
            with self.subTest(case=os.path.basename(path)):
                status, data = load(path)
                out = exchange(ports["in"], data)
                self.assertTrue(out.startswith(b"HTTP/1.1 %d " % status),
                                "%s: got %r" % (os.path.basename(path), out[:80]))
                self.assertIn(b"connection: close", out.lower())
        self.assertEqual(be.received_bytes, 0, be.requests)
        self.assertEqual(be.connections, 0)
        # And a valid request still goes through afterwards.
        out = exchange(ports["in"], b"GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        self.assertTrue(out.endswith(b"hello"), out)
        # Rejected heads are not requests: only the valid one is counted.
        self.assertEqual(metric_value(metrics(ports), "request_total"), 1)

    def test_header_timeout(self):
        be = Backend()
        self.addCleanup(be.stop)
        p, ports = start_proxy(self, forward=be.addr(), env={"CMESH_PROXY_HTTP_HEADER_TIMEOUT": "300ms"})
        s = socket.create_connection(("127.0.0.1", ports["in"]), timeout=5)
        s.sendall(b"GET /hello HTTP/1.1\r\nHost: a\r\n")
        out = s.recv(4096)
        s.close()
        self.assertTrue(out.startswith(b"HTTP/1.1 408"), out)
        self.assertEqual(be.received_bytes, 0)


if __name__ == "__main__":
    unittest.main()

"""cmesh-proxy HTTP/1.1 and TCP data path, end to end on loopback, through the
inbound listener (CMESH_PROXY_INBOUND_FORWARD_ADDR) and the outbound listener
(CMESH_PROXY_OUTBOUND_TARGET_FROM_HOST) to a recording Python backend."""
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cmeshtest import MeshTestCase, wait_for  # noqa: E402
from pxbackend import Backend  # noqa: E402
from pxharness import metric_value, metrics, raw, rss_kb, start_proxy  # noqa: E402

CURL = ["curl", "-sS", "--max-time", "20"]


class ProxyHttpTest(MeshTestCase):
    def setUp(self):
        super().setUp()
        self.be = Backend()
        self.addCleanup(self.be.stop)

    def curl(self, *args):
        r = subprocess.run(CURL + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        return r.stdout

    def test_keepalive_and_metrics(self):
        p, ports = start_proxy(self, forward=self.be.addr())
        url = "http://127.0.0.1:%d/hello" % ports["in"]
        out = self.curl("-w", "|%{http_code}|%{num_connects}\n", url, url, url, url, url)
        self.assertEqual(out.count(b"hello|200|"), 5)
        # One client connection for five requests, and one upstream connection too.
        self.assertEqual(out.count(b"|1\n"), 1)
        self.assertEqual(self.be.connections, 1)
        m = metrics(ports)
        auth = "127.0.0.1:%d" % ports["in"]
        self.assertEqual(metric_value(m, "request_total", direction="inbound", authority=auth,
                                      target_addr=self.be.addr(), tls="disabled"), 5)
        self.assertEqual(metric_value(m, "response_total", direction="inbound", status_code="200",
                                      classification="success", error=""), 5)
        self.assertEqual(metric_value(m, "response_latency_ms_count", direction="inbound"), 5)
        # curl is still connected? no: it exited, so its connection closed.
        wait_for(lambda: metric_value(metrics(ports), "tcp_close_total", direction="inbound", peer="src") == 1,
                 what="tcp_close_total")
        m = metrics(ports)
        self.assertEqual(metric_value(m, "tcp_open_total", direction="inbound", peer="src"), 1)
        self.assertEqual(metric_value(m, "tcp_open_total", direction="inbound", peer="dst"), 1)
        self.assertGreater(metric_value(m, "tcp_read_bytes_total", direction="inbound", peer="src"), 300)
        self.assertIsNotNone(metric_value(m, "process_resident_memory_bytes"))
        # 5xx and grpc-status are failures.
        self.curl("-o", "/dev/null", "http://127.0.0.1:%d/status?code=503" % ports["in"])
        self.curl("-o", "/dev/null", "http://127.0.0.1:%d/status?code=200&grpc=14" % ports["in"])
        m = metrics(ports)
        self.assertEqual(metric_value(m, "response_total", status_code="503", classification="failure"), 1)
        self.assertEqual(metric_value(m, "response_total", status_code="200", grpc_status="14",
                                      classification="failure"), 1)

    def test_outbound_target_from_host(self):
        p, ports = start_proxy(self)
        out = self.curl("-H", "Host: %s" % self.be.addr(), "http://127.0.0.1:%d/hello" % ports["out"])
        self.assertEqual(out, b"hello")
        # A Host naming the proxy itself is refused (no loop).
        r = raw(ports["out"], b"GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % ports["out"])
        self.assertTrue(r.startswith(b"HTTP/1.1 502"), r)
        # Without the opt-in, no target: the inbound listener refuses TCP too.
        m = metrics(ports)
        self.assertEqual(metric_value(m, "outbound_tcp_errors_total", error="no_target"), 1)

    def test_no_target_refused(self):
        p, ports = start_proxy(self)  # no forward address: inbound has no target
        r = raw(ports["in"], b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(r, b"")
        self.assertEqual(self.be.received_bytes, 0)
        wait_for(lambda: metric_value(metrics(ports), "inbound_tcp_errors_total", error="no_target") == 1,
                 what="no_target counted")

    def test_pipelining(self):
        p, ports = start_proxy(self, forward=self.be.addr())
        req = b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"
        reqs = req * 3 + b"GET /chunked?n=3000 HTTP/1.1\r\nHost: a\r\n\r\n" + \
            b"GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        out = raw(ports["in"], reqs)
        self.assertEqual(out.count(b"HTTP/1.1 200 OK"), 5)
        self.assertEqual(out.count(b"\r\n\r\nhello"), 4)
        self.assertTrue(out.endswith(b"hello"))
        self.assertIn(b"Transfer-Encoding: chunked", out)
        self.assertEqual(len(self.be.requests), 5)

    def test_chunked_upload_download_head_204_304(self):
        p, ports = start_proxy(self, forward=self.be.addr())
        base = "http://127.0.0.1:%d" % ports["in"]
        data = os.urandom(300000)
        path = os.path.join(self.tmp, "up.bin")
        with open(path, "wb") as f:
            f.write(data)
        out = json.loads(self.curl("-H", "Transfer-Encoding: chunked", "--data-binary", "@" + path,
                                   base + "/upload"))
        self.assertEqual(out["len"], len(data))
        self.assertEqual(out["sha256"], hashlib.sha256(data).hexdigest())
        dl = self.curl(base + "/chunked?n=250000")
        self.assertEqual(len(dl), 250000)
        self.assertEqual(dl[:1000], b"a" * 1000)
        hd = self.curl("-I", base + "/hello")
        self.assertIn(b"Content-Length: 5", hd)
        # HEAD, 204, 304 have no body: the next request on the connection works.
        r = raw(ports["in"], b"HEAD /hello HTTP/1.1\r\nHost: a\r\n\r\nGET /204 HTTP/1.1\r\nHost: a\r\n\r\n"
                b"GET /304 HTTP/1.1\r\nHost: a\r\n\r\nGET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        self.assertEqual(r.count(b"HTTP/1.1 "), 4, r)
        self.assertIn(b"HTTP/1.1 204", r)
        self.assertIn(b"HTTP/1.1 304", r)
        self.assertTrue(r.endswith(b"\r\n\r\nhello"), r)

    def test_hop_by_hop_removed(self):
        p, ports = start_proxy(self, forward=self.be.addr())
        out = json.loads(self.curl("-H", "Connection: X-Drop", "-H", "X-Drop: 1", "-H", "Keep-Alive: 3",
                                   "-H", "X-Keep: 2", "-H", "TE: trailers",
                                   "http://127.0.0.1:%d/headers" % ports["in"]))
        self.assertEqual(out.get("x-keep"), "2")
        for h in ("x-drop", "keep-alive", "te", "connection"):
            self.assertNotIn(h, out)

    def test_large_transfers_bounded_memory(self):
        p, ports = start_proxy(self, forward=self.be.addr(), asan_quarantine=False)
        base = "http://127.0.0.1:%d" % ports["in"]
        self.curl("-o", "/dev/null", base + "/hello")
        before = rss_kb(p.pid)
        size = 10 * 1024 * 1024
        path = os.path.join(self.tmp, "big.bin")
        with open(path, "wb") as f:
            f.write(os.urandom(size))
        out = json.loads(self.curl("-H", "Expect: 100-continue", "--data-binary", "@" + path, base + "/upload"))
        self.assertEqual(out["len"], size)
        dl = self.curl(base + "/big?n=%d" % size)
        self.assertEqual(len(dl), size)
        after = rss_kb(p.pid)
        # Bodies stream through bounded buffers: growth far below the 10 MB moved.
        self.assertLess(after - before, 6 * 1024, "RSS %d -> %d kB" % (before, after))

    def test_close_delimited_response(self):
        p, ports = start_proxy(self, forward=self.be.addr())
        # HTTP/1.0 keeps the close-delimited framing (an HTTP/1.1 client gets
        # chunks instead: proxy_robust_test).
        r = raw(ports["in"], b"GET /close HTTP/1.0\r\nHost: a\r\n\r\n")
        self.assertTrue(r.startswith(b"HTTP/1.1 200 OK"), r)
        self.assertIn(b"Connection: close", r)
        self.assertNotIn(b"Transfer-Encoding", r)
        self.assertTrue(r.endswith(b"close-delimited-body"))
        r = raw(ports["in"], b"GET /close HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        self.assertIn(b"Transfer-Encoding: chunked", r)
        self.assertTrue(r.endswith(b"close-delimited-body\r\n0\r\n\r\n"), r)

    def test_websocket_upgrade(self):
        p, ports = start_proxy(self, forward=self.be.addr())
        s = socket.create_connection(("127.0.0.1", ports["in"]), timeout=5)
        s.sendall(b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(4096)
        self.assertTrue(head.startswith(b"HTTP/1.1 101"), head)
        self.assertIn(b"Upgrade: websocket", head)
        frame = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"  # masked "Hello"
        rest = head.split(b"\r\n\r\n", 1)[1]
        s.sendall(frame)
        got = rest
        while len(got) < len(frame):
            got += s.recv(4096)
        self.assertEqual(got, frame)
        s.close()

    def test_raw_tcp_and_byte_metrics(self):
        p, ports = start_proxy(self, forward=self.be.addr())
        payload = b"\x00\x01opaque-bytes" * 1000
        s = socket.create_connection(("127.0.0.1", ports["in"]), timeout=5)
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)  # half-close: the echo must still come back
        got = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
        s.close()
        self.assertEqual(got, payload)
        wait_for(lambda: metric_value(metrics(ports), "tcp_close_total", direction="inbound", peer="src") == 1,
                 what="close counted")
        m = metrics(ports)
        self.assertEqual(metric_value(m, "tcp_read_bytes_total", direction="inbound", peer="src"), len(payload))
        self.assertEqual(metric_value(m, "tcp_write_bytes_total", direction="inbound", peer="src"), len(payload))
        self.assertEqual(metric_value(m, "tcp_write_bytes_total", direction="inbound", peer="dst"), len(payload))
        self.assertEqual(metric_value(m, "tcp_open_connections", direction="inbound", peer="src"), 0)
        self.assertIsNone(metric_value(m, "request_total"))

    def test_opaque_port_skips_detection(self):
        # The forward port is listed as opaque: an HTTP request is relayed raw
        # (no request_total), and the backend answers it itself.
        p, ports = start_proxy(self, forward=self.be.addr(), env={
            "LINKERD2_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION": "%d" % self.be.port})
        r = raw(ports["in"], b"GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        self.assertTrue(r.endswith(b"hello"))
        self.assertIsNone(metric_value(metrics(ports), "request_total"))

    def test_admin_endpoints(self):
        p, ports = start_proxy(self, forward=self.be.addr())
        from cmeshtest import http_get
        a = "http://127.0.0.1:%d" % ports["admin"]
        self.assertEqual(http_get(a + "/ready")[:2], (200, b"ready\n"))
        self.assertEqual(http_get(a + "/live")[:2], (200, b"live\n"))
        self.assertEqual(http_get(a + "/nope")[0], 404)

    def test_admin_proxy_log_level(self):
        p, ports = start_proxy(self, forward=self.be.addr(), env={"LINKERD2_PROXY_LOG": "warn"})
        port = ports["admin"]

        def call(method, body=b"", extra=b""):
            r = raw(port, b"%s /proxy-log-level HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n%s\r\n%s"
                    % (method, len(body), extra, body))
            head, _, rest = r.partition(b"\r\n\r\n")
            return int(head.split(b" ")[1]), rest
        self.assertEqual(call(b"GET"), (200, b"warn\n"))
        self.assertEqual(call(b"PUT", b"linkerd=info,warn\n")[0], 204)
        self.assertEqual(call(b"GET"), (200, b"linkerd=info,warn\n"))
        self.assertEqual(call(b"PUT", b"loud")[0], 400)
        self.assertEqual(call(b"PUT", b"x" * 600)[0], 413)
        self.assertEqual(call(b"POST", b"info")[0], 405)
        self.assertEqual(call(b"GET"), (200, b"linkerd=info,warn\n"))
        # The new level took effect: its own info line was logged.
        with open(p.log_path, "rb") as f:
            self.assertIn(b"log level set to linkerd=info,warn", f.read())

    def test_sigterm_completes_in_flight(self):
        p, ports = start_proxy(self, forward=self.be.addr(),
                               env={"LINKERD2_PROXY_SHUTDOWN_GRACE_PERIOD": "10s"})
        results = []

        def one():
            s = socket.create_connection(("127.0.0.1", ports["in"]), timeout=10)
            s.sendall(b"GET /slow?ms=700 HTTP/1.1\r\nHost: a\r\n\r\n")
            out = b""
            while True:
                d = s.recv(4096)
                if not d:
                    break
                out += d
            s.close()
            results.append(out)
        ts = [threading.Thread(target=one) for _ in range(8)]
        for t in ts:
            t.start()
        wait_for(lambda: len(self.be.requests) == 8, what="requests at backend")
        p.signal(signal.SIGTERM)
        t0 = time.time()
        for t in ts:
            t.join(15)
        self.assertEqual(len(results), 8)
        for r in results:
            self.assertTrue(r.startswith(b"HTTP/1.1 200"), r)
            self.assertIn(b"Connection: close", r)
            self.assertTrue(r.endswith(b"slow"))
        self.assertEqual(p.wait(10), 0)
        self.assertLess(time.time() - t0, 8)
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", ports["in"]), timeout=2).close()


if __name__ == "__main__":
    unittest.main()

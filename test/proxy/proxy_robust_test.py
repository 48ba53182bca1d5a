"""cmesh-proxy HTTP/1.1 edge cases: stale pooled upstream connections (the
keep-alive race), trailers in both directions, close-delimited responses
re-framed as chunked, a malformed chunk after the head was forwarded, and a
client that half-closes while its response is in flight."""
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cmeshtest import MeshTestCase, wait_for  # noqa: E402
from pxbackend import Backend  # noqa: E402
from pxharness import metric_value, metrics, start_proxy  # noqa: E402


class Reader:
    """Reads HTTP/1.1 responses from one client socket, keeping leftovers."""

    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def _more(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError("connection closed")
        self.buf += d

    def _until(self, sep):
        while sep not in self.buf:
            self._more()
        i = self.buf.index(sep) + len(sep)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def _take(self, n):
        while len(self.buf) < n:
            self._more()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def response(self, head_only=False):
        """Returns (head bytes, headers dict, body, trailer section or None)."""
        head = self._until(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        hd = {}
        for l in lines[1:]:
            if l:
                k, v = l.split(":", 1)
                hd[k.strip().lower()] = v.strip()
        if head_only:
            return head, hd, b"", None
        if "content-length" in hd:
            return head, hd, self._take(int(hd["content-length"])), None
        if hd.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self._until(b"\r\n")[:-2].split(b";")[0], 16)
                if size == 0:
                    trailers = b""
                    while True:
                        line = self._until(b"\r\n")
                        if line == b"\r\n":
                            return head, hd, body, trailers
                        trailers += line
                body += self._take(size)
                assert self._take(2) == b"\r\n"
        body = self.buf
        self.buf = b""
        while True:
            d = self.s.recv(65536)
            if not d:
                return head, hd, body, None
            body += d

    def closed(self, timeout=3.0):
        """True when the peer closes without sending anything more."""
        self.s.settimeout(timeout)
        try:
            return self.s.recv(1) == b"" and not self.buf
        except socket.timeout:
            return False
        except ConnectionResetError:
            return not self.buf


class ProxyRobustTest(MeshTestCase):
    def setUp(self):
        super().setUp()
        self.be = Backend()
        self.addCleanup(self.be.stop)
        self.p, self.ports = start_proxy(self, forward=self.be.addr())

    def client(self, rcvbuf=None):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(10)
        s.connect(("127.0.0.1", self.ports["in"]))
        self.addCleanup(s.close)
        return s, Reader(s)

    def req(self, s, path, extra=b"", version=b"1.1"):
        s.sendall(b"GET " + path + b" HTTP/" + version + b"\r\nHost: a\r\n" + extra + b"\r\n")

    def test_stale_pooled_connection_retried(self):
        s, rd = self.client()
        # The backend resets every kept-alive connection when the next request
        # arrives on it: each reuse of a pooled connection must be retried.
        for i in range(200):
            self.req(s, b"/stale-rst")
            head, hd, body, _ = rd.response()
            self.assertTrue(head.startswith(b"HTTP/1.1 200"), (i, head))
            self.assertEqual(body, b"stale-ok")
        # With a body: the retry sends it again, whole.
        for i in range(20):
            payload = os.urandom(1000 + i * 997)
            s.sendall(b"POST /stale-rst HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % len(payload)
                      + payload)
            head, hd, body, _ = rd.response()
            self.assertTrue(head.startswith(b"HTTP/1.1 200"), (i, head))
        posts = [r for r in self.be.requests if r["method"] == "POST"]
        self.assertEqual([r["body_len"] for r in posts], [1000 + i * 997 for i in range(20)])
        # Closes racing the next request, with FIN at varying delays.
        delays = [0, 100, 300, 700, 1500, 3000]
        for i in range(200):
            self.req(s, b"/stale-fin?us=%d" % delays[i % len(delays)])
            head, hd, body, _ = rd.response()
            self.assertTrue(head.startswith(b"HTTP/1.1 200"), (i, head))
            self.assertEqual(body, b"stale-ok")
        m = metrics(self.ports)
        self.assertEqual(metric_value(m, "response_total", direction="inbound", status_code="200"), 420)
        self.assertIsNone(metric_value(m, "response_total", classification="failure"))

    def test_idle_pooled_connection_closed_by_peer_is_dropped(self):
        s, rd = self.client()
        self.req(s, b"/stale-fin?us=0")
        self.assertEqual(rd.response()[2], b"stale-ok")
        # The server closed the pooled connection: the proxy notices while it
        # is idle and drops it (long before the 10 s pool timeout).
        wait_for(lambda: metric_value(metrics(self.ports), "tcp_open_connections", peer="dst") == 0,
                 timeout=3, what="pooled connection dropped")
        m = metrics(self.ports)
        self.assertEqual(metric_value(m, "tcp_close_total", peer="dst"), 1)
        self.req(s, b"/hello")
        self.assertEqual(rd.response()[2], b"hello")
        self.assertEqual(self.be.connections, 2)

    def test_trailers_both_directions(self):
        s, rd = self.client()
        self.req(s, b"/trailers")
        head, hd, body, trailers = rd.response()
        self.assertEqual(body, b"hello world")
        self.assertEqual(hd.get("trailer"), "X-Checksum")
        self.assertNotIn(b"ext=", head)
        self.assertIn(b"X-Checksum: abc123\r\n", trailers)
        self.assertIn(b"X-Other: two words\r\n", trailers)
        self.assertNotIn(b"Content-Length", trailers)  # framing fields never come late
        # Request trailers reach the backend, filtered the same way.
        s.sendall(b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"3;name=v\r\nabc\r\n0\r\nX-Req-Sum: 42\r\nHost: evil\r\nConnection: x\r\n\r\n")
        head, hd, body, _ = rd.response()
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
        self.assertIn(b'"len": 3', body)
        up = [r for r in self.be.requests if r["target"] == "/upload"][0]
        self.assertEqual(up["trailers"], [("X-Req-Sum", "42")])
        # An empty trailer section still ends the body; the connection is reused.
        s.sendall(b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n")
        self.assertIn(b'"len": 2', rd.response()[2])
        self.assertEqual(metric_value(metrics(self.ports), "tcp_open_total", peer="src"), 1)

    def test_bad_trailers_rejected(self):
        s, rd = self.client()
        s.sendall(b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"3\r\nabc\r\n0\r\nBad Name: x\r\n\r\n")
        head, _, _, _ = rd.response()
        self.assertTrue(head.startswith(b"HTTP/1.1 400"), head)
        self.assertEqual([r for r in self.be.requests if r["target"] == "/upload"], [])

    def test_close_delimited_response_rechunked(self):
        s, rd = self.client()
        self.req(s, b"/eof")
        head, hd, body, _ = rd.response()
        self.assertEqual(hd.get("transfer-encoding"), "chunked")
        self.assertNotIn("connection", hd)
        self.assertEqual(body, b"part0-part1-part2-")
        # The client's connection stays usable.
        self.req(s, b"/hello")
        self.assertEqual(rd.response()[2], b"hello")
        self.assertEqual(metric_value(metrics(self.ports), "tcp_open_total", peer="src"), 1)
        # HTTP/1.0 cannot take chunks: close-delimited, and closed.
        s2, rd2 = self.client()
        self.req(s2, b"/eof", version=b"1.0")
        head, hd, body, _ = rd2.response()
        self.assertNotIn("transfer-encoding", hd)
        self.assertEqual(hd.get("connection"), "close")
        self.assertEqual(body, b"part0-part1-part2-")

    def test_bad_response_chunk_aborts(self):
        s, rd = self.client()
        self.req(s, b"/badchunk")
        head, hd, _, _ = rd.response(head_only=True)
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
        got = b""
        s.settimeout(3)
        try:
            while True:
                d = s.recv(4096)
                if not d:
                    break
                got += d
        except ConnectionResetError:
            pass
        got = rd.buf + got
        # What was relayed stays, the body is unterminated, the connection ends.
        self.assertTrue(got.startswith(b"5\r\nhello\r\n"), got)
        self.assertNotIn(b"0\r\n\r\n", got)
        self.assertNotIn(b"broken", got)
        m = metrics(self.ports)
        self.assertEqual(metric_value(m, "response_total", error="invalid_body", classification="failure"), 1)
        self.assertEqual(metric_value(m, "inbound_tcp_errors_total", error="invalid_body"), 1)
        wait_for(lambda: metric_value(metrics(self.ports), "tcp_close_total", peer="dst", errno="EPROTO") == 1,
                 timeout=3, what="upstream closed")

    def test_bad_request_chunk_after_head_forwarded(self):
        s, rd = self.client()
        s.sendall(b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        wait_for(lambda: self.be.received_bytes > 0, timeout=3, what="head forwarded")
        s.sendall(b"zz\r\nrest\r\n0\r\n\r\n")
        head, _, _, _ = rd.response()
        self.assertTrue(head.startswith(b"HTTP/1.1 400"), head)
        self.assertTrue(rd.closed())
        # The upstream connection was closed too (the backend saw a short body).
        wait_for(lambda: metric_value(metrics(self.ports), "tcp_open_connections", peer="dst") == 0,
                 timeout=3, what="upstream closed")
        self.assertEqual([r for r in self.be.requests if r["target"] == "/upload"], [])
        self.assertEqual(metric_value(metrics(self.ports), "response_total", status_code="400",
                                      error="invalid_body"), 1)

    def test_client_half_close_during_response(self):
        n = 8000000
        # A small receive buffer keeps most of the body queued in the proxy
        # when the response completes upstream.
        s, rd = self.client(rcvbuf=16384)
        self.req(s, b"/big?n=%d" % n)
        s.shutdown(socket.SHUT_WR)
        time.sleep(0.5)  # the proxy sees the FIN while the body is held back
        head, hd, body, _ = rd.response()
        self.assertEqual(len(body), n)
        self.assertTrue(rd.closed())
        # Pipelined requests, then FIN, during a slow first response: all answered.
        s2, rd2 = self.client()
        s2.sendall(b"GET /slow?ms=300 HTTP/1.1\r\nHost: a\r\n\r\nGET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
        s2.shutdown(socket.SHUT_WR)
        self.assertEqual(rd2.response()[2], b"slow")
        self.assertEqual(rd2.response()[2], b"hello")
        self.assertTrue(rd2.closed())
        m = metrics(self.ports)
        self.assertEqual(metric_value(m, "response_total", status_code="200", classification="success"), 3)


if __name__ == "__main__":
    unittest.main()

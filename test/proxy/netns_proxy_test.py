"""Two pods in network namespaces (test/lib/netpods.py): a client in pod a
reaches pod b's address through a's outbound proxy and b's inbound proxy, both
running as uid 2102 behind iptables set by the real cmesh-proxy-init.

Pod b runs the applications: HTTP/1 on 8080, h2c on 8081, gRPC on 8082, a
line protocol on 8083, and HTTP/1 on 9999, a port both pods skip (inbound
ignore on b, outbound ignore on a). Tests run in name order; the SIGTERM test
stops a's proxy and runs last.
"""
import os
import re
import signal
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cmeshtest  # noqa: E402
from netpods import World, metric_sum  # noqa: E402

B = "10.77.0.2"
PY = "/usr/bin/python3"

GRPC_CLIENT = r"""
import grpc, sys
ch = grpc.insecure_channel(sys.argv[1])
out = []
out.append(ch.unary_unary("/test.Echo/Unary")(b"ping" * 50000, timeout=10) == b"ping" * 50000)
out.append(len(list(ch.unary_stream("/test.Echo/Stream")(b"100", timeout=10))) == 100)
try:
    ch.unary_unary("/test.Echo/Sleep")(b"x", timeout=0.5); out.append("no deadline")
except grpc.RpcError as e:
    out.append(e.code() == grpc.StatusCode.DEADLINE_EXCEEDED)
for code in ("NOT_FOUND", "PERMISSION_DENIED", "UNAVAILABLE"):
    try:
        ch.unary_unary("/test.Echo/Fail")(("%s:why %s" % (code, code)).encode(), timeout=10); out.append("no error")
    except grpc.RpcError as e:
        out.append(e.code() == grpc.StatusCode[code] and e.details() == "why " + code)
print(out)
"""

PIPELINE_CLIENT = r"""
import socket, sys
s = socket.create_connection((sys.argv[1], 8080))
req = b"GET /hello HTTP/1.1\r\nHost: b\r\n\r\n"
s.sendall(req * 3 + b"GET /hello HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
data = b""
while True:
    d = s.recv(65536)
    if not d: break
    data += d
print(data.count(b"HTTP/1.1 200"), data.count(b"hello\n"))
"""

WS_CLIENT = r"""
import socket, sys
s = socket.create_connection((sys.argv[1], 8080))
s.sendall(b"GET /ws HTTP/1.1\r\nHost: b\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
data = b""
while b"\r\n\r\n" not in data:
    data += s.recv(4096)
head, _, rest = data.partition(b"\r\n\r\n")
FRAME = b"\x81\x0bhello-frame"  # FIN + text opcode, 11-byte payload
s.sendall(FRAME)
while len(rest) < len(FRAME):
    rest += s.recv(4096)
print(head.split(b"\r\n")[0].decode(), b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head, rest == FRAME)
"""

TCP_CLIENT = r"""
import socket, sys
s = socket.create_connection((sys.argv[1], 8083))
f = s.makefile("rb")
ok = 0
for i in range(50):
    s.sendall(b"PING %d\n" % i)
    ok += f.readline() == b"PONG %d\n" % i
s.close()
print(ok)
"""

# Rapid reset: HEADERS then RST_STREAM, over and over, on one connection.
RAPID_RESET = r"""
import socket, sys, time, h2.connection, h2.config, h2.errors
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
c.initiate_connection(); s.sendall(c.data_to_send())
sent = 0; closed = False
s.settimeout(5)
try:
    for i in range(5000):
        sid = c.get_next_available_stream_id()
        c.send_headers(sid, [(":method", "GET"), (":path", "/hello"), (":scheme", "http"),
                             (":authority", "b")])
        c.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
        s.sendall(c.data_to_send()); sent += 1
except (OSError, Exception):
    closed = True
if not closed:
    try:
        while True:
            d = s.recv(65536)
            if not d: closed = True; break
            for ev in c.receive_data(d):
                if type(ev).__name__ == "ConnectionTerminated": closed = True
            if closed: break
    except (OSError, Exception):
        closed = True
print("closed" if closed else "open", sent)
"""

# CONTINUATION flood: one HEADERS without END_HEADERS, then CONTINUATIONs.
CONT_FLOOD = r"""
import socket, sys, struct
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
def frame(t, flags, sid, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([t, flags]) + struct.pack(">I", sid) + payload
s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b""))
# :method GET, :path /, :scheme http (static table indexes 2, 4, 6)
s.sendall(frame(1, 0, 1, bytes([0x82, 0x84, 0x86])))
sent = 0; closed = False
s.settimeout(5)
try:
    for i in range(10000):
        s.sendall(frame(9, 0, 1, b"\x40\x01x\x01y" * 100)); sent += 1
except OSError:
    closed = True
if not closed:
    try:
        while True:
            d = s.recv(65536)
            if not d: closed = True; break
    except OSError:
        closed = True
print("closed" if closed else "open", sent)
"""


class NetnsProxyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cmesh-netns-")
        cls.w = World(os.path.join(cls.tmp, "logs"))
        try:
            init = cmeshtest.bin_path("cmesh-proxy-init")
            cls.w.proxy_init("a", out_ignore=["9999"], binpath=init)
            cls.w.proxy_init("b", in_ignore=["9999"], binpath=init)
            for kind, port in (("h1", 8080), ("h2", 8081), ("grpc", 8082), ("tcp", 8083), ("h1", 9999)):
                cls.w.start_app("b", kind, port)
            proxy = cmeshtest.bin_path("cmesh-proxy")
            cls.pa = cls.w.start_proxy("a", proxy)
            cls.pb = cls.w.start_proxy("b", proxy)
        except Exception:
            cls.w.close()
            raise

    @classmethod
    def tearDownClass(cls):
        for p in (cls.pa, cls.pb):
            if p.poll() is not None and p.returncode not in (0, -9):
                print("proxy exited %d:\n%s" % (p.returncode, cls.w.log(p)[-3000:]))
        cls.w.close()

    # helpers

    def curl(self, *args, timeout=60):
        r = self.w.run("a", ["curl", "-s", "--max-time", "30"] + list(args), timeout=timeout,
                       check=False)
        return r.returncode, r.stdout.decode(errors="replace")

    def py(self, script, *args, timeout=60):
        r = self.w.run("a", [PY, "-c", script] + list(args), timeout=timeout, check=False)
        self.assertEqual(r.returncode, 0, r.stderr.decode()[-2000:])
        return r.stdout.decode().strip()

    def counts(self, port, name="request_total"):
        a = metric_sum(self.w.metrics("a"), name, direction="outbound", target_port=str(port))
        b = metric_sum(self.w.metrics("b"), name, direction="inbound", target_port=str(port))
        return a, b

    def assert_through_both(self, before, port, n=1, name="request_total"):
        after = self.counts(port, name)
        self.assertGreaterEqual(after[0] - before[0], n, "outbound proxy of a did not count it")
        self.assertGreaterEqual(after[1] - before[1], n, "inbound proxy of b did not count it")

    # HTTP/1

    def test_h1_basic_through_both_proxies(self):
        before = self.counts(8080)
        rc, out = self.curl("http://%s:8080/hello" % B)
        self.assertEqual((rc, out), (0, "hello\n"))
        self.assert_through_both(before, 8080)
        self.assertGreater(metric_sum(self.w.metrics("b"), "response_total", direction="inbound",
                                      status_code="200", classification="success"), 0)

    def test_h1_keepalive(self):
        r = self.w.run("a", ["curl", "-sv", "http://%s:8080/hello" % B, "http://%s:8080/hello" % B],
                       check=False)
        self.assertEqual(r.stdout, b"hello\nhello\n")
        self.assertIn(b"Re-using existing connection", r.stderr)

    def test_h1_pipelining(self):
        self.assertEqual(self.py(PIPELINE_CLIENT, B), "4 4")

    def test_h1_chunked_head_204_304(self):
        rc, out = self.curl("-i", "http://%s:8080/chunked" % B)
        self.assertEqual(rc, 0)
        self.assertIn("transfer-encoding: chunked", out.lower())
        self.assertTrue(out.endswith("one,two,three\n"), out)
        rc, out = self.curl("-I", "http://%s:8080/hello" % B)
        self.assertIn("content-length: 6", out.lower())
        rc, out = self.curl("-i", "http://%s:8080/nocontent" % B)
        self.assertTrue(out.startswith("HTTP/1.1 204"), out)
        rc, out = self.curl("-i", "http://%s:8080/notmodified" % B)
        self.assertTrue(out.startswith("HTTP/1.1 304"), out)
        self.assertIn('etag: "v1"', out.lower())

    def test_h1_upload_10mb_expect_continue(self):
        path = os.path.join(self.tmp, "upload.bin")
        data = os.urandom(10 * 1024 * 1024)
        with open(path, "wb") as f:
            f.write(data)
        import hashlib
        rc, out = self.curl("-H", "Expect: 100-continue", "--data-binary", "@" + path,
                            "http://%s:8080/upload" % B)
        self.assertEqual(rc, 0)
        self.assertEqual(out.strip(), "%d %s" % (len(data), hashlib.sha256(data).hexdigest()))

    def test_h1_download_10mb(self):
        rc, out = self.curl("-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                            "http://%s:8080/big?n=10485760" % B)
        self.assertEqual((rc, out), (0, "200 10485760"))

    def test_h1_close_delimited(self):
        rc, out = self.curl("http://%s:8080/close" % B)
        self.assertEqual((rc, out), (0, "until the end\n"))

    def test_h1_websocket(self):
        self.assertEqual(self.py(WS_CLIENT, B), "HTTP/1.1 101 Switching Protocols True True")

    # HTTP/2 and gRPC

    def test_h2_curl_prior_knowledge(self):
        before = self.counts(8081)
        rc, out = self.curl("--http2-prior-knowledge", "-w", "%{http_version}",
                            "http://%s:8081/hello" % B)
        self.assertEqual((rc, out), (0, "hello h2\n2"))
        self.assert_through_both(before, 8081)

    def test_h2_h2load(self):
        before = self.counts(8081)
        r = self.w.run("a", ["h2load", "-n", "2000", "-c", "4", "-m", "20",
                             "http://%s:8081/hello" % B], check=False, timeout=60)
        out = r.stdout.decode()
        self.assertIn("2000 succeeded, 0 failed, 0 errored", out, out)
        self.assert_through_both(before, 8081, n=2000)

    def test_h2_big_body_flow_control(self):
        rc, out = self.curl("--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{size_download}",
                            "http://%s:8081/big?n=5000000" % B)
        self.assertEqual((rc, out), (0, "5000000"))

    def test_grpc(self):
        before = self.counts(8082)
        out = self.py(GRPC_CLIENT, "%s:8082" % B)
        self.assertEqual(out, str([True] * 6))
        self.assert_through_both(before, 8082, n=6)
        mb = self.w.metrics("b")
        for code in ("5", "7", "14"):
            self.assertGreater(metric_sum(mb, "response_total", direction="inbound",
                                          grpc_status=code, classification="failure"), 0, code)
        self.assertGreater(metric_sum(mb, "response_total", direction="inbound", grpc_status="0",
                                      classification="success"), 0)

    # TCP and skip ports

    def test_tcp_opaque_with_bytes(self):
        self.assertEqual(self.py(TCP_CLIENT, B), "50")

        def counted():
            a = metric_sum(self.w.metrics("a"), "tcp_read_bytes_total", direction="outbound",
                           peer="src", target_port="8083")
            b = metric_sum(self.w.metrics("b"), "tcp_write_bytes_total", direction="inbound",
                           peer="src", target_port="8083")
            return a >= 50 * 7 and b >= 50 * 7
        cmeshtest.wait_for(counted, timeout=5, what="tcp byte metrics on both proxies")

    def test_skip_ports_bypass_proxies(self):
        rc, out = self.curl("http://%s:9999/hello" % B)
        self.assertEqual((rc, out), (0, "hello\n"))
        self.assertNotIn('target_port="9999"', self.w.metrics("a"))
        self.assertNotIn('target_port="9999"', self.w.metrics("b"))

    # floods (against a's outbound proxy, which is where a pod's client lands)

    def test_h2_rapid_reset_closes_connection(self):
        out = self.py(RAPID_RESET, B, "8081")
        state, sent = out.split()
        self.assertEqual(state, "closed", out)
        self.assertLess(int(sent), 5000)
        rc, body = self.curl("--http2-prior-knowledge", "http://%s:8081/hello" % B)
        self.assertEqual((rc, body), (0, "hello h2\n"))

    def test_h2_continuation_flood_closes_connection(self):
        out = self.py(CONT_FLOOD, B, "8081")
        state, sent = out.split()
        self.assertEqual(state, "closed", out)
        self.assertLess(int(sent), 10000)
        rc, body = self.curl("--http2-prior-knowledge", "http://%s:8081/hello" % B)
        self.assertEqual((rc, body), (0, "hello h2\n"))

    # last: stops a's proxy

    def sigterm_during_h2load(self):
        """One run: h2load through a's outbound proxy, SIGTERM to that proxy
        after 1 s. Returns (started, succeeded, h2load output); a's proxy has
        exited when it returns. 4 connections x 50 streams: with many streams
        in flight the drain race shows up more often (the drain before the
        PING-gated one lost started requests in about 1 run in 3 at this
        setting, 1 in 20 at -c 2 -m 10)."""
        h = self.w.spawn("a", ["h2load", "-n", "100000", "-c", "4", "-m", "50",
                               "http://%s:8081/hello" % B], "h2load-sigterm")
        time.sleep(1.0)
        self.pa.send_signal(signal.SIGTERM)
        h.wait(timeout=60)
        out = self.w.log(h)
        m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                      r"(\d+) failed, (\d+) errored", out)
        self.assertIsNotNone(m, out)
        total, started, done, ok, failed, errored = map(int, m.groups())
        self.assertLess(started, total, "h2load finished before the SIGTERM:\n" + out)
        self.pa.wait(timeout=30)
        self.assertEqual(self.pa.returncode, 0, self.w.log(self.pa)[-2000:])
        return started, ok, out

    def test_z_sigterm_during_h2load(self):
        # CMESH_SIGTERM_RUNS=N repeats the scenario with a fresh proxy in a
        # each time (the race it guards against shows up in a few percent of
        # runs); default once.
        runs = int(os.environ.get("CMESH_SIGTERM_RUNS", "1"))
        bad = []
        for i in range(runs):
            if i:
                type(self).pa = self.w.start_proxy("a", cmeshtest.bin_path("cmesh-proxy"))
            started, ok, out = self.sigterm_during_h2load()
            self.assertGreater(ok, 0, out)
            if started != ok:
                bad.append("run %d: %d started, %d succeeded\n%s" % (i, started, ok, out[-600:]))
            elif runs > 1:
                print("run %d: %d started, all succeeded" % (i, started), flush=True)
        # Every request that was started completed: none failed in flight.
        self.assertEqual(bad, [], "\n".join(bad))

if __name__ == "__main__":
    unittest.main()

"""Our gRPC server (common/grpc) against an independent client: python3-grpcio.

The server is test/common/grpc/echo_server.c (the test service of echo.h),
compiled here against the build tree's libmesh_grpc.a and libmesh.a, with the
sanitizers when that tree was built with them. Each test starts its own server
and stops it with SIGTERM; a clean exit (rc 0, no sanitizer report) is part of
every test.
"""
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

import grpc

from cmeshtest import BUILD, ROOT, MeshTestCase, wait_for

ECHO = "/x.Test/Echo"
STREAM = "/x.Test/Stream"
QUEUE_MAX = 8          # the server's per-stream queue bound in these tests
IDLE_STREAMS = 1000    # for the memory measurement


def _sanitized(lib):
    """True when the archive was built with ASan (then the test binary must be too)."""
    out = subprocess.run(["nm", lib], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
    return b"__asan_report" in out


def _rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


class GrpcLayerTest(MeshTestCase):
    binary = None
    bindir = None

    @classmethod
    def setUpClass(cls):
        libdir = os.path.join(BUILD, "lib")
        libs = [os.path.join(libdir, "libmesh_grpc.a"), os.path.join(libdir, "libmesh.a")]
        for lib in libs:
            if not os.path.exists(lib):
                raise AssertionError("%s missing: build the tree first" % lib)
        cls.bindir = tempfile.mkdtemp(prefix="cmesh-grpc-echo-")
        cls.binary = os.path.join(cls.bindir, "echo_server")
        pkg = subprocess.run(["pkg-config", "--cflags", "--libs", "grpc"], check=True,
                             stdout=subprocess.PIPE).stdout.decode().split()
        san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"] \
            if BUILD.rstrip("/").endswith("asan") or _sanitized(libs[1]) else []
        cmd = (["cc", "-std=gnu11", "-D_GNU_SOURCE", "-DECHO_SERVER_MAIN", "-g", "-O1"] + san +
               ["-I" + os.path.join(ROOT, "common/include"),
                "-o", cls.binary, os.path.join(ROOT, "test/common/grpc/echo_server.c")] +
               libs + pkg + ["-lpthread", "-lm"])
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode != 0:
            raise AssertionError("building echo_server failed:\n" + p.stdout.decode())

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.bindir, ignore_errors=True)

    def setUp(self):
        super().setUp()
        self.server = self.spawn([self.binary, str(QUEUE_MAX)], name="echo_server",
                                 env={"ASAN_OPTIONS": "detect_leaks=1"})
        line = wait_for(lambda: [l for l in self.server.output().splitlines()
                                 if l.startswith("PORT ")], timeout=15, what="echo_server port")
        self.port = int(line[0].split()[1])
        self.channel = grpc.insecure_channel("127.0.0.1:%d" % self.port)
        self.addCleanup(self.channel.close)
        self.unary = self.channel.unary_unary(ECHO, request_serializer=None,
                                              response_deserializer=None)
        self.stream = self.channel.unary_stream(STREAM, request_serializer=None,
                                                response_deserializer=None)

    def stop_clean(self):
        """The server must shut down by itself on SIGTERM, leak-free."""
        self.channel.close()
        rc = self.server.stop(timeout=20)
        out = self.server.output()
        self.assertEqual(rc, 0, "echo_server exit code %r\n%s" % (rc, out[-4000:]))
        self.assertNotIn("Sanitizer", out)
        self.assertNotIn("runtime error", out)

    def test_unary_metadata_and_errors(self):
        self.assertEqual(self.unary(b"hello grpcio", timeout=5), b"hello grpcio")
        self.assertEqual(self.unary(b"", timeout=5), b"")
        info = self.unary(b"info", timeout=5, metadata=(("x-test", "abc"),)).decode()
        self.assertIn("method=/x.Test/Echo", info)
        self.assertIn("peer=ipv4:127.0.0.1:", info)
        self.assertIn("x-test=abc", info)
        with self.assertRaises(grpc.RpcError) as cm:
            self.unary(b"fail:5:no such thing", timeout=5)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.assertEqual(cm.exception.details(), "no such thing")
        big = self.unary(b"big:1000000", timeout=5)
        self.assertEqual(big, b"b" * 1000000)
        self.stop_clean()

    def test_unknown_method(self):
        for call in (self.channel.unary_unary("/x.Test/Missing"),
                     self.channel.unary_unary("/other.Svc/Echo")):
            with self.assertRaises(grpc.RpcError) as cm:
                call(b"x", timeout=5)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.UNIMPLEMENTED)
        self.stop_clean()

    def test_deadline_exceeded(self):
        t0 = time.time()
        with self.assertRaises(grpc.RpcError) as cm:
            self.unary(b"sleep:2000", timeout=0.3)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
        self.assertLess(time.time() - t0, 1.5)
        # The server is still fine afterwards.
        self.assertEqual(self.unary(b"after", timeout=5), b"after")
        self.stop_clean()

    def test_stream_many_in_order(self):
        got = list(self.stream(b"count:3000", timeout=30))
        self.assertEqual(len(got), 3000)
        self.assertEqual(got, [b"m%d" % i for i in range(3000)])
        self.stop_clean()

    def test_slow_reader_gets_resource_exhausted(self):
        # 16 KiB every 2 ms: a reading client keeps up, a stalled one cannot.
        it = self.stream(b"flood:16384:2000", timeout=60)
        for _ in range(5):
            self.assertEqual(len(next(it)), 16384)
        time.sleep(3.0)  # stop reading while the server keeps sending
        n = 5
        with self.assertRaises(grpc.RpcError) as cm:
            for m in it:
                self.assertEqual(len(m), 16384)
                n += 1
        self.assertEqual(cm.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.assertEqual(cm.exception.details(), "send queue full")
        # Unbounded buffering would have delivered 3 s / 2 ms = 1500 messages.
        print("\ngrpc: slow reader got %d messages before RESOURCE_EXHAUSTED" % n)
        self.assertLess(n, 1400)
        self.stop_clean()

    def test_fifty_concurrent_streams(self):
        results = {}
        errors = []

        def reader(i):
            try:
                results[i] = list(self.stream(b"count:200", timeout=30))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append((i, e))

        threads = [threading.Thread(target=reader, args=(i,)) for i in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        self.assertEqual(len(results), 50)
        want = [b"m%d" % k for k in range(200)]
        for i in range(50):
            self.assertEqual(results[i], want, "stream %d" % i)
        self.stop_clean()

    def test_idle_stream_memory_and_cancel(self):
        # Warm up the connection and the allocator with a few streams first.
        warm = [self.stream(b"hold", timeout=60) for _ in range(20)]
        for c in warm:
            self.assertEqual(next(c), b"ready")
        time.sleep(0.3)
        before = _rss_kib(self.server.pid)
        calls = [self.stream(b"hold", timeout=60) for _ in range(IDLE_STREAMS)]
        for c in calls:
            self.assertEqual(next(c), b"ready")
        time.sleep(0.3)
        after = _rss_kib(self.server.pid)
        per = (after - before) * 1024.0 / IDLE_STREAMS
        print("\ngrpc: server RSS %d KiB -> %d KiB for %d idle streams = %.0f bytes/stream%s"
              % (before, after, IDLE_STREAMS, per,
                 " (ASan build)" if "asan" in BUILD or _sanitized(
                     os.path.join(BUILD, "lib", "libmesh.a")) else ""))
        # Generous bound: catches a per-stream leak of buffers, not noise.
        self.assertLess(per, 256 * 1024)
        for c in calls + warm:
            c.cancel()
        for c in calls[:5]:
            with self.assertRaises(grpc.RpcError) as cm:
                next(c)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.CANCELLED)
        # Cancelled streams are gone from the server: it still serves.
        self.assertEqual(self.unary(b"still here", timeout=5), b"still here")
        self.stop_clean()


if __name__ == "__main__":
    unittest.main()

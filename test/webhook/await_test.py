"""`cmesh-proxy await` (the classic-mode postStart command the injector
writes): waits for 200 from /ready, times out with 1, refuses bad flags with
2, and a peer that never answers cannot hold it past its deadline."""
import http.server
import os
import socket
import subprocess
import threading
import time
import unittest

from cmeshtest import MeshTestCase, bin_path, free_port


class ReadyServer:
    """/ready answers 503 until `ready_after` seconds have passed, then 200."""

    def __init__(self, ready_after):
        t0 = time.time()
        self.paths = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.paths.append(self.path)
                ok = self.path == "/ready" and time.time() - t0 >= ready_after
                body = b"ready\n" if ok else b"not ready\n"
                self.send_response(200 if ok else 503)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()
        self.thread.join()


def run_await(*args, timeout=30):
    t0 = time.time()
    p = subprocess.run([bin_path("cmesh-proxy"), "await"] + list(args),
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, time.time() - t0, p.stderr


class AwaitTest(MeshTestCase):
    def server(self, ready_after):
        s = ReadyServer(ready_after)
        self.addCleanup(s.close)
        return s

    def test_waits_until_ready(self):
        s = self.server(0.8)
        rc, took, err = run_await("--timeout=10s", "--port=%d" % s.port)
        self.assertEqual(rc, 0, err)
        self.assertGreaterEqual(took, 0.7)
        self.assertLess(took, 5)
        self.assertGreaterEqual(len(s.paths), 2)  # it polled through the 503s
        self.assertEqual(set(s.paths), {"/ready"})

    def test_ready_at_once_with_separate_values(self):
        s = self.server(0)
        rc, took, err = run_await("--timeout", "5s", "--port", str(s.port))
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(s.paths), 1)

    def test_times_out_when_never_ready(self):
        s = self.server(3600)
        rc, took, err = run_await("--timeout=700ms", "--port=%d" % s.port)
        self.assertEqual(rc, 1)
        self.assertGreaterEqual(took, 0.65)
        self.assertLess(took, 3)
        self.assertIn("not ready after 700ms", err)
        self.assertGreaterEqual(len(s.paths), 3)

    def test_nothing_listening(self):
        rc, took, err = run_await("--timeout=400ms", "--port=%d" % free_port())
        self.assertEqual(rc, 1)
        self.assertLess(took, 3)

    def test_peer_that_never_answers(self):
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(8)
        self.addCleanup(ls.close)
        rc, took, err = run_await("--timeout=500ms", "--port=%d" % ls.getsockname()[1])
        self.assertEqual(rc, 1)
        self.assertLess(took, 2.5)

    def test_bad_arguments(self):
        for args in (["--port=0"], ["--port=65536"], ["--port=x"], ["--timeout=5"],
                     ["--timeout=-1s"], ["--timeout=0"], ["--timeout=soon"], ["--frobnicate"],
                     ["--port"], ["extra"]):
            rc, _, err = run_await(*args)
            self.assertEqual(rc, 2, (args, err))
            self.assertIn("usage: cmesh-proxy await", err)


if __name__ == "__main__":
    unittest.main()

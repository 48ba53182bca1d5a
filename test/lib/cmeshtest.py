"""Shared helpers for cmesh's integration tests (run with /usr/bin/python3).

Paths come from the environment set by test/lib/runall.py:
  CMESH_ROOT   the checkout
  CMESH_BUILD  the build tree under test (build/asan by default)
  CMESH_BIN    its bin/ directory
Generated Python protobuf modules are on PYTHONPATH (CMESH_BUILD/gen/py).

Every process started through Proc is stopped (SIGTERM, then SIGKILL) and
reaped when the test ends, even on failure.
"""
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request

ROOT = os.environ.get("CMESH_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("CMESH_BUILD") or os.path.join(ROOT, "build", "asan")
BIN = os.environ.get("CMESH_BIN") or os.path.join(BUILD, "bin")
TOOLS = os.path.join(ROOT, ".tools", "bin")
PYTHON = "/usr/bin/python3"


def bin_path(name):
    """Path of one of our binaries in the build under test."""
    return os.path.join(BIN, name)


def tool(name):
    """helm or kubectl from the pinned npm package (make deps), else PATH."""
    p = os.path.join(TOOLS, name)
    return p if os.access(p, os.X_OK) else shutil.which(name)


def free_port():
    """A loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=10.0, interval=0.05, what="condition"):
    """Polls pred() until it returns a truthy value; raises on timeout."""
    deadline = time.time() + timeout
    last_exc = None
    while time.time() < deadline:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - the predicate may fail while starting
            last_exc = e
        time.sleep(interval)
    raise AssertionError("timed out after %.1fs waiting for %s (last error: %r)"
                         % (timeout, what, last_exc))


def http_get(url, timeout=5.0, context=None, headers=None):
    """(status, body bytes, headers) of a GET; HTTP errors are returned, not raised."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def wait_http_ok(url, timeout=15.0, context=None):
    """Waits until GET url answers 200."""
    return wait_for(lambda: http_get(url, timeout=1.0, context=context)[0] == 200,
                    timeout=timeout, what="200 from " + url)


class Proc:
    """A child process whose output goes to a log file; stop() is idempotent."""

    def __init__(self, args, log_path, env=None, cwd=None):
        self.args = list(args)
        self.log_path = log_path
        self._log = open(log_path, "ab")
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        self.p = subprocess.Popen(self.args, stdout=self._log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, env=full_env, cwd=cwd or ROOT,
                                  start_new_session=True)

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        return self.p.poll() is None

    def signal(self, sig):
        if self.alive():
            self.p.send_signal(sig)

    def wait(self, timeout=None):
        return self.p.wait(timeout=timeout)

    def stop(self, timeout=10.0):
        """SIGTERM, wait, then SIGKILL the whole process group. Returns the exit code."""
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
        self._log.close()
        return self.p.returncode

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")


class MeshTestCase(unittest.TestCase):
    """A TestCase with a scratch directory and process bookkeeping.

    self.tmp is removed after the test; processes from self.spawn() are stopped
    in reverse order, and their logs printed when the test failed.
    """

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cmesh-test-")
        self._procs = []
        self.addCleanup(self._cleanup)

    def spawn(self, args, name=None, env=None, cwd=None):
        name = name or os.path.basename(args[0])
        p = Proc(args, os.path.join(self.tmp, "%s-%d.log" % (name, len(self._procs))),
                 env=env, cwd=cwd)
        self._procs.append(p)
        return p

    def _cleanup(self):
        failed = self._outcome_failed()
        for p in reversed(self._procs):
            p.stop()
            if failed:
                print("---- log of %s ----\n%s" % (" ".join(p.args), p.output()[-6000:]))
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _outcome_failed(self):
        outcome = getattr(self, "_outcome", None)
        if outcome is None:
            return False
        res = getattr(outcome, "result", None)
        if res is None:
            return False
        return any(t is self for t, _ in list(res.failures) + list(res.errors))


# The well-known ports `make run` listens on (before its offset is added).
RUN_PORTS = (4140, 4143, 4191, 6443, 7080, 8080, 8086, 8443, 9990, 9995, 9996)


def free_run_offset(candidates=range(20000, 22800, 200)):
    """A CMESH_RUN_PORT_OFFSET at which every port of `make run` is free now,
    so a test's `make run` does not collide with one already running."""
    for off in candidates:
        socks = []
        try:
            for p in RUN_PORTS:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                s.bind(("127.0.0.1", p + off))
            return off
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no free port offset for make run")

"""`make run` starts the whole system for a bounded time: every daemon it
started answers /ready with 200, kubectl works against its kubeconfig, and
everything stops on SIGTERM."""
import os
import re
import signal
import subprocess
import time
import unittest

import cmeshtest
from cmeshtest import ROOT


class MakeRunTest(cmeshtest.MeshTestCase):
    def test_make_run_all_ready(self):
        state = os.path.join(self.tmp, "run")
        env = {
            "CMESH_RUN_STATE": state,
            # Shifted ports, so a newcomer's own `make run` may keep running.
            "CMESH_RUN_PORT_OFFSET": str(cmeshtest.free_run_offset()),
            "CMESH_RUN_FOR": "120",
            "MAKEFLAGS": "", "MFLAGS": "", "MAKELEVEL": "",
        }
        p = self.spawn(["make", "--no-print-directory", "run"], name="make-run", env=env)
        cmeshtest.wait_for(lambda: "all ready" in p.output() or not p.alive(),
                           timeout=300, what="make run to report all ready")
        out = p.output()
        self.assertIn("all ready", out, "make run stopped early:\n" + out[-4000:])
        # Every daemon line carries its readiness URL; each must answer 200.
        urls = re.findall(r"^\s+\S+\s+pid \d+\s+(http://\S+)$", out, re.M)
        self.assertGreaterEqual(len(urls), 1, out)
        for u in urls:
            self.assertEqual(cmeshtest.http_get(u)[0], 200, u)
        kubeconfig = os.path.join(state, "kubeconfig")
        self.assertTrue(os.path.exists(kubeconfig))
        kubectl = cmeshtest.tool("kubectl")
        r = subprocess.run([kubectl, "--kubeconfig", kubeconfig, "--cache-dir",
                            os.path.join(self.tmp, "kcache"), "get", "pods", "-n", "demo",
                            "-o", "name"], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("pod/web-5d8f7c9b6-abcde", r.stdout)
        # SIGTERM to make's process group stops every daemon.
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(timeout=30)
        self.assertIn("make run: stopped", p.output())
        for u in urls:
            self.assertRaises(Exception, lambda: cmeshtest.http_get(u, timeout=1))


if __name__ == "__main__":
    unittest.main()

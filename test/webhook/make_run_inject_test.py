"""`make run` registers the proxy injector with its API server: annotate the
demo namespace with kubectl, apply a pod, and it comes back injected (the
injector's serving certificate and caBundle come from the run's development
PKI)."""
import json
import os
import re
import signal
import subprocess
import unittest

import yaml

import cmeshtest

# A port offset free now, away from the one test/run/make_run_test.py picks first.
PORT_OFFSET = cmeshtest.free_run_offset(range(21000, 23000, 200))
POD = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "hello", "labels": {"app": "hello"}},
       "spec": {"containers": [{"name": "hello", "image": "nginx:1.25",
                                "ports": [{"containerPort": 80}]}]}}


class MakeRunInjectTest(cmeshtest.MeshTestCase):
    def kubectl(self, *args, input=None, check=True):
        r = subprocess.run([cmeshtest.tool("kubectl"), "--kubeconfig", self.kubeconfig,
                            "--cache-dir", os.path.join(self.tmp, "kcache")] + list(args),
                           input=input, capture_output=True, text=True, timeout=60)
        if check:
            self.assertEqual(r.returncode, 0, "kubectl %s: %s%s" % (args, r.stdout, r.stderr))
        return r

    def dry_run(self, name):
        pod = dict(POD, metadata=dict(POD["metadata"], name=name))
        out = self.kubectl("create", "--dry-run=server", "-n", "demo", "-o", "json", "-f", "-",
                           input=yaml.safe_dump(pod)).stdout
        return json.loads(out)

    def test_annotate_then_apply_injects(self):
        state = os.path.join(self.tmp, "run")
        self.kubeconfig = os.path.join(state, "kubeconfig")
        env = {"CMESH_RUN_STATE": state, "CMESH_RUN_PORT_OFFSET": str(PORT_OFFSET),
               "CMESH_RUN_FOR": "240", "MAKEFLAGS": "", "MFLAGS": "", "MAKELEVEL": ""}
        p = self.spawn(["make", "--no-print-directory", "run"], name="make-run", env=env)
        # make run builds first; a failed build ends it early: fail then, not at the timeout.
        cmeshtest.wait_for(lambda: "all ready" in p.output() or not p.alive(),
                           timeout=300, what="make run to report all ready")
        out = p.output()
        self.assertIn("all ready", out, "make run ended early:\n" + out[-4000:])
        self.assertRegex(out, r"(?m)^\s+webhook\s+pid \d+\s+http://127\.0\.0\.1:%d/ready$"
                         % (9995 + PORT_OFFSET))

        # Registered, pointing at the injector, with the development CA.
        mwc = json.loads(self.kubectl("get", "mutatingwebhookconfigurations", "-o", "json").stdout)
        hooks = [h for c in mwc["items"] for h in c["webhooks"]]
        self.assertEqual(len(hooks), 1, mwc)
        self.assertEqual(hooks[0]["clientConfig"]["url"], "https://localhost:%d/" % (8443 + PORT_OFFSET))

        # Not yet annotated: the webhook skips.
        self.assertNotIn("initContainers", self.dry_run("before")["spec"])
        self.kubectl("annotate", "namespace", "demo", "linkerd.io/inject=enabled")
        cmeshtest.wait_for(lambda: "initContainers" in self.dry_run("probe")["spec"], timeout=15,
                           what="the injector to see the namespace annotation")
        self.kubectl("apply", "-n", "demo", "-f", "-", input=yaml.safe_dump(POD))
        got = json.loads(self.kubectl("get", "pod", "hello", "-n", "demo", "-o", "json").stdout)
        self.assertEqual([c["name"] for c in got["spec"]["initContainers"]],
                         ["linkerd-init", "linkerd-proxy"])
        self.assertEqual([c["name"] for c in got["spec"]["containers"]], ["hello"])
        proxy = got["spec"]["initContainers"][1]
        env = {e["name"]: e.get("value") for e in proxy["env"]}
        with open(os.path.join(state, "certs", "ca-bundle.crt")) as f:
            self.assertEqual(env["LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS"], f.read())
        self.assertEqual(got["metadata"]["labels"]["linkerd.io/control-plane-ns"], "cmesh")

        os.killpg(p.pid, signal.SIGTERM)
        p.wait(timeout=30)
        self.assertIn("make run: stopped", p.output())


if __name__ == "__main__":
    unittest.main()

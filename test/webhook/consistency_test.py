"""What the injector writes is accepted as it is by the programs it names.

A pod is injected through `cmesh-webhook --review` (the admission path), the
patch applied with python3-jsonpatch, and then, as a kubelet would:
  * linkerd-proxy's env is resolved (fieldRef values from the pod, then
    `$(VAR)` references expanded in order, Kubernetes' rules) and cmesh-proxy
    runs with exactly that environment, in a fresh network namespace
    (`unshare --net`) so the default 0.0.0.0 ports are free; it must start,
    answer /ready with 200, and log no unknown or invalid variable;
  * linkerd-init's args go to `cmesh-proxy-init --simulate` unchanged (exit 0);
  * in classic mode the postStart command (`cmesh-proxy await ...`) runs in
    the same namespace against that proxy and exits 0.
"""
import base64
import copy
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import jsonpatch
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import whcheck  # noqa: E402
from cmeshtest import MeshTestCase, bin_path  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
POD_IP = "10.42.0.7"
NODE = "node-1"
START_TIMEOUT = 15.0
# What a proxy must never say about its configuration.
BAD_LOG = re.compile(r"unknown variable|invalid|configuration error", re.I)


def expand(value, env):
    """Kubernetes' $(VAR) expansion (third_party/forked/golang/expansion):
    $(NAME) of an earlier variable is replaced, $$ is a literal $, and any
    other $(...) or $ stays as written."""
    out, i = [], 0
    while i < len(value):
        c = value[i]
        if c == "$" and i + 1 < len(value):
            n = value[i + 1]
            if n == "$":
                out.append("$")
                i += 2
                continue
            if n == "(":
                j = value.find(")", i + 2)
                if j >= 0:
                    name = value[i + 2:j]
                    out.append(env[name] if name in env else value[i:j + 1])
                    i = j + 1
                    continue
        out.append(c)
        i += 1
    return "".join(out)


def field_ref(pod, path):
    md, spec = pod["metadata"], pod["spec"]
    return {"metadata.name": md["name"], "metadata.namespace": md["namespace"],
            "metadata.uid": md["uid"], "status.podIP": POD_IP, "status.podIPs": POD_IP,
            "spec.nodeName": NODE,
            "spec.serviceAccountName": spec.get("serviceAccountName", "default")}[path]


def container_env(pod, c):
    """The environment the kubelet gives container c (env only, no envFrom)."""
    env = {}
    for e in c.get("env", []):
        if "valueFrom" in e:
            ref = e["valueFrom"].get("fieldRef")
            if ref is None:
                raise AssertionError("unexpected valueFrom %r" % e)
            env[e["name"]] = field_ref(pod, ref["fieldPath"])
        else:
            env[e["name"]] = expand(e.get("value", ""), env)
    return env


def review(pod):
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "consistency", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                        "resource": {"group": "", "version": "v1", "resource": "pods"},
                        "namespace": "shop", "operation": "CREATE", "object": pod}}


class ConsistencyTest(MeshTestCase):
    def inject(self, pod, ns_annotations, values=None):
        d = tempfile.mkdtemp(dir=self.tmp)
        objs = os.path.join(d, "objects")
        os.mkdir(objs)
        with open(os.path.join(objs, "ns.yaml"), "w") as f:
            yaml.safe_dump({"apiVersion": "v1", "kind": "Namespace",
                            "metadata": {"name": "shop", "annotations": ns_annotations}}, f)
        vals = os.path.join(d, "values.yaml")
        with open(vals, "w") as f:
            yaml.safe_dump(values or {}, f)
        rv = os.path.join(d, "review.json")
        with open(rv, "w") as f:
            json.dump(review(pod), f)
        p = subprocess.run([bin_path("cmesh-webhook"), "--config", vals,
                            "--identity-trust-anchors-file", os.path.join(HERE, "anchors.pem"),
                            "--objects-dir", objs, "--review", rv, "--log-level", "error"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        status, _, body = p.stdout.partition("\n")
        self.assertEqual(status, "200", body)
        resp = json.loads(body)["response"]
        self.assertEqual(resp.get("patchType"), "JSONPatch", resp)
        return jsonpatch.apply_patch(copy.deepcopy(pod), json.loads(base64.b64decode(resp["patch"])))

    def containers(self, pod):
        allc = pod["spec"].get("initContainers", []) + pod["spec"]["containers"]
        by = {c["name"]: c for c in allc}
        return by["linkerd-proxy"], by["linkerd-init"]

    def run_proxy(self, pod, proxy, then=None):
        """Starts cmesh-proxy with proxy's env in a new network namespace;
        waits for /ready (probed from inside); runs `then` (argv) there too.
        Returns (log, then's exit code)."""
        env = container_env(pod, proxy)
        self.assertTrue(proxy["command"][0].endswith("/cmesh-proxy"), proxy["command"])
        self.assertNotIn("args", proxy)
        port = int(env["LINKERD2_PROXY_ADMIN_LISTEN_ADDR"].rsplit(":", 1)[1])
        for k, v in env.items():
            self.assertNotIn("$(", v, "unexpanded reference in %s" % k)
        logf = os.path.join(self.tmp, "proxy-%s.log" % pod["metadata"]["name"])
        # Inside: lo up, the proxy in the background, wait for /ready with our
        # own await, then the extra command; the proxy is stopped at the end.
        script = (
            'ip link set lo up || exit 90\n'
            '"$PROXY" > "$LOG" 2>&1 &\n'
            'pid=$!\n'
            '"$PROXY" await --timeout=%ds --port=%d; r=$?\n'
            'if [ $r -eq 0 ] && [ $# -gt 0 ]; then "$@"; r=$?; fi\n'
            'kill -TERM $pid; wait $pid; echo "proxy-exit=$?" >> "$LOG"\n'
            'exit $r\n' % (int(START_TIMEOUT), port))
        clean = {k: v for k, v in os.environ.items() if k in ("PATH", "ASAN_OPTIONS",
                                                             "UBSAN_OPTIONS", "LSAN_OPTIONS")}
        clean.update(env)
        clean.update(PROXY=bin_path("cmesh-proxy"), LOG=logf)
        argv = ["unshare", "--net", "sh", "-c", script, "sh"] + list(then or [])
        p = subprocess.run(argv, env=clean, capture_output=True, text=True,
                           timeout=START_TIMEOUT + 20)
        with open(logf) as f:
            log = f.read()
        return log, p.returncode, p.stdout + p.stderr

    def check_proxy(self, pod, then=None):
        proxy, init = self.containers(pod)
        log, rc, out = self.run_proxy(pod, proxy, then)
        self.assertEqual(rc, 0, "proxy not ready or the command failed:\n%s\n%s" % (out, log))
        self.assertIsNone(BAD_LOG.search(log), log)
        self.assertIn("proxy-exit=0", log)
        # linkerd-init: the same argv, simulated.
        self.assertTrue(init["command"][0].endswith("/cmesh-proxy-init"), init["command"])
        p = subprocess.run([bin_path("cmesh-proxy-init")] + init["args"] + ["--simulate"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("PROXY_INIT_REDIRECT", p.stdout + p.stderr)
        return proxy, init, log

    def pod(self, name, annotations=None):
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": "shop", "uid": "0f1e2d3c-%s" % name,
                             "annotations": annotations or {}},
                "spec": {"serviceAccountName": "web",
                         "containers": [{"name": "app", "image": "nginx",
                                         "ports": [{"containerPort": 8080}]}]}}

    def test_expand_follows_kubernetes(self):
        env = {"A": "x", "B": "y"}
        self.assertEqual(expand("$(A).$(B)", env), "x.y")
        self.assertEqual(expand("$$(A)", env), "$(A)")
        self.assertEqual(expand("$(C)-$(A", env), "$(C)-$(A")
        self.assertEqual(expand("a$b$", env), "a$b$")

    def test_native_sidecar_defaults(self):
        pod = self.inject(self.pod("native"), {"linkerd.io/inject": "enabled"})
        proxy, init, _ = self.check_proxy(pod)
        env = container_env(pod, proxy)
        self.assertEqual(env["LINKERD2_PROXY_IDENTITY_LOCAL_NAME"],
                         "web.shop.serviceaccount.identity.linkerd.cluster.local")
        ctx = json.loads(env["LINKERD2_PROXY_DESTINATION_CONTEXT"])
        self.assertEqual(ctx, {"ns": "shop", "nodeName": NODE, "pod": "native"})
        self.assertEqual(json.loads(env["LINKERD2_PROXY_POLICY_WORKLOAD"]),
                         {"ns": "shop", "pod": "native"})
        self.assertEqual(env["LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS"], whcheck.ANCHORS)

    def test_classic_await_runs_the_post_start_command(self):
        pod = self.inject(self.pod("classic"), {"linkerd.io/inject": "enabled"},
                          {"proxy": {"nativeSidecar": False}})
        proxy, _ = self.containers(pod)
        cmd = proxy["lifecycle"]["postStart"]["exec"]["command"]
        self.assertEqual(cmd[:2], ["/usr/bin/cmesh-proxy", "await"])
        self.check_proxy(pod, then=[bin_path("cmesh-proxy")] + cmd[1:])

    def test_overrides(self):
        anns = {"linkerd.io/inject": "enabled",
                "config.linkerd.io/proxy-log-level": "debug,linkerd=trace",
                "config.linkerd.io/proxy-log-format": "json",
                "config.linkerd.io/admin-port": "4999",
                "config.linkerd.io/inbound-port": "5143",
                "config.linkerd.io/outbound-port": "5140",
                "config.linkerd.io/control-port": "5190",
                "config.linkerd.io/skip-inbound-ports": "9000-9010,22",
                "config.linkerd.io/skip-outbound-ports": "5432",
                "config.linkerd.io/skip-subnets": "10.9.0.0/16,192.168.7.0/24",
                "config.linkerd.io/opaque-ports": "8080,7000-7002",
                "config.linkerd.io/proxy-uid": "3000",
                "config.linkerd.io/proxy-cpu-request": "100m",
                "config.linkerd.io/proxy-memory-limit": "64Mi",
                "config.linkerd.io/proxy-await": "disabled"}
        pod = self.inject(self.pod("over", anns), {})
        proxy, init, log = self.check_proxy(pod)
        env = container_env(pod, proxy)
        self.assertTrue(env["LINKERD2_PROXY_ADMIN_LISTEN_ADDR"].endswith(":4999"))
        self.assertIn("--subnets-to-ignore", init["args"])
        self.assertEqual(whcheck.arg_after(init["args"], "--proxy-uid"), "3000")


if __name__ == "__main__":
    unittest.main()

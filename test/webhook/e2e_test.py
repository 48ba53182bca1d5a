"""The injector end to end: the stand-in API server calls cmesh-webhook over
HTTPS through the MutatingWebhookConfiguration rendered from our chart, and the
real kubectl drives it (annotate the namespace, apply a pod, read it back).

The serving certificate comes from `cmesh certs generate` (the PKI a user
makes for a development cluster); the API server verifies it for
cmesh-webhook.linkerd.svc against the chart's caBundle. The control plane's
namespace is "linkerd" so that whcheck's reference facts apply unchanged.
"""
import base64
import json
import os
import subprocess
import sys
import time
import unittest

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import whcheck  # noqa: E402
import kubeapi  # noqa: E402
from cmeshtest import (ROOT, MeshTestCase, bin_path, free_port, http_get, tool,  # noqa: E402
                       wait_for, wait_http_ok)

HERE = os.path.dirname(os.path.abspath(__file__))
CHART = os.path.join(ROOT, "charts", "cmesh-control-plane")
CP_NS = "linkerd"
TOKEN = "e2e-t0k3n"
# How long the informer may take to see a namespace annotation.
SEEN_TIMEOUT = 15.0


def app_pod(name, annotations=None, labels=None):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels or {"app": name},
                         "annotations": annotations or {}},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.25",
                                     "ports": [{"containerPort": 80, "name": "http"}]}]}}


def render_webhook_config(ca_pem, pki, namespace=CP_NS, extra=()):
    """The MutatingWebhookConfiguration of our chart, as `helm template` renders it
    (the chart requires every PEM of the release: they come from `pki`)."""
    ca_b64 = base64.b64encode(ca_pem).decode()
    files = {"identityTrustAnchorsPEM": "ca-bundle.crt",
             "identity.issuer.tls.crtPEM": "issuer/crt.pem", "identity.issuer.tls.keyPEM": "issuer/key.pem",
             "destination.tls.crtPEM": "destination/crt.pem", "destination.tls.keyPEM": "destination/key.pem",
             "proxyInjector.crtPEM": "webhook/crt.pem", "proxyInjector.keyPEM": "webhook/key.pem"}
    pems = []
    for key, rel in files.items():
        pems += ["--set-file", "%s=%s" % (key, os.path.join(pki, rel))]
    p = subprocess.run([tool("helm"), "template", "cmesh", CHART, "--namespace", namespace,
                        "--show-only", "templates/proxy-injector-webhook.yaml",
                        "--set", "proxyInjector.caBundle=" + ca_b64] + pems + list(extra),
                       capture_output=True, text=True, timeout=60)
    if p.returncode:
        raise AssertionError("helm template failed:\n" + p.stderr)
    return p.stdout


class WebhookE2ETest(MeshTestCase):
    def setUp(self):
        super().setUp()
        self.pki = os.path.join(self.tmp, "pki")
        r = subprocess.run([bin_path("cmesh"), "certs", "generate", "--out", self.pki,
                            "--namespace", CP_NS], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.port, self.admin = free_port(), free_port()
        self.api = kubeapi.start_for(
            self, tls=True, tokens=[TOKEN],
            webhook_services=["%s/cmesh-webhook=127.0.0.1:%d" % (CP_NS, self.port)])
        self.wh = self.spawn([bin_path("cmesh-webhook"),
                              "--addr", "127.0.0.1:%d" % self.port,
                              "--admin-addr", "127.0.0.1:%d" % self.admin,
                              "--tls-cert", os.path.join(self.pki, "webhook", "crt.pem"),
                              "--tls-key", os.path.join(self.pki, "webhook", "key.pem"),
                              "--kubeconfig", self.api.kubeconfig,
                              "--controller-namespace", CP_NS,
                              "--identity-trust-anchors-file", os.path.join(HERE, "anchors.pem")],
                             name="webhook")
        wait_http_ok("http://127.0.0.1:%d/ready" % self.admin, timeout=20)
        with open(os.path.join(self.pki, "ca-bundle.crt"), "rb") as f:
            ca = f.read()
        self.kubectl("apply", "-f", "-", input=render_webhook_config(ca, self.pki))
        for ns in ("demo", "plain"):
            self.create_namespace(ns)

    def create_namespace(self, ns):
        # `kubectl create namespace` sends protobuf, which the stand-in refuses.
        self.kubectl("apply", "-f", "-", input=yaml.safe_dump(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))

    def kubectl(self, *args, **kw):
        return self.api.kubectl(*args, **kw)

    def apply(self, obj, ns):
        self.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump(obj))
        return self.get("pod" if obj["kind"] == "Pod" else "service", obj["metadata"]["name"], ns)

    def get(self, kind, name, ns):
        return json.loads(self.kubectl("get", kind, name, "-n", ns, "-o", "json").stdout)

    def dry_run_injected(self, ns):
        """Server-side dry run: admission runs, nothing is stored."""
        out = self.kubectl("create", "--dry-run=server", "-n", ns, "-o", "json", "-f", "-",
                           input=yaml.safe_dump(app_pod("probe"))).stdout
        names = [c["name"] for c in json.loads(out)["spec"].get("initContainers", [])]
        return "linkerd-proxy" in names

    def metric(self, result):
        body = http_get("http://127.0.0.1:%d/metrics" % self.admin)[1]
        total = 0.0
        for line in body.decode().splitlines():
            if line.startswith("proxy_inject_admission_responses_total{") and \
                    'result="%s"' % result in line:
                total += float(line.rsplit(" ", 1)[1])
        return total

    def test_annotate_namespace_then_apply_injects(self):
        # Before the annotation nothing is injected (the webhook is called, and skips).
        self.assertEqual(self.metric("injected"), 0)
        before = self.apply(app_pod("early"), "demo")
        self.assertNotIn("initContainers", before["spec"])
        self.assertGreaterEqual(self.metric("skipped"), 1, "the webhook was never called")

        r = self.kubectl("annotate", "namespace", "demo", "linkerd.io/inject=enabled")
        self.assertIn("annotated", r.stdout)
        wait_for(lambda: self.dry_run_injected("demo"), timeout=SEEN_TIMEOUT,
                 what="the webhook to see the namespace annotation")

        pod = app_pod("web")
        got = self.apply(pod, "demo")
        whcheck.check_injected(self, pod, got, "demo", {"mode": "native"})
        self.assertEqual([c["name"] for c in got["spec"]["initContainers"]],
                         ["linkerd-init", "linkerd-proxy"])
        self.assertEqual([c["name"] for c in got["spec"]["containers"]], ["app"])
        self.assertEqual(got["metadata"]["annotations"]["linkerd.io/inject"], "enabled")
        self.assertGreaterEqual(self.metric("injected"), 2)  # the dry run and this one

        # Opted out in an opted-in namespace: untouched.
        off = app_pod("off", annotations={"linkerd.io/inject": "disabled"})
        got = self.apply(off, "demo")
        self.assertNotIn("initContainers", got["spec"])
        self.assertEqual([c["name"] for c in got["spec"]["containers"]], ["app"])
        self.assertNotIn("linkerd.io/proxy-version", got["metadata"]["annotations"])

        # Another namespace without the annotation: untouched.
        got = self.apply(app_pod("web"), "plain")
        self.assertNotIn("initContainers", got["spec"])
        self.assertEqual([c["name"] for c in got["spec"]["containers"]], ["app"])
        self.assertNotIn("linkerd.io/workload-ns", got["metadata"].get("labels", {}))

        # The pod created before the annotation was not touched afterwards.
        early = self.get("pod", "early", "demo")
        self.assertNotIn("initContainers", early["spec"])
        self.assertTrue(self.wh.alive(), self.wh.output())

    def test_service_with_opaque_port_is_annotated(self):
        svc = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "db"},
               "spec": {"selector": {"app": "db"}, "ports": [{"name": "mysql", "port": 3306}]}}
        got = self.apply(svc, "plain")
        self.assertEqual(got["metadata"]["annotations"]["config.linkerd.io/opaque-ports"], "3306")
        web = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
               "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}
        got = self.apply(web, "plain")
        self.assertNotIn("config.linkerd.io/opaque-ports",
                         (got["metadata"].get("annotations") or {}))
        self.assertGreaterEqual(self.metric("annotated"), 1)

    def test_control_plane_namespace_is_excluded(self):
        # The chart's namespaceSelector keeps the control plane's own pods out:
        # the API server does not even call the webhook for them.
        self.create_namespace(CP_NS)
        self.kubectl("annotate", "namespace", CP_NS, "linkerd.io/inject=enabled")
        calls = self.api.stats()["webhook_calls"]
        got = self.apply(app_pod("ctl"), CP_NS)
        self.assertNotIn("initContainers", got["spec"])
        self.assertEqual(self.api.stats()["webhook_calls"], calls)


if __name__ == "__main__":
    unittest.main()

"""The control-plane chart: `helm lint --strict` passes, and the
MutatingWebhookConfiguration that `helm template` renders has the shape of
linkerd.md §4.1 (CREATE on pods and services, no side effects, a short
timeout, Ignore by default, the exclusions), in both of its clientConfig
forms (Service, or URL for an injector outside the cluster)."""
import base64
import os
import subprocess
import unittest

import yaml

from cmeshtest import ROOT, tool

CHART = os.path.join(ROOT, "charts", "cmesh-control-plane")
TEMPLATE = "templates/proxy-injector-webhook.yaml"
CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
CA_B64 = base64.b64encode(CA_PEM.encode()).decode()
# The other values every render of the chart requires (test/charts covers them).
REQUIRED = ["identityTrustAnchorsPEM=" + CA_PEM, "identity.issuer.tls.crtPEM=crt",
            "identity.issuer.tls.keyPEM=key", "destination.tls.crtPEM=crt",
            "destination.tls.keyPEM=key", "proxyInjector.crtPEM=crt", "proxyInjector.keyPEM=key"]


def required_args():
    args = []
    for s in REQUIRED:
        args += ["--set-string", s]
    return args


def helm(*args):
    return subprocess.run([tool("helm")] + list(args), capture_output=True, text=True, timeout=60)


def render(namespace="cmesh", *sets):
    args = ["template", "cmesh", CHART, "--namespace", namespace, "--show-only", TEMPLATE]
    args += required_args()
    for s in sets:
        args += ["--set", s]
    p = helm(*args)
    if p.returncode:
        raise AssertionError("helm template failed:\n" + p.stderr)
    return yaml.safe_load(p.stdout)


def match_expr(sel, key):
    return [e for e in sel["matchExpressions"] if e["key"] == key]


class ChartTest(unittest.TestCase):
    def test_lint_strict(self):
        p = helm("lint", "--strict", CHART, "--set", "proxyInjector.caBundle=" + CA_B64,
                 *required_args())
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("0 chart(s) failed", p.stdout)

    def test_values_are_valid_yaml_with_the_injector_defaults(self):
        with open(os.path.join(CHART, "values.yaml")) as f:
            v = yaml.safe_load(f)
        self.assertEqual(v["webhookFailurePolicy"], "Ignore")
        self.assertEqual(v["proxy"]["ports"], {"admin": 4191, "control": 4190, "inbound": 4143,
                                               "outbound": 4140})
        self.assertEqual(v["proxy"]["uid"], 2102)
        # The await command is one of our programs, split into words.
        self.assertEqual(v["proxy"]["awaitCommand"].split(), ["/usr/bin/cmesh-proxy", "await"])

    def test_webhook_configuration_shape(self):
        doc = render("cmesh", "proxyInjector.caBundle=" + CA_B64)
        self.assertEqual(doc["apiVersion"], "admissionregistration.k8s.io/v1")
        self.assertEqual(doc["kind"], "MutatingWebhookConfiguration")
        self.assertEqual(doc["metadata"]["labels"]["linkerd.io/control-plane-ns"], "cmesh")
        [hook] = doc["webhooks"]
        self.assertEqual(hook["sideEffects"], "None")
        self.assertEqual(hook["failurePolicy"], "Ignore")
        self.assertLessEqual(hook["timeoutSeconds"], 10)
        self.assertIn("v1", hook["admissionReviewVersions"])
        self.assertEqual(hook["clientConfig"]["caBundle"], CA_B64)
        self.assertEqual(hook["clientConfig"]["service"],
                         {"name": "cmesh-webhook", "namespace": "cmesh", "path": "/", "port": 443})
        self.assertNotIn("url", hook["clientConfig"])
        [rule] = hook["rules"]
        self.assertEqual(rule["operations"], ["CREATE"])
        self.assertEqual(rule["apiGroups"], [""])
        self.assertEqual(sorted(rule["resources"]), ["pods", "services"])
        ns_sel = hook["namespaceSelector"]
        [names] = match_expr(ns_sel, "kubernetes.io/metadata.name")
        self.assertEqual(names["operator"], "NotIn")
        self.assertIn("kube-system", names["values"])
        self.assertIn("cmesh", names["values"])
        [opt_out] = match_expr(ns_sel, "config.linkerd.io/admission-webhooks")
        self.assertEqual((opt_out["operator"], opt_out["values"]), ("NotIn", ["disabled"]))
        [cp] = match_expr(hook["objectSelector"], "linkerd.io/control-plane-component")
        self.assertEqual(cp["operator"], "DoesNotExist")

    def test_release_namespace_and_overrides(self):
        doc = render("mesh-system", "proxyInjector.caBundle=" + CA_B64,
                     "webhookFailurePolicy=Fail", "proxyInjector.timeoutSeconds=3")
        [hook] = doc["webhooks"]
        self.assertEqual(hook["failurePolicy"], "Fail")
        self.assertEqual(hook["timeoutSeconds"], 3)
        self.assertEqual(hook["clientConfig"]["service"]["namespace"], "mesh-system")
        [names] = match_expr(hook["namespaceSelector"], "kubernetes.io/metadata.name")
        self.assertIn("mesh-system", names["values"])
        self.assertNotIn("cmesh", names["values"])

    def test_url_form(self):
        url = "https://localhost:18443/"
        doc = render("cmesh", "proxyInjector.caBundle=" + CA_B64, "proxyInjector.url=" + url)
        cc = doc["webhooks"][0]["clientConfig"]
        self.assertEqual(cc, {"url": url, "caBundle": CA_B64})

    def test_ca_bundle_is_required(self):
        p = helm("template", "cmesh", CHART, "--namespace", "cmesh", "--show-only", TEMPLATE,
                 *required_args())
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("proxyInjector.caBundle", p.stderr)

    def test_ca_bundle_as_pem(self):
        # Linkerd's proxyInjector.caBundle is PEM; the webhook needs base64.
        doc = render("cmesh", "proxyInjector.caBundle=" + CA_PEM)
        self.assertEqual(doc["webhooks"][0]["clientConfig"]["caBundle"], CA_B64)


if __name__ == "__main__":
    unittest.main()

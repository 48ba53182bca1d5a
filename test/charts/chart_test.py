"""The control-plane chart rendered with `helm template`: lint, every object
with its kind and name, the Deployments' shape (labels the injector skips,
probes, security, resources, images), their arguments checked against the
options our binaries list in --help, and the value checks that stop a
half-configured install."""
import base64
import os
import shutil
import sys
import tempfile
import unittest

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chartlib  # noqa: E402
from chartlib import arg_map, container, find, helm, names, render, template  # noqa: E402
from cmeshtest import bin_path, tool  # noqa: E402

EXPECTED = {
    "ServiceAccount": ["cmesh-destination", "cmesh-identity", "cmesh-webhook"],
    "Secret": ["cmesh-destination-tls", "cmesh-identity-issuer", "cmesh-webhook-tls"],
    "ConfigMap": ["cmesh-config", "cmesh-identity-trust-roots"],
    "ClusterRole": ["cmesh-cmesh-destination", "cmesh-cmesh-identity",
                    "cmesh-cmesh-proxy-injector"],
    "ClusterRoleBinding": ["cmesh-cmesh-destination", "cmesh-cmesh-identity",
                           "cmesh-cmesh-proxy-injector"],
    "Service": ["cmesh-webhook", "cmesh-dst", "cmesh-dst-headless", "cmesh-identity",
                "cmesh-identity-headless"],
    "Deployment": ["cmesh-destination", "cmesh-identity", "cmesh-webhook"],
    "MutatingWebhookConfiguration": ["linkerd-proxy-injector-webhook-config"],
}
COMPONENTS = {"cmesh-identity": "identity", "cmesh-destination": "destination",
              "cmesh-webhook": "proxy-injector"}
SERVICE_ACCOUNTS = {"cmesh-identity": "cmesh-identity", "cmesh-destination": "cmesh-destination",
                    "cmesh-webhook": "cmesh-webhook"}


def selector_matches(expressions, labels):
    """Kubernetes matchExpressions semantics for the operators the chart uses."""
    for e in expressions:
        op, key = e["operator"], e["key"]
        if op == "DoesNotExist" and key in labels:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "NotIn" and labels.get(key) in e["values"]:
            return False
        if op == "In" and labels.get(key) not in e["values"]:
            return False
    return True


def rule_allows(rules, group, resource, verb):
    return any(group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"]
               for r in rules)


@unittest.skipIf(tool("helm") is None, "helm not installed (make deps)")
class ChartRenderTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cmesh-charts-")
        cls.pki = chartlib.make_pki(os.path.join(cls.tmp, "pki"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def read(self, rel):
        with open(os.path.join(self.pki, rel)) as f:
            return f.read()

    def test_lint_strict(self):
        p = helm("lint", "--strict", chartlib.CHART, *chartlib.pki_args(self.pki))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("0 chart(s) failed", p.stdout)

    def test_every_object_with_its_kind_and_name(self):
        docs = render(self, self.pki)
        kinds = {d["kind"] for d in docs}
        self.assertEqual(kinds, set(EXPECTED))
        for kind, want in EXPECTED.items():
            self.assertEqual(names(docs, kind), sorted(want), kind)
        for d in docs:
            cluster_scoped = d["kind"].startswith("Cluster") or d["kind"].startswith("Mutating")
            self.assertEqual(d["metadata"].get("namespace"), None if cluster_scoped else "cmesh",
                             "%s/%s" % (d["kind"], d["metadata"]["name"]))
            self.assertEqual(d["metadata"]["labels"]["linkerd.io/control-plane-ns"], "cmesh")

    def test_secrets_and_config_maps_carry_the_pems(self):
        docs = render(self, self.pki)
        dec = lambda s: base64.b64decode(s).decode()  # noqa: E731
        issuer = find(docs, "Secret", "cmesh-identity-issuer")
        self.assertEqual(dec(issuer["data"]["crt.pem"]), self.read("issuer/crt.pem"))
        self.assertEqual(dec(issuer["data"]["key.pem"]), self.read("issuer/key.pem"))
        for name, rel in (("cmesh-destination-tls", "destination"), ("cmesh-webhook-tls", "webhook")):
            s = find(docs, "Secret", name)
            self.assertEqual(s["type"], "kubernetes.io/tls")
            self.assertEqual(dec(s["data"]["tls.crt"]), self.read(rel + "/crt.pem"))
            self.assertEqual(dec(s["data"]["tls.key"]), self.read(rel + "/key.pem"))
        roots = find(docs, "ConfigMap", "cmesh-identity-trust-roots")
        self.assertEqual(roots["data"]["ca-bundle.crt"].strip(), self.read("ca-bundle.crt").strip())
        hook = find(docs, "MutatingWebhookConfiguration", "linkerd-proxy-injector-webhook-config")
        self.assertEqual(dec(hook["webhooks"][0]["clientConfig"]["caBundle"]).strip(),
                         self.read("ca-bundle.crt").strip())

    def test_config_holds_the_release_values_without_private_keys(self):
        docs = render(self, self.pki, sets=["proxy.logLevel=debug", "clusterDomain=example.org"])
        cm = find(docs, "ConfigMap", "cmesh-config")
        self.assertNotIn("PRIVATE KEY", yaml.safe_dump(cm))
        v = yaml.safe_load(cm["data"]["values.yaml"])
        self.assertEqual(v["proxy"]["logLevel"], "debug")
        self.assertEqual(v["clusterDomain"], "example.org")
        self.assertEqual(v["identityTrustAnchorsPEM"], self.read("ca-bundle.crt"))
        with open(os.path.join(chartlib.CHART, "Chart.yaml")) as f:
            app_version = yaml.safe_load(f)["appVersion"]
        self.assertEqual(v["linkerdVersion"], app_version)
        self.assertNotIn("keyPEM", v["identity"]["issuer"]["tls"])
        self.assertNotIn("keyPEM", v["proxyInjector"])
        self.assertNotIn("keyPEM", v["destination"]["tls"])

    def test_deployments_shape(self):
        docs = render(self, self.pki, sets=["controllerReplicas=3", "imagePullPolicy=Always",
                                            "identityResources.cpu.limit=2",
                                            "identityResources.memory.request=7Mi"])
        hook = find(docs, "MutatingWebhookConfiguration", "linkerd-proxy-injector-webhook-config")
        obj_sel = hook["webhooks"][0]["objectSelector"]["matchExpressions"]
        for name, component in COMPONENTS.items():
            d = find(docs, "Deployment", name)
            spec = d["spec"]
            pod = spec["template"]
            labels = pod["metadata"]["labels"]
            self.assertEqual(labels["linkerd.io/control-plane-component"], component)
            self.assertEqual(labels["linkerd.io/control-plane-ns"], "cmesh")
            self.assertTrue(selector_matches([{"key": k, "operator": "In", "values": [v]}
                                              for k, v in spec["selector"]["matchLabels"].items()],
                                             labels), name)
            # The injector never patches the control plane's own pods.
            self.assertFalse(selector_matches(obj_sel, labels), name)
            self.assertEqual(spec["replicas"], 3)
            self.assertEqual(pod["spec"]["serviceAccountName"], SERVICE_ACCOUNTS[name])
            self.assertTrue(pod["spec"]["securityContext"]["runAsNonRoot"])
            c = container(d)
            self.assertEqual(c["image"], "cmesh/controller:0.1.0")
            self.assertEqual(c["imagePullPolicy"], "Always")
            self.assertEqual(os.path.basename(c["command"][0]), name)
            sc = c["securityContext"]
            self.assertTrue(sc["readOnlyRootFilesystem"])
            self.assertTrue(sc["runAsNonRoot"])
            self.assertFalse(sc["allowPrivilegeEscalation"])
            self.assertGreater(sc["runAsUser"], 0)
            ports = {p["name"]: p["containerPort"] for p in c["ports"]}
            admin = int(arg_map(c["args"])["admin-addr"].rsplit(":", 1)[1])
            self.assertEqual(ports["admin-http"], admin)
            self.assertEqual(c["livenessProbe"]["httpGet"], {"path": "/live", "port": "admin-http"})
            self.assertEqual(c["readinessProbe"]["httpGet"], {"path": "/ready", "port": "admin-http"})
            # Each mount's volume exists and names an object the chart renders.
            vols = {v["name"]: v for v in pod["spec"]["volumes"]}
            for m in c.get("volumeMounts", []):
                v = vols[m["name"]]
                if "secret" in v:
                    find(docs, "Secret", v["secret"]["secretName"])
                else:
                    find(docs, "ConfigMap", v["configMap"]["name"])
            if name == "cmesh-identity":
                self.assertEqual(c["resources"], {"requests": {"cpu": "10m", "memory": "7Mi"},
                                                  "limits": {"cpu": "2", "memory": "250Mi"}})
            else:
                self.assertEqual(c["resources"], {"requests": {"cpu": "10m", "memory": "20Mi"},
                                                  "limits": {"memory": "250Mi"}})

    def test_services_select_their_pods_by_named_ports(self):
        docs = render(self, self.pki)
        want = {"cmesh-identity": ("cmesh-identity", 8080, False),
                "cmesh-identity-headless": ("cmesh-identity", 8080, True),
                "cmesh-dst": ("cmesh-destination", 8086, False),
                "cmesh-dst-headless": ("cmesh-destination", 8086, True),
                "cmesh-webhook": ("cmesh-webhook", 443, False)}
        for svc_name, (deploy, port, headless) in want.items():
            svc = find(docs, "Service", svc_name)
            d = find(docs, "Deployment", deploy)
            labels = d["spec"]["template"]["metadata"]["labels"]
            for k, v in svc["spec"]["selector"].items():
                self.assertEqual(labels.get(k), v, svc_name)
            self.assertEqual(svc["spec"].get("clusterIP") == "None", headless, svc_name)
            [p] = svc["spec"]["ports"]
            self.assertEqual(p["port"], port)
            cports = {cp["name"]: cp["containerPort"] for cp in container(d)["ports"]}
            self.assertIn(p["targetPort"], cports)
            addr = arg_map(container(d)["args"])["addr"]
            self.assertEqual(int(addr.rsplit(":", 1)[1]), cports[p["targetPort"]], svc_name)

    def test_rbac(self):
        docs = render(self, self.pki)
        for binding in (d for d in docs if d["kind"] == "ClusterRoleBinding"):
            find(docs, "ClusterRole", binding["roleRef"]["name"])
            [subject] = binding["subjects"]
            find(docs, "ServiceAccount", subject["name"])
            self.assertEqual(subject["namespace"], "cmesh")
        ident = find(docs, "ClusterRole", "cmesh-cmesh-identity")["rules"]
        self.assertTrue(rule_allows(ident, "authentication.k8s.io", "tokenreviews", "create"))
        self.assertTrue(rule_allows(ident, "", "events", "create"))
        dst = find(docs, "ClusterRole", "cmesh-cmesh-destination")["rules"]
        for group, res in (("", "services"), ("discovery.k8s.io", "endpointslices"), ("", "pods"),
                           ("apps", "replicasets"), ("batch", "jobs"),
                           ("linkerd.io", "serviceprofiles"), ("split.smi-spec.io", "trafficsplits"),
                           ("", "namespaces")):
            for verb in ("get", "list", "watch"):
                self.assertTrue(rule_allows(dst, group, res, verb), (group, res, verb))
        self.assertFalse(rule_allows(dst, "", "secrets", "get"))
        inj = find(docs, "ClusterRole", "cmesh-cmesh-proxy-injector")["rules"]
        for group, res in (("", "namespaces"), ("apps", "replicasets"), ("batch", "jobs")):
            for verb in ("get", "list", "watch"):
                self.assertTrue(rule_allows(inj, group, res, verb), (group, res, verb))

    def test_args_are_options_of_our_binaries(self):
        docs = render(self, self.pki, sets=["destination.insecure=true"])
        docs += [d for d in render(self, self.pki) if d["kind"] == "Deployment"]
        seen = set()
        for d in (d for d in docs if d["kind"] == "Deployment"):
            c = container(d)
            binary = bin_path(os.path.basename(c["command"][0]))
            self.assertTrue(os.access(binary, os.X_OK), binary)
            flags = chartlib.help_flags(binary)
            for flag in arg_map(c["args"]):
                self.assertIn(flag, flags, "%s has no --%s" % (binary, flag))
                seen.add(flag)
        self.assertIn("insecure", seen)
        self.assertIn("tls-cert", seen)

    def test_identity_and_destination_arguments(self):
        docs = render(self, self.pki, namespace="mesh-system",
                      sets=["identityTrustDomain=corp.example", "clusterDomain=k8s.example",
                            "identity.issuer.issuanceLifetime=12h", "proxy.opaquePorts=3306",
                            "enableH2Upgrade=false", "controllerLogLevel=debug"])
        a = arg_map(container(find(docs, "Deployment", "cmesh-identity"))["args"])
        self.assertEqual(a["addr"], ":8080")
        self.assertEqual(a["admin-addr"], ":9990")
        self.assertEqual(a["controller-namespace"], "mesh-system")
        self.assertEqual(a["identity-trust-domain"], "corp.example")
        self.assertEqual(a["identity-issuance-lifetime"], "12h")
        self.assertEqual(a["identity-clock-skew-allowance"], "20s")
        self.assertEqual(a["identity-scheme"], "linkerd.io/tls")
        self.assertEqual(a["issuer"], "/var/run/linkerd/identity/issuer")
        self.assertEqual(a["trust-anchors"], "/var/run/linkerd/identity/trust-roots/ca-bundle.crt")
        self.assertEqual(a["log-level"], "debug")
        a = arg_map(container(find(docs, "Deployment", "cmesh-destination"))["args"])
        self.assertEqual((a["addr"], a["admin-addr"]), (":8086", ":9996"))
        self.assertEqual(a["controller-namespace"], "mesh-system")
        self.assertEqual(a["cluster-domain"], "k8s.example")
        self.assertEqual(a["identity-trust-domain"], "corp.example")
        self.assertEqual(a["default-opaque-ports"], "3306")
        self.assertEqual(a["enable-h2-upgrade"], "false")
        self.assertNotIn("insecure", a)
        a = arg_map(container(find(docs, "Deployment", "cmesh-webhook"))["args"])
        self.assertEqual((a["addr"], a["admin-addr"]), (":8443", ":9995"))
        self.assertEqual(a["controller-namespace"], "mesh-system")
        self.assertEqual(a["config"], "/var/run/linkerd/config/values.yaml")

    def test_alternative_modes(self):
        # Issuer managed outside the chart (cert-manager): no Secret, no PEMs needed.
        docs = render(self, self.pki, sets=["identity.issuer.scheme=kubernetes.io/tls"],
                      skip=("identity.issuer.tls.crtPEM", "identity.issuer.tls.keyPEM"))
        self.assertNotIn("cmesh-identity-issuer", names(docs, "Secret"))
        d = find(docs, "Deployment", "cmesh-identity")
        self.assertEqual(arg_map(container(d)["args"])["identity-scheme"], "kubernetes.io/tls")
        vols = d["spec"]["template"]["spec"]["volumes"]
        self.assertIn({"name": "identity-issuer", "secret": {"secretName": "cmesh-identity-issuer"}},
                      vols)
        # External CA: the trust-roots ConfigMap is the user's.
        docs = render(self, self.pki, sets=["identity.externalCA=true"],
                      skip=("identityTrustAnchorsPEM",))
        self.assertEqual(names(docs, "ConfigMap"), ["cmesh-config"])
        # Plaintext destination (development): no Secret, no volume, --insecure.
        docs = render(self, self.pki, sets=["destination.insecure=true"],
                      skip=("destination.tls.crtPEM", "destination.tls.keyPEM"))
        self.assertNotIn("cmesh-destination-tls", names(docs, "Secret"))
        c = container(find(docs, "Deployment", "cmesh-destination"))
        a = arg_map(c["args"])
        self.assertIs(a["insecure"], True)
        self.assertNotIn("tls-cert", a)
        self.assertNotIn("volumeMounts", c)
        # Injector certificate managed outside the chart.
        docs = render(self, self.pki, sets=["proxyInjector.externalSecret=true"],
                      skip=("proxyInjector.crtPEM", "proxyInjector.keyPEM"))
        self.assertNotIn("cmesh-webhook-tls", names(docs, "Secret"))

    def test_values_validation(self):
        cases = [
            ((), ("identityTrustAnchorsPEM",), "identityTrustAnchorsPEM"),
            (("identityTrustAnchorsPEM=not a certificate",), ("identityTrustAnchorsPEM",),
             "identityTrustAnchorsPEM must hold PEM certificates"),
            ((), ("identity.issuer.tls.crtPEM",), "identity.issuer.tls.crtPEM"),
            ((), ("identity.issuer.tls.keyPEM",), "identity.issuer.tls.keyPEM"),
            ((), ("destination.tls.keyPEM",), "destination.tls.keyPEM"),
            ((), ("proxyInjector.crtPEM",), "proxyInjector.crtPEM"),
            ((), ("proxyInjector.caBundle",), "proxyInjector.caBundle"),
            (("identity.issuer.scheme=foo/tls",), (), "identity.issuer.scheme must be"),
            (("controllerReplicas=0",), (), "controllerReplicas must be at least 1"),
        ]
        for sets, skip, message in cases:
            p, docs = template(self.pki, sets=sets, skip=skip)
            self.assertNotEqual(p.returncode, 0, (sets, skip))
            self.assertEqual(docs, [])
            self.assertIn(message, p.stderr, (sets, skip))
        # The one-line install of the task fails on what it lacks, naming it.
        p, _ = template(self.pki, skip=("destination.tls.crtPEM", "destination.tls.keyPEM"))
        self.assertIn("destination.insecure", p.stderr)


if __name__ == "__main__":
    unittest.main()

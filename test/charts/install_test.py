"""The rendered control-plane chart put to work:

- applied with the real kubectl to the stand-in API server, which then lists
  every Deployment, Service, ServiceAccount, RBAC object and the webhook
  registration;
- the injector, configured from the release's cmesh-config, injects proxies
  that dial Services the chart renders and verify the identity by the name
  cmesh-identity serves (so the chart and the injector agree);
- each Deployment's command line started as written, with its Secret and
  ConfigMap volumes materialised from the rendered objects and only the
  listen addresses moved to loopback: all three daemons turn ready.
"""
import base64
import json
import os
import re
import subprocess
import sys
import unittest
import urllib.request

import jsonpatch
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chartlib  # noqa: E402
from chartlib import arg_map, container, find, names, render  # noqa: E402
import kubeapi  # noqa: E402
from cmeshtest import MeshTestCase, bin_path, free_port, tool, wait_for  # noqa: E402

NS = "cmesh"
TOKEN = "chart-t0k3n"
READY_TIMEOUT = 30.0


def admission_review(pod, namespace):
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "uid-chart", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                        "resource": {"group": "", "version": "v1", "resource": "pods"},
                        "namespace": namespace, "operation": "CREATE", "object": pod}}


def pod_env(pod, container_name="linkerd-proxy"):
    spec = pod["spec"]
    for c in spec.get("initContainers", []) + spec.get("containers", []):
        if c["name"] == container_name:
            return {e["name"]: e.get("value") for e in c.get("env", [])}
    raise AssertionError("no %s container in %s" % (container_name, json.dumps(spec)[:2000]))


@unittest.skipIf(tool("helm") is None or tool("kubectl") is None, "helm/kubectl missing (make deps)")
class ChartInstallTest(MeshTestCase):
    def pki(self, namespace=NS, trust_domain="cluster.local"):
        return chartlib.make_pki(os.path.join(self.tmp, "pki-" + namespace), namespace,
                                 trust_domain)

    def test_kubectl_apply_to_the_api_server(self):
        pki = self.pki()
        args = ["template", "cmesh", chartlib.CHART, "--namespace", NS] + chartlib.pki_args(pki)
        p = chartlib.helm(*args)
        self.assertEqual(p.returncode, 0, p.stderr)
        rendered = p.stdout
        docs = [d for d in yaml.safe_load_all(rendered) if d]
        api = kubeapi.start_for(self, tls=True, tokens=[TOKEN])
        self.create_namespace(api, NS)
        out = api.kubectl("apply", "-f", "-", input=rendered).stdout
        for d in docs:
            self.assertRegex(out, r"(?m)^%s/%s created$" % (
                re.escape(d["kind"].lower() + ("." + d["apiVersion"].split("/")[0]
                                               if "/" in d["apiVersion"] else "")),
                re.escape(d["metadata"]["name"])))
        listed = api.kubectl("get", "deploy,svc,sa", "-n", NS, "-o", "name").stdout.split()
        # Every namespace has its own default ServiceAccount.
        listed.remove("serviceaccount/default")
        want = (["deployment.apps/" + n for n in names(docs, "Deployment")]
                + ["service/" + n for n in names(docs, "Service")]
                + ["serviceaccount/" + n for n in names(docs, "ServiceAccount")])
        self.assertEqual(sorted(listed), sorted(want))
        self.assertEqual(len(want), 3 + 5 + 3)
        listed = api.kubectl("get", "clusterrole,clusterrolebinding,"
                             "mutatingwebhookconfiguration", "-o", "name").stdout.split()
        for kind, prefix in (("ClusterRole", "clusterrole.rbac.authorization.k8s.io/"),
                             ("ClusterRoleBinding", "clusterrolebinding.rbac.authorization.k8s.io/"),
                             ("MutatingWebhookConfiguration",
                              "mutatingwebhookconfiguration.admissionregistration.k8s.io/")):
            for n in names(docs, kind):
                self.assertIn(prefix + n, listed)
        # What the server stored is what the chart rendered.
        got = json.loads(api.kubectl("get", "deploy", "cmesh-identity", "-n", NS,
                                     "-o", "json").stdout)
        self.assertEqual(container(got)["args"],
                         container(find(docs, "Deployment", "cmesh-identity"))["args"])
        secret = json.loads(api.kubectl("get", "secret", "cmesh-identity-issuer", "-n", NS,
                                        "-o", "json").stdout)
        with open(os.path.join(pki, "issuer", "crt.pem")) as f:
            self.assertEqual(base64.b64decode(secret["data"]["crt.pem"]).decode(), f.read())
        # A second apply is a no-op, as for any well-formed manifest.
        again = api.kubectl("apply", "-f", "-", input=rendered).stdout
        self.assertNotIn("created", again)

    def test_injector_agrees_with_the_chart(self):
        ns, domain, td = "mesh-system", "k8s.example", "corp.example"
        pki = self.pki(ns, td)
        docs = render(self, pki, namespace=ns,
                      sets=["clusterDomain=" + domain, "identityTrustDomain=" + td])
        cfg = os.path.join(self.tmp, "values.yaml")
        with open(cfg, "w") as f:
            f.write(find(docs, "ConfigMap", "cmesh-config")["data"]["values.yaml"])
        objs = os.path.join(self.tmp, "objects")
        os.mkdir(objs)
        with open(os.path.join(objs, "ns.yaml"), "w") as f:
            yaml.safe_dump({"apiVersion": "v1", "kind": "Namespace",
                            "metadata": {"name": "shop",
                                         "annotations": {"linkerd.io/inject": "enabled"}}}, f)
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
               "spec": {"containers": [{"name": "app", "image": "example/web:1"}]}}
        review = os.path.join(self.tmp, "review.json")
        with open(review, "w") as f:
            json.dump(admission_review(pod, "shop"), f)
        # The injector's command line as the chart writes it, offline.
        inj = arg_map(container(find(docs, "Deployment", "cmesh-webhook"))["args"])
        p = subprocess.run([bin_path("cmesh-webhook"), "--config", cfg,
                            "--controller-namespace", inj["controller-namespace"],
                            "--objects-dir", objs, "--review", review, "--log-level", "error"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        status, _, body = p.stdout.partition("\n")
        self.assertEqual(int(status), 200, body)
        resp = json.loads(body)["response"]
        self.assertTrue(resp["allowed"])
        patch = json.loads(base64.b64decode(resp["patch"]))
        injected = jsonpatch.apply_patch(pod, patch)
        env = pod_env(injected)

        def service_for(addr):
            host, port = addr.rsplit(":", 1)
            m = re.fullmatch(r"([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.%s\." % re.escape(domain), host)
            self.assertIsNotNone(m, addr)
            self.assertEqual(m.group(2), ns)
            svc = find(docs, "Service", m.group(1))
            self.assertEqual(svc["metadata"]["namespace"], ns)
            self.assertIn(int(port), [sp["port"] for sp in svc["spec"]["ports"]])
            return svc

        dst = service_for(env["LINKERD2_PROXY_DESTINATION_SVC_ADDR"])
        self.assertEqual(dst["spec"]["selector"]["linkerd.io/control-plane-component"], "destination")
        ident = service_for(env["LINKERD2_PROXY_IDENTITY_SVC_ADDR"])
        self.assertEqual(ident["spec"]["selector"]["linkerd.io/control-plane-component"], "identity")
        # The proxy verifies the identity service by the name cmesh-identity serves.
        id_args = arg_map(container(find(docs, "Deployment", "cmesh-identity"))["args"])
        self.assertEqual(env["LINKERD2_PROXY_IDENTITY_SVC_NAME"],
                         "%s.%s.serviceaccount.identity.%s.%s" % (
                             id_args["service-account"], ns, ns, id_args["identity-trust-domain"]))
        self.assertEqual(env["_l5d_trustdomain"], td)
        with open(os.path.join(pki, "ca-bundle.crt")) as f:
            self.assertEqual(env["LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS"].strip(), f.read().strip())
        # Proxies run the release's version.
        spec = injected["spec"]
        proxy = [c for c in spec.get("initContainers", []) + spec["containers"]
                 if c["name"] == "linkerd-proxy"]
        self.assertEqual(len(proxy), 1, [c["name"] for c in spec.get("initContainers", [])
                                          + spec["containers"]])
        proxy = proxy[0]
        with open(os.path.join(chartlib.CHART, "Chart.yaml")) as f:
            self.assertTrue(proxy["image"].endswith(":" + yaml.safe_load(f)["appVersion"]),
                            proxy["image"])

    def create_namespace(self, api, name):
        api.kubectl("apply", "-f", "-", input="apiVersion: v1\nkind: Namespace\n"
                                              "metadata:\n  name: %s\n" % name)

    def materialise(self, docs, deploy, root):
        """Writes each volume of `deploy` under root + mountPath, from the rendered
        Secret or ConfigMap it names; returns {mountPath: local dir}."""
        pod = deploy["spec"]["template"]["spec"]
        vols = {v["name"]: v for v in pod["volumes"]}
        mounts = {}
        for m in container(deploy).get("volumeMounts", []):
            v = vols[m["name"]]
            local = os.path.join(root, m["mountPath"].lstrip("/"))
            os.makedirs(local, exist_ok=True)
            if "secret" in v:
                data = {k: base64.b64decode(s) for k, s in
                        find(docs, "Secret", v["secret"]["secretName"])["data"].items()}
            else:
                data = {k: s.encode() for k, s in
                        find(docs, "ConfigMap", v["configMap"]["name"])["data"].items()}
            for k, b in data.items():
                with open(os.path.join(local, k), "wb") as f:
                    f.write(b)
            mounts[m["mountPath"]] = local
        return mounts

    def start(self, docs, name, api):
        """Runs a Deployment's command line with loopback listen addresses and
        the volumes materialised; returns the admin URL."""
        d = find(docs, "Deployment", name)
        c = container(d)
        mounts = self.materialise(docs, d, os.path.join(self.tmp, "root-" + name))
        admin = free_port()
        argv = [bin_path(os.path.basename(c["command"][0]))]
        for a in c["args"]:
            flag, eq, value = a.partition("=")
            if flag == "--addr":
                value = "127.0.0.1:%d" % free_port()
            elif flag == "--admin-addr":
                value = "127.0.0.1:%d" % admin
            for mount, local in mounts.items():
                if value.startswith(mount + "/") or value == mount:
                    value = local + value[len(mount):]
            argv.append(flag + eq + value)
        for a in argv[1:]:
            # Every path the command line names was materialised.
            value = a.partition("=")[2]
            self.assertFalse(value.startswith("/var/run/linkerd"), a)
        argv += ["--kubeconfig", api.kubeconfig]
        proc = self.spawn(argv, name=name)
        return proc, "http://127.0.0.1:%d/ready" % admin

    def test_deployments_start_as_rendered(self):
        pki = self.pki()
        docs = render(self, pki)
        api = kubeapi.start_for(self, tls=True, tokens=[TOKEN])
        self.create_namespace(api, NS)
        started = [self.start(docs, n, api)
                   for n in ("cmesh-identity", "cmesh-destination", "cmesh-webhook")]

        def ready(url):
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.status == 200

        for proc, url in started:
            wait_for(lambda: not proc.alive() or ready(url), timeout=READY_TIMEOUT,
                     what=url)
            self.assertTrue(proc.alive(), "%s exited:\n%s" % (proc.args[0], proc.output()))


if __name__ == "__main__":
    unittest.main()

"""The real kubectl (v1.32, .tools/bin) against the stand-in API server."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kubeapi  # noqa: E402
from cmeshtest import MeshTestCase, tool  # noqa: E402

POD = """apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: demo
  labels:
    app: web
    tier: %s
spec:
  containers:
  - name: app
    image: example/web:1
    ports:
    - containerPort: 8080
"""

TS = """apiVersion: split.smi-spec.io/v1alpha2
kind: TrafficSplit
metadata:
  name: web-split
  namespace: demo
spec:
  service: web
  backends:
  - service: web-v1
    weight: 900
  - service: web-v2
    weight: 100
"""

SP = """apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata:
  name: web.demo.svc.cluster.local
  namespace: demo
spec:
  routes:
  - name: GET /books
    condition:
      method: GET
      pathRegex: /books
    timeout: 300ms
"""


@unittest.skipIf(tool("kubectl") is None, "kubectl not installed (make deps)")
class KubectlTest(MeshTestCase):
    def write(self, name, text):
        p = os.path.join(self.tmp, name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def apply_ns(self, api):
        api.kubectl("apply", "-f", self.write("ns.yaml",
                                              "apiVersion: v1\nkind: Namespace\n"
                                              "metadata:\n  name: demo\n"))

    def test_namespace_annotate_and_pod_lifecycle(self):
        api = kubeapi.start_for(self)
        self.apply_ns(api)
        out = api.kubectl("annotate", "namespace", "demo", "linkerd.io/inject=enabled").stdout
        self.assertIn("namespace/demo annotated", out)
        ns = api.kubectl("get", "ns", "demo", "-o", "yaml").stdout
        self.assertIn("linkerd.io/inject: enabled", ns)
        self.assertIn("kubernetes.io/metadata.name: demo", ns)

        pod = self.write("pod.yaml", POD % "a")
        self.assertIn("pod/web created", api.kubectl("apply", "-f", pod).stdout)
        pod2 = self.write("pod2.yaml", POD % "b")
        self.assertIn("pod/web configured", api.kubectl("apply", "-f", pod2).stdout)
        got = json.loads(api.kubectl("get", "pod", "web", "-n", "demo", "-o", "json").stdout)
        self.assertEqual(got["metadata"]["labels"], {"app": "web", "tier": "b"})
        # The second apply went through a strategic merge patch: the keyed
        # container list is intact, not duplicated.
        self.assertEqual([c["name"] for c in got["spec"]["containers"]], ["app"])
        self.assertIn("kubectl.kubernetes.io/last-applied-configuration",
                      got["metadata"]["annotations"])
        log = api.request_log()
        self.assertIn("PATCH /api/v1/namespaces/demo/pods/web", log)

        listing = api.kubectl("get", "pods", "-n", "demo").stdout
        self.assertRegex(listing, r"(?m)^web\b")
        self.assertIn('pod "web" deleted',
                      api.kubectl("delete", "pod", "web", "-n", "demo").stdout)
        p = api.kubectl("get", "pod", "web", "-n", "demo", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('pods "web" not found', p.stderr)

    def test_custom_resources(self):
        api = kubeapi.start_for(self)
        self.apply_ns(api)
        api.kubectl("apply", "-f", self.write("ts.yaml", TS))
        api.kubectl("apply", "-f", self.write("sp.yaml", SP))
        self.assertRegex(api.kubectl("get", "trafficsplits", "-n", "demo").stdout,
                         r"(?m)^web-split\b")
        self.assertRegex(api.kubectl("get", "ts", "-n", "demo").stdout, r"(?m)^web-split\b")
        self.assertRegex(api.kubectl("get", "serviceprofiles", "-n", "demo").stdout,
                         r"(?m)^web\.demo\.svc\.cluster\.local\b")
        # Re-apply with a changed weight: CRDs take a merge patch, lists whole.
        api.kubectl("apply", "-f", self.write("ts2.yaml", TS.replace("900", "500")))
        got = json.loads(api.kubectl("get", "trafficsplits.v1alpha1.split.smi-spec.io",
                                     "web-split", "-n", "demo", "-o", "json").stdout)
        self.assertEqual(got["apiVersion"], "split.smi-spec.io/v1alpha1")
        self.assertEqual([b["weight"] for b in got["spec"]["backends"]], [500, 100])
        self.assertIn("PATCH /apis/split.smi-spec.io/v1alpha2/namespaces/demo/trafficsplits/"
                      "web-split", api.request_log())

    def test_https_with_token(self):
        api = kubeapi.start_for(self, tls=True, tokens=["s3cret-token"])
        self.apply_ns(api)
        self.assertRegex(api.kubectl("get", "ns").stdout, r"(?m)^demo\s")
        p = api.kubectl("--token", "wrong-token", "get", "ns", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("Unauthorized", p.stderr)
        status, _, body = api.request("GET", "/api/v1/namespaces", token="wrong-token")
        self.assertEqual((status, body["reason"]), (401, "Unauthorized"))


if __name__ == "__main__":
    unittest.main()

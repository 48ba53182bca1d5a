"""Shared pieces of the cmesh-destination end-to-end tests: object builders
for the stand-in API server and a MeshTestCase that runs the daemon."""
import json
import os
import sys

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from cmeshtest import MeshTestCase, bin_path, free_port, http_get, wait_for  # noqa: E402
import kubeapi  # noqa: E402
from dstclient import Stream  # noqa: E402

NS = "demo"
DOM = "cluster.local"
WEB = "web.demo.svc.cluster.local:80"
# Time allowed for the daemon to become ready (ASan builds start slowly).
READY_TIMEOUT = 20


def service(name, port=80, target=8080, ip=None, ns=NS):
    s = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
         "spec": {"ports": [{"name": "http", "port": port, "targetPort": target}]}}
    if ip:
        s["spec"]["clusterIP"] = ip
    return s


def pod(name, ip, meshed=True, owner=("ReplicaSet", "web-5d9c"), annotations=None, ns=NS):
    p = {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": name, "namespace": ns, "labels": {},
                      "ownerReferences": [{"apiVersion": "v1", "kind": owner[0], "name": owner[1],
                                           "uid": "u-" + owner[1], "controller": True}]},
         "spec": {"serviceAccountName": "web-sa", "containers": [{"name": "app", "image": "x"}]},
         "status": {"podIP": ip}}
    if meshed:
        p["metadata"]["labels"]["linkerd.io/control-plane-ns"] = "cmesh"
    if annotations:
        p["metadata"]["annotations"] = annotations
    return p


def eslice(name, svc, eps, port=8080, ns=NS):
    """eps: (ip, pod name, ready) tuples; ready None leaves the condition out."""
    def cond(ready):
        return {} if ready is None else {"ready": ready}
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": ns,
                         "labels": {"kubernetes.io/service-name": svc}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [ip], "conditions": cond(ready), "zone": "z1",
                           "targetRef": {"kind": "Pod", "namespace": ns, "name": pn}}
                          for (ip, pn, ready) in eps],
            "ports": [{"name": "http", "port": port, "protocol": "TCP"}]}


PATHS = {"Service": "/api/v1/namespaces/%s/services",
         "Pod": "/api/v1/namespaces/%s/pods",
         "EndpointSlice": "/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices",
         "ReplicaSet": "/apis/apps/v1/namespaces/%s/replicasets",
         "Job": "/apis/batch/v1/namespaces/%s/jobs",
         "ServiceProfile": "/apis/linkerd.io/v1alpha2/namespaces/%s/serviceprofiles"}


def path_of(obj):
    ns = obj["metadata"].get("namespace", NS)
    if obj["kind"] == "TrafficSplit":
        return "/apis/%s/namespaces/%s/trafficsplits" % (obj["apiVersion"], ns)
    return PATHS[obj["kind"]] % ns


class DstCase(MeshTestCase):
    """A stand-in API server with namespace `demo`, and cmesh-destination on demand."""

    def setUp(self):
        super().setUp()
        self.api = kubeapi.start_for(self)
        st, _, body = self.api.request("POST", "/api/v1/namespaces",
                                       {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        self.assertIn(st, (200, 201, 409), body)

    def put(self, obj):
        base = path_of(obj)
        st, _, body = self.api.request("POST", base, obj)
        if st == 409:
            cur = self.api.request("GET", base + "/" + obj["metadata"]["name"])[2]
            obj = json.loads(json.dumps(obj))
            obj["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
            st, _, body = self.api.request("PUT", base + "/" + obj["metadata"]["name"], obj)
        self.assertIn(st, (200, 201), body)
        return body

    def delete(self, obj):
        st, _, body = self.api.request("DELETE", path_of(obj) + "/" + obj["metadata"]["name"])
        self.assertIn(st, (200, 202), body)

    def start_dst(self, *extra, source=None, wait_ready=True, tls=None):
        """tls: (cert, key) to serve TLS; plaintext (--insecure) otherwise."""
        self.port, self.admin = free_port(), free_port()
        src = source or ["--kubeconfig", self.api.kubeconfig]
        sec = ["--tls-cert", tls[0], "--tls-key", tls[1]] if tls else ["--insecure"]
        self.proc = self.spawn([bin_path("cmesh-destination")] + sec +
                               ["--addr", "127.0.0.1:%d" % self.port,
                                "--admin-addr", "127.0.0.1:%d" % self.admin] + src + list(extra))
        if wait_ready:
            wait_for(lambda: self.ready() == 200 or not self.proc.alive(), timeout=READY_TIMEOUT,
                     what="/ready")
            self.assertTrue(self.proc.alive(), self.proc.output())
        if not tls:
            self.chan = grpc.insecure_channel("127.0.0.1:%d" % self.port)
            self.addCleanup(self.chan.close)

    def ready(self):
        try:
            return http_get("http://127.0.0.1:%d/ready" % self.admin)[0]
        except Exception:
            return 0

    def metric(self, name):
        body = http_get("http://127.0.0.1:%d/metrics" % self.admin)[1]
        if isinstance(body, bytes):
            body = body.decode()
        for line in body.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.split()[-1])
        return None

    def metric_ok(self):
        try:
            return self.metric("destination_streams_open") is not None
        except Exception:
            return False

    def get(self, path, method="Get", chan=None):
        s = Stream(chan or self.chan, method, path)
        self.addCleanup(s.cancel)
        return s

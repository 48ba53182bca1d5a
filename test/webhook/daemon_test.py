"""cmesh-webhook as a daemon: HTTPS admission, 400/413/denied answers for 200+
malformed reviews without a crash, admin endpoints, certificate reload."""
import base64
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import time

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cmeshtest import MeshTestCase, bin_path, free_port, http_get, wait_for, wait_http_ok  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BODY_MAX = 10 << 20


def make_cert(d, cn):
    crt, key = os.path.join(d, "tls.crt.new"), os.path.join(d, "tls.key.new")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=" + cn, "-days", "2",
                    "-keyout", key, "-out", crt, "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return crt, key


def pod(**over):
    p = {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "p", "annotations": {"linkerd.io/inject": "enabled"}},
         "spec": {"containers": [{"name": "app", "image": "nginx", "ports": [{"containerPort": 80}]}]}}
    p.update(over)
    return p


def review(obj, uid="u", kind="Pod", op="CREATE", api="admission.k8s.io/v1", **req):
    r = {"uid": uid, "kind": {"group": "", "version": "v1", "kind": kind}, "operation": op,
         "namespace": "demo", "object": obj}
    r.update(req)
    return {"apiVersion": api, "kind": "AdmissionReview", "request": r}


def malformed_corpus():
    """(name, body bytes, expected answer) with answers 400, 'denied', 'allowed'."""
    out = []
    not_json = [b"", b"{", b"}", b"nul", b"[1,", b"\x00\x01\x02", b"{'a': 1}", b"{\"a\":}",
                b"<xml/>", b"\xff\xfe\xfd", b"{\"apiVersion\": \"admission.k8s.io/v1\"",
                b"--- yaml: true", b"[" * 5000, b"{\"a\":1}{", b"tru", b"\"unterminated",
                b"{\"a\": NaN}", b"{\"a\": Infinity}", b"1e99999x", b"{\"\\uZZZZ\": 1}"]
    for i, b in enumerate(not_json):
        out.append(("notjson%d" % i, b, 400))
    not_review = [None, [], 1, "s", True, {}, {"kind": "AdmissionReview"},
                  {"apiVersion": "admission.k8s.io/v1"},
                  {"apiVersion": "admission.k8s.io/v2", "kind": "AdmissionReview", "request": {"uid": "u"}},
                  {"apiVersion": "v1", "kind": "AdmissionReview", "request": {"uid": "u"}},
                  {"apiVersion": "admission.k8s.io/v1", "kind": "Pod", "request": {"uid": "u"}},
                  {"apiVersion": 1, "kind": "AdmissionReview", "request": {"uid": "u"}},
                  {"apiVersion": "admission.k8s.io/v1", "kind": ["AdmissionReview"], "request": {"uid": "u"}}]
    for i, d in enumerate(not_review):
        out.append(("notreview%d" % i, json.dumps(d).encode(), 400))
    for api in ("admission.k8s.io/v1", "admission.k8s.io/v1beta1"):
        bad_req = [None, [], "req", 5, {}, {"uid": ""}, {"uid": None}, {"uid": 7}, {"uid": ["u"]},
                   {"uid": {}}, {"uid": "u", "kind": "Pod"}, {"uid": "u", "kind": []},
                   {"uid": "u", "operation": 1}, {"uid": "u", "namespace": {}},
                   {"uid": "u", "kind": {"kind": 3}}, {"uid": "u", "subResource": 1},
                   {"uid": "u", "kind": {"group": 1, "kind": "Pod"}}]
        for i, rq in enumerate(bad_req):
            d = {"apiVersion": api, "kind": "AdmissionReview"}
            if rq is not None:
                d["request"] = rq
            out.append(("badreq-%s-%d" % (api[-4:], i), json.dumps(d).encode(), 400))
    bad_objects = [
        None, [], "pod", 3, True, {"metadata": "x", "spec": {}}, {"metadata": [], "spec": {}},
        pod(spec="x"), pod(spec=[]), pod(spec={"containers": {}}), pod(spec={"containers": "a"}),
        pod(spec={"containers": [1]}), pod(spec={"containers": ["app"]}),
        pod(spec={"containers": [{"name": 1}]}), pod(spec={"containers": [{"image": []}]}),
        pod(spec={"containers": [{"name": "a", "ports": {}}]}),
        pod(spec={"containers": [{"name": "a", "ports": [1]}]}),
        pod(spec={"containers": [{"name": "a", "ports": [{"containerPort": "80"}]}]}),
        pod(spec={"containers": [{"name": "a", "ports": [{"containerPort": 80.5}]}]}),
        pod(spec={"containers": [{"name": "a", "ports": [{"containerPort": 80, "name": 5}]}]}),
        pod(spec={"containers": [{"name": "a", "securityContext": "root"}]}),
        pod(spec={"containers": [{"name": "a", "readinessProbe": "x"}]}),
        pod(spec={"containers": [{"name": "a", "livenessProbe": {"httpGet": 1}}]}),
        pod(spec={"containers": [{"name": "a", "startupProbe": {"httpGet": {"port": True}}}]}),
        pod(spec={"containers": [], "initContainers": {}}),
        pod(spec={"containers": [], "initContainers": [{"name": 2}]}),
        pod(spec={"containers": [], "volumes": {}}),
        pod(spec={"containers": [], "hostNetwork": "yes"}),
        pod(spec={"containers": [], "automountServiceAccountToken": 0}),
        pod(metadata={"annotations": []}, spec={"containers": []}),
        pod(metadata={"annotations": {"linkerd.io/inject": True}}, spec={"containers": []}),
        pod(metadata={"annotations": {"a": 1}}, spec={"containers": []}),
        pod(metadata={"labels": "x"}, spec={"containers": []}),
        pod(metadata={"labels": {"a": None}}, spec={"containers": []}),
        pod(metadata={"name": 5}, spec={"containers": []}),
        pod(metadata={"namespace": []}, spec={"containers": []}),
        pod(metadata={"ownerReferences": "rs"}, spec={"containers": []}),
        pod(metadata={"ownerReferences": [1]}, spec={"containers": []}),
        pod(metadata={"ownerReferences": [{"kind": 1, "name": "x"}]}, spec={"containers": []}),
        pod(metadata={"ownerReferences": [{"kind": "ReplicaSet", "name": "x", "controller": "yes"}]},
            spec={"containers": []}),
    ]
    bad_services = [None, "svc", [], {"metadata": 1}, {"metadata": {"annotations": [1]}},
                    {"spec": {"ports": {}}}, {"spec": {"ports": [1]}}, {"spec": {"ports": [{"port": "80"}]}},
                    {"spec": {"ports": [{"port": 80, "targetPort": []}]}}, {"spec": []}]
    n = 0
    for api in ("admission.k8s.io/v1", "admission.k8s.io/v1beta1"):
        for uid in ("a", "b"):
            for o in bad_objects:
                out.append(("badpod%d" % n, json.dumps(review(o, uid=uid, api=api)).encode(), "denied"))
                n += 1
            for o in bad_services:
                out.append(("badsvc%d" % n, json.dumps(review(o, uid=uid, api=api, kind="Service")).encode(),
                            "denied"))
                n += 1
    # Not ours: allowed untouched, whatever the object.
    for op in ("UPDATE", "DELETE", "CONNECT", "create", ""):
        out.append(("op-" + op, json.dumps(review(pod(), op=op)).encode(), "allowed"))
    for kind in ("Deployment", "pod", "Secret", ""):
        out.append(("kind-" + kind, json.dumps(review("garbage", kind=kind)).encode(), "allowed"))
    out.append(("subresource", json.dumps(review(pod(), subResource="status")).encode(), "allowed"))
    out.append(("group", json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                                     "request": {"uid": "u", "kind": {"group": "apps", "kind": "Pod"},
                                                 "operation": "CREATE", "object": pod()}}).encode(),
                "allowed"))
    return out


class WebhookDaemon(MeshTestCase):
    def start(self):
        crt, key = make_cert(self.tmp, "first")
        self.crt, self.key = os.path.join(self.tmp, "tls.crt"), os.path.join(self.tmp, "tls.key")
        os.rename(crt, self.crt)
        os.rename(key, self.key)
        objs = os.path.join(self.tmp, "objects")
        os.mkdir(objs)
        with open(os.path.join(objs, "ns.yaml"), "w") as f:
            yaml.safe_dump({"apiVersion": "v1", "kind": "Namespace",
                            "metadata": {"name": "demo", "annotations": {"linkerd.io/inject": "enabled"}}}, f)
        self.port, self.admin = free_port(), free_port()
        self.proc = self.spawn([bin_path("cmesh-webhook"), "--addr", "127.0.0.1:%d" % self.port,
                                "--admin-addr", "127.0.0.1:%d" % self.admin, "--tls-cert", self.crt,
                                "--tls-key", self.key, "--objects-dir", objs,
                                "--identity-trust-anchors-file", os.path.join(HERE, "anchors.pem")])
        wait_http_ok("http://127.0.0.1:%d/ready" % self.admin)
        self.ctx = ssl.create_default_context(cafile=self.crt)

    def conn(self):
        return http.client.HTTPSConnection("localhost", self.port, context=self.ctx, timeout=10)

    def post(self, c, body, headers=None):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        c.request("POST", "/?timeout=10s", body=body, headers=h)
        r = c.getresponse()
        return r.status, r.read()

    def test_admission_and_malformed_corpus(self):
        self.start()
        c = self.conn()
        st, body = self.post(c, json.dumps(review(pod(), uid="good")).encode())
        self.assertEqual(st, 200)
        resp = json.loads(body)["response"]
        self.assertEqual(resp["uid"], "good")
        self.assertEqual(resp["patchType"], "JSONPatch")
        self.assertIn("linkerd-proxy", base64.b64decode(resp["patch"]).decode())
        corpus = malformed_corpus()
        self.assertGreaterEqual(len(corpus), 200)
        counts = {}
        for name, b, want in corpus:
            try:
                st, body = self.post(c, b)
            except (http.client.HTTPException, OSError):
                c = self.conn()  # the server may close after an error; never crash
                st, body = self.post(c, b)
            if want == 400:
                self.assertEqual(st, 400, name)
            else:
                self.assertEqual(st, 200, name)
                d = json.loads(body)
                rs = d["response"]
                self.assertNotIn("patch", rs, name)
                self.assertEqual(rs["allowed"], want == "allowed", name)
                if want == "denied":
                    self.assertIn("does not decode", rs["status"]["message"], name)
            counts[want] = counts.get(want, 0) + 1
            self.assertTrue(self.proc.alive(), "daemon died on " + name)
        # Still serving, and the metrics saw it all.
        st, body = self.post(self.conn(), json.dumps(review(pod(), uid="after")).encode())
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(body)["response"]["uid"], "after")
        st, m, _ = http_get("http://127.0.0.1:%d/metrics" % self.admin)
        m = m.decode()
        self.assertIn('proxy_inject_admission_responses_total{result="bad_request",skip_reason=""} %d'
                      % counts[400], m)
        self.assertIn('proxy_inject_admission_responses_total{result="denied",skip_reason=""} %d'
                      % counts["denied"], m)
        self.assertIn('proxy_inject_admission_responses_total{result="injected",skip_reason=""} 2', m)
        self.assertEqual(http_get("http://127.0.0.1:%d/live" % self.admin)[0], 200)

    def test_too_large(self):
        self.start()
        # Declared too large: answered before the body is sent.
        s = socket.create_connection(("127.0.0.1", self.port))
        t = self.ctx.wrap_socket(s, server_hostname="localhost")
        t.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % (BODY_MAX + 1))
        t.settimeout(10)
        head = t.recv(4096)
        self.assertTrue(head.startswith(b"HTTP/1.1 413"), head[:100])
        t.close()
        # Chunked: refused once the chunks pass the limit, the rest discarded.
        c = self.conn()
        chunk = b"x" * (1 << 20)

        def gen():
            for _ in range(11):
                yield chunk
        c.request("POST", "/", body=gen(), encode_chunked=True,
                  headers={"Transfer-Encoding": "chunked"})
        r = c.getresponse()
        self.assertEqual(r.status, 413)
        r.read()
        # Exactly at the limit is still a review (and not JSON: 400).
        st, _ = self.post(self.conn(), b" " * BODY_MAX)
        self.assertEqual(st, 400)
        self.assertTrue(self.proc.alive())
        m = http_get("http://127.0.0.1:%d/metrics" % self.admin)[1].decode()
        self.assertIn('proxy_inject_admission_responses_total{result="too_large",skip_reason=""} 2', m)

    def test_certificate_reload(self):
        self.start()

        def peer_cn():
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            with socket.create_connection(("127.0.0.1", self.port)) as s:
                with ctx.wrap_socket(s) as t:
                    der = t.getpeercert(binary_form=True)
            pem = ssl.DER_cert_to_PEM_cert(der)
            out = subprocess.run(["openssl", "x509", "-noout", "-subject"], input=pem.encode(),
                                 stdout=subprocess.PIPE, check=True).stdout.decode()
            return out.strip().split("=")[-1].strip()
        self.assertEqual(peer_cn(), "first")
        crt, key = make_cert(self.tmp, "second")
        os.rename(key, self.key)
        os.rename(crt, self.crt)
        wait_for(lambda: peer_cn() == "second", timeout=15, what="the new certificate")
        st, _ = self.post(http.client.HTTPSConnection("127.0.0.1", self.port, timeout=10,
                                                      context=ssl._create_unverified_context()),
                          json.dumps(review(pod())).encode())
        self.assertEqual(st, 200)


if __name__ == "__main__":
    import unittest
    unittest.main()

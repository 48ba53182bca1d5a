"""Mutating admission webhooks called by the stand-in (kubernetes-api.md §6)."""
import base64
import json
import os
import ssl
import sys
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kubeapi  # noqa: E402
from cmeshtest import MeshTestCase, free_port  # noqa: E402

MWC = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
PATCH = [{"op": "add", "path": "/metadata/annotations",
          "value": {"injected": "yes"}},
         {"op": "add", "path": "/spec/containers/-",
          "value": {"name": "linkerd-proxy", "image": "proxy:1"}}]


class Webhook:
    """A tiny HTTPS admission webhook; `behaviour` decides each answer."""

    def __init__(self, cert, key):
        self.requests = []
        self.behaviour = "patch"
        hook = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                hook.requests.append((self.path, dict(self.headers), body))
                req = body["request"]
                resp = {"uid": req["uid"], "allowed": True}
                if hook.behaviour == "patch":
                    resp["patchType"] = "JSONPatch"
                    resp["patch"] = base64.b64encode(json.dumps(PATCH).encode()).decode()
                elif hook.behaviour == "deny":
                    resp = {"uid": req["uid"], "allowed": False,
                            "status": {"code": 403, "message": "no pods today"}}
                elif hook.behaviour == "slow":
                    time.sleep(2)
                elif hook.behaviour == "baduid":
                    resp["uid"] = "not-the-uid"
                out = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                                  "response": resp}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        # The "slow" answer is written after the caller gave up; that is expected.
        self.httpd.handle_error = lambda request, address: None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class AdmissionTest(MeshTestCase):
    def setUp(self):
        super().setUp()
        self.ca = kubeapi.CA(os.path.join(self.tmp, "whca"))
        cert, key = self.ca.issue("injector", dns=["injector.linkerd.svc"], ips=["127.0.0.1"])
        self.hook = Webhook(cert, key)
        self.addCleanup(self.hook.stop)
        self.api = kubeapi.start_for(
            self, webhook_services=["linkerd/injector=127.0.0.1:%d" % self.hook.port])
        for name, labels in (("injected", {"linkerd.io/inject": "enabled"}), ("plain", {})):
            self.call("POST", "/api/v1/namespaces",
                      {"metadata": {"name": name, "labels": labels}}, 201)

    def call(self, method, path, body=None, code=None):
        status, _, out = self.api.request(method, path, body)
        if code is not None:
            self.assertEqual(status, code, out)
        return out

    def configure(self, policy="Fail", client=None, timeout=5, object_selector=None,
                  ca=None):
        hook = {"name": "injector.linkerd.io", "admissionReviewVersions": ["v1"],
                "sideEffects": "None", "failurePolicy": policy, "timeoutSeconds": timeout,
                "clientConfig": dict(client or {"url": "https://127.0.0.1:%d/inject"
                                                % self.hook.port},
                                     caBundle=base64.b64encode(ca or self.ca.pem()).decode()),
                "namespaceSelector": {"matchExpressions": [
                    {"key": "linkerd.io/inject", "operator": "In", "values": ["enabled"]}]},
                "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                           "resources": ["pods"], "scope": "Namespaced"}]}
        if object_selector:
            hook["objectSelector"] = object_selector
        self.call("DELETE", MWC + "/linkerd-proxy-injector")
        self.call("POST", MWC, {"metadata": {"name": "linkerd-proxy-injector"},
                                "webhooks": [hook]}, 201)

    def create_pod(self, ns, code=201, labels=None):
        return self.call("POST", "/api/v1/namespaces/%s/pods" % ns,
                         {"apiVersion": "v1", "kind": "Pod",
                          "metadata": {"generateName": "web-", "labels": labels or {}},
                          "spec": {"containers": [{"name": "app", "image": "app:1"}]}}, code)

    def test_patch_is_applied_and_request_is_well_formed(self):
        self.configure()
        pod = self.create_pod("injected")
        self.assertEqual(pod["metadata"]["annotations"], {"injected": "yes"})
        self.assertEqual([c["name"] for c in pod["spec"]["containers"]], ["app", "linkerd-proxy"])
        stored = self.call("GET", "/api/v1/namespaces/injected/pods/" + pod["metadata"]["name"],
                           code=200)
        self.assertEqual(len(stored["spec"]["containers"]), 2)
        self.assertEqual(len(self.hook.requests), 1)
        path, headers, review = self.hook.requests[0]
        self.assertEqual(path, "/inject?timeout=5s")
        self.assertEqual(headers["Content-Type"], "application/json")
        req = review["request"]
        self.assertEqual(review["apiVersion"], "admission.k8s.io/v1")
        self.assertRegex(req["uid"], r"^[0-9a-f-]{36}$")
        self.assertEqual(req["kind"], {"group": "", "version": "v1", "kind": "Pod"})
        self.assertEqual(req["resource"], {"group": "", "version": "v1", "resource": "pods"})
        self.assertEqual((req["namespace"], req["operation"], req["name"]),
                         ("injected", "CREATE", ""))
        self.assertEqual(req["object"]["metadata"]["generateName"], "web-")
        self.assertIn("username", req["userInfo"])
        self.assertIsNone(req["oldObject"])

    def test_namespace_and_object_selectors_exclude(self):
        self.configure(object_selector={"matchExpressions": [
            {"key": "skip", "operator": "DoesNotExist"}]})
        pod = self.create_pod("plain")
        self.assertEqual(len(pod["spec"]["containers"]), 1)
        pod = self.create_pod("injected", labels={"skip": "1"})
        self.assertEqual(len(pod["spec"]["containers"]), 1)
        self.assertEqual(self.hook.requests, [])
        # Services do not match a pods rule.
        self.call("POST", "/api/v1/namespaces/injected/services",
                  {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}, 201)
        self.assertEqual(self.hook.requests, [])
        self.create_pod("injected")
        self.assertEqual(len(self.hook.requests), 1)

    def test_failure_policy_when_webhook_is_down(self):
        dead = {"url": "https://127.0.0.1:%d/inject" % free_port()}
        self.configure(policy="Ignore", client=dead)
        pod = self.create_pod("injected")
        self.assertEqual(len(pod["spec"]["containers"]), 1)
        self.configure(policy="Fail", client=dead)
        st = self.create_pod("injected", code=500)
        self.assertEqual(st["reason"], "InternalError")
        self.assertIn('failed calling webhook "injector.linkerd.io"', st["message"])

    def test_timeout_untrusted_ca_and_bad_uid_are_call_failures(self):
        self.hook.behaviour = "slow"
        self.configure(policy="Fail", timeout=1)
        t0 = time.monotonic()
        self.create_pod("injected", code=500)
        self.assertLess(time.monotonic() - t0, 1.9)
        self.configure(policy="Ignore", timeout=1)
        self.create_pod("injected", code=201)
        self.hook.behaviour = "patch"
        other = kubeapi.CA(os.path.join(self.tmp, "other"), "other-ca")
        self.configure(policy="Fail", ca=other.pem())
        st = self.create_pod("injected", code=500)
        self.assertIn("tls", st["message"])
        self.hook.behaviour = "baduid"
        self.configure(policy="Fail")
        st = self.create_pod("injected", code=500)
        self.assertIn("response.uid", st["message"])

    def test_denial_and_service_reference(self):
        self.hook.behaviour = "deny"
        self.configure(policy="Ignore")
        st = self.create_pod("injected", code=403)
        self.assertEqual(st["message"],
                         'admission webhook "injector.linkerd.io" denied the request: '
                         "no pods today")
        # A service reference goes to the mapped address and verifies the
        # certificate for injector.linkerd.svc.
        self.hook.behaviour = "patch"
        self.configure(client={"service": {"namespace": "linkerd", "name": "injector",
                                           "path": "/svc-inject", "port": 443}})
        pod = self.create_pod("injected")
        self.assertEqual(len(pod["spec"]["containers"]), 2)
        self.assertEqual(self.hook.requests[-1][0], "/svc-inject?timeout=5s")
        self.configure(client={"service": {"namespace": "linkerd", "name": "unmapped"}})
        st = self.create_pod("injected", code=500)
        self.assertIn("--webhook-service", st["message"])


if __name__ == "__main__":
    unittest.main()

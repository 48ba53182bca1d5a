"""TokenRequest and TokenReview (kubernetes-api.md §7)."""
import base64
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kubeapi  # noqa: E402
from cmeshtest import MeshTestCase  # noqa: E402

REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"
SA = "/api/v1/namespaces/emojivoto/serviceaccounts"
API_AUDIENCE = "https://kubernetes.default.svc.cluster.local"


class TokensTest(MeshTestCase):
    def setUp(self):
        super().setUp()
        self.api = kubeapi.start_for(self, tokens=["admin-token"],
                                     token_map=["static-tok=emojivoto/voting@identity.l5d.io"])
        self.call("POST", "/api/v1/namespaces", {"metadata": {"name": "emojivoto"}}, 201)
        self.call("POST", SA, {"metadata": {"name": "web"}}, 201)

    def call(self, method, path, body=None, code=None, token=None):
        status, _, out = self.api.request(method, path, body, token=token)
        if code is not None:
            self.assertEqual(status, code, out)
        return out

    def issue(self, audiences=None, sa="web", code=201, **spec):
        spec = dict(spec)
        if audiences is not None:
            spec["audiences"] = audiences
        out = self.call("POST", SA + "/%s/token" % sa,
                        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                         "spec": spec}, code)
        return out

    def review(self, token, audiences=None):
        spec = {"token": token}
        if audiences is not None:
            spec["audiences"] = audiences
        out = self.call("POST", REVIEWS, {"apiVersion": "authentication.k8s.io/v1",
                                          "kind": "TokenReview", "spec": spec}, 201)
        self.assertEqual(out["kind"], "TokenReview")
        return out["status"]

    def test_issued_token_is_jwt_with_bound_claims(self):
        tr = self.issue(["identity.l5d.io"], expirationSeconds=3600)
        tok = tr["status"]["token"]
        self.assertRegex(tr["status"]["expirationTimestamp"], r"Z$")
        header, claims, sig = tok.split(".")
        pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
        c = json.loads(base64.urlsafe_b64decode(pad(claims)))
        self.assertEqual(c["sub"], "system:serviceaccount:emojivoto:web")
        self.assertEqual(c["aud"], ["identity.l5d.io"])
        self.assertEqual(c["exp"] - c["iat"], 3600)
        self.assertEqual(c["kubernetes.io"]["serviceaccount"]["name"], "web")

    def test_review_checks_audience(self):
        tok = self.issue(["identity.l5d.io"])["status"]["token"]
        st = self.review(tok, ["identity.l5d.io"])
        self.assertTrue(st["authenticated"], st)
        self.assertEqual(st["user"]["username"], "system:serviceaccount:emojivoto:web")
        self.assertIn("system:serviceaccounts:emojivoto", st["user"]["groups"])
        self.assertEqual(st["audiences"], ["identity.l5d.io"])
        sa = self.call("GET", SA + "/web", code=200)
        self.assertEqual(st["user"]["uid"], sa["metadata"]["uid"])
        wrong = self.review(tok, ["other-audience"])
        self.assertFalse(wrong["authenticated"])
        self.assertIn("audience", wrong["error"])
        # Empty audiences = the API's own audience, which this token lacks.
        self.assertFalse(self.review(tok)["authenticated"])

    def test_default_audience_token(self):
        tok = self.issue()["status"]["token"]
        self.assertTrue(self.review(tok)["authenticated"])
        self.assertEqual(self.review(tok, [API_AUDIENCE])["audiences"], [API_AUDIENCE])
        self.assertFalse(self.review(tok, ["identity.l5d.io"])["authenticated"])
        # An API-audience service-account token also logs in to the API.
        self.call("GET", "/api/v1/namespaces", code=200, token=tok)

    def test_forged_unknown_and_orphaned_tokens(self):
        tok = self.issue(["identity.l5d.io"])["status"]["token"]
        head, claims, sig = tok.split(".")
        forged = "%s.%s.%s" % (head, claims, sig[:-2] + ("AA" if sig[-2:] != "AA" else "BB"))
        self.assertFalse(self.review(forged, ["identity.l5d.io"])["authenticated"])
        self.assertFalse(self.review("garbage", ["identity.l5d.io"])["authenticated"])
        self.call("DELETE", SA + "/web", code=200)
        st = self.review(tok, ["identity.l5d.io"])
        self.assertFalse(st["authenticated"])
        self.assertIn("deleted", st["error"])

    def test_token_map_and_request_errors(self):
        st = self.review("static-tok", ["identity.l5d.io"])
        self.assertEqual((st["authenticated"], st["user"]["username"]),
                         (True, "system:serviceaccount:emojivoto:voting"))
        self.assertFalse(self.review("static-tok", ["nope"])["authenticated"])
        out = self.issue(sa="ghost", code=404)
        self.assertEqual(out["reason"], "NotFound")
        out = self.issue(["a"], code=422, expirationSeconds=60)
        self.assertEqual(out["reason"], "Invalid")
        out = self.call("POST", REVIEWS, {"spec": {"token": "x"}}, 401, token="bad-caller")
        self.assertEqual(out["reason"], "Unauthorized")


if __name__ == "__main__":
    unittest.main()

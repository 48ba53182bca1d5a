"""Injector fixtures: every case of cases.yaml through `cmesh-webhook --review`.

Patches are applied with python3-jsonpatch (an independent RFC 6902
implementation), compared to the hand-written patches in expected/, checked
against the reference facts in whcheck.py, and re-admitted: an injected pod
must never be patched again.
"""
import base64
import copy
import json
import os
import subprocess
import sys
import tempfile
import unittest

import jsonpatch
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import whcheck  # noqa: E402
from cmeshtest import bin_path  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = yaml.safe_load(open(os.path.join(HERE, "cases.yaml")))["cases"]


def review(api, kind, op, obj, uid="uid-1", ns="shop"):
    group = "apps" if kind in ("Deployment",) else ""
    return {"apiVersion": api, "kind": "AdmissionReview",
            "request": {"uid": uid, "kind": {"group": group, "version": "v1", "kind": kind},
                        "resource": {"group": group, "version": "v1", "resource": kind.lower() + "s"},
                        "namespace": ns, "operation": op, "object": obj}}


class Runner:
    """Runs cmesh-webhook --review with a case's values and objects."""

    def __init__(self, case, tmp):
        self.dir = tempfile.mkdtemp(dir=tmp)
        objs = os.path.join(self.dir, "objects")
        os.mkdir(objs)
        docs = [{"apiVersion": "v1", "kind": "Namespace",
                 "metadata": {"name": "shop", "annotations": case.get("namespace") or {}}}]
        docs += case.get("objects", [])
        with open(os.path.join(objs, "objects.yaml"), "w") as f:
            yaml.safe_dump_all(docs, f)
        values = {"proxy": {"image": {"version": "test-version"}}}
        for k, v in (case.get("values") or {}).items():
            if isinstance(v, dict) and isinstance(values.get(k), dict):
                values[k].update(v)
            else:
                values[k] = v
        self.values = os.path.join(self.dir, "values.yaml")
        with open(self.values, "w") as f:
            yaml.safe_dump(values, f)
        self.objs = objs

    def run(self, doc):
        path = os.path.join(self.dir, "review.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        p = subprocess.run([bin_path("cmesh-webhook"), "--config", self.values,
                            "--identity-trust-anchors-file", os.path.join(HERE, "anchors.pem"),
                            "--objects-dir", self.objs, "--review", path, "--log-level", "error"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        if p.returncode != 0:
            raise AssertionError("cmesh-webhook failed: %s" % p.stderr.decode())
        status, _, body = p.stdout.decode().partition("\n")
        return int(status), body


class InjectFixtures(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cmesh-wh-")

    def tearDown(self):
        subprocess.run(["rm", "-rf", self.tmp])

    def run_case(self, case):
        r = Runner(case, self.tmp)
        api = case.get("api", "admission.k8s.io/v1")
        kind = case.get("kind", "Pod")
        obj = case["object"]
        status, body = r.run(review(api, kind, case.get("operation", "CREATE"), obj))
        self.assertEqual(status, 200, body)
        resp = json.loads(body)
        self.assertEqual(resp["apiVersion"], api)
        self.assertEqual(resp["kind"], "AdmissionReview")
        rs = resp["response"]
        self.assertEqual(rs["uid"], "uid-1")
        expect = case["expect"]
        if expect == "denied":
            self.assertFalse(rs["allowed"])
            self.assertIn("does not decode as a " + kind, rs["status"]["message"])
            self.assertNotIn("patch", rs)
            return
        self.assertTrue(rs["allowed"])
        if expect.startswith("skipped") or expect == "ignored":
            self.assertNotIn("patch", rs)
            self.assertNotIn("patchType", rs)
            return
        self.assertEqual(rs["patchType"], "JSONPatch")
        patch = json.loads(base64.b64decode(rs["patch"]))
        if case.get("patch"):
            with open(os.path.join(HERE, "expected", case["patch"])) as f:
                want = f.read()
            # created-by carries the build's version: any cmesh injector's.
            got_cb = [o["value"] for o in patch if o["path"].endswith("linkerd.io~1created-by")]
            if got_cb:
                self.assertTrue(got_cb[0].startswith("cmesh/proxy-injector "))
                want = want.replace("@CREATED_BY@", got_cb[0])
            want = json.loads(want)
            for op in want:  # the anchors are long: kept out of the files
                for e in (op.get("value") or {}).get("env", []) if isinstance(op.get("value"), dict) else []:
                    if e.get("value") == "@ANCHORS@":
                        e["value"] = whcheck.ANCHORS
            self.assertEqual(len(patch), len(want))
            for i, (got, exp) in enumerate(zip(patch, want)):
                self.assertEqual(got, exp, "operation %d of %s" % (i, case["name"]))
        after = jsonpatch.apply_patch(copy.deepcopy(obj), patch)
        if expect == "annotated":
            self.assertIn("config.linkerd.io/opaque-ports", after["metadata"]["annotations"])
            return
        self.assertEqual(expect, "injected")
        whcheck.check_injected(self, obj, after, "shop", case.get("facts"))
        # Re-admission: an injected pod is never changed again.
        status, body = r.run(review(api, kind, "CREATE", after, uid="uid-2"))
        rs2 = json.loads(body)["response"]
        self.assertEqual(status, 200)
        self.assertTrue(rs2["allowed"])
        self.assertNotIn("patch", rs2)

    def test_case_count(self):
        with_patch = [c for c in CASES if c.get("patch")]
        self.assertGreaterEqual(len(with_patch), 8)
        self.assertGreaterEqual(len(CASES), 25)


def _make(case):
    def t(self):
        self.run_case(case)
    return t


for _c in CASES:
    setattr(InjectFixtures, "test_" + _c["name"].replace("-", "_"), _make(_c))

if __name__ == "__main__":
    unittest.main()

"""`cmesh inject` / `cmesh uninject` on multi-document YAML."""
import copy
import json
import os
import subprocess
import sys
import unittest

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cmeshtest import bin_path  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = {"metadata": {"labels": {"app": "w"}},
            "spec": {"containers": [{"name": "app", "image": "nginx", "ports": [{"containerPort": 80}],
                                     "env": [{"name": "FLAG", "value": "true"}, {"name": "N", "value": "010"}]}]}}
WORKLOADS = [
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "shop"},
     "spec": {"replicas": 2, "template": TEMPLATE}},
    {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "s"}, "spec": {"template": TEMPLATE}},
    {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "ds"}, "spec": {"template": TEMPLATE}},
    {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs"}, "spec": {"template": TEMPLATE}},
    {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": {"template": TEMPLATE}},
    {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cj"},
     "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": TEMPLATE}}}},
    dict({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"app": "p"}}},
         spec=TEMPLATE["spec"]),
]
OTHERS = [
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"}, "spec": {"ports": [{"port": 80}]}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"k": "yes", "n": "1.0"}},
    {"apiVersion": "v1", "kind": "List", "items": [copy.deepcopy(WORKLOADS[0])]},
]


def template_of(doc):
    k = doc["kind"]
    if k == "Pod":
        return doc
    if k == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]
    return doc["spec"]["template"]


def run(args, data):
    p = subprocess.run([bin_path("cmesh")] + args, input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


class CliInject(unittest.TestCase):
    def setUp(self):
        self.docs = WORKLOADS + OTHERS
        self.text = yaml.safe_dump_all(self.docs).encode()

    def test_annotation_only(self):
        rc, out, err = run(["inject", "-"], self.text)
        self.assertEqual(rc, 0, err)
        got = list(yaml.safe_load_all(out))
        self.assertEqual(len(got), len(self.docs))
        for before, after in zip(self.docs, got):
            if before["kind"] in ("Service", "ConfigMap"):
                self.assertEqual(before, after)
                continue
            if before["kind"] == "List":
                before, after = before["items"][0], after["items"][0]
            t = template_of(after)
            self.assertEqual(t["metadata"]["annotations"]["linkerd.io/inject"], "enabled")
            del t["metadata"]["annotations"]
            self.assertEqual(before, after)

    def test_manual_then_uninject_roundtrip(self):
        rc, out, err = run(["inject", "--manual", "--identity-trust-anchors-file",
                            os.path.join(HERE, "anchors.pem"), "-"], self.text)
        self.assertEqual(rc, 0, err)
        got = list(yaml.safe_load_all(out))
        for before, after in zip(self.docs, got):
            if before["kind"] in ("Service", "ConfigMap"):
                self.assertEqual(before, after)
                continue
            if before["kind"] == "List":
                after = after["items"][0]
            t = template_of(after)
            names = [c["name"] for c in t["spec"]["initContainers"]]
            self.assertEqual(names, ["linkerd-init", "linkerd-proxy"])
            self.assertTrue(t["metadata"]["annotations"]["linkerd.io/created-by"].startswith("cmesh/cli "))
            if after["kind"] != "Pod":
                self.assertEqual(t["metadata"]["labels"]["linkerd.io/proxy-" + after["kind"].lower()],
                                 after["metadata"]["name"])
        rc, back, err = run(["uninject", "-"], out.encode())
        self.assertEqual(rc, 0, err)
        self.assertEqual(list(yaml.safe_load_all(back)), self.docs)
        # And the annotation-only form too, through JSON output.
        rc, out2, err = run(["inject", "-o", "json", "-"], self.text)
        self.assertEqual(rc, 0, err)
        dec, pos, jdocs = json.JSONDecoder(), 0, []
        while out2[pos:].strip():
            d, end = dec.raw_decode(out2, pos)
            jdocs.append(d)
            pos = end
            while pos < len(out2) and out2[pos].isspace():
                pos += 1
        rc, back2, err = run(["uninject", "-"], yaml.safe_dump_all(jdocs).encode())
        self.assertEqual(rc, 0, err)
        self.assertEqual(list(yaml.safe_load_all(back2)), self.docs)

    def test_json_output(self):
        rc, out, err = run(["inject", "-o", "json", "-"], yaml.safe_dump(WORKLOADS[0]).encode())
        self.assertEqual(rc, 0, err)
        d = json.loads(out)
        self.assertEqual(template_of(d)["metadata"]["annotations"]["linkerd.io/inject"], "enabled")

    def test_errors(self):
        rc, out, err = run(["inject", "-"], b"a: [1,\n")
        self.assertEqual(rc, 1)
        self.assertIn("error converting YAML to JSON", err)
        rc, out, err = run(["inject", "--manual", "-"], self.text)
        self.assertEqual(rc, 1)
        self.assertIn("trust anchors", err)
        rc, out, err = run(["inject"], b"")
        self.assertEqual(rc, 2)

    def test_already_injected_is_skipped(self):
        pem = os.path.join(HERE, "anchors.pem")
        rc, once, _ = run(["inject", "--manual", "--identity-trust-anchors-file", pem, "-"], self.text)
        rc, twice, err = run(["inject", "--manual", "--identity-trust-anchors-file", pem, "-"], once.encode())
        self.assertEqual(rc, 0)
        self.assertEqual(list(yaml.safe_load_all(once)), list(yaml.safe_load_all(twice)))
        self.assertIn("skipped", err)


if __name__ == "__main__":
    unittest.main()

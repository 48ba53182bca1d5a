"""`cmesh inject` / `uninject` write, byte for byte, what libyaml's own emitter
writes for the same documents (the output `cmesh inject` had before it got
its own YAML writer): the documents are taken from `-o json`, turned into
libyaml events with the quoting rule cmesh documents (wh/manifest.h), and
emitted by PyYAML's C emitter (libyaml). The input mixes every workload kind
with scalars that reach each of libyaml's quoting and block rules."""
import ctypes
import json
import os
import re
import subprocess
import sys
import unittest

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cmeshtest import bin_path  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ANCHORS = os.path.join(HERE, "anchors.pem")

_libc = ctypes.CDLL(None)
_libc.strtod.restype = ctypes.c_double
_libc.strtod.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p)]
SPECIAL = {"", "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE",
           "yes", "no", "on", "off", "y", "n", "Yes", "No", "On", "Off",
           "YES", "NO", "ON", "OFF", "Y", "N"}
# Numbers only YAML 1.1 knows (kubectl reads manifests as YAML 1.1).
YAML11_NUMBER = re.compile(r"^[-+]?(?:0b[01_]+|[0-9][0-9_:]*(?:\.[0-9_:]*)?)$")


def needs_quotes(s):
    """The rule of wh/manifest.h, with the C library's strtod."""
    if s in SPECIAL:
        return True
    if YAML11_NUMBER.match(s) and ("_" in s or ":" in s or s.lstrip("+-").startswith("0b")) \
            and not s.endswith(":"):
        return True
    b = s.encode()
    buf = ctypes.create_string_buffer(b)
    end = ctypes.c_char_p()
    _libc.strtod(buf, ctypes.byref(end))
    consumed = ctypes.cast(end, ctypes.c_void_p).value - ctypes.addressof(buf)
    return consumed == len(b) or b[:2] in (b"0x", b"0o") or b[:1] == b"."


def scalar(value, style=None):
    return yaml.ScalarEvent(None, None, (True, True), value, style=style)


def events(v):
    if isinstance(v, dict):
        yield yaml.MappingStartEvent(None, None, True)
        for k, x in v.items():
            yield scalar(k, '"' if needs_quotes(k) else None)
            yield from events(x)
        yield yaml.MappingEndEvent()
    elif isinstance(v, list):
        yield yaml.SequenceStartEvent(None, None, True)
        for x in v:
            yield from events(x)
        yield yaml.SequenceEndEvent()
    elif isinstance(v, str):
        yield scalar(v, '"' if needs_quotes(v) else "|" if "\n" in v else None)
    elif v is True or v is False:
        yield scalar("true" if v else "false")
    elif v is None:
        yield scalar("null")
    elif isinstance(v, int):
        yield scalar(str(v))
    else:
        r = "%.17g" % v
        yield scalar(r if any(c in r for c in ".eEn") else r + ".0")


def libyaml_stream(docs):
    """Each document as its own libyaml stream, as cmesh wrote them."""
    out = []
    for d in docs:
        evs = [yaml.StreamStartEvent(), yaml.DocumentStartEvent(explicit=True)]
        evs += list(events(d))
        evs += [yaml.DocumentEndEvent(explicit=False), yaml.StreamEndEvent()]
        out.append(yaml.emit(evs, Dumper=yaml.CDumper, allow_unicode=True, width=-1))
    return "".join(out)


class CoreLoader(yaml.SafeLoader):
    """Reads plain scalars as mesh/yamljson.h documents (YAML 1.2 core-like:
    `12:30`, `1_000`, `YES` stay strings), the schema cmesh quotes for."""


CoreLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag.rsplit(":", 1)[-1] not in ("int", "float", "bool")]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
CoreLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                 list("tTfF"))
CoreLoader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0x[0-9a-fA-F]+|0o[0-7]+)$"),
                                 list("-+0123456789"))
CoreLoader.add_implicit_resolver("tag:yaml.org,2002:float",
                                 re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$"),
                                 list("-+0123456789."))


def json_docs(text):
    dec, pos, docs = json.JSONDecoder(), 0, []
    while text[pos:].strip():
        d, end = dec.raw_decode(text, pos)
        docs.append(d)
        pos = end
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return docs


TRICKY = ["", " ", "a ", " a", "a  b", "x: y", "x:", ":x", "- a", "-a", "-", "---", "...", "?",
          "? x", "#c", "a #c", "a#c", "[1]", "{a}", "&a", "*a", "!t", "|", ">", "'q'", '"d"',
          "%p", "@a", "`b", "yes", "No", "on", "~", "null", "true", "0x1F", "0o7", "1.5", "1e3",
          ".5", ".inf", "nan", "inf", "Infinity", "010", "1_000", "12:30", "+1", "-2", "0.",
          "tab\there", "a\tb\n", "line\nbreak", "trail\n", "two\n\n", "\n", "\nlead",
          " lead\nx", "sp \nx", "x\n y", "cr\rlf", "caf\u00e9", "\u4e2d\u6587", "\U0001F600",
          "nel\u0085x", "ls\u2028x", "ps\u2029", "bom\ufeffx", "nb\u00a0sp", "ctl\x01\x1b",
          "del\x7f", "back\\slash", 'q"uote', "it's", "{\"ns\":\"$(_pod_ns)\"}",
          "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"]


def workload(kind, name, extra_ann=None):
    tmpl = {"metadata": {"labels": {"app": name}, "annotations": dict(extra_ann or {})},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.25",
                                     "ports": [{"containerPort": 8080, "name": "http"}],
                                     "env": [{"name": "E%d" % i, "value": s}
                                             for i, s in enumerate(TRICKY[:20])]}]}}
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": "shop", "annotations": {"note": "a: b"}},
                "spec": tmpl["spec"]}
    spec = {"template": tmpl}
    if kind == "CronJob":
        spec = {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": tmpl}}}
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "namespace": "shop"},
            "spec": spec}


def varied_docs():
    docs = [workload(k, "w-%d" % i, {"config.linkerd.io/skip-outbound-ports": "3306"} if i % 2 else None)
            for i, k in enumerate(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job",
                                   "CronJob", "Pod"])]
    long_key = "k" * 129
    docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tricky"},
                 "data": {s if s else "empty": s for s in TRICKY}})
    docs.append({"kind": "Weird", "keys": {s: i for i, s in enumerate(TRICKY)},
                 long_key: {"nested": [1, 2.5, -0.0, 1e300, True, False, None]},
                 "multi\nline key": "v", "é" * 70: ["x"], "empty": {}, "none": [],
                 "deep": [[["a", {}], []], {"k": [{}]}], "big": 9223372036854775807})
    docs.append({"apiVersion": "v1", "kind": "List", "items": [workload("Deployment", "in-list")]})
    docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    docs += ["just a string", 42, ["a", "b\nc", {}], "x\n\n"]
    return docs


def run(args, data):
    p = subprocess.run([bin_path("cmesh")] + args, input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


class CliInjectBytes(unittest.TestCase):
    def setUp(self):
        self.docs = varied_docs()
        # Written by PyYAML so the input's own form differs from ours.
        self.text = yaml.safe_dump_all(self.docs, allow_unicode=True).encode()

    def check(self, args):
        rc, out, err = run(args, self.text)
        self.assertEqual(rc, 0, err)
        rc, js, err = run(args + ["-o", "json"], self.text)
        self.assertEqual(rc, 0, err)
        docs = json_docs(js)
        self.assertEqual(len(docs), len(self.docs))
        want = libyaml_stream(docs)
        if out != want:
            a, b = out.splitlines(True), want.splitlines(True)
            i = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            self.fail("%s: line %d differs:\n ours:    %r\n libyaml: %r" %
                      (args, i + 1, a[i] if i < len(a) else None, b[i] if i < len(b) else None))
        self.assertEqual(list(yaml.load_all(out, Loader=CoreLoader)), docs)
        return out

    def test_manual(self):
        out = self.check(["inject", "--manual", "--identity-trust-anchors-file", ANCHORS, "-"])
        self.assertEqual(out.count("- name: linkerd-init\n"), 8)  # 7 workloads + the List's

    def test_annotation(self):
        out = self.check(["inject", "-"])
        self.assertEqual(out.count("linkerd.io/inject: enabled"), 9)  # + the Namespace

    def test_uninject(self):
        self.check(["uninject", "-"])

    def test_yaml11_readers_keep_strings(self):
        """Strings that YAML 1.1 (kubectl's reader; PyYAML's SafeLoader here)
        would read as bools or numbers are quoted, so they stay strings."""
        tricky = ["ON", "Off", "NO", "yes", "Y", "n", "12:30", "1_000", "+1_0.5", "0b101",
                  "0x1F", "1e3", ".5", "null", "~", "12:30:", "v1_2"]
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
               "spec": {"containers": [{"name": "c", "image": "x",
                                        "env": [{"name": "V%d" % i, "value": v}
                                                for i, v in enumerate(tricky)]}]}}
        rc, out, err = run(["inject", "-"], json.dumps(pod).encode())
        self.assertEqual(rc, 0, err)
        env = yaml.safe_load(out)["spec"]["containers"][0]["env"]
        self.assertEqual([e["value"] for e in env], tricky)

    def test_many_documents_in_slices(self):
        # Enough documents for cmesh to split them between threads: the
        # slices come back in order, byte for byte.
        self.docs = [dict(d, metadata={"name": "d%d" % i}) if isinstance(d, dict) and "kind" in d
                     and d["kind"] != "List" else d for i, d in enumerate(varied_docs() * 20)]
        self.text = yaml.safe_dump_all(self.docs, allow_unicode=True).encode()
        out = self.check(["inject", "--manual", "--identity-trust-anchors-file", ANCHORS, "-"])
        self.assertEqual(out.count("- name: linkerd-init\n"), 8 * 20)
        names = [d["metadata"]["name"] for d in yaml.load_all(out, Loader=CoreLoader)
                 if isinstance(d, dict) and "metadata" in d]
        self.assertEqual(names, ["d%d" % i for i, d in enumerate(self.docs)
                                 if isinstance(d, dict) and "metadata" in d])

    def test_failure_in_a_later_slice(self):
        # Two bad workloads far apart: the first one is reported, whichever
        # thread got there first, and nothing is written.
        docs = varied_docs() * 20
        for i in (250, 120):
            docs.insert(i, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad-%d" % i},
                            "spec": {"containers": {"not": "a list"}}})
        data = yaml.safe_dump_all(docs).encode()
        rc, out, err = run(["inject", "--manual", "--identity-trust-anchors-file", ANCHORS, "-"], data)
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("Pod bad-120", err)
        self.assertNotIn("bad-250", err)

    def test_failure_writes_nothing(self):
        # A workload the injector cannot read, after good ones: no partial
        # stream reaches stdout (a `| kubectl apply -f -` would apply it).
        bad = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad"},
               "spec": {"containers": "not-a-list"}}
        data = yaml.safe_dump_all(self.docs[:3] + [bad] + self.docs[3:]).encode()
        rc, out, err = run(["inject", "--manual", "--identity-trust-anchors-file", ANCHORS, "-"], data)
        self.assertEqual(rc, 1)
        self.assertEqual(out, "")
        self.assertIn("Pod bad", err)


if __name__ == "__main__":
    unittest.main()

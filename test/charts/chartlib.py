"""Helpers of the chart tests: a PKI from `cmesh certs generate`, `helm
template` of charts/cmesh-control-plane with it, and lookups in the result."""
import os
import re
import subprocess

import yaml

from cmeshtest import ROOT, bin_path, tool

CHART = os.path.join(ROOT, "charts", "cmesh-control-plane")
HELM_TIMEOUT = 60


def helm(*args):
    return subprocess.run([tool("helm")] + list(args), capture_output=True, text=True,
                          timeout=HELM_TIMEOUT)


def make_pki(directory, namespace="cmesh", trust_domain="cluster.local"):
    """Runs our `cmesh certs generate`; returns the directory."""
    p = subprocess.run([bin_path("cmesh"), "certs", "generate", "--out", directory,
                        "--namespace", namespace, "--identity-trust-domain", trust_domain],
                       capture_output=True, text=True, timeout=60)
    if p.returncode:
        raise AssertionError("cmesh certs generate failed:\n" + p.stdout + p.stderr)
    return directory


def pki_args(pki, skip=()):
    """--set-file arguments for every PEM the chart takes, except `skip` keys."""
    files = {
        "identityTrustAnchorsPEM": "ca-bundle.crt",
        "identity.issuer.tls.crtPEM": "issuer/crt.pem",
        "identity.issuer.tls.keyPEM": "issuer/key.pem",
        "destination.tls.crtPEM": "destination/crt.pem",
        "destination.tls.keyPEM": "destination/key.pem",
        "proxyInjector.crtPEM": "webhook/crt.pem",
        "proxyInjector.keyPEM": "webhook/key.pem",
        "proxyInjector.caBundle": "ca-bundle.crt",
    }
    args = []
    for key, rel in files.items():
        if key not in skip:
            args += ["--set-file", "%s=%s" % (key, os.path.join(pki, rel))]
    return args


def template(pki, namespace="cmesh", sets=(), skip=()):
    """(CompletedProcess, [docs]) of `helm template`; docs empty on failure."""
    args = ["template", "cmesh", CHART, "--namespace", namespace] + pki_args(pki, skip)
    for s in sets:
        args += ["--set", s]
    p = helm(*args)
    docs = [d for d in yaml.safe_load_all(p.stdout) if d] if p.returncode == 0 else []
    return p, docs


def render(tc, pki, namespace="cmesh", sets=(), skip=()):
    p, docs = template(pki, namespace, sets, skip)
    tc.assertEqual(p.returncode, 0, "helm template failed:\n" + p.stderr)
    return docs


def find(docs, kind, name):
    hits = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    if len(hits) != 1:
        raise AssertionError("%d objects %s/%s rendered" % (len(hits), kind, name))
    return hits[0]


def names(docs, kind):
    return sorted(d["metadata"]["name"] for d in docs if d["kind"] == kind)


def container(deploy):
    [c] = deploy["spec"]["template"]["spec"]["containers"]
    return c


def arg_map(args):
    """--name=value / --name -> {name: value or True}."""
    out = {}
    for a in args:
        m = re.match(r"^--([a-z0-9-]+)(?:=(.*))?$", a, re.S)
        if not m:
            raise AssertionError("argument %r is not --flag[=value]" % a)
        out[m.group(1)] = True if m.group(2) is None else m.group(2)
    return out


def help_flags(binary):
    """The options a binary lists in --help (each line `  --name=<type>` or `  --name`)."""
    p = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise AssertionError("%s --help exited %d" % (binary, p.returncode))
    flags = set(re.findall(r"^\s+--([a-z0-9-]+)", p.stdout + p.stderr, re.M))
    if not flags:
        raise AssertionError("%s --help lists no options:\n%s" % (binary, p.stdout))
    return flags

"""The local Kubernetes API server, loaded with run/demo/, and its kubeconfig."""
import os

PYTHON = "/usr/bin/python3"


def entries(ctx):
    port = ctx.port(6443)
    ctx.api_url = "http://127.0.0.1:%d" % port
    return [{
        "name": "apiserver",
        "argv": [PYTHON, os.path.join(ctx.root, "apiserver", "kubeapi.py"),
                 "--listen", "127.0.0.1:%d" % port,
                 "--objects", os.path.join(ctx.root, "run", "demo"),
                 "--kubeconfig-out", ctx.kubeconfig],
        "ready": ctx.api_url + "/_cmesh/healthz",
        "show": {"api": ctx.api_url, "kubeconfig": ctx.kubeconfig},
    }]

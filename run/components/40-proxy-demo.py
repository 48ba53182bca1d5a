"""The data plane of one demo pod, on loopback: the `web` app, a cmesh-proxy in
front of it (inbound forwards to the app, as iptables would arrange in a pod),
and a client sending traffic through the proxy's inbound port."""
import os

PYTHON = "/usr/bin/python3"


def entries(ctx):
    if not ctx.has_bin("cmesh-proxy"):
        return []
    app = ctx.addr(7080)
    admin = ctx.addr(4191)
    inbound = ctx.addr(4143)
    proxy_env = {
        "LINKERD2_PROXY_INBOUND_LISTEN_ADDR": inbound,
        "LINKERD2_PROXY_OUTBOUND_LISTEN_ADDR": ctx.addr(4140),
        "LINKERD2_PROXY_ADMIN_LISTEN_ADDR": admin,
        "LINKERD2_PROXY_LOG": "warn,linkerd=info",
        # No iptables on loopback: inbound forwards to the app explicitly, and
        # outbound takes its target from the Host header.
        "CMESH_PROXY_INBOUND_FORWARD_ADDR": app,
        "CMESH_PROXY_OUTBOUND_TARGET_FROM_HOST": "true",
    }
    return [
        {"name": "web-app",
         "argv": [PYTHON, os.path.join(ctx.root, "run", "demo_app.py"), app, "web"],
         "show": {"app": "http://%s/" % app}},
        {"name": "web-proxy",
         "argv": [ctx.bin("cmesh-proxy")],
         "env": proxy_env,
         "ready": "http://%s/ready" % admin,
         "show": {"inbound": "http://%s/ (curl it: the proxy forwards to web-app)" % inbound,
                  "metrics": "http://%s/metrics" % admin}},
        {"name": "traffic",
         "argv": [PYTHON, os.path.join(ctx.root, "run", "demo_traffic.py"), inbound,
                  "web.demo.svc.cluster.local"]},
    ]

"""cmesh-destination against the local API server: Destination.Get and
GetProfile for the demo services (query them with `cmesh diagnostics`)."""


def entries(ctx):
    if not ctx.has_bin("cmesh-destination"):
        return []
    grpc_addr, admin = ctx.addr(8086), ctx.addr(9996)
    return [{
        "name": "destination",
        "argv": [ctx.bin("cmesh-destination"), "--insecure",
                 "--kubeconfig", ctx.kubeconfig,
                 "--addr", grpc_addr, "--admin-addr", admin,
                 "--controller-namespace", ctx.namespace,
                 "--identity-trust-domain", ctx.trust_domain],
        "ready": "http://%s/ready" % admin,
        "show": {"grpc (plaintext)": grpc_addr,
                 "metrics": "http://%s/metrics" % admin,
                 "try": "cmesh diagnostics endpoints --destination-addr %s web.demo.svc.cluster.local:80"
                        % grpc_addr},
    }]

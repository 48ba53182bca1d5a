"""The identity service: a development PKI made on first run (cmesh certs
generate into the run's certs/ directory, kept across runs), then
cmesh-identity serving Certify over TLS, checking tokens with the local API
server's TokenReview."""
import os
import subprocess


def ensure_pki(ctx):
    """Writes the development trust anchor, issuer and serving certificates
    once; later components (destination, webhook) use the same directory."""
    if os.path.exists(os.path.join(ctx.certs, "ca-bundle.crt")):
        return
    subprocess.run([ctx.bin("cmesh"), "certs", "generate", "--out", ctx.certs,
                    "--namespace", ctx.namespace,
                    "--identity-trust-domain", ctx.trust_domain],
                   check=True, stdout=subprocess.DEVNULL)


def entries(ctx):
    if not (ctx.has_bin("cmesh-identity") and ctx.has_bin("cmesh")):
        return []
    admin = ctx.addr(9990)
    name = "cmesh-identity.%s.serviceaccount.identity.%s.%s" % (
        ctx.namespace, ctx.namespace, ctx.trust_domain)
    return [{
        "name": "identity",
        "setup": lambda: ensure_pki(ctx),
        "argv": [ctx.bin("cmesh-identity"),
                 "--addr", ctx.addr(8080),
                 "--admin-addr", admin,
                 "--controller-namespace", ctx.namespace,
                 "--identity-trust-domain", ctx.trust_domain,
                 "--issuer", os.path.join(ctx.certs, "issuer"),
                 "--trust-anchors", os.path.join(ctx.certs, "ca-bundle.crt"),
                 "--kubeconfig", ctx.kubeconfig],
        "ready": "http://%s/ready" % admin,
        "show": {"certify": "grpcs://%s (server name %s)" % (ctx.addr(8080), name),
                 "anchors": os.path.join(ctx.certs, "ca-bundle.crt")},
    }]

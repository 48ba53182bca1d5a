"""The proxy injector: cmesh-webhook with the development PKI's serving
certificate, registered with the local API server through the chart's
MutatingWebhookConfiguration, so that

    kubectl annotate namespace demo linkerd.io/inject=enabled
    kubectl apply -f pod.yaml

injects. The API server reaches the injector by URL (clientConfig.url, the
chart's proxyInjector.url) at https://localhost:PORT/: the serving
certificate names localhost, and the API server's command line stays as it is.
"""
import base64
import os
import subprocess

INJECT_PATH = "/"


def tools(ctx):
    d = os.path.join(ctx.root, ".tools", "bin")
    return os.path.join(d, "helm"), os.path.join(d, "kubectl")


def ensure_pki(ctx):
    """The same development PKI as 10-identity.py (made there first when the
    identity service is built); its webhook/ pair is for cmesh-webhook."""
    if os.path.exists(os.path.join(ctx.certs, "ca-bundle.crt")):
        return
    subprocess.run([ctx.bin("cmesh"), "certs", "generate", "--out", ctx.certs,
                    "--namespace", ctx.namespace,
                    "--identity-trust-domain", ctx.trust_domain],
                   check=True, stdout=subprocess.DEVNULL)


def pki_values(pki):
    """The PEMs every render of the chart requires, from the development PKI."""
    files = {"identityTrustAnchorsPEM": "ca-bundle.crt",
             "identity.issuer.tls.crtPEM": "issuer/crt.pem", "identity.issuer.tls.keyPEM": "issuer/key.pem",
             "destination.tls.crtPEM": "destination/crt.pem", "destination.tls.keyPEM": "destination/key.pem",
             "proxyInjector.crtPEM": "webhook/crt.pem", "proxyInjector.keyPEM": "webhook/key.pem"}
    out = []
    for key, rel in files.items():
        out += ["--set-file", "%s=%s" % (key, os.path.join(pki, rel))]
    return out


def register(ctx, url):
    """Renders the chart's MutatingWebhookConfiguration with the development
    CA as caBundle and applies it with kubectl."""
    ensure_pki(ctx)
    helm, kubectl = tools(ctx)
    with open(os.path.join(ctx.certs, "ca-bundle.crt"), "rb") as f:
        ca = base64.b64encode(f.read()).decode()
    doc = subprocess.run(
        [helm, "template", "cmesh", os.path.join(ctx.root, "charts", "cmesh-control-plane"),
         "--namespace", ctx.namespace,
         "--show-only", "templates/proxy-injector-webhook.yaml",
         "--set", "proxyInjector.caBundle=" + ca, "--set", "proxyInjector.url=" + url]
        + pki_values(ctx.certs),
        check=True, capture_output=True, text=True).stdout
    subprocess.run([kubectl, "--kubeconfig", ctx.kubeconfig,
                    "--cache-dir", ctx.path("kubectl-cache"), "apply", "-f", "-"],
                   input=doc, check=True, capture_output=True, text=True)


def entries(ctx):
    if not (ctx.has_bin("cmesh-webhook") and ctx.has_bin("cmesh")):
        return []
    helm, kubectl = tools(ctx)
    if not (os.access(helm, os.X_OK) and os.access(kubectl, os.X_OK)):
        return []
    admin = ctx.addr(9995)
    url = "https://localhost:%d%s" % (ctx.port(8443), INJECT_PATH)
    return [{
        "name": "webhook",
        "setup": lambda: register(ctx, url),
        "argv": [ctx.bin("cmesh-webhook"),
                 "--addr", ctx.addr(8443),
                 "--admin-addr", admin,
                 "--tls-cert", os.path.join(ctx.certs, "webhook", "crt.pem"),
                 "--tls-key", os.path.join(ctx.certs, "webhook", "key.pem"),
                 "--controller-namespace", ctx.namespace,
                 "--identity-trust-anchors-file", os.path.join(ctx.certs, "ca-bundle.crt"),
                 "--kubeconfig", ctx.kubeconfig],
        "ready": "http://%s/ready" % admin,
        "show": {"admission": url + " (registered: kubectl annotate namespace demo "
                                   "linkerd.io/inject=enabled, then apply a pod)",
                 "metrics": "http://%s/metrics" % admin},
    }]

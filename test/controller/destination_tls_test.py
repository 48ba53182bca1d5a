"""cmesh-destination over TLS with the serving certificate from `cmesh certs
generate`: a client that trusts the anchors and expects the destination's
identity name gets answers; one that expects another name is refused."""
import os
import subprocess
import sys

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from cmeshtest import bin_path  # noqa: E402
from dstclient import Stream, addrs  # noqa: E402
from dstworld import WEB, DstCase, eslice, pod, service  # noqa: E402

NAME = "cmesh-destination.cmesh.serviceaccount.identity.cmesh.cluster.local"
WRONG = "cmesh-identity.cmesh.serviceaccount.identity.cmesh.cluster.local"


def cert_count(path):
    with open(path) as f:
        return f.read().count("-----BEGIN CERTIFICATE-----")


class DestinationTLSTest(DstCase):
    def setUp(self):
        super().setUp()
        self.pki = os.path.join(self.tmp, "pki")
        p = subprocess.run([bin_path("cmesh"), "certs", "generate", "--out", self.pki],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.anchors = os.path.join(self.pki, "ca-bundle.crt")
        crt = os.path.join(self.pki, "destination", "crt.pem")
        key = os.path.join(self.pki, "destination", "key.pem")
        # The serving certificate is signed by the issuer, not the anchor: a
        # client holding only the anchors needs the issuer in the chain the
        # server sends, and `cmesh certs generate` writes leaf + issuer.
        self.assertEqual(cert_count(crt), 2)
        self.put(service("web"))
        self.put(pod("web-a", "10.0.0.1"))
        self.put(eslice("web-x", "web", [("10.0.0.1", "web-a", True)]))
        self.start_dst(tls=(crt, key))

    def channel(self, name):
        with open(self.anchors, "rb") as f:
            creds = grpc.ssl_channel_credentials(root_certificates=f.read())
        ch = grpc.secure_channel("127.0.0.1:%d" % self.port, creds,
                                 options=[("grpc.ssl_target_name_override", name)])
        self.addCleanup(ch.close)
        return ch

    def diagnostics(self, name):
        return subprocess.run([bin_path("cmesh"), "diagnostics", "endpoints",
                               "--destination-addr", "127.0.0.1:%d" % self.port,
                               "--tls-ca", self.anchors, "--tls-server-name", name,
                               "--timeout-ms", "3000", WEB],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)

    def test_right_name_gets_first_add(self):
        s = Stream(self.channel(NAME), "Get", WEB)
        self.addCleanup(s.cancel)
        u = s.next()
        self.assertEqual((u.WhichOneof("update"), addrs(u)), ("add", {"10.0.0.1:8080"}))
        # the stream keeps following changes over TLS
        self.put(eslice("web-x", "web", [("10.0.0.1", "web-a", True), ("10.0.0.2", "web-b", True)]))
        u = s.next()
        self.assertEqual((u.WhichOneof("update"), addrs(u)), ("add", {"10.0.0.2:8080"}))

    def test_wrong_name_is_refused(self):
        s = Stream(self.channel(WRONG), "Get", WEB)
        self.addCleanup(s.cancel)
        self.assertEqual(s.wait_end(), grpc.StatusCode.UNAVAILABLE)
        self.assertTrue(s.q.empty())

    def test_plaintext_client_is_refused(self):
        ch = grpc.insecure_channel("127.0.0.1:%d" % self.port)
        self.addCleanup(ch.close)
        s = Stream(ch, "Get", WEB)
        self.addCleanup(s.cancel)
        self.assertEqual(s.wait_end(), grpc.StatusCode.UNAVAILABLE)

    def test_diagnostics_endpoints_over_tls(self):
        p = self.diagnostics(NAME)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("10.0.0.1", p.stdout)
        self.assertIn("web-a", p.stdout)
        p = self.diagnostics(WRONG)
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertNotIn("10.0.0.1", p.stdout)

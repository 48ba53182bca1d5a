"""cmesh-identity end to end: a python3-grpcio client over TLS against the
daemon, with the stand-in API server answering TokenReviews.

Covers: a good certificate checked by `openssl verify`; the server name
check; a rejection matrix with exact gRPC codes; start-up refusals;
rotation through a kubelet-style `..data` swap while a client loops."""
import datetime
import os
import re
import subprocess
import threading
import time
import unittest

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import identity_pb2
import identity_pb2_grpc
import kubeapi
from cmeshtest import MeshTestCase, bin_path, free_port, http_get, wait_for

NS = "cmesh"
TD = "cluster.local"
SELF = "cmesh-identity.%s.serviceaccount.identity.%s.%s" % (NS, NS, TD)
WEB = "web.emojivoto.serviceaccount.identity.%s.%s" % (NS, TD)
AUD = "identity.l5d.io"
TOKENS = ["web-tok=emojivoto/web@" + AUD, "other-tok=emojivoto/other@" + AUD,
          "legacy-tok=emojivoto/web", "wrongaud-tok=emojivoto/web@somebody-else"]
C = grpc.StatusCode


def make_csr(name=WEB, cn=None, sans=None, key=None, ca=False):
    key = key or ec.generate_private_key(ec.SECP256R1())
    b = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn if cn is not None else name)]))
    sans = [x509.DNSName(name)] if sans is None else sans
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if ca:
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    return b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def bad_sig(der):
    # The signature is the DER's tail: flipping its last byte keeps the
    # structure and breaks the signature.
    return der[:-1] + bytes([der[-1] ^ 1])


def load_pem(path):
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


def make_ca_cert(subject, key, issuer_cert, issuer_key, not_before, not_after, ca=True):
    """issuer_cert None: self-signed."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    b = (x509.CertificateBuilder().subject_name(name)
         .issuer_name(issuer_cert.subject if issuer_cert is not None else name).public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(not_before).not_valid_after(not_after)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    return b.sign(issuer_key, hashes.SHA256())


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def metric(text, name, labels=""):
    m = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape(labels)), text, re.M)
    return float(m.group(1)) if m else None


class IdentityBase(MeshTestCase):
    def setUp(self):
        super().setUp()
        self.api = kubeapi.start_for(self, tls=True, tokens=["admin-tok"], token_map=TOKENS)
        self.pki = os.path.join(self.tmp, "pki")
        p = subprocess.run([bin_path("cmesh"), "certs", "generate", "--out", self.pki,
                            "--namespace", NS], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.anchors = os.path.join(self.pki, "ca-bundle.crt")
        with open(self.anchors, "rb") as f:
            self.anchors_pem = f.read()

    def start_identity(self, issuer_dir=None, insecure=False, extra=(), expect_ready=True):
        self.port, self.admin_port = free_port(), free_port()
        args = [bin_path("cmesh-identity"), "--addr", "127.0.0.1:%d" % self.port,
                "--admin-addr", "127.0.0.1:%d" % self.admin_port,
                "--issuer", issuer_dir or os.path.join(self.pki, "issuer"),
                "--trust-anchors", self.anchors, "--kubeconfig", self.api.kubeconfig,
                "--controller-namespace", NS, "--identity-trust-domain", TD] + list(extra)
        if insecure:
            args.append("--insecure")
        self.proc = self.spawn(args, name="identity")
        if expect_ready:
            wait_for(lambda: http_get("http://127.0.0.1:%d/ready" % self.admin_port, timeout=1)[0] == 200
                     or not self.proc.alive(), timeout=20, what="identity /ready")
            self.assertTrue(self.proc.alive(), self.proc.output())
        return self.proc

    def channel(self, name=SELF, insecure=False):
        target = "127.0.0.1:%d" % self.port
        if insecure:
            ch = grpc.insecure_channel(target)
        else:
            creds = grpc.ssl_channel_credentials(root_certificates=self.anchors_pem)
            ch = grpc.secure_channel(target, creds, options=[("grpc.ssl_target_name_override", name),
                                                            ("grpc.default_authority", name)])
        self.addCleanup(ch.close)
        return identity_pb2_grpc.IdentityStub(ch)

    def certify(self, stub, identity=WEB, token=b"web-tok", csr=None, timeout=10):
        req = identity_pb2.CertifyRequest(identity=identity, token=token,
                                          certificate_signing_request=make_csr() if csr is None else csr)
        return stub.Certify(req, timeout=timeout)

    def metrics(self):
        return http_get("http://127.0.0.1:%d/metrics" % self.admin_port)[1].decode()

    def _issuer_dir(self, name, cert, key):
        d = os.path.join(self.tmp, name)
        os.makedirs(d)
        with open(os.path.join(d, "crt.pem"), "wb") as f:
            f.write(pem(cert))
        with open(os.path.join(d, "key.pem"), "wb") as f:
            f.write(key_pem(key))
        return d

    def _anchor(self):
        with open(os.path.join(self.pki, "ca.key"), "rb") as f:
            akey = serialization.load_pem_private_key(f.read(), None)
        return load_pem(self.anchors), akey


class CertifyTest(IdentityBase):
    def test_good_certificate_verifies(self):
        self.start_identity()
        stub = self.channel()
        key = ec.generate_private_key(ec.SECP256R1())
        t0 = int(time.time())
        rsp = self.certify(stub, csr=make_csr(key=key))
        t1 = int(time.time())
        leaf = x509.load_der_x509_certificate(rsp.leaf_certificate)
        self.assertEqual(len(rsp.intermediate_certificates), 1)
        inter = x509.load_der_x509_certificate(rsp.intermediate_certificates[0])
        self.assertEqual(inter, load_pem(os.path.join(self.pki, "issuer", "crt.pem")))
        leaf_path, inter_path = os.path.join(self.tmp, "leaf.pem"), os.path.join(self.tmp, "inter.pem")
        with open(leaf_path, "wb") as f:
            f.write(pem(leaf))
        with open(inter_path, "wb") as f:
            f.write(pem(inter))
        v = subprocess.run(["openssl", "verify", "-CAfile", self.anchors, "-untrusted", inter_path,
                            "-purpose", "sslserver", leaf_path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertEqual(v.returncode, 0, v.stdout)
        v = subprocess.run(["openssl", "verify", "-CAfile", self.anchors, "-untrusted", inter_path,
                            "-purpose", "sslclient", leaf_path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertEqual(v.returncode, 0, v.stdout)
        # Without the returned issuer it does not verify: the chain matters.
        v = subprocess.run(["openssl", "verify", "-CAfile", self.anchors, leaf_path],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertNotEqual(v.returncode, 0)
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        self.assertEqual(list(san), [x509.DNSName(WEB)])
        ku = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
        self.assertTrue(ku.digital_signature and ku.key_encipherment)
        self.assertFalse(ku.key_cert_sign)
        eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        self.assertEqual(set(eku), {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH})
        self.assertFalse(leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
        self.assertEqual(leaf.signature_hash_algorithm.name, "sha256")
        self.assertEqual(leaf.public_key().public_numbers(), key.public_key().public_numbers())
        nb = int(leaf.not_valid_before.replace(tzinfo=datetime.timezone.utc).timestamp())
        na = int(leaf.not_valid_after.replace(tzinfo=datetime.timezone.utc).timestamp())
        self.assertTrue(t0 - 20 <= nb <= t1 - 20, (t0, nb, t1))
        self.assertEqual(na - nb, 24 * 3600 + 40)
        self.assertEqual(rsp.valid_until.seconds, na)
        self.assertGreater(leaf.serial_number.bit_length(), 64)
        # Two requests get two different serials.
        leaf2 = x509.load_der_x509_certificate(self.certify(stub).leaf_certificate)
        self.assertNotEqual(leaf.serial_number, leaf2.serial_number)
        # A token without the identity audience is retried without audiences.
        self.certify(stub, token=b"legacy-tok")
        m = self.metrics()
        self.assertEqual(metric(m, "identity_certify_requests_total", '{grpc_code="OK"}'), 3)
        self.assertGreater(metric(m, "issuer_cert_ttl_seconds"), 300 * 86400)

    def test_wrong_server_name_fails(self):
        self.start_identity()
        stub = self.channel(name="cmesh-destination.cmesh.serviceaccount.identity.cmesh.cluster.local")
        with self.assertRaises(grpc.RpcError) as cm:
            self.certify(stub, timeout=5)
        self.assertEqual(cm.exception.code(), C.UNAVAILABLE)
        # The right name on the same server works.
        self.certify(self.channel())

    def test_rejection_matrix(self):
        self.start_identity()
        stub = self.channel()
        other = "other.emojivoto.serviceaccount.identity.%s.%s" % (NS, TD)
        cases = [
            ("empty identity", dict(identity=""), C.INVALID_ARGUMENT),
            ("empty token", dict(token=b""), C.INVALID_ARGUMENT),
            ("empty csr", dict(csr=b""), C.INVALID_ARGUMENT),
            ("csr not DER", dict(csr=b"-----BEGIN CERTIFICATE REQUEST-----"), C.INVALID_ARGUMENT),
            ("csr bad signature", dict(csr=bad_sig(make_csr())), C.INVALID_ARGUMENT),
            ("CN not the identity", dict(csr=make_csr(cn=other)), C.FAILED_PRECONDITION),
            ("SAN not the identity", dict(csr=make_csr(sans=[x509.DNSName(other)])), C.FAILED_PRECONDITION),
            ("extra DNS SAN", dict(csr=make_csr(sans=[x509.DNSName(WEB), x509.DNSName("x.example")])),
             C.FAILED_PRECONDITION),
            ("extra IP SAN", dict(csr=make_csr(sans=[x509.DNSName(WEB),
                                                    x509.IPAddress(__import__("ipaddress").ip_address("10.0.0.1"))])),
             C.FAILED_PRECONDITION),
            ("extra URI SAN", dict(csr=make_csr(sans=[x509.DNSName(WEB),
                                                     x509.UniformResourceIdentifier("spiffe://td/ns/a/sa/b")])),
             C.FAILED_PRECONDITION),
            ("extra email SAN", dict(csr=make_csr(sans=[x509.DNSName(WEB), x509.RFC822Name("a@b.c")])),
             C.FAILED_PRECONDITION),
            ("P-384 key", dict(csr=make_csr(key=ec.generate_private_key(ec.SECP384R1()))), C.FAILED_PRECONDITION),
            ("RSA key", dict(csr=make_csr(key=rsa.generate_private_key(65537, 2048))), C.FAILED_PRECONDITION),
            ("CSR asks CA:true", dict(csr=make_csr(ca=True)), C.FAILED_PRECONDITION),
            ("unauthenticated token", dict(token=b"nobody-knows-this"), C.FAILED_PRECONDITION),
            ("token of another ServiceAccount", dict(token=b"other-tok"), C.FAILED_PRECONDITION),
            ("token for another audience", dict(token=b"wrongaud-tok"), C.FAILED_PRECONDITION),
            ("identity of another SA with its CSR",
             dict(identity=other, csr=make_csr(name=other)), C.FAILED_PRECONDITION),
        ]
        for name, kw, want in cases:
            with self.subTest(name):
                with self.assertRaises(grpc.RpcError) as cm:
                    rsp = self.certify(stub, **kw)
                    self.fail("%s: got a certificate (%d bytes)" % (name, len(rsp.leaf_certificate)))
                self.assertEqual(cm.exception.code(), want, "%s: %s" % (name, cm.exception.details()))
        # The API going away is an Internal error, not a refusal.
        self.api.stop()
        with self.assertRaises(grpc.RpcError) as cm:
            self.certify(stub)
        self.assertEqual(cm.exception.code(), C.INTERNAL, cm.exception.details())
        m = self.metrics()
        self.assertEqual(metric(m, "identity_certify_requests_total", '{grpc_code="InvalidArgument"}'), 5)
        self.assertEqual(metric(m, "identity_certify_requests_total", '{grpc_code="FailedPrecondition"}'), 13)
        self.assertEqual(metric(m, "identity_certify_requests_total", '{grpc_code="Internal"}'), 1)

    def test_issuer_refused_at_start(self):
        anchor, akey = self._anchor()
        now = datetime.datetime.utcnow()
        k = ec.generate_private_key(ec.SECP256R1())
        other_k = ec.generate_private_key(ec.SECP256R1())
        expired = make_ca_cert("expired", k, anchor, akey, now - datetime.timedelta(days=2),
                               now - datetime.timedelta(days=1))
        leaf = make_ca_cert("not-a-ca", k, anchor, akey, now - datetime.timedelta(hours=1),
                            now + datetime.timedelta(days=1), ca=False)
        good = make_ca_cert("good", k, anchor, akey, now - datetime.timedelta(hours=1),
                            now + datetime.timedelta(days=1))
        self_signed = make_ca_cert("lonely", k, None, k, now - datetime.timedelta(hours=1),
                                   now + datetime.timedelta(days=1))
        cases = [("expired", expired, k, "expired"), ("not a CA", leaf, k, "not a CA"),
                 ("wrong key", good, other_k, "does not match"),
                 ("not chained", self_signed, k, "does not verify")]
        for name, cert, key, msg in cases:
            with self.subTest(name):
                d = self._issuer_dir(name.replace(" ", "-"), cert, key)
                p = self.start_identity(issuer_dir=d, expect_ready=False)
                rc = p.wait(timeout=20)
                self.assertNotEqual(rc, 0)
                self.assertIn(msg, p.output())
                self.assertIsNone(re.search(r"listening|serving", p.output()))

    def test_issuer_expiring_is_unavailable(self):
        anchor, akey = self._anchor()
        now = datetime.datetime.utcnow().replace(microsecond=0)
        k = ec.generate_private_key(ec.SECP256R1())
        short = make_ca_cert("short", k, anchor, akey, now - datetime.timedelta(hours=1),
                             now + datetime.timedelta(seconds=4))
        d = self._issuer_dir("short", short, k)
        self.start_identity(issuer_dir=d, insecure=True)
        stub = self.channel(insecure=True)
        self.certify(stub)  # usable while it lasts
        wait_for(lambda: http_get("http://127.0.0.1:%d/ready" % self.admin_port, timeout=1)[0] == 503,
                 timeout=15, what="/ready to fail once the issuer expired")
        with self.assertRaises(grpc.RpcError) as cm:
            self.certify(stub)
        self.assertEqual(cm.exception.code(), C.UNAVAILABLE, cm.exception.details())


class RotationTest(IdentityBase):
    def kubelet_write(self, files, first=False):
        self.version += 1
        vdir = os.path.join(self.idir, "..v%d" % self.version)
        os.makedirs(vdir)
        for n, data in files.items():
            with open(os.path.join(vdir, n), "wb") as f:
                f.write(data)
        tmp = os.path.join(self.idir, "..data_tmp")
        os.symlink("..v%d" % self.version, tmp)
        os.rename(tmp, os.path.join(self.idir, "..data"))
        if first:
            for n in files:
                os.symlink(os.path.join("..data", n), os.path.join(self.idir, n))
        return vdir

    def test_rotation_under_load(self):
        self.idir = os.path.join(self.tmp, "issuer")
        os.makedirs(self.idir)
        self.version = 0
        with open(os.path.join(self.pki, "issuer", "crt.pem"), "rb") as f:
            crt1 = f.read()
        with open(os.path.join(self.pki, "issuer", "key.pem"), "rb") as f:
            key1 = f.read()
        self.kubelet_write({"crt.pem": crt1, "key.pem": key1}, first=True)
        self.start_identity(issuer_dir=self.idir, extra=["--issuer-recheck-interval", "1s"])
        stub = self.channel()

        results, errors, stop = [], [], threading.Event()

        def loop():
            while not stop.is_set():
                try:
                    rsp = self.certify(stub)
                    results.append(rsp.intermediate_certificates[0])
                except grpc.RpcError as e:  # noqa: PERF203
                    errors.append("%s %s" % (e.code(), e.details()))
        threads = [threading.Thread(target=loop) for _ in range(2)]
        for t in threads:
            t.start()
        try:
            wait_for(lambda: len(results) >= 5, timeout=20, what="certificates before the swap")
            anchor, akey = self._anchor()
            now = datetime.datetime.utcnow()
            k2 = ec.generate_private_key(ec.SECP256R1())
            iss2 = make_ca_cert("identity-2", k2, anchor, akey, now - datetime.timedelta(minutes=5),
                                now + datetime.timedelta(days=30))
            vdir = self.kubelet_write({"crt.pem": pem(iss2), "key.pem": key_pem(k2)})
            wait_for(lambda: metric(self.metrics(), "identity_issuer_reloads_total", '{result="ok"}') == 1,
                     timeout=20, what="the reload metric to count the good issuer")
            mark = len(results)
            wait_for(lambda: len(results) >= mark + 5, timeout=20, what="certificates after the swap")
            iss2_der = iss2.public_bytes(serialization.Encoding.DER)
            # Everything issued after the reload chains to the new issuer.
            self.assertTrue(all(r == iss2_der for r in results[mark + 2:]))
            # A bad issuer, written in place (non-atomically): a cert that is
            # not a CA, then its key.
            bad_k = ec.generate_private_key(ec.SECP256R1())
            bad = make_ca_cert("bad", bad_k, anchor, akey, now - datetime.timedelta(minutes=5),
                               now + datetime.timedelta(days=30), ca=False)
            with open(os.path.join(vdir, "crt.pem"), "wb") as f:
                f.write(pem(bad))
            with open(os.path.join(vdir, "key.pem"), "wb") as f:
                f.write(key_pem(bad_k))
            wait_for(lambda: (metric(self.metrics(), "identity_issuer_reloads_total",
                                     '{result="refused"}') or 0) >= 1,
                     timeout=20, what="the reload metric to count the refusal")
            mark = len(results)
            wait_for(lambda: len(results) >= mark + 5, timeout=20, what="certificates after the refusal")
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertEqual(errors, [])
        self.assertTrue(all(r == iss2_der for r in results[mark:]))
        self.assertEqual(metric(self.metrics(), "identity_issuer_reloads_total", '{result="ok"}'), 1)
        self.assertIn("refused", self.proc.output())


class CertsCliTest(MeshTestCase):
    def run_cli(self, *args):
        return subprocess.run([bin_path("cmesh"), "certs"] + list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)

    def test_generate_and_usage(self):
        out = os.path.join(self.tmp, "pki")
        p = self.run_cli("generate", "--out", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("lifetime 8760h", p.stdout)
        for f in ("ca-bundle.crt", "ca.key", "issuer/crt.pem", "issuer/key.pem", "destination/crt.pem",
                  "destination/key.pem", "webhook/crt.pem", "webhook/key.pem"):
            self.assertTrue(os.path.exists(os.path.join(out, f)), f)
        v = subprocess.run(["openssl", "verify", "-CAfile", os.path.join(out, "ca-bundle.crt"), "-untrusted",
                            os.path.join(out, "issuer/crt.pem"), os.path.join(out, "destination/crt.pem")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertEqual(v.returncode, 0, v.stdout)
        self.assertEqual(self.run_cli("generate", "--out", out).returncode, 1)
        self.assertEqual(self.run_cli("generate", "--out", out, "--force").returncode, 0)
        self.assertEqual(self.run_cli("generate").returncode, 2)
        self.assertEqual(self.run_cli().returncode, 2)
        self.assertEqual(self.run_cli("generate", "--out", out, "--issuer-lifetime", "soon").returncode, 2)


if __name__ == "__main__":
    unittest.main()

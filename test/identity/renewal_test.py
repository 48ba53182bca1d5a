"""The identity service's own serving certificate is renewed in place when
the issuer rotates: calls on open connections and on new ones keep
succeeding, and new handshakes are served a certificate from the new issuer."""
import datetime
import os
import subprocess
import sys
import threading
import unittest

import grpc
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import identity_test as it  # noqa: E402
from cmeshtest import wait_for  # noqa: E402


def served_cert(port):
    """The leaf the server presents to a new TLS handshake."""
    p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-alpn", "h2"],
                       input=b"", stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=10)
    out = p.stdout
    start = out.find(b"-----BEGIN CERTIFICATE-----")
    end = out.find(b"-----END CERTIFICATE-----")
    if start < 0 or end < 0:
        return None
    return x509.load_pem_x509_certificate(out[start:end + 25])


def signed_by(cert, issuer):
    try:
        issuer.public_key().verify(cert.signature, cert.tbs_certificate_bytes,
                                   ec.ECDSA(cert.signature_hash_algorithm))
        return True
    except Exception:  # noqa: BLE001 - any failure means "not this issuer"
        return False


class ServingRenewalTest(it.IdentityBase):
    kubelet_write = it.RotationTest.kubelet_write

    def test_renewed_on_rotation_without_failing_calls(self):
        self.idir = os.path.join(self.tmp, "issuer")
        os.makedirs(self.idir)
        self.version = 0
        with open(os.path.join(self.pki, "issuer", "crt.pem"), "rb") as f:
            crt1 = f.read()
        with open(os.path.join(self.pki, "issuer", "key.pem"), "rb") as f:
            key1 = f.read()
        iss1 = x509.load_pem_x509_certificate(crt1)
        self.kubelet_write({"crt.pem": crt1, "key.pem": key1}, first=True)
        self.start_identity(issuer_dir=self.idir, extra=["--issuer-recheck-interval", "1s"])
        first = served_cert(self.port)
        self.assertIsNotNone(first)
        self.assertTrue(signed_by(first, iss1))

        kept = self.channel()
        done, errors, stop = [0, 0], [], threading.Event()

        def loop(fresh):
            stub = kept
            while not stop.is_set():
                if fresh:  # a new connection, so a new handshake, every call
                    stub = self.channel()
                try:
                    self.certify(stub)
                    done[fresh] += 1
                except grpc.RpcError as e:  # noqa: PERF203
                    errors.append("%s %s" % (e.code(), e.details()))
        threads = [threading.Thread(target=loop, args=(i,)) for i in (0, 1)]
        for t in threads:
            t.start()
        try:
            wait_for(lambda: min(done) >= 3, timeout=20, what="calls before the rotation")
            anchor, akey = self._anchor()
            now = datetime.datetime.utcnow()
            k2 = ec.generate_private_key(ec.SECP256R1())
            iss2 = it.make_ca_cert("identity-2", k2, anchor, akey, now - datetime.timedelta(minutes=5),
                                   now + datetime.timedelta(days=30))
            self.kubelet_write({"crt.pem": it.pem(iss2), "key.pem": it.key_pem(k2)})
            wait_for(lambda: it.metric(self.metrics(), "identity_issuer_reloads_total", '{result="ok"}') == 1,
                     timeout=20, what="the issuer reload")
            wait_for(lambda: signed_by(served_cert(self.port), iss2), timeout=20,
                     what="a serving certificate from the new issuer")
            mark = list(done)
            wait_for(lambda: done[0] >= mark[0] + 3 and done[1] >= mark[1] + 3, timeout=20,
                     what="calls after the renewal")
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertEqual(errors, [])
        self.assertTrue(self.proc.alive(), self.proc.output())


if __name__ == "__main__":
    unittest.main()

"""End-to-end Certify benchmark: cmesh-identity over TLS, TokenReviews
answered by the local API server. Prints rps, p50/p99 per concurrency and the
daemon's peak RSS. Usage: identity_e2e.py SECONDS (env CMESH_BIN)."""
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import identity_pb2
import identity_pb2_grpc
import kubeapi
from cmeshtest import Proc, free_port, http_get, wait_for

WEB = "web.emojivoto.serviceaccount.identity.cmesh.cluster.local"
SELF = "cmesh-identity.cmesh.serviceaccount.identity.cmesh.cluster.local"


class Case:
    """The bits of MeshTestCase kubeapi.start_for needs."""
    def __init__(self, tmp):
        self.tmp = tmp
        self.cleanups = []

    def addCleanup(self, f, *a):
        self.cleanups.append((f, a))


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def main():
    secs = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    bindir = os.environ["CMESH_BIN"]
    tmp = tempfile.mkdtemp(prefix="idbench-")
    case = Case(tmp)
    proc = None
    try:
        api = kubeapi.start_for(case, tls=True, tokens=["admin"], token_map=["web=emojivoto/web@identity.l5d.io"])
        pki = os.path.join(tmp, "pki")
        subprocess.run([os.path.join(bindir, "cmesh"), "certs", "generate", "--out", pki], check=True,
                       stdout=subprocess.DEVNULL)
        port, aport = free_port(), free_port()
        proc = Proc([os.path.join(bindir, "cmesh-identity"), "--addr", "127.0.0.1:%d" % port,
                     "--admin-addr", "127.0.0.1:%d" % aport, "--issuer", os.path.join(pki, "issuer"),
                     "--trust-anchors", os.path.join(pki, "ca-bundle.crt"), "--kubeconfig", api.kubeconfig,
                     "--log-level", "warn", "--kube-apiclient-qps", "100000", "--kube-apiclient-burst", "100000"],
                    os.path.join(tmp, "identity.log"))
        wait_for(lambda: http_get("http://127.0.0.1:%d/ready" % aport, timeout=1)[0] == 200, timeout=20)
        with open(os.path.join(pki, "ca-bundle.crt"), "rb") as f:
            roots = f.read()
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, WEB)]))
               .add_extension(x509.SubjectAlternativeName([x509.DNSName(WEB)]), critical=False)
               .sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER))
        req = identity_pb2.CertifyRequest(identity=WEB, token=b"web", certificate_signing_request=csr)
        print("idle RSS %d kB" % rss_kb(proc.pid))
        for conc in (1, 16, 64):
            chans = [grpc.secure_channel("127.0.0.1:%d" % port, grpc.ssl_channel_credentials(roots),
                                         options=[("grpc.ssl_target_name_override", SELF)])
                     for _ in range(min(conc, 8))]
            stubs = [identity_pb2_grpc.IdentityStub(c) for c in chans]
            stubs[0].Certify(req, timeout=10)
            lat, errs, stop = [], [], threading.Event()

            def worker(i):
                stub = stubs[i % len(stubs)]
                while not stop.is_set():
                    t0 = time.perf_counter()
                    try:
                        stub.Certify(req, timeout=30)
                        lat.append(time.perf_counter() - t0)
                    except grpc.RpcError as e:
                        errs.append(e.code())
            th = [threading.Thread(target=worker, args=(i,)) for i in range(conc)]
            t0 = time.perf_counter()
            for t in th:
                t.start()
            time.sleep(secs)
            stop.set()
            for t in th:
                t.join()
            el = time.perf_counter() - t0
            for c in chans:
                c.close()
            lat.sort()
            n = len(lat)
            print("conc=%d requests=%d errors=%d rps=%.0f p50_ms=%.2f p99_ms=%.2f" % (
                conc, n, len(errs), n / el, lat[n // 2] * 1e3 if n else 0, lat[int(n * 0.99)] * 1e3 if n else 0))
        print("peak RSS %d kB (goal < 20480)" % rss_kb(proc.pid))
    finally:
        if proc:
            proc.stop()
        for f, a in reversed(case.cleanups):
            f(*a)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Run cmesh's stand-in Kubernetes API server (apiserver/kubeapi.py) in a test.

    api = kubeapi.start_for(self, tls=True, tokens=["t0k3n"])   # stopped at cleanup
    api.url, api.kubeconfig, api.ca_path, api.token
    status, headers, body = api.request("GET", "/api/v1/namespaces")
    api.faults(drop_watches=True); api.stats()
    api.kubectl("get", "pods", "-A")

Also: CA (a throw-away certificate authority made with the openssl CLI) for
tests that need TLS servers of their own, e.g. admission webhooks.
"""
import http.client
import json
import os
import ssl
import subprocess
import tempfile
import time
import urllib.parse

from cmeshtest import PYTHON, ROOT, Proc, tool, wait_for

SERVER = os.path.join(ROOT, "apiserver", "kubeapi.py")
START_TIMEOUT = 15.0
CERT_DAYS = "2"


def _openssl(args, cwd):
    p = subprocess.run(["openssl"] + list(args), cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if p.returncode:
        raise RuntimeError("openssl %s failed:\n%s" % (" ".join(args), p.stdout.decode()))


class CA:
    """A P-256 CA in `directory`; issue() signs server certificates."""

    def __init__(self, directory, name="cmesh-test-ca"):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.key = os.path.join(directory, "ca.key")
        self.cert = os.path.join(directory, "ca.crt")
        _openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-nodes", "-keyout", self.key, "-out", self.cert, "-days", CERT_DAYS,
                  "-subj", "/CN=" + name,
                  "-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,keyCertSign,cRLSign"], directory)

    def issue(self, name, dns=(), ips=()):
        """Signs a serverAuth certificate; returns (cert path, key path)."""
        key = os.path.join(self.dir, name + ".key")
        csr = os.path.join(self.dir, name + ".csr")
        crt = os.path.join(self.dir, name + ".crt")
        ext = os.path.join(self.dir, name + ".ext")
        sans = ["DNS:" + d for d in dns] + ["IP:" + i for i in ips]
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=serverAuth\n")
            if sans:
                f.write("subjectAltName=" + ",".join(sans) + "\n")
        _openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + name], self.dir)
        _openssl(["x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key,
                  "-CAcreateserial", "-out", crt, "-days", CERT_DAYS, "-extfile", ext], self.dir)
        return crt, key

    def pem(self):
        with open(self.cert, "rb") as f:
            return f.read()

    def client_context(self):
        return ssl.create_default_context(cafile=self.cert)


class KubeAPI:
    """One stand-in API server process. Use start_for() in a MeshTestCase."""

    def __init__(self, workdir, tls=False, tokens=(), token_map=(), history=None,
                 objects=None, bookmark_interval=None, webhook_services=(), extra_args=()):
        self.dir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.tls = tls
        self.token = tokens[0] if tokens else None
        self.ca = CA(os.path.join(workdir, "pki")) if tls else None
        self.ca_path = self.ca.cert if tls else None
        self.kubeconfig = os.path.join(workdir, "kubeconfig")
        self.port_file = os.path.join(workdir, "port")
        self.log_path = os.path.join(workdir, "requests.log")
        self.cache_dir = tempfile.mkdtemp(prefix="kubectl-cache-", dir=workdir)
        args = [PYTHON, SERVER, "--listen", "127.0.0.1:0", "--port-file", self.port_file,
                "--log", self.log_path]
        if tls:
            crt, key = self.ca.issue("apiserver", dns=["localhost", "kubernetes.default.svc"],
                                     ips=["127.0.0.1"])
            args += ["--tls-cert", crt, "--tls-key", key]
        for t in tokens:
            args += ["--token", t]
        for t in token_map:
            args += ["--token-map", t]
        for s in webhook_services:
            args += ["--webhook-service", s]
        if history is not None:
            args += ["--history", str(history)]
        if bookmark_interval is not None:
            args += ["--bookmark-interval", str(bookmark_interval)]
        if objects:
            args += ["--objects", objects]
        self.args = args + list(extra_args)
        self.proc = None
        self.port = None

    def start(self):
        self.proc = Proc(self.args, os.path.join(self.dir, "kubeapi.out"))
        wait_for(lambda: self._read_port() or not self.proc.alive(), timeout=START_TIMEOUT,
                 what="the stand-in API server's port file")
        if not self.proc.alive():
            raise RuntimeError("kubeapi exited:\n" + self.proc.output())
        scheme = "https" if self.tls else "http"
        self.url = "%s://127.0.0.1:%d" % (scheme, self.port)
        self._write_kubeconfig()
        wait_for(lambda: self.request("GET", "/_cmesh/healthz")[0] == 200,
                 timeout=START_TIMEOUT, what="kubeapi healthz")
        return self

    def _read_port(self):
        try:
            with open(self.port_file) as f:
                self.port = int(f.read().strip())
            return True
        except (OSError, ValueError):
            return False

    def _write_kubeconfig(self):
        cluster = "    server: %s\n" % self.url
        if self.ca_path:
            cluster += "    certificate-authority: %s\n" % self.ca_path
        user = "    token: %s\n" % self.token if self.token else "    {}\n"
        with open(self.kubeconfig, "w") as f:
            f.write("apiVersion: v1\nkind: Config\ncurrent-context: cmesh\nclusters:\n"
                    "- name: cmesh\n  cluster:\n%susers:\n- name: cmesh\n  user:\n%s"
                    "contexts:\n- name: cmesh\n  context:\n    cluster: cmesh\n"
                    "    user: cmesh\n    namespace: default\n" % (cluster, user))

    def stop(self):
        if self.proc is not None:
            self.proc.stop()

    def request_log(self):
        """The server's --log: one line per request, `METHOD PATH STATUS VERB`."""
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def output(self):
        """The server's stdout/stderr and request log, for failure messages."""
        out = self.proc.output() if self.proc else ""
        if os.path.exists(self.log_path):
            with open(self.log_path, errors="replace") as f:
                out += f.read()
        return out

    # ---- raw HTTP ----

    def connection(self, timeout=10.0):
        if self.tls:
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                               context=self.ca.client_context())
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def _headers(self, ctype, headers, token):
        h = {"Accept": "application/json"}
        if ctype:
            h["Content-Type"] = ctype
        tok = self.token if token is None else token
        if tok:
            h["Authorization"] = "Bearer " + tok
        h.update(headers or {})
        return h

    def request(self, method, path, body=None, ctype="application/json", headers=None,
                token=None, timeout=10.0):
        """(status, headers dict, JSON body or raw bytes). body: dict/list -> JSON."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        conn = self.connection(timeout)
        try:
            conn.request(method, path, body, self._headers(ctype if body is not None else None,
                                                           headers, token))
            r = conn.getresponse()
            data = r.read()
            hdrs = dict(r.getheaders())
        finally:
            conn.close()
        try:
            return r.status, hdrs, json.loads(data)
        except ValueError:
            return r.status, hdrs, data

    def watch(self, path, timeout=10.0, token=None):
        """Opens a watch; returns a Watch (iterate .events(), then .close())."""
        return Watch(self, path, timeout, token)

    def faults(self, **kw):
        status, _, body = self.request("POST", "/_cmesh/faults", kw)
        if status != 200:
            raise RuntimeError("faults(%r) -> %d %r" % (kw, status, body))
        return body

    def stats(self):
        return self.request("GET", "/_cmesh/stats")[2]

    # ---- kubectl ----

    def kubectl(self, *args, check=True, input=None, timeout=30):
        """Runs the pinned kubectl against this server; returns CompletedProcess
        (stdout/stderr as text)."""
        env = dict(os.environ, KUBECONFIG=self.kubeconfig, HOME=self.dir)
        p = subprocess.run([tool("kubectl"), "--cache-dir", self.cache_dir] + list(args),
                           env=env, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=timeout, cwd=ROOT)
        if check and p.returncode:
            raise AssertionError("kubectl %s failed (%d):\n%s%s" % (" ".join(args), p.returncode,
                                                                    p.stdout, p.stderr))
        return p


class Watch:
    """A streaming watch over http.client; events() yields decoded events and
    stops when the server ends the stream (or the connection drops)."""

    def __init__(self, api, path, timeout, token):
        self.conn = api.connection(timeout)
        self.conn.request("GET", path, headers=api._headers(None, None, token))
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.ended_cleanly = None   # True: terminating chunk seen; False: cut

    def events(self):
        """Decodes the chunked body itself (http.client hides whether the
        terminating chunk came), one JSON event per line."""
        if self.status != 200:
            return
        fp, buf = self.resp.fp, b""
        while True:
            try:
                size_line = fp.readline(1024)
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    self.ended_cleanly = True
                    return
                data = fp.read(size + 2)
                if len(data) != size + 2:
                    raise ValueError("short chunk")
            except (ValueError, ConnectionError, ssl.SSLError, OSError, AttributeError):
                self.ended_cleanly = False
                return
            buf += data[:-2]
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.strip():
                    yield json.loads(line)

    def body(self):
        return json.loads(self.resp.read())

    def close(self):
        self.conn.close()


def start_for(testcase, **kw):
    """Starts a server in testcase.tmp (a MeshTestCase) and stops it at cleanup."""
    api = KubeAPI(os.path.join(testcase.tmp, "kubeapi-%d" % int(time.time() * 1000)), **kw)
    testcase.addCleanup(api.stop)
    api.start()
    return api


def url_path(path, **query):
    """path plus an encoded query string (values str()'d)."""
    return path + ("?" + urllib.parse.urlencode({k: str(v) for k, v in query.items()})
                   if query else "")

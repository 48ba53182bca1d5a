"""Two "pods" as network namespaces for proxy tests, and the test applications.

World: a holder process started with `unshare --net --mount` keeps a private
network namespace and a private mount namespace with a tmpfs on /run/netns, so
the named namespaces `a` and `b` created there are invisible to the host and to
other tests. Commands run inside with `nsenter -t HOLDER --net --mount`, then
`ip netns exec POD`. Pods are joined by a veth pair (10.77.N.1/24 in a,
10.77.N.2/24 in b). Everything is torn down by World.close(): every process
started is killed and reaped, then the holder, which takes the namespaces with
it.

Applications (run as `python3 netpods.py app KIND PORT`):
  h1    HTTP/1.1 server: /hello, /chunked, /nocontent (204), /notmodified (304),
        /big?n=N, /upload (Expect: 100-continue, answers length and sha256),
        /close (close-delimited), /ws (WebSocket upgrade, then echo), HEAD
  h2    h2c server (python3-h2): /hello, /big?n=N, /echo (body echoed)
  grpc  python3-grpcio server, generic handlers of service test.Echo:
        Unary (echo), Stream (request "N": N messages), Sleep (sleeps 2 s),
        Fail (request "CODE:details": aborts with that status)
  tcp   a line protocol: "PING x\\n" -> "PONG x\\n"
"""
import base64
import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time

PROXY_UID = 2102
INIT_ARGS = ["--incoming-proxy-port", "4143", "--outgoing-proxy-port", "4140",
             "--proxy-uid", str(PROXY_UID)]
INBOUND_IGNORE = ["4190", "4191", "4567", "4568"]
OUTBOUND_IGNORE = ["4567", "4568"]


# --- the world -----------------------------------------------------------------

class World:
    def __init__(self, logdir, subnet=77):
        self.logdir = logdir
        self.procs = []
        self.subnet = subnet
        self.addr = {"a": "10.%d.0.1" % subnet, "b": "10.%d.0.2" % subnet}
        os.makedirs(logdir, exist_ok=True)
        # The holder: a private net + mount namespace with its own /run/netns.
        script = ("mkdir -p /run/netns && mount -t tmpfs tmpfs /run/netns && "
                  "echo up && exec sleep 100000")
        self.holder = subprocess.Popen(
            ["unshare", "--net", "--mount", "--propagation", "private", "sh", "-c", script],
            stdout=subprocess.PIPE, start_new_session=True)
        line = self.holder.stdout.readline()
        if line.strip() != b"up":
            self.close()
            raise RuntimeError("namespace holder did not start")
        a, b = self.addr["a"], self.addr["b"]
        for cmd in (["ip", "netns", "add", "a"], ["ip", "netns", "add", "b"],
                    ["ip", "link", "add", "veth-a", "type", "veth", "peer", "name", "veth-b"],
                    ["ip", "link", "set", "veth-a", "netns", "a"],
                    ["ip", "link", "set", "veth-b", "netns", "b"],
                    ["ip", "-n", "a", "addr", "add", a + "/24", "dev", "veth-a"],
                    ["ip", "-n", "b", "addr", "add", b + "/24", "dev", "veth-b"],
                    ["ip", "-n", "a", "link", "set", "veth-a", "up"],
                    ["ip", "-n", "b", "link", "set", "veth-b", "up"],
                    ["ip", "-n", "a", "link", "set", "lo", "up"],
                    ["ip", "-n", "b", "link", "set", "lo", "up"]):
            self.run(None, cmd)

    def prefix(self, pod):
        p = ["nsenter", "-t", str(self.holder.pid), "--net", "--mount", "--"]
        if pod:
            p += ["ip", "netns", "exec", pod]
        return p

    def run(self, pod, args, timeout=60, check=True, input=None, env=None):
        """Runs to completion in a pod; returns CompletedProcess (text)."""
        r = subprocess.run(self.prefix(pod) + list(args), capture_output=True,
                           timeout=timeout, input=input, env=env)
        if check and r.returncode != 0:
            raise RuntimeError("%s failed (%d): %s %s" % (
                " ".join(args), r.returncode, r.stdout[-2000:], r.stderr[-2000:]))
        return r

    def spawn(self, pod, args, name, env=None, as_proxy=False):
        """Starts a long-running process in a pod; stopped by close()."""
        if as_proxy:
            args = ["setpriv", "--reuid=%d" % PROXY_UID, "--regid=%d" % PROXY_UID,
                    "--clear-groups"] + list(args)
        log = open(os.path.join(self.logdir, name + ".log"), "wb")
        e = dict(os.environ)
        e.update(env or {})
        p = subprocess.Popen(self.prefix(pod) + list(args), stdout=log, stderr=subprocess.STDOUT,
                             env=e, start_new_session=True)
        p.name = name
        p.log_path = log.name
        log.close()
        self.procs.append(p)
        return p

    def log(self, p):
        try:
            with open(p.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def proxy_init(self, pod, in_ignore=(), out_ignore=(), binpath=None):
        args = [binpath] + INIT_ARGS + [
            "--inbound-ports-to-ignore", ",".join(INBOUND_IGNORE + list(in_ignore)),
            "--outbound-ports-to-ignore", ",".join(OUTBOUND_IGNORE + list(out_ignore))]
        return self.run(pod, args)

    def start_proxy(self, pod, binpath, extra_env=None):
        env = {"LINKERD2_PROXY_INBOUND_LISTEN_ADDR": "0.0.0.0:4143",
               "LINKERD2_PROXY_OUTBOUND_LISTEN_ADDR": "127.0.0.1:4140",
               "LINKERD2_PROXY_ADMIN_LISTEN_ADDR": "0.0.0.0:4191",
               "LINKERD2_PROXY_LOG": os.environ.get("CMESH_TEST_PROXY_LOG", "warn"),
               "LINKERD2_PROXY_SHUTDOWN_GRACE_PERIOD": "20s",
               "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0"}
        env.update(extra_env or {})
        p = self.spawn(pod, [binpath], "proxy-" + pod, env=env, as_proxy=True)
        self.wait_port(pod, 4191)
        return p

    def start_app(self, pod, kind, port):
        p = self.spawn(pod, ["/usr/bin/python3", os.path.abspath(__file__), "app", kind, str(port)],
                       "app-%s-%s-%d" % (pod, kind, port))
        self.wait_port(pod, port)
        return p

    def wait_port(self, pod, port, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = self.run(pod, ["sh", "-c", "ss -ltnH 'sport = :%d' | grep -q ." % port], check=False)
            if r.returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError("nothing listens on %s:%d" % (pod, port))

    def metrics(self, pod):
        return self.run(pod, ["curl", "-s", "--max-time", "5",
                              "http://127.0.0.1:4191/metrics"]).stdout.decode()

    def close(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.procs = []
        if self.holder and self.holder.poll() is None:
            os.killpg(self.holder.pid, signal.SIGKILL)
            self.holder.wait(timeout=10)
        self.holder = None


def metric_sum(text, name, **labels):
    """Sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, _, val = line.rpartition(" ")
        if all('%s="%s"' % (k, v) in head for k, v in labels.items()):
            total += float(val)
    return total


# --- applications ----------------------------------------------------------------

def _serve_tcp(port, handler):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(256)
    while True:
        c, _ = srv.accept()
        threading.Thread(target=_guard, args=(handler, c), daemon=True).start()


def _guard(handler, c):
    try:
        handler(c)
    except (OSError, ValueError):
        pass
    finally:
        c.close()


class _Reader:
    def __init__(self, c):
        self.c, self.buf = c, b""

    def fill(self):
        d = self.c.recv(65536)
        if not d:
            raise ValueError("eof")
        self.buf += d

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        l, _, self.buf = self.buf.partition(b"\r\n")
        return l

    def exactly(self, n):
        while len(self.buf) < n:
            self.fill()
        d, self.buf = self.buf[:n], self.buf[n:]
        return d


def _h1_conn(c):
    r = _Reader(c)
    while True:
        try:
            reqline = r.line()
        except ValueError:
            return
        method, target, _ = reqline.decode().split(" ", 2)
        hdrs = {}
        while True:
            l = r.line()
            if not l:
                break
            k, _, v = l.decode().partition(":")
            hdrs[k.strip().lower()] = v.strip()
        path, _, query = target.partition("?")
        if hdrs.get("expect", "").lower() == "100-continue":
            c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = b""
        if "content-length" in hdrs:
            body = r.exactly(int(hdrs["content-length"]))
        elif hdrs.get("transfer-encoding", "").lower() == "chunked":
            while True:
                n = int(r.line().split(b";")[0], 16)
                if n == 0:
                    while r.line():
                        pass
                    break
                body += r.exactly(n)
                r.exactly(2)
        head = method == "HEAD"

        def send(status, reason, payload=b"", extra=""):
            h = "HTTP/1.1 %d %s\r\n%scontent-length: %d\r\n\r\n" % (status, reason, extra, len(payload))
            c.sendall(h.encode() + (b"" if head else payload))

        if path == "/hello":
            send(200, "OK", b"hello\n", "content-type: text/plain\r\n")
        elif path == "/chunked":
            c.sendall(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
            if not head:
                for part in (b"one,", b"two,", b"three\n"):
                    c.sendall(b"%x\r\n%s\r\n" % (len(part), part))
                c.sendall(b"0\r\n\r\n")
        elif path == "/nocontent":
            c.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
        elif path == "/notmodified":
            c.sendall(b"HTTP/1.1 304 Not Modified\r\netag: \"v1\"\r\n\r\n")
        elif path == "/big":
            n = int(query.partition("=")[2] or "0")
            c.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % n)
            if not head:
                chunk = b"x" * 65536
                left = n
                while left > 0:
                    c.sendall(chunk[:min(left, len(chunk))])
                    left -= min(left, len(chunk))
        elif path == "/upload":
            send(200, "OK", ("%d %s\n" % (len(body), hashlib.sha256(body).hexdigest())).encode())
        elif path == "/close":
            c.sendall(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n")
            if not head:
                c.sendall(b"until the end\n")
            return
        elif path == "/ws" and hdrs.get("upgrade", "").lower() == "websocket":
            key = hdrs.get("sec-websocket-key", "")
            acc = base64.b64encode(hashlib.sha1(
                (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
            c.sendall(("HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n"
                       "connection: Upgrade\r\nsec-websocket-accept: %s\r\n\r\n" % acc).encode())
            if r.buf:
                c.sendall(r.buf)
            while True:
                d = c.recv(65536)
                if not d:
                    return
                c.sendall(d)
        else:
            send(404, "Not Found", b"no\n")


def _tcp_conn(c):
    f = c.makefile("rb")
    for line in f:
        if line.startswith(b"PING "):
            c.sendall(b"PONG " + line[5:])
        else:
            c.sendall(b"ERR\n")


def _h2_conn(c):
    import h2.config
    import h2.connection
    import h2.events
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    c.sendall(conn.data_to_send())
    streams = {}   # id -> [headers, body]
    pending = {}   # id -> bytes left to send
    lock = threading.Lock()

    def send_some():
        for sid in list(pending):
            data = pending[sid]
            while data:
                window = conn.local_flow_control_window(sid)
                if window <= 0:
                    break
                n = min(window, conn.max_outbound_frame_size, len(data))
                conn.send_data(sid, data[:n])
                data = data[n:]
            if data:
                pending[sid] = data
            else:
                del pending[sid]
                conn.end_stream(sid)

    while True:
        d = c.recv(65536)
        if not d:
            return
        with lock:
            for ev in conn.receive_data(d):
                if isinstance(ev, h2.events.RequestReceived):
                    streams[ev.stream_id] = [dict(ev.headers), b""]
                elif isinstance(ev, h2.events.DataReceived):
                    if ev.stream_id in streams:
                        streams[ev.stream_id][1] += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    hdrs, body = streams.pop(ev.stream_id, [{}, b""])
                    path = hdrs.get(b":path", b"/").decode()
                    p, _, q = path.partition("?")
                    if p == "/hello":
                        out = b"hello h2\n"
                    elif p == "/big":
                        out = b"y" * int(q.partition("=")[2] or "0")
                    elif p == "/echo":
                        out = body
                    else:
                        conn.send_headers(ev.stream_id, [(":status", "404")], end_stream=True)
                        continue
                    conn.send_headers(ev.stream_id, [(":status", "200"),
                                                     ("content-length", str(len(out)))])
                    pending[ev.stream_id] = out
                elif isinstance(ev, h2.events.StreamReset):
                    pending.pop(ev.stream_id, None)
                    streams.pop(ev.stream_id, None)
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    c.sendall(conn.data_to_send())
                    return
            send_some()
            c.sendall(conn.data_to_send())


def _grpc_server(port):
    import grpc
    from concurrent import futures

    def unary(req, ctx):
        return req

    def stream(req, ctx):
        for i in range(int(req.decode() or "0")):
            yield b"msg %d" % i

    def sleep(req, ctx):
        time.sleep(2)
        return req

    def fail(req, ctx):
        code, _, details = req.decode().partition(":")
        ctx.abort(grpc.StatusCode[code], details)

    ident = dict(request_deserializer=None, response_serializer=None)
    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(unary, **ident),
        "Stream": grpc.unary_stream_rpc_method_handler(stream, **ident),
        "Sleep": grpc.unary_unary_rpc_method_handler(sleep, **ident),
        "Fail": grpc.unary_unary_rpc_method_handler(fail, **ident),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Echo", handlers),))
    server.add_insecure_port("0.0.0.0:%d" % port)
    server.start()
    server.wait_for_termination()


def main(argv):
    if len(argv) == 3 and argv[0] == "app":
        kind, port = argv[1], int(argv[2])
        if kind == "grpc":
            return _grpc_server(port)
        handler = {"h1": _h1_conn, "h2": _h2_conn, "tcp": _tcp_conn}[kind]
        return _serve_tcp(port, handler)
    sys.stderr.write("usage: netpods.py app h1|h2|grpc|tcp PORT\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]) or 0)

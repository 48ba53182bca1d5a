"""A recording HTTP/1.1 backend (and TCP echo) for the proxy's integration tests.

Every byte received is counted in `received_bytes`, and each parsed request is
appended to `requests`, so a test can assert that nothing reached the backend.
Connections whose first bytes are not an HTTP method are echoed raw.
Routes: /hello, /big?n=, /chunked?n=, /close, /204, /304, /slow?ms=, /upload
(CL or chunked, honours Expect: 100-continue), /ws (101 then echo), /headers,
/trailers (chunked with trailers; request trailers are recorded too),
/badchunk (a valid chunk, then a malformed size line), /eof (close-delimited,
no Connection header), /stale-rst (answers keep-alive, then resets the
connection when the next request arrives, unanswered), /stale-fin?us= (answers
keep-alive, then closes after `us` microseconds).
"""
import hashlib
import json
import select
import socket
import struct
import threading
import time
import urllib.parse

METHODS = (b"GET ", b"HEAD ", b"POST ", b"PUT ", b"DELETE ", b"OPTIONS ", b"PATCH ")


class Backend:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.requests = []
        self.received_bytes = 0
        self.connections = 0
        self._stop = False
        self._conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def addr(self):
        return "127.0.0.1:%d" % self.port

    def stop(self):
        self._stop = True
        try:
            self.sock.close()
        except OSError:
            pass
        for c in list(self._conns):
            try:
                c.close()
            except OSError:
                pass

    def _accept(self):
        while not self._stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                self._conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _recv(self, c, n=65536):
        d = c.recv(n)
        with self.lock:
            self.received_bytes += len(d)
        return d

    def _serve(self, c):
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    if len(buf) >= 8 and not buf.startswith(METHODS):
                        return self._echo(c, buf)
                    d = self._recv(c)
                    if not d:
                        if buf and not buf.startswith(METHODS):
                            self._echo(c, buf)
                        return
                    buf += d
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                method, target, version = lines[0].split(" ")
                headers = []
                for l in lines[1:]:
                    k, v = l.split(":", 1)
                    headers.append((k.strip(), v.strip()))
                hd = {k.lower(): v for k, v in headers}
                if hd.get("expect", "").lower() == "100-continue":
                    c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                body, buf, trailers = self._body(c, hd, buf)
                with self.lock:
                    self.requests.append({"method": method, "target": target, "version": version,
                                          "headers": headers, "body_len": len(body),
                                          "trailers": trailers, "conn": id(c)})
                keep = self._respond(c, method, target, hd, body, buf)
                if keep is None:
                    return
                buf = keep
                if version == "HTTP/1.0" or hd.get("connection", "").lower() == "close":
                    return
        except (OSError, ValueError):
            return
        finally:
            try:
                c.close()
            except OSError:
                pass

    def _body(self, c, hd, buf):
        if "content-length" in hd:
            n = int(hd["content-length"])
            while len(buf) < n:
                d = self._recv(c)
                if not d:
                    raise ValueError("short body")
                buf += d
            return buf[:n], buf[n:], []
        if hd.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                while b"\r\n" not in buf:
                    d = self._recv(c)
                    if not d:
                        raise ValueError("short chunked body")
                    buf += d
                line, buf = buf.split(b"\r\n", 1)
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    while not buf.startswith(b"\r\n") and b"\r\n\r\n" not in buf:
                        d = self._recv(c)
                        if not d:
                            raise ValueError("short trailers")
                        buf += d
                    trailers = []
                    if buf.startswith(b"\r\n"):
                        buf = buf[2:]
                    else:
                        section, buf = buf.split(b"\r\n\r\n", 1)
                        for l in section.decode("latin-1").split("\r\n"):
                            k, v = l.split(":", 1)
                            trailers.append((k.strip(), v.strip()))
                    return body, buf, trailers
                while len(buf) < size + 2:
                    d = self._recv(c)
                    if not d:
                        raise ValueError("short chunk")
                    buf += d
                body += buf[:size]
                buf = buf[size + 2:]
        return b"", buf, []

    def _respond(self, c, method, target, hd, body, buf):
        u = urllib.parse.urlsplit(target)
        q = dict(urllib.parse.parse_qsl(u.query))
        path = u.path
        def send(status, payload=b"", extra="", length=True):
            h = "HTTP/1.1 %s\r\n%s" % (status, extra)
            if length:
                h += "Content-Length: %d\r\n" % len(payload)
            c.sendall(h.encode() + b"\r\n" + (b"" if method == "HEAD" else payload))
        if path == "/hello":
            send("200 OK", b"hello")
        elif path == "/big":
            n = int(q.get("n", "0"))
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n)
            block = b"x" * 65536
            left = n
            while left > 0:
                c.sendall(block[:min(left, len(block))])
                left -= min(left, len(block))
        elif path == "/chunked":
            n = int(q.get("n", "0"))
            c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            left, i = n, 0
            while left > 0:
                k = min(left, 1000 + i % 7)
                c.sendall(b"%x\r\n" % k + bytes([97 + i % 26]) * k + b"\r\n")
                left -= k
                i += 1
            c.sendall(b"0\r\n\r\n")
        elif path == "/close":
            c.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nclose-delimited-body")
            return None
        elif path == "/204":
            c.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
        elif path == "/304":
            c.sendall(b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n")
        elif path == "/slow":
            time.sleep(int(q.get("ms", "500")) / 1000.0)
            send("200 OK", b"slow")
        elif path == "/upload":
            out = json.dumps({"len": len(body), "sha256": hashlib.sha256(body).hexdigest()}).encode()
            send("200 OK", out)
        elif path == "/headers":
            send("200 OK", json.dumps(hd).encode())
        elif path == "/status":
            send("%s X" % q.get("code", "200"), b"s", extra="grpc-status: %s\r\n" % q["grpc"] if "grpc" in q else "")
        elif path == "/trailers":
            c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n"
                      b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: abc123\r\n"
                      b"Content-Length: 99\r\nX-Other: two words\r\n\r\n")
        elif path == "/badchunk":
            c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
            time.sleep(0.05)
            c.sendall(b"zz\r\nbroken\r\n0\r\n\r\n")
            time.sleep(0.2)
            return None
        elif path == "/eof":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
            for i in range(3):
                c.sendall(b"part%d-" % i)
                time.sleep(0.01)
            return None
        elif path == "/stale-rst":
            send("200 OK", b"stale-ok")
            if buf or select.select([c], [], [], 2.0)[0]:
                # The next request is here: drop the connection unanswered,
                # with a reset as a server closing an idle connection does
                # when bytes are already waiting.
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return None
        elif path == "/stale-fin":
            send("200 OK", b"stale-ok")
            time.sleep(int(q.get("us", "0")) / 1e6)
            return None
        elif path == "/ws":
            c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                      b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
            self._echo(c, buf)
            return None
        else:
            send("404 Not Found", b"nf")
        return buf

    def _echo(self, c, first):
        if first:
            c.sendall(first)
        while True:
            d = self._recv(c)
            if not d:
                try:
                    c.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return None
            c.sendall(d)

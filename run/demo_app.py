"""The demo application of `make run`: a small HTTP/1.1 server that answers
every request with a greeting and the path, so traffic through the proxy is
easy to see. Usage: demo_app.py HOST:PORT NAME"""
import http.server
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cmesh-demo"

    def do_GET(self):
        body = ("hello from %s: %s\n" % (self.server.app_name, self.path)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, fmt, *args):  # keep the log to one short line
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    srv = http.server.ThreadingHTTPServer((host, int(port)), Handler)
    srv.app_name = sys.argv[2] if len(sys.argv) > 2 else "web"
    srv.serve_forever()


if __name__ == "__main__":
    main()

"""Debian's Prometheus scrapes the proxy's admin port; a PromQL query returns
exactly the number of requests the test sent through the proxy (HTTP/1 and
HTTP/2 both)."""
import json
import os
import socket
import subprocess
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cmeshtest  # noqa: E402

NETPODS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib", "netpods.py")
H1_REQUESTS = 17
H2_REQUESTS = 8


class PrometheusTest(cmeshtest.MeshTestCase):
    def test_promql_counts_requests(self):
        h1_port, h2_port = cmeshtest.free_port(), cmeshtest.free_port()
        self.spawn([cmeshtest.PYTHON, NETPODS, "app", "h1", str(h1_port)], name="app-h1")
        self.spawn([cmeshtest.PYTHON, NETPODS, "app", "h2", str(h2_port)], name="app-h2")
        ports = {}
        for kind, fwd in (("h1", h1_port), ("h2", h2_port)):
            inb, adm = cmeshtest.free_port(), cmeshtest.free_port()
            self.spawn([cmeshtest.bin_path("cmesh-proxy")], name="proxy-" + kind, env={
                "LINKERD2_PROXY_INBOUND_LISTEN_ADDR": "127.0.0.1:%d" % inb,
                "LINKERD2_PROXY_OUTBOUND_LISTEN_ADDR": "127.0.0.1:0",
                "LINKERD2_PROXY_ADMIN_LISTEN_ADDR": "127.0.0.1:%d" % adm,
                "CMESH_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:%d" % fwd,
                "ASAN_OPTIONS": "detect_leaks=0"})
            ports[kind] = (inb, adm)
        for kind, (_, adm) in ports.items():
            cmeshtest.wait_http_ok("http://127.0.0.1:%d/live" % adm)
        cmeshtest.wait_for(lambda: cmeshtest.http_get("http://127.0.0.1:%d/" % h1_port)[0] == 404,
                           what="h1 app")
        cmeshtest.wait_for(lambda: socket.create_connection(("127.0.0.1", h2_port)).close() or True,
                           what="h2 app")

        for _ in range(H1_REQUESTS):
            st, body, _ = cmeshtest.http_get("http://127.0.0.1:%d/hello" % ports["h1"][0])
            self.assertEqual((st, body), (200, b"hello\n"))
        # One h2c connection, requests one after another on it.
        r = subprocess.run(["h2load", "-n", str(H2_REQUESTS), "-c", "1", "-m", "1",
                            "http://127.0.0.1:%d/hello" % ports["h2"][0]],
                           capture_output=True, timeout=30)
        self.assertIn(b"%d succeeded, 0 failed" % H2_REQUESTS, r.stdout, r.stdout)

        prom_port = cmeshtest.free_port()
        cfg = os.path.join(self.tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: linkerd-proxy\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d', '127.0.0.1:%d']\n"
                    % (ports["h1"][1], ports["h2"][1]))
        self.spawn(["prometheus", "--config.file=" + cfg,
                    "--storage.tsdb.path=" + os.path.join(self.tmp, "tsdb"),
                    "--web.listen-address=127.0.0.1:%d" % prom_port], name="prometheus")
        cmeshtest.wait_http_ok("http://127.0.0.1:%d/-/ready" % prom_port, timeout=20)

        def query(q):
            url = "http://127.0.0.1:%d/api/v1/query?%s" % (prom_port, urllib.parse.urlencode({"query": q}))
            st, body, _ = cmeshtest.http_get(url)
            res = json.loads(body)["data"]["result"] if st == 200 else []
            return float(res[0]["value"][1]) if res else None

        q = 'sum(request_total{direction="inbound",job="linkerd-proxy"})'
        # Both targets must have been scraped (the first scrape comes ~6 s in).
        cmeshtest.wait_for(lambda: query('count(up{job="linkerd-proxy"} == 1)') == 2,
                           timeout=25, what="both targets up")
        cmeshtest.wait_for(lambda: query(q) is not None, timeout=10, what="request_total")
        self.assertEqual(query(q), H1_REQUESTS + H2_REQUESTS)
        ok = 'sum(response_total{direction="inbound",classification="success",status_code="200"})'
        self.assertEqual(query(ok), H1_REQUESTS + H2_REQUESTS)


if __name__ == "__main__":
    unittest.main()

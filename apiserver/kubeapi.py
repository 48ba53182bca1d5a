#!/usr/bin/python3
"""cmesh's stand-in Kubernetes API server (see apiserver/README.md).

    /usr/bin/python3 apiserver/kubeapi.py --listen 127.0.0.1:0 --port-file FILE
        [--objects DIR] [--tls-cert F --tls-key F] [--token TOKEN ...]
        [--token-map TOKEN=NS/SA[@aud,...] ...] [--history N]
        [--bookmark-interval SECONDS] [--webhook-service NS/NAME=HOST:PORT ...]
        [--kubeconfig-out FILE [--kubeconfig-ca CA]] [--log FILE]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kapi import server  # noqa: E402


def parse_listen(text):
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise argparse.ArgumentTypeError("--listen wants HOST:PORT, got %r" % text)
    return host.strip("[]"), int(port)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", type=parse_listen, default=("127.0.0.1", 0))
    ap.add_argument("--port-file", help="write the bound port here once listening")
    ap.add_argument("--objects", help="load *.yaml/*.yml/*.json from this directory at start")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--token", action="append", default=[],
                    help="accepted bearer token; when any is given, requests need one")
    ap.add_argument("--token-map", action="append", default=[],
                    help="TOKEN=NS/SA[@aud,...]: a token TokenReview accepts for that SA")
    ap.add_argument("--api-audience", action="append", default=None,
                    help="the API's own audience(s), used when a TokenReview has none")
    ap.add_argument("--history", type=int, default=1000,
                    help="watch history size in events (older RVs get 410)")
    ap.add_argument("--bookmark-interval", type=float, default=server.DEFAULT_BOOKMARK_INTERVAL,
                    help="seconds between BOOKMARK events on watches that allow them")
    ap.add_argument("--webhook-service", action="append", default=[],
                    help="NS/NAME=HOST:PORT: where webhook clientConfig.service refs live")
    ap.add_argument("--kubeconfig-out", help="write a kubeconfig for this server")
    ap.add_argument("--kubeconfig-ca", help="CA file to name in --kubeconfig-out")
    ap.add_argument("--log", help="append one line per request here")
    a = ap.parse_args(argv)
    if bool(a.tls_cert) != bool(a.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    if a.history < 1:
        ap.error("--history must be at least 1")
    if a.bookmark_interval <= 0:
        ap.error("--bookmark-interval must be positive")
    try:
        cfg = server.Config(listen=a.listen, tls_cert=a.tls_cert, tls_key=a.tls_key,
                            tokens=a.token, token_map=a.token_map, api_audiences=a.api_audience,
                            history=a.history, bookmark_interval=a.bookmark_interval,
                            webhook_services=a.webhook_service, log_path=a.log)
        return server.run(cfg, a.port_file, a.objects, a.kubeconfig_out, a.kubeconfig_ca)
    except (OSError, ValueError) as e:
        sys.stderr.write("kubeapi: %s\n" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())

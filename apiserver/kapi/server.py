"""HTTP layer: routing, authentication, faults, the REST verbs and watch streams.

One ThreadingHTTPServer thread per connection, HTTP/1.1 keep-alive. Every
request body is read fully before answering (kubectl sends a body with
DELETE), so a connection is never left with unread bytes.
"""
import copy
import json
import os
import random
import select
import socket
import ssl
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml

from . import errors, patch, resources, selectors
from .admission import Admission
from .errors import ApiError
from .faults import Faults
from .store import Store, parse_rv, now_rfc3339
from .tokens import TokenAuthority, DEFAULT_EXPIRATION, MIN_EXPIRATION

MAX_BODY_BYTES = 3 * 1024 * 1024          # kube-apiserver's default request limit
DEFAULT_BOOKMARK_INTERVAL = 60.0          # the cacher sends about one a minute
# Without timeoutSeconds the real server picks [min-request-timeout, 2x).
DEFAULT_WATCH_TIMEOUT = (1800, 3600)
WATCH_POLL_SECONDS = 0.5                  # how often a watch checks its client
PUBLIC_PATHS = ("/version", "/healthz", "/readyz", "/livez")
INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
JSON_TYPES = ("application/json", "*/*", "application/*", "")
BODY_TYPES = ("application/json", "application/yaml")
TEXT_429 = b"Too many requests, please try again later.\n"
FAULT_REASONS = {500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"}
FAULT_MESSAGES = {500: "Internal error occurred: injected fault",
                  503: "the server is currently unable to handle the request",
                  504: "Timeout: request did not complete within the allotted timeout"}


class Config:
    """Options of one server; see kubeapi.py for the command line."""

    def __init__(self, **kw):
        self.listen = ("127.0.0.1", 0)
        self.tls_cert = self.tls_key = None
        self.tokens = []
        self.token_map = []
        self.api_audiences = None
        self.history = 1000
        self.bookmark_interval = DEFAULT_BOOKMARK_INTERVAL
        self.webhook_services = []
        self.log_path = None
        self.__dict__.update(kw)


def view(obj, rt):
    """The object as served at rt's version (CRD versions share storage and
    differ only in apiVersion, like `conversion: None`)."""
    if obj.get("apiVersion") == rt.group_version:
        return obj
    return dict(obj, apiVersion=rt.group_version)


def _media(header):
    """Lower-cased media types of a Content-Type/Accept header, params dropped."""
    return [p.split(";")[0].strip().lower() for p in (header or "").split(",")]


class Route:
    def __init__(self, rt, ns, name, sub):
        self.rt, self.ns, self.name, self.sub = rt, ns, name, sub


def parse_resource_path(segs):
    """segs after /api/v1 or /apis/G/V -> Route. Raises 404 for unknown paths."""
    group, version, rest = segs
    if not rest:
        raise errors.unknown_resource()
    if rest[0] == "namespaces" and len(rest) >= 3:
        rt = resources.lookup(group, version, rest[2])
        if rt is not None and rt.namespaced:
            if len(rest) > 5:
                raise errors.unknown_resource()
            return _check_sub(Route(rt, rest[1], rest[3] if len(rest) > 3 else None,
                                    rest[4] if len(rest) > 4 else None))
    rt = resources.lookup(group, version, rest[0])
    if rt is None or len(rest) > 3:
        raise errors.unknown_resource()
    if rt.namespaced and len(rest) > 1:
        raise errors.unknown_resource()   # /api/v1/pods/NAME does not exist
    return _check_sub(Route(rt, None, rest[1] if len(rest) > 1 else None,
                            rest[2] if len(rest) > 2 else None))


def _check_sub(route):
    if route.sub is not None and route.sub not in route.rt.subresources:
        raise errors.unknown_resource()
    return route


def route_verb(method, route, query):
    if route is None:
        return "other"
    if route.sub == "token":
        return "create" if method == "POST" else "other"
    if route.name is None:
        if method == "GET":
            return "watch" if query.get("watch") in ("1", "true") else "list"
        return {"POST": "create", "DELETE": "deletecollection"}.get(method, "other")
    return {"GET": "get", "PUT": "update", "PATCH": "patch",
            "DELETE": "delete"}.get(method, "other")


class ApiServer:
    def __init__(self, cfg):
        self.cfg = cfg
        self.store = Store(cfg.history)
        self.tokens = TokenAuthority(cfg.api_audiences)
        for spec in cfg.token_map:
            self.tokens.add_static(spec)
        self.faults = Faults()
        self._log_lock = threading.Lock()
        self._log_file = open(cfg.log_path, "a", buffering=1) if cfg.log_path else None
        svc = dict(Admission.parse_service_mapping(s) for s in cfg.webhook_services)
        self.admission = Admission(self.store, resources.lookup(
            "admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations"),
            svc, self.log)
        self.store.on_namespace_created = self._namespace_created
        ns_rt = resources.lookup("", "v1", "namespaces")
        for name in INITIAL_NAMESPACES:
            self.store.create(ns_rt, None, {"metadata": {"name": name}})
        self.httpd = ThreadingHTTPServer(cfg.listen, Handler, bind_and_activate=False)
        self.httpd.daemon_threads = True
        self.httpd.request_queue_size = 128
        self.httpd.allow_reuse_address = True
        self.httpd.server_bind()
        self.httpd.server_activate()
        self.httpd.api = self
        self.scheme = "http"
        if cfg.tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cfg.tls_cert, cfg.tls_key)
            # Offer only HTTP/1.1 so Go clients do not try h2 with us.
            ctx.set_alpn_protocols(["http/1.1"])
            # Handshakes happen on first read, in the connection's thread, so
            # a slow client cannot stall accept().
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True,
                                                do_handshake_on_connect=False)
            self.scheme = "https"

    @property
    def port(self):
        return self.httpd.server_address[1]

    @property
    def url(self):
        return "%s://%s:%d" % (self.scheme, self.httpd.server_address[0], self.port)

    def log(self, msg):
        if self._log_file:
            with self._log_lock:
                self._log_file.write("%s %s\n" % (time.strftime("%H:%M:%S"), msg))

    @staticmethod
    def _namespace_created(store, ns):
        # The service-account controller gives every namespace a `default` SA.
        rt = resources.lookup("", "v1", "serviceaccounts")
        if (ns, "default") not in store.buckets[rt.storage_key]:
            store.create(rt, ns, {"metadata": {"name": "default"}})

    def load_objects(self, directory):
        """Creates every object found in *.yaml/*.yml/*.json under directory.
        Missing namespaces are created first; existing objects are replaced."""
        docs = []
        for fn in sorted(os.listdir(directory)):
            if not fn.endswith((".yaml", ".yml", ".json")):
                continue
            with open(os.path.join(directory, fn)) as f:
                for d in yaml.safe_load_all(f):
                    if d is None:
                        continue
                    items = d.get("items") if d.get("kind", "").endswith("List") else [d]
                    for it in items or []:
                        docs.append((fn, it))
        ns_rt = resources.lookup("", "v1", "namespaces")
        for fn, d in docs:
            rt = resources.by_kind(d.get("apiVersion", ""), d.get("kind", ""))
            if rt is None:
                raise ValueError("%s: unsupported object %s %s"
                                 % (fn, d.get("apiVersion"), d.get("kind")))
            ns = (d.get("metadata") or {}).get("namespace") or "default"
            if rt.namespaced and self.store.namespace_labels(ns) is None:
                self.store.create(ns_rt, None, {"metadata": {"name": ns}})
            try:
                self.store.create(rt, ns, copy.deepcopy(d))
            except ApiError as e:
                if e.reason != "AlreadyExists":
                    raise ValueError("%s: %s" % (fn, e.message))
                self.store.update(rt, ns, d["metadata"]["name"], copy.deepcopy(d))

    def write_kubeconfig(self, path, ca_path=None):
        token = self.cfg.tokens[0] if self.cfg.tokens else None
        cluster = {"server": self.url}
        if self.scheme == "https":
            if ca_path:
                cluster["certificate-authority"] = os.path.abspath(ca_path)
            else:
                cluster["insecure-skip-tls-verify"] = True
        user = {"token": token} if token else {}
        kc = {"apiVersion": "v1", "kind": "Config", "current-context": "cmesh",
              "clusters": [{"name": "cmesh", "cluster": cluster}],
              "users": [{"name": "cmesh", "user": user}],
              "contexts": [{"name": "cmesh", "context": {"cluster": "cmesh", "user": "cmesh",
                                                         "namespace": "default"}}]}
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            yaml.safe_dump(kc, f)
        os.replace(tmp, path)

    def serve_forever(self):
        self.httpd.serve_forever(poll_interval=0.2)

    def shutdown(self):
        self.store.drop_watches("clean")
        self.httpd.shutdown()
        self.httpd.server_close()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The head and the body go out in separate writes; with Nagle on, the
    # body waits for the client's delayed ACK (about 40 ms per request on a
    # reused connection).
    disable_nagle_algorithm = True
    server_version = "cmesh-kubeapi/1"
    sys_version = ""

    # BaseHTTPRequestHandler writes access logs to stderr; ours go to --log.
    def log_message(self, fmt, *args):
        pass

    def version_string(self):
        return self.server_version

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_OPTIONS(self):
        self._dispatch("OPTIONS")

    # ---- plumbing ----

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = bytearray()
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                out += self.rfile.read(size)
                self.rfile.readline(1024)
                if len(out) > MAX_BODY_BYTES:
                    self.close_connection = True
                    raise ApiError(413, "RequestEntityTooLarge", "the request body is too large")
            return bytes(out)
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY_BYTES:
            self.close_connection = True
            raise ApiError(413, "RequestEntityTooLarge", "the request body is too large")
        return self.rfile.read(n) if n > 0 else b""

    def _send(self, code, body, ctype="application/json", headers=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", str(uuid.uuid4()))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self._code = code

    def _send_json(self, code, obj, headers=None):
        self._send(code, json.dumps(obj, separators=(",", ":")).encode(), headers=headers)

    def _send_error(self, e):
        headers = {"Retry-After": str(e.retry_after)} if e.retry_after else {}
        if e.plain:
            self._send(e.code, TEXT_429 if e.code == 429 else (e.message + "\n").encode(),
                       "text/plain; charset=utf-8", headers)
        else:
            self._send_json(e.code, e.status(), headers)

    def _dispatch(self, method):
        api = self.server.api
        t0 = time.monotonic()
        self._code = 0
        url = urllib.parse.urlsplit(self.path)
        self.query = {k: v[0] for k, v in
                      urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        path = url.path
        verb = "other"
        try:
            try:
                self.body = self._read_body()
            except ValueError:
                self.close_connection = True
                raise errors.bad_request("malformed chunked body")
            if path.startswith("/_cmesh/"):
                self._admin(method, path)
                return
            pending, route = None, None
            try:
                route = self._route(path)
            except ApiError as e:
                pending = e
            verb = route_verb(method, route if isinstance(route, Route) else None, self.query)
            api.faults.count_verb(verb)
            self._authenticate(path)
            fault = api.faults.take_failure(verb)
            if api.faults.delay_ms:
                time.sleep(api.faults.delay_ms / 1000.0)
            if fault:
                self._inject(*fault)
                return
            if pending:
                raise pending
            if route != self._not_found_plain:
                self._check_accept()
            if isinstance(route, Route):
                self._resource(method, verb, route)
            else:
                route(method)
        except ApiError as e:
            if self._code:
                # Headers already went out (a watch): nothing sane to add.
                self.close_connection = True
            else:
                self._send_error(e)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout):
            self.close_connection = True
        except Exception:  # noqa: BLE001 - a bug must not kill the connection thread silently
            api.log("internal error on %s %s:\n%s" % (method, self.path, traceback.format_exc()))
            if not self._code:
                self._send_error(errors.internal("stand-in bug, see its log"))
            self.close_connection = True
        finally:
            api.log("%s %s %d %s %.1fms" % (method, self.path, self._code, verb,
                                            (time.monotonic() - t0) * 1000))

    def _inject(self, status, retry_after):
        if status == 429:
            raise ApiError(429, "TooManyRequests", "Too many requests, please try again later.",
                           retry_after=retry_after, plain=True)
        raise ApiError(status, FAULT_REASONS[status], FAULT_MESSAGES[status], details={},
                       retry_after=retry_after)

    def _authenticate(self, path):
        api = self.server.api
        if not api.cfg.tokens:
            return
        auth = self.headers.get("Authorization") or ""
        if not auth:
            if path in PUBLIC_PATHS:
                return
            raise errors.unauthorized()
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise errors.unauthorized()
        if token in api.cfg.tokens:
            return
        # Service-account tokens issued for the API audience also log in.
        st = api.tokens.review(token, None, self._lookup_sa)
        if not st.get("authenticated"):
            raise errors.unauthorized()

    def _lookup_sa(self, ns, name):
        rt = resources.lookup("", "v1", "serviceaccounts")
        try:
            return self.server.api.store.get(rt, ns, name)
        except ApiError:
            return None

    def _check_accept(self):
        accept = self.headers.get("Accept")
        if accept is None:
            return
        if not any(m in JSON_TYPES for m in _media(accept)):
            raise errors.not_acceptable(["application/json", "application/yaml"])

    # ---- routing of non-resource paths ----

    def _route(self, path):
        segs = [urllib.parse.unquote(s) for s in path.split("/") if s]
        simple = {"/version": self._version, "/api": self._api, "/apis": self._apis,
                  "/openapi/v3": self._openapi_root, "/healthz": self._healthz,
                  "/readyz": self._healthz, "/livez": self._healthz}
        if path.rstrip("/") in simple:
            return simple[path.rstrip("/")]
        if segs[:2] == ["openapi", "v3"]:
            gv = resources.openapi_gv_from_path("/".join(segs[2:]))
            if gv is None:
                raise errors.unknown_resource()
            return lambda method: self._send_json(200, resources.openapi_gv_doc(*gv))
        if segs and segs[0] == "api" and len(segs) >= 2 and segs[1] == "v1":
            gv, rest = ("", "v1"), segs[2:]
        elif segs and segs[0] == "apis" and len(segs) >= 3 and \
                resources.known_group_version(segs[1], segs[2]):
            gv, rest = (segs[1], segs[2]), segs[3:]
        elif segs and segs[0] == "apis" and len(segs) == 2 and resources.api_group(segs[1]):
            return lambda method: self._send_json(200, dict(resources.api_group(segs[1]),
                                                            kind="APIGroup", apiVersion="v1"))
        else:
            return self._not_found_plain
        if not rest:
            return lambda method: self._send_json(200, resources.api_resource_list(*gv))
        return parse_resource_path((gv[0], gv[1], rest))

    def _not_found_plain(self, method):
        # Go's mux answers unknown paths in plain text.
        self._send(404, b"404 page not found\n", "text/plain; charset=utf-8")

    def _version(self, method):
        self._send_json(200, resources.VERSION_INFO)

    def _api(self, method):
        host = self.headers.get("Host") or "127.0.0.1:%d" % self.server.api.port
        self._send_json(200, resources.api_versions(host))

    def _apis(self, method):
        self._send_json(200, resources.api_group_list())

    def _openapi_root(self, method):
        self._send_json(200, resources.openapi_root())

    def _healthz(self, method):
        self._send(200, b"ok", "text/plain; charset=utf-8")

    # ---- admin API ----

    def _admin(self, method, path):
        api = self.server.api
        if path == "/_cmesh/healthz":
            self._send(200, b"ok", "text/plain; charset=utf-8")
        elif path == "/_cmesh/stats" and method == "GET":
            st = api.faults.snapshot()
            st["watches_active"] = api.store.watch_count()
            st["resource_version"] = str(api.store.current_rv())
            st["webhook_calls"] = api.admission.calls
            self._send_json(200, st)
        elif path == "/_cmesh/faults" and method == "POST":
            try:
                cfg = json.loads(self.body or b"{}")
                result = api.faults.configure(cfg, api.store)
            except ValueError as e:
                self._send_json(400, {"error": str(e)})
                return
            api.log("faults: %s -> %s" % (json.dumps(cfg), json.dumps(result)))
            self._send_json(200, dict(result, ok=True))
        elif path == "/_cmesh/faults" and method == "GET":
            self._send_json(200, api.faults.snapshot())
        else:
            self._send(404, b"404 page not found\n", "text/plain; charset=utf-8")

    # ---- resources ----

    def _resource(self, method, verb, route):
        rt = route.rt
        if verb == "other" or (verb not in rt.verbs and route.sub != "token"):
            raise errors.method_not_allowed(verb, rt)
        if route.sub == "token":
            return self._token_request(route)
        if rt.plural == "tokenreviews":
            return self._token_review()
        handler = {"get": self._get, "list": self._list, "watch": self._watch,
                   "create": self._create, "update": self._update, "patch": self._patch,
                   "delete": self._delete, "deletecollection": self._delete_collection}[verb]
        handler(route)

    def _decode_object(self):
        ctype = _media(self.headers.get("Content-Type"))[0]
        if ctype not in BODY_TYPES:
            raise errors.unsupported_media(ctype, list(BODY_TYPES))
        try:
            obj = (json.loads(self.body) if ctype == "application/json"
                   else yaml.safe_load(self.body.decode()))
        except (ValueError, yaml.YAMLError, UnicodeDecodeError) as e:
            raise errors.bad_request("error decoding request body: %s" % e)
        if not isinstance(obj, dict):
            raise errors.bad_request("the request body must be a JSON object")
        return obj

    @staticmethod
    def _check_gvk(rt, obj):
        """Body apiVersion/kind, when given, must name this resource (any
        served version of it: CRD versions convert with `None`)."""
        kind, av = obj.get("kind"), obj.get("apiVersion")
        if kind and kind != rt.kind:
            raise errors.bad_request("the API version in the data (%s) does not match the "
                                     "expected API version (%s)" % (av, rt.group_version)
                                     if av != rt.group_version else
                                     "kind %s does not match the resource %s" % (kind, rt.kind))
        if av:
            group = av.rpartition("/")[0]
            other = resources.lookup(group, av.rpartition("/")[2], rt.plural)
            if group != rt.group or other is None:
                raise errors.bad_request("the API version in the data (%s) does not match the "
                                         "expected API version (%s)" % (av, rt.group_version))

    def _selectors(self, rt):
        return (selectors.parse_label_selector(self.query.get("labelSelector")),
                selectors.parse_field_selector(self.query.get("fieldSelector"), rt.plural))

    def _get(self, route):
        obj = self.server.api.store.get(route.rt, route.ns, route.name)
        self._send_json(200, view(obj, route.rt))

    def _list(self, route):
        api, rt, q = self.server.api, route.rt, self.query
        api.faults.count("lists")
        if q.get("sendInitialEvents"):
            raise errors.invalid_list_options(
                "sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list")
        labels, fields = self._selectors(rt)
        limit = self._int_param("limit", 0)
        items, rv, token, remaining = api.store.list(
            rt, route.ns, labels, fields, q.get("resourceVersion"),
            q.get("resourceVersionMatch"), limit, q.get("continue"))
        md = {"resourceVersion": str(rv)}
        if token:
            md["continue"] = token
            md["remainingItemCount"] = remaining
        self._send_json(200, {"kind": rt.list_kind(), "apiVersion": rt.group_version,
                              "metadata": md, "items": [view(o, rt) for o in items]})

    def _int_param(self, name, default):
        v = self.query.get(name)
        if v in (None, ""):
            return default
        try:
            n = int(v)
            if n < 0:
                raise ValueError
            return n
        except ValueError:
            raise errors.bad_request('invalid %s: "%s"' % (name, v))

    def _create(self, route):
        api, rt = self.server.api, route.rt
        obj = self._decode_object()
        self._check_gvk(rt, obj)
        md = obj.setdefault("metadata", {})
        if not isinstance(md, dict):
            raise errors.bad_request("metadata must be an object")
        if rt.namespaced:
            if md.get("namespace") not in (None, "", route.ns):
                raise errors.bad_request("the namespace of the provided object does not match "
                                         "the namespace sent on the request")
            md["namespace"] = route.ns
        obj["apiVersion"], obj["kind"] = rt.group_version, rt.kind
        obj = api.admission.admit("CREATE", rt, None, route.ns, obj, None)
        if self.query.get("dryRun"):
            self._send_json(201, obj)
            return
        stored = api.store.create(rt, route.ns, obj)
        self._send_json(201, view(stored, rt))

    def _update(self, route):
        api, rt = self.server.api, route.rt
        obj = self._decode_object()
        self._check_gvk(rt, obj)
        old = api.store.get(rt, route.ns, route.name)
        obj.setdefault("metadata", {})
        if rt.namespaced and obj["metadata"].get("namespace") not in (None, "", route.ns):
            raise errors.bad_request("the namespace of the provided object does not match the "
                                     "namespace sent on the request")
        if not route.sub:
            obj = api.admission.admit("UPDATE", rt, None, route.ns, obj, old)
        stored = api.store.update(rt, route.ns, route.name, obj, subresource=route.sub)
        self._send_json(200, view(stored, rt))

    def _patch(self, route):
        api, rt = self.server.api, route.rt
        ctype = _media(self.headers.get("Content-Type"))[0]
        if ctype not in patch.PATCH_TYPES or (ctype == patch.STRATEGIC_PATCH and rt.crd):
            accepted = [t for t in patch.PATCH_TYPES
                        if not (rt.crd and t == patch.STRATEGIC_PATCH)]
            raise errors.unsupported_media(ctype, accepted)
        body = patch.parse_body(ctype, self.body)
        if ctype == patch.APPLY_PATCH and not self.query.get("fieldManager"):
            raise errors.ApiError(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: '
                                  "fieldManager: Required value: is required for apply patch")
        md = body.get("metadata") if isinstance(body, dict) else None
        explicit_rv = md.get("resourceVersion") if isinstance(md, dict) else None
        # Like the real server, retry the read-modify-write a few times when
        # another writer got in between (unless the patch pinned an RV).
        for _ in range(5):
            try:
                old = api.store.get(rt, route.ns, route.name)
            except ApiError as e:
                if ctype == patch.APPLY_PATCH and e.code == 404:
                    return self._apply_create(route, body)
                raise
            new = patch.apply_patch(ctype, copy.deepcopy(view(old, rt)), body)
            if not isinstance(new, dict) or not isinstance(new.get("metadata"), dict):
                raise errors.bad_request("the patch produced an object without metadata")
            want = new["metadata"].get("resourceVersion") or old["metadata"]["resourceVersion"]
            if not route.sub:
                new = api.admission.admit("UPDATE", rt, None, route.ns, new, old)
            try:
                stored = api.store.update(rt, route.ns, route.name, new, expect_rv=want,
                                          subresource=route.sub)
            except ApiError as e:
                if e.reason == "Conflict" and not explicit_rv:
                    continue
                raise
            self._send_json(200, view(stored, rt))
            return
        raise errors.conflict(rt, route.name)

    def _apply_create(self, route, body):
        api, rt = self.server.api, route.rt
        if not isinstance(body, dict):
            raise errors.bad_request("apply patch must be an object")
        obj = copy.deepcopy(body)
        md = obj.setdefault("metadata", {})
        if md.get("name") not in (None, route.name):
            raise errors.bad_request("the name of the object (%s) does not match the name on "
                                     "the URL (%s)" % (md.get("name"), route.name))
        md["name"] = route.name
        obj = api.admission.admit("CREATE", rt, None, route.ns, obj, None)
        stored = api.store.create(rt, route.ns, obj)
        self._send_json(201, view(stored, rt))

    def _delete_options(self):
        if not self.body:
            return {}
        try:
            opts = json.loads(self.body)
        except ValueError as e:
            raise errors.bad_request("error decoding DeleteOptions: %s" % e)
        return opts if isinstance(opts, dict) else {}

    def _delete(self, route):
        pre = self._delete_options().get("preconditions") or {}
        gone = self.server.api.store.delete(route.rt, route.ns, route.name,
                                            pre.get("uid"), pre.get("resourceVersion"))
        self._send_json(200, view(gone, route.rt))

    def _delete_collection(self, route):
        api, rt = self.server.api, route.rt
        labels, fields = self._selectors(rt)
        items, _, _, _ = api.store.list(rt, route.ns, labels, fields)
        gone = []
        for o in items:
            try:
                gone.append(api.store.delete(rt, o["metadata"].get("namespace"),
                                             o["metadata"]["name"]))
            except ApiError:
                pass   # deleted meanwhile
        self._send_json(200, {"kind": rt.list_kind(), "apiVersion": rt.group_version,
                              "metadata": {"resourceVersion": str(api.store.current_rv())},
                              "items": [view(o, rt) for o in gone]})

    # ---- tokens ----

    def _token_request(self, route):
        api = self.server.api
        req = self._decode_object()
        sa = api.store.get(route.rt, route.ns, route.name)
        spec = req.get("spec") or {}
        exp = int(spec.get("expirationSeconds") or DEFAULT_EXPIRATION)
        if exp < MIN_EXPIRATION:
            raise errors.invalid("TokenRequest", route.name, "spec.expirationSeconds",
                                 "may not specify a duration less than 10 minutes",
                                 "authentication.k8s.io")
        bound = spec.get("boundObjectRef")
        if bound and bound.get("kind") == "Pod":
            pod = api.store.get(resources.lookup("", "v1", "pods"), route.ns, bound.get("name"))
            if bound.get("uid") and bound["uid"] != pod["metadata"]["uid"]:
                raise errors.conflict(resources.lookup("", "v1", "pods"), bound.get("name"))
            bound = dict(bound, uid=pod["metadata"]["uid"])
        token, expiry = api.tokens.issue(route.ns, sa, spec.get("audiences"), exp, bound)
        out_spec = dict(spec, expirationSeconds=exp,
                        audiences=list(spec.get("audiences") or api.tokens.api_audiences))
        if bound:
            out_spec["boundObjectRef"] = bound
        self._send_json(201, {
            "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": route.name, "namespace": route.ns,
                         "creationTimestamp": now_rfc3339()},
            "spec": out_spec,
            "status": {"token": token, "expirationTimestamp":
                       time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expiry))}})

    def _token_review(self):
        api = self.server.api
        req = self._decode_object()
        spec = req.get("spec") or {}
        if not isinstance(spec.get("token"), str) or not spec["token"]:
            raise errors.invalid("TokenReview", "", "spec.token", "Required value")
        st = api.tokens.review(spec["token"], spec.get("audiences"), self._lookup_sa)
        out = {"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
               "metadata": dict(req.get("metadata") or {}, creationTimestamp=None),
               "spec": spec, "status": st}
        self._send_json(201, out)

    # ---- watch ----

    def _watch(self, route):
        api, rt, q = self.server.api, route.rt, self.query
        sie_text = q.get("sendInitialEvents")
        match = q.get("resourceVersionMatch")
        if sie_text is not None and sie_text not in ("true", "false", "1", "0"):
            raise errors.bad_request('invalid sendInitialEvents: "%s"' % sie_text)
        send_initial = sie_text in ("true", "1")
        if sie_text is not None and match != "NotOlderThan":
            raise errors.invalid_list_options(
                "resourceVersionMatch: Forbidden: sendInitialEvents requires setting "
                "resourceVersionMatch to NotOlderThan")
        if sie_text is None and match:
            raise errors.invalid_list_options(
                "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch "
                "unless sendInitialEvents is provided")
        labels, fields = self._selectors(rt)
        timeout = self._int_param("timeoutSeconds", 0) or random.uniform(*DEFAULT_WATCH_TIMEOUT)
        bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
        rv_text = q.get("resourceVersion") or ""
        if send_initial:
            initial, rv = True, parse_rv(rv_text) if rv_text not in ("", "0") else None
        elif rv_text in ("", "0"):
            initial, rv = True, None
        elif sie_text is not None:
            # sendInitialEvents=false + NotOlderThan: plain watch from rv.
            initial, rv = False, parse_rv(rv_text)
        else:
            initial, rv = False, parse_rv(rv_text)
        try:
            w, first, start_rv = api.store.open_watch(rt, route.ns, labels, fields, rv, initial)
        except ApiError as e:
            if e.code != 410:
                raise
            api.faults.count("gone_410")
            if api.faults.watch_410 == "http":
                raise
            # Real servers: 200, one ERROR event with the Status, end (§1.4).
            self._start_stream()
            self._chunk({"type": "ERROR", "object": e.status()})
            self._end_stream()
            return
        api.faults.count("watches_opened")
        try:
            self._stream(w, rt, first, start_rv, send_initial, bookmarks, timeout)
        finally:
            api.store.close_watch(w)

    def _start_stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.end_headers()
        self._code = 200

    def _chunk(self, event):
        data = (json.dumps(event, separators=(",", ":")) + "\n").encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _end_stream(self):
        self.wfile.write(b"0\r\n\r\n")

    def _bookmark(self, rt, rv, initial_end=False):
        md = {"resourceVersion": str(rv)}
        if initial_end:
            md["annotations"] = {"k8s.io/initial-events-end": "true"}
        self._chunk({"type": "BOOKMARK", "object": {"kind": rt.kind,
                                                    "apiVersion": rt.group_version,
                                                    "metadata": md}})

    def _client_gone(self):
        """True when the client closed (or sent anything: nothing is expected
        from a client during a watch, and TLS close_notify arrives as data)."""
        try:
            r, _, _ = select.select([self.connection], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(r)

    def _stream(self, w, rt, first, start_rv, send_initial, bookmarks, timeout):
        api = self.server.api
        self._start_stream()
        for etype, obj in first:
            self._chunk({"type": etype, "object": view(obj, rt)})
        if send_initial:
            self._bookmark(rt, start_rv, initial_end=True)
        now = time.monotonic()
        deadline = now + timeout
        interval = max(0.05, float(api.cfg.bookmark_interval))
        next_bookmark = now + interval
        safe_rv = start_rv
        while True:
            now = time.monotonic()
            if now >= deadline:
                # Drain first: safe_rv covers only what was taken from the
                # queue, and a watch from an RV starts with the history
                # backlog queued, so a deadline reached before the first
                # drain would otherwise bookmark past undelivered events.
                events, safe_rv, _ = api.store.next_events(w, 0)
                for etype, obj in events:
                    self._chunk({"type": etype, "object": view(obj, rt)})
                if bookmarks:
                    self._bookmark(rt, safe_rv)
                self._end_stream()
                return
            until = min(deadline, next_bookmark) if bookmarks else deadline
            events, safe_rv, dropped = api.store.next_events(
                w, max(0.0, min(until - now, WATCH_POLL_SECONDS)))
            for etype, obj in events:
                self._chunk({"type": etype, "object": view(obj, rt)})
            if dropped == "cut":
                # Simulates a load balancer or crash cutting the stream: no
                # terminating chunk, just a closed connection.
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if dropped == "clean":
                self._end_stream()
                return
            if bookmarks and time.monotonic() >= next_bookmark:
                self._bookmark(rt, safe_rv)
                next_bookmark = time.monotonic() + interval
            if self._client_gone():
                self.close_connection = True
                return


def run(cfg, port_file=None, objects_dir=None, kubeconfig_out=None, kubeconfig_ca=None):
    """Starts a server, writes the port file and serves until SIGTERM/SIGINT."""
    import signal
    api = ApiServer(cfg)
    if objects_dir:
        api.load_objects(objects_dir)
    if kubeconfig_out:
        api.write_kubeconfig(kubeconfig_out, kubeconfig_ca)
    if port_file:
        tmp = port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % api.port)
        os.replace(tmp, port_file)

    def stop(signum, frame):
        threading.Thread(target=api.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    api.log("listening on %s" % api.url)
    sys.stderr.write("kubeapi: listening on %s\n" % api.url)
    api.serve_forever()
    return 0

"""Mutating admission webhooks (kubernetes-api.md §6.3-6.6).

Before a CREATE or UPDATE is stored, every MutatingWebhookConfiguration
(sorted by name, webhooks in list order) whose rules, namespaceSelector and
objectSelector match is called over HTTPS, serially, and its JSONPatch is
applied to the object. This is the path an injector takes in a cluster, so
cmesh's webhook can be tested end to end without one.

Runs without the store lock: a webhook may call back into the API server.

`clientConfig.service` references need a real address: the server maps
NAMESPACE/NAME to HOST:PORT (--webhook-service), connects there and still
verifies the certificate for `<name>.<namespace>.svc`, as the real apiserver
does.
"""
import base64
import binascii
import http.client
import json
import socket
import ssl
import urllib.parse
import uuid

import jsonpatch

from . import errors, selectors

DEFAULT_TIMEOUT_SECONDS = 10
MAX_TIMEOUT_SECONDS = 30
MAX_RESPONSE_BYTES = 3 * 1024 * 1024
REVIEW_API_VERSION = "admission.k8s.io/v1"
STANDIN_USER = {"username": "system:admin", "uid": "", "groups": ["system:masters",
                                                                  "system:authenticated"]}
# The real server never sends its own webhook configurations to webhooks, so
# a broken webhook can always be removed.
EXEMPT_GROUPS = ("admissionregistration.k8s.io",)


class CallFailure(Exception):
    """The webhook could not be called or answered badly (subject to failurePolicy)."""


class Admission:
    def __init__(self, store, mwc_type, service_addrs=None, log=None):
        self.store = store
        self.mwc_type = mwc_type
        self.service_addrs = dict(service_addrs or {})   # (ns, name) -> (host, port)
        self.log = log or (lambda msg: None)
        self.calls = 0

    @staticmethod
    def parse_service_mapping(spec):
        """--webhook-service NAMESPACE/NAME=HOST:PORT"""
        left, sep, right = spec.partition("=")
        ns, slash, name = left.partition("/")
        host, colon, port = right.rpartition(":")
        if not (sep and slash and colon and ns and name and host and port.isdigit()):
            raise ValueError("--webhook-service wants NAMESPACE/NAME=HOST:PORT, got %r" % spec)
        return (ns, name), (host.strip("[]"), int(port))

    # ---- matching ----

    @staticmethod
    def _rule_matches(rule, operation, rt, subresource):
        ops = rule.get("operations") or []
        if "*" not in ops and operation not in ops:
            return False
        if not _in_or_star(rt.group, rule.get("apiGroups")):
            return False
        if not _in_or_star(rt.version, rule.get("apiVersions")):
            return False
        want = rt.plural + ("/" + subresource if subresource else "")
        ok = False
        for r in rule.get("resources") or []:
            if r in (want, "*/*") or (r == "*" and not subresource) or \
               (r == rt.plural + "/*" and subresource):
                ok = True
        if not ok:
            return False
        scope = rule.get("scope") or "*"
        return scope == "*" or (scope == "Namespaced") == rt.namespaced

    def _matches(self, hook, operation, rt, subresource, ns, obj, old):
        if not any(self._rule_matches(r, operation, rt, subresource)
                   for r in hook.get("rules") or []):
            return False
        try:
            ns_reqs = selectors.from_label_selector_object(hook.get("namespaceSelector"))
            obj_reqs = selectors.from_label_selector_object(hook.get("objectSelector"))
        except ValueError:
            return False
        if rt.namespaced:
            labels = self.store.namespace_labels(ns) or {}
            if not selectors.matches(ns_reqs, labels):
                return False
        elif rt.plural == "namespaces" and rt.group == "":
            if not selectors.matches(ns_reqs, (obj.get("metadata") or {}).get("labels")):
                return False
        # objectSelector: the new or the old object may match (§6.6).
        if obj_reqs:
            cands = [o for o in (obj, old) if o is not None]
            if not any(selectors.matches(obj_reqs, (o.get("metadata") or {}).get("labels"))
                       for o in cands):
                return False
        return True

    # ---- the call ----

    def _connect(self, cc, timeout):
        """Returns (HTTPConnection over TLS, request path)."""
        ca = cc.get("caBundle")
        try:
            cadata = base64.b64decode(ca).decode() if ca else None
            ctx = ssl.create_default_context(cadata=cadata)
        except (ValueError, binascii.Error, ssl.SSLError) as e:
            raise CallFailure("bad caBundle: %s" % e)
        ctx.set_alpn_protocols(["http/1.1"])
        if cc.get("url"):
            u = urllib.parse.urlsplit(cc["url"])
            if u.scheme != "https" or not u.hostname or u.query or u.fragment:
                raise CallFailure("webhook url must be https with no query or fragment: %s"
                                  % cc["url"])
            host, port, sni, path = u.hostname, u.port or 443, u.hostname, u.path or "/"
        elif cc.get("service"):
            svc = cc["service"]
            key = (svc.get("namespace"), svc.get("name"))
            if key not in self.service_addrs:
                raise CallFailure('service "%s/%s" has no address (start the stand-in with '
                                  "--webhook-service %s/%s=HOST:PORT)" % (key + key))
            host, port = self.service_addrs[key]
            sni, path = "%s.%s.svc" % (key[1], key[0]), svc.get("path") or "/"
        else:
            raise CallFailure("clientConfig has neither url nor service")
        try:
            raw = socket.create_connection((host, port), timeout=timeout)
        except OSError as e:
            raise CallFailure("Post %s: dial tcp %s:%d: %s" % (path, host, port, e))
        try:
            tls = ctx.wrap_socket(raw, server_hostname=sni)
        except (ssl.SSLError, ssl.CertificateError, OSError) as e:
            raw.close()
            raise CallFailure("tls: %s" % e)
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        conn.sock = tls
        return conn, path

    def _call(self, hook, review, timeout):
        conn, path = self._connect(hook.get("clientConfig") or {}, timeout)
        try:
            body = json.dumps(review).encode()
            conn.request("POST", "%s?timeout=%ds" % (path, timeout), body,
                         {"Content-Type": "application/json", "Accept": "application/json, */*"})
            resp = conn.getresponse()
            data = resp.read(MAX_RESPONSE_BYTES + 1)
        except (OSError, http.client.HTTPException) as e:
            raise CallFailure("%s" % (e or type(e).__name__))
        finally:
            conn.close()
        if resp.status != 200:
            raise CallFailure("expected response code 200, got %d" % resp.status)
        if len(data) > MAX_RESPONSE_BYTES:
            raise CallFailure("response too large")
        try:
            out = json.loads(data)
        except ValueError as e:
            raise CallFailure("bad response body: %s" % e)
        r = out.get("response") if isinstance(out, dict) else None
        if out.get("apiVersion") != REVIEW_API_VERSION or out.get("kind") != "AdmissionReview":
            raise CallFailure("expected webhook response of admission.k8s.io/v1, "
                              "Kind=AdmissionReview, got %s, Kind=%s"
                              % (out.get("apiVersion"), out.get("kind")))
        if not isinstance(r, dict):
            raise CallFailure("webhook response was absent")
        if r.get("uid") != review["request"]["uid"]:
            raise CallFailure("expected response.uid=%s, got %s"
                              % (review["request"]["uid"], r.get("uid")))
        if ("patch" in r) != ("patchType" in r):
            raise CallFailure("webhook returned patch without patchType or the reverse")
        if "patchType" in r and r["patchType"] != "JSONPatch":
            raise CallFailure("unsupported patchType %r" % r["patchType"])
        return r

    def admit(self, operation, rt, subresource, ns, obj, old, user=None):
        """Runs the matching webhooks; returns the (possibly patched) object.
        Raises ApiError when a webhook denies or fails closed."""
        if rt.group in EXEMPT_GROUPS:
            return obj
        configs = sorted(self.store.all_objects(self.mwc_type.storage_key),
                         key=lambda c: c["metadata"]["name"])
        for cfg in configs:
            for hook in cfg.get("webhooks") or []:
                if not self._matches(hook, operation, rt, subresource, ns, obj, old):
                    continue
                obj = self._run_one(hook, operation, rt, subresource, ns, obj, old, user)
        return obj

    def _run_one(self, hook, operation, rt, subresource, ns, obj, old, user):
        name = hook.get("name", "")
        timeout = int(hook.get("timeoutSeconds") or DEFAULT_TIMEOUT_SECONDS)
        timeout = max(1, min(MAX_TIMEOUT_SECONDS, timeout))
        policy = hook.get("failurePolicy") or "Fail"
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        gvr = {"group": rt.group, "version": rt.version, "resource": rt.plural}
        req = {"uid": str(uuid.uuid4()), "kind": gvk, "resource": gvr,
               "requestKind": gvk, "requestResource": gvr,
               "name": (obj.get("metadata") or {}).get("name", ""),
               "namespace": ns if rt.namespaced else "",
               "operation": operation, "userInfo": user or STANDIN_USER,
               "object": obj, "oldObject": old, "dryRun": False,
               "options": {"apiVersion": "meta.k8s.io/v1",
                           "kind": "CreateOptions" if operation == "CREATE" else "UpdateOptions"}}
        if subresource:
            req["subResource"] = req["requestSubResource"] = subresource
        review = {"apiVersion": REVIEW_API_VERSION, "kind": "AdmissionReview", "request": req}
        self.calls += 1
        try:
            resp = self._call(hook, review, timeout)
            if resp.get("patch"):
                ops = json.loads(base64.b64decode(resp["patch"]))
                patch = jsonpatch.JsonPatch(ops)
        except (CallFailure, ValueError, binascii.Error, jsonpatch.InvalidJsonPatch) as e:
            self.log('webhook "%s" call failed (failurePolicy %s): %s' % (name, policy, e))
            if policy == "Ignore":
                return obj
            raise errors.internal('failed calling webhook "%s": %s' % (name, e))
        if not resp.get("allowed"):
            st = resp.get("status") or {}
            code = int(st.get("code") or 400)
            code = code if code >= 400 else 400
            msg = st.get("message") or st.get("reason")
            raise errors.ApiError(code, st.get("reason") or "",
                                  'admission webhook "%s" denied the request%s'
                                  % (name, ": " + msg if msg else " without explanation"))
        if not resp.get("patch"):
            return obj
        try:
            # A patch that parses but cannot be applied fails the request
            # whatever the failurePolicy (§6.4).
            return patch.apply(obj)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException,
                KeyError, IndexError, TypeError) as e:
            raise errors.internal('failed to apply patch from webhook "%s": %s' % (name, e))


def _in_or_star(value, allowed):
    allowed = allowed or []
    return "*" in allowed or value in allowed

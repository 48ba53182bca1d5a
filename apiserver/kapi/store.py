"""Object storage, the global resourceVersion, the bounded event history and
the watchers.

Everything sits behind one lock (a Condition): the stand-in serves tests,
not load, and one lock makes "list at RV N, then watch from N" trivially
consistent, like etcd's single revision (kubernetes-api.md §1.1).

Stored objects are never mutated in place. Every change stores a fresh dict,
so history entries and lists can share them; callers serialize them (or copy
them) before changing anything.
"""
import base64
import binascii
import collections
import copy
import ipaddress
import json
import random
import threading
import time
import uuid

from . import errors, selectors

DEFAULT_HISTORY = 1000
# How long a request for a resourceVersion from the future waits before the
# 504 "Too large resource version" (apiserver blockTimeout, §1.2).
TOO_LARGE_RV_WAIT = 3.0
GENERATE_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
GENERATE_NAME_SUFFIX = 5
GENERATE_NAME_PREFIX_MAX = 58
GENERATE_NAME_TRIES = 8
MAX_NAME_LEN = 253
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
# Service VIPs come from the default service CIDR 10.96.0.0/12.
SERVICE_IP_BASE = (10 << 24) | (96 << 16)
SERVICE_IP_FIRST_HOST = 10
# Addresses in 10.96.0.0/12.
SERVICE_IP_RANGE_SIZE = 1 << 20

Event = collections.namedtuple("Event", "rv type key ns obj old")


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def meta(obj):
    return obj.get("metadata") or {}


def obj_rv(obj):
    return int(meta(obj).get("resourceVersion") or 0)


def parse_rv(text, what="resourceVersion"):
    """Non-negative integer RV; ApiError 400 otherwise."""
    try:
        v = int(text)
        if v < 0 or str(v) != text:
            raise ValueError
        return v
    except (TypeError, ValueError):
        raise errors.bad_request('invalid %s: "%s"' % (what, text))


class Watcher:
    """One open watch. Events are pushed by Store._emit under the store lock."""

    def __init__(self, rt, namespace, label_reqs, field_reqs):
        self.rt = rt
        self.namespace = namespace
        self.label_reqs = label_reqs
        self.field_reqs = field_reqs
        self.queue = collections.deque()
        # None while open; "cut" (close the TCP connection) or "clean" (send
        # the terminating chunk) once a fault or shutdown ends it.
        self.dropped = None

    def _matches(self, obj):
        if obj is None:
            return False
        if self.namespace is not None and meta(obj).get("namespace") != self.namespace:
            return False
        return (selectors.matches(self.label_reqs, meta(obj).get("labels"))
                and selectors.fields_match(self.field_reqs, obj))

    def translate(self, ev):
        """The event this watcher sees, or None. A MODIFIED that moves an
        object into or out of the selector becomes ADDED or DELETED (§2.2)."""
        if ev.key != self.rt.storage_key:
            return None
        new_ok = self._matches(ev.obj)
        if ev.type == "MODIFIED":
            old_ok = self._matches(ev.old)
            if new_ok and old_ok:
                return ("MODIFIED", ev.obj)
            if new_ok:
                return ("ADDED", ev.obj)
            if old_ok:
                return ("DELETED", ev.obj)
            return None
        return (ev.type, ev.obj) if new_ok else None


class Store:
    def __init__(self, history=DEFAULT_HISTORY):
        self.cond = threading.Condition()
        self.rv = 0
        self.buckets = collections.defaultdict(dict)   # (group, plural) -> {(ns, name): obj}
        self.history = collections.deque()
        self.history_max = max(1, history)
        # Every event with rv > floor is still in self.history; a watch or an
        # exact list from an RV below floor gets 410 Expired.
        self.floor = 0
        self.watchers = set()
        self.next_service_ip = SERVICE_IP_FIRST_HOST
        # Hooks set by the server: called under the lock after a namespace is
        # created (to add its default ServiceAccount).
        self.on_namespace_created = None

    # ---- helpers (call with the lock held) ----

    def _bump(self):
        self.rv += 1
        return self.rv

    def _emit(self, etype, rt, obj, old):
        ev = Event(self.rv, etype, rt.storage_key, meta(obj).get("namespace"), obj, old)
        self.history.append(ev)
        while len(self.history) > self.history_max:
            self.floor = self.history.popleft().rv
        for w in self.watchers:
            t = w.translate(ev)
            if t is not None:
                w.queue.append(t)
        self.cond.notify_all()

    def _wait_for_rv(self, rv):
        """Blocks (lock held, released while waiting) until self.rv >= rv."""
        deadline = time.monotonic() + TOO_LARGE_RV_WAIT
        while self.rv < rv:
            left = deadline - time.monotonic()
            if left <= 0:
                raise errors.too_large_rv(rv, self.rv)
            self.cond.wait(left)

    def _check_namespace(self, rt, ns):
        if rt.namespaced and ("", ns) not in self.buckets[("", "namespaces")]:
            # NamespaceLifecycle admission: writes into a missing namespace fail.
            raise errors.ApiError(404, "NotFound", 'namespaces "%s" not found' % ns,
                                  {"name": ns, "kind": "namespaces"})

    def _service_ips_in_use(self):
        """{ip: (ns, name)} of every Service's cluster IPs (lock held)."""
        used = {}
        for key, svc in self.buckets[("", "services")].items():
            spec = svc.get("spec") or {}
            for ip in (spec.get("clusterIPs") or []) + [spec.get("clusterIP")]:
                if isinstance(ip, str) and ip not in ("", "None"):
                    used[ip] = key
        return used

    def _allocate_service_ip(self, used):
        """The next free address of the range; like the real allocator, it
        never hands out one a Service holds (requested or allocated)."""
        for _ in range(SERVICE_IP_RANGE_SIZE):
            if self.next_service_ip >= SERVICE_IP_RANGE_SIZE - 1:
                self.next_service_ip = SERVICE_IP_FIRST_HOST
            n = SERVICE_IP_BASE + self.next_service_ip
            self.next_service_ip += 1
            ip = "%d.%d.%d.%d" % (n >> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255)
            if ip not in used:
                return ip
        raise errors.ApiError(500, "InternalError",
                              "Internal error occurred: failed to allocate a serviceIP: range is full")

    def _service_cluster_ip(self, obj, old_spec):
        """Validates a requested cluster IP, or allocates one (lock held)."""
        spec, m = obj["spec"], obj["metadata"]
        me = (m.get("namespace", ""), m.get("name", ""))
        used = self._service_ips_in_use()
        want = spec.get("clusterIP") or old_spec.get("clusterIP")
        if not want:
            spec["clusterIP"] = self._allocate_service_ip(used)
            return
        spec["clusterIP"] = want
        if want == "None":
            return
        try:
            ipaddress.ip_address(want)
        except ValueError:
            raise errors.invalid("Service", me[1], "spec.clusterIPs[0]",
                                 'Invalid value: "%s": must be a valid IP address, '
                                 "(e.g. 10.9.8.7 or 2001:db8::ffff)" % want)
        if used.get(want, me) != me:
            raise errors.invalid("Service", me[1], "spec.clusterIPs",
                                 'Invalid value: []string{"%s"}: failed to allocate IP %s: '
                                 "provided IP is already allocated" % (want, want))

    def _defaults(self, rt, obj, old):
        """Server-side defaults the real API fills in and cmesh relies on."""
        m = obj["metadata"]
        if rt.plural == "namespaces" and rt.group == "":
            m.setdefault("labels", {})[NAMESPACE_NAME_LABEL] = m["name"]
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            obj.setdefault("status", {}).setdefault("phase", "Active")
        if rt.plural == "services" and rt.group == "":
            spec = obj.setdefault("spec", {})
            stype = spec.setdefault("type", "ClusterIP")
            old_spec = (old or {}).get("spec") or {}
            if stype != "ExternalName":
                self._service_cluster_ip(obj, old_spec)
                spec.setdefault("clusterIPs", [spec["clusterIP"]])
                if spec["clusterIP"] != "None":
                    spec.setdefault("ipFamilies", ["IPv4"])
                spec.setdefault("sessionAffinity", "None")
            for p in spec.get("ports") or []:
                if isinstance(p, dict):
                    p.setdefault("protocol", "TCP")
                    if "port" in p:
                        p.setdefault("targetPort", p["port"])

    def _validate_meta(self, rt, obj, ns):
        if not isinstance(obj, dict) or not isinstance(obj.get("metadata", {}), dict):
            raise errors.bad_request("the body must be a JSON object with object metadata")
        m = obj.setdefault("metadata", {})
        if rt.namespaced:
            if m.get("namespace") not in (None, "", ns):
                raise errors.bad_request("the namespace of the provided object does not match "
                                         "the namespace sent on the request")
            m["namespace"] = ns
        else:
            m.pop("namespace", None)
        labels = m.get("labels")
        if labels is not None and (not isinstance(labels, dict) or
                                   not all(isinstance(v, str) for v in labels.values())):
            raise errors.invalid(rt.kind, m.get("name", ""), "metadata.labels",
                                 "labels must be a map of strings")

    @staticmethod
    def _check_name(rt, name):
        if (not name or len(name) > MAX_NAME_LEN or "/" in name or "%" in name
                or name in (".", "..")):
            raise errors.invalid(rt.kind, name or "", "metadata.name",
                                 'Invalid value: "%s": a valid name is required' % (name or ""))

    # ---- reads ----

    def get(self, rt, ns, name):
        with self.cond:
            obj = self.buckets[rt.storage_key].get((ns if rt.namespaced else "", name))
            if obj is None:
                raise errors.not_found(rt, name)
            return obj

    def namespace_labels(self, ns):
        with self.cond:
            obj = self.buckets[("", "namespaces")].get(("", ns))
            return dict(meta(obj).get("labels") or {}) if obj else None

    def all_objects(self, key):
        with self.cond:
            return list(self.buckets[key].values())

    def _snapshot(self, key, at_rv, expired_message):
        """{(ns,name): obj} as of at_rv, rebuilt by undoing later events."""
        if at_rv < self.floor:
            raise errors.expired(expired_message)
        self._wait_for_rv(at_rv)
        snap = dict(self.buckets[key])
        for ev in reversed(self.history):
            if ev.rv <= at_rv:
                break
            if ev.key != key:
                continue
            k = (ev.ns or "", meta(ev.obj)["name"])
            if ev.type == "ADDED":
                snap.pop(k, None)
            else:
                snap[k] = ev.old
        return snap

    def list(self, rt, ns, label_reqs, field_reqs, rv=None, match=None, limit=0,
             cont=None):
        """Returns (items, list_rv, continue_token, remaining). See §1.2 and §1.8."""
        if match not in (None, "", "NotOlderThan", "Exact"):
            raise errors.invalid_list_options(
                'resourceVersionMatch: Unsupported value: "%s"' % match)
        if match and not rv:
            raise errors.invalid_list_options(
                "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden "
                "unless resourceVersion is provided")
        if match and cont:
            raise errors.invalid_list_options(
                "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when "
                "continue is provided")
        if match == "Exact" and rv == "0":
            raise errors.invalid_list_options(
                'resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden '
                'for resourceVersion "0"')
        start_after = None
        with self.cond:
            if cont:
                at_rv, start_after = self._decode_continue(cont)
                if at_rv < self.floor:
                    raise errors.ApiError(
                        410, "Expired",
                        "The provided continue parameter is too old to display a consistent "
                        "list result. You can start a new list without the continue "
                        "parameter.")
                snap = self._snapshot(rt.storage_key, at_rv, "")
            elif rv and rv != "0" and (match == "Exact" or (not match and limit)):
                at_rv = parse_rv(rv)
                snap = self._snapshot(rt.storage_key, at_rv,
                                      "The resourceVersion for the provided list is too old.")
            else:
                if rv and rv != "0":
                    self._wait_for_rv(parse_rv(rv))
                at_rv = self.rv
                snap = self.buckets[rt.storage_key]
            items = []
            for k in sorted(snap):
                obj = snap[k]
                if ns is not None and k[0] != ns:
                    continue
                if start_after is not None and list(k) <= start_after:
                    continue
                if not selectors.matches(label_reqs, meta(obj).get("labels")):
                    continue
                if not selectors.fields_match(field_reqs, obj):
                    continue
                items.append((k, obj))
        token, remaining = None, 0
        if limit and len(items) > limit:
            remaining = len(items) - limit
            items = items[:limit]
            token = self._encode_continue(at_rv, items[-1][0])
        return [o for _, o in items], at_rv, token, remaining

    @staticmethod
    def _encode_continue(rv, key):
        raw = json.dumps({"rv": rv, "start": list(key)}).encode()
        return base64.urlsafe_b64encode(raw).decode()

    @staticmethod
    def _decode_continue(token):
        try:
            d = json.loads(base64.urlsafe_b64decode(token.encode()))
            return int(d["rv"]), list(d["start"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise errors.bad_request("continue key is not valid: %r" % token)

    # ---- writes ----

    def create(self, rt, ns, obj):
        """Stores a new object (obj is owned by the store afterwards)."""
        ns = ns if rt.namespaced else ""
        self._validate_meta(rt, obj, ns)
        m = obj["metadata"]
        obj["apiVersion"] = rt.group_version
        obj["kind"] = rt.kind
        with self.cond:
            self._check_namespace(rt, ns)
            bucket = self.buckets[rt.storage_key]
            if not m.get("name"):
                prefix = m.get("generateName")
                if not prefix:
                    raise errors.invalid(rt.kind, "", "metadata.name",
                                         "Required value: name or generateName is required")
                for _ in range(GENERATE_NAME_TRIES):
                    cand = prefix[:GENERATE_NAME_PREFIX_MAX] + "".join(
                        random.choice(GENERATE_NAME_ALPHABET) for _ in range(GENERATE_NAME_SUFFIX))
                    if (ns, cand) not in bucket:
                        m["name"] = cand
                        break
                else:
                    raise errors.already_exists(
                        rt, prefix, '%s "%s" already exists, the server was not able to generate '
                        "a unique name for the object" % (rt.qualified(), prefix), retry_after=1)
            self._check_name(rt, m["name"])
            if (ns, m["name"]) in bucket:
                raise errors.already_exists(rt, m["name"])
            m["uid"] = str(uuid.uuid4())
            m["creationTimestamp"] = now_rfc3339()
            m["generation"] = 1
            for k in ("resourceVersion", "deletionTimestamp", "managedFields"):
                m.pop(k, None)
            self._defaults(rt, obj, None)
            m["resourceVersion"] = str(self._bump())
            obj = _canonical(obj)
            bucket[(ns, m["name"])] = obj
            self._emit("ADDED", rt, obj, None)
            if rt.storage_key == ("", "namespaces") and self.on_namespace_created:
                self.on_namespace_created(self, m["name"])
            return obj

    def update(self, rt, ns, name, obj, expect_rv=None, subresource=None):
        """Replaces an object. expect_rv (string) is the optimistic-lock
        precondition; a body RV that differs from the stored one is a 409."""
        ns = ns if rt.namespaced else ""
        self._validate_meta(rt, obj, ns)
        m = obj["metadata"]
        if m.get("name") not in (None, "", name):
            raise errors.bad_request("the name of the object (%s) does not match the name on "
                                     "the URL (%s)" % (m.get("name"), name))
        m["name"] = name
        obj["apiVersion"] = rt.group_version
        obj["kind"] = rt.kind
        with self.cond:
            bucket = self.buckets[rt.storage_key]
            old = bucket.get((ns, name))
            if old is None:
                raise errors.not_found(rt, name)
            want = expect_rv if expect_rv is not None else m.get("resourceVersion")
            if want and want != meta(old).get("resourceVersion"):
                raise errors.conflict(rt, name)
            if subresource == "status":
                # Only .status changes through the status subresource.
                new = copy.deepcopy(old)
                new["status"] = obj.get("status")
                obj, m = new, new["metadata"]
            elif "status" in old and "status" not in obj and rt.plural != "namespaces":
                obj["status"] = copy.deepcopy(old["status"])
            om = meta(old)
            for k in ("uid", "creationTimestamp", "generation"):
                if k in om:
                    m[k] = om[k]
            if obj.get("spec") != old.get("spec"):
                m["generation"] = int(om.get("generation") or 1) + 1
            self._defaults(rt, obj, old)
            if obj == old or _same_but_rv(obj, old):
                # No-op updates do not bump the RV or emit events (etcd
                # would not see a change either).
                return old
            m["resourceVersion"] = str(self._bump())
            obj = _canonical(obj)
            bucket[(ns, name)] = obj
            self._emit("MODIFIED", rt, obj, old)
            return obj

    def delete(self, rt, ns, name, expect_uid=None, expect_rv=None):
        ns = ns if rt.namespaced else ""
        with self.cond:
            bucket = self.buckets[rt.storage_key]
            old = bucket.get((ns, name))
            if old is None:
                raise errors.not_found(rt, name)
            if expect_uid and expect_uid != meta(old).get("uid"):
                raise errors.conflict(rt, name)
            if expect_rv and expect_rv != meta(old).get("resourceVersion"):
                raise errors.conflict(rt, name)
            return self._delete_locked(rt, ns, name)

    def _delete_locked(self, rt, ns, name):
        bucket = self.buckets[rt.storage_key]
        old = bucket.pop((ns, name))
        gone = copy.deepcopy(old)
        gone["metadata"]["resourceVersion"] = str(self._bump())
        self._emit("DELETED", rt, gone, old)
        if rt.storage_key == ("", "namespaces"):
            # Namespace deletion is immediate here and takes its contents.
            from . import resources
            for key, objs in list(self.buckets.items()):
                for (ons, oname) in sorted(k for k in objs if k[0] == name):
                    self._delete_locked(resources.preferred(*key), ons, oname)
        return gone

    # ---- history and watches ----

    def compact(self):
        """Drops the history: any watch or exact list from an older RV gets 410."""
        with self.cond:
            self.history.clear()
            self.floor = self.rv

    def drop_watches(self, mode="cut"):
        with self.cond:
            n = 0
            for w in self.watchers:
                if w.dropped is None:
                    w.dropped = mode
                    n += 1
            self.cond.notify_all()
            return n

    def current_rv(self):
        with self.cond:
            return self.rv

    def open_watch(self, rt, ns, label_reqs, field_reqs, rv, initial_snapshot):
        """Registers a watcher.

        initial_snapshot: synthetic ADDED for current objects (RV unset/"0",
        or watch-list), returned separately so a watch-list can put its
        annotated BOOKMARK between them and later changes. Otherwise rv is an
        int and the watcher's queue gets exactly the history after it, or
        errors.ApiError 410 when that history was compacted.
        Returns (watcher, initial events, RV the initial events represent).
        """
        w = Watcher(rt, ns, label_reqs, field_reqs)
        initial = []
        with self.cond:
            if initial_snapshot:
                if rv:
                    self._wait_for_rv(rv)
                bucket = self.buckets[rt.storage_key]
                initial = [("ADDED", bucket[k]) for k in sorted(bucket) if w._matches(bucket[k])]
            else:
                if rv < self.floor:
                    raise errors.expired("too old resource version: %d (%d)"
                                         % (rv, self.floor + 1))
                self._wait_for_rv(rv)
                for ev in self.history:
                    if ev.rv > rv:
                        t = w.translate(ev)
                        if t is not None:
                            w.queue.append(t)
            self.watchers.add(w)
            return w, initial, self.rv

    def next_events(self, w, timeout):
        """Waits up to timeout for events; returns (events, safe_rv, dropped).
        safe_rv is an RV the watcher has fully caught up with once the events
        are written, usable for a BOOKMARK."""
        with self.cond:
            if not w.queue and w.dropped is None and timeout > 0:
                self.cond.wait(timeout)
            events = list(w.queue)
            w.queue.clear()
            return events, self.rv, w.dropped

    def close_watch(self, w):
        with self.cond:
            self.watchers.discard(w)

    def watch_count(self):
        with self.cond:
            return len(self.watchers)


def _same_but_rv(a, b):
    a = dict(a, metadata=dict(a.get("metadata") or {}))
    b = dict(b, metadata=dict(b.get("metadata") or {}))
    a["metadata"].pop("resourceVersion", None)
    b["metadata"].pop("resourceVersion", None)
    return a == b


def _canonical(obj):
    """apiVersion, kind and metadata first, as the real server prints them."""
    out = {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": obj["metadata"]}
    out.update((k, v) for k, v in obj.items() if k not in out)
    return out

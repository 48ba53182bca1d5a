"""Watch faults lose no update: while EndpointSlices, Pods and Services churn
on the stand-in API server, it cuts watches, compacts its history (410 as an
ERROR event or as HTTP), and fails requests with 429/500. Afterwards every
subscriber's view, folded from its add/remove/no_endpoints stream, must equal
the truth computed from the server's own objects."""
import json
import os
import random
import sys
import threading
import time

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from cmeshtest import wait_for  # noqa: E402
from dstworld import NS, PATHS, DstCase, eslice, path_of, pod, service  # noqa: E402

import destination_pb2  # noqa: E402
import destination_pb2_grpc  # noqa: E402

SEED = 4242
SERVICES = ["alpha", "beta", "gamma"]
PODS_PER_SERVICE = 6
OPERATIONS = 160
FAULT_EVERY = 16
# Pacing, so the informers also stream changes between faults (their retry
# backoff starts at 0.8 s), not only relist them afterwards.
OP_PAUSE = 0.04
CONVERGE_TIMEOUT = 40.0
TARGET_PORT = 8080


def ip_text(v):
    return "%d.%d.%d.%d" % (v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255)


class View:
    """One Get stream folded into (exists, {ip:port: (pod label, has identity)})."""

    def __init__(self, channel, svc):
        self.svc = svc
        self.exists = None
        self.eps = {}
        self.code = None
        self.messages = 0
        self.lock = threading.Lock()
        stub = destination_pb2_grpc.DestinationStub(channel)
        self.call = stub.Get(destination_pb2.GetDestination(
            scheme="k8s", path="%s.%s.svc.cluster.local:80" % (svc, NS)))
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        try:
            for u in self.call:
                with self.lock:
                    self._fold(u)
        except grpc.RpcError as e:
            self.code = e.code()

    def _fold(self, u):
        self.messages += 1
        kind = u.WhichOneof("update")
        if kind == "add":
            self.exists = True
            for a in u.add.addrs:
                key = "%s:%d" % (ip_text(a.addr.ip.ipv4), a.addr.port)
                self.eps[key] = (a.metric_labels.get("pod"), a.HasField("tls_identity"))
        elif kind == "remove":
            for a in u.remove.addrs:
                self.eps.pop("%s:%d" % (ip_text(a.ip.ipv4), a.port), None)
        elif kind == "no_endpoints":
            self.exists = u.no_endpoints.exists
            self.eps = {}

    def state(self):
        with self.lock:
            return self.exists, dict(self.eps)

    def cancel(self):
        self.call.cancel()
        self.t.join(5)


class DestinationFaultsTest(DstCase):
    def write(self, method, obj):
        """A write that retries while the server is failing requests on purpose."""
        name = obj["metadata"]["name"]
        for _ in range(50):
            if method == "DELETE":
                st, _, body = self.api.request("DELETE", path_of(obj) + "/" + name)
                if st in (200, 202, 404):
                    return
            else:
                st, _, body = self.api.request("POST", path_of(obj), obj)
                if st == 409:
                    cur = self.api.request("GET", path_of(obj) + "/" + name)[2]
                    if not isinstance(cur, dict) or "metadata" not in cur:
                        time.sleep(0.05)
                        continue
                    o = json.loads(json.dumps(obj))
                    o["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
                    st, _, body = self.api.request("PUT", path_of(obj) + "/" + name, o)
                if st in (200, 201):
                    return
            if st not in (409, 429, 500, 503, 504):
                self.fail("%s %s: %d %r" % (method, name, st, body))
            time.sleep(0.05)
        self.fail("%s %s kept failing" % (method, name))

    def list_items(self, path):
        for _ in range(50):
            st, _, body = self.api.request("GET", path)
            if st == 200:
                return body["items"]
            time.sleep(0.05)
        self.fail("cannot list " + path)

    def truth(self):
        """What a subscriber of each service must hold, from the server's objects."""
        svcs = {s["metadata"]["name"] for s in self.list_items(PATHS["Service"] % NS)}
        pods = {p["metadata"]["name"]: p for p in self.list_items(PATHS["Pod"] % NS)}
        out = {}
        for name in SERVICES:
            eps = {}
            if name in svcs:
                for sl in self.list_items(PATHS["EndpointSlice"] % NS):
                    if sl["metadata"].get("labels", {}).get("kubernetes.io/service-name") != name:
                        continue
                    for e in sl.get("endpoints") or []:
                        if (e.get("conditions") or {}).get("ready") is False:
                            continue
                        pn = e["targetRef"]["name"]
                        p = pods.get(pn)
                        meshed = p is not None and \
                            p["metadata"].get("labels", {}).get("linkerd.io/control-plane-ns") == "cmesh"
                        eps["%s:%d" % (e["addresses"][0], TARGET_PORT)] = (pn if p else None, meshed)
            out[name] = (name in svcs, eps)
        return out

    def fault(self, rng, i):
        kinds = [{"drop_watches": True}, {"drop_watches": "clean"},
                 {"compact": True, "drop_watches": True, "watch_410": "event"},
                 {"compact": True, "drop_watches": True, "watch_410": "http"},
                 {"fail_next": 2, "status": 429, "verb": "watch"},
                 {"fail_next": 2, "status": 500, "verb": "list"},
                 {"fail_next": 3, "status": 500},
                 {"fail_next": 2, "status": 429, "retry_after": 1, "verb": "watch",
                  "drop_watches": True}]
        f = kinds[(i // FAULT_EVERY) % len(kinds)] if i // FAULT_EVERY < len(kinds) else rng.choice(kinds)
        self.api.faults(**f)
        self.faults_used.append(f)

    def test_churn_under_watch_faults_loses_nothing(self):
        rng = random.Random(SEED)
        self.faults_used = []
        pods_of = {s: ["%s-%d" % (s, i) for i in range(PODS_PER_SERVICE)] for s in SERVICES}
        ip_of = {}
        for si, s in enumerate(SERVICES):
            for pi, pn in enumerate(pods_of[s]):
                ip_of[pn] = "10.%d.0.%d" % (si + 1, pi + 1)
        for s in SERVICES:
            self.write("POST", service(s))
            for pn in pods_of[s][:3]:
                self.write("POST", pod(pn, ip_of[pn]))
            self.write("POST", eslice(s + "-a", s, [(ip_of[pn], pn, True) for pn in pods_of[s][:2]]))
        self.start_dst()
        chans = []
        for _ in range(2):
            ch = grpc.insecure_channel("127.0.0.1:%d" % self.port)
            self.addCleanup(ch.close)
            chans.append(ch)
        views = [View(ch, s) for ch in chans for s in SERVICES]
        for v in views:
            self.addCleanup(v.cancel)

        for i in range(OPERATIONS):
            if i and i % FAULT_EVERY == 0:
                self.fault(rng, i)
            if i == OPERATIONS // 2:
                # late subscribers start from the current state, mid-churn
                views += [View(chans[0], s) for s in SERVICES]
                for v in views[-len(SERVICES):]:
                    self.addCleanup(v.cancel)
            time.sleep(OP_PAUSE)
            s = rng.choice(SERVICES)
            op = rng.random()
            if op < 0.55:
                # rewrite one of the service's two slices: random members and readiness
                members = rng.sample(pods_of[s], rng.randint(0, 4))
                eps = [(ip_of[pn], pn, rng.choice([True, True, False, None])) for pn in members]
                sl = eslice("%s-%s" % (s, rng.choice("ab")), s, eps)
                self.write("DELETE" if rng.random() < 0.15 else "POST", sl)
            elif op < 0.85:
                # a pod appears, disappears, or is (un)meshed
                pn = rng.choice(pods_of[s])
                if rng.random() < 0.3:
                    self.write("DELETE", pod(pn, ip_of[pn]))
                else:
                    self.write("POST", pod(pn, ip_of[pn], meshed=rng.random() < 0.7))
            elif op < 0.93:
                self.write("DELETE", service(s))
            else:
                self.write("POST", service(s))
        self.api.faults(reset=True)

        last = {}

        def converged():
            want = self.truth()
            last["want"] = want
            last["got"] = [(v.svc, v.state()) for v in views]
            return all(v.state() == want[v.svc] for v in views)
        try:
            wait_for(converged, timeout=CONVERGE_TIMEOUT, interval=0.25, what="subscribers to converge")
        except AssertionError:
            self.fail("views differ from the truth:\nwant %r\ngot %r\nfaults %r"
                      % (last.get("want"), last.get("got"), self.faults_used))
        for v in views:
            self.assertIsNone(v.code, v.svc)
            self.assertGreater(v.messages, 0)
        st = self.api.stats()
        # the faults did happen: watches were cut, 410s were answered, requests failed
        self.assertGreater(st["watches_dropped"], 0, st)
        self.assertGreater(st["gone_410"], 0, st)
        self.assertGreater(st["faults_injected"], 0, st)
        # and the subscribers did follow changes (not just a late snapshot)
        msgs = sum(v.messages for v in views[:len(SERVICES)])
        print("messages per early subscriber: %.1f" % (msgs / len(SERVICES)))
        self.assertGreater(msgs, 5 * len(SERVICES))

"""cmesh-destination end to end: a python3-grpcio client against the daemon fed by
the stand-in API server (and by --objects-dir)."""
import json
import os
import sys
import time

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from cmeshtest import free_port, wait_for  # noqa: E402
from dstclient import addrs  # noqa: E402
from dstworld import NS, PATHS, WEB, DstCase, eslice, pod, service  # noqa: E402


# API answer delay for the stream-before-sync test (below DST_SYNC_WAIT_MS).
SLOW_LIST_MS = 1000
# Healthy subscribers beside the stalled one, and the channels they share.
HEALTHY = 100
HEALTHY_CHANNELS = 4


class DestinationTest(DstCase):
    def base_objects(self):
        self.put(service("web"))
        self.put({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                  "metadata": {"name": "web-5d9c", "namespace": NS,
                               "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                                    "uid": "d", "controller": True}]},
                  "spec": {"selector": {}, "template": {}}})
        self.put({"apiVersion": "batch/v1", "kind": "Job",
                  "metadata": {"name": "nightly-1", "namespace": NS,
                               "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "nightly",
                                                    "uid": "c", "controller": True}]},
                  "spec": {"template": {}}})
        self.put(pod("web-a", "10.0.0.1"))
        self.put(pod("web-b", "10.0.0.2", meshed=False, owner=("Job", "nightly-1")))
        self.put(pod("web-c", "10.0.0.3", annotations={"config.linkerd.io/opaque-ports": "8080"}))
        self.put(eslice("web-x", "web", [("10.0.0.1", "web-a", True), ("10.0.0.2", "web-b", True)]))

    # ---- tests ----

    def test_get_first_add_diffs_and_endpoint_fields(self):
        self.base_objects()
        self.start_dst()
        s = self.get(WEB)
        u = s.next()
        self.assertEqual(u.WhichOneof("update"), "add")
        self.assertEqual(addrs(u), {"10.0.0.1:8080", "10.0.0.2:8080"})
        self.assertEqual(dict(u.add.metric_labels), {"service": "web", "namespace": NS})
        by = {a.addr.ip.ipv4 & 255: a for a in u.add.addrs}
        a1, a2 = by[1], by[2]
        self.assertEqual(a1.weight, 10000)
        self.assertEqual(a1.metric_labels["deployment"], "web")
        self.assertEqual(a1.metric_labels["pod"], "web-a")
        self.assertEqual(a1.metric_labels["serviceaccount"], "web-sa")
        self.assertEqual(a1.metric_labels["zone"], "z1")
        ident = "web-sa.demo.serviceaccount.identity.cmesh.cluster.local"
        self.assertEqual(a1.tls_identity.dns_like_identity.name, ident)
        self.assertEqual(a1.tls_identity.server_name.name, ident)
        self.assertEqual(a1.protocol_hint.WhichOneof("protocol"), "h2")
        self.assertEqual(a2.metric_labels["cronjob"], "nightly")
        self.assertFalse(a2.HasField("tls_identity"))
        self.assertFalse(a2.HasField("protocol_hint"))

        # scale up: one add with the opaque pod
        self.put(eslice("web-x", "web", [("10.0.0.1", "web-a", True), ("10.0.0.2", "web-b", True),
                                         ("10.0.0.3", "web-c", True)]))
        u = s.next()
        self.assertEqual((u.WhichOneof("update"), addrs(u)), ("add", {"10.0.0.3:8080"}))
        self.assertEqual(u.add.addrs[0].protocol_hint.WhichOneof("protocol"), "opaque")
        # readiness flip, then scale down
        self.put(eslice("web-x", "web", [("10.0.0.1", "web-a", True), ("10.0.0.2", "web-b", False),
                                         ("10.0.0.3", "web-c", True)]))
        u = s.next()
        self.assertEqual((u.WhichOneof("update"), addrs(u)), ("remove", {"10.0.0.2:8080"}))
        self.put(eslice("web-x", "web", [("10.0.0.1", "web-a", True)]))
        u = s.next()
        self.assertEqual((u.WhichOneof("update"), addrs(u)), ("remove", {"10.0.0.3:8080"}))
        # a second slice adds; deleting the service gives exists:false
        self.put(eslice("web-y", "web", [("10.0.0.9", "web-z", True)]))
        u = s.next()
        self.assertEqual((u.WhichOneof("update"), addrs(u)), ("add", {"10.0.0.9:8080"}))
        self.delete(service("web"))
        u = s.next()
        self.assertEqual(u.WhichOneof("update"), "no_endpoints")
        self.assertFalse(u.no_endpoints.exists)
        self.assertTrue(s.empty_for(0.3))
        self.assertGreaterEqual(self.metric("destination_updates_sent"), 6)

    def test_get_unknown_empty_and_invalid(self):
        self.put(service("empty"))
        self.start_dst()
        u = self.get("nope.demo.svc.cluster.local:80").next()
        self.assertEqual((u.WhichOneof("update"), u.no_endpoints.exists), ("no_endpoints", False))
        u = self.get("empty.demo.svc.cluster.local.:80").next()
        self.assertEqual((u.WhichOneof("update"), u.no_endpoints.exists), ("no_endpoints", True))
        for bad in ["web", "web.demo", "web.demo.svc.cluster.local:0", "web.demo.svc.cluster.local:99999",
                    "10.0.0.1:80", "[::1]:80", "web.demo.svc.example.org:80", ""]:
            s = self.get(bad)
            self.assertEqual(s.wait_end(), grpc.StatusCode.INVALID_ARGUMENT, bad)
        s = self.get("web", method="GetProfile")
        self.assertEqual(s.wait_end(), grpc.StatusCode.INVALID_ARGUMENT)

    def test_stream_before_sync_unavailable(self):
        # An API server that never answers: informers cannot sync.
        dead = os.path.join(self.tmp, "kubeconfig-dead")
        with open(dead, "w") as f:
            f.write("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:%d\n"
                    "contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\n"
                    "users:\n- name: u\n  user: {}\n" % free_port())
        self.start_dst(source=["--kubeconfig", dead], wait_ready=False)
        wait_for(lambda: self.metric_ok(), timeout=15, what="admin")
        self.assertEqual(self.ready(), 503)
        t0 = time.time()
        s = self.get(WEB)
        self.assertEqual(s.wait_end(timeout=10), grpc.StatusCode.UNAVAILABLE)
        self.assertGreaterEqual(time.time() - t0, 1.5)

    def test_stream_before_sync_answered_at_sync(self):
        # Every API answer takes SLOW_LIST_MS, so the informers sync about
        # then; a stream opened before that gets its first message at sync.
        self.base_objects()
        self.api.faults(delay_ms=SLOW_LIST_MS)
        self.addCleanup(self.api.faults, reset=True)
        self.start_dst(wait_ready=False)
        wait_for(lambda: self.metric_ok(), timeout=15, what="admin")
        t0 = time.time()
        s = self.get(WEB)
        self.assertEqual(self.ready(), 503)  # opened before sync
        u = s.next(timeout=5)
        took = time.time() - t0
        self.assertEqual((u.WhichOneof("update"), addrs(u)), ("add", {"10.0.0.1:8080", "10.0.0.2:8080"}))
        self.assertEqual(self.ready(), 200)
        self.assertLess(took, 2.0)
        self.assertIsNone(s.code)

    def test_split_and_service_profile(self):
        self.base_objects()
        for v in ("web-v1", "web-v2", "web-v3"):
            self.put(service(v))
        self.put(eslice("v1-x", "web-v1", [("10.0.1.1", "v1-a", True)]))
        self.start_dst()
        p = self.get(WEB, method="GetProfile")
        first = p.next()
        self.assertEqual(first.fully_qualified_name, "web.demo.svc.cluster.local")
        self.assertAlmostEqual(first.retry_budget.retry_ratio, 0.2, places=5)
        self.assertEqual(first.retry_budget.min_retries_per_second, 10)
        self.assertEqual(first.retry_budget.ttl.seconds, 10)
        self.assertEqual(len(first.dst_overrides), 0)
        split = {"apiVersion": "split.smi-spec.io/v1alpha1", "kind": "TrafficSplit",
                 "metadata": {"name": "web-split", "namespace": NS},
                 "spec": {"service": "web", "backends": [{"service": "web-v1", "weight": "900m"},
                                                         {"service": "web-v2", "weight": "100m"}]}}
        self.put(split)
        prof = p.next()
        w = {d.authority: d.weight for d in prof.dst_overrides}
        self.assertEqual(w, {"web-v1.demo.svc.cluster.local:80": 9000, "web-v2.demo.svc.cluster.local:80": 1000})
        # each override authority resolves through Get
        u = self.get("web-v1.demo.svc.cluster.local:80").next()
        self.assertEqual(addrs(u), {"10.0.1.1:8080"})
        u = self.get("web-v2.demo.svc.cluster.local:80").next()
        self.assertEqual((u.WhichOneof("update"), u.no_endpoints.exists), ("no_endpoints", True))
        # v1alpha2 integer weights, same ratio, following an edit
        self.delete(split)
        self.assertEqual(len(p.next().dst_overrides), 0)
        split2 = {"apiVersion": "split.smi-spec.io/v1alpha2", "kind": "TrafficSplit",
                  "metadata": {"name": "web-split2", "namespace": NS},
                  "spec": {"service": "web", "backends": [{"service": "web-v1", "weight": 90},
                                                          {"service": "web-v2", "weight": 10}]}}
        self.put(split2)
        prof = p.next()
        w = [d.weight for d in sorted(prof.dst_overrides, key=lambda d: d.authority)]
        self.assertEqual(w[0] * 1000 // w[1], 9000)
        split2["spec"]["backends"][1]["weight"] = 30
        self.put(split2)
        prof = p.next()
        w = [d.weight for d in sorted(prof.dst_overrides, key=lambda d: d.authority)]
        self.assertEqual(w[0] * 30, w[1] * 90)
        # a ServiceProfile with routes and overrides wins over the split
        self.put({"apiVersion": "linkerd.io/v1alpha2", "kind": "ServiceProfile",
                  "metadata": {"name": "web.demo.svc.cluster.local", "namespace": NS},
                  "spec": {"routes": [{"name": "GET /books", "condition": {"method": "GET", "pathRegex": "/books"},
                                       "isRetryable": True, "timeout": "250ms"}],
                           "dstOverrides": [{"authority": "web-v3.demo.svc.cluster.local.:80", "weight": "1"}]}})
        prof = p.next()
        self.assertEqual(len(prof.routes), 1)
        self.assertEqual(prof.routes[0].metrics_labels["route"], "GET /books")
        self.assertTrue(prof.routes[0].is_retryable)
        self.assertEqual(prof.routes[0].timeout.nanos, 250000000)
        self.assertEqual([(d.authority, d.weight) for d in prof.dst_overrides],
                         [("web-v3.demo.svc.cluster.local:80", 10000)])
        u = self.get(prof.dst_overrides[0].authority).next()
        self.assertEqual((u.WhichOneof("update"), u.no_endpoints.exists), ("no_endpoints", True))
        # an unrelated change is not re-sent
        self.put(pod("other", "10.0.9.9"))
        self.assertTrue(p.empty_for(0.5))
        # ClusterIP and pod IP profiles
        ip = self.api.request("GET", PATHS["Service"] % NS + "/web")[2]["spec"]["clusterIP"]
        cip = self.get("%s:80" % ip, method="GetProfile").next()
        self.assertEqual(cip.fully_qualified_name, "web.demo.svc.cluster.local")
        ep = self.get("10.0.0.1:8080", method="GetProfile").next()
        self.assertEqual(ep.endpoint.metric_labels["pod"], "web-a")
        self.assertEqual(ep.endpoint.metric_labels["namespace"], NS)

    def test_objects_dir(self):
        d = os.path.join(self.tmp, "objs")
        os.makedirs(d)

        def write(eps):
            objs = [service("web"), pod("web-a", "10.0.0.1"), eslice("web-x", "web", eps)]
            with open(os.path.join(d, "web.json.tmp"), "w") as f:
                json.dump({"apiVersion": "v1", "kind": "List", "items": objs}, f)
            os.rename(os.path.join(d, "web.json.tmp"), os.path.join(d, "web.json"))
        write([("10.0.0.1", "web-a", True)])
        self.start_dst(source=["--objects-dir", d])
        s = self.get(WEB)
        u = s.next()
        self.assertEqual(addrs(u), {"10.0.0.1:8080"})
        self.assertEqual(u.add.addrs[0].metric_labels["pod"], "web-a")
        write([("10.0.0.1", "web-a", True), ("10.0.0.5", "web-e", True)])
        u = s.next(timeout=15)
        self.assertEqual((u.WhichOneof("update"), addrs(u)), ("add", {"10.0.0.5:8080"}))

    def test_stalled_subscriber_is_ended_others_fine(self):
        self.put(service("web"))
        self.put(eslice("web-x", "web", []))
        self.start_dst("--stream-queue-capacity", "8")
        # A client that never reads, with BDP probing off so its window stays small.
        slow_ch = grpc.insecure_channel("127.0.0.1:%d" % self.port,
                                        options=[("grpc.http2.bdp_probe", 0),
                                                 ("grpc.http2.lookahead_bytes", 0)])
        self.addCleanup(slow_ch.close)
        import destination_pb2
        import destination_pb2_grpc
        slow = destination_pb2_grpc.DestinationStub(slow_ch).Get(destination_pb2.GetDestination(path=WEB))
        self.addCleanup(slow.cancel)
        chans = [grpc.insecure_channel("127.0.0.1:%d" % self.port) for _ in range(HEALTHY_CHANNELS)]
        for ch in chans:
            self.addCleanup(ch.close)
        healthy = [self.get(WEB, chan=chans[i % HEALTHY_CHANNELS]) for i in range(HEALTHY)]
        for h in healthy:
            h.next()
        big = [("10.1.%d.%d" % (i // 250, i % 250 + 1), "p%d" % i, True) for i in range(400)]
        lat = []  # one entry per (update, healthy subscriber)
        rounds = 0
        t_start = time.time()
        while (self.metric("endpoint_updates_queue_overflow") or 0) < 1 and rounds < 60:
            t0 = time.monotonic()
            self.put(eslice("web-x", "web", big if rounds % 2 == 0 else []))
            for h in healthy:
                h.next(timeout=10)
                lat.append(h.arrivals[rounds + 1] - t0)
            rounds += 1
        self.assertLess(time.time() - t_start, 60)
        self.assertGreaterEqual(self.metric("endpoint_updates_queue_overflow"), 1)
        with self.assertRaises(grpc.RpcError) as cm:
            for _ in slow:
                pass
        self.assertEqual(cm.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        lat.sort()
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        print("rounds=%d updates=%d p50=%.3fs p99=%.3fs" % (rounds, len(lat), lat[len(lat) // 2], p99))
        self.assertLess(p99, 1.0)
        for h in healthy:
            self.assertIsNone(h.code)

"""Stress of the stand-in API server's watch against lost events.

Many raw watchers reconnect continually (timeoutSeconds=1, bookmarks every
0.1 s, some cut by the client mid-stream) from the last RV they saw, while
writers create, PUT, PATCH and delete ConfigMaps as fast as they can. Every
watcher must see every RV of the namespace exactly once, in order, and its
folded view must equal the server's final list. A lost event between reading
the history and registering the watcher, an event queued as a watch ends, or
a BOOKMARK ahead of undelivered events all break one of the two.
"""
import http.client
import json
import os
import random
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kubeapi  # noqa: E402
from cmeshtest import MeshTestCase  # noqa: E402

NS = "wr"
CM = "/api/v1/namespaces/%s/configmaps" % NS
WATCHERS = 10
WRITERS = 2
WRITE_SECONDS = 6.0
OBJECTS = 12               # names the writers pick from
WATCH_TIMEOUT_S = 1        # timeoutSeconds of every watch
CUT_PROBABILITY = 0.3      # share of watches the client closes early
CATCH_UP_SECONDS = 10.0    # after the writers stop, to reach the final RV
HISTORY = 100000           # no 410 in this test: every RV must be seen


class Watcher(threading.Thread):
    def __init__(self, api, start_rv, stop):
        super().__init__(daemon=True)
        self.api, self.rv, self.stop = api, start_rv, stop
        self.view = {}          # name -> object
        self.rvs = []           # RVs of non-BOOKMARK events, in arrival order
        self.errors = []
        self.watches = 0
        self.rng = random.Random()

    def run(self):
        try:
            while not self.stop.is_set():
                self.one_watch()
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.errors.append("%s: %r" % (type(e).__name__, e))

    def one_watch(self):
        self.watches += 1
        path = kubeapi.url_path(CM, watch="true", resourceVersion=self.rv,
                                allowWatchBookmarks="true", timeoutSeconds=WATCH_TIMEOUT_S)
        w = self.api.watch(path)
        try:
            if w.status != 200:
                self.errors.append("watch from %s: HTTP %d" % (self.rv, w.status))
                self.stop.wait(0.1)
                return
            cut_after = (self.rng.randint(1, 30) if self.rng.random() < CUT_PROBABILITY
                         else None)
            for n, ev in enumerate(w.events()):
                obj = ev["object"]
                rv = obj["metadata"]["resourceVersion"]
                if ev["type"] == "ERROR":
                    self.errors.append("ERROR event from %s: %s" % (self.rv, obj))
                    self.stop.set()
                    return
                if ev["type"] != "BOOKMARK":
                    self.rvs.append(int(rv))
                    name = obj["metadata"]["name"]
                    if ev["type"] == "DELETED":
                        self.view.pop(name, None)
                    else:
                        self.view[name] = obj
                self.rv = rv
                if cut_after is not None and n + 1 >= cut_after:
                    return
        finally:
            w.close()


class Writer(threading.Thread):
    def __init__(self, api, seed, deadline):
        super().__init__(daemon=True)
        self.api, self.deadline = api, deadline
        self.rng = random.Random(seed)
        self.errors = []
        self.writes = 0

    def call(self, conn, method, path, body, ctype="application/json"):
        conn.request(method, path, json.dumps(body).encode() if body is not None else None,
                     {"Content-Type": ctype, "Accept": "application/json"})
        r = conn.getresponse()
        data = r.read()
        if r.status < 300:
            self.writes += 1
        elif r.status not in (404, 409):   # races between the writers
            self.errors.append("%s %s: %d %s" % (method, path, r.status, data[:200]))
        return r.status

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.api.port, timeout=10)
        try:
            while time.monotonic() < self.deadline and not self.errors:
                name = "cm-%d" % self.rng.randrange(OBJECTS)
                val = str(self.rng.random())
                op = self.rng.random()
                if op < 0.4:
                    body = {"metadata": {"name": name}, "data": {"v": val}}
                    if self.call(conn, "PUT", CM + "/" + name, body) == 404:
                        self.call(conn, "POST", CM, body)
                elif op < 0.85:
                    self.call(conn, "PATCH", CM + "/" + name, {"data": {"p": val}},
                              "application/merge-patch+json")
                else:
                    self.call(conn, "DELETE", CM + "/" + name, None)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.errors.append("%s: %r" % (type(e).__name__, e))
        finally:
            conn.close()


class WatchRaceTest(MeshTestCase):
    def test_reconnecting_watchers_see_every_event_in_order(self):
        api = kubeapi.start_for(self, history=HISTORY, bookmark_interval=0.1)
        st, _, body = api.request("POST", "/api/v1/namespaces", {"metadata": {"name": NS}})
        self.assertEqual(st, 201, body)
        st, _, body = api.request("GET", CM)
        self.assertEqual(st, 200, body)
        start_rv = int(body["metadata"]["resourceVersion"])

        stop = threading.Event()
        self.addCleanup(stop.set)
        watchers = [Watcher(api, str(start_rv), stop) for _ in range(WATCHERS)]
        for w in watchers:
            w.start()
        deadline = time.monotonic() + WRITE_SECONDS
        writers = [Writer(api, seed, deadline) for seed in range(WRITERS)]
        for w in writers:
            w.start()
        for w in writers:
            w.join()
        for w in writers:
            self.assertEqual(w.errors, [], "writer failed")
        st, _, final = api.request("GET", CM)
        self.assertEqual(st, 200, final)
        final_rv = int(final["metadata"]["resourceVersion"])
        want = {o["metadata"]["name"]: o for o in final["items"]}
        writes = sum(w.writes for w in writers)
        # Every write in the namespace bumped the RV by one: the RVs after the
        # start are exactly the writes (the test depends on that).
        self.assertEqual(final_rv - start_rv, writes)
        self.assertGreater(writes, 200, "too few writes to stress anything")

        end = time.monotonic() + CATCH_UP_SECONDS
        while time.monotonic() < end and any(int(w.rv) < final_rv for w in watchers):
            time.sleep(0.05)
        stop.set()
        for w in watchers:
            w.join(WATCH_TIMEOUT_S + 5)
        expected = list(range(start_rv + 1, final_rv + 1))
        sys.stderr.write("watch-race: %d writes to RV %d, watches per watcher %s\n"
                         % (writes, final_rv, [w.watches for w in watchers]))
        for i, w in enumerate(watchers):
            self.assertEqual(w.errors, [], "watcher %d" % i)
            self.assertGreaterEqual(int(w.rv), final_rv,
                                    "watcher %d stuck at RV %s" % (i, w.rv))
            if w.rvs != expected:
                seen = set(w.rvs)
                missing = [r for r in expected if r not in seen]
                dup = len(w.rvs) - len(seen)
                self.fail("watcher %d: %d RVs missing (first %s), %d duplicates, in order: %s"
                          % (i, len(missing), missing[:5], dup, w.rvs == sorted(w.rvs)))
            self.assertEqual(w.view, want, "watcher %d folded view" % i)
            self.assertGreater(w.watches, 3, "watcher %d never reconnected" % i)

    def test_identical_put_makes_no_event_and_keeps_the_rv(self):
        """What hung the destination bench once: a PUT equal to the stored
        object is a no-op (no RV bump, no event), as on a real API server, so
        a driver that expects an update from it waits for ever while the
        watches re-open from the same RV."""
        api = kubeapi.start_for(self)
        st, _, body = api.request("POST", "/api/v1/namespaces", {"metadata": {"name": NS}})
        self.assertEqual(st, 201, body)
        obj = {"metadata": {"name": "same"}, "data": {"v": "1"}}
        st, _, created = api.request("POST", CM, obj)
        self.assertEqual(st, 201, created)
        rv = created["metadata"]["resourceVersion"]
        w = api.watch(kubeapi.url_path(CM, watch="true", resourceVersion=rv,
                                       allowWatchBookmarks="true", timeoutSeconds=1))
        self.addCleanup(w.close)
        for body in (obj, dict(obj, metadata=dict(obj["metadata"], resourceVersion=rv))):
            st, _, out = api.request("PUT", CM + "/same", body)
            self.assertEqual(st, 200, out)
            self.assertEqual(out["metadata"]["resourceVersion"], rv)
        st, _, changed = api.request("PUT", CM + "/same", dict(obj, data={"v": "2"}))
        self.assertEqual(st, 200, changed)
        self.assertNotEqual(changed["metadata"]["resourceVersion"], rv)
        evs = [(e["type"], e["object"]["metadata"]["resourceVersion"]) for e in w.events()]
        self.assertEqual([e for e in evs if e[0] != "BOOKMARK"],
                         [("MODIFIED", changed["metadata"]["resourceVersion"])])
        self.assertTrue(w.ended_cleanly)


if __name__ == "__main__":
    unittest.main()

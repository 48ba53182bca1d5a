"""Watch semantics of the stand-in API server (kubernetes-api.md §1-2)."""
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kubeapi  # noqa: E402
from cmeshtest import MeshTestCase  # noqa: E402

CM = "/api/v1/namespaces/%s/configmaps"


def cm(name, labels=None, data=None):
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": labels or {}}, "data": data or {}}


class WatchTest(MeshTestCase):
    def setUp(self):
        super().setUp()
        self.api = kubeapi.start_for(self, history=50, bookmark_interval=0.2)
        for ns in ("a", "b"):
            self.ok(self.api.request("POST", "/api/v1/namespaces", {"metadata": {"name": ns}}))

    def ok(self, resp, code=None):
        status, _, body = resp
        if code is not None:
            self.assertEqual(status, code, body)
        else:
            self.assertLess(status, 300, body)
        return body

    def list_rv(self, path):
        return self.ok(self.api.request("GET", path))["metadata"]["resourceVersion"]

    def collect(self, path, during=None):
        """All events of a watch (which must end by itself); `during` runs in a
        thread once the watch is open."""
        w = self.api.watch(path)
        self.addCleanup(w.close)
        self.assertEqual(w.status, 200)
        t = None
        if during:
            t = threading.Thread(target=during)
            t.start()
        evs = list(w.events())
        if t:
            t.join()
        return evs, w

    def test_watch_from_rv_sees_exactly_later_events_in_order(self):
        self.ok(self.api.request("POST", CM % "a", cm("before")))
        rv = self.list_rv(CM % "a")
        self.ok(self.api.request("POST", CM % "a", cm("x")))
        self.ok(self.api.request("POST", CM % "b", cm("other-ns")))
        self.ok(self.api.request("PATCH", CM % "a" + "/x", {"data": {"k": "v"}},
                                 ctype="application/merge-patch+json"))
        self.ok(self.api.request("DELETE", CM % "a" + "/x"))
        evs, w = self.collect(CM % "a" + "?watch=1&timeoutSeconds=1&resourceVersion=" + rv)
        self.assertEqual([(e["type"], e["object"]["metadata"]["name"]) for e in evs],
                         [("ADDED", "x"), ("MODIFIED", "x"), ("DELETED", "x")])
        rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in evs]
        self.assertEqual(rvs, sorted(rvs))
        self.assertGreater(rvs[0], int(rv))
        self.assertEqual(len(set(rvs)), 3, "DELETED carries its own, new RV")
        self.assertEqual(evs[1]["object"]["data"], {"k": "v"})
        self.assertTrue(w.ended_cleanly)

    def test_live_events_all_namespaces_with_label_selector(self):
        rv = self.list_rv("/api/v1/configmaps")

        def changes():
            time.sleep(0.2)
            self.ok(self.api.request("POST", CM % "a", cm("m1", {"app": "web"})))
            self.ok(self.api.request("POST", CM % "b", cm("m2", {"app": "web"})))
            self.ok(self.api.request("POST", CM % "b", cm("nomatch", {"app": "db"})))
            # Relabel out of the selector -> DELETED, back in -> ADDED.
            self.ok(self.api.request("PATCH", CM % "a" + "/m1",
                                     {"metadata": {"labels": {"app": "db"}}},
                                     ctype="application/merge-patch+json"))
            self.ok(self.api.request("PATCH", CM % "a" + "/m1",
                                     {"metadata": {"labels": {"app": "web"}}},
                                     ctype="application/merge-patch+json"))
        evs, _ = self.collect("/api/v1/configmaps?watch=true&timeoutSeconds=2"
                              "&labelSelector=app%3Dweb&resourceVersion=" + rv, changes)
        self.assertEqual([(e["type"], e["object"]["metadata"]["namespace"],
                           e["object"]["metadata"]["name"]) for e in evs],
                         [("ADDED", "a", "m1"), ("ADDED", "b", "m2"), ("DELETED", "a", "m1"),
                          ("ADDED", "a", "m1")])

    def test_rv_unset_and_zero_start_with_current_state(self):
        self.ok(self.api.request("POST", CM % "a", cm("one")))
        self.ok(self.api.request("POST", CM % "a", cm("two")))
        for q in ("", "&resourceVersion=0"):
            evs, _ = self.collect(CM % "a" + "?watch=1&timeoutSeconds=1" + q)
            self.assertEqual(sorted((e["type"], e["object"]["metadata"]["name"]) for e in evs),
                             [("ADDED", "one"), ("ADDED", "two")])

    def test_bookmarks_only_when_asked(self):
        rv = self.list_rv(CM % "a")
        t0 = time.monotonic()
        evs, w = self.collect(CM % "a" + "?watch=1&allowWatchBookmarks=true&timeoutSeconds=1"
                              "&resourceVersion=" + rv)
        took = time.monotonic() - t0
        marks = [e for e in evs if e["type"] == "BOOKMARK"]
        self.assertGreaterEqual(len(marks), 3, evs)   # every 0.2 s for 1 s, plus the final one
        self.assertEqual(len(marks), len(evs))
        self.assertEqual(marks[0]["object"]["kind"], "ConfigMap")
        self.assertEqual(marks[-1]["object"]["metadata"]["resourceVersion"],
                         self.list_rv(CM % "a"))
        self.assertTrue(0.9 <= took < 3.0, took)
        self.assertTrue(w.ended_cleanly)
        evs, _ = self.collect(CM % "a" + "?watch=1&timeoutSeconds=1&resourceVersion=" + rv)
        self.assertEqual(evs, [])

    def test_bookmark_rv_advances_past_other_resources_changes(self):
        rv = self.list_rv(CM % "a")

        def change():
            time.sleep(0.1)
            self.ok(self.api.request("POST", "/api/v1/namespaces/a/secrets",
                                     {"metadata": {"name": "s"}}))
        evs, _ = self.collect(CM % "a" + "?watch=1&allowWatchBookmarks=true&timeoutSeconds=1"
                              "&resourceVersion=" + rv, change)
        self.assertGreater(int(evs[-1]["object"]["metadata"]["resourceVersion"]), int(rv))

    def test_timeout_ends_stream(self):
        t0 = time.monotonic()
        evs, w = self.collect(CM % "a" + "?watch=1&timeoutSeconds=1&resourceVersion="
                              + self.list_rv(CM % "a"))
        self.assertTrue(0.9 <= time.monotonic() - t0 < 3.0)
        self.assertTrue(w.ended_cleanly)

    def test_history_overflow_gives_410_error_event(self):
        rv = self.list_rv(CM % "a")
        for i in range(60):    # history is 50 events
            self.ok(self.api.request("POST", CM % "a", cm("c%d" % i)))
        evs, w = self.collect(CM % "a" + "?watch=1&timeoutSeconds=5&resourceVersion=" + rv)
        self.assertEqual(len(evs), 1, evs)
        self.assertEqual(evs[0]["type"], "ERROR")
        st = evs[0]["object"]
        self.assertEqual((st["kind"], st["code"], st["reason"]), ("Status", 410, "Expired"))
        self.assertIn("too old resource version: %s" % rv, st["message"])
        self.assertTrue(w.ended_cleanly)
        # A recent RV is still inside the window.
        recent = str(int(self.list_rv(CM % "a")) - 5)
        evs, _ = self.collect(CM % "a" + "?watch=1&timeoutSeconds=1&resourceVersion=" + recent)
        self.assertEqual([e["type"] for e in evs], ["ADDED"] * 5)

    def test_compaction_then_http_410_switch(self):
        self.ok(self.api.request("POST", CM % "a", cm("x")))
        rv = str(int(self.list_rv(CM % "a")) - 1)
        self.api.faults(compact=True)
        evs, _ = self.collect(CM % "a" + "?watch=1&timeoutSeconds=5&resourceVersion=" + rv)
        self.assertEqual([(e["type"], e["object"]["code"]) for e in evs], [("ERROR", 410)])
        self.api.faults(watch_410="http")
        w = self.api.watch(CM % "a" + "?watch=1&timeoutSeconds=5&resourceVersion=" + rv)
        self.addCleanup(w.close)
        self.assertEqual(w.status, 410)
        body = w.body()
        self.assertEqual((body["kind"], body["reason"], body["code"]), ("Status", "Expired", 410))
        # The current RV is fine after compaction.
        now = self.list_rv(CM % "a")
        evs, _ = self.collect(CM % "a" + "?watch=1&timeoutSeconds=1&resourceVersion=" + now)
        self.assertEqual(evs, [])
        self.assertGreaterEqual(self.api.stats()["gone_410"], 2)

    def test_watch_list_initial_events_end_bookmark(self):
        self.ok(self.api.request("POST", CM % "a", cm("one")))
        base = CM % "a" + "?watch=1&timeoutSeconds=1&allowWatchBookmarks=true"
        evs, _ = self.collect(base + "&sendInitialEvents=true&resourceVersionMatch=NotOlderThan")
        self.assertEqual(evs[0]["type"], "ADDED")
        self.assertEqual(evs[1]["type"], "BOOKMARK")
        self.assertEqual(evs[1]["object"]["metadata"]["annotations"],
                         {"k8s.io/initial-events-end": "true"})
        status, _, body = self.api.request("GET", base + "&sendInitialEvents=true")
        self.assertEqual((status, body["reason"]), (422, "Invalid"))

    def test_future_rv_is_504_too_large(self):
        future = str(int(self.list_rv(CM % "a")) + 100)
        status, hdrs, body = self.api.request("GET", CM % "a" + "?watch=1&resourceVersion="
                                              + future)
        self.assertEqual((status, body["reason"]), (504, "Timeout"))
        self.assertEqual(body["details"]["causes"][0]["reason"], "ResourceVersionTooLarge")
        self.assertEqual(hdrs.get("Retry-After"), "1")

    def test_watch_closed_by_client_is_released(self):
        w = self.api.watch(CM % "a" + "?watch=1")
        self.assertEqual(self.api.stats()["watches_active"], 1)
        w.close()
        kubeapi.wait_for(lambda: self.api.stats()["watches_active"] == 0, timeout=5,
                         what="the server to notice the closed watch")


if __name__ == "__main__":
    unittest.main()

"""The /_cmesh/ admin API: every fault switch and the counters."""
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kubeapi  # noqa: E402
from cmeshtest import MeshTestCase, wait_for  # noqa: E402

CM = "/api/v1/namespaces/default/configmaps"


class FaultsTest(MeshTestCase):
    def setUp(self):
        super().setUp()
        self.api = kubeapi.start_for(self)

    def drain(self, w, out):
        t = threading.Thread(target=lambda: out.extend(w.events()), daemon=True)
        t.start()
        return t

    def drop(self, mode):
        ws = [self.api.watch(CM + "?watch=1&resourceVersion=0") for _ in range(2)]
        for w in ws:
            self.addCleanup(w.close)
        wait_for(lambda: self.api.stats()["watches_active"] == 2, what="2 open watches")
        threads = [self.drain(w, []) for w in ws]
        res = self.api.faults(drop_watches=mode)
        self.assertEqual(res["watches_dropped"], 2)
        for t in threads:
            t.join(5)
            self.assertFalse(t.is_alive(), "watch still open after drop_watches")
        wait_for(lambda: self.api.stats()["watches_active"] == 0, what="watches released")
        return ws

    def test_drop_watches_cuts_the_connection(self):
        ws = self.drop(True)
        self.assertEqual([w.ended_cleanly for w in ws], [False, False])
        self.assertEqual(self.api.stats()["watches_dropped"], 2)

    def test_drop_watches_clean_sends_terminating_chunk(self):
        ws = self.drop("clean")
        self.assertEqual([w.ended_cleanly for w in ws], [True, True])

    def test_compact_forces_410(self):
        rv = self.api.request("GET", CM)[2]["metadata"]["resourceVersion"]
        self.api.request("POST", CM, {"metadata": {"name": "a"}})
        res = self.api.faults(compact=True)
        self.assertEqual(int(res["compacted_at"]), int(rv) + 1)
        w = self.api.watch(CM + "?watch=1&resourceVersion=" + rv)
        self.addCleanup(w.close)
        evs = list(w.events())
        self.assertEqual([(e["type"], e["object"]["reason"]) for e in evs], [("ERROR", "Expired")])
        self.api.faults(watch_410="http")
        status, _, body = self.api.request("GET", CM + "?watch=1&resourceVersion=" + rv)
        self.assertEqual((status, body["reason"]), (410, "Expired"))
        self.assertEqual(self.api.stats()["gone_410"], 2)

    def test_fail_next_429_is_plain_text_with_retry_after(self):
        self.api.faults(fail_next=2, status=429, retry_after=3)
        for _ in range(2):
            status, hdrs, body = self.api.request("GET", CM)
            self.assertEqual(status, 429)
            self.assertTrue(hdrs["Content-Type"].startswith("text/plain"))
            self.assertEqual(hdrs["Retry-After"], "3")
            self.assertEqual(body, b"Too many requests, please try again later.\n")
        self.assertEqual(self.api.request("GET", CM)[0], 200)
        self.assertEqual(self.api.stats()["faults_injected"], 2)

    def test_fail_next_500_and_504_are_status_json(self):
        for code, reason in ((500, "InternalError"), (504, "Timeout")):
            self.api.faults(fail_next=1, status=code, retry_after=1)
            status, hdrs, body = self.api.request("POST", CM, {"metadata": {"name": "x%d" % code}})
            self.assertEqual((status, body["kind"], body["reason"], body["code"]),
                             (code, "Status", reason, code))
            self.assertEqual(body["details"]["retryAfterSeconds"], 1)
            self.assertEqual(hdrs["Retry-After"], "1")
            # The failed create did not happen.
            self.assertEqual(self.api.request("GET", CM + "/x%d" % code)[0], 404)

    def test_fail_next_for_one_verb_and_admin_is_exempt(self):
        self.api.faults(fail_next=1, status=500, verb="watch")
        self.assertEqual(self.api.request("GET", CM)[0], 200)          # list: untouched
        self.assertEqual(self.api.request("GET", "/_cmesh/stats")[0], 200)
        status, _, _ = self.api.request("GET", CM + "?watch=1&timeoutSeconds=1")
        self.assertEqual(status, 500)
        w = self.api.watch(CM + "?watch=1&timeoutSeconds=1")
        self.addCleanup(w.close)
        self.assertEqual(w.status, 200)

    def test_delay_and_reset(self):
        self.api.faults(delay_ms=300, watch_410="http", fail_next=5, status=503)
        self.api.faults(fail_next=0)
        t0 = time.monotonic()
        self.assertEqual(self.api.request("GET", CM)[0], 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)
        self.api.faults(reset=True)
        st = self.api.stats()
        self.assertEqual((st["delay_ms"], st["watch_410"], st["fail_next"]), (0, "event", 0))
        t0 = time.monotonic()
        self.api.request("GET", CM)
        self.assertLess(time.monotonic() - t0, 0.3)

    def test_bad_fault_requests_and_stats(self):
        for bad in ({"fail_next": 1, "status": 418}, {"watch_410": "sometimes"},
                    {"no_such_fault": 1}, {"delay_ms": -1}):
            status, _, body = self.api.request("POST", "/_cmesh/faults", bad)
            self.assertEqual(status, 400, bad)
            self.assertIn("error", body)
        self.assertEqual(self.api.request("GET", "/_cmesh/healthz")[2], b"ok")
        before = self.api.stats()
        self.api.request("GET", CM)
        self.api.request("POST", CM, {"metadata": {"name": "s"}})
        w = self.api.watch(CM + "?watch=1&timeoutSeconds=1")
        list(w.events())
        w.close()
        after = self.api.stats()
        self.assertEqual(after["lists"] - before["lists"], 1)
        self.assertEqual(after["watches_opened"] - before["watches_opened"], 1)
        self.assertEqual(after["verbs"]["create"] - before["verbs"].get("create", 0), 1)
        self.assertEqual(after["requests"] - before["requests"], 3)
        self.assertGreater(int(after["resource_version"]), int(before["resource_version"]))


if __name__ == "__main__":
    unittest.main()

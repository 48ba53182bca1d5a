"""Service cluster IPs in the stand-in API server: a requested IP is reserved,
a duplicate is refused like the real allocator does (422 Invalid, "provided
IP is already allocated"), and allocation never hands out an IP in use."""
import ipaddress
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kubeapi  # noqa: E402
from cmeshtest import MeshTestCase  # noqa: E402

SVC = "/api/v1/namespaces/default/services"
# The first addresses the allocator hands out (10.96.0.10 upwards).
FIRST = ["10.96.0.%d" % i for i in range(10, 16)]


def service(name, ip=None):
    s = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
         "spec": {"ports": [{"port": 80}]}}
    if ip:
        s["spec"]["clusterIP"] = ip
    return s


class ClusterIPTest(MeshTestCase):
    def setUp(self):
        super().setUp()
        self.api = kubeapi.start_for(self)

    def create(self, name, ip=None):
        return self.api.request("POST", SVC, service(name, ip))

    def ip_of(self, body):
        return body["spec"]["clusterIP"]

    def test_requested_ip_is_not_allocated_again(self):
        # A service asks for the allocator's next addresses before anything was allocated.
        st, _, body = self.create("dns", FIRST[0])
        self.assertEqual(st, 201, body)
        self.assertEqual(self.ip_of(body), FIRST[0])
        st, _, body = self.create("pinned", FIRST[2])
        self.assertEqual(st, 201, body)
        seen = {FIRST[0]: "dns", FIRST[2]: "pinned"}
        for i in range(6):
            st, _, body = self.create("auto-%d" % i)
            self.assertEqual(st, 201, body)
            ip = self.ip_of(body)
            self.assertNotIn(ip, seen, "%s handed out again to auto-%d" % (ip, i))
            self.assertIn(ipaddress.ip_address(ip), ipaddress.ip_network("10.96.0.0/12"))
            seen[ip] = "auto-%d" % i

    def test_duplicate_request_is_invalid(self):
        st, _, body = self.create("a")
        self.assertEqual(st, 201, body)
        taken = self.ip_of(body)
        st, _, body = self.create("b", taken)
        self.assertEqual(st, 422, body)
        self.assertEqual(body["kind"], "Status")
        self.assertEqual(body["reason"], "Invalid")
        self.assertIn("provided IP is already allocated", body["message"])
        self.assertEqual(body["details"]["kind"], "Service")
        self.assertEqual(body["details"]["name"], "b")
        self.assertEqual(self.api.request("GET", SVC + "/b")[0], 404)
        # an update that keeps its own IP is fine; moving onto another's is not
        st, _, body = self.create("c")
        self.assertEqual(st, 201, body)
        body["spec"]["ports"][0]["port"] = 81
        st, _, upd = self.api.request("PUT", SVC + "/c", body)
        self.assertEqual(st, 200, upd)
        self.assertEqual(self.ip_of(upd), self.ip_of(body))

    def test_deleted_service_frees_its_ip(self):
        st, _, body = self.create("old", "10.96.5.5")
        self.assertEqual(st, 201, body)
        self.assertEqual(self.create("dup", "10.96.5.5")[0], 422)
        self.assertEqual(self.api.request("DELETE", SVC + "/old")[0], 200)
        st, _, body = self.create("new", "10.96.5.5")
        self.assertEqual(st, 201, body)

    def test_headless_and_external_names_take_no_ip(self):
        for n in ("h1", "h2"):
            st, _, body = self.create(n, "None")
            self.assertEqual(st, 201, body)
            self.assertEqual(self.ip_of(body), "None")
        st, _, body = self.create("auto")
        self.assertEqual(st, 201, body)
        self.assertNotEqual(self.ip_of(body), "None")

    def test_bad_requested_ip_is_invalid(self):
        for bad in ("10.96.0", "300.1.1.1", "not-an-ip"):
            st, _, body = self.create("bad", bad)
            self.assertEqual(st, 422, (bad, body))
            self.assertEqual(body["reason"], "Invalid")

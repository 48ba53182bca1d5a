"""REST semantics of the stand-in: objects, errors, lists, selectors, patches."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kubeapi  # noqa: E402
from cmeshtest import MeshTestCase  # noqa: E402

PODS = "/api/v1/namespaces/demo/pods"
MERGE = "application/merge-patch+json"
JSONP = "application/json-patch+json"
SMP = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"


def pod(name, labels=None, containers=None):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels or {}},
            "spec": {"containers": containers or [{"name": "app", "image": "img:1"}]}}


class RestTest(MeshTestCase):
    def setUp(self):
        super().setUp()
        self.api = kubeapi.start_for(self)
        self.req("POST", "/api/v1/namespaces", {"metadata": {"name": "demo"}}, code=201)

    def req(self, method, path, body=None, ctype="application/json", code=None, **kw):
        status, hdrs, out = self.api.request(method, path, body, ctype=ctype, **kw)
        if code is not None:
            self.assertEqual(status, code, out)
        return out

    def status(self, method, path, body=None, ctype="application/json"):
        status, _, out = self.api.request(method, path, body, ctype=ctype)
        return status, out

    # ---- objects ----

    def test_create_fills_server_fields_and_global_rv(self):
        a = self.req("POST", PODS, pod("a"), code=201)
        s = self.req("POST", "/api/v1/namespaces/demo/services",
                     {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}, code=201)
        md = a["metadata"]
        self.assertRegex(md["uid"], r"^[0-9a-f-]{36}$")
        self.assertRegex(md["creationTimestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(md["namespace"], "demo")
        self.assertEqual(int(s["metadata"]["resourceVersion"]), int(md["resourceVersion"]) + 1)
        self.assertRegex(s["spec"]["clusterIP"], r"^10\.96\.\d+\.\d+$")
        self.assertEqual(s["spec"]["ports"][0], {"port": 80, "protocol": "TCP", "targetPort": 80})
        g = self.req("POST", PODS, {"metadata": {"generateName": "web-"},
                                    "spec": {"containers": []}}, code=201)
        self.assertRegex(g["metadata"]["name"], r"^web-[bcdfghjklmnpqrstvwxz2456789]{5}$")
        ns = self.req("GET", "/api/v1/namespaces/demo", code=200)
        self.assertEqual(ns["metadata"]["labels"], {"kubernetes.io/metadata.name": "demo"})
        # Every namespace gets its default service account.
        self.req("GET", "/api/v1/namespaces/demo/serviceaccounts/default", code=200)

    def test_errors_are_status_objects(self):
        self.req("POST", PODS, pod("a"), code=201)
        code, st = self.status("POST", PODS, pod("a"))
        self.assertEqual((code, st["kind"], st["reason"], st["message"]),
                         (409, "Status", "AlreadyExists", 'pods "a" already exists'))
        code, st = self.status("GET", PODS + "/nope")
        self.assertEqual((code, st["reason"], st["details"]), (404, "NotFound",
                                                               {"name": "nope", "kind": "pods"}))
        code, st = self.status("GET", "/apis/apps/v1/namespaces/demo/deployments/nope")
        self.assertEqual(st["details"], {"name": "nope", "kind": "deployments", "group": "apps"})
        self.assertEqual(st["message"], 'deployments.apps "nope" not found')
        bad = pod("b")
        bad["metadata"]["namespace"] = "other"
        code, st = self.status("POST", PODS, bad)
        self.assertEqual((code, st["reason"]), (400, "BadRequest"))
        self.assertIn("does not match the namespace sent on the request", st["message"])
        code, st = self.status("POST", "/api/v1/namespaces/missing/pods", pod("c"))
        self.assertEqual((code, st["message"]), (404, 'namespaces "missing" not found'))
        code, st = self.status("GET", "/api/v1/frobs")
        self.assertEqual((code, st["message"]),
                         (404, "the server could not find the requested resource"))
        status, _, body = self.api.request("GET", "/no/such/path")
        self.assertEqual((status, body), (404, b"404 page not found\n"))
        code, st = self.status("POST", PODS, b"{not json")
        self.assertEqual((code, st["reason"]), (400, "BadRequest"))
        code, st = self.status("GET", "/apis/authentication.k8s.io/v1/tokenreviews")
        self.assertEqual((code, st["reason"]), (405, "MethodNotAllowed"))

    def test_update_conflict_and_delete(self):
        a = self.req("POST", PODS, pod("a"), code=201)
        stale = dict(a)
        a["metadata"]["labels"] = {"v": "2"}
        b = self.req("PUT", PODS + "/a", a, code=200)
        self.assertGreater(int(b["metadata"]["resourceVersion"]),
                           int(a["metadata"]["resourceVersion"]))
        self.assertEqual(b["metadata"]["uid"], a["metadata"]["uid"])
        stale["metadata"] = dict(stale["metadata"], labels={"v": "3"},
                                 resourceVersion=a["metadata"]["resourceVersion"])
        code, st = self.status("PUT", PODS + "/a", stale)
        self.assertEqual((code, st["reason"]), (409, "Conflict"))
        self.assertIn("the object has been modified", st["message"])
        # kubectl sends DeleteOptions as the DELETE body.
        gone = self.req("DELETE", PODS + "/a", {"propagationPolicy": "Background"}, code=200)
        self.assertEqual(gone["metadata"]["name"], "a")
        self.assertGreater(int(gone["metadata"]["resourceVersion"]),
                           int(b["metadata"]["resourceVersion"]))
        self.req("GET", PODS + "/a", code=404)
        self.req("DELETE", PODS + "/a", code=404)

    def test_protobuf_body_and_accept(self):
        code, st = self.status("POST", PODS, b"\x6b\x38\x73\x00",
                               ctype="application/vnd.kubernetes.protobuf")
        self.assertEqual((code, st["reason"]), (415, "UnsupportedMediaType"))
        # kubectl's typed clients ask for protobuf first; JSON is what they get.
        status, hdrs, body = self.api.request(
            "GET", PODS, headers={"Accept": "application/vnd.kubernetes.protobuf,application/json"})
        self.assertEqual((status, hdrs["Content-Type"], body["kind"]),
                         (200, "application/json", "PodList"))
        status, _, body = self.api.request(
            "GET", PODS, headers={"Accept": "application/vnd.kubernetes.protobuf"})
        self.assertEqual((status, body["reason"]), (406, "NotAcceptable"))

    # ---- lists ----

    def test_list_shape_selectors_and_pages(self):
        empty = self.req("GET", PODS, code=200)
        self.assertEqual((empty["kind"], empty["apiVersion"], empty["items"]),
                         ("PodList", "v1", []))
        self.assertIn("resourceVersion", empty["metadata"])
        for name, labels in (("p1", {"app": "web", "tier": "fe"}), ("p2", {"app": "web"}),
                             ("p3", {"app": "db"}), ("p4", {})):
            self.req("POST", PODS, pod(name, labels), code=201)

        def names(q):
            out = self.req("GET", kubeapi.url_path(PODS, **q), code=200)
            return [i["metadata"]["name"] for i in out["items"]]
        self.assertEqual(names({"labelSelector": "app=web"}), ["p1", "p2"])
        self.assertEqual(names({"labelSelector": "app==web,tier"}), ["p1"])
        self.assertEqual(names({"labelSelector": "app!=web"}), ["p3", "p4"])
        self.assertEqual(names({"labelSelector": "app in (db, web)"}), ["p1", "p2", "p3"])
        self.assertEqual(names({"labelSelector": "app notin (web)"}), ["p3", "p4"])
        self.assertEqual(names({"labelSelector": "!app"}), ["p4"])
        self.assertEqual(names({"fieldSelector": "metadata.name=p2"}), ["p2"])
        self.assertEqual(names({"fieldSelector": "metadata.name!=p2,metadata.namespace=demo"}),
                         ["p1", "p3", "p4"])
        code, st = self.status("GET", kubeapi.url_path(PODS, labelSelector="app in ()"))
        self.assertEqual(code, 400)
        code, st = self.status("GET", kubeapi.url_path(PODS, fieldSelector="spec.bogus=1"))
        self.assertEqual(code, 400)
        all_ns = self.req("GET", "/api/v1/pods", code=200)
        self.assertEqual(len(all_ns["items"]), 4)
        # limit/continue: pages keep the first page's RV and resume in order.
        page1 = self.req("GET", PODS + "?limit=3", code=200)
        rv = page1["metadata"]["resourceVersion"]
        self.assertEqual(page1["metadata"]["remainingItemCount"], 1)
        self.req("POST", PODS, pod("p0"), code=201)     # after the snapshot
        page2 = self.req("GET", kubeapi.url_path(PODS, limit=3,
                                                 **{"continue": page1["metadata"]["continue"]}))
        self.assertEqual([i["metadata"]["name"] for i in page1["items"] + page2["items"]],
                         ["p1", "p2", "p3", "p4"])
        self.assertEqual(page2["metadata"]["resourceVersion"], rv)
        self.assertNotIn("continue", page2["metadata"])
        # resourceVersionMatch rules (§1.2).
        code, st = self.status("GET", PODS + "?resourceVersionMatch=Exact")
        self.assertEqual((code, st["reason"]), (422, "Invalid"))
        exact = self.req("GET", kubeapi.url_path(PODS, resourceVersion=rv,
                                                 resourceVersionMatch="Exact"), code=200)
        self.assertEqual(len(exact["items"]), 4)
        self.api.faults(compact=True)
        code, st = self.status("GET", kubeapi.url_path(PODS, resourceVersion=rv,
                                                       resourceVersionMatch="Exact"))
        self.assertEqual((code, st["reason"]), (410, "Expired"))

    # ---- patches ----

    def test_merge_patch_null_deletes(self):
        self.req("POST", PODS, pod("a", {"x": "1", "y": "2"}), code=201)
        out = self.req("PATCH", PODS + "/a", {"metadata": {"labels": {"x": None, "z": "3"}}},
                       ctype=MERGE, code=200)
        self.assertEqual(out["metadata"]["labels"], {"y": "2", "z": "3"})
        code, st = self.status("PATCH", PODS + "/missing", {"metadata": {}}, ctype=MERGE)
        self.assertEqual(code, 404)

    def test_json_patch_with_pointer_escapes(self):
        self.req("POST", PODS, pod("a"), code=201)
        ops = [{"op": "add", "path": "/metadata/annotations", "value": {}},
               {"op": "add", "path": "/metadata/annotations/linkerd.io~1inject",
                "value": "enabled"},
               {"op": "add", "path": "/metadata/annotations/a~0b", "value": "tilde"},
               {"op": "add", "path": "/spec/containers/-", "value": {"name": "proxy"}}]
        out = self.req("PATCH", PODS + "/a", ops, ctype=JSONP, code=200)
        self.assertEqual(out["metadata"]["annotations"],
                         {"linkerd.io/inject": "enabled", "a~b": "tilde"})
        self.assertEqual([c["name"] for c in out["spec"]["containers"]], ["app", "proxy"])
        code, st = self.status("PATCH", PODS + "/a",
                               [{"op": "test", "path": "/metadata/name", "value": "zzz"}],
                               ctype=JSONP)
        self.assertEqual(code, 422)
        code, st = self.status("PATCH", PODS + "/a",
                               [{"op": "add", "path": "/nothere/x", "value": 1}], ctype=JSONP)
        self.assertEqual(code, 422)

    def test_strategic_merge_keyed_lists(self):
        p = pod("a", containers=[
            {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"},
                                                      {"name": "B", "value": "2"}],
             "ports": [{"containerPort": 80}]},
            {"name": "side", "image": "side:1"}])
        p["spec"]["volumes"] = [{"name": "v1", "emptyDir": {}}]
        self.req("POST", PODS, p, code=201)
        patch = {"spec": {"containers": [
            {"name": "app", "image": "app:2", "env": [{"name": "B", "value": "20"},
                                                      {"name": "C", "value": "3"}]},
            {"name": "side", "$patch": "delete"},
            {"name": "proxy", "image": "proxy:1"}],
            "volumes": [{"name": "v2", "emptyDir": {}}]}}
        out = self.req("PATCH", PODS + "/a", patch, ctype=SMP, code=200)
        cs = out["spec"]["containers"]
        self.assertEqual([c["name"] for c in cs], ["app", "proxy"])
        self.assertEqual(cs[0]["image"], "app:2")
        self.assertEqual(cs[0]["env"], [{"name": "A", "value": "1"}, {"name": "B", "value": "20"},
                                        {"name": "C", "value": "3"}])
        self.assertEqual(cs[0]["ports"], [{"containerPort": 80}])
        self.assertEqual([v["name"] for v in out["spec"]["volumes"]], ["v1", "v2"])
        # $patch: replace on a map replaces it wholesale.
        out = self.req("PATCH", PODS + "/a",
                       {"metadata": {"labels": {"$patch": "replace", "only": "this"}}},
                       ctype=SMP, code=200)
        self.assertEqual(out["metadata"]["labels"], {"only": "this"})

    def test_strategic_on_crd_is_415(self):
        ts = {"apiVersion": "split.smi-spec.io/v1alpha1", "kind": "TrafficSplit",
              "metadata": {"name": "s"},
              "spec": {"service": "web", "backends": [{"service": "w1", "weight": "500m"}]}}
        base = "/apis/split.smi-spec.io/v1alpha1/namespaces/demo/trafficsplits"
        self.req("POST", base, ts, code=201)
        code, st = self.status("PATCH", base + "/s", {"spec": {"service": "x"}}, ctype=SMP)
        self.assertEqual((code, st["reason"]), (415, "UnsupportedMediaType"))
        self.assertNotIn("strategic", st["message"])
        out = self.req("PATCH", base + "/s", {"spec": {"service": "x"}}, ctype=MERGE, code=200)
        self.assertEqual(out["spec"]["service"], "x")
        # Both versions serve the same object; only apiVersion differs.
        v2 = self.req("GET", base.replace("v1alpha1", "v1alpha2") + "/s", code=200)
        self.assertEqual(v2["apiVersion"], "split.smi-spec.io/v1alpha2")
        self.assertEqual(v2["spec"]["backends"][0]["weight"], "500m")
        code, st = self.status("PATCH", base + "/s", {"spec": {}}, ctype="text/plain")
        self.assertEqual(code, 415)

    def test_apply_patch_creates_then_merges(self):
        body = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n"
                "data:\n  a: \"1\"\n")
        path = "/api/v1/namespaces/demo/configmaps/cfg"
        code, st = self.status("PATCH", path, body, ctype=APPLY)
        self.assertEqual((code, st["reason"]), (422, "Invalid"))   # fieldManager is required
        out = self.req("PATCH", path + "?fieldManager=test", body, ctype=APPLY, code=201)
        self.assertEqual(out["data"], {"a": "1"})
        out = self.req("PATCH", path + "?fieldManager=test",
                       json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                                   "metadata": {"name": "cfg"}, "data": {"b": "2"}}),
                       ctype=APPLY, code=200)
        self.assertEqual(out["data"], {"a": "1", "b": "2"})

    # ---- discovery ----

    def test_discovery_documents(self):
        v = self.req("GET", "/version", code=200)
        self.assertEqual((v["major"], v["minor"]), ("1", "32"))
        self.assertEqual(self.req("GET", "/api", code=200)["versions"], ["v1"])
        groups = {g["name"]: g for g in self.req("GET", "/apis", code=200)["groups"]}
        for g in ("apps", "batch", "discovery.k8s.io", "coordination.k8s.io",
                  "authentication.k8s.io", "admissionregistration.k8s.io", "split.smi-spec.io",
                  "linkerd.io"):
            self.assertIn(g, groups)
        self.assertEqual(groups["split.smi-spec.io"]["preferredVersion"]["version"], "v1alpha2")
        core = {r["name"]: r for r in self.req("GET", "/api/v1", code=200)["resources"]}
        self.assertEqual(core["namespaces"]["shortNames"], ["ns"])
        self.assertFalse(core["namespaces"]["namespaced"])
        self.assertIn("serviceaccounts/token", core)
        tr = self.req("GET", "/apis/authentication.k8s.io/v1", code=200)["resources"]
        self.assertEqual([(r["name"], r["verbs"]) for r in tr], [("tokenreviews", ["create"])])
        root = self.req("GET", "/openapi/v3", code=200)["paths"]
        self.assertIn("apis/linkerd.io/v1alpha2", root)
        doc = self.req("GET", root["api/v1"]["serverRelativeURL"], code=200)
        ops = [p["patch"] for p in doc["paths"].values()]
        self.assertIn({"group": "", "version": "v1", "kind": "Pod"},
                      [o["x-kubernetes-group-version-kind"] for o in ops])

    def test_status_subresource_deletecollection_and_namespace_cascade(self):
        a = self.req("POST", PODS, pod("a", {"x": "1"}), code=201)
        a["status"] = {"phase": "Running", "podIP": "10.0.0.7"}
        a["metadata"]["labels"] = {"ignored": "by-status"}
        out = self.req("PUT", PODS + "/a/status", a, code=200)
        self.assertEqual(out["status"]["podIP"], "10.0.0.7")
        self.assertEqual(out["metadata"]["labels"], {"x": "1"})
        out = self.req("PATCH", PODS + "/a/status", {"status": {"phase": "Succeeded"}},
                       ctype=MERGE, code=200)
        self.assertEqual(out["status"], {"phase": "Succeeded", "podIP": "10.0.0.7"})
        self.req("GET", PODS + "/a/bogus", code=404)
        self.req("POST", PODS, pod("b", {"x": "1"}), code=201)
        self.req("POST", PODS, pod("c", {"x": "2"}), code=201)
        gone = self.req("DELETE", PODS + "?labelSelector=x%3D1", code=200)
        self.assertEqual(sorted(i["metadata"]["name"] for i in gone["items"]), ["a", "b"])
        self.assertEqual([i["metadata"]["name"] for i in self.req("GET", PODS)["items"]], ["c"])
        rv = self.req("GET", PODS)["metadata"]["resourceVersion"]
        self.req("DELETE", "/api/v1/namespaces/demo", code=200)
        self.req("GET", PODS + "/c", code=404)
        w = self.api.watch(PODS + "?watch=1&timeoutSeconds=1&resourceVersion=" + rv)
        self.assertEqual([(e["type"], e["object"]["metadata"]["name"]) for e in w.events()],
                         [("DELETED", "c")])
        w.close()


class ObjectsDirTest(MeshTestCase):
    def test_objects_are_loaded_at_start(self):
        d = os.path.join(self.tmp, "objects")
        os.makedirs(d)
        with open(os.path.join(d, "a.yaml"), "w") as f:
            f.write("apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: emoji}\n"
                    "spec: {ports: [{port: 80}]}\n---\n"
                    "apiVersion: v1\nkind: List\nitems:\n"
                    "- {apiVersion: v1, kind: ConfigMap, metadata: {name: c1}}\n"
                    "- {apiVersion: linkerd.io/v1alpha2, kind: ServiceProfile,\n"
                    "   metadata: {name: web.emoji.svc.cluster.local, namespace: emoji}}\n")
        with open(os.path.join(d, "b.json"), "w") as f:
            json.dump({"apiVersion": "v1", "kind": "Namespace",
                       "metadata": {"name": "default", "labels": {"team": "core"}}}, f)
        with open(os.path.join(d, "notes.txt"), "w") as f:
            f.write("not an object")
        api = kubeapi.start_for(self, objects=d)
        self.assertEqual(api.request("GET", "/api/v1/namespaces/emoji/services/web")[0], 200)
        self.assertEqual(api.request("GET", "/api/v1/namespaces/default/configmaps/c1")[0], 200)
        self.assertEqual(api.request("GET", "/apis/linkerd.io/v1alpha2/namespaces/emoji/"
                                     "serviceprofiles/web.emoji.svc.cluster.local")[0], 200)
        ns = api.request("GET", "/api/v1/namespaces/default")[2]
        self.assertEqual(ns["metadata"]["labels"]["team"], "core")

    def test_bad_object_stops_the_server(self):
        d = os.path.join(self.tmp, "objects")
        os.makedirs(d)
        with open(os.path.join(d, "x.yaml"), "w") as f:
            f.write("apiVersion: example.com/v1\nkind: Gizmo\nmetadata: {name: g}\n")
        api = kubeapi.KubeAPI(os.path.join(self.tmp, "srv"), objects=d)
        self.addCleanup(api.stop)
        with self.assertRaises(RuntimeError) as cm:
            api.start()
        self.assertIn("unsupported object example.com/v1 Gizmo", str(cm.exception))


if __name__ == "__main__":
    unittest.main()

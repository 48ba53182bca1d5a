"""Unit tests of the stand-in's patch and selector modules (no server)."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "apiserver"))
from kapi import patch, selectors  # noqa: E402
from kapi.errors import ApiError  # noqa: E402


class MergePatchTest(unittest.TestCase):
    def test_rfc7386_examples(self):
        cases = [({"a": "b"}, {"a": "c"}, {"a": "c"}),
                 ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
                 ({"a": "b"}, {"a": None}, {}),
                 ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
                 ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
                 ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
                 ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
                 ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
                 ({"a": "foo"}, ["c"], ["c"])]
        for target, p, want in cases:
            self.assertEqual(patch.merge_patch(target, p), want, (target, p))

    def test_target_not_modified(self):
        t = {"a": {"b": 1}}
        patch.merge_patch(t, {"a": {"b": 2}})
        self.assertEqual(t, {"a": {"b": 1}})


class StrategicTest(unittest.TestCase):
    def test_service_ports_merge_on_port(self):
        t = {"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}}
        out = patch.strategic_merge(t, {"spec": {"ports": [{"port": 443, "targetPort": 8443}]}})
        self.assertEqual(out["spec"]["ports"], [{"port": 80, "name": "http"},
                                                {"port": 443, "name": "https",
                                                 "targetPort": 8443}])

    def test_directives(self):
        t = {"metadata": {"finalizers": ["a", "b"]},
             "spec": {"containers": [{"name": "x"}, {"name": "y"}],
                      "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}
        p = {"metadata": {"finalizers": ["c"], "$deleteFromPrimitiveList/finalizers": ["a"]},
             "spec": {"$setElementOrder/containers": [{"name": "y"}, {"name": "x"}],
                      "containers": [{"name": "x", "image": "i"}],
                      "strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
        out = patch.strategic_merge(t, p)
        self.assertEqual(out["metadata"]["finalizers"], ["b", "c"])
        self.assertEqual(out["spec"]["containers"], [{"name": "y"}, {"name": "x", "image": "i"}])
        self.assertEqual(out["spec"]["strategy"], {"type": "Recreate"})

    def test_list_replace_directive_and_unkeyed_lists_replace(self):
        t = {"spec": {"volumes": [{"name": "a"}], "tolerations": [{"key": "k1"}]}}
        out = patch.strategic_merge(t, {"spec": {"volumes": [{"$patch": "replace"},
                                                             {"name": "b"}],
                                                 "tolerations": [{"key": "k2"}]}})
        self.assertEqual(out["spec"], {"volumes": [{"name": "b"}], "tolerations": [{"key": "k2"}]})
        with self.assertRaises(ApiError):
            patch.strategic_merge(t, {"$patch": "explode"})

    def test_apply_patch_dispatch(self):
        self.assertEqual(patch.apply_patch(patch.JSON_PATCH, {"a": 1},
                                           [{"op": "replace", "path": "/a", "value": 2}]),
                         {"a": 2})
        with self.assertRaises(ApiError) as cm:
            patch.apply_patch(patch.JSON_PATCH, {}, {"op": "add"})
        self.assertEqual(cm.exception.code, 400)
        self.assertEqual(patch.parse_body(patch.APPLY_PATCH, b"a: 1\n"), {"a": 1})


class SelectorTest(unittest.TestCase):
    def test_parse_and_match(self):
        reqs = selectors.parse_label_selector("app=web, tier in (fe, be),!legacy,env")
        self.assertTrue(selectors.matches(reqs, {"app": "web", "tier": "be", "env": "x"}))
        self.assertFalse(selectors.matches(reqs, {"app": "web", "tier": "be"}))
        self.assertFalse(selectors.matches(reqs, {"app": "web", "tier": "be", "env": "",
                                                  "legacy": "1"}))
        self.assertEqual(selectors.parse_label_selector(""), [])
        for bad in ("a in ()", "=x", "a=b c", "k/=v"):
            with self.assertRaises(ApiError, msg=bad):
                selectors.parse_label_selector(bad)

    def test_object_form(self):
        reqs = selectors.from_label_selector_object(
            {"matchLabels": {"a": "1"},
             "matchExpressions": [{"key": "b", "operator": "NotIn", "values": ["x"]},
                                  {"key": "c", "operator": "DoesNotExist"}]})
        self.assertTrue(selectors.matches(reqs, {"a": "1"}))
        self.assertTrue(selectors.matches(reqs, {"a": "1", "b": "y"}))
        self.assertFalse(selectors.matches(reqs, {"a": "1", "b": "x"}))
        self.assertFalse(selectors.matches(reqs, {"a": "1", "c": ""}))
        self.assertEqual(selectors.from_label_selector_object(None), [])
        with self.assertRaises(ValueError):
            selectors.from_label_selector_object({"matchExpressions": [{"operator": "Near"}]})


if __name__ == "__main__":
    unittest.main()

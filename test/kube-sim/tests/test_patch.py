"""Unit tests for kube_sim.patch: merge patch, JSON patch, strategic merge patch, server-side
apply and managedFields bookkeeping, checked against the behaviour of the real apiserver."""
import copy
import json
import unittest

from kube_sim import patch as p
from kube_sim.patch import PatchError

NOW = "2026-11-26T06:06:20Z"
LATER = "2026-11-26T07:00:00Z"
CR = "demo.example.com/v1/Widget"
DEPLOY = "apps/v1/Deployment"


class PureCallMixin:
    """Every call goes through ``call``, which checks that no argument was changed."""

    def call(self, fn, *args, **kwargs):
        before = copy.deepcopy((args, kwargs))
        try:
            return fn(*args, **kwargs)
        finally:
            self.assertEqual((args, kwargs), before, "%s changed its arguments" % fn.__name__)

    def fails(self, fn, *args, **kwargs):
        with self.assertRaises(PatchError) as ctx:
            self.call(fn, *args, **kwargs)
        return ctx.exception


# ---------------------------------------------------------------------------------------------
# JSON merge patch
# ---------------------------------------------------------------------------------------------

class MergePatchTest(PureCallMixin, unittest.TestCase):
    def test_rfc7386_appendix_a(self):
        cases = [
            ({"a": "b"}, {"a": "c"}, {"a": "c"}),
            ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
            ({"a": "b"}, {"a": None}, {}),
            ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
            ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
            ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
            ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
            ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
            (["a", "b"], ["c", "d"], ["c", "d"]),
            ({"a": "b"}, ["c"], ["c"]),
            ({"a": "foo"}, None, None),
            ({"a": "foo"}, "bar", "bar"),
            ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
            ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
            ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
        ]
        for target, patch, want in cases:
            with self.subTest(target=target, patch=patch):
                self.assertEqual(self.call(p.merge_patch, target, patch), want)

    def test_labels_added_and_removed(self):
        obj = {"metadata": {"name": "g1", "labels": {"a": "b", "c": "d"}}, "spec": {"size": 2}}
        out = self.call(p.merge_patch, obj, {"metadata": {"labels": {"a": None, "e": "f"}}})
        self.assertEqual(out["metadata"]["labels"], {"c": "d", "e": "f"})
        self.assertEqual(out["spec"], {"size": 2})

    def test_lists_are_replaced_and_finalizers_cleared_with_null(self):
        obj = {"metadata": {"finalizers": ["a", "b"]}}
        self.assertEqual(self.call(p.merge_patch, obj, {"metadata": {"finalizers": ["c"]}}),
                         {"metadata": {"finalizers": ["c"]}})
        self.assertEqual(self.call(p.merge_patch, obj, {"metadata": {"finalizers": None}}), {"metadata": {}})

    def test_nulls_inside_arrays_survive_but_objects_in_new_arrays_are_pruned(self):
        # evanphx v4: pruneAryNulls keeps null elements, prunes members of objects inside
        out = self.call(p.merge_patch, {}, {"a": [None, {"b": None, "c": 1}]})
        self.assertEqual(out, {"a": [None, {"c": 1}]})

    def test_raw_body_errors_are_the_apiservers(self):
        e = self.fails(p.merge_patch, {}, b'{"metadata": x}')
        self.assertEqual((e.code, e.reason), (400, "BadRequest"))
        self.assertEqual(e.message, "error decoding patch: invalid character 'x' looking for beginning of value")
        e = self.fails(p.merge_patch, {}, b"null")
        self.assertEqual((e.code, e.message), (400, "Invalid JSON Patch"))
        e = self.fails(p.merge_patch, {}, b'["c"]')
        self.assertEqual(e.message, "error decoding patch: json: cannot unmarshal array into Go value of type "
                                    "map[string]interface {}")
        e = self.fails(p.merge_patch, {}, b"")
        self.assertEqual(e.message, "error decoding patch: unexpected end of JSON input")
        self.assertEqual(self.call(p.merge_patch, {"a": 1}, b'{"b": 2}'), {"a": 1, "b": 2})


# ---------------------------------------------------------------------------------------------
# Decoding with Go's messages
# ---------------------------------------------------------------------------------------------

class DecodeTest(PureCallMixin, unittest.TestCase):
    def test_go_syntax_messages(self):
        cases = [
            (b'{"a": 1,}', "invalid character '}' looking for beginning of object key string"),
            (b'{"a" 1}', "invalid character '1' after object key"),
            (b'{"a": 1 "b": 2}', "invalid character '\"' after object key:value pair"),
            (b"[1 2]", "invalid character '2' after array element"),
            (b"[1,]", "invalid character ']' looking for beginning of value"),
            (b"{'a': 1}", "invalid character '\\'' looking for beginning of object key string"),
            (b"tru", "unexpected end of JSON input"),
            (b"[trux]", "invalid character 'x' in literal true (expecting 'e')"),
            (b"nul", "unexpected end of JSON input"),
            (b"-a", "invalid character 'a' in numeric literal"),
            (b"1.e5", "invalid character 'e' after decimal point in numeric literal"),
            (b"[1e+]", "invalid character ']' in exponent of numeric literal"),
            (b'"a\\q"', "invalid character 'q' in string escape code"),
            (b'["\\u12x4"]', "invalid character 'x' in \\u hexadecimal character escape"),
            (b'{"a": "\n"}', "invalid character '\\n' in string literal"),
            (b'{"a": 1} x', "invalid character 'x' after top-level value"),
            (b"", "unexpected end of JSON input"),
        ]
        for body, want in cases:
            with self.subTest(body=body):
                e = self.fails(p.decode_patch, body, "application/strategic-merge-patch+json")
                self.assertEqual((e.code, e.reason, e.message), (400, "BadRequest", want))

    def test_strategic_body_must_be_an_object(self):
        e = self.fails(p.decode_patch, b"[1]", "strategic")
        self.assertEqual(e.message, "json: cannot unmarshal array into Go value of type map[string]interface {}")
        self.assertEqual(self.call(p.decode_patch, b"null", "strategic"), {})

    def test_json_patch_shape(self):
        e = self.fails(p.decode_patch, b'{"op": "add"}', "application/json-patch+json")
        self.assertEqual(e.message, "error decoding patch: json: cannot unmarshal object into Go value of type "
                                    "[]handlers.jsonPatchOp")
        e = self.fails(p.decode_patch, b"[1]", "json")
        self.assertEqual(e.message, "error decoding patch: json: cannot unmarshal number into Go value of type "
                                    "handlers.jsonPatchOp")
        e = self.fails(p.decode_patch, b'[{"op": "add", "path": 5}]', "json")
        self.assertEqual(e.message, "error decoding patch: json: cannot unmarshal number into Go struct field "
                                    "jsonPatchOp.path of type string")
        self.assertIsNone(self.call(p.decode_patch, b"null", "json"))

    def test_apply_body_must_be_an_object(self):
        e = self.fails(p.decode_patch, b"[1]", "application/apply-patch+yaml")
        self.assertEqual(e.message, "error decoding YAML: error unmarshaling JSON: while decoding JSON: json: "
                                    "cannot unmarshal array into Go value of type map[string]interface {}")

    def test_patch_options(self):
        e = self.fails(p.validate_patch_options, "application/apply-patch+yaml", "", None)
        self.assertEqual((e.code, e.reason), (422, "Invalid"))
        self.assertEqual(e.message, 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is '
                                    'required for apply patch')
        self.assertEqual(e.causes, [{"reason": "FieldValueRequired", "message": "Required value: is required "
                                     "for apply patch", "field": "fieldManager"}])
        e = self.fails(p.validate_patch_options, "merge", "kubectl", True)
        self.assertEqual(e.message, 'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be '
                                    'specified for non-apply patch')
        self.call(p.validate_patch_options, "apply", "kubectl", True)


# ---------------------------------------------------------------------------------------------
# JSON patch
# ---------------------------------------------------------------------------------------------

class JSONPatchTest(PureCallMixin, unittest.TestCase):
    def ok(self, doc, ops, want):
        self.assertEqual(self.call(p.json_patch, doc, ops), want)

    def failed(self, doc, ops, detail):
        e = self.fails(p.json_patch, doc, ops)
        self.assertEqual((e.code, e.reason, e.message),
                         (422, "Invalid", "the server rejected our request due to an error in our request"))
        self.assertEqual(e.details, {})
        self.assertEqual(e.causes, [])
        self.assertEqual(e.detail, detail)
        return e

    def test_rfc6902_appendix_a(self):
        self.ok({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"foo": "bar", "baz": "qux"})
        self.ok({"foo": ["bar", "baz"]}, [{"op": "add", "path": "/foo/1", "value": "qux"}],
                {"foo": ["bar", "qux", "baz"]})
        self.ok({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"})
        self.ok({"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]})
        self.ok({"baz": "qux", "foo": "bar"}, [{"op": "replace", "path": "/baz", "value": "boo"}],
                {"baz": "boo", "foo": "bar"})
        self.ok({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
                [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
                {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}})
        self.ok({"foo": ["all", "grass", "cows", "eat"]}, [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
                {"foo": ["all", "cows", "eat", "grass"]})
        doc = {"baz": "qux", "foo": ["a", 2, "c"]}
        self.ok(doc, [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
                doc)
        self.failed({"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "bar"}],
                    "testing value /baz failed: test failed")
        self.ok({"foo": "bar"}, [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
                {"foo": "bar", "child": {"grandchild": {}}})
        self.ok({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
                {"foo": "bar", "baz": "qux"})
        self.failed({"foo": "bar"}, [{"op": "add", "path": "/baz/bat", "value": "qux"}],
                    'add operation does not apply: doc is missing path: "/baz/bat": missing value')
        self.ok({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10})
        self.failed({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": "10"}],
                    "testing value /~01 failed: test failed")
        self.ok({"foo": ["bar"]}, [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
                {"foo": ["bar", ["abc", "def"]]})

    def test_duplicate_op_member_last_one_wins(self):
        # RFC A.13 calls this invalid; Go's decoder keeps the last "op", so it is a remove
        self.failed({"foo": "bar"}, b'[{"op": "add", "path": "/baz", "value": "qux", "op": "remove"}]',
                    "error in remove for path: '/baz': Unable to remove nonexistent key: baz: missing value")

    def test_escaping(self):
        doc = {"metadata": {"annotations": {"example.com/a~b": "x"}}}
        self.ok(doc, [{"op": "replace", "path": "/metadata/annotations/example.com~1a~0b", "value": "y"}],
                {"metadata": {"annotations": {"example.com/a~b": "y"}}})
        self.ok(doc, [{"op": "remove", "path": "/metadata/annotations/example.com~1a~0b"}],
                {"metadata": {"annotations": {}}})

    def test_copy_and_array_indices(self):
        doc = {"spec": {"args": ["a", "b"]}}
        self.ok(doc, [{"op": "copy", "from": "/spec/args/0", "path": "/spec/args/-"}],
                {"spec": {"args": ["a", "b", "a"]}})
        self.ok(doc, [{"op": "remove", "path": "/spec/args/-1"}], {"spec": {"args": ["a"]}})
        self.ok(doc, [{"op": "add", "path": "/spec/args/2", "value": "c"}], {"spec": {"args": ["a", "b", "c"]}})
        self.failed(doc, [{"op": "add", "path": "/spec/args/3", "value": "c"}],
                    "error in add for path: '/spec/args/3': Unable to access invalid index: 3: "
                    "invalid index referenced")
        self.failed(doc, [{"op": "add", "path": "/spec/args/x", "value": "c"}],
                    "error in add for path: '/spec/args/x': value was not a proper array index: 'x': "
                    'strconv.Atoi: parsing "x": invalid syntax')

    def test_missing_paths(self):
        doc = {"spec": {"size": 2}}
        self.failed(doc, [{"op": "remove", "path": "/spec/foo"}],
                    "error in remove for path: '/spec/foo': Unable to remove nonexistent key: foo: missing value")
        self.failed(doc, [{"op": "replace", "path": "/status/phase", "value": "x"}],
                    "replace operation does not apply: doc is missing path: /status/phase: missing value")
        self.failed({"a": [1]}, [{"op": "replace", "path": "/a/5", "value": 2}],
                    "replace operation does not apply: doc is missing key: /a/5: missing value")
        self.failed(doc, [{"op": "move", "from": "/spec/nope", "path": "/spec/x"}],
                    "error in move for path: 'nope': Unable to remove nonexistent key: nope: missing value")
        self.failed(doc, [{"op": "add", "value": 1}], "add operation failed to decode path: missing value")
        self.failed(doc, [{"op": "frob", "path": "/spec"}], "Unexpected kind: frob")
        self.failed(doc, [{"path": "/spec"}], "Unexpected kind: unknown")

    def test_v4_quirks_kept(self):
        # evanphx v4: replace of a missing object member adds it (v5 refuses; the apiserver uses v4)
        self.ok({"spec": {}}, [{"op": "replace", "path": "/spec/size", "value": 3}], {"spec": {"size": 3}})
        # a missing member "equals" null
        self.ok({"spec": {}}, [{"op": "test", "path": "/spec/size", "value": None}], {"spec": {}})
        # numbers compare by their JSON text and never equal booleans
        self.failed({"a": 1}, [{"op": "test", "path": "/a", "value": 1.0}], "testing value /a failed: test failed")
        self.failed({"a": 1}, [{"op": "test", "path": "/a", "value": True}], "testing value /a failed: test failed")

    def test_whole_document(self):
        self.ok({"a": 1}, [{"op": "replace", "path": "", "value": {"b": 2}}], {"b": 2})
        self.ok({"a": 1}, [{"op": "test", "path": "", "value": {"a": 1}}], {"a": 1})

    def test_conformance_recording(self):
        # the real server's "json patch" step: replace /spec/size on a Gadget
        gadget = {"apiVersion": "apidiff.example.com/v1", "kind": "Gadget",
                  "metadata": {"name": "g1", "labels": {"a": "b"}}, "spec": {"color": "blue", "size": 2}}
        out = self.call(p.json_patch, gadget, [{"op": "replace", "path": "/spec/size", "value": 3}])
        self.assertEqual(out["spec"], {"color": "blue", "size": 3})

    def test_status_body_of_a_failed_patch(self):
        e = self.failed({"a": 1}, [{"op": "test", "path": "/a", "value": 2}], "testing value /a failed: test failed")
        self.assertEqual(e.to_status(), {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                         "message": "the server rejected our request due to an error in our request",
                                         "reason": "Invalid", "details": {}, "code": 422})

    def test_malformed_patches_are_400_and_huge_ones_413(self):
        e = self.fails(p.json_patch, {}, {"op": "add"})
        self.assertEqual((e.code, e.message), (400, "error decoding patch: json: cannot unmarshal object into Go "
                                                    "value of type []handlers.jsonPatchOp"))
        e = self.fails(p.json_patch, {}, b"[{]")
        self.assertEqual(e.message, "error decoding patch: invalid character ']' looking for beginning of object "
                                    "key string")
        e = self.fails(p.json_patch, {}, [{"op": "test", "path": "/a"}] * 10001)
        self.assertEqual((e.code, e.reason, e.message),
                         (413, "RequestEntityTooLarge", "Request entity too large: The allowed maximum operations "
                                                        "in a JSON patch is 10000, got 10001"))
        self.assertEqual(self.call(p.json_patch, {"a": 1}, None), {"a": 1})


# ---------------------------------------------------------------------------------------------
# Strategic merge patch
# ---------------------------------------------------------------------------------------------

def pod(containers, **spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
            "spec": dict(spec, containers=containers)}


class StrategicMergePatchTest(PureCallMixin, unittest.TestCase):
    def smp(self, target, patch, type_key="/v1/Pod"):
        return self.call(p.strategic_merge_patch, target, patch, type_key)

    def smp_fails(self, target, patch, type_key="/v1/Pod"):
        return self.fails(p.strategic_merge_patch, target, patch, type_key)

    def test_containers_merge_by_name(self):
        live = pod([{"name": "app", "image": "app:1", "imagePullPolicy": "IfNotPresent"},
                    {"name": "side", "image": "side:1"}])
        out = self.smp(live, {"spec": {"containers": [{"name": "app", "image": "app:2"}]}})
        self.assertEqual(out["spec"]["containers"],
                         [{"name": "app", "image": "app:2", "imagePullPolicy": "IfNotPresent"},
                          {"name": "side", "image": "side:1"}])

    def test_new_item_without_set_element_order_goes_first(self):
        # mergeSortedSlice puts patch items not in the live list before the live items
        live = pod([{"name": "app", "image": "app:1"}])
        out = self.smp(live, {"spec": {"containers": [{"name": "side", "image": "side:1"}]}})
        self.assertEqual([c["name"] for c in out["spec"]["containers"]], ["side", "app"])

    def test_set_element_order(self):
        live = pod([{"name": "a", "image": "a"}, {"name": "b", "image": "b"}])
        out = self.smp(live, {"spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "c"}, {"name": "b"}],
                                       "containers": [{"name": "c", "image": "c"}]}})
        self.assertEqual([c["name"] for c in out["spec"]["containers"]], ["a", "c", "b"])
        self.assertNotIn("$setElementOrder/containers", out["spec"])

    def test_env_merge_and_delete_directive(self):
        live = pod([{"name": "app", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}])
        out = self.smp(live, {"spec": {"containers": [{"name": "app", "env": [
            {"name": "B", "value": "3"}, {"name": "A", "$patch": "delete"}]}]}})
        self.assertEqual(out["spec"]["containers"][0]["env"], [{"name": "B", "value": "3"}])

    def test_ports_volume_mounts_and_image_pull_secrets(self):
        live = pod([{"name": "app", "ports": [{"containerPort": 80, "protocol": "TCP"}],
                     "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                   imagePullSecrets=[{"name": "one"}])
        out = self.smp(live, {"spec": {"imagePullSecrets": [{"name": "two"}], "containers": [{
            "name": "app", "ports": [{"containerPort": 80, "name": "http"}],
            "volumeMounts": [{"mountPath": "/cache", "name": "cache"}]}]}})
        app = out["spec"]["containers"][0]
        self.assertEqual(app["ports"], [{"containerPort": 80, "protocol": "TCP", "name": "http"}])
        self.assertEqual(sorted(m["mountPath"] for m in app["volumeMounts"]), ["/cache", "/data"])
        self.assertEqual(sorted(s["name"] for s in out["spec"]["imagePullSecrets"]), ["one", "two"])

    def test_retain_keys_switches_a_volume_source(self):
        live = pod([], volumes=[{"name": "cfg", "configMap": {"name": "old"}}, {"name": "tmp", "emptyDir": {}}])
        out = self.smp(live, {"spec": {"volumes": [{"$retainKeys": ["name", "secret"], "name": "cfg",
                                                    "secret": {"secretName": "s"}}]}})
        self.assertEqual(out["spec"]["volumes"], [{"name": "cfg", "secret": {"secretName": "s"}},
                                                  {"name": "tmp", "emptyDir": {}}])

    def test_retain_keys_must_cover_the_patch(self):
        live = pod([], volumes=[{"name": "cfg", "configMap": {"name": "old"}}])
        e = self.smp_fails(live, {"spec": {"volumes": [{"$retainKeys": ["name"], "name": "cfg",
                                                        "secret": {"secretName": "s"}}]}})
        self.assertEqual((e.code, e.reason, e.message), (400, "BadRequest", "invalid patch format of retainKeys"))

    def test_owner_references_merge_by_uid(self):
        live = {"metadata": {"name": "cm", "ownerReferences": [{"uid": "1", "name": "a", "kind": "Job"}]}}
        out = self.smp(live, {"metadata": {"ownerReferences": [{"uid": "2", "name": "b", "kind": "Job"},
                                                               {"uid": "1", "controller": True}]}},
                       "/v1/ConfigMap")
        refs = {r["uid"]: r for r in out["metadata"]["ownerReferences"]}
        self.assertEqual(refs["1"], {"uid": "1", "name": "a", "kind": "Job", "controller": True})
        self.assertEqual(refs["2"]["name"], "b")

    def test_finalizers_merge_and_delete_from_primitive_list(self):
        live = {"metadata": {"name": "cm", "finalizers": ["a", "b"]}}
        out = self.smp(live, {"metadata": {"finalizers": ["c", "a"]}}, "/v1/ConfigMap")
        self.assertEqual(sorted(out["metadata"]["finalizers"]), ["a", "b", "c"])
        out = self.smp(live, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}, "/v1/ConfigMap")
        self.assertEqual(out["metadata"]["finalizers"], ["b"])
        out = self.smp(live, {"metadata": {"$setElementOrder/finalizers": ["a", "c"],
                                           "$deleteFromPrimitiveList/finalizers": ["b"],
                                           "finalizers": ["c"]}}, "/v1/ConfigMap")
        self.assertEqual(out["metadata"]["finalizers"], ["a", "c"])

    def test_null_deletes_and_lists_without_a_strategy_are_replaced(self):
        live = pod([{"name": "app"}], tolerations=[{"key": "a", "operator": "Exists"}])
        live["metadata"]["labels"] = {"x": "1", "y": "2"}
        out = self.smp(live, {"metadata": {"labels": {"x": None}},
                              "spec": {"tolerations": [{"key": "b", "operator": "Exists"}], "nodeName": None}})
        self.assertEqual(out["metadata"]["labels"], {"y": "2"})
        self.assertEqual(out["spec"]["tolerations"], [{"key": "b", "operator": "Exists"}])

    def test_service_ports_and_conditions(self):
        svc = {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80, "targetPort": 8080}]},
               "status": {"conditions": [{"type": "A", "status": "True"}]}}
        out = self.smp(svc, {"spec": {"ports": [{"port": 443, "targetPort": 8443}]},
                             "status": {"conditions": [{"type": "B", "status": "False"}]}}, "/v1/Service")
        self.assertEqual(sorted(x["port"] for x in out["spec"]["ports"]), [80, 443])
        self.assertEqual(sorted(c["type"] for c in out["status"]["conditions"]), ["A", "B"])
        node = {"metadata": {"name": "n"}, "status": {"conditions": [{"type": "Ready", "status": "False"}]}}
        out = self.smp(node, {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}, "/v1/Node")
        self.assertEqual(out["status"]["conditions"], [{"type": "Ready", "status": "True"}])

    def test_job_template_and_pod_failure_policy(self):
        job = {"metadata": {"name": "j"}, "spec": {
            "podFailurePolicy": {"rules": [{"action": "FailJob"}, {"action": "Ignore"}]},
            "template": {"spec": {"containers": [{"name": "main", "image": "x"}]}}}}
        out = self.smp(job, {"spec": {"podFailurePolicy": {"rules": [{"action": "Count"}]},
                                      "template": {"spec": {"containers": [{"name": "main", "image": "y"}]}}}},
                       "batch/v1/Job")
        self.assertEqual(out["spec"]["podFailurePolicy"], {"rules": [{"action": "Count"}]})
        self.assertEqual(out["spec"]["template"]["spec"]["containers"], [{"name": "main", "image": "y"}])

    def test_unknown_kind_treats_lists_as_atomic(self):
        cr = {"spec": {"items": [{"name": "a"}], "conf": {"x": 1, "y": 2}}}
        out = self.smp(cr, {"spec": {"items": [{"name": "b"}], "conf": {"x": None, "z": 3}}}, CR)
        self.assertEqual(out["spec"], {"items": [{"name": "b"}], "conf": {"y": 2, "z": 3}})

    def test_patch_replace_and_delete_directives(self):
        live = pod([{"name": "a"}, {"name": "b"}])
        live["metadata"]["labels"] = {"x": "1"}
        out = self.smp(live, {"metadata": {"labels": {"$patch": "replace", "y": "2"}},
                              "spec": {"containers": [{"name": "c"}, {"$patch": "replace"}]}})
        self.assertEqual(out["metadata"]["labels"], {"y": "2"})
        self.assertEqual(out["spec"]["containers"], [{"name": "c"}])
        out = self.smp(live, {"metadata": {"labels": {"$patch": "delete"}}})
        self.assertEqual(out["metadata"]["labels"], {})

    def test_merge_directive_is_refused_as_upstream_does(self):
        live = pod([])
        live["metadata"]["labels"] = {"a": "b"}
        e = self.smp_fails(live, {"metadata": {"labels": {"$patch": "merge"}}})
        self.assertEqual((e.code, e.reason, e.message),
                         (500, "", "unknown patch type: merge in map: map[$patch:merge]"))
        # only a map that exists is merged: a new one is copied in, and decoding drops "$patch"
        self.assertEqual(self.smp(pod([]), {"metadata": {"labels": {"$patch": "merge", "x": "y"}}})["metadata"],
                         {"name": "p", "namespace": "default", "labels": {"x": "y"}})
        e = self.smp_fails(pod([{"name": "a"}]), {"spec": {"containers": [{"$patch": "merge"}]}})
        self.assertEqual(e.message, "merging lists cannot yet be specified in the patch")

    def test_package_errors(self):
        e = self.smp_fails(pod([{"name": "a"}]), {"spec": {"containers": [{"image": "x"}]}})
        self.assertEqual((e.code, e.message), (500, "map: map[image:x] does not contain declared merge key: name"))
        e = self.smp_fails({"metadata": {"finalizers": [["a"]]}}, {"metadata": {"finalizers": [["b"]]}},
                           "/v1/ConfigMap")
        self.assertEqual((e.code, e.reason, e.details), (422, "Invalid", {}))
        e = self.smp_fails(pod([]), {"spec": {"$setElementOrder": []}})
        self.assertEqual((e.code, e.message), (400, "invalid patch format of setElementOrder list"))
        e = self.smp_fails(pod([]), {"spec": {"$deleteFromPrimitiveList": []}})
        self.assertEqual((e.code, e.message), (400, "invalid patch format of primitive list"))
        e = self.smp_fails(pod([]), b'{"spec": ')
        self.assertEqual((e.code, e.message), (400, "unexpected end of JSON input"))

    def test_kubectl_apply_round_trip_on_a_deployment(self):
        """kubectl apply: last-applied -> modified, with the live object carrying a sidecar some
        controller injected and server defaults. The patch is what kubectl's three-way merge
        (CreateThreeWayMergePatch) sends for this change."""
        last_applied = {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"annotations": {}, "labels": {"app": "web"}, "name": "web", "namespace": "default"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{
                         "name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}],
                         "env": [{"name": "MODE", "value": "prod"}, {"name": "OLD", "value": "x"}]}]}}}}
        modified = copy.deepcopy(last_applied)
        modified["metadata"]["labels"]["tier"] = "frontend"
        modified["spec"]["replicas"] = 3
        web = modified["spec"]["template"]["spec"]["containers"][0]
        web["image"] = "nginx:1.27"
        web["env"] = [{"name": "MODE", "value": "prod"}, {"name": "NEW", "value": "y"}]
        live = copy.deepcopy(last_applied)
        live["metadata"]["annotations"] = {
            "deployment.kubernetes.io/revision": "1",
            "kubectl.kubernetes.io/last-applied-configuration": json.dumps(last_applied)}
        live["metadata"].update({"uid": "u1", "resourceVersion": "7", "generation": 1})
        live["spec"].update({"progressDeadlineSeconds": 600, "revisionHistoryLimit": 10,
                             "strategy": {"type": "RollingUpdate",
                                          "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}})
        live_containers = live["spec"]["template"]["spec"]["containers"]
        live_containers[0].update({"imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/termination-log"})
        live_containers[0]["ports"][0]["protocol"] = "TCP"
        live_containers.append({"name": "log-shipper", "image": "shipper:3"})
        live["status"] = {"replicas": 2, "conditions": [{"type": "Available", "status": "True"}]}
        new_last_applied = json.dumps(modified)
        kubectl_patch = {
            "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": new_last_applied},
                         "labels": {"tier": "frontend"}},
            "spec": {"replicas": 3, "template": {"spec": {
                "$setElementOrder/containers": [{"name": "web"}],
                "containers": [{"$setElementOrder/env": [{"name": "MODE"}, {"name": "NEW"}],
                                "env": [{"name": "NEW", "value": "y"}, {"$patch": "delete", "name": "OLD"}],
                                "image": "nginx:1.27", "name": "web"}]}}}}

        out = self.smp(live, kubectl_patch, DEPLOY)

        self.assertEqual(out["metadata"]["labels"], {"app": "web", "tier": "frontend"})
        self.assertEqual(out["metadata"]["annotations"], {
            "deployment.kubernetes.io/revision": "1",
            "kubectl.kubernetes.io/last-applied-configuration": new_last_applied})
        self.assertEqual(out["spec"]["replicas"], 3)
        self.assertEqual(out["spec"]["strategy"], live["spec"]["strategy"])
        containers = out["spec"]["template"]["spec"]["containers"]
        self.assertEqual([c["name"] for c in containers], ["web", "log-shipper"])
        self.assertEqual(containers[0], {
            "name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80, "protocol": "TCP"}],
            "env": [{"name": "MODE", "value": "prod"}, {"name": "NEW", "value": "y"}],
            "imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/termination-log"})
        self.assertEqual(containers[1], {"name": "log-shipper", "image": "shipper:3"})
        self.assertEqual(out["status"], live["status"])
        self.assertNotIn("$setElementOrder/containers", json.dumps(out))


# ---------------------------------------------------------------------------------------------
# managedFields for non-apply writes
# ---------------------------------------------------------------------------------------------

def widget(size, **extra):
    obj = {"apiVersion": "demo.example.com/v1", "kind": "Widget",
           "metadata": {"name": "w1", "namespace": "default", "uid": "u", "resourceVersion": "1",
                        "generation": 1, "creationTimestamp": NOW},
           "spec": {"size": size}}
    obj["spec"].update(extra)
    return obj


class RecordUpdateTest(PureCallMixin, unittest.TestCase):
    def test_create_matches_the_recorded_table_row(self):
        obj = widget(4)
        obj["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": "{...}\n"}
        mf = self.call(p.record_update, None, None, obj, "kubectl-client-side-apply", "Update",
                       "demo.example.com/v1", NOW)
        self.assertEqual(mf, [{"manager": "kubectl-client-side-apply", "operation": "Update",
                               "apiVersion": "demo.example.com/v1", "time": NOW, "fieldsType": "FieldsV1",
                               "fieldsV1": {"f:metadata": {"f:annotations": {
                                   ".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}}},
                                   "f:spec": {".": {}, "f:size": {}}}}])
        self.assertEqual(list(mf[0]), ["manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1"])

    def test_typed_create_compares_against_the_zero_object(self):
        deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
                  "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                           "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}},
                           "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                               {"name": "web", "image": "nginx",
                                "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}}}}
        mf = self.call(p.record_update, None, None, deploy, "kubectl-create", "Update", "apps/v1", NOW)
        fields = mf[0]["fieldsV1"]
        self.assertEqual(fields["f:metadata"], {"f:labels": {".": {}, "f:app": {}}})
        spec = fields["f:spec"]
        self.assertNotIn(".", spec)
        self.assertEqual(spec["f:selector"], {})
        self.assertEqual(spec["f:strategy"], {"f:rollingUpdate": {".": {}, "f:maxSurge": {}}, "f:type": {}})
        template = spec["f:template"]
        self.assertEqual(template["f:metadata"], {"f:labels": {".": {}, "f:app": {}}})
        self.assertEqual(template["f:spec"]["f:containers"], {'k:{"name":"web"}': {
            ".": {}, "f:image": {}, "f:name": {},
            "f:ports": {".": {}, 'k:{"containerPort":80,"protocol":"TCP"}': {
                ".": {}, "f:containerPort": {}, "f:protocol": {}}}}})
        self.assertEqual(list(spec), ["f:replicas", "f:selector", "f:strategy", "f:template"])

    def test_update_moves_ownership_and_keeps_untouched_entries(self):
        old = widget(4, color="red")
        created = self.call(p.record_update, None, None, old, "creator", "Update", "demo.example.com/v1", NOW)
        old["metadata"]["managedFields"] = created
        new = copy.deepcopy(old)
        new["spec"]["size"] = 5
        new["metadata"]["resourceVersion"] = "2"
        mf = self.call(p.record_update, created, old, new, "kubectl-edit", "Update", "demo.example.com/v1", LATER)
        self.assertEqual([(e["manager"], e["time"]) for e in mf], [("creator", NOW), ("kubectl-edit", LATER)])
        self.assertEqual(mf[0]["fieldsV1"], {"f:spec": {".": {}, "f:color": {}}})
        self.assertEqual(mf[1]["fieldsV1"], {"f:spec": {"f:size": {}}})

    def test_noop_update_keeps_the_entry_and_its_time(self):
        obj = widget(4)
        created = self.call(p.record_update, None, None, obj, "creator", "Update", "demo.example.com/v1", NOW)
        obj["metadata"]["managedFields"] = created
        again = copy.deepcopy(obj)
        again["metadata"]["resourceVersion"] = "9"
        mf = self.call(p.record_update, created, obj, again, "creator", "Update", "demo.example.com/v1", LATER)
        self.assertEqual(mf, created)

    def test_removed_fields_leave_every_entry(self):
        old = widget(4, color="red")
        created = self.call(p.record_update, None, None, old, "creator", "Update", "demo.example.com/v1", NOW)
        old["metadata"]["managedFields"] = created
        new = copy.deepcopy(old)
        del new["spec"]["color"]
        mf = self.call(p.record_update, created, old, new, "other", "Update", "demo.example.com/v1", LATER)
        self.assertEqual(mf, [dict(created[0], fieldsV1={"f:spec": {".": {}, "f:size": {}}})])

    def test_status_subresource_entry(self):
        old = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": {"parallelism": 1},
               "status": {}}
        new = copy.deepcopy(old)
        new["status"] = {"active": 1, "conditions": [{"type": "Complete", "status": "True"}]}
        mf = self.call(p.record_update, [], old, new, "job-controller", "Update", "batch/v1", NOW, "status")
        self.assertEqual(mf[0]["subresource"], "status")
        self.assertEqual(mf[0]["fieldsV1"], {"f:status": {"f:active": {}, "f:conditions": {}}})
        self.assertEqual(list(mf[0])[-1], "subresource")

    def test_main_resource_writes_do_not_own_status_of_kinds_with_a_status_subresource(self):
        old = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": {"parallelism": 1}}
        new = copy.deepcopy(old)
        new["spec"]["parallelism"] = 2
        new["status"] = {"active": 1}
        mf = self.call(p.record_update, [], old, new, "me", "Update", "batch/v1", NOW)
        self.assertEqual(mf[0]["fieldsV1"], {"f:spec": {"f:parallelism": {}}})

    def test_clients_may_reset_managed_fields(self):
        obj = widget(4)
        created = self.call(p.record_update, None, None, obj, "creator", "Update", "demo.example.com/v1", NOW)
        obj["metadata"]["managedFields"] = created
        new = copy.deepcopy(obj)
        new["metadata"]["managedFields"] = [{}]
        self.assertEqual(self.call(p.record_update, created, obj, new, "me", "Update", "demo.example.com/v1", LATER),
                         [])

    def test_entries_are_sorted_apply_first(self):
        applied, mf = self.call(p.apply_patch, None, {"apiVersion": "demo.example.com/v1", "kind": "Widget",
                                                      "metadata": {"name": "w1"}, "spec": {"size": 4}},
                                "z-applier", False, CR, LATER)
        new = copy.deepcopy(applied)
        new["spec"]["color"] = "blue"
        mf = self.call(p.record_update, mf, applied, new, "a-updater", "Update", "demo.example.com/v1", NOW)
        self.assertEqual([(e["manager"], e["operation"]) for e in mf],
                         [("z-applier", "Apply"), ("a-updater", "Update")])


# ---------------------------------------------------------------------------------------------
# Server-side apply
# ---------------------------------------------------------------------------------------------

def widget_config(**spec):
    return {"apiVersion": "demo.example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": spec}


def deployment_config(*containers, replicas=1):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [dict(c) for c in containers]}}}}


class ApplyTest(PureCallMixin, unittest.TestCase):
    def apply(self, current, config, manager, force=False, type_key=CR, now=NOW, **kw):
        return self.call(p.apply_patch, current, config, manager, force, type_key, now, **kw)

    def test_create(self):
        obj, mf = self.apply(None, widget_config(size=1), "alice")
        self.assertEqual(obj["spec"], {"size": 1})
        self.assertEqual(obj["metadata"]["managedFields"], mf)
        self.assertEqual(mf, [{"manager": "alice", "operation": "Apply", "apiVersion": "demo.example.com/v1",
                               "time": NOW, "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:size": {}}}}])

    def test_create_deployment_fields_use_list_keys(self):
        obj, mf = self.apply(None, deployment_config({"name": "web", "image": "nginx",
                                                      "ports": [{"containerPort": 80}]}), "kubectl", type_key=DEPLOY)
        spec = mf[0]["fieldsV1"]["f:spec"]
        self.assertEqual(spec["f:selector"], {})
        self.assertEqual(spec["f:template"]["f:spec"]["f:containers"], {'k:{"name":"web"}': {
            ".": {}, "f:image": {}, "f:name": {},
            "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}}}})
        self.assertEqual(obj["spec"]["template"]["spec"]["containers"][0]["image"], "nginx")

    def test_reapply_is_idempotent(self):
        obj, mf = self.apply(None, widget_config(size=1), "alice")
        again, mf2 = self.apply(obj, widget_config(size=1), "alice", now=LATER)
        self.assertEqual(again, obj)
        self.assertEqual(mf2, mf)

    def test_conflict_between_two_appliers(self):
        obj, _ = self.apply(None, widget_config(size=1), "alice")
        e = self.fails(p.apply_patch, obj, widget_config(size=2), "bob", False, CR, LATER)
        self.assertEqual((e.code, e.reason), (409, "Conflict"))
        self.assertEqual(e.message, 'Apply failed with 1 conflict: conflict with "alice": .spec.size')
        self.assertEqual(e.causes, [{"reason": "FieldManagerConflict", "message": 'conflict with "alice"',
                                     "field": ".spec.size"}])
        self.assertEqual(e.to_status()["details"], {"causes": e.causes})

    def test_same_value_is_shared_ownership(self):
        obj, _ = self.apply(None, widget_config(size=1), "alice")
        obj, mf = self.apply(obj, widget_config(size=1), "bob", now=LATER)
        self.assertEqual([(e["manager"], e["fieldsV1"]) for e in mf],
                         [("alice", {"f:spec": {"f:size": {}}}), ("bob", {"f:spec": {"f:size": {}}})])

    def test_force_moves_ownership(self):
        obj, _ = self.apply(None, widget_config(size=1, color="red"), "alice")
        obj, mf = self.apply(obj, widget_config(size=2), "bob", force=True, now=LATER)
        self.assertEqual(obj["spec"], {"size": 2, "color": "red"})
        self.assertEqual([(e["manager"], e["fieldsV1"]) for e in mf],
                         [("alice", {"f:spec": {"f:color": {}}}), ("bob", {"f:spec": {"f:size": {}}})])

    def test_conflict_with_an_update_manager_names_its_api_version(self):
        obj, mf = self.apply(None, widget_config(size=1), "alice")
        edited = copy.deepcopy(obj)
        edited["spec"]["size"] = 5
        edited["metadata"]["managedFields"] = self.call(p.record_update, mf, obj, edited, "kubectl-edit", "Update",
                                                        "demo.example.com/v1", LATER)
        e = self.fails(p.apply_patch, edited, widget_config(size=1), "alice", False, CR, LATER)
        self.assertEqual(e.message, 'Apply failed with 1 conflict: conflict with "kubectl-edit" using '
                                    'demo.example.com/v1: .spec.size')

    def test_several_conflicts(self):
        obj, _ = self.apply(None, widget_config(size=1, color="red"), "alice")
        e = self.fails(p.apply_patch, obj, widget_config(size=2, color="blue"), "bob", False, CR, LATER)
        self.assertEqual(e.message, 'Apply failed with 2 conflicts: conflicts with "alice":\n- .spec.color\n'
                                    '- .spec.size')
        self.assertEqual([c["field"] for c in e.causes], [".spec.color", ".spec.size"])

    def test_fields_omitted_on_reapply_are_removed(self):
        obj, _ = self.apply(None, widget_config(size=1, color="red"), "alice")
        obj, mf = self.apply(obj, widget_config(size=1), "alice", now=LATER)
        self.assertEqual(obj["spec"], {"size": 1})
        self.assertEqual(mf[0]["fieldsV1"], {"f:spec": {"f:size": {}}})
        self.assertEqual(mf[0]["time"], LATER)

    def test_fields_another_manager_owns_stay(self):
        obj, _ = self.apply(None, widget_config(size=1, color="red"), "alice")
        obj, _ = self.apply(obj, widget_config(color="red"), "bob")
        obj, mf = self.apply(obj, widget_config(size=1), "alice", now=LATER)
        self.assertEqual(obj["spec"], {"size": 1, "color": "red"})

    def test_list_items_merge_by_key_and_omitted_ones_go(self):
        cfg = deployment_config({"name": "web", "image": "nginx"}, {"name": "side", "image": "side"})
        obj, _ = self.apply(None, cfg, "kubectl", type_key=DEPLOY)
        # a controller adds a default to the web container; it must survive re-applies
        obj["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "Always"
        obj, mf = self.apply(obj, deployment_config({"name": "web", "image": "nginx:2"}), "kubectl",
                             type_key=DEPLOY, now=LATER)
        self.assertEqual(obj["spec"]["template"]["spec"]["containers"],
                         [{"name": "web", "image": "nginx:2", "imagePullPolicy": "Always"}])
        self.assertEqual(list(mf[0]["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]),
                         ['k:{"name":"web"}'])

    def test_finalizers_are_a_set(self):
        cfg = widget_config(size=1)
        cfg["metadata"]["finalizers"] = ["a.example.com/x"]
        obj, mf = self.apply(None, cfg, "alice")
        self.assertEqual(mf[0]["fieldsV1"]["f:metadata"], {"f:finalizers": {'v:"a.example.com/x"': {}}})
        other = widget_config()
        other["metadata"]["finalizers"] = ["b.example.com/y"]
        obj, _ = self.apply(obj, other, "bob")
        self.assertEqual(obj["metadata"]["finalizers"], ["a.example.com/x", "b.example.com/y"])

    def test_object_without_managed_fields_belongs_to_before_first_apply(self):
        live = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "uid": "u"}, "data": {"k": "old"}}
        config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "new"}}
        e = self.fails(p.apply_patch, live, config, "kubectl", False, "/v1/ConfigMap", NOW)
        self.assertEqual(e.message, 'Apply failed with 1 conflict: conflict with "before-first-apply" using v1: '
                                    '.data.k')
        obj, mf = self.apply(live, config, "kubectl", force=True, type_key="/v1/ConfigMap")
        self.assertEqual(obj["data"], {"k": "new"})
        self.assertEqual([e["manager"] for e in mf], ["kubectl"])

    def test_status_is_not_applied_through_the_main_resource(self):
        cfg = deployment_config({"name": "web", "image": "nginx"})
        cfg["status"] = {"replicas": 5}
        obj, mf = self.apply(None, cfg, "kubectl", type_key=DEPLOY)
        self.assertNotIn("status", obj)
        self.assertNotIn("f:status", mf[0]["fieldsV1"])

    def test_status_subresource_apply(self):
        obj, _ = self.apply(None, widget_config(size=1), "alice")
        cfg = widget_config()
        del cfg["spec"]
        cfg["status"] = {"phase": "Ready"}
        obj, mf = self.apply(obj, cfg, "ctrl", subresource="status", now=LATER)
        self.assertEqual(obj["status"], {"phase": "Ready"})
        self.assertEqual(mf[1], {"manager": "ctrl", "operation": "Apply", "apiVersion": "demo.example.com/v1",
                                 "time": LATER, "fieldsType": "FieldsV1",
                                 "fieldsV1": {"f:status": {"f:phase": {}}}, "subresource": "status"})

    def test_bad_requests(self):
        e = self.fails(p.apply_patch, None, widget_config(size=1), "", False, CR, NOW)
        self.assertEqual((e.code, e.reason), (422, "Invalid"))
        cfg = widget_config(size=1)
        cfg["kind"] = "Gadget"
        e = self.fails(p.apply_patch, None, cfg, "alice", False, CR, NOW)
        self.assertEqual((e.code, e.message), (400, "invalid object type: demo.example.com/v1, Kind=Gadget"))
        e = self.fails(p.apply_patch, None, {"kind": "Pod"}, "alice", False, "/v1/Pod", NOW)
        self.assertEqual(e.message, "invalid object type: /, Kind=Pod")
        cfg = widget_config(size=1)
        cfg["metadata"]["managedFields"] = []
        e = self.fails(p.apply_patch, None, cfg, "alice", False, CR, NOW)
        self.assertEqual((e.code, e.message), (400, "metadata.managedFields must be nil"))


if __name__ == "__main__":
    unittest.main()

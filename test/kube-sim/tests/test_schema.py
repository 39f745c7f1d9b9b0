"""Tests for kube_sim.schema: CRD schema validation, defaulting, pruning and CRD validation.

The recorded answers of a real kube-apiserver (shared/conformance/real-apiserver.json) must come
out byte-identical; other expectations are the texts the real Go code produces (cited inline)."""
import copy
import json
import os
import unittest

from kube_sim import schema as S

CONFORMANCE = os.environ.get("KUBE_SIM_CONFORMANCE", "/work/shared/conformance")


def _recording():
    path = os.path.join(CONFORMANCE, "real-apiserver.json")
    if not os.path.exists(path):
        raise unittest.SkipTest("no conformance recording at %s" % path)
    with open(path) as f:
        return json.load(f)["examples"]


GADGET_SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {"type": "object", "required": ["size"], "properties": {
            "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
            "size": {"type": "integer", "minimum": 0}}},
        "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
    },
}


def crd(schema=None, **spec_over):
    c = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
         "metadata": {"name": "gadgets.apidiff.example.com"},
         "spec": {"group": "apidiff.example.com", "scope": "Namespaced",
                  "names": {"kind": "Gadget", "plural": "gadgets", "singular": "gadget", "shortNames": ["gdg"]},
                  "versions": [{"name": "v1", "served": True, "storage": True,
                                "schema": {"openAPIV3Schema": copy.deepcopy(schema or GADGET_SCHEMA)},
                                "subresources": {"status": {}}}]}}
    c["spec"].update(spec_over)
    return c


def causes_of(errs):
    return [(c.get("field"), c["message"]) for c in errs]


class RecordedAnswers(unittest.TestCase):
    def setUp(self):
        self.ex = _recording()

    def test_invalid_object_causes_and_message_are_byte_identical(self):
        rec = self.ex["POST /apis/apidiff.example.com/v1/namespaces/default/gadgets -> 422"]
        sch = self.ex["POST /apis/apiextensions.k8s.io/v1/customresourcedefinitions -> 201"]["request"]["spec"][
            "versions"][0]["schema"]["openAPIV3Schema"]
        obj = copy.deepcopy(rec["request"])
        S.prune(obj, sch)
        S.apply_defaults(obj, sch)
        causes = S.validate(obj, sch, "Gadget.apidiff.example.com")
        self.assertEqual(json.dumps(causes, sort_keys=True),
                         json.dumps(rec["response"]["details"]["causes"], sort_keys=True))
        self.assertEqual(causes, rec["response"]["details"]["causes"])
        self.assertEqual(S.invalid_message("Gadget.apidiff.example.com", "bad", causes), rec["response"]["message"])

    def test_defaulting_matches_create_response(self):
        rec = self.ex["POST /apis/apidiff.example.com/v1/namespaces/default/gadgets -> 201"]
        obj = copy.deepcopy(rec["request"])
        self.assertEqual(S.prune(obj, GADGET_SCHEMA), [])
        S.apply_defaults(obj, GADGET_SCHEMA)
        self.assertEqual(obj["spec"], rec["response"]["spec"])

    def test_crd_create_response_spec_and_status(self):
        rec = self.ex["POST /apis/apiextensions.k8s.io/v1/customresourcedefinitions -> 201"]
        out = S.crd_default_and_status(rec["request"])
        self.assertEqual(out["spec"], rec["response"]["spec"])
        self.assertEqual(out["status"], rec["response"]["status"])
        self.assertEqual(S.validate_crd(rec["request"]), [])

    def _mask(self, status):
        status = copy.deepcopy(status)
        for c in status.get("conditions") or []:
            c["lastTransitionTime"] = "<lastTransitionTime>"
        return status

    def test_crd_status_phases(self):
        created = self.ex["POST /apis/apiextensions.k8s.io/v1/customresourcedefinitions -> 201"]["response"]
        installing = self.ex["GET /apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                             "gadgets.apidiff.example.com -> 200"]["response"]
        deleting = self.ex["DELETE /apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                           "gadgets.apidiff.example.com -> 200"]["response"]
        phase2 = S.crd_names_accepted(created, "2026-01-01T00:00:00Z")
        self.assertEqual(self._mask(phase2), installing["status"])
        c = dict(created, status=phase2)
        phase3 = S.crd_established(c, "2026-01-01T00:00:01Z")
        self.assertTrue(S.crd_is_established(dict(c, status=phase3)))
        phase4 = S.crd_terminating(dict(c, status=phase3), "2026-01-01T00:00:02Z")
        self.assertEqual(self._mask(phase4), deleting["status"])
        # an unchanged condition keeps its transition time; a changed one gets the new time
        self.assertEqual(phase3["conditions"][0]["lastTransitionTime"], "2026-01-01T00:00:00Z")
        self.assertEqual(phase3["conditions"][1]["lastTransitionTime"], "2026-01-01T00:00:01Z")

    def test_missing_required(self):
        obj = {"apiVersion": "apidiff.example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}, "spec": {}}
        S.apply_defaults(obj, GADGET_SCHEMA)
        self.assertEqual(S.validate(obj, GADGET_SCHEMA),
                         [{"reason": "FieldValueRequired", "message": "Required value", "field": "spec.size"}])
        self.assertEqual(S.invalid_message("Gadget.apidiff.example.com", "g", S.validate(obj, GADGET_SCHEMA)),
                         'Gadget.apidiff.example.com "g" is invalid: spec.size: Required value')


class Validation(unittest.TestCase):
    def v(self, data, schema):
        return causes_of(S.validate({"spec": data}, {"type": "object", "properties": {"spec": schema}}))

    def test_types(self):
        self.assertEqual(self.v("x", {"type": "integer"}),
                         [("spec", 'Invalid value: "string": spec in body must be of type integer: "string"')])
        self.assertEqual(self.v(1.5, {"type": "integer"}),
                         [("spec", 'Invalid value: "number": spec in body must be of type integer: "number"')])
        self.assertEqual(self.v(2.0, {"type": "integer"}), [])        # isFloatInt
        self.assertEqual(self.v(2, {"type": "number"}), [])           # isIntFloat
        self.assertEqual(self.v(True, {"type": "string"}),
                         [("spec", 'Invalid value: "boolean": spec in body must be of type string: "boolean"')])
        self.assertEqual(self.v({}, {"type": "array", "items": {"type": "string"}}),
                         [("spec", 'Invalid value: "object": spec in body must be of type array: "object"')])
        self.assertEqual(S.validate({"spec": {"t": "x"}}, {"type": "object", "properties": {"spec": {
            "type": "object", "properties": {"t": {"type": "object"}}}}})[0]["reason"], "FieldValueTypeInvalid")

    def test_null_and_nullable(self):
        self.assertEqual(self.v(None, {"type": "string"}),
                         [("spec", 'Invalid value: "null": spec in body must be of type string: "null"')])
        self.assertEqual(self.v(None, {"type": "string", "nullable": True}), [])
        # a null array item is not pruned and fails the type check
        self.assertEqual(self.v([None], {"type": "array", "items": {"type": "string"}}),
                         [("spec[0]", 'Invalid value: "null": spec[0] in body must be of type string: "null"')])

    def test_int_or_string(self):
        s = {"x-kubernetes-int-or-string": True}
        self.assertEqual(self.v(3, s), [])
        self.assertEqual(self.v("3%", s), [])
        self.assertEqual(self.v(True, s),
                         [("spec", 'Invalid value: "boolean": spec in body must be of type integer,string: '
                                   '"boolean"')])
        s2 = {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}
        self.assertEqual(self.v(1.5, s2)[:2], [
            ("spec", 'Invalid value: "number": spec in body must be of type integer,string: "number"'),
            ("<nil>", 'Invalid value: "": "spec" must validate at least one schema (anyOf)')])

    def test_numbers(self):
        self.assertEqual(self.v(-1, {"type": "integer", "minimum": 0}),
                         [("spec", "Invalid value: -1: spec in body should be greater than or equal to 0")])
        self.assertEqual(self.v(0, {"type": "integer", "minimum": 0, "exclusiveMinimum": True}),
                         [("spec", "Invalid value: 0: spec in body should be greater than 0")])
        self.assertEqual(self.v(11, {"type": "integer", "maximum": 10}),
                         [("spec", "Invalid value: 11: spec in body should be less than or equal to 10")])
        self.assertEqual(self.v(10, {"type": "integer", "maximum": 10, "exclusiveMaximum": True}),
                         [("spec", "Invalid value: 10: spec in body should be less than 10")])
        self.assertEqual(self.v(0.5, {"type": "number", "minimum": 1.5}),
                         [("spec", "Invalid value: 0.5: spec in body should be greater than or equal to 1.5")])
        self.assertEqual(self.v(1e7, {"type": "number", "maximum": 1e6}),
                         [("spec", "Invalid value: 1e+07: spec in body should be less than or equal to 1e+06")])
        self.assertEqual(self.v(7, {"type": "integer", "multipleOf": 5}),
                         [("spec", "Invalid value: 7: spec in body should be a multiple of 5")])
        self.assertEqual(self.v(0.75, {"type": "number", "multipleOf": 0.25}), [])
        # int64(minimum) truncates for integer data, as MinimumNativeType does
        self.assertEqual(self.v(1, {"type": "integer", "minimum": 1.5}), [])

    def test_strings(self):
        self.assertEqual(self.v("abcdef", {"type": "string", "maxLength": 5}),
                         [("spec", "Too long: may not be longer than 5")])
        self.assertEqual(self.v("ab", {"type": "string", "minLength": 3}),
                         [("spec", 'Invalid value: "ab": spec in body should be at least 3 chars long')])
        self.assertEqual(self.v("ABC", {"type": "string", "pattern": "^[a-z]+$"}),
                         [("spec", "Invalid value: \"ABC\": spec in body should match '^[a-z]+$'")])
        self.assertEqual(self.v("ab1", {"type": "string", "pattern": "[0-9]"}), [])  # unanchored search
        self.assertEqual(self.v("日本語", {"type": "string", "maxLength": 3}), [])        # runes, not bytes

    def test_enum(self):
        self.assertEqual(self.v(3, {"type": "integer", "enum": [1, 2]}),
                         [("spec", 'Unsupported value: 3: supported values: "1", "2"')])
        self.assertEqual(self.v(2, {"type": "integer", "enum": [1, 2.0]}), [])
        self.assertEqual(self.v("x", {"type": "string", "enum": ["a", "b\"c"]}),
                         [("spec", 'Unsupported value: "x": supported values: "a", "b\\"c"')])
        self.assertEqual(self.v({"a": 1}, {"type": "object", "enum": [{"a": 2}]}),
                         [("spec", 'Unsupported value: map[string]interface {}{"a":1}: supported values: '
                                   '"{\\"a\\":2}"')])

    def test_formats(self):
        self.assertEqual(self.v("2024-01-02T03:04:05Z", {"type": "string", "format": "date-time"}), [])
        self.assertEqual(self.v("2024-01-02T03:04:05.123+01:00", {"type": "string", "format": "date-time"}), [])
        self.assertEqual(self.v("yesterday", {"type": "string", "format": "date-time"}),
                         [("spec", 'Invalid value: "yesterday": spec in body must be of type date-time: '
                                   '"yesterday"')])
        self.assertEqual(self.v("2024-13-01", {"type": "string", "format": "date"})[0][0], "spec")
        self.assertEqual(self.v("not-a-uuid", {"type": "string", "format": "uuid"})[0][1],
                         'Invalid value: "not-a-uuid": spec in body must be of type uuid: "not-a-uuid"')
        self.assertEqual(self.v("10.0.0.1", {"type": "string", "format": "ipv4"}), [])
        self.assertEqual(self.v("10.0.0.300", {"type": "string", "format": "ipv4"})[0][0], "spec")
        # formats the 1.24 server does not support are ignored (StripUnsupportedFormatsPostProcess)
        self.assertEqual(self.v("whatever", {"type": "string", "format": "k8s-short-name"}), [])
        self.assertEqual(self.v(2 ** 40, {"type": "integer", "format": "int32"}), [])

    def test_arrays_and_objects(self):
        self.assertEqual(self.v([], {"type": "array", "items": {"type": "string"}, "minItems": 1}),
                         [("spec", "Invalid value: 0: spec in body should have at least 1 items")])
        self.assertEqual(self.v(["a", "b", "c"], {"type": "array", "items": {"type": "string"}, "maxItems": 2}),
                         [("spec", "Too many: 3: must have at most 2 items")])
        self.assertEqual(self.v([1, "x"], {"type": "array", "items": {"type": "integer", "minimum": 2}}), [
            ("spec[0]", "Invalid value: 1: spec[0] in body should be greater than or equal to 2"),
            ("spec[1]", 'Invalid value: "string": spec[1] in body must be of type integer: "string"')])
        self.assertEqual(self.v({}, {"type": "object", "minProperties": 1}),
                         [("spec", "Invalid value: 0: spec in body should have at least 1 properties")])
        self.assertEqual(self.v({"a": "1", "b": "2"}, {"type": "object", "maxProperties": 1,
                                                      "additionalProperties": {"type": "string"}}),
                         [("spec", "Too many: 2: must have at most 1 items")])
        self.assertEqual(self.v({"a": 1}, {"type": "object", "additionalProperties": {"type": "string"}}),
                         [("spec.a", 'Invalid value: "integer": spec.a in body must be of type string: "integer"')])
        nested = {"type": "object", "properties": {"list": {"type": "array", "items": {
            "type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}}}}
        self.assertEqual(self.v({"list": [{"name": "a"}, {}]}, nested), [("spec.list[1].name", "Required value")])

    def test_root_level_errors_have_nil_field(self):
        errs = S.validate({"a": 1}, {"type": "object", "properties": {"a": {"type": "integer"}},
                                     "not": {"required": ["a"]}})
        self.assertEqual(causes_of(errs), [("<nil>", 'Invalid value: "": "" must not validate the schema (not)')])
        self.assertEqual(S.invalid_message("X.g", "n", errs), 'X.g "n" is invalid: <nil>: Invalid value: "": "" must '
                                                              'not validate the schema (not)')

    def test_list_type_set_and_map(self):
        s = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                      "items": {"type": "object", "required": ["name"], "properties": {
                          "name": {"type": "string"}, "port": {"type": "integer"}}}}}}}}
        obj = {"spec": {"tags": ["a", "b", "a", "a"], "ports": [{"name": "x", "port": 1}, {"name": "x", "port": 2}]}}
        self.assertEqual(causes_of(S.validate(obj, s)), [
            ("spec.ports[1]", 'Duplicate value: map[string]interface {}{"name":"x"}'),
            ("spec.tags[2]", 'Duplicate value: "a"')])
        self.assertEqual(S.validate(obj, s)[0]["reason"], "FieldValueDuplicate")
        self.assertEqual(S.validate({"spec": {"tags": [1, 1.0]}}, s)[0]["field"], "spec.tags[0]")  # type check only

    def test_embedded_resource(self):
        s = {"type": "object", "properties": {"spec": {"type": "object", "properties": {"template": {
            "type": "object", "x-kubernetes-embedded-resource": True, "x-kubernetes-preserve-unknown-fields": True}}}}}
        self.assertEqual(causes_of(S.validate({"spec": {"template": {"metadata": {"name": "a/b"}}}}, s)), [
            ("spec.template.apiVersion", "Required value"), ("spec.template.kind", "Required value"),
            ("spec.template.metadata.name", "Invalid value: \"a/b\": may not contain '/'")])
        self.assertEqual(S.validate({"spec": {"template": {"apiVersion": "v1", "kind": "Pod"}}}, s), [])

    def test_invalid_message_format(self):
        c1 = {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.a"}
        self.assertEqual(S.invalid_message("K.g", "x", [c1, c1]), 'K.g "x" is invalid: spec.a: Required value')
        self.assertEqual(S.invalid_message("K.g", "x", []), 'K.g "x" is invalid')
        c2 = {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.b"}
        self.assertEqual(S.invalid_message("K.g", "x", [c1, c2]),
                         'K.g "x" is invalid: [spec.a: Required value, spec.b: Required value]')


class DefaultsAndPruning(unittest.TestCase):
    SCHEMA = {"type": "object", "properties": {
        "spec": {"type": "object", "default": {}, "properties": {
            "replicas": {"type": "integer", "default": 1},
            "opts": {"type": "object", "default": {"a": "x"}, "properties": {"a": {"type": "string"},
                                                                          "b": {"type": "string", "default": "y"}}},
            "list": {"type": "array", "items": {"type": "object", "properties": {
                "k": {"type": "string", "default": "dk"}, "n": {"type": "string"}}}},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                     "properties": {"known": {"type": "object", "properties": {"x": {"type": "string"}}}}},
            "nullable": {"type": "string", "nullable": True},
            "notnull": {"type": "string"},
            "withdefault": {"type": "string", "default": "d"},
            "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                         "x-kubernetes-preserve-unknown-fields": True},
        }},
        "status": {"type": "object", "properties": {"phase": {"type": "string"}}}}}

    def test_defaults_recurse_into_defaulted_values(self):
        obj = {"apiVersion": "a/v1", "kind": "K", "metadata": {}}
        S.apply_defaults(obj, self.SCHEMA)
        self.assertEqual(obj["spec"], {"replicas": 1, "opts": {"a": "x", "b": "y"}, "withdefault": "d"})

    def test_defaults_in_list_items_and_nulls(self):
        obj = {"spec": {"list": [{"n": "1"}, {"k": "set"}], "withdefault": None, "nullable": None}}
        S.apply_defaults(obj, self.SCHEMA)
        self.assertEqual(obj["spec"]["list"], [{"n": "1", "k": "dk"}, {"k": "set"}])
        self.assertEqual(obj["spec"]["withdefault"], "d")   # non-nullable null with a default is defaulted
        self.assertIsNone(obj["spec"]["nullable"])

    def test_prune_paths_and_order(self):
        obj = {"apiVersion": "a/v1", "kind": "K",
               "metadata": {"name": "n", "bogus": 1, "ownerReferences": [{"uid": "u", "extra": 1}]},
               "spec": {"zz": 1, "replicas": 2, "list": [{"k": "a", "junk": True}], "labels": {"a": "b"},
                        "free": {"anything": {"goes": 1}, "known": {"x": "1", "y": "2"}},
                        "notnull": None, "nullable": None,
                        "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "what": 1},
                                     "spec": {"kept": True}}},
               "status": {"phase": "x", "other": 1}, "extra": {}}
        paths = S.prune(obj, self.SCHEMA)
        self.assertEqual(paths, ["metadata.bogus", "metadata.ownerReferences[0].extra",
                                 "extra", "spec.free.known.y", "spec.list[0].junk", "spec.zz", "status.other",
                                 "spec.template.metadata.what"])
        self.assertEqual(obj["metadata"], {"name": "n", "ownerReferences": [{"uid": "u"}]})
        self.assertEqual(obj["spec"]["free"], {"anything": {"goes": 1}, "known": {"x": "1"}})
        self.assertNotIn("notnull", obj["spec"])       # PruneNonNullableNullsWithoutDefaults
        self.assertIn("nullable", obj["spec"])
        self.assertEqual(obj["spec"]["template"], {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                                   "spec": {"kept": True}})
        self.assertEqual(obj["status"], {"phase": "x"})

    def test_status_pruned_when_schema_has_none(self):
        obj = {"apiVersion": "a/v1", "kind": "K", "metadata": {}, "spec": {}, "status": {"x": 1}}
        self.assertEqual(S.prune(obj, {"type": "object", "properties": {"spec": {"type": "object"}}}), ["status"])

    def test_additional_properties_true_prunes_nested_objects(self):
        obj = {"spec": {"m": {"a": {"x": 1}, "b": 2}}}
        s = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "m": {"type": "object", "additionalProperties": True}}}}}
        self.assertEqual(S.prune(obj, s), ["spec.m.a.x"])
        self.assertEqual(obj["spec"]["m"], {"a": {}, "b": 2})

    def test_strict_messages(self):
        self.assertEqual(S.strict_field_errors(["spec.foo", "spec.bar"]),
                         'strict decoding error: unknown field "spec.foo", unknown field "spec.bar"')
        self.assertEqual(S.strict_decoding_message("Widget", "v1", ["spec.foo"]),
                         'Widget in version "v1" cannot be handled as a Widget: strict decoding error: '
                         'unknown field "spec.foo"')
        self.assertEqual(S.unknown_field_warnings(["spec.foo"]), ['unknown field "spec.foo"'])


class GoFormatting(unittest.TestCase):
    def test_floats(self):
        for f, want in ((1e6, "1e+06"), (123456.0, "123456"), (1.5, "1.5"), (1e-05, "1e-05"), (0.0001, "0.0001"),
                        (2.0, "2"), (-3.25, "-3.25"), (12345678.0, "1.2345678e+07")):
            self.assertEqual(S.go_float(f), want, f)
        self.assertEqual(S.go_json(1.0), "1")
        self.assertEqual(S.go_json(1e21), "1e+21")
        self.assertEqual(S.go_json(1e-7), "1e-7")
        self.assertEqual(S.go_json({"b": "<", "a": [1, 2.5, None, True]}), '{"a":[1,2.5,null,true],"b":"\\u003c"}')

    def test_quote_and_sharp_v(self):
        self.assertEqual(S.go_quote('a"b\n\x01é'), '"a\\"b\\n\\x01é"')
        self.assertEqual(S.go_sharp_v({"b": [1, "x", None], "a": False}),
                         'map[string]interface {}{"a":false, "b":[]interface {}{1, "x", interface {}(nil)}}')
        self.assertEqual(S.go_bad_value(None), '"null"')


class NamesAndMeta(unittest.TestCase):
    def test_dns_messages(self):
        self.assertEqual(S.is_dns1035_label("V1"), [
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
            "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
            "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"])
        self.assertEqual(S.is_dns1123_subdomain("Bad_Name"), [
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
            "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"])
        self.assertEqual(S.is_dns1123_subdomain("a" * 254)[0], "must be no more than 253 characters")

    def test_validate_object_meta(self):
        self.assertEqual(causes_of(S.validate_object_meta({"generateName": "x-"}, True)),
                         [("metadata.name", "Required value: name or generateName is required"),
                          ("metadata.namespace", "Required value")])
        errs = S.validate_object_meta({"name": "ok", "labels": {"bad key!": "v", "k": "bad value!"}}, False)
        self.assertEqual([c["field"] for c in errs], ["metadata.labels", "metadata.labels"])
        self.assertTrue(errs[0]["message"].startswith('Invalid value: "bad key!": name part must consist of'))


class CRDValidation(unittest.TestCase):
    def errs(self, c, old=None):
        return causes_of(S.validate_crd(c, old))

    def test_valid(self):
        self.assertEqual(self.errs(crd()), [])

    def test_name_must_match(self):
        c = crd()
        c["metadata"]["name"] = "foo.example.com"
        self.assertEqual(self.errs(c), [("metadata.name",
                                         'Invalid value: "foo.example.com": must be spec.names.plural+"."+spec.group')])

    def test_group_scope_names(self):
        c = crd(group="nodot", scope="Global")
        c["metadata"]["name"] = "gadgets.nodot"
        c["spec"]["names"] = {"kind": "Gadget", "plural": "Gadgets"}
        got = self.errs(c)
        self.assertIn(("spec.group", 'Invalid value: "nodot": should be a domain with at least one dot'), got)
        self.assertIn(("spec.scope", 'Unsupported value: "Global": supported values: "Cluster", "Namespaced"'), got)
        self.assertEqual([f for f, _ in got if f.startswith("spec.names")], ["spec.names.plural"])

    def test_versions(self):
        c = crd()
        c["spec"]["versions"][0]["storage"] = False
        got = self.errs(c)
        self.assertIn("spec.versions", [f for f, _ in got])
        self.assertTrue(any(m.endswith("must have exactly one version marked as storage version") for _, m in got))
        self.assertIn(("status.storedVersions", "Invalid value: []string(nil): must have at least one stored version"),
                      got)
        c = crd()
        c["spec"]["versions"][0]["name"] = "V1"
        got = self.errs(c)
        self.assertEqual([f for f, _ in got], ["spec.versions[0].name", "spec.version"])

    def test_schema_paths_hoisted_for_single_version(self):
        s = copy.deepcopy(GADGET_SCHEMA)
        del s["properties"]["status"]["type"]
        self.assertEqual(self.errs(crd(s)), [("spec.validation.openAPIV3Schema.properties[status].type",
                                              "Required value: must not be empty for specified object fields")])

    def test_schema_paths_per_version_when_schemas_differ(self):
        c = crd()
        v2 = copy.deepcopy(c["spec"]["versions"][0])
        v2["name"], v2["storage"] = "v2", False
        v2["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["x"] = {}
        c["spec"]["versions"].append(v2)
        self.assertEqual(self.errs(c), [("spec.versions[1].schema.openAPIV3Schema.properties[spec].properties[x].type",
                                         "Required value: must not be empty for specified object fields")])

    def test_missing_schema(self):
        c = crd()
        del c["spec"]["versions"][0]["schema"]
        self.assertEqual(self.errs(c), [("spec.versions[0].schema.openAPIV3Schema",
                                         "Required value: schemas are required")])

    def test_structural_rules(self):
        s = copy.deepcopy(GADGET_SCHEMA)
        s["properties"]["metadata"] = {"type": "object", "properties": {"labels": {"type": "object"}}}
        s["properties"]["spec"]["properties"]["l"] = {"type": "array"}
        s["properties"]["spec"]["anyOf"] = [{"properties": {"q": {"type": "string"}}}]
        got = self.errs(crd(s))
        p = "spec.validation.openAPIV3Schema"
        self.assertEqual(got, [
            (p + ".properties[metadata]", "Forbidden: must not specify anything other than name and generateName, "
                                          "but metadata is implicitly specified"),
            (p + ".properties[spec].anyOf[0].properties[q].type", "Forbidden: must be empty to be structural"),
            (p + ".properties[spec].properties[l].items", "Required value: must be specified")])
        # metadata may restrict name and generateName
        s = copy.deepcopy(GADGET_SCHEMA)
        s["properties"]["metadata"] = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 5}}}
        self.assertEqual(self.errs(crd(s)), [])
        obj = {"metadata": {"name": "toolong"}, "spec": {"size": 1}}
        self.assertEqual(causes_of(S.validate(obj, s)), [("metadata.name", "Too long: may not be longer than 5")])

    def test_openapi_rules(self):
        s = copy.deepcopy(GADGET_SCHEMA)
        sp = s["properties"]["spec"]["properties"]
        sp["u"] = {"type": "array", "uniqueItems": True, "items": {"type": "string"}}
        sp["m"] = {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "string"}}
        sp["t"] = {"type": "strin"}
        sp["set"] = {"type": "array", "x-kubernetes-list-type": "set",
                     "items": {"type": "object", "properties": {"a": {"type": "string"}}}}
        sp["lm"] = {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k"],
                    "items": {"type": "object", "properties": {"k": {"type": "string"}}}}
        got = self.errs(crd(s))
        p = "spec.validation.openAPIV3Schema.properties[spec].properties"
        self.assertIn((p + "[u].uniqueItems", "Forbidden: uniqueItems cannot be set to true since the runtime "
                                              "complexity becomes quadratic"), got)
        self.assertIn((p + "[m].additionalProperties", "Forbidden: additionalProperties and properties are mutual "
                                                       "exclusive"), got)
        self.assertIn((p + "[t].type", 'Unsupported value: "strin": supported values: "array", "boolean", "integer", '
                                       '"number", "object", "string"'), got)
        self.assertIn((p + "[set].items.x-kubernetes-map-type", "Invalid value: \"null\": must be atomic as item of "
                                                                "a list with x-kubernetes-list-type=set"), got)
        self.assertIn((p + "[lm].items.properties[k].default", "Required value: this property is in "
                                                               "x-kubernetes-list-map-keys, so it must have a default "
                                                               "or be a required property"), got)

    def test_defaults_must_validate_and_be_pruned(self):
        s = copy.deepcopy(GADGET_SCHEMA)
        s["properties"]["spec"]["properties"]["color"]["default"] = "green"
        s["properties"]["spec"]["properties"]["o"] = {"type": "object", "default": {"zz": 1},
                                                      "properties": {"a": {"type": "string"}}}
        p = "spec.validation.openAPIV3Schema.properties[spec].properties"
        self.assertEqual(self.errs(crd(s)), [
            (p + "[color].default", 'Unsupported value: "green": supported values: "red", "blue"'),
            (p + "[o].default", 'Invalid value: map[string]interface {}{"zz":1}: must not have unknown fields')])
        s = copy.deepcopy(GADGET_SCHEMA)
        s["properties"]["metadata"] = {"type": "object", "default": {}}
        self.assertEqual(self.errs(crd(s)), [("spec.validation.openAPIV3Schema.properties[metadata].default",
                                              "Forbidden: must not be set in top-level metadata")])

    def test_status_subresource_restricts_root(self):
        s = copy.deepcopy(GADGET_SCHEMA)
        s["additionalProperties"] = False
        got = self.errs(crd(s))
        self.assertEqual(got[0][0], "spec.validation.openAPIV3Schema")
        self.assertTrue(got[0][1].endswith("fields are allowed at the root of the schema if the status subresource "
                                           "is enabled"))
        s = copy.deepcopy(GADGET_SCHEMA)
        s["type"] = "array"
        s["items"] = {"type": "string"}
        got = self.errs(crd(s))
        self.assertIn(("spec.validation.openAPIV3Schema.type", 'Invalid value: "array": only "object" is allowed as '
                                                               'the type at the root of the schema if the status '
                                                               'subresource is enabled'), got)

    def test_printer_columns_and_scale(self):
        c = crd()
        c["spec"]["versions"][0]["additionalPrinterColumns"] = [{"name": "X", "type": "str", "jsonPath": "spec.x"},
                                                                {"name": "", "type": "integer", "jsonPath": ".a",
                                                                 "format": "weird"}]
        c["spec"]["versions"][0]["subresources"]["scale"] = {"specReplicasPath": ".status.r",
                                                             "statusReplicasPath": ""}
        self.assertEqual(self.errs(c), [
            ("spec.subresources.scale.specReplicasPath", 'Invalid value: ".status.r": should be a json path under '
                                                         '.spec'),
            ("spec.subresources.scale.statusReplicasPath", "Required value"),
            ("spec.additionalPrinterColumns[0].type", 'Invalid value: "str": must be one of '
                                                      'boolean,date,integer,number,string'),
            ("spec.additionalPrinterColumns[0].JSONPath", 'Invalid value: "spec.x": must be a simple json path '
                                                          'starting with .'),
            ("spec.additionalPrinterColumns[1].name", "Required value"),
            ("spec.additionalPrinterColumns[1].format", 'Invalid value: "weird": must be one of '
                                                        'byte,date,date-time,double,float,int32,int64,password')])

    def test_protected_groups_need_approval(self):
        c = crd(group="things.k8s.io")
        c["metadata"]["name"] = "gadgets.things.k8s.io"
        self.assertEqual(self.errs(c), [("metadata.annotations[api-approved.kubernetes.io]",
                                         'Required value: protected groups must have approval annotation '
                                         '"api-approved.kubernetes.io", see '
                                         'https://github.com/kubernetes/enhancements/pull/1111')])
        c["metadata"]["annotations"] = {"api-approved.kubernetes.io": "unapproved, testing"}
        self.assertEqual(self.errs(c), [])

    def test_update_immutability_and_stored_versions(self):
        old = crd()
        old["status"] = S.crd_established(dict(old, status=S.crd_default_and_status(old)["status"]))
        new = copy.deepcopy(old)
        new["spec"]["names"]["kind"] = "Widget"
        new["spec"]["scope"] = "Cluster"
        self.assertEqual(self.errs(new, old), [("spec.scope", 'Invalid value: "Cluster": field is immutable'),
                                               ("spec.names.kind", 'Invalid value: "Widget": field is immutable')])
        new = copy.deepcopy(old)
        new["spec"]["versions"][0]["name"] = "v2"
        self.assertIn(("status.storedVersions[0]", 'Invalid value: "v1": must appear in spec.versions'),
                      self.errs(new, old))

    def test_crd_defaults(self):
        c = crd()
        del c["spec"]["names"]["singular"]
        d = S.crd_defaults(c)
        self.assertEqual(d["spec"]["names"]["singular"], "gadget")
        self.assertEqual(d["spec"]["names"]["listKind"], "GadgetList")
        self.assertEqual(d["spec"]["conversion"], {"strategy": "None"})
        self.assertNotIn("listKind", c["spec"]["names"])      # input untouched


if __name__ == "__main__":
    unittest.main()

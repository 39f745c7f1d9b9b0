"""Tests for kube_sim.openapi: the /openapi/v3 root and group-version documents.

The checks port the parts of kubectl 1.32 that read these documents:
cli-runtime queryParamVerifierV3 (server-side field validation), kubectl apply's
gvkSupportsPatchOpenAPIV3 / buildStrategicMergePatchFromOpenAPIV3, and the explain/v2
plaintext template's GVK and schema lookup."""
import json
import unittest

from kube_sim import openapi
from kube_sim.resources import Registry, ResourceType, STATUS_VERBS

S2IRUN_SCHEMA = {
    "description": "S2iRun is the Schema for the s2iruns API",
    "type": "object",
    "properties": {
        "spec": {
            "description": "S2iRunSpec defines the desired state of S2iRun",
            "type": "object",
            "required": ["builderName"],
            "properties": {
                "builderName": {"description": "BuilderName specified the name of s2ibuilder, required",
                                "type": "string"},
                "backoffLimit": {"description": "BackoffLimit limits the restart count of each s2irun. Default is 0",
                                 "type": "integer", "format": "int32"},
                "env": {"type": "array", "description": "Environment variables of the build",
                        "items": {"type": "object", "properties": {"name": {"type": "string"},
                                                                   "value": {"type": "string"}}}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "status": {"type": "object", "properties": {"runState": {"type": "string",
                                                                 "enum": ["Running", "Successful", "Failed"]}}},
    },
}


def s2irun_type():
    return ResourceType("devops.kubesphere.io", "v1alpha1", "S2iRun", "s2iruns", short_names=["s2ir"],
                        subresources={"status": STATUS_VERBS}, crd_name="s2iruns.devops.kubesphere.io",
                        schema=S2IRUN_SCHEMA,
                        printer_columns=[{"name": "State", "type": "string", "jsonPath": ".status.runState"}])


def all_types():
    reg = Registry()
    reg.add(s2irun_type())
    reg.add(ResourceType("demo.example.com", "v1", "Widget", "widgets", namespaced=False,
                         subresources={"status": STATUS_VERBS, "scale": STATUS_VERBS},
                         crd_name="widgets.demo.example.com", schema=None))
    return reg.all()


def gvk_of(rt):
    return {"group": rt.group, "version": rt.version, "kind": rt.kind}


# -- ports of kubectl logic ------------------------------------------------------

def patch_ops_for(doc, gvk):
    out = []
    for item in doc["paths"].values():
        op = item.get("patch")
        if op and op.get("x-kubernetes-group-version-kind") == gvk:
            out.append(op)
    return out


def supports_field_validation(doc, gvk):
    """queryParamVerifierV3.supportsQueryParamV3 -- the Go loop stops at the first matching PATCH
    operation in map order, so every matching one must pass."""
    ops = patch_ops_for(doc, gvk)
    return bool(ops) and all(any(p.get("name") == "fieldValidation" and p.get("in") == "query"
                                 for p in op.get("parameters", [])) for op in ops)


def supports_smp(doc, gvk):
    """patcher.gvkSupportsPatchOpenAPIV3."""
    ops = patch_ops_for(doc, gvk)
    return bool(ops) and "application/strategic-merge-patch+json" in ops[0]["requestBody"]["content"]


def schema_with_gvk(doc, gvk):
    """The component schema kubectl explain (contains) / apply (gvkMatchesArray) would pick."""
    for name in sorted(doc["components"]["schemas"]):
        s = doc["components"]["schemas"][name]
        if gvk in (s.get("x-kubernetes-group-version-kind") or []):
            return s
    return None


def resolve(doc, s):
    ref = s.get("$ref")
    if ref:
        return doc["components"]["schemas"][ref[len("#/components/schemas/"):]]
    if s.get("allOf") and not s.get("properties") and len(s["allOf"]) == 1:
        return resolve(doc, s["allOf"][0])
    return s


def explain(doc, rt, field_path):
    """The explain/v2 template's steps: GVK from an operation on the resource path, then the
    schema carrying it, then follow the field path through properties."""
    prefix = "/api" if not rt.group else "/apis/" + rt.group
    candidates = [prefix + "/%s/%s" % (rt.version, rt.plural), prefix + "/%s/%s/{name}" % (rt.version, rt.plural),
                  prefix + "/%s/namespaces/{namespace}/%s" % (rt.version, rt.plural),
                  prefix + "/%s/namespaces/{namespace}/%s/{name}" % (rt.version, rt.plural)]
    gvk = None
    for c in candidates:
        item = doc["paths"].get(c)
        for m in ("get", "post", "put", "patch", "delete"):
            if item and m in item and item[m].get("x-kubernetes-group-version-kind"):
                gvk = item[m]["x-kubernetes-group-version-kind"]
                break
        if gvk:
            break
    if gvk is None:
        raise LookupError("GVR not found")
    s = schema_with_gvk(doc, gvk)
    if s is None:
        raise LookupError("GVK %s not found in OpenAPI schema" % gvk)
    for f in field_path:
        s = resolve(doc, s)
        if f not in (s.get("properties") or {}):
            raise LookupError('field "%s" does not exist' % f)
        s = s["properties"][f]
    return s, resolve(doc, s)


def all_refs(x):
    if isinstance(x, dict):
        for k, v in x.items():
            if k == "$ref":
                yield v
            else:
                yield from all_refs(v)
    elif isinstance(x, list):
        for v in x:
            yield from all_refs(v)


class Root(unittest.TestCase):
    def test_lists_every_group_version_with_its_hash(self):
        types = all_types()
        root = openapi.v3_root(types)
        keys = set(root["paths"])
        self.assertIn("api/v1", keys)
        self.assertIn("apis/batch/v1", keys)
        self.assertIn("apis/devops.kubesphere.io/v1alpha1", keys)
        self.assertEqual(len(keys), len({(t.group, t.version) for t in types}))
        for key, entry in root["paths"].items():
            doc = openapi.v3_group_version(key, types)
            self.assertEqual(entry["serverRelativeURL"], "/openapi/v3/%s?hash=%s" % (key, openapi.v3_hash(doc)))
            self.assertRegex(openapi.v3_hash(doc), "^[0-9A-F]{128}$")

    def test_hash_is_stable_and_tracks_changes(self):
        types = all_types()
        h1 = openapi.v3_hash(openapi.v3_group_version("apis/devops.kubesphere.io/v1alpha1", types))
        h2 = openapi.v3_hash(openapi.v3_group_version("devops.kubesphere.io/v1alpha1", all_types()))
        self.assertEqual(h1, h2)
        changed = [t for t in types if t.kind != "S2iRun"]
        rt = s2irun_type()
        rt.schema = dict(S2IRUN_SCHEMA, description="changed")
        h3 = openapi.v3_hash(openapi.v3_group_version("apis/devops.kubesphere.io/v1alpha1", changed + [rt]))
        self.assertNotEqual(h1, h3)
        self.assertEqual(openapi.v3_hash(openapi.v3_document_bytes(
            openapi.v3_group_version("apis/devops.kubesphere.io/v1alpha1", types))), h1)

    def test_unknown_group_version(self):
        self.assertIsNone(openapi.v3_group_version("apis/nope.example.com/v1", all_types()))

    def test_cache_headers(self):
        types = all_types()
        doc = openapi.v3_group_version("api/v1", types)
        h = openapi.v3_hash(doc)
        self.assertEqual(openapi.v3_cache_headers("api/v1", h, doc)[1]["Cache-Control"], "public, immutable")
        code, headers = openapi.v3_cache_headers("api/v1", "OLD", doc)
        self.assertEqual((code, headers["Location"]), (301, "/openapi/v3/api/v1?hash=" + h))
        self.assertNotIn("Cache-Control", openapi.v3_cache_headers("api/v1", "", doc)[1])


class GroupVersionDocuments(unittest.TestCase):
    def setUp(self):
        self.types = all_types()
        self.docs = {k: openapi.v3_group_version(k, self.types) for k in openapi.v3_root(self.types)["paths"]}

    def test_documents_are_json_and_refs_resolve(self):
        for key, doc in self.docs.items():
            json.loads(openapi.v3_document_bytes(doc))
            self.assertEqual(doc["openapi"], "3.0.0")
            for ref in all_refs(doc):
                self.assertTrue(ref.startswith("#/components/schemas/"), ref)
                self.assertIn(ref[len("#/components/schemas/"):], doc["components"]["schemas"], (key, ref))
            for item in doc["paths"].values():
                for m, op in item.items():
                    if m == "parameters":
                        continue
                    for code in op["responses"]:
                        self.assertTrue(code == "default" or code.isdigit())

    def test_every_kind_supports_server_side_field_validation(self):
        for rt in self.types:
            if "patch" not in rt.verbs:
                continue
            doc = self.docs["api/v1" if not rt.group else "apis/%s/%s" % (rt.group, rt.version)]
            self.assertTrue(supports_field_validation(doc, gvk_of(rt)), rt)

    def test_builtin_kinds_fall_back_to_compiled_in_patch_metadata(self):
        for rt in self.types:
            doc = self.docs["api/v1" if not rt.group else "apis/%s/%s" % (rt.group, rt.version)]
            if rt.is_crd:
                self.assertIsNotNone(schema_with_gvk(doc, gvk_of(rt)), rt)
                if "patch" in rt.verbs:
                    self.assertFalse(supports_smp(doc, gvk_of(rt)), rt)   # CRDs: JSON merge patch
            else:
                # no schema with the GVK: kubectl computes strategic merge patches from its Go types
                self.assertIsNone(schema_with_gvk(doc, gvk_of(rt)), rt)
                if "patch" in rt.verbs:
                    self.assertTrue(supports_smp(doc, gvk_of(rt)), rt)

    def test_crd_paths_and_operations(self):
        doc = self.docs["apis/devops.kubesphere.io/v1alpha1"]
        base = "/apis/devops.kubesphere.io/v1alpha1/namespaces/{namespace}/s2iruns"
        self.assertEqual(sorted(k for k in doc["paths"][base] if k != "parameters"), ["delete", "get", "post"])
        self.assertEqual(sorted(k for k in doc["paths"][base + "/{name}"] if k != "parameters"),
                         ["delete", "get", "patch", "put"])
        self.assertEqual(sorted(k for k in doc["paths"][base + "/{name}/status"] if k != "parameters"),
                         ["get", "patch", "put"])
        self.assertIn("/apis/devops.kubesphere.io/v1alpha1/s2iruns", doc["paths"])
        op = doc["paths"][base + "/{name}"]["patch"]
        self.assertEqual(op["x-kubernetes-group-version-kind"],
                         {"group": "devops.kubesphere.io", "kind": "S2iRun", "version": "v1alpha1"})
        self.assertEqual(op["x-kubernetes-action"], "patch")
        self.assertEqual(op["operationId"], "patchDevopsKubesphereIoV1alpha1NamespacedS2iRun")
        self.assertEqual(sorted(op["requestBody"]["content"]), ["application/apply-patch+yaml",
                                                                "application/json-patch+json",
                                                                "application/merge-patch+json"])
        self.assertEqual(doc["paths"][base]["get"]["x-kubernetes-action"], "list")
        self.assertEqual(doc["paths"][base]["delete"]["x-kubernetes-action"], "deletecollection")
        cluster = self.docs["apis/demo.example.com/v1"]
        self.assertIn("/apis/demo.example.com/v1/widgets/{name}/scale", cluster["paths"])
        self.assertEqual(cluster["paths"]["/apis/demo.example.com/v1/widgets/{name}/scale"]["patch"][
            "x-kubernetes-group-version-kind"], {"group": "autoscaling", "kind": "Scale", "version": "v1"})

    def test_crd_component_schema(self):
        doc = self.docs["apis/devops.kubesphere.io/v1alpha1"]
        s = doc["components"]["schemas"]["io.kubesphere.devops.v1alpha1.S2iRun"]
        self.assertEqual(s["x-kubernetes-group-version-kind"],
                         [{"group": "devops.kubesphere.io", "kind": "S2iRun", "version": "v1alpha1"}])
        self.assertEqual(s["properties"]["metadata"]["allOf"],
                         [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}])
        self.assertEqual(s["properties"]["apiVersion"]["type"], "string")
        self.assertEqual(s["properties"]["spec"], S2IRUN_SCHEMA["properties"]["spec"])
        lst = doc["components"]["schemas"]["io.kubesphere.devops.v1alpha1.S2iRunList"]
        self.assertEqual(lst["properties"]["items"]["items"], {"$ref": "#/components/schemas/"
                                                                       "io.kubesphere.devops.v1alpha1.S2iRun"})
        # schema-less CRDs publish an object preserving unknown fields
        w = self.docs["apis/demo.example.com/v1"]["components"]["schemas"]["com.example.demo.v1.Widget"]
        self.assertTrue(w["x-kubernetes-preserve-unknown-fields"])

    def test_explain_lookup(self):
        rt = [t for t in self.types if t.kind == "S2iRun"][0]
        doc = self.docs["apis/devops.kubesphere.io/v1alpha1"]
        field, resolved = explain(doc, rt, ["spec"])
        self.assertEqual(resolved["description"], "S2iRunSpec defines the desired state of S2iRun")
        self.assertIn("builderName", resolved["properties"])
        self.assertEqual(resolved["required"], ["builderName"])
        _, meta = explain(doc, rt, ["metadata"])
        self.assertIn("name", meta["properties"])
        _, name = explain(doc, rt, ["metadata", "name"])
        self.assertTrue(name["description"].startswith("Name must be unique within a namespace."))
        with self.assertRaises(LookupError):
            explain(doc, rt, ["spec", "nope"])
        pod = [t for t in self.types if t.kind == "Pod"][0]
        with self.assertRaisesRegex(LookupError, "not found in OpenAPI schema"):
            explain(self.docs["api/v1"], pod, [])

    def test_builtin_operation_ids(self):
        doc = self.docs["api/v1"]
        self.assertEqual(doc["paths"]["/api/v1/namespaces/{namespace}/pods"]["get"]["operationId"],
                         "listCoreV1NamespacedPod")
        rbac = self.docs["apis/rbac.authorization.k8s.io/v1"]
        self.assertEqual(rbac["paths"]["/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}"]["patch"]
                         ["operationId"], "patchRbacAuthorizationV1ClusterRole")


if __name__ == "__main__":
    unittest.main()

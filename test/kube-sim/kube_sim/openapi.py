"""The /openapi/v3 documents: the root index and one OpenAPI 3.0 document per group-version.

kubectl 1.32 reads them for three things, and those decide what is in here:

* Server-side field validation (`apply`/`create` with the default --validate=strict):
  cli-runtime's queryParamVerifierV3 finds, in the GV document, a PATCH operation whose
  "x-kubernetes-group-version-kind" matches the object's GVK and checks that it lists the
  query parameter "fieldValidation" (in: query). When it does, kubectl skips client-side
  schema validation and sends fieldValidation=Strict. The verifier stops at the *first*
  matching PATCH operation it meets (Go map order), so every PATCH operation carries it.
* `kubectl explain <kind>.<field>` (explain/v2 plaintext template): it takes the GVK from an
  operation on /apis/<g>/<v>[/namespaces/{namespace}]/<plural>[/{name}] and then the
  components.schemas entry whose "x-kubernetes-group-version-kind" *list* contains that GVK;
  descriptions are printed from there, $refs (allOf-wrapped like the real server) are resolved.
* `kubectl apply` patch computation (apply/patcher.go gvkSupportsPatchOpenAPIV3): if the
  PATCH operation accepts application/strategic-merge-patch+json, kubectl builds the patch
  from the components.schemas entry carrying the GVK -- and only from the OpenAPI schema, so
  list merge keys must be in it (x-kubernetes-patch-merge-key/strategy).

Decision for BUILT-IN kinds: their paths are published (GVK extension, fieldValidation,
strategic-merge-patch content type -- the server does accept it), but NO component schema
carries their GVK. With none found, buildStrategicMergePatchFromOpenAPIV3 returns no patch
and no error, kubectl tries /openapi/v2 (404 here) and falls back to the patch metadata
compiled into kubectl from the Go types (patchMergeKey "name" for containers, env, ports,
volumes, ...). Publishing hand-written built-in schemas would instead make kubectl replace
those lists wholesale unless every merge key were reproduced exactly; the compiled-in types
are the exact real behaviour for free. The cost: `kubectl explain pod` answers "GVK ... not
found in OpenAPI schema" -- acceptable, only custom resources are explained in our tests.
Referenced built-in schemas exist as plain stubs without the GVK so no $ref dangles.

For CUSTOM resources the schema is the CRD's (descriptions kept, metadata as an allOf $ref to
ObjectMeta, apiVersion/kind added, x-kubernetes-group-version-kind set) like the real
apiextensions-apiserver controller/openapi/builder; their PATCH has no strategic merge patch,
so kubectl uses a JSON merge patch exactly as against a real server.

Hashes are SHA-512 of the exact JSON bytes, upper-case hex (kube-openapi handler3
computeETag); serve `v3_document_bytes(doc)` so the hash in the root index matches.
"""
import copy
import hashlib
import json

INFO_VERSION = "v1.24.0-kube-sim"
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
REF = "#/components/schemas/"

# metav1.ObjectMeta{}.SwaggerDoc() of the 1.24 line (also used by table.py for column descriptions).
OBJECT_META_DESCRIPTIONS = {
    "": "ObjectMeta is metadata that all persisted resources must have, which includes all objects users must "
        "create.",
    "name": "Name must be unique within a namespace. Is required when creating resources, although some resources "
            "may allow a client to request the generation of an appropriate name automatically. Name is primarily "
            "intended for creation idempotence and configuration definition. Cannot be updated. More info: "
            "http://kubernetes.io/docs/user-guide/identifiers#names",
    "generateName": "GenerateName is an optional prefix, used by the server, to generate a unique name ONLY IF the "
                    "Name field has not been provided. If this field is used, the name returned to the client will "
                    "be different than the name passed. This value will also be combined with a unique suffix. The "
                    "provided value has the same validation rules as the Name field, and may be truncated by the "
                    "length of the suffix required to make the value unique on the server.\n\nIf this field is "
                    "specified and the generated name exists, the server will return a 409.\n\nApplied only if Name "
                    "is not specified. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/"
                    "api-conventions.md#idempotency",
    "namespace": "Namespace defines the space within which each name must be unique. An empty namespace is "
                 "equivalent to the \"default\" namespace, but \"default\" is the canonical representation. Not all "
                 "objects are required to be scoped to a namespace - the value of this field for those objects will "
                 "be empty.\n\nMust be a DNS_LABEL. Cannot be updated. More info: "
                 "http://kubernetes.io/docs/user-guide/namespaces",
    "selfLink": "Deprecated: selfLink is a legacy read-only field that is no longer populated by the system.",
    "uid": "UID is the unique in time and space value for this object. It is typically generated by the server on "
           "successful creation of a resource and is not allowed to change on PUT operations.\n\nPopulated by the "
           "system. Read-only. More info: http://kubernetes.io/docs/user-guide/identifiers#uids",
    "resourceVersion": "An opaque value that represents the internal version of this object that can be used by "
                       "clients to determine when objects have changed. May be used for optimistic concurrency, "
                       "change detection, and the watch operation on a resource or set of resources. Clients must "
                       "treat these values as opaque and passed unmodified back to the server. They may only be "
                       "valid for a particular resource or set of resources.\n\nPopulated by the system. Read-only. "
                       "Value must be treated as opaque by clients and . More info: https://git.k8s.io/community/"
                       "contributors/devel/sig-architecture/api-conventions.md#concurrency-control-and-consistency",
    "generation": "A sequence number representing a specific generation of the desired state. Populated by the "
                  "system. Read-only.",
    "creationTimestamp": "CreationTimestamp is a timestamp representing the server time when this object was "
                         "created. It is not guaranteed to be set in happens-before order across separate "
                         "operations. Clients may not set this value. It is represented in RFC3339 form and is in "
                         "UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
                         "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    "deletionTimestamp": "DeletionTimestamp is RFC 3339 date and time at which this resource will be deleted. This "
                         "field is set by the server when a graceful deletion is requested by the user, and is not "
                         "directly settable by a client. The resource is expected to be deleted (no longer visible "
                         "from resource lists, and not reachable by name) after the time in this field, once the "
                         "finalizers list is empty. As long as the finalizers list contains items, deletion is "
                         "blocked. Once the deletionTimestamp is set, this value may not be unset or be set further "
                         "into the future, although it may be shortened or the resource may be deleted prior to "
                         "this time.\n\nPopulated by the system when a graceful deletion is requested. Read-only. "
                         "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/"
                         "api-conventions.md#metadata",
    "deletionGracePeriodSeconds": "Number of seconds allowed for this object to gracefully terminate before it will "
                                  "be removed from the system. Only set when deletionTimestamp is also set. May only "
                                  "be shortened. Read-only.",
    "labels": "Map of string keys and values that can be used to organize and categorize (scope and select) objects. "
              "May match selectors of replication controllers and services. More info: "
              "http://kubernetes.io/docs/user-guide/labels",
    "annotations": "Annotations is an unstructured key value map stored with a resource that may be set by external "
                   "tools to store and retrieve arbitrary metadata. They are not queryable and should be preserved "
                   "when modifying objects. More info: http://kubernetes.io/docs/user-guide/annotations",
    "ownerReferences": "List of objects depended by this object. If ALL objects in the list have been deleted, this "
                       "object will be garbage collected. If this object is managed by a controller, then an entry "
                       "in this list will point to this controller, with the controller field set to true. There "
                       "cannot be more than one managing controller.",
    "finalizers": "Must be empty before the object is deleted from the registry. Each entry is an identifier for the "
                  "responsible component that will remove the entry from the list. If the deletionTimestamp of the "
                  "object is non-nil, entries in this list can only be removed. Finalizers may be processed and "
                  "removed in any order.  Order is NOT enforced because it introduces significant risk of stuck "
                  "finalizers.",
    "managedFields": "ManagedFields maps workflow-id and version to the set of fields that are managed by that "
                     "workflow. This is mostly for internal housekeeping, and users typically shouldn't need to set "
                     "or understand this field. A workflow can be the user's name, a controller's name, or the name "
                     "of a specific apply path like \"ci-cd\". The set of fields is always in the version that the "
                     "workflow used when modifying the object.",
}

API_VERSION_DESC = ("APIVersion defines the versioned schema of this representation of an object. Servers should "
                    "convert recognized schemas to the latest internal value, and may reject unrecognized values. "
                    "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/"
                    "api-conventions.md#resources")
KIND_DESC = ("Kind is a string value representing the REST resource this object represents. Servers may infer this "
             "from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: "
             "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds")
METADATA_DESC = ("Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/"
                 "sig-architecture/api-conventions.md#metadata")
LIST_METADATA_DESC = ("Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/"
                      "sig-architecture/api-conventions.md#types-kinds")

FIELD_VALIDATION_DESC = (
    "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing "
    "unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently "
    "dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. This is "
    "the default behavior prior to v1.23. - Warn: This will send a warning via the standard warning response header "
    "for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The "
    "request will still succeed if there are no other errors, and will only persist the last of any duplicate "
    "fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest error if any "
    "unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned "
    "from the server will contain all unknown and duplicate fields encountered.")

# query parameters: name -> (schema type, description)
_PARAMS = {
    "pretty": ("string", "If 'true', then the output is pretty printed."),
    "dryRun": ("string", "When present, indicates that modifications should not be persisted. An invalid or "
                         "unrecognized dryRun directive will result in an error response and no further processing "
                         "of the request. Valid values are: - All: all dry run stages will be processed"),
    "fieldManager": ("string", "fieldManager is a name associated with the actor or entity that is making these "
                               "changes. The value must be less than or 128 characters long, and only contain "
                               "printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint."),
    "fieldValidation": ("string", FIELD_VALIDATION_DESC),
    "force": ("boolean", "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting "
                         "fields owned by other people. Force flag must be unset for non-apply patch requests."),
    "allowWatchBookmarks": ("boolean", "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers "
                                       "that do not implement bookmarks may ignore this flag and bookmarks are sent at "
                                       "the server's discretion."),
    "continue": ("string", "The continue option should be set when retrieving more results from the server."),
    "fieldSelector": ("string", "A selector to restrict the list of returned objects by their fields. Defaults to "
                                "everything."),
    "labelSelector": ("string", "A selector to restrict the list of returned objects by their labels. Defaults to "
                                "everything."),
    "limit": ("integer", "limit is a maximum number of responses to return for a list call."),
    "resourceVersion": ("string", "resourceVersion sets a constraint on what resource versions a request may be "
                                  "served from."),
    "resourceVersionMatch": ("string", "resourceVersionMatch determines how resourceVersion is applied to list "
                                       "calls."),
    "sendInitialEvents": ("boolean", "`sendInitialEvents=true` may be set together with `watch=true`."),
    "timeoutSeconds": ("integer", "Timeout for the list/watch call."),
    "watch": ("boolean", "Watch for changes to the described resources and return them as a stream of add, "
                         "update, and remove notifications. Specify resourceVersion."),
    "gracePeriodSeconds": ("integer", "The duration in seconds before the object should be deleted."),
    "orphanDependents": ("boolean", "Deprecated: please use the PropagationPolicy, this field will be deprecated in "
                                    "1.7."),
    "propagationPolicy": ("string", "Whether and how garbage collection will be performed."),
}
_LIST_PARAMS = ["allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit", "resourceVersion",
                "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch"]
_WRITE_PARAMS = ["dryRun", "fieldManager", "fieldValidation"]
_PATCH_PARAMS = ["dryRun", "fieldManager", "fieldValidation", "force"]
_DELETE_PARAMS = ["dryRun", "gracePeriodSeconds", "orphanDependents", "propagationPolicy"]

# Where built-in groups' Go packages live (schema names like io.k8s.api.core.v1.Pod).
_BUILTIN_PACKAGES = {"": "io.k8s.api.core", "apiextensions.k8s.io": "io.k8s.apiextensions-apiserver.pkg.apis."
                                                                     "apiextensions"}

# Kinds of create-only subresources: name -> (group, version, kind)
_SUBRESOURCE_KINDS = {"token": ("authentication.k8s.io", "v1", "TokenRequest"),
                      "eviction": ("policy", "v1", "Eviction"), "binding": ("", "v1", "Binding"),
                      "scale": ("autoscaling", "v1", "Scale")}


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def _gv_key(group, version):
    return "api/" + version if not group else "apis/%s/%s" % (group, version)


def _normalize_gv(gv):
    """Accept "apis/g/v", "api/v1", "/openapi/v3/apis/g/v", "g/v" or "v1" -> (group, version)."""
    gv = gv.strip("/")
    if gv.startswith("openapi/v3/"):
        gv = gv[len("openapi/v3/"):]
    parts = gv.split("/")
    if parts[0] == "api" and len(parts) == 2:
        return "", parts[1]
    if parts[0] == "apis" and len(parts) == 3:
        return parts[1], parts[2]
    if len(parts) == 2:
        return parts[0], parts[1]
    return "", parts[0]


def _schema_name(rt, kind=None):
    kind = kind or rt.kind
    if not rt.is_crd:
        if rt.group in _BUILTIN_PACKAGES:
            pkg = _BUILTIN_PACKAGES[rt.group]
        else:
            pkg = "io.k8s.api." + rt.group.split(".")[0]
        return "%s.%s.%s" % (pkg, rt.version, kind)
    return "%s.%s.%s" % (".".join(reversed(rt.group.split("."))), rt.version, kind)


def _group_camel(rt):
    """The group part of real operationIds: core -> Core, batch -> Batch,
    rbac.authorization.k8s.io -> RbacAuthorization, demo.example.com -> DemoExampleCom."""
    if not rt.group:
        return "Core"
    g = rt.group
    if not rt.is_crd and g.endswith(".k8s.io"):
        g = g[:-len(".k8s.io")]
    return "".join(w[:1].upper() + w[1:] for w in g.replace("-", ".").split(".") if w)


def _tag(rt):
    g = _group_camel(rt)
    return g[:1].lower() + g[1:] + "_" + rt.version


def _param(name, where="query", required=False):
    typ, desc = _PARAMS.get(name, ("string", ""))
    p = {"name": name, "in": where, "description": desc, "schema": {"type": typ, "uniqueItems": True}}
    if required:
        p["required"] = True
    return p


def _path_params(namespaced, named):
    out = []
    if named:
        out.append({"name": "name", "in": "path", "description": "name of the resource", "required": True,
                    "schema": {"type": "string", "uniqueItems": True}})
    if namespaced:
        out.append({"name": "namespace", "in": "path", "description": "object name and auth scope, such as for teams "
                                                                      "and projects", "required": True,
                    "schema": {"type": "string", "uniqueItems": True}})
    out.append(_param("pretty"))
    return out


def _content(ref, types=("application/json", "application/yaml")):
    return {t: {"schema": {"$ref": REF + ref}} for t in types}


def _gvk(group, version, kind):
    return {"group": group, "kind": kind, "version": version}


def _op(rt, action, op_id, desc, params, ok_ref, gvk, codes=("200",), body_ref=None, patch=False, body_required=True):
    op = {"tags": [_tag(rt)], "description": desc, "operationId": op_id, "parameters": [_param(p) for p in params]}
    if body_ref is not None:
        if patch:
            types = ["application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json"]
            if rt.strategic_merge:
                types.append("application/strategic-merge-patch+json")
            op["requestBody"] = {"content": {t: {"schema": {"$ref": REF + META + "Patch"}} for t in types},
                                 "required": True}
        else:
            op["requestBody"] = {"content": {"*/*": {"schema": {"$ref": REF + body_ref}}}, "required": body_required}
    op["responses"] = {c: {"description": {"200": "OK", "201": "Created", "202": "Accepted"}[c],
                           "content": _content(ok_ref)} for c in codes}
    op["responses"]["401"] = {"description": "Unauthorized"}
    op["x-kubernetes-action"] = action
    op["x-kubernetes-group-version-kind"] = gvk
    return op


# ---------------------------------------------------------------------------
# paths
# ---------------------------------------------------------------------------

def _resource_paths(rt):
    """The operations the real server publishes for one resource and its subresources."""
    paths = {}
    gvk = _gvk(rt.group, rt.version, rt.kind)
    kname, lname = _schema_name(rt), _schema_name(rt, rt.list_kind)
    base = rt.base_path("{namespace}") if rt.namespaced else rt.base_path()
    ns_word = "Namespaced" if rt.namespaced else ""
    g = _group_camel(rt) + rt.version[:1].upper() + rt.version[1:]
    verbs = set(rt.verbs)

    coll = {}
    if "list" in verbs:
        coll["get"] = _op(rt, "list", "list%s%s%s" % (g, ns_word, rt.kind), "list or watch objects of kind "
                          + rt.kind, _LIST_PARAMS, lname, gvk)
    if "create" in verbs:
        coll["post"] = _op(rt, "post", "create%s%s%s" % (g, ns_word, rt.kind), "create a " + rt.kind, _WRITE_PARAMS,
                           kname, gvk, codes=("200", "201", "202"), body_ref=kname)
    if "deletecollection" in verbs:
        coll["delete"] = _op(rt, "deletecollection", "delete%sCollection%s%s" % (g, ns_word, rt.kind),
                             "delete collection of " + rt.kind, _DELETE_PARAMS + _LIST_PARAMS, META + "Status", gvk,
                             body_ref=META + "DeleteOptions", body_required=False)
    if coll:
        coll["parameters"] = _path_params(rt.namespaced, False)
        paths[base] = coll

    item = {}
    if "get" in verbs:
        item["get"] = _op(rt, "get", "read%s%s%s" % (g, ns_word, rt.kind), "read the specified " + rt.kind, [],
                          kname, gvk)
    if "update" in verbs:
        item["put"] = _op(rt, "put", "replace%s%s%s" % (g, ns_word, rt.kind), "replace the specified " + rt.kind,
                          _WRITE_PARAMS, kname, gvk, codes=("200", "201"), body_ref=kname)
    if "patch" in verbs:
        item["patch"] = _op(rt, "patch", "patch%s%s%s" % (g, ns_word, rt.kind), "partially update the specified "
                            + rt.kind, _PATCH_PARAMS, kname, gvk, codes=("200", "201"), body_ref="", patch=True)
    if "delete" in verbs:
        item["delete"] = _op(rt, "delete", "delete%s%s%s" % (g, ns_word, rt.kind), "delete a " + rt.kind,
                             _DELETE_PARAMS, META + "Status", gvk, codes=("200", "202"),
                             body_ref=META + "DeleteOptions", body_required=False)
    if item:
        item["parameters"] = _path_params(rt.namespaced, True)
        paths[base + "/{name}"] = item

    if rt.namespaced and "list" in verbs:
        paths[rt.base_path()] = {
            "get": _op(rt, "list", "list%s%sForAllNamespaces" % (g, rt.kind), "list or watch objects of kind "
                       + rt.kind, _LIST_PARAMS, lname, gvk),
            "parameters": [_param("pretty")]}

    for sub, sverbs in sorted(rt.subresources.items()):
        sp = base + "/{name}/" + sub
        sub_camel = sub[:1].upper() + sub[1:]
        if sub in ("status",):
            sg, sref = gvk, kname
        elif sub in _SUBRESOURCE_KINDS:
            grp, ver, knd = _SUBRESOURCE_KINDS[sub]
            sg = _gvk(grp, ver, knd)
            sref = (_BUILTIN_PACKAGES.get(grp) or "io.k8s.api." + grp.split(".")[0]) + ".%s.%s" % (ver, knd)
        elif sub == "log":
            sg, sref = gvk, None
        else:
            continue
        ops = {}
        name = "%s%s%s%s" % (g, ns_word, rt.kind, sub_camel)
        if "get" in sverbs:
            if sref is None:
                ops["get"] = {"tags": [_tag(rt)], "description": "read %s of the specified %s" % (sub, rt.kind),
                              "operationId": "read" + name, "responses": {"200": {"description": "OK", "content": {
                                  "text/plain": {"schema": {"type": "string"}}}}, "401": {"description": "Unauthorized"}},
                              "x-kubernetes-action": "get", "x-kubernetes-group-version-kind": sg}
            else:
                ops["get"] = _op(rt, "get", "read" + name, "read %s of the specified %s" % (sub, rt.kind), [], sref,
                                 sg)
        if "update" in sverbs:
            ops["put"] = _op(rt, "put", "replace" + name, "replace %s of the specified %s" % (sub, rt.kind),
                             _WRITE_PARAMS, sref, sg, codes=("200", "201"), body_ref=sref)
        if "patch" in sverbs:
            ops["patch"] = _op(rt, "patch", "patch" + name, "partially update %s of the specified %s"
                               % (sub, rt.kind), _PATCH_PARAMS, sref, sg, codes=("200", "201"), body_ref="",
                               patch=True)
        if "create" in sverbs:
            ops["post"] = _op(rt, "post", "create" + name, "create %s of a %s" % (sub, rt.kind), _WRITE_PARAMS, sref,
                              sg, codes=("200", "201", "202"), body_ref=sref)
        if ops:
            ops["parameters"] = _path_params(rt.namespaced, True)
            paths[sp] = ops
    return paths


# ---------------------------------------------------------------------------
# schemas
# ---------------------------------------------------------------------------

def _ref(name, desc=None, default=None):
    s = {"allOf": [{"$ref": REF + name}]}
    if desc:
        s["description"] = desc
    if default is not None:
        s["default"] = default
    return s


def _meta_schemas():
    """The meta/v1 definitions the real CRD documents carry (descriptions abbreviated where explain never
    shows them)."""
    d = OBJECT_META_DESCRIPTIONS
    string_map = {"type": "object", "additionalProperties": {"type": "string", "default": ""}}
    om_props = {
        "annotations": dict(string_map, description=d["annotations"]),
        "creationTimestamp": _ref(META + "Time", d["creationTimestamp"], {}),
        "deletionGracePeriodSeconds": {"description": d["deletionGracePeriodSeconds"], "type": "integer",
                                       "format": "int64"},
        "deletionTimestamp": _ref(META + "Time", d["deletionTimestamp"]),
        "finalizers": {"description": d["finalizers"], "type": "array", "items": {"type": "string", "default": ""},
                       "x-kubernetes-patch-strategy": "merge"},
        "generateName": {"description": d["generateName"], "type": "string"},
        "generation": {"description": d["generation"], "type": "integer", "format": "int64"},
        "labels": dict(string_map, description=d["labels"]),
        "managedFields": {"description": d["managedFields"], "type": "array",
                          "items": {"default": {}, "allOf": [{"$ref": REF + META + "ManagedFieldsEntry"}]}},
        "name": {"description": d["name"], "type": "string"},
        "namespace": {"description": d["namespace"], "type": "string"},
        "ownerReferences": {"description": d["ownerReferences"], "type": "array",
                            "items": {"default": {}, "allOf": [{"$ref": REF + META + "OwnerReference"}]},
                            "x-kubernetes-patch-merge-key": "uid", "x-kubernetes-patch-strategy": "merge"},
        "resourceVersion": {"description": d["resourceVersion"], "type": "string"},
        "selfLink": {"description": d["selfLink"], "type": "string"},
        "uid": {"description": d["uid"], "type": "string"},
    }
    return {
        META + "ObjectMeta": {"description": d[""], "type": "object", "properties": om_props},
        META + "ListMeta": {
            "description": "ListMeta describes metadata that synthetic resources must have, including lists and "
                           "various status objects. A resource may have only one of {ObjectMeta, ListMeta}.",
            "type": "object",
            "properties": {
                "continue": {"description": "continue may be set if the user set a limit on the number of items "
                                            "returned, and indicates that the server has more data available.",
                             "type": "string"},
                "remainingItemCount": {"description": "remainingItemCount is the number of subsequent items in the "
                                                      "list which are not included in this list response.",
                                       "type": "integer", "format": "int64"},
                "resourceVersion": {"description": "String that identifies the server's internal version of this "
                                                   "object that can be used by clients to determine when objects "
                                                   "have changed.", "type": "string"},
                "selfLink": {"description": d["selfLink"], "type": "string"}}},
        META + "OwnerReference": {
            "description": "OwnerReference contains enough information to let you identify an owning object. An "
                           "owning object must be in the same namespace as the dependent, or be cluster-scoped, so "
                           "there is no namespace field.",
            "type": "object", "required": ["apiVersion", "kind", "name", "uid"],
            "properties": {
                "apiVersion": {"description": "API version of the referent.", "type": "string", "default": ""},
                "blockOwnerDeletion": {"description": "If true, AND if the owner has the \"foregroundDeletion\" "
                                                      "finalizer, then the owner cannot be deleted from the "
                                                      "key-value store until this reference is removed.",
                                       "type": "boolean"},
                "controller": {"description": "If true, this reference points to the managing controller.",
                               "type": "boolean"},
                "kind": {"description": "Kind of the referent. More info: https://git.k8s.io/community/"
                                        "contributors/devel/sig-architecture/api-conventions.md#types-kinds",
                         "type": "string", "default": ""},
                "name": {"description": "Name of the referent. More info: "
                                        "http://kubernetes.io/docs/user-guide/identifiers#names",
                         "type": "string", "default": ""},
                "uid": {"description": "UID of the referent. More info: "
                                       "http://kubernetes.io/docs/user-guide/identifiers#uids",
                        "type": "string", "default": ""}},
            "x-kubernetes-map-type": "atomic"},
        META + "ManagedFieldsEntry": {
            "description": "ManagedFieldsEntry is a workflow-id, a FieldSet and the group version of the resource "
                           "that the fieldset applies to.",
            "type": "object",
            "properties": {
                "apiVersion": {"description": "APIVersion defines the version of this resource that this field set "
                                              "applies to.", "type": "string"},
                "fieldsType": {"description": "FieldsType is the discriminator for the different fields format and "
                                              "version. There is currently only one possible value: \"FieldsV1\"",
                               "type": "string"},
                "fieldsV1": _ref(META + "FieldsV1", "FieldsV1 holds the first JSON version format as described in "
                                                     "the \"FieldsV1\" type."),
                "manager": {"description": "Manager is an identifier of the workflow managing these fields.",
                            "type": "string"},
                "operation": {"description": "Operation is the type of operation which lead to this "
                                             "ManagedFieldsEntry being created. The only valid values for this field "
                                             "are 'Apply' and 'Update'.", "type": "string"},
                "subresource": {"description": "Subresource is the name of the subresource used to update that "
                                               "object, or empty string if the object was updated through the main "
                                               "resource.", "type": "string"},
                "time": _ref(META + "Time", "Time is the timestamp of when the ManagedFields entry was added.")}},
        META + "FieldsV1": {"description": "FieldsV1 stores a set of fields in a data structure like a Trie, in JSON "
                                           "format.", "type": "object"},
        META + "Time": {"description": "Time is a wrapper around time.Time which supports correct marshaling to YAML "
                                       "and JSON.  Wrappers are provided for many of the factory methods that the "
                                       "time package offers.", "type": "string", "format": "date-time"},
        META + "Patch": {"description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH "
                                        "request body.", "type": "object"},
        META + "Preconditions": {"description": "Preconditions must be fulfilled before an operation (update, delete, "
                                                "etc.) is carried out.", "type": "object",
                                 "properties": {"resourceVersion": {"description": "Specifies the target "
                                                                                   "ResourceVersion",
                                                                    "type": "string"},
                                                "uid": {"description": "Specifies the target UID.",
                                                        "type": "string"}}},
        META + "DeleteOptions": {
            "description": "DeleteOptions may be provided when deleting an API object.", "type": "object",
            "properties": {
                "apiVersion": {"description": API_VERSION_DESC, "type": "string"},
                "dryRun": {"description": _PARAMS["dryRun"][1], "type": "array",
                           "items": {"type": "string", "default": ""}},
                "gracePeriodSeconds": {"description": _PARAMS["gracePeriodSeconds"][1], "type": "integer",
                                       "format": "int64"},
                "kind": {"description": KIND_DESC, "type": "string"},
                "orphanDependents": {"description": _PARAMS["orphanDependents"][1], "type": "boolean"},
                "preconditions": _ref(META + "Preconditions", "Must be fulfilled before a deletion is carried out."),
                "propagationPolicy": {"description": _PARAMS["propagationPolicy"][1], "type": "string"}}},
        META + "StatusCause": {
            "description": "StatusCause provides more information about an api.Status failure, including cases when "
                           "multiple errors are encountered.", "type": "object",
            "properties": {"field": {"description": "The field of the resource that has caused this error, as named "
                                                    "by its JSON serialization.", "type": "string"},
                           "message": {"description": "A human-readable description of the cause of the error.",
                                       "type": "string"},
                           "reason": {"description": "A machine-readable description of the cause of the error.",
                                      "type": "string"}}},
        META + "StatusDetails": {
            "description": "StatusDetails is a set of additional properties that MAY be set by the server to provide "
                           "additional information about a response.", "type": "object",
            "properties": {"causes": {"description": "The Causes array includes more details associated with the "
                                                     "StatusReason failure.", "type": "array",
                                      "items": {"default": {}, "allOf": [{"$ref": REF + META + "StatusCause"}]}},
                           "group": {"description": "The group attribute of the resource associated with the status "
                                                    "StatusReason.", "type": "string"},
                           "kind": {"description": "The kind attribute of the resource associated with the status "
                                                   "StatusReason.", "type": "string"},
                           "name": {"description": "The name attribute of the resource associated with the status "
                                                   "StatusReason (when there is a single name which can be "
                                                   "described).", "type": "string"},
                           "retryAfterSeconds": {"description": "If specified, the time in seconds before the "
                                                                "operation should be retried.",
                                                 "type": "integer", "format": "int32"},
                           "uid": {"description": "UID of the resource.", "type": "string"}}},
        META + "Status": {
            "description": "Status is a return value for calls that don't return other objects.", "type": "object",
            "properties": {"apiVersion": {"description": API_VERSION_DESC, "type": "string"},
                           "code": {"description": "Suggested HTTP return code for this status, 0 if not set.",
                                    "type": "integer", "format": "int32"},
                           "details": _ref(META + "StatusDetails", "Extended data associated with the reason."),
                           "kind": {"description": KIND_DESC, "type": "string"},
                           "message": {"description": "A human-readable description of the status of this "
                                                      "operation.", "type": "string"},
                           "metadata": _ref(META + "ListMeta", LIST_METADATA_DESC, {}),
                           "reason": {"description": "A machine-readable description of why this operation is in "
                                                     "the \"Failure\" status.", "type": "string"},
                           "status": {"description": "Status of the operation. One of: \"Success\" or "
                                                     "\"Failure\".", "type": "string"}},
            "x-kubernetes-group-version-kind": [_gvk("", "v1", "Status")]},
    }


def _publish_schema(s, embedded_root=False):
    """CRD schema -> published schema: descriptions and extensions kept; embedded resources get the
    apiVersion/kind/metadata properties the builder adds (addEmbeddedProperties)."""
    if not isinstance(s, dict):
        return s
    out = {}
    for k, v in s.items():
        if k == "properties" and isinstance(v, dict):
            out[k] = {pk: _publish_schema(pv) for pk, pv in v.items()}
        elif k in ("items", "additionalProperties", "not") and isinstance(v, dict):
            out[k] = _publish_schema(v)
        elif k in ("allOf", "anyOf", "oneOf") and isinstance(v, list):
            out[k] = [_publish_schema(x) for x in v]
        else:
            out[k] = copy.deepcopy(v)
    if embedded_root or s.get("x-kubernetes-embedded-resource"):
        props = out.setdefault("properties", {})
        props["apiVersion"] = dict(props.get("apiVersion") or {}, description=API_VERSION_DESC, type="string")
        props["kind"] = dict(props.get("kind") or {}, description=KIND_DESC, type="string")
        props["metadata"] = _ref(META + "ObjectMeta", METADATA_DESC)
        if not embedded_root:
            out.setdefault("type", "object")
    return out


def _crd_kind_schema(rt):
    s = _publish_schema(rt.schema or {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        embedded_root=True)
    s.setdefault("type", "object")
    s["x-kubernetes-group-version-kind"] = [_gvk(rt.group, rt.version, rt.kind)]
    return s


def _list_schema(rt, gvk_ext):
    kname = _schema_name(rt)
    s = {"description": "%s is a list of %s" % (rt.list_kind, rt.kind), "type": "object", "required": ["items"],
         "properties": {
             "apiVersion": {"description": API_VERSION_DESC, "type": "string"},
             "items": {"description": "List of %s. More info: https://git.k8s.io/community/contributors/devel/"
                                      "sig-architecture/api-conventions.md" % rt.plural,
                       "type": "array", "items": {"$ref": REF + kname}},
             "kind": {"description": KIND_DESC, "type": "string"},
             "metadata": _ref(META + "ListMeta", LIST_METADATA_DESC)}}
    if gvk_ext:
        s["x-kubernetes-group-version-kind"] = [_gvk(rt.group, rt.version, rt.list_kind)]
    return s


def _builtin_stub(desc):
    # Deliberately without x-kubernetes-group-version-kind: see the module docstring.
    return {"description": desc, "type": "object", "x-kubernetes-preserve-unknown-fields": True}


# ---------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------

def v3_group_version(gv, resource_types):
    """The OpenAPI v3 document for one group-version (gv as "apis/g/v", "api/v1", "g/v" or "v1"),
    built from the ResourceTypes served in it. Returns None when no type is in that GV."""
    group, version = _normalize_gv(gv)
    types = [t for t in resource_types if t.group == group and t.version == version]
    if not types:
        return None
    types.sort(key=lambda t: (t.kind, t.plural))
    paths, schemas = {}, _meta_schemas()
    for rt in types:
        paths.update(_resource_paths(rt))
        kname, lname = _schema_name(rt), _schema_name(rt, rt.list_kind)
        if rt.is_crd:
            schemas[kname] = _crd_kind_schema(rt)
            schemas[lname] = _list_schema(rt, True)
        else:
            schemas.setdefault(kname, _builtin_stub("%s (%s). kube-sim publishes no schema for built-in kinds so that "
                                                    "kubectl uses its compiled-in patch metadata." % (rt.kind,
                                                                                                     rt.group_version)))
            schemas.setdefault(lname, _list_schema(rt, False))
        for sub in rt.subresources:
            if sub in _SUBRESOURCE_KINDS:
                grp, ver, knd = _SUBRESOURCE_KINDS[sub]
                name = (_BUILTIN_PACKAGES.get(grp) or "io.k8s.api." + grp.split(".")[0]) + ".%s.%s" % (ver, knd)
                schemas.setdefault(name, _builtin_stub("%s (%s/%s)." % (knd, grp or "core", ver)))
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": INFO_VERSION},
            "paths": dict(sorted(paths.items())),
            "components": {"schemas": dict(sorted(schemas.items())),
                           "securitySchemes": {"BearerToken": {"type": "apiKey", "description": "Bearer Token "
                                                                                                "authentication",
                                                               "name": "authorization", "in": "header"}}}}


def v3_document_bytes(doc):
    """The exact bytes to serve for a document (compact JSON, keys in document order); the
    hash in the root index is computed over these."""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def v3_hash(doc):
    """kube-openapi handler3 computeETag: upper-case hex SHA-512 of the served JSON bytes."""
    data = doc if isinstance(doc, (bytes, bytearray)) else v3_document_bytes(doc)
    return hashlib.sha512(data).hexdigest().upper()


def v3_root(resource_types):
    """GET /openapi/v3: {"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=..."}, ...}}."""
    gvs = sorted({_gv_key(t.group, t.version) for t in resource_types})
    out = {}
    for key in gvs:
        doc = v3_group_version(key, resource_types)
        out[key] = {"serverRelativeURL": "/openapi/v3/%s?hash=%s" % (key, v3_hash(doc))}
    return {"paths": out}


def v3_cache_headers(gv, requested_hash, doc):
    """What the real handler (kube-openapi handler3.HandleGroupVersion) does with ?hash=:
    returns (status, headers). A stale hash gets a 301 to the current URL; a matching one is
    marked cacheable forever, which kubectl's disk cache relies on."""
    group, version = _normalize_gv(gv)
    current = v3_hash(doc)
    headers = {"Content-Type": "application/json", "Etag": '"%s"' % current, "Vary": "Accept"}
    if requested_hash:
        if requested_hash != current:
            return 301, {"Location": "/openapi/v3/%s?hash=%s" % (_gv_key(group, version), current)}
        headers["Cache-Control"] = "public, immutable"
    return 200, headers

"""Kind-specific behaviour of the real registries (pkg/registry/*/strategy.go):
defaults applied on create, validation the client can trip over, what a
delete does, which fields a write may not touch. Only the kinds kube-sim
serves, and only what a client of ours can observe.

Defaults follow the recorded objects in shared/conformance/samples (a Job and
the Pods its controller made on a real 1.24 server).
"""
import base64
import binascii
import copy
import json
import random
import re

from . import errors, schema as schemamod

GENERATION_KINDS = {("batch", "jobs"), ("apps", "deployments"), ("apps", "statefulsets"),
                    ("apiextensions.k8s.io", "customresourcedefinitions"),
                    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
                    ("admissionregistration.k8s.io", "validatingwebhookconfigurations")}

SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def key(rtype):
    return (rtype.group, rtype.plural)


def has_generation(rtype):
    return rtype.is_crd or key(rtype) in GENERATION_KINDS


def allow_unconditional_update(rtype):
    # Custom resources require metadata.resourceVersion on PUT; built-ins do not.
    return not rtype.is_crd


def default_gc_policy(rtype):
    # batch/v1 Jobs orphan their pods unless told otherwise (legacy default kept by
    # the real Job registry); everything else deletes dependents in the background.
    if key(rtype) == ("batch", "jobs"):
        return "Orphan"
    return "Background"


def returns_deleted_object(rtype):
    return key(rtype) == ("", "pods")


def blocks_deletion(rtype, obj):
    """Namespaces linger while spec.finalizers is non-empty."""
    if key(rtype) == ("", "namespaces"):
        return bool((obj.get("spec") or {}).get("finalizers"))
    return False


def graceful_delete_seconds(rtype, obj, requested):
    """Pods bound to a node and not yet terminal are deleted gracefully: the
    kubelet stops them, then removes the object (grace 0)."""
    if key(rtype) != ("", "pods"):
        return None
    spec = obj.get("spec") or {}
    phase = (obj.get("status") or {}).get("phase")
    if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
        return 0
    if requested is not None:
        return int(requested)
    return int(spec.get("terminationGracePeriodSeconds", 30))


def prepare_delete(rtype, obj):
    if key(rtype) == ("", "namespaces"):
        obj.setdefault("status", {})["phase"] = "Terminating"


# -- events.k8s.io/v1 <-> core/v1 Event -----------------------------------------------

_EV_MAP = [("regarding", "involvedObject"), ("note", "message"), ("deprecatedSource", "source"),
           ("deprecatedFirstTimestamp", "firstTimestamp"), ("deprecatedLastTimestamp", "lastTimestamp"),
           ("deprecatedCount", "count"), ("reportingController", "reportingComponent")]


def convert_in(rtype, obj):
    if key(rtype) == ("events.k8s.io", "events"):
        out = copy.deepcopy(obj)
        for new, old in _EV_MAP:
            if new in out:
                out[old] = out.pop(new)
        out["apiVersion"] = "v1"
        return out
    return obj


def convert_out(rtype, obj):
    if key(rtype) == ("events.k8s.io", "events"):
        out = copy.deepcopy(obj)
        for new, old in _EV_MAP:
            if old in out:
                out[new] = out.pop(old)
        out["apiVersion"] = "events.k8s.io/v1"
        return out
    if key(rtype) == ("", "events") and obj.get("apiVersion") != "v1":
        out = dict(obj)
        out["apiVersion"] = "v1"
        return out
    return obj


def field_view(rtype, obj):
    return obj


# -- defaults -------------------------------------------------------------------------

def _pull_policy(image):
    name = (image or "").split("@")[0]
    last = name.rsplit("/", 1)[-1]
    if "@" in (image or ""):
        return "IfNotPresent"
    if ":" not in last or last.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


def default_container(c):
    c.setdefault("imagePullPolicy", _pull_policy(c.get("image")))
    c.setdefault("resources", {})
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    for p in c.get("ports") or []:
        p.setdefault("protocol", "TCP")
    for e in c.get("env") or []:
        fr = (e.get("valueFrom") or {}).get("fieldRef")
        if fr is not None:
            fr.setdefault("apiVersion", "v1")


def default_pod_spec(spec):
    """Defaults of a PodSpec as they appear in a pod template (Job, Deployment)."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    spec.setdefault("terminationGracePeriodSeconds", 30)
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        default_container(c)
    for v in spec.get("volumes") or []:
        for src in ("configMap", "secret"):
            if src in v:
                v[src].setdefault("defaultMode", 420)
        if "downwardAPI" in v:
            v["downwardAPI"].setdefault("defaultMode", 420)
            for it in v["downwardAPI"].get("items") or []:
                if "fieldRef" in it:
                    it["fieldRef"].setdefault("apiVersion", "v1")
        if "projected" in v:
            v["projected"].setdefault("defaultMode", 420)


def _qos(spec):
    cs = (spec.get("containers") or []) + (spec.get("initContainers") or [])
    reqs = [c.get("resources") or {} for c in cs]
    if not any(r.get("requests") or r.get("limits") for r in reqs):
        return "BestEffort"
    if all((r.get("limits") or {}).get("cpu") and (r.get("limits") or {}).get("memory") and
           (r.get("requests") or r.get("limits")) == r.get("limits") for r in reqs):
        return "Guaranteed"
    return "Burstable"


def default_pod(obj, api):
    spec = obj.setdefault("spec", {})
    default_pod_spec(spec)
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec.setdefault("priority", 0)
    sa = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    spec["serviceAccountName"] = sa
    spec["serviceAccount"] = sa
    tol = spec.setdefault("tolerations", [])
    for k in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if not any(t.get("key") == k for t in tol):
            tol.append({"effect": "NoExecute", "key": k, "operator": "Exists", "tolerationSeconds": 300})
    if spec.get("automountServiceAccountToken", True) is not False:
        vname = "kube-api-access-" + "".join(random.choice(SUFFIX_CHARS) for _ in range(5))
        if not any(m.get("mountPath") == "/var/run/secrets/kubernetes.io/serviceaccount"
                   for c in spec.get("containers") or [] for m in c.get("volumeMounts") or []):
            spec.setdefault("volumes", []).append({"name": vname, "projected": {"defaultMode": 420, "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}},
                {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                                            "path": "namespace"}]}}]}})
            for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
                c.setdefault("volumeMounts", []).append({"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                                                          "name": vname, "readOnly": True})
    obj["status"] = {"phase": "Pending", "qosClass": _qos(spec)}


def default_job(obj):
    md = obj["metadata"]
    spec = obj.setdefault("spec", {})
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("completions", 1)
    spec.setdefault("parallelism", 1)
    spec.setdefault("suspend", False)
    uid = md["uid"]
    if not spec.get("manualSelector"):
        # 1.27+ sets both label generations; the 1.24 recording has the legacy pair.
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid, "controller-uid": uid}}
        tmd = spec.setdefault("template", {}).setdefault("metadata", {})
        labels = tmd.setdefault("labels", {})
        labels.update({"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": md["name"],
                       "controller-uid": uid, "job-name": md["name"]})
    tmpl = spec.setdefault("template", {})
    tmpl.setdefault("metadata", {}).setdefault("creationTimestamp", None)
    default_pod_spec(tmpl.setdefault("spec", {}))
    md.setdefault("annotations", {}).setdefault("batch.kubernetes.io/job-tracking", "")


def default_workload(obj, kind):
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    if kind == "Deployment":
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault("strategy", {"type": "RollingUpdate",
                                     "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
    else:
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
    tmpl = spec.setdefault("template", {})
    tmpl.setdefault("metadata", {}).setdefault("creationTimestamp", None)
    default_pod_spec(tmpl.setdefault("spec", {}))


def default_webhooks(obj, mutating):
    for wh in obj.get("webhooks") or []:
        wh.setdefault("failurePolicy", "Fail")
        wh.setdefault("matchPolicy", "Equivalent")
        wh.setdefault("namespaceSelector", {})
        wh.setdefault("objectSelector", {})
        wh.setdefault("timeoutSeconds", 10)
        if mutating:
            wh.setdefault("reinvocationPolicy", "Never")
        for r in wh.get("rules") or []:
            r.setdefault("scope", "*")
        svc = (wh.get("clientConfig") or {}).get("service")
        if svc is not None:
            svc.setdefault("port", 443)


_next_ip = [10]


def prepare_create(rtype, obj, api):
    k = key(rtype)
    md = obj["metadata"]
    if k == ("", "pods"):
        default_pod(obj, api)
        sa = obj["spec"]["serviceAccountName"]
        sat = api.registry.get("", "v1", "serviceaccounts")
        if api.store.get(api.skey(sat), md.get("namespace", ""), sa) is None:
            raise errors.ApiError(403, "Forbidden", 'pods "%s" is forbidden: error looking up service account %s/%s: '
                                  'serviceaccount "%s" not found' % (md.get("name"), md.get("namespace"), sa, sa),
                                  {"name": md.get("name"), "kind": "pods"})
    elif k == ("batch", "jobs"):
        default_job(obj)
    elif k in (("apps", "deployments"), ("apps", "statefulsets")):
        default_workload(obj, rtype.kind)
    elif k == ("", "namespaces"):
        obj["spec"] = {"finalizers": ["kubernetes"]}
        obj["status"] = {"phase": "Active"}
        md.setdefault("labels", {})["kubernetes.io/metadata.name"] = md.get("name", "")
    elif k == ("", "secrets"):
        obj.setdefault("type", "Opaque")
        sd = obj.pop("stringData", None) or {}
        if sd:
            data = obj.setdefault("data", {})
            for dk, dv in sd.items():
                data[dk] = base64.b64encode(str(dv).encode()).decode()
    elif k == ("", "services"):
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec.get("clusterIP") != "None" and spec["type"] != "ExternalName":
            _next_ip[0] += 1
            ip = "10.96.%d.%d" % (_next_ip[0] // 250, _next_ip[0] % 250 + 1)
            spec.setdefault("clusterIP", ip)
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("internalTrafficPolicy", "Cluster")
        for p in spec.get("ports") or []:
            p.setdefault("protocol", "TCP")
            p.setdefault("targetPort", p.get("port"))
        obj.setdefault("status", {"loadBalancer": {}})
    elif k == ("apiextensions.k8s.io", "customresourcedefinitions"):
        obj.update(schemamod.crd_default_and_status(obj))
    elif k == ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"):
        default_webhooks(obj, True)
    elif k == ("admissionregistration.k8s.io", "validatingwebhookconfigurations"):
        default_webhooks(obj, False)


def prepare_update(rtype, new, cur, subresource):
    k = key(rtype)
    if k == ("", "namespaces"):
        if subresource != "finalize":
            new["spec"] = copy.deepcopy(cur.get("spec") or {})
        if subresource != "status":
            new["status"] = copy.deepcopy(cur.get("status") or {})
    if k == ("", "secrets") and subresource is None:
        sd = new.pop("stringData", None) or {}
        for dk, dv in sd.items():
            new.setdefault("data", {})[dk] = base64.b64encode(str(dv).encode()).decode()
    if k == ("batch", "jobs") and subresource is None:
        # The selector and its labels are set once by the server.
        new.setdefault("spec", {})["selector"] = copy.deepcopy((cur.get("spec") or {}).get("selector"))
    if k in (("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
             ("admissionregistration.k8s.io", "validatingwebhookconfigurations")):
        default_webhooks(new, k[1].startswith("mutating"))


# -- validation -----------------------------------------------------------------------

def _validate_pod_spec(spec, path, template):
    from .api import validate_labels  # noqa: F401 - labels are checked by the caller
    causes = []
    if not isinstance(spec, dict):
        return [errors.field_required(path)]
    containers = spec.get("containers")
    if not containers:
        causes.append(errors.field_required(path + ".containers"))
    names = set()
    for group in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(group) or []):
            p = "%s.%s[%d]" % (path, group, i)
            if not c.get("name"):
                causes.append(errors.field_required(p + ".name"))
            elif c["name"] in names:
                causes.append({"reason": "FieldValueDuplicate", "field": p + ".name",
                               "message": 'Duplicate value: "%s"' % c["name"]})
            names.add(c.get("name"))
            if not c.get("image") and not template:
                causes.append(errors.field_required(p + ".image"))
    rp = spec.get("restartPolicy")
    if rp not in (None, "Always", "OnFailure", "Never"):
        causes.append({"reason": "FieldValueNotSupported", "field": path + ".restartPolicy",
                       "message": 'Unsupported value: "%s": supported values: "Always", "OnFailure", "Never"' % rp})
    vols = set()
    for i, v in enumerate(spec.get("volumes") or []):
        if v.get("name") in vols:
            causes.append({"reason": "FieldValueDuplicate", "field": "%s.volumes[%d].name" % (path, i),
                           "message": 'Duplicate value: "%s"' % v.get("name")})
        vols.add(v.get("name"))
    for group in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(group) or []):
            for j, m in enumerate(c.get("volumeMounts") or []):
                if m.get("name") not in vols:
                    causes.append({"reason": "FieldValueNotFound",
                                   "field": "%s.%s[%d].volumeMounts[%d].name" % (path, group, i, j),
                                   "message": 'Not found: "%s"' % m.get("name")})
    return causes


def validate(rtype, obj, old):
    from .api import validate_labels
    k = key(rtype)
    causes = []
    if k == ("", "pods"):
        causes += _validate_pod_spec(obj.get("spec"), "spec", False)
    elif k == ("batch", "jobs"):
        spec = obj.get("spec") or {}
        tmpl = spec.get("template") or {}
        causes += validate_labels((tmpl.get("metadata") or {}).get("labels"), "spec.template.labels")
        causes += _validate_pod_spec(tmpl.get("spec"), "spec.template.spec", True)
        rp = (tmpl.get("spec") or {}).get("restartPolicy")
        if rp not in ("OnFailure", "Never"):
            causes.append({"reason": "FieldValueNotSupported", "field": "spec.template.spec.restartPolicy",
                           "message": 'Unsupported value: "%s": supported values: "OnFailure", "Never"' % rp})
        for f in ("backoffLimit", "activeDeadlineSeconds", "ttlSecondsAfterFinished", "parallelism",
                  "completions"):
            v = spec.get(f)
            if v is not None and (not isinstance(v, int) or v < 0):
                causes.append(errors.field_invalid("spec." + f, v, "must be greater than or equal to 0"))
        if spec.get("activeDeadlineSeconds") == 0:
            causes.append(errors.field_invalid("spec.activeDeadlineSeconds", 0, "must be greater than 0"))
        if old is not None:
            if (old.get("spec") or {}).get("template") != tmpl:
                causes.append(errors.field_invalid("spec.template", tmpl, "field is immutable"))
    elif k in (("apps", "deployments"), ("apps", "statefulsets")):
        spec = obj.get("spec") or {}
        tmpl = spec.get("template") or {}
        tl = (tmpl.get("metadata") or {}).get("labels") or {}
        causes += validate_labels(tl, "spec.template.metadata.labels")
        sel = spec.get("selector")
        if not sel:
            causes.append(errors.field_required("spec.selector"))
        elif any(tl.get(a) != b for a, b in (sel.get("matchLabels") or {}).items()):
            causes.append(errors.field_invalid("spec.template.metadata.labels", tl,
                                               "`selector` does not match template `labels`"))
        causes += _validate_pod_spec(tmpl.get("spec"), "spec.template.spec", True)
    elif k == ("", "secrets"):
        total = 0
        for dk, dv in (obj.get("data") or {}).items():
            try:
                total += len(base64.b64decode(dv, validate=True))
            except (binascii.Error, TypeError, ValueError):
                raise errors.bad_request("illegal base64 data in secret key %s" % dk)
        if total > 1024 * 1024:
            causes.append({"reason": "FieldValueTooLong", "field": "data",
                           "message": "Too long: must have at most 1048576 bytes"})
    elif k == ("", "configmaps"):
        total = sum(len(str(v)) for v in (obj.get("data") or {}).values())
        total += sum(len(str(v)) * 3 // 4 for v in (obj.get("binaryData") or {}).values())
        if total > 1024 * 1024:
            causes.append({"reason": "FieldValueTooLong", "field": "",
                           "message": "Too long: must have at most 1048576 bytes"})
    elif k == ("apiextensions.k8s.io", "customresourcedefinitions"):
        causes += schemamod.validate_crd(obj, old)
        if old is not None:
            if (old.get("spec") or {}).get("group") != (obj.get("spec") or {}).get("group"):
                causes.append(errors.field_invalid("spec.group", (obj.get("spec") or {}).get("group"),
                                                   "field is immutable"))
    elif k in (("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
               ("admissionregistration.k8s.io", "validatingwebhookconfigurations")):
        for i, wh in enumerate(obj.get("webhooks") or []):
            p = "webhooks[%d]" % i
            if not wh.get("sideEffects"):
                causes.append({"reason": "FieldValueNotSupported", "field": p + ".sideEffects",
                               "message": 'Unsupported value: "": supported values: "None", "NoneOnDryRun"'})
            if not wh.get("admissionReviewVersions"):
                causes.append(errors.field_required(p + ".admissionReviewVersions",
                                                    "must specify one of v1, v1beta1"))
            cc = wh.get("clientConfig") or {}
            if not cc.get("url") and not cc.get("service"):
                causes.append(errors.field_required(p + ".clientConfig", "exactly one of url or service is "
                                                    "required"))
            if cc.get("caBundle"):
                try:
                    base64.b64decode(cc["caBundle"], validate=True)
                except (binascii.Error, ValueError):
                    raise errors.bad_request("illegal base64 data in %s.clientConfig.caBundle" % p)
    elif k == ("coordination.k8s.io", "leases"):
        spec = obj.get("spec") or {}
        v = spec.get("leaseDurationSeconds")
        if v is not None and v <= 0:
            causes.append(errors.field_invalid("spec.leaseDurationSeconds", v, "must be greater than 0"))
        v = spec.get("leaseTransitions")
        if v is not None and v < 0:
            causes.append(errors.field_invalid("spec.leaseTransitions", v, "must be greater than or equal to 0"))
    return causes


# -- decoding: JSON types of built-in fields ---------------------------------------------
# A real server decodes built-ins into Go structs, so a wrong JSON type is a 400 decode
# error, not a 422. These are the fields our clients (and tests) write.
_T = {
    "meta": {"name": "string", "generateName": "string", "namespace": "string", "labels": "strmap",
             "annotations": "strmap", "finalizers": "strlist", "ownerReferences": "array"},
    ("coordination.k8s.io", "leases"): {"spec": {"holderIdentity": "string", "leaseDurationSeconds": "int32",
                                                 "acquireTime": "microtime", "renewTime": "microtime",
                                                 "leaseTransitions": "int32"}},
    ("batch", "jobs"): {"spec": {"backoffLimit": "int32", "activeDeadlineSeconds": "int64",
                                 "ttlSecondsAfterFinished": "int32", "parallelism": "int32",
                                 "completions": "int32", "suspend": "bool", "template": "object"}},
    ("", "pods"): {"spec": {"containers": "array", "initContainers": "array", "restartPolicy": "string",
                            "nodeName": "string", "volumes": "array"}},
    ("", "configmaps"): {"data": "strmap", "binaryData": "strmap"},
    ("", "secrets"): {"data": "strmap", "stringData": "strmap", "type": "string"},
    ("", "events"): {"count": "int32", "reason": "string", "message": "string", "type": "string"},
}
_GO = {"string": "string", "int32": "int32", "int64": "int64", "bool": "bool", "object": "struct",
       "strmap": "map[string]string", "strlist": "[]string", "array": "[]", "microtime": "v1.MicroTime"}


def _json_type(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def _type_ok(t, v):
    if v is None:
        return True
    if t == "string":
        return isinstance(v, str)
    if t in ("int32", "int64"):
        lim = 2 ** 31 if t == "int32" else 2 ** 63
        return isinstance(v, int) and not isinstance(v, bool) and -lim <= v < lim
    if t == "bool":
        return isinstance(v, bool)
    if t == "object":
        return isinstance(v, dict)
    if t == "strmap":
        return isinstance(v, dict) and all(isinstance(x, str) for x in v.values())
    if t == "strlist":
        return isinstance(v, list) and all(isinstance(x, str) for x in v)
    if t == "array":
        return isinstance(v, list)
    if t == "microtime":
        import re as _re
        return isinstance(v, str) and _re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", v)
    return True


def check_types(rtype, obj):
    """Raises the 400 a real server's decoder gives for a wrong JSON type."""
    if rtype.is_crd:
        return
    def fail(path, t, v):
        raise errors.bad_request('%s in version "%s" cannot be handled as a %s: json: cannot unmarshal %s into Go '
                                 'struct field %s of type %s' % (rtype.kind, rtype.version, rtype.kind,
                                                                 _json_type(v), path, _GO.get(t, t)))
    for top in ("metadata", "spec", "status"):
        if top in obj and obj[top] is not None and not isinstance(obj[top], dict):
            fail("%s.%s" % (rtype.kind, top), "object", obj[top])
    for f, t in _T["meta"].items():
        v = (obj.get("metadata") or {}).get(f)
        if not _type_ok(t, v):
            fail("%s.metadata.%s" % (rtype.kind, f), t, v)
    for f, t in _T.get(key(rtype), {}).items():
        if isinstance(t, dict):
            sub = obj.get(f) or {}
            for g, tt in t.items():
                if not _type_ok(tt, sub.get(g)):
                    fail("%s.%s.%s" % (rtype.kind, f, g), tt, sub.get(g))
        elif not _type_ok(t, obj.get(f)):
            fail("%s.%s" % (rtype.kind, f), t, obj.get(f))


def after_create(rtype, obj, api):
    pass


def after_update(rtype, old, obj, api):
    pass


def after_delete(rtype, obj, api):
    pass


def short_json(obj):
    return json.dumps(obj, separators=(",", ":"))


RESERVED = re.compile(r"^(kube-|kubernetes\.io/)")

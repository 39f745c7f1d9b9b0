"""Resource types served by kube-sim: the built-in kinds we use and the kinds
that CustomResourceDefinitions add at run time.

A ResourceType is everything the server needs to route, store, discover and
print one resource. Built-ins carry the storageVersionHash, short names and
categories of the real 1.24 server (shared/conformance/samples/*.json).
"""
import threading

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
STATUS_VERBS = ["get", "patch", "update"]


class ResourceType:
    def __init__(self, group, version, kind, plural, namespaced=True, short_names=None,
                 categories=None, verbs=None, subresources=None, singular=None, list_kind=None,
                 schema=None, printer_columns=None, crd_name=None, storage_version_hash=None,
                 strategic_merge=True, has_status=None):
        self.group = group                      # "" for the core group
        self.version = version
        self.kind = kind
        self.plural = plural
        self.singular = singular if singular is not None else kind.lower()
        self.namespaced = namespaced
        self.short_names = list(short_names or [])
        self.categories = list(categories or [])
        self.verbs = list(verbs or ALL_VERBS)
        # subresource name -> verbs, e.g. {"status": ["get","patch","update"], "log": ["get"]}
        self.subresources = dict(subresources or {})
        self.list_kind = list_kind or kind + "List"
        self.schema = schema                    # openAPIV3Schema (CRDs), None for built-ins
        self.printer_columns = list(printer_columns or [])   # CRD additionalPrinterColumns
        self.crd_name = crd_name                # set for custom resources
        self.storage_version_hash = storage_version_hash
        # Strategic merge patch is served for built-in kinds only (CRDs answer 415).
        self.strategic_merge = strategic_merge and crd_name is None
        # Whether `status` is a separate subresource: main writes keep the old status,
        # /status writes keep everything but status.
        self.has_status_subresource = "status" in self.subresources if has_status is None else has_status

    @property
    def group_version(self):
        return self.version if not self.group else "%s/%s" % (self.group, self.version)

    api_version = group_version

    @property
    def is_crd(self):
        return self.crd_name is not None

    @property
    def qualified(self):
        """plural.group as used in error messages ("gadgets.apidiff.example.com", "jobs.batch", "pods")."""
        return self.plural if not self.group else "%s.%s" % (self.plural, self.group)

    @property
    def kind_qualified(self):
        """Kind.group as used in 422 messages ("Gadget.apidiff.example.com", "Job.batch", "Pod")."""
        return self.kind if not self.group else "%s.%s" % (self.kind, self.group)

    def base_path(self, namespace=None):
        root = "/api/v1" if not self.group else "/apis/%s/%s" % (self.group, self.version)
        if self.namespaced and namespace:
            return "%s/namespaces/%s/%s" % (root, namespace, self.plural)
        return "%s/%s" % (root, self.plural)

    def __repr__(self):
        return "<ResourceType %s %s>" % (self.group_version, self.plural)


def _b(group, version, kind, plural, **kw):
    return ResourceType(group, version, kind, plural, **kw)


S = {"status": STATUS_VERBS}


def builtin_types():
    """The built-in kinds kube-sim serves. Storage is shared where the real server
    shares it (core/v1 and events.k8s.io/v1 Events are one object set)."""
    return [
        _b("", "v1", "Namespace", "namespaces", namespaced=False, short_names=["ns"],
           verbs=["create", "delete", "get", "list", "patch", "update", "watch"],
           subresources={"status": STATUS_VERBS, "finalize": ["update"]},
           storage_version_hash="Q3oi5N2YM8M="),
        _b("", "v1", "ConfigMap", "configmaps", short_names=["cm"], storage_version_hash="qFsyl6wFWjQ="),
        _b("", "v1", "Secret", "secrets", storage_version_hash="S6u1pOWzb84="),
        _b("", "v1", "ServiceAccount", "serviceaccounts", short_names=["sa"],
           subresources={"token": ["create"]}, storage_version_hash="pbx9ZvyFpBE="),
        _b("", "v1", "Pod", "pods", short_names=["po"], categories=["all"],
           subresources={"status": STATUS_VERBS, "log": ["get"], "binding": ["create"],
                         "eviction": ["create"]},
           storage_version_hash="xPOwRZ+Yhw8="),
        _b("", "v1", "Event", "events", short_names=["ev"], storage_version_hash="r2yiGXH7wu8="),
        _b("", "v1", "Service", "services", short_names=["svc"], categories=["all"],
           subresources=S, storage_version_hash="0/CO1lhkEBI="),
        _b("", "v1", "Endpoints", "endpoints", short_names=["ep"], storage_version_hash="fWeeMqaN/OA="),
        _b("", "v1", "Node", "nodes", namespaced=False, short_names=["no"], subresources=S,
           storage_version_hash="XwShjMxG9Fs="),
        _b("", "v1", "ResourceQuota", "resourcequotas", short_names=["quota"], subresources=S,
           storage_version_hash="8uhSgffRX6w="),
        _b("apps", "v1", "Deployment", "deployments", short_names=["deploy"], categories=["all"],
           subresources={"status": STATUS_VERBS, "scale": STATUS_VERBS},
           storage_version_hash="8aSe+NMegvE="),
        _b("apps", "v1", "StatefulSet", "statefulsets", short_names=["sts"], categories=["all"],
           subresources={"status": STATUS_VERBS, "scale": STATUS_VERBS},
           storage_version_hash="H+vl74LkKdo="),
        _b("batch", "v1", "Job", "jobs", categories=["all"], subresources=S,
           storage_version_hash="mudhfqk/qZY="),
        _b("coordination.k8s.io", "v1", "Lease", "leases", storage_version_hash="gqkMMb/YqFM="),
        _b("events.k8s.io", "v1", "Event", "events", short_names=["ev"], storage_version_hash="r2yiGXH7wu8="),
        _b("rbac.authorization.k8s.io", "v1", "Role", "roles", storage_version_hash="7FuwZcIIItM="),
        _b("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", storage_version_hash="eGsCzGH6b1g="),
        _b("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False,
           storage_version_hash="bYE5ZWDrJ44="),
        _b("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings",
           namespaced=False, storage_version_hash="48tpQ8gZHFc="),
        _b("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
           namespaced=False, short_names=["crd", "crds"], categories=["api-extensions"], subresources=S,
           storage_version_hash="jfWCUB31mvA="),
        _b("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration",
           "mutatingwebhookconfigurations", namespaced=False, categories=["api-extensions"],
           storage_version_hash="Sqi0GUgDaX0="),
        _b("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration",
           "validatingwebhookconfigurations", namespaced=False, categories=["api-extensions"],
           storage_version_hash="B0wHjQmsGNk="),
        _b("authentication.k8s.io", "v1", "TokenReview", "tokenreviews", namespaced=False, verbs=["create"]),
        _b("authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews", namespaced=False,
           verbs=["create"]),
        _b("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews",
           namespaced=False, verbs=["create"]),
    ]


# Kinds whose objects live in the same storage as another group's kind.
SHARED_STORAGE = {("events.k8s.io", "events"): ("", "events")}

# Kinds served only as a request/response (never stored).
VIRTUAL_KINDS = {("authentication.k8s.io", "tokenreviews"), ("authorization.k8s.io", "subjectaccessreviews"),
                 ("authorization.k8s.io", "selfsubjectaccessreviews")}


class Registry:
    """All resource types currently served, built-in and from established CRDs.
    Thread-safe: CRD establishment adds types while requests are served."""

    def __init__(self):
        self._lock = threading.RLock()
        self._types = {}          # (group, version, plural) -> ResourceType
        for t in builtin_types():
            self._types[(t.group, t.version, t.plural)] = t

    def add(self, rtype):
        with self._lock:
            self._types[(rtype.group, rtype.version, rtype.plural)] = rtype

    def remove_crd(self, crd_name):
        with self._lock:
            for k in [k for k, t in self._types.items() if t.crd_name == crd_name]:
                del self._types[k]

    def get(self, group, version, plural):
        with self._lock:
            return self._types.get((group, version, plural))

    def all(self):
        with self._lock:
            return list(self._types.values())

    def by_kind(self, api_version, kind):
        group, _, version = api_version.rpartition("/")
        with self._lock:
            for t in self._types.values():
                if t.group == group and t.version == version and t.kind == kind:
                    return t
        return None

    def groups(self):
        """Ordered {group: [versions]} for discovery (core group excluded)."""
        with self._lock:
            out = {}
            for t in self._types.values():
                if t.group:
                    vs = out.setdefault(t.group, [])
                    if t.version not in vs:
                        vs.append(t.version)
            return out

    @staticmethod
    def storage_key(rtype):
        """Objects of kinds sharing storage use one key space."""
        return SHARED_STORAGE.get((rtype.group, rtype.plural), (rtype.group, rtype.plural))

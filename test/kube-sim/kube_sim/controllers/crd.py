"""Establishing CustomResourceDefinitions, as apiextensions-apiserver's naming
and establishing controllers do: accept the names, serve the resource, report
NamesAccepted and Established; on delete, remove every custom resource
(finalizer customresourcecleanup.apiextensions.k8s.io), then the CRD."""
import base64
import hashlib
import time

from . import Controller
from .. import errors, schema as schemamod
from ..api import INTERNAL, Context, clone, now_iso
from ..resources import STATUS_VERBS, ResourceType

CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"

# When each CRD's types started being served (for the garbage collector's
# discovery delay, see gc.py).
ESTABLISHED_AT = {}


def storage_version_hash(group, version, kind):
    # apiserver/pkg/endpoints/discovery/storageversionhash.go: first 8 bytes of sha256.
    return base64.b64encode(hashlib.sha256(("%s/%s/%s" % (group, version, kind)).encode()).digest()[:8]).decode()


def types_of(crd):
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    out = []
    storage = next((v["name"] for v in spec.get("versions") or [] if v.get("storage")), None)
    for v in spec.get("versions") or []:
        if not v.get("served", True):
            continue
        subs = {}
        vs = v.get("subresources") or {}
        if "status" in vs:
            subs["status"] = STATUS_VERBS
        if "scale" in vs:
            subs["scale"] = STATUS_VERBS
        out.append(ResourceType(
            spec["group"], v["name"], names["kind"], names["plural"],
            namespaced=spec.get("scope") == "Namespaced", short_names=names.get("shortNames"),
            categories=names.get("categories"), subresources=subs,
            singular=names.get("singular") or names["kind"].lower(),
            list_kind=names.get("listKind") or names["kind"] + "List",
            schema=((v.get("schema") or {}).get("openAPIV3Schema")),
            printer_columns=v.get("additionalPrinterColumns"), crd_name=crd["metadata"]["name"],
            storage_version_hash=storage_version_hash(spec["group"], storage or v["name"], names["kind"])))
    return out


def register_types(sim, crd, established_at=None):
    sim.registry.remove_crd(crd["metadata"]["name"])
    for t in types_of(crd):
        sim.registry.add(t)
        sim.store.ensure(sim.registry.storage_key(t))
    ESTABLISHED_AT.setdefault(crd["metadata"]["name"],
                              time.time() if established_at is None else established_at)


class CRDController(Controller):
    name = "crd"

    def __init__(self, sim):
        self.crd_type = sim.registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        super().__init__(sim)

    def keys_for(self, skey, ev):
        if skey == ("apiextensions.k8s.io", "customresourcedefinitions"):
            return [ev.name]
        return []

    def sync(self, name):
        try:
            crd = self.api.get(self.crd_type, None, name)
        except errors.ApiError as e:
            if e.code == 404:
                self.sim.registry.remove_crd(name)
                ESTABLISHED_AT.pop(name, None)
                return None
            raise
        if crd["metadata"].get("deletionTimestamp"):
            return self.cleanup(crd)
        conds = {c["type"]: c for c in (crd.get("status") or {}).get("conditions") or []}
        if conds.get("Established", {}).get("status") == "True":
            register_types(self.sim, crd)     # spec changes (schema, columns) take effect
            return None
        if "NamesAccepted" not in conds:
            self._status(crd, schemamod.crd_names_accepted)
            return None
        # The real server reports Installing briefly before Established.
        register_types(self.sim, crd)
        self._status(crd, schemamod.crd_established)
        if CLEANUP_FINALIZER not in (crd["metadata"].get("finalizers") or []):
            self.api.patch(self.crd_type, None, name, "application/merge-patch+json",
                           {"metadata": {"finalizers": (crd["metadata"].get("finalizers") or [])
                                         + [CLEANUP_FINALIZER]}}, INTERNAL)
        return None

    def _status(self, crd, phase_fn):
        new = clone(crd)
        new["status"] = phase_fn(crd, now_iso())
        self.api.update(self.crd_type, None, crd["metadata"]["name"], new, INTERNAL, "status")

    def cleanup(self, crd):
        name = crd["metadata"]["name"]
        types = [t for t in self.sim.registry.all() if t.crd_name == name]
        left = 0
        for t in types[:1]:
            lst = self.api.list(t, None)
            for o in lst["items"]:
                md = o["metadata"]
                if not md.get("deletionTimestamp"):
                    try:
                        self.api.delete(t, md.get("namespace"), md["name"], INTERNAL)
                    except errors.ApiError as e:
                        if e.code != 404:
                            raise
                left += 1
        if left:
            return 0.2
        fins = [f for f in crd["metadata"].get("finalizers") or [] if f != CLEANUP_FINALIZER]
        if fins != (crd["metadata"].get("finalizers") or []):
            ctx = Context(user=INTERNAL.user, internal=True)
            self.api.patch(self.crd_type, None, name, "application/merge-patch+json",
                           {"metadata": {"finalizers": fins or None}}, ctx)
        for t in types:
            self.sim.store.drop(self.sim.registry.storage_key(t))
        self.sim.registry.remove_crd(name)
        ESTABLISHED_AT.pop(name, None)
        return None

"""Owner-reference garbage collection, as kube-controller-manager's garbage
collector behaves (pkg/controller/garbagecollector):

- background: once an owner is gone, dependents whose owners are all gone are
  deleted; a dependent that still has a live owner only loses the dangling
  reference;
- foreground: an owner deleted with propagationPolicy=Foreground carries the
  foregroundDeletion finalizer until its dependents are gone;
- orphan: an owner with the orphan finalizer has its references removed from
  the dependents, then the finalizer;
- a dependent created with a reference to an owner that does not exist is
  deleted.

The real collector only knows resource types it has discovered, and
rediscovers every 30 s; dependents of a custom resource whose CRD was
established less than that ago wait. That is why the recorded real server
(shared/conformance, "ownerRef garbage collection") had not collected a
ConfigMap owned by a just-created custom resource ten seconds after the owner
was deleted. --gc-discovery-delay sets the period (0 for fast tests).
"""
import time

from . import Controller
from .. import errors
from ..api import INTERNAL, Context, clone
from .crd import ESTABLISHED_AT


class GarbageCollector(Controller):
    name = "gc"

    def __init__(self, sim):
        self.uids = {}        # uid -> (skey, ns, name)
        self.dependents = {}  # owner uid -> set of (skey, ns, name)
        self.delay = float(sim.opts.get("gc_discovery_delay", 30.0))
        super().__init__(sim)

    def keys_for(self, skey, ev):
        md = ev.obj["metadata"]
        uid = md.get("uid")
        ident = (skey, ev.ns, ev.name)
        keys = []
        old_refs = {r.get("uid") for r in ((ev.old or {}).get("metadata") or {}).get("ownerReferences") or []}
        new_refs = {r.get("uid") for r in md.get("ownerReferences") or []} if ev.type != "DELETED" else set()
        for u in old_refs - new_refs:
            s = self.dependents.get(u)
            if s:
                s.discard(ident)
                if not s:
                    del self.dependents[u]
        for u in new_refs:
            self.dependents.setdefault(u, set()).add(ident)
        if ev.type == "DELETED":
            self.uids.pop(uid, None)
            for dep in list(self.dependents.get(uid, ())):
                keys.append(("dependent",) + dep)
        else:
            self.uids[uid] = ident
            if ev.type == "ADDED" and new_refs:
                keys.append(("dependent",) + ident)
            fins = md.get("finalizers") or []
            if md.get("deletionTimestamp") and ("foregroundDeletion" in fins or "orphan" in fins):
                keys.append(("owner",) + ident)
                for dep in list(self.dependents.get(uid, ())):
                    keys.append(("dependent",) + dep)
        # A dependent deleted while its owner waits in the foreground.
        if ev.type == "DELETED":
            for r in ((ev.old or ev.obj).get("metadata") or {}).get("ownerReferences") or []:
                owner = self.uids.get(r.get("uid"))
                if owner is not None:
                    keys.append(("owner",) + owner)
        return keys

    def _rtype_for_skey(self, skey):
        for t in self.sim.registry.all():
            if self.sim.registry.storage_key(t) == skey:
                return t
        return None

    def _known(self, ref):
        """Whether the collector has discovered the owner's kind yet; seconds to wait if not."""
        group = ref.get("apiVersion", "").rpartition("/")[0]
        for t in self.sim.registry.all():
            if t.group == group and t.kind == ref.get("kind"):
                if t.crd_name is None:
                    return 0
                since = time.time() - ESTABLISHED_AT.get(t.crd_name, 0)
                return max(0.0, self.delay - since)
        return self.delay or 1.0

    def sync(self, key):
        kind, skey, ns, name = key
        if kind == "owner":
            return self.sync_owner(skey, ns, name)
        return self.sync_dependent(skey, ns, name)

    def sync_dependent(self, skey, ns, name):
        obj = self.sim.store.get(skey, ns, name)
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            return None
        refs = obj["metadata"].get("ownerReferences") or []
        if not refs:
            return None
        dangling, waiting = [], 0.0
        for r in refs:
            wait = self._known(r)
            if wait > 0:
                waiting = max(waiting, wait)
                continue
            owner = self.uids.get(r.get("uid"))
            owner_obj = self.sim.store.get(*owner) if owner else None
            if owner_obj is None:
                dangling.append(r)
            elif owner_obj["metadata"].get("deletionTimestamp") and \
                    "foregroundDeletion" in (owner_obj["metadata"].get("finalizers") or []):
                dangling.append(dict(r, _foreground=True))
        rtype = self._rtype_for_skey(skey)
        if rtype is None:
            return None
        if waiting:
            return waiting
        if not dangling:
            return None
        if len(dangling) == len(refs):
            policy = "Foreground" if any(d.get("_foreground") for d in dangling) else "Background"
            try:
                self.api.delete(rtype, ns, name, INTERNAL, {"propagationPolicy": policy,
                                                            "preconditions": {"uid": obj["metadata"]["uid"]}})
            except errors.ApiError as e:
                if e.code not in (404, 409):
                    raise
            return None
        gone = {d["uid"] for d in dangling if not d.get("_foreground")}
        if gone:
            keep = [r for r in refs if r.get("uid") not in gone]
            self._patch_refs(rtype, ns, name, obj, keep)
        return None

    def _patch_refs(self, rtype, ns, name, obj, refs):
        ops = [{"op": "test", "path": "/metadata/uid", "value": obj["metadata"]["uid"]},
               {"op": "replace", "path": "/metadata/ownerReferences", "value": refs}]
        try:
            self.api.patch(rtype, ns, name, "application/json-patch+json", ops, INTERNAL)
        except errors.ApiError as e:
            if e.code not in (404, 409, 422):
                raise

    def sync_owner(self, skey, ns, name):
        obj = self.sim.store.get(skey, ns, name)
        if obj is None or not obj["metadata"].get("deletionTimestamp"):
            return None
        rtype = self._rtype_for_skey(skey)
        uid = obj["metadata"]["uid"]
        fins = obj["metadata"].get("finalizers") or []
        with self.sim.store.lock:
            deps = [self.sim.store.get(*d) for d in list(self.dependents.get(uid, ()))]
        deps = [d for d in deps if d is not None]
        if "orphan" in fins:
            for d in deps:
                drt = self._rtype_for_skey(self.sim.registry.storage_key(self._type_of(d)))
                keep = [r for r in d["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
                self._patch_refs(drt, d["metadata"].get("namespace"), d["metadata"]["name"], d, keep)
            self._drop_finalizer(rtype, ns, name, obj, "orphan")
            return None
        if "foregroundDeletion" in fins:
            blocking = [d for d in deps if any(r.get("uid") == uid and r.get("blockOwnerDeletion")
                                               for r in d["metadata"].get("ownerReferences") or [])]
            for d in deps:
                if not d["metadata"].get("deletionTimestamp"):
                    t = self._type_of(d)
                    try:
                        self.api.delete(t, d["metadata"].get("namespace"), d["metadata"]["name"], INTERNAL,
                                        {"propagationPolicy": "Foreground"})
                    except errors.ApiError as e:
                        if e.code != 404:
                            raise
            if blocking:
                return 0.3
            self._drop_finalizer(rtype, ns, name, obj, "foregroundDeletion")
        return None

    def _type_of(self, obj):
        return self.sim.registry.by_kind(obj.get("apiVersion", ""), obj.get("kind", ""))

    def _drop_finalizer(self, rtype, ns, name, obj, fin):
        new = clone(obj)
        new["metadata"]["finalizers"] = [f for f in obj["metadata"].get("finalizers") or [] if f != fin]
        try:
            self.api.update(rtype, ns, name, new, Context(user=INTERNAL.user, internal=True))
        except errors.ApiError as e:
            if e.code != 404:
                raise

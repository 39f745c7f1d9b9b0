"""Namespace lifecycle, as kube-controller-manager's service-account,
root-CA-publisher and namespace controllers do it: a new namespace gets the
`default` ServiceAccount and the `kube-root-ca.crt` ConfigMap; a deleted one
has all its content deleted (objects with finalizers are waited for), then
its `kubernetes` finalizer is removed and it goes away."""
from . import Controller
from .. import errors
from ..api import INTERNAL, clone


class NamespaceController(Controller):
    name = "namespace"

    def __init__(self, sim):
        self.ns_type = sim.registry.get("", "v1", "namespaces")
        super().__init__(sim)

    def keys_for(self, skey, ev):
        if skey == ("", "namespaces"):
            return [ev.name]
        if ev.type == "DELETED" and ev.ns:
            return [ev.ns]       # a terminating namespace waits for its content
        return []

    def sync(self, name):
        try:
            ns = self.api.get(self.ns_type, None, name)
        except errors.ApiError as e:
            if e.code == 404:
                return None
            raise
        if not ns["metadata"].get("deletionTimestamp"):
            self.populate(name)
            return None
        return self.finalize(ns)

    def populate(self, name):
        sat = self.type("", "v1", "serviceaccounts")
        if self.sim.store.get(self.skey(sat), name, "default") is None:
            self._create(sat, name, {"apiVersion": "v1", "kind": "ServiceAccount",
                                     "metadata": {"name": "default"}})
        cmt = self.type("", "v1", "configmaps")
        if self.sim.store.get(self.skey(cmt), name, "kube-root-ca.crt") is None:
            ca = ""
            paths = getattr(self.sim, "cert_paths", None) or {}
            if paths.get("ca.crt"):
                with open(paths["ca.crt"]) as f:
                    ca = f.read()
            self._create(cmt, name, {"apiVersion": "v1", "kind": "ConfigMap",
                                     "metadata": {"name": "kube-root-ca.crt",
                                                  "annotations": {"kubernetes.io/description": "Contains a CA bundle "
                                                                  "that can be used to verify the kube-apiserver "
                                                                  "when using internal endpoints such as the "
                                                                  "internal service IP or kubernetes.default.svc. "
                                                                  "No other usage is guaranteed across "
                                                                  "distributions of Kubernetes clusters."}},
                                     "data": {"ca.crt": ca}})

    def _create(self, rtype, ns, obj):
        try:
            self.api.create(rtype, ns, obj, INTERNAL)
        except errors.ApiError as e:
            if e.code not in (409, 403, 404):
                raise

    def finalize(self, ns):
        name = ns["metadata"]["name"]
        left = 0
        for t in self.sim.registry.all():
            if not t.namespaced or self.sim.registry.storage_key(t) != (t.group, t.plural):
                continue
            items, _ = self.sim.store.items(self.skey(t), name)
            for o in items:
                left += 1
                if o["metadata"].get("deletionTimestamp"):
                    continue
                try:
                    self.api.delete(t, name, o["metadata"]["name"], INTERNAL,
                                    {"propagationPolicy": "Background", "gracePeriodSeconds": 0})
                except errors.ApiError as e:
                    if e.code != 404:
                        raise
        if left:
            return 0.5
        if "kubernetes" in ((ns.get("spec") or {}).get("finalizers") or []):
            new = clone(ns)
            new["spec"]["finalizers"] = [f for f in new["spec"]["finalizers"] if f != "kubernetes"]
            self.api.update(self.ns_type, None, name, new, INTERNAL, "finalize")
        return None

"""Discovery documents (/version, /api, /apis, /apis/<g>, /api/v1, /apis/<g>/<v>)
in the shape of shared/conformance/samples/*.json. kube-sim answers the legacy
(unaggregated) form, as the recorded 1.24 server does; kubectl falls back to it
when it asks for aggregated discovery and gets plain JSON."""

# Group order of the real server's /apis (samples/apis.json); CRD groups follow.
GROUP_ORDER = ["apiregistration.k8s.io", "apps", "events.k8s.io", "authentication.k8s.io", "authorization.k8s.io",
               "autoscaling", "batch", "certificates.k8s.io", "networking.k8s.io", "policy",
               "rbac.authorization.k8s.io", "storage.k8s.io", "admissionregistration.k8s.io",
               "apiextensions.k8s.io", "scheduling.k8s.io", "coordination.k8s.io", "node.k8s.io",
               "discovery.k8s.io", "flowcontrol.apiserver.k8s.io"]


def version():
    return {"major": "1", "minor": "24", "gitVersion": "v1.24.0-kube-sim", "gitCommit": "kube-sim",
            "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "python",
            "compiler": "kube-sim", "platform": "linux/amd64"}


def api_versions(sim):
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:%d" % sim.port}]}


def _sorted_groups(registry):
    groups = registry.groups()
    order = {g: i for i, g in enumerate(GROUP_ORDER)}
    return sorted(groups.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))


def _group_doc(name, versions):
    vs = [{"groupVersion": "%s/%s" % (name, v), "version": v} for v in versions]
    return {"name": name, "versions": vs, "preferredVersion": vs[0]}


def group_list(registry):
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group_doc(g, vs) for g, vs in _sorted_groups(registry)]}


def group(registry, name):
    for g, vs in _sorted_groups(registry):
        if g == name:
            d = _group_doc(g, vs)
            d.update({"kind": "APIGroup", "apiVersion": "v1"})
            return d
    return None


def resource_list(registry, group_name, version_name):
    types = [t for t in registry.all() if t.group == group_name and t.version == version_name]
    if not types:
        return None
    resources = []
    for t in sorted(types, key=lambda t: t.plural):
        r = {"name": t.plural, "singularName": t.singular if t.is_crd else "", "namespaced": t.namespaced,
             "kind": t.kind, "verbs": list(t.verbs)}
        if t.short_names:
            r["shortNames"] = list(t.short_names)
        if t.categories:
            r["categories"] = list(t.categories)
        if t.storage_version_hash:
            r["storageVersionHash"] = t.storage_version_hash
        resources.append(r)
        for sub in sorted(t.subresources):
            resources.append({"name": "%s/%s" % (t.plural, sub), "singularName": "", "namespaced": t.namespaced,
                              "kind": _sub_kind(t, sub), "verbs": list(t.subresources[sub])})
    doc = {"kind": "APIResourceList", "groupVersion": types[0].group_version, "resources": resources}
    if group_name:
        doc["apiVersion"] = "v1"
    return doc


def _sub_kind(t, sub):
    return {"scale": "Scale", "eviction": "Eviction", "binding": "Binding", "token": "TokenRequest",
            "log": "Pod"}.get(sub, t.kind)

"""TokenReview and (Self)SubjectAccessReview: authentication against the
tokens kube-sim issued, and authorization by evaluating the stored RBAC
Roles, ClusterRoles and their bindings as the RBAC authorizer does
(system:masters may do anything)."""
import copy


def handle(sim, rtype, body, requester):
    body = copy.deepcopy(body) if isinstance(body, dict) else {}
    spec = body.get("spec") or {}
    if rtype.plural == "tokenreviews":
        user = sim.tokens.get(spec.get("token") or "")
        if user is None:
            body["status"] = {"authenticated": False, "user": {}, "error": "invalid bearer token"}
        else:
            want = spec.get("audiences") or []
            have = user.get("audiences") or []
            if want and have and not set(want) & set(have):
                body["status"] = {"authenticated": False, "user": {}, "error": "token audiences do not match"}
            else:
                body["status"] = {"authenticated": True, "audiences": want or have or [],
                                  "user": {"username": user["username"], "uid": user.get("uid", ""),
                                           "groups": user.get("groups", [])}}
        return body
    if rtype.plural == "selfsubjectaccessreviews":
        user, groups = requester["username"], requester.get("groups", [])
    else:
        user, groups = spec.get("user", ""), spec.get("groups") or []
    attrs = spec.get("resourceAttributes") or {}
    allowed, reason = authorize(sim, user, groups, attrs)
    body["status"] = {"allowed": allowed}
    if reason:
        body["status"]["reason"] = reason
    return body


def _rule_allows(rule, attrs):
    def has(lst, v):
        return "*" in (lst or []) or v in (lst or [])
    verb = attrs.get("verb", "")
    group = attrs.get("group", "")
    res = attrs.get("resource", "")
    if attrs.get("subresource"):
        res = res + "/" + attrs["subresource"]
    if not has(rule.get("verbs"), verb):
        return False
    if not has(rule.get("apiGroups"), group):
        return False
    resources = rule.get("resources") or []
    if not ("*" in resources or res in resources or
            ("/" in res and res.split("/")[0] + "/*" in resources)):
        return False
    names = rule.get("resourceNames") or []
    return not names or attrs.get("name") in names


def _subject_matches(subj, user, groups):
    kind = subj.get("kind")
    if kind == "User":
        return subj.get("name") == user
    if kind == "Group":
        return subj.get("name") in groups
    if kind == "ServiceAccount":
        return user == "system:serviceaccount:%s:%s" % (subj.get("namespace"), subj.get("name"))
    return False


def authorize(sim, user, groups, attrs):
    if "system:masters" in groups:
        return True, ""
    reg, store = sim.registry, sim.store

    def items(plural, ns=None):
        t = reg.get("rbac.authorization.k8s.io", "v1", plural)
        objs, _ = store.items(reg.storage_key(t), ns)
        return objs

    def role_rules(ref, ns):
        kind, name = ref.get("kind"), ref.get("name")
        if kind == "ClusterRole":
            t = reg.get("rbac.authorization.k8s.io", "v1", "clusterroles")
            role = store.get(reg.storage_key(t), "", name)
        else:
            t = reg.get("rbac.authorization.k8s.io", "v1", "roles")
            role = store.get(reg.storage_key(t), ns, name)
        return (role or {}).get("rules") or []

    for b in items("clusterrolebindings"):
        if any(_subject_matches(s, user, groups) for s in b.get("subjects") or []):
            if any(_rule_allows(r, attrs) for r in role_rules(b.get("roleRef") or {}, "")):
                return True, 'RBAC: allowed by ClusterRoleBinding "%s"' % b["metadata"]["name"]
    ns = attrs.get("namespace")
    if ns:
        for b in items("rolebindings", ns):
            if any(_subject_matches(s, user, groups) for s in b.get("subjects") or []):
                if any(_rule_allows(r, attrs) for r in role_rules(b.get("roleRef") or {}, ns)):
                    return True, 'RBAC: allowed by RoleBinding "%s/%s"' % (ns, b["metadata"]["name"])
    return False, ""

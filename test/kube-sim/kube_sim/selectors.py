"""Label and field selectors with the grammar of k8s.io/apimachinery/pkg/labels
and pkg/fields: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`;
fields support `=`, `==`, `!=` on the paths each kind indexes."""
import re

from . import errors

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"


def _split_top(s):
    """Splits on commas that are not inside parentheses."""
    out, depth, cur = [], 0, []
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return [p.strip() for p in out if p.strip()]


class LabelSelector:
    def __init__(self, text):
        self.reqs = []
        text = (text or "").strip()
        if not text:
            return
        for part in _split_top(text):
            m = re.fullmatch(r"(\S+?)\s+(in|notin)\s+\((.*)\)", part)
            if m:
                values = {v.strip() for v in m.group(3).split(",") if v.strip()}
                self._key(m.group(1))
                self.reqs.append((m.group(1), m.group(2), values))
                continue
            m = re.fullmatch(r"([^=!\s]+)\s*(==|!=|=)\s*(\S*)", part)
            if m:
                self._key(m.group(1))
                op = "=" if m.group(2) in ("=", "==") else "!="
                self.reqs.append((m.group(1), op, {m.group(3)}))
                continue
            m = re.fullmatch(r"(!?)\s*(\S+)", part)
            if m and re.fullmatch(_KEY, m.group(2)):
                self.reqs.append((m.group(2), "!" if m.group(1) else "exists", set()))
                continue
            raise errors.bad_request('unable to parse requirement: found \'%s\', expected: identifier' % part)

    @staticmethod
    def _key(k):
        if not re.fullmatch(_KEY, k) or len(k.split("/")[-1]) > 63:
            raise errors.bad_request("unable to parse requirement: invalid label key \"%s\"" % k)

    def matches(self, labels):
        labels = labels or {}
        for key, op, values in self.reqs:
            has = key in labels
            v = labels.get(key)
            if op == "=" and not (has and v in values):
                return False
            if op == "!=" and has and v in values:
                return False
            if op == "in" and not (has and v in values):
                return False
            if op == "notin" and has and v in values:
                return False
            if op == "exists" and not has:
                return False
            if op == "!" and has:
                return False
        return True

    @property
    def empty(self):
        return not self.reqs


def match_label_selector_object(selector, labels):
    """A metav1.LabelSelector object ({matchLabels, matchExpressions}) as used by
    webhooks' namespaceSelector/objectSelector and Job selectors."""
    if selector is None:
        return True
    labels = labels or {}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        k, op, vals = e.get("key"), e.get("operator"), set(e.get("values") or [])
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and k in labels and labels[k] in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


def _get_path(obj, dotted):
    cur = obj
    for p in dotted.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(p)
    return cur


# Field paths each kind supports besides metadata.name / metadata.namespace, as the
# real registry's GetAttrs / field label conversion funcs define them.
EXTRA_FIELDS = {
    ("", "pods"): {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
                   "status.phase", "status.podIP", "status.nominatedNodeName"},
    ("", "events"): {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                     "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
                     "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"},
    ("", "secrets"): {"type"},
    ("", "namespaces"): {"status.phase"},
    ("", "nodes"): {"spec.unschedulable"},
    ("batch", "jobs"): {"status.successful"},
}


class FieldSelector:
    def __init__(self, text, rtype):
        self.reqs = []
        text = (text or "").strip()
        if not text:
            return
        allowed = {"metadata.name", "metadata.namespace"} | EXTRA_FIELDS.get((rtype.group, rtype.plural), set())
        for part in _split_top(text):
            m = re.fullmatch(r"([^=!\s]+)\s*(==|!=|=)\s*(.*)", part)
            if not m:
                raise errors.bad_request('invalid selector: \'%s\'; can\'t understand \'%s\'' % (text, part))
            field = m.group(1)
            if field not in allowed and not rtype.is_crd:
                raise errors.bad_request('field label not supported: %s' % field)
            if rtype.is_crd and field not in ("metadata.name", "metadata.namespace"):
                raise errors.bad_request('field label not supported: %s' % field)
            self.reqs.append((field, "=" if m.group(2) != "!=" else "!=", m.group(3)))

    def matches(self, obj):
        for field, op, value in self.reqs:
            if field == "source":
                actual = _get_path(obj, "source.component")
            elif field == "status.successful":
                actual = str(_get_path(obj, field) or 0)
            else:
                actual = _get_path(obj, field)
            actual = "" if actual is None else (str(actual).lower() if isinstance(actual, bool) else str(actual))
            if (op == "=") != (actual == value):
                return False
        return True

    @property
    def empty(self):
        return not self.reqs

    def single_name(self):
        for field, op, value in self.reqs:
            if field == "metadata.name" and op == "=":
                return value
        return None

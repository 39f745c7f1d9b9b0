"""Server-side printing: meta.k8s.io/v1 Table responses (Accept: application/json;as=Table;v=v1;g=meta.k8s.io).

Matched behaviour:
* custom resources -- apiextensions-apiserver registry/customresource/tableconvertor: a Name
  column, then one column per additionalPrinterColumn (description "Custom resource definition
  column (in JSONPath format): <path>" unless the CRD gives one). Without printer columns the
  real handler serves a default "Age" column (serveDefaultColumnsIfEmpty). Cells: the *first*
  JSONPath result, converted per column type (cellForJSONValue); missing -> null; "date" cells
  are not timestamps but the human-readable age ("5m", "3d4h") like every Age column --
  metatable.ConvertToHumanReadableDateType; string cells are printed like kubectl's JSONPath
  printer (maps and lists as compact JSON).
* built-in kinds -- pkg/printers/internalversion (what `kubectl get` shows): the server always
  generates the wide columns too (priority 1), kubectl hides them unless -o wide.
* kinds without a printer -- rest.DefaultTableConvertor: Name and "Created At" (RFC3339).
* includeObject=Metadata (default) puts a PartialObjectMetadata in each row, Object the full
  object, None a null (handlers.asTable).
* watch with as=Table: every event's object is a one-row Table; only the first carries the
  column definitions, later ones have "columnDefinitions": null (the watch server sets
  TableOptions.NoHeaders after the first event).
"""
import datetime
import json
import re
import time

from .openapi import OBJECT_META_DESCRIPTIONS
from .schema import go_float, go_json

NAME_DESC = OBJECT_META_DESCRIPTIONS["name"]
AGE_DESC = OBJECT_META_DESCRIPTIONS["creationTimestamp"]

# ObjectMeta fields in Go struct order (how the real server serializes metadata).
_META_ORDER = ("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
               "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
               "ownerReferences", "finalizers", "managedFields")


# ---------------------------------------------------------------------------
# JSONPath (the client-go subset CRD printer columns use)
# ---------------------------------------------------------------------------

class JSONPathError(ValueError):
    pass


_MISSING = object()


def _parse_jsonpath(path):
    """'.a.b[0].c[*].d[?(@.type=="Ready")].status' -> list of steps."""
    p = path.strip()
    if p.startswith("{") and p.endswith("}"):
        p = p[1:-1]
    if p.startswith("$"):
        p = p[1:]
    steps, i, n = [], 0, len(p)
    while i < n:
        c = p[i]
        if c == ".":
            i += 1
            if i < n and p[i] == ".":
                raise JSONPathError("recursive descent is not supported: %s" % path)
            name = []
            while i < n and p[i] not in ".[":
                if p[i] == "\\" and i + 1 < n:
                    i += 1
                name.append(p[i])
                i += 1
            name = "".join(name)
            if name == "*":
                steps.append(("wild",))
            elif name:
                steps.append(("field", name))
        elif c == "[":
            j = _close_bracket(p, i)
            steps.append(_parse_bracket(p[i + 1:j], path))
            i = j + 1
        else:
            # a bare leading name ("spec.size") is treated like ".spec.size"
            j = i
            while j < n and p[j] not in ".[":
                j += 1
            steps.append(("field", p[i:j]))
            i = j
    return steps


def _close_bracket(p, i):
    depth, quote = 0, None
    for j in range(i, len(p)):
        ch = p[j]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return j
    raise JSONPathError("unclosed bracket in %s" % p)


def _parse_bracket(inner, path):
    inner = inner.strip()
    if inner == "*":
        return ("wild",)
    if inner.startswith("?(") and inner.endswith(")"):
        return ("filter",) + _parse_filter(inner[2:-1].strip(), path)
    if len(inner) >= 2 and inner[0] in "'\"" and inner[-1] == inner[0]:
        return ("field", inner[1:-1])
    if ":" in inner:
        parts = [x.strip() for x in inner.split(":")]
        vals = [int(x) if x else None for x in parts[:3]]
        while len(vals) < 3:
            vals.append(None)
        return ("slice", vals[0], vals[1], vals[2])
    try:
        return ("index", int(inner))
    except ValueError:
        raise JSONPathError("invalid array index %s in %s" % (inner, path))


_FILTER_RE = re.compile(r"^(.*?)\s*(==|!=|<=|>=|<|>|=~)\s*(.*)$")


def _parse_filter(expr, path):
    m = _FILTER_RE.match(expr)
    if not m:
        return (_operand(expr, path), None, None)
    return (_operand(m.group(1), path), m.group(2), _operand(m.group(3), path))


def _operand(text, path):
    text = text.strip()
    if text.startswith("@"):
        return ("path", _parse_jsonpath(text[1:]) if len(text) > 1 else [])
    if len(text) >= 2 and text[0] in "'\"" and text[-1] == text[0]:
        return ("lit", text[1:-1])
    if text in ("true", "false"):
        return ("lit", text == "true")
    try:
        return ("lit", int(text))
    except ValueError:
        try:
            return ("lit", float(text))
        except ValueError:
            raise JSONPathError("unrecognized filter operand %r in %s" % (text, path))


def _eval_steps(nodes, steps):
    for st in steps:
        nxt = []
        kind = st[0]
        for v in nodes:
            if kind == "field":
                if isinstance(v, dict) and st[1] in v:
                    nxt.append(v[st[1]])
            elif kind == "wild":
                if isinstance(v, list):
                    nxt.extend(v)
                elif isinstance(v, dict):
                    nxt.extend(v[k] for k in sorted(v))
            elif kind == "index":
                if isinstance(v, list) and -len(v) <= st[1] < len(v):
                    nxt.append(v[st[1]])
            elif kind == "slice":
                if isinstance(v, list):
                    nxt.extend(v[st[1]:st[2]:st[3]])
            elif kind == "filter":
                if isinstance(v, list):
                    nxt.extend(x for x in v if _filter_ok(x, st[1], st[2], st[3]))
        nodes = nxt
    return nodes


def _operand_value(op, cur):
    if op[0] == "lit":
        return op[1]
    found = _eval_steps([cur], op[1])
    return found[0] if found else _MISSING


def _filter_ok(cur, left, op, right):
    lv = _operand_value(left, cur)
    if op is None:
        return lv is not _MISSING and lv is not None and lv is not False
    rv = _operand_value(right, cur)
    if lv is _MISSING or rv is _MISSING:
        return False
    try:
        if op == "==":
            return lv == rv and (isinstance(lv, str) == isinstance(rv, str))
        if op == "!=":
            return not (lv == rv and (isinstance(lv, str) == isinstance(rv, str)))
        if op == "=~":
            return isinstance(lv, str) and re.search(str(rv), lv) is not None
        return {"<": lv < rv, ">": lv > rv, "<=": lv <= rv, ">=": lv >= rv}[op]
    except TypeError:
        return False


def jsonpath_all(obj, path):
    """All results of a JSONPath expression (missing keys give no result, as AllowMissingKeys)."""
    return _eval_steps([obj], _parse_jsonpath(path))


def jsonpath(obj, path):
    """The first result, or None -- the table convertor only ever looks at results[0][0]."""
    found = jsonpath_all(obj, path)
    return found[0] if found else None


# ---------------------------------------------------------------------------
# time helpers
# ---------------------------------------------------------------------------

def human_duration(seconds):
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 60 * 2:
        return "%ds" % s
    minutes = int(seconds // 60)
    if minutes < 10:
        sec = s % 60
        return "%dm" % minutes if sec == 0 else "%dm%ds" % (minutes, sec)
    if minutes < 60 * 3:
        return "%dm" % minutes
    hours = int(seconds // 3600)
    if hours < 8:
        m = minutes % 60
        return "%dh" % hours if m == 0 else "%dh%dm" % (hours, m)
    if hours < 48:
        return "%dh" % hours
    if hours < 24 * 8:
        h = hours % 24
        return "%dd" % (hours // 24) if h == 0 else "%dd%dh" % (hours // 24, h)
    if hours < 24 * 365 * 2:
        return "%dd" % (hours // 24)
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return "%dy" % (hours // 24 // 365) if dy == 0 else "%dy%dd" % (hours // 24 // 365, dy)
    return "%dy" % (hours // 24 // 365)


def parse_time(s):
    """metav1.Time from its RFC3339 JSON form -> epoch seconds; None for empty/null, raises on junk."""
    if s is None or s == "" or s == "null":
        return None
    if not isinstance(s, str) or "T" not in s.upper():
        raise ValueError("not RFC3339: %r" % (s,))
    t = s.upper().replace("Z", "+00:00")
    m = re.match(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?([+-]\d\d:\d\d)$", t)
    if not m:
        raise ValueError("not RFC3339: %r" % s)
    frac = (m.group(2) or "")[:7]
    return datetime.datetime.fromisoformat(m.group(1) + frac + m.group(3)).timestamp()


def _since(ts, now):
    """translateTimestampSince: "<unknown>" for a zero time, else the human age."""
    try:
        t = parse_time(ts)
    except ValueError:
        return "<invalid>"
    if t is None:
        return "<unknown>"
    return human_duration(now - t)


def _rfc3339(ts):
    try:
        t = parse_time(ts)
    except ValueError:
        t = None
    if t is None:
        return "0001-01-01T00:00:00Z"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


# ---------------------------------------------------------------------------
# CRD columns
# ---------------------------------------------------------------------------

def _col(name, ctype, desc, fmt="", priority=0):
    return {"name": name, "type": ctype, "format": fmt, "description": desc, "priority": priority}


def _name_col(priority=0):
    return _col("Name", "string", NAME_DESC, "name", priority)


def crd_columns(rtype):
    cols = rtype.printer_columns or [{"name": "Age", "type": "date", "description": AGE_DESC,
                                      "jsonPath": ".metadata.creationTimestamp"}]
    out = [_name_col()]
    for c in cols:
        path = c.get("jsonPath") or c.get("JSONPath") or ""
        out.append(_col(c.get("name", ""), c.get("type", ""), c.get("description") or
                        "Custom resource definition column (in JSONPath format): %s" % path,
                        c.get("format", ""), int(c.get("priority", 0) or 0)))
    return out


def _print_text(v):
    """client-go JSONPath PrintResults of one value: maps/lists as JSON, the rest with fmt.Fprint."""
    if isinstance(v, (dict, list)):
        return go_json(v)
    if v is True or v is False:
        return "true" if v else "false"
    if isinstance(v, float):
        return go_float(v)
    return str(v)


def _cell_for_json(ctype, value, now):
    """cellForJSONValue (plus the string branch, which prints like kubectl's JSONPath printer)."""
    if value is None:
        return None
    if ctype == "string":
        return _print_text(value)
    if ctype == "integer":
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return int(value)
        return None
    if ctype == "number":
        if isinstance(value, bool):
            return None
        return float(value) if isinstance(value, (int, float)) else None
    if ctype == "boolean":
        return value if isinstance(value, bool) else None
    if ctype == "date":
        if isinstance(value, str):
            return _since(value, now)
        return None
    return None


def _crd_row(obj, rtype, now):
    cols = rtype.printer_columns or [{"type": "date", "jsonPath": ".metadata.creationTimestamp"}]
    cells = [(obj.get("metadata") or {}).get("name", "")]
    for c in cols:
        try:
            found = jsonpath_all(obj, c.get("jsonPath") or c.get("JSONPath") or "")
        except JSONPathError:
            found = []
        cells.append(_cell_for_json(c.get("type", ""), found[0], now) if found else None)
    return cells, None


# ---------------------------------------------------------------------------
# built-in printers (pkg/printers/internalversion)
# ---------------------------------------------------------------------------

def _meta(obj):
    return obj.get("metadata") or {}


def _age(obj, now):
    return _since(_meta(obj).get("creationTimestamp"), now)


def _containers_cells(containers):
    containers = containers or []
    return ",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)


def _format_selector(sel):
    """metav1.FormatLabelSelector."""
    if not sel:
        return "<none>"
    parts = ["%s=%s" % (k, v) for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        op, key, vals = e.get("operator", ""), e.get("key", ""), e.get("values") or []
        if op == "In":
            parts.append("%s in (%s)" % (key, ",".join(vals)))
        elif op == "NotIn":
            parts.append("%s notin (%s)" % (key, ",".join(vals)))
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append("!" + key)
    s = ",".join(parts)
    return s if s else "<none>"


_POD_SUCCESS = [{"type": "Completed", "status": "True", "reason": "Succeeded",
                 "message": "The pod has completed successfully."}]
_POD_FAILED = [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]


def _pod_row(pod, now):
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    restarts, total, ready = 0, len(spec.get("containers") or []), 0
    last_restart = None
    reason = status.get("phase", "") or ""
    if status.get("reason"):
        reason = status["reason"]
    conditions = None
    if status.get("phase") == "Succeeded":
        conditions = _POD_SUCCESS
    elif status.get("phase") == "Failed":
        conditions = _POD_FAILED

    def note_restart(cs):
        nonlocal last_restart
        term = ((cs.get("lastState") or {}).get("terminated") or {})
        if term.get("finishedAt"):
            try:
                t = parse_time(term["finishedAt"])
            except ValueError:
                t = None
            if t is not None and (last_restart is None or t > last_restart):
                last_restart = t

    initializing = False
    init_statuses = status.get("initContainerStatuses") or []
    for i, cs in enumerate(init_statuses):
        restarts += int(cs.get("restartCount") or 0)
        note_restart(cs)
        state = cs.get("state") or {}
        term, waiting = state.get("terminated"), state.get("waiting")
        if term is not None and int(term.get("exitCode") or 0) == 0:
            continue
        if term is not None:
            if not term.get("reason"):
                reason = ("Init:Signal:%d" % term["signal"]) if term.get("signal") else \
                    "Init:ExitCode:%d" % int(term.get("exitCode") or 0)
            else:
                reason = "Init:" + term["reason"]
        elif waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = "Init:%d/%d" % (i, len(spec.get("initContainers") or []))
        initializing = True
        break
    if not initializing:
        restarts = 0
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += int(cs.get("restartCount") or 0)
            note_restart(cs)
            state = cs.get("state") or {}
            waiting, term = state.get("waiting"), state.get("terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif term is not None and term.get("reason"):
                reason = term["reason"]
            elif term is not None:
                reason = ("Signal:%d" % term["signal"]) if term.get("signal") else \
                    "ExitCode:%d" % int(term.get("exitCode") or 0)
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            ready_cond = any(c.get("type") == "Ready" and c.get("status") == "True"
                             for c in status.get("conditions") or [])
            reason = "Running" if ready_cond else "NotReady"
    if _meta(pod).get("deletionTimestamp") and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif _meta(pod).get("deletionTimestamp"):
        reason = "Terminating"
    restarts_s = str(restarts)
    if restarts and last_restart is not None:
        restarts_s = "%d (%s ago)" % (restarts, human_duration(now - last_restart))
    ip = ((status.get("podIPs") or [{}])[0].get("ip") or status.get("podIP") or "<none>")
    gates = spec.get("readinessGates") or []
    gates_s = "<none>"
    if gates:
        true_conds = 0
        for g in gates:
            for c in status.get("conditions") or []:
                if c.get("type") == g.get("conditionType"):
                    true_conds += c.get("status") == "True"
                    break
        gates_s = "%d/%d" % (true_conds, len(gates))
    cells = [_meta(pod).get("name", ""), "%d/%d" % (ready, total), reason, restarts_s, _age(pod, now), ip,
             spec.get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>", gates_s]
    return cells, conditions


def _job_row(job, now):
    spec, status = job.get("spec") or {}, job.get("status") or {}
    succeeded = int(status.get("succeeded") or 0)
    if spec.get("completions") is not None:
        completions = "%d/%d" % (succeeded, spec["completions"])
    else:
        par = int(spec.get("parallelism") or 0)
        completions = "%d/1 of %d" % (succeeded, par) if par > 1 else "%d/1" % succeeded
    duration = ""
    try:
        start = parse_time(status.get("startTime"))
        end = parse_time(status.get("completionTime"))
    except ValueError:
        start = end = None
    if start is not None:
        duration = human_duration((end if end is not None else now) - start)
    names, images = _containers_cells((((spec.get("template") or {}).get("spec")) or {}).get("containers"))
    return [_meta(job).get("name", ""), completions, duration, _age(job, now), names, images,
            _format_selector(spec.get("selector"))], None


def _event_row(ev, now):
    if "regarding" in ev or "note" in ev:      # events.k8s.io/v1 shape -> core fields
        ev = {"metadata": ev.get("metadata"), "involvedObject": ev.get("regarding") or {},
              "reason": ev.get("reason"), "message": ev.get("note"), "type": ev.get("type"),
              "firstTimestamp": ev.get("deprecatedFirstTimestamp"), "lastTimestamp": ev.get("deprecatedLastTimestamp"),
              "count": ev.get("deprecatedCount"), "eventTime": ev.get("eventTime"), "series": ev.get("series"),
              "source": ev.get("deprecatedSource") or {}, "reportingComponent": ev.get("reportingController"),
              "reportingInstance": ev.get("reportingInstance")}
    first = _since(ev.get("firstTimestamp"), now) if ev.get("firstTimestamp") else _since(ev.get("eventTime"), now)
    last = _since(ev.get("lastTimestamp"), now) if ev.get("lastTimestamp") else first
    count = ev.get("count") or 0
    if ev.get("series"):
        last = _since(ev["series"].get("lastObservedTime"), now)
        count = ev["series"].get("count") or 0
    elif not count:
        count = 1
    io = ev.get("involvedObject") or {}
    target = "%s/%s" % ((io.get("kind") or "").lower(), io["name"]) if io.get("name") else (io.get("kind") or "").lower()
    src = ev.get("source") or {}
    comp = src.get("component") or ev.get("reportingComponent") or ""
    host = src.get("host") or ev.get("reportingInstance") or ""
    source = "<unknown>" if not comp else (comp if not host else comp + ", " + host)
    return [last, ev.get("type") or "", ev.get("reason") or "", target, io.get("fieldPath") or "", source,
            (ev.get("message") or "").strip(), first, int(count), _meta(ev).get("name", "")], None


def _role_binding_row(rb, now):
    ref = rb.get("roleRef") or {}
    users, groups, sas = [], [], []
    for s in rb.get("subjects") or []:
        if s.get("kind") == "User":
            users.append(s.get("name", ""))
        elif s.get("kind") == "Group":
            groups.append(s.get("name", ""))
        elif s.get("kind") == "ServiceAccount":
            sas.append("%s/%s" % (s.get("namespace", ""), s.get("name", "")))
    return [_meta(rb).get("name", ""), "%s/%s" % (ref.get("kind", ""), ref.get("name", "")), _age(rb, now),
            ", ".join(users), ", ".join(groups), ", ".join(sas)], None


def _service_row(svc, now):
    spec = svc.get("spec") or {}
    stype = spec.get("type") or "ClusterIP"
    cluster_ip = spec.get("clusterIP") or "<none>"
    ext = ",".join(spec.get("externalIPs") or [])
    if stype == "LoadBalancer":
        ing = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        ext = ",".join(i.get("ip") or i.get("hostname") or "" for i in ing) or "<pending>"
    elif stype == "ExternalName":
        ext = spec.get("externalName") or ""
    ports = []
    for p in spec.get("ports") or []:
        s = "%s/%s" % (p.get("port"), p.get("protocol", "TCP"))
        if p.get("nodePort"):
            s = "%s:%s/%s" % (p.get("port"), p["nodePort"], p.get("protocol", "TCP"))
        ports.append(s)
    sel = spec.get("selector")
    sel_s = ",".join("%s=%s" % kv for kv in sorted(sel.items())) if sel else "<none>"
    return [_meta(svc).get("name", ""), stype, cluster_ip, ext or "<none>", ",".join(ports) or "<none>",
            _age(svc, now), sel_s], None


def _node_row(node, now):
    conds = (node.get("status") or {}).get("conditions") or []
    ready = next((c for c in conds if c.get("type") == "Ready"), None)
    status = "Ready" if ready and ready.get("status") == "True" else "NotReady" if ready else "Unknown"
    if (node.get("spec") or {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    roles = sorted(k.split("/", 1)[1] for k in (_meta(node).get("labels") or {})
                   if k.startswith("node-role.kubernetes.io/") and "/" in k)
    info = (node.get("status") or {}).get("nodeInfo") or {}
    addrs = (node.get("status") or {}).get("addresses") or []
    internal = next((a.get("address") for a in addrs if a.get("type") == "InternalIP"), "<none>")
    external = next((a.get("address") for a in addrs if a.get("type") == "ExternalIP"), "<none>")
    return [_meta(node).get("name", ""), status, ",".join(roles) or "<none>", _age(node, now),
            info.get("kubeletVersion", ""), internal, external, info.get("osImage") or "<unknown>",
            info.get("kernelVersion") or "<unknown>", info.get("containerRuntimeVersion") or "<unknown>"], None


def _simple(fn):
    return lambda obj, now: (fn(obj, now), None)


_WEBHOOKS_DESC = "Webhooks indicates the number of webhooks that are configured for this configuration."
_BUILTIN = {
    ("", "Pod"): ([_name_col(),
                   _col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
                   _col("Status", "string", "The aggregate status of the containers in this pod."),
                   _col("Restarts", "string", "The number of times the containers in this pod have been restarted "
                                              "and when the last container in this pod has restarted."),
                   _col("Age", "string", AGE_DESC),
                   _col("IP", "string", "IP address allocated to the pod. Routable at least within the cluster. "
                                        "Empty if not yet allocated.", priority=1),
                   _col("Node", "string", "NodeName is a request to schedule this pod onto a specific node. If it "
                                          "is non-empty, the scheduler simply schedules this pod onto that node, "
                                          "assuming that it fits resource requirements.", priority=1),
                   _col("Nominated Node", "string", "nominatedNodeName is set only when this pod preempts other "
                                                    "pods on the node, but it cannot be scheduled right away as "
                                                    "preemption victims receive their graceful termination "
                                                    "periods.", priority=1),
                   _col("Readiness Gates", "string", "If specified, all readiness gates will be evaluated for pod "
                                                     "readiness.", priority=1)], _pod_row),
    ("batch", "Job"): ([_name_col(),
                        _col("Completions", "string", "The number of pods which reached phase Succeeded."),
                        _col("Duration", "string", "Time required to complete the job."),
                        _col("Age", "string", AGE_DESC),
                        _col("Containers", "string", "Names of each container in the template.", priority=1),
                        _col("Images", "string", "Images referenced by each container in the template.", priority=1),
                        _col("Selector", "string", "A label query over pods that should match the pod count.",
                             priority=1)], _job_row),
    ("", "Namespace"): ([_name_col(), _col("Status", "string", "The status of the namespace"),
                         _col("Age", "string", AGE_DESC)],
                        _simple(lambda o, now: [_meta(o).get("name", ""), (o.get("status") or {}).get("phase", ""),
                                                _age(o, now)])),
    ("", "ConfigMap"): ([_name_col(),
                         _col("Data", "string", "Data contains the configuration data. Each key must consist of "
                                                "alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 "
                                                "byte sequences must use the BinaryData field. The keys stored in "
                                                "Data must not overlap with the keys in the BinaryData field, this "
                                                "is enforced during validation process."),
                         _col("Age", "string", AGE_DESC)],
                        _simple(lambda o, now: [_meta(o).get("name", ""),
                                                len(o.get("data") or {}) + len(o.get("binaryData") or {}),
                                                _age(o, now)])),
    ("", "Secret"): ([_name_col(),
                      _col("Type", "string", "Used to facilitate programmatic handling of secret data. More info: "
                                             "https://kubernetes.io/docs/concepts/configuration/secret/#secret-types"),
                      _col("Data", "string", "Data contains the secret data. Each key must consist of alphanumeric "
                                             "characters, '-', '_' or '.'. The serialized form of the secret data is "
                                             "a base64 encoded string, representing the arbitrary (possibly "
                                             "non-string) data value here. Described in "
                                             "https://tools.ietf.org/html/rfc4648#section-4"),
                      _col("Age", "string", AGE_DESC)],
                     _simple(lambda o, now: [_meta(o).get("name", ""), o.get("type") or "Opaque",
                                             len(o.get("data") or {}), _age(o, now)])),
    ("", "ServiceAccount"): ([_name_col(),
                              _col("Secrets", "string", "Secrets is a list of the secrets in the same namespace that "
                                                        "pods running using this ServiceAccount are allowed to use."),
                              _col("Age", "string", AGE_DESC)],
                             _simple(lambda o, now: [_meta(o).get("name", ""), len(o.get("secrets") or []),
                                                     _age(o, now)])),
    ("", "Service"): ([_name_col(), _col("Type", "string", "type determines how the Service is exposed."),
                       _col("Cluster-IP", "string", "clusterIP is the IP address of the service and is usually "
                                                    "assigned randomly."),
                       _col("External-IP", "string", "externalIPs is a list of IP addresses for which nodes in the "
                                                     "cluster will also accept traffic for this service."),
                       _col("Port(s)", "string", "The list of ports that are exposed by this service."),
                       _col("Age", "string", AGE_DESC),
                       _col("Selector", "string", "Route service traffic to pods with label keys and values matching "
                                                  "this selector.", priority=1)], _service_row),
    ("", "Endpoints"): ([_name_col(), _col("Endpoints", "string", "Endpoints of this resource"),
                         _col("Age", "string", AGE_DESC)],
                        _simple(lambda o, now: [_meta(o).get("name", ""), ",".join(
                            "%s:%s" % (a.get("ip"), p.get("port")) for s in o.get("subsets") or []
                            for a in s.get("addresses") or [] for p in (s.get("ports") or [{}])) or "<none>",
                            _age(o, now)])),
    ("", "Node"): ([_name_col(), _col("Status", "string", "The status of the node"),
                    _col("Roles", "string", "The roles of the node"), _col("Age", "string", AGE_DESC),
                    _col("Version", "string", "Kubelet Version reported by the node."),
                    _col("Internal-IP", "string", "List of addresses reachable to the node.", priority=1),
                    _col("External-IP", "string", "List of addresses reachable to the node.", priority=1),
                    _col("OS-Image", "string", "OS Image reported by the node from /etc/os-release.", priority=1),
                    _col("Kernel-Version", "string", "Kernel Version reported by the node.", priority=1),
                    _col("Container-Runtime", "string", "Container Runtime Version reported by the node.",
                         priority=1)], _node_row),
    ("", "Event"): ([_col("Last Seen", "string", "The time at which the most recent occurrence of this event was "
                                                 "recorded."),
                     _col("Type", "string", "Type of this event (Normal, Warning), new types could be added in the "
                                            "future"),
                     _col("Reason", "string", "This should be a short, machine understandable string that gives the "
                                              "reason for the transition into the object's current status."),
                     _col("Object", "string", "The object that this event is about."),
                     _col("Subobject", "string", "If referring to a piece of an object instead of an entire object, "
                                                 "this string should contain a valid JSON/Go field access "
                                                 "statement, such as desiredState.manifest.containers[2].",
                          priority=1),
                     _col("Source", "string", "The component reporting this event. Should be a short machine "
                                              "understandable string.", priority=1),
                     _col("Message", "string", "A human-readable description of the status of this operation."),
                     _col("First Seen", "string", "The time at which the event was first recorded. (Time of server "
                                                  "receipt is in TypeMeta.)", priority=1),
                     _col("Count", "string", "The number of times this event has occurred.", priority=1),
                     _name_col(priority=1)], _event_row),
    ("coordination.k8s.io", "Lease"): ([_name_col(),
                                        _col("Holder", "string", "holderIdentity contains the identity of the holder "
                                                                 "of a current lease."),
                                        _col("Age", "string", AGE_DESC)],
                                       _simple(lambda o, now: [_meta(o).get("name", ""),
                                                               (o.get("spec") or {}).get("holderIdentity") or "",
                                                               _age(o, now)])),
    ("apps", "Deployment"): ([_name_col(), _col("Ready", "string", "Number of the pod with ready state"),
                              _col("Up-to-date", "string", "Total number of non-terminated pods targeted by this "
                                                           "deployment that have the desired template spec."),
                              _col("Available", "string", "Total number of available pods (ready for at least "
                                                          "minReadySeconds) targeted by this deployment."),
                              _col("Age", "string", AGE_DESC),
                              _col("Containers", "string", "Names of each container in the template.", priority=1),
                              _col("Images", "string", "Images referenced by each container in the template.",
                                   priority=1),
                              _col("Selector", "string", "Label selector for pods.", priority=1)],
                             _simple(lambda o, now: [_meta(o).get("name", ""), "%d/%d" % (
                                 int((o.get("status") or {}).get("readyReplicas") or 0),
                                 int((o.get("spec") or {}).get("replicas") if (o.get("spec") or {}).get("replicas")
                                     is not None else 1)),
                                 int((o.get("status") or {}).get("updatedReplicas") or 0),
                                 int((o.get("status") or {}).get("availableReplicas") or 0), _age(o, now)]
                                 + list(_containers_cells((((o.get("spec") or {}).get("template") or {}).get("spec")
                                                           or {}).get("containers")))
                                 + [_format_selector((o.get("spec") or {}).get("selector"))])),
    ("apps", "StatefulSet"): ([_name_col(), _col("Ready", "string", "Number of the pod with ready state"),
                               _col("Age", "string", AGE_DESC),
                               _col("Containers", "string", "Names of each container in the template.", priority=1),
                               _col("Images", "string", "Images referenced by each container in the template.",
                                    priority=1)],
                              _simple(lambda o, now: [_meta(o).get("name", ""), "%d/%d" % (
                                  int((o.get("status") or {}).get("readyReplicas") or 0),
                                  int((o.get("spec") or {}).get("replicas") if (o.get("spec") or {}).get("replicas")
                                      is not None else 1)), _age(o, now)]
                                  + list(_containers_cells((((o.get("spec") or {}).get("template") or {}).get("spec")
                                                            or {}).get("containers"))))),
    ("", "ResourceQuota"): ([_name_col(), _col("Age", "string", AGE_DESC),
                             _col("Request", "string", "Request represents a minimum amount of cpu/memory that a "
                                                       "container may consume."),
                             _col("Limit", "string", "Limits control the maximum amount of cpu/memory that a "
                                                     "container may use independent of contention on the node.")],
                            _simple(lambda o, now: [_meta(o).get("name", ""), _age(o, now), ", ".join(
                                "%s: %s/%s" % (k, ((o.get("status") or {}).get("used") or {}).get(k, "0"), v)
                                for k, v in sorted(((o.get("spec") or {}).get("hard") or {}).items())
                                if not k.startswith("limits.")), ", ".join(
                                "%s: %s/%s" % (k, ((o.get("status") or {}).get("used") or {}).get(k, "0"), v)
                                for k, v in sorted(((o.get("spec") or {}).get("hard") or {}).items())
                                if k.startswith("limits."))])),
}
_ROLE = ([_name_col(), _col("Created At", "date", AGE_DESC)],
         _simple(lambda o, now: [_meta(o).get("name", ""), _rfc3339(_meta(o).get("creationTimestamp"))]))
_BINDING = ([_name_col(), _col("Role", "string", "RoleRef can reference a Role in the current namespace or a "
                                                 "ClusterRole in the global namespace."),
             _col("Age", "string", AGE_DESC),
             _col("Users", "string", "Users in the roleBinding", priority=1),
             _col("Groups", "string", "Groups in the roleBinding", priority=1),
             _col("ServiceAccounts", "string", "ServiceAccounts in the roleBinding", priority=1)], _role_binding_row)
_WEBHOOKS = ([_name_col(), _col("Webhooks", "integer", _WEBHOOKS_DESC), _col("Age", "string", AGE_DESC)],
             _simple(lambda o, now: [_meta(o).get("name", ""), len(o.get("webhooks") or []), _age(o, now)]))
_BUILTIN.update({
    ("events.k8s.io", "Event"): _BUILTIN[("", "Event")],
    ("rbac.authorization.k8s.io", "Role"): _ROLE, ("rbac.authorization.k8s.io", "ClusterRole"): _ROLE,
    ("rbac.authorization.k8s.io", "RoleBinding"): _BINDING,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): _BINDING,
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): _WEBHOOKS,
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): _WEBHOOKS,
})
# rest.DefaultTableConvertor (CustomResourceDefinitions and everything without a printer)
_DEFAULT = ([_name_col(), _col("Created At", "date", AGE_DESC)],
            _simple(lambda o, now: [_meta(o).get("name", ""), _rfc3339(_meta(o).get("creationTimestamp"))]))


def _printer(rtype):
    if rtype.is_crd:
        return crd_columns(rtype), lambda obj, now: _crd_row(obj, rtype, now)
    return _BUILTIN.get((rtype.group, rtype.kind), _DEFAULT)


def columns(rtype):
    """The column definitions served for a resource type."""
    return _printer(rtype)[0]


# ---------------------------------------------------------------------------
# Table assembly
# ---------------------------------------------------------------------------

def partial_object_metadata(obj, api_version="meta.k8s.io/v1"):
    md = obj.get("metadata") or {}
    ordered = {k: md[k] for k in _META_ORDER if k in md}
    ordered.update((k, v) for k, v in md.items() if k not in ordered)
    return {"kind": "PartialObjectMetadata", "apiVersion": api_version, "metadata": ordered}


def _row(obj, rtype, include_object, now, row_fn, api_version):
    cells, conditions = row_fn(obj, now)
    row = {"cells": cells}
    if conditions:
        row["conditions"] = [dict(c) for c in conditions]
    inc = include_object or "Metadata"
    if inc == "Object":
        row["object"] = obj
    elif inc == "None":
        row["object"] = None
    else:
        row["object"] = partial_object_metadata(obj, api_version)
    return row


def _list_meta(list_meta):
    out = {}
    lm = list_meta or {}
    for k in ("selfLink", "resourceVersion", "continue", "remainingItemCount"):
        if lm.get(k) not in (None, ""):
            out[k] = lm[k]
    return out


def to_table(objects, rtype, include_object="Metadata", list_meta=None, now=None, no_headers=False,
             api_version="meta.k8s.io/v1"):
    """A meta.k8s.io/v1 Table for a list (objects = the items) or a single object (a dict, or a
    one-element list with list_meta holding its resourceVersion). include_object: Metadata
    (default), Object or None. now: epoch seconds for ages (defaults to the current time)."""
    if include_object not in (None, "", "Metadata", "Object", "None"):
        raise ValueError('unrecognized includeObject value: "%s"' % include_object)
    now = time.time() if now is None else now
    if isinstance(objects, dict):
        list_meta = list_meta or {"resourceVersion": (objects.get("metadata") or {}).get("resourceVersion")}
        objects = [objects]
    cols, row_fn = _printer(rtype)
    return {"kind": "Table", "apiVersion": api_version, "metadata": _list_meta(list_meta),
            "columnDefinitions": None if no_headers else [dict(c) for c in cols],
            "rows": [_row(o, rtype, include_object, now, row_fn, api_version) for o in objects or []]}


def to_table_event(obj, rtype, include_header, include_object="Metadata", now=None, api_version="meta.k8s.io/v1"):
    """The object of one watch event as=Table: a one-row Table; only the first event of a watch
    carries column definitions (later ones have "columnDefinitions": null)."""
    if not isinstance(obj, dict) or obj.get("kind") == "Status":
        return obj           # ERROR events carry a Status, which is not converted
    return to_table(obj, rtype, include_object, None, now, no_headers=not include_header,
                    api_version=api_version)


def dumps(table):
    """Compact JSON as the server sends it (helper for tests)."""
    return json.dumps(table, separators=(",", ":"))

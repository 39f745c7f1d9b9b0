"""Shared by the GitOps tests: the recorded objects in fixtures/, Argo CD's way of running
deploy/argocd/health.lua (on Debian's lua5.4, see argocd_harness.lua), and kstatus'
status computation (sigs.k8s.io/cli-utils/pkg/kstatus/status) in Python."""
import json
import os
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
HEALTH_LUA = os.path.join(ROOT, "deploy", "argocd", "health.lua")
HARNESS = os.path.join(HERE, "argocd_harness.lua")
FIXTURES = os.path.join(HERE, "fixtures")
LUA = os.environ.get("LUA", "lua5.4")

# gitops-engine's health.HealthStatusCode values: what Argo CD accepts from a script.
ARGO_STATUSES = ("Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown")


def fixture_names():
    return sorted(f[:-5] for f in os.listdir(FIXTURES) if f.endswith(".json"))


def load_fixture(name):
    with open(os.path.join(FIXTURES, name + ".json")) as f:
        return json.load(f)


# ---- Argo CD ------------------------------------------------------------------------------


def _lua_string(s):
    out = ['"']
    for b in s.encode("utf-8"):
        c = chr(b)
        if 0x20 <= b < 0x7F and c not in '"\\':
            out.append(c)
        else:
            out.append("\\%03d" % b)  # decimal escapes: Lua 5.1 and 5.4 alike
    out.append('"')
    return "".join(out)


def to_lua(value):
    """A Lua expression for a decoded JSON value, as Argo CD's decodeValue builds it:
    objects are tables keyed by string, arrays tables indexed from 1, null is nil (so a
    null member is absent), numbers are numbers."""
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return _lua_string(value)
    if isinstance(value, list):
        return "{" + ", ".join(to_lua(v) for v in value) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join("[%s] = %s" % (_lua_string(k), to_lua(v))
                               for k, v in value.items() if v is not None) + "}"
    raise TypeError("not a JSON value: %r" % (value,))


def argocd_health_many(objects, script=HEALTH_LUA, coverage=None):
    """[(status, message)] as Argo CD would show them for each object with the given health
    script. A status outside ARGO_STATUSES becomes Unknown, as in Argo CD; a script error
    raises (Argo CD would show the error instead of a status). coverage: a file to write
    the script's executed line numbers to."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write("return {\n" + ",\n".join(to_lua(o) for o in objects) + "\n}\n")
        path = f.name
    try:
        env = dict(os.environ)
        if coverage:
            env["LUA_COVERAGE"] = coverage
        r = subprocess.run([LUA, HARNESS, path, script], capture_output=True, timeout=120, env=env)
    finally:
        os.unlink(path)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (LUA, r.returncode, r.stderr.decode(errors="replace")))
    records = r.stdout.decode("utf-8").split("\x1e")
    if records[-1] != "" or len(records) != len(objects) + 1:
        raise RuntimeError("%s printed %d records for %d objects" % (LUA, len(records) - 1, len(objects)))
    out = []
    for rec, obj in zip(records, objects):
        parts = rec.split("\0")
        if parts[0] != "OK":
            raise RuntimeError("health script error for %s/%s: %s" % (
                obj.get("kind") if isinstance(obj, dict) else "?",
                (obj.get("metadata") or {}).get("name") if isinstance(obj, dict) and isinstance(obj.get("metadata"), dict) else "?",
                parts[1]))
        status, message = parts[1], parts[2]
        out.append((status, message) if status in ARGO_STATUSES
                   else ("Unknown", "Lua returned an invalid health status"))
    return out


def argocd_health(obj, script=HEALTH_LUA):
    return argocd_health_many([obj], script)[0]


# ---- kstatus ------------------------------------------------------------------------------
# sigs.k8s.io/cli-utils/pkg/kstatus/status: status.go Compute, generic.go
# checkGenericProperties/checkGeneration, status.go checkReadyCondition. For a custom
# resource no type-specific ("legacy") rule applies, so the order is:
#   1. metadata.deletionTimestamp set            -> Terminating
#   2. status.observedGeneration present and != metadata.generation
#                                                -> InProgress (LatestGenerationNotObserved)
#   3. the first condition (in list order) that is Reconciling=True -> InProgress,
#      or Stalled=True -> Failed
#   4. the first Ready condition: True -> Current, False or Unknown -> InProgress
#   5. otherwise                                 -> Current ("Resource is current")
# Per-condition observedGeneration is not read.


def _int64(v, what):
    # unstructured.NestedInt64: JSON integers only; an observedGeneration string is parsed.
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError("%s is not an integer: %r" % (what, v))
    return v


def kstatus_compute(obj):
    """(status, reason, message): InProgress, Failed, Current or Terminating."""
    md = obj.get("metadata") or {}
    if md.get("deletionTimestamp"):
        return "Terminating", "", "Resource scheduled for deletion"
    st = obj.get("status")
    st = st if isinstance(st, dict) else {}
    if "generation" in md:
        generation = _int64(md["generation"], "metadata.generation")
        if "observedGeneration" in st:
            observed = st["observedGeneration"]
            if isinstance(observed, str):
                observed = int(observed)
            observed = _int64(observed, "status.observedGeneration")
            if observed != generation:
                return ("InProgress", "LatestGenerationNotObserved",
                        "%s generation is %d, but latest observed generation is %d"
                        % (obj.get("kind", ""), generation, observed))
    conditions = st.get("conditions") or []
    if not isinstance(conditions, list):
        raise ValueError("status.conditions is not a list")
    for c in conditions:
        if c.get("type") == "Reconciling" and c.get("status") == "True":
            return "InProgress", c.get("reason", ""), c.get("message", "")
        if c.get("type") == "Stalled" and c.get("status") == "True":
            return "Failed", c.get("reason", ""), c.get("message", "")
    for c in conditions:
        if c.get("type") != "Ready":
            continue
        if c.get("status") == "True":
            return "Current", "", "Resource is Ready"
        if c.get("status") in ("False", "Unknown"):
            return "InProgress", c.get("reason", ""), c.get("message", "")
    return "Current", "", "Resource is current"


# ---- what each recorded state must give ----------------------------------------------------
# fixture: (Argo CD status, Argo CD message, kstatus status)
KSTATUS_BLIND = "Current"  # kstatus cannot tell: no conditions, no observedGeneration

EXPECTED = {
    # Runs as s2i-operator writes them (Succeeded plus Reconciling/Stalled/Ready).
    "run-pending-no-status":
        ("Progressing", "Pending: waiting for the operator to start the run", KSTATUS_BLIND),
    "run-queued":
        ("Progressing", "Queued: queued: position 2 for builder web (runPolicy Serial); running: web-4m9zt",
         "InProgress"),
    "run-queued-cluster":
        ("Progressing", "Queued: queued: position 3 in the cluster queue (4 builds running, "
                        "--max-concurrent-builds 4)", "InProgress"),
    "run-waiting-builder-not-found":
        ("Progressing", "BuilderNotFound: S2iBuilder \"web\" not found in namespace demo", "InProgress"),
    "run-pending-pod":
        ("Progressing", "Pending: waiting for pod web-9fz4t-b6c7d8e9f005-job-x7k2p to start", "InProgress"),
    "run-running":
        ("Progressing", "Running: step s2i-build is running in pod web-3hb6w-c7d8e9f0a106-job-q9w4e",
         "InProgress"),
    "run-image-pull-backoff":
        ("Progressing", "ImagePullBackOff: pod web-6jn2r-d8e9f0a1b207-job-m3n8v: ImagePullBackOff: Back-off "
                        "pulling image \"registry.example.com/builders/java:does-not-exist\"", "InProgress"),
    "run-retrying":
        ("Progressing", "AssembleFailed: pod web-1rx5s-e9f0a1b2c308-job-h2j6k failed: assemble exited with "
                        "code 1 (retry 1 of 2)", "InProgress"),
    "run-succeeded":
        ("Healthy", "Succeeded: the image was built and pushed: sha256:" + "3f" * 32, "Current"),
    "run-failed-assemble":
        ("Degraded", "AssembleFailed: assemble exited with code 1", "Failed"),
    "run-failed-source-fetch":
        ("Degraded", "SourceFetchFailed: git clone https://git.example.com/demo/web.git: authentication "
                     "required (container s2i-prepare)", "Failed"),
    "run-failed-push":
        ("Degraded", "PushFailed: push registry.example.com/demo/web:latest: 401 Unauthorized", "Failed"),
    "run-failed-timeout":
        ("Degraded", "Timeout: the build did not finish within 3600 seconds", "Failed"),
    "run-failed-oomkilled":
        ("Degraded", "OOMKilled: container s2i-build ran out of memory (exit code 137)", "Failed"),
    "run-failed-pending-timeout":
        ("Degraded", "PendingTimeout: the build pod did not start within 600s: pod "
                     "web-6yh2j-f607182930af-job-z8x6c: ImagePullBackOff: Back-off pulling image "
                     "\"registry.example.com/builders/java:does-not-exist\"", "Failed"),
    "run-failed-unschedulable":
        ("Degraded", "PendingTimeout: the build pod did not start within 600s: pod "
                     "web-9kl5m-071829304ab0-job-z8x6c: Unschedulable: 0/3 nodes are available: 3 "
                     "Insufficient memory.", "Failed"),
    "run-cancelled":
        ("Degraded", "Cancelled: the run was cancelled; its build was stopped", "Failed"),
    "run-cancelled-before-start":
        ("Degraded", "Cancelled: the run was cancelled before its build started", "Failed"),
    "run-superseded":
        ("Degraded", "Superseded: superseded by the newer run web-2rf9v of builder web (runPolicy "
                     "SerialLatestOnly)", "Failed"),
    "run-cancel-not-yet-observed":
        ("Progressing", "waiting for the operator to observe generation 2 (status is for generation 1)",
         "InProgress"),
    # s2i-operator before kstatus conditions: the Succeeded condition only.
    "run-succeeded-condition-only-running":
        ("Progressing", "Running: step s2i-build is running in pod web-8hy4n-5b6c7d8e9f05-job-b7n3m",
         KSTATUS_BLIND),
    "run-succeeded-condition-only-failed":
        ("Degraded", "PushFailed: push registry.example.com/demo/web:latest: 401 Unauthorized", KSTATUS_BLIND),
    # KubeSphere's upstream s2ioperator: runState only.
    "run-upstream-running": ("Progressing", "Running", KSTATUS_BLIND),
    "run-upstream-successful": ("Healthy", "Successful", KSTATUS_BLIND),
    "run-upstream-failed": ("Degraded", "Failed: the run failed (no reason recorded)", KSTATUS_BLIND),
    "run-upstream-unknown": ("Progressing", "Unknown", KSTATUS_BLIND),
    "run-upstream-empty-status":
        ("Progressing", "Pending: waiting for the operator to start the run", KSTATUS_BLIND),
    # Builders.
    "builder-no-status":
        ("Progressing", "waiting for the operator to check the builder", KSTATUS_BLIND),
    "builder-ready": ("Healthy", "Ready: runs of this builder can build", "Current"),
    "builder-spec-not-yet-observed":
        ("Progressing", "waiting for the operator to observe generation 3 (status is for generation 2)",
         "InProgress"),
    "builder-invalid-config":
        ("Degraded", "InvalidConfig: Invalid value: \"registry.example.com/demo/Web!\": imageName must be "
                     "a valid image name", "Failed"),
    "builder-template-not-found":
        ("Degraded", "TemplateNotFound: S2iBuilderTemplate \"java-gradle\" not found", "Failed"),
    "builder-ready-condition-only-invalid":
        ("Degraded", "InvalidConfig: Invalid value: \"registry.example.com/demo/Web!\": imageName must be "
                     "a valid image name", "InProgress"),
    "builder-upstream":
        ("Healthy", "runCount 3, last run legacy-x2k9d Successful", KSTATUS_BLIND),
    "builder-upstream-never-run": ("Healthy", "runCount 0", KSTATUS_BLIND),
}

# Fixtures that s2i-operator writes today (with the kstatus conditions); the others are
# objects of the upstream operator, of s2i-operator before kstatus, or not yet seen by any.
OPERATOR_KSTATUS = sorted(n for n in EXPECTED if not any(
    w in n for w in ("upstream", "condition-only", "no-status")))


def _conditions(obj):
    st = obj.get("status") or {}
    out = {}
    for c in st.get("conditions") or []:
        out.setdefault(c.get("type"), []).append(c)
    return out


def operator_condition_errors(obj):
    """How obj's status departs from the conditions s2i-operator writes ([] when it does not):
    runs carry Succeeded plus Reconciling=True and Ready=False while pending, queued or
    running, Ready=True (no Reconciling, no Stalled) when Successful, Stalled=True and
    Ready=False (no Reconciling) when Failed, the kstatus ones with the Succeeded reason and
    message; builders Ready, and Stalled=True beside Ready=False; every condition with the
    status' observedGeneration, which is at most metadata.generation."""
    errs = []
    st = obj.get("status") or {}
    gen = (obj.get("metadata") or {}).get("generation")
    observed = st.get("observedGeneration")
    if observed is None:
        errs.append("no status.observedGeneration")
    elif gen is not None and observed > gen:
        errs.append("status.observedGeneration %s > metadata.generation %s" % (observed, gen))
    conds = _conditions(obj)
    for ctype, cs in conds.items():
        if len(cs) > 1:
            errs.append("%d conditions of type %s" % (len(cs), ctype))
        for c in cs:
            if c.get("status") not in ("True", "False", "Unknown"):
                errs.append("%s: status %r" % (ctype, c.get("status")))
            if not c.get("lastTransitionTime"):
                errs.append("%s: no lastTransitionTime" % ctype)
            if c.get("observedGeneration") != observed:
                errs.append("%s: observedGeneration %r, status has %r" % (ctype, c.get("observedGeneration"), observed))
            if not c.get("reason"):
                errs.append("%s: no reason" % ctype)

    def one(ctype):
        return conds.get(ctype, [None])[0]

    def want(ctype, status, same_as=None):
        c = one(ctype)
        if c is None:
            errs.append("no %s condition" % ctype)
            return
        if c.get("status") != status:
            errs.append("%s is %s, want %s" % (ctype, c.get("status"), status))
        if same_as is not None and (c.get("reason"), c.get("message")) != (same_as.get("reason"), same_as.get("message")):
            errs.append("%s says %r, Succeeded says %r" % (ctype, (c.get("reason"), c.get("message")),
                                                             (same_as.get("reason"), same_as.get("message"))))

    def absent(ctype):
        if one(ctype) is not None:
            errs.append("unexpected %s condition" % ctype)

    if obj.get("kind") == "S2iRun":
        succeeded = one("Succeeded")
        if succeeded is None:
            return errs + ["no Succeeded condition"]
        state = st.get("runState")
        if state == "Successful":
            want("Succeeded", "True")
            want("Ready", "True", succeeded)
            absent("Reconciling")
            absent("Stalled")
        elif state == "Failed":
            want("Succeeded", "False")
            want("Stalled", "True", succeeded)
            want("Ready", "False", succeeded)
            absent("Reconciling")
        else:
            want("Succeeded", "Unknown")
            want("Reconciling", "True", succeeded)
            want("Ready", "False", succeeded)
            absent("Stalled")
    elif obj.get("kind") == "S2iBuilder":
        ready = one("Ready")
        if ready is None:
            return errs + ["no Ready condition"]
        if ready.get("status") == "False":
            c = one("Stalled")
            if c is None or c.get("status") != "True":
                errs.append("Ready=False without Stalled=True")
            elif (c.get("reason"), c.get("message")) != (ready.get("reason"), ready.get("message")):
                errs.append("Stalled and Ready disagree on reason/message")
        else:
            absent("Stalled")
        absent("Reconciling")
    return errs


def condition_shape(obj):
    """{type: (status, reason)}: what a live object is compared with its fixture by."""
    return {c.get("type"): (c.get("status"), c.get("reason"))
            for c in (obj.get("status") or {}).get("conditions") or []}

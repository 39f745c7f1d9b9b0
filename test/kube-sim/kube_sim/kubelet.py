"""One node: a scheduler that binds pods to it and a kubelet that runs them.

The kubelet fills pod status as the real one does (phase, conditions,
initContainerStatuses/containerStatuses with waiting/running/terminated
states, exit codes, reasons, termination messages, FallbackToLogsOnError) and
keeps container logs for pods/log.

Scripted mode (the default) does not run anything: what each container "does"
comes from a script, looked up in this order:
  1. the pod annotation `kube-sim/script`: JSON {"<container>": SCRIPT, "*": SCRIPT};
  2. the ConfigMap kube-system/kube-sim-scripts: key = the container's image, value = SCRIPT
     (so a test can say what a builder image does without touching the pod);
  3. the default: exit 0 after 0.05 s.
SCRIPT = {"exitCode": 0 | [1, 1, 0] (one per attempt of the same controller),
          "duration": seconds | [..], "logs": "line\\nline" | [..], "terminationMessage": "...",
          "reason": "OOMKilled" (overrides Completed/Error), "imagePullError": "ErrImagePull"
          (the container never starts: waiting ErrImagePull, then ImagePullBackOff)}
The attempt number counts the pods of one controller (e.g. a Job) that this
kubelet has started, so "fail twice, then succeed" is [1, 1, 0].

The scheduler binds every pod whose nodeSelector / required node affinity /
tolerations fit the node; others get PodScheduled=False, reason Unschedulable,
with the real scheduler's message. The annotation `kube-sim/unschedulable`
forces that.

A runtime that really runs container images plugs in through
`Kubelet.runtime` (see runtime_exec.py when present)."""
import json
import threading
import time

from . import errors
from .api import INTERNAL, clone, now_iso
from .controllers import Controller, emit_event

DEFAULT_SCRIPT = {"exitCode": 0, "duration": 0.05}


def _pick(value, attempt):
    if isinstance(value, list):
        if not value:
            return None
        return value[min(attempt, len(value) - 1)]
    return value


class Kubelet(Controller):
    name = "kubelet"

    def __init__(self, sim):
        self.node_name = sim.opts.get("node_name", "kube-sim-node")
        self.pod_type = sim.registry.get("", "v1", "pods")
        self.node_type = sim.registry.get("", "v1", "nodes")
        self.runners = {}           # pod uid -> Runner
        self.attempts = {}          # controller uid -> pods started
        self.lock = threading.Lock()
        self.runtime = None
        self.node_labels = {"kubernetes.io/hostname": self.node_name, "kubernetes.io/os": "linux",
                            "kubernetes.io/arch": "amd64", "node-role.kubernetes.io/worker": ""}
        self.node_labels.update(sim.opts.get("node_labels") or {})
        self.node_taints = sim.opts.get("node_taints") or []
        super().__init__(sim)
        threading.Thread(target=self._register_node, daemon=True).start()

    def _register_node(self):
        node = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": self.node_name, "labels": self.node_labels},
                "spec": {"taints": self.node_taints} if self.node_taints else {},
                "status": {"capacity": {"cpu": "2", "memory": "8Gi", "pods": "110"},
                           "allocatable": {"cpu": "2", "memory": "8Gi", "pods": "110"},
                           "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                           "message": "kubelet is posting ready status",
                                           "lastHeartbeatTime": now_iso(), "lastTransitionTime": now_iso()}],
                           "addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                                         {"type": "Hostname", "address": self.node_name}],
                           "nodeInfo": {"kubeletVersion": "v1.24.0-kube-sim", "operatingSystem": "linux",
                                        "architecture": "amd64", "containerRuntimeVersion": "kube-sim://1"}}}
        try:
            self.api.create(self.node_type, None, node, INTERNAL)
        except errors.ApiError:
            pass

    def keys_for(self, skey, ev):
        if skey == ("", "pods"):
            if ev.type == "DELETED":
                self.sim.logs.drop_pod(ev.ns, ev.name)
                if self.runtime is not None and ev.obj is not None:
                    self.runtime.forget(ev.obj)     # kills leftovers, removes bundles and volumes
            return [(ev.ns, ev.name)]
        return []

    def sync(self, key):
        ns, name = key
        pod = self.sim.store.get(("", "pods"), ns, name)
        if pod is None:
            return None
        spec = pod.get("spec") or {}
        uid = pod["metadata"]["uid"]
        if not spec.get("nodeName"):
            if pod["metadata"].get("deletionTimestamp"):
                return None
            return self.schedule(pod)
        if spec["nodeName"] != self.node_name:
            return None
        with self.lock:
            runner = self.runners.get(uid)
        phase = (pod.get("status") or {}).get("phase")
        if pod["metadata"].get("deletionTimestamp"):
            if runner is not None and runner.alive():
                runner.kill()
                return None
            self._force_delete(pod)
            return None
        if runner is None and phase not in ("Succeeded", "Failed"):
            runner = Runner(self, pod, self._next_attempt(pod))
            with self.lock:
                self.runners[uid] = runner
            runner.start()
        return None

    def _next_attempt(self, pod):
        ctrl = next((r.get("uid") for r in pod["metadata"].get("ownerReferences") or [] if r.get("controller")),
                    pod["metadata"]["uid"])
        with self.lock:
            n = self.attempts.get(ctrl, 0)
            self.attempts[ctrl] = n + 1
        return n

    def _force_delete(self, pod):
        md = pod["metadata"]
        try:
            self.api.delete(self.pod_type, md["namespace"], md["name"], INTERNAL,
                            {"gracePeriodSeconds": 0, "preconditions": {"uid": md["uid"]}})
        except errors.ApiError as e:
            if e.code not in (404, 409):
                raise
        with self.lock:
            self.runners.pop(md["uid"], None)

    # -- scheduling -----------------------------------------------------------------

    def fits(self, pod):
        spec = pod.get("spec") or {}
        ann = pod["metadata"].get("annotations") or {}
        if ann.get("kube-sim/unschedulable"):
            return "1 node(s) didn't match Pod's node affinity/selector"
        for k, v in (spec.get("nodeSelector") or {}).items():
            if self.node_labels.get(k) != v:
                return "1 node(s) didn't match Pod's node affinity/selector"
        req = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
               .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
        terms = req.get("nodeSelectorTerms") or []
        if terms and not any(self._term_matches(t) for t in terms):
            return "1 node(s) didn't match Pod's node affinity/selector"
        for taint in self.node_taints:
            if taint.get("effect") not in ("NoSchedule", "NoExecute"):
                continue
            if not any(self._tolerates(t, taint) for t in spec.get("tolerations") or []):
                return "1 node(s) had untolerated taint {%s: %s}" % (taint.get("key"), taint.get("value", ""))
        return None

    def _term_matches(self, term):
        for e in term.get("matchExpressions") or []:
            v = self.node_labels.get(e.get("key"))
            op, vals = e.get("operator"), e.get("values") or []
            if op == "In" and v not in vals or op == "NotIn" and v in vals:
                return False
            if op == "Exists" and v is None or op == "DoesNotExist" and v is not None:
                return False
        return True

    @staticmethod
    def _tolerates(tol, taint):
        if tol.get("effect") and tol["effect"] != taint.get("effect"):
            return False
        if tol.get("operator") == "Exists":
            return not tol.get("key") or tol["key"] == taint.get("key")
        return tol.get("key") == taint.get("key") and tol.get("value", "") == taint.get("value", "")

    def schedule(self, pod):
        md = pod["metadata"]
        why = self.fits(pod)
        if why is not None:
            msg = "0/1 nodes are available: %s. preemption: 0/1 nodes are available: 1 Preemption is not " \
                  "helpful for scheduling." % why
            cond = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": msg,
                    "lastProbeTime": None, "lastTransitionTime": now_iso()}
            cur = [c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == "PodScheduled"]
            if not cur or cur[0].get("message") != msg:
                self.set_status(pod, lambda st: _set_condition(st, cond))
                emit_event(self.sim, pod, "Warning", "FailedScheduling", msg, "default-scheduler")
            return 5.0
        new = clone(pod)
        new["spec"]["nodeName"] = self.node_name
        try:
            self.api.update(self.pod_type, md["namespace"], md["name"], new, INTERNAL)
        except errors.ApiError as e:
            if e.code in (404, 409):
                return None if e.code == 404 else 0.05
            raise
        emit_event(self.sim, pod, "Normal", "Scheduled", "Successfully assigned %s/%s to %s"
                   % (md["namespace"], md["name"], self.node_name), "default-scheduler")
        return None

    # -- status ---------------------------------------------------------------------

    def set_status(self, pod, mutate):
        """Applies mutate(status) to the latest pod status and writes it, retrying
        on conflicts. Returns the stored pod or None if the pod is gone."""
        md = pod["metadata"]
        for _ in range(50):
            cur = self.sim.store.get(("", "pods"), md["namespace"], md["name"])
            if cur is None or cur["metadata"]["uid"] != md["uid"]:
                return None
            new = clone(cur)
            st = new.setdefault("status", {})
            mutate(st)
            try:
                return self.api.update(self.pod_type, md["namespace"], md["name"], new, INTERNAL, "status")
            except errors.ApiError as e:
                if e.code == 404:
                    return None
                if e.code != 409:
                    raise
            time.sleep(0.01)
        return None

    def script_for(self, pod, container):
        ann = (pod["metadata"].get("annotations") or {}).get("kube-sim/script")
        if ann:
            try:
                s = json.loads(ann)
                if container["name"] in s or "*" in s:
                    return s.get(container["name"]) or s.get("*")
            except ValueError:
                pass
        cm = self.sim.store.get(("", "configmaps"), "kube-system", "kube-sim-scripts")
        data = (cm or {}).get("data") or {}
        raw = data.get(container.get("image", "")) or data.get("*")
        if raw:
            try:
                return json.loads(raw)
            except ValueError:
                pass
        return DEFAULT_SCRIPT


def _set_condition(st, cond):
    conds = [c for c in st.get("conditions") or [] if c.get("type") != cond["type"]]
    old = [c for c in st.get("conditions") or [] if c.get("type") == cond["type"]]
    if old and old[0].get("status") == cond["status"]:
        cond = dict(cond, lastTransitionTime=old[0].get("lastTransitionTime"))
    conds.append(cond)
    order = {"Initialized": 0, "Ready": 1, "ContainersReady": 2, "PodScheduled": 3}
    st["conditions"] = sorted(conds, key=lambda c: order.get(c["type"], 9))


class Runner:
    """Runs one pod's containers (scripted, or through kubelet.runtime)."""

    def __init__(self, kubelet, pod, attempt):
        self.k = kubelet
        self.pod = pod
        self.attempt = attempt
        self.killed = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True,
                                       name="pod-%s" % pod["metadata"]["name"])

    def start(self):
        self.thread.start()

    def alive(self):
        return self.thread.is_alive()

    def kill(self):
        self.killed.set()
        if self.k.runtime is not None:
            self.k.runtime.kill(self.pod)

    def run(self):
        try:
            self._run()
        except Exception:
            import traceback
            traceback.print_exc()
        finally:
            # Let the kubelet finish a pending graceful deletion.
            self.k.queue.add((self.pod["metadata"]["namespace"], self.pod["metadata"]["name"]))

    def _status_all_waiting(self, st, spec, reason):
        st["phase"] = "Pending"
        st["startTime"] = st.get("startTime") or now_iso()
        st["hostIP"] = "127.0.0.1"
        st["podIP"] = "10.244.0.%d" % (hash(self.pod["metadata"]["uid"]) % 250 + 2)
        st["podIPs"] = [{"ip": st["podIP"]}]
        ts = now_iso()
        _set_condition(st, {"type": "Initialized", "status": "False" if spec.get("initContainers") else "True",
                            "lastProbeTime": None, "lastTransitionTime": ts,
                            **({"reason": "ContainersNotInitialized",
                                "message": "containers with incomplete status: [%s]"
                                           % " ".join(c["name"] for c in spec["initContainers"])}
                               if spec.get("initContainers") else {})})
        for t in ("Ready", "ContainersReady"):
            _set_condition(st, {"type": t, "status": "False", "lastProbeTime": None, "lastTransitionTime": ts,
                                "reason": "ContainersNotReady",
                                "message": "containers with unready status: [%s]"
                                           % " ".join(c["name"] for c in spec.get("containers") or [])})
        _set_condition(st, {"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                            "lastTransitionTime": ts})
        if spec.get("initContainers"):
            st["initContainerStatuses"] = [_cstatus(c, {"waiting": {"reason": "PodInitializing"}})
                                           for c in spec["initContainers"]]
        st["containerStatuses"] = [_cstatus(c, {"waiting": {"reason": reason}}) for c in spec["containers"]]

    def _run(self):
        pod = self.pod
        md = pod["metadata"]
        spec = pod.get("spec") or {}
        ns, name = md["namespace"], md["name"]
        init = spec.get("initContainers") or []
        self.k.set_status(pod, lambda st: self._status_all_waiting(
            st, spec, "PodInitializing" if init else "ContainerCreating"))
        reported = None
        while True:
            missing = self._missing_volume(ns, spec)
            if missing is None:
                break
            if missing != reported:
                # The real kubelet retries mounts and reports each failure as an event;
                # the containers stay waiting (ContainerCreating).
                emit_event(self.k.sim, pod, "Warning", "FailedMount", missing, "kubelet")
                reported = missing
            if self.killed.wait(1.0):
                return self._killed()
        for i, c in enumerate(init):
            code = self._run_container(c, "initContainerStatuses", i)
            if code is None:
                return self._killed()
            if code != 0 and spec.get("restartPolicy") != "OnFailure":
                self.k.set_status(pod, lambda st: self._finish(st, "Failed"))
                return None
        if init:
            self.k.set_status(pod, lambda st: _set_condition(st, {"type": "Initialized", "status": "True",
                                                                   "lastProbeTime": None,
                                                                   "lastTransitionTime": now_iso()}))
        results = [None] * len(spec["containers"])
        threads = []
        for i, c in enumerate(spec["containers"]):
            def go(i=i, c=c):
                results[i] = self._run_container(c, "containerStatuses", i)
            t = threading.Thread(target=go, daemon=True)
            t.start()
            threads.append(t)
        for t in threads:
            t.join()
        if any(r is None for r in results):
            return self._killed()
        phase = "Succeeded" if all(r == 0 for r in results) else "Failed"
        self.k.set_status(pod, lambda st: self._finish(st, phase))
        emit_event(self.k.sim, self._latest(), "Normal", "Completed" if phase == "Succeeded" else "Failed",
                   "Pod %s/%s %s" % (ns, name, phase.lower()), "kubelet")
        return None

    def _missing_volume(self, ns, spec):
        """The FailedMount message of the first volume whose Secret or ConfigMap is missing."""
        store = self.k.sim.store
        for v in spec.get("volumes") or []:
            refs = []
            if "secret" in v:
                refs.append(("secret", v["secret"].get("secretName"), v["secret"].get("optional")))
            if "configMap" in v:
                refs.append(("configmap", v["configMap"].get("name"), v["configMap"].get("optional")))
            for src in (v.get("projected") or {}).get("sources") or []:
                if "secret" in src:
                    refs.append(("secret", src["secret"].get("name"), src["secret"].get("optional")))
                if "configMap" in src:
                    refs.append(("configmap", src["configMap"].get("name"), src["configMap"].get("optional")))
            for kind, name, optional in refs:
                plural = "secrets" if kind == "secret" else "configmaps"
                if not optional and store.get(("", plural), ns, name) is None:
                    return 'MountVolume.SetUp failed for volume "%s" : %s "%s" not found' % (v.get("name"), kind,
                                                                                              name)
        return None

    def _latest(self):
        md = self.pod["metadata"]
        return self.k.sim.store.get(("", "pods"), md["namespace"], md["name"]) or self.pod

    def _finish(self, st, phase):
        st["phase"] = phase
        ts = now_iso()
        for t in ("Ready", "ContainersReady"):
            _set_condition(st, {"type": t, "status": "False", "lastProbeTime": None, "lastTransitionTime": ts,
                                "reason": "PodCompleted"})

    def _killed(self):
        def mutate(st):
            for group in ("initContainerStatuses", "containerStatuses"):
                for cs in st.get(group) or []:
                    state = cs.get("state") or {}
                    if "terminated" not in state:
                        started = (state.get("running") or {}).get("startedAt") or now_iso()
                        cs["state"] = {"terminated": {"exitCode": 137, "reason": "Error", "startedAt": started,
                                                      "finishedAt": now_iso(),
                                                      "containerID": "kube-sim://" + cs["name"]}}
                        cs["ready"] = False
            st["phase"] = "Failed"
        self.k.set_status(self.pod, mutate)
        return None

    def _run_container(self, c, group, index):
        """Runs container c; returns its exit code, or None when killed."""
        pod = self.pod
        md = pod["metadata"]
        ns, pname = md["namespace"], md["name"]
        script = self.k.script_for(pod, c) or DEFAULT_SCRIPT
        logs = self.k.sim.logs
        pull_error = _pick(script.get("imagePullError"), self.attempt) if self.k.runtime is None else None
        if pull_error:
            def waiting(st, reason, msg):
                for cs in st.get(group) or []:
                    if cs["name"] == c["name"]:
                        cs["state"] = {"waiting": {"reason": reason, "message": msg}}
            img = c.get("image", "")
            self.k.set_status(pod, lambda st: waiting(st, "ErrImagePull", 'rpc error: code = Unknown desc = failed '
                                                      'to pull and unpack image "%s": not found' % img))
            emit_event(self.k.sim, pod, "Warning", "Failed", 'Failed to pull image "%s": not found' % img, "kubelet")
            if self.killed.wait(0.5):
                return None
            self.k.set_status(pod, lambda st: waiting(st, "ImagePullBackOff", 'Back-off pulling image "%s"' % img))
            emit_event(self.k.sim, pod, "Normal", "BackOff", 'Back-off pulling image "%s"' % img, "kubelet")
            self.killed.wait()
            return None
        image_id = None
        if self.k.runtime is not None:
            # Pulls the image and resolves the container's configuration; the container stays
            # waiting (ErrImagePull, ImagePullBackOff, ...) meanwhile. None: killed.
            image_id = self.k.runtime.prepare(self, c, group)
            if image_id is None:
                return None
        started = now_iso()

        def running(st):
            for cs in st.get(group) or []:
                if cs["name"] == c["name"]:
                    cs["state"] = {"running": {"startedAt": started}}
                    cs["started"] = True
                    cs["containerID"] = "kube-sim://%s-%s" % (md["uid"][:8], c["name"])
                    cs["imageID"] = image_id or "kube-sim://" + c.get("image", "")
            if group == "containerStatuses":
                st["phase"] = "Running"
        logs.open(ns, pname, c["name"])
        self.k.set_status(pod, running)
        if self.k.runtime is not None:
            code, message, reason = self.k.runtime.run(self, c, group)
            if code is None:
                logs.close(ns, pname, c["name"])
                return None
        else:
            code = int(_pick(script.get("exitCode", 0), self.attempt) or 0)
            duration = float(_pick(script.get("duration", 0.05), self.attempt) or 0)
            lines = _pick(script.get("logs"), self.attempt) if isinstance(script.get("logs"), list) and \
                script["logs"] and isinstance(script["logs"][0], list) else script.get("logs")
            if isinstance(lines, str):
                lines = lines.split("\n")
            lines = [l.replace("{attempt}", str(self.attempt)) for l in (lines or [])]
            step = duration / (len(lines) + 1) if lines else duration
            for line in lines:
                if self.killed.wait(step):
                    logs.close(ns, pname, c["name"])
                    return None
                logs.append(ns, pname, c["name"], line)
            if self.killed.wait(step if lines else duration):
                logs.close(ns, pname, c["name"])
                return None
            message = script.get("terminationMessage", "")
            reason = script.get("reason")
        logs.close(ns, pname, c["name"])
        if not message and code != 0 and c.get("terminationMessagePolicy") == "FallbackToLogsOnError":
            text = logs.text(ns, pname, c["name"])
            message = b"\n".join(text.rstrip(b"\n").split(b"\n")[-80:])[-2048:].decode(errors="replace")
        reason = reason or ("Completed" if code == 0 else "Error")
        finished = now_iso()

        def terminated(st):
            for cs in st.get(group) or []:
                if cs["name"] == c["name"]:
                    t = {"exitCode": code, "reason": reason, "startedAt": started, "finishedAt": finished,
                         "containerID": cs.get("containerID", "")}
                    if message:
                        t["message"] = message
                    cs["state"] = {"terminated": t}
                    cs["ready"] = False
                    cs["started"] = False
        self.k.set_status(pod, terminated)
        if self.k.runtime is not None and self.killed.is_set():
            return None     # stopped by kill(): its real exit code (143/137) is recorded above
        return code


def _cstatus(c, state):
    return {"name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": False, "restartCount": 0,
            "started": False, "lastState": {}, "state": state}


# -- pods/log and pod subresources -----------------------------------------------------

def _container_state(pod, cname):
    for group in ("initContainerStatuses", "containerStatuses"):
        for cs in (pod.get("status") or {}).get(group) or []:
            if cs["name"] == cname:
                return cs.get("state") or {}
    return {}


def serve_log(sim, h, req, ns, name):
    pod_type = sim.registry.get("", "v1", "pods")
    pod = sim.api.get(pod_type, ns, name)
    spec = pod.get("spec") or {}
    cnames = [c["name"] for c in spec.get("containers") or []]
    inames = [c["name"] for c in spec.get("initContainers") or []]
    cname = req.q("container")
    if not cname:
        if len(cnames) != 1:
            msg = "a container name must be specified for pod %s, choose one of: [%s]" % (name, " ".join(cnames))
            if inames:
                msg += " or one of the init containers: [%s]" % " ".join(inames)
            raise errors.bad_request(msg)
        cname = cnames[0]
    if cname not in cnames and cname not in inames:
        raise errors.bad_request("container %s is not valid for pod %s" % (cname, name))
    state = _container_state(pod, cname)
    lines, closed = sim.logs.snapshot(ns, name, cname)
    if not lines and "waiting" in state or not state:
        reason = (state.get("waiting") or {}).get("reason", "ContainerCreating")
        raise errors.bad_request('container "%s" in pod "%s" is waiting to start: %s' % (cname, name, reason))
    tail = req.q("tailLines")
    if tail:
        lines = lines[-int(tail):] if int(tail) > 0 else []
    stamps = req.qbool("timestamps")
    limit = int(req.q("limitBytes") or 0)

    def fmt(batch):
        out = b""
        for ts, line in batch:
            if stamps:
                out += time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)).encode() + \
                    (".%09dZ " % int((ts % 1) * 1e9)).encode()
            out += line
        return out

    if not req.qbool("follow") or closed:
        data = fmt(lines)
        if limit:
            data = data[:limit]
        return h.send_text(200, data)
    h.start_chunked("text/plain")
    sent = len(sim.logs.snapshot(ns, name, cname)[0])
    written = 0
    try:
        data = fmt(lines)
        h.chunk(data)
        written += len(data)
        while True:
            more, closed = sim.logs.wait_more(ns, name, cname, sent, 1.0)
            sent += len(more)
            if more:
                data = fmt(more)
                h.chunk(data)
                written += len(data)
            if closed or (limit and written >= limit):
                break
            if sim.store.get(("", "pods"), ns, name) is None:
                break
        h.end_chunked()
    except OSError:
        h.close_connection = True


def post_pod_subresource(sim, h, req, ctx, ns, name, sub):
    pod_type = sim.registry.get("", "v1", "pods")
    body = req.json_body()
    if sub == "binding":
        target = (body.get("target") or {}).get("name")
        pod = clone(sim.api.get(pod_type, ns, name))
        if (pod.get("spec") or {}).get("nodeName"):
            raise errors.conflict(pod_type, name, "pod %s is already assigned to node \"%s\""
                                  % (name, pod["spec"]["nodeName"]))
        pod["spec"]["nodeName"] = target
        sim.api.update(pod_type, ns, name, pod, ctx)
        return h.send_json(201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                 "code": 201})
    sim.api.delete(pod_type, ns, name, ctx, body.get("deleteOptions") or {})
    return h.send_json(201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                             "code": 201})

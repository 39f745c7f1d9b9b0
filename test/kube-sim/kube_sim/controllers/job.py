"""The batch/v1 Job controller, as kube-controller-manager's (pkg/controller/job)
behaves for the Jobs we make: NonIndexed, one completion, restartPolicy Never
or OnFailure. Pods are created from the template with generateName
"<job>-", the job's labels and a controller reference; finished Pods are
counted into status through the batch.kubernetes.io/job-tracking finalizer
(samples/job-*.json); failed Pods are replaced after an exponential back-off
(10 s doubling, --job-backoff sets the base) until backoffLimit, when the Job
fails with BackoffLimitExceeded; activeDeadlineSeconds fails it with
DeadlineExceeded. Also the TTL-after-finished controller."""
import calendar
import time

from . import Controller, emit_event
from .. import errors
from ..api import INTERNAL, clone, now_iso

TRACKING = "batch.kubernetes.io/job-tracking"


def parse_time(s):
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ")) if s else None


def finished(status):
    for c in status.get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return c
    return None


class JobController(Controller):
    name = "job"
    workers = 2

    def __init__(self, sim):
        self.job_type = sim.registry.get("batch", "v1", "jobs")
        self.pod_type = sim.registry.get("", "v1", "pods")
        self.pods_of = {}     # job uid -> set of pod names
        self.uid_of = {}      # (namespace, job name) -> uid, kept after the Job is gone
        self.backoff = float(sim.opts.get("job_backoff", 10.0))
        super().__init__(sim)

    def keys_for(self, skey, ev):
        if skey == ("batch", "jobs"):
            self.uid_of[(ev.ns, ev.name)] = ev.obj["metadata"]["uid"]
            return [(ev.ns, ev.name)]
        if skey == ("", "pods"):
            for r in (ev.obj["metadata"].get("ownerReferences") or []):
                if r.get("controller") and r.get("kind") == "Job" and r.get("apiVersion") == "batch/v1":
                    s = self.pods_of.setdefault(r["uid"], set())
                    if ev.type == "DELETED":
                        s.discard(ev.name)
                    else:
                        s.add(ev.name)
                    return [(ev.ns, r["name"])]
        return []

    def sync(self, key):
        ns, name = key
        job = self.sim.store.get(self.skey(self.job_type), ns, name)
        uid = job["metadata"]["uid"] if job is not None else self.uid_of.get(key)
        with self.sim.store.lock:
            names = list(self.pods_of.get(uid, ()))
            pods = [p for p in (self.sim.store.get(("", "pods"), ns, n) for n in names) if p is not None]
        pods = [p for p in pods if any(r.get("uid") == uid and r.get("controller")
                                       for r in p["metadata"].get("ownerReferences") or [])]
        if job is None or job["metadata"].get("deletionTimestamp"):
            # Pods of a deleted Job must not be held by our finalizer.
            for p in pods:
                if TRACKING in (p["metadata"].get("finalizers") or []):
                    self._drop_tracking(p)
            if job is None:
                self.pods_of.pop(uid, None)
            return None
        spec = job.get("spec") or {}
        status = clone(job.get("status") or {})
        status.setdefault("uncountedTerminatedPods", {})
        done = finished(status)
        counted = []
        for p in pods:
            if TRACKING not in (p["metadata"].get("finalizers") or []):
                continue
            phase = (p.get("status") or {}).get("phase")
            if phase == "Succeeded":
                status["succeeded"] = status.get("succeeded", 0) + 1
                counted.append(p)
            elif phase == "Failed" or (p["metadata"].get("deletionTimestamp") and phase != "Succeeded"):
                status["failed"] = status.get("failed", 0) + 1
                counted.append(p)
        active = [p for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
                  and not p["metadata"].get("deletionTimestamp")]
        now = time.time()
        again = None
        suspended = [c for c in status.get("conditions") or [] if c.get("type") == "Suspended"]
        if done is None and spec.get("suspend"):
            # A suspended Job deletes its active pods and says so (pkg/controller/job, 1.24).
            for p in active:
                self._delete_pod(job, p)
            active = []
            if not suspended or suspended[0].get("status") != "True":
                status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != "Suspended"]
                status["conditions"].append({"type": "Suspended", "status": "True", "reason": "JobSuspended",
                                             "message": "Job suspended", "lastProbeTime": now_iso(now),
                                             "lastTransitionTime": now_iso(now)})
                emit_event(self.sim, job, "Normal", "Suspended", "Job suspended", "job-controller")
        elif done is None and suspended and suspended[0].get("status") == "True":
            suspended[0].update({"status": "False", "reason": "JobResumed", "message": "Job resumed",
                                 "lastTransitionTime": now_iso(now)})
            status["startTime"] = now_iso(now)
        if done is None and not spec.get("suspend"):
            if not status.get("startTime"):
                status["startTime"] = now_iso(now)
            start = parse_time(status["startTime"])
            ads = spec.get("activeDeadlineSeconds")
            backoff_limit = spec.get("backoffLimit", 6)
            if ads and now - start >= ads:
                self._fail(job, status, active, "DeadlineExceeded", "Job was active longer than specified deadline")
                active = []
            elif status.get("failed", 0) > backoff_limit:
                self._fail(job, status, active, "BackoffLimitExceeded", "Job has reached the specified backoff limit")
                active = []
            elif status.get("succeeded", 0) >= spec.get("completions", 1):
                status["completionTime"] = now_iso(now)
                status.setdefault("conditions", []).append({"type": "Complete", "status": "True",
                                                            "lastProbeTime": now_iso(now),
                                                            "lastTransitionTime": now_iso(now)})
                emit_event(self.sim, job, "Normal", "Completed", "Job completed", "job-controller")
                for p in active:
                    self._delete_pod(job, p)
                active = []
            else:
                want = min(spec.get("parallelism", 1), spec.get("completions", 1) - status.get("succeeded", 0))
                need = want - len(active)
                if need > 0:
                    wait = self._backoff_left(status, pods, now)
                    if wait > 0:
                        again = wait
                    else:
                        for _ in range(need):
                            p = self._create_pod(job)
                            if p is not None:
                                active.append(p)
                if ads:
                    left = start + ads - now
                    again = left if again is None else min(again, left)
        if active:
            status["active"] = len(active)
        else:
            status.pop("active", None)
        if status != (job.get("status") or {}):
            new = clone(job)
            new["status"] = status
            self.api.update(self.job_type, ns, name, new, INTERNAL, "status")
        for p in counted:
            self._drop_tracking(p)
        done = finished(status)
        if done is not None and spec.get("ttlSecondsAfterFinished") is not None:
            ttl_left = parse_time(done.get("lastTransitionTime")) + spec["ttlSecondsAfterFinished"] - now
            if ttl_left <= 0:
                try:
                    self.api.delete(self.job_type, ns, name, INTERNAL,
                                    {"propagationPolicy": "Foreground", "preconditions": {"uid": uid}})
                except errors.ApiError as e:
                    if e.code not in (404, 409):
                        raise
                return None
            return ttl_left
        return again

    def _backoff_left(self, status, pods, now):
        failed = status.get("failed", 0)
        if not failed or self.backoff <= 0:
            return 0
        last = 0
        for p in pods:
            for cs in (p.get("status") or {}).get("containerStatuses") or []:
                t = (cs.get("state") or {}).get("terminated") or {}
                if t.get("finishedAt"):
                    last = max(last, parse_time(t["finishedAt"]))
        if not last:
            return 0
        delay = min(self.backoff * (2 ** (failed - 1)), 360.0)
        return max(0.0, last + delay - now)

    def _fail(self, job, status, active, reason, message):
        ts = now_iso()
        status.setdefault("conditions", []).append({"type": "Failed", "status": "True", "reason": reason,
                                                    "message": message, "lastProbeTime": ts,
                                                    "lastTransitionTime": ts})
        emit_event(self.sim, job, "Warning", reason, message, "job-controller")
        for p in active:
            self._delete_pod(job, p)

    def _create_pod(self, job):
        md = job["metadata"]
        tmpl = clone((job.get("spec") or {}).get("template") or {})
        tmd = tmpl.get("metadata") or {}
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"generateName": md["name"] + "-", "labels": tmd.get("labels") or {},
                            "finalizers": [TRACKING],
                            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": md["name"],
                                                 "uid": md["uid"], "controller": True,
                                                 "blockOwnerDeletion": True}]},
               "spec": tmpl.get("spec") or {}}
        if tmd.get("annotations"):
            pod["metadata"]["annotations"] = tmd["annotations"]
        try:
            p = self.api.create(self.pod_type, md["namespace"], pod, INTERNAL)
        except errors.ApiError as e:
            emit_event(self.sim, job, "Warning", "FailedCreate", "Error creating: %s" % e.message, "job-controller")
            raise
        emit_event(self.sim, job, "Normal", "SuccessfulCreate", "Created pod: %s" % p["metadata"]["name"],
                   "job-controller")
        return p

    def _delete_pod(self, job, p):
        try:
            self.api.delete(self.pod_type, p["metadata"]["namespace"], p["metadata"]["name"], INTERNAL)
            emit_event(self.sim, job, "Normal", "SuccessfulDelete", "Deleted pod: %s" % p["metadata"]["name"],
                       "job-controller")
        except errors.ApiError as e:
            if e.code != 404:
                raise

    def _drop_tracking(self, p):
        fins = [f for f in p["metadata"].get("finalizers") or [] if f != TRACKING]
        ops = [{"op": "test", "path": "/metadata/uid", "value": p["metadata"]["uid"]},
               {"op": "replace", "path": "/metadata/finalizers", "value": fins}]
        try:
            self.api.patch(self.pod_type, p["metadata"]["namespace"], p["metadata"]["name"],
                           "application/json-patch+json", ops, INTERNAL)
        except errors.ApiError as e:
            if e.code not in (404, 422):
                raise

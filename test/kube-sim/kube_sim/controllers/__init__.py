"""Built-in controllers, each switchable with --controllers (comma list, or
'all'): crd (establishes CustomResourceDefinitions), namespace (default service
account and root CA in new namespaces, content removal on delete), gc
(owner-reference garbage collection), job (batch/v1 Job controller with TTL),
kubelet (scheduler + kubelet, scripted or running real containers).

Controllers watch the store directly (a listener called on every commit) and
write through api.Api with an internal context, so their writes get the same
resourceVersions, validation and events as any client's.
"""
import heapq
import threading
import time

ALL = ["crd", "namespace", "gc", "job", "kubelet"]


class Queue:
    """A de-duplicating delay queue of keys, like client-go's workqueue: a key
    is never processed by two workers at once; one added while processing is
    processed again afterwards."""

    def __init__(self):
        self.cond = threading.Condition()
        self.ready = []
        self.queued = set()
        self.processing = set()
        self.dirty = set()
        self.delayed = []        # heap of (when, seq, key)
        self.seq = 0
        self.stopped = False

    def add(self, key, delay=0.0):
        with self.cond:
            if delay > 0:
                self.seq += 1
                heapq.heappush(self.delayed, (time.time() + delay, self.seq, key))
                self.cond.notify()
                return
            if key in self.processing:
                self.dirty.add(key)
                return
            if key not in self.queued:
                self.queued.add(key)
                self.ready.append(key)
                self.cond.notify()

    def get(self):
        with self.cond:
            while True:
                now = time.time()
                while self.delayed and self.delayed[0][0] <= now:
                    _, _, k = heapq.heappop(self.delayed)
                    if k in self.processing:
                        self.dirty.add(k)
                    elif k not in self.queued:
                        self.queued.add(k)
                        self.ready.append(k)
                if self.stopped:
                    return None
                if self.ready:
                    k = self.ready.pop(0)
                    self.queued.discard(k)
                    self.processing.add(k)
                    return k
                timeout = self.delayed[0][0] - now if self.delayed else None
                self.cond.wait(timeout)

    def done(self, key):
        with self.cond:
            self.processing.discard(key)
            if key in self.dirty:
                self.dirty.discard(key)
                self.queued.add(key)
                self.ready.append(key)
                self.cond.notify()

    def stop(self):
        with self.cond:
            self.stopped = True
            self.cond.notify_all()


class Controller:
    name = ""
    workers = 1

    def __init__(self, sim):
        self.sim = sim
        self.api = sim.api
        self.queue = Queue()
        sim.store.listeners.append(self._on_event)
        self.threads = [threading.Thread(target=self._run, daemon=True, name="%s-%d" % (self.name, i))
                        for i in range(self.workers)]
        for t in self.threads:
            t.start()

    def _on_event(self, skey, ev):
        # Runs under the store lock: only enqueue.
        for k in self.keys_for(skey, ev) or ():
            self.queue.add(k)

    def keys_for(self, skey, ev):
        return []

    def _run(self):
        while True:
            k = self.queue.get()
            if k is None:
                return
            if self.sim.down.is_set():
                self.queue.done(k)
                self.queue.add(k, 0.5)
                continue
            try:
                again = self.sync(k)
                if again:
                    self.queue.add(k, again)
            except Exception as e:  # a failed sync is retried, like a real controller's
                from .. import errors
                if not isinstance(e, errors.ApiError):
                    import traceback
                    traceback.print_exc()
                self.queue.add(k, 0.2)
            finally:
                self.queue.done(k)

    def sync(self, key):
        """Returns a delay in seconds to be called again, or None."""
        return None

    def type(self, group, version, plural):
        return self.sim.registry.get(group, version, plural)

    def skey(self, rtype):
        return self.sim.registry.storage_key(rtype)


_event_lock = threading.Lock()
_events = {}   # (involved uid, type, reason, message) -> event name


def emit_event(sim, obj, etype, reason, message, component):
    """Records a core/v1 Event about obj, counting repeats into one Event as
    client-go's recorder does."""
    from ..api import INTERNAL, now_iso
    from .. import errors
    md = obj["metadata"]
    ns = md.get("namespace") or "default"
    key = (md.get("uid"), etype, reason, message)
    evt = sim.registry.get("", "v1", "events")
    ts = now_iso()
    with _event_lock:
        existing = _events.get(key)
    if existing:
        try:
            cur = sim.api.get(evt, ns, existing)
            sim.api.patch(evt, ns, existing, "application/merge-patch+json",
                          {"count": cur.get("count", 1) + 1, "lastTimestamp": ts}, INTERNAL)
            return
        except errors.ApiError:
            pass
    ev = {"apiVersion": "v1", "kind": "Event",
          "metadata": {"name": "%s.%x" % (md["name"], int(time.time() * 1e9)), "namespace": ns},
          "involvedObject": {"kind": obj.get("kind"), "namespace": md.get("namespace"), "name": md["name"],
                             "uid": md.get("uid"), "apiVersion": obj.get("apiVersion"),
                             "resourceVersion": md.get("resourceVersion")},
          "reason": reason, "message": message, "type": etype, "source": {"component": component},
          "firstTimestamp": ts, "lastTimestamp": ts, "count": 1, "reportingComponent": component,
          "reportingInstance": ""}
    if not md.get("namespace"):
        del ev["involvedObject"]["namespace"]
    try:
        created = sim.api.create(evt, ns, ev, INTERNAL)
        with _event_lock:
            _events[key] = created["metadata"]["name"]
    except errors.ApiError:
        pass


def start_all(sim):
    from . import crd, gc, job, namespace
    from .. import kubelet
    wanted = sim.opts.get("controllers") or ALL
    classes = {"crd": crd.CRDController, "namespace": namespace.NamespaceController, "gc": gc.GarbageCollector,
               "job": job.JobController, "kubelet": kubelet.Kubelet}
    running = {}
    for name in ALL:
        if name in wanted:
            running[name] = classes[name](sim)
    bootstrap(sim)
    return running


def bootstrap(sim):
    """The objects every cluster starts with."""
    from ..api import INTERNAL
    from .. import errors
    nst = sim.registry.get("", "v1", "namespaces")
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        try:
            sim.api.create(nst, None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}, INTERNAL)
        except errors.ApiError as e:
            if e.code != 409:
                raise


def restore_types(sim, snap):
    """Before restoring a snapshot: serve the custom resources its CRDs define."""
    from . import crd
    objs = snap["data"].get("apiextensions.k8s.io|customresourcedefinitions", [])
    for o in objs:
        crd.register_types(sim, o, established_at=0)

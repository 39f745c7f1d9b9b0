"""Storage with etcd's semantics as the API server sees them.

- One global, strictly increasing resourceVersion for every write of any kind.
- Per resource a bounded history of events (the real watch cache window):
  a watch or an exact-RV list older than the window gets 410 Expired.
- Watchers receive events in RV order; each has its own queue, so a slow
  client never blocks writers (the real server drops such watchers; we let
  their queue grow up to a bound and then close them the same way).

Stored objects are never mutated after they are stored: writers hand in a new
dict, readers may keep references without copying.

Lists read a sorted snapshot of a resource at one resourceVersion (the keys in
etcd order and the objects, by reference). A snapshot is built once per version
and kept for the following pages of a paginated list, so a page costs what it
returns (a bisect to the continue key), not a sort of the whole collection.
"""
import bisect
import collections
import threading

from . import errors

WATCHER_QUEUE_MAX = 100000
SNAPSHOTS_MAX = 32     # sorted list snapshots kept (least recently used dropped)


class Event:
    __slots__ = ("type", "rv", "ns", "name", "obj", "old")

    def __init__(self, etype, rv, ns, name, obj, old):
        self.type = etype
        self.rv = rv
        self.ns = ns
        self.name = name
        self.obj = obj
        self.old = old


class WatchClosed(Exception):
    pass


class Watcher:
    """A queue of events for one watch request. push() runs under the store
    lock; next() runs in the request's thread."""

    def __init__(self, store, skey):
        self.store = store
        self.skey = skey
        self.cond = threading.Condition(threading.Lock())
        self.queue = collections.deque()
        self.closed = False
        self.error = None          # an ApiError to send as an ERROR event before closing

    def push(self, ev):
        with self.cond:
            if self.closed:
                return
            if len(self.queue) >= WATCHER_QUEUE_MAX:
                # The real watch cache terminates watchers that cannot keep up.
                self.closed = True
            else:
                self.queue.append(ev)
            self.cond.notify()

    def close(self, error=None):
        with self.cond:
            if error is not None and self.error is None:
                self.error = error
            self.closed = True
            self.cond.notify()

    def next(self, timeout):
        """The next event, None on timeout; raises WatchClosed when closed and drained
        (an error given to close() comes first, via .error)."""
        with self.cond:
            if not self.queue and not self.closed:
                self.cond.wait(timeout)
            if self.queue and self.error is None:
                return self.queue.popleft()
            if self.closed:
                raise WatchClosed()
            return None

    def idle(self):
        with self.cond:
            return not self.queue


class Store:
    def __init__(self, history=1000, start_rv=100):
        self.lock = threading.RLock()
        self.rv = start_rv
        self.history_size = history
        self.data = {}         # skey -> {(ns, name): obj}
        self.history = {}      # skey -> deque[Event]
        self.compacted = {}    # skey -> rv; events at or below it are gone
        self.watchers = {}     # skey -> set[Watcher]
        self.listeners = []    # callables(skey, Event) run after each commit (controllers)
        self.last_write = {}   # skey -> rv of its latest commit
        # (skey, rv) -> (sorted keys, objects): skey's state as of rv (see list_snapshot)
        self.snapshots = collections.OrderedDict()

    # -- resources ------------------------------------------------------------------

    def ensure(self, skey):
        """Storage for a resource. A resource's history starts when it is first
        served: the real watch cache of a new CRD knows nothing older."""
        with self.lock:
            if skey not in self.data:
                self.data[skey] = {}
                self.history[skey] = collections.deque()
                self.compacted[skey] = self.rv
                self.watchers[skey] = set()
                self._forget_snapshots(skey)

    def drop(self, skey):
        with self.lock:
            for w in list(self.watchers.get(skey, ())):
                w.close()
            for d in (self.data, self.history, self.compacted, self.watchers):
                d.pop(skey, None)
            self._forget_snapshots(skey)

    def _forget_snapshots(self, skey):
        """skey's objects changed other than by commit(): no snapshot of it is valid."""
        for k in [k for k in self.snapshots if k[0] == skey]:
            del self.snapshots[k]
        self.last_write[skey] = self.rv

    # -- reads ----------------------------------------------------------------------

    def get(self, skey, ns, name):
        with self.lock:
            return self.data.get(skey, {}).get((ns or "", name))

    def items(self, skey, ns=None):
        """Current objects sorted as etcd keys sort (namespace, then name)."""
        with self.lock:
            keys, objs, rv = self.list_snapshot(skey)
            lo, hi = key_range(keys, ns)
            return objs[lo:hi], rv

    def items_at(self, skey, rv, ns=None):
        """The objects as they were at resourceVersion rv. 410 if rv is older than
        the retained window."""
        keys, objs, _ = self.list_snapshot(skey, rv)
        lo, hi = key_range(keys, ns)
        return objs[lo:hi]

    def list_snapshot(self, skey, rv=None):
        """(keys, objects, rv): skey's keys ((namespace, name), sorted as etcd sorts
        them) and objects as of resourceVersion rv (None: now), which is returned.
        An older rv is rebuilt by undoing the history after it; 410 if it is older
        than the retained window, 504 if it is in the future. The lists are shared
        (snapshots are kept for the next pages): callers must not change them."""
        with self.lock:
            if rv is None:
                rv = self.rv
            else:
                if rv > self.rv:
                    raise errors.timeout("Too large resource version: %d, current: %d" % (rv, self.rv))
                if rv < self.compacted.get(skey, 0):
                    raise errors.gone_expired("The resourceVersion for the provided list is too old.")
            if skey not in self.data:
                return [], [], rv
            # The state as of rv is the state as of the latest write at or before it
            # (or, when that write is no longer in the history, as of the compaction):
            # keyed so, the pages of a list share one snapshot while writes go on.
            written = self.last_write.get(skey, 0)
            undo = []
            if written <= rv:
                at = written
            else:
                at = self.compacted.get(skey, 0)
                for ev in reversed(self.history[skey]):
                    if ev.rv <= rv:
                        at = ev.rv
                        break
                    undo.append(ev)
            ck = (skey, at)
            snap = self.snapshots.get(ck)
            if snap is not None:
                self.snapshots.move_to_end(ck)
                return snap[0], snap[1], rv
            state = self.data[skey]
            if undo:
                state = dict(state)
                for ev in undo:          # newest first
                    k = (ev.ns, ev.name)
                    if ev.old is None:
                        state.pop(k, None)
                    else:
                        state[k] = ev.old
            keys = sorted(state)
            objs = [state[k] for k in keys]
            self.snapshots[ck] = (keys, objs)
            while len(self.snapshots) > SNAPSHOTS_MAX:
                self.snapshots.popitem(last=False)
            return keys, objs, rv

    def all_skeys(self):
        with self.lock:
            return list(self.data)

    # -- writes ---------------------------------------------------------------------

    def commit(self, skey, ns, name, obj, etype):
        """Stores obj (ADDED/MODIFIED) or removes the key (DELETED, obj = the final
        state). Assigns the next resourceVersion and returns the stored object."""
        with self.lock:
            self.rv += 1
            rv = self.rv
            obj = dict(obj)
            obj["metadata"] = dict(obj.get("metadata") or {})
            obj["metadata"]["resourceVersion"] = str(rv)
            objs = self.data[skey]
            key = (ns or "", name)
            old = objs.get(key)
            self.last_write[skey] = rv
            if etype == "DELETED":
                objs.pop(key, None)
            else:
                objs[key] = obj
            ev = Event(etype, rv, key[0], name, obj, old)
            hist = self.history[skey]
            hist.append(ev)
            while len(hist) > self.history_size:
                self.compacted[skey] = hist.popleft().rv
            for w in list(self.watchers[skey]):
                w.push(ev)
            for fn in self.listeners:
                fn(skey, ev)
            return obj

    # -- watches --------------------------------------------------------------------

    def watch(self, skey, since_rv, initial=None):
        """Registers a watcher. since_rv=None starts from now, after the optional
        `initial` events (synthetic ADDED for the current state). Otherwise
        replays retained history after since_rv; 410 if it is gone."""
        with self.lock:
            w = Watcher(self, skey)
            if since_rv is not None:
                if since_rv > self.rv:
                    raise errors.timeout("Too large resource version: %d, current: %d" % (since_rv, self.rv))
                if since_rv < self.compacted[skey]:
                    # The real server answers 200 and then this ERROR event
                    # (conformance: "watch rv=1").
                    w.close(errors.gone_expired("too old resource version: %d (%d)"
                                                % (since_rv, self.compacted[skey] + 1)))
                    return w
                for ev in self.history[skey]:
                    if ev.rv > since_rv:
                        w.push(ev)
            else:
                for ev in initial or ():
                    w.push(ev)
            self.watchers[skey].add(w)
            return w

    def unwatch(self, w):
        with self.lock:
            self.watchers.get(w.skey, set()).discard(w)

    def bookmark_rv(self, w):
        """The resourceVersion a BOOKMARK may carry for w: everything up to it has
        been delivered, or None if w still has queued events."""
        with self.lock:
            return self.rv if w.idle() else None

    # -- fault injection ------------------------------------------------------------

    def close_all_watches(self):
        with self.lock:
            for ws in self.watchers.values():
                for w in list(ws):
                    w.close()

    def compact(self):
        """Forget all history: every watch resumed or list made at an older
        resourceVersion gets 410, as after an etcd compaction."""
        with self.lock:
            for skey in self.history:
                self.history[skey].clear()
                self.compacted[skey] = self.rv

    def restart_watch_cache(self):
        """What an API server restart does to watches: every open one ends, and the new
        watch cache starts at the current resourceVersion, so a watch resumed from an
        older one gets 410 (one resumed from exactly this one goes on). Objects stay."""
        with self.lock:
            self.close_all_watches()
            self.compact()

    def reset(self):
        """Forget every object, as a cluster on a fresh etcd; resourceVersions go on
        increasing (clients may still hold older ones)."""
        with self.lock:
            self.close_all_watches()
            for skey in self.data:
                self.data[skey] = {}
                self._forget_snapshots(skey)
            self.compact()

    def expire_all_watches(self):
        """End every open watch with an ERROR 410 event, as the real server does
        for a watcher whose position fell out of the watch cache window."""
        with self.lock:
            for skey, ws in self.watchers.items():
                for w in list(ws):
                    w.close(errors.gone_expired("too old resource version: %d (%d)"
                                                % (self.compacted[skey], self.rv + 1)))

    # -- persistence ----------------------------------------------------------------

    def snapshot(self):
        with self.lock:
            return {"rv": self.rv,
                    "data": {"%s|%s" % skey: [obj for _, obj in sorted(objs.items())]
                             for skey, objs in self.data.items()}}

    def restore(self, snap):
        with self.lock:
            self.rv = snap["rv"]
            for k, objs in snap["data"].items():
                group, plural = k.split("|", 1)
                skey = (group, plural)
                self.ensure(skey)
                # History is lost across a restart, like a watch cache after an
                # apiserver restart: resuming at an older RV gets 410.
                self.compacted[skey] = self.rv
                for obj in objs:
                    md = obj["metadata"]
                    self.data[skey][(md.get("namespace", ""), md["name"])] = obj
                self._forget_snapshots(skey)


def key_range(keys, ns=None):
    """The slice of sorted (namespace, name) keys in namespace ns (None: all)."""
    if ns is None:
        return 0, len(keys)
    lo = bisect.bisect_left(keys, (ns,))
    # Every namespace sorting after ns sorts at or after ns + NUL.
    return lo, bisect.bisect_left(keys, (ns + "\0",), lo)

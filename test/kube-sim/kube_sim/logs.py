"""Container logs kept by the kubelet and served through pods/log. Each
container's log is a list of (timestamp, line) plus a closed flag set when the
container terminates, so `follow=true` readers know when to stop."""
import threading
import time


class LogStore:
    def __init__(self):
        self.cond = threading.Condition()
        self.logs = {}   # (ns, pod, container) -> {"lines": [(ts, bytes)], "closed": bool}

    def open(self, ns, pod, container):
        with self.cond:
            self.logs.setdefault((ns, pod, container), {"lines": [], "closed": False})["closed"] = False
            self.cond.notify_all()

    def append(self, ns, pod, container, line):
        if isinstance(line, str):
            line = line.encode()
        if not line.endswith(b"\n"):
            line += b"\n"
        with self.cond:
            entry = self.logs.setdefault((ns, pod, container), {"lines": [], "closed": False})
            entry["lines"].append((time.time(), line))
            self.cond.notify_all()

    def close(self, ns, pod, container):
        with self.cond:
            self.logs.setdefault((ns, pod, container), {"lines": [], "closed": False})["closed"] = True
            self.cond.notify_all()

    def drop_pod(self, ns, pod):
        with self.cond:
            for k in [k for k in self.logs if k[0] == ns and k[1] == pod]:
                self.logs[k]["closed"] = True
                del self.logs[k]
            self.cond.notify_all()

    def snapshot(self, ns, pod, container):
        with self.cond:
            e = self.logs.get((ns, pod, container))
            return (list(e["lines"]), e["closed"]) if e else ([], False)

    def text(self, ns, pod, container):
        lines, _ = self.snapshot(ns, pod, container)
        return b"".join(l for _, l in lines)

    def wait_more(self, ns, pod, container, seen, timeout):
        """Lines after the first `seen`, waiting up to timeout; (lines, closed)."""
        with self.cond:
            deadline = time.time() + timeout
            while True:
                e = self.logs.get((ns, pod, container))
                if e is None:
                    return [], True
                if len(e["lines"]) > seen or e["closed"]:
                    return list(e["lines"][seen:]), e["closed"]
                left = deadline - time.time()
                if left <= 0:
                    return [], False
                self.cond.wait(left)

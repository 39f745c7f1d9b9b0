"""Fault injection for chaos tests: make requests that match a verb and a
resource fail with a given code, slow requests down, slow watch delivery.

A rule (JSON, POST /kube-sim/faults or --fault on the command line):
  {"verb": "create|update|patch|delete|get|list|watch|write|*", "resource": "jobs|s2iruns|*",
   "code": 409|429|500|503|504, "count": N (how many requests fail; 0 = unlimited),
   "probability": 0.05 (of each matching request), "retryAfter": 1, "latencyMs": 50,
   "userAgent": "s2i-operator" (prefix; default any)}
"write" matches create, update, patch and delete.
"""
import random
import threading
import time

from . import errors

WRITES = {"create", "update", "patch", "delete"}


def request_verb_resource(req):
    parts = [p for p in req.path.split("/") if p]
    method_verb = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
    verb = method_verb.get(req.method, req.method.lower())
    resource = ""
    if parts[:1] in (["api"], ["apis"]):
        rest = parts[2:] if parts[0] == "api" else parts[3:]
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
            rest = rest[2:]
        if rest:
            resource = rest[0]
            if verb == "get" and len(rest) == 1:
                verb = "watch" if req.qbool("watch") else "list"
    return verb, resource


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []
        self.watch_delay_ms = 0

    def add(self, rule):
        rule = dict(rule)
        rule.setdefault("verb", "*")
        rule.setdefault("resource", "*")
        rule.setdefault("count", 0)
        rule.setdefault("probability", 1.0)
        rule["_left"] = rule["count"] if rule["count"] else None
        with self.lock:
            if "watchDelayMs" in rule:
                self.watch_delay_ms = rule["watchDelayMs"]
            self.rules.append(rule)

    def clear(self):
        with self.lock:
            self.rules = []
            self.watch_delay_ms = 0

    def describe(self):
        with self.lock:
            return [{k: v for k, v in r.items() if not k.startswith("_")} for r in self.rules]

    def _matches(self, rule, verb, resource, ua):
        if rule["verb"] not in ("*", verb) and not (rule["verb"] == "write" and verb in WRITES):
            return False
        if rule["resource"] not in ("*", resource):
            return False
        if rule.get("userAgent") and not ua.startswith(rule["userAgent"]):
            return False
        return True

    def before(self, req):
        """Called for every API request before it is served: sleeps and/or raises."""
        verb, resource = request_verb_resource(req)
        ua = req.headers.get("User-Agent", "")
        fail = None
        delay = 0.0
        with self.lock:
            for r in self.rules:
                if not self._matches(r, verb, resource, ua):
                    continue
                if r.get("latencyMs"):
                    delay = max(delay, r["latencyMs"] / 1000.0)
                if r.get("code") and fail is None and random.random() < r["probability"]:
                    if r["_left"] is not None:
                        if r["_left"] <= 0:
                            continue
                        r["_left"] -= 1
                    fail = r
        if delay:
            time.sleep(delay)
        if fail is not None:
            raise make_error(fail["code"], fail.get("retryAfter", 1))

    def watch_delay(self):
        if self.watch_delay_ms:
            time.sleep(self.watch_delay_ms / 1000.0)


def make_error(code, retry_after):
    code = int(code)
    if code == 409:
        return errors.ApiError(409, "Conflict", "Operation cannot be fulfilled: the object has been modified; "
                               "please apply your changes to the latest version and try again (injected)", {})
    if code == 429:
        return errors.too_many_requests(retry_after)
    if code == 503:
        return errors.service_unavailable()
    if code == 504:
        return errors.timeout()
    if code == 410:
        return errors.gone_expired("too old resource version (injected)")
    return errors.internal("injected failure")

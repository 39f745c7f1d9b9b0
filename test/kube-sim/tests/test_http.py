"""kube-sim over raw HTTP: status codes and bodies as a real API server sends
them, watch semantics, pagination, and fault injection."""
import json
import os
import threading
import time

from .simutil import SimTestCase, wait_for

SAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "shared", "conformance", "samples")
CM = "/api/v1/namespaces/default/configmaps"


def cm(name, labels=None, data=None):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels or {}},
            "data": data or {"k": "v"}}


def sample(name):
    for base in (SAMPLES, "/work/shared/conformance/samples"):
        p = os.path.join(base, name)
        if os.path.exists(p):
            with open(p) as f:
                return json.load(f)
    return None


class HttpTest(SimTestCase):
    def test_unauthenticated_requests_get_401_but_version_is_public(self):
        code, body, _ = self.sim.request("GET", "/api/v1/namespaces", token=None)
        self.assertEqual(code, 401)
        self.assertEqual((body["kind"], body["reason"], body["code"]), ("Status", "Unauthorized", 401))
        code, _, _ = self.sim.request("GET", "/api/v1/namespaces", token="wrong")
        self.assertEqual(code, 401)
        code, body, _ = self.sim.request("GET", "/version", token=None)
        self.assertEqual((code, body["major"]), (200, "1"))

    def test_discovery_matches_the_real_server_for_the_kinds_we_use(self):
        for path, name in (("/apis/batch/v1", "apis-batch-v1.json"),
                           ("/apis/coordination.k8s.io/v1", "apis-coordination-v1.json")):
            real = sample(name)
            if real is None:
                self.skipTest("conformance samples not found")
            code, ours, _ = self.sim.request("GET", path)
            self.assertEqual(code, 200)
            want = {r["name"]: (r["kind"], r["namespaced"], sorted(r["verbs"])) for r in real["resources"]
                    if r["name"].split("/")[0] in ("jobs", "leases")}
            got = {r["name"]: (r["kind"], r["namespaced"], sorted(r["verbs"])) for r in ours["resources"]
                   if r["name"] in want}
            self.assertEqual(got, want)
        code, apis, _ = self.sim.request("GET", "/apis")
        names = [g["name"] for g in apis["groups"]]
        for g in ("apps", "batch", "coordination.k8s.io", "apiextensions.k8s.io", "rbac.authorization.k8s.io",
                  "admissionregistration.k8s.io", "events.k8s.io"):
            self.assertIn(g, names)

    def test_errors_carry_reason_code_and_details(self):
        self.sim.request("POST", CM, cm("dup"))
        code, body, _ = self.sim.request("POST", CM, cm("dup"))
        self.assertEqual((code, body["reason"]), (409, "AlreadyExists"))
        self.assertEqual(body["message"], 'configmaps "dup" already exists')
        self.assertEqual(body["details"], {"name": "dup", "kind": "configmaps"})
        code, body, _ = self.sim.request("GET", CM + "/nope")
        self.assertEqual((code, body["reason"], body["message"]), (404, "NotFound", 'configmaps "nope" not found'))
        code, body, _ = self.sim.request("POST", CM, b"{not json", raw=False)
        self.assertEqual(code, 400)
        code, body, _ = self.sim.request("POST", CM, cm("Bad_Name"))
        self.assertEqual((code, body["reason"]), (422, "Invalid"))
        self.assertEqual(body["details"]["causes"][0]["field"], "metadata.name")
        code, body, _ = self.sim.request("POST", "/api/v1/namespaces/nowhere/configmaps", cm("x"))
        self.assertEqual((code, body["message"]), (404, 'namespaces "nowhere" not found'))

    def test_wrong_json_types_in_built_ins_are_decode_errors(self):
        leases = "/apis/coordination.k8s.io/v1/namespaces/default/leases"
        lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"}}
        for spec, field in (("garbage", "Lease.spec"), ({"holderIdentity": 42}, "Lease.spec.holderIdentity"),
                            ({"renewTime": "yesterday"}, "Lease.spec.renewTime"),
                            ({"leaseDurationSeconds": 99999999999}, "Lease.spec.leaseDurationSeconds")):
            code, body, _ = self.sim.request("POST", leases, dict(lease, spec=spec))
            self.assertEqual((code, body["reason"]), (400, "BadRequest"), spec)
            self.assertIn("cannot be handled as a Lease", body["message"])
            self.assertIn(field, body["message"])
        code, body, _ = self.sim.request("POST", leases, dict(lease, spec={"leaseTransitions": -1}))
        self.assertEqual((code, body["details"]["causes"][0]["message"]),
                         (422, "Invalid value: -1: must be greater than or equal to 0"))
        code, _, _ = self.sim.request("POST", leases, dict(lease, spec={
            "holderIdentity": "a", "leaseDurationSeconds": 15, "renewTime": "2026-11-26T06:33:38.123456Z"}))
        self.assertEqual(code, 201)

    def test_resource_version_is_global_and_noop_updates_are_not_written(self):
        _, a, _ = self.sim.request("POST", CM, cm("rv-a"))
        _, b, _ = self.sim.request("POST", "/api/v1/namespaces/default/secrets",
                                   {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "rv-b"}})
        self.assertGreater(int(b["metadata"]["resourceVersion"]), int(a["metadata"]["resourceVersion"]))
        code, same, _ = self.sim.request("PUT", CM + "/rv-a", a)
        self.assertEqual(code, 200)
        self.assertEqual(same["metadata"]["resourceVersion"], a["metadata"]["resourceVersion"])

    def test_pagination_is_consistent_and_expires_with_410(self):
        for i in range(7):
            self.sim.request("POST", CM, cm("page-%d" % i, {"paged": "yes"}))
        code, p1, _ = self.sim.request("GET", CM + "?limit=3")
        self.assertEqual(len(p1["items"]), 3)
        self.assertIn("remainingItemCount", p1["metadata"])
        self.sim.request("POST", CM, cm("page-zz-late"))     # created after the first page: not in this list
        names = [i["metadata"]["name"] for i in p1["items"]]
        cont = p1["metadata"]["continue"]
        while cont:
            _, p, _ = self.sim.request("GET", CM + "?limit=3&continue=" + cont)
            names += [i["metadata"]["name"] for i in p["items"]]
            cont = p["metadata"].get("continue")
        self.assertNotIn("page-zz-late", names)
        self.assertEqual(names, sorted(names))
        _, p1, _ = self.sim.request("GET", CM + "?limit=2&labelSelector=paged%3Dyes")
        self.assertNotIn("remainingItemCount", p1["metadata"])
        self.sim.request("POST", CM, cm("page-after"))       # etcd keeps the revision it compacted at
        self.sim.admin("POST", "compact")
        code, body, _ = self.sim.request("GET", CM + "?limit=2&continue=" + p1["metadata"]["continue"])
        self.assertEqual((code, body["reason"]), (410, "Expired"))

    def test_list_at_exact_old_version_after_compaction_is_410(self):
        _, lst, _ = self.sim.request("GET", CM)
        rv = lst["metadata"]["resourceVersion"]
        self.sim.request("POST", CM, cm("after-list"))
        code, old, _ = self.sim.request("GET", CM + "?resourceVersion=%s&resourceVersionMatch=Exact" % rv)
        self.assertEqual(code, 200)
        self.assertNotIn("after-list", [i["metadata"]["name"] for i in old["items"]])
        self.sim.admin("POST", "compact")
        code, body, _ = self.sim.request("GET", CM + "?resourceVersion=%s&resourceVersionMatch=Exact" % rv)
        self.assertEqual(code, 410)
        self.assertEqual(body, sample("list-exact-old-rv-410.json") or body)

    def test_watch_resumes_from_resource_version_and_sends_bookmarks(self):
        _, lst, _ = self.sim.request("GET", CM)
        rv = lst["metadata"]["resourceVersion"]
        self.sim.request("POST", CM, cm("w-1", {"w": "1"}))
        self.sim.request("PATCH", CM + "/w-1", {"metadata": {"labels": {"w": "2"}}}, "application/merge-patch+json")
        evs = self.sim.watch(CM + "?watch=1&allowWatchBookmarks=true&timeoutSeconds=3&resourceVersion=" + rv, 3)
        types = [(e["type"], e["object"]["metadata"].get("name")) for e in evs if e["type"] != "BOOKMARK"]
        self.assertEqual(types[:2], [("ADDED", "w-1"), ("MODIFIED", "w-1")])
        marks = [e for e in evs if e["type"] == "BOOKMARK"]
        self.assertTrue(marks, "no BOOKMARK in a 3 s watch with a 1 s bookmark interval")
        self.assertGreaterEqual(int(marks[-1]["object"]["metadata"]["resourceVersion"]),
                                int(evs[1]["object"]["metadata"]["resourceVersion"]))

    def test_watch_with_selector_sees_objects_leave_and_enter(self):
        def change():
            time.sleep(0.5)
            self.sim.request("POST", CM, cm("sel-1", {"team": "a"}))
            self.sim.request("PATCH", CM + "/sel-1", {"metadata": {"labels": {"team": "b"}}},
                             "application/merge-patch+json")
            self.sim.request("PATCH", CM + "/sel-1", {"metadata": {"labels": {"team": "a"}}},
                             "application/merge-patch+json")
        t = threading.Thread(target=change)
        t.start()
        evs = self.sim.watch(CM + "?watch=1&timeoutSeconds=3&labelSelector=team%3Da", 3)
        t.join()
        self.assertEqual([e["type"] for e in evs if e["object"]["metadata"].get("name") == "sel-1"],
                         ["ADDED", "DELETED", "ADDED"])

    def test_watch_from_a_compacted_version_ends_with_410_error_event(self):
        self.sim.admin("POST", "compact")
        evs = self.sim.watch(CM + "?watch=1&timeoutSeconds=2&resourceVersion=1", 2)
        self.assertEqual(len(evs), 1)
        self.assertEqual(evs[0]["type"], "ERROR")
        self.assertEqual((evs[0]["object"]["code"], evs[0]["object"]["reason"]), (410, "Expired"))
        self.assertTrue(evs[0]["object"]["message"].startswith("too old resource version: 1 ("))

    def test_injected_faults_hit_matching_requests_only(self):
        self.sim.admin("POST", "faults", {"verb": "create", "resource": "configmaps", "code": 429, "count": 1,
                                          "retryAfter": 2})
        code, body, headers = self.sim.request("GET", CM)
        self.assertEqual(code, 200)
        code, body, headers = self.sim.request("POST", CM, cm("fault-1"))
        self.assertEqual((code, body["reason"], headers.get("Retry-After")), (429, "TooManyRequests", "2"))
        code, _, _ = self.sim.request("POST", CM, cm("fault-1"))
        self.assertEqual(code, 201)
        self.sim.admin("POST", "faults", {"verb": "write", "resource": "configmaps", "code": 500, "count": 1})
        code, body, _ = self.sim.request("DELETE", CM + "/fault-1")
        self.assertEqual((code, body["reason"]), (500, "InternalError"))
        self.sim.admin("DELETE", "faults")
        code, _, _ = self.sim.request("DELETE", CM + "/fault-1")
        self.assertEqual(code, 200)

    def test_closing_watches_ends_open_streams(self):
        started = threading.Event()

        def close_soon():
            started.wait(5)
            time.sleep(0.5)
            self.sim.admin("POST", "close-watches")
        t = threading.Thread(target=close_soon)
        t.start()
        t0 = time.time()
        self.sim.watch(CM + "?watch=1&timeoutSeconds=30", 30, on_open=started.set)
        t.join()
        self.assertLess(time.time() - t0, 10)

    def test_objects_over_the_size_limit_are_rejected(self):
        code, body, _ = self.sim.request("POST", CM, cm("huge", data={"k": "x" * (4 * 1024 * 1024)}))
        self.assertIn(code, (413, 422))

    def test_events_are_served_in_both_api_groups(self):
        ev = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e1"},
              "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "s2i-operator",
              "reportingInstance": "x", "action": "Build", "reason": "Started", "type": "Normal",
              "note": "run started", "regarding": {"kind": "Pod", "name": "p", "namespace": "default"}}
        code, _, _ = self.sim.request("POST", "/apis/events.k8s.io/v1/namespaces/default/events", ev)
        self.assertEqual(code, 201)
        code, core, _ = self.sim.request("GET", "/api/v1/namespaces/default/events/e1")
        self.assertEqual((core["message"], core["involvedObject"]["name"]), ("run started", "p"))
        code, lst, _ = self.sim.request(
            "GET", "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dp")
        self.assertEqual([e["metadata"]["name"] for e in lst["items"]], ["e1"])


class RestartTest(SimTestCase):
    def test_restart_keeps_state_but_not_watch_history(self):
        _, obj, _ = self.sim.request("POST", CM, cm("survivor"))
        rv = obj["metadata"]["resourceVersion"]
        self.sim.request("POST", CM, cm("survivor-2"))   # the restarted cache starts after rv
        self.sim.admin("POST", "restart", {"downSeconds": 1, "keepState": True})
        time.sleep(0.3)
        with self.assertRaises(OSError):
            self.sim.request("GET", CM, timeout=2)
        wait_for(lambda: self.sim.request("GET", CM + "/survivor", timeout=2)[0] == 200 if _up(self.sim) else False,
                 what="server back")
        evs = self.sim.watch(CM + "?watch=1&timeoutSeconds=1&resourceVersion=" + rv, 1)
        self.assertEqual(evs[0]["type"], "ERROR")
        _, lst, _ = self.sim.request("GET", CM)
        self.assertGreaterEqual(int(lst["metadata"]["resourceVersion"]), int(rv))


def _up(sim):
    try:
        sim.request("GET", "/version", timeout=1)
        return True
    except OSError:
        return False

"""POST /kube-sim/restart as a real API server restart looks to its clients: in-flight
requests and watches are cut, the port refuses connections for a while, and then
everything acknowledged before is still there (etcd is durable) -- including what the
kubelet and the job controller did meanwhile -- while watches resume from the
restart's resourceVersion or get 410 for older ones (the new watch cache's window)."""
import http.client
import json
import threading
import time
import urllib.request

from .simutil import SimTestCase, wait_for

CM = "/api/v1/namespaces/default/configmaps"
JOBS = "/apis/batch/v1/namespaces/default/jobs"


def cm(name):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}}


def up(sim):
    try:
        return sim.request("GET", "/version", timeout=1)[0] == 200
    except OSError:
        return False


def current_rv(sim):
    return int(sim.admin("GET", "stats")[1]["resourceVersion"])


class Watch:
    """A watch read in a thread: .events as they arrive, .ended when the stream ends
    (cleanly or by a reset connection)."""

    def __init__(self, sim, path):
        self.events = []
        self.ended = threading.Event()
        self.opened = threading.Event()
        req = urllib.request.Request(sim.url + path, headers={"Authorization": "Bearer " + sim.token})

        def run():
            try:
                with urllib.request.urlopen(req, context=sim.ssl, timeout=60) as r:
                    self.opened.set()
                    for line in r:
                        if line.strip():
                            self.events.append(json.loads(line))
            except (OSError, http.client.HTTPException, ValueError):
                pass
            finally:
                self.opened.set()
                self.ended.set()
        threading.Thread(target=run, daemon=True).start()
        self.opened.wait(10)

    def names(self, etype="ADDED"):
        return [e["object"]["metadata"].get("name") for e in self.events if e["type"] == etype]


class RestartKeepsWritesTest(SimTestCase):
    def test_every_acknowledged_create_survives_a_restart_mid_burst(self):
        host, port = self.sim.url.split("//")[1].split(":")
        acked = {}                   # name -> resourceVersion of the 201
        failed = []
        lock = threading.Lock()
        back = threading.Event()
        after_restart = []           # sent once the server was back

        def creator(t):
            conn = None
            deadline = time.time() + 30
            i = 0
            while time.time() < deadline and (not back.is_set() or len(after_restart) < 200):
                name = "burst-%d-%04d" % (t, i)
                i += 1
                sent_after = back.is_set()
                try:
                    if conn is None:
                        conn = http.client.HTTPSConnection(host, int(port), context=self.sim.ssl, timeout=10)
                    conn.request("POST", CM, json.dumps(cm(name)), {"Authorization": "Bearer " + self.sim.token,
                                                                    "Content-Type": "application/json"})
                    r = conn.getresponse()
                    body = json.loads(r.read())
                except (OSError, http.client.HTTPException):
                    # Refused, reset, or cut mid-answer: not acknowledged, may or may not exist.
                    if conn is not None:
                        conn.close()
                    conn = None
                    time.sleep(0.02)
                    continue
                with lock:
                    if r.status == 201:
                        acked[name] = int(body["metadata"]["resourceVersion"])
                        if sent_after:
                            after_restart.append(name)
                    else:
                        failed.append((name, r.status, body))
            if conn is not None:
                conn.close()
        threads = [threading.Thread(target=creator, args=(t,)) for t in range(8)]
        for t in threads:
            t.start()
        wait_for(lambda: len(acked) >= 150, what="creates before the restart")
        code, _, _ = self.sim.admin("POST", "restart", {"downSeconds": 1.5, "keepState": True})
        self.assertEqual(code, 200)
        wait_for(lambda: not up(self.sim), what="server down")
        with lock:
            before = dict(acked)     # acknowledged before the server stopped
        wait_for(lambda: up(self.sim), what="server back")
        back.set()
        for t in threads:
            t.join(60)
        self.assertEqual(failed, [])
        self.assertGreaterEqual(len(after_restart), 200, "creates after the restart")
        code, lst, _ = self.sim.request("GET", CM)
        self.assertEqual(code, 200)
        stored = {o["metadata"]["name"]: int(o["metadata"]["resourceVersion"]) for o in lst["items"]}
        lost = sorted(set(acked) - set(stored))
        self.assertEqual(lost, [], "%d of %d acknowledged creates lost" % (len(lost), len(acked)))
        self.assertEqual({n: stored[n] for n in acked}, acked)
        # resourceVersions keep increasing across the restart.
        self.assertGreater(min(acked[n] for n in after_restart), max(before.values()))

    def test_a_running_jobs_pod_finishes_after_a_restart(self):
        def job(name, seconds):
            return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
                    "spec": {"backoffLimit": 0, "template": {
                        "metadata": {"annotations": {"kube-sim/script": json.dumps({"*": {"duration": seconds}})}},
                        "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "x.invalid/y"}]}}}}
        # One pod ends while the server is down (its kubelet reports it then), one after.
        for name, seconds in (("ends-while-down", 1.0), ("ends-after", 4.0)):
            code, body, _ = self.sim.request("POST", JOBS, job(name, seconds))
            self.assertEqual(code, 201, body)

        def running():
            _, pods, _ = self.sim.request("GET", "/api/v1/namespaces/default/pods?labelSelector=job-name")
            return sum(1 for p in pods["items"] if (p.get("status") or {}).get("phase") == "Running") == 2
        wait_for(running, what="both pods running")
        self.sim.admin("POST", "restart", {"downSeconds": 2, "keepState": True})
        time.sleep(0.3)
        self.assertFalse(up(self.sim), "the server answers while it is down")
        wait_for(lambda: up(self.sim), what="server back")

        def complete(name):
            code, j, _ = self.sim.request("GET", JOBS + "/" + name)
            conds = [c["type"] for c in (j.get("status") or {}).get("conditions") or [] if c["status"] == "True"]
            return code == 200 and "Complete" in conds and j["status"].get("succeeded") == 1
        for name in ("ends-while-down", "ends-after"):
            wait_for(lambda: complete(name), timeout=20, what="job %s complete" % name)
            _, pods, _ = self.sim.request("GET", "/api/v1/namespaces/default/pods?labelSelector=job-name%3D" + name)
            self.assertEqual([p["status"]["phase"] for p in pods["items"]], ["Succeeded"])
            # The job-tracking finalizer was removed: the pod is counted once, not held.
            self.assertFalse(pods["items"][0]["metadata"].get("finalizers"))


class RestartWatchesTest(SimTestCase):
    # No controllers: nothing writes unless the test does, so the restart's
    # resourceVersion is the last one a client saw.
    SIM_ARGS = SimTestCase.SIM_ARGS + ("--controllers", "crd")

    def test_watches_are_closed_and_resume_from_the_last_resource_version(self):
        _, old, _ = self.sim.request("POST", CM, cm("w-old"))
        w = Watch(self.sim, CM + "?watch=1&timeoutSeconds=60&resourceVersion=" + old["metadata"]["resourceVersion"])
        _, last, _ = self.sim.request("POST", CM, cm("w-last"))
        wait_for(lambda: "w-last" in w.names(), what="watch event")
        last_rv = last["metadata"]["resourceVersion"]
        self.sim.admin("POST", "restart", {"downSeconds": 1, "keepState": True})
        self.assertTrue(w.ended.wait(5), "the watch outlived the restart")
        wait_for(lambda: up(self.sim), what="server back")
        self.assertEqual(current_rv(self.sim), int(last_rv))
        _, after, _ = self.sim.request("POST", CM, cm("w-after"))
        # Resumed from the last resourceVersion seen: the events after it, nothing older.
        w2 = Watch(self.sim, CM + "?watch=1&timeoutSeconds=2&resourceVersion=" + last_rv)
        self.assertTrue(w2.ended.wait(10))
        self.assertEqual([(e["type"], e["object"]["metadata"]["name"]) for e in w2.events], [("ADDED", "w-after")])
        self.assertEqual(w2.events[0]["object"]["metadata"]["resourceVersion"], after["metadata"]["resourceVersion"])
        # Older than the restarted watch cache's window: 410, then a relist has everything.
        w3 = Watch(self.sim, CM + "?watch=1&timeoutSeconds=2&resourceVersion=" + old["metadata"]["resourceVersion"])
        self.assertTrue(w3.ended.wait(10))
        self.assertEqual([(e["type"], e["object"].get("code")) for e in w3.events], [("ERROR", 410)])
        _, lst, _ = self.sim.request("GET", CM)
        self.assertTrue({"w-old", "w-last", "w-after"} <= {o["metadata"]["name"] for o in lst["items"]})
        self.assertEqual(lst["metadata"]["resourceVersion"], after["metadata"]["resourceVersion"])

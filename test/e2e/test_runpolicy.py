"""Run policy: pending deadlines, Serial and SerialLatestOnly builders, cluster and
namespace build limits with fair queueing, and a queue that survives a restart."""
import json
import threading
import time
import urllib.request

from .e2eutil import E2ETestCase, wait_for


class JobWatch:
    """Records the Jobs created, in the API server's order (creation resourceVersion)."""

    def __init__(self, sim):
        self.sim = sim
        self.jobs = []          # (rv, namespace, run name)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        req = urllib.request.Request(self.sim.url + "/apis/batch/v1/jobs?watch=1&timeoutSeconds=300",
                                     headers={"Authorization": "Bearer " + self.sim.token})
        with urllib.request.urlopen(req, context=self.sim.ssl, timeout=310) as r:
            for line in r:
                if self.stop.is_set():
                    return
                ev = json.loads(line)
                if ev["type"] == "ADDED":
                    md = ev["object"]["metadata"]
                    run = md["ownerReferences"][0]["name"]
                    self.jobs.append((int(md["resourceVersion"]), md["namespace"], run))


class RunPolicyTest(E2ETestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.set_scripts({
            "e2e.local/builder-ok:1": {"exitCode": 0, "duration": 0.3},
            "e2e.local/builder-slow:1": {"exitCode": 0, "duration": 1.5},
            "e2e.local/builder-slower:1": {"exitCode": 0, "duration": 5},
            "e2e.local/builder-missing:1": {"imagePullError": "ErrImagePull"},
        })
        cls.start_operator("--max-concurrent-builds", "4")

    def running(self, prefix):
        runs = self.kjson("get", "s2iruns", "-n", self.NAMESPACE)["items"]
        return [r["metadata"]["name"] for r in runs if r["metadata"]["name"].startswith(prefix)
                and (self.condition(r) or {}).get("reason") == "Running"]

    def test_pending_pod_fails_at_the_deadline_with_the_pods_reason(self):
        self.apply(self.s2ibuilder("pull", image="e2e.local/builder-missing:1"))
        self.apply(self.s2irun("pull-1", "pull", pendingTimeout="4s"))
        run = wait_for(lambda: (lambda r: r if (self.condition(r) or {}).get("reason") in
                                ("ImagePullBackOff", "ErrImagePull") else None)(self.get("s2irun", "pull-1")),
                       what="image pull failure visible while pending")
        self.assertEqual(self.condition(run)["status"], "Unknown")
        self.assertIn("e2e.local/builder-missing:1", self.condition(run)["message"])
        events = self.kubectl("get", "events", "-n", self.NAMESPACE, "--field-selector",
                              "involvedObject.name=pull-1").stdout
        self.assertIn("ImagePullFailed", events)
        run = self.wait_run("pull-1", timeout=30)
        cond = self.condition(run)
        self.assertEqual((run["status"]["runState"], cond["reason"]), ("Failed", "PendingTimeout"))
        self.assertIn("ImagePullBackOff", cond["message"])
        self.assertEqual(self.condition(run, "Stalled")["status"], "True")

    def test_serial_runs_never_overlap_and_start_in_creation_order(self):
        b = self.s2ibuilder("serial", image="e2e.local/builder-slow:1")
        b["spec"]["runPolicy"] = "Serial"
        self.apply(b)
        watch = JobWatch(self.sim)
        for i in range(3):
            self.apply(self.s2irun("serial-%d" % i, "serial"))
            time.sleep(1.1)         # distinct creation seconds: the order is unambiguous
        most = 0
        deadline = time.time() + 60
        while time.time() < deadline:
            runs = [self.get("s2irun", "serial-%d" % i) for i in range(3)]
            most = max(most, len(self.running("serial-")))
            if all(r.get("status", {}).get("runState") in ("Successful", "Failed") for r in runs):
                break
            time.sleep(0.1)
        watch.stop.set()
        self.assertEqual([r["status"]["runState"] for r in runs], ["Successful"] * 3)
        self.assertEqual(most, 1)
        order = [run for _, ns, run in watch.jobs if run.startswith("serial-")]
        self.assertEqual(order, ["serial-0", "serial-1", "serial-2"])
        queued = [c for r in runs for c in [self.condition(r)] if c]
        self.assertTrue(queued)

    def test_serial_latest_only_supersedes_queued_runs(self):
        b = self.s2ibuilder("latest", image="e2e.local/builder-slower:1")
        b["spec"]["runPolicy"] = "SerialLatestOnly"
        self.apply(b)
        self.apply(self.s2irun("latest-0", "latest"))
        wait_for(lambda: "latest-0" in self.running("latest-"), what="first run running")
        time.sleep(1.1)
        self.apply(self.s2irun("latest-1", "latest"))
        wait_for(lambda: (self.condition(self.get("s2irun", "latest-1")) or {}).get("reason") == "Queued",
                 what="second run queued")
        time.sleep(1.1)
        self.apply(self.s2irun("latest-2", "latest"))
        r1 = self.wait_run("latest-1")
        self.assertEqual((r1["status"]["runState"], self.condition(r1)["reason"]), ("Failed", "Superseded"))
        self.assertIn("latest-2", self.condition(r1)["message"])
        self.assertEqual(self.wait_run("latest-0")["status"]["runState"], "Successful")
        self.assertEqual(self.wait_run("latest-2")["status"]["runState"], "Successful")
        self.assertEqual(self.jobs_of(self.get("s2irun", "latest-1")), [])

class FairQueueTest(E2ETestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.set_scripts({"e2e.local/builder-ok:1": {"exitCode": 0, "duration": 0.3}})
        cls.start_operator("--max-concurrent-builds", "4")

    def test_a_storm_in_one_namespace_delays_another_by_at_most_one_slot(self):
        storm = 200
        self.kubectl("create", "namespace", "storm")
        self.kubectl("create", "namespace", "calm")
        for ns in ("storm", "calm"):
            self.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(self.s2ibuilder("b")))
        watch = JobWatch(self.sim)
        runs = "".join(json.dumps(dict(self.s2irun("s-%03d" % i, "b"), metadata={"name": "s-%03d" % i,
                                                                                "namespace": "storm"}))
                       for i in range(storm))
        self.kubectl("apply", "-f", "-", input=runs)
        wait_for(lambda: len([j for j in watch.jobs if j[1] == "storm"]) >= 8, what="storm under way")
        r = self.kubectl("apply", "-n", "calm", "-f", "-", input=json.dumps(self.s2irun("c-0", "b")))
        calm_rv = int(self.kjson("get", "s2irun", "c-0", "-n", "calm")["metadata"]["resourceVersion"])
        wait_for(lambda: [j for j in watch.jobs if j[1] == "calm"], timeout=60, what="calm run started")
        calm_job_rv = [j for j in watch.jobs if j[1] == "calm"][0][0]
        ahead = [j for j in watch.jobs if j[1] == "storm" and calm_rv < j[0] < calm_job_rv]
        self.assertLessEqual(len(ahead), 1, "storm runs started before the calm run: %s" % ahead)
        self.assertEqual(self.wait_run_in("calm", "c-0")["status"]["runState"], "Successful")
        wait_for(lambda: len([j for j in watch.jobs if j[1] == "storm"]) == storm, timeout=300, interval=1,
                 what="whole storm built")
        watch.stop.set()
        jobs = [j for j in watch.jobs if j[1] == "storm"]
        self.assertEqual(len({j[2] for j in jobs}), storm)      # exactly one Job per run
        del r

    def wait_run_in(self, ns, name):
        return wait_for(lambda: (lambda r: r if r.get("status", {}).get("runState") in ("Successful", "Failed")
                                 else None)(self.kjson("get", "s2irun", name, "-n", ns)), what="run %s" % name)



class QueueRestartTest(E2ETestCase):
    def test_queue_order_holds_across_an_operator_restart(self):
        self.set_scripts({"e2e.local/builder-slow:1": {"exitCode": 0, "duration": 1.5}})
        b = self.s2ibuilder("q", image="e2e.local/builder-slow:1")
        b["spec"]["runPolicy"] = "Serial"
        self.apply(b)
        watch = JobWatch(self.sim)
        op = self.start_operator()
        for i in range(4):
            self.apply(self.s2irun("q-%d" % i, "q"))
            time.sleep(1.1)
        wait_for(lambda: len(watch.jobs) >= 1, what="first build")
        op.stop()
        time.sleep(1)
        op = self.start_operator()
        for i in range(4):
            st = self.wait_run("q-%d" % i, timeout=60)["status"]
            self.assertEqual(st["runState"], "Successful", st)
        watch.stop.set()
        self.assertEqual([run for _, _, run in watch.jobs], ["q-0", "q-1", "q-2", "q-3"])

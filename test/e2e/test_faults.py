"""The happy path again while the API server misbehaves: watches dropped and
expired, history compacted (410 on resume), 409s and 500s on the operator's
writes. Every run must still end Successful with exactly one Job."""
import json
import threading
import time

from .e2eutil import E2ETestCase, wait_for

RUNS = 20


class FaultsTest(E2ETestCase):
    def test_runs_finish_with_one_job_each_under_api_faults(self):
        self.set_scripts({"e2e.local/builder-ok:1": {"exitCode": 0, "duration": 0.3,
                                                     "terminationMessage": json.dumps({"s2iBuildResult": {}})}})
        self.apply(self.s2ibuilder("chaos"))
        for rule in ({"verb": "write", "resource": "*", "code": 409, "probability": 0.1,
                      "userAgent": "s2i-operator"},
                     {"verb": "write", "resource": "*", "code": 500, "probability": 0.05,
                      "userAgent": "s2i-operator"},
                     {"verb": "list", "resource": "*", "code": 500, "probability": 0.1,
                      "userAgent": "s2i-operator"}):
            self.sim.admin("POST", "faults", rule)
        stop = threading.Event()

        def chaos():
            actions = ["close-watches", "expire-watches", "compact"]
            i = 0
            while not stop.wait(1.5):
                self.sim.admin("POST", actions[i % len(actions)])
                i += 1
        t = threading.Thread(target=chaos, daemon=True)
        t.start()
        op = self.start_operator()
        try:
            for i in range(RUNS):
                self.apply(self.s2irun("chaos-%02d" % i, "chaos"))
                time.sleep(0.05)

            def all_done():
                runs = self.kjson("get", "s2iruns", "-n", self.NAMESPACE)["items"]
                done = [r for r in runs if r.get("status", {}).get("runState") in ("Successful", "Failed")]
                return runs if len(done) == RUNS else None
            runs = wait_for(all_done, timeout=180, interval=1, what="all runs finished")
        finally:
            stop.set()
            t.join()
            self.sim.admin("DELETE", "faults")
        self.assertEqual(sorted(r["status"]["runState"] for r in runs), ["Successful"] * RUNS)
        jobs = self.kjson("get", "jobs", "-n", self.NAMESPACE)["items"]
        owners = [ref["uid"] for j in jobs for ref in j["metadata"].get("ownerReferences") or []]
        for r in runs:
            self.assertEqual(owners.count(r["metadata"]["uid"]), 1, "run %s has %d Jobs"
                             % (r["metadata"]["name"], owners.count(r["metadata"]["uid"])))
            self.assertEqual(self.condition(r)["status"], "True")
        wait_for(lambda: self.get("s2ibuilder", "chaos")["status"].get("runCount") == RUNS, what="runCount")
        self.assertIn("watch", op.text())
        op.stop()
        type(self).operator = None

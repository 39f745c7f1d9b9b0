"""The GitOps checks on live objects: the operator (from $S2I_BUILD_DIR) on kube-sim builds
for real, and the S2iRuns and S2iBuilders it writes, read back with kubectl, go through
deploy/argocd/health.lua (as Argo CD runs it) and kstatus, and are compared with the
recorded fixtures of the same state. Skipped, saying so, while the operator does not write
the kstatus conditions (Reconciling/Stalled/Ready) yet."""
import os
import shutil
import unittest

from e2e.e2eutil import BUILD, E2ETestCase, wait_for

from . import gitops
from .gitops import argocd_health_many, kstatus_compute, load_fixture

KSTATUS_TYPES = ("Reconciling", "Stalled", "Ready")
OPERATOR = os.path.join(BUILD, "bin", "s2i-operator")


@unittest.skipUnless(os.access(OPERATOR, os.X_OK), "no operator binary at %s (make, or set S2I_BUILD_DIR)" % OPERATOR)
@unittest.skipUnless(shutil.which("kubectl"), "kubectl is not installed")
@unittest.skipUnless(shutil.which(gitops.LUA), "%s is not installed" % gitops.LUA)
class LiveStatesTest(E2ETestCase):
    NAMESPACE = "gitops"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.set_scripts({
            "e2e.local/builder-ok:1": {"exitCode": 0, "duration": 0.2, "logs": "assembling\ndone",
                                       "terminationMessage": '{"s2iBuildResult": {"imageID": "sha256:%s"}}' % ("ab" * 32)},
            "e2e.local/builder-fail:1": {"exitCode": 1, "duration": 0.1, "logs": "npm ERR! missing script: build",
                                         "terminationMessage": "AssembleFailed: assemble exited with code 1"},
            "e2e.local/builder-slow:1": {"exitCode": 0, "duration": 120},
            "e2e.local/builder-gone:1": {"imagePullError": "ErrImagePull"},
        })
        cls.start_operator()

    # -- helpers ----------------------------------------------------------------------------

    def require_kstatus(self, *objs):
        for o in objs:
            types = set(gitops.condition_shape(o))
            if not types & set(KSTATUS_TYPES) or (o["kind"] == "S2iRun" and "Ready" not in types):
                self.skipTest("the operator at %s does not write the kstatus conditions yet: %s %s has "
                              "conditions %s, none of Reconciling/Stalled/Ready or no Ready"
                              % (OPERATOR, o["kind"], o["metadata"]["name"], sorted(types)))

    def check(self, live, fixture, argo_status, kstatus_status, argo_message=None):
        """The live object against the Argo CD health, the kstatus status, the operator's
        condition rules, and the recorded fixture of the same state."""
        (status, message), = argocd_health_many([live])
        self.assertEqual(status, argo_status, message)
        if argo_message is not None:
            self.assertEqual(message, argo_message)
        self.assertEqual(kstatus_compute(live)[0], kstatus_status)
        self.assertEqual(gitops.operator_condition_errors(live), [])
        self.assertEqual(gitops.condition_shape(live), gitops.condition_shape(load_fixture(fixture)),
                         "live %s differs from fixtures/%s.json" % (live["metadata"]["name"], fixture))
        # What the fixture itself gives, so fixture and live object stand for the same state.
        self.assertEqual(gitops.EXPECTED[fixture][0], argo_status)
        self.assertEqual(gitops.EXPECTED[fixture][2], kstatus_status)

    def run_until(self, name, pred, what, timeout=60):
        return wait_for(lambda: (lambda r: r if r and pred(r) else None)(self.get("s2irun", name)),
                        timeout=timeout, interval=0.2, what=what)

    def reason(self, run):
        return (self.condition(run) or {}).get("reason")

    # -- tests --------------------------------------------------------------------------------

    def test_succeeded_run_is_healthy_and_current(self):
        self.apply(self.s2ibuilder("ok"))
        self.apply(self.s2irun("ok-1", "ok"))
        run = self.wait_run("ok-1")
        self.require_kstatus(run)
        self.assertEqual(run["status"]["runState"], "Successful")
        self.check(run, "run-succeeded", "Healthy", "Current",
                   "Succeeded: the image was built and pushed: sha256:" + "ab" * 32)

        # GitOps re-applies the same manifest: nothing changes, nothing is rebuilt.
        jobs = self.jobs_of(run)
        self.apply(self.s2irun("ok-1", "ok"))
        again = self.get("s2irun", "ok-1")
        self.assertEqual(again["metadata"]["generation"], run["metadata"]["generation"])
        self.assertEqual(again["status"]["runState"], "Successful")
        self.assertEqual([j["metadata"]["uid"] for j in self.jobs_of(again)], [j["metadata"]["uid"] for j in jobs])

    def test_failed_run_is_degraded_with_its_reason_and_failed(self):
        self.apply(self.s2ibuilder("bad", image="e2e.local/builder-fail:1"))
        self.apply(self.s2irun("bad-1", "bad"))
        run = self.wait_run("bad-1")
        self.require_kstatus(run)
        self.assertEqual(run["status"]["runState"], "Failed")
        self.check(run, "run-failed-assemble", "Degraded", "Failed", "AssembleFailed: assemble exited with code 1")

    def test_running_run_is_progressing_and_in_progress(self):
        self.apply(self.s2ibuilder("slow", image="e2e.local/builder-slow:1"))
        self.apply(self.s2irun("slow-1", "slow"))
        run = self.run_until("slow-1", lambda r: self.reason(r) == "Running", "slow-1 running")
        self.require_kstatus(run)
        self.check(run, "run-running", "Progressing", "InProgress")

    def test_cancelled_run_is_degraded_and_failed_at_its_new_generation(self):
        self.apply(self.s2ibuilder("slow2", image="e2e.local/builder-slow:1"))
        self.apply(self.s2irun("slow2-1", "slow2"))
        self.run_until("slow2-1", lambda r: self.reason(r) == "Running", "slow2-1 running")
        self.kubectl("patch", "s2irun", "slow2-1", "-n", self.NAMESPACE, "--type=merge",
                     "-p", '{"spec":{"state":"Cancelled"}}')
        run = self.run_until("slow2-1", lambda r: r.get("status", {}).get("runState") == "Failed", "slow2-1 failed")
        self.require_kstatus(run)
        self.assertEqual(run["metadata"]["generation"], 2)
        self.check(run, "run-cancelled", "Degraded", "Failed", "Cancelled: the run was cancelled; its build was stopped")

    def test_cancelling_a_finished_run_is_observed(self):
        """The webhook lets spec.state: Cancelled through on a finished run; the generation
        moves, and the operator must catch up, or kstatus waits (InProgress) forever."""
        self.apply(self.s2ibuilder("done", image="e2e.local/builder-fail:1"))
        self.apply(self.s2irun("done-1", "done"))
        run = self.wait_run("done-1")
        self.require_kstatus(run)
        self.kubectl("patch", "s2irun", "done-1", "-n", self.NAMESPACE, "--type=merge",
                     "-p", '{"spec":{"state":"Cancelled"}}')
        run = self.run_until("done-1", lambda r: r["metadata"]["generation"] == 2 and
                             r["status"].get("observedGeneration") == 2, "done-1 observed at generation 2",
                             timeout=20)
        self.check(run, "run-failed-assemble", "Degraded", "Failed", "AssembleFailed: assemble exited with code 1")

    def test_image_pull_back_off_is_progressing_then_pending_timeout_degraded(self):
        self.apply(self.s2ibuilder("gone", image="e2e.local/builder-gone:1"))
        self.apply(self.s2irun("gone-1", "gone", pendingTimeout="6s"))
        run = self.run_until("gone-1", lambda r: self.reason(r) in ("ImagePullBackOff", "PendingTimeout"),
                             "gone-1 ImagePullBackOff")
        self.require_kstatus(run)
        if self.reason(run) == "ImagePullBackOff":
            self.check(run, "run-image-pull-backoff", "Progressing", "InProgress")
        run = self.run_until("gone-1", lambda r: r.get("status", {}).get("runState") == "Failed", "gone-1 failed")
        self.check(run, "run-failed-pending-timeout", "Degraded", "Failed")
        self.assertIn("ImagePullBackOff", argocd_health_many([run])[0][1])

    def test_queued_then_superseded_runs(self):
        b = self.s2ibuilder("serial", image="e2e.local/builder-slow:1")
        b["spec"]["runPolicy"] = "SerialLatestOnly"
        self.apply(b)
        self.apply(self.s2irun("serial-1", "serial"))
        first = self.run_until("serial-1", lambda r: self.reason(r) == "Running", "serial-1 running")
        self.require_kstatus(first)
        self.apply(self.s2irun("serial-2", "serial"))
        queued = self.run_until("serial-2", lambda r: self.reason(r) == "Queued", "serial-2 queued")
        self.check(queued, "run-queued", "Progressing", "InProgress")
        self.apply(self.s2irun("serial-3", "serial"))
        superseded = self.run_until("serial-2", lambda r: self.reason(r) == "Superseded", "serial-2 superseded")
        self.check(superseded, "run-superseded", "Degraded", "Failed")
        self.kubectl("patch", "s2irun", "serial-1", "-n", self.NAMESPACE, "--type=merge",
                     "-p", '{"spec":{"state":"Cancelled"}}')

    def test_ready_builder_is_healthy_and_current(self):
        self.apply(self.s2ibuilder("fine"))
        b = wait_for(lambda: (lambda o: o if o and self.condition(o, "Ready") else None)(self.get("s2ibuilder", "fine")),
                     what="builder fine Ready")
        self.require_kstatus(b)
        self.check(b, "builder-ready", "Healthy", "Current", "Ready: runs of this builder can build")

    def test_builder_with_a_missing_template_is_degraded_and_failed(self):
        b = self.s2ibuilder("tmpl")
        b["spec"]["fromTemplate"] = {"name": "no-such-template"}
        self.apply(b)
        b = wait_for(lambda: (lambda o: o if o and self.condition(o, "Ready") else None)(self.get("s2ibuilder", "tmpl")),
                     what="builder tmpl Ready condition")
        if not self.condition(b, "Stalled"):
            self.skipTest("the operator at %s does not write Stalled on an unusable builder yet: conditions %s"
                          % (OPERATOR, sorted(gitops.condition_shape(b))))
        self.check(b, "builder-template-not-found", "Degraded", "Failed",
                   'TemplateNotFound: S2iBuilderTemplate "no-such-template" not found')


if __name__ == "__main__":
    unittest.main()

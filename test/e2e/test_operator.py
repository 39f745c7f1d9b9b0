"""The operator end to end on kube-sim with the scripted kubelet, driven by
kubectl as a user would: builds succeed and fail, retry, are cancelled and time
out; builders appear late and are deleted; history is pruned; the KubeSphere
console's queries resolve."""
import json
import subprocess
import time

from .e2eutil import E2ETestCase, wait_for

RESULT = {"s2iBuildResult": {"imageID": "sha256:" + "ab" * 32, "imageSize": 12345678,
                             "imageCreated": "2026-11-26T07:00:00Z",
                             "imageRepoTags": ["registry.e2e:5000/demo/ok:latest"],
                             "commandPull": "docker pull registry.e2e:5000/demo/ok:latest"},
          "s2iBuildSource": {"commitID": "0123456789abcdef", "committerName": "Ada", "committerEmail": "ada@e2e",
                             "revisionId": "main"}}


class OperatorTest(E2ETestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.set_scripts({
            "e2e.local/builder-ok:1": {"exitCode": 0, "duration": 0.2, "logs": "assembling\ndone",
                                       "terminationMessage": json.dumps(RESULT)},
            "e2e.local/builder-fail:1": {"exitCode": 1, "duration": 0.1,
                                         "logs": "installing deps\nnpm ERR! missing script: build",
                                         "terminationMessage": "AssembleFailed: assemble exited with code 1"},
            "e2e.local/builder-flaky:1": {"exitCode": [1, 1, 0], "duration": 0.1,
                                          "terminationMessage": json.dumps(RESULT)},
            "e2e.local/builder-slow:1": {"exitCode": 0, "duration": 60},
        })
        cls.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "push"},
                   "type": "kubernetes.io/dockerconfigjson",
                   "stringData": {".dockerconfigjson": json.dumps(
                       {"auths": {"registry.e2e:5000": {"username": "u", "password": "s3cr3t-e2e-push"}}})}})
        cls.start_operator()

    def test_successful_run_reports_image_and_source(self):
        self.apply(self.s2ibuilder("ok", pushAuthentication={"secretRef": {"name": "push"}}))
        self.apply(self.s2irun("ok-1", "ok"))
        self.kubectl("wait", "--for=condition=Succeeded", "s2irun/ok-1", "-n", self.NAMESPACE, "--timeout=60s")
        run = self.get("s2irun", "ok-1")
        st = run["status"]
        self.assertEqual(st["runState"], "Successful")
        self.assertEqual(st["s2iBuildResult"]["imageID"], RESULT["s2iBuildResult"]["imageID"])
        self.assertEqual(st["s2iBuildResult"]["imageSize"], 12345678)
        self.assertEqual(st["s2iBuildResult"]["imageRepoTags"], ["registry.e2e:5000/demo/ok:latest"])
        self.assertTrue(st["s2iBuildResult"]["commandPull"].startswith("docker pull "))
        self.assertEqual(st["s2iBuildResult"]["imageName"], "registry.e2e:5000/demo/ok")
        self.assertEqual(st["s2iBuildSource"]["commitID"], "0123456789abcdef")
        self.assertEqual(st["s2iBuildSource"]["builderImage"], "e2e.local/builder-ok:1")
        self.assertTrue(st["logURL"].endswith("/namespaces/e2e/pods/" + st["logURL"].rsplit("/", 1)[1]))
        self.assertIn("/namespaces/e2e/pods/", st["logURL"])
        self.assertTrue(st["startTime"] and st["completionTime"])
        self.assertEqual(run["metadata"]["labels"]["labels.devops.kubesphere.io/builder-name"], "ok")
        jobs = self.jobs_of(run)
        self.assertEqual([j["metadata"]["name"] for j in jobs], [st["kubernetesJobName"]])
        job = jobs[0]
        ref = job["metadata"]["ownerReferences"][0]
        self.assertEqual((ref["kind"], ref["name"], ref["controller"]), ("S2iRun", "ok-1", True))
        self.assertEqual(job["metadata"]["labels"]["devops.kubesphere.io/s2ir"], "ok-1")
        pod_spec = job["spec"]["template"]["spec"]
        # No daemon, no privilege, no secret contents in the Job.
        self.assertNotIn("s3cr3t-e2e-push", json.dumps(job))
        self.assertNotIn("hostPath", json.dumps(pod_spec))
        for c in pod_spec["containers"] + pod_spec["initContainers"]:
            self.assertFalse(c.get("securityContext", {}).get("privileged", False))
        self.assertIn({"name": "s2i-push-secret", "mountPath": "/var/run/secrets/s2i/push", "readOnly": True},
                      pod_spec["containers"][0]["volumeMounts"])
        cfg = json.loads(job["spec"]["template"]["metadata"]["annotations"]["devops.kubesphere.io/s2i-config"])
        self.assertEqual(cfg["outputImage"], "registry.e2e:5000/demo/ok:latest")
        self.assertEqual(cfg["secrets"]["push"], "/var/run/secrets/s2i/push")
        out = self.kubectl("get", "s2ir", "ok-1", "-n", self.NAMESPACE).stdout.splitlines()
        self.assertEqual(out[0].split()[:3], ["NAME", "STATE", "K8SJOBNAME"])
        self.assertIn("Successful", out[1])
        builder = self.get("s2ibuilder", "ok")
        wait_for(lambda: (self.get("s2ibuilder", "ok") or {}).get("status", {}).get("lastRunName") == "ok-1",
                 what="builder status")
        builder = self.get("s2ibuilder", "ok")
        self.assertEqual(builder["status"]["runCount"], 1)
        self.assertEqual(builder["status"]["lastRunState"], "Successful")
        self.assertIn("s2ibuilders.finalizers.kubesphere.io", builder["metadata"]["finalizers"])
        self.assertEqual(self.condition(builder, "Ready")["status"], "True")

    def test_failed_build_has_reason_and_log_tail(self):
        self.apply(self.s2ibuilder("bad", image="e2e.local/builder-fail:1"))
        self.apply(self.s2irun("bad-1", "bad"))
        r = self.kubectl("wait", "--for=condition=Succeeded=False", "s2irun/bad-1", "-n", self.NAMESPACE,
                         "--timeout=60s")
        self.assertIn("condition met", r.stdout)
        run = self.get("s2irun", "bad-1")
        cond = self.condition(run)
        self.assertEqual((run["status"]["runState"], cond["reason"]), ("Failed", "AssembleFailed"))
        self.assertEqual(cond["message"], "assemble exited with code 1")
        self.assertIn("npm ERR! missing script: build", run["status"]["logTail"])

    def test_backoff_limit_retries_until_success(self):
        self.apply(self.s2ibuilder("flaky", image="e2e.local/builder-flaky:1"))
        self.apply(self.s2irun("flaky-1", "flaky", backoffLimit=2))
        run = self.wait_run("flaky-1")
        self.assertEqual(run["status"]["runState"], "Successful", run["status"])
        job = self.get("job", run["status"]["kubernetesJobName"])
        self.assertEqual((job["status"].get("failed"), job["status"].get("succeeded")), (2, 1))

    def test_cancel_stops_the_build(self):
        self.apply(self.s2ibuilder("slow", image="e2e.local/builder-slow:1"))
        self.apply(self.s2irun("slow-1", "slow"))
        wait_for(lambda: self.condition(self.get("s2irun", "slow-1") or {}) and
                 self.condition(self.get("s2irun", "slow-1"))["reason"] == "Running", what="run running")
        self.kubectl("patch", "s2irun", "slow-1", "-n", self.NAMESPACE, "--type=merge",
                     "-p", '{"spec":{"state":"Cancelled"}}')
        run = self.wait_run("slow-1")
        self.assertEqual((run["status"]["runState"], self.condition(run)["reason"]), ("Failed", "Cancelled"))
        job = self.get("job", run["status"]["kubernetesJobName"])
        self.assertTrue(job["spec"]["suspend"])
        wait_for(lambda: not self.kjson("get", "pods", "-n", self.NAMESPACE, "-l",
                                         "job-name=" + job["metadata"]["name"])["items"], what="pods gone")

    def test_timeout_fails_the_run(self):
        self.apply(self.s2ibuilder("slow2", image="e2e.local/builder-slow:1"))
        self.apply(self.s2irun("slow2-1", "slow2", timeout="2s"))
        run = self.wait_run("slow2-1", timeout=30)
        self.assertEqual((run["status"]["runState"], self.condition(run)["reason"]), ("Failed", "Timeout"))

    def test_run_waits_for_a_missing_builder(self):
        self.apply(self.s2irun("early-1", "late"))
        wait_for(lambda: (self.condition(self.get("s2irun", "early-1") or {}) or {}).get("reason") ==
                 "BuilderNotFound", what="BuilderNotFound")
        self.assertEqual(self.jobs_of(self.get("s2irun", "early-1")), [])
        self.apply(self.s2ibuilder("late"))
        run = self.wait_run("early-1")
        self.assertEqual(run["status"]["runState"], "Successful")

    def test_missing_secret_waits_with_a_clear_reason(self):
        self.apply(self.s2ibuilder("needsecret", pushAuthentication={"secretRef": {"name": "later"}}))
        self.apply(self.s2irun("needsecret-1", "needsecret"))
        wait_for(lambda: (self.condition(self.get("s2irun", "needsecret-1") or {}) or {}).get("reason") ==
                 "SecretNotFound", what="SecretNotFound")
        self.assertIn('Secret "later"', self.condition(self.get("s2irun", "needsecret-1"))["message"])
        self.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "later"},
                    "type": "kubernetes.io/dockerconfigjson",
                    "stringData": {".dockerconfigjson": '{"auths":{}}'}})
        run = self.wait_run("needsecret-1", timeout=60)
        self.assertEqual(run["status"]["runState"], "Successful")

    def test_deleting_the_job_by_hand_fails_the_run_without_rebuilding(self):
        self.apply(self.s2ibuilder("slow3", image="e2e.local/builder-slow:1"))
        self.apply(self.s2irun("slow3-1", "slow3"))
        run = wait_for(lambda: (self.get("s2irun", "slow3-1") or {}).get("status", {}).get("kubernetesJobName")
                       and self.get("s2irun", "slow3-1"), what="job name")
        job = run["status"]["kubernetesJobName"]
        self.kubectl("delete", "job", job, "-n", self.NAMESPACE, "--cascade=background", "--wait=false")
        run = self.wait_run("slow3-1")
        self.assertEqual((run["status"]["runState"], self.condition(run)["reason"]), ("Failed", "JobDeleted"))
        self.assertEqual(self.jobs_of(run), [])

    def test_history_limits_keep_the_newest_runs(self):
        b = self.s2ibuilder("hist")
        b["spec"]["successfulRunsHistoryLimit"] = 1
        self.apply(b)
        for i in range(3):
            self.apply(self.s2irun("hist-%d" % i, "hist"))
            self.wait_run("hist-%d" % i)
        wait_for(lambda: [r["metadata"]["name"] for r in self.kjson(
            "get", "s2iruns", "-n", self.NAMESPACE, "-l", "labels.devops.kubesphere.io/builder-name=hist")["items"]]
            == ["hist-2"], what="only the newest run kept")
        wait_for(lambda: self.get("s2ibuilder", "hist")["status"].get("runCount") == 1, what="runCount 1")
        self.assertEqual(self.get("s2ibuilder", "hist")["status"]["lastRunName"], "hist-2")

    def test_deleting_a_builder_deletes_its_runs(self):
        self.apply(self.s2ibuilder("doomed"))
        self.apply(self.s2irun("doomed-1", "doomed"))
        self.wait_run("doomed-1")
        self.kubectl("delete", "s2ibuilder", "doomed", "-n", self.NAMESPACE, "--timeout=30s")
        self.assertIsNone(self.get("s2irun", "doomed-1"))
        self.assertIsNone(self.get("s2ibuilder", "doomed"))

    def test_console_queries_resolve_and_long_names_get_valid_jobs(self):
        # The console names runs "{builder[:37]}-xxx" or "{builder}-rerun-xxx" with builders of up to 64
        # characters, so run names reach 74.
        builder = "b" * 60
        self.apply(self.s2ibuilder(builder))
        long_run = builder + "-rerun-x7k"
        self.assertEqual(len(long_run), 70)
        self.apply(self.s2irun(long_run, builder, newTag="v2"))
        run = self.wait_run(long_run)
        self.assertEqual(run["status"]["runState"], "Successful")
        self.assertLessEqual(len(run["status"]["kubernetesJobName"]), 63)
        # The console's run list, then builder -> lastRunName -> run -> kubernetesJobName -> Job.
        listed = self.kjson("get", "s2iruns", "-n", self.NAMESPACE, "-l",
                            "labels.devops.kubesphere.io/builder-name=" + builder)["items"]
        self.assertEqual([r["metadata"]["name"] for r in listed], [long_run])
        wait_for(lambda: self.get("s2ibuilder", builder)["status"].get("lastRunName") == long_run,
                 what="lastRunName")
        b = self.get("s2ibuilder", builder)
        r = self.get("s2irun", b["status"]["lastRunName"])
        self.assertIsNotNone(self.get("job", r["status"]["kubernetesJobName"]))
        self.assertEqual(type(b["status"]["runCount"]), int)
        self.assertEqual(type(r["status"]["s2iBuildResult"]["imageSize"]), int)
        cfg = json.loads(self.get("job", r["status"]["kubernetesJobName"])["spec"]["template"]["metadata"]
                         ["annotations"]["devops.kubesphere.io/s2i-config"])
        self.assertTrue(cfg["outputImage"].endswith(":v2"))

    def test_secret_values_never_appear_in_logs_events_or_status(self):
        self.apply(self.s2ibuilder("sec", pushAuthentication={"secretRef": {"name": "push"}}))
        self.apply(self.s2irun("sec-1", "sec"))
        self.wait_run("sec-1")
        everything = json.dumps(self.kjson("get", "s2iruns,s2ibuilders,jobs,events", "-n", self.NAMESPACE))
        self.assertNotIn("s3cr3t-e2e-push", everything)
        self.assertNotIn("s3cr3t-e2e-push", self.operator.text())

    def test_sigterm_stops_cleanly(self):
        op = self.operator
        op.stop(check=True)
        self.assertIn("shutting down", op.text())
        type(self).operator = self.start_operator()

    def test_successful_build_rolls_out_to_the_autoscale_workload(self):
        dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"s2ibuilder": "web"}},
               "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                        "template": {"metadata": {"labels": {"app": "web"}},
                                     "spec": {"containers": [{"name": "app", "image": "registry.e2e:5000/demo/old:1"}]}}}}
        self.apply(dep)
        b = self.s2ibuilder("web")
        # Exactly as the KubeSphere console writes it: capitalised keys, a stray "container".
        b["metadata"]["annotations"] = {"devops.kubesphere.io/autoscale":
                                        '[{ "Kind": "Deployment", "Name": "web", "initReplicas": 2, "container": "app" }]'}
        self.apply(b)
        self.apply(self.s2irun("web-1", "web", newTag="v7"))
        self.wait_run("web-1")
        d = wait_for(lambda: (lambda d: d if d["metadata"].get("annotations", {}).get(
            "devops.kubesphere.io/inithasbeencomplted") else None)(self.get("deployment", "web")), what="rolled out")
        self.assertEqual(d["metadata"]["annotations"]["devops.kubesphere.io/inithasbeencomplted"], "Successful")
        self.assertEqual(d["spec"]["replicas"], 2)
        self.assertEqual(d["spec"]["template"]["spec"]["containers"][0]["image"], "registry.e2e:5000/demo/web:v7")
        self.assertEqual(d["spec"]["template"]["metadata"]["labels"]["devops.kubesphere.io/s2ir"], "web-1")
        wait_for(lambda: "devops.kubesphere.io/completedscale" in
                 self.get("s2irun", "web-1")["metadata"].get("annotations", {}), what="completedscale")
        # A rerun the user asked not to roll out leaves the workload alone.
        r = self.s2irun("web-2", "web", newTag="v8")
        r["metadata"]["annotations"] = {"devops.kubesphere.io/donotautoscale": "true"}
        self.apply(r)
        self.wait_run("web-2")
        time.sleep(1)
        self.assertEqual(self.get("deployment", "web")["spec"]["template"]["spec"]["containers"][0]["image"],
                         "registry.e2e:5000/demo/web:v7")

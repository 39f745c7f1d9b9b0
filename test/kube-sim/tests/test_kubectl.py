"""kube-sim driven by the real kubectl, as users and our end-to-end tests drive it."""
import json
import subprocess
import time

from .simutil import CRD_WIDGET, SimTestCase, wait_for


def widget(name, size, **extra):
    spec = {"size": size}
    spec.update(extra)
    return json.dumps({"apiVersion": "demo.example.com/v1", "kind": "Widget",
                       "metadata": {"name": name, "namespace": "default"}, "spec": spec})


class KubectlTest(SimTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim.kubectl("apply", "-f", "-", input=CRD_WIDGET)
        cls.sim.kubectl("wait", "--for=condition=established", "crd/widgets.demo.example.com", "--timeout=20s")

    def test_apply_create_then_configure_keeps_last_applied(self):
        k = self.sim.kubectl
        r = k("apply", "-f", "-", input=widget("applied", 4))
        self.assertIn("widget.demo.example.com/applied created", r.stdout)
        r = k("apply", "-f", "-", input=widget("applied", 5))
        self.assertIn("widget.demo.example.com/applied configured", r.stdout)
        obj = self.sim.kubectl_json("get", "widget", "applied")
        self.assertEqual(obj["spec"], {"size": 5, "color": "red"})
        self.assertEqual(obj["metadata"]["generation"], 2)
        last = json.loads(obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
        self.assertEqual(last["spec"], {"size": 5})
        r = k("apply", "-f", "-", input=widget("applied", 5))
        self.assertIn("unchanged", r.stdout)

    def test_get_prints_crd_printer_columns(self):
        k = self.sim.kubectl
        k("apply", "-f", "-", input=widget("columns", 7))
        k("patch", "wdg", "columns", "--subresource=status", "--type=merge", "-p", '{"status":{"phase":"Ready"}}')
        out = k("get", "wdg", "columns").stdout.splitlines()
        self.assertEqual(out[0].split(), ["NAME", "SIZE", "PHASE"])
        self.assertEqual(out[1].split(), ["columns", "7", "Ready"])
        cat = k("get", "demo").stdout          # the CRD's category
        self.assertIn("columns", cat)

    def test_invalid_object_is_rejected_with_field_paths(self):
        r = self.sim.kubectl("apply", "-f", "-", input=widget("bad", -1, color="green"), check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('The Widget "bad" is invalid', r.stderr)     # kubectl's rendering of the 422
        self.assertIn("spec.size: Invalid value: -1: spec.size in body should be greater than or equal to 0",
                      r.stderr)
        self.assertIn('spec.color: Unsupported value: "green"', r.stderr)
        r = self.sim.kubectl("get", "wdg", "bad", check=False)
        self.assertIn("NotFound", r.stderr)

    def test_unknown_field_is_rejected_by_strict_validation(self):
        r = self.sim.kubectl("apply", "-f", "-", input=widget("strict", 1, weight=3), check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('unknown field "spec.weight"', r.stderr)

    def test_stale_update_conflicts(self):
        k = self.sim.kubectl
        k("apply", "-f", "-", input=widget("stale", 1))
        old = self.sim.kubectl_json("get", "wdg", "stale")
        k("patch", "wdg", "stale", "--type=merge", "-p", '{"spec":{"size":2}}')
        old["spec"]["size"] = 3
        r = k("replace", "-f", "-", input=json.dumps(old), check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("the object has been modified", r.stderr)
        self.assertEqual(self.sim.kubectl_json("get", "wdg", "stale")["spec"]["size"], 2)

    def test_wait_for_condition_returns_when_status_changes(self):
        k = self.sim.kubectl
        k("apply", "-f", "-", input=widget("waited", 1))
        env_kc = self.sim.kubeconfig
        waiter = subprocess.Popen(["kubectl", "--kubeconfig", env_kc, "wait", "--for=condition=Ready",
                                   "wdg/waited", "--timeout=30s"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)
        self.assertIsNone(waiter.poll(), "wait returned before the condition was set")
        k("patch", "wdg", "waited", "--subresource=status", "--type=merge",
          "-p", '{"status":{"conditions":[{"type":"Ready","status":"True","reason":"Done"}]}}')
        out, err = waiter.communicate(timeout=30)
        self.assertEqual(waiter.returncode, 0, err)
        self.assertIn("condition met", out)

    def test_get_watch_streams_changes(self):
        k = self.sim.kubectl
        k("apply", "-f", "-", input=widget("watched", 1))
        w = subprocess.Popen(["kubectl", "--kubeconfig", self.sim.kubeconfig, "get", "wdg", "watched", "-w",
                              "--output-watch-events"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(1.0)
            k("patch", "wdg", "watched", "--type=merge", "-p", '{"spec":{"size":9}}')
            k("delete", "wdg", "watched")
            time.sleep(1.0)
        finally:
            w.terminate()
        out = w.communicate(timeout=10)[0]
        kinds = [line.split()[0] for line in out.splitlines()[1:] if line.strip()]
        self.assertEqual(kinds[:3], ["ADDED", "MODIFIED", "DELETED"], out)

    def test_finalizer_blocks_deletion_until_removed(self):
        k = self.sim.kubectl
        k("apply", "-f", "-", input=widget("held", 1))
        k("patch", "wdg", "held", "--type=merge", "-p", '{"metadata":{"finalizers":["demo.example.com/hold"]}}')
        k("delete", "wdg", "held", "--wait=false")
        obj = self.sim.kubectl_json("get", "wdg", "held")
        self.assertTrue(obj["metadata"].get("deletionTimestamp"))
        r = k("patch", "wdg", "held", "--type=merge", "-p",
              '{"metadata":{"finalizers":["demo.example.com/hold","new"]}}', check=False)
        self.assertIn("no new finalizers can be added if the object is being deleted", r.stderr)
        k("patch", "wdg", "held", "--type=json", "-p", '[{"op":"remove","path":"/metadata/finalizers"}]')
        wait_for(lambda: "NotFound" in k("get", "wdg", "held", check=False).stderr, what="widget gone")

    def test_owner_reference_cascade_background_and_orphan(self):
        k = self.sim.kubectl
        k("apply", "-f", "-", input=widget("owner", 1))
        k("apply", "-f", "-", input=widget("owner2", 1))
        for owner, cm in (("owner", "owned"), ("owner2", "orphaned")):
            uid = self.sim.kubectl_json("get", "wdg", owner)["metadata"]["uid"]
            k("apply", "-f", "-", input=json.dumps({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": cm, "namespace": "default", "ownerReferences": [{
                    "apiVersion": "demo.example.com/v1", "kind": "Widget", "name": owner, "uid": uid,
                    "controller": True, "blockOwnerDeletion": True}]}, "data": {"a": "b"}}))
        k("delete", "wdg", "owner")
        wait_for(lambda: "NotFound" in k("get", "cm", "owned", check=False).stderr, what="dependent collected")
        k("delete", "wdg", "owner2", "--cascade=orphan")
        wait_for(lambda: not self.sim.kubectl_json("get", "cm", "orphaned")["metadata"].get("ownerReferences"),
                 what="owner reference removed")
        self.assertIn("NotFound", k("get", "wdg", "owner2", check=False).stderr)

    def test_foreground_deletion_waits_for_dependents(self):
        k = self.sim.kubectl
        k("apply", "-f", "-", input=widget("fg", 1))
        uid = self.sim.kubectl_json("get", "wdg", "fg")["metadata"]["uid"]
        k("apply", "-f", "-", input=json.dumps({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "fg-dep", "namespace": "default", "finalizers": ["demo.example.com/slow"],
                         "ownerReferences": [{"apiVersion": "demo.example.com/v1", "kind": "Widget", "name": "fg",
                                              "uid": uid, "blockOwnerDeletion": True}]}}))
        k("delete", "wdg", "fg", "--cascade=foreground", "--wait=false")
        wait_for(lambda: self.sim.kubectl_json("get", "cm", "fg-dep")["metadata"].get("deletionTimestamp"),
                 what="dependent being deleted")
        owner = self.sim.kubectl_json("get", "wdg", "fg")
        self.assertIn("foregroundDeletion", owner["metadata"]["finalizers"])
        k("patch", "cm", "fg-dep", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
        wait_for(lambda: "NotFound" in k("get", "wdg", "fg", check=False).stderr, what="owner gone")

    def test_job_runs_to_completion_with_scripted_pods(self):
        k = self.sim.kubectl
        job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "scripted", "namespace": "default"},
               "spec": {"backoffLimit": 2, "template": {
                   "metadata": {"annotations": {"kube-sim/script": json.dumps(
                       {"build": {"exitCode": [1, 0], "duration": 0.2, "logs": "step one\nstep two"}})}},
                   "spec": {"restartPolicy": "Never",
                            "initContainers": [{"name": "prepare", "image": "example.invalid/prep:1"}],
                            "containers": [{"name": "build", "image": "example.invalid/builder:1",
                                            "terminationMessagePolicy": "FallbackToLogsOnError"}]}}}}
        k("apply", "-f", "-", input=json.dumps(job))
        k("wait", "--for=condition=complete", "job/scripted", "--timeout=30s")
        st = self.sim.kubectl_json("get", "job", "scripted")["status"]
        self.assertEqual((st.get("succeeded"), st.get("failed")), (1, 1))
        pods = self.sim.kubectl_json("get", "pods", "-l", "job-name=scripted")["items"]
        self.assertEqual(sorted(p["status"]["phase"] for p in pods), ["Failed", "Succeeded"])
        failed = [p for p in pods if p["status"]["phase"] == "Failed"][0]
        term = failed["status"]["containerStatuses"][0]["state"]["terminated"]
        self.assertEqual((term["exitCode"], term["reason"]), (1, "Error"))
        self.assertEqual(term["message"], "step one\nstep two")     # FallbackToLogsOnError
        init = failed["status"]["initContainerStatuses"][0]["state"]["terminated"]
        self.assertEqual((init["exitCode"], init["reason"]), (0, "Completed"))
        ok = [p for p in pods if p["status"]["phase"] == "Succeeded"][0]
        self.assertEqual(ok["metadata"]["ownerReferences"][0]["kind"], "Job")
        self.assertNotIn("batch.kubernetes.io/job-tracking", ok["metadata"].get("finalizers") or [])
        logs = k("logs", ok["metadata"]["name"], "-c", "build").stdout
        self.assertEqual(logs, "step one\nstep two\n")
        self.assertEqual(k("logs", ok["metadata"]["name"], "-c", "build", "--tail=1").stdout, "step two\n")
        base = "/api/v1/namespaces/default/pods/%s/log" % ok["metadata"]["name"]
        code, body, _ = self.sim.request("GET", base, raw=True)    # one app container: it is the default
        self.assertEqual((code, body), (200, b"step one\nstep two\n"))
        code, body, _ = self.sim.request("GET", base + "?container=prepare", raw=True)
        self.assertEqual((code, body), (200, b""))
        code, body, _ = self.sim.request("GET", base + "?container=nope")
        self.assertEqual((code, body["message"]), (400, "container nope is not valid for pod %s"
                                                   % ok["metadata"]["name"]))
        desc = k("describe", "job", "scripted").stdout
        self.assertIn("SuccessfulCreate", desc)

    def test_job_fails_at_backoff_limit(self):
        k = self.sim.kubectl
        job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "doomed", "namespace": "default"},
               "spec": {"backoffLimit": 1, "template": {
                   "metadata": {"annotations": {"kube-sim/script": '{"*": {"exitCode": 3}}'}},
                   "spec": {"restartPolicy": "Never",
                            "containers": [{"name": "main", "image": "example.invalid/x:1"}]}}}}
        k("apply", "-f", "-", input=json.dumps(job))
        k("wait", "--for=condition=failed", "job/doomed", "--timeout=30s")
        st = self.sim.kubectl_json("get", "job", "doomed")["status"]
        self.assertEqual(st["failed"], 2)
        cond = [c for c in st["conditions"] if c["type"] == "Failed"][0]
        self.assertEqual(cond["reason"], "BackoffLimitExceeded")

    def test_describe_and_explain(self):
        k = self.sim.kubectl
        k("apply", "-f", "-", input=widget("described", 3))
        self.assertIn("Size:", k("describe", "wdg", "described").stdout)
        out = k("explain", "widget.spec").stdout
        self.assertIn("What the widget should be.", out)
        self.assertIn("How big the widget is.", out)

    def test_namespace_deletion_removes_its_content(self):
        k = self.sim.kubectl
        k("create", "namespace", "doomed-ns")
        k("create", "configmap", "x", "-n", "doomed-ns", "--from-literal=a=b")
        k("apply", "-n", "doomed-ns", "-f", "-", input=json.dumps(
            {"apiVersion": "demo.example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}}))
        k("delete", "namespace", "doomed-ns", "--timeout=30s")
        self.assertIn("NotFound", k("get", "namespace", "doomed-ns", check=False).stderr)
        r = k("create", "configmap", "y", "-n", "doomed-ns", check=False)
        self.assertIn("not found", r.stderr)


class JobLifecycleTest(SimTestCase):
    def test_suspending_a_job_deletes_its_running_pods(self):
        k = self.sim.kubectl
        job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "long", "namespace": "default"},
               "spec": {"template": {
                   "metadata": {"annotations": {"kube-sim/script": '{"*": {"duration": 60}}'}},
                   "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "x.invalid/y:1"}]}}}}
        k("apply", "-f", "-", input=json.dumps(job))
        wait_for(lambda: [p for p in self.sim.kubectl_json("get", "pods", "-l", "job-name=long")["items"]
                          if p["status"].get("phase") == "Running"], what="pod running")
        k("patch", "job", "long", "--type=merge", "-p", '{"spec":{"suspend":true}}')
        wait_for(lambda: not self.sim.kubectl_json("get", "pods", "-l", "job-name=long")["items"],
                 what="pods deleted")
        conds = self.sim.kubectl_json("get", "job", "long")["status"]["conditions"]
        self.assertEqual([(c["type"], c["status"], c["reason"]) for c in conds],
                         [("Suspended", "True", "JobSuspended")])

    def test_missing_secret_volume_keeps_the_pod_waiting_with_failed_mount(self):
        k = self.sim.kubectl
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "needs-secret", "namespace": "default"},
               "spec": {"restartPolicy": "Never",
                        "volumes": [{"name": "creds", "secret": {"secretName": "absent"}}],
                        "containers": [{"name": "main", "image": "x.invalid/y:1",
                                        "volumeMounts": [{"name": "creds", "mountPath": "/creds"}]}]}}
        k("apply", "-f", "-", input=json.dumps(pod))
        wait_for(lambda: "FailedMount" in k("get", "events", "--field-selector",
                                            "involvedObject.name=needs-secret").stdout, what="FailedMount event")
        st = self.sim.kubectl_json("get", "pod", "needs-secret")["status"]
        self.assertEqual(st["phase"], "Pending")
        self.assertEqual(st["containerStatuses"][0]["state"]["waiting"]["reason"], "ContainerCreating")
        k("create", "secret", "generic", "absent", "--from-literal=a=b")
        wait_for(lambda: self.sim.kubectl_json("get", "pod", "needs-secret")["status"]["phase"] == "Succeeded",
                 what="pod runs once the secret exists")


class PersistenceTest(SimTestCase):
    def test_state_file_survives_a_process_restart(self):
        import os
        from .simutil import Sim
        state = os.path.join(self.sim.dir, "state.json")
        a = Sim("--state-file", state)
        try:
            a.kubectl("create", "configmap", "kept", "--from-literal=k=v")
            rv = a.kubectl_json("get", "configmap", "kept")["metadata"]["resourceVersion"]
        finally:
            a.stop()
        b = Sim("--state-file", state, state_dir=a.dir)
        try:
            cm = b.kubectl_json("get", "configmap", "kept")
            self.assertEqual((cm["data"], cm["metadata"]["resourceVersion"]), ({"k": "v"}, rv))
            b.kubectl("create", "configmap", "after")
            self.assertGreater(int(b.kubectl_json("get", "configmap", "after")["metadata"]["resourceVersion"]),
                               int(rv))
        finally:
            b.stop()

    def test_restart_with_state_lost_starts_a_fresh_cluster(self):
        self.sim.kubectl("create", "configmap", "forgotten")
        self.sim.admin("POST", "restart", {"downSeconds": 0.5, "keepState": False})
        time.sleep(0.2)
        wait_for(lambda: self.sim.kubectl("get", "ns", "default", check=False).returncode == 0,
                 what="server back")
        self.assertIn("NotFound", self.sim.kubectl("get", "configmap", "forgotten", check=False).stderr)


class JobTTLAndLogsTest(SimTestCase):
    def test_finished_job_is_deleted_after_its_ttl_and_logs_can_be_followed(self):
        k = self.sim.kubectl
        job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "ttl", "namespace": "default"},
               # long enough for kubectl wait to see the Job complete on a loaded machine
               "spec": {"ttlSecondsAfterFinished": 4, "template": {
                   "metadata": {"annotations": {"kube-sim/script": json.dumps(
                       {"*": {"duration": 1.5, "logs": "one\ntwo\nthree"}})}},
                   "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "x.invalid/y:1"}]}}}}
        k("apply", "-f", "-", input=json.dumps(job))
        pod = wait_for(lambda: [p for p in self.sim.kubectl_json("get", "pods", "-l", "job-name=ttl")["items"]
                                if p["status"].get("phase") == "Running"], what="running")[0]
        r = k("logs", "-f", pod["metadata"]["name"], timeout=30)
        self.assertEqual(r.stdout, "one\ntwo\nthree\n")      # -f returns when the container ends
        k("wait", "--for=condition=complete", "job/ttl", "--timeout=20s")
        wait_for(lambda: "NotFound" in k("get", "job", "ttl", check=False).stderr, what="job deleted by TTL")

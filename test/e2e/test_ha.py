"""Production surfaces of the operator process: /healthz, /readyz, /metrics, and
leader election between two replicas (SIGKILL failover, SIGTERM handover)."""
import json
import urllib.error
import re
import signal
import time

from .e2eutil import E2ETestCase, Operator, wait_for


def metric(text, metric_name, **labels):
    """The value of one sample in Prometheus text format, or None."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$', line)
        if not m or m.group(1) != metric_name:
            continue
        have = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if have == labels:
            return float(m.group(4))
    return None


class MetricsAndProbesTest(E2ETestCase):
    def test_probes_and_metrics_reflect_the_runs(self):
        self.set_scripts({"e2e.local/builder-ok:1": {"exitCode": 0, "duration": 0.1}})
        op = self.start_operator()
        wait_for(lambda: op.http("probes", "/readyz")[0] == 200, what="ready")
        self.assertEqual(op.http("probes", "/healthz")[0], 200)
        self.apply(self.s2ibuilder("m"))
        for i in range(3):
            self.apply(self.s2irun("m-%d" % i, "m"))
        for i in range(3):
            self.wait_run("m-%d" % i)
        code, text = op.http("metrics", "/metrics")
        self.assertEqual(code, 200)
        self.assertEqual(metric(text, "s2i_s2irun_succeed", namespace="e2e"), 3)
        self.assertEqual(metric(text, "s2i_s2ibuilder_created", namespace="e2e"), 1)
        self.assertEqual(metric(text, "s2i_controller_jobs_created_total"), 3)
        self.assertGreater(metric(text, "process_resident_memory_bytes"), 1e6)
        self.assertGreaterEqual(metric(text, "s2i_kube_client_requests_total", code="201", method="POST"), 3)
        self.assertIn('s2i_s2irun_duration_seconds_count{result="Successful"} 3', text)
        self.assertIsNotNone(metric(text, "s2i_workqueue_depth", name="s2irun"))
        op.stop()
        type(self).operator = None


class LeaderElectionTest(E2ETestCase):
    def test_failover_on_sigkill_and_handover_on_sigterm(self):
        self.set_scripts({"e2e.local/builder-ok:1": {"exitCode": 0, "duration": 0.2}})
        a = Operator(self.sim.kubeconfig, self.workdir, "--leader-elect", "--leader-election-namespace", "default")
        leader = wait_for(lambda: "became the leader" in a.text(), what="first replica leads")
        b = Operator(self.sim.kubeconfig, self.workdir, "--leader-elect", "--leader-election-namespace", "default")
        time.sleep(2)
        self.assertNotIn("became the leader", b.text())       # a standby does not reconcile
        wait_for(lambda: b.http("probes", "/readyz")[0] == 200, what="standby ready (caches synced)")
        self.apply(self.s2ibuilder("ha"))
        self.apply(self.s2irun("ha-1", "ha"))
        self.wait_run("ha-1")
        # SIGKILL: no release; the standby takes over when the lease expires (15 s).
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait()
        t0 = time.time()
        for i in range(2, 5):
            self.apply(self.s2irun("ha-%d" % i, "ha"))
        wait_for(lambda: "became the leader" in b.text(), timeout=30, what="standby takes over")
        self.assertLess(time.time() - t0, 25)
        for i in range(2, 5):
            self.assertEqual(self.wait_run("ha-%d" % i)["status"]["runState"], "Successful")
        for i in range(1, 5):
            self.assertEqual(len(self.jobs_of(self.get("s2irun", "ha-%d" % i))), 1)
        # SIGTERM: the leader releases the Lease; a new replica leads within 2 s.
        c = Operator(self.sim.kubeconfig, self.workdir, "--leader-elect", "--leader-election-namespace", "default")
        wait_for(lambda: c.http("probes", "/readyz")[0] == 200, what="third replica ready")
        t0 = time.time()
        b.stop()
        wait_for(lambda: "became the leader" in c.text(), timeout=10, interval=0.05, what="handover")
        self.assertLess(time.time() - t0, 2.5)
        c.stop()


class OperatorEndpointsTest(E2ETestCase):
    def test_the_operator_serves_build_logs_and_triggers(self):
        import urllib.request
        self.set_scripts({"e2e.local/builder-ok:1": {"exitCode": 0, "duration": 0.2, "logs": "assembling app"}})
        op = self.start_operator()
        b = self.s2ibuilder("trig", secretCode="s3cret")
        self.apply(b)
        wait_for(lambda: op.http("probes", "/readyz")[0] == 200, what="ready")
        url = "http://127.0.0.1:%d/s2itrigger/v1alpha1/general/namespaces/e2e/s2ibuilders/trig/?secretCode=" \
              % op.port("http")
        req = urllib.request.Request(url + "s3cret", data=b'{"newTag":"v9"}', method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            self.assertEqual(r.status, 201)
            created = json.loads(r.read())
        run = self.wait_run(created["name"])
        self.assertEqual(run["spec"]["newTag"], "v9")
        try:
            urllib.request.urlopen(urllib.request.Request(url + "wrong", method="POST"), timeout=10)
            self.fail("a wrong secretCode was accepted")
        except urllib.error.HTTPError as e:
            self.assertEqual(e.code, 401)
        token = self.sim.token
        req = urllib.request.Request("http://127.0.0.1:%d/logs/namespaces/e2e/s2iruns/%s"
                                     % (op.port("http"), created["name"]),
                                     headers={"Authorization": "Bearer " + token})
        with urllib.request.urlopen(req, timeout=10) as r:
            self.assertIn("assembling app", r.read().decode())
        op.stop()
        type(self).operator = None

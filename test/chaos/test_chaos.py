"""The reliability suite: many runs while the world misbehaves. Each scenario creates
CHAOS_RUNS runs (builds scripted in kube-sim's kubelet: two builders succeed, one fails
in assemble) and then requires, for every run:
  - the right final runState (Successful for the good builders, Failed with the script's
    reason for the failing one);
  - exactly one Job owned by it (and no Job owned by no run);
  - no run left unfinished without a Succeeded condition saying why;
  - each builder's status.runCount equal to its number of runs.
It prints the counts either way.

Scenarios:
  api_faults    kube-sim drops watches, expires them (410), compacts history, fails 5% of
                the operator's writes with 409/429/500, slows its requests, and restarts
                twice (state kept) while the runs are created.
  sigkill       the operator is SIGKILLed twice mid-burst and started again.
  leader        two replicas with --leader-elect; the leader is SIGKILLed mid-burst and the
                standby takes over when the Lease expires.

CHAOS_RUNS (default 1000; hack/chaos.sh --short: 100) sets the size; S2I_BUILD_DIR (or
BUILD) the operator binary (make test uses the sanitizer build).
"""
import http.client
import json
import os
import signal
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))
import benchlib as bl  # noqa: E402

RUNS = int(os.environ.get("CHAOS_RUNS", "1000"))
NS = "chaos"
OK_IMAGE = "chaos.local/builder-ok:1"
FAIL_IMAGE = "chaos.local/builder-fail:1"
BUILDERS = {"ok-a": (OK_IMAGE, "Successful"), "ok-b": (OK_IMAGE, "Successful"), "bad": (FAIL_IMAGE, "Failed")}
ORDER = ["ok-a", "ok-b", "bad"]
RESULT = {"s2iBuildResult": {"imageID": "sha256:" + "cd" * 32, "imageSize": 1234,
                             "imageRepoTags": ["registry.chaos:5000/demo/x:latest"]},
          "s2iBuildSource": {"commitID": "feedbeef", "revisionId": "main"}}
# Faster status batching than the defaults, as the e2e suite uses; the client limits
# are raised so that 1,000 runs through a Python API server take minutes, not ten.
OPERATOR_ARGS = ["--builder-status-interval", "0.5", "--run-status-interval", "1",
                 "--kube-api-qps", "200", "--kube-api-burst", "400", "-v", "2"]
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")


def expected(i):
    b = ORDER[i % len(ORDER)]
    return b, BUILDERS[b][1]


class ChaosCase(unittest.TestCase):
    SIM_ARGS = ("--job-backoff", "0.3", "--bookmark-interval", "2", "--history", "1000")

    def setUp(self):
        self.t_start = time.monotonic()
        self.workdir = tempfile.mkdtemp(prefix="s2i-chaos-")
        self.sim = bl.Sim("--gc-discovery-delay", "0", *self.SIM_ARGS)
        self.cluster = bl.Cluster(self.sim)
        bl.install_crds(self.cluster)
        bl.ensure_namespace(self.cluster, NS)
        bl.set_scripts(self.cluster, {
            OK_IMAGE: {"exitCode": 0, "duration": 0.2, "logs": "assembling\ndone",
                       "terminationMessage": json.dumps(RESULT)},
            FAIL_IMAGE: {"exitCode": 1, "duration": 0.1, "logs": "npm ERR! missing script: build",
                         "terminationMessage": "AssembleFailed: assemble exited with code 1"},
            bl.PREPARE_IMAGE: {"exitCode": 0, "duration": 0.02}})
        c = self.cluster.conn()
        for name, (image, _) in BUILDERS.items():
            code, body = c.request("POST", bl.BUILDERS_PATH % NS, bl.builder(name, image=image), retries=3)
            self.assertEqual(code, 201, body)
        c.close()
        self.operators = []

    def tearDown(self):
        for op in self.operators:
            if op.alive():
                op.stop()
        self.sim.stop()

    def operator(self, *extra):
        op = bl.Operator(self.cluster, self.workdir, *(OPERATOR_ARGS + list(extra)))
        self.operators.append(op)
        return op

    def _up(self):
        try:
            return self.sim.request("GET", "/healthz", timeout=2)[0] == 200
        except OSError:
            return False

    # -- the burst ----------------------------------------------------------------------

    def create_runs(self, n, rate, at=None):
        """Creates n runs at about `rate` per second from 4 threads; at(i) is called
        (in order, once) when run i is about to be created, to strike mid-burst."""
        names = ["run-%05d" % i for i in range(n)]
        lock = threading.Lock()
        nxt = [0]
        t0 = time.monotonic()
        errors = []

        def worker():
            c = self.cluster.conn()
            while True:
                with lock:
                    i = nxt[0]
                    if i >= n:
                        break
                    nxt[0] += 1
                    if at:
                        at(i)
                delay = t0 + i / float(rate) - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                b, _ = expected(i)
                for attempt in range(100):
                    try:
                        code, body = c.request("POST", bl.RUNS_PATH % NS, bl.run(names[i], b), retries=2)
                    except OSError as e:
                        code, body = 0, str(e)
                    if code in (201, 409):   # 409: created by an attempt whose answer was lost
                        break
                    time.sleep(0.3)
                else:
                    errors.append((names[i], code, body))
            c.close()
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [], "runs could not be created")
        return names

    def final_runs(self):
        items = bl.list_items(self.cluster, bl.RUNS_PATH % NS)
        return [r for r in items if (r.get("status") or {}).get("runState") in ("Successful", "Failed")]

    def wait_all_final(self, n, timeout):
        deadline = time.monotonic() + timeout
        done = []
        while time.monotonic() < deadline:
            try:
                done = self.final_runs()
            except (OSError, RuntimeError):
                done = []
            if len(done) >= n:
                return True
            time.sleep(1.0)
        return False

    # -- the verdict ----------------------------------------------------------------------

    def verify(self, scenario, n, extra=""):
        runs = bl.list_items(self.cluster, bl.RUNS_PATH % NS)
        jobs = bl.list_items(self.cluster, bl.JOBS_PATH % NS)
        by_name = {r["metadata"]["name"]: r for r in runs}
        owners = {}
        orphans = 0
        for j in jobs:
            refs = [r["uid"] for r in j["metadata"].get("ownerReferences") or [] if r.get("kind") == "S2iRun"]
            if not refs:
                orphans += 1
            for u in refs:
                owners[u] = owners.get(u, 0) + 1
        counts = {"runs": len(runs), "Successful": 0, "Failed": 0, "wrong state": 0, "unfinished": 0,
                  "stuck without reason": 0, "jobs": len(jobs), "runs with 0 Jobs": 0, "runs with >1 Job": 0,
                  "orphan Jobs": orphans}
        wrong = []
        for i in range(n):
            name = "run-%05d" % i
            r = by_name.get(name)
            b, want = expected(i)
            st = (r or {}).get("status") or {}
            state = st.get("runState")
            if state in ("Successful", "Failed"):
                counts[state] += 1
                if state != want:
                    counts["wrong state"] += 1
                    wrong.append((name, state, want, st.get("conditions")))
            else:
                counts["unfinished"] += 1
                conds = [c for c in st.get("conditions") or [] if c.get("type") == "Succeeded"]
                if not conds or not conds[0].get("reason") or not conds[0].get("message"):
                    counts["stuck without reason"] += 1
                wrong.append((name, state, want, st.get("conditions")))
            k = owners.get((r or {}).get("metadata", {}).get("uid"), 0)
            if k == 0:
                counts["runs with 0 Jobs"] += 1
            elif k > 1:
                counts["runs with >1 Job"] += 1
        # runCount is written in batches: give it a few intervals to catch up
        want_counts = {b: sum(1 for i in range(n) if expected(i)[0] == b) for b in BUILDERS}

        def run_counts():
            c = self.cluster.conn()
            got = {}
            for b in BUILDERS:
                code, obj = c.request("GET", bl.BUILDERS_PATH % NS + "/" + b, retries=3)
                got[b] = ((obj or {}).get("status") or {}).get("runCount") if code == 200 else None
            c.close()
            return got
        deadline = time.monotonic() + 30
        got = run_counts()
        while got != want_counts and time.monotonic() < deadline:
            time.sleep(0.5)
            got = run_counts()
        counts["builders with wrong runCount"] = sum(1 for b in BUILDERS if got.get(b) != want_counts[b])
        reasons_failed = {}
        for r in runs:
            st = r.get("status") or {}
            if st.get("runState") == "Failed":
                c = [x for x in st.get("conditions") or [] if x.get("type") == "Succeeded"]
                reason = c[0].get("reason") if c else None
                reasons_failed[reason] = reasons_failed.get(reason, 0) + 1
        sanitizer = [op.log_path for op in self.operators if any(m in op.text() for m in SANITIZER_MARKS)]
        took = time.monotonic() - self.t_start
        print("\n[chaos %s] %d runs in %.0f s%s" % (scenario, n, took, extra))
        print("  " + ", ".join("%s %s" % kv for kv in counts.items()))
        print("  runCount: %s (want %s); Failed reasons: %s" % (got, want_counts, reasons_failed))
        sys.stdout.flush()
        self.assertEqual(counts["runs"], n)
        self.assertEqual(wrong[:5], [], "runs in the wrong state")
        self.assertEqual(counts["runs with 0 Jobs"] + counts["runs with >1 Job"] + orphans, 0)
        self.assertEqual(counts["stuck without reason"], 0)
        # The failing builder's runs carry the script's reason (from the pod's termination
        # message), not the Job's generic one: the operator's pod cache kept up.
        self.assertEqual(reasons_failed, {"AssembleFailed": counts["Failed"]} if counts["Failed"] else {})
        self.assertEqual(got, want_counts)
        self.assertEqual(sanitizer, [], "sanitizer report in an operator log")
        for op in self.operators:
            if op.alive():
                self.assertEqual(op.stop(), 0, "operator did not exit cleanly: %s" % op.log_path)
        return counts


class ApiFaultsTest(ChaosCase):
    def test_runs_survive_api_faults_and_two_api_server_restarts(self):
        n = RUNS
        op = self.operator()
        op.wait_ready(timeout=60)
        rules = [{"verb": "write", "resource": "*", "code": code, "probability": 0.05 / 3,
                  "retryAfter": 1, "userAgent": "s2i-operator"} for code in (409, 429, 500)]
        rules += [{"verb": "write", "resource": "*", "latencyMs": 10, "userAgent": "s2i-operator"},
                  {"verb": "list", "resource": "*", "latencyMs": 100, "userAgent": "s2i-operator"},
                  {"verb": "get", "resource": "*", "latencyMs": 20, "userAgent": "s2i-operator"}]
        for r in rules:
            self.sim.admin("POST", "faults", r)
        stop = threading.Event()
        actions = {"close-watches": 0, "expire-watches": 0, "compact": 0, "restart": 0}

        def chaos():
            cycle = ["close-watches", "expire-watches", "compact"]
            i = 0
            while not stop.wait(2.0):
                a = cycle[i % len(cycle)]
                try:
                    if self.sim.admin("POST", a)[0] == 200:
                        actions[a] += 1
                except (OSError, http.client.HTTPException):   # down or cut by a restart
                    pass
                i += 1
        t = threading.Thread(target=chaos, daemon=True)
        t.start()
        rate = max(10.0, n / 40.0)          # the burst spans ~40 s in the full form

        restarted = threading.Lock()
        restarts = []

        def restart():
            # An API server restart as its clients see it: in-flight requests and watches
            # are cut, connections refused for 2 s, then it serves again with every
            # acknowledged write (etcd) and a new watch cache (a watch resumed from before
            # it gets 410). Nothing is drained or waited for: runs are being created and
            # built all the while, the creators and the operator retry through it, and
            # kube-sim's kubelet goes on reporting pods. The fault rules are kube-sim's,
            # not the listener's: they outlive the restart. The lock keeps the second
            # restart from being asked of a server still down from the first.
            with restarted:
                self.sim.admin("POST", "restart", {"downSeconds": 2, "keepState": True})
                bl.wait_for(lambda: not self._up(), timeout=10, what="kube-sim down")
                bl.wait_for(self._up, timeout=60, what="kube-sim back")
                actions["restart"] += 1

        def strike(i):
            # Called with the creators held: the restart runs in its own thread so that
            # they go on creating into it.
            if i in (n // 3, 2 * n // 3):
                restarts.append(threading.Thread(target=restart, daemon=True))
                restarts[-1].start()
        try:
            self.create_runs(n, rate, at=strike)
            for th in restarts:
                th.join()
            finished = self.wait_all_final(n, timeout=120 + n * 0.6)
        finally:
            stop.set()
            t.join()
            self.sim.admin("DELETE", "faults")
        if not finished:
            self.wait_all_final(n, timeout=60)
        self.assertTrue(op.alive(), "the operator died: %s" % op.log_path)
        self.verify("api_faults", n, "; chaos: %s; writes failed 5%% (409/429/500), latency 10-100 ms%s"
                    % (actions, "" if finished else "; NOT all final while the chaos lasted"))
        self.assertEqual(actions["restart"], 2, "kube-sim was not restarted twice")


class SigkillTest(ChaosCase):
    def test_runs_survive_operator_sigkill_mid_burst(self):
        n = RUNS
        ops = [self.operator()]
        ops[0].wait_ready(timeout=60)
        kills = []

        def strike(i):
            if i in (n // 3, 2 * n // 3):
                ops[-1].proc.send_signal(signal.SIGKILL)
                ops[-1].proc.wait()
                kills.append(i)
                ops.append(self.operator())      # started at once, as a Deployment would
        self.create_runs(n, max(10.0, n / 30.0), at=strike)
        self.assertTrue(self.wait_all_final(n, timeout=120 + n * 0.5))
        self.verify("sigkill", n, "; operator SIGKILLed and restarted after runs %s" % kills)


class LeaderTest(ChaosCase):
    def test_runs_survive_leader_sigkill_with_two_replicas(self):
        n = RUNS
        args = ("--leader-elect", "--leader-election-namespace", "default")
        a = self.operator(*args)
        bl.wait_for(lambda: "became the leader" in a.text(), timeout=30, what="first replica leads")
        b = self.operator(*args)
        b.wait_ready(timeout=60)
        killed = []

        def strike(i):
            if i == n // 2:
                a.proc.send_signal(signal.SIGKILL)
                a.proc.wait()
                killed.append((i, time.monotonic()))
        self.create_runs(n, max(10.0, n / 30.0), at=strike)
        bl.wait_for(lambda: "became the leader" in b.text(), timeout=40, what="the standby takes over")
        self.assertTrue(self.wait_all_final(n, timeout=120 + n * 0.5))
        self.verify("leader", n, "; leader SIGKILLed after run %d, the standby led" % killed[0][0])


if __name__ == "__main__":
    unittest.main()

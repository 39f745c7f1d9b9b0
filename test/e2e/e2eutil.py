"""End-to-end test harness: kube-sim (or the cluster in $E2E_KUBECONFIG), the
real kubectl, and our operator binary from $S2I_BUILD_DIR (hack/run-e2e.sh sets
it; sanitizer builds under make test)."""
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "test", "kube-sim"))
from tests.simutil import Sim, wait_for  # noqa: E402

BUILD = os.environ.get("S2I_BUILD_DIR", os.path.join(ROOT, "build"))
PREPARE_IMAGE = "e2e.local/s2i-prepare:test"
# A command the operator runs under (make valgrind: valgrind with --error-exitcode, so a
# memory error or leak fails stop() as a non-zero exit does).
WRAPPER = shlex.split(os.environ.get("S2I_E2E_WRAPPER", ""))


class Operator:
    """The operator as a process; stop() requires a clean exit (code 0, no
    sanitizer report)."""

    def __init__(self, kubeconfig, workdir, *args):
        self.log_path = os.path.join(workdir, "operator-%d.log" % time.time_ns())
        self.log = open(self.log_path, "w")
        binary = os.path.join(BUILD, "bin", "s2i-operator")
        cmd = [binary, "--kubeconfig", kubeconfig, "--builder-image", PREPARE_IMAGE, "-v", "2",
               "--builder-status-interval", "0.2", "--run-status-interval", "0.5",
               "--metrics-bind-address", "127.0.0.1:0", "--health-probe-bind-address", "127.0.0.1:0",
               "--http-bind-address", "127.0.0.1:0", "--webhook-port", "0"] + list(args)
        self.proc = subprocess.Popen(WRAPPER + cmd, stdout=self.log, stderr=subprocess.STDOUT)

    def port(self, which):
        """The bound port of "metrics", "probes" or "http", from the start-up log line."""
        import re
        def found():
            m = re.search(r'%sPort="(\d+)"' % which, self.text())
            return int(m.group(1)) if m else None
        return wait_for(found, timeout=20, what="%s port in the operator log" % which)

    def http(self, which, path):
        import urllib.error
        import urllib.request
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port(which), path), timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def stop(self, sig=signal.SIGTERM, check=True):
        if self.proc.poll() is None:
            if WRAPPER:
                # Under valgrind the start takes seconds: a signal before the operator
                # blocks it (as main does first) would end it as the default action does.
                wait_for(lambda: "Port=" in self.text() or self.proc.poll() is not None, timeout=60,
                         what="the operator's start under %s" % WRAPPER[0])
            self.proc.send_signal(sig)
            grace = 120 if WRAPPER else 20      # valgrind's leak check takes its time
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("operator did not stop within %d s of %s" % (grace, sig))
        self.log.close()
        out = self.text()
        if check:
            if sig == signal.SIGTERM and self.proc.returncode != 0:
                raise AssertionError("operator exited %d:\n%s" % (self.proc.returncode, out[-3000:]))
            if "ERROR: AddressSanitizer" in out or "runtime error:" in out or "LeakSanitizer" in out:
                raise AssertionError("sanitizer report in operator log:\n%s" % out[-6000:])
        return out

    def text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()


class E2ETestCase(unittest.TestCase):
    """A kube-sim with the CRDs installed, one per test class; an operator per class
    (start_operator) so tests can restart it."""
    SIM_ARGS = ("--gc-discovery-delay", "0", "--job-backoff", "0.3", "--bookmark-interval", "2")
    NAMESPACE = "e2e"

    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="s2i-e2e-")
        cls.sim = Sim(*cls.SIM_ARGS)
        cls.kubectl("apply", "-f", os.path.join(ROOT, "crds"))
        cls.kubectl("wait", "--for=condition=established", "crd", "--all", "--timeout=30s")
        cls.kubectl("create", "namespace", cls.NAMESPACE)
        cls.set_scripts({PREPARE_IMAGE: {"exitCode": 0, "duration": 0.05, "logs": "fetched source"}})
        cls.operator = None

    @classmethod
    def tearDownClass(cls):
        if cls.operator is not None:
            cls.operator.stop()
        cls.sim.stop()

    @classmethod
    def start_operator(cls, *args):
        cls.operator = Operator(cls.sim.kubeconfig, cls.workdir, *args)
        return cls.operator

    @classmethod
    def kubectl(cls, *args, input=None, check=True):
        return cls.sim.kubectl(*args, input=input, check=check)

    @classmethod
    def kjson(cls, *args):
        return cls.sim.kubectl_json(*args)

    @classmethod
    def apply(cls, obj, check=True):
        return cls.kubectl("apply", "-n", cls.NAMESPACE, "-f", "-", input=json.dumps(obj), check=check)

    @classmethod
    def set_scripts(cls, scripts):
        """What each image "does" in kube-sim's scripted kubelet (key: image)."""
        cur = cls.sim.request("GET", "/api/v1/namespaces/kube-system/configmaps/kube-sim-scripts")
        data = cur[1].get("data", {}) if cur[0] == 200 else {}
        data.update({k: json.dumps(v) for k, v in scripts.items()})
        cm = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "kube-sim-scripts", "namespace": "kube-system"}, "data": data}
        cls.kubectl("apply", "-f", "-", input=json.dumps(cm))

    # -- objects ------------------------------------------------------------------------

    @staticmethod
    def s2ibuilder(name, image="e2e.local/builder-ok:1", **config):
        cfg = {"builderImage": image, "imageName": "registry.e2e:5000/demo/%s" % name, "tag": "latest",
               "sourceUrl": "https://git.e2e/demo/%s.git" % name, "revisionId": "main",
               "builderPullPolicy": "if-not-present", "export": True, "outputBuildResult": True}
        cfg.update(config)
        return {"apiVersion": "devops.kubesphere.io/v1alpha1", "kind": "S2iBuilder",
                "metadata": {"name": name}, "spec": {"config": cfg}}

    @staticmethod
    def s2irun(name, builder, **spec):
        s = {"builderName": builder}
        s.update(spec)
        return {"apiVersion": "devops.kubesphere.io/v1alpha1", "kind": "S2iRun", "metadata": {"name": name},
                "spec": s}

    def get(self, kind, name):
        r = self.kubectl("get", kind, name, "-n", self.NAMESPACE, "-o", "json", check=False)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def wait_run(self, name, states=("Successful", "Failed"), timeout=60):
        def done():
            run = self.get("s2irun", name)
            return run if run and run.get("status", {}).get("runState") in states else None
        return wait_for(done, timeout=timeout, interval=0.2, what="run %s in %s" % (name, states))

    def condition(self, obj, ctype="Succeeded"):
        for c in obj.get("status", {}).get("conditions") or []:
            if c.get("type") == ctype:
                return c
        return None

    def jobs_of(self, run):
        uid = run["metadata"]["uid"]
        jobs = self.kjson("get", "jobs", "-n", self.NAMESPACE)["items"]
        return [j for j in jobs if any(r.get("uid") == uid for r in j["metadata"].get("ownerReferences") or [])]

"""Helpers for kube-sim's own tests: start kube-sim as a separate process (as
users run it), talk to it with the real kubectl and with raw HTTP."""
import base64
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SIM_ROOT = os.path.dirname(HERE)
KUBECTL = shutil.which("kubectl")


class Sim:
    """A running kube-sim process with a kubeconfig."""

    def __init__(self, *args, state_dir=None):
        self.dir = state_dir or tempfile.mkdtemp(prefix="kube-sim-test-")
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        cmd = [sys.executable, "-m", "kube_sim", "--port", "0", "--kubeconfig-out", self.kubeconfig,
               "--cert-dir", os.path.join(self.dir, "certs")] + list(args)
        self.log = open(os.path.join(self.dir, "kube-sim.log"), "w")
        self.proc = subprocess.Popen(cmd, cwd=SIM_ROOT, stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.proc.kill()
            raise RuntimeError("kube-sim did not start: %r (log %s)" % (line, self.log.name))
        self.url = line.strip().rsplit(" ", 1)[1]
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()
        with open(self.kubeconfig) as f:
            cfg = json.load(f)
        self.token = cfg["users"][0]["user"]["token"]
        self.ssl = ssl.create_default_context()
        ca = cfg["clusters"][0]["cluster"].get("certificate-authority-data")
        if ca:
            self.ssl.load_verify_locations(cadata=base64.b64decode(ca).decode())
        else:
            self.ssl = None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()

    # -- kubectl --------------------------------------------------------------------

    def kubectl(self, *args, input=None, check=True, timeout=60):
        env = dict(os.environ, KUBECONFIG=self.kubeconfig, KUBECACHEDIR=os.path.join(self.dir, "kubecache"))
        r = subprocess.run([KUBECTL] + list(args), input=input, capture_output=True, text=True, env=env,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError("kubectl %s failed (%d):\n%s\n%s" % (" ".join(args), r.returncode, r.stdout,
                                                                       r.stderr))
        return r

    def kubectl_json(self, *args):
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    # -- raw HTTP -------------------------------------------------------------------

    def request(self, method, path, body=None, ctype="application/json", token="default", headers=None,
                timeout=30, raw=False):
        h = {"Accept": "application/json"}
        if token == "default":
            token = self.token
        if token:
            h["Authorization"] = "Bearer " + token
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            h["Content-Type"] = ctype
        h.update(headers or {})
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, context=self.ssl, timeout=timeout) as r:
                txt = r.read()
                return r.status, (txt if raw else _decode(txt)), dict(r.headers)
        except urllib.error.HTTPError as e:
            txt = e.read()
            return e.code, (txt if raw else _decode(txt)), dict(e.headers)

    def watch(self, path, seconds, on_open=None):
        """Collects watch events for up to `seconds` (the path should carry timeoutSeconds)."""
        req = urllib.request.Request(self.url + path, headers={"Authorization": "Bearer " + self.token,
                                                               "Accept": "application/json"})
        events = []
        with urllib.request.urlopen(req, context=self.ssl, timeout=seconds + 10) as r:
            if on_open:
                on_open()
            for line in r:
                if line.strip():
                    events.append(json.loads(line))
        return events

    def admin(self, method, cmd, body=None):
        return self.request(method, "/kube-sim/" + cmd, body)


def _decode(txt):
    try:
        return json.loads(txt)
    except ValueError:
        return txt.decode(errors="replace")


def wait_for(fn, timeout=20.0, interval=0.1, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %.0fs waiting for %s (last: %r)" % (timeout, what, last))


class SimTestCase(unittest.TestCase):
    """One kube-sim per test class; SIM_ARGS adds command-line options."""
    SIM_ARGS = ("--gc-discovery-delay", "0", "--job-backoff", "0.2", "--bookmark-interval", "1")

    @classmethod
    def setUpClass(cls):
        if KUBECTL is None:
            raise unittest.SkipTest("kubectl is not installed")
        cls.sim = Sim(*cls.SIM_ARGS)

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()


CRD_WIDGET = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.demo.example.com
spec:
  group: demo.example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, shortNames: [wdg], categories: [demo]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    - {name: Phase, type: string, jsonPath: .status.phase}
    schema:
      openAPIV3Schema:
        type: object
        description: A widget for tests.
        properties:
          spec:
            type: object
            description: What the widget should be.
            required: [size]
            properties:
              size: {type: integer, minimum: 0, description: How big the widget is.}
              color: {type: string, enum: [red, blue], default: red, description: Its color.}
          status:
            type: object
            properties:
              phase: {type: string}
              conditions:
                type: array
                items:
                  type: object
                  properties:
                    type: {type: string}
                    status: {type: string}
                    reason: {type: string}
"""

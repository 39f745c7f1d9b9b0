"""kube-sim with `--runtime exec`: pods really run a tiny busybox image pulled from a
loopback docker-registry, in unprivileged user+mount+pid namespaces, driven by kubectl.

The image is made here with test tooling only: Debian's busybox-static binary,
packed with umoci and pushed with skopeo to a docker-registry started on a free
loopback port with filesystem storage in a temp dir."""
import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

from .simutil import KUBECTL, SIM_ROOT, Sim, wait_for

sys.path.insert(0, SIM_ROOT)
from kube_sim import runtime_exec  # noqa: E402

APPLETS = ["sh", "cat", "echo", "id", "sleep", "ls", "touch", "mkdir", "pwd", "env", "true", "false", "wc",
           "hostname", "test", "grep"]


def _busybox():
    """A statically linked busybox (busybox-static), or None."""
    for path in ("/bin/busybox", "/usr/bin/busybox"):
        if os.path.isfile(path) and _is_static_elf(path):
            return path
    return None


def _is_static_elf(path):
    """True when the ELF file has no PT_INTERP (needs no dynamic loader)."""
    import struct
    with open(path, "rb") as f:
        hdr = f.read(64)
        if hdr[:4] != b"\x7fELF" or hdr[4] != 2:
            return False
        phoff, = struct.unpack_from("<Q", hdr, 32)
        phentsize, phnum = struct.unpack_from("<HH", hdr, 54)
        f.seek(phoff)
        for _ in range(phnum):
            ph = f.read(phentsize)
            if struct.unpack_from("<I", ph, 0)[0] == 3:
                return False
    return True


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _run(*cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise AssertionError("%s failed:\n%s%s" % (" ".join(cmd), r.stdout, r.stderr))
    return r.stdout


class Registry:
    """Debian's docker-registry on a free loopback port, storage in a temp dir."""

    def __init__(self, root):
        self.port = _free_port()
        cfg = os.path.join(root, "registry.yml")
        with open(cfg, "w") as f:
            f.write("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\n"
                    "http:\n  addr: 127.0.0.1:%d\n" % (os.path.join(root, "registry"), self.port))
        self.log = open(os.path.join(root, "registry.log"), "w")
        self.proc = subprocess.Popen(["docker-registry", "serve", cfg], stdout=self.log, stderr=self.log)
        wait_for(self._up, timeout=20, what="docker-registry to answer")
        self.host = "127.0.0.1:%d" % self.port

    def _up(self):
        if self.proc.poll() is not None:
            raise AssertionError("docker-registry exited (see %s)" % self.log.name)
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/v2/" % self.port, timeout=2) as r:
                return r.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def build_busybox_image(work, busybox, ref):
    """An OCI image: busybox + applet links, user 1001, pushed to docker://ref."""
    layout = os.path.join(work, "oci")
    bundle = os.path.join(work, "bundle")
    _run("umoci", "init", "--layout", layout)
    _run("umoci", "new", "--image", layout + ":bb")
    _run("umoci", "unpack", "--rootless", "--image", layout + ":bb", bundle)
    rootfs = os.path.join(bundle, "rootfs")
    for d in ("bin", "etc", "tmp", "home/app"):
        os.makedirs(os.path.join(rootfs, d), exist_ok=True)
    os.chmod(os.path.join(rootfs, "tmp"), 0o1777)
    os.chmod(os.path.join(rootfs, "home/app"), 0o777)
    shutil.copy2(busybox, os.path.join(rootfs, "bin", "busybox"))
    for a in APPLETS:
        os.symlink("busybox", os.path.join(rootfs, "bin", a))
    with open(os.path.join(rootfs, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\napp:x:1001:0:app:/home/app:/bin/sh\n")
    with open(os.path.join(rootfs, "etc", "group"), "w") as f:
        f.write("root:x:0:\nbuilders:x:2000:app\n")
    _run("umoci", "repack", "--image", layout + ":bb", bundle)
    _run("umoci", "config", "--image", layout + ":bb", "--config.user=1001", "--config.env=PATH=/bin",
         "--config.env=IMAGE_VAR=from-image", "--config.workingdir=/home/app",
         "--config.cmd=sh", "--config.cmd=-c", "--config.cmd=echo image default; id -u; pwd")
    _run("skopeo", "--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false", "oci:%s:bb" % layout,
         "docker://" + ref)


def pod(name, image, script=None, **spec):
    c = {"name": "main", "image": image}
    if script is not None:
        c["command"] = ["sh", "-c", script]
    c.update(spec.pop("container", {}))
    body = {"restartPolicy": "Never", "containers": [c]}
    body.update(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": body}


class ExecRuntimeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if KUBECTL is None:
            raise unittest.SkipTest("kubectl is not installed")
        for tool in ("skopeo", "umoci", "docker-registry"):
            if shutil.which(tool) is None:
                raise unittest.SkipTest("%s is not installed (Debian package %s)" % (tool, tool))
        cls.busybox = _busybox()
        if cls.busybox is None:
            raise unittest.SkipTest("no statically linked busybox (Debian package busybox-static)")
        why = runtime_exec.unavailable()
        if why:
            raise unittest.SkipTest("exec runtime unavailable: %s" % why)
        cls.work = tempfile.mkdtemp(prefix="kube-sim-exec-test-")
        cls.registry = Registry(cls.work)
        try:
            cls.image = "%s/test/busybox:1.0" % cls.registry.host
            build_busybox_image(cls.work, cls.busybox, cls.image)
            os.makedirs(os.path.join(cls.work, "sim"))
            saved = dict(os.environ)
            os.environ.update(KUBE_SIM_IMAGE_CACHE=os.path.join(cls.work, "cache"),
                              KUBE_SIM_RUNTIME_DIR=os.path.join(cls.work, "runtime"), KUBE_SIM_PULL_BACKOFF="1")
            try:
                cls.sim = Sim("--runtime", "exec", "--job-backoff", "0.2", "--gc-discovery-delay", "0",
                              "--verbose", state_dir=os.path.join(cls.work, "sim"))
            finally:
                os.environ.clear()
                os.environ.update(saved)
        except BaseException:
            cls.registry.stop()
            shutil.rmtree(cls.work, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()
        cls.registry.stop()
        if os.environ.get("KEEP_EXEC_TEST_DIR"):
            print("kept %s" % cls.work, file=sys.stderr)
        else:
            shutil.rmtree(cls.work, ignore_errors=True)

    # -- helpers ------------------------------------------------------------------------

    def create(self, obj):
        self.sim.kubectl("create", "-f", "-", input=json.dumps(obj))

    def get_pod(self, name):
        code, body, _ = self.sim.request("GET", "/api/v1/namespaces/default/pods/" + name)
        return body if code == 200 else None

    def wait_phase(self, name, phases, timeout=60):
        def done():
            p = self.get_pod(name)
            return p if p and (p.get("status") or {}).get("phase") in phases else None
        try:
            return wait_for(done, timeout=timeout, interval=0.05, what="pod %s in %s" % (name, phases))
        except AssertionError:
            print(self.sim.kubectl("describe", "pod", name, check=False).stdout, file=sys.stderr)
            raise

    def logs(self, name, *args):
        return self.sim.kubectl("logs", name, *args).stdout

    def started(self, name, line):
        return line in self.sim.kubectl("logs", name, check=False).stdout

    def events(self, name):
        evs = self.sim.kubectl_json("get", "events", "--field-selector", "involvedObject.name=" + name)["items"]
        return [(e["reason"], e["message"]) for e in evs]

    def state(self, p, group="containerStatuses", i=0):
        return p["status"][group][i]["state"]

    def watch_until_deleted(self, name, action, timeout=30):
        """Pod watch events (type, pod) until DELETED, after action() ran once the watch is open."""
        url = self.sim.url + "/api/v1/namespaces/default/pods?watch=1&fieldSelector=metadata.name%%3D%s" \
                             "&timeoutSeconds=%d" % (name, timeout)
        req = urllib.request.Request(url, headers={"Authorization": "Bearer " + self.sim.token})
        out = []
        with urllib.request.urlopen(req, context=self.sim.ssl, timeout=timeout + 10) as r:
            threading.Thread(target=action, daemon=True).start()
            for line in r:
                if not line.strip():
                    continue
                ev = json.loads(line)
                out.append((ev["type"], ev["object"]))
                if ev["type"] == "DELETED":
                    break
        return out

    # -- tests --------------------------------------------------------------------------

    def test_pod_with_volumes_runs_as_image_user_and_reports_termination_message(self):
        k = self.sim.kubectl
        k("create", "secret", "generic", "app-secret", "--from-literal=password=s3cr3t")
        k("create", "configmap", "app-config", "--from-literal=key=configured-value")
        script = ("echo hello; id -u; cat /etc/cfg/key; echo; cat /etc/secret/pw; echo; cat /etc/podinfo/ann; echo;"
                  " echo env $POD_NAME $PASSWORD $IMAGE_VAR $GREETING; cat /etc/hostname;"
                  " (echo x > /etc/cfg/new) 2>/dev/null || echo config is read-only;"
                  " ls /proc | grep -c '^[0-9]'; ls -l /etc/secret/pw;"
                  " echo -n done > /dev/termination-log")
        obj = pod("hello", self.image, script, container={
            "imagePullPolicy": "Always",
            "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "app-secret", "key": "password"}}},
                    {"name": "GREETING", "value": "hi-$(POD_NAME)"}],
            "volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg"},
                             {"name": "sec", "mountPath": "/etc/secret", "readOnly": True},
                             {"name": "podinfo", "mountPath": "/etc/podinfo"}]},
            volumes=[{"name": "cfg", "configMap": {"name": "app-config"}},
                     {"name": "sec", "secret": {"secretName": "app-secret", "defaultMode": 0o444, "items": [
                         {"key": "password", "path": "pw"}]}},
                     {"name": "podinfo", "downwardAPI": {"items": [
                         {"path": "ann", "fieldRef": {"fieldPath": "metadata.annotations['team']"}}]}}])
        obj["metadata"]["annotations"] = {"team": "builders"}
        t0 = time.time()
        self.create(obj)
        p = self.wait_phase("hello", ("Succeeded", "Failed"))
        elapsed = time.time() - t0
        print("\n  busybox pod (imagePullPolicy Always): created -> %s in %.2fs" % (p["status"]["phase"], elapsed),
              file=sys.stderr)
        lines = self.logs("hello").splitlines()
        self.assertEqual(p["status"]["phase"], "Succeeded", lines)
        self.assertEqual(lines[:5], ["hello", "1001", "configured-value", "s3cr3t", "builders"])
        self.assertEqual(lines[5], "env hello s3cr3t from-image hi-hello")
        self.assertEqual(lines[6], "hello")                      # hostname
        self.assertEqual(lines[7], "config is read-only")
        self.assertLessEqual(int(lines[8]), 4)                   # own pid namespace: init, sh, ls, grep
        self.assertTrue(lines[9].startswith("-r--r--r--"), lines[9])     # defaultMode
        t = self.state(p)["terminated"]
        self.assertEqual((t["exitCode"], t["reason"], t.get("message")), (0, "Completed", "done"))
        cs = p["status"]["containerStatuses"][0]
        self.assertRegex(cs["imageID"], r"^docker-pullable://%s/test/busybox@sha256:[0-9a-f]{64}$"
                         % self.registry.host.replace(".", r"\."))
        reasons = [r for r, _ in self.events("hello")]
        for r in ("Scheduled", "Pulling", "Pulled", "Created", "Started"):
            self.assertIn(r, reasons)
        # the bundle stays until the pod is deleted, then goes with the pod's volumes
        pdir = os.path.join(self.work, "runtime", "pods", p["metadata"]["uid"])
        self.assertTrue(os.path.isdir(os.path.join(pdir, "containers", "main", "rootfs", "bin")))
        self.sim.kubectl("delete", "pod", "hello")
        wait_for(lambda: not os.path.exists(pdir), what="pod dir removed")

    def test_image_defaults_and_kubernetes_command_semantics(self):
        self.create(pod("defaults", self.image))
        self.create(pod("as-root", self.image, "id -u; id -G; pwd; echo $HOME",
                        container={"workingDir": "/tmp/work", "securityContext": {"runAsUser": 0}}))
        self.create(pod("args-only", self.image, container={"args": ["sh", "-c", "echo args $(MSG) '$$(MSG)'"],
                                                            "env": [{"name": "MSG", "value": "expanded"}]}))
        for name in ("defaults", "as-root", "args-only"):
            self.assertEqual(self.wait_phase(name, ("Succeeded", "Failed"))["status"]["phase"], "Succeeded",
                             self.logs(name))
        self.assertEqual(self.logs("defaults").splitlines(), ["image default", "1001", "/home/app"])
        self.assertEqual(self.logs("as-root").splitlines(), ["0", "0", "/tmp/work", "/root"])
        self.assertEqual(self.logs("args-only").splitlines(), ["args expanded $(MSG)"])
        # the image was already pulled (IfNotPresent for a tagged image)
        self.assertIn(("Pulled", 'Container image "%s" already present on machine' % self.image),
                      self.events("defaults"))

    def test_failing_command_reports_exit_code_and_log_tail(self):
        self.create(pod("fails", self.image, "echo starting; echo last words >&2; exit 3",
                        container={"terminationMessagePolicy": "FallbackToLogsOnError"}))
        p = self.wait_phase("fails", ("Succeeded", "Failed"))
        self.assertEqual(p["status"]["phase"], "Failed")
        t = self.state(p)["terminated"]
        self.assertEqual((t["exitCode"], t["reason"]), (3, "Error"))
        self.assertIn("last words", t["message"])
        self.assertEqual(self.logs("fails").splitlines(), ["starting", "last words"])

    def test_missing_command_is_a_start_error(self):
        self.create(pod("no-such-cmd", self.image, container={"command": ["/bin/nonexistent"]}))
        p = self.wait_phase("no-such-cmd", ("Succeeded", "Failed"))
        t = self.state(p)["terminated"]
        self.assertEqual((t["exitCode"], t["reason"]), (128, "StartError"))
        self.assertIn("/bin/nonexistent", t["message"])

    def test_missing_image_backs_off_while_pending(self):
        image = "%s/test/nope:1" % self.registry.host
        self.create(pod("no-image", image, "true"))

        def backoff():
            p = self.get_pod("no-image")
            st = (p.get("status") or {}).get("containerStatuses") or [{}]
            w = (st[0].get("state") or {}).get("waiting") or {}
            return p if w.get("reason") == "ImagePullBackOff" else None
        p = wait_for(backoff, timeout=30, what="ImagePullBackOff")
        self.assertEqual(p["status"]["phase"], "Pending")
        self.assertIn(image, self.state(p)["waiting"]["message"])
        evs = self.events("no-image")
        self.assertTrue(any(r == "Failed" and image in m for r, m in evs), evs)
        self.assertIn("BackOff", [r for r, _ in evs])
        wait_for(lambda: any(r == "ErrImagePull" or m == "Error: ErrImagePull" for r, m in self.events("no-image")),
                 what="ErrImagePull event")
        t0 = time.time()
        self.sim.kubectl("delete", "pod", "no-image", "--timeout=20s")
        self.assertLess(time.time() - t0, 10)

    def test_pull_policy_never_without_the_image_waits(self):
        image = "%s/test/never-pulled:1" % self.registry.host
        self.create(pod("never", image, "true", container={"imagePullPolicy": "Never"}))

        def waiting():
            st = (self.get_pod("never").get("status") or {}).get("containerStatuses") or [{}]
            return ((st[0].get("state") or {}).get("waiting") or {}).get("reason") == "ErrImageNeverPull"
        wait_for(waiting, what="ErrImageNeverPull")
        self.assertEqual(self.get_pod("never")["status"]["phase"], "Pending")
        self.sim.kubectl("delete", "pod", "never", "--timeout=20s")

    def test_init_container_and_main_share_an_empty_dir(self):
        obj = pod("shared", self.image, "cat /work/msg",
                  container={"volumeMounts": [{"name": "work", "mountPath": "/work"}]},
                  volumes=[{"name": "work", "emptyDir": {}}])
        obj["spec"]["initContainers"] = [{"name": "writer", "image": self.image,
                                          "command": ["sh", "-c", "echo written by init as $(id -u) > /work/msg; "
                                                      "echo init done"],
                                          "volumeMounts": [{"name": "work", "mountPath": "/work"}]}]
        self.create(obj)
        p = self.wait_phase("shared", ("Succeeded", "Failed"))
        self.assertEqual(p["status"]["phase"], "Succeeded", self.logs("shared", "-c", "main"))
        self.assertEqual(self.logs("shared", "-c", "writer").splitlines(), ["init done"])
        self.assertEqual(self.logs("shared", "-c", "main").splitlines()[0], "written by init as 1001")
        self.assertEqual(self.state(p, "initContainerStatuses")["terminated"]["exitCode"], 0)

    def test_logs_follow_streams_until_exit(self):
        self.create(pod("chatty", self.image, "for i in 1 2 3; do echo line $i; sleep 1; done; echo bye"))
        wait_for(lambda: (self.get_pod("chatty").get("status") or {}).get("phase") == "Running", what="running")
        t0 = time.time()
        out = self.sim.kubectl("logs", "-f", "chatty", timeout=30).stdout
        self.assertEqual(out.splitlines(), ["line 1", "line 2", "line 3", "bye"])
        self.assertGreater(time.time() - t0, 1.0)      # followed while running, not after the fact

    def test_delete_stops_a_sleeping_pod_promptly_with_sigterm(self):
        self.create(pod("sleeper", self.image, "echo sleeping; exec sleep 1000"))
        wait_for(lambda: self.started("sleeper", "sleeping"), what="sleeper started")
        t0 = time.time()
        evs = self.watch_until_deleted("sleeper", lambda: self.sim.kubectl("delete", "pod", "sleeper",
                                                                           "--wait=false"))
        took = time.time() - t0
        self.assertLess(took, 5.0)
        terms = [o["status"]["containerStatuses"][0]["state"].get("terminated") for t, o in evs]
        codes = [t["exitCode"] for t in terms if t]
        self.assertEqual(codes[-1], 143)                   # 128 + SIGTERM
        self.assertEqual(evs[-1][0], "DELETED")

    def test_sigterm_ignored_is_killed_after_grace_period(self):
        self.create(pod("stubborn", self.image, "trap '' TERM; echo ready; while true; do sleep 1; done",
                        terminationGracePeriodSeconds=2))
        wait_for(lambda: self.started("stubborn", "ready"), what="stubborn started")
        t0 = time.time()
        evs = self.watch_until_deleted("stubborn", lambda: self.sim.kubectl("delete", "pod", "stubborn",
                                                                            "--wait=false"))
        took = time.time() - t0
        self.assertGreaterEqual(took, 1.9)
        self.assertLess(took, 8.0)
        codes = [o["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] for t, o in evs
                 if "terminated" in o["status"]["containerStatuses"][0]["state"]]
        self.assertEqual(codes[-1], 137)                   # 128 + SIGKILL
        reasons = [r for r, _ in self.events("stubborn")]
        self.assertIn("Killing", reasons)

    def test_service_account_token_is_mounted_and_valid(self):
        self.create(pod("sa", self.image, "cat /var/run/secrets/kubernetes.io/serviceaccount/namespace; echo; "
                                          "cat /var/run/secrets/kubernetes.io/serviceaccount/token; echo; "
                                          "test -s /var/run/secrets/kubernetes.io/serviceaccount/ca.crt && echo ca;"
                                          "echo $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT"))
        p = self.wait_phase("sa", ("Succeeded", "Failed"))
        lines = self.logs("sa").splitlines()
        self.assertEqual(p["status"]["phase"], "Succeeded", lines)
        self.assertEqual(lines[0], "default")
        self.assertEqual(lines[2], "ca")
        self.assertEqual(lines[3], "127.0.0.1:%s" % self.sim.url.rsplit(":", 1)[1])
        code, body, _ = self.sim.request("GET", "/apis/authentication.k8s.io/v1", token=lines[1])
        self.assertNotEqual(code, 401, body)               # the minted token authenticates

    def test_job_runs_to_completion(self):
        job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "real-job", "namespace": "default"},
               "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "containers": [
                   {"name": "work", "image": self.image, "command": ["sh", "-c", "echo job ran as $(id -u)"]}]}}}}
        self.create(job)
        self.sim.kubectl("wait", "--for=condition=complete", "job/real-job", "--timeout=60s", timeout=90)
        self.assertEqual(self.sim.kubectl("logs", "job/real-job").stdout.strip(), "job ran as 1001")

    def test_start_to_exit_time_with_cached_image(self):
        times = []
        for i in range(3):
            name = "quick-%d" % i
            t0 = time.time()
            self.create(pod(name, self.image, "true"))
            p = self.wait_phase(name, ("Succeeded", "Failed"))
            times.append(time.time() - t0)
            self.assertEqual(p["status"]["phase"], "Succeeded")
        print("\n  busybox pod with a cached image: created -> Succeeded in %s s"
              % ", ".join("%.2f" % t for t in times), file=sys.stderr)
        self.assertLess(min(times), 5.0)


if __name__ == "__main__":
    unittest.main()

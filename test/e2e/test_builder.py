"""Builds for real: kube-sim's kubelet runs the build pods (`--runtime exec`: images
pulled from a loopback docker-registry, containers in user namespaces), the operator
creates the Jobs, s2i-builder clones the sample app from a loopback `git daemon`, runs
the builder image's assemble, pushes the image, and the image runs. Every image is made
here by hack/fixtures.sh with our own `s2i-builder image push-rootfs` (nothing is
downloaded).

Skipped, with the reason, when the exec runtime cannot work here (not root, no user
namespaces, no skopeo/umoci) or docker-registry or git is missing."""
import base64
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

from .e2eutil import BUILD, ROOT, E2ETestCase, wait_for

sys.path.insert(0, os.path.join(ROOT, "test", "kube-sim"))
from kube_sim import runtime_exec  # noqa: E402

EPOCH = "1700000000"
GOOD_USER, GOOD_PASS = "pusher", "pa55-e2e-good"
BAD_PASS = "wr0ng-e2e-pass"
GIT_USER, GIT_TOKEN = "builder", "g1t-t0ken-e2e"

# Module state: one registry, one set of images, one git daemon for every test class.
env = {}


def _run(*cmd, check=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)
    if check and r.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
    return r


def _why_not():
    for tool in ("docker-registry", "git", "skopeo", "umoci", "kubectl", "htpasswd", "openssl"):
        if shutil.which(tool) is None:
            return "%s is not installed" % tool
    why = runtime_exec.unavailable()
    if why:
        return "kube-sim cannot run containers here: %s" % why
    for path in ("bin/s2i-operator", "bin/s2i-builder", "bundle/s2i-builder/bundle.txt"):
        if not os.path.exists(os.path.join(BUILD, path)):
            return "%s is not built (make)" % os.path.join(BUILD, path)
    return None


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _GitHTTP(http.server.BaseHTTPRequestHandler):
    """git's smart HTTP (git http-backend as a CGI) behind Basic authentication, as a
    git forge serves private repositories."""
    root = None
    credentials = None  # "user:password"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self._serve()

    def do_POST(self):
        self._serve()

    def _serve(self):
        want = "Basic " + base64.b64encode(self.credentials.encode()).decode()
        if self.headers.get("Authorization") != want:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        cgi = dict(os.environ, GIT_PROJECT_ROOT=self.root, GIT_HTTP_EXPORT_ALL="1", PATH_INFO=path,
                   QUERY_STRING=query, REQUEST_METHOD=self.command, REMOTE_USER="builder",
                   CONTENT_TYPE=self.headers.get("Content-Type") or "", CONTENT_LENGTH=str(len(body)),
                   GIT_PROTOCOL=self.headers.get("Git-Protocol") or "")
        r = subprocess.run(["git", "http-backend"], input=body, capture_output=True, env=cgi, timeout=60)
        head, _, payload = r.stdout.partition(b"\r\n\r\n")
        status = 200
        headers = []
        for line in head.decode(errors="replace").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def setUpModule():
    why = _why_not()
    if why:
        raise unittest.SkipTest(why)
    try:
        _start_fixtures()
    except BaseException:
        tearDownModule()  # unittest does not call it when setUpModule fails
        raise


def _start_fixtures():
    work = tempfile.mkdtemp(prefix="s2i-e2e-builder-")
    env["work"] = work
    hack = os.path.join(ROOT, "hack")
    env["registry_dir"] = os.path.join(work, "registry")
    env["registry"] = _run(os.path.join(hack, "registry.sh"), "start", env["registry_dir"]).stdout.strip()
    env["auth_registry_dir"] = os.path.join(work, "auth-registry")
    env["auth_registry"] = _run(os.path.join(hack, "registry.sh"), "start", env["auth_registry_dir"], "--auth",
                                "%s:%s" % (GOOD_USER, GOOD_PASS)).stdout.strip()
    fixtures = dict(os.environ, BUILD=BUILD, SOURCE_DATE_EPOCH=EPOCH)
    out = _run(os.path.join(hack, "fixtures.sh"), "images", env["registry"], "prepare", "builder", "runtime",
               "runtime-ar", env=fixtures).stdout
    env["images"] = {line.split()[0]: line.split()[1] for line in out.splitlines() if line.strip()}
    git = os.path.join(work, "git")
    _run(os.path.join(hack, "fixtures.sh"), "repo", git, env=fixtures)
    env["git_dir"] = git
    env["git"] = _run(os.path.join(hack, "fixtures.sh"), "git-daemon", git).stdout.strip() + "app.git"
    env["commits"] = {ref: _run("git", "--git-dir", os.path.join(git, "app.git"), "rev-parse", ref).stdout.strip()
                      for ref in ("main", "broken")}
    www = os.path.join(work, "www")
    os.makedirs(www)
    shutil.copy(os.path.join(ROOT, "test", "fixtures", "app", "greeting.txt"), www)
    handler = functools.partial(_Quiet, directory=www)
    env["http"] = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=env["http"].serve_forever, daemon=True).start()
    _GitHTTP.root, _GitHTTP.credentials = git, "%s:%s" % (GIT_USER, GIT_TOKEN)
    env["git_http"] = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _GitHTTP)
    threading.Thread(target=env["git_http"].serve_forever, daemon=True).start()
    # kube-sim's image cache and pod directories stay in this run's directory.
    os.environ["KUBE_SIM_IMAGE_CACHE"] = os.path.join(work, "image-cache")
    os.environ["KUBE_SIM_PULL_BACKOFF"] = "1"


def tearDownModule():
    for server in ("http", "git_http"):
        if server in env:
            env[server].shutdown()
    hack = os.path.join(ROOT, "hack")
    if "git_dir" in env:
        _run(os.path.join(hack, "fixtures.sh"), "git-daemon-stop", env["git_dir"], check=False)
    for d in ("registry_dir", "auth_registry_dir"):
        if d in env:
            _run(os.path.join(hack, "registry.sh"), "stop", env[d], check=False)
    if "work" in env:
        shutil.rmtree(env["work"], ignore_errors=True)


def skopeo_inspect(ref, *flags, creds=None):
    args = ["skopeo", "inspect", "--tls-verify=false"] + list(flags)
    if creds:
        args.append("--creds=%s" % creds)
    return json.loads(_run(*(args + ["docker://" + ref])).stdout)


class BuilderTest(E2ETestCase):
    SIM_ARGS = E2ETestCase.SIM_ARGS + ("--runtime", "exec")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = env["registry"]
        cls.start_operator("--builder-image", env["images"]["prepare"], "--insecure-registry", cls.registry,
                           "--insecure-registry", env["auth_registry"], "--http-bind-address", "127.0.0.1:0",
                           "--webhook-port", "0")

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.sim.stop()  # also when the operator did not stop cleanly

    # -- helpers --------------------------------------------------------------------------

    def builder(self, name, **config):
        cfg = {"builderImage": env["images"]["builder"], "imageName": "%s/e2e/%s" % (self.registry, name),
               "tag": "v1", "sourceUrl": env["git"], "revisionId": "main",
               "environment": [{"name": "SOURCE_DATE_EPOCH", "value": EPOCH}]}
        cfg.update(config)
        self.apply({"apiVersion": "devops.kubesphere.io/v1alpha1", "kind": "S2iBuilder",
                    "metadata": {"name": name}, "spec": {"config": cfg}})

    def build(self, builder, run, timeout=180):
        self.apply(self.s2irun(run, builder))
        return self.wait_run(run, timeout=timeout)

    def succeeded(self, run):
        st = run["status"]
        self.assertEqual(st["runState"], "Successful", json.dumps(st, indent=1))
        self.assertIn("imageID", st.get("s2iBuildResult", {}),
                      "the run finished without the build's report (the builder wrote it to its "
                      "termination message, see the pod):\n" + json.dumps(run, indent=1))
        return st

    def run_image(self, name, image, command=None):
        """Runs the image in a kube-sim pod (its own Cmd unless command) and returns its log."""
        c = {"name": "app", "image": image, "imagePullPolicy": "Always"}
        if command:
            c["command"] = command
        self.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                    "spec": {"restartPolicy": "Never", "containers": [c]}})
        pod = wait_for(lambda: (lambda p: p if p and p.get("status", {}).get("phase") in ("Succeeded", "Failed")
                                else None)(self.get("pod", name)), timeout=120, what="pod %s to finish" % name)
        log = self.kubectl("logs", name, "-n", self.NAMESPACE).stdout
        self.assertEqual(pod["status"]["phase"], "Succeeded", log)
        return log

    def secret(self, name, registry, user, password):
        auth = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        self.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
                    "type": "kubernetes.io/dockerconfigjson",
                    "stringData": {".dockerconfigjson": json.dumps({"auths": {registry: {"auth": auth}}})}})

    # -- tests ----------------------------------------------------------------------------

    def test_build_pushes_the_image_the_status_reports_and_it_runs(self):
        self.builder("hello")
        st = self.succeeded(self.build("hello", "hello-1"))
        result, source = st["s2iBuildResult"], st["s2iBuildSource"]
        ref = "%s/e2e/hello:v1" % self.registry
        self.assertEqual(result["imageRepoTags"], [ref])
        self.assertEqual(result["commandPull"], "docker pull " + ref)
        self.assertEqual(result["imageCreated"], "2023-11-14T22:13:20Z")  # SOURCE_DATE_EPOCH
        self.assertEqual(source["commitID"], env["commits"]["main"])
        self.assertEqual((source["committerName"], source["committerEmail"]), ("Ada Lovelace", "ada@example.com"))
        self.assertEqual(source["builderImage"], env["images"]["builder"])
        # What the registry holds is what the status says.
        self.assertEqual(skopeo_inspect(ref)["Digest"], result["imageID"])
        manifest = skopeo_inspect(ref, "--raw")
        self.assertEqual(result["imageSize"], sum(layer["size"] for layer in manifest["layers"]))
        builder_layers = skopeo_inspect(env["images"]["builder"], "--raw")["layers"]
        self.assertEqual(manifest["layers"][:-1], builder_layers)  # builder layers + one
        config = skopeo_inspect(ref, "--config")
        self.assertEqual(config["config"]["Cmd"], ["/usr/libexec/s2i/run"])
        self.assertEqual((config["config"]["User"], config["config"]["WorkingDir"]), ("1001", "/opt/app"))
        labels = config["config"]["Labels"]
        self.assertEqual(labels["io.openshift.s2i.build.commit.id"], env["commits"]["main"])
        self.assertEqual(labels["io.openshift.s2i.build.source-location"], env["git"])
        self.assertEqual(labels["io.openshift.s2i.build.image"], env["images"]["builder"])
        self.assertEqual(labels["io.openshift.s2i.scripts-url"], "image:///usr/libexec/s2i")
        self.assertIn("SOURCE_DATE_EPOCH=" + EPOCH, config["config"]["Env"])
        # The log tells the story; the image runs its run script.
        self.assertIn("---> Build complete", st["logTail"])
        log = self.run_image("hello-app", ref)
        self.assertIn("HELLO FROM THE S2I-OPERATOR SAMPLE APP", log)

    def test_same_source_twice_gives_the_same_digest(self):
        self.builder("twice")
        first = self.succeeded(self.build("twice", "twice-1"))["s2iBuildResult"]["imageID"]
        second = self.succeeded(self.build("twice", "twice-2"))["s2iBuildResult"]["imageID"]
        self.assertEqual(first, second)

    def test_failing_assemble_fails_the_run_with_its_output(self):
        self.builder("broken", revisionId="broken")
        run = self.build("broken", "broken-1")
        st = run["status"]
        cond = self.condition(run)
        self.assertEqual((st["runState"], cond["reason"]), ("Failed", "AssembleFailed"), json.dumps(st, indent=1))
        self.assertEqual(cond["message"], "assemble exited with code 3")
        self.assertIn("main.c:42: error: expected ';' before '}' token", st["logTail"])
        self.assertIn("build failed: 1 error", st["logTail"])

    def test_runtime_image_build_is_smaller_and_runs(self):
        self.builder("fat")
        fat = self.succeeded(self.build("fat", "fat-1"))["s2iBuildResult"]
        artifacts = [{"source": "/opt/app/greeting.compiled", "destination": "."}]
        self.builder("slim", runtimeImage=env["images"]["runtime"], runtimeArtifacts=artifacts)
        slim = self.succeeded(self.build("slim", "slim-1"))["s2iBuildResult"]
        self.assertLess(slim["imageSize"], fat["imageSize"])
        ref = "%s/e2e/slim:v1" % self.registry
        self.assertEqual(skopeo_inspect(ref)["Digest"], slim["imageID"])
        manifest = skopeo_inspect(ref, "--raw")
        self.assertEqual(manifest["layers"][:-1], skopeo_inspect(env["images"]["runtime"], "--raw")["layers"])
        self.assertIn("HELLO FROM THE S2I-OPERATOR SAMPLE APP", self.run_image("slim-app", ref))
        # With assemble-runtime, the runtime image's script sees the artifacts in place and
        # what it writes is in the image too.
        self.builder("slimmer", runtimeImage=env["images"]["runtime-ar"], runtimeArtifacts=artifacts)
        st = self.succeeded(self.build("slimmer", "slimmer-1"))
        self.assertIn("---> assemble-runtime: 71 bytes of greeting", st["logTail"])
        log = self.run_image("slimmer-app", "%s/e2e/slimmer:v1" % self.registry,
                             ["sh", "-c", "cat /opt/app/runtime-marker /opt/app/greeting.compiled"])
        self.assertIn("assembled at runtime", log)
        self.assertIn("HELLO FROM", log)

    def test_context_dir_is_the_source(self):
        self.builder("ctx", contextDir="services/hello")
        self.succeeded(self.build("ctx", "ctx-1"))
        log = self.run_image("ctx-app", "%s/e2e/ctx:v1" % self.registry,
                             ["sh", "-c", "cat /opt/app/greeting.compiled; ls /tmp/src"])
        self.assertIn("HELLO FROM A CONTEXTDIR OF THE SAMPLE APP!", log)
        self.assertNotIn("services", log)  # only the context directory was injected

    def test_binary_source_over_http(self):
        url = "http://127.0.0.1:%d/greeting.txt" % env["http"].server_address[1]
        self.builder("b2i", sourceUrl=url, isBinaryURL=True)
        st = self.succeeded(self.build("b2i", "b2i-1"))
        self.assertEqual(st["s2iBuildSource"]["binaryName"], "greeting.txt")
        self.assertEqual(st["s2iBuildSource"]["binarySize"], 71)
        self.assertIn("HELLO FROM", self.run_image("b2i-app", "%s/e2e/b2i:v1" % self.registry))

    def test_incremental_build_reuses_the_previous_artifacts(self):
        self.builder("incr", incremental=True)
        first = self.succeeded(self.build("incr", "incr-1"))
        self.assertIn("---> Downloading dependencies", first["logTail"])
        second = self.succeeded(self.build("incr", "incr-2"))
        self.assertIn("---> Reusing cached dependencies", second["logTail"])
        log = self.run_image("incr-app", "%s/e2e/incr:v1" % self.registry,
                             ["sh", "-c", "cat /opt/app/cache/deps.txt; ls /tmp/artifacts 2>&1"])
        self.assertIn("dependencies of sample-app", log)

    def test_source_fetch_failure_reveals_no_credentials(self):
        secret = "s3cr3t-in-the-url"
        self.builder("nosource", sourceUrl="http://builder:%s@127.0.0.1:1/nowhere.git" % secret)
        run = self.build("nosource", "nosource-1")
        st = run["status"]
        cond = self.condition(run)
        self.assertEqual((st["runState"], cond["reason"]), ("Failed", "SourceFetchFailed"), json.dumps(st))
        self.assertIn("http://127.0.0.1:1/nowhere.git", cond["message"])
        self.assertNotIn(secret, json.dumps(st))

    def test_private_git_repository_with_a_basic_auth_secret(self):
        url = "http://127.0.0.1:%d/app.git" % env["git_http"].server_address[1]
        for name, token in (("git-good", GIT_TOKEN), ("git-bad", "n0t-the-t0ken")):
            self.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
                        "type": "kubernetes.io/basic-auth",
                        "stringData": {"username": GIT_USER, "password": token}})
        self.builder("private", sourceUrl=url, revisionId="v1", gitSecretRef={"name": "git-good"})
        st = self.succeeded(self.build("private", "private-1"))
        self.assertEqual(st["s2iBuildSource"]["commitID"], env["commits"]["main"])
        self.builder("private-denied", sourceUrl=url, gitSecretRef={"name": "git-bad"})
        run = self.build("private-denied", "private-denied-1")
        cond = self.condition(run)
        self.assertEqual((run["status"]["runState"], cond["reason"]), ("Failed", "SourceFetchFailed"),
                         json.dumps(run["status"]))
        pods = self.kubectl("get", "pods", "-n", self.NAMESPACE, "-o", "json").stdout
        jobs = self.kubectl("get", "jobs", "-n", self.NAMESPACE, "-o", "json").stdout
        for text in (json.dumps(run), json.dumps(self.get("s2irun", "private-1")), pods, jobs):
            self.assertNotIn(GIT_TOKEN, text)
            self.assertNotIn("n0t-the-t0ken", text)

    def test_registry_with_authentication(self):
        auth = env["auth_registry"]
        self.secret("push-good", auth, GOOD_USER, GOOD_PASS)
        self.secret("push-bad", auth, GOOD_USER, BAD_PASS)
        # Good credentials: the builder's layers are streamed from the other registry.
        self.builder("authed", imageName="%s/e2e/authed" % auth, pushAuthentication={"secretRef": {"name": "push-good"}})
        st = self.succeeded(self.build("authed", "authed-1"))
        ref = "%s/e2e/authed:v1" % auth
        self.assertEqual(skopeo_inspect(ref, creds="%s:%s" % (GOOD_USER, GOOD_PASS))["Digest"],
                         st["s2iBuildResult"]["imageID"])
        # An image name without a registry goes to the push Secret's registry (sr#38).
        self.builder("sr38", imageName="e2e/sr38", pushAuthentication={"secretRef": {"name": "push-good"}})
        st = self.succeeded(self.build("sr38", "sr38-1"))
        self.assertEqual(st["s2iBuildResult"]["imageRepoTags"], ["%s/e2e/sr38:v1" % auth])
        self.assertEqual(skopeo_inspect("%s/e2e/sr38:v1" % auth, creds="%s:%s" % (GOOD_USER, GOOD_PASS))["Digest"],
                         st["s2iBuildResult"]["imageID"])
        # Bad credentials: PushFailed, and no password anywhere in the run.
        self.builder("denied", imageName="%s/e2e/denied" % auth, pushAuthentication={"secretRef": {"name": "push-bad"}})
        run = self.build("denied", "denied-1")
        cond = self.condition(run)
        self.assertEqual((run["status"]["runState"], cond["reason"]), ("Failed", "PushFailed"),
                         json.dumps(run["status"]))
        self.assertIn("Unauthorized", cond["message"])
        for text in (json.dumps(run), self.kubectl("get", "jobs", "-n", self.NAMESPACE, "-o", "json").stdout):
            self.assertNotIn(BAD_PASS, text)
            self.assertNotIn(GOOD_PASS, text)


if __name__ == "__main__":
    unittest.main()

"""The log and trigger endpoints (pkg/httpapi) end to end on kube-sim: build logs of
finished and running builds (scripted kubelet), the fallback to status.logTail once
the pod is deleted, bearer tokens minted for service accounts with and without a
RoleBinding, and the general, GitHub and GitLab triggers with their secrets,
signatures, bodies, trailing slashes and rate limit — the runs they create checked
with kubectl.

The endpoints are served by the test server in the unit test binary
(`test_httpapi serve --controllers`: the httpapi routes on an in-process controller
manager, as the operator wires them) until s2i-operator itself has the flags."""
import hashlib
import hmac
import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.parse

from .e2eutil import BUILD, PREPARE_IMAGE, ROOT, E2ETestCase, wait_for

GROUP = "devops.kubesphere.io"
RESULT = json.dumps({"s2iBuildResult": {"imageName": "registry.e2e:5000/demo/logs", "imageSize": 1},
                     "s2iBuildSource": {"commitID": "0123456789abcdef"}})
SLOW_STEPS = ["step %d of 6" % i for i in range(1, 7)]
GITHUB_SECRET = "gh-Secret-42"
GITLAB_SECRET = "gl-Secret-42"
TRIGGER_SECRET = "Secret42"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TestServer:
    """`test_httpapi serve` as a process; stop() requires a clean exit."""

    def __init__(self, kubeconfig, workdir):
        binary = os.path.join(BUILD, "test", "test_httpapi")
        # make e2e builds only the binaries: build the test binary (with the same flags).
        san = "1" if os.path.basename(BUILD.rstrip("/")) == "asan" else "0"
        subprocess.run(["make", "-s", "-C", ROOT, "SAN=" + san, "BUILD=" + BUILD, binary], check=True,
                       stdout=subprocess.DEVNULL)
        self.port = free_port()
        self.log_path = os.path.join(workdir, "httpapi-%d.log" % time.time_ns())
        self.log = open(self.log_path, "w")
        cmd = [binary, "serve", "--kubeconfig", kubeconfig, "--address", "127.0.0.1:%d" % self.port,
               "--controllers", "--builder-image", PREPARE_IMAGE, "-v", "2"]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(self.answers, timeout=30, what="test server listening")

    def answers(self):
        if self.proc.poll() is not None:
            raise AssertionError("test server exited %d:\n%s" % (self.proc.returncode, self.text()[-3000:]))
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("test server did not stop within 30 s")
        self.log.close()
        out = self.text()
        if self.proc.returncode != 0:
            raise AssertionError("test server exited %d:\n%s" % (self.proc.returncode, out[-3000:]))
        if "ERROR: AddressSanitizer" in out or "runtime error:" in out or "LeakSanitizer" in out:
            raise AssertionError("sanitizer report in test server log:\n%s" % out[-6000:])
        return out


class HttpApiTest(E2ETestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.set_scripts({
            "e2e.local/builder-logs:1": {"exitCode": 0, "duration": 0.3, "logs": "compiling\nlinking\ndone",
                                         "terminationMessage": RESULT},
            "e2e.local/builder-slow-logs:1": {"exitCode": 0, "duration": 6, "logs": "\n".join(SLOW_STEPS),
                                              "terminationMessage": RESULT},
            "e2e.local/builder-retry:1": {"exitCode": [1, 0], "duration": 1,
                                          "logs": [["attempt 1 failed"], ["attempt 2 passed"]],
                                          "terminationMessage": RESULT},
            "e2e.local/builder-broken:1": {"exitCode": 1, "duration": 0.2,
                                           "logs": "installing deps\nnpm ERR! missing script: build",
                                           "terminationMessage": "AssembleFailed: assemble exited with code 1"},
        })
        ns = cls.NAMESPACE
        cls.kubectl("create", "serviceaccount", "reader", "-n", ns)
        cls.kubectl("create", "serviceaccount", "stranger", "-n", ns)
        cls.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                   "metadata": {"name": "s2irun-reader"},
                   "rules": [{"apiGroups": [GROUP], "resources": ["s2iruns"], "verbs": ["get"]}]})
        cls.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                   "metadata": {"name": "reader-reads-runs"},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "s2irun-reader"},
                   "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": ns}]})
        cls.reader = cls.mint_token("reader")
        cls.stranger = cls.mint_token("stranger")
        cls.server = TestServer(cls.sim.kubeconfig, cls.workdir)

    @classmethod
    def tearDownClass(cls):
        try:
            if getattr(cls, "server", None):
                cls.server.stop()
        finally:
            super().tearDownClass()

    @classmethod
    def mint_token(cls, sa):
        """A token for the service account, as `kubectl create token` gets it (serviceaccounts/token;
        kubectl itself would send protobuf, which kube-sim does not decode)."""
        status, body, _ = cls.sim.request("POST", "/api/v1/namespaces/%s/serviceaccounts/%s/token" % (
            cls.NAMESPACE, sa), {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}})
        if status != 201:
            raise AssertionError("token for %s: %s %s" % (sa, status, body))
        return body["status"]["token"]

    # -- HTTP ----------------------------------------------------------------------------

    def http(self, method, path, body=None, headers=None, token=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read().decode(errors="replace")
        conn.close()
        return r.status, data, {k.lower(): v for k, v in r.getheaders()}

    def trigger(self, builder, secret=None, method="POST", body=None, headers=None, slash=False,
                provider="general"):
        path = "/s2itrigger/v1alpha1/%s/namespaces/%s/s2ibuilders/%s%s" % (
            provider, self.NAMESPACE, builder, "/" if slash else "")
        if secret is not None:
            path += "?secretCode=" + urllib.parse.quote(secret)
        return self.http(method, path, body=body, headers=headers)

    def created(self, answer):
        status, data, _ = answer
        self.assertEqual(status, 201, data)
        body = json.loads(data)
        run = self.get("s2irun", body["name"])
        self.assertIsNotNone(run, "created run %s is not there" % body["name"])
        return run

    def runs_of(self, builder):
        return self.kjson("get", "s2ir", "-n", self.NAMESPACE, "-l",
                          "labels.devops.kubesphere.io/builder-name=" + builder)["items"]

    def github(self, builder, event, payload, secret=GITHUB_SECRET, signature=None, slash=False):
        body = json.dumps(payload).encode()
        headers = {"X-GitHub-Event": event, "Content-Type": "application/json",
                   "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958"}
        if signature is None and secret is not None:
            signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if signature:
            headers["X-Hub-Signature-256"] = signature
        return self.trigger(builder, body=body, headers=headers, slash=slash, provider="github")

    @staticmethod
    def push(ref="refs/heads/main", commit="9f8e7d6c5b4a39281706f5e4d3c2b1a098765432", committer="Ada"):
        return {"ref": ref, "deleted": False, "head_commit": {"id": commit, "committer": {"name": committer}},
                "repository": {"full_name": "demo/app"}}

    # -- triggers -------------------------------------------------------------------------

    def test_general_trigger_with_the_consoles_url_creates_runs(self):
        self.apply(self.s2ibuilder("gen", secretCode=TRIGGER_SECRET))
        # The URL the console shows: a trailing slash, then ?secretCode=; GET and POST.
        run = self.created(self.trigger("gen", TRIGGER_SECRET, method="GET", slash=True))
        self.assertTrue(run["metadata"]["name"].startswith("gen-"))
        self.assertEqual(run["metadata"]["annotations"]["kubesphere.io/creator"], "auto-trigger")
        self.assertEqual(run["spec"], {"builderName": "gen"})
        self.assertEqual(run["metadata"]["labels"]["labels.devops.kubesphere.io/builder-name"], "gen")
        self.created(self.trigger("gen", TRIGGER_SECRET, method="POST"))
        # so#6: a POST without a body works whatever its Content-Type says.
        self.created(self.trigger("gen", TRIGGER_SECRET, headers={"Content-Type": "text/plain"}))
        names = sorted(r["metadata"]["name"] for r in self.runs_of("gen"))
        self.assertEqual(len(names), 3)
        out = self.kubectl("get", "s2ir", "-n", self.NAMESPACE).stdout
        for name in names:
            self.assertIn(name, out)
        status, data, _ = self.trigger("gen", TRIGGER_SECRET)
        self.assertEqual(status, 201, data)
        answer = json.loads(data)
        self.assertEqual((answer["namespace"], answer["builderName"]), (self.NAMESPACE, "gen"))
        self.assertEqual(answer["logPath"], "/logs/namespaces/%s/s2iruns/%s" % (self.NAMESPACE, answer["name"]))

    def test_general_trigger_bodies_override_tag_and_revision(self):
        self.apply(self.s2ibuilder("body", secretCode=TRIGGER_SECRET))
        run = self.created(self.trigger("body", TRIGGER_SECRET, body={"newTag": "v2.0", "newRevisionId": "abc123"}))
        self.assertEqual(run["spec"], {"builderName": "body", "newTag": "v2.0", "newRevisionId": "abc123"})
        run = self.created(self.trigger("body", TRIGGER_SECRET, slash=True, body="newTag=v3&newRevisionId=feature%2Fx",
                                        headers={"Content-Type": "application/x-www-form-urlencoded"}))
        self.assertEqual((run["spec"]["newTag"], run["spec"]["newRevisionId"]), ("v3", "feature/x"))
        status, data, _ = self.trigger("body", TRIGGER_SECRET, body='{"newTag":', headers={
            "Content-Type": "application/json"})
        self.assertEqual(status, 400, data)
        status, data, _ = self.trigger("body", TRIGGER_SECRET, body={"newTag": 2})
        self.assertEqual(status, 400, data)
        self.assertIn("newTag: expected string", data)
        status, _, _ = self.trigger("body", TRIGGER_SECRET, body="<x/>", headers={"Content-Type": "text/xml"})
        self.assertEqual(status, 415)
        self.assertEqual(len(self.runs_of("body")), 2)

    def test_general_trigger_refuses_bad_and_empty_secrets(self):
        self.apply(self.s2ibuilder("locked", secretCode=TRIGGER_SECRET))
        self.apply(self.s2ibuilder("open"))
        for builder, secret in (("locked", "wrong"), ("locked", TRIGGER_SECRET + "x"), ("locked", ""),
                                ("locked", None), ("locked", TRIGGER_SECRET.lower()),
                                # Upstream let "" == "" through: a builder without a secret.
                                ("open", ""), ("open", None), ("open", "anything")):
            status, data, _ = self.trigger(builder, secret)
            self.assertEqual(status, 401, "%s %r: %s" % (builder, secret, data))
        status, data, _ = self.trigger("no-such-builder", TRIGGER_SECRET)
        self.assertEqual(status, 404, data)
        self.assertEqual(self.runs_of("locked") + self.runs_of("open"), [])

    def test_trigger_names_stay_within_63_for_long_builders(self):
        builder = "long-" + "x" * 58
        self.assertEqual(len(builder), 63)
        self.apply(self.s2ibuilder(builder, secretCode=TRIGGER_SECRET))
        run = self.created(self.trigger(builder, TRIGGER_SECRET))
        name = run["metadata"]["name"]
        self.assertLessEqual(len(name), 63)
        self.assertTrue(name.startswith(builder[:57] + "-"), name)

    def test_trigger_budget_limits_a_storm(self):
        self.apply(self.s2ibuilder("storm", secretCode=TRIGGER_SECRET))
        answers = [self.trigger("storm", TRIGGER_SECRET) for _ in range(12)]
        codes = [a[0] for a in answers]
        self.assertEqual(codes[:5], [201] * 5, codes)
        self.assertEqual(codes[-1], 429, codes)
        self.assertLessEqual(codes.count(201), 6, codes)
        limited = [a for a in answers if a[0] == 429][0]
        self.assertGreaterEqual(int(limited[2]["retry-after"]), 1)
        self.assertEqual(len(self.runs_of("storm")), codes.count(201))
        # Another builder has its own budget.
        self.apply(self.s2ibuilder("calm", secretCode=TRIGGER_SECRET))
        self.created(self.trigger("calm", TRIGGER_SECRET))

    def test_github_push_with_a_good_signature_builds_the_head_commit(self):
        self.apply(self.s2ibuilder("gh", secretCode=GITHUB_SECRET, revisionId="main"))
        status, data, _ = self.github("gh", "ping", {"zen": "Keep it logically awesome.", "hook_id": 1})
        self.assertEqual(status, 200, data)
        run = self.created(self.github("gh", "push", self.push(committer="Ada Lovelace"), slash=True))
        self.assertEqual(run["spec"]["newRevisionId"], "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432")
        self.assertEqual(run["metadata"]["annotations"]["kubesphere.io/creator"], "trigger-Ada Lovelace")
        self.assertTrue(run["metadata"]["name"].startswith("gh-"))
        # GitHub's other content type: the JSON in a form field "payload", signed as sent.
        body = "payload=" + urllib.parse.quote(json.dumps(self.push(commit="1" * 40)))
        sig = "sha256=" + hmac.new(GITHUB_SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
        run = self.created(self.trigger("gh", provider="github", body=body, headers={
            "X-GitHub-Event": "push", "Content-Type": "application/x-www-form-urlencoded",
            "X-Hub-Signature-256": sig}))
        self.assertEqual(run["spec"]["newRevisionId"], "1" * 40)

    def test_github_refuses_bad_or_missing_signatures_and_other_events(self):
        self.apply(self.s2ibuilder("ghsig", secretCode=GITHUB_SECRET, revisionId="main"))
        for answer in (self.github("ghsig", "push", self.push(), secret="not-the-secret"),
                       self.github("ghsig", "push", self.push(), secret=None),
                       self.github("ghsig", "push", self.push(), signature="sha256=" + "0" * 64),
                       self.github("ghsig", "push", self.push(), signature="sha1=" + "0" * 40),
                       self.github("ghsig", "ping", {"zen": "x"}, secret=None)):
            self.assertEqual(answer[0], 401, answer[1])
        self.assertEqual(self.github("ghsig", "issues", {"action": "opened"})[0], 400)
        self.assertEqual(self.github("ghsig", "pull_request", {"action": "opened"})[0], 400)
        status, data, _ = self.trigger("ghsig", provider="github", body=b"{}")
        self.assertEqual(status, 400, data)  # no X-GitHub-Event: not GitHub
        self.assertEqual(self.github("nope", "push", self.push())[0], 404)
        self.assertEqual(self.runs_of("ghsig"), [])

    def test_github_branches_decide_what_builds(self):
        self.apply(self.s2ibuilder("ghbr", secretCode=GITHUB_SECRET, revisionId="main"))
        self.apply(self.s2ibuilder("ghexpr", secretCode=GITHUB_SECRET, revisionId="main",
                                   branchExpression="^release-[0-9]+$"))
        # Another branch, a tag, a deleted branch: answered 200, nothing built.
        for builder, payload in (("ghbr", self.push(ref="refs/heads/dev")),
                                 ("ghbr", self.push(ref="refs/tags/v1.0")),
                                 ("ghbr", dict(self.push(), deleted=True, head_commit=None)),
                                 ("ghexpr", self.push(ref="refs/heads/main")),
                                 ("ghexpr", self.push(ref="refs/heads/release-1x"))):
            status, data, _ = self.github(builder, "push", payload)
            self.assertEqual(status, 200, data)
        self.assertEqual(self.runs_of("ghbr") + self.runs_of("ghexpr"), [])
        self.created(self.github("ghbr", "push", self.push(ref="refs/heads/main")))
        self.created(self.github("ghexpr", "push", self.push(ref="refs/heads/release-12")))

    def test_github_without_a_secret_accepts_unsigned_pushes_as_upstream(self):
        self.apply(self.s2ibuilder("ghopen", revisionId="main"))
        self.created(self.github("ghopen", "push", self.push(), secret=None))

    def test_gitlab_push_with_its_token(self):
        self.apply(self.s2ibuilder("gl", secretCode=GITLAB_SECRET, revisionId="main"))
        push = {"object_kind": "push", "ref": "refs/heads/main", "checkout_sha": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
                "user_name": "Grace Hopper"}

        def gitlab(token, event="Push Hook", payload=push, slash=False):
            headers = {"X-Gitlab-Event": event, "Content-Type": "application/json"}
            if token is not None:
                headers["X-Gitlab-Token"] = token
            return self.trigger("gl", provider="gitlab", body=payload, headers=headers, slash=slash)

        self.assertEqual(gitlab("wrong")[0], 401)
        self.assertEqual(gitlab(None)[0], 401)
        self.assertEqual(gitlab(GITLAB_SECRET, event="Tag Push Hook")[0], 400)
        self.assertEqual(gitlab(GITLAB_SECRET, payload=dict(push, ref="refs/heads/dev"))[0], 200)
        self.assertEqual(self.runs_of("gl"), [])
        run = self.created(gitlab(GITLAB_SECRET, slash=True))
        self.assertEqual(run["spec"]["newRevisionId"], push["checkout_sha"])
        self.assertEqual(run["metadata"]["annotations"]["kubesphere.io/creator"], "trigger-Grace Hopper")
        # A builder without a secretCode takes no GitLab pushes at all.
        self.apply(self.s2ibuilder("glopen", revisionId="main"))
        status, _, _ = self.trigger("glopen", provider="gitlab", body=push, headers={
            "X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": ""})
        self.assertEqual(status, 401)

    # -- logs ----------------------------------------------------------------------------

    def finished_run(self, builder, run, image="e2e.local/builder-logs:1"):
        self.apply(self.s2ibuilder(builder, image=image))
        self.apply(self.s2irun(run, builder))
        return self.wait_run(run)

    def log_path(self, run):
        return "/logs/namespaces/%s/s2iruns/%s" % (self.NAMESPACE, run)

    def assert_build_log(self, text):
        for line in ("==> prepare <==", "fetched source", "==> build <==", "compiling", "linking", "done"):
            self.assertIn(line, text)
        self.assertLess(text.index("==> prepare <=="), text.index("fetched source"))
        self.assertLess(text.index("fetched source"), text.index("==> build <=="))
        self.assertLess(text.index("==> build <=="), text.index("compiling"))

    def test_logs_of_a_finished_run_by_run_and_by_its_log_url(self):
        run = self.finished_run("logs", "logs-1")
        self.assertEqual(run["status"]["runState"], "Successful")
        status, text, headers = self.http("GET", self.log_path("logs-1"), token=self.reader)
        self.assertEqual(status, 200, text)
        self.assertTrue(headers["content-type"].startswith("text/plain"))
        self.assert_build_log(text)
        # The logURL's path (KubeSphere's logging prefix, ?operation=query) reaches the same log.
        url = urllib.parse.urlsplit(run["status"]["logURL"])
        status, text2, _ = self.http("GET", url.path + "?" + url.query, token=self.reader)
        self.assertEqual(status, 200, text2)
        self.assertEqual(text2, text)
        status, text3, _ = self.http("GET", url.path + "/", token=self.reader)
        self.assertEqual((status, text3), (200, text))
        # follow on a finished run: the same, then the end of the stream.
        status, text4, _ = self.http("GET", self.log_path("logs-1") + "?follow=true", token=self.reader)
        self.assertEqual(status, 200)
        self.assert_build_log(text4)
        self.assertIn("==> run logs-1: Successful <==", text4)

    def test_logs_need_a_token_allowed_to_get_the_run(self):
        self.finished_run("authz", "authz-1")
        path = self.log_path("authz-1")
        pod_path = urllib.parse.urlsplit(self.get("s2irun", "authz-1")["status"]["logURL"]).path
        for p in (path, pod_path):
            status, data, headers = self.http("GET", p)
            self.assertEqual(status, 401, data)
            self.assertIn("Bearer", headers.get("www-authenticate", ""))
            self.assertEqual(self.http("GET", p, token="not-a-token")[0], 401)
            status, data, _ = self.http("GET", p, token=self.stranger)
            self.assertEqual(status, 403, data)
            self.assertIn("system:serviceaccount:%s:stranger" % self.NAMESPACE, data)
            self.assertEqual(self.http("GET", p, token=self.reader)[0], 200)
        # Allowed in e2e only: another namespace is forbidden, a missing run is 404.
        self.assertEqual(self.http("GET", "/logs/namespaces/default/s2iruns/authz-1", token=self.reader)[0], 403)
        self.assertEqual(self.http("GET", self.log_path("no-such-run"), token=self.reader)[0], 404)
        # The admin's token (system:masters) may read everything.
        self.assertEqual(self.http("GET", path, token=self.sim.token)[0], 200)

    def test_only_build_pods_are_served(self):
        self.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "plain"},
                    "spec": {"containers": [{"name": "c", "image": "e2e.local/builder-logs:1"}]}})
        status, data, _ = self.http("GET", "/api/v1/namespaces/%s/pods/plain" % self.NAMESPACE, token=self.reader)
        self.assertEqual(status, 404, data)
        status, _, _ = self.http("GET", "/namespaces/%s/pods/gone-pod" % self.NAMESPACE, token=self.reader)
        self.assertEqual(status, 404)
        self.assertEqual(self.http("GET", "/not/a/log/path", token=self.reader)[0], 404)

    def test_follow_streams_lines_before_the_build_ends(self):
        self.apply(self.s2ibuilder("slowlogs", image="e2e.local/builder-slow-logs:1"))
        self.apply(self.s2irun("slowlogs-1", "slowlogs"))
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
        conn.request("GET", self.log_path("slowlogs-1") + "?follow=true",
                     headers={"Authorization": "Bearer " + self.reader})
        r = conn.getresponse()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.getheader("Transfer-Encoding"), "chunked")
        lines = []   # (line, run finished when it arrived)
        while True:
            line = r.readline()
            if not line:
                break
            state = (self.get("s2irun", "slowlogs-1").get("status") or {}).get("runState")
            lines.append((line.decode().rstrip("\n"), state in ("Successful", "Failed")))
        conn.close()
        text = [l for l, _ in lines]
        self.assertIn("==> build <==", text)
        self.assertEqual([l for l in text if l.startswith("step ")], SLOW_STEPS)
        first = [done for l, done in lines if l == SLOW_STEPS[0]][0]
        self.assertFalse(first, "the first line arrived only after the build ended")
        self.assertEqual(text[-1], "==> run slowlogs-1: Successful <==")
        self.assertEqual(self.get("s2irun", "slowlogs-1")["status"]["runState"], "Successful")

    def test_follow_rides_out_api_errors(self):
        self.apply(self.s2ibuilder("flaky-api", image="e2e.local/builder-slow-logs:1"))
        self.apply(self.s2irun("flaky-api-1", "flaky-api"))
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
        conn.request("GET", self.log_path("flaky-api-1") + "?follow=true",
                     headers={"Authorization": "Bearer " + self.reader})
        r = conn.getresponse()
        text = []
        while not text or not text[-1].startswith("step 1"):
            text.append(r.readline().decode())
        # Pod reads and pods/log fail for a while: the follower waits them out.
        self.sim.admin("POST", "faults", {"verb": "get", "resource": "pods", "code": 500, "count": 3})
        try:
            text += [l.decode() for l in iter(r.readline, b"")]
        finally:
            self.sim.admin("DELETE", "faults")
            conn.close()
        self.assertEqual([l.rstrip("\n") for l in text if l.startswith("step ")], SLOW_STEPS)
        self.assertEqual(text[-1], "==> run flaky-api-1: Successful <==\n")

    def test_follow_moves_on_to_a_retrys_pod(self):
        self.apply(self.s2ibuilder("retry", image="e2e.local/builder-retry:1"))
        self.apply(self.s2irun("retry-1", "retry", backoffLimit=1))
        status, text, _ = self.http("GET", self.log_path("retry-1") + "?follow=true", token=self.reader)
        self.assertEqual(status, 200)
        self.assertEqual(self.get("s2irun", "retry-1")["status"]["runState"], "Successful")
        self.assertEqual(text.count("==> build <=="), 2, text)
        self.assertIn("(a retry) <==", text)
        self.assertLess(text.index("attempt 1 failed"), text.index("(a retry)"))
        self.assertLess(text.index("(a retry)"), text.index("attempt 2 passed"))
        self.assertTrue(text.endswith("==> run retry-1: Successful <==\n"), text[-200:])

    def test_failed_build_shows_the_failing_pods_log(self):
        run = self.finished_run("broken", "broken-1", image="e2e.local/builder-broken:1")
        self.assertEqual(run["status"]["runState"], "Failed")
        status, text, _ = self.http("GET", self.log_path("broken-1"), token=self.reader)
        self.assertEqual(status, 200)
        self.assertIn("==> build <==\ninstalling deps\nnpm ERR! missing script: build\n", text)

    def test_follow_stops_when_the_client_leaves(self):
        self.apply(self.s2ibuilder("leave", image="e2e.local/builder-slow-logs:1"))
        self.apply(self.s2irun("leave-1", "leave"))
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
        conn.request("GET", self.log_path("leave-1") + "?follow=1", headers={"Authorization": "Bearer " + self.reader})
        r = conn.getresponse()
        while b"step 1" not in r.readline():
            pass
        conn.sock.shutdown(socket.SHUT_RDWR)
        conn.close()
        wait_for(lambda: self.metric("s2i_log_streams_open") == 0, timeout=20, what="stream closed")

    def test_deleted_pod_falls_back_to_the_log_tail(self):
        run = self.finished_run("tail", "tail-1")
        self.assertIn("linking", run["status"]["logTail"])
        pod = run["status"]["logURL"].split("/pods/")[1].split("?")[0]
        self.kubectl("delete", "pod", pod, "-n", self.NAMESPACE, "--wait=true", "--grace-period=0", "--force")
        wait_for(lambda: self.kubectl("get", "pod", pod, "-n", self.NAMESPACE, check=False).returncode != 0,
                 what="pod deleted")
        for path in (self.log_path("tail-1"), urllib.parse.urlsplit(run["status"]["logURL"]).path):
            status, text, _ = self.http("GET", path, token=self.reader)
            self.assertEqual(status, 200, text)
            self.assertIn("status.logTail", text)
            self.assertIn("compiling\nlinking\ndone", text)
            self.assertNotIn("==> build <==", text)

    # -- metrics -------------------------------------------------------------------------

    def metric(self, name, **labels):
        _, text, _ = self.http("GET", "/metrics")
        want = name + ("{" + ",".join('%s="%s"' % kv for kv in labels.items()) + "}" if labels else "")
        for line in text.splitlines():
            if line.startswith(want + " "):
                return float(line.split()[-1])
        return None

    def test_metrics_count_triggers_and_streams(self):
        self.apply(self.s2ibuilder("metered", secretCode=TRIGGER_SECRET))
        before = self.metric("s2i_trigger_requests_total", route="general", result="unauthorized") or 0
        self.trigger("metered", "wrong")
        self.created(self.trigger("metered", TRIGGER_SECRET))
        self.assertEqual(self.metric("s2i_trigger_requests_total", route="general", result="unauthorized"),
                         before + 1)
        self.assertGreaterEqual(self.metric("s2i_trigger_requests_total", route="general", result="created"), 1)
        self.assertIsNotNone(self.metric("s2i_log_streams_open"))

"""Secrets stay secret, and the build pod asks for no privilege.

A scenario that touches every path a credential takes through the operator: registry and
git Secrets referenced by a builder, inline registry passwords in a builder's config
(which the operator must drop), the trigger secretCode (right and wrong, and as a GitHub
webhook's HMAC key), builds that succeed and fail. Everything the run leaves behind is
then searched for the secret values (raw, base64, and as user:password in base64):
  - every line the operator logged (at -v 10, its most talkative);
  - kube-sim's own log, and the logs of every pod it ran (pods/log of each container);
  - every Event, and every version of every S2iRun and S2iBuilder the watches saw (each
    status the operator wrote), and the Jobs and Pods as stored (spec and annotations
    included: a Secret's content must never be copied into a Job).
And the build pod: no privileged container, no privilege escalation, no hostPath, no host
namespaces, no added capabilities, no service-account token, seccomp RuntimeDefault, and
the steps in our own image (prepare: USER 65532) run as non-root."""
import base64
import hashlib
import hmac
import http.client
import json
import os
import threading
import time
import urllib.parse

from .e2eutil import E2ETestCase, wait_for

PUSH_PW = "pUsh-S3cr3t-7f41c2"
PULL_PW = "pUll-S3cr3t-0c9d8e"
GIT_PW = "g1t-S3cr3t-b5a6d7"
GIT_TOKEN = "ghp_S3cr3tT0ken4e2eSecurity0123456789"
INLINE_PW = "inl1ne-S3cr3t-93e0aa"
TRIGGER_CODE = "tr1gger-S3cr3t-55d0"
OK_IMAGE = "e2e.local/builder-ok:1"
FAIL_IMAGE = "e2e.local/builder-fail:1"


def forms(value, user=None):
    """The ways a secret value can show up in text: as is, base64 (standard and URL-safe,
    with and without padding), and user:value in base64 (a docker config's "auth")."""
    out = {value}
    raw = [value.encode()]
    if user:
        raw.append(("%s:%s" % (user, value)).encode())
    for r in raw:
        for enc in (base64.b64encode(r), base64.urlsafe_b64encode(r)):
            s = enc.decode()
            out.add(s)
            out.add(s.rstrip("="))
    return out


SECRETS = {
    "push password": forms(PUSH_PW, "pusher"),
    "pull password": forms(PULL_PW, "puller"),
    "git password": forms(GIT_PW, "gitter"),
    "git token": forms(GIT_TOKEN),
    "inline password": forms(INLINE_PW, "inliner"),
    "trigger secretCode": forms(TRIGGER_CODE),
}


def written(obj):
    """What of an object the operator or the cluster wrote: all of it, except a builder's
    spec and kubectl's last-applied annotation, which are the user's own input (where the
    user put the inline password and the secretCode)."""
    if obj.get("kind") == "S2iBuilder":
        obj = dict(obj, spec="(user input)")
    ann = (obj.get("metadata") or {}).get("annotations") or {}
    if "kubectl.kubernetes.io/last-applied-configuration" in ann:
        ann = dict(ann)
        del ann["kubectl.kubernetes.io/last-applied-configuration"]
        obj = dict(obj, metadata=dict(obj["metadata"], annotations=ann))
    return obj


class SecretsStaySecretTest(E2ETestCase):
    NAMESPACE = "e2e-sec"

    def setUp(self):
        self.set_scripts({
            OK_IMAGE: {"exitCode": 0, "duration": 0.1, "logs": "assembling\ndone",
                       "terminationMessage": json.dumps({"s2iBuildResult": {"imageName": "x"}})},
            FAIL_IMAGE: {"exitCode": 1, "duration": 0.1, "logs": "assemble failed",
                         "terminationMessage": "AssembleFailed: assemble exited with code 1"}})
        self.seen = []          # every object version the watches saw, as text
        self.lock = threading.Lock()

    def secret(self, name, type_, string_data):
        self.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "type": type_,
                    "stringData": string_data})

    def http(self, op, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", op.port("http"), timeout=10)
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read().decode(errors="replace")
        conn.close()
        return r.status, data

    def test_no_secret_value_in_logs_events_statuses_jobs_or_pods(self):
        # Watches that keep every version of the objects the operator writes.
        seen = self.seen
        stop = threading.Event()

        def keep(path):
            rv = None
            while not stop.is_set():
                try:
                    if rv is None:
                        code, lst, _ = self.sim.request("GET", path)
                        rv = lst["metadata"]["resourceVersion"]
                        with self.lock:
                            seen.extend(json.dumps(written(o)) for o in lst["items"])
                    evs = self.sim.watch(path + "?watch=1&timeoutSeconds=2&allowWatchBookmarks=true"
                                         "&resourceVersion=" + rv, 2)
                    with self.lock:
                        for ev in evs:
                            o = ev.get("object") or {}
                            rv = (o.get("metadata") or {}).get("resourceVersion", rv)
                            seen.append(json.dumps(written(o)))
                except Exception:  # noqa: BLE001 - a 410 or a dropped stream: list again
                    rv = None
                    time.sleep(0.2)
        keepers = [threading.Thread(target=keep, args=(p,), daemon=True) for p in (
            "/apis/devops.kubesphere.io/v1alpha1/s2iruns", "/apis/devops.kubesphere.io/v1alpha1/s2ibuilders",
            "/api/v1/events", "/apis/batch/v1/jobs", "/api/v1/pods")]
        for t in keepers:
            t.start()

        self.kubectl("create", "namespace", self.NAMESPACE, check=False)
        docker = {"auths": {"registry.e2e:5000": {"username": "pusher", "password": PUSH_PW,
                                                  "auth": base64.b64encode(b"pusher:" + PUSH_PW.encode()).decode()}}}
        pull = {"auths": {"registry.e2e:5000": {"username": "puller", "password": PULL_PW,
                                                "auth": base64.b64encode(b"puller:" + PULL_PW.encode()).decode()}}}
        self.secret("push", "kubernetes.io/dockerconfigjson", {".dockerconfigjson": json.dumps(docker)})
        self.secret("pull", "kubernetes.io/dockerconfigjson", {".dockerconfigjson": json.dumps(pull)})
        self.secret("git", "kubernetes.io/basic-auth", {"username": "gitter", "password": GIT_PW})
        self.secret("gittoken", "Opaque", {"token": GIT_TOKEN})
        op = self.start_operator("-v", "10")
        wait_for(lambda: op.http("probes", "/readyz")[0] == 200, timeout=60, what="ready")

        refs = {"pushAuthentication": {"secretRef": {"name": "push"}},
                "pullAuthentication": {"secretRef": {"name": "pull"}},
                "gitSecretRef": {"name": "git"}}
        self.apply(self.s2ibuilder("sec-ok", image=OK_IMAGE, secretCode=TRIGGER_CODE, **refs))
        self.apply(self.s2ibuilder("sec-fail", image=FAIL_IMAGE, **dict(refs, gitSecretRef={"name": "gittoken"})))
        # Inline credentials: upstream's fields; the operator must drop them (and say so).
        self.apply(self.s2ibuilder("sec-inline", image=OK_IMAGE, pushAuthentication={
            "username": "inliner", "password": INLINE_PW, "serverAddress": "registry.e2e:5000"}))
        # A builder whose Secret is missing: the waiting message names it, not its content.
        self.apply(self.s2ibuilder("sec-missing", image=OK_IMAGE,
                                   pushAuthentication={"secretRef": {"name": "nope"}}))
        for name, b in (("r-ok", "sec-ok"), ("r-fail", "sec-fail"), ("r-inline", "sec-inline"),
                        ("r-missing", "sec-missing")):
            self.apply(self.s2irun(name, b))

        # Triggers: the right secretCode, a wrong one, and a GitHub push signed with it.
        base = "/s2itrigger/v1alpha1/%s/namespaces/%s/s2ibuilders/sec-ok/"
        self.assertEqual(self.http(op, "POST", base % ("general", self.NAMESPACE) + "?secretCode="
                                   + urllib.parse.quote(TRIGGER_CODE))[0], 201)
        self.assertEqual(self.http(op, "POST", base % ("general", self.NAMESPACE) + "?secretCode="
                                   + urllib.parse.quote(TRIGGER_CODE[::-1]))[0], 401)
        body = json.dumps({"ref": "refs/heads/main", "deleted": False,
                           "head_commit": {"id": "a" * 40, "committer": {"name": "Ada"}},
                           "repository": {"full_name": "demo/app"}}).encode()
        sig = "sha256=" + hmac.new(TRIGGER_CODE.encode(), body, hashlib.sha256).hexdigest()
        code, data = self.http(op, "POST", base % ("github", self.NAMESPACE), body=body, headers={
            "X-GitHub-Event": "push", "Content-Type": "application/json", "X-Hub-Signature-256": sig})
        self.assertEqual(code, 201, data)
        # GitLab sends the secret as a header, as is.
        code, data = self.http(op, "POST", base % ("gitlab", self.NAMESPACE), body=json.dumps({
            "object_kind": "push", "ref": "refs/heads/main", "checkout_sha": "b" * 40,
            "user_name": "Ada", "project": {"path_with_namespace": "demo/app"}}).encode(), headers={
            "X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": TRIGGER_CODE, "Content-Type": "application/json"})
        self.assertIn(code, (200, 201), data)

        self.assertEqual(self.wait_run("r-ok")["status"]["runState"], "Successful")
        self.assertEqual(self.wait_run("r-fail")["status"]["runState"], "Failed")
        self.wait_run("r-inline")

        def waiting():
            r = self.get("s2irun", "r-missing")
            c = self.condition(r) if r else None
            return c if c and "nope" in (c.get("message") or "") else None
        wait_for(waiting, timeout=30, what="r-missing waits for its Secret")
        runs = self.kjson("get", "s2iruns", "-n", self.NAMESPACE)["items"]
        for r in runs:
            if r["spec"]["builderName"] == "sec-ok":
                self.wait_run(r["metadata"]["name"])
        time.sleep(2)      # the last status and event writes
        stop.set()
        for t in keepers:
            t.join(10)

        # -- what was written, logged and served ----------------------------------------
        texts = {}
        op_log = op.stop()
        type(self).operator = None
        texts["operator log"] = op_log
        with open(self.sim.log.name, errors="replace") as f:
            texts["kube-sim log"] = f.read()
        pods = self.kjson("get", "pods", "-n", self.NAMESPACE)["items"]
        self.assertGreaterEqual(len(pods), 3)
        for p in pods:
            for c in (p["spec"].get("initContainers") or []) + p["spec"]["containers"]:
                r = self.kubectl("logs", "-n", self.NAMESPACE, p["metadata"]["name"], "-c", c["name"], check=False)
                texts["log of pod %s/%s" % (p["metadata"]["name"], c["name"])] = r.stdout + r.stderr
        events = self.kjson("get", "events", "-A")["items"]
        self.assertTrue(any(e.get("reason") == "InlineCredentialsIgnored" for e in events),
                        "no event tells that the inline password was dropped")
        texts["events"] = json.dumps(events)
        for kind in ("s2iruns", "s2ibuilders", "jobs", "pods"):
            texts["%s as stored" % kind] = json.dumps([written(o) for o in self.kjson("get", kind, "-A")["items"]])
        with self.lock:
            texts["every version the watches saw"] = "\n".join(seen)
        self.assertGreater(len(seen), 20)

        leaks = []
        for what, text in texts.items():
            for secret, values in SECRETS.items():
                for v in values:
                    if v in text:
                        i = text.index(v)
                        leaks.append("%s in %s: ...%s..." % (secret, what, text[max(0, i - 80):i + 40]))
                        break
        self.assertEqual(leaks, [], "secret values leaked:\n" + "\n".join(leaks))
        n_lines = sum(t.count("\n") + 1 for t in texts.values())
        print("\n[security] searched %d texts (%d lines, %d object versions) for %d secret values: none found"
              % (len(texts), n_lines, len(seen), sum(len(v) for v in SECRETS.values())))

    def test_the_build_pod_asks_for_no_privilege(self):
        self.kubectl("create", "namespace", self.NAMESPACE, check=False)
        self.secret("push", "kubernetes.io/dockerconfigjson", {".dockerconfigjson": json.dumps(
            {"auths": {"registry.e2e:5000": {"auth": base64.b64encode(b"u:" + PUSH_PW.encode()).decode()}}})})
        op = self.start_operator()
        wait_for(lambda: op.http("probes", "/readyz")[0] == 200, timeout=60, what="ready")
        self.apply(self.s2ibuilder("priv", image=OK_IMAGE, pushAuthentication={"secretRef": {"name": "push"}},
                                   runtimeImage="e2e.local/runtime:1", runtimeArtifacts=[{"source": "/app"}]))
        self.apply(self.s2ibuilder("plain", image=OK_IMAGE))
        self.apply(self.s2irun("priv-1", "priv"))
        self.apply(self.s2irun("plain-1", "plain"))
        jobs = []
        for name in ("priv-1", "plain-1"):
            def job():
                run = self.get("s2irun", name)
                js = self.jobs_of(run) if run else []
                return js[0] if js else None
            jobs.append(wait_for(job, timeout=30, what="the Job of %s" % name))
        op.stop()
        type(self).operator = None
        for job in jobs:
            pod = job["spec"]["template"]["spec"]
            where = job["metadata"]["name"]
            containers = (pod.get("initContainers") or []) + pod["containers"]
            for c in containers:
                sc = c.get("securityContext") or {}
                self.assertFalse(sc.get("privileged", False), "%s/%s is privileged" % (where, c["name"]))
                self.assertIs(sc.get("allowPrivilegeEscalation"), False,
                              "%s/%s may escalate privileges" % (where, c["name"]))
                self.assertFalse((sc.get("capabilities") or {}).get("add"),
                                 "%s/%s adds capabilities" % (where, c["name"]))
                self.assertNotEqual(sc.get("runAsUser"), 0, "%s/%s forced to root" % (where, c["name"]))
            for v in pod.get("volumes") or []:
                self.assertNotIn("hostPath", v, "%s mounts a hostPath: %s" % (where, v))
            for k in ("hostNetwork", "hostPID", "hostIPC"):
                self.assertFalse(pod.get(k, False), "%s sets %s" % (where, k))
            self.assertIs(pod.get("automountServiceAccountToken"), False, "%s mounts a token" % where)
            psc = pod.get("securityContext") or {}
            self.assertEqual((psc.get("seccompProfile") or {}).get("type"), "RuntimeDefault", where)
            self.assertNotEqual(psc.get("runAsUser"), 0, "%s runs as root" % where)
            # Our own image (USER 65532:65532) allows non-root: the prepare step must say so,
            # so that a cluster enforcing the restricted Pod Security Standard admits it.
            prepare = [c for c in containers if c["image"] == "e2e.local/s2i-prepare:test"]
            self.assertTrue(prepare, "no prepare step in %s" % where)
            for c in prepare:
                sc = dict(psc, **(c.get("securityContext") or {}))
                self.assertTrue(sc.get("runAsNonRoot") is True or (sc.get("runAsUser") or 0) > 0,
                                "%s/%s (our image, USER 65532) does not run as non-root: securityContext %s"
                                % (where, c["name"], c.get("securityContext")))

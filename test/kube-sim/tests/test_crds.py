"""The CustomResourceDefinitions in crds/ and the samples in crds/samples/, served by kube-sim
and driven by the real kubectl: what a user, the KubeSphere console and ks-apiserver rely on.

Run: cd test/kube-sim && python3 -m unittest tests.test_crds -v"""
import json
import os
import subprocess

from .simutil import SimTestCase

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
CRDS = os.path.join(REPO, "crds")
SAMPLES = os.path.join(CRDS, "samples")
GROUP = "devops.kubesphere.io"
API = "/apis/%s/v1alpha1" % GROUP
NS = "s2i-crds"
CRD_FILES = {"s2ibuilders": "devops.kubesphere.io_s2ibuilders.yaml",
             "s2iruns": "devops.kubesphere.io_s2iruns.yaml",
             "s2ibuildertemplates": "devops.kubesphere.io_s2ibuildertemplates.yaml"}


def run(name, spec):
    return {"apiVersion": GROUP + "/v1alpha1", "kind": "S2iRun", "metadata": {"name": name, "namespace": NS},
            "spec": spec}


def builder(name, **config):
    cfg = {"imageName": "registry.local:5000/demo/" + name, "sourceUrl": "https://git.example.com/demo/app.git",
           "builderImage": "registry.local:5000/s2i/nodejs-18:latest", "builderPullPolicy": "if-not-present"}
    cfg.update(config)
    return {"apiVersion": GROUP + "/v1alpha1", "kind": "S2iBuilder", "metadata": {"name": name, "namespace": NS},
            "spec": {"config": cfg}}


def walk(schema, path=""):
    """Yields (path, node) for every property and every object-typed array item of a schema."""
    for name, sub in (schema.get("properties") or {}).items():
        p = path + "." + name if path else name
        yield p, sub
        yield from walk(sub, p)
    items = schema.get("items")
    if isinstance(items, dict):
        if items.get("type") == "object":
            yield path + "[]", items
        yield from walk(items, path + "[]")


class CrdTest(SimTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        k = cls.sim.kubectl
        for f in CRD_FILES.values():
            k("apply", "-f", os.path.join(CRDS, f))
        for plural in CRD_FILES:
            k("wait", "--for=condition=established", "crd/%s.%s" % (plural, GROUP), "--timeout=30s")
        k("create", "namespace", NS)
        # Secrets first: the builders name them.
        for f in ("secret-docker-config.yaml", "secret-git-basic-auth.yaml"):
            k("apply", "-n", NS, "-f", os.path.join(SAMPLES, f))

    def crd(self, plural):
        return self.sim.kubectl_json("get", "crd", "%s.%s" % (plural, GROUP))

    def schema(self, plural):
        return self.crd(plural)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]

    def post(self, plural, obj, query=""):
        ns = "" if plural == "s2ibuildertemplates" else "/namespaces/" + NS
        return self.sim.request("POST", "%s%s/%s%s" % (API, ns, plural, query), obj)

    def fields(self, body):
        return [c.get("field") for c in body["details"]["causes"]]

    # -- the CRDs themselves ------------------------------------------------------------

    def test_crds_are_established_with_upstream_names_scopes_and_subresources(self):
        want = {"s2ibuilders": ("S2iBuilder", "s2ibuilder", ["s2ib"], "Namespaced", {"status": {}}),
                "s2iruns": ("S2iRun", "s2irun", ["s2ir"], "Namespaced", {"status": {}}),
                "s2ibuildertemplates": ("S2iBuilderTemplate", "s2ibuildertemplate", ["s2ibt"], "Cluster", None)}
        for plural, (kind, singular, short, scope, sub) in want.items():
            c = self.crd(plural)
            conds = {x["type"]: x["status"] for x in c["status"]["conditions"]}
            self.assertEqual(conds.get("Established"), "True", plural)
            self.assertEqual(conds.get("NamesAccepted"), "True", plural)
            n = c["spec"]["names"]
            self.assertEqual((n["kind"], n["plural"], n["singular"], n["shortNames"], c["spec"]["scope"]),
                             (kind, plural, singular, short, scope))
            self.assertEqual(sorted(n["categories"]), ["devops", "s2i"])
            self.assertIs(c["spec"]["preserveUnknownFields"], False)
            self.assertEqual([(v["name"], v["served"], v["storage"]) for v in c["spec"]["versions"]],
                             [("v1alpha1", True, True)])
            self.assertEqual(c["spec"]["versions"][0].get("subresources") or None, sub, plural)
        r = self.sim.kubectl("api-resources", "--api-group=" + GROUP, "-o", "wide")
        self.assertIn("s2ibuildertemplates", r.stdout)

    def test_every_field_has_a_description(self):
        for plural in CRD_FILES:
            root = self.schema(plural)
            self.assertTrue(root.get("description"), plural)
            missing = [p for p, node in walk(root) if p != "metadata" and not node.get("description")]
            self.assertEqual(missing, [], plural)

    def test_json_types_match_the_go_types(self):
        b, r = self.schema("s2ibuilders"), self.schema("s2iruns")
        res = r["properties"]["status"]["properties"]["s2iBuildResult"]["properties"]
        src = r["properties"]["status"]["properties"]["s2iBuildSource"]["properties"]
        st = b["properties"]["status"]
        self.assertEqual((res["imageSize"]["type"], res["imageSize"]["format"]), ("integer", "int64"))
        self.assertEqual(src["binarySize"]["type"], "integer")
        self.assertEqual(res["imageCreated"]["type"], "string")
        self.assertEqual(res["imageRepoTags"]["items"]["type"], "string")
        self.assertEqual(st["properties"]["runCount"]["type"], "integer")
        self.assertEqual(st["required"], ["runCount"])
        for node in (st["properties"]["lastRunStartTime"], r["properties"]["status"]["properties"]["startTime"],
                     r["properties"]["status"]["properties"]["completionTime"]):
            self.assertEqual((node["type"], node["format"]), ("string", "date-time"))
        cfg = b["properties"]["spec"]["properties"]["config"]
        self.assertEqual(cfg["required"], ["imageName", "sourceUrl"])
        self.assertEqual(len(cfg["properties"]), 61)          # every upstream S2iConfig field
        self.assertEqual(sorted(cfg["properties"]["dockerConfig"]["required"]),
                         ["caFile", "certFile", "endPoint", "keyFile", "tlsVerify", "useTLS"])
        self.assertEqual(sorted(cfg["properties"]["cgroupLimits"]["required"]),
                         ["cpuPeriod", "cpuQuota", "cpuShares", "memoryLimitBytes", "memorySwap", "parent"])
        self.assertEqual(cfg["properties"]["environment"]["items"]["required"], ["name", "value"])
        self.assertEqual(r["properties"]["spec"]["required"], ["builderName"])
        self.assertNotIn("required", self.schema("s2ibuildertemplates")["properties"]["spec"])
        self.assertIn("environment", self.schema("s2ibuildertemplates")["properties"]["spec"]["properties"])
        # revisionId and tag are defaulted by the webhook/controller, never by the schema
        for p, node in walk(b):
            self.assertNotIn("default", node, p)

    # -- samples --------------------------------------------------------------------------

    def test_every_sample_applies_strictly(self):
        order = ["s2ibuildertemplate.yaml", "s2ibuilder.yaml", "s2ibuilder-from-template.yaml", "s2irun.yaml"]
        self.assertEqual(sorted(order + ["secret-docker-config.yaml", "secret-git-basic-auth.yaml"]),
                         sorted(os.listdir(SAMPLES)))
        for f in order:
            r = self.sim.kubectl("apply", "-n", NS, "--validate=strict", "-f", os.path.join(SAMPLES, f))
            self.assertIn("created", r.stdout, f)
            self.assertNotIn("Warning", r.stderr, f)      # no field pruned
        b = self.sim.kubectl_json("get", "s2ib", "hello-nodejs", "-n", NS)
        cfg = b["spec"]["config"]
        self.assertEqual((cfg["builderPullPolicy"], cfg["export"], cfg["outputBuildResult"]),
                         ("if-not-present", True, True))
        self.assertNotIn(":", cfg["imageName"].split("/")[-1])        # no tag in imageName
        self.assertEqual(cfg["pushAuthentication"]["secretRef"]["name"], "registry-push")
        self.assertEqual(cfg["gitSecretRef"]["name"], "git-basic-auth")
        for name, typ in (("registry-push", "kubernetes.io/dockerconfigjson"),
                          ("git-basic-auth", "kubernetes.io/basic-auth")):
            self.assertEqual(self.sim.kubectl_json("get", "secret", name, "-n", NS)["type"], typ)
        t = self.sim.kubectl_json("get", "s2ibt", "nodejs")
        self.assertNotIn("namespace", t["metadata"])                   # cluster-scoped
        images = [c["builderImage"] for c in t["spec"]["containerInfo"]]
        self.assertIn(t["spec"]["defaultBaseImage"], images)
        ft = self.sim.kubectl_json("get", "s2ib", "hello-nodejs-template", "-n", NS)["spec"]["fromTemplate"]
        self.assertEqual(ft["name"], "nodejs")
        self.assertIn(ft["builderImage"], images)
        r = self.sim.kubectl_json("get", "s2ir", "hello-nodejs-run-1", "-n", NS)
        self.assertEqual(r["spec"]["builderName"], b["metadata"]["name"])

    # -- kubectl get / explain --------------------------------------------------------------

    def headers(self, *args):
        return self.sim.kubectl("get", *args).stdout.splitlines()[0].split()

    def test_get_prints_the_printer_columns(self):
        k = self.sim.kubectl
        k("apply", "-f", "-", input=json.dumps(run("columns", {"builderName": "b"})))
        k("apply", "-f", "-", input=json.dumps(builder("columns")))
        self.assertEqual(self.headers("s2ir", "-n", NS),
                         ["NAME", "STATE", "K8SJOBNAME", "STARTTIME", "COMPLETIONTIME", "IMAGENAME", "SUCCEEDED",
                          "REASON", "AGE"])
        self.assertEqual(self.headers("s2ib", "-n", NS),
                         ["NAME", "RUNCOUNT", "LASTRUNSTATE", "LASTRUNNAME", "LASTRUNSTARTTIME", "AGE"])
        k("apply", "-f", os.path.join(SAMPLES, "s2ibuildertemplate.yaml"))
        self.assertEqual(self.headers("s2ibt"), ["NAME", "FRAMEWORK", "DEFAULTBASEIMAGE", "VERSION", "AGE"])
        # the values, from status and the Succeeded condition
        k("patch", "s2ir", "columns", "-n", NS, "--subresource=status", "--type=merge", "-p", json.dumps(
            {"status": {"runState": "Failed", "kubernetesJobName": "columns-0123456789ab-job",
                        "startTime": "2025-01-01T00:00:00Z", "completionTime": "2025-01-01T00:05:00Z",
                        "s2iBuildResult": {"imageName": "registry.local:5000/demo/columns"},
                        "conditions": [{"type": "Succeeded", "status": "False", "reason": "PushFailed",
                                        "message": "push denied", "lastTransitionTime": "2025-01-01T00:05:00Z"}]}}))
        row = k("get", "s2ir", "columns", "-n", NS, "--no-headers").stdout.split()
        self.assertEqual(row[:3], ["columns", "Failed", "columns-0123456789ab-job"])
        self.assertEqual(row[5:8], ["registry.local:5000/demo/columns", "False", "PushFailed"])
        # the s2i category lists all three kinds
        out = k("get", "s2i", "-n", NS).stdout
        for kind in ("s2irun.devops.kubesphere.io/columns", "s2ibuilder.devops.kubesphere.io/columns",
                     "s2ibuildertemplate.devops.kubesphere.io/nodejs"):
            self.assertIn(kind, out)

    def test_explain_documents_the_fields(self):
        k = self.sim.kubectl
        out = k("explain", "s2irun.spec").stdout
        for text in ("builderName\t<string> -required-", "Name of the S2iBuilder in this namespace to run.",
                     "newTag", "newRevisionId", "newSourceURL", "backoffLimit", "secondsAfterFinished",
                     "timeout", "(s2i-operator)", "enum: Cancelled"):
            self.assertIn(text, out)
        out = k("explain", "s2ibuilder.spec.config").stdout
        for text in ("imageName\t<string> -required-", "sourceUrl\t<string> -required-", "WITHOUT tag",
                     "builderPullPolicy", "pushAuthentication\t<Object>", "gitSecretRef"):
            self.assertIn(text, out)
        out = k("explain", "s2ibuilder.spec.config.builderImage").stdout
        self.assertIn("The builder image that assembles the source", out)
        out = k("explain", "s2ibuilder.spec.config.builderPullPolicy").stdout
        self.assertIn("if-not-present", out)
        out = k("explain", "s2ibuildertemplate.spec.environment").stdout
        self.assertIn("defaultValue", out)
        out = k("explain", "s2irun.status.s2iBuildResult.imageSize").stdout
        self.assertIn("<integer>", out)

    # -- validation -----------------------------------------------------------------------

    def test_run_without_builder_name_is_rejected(self):
        code, body, _ = self.post("s2iruns", run("no-builder", {"newTag": "v2"}))
        self.assertEqual((code, body["reason"]), (422, "Invalid"), body)
        self.assertEqual(self.fields(body), ["spec.builderName"])
        self.assertIn("spec.builderName: Required value", body["message"])
        r = self.sim.kubectl("apply", "-f", "-", input=json.dumps(run("no-builder", {})), check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("spec.builderName: Required value", r.stderr)

    def test_builder_pull_policy_enum(self):
        code, body, _ = self.post("s2ibuilders", builder("sometimes", builderPullPolicy="sometimes"))
        self.assertEqual(code, 422, body)
        self.assertEqual(self.fields(body), ["spec.config.builderPullPolicy"])
        self.assertIn('Unsupported value: "sometimes"', body["message"])
        for policy in ("always", "never", "if-not-present"):
            code, body, _ = self.post("s2ibuilders", builder("pull-" + policy, builderPullPolicy=policy))
            self.assertEqual(code, 201, body)
        for field in ("imageName", "sourceUrl"):
            b = builder("no-" + field.lower())
            del b["spec"]["config"][field]
            code, body, _ = self.post("s2ibuilders", b)
            self.assertEqual((code, self.fields(body)), (422, ["spec.config." + field]))

    def test_status_types_are_enforced(self):
        k = self.sim.kubectl
        k("apply", "-f", "-", input=json.dumps(run("typed", {"builderName": "b"})))

        def status(st):
            return k("patch", "s2ir", "typed", "-n", NS, "--subresource=status", "--type=merge",
                     "-p", json.dumps({"status": st}), check=False)
        r = status({"s2iBuildResult": {"imageSize": "big"}})
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("status.s2iBuildResult.imageSize in body must be of type integer", r.stderr)
        for bad, field in (({"s2iBuildSource": {"binarySize": "1M"}}, "status.s2iBuildSource.binarySize"),
                           ({"s2iBuildSource": {"binarySize": -1}}, "status.s2iBuildSource.binarySize"),
                           ({"startTime": "yesterday"}, "status.startTime"),
                           ({"runState": "Building"}, "status.runState"),
                           ({"conditions": [{"type": "Succeeded", "status": "Yes"}]}, "status.conditions[0].status"),
                           ({"conditions": [{"status": "True"}]}, "status.conditions[0].type")):
            r = status(bad)
            self.assertNotEqual(r.returncode, 0, bad)
            self.assertIn(field, r.stderr)
        r = status({"runState": "Successful", "startTime": "2025-01-01T00:00:00Z",
                    "s2iBuildResult": {"imageSize": 9007199254740993, "imageID": "sha256:" + "0" * 64,
                                       "imageCreated": "2025-01-01T00:00:00.123456789Z",
                                       "imageRepoTags": ["registry.local:5000/demo/typed:v1"]},
                    "s2iBuildSource": {"binarySize": 12, "commitID": "abc"}})
        self.assertEqual(r.returncode, 0, r.stderr)
        st = self.sim.kubectl_json("get", "s2ir", "typed", "-n", NS)["status"]
        self.assertEqual(st["s2iBuildResult"]["imageSize"], 9007199254740993)    # int64, not a float
        # builder status: runCount is required and an integer
        k("apply", "-f", "-", input=json.dumps(builder("typed")))
        for bad in ({"lastRunState": "Running"}, {"runCount": "1"}, {"runCount": 1, "lastRunState": "Building"}):
            r = k("patch", "s2ib", "typed", "-n", NS, "--subresource=status", "--type=merge",
                  "-p", json.dumps({"status": bad}), check=False)
            self.assertNotEqual(r.returncode, 0, bad)
        for state in ("Not Running Yet", "", "Running", "Successful", "Failed", "Unknown"):
            k("patch", "s2ib", "typed", "-n", NS, "--subresource=status", "--type=merge",
              "-p", json.dumps({"status": {"runCount": 0, "lastRunState": state}}))

    def test_additions_are_validated(self):
        for spec, field in (({"builderName": "b", "timeout": "forever"}, "spec.timeout"),
                            ({"builderName": "b", "timeout": "10"}, "spec.timeout"),
                            ({"builderName": "b", "timeout": "-1h"}, "spec.timeout"),
                            ({"builderName": "b", "pendingTimeout": "5 minutes"}, "spec.pendingTimeout"),
                            ({"builderName": "b", "state": "Stopped"}, "spec.state"),
                            ({"builderName": "b", "backoffLimit": -1}, "spec.backoffLimit"),
                            ({"builderName": ""}, "spec.builderName")):
            code, body, _ = self.post("s2iruns", run("additions", spec))
            self.assertEqual((code, self.fields(body)), (422, [field]), spec)
        for i, d in enumerate(("1.5h", ".5h", "90s", "1h2m3s4ms5us6ns")):
            code, body, _ = self.post("s2iruns", run("duration-%d" % i, {"builderName": "b", "timeout": d}))
            self.assertEqual(code, 201, (d, body))
        code, body, _ = self.post("s2iruns", run("additions", {"builderName": "b", "timeout": "1h30m",
                                                               "pendingTimeout": "90s", "state": "Cancelled"}))
        self.assertEqual(code, 201, body)
        b = builder("limits")
        for key, bad in (("successfulRunsHistoryLimit", -1), ("failedRunsHistoryLimit", -2),
                         ("runPolicy", "Sometimes")):
            b["spec"] = {"config": b["spec"]["config"], key: bad}
            code, body, _ = self.post("s2ibuilders", b)
            self.assertEqual((code, self.fields(body)), (422, ["spec." + key]))
        b["spec"].update(successfulRunsHistoryLimit=0, failedRunsHistoryLimit=3, runPolicy="SerialLatestOnly")
        code, body, _ = self.post("s2ibuilders", b)
        self.assertEqual(code, 201, body)

    def test_no_schema_defaults_for_tag_and_revision(self):
        code, body, _ = self.post("s2ibuilders", builder("undefaulted"))
        self.assertEqual(code, 201, body)
        cfg = body["spec"]["config"]
        self.assertNotIn("tag", cfg)
        self.assertNotIn("revisionId", cfg)
        code, body, _ = self.post("s2iruns", run("undefaulted", {"builderName": "undefaulted"}))
        self.assertEqual(body["spec"], {"builderName": "undefaulted"})

    # -- unknown fields ---------------------------------------------------------------------

    def test_console_keys_in_spec_config_survive(self):
        """The KubeSphere console writes replicas, type and every key of the template's
        containerInfo into spec.config; they must survive, even under strict validation."""
        b = builder("console", replicas=0, type="nodejs", export=True, outputBuildResult=True, contextDir="/",
                    tag="latest", revisionId="master", buildVolumes=["cache:/opt/app-root/src/.npm"],
                    pushAuthentication={"secretRef": {"name": "registry-push"}},
                    somethingNew={"nested": [1, 2]})
        b["metadata"]["labels"] = {"controller-tools.k8s.io": "1.0", "s2i-type.kubesphere.io": "s2i"}
        code, body, hdrs = self.post("s2ibuilders", b, "?fieldValidation=Strict")
        self.assertEqual(code, 201, body)
        cfg = self.sim.kubectl_json("get", "s2ib", "console", "-n", NS)["spec"]["config"]
        self.assertEqual((cfg["replicas"], cfg["type"], cfg["somethingNew"]), (0, "nodejs", {"nested": [1, 2]}))
        # merge patch from the console's edit form keeps them too
        self.sim.kubectl("patch", "s2ib", "console", "-n", NS, "--type=merge",
                         "-p", '{"spec":{"config":{"replicas":2,"tag":"v2"}}}')
        cfg = self.sim.kubectl_json("get", "s2ib", "console", "-n", NS)["spec"]["config"]
        self.assertEqual((cfg["replicas"], cfg["tag"], cfg["type"]), (2, "v2", "nodejs"))
        # declared properties inside spec.config are still validated, and their objects pruned
        b = builder("console-bad", export="yes")
        code, body, _ = self.post("s2ibuilders", b)
        self.assertEqual((code, self.fields(body)), (422, ["spec.config.export"]))
        b = builder("console-pruned", pushAuthentication={"secretRef": {"name": "x"}, "bogus": 1})
        code, body, hdrs = self.post("s2ibuilders", b)
        self.assertEqual(code, 201, body)
        self.assertEqual(body["spec"]["config"]["pushAuthentication"], {"secretRef": {"name": "x"}})
        self.assertIn("unknown field", hdrs.get("Warning", ""))     # 299 - "unknown field \"...\""
        self.assertIn("spec.config.pushAuthentication.bogus", hdrs.get("Warning", ""))

    def test_console_run_body_is_accepted(self):
        """The console's POST: a junk metadata.cluster key and spec {builderName[, newTag]}."""
        body = run("console-builder-" + "x" * 40 + "-rerun-abc", {"builderName": "console", "newTag": ""})
        body["metadata"]["cluster"] = "host"
        body["metadata"]["annotations"] = {"kubesphere.io/creator": "admin"}
        code, out, _ = self.post("s2iruns", body)
        self.assertEqual(code, 201, out)
        self.assertEqual(out["spec"], {"builderName": "console", "newTag": ""})

    def test_unknown_keys_in_run_spec_are_pruned_or_rejected(self):
        k = self.sim.kubectl
        obj = run("unknown", {"builderName": "b", "binaryUrl": "http://x", "isBinaryURL": True})
        r = k("apply", "--validate=strict", "-f", "-", input=json.dumps(obj), check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('unknown field "spec.binaryUrl"', r.stderr)
        self.assertIn("NotFound", k("get", "s2ir", "unknown", "-n", NS, check=False).stderr)
        r = k("apply", "--validate=false", "-f", "-", input=json.dumps(obj))
        self.assertEqual(self.sim.kubectl_json("get", "s2ir", "unknown", "-n", NS)["spec"], {"builderName": "b"})
        # and at the root of spec / status of the other kinds
        t = {"apiVersion": GROUP + "/v1alpha1", "kind": "S2iBuilderTemplate", "metadata": {"name": "pruned"},
             "spec": {"baseImages": ["a"], "defaultBaseImage": "a", "containerInfo": [{"builderImage": "a",
                                                                                      "docUrl": "x"}]}}
        code, body, _ = self.post("s2ibuildertemplates", t)
        self.assertEqual(code, 201, body)
        self.assertEqual(body["spec"], {"defaultBaseImage": "a", "containerInfo": [{"builderImage": "a"}]})
        code, body, _ = self.post("s2ibuildertemplates", dict(t, metadata={"name": "strict"}),
                                  "?fieldValidation=Strict")
        self.assertEqual(code, 400, body)

    # -- subresources -----------------------------------------------------------------------

    def test_status_subresource(self):
        k = self.sim.kubectl
        k("apply", "-f", "-", input=json.dumps(run("sub", {"builderName": "b"})))
        gen = self.sim.kubectl_json("get", "s2ir", "sub", "-n", NS)["metadata"]["generation"]
        k("patch", "s2ir", "sub", "-n", NS, "--subresource=status", "--type=merge",
          "-p", '{"status":{"runState":"Running","startTime":"2025-01-01T00:00:00Z"},"spec":{"newTag":"ignored"}}')
        obj = self.sim.kubectl_json("get", "s2ir", "sub", "-n", NS)
        self.assertEqual(obj["status"]["runState"], "Running")
        self.assertNotIn("newTag", obj["spec"])                  # spec is not written through /status
        self.assertEqual(obj["metadata"]["generation"], gen)      # nor is the generation bumped
        # status is not written through the main resource
        k("patch", "s2ir", "sub", "-n", NS, "--type=merge", "-p", '{"status":{"runState":"Failed"}}')
        self.assertEqual(self.sim.kubectl_json("get", "s2ir", "sub", "-n", NS)["status"]["runState"], "Running")
        # kubectl wait on the Succeeded condition (conditions are a list-map keyed by type)
        waiter = subprocess.Popen(["kubectl", "--kubeconfig", self.sim.kubeconfig, "wait", "-n", NS,
                                   "--for=condition=Succeeded", "s2ir/sub", "--timeout=30s"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        k("patch", "s2ir", "sub", "-n", NS, "--subresource=status", "--type=merge", "-p", json.dumps(
            {"status": {"runState": "Successful", "conditions": [
                {"type": "Succeeded", "status": "True", "reason": "Succeeded", "observedGeneration": gen,
                 "lastTransitionTime": "2025-01-01T00:01:00Z"}]}}))
        out, err = waiter.communicate(timeout=40)
        self.assertEqual(waiter.returncode, 0, err)
        self.assertIn("condition met", out)
        r = k("patch", "s2ir", "sub", "-n", NS, "--subresource=status", "--type=json", "-p", json.dumps(
            [{"op": "add", "path": "/status/conditions/-", "value": {"type": "Succeeded", "status": "False"}}]),
            check=False)
        self.assertIn("Duplicate value", r.stderr)
        # the builder's status subresource
        k("apply", "-f", "-", input=json.dumps(builder("sub")))
        k("patch", "s2ib", "sub", "-n", NS, "--subresource=status", "--type=merge", "-p", json.dumps(
            {"status": {"runCount": 1, "lastRunState": "Running", "lastRunName": "sub",
                        "lastRunStartTime": "2025-01-01T00:00:00Z", "observedGeneration": 1,
                        "conditions": [{"type": "Ready", "status": "True"}]}}))
        row = k("get", "s2ib", "sub", "-n", NS, "--no-headers").stdout.split()
        self.assertEqual(row[:4], ["sub", "1", "Running", "sub"])

    def test_template_has_no_status_subresource(self):
        k = self.sim.kubectl
        t = {"apiVersion": GROUP + "/v1alpha1", "kind": "S2iBuilderTemplate", "metadata": {"name": "nostatus"},
             "spec": {"defaultBaseImage": "a", "containerInfo": [{"builderImage": "a"}]}}
        k("apply", "-f", "-", input=json.dumps(t))
        r = k("patch", "s2ibt", "nostatus", "--subresource=status", "--type=merge", "-p", '{"status":{}}',
              check=False)
        self.assertNotEqual(r.returncode, 0)
        code, _, _ = self.sim.request("GET", API + "/s2ibuildertemplates/nostatus/status")
        self.assertEqual(code, 404)
        code, _, _ = self.sim.request("GET", API + "/namespaces/%s/s2ibuildertemplates/nostatus" % NS)
        self.assertEqual(code, 404)                              # cluster-scoped: no namespaced path
        code, body, _ = self.sim.request("GET", API + "/s2ibuildertemplates/nostatus")
        self.assertEqual((code, body["spec"]["defaultBaseImage"]), (200, "a"))

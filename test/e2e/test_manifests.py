"""config/ and deploy/: the manifests apply to a cluster (kube-sim) as they are, twice
without change, say what config/README.md says (security settings, webhook operations and
failure policies, upstream names and ports), and give the operator no more rights than
its code uses. The RBAC checks ask the API server itself (SubjectAccessReview against the
applied objects), not only read the YAML."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from .e2eutil import BUILD, ROOT, E2ETestCase

NS = "kubesphere-devops-system"
SA_USER = "system:serviceaccount:%s:s2i-operator" % NS
SA_GROUPS = ["system:serviceaccounts", "system:serviceaccounts:" + NS, "system:authenticated"]
DEPLOY = os.path.join(ROOT, "deploy", "s2i-operator.yaml")
CONFIG = os.path.join(ROOT, "config")
MUTATING = "mutating-webhook-configuration"
VALIDATING = "validating-webhook-configuration"

# Upstream's webhook names and paths (upstream-s2ioperator.md section 4) and ours
# (ms2irun.kb.io), with the failure policy config/README.md argues for.
WEBHOOKS = {
    MUTATING: {
        "s2ibuilder.kb.io": ("/mutate-devops-kubesphere-io-v1alpha1-s2ibuilder", "s2ibuilders", "Ignore"),
        "ms2irun.kb.io": ("/mutate-devops-kubesphere-io-v1alpha1-s2irun", "s2iruns", "Ignore"),
    },
    VALIDATING: {
        "vs2ibuilder.kb.io": ("/validate-devops-kubesphere-io-v1alpha1-s2ibuilder", "s2ibuilders", "Fail"),
        "vs2irun.kb.io": ("/validate-devops-kubesphere-io-v1alpha1-s2irun", "s2iruns", "Fail"),
        "s2ibuildertemplate.kb.io": ("/validate-devops-kubesphere-io-v1alpha1-s2ibuildertemplate",
                                     "s2ibuildertemplates", "Fail"),
    },
}


def kustomize(path):
    r = subprocess.run(["kubectl", "kustomize", path], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("kubectl kustomize %s failed:\n%s" % (path, r.stderr))
    return r.stdout


def without_comments(text):
    return "".join(l for l in text.splitlines(True) if not l.startswith("#"))


def makefile_version():
    with open(os.path.join(ROOT, "Makefile")) as f:
        return re.search(r"^VERSION\s*:?=\s*(\S+)", f.read(), re.M).group(1)


def apply_lines(out):
    """{"kind/name": "created|configured|unchanged"} from kubectl apply's output."""
    res = {}
    for line in out.splitlines():
        parts = line.rsplit(" ", 1)
        if len(parts) == 2 and "/" in parts[0]:
            res[parts[0]] = parts[1]
    return res


class ManifestsApplyTest(E2ETestCase):
    """config/default applied with `kubectl apply -k` once per class; the tests read what
    the server stored."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.first_apply = cls.kubectl("apply", "-k", os.path.join(CONFIG, "default")).stdout
        cls.objects = cls.kjson("get", "-f", DEPLOY)["items"]

    def find(self, kind, name=None):
        found = [o for o in self.objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
        if name is not None:
            self.assertEqual(len(found), 1, "%s/%s in deploy/s2i-operator.yaml" % (kind, name))
            return found[0]
        return found

    def sar(self, verb, resource, namespace="", name="", group="", subresource=""):
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                  "spec": {"user": SA_USER, "groups": SA_GROUPS,
                           "resourceAttributes": {"verb": verb, "resource": resource, "group": group,
                                                  "namespace": namespace, "name": name,
                                                  "subresource": subresource}}}
        # Raw POST: kube-sim's /openapi/v3 has no authorization.k8s.io/v1 document, which
        # `kubectl create -f` (client-side validation) asks for; a real server has it.
        code, body, _ = self.sim.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review)
        self.assertEqual(code, 201, body)
        return bool(body.get("status", {}).get("allowed"))

    # -- applying ---------------------------------------------------------------------

    def test_apply_k_then_again_then_f_changes_nothing(self):
        first = apply_lines(self.first_apply)
        self.assertIn("deployment.apps/s2i-operator", first)
        self.assertTrue(all(v in ("created", "configured", "unchanged") for v in first.values()), first)
        again = apply_lines(self.kubectl("apply", "-k", os.path.join(CONFIG, "default")).stdout)
        self.assertEqual(set(again), set(first))
        self.assertEqual({k for k, v in again.items() if v != "unchanged"}, set(), again)
        from_file = apply_lines(self.kubectl("apply", "-f", DEPLOY).stdout)
        self.assertEqual(set(from_file), set(first))
        self.assertEqual({k for k, v in from_file.items() if v != "unchanged"}, set(), from_file)
        # Every object is there, and a server-side dry run of the file finds nothing to refuse.
        self.assertEqual(len(self.objects), len(first))
        self.kubectl("apply", "--dry-run=server", "-f", DEPLOY)

    def test_crds_are_the_ones_in_crds(self):
        for crd in self.find("CustomResourceDefinition"):
            self.assertTrue(crd["metadata"]["name"].endswith(".devops.kubesphere.io"))
        names = sorted(o["metadata"]["name"] for o in self.find("CustomResourceDefinition"))
        self.assertEqual(names, ["s2ibuilders.devops.kubesphere.io", "s2ibuildertemplates.devops.kubesphere.io",
                                 "s2iruns.devops.kubesphere.io"])
        self.kubectl("wait", "--for=condition=established", "crd", *names, "--timeout=30s")

    # -- the Deployment ---------------------------------------------------------------

    def test_deployment_security_settings(self):
        dep = self.find("Deployment", "s2i-operator")
        self.assertEqual(dep["metadata"]["namespace"], NS)
        pod = dep["spec"]["template"]["spec"]
        psc = pod.get("securityContext", {})
        self.assertEqual(psc.get("seccompProfile", {}).get("type"), "RuntimeDefault")
        containers = pod.get("initContainers", []) + pod["containers"]
        self.assertTrue(containers)
        for c in containers:
            sc = c.get("securityContext", {})
            eff = lambda k: sc.get(k, psc.get(k))  # noqa: E731 - container overrides pod
            self.assertIs(eff("runAsNonRoot"), True, c["name"])
            self.assertEqual(eff("runAsUser"), 65532, c["name"])
            self.assertIs(sc.get("readOnlyRootFilesystem"), True, c["name"])
            self.assertIs(sc.get("allowPrivilegeEscalation"), False, c["name"])
            self.assertIn("ALL", sc.get("capabilities", {}).get("drop", []), c["name"])
            self.assertFalse(sc.get("capabilities", {}).get("add"), c["name"])
            self.assertFalse(sc.get("privileged", False), c["name"])
            self.assertEqual((sc.get("seccompProfile") or psc.get("seccompProfile", {})).get("type"),
                             "RuntimeDefault", c["name"])
            res = c.get("resources", {})
            for k in ("cpu", "memory"):
                self.assertIn(k, res.get("requests", {}), c["name"])
            self.assertIn("memory", res.get("limits", {}), c["name"])
        self.assertFalse(pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"))
        self.assertFalse([v for v in pod.get("volumes", []) if "hostPath" in v])

    def test_deployment_is_highly_available_and_probed(self):
        dep = self.find("Deployment", "s2i-operator")
        self.assertEqual(dep["spec"]["replicas"], 2)
        self.assertEqual(dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"], 0)
        pod = dep["spec"]["template"]["spec"]
        self.assertEqual(pod["serviceAccountName"], "s2i-operator")
        c = pod["containers"][0]
        args = c.get("args", [])
        self.assertIn("--leader-elect", args)
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        flag = {a.split("=", 1)[0]: a.split("=", 1)[1] for a in args if "=" in a}
        self.assertEqual(ports["webhook"], int(flag["--webhook-port"]))
        self.assertEqual(ports["metrics"], int(flag["--metrics-bind-address"].rsplit(":", 1)[1]))
        self.assertEqual(ports["health"], int(flag["--health-probe-bind-address"].rsplit(":", 1)[1]))
        self.assertEqual(ports["http-api"], int(flag["--http-bind-address"].rsplit(":", 1)[1]))
        self.assertEqual((ports["webhook"], ports["metrics"], ports["health"], ports["http-api"]),
                         (9443, 8080, 8081, 8082))
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            get = c[probe]["httpGet"]
            self.assertEqual((get["path"], get["port"], get.get("scheme", "HTTP")), (path, "health", "HTTP"))
        env = {e["name"]: e for e in c["env"]}
        self.assertTrue(env["S2IIMAGENAME"]["value"])
        self.assertEqual(env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"], "metadata.name")
        self.assertEqual(env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"], "metadata.namespace")
        # The names the operator is told match the objects the manifests create.
        self.assertEqual(flag["--webhook-service-name"], "webhook-server-service")
        self.assertEqual(flag["--mutating-webhook-config"], MUTATING)
        self.assertEqual(flag["--validating-webhook-config"], VALIDATING)
        self.assertEqual(flag["--webhook-cert-secret"], "s2i-webhook-server-cert")
        self.find("Service", flag["--webhook-service-name"])
        self.find("MutatingWebhookConfiguration", MUTATING)
        self.find("ValidatingWebhookConfiguration", VALIDATING)

    def test_image_tags_follow_the_makefile_version(self):
        c = self.find("Deployment", "s2i-operator")["spec"]["template"]["spec"]["containers"][0]
        version = makefile_version()
        self.assertEqual(c["image"], "s2i-operator:" + version)
        env = {e["name"]: e.get("value") for e in c["env"]}
        self.assertEqual(env["S2IIMAGENAME"], "s2i-prepare:" + version)

    # -- Services ---------------------------------------------------------------------

    def test_services_reach_the_operator_ports(self):
        dep = self.find("Deployment", "s2i-operator")
        labels = dep["spec"]["template"]["metadata"]["labels"]
        ports = {p["name"]: p["containerPort"] for p in dep["spec"]["template"]["spec"]["containers"][0]["ports"]}

        def target(svc, port):
            self.assertTrue(set(svc["spec"]["selector"].items()) <= set(labels.items()), svc["metadata"]["name"])
            p = [p for p in svc["spec"]["ports"] if p["port"] == port]
            self.assertEqual(len(p), 1, "%s port %d" % (svc["metadata"]["name"], port))
            return ports[p[0]["targetPort"]]

        # Upstream's Service names in upstream's namespace; the console's trigger URL has no port.
        self.assertEqual(target(self.find("Service", "webhook-server-service"), 443), 9443)
        trig = self.find("Service", "s2ioperator-trigger-service")
        self.assertEqual(trig["metadata"]["namespace"], NS)
        self.assertEqual(target(trig, 80), 8082)
        self.assertEqual(target(trig, 8081), 8082)
        metrics = self.find("Service", "s2ioperator-metrics-service")
        self.assertEqual(target(metrics, 8080), 8080)
        ann = metrics["metadata"]["annotations"]
        self.assertEqual((ann["prometheus.io/scrape"], ann["prometheus.io/port"], ann["prometheus.io/path"]),
                         ("true", "8080", "/metrics"))
        # KubeSphere's own ServiceMonitor selects the metrics Service by these.
        self.assertEqual({k: metrics["metadata"]["labels"][k] for k in ("app", "control-plane")},
                         {"app": "s2i-metrics", "control-plane": "s2i-controller-manager"})
        self.assertEqual([p["name"] for p in metrics["spec"]["ports"]], ["http"])

    # -- webhooks ---------------------------------------------------------------------

    def test_webhooks_never_see_deletes(self):
        for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
            for cfg in self.find(kind):
                for wh in cfg["webhooks"]:
                    for rule in wh["rules"]:
                        self.assertTrue(set(rule["operations"]) <= {"CREATE", "UPDATE"},
                                        "%s: %s" % (wh["name"], rule["operations"]))

    def test_webhooks_as_upstream_and_documented(self):
        for cfgname, expected in WEBHOOKS.items():
            kind = "MutatingWebhookConfiguration" if cfgname == MUTATING else "ValidatingWebhookConfiguration"
            cfg = self.find(kind, cfgname)
            got = {wh["name"]: wh for wh in cfg["webhooks"]}
            self.assertEqual(set(got), set(expected))
            for name, (path, resource, policy) in expected.items():
                wh = got[name]
                svc = wh["clientConfig"]["service"]
                self.assertEqual((svc["name"], svc["namespace"], svc["path"], svc.get("port", 443)),
                                 ("webhook-server-service", NS, path, 443), name)
                self.assertFalse(wh["clientConfig"].get("caBundle"), name + ": the operator patches caBundle")
                self.assertEqual(wh["failurePolicy"], policy, name)
                self.assertEqual(wh["timeoutSeconds"], 5, name)
                self.assertEqual(wh["sideEffects"], "None", name)
                self.assertEqual(wh["admissionReviewVersions"], ["v1"], name)
                self.assertEqual([r["resources"] for r in wh["rules"]], [[resource]], name)
                self.assertEqual([r["apiGroups"] for r in wh["rules"]], [["devops.kubesphere.io"]], name)
                # Status writes (a subresource) never go through a webhook.
                self.assertFalse([r for r in wh["rules"] for res in r["resources"] if "/" in res], name)

    def test_reapply_keeps_a_patched_ca_bundle(self):
        # The operator patches caBundle in; applying the manifests again must not undo it.
        ca = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="
        patch = [{"op": "add", "path": "/webhooks/%d/clientConfig/caBundle" % i, "value": ca}
                 for i in range(len(WEBHOOKS[VALIDATING]))]
        self.kubectl("patch", "validatingwebhookconfiguration", VALIDATING, "--type=json", "-p", json.dumps(patch))
        self.kubectl("apply", "-f", DEPLOY)
        cfg = self.kjson("get", "validatingwebhookconfiguration", VALIDATING)
        self.assertEqual([wh["clientConfig"].get("caBundle") for wh in cfg["webhooks"]],
                         [ca] * len(WEBHOOKS[VALIDATING]))

    # -- RBAC -------------------------------------------------------------------------

    def test_rbac_has_no_wildcards_and_no_cluster_secret_listing(self):
        for kind in ("ClusterRole", "Role"):
            for role in self.find(kind):
                for rule in role["rules"]:
                    for field in ("verbs", "resources", "apiGroups"):
                        self.assertNotIn("*", rule.get(field, []), "%s %s" % (role["metadata"]["name"], rule))
                    if "secrets" in rule["resources"]:
                        self.assertFalse({"list", "watch", "deletecollection"} & set(rule["verbs"]), rule)
                        if kind == "ClusterRole":
                            self.assertEqual(rule["verbs"], ["get"], rule)
                        elif {"update", "patch", "delete"} & set(rule["verbs"]):
                            self.assertEqual(rule.get("resourceNames"), ["s2i-webhook-server-cert"], rule)
        for kind in ("ClusterRoleBinding", "RoleBinding"):
            for b in self.find(kind):
                self.assertEqual(b["subjects"], [{"kind": "ServiceAccount", "name": "s2i-operator", "namespace": NS}])
        for role in self.find("Role"):
            self.assertEqual(role["metadata"]["namespace"], NS)

    def test_rbac_allows_what_the_code_does(self):
        allowed = [
            ("list", "s2iruns", "", "", "devops.kubesphere.io", ""),
            ("watch", "s2ibuilders", "", "", "devops.kubesphere.io", ""),
            ("patch", "s2iruns", "demo", "r", "devops.kubesphere.io", ""),
            ("delete", "s2iruns", "demo", "r", "devops.kubesphere.io", ""),
            ("create", "s2iruns", "demo", "", "devops.kubesphere.io", ""),
            ("patch", "s2ibuilders", "demo", "b", "devops.kubesphere.io", ""),
            ("update", "s2iruns", "demo", "r", "devops.kubesphere.io", "status"),
            ("update", "s2ibuilders", "demo", "b", "devops.kubesphere.io", "status"),
            ("list", "s2ibuildertemplates", "", "", "devops.kubesphere.io", ""),
            ("create", "jobs", "demo", "", "batch", ""),
            ("patch", "jobs", "demo", "j", "batch", ""),
            ("watch", "pods", "", "", "", ""),
            ("get", "pods", "demo", "p", "", "log"),
            ("get", "secrets", "demo", "registry-push", "", ""),
            ("create", "events", "demo", "", "", ""),
            ("patch", "events", "demo", "e", "", ""),
            ("get", "deployments", "demo", "web", "apps", ""),
            ("update", "statefulsets", "demo", "db", "apps", ""),
            ("create", "tokenreviews", "", "", "authentication.k8s.io", ""),
            ("create", "subjectaccessreviews", "", "", "authorization.k8s.io", ""),
            ("patch", "mutatingwebhookconfigurations", "", MUTATING, "admissionregistration.k8s.io", ""),
            ("update", "validatingwebhookconfigurations", "", VALIDATING, "admissionregistration.k8s.io", ""),
            ("create", "leases", NS, "", "coordination.k8s.io", ""),
            ("update", "leases", NS, "s2i-operator-leader", "coordination.k8s.io", ""),
            ("watch", "leases", NS, "s2i-operator-leader", "coordination.k8s.io", ""),
            ("create", "secrets", NS, "", "", ""),
            ("update", "secrets", NS, "s2i-webhook-server-cert", "", ""),
        ]
        denied = [
            ("list", "secrets", "", "", "", ""),
            ("watch", "secrets", "", "", "", ""),
            ("list", "secrets", NS, "", "", ""),
            ("update", "secrets", NS, "other", "", ""),
            ("update", "secrets", "demo", "s2i-webhook-server-cert", "", ""),
            ("create", "secrets", "demo", "", "", ""),
            ("delete", "jobs", "demo", "j", "batch", ""),
            ("update", "s2iruns", "demo", "r", "devops.kubesphere.io", ""),
            ("create", "s2ibuilders", "demo", "", "devops.kubesphere.io", ""),
            ("delete", "s2ibuilders", "demo", "b", "devops.kubesphere.io", ""),
            ("create", "s2ibuildertemplates", "", "", "devops.kubesphere.io", ""),
            ("create", "pods", "demo", "", "", ""),
            ("create", "deployments", "demo", "", "apps", ""),
            ("delete", "deployments", "demo", "web", "apps", ""),
            ("update", "mutatingwebhookconfigurations", "", "someone-elses", "admissionregistration.k8s.io", ""),
            ("delete", "validatingwebhookconfigurations", "", VALIDATING, "admissionregistration.k8s.io", ""),
            ("update", "leases", "kube-system", "kube-controller-manager", "coordination.k8s.io", ""),
            ("update", "leases", NS, "someone-elses", "coordination.k8s.io", ""),
            ("create", "serviceaccounts", "demo", "", "", ""),
            ("create", "rolebindings", "demo", "", "rbac.authorization.k8s.io", ""),
        ]
        for a in allowed:
            self.assertTrue(self.sar(*a), "the operator may %s" % (a,))
        for d in denied:
            self.assertFalse(self.sar(*d), "the operator may not %s" % (d,))

    # -- optional parts ---------------------------------------------------------------

    def test_default_needs_no_prometheus_operator(self):
        kinds = {o["kind"] for o in self.objects}
        self.assertNotIn("ServiceMonitor", kinds)
        self.assertNotIn("PodDisruptionBudget", kinds)

    def test_prometheus_and_pdb_components(self):
        # On a cluster with prometheus-operator (here: its CRD, schemaless), an overlay with
        # the prometheus component applies; kube-sim serves no PodDisruptionBudget, so the
        # pdb component is only built.
        crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
               "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
               "spec": {"group": "monitoring.coreos.com", "scope": "Namespaced",
                        "names": {"kind": "ServiceMonitor", "plural": "servicemonitors",
                                  "singular": "servicemonitor", "listKind": "ServiceMonitorList"},
                        "versions": [{"name": "v1", "served": True, "storage": True,
                                      "schema": {"openAPIV3Schema": {"type": "object",
                                                                     "x-kubernetes-preserve-unknown-fields": True}}}]}}
        self.kubectl("apply", "-f", "-", input=json.dumps(crd))
        self.kubectl("wait", "--for=condition=established", "crd/servicemonitors.monitoring.coreos.com",
                     "--timeout=30s")
        overlay = tempfile.mkdtemp(prefix="overlay-", dir=self.workdir)

        def rel(part):  # kustomize takes only relative paths to other kustomizations
            return os.path.relpath(os.path.join(CONFIG, part), overlay)
        with open(os.path.join(overlay, "kustomization.yaml"), "w") as f:
            f.write("resources:\n- %s\ncomponents:\n- %s\n" % (rel("default"), rel("prometheus")))
        out = apply_lines(self.kubectl("apply", "-k", overlay).stdout)
        self.assertEqual(out.get("servicemonitor.monitoring.coreos.com/s2i-operator"), "created", out)
        self.assertEqual({k for k, v in out.items() if v != "unchanged" and "servicemonitor" not in k}, set(), out)
        sm = self.kjson("get", "servicemonitor", "s2i-operator", "-n", NS)
        metrics = self.find("Service", "s2ioperator-metrics-service")
        sel = sm["spec"]["selector"]["matchLabels"]
        self.assertTrue(set(sel.items()) <= set(metrics["metadata"]["labels"].items()))
        self.assertEqual(sm["spec"]["namespaceSelector"]["matchNames"], [NS])
        self.assertEqual([e["port"] for e in sm["spec"]["endpoints"]], ["http"])
        self.assertEqual([e["path"] for e in sm["spec"]["endpoints"]], ["/metrics"])

        with open(os.path.join(overlay, "kustomization.yaml"), "w") as f:
            f.write("resources:\n- %s\ncomponents:\n- %s\n" % (rel("default"), rel("pdb")))
        text = kustomize(overlay)
        self.assertIn("kind: PodDisruptionBudget", text)
        pdb = text.split("kind: PodDisruptionBudget", 1)[1].split("\n---", 1)[0]
        self.assertIn("minAvailable: 1", pdb)
        self.assertIn("namespace: %s" % NS, pdb)
        labels = self.find("Deployment", "s2i-operator")["spec"]["selector"]["matchLabels"]
        for k, v in labels.items():
            self.assertIn("%s: %s" % (k, v), pdb)


class DeployFileTest(E2ETestCase):
    """deploy/s2i-operator.yaml on a cluster that has never seen the manifests."""

    def test_deploy_file_is_kustomize_of_config_default(self):
        with open(DEPLOY) as f:
            text = f.read()
        self.assertTrue(text.startswith("# Generated by hack/manifests.sh"))
        self.assertEqual(without_comments(text), kustomize(os.path.join(CONFIG, "default")))
        r = subprocess.run([os.path.join(ROOT, "hack", "manifests.sh"), "--check"], capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_apply_f_twice(self):
        first = apply_lines(self.kubectl("apply", "-f", DEPLOY).stdout)
        self.assertIn("namespace/%s" % NS, first)
        self.assertIn("clusterrole.rbac.authorization.k8s.io/s2i-operator", first)
        second = apply_lines(self.kubectl("apply", "-f", DEPLOY).stdout)
        self.assertEqual({k for k, v in second.items() if v != "unchanged"}, set(), second)
        self.assertEqual(set(second), set(first))
        # What the file says is what the server keeps (nothing pruned or defaulted away).
        dep = self.kjson("get", "deployment", "s2i-operator", "-n", NS)
        c = dep["spec"]["template"]["spec"]["containers"][0]
        self.assertIs(c["securityContext"]["readOnlyRootFilesystem"], True)
        self.assertEqual(c["resources"]["limits"]["memory"], "64Mi")

    def test_uninstall_by_label_keeps_the_namespace(self):
        # config/README.md "Uninstall": on KubeSphere the namespace is shared.
        self.kubectl("apply", "-f", DEPLOY)
        self.kubectl("delete", "-f", DEPLOY, "-l", "app.kubernetes.io/name=s2i-operator", "--wait=false")
        self.kubectl("get", "namespace", NS)
        for kind, name in (("deployment", "s2i-operator"), ("service", "webhook-server-service"),
                           ("role", "s2i-operator-leader-election")):
            r = self.kubectl("get", kind, name, "-n", NS, check=False)
            self.assertIn("NotFound", r.stderr, "%s/%s" % (kind, name))
        for kind, name in (("crd", "s2iruns.devops.kubesphere.io"), ("clusterrole", "s2i-operator"),
                           ("validatingwebhookconfiguration", VALIDATING)):
            r = self.kubectl("get", kind, name, check=False)
            self.assertTrue("NotFound" in r.stderr or "Terminating" in r.stdout, "%s/%s" % (kind, name))

    def test_samples_build_in_apply_order(self):
        text = kustomize(os.path.join(CONFIG, "samples"))
        kinds = re.findall(r"^kind: (\S+)$", text, re.M)
        order = ["Secret", "S2iBuilderTemplate", "S2iBuilder", "S2iRun"]
        self.assertEqual(kinds, sorted(kinds, key=order.index))
        self.assertTrue(set(order) <= set(kinds))
        self.assertNotIn("namespace:", text)


class OperatorRootfsTest(unittest.TestCase):
    """The operator image's root filesystem (config/images/rootfs.sh: the binary, its
    shared libraries, CA certificates, a non-root user) is enough to start the binary, as
    user 65532, with nothing else: what the scratch-based image will run."""

    def test_binary_starts_in_its_rootfs(self):
        binary = os.path.join(BUILD, "bin", "s2i-operator")
        if not os.path.exists(binary):
            self.skipTest("no operator binary in %s" % BUILD)
        if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("chroot"):
            self.skipTest("needs root, unshare and chroot")
        dest = tempfile.mkdtemp(prefix="s2i-rootfs-")
        try:
            subprocess.run([os.path.join(CONFIG, "images", "rootfs.sh"), dest + "/rootfs", binary], check=True,
                           timeout=60)
            root = dest + "/rootfs"
            for path in ("etc/passwd", "etc/group", "tmp", "usr/local/bin/s2i-operator"):
                self.assertTrue(os.path.exists(os.path.join(root, path)), path)
            self.assertFalse(os.path.exists(os.path.join(root, "bin", "sh")))
            # /proc only for sanitizer builds (ASan reads /proc/self/maps); a private mount
            # namespace keeps it from leaking out.
            os.makedirs(root + "/proc", exist_ok=True)
            script = ('mount --bind /proc "$1/proc" && exec chroot --userspec=65532:65532 "$1" '
                      '/usr/local/bin/s2i-operator --version')
            r = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", root], capture_output=True, text=True,
                               timeout=60, env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(r.stdout.strip(), "s2i-operator " + makefile_version())
        finally:
            subprocess.run(["rm", "-rf", dest])


if __name__ == "__main__":
    unittest.main()

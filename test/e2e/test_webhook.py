"""The operator's admission webhooks end to end: kube-sim calls them as kube-apiserver does
(AdmissionReview v1 over HTTPS, verified against the caBundle for
webhook-server-service.kubesphere-devops-system.svc), with the webhook configurations of
config/webhook/manifests.yaml, and kubectl is the client. The operator generates its CA
and serving certificate, writes caBundle, and rotates; none of it may refuse a request."""
import base64
import json
import os
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from .e2eutil import BUILD, ROOT, E2ETestCase, wait_for

OPNS = "kubesphere-devops-system"
SERVICE = "webhook-server-service"
SECRET = "s2i-webhook-server-cert"
MANIFESTS = os.path.join(ROOT, "config", "webhook", "manifests.yaml")


def operator_serves_webhooks():
    binary = os.path.join(BUILD, "bin", "s2i-operator")
    if not os.path.exists(binary):
        return False
    r = subprocess.run([binary, "--help"], capture_output=True, text=True)
    return "--webhook-port" in r.stdout + r.stderr


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@unittest.skipUnless(operator_serves_webhooks(), "s2i-operator has no --webhook-port yet")
class WebhookTest(E2ETestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.set_scripts({"e2e.local/builder-slow:1": {"exitCode": 0, "duration": 60}})
        cls.kubectl("create", "namespace", OPNS)
        cls.kubectl("apply", "-f", MANIFESTS)
        cls.port = free_port()
        cls.service(SERVICE)
        cls.start_operator("--webhook-port", str(cls.port), "--webhook-namespace", OPNS,
                           "--webhook-service-name", SERVICE, "--webhook-cert-secret", SECRET,
                           "--mutating-webhook-config", "mutating-webhook-configuration",
                           "--validating-webhook-config", "validating-webhook-configuration",
                           "--webhook-cert-check-interval", "0.5")
        # Ready once caBundle is written and a create goes through the validating webhook.
        wait_for(lambda: cls.kubectl("apply", "-f", "-", check=False, input=json.dumps(cls.template("ready"))
                                     ).returncode == 0, timeout=60, what="webhooks answering")

    @classmethod
    def service(cls, name):
        cls.kubectl("apply", "-f", "-", input=json.dumps({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": OPNS,
                         "annotations": {"kube-sim/endpoint": "127.0.0.1:%d" % cls.port}},
            "spec": {"ports": [{"name": "https", "port": 443, "targetPort": 9443}]}}))

    @staticmethod
    def template(name, **spec):
        s = {"defaultBaseImage": "kubesphere/java-8:v1", "containerInfo": [{"builderImage": "kubesphere/java-8:v1"}]}
        s.update(spec)
        return {"apiVersion": "devops.kubesphere.io/v1alpha1", "kind": "S2iBuilderTemplate",
                "metadata": {"name": name}, "spec": s}

    def create(self, obj, check=True):
        return self.kubectl("create", "-n", self.NAMESPACE, "-f", "-", input=json.dumps(obj), check=check)

    def denied(self, obj, webhook, message, verb="create"):
        r = self.kubectl(verb, "-n", self.NAMESPACE, "-f", "-", input=json.dumps(obj), check=False)
        self.assertNotEqual(r.returncode, 0, "%s was allowed" % obj["metadata"]["name"])
        self.assertIn('admission webhook "%s" denied the request: %s' % (webhook, message), r.stderr)

    def secret(self):
        s = self.kjson("get", "secret", SECRET, "-n", OPNS)
        return {k: base64.b64decode(v).decode() for k, v in s["data"].items()}

    # -- validation and mutation --------------------------------------------------------------

    def test_invalid_objects_are_rejected_with_upstream_messages(self):
        b = self.s2ibuilder("from-missing")
        b["spec"]["fromTemplate"] = {"name": "missing"}
        self.denied(b, "vs2ibuilder.kb.io",
                    "Template not found, pls check the template name  [missing] or create a template")
        b = self.s2ibuilder("bad-image", image="Kubesphere/Java:8")
        del b["spec"]["config"]["builderPullPolicy"]
        self.denied(b, "vs2ibuilder.kb.io", '[Invalid value specified for "builderPullPolicy", Invalid value '
                    'specified for "builderImage": repository name must be lowercase]')
        self.denied(self.s2irun("bad-tag", "any", newTag="not a tag"), "vs2irun.kb.io", "invalid reference format")
        self.denied(self.template("no-images", containerInfo=[]), "s2ibuildertemplate.kb.io",
                    'Required value not specified for "baseImages"')
        self.denied(self.template("other-default", defaultBaseImage="a:1"), "s2ibuildertemplate.kb.io",
                    'Invalid value specified for "defaultBaseImage": defaultBaseImage [a:1] should in '
                    '[[kubesphere/java-8:v1]]')

    def test_defaults_are_applied(self):
        b = self.s2ibuilder("defaults")
        del b["spec"]["config"]["revisionId"]
        del b["spec"]["config"]["tag"]
        self.apply(b)
        cfg = self.get("s2ibuilder", "defaults")["spec"]["config"]
        self.assertEqual((cfg["revisionId"], cfg["tag"]), ("master", "latest"))

    def test_run_gets_builder_label_and_owner_at_creation(self):
        self.apply(self.s2ibuilder("owner"))
        builder = self.get("s2ibuilder", "owner")
        self.create(self.s2irun("owner-1", "owner"))
        run = self.get("s2irun", "owner-1")
        self.assertEqual(run["metadata"]["labels"]["labels.devops.kubesphere.io/builder-name"], "owner")
        refs = [r for r in run["metadata"].get("ownerReferences") or [] if r["kind"] == "S2iBuilder"]
        self.assertEqual(len(refs), 1)
        self.assertEqual((refs[0]["name"], refs[0]["uid"]), ("owner", builder["metadata"]["uid"]))
        self.assertFalse(refs[0].get("controller", False))
        self.assertFalse(refs[0].get("blockOwnerDeletion", False))

    def test_started_run_spec_is_immutable_but_cancellable(self):
        self.apply(self.s2ibuilder("slow", image="e2e.local/builder-slow:1"))
        self.apply(self.s2irun("slow-1", "slow", newTag="v1"))
        self.wait_run("slow-1", states=("Running",))
        self.apply(self.s2irun("slow-1", "slow", newTag="v1"))  # the same again (GitOps)
        self.denied(self.s2irun("slow-1", "slow", newTag="v2"), "vs2irun.kb.io",
                    'Invalid value specified for "spec": should not change s2i run spec when job started',
                    verb="apply")
        self.kubectl("patch", "s2irun", "slow-1", "-n", self.NAMESPACE, "--type=merge",
                     "-p", '{"spec":{"state":"Cancelled"}}')
        run = self.wait_run("slow-1", states=("Failed",))
        self.assertEqual(run["spec"]["state"], "Cancelled")
        self.denied(self.s2irun("slow-1", "slow", newTag="v3", state="Cancelled"), "vs2irun.kb.io",
                    'Invalid value specified for "spec": should not change s2i run spec when job started; '
                    "the run has finished: create a new S2iRun to build again", verb="apply")

    # -- certificates ------------------------------------------------------------------------------

    def test_serving_certificate_names_the_service_in_sans(self):
        s = self.secret()
        with tempfile.TemporaryDirectory() as d:
            for k in ("tls.crt", "ca.crt"):
                with open(os.path.join(d, k), "w") as f:
                    f.write(s[k])
            text = subprocess.run(["openssl", "x509", "-noout", "-text", "-in", os.path.join(d, "tls.crt")],
                                  capture_output=True, text=True, check=True).stdout
            self.assertIn("DNS:%s.%s.svc" % (SERVICE, OPNS), text)
            self.assertIn("DNS:%s.%s.svc.cluster.local" % (SERVICE, OPNS), text)
            self.assertNotIn("CN = %s" % SERVICE, text)
            subprocess.run(["openssl", "verify", "-x509_strict", "-purpose", "sslserver", "-verify_hostname",
                            "%s.%s.svc" % (SERVICE, OPNS), "-CAfile", os.path.join(d, "ca.crt"),
                            os.path.join(d, "tls.crt")], check=True, capture_output=True)
        bundle = self.kjson("get", "validatingwebhookconfiguration", "validating-webhook-configuration")
        for wh in bundle["webhooks"]:
            self.assertEqual(base64.b64decode(wh["clientConfig"]["caBundle"]).decode(), s["ca.crt"])

    def test_wrong_san_is_refused(self):
        self.service("wrong-service")
        ca = base64.b64encode(self.secret()["ca.crt"].encode()).decode()
        cfg = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
               "metadata": {"name": "wrong-san"},
               "webhooks": [{"name": "wrong-san.kb.io", "admissionReviewVersions": ["v1"], "sideEffects": "None",
                             "failurePolicy": "Fail", "timeoutSeconds": 5,
                             "clientConfig": {"caBundle": ca, "service": {
                                 "namespace": OPNS, "name": "wrong-service",
                                 "path": "/validate-devops-kubesphere-io-v1alpha1-s2ibuildertemplate"}},
                             "rules": [{"operations": ["CREATE"], "apiGroups": ["devops.kubesphere.io"],
                                        "apiVersions": ["v1alpha1"], "resources": ["s2ibuildertemplates"]}]}]}
        self.kubectl("apply", "-f", "-", input=json.dumps(cfg))
        try:
            r = self.kubectl("create", "-f", "-", input=json.dumps(self.template("wrong-san")), check=False)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn('failed calling webhook "wrong-san.kb.io"', r.stderr)
            self.assertIn("certificate", r.stderr)
        finally:
            self.kubectl("delete", "validatingwebhookconfiguration", "wrong-san")
        self.kubectl("create", "-f", "-", input=json.dumps(self.template("right-san")))

    def test_rotation_while_creating_loses_no_request(self):
        failures, created, stop = [], [], threading.Event()

        def loop(worker):
            i = 0
            while not stop.is_set():
                r = self.create(self.s2irun("load-%d-%d" % (worker, i), "no-such-builder"), check=False)
                (created if r.returncode == 0 else failures).append(r.stderr)
                i += 1

        threads = [threading.Thread(target=loop, args=(w,)) for w in range(2)]
        for t in threads:
            t.start()
        try:
            for _ in range(3):
                time.sleep(1.5)
                before = self.secret()
                # A lost Secret: the operator makes a new CA, keeps the old one in caBundle
                # until every replica serves the new certificate, and reloads.
                self.kubectl("delete", "secret", SECRET, "-n", OPNS)
                wait_for(lambda: self.kubectl("get", "secret", SECRET, "-n", OPNS, check=False).returncode == 0
                         and self.secret()["tls.crt"] != before["tls.crt"], timeout=30, what="a new certificate")
                self.assertIn(before["ca.crt"].split("-----END CERTIFICATE-----")[0],
                              self.secret()["ca.crt"])
            time.sleep(1.5)
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertEqual(failures, [])
        self.assertGreaterEqual(len(created), 6)

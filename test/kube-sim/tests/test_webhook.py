"""kube-sim calls admission webhooks as kube-apiserver does: over HTTPS,
verified against caBundle for <service>.<namespace>.svc, with failurePolicy."""
import base64
import http.server
import json
import os
import ssl
import tempfile
import threading

from kube_sim import certs

from .simutil import CRD_WIDGET, SimTestCase


class Hook(http.server.BaseHTTPRequestHandler):
    calls = []

    def log_message(self, *a):
        pass

    def do_POST(self):
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        req = review["request"]
        Hook.calls.append((self.path.split("?")[0], req["operation"], req["kind"]["kind"]))
        resp = {"uid": req["uid"], "allowed": True}
        obj = req.get("object") or {}
        if self.path.startswith("/validate") and (obj.get("spec") or {}).get("color") == "blue":
            resp = {"uid": req["uid"], "allowed": False,
                    "status": {"code": 403, "reason": "Forbidden", "message": "blue widgets are not allowed"}}
        if self.path.startswith("/mutate"):
            ops = []
            if not (obj.get("metadata") or {}).get("labels"):
                ops.append({"op": "add", "path": "/metadata/labels", "value": {}})
            ops.append({"op": "add", "path": "/metadata/labels/mutated", "value": "yes"})
            resp["patchType"] = "JSONPatch"
            resp["patch"] = base64.b64encode(json.dumps(ops).encode()).decode()
        data = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                           "response": resp}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def webhook_config(kind, name, path, ca, policy="Fail", port=443):
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind, "metadata": {"name": name},
            "webhooks": [{"name": name, "admissionReviewVersions": ["v1"], "sideEffects": "None",
                          "failurePolicy": policy, "timeoutSeconds": 5,
                          "clientConfig": {"caBundle": ca, "service": {"namespace": "default", "name": "hook",
                                                                       "path": path, "port": port}},
                          "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": ["demo.example.com"],
                                     "apiVersions": ["v1"], "resources": ["widgets"]}]}]}


class WebhookTest(SimTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dir = tempfile.mkdtemp(prefix="hook-")
        p = certs.ensure(cls.dir, hosts=("hook.default.svc",))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(p["server.crt"], p["server.key"])
        cls.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        cls.httpd.socket = ctx.wrap_socket(cls.httpd.socket, server_side=True)
        threading.Thread(target=cls.httpd.serve_forever, daemon=True).start()
        with open(p["ca.crt"], "rb") as f:
            cls.ca = base64.b64encode(f.read()).decode()
        k = cls.sim.kubectl
        k("apply", "-f", "-", input=CRD_WIDGET)
        k("wait", "--for=condition=established", "crd/widgets.demo.example.com", "--timeout=20s")
        k("apply", "-f", "-", input=json.dumps({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "hook", "namespace": "default",
                         "annotations": {"kube-sim/endpoint": "127.0.0.1:%d" % cls.httpd.server_address[1]}},
            "spec": {"ports": [{"port": 443}]}}))

    @classmethod
    def tearDownClass(cls):
        cls.httpd.shutdown()
        super().tearDownClass()

    def apply(self, obj, check=False):
        return self.sim.kubectl("apply", "-f", "-", input=json.dumps(obj), check=check)

    def widget(self, name, color):
        return {"apiVersion": "demo.example.com/v1", "kind": "Widget", "metadata": {"name": name},
                "spec": {"size": 1, "color": color}}

    def test_validating_webhook_denies_with_its_message_and_mutating_patches_apply(self):
        self.apply(webhook_config("ValidatingWebhookConfiguration", "deny-blue.demo.example.com", "/validate",
                                  self.ca), check=True)
        self.apply(webhook_config("MutatingWebhookConfiguration", "label.demo.example.com", "/mutate", self.ca),
                   check=True)
        try:
            r = self.apply(self.widget("blue-one", "blue"))
            self.assertNotEqual(r.returncode, 0)
            self.assertIn('admission webhook "deny-blue.demo.example.com" denied the request: blue widgets are not '
                          'allowed', r.stderr)
            r = self.apply(self.widget("red-one", "red"), check=True)
            obj = self.sim.kubectl_json("get", "wdg", "red-one")
            self.assertEqual(obj["metadata"]["labels"], {"mutated": "yes"})
            paths = [c[0] for c in Hook.calls]
            self.assertLess(paths.index("/mutate"), paths.index("/validate"))
            self.sim.kubectl("delete", "wdg", "red-one")    # DELETE is not in the rules: no call, no denial
        finally:
            self.sim.kubectl("delete", "validatingwebhookconfiguration", "deny-blue.demo.example.com")
            self.sim.kubectl("delete", "mutatingwebhookconfiguration", "label.demo.example.com")

    def test_unreachable_webhook_fails_closed_or_open_by_policy(self):
        self.apply({"apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": "hook-down", "namespace": "default",
                                 "annotations": {"kube-sim/endpoint": "127.0.0.1:1"}},
                    "spec": {"ports": [{"port": 444}]}}, check=True)
        cfg = webhook_config("ValidatingWebhookConfiguration", "down.demo.example.com", "/validate", self.ca,
                             port=444)
        cfg["webhooks"][0]["clientConfig"]["service"]["name"] = "hook-down"
        self.apply(cfg, check=True)
        try:
            r = self.apply(self.widget("blocked", "red"))
            self.assertNotEqual(r.returncode, 0)
            self.assertIn('failed calling webhook "down.demo.example.com"', r.stderr)
            cfg["webhooks"][0]["failurePolicy"] = "Ignore"
            self.apply(cfg, check=True)
            self.apply(self.widget("let-through", "red"), check=True)
        finally:
            self.sim.kubectl("delete", "validatingwebhookconfiguration", "down.demo.example.com")

    def test_wrong_ca_bundle_is_a_tls_failure(self):
        other = certs.ensure(os.path.join(self.dir, "other"))
        with open(other["ca.crt"], "rb") as f:
            wrong = base64.b64encode(f.read()).decode()
        self.apply(webhook_config("ValidatingWebhookConfiguration", "wrongca.demo.example.com", "/validate", wrong),
                   check=True)
        try:
            r = self.apply(self.widget("untrusted", "red"))
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("failed calling webhook", r.stderr)
            self.assertIn("certificate", r.stderr)
        finally:
            self.sim.kubectl("delete", "validatingwebhookconfiguration", "wrongca.demo.example.com")

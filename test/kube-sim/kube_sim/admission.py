"""Admission webhooks: kube-sim calls the registered Mutating- and
ValidatingWebhookConfigurations exactly as kube-apiserver does
(staging/src/k8s.io/apiserver/pkg/admission/plugin/webhook): AdmissionReview
v1 over HTTPS verified against the configured caBundle for the host name
<service>.<namespace>.svc, rules matched by operation/group/version/resource/
scope, namespaceSelector and objectSelector, failurePolicy and timeoutSeconds,
JSON patches from mutating webhooks applied in order.

A webhook given by `service` is reached at the address of the Service's
Endpoints (first address and the port matching the service port's
targetPort), or at the Service annotation `kube-sim/endpoint: host:port` -- the
sim has no cluster network, so this is how a test points a Service at a
process on loopback.
"""
import base64
import http.client
import json
import socket
import ssl
import uuid

from . import errors, patch as patchmod
from .selectors import match_label_selector_object

EXEMPT = {("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
          ("admissionregistration.k8s.io", "validatingwebhookconfigurations")}


class WebhookCallError(Exception):
    pass


class _HTTPSConnection(http.client.HTTPSConnection):
    """Connects to an address but verifies the certificate for another name."""

    def __init__(self, host, port, server_name, context, timeout):
        super().__init__(host, port, context=context, timeout=timeout)
        self._server_name = server_name

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self._server_name)


class Admission:
    def __init__(self, sim):
        self.sim = sim

    def _configs(self, plural):
        rt = self.sim.registry.get("admissionregistration.k8s.io", "v1", plural)
        items, _ = self.sim.store.items(self.sim.registry.storage_key(rt))
        return sorted(items, key=lambda o: o["metadata"]["name"])

    def admit(self, op, rtype, ns, name, obj, old, ctx, subresource):
        if (rtype.group, rtype.plural) in EXEMPT:
            return obj
        for cfg in self._configs("mutatingwebhookconfigurations"):
            for wh in cfg.get("webhooks") or []:
                if not self._matches(wh, op, rtype, ns, obj, old, subresource):
                    continue
                resp = self._call(wh, op, rtype, ns, name, obj, old, ctx, subresource)
                if resp is None:
                    continue
                if resp.get("patch"):
                    if resp.get("patchType", "JSONPatch") != "JSONPatch":
                        raise errors.internal('failed calling webhook "%s": unsupported patch type %s'
                                              % (wh["name"], resp.get("patchType")))
                    try:
                        ops = json.loads(base64.b64decode(resp["patch"]))
                        obj = patchmod.json_patch(obj, ops)
                    except (ValueError, patchmod.PatchError) as e:
                        raise errors.internal('failed calling webhook "%s": %s' % (wh["name"], e))
        return obj

    def validate(self, op, rtype, ns, name, obj, old, ctx, subresource):
        if (rtype.group, rtype.plural) in EXEMPT:
            return
        for cfg in self._configs("validatingwebhookconfigurations"):
            for wh in cfg.get("webhooks") or []:
                if self._matches(wh, op, rtype, ns, obj, old, subresource):
                    self._call(wh, op, rtype, ns, name, obj, old, ctx, subresource)

    # -- matching -------------------------------------------------------------------

    def _matches(self, wh, op, rtype, ns, obj, old, subresource):
        res = rtype.plural + ("/" + subresource if subresource else "")
        hit = False
        for r in wh.get("rules") or []:
            ops = r.get("operations") or []
            if "*" not in ops and op not in ops:
                continue
            if not _in(rtype.group, r.get("apiGroups")) or not _in(rtype.version, r.get("apiVersions")):
                continue
            if not any(_resource_match(p, res) for p in r.get("resources") or []):
                continue
            scope = r.get("scope", "*")
            if scope == "Cluster" and rtype.namespaced or scope == "Namespaced" and not rtype.namespaced:
                continue
            hit = True
            break
        if not hit:
            return False
        nsel = wh.get("namespaceSelector")
        if nsel:
            if rtype.namespaced:
                nst = self.sim.registry.get("", "v1", "namespaces")
                nso = self.sim.store.get(self.sim.registry.storage_key(nst), "", ns) or {}
                if not match_label_selector_object(nsel, (nso.get("metadata") or {}).get("labels")):
                    return False
            elif (rtype.group, rtype.plural) == ("", "namespaces"):
                src = obj or old or {}
                if not match_label_selector_object(nsel, (src.get("metadata") or {}).get("labels")):
                    return False
        osel = wh.get("objectSelector")
        if osel:
            ok = any(match_label_selector_object(osel, (o.get("metadata") or {}).get("labels"))
                     for o in (obj, old) if o is not None)
            if not ok:
                return False
        return True

    # -- calling --------------------------------------------------------------------

    def _endpoint(self, wh):
        cc = wh.get("clientConfig") or {}
        timeout = wh.get("timeoutSeconds", 10)
        if cc.get("url"):
            from urllib.parse import urlsplit
            u = urlsplit(cc["url"])
            path = (u.path or "/") + ("?" + u.query if u.query else "")
            return u.hostname, u.port or 443, u.hostname, path, cc["url"]
        svc = cc.get("service") or {}
        sns, sname, port = svc.get("namespace"), svc.get("name"), svc.get("port", 443)
        path = svc.get("path") or "/"
        server_name = "%s.%s.svc" % (sname, sns)
        shown = "https://%s:%d%s?timeout=%ds" % (server_name, port, path, timeout)
        st = self.sim.registry.get("", "v1", "services")
        so = self.sim.store.get(self.sim.registry.storage_key(st), sns, sname)
        if so is None:
            raise WebhookCallError('failed to call webhook: Post "%s": service "%s" not found' % (shown, sname))
        ann = (so.get("metadata") or {}).get("annotations") or {}
        if ann.get("kube-sim/endpoint"):
            host, _, p = ann["kube-sim/endpoint"].rpartition(":")
            return host, int(p), server_name, path, shown
        target = port
        for sp in (so.get("spec") or {}).get("ports") or []:
            if sp.get("port") == port:
                target = sp.get("targetPort", port)
        et = self.sim.registry.get("", "v1", "endpoints")
        eo = self.sim.store.get(self.sim.registry.storage_key(et), sns, sname) or {}
        for subset in eo.get("subsets") or []:
            addrs = subset.get("addresses") or []
            for ep in subset.get("ports") or []:
                if addrs and (ep.get("port") == target or ep.get("name") == target or len(subset["ports"]) == 1):
                    return addrs[0]["ip"], ep["port"], server_name, path, shown
        raise WebhookCallError('failed to call webhook: Post "%s": no endpoints available for service "%s"'
                               % (shown, sname))

    def _call(self, wh, op, rtype, ns, name, obj, old, ctx, subresource):
        """Returns the AdmissionReview response dict, or None when the webhook
        failed and failurePolicy is Ignore. Raises the client-facing error on deny."""
        uid = str(uuid.uuid4())
        versions = wh.get("admissionReviewVersions") or ["v1"]
        review_version = "admission.k8s.io/v1" if "v1" in versions else "admission.k8s.io/v1beta1"
        req = {"uid": uid, "kind": {"group": rtype.group, "version": rtype.version, "kind": rtype.kind},
               "resource": {"group": rtype.group, "version": rtype.version, "resource": rtype.plural},
               "requestKind": {"group": rtype.group, "version": rtype.version, "kind": rtype.kind},
               "requestResource": {"group": rtype.group, "version": rtype.version, "resource": rtype.plural},
               "name": name or (obj or {}).get("metadata", {}).get("name", ""), "operation": op,
               "userInfo": {k: v for k, v in ctx.user.items() if k in ("username", "uid", "groups", "extra")},
               "object": obj, "oldObject": old if op != "CREATE" else None, "dryRun": bool(ctx.dry_run),
               "options": {"kind": {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions",
                                    "DELETE": "DeleteOptions"}.get(op, "CreateOptions"),
                           "apiVersion": "meta.k8s.io/v1"}}
        if rtype.namespaced:
            req["namespace"] = ns
        if subresource:
            req["subResource"] = subresource
        review = {"kind": "AdmissionReview", "apiVersion": review_version, "request": req}
        try:
            resp = self._post(wh, review)
            if not isinstance(resp, dict) or not isinstance(resp.get("response"), dict):
                raise WebhookCallError("received invalid webhook response: expected response")
            r = resp["response"]
            if r.get("uid") != uid:
                raise WebhookCallError("expected response.uid=\"%s\", got \"%s\"" % (uid, r.get("uid")))
        except WebhookCallError as e:
            if wh.get("failurePolicy", "Fail") == "Ignore":
                return None
            raise errors.internal('failed calling webhook "%s": %s' % (wh.get("name"), e))
        for w in r.get("warnings") or []:
            ctx.warnings.append(w)
        if not r.get("allowed"):
            raise deny_error(wh.get("name"), r.get("status"))
        return r

    def _post(self, wh, review):
        host, port, server_name, path, shown = self._endpoint(wh)
        timeout = wh.get("timeoutSeconds", 10)
        cc = wh.get("clientConfig") or {}
        ctx = ssl.create_default_context()
        try:
            if cc.get("caBundle"):
                ctx.load_verify_locations(cadata=base64.b64decode(cc["caBundle"]).decode())
        except (ValueError, ssl.SSLError) as e:
            raise WebhookCallError("could not get REST client: unable to load root certificates: %s" % e)
        body = json.dumps(review).encode()
        sep = "&" if "?" in path else "?"
        try:
            conn = _HTTPSConnection(host, port, server_name, ctx, timeout)
            conn.request("POST", "%s%stimeout=%ds" % (path, sep, timeout), body,
                         {"Content-Type": "application/json", "Accept": "application/json"})
            res = conn.getresponse()
            data = res.read()
            conn.close()
        except ssl.SSLCertVerificationError as e:
            raise WebhookCallError('failed to call webhook: Post "%s": tls: %s' % (shown, e.verify_message))
        except socket.timeout:
            raise WebhookCallError('failed to call webhook: Post "%s": context deadline exceeded' % shown)
        except (OSError, http.client.HTTPException) as e:
            raise WebhookCallError('failed to call webhook: Post "%s": %s' % (shown, e))
        if res.status != 200:
            raise WebhookCallError('received invalid webhook response: expected status 200, got %d' % res.status)
        try:
            return json.loads(data)
        except ValueError as e:
            raise WebhookCallError("received invalid webhook response: %s" % e)


def _in(value, allowed):
    allowed = allowed or []
    return "*" in allowed or value in allowed


def _resource_match(pattern, res):
    if pattern == "*/*":
        return True
    rp, _, rs = pattern.partition("/")
    xp, _, xs = res.partition("/")
    if rp not in ("*", xp):
        return False
    if not rs:
        return not xs
    return rs == "*" or rs == xs


def deny_error(webhook_name, status):
    """webhook/errors.ToStatusErr: the client sees the webhook's code (>= 400,
    default 400) and 'admission webhook "<name>" denied the request: <msg>'."""
    status = dict(status or {})
    code = int(status.get("code") or 0)
    if code < 400:
        code = 400
    denied = 'admission webhook "%s" denied the request' % webhook_name
    if status.get("message"):
        msg = "%s: %s" % (denied, status["message"])
    elif status.get("reason"):
        msg = "%s: %s" % (denied, status["reason"])
    else:
        msg = "%s without explanation" % denied
    return errors.ApiError(code, status.get("reason", ""), msg, status.get("details"))

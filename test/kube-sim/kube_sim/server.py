"""The HTTP(S) front of kube-sim: authentication, routing of the Kubernetes
REST paths to api.Api, discovery, OpenAPI, server-side Tables, watch streams,
pod logs, and the /kube-sim/ admin endpoints used for fault injection.

One thread per connection (ThreadingHTTPServer); TLS is negotiated in the
connection's thread so a slow client cannot stall the accept loop.
"""
import base64
import http.server
import json
import os
import random
import secrets
import socket
import socketserver
import ssl
import threading
import time
import urllib.parse

from . import discovery, errors, openapi, table
from .api import Context, WatchClosed
from .faults import Faults

ANONYMOUS_PATHS = ("/version", "/healthz", "/livez", "/readyz")
VERB_BY_METHOD = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


class Request:
    def __init__(self, handler, method):
        self.h = handler
        self.method = method
        u = urllib.parse.urlsplit(handler.path)
        self.path = u.path
        self.query = {k: v[-1] for k, v in urllib.parse.parse_qs(u.query, keep_blank_values=True).items()}
        self.headers = handler.headers
        self._body = None

    def body(self):
        if self._body is None:
            n = int(self.headers.get("Content-Length") or 0)
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                self._body = self.h.read_chunked()
            else:
                self._body = self.h.rfile.read(n) if n else b""
        return self._body

    def json_body(self):
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype == "application/vnd.kubernetes.protobuf":
            from . import protobuf
            try:
                return protobuf.decode(self.body())
            except (protobuf.DecodeError, UnicodeDecodeError) as e:
                raise errors.ApiError(415, "UnsupportedMediaType", str(e), {})
        if ctype and ctype not in ("application/json", "application/yaml", "*/*"):
            self.body()
            raise errors.ApiError(415, "UnsupportedMediaType", 'the body of the request was in an unknown format - '
                                  'accepted media types include: application/json, application/yaml', {})
        raw = self.body()
        if not raw:
            raise errors.bad_request("the body of the request was empty")
        try:
            return json.loads(raw)
        except ValueError as e:
            raise errors.bad_request("couldn't get version/kind; json parse error: %s" % e)

    def q(self, name, default=""):
        return self.query.get(name, default)

    def qbool(self, name):
        return self.query.get(name, "").lower() in ("1", "true")

    def wants_table(self):
        return "as=Table" in (self.headers.get("Accept") or "")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kube-sim"
    # Headers and body are separate writes: without TCP_NODELAY, Nagle's algorithm
    # and the client's delayed ACK stall every keep-alive response by ~40 ms.
    disable_nagle_algorithm = True
    sim = None   # set on the subclass made per server

    def log_message(self, fmt, *args):
        if self.sim.verbose:
            super().log_message(fmt, *args)

    def setup(self):
        super().setup()
        self.sim.track(self.connection, True)

    def finish(self):
        try:
            super().finish()
        finally:
            self.sim.track(self.connection, False)

    def read_chunked(self):
        out = b""
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                self.rfile.readline()
                return out
            out += self.rfile.read(size)
            self.rfile.readline()

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_HEAD(self):
        self.dispatch("GET")

    # -- responses ------------------------------------------------------------------

    def send_json(self, code, obj, headers=None):
        data = json.dumps(obj, separators=(",", ":")).encode() + b"\n"
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Audit-Id", self.audit_id)
        for k, v in (headers.items() if isinstance(headers, dict) else headers or ()):
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_text(self, code, text, ctype="text/plain; charset=utf-8"):
        data = text.encode() if isinstance(text, str) else text
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def start_chunked(self, ctype="application/json"):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Audit-Id", self.audit_id)
        self.end_headers()

    def chunk(self, data):
        if not data:
            return
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_chunked(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # -- dispatch -------------------------------------------------------------------

    def dispatch(self, method):
        if self.sim.down.is_set() or self.server is not self.sim.httpd:
            # The server is restarting (or this connection was accepted by the listener
            # it closed): a request is cut without an answer, never served.
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.audit_id = secrets.token_hex(8)
        req = Request(self, method)
        try:
            user = self.sim.authenticate(self)
            if user is None and not (method == "GET" and req.path in ANONYMOUS_PATHS):
                raise errors.unauthorized()
            if req.path.startswith("/kube-sim/"):
                return self.sim.admin(self, req)
            self.sim.faults.before(req)
            self.sim.count(req, self.headers.get("User-Agent", ""))
            self.sim.route(self, req, user)
        except errors.ApiError as e:
            self.send_json(e.code, e.status(), e.headers)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True
        except Exception as e:  # a kube-sim bug: answer like the real server's panic handler
            import traceback
            traceback.print_exc()
            try:
                self.send_json(500, errors.internal("kube-sim: %s: %s" % (type(e).__name__, e)).status())
            except OSError:
                self.close_connection = True
        finally:
            # Unread request bodies would desynchronise keep-alive connections.
            if req._body is None and method in ("POST", "PUT", "PATCH", "DELETE"):
                try:
                    req.body()
                except OSError:
                    self.close_connection = True


class TLSServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, handler, ssl_ctx):
        self.ssl_ctx = ssl_ctx
        super().__init__(addr, handler)

    def finish_request(self, request, client_address):
        if self.ssl_ctx is not None:
            request.settimeout(10)
            try:
                request = self.ssl_ctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                request.close()
                return
            request.settimeout(None)
        self.RequestHandlerClass(request, client_address, self)


class KubeSim:
    """The whole control plane: storage, API, HTTP server and controllers."""

    def __init__(self, opts):
        from . import controllers, logs
        from .api import Api
        from .resources import Registry
        from .store import Store
        self.opts = opts
        self.verbose = opts.get("verbose", False)
        self.registry = Registry()
        self.store = Store(history=opts.get("history", 1000))
        self.api = Api(self.store, self.registry, opts)
        self.logs = logs.LogStore()
        self.faults = Faults()
        self.tokens = {}          # bearer token -> user info
        self.admin_token = opts.get("token") or secrets.token_hex(16)
        self.tokens[self.admin_token] = {"username": "kube-sim-admin", "uid": "admin",
                                         "groups": ["system:masters", "system:authenticated"]}
        self.stats = {}
        self.stats_lock = threading.Lock()
        self.conns = set()
        self.conns_lock = threading.Lock()
        self.httpd = None
        self.port = opts.get("port", 0)
        self.down = threading.Event()
        self.cert_paths = {}
        if not opts.get("plain_http"):
            from . import certs
            self.cert_paths = certs.ensure(opts["cert_dir"])
        self.controllers = controllers.start_all(self)
        from .admission import Admission
        self.api.admission = Admission(self)

    # -- lifecycle ------------------------------------------------------------------

    def ssl_context(self):
        if self.opts.get("plain_http"):
            return None
        p = self.cert_paths
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(p["server.crt"], p["server.key"])
        ctx.load_verify_locations(p["ca.crt"])
        ctx.verify_mode = ssl.CERT_OPTIONAL     # client certificates authenticate when given
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx

    def start(self):
        handler = type("BoundHandler", (Handler,), {"sim": self})
        self.ssl_ctx = self.ssl_context()
        self.httpd = TLSServer((self.opts.get("host", "127.0.0.1"), self.port), handler, self.ssl_ctx)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True, name="http")
        self.thread.start()
        return self

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % ("http" if self.opts.get("plain_http") else "https", self.port)

    def stop(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
        self.drop_connections()
        self.store.close_all_watches()

    def track(self, conn, add):
        with self.conns_lock:
            (self.conns.add if add else self.conns.discard)(conn)
        if add and self.down.is_set():
            # Accepted just before a restart's stop and not cut by drop_connections().
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def drop_connections(self):
        with self.conns_lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def restart(self, down_seconds=1.0, keep_state=True):
        """Simulates an API server restart as its clients see it. It stops serving first:
        the listener closes and every connection is cut (in-flight requests get a reset,
        watches end); the port refuses connections for down_seconds; then it serves again
        with a new watch cache (history gone: a watch resumed from an older
        resourceVersion gets 410). The store is etcd and is never rolled back: with
        keep_state every write made stays, including those of requests cut mid-flight
        (their clients saw no answer) and of the built-in controllers meanwhile (the
        kubelet goes on running pods and reports them; queued controller work waits
        for the server to be back). Without keep_state the cluster comes back empty,
        as on a fresh etcd; resourceVersions go on increasing either way."""
        self.down.set()
        self.stop()
        time.sleep(down_seconds)
        if keep_state:
            self.store.restart_watch_cache()
        else:
            self.store.reset()
            from . import controllers
            controllers.bootstrap(self)
        self.start()
        self.down.clear()

    def save_state(self, path):
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.store.snapshot(), f)
        os.replace(tmp, path)

    def load_state(self, path):
        with open(path) as f:
            snap = json.load(f)
        from . import controllers
        controllers.restore_types(self, snap)
        self.store.restore(snap)

    # -- auth -----------------------------------------------------------------------

    def authenticate(self, handler):
        auth = handler.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return self.tokens.get(auth[7:].strip())
        if auth.startswith("Basic "):
            return None
        conn = handler.connection
        if isinstance(conn, ssl.SSLSocket):
            cert = conn.getpeercert()
            if cert:
                subj = dict(x[0] for x in cert.get("subject", ()))
                return {"username": subj.get("commonName", ""), "uid": "",
                        "groups": [v for k, v in (x[0] for x in cert.get("subject", ()))
                                   if k == "organizationName"] + ["system:authenticated"]}
        if self.opts.get("plain_http") and self.opts.get("anonymous_admin"):
            return self.tokens[self.admin_token]
        return None

    def mint_token(self, ns, sa, audiences=None):
        tok = "ksim." + base64.urlsafe_b64encode(secrets.token_bytes(24)).decode().rstrip("=")
        self.tokens[tok] = {"username": "system:serviceaccount:%s:%s" % (ns, sa), "uid": "",
                            "groups": ["system:serviceaccounts", "system:serviceaccounts:" + ns,
                                       "system:authenticated"], "audiences": audiences or []}
        return tok

    def count(self, req, ua):
        verb = VERB_BY_METHOD.get(req.method, req.method.lower())
        parts = [p for p in req.path.split("/") if p]
        if req.method == "GET" and req.qbool("watch"):
            verb = "watch"
        resource = ""
        if parts[:1] in (["api"], ["apis"]):
            rest = parts[2:] if parts[0] == "api" else parts[3:]
            if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
                rest = rest[2:]
            if rest:
                resource = rest[0] + ("/" + rest[2] if len(rest) > 2 else "")
                if verb == "get" and len(rest) == 1:
                    verb = "list"
        agent = ua.split("/")[0] if ua else "-"
        k = "%s %s %s" % (agent, verb, resource)
        with self.stats_lock:
            self.stats[k] = self.stats.get(k, 0) + 1

    # -- routing --------------------------------------------------------------------

    def context(self, handler, req, user):
        fv = req.q("fieldValidation", "")
        return Context(user=user, dry_run=req.q("dryRun") == "All", field_manager=req.q("fieldManager") or None,
                       field_validation=fv or "Warn", user_agent=handler.headers.get("User-Agent", ""))

    def route(self, h, req, user):
        path = req.path.rstrip("/") or "/"
        parts = [urllib.parse.unquote(p) for p in path.split("/") if p]
        if path == "/version":
            return h.send_json(200, discovery.version())
        if path in ("/healthz", "/livez", "/readyz"):
            return h.send_text(200, "ok")
        if path == "/openapi/v3":
            return h.send_json(200, openapi.v3_root(self.registry.all()))
        if parts[:2] == ["openapi", "v3"]:
            gv = "/".join(parts[2:])
            types = [t for t in self.registry.all() if ("api/" + t.group_version if not t.group
                                                        else "apis/" + t.group_version) == gv]
            if not types:
                raise errors.not_found_plain("the server could not find the requested resource")
            return h.send_json(200, openapi.v3_group_version(types[0].group_version, types))
        if parts[:1] == ["openapi"]:
            raise errors.not_found_plain("the server could not find the requested resource")
        if parts == ["api"]:
            return h.send_json(200, discovery.api_versions(self))
        if parts == ["apis"]:
            return h.send_json(200, discovery.group_list(self.registry))
        if parts[:1] == ["apis"] and len(parts) == 2:
            g = discovery.group(self.registry, parts[1])
            if g is None:
                raise errors.not_found_plain("the server could not find the requested resource")
            return h.send_json(200, g)
        if parts[:1] == ["api"]:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[:1] == ["apis"]:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise errors.not_found_plain("the server could not find the requested resource")
        if not rest:
            lst = discovery.resource_list(self.registry, group, version)
            if lst is None:
                raise errors.not_found_plain("the server could not find the requested resource")
            return h.send_json(200, lst)
        ns = None
        if rest[0] == "namespaces" and len(rest) >= 3 and not (group == "" and rest[2] in ("status", "finalize")):
            ns, rest = rest[1], rest[2:]
        plural = rest[0]
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if len(rest) > 3:
            raise errors.not_found_plain("the server could not find the requested resource")
        rtype = self.registry.get(group, version, plural)
        if rtype is None:
            raise errors.not_found_plain("the server could not find the requested resource")
        if rtype.namespaced and ns is None and name is not None:
            raise errors.not_found_plain("the server could not find the requested resource")
        if not rtype.namespaced and ns is not None:
            raise errors.not_found_plain("the server could not find the requested resource")
        if sub is not None and sub not in rtype.subresources:
            raise errors.not_found_plain("the server could not find the requested resource")
        self.resource(h, req, user, rtype, ns, name, sub)

    def resource(self, h, req, user, rtype, ns, name, sub):
        api = self.api
        ctx = self.context(h, req, user)
        m = req.method
        if (rtype.group, rtype.plural) in (("authentication.k8s.io", "tokenreviews"),
                                           ("authorization.k8s.io", "subjectaccessreviews"),
                                           ("authorization.k8s.io", "selfsubjectaccessreviews")):
            if m != "POST":
                raise errors.method_not_supported(rtype, VERB_BY_METHOD.get(m, m))
            from . import reviews
            return h.send_json(201, reviews.handle(self, rtype, req.json_body(), user))
        if sub == "log":
            from . import kubelet
            return kubelet.serve_log(self, h, req, ns, name)
        if sub == "token" and m == "POST":
            body = req.json_body()
            api.get(rtype, ns, name)
            exp = int((body.get("spec") or {}).get("expirationSeconds") or 3600)
            tok = self.mint_token(ns, name, (body.get("spec") or {}).get("audiences"))
            body.setdefault("metadata", {})["name"] = name
            body["status"] = {"token": tok, "expirationTimestamp": time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + exp))}
            return h.send_json(201, body)
        if sub in ("binding", "eviction") and m == "POST":
            from . import kubelet
            return kubelet.post_pod_subresource(self, h, req, ctx, ns, name, sub)
        if m == "GET" and name is None:
            if req.qbool("watch"):
                return self.serve_watch(h, req, rtype, ns)
            lst = api.list(rtype, ns, req.q("labelSelector"), req.q("fieldSelector"), int(req.q("limit") or 0),
                           req.q("continue"), req.q("resourceVersion"), req.q("resourceVersionMatch"))
            if req.wants_table():
                return h.send_json(200, table.to_table(lst["items"], rtype, req.q("includeObject", "Metadata"),
                                                       lst["metadata"]))
            return h.send_json(200, lst)
        if m == "GET":
            obj = api.get(rtype, ns, name)
            if req.wants_table():
                return h.send_json(200, table.to_table([obj], rtype, req.q("includeObject", "Metadata"),
                                                       {"resourceVersion": obj["metadata"].get("resourceVersion")}))
            if sub == "scale":
                return h.send_json(200, scale_of(rtype, obj))
            return h.send_json(200, obj)
        if m == "POST":
            body = req.json_body()
            if name is not None and sub is None and isinstance(body, dict):
                # A POST to an item path creates the object named in the body
                # (the KubeSphere console does this for custom resources).
                body.setdefault("metadata", {}).setdefault("name", name)
            if sub is not None:
                raise errors.method_not_supported(rtype, "create")
            obj = api.create(rtype, ns, body, ctx)
            return h.send_json(201, obj, warnings(ctx))
        if m == "PUT":
            if name is None:
                raise errors.method_not_supported(rtype, "update")
            body = req.json_body()
            if sub == "scale":
                obj = api.get(rtype, ns, name)
                reps = (body.get("spec") or {}).get("replicas", 0)
                obj = api.patch(rtype, ns, name, "application/merge-patch+json", {"spec": {"replicas": reps}}, ctx)
                return h.send_json(200, scale_of(rtype, obj))
            obj = api.update(rtype, ns, name, body, ctx, sub)
            return h.send_json(200, obj, warnings(ctx))
        if m == "PATCH":
            if name is None:
                raise errors.method_not_supported(rtype, "patch")
            obj = api.patch(rtype, ns, name, req.headers.get("Content-Type"), req.body(), ctx, sub,
                            force=req.qbool("force"))
            return h.send_json(200, obj, warnings(ctx))
        if m == "DELETE":
            raw = req.body()
            options = {}
            if raw:
                try:
                    options = json.loads(raw) or {}
                except ValueError as e:
                    raise errors.bad_request("couldn't decode DeleteOptions: %s" % e)
            for qk in ("propagationPolicy", "gracePeriodSeconds"):
                if req.q(qk):
                    options[qk] = int(req.q(qk)) if qk == "gracePeriodSeconds" else req.q(qk)
            if req.q("orphanDependents"):
                options["orphanDependents"] = req.qbool("orphanDependents")
            if name is None:
                if "deletecollection" not in rtype.verbs:
                    raise errors.method_not_supported(rtype, "deletecollection")
                return h.send_json(200, api.delete_collection(rtype, ns, ctx, req.q("labelSelector"),
                                                              req.q("fieldSelector"), options))
            code, body = api.delete(rtype, ns, name, ctx, options)
            return h.send_json(code, body)
        raise errors.method_not_supported(rtype, m)

    def serve_watch(self, h, req, rtype, ns):
        timeout = req.q("timeoutSeconds")
        # The real server picks a random timeout in [minRequestTimeout, 2x) when
        # the client sets none; clients must cope with watches ending.
        min_timeout = self.opts.get("min_request_timeout", 1800)
        timeout = float(timeout) if timeout else min_timeout * (1 + random.random())
        bookmarks = req.qbool("allowWatchBookmarks")
        stream = self.api.watch(rtype, ns, req.q("labelSelector"), req.q("fieldSelector"), req.q("resourceVersion"))
        as_table = req.wants_table()
        h.start_chunked()
        deadline = time.time() + timeout
        interval = self.opts.get("bookmark_interval", 60.0)
        next_bookmark = time.time() + interval
        first = True
        try:
            while True:
                now = time.time()
                if now >= deadline:
                    break
                try:
                    ev = stream.next(min(deadline, next_bookmark) - now)
                except WatchClosed:
                    if stream.error is not None:
                        h.chunk(json.dumps({"type": "ERROR", "object": stream.error.status()}).encode() + b"\n")
                    break
                if ev is None:
                    if bookmarks and time.time() >= next_bookmark:
                        rv = stream.bookmark_rv()
                        if rv is not None:
                            obj = {"kind": rtype.kind, "apiVersion": rtype.api_version,
                                   "metadata": {"resourceVersion": str(rv)}}
                            if not rtype.is_crd:
                                obj["metadata"]["creationTimestamp"] = None
                            h.chunk(json.dumps({"type": "BOOKMARK", "object": obj}).encode() + b"\n")
                        next_bookmark = time.time() + interval
                    continue
                etype, obj = ev
                if as_table:
                    obj = table.to_table_event(obj, rtype, first)
                    first = False
                self.faults.watch_delay()
                h.chunk(json.dumps({"type": etype, "object": obj}, separators=(",", ":")).encode() + b"\n")
            h.end_chunked()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            h.close_connection = True
        finally:
            stream.close()

    # -- admin ----------------------------------------------------------------------

    def admin(self, h, req):
        """Fault injection and inspection for tests (admin token required)."""
        cmd = req.path[len("/kube-sim/"):].strip("/")
        body = {}
        if req.method in ("POST", "PUT"):
            raw = req.body()
            body = json.loads(raw) if raw else {}
        if cmd == "faults" and req.method == "POST":
            self.faults.add(body)
            return h.send_json(200, {"faults": self.faults.describe()})
        if cmd == "faults" and req.method == "DELETE":
            self.faults.clear()
            return h.send_json(200, {"faults": []})
        if cmd == "faults":
            return h.send_json(200, {"faults": self.faults.describe()})
        if cmd == "close-watches":
            self.store.close_all_watches()
            return h.send_json(200, {"ok": True})
        if cmd == "expire-watches":
            self.store.expire_all_watches()
            return h.send_json(200, {"ok": True})
        if cmd == "compact":
            self.store.compact()
            return h.send_json(200, {"ok": True, "resourceVersion": str(self.store.rv)})
        if cmd == "restart":
            down = float(body.get("downSeconds", 1.0))
            keep = bool(body.get("keepState", True))
            h.send_json(200, {"ok": True})
            threading.Thread(target=self.restart, args=(down, keep), daemon=True).start()
            return None
        if cmd == "stats" and req.method == "DELETE":
            with self.stats_lock:
                self.stats.clear()
            return h.send_json(200, {})
        if cmd == "stats":
            with self.stats_lock:
                return h.send_json(200, {"requests": dict(self.stats), "resourceVersion": self.store.rv})
        if cmd == "controllers":
            return h.send_json(200, {"controllers": sorted(self.controllers)})
        raise errors.not_found_plain("no such kube-sim admin command: %s" % cmd)


def warnings(ctx):
    if not ctx.warnings:
        return None
    # One Warning header per message, warn-text quoted as RFC 7234 says (backslash escapes).
    return [("Warning", '299 - "%s"' % w.replace("\\", "\\\\").replace('"', '\\"')) for w in ctx.warnings]


def scale_of(rtype, obj):
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: obj["metadata"].get(k) for k in ("name", "namespace", "uid", "resourceVersion",
                                                              "creationTimestamp")},
            "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
            "status": {"replicas": (obj.get("status") or {}).get("replicas", 0)}}


def write_kubeconfig(sim, path, use_client_cert=False):
    ca = ""
    if not sim.opts.get("plain_http"):
        with open(sim.cert_paths["ca.crt"], "rb") as f:
            ca = base64.b64encode(f.read()).decode()
    cluster = {"server": sim.url}
    if ca:
        cluster["certificate-authority-data"] = ca
    user = {"token": sim.admin_token}
    if use_client_cert:
        with open(sim.cert_paths["admin.crt"], "rb") as f:
            crt = base64.b64encode(f.read()).decode()
        with open(sim.cert_paths["admin.key"], "rb") as f:
            key = base64.b64encode(f.read()).decode()
        user = {"client-certificate-data": crt, "client-key-data": key}
    cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "kube-sim",
           "clusters": [{"name": "kube-sim", "cluster": cluster}],
           "users": [{"name": "kube-sim-admin", "user": user}],
           "contexts": [{"name": "kube-sim", "context": {"cluster": "kube-sim", "user": "kube-sim-admin",
                                                         "namespace": "default"}}],
           "preferences": {}}
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(cfg, f, indent=1)   # JSON is YAML: kubectl and libyaml read it
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)

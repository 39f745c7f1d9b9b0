"""The API semantics: create, read, list, update, patch, delete and watch, as the
generic registry of kube-apiserver (staging/src/k8s.io/apiserver/pkg/registry/
generic/registry/store.go) implements them on top of etcd.

The HTTP layer (server.py) and the built-in controllers both call this module,
so controllers see exactly what clients see.
"""
import base64
import bisect
import copy
import json
import random
import re
import threading
import time
import uuid

from . import errors, patch as patchmod, schema as schemamod, strategies
from .selectors import FieldSelector, LabelSelector
from .store import WatchClosed, key_range

GENERATE_CHARS = "bcdfghjklmnpqrstvwxz2456789"   # k8s.io/apiserver/pkg/storage/names
DNS1123_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
QUALIFIED_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"


def now_iso(t=None):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t if t is not None else time.time()))


def clone(obj):
    return copy.deepcopy(obj)


class Context:
    """Who asks and how: the parts of a request the semantics depend on."""

    def __init__(self, user=None, dry_run=False, field_manager=None, field_validation="Ignore",
                 internal=False, user_agent=""):
        self.user = user or {"username": "system:admin", "groups": ["system:masters", "system:authenticated"]}
        self.dry_run = dry_run
        self.field_manager = field_manager
        self.field_validation = field_validation
        self.internal = internal
        self.user_agent = user_agent
        self.warnings = []


INTERNAL = Context(user={"username": "system:kube-sim", "groups": ["system:masters"]}, internal=True)


def validate_name(rtype, name, prefix=False):
    """Name rules of the real registries: most kinds are DNS-1123 subdomains;
    namespaces and services are DNS-1123 labels."""
    causes = []
    label_kinds = {("", "namespaces"), ("", "services")}
    if (rtype.group, rtype.plural) in label_kinds:
        if len(name) > 63:
            causes.append(errors.field_invalid("metadata.name", name, "must be no more than 63 characters"))
        elif not re.fullmatch(DNS1123_LABEL, name):
            causes.append(errors.field_invalid("metadata.name", name,
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
                "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
                "validation is '%s')" % DNS1123_LABEL))
    else:
        if len(name) > 253:
            causes.append(errors.field_invalid("metadata.name", name, "must be no more than 253 characters"))
        elif not re.fullmatch(DNS1123_SUBDOMAIN, name):
            causes.append(errors.field_invalid("metadata.name", name,
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                "validation is '%s')" % DNS1123_SUBDOMAIN))
    return causes


def validate_labels(labels, field):
    causes = []
    for k, v in (labels or {}).items():
        causes += validate_qualified_name(k, field)
        if not isinstance(v, str):
            continue
        if len(v) > 63:
            causes.append(errors.field_invalid(field, v, "must be no more than 63 characters"))
        elif not re.fullmatch(LABEL_VALUE, v):
            causes.append(errors.field_invalid(field, v,
                "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
                "'12345', regex used for validation is '%s')" % LABEL_VALUE))
    return causes


def validate_qualified_name(k, field):
    prefix, _, name = k.rpartition("/")
    if (prefix and (len(prefix) > 253 or not re.fullmatch(DNS1123_SUBDOMAIN, prefix))) or \
            not name or len(name) > 63 or not re.fullmatch(QUALIFIED_NAME, name):
        return [errors.field_invalid(field, k,
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
                "validation is '%s')" % QUALIFIED_NAME)]
    return []


def validate_annotations(annotations):
    causes = []
    total = 0
    for k, v in (annotations or {}).items():
        causes += validate_qualified_name(k.lower(), "metadata.annotations")
        total += len(k) + len(v if isinstance(v, str) else "")
    if total > 256 * 1024:
        causes.append({"reason": "FieldValueTooLong", "field": "metadata.annotations",
                       "message": "Too long: must have at most 262144 bytes"})
    return causes


class Api:
    def __init__(self, store, registry, opts=None):
        self.store = store
        self.registry = registry
        self.opts = opts or {}
        self.admission = None          # set by the server: admission.Admission
        self.write_lock = threading.RLock()
        self.max_object_bytes = int(self.opts.get("max_object_bytes", 3 * 1024 * 1024))
        for t in registry.all():
            store.ensure(registry.storage_key(t))

    # -- helpers --------------------------------------------------------------------

    def skey(self, rtype):
        return self.registry.storage_key(rtype)

    def _check_namespace(self, rtype, ns, name, for_create):
        if not rtype.namespaced:
            return
        if not ns:
            raise errors.bad_request("the namespace of the provided object does not match the namespace sent "
                                     "on the request")
        nst = self.registry.get("", "v1", "namespaces")
        nso = self.store.get(self.skey(nst), "", ns)
        if nso is None:
            raise errors.namespace_not_found(ns)
        if for_create and nso.get("metadata", {}).get("deletionTimestamp"):
            raise errors.ApiError(403, "Forbidden",
                                  '%s "%s" is forbidden: unable to create new content in namespace %s because it '
                                  'is being terminated' % (rtype.qualified, name, ns),
                                  {"name": name, "kind": rtype.plural,
                                   "causes": [{"reason": "NamespaceTerminating",
                                               "message": "namespace %s is being terminated" % ns,
                                               "field": "metadata.namespace"}]})

    def convert_in(self, rtype, obj):
        """Request object -> storage form (kinds sharing storage convert here)."""
        return strategies.convert_in(rtype, obj)

    def convert_out(self, rtype, obj):
        if obj is None:
            return None
        out = strategies.convert_out(rtype, obj)
        if rtype.is_crd and rtype.schema and schemamod.needs_defaults(out, rtype.schema):
            # Defaults apply on read too (the real server defaults when decoding from etcd):
            # a default added to the schema after the object was written. Otherwise the
            # stored object is returned as for built-ins (readers must not change it).
            out = clone(out) if out is obj else out
            schemamod.apply_defaults(out, rtype.schema)
        return out

    def _decode_body(self, rtype, body, ns, ctx):
        if not isinstance(body, dict):
            raise errors.bad_request("the object provided is unrecognized (must be of type %s): couldn't get "
                                     "version/kind; json parse error: expected object" % rtype.kind)
        kind = body.get("kind")
        api_version = body.get("apiVersion")
        if kind is None or api_version is None:
            # Real decoders need both: 'Object 'Kind' is missing in ...'
            if kind is None:
                raise errors.bad_request("Object 'Kind' is missing in '%s'" % json.dumps(body)[:256])
            raise errors.bad_request("Object 'apiVersion' is missing in '%s'" % json.dumps(body)[:256])
        if kind != rtype.kind or api_version != rtype.api_version:
            raise errors.bad_request("the API version in the data (%s) does not match the expected API version "
                                     "(%s)" % (api_version, rtype.api_version) if api_version != rtype.api_version
                                     else 'the object provided is unrecognized (must be of type %s)' % rtype.kind)
        strategies.check_types(rtype, body)
        obj = clone(body)
        obj.setdefault("metadata", {})
        if rtype.namespaced:
            bns = obj["metadata"].get("namespace")
            if bns and ns and bns != ns:
                raise errors.bad_request("the namespace of the provided object does not match the namespace "
                                         "sent on the request")
            if ns:
                obj["metadata"]["namespace"] = ns
        else:
            obj["metadata"].pop("namespace", None)
        if rtype.is_crd and rtype.schema:
            unknown = schemamod.prune(obj, rtype.schema)
            if unknown:
                if ctx.field_validation == "Strict":
                    raise errors.bad_request(schemamod.strict_decoding_message(rtype.kind, rtype.version, unknown))
                if ctx.field_validation == "Warn":
                    ctx.warnings += schemamod.unknown_field_warnings(unknown)
            schemamod.apply_defaults(obj, rtype.schema)
        return obj

    def _validate(self, rtype, obj, old):
        md = obj["metadata"]
        causes = []
        name = md.get("name", "")
        if not name:
            causes.append(errors.field_required("metadata.name", "name or generateName is required"))
        else:
            causes += validate_name(rtype, name)
        causes += validate_labels(md.get("labels"), "metadata.labels")
        causes += validate_annotations(md.get("annotations"))
        for i, ref in enumerate(md.get("ownerReferences") or []):
            for f in ("apiVersion", "kind", "name", "uid"):
                if not ref.get(f):
                    causes.append(errors.field_invalid("metadata.ownerReferences[%d].%s" % (i, f) if f != "uid"
                                                       else "metadata.ownerReferences.uid", ref.get(f, ""),
                                                       "uid must not be empty" if f == "uid"
                                                       else "%s must not be empty" % f))
        if sum(1 for r in md.get("ownerReferences") or [] if r.get("controller")) > 1:
            causes.append(errors.field_invalid("metadata.ownerReferences", md["ownerReferences"],
                                               "Only one reference can have Controller set to true"))
        if old is not None:
            omd = old["metadata"]
            for f in ("uid", "creationTimestamp"):
                if md.get(f) != omd.get(f):
                    causes.append(errors.field_invalid("metadata.%s" % f, md.get(f), "field is immutable"))
        if rtype.is_crd and rtype.schema:
            causes += schemamod.validate(obj, rtype.schema, rtype.kind_qualified)
        causes += strategies.validate(rtype, obj, old)
        if causes:
            raise errors.invalid(rtype, name, causes)
        size = len(json.dumps(obj))
        if size > self.max_object_bytes:
            raise errors.ApiError(413, "RequestEntityTooLarge", "Request entity too large: limit is %d"
                                  % self.max_object_bytes)

    def _admit(self, op, rtype, ns, name, obj, old, ctx, subresource=None):
        """Mutating then validating admission (webhooks). Returns the possibly mutated obj."""
        if self.admission is None:
            return obj
        return self.admission.admit(op, rtype, ns, name, obj, old, ctx, subresource)

    def _admit_validate(self, op, rtype, ns, name, obj, old, ctx, subresource=None):
        if self.admission is not None:
            self.admission.validate(op, rtype, ns, name, obj, old, ctx, subresource)

    # -- reads ----------------------------------------------------------------------

    def get(self, rtype, ns, name):
        obj = self.store.get(self.skey(rtype), ns if rtype.namespaced else "", name)
        if obj is None:
            raise errors.not_found(rtype, name)
        return self.convert_out(rtype, obj)

    def list(self, rtype, ns, label_selector="", field_selector="", limit=0, cont="", rv="", rv_match=""):
        """A List object. Pagination continues at the snapshot resourceVersion the
        first page was read at, as etcd does. A page costs what it returns (plus what
        the selectors skip): the sorted snapshot is shared by the pages and each one
        starts at a bisect to its continue key."""
        ls = LabelSelector(label_selector)
        fs = FieldSelector(field_selector, rtype)
        skey = self.skey(rtype)
        limit = max(0, limit)      # as the real server: a negative limit is no limit
        start_key = None
        if cont:
            try:
                tok = json.loads(base64.b64decode(cont + "=" * (-len(cont) % 4)).decode())
                read_rv, start_key = int(tok["rv"]), tuple(tok["start"])
                if len(start_key) != 2 or not all(isinstance(k, str) for k in start_key):
                    raise ValueError(start_key)
            except Exception:
                raise errors.bad_request("continue key is not valid: illegal base64 data")
            try:
                keys, objs, read_rv = self.store.list_snapshot(skey, read_rv)
            except errors.ApiError as e:
                if e.code == 410:
                    raise errors.ApiError(410, "Expired", "The provided continue parameter is too old to display "
                                          "a consistent list result. You can start a new list without the continue "
                                          "parameter, or use the continue token in this response to retrieve the "
                                          "remainder of the results. Continuing with the provided token results in "
                                          "an inconsistent list - objects that were created, modified, or deleted "
                                          "between the time the first chunk was returned and now may show up in the "
                                          "list.")
                raise
        elif rv and rv != "0" and rv_match == "Exact":
            keys, objs, read_rv = self.store.list_snapshot(skey, self._parse_rv(rv))
        else:
            if rv and rv != "0":
                want = self._parse_rv(rv)
                if want > self.store.rv:
                    raise errors.timeout("Too large resource version: %d, current: %d" % (want, self.store.rv))
            keys, objs, read_rv = self.store.list_snapshot(skey)
        lo, hi = key_range(keys, ns if rtype.namespaced and ns else None)
        if start_key is not None:
            lo = bisect.bisect_right(keys, start_key, lo, hi)
        more = False
        remaining = None           # only known without selectors, as the real server says
        if ls.empty and fs.empty:
            end = min(hi, lo + limit) if limit else hi
            out = objs[lo:end]
            if end < hi:
                more = True
                remaining = hi - end
        else:
            out = []
            for i in range(lo, hi):
                o = objs[i]
                if ls.matches(o["metadata"].get("labels")) and fs.matches(strategies.field_view(rtype, o)):
                    if limit and len(out) == limit:
                        more = True      # one more match: the page is not the last
                        break
                    out.append(o)
        meta = {"resourceVersion": str(read_rv)}
        if more:
            last = out[-1]["metadata"]
            token = {"v": "meta.k8s.io/v1", "rv": read_rv,
                     "start": [last.get("namespace", ""), last["name"]]}
            meta["continue"] = base64.b64encode(json.dumps(token).encode()).decode().rstrip("=")
            if remaining is not None:
                meta["remainingItemCount"] = remaining
        else:
            # The recorded real server always returned the key (conformance "list by label").
            meta["continue"] = ""
        return {"kind": rtype.list_kind, "apiVersion": rtype.api_version, "metadata": meta,
                "items": [self.convert_out(rtype, o) for o in out]}

    @staticmethod
    def _parse_rv(rv):
        try:
            v = int(rv)
            if v < 0:
                raise ValueError
            return v
        except ValueError:
            raise errors.bad_request('resourceVersion: Invalid value: "%s": strconv.ParseUint: parsing "%s": '
                                     'invalid syntax' % (rv, rv))

    # -- create ---------------------------------------------------------------------

    def create(self, rtype, ns, body, ctx, subresource=None):
        obj = self._decode_body(rtype, body, ns, ctx)
        obj = self.convert_in(rtype, obj)
        md = obj["metadata"]
        if not md.get("name") and md.get("generateName"):
            base = md["generateName"][:58]
            md["name"] = base + "".join(random.choice(GENERATE_CHARS) for _ in range(5))
        name = md.get("name", "")
        self._check_namespace(rtype, ns, name, True)
        for f in ("resourceVersion",):
            if md.get(f):
                raise errors.bad_request("resourceVersion should not be set on objects to be created")
        for f in ("uid", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
            md.pop(f, None)
        md["uid"] = str(uuid.uuid4())
        md["creationTimestamp"] = now_iso()
        if strategies.has_generation(rtype):
            md["generation"] = 1
        if rtype.has_status_subresource:
            obj.pop("status", None)
        strategies.prepare_create(rtype, obj, self)
        obj = self._admit("CREATE", rtype, ns, name, obj, None, ctx, subresource)
        self._validate(rtype, obj, None)
        self._admit_validate("CREATE", rtype, ns, name, obj, None, ctx, subresource)
        self._set_managed(rtype, None, obj, ctx, "Update")
        if ctx.dry_run:
            return self.convert_out(rtype, obj)
        skey = self.skey(rtype)
        with self.store.lock:
            self._check_namespace(rtype, ns, name, True)
            if self.store.get(skey, md.get("namespace", ""), name) is not None:
                raise errors.already_exists(rtype, name)
            stored = self.store.commit(skey, md.get("namespace", ""), name, obj, "ADDED")
        strategies.after_create(rtype, stored, self)
        return self.convert_out(rtype, stored)

    # -- update ---------------------------------------------------------------------

    def update(self, rtype, ns, name, body, ctx, subresource=None):
        obj = self._decode_body(rtype, body, ns, ctx)
        obj = self.convert_in(rtype, obj)
        if obj["metadata"].get("name") and obj["metadata"]["name"] != name:
            raise errors.bad_request("the name of the object (%s) does not match the name on the URL (%s)"
                                     % (obj["metadata"]["name"], name))
        obj["metadata"]["name"] = name
        want_rv = obj["metadata"].get("resourceVersion")
        if not want_rv and not strategies.allow_unconditional_update(rtype):
            raise errors.invalid(rtype, name, [errors.field_invalid("metadata.resourceVersion", None,
                                                                     "must be specified for an update")])
        return self._update_from(rtype, ns, name, lambda cur: obj, want_rv, ctx, subresource)

    def _update_from(self, rtype, ns, name, make_new, want_rv, ctx, subresource, retries=10, create_fn=None,
                     record_managed=True):
        """The GuaranteedUpdate loop: read, compute, admit, compare-and-swap.
        want_rv set -> a mismatch is a 409; unset -> retry on races."""
        skey = self.skey(rtype)
        sns = ns if rtype.namespaced else ""
        for _ in range(retries):
            cur = self.store.get(skey, sns, name)
            if cur is None:
                if create_fn is not None:
                    return create_fn()
                raise errors.not_found(rtype, name)
            if want_rv and want_rv != cur["metadata"]["resourceVersion"]:
                raise errors.conflict(rtype, name)
            new = make_new(self.convert_out(rtype, cur))
            new = self._merge_for_write(rtype, cur, new, subresource)
            new = self._admit("UPDATE", rtype, ns, name, new, cur, ctx, subresource)
            new = self._merge_for_write(rtype, cur, new, subresource)
            self._validate(rtype, new, cur)
            self._admit_validate("UPDATE", rtype, ns, name, new, cur, ctx, subresource)
            if strip_rv(new) == strip_rv(cur):
                # etcd3 store: an update that changes nothing is not written (no new RV, no event).
                return self.convert_out(rtype, cur)
            if record_managed:
                self._set_managed(rtype, cur, new, ctx, "Update", subresource)
            if ctx.dry_run:
                return self.convert_out(rtype, new)
            with self.store.lock:
                latest = self.store.get(skey, sns, name)
                if latest is None or latest["metadata"]["resourceVersion"] != cur["metadata"]["resourceVersion"]:
                    if want_rv:
                        raise errors.conflict(rtype, name)
                    continue
                md = new["metadata"]
                if md.get("deletionTimestamp") and not md.get("finalizers") and \
                        not strategies.blocks_deletion(rtype, new):
                    stored = self.store.commit(skey, sns, name, new, "DELETED")
                    deleted = True
                else:
                    stored = self.store.commit(skey, sns, name, new, "MODIFIED")
                    deleted = False
            if deleted:
                strategies.after_delete(rtype, stored, self)
            else:
                strategies.after_update(rtype, cur, stored, self)
            return self.convert_out(rtype, stored)
        raise errors.conflict(rtype, name, "the object has been modified; please apply your changes to the "
                                           "latest version and try again")

    def _merge_for_write(self, rtype, cur, new, subresource):
        """What a write may change: a status write changes only status; a main write
        never changes status (when status is a subresource); system metadata is kept."""
        new = clone(new)
        new.setdefault("metadata", {})
        cmd = cur["metadata"]
        if subresource == "status":
            out = clone(cur)
            if "status" in new:
                out["status"] = new["status"]
            else:
                out.pop("status", None)
            new = out
        elif rtype.has_status_subresource and subresource is None:
            if "status" in cur:
                new["status"] = clone(cur["status"])
            else:
                new.pop("status", None)
        md = new["metadata"]
        for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if f in cmd:
                md.setdefault(f, cmd[f])
            if f in ("deletionTimestamp", "deletionGracePeriodSeconds"):
                if f in cmd:
                    md[f] = cmd[f]
                else:
                    md.pop(f, None)
        if "namespace" in cmd:
            md["namespace"] = cmd["namespace"]
        md["name"] = cmd["name"]
        if "generation" in cmd:
            md["generation"] = cmd["generation"]
            if spec_changed(rtype, cur, new):
                md["generation"] = cmd["generation"] + 1
        else:
            md.pop("generation", None)
        if cmd.get("deletionTimestamp"):
            added = [f for f in md.get("finalizers") or [] if f not in (cmd.get("finalizers") or [])]
            if added:
                raise errors.invalid(rtype, cmd["name"], [errors.field_forbidden(
                    "metadata.finalizers", "no new finalizers can be added if the object is being deleted, found "
                    "new finalizers []string{%s}" % ", ".join('"%s"' % a for a in added))])
        if "managedFields" not in md and "managedFields" in cmd:
            md["managedFields"] = cmd["managedFields"]
        md["resourceVersion"] = cmd["resourceVersion"]
        strategies.prepare_update(rtype, new, cur, subresource)
        return new

    def _set_managed(self, rtype, old, new, ctx, operation, subresource=None):
        manager = ctx.field_manager or (ctx.user_agent.split("/")[0] if ctx.user_agent else None)
        if ctx.internal or not manager:
            return
        record = getattr(patchmod, "record_update", None)
        if record is None:
            return
        try:
            mf = record((old or {}).get("metadata", {}).get("managedFields"), old, new, manager, operation,
                        rtype.api_version, now_iso(), subresource,
                        status_subresource=rtype.has_status_subresource)
        except Exception:
            return
        if mf:
            new["metadata"]["managedFields"] = mf

    # -- patch ----------------------------------------------------------------------

    def patch(self, rtype, ns, name, content_type, body, ctx, subresource=None, force=False):
        ctype = (content_type or "").split(";")[0].strip()
        if ctype == "application/apply-patch+yaml":
            return self._apply(rtype, ns, name, body, ctx, subresource, force)
        if ctype == "application/strategic-merge-patch+json" and not rtype.strategic_merge:
            raise errors.ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format "
                                  "- accepted media types include: application/json-patch+json, "
                                  "application/merge-patch+json, application/apply-patch+yaml", {})
        if ctype not in ("application/merge-patch+json", "application/json-patch+json",
                         "application/strategic-merge-patch+json"):
            raise errors.unsupported_media_type(ctype)
        if isinstance(body, (bytes, str)):
            try:
                doc = patchmod.decode_patch(body if isinstance(body, bytes) else body.encode(), ctype)
            except patchmod.PatchError as e:
                raise patch_error(e)
        else:
            doc = body
        want_rv = None
        if isinstance(doc, dict):
            want_rv = (doc.get("metadata") or {}).get("resourceVersion")

        def make_new(cur):
            try:
                if ctype == "application/merge-patch+json":
                    out = patchmod.merge_patch(cur, doc)
                elif ctype == "application/json-patch+json":
                    out = patchmod.json_patch(cur, doc)
                else:
                    out = patchmod.strategic_merge_patch(cur, doc, "%s/%s/%s" % (rtype.group, rtype.version,
                                                                               rtype.kind))
            except patchmod.PatchError as e:
                raise patch_error(e)
            if not isinstance(out, dict):
                raise errors.bad_request("patched object is not a JSON object")
            out.setdefault("apiVersion", rtype.api_version)
            out.setdefault("kind", rtype.kind)
            if out.get("kind") != rtype.kind or out.get("apiVersion") != rtype.api_version:
                raise errors.bad_request("the patch must not change the kind or apiVersion")
            strategies.check_types(rtype, out)
            if rtype.is_crd and rtype.schema:
                unknown = schemamod.prune(out, rtype.schema)
                if unknown and ctx.field_validation == "Strict":
                    raise errors.bad_request(schemamod.strict_field_errors(unknown))
                if unknown and ctx.field_validation == "Warn":
                    ctx.warnings += schemamod.unknown_field_warnings(unknown)
                schemamod.apply_defaults(out, rtype.schema)
            prv = out["metadata"].get("resourceVersion")
            if prv and prv != cur["metadata"]["resourceVersion"]:
                raise errors.conflict(rtype, name)
            return self.convert_in(rtype, out)

        return self._update_from(rtype, ns, name, make_new, want_rv, ctx, subresource)

    def _apply(self, rtype, ns, name, body, ctx, subresource, force):
        if not ctx.field_manager:
            raise errors.bad_request("PATCH, application/apply-patch+yaml requires fieldManager to be set")
        try:
            doc = json.loads(body) if isinstance(body, (bytes, str)) else body
        except ValueError:
            raise errors.bad_request("error decoding YAML: only JSON documents are understood by kube-sim's "
                                     "apply (kubectl and our client send JSON)")
        if not isinstance(doc, dict):
            raise errors.bad_request("error decoding YAML: expected an object")
        type_key = "%s/%s/%s" % (rtype.group, rtype.version, rtype.kind)

        def make_new(cur):
            try:
                out, mf = patchmod.apply_patch(cur, doc, ctx.field_manager, force, type_key, now_iso(),
                                               subresource=subresource,
                                               status_subresource=rtype.has_status_subresource)
            except patchmod.PatchError as e:
                raise patch_error(e)
            out["metadata"]["managedFields"] = mf
            return out

        def create():
            try:
                out, mf = patchmod.apply_patch(None, doc, ctx.field_manager, force, type_key, now_iso(),
                                               status_subresource=rtype.has_status_subresource)
            except patchmod.PatchError as e:
                raise patch_error(e)
            out.setdefault("metadata", {})["name"] = name
            out["metadata"]["managedFields"] = mf
            c = Context(user=ctx.user, dry_run=ctx.dry_run, field_manager=None, internal=ctx.internal)
            return self.create(rtype, ns, out, c, subresource)

        return self._update_from(rtype, ns, name, make_new, None, ctx, subresource, create_fn=create,
                                 record_managed=False)

    # -- delete ---------------------------------------------------------------------

    def delete(self, rtype, ns, name, ctx, options=None):
        """Returns (code, body): the object while it lingers (finalizers, graceful
        deletion), else a Success Status (or the object for kinds that return it)."""
        options = options or {}
        skey = self.skey(rtype)
        sns = ns if rtype.namespaced else ""
        cur = self.store.get(skey, sns, name)
        if cur is None:
            raise errors.not_found(rtype, name)
        pre = options.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != cur["metadata"]["uid"]:
            raise errors.conflict(rtype, name, "Precondition failed: UID in precondition: %s, UID in object meta: %s"
                                  % (pre["uid"], cur["metadata"]["uid"]))
        if pre.get("resourceVersion") and pre["resourceVersion"] != cur["metadata"]["resourceVersion"]:
            raise errors.conflict(rtype, name, "Precondition failed: ResourceVersion in precondition: %s, "
                                  "ResourceVersion in object meta: %s" % (pre["resourceVersion"],
                                                                          cur["metadata"]["resourceVersion"]))
        self._admit_validate("DELETE", rtype, ns, name, None, cur, ctx)
        if ctx.dry_run:
            return 200, self.convert_out(rtype, cur)
        policy = options.get("propagationPolicy")
        if options.get("orphanDependents") is True:
            policy = "Orphan"
        elif options.get("orphanDependents") is False:
            policy = "Background"
        if policy is None:
            policy = strategies.default_gc_policy(rtype)
        if policy not in ("Orphan", "Foreground", "Background"):
            raise errors.invalid(rtype, name, [{"reason": "FieldValueNotSupported", "field": "propagationPolicy",
                                                "message": 'Unsupported value: "%s": supported values: "Foreground",'
                                                ' "Background", "Orphan", "nil"' % policy}])
        grace = options.get("gracePeriodSeconds")
        with self.store.lock:
            cur = self.store.get(skey, sns, name)
            if cur is None:
                raise errors.not_found(rtype, name)
            new = clone(cur)
            md = new["metadata"]
            deleting = bool(md.get("deletionTimestamp"))
            fins = list(md.get("finalizers") or [])
            if not deleting and policy == "Orphan" and "orphan" not in fins:
                fins.append("orphan")
            if not deleting and policy == "Foreground" and "foregroundDeletion" not in fins:
                fins.append("foregroundDeletion")
            graceful = strategies.graceful_delete_seconds(rtype, cur, grace)
            lingering = bool(fins) or strategies.blocks_deletion(rtype, new) or bool(graceful)
            if lingering:
                if deleting and not graceful:
                    # Deleting what is already being deleted changes nothing.
                    return 200, self.convert_out(rtype, cur)
                if fins:
                    md["finalizers"] = fins
                if not deleting:
                    md["deletionTimestamp"] = now_iso(time.time() + (graceful or 0))
                    strategies.prepare_delete(rtype, new)
                md["deletionGracePeriodSeconds"] = graceful or 0
                stored = self.store.commit(skey, sns, name, new, "MODIFIED")
            else:
                stored = self.store.commit(skey, sns, name, new, "DELETED")
        if lingering:
            strategies.after_update(rtype, cur, stored, self)
            return 200, self.convert_out(rtype, stored)
        strategies.after_delete(rtype, stored, self)
        if strategies.returns_deleted_object(rtype):
            return 200, self.convert_out(rtype, stored)
        details = {"name": name, "group": rtype.group, "kind": rtype.plural, "uid": cur["metadata"]["uid"]}
        if not rtype.group:
            del details["group"]
        return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                     "details": details}

    def delete_collection(self, rtype, ns, ctx, label_selector="", field_selector="", options=None):
        lst = self.list(rtype, ns, label_selector, field_selector)
        deleted = []
        for o in lst["items"]:
            try:
                self.delete(rtype, o["metadata"].get("namespace", ""), o["metadata"]["name"], ctx, options)
                deleted.append(o)
            except errors.ApiError as e:
                if e.code != 404:
                    raise
        lst["items"] = deleted
        return lst

    # -- watch ----------------------------------------------------------------------

    def watch(self, rtype, ns, label_selector="", field_selector="", rv=""):
        """Returns a WatchStream yielding (type, object) pairs."""
        ls = LabelSelector(label_selector)
        fs = FieldSelector(field_selector, rtype)
        skey = self.skey(rtype)
        since = None
        initial = None
        with self.store.lock:
            if rv and rv != "0":
                since = self._parse_rv(rv)
            else:
                items, cur_rv = self.store.items(skey)
                from .store import Event
                initial = [Event("ADDED", int(o["metadata"]["resourceVersion"]), o["metadata"].get("namespace", ""),
                                 o["metadata"]["name"], o, None) for o in items]
            w = self.store.watch(skey, since, initial)
        return WatchStream(self, rtype, w, ns if rtype.namespaced else None, ls, fs)


def patch_error(e):
    """A PatchError as the client sees it (its Status details kept exactly)."""
    details = e.details if getattr(e, "details", None) is not None else (
        {"causes": e.causes} if e.causes else None)
    return errors.ApiError(e.code, e.reason, e.message, details)


class WatchStream:
    """Filters a store watcher by namespace and selectors and turns selector
    transitions into ADDED/DELETED as the real watch cache does."""

    def __init__(self, api, rtype, watcher, ns, ls, fs):
        self.api = api
        self.rtype = rtype
        self.w = watcher
        self.ns = ns
        self.ls = ls
        self.fs = fs

    def _match(self, obj):
        if obj is None:
            return False
        md = obj["metadata"]
        if self.ns and md.get("namespace") != self.ns:
            return False
        return self.ls.matches(md.get("labels")) and self.fs.matches(strategies.field_view(self.rtype, obj))

    def next(self, timeout):
        """(type, obj) or None on timeout; raises WatchClosed; .error has a 410 to send."""
        deadline = time.time() + timeout
        while True:
            left = max(0.0, deadline - time.time())
            ev = self.w.next(left)
            if ev is None:
                return None
            new_ok = self._match(ev.obj) if ev.type != "DELETED" else False
            old_ok = self._match(ev.old)
            conv = self.api.convert_out
            if ev.type == "ADDED" and new_ok:
                return "ADDED", conv(self.rtype, ev.obj)
            if ev.type == "MODIFIED":
                if new_ok and old_ok:
                    return "MODIFIED", conv(self.rtype, ev.obj)
                if new_ok:
                    return "ADDED", conv(self.rtype, ev.obj)
                if old_ok:
                    return "DELETED", conv(self.rtype, ev.obj)
            if ev.type == "DELETED" and (old_ok or self._match(ev.obj)):
                return "DELETED", conv(self.rtype, ev.obj)
            if time.time() >= deadline:
                return None

    @property
    def error(self):
        return self.w.error

    def bookmark_rv(self):
        return self.api.store.bookmark_rv(self.w)

    def close(self):
        self.w.close()
        self.api.store.unwatch(self.w)


def strip_rv(obj):
    o = dict(obj)
    md = dict(o.get("metadata") or {})
    md.pop("resourceVersion", None)
    md.pop("managedFields", None)
    o["metadata"] = md
    return o


def spec_changed(rtype, old, new):
    """generation is bumped when anything but metadata (and status, when it is a
    subresource) changes -- the CRD rule; built-ins with generation use spec."""
    def body(o):
        return {k: v for k, v in o.items() if k not in ("metadata", "status", "apiVersion", "kind")}
    if rtype.is_crd and not rtype.has_status_subresource:
        def body(o):  # noqa: F811 - without a status subresource status counts too
            return {k: v for k, v in o.items() if k not in ("metadata", "apiVersion", "kind")}
    return body(old) != body(new)


__all__ = ["Api", "Context", "INTERNAL", "WatchClosed", "now_iso", "clone"]

"""API errors as the real kube-apiserver sends them: a v1 Status with code,
reason, message and details. Texts follow k8s.io/apimachinery/pkg/api/errors
(checked against shared/conformance/real-apiserver.json)."""


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self):
        st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
              "message": self.message, "reason": self.reason, "code": self.code}
        if self.details is not None:
            st["details"] = self.details
        if not self.reason:
            del st["reason"]
        return st


def _details(rtype, name, **extra):
    d = {}
    if name:
        d["name"] = name
    d["group"] = rtype.group
    d["kind"] = rtype.plural
    d.update(extra)
    if not d["group"]:
        del d["group"]
    return d


def not_found(rtype, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (rtype.qualified, name), _details(rtype, name))


def not_found_plain(message):
    """A 404 for a path that names no resource at all: the real server answers
    with a bare Status whose details are empty."""
    return ApiError(404, "NotFound", message, {})


def namespace_not_found(ns):
    return ApiError(404, "NotFound", 'namespaces "%s" not found' % ns, {"name": ns, "kind": "namespaces"})


def already_exists(rtype, name):
    return ApiError(409, "AlreadyExists", '%s "%s" already exists' % (rtype.qualified, name),
                    _details(rtype, name))


def conflict(rtype, name, why="the object has been modified; please apply your changes to the latest "
                              "version and try again"):
    return ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": %s' % (rtype.qualified, name, why),
                    _details(rtype, name))


def invalid(rtype, name, causes):
    """causes: [{"reason","message","field"}]. Message format of StatusError for
    NewInvalid: 'Kind.group "name" is invalid: [c1, c2]' (no brackets for one)."""
    parts = ["%s: %s" % (c["field"], c["message"]) if c.get("field") else c["message"] for c in causes]
    agg = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    d = {"name": name, "group": rtype.group, "kind": rtype.kind, "causes": causes}
    if not name:
        del d["name"]
    if not rtype.group:
        del d["group"]
    return ApiError(422, "Invalid", '%s "%s" is invalid: %s' % (rtype.kind_qualified, name, agg), d)


def field_invalid(field, value, detail):
    """A FieldValueInvalid cause, formatted as field.Invalid does."""
    import json
    v = json.dumps(value) if isinstance(value, str) else (("0x0" if value is None else str(value)))
    return {"reason": "FieldValueInvalid", "message": "Invalid value: %s: %s" % (v, detail), "field": field}


def field_required(field, detail=""):
    return {"reason": "FieldValueRequired", "message": "Required value" + (": " + detail if detail else ""),
            "field": field}


def field_forbidden(field, detail):
    return {"reason": "FieldValueForbidden", "message": "Forbidden: " + detail, "field": field}


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def forbidden(rtype, name, message):
    return ApiError(403, "Forbidden", message, _details(rtype, name))


def unauthorized():
    return ApiError(401, "Unauthorized", "Unauthorized")


def gone_expired(message):
    return ApiError(410, "Expired", message)


def method_not_supported(rtype, verb):
    return ApiError(405, "MethodNotAllowed", '%s is not supported on resources of kind "%s"' % (verb, rtype.qualified),
                    _details(rtype, None))


def unsupported_media_type(content_type):
    return ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted "
                    "media types include: application/json-patch+json, application/merge-patch+json, "
                    "application/apply-patch+yaml", {})


def not_acceptable(message):
    return ApiError(406, "NotAcceptable", message, {})


def too_many_requests(retry_after=1):
    return ApiError(429, "TooManyRequests", "Too many requests, please try again later.",
                    {"retryAfterSeconds": retry_after}, {"Retry-After": str(retry_after)})


def internal(message):
    return ApiError(500, "InternalError", "Internal error occurred: %s" % message,
                    {"causes": [{"message": message}]})


def service_unavailable(message="the server is currently unable to handle the request"):
    return ApiError(503, "ServiceUnavailable", message, {}, {"Retry-After": "1"})


def timeout(message="Timeout: request did not complete within the allotted timeout"):
    return ApiError(504, "Timeout", message, {})

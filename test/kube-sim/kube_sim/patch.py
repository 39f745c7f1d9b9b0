"""PATCH semantics of the real kube-apiserver, for kube-sim.

One entry point per patch content type, plus the managedFields bookkeeping:

* ``merge_patch``            application/merge-patch+json: RFC 7386 as evanphx/json-patch v4
                             (the library the apiserver vendors) applies it.
* ``json_patch``             application/json-patch+json: RFC 6902, evanphx/json-patch v4.
* ``strategic_merge_patch``  application/strategic-merge-patch+json: a port of the server side of
                             k8s.io/apimachinery/pkg/util/strategicpatch (``StrategicMergeMapPatch``)
                             driven by a built-in table of patchStrategy/patchMergeKey tags.
* ``apply_patch``            application/apply-patch+yaml: a small, honest model of
                             sigs.k8s.io/structured-merge-diff (ownership, conflicts, pruning).
* ``record_update``          the managedFields entry a create/update/patch leaves behind.
* ``decode_patch``           a raw body decoded with the apiserver's own error texts (Go's
                             encoding/json messages), for callers that still hold bytes.

Every function is pure: inputs are deep-copied before anything is changed. Errors are
``PatchError`` carrying the HTTP code, Status reason and Status message the real server sends.
Python 3 standard library only.
"""
import copy
import json
from datetime import datetime
from decimal import Decimal

__all__ = ["PatchError", "decode_patch", "merge_patch", "json_patch", "strategic_merge_patch",
           "apply_patch", "record_update", "validate_patch_options", "GENERIC_422_MESSAGE"]

# NewGenericServerResponse(422, ...) text; the apiserver answers every failed JSON patch
# operation (and SMP's "lists of lists") with it, and with an empty details object.
GENERIC_422_MESSAGE = "the server rejected our request due to an error in our request"

# handlers/patch.go: maxJSONPatchOperations.
MAX_JSON_PATCH_OPERATIONS = 10000


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------

class PatchError(Exception):
    """A patch the apiserver refuses.

    code     HTTP status (400, 409, 413, 415, 422, 500).
    reason   Status.reason ("BadRequest", "Conflict", "Invalid", "RequestEntityTooLarge"...);
             "" where the real server sends StatusReasonUnknown (plain Go errors become 500s).
    message  Status.message, as the real server words it.
    causes   Status.details.causes in wire form: [{"reason", "message", "field"}] (the Go field
             StatusCause.Type is serialised as "reason"), or [].
    details  the complete Status.details object when the real server sends one (e.g. ``{}`` for
             a failed JSON patch, which has no causes), else None.
    detail   internal diagnostic text (e.g. the evanphx error the apiserver swallows); never
             part of the Status, useful in logs and tests.
    """

    def __init__(self, code, reason, message, causes=None, details=None, detail=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.causes = list(causes or [])
        if details is None and self.causes:
            details = {"causes": self.causes}
        self.details = details
        self.detail = detail

    def to_status(self):
        """The metav1.Status body, in the real server's key order."""
        status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": self.message}
        if self.reason:
            status["reason"] = self.reason
        if self.details is not None:
            status["details"] = self.details
        status["code"] = self.code
        return status

    def __repr__(self):
        return "PatchError(%d, %r, %r)" % (self.code, self.reason, self.message)


def _bad_request(message):
    return PatchError(400, "BadRequest", message)


def _generic_invalid(detail):
    # NewGenericServerResponse(422, "", GroupResource{}, "", msg, 0, false): isUnexpectedResponse
    # is false, so the cause (the library's own message) is dropped; details stays an empty object.
    return PatchError(422, "Invalid", GENERIC_422_MESSAGE, details={}, detail=detail)


def _internal(message):
    # A plain Go error reaches ErrorToAPIStatus: 500 with StatusReasonUnknown ("").
    return PatchError(500, "", message)


def validate_patch_options(patch_type, field_manager, force):
    """ValidatePatchOptions: raise the 422 the apiserver sends before looking at the body.

    patch_type is "apply" or anything else; force is the ``force`` query parameter (None if
    absent)."""
    errs = []
    if _patch_kind(patch_type) != "apply":
        if force is not None:
            errs.append(("force", "FieldValueForbidden", "Forbidden: may not be specified for non-apply patch"))
    elif not field_manager:
        errs.append(("fieldManager", "FieldValueRequired", "Required value: is required for apply patch"))
    if errs:
        raise _invalid_patch_options(errs)


def _invalid_patch_options(errs):
    """errors.NewInvalid(PatchOptions.meta.k8s.io, "", errs)."""
    texts = ["%s: %s" % (f, m) for f, _, m in errs]
    joined = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    causes = [{"reason": r, "message": m, "field": f} for f, r, m in errs]
    return PatchError(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: ' + joined, causes,
                      details={"group": "meta.k8s.io", "kind": "PatchOptions", "causes": causes})


# ---------------------------------------------------------------------------------------------
# Go formatting helpers: error texts embed values printed the way Go prints them
# ---------------------------------------------------------------------------------------------

def _go_quote(s):
    """strconv.Quote."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in "\a\b\f\n\r\t\v":
            out.append({"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
                        "\t": "\\t", "\v": "\\v"}[ch])
        elif ch.isprintable():
            out.append(ch)
        elif o < 0x80:
            out.append("\\x%02x" % o)
        elif o < 0x10000:
            out.append("\\u%04x" % o)
        else:
            out.append("\\U%08x" % o)
    out.append('"')
    return "".join(out)


def _go_quote_byte(c):
    """encoding/json quoteChar: how a syntax error names the offending byte."""
    if c == ord("'"):
        return "'\\''"
    if c == ord('"'):
        return "'\"'"
    return "'" + _go_quote(chr(c))[1:-1] + "'"


def _go_float(f):
    """fmt %v of a float64: strconv 'g' with the shortest digits, which switches to the
    exponent form when the decimal exponent is < -4 or >= 6 (fmt.Println(1e6) is "1e+06")."""
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "-0" if str(f).startswith("-") else "0"
    sign, digits, exponent = Decimal(repr(f)).normalize().as_tuple()
    text = "".join(str(d) for d in digits)
    point = len(digits) + exponent          # digits before the decimal point
    exp = point - 1
    if exp < -4 or exp >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        body = "%se%s%02d" % (mantissa, "-" if exp < 0 else "+", abs(exp))
    elif point <= 0:
        body = "0." + "0" * -point + text
    elif point >= len(text):
        body = text + "0" * (point - len(text))
    else:
        body = text[:point] + "." + text[point:]
    return ("-" if sign else "") + body


def _go_v(v):
    """fmt %v of a decoded JSON value (maps print with sorted keys, as Go does)."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _go_float(v)
    if isinstance(v, dict):
        return "map[" + " ".join("%s:%s" % (k, _go_v(v[k])) for k in sorted(v)) + "]"
    if isinstance(v, list):
        return "[" + " ".join(_go_v(x) for x in v) + "]"
    return str(v)


def _go_type(v):
    """reflect.TypeOf(v).String() for a value decoded into interface{} (ints stay int64)."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int64"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, dict):
        return "map[string]interface {}"
    return "[]interface {}"


def _json_kind(v):
    """The word Go's UnmarshalTypeError uses for a JSON value."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, dict):
        return "object"
    if isinstance(v, list):
        return "array"
    return "null"


def _go_eq(a, b):
    """Go's == on two interface{} values: same dynamic type and same value."""
    return _go_type(a) == _go_type(b) and a == b


def _json_equal(a, b):
    """Deep equality of JSON values that never confuses true with 1 (1 and 1.0 are equal, as
    structured-merge-diff compares numbers)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)):
        return isinstance(b, (int, float)) and a == b
    return type(a) is type(b) and a == b


def _go_json(v):
    """Compact JSON as Go's encoder writes it (HTML-escaped, integral floats without '.0')."""
    if isinstance(v, float) and v == int(v) and abs(v) < 1e21:
        v = int(v)
    text = json.dumps(v, separators=(",", ":"), ensure_ascii=False)
    for raw, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                     ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, esc)
    return text


# ---------------------------------------------------------------------------------------------
# Decoding raw bodies with Go's error texts
# ---------------------------------------------------------------------------------------------

class _GoSyntaxError(Exception):
    pass


_WS = b" \t\r\n"
_HEX = b"0123456789abcdefABCDEF"
_DIGITS = b"0123456789"


def _go_syntax_error(data):
    """Return the message Go's encoding/json gives for malformed ``data`` (bytes), or None.

    Mirrors the states of encoding/json/scanner.go so the texts match ("invalid character 'x'
    looking for beginning of value", "unexpected end of JSON input", ...). Iterative, so deep
    nesting cannot exhaust Python's recursion limit."""
    try:
        _scan_json(data)
    except _GoSyntaxError as e:
        return str(e)
    return None


def _scan_json(data):
    n = len(data)
    stack = []            # "o" / "a" for each open container
    state = "value"       # "value": a value must come; "key": an object key; "after": a value ended
    i = 0

    def fail(pos, context):
        if pos >= n:
            raise _GoSyntaxError("unexpected end of JSON input")
        raise _GoSyntaxError("invalid character %s %s" % (_go_quote_byte(data[pos]), context))

    def skip(pos):
        while pos < n and data[pos] in _WS:
            pos += 1
        return pos

    while True:
        i = skip(i)
        if state == "value":
            if i >= n:
                fail(i, "")
            c = data[i]
            if c == ord("{"):
                i = skip(i + 1)
                if i < n and data[i] == ord("}"):
                    i, state = i + 1, "after"
                else:
                    stack.append("o")
                    state = "key"
            elif c == ord("["):
                i = skip(i + 1)
                if i < n and data[i] == ord("]"):
                    i, state = i + 1, "after"
                else:
                    stack.append("a")
            elif c == ord('"'):
                i, state = _scan_string(data, i, fail), "after"
            elif c == ord("-") or c in _DIGITS:
                i, state = _scan_number(data, i, fail), "after"
            elif c in b"tfn":
                i, state = _scan_literal(data, i, fail), "after"
            else:
                fail(i, "looking for beginning of value")
        elif state == "key":
            if i >= n or data[i] != ord('"'):
                fail(i, "looking for beginning of object key string")
            i = skip(_scan_string(data, i, fail))
            if i >= n or data[i] != ord(":"):
                fail(i, "after object key")
            i, state = i + 1, "value"
        else:
            if not stack:
                if i < n:
                    fail(i, "after top-level value")
                return
            if i >= n:
                fail(i, "")
            c = data[i]
            if stack[-1] == "o":
                if c == ord(","):
                    i, state = i + 1, "key"
                elif c == ord("}"):
                    stack.pop()
                    i += 1
                else:
                    fail(i, "after object key:value pair")
            else:
                if c == ord(","):
                    i, state = i + 1, "value"
                elif c == ord("]"):
                    stack.pop()
                    i += 1
                else:
                    fail(i, "after array element")


def _scan_string(data, i, fail):
    n = len(data)
    i += 1
    while True:
        if i >= n:
            fail(i, "")
        c = data[i]
        if c == ord('"'):
            return i + 1
        if c == ord("\\"):
            i += 1
            if i >= n:
                fail(i, "")
            if data[i] == ord("u"):
                for _ in range(4):
                    i += 1
                    if i >= n or data[i] not in _HEX:
                        fail(i, "in \\u hexadecimal character escape")
            elif data[i] not in b'"\\/bfnrt':
                fail(i, "in string escape code")
        elif c < 0x20:
            fail(i, "in string literal")
        i += 1


def _scan_number(data, i, fail):
    n = len(data)

    def digits(pos):
        while pos < n and data[pos] in _DIGITS:
            pos += 1
        return pos

    if data[i] == ord("-"):
        i += 1
        if i >= n or data[i] not in _DIGITS:
            fail(i, "in numeric literal")
    i = i + 1 if data[i] == ord("0") else digits(i)
    if i < n and data[i] == ord("."):
        i += 1
        if i >= n or data[i] not in _DIGITS:
            fail(i, "after decimal point in numeric literal")
        i = digits(i)
    if i < n and data[i] in b"eE":
        i += 1
        if i < n and data[i] in b"+-":
            i += 1
        if i >= n or data[i] not in _DIGITS:
            fail(i, "in exponent of numeric literal")
        i = digits(i)
    return i


def _scan_literal(data, i, fail):
    word = {ord("t"): b"true", ord("f"): b"false", ord("n"): b"null"}[data[i]]
    for k in range(1, len(word)):
        if i + k >= len(data) or data[i + k] != word[k]:
            fail(i + k, "in literal %s (expecting %s)" % (word.decode(), _go_quote_byte(word[k])))
    return i + len(word)


def _go_loads(body):
    """Decode ``body`` (bytes or str) as Go would; raises _GoSyntaxError with Go's text."""
    data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    message = _go_syntax_error(data)
    if message:
        raise _GoSyntaxError(message)
    try:
        return json.loads(data.decode("utf-8", errors="replace"))
    except RecursionError:
        raise _GoSyntaxError("exceeded max depth")


_PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}


def _patch_kind(patch_type):
    kind = _PATCH_TYPES.get((patch_type or "").split(";")[0].strip(), patch_type)
    return kind


def decode_patch(body, patch_type):
    """Decode a raw PATCH body the way the apiserver does, with its exact error texts.

    patch_type: a Content-Type (``application/merge-patch+json``...) or one of "json", "merge",
    "strategic", "apply". The texts follow handlers/patch.go with the default fieldValidation
    (Warn since 1.25, which decodes the body strictly first):

    * json:      400 "error decoding patch: <Go json error>"; the body must be a list of
                 operation objects whose op/path/from are strings. ``null`` is an empty patch.
    * merge:     400 "error decoding patch: <Go json error>"; ``null`` -> 400 "Invalid JSON Patch".
    * strategic: 400 "<Go json error>" (no prefix: strategicPatchObject calls NewBadRequest(err)).
                 ``null`` is an empty patch.
    * apply:     kube-sim understands JSON apply bodies only; a non-object -> the real
                 "error decoding YAML: error unmarshaling JSON: ..." text.
    """
    kind = _patch_kind(patch_type)
    if kind not in ("json", "merge", "strategic", "apply"):
        raise ValueError("unknown patch type %r" % (patch_type,))
    try:
        value = _go_loads(body)
    except _GoSyntaxError as e:
        if kind == "strategic":
            raise _bad_request(str(e))
        if kind == "apply":
            # kube-sim's own wording: real YAML parsing is out of scope (stdlib only).
            raise _bad_request("error decoding YAML: error converting YAML to JSON: %s" % e)
        raise _bad_request("error decoding patch: %s" % e)
    if kind == "json":
        _check_json_patch_shape(value)
    elif kind == "merge":
        if value is None:
            raise _bad_request("Invalid JSON Patch")
        if not isinstance(value, dict):
            raise _bad_request("error decoding patch: json: cannot unmarshal %s into Go value of type "
                               "map[string]interface {}" % _json_kind(value))
    elif kind == "strategic":
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise _bad_request("json: cannot unmarshal %s into Go value of type map[string]interface {}"
                               % _json_kind(value))
    else:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise _bad_request("error decoding YAML: error unmarshaling JSON: while decoding JSON: json: "
                               "cannot unmarshal %s into Go value of type map[string]interface {}"
                               % _json_kind(value))
    return value


def _check_json_patch_shape(ops):
    """The strict decode into []handlers.jsonPatchOp the apiserver does before applying: the
    first type error in document order is reported."""
    if ops is None:
        return
    if not isinstance(ops, list):
        raise _bad_request("error decoding patch: json: cannot unmarshal %s into Go value of type "
                           "[]handlers.jsonPatchOp" % _json_kind(ops))
    for op in ops:
        if op is None:
            continue
        if not isinstance(op, dict):
            raise _bad_request("error decoding patch: json: cannot unmarshal %s into Go value of type "
                               "handlers.jsonPatchOp" % _json_kind(op))
        for field, value in op.items():
            if field in ("op", "path", "from") and value is not None and not isinstance(value, str):
                raise _bad_request("error decoding patch: json: cannot unmarshal %s into Go struct field "
                                   "jsonPatchOp.%s of type string" % (_json_kind(value), field))


# ---------------------------------------------------------------------------------------------
# JSON merge patch (RFC 7386), as evanphx/json-patch v4 MergePatch
# ---------------------------------------------------------------------------------------------

def merge_patch(target, patch):
    """Apply an RFC 7386 merge patch and return the result (inputs are not changed).

    ``patch`` is a decoded JSON value; bytes/bytearray are decoded first with ``decode_patch``
    (so a server passing the raw body gets the apiserver's 400s). A decoded non-object patch
    follows the RFC (it replaces the target); the apiserver itself refuses those bodies, which
    ``decode_patch`` reproduces.
    """
    if isinstance(patch, (bytes, bytearray)):
        patch = decode_patch(patch, "merge")
    patch = copy.deepcopy(patch)
    if not isinstance(patch, dict):
        return _prune_nulls(patch)
    if not isinstance(target, dict):
        return _prune_nulls(patch)
    doc = copy.deepcopy(target)
    _merge_docs(doc, patch)
    return doc


def _merge_docs(doc, patch):
    for key, value in patch.items():
        if value is None:
            doc.pop(key, None)
        elif doc.get(key) is None:
            # evanphx: a missing or null member takes the patch value with its nulls pruned
            doc[key] = _prune_nulls(value)
        else:
            doc[key] = _merge_value(doc[key], value)


def _merge_value(current, patch):
    if not isinstance(current, dict):
        return _prune_nulls(patch)
    if not isinstance(patch, dict):
        # evanphx returns a non-object patch value as is (nulls inside arrays survive here)
        return patch
    _merge_docs(current, patch)
    return current


def _prune_nulls(value):
    """evanphx pruneNulls: drop null members of objects, recursively; arrays keep their null
    elements but objects inside them are pruned."""
    if isinstance(value, dict):
        return {k: _prune_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_prune_nulls(v) if v is not None else None for v in value]
    return value


# ---------------------------------------------------------------------------------------------
# JSON patch (RFC 6902), as evanphx/json-patch v4 (gopkg.in/evanphx/json-patch.v4)
# ---------------------------------------------------------------------------------------------

_ABSENT = object()      # an operation without a "value" member (a nil lazyNode in evanphx)


class _OpError(Exception):
    """An evanphx error; its text is kept as PatchError.detail."""


def json_patch(target, ops):
    """Apply RFC 6902 operations and return the new document (inputs are not changed).

    Matches evanphx/json-patch v4 as the apiserver uses it, quirks included: ``replace`` of a
    missing object member adds it, ``-`` appends, negative array indices count from the end, a
    ``test`` against a missing member passes when the value is null. Any failed operation is
    the apiserver's 422 Invalid "the server rejected our request due to an error in our
    request" with ``details == {}``; the library's own message is in ``PatchError.detail``.
    Malformed patches (not a list of operation objects) are 400s, more than 10000 operations
    a 413.
    """
    if isinstance(ops, (bytes, bytearray)):
        ops = decode_patch(ops, "json")
    _check_json_patch_shape(ops)
    ops = ops or []
    if len(ops) > MAX_JSON_PATCH_OPERATIONS:
        raise PatchError(413, "RequestEntityTooLarge",
                         "Request entity too large: The allowed maximum operations in a JSON patch is "
                         "%d, got %d" % (MAX_JSON_PATCH_OPERATIONS, len(ops)))
    doc = [copy.deepcopy(target)]      # a box, so replace/test of the whole document work
    try:
        for op in ops:
            _apply_op(doc, op if isinstance(op, dict) else {})
    except _OpError as e:
        raise _generic_invalid(str(e))
    return doc[0]


def _apply_op(box, op):
    kind = op.get("op")
    handler = {"add": _op_add, "remove": _op_remove, "replace": _op_replace, "move": _op_move,
               "test": _op_test, "copy": _op_copy}.get(kind if isinstance(kind, str) else None)
    if handler is None:
        raise _OpError("Unexpected kind: %s" % (kind if isinstance(kind, str) else "unknown"))
    handler(box, op)


def _op_string(op, field):
    """Operation.Path()/From(): (text, error text)."""
    value = op.get(field)
    if value is None:
        what = "operation missing path field" if field == "path" else "operation, missing from field"
        return None, "%s: missing value" % what
    if not isinstance(value, str):
        return None, "json: cannot unmarshal %s into Go value of type string" % _json_kind(value)
    return value, None


def _op_value(op):
    return op["value"] if "value" in op else _ABSENT


def _decode_token(token):
    """RFC 6901 unescaping in one left-to-right pass (~01 is "~1", not "/")."""
    out, i = [], 0
    while i < len(token):
        if token[i] == "~" and i + 1 < len(token) and token[i + 1] in "01":
            out.append("/" if token[i + 1] == "1" else "~")
            i += 2
        else:
            out.append(token[i])
            i += 1
    return "".join(out)


def _atoi(text):
    """strconv.Atoi: (int, None) or (None, error text)."""
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body or not all(c in "0123456789" for c in body):
        return None, "strconv.Atoi: parsing %s: invalid syntax" % _go_quote(text)
    value = int(text)
    if not -(1 << 63) <= value < (1 << 63):
        return None, "strconv.Atoi: parsing %s: value out of range" % _go_quote(text)
    return value, None


def _find_object(doc, path):
    """findObject: the container holding the last token, and that token; (None, "") if the
    path does not lead to a container (evanphx ignores everything before the first "/")."""
    parts = path.split("/")
    if len(parts) < 2:
        return None, ""
    for part in parts[1:-1]:
        child, err = _con_get(doc, _decode_token(part))
        if err or child is None or not isinstance(child, (dict, list)):
            return None, ""
        doc = child
    return doc, _decode_token(parts[-1])


def _array_index(con, key, size):
    """Parse an array index the way partialArray.get/remove/set do (negatives from the end)."""
    idx, err = _atoi(key)
    if err:
        raise _OpError(err)
    if idx < 0:
        if idx < -size:
            raise _OpError("Unable to access invalid index: %d: invalid index referenced" % idx)
        idx += size
    return idx


def _con_get(con, key):
    """(value or None, error text or None). A missing object member is (None, None)."""
    if isinstance(con, dict):
        return con.get(key), None
    try:
        idx = _array_index(con, key, len(con))
    except _OpError as e:
        return None, str(e)
    if idx >= len(con):
        return None, "Unable to access invalid index: %d: invalid index referenced" % idx
    return con[idx], None


def _con_add(con, key, value):
    if isinstance(con, dict):
        con[key] = value
        return
    if key == "-":
        con.append(value)
        return
    idx, err = _atoi(key)
    if err:
        raise _OpError("value was not a proper array index: '%s': %s" % (key, err))
    size = len(con) + 1
    if idx >= size or idx < -size:
        raise _OpError("Unable to access invalid index: %d: invalid index referenced" % idx)
    if idx < 0:
        idx += size
    con.insert(idx, value)


def _con_remove(con, key):
    if isinstance(con, dict):
        if key not in con:
            raise _OpError("Unable to remove nonexistent key: %s: missing value" % key)
        del con[key]
        return
    idx, err = _atoi(key)
    if err:
        raise _OpError(err)
    if idx >= len(con):
        raise _OpError("Unable to access invalid index: %d: invalid index referenced" % idx)
    idx = _array_index(con, key, len(con))
    del con[idx]


def _con_set(con, key, value):
    if isinstance(con, dict):
        con[key] = value
    else:
        con[_array_index(con, key, len(con))] = value


def _op_add(box, op):
    path, err = _op_string(op, "path")
    if err:
        raise _OpError("add operation failed to decode path: missing value")
    con, key = _find_object(box[0], path)
    if con is None:
        raise _OpError('add operation does not apply: doc is missing path: "%s": missing value' % path)
    value = _op_value(op)
    try:
        _con_add(con, key, None if value is _ABSENT else copy.deepcopy(value))
    except _OpError as e:
        raise _OpError("error in add for path: '%s': %s" % (path, e))


def _op_remove(box, op):
    path, err = _op_string(op, "path")
    if err:
        raise _OpError("remove operation failed to decode path: missing value")
    con, key = _find_object(box[0], path)
    if con is None:
        raise _OpError('remove operation does not apply: doc is missing path: "%s": missing value' % path)
    try:
        _con_remove(con, key)
    except _OpError as e:
        raise _OpError("error in remove for path: '%s': %s" % (path, e))


def _op_replace(box, op):
    path, err = _op_string(op, "path")
    if err:
        raise _OpError("replace operation failed to decode path: %s" % err)
    value = _op_value(op)
    if path == "":
        if not isinstance(value, (dict, list)):
            raise _OpError("replace operation value must be object or array: %!w(<nil>)")
        box[0] = copy.deepcopy(value)
        return
    con, key = _find_object(box[0], path)
    if con is None:
        raise _OpError("replace operation does not apply: doc is missing path: %s: missing value" % path)
    # evanphx v4 only checks get() for an error: a missing *object member* is replaced (added),
    # a missing array index is an error.
    _, get_err = _con_get(con, key)
    if get_err:
        raise _OpError("replace operation does not apply: doc is missing key: %s: missing value" % path)
    try:
        _con_set(con, key, None if value is _ABSENT else copy.deepcopy(value))
    except _OpError as e:
        raise _OpError("error in remove for path: '%s': %s" % (path, e))


def _op_move(box, op):
    source, err = _op_string(op, "from")
    if err:
        raise _OpError("move operation failed to decode from: %s" % err)
    con, key = _find_object(box[0], source)
    if con is None:
        raise _OpError("move operation does not apply: doc is missing from path: %s: missing value" % source)
    value, get_err = _con_get(con, key)
    if get_err:
        raise _OpError("error in move for path: '%s': %s" % (key, get_err))
    try:
        _con_remove(con, key)
    except _OpError as e:
        raise _OpError("error in move for path: '%s': %s" % (key, e))
    path, err = _op_string(op, "path")
    if err:
        raise _OpError("move operation failed to decode path: %s" % err)
    con, key = _find_object(box[0], path)
    if con is None:
        raise _OpError("move operation does not apply: doc is missing destination path: %s: missing value"
                       % path)
    try:
        _con_add(con, key, value)
    except _OpError as e:
        raise _OpError("error in move for path: '%s': %s" % (path, e))


def _op_test(box, op):
    path, err = _op_string(op, "path")
    if err:
        raise _OpError("test operation failed to decode path: %s" % err)
    expected = _op_value(op)
    if path == "":
        if expected is _ABSENT or not _lazy_equal(box[0], expected):
            raise _OpError("testing value %s failed: test failed" % path)
        return
    con, key = _find_object(box[0], path)
    if con is None:
        raise _OpError("test operation does not apply: is missing path: %s: missing value" % path)
    actual, get_err = _con_get(con, key)
    if get_err:
        raise _OpError("error in test for path: '%s': %s" % (path, get_err))
    if actual is None:
        # a missing member and a null member are the same nil node to evanphx
        if expected is _ABSENT or expected is None:
            return
        raise _OpError("testing value %s failed: test failed" % path)
    if expected is _ABSENT or not _lazy_equal(actual, expected):
        raise _OpError("testing value %s failed: test failed" % path)


def _op_copy(box, op):
    source, err = _op_string(op, "from")
    if err:
        raise _OpError("copy operation failed to decode from: %s" % err)
    con, key = _find_object(box[0], source)
    if con is None:
        raise _OpError("copy operation does not apply: doc is missing from path: %s: missing value" % source)
    value, get_err = _con_get(con, key)
    if get_err:
        raise _OpError("error in copy for from: '%s': %s" % (source, get_err))
    path, err = _op_string(op, "path")
    if err:
        raise _OpError("copy operation failed to decode path: missing value")
    con, key = _find_object(box[0], path)
    if con is None:
        raise _OpError("copy operation does not apply: doc is missing destination path: %s: missing value"
                       % path)
    try:
        # evanphx deep-copies a nil node to nil: copying a missing member writes null
        _con_add(con, key, copy.deepcopy(value))
    except _OpError as e:
        raise _OpError("error while adding value during copy: %s" % e)


def _lazy_equal(actual, expected):
    """lazyNode.equal: structural for objects and arrays, byte-wise on the JSON text for
    scalars (so 1 and 1.0 differ, as do true and 1)."""
    if expected is None or actual is None:
        return actual is None and expected is None
    if isinstance(actual, dict) or isinstance(expected, dict):
        if not (isinstance(actual, dict) and isinstance(expected, dict)) or len(actual) != len(expected):
            return False
        return all(k in expected and _lazy_equal(v, expected[k]) for k, v in actual.items())
    if isinstance(actual, list) or isinstance(expected, list):
        if not (isinstance(actual, list) and isinstance(expected, list)) or len(actual) != len(expected):
            return False
        return all(_lazy_equal(a, b) for a, b in zip(actual, expected))
    return _go_type(actual) == _go_type(expected) and actual == expected


# ---------------------------------------------------------------------------------------------
# Schema table: patchStrategy / patchMergeKey (strategic merge) and list types (apply)
# ---------------------------------------------------------------------------------------------

class _Node:
    """What the Go struct tags and OpenAPI extensions say about one field.

    Only fields with non-default behaviour are listed; anything else merges as a map (objects)
    or is replaced whole (lists), which is also what a missing schema means.

    fields      child nodes by JSON field name
    elem        node for the items of a list
    merge       SMP patchStrategy "merge" (lists)
    key         SMP patchMergeKey (None: a merging list of primitives)
    ssa         structured-merge-diff list type: "map", "set" or "atomic" (derived when None)
    ssa_keys    [(field, default)] list-map keys for apply (defaults as in the OpenAPI schema)
    atomic_map  x-kubernetes-map-type/structType atomic: apply owns it as one leaf
    """

    def __init__(self, fields=None, elem=None, merge=False, key=None, ssa=None, ssa_keys=None,
                 atomic_map=False):
        self.fields = fields or {}
        self.elem = elem
        self.merge = merge
        self.key = key
        if ssa is None:
            ssa = ("map" if key else "set") if merge else "atomic"
        self.ssa = ssa
        self.ssa_keys = sorted(ssa_keys or ([(key, None)] if key else []))
        self.atomic_map = atomic_map


def _obj(**fields):
    return _Node(fields=fields)


def _keyed(key, elem=None, ssa=None, ssa_keys=None):
    """A list of objects merged by ``key`` (patchStrategy:"merge" patchMergeKey:key)."""
    return _Node(elem=elem, merge=True, key=key, ssa=ssa, ssa_keys=ssa_keys)


def _primitive_set():
    """A merging list of scalars (patchStrategy:"merge", +listType=set)."""
    return _Node(merge=True)


def _child(node, name):
    return node.fields.get(name) if node is not None else None


_ATOMIC_MAP = _Node(atomic_map=True)
# ObjectMeta: finalizers patchStrategy=merge; ownerReferences merge key uid.
_META = _obj(finalizers=_primitive_set(), ownerReferences=_keyed("uid"))
_CONTAINER = _obj(
    # ports: SMP merges by containerPort; SSA keys are containerPort+protocol (protocol defaults TCP)
    ports=_keyed("containerPort", ssa_keys=[("containerPort", None), ("protocol", "TCP")]),
    env=_keyed("name"),
    volumeMounts=_keyed("mountPath"),
    volumeDevices=_keyed("devicePath"),
)
_POD_SPEC = _obj(
    volumes=_keyed("name"),                       # patchStrategy "merge,retainKeys"
    initContainers=_keyed("name", _CONTAINER),
    containers=_keyed("name", _CONTAINER),
    ephemeralContainers=_keyed("name", _CONTAINER),
    imagePullSecrets=_keyed("name"),
    hostAliases=_keyed("ip"),
    topologySpreadConstraints=_keyed("topologyKey", ssa_keys=[("topologyKey", None),
                                                               ("whenUnsatisfiable", None)]),
    resourceClaims=_keyed("name"),
    schedulingGates=_keyed("name"),
    nodeSelector=_ATOMIC_MAP,                     # +mapType=atomic
    # tolerations, readinessGates, args, command...: no patchStrategy -> atomic
)
_POD_TEMPLATE = _obj(metadata=_META, spec=_POD_SPEC)
_CONDITIONS = _keyed("type")
_LABEL_SELECTOR = _ATOMIC_MAP                     # metav1.LabelSelector: +structType=atomic


def _root(**fields):
    return _obj(metadata=_META, **fields)


_WORKLOAD = _root(spec=_obj(selector=_LABEL_SELECTOR, template=_POD_TEMPLATE),
                  status=_obj(conditions=_CONDITIONS))
_SCHEMAS = {
    ("", "Pod"): _root(spec=_POD_SPEC, status=_obj(conditions=_CONDITIONS, podIPs=_keyed("ip"),
                                                   hostIPs=_keyed("ip"), resourceClaimStatuses=_keyed("name"))),
    ("", "Namespace"): _root(status=_obj(conditions=_CONDITIONS)),
    ("", "Service"): _root(spec=_obj(ports=_keyed("port", ssa_keys=[("port", None), ("protocol", "TCP")]),
                                     selector=_ATOMIC_MAP),
                           status=_obj(conditions=_CONDITIONS)),
    # NodeStatus.addresses keeps SMP merge-by-type but is +listType=atomic for apply
    ("", "Node"): _root(spec=_obj(podCIDRs=_primitive_set()),
                        status=_obj(conditions=_CONDITIONS, addresses=_keyed("type", ssa="atomic"))),
    ("", "ServiceAccount"): _root(secrets=_keyed("name")),
    ("apps", "Deployment"): _WORKLOAD,
    ("apps", "StatefulSet"): _WORKLOAD,
    # JobStatus.conditions: patchMergeKey type for SMP, +listType=atomic for apply.
    # spec.podFailurePolicy / successPolicy are structs whose rule lists are atomic (default).
    ("batch", "Job"): _root(spec=_obj(selector=_LABEL_SELECTOR, template=_POD_TEMPLATE),
                            status=_obj(conditions=_keyed("type", ssa="atomic"))),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): _root(webhooks=_keyed("name")),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): _root(webhooks=_keyed("name")),
    # ConfigMap, Secret, Event, Endpoints, ResourceQuota, Lease, RBAC kinds: only metadata has
    # merging lists (Endpoints subsets, RBAC rules/subjects, quota scopes are atomic).
}
_DEFAULT_ROOT = _root()

# Kinds whose status is a subresource: writes to the main resource do not own status fields.
_STATUS_SUBRESOURCE = {("", "Pod"), ("", "Namespace"), ("", "Service"), ("", "Node"), ("", "ResourceQuota"),
                       ("apps", "Deployment"), ("apps", "StatefulSet"), ("batch", "Job"),
                       ("apiextensions.k8s.io", "CustomResourceDefinition")}

# The Go zero value of each typed object, as far as it has non-omitempty containers. The real
# create path compares against ``New()``, so these containers are not "added" by a create and
# get no "." in fieldsV1 (kubectl-created Deployments show f:spec without ".", CRs with it).
_TEMPLATE_ZERO = {"metadata": {}, "spec": {"containers": None}}
_ZERO = {
    ("", "Pod"): {"spec": {"containers": None}, "status": {}},
    ("", "Namespace"): {"spec": {}, "status": {}},
    ("", "Service"): {"spec": {}, "status": {"loadBalancer": {}}},
    ("", "Node"): {"spec": {}, "status": {"daemonEndpoints": {"kubeletEndpoint": {}}, "nodeInfo": {}}},
    ("", "ResourceQuota"): {"spec": {}, "status": {}},
    ("", "Event"): {"involvedObject": {}, "source": {}},
    ("apps", "Deployment"): {"spec": {"selector": None, "template": _TEMPLATE_ZERO, "strategy": {}},
                             "status": {}},
    ("apps", "StatefulSet"): {"spec": {"selector": None, "template": _TEMPLATE_ZERO, "updateStrategy": {}},
                              "status": {}},
    ("batch", "Job"): {"spec": {"template": _TEMPLATE_ZERO}, "status": {}},
    ("coordination.k8s.io", "Lease"): {"spec": {}},
    ("rbac.authorization.k8s.io", "RoleBinding"): {"roleRef": {}},
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): {"roleRef": {}},
}


def _split_type_key(type_key):
    """"group/version/Kind" -> (group, version, kind); anything else -> ("", "", "")."""
    parts = (type_key or "").split("/")
    if len(parts) != 3:
        return "", "", ""
    return parts[0], parts[1], parts[2]


def _schema(type_key):
    group, _, kind = _split_type_key(type_key)
    return _SCHEMAS.get((group, kind), _DEFAULT_ROOT)


# ---------------------------------------------------------------------------------------------
# Strategic merge patch: a port of strategicpatch.StrategicMergeMapPatch (server side:
# MergeParallelList and IgnoreUnmatchedNulls are both true)
# ---------------------------------------------------------------------------------------------

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_DELETE_PREFIX = "$deleteFromPrimitiveList"
_ORDER_PREFIX = "$setElementOrder"


class _SmpError(Exception):
    """An error of the strategicpatch package and how interpretStrategicMergePatchError maps it."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code

    def to_patch_error(self):
        if self.code == 400:
            return _bad_request(str(self))
        if self.code == 422:
            return _generic_invalid(str(self))
        return _internal(str(self))


def _err_bad_retain_keys():
    return _SmpError(400, "invalid patch format of retainKeys")


def _err_no_merge_key(item, key):
    return _SmpError(500, "map: %s does not contain declared merge key: %s" % (_go_v(item), key))


def _err_bad_arg_type(expected, actual):
    got = _go_type(actual)
    return _SmpError(500, "expected a %s, but received a %s" % (expected, got if got else "%!s(<nil>)"))


def strategic_merge_patch(target, patch, type_key):
    """Apply a strategic merge patch as the apiserver does; returns the new object.

    type_key is "group/version/Kind" ("" group for core). Lists listed in the built-in table
    merge by their patchMergeKey (or as sets of scalars); every other list is replaced; maps
    merge; null deletes. Directives: ``$patch`` (replace/delete in maps, replace/delete in list
    items; ``merge`` is refused as the real server refuses it), ``$retainKeys``,
    ``$setElementOrder/<field>``, ``$deleteFromPrimitiveList/<field>``.

    Errors follow interpretStrategicMergePatchError: malformed directives 400, lists of lists
    422 (generic text), everything else the package reports 500 with its own text. bytes are
    decoded with ``decode_patch`` first.
    """
    if isinstance(patch, (bytes, bytearray)):
        patch = decode_patch(patch, "strategic")
    if patch is None:
        patch = {}
    if not isinstance(patch, dict):
        raise _bad_request("json: cannot unmarshal %s into Go value of type map[string]interface {}"
                           % _json_kind(patch))
    original = copy.deepcopy(target) if isinstance(target, dict) else {}
    try:
        return _smp_map(original, copy.deepcopy(patch), _schema(type_key))
    except _SmpError as e:
        raise e.to_patch_error()


def _is_directive_key(key):
    return (key in (_DIRECTIVE, _RETAIN_KEYS) or key.startswith(_ORDER_PREFIX + "/")
            or key.startswith(_DELETE_PREFIX + "/"))


def _clean_inserted(value):
    """A patch value taken over whole. The real server stores it raw and then decodes it into
    the Go type, which drops directive keys and null members; do the same here."""
    if isinstance(value, dict):
        return {k: _clean_inserted(v) for k, v in value.items() if v is not None and not _is_directive_key(k)}
    if isinstance(value, list):
        return [_clean_inserted(v) for v in value]
    return value


def _smp_map(original, patch, node):
    """mergeMap: merge ``patch`` into ``original`` (both owned by the caller)."""
    if _DIRECTIVE in patch:
        return _smp_map_directive(patch[_DIRECTIVE], patch)
    if original is None:
        original = {}
    _smp_retain_keys(original, patch)
    _smp_set_element_order(original, patch, node)
    for key in list(patch):
        value = patch[key]
        delete_list = key.startswith(_DELETE_PREFIX)
        if delete_list:
            key = _smp_extract_key(key, _DELETE_PREFIX)
        if value is None:
            original.pop(key, None)
            continue
        if key not in original:
            # The real server would store a deletion list for an absent list as the list
            # itself; kube-sim ignores it instead of inventing elements.
            if not delete_list:
                original[key] = _clean_inserted(value)
            continue
        current = original[key]
        if _go_type(current) != _go_type(value):
            original[key] = _clean_inserted(value)
        elif isinstance(current, dict):
            original[key] = _smp_map(current, value, _child(node, key))
        elif isinstance(current, list):
            original[key] = _smp_list_field(current, value, _child(node, key), delete_list)
        else:
            original[key] = value
    return original


def _smp_map_directive(directive, patch):
    """handleDirectiveInMergeMap: "$patch" inside a map."""
    if directive == "replace":
        del patch[_DIRECTIVE]
        return _clean_inserted(patch)
    if directive == "delete":
        return {}
    raise _SmpError(500, "unknown patch type: %s in map: %s" % (_go_v(directive), _go_v(patch)))


def _smp_extract_key(key, prefix):
    parts = key.split("/", 1)
    if len(parts) <= 1 or parts[0] != prefix:
        if prefix == _DELETE_PREFIX:
            raise _SmpError(400, "invalid patch format of primitive list")
        raise _SmpError(400, "invalid patch format of setElementOrder list")
    return parts[1]


def _smp_retain_keys(original, patch):
    """applyRetainKeysDirective: clear members of original missing from $retainKeys."""
    if _RETAIN_KEYS not in patch:
        return
    retain = patch.pop(_RETAIN_KEYS)
    if not isinstance(retain, list):
        raise _err_bad_retain_keys()
    for key, value in patch.items():
        if value is None or key.startswith(_DELETE_PREFIX) or key.startswith(_ORDER_PREFIX):
            continue
        if not any(_go_eq(key, r) for r in retain):
            raise _err_bad_retain_keys()
    for key in list(original):
        if not any(_go_eq(key, r) for r in retain):
            del original[key]


def _smp_set_element_order(original, patch, node):
    """mergePatchIntoOriginal: merge each list that has a $setElementOrder, then order it
    ($setElementOrder first, then the patch order, then the live order)."""
    for pkey in list(patch):
        if not pkey.startswith(_ORDER_PREFIX):
            continue
        order = patch.pop(pkey)
        if not isinstance(order, list):
            raise _err_bad_arg_type("[]interface {}", order)
        field = _smp_extract_key(pkey, _ORDER_PREFIX)
        found_original, found_patch = field in original, field in patch
        original_list, patch_list = original.get(field), patch.get(field)
        if found_original and not isinstance(original_list, list):
            raise _err_bad_arg_type("[]interface {}", original_list)
        if found_patch and not isinstance(patch_list, list):
            raise _err_bad_arg_type("[]interface {}", patch_list)
        original_list = original_list if found_original else []
        patch_list = patch_list if found_patch else []
        child = _child(node, field)
        key = (child.key or "") if child is not None and child.merge else ""
        _smp_validate_order(patch_list, order, key)
        if found_original and not found_patch:
            merged = original_list
        elif found_patch and not found_original:
            merged = _clean_inserted(patch_list)
        elif found_original and found_patch:
            merged = _smp_list_field(original_list, patch_list, child, False)
        else:
            continue
        if key:
            patch_items, server_only = _partition_maps(merged, order, key)
        else:
            patch_items, server_only = _partition_primitives(merged, order)
        kind = _slice_element_kind(original_list, patch_list)
        original[field] = _normalize_order(patch_items, server_only, order, original_list, key, kind)
        patch.pop(field, None)


def _smp_validate_order(patch_list, order, key):
    """validatePatchWithSetOrderList: the patch list must follow the $setElementOrder list."""
    if not order or not patch_list:
        return
    items = _split_deletes(patch_list)[0] if key else patch_list
    pi = oi = 0
    while pi < len(items) and oi < len(order):
        if isinstance(items[pi], dict) and _DIRECTIVE in items[pi]:
            pi += 1
            continue
        if _merge_key_equal(items[pi], order[oi], key):
            pi += 1
        oi += 1
    if pi < len(items) and oi >= len(order):
        raise _SmpError(500, "The order in patch list:\n%s\n doesn't match %s list:\n%s\n"
                        % (_go_v(patch_list), _ORDER_PREFIX, _go_v(order)))


def _merge_key_equal(left, right, key):
    if not key:
        return _go_eq(left, right)
    for item in (left, right):
        if not isinstance(item, dict):
            raise _err_bad_arg_type("map[string]interface {}", item)
        if key not in item:
            raise _err_no_merge_key(item, key)
    return _go_eq(left[key], right[key])


def _smp_list_field(original, patch, node, delete_list):
    """mergeSliceHandler: merge when the field's strategy says so, else take the patch list."""
    if node is not None and node.merge:
        return _smp_merge_slice(original, patch, node.elem, node.key or "", delete_list)
    return _clean_inserted(patch)


def _slice_element_kind(*lists):
    """sliceElementType: "map", or the Go scalar type; all elements must share it."""
    seen = None
    for lst in lists:
        for item in lst:
            kind = "map" if isinstance(item, dict) else _go_type(item)
            if seen is None:
                if isinstance(item, list):
                    raise _SmpError(422, "lists of lists are not supported")
                seen = kind
            elif seen != kind:
                raise _SmpError(500, "list element types are not identical: %s" % _go_v(list(lists)))
    if seen is None:
        raise _SmpError(500, "no elements in any of the given slices")
    return seen


def _smp_merge_slice(original, patch, elem, key, delete_list):
    """mergeSlice."""
    if not original and not patch:
        return original
    kind = _slice_element_kind(original, patch)
    if kind != "map":
        if delete_list:
            return [v for v in original if not any(_go_eq(v, d) for d in patch)]
        merged = _dedup_scalars(original + patch)
    else:
        if not key:
            raise _SmpError(500, "cannot merge lists without merge key for type string")
        original, patch = _smp_special_elements(original, patch, key)
        merged = _smp_merge_by_key(original, patch, key, elem)
    if key:
        patch_items, server_only = _partition_maps(merged, patch, key)
    else:
        patch_items, server_only = _partition_primitives(merged, patch)
    return _normalize_order(patch_items, server_only, patch, original, key, kind)


def _dedup_scalars(items):
    """deduplicateScalars, including its habit of moving the last element into a duplicate's
    slot (the order is normalised afterwards anyway)."""
    s = list(items)
    length = len(s) - 1
    i = 0
    while i < length:
        j = i + 1
        while j <= length:
            if _go_eq(s[i], s[j]):
                s[j] = s[length]
                s = s[:length]
                length -= 1
                j -= 1
            j += 1
        i += 1
    return s


def _smp_special_elements(original, patch, key):
    """mergeSliceWithSpecialElements: apply "$patch" items of a list of maps."""
    rest, replace = [], False
    for item in patch:
        if _DIRECTIVE not in item:
            rest.append(item)
            continue
        directive = item[_DIRECTIVE]
        if directive == "delete":
            if key not in item:
                raise _err_no_merge_key(item, key)
            # deleteMatchingEntries: every entry with that merge key value goes
            index = _find_by_key(original, key, item[key])
            while index is not None:
                original = original[:index] + original[index + 1:]
                index = _find_by_key(original, key, item[key])
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise _SmpError(500, "merging lists cannot yet be specified in the patch")
        else:
            raise _SmpError(500, "unknown patch type: %s in map: %s" % (_go_v(directive), _go_v(item)))
    if replace:
        return [_clean_inserted(v) for v in rest], []
    return original, rest


def _find_by_key(items, key, value):
    """findMapInSliceBasedOnKeyValue: index of the first map whose key equals value."""
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise _SmpError(500, "value for key %d is not a map." % i)
        if key in item and _go_eq(item[key], value):
            return i
    return None


def _smp_merge_by_key(original, patch, key, elem):
    """mergeSliceWithoutSpecialElements: merge matching maps, append new ones."""
    merged = list(original)      # original keeps its length: it is the "live order" later
    for item in patch:
        if key not in item:
            raise _err_no_merge_key(item, key)
        idx = _find_by_key(merged, key, item[key])
        if idx is None:
            merged.append(_smp_map({}, item, elem))
        else:
            merged[idx] = _smp_map(merged[idx], item, elem)
    return merged


def _partition_primitives(items, present):
    patch_items, server_only = [], []
    for item in items:
        (patch_items if any(_go_eq(item, p) for p in present) else server_only).append(item)
    return patch_items, server_only


def _partition_maps(items, present, key):
    patch_items, server_only = [], []
    for item in items:
        if not isinstance(item, dict):
            raise _err_bad_arg_type("map[string]interface {}", item)
        if key not in item:
            raise _err_no_merge_key(item, key)
        found = _find_by_key(present, key, item[key]) is not None
        (patch_items if found else server_only).append(item)
    return patch_items, server_only


def _split_deletes(items):
    """extractToDeleteItems."""
    keep, delete = [], []
    for item in items:
        if not isinstance(item, dict):
            raise _err_bad_arg_type("map[string]interface {}", item)
        (delete if item.get(_DIRECTIVE) == "delete" else keep).append(item)
    return keep, delete


def _order_index(order, value, key, kind):
    """index(): position of value in order (by merge key for maps), -1 if absent."""
    def probe(item):
        if kind == "map":
            return item.get(key) if isinstance(item, dict) else None
        return item
    wanted = probe(value)
    for i, item in enumerate(order):
        if _go_eq(probe(item), wanted):
            return i
    return -1


def _normalize_order(patch_items, server_only, patch_order, server_order, key, kind):
    """normalizeElementOrder: sort both groups, then interleave them."""
    patch_items = _normalize_slice_order(patch_items, patch_order, key, kind)
    server_only = _normalize_slice_order(server_only, server_order, key, kind)
    return _merge_sorted(server_only, patch_items, server_order, key, kind)


def _normalize_slice_order(items, order, key, kind):
    to_delete = []
    if kind == "map":
        for item in list(items) + list(order):
            if not isinstance(item, dict):
                raise _err_bad_arg_type("map[string]interface {}", item)
            if key not in item:
                raise _err_no_merge_key(item, key)
        items, to_delete = _split_deletes(items)
    # Go sorts stably by the position in ``order``; every item is in it in practice.
    positions = [_order_index(order, item, key, kind) for item in items]
    ranked = sorted(range(len(items)), key=lambda i: positions[i] if positions[i] >= 0 else len(order))
    return [items[i] for i in ranked] + to_delete


def _merge_sorted(left, right, server_order, key, kind):
    """mergeSortedSlice: insert server-only items (left) among patch items (right), keeping
    both relative orders; a left item goes first only when both are in the live order and it
    came first there. So, without $setElementOrder, new items land in front."""
    out, i, j = [], 0, 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            out.append(right[j])
            j += 1
        elif j >= len(right):
            out.append(left[i])
            i += 1
        else:
            li = _order_index(server_order, left[i], key, kind)
            ri = _order_index(server_order, right[j], key, kind)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


# ---------------------------------------------------------------------------------------------
# Field sets (structured-merge-diff's fieldpath.Set) and their FieldsV1 encoding
# ---------------------------------------------------------------------------------------------
#
# A path is a tuple of path-element strings in the FieldsV1 encoding:
#   "f:<field>"  a field,  "k:{json}"  a list-map item by its keys (sorted by name),
#   "v:<json>"   a set item,  "i:<n>"  a list index.

# stripMetaManager: never tracked.
_STRIPPED = {("f:apiVersion",), ("f:kind",), ("f:metadata",)} | {
    ("f:metadata", "f:" + name) for name in ("name", "namespace", "creationTimestamp", "selfLink", "uid",
                                             "clusterName", "generation", "managedFields", "resourceVersion")}

_PE_RANK = {"f": 0, "k": 1, "v": 2, "i": 3}


def _pe_sort_key(pe):
    rank = _PE_RANK.get(pe[:1], 4)
    if rank == 3:
        return (rank, int(pe[2:]), "")
    return (rank, 0, pe[2:])


def _path_sort_key(path):
    return [_pe_sort_key(pe) for pe in path]


def _smd_string(value):
    """value.ToString: how a key value prints in a conflict path."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _go_quote(value)
    if isinstance(value, float):
        return _go_float(value)
    return str(value)


def _path_string(path):
    """fieldpath.Path.String(): .spec.containers[name="app"].image"""
    out = []
    for pe in path:
        tag, body = pe[:1], pe[2:]
        if tag == "f":
            out.append("." + body)
        elif tag == "k":
            fields = json.loads(body)
            out.append("[" + ",".join("%s=%s" % (k, _smd_string(v)) for k, v in fields.items()) + "]")
        elif tag == "v":
            out.append("[=%s]" % _smd_string(json.loads(body)))
        else:
            out.append("[%s]" % body)
    return "".join(out)


def _set_from_fields(tree, prefix=()):
    """FieldsV1 -> set of paths. A node is a member when it has "." or no children."""
    out = set()
    if not isinstance(tree, dict):
        return out
    for pe, sub in tree.items():
        if pe == ".":
            continue
        path = prefix + (pe,)
        if not isinstance(sub, dict) or not sub or "." in sub:
            out.add(path)
        out |= _set_from_fields(sub, path)
    return out


def _fields_from_set(paths):
    """Set of paths -> FieldsV1, "." first and children in structured-merge-diff order."""
    root = {}
    members = set(paths)
    for path in members:
        node = root
        for pe in path:
            node = node.setdefault(pe, {})

    def emit(node, prefix):
        out = {}
        if prefix in members and node:
            out["."] = {}
        for pe in sorted(node, key=_pe_sort_key):
            out[pe] = emit(node[pe], prefix + (pe,))
        return out

    return emit(root, ())


def _list_items(items, node):
    """[(path element, item)] for a granular list, or None when apply treats it as atomic
    (unknown schema, +listType=atomic, or items that do not fit the list type)."""
    if node is None or node.ssa == "atomic" or not isinstance(items, list):
        return None
    out = []
    if node.ssa == "set":
        for item in items:
            if isinstance(item, (dict, list)):
                return None
            out.append(("v:" + _go_json(item), item))
        return out
    for item in items:
        if not isinstance(item, dict):
            return None
        keys = {}
        for name, default in node.ssa_keys:
            if item.get(name) is not None:
                keys[name] = item[name]
            elif default is not None:
                keys[name] = default
            else:
                return None
        out.append(("k:" + _go_json(keys), item))
    return out


def _config_fields(value, node, path, out):
    """TypedValue.ToFieldSet for an applied configuration: leaves, list items, empty maps and
    atomic lists/maps; maps of struct fields are not members themselves."""
    if isinstance(value, dict):
        if path and node is not None and node.atomic_map:
            out.add(path)
            return
        if not value and path:
            out.add(path)
        for key, child in value.items():
            _config_fields(child, _child(node, key), path + ("f:" + key,), out)
        return
    if isinstance(value, list):
        items = _list_items(value, node)
        if items is None:
            out.add(path)
            return
        for pe, item in items:
            _config_fields(item, node.elem, path + (pe,), out)
            out.add(path + (pe,))
        return
    out.add(path)


def _all_nodes(value, node, path, out):
    """Every node of a subtree, the subtree root included: what an added or removed subtree
    contributes to a comparison."""
    if path:
        out.add(path)
    if isinstance(value, dict) and not (path and node is not None and node.atomic_map):
        for key, child in value.items():
            _all_nodes(child, _child(node, key), path + ("f:" + key,), out)
    elif isinstance(value, list):
        for pe, item in _list_items(value, node) or []:
            _all_nodes(item, node.elem, path + (pe,), out)


_MISSING = object()


class _Comparison:
    def __init__(self):
        self.added, self.removed, self.modified = set(), set(), set()


def _compare(lhs, rhs, node, path, cmp):
    """TypedValue.Compare: what changed from lhs to rhs, per node."""
    if lhs is _MISSING and rhs is _MISSING:
        return
    if lhs is _MISSING:
        _all_nodes(rhs, node, path, cmp.added)
        return
    if rhs is _MISSING:
        _all_nodes(lhs, node, path, cmp.removed)
        return
    # A null container compares as an empty one: the container itself is neither added nor
    # removed (the zero Pod's "containers": null is why f:containers never carries ".").
    if lhs is None and isinstance(rhs, (dict, list)):
        lhs = type(rhs)()
    elif rhs is None and isinstance(lhs, (dict, list)):
        rhs = type(lhs)()
    atomic = bool(path) and node is not None and node.atomic_map
    if isinstance(lhs, dict) and isinstance(rhs, dict) and not atomic:
        for key in list(lhs) + [k for k in rhs if k not in lhs]:
            _compare(lhs.get(key, _MISSING), rhs.get(key, _MISSING), _child(node, key),
                     path + ("f:" + key,), cmp)
        return
    if isinstance(lhs, list) and isinstance(rhs, list):
        left, right = _list_items(lhs, node), _list_items(rhs, node)
        if left is not None and right is not None:
            lmap, rmap = {}, {}
            for pe, item in left:
                lmap.setdefault(pe, item)
            for pe, item in right:
                rmap.setdefault(pe, item)
            for pe in list(lmap) + [p for p in rmap if p not in lmap]:
                _compare(lmap.get(pe, _MISSING), rmap.get(pe, _MISSING), node.elem, path + (pe,), cmp)
            return
    if path and not _json_equal(lhs, rhs):
        cmp.modified.add(path)


# ---------------------------------------------------------------------------------------------
# managedFields entries
# ---------------------------------------------------------------------------------------------

class _Entry:
    def __init__(self, manager, operation, api_version, time, subresource, fields):
        self.manager = manager
        self.operation = operation
        self.api_version = api_version
        self.time = time
        self.subresource = subresource or None
        self.fields = set(fields)

    def identifier(self):
        """BuildManagerIdentifier: appliers are one entry whatever apiVersion they use."""
        ident = {"manager": self.manager, "operation": self.operation}
        if self.operation != "Apply":
            ident["apiVersion"] = self.api_version
        if self.subresource:
            ident["subresource"] = self.subresource
        return json.dumps(ident, separators=(",", ":"))

    def printed(self):
        """printManager in conflict messages."""
        text = _go_quote(self.manager)
        if self.subresource:
            text += " with subresource %s" % _go_quote(self.subresource)
        if self.operation == "Update":
            text += " using %s" % self.api_version
        return text

    def encode(self):
        entry = {"manager": self.manager, "operation": self.operation, "apiVersion": self.api_version}
        if self.time:
            entry["time"] = self.time
        entry["fieldsType"] = "FieldsV1"
        entry["fieldsV1"] = _fields_from_set(self.fields)
        if self.subresource:
            entry["subresource"] = self.subresource
        return entry


def _identifier(manager, operation, api_version, subresource):
    return _Entry(manager, operation, api_version, None, subresource, ()).identifier()


def _decode_entries(managed_fields):
    """managedFields -> {identifier: _Entry}; entries that do not decode are skipped."""
    entries = {}
    for raw in managed_fields or []:
        if not isinstance(raw, dict) or raw.get("fieldsType", "FieldsV1") != "FieldsV1":
            continue
        if not raw.get("manager") and not raw.get("operation"):
            continue
        entry = _Entry(raw.get("manager", ""), raw.get("operation", ""), raw.get("apiVersion", ""),
                       raw.get("time"), raw.get("subresource"), _set_from_fields(raw.get("fieldsV1") or {}))
        ident = entry.identifier()
        if ident in entries:
            entries[ident].fields |= entry.fields
        else:
            entries[ident] = entry
    return entries


def _time_seconds(text):
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").timestamp()
    except (TypeError, ValueError):
        return 0


def _encode_entries(entries):
    """Entries with fields, sorted as sortEncodedManagedFields does: operation (Apply before
    Update), time, manager, apiVersion, subresource."""
    alive = [e for e in entries.values() if e.fields]
    alive.sort(key=lambda e: (e.operation, _time_seconds(e.time), e.manager, e.api_version, e.subresource or ""))
    return [e.encode() for e in alive]


def _without_managed_fields(obj):
    obj = copy.deepcopy(obj) if isinstance(obj, dict) else {}
    if isinstance(obj.get("metadata"), dict):
        obj["metadata"].pop("managedFields", None)
    return obj


def _type_of(obj, api_version):
    """"group/version/Kind" of an object (its own apiVersion first)."""
    obj = obj if isinstance(obj, dict) else {}
    group, version = _split_api_version(obj.get("apiVersion") or api_version)
    return "%s/%s/%s" % (group, version, obj.get("kind") or "")


def _split_api_version(api_version):
    """schema.ParseGroupVersion; an unparsable value is the empty GroupVersion."""
    if not api_version or not isinstance(api_version, str):
        return "", ""
    parts = api_version.split("/")
    if len(parts) == 1:
        return "", parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    return "", ""


def _tracked_filter(type_key, subresource, status_subresource):
    """The reset-fields filter: which top-level fields a write may own.

    Main-resource writes of kinds with a status subresource do not own status; /status writes
    own status (and metadata, which status strategies let through)."""
    group, _, kind = _split_type_key(type_key)
    if status_subresource is None:
        status_subresource = (group, kind) in _STATUS_SUBRESOURCE
    if subresource == "status":
        return lambda path: path[0] in ("f:status", "f:metadata")
    if status_subresource:
        return lambda path: path[0] != "f:status"
    return lambda path: True


def _keep(paths, tracked):
    return {p for p in paths if p and tracked(p)}


def record_update(current_managed_fields, old_obj, new_obj, manager, operation, api_version, now_iso,
                  subresource=None, *, type_key=None, status_subresource=None):
    """managedFields after a create, update or non-apply patch by ``manager``.

    Like the real FieldManager.Update: the fields this write added or changed join the
    manager's entry (operation "Update" unless given, keyed by manager+apiVersion+subresource,
    ``time`` = now_iso when it changed anything); other managers lose those fields and every
    manager loses fields the write removed; empty entries disappear. For a create pass
    ``old_obj`` None: the object is compared with its kind's Go zero value, so a CR gets
    ``f:spec: {".": {}, ...}`` and a Deployment ``f:spec`` without ".", as on a real server.

    The managedFields of ``new_obj`` win when the client sent non-empty ones (clients may edit
    them); ``[]`` or ``[{}]`` resets them. ``type_key`` defaults to the object's own apiVersion
    and kind. Returns the list; nothing passed in is changed.
    """
    type_key = type_key or _type_of(new_obj, api_version)
    node = _schema(type_key)
    entries = _decode_entries(_base_managed_fields(current_managed_fields, new_obj, subresource))
    if old_obj is None:
        group, _, kind = _split_type_key(type_key)
        old = copy.deepcopy(_ZERO.get((group, kind), {}))
    else:
        old = _without_managed_fields(old_obj)
    cmp = _Comparison()
    _compare(old, _without_managed_fields(new_obj), node, (), cmp)
    tracked = _tracked_filter(type_key, subresource, status_subresource)
    changed = _keep(cmp.added | cmp.modified, tracked)
    removed = _keep(cmp.removed, tracked)

    ident = _identifier(manager, operation, api_version, subresource)
    for other_ident, entry in entries.items():
        if other_ident != ident:
            entry.fields -= changed | removed
    own = changed - _STRIPPED
    previous = entries.get(ident)
    if own:
        fields = ((previous.fields - changed - removed) if previous else set()) | own
        entries[ident] = _Entry(manager, operation, api_version, now_iso, subresource, fields)
    elif previous:
        previous.fields -= removed
    return _encode_entries(entries)


def _base_managed_fields(current, new_obj, subresource):
    """decodeLiveOrNew: the request's managedFields unless absent (or a subresource write)."""
    sent = ((new_obj or {}).get("metadata") or {}).get("managedFields") if isinstance(new_obj, dict) else None
    if subresource is None and isinstance(sent, list):
        if sent == [] or sent == [{}]:
            return []
        if _decode_entries(sent):
            return sent
    return current or []


# ---------------------------------------------------------------------------------------------
# Server-side apply: a model of structured-merge-diff's Updater.Apply
# ---------------------------------------------------------------------------------------------

def apply_patch(current, applied, manager, force, type_key, now_iso, *, subresource=None,
                status_subresource=None):
    """Server-side apply of the configuration ``applied`` by ``manager``.

    current  the stored object, or None (apply creates it).
    Returns (new_object, managed_fields): the object with ``metadata.managedFields`` set to
    the list that is also returned. Nothing passed in is changed.

    Model: the configuration is merged into the object (maps merge, list-maps merge by key,
    sets by value, other lists are replaced); the manager's "Apply" entry becomes exactly the
    fields of the configuration; fields it applied before and omits now are removed unless
    someone else still owns them; a field another manager owns that this apply changes is a
    409 Conflict unless ``force``, which moves the ownership. An object that has no
    managedFields yet is first attributed to "before-first-apply", as on the real server.
    """
    if not manager:
        raise _invalid_patch_options([("fieldManager", "FieldValueRequired",
                                       "Required value: is required for apply patch")])
    if applied is None:
        applied = {}
    if not isinstance(applied, dict):
        raise _bad_request("error decoding YAML: error unmarshaling JSON: while decoding JSON: json: cannot "
                           "unmarshal %s into Go value of type map[string]interface {}" % _json_kind(applied))
    group, version, kind = _split_type_key(type_key)
    a_group, a_version = _split_api_version(applied.get("apiVersion"))
    a_kind = applied.get("kind") if isinstance(applied.get("kind"), str) else ""
    if (a_group, a_version, a_kind) != (group, version, kind):
        # versionCheckManager
        raise _bad_request("invalid object type: %s/%s, Kind=%s" % (a_group, a_version, a_kind))
    if isinstance(applied.get("metadata"), dict) and applied["metadata"].get("managedFields") is not None:
        raise _bad_request("metadata.managedFields must be nil")

    node = _schema(type_key)
    api_version = version if not group else "%s/%s" % (group, version)
    tracked = _tracked_filter(type_key, subresource, status_subresource)
    live = _without_managed_fields(current)
    raw_managed = ((current or {}).get("metadata") or {}).get("managedFields")
    entries = _decode_entries(raw_managed)
    if current is not None and not raw_managed:
        _adopt_before_first_apply(entries, live, node, tracked, api_version)

    ident = _identifier(manager, "Apply", api_version, subresource)
    previous = entries.get(ident)
    last = previous.fields if previous else set()
    config = _tracked_config(copy.deepcopy(applied), tracked)
    applier = _Entry(manager, "Apply", api_version, previous.time if previous else None, subresource, ())
    own = set()
    _config_fields(config, node, (), own)
    applier.fields = _keep(own, tracked) - _STRIPPED
    entries[ident] = applier

    # merge into a copy: pruning edits the result in place and ``live`` is compared below
    merged = _ssa_merge(copy.deepcopy(live), config, node)
    _prune(merged, last, entries, node)

    cmp = _Comparison()
    _compare(live, merged, node, (), cmp)
    changed = _keep(cmp.added | cmp.modified, tracked)
    removed = _keep(cmp.removed, tracked)
    conflicts = {i: e.fields & changed for i, e in entries.items() if i != ident and e.fields & changed}
    if conflicts and not force:
        raise _conflict_error(conflicts, entries)
    for other_ident, entry in entries.items():
        if other_ident != ident:
            entry.fields -= conflicts.get(other_ident, set()) | removed

    modified = not _json_equal(live, merged)
    if modified or previous is None:
        applier.time = now_iso
    result = merged if modified else live
    managed = _encode_entries(entries)
    result.setdefault("metadata", {})["managedFields"] = managed
    return result, managed


def _adopt_before_first_apply(entries, live, node, tracked, api_version):
    """Objects written before field tracking are owned by "before-first-apply" (Update), so a
    first apply conflicts with the values already there instead of silently taking them."""
    fields = set()
    _config_fields(live, node, (), fields)
    fields = _keep(fields, tracked) - _STRIPPED
    if fields:
        entry = _Entry("before-first-apply", "Update", api_version, None, None, fields)
        entries[entry.identifier()] = entry


def _tracked_config(config, tracked):
    """Drop the top-level fields the write may not own (they are reset by the strategy)."""
    return {k: v for k, v in config.items() if k in ("apiVersion", "kind") or tracked(("f:" + k,))}


def _ssa_merge(lhs, rhs, node, path=()):
    """TypedValue.Merge: rhs (the configuration) wins; maps and granular lists merge."""
    atomic = bool(path) and node is not None and node.atomic_map
    if isinstance(lhs, dict) and isinstance(rhs, dict) and not atomic:
        out = dict(lhs)
        for key, value in rhs.items():
            if value is None:
                out.pop(key, None)
            elif key in out:
                out[key] = _ssa_merge(out[key], value, _child(node, key), path + ("f:" + key,))
            else:
                out[key] = _clean_inserted(value)
        return out
    if isinstance(lhs, list) and isinstance(rhs, list):
        left, right = _list_items(lhs, node), _list_items(rhs, node)
        if left is not None and right is not None:
            return _merge_list_items(left, right, node.elem, path)
    return _clean_inserted(rhs)


def _merge_list_items(left, right, elem, path):
    """The item order of structured-merge-diff's list merge: live items keep their place,
    configuration items follow the configuration's order around the shared ones."""
    lmap, rmap = {}, {}
    for pe, item in left:
        lmap.setdefault(pe, item)
    for pe, item in right:
        rmap.setdefault(pe, item)
    shared = [pe for pe, _ in right if pe in lmap]
    next_shared = shared.pop(0) if shared else None
    out, done, li, ri = [], set(), 0, 0

    def merged_item(pe):
        if pe in lmap:
            return _ssa_merge(lmap[pe], rmap[pe], elem, path + (pe,))
        return _clean_inserted(rmap[pe])

    while li < len(left) or ri < len(right):
        if li < len(left) and ri < len(right):
            lpe = left[li][0]
            if lpe == right[ri][0]:
                done.add(lpe)
                out.append(merged_item(lpe))
                li, ri = li + 1, ri + 1
                next_shared = shared.pop(0) if shared else None
                continue
            if lpe in rmap and next_shared is not None and next_shared != lpe:
                li += 1
                continue
        if li < len(left):
            lpe = left[li][0]
            if lpe not in rmap:
                out.append(left[li][1])
                li += 1
                continue
            if lpe in done:
                li += 1
                continue
        if ri < len(right):
            rpe = right[ri][0]
            if rpe not in done:
                done.add(rpe)
                out.append(merged_item(rpe))
            ri += 1
            if next_shared is not None and next_shared == rpe:
                next_shared = shared.pop(0) if shared else None
    return out


def _prune(obj, last, entries, node):
    """Remove what the applier owned before and nobody owns now (nor anything inside it)."""
    owned = set()
    for entry in entries.values():
        owned |= entry.fields
    prefixes = {p[:n] for p in owned for n in range(1, len(p))}
    candidates = sorted((p for p in last if p not in owned and p not in prefixes), key=len)
    gone = []
    for path in candidates:
        if any(path[:len(g)] == g for g in gone):
            continue
        if _remove_path(obj, path, node):
            gone.append(path)


def _remove_path(obj, path, node):
    """Delete the node at ``path``; containers emptied by it go too, as a typed decode of the
    null the real remover leaves would make them disappear."""
    trail = []          # (container, key-or-index) from the root down to the target
    current = obj
    for pe in path:
        if not isinstance(current, (dict, list)):
            return False
        if pe.startswith("f:"):
            name = pe[2:]
            if not isinstance(current, dict) or name not in current:
                return False
            trail.append((current, name))
            current, node = current[name], _child(node, name)
        else:
            items = _list_items(current, node) if isinstance(current, list) else None
            index = next((i for i, (item_pe, _) in enumerate(items or []) if item_pe == pe), None)
            if index is None:
                return False
            trail.append((current, index))
            current, node = current[index], node.elem
    for depth in range(len(trail) - 1, -1, -1):
        container, key = trail[depth]
        del container[key]
        if container or depth == 0:
            break
    return True


def _conflict_error(conflicts, entries):
    """NewConflictError: 409 with one FieldManagerConflict cause per conflicting path."""
    pairs = []
    for ident in sorted(conflicts):
        for path in sorted(conflicts[ident], key=_path_sort_key):
            pairs.append((entries[ident], path))
    causes = [{"reason": "FieldManagerConflict", "message": "conflict with %s" % e.printed(),
               "field": _path_string(p)} for e, p in pairs]
    if len(pairs) == 1:
        entry, path = pairs[0]
        message = "Apply failed with 1 conflict: conflict with %s: %s" % (entry.printed(), _path_string(path))
    else:
        lines = []
        for ident in sorted(conflicts):
            lines.append("conflicts with %s:" % entries[ident].printed())
            lines.extend("- %s" % _path_string(p) for p in sorted(conflicts[ident], key=_path_sort_key))
        message = "Apply failed with %d conflicts: %s" % (len(pairs), "\n".join(lines))
    return PatchError(409, "Conflict", message, causes)

"""CustomResourceDefinition structural schemas: validation, defaulting, pruning
and validation of CRD objects themselves.

Everything here follows the real kube-apiserver (1.24 line, the recorded one in
shared/conformance) closely enough that error causes come out byte-identical:

* validate()        -- k8s.io/kube-openapi/pkg/validation/validate (the go-openapi
                       schema validator) plus apiextensions-apiserver's
                       kubeOpenAPIResultToFieldErrors, objectmeta.Validate (embedded
                       resources) and listtype.ValidateListSetsAndMaps.
* apply_defaults()  -- apiextensions-apiserver/pkg/apiserver/schema/defaulting.Default
* prune()           -- schema/pruning.PruneWithOptions + defaulting.PruneNonNullable-
                       NullsWithoutDefaults + the unknown-field tracking of
                       objectmeta.GetObjectMetaWithOptions / CoerceWithOptions
* validate_crd()    -- apis/apiextensions/validation.ValidateCustomResourceDefinition
                       with schema.ValidateStructural and defaulting.ValidateDefaults
* crd_*()           -- v1 SetDefaults_CustomResourceDefinition, the strategy's
                       PrepareForCreate and the naming / establishing controllers.

Messages are built with small re-implementations of Go's fmt verbs (%q, %v, %#v)
and of apimachinery's field.Error, because the real texts are produced that way.
Schemas are the v1 JSON form (a dict as found in spec.versions[*].schema.openAPIV3Schema).
"""
import base64
import copy
import datetime
import decimal
import ipaddress
import json
import math
import re

# ---------------------------------------------------------------------------
# Go value formatting (fmt / strconv / encoding/json)
# ---------------------------------------------------------------------------

_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
               "\\": "\\\\", '"': '\\"'}


def go_quote(s):
    """strconv.Quote / fmt %q for a string."""
    out = ['"']
    for ch in s:
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append("\\x%02x" % ord(ch))
        elif ord(ch) <= 0xFFFF:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append("\\U%08x" % ord(ch))
    out.append('"')
    return "".join(out)


def _float_digits(f):
    """Shortest round-trip decimal digits of |f| and the decimal point position."""
    _, digits, exp = decimal.Decimal(repr(abs(f))).as_tuple()
    digits = list(digits)
    while len(digits) > 1 and digits[-1] == 0:
        digits.pop()
        exp += 1
    return "".join(str(d) for d in digits), exp + len(digits)


def _fmt_e(digits, dp, neg):
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    x = dp - 1
    return ("-" if neg else "") + mant + "e" + ("-" if x < 0 else "+") + "%02d" % abs(x)


def _fmt_f(digits, dp, neg):
    if dp <= 0:
        s = "0." + "0" * (-dp) + digits
    elif dp >= len(digits):
        s = digits + "0" * (dp - len(digits))
    else:
        s = digits[:dp] + "." + digits[dp:]
    return ("-" if neg else "") + s


def go_float(f):
    """fmt %v of a float64: strconv 'g' with shortest precision (exponent when x < -4 || x >= 21 is
    *not* Go's rule: shortest %g switches to exponent form at x >= 21 only for JSON; fmt uses 21 too
    for %v since Go 1.?). Go's %v uses %g with the shortest representation and an exponent
    threshold of 21 -- matched here: fmt.Println(1e6) prints 1e+06 because %v == %g."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "-0" if math.copysign(1, f) < 0 else "0"
    digits, dp = _float_digits(f)
    x = dp - 1
    # strconv.FormatFloat(f, 'g', -1, 64): "if precision was the shortest possible, use precision 6
    # for this decision" -> exponent form when x < -4 || x >= max(6, len(digits))... Go uses
    # eprec = 6 unless more digits are significant (eprec = digs.nd when nd > dp).
    eprec = 6
    if len(digits) > eprec and len(digits) >= dp:
        eprec = len(digits)
    if x < -4 or x >= eprec:
        return _fmt_e(digits, dp, f < 0)
    return _fmt_f(digits, dp, f < 0)


def _go_json_float(f):
    """encoding/json float64: 'f' unless |f| < 1e-6 or >= 1e21, then 'e' with e-07 -> e-7."""
    if f == 0:
        return "-0" if math.copysign(1, f) < 0 else "0"
    digits, dp = _float_digits(f)
    a = abs(f)
    if a < 1e-6 or a >= 1e21:
        s = _fmt_e(digits, dp, f < 0)
        return re.sub(r"e([+-])0(\d)$", r"e\1\2", s)
    return _fmt_f(digits, dp, f < 0)


def _go_json_string(s):
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif o < 0x20 or ch in "<>&" or o in (0x2028, 0x2029):
            out.append("\\u%04x" % o)   # Go escapes HTML characters by default
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_json(v):
    """encoding/json.Marshal of an unstructured value (compact, map keys sorted)."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _go_json_float(v)
    if isinstance(v, str):
        return _go_json_string(v)
    if isinstance(v, dict):
        return "{" + ",".join(_go_json_string(k) + ":" + go_json(v[k]) for k in sorted(v)) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(go_json(x) for x in v) + "]"
    return _go_json_string(str(v))


def go_sharp_v(v):
    """fmt %#v of an unstructured value held in an interface{}."""
    if v is None:
        return "interface {}(nil)"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return go_float(v)
    if isinstance(v, str):
        return go_quote(v)
    if isinstance(v, dict):
        return "map[string]interface {}{" + ", ".join(go_quote(k) + ":" + go_sharp_v(v[k])
                                                      for k in sorted(v)) + "}"
    if isinstance(v, (list, tuple)):
        return "[]interface {}{" + ", ".join(go_sharp_v(x) for x in v) + "}"
    return go_quote(str(v))


def go_bad_value(v):
    """How field.Error.ErrorBody prints a BadValue: simple types with %v, strings with %q,
    nil as "null" (quoted, it becomes the string "null"), everything else with %#v."""
    if v is None:
        return go_quote("null")
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return go_float(v)
    if isinstance(v, str):
        return go_quote(v)
    if isinstance(v, _GoRepr):
        return v.text
    return go_sharp_v(v)


class _GoRepr:
    """A bad value whose Go rendering is given verbatim (e.g. []string(nil))."""

    def __init__(self, text):
        self.text = text


# ---------------------------------------------------------------------------
# apimachinery field.Error
# ---------------------------------------------------------------------------

# ErrorType -> (StatusCause reason, ErrorType.String())
_ERROR_TYPES = {
    "Required": ("FieldValueRequired", "Required value"),
    "NotFound": ("FieldValueNotFound", "Not found"),
    "Duplicate": ("FieldValueDuplicate", "Duplicate value"),
    "Invalid": ("FieldValueInvalid", "Invalid value"),
    "NotSupported": ("FieldValueNotSupported", "Unsupported value"),
    "Forbidden": ("FieldValueForbidden", "Forbidden"),
    "TooLong": ("FieldValueTooLong", "Too long"),
    "TooMany": ("FieldValueTooMany", "Too many"),
    "Internal": ("InternalError", "Internal error"),
    "TypeInvalid": ("FieldValueTypeInvalid", "Invalid value"),
}
_NO_VALUE_TYPES = ("Required", "Forbidden", "TooLong", "Internal")


class FieldError:
    def __init__(self, etype, field, bad_value=None, detail=""):
        self.type = etype
        self.field = "<nil>" if field is None else field   # a nil *field.Path prints as <nil>
        self.bad_value = bad_value
        self.detail = detail

    def body(self):
        """field.Error.ErrorBody()."""
        s = _ERROR_TYPES[self.type][1]
        if self.type not in _NO_VALUE_TYPES:
            s += ": " + go_bad_value(self.bad_value)
        if self.detail:
            s += ": " + self.detail
        return s

    def error(self):
        return "%s: %s" % (self.field, self.body())

    def cause(self):
        """metav1.StatusCause as errors.NewInvalid builds it (field omitted when empty)."""
        c = {"reason": _ERROR_TYPES[self.type][0], "message": self.body()}
        if self.field:
            c["field"] = self.field
        return c

    def __repr__(self):
        return "<FieldError %s>" % self.error()


def _required(path, detail=""):
    return FieldError("Required", path, "", detail)


def _invalid(path, value, detail):
    return FieldError("Invalid", path, value, detail)


def _type_invalid(path, value, detail):
    return FieldError("TypeInvalid", path, value, detail)


def _forbidden(path, detail):
    return FieldError("Forbidden", path, "", detail)


def _not_supported(path, value, valid):
    detail = ("supported values: " + ", ".join(go_quote(v) for v in valid)) if valid else ""
    return FieldError("NotSupported", path, value, detail)


def _duplicate(path, value):
    return FieldError("Duplicate", path, value, "")


def _too_long(path, value, max_len):
    # field.TooLongMaxLength as of 1.24 ("may not be longer than %d")
    return FieldError("TooLong", path, value, "may not be longer than %d" % max_len if max_len >= 0
                      else "value is too long")


def _too_many(path, actual, max_items):
    return FieldError("TooMany", path, actual, "must have at most %d items" % max_items if max_items >= 0
                      else "has too many items")


# field.Path helpers: a path is None (nil) or its String() form.
def _child(p, *names):
    for n in names:
        p = n if p is None or p == "" else p + "." + n
    return p


def _key(p, k):
    return (p or "") + "[" + k + "]"


def _index(p, i):
    return (p or "") + "[%d]" % i


# ---------------------------------------------------------------------------
# Schema helpers
# ---------------------------------------------------------------------------

def _props(s):
    return (s or {}).get("properties") or {}


def _additional(s):
    """(present, schema-or-None) for additionalProperties (bool true -> schema None)."""
    ap = (s or {}).get("additionalProperties")
    if ap is None or ap is False:
        return (ap is False, None) if ap is False else (False, None)
    if ap is True:
        return True, None
    return True, ap


def _items(s):
    it = (s or {}).get("items")
    return it if isinstance(it, dict) else None


def _types(s):
    """The type list kube-openapi validates against (ConvertJSONSchemaProps)."""
    if s.get("x-kubernetes-int-or-string"):
        return ["integer", "string"]
    t = s.get("type")
    return [t] if t else []


# Formats CRD schemas may use (1.24 StripUnsupportedFormatsPostProcess: all others are dropped,
# including int32/int64/float/double which later releases keep).
_SUPPORTED_FORMATS = {"bsonobjectid", "uri", "email", "hostname", "ipv4", "ipv6", "cidr", "mac", "uuid",
                      "uuid3", "uuid4", "uuid5", "isbn", "isbn10", "isbn13", "creditcard", "ssn", "hexcolor",
                      "rgbcolor", "byte", "password", "date", "duration", "datetime"}


def _format(s):
    f = s.get("format") or ""
    return f if f.replace("-", "") in _SUPPORTED_FORMATS else ""


def _json_type(v):
    """schemaInfoForType: (JSON schema type, go-openapi format) of an unstructured value."""
    if isinstance(v, bool):
        return "boolean", ""
    if isinstance(v, int):
        return "integer", "int64"
    if isinstance(v, float):
        return "number", "float64"
    if isinstance(v, str):
        return "string", ""
    if isinstance(v, list):
        return "array", ""
    if isinstance(v, dict):
        return "object", ""
    return "", ""


def _is_float_json_integer(f):
    return not (math.isnan(f) or math.isinf(f)) and abs(f) < 2 ** 63 and f == int(f)


# ---------------------------------------------------------------------------
# String formats (strfmt.Default registry)
# ---------------------------------------------------------------------------

_RX_HOSTNAME = re.compile(r"^([a-zA-Z0-9\p{S}\p{L}]((-?[a-zA-Z0-9\p{S}\p{L}]{0,62})?)|"
                          r"([a-zA-Z0-9\p{S}\p{L}](([a-zA-Z0-9-\p{S}\p{L}]{0,61}[a-zA-Z0-9\p{S}\p{L}])?)"
                          r"(\.)){1,}([a-zA-Z\p{L}]){2,63})$".replace(r"\p{S}", "").replace(r"\p{L}", r"^\W\d_"
                                                                                               ) if False else
                          r"^(?:[A-Za-z0-9](?:-?[A-Za-z0-9]{0,62})?|(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
                          r"[A-Za-z0-9])?\.)+[A-Za-z]{2,63})$")
_RX_UUID = re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
_RX_UUID3 = re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
_RX_UUID4 = re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$")
_RX_UUID5 = re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$")
_RX_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_RX_DATETIME_TIME = re.compile(r"^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$")
_RX_DURATION = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)\s*(ns|us|µs|ms|s|m|h|d|w|"
                          r"nanoseconds?|microseconds?|milliseconds?|seconds?|minutes?|hours?|days?|weeks?)"
                          r"((\s*[-+]?(\d+(\.\d*)?|\.\d+)\s*(ns|us|µs|ms|s|m|h|d|w|nanoseconds?|microseconds?|"
                          r"milliseconds?|seconds?|minutes?|hours?|days?|weeks?))*)$|^0$")
_RX_HEXCOLOR = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_RX_RGBCOLOR = re.compile(r"^rgb\(\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|"
                          r"25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*\)$")
_RX_SSN = re.compile(r"^\d{3}[- ]?\d{2}[- ]?\d{4}$")
_RX_BSON = re.compile(r"^[0-9a-fA-F]{24}$")
_RX_MAC = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}([0-9A-Fa-f]{2})$|^([0-9A-Fa-f]{2}[:-]){7}([0-9A-Fa-f]{2})$|"
                     r"^([0-9A-Fa-f]{2}[:-]){19}([0-9A-Fa-f]{2})$|^([0-9A-Fa-f]{4}\.){2}([0-9A-Fa-f]{4})$|"
                     r"^([0-9A-Fa-f]{4}\.){3}([0-9A-Fa-f]{4})$|^([0-9A-Fa-f]{4}\.){9}([0-9A-Fa-f]{4})$")
_RX_CREDITCARD = re.compile(r"^(?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|6(?:011|5[0-9][0-9])[0-9]{12}|"
                            r"3[47][0-9]{13}|3(?:0[0-5]|[68][0-9])[0-9]{11}|(?:2131|1800|35\d{3})\d{11})$")


def _is_date(s):
    try:
        datetime.datetime.strptime(s, "%Y-%m-%d")
        return re.fullmatch(r"\d{4}-\d{2}-\d{2}", s) is not None
    except ValueError:
        return False


def _is_datetime(s):
    # strfmt.IsDateTime: a full-date, a 't', then hh:mm:ss[.frac](z|+hh:mm)
    if len(s) < 4:
        return False
    parts = s.lower().split("t")
    if len(parts) < 2 or not _is_date(parts[0]):
        return False
    m = _RX_DATETIME_TIME.match(parts[1])
    return bool(m) and m.group(1) <= "23" and m.group(2) <= "59" and m.group(3) <= "59"


def _is_isbn10(s):
    s = re.sub(r"[\s-]", "", s)
    if not re.fullmatch(r"\d{9}[\dX]", s):
        return False
    total = sum((10 - i) * (10 if c == "X" else int(c)) for i, c in enumerate(s))
    return total % 11 == 0


def _is_isbn13(s):
    s = re.sub(r"[\s-]", "", s)
    if not re.fullmatch(r"\d{13}", s):
        return False
    total = sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(s))
    return total % 10 == 0


def _is_uri(s):
    # net/url.ParseRequestURI: an absolute URI or an absolute path
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:\S*$", s) or re.match(r"^/\S*$", s))


def _is_ip(s, version):
    try:
        return ipaddress.ip_address(s).version == version
    except ValueError:
        return False


def _is_cidr(s):
    try:
        ipaddress.ip_network(s, strict=False)
        return "/" in s
    except ValueError:
        return False


def _is_byte(s):
    try:
        base64.b64decode(s, validate=True)
        return True
    except (ValueError, TypeError):
        return False


_FORMAT_CHECKS = {
    "bsonobjectid": _RX_BSON.match, "uri": _is_uri, "email": _RX_EMAIL.match,
    "hostname": _RX_HOSTNAME.match, "ipv4": lambda s: _is_ip(s, 4), "ipv6": lambda s: _is_ip(s, 6),
    "cidr": _is_cidr, "mac": _RX_MAC.match, "uuid": _RX_UUID.match, "uuid3": _RX_UUID3.match,
    "uuid4": _RX_UUID4.match, "uuid5": _RX_UUID5.match, "isbn": lambda s: _is_isbn10(s) or _is_isbn13(s),
    "isbn10": _is_isbn10, "isbn13": _is_isbn13,
    "creditcard": lambda s: _RX_CREDITCARD.match(re.sub(r"\D", "", s)), "ssn": _RX_SSN.match,
    "hexcolor": _RX_HEXCOLOR.match, "rgbcolor": _RX_RGBCOLOR.match, "byte": _is_byte,
    "password": lambda s: True, "date": _is_date, "duration": _RX_DURATION.match, "datetime": _is_datetime,
}


def _format_ok(fmt, s):
    check = _FORMAT_CHECKS.get(fmt.replace("-", ""))
    return True if check is None else bool(check(s))


# ---------------------------------------------------------------------------
# The kube-openapi schema validator (SchemaValidator.Validate), producing field errors
# the way kubeOpenAPIResultToFieldErrors converts them.
# ---------------------------------------------------------------------------

class _OpenAPIValidator:
    IN = "body"

    def __init__(self, fld_prefix=None):
        self.prefix = fld_prefix      # the fldPath handed to ValidateCustomResource (nil for objects)

    def err_path(self, name):
        """errPath := fldPath; if name != "" && name != "." -> Child(TrimPrefix(name, "."))"""
        if name and name != ".":
            return _child(self.prefix, name[1:] if name.startswith(".") else name)
        return self.prefix

    # -- entry ------------------------------------------------------------
    def validate(self, data, s, path):
        """SchemaValidator.Validate: the sub-validators in go-openapi's fixed order; each one
        applies depending on the *data's* kind, not the schema type."""
        errs = []
        if s is None:
            return errs
        if data is None:
            errs += self.type_check(data, s, path)
            errs += self.enum_check(data, s, path)
            return errs
        errs += self.type_check(data, s, path)
        errs += self.schema_props(data, s, path)
        if isinstance(data, str):
            errs += self.string_check(data, s, path)
            errs += self.format_check(data, s, path)
        if isinstance(data, (int, float)) and not isinstance(data, bool):
            errs += self.number_check(data, s, path)
        if isinstance(data, list):
            errs += self.slice_check(data, s, path)
        errs += self.enum_check(data, s, path)
        if isinstance(data, dict):
            errs += self.object_check(data, s, path)
        return errs

    # -- typeValidator ----------------------------------------------------
    def type_check(self, data, s, path):
        types = _types(s)
        fmt = _format(s)
        if not types and not fmt:
            return []
        if data is None:
            if types and "null" not in types and not s.get("nullable"):
                return [self._invalid_type(path, ",".join(types), "null")]
            return []
        sch_type, sch_fmt = _json_type(data)
        is_lower_int = fmt == "int64" and sch_fmt == "int32"
        is_float_int = sch_type == "number" and _is_float_json_integer(data) and "integer" in types
        is_int_float = sch_type == "integer" and "number" in types
        if not isinstance(data, (str, list)) and fmt and not (sch_type in types or sch_fmt == fmt or is_float_int
                                                              or is_int_float or is_lower_int):
            return [self._invalid_type(path, fmt, sch_fmt)]
        if not ("number" in types or "integer" in types) and fmt and isinstance(data, (str, list)):
            return []
        if not (sch_type in types or is_float_int or is_int_float):
            return [self._invalid_type(path, ",".join(types), sch_type)]
        return []

    def _invalid_type(self, name, type_name, value):
        # errors.InvalidType with a string value: "%s in %s must be of type %s: %q"
        return _type_invalid(self.err_path(name), value, "%s in %s must be of type %s: %s"
                             % (name, self.IN, type_name, go_quote(value)))

    # -- schemaPropsValidator (allOf / anyOf / oneOf / not) -----------------
    def schema_props(self, data, s, path):
        errs = []
        any_of = s.get("anyOf") or []
        if any_of:
            results = [self.validate(data, sub, path) for sub in any_of]
            if not any(not r for r in results):
                errs.append(self._composite("%s must validate at least one schema (anyOf)" % go_quote(path)))
                # go-openapi keeps the failures of the branch with the most matches; the branch
                # with the fewest errors is the closest stand-in without its MatchCount bookkeeping.
                errs += min(results, key=len)
        one_of = s.get("oneOf") or []
        if one_of:
            results = [self.validate(data, sub, path) for sub in one_of]
            valid = sum(1 for r in results if not r)
            if valid != 1:
                extra = "Found none valid" if valid == 0 else "Found %d valid alternatives" % valid
                errs.append(self._composite("%s must validate one and only one schema (oneOf). %s"
                                            % (go_quote(path), extra)))
                if valid == 0:
                    errs += min(results, key=len)
        all_of = s.get("allOf") or []
        if all_of:
            valid = 0
            for sub in all_of:
                r = self.validate(data, sub, path)
                valid += not r
                errs += r
            if valid != len(all_of):
                errs.append(self._composite("%s must validate all the schemas (allOf)%s"
                                            % (go_quote(path), ". None validated" if valid == 0 else "")))
        if isinstance(s.get("not"), dict):
            if not self.validate(data, s["not"], path):
                errs.append(self._composite("%s must not validate the schema (not)" % go_quote(path)))
        return errs

    def _composite(self, msg):
        # errors.New(...) is no *errors.Validation: field.Invalid(fldPath, "", err.Error())
        return _invalid(self.prefix, "", msg)

    # -- stringValidator / formatValidator --------------------------------
    def string_check(self, data, s, name):
        if "maxLength" in s and len(data) > s["maxLength"]:
            return [_too_long(self.err_path(name), data, int(s["maxLength"]))]
        if "minLength" in s and len(data) < s["minLength"]:
            return [_invalid(self.err_path(name), data, "%s in %s should be at least %d chars long"
                             % (name, self.IN, int(s["minLength"])))]
        pattern = s.get("pattern")
        if pattern:
            try:
                ok = _compile(pattern).search(data) is not None
                shown = pattern
            except re.error as e:
                ok, shown = False, "%s, but pattern is invalid: %s" % (pattern, e)
            if not ok:
                return [_invalid(self.err_path(name), data, "%s in %s should match '%s'"
                                 % (name, self.IN, shown))]
        return []

    def format_check(self, data, s, name):
        fmt = _format(s)
        if fmt and not _format_ok(fmt, data):
            return [_type_invalid(self.err_path(name), data, "%s in %s must be of type %s: %s"
                                  % (name, self.IN, fmt, go_quote(data)))]
        return []

    # -- numberValidator ----------------------------------------------------
    def number_check(self, data, s, name):
        errs = []
        is_int = isinstance(data, int)
        mult = s.get("multipleOf")
        if mult is not None:
            if is_int and int(mult) != 0:
                factor = int(mult)
                if factor < 0:
                    errs.append(self._num_err(name, data, "factor MultipleOf declared for %s must be positive: %d"
                                              % (name, factor), plain=True))
                elif data % factor != 0 if data >= 0 else (-data) % factor != 0:
                    errs.append(self._num_err(name, data, "%s in %s should be a multiple of %d"
                                              % (name, self.IN, factor)))
            else:
                factor = float(mult)
                if factor < 0:
                    errs.append(self._num_err(name, data, "factor MultipleOf declared for %s must be positive: %s"
                                              % (name, go_float(factor)), plain=True))
                else:
                    q = (1 / factor * data) if factor < 1 else (data / factor)
                    if not (math.isfinite(q) and abs(q - round(q)) <= 1e-9 * max(1.0, abs(q))):
                        errs.append(self._num_err(name, data, "%s in %s should be a multiple of %s"
                                                  % (name, self.IN, go_float(factor))))
        if s.get("minimum") is not None:
            excl = bool(s.get("exclusiveMinimum"))
            lim = int(s["minimum"]) if is_int else float(s["minimum"])   # int64(min) truncates for ints
            if (not excl and data < lim) or (excl and data <= lim):
                errs.append(self._num_err(name, data, "%s in %s should be greater than %s%s"
                                          % (name, self.IN, "" if excl else "or equal to ", self._num(lim))))
        if s.get("maximum") is not None:
            excl = bool(s.get("exclusiveMaximum"))
            lim = int(s["maximum"]) if is_int else float(s["maximum"])
            if (not excl and data > lim) or (excl and data >= lim):
                errs.append(self._num_err(name, data, "%s in %s should be less than %s%s"
                                          % (name, self.IN, "" if excl else "or equal to ", self._num(lim))))
        return errs

    @staticmethod
    def _num(v):
        return str(v) if isinstance(v, int) else go_float(v)

    def _num_err(self, name, data, msg, plain=False):
        return _invalid(self.err_path(name), data, msg)

    # -- schemaSliceValidator -------------------------------------------------
    def slice_check(self, data, s, name):
        errs = []
        items = _items(s)
        if items is not None:
            for i, v in enumerate(data):
                errs += self.validate(v, items, "%s[%d]" % (name, i))
        if s.get("minItems") is not None and len(data) < s["minItems"]:
            errs.append(_invalid(self.err_path(name), len(data), "%s in %s should have at least %d items"
                                 % (name, self.IN, int(s["minItems"]))))
        if s.get("maxItems") is not None and len(data) > s["maxItems"]:
            errs.append(_too_many(self.err_path(name), len(data), int(s["maxItems"])))
        if s.get("uniqueItems"):
            seen = []
            for v in data:
                if any(_deep_equal(v, u) for u in seen):
                    errs.append(_invalid(self.err_path(name), "", "%s in %s shouldn't contain duplicates"
                                         % (name, self.IN)))
                    break
                seen.append(v)
        return errs

    # -- basicCommonValidator (enum) -------------------------------------------
    def enum_check(self, data, s, name):
        enum = s.get("enum")
        if not enum:
            return []
        for e in enum:
            if _enum_matches(data, e):
                return []
        values = [e if isinstance(e, str) else _enum_json(e) for e in enum]
        return [_not_supported(self.err_path(name), data, values)]

    # -- objectValidator ---------------------------------------------------------
    def object_check(self, data, s, name):
        n = len(data)
        if s.get("minProperties") is not None and n < s["minProperties"]:
            return [_invalid(self.err_path(name), n, "%s in %s should have at least %d properties"
                             % (name, self.IN, int(s["minProperties"])))]
        if s.get("maxProperties") is not None and n > s["maxProperties"]:
            return [_too_many(self.err_path(name), n, int(s["maxProperties"]))]
        errs = []
        props = _props(s)
        ap = s.get("additionalProperties")
        if ap is False:
            for k in sorted(data):
                if k not in props:
                    errs.append(_invalid(self.err_path(name), k, "%s.%s in %s is a forbidden property"
                                         % (name, k, self.IN)))
        elif isinstance(ap, dict):
            for k in sorted(data):
                if k not in props:
                    errs += self.validate(data[k], ap, name + "." + k)
        # Go iterates the properties map in random order; sorted keeps results stable.
        for k in sorted(props):
            if k in data:
                errs += self.validate(data[k], props[k], k if name == "" else name + "." + k)
        for k in s.get("required") or []:
            if k not in data:
                errs.append(_required(self.err_path(name + "." + k)))
        return errs


_REGEX_CACHE = {}


def _compile(pattern):
    rx = _REGEX_CACHE.get(pattern)
    if rx is None:
        # ECMA/RE2 patterns are mostly valid Python; \z and (?P<...>) already mean the same.
        rx = _REGEX_CACHE[pattern] = re.compile(pattern.replace("\\z", "\\Z"))
    return rx


def _enum_json(v):
    # CRD enum values are decoded into interface{} (numbers become float64) then json.Marshal'ed.
    if isinstance(v, int) and not isinstance(v, bool):
        return _go_json_float(float(v))
    return go_json(v)


def _enum_matches(data, e):
    """reflect ConvertibleTo + Convert + DeepEqual, as basicCommonValidator compares enum values.
    Enum values come from JSON as float64; object data numbers are int64 or float64."""
    if data is None or e is None:
        return False
    if isinstance(e, bool) or isinstance(data, bool):
        return isinstance(e, bool) and isinstance(data, bool) and e == data
    if isinstance(e, (int, float)):
        return isinstance(data, (int, float)) and float(data) == float(e)
    if isinstance(e, str):
        if isinstance(data, str):
            return data == e
        if isinstance(data, int):   # Go converts an int64 to a string as a rune
            return (chr(data) if 0 <= data <= 0x10FFFF else "\ufffd") == e
        return False
    if isinstance(e, dict):
        return isinstance(data, dict) and _deep_equal(data, e, enum_side=True)
    if isinstance(e, list):
        return isinstance(data, list) and _deep_equal(data, e, enum_side=True)
    return False


def _deep_equal(a, b, enum_side=False):
    """reflect.DeepEqual on unstructured values: int64 and float64 never compare equal.
    With enum_side, numbers in b are float64 (decoded from the CRD)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        b_float = enum_side or isinstance(b, float)
        return isinstance(a, float) == b_float and float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_deep_equal(a[k], b[k], enum_side) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_deep_equal(x, y, enum_side) for x, y in zip(a, b))
    return type(a) is type(b) and a == b

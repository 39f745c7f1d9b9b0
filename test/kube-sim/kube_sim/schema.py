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
    """fmt %v of a float64: strconv.FormatFloat(f, 'g', -1, 64) -- shortest digits, and
    "if precision was the shortest possible, use precision 6" to pick the exponent form,
    so 1e6 prints as 1e+06 and 123456.0 as 123456."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "-0" if math.copysign(1, f) < 0 else "0"
    digits, dp = _float_digits(f)
    x = dp - 1
    if x < -4 or x >= 6:
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

# go-openapi's HostnamePattern also admits Unicode letters/symbols (\p{L}, \p{S}); ASCII here.
_RX_HOSTNAME = re.compile(r"^(?:[A-Za-z0-9](?:-?[A-Za-z0-9]{0,62})?|(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
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
                factor = int(mult)      # MultipleOfNativeType: int64(multipleOf) for integer data
                if factor < 0:
                    errs.append(_invalid(self.err_path(name), factor, "factor MultipleOf declared for %s must be "
                                                                      "positive: %d" % (name, factor)))
                elif data % factor != 0:
                    errs.append(_invalid(self.err_path(name), data, "%s in %s should be a multiple of %d"
                                         % (name, self.IN, factor)))
            else:
                factor = float(mult)
                if factor < 0:
                    errs.append(_invalid(self.err_path(name), factor, "factor MultipleOf declared for %s must be "
                                                                      "positive: %s" % (name, go_float(factor))))
                else:
                    q = (1 / factor * data) if factor < 1 else (data / factor)
                    if not (math.isfinite(q) and abs(q - round(q)) <= 1e-9 * max(1.0, abs(q))):
                        errs.append(_invalid(self.err_path(name), data, "%s in %s should be a multiple of %s"
                                             % (name, self.IN, go_float(factor))))
        if s.get("minimum") is not None:
            excl = bool(s.get("exclusiveMinimum"))
            lim = int(s["minimum"]) if is_int else float(s["minimum"])   # int64(min) truncates for ints
            if (not excl and data < lim) or (excl and data <= lim):
                errs.append(_invalid(self.err_path(name), data, "%s in %s should be greater than %s%s"
                                          % (name, self.IN, "" if excl else "or equal to ", self._num(lim))))
        if s.get("maximum") is not None:
            excl = bool(s.get("exclusiveMaximum"))
            lim = int(s["maximum"]) if is_int else float(s["maximum"])
            if (not excl and data > lim) or (excl and data >= lim):
                errs.append(_invalid(self.err_path(name), data, "%s in %s should be less than %s%s"
                                          % (name, self.IN, "" if excl else "or equal to ", self._num(lim))))
        return errs

    @staticmethod
    def _num(v):
        return str(v) if isinstance(v, int) else go_float(v)

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


# ---------------------------------------------------------------------------
# Embedded resources (objectmeta.Validate) and list-type invariants
# (listtype.ValidateListSetsAndMaps)
# ---------------------------------------------------------------------------

def _validate_embedded(pth, x, s):
    if s is None:
        return []
    errs = []
    if isinstance(x, dict):
        if s.get("x-kubernetes-embedded-resource"):
            errs += _validate_embedded_resource(pth, x)
        props = _props(s)
        _, ap = _additional(s)
        for k in sorted(x):
            if k in props:
                errs += _validate_embedded(_child(pth, k), x[k], props[k])
            elif ap is not None:
                errs += _validate_embedded(_key(pth, k), x[k], ap)
    elif isinstance(x, list):
        for i, v in enumerate(x):
            errs += _validate_embedded(_index(pth, i), v, _items(s))
    return errs


def _validate_embedded_resource(pth, x):
    errs = []
    if "apiVersion" not in x:
        errs.append(_required(_child(pth, "apiVersion")))
    if "kind" not in x:
        errs.append(_required(_child(pth, "kind")))
    for k in sorted(x):
        v = x[k]
        if k == "apiVersion":
            if not isinstance(v, str):
                errs.append(_invalid(_child(pth, "apiVersion"), v, "must be a string"))
            elif not v:
                errs.append(_required(_child(pth, "apiVersion")))
            elif v.count("/") > 1:
                errs.append(_invalid(_child(pth, "apiVersion"), v, "unexpected GroupVersion string: %s" % v))
        elif k == "kind":
            if not isinstance(v, str):
                errs.append(_invalid(_child(pth, "kind"), v, "must be a string"))
            elif not v:
                errs.append(_required(_child(pth, "kind")))
            else:
                msgs = is_dns1035_label(v.lower())
                if msgs:
                    errs.append(_invalid(_child(pth, "kind"), v, "may have mixed case, but should otherwise match: "
                                         + ",".join(msgs)))
        elif k == "metadata" and isinstance(v, dict):
            meta = dict(v)
            if not meta.get("name"):
                meta["name"] = "fakename"   # the real code sets this to avoid a Required error
            errs += _object_meta_errors(meta, bool(meta.get("namespace")), _child(pth, "metadata"),
                                        _path_segment_name)
    return errs


def _validate_list_sets_and_maps(fld, s, obj):
    if s is None or not isinstance(obj, dict):
        return []
    errs = []
    _, ap = _additional(s)
    if ap is not None:
        for k in sorted(obj):
            errs += _list_sets_and_maps_value(_key(fld, k), ap, obj[k])
    props = _props(s)
    for k in sorted(obj):
        if k in props:
            errs += _list_sets_and_maps_value(_child(fld, k), props[k], obj[k])
    return errs


def _list_sets_and_maps_value(fld, s, v):
    if isinstance(v, list):
        return _list_sets_and_maps_array(fld, s, v)
    if isinstance(v, dict):
        return _validate_list_sets_and_maps(fld, s, v)
    return []


def _set_key(x):
    # scalars compare like Go interface{} map keys (int64(1) != float64(1)); compounds by their JSON
    if isinstance(x, (dict, list)):
        return ("json", go_json(x))
    return (type(x).__name__, x)


def _non_unique(values):
    seen, out = {}, []
    for i, x in enumerate(values):
        k = _set_key(x)
        seen[k] = seen.get(k, 0) + 1
        if seen[k] == 2:
            out.append(i)
    return out


def _list_sets_and_maps_array(fld, s, obj):
    errs = []
    lt = s.get("x-kubernetes-list-type")
    if lt == "set":
        for i in _non_unique(obj):
            errs.append(_duplicate(_index(fld, i), obj[i]))
    elif lt == "map":
        errs += _validate_list_map(fld, s, obj)
    items = _items(s)
    if items is not None:
        for i, v in enumerate(obj):
            errs += _list_sets_and_maps_value(_index(fld, i), items, v)
    return errs


_UNSPECIFIED = object()


def _validate_list_map(fld, s, obj):
    for i, x in enumerate(obj):
        if x is not None and not isinstance(x, dict):
            return [_invalid(_index(fld, i), x, "must be an object for an array of list-type map")]
    if len(obj) <= 1:
        return []
    keys_f = s.get("x-kubernetes-list-map-keys") or []
    if len(keys_f) == 1:
        kf = keys_f[0]
        keys = [(_UNSPECIFIED if x is None or kf not in x else x[kf]) for x in obj]
        marks = [("unspecified",) if k is _UNSPECIFIED else k for k in keys]
        out = []
        for i in _non_unique(marks):
            out.append(_duplicate(_index(fld, i), {} if keys[i] is _UNSPECIFIED else {kf: keys[i]}))
        return out
    keys = [{kf: x[kf] for kf in keys_f if kf in x} if x is not None else {} for x in obj]
    return [_duplicate(_index(fld, i), keys[i]) for i in _non_unique(keys)]


# ---------------------------------------------------------------------------
# Public API for custom resources
# ---------------------------------------------------------------------------

def validate_errors(obj, schema, fld_path=None):
    """The FieldErrors of the CR strategy's schema checks, in the real order: the OpenAPI schema
    validator (ValidateCustomResource), embedded resources, then list-type sets and maps."""
    errs = _OpenAPIValidator(fld_path).validate(obj, schema, "")
    if fld_path is None:
        errs += _validate_embedded(None, obj, schema)
        errs += _validate_list_sets_and_maps(None, schema, obj)
    return errs


def validate(obj, schema, kind_qualified=None):
    """Causes for a custom resource that does not satisfy its CRD schema, exactly as the real
    server words them. ObjectMeta checks (name, labels, ...) are not included -- in the real
    customResourceValidator they run before these, so callers should put theirs first.
    kind_qualified is accepted for symmetry with invalid_message and is not needed here."""
    if not schema:
        return []
    return [e.cause() for e in validate_errors(obj, schema)]


def invalid_message(kind_qualified, name, causes):
    """errors.NewInvalid's message: '<Kind.group> "<name>" is invalid: <aggregate>' where the
    aggregate deduplicates the "<field>: <message>" texts and brackets only when there are
    several (utilerrors.aggregate.Error)."""
    msgs = []
    for c in causes:
        m = "%s: %s" % (c.get("field", ""), c.get("message", ""))
        if m not in msgs:
            msgs.append(m)
    if not msgs:
        return "%s %s is invalid" % (kind_qualified, go_quote(name))
    agg = msgs[0] if len(msgs) == 1 else "[" + ", ".join(msgs) + "]"
    return "%s %s is invalid: %s" % (kind_qualified, go_quote(name), agg)


def apply_defaults(obj, schema):
    """defaulting.Default: fill absent (or non-nullable null) properties from `default`, deep-copied,
    then recurse -- including into values that were just defaulted."""
    if not schema:
        return
    _default(obj, schema)


def _default(x, s, change=True):
    """Fills x's absent (or non-nullable null) values from the schema's defaults; with
    change False only tells whether it would. True when something is (or would be) filled."""
    if s is None:
        return False
    found = False
    if isinstance(x, dict):
        props = _props(s)
        for k, p in props.items():
            if "default" not in p or p["default"] is None:
                continue
            if k not in x or (x[k] is None and not p.get("nullable")):
                if not change:
                    return True
                x[k] = copy.deepcopy(p["default"])
                found = True
        _, ap = _additional(s)
        for k in list(x):
            if k in props:
                sub = props[k]
            elif ap is not None:
                sub = ap
                if x[k] is None and not ap.get("nullable") and ap.get("default") is not None:
                    if not change:
                        return True
                    x[k] = copy.deepcopy(ap["default"])
                    found = True
            else:
                continue
            if _default(x[k], sub, change):
                if not change:
                    return True
                found = True
    elif isinstance(x, list):
        items = _items(s)
        if items is None:
            return False
        for i in range(len(x)):
            if x[i] is None and not items.get("nullable") and items.get("default") is not None:
                if not change:
                    return True
                x[i] = copy.deepcopy(items["default"])
                found = True
            if _default(x[i], items, change):
                if not change:
                    return True
                found = True
    return found


def needs_defaults(obj, schema):
    """Whether apply_defaults(obj, schema) would change obj, found without changing or
    copying it: a reader of a stored object that is already defaulted (defaults are
    applied on every write too) can use it as it is."""
    return bool(schema) and _default(obj, schema, change=False)


_META_FIELDS = ("apiVersion", "kind", "metadata")


def prune(obj, schema):
    """Drop what the schema does not know, in place, and return the unknown field paths in the
    order and form the real decoder reports them for fieldValidation=Strict/Warn:
    'metadata.foo' (ObjectMeta strict decoding) first, then the sorted structural-pruning paths
    ('spec.foo', 'spec.items[0].bar'), then unknown fields inside embedded resources' metadata.
    Like the real unstructuredSchemaCoercer it also removes nulls of non-nullable fields that
    have no default (PruneNonNullableNullsWithoutDefaults)."""
    if not schema or not isinstance(obj, dict):
        return []
    paths = []
    if isinstance(obj.get("metadata"), dict):
        paths += prune_object_meta(obj["metadata"], "metadata")
    pruned = []
    root = dict(schema)
    root["x-kubernetes-embedded-resource"] = True     # isResourceRoot: keep apiVersion/kind/metadata
    _prune(obj, root, [], pruned)
    paths += sorted(pruned)
    _prune_nulls(obj, schema)
    paths += _coerce_embedded(None, obj, schema, top=True)
    return paths


def _path_join(parts):
    return "".join(parts)


def _append_key(parent, k):
    return parent + ([".", k] if parent else [k])


def _prune(x, s, parent, out):
    if s is not None and s.get("x-kubernetes-preserve-unknown-fields"):
        _skip_prune(x, s, parent, out)
        return
    if isinstance(x, dict):
        if s is None:
            for k in list(x):
                out.append(_path_join(_append_key(parent, k)))
                del x[k]
            return
        props = _props(s)
        present, ap = _additional(s)
        embedded = s.get("x-kubernetes-embedded-resource")
        for k in list(x):
            if embedded and k in _META_FIELDS:
                continue
            if k in props:
                _prune(x[k], props[k], _append_key(parent, k), out)
            elif present:
                _prune(x[k], ap, _append_key(parent, k), out)
            else:
                if k not in _META_FIELDS or parent:
                    out.append(_path_join(_append_key(parent, k)))
                del x[k]
    elif isinstance(x, list):
        items = None if s is None else _items(s)
        for i, v in enumerate(x):
            _prune(v, items, parent + ["[", str(i), "]"], out)


def _skip_prune(x, s, parent, out):
    if s is None:
        return
    if isinstance(x, dict):
        props = _props(s)
        present, ap = _additional(s)
        embedded = s.get("x-kubernetes-embedded-resource")
        for k in list(x):
            if embedded and k in _META_FIELDS:
                continue
            if k in props:
                _prune(x[k], props[k], _append_key(parent, k), out)
            elif present:
                _prune(x[k], ap, _append_key(parent, k), out)
    elif isinstance(x, list):
        for i, v in enumerate(x):
            _skip_prune(v, _items(s), parent + ["[", str(i), "]"], out)


def _schema_for_field(k, s):
    if s is None:
        return None
    props = _props(s)
    if k in props:
        return props[k]
    _, ap = _additional(s)
    return ap


def _prune_nulls(x, s):
    """PruneNonNullableNullsWithoutDefaults: nulls of non-nullable fields without a default go."""
    if isinstance(x, dict):
        for k in list(x):
            sub = _schema_for_field(k, s)
            if x[k] is None and sub is not None and not sub.get("nullable") and sub.get("default") is None:
                del x[k]
            else:
                _prune_nulls(x[k], sub)
    elif isinstance(x, list):
        items = None if s is None else _items(s)
        for v in x:
            _prune_nulls(v, items)


def _coerce_embedded(pth, x, s, top=False):
    """objectmeta.CoerceWithOptions below the root: unknown fields inside the metadata of
    x-kubernetes-embedded-resource objects are dropped and reported."""
    if s is None:
        return []
    out = []
    if isinstance(x, dict):
        if s.get("x-kubernetes-embedded-resource") and not top and isinstance(x.get("metadata"), dict):
            out += prune_object_meta(x["metadata"], _child(pth, "metadata"))
        props = _props(s)
        _, ap = _additional(s)
        for k in list(x):
            if k in props:
                out += _coerce_embedded(_child(pth, k), x[k], props[k])
            elif ap is not None:
                out += _coerce_embedded(_key(pth, k), x[k], ap)
    elif isinstance(x, list):
        for i, v in enumerate(x):
            out += _coerce_embedded(_index(pth, i), v, _items(s))
    return out


# metav1.ObjectMeta and the structs inside it, as sigs.k8s.io/json strict decoding knows them.
_OWNER_REF_FIELDS = {"apiVersion", "kind", "name", "uid", "controller", "blockOwnerDeletion"}
_MANAGED_FIELDS_FIELDS = {"manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1", "subresource"}
OBJECT_META_FIELDS = ("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
                      "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
                      "annotations", "ownerReferences", "finalizers", "managedFields")


def prune_object_meta(meta, prefix="metadata"):
    """Remove the fields ObjectMeta does not have (the real server re-encodes ObjectMeta, which
    drops them) and return their paths as strict decoding names them ('metadata.foo',
    'metadata.ownerReferences[0].bar')."""
    out = []
    for k in list(meta):
        if k not in OBJECT_META_FIELDS:
            out.append("%s.%s" % (prefix, k))
            del meta[k]
    for lst_key, known in (("ownerReferences", _OWNER_REF_FIELDS), ("managedFields", _MANAGED_FIELDS_FIELDS)):
        lst = meta.get(lst_key)
        if isinstance(lst, list):
            for i, item in enumerate(lst):
                if isinstance(item, dict):
                    for k in list(item):
                        if k not in known:
                            out.append("%s.%s[%d].%s" % (prefix, lst_key, i, k))
                            del item[k]
    return out


def strict_field_errors(unknown_paths):
    """runtime.NewStrictDecodingError(...).Error() for unknown fields:
    'strict decoding error: unknown field "spec.foo", unknown field "spec.bar"'.
    This is the whole 400 message for PATCH; POST/PUT wrap it, see strict_decoding_message."""
    return "strict decoding error: " + ", ".join('unknown field "%s"' % p for p in unknown_paths)


def strict_decoding_message(kind, version, unknown_paths):
    """The 400 message for POST/PUT with fieldValidation=Strict (handlers.transformDecodeError):
    'Widget in version "v1" cannot be handled as a Widget: strict decoding error: unknown field "spec.foo"'."""
    return "%s in version %s cannot be handled as a %s: %s" % (kind, go_quote(version), kind,
                                                                strict_field_errors(unknown_paths))


def unknown_field_warnings(unknown_paths):
    """The Warning texts for fieldValidation=Warn (one per field)."""
    return ['unknown field "%s"' % p for p in unknown_paths]


# ---------------------------------------------------------------------------
# Name and ObjectMeta validation (apimachinery util/validation, api/validation)
# ---------------------------------------------------------------------------

_DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = _DNS1123_LABEL + "(\\." + _DNS1123_LABEL + ")*"
_DNS1035_LABEL = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QNAME = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = "(" + _QNAME + ")?"


def _regex_error(msg, fmt, *examples):
    """validation.RegexError, including its quirky ",  or " separator."""
    if not examples:
        return msg + " (regex used for validation is '" + fmt + "')"
    msg += " (e.g. "
    for i, e in enumerate(examples):
        if i > 0:
            msg += " or "
        msg += "'" + e + "', "
    return msg + "regex used for validation is '" + fmt + "')"


def _max_len_error(n):
    return "must be no more than %d characters" % n


def is_dns1123_label(v):
    errs = []
    if len(v) > 63:
        errs.append(_max_len_error(63))
    if not re.fullmatch(_DNS1123_LABEL, v):
        errs.append(_regex_error("a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
                                 "or '-', and must start and end with an alphanumeric character",
                                 _DNS1123_LABEL, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(v):
    errs = []
    if len(v) > 253:
        errs.append(_max_len_error(253))
    if not re.fullmatch(_DNS1123_SUBDOMAIN, v):
        errs.append(_regex_error("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                                 "characters, '-' or '.', and must start and end with an alphanumeric character",
                                 _DNS1123_SUBDOMAIN, "example.com"))
    return errs


def is_dns1035_label(v):
    errs = []
    if len(v) > 63:
        errs.append(_max_len_error(63))
    if not re.fullmatch(_DNS1035_LABEL, v):
        errs.append(_regex_error("a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                                 "start with an alphabetic character, and end with an alphanumeric character",
                                 _DNS1035_LABEL, "my-name", "abc-123"))
    return errs


def is_qualified_name(v):
    errs = []
    parts = v.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs += ["prefix part " + m for m in is_dns1123_subdomain(prefix)]
    else:
        return ["a qualified name " + _regex_error("must consist of alphanumeric characters, '-', '_' or '.', and "
                                                   "must start and end with an alphanumeric character", _QNAME,
                                                   "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part " + _max_len_error(63))
    if not re.fullmatch(_QNAME, name):
        errs.append("name part " + _regex_error("must consist of alphanumeric characters, '-', '_' or '.', and "
                                                "must start and end with an alphanumeric character", _QNAME,
                                                "MyName", "my.name", "123-abc"))
    return errs


def is_valid_label_value(v):
    errs = []
    if len(v) > 63:
        errs.append(_max_len_error(63))
    if not re.fullmatch(_LABEL_VALUE, v):
        errs.append(_regex_error("a valid label must be an empty string or consist of alphanumeric characters, "
                                 "'-', '_' or '.', and must start and end with an alphanumeric character",
                                 _LABEL_VALUE, "MyValue", "my_value", "12345"))
    return errs


def _mask_trailing_dash(name):
    return name[:-1] + "a" if len(name) > 1 and name.endswith("-") else name


def name_is_dns_subdomain(name, prefix):
    return is_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def _path_segment_name(name, prefix):
    if not prefix and name in (".", ".."):
        return ["may not be '%s'" % name]
    return ["may not contain '%s'" % c for c in ("/", "%") if c in name]


def _object_meta_errors(meta, requires_namespace, fld, name_fn):
    errs = []
    gen = meta.get("generateName")
    if gen:
        errs += [_invalid(_child(fld, "generateName"), gen, m) for m in name_fn(gen, True)]
    name = meta.get("name")
    if not name:
        errs.append(_required(_child(fld, "name"), "name or generateName is required"))
    else:
        errs += [_invalid(_child(fld, "name"), name, m) for m in name_fn(name, False)]
    ns = meta.get("namespace")
    if requires_namespace:
        if not ns:
            errs.append(_required(_child(fld, "namespace")))
        else:
            errs += [_invalid(_child(fld, "namespace"), ns, m) for m in is_dns1123_label(ns)]
    elif ns:
        errs.append(_forbidden(_child(fld, "namespace"), "not allowed on this type"))
    labels = meta.get("labels") or {}
    if isinstance(labels, dict):
        for k in sorted(labels):
            errs += [_invalid(_child(fld, "labels"), k, m) for m in is_qualified_name(k)]
            if isinstance(labels[k], str):
                errs += [_invalid(_child(fld, "labels"), labels[k], m) for m in is_valid_label_value(labels[k])]
    ann = meta.get("annotations") or {}
    if isinstance(ann, dict):
        for k in sorted(ann):
            errs += [_invalid(_child(fld, "annotations"), k, m) for m in is_qualified_name(k.lower())]
    return errs


def validate_object_meta(meta, requires_namespace, fld="metadata", name_validation="dns-subdomain"):
    """apimachinery ValidateObjectMeta (name/generateName, namespace, labels, annotation keys) as causes.
    name_validation: "dns-subdomain" (most kinds, CRs) or "path-segment" (embedded resources)."""
    fn = name_is_dns_subdomain if name_validation == "dns-subdomain" else _path_segment_name
    return [e.cause() for e in _object_meta_errors(meta or {}, requires_namespace, fld, fn)]


# ---------------------------------------------------------------------------
# CustomResourceDefinition defaults and status (v1 SetDefaults_*, PrepareForCreate,
# the naming and establishing controllers)
# ---------------------------------------------------------------------------

def crd_defaults(crd):
    """A deep copy of a v1 CRD with SetDefaults_CustomResourceDefinitionSpec applied:
    names.singular = lower(kind), names.listKind = kind+"List", conversion = {strategy: None},
    webhook service port 443."""
    out = copy.deepcopy(crd)
    spec = out.setdefault("spec", {})
    names = spec.setdefault("names", {})
    if not names.get("singular"):
        names["singular"] = (names.get("kind") or "").lower()
    if not names.get("listKind") and names.get("kind"):
        names["listKind"] = names["kind"] + "List"
    if spec.get("conversion") is None:
        spec["conversion"] = {"strategy": "None"}
    svc = ((spec["conversion"].get("webhook") or {}).get("clientConfig") or {}).get("service")
    if isinstance(svc, dict) and svc.get("port") is None:
        svc["port"] = 443
    return out


def _storage_version(spec):
    for v in spec.get("versions") or []:
        if v.get("storage"):
            return v.get("name")
    return None


def _now(now):
    if now is None:
        now = datetime.datetime.now(datetime.timezone.utc)
    if isinstance(now, str):
        return now
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def crd_default_and_status(crd):
    """What the server adds when a CRD is created: {"spec": <defaulted spec>, "status": ...}
    with the status PrepareForCreate leaves (empty accepted names, conditions null, the storage
    version stored) -- exactly the recorded 201 response. obj.update(result) applies it."""
    d = crd_defaults(crd)
    stored = _storage_version(d["spec"])
    return {"spec": d["spec"],
            "status": {"conditions": None, "acceptedNames": {"plural": "", "kind": ""},
                       "storedVersions": [stored] if stored else []}}


def _accepted_names(names):
    """CustomResourceDefinitionNames in Go field order, omitempty fields left out."""
    out = {"plural": names.get("plural", "")}
    if names.get("singular"):
        out["singular"] = names["singular"]
    if names.get("shortNames"):
        out["shortNames"] = list(names["shortNames"])
    out["kind"] = names.get("kind", "")
    if names.get("listKind"):
        out["listKind"] = names["listKind"]
    if names.get("categories"):
        out["categories"] = list(names["categories"])
    return out


def _condition(ctype, status, reason, message, now):
    return {"type": ctype, "status": status, "lastTransitionTime": _now(now), "reason": reason, "message": message}


def _set_condition(status, cond):
    """apihelpers.SetCRDCondition: replace by type, keeping lastTransitionTime if status is unchanged."""
    conds = status.get("conditions") or []
    for i, c in enumerate(conds):
        if c.get("type") == cond["type"]:
            if c.get("status") == cond["status"]:
                cond = dict(cond, lastTransitionTime=c.get("lastTransitionTime", cond["lastTransitionTime"]))
            conds[i] = cond
            break
    else:
        conds.append(cond)
    status["conditions"] = conds


def crd_names_accepted(crd, now=None):
    """Status after the naming controller ran: acceptedNames = spec.names, NamesAccepted=True
    (NoConflicts) and Established=False (Installing), as recorded right after creation."""
    status = copy.deepcopy(crd.get("status") or {})
    status["acceptedNames"] = _accepted_names((crd.get("spec") or {}).get("names") or {})
    _set_condition(status, _condition("NamesAccepted", "True", "NoConflicts", "no conflicts found", now))
    if not any(c.get("type") == "Established" for c in status.get("conditions") or []):
        _set_condition(status, _condition("Established", "False", "Installing",
                                          "the initial names have been accepted", now))
    status.setdefault("storedVersions", [])
    return status


def crd_names_conflict(crd, message, now=None):
    """Status when the naming controller finds a conflict (NamesAccepted=False, NameConflict)."""
    status = copy.deepcopy(crd.get("status") or {})
    _set_condition(status, _condition("NamesAccepted", "False", "NameConflict", message, now))
    return status


def crd_established(crd, now=None):
    """Status after the establishing controller: Established=True (InitialNamesAccepted)."""
    status = crd_names_accepted(crd, now) if not (crd.get("status") or {}).get("conditions") \
        else copy.deepcopy(crd["status"])
    _set_condition(status, _condition("Established", "True", "InitialNamesAccepted",
                                      "the initial names have been accepted", now))
    return status


def crd_terminating(crd, now=None):
    """Status once a CRD is being deleted (Terminating=True, InstanceDeletionPending)."""
    status = copy.deepcopy(crd.get("status") or {})
    _set_condition(status, _condition("Terminating", "True", "InstanceDeletionPending",
                                      "CustomResourceDefinition marked for deletion; CustomResource deletion "
                                      "will begin soon", now))
    return status


def crd_is_established(crd):
    return any(c.get("type") == "Established" and c.get("status") == "True"
               for c in (crd.get("status") or {}).get("conditions") or [])


# ---------------------------------------------------------------------------
# CustomResourceDefinition validation (apis/apiextensions/validation)
# ---------------------------------------------------------------------------

_PRINTER_TYPES = ["boolean", "date", "integer", "number", "string"]
_COLUMN_FORMATS = ["byte", "date", "date-time", "double", "float", "int32", "int64", "password"]
_OPENAPI_TYPES = ["array", "boolean", "integer", "number", "object", "string"]
# JSONSchemaProps fields in Go declaration order: (json name, Go field name)
_SCHEMA_FIELDS = [("id", "ID"), ("$schema", "Schema"), ("$ref", "Ref"), ("description", "Description"),
                  ("type", "Type"), ("nullable", "Nullable"), ("format", "Format"), ("title", "Title"),
                  ("default", "Default"), ("maximum", "Maximum"), ("exclusiveMaximum", "ExclusiveMaximum"),
                  ("minimum", "Minimum"), ("exclusiveMinimum", "ExclusiveMinimum"), ("maxLength", "MaxLength"),
                  ("minLength", "MinLength"), ("pattern", "Pattern"), ("maxItems", "MaxItems"),
                  ("minItems", "MinItems"), ("uniqueItems", "UniqueItems"), ("multipleOf", "MultipleOf"),
                  ("enum", "Enum"), ("maxProperties", "MaxProperties"), ("minProperties", "MinProperties"),
                  ("required", "Required"), ("items", "Items"), ("allOf", "AllOf"), ("oneOf", "OneOf"),
                  ("anyOf", "AnyOf"), ("not", "Not"), ("properties", "Properties"),
                  ("additionalProperties", "AdditionalProperties"), ("patternProperties", "PatternProperties"),
                  ("dependencies", "Dependencies"), ("additionalItems", "AdditionalItems"),
                  ("definitions", "Definitions"), ("externalDocs", "ExternalDocs"), ("example", "Example"),
                  ("x-kubernetes-preserve-unknown-fields", "XPreserveUnknownFields"),
                  ("x-kubernetes-embedded-resource", "XEmbeddedResource"),
                  ("x-kubernetes-int-or-string", "XIntOrString"), ("x-kubernetes-list-map-keys", "XListMapKeys"),
                  ("x-kubernetes-list-type", "XListType"), ("x-kubernetes-map-type", "XMapType"),
                  ("x-kubernetes-validations", "XValidations")]
_ALLOWED_AT_ROOT = ["Description", "Type", "Format", "Title", "Maximum", "ExclusiveMaximum", "Minimum",
                    "ExclusiveMinimum", "MaxLength", "MinLength", "Pattern", "MaxItems", "MinItems", "UniqueItems",
                    "MultipleOf", "Required", "Items", "Properties", "ExternalDocs", "Example",
                    "XPreserveUnknownFields", "XValidations"]
_STRUCTURAL_ONLY = ("type", "default", "title", "description", "nullable", "externalDocs", "additionalProperties",
                    "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource",
                    "x-kubernetes-int-or-string", "x-kubernetes-list-map-keys", "x-kubernetes-list-type",
                    "x-kubernetes-map-type", "x-kubernetes-validations")


# JSONSchemaProps fields that are pointers in Go: present means non-zero, whatever the value.
_POINTER_FIELDS = {"$ref", "default", "maximum", "minimum", "maxLength", "minLength", "maxItems", "minItems",
                   "multipleOf", "maxProperties", "minProperties", "items", "not", "additionalProperties",
                   "additionalItems", "externalDocs", "example", "x-kubernetes-preserve-unknown-fields",
                   "x-kubernetes-list-type", "x-kubernetes-map-type"}


def _is_zero_field(key, v):
    """reflect.DeepEqual(value, zero) for one JSONSchemaProps field."""
    if key in _POINTER_FIELDS:
        return False
    return v is None or v is False or v == ""


def _is_zero(v):
    return v is None or v is False or v == "" or v == [] or v == {}


def _schema_repr(s):
    # The real message prints the Go struct with %#v (pointers included); this is only a stand-in.
    return _GoRepr("apiextensions.JSONSchemaProps" + go_sharp_v(s)[len("map[string]interface {}"):])


def _versions_repr(versions):
    return _GoRepr("[]apiextensions.CustomResourceDefinitionVersion{" + ", ".join(
        'apiextensions.CustomResourceDefinitionVersion{Name:%s, Served:%s, Storage:%s}'
        % (go_quote(v.get("name", "")), "true" if v.get("served") else "false",
           "true" if v.get("storage") else "false") for v in versions) + "}")


def _hoisted(versions, key):
    """v1 -> internal conversion hoists a per-version field to the top level when every version
    carries the same non-empty value; errors then name spec.validation / spec.subresources /
    spec.additionalPrinterColumns instead of spec.versions[i]...."""
    if not versions:
        return None
    first = versions[0].get(key)
    if not first:
        return None
    for v in versions[1:]:
        if v.get(key) != first:
            return None
    return first


def validate_crd(crd, old=None):
    """Causes for an invalid CustomResourceDefinition (v1 JSON), as ValidateCustomResourceDefinition
    (old=None) or ValidateCustomResourceDefinitionUpdate words them. Defaults are applied first,
    like the real decoder does."""
    return [e.cause() for e in crd_errors(crd, old)]


def crd_errors(crd, old=None):
    crd = crd_defaults(crd)
    md = crd.get("metadata") or {}
    spec = crd["spec"]
    names = spec.get("names") or {}
    group = spec.get("group") or ""
    errs = []
    if old is None:
        required_name = (names.get("plural") or "") + "." + group

        def name_fn(name, prefix):
            out = name_is_dns_subdomain(name, prefix)
            if name != required_name:
                out.append('must be spec.names.plural+"."+spec.group')
            return out
        errs += _object_meta_errors(md, False, "metadata", name_fn)
    old_spec = crd_defaults(old)["spec"] if old is not None else None
    errs += _crd_spec_errors(spec, "spec")
    if old_spec is not None:
        established = crd_is_established(old)
        for path, new, prev in ([("spec.scope", spec.get("scope"), old_spec.get("scope")),
                                 ("spec.names.kind", names.get("kind"), (old_spec.get("names") or {}).get("kind"))]
                                if established else []) + \
                [("spec.group", group, old_spec.get("group")),
                 ("spec.names.plural", names.get("plural"), (old_spec.get("names") or {}).get("plural"))]:
            if new != prev:
                errs.append(_invalid(path, new, "field is immutable"))
    status = crd.get("status") or {}
    errs += _crd_names_errors(status.get("acceptedNames") or {}, "status.acceptedNames")
    if old is None:
        sv = _storage_version(spec)
        stored = [sv] if sv else []
    else:
        stored = list((old.get("status") or {}).get("storedVersions") or status.get("storedVersions") or [])
        sv = _storage_version(spec)
        if sv and sv not in stored:
            stored.append(sv)
    errs += _stored_versions_errors(stored, spec.get("versions") or [])
    errs += _api_approval_errors(crd, old)
    if spec.get("preserveUnknownFields") is True and not (old and (old.get("spec") or {}).get("preserveUnknownFields")):
        errs.append(_invalid("spec.preserveUnknownFields", True,
                             "cannot set to true, set x-preserve-unknown-fields to true in spec.versions[*].schema "
                             "instead"))
    return errs


def _stored_versions_errors(stored, versions):
    if not stored:
        return [_invalid("status.storedVersions", _GoRepr("[]string(nil)"), "must have at least one stored version")]
    errs = []
    index = {v: i for i, v in enumerate(stored)}
    for v in versions:
        if v.get("storage") and v.get("name") not in index:
            errs.append(_invalid("status.storedVersions", _versions_repr([v]),
                                 "must have the storage version " + (v.get("name") or "")))
        index.pop(v.get("name"), None)
    for name, i in sorted(index.items(), key=lambda kv: kv[1]):
        errs.append(_invalid(_index("status.storedVersions", i), name, "must appear in spec.versions"))
    return errs


def _api_approval_errors(crd, old):
    group = (crd.get("spec") or {}).get("group") or ""
    if not (group in ("k8s.io", "kubernetes.io") or group.endswith(".k8s.io") or group.endswith(".kubernetes.io")):
        return []
    key = "api-approved.kubernetes.io"
    path = _key("metadata.annotations", key)

    def state(annotations):
        v = (annotations or {}).get(key)
        if v is None:
            return "missing"
        if v.startswith("unapproved"):
            return "bypassed"
        if re.match(r"^https?://\S+$", v):
            return "approved"
        return "invalid"
    new_state = state((crd.get("metadata") or {}).get("annotations"))
    if old is not None and state((old.get("metadata") or {}).get("annotations")) == new_state:
        return []
    if new_state == "missing":
        return [_required(path, 'protected groups must have approval annotation "%s", see '
                                'https://github.com/kubernetes/enhancements/pull/1111' % key)]
    if new_state == "invalid":
        return [_invalid(path, crd["metadata"]["annotations"][key],
                         'protected groups must have approval annotation "%s" with either a URL or a reason '
                         'starting with "unapproved", see https://github.com/kubernetes/enhancements/pull/1111' % key)]
    return []


def _crd_names_errors(names, fld):
    errs = []
    for key in ("plural", "singular"):
        v = names.get(key) or ""
        if v:
            msgs = is_dns1035_label(v)
            if msgs:
                errs.append(_invalid(_child(fld, key), v, ",".join(msgs)))
    for key in ("kind", "listKind"):
        v = names.get(key) or ""
        if v:
            msgs = is_dns1035_label(v.lower())
            if msgs:
                errs.append(_invalid(_child(fld, key), v, "may have mixed case, but should otherwise match: "
                                     + ",".join(msgs)))
    for i, sn in enumerate(names.get("shortNames") or []):
        msgs = is_dns1035_label(sn)
        if msgs:
            errs.append(_invalid(_index(_child(fld, "shortNames"), i), sn, ",".join(msgs)))
    if names.get("kind") and names.get("kind") == names.get("listKind"):
        errs.append(_invalid(_child(fld, "listKind"), names["listKind"], "kind and listKind may not be the same"))
    for i, c in enumerate(names.get("categories") or []):
        msgs = is_dns1035_label(c)
        if msgs:
            errs.append(_invalid(_index(_child(fld, "categories"), i), c, ",".join(msgs)))
    return errs


def _crd_spec_errors(spec, fld):
    errs = []
    group = spec.get("group") or ""
    if not group:
        errs.append(_required(_child(fld, "group")))
    else:
        msgs = is_dns1123_subdomain(group)
        if msgs:
            errs.append(_invalid(_child(fld, "group"), group, ",".join(msgs)))
        elif len(group.split(".")) < 2:
            errs.append(_invalid(_child(fld, "group"), group, "should be a domain with at least one dot"))
    scope = spec.get("scope") or ""
    if not scope:
        errs.append(_required(_child(fld, "scope")))
    elif scope not in ("Cluster", "Namespaced"):
        errs.append(_not_supported(_child(fld, "scope"), scope, ["Cluster", "Namespaced"]))

    versions = spec.get("versions") or []
    top_schema = _hoisted(versions, "schema")
    top_sub = _hoisted(versions, "subresources")
    top_cols = _hoisted(versions, "additionalPrinterColumns")
    schemas_of = [None if top_schema else v.get("schema") for v in versions]
    if not (top_schema and top_schema.get("openAPIV3Schema")):
        for i, sch in enumerate(schemas_of):
            if not (sch and sch.get("openAPIV3Schema")):
                errs.append(_required(_child(_index(_child(fld, "versions"), i), "schema", "openAPIV3Schema"),
                                      "schemas are required"))
    if spec.get("preserveUnknownFields") is True and _spec_has(spec, lambda s: "default" in s):
        errs.append(_invalid(_child(fld, "preserveUnknownFields"), True,
                             "must be false in order to use defaults in the schema"))

    seen, unique, storage = set(), True, 0
    for i, v in enumerate(versions):
        vfld = _index(_child(fld, "versions"), i)
        storage += bool(v.get("storage"))
        if v.get("name") in seen:
            unique = False
        seen.add(v.get("name"))
        msgs = is_dns1035_label(v.get("name") or "")
        if msgs:
            errs.append(_invalid(_child(vfld, "name"), v.get("name") or "", ",".join(msgs)))
        sub = top_sub if top_sub else v.get("subresources")
        status_enabled = isinstance(sub, dict) and "status" in sub and sub["status"] is not None
        errs += _deprecation_errors(v, vfld)
        if not top_schema:
            errs += _crd_validation_errors(v.get("schema"), status_enabled, _child(vfld, "schema"))
        if not top_sub:
            errs += _subresources_errors(v.get("subresources"), _child(vfld, "subresources"))
        if not top_cols:
            for j, col in enumerate(v.get("additionalPrinterColumns") or []):
                errs += _column_errors(col, _index(_child(vfld, "additionalPrinterColumns"), j))
    if not unique:
        errs.append(_invalid(_child(fld, "versions"), _versions_repr(versions), "must contain unique version names"))
    if storage != 1:
        errs.append(_invalid(_child(fld, "versions"), _versions_repr(versions),
                             "must have exactly one version marked as storage version"))
    if versions:
        # the internal spec.version is versions[0].name after conversion, and is validated too
        msgs = is_dns1035_label(versions[0].get("name") or "")
        if versions[0].get("name") and msgs:
            errs.append(_invalid(_child(fld, "version"), versions[0]["name"], ",".join(msgs)))

    names = spec.get("names") or {}
    for key in ("plural", "singular", "kind", "listKind"):
        if not names.get(key):
            errs.append(_required(_child(fld, "names", key)))
    errs += _crd_names_errors(names, _child(fld, "names"))
    if top_schema:
        any_status = any(isinstance(s, dict) and s.get("status") is not None
                         for s in ([top_sub] if top_sub else [v.get("subresources") for v in versions]))
        errs += _crd_validation_errors(top_schema, any_status, _child(fld, "validation"))
    if top_sub:
        errs += _subresources_errors(top_sub, _child(fld, "subresources"))
    if top_cols:
        for j, col in enumerate(top_cols):
            errs += _column_errors(col, _index(_child(fld, "additionalPrinterColumns"), j))
    errs += _conversion_errors(spec.get("conversion"), _child(fld, "conversion"))
    return errs


def _deprecation_errors(v, vfld):
    dw = v.get("deprecationWarning")
    if dw is None:
        return []
    p = _child(vfld, "deprecationWarning")
    if not v.get("deprecated"):
        return [_invalid(p, dw, "can only be set for deprecated versions")]
    errs = []
    if len(dw) > 256:
        errs.append(_invalid(p, dw, "must be <= 256 characters long"))
    if not dw:
        errs.append(_invalid(p, dw, "must not be an empty string"))
    for i, ch in enumerate(dw):
        if not ch.isprintable():
            errs.append(_invalid(p, dw, "must only contain printable UTF-8 characters; non-printable character "
                                        "found at index %d" % len(dw[:i].encode())))
            break
    return errs


def _subresources_errors(sub, fld):
    errs = []
    scale = (sub or {}).get("scale")
    if not isinstance(scale, dict):
        return errs
    for key, prefix, under in (("specReplicasPath", ".spec.", ".spec"), ("statusReplicasPath", ".status.", ".status")):
        p = _child(fld, "scale." + key)
        v = scale.get(key) or ""
        if not v:
            errs.append(_required(p))
        else:
            jp = _simple_json_path_errors(v, p)
            if jp:
                errs += jp
            elif not v.startswith(prefix):
                errs.append(_invalid(p, v, "should be a json path under " + under))
    lsp = scale.get("labelSelectorPath")
    if lsp:
        p = _child(fld, "scale.labelSelectorPath")
        jp = _simple_json_path_errors(lsp, p)
        if jp:
            errs += jp
        elif not (lsp.startswith(".spec.") or lsp.startswith(".status.")):
            errs.append(_invalid(p, lsp, "should be a json path under either .spec or .status"))
    return errs


def _simple_json_path_errors(s, p):
    if not s:
        return [_invalid(p, s, "must not be empty")]
    if s[0] != ".":
        return [_invalid(p, s, "must be a simple json path starting with .")]
    return []


def _column_errors(col, fld):
    errs = []
    if not col.get("name"):
        errs.append(_required(_child(fld, "name")))
    t = col.get("type") or ""
    if not t:
        errs.append(_required(_child(fld, "type"), "must be one of " + ",".join(_PRINTER_TYPES)))
    elif t not in _PRINTER_TYPES:
        errs.append(_invalid(_child(fld, "type"), t, "must be one of " + ",".join(_PRINTER_TYPES)))
    f = col.get("format") or ""
    if f and f not in _COLUMN_FORMATS:
        errs.append(_invalid(_child(fld, "format"), f, "must be one of " + ",".join(_COLUMN_FORMATS)))
    jp = col.get("jsonPath") or ""
    if not jp:
        errs.append(_required(_child(fld, "JSONPath")))
    else:
        errs += _simple_json_path_errors(jp, _child(fld, "JSONPath"))
    return errs


def _conversion_errors(conv, fld):
    if conv is None:
        return []
    errs = []
    strategy = conv.get("strategy") or ""
    if not strategy:
        errs.append(_required(_child(fld, "strategy")))
    elif strategy not in ("None", "Webhook"):
        errs.append(_not_supported(_child(fld, "strategy"), strategy, ["None", "Webhook"]))
    webhook = conv.get("webhook") or {}
    cc = webhook.get("clientConfig")
    if strategy == "Webhook":
        if cc is None:
            errs.append(_required(_child(fld, "webhookClientConfig"), "required when strategy is set to Webhook"))
        elif (cc.get("url") is None) == (cc.get("service") is None):
            errs.append(_required(_child(fld, "webhookClientConfig"), "exactly one of url or service is required"))
        crv = webhook.get("conversionReviewVersions") or []
        p = _child(fld, "conversionReviewVersions")
        if not crv:
            errs.append(_required(p))
        elif not any(v in ("v1", "v1beta1") for v in crv):
            errs.append(_invalid(p, crv, "must include at least one of v1, v1beta1"))
    elif cc is not None:
        errs.append(_forbidden(_child(fld, "webhookClientConfig"), "should not be set when strategy is not set to "
                                                                     "Webhook"))
    return errs


def _spec_has(spec, pred):
    return any(_schema_has(((v.get("schema") or {}).get("openAPIV3Schema")), pred)
               for v in spec.get("versions") or [])


def _schema_has(s, pred):
    if not isinstance(s, dict):
        return False
    if pred(s):
        return True
    subs = list((s.get("properties") or {}).values()) + list(s.get("allOf") or []) + list(s.get("anyOf") or []) \
        + list(s.get("oneOf") or []) + [s.get("not"), s.get("items"), s.get("additionalProperties")]
    return any(_schema_has(x, pred) for x in subs)


def _crd_validation_errors(validation, status_enabled, fld):
    """validateCustomResourceDefinitionValidation for one CustomResourceValidation."""
    errs = []
    schema = (validation or {}).get("openAPIV3Schema")
    if not isinstance(schema, dict):
        return errs
    if status_enabled:
        for jname, gname in _SCHEMA_FIELDS:
            if jname not in schema or _is_zero_field(jname, schema[jname]):
                continue
            if gname == "Type":
                if schema["type"] != "object":
                    errs.append(_invalid(_child(fld, "openAPIV3Schema.type"), schema["type"],
                                         'only "object" is allowed as the type at the root of the schema if the '
                                         'status subresource is enabled'))
                    break
                continue
            if gname not in _ALLOWED_AT_ROOT:
                errs.append(_invalid(_child(fld, "openAPIV3Schema"), _schema_repr(schema),
                                     "only [%s] fields are allowed at the root of the schema if the status "
                                     "subresource is enabled" % " ".join(_ALLOWED_AT_ROOT)))
                break
    if schema.get("nullable"):
        errs.append(_forbidden(_child(fld, "openAPIV3Schema.nullable"), "nullable cannot be true at the root"))
    root_path = _child(fld, "openAPIV3Schema")
    errs += _openapi_schema_errors(schema, root_path, _SSV(), True)
    structural = _structural_errors(schema, root_path)
    if structural:
        errs += structural
    else:
        errs += _default_errors(schema, root_path, True, False)
    return errs


class _SSV:
    """specStandardValidatorV3 state: whether defaults are allowed and whether we are inside resource meta."""

    def __init__(self, allow_defaults=True, reason="", inside_meta=False):
        self.allow_defaults, self.reason, self.inside_meta = allow_defaults, reason, inside_meta

    def forbid_defaults(self, reason):
        return _SSV(False, reason, self.inside_meta)

    def in_meta(self):
        return _SSV(self.allow_defaults, self.reason, True)


def _openapi_schema_errors(s, fld, ssv, is_root):
    """ValidateCustomResourceDefinitionOpenAPISchema."""
    if not isinstance(s, dict):
        return []
    errs = []
    t = s.get("type")
    if t and t not in _OPENAPI_TYPES:
        errs.append(_not_supported(_child(fld, "type"), t, _OPENAPI_TYPES))
    if "default" in s and not ssv.allow_defaults:
        errs.append(_forbidden(_child(fld, "default"), "must not be set" + (" " + ssv.reason if ssv.reason else "")))
    for key, msg in (("id", "id is not supported"), ("additionalItems", "additionalItems is not supported"),
                     ("patternProperties", "patternProperties is not supported"),
                     ("definitions", "definitions is not supported"),
                     ("dependencies", "dependencies is not supported"), ("$ref", "$ref is not supported")):
        if s.get(key):
            errs.append(_forbidden(_child(fld, key), msg))
    if t == "null":
        errs.append(_forbidden(_child(fld, "type"), "type cannot be set to null, use nullable as an alternative"))
    if isinstance(s.get("items"), list):
        errs.append(_forbidden(_child(fld, "items"), "items must be a schema object and not an array"))
    if ssv.inside_meta and s.get("x-kubernetes-embedded-resource"):
        errs.append(_forbidden(_child(fld, "x-kubernetes-embedded-resource"), "must not be used inside of resource meta"))
    if s.get("uniqueItems") is True:
        errs.append(_forbidden(_child(fld, "uniqueItems"),
                               "uniqueItems cannot be set to true since the runtime complexity becomes quadratic"))
    if "additionalProperties" in s:
        ap = s["additionalProperties"]
        if s.get("properties") and (ap is False or isinstance(ap, dict)):
            errs.append(_forbidden(_child(fld, "additionalProperties"), "additionalProperties and properties are "
                                                                         "mutual exclusive"))
        sub = ssv.forbid_defaults("inside additionalProperties applying to object metadata") if ssv.inside_meta \
            else ssv
        errs += _openapi_schema_errors(ap if isinstance(ap, dict) else None, _child(fld, "additionalProperties"),
                                       sub, False)
    for k in sorted(s.get("properties") or {}):
        sub = ssv
        if (is_root or s.get("x-kubernetes-embedded-resource")) and k in _META_FIELDS:
            sub = ssv.in_meta()
            if is_root:
                sub = sub.forbid_defaults("in top-level %s" % k)
        errs += _openapi_schema_errors(s["properties"][k], _key(_child(fld, "properties"), k), sub, False)
    errs += _openapi_schema_errors(s.get("not"), _child(fld, "not"), ssv, False)
    for key in ("allOf", "oneOf", "anyOf"):
        for i, sub in enumerate(s.get(key) or []):
            errs += _openapi_schema_errors(sub, _index(_child(fld, key), i), ssv, False)
    if isinstance(s.get("items"), dict):
        errs += _openapi_schema_errors(s["items"], _child(fld, "items"), ssv, False)
    if s.get("x-kubernetes-preserve-unknown-fields") is False:
        errs.append(_invalid(_child(fld, "x-kubernetes-preserve-unknown-fields"), False, "must be true or undefined"))
    mt = s.get("x-kubernetes-map-type")
    if mt is not None and t != "object":
        if not t:
            errs.append(_required(_child(fld, "type"), "must be object if x-kubernetes-map-type is specified"))
        else:
            errs.append(_invalid(_child(fld, "type"), t, "must be object if x-kubernetes-map-type is specified"))
    if mt is not None and mt not in ("atomic", "granular"):
        errs.append(_not_supported(_child(fld, "x-kubernetes-map-type"), mt, ["atomic", "granular"]))
    lt = s.get("x-kubernetes-list-type")
    items = s.get("items") if isinstance(s.get("items"), dict) else None
    if lt is not None and t != "array":
        if not t:
            errs.append(_required(_child(fld, "type"), "must be array if x-kubernetes-list-type is specified"))
        else:
            errs.append(_invalid(_child(fld, "type"), t, "must be array if x-kubernetes-list-type is specified"))
    elif lt == "set" and items is not None:
        it = items.get("type")
        if it == "array" and items.get("x-kubernetes-list-type") not in (None, "atomic"):
            errs.append(_invalid(_child(fld, "items", "x-kubernetes-list-type"), items["x-kubernetes-list-type"],
                                 "must be atomic as item of a list with x-kubernetes-list-type=set"))
        elif it == "object" and items.get("x-kubernetes-map-type") != "atomic":
            errs.append(_invalid(_child(fld, "items", "x-kubernetes-map-type"), items.get("x-kubernetes-list-type"),
                                 "must be atomic as item of a list with x-kubernetes-list-type=set"))
    if lt is not None and lt not in ("atomic", "set", "map"):
        errs.append(_not_supported(_child(fld, "x-kubernetes-list-type"), lt, ["atomic", "set", "map"]))
    keys = s.get("x-kubernetes-list-map-keys") or []
    if keys:
        if lt is None:
            errs.append(_required(_child(fld, "x-kubernetes-list-type"), "must be map if x-kubernetes-list-map-keys "
                                                                          "is non-empty"))
        elif lt != "map":
            errs.append(_invalid(_child(fld, "x-kubernetes-list-type"), lt, "must be map if x-kubernetes-list-map-keys "
                                                                             "is non-empty"))
    if lt == "map":
        if not keys:
            errs.append(_required(_child(fld, "x-kubernetes-list-map-keys"), "must not be empty if "
                                                                              "x-kubernetes-list-type is map"))
        if "items" not in s:
            errs.append(_required(_child(fld, "items"), "must have a schema if x-kubernetes-list-type is map"))
        if items is not None and items.get("type") != "object":
            errs.append(_invalid(_child(fld, "items", "type"), items.get("type", ""),
                                 "must be object if parent array's x-kubernetes-list-type is map"))
        if items is not None and items.get("type") == "object":
            seen = set()
            for k in keys:
                prop = (items.get("properties") or {}).get(k)
                if prop is not None:
                    if prop.get("type") in ("array", "object"):
                        errs.append(_invalid(_child(_key(_child(fld, "items", "properties"), k), "type"),
                                             items.get("type"), "must be a scalar type if parent array's "
                                                                "x-kubernetes-list-type is map"))
                else:
                    errs.append(_invalid(_child(fld, "x-kubernetes-list-map-keys"), keys,
                                         "entries must all be names of item properties"))
                if k in seen:
                    errs.append(_invalid(_child(fld, "x-kubernetes-list-map-keys"), keys,
                                         "must not contain duplicate entries"))
                seen.add(k)
    for i, rule in enumerate(s.get("x-kubernetes-validations") or []):
        rp = _index(_child(fld, "x-kubernetes-validations"), i)
        r, m = (rule.get("rule") or "").strip(), rule.get("message") or ""
        if not r:
            errs.append(_required(_child(rp, "rule"), "rule is not specified"))
        elif m and not m.strip():
            errs.append(_invalid(_child(rp, "message"), m, "message must be non-empty if specified"))
        elif re.search(r"[\n\r]", m.strip()):
            errs.append(_invalid(_child(rp, "message"), m, "message must not contain line breaks"))
        elif re.search(r"[\n\r]", r) and not m.strip():
            errs.append(_required(_child(rp, "message"), "message must be specified if rule contains line breaks"))
    if lt in ("set", "map") and items is not None:
        if items.get("nullable"):
            errs.append(_forbidden(_child(fld, "items", "nullable"), "cannot be nullable when x-kubernetes-list-type "
                                                                      "is " + lt))
        if lt == "map":
            required = set(items.get("required") or [])
            for k in keys:
                prop = (items.get("properties") or {}).get(k)
                if prop is None:
                    continue
                pp = _key(_child(fld, "items", "properties"), k)
                if k not in required and prop.get("default") is None:
                    errs.append(_required(_child(pp, "default"), "this property is in x-kubernetes-list-map-keys, "
                                                                  "so it must have a default or be a required property"))
                if prop.get("nullable"):
                    errs.append(_forbidden(_child(pp, "nullable"), "this property is in x-kubernetes-list-map-keys, "
                                                                    "so it cannot be nullable"))
    return errs


# -- structural schema rules (schema.ValidateStructural) ----------------------

_ROOT, _ITEM, _FIELD = 0, 1, 2


def _structural_errors(s, fld):
    errs = _structural_invariants(s, _ROOT, fld)
    errs += _completeness(s, fld)
    # the real code sorts by error string: the map iteration order would make it random otherwise
    return sorted(errs, key=lambda e: e.error())


def _is_int_or_string_anyof(anyof):
    return isinstance(anyof, list) and len(anyof) == 2 and anyof[0] == {"type": "integer"} \
        and anyof[1] == {"type": "string"}


def _structural_invariants(s, lvl, fld):
    if not isinstance(s, dict):
        return []
    errs = []
    t = s.get("type") or ""
    if t == "array" and not isinstance(s.get("items"), dict):
        errs.append(_required(_child(fld, "items"), "must be specified"))
    if isinstance(s.get("items"), dict):
        errs += _structural_invariants(s["items"], _ITEM, _child(fld, "items"))
    for k in sorted(s.get("properties") or {}):
        errs += _structural_invariants(s["properties"][k], _FIELD, _key(_child(fld, "properties"), k))
    if "additionalProperties" in s:      # a non-nil pointer, even for `false`
        if lvl == _ROOT:
            errs.append(_forbidden(_child(fld, "additionalProperties"), "must not be used at the root"))
        if isinstance(s["additionalProperties"], dict):
            errs += _structural_invariants(s["additionalProperties"], _FIELD, _child(fld, "additionalProperties"))
    ios = bool(s.get("x-kubernetes-int-or-string"))
    preserve = bool(s.get("x-kubernetes-preserve-unknown-fields"))
    embedded = bool(s.get("x-kubernetes-embedded-resource"))
    if ios and preserve:
        errs.append(_invalid(_child(fld, "x-kubernetes-preserve-unknown-fields"), True,
                             "must be false if x-kubernetes-int-or-string is true"))
    if ios and embedded:
        errs.append(_invalid(_child(fld, "x-kubernetes-embedded-resource"), True,
                             "must be false if x-kubernetes-int-or-string is true"))
    skip_anyof = _is_int_or_string_anyof(s.get("anyOf"))
    all_of = s.get("allOf") or []
    skip_first_allof_anyof = bool(all_of) and isinstance(all_of[0], dict) and \
        _is_int_or_string_anyof(all_of[0].get("anyOf"))
    errs += _value_validation(s, skip_anyof, skip_first_allof_anyof, lvl, fld)
    check_meta = lvl == _ROOT or embedded
    if embedded and t != "object":
        if not t:
            errs.append(_required(_child(fld, "type"), "must be object if x-kubernetes-embedded-resource is true"))
        else:
            errs.append(_invalid(_child(fld, "type"), t, "must be object if x-kubernetes-embedded-resource is true"))
    elif not t and not ios and not preserve:
        errs.append(_required(_child(fld, "type"), {_ROOT: "must not be empty at the root",
                                                    _ITEM: "must not be empty for specified array items",
                                                    _FIELD: "must not be empty for specified object fields"}[lvl]))
    if embedded and "additionalProperties" in s:
        errs.append(_forbidden(_child(fld, "additionalProperties"), "must not be used if x-kubernetes-embedded-resource "
                                                                     "is set"))
    if lvl == _ROOT and t and t != "object":
        errs.append(_invalid(_child(fld, "type"), t, "must be object at the root"))
    props = s.get("properties") or {}
    for k in ("kind", "apiVersion"):
        if k in props and check_meta and props[k].get("type") != "string":
            errs.append(_invalid(_child(_key(_child(fld, "properties"), k), "type"), props[k].get("type", ""),
                                 "must be string"))
    if "metadata" in props:
        errs += _structural_metadata(props["metadata"], check_meta, lvl, _key(_child(fld, "properties"), "metadata"))
    if embedded and not preserve and not props:
        errs.append(_required(_child(fld, "properties"), "must not be empty if x-kubernetes-embedded-resource is true "
                                                          "without x-kubernetes-preserve-unknown-fields"))
    return errs


def _structural_metadata(m, check_meta, lvl, fld):
    errs = []
    if check_meta and m.get("type") != "object":
        errs.append(_invalid(_child(fld, "type"), m.get("type", ""), "must be object"))
    if lvl == _ROOT:
        # validateStructuralMetadataInvariants: drop type, default and a name/generateName-only
        # properties map; anything left over is a forbidden restriction of metadata.
        props = m.get("properties") or {}
        only_names = set(props) <= {"name", "generateName"} and len(props) in (1, 2)
        rest = [k for k in m if k not in ("type", "default", "properties")]
        if rest or (props and not only_names):
            errs.append(_forbidden(fld, "must not specify anything other than name and generateName, but metadata is "
                                        "implicitly specified"))
    return errs


def _value_validation(s, skip_anyof, skip_first_allof_anyof, lvl, fld):
    errs = []
    if not skip_anyof:
        for i, sub in enumerate(s.get("anyOf") or []):
            errs += _nested_value_validation(sub, False, lvl, _index(_child(fld, "anyOf"), i))
    for i, sub in enumerate(s.get("allOf") or []):
        errs += _nested_value_validation(sub, skip_first_allof_anyof and i == 0, lvl, _index(_child(fld, "allOf"), i))
    for i, sub in enumerate(s.get("oneOf") or []):
        errs += _nested_value_validation(sub, False, lvl, _index(_child(fld, "oneOf"), i))
    if isinstance(s.get("not"), dict):
        errs += _nested_value_validation(s["not"], False, lvl, _child(fld, "not"))
    if s.get("pattern"):
        try:
            re.compile(s["pattern"])
        except re.error as e:
            errs.append(_invalid(_child(fld, "pattern"), s["pattern"],
                                 "must be a valid regular expression, but isn't: %s" % e))
    return errs


def _nested_value_validation(v, skip_anyof, lvl, fld):
    if not isinstance(v, dict):
        return []
    errs = _value_validation(v, skip_anyof, False, lvl, fld)
    if isinstance(v.get("items"), dict):
        errs += _nested_value_validation(v["items"], False, lvl, _child(fld, "items"))
    for k in sorted(v.get("properties") or {}):
        errs += _nested_value_validation(v["properties"][k], False, _FIELD, _key(_child(fld, "properties"), k))
    forbidden = [("type", "must be empty to be structural"), ("additionalProperties", "must be undefined to be structural"),
                 ("default", "must be undefined to be structural"), ("title", "must be empty to be structural"),
                 ("description", "must be empty to be structural"), ("nullable", "must be false to be structural"),
                 ("externalDocs", "must be undefined to be structural"),
                 ("x-kubernetes-preserve-unknown-fields", "must be false to be structural"),
                 ("x-kubernetes-embedded-resource", "must be false to be structural"),
                 ("x-kubernetes-int-or-string", "must be false to be structural"),
                 ("x-kubernetes-list-map-keys", "must be empty to be structural"),
                 ("x-kubernetes-list-type", "must be undefined to be structural"),
                 ("x-kubernetes-map-type", "must be undefined to be structural"),
                 ("x-kubernetes-validations", "must be empty to be structural")]
    for key, msg in forbidden:
        present = key in v if key == "additionalProperties" else \
            (v.get(key) is not None if key == "default" else not _is_zero(v.get(key)))
        if present:
            errs.append(_forbidden(_child(fld, key), msg))
    if "metadata" in (v.get("properties") or {}):
        errs.append(_forbidden(_key(_child(fld, "properties"), "metadata"), "must not be specified in a nested context"))
    return errs


def _completeness(s, fld):
    """validateStructuralCompleteness (as the real code: only the root's value validations)."""
    errs = []
    for key in ("not", "allOf", "anyOf", "oneOf"):
        subs = [s.get("not")] if key == "not" else (s.get(key) or [])
        for i, v in enumerate(subs):
            if isinstance(v, dict):
                vp = _child(fld, "not") if key == "not" else _index(_child(fld, key), i)
                errs += _nested_completeness(v, s, fld, vp)
    return errs


def _nested_completeness(v, s, spath, vpath):
    if not isinstance(v, dict):
        return []
    if s is None:
        return [_required(spath, "because it is defined in %s" % vpath)]
    errs = []
    for key in ("not", "allOf", "anyOf", "oneOf"):
        subs = [v.get("not")] if key == "not" else (v.get(key) or [])
        for i, sub in enumerate(subs):
            if isinstance(sub, dict):
                errs += _nested_completeness(sub, s, spath, _child(vpath, "not") if key == "not"
                                             else _index(_child(vpath, key), i))
    if isinstance(v.get("items"), dict):
        errs += _nested_completeness(v["items"], _items(s), _child(spath, "items"), _child(vpath, "items"))
    sprops = _props(s)
    for k in sorted(v.get("properties") or {}):
        if k not in sprops:
            errs.append(_required(_key(_child(spath, "properties"), k), "because it is defined in %s"
                                  % _key(_child(vpath, "properties"), k)))
        else:
            errs += _nested_completeness(v["properties"][k], sprops[k], _key(_child(spath, "properties"), k),
                                         _key(_child(vpath, "properties"), k))
    return errs


# -- defaults (defaulting.ValidateDefaults) -------------------------------------

def _default_errors(s, fld, is_root, inside_meta):
    if not isinstance(s, dict):
        return []
    embedded = is_root or s.get("x-kubernetes-embedded-resource")
    if embedded:
        inside_meta = False
    errs = []
    if "default" in s and s["default"] is not None and not inside_meta:
        dflt = s["default"]
        pruned = copy.deepcopy(dflt)
        node = dict(s)
        if s.get("x-kubernetes-embedded-resource"):
            node["x-kubernetes-embedded-resource"] = True
        _prune(pruned, node, [], [])
        dpath = _child(fld, "default")
        if pruned != dflt:
            errs.append(_invalid(dpath, dflt, "must not have unknown fields"))
        errs += _OpenAPIValidator(dpath).validate(dflt, s, "")
    if isinstance(s.get("items"), dict):
        errs += _default_errors(s["items"], _child(fld, "items"), False, inside_meta)
    for k in sorted(s.get("properties") or {}):
        sub_meta = inside_meta or (embedded and k in _META_FIELDS)
        errs += _default_errors(s["properties"][k], _key(_child(fld, "properties"), k), False, sub_meta)
    return errs

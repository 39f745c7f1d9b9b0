"""Decoding of the protobuf request bodies kubectl sends.

kubectl's typed clients (`kubectl create namespace|configmap|secret|serviceaccount`)
post `application/vnd.kubernetes.protobuf` bodies, and client-go does not fall
back to JSON on 415. The envelope is the magic "k8s\\0" followed by a
runtime.Unknown {typeMeta{apiVersion, kind}, raw}; raw is the object in the
field numbering of k8s.io/api's generated.proto. We decode the kinds kubectl
creates that way; anything else answers 415 as a server without protobuf would.
"""
import base64
import datetime

MAGIC = b"k8s\x00"


class DecodeError(Exception):
    pass


def _varint(buf, i):
    shift = result = 0
    while True:
        if i >= len(buf):
            raise DecodeError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise DecodeError("varint too long")


def fields(buf):
    """Yields (field number, wire type, value) of one message."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 2:
            n, i = _varint(buf, i)
            if i + n > len(buf):
                raise DecodeError("truncated field %d" % num)
            v, i = buf[i:i + n], i + n
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise DecodeError("unsupported wire type %d" % wt)
        yield num, wt, v


def _time(buf):
    secs = nanos = 0
    for num, _, v in fields(buf):
        if num == 1:
            secs = v
        elif num == 2:
            nanos = v
    return datetime.datetime.fromtimestamp(secs, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _signed(v):
    return v - (1 << 64) if v >= 1 << 63 else v


OWNER_REF = {5: ("apiVersion", "str"), 1: ("kind", "str"), 3: ("name", "str"), 4: ("uid", "str"),
             6: ("controller", "bool"), 7: ("blockOwnerDeletion", "bool")}
OBJECT_META = {1: ("name", "str"), 2: ("generateName", "str"), 3: ("namespace", "str"), 5: ("uid", "str"),
               6: ("resourceVersion", "str"), 7: ("generation", "int"), 8: ("creationTimestamp", "time"),
               9: ("deletionTimestamp", "time"), 10: ("deletionGracePeriodSeconds", "int"),
               11: ("labels", ("map", "str")), 12: ("annotations", ("map", "str")),
               13: ("ownerReferences", ("list", OWNER_REF)), 14: ("finalizers", ("list", "str"))}
OBJECT_REF = {1: ("kind", "str"), 2: ("namespace", "str"), 3: ("name", "str"), 4: ("uid", "str"),
              5: ("apiVersion", "str"), 6: ("resourceVersion", "str"), 7: ("fieldPath", "str")}

SCHEMAS = {
    ("v1", "ConfigMap"): {1: ("metadata", OBJECT_META), 2: ("data", ("map", "str")),
                          3: ("binaryData", ("map", "bytes")), 4: ("immutable", "bool")},
    ("v1", "Secret"): {1: ("metadata", OBJECT_META), 2: ("data", ("map", "bytes")), 3: ("type", "str"),
                       4: ("stringData", ("map", "str")), 5: ("immutable", "bool")},
    ("v1", "Namespace"): {1: ("metadata", OBJECT_META), 2: ("spec", {1: ("finalizers", ("list", "str"))}),
                          3: ("status", {1: ("phase", "str")})},
    ("v1", "ServiceAccount"): {1: ("metadata", OBJECT_META), 2: ("secrets", ("list", OBJECT_REF)),
                               3: ("imagePullSecrets", ("list", {1: ("name", "str")})),
                               4: ("automountServiceAccountToken", "bool")},
}


def _value(kind, wt, v):
    if kind == "str":
        return v.decode()
    if kind == "bytes":
        return base64.b64encode(v).decode()
    if kind == "int":
        return _signed(v)
    if kind == "bool":
        return bool(v)
    if kind == "time":
        return _time(v)
    if isinstance(kind, dict):
        return message(v, kind)
    raise DecodeError("bad schema")


def message(buf, schema):
    out = {}
    for num, wt, v in fields(buf):
        if num not in schema:
            continue
        name, kind = schema[num]
        if isinstance(kind, tuple) and kind[0] == "map":
            k = val = None
            for n2, w2, v2 in fields(v):
                if n2 == 1:
                    k = v2.decode()
                elif n2 == 2:
                    val = _value(kind[1], w2, v2)
            out.setdefault(name, {})[k] = val if val is not None else ("" if kind[1] in ("str", "bytes") else None)
        elif isinstance(kind, tuple) and kind[0] == "list":
            out.setdefault(name, []).append(_value(kind[1], wt, v))
        else:
            val = _value(kind, wt, v)
            if val == "" or (kind == "int" and val == 0):
                continue    # gogo writes empty optional scalars; JSON omits them
            out[name] = val
    return out


def decode(body):
    """The JSON form of a protobuf-encoded object, or DecodeError."""
    if not body.startswith(MAGIC):
        raise DecodeError("missing k8s protobuf magic")
    api_version = kind = ""
    raw = b""
    for num, _, v in fields(body[len(MAGIC):]):
        if num == 1:
            for n2, _, v2 in fields(v):
                if n2 == 1:
                    api_version = v2.decode()
                elif n2 == 2:
                    kind = v2.decode()
        elif num == 2:
            raw = v
    schema = SCHEMAS.get((api_version, kind))
    if schema is None:
        raise DecodeError("kube-sim cannot decode %s %s from protobuf" % (api_version, kind))
    obj = message(raw, schema)
    obj = dict({"apiVersion": api_version, "kind": kind}, **obj)
    obj.setdefault("metadata", {})
    return obj

/*
 * registry/errors: the typed errors of the client and the decoding of the registry's
 * JSON error body ({"errors":[{"code","message","detail"}]}, distribution spec).
 * The registry's code decides the type when there is one, because a status alone is
 * ambiguous (a 404 is a missing manifest, blob, repository or upload session; a 400 is
 * an invalid manifest or a bad digest).
 */
#include "registry/registry_internal.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXCERPT_MAX 200

static const struct {
    registry_err_t err;
    const char *name;
} err_names[] = {
    {REGISTRY_OK, "OK"},
    {REGISTRY_ERR_INVALID_REFERENCE, "InvalidReference"},
    {REGISTRY_ERR_UNAUTHORIZED, "Unauthorized"},
    {REGISTRY_ERR_DENIED, "Denied"},
    {REGISTRY_ERR_NOT_FOUND, "NotFound"},
    {REGISTRY_ERR_MANIFEST_INVALID, "ManifestInvalid"},
    {REGISTRY_ERR_DIGEST_MISMATCH, "DigestMismatch"},
    {REGISTRY_ERR_INVALID, "Invalid"},
    {REGISTRY_ERR_UNSUPPORTED, "Unsupported"},
    {REGISTRY_ERR_TOO_MANY_REQUESTS, "TooManyRequests"},
    {REGISTRY_ERR_SERVER, "ServerError"},
    {REGISTRY_ERR_TRANSPORT, "Transport"},
    {REGISTRY_ERR_PROTOCOL, "Protocol"},
    {REGISTRY_ERR_IO, "IO"},
    {REGISTRY_ERR_CLIENT, "Client"},
    {REGISTRY_ERR_UNKNOWN, "Unknown"},
};

/* Error codes of the distribution spec (and the ones registries commonly add). */
static const struct {
    const char *code;
    registry_err_t err;
} code_map[] = {
    {"UNAUTHORIZED", REGISTRY_ERR_UNAUTHORIZED},
    {"DENIED", REGISTRY_ERR_DENIED},
    {"MANIFEST_UNKNOWN", REGISTRY_ERR_NOT_FOUND},
    {"BLOB_UNKNOWN", REGISTRY_ERR_NOT_FOUND},
    {"NAME_UNKNOWN", REGISTRY_ERR_NOT_FOUND},
    {"BLOB_UPLOAD_UNKNOWN", REGISTRY_ERR_NOT_FOUND},
    {"MANIFEST_INVALID", REGISTRY_ERR_MANIFEST_INVALID},
    {"MANIFEST_BLOB_UNKNOWN", REGISTRY_ERR_MANIFEST_INVALID},
    {"MANIFEST_UNVERIFIED", REGISTRY_ERR_MANIFEST_INVALID},
    {"DIGEST_INVALID", REGISTRY_ERR_DIGEST_MISMATCH},
    {"NAME_INVALID", REGISTRY_ERR_INVALID},
    {"TAG_INVALID", REGISTRY_ERR_INVALID},
    {"SIZE_INVALID", REGISTRY_ERR_INVALID},
    {"BLOB_UPLOAD_INVALID", REGISTRY_ERR_INVALID},
    {"RANGE_INVALID", REGISTRY_ERR_INVALID},
    {"PAGINATION_NUMBER_INVALID", REGISTRY_ERR_INVALID},
    {"UNSUPPORTED", REGISTRY_ERR_UNSUPPORTED},
    {"TOOMANYREQUESTS", REGISTRY_ERR_TOO_MANY_REQUESTS},
};

void registry_error_clear(registry_error_t *e)
{
    if (!e)
        return;
    free(e->code);
    free(e->message);
    e->err = REGISTRY_OK;
    e->http_code = 0;
    e->code = NULL;
    e->message = NULL;
}

const char *registry_err_name(registry_err_t err)
{
    for (size_t i = 0; i < UTIL_ARRAY_LEN(err_names); i++)
        if (err_names[i].err == err)
            return err_names[i].name;
    return "Unknown";
}

const char *registry_error_str(const registry_error_t *e, char *out, size_t len)
{
    if (len == 0)
        return out;
    if (!e || e->err == REGISTRY_OK) {
        snprintf(out, len, "OK");
        return out;
    }
    buf_t b = BUF_INIT;
    buf_puts(&b, registry_err_name(e->err));
    if (e->http_code)
        buf_printf(&b, " (%ld)", e->http_code);
    if (e->code)
        buf_printf(&b, " %s", e->code);
    if (e->message)
        buf_printf(&b, ": %s", e->message);
    snprintf(out, len, "%s", b.data ? b.data : registry_err_name(e->err));
    buf_free(&b);
    return out;
}

registry_err_t registry_error_setv(registry_error_t *e, registry_err_t err, long http_code,
                                   const char *code, const char *fmt, va_list ap)
{
    if (!e)
        return err;
    registry_error_clear(e);
    e->err = err;
    e->http_code = http_code;
    e->code = util_strdup(code);
    buf_t b = BUF_INIT;
    buf_vprintf(&b, fmt, ap);
    e->message = b.oom ? NULL : buf_steal(&b);
    buf_free(&b);
    if (!e->message)
        e->message = util_strdup(registry_err_name(err));
    return err;
}

registry_err_t registry_error_set(registry_error_t *e, registry_err_t err, long http_code,
                                  const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    registry_error_setv(e, err, http_code, code, fmt, ap);
    va_end(ap);
    return err;
}

registry_err_t registry_error_prefix(registry_error_t *e, const char *fmt, ...)
{
    if (!e || e->err == REGISTRY_OK)
        return e ? e->err : REGISTRY_OK;
    buf_t b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    buf_printf(&b, ": %s", e->message ? e->message : "");
    if (!b.oom) {
        free(e->message);
        e->message = buf_steal(&b);
    }
    buf_free(&b);
    return e->err;
}

static registry_err_t err_from_status(long code)
{
    switch (code) {
    case 400:
        return REGISTRY_ERR_INVALID;
    case 401:
        return REGISTRY_ERR_UNAUTHORIZED;
    case 403:
        return REGISTRY_ERR_DENIED;
    case 404:
        return REGISTRY_ERR_NOT_FOUND;
    case 405:
    case 415:
        return REGISTRY_ERR_UNSUPPORTED;
    case 416:
        return REGISTRY_ERR_INVALID;
    case 429:
        return REGISTRY_ERR_TOO_MANY_REQUESTS;
    default:
        return code >= 500 && code <= 599 ? REGISTRY_ERR_SERVER : REGISTRY_ERR_UNKNOWN;
    }
}

/* The first line of a non-JSON body, cut on a UTF-8 boundary. */
static char *excerpt(const char *body, size_t len)
{
    size_t start = 0;
    while (start < len && (body[start] == ' ' || body[start] == '\n' || body[start] == '\r' ||
                           body[start] == '\t'))
        start++;
    size_t end = start;
    while (end < len && body[end] != '\n' && body[end] != '\r' && body[end] != '\0')
        end++;
    if (end - start > EXCERPT_MAX) {
        end = start + EXCERPT_MAX;
        while (end > start && ((unsigned char)body[end] & 0xc0) == 0x80)
            end--;
    }
    return end > start ? strndup(body + start, end - start) : NULL;
}

registry_err_t registry_error_from_response(registry_error_t *e, long http_code, const char *body,
                                            size_t len)
{
    registry_error_t tmp = REGISTRY_ERROR_INIT;
    registry_error_t *out = e ? e : &tmp;
    registry_error_clear(out);
    out->http_code = http_code;
    out->err = err_from_status(http_code);
    json_object *root = NULL;
    if (body && len > 0) {
        json_tokener *tok = json_tokener_new();
        if (tok) {
            root = json_tokener_parse_ex(tok, body, (int)(len > INT32_MAX ? INT32_MAX : len));
            if (json_tokener_get_error(tok) != json_tokener_success) {
                json_object_put(root);
                root = NULL;
            }
            json_tokener_free(tok);
        }
    }
    json_object *errors = NULL, *first = NULL, *v = NULL;
    if (root && json_object_object_get_ex(root, "errors", &errors) &&
        json_object_is_type(errors, json_type_array) && json_object_array_length(errors) > 0)
        first = json_object_array_get_idx(errors, 0);
    if (first && json_object_is_type(first, json_type_object)) {
        if (json_object_object_get_ex(first, "code", &v) &&
            json_object_is_type(v, json_type_string))
            out->code = util_strdup(json_object_get_string(v));
        if (json_object_object_get_ex(first, "message", &v) &&
            json_object_is_type(v, json_type_string))
            out->message = util_strdup(json_object_get_string(v));
        for (size_t i = 0; out->code && i < UTIL_ARRAY_LEN(code_map); i++)
            if (strcmp(out->code, code_map[i].code) == 0)
                out->err = code_map[i].err;
    } else if (root && json_object_object_get_ex(root, "details", &v) &&
               json_object_is_type(v, json_type_string)) {
        /* docker/distribution token servers answer {"details": "..."} */
        out->message = util_strdup(json_object_get_string(v));
    } else if (!root && body && len > 0) {
        out->message = excerpt(body, len);
    }
    json_object_put(root);
    if (out->err == REGISTRY_OK)
        out->err = REGISTRY_ERR_UNKNOWN;
    if (!out->message)
        out->message = util_asprintf("HTTP %ld", http_code);
    registry_err_t err = out->err;
    registry_error_clear(&tmp);
    return err;
}

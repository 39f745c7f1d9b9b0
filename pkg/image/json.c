/*
 * image/json: the JSON plumbing shared by the config and manifest models, and the
 * module's small common helpers.
 */
#include "image/image_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const err_names[] = {
    [IMAGE_OK] = "OK",
    [IMAGE_ERR_INVALID] = "Invalid",
    [IMAGE_ERR_IO] = "IO",
    [IMAGE_ERR_UNSAFE] = "Unsafe",
    [IMAGE_ERR_FORMAT] = "Format",
    [IMAGE_ERR_UNSUPPORTED] = "Unsupported",
    [IMAGE_ERR_CHANGED] = "Changed",
    [IMAGE_ERR_SINK] = "Sink",
    [IMAGE_ERR_NOMEM] = "NoMemory",
};

const char *image_err_name(image_err_t err)
{
    if ((size_t)err < UTIL_ARRAY_LEN(err_names) && err_names[err])
        return err_names[err];
    return "Unknown";
}

image_err_t image_fail(char **err, image_err_t code, const char *fmt, ...)
{
    if (!err)
        return code;
    buf_t b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    free(*err);
    *err = b.oom ? NULL : buf_steal(&b);
    buf_free(&b);
    return code;
}

int image_json_parse(const char *data, size_t len, const char *what, json_object **out, char **err)
{
    *out = NULL;
    if (!data || len > INT32_MAX) {
        image_fail(err, IMAGE_ERR_INVALID, "%s: no document or too large", what);
        return -1;
    }
    json_tokener *tok = json_tokener_new_ex(IMAGE_JSON_MAX_DEPTH);
    if (!tok) {
        image_fail(err, IMAGE_ERR_NOMEM, "out of memory");
        return -1;
    }
    json_object *root = json_tokener_parse_ex(tok, data, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    if (jerr == json_tokener_continue) {
        /* a NUL tells json-c the input ends here (a bare literal or number needs it) */
        root = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
        end = len;
    }
    json_tokener_free(tok);
    if (jerr != json_tokener_success) {
        json_object_put(root);
        image_fail(err, IMAGE_ERR_INVALID, "%s: %s", what,
                   jerr == json_tokener_error_parse_eof ? "truncated JSON"
                                                        : json_tokener_error_desc(jerr));
        return -1;
    }
    while (end < len && data[end] && strchr(" \t\r\n", data[end]))
        end++;
    if (end != len) {
        json_object_put(root);
        image_fail(err, IMAGE_ERR_INVALID, "%s: unexpected data after the JSON value at offset %zu",
                   what, end);
        return -1;
    }
    *out = root;
    return 0;
}

image_err_t image_json_encode(json_object *root, char **data, size_t *len,
                              char digest[REGISTRY_DIGEST_LEN], char **err)
{
    size_t n = 0;
    const char *text = json_object_to_json_string_length(
        root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    char *copy = text ? strndup(text, n) : NULL;
    if (!copy)
        return image_fail(err, IMAGE_ERR_NOMEM, "out of memory");
    if (digest && registry_digest_of(copy, n, digest) < 0) {
        free(copy);
        return image_fail(err, IMAGE_ERR_NOMEM, "out of memory");
    }
    *data = copy;
    if (len)
        *len = n;
    return IMAGE_OK;
}

json_object *image_json_get(json_object *obj, const char *key, json_type type)
{
    json_object *v = NULL;
    if (obj && json_object_is_type(obj, json_type_object) &&
        json_object_object_get_ex(obj, key, &v) && json_object_is_type(v, type))
        return v;
    return NULL;
}

ssize_t image_read_full(int fd, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, (char *)buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/*
 * kube/errors: turns what the API server answered into a kube_result_t. A non-2xx
 * answer carries a metav1.Status whose reason says what went wrong; when the body is
 * not a Status (a proxy's HTML page, an empty 503) the HTTP code alone decides, as
 * client-go's NewGenericServerResponse does. No I/O here, so every case is unit-tested.
 */
#include "kube/kube.h"

#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The longest body excerpt kept as a message when the body is not a Status. */
#define EXCERPT_MAX 200

static const struct {
    const char *reason;
    kube_err_t err;
} reason_table[] = {
    {"NotFound", KUBE_ERR_NOT_FOUND},
    {"AlreadyExists", KUBE_ERR_ALREADY_EXISTS},
    {"Conflict", KUBE_ERR_CONFLICT},
    {"Gone", KUBE_ERR_GONE},
    {"Expired", KUBE_ERR_GONE},
    {"Invalid", KUBE_ERR_INVALID},
    {"BadRequest", KUBE_ERR_BAD_REQUEST},
    {"Forbidden", KUBE_ERR_FORBIDDEN},
    {"Unauthorized", KUBE_ERR_UNAUTHORIZED},
    {"TooManyRequests", KUBE_ERR_TOO_MANY_REQUESTS},
    {"ServerTimeout", KUBE_ERR_SERVER_TIMEOUT},
    {"Timeout", KUBE_ERR_TIMEOUT},
    {"InternalError", KUBE_ERR_INTERNAL},
    {"ServiceUnavailable", KUBE_ERR_SERVICE_UNAVAILABLE},
    {"MethodNotAllowed", KUBE_ERR_METHOD_NOT_ALLOWED},
    {"UnsupportedMediaType", KUBE_ERR_UNSUPPORTED_MEDIA_TYPE},
};

/* What an HTTP code means when the body does not say (reasons as metav1.StatusReason). */
static const struct {
    long code;
    kube_err_t err;
    const char *reason;
} code_table[] = {
    {400, KUBE_ERR_BAD_REQUEST, "BadRequest"},
    {401, KUBE_ERR_UNAUTHORIZED, "Unauthorized"},
    {403, KUBE_ERR_FORBIDDEN, "Forbidden"},
    {404, KUBE_ERR_NOT_FOUND, "NotFound"},
    {405, KUBE_ERR_METHOD_NOT_ALLOWED, "MethodNotAllowed"},
    {406, KUBE_ERR_UNKNOWN, "NotAcceptable"},
    {409, KUBE_ERR_CONFLICT, "Conflict"},
    {410, KUBE_ERR_GONE, "Gone"},
    {413, KUBE_ERR_UNKNOWN, "RequestEntityTooLarge"},
    {415, KUBE_ERR_UNSUPPORTED_MEDIA_TYPE, "UnsupportedMediaType"},
    {422, KUBE_ERR_INVALID, "Invalid"},
    {429, KUBE_ERR_TOO_MANY_REQUESTS, "TooManyRequests"},
    {500, KUBE_ERR_INTERNAL, "InternalError"},
    {502, KUBE_ERR_UNKNOWN, "BadGateway"},
    {503, KUBE_ERR_SERVICE_UNAVAILABLE, "ServiceUnavailable"},
    {504, KUBE_ERR_TIMEOUT, "Timeout"},
};

static const char *const err_names[] = {
    [KUBE_OK] = "OK",
    [KUBE_ERR_NOT_FOUND] = "NotFound",
    [KUBE_ERR_ALREADY_EXISTS] = "AlreadyExists",
    [KUBE_ERR_CONFLICT] = "Conflict",
    [KUBE_ERR_GONE] = "Gone",
    [KUBE_ERR_INVALID] = "Invalid",
    [KUBE_ERR_BAD_REQUEST] = "BadRequest",
    [KUBE_ERR_FORBIDDEN] = "Forbidden",
    [KUBE_ERR_UNAUTHORIZED] = "Unauthorized",
    [KUBE_ERR_TOO_MANY_REQUESTS] = "TooManyRequests",
    [KUBE_ERR_SERVER_TIMEOUT] = "ServerTimeout",
    [KUBE_ERR_TIMEOUT] = "Timeout",
    [KUBE_ERR_INTERNAL] = "InternalError",
    [KUBE_ERR_SERVICE_UNAVAILABLE] = "ServiceUnavailable",
    [KUBE_ERR_METHOD_NOT_ALLOWED] = "MethodNotAllowed",
    [KUBE_ERR_UNSUPPORTED_MEDIA_TYPE] = "UnsupportedMediaType",
    [KUBE_ERR_TRANSPORT] = "Transport",
    [KUBE_ERR_DECODE] = "Decode",
    [KUBE_ERR_CLIENT] = "Client",
    [KUBE_ERR_UNKNOWN] = "Unknown",
};

const char *kube_err_name(kube_err_t err)
{
    if ((size_t)err < UTIL_ARRAY_LEN(err_names) && err_names[err])
        return err_names[err];
    return "Unknown";
}

void kube_result_init(kube_result_t *r)
{
    memset(r, 0, sizeof(*r));
}

void kube_result_clear(kube_result_t *r)
{
    if (!r)
        return;
    free(r->reason);
    free(r->message);
    for (size_t i = 0; i < r->causes_len; i++) {
        free(r->causes[i].reason);
        free(r->causes[i].field);
        free(r->causes[i].message);
    }
    free(r->causes);
    json_object_put(r->body);
    bool skip = r->skip_body;
    kube_result_init(r);
    r->skip_body = skip;
}

int kube_result_copy(kube_result_t *dst, const kube_result_t *src)
{
    kube_result_clear(dst);
    dst->err = src->err;
    dst->http_code = src->http_code;
    dst->expired = src->expired;
    dst->retry_after = src->retry_after;
    dst->body = json_object_get(src->body);
    bool oom = false;
    dst->reason = util_strdup(src->reason);
    dst->message = util_strdup(src->message);
    oom |= (src->reason && !dst->reason) || (src->message && !dst->message);
    if (src->causes_len) {
        dst->causes = calloc(src->causes_len, sizeof(*dst->causes));
        oom |= !dst->causes;
        for (size_t i = 0; dst->causes && i < src->causes_len; i++) {
            const kube_status_cause_t *from = &src->causes[i];
            kube_status_cause_t *to = &dst->causes[dst->causes_len++];
            to->reason = util_strdup(from->reason);
            to->field = util_strdup(from->field);
            to->message = util_strdup(from->message);
            oom |= (from->reason && !to->reason) || (from->field && !to->field) ||
                   (from->message && !to->message);
        }
    }
    return oom ? -1 : 0;
}

json_object *kube_result_take_body(kube_result_t *r)
{
    json_object *body = r->body;
    r->body = NULL;
    return body;
}

static const char *json_string_field(json_object *obj, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static kube_err_t err_for_code(long code, const char **reason)
{
    for (size_t i = 0; i < UTIL_ARRAY_LEN(code_table); i++) {
        if (code_table[i].code == code) {
            *reason = code_table[i].reason;
            return code_table[i].err;
        }
    }
    *reason = "Unknown";
    return KUBE_ERR_UNKNOWN;
}

static bool err_for_reason(const char *reason, kube_err_t *err)
{
    if (!reason)
        return false;
    for (size_t i = 0; i < UTIL_ARRAY_LEN(reason_table); i++) {
        if (strcmp(reason_table[i].reason, reason) == 0) {
            *err = reason_table[i].err;
            return true;
        }
    }
    return false;
}

/* Keeps Status.details.causes; an out-of-memory here only loses detail, not the error. */
static void keep_causes(kube_result_t *r, json_object *details)
{
    json_object *causes;
    if (!json_object_object_get_ex(details, "causes", &causes) ||
        !json_object_is_type(causes, json_type_array))
        return;
    size_t n = json_object_array_length(causes);
    if (n == 0)
        return;
    r->causes = calloc(n, sizeof(*r->causes));
    if (!r->causes)
        return;
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(causes, i);
        if (!json_object_is_type(c, json_type_object))
            continue;
        kube_status_cause_t *out = &r->causes[r->causes_len++];
        out->reason = util_strdup(json_string_field(c, "reason"));
        out->field = util_strdup(json_string_field(c, "field"));
        out->message = util_strdup(json_string_field(c, "message"));
    }
}

kube_err_t kube_result_from_status(kube_result_t *r, json_object *status, long http_code)
{
    kube_result_clear(r);
    if (!json_object_is_type(status, json_type_object))
        return kube_result_set_error(r, KUBE_ERR_DECODE, NULL, "Status is not a JSON object");
    json_object *code_obj;
    if (http_code == 0 && json_object_object_get_ex(status, "code", &code_obj))
        http_code = (long)json_object_get_int64(code_obj);
    r->http_code = http_code;
    r->body = json_object_get(status);

    const char *state = json_string_field(status, "status");
    if (util_streq(state, "Success") || (http_code >= 200 && http_code < 300))
        return r->err = KUBE_OK;

    const char *reason = json_string_field(status, "reason");
    const char *code_reason;
    kube_err_t by_code = err_for_code(http_code, &code_reason);
    if (!err_for_reason(reason, &r->err))
        r->err = by_code;
    if (!reason || !*reason)
        reason = code_reason;
    r->reason = util_strdup(reason);
    r->expired = r->err == KUBE_ERR_GONE && strcmp(reason, "Expired") == 0;

    const char *message = json_string_field(status, "message");
    r->message = util_strdup(message && *message ? message : reason);

    json_object *details;
    if (json_object_object_get_ex(status, "details", &details) &&
        json_object_is_type(details, json_type_object)) {
        keep_causes(r, details);
        json_object *retry;
        if (json_object_object_get_ex(details, "retryAfterSeconds", &retry))
            r->retry_after = (double)json_object_get_int64(retry);
    }
    return r->err;
}

kube_err_t kube_result_set_error(kube_result_t *r, kube_err_t err, const char *reason,
                                 const char *fmt, ...)
{
    kube_result_clear(r);
    r->err = err;
    r->reason = util_strdup(reason ? reason : kube_err_name(err));
    buf_t msg = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    r->message = buf_steal(&msg);
    return err;
}

static bool only_whitespace(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!isspace((unsigned char)s[i]))
            return false;
    return true;
}

/* One tokener per thread, reused: a new one allocates and zeroes a parse stack of
 * KUBE_JSON_MAX_DEPTH frames (16 KiB), which cost a tenth of the operator's instructions
 * when made for every response and cached object. */
static pthread_key_t tokener_key;
static pthread_once_t tokener_once = PTHREAD_ONCE_INIT;

static void tokener_free(void *tok)
{
    json_tokener_free(tok);
}

static void tokener_key_init(void)
{
    if (pthread_key_create(&tokener_key, tokener_free) != 0)
        abort();
}

static json_tokener *thread_tokener(void)
{
    pthread_once(&tokener_once, tokener_key_init);
    json_tokener *tok = pthread_getspecific(tokener_key);
    if (tok) {
        json_tokener_reset(tok);
        return tok;
    }
    tok = json_tokener_new_ex(KUBE_JSON_MAX_DEPTH);
    if (tok && pthread_setspecific(tokener_key, tok) != 0) {
        json_tokener_free(tok);
        tok = NULL;
    }
    return tok;
}

json_object *kube_json_parse(const char *body, size_t len)
{
    json_tokener *tok = thread_tokener();
    if (!tok)
        return NULL;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
    json_object *obj = NULL;
    size_t off = 0;
    while (off < len) {
        int chunk = len - off > INT_MAX / 2 ? INT_MAX / 2 : (int)(len - off);
        obj = json_tokener_parse_ex(tok, body + off, chunk);
        size_t used = json_tokener_get_parse_end(tok);
        off += used;
        if (obj || json_tokener_get_error(tok) != json_tokener_continue)
            break;
    }
    /* A top-level number or literal at the very end is only complete at end of input. */
    if (!obj && json_tokener_get_error(tok) == json_tokener_continue)
        obj = json_tokener_parse_ex(tok, "", 1);
    json_tokener_reset(tok);
    if (obj && !only_whitespace(body + off, len - off)) {
        json_object_put(obj);
        return NULL;
    }
    return obj;
}

/* Finds needle in the first len bytes of s, ignoring case. */
static const char *find_nocase(const char *s, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (strncasecmp(s + i, needle, n) == 0)
            return s + i;
    return NULL;
}

/* Drops a UTF-8 sequence cut short at the end of b (the excerpt stops at a byte count). */
static void trim_partial_utf8(buf_t *b)
{
    size_t i = b->len, continuation = 0;
    while (i > 0 && continuation < 4 && ((unsigned char)b->data[i - 1] & 0xC0) == 0x80) {
        i--;
        continuation++;
    }
    if (continuation == 0 && i > 0 && (unsigned char)b->data[i - 1] < 0x80)
        return;
    size_t need = 0;
    if (i > 0) {
        unsigned char lead = (unsigned char)b->data[i - 1];
        need = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : 0;
        if (need == continuation && lead >= 0xC0)
            return;
        if (lead >= 0xC0)
            i--;
    }
    b->len = i;
    if (b->data)
        b->data[i] = '\0';
}

/* A one-line message from a body that is not a Status: an HTML page's <title>, or the
 * start of the text, whitespace and control bytes collapsed to single spaces. */
static char *excerpt(const char *body, size_t len)
{
    const char *start = body, *end = body + len;
    const char *title = find_nocase(body, len, "<title>");
    if (title) {
        const char *title_end = find_nocase(title, (size_t)(end - title), "</title>");
        if (title_end) {
            start = title + strlen("<title>");
            end = title_end;
        }
    }
    buf_t out = BUF_INIT;
    bool space = false;
    for (const char *p = start; p < end && out.len < EXCERPT_MAX; p++) {
        unsigned char ch = (unsigned char)*p;
        if (isspace(ch) || ch < 0x20 || ch == 0x7f) {
            space = out.len > 0;
            continue;
        }
        if (space)
            buf_putc(&out, ' ');
        space = false;
        buf_putc(&out, (char)ch);
    }
    trim_partial_utf8(&out);
    if (out.len == 0) {
        buf_free(&out);
        return NULL;
    }
    return buf_steal(&out);
}

kube_err_t kube_result_from_response(kube_result_t *r, long http_code, const char *body, size_t len,
                                     double retry_after)
{
    kube_result_clear(r);
    if (r->skip_body && http_code >= 200 && http_code < 300) {
        r->http_code = http_code;
        return r->err = KUBE_OK;
    }
    bool empty = !body || only_whitespace(body, len);
    json_object *obj = empty ? NULL : kube_json_parse(body, len);

    if (http_code >= 200 && http_code < 300) {
        if (!empty && !obj) {
            char *text = excerpt(body, len);
            kube_result_set_error(r, KUBE_ERR_DECODE, NULL,
                                  "HTTP %ld with a body that is not JSON: %s", http_code,
                                  text ? text : "");
            free(text);
            r->http_code = http_code;
            return r->err;
        }
        r->http_code = http_code;
        r->body = obj;
        return r->err = KUBE_OK;
    }

    const char *kind = obj ? json_string_field(obj, "kind") : NULL;
    if (util_streq(kind, "Status")) {
        kube_result_from_status(r, obj, http_code);
        json_object_put(obj);
        /* A Status claiming success on a non-2xx answer is still a failure. */
        if (r->err == KUBE_OK) {
            const char *reason;
            r->err = err_for_code(http_code, &reason);
            free(r->reason);
            r->reason = util_strdup(reason);
        }
    } else {
        const char *reason;
        r->err = err_for_code(http_code, &reason);
        r->http_code = http_code;
        r->reason = util_strdup(reason);
        r->body = obj;
        char *text = empty ? NULL : excerpt(body, len);
        if (text)
            r->message = text;
        else
            r->message = util_asprintf("the server answered HTTP %ld without a message", http_code);
    }
    if (retry_after > 0)
        r->retry_after = retry_after;
    return r->err;
}

const char *kube_error_str(const kube_result_t *r, char *buf, size_t len)
{
    if (!buf || len == 0)
        return "";
    const char *reason = r->reason && *r->reason ? r->reason : kube_err_name(r->err);
    if (r->http_code && r->message)
        snprintf(buf, len, "%s (%ld): %s", reason, r->http_code, r->message);
    else if (r->http_code)
        snprintf(buf, len, "%s (%ld)", reason, r->http_code);
    else if (r->message)
        snprintf(buf, len, "%s: %s", reason, r->message);
    else
        snprintf(buf, len, "%s", reason);
    return buf;
}

/*
 * httpapi/parse: the pure pieces of the endpoints — paths, query flags, trigger bodies,
 * run names, branch matching, GitHub signatures, rate buckets and pod container order.
 * No I/O, so every case is a unit test.
 */
#include "httpapi/httpapi_internal.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- JSON ------------------------------------------------------------------------------ */

json_object *httpapi_json_at(json_object *obj, const char *path)
{
    char key[128];
    const char *p = path;
    while (obj && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof key)
            return NULL;
        memcpy(key, p, n);
        key[n] = '\0';
        if (!json_object_is_type(obj, json_type_object) ||
            !json_object_object_get_ex(obj, key, &obj))
            return NULL;
        p += n + (dot ? 1 : 0);
    }
    return obj;
}

const char *httpapi_json_str(json_object *obj, const char *path)
{
    json_object *v = httpapi_json_at(obj, path);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static const char *meta_map_value(json_object *obj, const char *map, const char *key)
{
    json_object *m = httpapi_json_at(obj, map), *v = NULL;
    if (!m || !json_object_is_type(m, json_type_object) || !json_object_object_get_ex(m, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

const char *httpapi_label(json_object *obj, const char *key)
{
    return meta_map_value(obj, "metadata.labels", key);
}

/* ---- paths ----------------------------------------------------------------------------- */

bool httpapi_parse_pod_path(const char *path, char **ns, char **pod)
{
    *ns = *pod = NULL;
    if (!path)
        return false;
    size_t len = strlen(path);
    if (len > 1 && path[len - 1] == '/')
        len--;
    /* Walk back over the last four segments: namespaces, <ns>, pods, <pod>. */
    const char *seg[4];
    size_t seglen[4];
    size_t end = len;
    for (int i = 3; i >= 0; i--) {
        size_t start = end;
        while (start > 0 && path[start - 1] != '/')
            start--;
        if (start == 0 || start == end)
            return false; /* no '/' before it, or an empty segment */
        seg[i] = path + start;
        seglen[i] = end - start;
        end = start - 1;
    }
    if (seglen[0] != strlen("namespaces") || memcmp(seg[0], "namespaces", seglen[0]) != 0 ||
        seglen[2] != strlen("pods") || memcmp(seg[2], "pods", seglen[2]) != 0)
        return false;
    *ns = strndup(seg[1], seglen[1]);
    *pod = strndup(seg[3], seglen[3]);
    if (!*ns || !*pod) {
        free(*ns);
        free(*pod);
        *ns = *pod = NULL;
        return false;
    }
    return true;
}

char *httpapi_log_url_pod(const char *log_url)
{
    const char *p = log_url ? strstr(log_url, "/pods/") : NULL;
    if (!p)
        return NULL;
    /* The console takes everything after the last "/pods/" in the path. */
    for (const char *q = p; (q = strstr(q + 1, "/pods/")) != NULL;)
        p = q;
    p += strlen("/pods/");
    size_t n = strcspn(p, "/?#");
    return n ? strndup(p, n) : NULL;
}

bool httpapi_query_true(const char *value)
{
    if (!value)
        return false;
    return !*value || strcasecmp(value, "true") == 0 || strcmp(value, "1") == 0 ||
           strcasecmp(value, "yes") == 0;
}

/* ---- trigger bodies -------------------------------------------------------------------- */

void httpapi_overrides_clear(httpapi_overrides_t *o)
{
    free(o->new_tag);
    free(o->new_revision_id);
    free(o->new_source_url);
    memset(o, 0, sizeof *o);
}

typedef struct override_field {
    const char *name;
    size_t offset;
} override_field_t;

static const override_field_t override_fields[] = {
    {"newTag", offsetof(httpapi_overrides_t, new_tag)},
    {"newRevisionId", offsetof(httpapi_overrides_t, new_revision_id)},
    {"newSourceURL", offsetof(httpapi_overrides_t, new_source_url)},
};

static char **override_slot(httpapi_overrides_t *o, const override_field_t *f)
{
    return (char **)((char *)o + f->offset);
}

static int set_override(httpapi_overrides_t *o, const override_field_t *f, const char *value)
{
    char *copy = NULL;
    if (value && !(copy = strdup(value)))
        return -1;
    char **slot = override_slot(o, f);
    free(*slot);
    *slot = copy;
    return 0;
}

/* The media type of a Content-Type, lower-cased, without parameters, into out. */
static void media_type(const char *content_type, char out[static 128])
{
    size_t n = 0;
    const char *p = content_type ? content_type : "";
    while (*p == ' ' || *p == '\t')
        p++;
    for (; *p && *p != ';' && n < 127; p++)
        out[n++] = (char)tolower((unsigned char)*p);
    while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t'))
        n--;
    out[n] = '\0';
}

static bool blank(const char *body, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!isspace((unsigned char)body[i]))
            return false;
    return true;
}

static int overrides_from_json(const char *body, size_t len, httpapi_overrides_t *out, char **err)
{
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return -1;
    json_object *obj = json_tokener_parse_ex(tok, body, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    if (jerr == json_tokener_continue) {
        /* A bare literal ("null", a number) ends only at the end of input: say so. */
        obj = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
        used = len;
    }
    json_tokener_free(tok);
    if (!obj && jerr != json_tokener_success) {
        *err = util_asprintf("the body is not valid JSON: %s", json_tokener_error_desc(jerr));
        return 400;
    }
    if (!blank(body + used, len - used)) {
        json_object_put(obj);
        *err = util_strdup("the body is not valid JSON: data after the value");
        return 400;
    }
    if (!obj) /* the literal null */
        return 0;
    if (!json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        *err = util_strdup("the body must be a JSON object");
        return 400;
    }
    int rc = 0;
    /* Go's decoder: an exact key wins over a case-insensitive one; among equals the later. */
    for (int exact = 0; exact < 2 && rc == 0; exact++) {
        json_object_object_foreach(obj, key, value)
        {
            for (size_t i = 0; i < UTIL_ARRAY_LEN(override_fields) && rc == 0; i++) {
                const override_field_t *f = &override_fields[i];
                if (exact ? strcmp(key, f->name) != 0 : strcasecmp(key, f->name) != 0)
                    continue;
                if (value && !json_object_is_type(value, json_type_string)) {
                    *err = util_asprintf("%s: expected string", f->name);
                    rc = 400;
                } else if (set_override(out, f, value ? json_object_get_string(value) : NULL) < 0) {
                    rc = -1;
                }
            }
        }
    }
    json_object_put(obj);
    return rc;
}

static int overrides_from_form(const char *body, size_t len, httpapi_overrides_t *out)
{
    for (size_t i = 0; i < UTIL_ARRAY_LEN(override_fields); i++) {
        char *value = httpapi_form_value(body, len, override_fields[i].name);
        if (!value)
            continue;
        char **slot = override_slot(out, &override_fields[i]);
        free(*slot);
        *slot = value;
    }
    return 0;
}

int httpapi_parse_overrides(const char *content_type, const char *body, size_t len,
                            httpapi_overrides_t *out, char **err)
{
    *err = NULL;
    memset(out, 0, sizeof *out);
    if (!body || blank(body, len))
        return 0;
    char type[128];
    media_type(content_type, type);
    int rc;
    if (!*type || strcmp(type, "application/json") == 0 || util_has_suffix(type, "+json"))
        rc = overrides_from_json(body, len, out, err);
    else if (strcmp(type, "application/x-www-form-urlencoded") == 0)
        rc = overrides_from_form(body, len, out);
    else {
        *err = util_asprintf("unsupported Content-Type %s: send application/json or "
                             "application/x-www-form-urlencoded",
                             type);
        rc = 415;
    }
    if (rc == -1) {
        free(*err);
        *err = util_strdup("out of memory");
        rc = 400;
    }
    if (rc != 0)
        httpapi_overrides_clear(out);
    return rc;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Appends a form-encoded text decoded. */
static void form_decode(buf_t *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            buf_putc(out, ' ');
        } else if (s[i] == '%' && i + 2 < n && hex_value(s[i + 1]) >= 0 &&
                   hex_value(s[i + 2]) >= 0) {
            buf_putc(out, (char)(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
            i += 2;
        } else {
            buf_putc(out, s[i]);
        }
    }
}

char *httpapi_form_value(const char *body, size_t len, const char *name)
{
    size_t name_len = strlen(name);
    const char *end = body + len;
    for (const char *p = body; p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pair_end = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pair_end - p));
        const char *key_end = eq ? eq : pair_end;
        buf_t key = BUF_INIT;
        form_decode(&key, p, (size_t)(key_end - p));
        bool match = key.len == name_len && memcmp(buf_str(&key), name, name_len) == 0;
        buf_free(&key);
        if (match) {
            buf_t value = BUF_INIT;
            buf_puts(&value, "");
            if (eq)
                form_decode(&value, eq + 1, (size_t)(pair_end - eq - 1));
            if (value.oom) {
                buf_free(&value);
                return NULL;
            }
            return buf_steal(&value);
        }
        p = amp ? amp + 1 : end;
    }
    return NULL;
}

/* ---- names, branches, signatures ------------------------------------------------------- */

void httpapi_generate_name(const char *builder, char out[static 64])
{
    /* The API server appends 5 characters to generateName: 58 for "<builder>-". */
    size_t n = strlen(builder);
    if (n > 57)
        n = 57;
    while (n > 0 && (builder[n - 1] == '-' || builder[n - 1] == '.'))
        n--;
    memcpy(out, builder, n);
    out[n] = '-';
    out[n + 1] = '\0';
}

const char *httpapi_ref_branch(const char *ref)
{
    static const char prefix[] = "refs/heads/";
    if (!ref || strncmp(ref, prefix, sizeof prefix - 1) != 0 || !ref[sizeof prefix - 1])
        return NULL;
    return ref + sizeof prefix - 1;
}

int httpapi_branch_matches(const char *expression, const char *revision_id, const char *branch,
                           char **err)
{
    *err = NULL;
    if (!branch)
        return 0;
    if (!expression || !*expression)
        return strcmp(branch, revision_id && *revision_id ? revision_id : "master") == 0;
    regex_t re;
    int rc = regcomp(&re, expression, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char why[256];
        regerror(rc, &re, why, sizeof why);
        *err = util_asprintf("branchExpression %s does not compile: %s", expression, why);
        return -1;
    }
    int match = regexec(&re, branch, 0, NULL, 0) == 0;
    regfree(&re);
    return match;
}

void httpapi_github_signature(const char *secret, const void *body, size_t len, char out[static 72])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    static const unsigned char empty[1];
    if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), len ? body : empty, len, mac, &mac_len))
        mac_len = 0;
    static const char digits[] = "0123456789abcdef";
    memcpy(out, "sha256=", 7);
    size_t n = 7;
    for (unsigned int i = 0; i < mac_len && n + 2 < 72; i++) {
        out[n++] = digits[mac[i] >> 4];
        out[n++] = digits[mac[i] & 15];
    }
    out[n] = '\0';
}

bool httpapi_github_signature_valid(const char *secret, const void *body, size_t len,
                                    const char *header)
{
    if (!secret || !*secret || !header)
        return false;
    char want[72], got[72];
    httpapi_github_signature(secret, body, len, want);
    /* GitHub writes lower-case hex; accept upper case as well. */
    size_t n = strlen(header);
    if (n >= sizeof got)
        return false;
    for (size_t i = 0; i <= n; i++)
        got[i] = (char)tolower((unsigned char)header[i]);
    return util_secure_streq(got, want);
}

/* ---- rate buckets ---------------------------------------------------------------------- */

void httpapi_bucket_init(httpapi_bucket_t *b, int burst, double now)
{
    b->tokens = burst > 0 ? burst : 1;
    b->last = now;
}

double httpapi_bucket_take(httpapi_bucket_t *b, double rate, int burst, double now)
{
    double cap = burst > 0 ? burst : 1;
    if (rate > 0 && now > b->last)
        b->tokens += (now - b->last) * rate;
    if (now > b->last)
        b->last = now;
    if (b->tokens > cap)
        b->tokens = cap;
    if (b->tokens >= 1) {
        b->tokens -= 1;
        return 0;
    }
    return rate > 0 ? (1 - b->tokens) / rate : 3600;
}

/* ---- pods ------------------------------------------------------------------------------ */

int httpapi_pod_containers(json_object *pod, const char ***names, size_t *len)
{
    *names = NULL;
    *len = 0;
    json_object *lists[2] = {httpapi_json_at(pod, "spec.initContainers"),
                             httpapi_json_at(pod, "spec.containers")};
    size_t total = 0;
    for (int i = 0; i < 2; i++)
        if (lists[i] && json_object_is_type(lists[i], json_type_array))
            total += json_object_array_length(lists[i]);
    if (total == 0)
        return 0;
    const char **out = calloc(total, sizeof *out);
    if (!out)
        return -1;
    size_t n = 0;
    for (int i = 0; i < 2; i++) {
        if (!lists[i] || !json_object_is_type(lists[i], json_type_array))
            continue;
        for (size_t j = 0; j < json_object_array_length(lists[i]); j++) {
            const char *name = httpapi_json_str(json_object_array_get_idx(lists[i], j), "name");
            if (name && *name)
                out[n++] = name;
        }
    }
    *names = out;
    *len = n;
    return 0;
}

httpapi_container_state_t httpapi_container_state(json_object *pod, const char *container,
                                                  const char **reason)
{
    *reason = NULL;
    static const char *const groups[] = {"status.initContainerStatuses",
                                         "status.containerStatuses"};
    for (size_t g = 0; g < UTIL_ARRAY_LEN(groups); g++) {
        json_object *list = httpapi_json_at(pod, groups[g]);
        if (!list || !json_object_is_type(list, json_type_array))
            continue;
        for (size_t i = 0; i < json_object_array_length(list); i++) {
            json_object *cs = json_object_array_get_idx(list, i);
            if (!util_streq(httpapi_json_str(cs, "name"), container))
                continue;
            if (httpapi_json_at(cs, "state.terminated"))
                return HTTPAPI_CONTAINER_TERMINATED;
            if (httpapi_json_at(cs, "state.running"))
                return HTTPAPI_CONTAINER_RUNNING;
            *reason = httpapi_json_str(cs, "state.waiting.reason");
            return HTTPAPI_CONTAINER_WAITING;
        }
    }
    return HTTPAPI_CONTAINER_WAITING;
}

bool httpapi_pod_finished(json_object *pod)
{
    const char *phase = httpapi_json_str(pod, "status.phase");
    return util_streq(phase, "Succeeded") || util_streq(phase, "Failed");
}

/*
 * webhook/admission: AdmissionReview in, AdmissionReview out — the five webhooks' decisions
 * and their JSON patches.
 *
 * Patches are written as the few operations they are (add revisionId, add a label, append
 * an ownerReference) rather than as a diff of the whole object re-encoded, which is how
 * controller-runtime's defaulters come to drop or reorder fields they do not know. Paths
 * use the object's own key spellings where Go would have matched them case-insensitively,
 * so a patch always lands where the value was read.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "webhook/webhook_internal.h"

#define REVIEW_V1       "admission.k8s.io/v1"
#define REVIEW_V1BETA1  "admission.k8s.io/v1beta1"
#define LABEL_VALUE_MAX 63

/* ---- base64 -------------------------------------------------------------------------------- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *webhook_base64_encode(const void *data, size_t len)
{
    const unsigned char *in = data;
    char *out = malloc((len + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? b64_alphabet[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

static int b64_value(char c)
{
    const char *p = c ? strchr(b64_alphabet, c) : NULL;
    return p ? (int)(p - b64_alphabet) : -1;
}

char *webhook_base64_decode(const char *text, size_t *len_out)
{
    size_t len = text ? strlen(text) : 0;
    if (len % 4 != 0)
        return NULL;
    char *out = malloc(len / 4 * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        bool last = i + 4 == len;
        int a = b64_value(text[i]), b = b64_value(text[i + 1]);
        int c = last && text[i + 2] == '=' && text[i + 3] == '=' ? 0 : b64_value(text[i + 2]);
        int d = last && text[i + 3] == '=' ? 0 : b64_value(text[i + 3]);
        if (a < 0 || b < 0 || c < 0 || d < 0) {
            free(out);
            return NULL;
        }
        unsigned v = (unsigned)a << 18 | (unsigned)b << 12 | (unsigned)c << 6 | (unsigned)d;
        out[o++] = (char)(v >> 16);
        if (!(last && text[i + 2] == '='))
            out[o++] = (char)(v >> 8);
        if (!(last && text[i + 3] == '='))
            out[o++] = (char)v;
    }
    out[o] = '\0';
    if (len_out)
        *len_out = o;
    return out;
}

/* ---- the review and the verdict ------------------------------------------------------------ */

typedef struct review {
    const char *api_version;
    const char *uid;
    const char *operation;
    const char *namespace;
    const char *sub_resource;
    const char *kind_group;
    const char *kind;
    json_object *object;     /* borrowed from the parsed body; NULL when absent */
    json_object *old_object; /* idem */
} review_t;

typedef struct verdict {
    bool allowed;
    int code;
    const char *reason; /* static text or NULL */
    char *message;      /* malloc'd or NULL */
    json_object *patch; /* the operations, or NULL */
    bool oom;
} verdict_t;

static void deny(verdict_t *v, char *message)
{
    v->allowed = false;
    v->code = 403;
    v->reason = "Forbidden";
    free(v->message);
    v->message = message;
    v->oom |= !message;
}

static void errored(verdict_t *v, int code, const char *fmt, ...) UTIL_PRINTF(3, 4);
static void errored(verdict_t *v, int code, const char *fmt, ...)
{
    buf_t b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    v->allowed = false;
    v->code = code;
    v->reason = NULL;
    free(v->message);
    v->message = b.oom ? NULL : buf_steal(&b);
    v->oom |= !v->message;
    buf_free(&b);
}

/* ---- JSON helpers -------------------------------------------------------------------------- */

static const char *string_at(json_object *obj, const char *key)
{
    json_object *v;
    if (!json_object_is_type(obj, json_type_object) || !json_object_object_get_ex(obj, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* The key of obj that Go's decoder would read for field `name`: the last key equal to it
 * case-insensitively (an exact match and a folded one land in the same field; the later
 * wins). NULL when none. */
static const char *find_key(json_object *obj, const char *name)
{
    const char *found = NULL;
    if (!json_object_is_type(obj, json_type_object))
        return NULL;
    json_object_object_foreach(obj, key, value)
    {
        (void)value;
        if (strcasecmp(key, name) == 0)
            found = key;
    }
    return found;
}

/* The value under find_key(obj, name), or NULL. */
static json_object *member(json_object *obj, const char *name)
{
    const char *key = find_key(obj, name);
    return key ? json_object_object_get(obj, key) : NULL;
}

static bool is_deleting(json_object *object)
{
    json_object *ts = member(member(object, "metadata"), "deletionTimestamp");
    return ts && !json_object_is_type(ts, json_type_null);
}

/* JSON null and absence are the same to Go. */
static bool same_value(json_object *a, json_object *b)
{
    if (json_object_is_type(a, json_type_null))
        a = NULL;
    if (json_object_is_type(b, json_type_null))
        b = NULL;
    return json_object_equal(a, b) != 0;
}

/* Appends key to a JSON pointer, escaped as RFC 6901 wants. */
static void pointer_append(buf_t *path, const char *key)
{
    if (!key) { /* callers checked the key exists; never point at something else */
        path->oom = true;
        return;
    }
    buf_putc(path, '/');
    for (const char *c = key; *c; c++) {
        if (*c == '~')
            buf_puts(path, "~0");
        else if (*c == '/')
            buf_puts(path, "~1");
        else
            buf_putc(path, *c);
    }
}

/* Adds value (consumed; NULL counts as out of memory) to obj under key. 0 / -1. */
static int set(json_object *obj, const char *key, json_object *value)
{
    if (!obj || !value || json_object_object_add(obj, key, value) < 0) {
        json_object_put(value);
        return -1;
    }
    return 0;
}

/* Adds {"op": "add", "path": path, "value": value} (value consumed). */
static void patch_add(verdict_t *v, const buf_t *path, json_object *value)
{
    if (!v->patch)
        v->patch = json_object_new_array();
    json_object *op = json_object_new_object();
    if (!v->patch || !op || path->oom || set(op, "op", json_object_new_string("add")) < 0 ||
        set(op, "path", json_object_new_string(buf_str(path))) < 0) {
        json_object_put(value);
        json_object_put(op);
        v->oom = true;
        return;
    }
    if (set(op, "value", value) < 0 || json_object_array_add(v->patch, op) < 0) {
        json_object_put(op);
        v->oom = true;
    }
}

static bool empty(const char *s)
{
    return !s || !*s;
}

/* ---- S2iBuilder ---------------------------------------------------------------------------- */

static bool is_write(const review_t *r)
{
    return util_streq(r->operation, "CREATE") || util_streq(r->operation, "UPDATE");
}

/* Adds spec.config.<field> = value at the object's own spelling of each key. */
static void add_config_default(verdict_t *v, json_object *object, const char *field,
                               const char *value)
{
    json_object *spec = member(object, "spec");
    json_object *config = member(spec, "config");
    const char *leaf = find_key(config, field);
    buf_t path = BUF_INIT;
    pointer_append(&path, find_key(object, "spec"));
    pointer_append(&path, find_key(spec, "config"));
    pointer_append(&path, leaf ? leaf : field);
    patch_add(v, &path, json_object_new_string(value));
    buf_free(&path);
}

static void mutate_builder(webhook_t *wh, const review_t *r, verdict_t *v)
{
    (void)wh;
    if (!is_write(r) || is_deleting(r->object))
        return;
    api_s2ibuilder_t *b = NULL;
    char *err = NULL;
    if (api_s2ibuilder_decode(r->object, &b, &err) < 0) {
        errored(v, 400, "%s", err ? err : "out of memory");
        free(err);
        return;
    }
    /* Upstream dereferences a missing config and panics; we leave it to validation. */
    api_s2i_config_t *config = b->spec.config;
    if (config) {
        bool revision = empty(config->revision_id), tag = empty(config->tag);
        if (api_s2ibuilder_default(b) < 0) {
            errored(v, 500, "out of memory");
        } else {
            if (revision)
                add_config_default(v, r->object, "revisionId", config->revision_id);
            if (tag)
                add_config_default(v, r->object, "tag", config->tag);
        }
    }
    api_s2ibuilder_free(b);
}

/* The denial for validation errors, or an error when the validator ran out of memory. */
static void deny_errors(verdict_t *v, int found, const api_errors_t *errs)
{
    if (found < 0) {
        errored(v, 500, "out of memory");
        return;
    }
    if (found > 0)
        deny(v, api_errors_message(errs));
}

/* A lookup that could not tell: controller-runtime answers an API error with its status. */
static void lookup_failed(verdict_t *v, int code, const char *what, const char *name, char *err)
{
    errored(v, code, "could not get %s \"%s\": %s", what, name, err ? err : "out of memory");
    free(err);
}

/* Updates are checked only when they change what validation reads; an object being
 * deleted is never held up (its finalizers must be removable whatever happened since). */
static bool update_needs_validation(const review_t *r, const char *annotation)
{
    if (!util_streq(r->operation, "UPDATE"))
        return util_streq(r->operation, "CREATE");
    if (is_deleting(r->object))
        return false;
    if (!same_value(member(r->object, "spec"), member(r->old_object, "spec")))
        return true;
    if (!annotation)
        return false;
    json_object *now = member(member(r->object, "metadata"), "annotations");
    json_object *before = member(member(r->old_object, "metadata"), "annotations");
    json_object *a = NULL, *b = NULL;
    if (json_object_is_type(now, json_type_object))
        json_object_object_get_ex(now, annotation, &a);
    if (json_object_is_type(before, json_type_object))
        json_object_object_get_ex(before, annotation, &b);
    return !same_value(a, b);
}

static void validate_builder(webhook_t *wh, const review_t *r, verdict_t *v)
{
    if (!update_needs_validation(r, API_ANNOTATION_AUTOSCALE))
        return;
    api_s2ibuilder_t *b = NULL;
    api_s2ibuilder_template_t *tmpl = NULL;
    json_object *found = NULL;
    char *err = NULL;
    if (api_s2ibuilder_decode(r->object, &b, &err) < 0) {
        errored(v, 400, "%s", err ? err : "out of memory");
        free(err);
        return;
    }
    if (b->spec.from_template) {
        const char *name = b->spec.from_template->name ? b->spec.from_template->name : "";
        int code = 500;
        int got = *name ? webhook_get_template(wh, name, &found, &err, &code) : 1;
        if (got < 0) {
            lookup_failed(v, code, "S2iBuilderTemplate", name, err);
            goto out;
        }
        if (got == 0 && api_s2ibuilder_template_decode(found, &tmpl, &err) < 0) {
            /* a template that does not decode cannot be used: as if it were missing */
            log_warn("stored S2iBuilderTemplate does not decode", "template", name, "error",
                     err ? err : "out of memory", NULL);
            free(err);
            tmpl = NULL;
        }
    }
    api_errors_t errs;
    api_errors_init(&errs);
    deny_errors(v, api_s2ibuilder_validate(b, tmpl, &errs), &errs);
    api_errors_clear(&errs);
out:
    json_object_put(found);
    api_s2ibuilder_template_free(tmpl);
    api_s2ibuilder_free(b);
}

/* ---- S2iRun -------------------------------------------------------------------------------- */

/* The namespace of a namespaced object under review. */
static const char *review_namespace(const review_t *r)
{
    if (!empty(r->namespace))
        return r->namespace;
    const char *ns = string_at(member(r->object, "metadata"), "namespace");
    return ns ? ns : "";
}

/* What the user can do instead, after upstream's text. */
static const char *immutability_hint(const char *run_state)
{
    if (util_streq(run_state, API_RUN_STATE_SUCCESSFUL) ||
        util_streq(run_state, API_RUN_STATE_FAILED))
        return "the run has finished: create a new S2iRun to build again";
    return "only spec.state: Cancelled may still be set; create a new S2iRun to build with "
           "another spec";
}

static void validate_run(webhook_t *wh, const review_t *r, verdict_t *v)
{
    if (!update_needs_validation(r, NULL))
        return;
    api_s2irun_t *run = NULL, *old = NULL;
    api_s2ibuilder_t *builder = NULL;
    json_object *found = NULL;
    char *err = NULL;
    if (api_s2irun_decode(r->object, &run, &err) < 0 ||
        (r->old_object && util_streq(r->operation, "UPDATE") &&
         api_s2irun_decode(r->old_object, &old, &err) < 0)) {
        errored(v, 400, "%s", err ? err : "out of memory");
        free(err);
        goto out;
    }
    /* The builder matters only to the newSourceURL rule: look it up only then. */
    if (!empty(run->spec.new_source_url) && !empty(run->spec.builder_name)) {
        int code = 500;
        int got = webhook_get_builder(wh, review_namespace(r), run->spec.builder_name, &found, &err,
                                      &code);
        if (got < 0) {
            lookup_failed(v, code, "S2iBuilder", run->spec.builder_name, err);
            goto out;
        }
        if (got == 0 && api_s2ibuilder_decode(found, &builder, &err) < 0) {
            log_warn("stored S2iBuilder does not decode", "builder", run->spec.builder_name,
                     "error", err ? err : "out of memory", NULL);
            free(err);
            builder = NULL;
        }
    }
    api_errors_t errs;
    api_errors_init(&errs);
    int n = api_s2irun_validate(run, old, builder, &errs);
    if (n > 0 && old && util_streq(errs.items[0].field, "spec")) {
        char *text = util_asprintf("%s; %s", errs.items[0].message,
                                   immutability_hint(old->status.run_state));
        if (text) {
            free(errs.items[0].message);
            errs.items[0].message = text;
        }
    }
    deny_errors(v, n, &errs);
    api_errors_clear(&errs);
out:
    json_object_put(found);
    api_s2ibuilder_free(builder);
    api_s2irun_free(old);
    api_s2irun_free(run);
}

/* Kubernetes' label value syntax: at most 63 of [A-Za-z0-9_.-], alphanumeric at both
 * ends (or empty). */
static bool is_label_value(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > LABEL_VALUE_MAX)
        return false;
    if (!isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[len - 1]))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

static void add_builder_label(verdict_t *v, json_object *object, const char *builder)
{
    if (!is_label_value(builder))
        return;
    json_object *metadata = member(object, "metadata");
    const char *labels_key = find_key(metadata, "labels");
    json_object *labels = labels_key ? json_object_object_get(metadata, labels_key) : NULL;
    buf_t path = BUF_INIT;
    pointer_append(&path, find_key(object, "metadata"));
    if (json_object_is_type(labels, json_type_object)) {
        if (util_streq(string_at(labels, API_LABEL_RUN_BUILDER_NAME), builder)) {
            buf_free(&path);
            return;
        }
        pointer_append(&path, labels_key);
        pointer_append(&path, API_LABEL_RUN_BUILDER_NAME);
        patch_add(v, &path, json_object_new_string(builder));
    } else if (!labels || json_object_is_type(labels, json_type_null)) {
        json_object *value = json_object_new_object();
        pointer_append(&path, labels_key ? labels_key : "labels");
        if (set(value, API_LABEL_RUN_BUILDER_NAME, json_object_new_string(builder)) < 0) {
            json_object_put(value);
            value = NULL;
        }
        patch_add(v, &path, value);
    }
    buf_free(&path);
}

static json_object *owner_reference(const char *name, const char *uid)
{
    json_object *ref = json_object_new_object();
    if (set(ref, "apiVersion", json_object_new_string(API_GROUP_VERSION)) < 0 ||
        set(ref, "kind", json_object_new_string(API_KIND_BUILDER)) < 0 ||
        set(ref, "name", json_object_new_string(name)) < 0 ||
        set(ref, "uid", json_object_new_string(uid)) < 0 ||
        set(ref, "controller", json_object_new_boolean(0)) < 0 ||
        set(ref, "blockOwnerDeletion", json_object_new_boolean(0)) < 0) {
        json_object_put(ref);
        return NULL;
    }
    return ref;
}

static void add_builder_owner(webhook_t *wh, const review_t *r, verdict_t *v, const char *builder)
{
    json_object *found = NULL;
    char *err = NULL;
    int code = 0;
    const char *ns = review_namespace(r);
    int got = webhook_get_builder(wh, ns, builder, &found, &err, &code);
    if (got != 0) {
        /* Best effort: a missing builder is allowed (the controller waits for it), and a
         * failed lookup must not block the run's creation. */
        if (got < 0)
            log_warn("no owner reference for the run: builder lookup failed", "builder", builder,
                     "namespace", ns, "error", err ? err : "out of memory", NULL);
        free(err);
        return;
    }
    const char *uid = string_at(member(found, "metadata"), "uid");
    json_object *metadata = member(r->object, "metadata");
    const char *refs_key = find_key(metadata, "ownerReferences");
    json_object *refs = refs_key ? json_object_object_get(metadata, refs_key) : NULL;
    buf_t path = BUF_INIT;
    pointer_append(&path, find_key(r->object, "metadata"));
    if (empty(uid)) {
        /* nothing to refer to */
    } else if (json_object_is_type(refs, json_type_array)) {
        bool present = false;
        for (size_t i = 0; i < json_object_array_length(refs); i++)
            present |= util_streq(string_at(json_object_array_get_idx(refs, i), "uid"), uid);
        if (!present) {
            pointer_append(&path, refs_key);
            buf_puts(&path, "/-");
            patch_add(v, &path, owner_reference(builder, uid));
        }
    } else if (!refs || json_object_is_type(refs, json_type_null)) {
        json_object *list = json_object_new_array();
        json_object *ref = owner_reference(builder, uid);
        if (!list || !ref || json_object_array_add(list, ref) < 0) {
            json_object_put(ref);
            json_object_put(list);
            list = NULL;
        }
        pointer_append(&path, refs_key ? refs_key : "ownerReferences");
        patch_add(v, &path, list);
    }
    buf_free(&path);
    json_object_put(found);
}

static void mutate_run(webhook_t *wh, const review_t *r, verdict_t *v)
{
    if (!util_streq(r->operation, "CREATE") ||
        !json_object_is_type(member(r->object, "metadata"), json_type_object))
        return;
    api_s2irun_t *run = NULL;
    if (api_s2irun_decode(r->object, &run, NULL) < 0)
        return; /* the schema or the validating webhook will say what is wrong */
    const char *builder = run->spec.builder_name;
    if (!empty(builder)) {
        add_builder_label(v, r->object, builder);
        add_builder_owner(wh, r, v, builder);
    }
    api_s2irun_free(run);
}

/* ---- S2iBuilderTemplate -------------------------------------------------------------------- */

static void validate_template(webhook_t *wh, const review_t *r, verdict_t *v)
{
    (void)wh;
    if (!update_needs_validation(r, NULL))
        return;
    api_s2ibuilder_template_t *tmpl = NULL;
    char *err = NULL;
    if (api_s2ibuilder_template_decode(r->object, &tmpl, &err) < 0) {
        errored(v, 400, "%s", err ? err : "out of memory");
        free(err);
        return;
    }
    api_errors_t errs;
    api_errors_init(&errs);
    deny_errors(v, api_s2ibuilder_template_validate(tmpl, &errs), &errs);
    api_errors_clear(&errs);
    api_s2ibuilder_template_free(tmpl);
}

/* ---- dispatch ------------------------------------------------------------------------------ */

typedef void (*admit_fn)(webhook_t *wh, const review_t *r, verdict_t *v);

static const struct {
    const char *name; /* for metrics and logs */
    const char *kind;
    admit_fn admit;
} webhooks[WEBHOOK_ID_COUNT] = {
    [WEBHOOK_MUTATE_BUILDER] = {"mutate-s2ibuilder", API_KIND_BUILDER, mutate_builder},
    [WEBHOOK_VALIDATE_BUILDER] = {"validate-s2ibuilder", API_KIND_BUILDER, validate_builder},
    [WEBHOOK_VALIDATE_RUN] = {"validate-s2irun", API_KIND_RUN, validate_run},
    [WEBHOOK_VALIDATE_TEMPLATE] = {"validate-s2ibuildertemplate", API_KIND_TEMPLATE,
                                   validate_template},
    [WEBHOOK_MUTATE_RUN] = {"mutate-s2irun", API_KIND_RUN, mutate_run},
};

const char *webhook_id_name(webhook_id_t id)
{
    return id < WEBHOOK_ID_COUNT ? webhooks[id].name : "unknown";
}

static bool is_json_content_type(const char *ct)
{
    static const char want[] = "application/json";
    if (!ct || strncasecmp(ct, want, sizeof(want) - 1) != 0)
        return false;
    ct += sizeof(want) - 1;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

/* Parses the whole body as one JSON value (only whitespace may follow). */
static json_object *parse_body(const char *body, size_t len)
{
    if (len == 0 || len > INT32_MAX)
        return NULL;
    json_tokener *tok = json_tokener_new_ex(KUBE_JSON_MAX_DEPTH);
    if (!tok)
        return NULL;
    json_object *obj = json_tokener_parse_ex(tok, body, (int)len);
    bool ok = obj && json_tokener_get_error(tok) == json_tokener_success;
    for (size_t i = ok ? json_tokener_get_parse_end(tok) : len; i < len; i++)
        ok &= isspace((unsigned char)body[i]) != 0;
    json_tokener_free(tok);
    if (!ok) {
        json_object_put(obj);
        return NULL;
    }
    return obj;
}

/* Fills r from the body's root; NULL, or what is wrong with it. */
static const char *read_review(json_object *root, review_t *r)
{
    memset(r, 0, sizeof(*r));
    if (!json_object_is_type(root, json_type_object))
        return "the body is not a JSON object";
    r->api_version = string_at(root, "apiVersion");
    if (!util_streq(string_at(root, "kind"), "AdmissionReview"))
        return "kind must be AdmissionReview";
    if (!util_streq(r->api_version, REVIEW_V1) && !util_streq(r->api_version, REVIEW_V1BETA1))
        return "apiVersion must be " REVIEW_V1;
    json_object *req = json_object_object_get(root, "request");
    if (!json_object_is_type(req, json_type_object))
        return "request is missing";
    r->uid = string_at(req, "uid");
    if (empty(r->uid))
        return "request.uid is missing";
    r->operation = string_at(req, "operation");
    if (empty(r->operation))
        return "request.operation is missing";
    r->namespace = string_at(req, "namespace");
    r->sub_resource = string_at(req, "subResource");
    json_object *kind = json_object_object_get(req, "kind");
    r->kind_group = string_at(kind, "group");
    r->kind = string_at(kind, "kind");
    r->object = json_object_object_get(req, "object");
    r->old_object = json_object_object_get(req, "oldObject");
    if (json_object_is_type(r->object, json_type_null))
        r->object = NULL;
    if (json_object_is_type(r->old_object, json_type_null))
        r->old_object = NULL;
    return NULL;
}

static int render(const char *api_version, const char *uid, const verdict_t *v, buf_t *out)
{
    const int flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;
    json_object *root = json_object_new_object();
    json_object *resp = json_object_new_object();
    json_object *status = json_object_new_object();
    int rc = set(status, "metadata", json_object_new_object());
    if (v->message)
        rc |= set(status, "message", json_object_new_string(v->message));
    if (v->reason)
        rc |= set(status, "reason", json_object_new_string(v->reason));
    rc |= set(status, "code", json_object_new_int(v->code));
    rc |= set(resp, "uid", json_object_new_string(uid ? uid : ""));
    rc |= set(resp, "allowed", json_object_new_boolean(v->allowed));
    rc |= set(resp, "status", status);
    if (v->patch) {
        const char *ops = json_object_to_json_string_ext(v->patch, flags);
        char *b64 = ops ? webhook_base64_encode(ops, strlen(ops)) : NULL;
        rc |= set(resp, "patchType", json_object_new_string("JSONPatch"));
        rc |= set(resp, "patch", b64 ? json_object_new_string(b64) : NULL);
        free(b64);
    }
    rc |= set(root, "kind", json_object_new_string("AdmissionReview"));
    rc |= set(root, "apiVersion", json_object_new_string(api_version ? api_version : REVIEW_V1));
    rc |= set(root, "response", resp);
    const char *text = rc == 0 ? json_object_to_json_string_ext(root, flags) : NULL;
    buf_reset(out);
    if (text)
        buf_puts(out, text);
    json_object_put(root);
    return text && !out->oom ? 0 : -1;
}

static void verdict_clear(verdict_t *v)
{
    free(v->message);
    json_object_put(v->patch);
    memset(v, 0, sizeof(*v));
}

void webhook_serve(webhook_t *wh, webhook_id_t id, const char *content_type, const char *body,
                   size_t len, int *status, buf_t *out)
{
    double start = util_monotonic();
    verdict_t v = {.allowed = true, .code = 200};
    review_t r = {0};
    json_object *root = NULL;
    const char *malformed = NULL;
    const char *result;
    *status = 200;
    if (id >= WEBHOOK_ID_COUNT) {
        malformed = "no such webhook";
    } else if (!is_json_content_type(content_type)) {
        errored(&v, 400, "contentType=%s, expected application/json",
                content_type ? content_type : "");
        *status = 400;
    } else if (!(root = parse_body(body, len))) {
        malformed = "the body is not valid JSON";
    } else {
        malformed = read_review(root, &r);
    }
    if (malformed) {
        errored(&v, 400, "malformed AdmissionReview: %s", malformed);
        *status = 400;
    } else if (*status == 200) {
        if (!util_streq(r.kind_group, API_GROUP) || !util_streq(r.kind, webhooks[id].kind)) {
            errored(&v, 400, "this webhook admits %s %s, not %s %s", API_GROUP_VERSION,
                    webhooks[id].kind, r.kind_group ? r.kind_group : "", r.kind ? r.kind : "");
        } else if (empty(r.sub_resource) && (r.object || !is_write(&r))) {
            webhooks[id].admit(wh, &r, &v);
        } else if (is_write(&r) && empty(r.sub_resource)) {
            errored(&v, 400, "request.object is missing");
        }
    }
    if (v.oom) {
        verdict_clear(&v);
        errored(&v, 500, "out of memory");
        v.oom = false;
    }
    if (render(r.api_version, r.uid, &v, out) < 0) {
        *status = 500;
        buf_reset(out);
        buf_puts(out, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                      "\"message\":\"out of memory\",\"code\":500}");
    }
    result = v.allowed ? "allowed" : v.code == 403 ? "denied" : "error";
    const char *name = webhook_id_name(id);
    if (!v.allowed) {
        const char *who = r.object ? string_at(member(r.object, "metadata"), "name") : NULL;
        char code[16];
        snprintf(code, sizeof(code), "%d", v.code);
        log_v(v.code == 403 ? 2 : 1, v.code == 403 ? "admission denied" : "admission failed",
              "webhook", name, "operation", r.operation ? r.operation : "", "namespace",
              r.namespace ? r.namespace : "", "name", who ? who : "", "code", code, "message",
              v.message ? v.message : "", NULL);
    }
    if (wh && id < WEBHOOK_ID_COUNT) {
        metrics_counter_inc(wh->requests, METRICS_LABELS(name, result));
        metrics_histogram_observe(wh->duration, METRICS_LABELS(name), util_monotonic() - start);
    }
    verdict_clear(&v);
    json_object_put(root);
}

/*
 * httpapi/trigger: the upstream s2ioperator's trigger endpoints — a general one guarded
 * by the builder's secretCode, GitHub and GitLab push webhooks — each creating one
 * S2iRun per accepted request, within a per-builder budget.
 */
#include "httpapi/httpapi_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"

static const kube_resource_t RES_RUNS = {HTTPAPI_GROUP, "v1alpha1", "s2iruns", true};

/* Buckets idle this long are full again, so forgetting them changes nothing. */
#define BUCKET_IDLE_SECONDS(api) ((api)->trigger_burst / (api)->trigger_rate)

typedef struct trigger {
    httpapi_t *api;
    const server_request_t *req;
    server_response_t *resp;
    const char *route; /* "general", "github", "gitlab": metrics and logs */
    const char *ns;
    const char *builder_name;
    api_s2ibuilder_t *builder; /* decoded, once found */
} trigger_t;

static void count(trigger_t *t, const char *result)
{
    if (t->api->trigger_requests)
        metrics_counter_inc(t->api->trigger_requests, METRICS_LABELS(t->route, result));
}

/* Answers {"message": ...} with status, counts the result. */
static void answer(trigger_t *t, int status, const char *result, const char *fmt, ...)
    UTIL_PRINTF(4, 5);

static void answer(trigger_t *t, int status, const char *result, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_t msg = BUF_INIT;
    buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    json_object *body = json_object_new_object();
    json_object_object_add(body, "message", json_object_new_string(buf_str(&msg)));
    server_response_json(t->resp, status, body);
    json_object_put(body);
    count(t, result);
    log_v(status >= 400 ? 1 : 2, "trigger answered", "route", t->route, "builder",
          t->builder_name ? t->builder_name : "", "namespace", t->ns ? t->ns : "", "result", result,
          "reason", buf_str(&msg), NULL);
    buf_free(&msg);
}

/* Finds and decodes the builder; false when answered (404, 500). */
static bool load_builder(trigger_t *t)
{
    t->ns = server_request_param(t->req, "namespace");
    t->builder_name = server_request_param(t->req, "builder");
    if (!t->ns || !t->builder_name) {
        answer(t, 404, "not_found", "no such builder");
        return false;
    }
    kube_err_t err;
    json_object *obj = httpapi_get_builder(t->api, t->ns, t->builder_name, &err);
    if (!obj) {
        if (err == KUBE_ERR_NOT_FOUND)
            answer(t, 404, "not_found", "s2ibuilders.%s \"%s\" not found", HTTPAPI_GROUP,
                   t->builder_name);
        else
            answer(t, 503, "error", "the builder cannot be read now: %s", kube_err_name(err));
        return false;
    }
    char *why = NULL;
    int rc = api_s2ibuilder_decode(obj, &t->builder, &why);
    json_object_put(obj);
    if (rc < 0) {
        answer(t, 500, "error", "the builder cannot be decoded: %s", why ? why : "out of memory");
        free(why);
        return false;
    }
    if (httpapi_json_str(t->builder->raw, "metadata.deletionTimestamp")) {
        answer(t, 409, "conflict", "builder %s/%s is being deleted", t->ns, t->builder_name);
        return false;
    }
    return true;
}

static const char *builder_secret(const trigger_t *t)
{
    return t->builder->spec.config ? t->builder->spec.config->secret_code : NULL;
}

/* Takes a token from the builder's bucket; false when answered 429. */
static bool within_budget(trigger_t *t)
{
    httpapi_t *api = t->api;
    char *key = util_asprintf("%s/%s", t->ns, t->builder_name);
    if (!key) {
        answer(t, 500, "error", "out of memory");
        return false;
    }
    double now = util_monotonic(), wait = 0;
    pthread_mutex_lock(&api->lock);
    httpapi_bucket_t *b = strmap_get(api->buckets, key);
    if (!b) {
        if (strmap_len(api->buckets) >= HTTPAPI_CACHE_MAX) {
            /* Forget buckets that have been idle long enough to be full again. */
            char **idle = calloc(strmap_len(api->buckets), sizeof *idle);
            size_t n = 0;
            strmap_iter_t it;
            strmap_iter_init(&it, api->buckets);
            const char *k;
            void *v;
            while (idle && strmap_iter_next(&it, &k, &v))
                if (now - ((httpapi_bucket_t *)v)->last > BUCKET_IDLE_SECONDS(api))
                    idle[n++] = strdup(k);
            for (size_t i = 0; i < n; i++) {
                if (idle[i])
                    strmap_del(api->buckets, idle[i]);
                free(idle[i]);
            }
            free(idle);
        }
        b = malloc(sizeof *b);
        if (b) {
            httpapi_bucket_init(b, api->trigger_burst, now);
            if (strmap_set(api->buckets, key, b) < 0) {
                free(b);
                b = NULL;
            }
        }
    }
    if (b)
        wait = httpapi_bucket_take(b, api->trigger_rate, api->trigger_burst, now);
    pthread_mutex_unlock(&api->lock);
    free(key);
    if (!b) {
        answer(t, 500, "error", "out of memory");
        return false;
    }
    if (wait > 0) {
        char after[32];
        snprintf(after, sizeof after, "%.0f", wait < 1 ? 1 : wait + 0.5);
        server_response_header(t->resp, "Retry-After", after);
        answer(t, 429, "rate_limited", "too many runs triggered for builder %s/%s; retry in %s s",
               t->ns, t->builder_name, after);
        return false;
    }
    return true;
}

static void add_string(json_object *obj, const char *key, const char *value)
{
    if (value && *value)
        json_object_object_add(obj, key, json_object_new_string(value));
}

/* Creates the run and answers 201 (or the error). */
static void create_run(trigger_t *t, const httpapi_overrides_t *o, const char *creator)
{
    if (!within_budget(t))
        return;
    char generate_name[64];
    httpapi_generate_name(t->builder_name, generate_name);
    json_object *run = json_object_new_object();
    json_object *md = json_object_new_object();
    json_object *ann = json_object_new_object();
    json_object *spec = json_object_new_object();
    json_object_object_add(run, "apiVersion", json_object_new_string(HTTPAPI_GROUP "/v1alpha1"));
    json_object_object_add(run, "kind", json_object_new_string("S2iRun"));
    json_object_object_add(md, "generateName", json_object_new_string(generate_name));
    json_object_object_add(md, "namespace", json_object_new_string(t->ns));
    /* The console lists a builder's runs by this label; a value must fit in 63. */
    if (strlen(t->builder_name) <= 63) {
        json_object *labels = json_object_new_object();
        json_object_object_add(labels, HTTPAPI_LABEL_BUILDER_NAME,
                               json_object_new_string(t->builder_name));
        json_object_object_add(md, "labels", labels);
    }
    json_object_object_add(ann, HTTPAPI_ANNOTATION_CREATOR, json_object_new_string(creator));
    json_object_object_add(md, "annotations", ann);
    json_object_object_add(run, "metadata", md);
    json_object_object_add(spec, "builderName", json_object_new_string(t->builder_name));
    add_string(spec, "newTag", o->new_tag);
    add_string(spec, "newRevisionId", o->new_revision_id);
    add_string(spec, "newSourceURL", o->new_source_url);
    json_object_object_add(run, "spec", spec);

    kube_result_t r = KUBE_RESULT_INIT;
    kube_write_options_t wo = {.field_manager = "s2i-operator"};
    kube_err_t err = kube_create(t->api->client, &RES_RUNS, t->ns, run, &wo, &r);
    json_object_put(run);
    if (err != KUBE_OK) {
        char line[512];
        kube_error_str(&r, line, sizeof line);
        if (err == KUBE_ERR_INVALID || err == KUBE_ERR_BAD_REQUEST || err == KUBE_ERR_FORBIDDEN)
            answer(t, 400, "bad_request", "the run was not accepted: %s", line);
        else if (err == KUBE_ERR_TOO_MANY_REQUESTS || err == KUBE_ERR_SERVICE_UNAVAILABLE ||
                 err == KUBE_ERR_TRANSPORT)
            answer(t, 503, "error", "the run cannot be created now: %s", line);
        else
            answer(t, 500, "error", "the run cannot be created: %s", line);
        log_warn("trigger could not create a run", "builder", t->builder_name, "namespace", t->ns,
                 "error", line, NULL);
        kube_result_clear(&r);
        return;
    }
    const char *name = httpapi_json_str(r.body, "metadata.name");
    json_object *body = json_object_new_object();
    json_object_object_add(body, "namespace", json_object_new_string(t->ns));
    json_object_object_add(body, "name", json_object_new_string(name ? name : ""));
    json_object_object_add(body, "builderName", json_object_new_string(t->builder_name));
    char *log_path = util_asprintf("/logs/namespaces/%s/s2iruns/%s", t->ns, name ? name : "");
    if (log_path)
        json_object_object_add(body, "logPath", json_object_new_string(log_path));
    free(log_path);
    server_response_json(t->resp, 201, body);
    json_object_put(body);
    count(t, "created");
    log_info("trigger created a run", "route", t->route, "run", name ? name : "", "namespace",
             t->ns, "builder", t->builder_name, "creator", creator, NULL);
    kube_result_clear(&r);
}

static void trigger_done(trigger_t *t)
{
    api_s2ibuilder_free(t->builder);
}

/* ---- general --------------------------------------------------------------------------- */

void httpapi_handle_general_trigger(const server_request_t *req, server_response_t *resp,
                                    void *data)
{
    trigger_t t = {.api = data, .req = req, .resp = resp, .route = "general"};
    if (!load_builder(&t))
        goto out;
    /* Constant time, and an empty secret opens nothing (upstream let "" == "" pass). */
    if (!util_secure_streq(server_request_query(req, "secretCode"), builder_secret(&t))) {
        answer(&t, 401, "unauthorized", "secretCode does not match the builder's");
        goto out;
    }
    httpapi_overrides_t o;
    char *why = NULL;
    int rc = httpapi_parse_overrides(server_request_header(req, "Content-Type"), req->body,
                                     req->body_len, &o, &why);
    if (rc != 0) {
        answer(&t, rc, "bad_request", "%s", why ? why : "bad body");
        free(why);
        goto out;
    }
    create_run(&t, &o, "auto-trigger");
    httpapi_overrides_clear(&o);
out:
    trigger_done(&t);
}

/* ---- push webhooks --------------------------------------------------------------------- */

/* Parses a push payload: JSON, or (GitHub's other content type) a form whose "payload"
 * field is the JSON. NULL when answered 400. */
static json_object *push_payload(trigger_t *t)
{
    const server_request_t *req = t->req;
    const char *type = server_request_header(req, "Content-Type");
    static const char form[] = "application/x-www-form-urlencoded";
    json_object *obj = NULL;
    if (type && strncasecmp(type, form, sizeof form - 1) == 0) {
        char *payload = httpapi_form_value(req->body, req->body_len, "payload");
        if (payload)
            obj = json_tokener_parse(payload);
        free(payload);
    } else {
        server_request_json(req, &obj);
    }
    if (!obj || !json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        answer(t, 400, "bad_request", "the body is not a JSON push event");
        return NULL;
    }
    return obj;
}

/* Whether the pushed ref starts a build; answers (200 ignored, 500) when not. */
static bool branch_accepted(trigger_t *t, const char *ref)
{
    const char *branch = httpapi_ref_branch(ref);
    if (!branch) {
        answer(t, 200, "ignored", "ref %s is not a branch: nothing to build", ref ? ref : "(none)");
        return false;
    }
    const api_s2i_config_t *cfg = t->builder->spec.config;
    char *why = NULL;
    int m = httpapi_branch_matches(cfg ? cfg->branch_expression : NULL,
                                   cfg ? cfg->revision_id : NULL, branch, &why);
    if (m < 0) {
        answer(t, 500, "error", "%s", why ? why : "bad branchExpression");
        free(why);
        return false;
    }
    if (m == 0) {
        if (cfg && cfg->branch_expression && *cfg->branch_expression)
            answer(t, 200, "ignored", "branch %s does not match branchExpression %s", branch,
                   cfg->branch_expression);
        else
            answer(t, 200, "ignored", "branch %s is not the builder's revisionId %s", branch,
                   cfg && cfg->revision_id && *cfg->revision_id ? cfg->revision_id : "master");
        return false;
    }
    return true;
}

static char *creator_of(const char *name, const char *fallback)
{
    return util_asprintf("trigger-%s", name && *name ? name : fallback);
}

/* A push event that passed its checks: a run of the pushed commit, if the branch is one
 * the builder builds. */
static void build_push(trigger_t *t, json_object *event, const char *commit, const char *pusher)
{
    if (!branch_accepted(t, httpapi_json_str(event, "ref")))
        return;
    char *creator = creator_of(pusher, t->route);
    httpapi_overrides_t o = {.new_revision_id = (char *)commit};
    if (creator)
        create_run(t, &o, creator);
    else
        answer(t, 500, "error", "out of memory");
    free(creator);
}

void httpapi_handle_github_trigger(const server_request_t *req, server_response_t *resp, void *data)
{
    trigger_t t = {.api = data, .req = req, .resp = resp, .route = "github"};
    json_object *event = NULL;
    const char *type = server_request_header(req, "X-GitHub-Event");
    if (!type || !*type) {
        answer(&t, 400, "bad_request", "no X-GitHub-Event header: not a GitHub webhook");
        goto out;
    }
    if (!load_builder(&t))
        goto out;
    const char *secret = builder_secret(&t);
    if (secret && *secret &&
        !httpapi_github_signature_valid(secret, req->body, req->body_len,
                                        server_request_header(req, "X-Hub-Signature-256"))) {
        answer(&t, 401, "unauthorized",
               server_request_header(req, "X-Hub-Signature-256")
                   ? "X-Hub-Signature-256 does not match the body and the builder's secretCode"
                   : "X-Hub-Signature-256 is required: set the webhook's secret to the builder's "
                     "secretCode");
        goto out;
    }
    if (strcmp(type, "ping") == 0) {
        answer(&t, 200, "ping", "pong");
        goto out;
    }
    if (strcmp(type, "push") != 0) {
        answer(&t, 400, "bad_request", "event %s is not supported: only push events start runs",
               type);
        goto out;
    }
    if (!(event = push_payload(&t)))
        goto out;
    json_object *deleted = httpapi_json_at(event, "deleted");
    const char *commit = httpapi_json_str(event, "head_commit.id");
    if ((deleted && json_object_get_boolean(deleted)) || !commit || !*commit) {
        answer(&t, 200, "ignored", "the push deleted %s or has no head commit: nothing to build",
               httpapi_json_str(event, "ref") ? httpapi_json_str(event, "ref") : "the ref");
        goto out;
    }
    build_push(&t, event, commit, httpapi_json_str(event, "head_commit.committer.name"));
out:
    json_object_put(event);
    trigger_done(&t);
}

void httpapi_handle_gitlab_trigger(const server_request_t *req, server_response_t *resp, void *data)
{
    trigger_t t = {.api = data, .req = req, .resp = resp, .route = "gitlab"};
    json_object *event = NULL;
    if (!load_builder(&t))
        goto out;
    /* GitLab sends the webhook's secret token as is (so#168); without a secretCode on the
     * builder nothing matches. */
    if (!util_secure_streq(server_request_header(req, "X-Gitlab-Token"), builder_secret(&t))) {
        answer(&t, 401, "unauthorized", "X-Gitlab-Token does not match the builder's secretCode");
        goto out;
    }
    const char *type = server_request_header(req, "X-Gitlab-Event");
    if (!type || strcmp(type, "Push Hook") != 0) {
        answer(&t, 400, "bad_request", "event %s is not supported: only Push Hook starts runs",
               type ? type : "(none)");
        goto out;
    }
    if (!(event = push_payload(&t)))
        goto out;
    const char *commit = httpapi_json_str(event, "checkout_sha");
    if (!commit || !*commit) {
        answer(&t, 200, "ignored", "the push deleted %s: nothing to build",
               httpapi_json_str(event, "ref") ? httpapi_json_str(event, "ref") : "the ref");
        goto out;
    }
    build_push(&t, event, commit, httpapi_json_str(event, "user_name"));
out:
    json_object_put(event);
    trigger_done(&t);
}

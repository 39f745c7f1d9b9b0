/*
 * httpapi/auth: who may read build logs — the bearer token is authenticated with a
 * TokenReview and the user authorized with a SubjectAccessReview for get s2iruns, as
 * an aggregated API server or kube-rbac-proxy does (delegated authentication and
 * authorization, ClusterRole system:auth-delegator). Allowed decisions are remembered
 * briefly under a SHA-256 of the token, so a follower's reconnects cost nothing and no
 * token is ever kept or logged.
 */
#include "httpapi/httpapi_internal.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static const kube_resource_t RES_TOKEN_REVIEWS = {"authentication.k8s.io", "v1", "tokenreviews",
                                                  false};
static const kube_resource_t RES_ACCESS_REVIEWS = {"authorization.k8s.io", "v1",
                                                   "subjectaccessreviews", false};

/* "<sha256(token) hex>|<ns>|<name>", malloc'd. */
static char *cache_key(const char *token, const char *ns, const char *name)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_Digest(token, strlen(token), digest, &n, EVP_sha256(), NULL))
        return NULL;
    buf_t key = BUF_INIT;
    for (unsigned int i = 0; i < n; i++)
        buf_printf(&key, "%02x", digest[i]);
    buf_printf(&key, "|%s|%s", ns, name);
    if (key.oom) {
        buf_free(&key);
        return NULL;
    }
    return buf_steal(&key);
}

static bool cache_allows(httpapi_t *api, const char *key)
{
    pthread_mutex_lock(&api->lock);
    double *expiry = strmap_get(api->auth_cache, key);
    bool ok = expiry && *expiry > util_monotonic();
    pthread_mutex_unlock(&api->lock);
    return ok;
}

/* Drops expired entries; everything when that is not enough. Called with the lock held. */
static void cache_prune(strmap_t *cache, double now)
{
    char **stale = calloc(strmap_len(cache), sizeof *stale);
    size_t n = 0;
    strmap_iter_t it;
    strmap_iter_init(&it, cache);
    const char *key;
    void *value;
    while (stale && strmap_iter_next(&it, &key, &value))
        if (*(double *)value <= now)
            stale[n++] = strdup(key);
    for (size_t i = 0; i < n; i++) {
        if (stale[i])
            strmap_del(cache, stale[i]);
        free(stale[i]);
    }
    free(stale);
    if (strmap_len(cache) >= HTTPAPI_CACHE_MAX) {
        /* Still full of live entries: start over rather than grow. */
        strmap_iter_init(&it, cache);
        char **all = calloc(strmap_len(cache), sizeof *all);
        n = 0;
        while (all && strmap_iter_next(&it, &key, &value))
            all[n++] = strdup(key);
        for (size_t i = 0; i < n; i++) {
            if (all[i])
                strmap_del(cache, all[i]);
            free(all[i]);
        }
        free(all);
    }
}

static void cache_remember(httpapi_t *api, const char *key)
{
    if (api->auth_ttl <= 0)
        return;
    double *expiry = malloc(sizeof *expiry);
    if (!expiry)
        return;
    double now = util_monotonic();
    *expiry = now + api->auth_ttl;
    pthread_mutex_lock(&api->lock);
    if (strmap_len(api->auth_cache) >= HTTPAPI_CACHE_MAX)
        cache_prune(api->auth_cache, now);
    if (strmap_set(api->auth_cache, key, expiry) < 0)
        free(expiry);
    pthread_mutex_unlock(&api->lock);
}

static void deny(server_response_t *resp, int status, const char *reason, const char *message)
{
    json_object *st = json_object_new_object();
    json_object_object_add(st, "kind", json_object_new_string("Status"));
    json_object_object_add(st, "apiVersion", json_object_new_string("v1"));
    json_object_object_add(st, "status", json_object_new_string("Failure"));
    json_object_object_add(st, "message", json_object_new_string(message));
    json_object_object_add(st, "reason", json_object_new_string(reason));
    json_object_object_add(st, "code", json_object_new_int(status));
    if (status == 401)
        server_response_header(resp, "WWW-Authenticate", "Bearer realm=\"s2i-operator\"");
    server_response_json(resp, status, st);
    json_object_put(st);
}

/* The TokenReview's status.user (a new reference), or NULL: *status says why (401: not
 * authenticated, 503: the review could not be made). */
static json_object *review_token(httpapi_t *api, const char *token, int *status)
{
    json_object *review = json_object_new_object();
    json_object *spec = json_object_new_object();
    json_object_object_add(review, "apiVersion",
                           json_object_new_string("authentication.k8s.io/v1"));
    json_object_object_add(review, "kind", json_object_new_string("TokenReview"));
    json_object_object_add(spec, "token", json_object_new_string(token));
    json_object_object_add(review, "spec", spec);
    kube_result_t r = KUBE_RESULT_INIT;
    json_object *user = NULL;
    if (kube_create(api->client, &RES_TOKEN_REVIEWS, NULL, review, NULL, &r) == KUBE_OK) {
        json_object *auth = httpapi_json_at(r.body, "status.authenticated");
        if (auth && json_object_get_boolean(auth))
            user = json_object_get(httpapi_json_at(r.body, "status.user"));
        *status = user ? 200 : 401;
    } else {
        char line[256];
        log_warn("TokenReview failed", "error", kube_error_str(&r, line, sizeof line), NULL);
        *status = 503;
    }
    kube_result_clear(&r);
    json_object_put(review);
    return user;
}

/* 200 allowed, 403 denied, 503 the review could not be made. */
static int review_access(httpapi_t *api, json_object *user, const char *ns, const char *name)
{
    json_object *review = json_object_new_object();
    json_object *spec = json_object_new_object();
    json_object *attrs = json_object_new_object();
    json_object_object_add(review, "apiVersion", json_object_new_string("authorization.k8s.io/v1"));
    json_object_object_add(review, "kind", json_object_new_string("SubjectAccessReview"));
    static const char *const user_fields[][2] = {
        {"username", "user"}, {"uid", "uid"}, {"groups", "groups"}, {"extra", "extra"}};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(user_fields); i++) {
        json_object *v = NULL;
        if (json_object_object_get_ex(user, user_fields[i][0], &v) && v)
            json_object_object_add(spec, user_fields[i][1], json_object_get(v));
    }
    json_object_object_add(attrs, "namespace", json_object_new_string(ns));
    json_object_object_add(attrs, "verb", json_object_new_string("get"));
    json_object_object_add(attrs, "group", json_object_new_string(HTTPAPI_GROUP));
    json_object_object_add(attrs, "version", json_object_new_string("v1alpha1"));
    json_object_object_add(attrs, "resource", json_object_new_string("s2iruns"));
    if (*name)
        json_object_object_add(attrs, "name", json_object_new_string(name));
    json_object_object_add(spec, "resourceAttributes", attrs);
    json_object_object_add(review, "spec", spec);
    kube_result_t r = KUBE_RESULT_INIT;
    int status;
    if (kube_create(api->client, &RES_ACCESS_REVIEWS, NULL, review, NULL, &r) == KUBE_OK) {
        json_object *allowed = httpapi_json_at(r.body, "status.allowed");
        status = allowed && json_object_get_boolean(allowed) ? 200 : 403;
    } else {
        char line[256];
        log_warn("SubjectAccessReview failed", "error", kube_error_str(&r, line, sizeof line),
                 NULL);
        status = 503;
    }
    kube_result_clear(&r);
    json_object_put(review);
    return status;
}

int httpapi_authorize(httpapi_t *api, const server_request_t *req, const char *ns, const char *name,
                      server_response_t *resp)
{
    const char *token = server_request_bearer_token(req);
    if (!token || !*token) {
        deny(resp, 401, "Unauthorized", "a bearer token is required (Authorization: Bearer ...)");
        return 401;
    }
    char *key = cache_key(token, ns, name);
    if (!key) {
        server_response_text(resp, 500, "out of memory\n");
        return 500;
    }
    if (cache_allows(api, key)) {
        free(key);
        return 200;
    }
    int status;
    json_object *user = review_token(api, token, &status);
    if (!user) {
        if (status == 401)
            deny(resp, 401, "Unauthorized", "the bearer token is not valid");
        else
            deny(resp, 503, "ServiceUnavailable", "the token cannot be verified now");
        log_v(2, "log request not authenticated", "remote", req->remote_addr, "status",
              status == 401 ? "401" : "503", NULL);
        free(key);
        return status;
    }
    status = review_access(api, user, ns, name);
    const char *username = httpapi_json_str(user, "username");
    if (status == 200) {
        cache_remember(api, key);
    } else if (status == 403) {
        char *msg =
            *name ? util_asprintf("s2iruns.%s \"%s\" is forbidden: User \"%s\" cannot "
                                  "get resource \"s2iruns\" in API group \"%s\" in the "
                                  "namespace \"%s\"",
                                  HTTPAPI_GROUP, name, username ? username : "", HTTPAPI_GROUP, ns)
                  : util_asprintf("s2iruns.%s is forbidden: User \"%s\" cannot get "
                                  "resource \"s2iruns\" in API group \"%s\" in the "
                                  "namespace \"%s\"",
                                  HTTPAPI_GROUP, username ? username : "", HTTPAPI_GROUP, ns);
        deny(resp, 403, "Forbidden", msg ? msg : "forbidden");
        log_v(2, "log request forbidden", "user", username ? username : "", "namespace", ns, "run",
              name, NULL);
        free(msg);
    } else {
        deny(resp, 503, "ServiceUnavailable", "the request cannot be authorized now");
    }
    json_object_put(user);
    free(key);
    return status;
}

/*
 * httpapi: lifetime, routes, metrics, and the object lookups the endpoints share —
 * the controller manager's caches when they are synced, the API server otherwise.
 */
#include "httpapi/httpapi_internal.h"

#include <stdlib.h>
#include <string.h>

static const kube_resource_t RES_BUILDERS = {HTTPAPI_GROUP, "v1alpha1", "s2ibuilders", true};
static const kube_resource_t RES_RUNS = {HTTPAPI_GROUP, "v1alpha1", "s2iruns", true};
static const kube_resource_t RES_PODS = {"", "v1", "pods", true};

#define TRIGGER_PATH(provider)                                                                     \
    "/s2itrigger/v1alpha1/" provider "/namespaces/{namespace}/s2ibuilders/{builder}"

int httpapi_new(const httpapi_options_t *opts, httpapi_t **out)
{
    *out = NULL;
    if (!opts || !opts->client)
        return -1;
    httpapi_t *api = calloc(1, sizeof *api);
    if (!api)
        return -1;
    api->client = opts->client;
    api->manager = opts->manager;
    api->auth_ttl = opts->auth_cache_ttl != 0 ? opts->auth_cache_ttl : 10;
    api->trigger_rate = opts->trigger_rate > 0 ? opts->trigger_rate : 0.1;
    api->trigger_burst = opts->trigger_burst > 0 ? opts->trigger_burst : 5;
    api->max_streams = opts->max_log_streams > 0 ? opts->max_log_streams : 64;
    api->poll_interval = opts->log_poll_interval > 0 ? opts->log_poll_interval : 1;
    pthread_mutex_init(&api->lock, NULL);
    pthread_cond_init(&api->wake, NULL);
    atomic_init(&api->stopping, false);
    httpapi_bucket_init(&api->miss_bucket, HTTPAPI_MISS_BURST, util_monotonic());
    api->auth_cache = strmap_new(free);
    api->buckets = strmap_new(free);
    if (!api->auth_cache || !api->buckets) {
        httpapi_free(api);
        return -1;
    }
    if (opts->metrics) {
        api->trigger_requests =
            metrics_counter_new(opts->metrics, "s2i_trigger_requests_total",
                                "Trigger requests by route (general, github, gitlab) and result.",
                                METRICS_LABELS("route", "result"));
        api->log_requests =
            metrics_counter_new(opts->metrics, "s2i_log_requests_total",
                                "Build log requests by result.", METRICS_LABELS("result"));
        api->streams_open = metrics_gauge_new(opts->metrics, "s2i_log_streams_open",
                                              "Build log streams being followed.", NULL);
        if (!api->trigger_requests || !api->log_requests || !api->streams_open) {
            httpapi_free(api);
            return -1;
        }
        metrics_gauge_set(api->streams_open, NULL, 0);
    }
    *out = api;
    return 0;
}

/* data: the Allow header's value. */
static void method_not_allowed(const server_request_t *req, server_response_t *resp, void *data)
{
    (void)req;
    server_response_header(resp, "Allow", data);
    server_response_text(resp, 405, "405 method not allowed\n");
}

int httpapi_register(httpapi_t *api, server_listener_t *l)
{
    if (!api || !l)
        return -1;
    const unsigned slash = SERVER_ROUTE_OPTIONAL_SLASH;
    int rc = 0;
    rc |= server_route(l, "GET", "/logs/namespaces/{namespace}/s2iruns/{name}", slash,
                       httpapi_handle_run_log, api);
    rc |=
        server_route(l, "GET", TRIGGER_PATH("general"), slash, httpapi_handle_general_trigger, api);
    rc |= server_route(l, "POST", TRIGGER_PATH("general"), slash, httpapi_handle_general_trigger,
                       api);
    rc |=
        server_route(l, "POST", TRIGGER_PATH("github"), slash, httpapi_handle_github_trigger, api);
    rc |=
        server_route(l, "POST", TRIGGER_PATH("gitlab"), slash, httpapi_handle_gitlab_trigger, api);
    /* Other methods on these paths: 405 here, before the GET catch-all below takes them. */
    rc |= server_route(l, NULL, "/logs/namespaces/{namespace}/s2iruns/{name}", slash,
                       method_not_allowed, (void *)"GET, HEAD");
    rc |= server_route(l, NULL, TRIGGER_PATH("general"), slash, method_not_allowed,
                       (void *)"GET, HEAD, POST");
    rc |= server_route(l, NULL, TRIGGER_PATH("github"), slash, method_not_allowed, (void *)"POST");
    rc |= server_route(l, NULL, TRIGGER_PATH("gitlab"), slash, method_not_allowed, (void *)"POST");
    /* Last: any path ending in /namespaces/{ns}/pods/{pod} (the handler answers 404 to
     * other shapes). */
    rc |= server_route(l, "GET", "/", SERVER_ROUTE_PREFIX, httpapi_handle_pod_log, api);
    return rc ? -1 : 0;
}

void httpapi_stop(httpapi_t *api)
{
    if (!api)
        return;
    pthread_mutex_lock(&api->lock);
    atomic_store(&api->stopping, true);
    pthread_cond_broadcast(&api->wake);
    pthread_mutex_unlock(&api->lock);
}

void httpapi_free(httpapi_t *api)
{
    if (!api)
        return;
    httpapi_stop(api);
    pthread_mutex_lock(&api->lock);
    while (api->streams > 0)
        pthread_cond_wait(&api->wake, &api->lock);
    pthread_mutex_unlock(&api->lock);
    strmap_free(api->auth_cache);
    strmap_free(api->buckets);
    pthread_cond_destroy(&api->wake);
    pthread_mutex_destroy(&api->lock);
    free(api);
}

/* ---- lookups --------------------------------------------------------------------------- */

static bool cache_usable(httpapi_t *api)
{
    return api->manager && controller_manager_synced(api->manager);
}

static json_object *api_get(httpapi_t *api, const kube_resource_t *res, const char *ns,
                            const char *name, kube_err_t *err)
{
    kube_result_t r = KUBE_RESULT_INIT;
    *err = kube_get(api->client, res, ns, name, &r);
    json_object *obj = *err == KUBE_OK ? kube_result_take_body(&r) : NULL;
    if (*err != KUBE_OK && *err != KUBE_ERR_NOT_FOUND) {
        char line[256];
        log_warn("cannot read object", "resource", res->plural, "object", name, "namespace", ns,
                 "error", kube_error_str(&r, line, sizeof line), NULL);
    }
    kube_result_clear(&r);
    if (*err == KUBE_OK && !obj)
        *err = KUBE_ERR_DECODE;
    return obj;
}

static char *object_key(const char *ns, const char *name)
{
    return util_asprintf("%s/%s", ns, name);
}

json_object *httpapi_get_builder(httpapi_t *api, const char *ns, const char *name, kube_err_t *err)
{
    if (cache_usable(api)) {
        char *key = object_key(ns, name);
        json_object *obj = key ? controller_manager_get_builder(api->manager, key) : NULL;
        free(key);
        if (obj) {
            *err = KUBE_OK;
            return obj;
        }
        /* A builder created a moment ago may not be cached yet, so a miss is checked with
         * the API server — within a budget shared by all callers: triggers are
         * unauthenticated, and a flood of requests for builders that do not exist must not
         * become a flood of API calls. */
        pthread_mutex_lock(&api->lock);
        double wait = httpapi_bucket_take(&api->miss_bucket, HTTPAPI_MISS_RATE, HTTPAPI_MISS_BURST,
                                          util_monotonic());
        pthread_mutex_unlock(&api->lock);
        if (wait > 0) {
            *err = KUBE_ERR_NOT_FOUND;
            return NULL;
        }
    }
    return api_get(api, &RES_BUILDERS, ns, name, err);
}

json_object *httpapi_get_run(httpapi_t *api, const char *ns, const char *name, kube_err_t *err)
{
    if (cache_usable(api)) {
        char *key = object_key(ns, name);
        json_object *obj = key ? controller_manager_get_run(api->manager, key) : NULL;
        free(key);
        if (obj) {
            *err = KUBE_OK;
            return obj;
        }
        /* A run created a moment ago may not have reached the cache yet; this endpoint is
         * authenticated, so asking the API server is affordable. */
    }
    return api_get(api, &RES_RUNS, ns, name, err);
}

static int newest_first(const void *a, const void *b)
{
    json_object *pa = *(json_object *const *)a, *pb = *(json_object *const *)b;
    const char *ta = httpapi_json_str(pa, "metadata.creationTimestamp");
    const char *tb = httpapi_json_str(pb, "metadata.creationTimestamp");
    int c = strcmp(tb ? tb : "", ta ? ta : "");
    if (c)
        return c;
    const char *na = httpapi_json_str(pa, "metadata.name");
    const char *nb = httpapi_json_str(pb, "metadata.name");
    return strcmp(nb ? nb : "", na ? na : "");
}

int httpapi_run_pods(httpapi_t *api, json_object *run, json_object ***pods, size_t *len)
{
    *pods = NULL;
    *len = 0;
    if (cache_usable(api) && controller_manager_run_pods(api->manager, run, pods, len) == 0 &&
        *len > 0)
        return 0;
    controller_objects_free(*pods, *len);
    *pods = NULL;
    *len = 0;
    const char *ns = httpapi_json_str(run, "metadata.namespace");
    const char *name = httpapi_json_str(run, "metadata.name");
    if (!ns || !name)
        return -1;
    char *selector = util_asprintf("%s=%s", HTTPAPI_LABEL_RUN, name);
    if (!selector)
        return -1;
    kube_list_options_t lo = {.label_selector = selector};
    kube_result_t r = KUBE_RESULT_INIT;
    int rc = -1;
    if (kube_list(api->client, &RES_PODS, ns, &lo, &r) == KUBE_OK) {
        json_object *items = httpapi_json_at(r.body, "items");
        size_t n = items && json_object_is_type(items, json_type_array)
                       ? json_object_array_length(items)
                       : 0;
        json_object **out = n ? calloc(n, sizeof *out) : NULL;
        if (n == 0 || out) {
            for (size_t i = 0; i < n; i++)
                out[i] = json_object_get(json_object_array_get_idx(items, i));
            if (n > 1)
                qsort(out, n, sizeof *out, newest_first);
            *pods = out;
            *len = n;
            rc = 0;
        }
    } else {
        char line[256];
        log_warn("cannot list build pods", "run", name, "namespace", ns, "error",
                 kube_error_str(&r, line, sizeof line), NULL);
    }
    kube_result_clear(&r);
    free(selector);
    return rc;
}

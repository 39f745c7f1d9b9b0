/*
 * webhook/lookup: the builders and templates the webhooks need, from the operator's caches
 * when they can answer and from the API server when they cannot — admission must work on a
 * replica whose caches are not synced (or not running: a standby), and must not call a
 * builder missing that the API server has.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webhook/webhook_internal.h"

static const kube_resource_t builders = {"devops.kubesphere.io", "v1alpha1", "s2ibuilders", true};
static const kube_resource_t templates = {"devops.kubesphere.io", "v1alpha1", "s2ibuildertemplates",
                                          false};

static int live_get(webhook_t *wh, const kube_resource_t *resource, const char *namespace,
                    const char *name, json_object **out, char **err, int *code)
{
    if (!wh->client) {
        *err = strdup("no API client to ask");
        *code = 500;
        return -1;
    }
    kube_result_t res = KUBE_RESULT_INIT;
    kube_err_t e = kube_get(wh->client, resource, namespace, name, &res);
    int rc;
    if (e == KUBE_OK) {
        *out = kube_result_take_body(&res);
        rc = *out ? 0 : 1;
    } else if (e == KUBE_ERR_NOT_FOUND) {
        rc = 1;
    } else {
        char line[512];
        *err = strdup(kube_error_str(&res, line, sizeof(line)));
        *code = res.http_code >= 400 ? (int)res.http_code : 500;
        rc = -1;
    }
    kube_result_clear(&res);
    return rc;
}

static int lookup(webhook_t *wh, webhook_lookup_fn cached, const kube_resource_t *resource,
                  const char *namespace, const char *name, json_object **out, char **err, int *code)
{
    *out = NULL;
    *err = NULL;
    if (cached) {
        json_object *obj = NULL;
        webhook_lookup_result_t r = cached(wh->lookup.data, namespace, name, &obj);
        if (r == WEBHOOK_LOOKUP_FOUND && obj) {
            *out = obj;
            return 0;
        }
        json_object_put(obj);
        if (r == WEBHOOK_LOOKUP_NOT_FOUND)
            return 1;
    }
    return live_get(wh, resource, namespace, name, out, err, code);
}

int webhook_get_builder(webhook_t *wh, const char *namespace, const char *name, json_object **out,
                        char **err, int *code)
{
    return lookup(wh, wh->lookup.get_builder, &builders, namespace, name, out, err, code);
}

int webhook_get_template(webhook_t *wh, const char *name, json_object **out, char **err, int *code)
{
    return lookup(wh, wh->lookup.get_template, &templates, NULL, name, out, err, code);
}

/* ---- the controller manager's caches --------------------------------------------------- */

/* The caches answer NULL both before their sync and for a miss; a miss may be a builder
 * created a moment ago that the watch has not delivered yet. Either way: ask the API. */
static webhook_lookup_result_t from_cache(json_object *obj, json_object **out)
{
    if (!obj)
        return WEBHOOK_LOOKUP_UNKNOWN;
    *out = obj;
    return WEBHOOK_LOOKUP_FOUND;
}

static webhook_lookup_result_t manager_builder(void *data, const char *namespace, const char *name,
                                               json_object **out)
{
    controller_manager_t *m = data;
    char *key = util_asprintf("%s/%s", namespace ? namespace : "", name);
    if (!key)
        return WEBHOOK_LOOKUP_UNKNOWN;
    json_object *obj = controller_manager_get_builder(m, key);
    free(key);
    return from_cache(obj, out);
}

static webhook_lookup_result_t manager_template(void *data, const char *namespace, const char *name,
                                                json_object **out)
{
    (void)namespace;
    return from_cache(controller_manager_get_template(data, name), out);
}

void webhook_lookup_from_manager(webhook_lookup_t *lookup, controller_manager_t *manager)
{
    lookup->get_builder = manager ? manager_builder : NULL;
    lookup->get_template = manager ? manager_template : NULL;
    lookup->data = manager;
}

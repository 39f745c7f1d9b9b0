/*
 * webhook/rotation: where the serving certificate comes from and how it changes — the
 * Secret shared by the replicas, the caBundle of the webhook configurations, and reloads.
 *
 * One check (webhook_sync) reads the source, decides, writes, and serves:
 *   GENERATE  GET the Secret; keep, renew the serving certificate, renew the CA, or start
 *             over (cert_assess); a write is an update with the resourceVersion read (or a
 *             create): when another replica wrote first, we get a conflict, read again and
 *             adopt its certificate instead of overwriting it.
 *   SECRET    GET the Secret someone else issues; FILES: read the files.
 * Then trust before use: the configurations' caBundle is made equal to the bundle (a
 * changed CA is announced while the old certificate is still served, and served only
 * ca_propagation_delay later), and only then is the listener reloaded. The bundle keeps
 * the previous CA as long as it is valid, so the certificate of a replica that has not
 * reloaded yet stays trusted: no request is refused during a rotation.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webhook/webhook_internal.h"

#define KEY_CERT   "tls.crt"
#define KEY_KEY    "tls.key"
#define KEY_CA     "ca.crt"
#define KEY_CA_KEY "ca.key"
#define ATTEMPTS   5 /* reads and writes of one check, when replicas race */
#define BUNDLE_MAX 3 /* CA certificates kept in caBundle */
#define SERVING_CN "s2i-operator webhook"
#define MANAGED_BY "s2i-operator"

static const kube_resource_t secrets = {"", "v1", "secrets", true};
static const kube_resource_t mutating_configs = {"admissionregistration.k8s.io", "v1",
                                                 "mutatingwebhookconfigurations", false};
static const kube_resource_t validating_configs = {"admissionregistration.k8s.io", "v1",
                                                   "validatingwebhookconfigurations", false};

static void log_kube_error(const char *msg, const char *what, const kube_result_t *res)
{
    char line[512];
    log_warn(msg, "object", what, "error", kube_error_str(res, line, sizeof(line)), NULL);
}

/* ---- the Secret --------------------------------------------------------------------------- */

static char *data_value(json_object *data, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(data, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    size_t len = 0;
    char *text = webhook_base64_decode(json_object_get_string(v), &len);
    if (text && strlen(text) != len) { /* PEM is text: a NUL inside is garbage */
        free(text);
        return NULL;
    }
    return text;
}

static void material_from_secret(json_object *secret, cert_material_t *m)
{
    json_object *data = NULL;
    json_object_object_get_ex(secret, "data", &data);
    cert_material_clear(m);
    if (!json_object_is_type(data, json_type_object))
        return;
    m->cert_pem = data_value(data, KEY_CERT);
    m->key_pem = data_value(data, KEY_KEY);
    m->ca_pem = data_value(data, KEY_CA);
    m->ca_key_pem = data_value(data, KEY_CA_KEY);
}

static int put_data(json_object *data, const char *key, const char *pem)
{
    char *b64 = pem ? webhook_base64_encode(pem, strlen(pem)) : NULL;
    json_object *v = b64 ? json_object_new_string(b64) : NULL;
    free(b64);
    if (!v || json_object_object_add(data, key, v) < 0) {
        json_object_put(v);
        return -1;
    }
    return 0;
}

/* The Secret to write: the one read with new data (type, labels and annotations kept, so
 * its resourceVersion makes the update conditional), or a new kubernetes.io/tls one. */
static json_object *secret_with(webhook_t *wh, json_object *existing, const cert_material_t *m)
{
    json_object *secret = NULL;
    json_object *data = json_object_new_object();
    if (!data || put_data(data, KEY_CERT, m->cert_pem) < 0 ||
        put_data(data, KEY_KEY, m->key_pem) < 0 || put_data(data, KEY_CA, m->ca_pem) < 0 ||
        put_data(data, KEY_CA_KEY, m->ca_key_pem) < 0)
        goto fail;
    if (existing) {
        if (json_object_deep_copy(existing, &secret, NULL) < 0)
            goto fail;
        json_object_object_del(secret, "stringData");
    } else {
        secret = json_object_new_object();
        json_object *meta = json_object_new_object();
        json_object *labels = json_object_new_object();
        if (!secret || !meta || !labels ||
            json_object_object_add(labels, "app.kubernetes.io/managed-by",
                                   json_object_new_string(MANAGED_BY)) < 0 ||
            json_object_object_add(meta, "name", json_object_new_string(wh->cert_secret)) < 0 ||
            json_object_object_add(meta, "namespace", json_object_new_string(wh->namespace)) < 0 ||
            json_object_object_add(meta, "labels", labels) < 0) {
            json_object_put(labels);
            json_object_put(meta);
            goto fail;
        }
        if (json_object_object_add(secret, "metadata", meta) < 0) {
            json_object_put(meta);
            goto fail;
        }
        if (json_object_object_add(secret, "apiVersion", json_object_new_string("v1")) < 0 ||
            json_object_object_add(secret, "kind", json_object_new_string("Secret")) < 0 ||
            json_object_object_add(secret, "type", json_object_new_string("kubernetes.io/tls")) < 0)
            goto fail;
    }
    if (json_object_object_add(secret, "data", data) < 0)
        goto fail;
    return secret;
fail:
    json_object_put(data);
    json_object_put(secret);
    return NULL;
}

/* ---- caBundle ----------------------------------------------------------------------------- */

typedef struct config_ref {
    const kube_resource_t *resource;
    const char *name;
    bool *missing_logged;
} config_ref_t;

static size_t config_refs(webhook_t *wh, config_ref_t out[2])
{
    size_t n = 0;
    if (!wh->client) /* FILES without an API client: nothing to write to */
        return 0;
    if (wh->mutating_config && *wh->mutating_config)
        out[n++] =
            (config_ref_t){&mutating_configs, wh->mutating_config, &wh->configs_missing_logged[0]};
    if (wh->validating_config && *wh->validating_config)
        out[n++] = (config_ref_t){&validating_configs, wh->validating_config,
                                  &wh->configs_missing_logged[1]};
    return n;
}

static json_object *client_config(json_object *webhook)
{
    json_object *cc = NULL;
    if (!json_object_object_get_ex(webhook, "clientConfig", &cc) ||
        !json_object_is_type(cc, json_type_object))
        return NULL;
    return cc;
}

/* GET a configuration: its object, or NULL when it does not exist (*failed on errors). */
static json_object *get_config(webhook_t *wh, const config_ref_t *ref, bool *failed)
{
    kube_result_t res = KUBE_RESULT_INIT;
    json_object *obj = NULL;
    kube_err_t e = kube_get(wh->client, ref->resource, NULL, ref->name, &res);
    if (e == KUBE_OK) {
        obj = kube_result_take_body(&res);
        *ref->missing_logged = false;
    } else if (e == KUBE_ERR_NOT_FOUND) {
        /* The manifests may come after the operator: say it once, look again next time. */
        if (!*ref->missing_logged)
            log_warn("webhook configuration not found; caBundle will be written when it exists",
                     "kind", ref->resource->plural, "name", ref->name, NULL);
        *ref->missing_logged = true;
    } else {
        log_kube_error("could not read the webhook configuration", ref->name, &res);
        *failed = true;
    }
    kube_result_clear(&res);
    return obj;
}

/* The caBundles of the configurations, decoded (each malloc'd), for a new CA's bundle. */
static size_t configured_bundles(webhook_t *wh, char **out, size_t max)
{
    config_ref_t refs[2];
    size_t n = 0, count = config_refs(wh, refs);
    for (size_t i = 0; i < count; i++) {
        bool failed = false;
        json_object *cfg = get_config(wh, &refs[i], &failed);
        json_object *hooks = NULL;
        json_object_object_get_ex(cfg, "webhooks", &hooks);
        for (size_t j = 0; json_object_is_type(hooks, json_type_array) &&
                           j < json_object_array_length(hooks) && n < max;
             j++) {
            json_object *b = NULL;
            json_object_object_get_ex(client_config(json_object_array_get_idx(hooks, j)),
                                      "caBundle", &b);
            char *pem = json_object_is_type(b, json_type_string)
                            ? webhook_base64_decode(json_object_get_string(b), NULL)
                            : NULL;
            if (pem)
                out[n++] = pem;
        }
        json_object_put(cfg);
    }
    return n;
}

/* Makes every webhook's caBundle in the configurations equal to bundle_pem: 1 when
 * something was written, 0 when all were equal (or absent), -1 on errors. */
static int ensure_ca_bundles(webhook_t *wh, const char *bundle_pem)
{
    char *want = webhook_base64_encode(bundle_pem, strlen(bundle_pem));
    if (!want)
        return -1;
    config_ref_t refs[2];
    size_t count = config_refs(wh, refs);
    int rc = 0;
    for (size_t i = 0; i < count && rc >= 0; i++) {
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            bool failed = false;
            json_object *cfg = get_config(wh, &refs[i], &failed);
            if (!cfg) {
                rc = failed ? -1 : rc;
                break;
            }
            json_object *hooks = NULL;
            json_object_object_get_ex(cfg, "webhooks", &hooks);
            bool changed = false;
            for (size_t j = 0;
                 json_object_is_type(hooks, json_type_array) && j < json_object_array_length(hooks);
                 j++) {
                json_object *cc = client_config(json_object_array_get_idx(hooks, j));
                json_object *have = NULL;
                json_object_object_get_ex(cc, "caBundle", &have);
                if (!cc || util_streq(json_object_get_string(have), want))
                    continue;
                json_object_object_add(cc, "caBundle", json_object_new_string(want));
                changed = true;
            }
            if (!changed) {
                json_object_put(cfg);
                break;
            }
            kube_result_t res = KUBE_RESULT_INIT;
            kube_err_t e = kube_update(wh->client, refs[i].resource, NULL, cfg, NULL, &res);
            json_object_put(cfg);
            if (e == KUBE_OK) {
                log_info("wrote caBundle", "kind", refs[i].resource->plural, "name", refs[i].name,
                         NULL);
                rc = 1;
                kube_result_clear(&res);
                break;
            }
            bool retry = e == KUBE_ERR_CONFLICT && attempt + 1 < ATTEMPTS;
            if (!retry) {
                log_kube_error("could not write caBundle", refs[i].name, &res);
                rc = -1;
            }
            kube_result_clear(&res);
            if (!retry)
                break;
        }
    }
    free(want);
    return rc;
}

/* ---- serving ------------------------------------------------------------------------------ */

static void note_expiry(webhook_t *wh, const char *cert_pem)
{
    cert_times_t t;
    if (cert_read_times(cert_pem, &t) == 0)
        metrics_gauge_set(wh->expiry, NULL, (double)t.not_after);
}

/* Trust first, then serve: see the top of this file. */
static int apply(webhook_t *wh, const cert_material_t *m)
{
    pthread_mutex_lock(&wh->served_lock);
    bool serving = wh->served.cert_pem != NULL;
    bool same_pair = serving && util_streq(wh->served.cert_pem, m->cert_pem) &&
                     util_streq(wh->served.key_pem, m->key_pem);
    bool new_ca = serving && m->ca_pem && !cert_same_first(wh->served.ca_pem, m->ca_pem);
    pthread_mutex_unlock(&wh->served_lock);

    int patched = m->ca_pem ? ensure_ca_bundles(wh, m->ca_pem) : 0;
    if (patched < 0 && serving && !same_pair) {
        /* The new certificate might not be trusted yet: keep the old one, try again later. */
        log_warn("keeping the served webhook certificate until caBundle can be written", NULL);
        return -1;
    }
    if (!same_pair && wh->listener) {
        if (patched > 0 && new_ca && wh->ca_propagation_delay > 0 &&
            !webhook_sleep(wh, wh->ca_propagation_delay))
            return -1; /* stopping: the old certificate serves to the end */
        server_tls_t tls = {.cert_pem = m->cert_pem, .key_pem = m->key_pem};
        if (server_reload_tls(wh->listener, &tls) < 0) {
            log_error("the webhook certificate does not load; keeping the old one", NULL);
            return -1;
        }
        metrics_counter_inc(wh->reloads, NULL);
        log_info("serving a new webhook certificate", "listener", "webhook", NULL);
    }
    pthread_mutex_lock(&wh->served_lock);
    int rc = cert_material_copy(&wh->served, m);
    pthread_mutex_unlock(&wh->served_lock);
    note_expiry(wh, m->cert_pem);
    return rc;
}

/* A pair that will load: it parses and the key matches (names are the issuer's business
 * in the external modes; a mismatch is worth a warning, not an outage). */
static int check_external(webhook_t *wh, const cert_material_t *m, const char *source)
{
    char *why = NULL;
    if (cert_verify_serving(m->cert_pem, m->key_pem, NULL, NULL, time(NULL), &why) < 0) {
        log_error("webhook certificate unusable", "source", source, "reason", why, NULL);
        free(why);
        return -1;
    }
    if (cert_verify_serving(m->cert_pem, m->key_pem, NULL, (const char *const *)wh->dns_names,
                            time(NULL), &why) < 0) {
        log_warn("webhook certificate does not name this service", "source", source, "reason", why,
                 NULL);
        free(why);
    }
    return 0;
}

/* ---- the three sources -------------------------------------------------------------------- */

static char *read_pem_file(const char *dir, const char *name, bool required)
{
    char *path = util_asprintf("%s/%s", dir, name);
    char *text = path ? util_read_file(path, NULL) : NULL;
    if (!text && required)
        log_warn("cannot read webhook certificate file", "path", path ? path : name, "error",
                 strerror(errno), NULL);
    free(path);
    return text;
}

static int sync_files(webhook_t *wh)
{
    cert_material_t m = {0};
    m.cert_pem = read_pem_file(wh->cert_dir, KEY_CERT, true);
    m.key_pem = m.cert_pem ? read_pem_file(wh->cert_dir, KEY_KEY, true) : NULL;
    m.ca_pem = read_pem_file(wh->cert_dir, KEY_CA, false);
    int rc = m.key_pem && check_external(wh, &m, wh->cert_dir) == 0 ? apply(wh, &m) : -1;
    cert_material_clear(&m);
    return rc;
}

static int sync_external_secret(webhook_t *wh)
{
    kube_result_t res = KUBE_RESULT_INIT;
    cert_material_t m = {0};
    int rc = -1;
    char what[256];
    snprintf(what, sizeof(what), "secrets/%s/%s", wh->namespace, wh->cert_secret);
    if (kube_get(wh->client, &secrets, wh->namespace, wh->cert_secret, &res) != KUBE_OK) {
        log_kube_error("cannot read the webhook certificate Secret", what, &res);
    } else {
        material_from_secret(res.body, &m);
        free(m.ca_key_pem); /* never ours to use */
        m.ca_key_pem = NULL;
        if (check_external(wh, &m, what) == 0)
            rc = apply(wh, &m);
    }
    cert_material_clear(&m);
    kube_result_clear(&res);
    return rc;
}

static const char *action_name(cert_action_t a)
{
    switch (a) {
    case CERT_KEEP:
        return "keep";
    case CERT_RENEW_SERVING:
        return "renew serving certificate";
    case CERT_RENEW_CA:
        return "renew CA";
    default:
        return "generate CA and serving certificate";
    }
}

/* New material for action from cur. The bundle: the new CA, then the CAs that may still
 * have signed a served certificate — the old bundle's, and (when starting over) whatever
 * the configurations trust now. */
static int renew(webhook_t *wh, cert_action_t action, const cert_material_t *cur, time_t now,
                 cert_material_t *next)
{
    char *err = NULL;
    char *others[8] = {0};
    size_t n = 0;
    cert_material_clear(next);
    if (action == CERT_RENEW_SERVING) {
        next->ca_key_pem = util_strdup(cur->ca_key_pem);
        others[n++] = util_strdup(cur->ca_pem);
        next->ca_pem =
            cert_bundle_merge(cur->ca_pem, (const char *const *)others, n, now, BUNDLE_MAX);
    } else {
        char *ca = NULL;
        char name[64];
        snprintf(name, sizeof(name), "s2i-operator-webhook-ca@%lld", (long long)now);
        if (cert_generate_ca(name, wh->ca_validity, now, &ca, &next->ca_key_pem, &err) < 0)
            goto fail;
        if (cur->ca_pem)
            others[n++] = util_strdup(cur->ca_pem);
        if (action == CERT_REGENERATE)
            n += configured_bundles(wh, others + n, UTIL_ARRAY_LEN(others) - n);
        next->ca_pem = cert_bundle_merge(ca, (const char *const *)others, n, now, BUNDLE_MAX);
        free(ca);
    }
    if (!next->ca_pem || !next->ca_key_pem)
        goto fail;
    if (cert_generate_serving(next->ca_pem, next->ca_key_pem, SERVING_CN,
                              (const char *const *)wh->dns_names, wh->cert_validity, now,
                              &next->cert_pem, &next->key_pem, &err) < 0)
        goto fail;
    for (size_t i = 0; i < n; i++)
        free(others[i]);
    return 0;
fail:
    log_error("could not make webhook certificates", "error", err ? err : "out of memory", NULL);
    free(err);
    for (size_t i = 0; i < n; i++)
        free(others[i]);
    cert_material_clear(next);
    return -1;
}

static int sync_generated(webhook_t *wh, webhook_rotation_t what)
{
    char secret_name[256];
    snprintf(secret_name, sizeof(secret_name), "secrets/%s/%s", wh->namespace, wh->cert_secret);
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        kube_result_t res = KUBE_RESULT_INIT;
        cert_material_t cur = {0}, next = {0};
        time_t now = time(NULL);
        char *why = NULL;
        kube_err_t e = kube_get(wh->client, &secrets, wh->namespace, wh->cert_secret, &res);
        if (e != KUBE_OK && e != KUBE_ERR_NOT_FOUND) {
            log_kube_error("cannot read the webhook certificate Secret", secret_name, &res);
            kube_result_clear(&res);
            return -1;
        }
        json_object *existing = e == KUBE_OK ? res.body : NULL;
        cert_action_t action = CERT_REGENERATE;
        if (existing) {
            material_from_secret(existing, &cur);
            action = cert_assess(&cur, (const char *const *)wh->dns_names, now, &why);
        } else {
            why = strdup("the Secret does not exist");
        }
        if (what == WEBHOOK_ROTATE_SERVING && action == CERT_KEEP)
            action = CERT_RENEW_SERVING;
        if (what == WEBHOOK_ROTATE_CA && action < CERT_RENEW_CA)
            action = CERT_RENEW_CA;
        int rc = -1;
        bool again = false;
        if (action == CERT_KEEP) {
            rc = apply(wh, &cur);
        } else if (renew(wh, action, &cur, now, &next) == 0) {
            log_info("webhook certificate", "secret", secret_name, "action", action_name(action),
                     "reason", why ? why : (what ? "asked" : ""), NULL);
            json_object *secret = secret_with(wh, existing, &next);
            kube_result_t wres = KUBE_RESULT_INIT;
            kube_err_t w =
                !secret    ? KUBE_ERR_CLIENT
                : existing ? kube_update(wh->client, &secrets, wh->namespace, secret, NULL, &wres)
                           : kube_create(wh->client, &secrets, wh->namespace, secret, NULL, &wres);
            json_object_put(secret);
            if (w == KUBE_OK) {
                rc = apply(wh, &next);
            } else if (w == KUBE_ERR_CONFLICT || w == KUBE_ERR_ALREADY_EXISTS) {
                /* another replica wrote first: read again and adopt its certificate */
                log_v(1, "webhook certificate Secret changed under us; reading it again", "secret",
                      secret_name, NULL);
                what = WEBHOOK_ROTATE_CHECK;
                again = true;
            } else {
                log_kube_error("cannot write the webhook certificate Secret", secret_name, &wres);
            }
            kube_result_clear(&wres);
        }
        free(why);
        cert_material_clear(&cur);
        cert_material_clear(&next);
        kube_result_clear(&res);
        if (!again)
            return rc;
    }
    log_warn("webhook certificate Secret kept changing; trying again later", "secret", secret_name,
             NULL);
    return -1;
}

int webhook_sync(webhook_t *wh, webhook_rotation_t what)
{
    pthread_mutex_lock(&wh->sync_lock);
    int rc;
    switch (wh->cert_source) {
    case WEBHOOK_CERTS_FILES:
        rc = sync_files(wh);
        break;
    case WEBHOOK_CERTS_SECRET:
        rc = sync_external_secret(wh);
        break;
    default:
        rc = sync_generated(wh, what);
        break;
    }
    pthread_mutex_unlock(&wh->sync_lock);
    return rc;
}

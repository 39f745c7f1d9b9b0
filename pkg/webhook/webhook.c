/*
 * webhook: options, the HTTPS listener and its routes, metrics, and the thread that keeps
 * the certificate fresh. The decisions live in admission.c, the certificates in certs.c
 * and rotation.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webhook/webhook_internal.h"

#define DEFAULT_CA_VALIDITY   (10 * 365.25 * 86400)
#define DEFAULT_CERT_VALIDITY (365.25 * 86400)
#define DEFAULT_CHECK         60.0
#define DEFAULT_PROPAGATION   5.0
#define DEFAULT_STARTUP       60.0
#define DEFAULT_WORKERS       4
#define MAX_DNS_NAME          253
#define MAX_EXTRA_NAMES       16
/* Timeouts of the listener: kube-apiserver gives a webhook at most 30 s. */
#define HEADER_TIMEOUT 10.0
#define BODY_TIMEOUT   10.0
#define WRITE_TIMEOUT  10.0

typedef struct route {
    webhook_t *wh;
    webhook_id_t id;
} route_t;

/* One per webhook id; a route's data must outlive the server, and the webhook does. */
static const char *const paths[WEBHOOK_ID_COUNT] = {
    [WEBHOOK_MUTATE_BUILDER] = WEBHOOK_PATH_MUTATE_BUILDER,
    [WEBHOOK_VALIDATE_BUILDER] = WEBHOOK_PATH_VALIDATE_BUILDER,
    [WEBHOOK_VALIDATE_RUN] = WEBHOOK_PATH_VALIDATE_RUN,
    [WEBHOOK_VALIDATE_TEMPLATE] = WEBHOOK_PATH_VALIDATE_TEMPLATE,
    [WEBHOOK_MUTATE_RUN] = WEBHOOK_PATH_MUTATE_RUN,
};

typedef struct webhook_routes {
    route_t items[WEBHOOK_ID_COUNT];
} webhook_routes_t;

/* The routes are allocated with the webhook, after its struct. */
typedef struct webhook_block {
    webhook_t wh;
    webhook_routes_t routes;
} webhook_block_t;

/* A DNS name or an IP address for a SAN: letters, digits, '-', '.', '*', ':' only. */
static bool is_san_name(const char *s)
{
    size_t len = s ? strlen(s) : 0;
    if (len == 0 || len > MAX_DNS_NAME)
        return false;
    for (const char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '.' || *c == '*' || *c == ':'))
            return false;
    return true;
}

static double or_default(double v, double def)
{
    return v > 0 ? v : def;
}

static const char *or_default_str(const char *v, const char *def)
{
    return v ? v : def;
}

static int copy_names(webhook_t *wh, const webhook_options_t *o)
{
    size_t extra = 0;
    while (o->extra_dns_names && o->extra_dns_names[extra]) {
        if (!is_san_name(o->extra_dns_names[extra]) || extra >= MAX_EXTRA_NAMES) {
            log_error("invalid extra webhook DNS name", "name", o->extra_dns_names[extra], NULL);
            return -1;
        }
        extra++;
    }
    wh->dns_names = calloc(extra + 3, sizeof(char *));
    if (!wh->dns_names)
        return -1;
    size_t n = 0;
    if (wh->namespace && *wh->namespace) {
        char *svc = util_asprintf("%s.%s.svc", wh->service_name, wh->namespace);
        char *local = util_asprintf("%s.%s.svc.cluster.local", wh->service_name, wh->namespace);
        if (!svc || !local || !is_san_name(svc) || strlen(local) > MAX_DNS_NAME) {
            log_error("invalid webhook service name or namespace", "service", wh->service_name,
                      "namespace", wh->namespace, NULL);
            free(svc);
            free(local);
            return -1;
        }
        wh->dns_names[n++] = svc;
        wh->dns_names[n++] = local;
    }
    for (size_t i = 0; i < extra; i++)
        if (!(wh->dns_names[n++] = strdup(o->extra_dns_names[i])))
            return -1;
    return 0;
}

static int register_metrics(webhook_t *wh)
{
    if (!wh->metrics)
        return 0;
    wh->requests = metrics_counter_new(wh->metrics, "s2i_webhook_admission_requests_total",
                                       "Admission requests by webhook and result (allowed, "
                                       "denied, error).",
                                       METRICS_LABELS("webhook", "result"));
    wh->duration = metrics_histogram_new(wh->metrics, "s2i_webhook_admission_duration_seconds",
                                         "Time to answer an admission request, by webhook.",
                                         METRICS_LABELS("webhook"), NULL, 0);
    wh->expiry =
        metrics_gauge_new(wh->metrics, "s2i_webhook_certificate_expiry_timestamp_seconds",
                          "When the served webhook certificate expires (Unix time).", NULL);
    wh->reloads = metrics_counter_new(wh->metrics, "s2i_webhook_certificate_reloads_total",
                                      "Webhook certificates loaded after the first one.", NULL);
    return wh->requests && wh->duration && wh->expiry && wh->reloads ? 0 : -1;
}

int webhook_new(const webhook_options_t *o, webhook_t **out)
{
    *out = NULL;
    if (!o)
        return -1;
    bool files = o->cert_source == WEBHOOK_CERTS_FILES;
    if (files ? !o->cert_dir : (!o->client || !o->namespace || !*o->namespace)) {
        log_error(files ? "webhook: FILES needs cert_dir"
                        : "webhook: an API client and the operator's namespace are needed",
                  NULL);
        return -1;
    }
    webhook_block_t *block = calloc(1, sizeof(*block));
    if (!block)
        return -1;
    webhook_t *wh = &block->wh;
    pthread_mutex_init(&wh->served_lock, NULL);
    pthread_mutex_init(&wh->sync_lock, NULL);
    pthread_mutex_init(&wh->thread_lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&wh->wake, &attr);
    pthread_condattr_destroy(&attr);

    wh->address = strdup(or_default_str(o->address, WEBHOOK_DEFAULT_ADDRESS));
    wh->client = o->client;
    wh->metrics = o->metrics;
    wh->lookup = o->lookup;
    wh->cert_source = o->cert_source;
    wh->namespace = util_strdup(o->namespace);
    wh->service_name = strdup(or_default_str(o->service_name, WEBHOOK_DEFAULT_SERVICE));
    wh->cert_secret = strdup(or_default_str(o->cert_secret, WEBHOOK_DEFAULT_SECRET));
    wh->cert_dir = util_strdup(o->cert_dir);
    wh->mutating_config =
        strdup(or_default_str(o->mutating_config, WEBHOOK_DEFAULT_MUTATING_CONFIG));
    wh->validating_config =
        strdup(or_default_str(o->validating_config, WEBHOOK_DEFAULT_VALIDATING_CONFIG));
    wh->ca_validity = or_default(o->ca_validity, DEFAULT_CA_VALIDITY);
    wh->cert_validity = or_default(o->cert_validity, DEFAULT_CERT_VALIDITY);
    wh->check_interval = or_default(o->check_interval, DEFAULT_CHECK);
    wh->ca_propagation_delay = o->ca_propagation_delay < 0   ? 0
                               : o->ca_propagation_delay > 0 ? o->ca_propagation_delay
                                                             : DEFAULT_PROPAGATION;
    wh->startup_timeout = or_default(o->startup_timeout, DEFAULT_STARTUP);
    wh->workers = o->workers > 0 ? o->workers : DEFAULT_WORKERS;
    for (int i = 0; i < WEBHOOK_ID_COUNT; i++)
        block->routes.items[i] = (route_t){wh, (webhook_id_t)i};
    if (!wh->address || !wh->service_name || !wh->cert_secret || !wh->mutating_config ||
        !wh->validating_config || (o->namespace && !wh->namespace) ||
        (o->cert_dir && !wh->cert_dir) || copy_names(wh, o) < 0 || register_metrics(wh) < 0) {
        webhook_free(wh);
        return -1;
    }
    *out = wh;
    return 0;
}

static void handle(const server_request_t *req, server_response_t *resp, void *data)
{
    const route_t *route = data;
    buf_t out = BUF_INIT;
    int status = 500;
    webhook_serve(route->wh, route->id, server_request_header(req, "Content-Type"), req->body,
                  req->body_len, &status, &out);
    server_response_status(resp, status);
    if (!out.oom)
        server_response_body(resp, "application/json", buf_str(&out), out.len);
    buf_free(&out);
}

int webhook_route(webhook_t *wh, server_listener_t *listener)
{
    webhook_block_t *block = (webhook_block_t *)wh;
    for (int i = 0; i < WEBHOOK_ID_COUNT; i++)
        if (server_route(listener, "POST", paths[i], 0, handle, &block->routes.items[i]) < 0)
            return -1;
    return 0;
}

int webhook_attach(webhook_t *wh, server_t *srv)
{
    double deadline = util_monotonic() + wh->startup_timeout;
    backoff_t backoff;
    backoff_init(&backoff, 0.5, 5, 2, 0.2);
    while (webhook_sync(wh, WEBHOOK_ROTATE_CHECK) < 0) {
        double delay = backoff_next(&backoff);
        if (util_monotonic() + delay > deadline) {
            log_error("no webhook certificate to serve", "waited", "startup_timeout", NULL);
            return -1;
        }
        util_sleep(delay);
    }
    pthread_mutex_lock(&wh->served_lock);
    server_tls_t tls = {.cert_pem = wh->served.cert_pem, .key_pem = wh->served.key_pem};
    server_listener_options_t lo = {
        .name = "webhook",
        .address = wh->address,
        .tls = &tls,
        .max_body_bytes = WEBHOOK_MAX_BODY_BYTES,
        .header_timeout = HEADER_TIMEOUT,
        .body_timeout = BODY_TIMEOUT,
        .write_timeout = WRITE_TIMEOUT,
        .workers = wh->workers,
    };
    server_listener_t *l = server_add_listener(srv, &lo);
    pthread_mutex_unlock(&wh->served_lock);
    if (!l || webhook_route(wh, l) < 0)
        return -1;
    wh->listener = l;
    return 0;
}

server_listener_t *webhook_listener(webhook_t *wh)
{
    return wh ? wh->listener : NULL;
}

bool webhook_sleep(webhook_t *wh, double seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)seconds;
    until.tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&wh->thread_lock);
    while (!wh->stopping && pthread_cond_timedwait(&wh->wake, &wh->thread_lock, &until) == 0)
        ;
    bool go_on = !wh->stopping;
    pthread_mutex_unlock(&wh->thread_lock);
    return go_on;
}

static void *rotation_thread(void *arg)
{
    webhook_t *wh = arg;
    while (webhook_sleep(wh, wh->check_interval))
        webhook_sync(wh, WEBHOOK_ROTATE_CHECK);
    return NULL;
}

int webhook_start(webhook_t *wh)
{
    if (!wh->listener)
        return -1;
    pthread_mutex_lock(&wh->thread_lock);
    int rc = 0;
    if (!wh->thread_running && !wh->stopping) {
        rc = pthread_create(&wh->thread, NULL, rotation_thread, wh) == 0 ? 0 : -1;
        wh->thread_running = rc == 0;
    }
    pthread_mutex_unlock(&wh->thread_lock);
    return rc;
}

int webhook_rotate(webhook_t *wh, webhook_rotation_t what)
{
    return webhook_sync(wh, what);
}

void webhook_stop(webhook_t *wh)
{
    if (!wh)
        return;
    pthread_mutex_lock(&wh->thread_lock);
    wh->stopping = true;
    bool join = wh->thread_running;
    wh->thread_running = false;
    pthread_cond_broadcast(&wh->wake);
    pthread_mutex_unlock(&wh->thread_lock);
    if (join)
        pthread_join(wh->thread, NULL);
}

void webhook_free(webhook_t *wh)
{
    if (!wh)
        return;
    webhook_stop(wh);
    free(wh->address);
    free(wh->namespace);
    free(wh->service_name);
    for (size_t i = 0; wh->dns_names && wh->dns_names[i]; i++)
        free(wh->dns_names[i]);
    free(wh->dns_names);
    free(wh->cert_secret);
    free(wh->cert_dir);
    free(wh->mutating_config);
    free(wh->validating_config);
    cert_material_clear(&wh->served);
    pthread_mutex_destroy(&wh->served_lock);
    pthread_mutex_destroy(&wh->sync_lock);
    pthread_mutex_destroy(&wh->thread_lock);
    pthread_cond_destroy(&wh->wake);
    free((webhook_block_t *)wh);
}

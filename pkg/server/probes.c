/*
 * server/probes: the kubelet's /healthz and /readyz and Prometheus' /metrics, as
 * ordinary routes on whichever listener the operator binds them to.
 */
#include "server_internal.h"

#include <stdlib.h>

static void healthz(const server_request_t *req, server_response_t *resp, void *data)
{
    (void)req;
    (void)data;
    server_response_text(resp, 200, "ok\n");
}

static void readyz(const server_request_t *req, server_response_t *resp, void *data)
{
    (void)req;
    const server_listener_t *l = data;
    if (!l->ready) {
        server_response_text(resp, 200, "ok\n");
        return;
    }
    buf_t reason = BUF_INIT;
    if (l->ready(l->ready_data, &reason))
        server_response_text(resp, 200, "ok\n");
    else
        server_response_text(resp, 503, "not ready%s%s\n", reason.len ? ": " : "",
                             buf_str(&reason));
    buf_free(&reason);
}

static void metrics_handler(const server_request_t *req, server_response_t *resp, void *data)
{
    (void)req;
    const server_listener_t *l = data;
    buf_t text = BUF_INIT;
    if (metrics_registry_write(l->metrics_reg, &text) < 0)
        server_response_text(resp, 500, "cannot render metrics\n");
    else
        server_response_body(resp, METRICS_CONTENT_TYPE, text.data ? text.data : "", text.len);
    buf_free(&text);
}

int server_add_health_probes(server_listener_t *l, server_ready_fn ready, void *data)
{
    if (!l)
        return -1;
    l->ready = ready;
    l->ready_data = data;
    if (server_route(l, "GET", "/healthz", SERVER_ROUTE_OPTIONAL_SLASH, healthz, l) < 0 ||
        server_route(l, "GET", "/readyz", SERVER_ROUTE_OPTIONAL_SLASH, readyz, l) < 0)
        return -1;
    return 0;
}

int server_add_metrics(server_listener_t *l, metrics_registry_t *reg)
{
    if (!l || !reg)
        return -1;
    l->metrics_reg = reg;
    return server_route(l, "GET", "/metrics", 0, metrics_handler, l);
}

/*
 * server: the operator's HTTP(S) server on libwebsockets — several listeners
 * (webhooks, metrics, probes, logs and triggers) in one lws context served by one
 * thread, with handlers run on per-listener worker threads.
 *
 * Shape of use:
 *
 *     server_t *srv = server_new(&(server_options_t){.metrics = registry});
 *     server_listener_t *hooks = server_add_listener(srv, &(server_listener_options_t){
 *         .name = "webhook", .address = ":9443",
 *         .tls = &(server_tls_t){.cert_file = "tls.crt", .key_file = "tls.key"}});
 *     server_route(hooks, "POST", "/validate-devops-kubesphere-io-v1alpha1-s2irun", 0,
 *                  validate_run, ctx);
 *     server_listener_t *probes = server_add_listener(srv, &(server_listener_options_t){
 *         .name = "probes", .address = ":8081"});
 *     server_add_health_probes(probes, caches_synced, informers);
 *     server_start(srv);                     // binds every listener or fails
 *     ...
 *     server_reload_tls(hooks, &new_cert);   // rotation, no downtime
 *     server_stop(srv, 10);                  // SIGTERM: drain for up to 10 s
 *     server_free(srv);
 *
 * Threads. One service thread runs the lws event loop: it accepts, parses requests,
 * reads bodies, enforces limits and timeouts and writes responses; it never runs a
 * handler. Each listener has its own small pool of worker threads (options.workers)
 * that run its handlers, so a handler may block (an API call, a TokenReview) without
 * stalling other connections, and a busy listener cannot starve another one's (the
 * probes'). A handler gets the request once its body is complete, fills in the
 * response and returns; the service thread then writes it.
 *
 * Handlers. `void handler(const server_request_t *req, server_response_t *resp,
 * void *data)`. The request and the response are valid only during the call. A
 * handler that sets nothing answers 200 with an empty body; out of memory while
 * building a response answers 500.
 *
 * Streaming (log following). A handler calls server_response_stream to commit status
 * and headers and get a server_stream_t; the response is then sent with
 * `Transfer-Encoding: chunked` and each server_stream_write becomes chunks on the
 * wire, in order, as the client can take them. The stream may be written from any
 * thread — the handler itself, or a producer thread it hands the stream to — and
 * outlives the handler's return; server_stream_close ends the response (the final
 * empty chunk) and gives the handle back. Writes queue in memory up to
 * stream_buffer_bytes, then block until the client has taken some (backpressure); they
 * fail with -1 once the client has gone away, the write timeout dropped it, or the
 * server is stopping: a producer stops at its first failed write, or polls
 * server_stream_is_closed while its source is quiet. The service thread is woken
 * with lws_cancel_service and never blocks on a producer.
 *
 * Listeners and limits. An address is "host:port", ":port" (all interfaces, IPv6
 * dual-stack when available) or "[v6]:port"; port 0 picks a free port
 * (server_listener_port tells which). Per listener: a maximum body size (larger
 * Content-Length: 413 before the body is read; chunked request bodies: 411, which lws
 * 4.1 cannot decode), a header timeout (from accept until the request headers are
 * complete, TLS handshake included: slowloris), a body timeout (from the headers until
 * the body is complete), an idle timeout (keep-alive wait between requests), a write
 * timeout (a response that makes no progress toward the client), and a maximum of
 * open connections — beyond it the listener stops accepting and new connections wait
 * in the kernel's backlog until one closes (as Go's netutil.LimitListener). Timed-out
 * connections are closed without a response (as Go's net/http). Only HTTP/1.1 is
 * offered (ALPN "http/1.1"); WebSocket upgrades are refused.
 *
 * TLS and reload. Certificate and key come from PEM files or PEM text in memory
 * (a chain: leaf first, then intermediates). server_reload_tls validates the new pair
 * and creates a new lws vhost (a new SSL_CTX) for the listener: connections accepted
 * from then on handshake with the new certificate, while connections already open
 * keep the vhost they were accepted on — and their certificate — until they close,
 * after which the old vhost is destroyed. The listening socket belongs to this
 * module, not to lws, and is never closed by a reload: there is no moment without a
 * listener. A pair that does not load (unreadable, not PEM, key does not match)
 * leaves the old certificate in place and returns -1.
 *
 * Shutdown. server_stop: the listening sockets close at once (new connections are
 * refused), idle keep-alive connections and connections still sending headers are
 * closed, requests in progress finish and streams end (their queued data is sent,
 * then the final chunk; producers' writes fail) — for up to grace seconds; whatever
 * is left then is dropped. server_stop returns within grace plus a moment. Handlers
 * still running then are waited for by server_free (C cannot cancel them: handlers
 * must bound their own blocking calls).
 *
 * Ownership: server_new/server_free; listeners and routes belong to the server.
 * Strings and TLS material given in options are copied. A stream handle is owned by
 * whoever holds it until server_stream_close, which must be called exactly once, also
 * after the server was freed (the handle stays valid, its writes fail).
 * Thread-safety: configuration (server_add_listener, server_route, the probe helpers)
 * before server_start, from one thread. server_reload_tls, server_listener_stats and
 * stream functions from any thread; server_stop from one thread; server_free last.
 * Errors: -1 (or NULL) on bad arguments, bind failures (logged with the address),
 * TLS material that does not load, or out of memory.
 */
#ifndef S2I_SERVER_H
#define S2I_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics/metrics.h"
#include "util/util.h"

struct json_object;

typedef struct server server_t;
typedef struct server_listener server_listener_t;
typedef struct server_response server_response_t;
typedef struct server_stream server_stream_t;
typedef struct server_request_private server_request_private_t;

/* ---- requests ------------------------------------------------------------ */

typedef struct server_request {
    const char *method;      /* "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS" */
    const char *path;        /* percent-decoded by lws, without the query; "/a/b" */
    const char *query;       /* the query's parameters decoded and joined with '&' (for logs;
                                use server_request_query to read one); "" when none */
    const char *remote_addr; /* the peer's IP address ("10.0.0.7", "::1") */
    const char *listener;    /* the listener's name */
    bool tls;                /* arrived over TLS */
    const char *body;        /* the request body, NUL-terminated for convenience; "" if none */
    size_t body_len;
    const server_request_private_t *priv;
} server_request_t;

/* A request header by name (case-insensitive), or NULL. A repeated header comes back
 * comma-joined as lws stores it, or for the extra headers below, its first occurrence.
 * Every header lws knows is available (Authorization, Content-Type, Host,
 * User-Agent, ...); others only if listed in the listener's extra_headers, or in the
 * built-in list: X-Hub-Signature-256, X-Hub-Signature, X-GitHub-Event,
 * X-GitHub-Delivery, X-Gitlab-Token, X-Gitlab-Event, X-Request-Id. (lws 4.1 offers
 * no way to enumerate unknown headers, so they must be asked for by name while the
 * request is parsed.) */
const char *server_request_header(const server_request_t *req, const char *name);
/* A query parameter's value, percent- and '+'-decoded; "" for "?flag"; NULL if absent.
 * With repeated names, the first. */
const char *server_request_query(const server_request_t *req, const char *name);
/* A "{name}" segment of the matched route pattern, or NULL. */
const char *server_request_param(const server_request_t *req, const char *name);
/* The token of "Authorization: Bearer <token>" (scheme case-insensitive), or NULL. */
const char *server_request_bearer_token(const server_request_t *req);
/* Parses the body as JSON into *out (caller puts it). -1 if empty or not valid JSON. */
int server_request_json(const server_request_t *req, struct json_object **out);

/* ---- responses ------------------------------------------------------------ */

void server_response_status(server_response_t *resp, int status);
/* Adds a response header ("X-Request-Id", "Location", ...). Content-Length,
 * Transfer-Encoding and Connection are the server's and are refused. 0 or -1. */
int server_response_header(server_response_t *resp, const char *name, const char *value);
/* Sets the body (copied) and its Content-Type. 0 or -1. */
int server_response_body(server_response_t *resp, const char *content_type, const void *body,
                         size_t len);
/* status and a text/plain body formatted with printf. */
int server_response_text(server_response_t *resp, int status, const char *fmt, ...)
    UTIL_PRINTF(3, 4);
/* status and obj serialised as the application/json body (obj is not consumed). */
int server_response_json(server_response_t *resp, int status, struct json_object *obj);

/* Commits status, the headers added so far and content_type, and returns the
 * stream that carries the body (see the top of this file); NULL out of memory or
 * if called twice. After this the response setters return -1. */
server_stream_t *server_response_stream(server_response_t *resp, int status,
                                        const char *content_type);
/* Queues data as one or more chunks. Blocks while stream_buffer_bytes are already
 * queued. 0, or -1 once the stream is closed on the server side (client gone, write
 * timeout, server stopping) — the data is then dropped. */
int server_stream_write(server_stream_t *stream, const void *data, size_t len);
int server_stream_printf(server_stream_t *stream, const char *fmt, ...) UTIL_PRINTF(2, 3);
/* True once writes would fail. */
bool server_stream_is_closed(server_stream_t *stream);
/* Ends the response after the queued data and releases the handle. */
void server_stream_close(server_stream_t *stream);

typedef void (*server_handler_fn)(const server_request_t *req, server_response_t *resp, void *data);

/* ---- configuration -------------------------------------------------------- */

typedef struct server_tls {
    const char *cert_file; /* PEM files ... */
    const char *key_file;
    const char *cert_pem; /* ... or PEM text (used when cert_file is NULL) */
    const char *key_pem;
} server_tls_t;

/* Zero fields take the defaults in brackets. */
typedef struct server_listener_options {
    const char *name;                 /* for logs and metrics ["http"] */
    const char *address;              /* required: ":8080", "127.0.0.1:0", "[::1]:9443" */
    const server_tls_t *tls;          /* NULL: plain HTTP */
    size_t max_body_bytes;            /* [1 MiB] */
    double header_timeout;            /* seconds [10] */
    double body_timeout;              /* seconds [30] */
    double idle_timeout;              /* seconds [60] */
    double write_timeout;             /* seconds [30] */
    int max_connections;              /* [256] */
    int workers;                      /* handler threads [2] */
    size_t stream_buffer_bytes;       /* per stream [256 KiB] */
    const char *const *extra_headers; /* NULL-terminated header names to capture */
} server_listener_options_t;

typedef struct server_options {
    /* Optional: s2i_http_requests_total{listener,method,code},
     * s2i_http_request_duration_seconds{listener} (headers read to response written,
     * or to stream start) and s2i_http_connections{listener} are kept there. */
    metrics_registry_t *metrics;
} server_options_t;

/* Route flags. */
#define SERVER_ROUTE_PREFIX         1u /* also matches paths below the pattern */
#define SERVER_ROUTE_OPTIONAL_SLASH 2u /* also matches the pattern plus a trailing '/' */

server_t *server_new(const server_options_t *opts);
server_listener_t *server_add_listener(server_t *srv, const server_listener_options_t *opts);

/* Adds a route to the listener's table. method: "GET", "POST", ... or NULL for any
 * (a GET route also serves HEAD, without the body). pattern: a path starting with
 * '/' whose segments may be "{name}" (one non-empty segment, read with
 * server_request_param). With SERVER_ROUTE_PREFIX, "/logs" matches "/logs" and
 * "/logs/...", not "/logsx". The first matching route in registration order wins;
 * when the path matches routes but the method none, the answer is 405 with Allow;
 * when no path matches, 404. */
int server_route(server_listener_t *l, const char *method, const char *pattern, unsigned flags,
                 server_handler_fn fn, void *data);

/* Readiness: true when ready; otherwise may append the reason to *reason. */
typedef bool (*server_ready_fn)(void *data, buf_t *reason);
/* GET /healthz (always 200 "ok" while serving) and GET /readyz (200 "ok", or 503 with
 * the reason, from ready; ready NULL means always ready). */
int server_add_health_probes(server_listener_t *l, server_ready_fn ready, void *data);
/* GET /metrics: the registry in Prometheus text format 0.0.4. */
int server_add_metrics(server_listener_t *l, metrics_registry_t *reg);

/* ---- running -------------------------------------------------------------- */

/* Binds every listener, loads TLS, starts the service and worker threads. */
int server_start(server_t *srv);
/* The bound port after server_start; -1 before. */
int server_listener_port(const server_listener_t *l);
/* Replaces the listener's certificate for new connections; see the top of this file.
 * Synchronous: when it returns 0, the next accepted connection uses the new pair. */
int server_reload_tls(server_listener_t *l, const server_tls_t *tls);

typedef struct server_listener_stats {
    uint64_t accepted;  /* connections accepted */
    uint64_t requests;  /* requests answered (streams included) */
    uint64_t timed_out; /* connections dropped by a header, body, idle or write timeout */
    int active;         /* connections open now */
    int max_active;     /* the most open at once */
    int tls_generation; /* 1 + number of successful reloads (0 for plain HTTP) */
} server_listener_stats_t;

void server_listener_stats(server_listener_t *l, server_listener_stats_t *out);

/* Stops the server; see the top of this file. Idempotent. */
void server_stop(server_t *srv, double grace_seconds);
/* server_stop(srv, 0) if still running, waits for running handlers, frees. NULL ok. */
void server_free(server_t *srv);

#endif

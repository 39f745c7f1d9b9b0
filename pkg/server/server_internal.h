/*
 * server_internal: the structures shared by the server's files.
 *
 *   server.c    lifecycle: listeners, binding, the lws context, the service thread,
 *               commands from other threads (reload, stop), vhost generations, accept
 *   http.c      the lws protocol callback: requests in, responses and streams out,
 *               timeouts
 *   exchange.c  one request/response pair shared by the service thread, a worker and
 *               a stream producer; the handler-facing API; the worker pools
 *   route.c     route patterns and matching
 *   tls.c       certificate and key loading (OpenSSL)
 *   probes.c    /healthz, /readyz, /metrics
 *
 * Which thread owns what: conn_t, vhost_gen_t, the lws objects and everything in
 * server_t marked "service" belong to the service thread (or to the thread calling
 * server_start/server_stop while the service thread is not running). An exchange's
 * shared fields are guarded by its own mutex, so a stream handle outlives the
 * server. server_t.lock guards the command list, the state, the connection count
 * and the listener stats.
 */
#ifndef S2I_SERVER_INTERNAL_H
#define S2I_SERVER_INTERNAL_H

#include <libwebsockets.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>

#include "server.h"

/* Largest piece written per writeable callback. */
#define SERVER_WRITE_CHUNK 16384
/* How often timeouts are checked, microseconds. */
#define SERVER_SWEEP_US (100 * LWS_US_PER_MS)

/* ---- small string pairs --------------------------------------------------- */

typedef struct kv {
    char *name;
    char *value;
} kv_t;

typedef struct kvlist {
    kv_t *items;
    size_t len;
    size_t cap;
} kvlist_t;

int kvlist_add(kvlist_t *l, const char *name, size_t name_len, const char *value, size_t value_len);
/* The first value for name (ASCII case-insensitive), or NULL. */
const char *kvlist_get(const kvlist_t *l, const char *name);
void kvlist_clear(kvlist_t *l);

/* ---- routes --------------------------------------------------------------- */

typedef struct route {
    char *method; /* NULL: any */
    char *pattern;
    unsigned flags;
    server_handler_fn fn;
    void *data;
} route_t;

/* A route pattern is well formed (see server_route). */
bool route_pattern_valid(const char *pattern);
/* Matches path against the route's pattern; on a match adds "{name}" values to params
 * (which the caller cleared) and returns true. */
bool route_match_path(const route_t *r, const char *path, kvlist_t *params);
bool route_match_method(const route_t *r, const char *method);

/* ---- TLS ------------------------------------------------------------------- */

typedef struct tls_pair {
    char *cert_pem;
    char *key_pem;
} tls_pair_t;

/* Reads files (or copies PEM text) into out and checks that the pair loads and the
 * key matches. -1 with the reason logged (listener names the listener). */
int tls_pair_load(const server_tls_t *tls, const char *listener, tls_pair_t *out);
void tls_pair_clear(tls_pair_t *p);
/* Installs the pair in an SSL_CTX (an lws vhost's). 0 or -1. */
int tls_pair_apply(const tls_pair_t *p, void *ssl_ctx);

/* ---- exchanges ------------------------------------------------------------- */

typedef struct conn conn_t;
typedef struct server_response exchange_t;

struct server_stream {
    char unused; /* the handle is the exchange itself, reached by container_of */
};

struct server_request_private {
    kvlist_t headers; /* lower-case names */
    kvlist_t query;
    kvlist_t params;
};

struct server_response {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* stream room, stream closed */
    int refs;            /* connection, worker, stream handle */
    server_t *server;    /* NULL once the connection is gone: nobody to wake */

    /* Request: written by the service thread before dispatch, then read-only. */
    server_request_t req;
    server_request_private_t priv;
    char *path;
    char *query;
    char remote[INET6_ADDRSTRLEN];
    buf_t body;
    size_t expected_body;
    const route_t *route;
    server_listener_t *listener;
    const char *method;
    bool head;
    double started;

    /* Response: the handler's until committed, then the service thread's. */
    int status;
    kvlist_t headers;
    char *content_type;
    buf_t out;
    bool oom;

    /* Shared, under lock. */
    bool committed;   /* status and headers final; service thread may send */
    bool streaming;   /* body comes from the stream queue */
    bool stream_done; /* producer closed the stream */
    bool closed;      /* server side ended: stream writes fail */
    bool dirty;       /* the service thread should look at this exchange */
    bool has_handle;  /* server_response_stream was called */
    buf_t queue;      /* stream bytes not yet taken by the service thread */
    size_t queue_limit;
    struct server_stream stream;

    exchange_t *pool_next; /* worker pool queue link, under the pool's lock */
};

/* A new exchange for a request on listener, holding one reference (the
 * connection's). */
exchange_t *exchange_new(server_t *srv, server_listener_t *l);
void exchange_ref(exchange_t *ex);
void exchange_release(exchange_t *ex);
/* Marks the exchange committed with the given fixed response (errors found by the
 * service thread: 404, 413, ...). */
void exchange_set_error(exchange_t *ex, int status, const char *text);
/* After the handler returned: commits a plain response. */
void exchange_handler_done(exchange_t *ex);

/* ---- worker pools ----------------------------------------------------------- */

typedef struct worker_pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    exchange_t *head;
    exchange_t *tail;
    bool stopping;
    pthread_t *threads;
    int nthreads;
} worker_pool_t;

int pool_start(server_listener_t *l, int nthreads);
/* Queues ex (taking a reference). -1 if the pool is stopping. */
int pool_push(worker_pool_t *p, exchange_t *ex);
/* Wakes the workers to exit; queued exchanges are dropped. */
void pool_stop(worker_pool_t *p);
/* Joins the workers (waits for running handlers). */
void pool_join(worker_pool_t *p);

/* ---- listeners, connections ------------------------------------------------- */

/* What an lws opaque user pointer points to. */
typedef enum { OBJ_LISTENER = 1, OBJ_CONN = 2 } obj_kind_t;

/* One lws vhost of a listener. A TLS reload makes a new generation current; the old
 * ones are retired and destroyed once their last connection has closed. */
typedef struct vhost_gen {
    struct lws_vhost *vhost;
    server_listener_t *listener;
    char name[96];
    int id;
    int conns;
    bool retired;
    struct vhost_gen *next;
} vhost_gen_t;

struct server_listener {
    obj_kind_t kind;
    server_t *server;
    char *name;
    char *address;
    bool tls;
    tls_pair_t tls_pair; /* service: what the current generation was made from */
    size_t max_body;
    double header_timeout;
    double body_timeout;
    double idle_timeout;
    double write_timeout;
    int max_connections;
    int workers;
    size_t stream_buffer;
    char **capture; /* extra header names to capture, lower case with ':' */
    size_t ncapture;
    route_t *routes;
    size_t nroutes;
    size_t routes_cap;
    server_ready_fn ready; /* probes */
    void *ready_data;
    metrics_registry_t *metrics_reg; /* /metrics */

    int fd;             /* the listening socket */
    bool fd_adopted;    /* lws closes fd from now on */
    atomic_int port;    /* bound port, -1 before start */
    struct lws *wsi;    /* service: the listening socket adopted as a raw file */
    bool accept_paused; /* service */
    double accept_resume_at;
    int conns;            /* service */
    vhost_gen_t *current; /* service */
    vhost_gen_t *gens;    /* service: all generations, current included */
    vhost_gen_t *dead;    /* service: destroyed generations, see reap_generations */
    int next_gen;         /* service */
    worker_pool_t pool;
    server_listener_stats_t stats; /* under server lock */
    server_listener_t *next;
};

typedef enum {
    CONN_WAIT_REQUEST, /* accepted or keep-alive: waiting for headers */
    CONN_READ_BODY,
    CONN_HANDLER, /* a worker has it */
    CONN_WRITE,   /* writing a fixed response */
    CONN_STREAM,  /* writing a streamed response */
} conn_state_t;

struct conn {
    obj_kind_t kind;
    struct lws *wsi;
    server_listener_t *listener;
    vhost_gen_t *gen;
    conn_state_t state;
    double deadline;         /* header/body/idle deadline, 0: none */
    double write_wait_since; /* waiting for writeable with data pending, 0: not */
    char remote[INET6_ADDRSTRLEN];
    exchange_t *ex;
    bool headers_sent;
    bool close_after;
    bool killed;
    bool counted; /* request metrics recorded */
    size_t body_off;
    conn_t *prev;
    conn_t *next;
};

typedef enum { CMD_RELOAD, CMD_STOP } command_type_t;

typedef struct command {
    command_type_t type;
    server_listener_t *listener;
    tls_pair_t pair;
    int result;
    bool done;
    struct command *next;
} command_t;

typedef enum { SRV_NEW, SRV_RUNNING, SRV_STOPPING, SRV_STOPPED } server_state_t;

struct server {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* command done, connections drained */
    server_state_t state;
    command_t *commands;
    int nconns;

    struct lws_context *ctx;
    struct lws_vhost *control; /* holds the listening sockets' wsi */
    pthread_t thread;
    bool thread_started;
    atomic_bool exit;
    atomic_bool wake;
    bool destroying; /* lws_context_destroy is running: schedule nothing */
    lws_sorted_usec_list_t sul_work;
    lws_sorted_usec_list_t sul_sweep;
    const tls_pair_t *loading; /* the pair lws_create_vhost is loading */
    bool svc_stopping;         /* service: CMD_STOP seen */
    conn_t *conns;             /* service */
    unsigned char *scratch;    /* service: LWS_PRE + a chunk with framing */
    server_listener_t *listeners;

    metrics_family_t *m_requests;
    metrics_family_t *m_duration;
    metrics_family_t *m_connections;
};

/* Wakes the service thread (any thread). */
void server_wake(server_t *srv);
/* The lws callback of the one protocol every vhost runs. */
int server_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len);
/* Service thread: look at dirty exchanges. */
void http_scan_dirty(server_t *srv);
/* Service thread: enforce timeouts. */
void http_sweep(server_t *srv, double now);
/* Service thread: begin shutting connections down (CMD_STOP). */
void http_begin_stop(server_t *srv);
/* Releases a connection's exchange: the exchange is told the connection is gone. */
void conn_detach_exchange(conn_t *c);
/* Service thread: a connection object is being destroyed by lws. */
void server_conn_destroyed(server_t *srv, conn_t *c);
/* Service thread: the listening socket is readable. */
void server_accept(server_t *srv, server_listener_t *l);
/* Service thread: run queued commands and housekeeping (scheduled by a wake). */
void server_schedule_work(server_t *srv);

#endif

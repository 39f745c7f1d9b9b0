/*
 * server: lifecycle — listeners and routes, binding, the lws context and its
 * service thread, commands from other threads (TLS reload, stop), the vhost
 * generations that make reloads seamless, and accepting connections.
 *
 * Listening sockets are ours, not lws's: we bind them (so port 0 and bind errors are
 * reported by server_start), adopt each into lws as a raw file descriptor on a
 * control vhost, accept on readability and adopt every accepted socket into the
 * listener's current vhost. That is what lets a reload swap vhosts under a socket
 * that never closes, lets the connection limit pause accepting (lws_rx_flow_control
 * on the listener) instead of refusing, and lets shutdown close the listeners
 * without touching open connections (lws_context_deprecate would, in 4.1, SIGINT
 * the process once the last connection closed).
 */
#include "server_internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_MAX_BODY        ((size_t)1024 * 1024)
#define DEFAULT_MAX_CONNECTIONS 256
#define DEFAULT_WORKERS         2
#define DEFAULT_STREAM_BUFFER   ((size_t)256 * 1024)
#define LISTEN_BACKLOG          511
/* After accept fails for lack of descriptors, wait this long before trying again. */
#define ACCEPT_RETRY_SECONDS 0.1

static const struct lws_protocols protocols[] = {
    {"s2i-http", server_http_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- lws logging ------------------------------------------------------------ */

static void lws_log_emit(int level, const char *line)
{
    char text[512];
    snprintf(text, sizeof(text), "%s", line);
    size_t n = strlen(text);
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        text[--n] = '\0';
    if (level & LLL_ERR)
        log_warn("libwebsockets", "message", text, NULL);
    else
        log_v(3, "libwebsockets", "message", text, NULL);
}

static void lws_logging_init(void)
{
    int levels = LLL_ERR;
    if (log_enabled(3))
        levels |= LLL_WARN | LLL_NOTICE;
    lws_set_log_level(levels, lws_log_emit);
}

/* ---- configuration -------------------------------------------------------------- */

server_t *server_new(const server_options_t *opts)
{
    static pthread_once_t logging_once = PTHREAD_ONCE_INIT;
    pthread_once(&logging_once, lws_logging_init);

    server_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &attr);
    pthread_condattr_destroy(&attr);
    s->state = SRV_NEW;

    metrics_registry_t *reg = opts ? opts->metrics : NULL;
    if (reg) {
        s->m_requests =
            metrics_counter_new(reg, "s2i_http_requests_total",
                                "HTTP requests answered, by listener, method and status code.",
                                METRICS_LABELS("listener", "method", "code"));
        s->m_duration = metrics_histogram_new(
            reg, "s2i_http_request_duration_seconds",
            "Time from complete request headers to the response written (to its start for "
            "streams).",
            METRICS_LABELS("listener"), NULL, 0);
        s->m_connections =
            metrics_gauge_new(reg, "s2i_http_connections", "Open HTTP connections by listener.",
                              METRICS_LABELS("listener"));
        if (!s->m_requests || !s->m_duration || !s->m_connections) {
            log_error("cannot register HTTP server metrics", NULL);
            server_free(s);
            return NULL;
        }
    }
    return s;
}

static char *header_capture_name(const char *name)
{
    size_t n = strlen(name);
    char *out = malloc(n + 2);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)name[i]);
    out[n] = ':';
    out[n + 1] = '\0';
    return out;
}

static void listener_free(server_listener_t *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->nroutes; i++) {
        free(l->routes[i].method);
        free(l->routes[i].pattern);
    }
    free(l->routes);
    for (size_t i = 0; i < l->ncapture; i++)
        free(l->capture[i]);
    free(l->capture);
    for (int i = 0; i < 2; i++) {
        vhost_gen_t **list = i ? &l->dead : &l->gens;
        while (*list) {
            vhost_gen_t *g = *list;
            *list = g->next;
            free(g);
        }
    }
    tls_pair_clear(&l->tls_pair);
    if (l->fd >= 0 && !l->fd_adopted)
        close(l->fd);
    pthread_cond_destroy(&l->pool.cond);
    pthread_mutex_destroy(&l->pool.lock);
    free(l->name);
    free(l->address);
    free(l);
}

server_listener_t *server_add_listener(server_t *s, const server_listener_options_t *opts)
{
    if (!s || !opts || !opts->address || s->state != SRV_NEW)
        return NULL;
    server_listener_t *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->kind = OBJ_LISTENER;
    l->server = s;
    l->fd = -1;
    atomic_init(&l->port, -1);
    pthread_mutex_init(&l->pool.lock, NULL);
    pthread_cond_init(&l->pool.cond, NULL);
    l->name = strdup(opts->name ? opts->name : "http");
    l->address = strdup(opts->address);
    l->max_body = opts->max_body_bytes ? opts->max_body_bytes : DEFAULT_MAX_BODY;
    l->header_timeout = opts->header_timeout > 0 ? opts->header_timeout : 10;
    l->body_timeout = opts->body_timeout > 0 ? opts->body_timeout : 30;
    l->idle_timeout = opts->idle_timeout > 0 ? opts->idle_timeout : 60;
    l->write_timeout = opts->write_timeout > 0 ? opts->write_timeout : 30;
    l->max_connections =
        opts->max_connections > 0 ? opts->max_connections : DEFAULT_MAX_CONNECTIONS;
    l->workers = opts->workers > 0 ? opts->workers : DEFAULT_WORKERS;
    l->stream_buffer =
        opts->stream_buffer_bytes ? opts->stream_buffer_bytes : DEFAULT_STREAM_BUFFER;
    bool ok = l->name && l->address;
    size_t nextra = 0;
    while (opts->extra_headers && opts->extra_headers[nextra])
        nextra++;
    if (ok && nextra) {
        l->capture = calloc(nextra, sizeof(char *));
        ok = l->capture != NULL;
        for (size_t i = 0; ok && i < nextra; i++, l->ncapture++)
            ok = (l->capture[i] = header_capture_name(opts->extra_headers[i])) != NULL;
    }
    if (ok && opts->tls) {
        l->tls = true;
        ok = tls_pair_load(opts->tls, l->name, &l->tls_pair) == 0;
    }
    if (!ok) {
        listener_free(l);
        return NULL;
    }
    server_listener_t **tail = &s->listeners;
    while (*tail)
        tail = &(*tail)->next;
    *tail = l;
    return l;
}

static bool method_valid(const char *m)
{
    if (!m || !*m)
        return false;
    for (; *m; m++)
        if (*m < 'A' || *m > 'Z')
            return false;
    return true;
}

int server_route(server_listener_t *l, const char *method, const char *pattern, unsigned flags,
                 server_handler_fn fn, void *data)
{
    if (!l || !fn || !route_pattern_valid(pattern) || (method && !method_valid(method)) ||
        l->server->state != SRV_NEW)
        return -1;
    if (l->nroutes == l->routes_cap) {
        size_t cap = l->routes_cap ? l->routes_cap * 2 : 8;
        route_t *routes = realloc(l->routes, cap * sizeof(*routes));
        if (!routes)
            return -1;
        l->routes = routes;
        l->routes_cap = cap;
    }
    route_t r = {method ? strdup(method) : NULL, strdup(pattern), flags, fn, data};
    if ((method && !r.method) || !r.pattern) {
        free(r.method);
        free(r.pattern);
        return -1;
    }
    l->routes[l->nroutes++] = r;
    return 0;
}

/* ---- binding -------------------------------------------------------------------- */

/* Splits "host:port", ":port", "[v6]:port" into host (NULL for any) and port. */
static int parse_address(const char *address, char *host, size_t host_len, char *port,
                         size_t port_len)
{
    const char *colon;
    host[0] = '\0';
    if (address[0] == '[') {
        const char *close = strchr(address, ']');
        if (!close || close[1] != ':' || (size_t)(close - address - 1) >= host_len)
            return -1;
        memcpy(host, address + 1, (size_t)(close - address - 1));
        host[close - address - 1] = '\0';
        colon = close + 1;
    } else {
        colon = strrchr(address, ':');
        if (!colon || memchr(address, ':', (size_t)(colon - address)) ||
            (size_t)(colon - address) >= host_len)
            return -1;
        memcpy(host, address, (size_t)(colon - address));
        host[colon - address] = '\0';
    }
    const char *p = colon + 1;
    if (!*p || strlen(p) >= port_len)
        return -1;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9')
            return -1;
    if (strtol(p, NULL, 10) > 65535)
        return -1;
    snprintf(port, port_len, "%s", p);
    return 0;
}

static int listen_on(const struct sockaddr *sa, socklen_t len, bool dual_stack)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (sa->sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, dual_stack ? &zero : &one, sizeof(int));
    if (bind(fd, sa, len) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int bind_listener(server_listener_t *l)
{
    char host[256], port[8];
    if (parse_address(l->address, host, sizeof(host), port, sizeof(port)) < 0) {
        log_error("bad listen address", "listener", l->name, "address", l->address, NULL);
        return -1;
    }
    int fd = -1;
    if (!host[0]) {
        /* All interfaces: IPv6 dual-stack where the kernel has IPv6, else IPv4. */
        struct sockaddr_in6 any6 = {.sin6_family = AF_INET6,
                                    .sin6_addr = in6addr_any,
                                    .sin6_port = htons((uint16_t)atoi(port))};
        fd = listen_on((struct sockaddr *)&any6, sizeof(any6), true);
        if (fd < 0 && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL)) {
            struct sockaddr_in any4 = {.sin_family = AF_INET,
                                       .sin_addr.s_addr = INADDR_ANY,
                                       .sin_port = htons((uint16_t)atoi(port))};
            fd = listen_on((struct sockaddr *)&any4, sizeof(any4), false);
        }
    } else {
        struct addrinfo hints = {.ai_family = AF_UNSPEC,
                                 .ai_socktype = SOCK_STREAM,
                                 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
        struct addrinfo *res = NULL;
        int rc = getaddrinfo(host, port, &hints, &res);
        if (rc != 0) {
            log_error("cannot resolve listen address", "listener", l->name, "address", l->address,
                      "error", gai_strerror(rc), NULL);
            return -1;
        }
        errno = EADDRNOTAVAIL;
        for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
            fd = listen_on(ai->ai_addr, ai->ai_addrlen, false);
        freeaddrinfo(res);
    }
    if (fd < 0) {
        log_error("cannot listen", "listener", l->name, "address", l->address, "error",
                  strerror(errno), NULL);
        return -1;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
        close(fd);
        return -1;
    }
    int bound = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                         : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    l->fd = fd;
    atomic_store(&l->port, bound);
    char port_text[8];
    snprintf(port_text, sizeof(port_text), "%d", bound);
    log_info("listening", "listener", l->name, "address", l->address, "port", port_text, "tls",
             l->tls ? "true" : "false", NULL);
    return 0;
}

/* ---- vhost generations ----------------------------------------------------------- */

static vhost_gen_t *gen_create(server_t *s, server_listener_t *l, const tls_pair_t *pair)
{
    vhost_gen_t *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    g->listener = l;
    g->id = ++l->next_gen;
    snprintf(g->name, sizeof(g->name), "s2i-%s-%d", l->name, g->id);

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = protocols;
    info.vhost_name = g->name; /* lws keeps the pointer */
    info.user = g;
    info.alpn = "http/1.1";
    /* Our own timers close connections first; these are lws's backstops. */
    info.keepalive_timeout = (int)(l->idle_timeout + l->header_timeout) + 30;
    /* lws closes a connection holding a header table for timeout_secs_ah_idle + 360 s:
     * a followed build log can take much longer. */
    info.timeout_secs_ah_idle = 7 * 24 * 3600;
    if (pair) {
        info.options =
            LWS_SERVER_OPTION_CREATE_VHOST_SSL_CTX | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_options_set = SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
    }
    /* The certificate goes in from the LOAD_EXTRA_SERVER_VERIFY_CERTS callback, which
     * lws_create_vhost runs before returning. */
    s->loading = pair;
    g->vhost = lws_create_vhost(s->ctx, &info);
    s->loading = NULL;
    if (!g->vhost) {
        log_error("cannot create lws vhost", "listener", l->name, NULL);
        free(g);
        return NULL;
    }
    g->next = l->gens;
    l->gens = g;
    return g;
}

/* Destroys retired generations that have no connections left. lws finishes destroying
 * a vhost later and reads its name (our memory) until then, so the generation record
 * is kept until the server is freed: a hundred bytes per certificate rotation. */
static void reap_generations(server_t *s)
{
    for (server_listener_t *l = s->listeners; l; l = l->next) {
        vhost_gen_t **pg = &l->gens;
        while (*pg) {
            vhost_gen_t *g = *pg;
            if (g->retired && g->conns == 0) {
                *pg = g->next;
                lws_vhost_destroy(g->vhost);
                g->vhost = NULL;
                g->next = l->dead;
                l->dead = g;
            } else {
                pg = &g->next;
            }
        }
    }
}

static int do_reload(server_t *s, server_listener_t *l, tls_pair_t *pair)
{
    if (s->svc_stopping)
        return -1;
    vhost_gen_t *g = gen_create(s, l, pair);
    if (!g)
        return -1;
    vhost_gen_t *old = l->current;
    l->current = g;
    old->retired = true;
    tls_pair_clear(&l->tls_pair);
    l->tls_pair = *pair;
    *pair = (tls_pair_t){NULL, NULL};
    pthread_mutex_lock(&s->lock);
    l->stats.tls_generation = g->id;
    pthread_mutex_unlock(&s->lock);
    char gen[16], draining[16];
    snprintf(gen, sizeof(gen), "%d", g->id);
    snprintf(draining, sizeof(draining), "%d", old->conns);
    log_info("TLS certificate reloaded", "listener", l->name, "generation", gen, "old_connections",
             draining, NULL);
    reap_generations(s);
    return 0;
}

/* ---- accepting --------------------------------------------------------------------- */

static void pause_accepting(server_listener_t *l, double resume_at)
{
    if (!l->accept_paused && l->wsi)
        lws_rx_flow_control(l->wsi, 0);
    l->accept_paused = true;
    l->accept_resume_at = resume_at;
}

static void resume_accepting(server_t *s, double now)
{
    for (server_listener_t *l = s->listeners; l; l = l->next) {
        if (!l->accept_paused || !l->wsi || s->svc_stopping)
            continue;
        if (l->conns < l->max_connections && now >= l->accept_resume_at) {
            lws_rx_flow_control(l->wsi, 1);
            l->accept_paused = false;
        }
    }
}

static void remote_text(const struct sockaddr_storage *ss, char *out, size_t len)
{
    out[0] = '\0';
    if (ss->ss_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, out, (socklen_t)len);
    } else if (ss->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a))
            inet_ntop(AF_INET, &a->s6_addr[12], out, (socklen_t)len);
        else
            inet_ntop(AF_INET6, a, out, (socklen_t)len);
    }
}

void server_accept(server_t *s, server_listener_t *l)
{
    while (!s->svc_stopping) {
        if (l->conns >= l->max_connections) {
            /* Leave the rest in the backlog until a connection closes. */
            pause_accepting(l, 0);
            return;
        }
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof(ss));
        socklen_t sl = sizeof(ss);
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                log_warn("accept failed, pausing", "listener", l->name, "error", strerror(errno),
                         NULL);
                pause_accepting(l, util_monotonic() + ACCEPT_RETRY_SECONDS);
            }
            return;
        }
        /* Headers and body go out in separate writes: without this, Nagle holds the
         * second for 40 ms on every response. */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        conn_t *c = calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            continue;
        }
        lws_sock_file_fd_type desc;
        desc.sockfd = fd;
        /* On failure lws closes fd itself. */
        struct lws *wsi = lws_adopt_descriptor_vhost(
            l->current->vhost, LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP | LWS_ADOPT_ALLOW_SSL, desc, NULL,
            NULL);
        if (!wsi) {
            free(c);
            continue;
        }
        c->kind = OBJ_CONN;
        c->wsi = wsi;
        c->listener = l;
        c->gen = l->current;
        c->state = CONN_WAIT_REQUEST;
        c->deadline = util_monotonic() + l->header_timeout;
        remote_text(&ss, c->remote, sizeof(c->remote));
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        lws_set_opaque_user_data(wsi, c);
        l->conns++;
        c->gen->conns++;
        pthread_mutex_lock(&s->lock);
        s->nconns++;
        l->stats.accepted++;
        l->stats.active = l->conns;
        if (l->conns > l->stats.max_active)
            l->stats.max_active = l->conns;
        pthread_mutex_unlock(&s->lock);
        if (s->m_connections)
            metrics_gauge_inc(s->m_connections, METRICS_LABELS(l->name));
    }
}

void server_conn_destroyed(server_t *s, conn_t *c)
{
    server_listener_t *l = c->listener;
    conn_detach_exchange(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    l->conns--;
    c->gen->conns--;
    pthread_mutex_lock(&s->lock);
    s->nconns--;
    l->stats.active = l->conns;
    if (s->nconns == 0)
        pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    if (s->m_connections)
        metrics_gauge_dec(s->m_connections, METRICS_LABELS(l->name));
    if ((c->gen->retired && c->gen->conns == 0) || l->accept_paused)
        server_schedule_work(s);
    free(c);
}

/* ---- the service thread ------------------------------------------------------------- */

void server_wake(server_t *s)
{
    atomic_store(&s->wake, true);
    lws_cancel_service(s->ctx);
}

static void run_commands(server_t *s)
{
    pthread_mutex_lock(&s->lock);
    command_t *list = s->commands;
    s->commands = NULL;
    pthread_mutex_unlock(&s->lock);
    /* Pushed at the head: reverse into arrival order. */
    command_t *ordered = NULL;
    while (list) {
        command_t *next = list->next;
        list->next = ordered;
        ordered = list;
        list = next;
    }
    while (ordered) {
        command_t *cmd = ordered;
        ordered = cmd->next;
        int result = 0;
        if (cmd->type == CMD_RELOAD)
            result = do_reload(s, cmd->listener, &cmd->pair);
        else
            http_begin_stop(s);
        /* The issuer owns cmd and may free it as soon as it sees done. */
        pthread_mutex_lock(&s->lock);
        cmd->result = result;
        cmd->done = true;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
    }
}

static void work_cb(lws_sorted_usec_list_t *sul)
{
    server_t *s = lws_container_of(sul, server_t, sul_work);
    run_commands(s);
    if (atomic_exchange(&s->wake, false))
        http_scan_dirty(s);
    reap_generations(s);
    resume_accepting(s, util_monotonic());
}

void server_schedule_work(server_t *s)
{
    if (!s->destroying)
        lws_sul_schedule(s->ctx, 0, &s->sul_work, work_cb, 1);
}

static void sweep_cb(lws_sorted_usec_list_t *sul)
{
    server_t *s = lws_container_of(sul, server_t, sul_sweep);
    double now = util_monotonic();
    http_sweep(s, now);
    resume_accepting(s, now);
    if (!s->destroying)
        lws_sul_schedule(s->ctx, 0, &s->sul_sweep, sweep_cb, SERVER_SWEEP_US);
}

static void *service_main(void *arg)
{
    server_t *s = arg;
    while (!atomic_load(&s->exit))
        if (lws_service(s->ctx, 0) < 0)
            break;
    return NULL;
}

/* ---- start and stop ---------------------------------------------------------------------- */

static int start_lws(server_t *s)
{
    int total = 0;
    double longest = 0;
    for (server_listener_t *l = s->listeners; l; l = l->next) {
        total += l->max_connections;
        longest = fmax(longest, fmax(l->header_timeout, fmax(l->body_timeout, l->write_timeout)));
    }

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
                   LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.user = s;
    info.count_threads = 1;
    info.server_string = "s2i-operator";
    /* lws's own timeout for handshakes and body reads, a backstop behind ours (which
     * fire first); http.c clears it once a request is ours, or it would cut long
     * handlers and idle log streams. */
    info.timeout_secs = (unsigned int)ceil(longest) + 2;
    /* Service-account tokens in Authorization run to a few KiB. */
    info.max_http_header_data = 16384;
    /* Every connection may hold a header table while its request is served. */
    info.max_http_header_pool = (unsigned short)(total + 8 > 65535 ? 65535 : total + 8);
    info.pt_serv_buf_size = 32768;
    s->ctx = lws_create_context(&info);
    if (!s->ctx) {
        log_error("cannot create lws context", NULL);
        return -1;
    }
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = protocols;
    info.vhost_name = "s2i-control";
    s->control = lws_create_vhost(s->ctx, &info);
    if (!s->control)
        return -1;
    for (server_listener_t *l = s->listeners; l; l = l->next) {
        l->current = gen_create(s, l, l->tls ? &l->tls_pair : NULL);
        if (!l->current)
            return -1;
        if (l->tls) {
            pthread_mutex_lock(&s->lock);
            l->stats.tls_generation = l->current->id;
            pthread_mutex_unlock(&s->lock);
        }
    }
    for (server_listener_t *l = s->listeners; l; l = l->next) {
        lws_sock_file_fd_type desc;
        desc.filefd = l->fd;
        l->wsi = lws_adopt_descriptor_vhost(s->control, LWS_ADOPT_RAW_FILE_DESC, desc,
                                            protocols[0].name, NULL);
        /* Adopted or not, the descriptor is lws's to close now (also on failure). */
        l->fd_adopted = true;
        if (!l->wsi)
            return -1;
        lws_set_opaque_user_data(l->wsi, l);
    }
    return 0;
}

int server_start(server_t *s)
{
    if (!s || s->state != SRV_NEW)
        return -1;
    for (server_listener_t *l = s->listeners; l; l = l->next)
        if (bind_listener(l) < 0)
            goto fail;
    s->scratch = malloc(LWS_PRE + SERVER_WRITE_CHUNK + 64);
    if (!s->scratch || start_lws(s) < 0)
        goto fail;
    for (server_listener_t *l = s->listeners; l; l = l->next)
        if (pool_start(l, l->workers) < 0)
            goto fail;
    lws_sul_schedule(s->ctx, 0, &s->sul_sweep, sweep_cb, SERVER_SWEEP_US);
    if (pthread_create(&s->thread, NULL, service_main, s) != 0)
        goto fail;
    s->thread_started = true;
    pthread_mutex_lock(&s->lock);
    s->state = SRV_RUNNING;
    pthread_mutex_unlock(&s->lock);
    return 0;
fail:
    for (server_listener_t *l = s->listeners; l; l = l->next) {
        pool_stop(&l->pool);
        pool_join(&l->pool);
    }
    if (s->ctx) {
        s->destroying = true;
        lws_context_destroy(s->ctx);
        s->ctx = NULL;
    }
    pthread_mutex_lock(&s->lock);
    s->state = SRV_STOPPED;
    pthread_mutex_unlock(&s->lock);
    return -1;
}

int server_listener_port(const server_listener_t *l)
{
    return l ? atomic_load(&l->port) : -1;
}

void server_listener_stats(server_listener_t *l, server_listener_stats_t *out)
{
    if (!l || !out)
        return;
    pthread_mutex_lock(&l->server->lock);
    *out = l->stats;
    pthread_mutex_unlock(&l->server->lock);
}

/* Pushes cmd and wakes the service thread; s->lock held, state RUNNING. */
static void push_command(server_t *s, command_t *cmd)
{
    cmd->next = s->commands;
    s->commands = cmd;
    server_wake(s);
}

int server_reload_tls(server_listener_t *l, const server_tls_t *tls)
{
    if (!l || !l->tls)
        return -1;
    server_t *s = l->server;
    tls_pair_t pair;
    if (tls_pair_load(tls, l->name, &pair) < 0)
        return -1;
    command_t cmd = {.type = CMD_RELOAD, .listener = l, .pair = pair};
    pthread_mutex_lock(&s->lock);
    if (s->state == SRV_NEW) {
        /* Not serving yet: the next server_start uses the new pair. */
        tls_pair_clear(&l->tls_pair);
        l->tls_pair = pair;
        pthread_mutex_unlock(&s->lock);
        return 0;
    }
    if (s->state != SRV_RUNNING) {
        pthread_mutex_unlock(&s->lock);
        tls_pair_clear(&pair);
        return -1;
    }
    /* Woken under the lock: server_stop cannot destroy the context meanwhile. */
    push_command(s, &cmd);
    while (!cmd.done)
        pthread_cond_wait(&s->cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
    tls_pair_clear(&cmd.pair);
    return cmd.result;
}

void server_stop(server_t *s, double grace_seconds)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    if (s->state != SRV_RUNNING) {
        if (s->state == SRV_NEW)
            s->state = SRV_STOPPED;
        pthread_mutex_unlock(&s->lock);
        return;
    }
    s->state = SRV_STOPPING;
    command_t stop = {.type = CMD_STOP};
    push_command(s, &stop);
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    double grace = grace_seconds > 0 ? grace_seconds : 0;
    deadline.tv_sec += (time_t)grace;
    deadline.tv_nsec += (long)((grace - (double)(time_t)grace) * 1e9);
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    /* Wait for the stop to be seen, then for connections to finish. */
    while ((!stop.done || s->nconns > 0) &&
           pthread_cond_timedwait(&s->cond, &s->lock, &deadline) == 0)
        ;
    int left = s->nconns;
    pthread_mutex_unlock(&s->lock);
    if (left) {
        char n[16];
        snprintf(n, sizeof(n), "%d", left);
        log_warn("dropping connections still open after the shutdown grace period", "connections",
                 n, NULL);
    }

    atomic_store(&s->exit, true);
    lws_cancel_service(s->ctx);
    pthread_join(s->thread, NULL);
    s->thread_started = false;

    /* The service thread is gone; this thread is lws's now. Fail pending commands
     * (a reload that raced with the stop) and cut every exchange loose, so no
     * producer or worker touches the context while it is destroyed. */
    pthread_mutex_lock(&s->lock);
    for (command_t *cmd = s->commands; cmd; cmd = cmd->next) {
        cmd->result = -1;
        cmd->done = true;
    }
    s->commands = NULL;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    for (conn_t *c = s->conns; c; c = c->next)
        conn_detach_exchange(c);
    for (server_listener_t *l = s->listeners; l; l = l->next)
        pool_stop(&l->pool);
    s->destroying = true;
    lws_context_destroy(s->ctx);
    s->ctx = NULL;

    pthread_mutex_lock(&s->lock);
    s->state = SRV_STOPPED;
    pthread_mutex_unlock(&s->lock);
}

void server_free(server_t *s)
{
    if (!s)
        return;
    server_stop(s, 0);
    for (server_listener_t *l = s->listeners; l; l = l->next) {
        pool_stop(&l->pool);
        pool_join(&l->pool);
    }
    while (s->listeners) {
        server_listener_t *l = s->listeners;
        s->listeners = l->next;
        listener_free(l);
    }
    free(s->scratch);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

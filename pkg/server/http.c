/*
 * server/http: the lws protocol callback — reading a request into an exchange,
 * routing it, handing it to the listener's workers, and writing the response (fixed
 * or streamed with chunked encoding) as the socket accepts it; plus the timeouts and
 * the connection side of shutdown. Everything here runs on the service thread.
 */
#include "server_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Headers lws does not know but webhooks and triggers need (see server.h). */
static const char *const builtin_capture[] = {
    "x-hub-signature-256:", "x-hub-signature:", "x-github-event:", "x-github-delivery:",
    "x-gitlab-token:",      "x-gitlab-event:",  "x-request-id:",
};

static const struct {
    enum lws_token_indexes token;
    const char *name;
} methods[] = {
    {WSI_TOKEN_GET_URI, "GET"},         {WSI_TOKEN_POST_URI, "POST"},
    {WSI_TOKEN_PUT_URI, "PUT"},         {WSI_TOKEN_PATCH_URI, "PATCH"},
    {WSI_TOKEN_DELETE_URI, "DELETE"},   {WSI_TOKEN_HEAD_URI, "HEAD"},
    {WSI_TOKEN_OPTIONS_URI, "OPTIONS"},
};

static server_t *server_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

/* ---- reading the request ---------------------------------------------------------- */

static int add_header(exchange_t *ex, const char *name, size_t name_len, char *value, int len)
{
    if (len <= 0)
        return 0;
    return kvlist_add(&ex->priv.headers, name, name_len, value, (size_t)len);
}

static int capture_headers(conn_t *c, exchange_t *ex)
{
    struct lws *wsi = c->wsi;
    buf_t value = BUF_INIT;
    int rc = 0;
    for (int t = 0; t < WSI_TOKEN_COUNT && rc == 0; t++) {
        const char *name = (const char *)lws_token_to_string((enum lws_token_indexes)t);
        if (!name)
            continue;
        size_t nlen = strlen(name);
        /* Header tokens end in ':'; the method/URI and HTTP/2 pseudo tokens do not. */
        if (nlen < 2 || name[nlen - 1] != ':' || name[0] == ':')
            continue;
        int total = lws_hdr_total_length(wsi, (enum lws_token_indexes)t);
        if (total <= 0)
            continue;
        /* Room for the separators lws puts between repeated headers. */
        size_t room = (size_t)total * 2 + 16;
        buf_reset(&value);
        if (buf_reserve(&value, room) < 0) {
            rc = -1;
            break;
        }
        int n = lws_hdr_copy(wsi, value.data, (int)room, (enum lws_token_indexes)t);
        if (n > 0)
            rc = add_header(ex, name, nlen - 1, value.data, n);
    }
    const char *const *extra = (const char *const *)c->listener->capture;
    size_t nbuiltin = UTIL_ARRAY_LEN(builtin_capture);
    for (size_t i = 0; rc == 0 && i < nbuiltin + c->listener->ncapture; i++) {
        const char *name = i < nbuiltin ? builtin_capture[i] : extra[i - nbuiltin];
        int nlen = (int)strlen(name);
        int total = lws_hdr_custom_length(wsi, name, nlen);
        if (total <= 0)
            continue;
        buf_reset(&value);
        if (buf_reserve(&value, (size_t)total + 1) < 0) {
            rc = -1;
            break;
        }
        int n = lws_hdr_custom_copy(wsi, value.data, total + 1, name, nlen);
        if (n > 0)
            rc = add_header(ex, name, (size_t)nlen - 1, value.data, n);
    }
    buf_free(&value);
    return rc;
}

static int capture_query(conn_t *c, exchange_t *ex)
{
    buf_t joined = BUF_INIT, frag = BUF_INIT;
    int rc = 0;
    for (int i = 0;; i++) {
        int len = lws_hdr_fragment_length(c->wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (len <= 0)
            break;
        buf_reset(&frag);
        if (buf_reserve(&frag, (size_t)len + 1) < 0 ||
            lws_hdr_copy_fragment(c->wsi, frag.data, len + 1, WSI_TOKEN_HTTP_URI_ARGS, i) < 0) {
            rc = -1;
            break;
        }
        const char *eq = strchr(frag.data, '=');
        size_t name_len = eq ? (size_t)(eq - frag.data) : strlen(frag.data);
        const char *value = eq ? eq + 1 : "";
        if (kvlist_add(&ex->priv.query, frag.data, name_len, value, strlen(value)) < 0) {
            rc = -1;
            break;
        }
        if (joined.len)
            buf_putc(&joined, '&');
        buf_puts(&joined, frag.data);
    }
    buf_free(&frag);
    ex->query = joined.data ? buf_steal(&joined) : strdup("");
    buf_free(&joined);
    return rc == 0 && ex->query ? 0 : -1;
}

/* Parses Content-Length: 0 and *out (0 when absent), or -1 when malformed. */
static int content_length(const exchange_t *ex, size_t *out)
{
    const char *cl = kvlist_get(&ex->priv.headers, "content-length");
    *out = 0;
    if (!cl)
        return 0;
    size_t v = 0;
    if (!*cl)
        return -1;
    for (const char *p = cl; *p; p++) {
        if (*p < '0' || *p > '9' || v > (SIZE_MAX - 9) / 10)
            return -1;
        v = v * 10 + (size_t)(*p - '0');
    }
    *out = v;
    return 0;
}

/* Finds the route; 0, or the status to answer (404, 405 with Allow set). */
static int route_request(exchange_t *ex)
{
    server_listener_t *l = ex->listener;
    buf_t allow = BUF_INIT;
    bool path_matched = false;
    for (size_t i = 0; i < l->nroutes; i++) {
        const route_t *r = &l->routes[i];
        kvlist_clear(&ex->priv.params);
        if (!route_match_path(r, ex->path, &ex->priv.params))
            continue;
        path_matched = true;
        if (route_match_method(r, ex->method)) {
            ex->route = r;
            buf_free(&allow);
            return 0;
        }
        const char *m = r->method;
        for (int pass = 0; pass < 2; pass++) {
            /* A GET route also allows HEAD. */
            if (pass == 1 && strcmp(r->method, "GET") != 0)
                break;
            if (pass == 1)
                m = "HEAD";
            bool seen = false;
            const char *p = allow.data;
            size_t mlen = strlen(m);
            while (p && *p) {
                if (strncmp(p, m, mlen) == 0 && (p[mlen] == ',' || p[mlen] == '\0'))
                    seen = true;
                p = strchr(p, ',');
                p = p ? p + 2 : NULL;
            }
            if (!seen) {
                if (allow.len)
                    buf_puts(&allow, ", ");
                buf_puts(&allow, m);
            }
        }
    }
    kvlist_clear(&ex->priv.params);
    int status = 404;
    if (path_matched) {
        status = 405;
        if (allow.len && kvlist_add(&ex->headers, "Allow", 5, allow.data, allow.len) < 0)
            ex->oom = true;
    }
    buf_free(&allow);
    return status;
}

static void request_write(conn_t *c)
{
    if (!c->write_wait_since)
        c->write_wait_since = util_monotonic();
    lws_callback_on_writable(c->wsi);
}

static void respond_now(conn_t *c, int status, const char *text)
{
    exchange_set_error(c->ex, status, text);
    c->state = CONN_WRITE;
    c->deadline = 0;
    request_write(c);
}

static void dispatch(server_t *s, conn_t *c)
{
    exchange_t *ex = c->ex;
    lws_set_timeout(c->wsi, NO_PENDING_TIMEOUT, 0); /* as in on_http; lws set one for the body */
    ex->req.body = ex->body.data ? ex->body.data : "";
    ex->req.body_len = ex->body.len;
    c->state = CONN_HANDLER;
    c->deadline = 0;
    if (s->svc_stopping)
        c->close_after = true;
    if (pool_push(&c->listener->pool, ex) < 0)
        respond_now(c, 503, "server is shutting down");
}

static int on_http(server_t *s, conn_t *c, const char *uri, size_t len)
{
    if (c->ex || s->svc_stopping)
        return -1;
    /* From here our own deadlines apply. lws would otherwise keep a timeout of its
     * own running (context timeout_secs) that kills long handlers and log streams. */
    lws_set_timeout(c->wsi, NO_PENDING_TIMEOUT, 0);
    server_listener_t *l = c->listener;
    exchange_t *ex = exchange_new(s, l);
    if (!ex)
        return -1;
    c->ex = ex;
    c->counted = false;
    c->headers_sent = false;
    c->body_off = 0;
    ex->started = util_monotonic();
    memcpy(ex->remote, c->remote, sizeof(ex->remote));
    ex->req.remote_addr = ex->remote;
    for (size_t i = 0; i < UTIL_ARRAY_LEN(methods) && !ex->method; i++)
        if (lws_hdr_total_length(c->wsi, methods[i].token) > 0)
            ex->method = methods[i].name;
    ex->head = ex->method && strcmp(ex->method, "HEAD") == 0;
    ex->req.method = ex->method ? ex->method : "UNKNOWN";
    ex->path = strndup(uri ? uri : "/", uri ? len : 1);
    ex->req.path = ex->path ? ex->path : "";
    ex->req.body = "";
    bool oom = !ex->path || capture_headers(c, ex) < 0 || capture_query(c, ex) < 0;
    ex->req.query = ex->query ? ex->query : "";

    size_t body_len = 0;
    bool chunked = kvlist_get(&ex->priv.headers, "transfer-encoding") != NULL;
    int bad_length = content_length(ex, &body_len);
    int status = 0;
    const char *text = NULL;
    if (oom) {
        status = 500, text = "out of memory";
    } else if (!ex->method) {
        status = 501, text = "method not implemented";
    } else if (chunked) {
        /* lws 4.1 hands chunked request bodies over undecoded. */
        status = 411, text = "a Content-Length is required";
    } else if (bad_length < 0) {
        status = 400, text = "bad Content-Length";
    } else if (body_len > l->max_body) {
        status = 413, text = "request body too large";
    } else if ((status = route_request(ex)) != 0) {
        text = status == 404 ? "not found" : "method not allowed";
    }
    if (status) {
        /* An unread body would be taken for the next request: close after answering. */
        if (body_len || chunked || bad_length < 0)
            c->close_after = true;
        respond_now(c, status, text);
        return 0;
    }
    if (body_len == 0) {
        dispatch(s, c);
        return 0;
    }
    if (buf_reserve(&ex->body, body_len) < 0) {
        c->close_after = true;
        respond_now(c, 500, "out of memory");
        return 0;
    }
    ex->expected_body = body_len;
    c->state = CONN_READ_BODY;
    c->deadline = util_monotonic() + l->body_timeout;
    const char *expect = kvlist_get(&ex->priv.headers, "expect");
    if (expect && strcasecmp(expect, "100-continue") == 0) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        memcpy(s->scratch + LWS_PRE, cont, sizeof(cont) - 1);
        if (lws_write(c->wsi, s->scratch + LWS_PRE, sizeof(cont) - 1, LWS_WRITE_HTTP) < 0)
            return -1;
    }
    return 0;
}

static int on_body(conn_t *c, const void *in, size_t len)
{
    exchange_t *ex = c->ex;
    if (c->state != CONN_READ_BODY || !ex)
        return 0;
    if (ex->body.len + len > c->listener->max_body) {
        c->close_after = true;
        respond_now(c, 413, "request body too large");
        return 0;
    }
    if (buf_append(&ex->body, in, len) < 0) {
        c->close_after = true;
        respond_now(c, 500, "out of memory");
    }
    return 0;
}

static void on_body_complete(server_t *s, conn_t *c)
{
    if (c->state == CONN_READ_BODY && c->ex)
        dispatch(s, c);
}

/* ---- writing the response --------------------------------------------------------- */

static void record_request(server_t *s, conn_t *c, int status)
{
    exchange_t *ex = c->ex;
    if (c->counted)
        return;
    c->counted = true;
    double elapsed = util_monotonic() - ex->started;
    if (s->m_requests) {
        char code[8];
        snprintf(code, sizeof(code), "%d", status);
        metrics_counter_inc(s->m_requests, METRICS_LABELS(c->listener->name, ex->req.method, code));
        metrics_histogram_observe(s->m_duration, METRICS_LABELS(c->listener->name), elapsed);
    }
    if (log_enabled(2)) {
        char code[8], ms[32];
        snprintf(code, sizeof(code), "%d", status);
        snprintf(ms, sizeof(ms), "%.1f", elapsed * 1000);
        log_v(2, "http request", "listener", c->listener->name, "method", ex->req.method, "path",
              ex->req.path, "status", code, "remote", ex->remote, "ms", ms, NULL);
    }
}

static int response_status(const exchange_t *ex)
{
    return ex->oom ? 500 : ex->status;
}

static int write_headers(server_t *s, conn_t *c, exchange_t *ex, bool chunked)
{
    struct lws *wsi = c->wsi;
    bool oom = ex->oom;
    int status = response_status(ex);
    size_t need = 512 + (ex->content_type ? strlen(ex->content_type) : 0);
    for (size_t i = 0; i < ex->headers.len; i++)
        need += strlen(ex->headers.items[i].name) + strlen(ex->headers.items[i].value) + 8;
    unsigned char *buf = malloc(LWS_PRE + need);
    char name[256];
    if (!buf)
        return -1;
    unsigned char *start = buf + LWS_PRE, *p = start, *end = start + need;
    int rc = -1;
    if (lws_add_http_header_status(wsi, (unsigned int)status, &p, end))
        goto out;
    if (!oom && ex->content_type &&
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                     (const unsigned char *)ex->content_type,
                                     (int)strlen(ex->content_type), &p, end))
        goto out;
    for (size_t i = 0; !oom && i < ex->headers.len; i++) {
        const kv_t *h = &ex->headers.items[i];
        size_t n = strlen(h->name);
        if (n + 2 > sizeof(name))
            continue;
        /* lws wants header names lower case with the colon. */
        for (size_t j = 0; j < n; j++)
            name[j] = (char)tolower((unsigned char)h->name[j]);
        name[n] = ':';
        name[n + 1] = '\0';
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                        (const unsigned char *)h->value, (int)strlen(h->value), &p,
                                        end))
            goto out;
    }
    if (chunked) {
        if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING,
                                         (const unsigned char *)"chunked", 7, &p, end))
            goto out;
    } else if (status >= 200 && status != 204 && status != 304) {
        /* Written by hand rather than with lws_add_http_header_content_length, so lws
         * does not count the body against it (a HEAD answer has none). */
        char length[24];
        int n = snprintf(length, sizeof(length), "%zu", oom ? (size_t)0 : ex->out.len);
        if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH,
                                         (const unsigned char *)length, n, &p, end))
            goto out;
    }
    if ((c->close_after || s->svc_stopping) &&
        lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close", 5,
                                     &p, end))
        goto out;
    if (lws_finalize_write_http_header(wsi, start, &p, end))
        goto out;
    rc = 0;
out:
    free(buf);
    return rc;
}

/* The response is complete: back to waiting for the next request, or close. */
static int finish(server_t *s, conn_t *c)
{
    record_request(s, c, response_status(c->ex));
    conn_detach_exchange(c);
    c->state = CONN_WAIT_REQUEST;
    c->deadline = util_monotonic() + c->listener->idle_timeout;
    c->headers_sent = false;
    c->body_off = 0;
    c->write_wait_since = 0;
    pthread_mutex_lock(&s->lock);
    c->listener->stats.requests++;
    pthread_mutex_unlock(&s->lock);
    if (c->close_after || s->svc_stopping)
        return -1;
    if (lws_http_transaction_completed(c->wsi))
        return -1;
    return 0;
}

static int write_fixed(server_t *s, conn_t *c, exchange_t *ex)
{
    int status = response_status(ex);
    /* HEAD, 204 and 304 answers carry no body whatever the handler set. */
    size_t body_len = ex->oom || ex->head || status == 204 || status == 304 ? 0 : ex->out.len;
    if (!c->headers_sent) {
        if (write_headers(s, c, ex, false) < 0)
            return -1;
        c->headers_sent = true;
        if (body_len == 0)
            return finish(s, c);
        request_write(c);
        return 0;
    }
    size_t remaining = body_len - c->body_off;
    size_t n = remaining < SERVER_WRITE_CHUNK ? remaining : SERVER_WRITE_CHUNK;
    bool last = n == remaining;
    memcpy(s->scratch + LWS_PRE, ex->out.data + c->body_off, n);
    if (lws_write(c->wsi, s->scratch + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) <
        (int)n)
        return -1;
    c->body_off += n;
    if (!last) {
        request_write(c);
        return 0;
    }
    return finish(s, c);
}

static void end_stream_server_side(exchange_t *ex)
{
    pthread_mutex_lock(&ex->lock);
    ex->closed = true;
    ex->stream_done = true;
    pthread_cond_broadcast(&ex->cond);
    pthread_mutex_unlock(&ex->lock);
}

static int write_stream(server_t *s, conn_t *c, exchange_t *ex)
{
    if (!c->headers_sent) {
        if (write_headers(s, c, ex, !ex->head) < 0)
            return -1;
        c->headers_sent = true;
        record_request(s, c, response_status(ex));
        if (ex->head) {
            /* A HEAD answer has no body, not even the last chunk. */
            end_stream_server_side(ex);
            return finish(s, c);
        }
        request_write(c);
        return 0;
    }
    /* The chunk goes at a fixed offset; its size line is written just before it. */
    unsigned char *data = s->scratch + LWS_PRE + 24;
    pthread_mutex_lock(&ex->lock);
    size_t n = ex->queue.len < SERVER_WRITE_CHUNK ? ex->queue.len : SERVER_WRITE_CHUNK;
    if (n) {
        memcpy(data, ex->queue.data, n);
        buf_consume(&ex->queue, n);
        if (ex->queue.len < ex->queue_limit)
            pthread_cond_broadcast(&ex->cond);
    }
    bool more = ex->queue.len > 0;
    bool done = ex->stream_done && !more;
    pthread_mutex_unlock(&ex->lock);

    if (n) {
        char size_line[24];
        int hl = snprintf(size_line, sizeof(size_line), "%zx\r\n", n);
        unsigned char *start = data - hl;
        memcpy(start, size_line, (size_t)hl);
        data[n] = '\r';
        data[n + 1] = '\n';
        size_t total = (size_t)hl + n + 2;
        if (lws_write(c->wsi, start, total, LWS_WRITE_HTTP) < (int)total)
            return -1;
        if (more || done)
            request_write(c);
        return 0;
    }
    if (!done)
        return 0;
    static const char last_chunk[] = "0\r\n\r\n";
    memcpy(s->scratch + LWS_PRE, last_chunk, sizeof(last_chunk) - 1);
    if (lws_write(c->wsi, s->scratch + LWS_PRE, sizeof(last_chunk) - 1, LWS_WRITE_HTTP_FINAL) <
        (int)sizeof(last_chunk) - 1)
        return -1;
    return finish(s, c);
}

static int on_writeable(server_t *s, conn_t *c)
{
    c->write_wait_since = 0;
    if (!c->ex || c->killed)
        return 0;
    if (c->state == CONN_WRITE)
        return write_fixed(s, c, c->ex);
    if (c->state == CONN_STREAM)
        return write_stream(s, c, c->ex);
    return 0;
}

/* ---- the service thread's other duties --------------------------------------------- */

void conn_detach_exchange(conn_t *c)
{
    exchange_t *ex = c->ex;
    if (!ex)
        return;
    c->ex = NULL;
    pthread_mutex_lock(&ex->lock);
    ex->server = NULL;
    ex->closed = true;
    pthread_cond_broadcast(&ex->cond);
    pthread_mutex_unlock(&ex->lock);
    exchange_release(ex);
}

void http_scan_dirty(server_t *s)
{
    for (conn_t *c = s->conns; c; c = c->next) {
        exchange_t *ex = c->ex;
        if (!ex || c->killed)
            continue;
        pthread_mutex_lock(&ex->lock);
        bool dirty = ex->dirty;
        ex->dirty = false;
        bool committed = ex->committed, streaming = ex->streaming;
        pthread_mutex_unlock(&ex->lock);
        if (!dirty)
            continue;
        if (c->state == CONN_HANDLER && committed) {
            c->state = streaming ? CONN_STREAM : CONN_WRITE;
            if (streaming && s->svc_stopping)
                end_stream_server_side(ex);
            request_write(c);
        } else if (c->state == CONN_STREAM) {
            request_write(c);
        }
    }
}

static void kill_conn(conn_t *c)
{
    c->killed = true;
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

void http_sweep(server_t *s, double now)
{
    for (conn_t *c = s->conns; c; c = c->next) {
        if (c->killed)
            continue;
        server_listener_t *l = c->listener;
        const char *phase = NULL;
        switch (c->state) {
        case CONN_WAIT_REQUEST:
            if (c->deadline && now >= c->deadline)
                phase = "headers";
            break;
        case CONN_READ_BODY:
            if (c->deadline && now >= c->deadline)
                phase = "body";
            break;
        case CONN_WRITE:
        case CONN_STREAM:
            if (c->write_wait_since && now - c->write_wait_since >= l->write_timeout)
                phase = "write";
            break;
        case CONN_HANDLER:
            break;
        }
        if (!phase)
            continue;
        log_v(1, "closing connection: timeout", "listener", l->name, "remote", c->remote, "phase",
              phase, NULL);
        kill_conn(c);
        pthread_mutex_lock(&s->lock);
        l->stats.timed_out++;
        pthread_mutex_unlock(&s->lock);
    }
}

void http_begin_stop(server_t *s)
{
    s->svc_stopping = true;
    for (server_listener_t *l = s->listeners; l; l = l->next)
        if (l->wsi)
            lws_set_timeout(l->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    for (conn_t *c = s->conns; c; c = c->next) {
        if (c->killed)
            continue;
        switch (c->state) {
        case CONN_WAIT_REQUEST:
            kill_conn(c);
            break;
        case CONN_STREAM:
            end_stream_server_side(c->ex);
            request_write(c);
            break;
        default:
            c->close_after = true;
            break;
        }
    }
}

/* ---- the callback ------------------------------------------------------------------- */

int server_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    const obj_kind_t *kind = wsi ? lws_get_opaque_user_data(wsi) : NULL;
    conn_t *c = kind && *kind == OBJ_CONN ? (conn_t *)kind : NULL;
    server_listener_t *l = kind && *kind == OBJ_LISTENER ? (server_listener_t *)kind : NULL;

    switch (reason) {
    case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS: {
        /* user is the new vhost's SSL_CTX, in the vhost. */
        const vhost_gen_t *g = in ? lws_get_vhost_user(in) : NULL;
        if (!g)
            return 0;
        const tls_pair_t *pair = g->listener->server->loading;
        return pair && tls_pair_apply(pair, user) == 0 ? 0 : 1;
    }
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        server_schedule_work(server_of(wsi));
        return 0;
    case LWS_CALLBACK_RAW_RX_FILE:
        if (l)
            server_accept(l->server, l);
        return 0;
    case LWS_CALLBACK_HTTP:
        return c ? on_http(server_of(wsi), c, in, len) : -1;
    case LWS_CALLBACK_HTTP_BODY:
        return c ? on_body(c, in, len) : -1;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (c)
            on_body_complete(server_of(wsi), c);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return c ? on_writeable(server_of(wsi), c) : -1;
    case LWS_CALLBACK_CLOSED_HTTP:
        if (c)
            conn_detach_exchange(c);
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        if (c)
            server_conn_destroyed(server_of(wsi), c);
        else if (l)
            l->wsi = NULL;
        return 0;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        /* No WebSocket (or h2c) here. */
        return -1;
    default:
        return 0;
    }
}

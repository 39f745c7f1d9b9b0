/*
 * server/exchange: one request and its response, shared by up to three parties —
 * the connection on the service thread, the worker running the handler and the
 * holder of a stream handle — and freed when the last lets go. Also the
 * handler-facing request/response/stream API and the per-listener worker pools.
 *
 * The handler owns the response fields until it returns (or commits a stream);
 * from then on they are the service thread's. Stream data and the flags that
 * coordinate the parties are under the exchange's own mutex, which is why a stream
 * handle stays usable (its writes failing) after the server is gone.
 */
#include "server_internal.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- kvlist ----------------------------------------------------------------- */

int kvlist_add(kvlist_t *l, const char *name, size_t name_len, const char *value, size_t value_len)
{
    if (l->len == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        kv_t *items = realloc(l->items, cap * sizeof(*items));
        if (!items)
            return -1;
        l->items = items;
        l->cap = cap;
    }
    char *n = strndup(name, name_len);
    char *v = strndup(value, value_len);
    if (!n || !v) {
        free(n);
        free(v);
        return -1;
    }
    l->items[l->len++] = (kv_t){n, v};
    return 0;
}

const char *kvlist_get(const kvlist_t *l, const char *name)
{
    for (size_t i = 0; i < l->len; i++)
        if (strcasecmp(l->items[i].name, name) == 0)
            return l->items[i].value;
    return NULL;
}

void kvlist_clear(kvlist_t *l)
{
    for (size_t i = 0; i < l->len; i++) {
        free(l->items[i].name);
        free(l->items[i].value);
    }
    free(l->items);
    *l = (kvlist_t){NULL, 0, 0};
}

/* ---- lifecycle --------------------------------------------------------------- */

exchange_t *exchange_new(server_t *srv, server_listener_t *l)
{
    exchange_t *ex = calloc(1, sizeof(*ex));
    if (!ex)
        return NULL;
    pthread_mutex_init(&ex->lock, NULL);
    pthread_cond_init(&ex->cond, NULL);
    ex->refs = 1;
    ex->server = srv;
    ex->listener = l;
    ex->status = 200;
    ex->queue_limit = l->stream_buffer;
    ex->req.priv = &ex->priv;
    ex->req.listener = l->name;
    ex->req.tls = l->tls;
    return ex;
}

void exchange_ref(exchange_t *ex)
{
    pthread_mutex_lock(&ex->lock);
    ex->refs++;
    pthread_mutex_unlock(&ex->lock);
}

void exchange_release(exchange_t *ex)
{
    if (!ex)
        return;
    pthread_mutex_lock(&ex->lock);
    bool last = --ex->refs == 0;
    pthread_mutex_unlock(&ex->lock);
    if (!last)
        return;
    kvlist_clear(&ex->priv.headers);
    kvlist_clear(&ex->priv.query);
    kvlist_clear(&ex->priv.params);
    free(ex->path);
    free(ex->query);
    buf_free(&ex->body);
    kvlist_clear(&ex->headers);
    free(ex->content_type);
    buf_free(&ex->out);
    buf_free(&ex->queue);
    pthread_cond_destroy(&ex->cond);
    pthread_mutex_destroy(&ex->lock);
    free(ex);
}

/* Called with ex->lock held: tells the service thread to look at ex, once. */
static void mark_dirty(exchange_t *ex)
{
    if (ex->dirty)
        return;
    ex->dirty = true;
    /* The server is alive while ex->server is set: the connection that would clear
     * it needs this lock first. */
    if (ex->server)
        server_wake(ex->server);
}

static void set_content_type(exchange_t *ex, const char *content_type)
{
    free(ex->content_type);
    ex->content_type = NULL;
    if (content_type && !(ex->content_type = strdup(content_type)))
        ex->oom = true;
}

void exchange_set_error(exchange_t *ex, int status, const char *text)
{
    ex->status = status;
    buf_reset(&ex->out);
    buf_puts(&ex->out, text);
    buf_putc(&ex->out, '\n');
    set_content_type(ex, "text/plain; charset=utf-8");
    if (ex->out.oom)
        ex->oom = true;
    pthread_mutex_lock(&ex->lock);
    ex->committed = true;
    pthread_mutex_unlock(&ex->lock);
}

void exchange_handler_done(exchange_t *ex)
{
    pthread_mutex_lock(&ex->lock);
    if (!ex->committed) {
        ex->committed = true;
        mark_dirty(ex);
    }
    pthread_mutex_unlock(&ex->lock);
}

/* ---- requests ------------------------------------------------------------------ */

const char *server_request_header(const server_request_t *req, const char *name)
{
    if (!req || !name)
        return NULL;
    return kvlist_get(&req->priv->headers, name);
}

const char *server_request_query(const server_request_t *req, const char *name)
{
    if (!req || !name)
        return NULL;
    const kvlist_t *q = &req->priv->query;
    for (size_t i = 0; i < q->len; i++)
        if (strcmp(q->items[i].name, name) == 0)
            return q->items[i].value;
    return NULL;
}

const char *server_request_param(const server_request_t *req, const char *name)
{
    if (!req || !name)
        return NULL;
    const kvlist_t *p = &req->priv->params;
    for (size_t i = 0; i < p->len; i++)
        if (strcmp(p->items[i].name, name) == 0)
            return p->items[i].value;
    return NULL;
}

const char *server_request_bearer_token(const server_request_t *req)
{
    const char *auth = server_request_header(req, "authorization");
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
        return NULL;
    auth += 7;
    while (*auth == ' ')
        auth++;
    return *auth ? auth : NULL;
}

int server_request_json(const server_request_t *req, struct json_object **out)
{
    if (!req || !out || req->body_len == 0 || req->body_len > INT32_MAX)
        return -1;
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return -1;
    json_object *obj = json_tokener_parse_ex(tok, req->body, (int)req->body_len);
    bool ok = obj && json_tokener_get_error(tok) == json_tokener_success;
    /* Only whitespace may follow the value. */
    for (size_t i = ok ? json_tokener_get_parse_end(tok) : req->body_len; i < req->body_len; i++)
        if (!isspace((unsigned char)req->body[i]))
            ok = false;
    json_tokener_free(tok);
    if (!ok) {
        json_object_put(obj);
        return -1;
    }
    *out = obj;
    return 0;
}

/* ---- responses ------------------------------------------------------------------- */

/* The response may still be changed: not committed (a stream commits early). */
static bool response_open(server_response_t *resp)
{
    pthread_mutex_lock(&resp->lock);
    bool open = !resp->committed;
    pthread_mutex_unlock(&resp->lock);
    return open;
}

/* Final statuses only: 1xx (interim) answers are the server's business. */
static bool status_valid(int status)
{
    return status >= 200 && status <= 599;
}

void server_response_status(server_response_t *resp, int status)
{
    if (resp && status_valid(status) && response_open(resp))
        resp->status = status;
}

static bool header_name_valid(const char *name)
{
    static const char token_chars[] = "!#$%&'*+-.^_`|~";
    if (!name || !*name)
        return false;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr(token_chars, *p))
            return false;
    return true;
}

int server_response_header(server_response_t *resp, const char *name, const char *value)
{
    if (!resp || !header_name_valid(name) || !value || strpbrk(value, "\r\n"))
        return -1;
    /* Framing headers are the server's to decide. */
    if (strcasecmp(name, "content-length") == 0 || strcasecmp(name, "transfer-encoding") == 0 ||
        strcasecmp(name, "connection") == 0)
        return -1;
    if (!response_open(resp))
        return -1;
    if (strcasecmp(name, "content-type") == 0) {
        set_content_type(resp, value);
        return resp->oom ? -1 : 0;
    }
    if (kvlist_add(&resp->headers, name, strlen(name), value, strlen(value)) < 0) {
        resp->oom = true;
        return -1;
    }
    return 0;
}

int server_response_body(server_response_t *resp, const char *content_type, const void *body,
                         size_t len)
{
    if (!resp || (!body && len) || !response_open(resp))
        return -1;
    buf_reset(&resp->out);
    if (buf_append(&resp->out, body ? body : "", len) < 0) {
        resp->oom = true;
        return -1;
    }
    set_content_type(resp, content_type);
    return resp->oom ? -1 : 0;
}

int server_response_text(server_response_t *resp, int status, const char *fmt, ...)
{
    if (!resp || !fmt || !status_valid(status) || !response_open(resp))
        return -1;
    va_list ap;
    va_start(ap, fmt);
    buf_reset(&resp->out);
    int rc = buf_vprintf(&resp->out, fmt, ap);
    va_end(ap);
    if (rc < 0) {
        resp->oom = true;
        return -1;
    }
    resp->status = status;
    set_content_type(resp, "text/plain; charset=utf-8");
    return resp->oom ? -1 : 0;
}

int server_response_json(server_response_t *resp, int status, struct json_object *obj)
{
    if (!resp || !status_valid(status) || !response_open(resp))
        return -1;
    size_t len;
    const char *text = json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    if (!text) {
        resp->oom = true;
        return -1;
    }
    resp->status = status;
    return server_response_body(resp, "application/json", text, len);
}

/* ---- streams ---------------------------------------------------------------------- */

static exchange_t *stream_exchange(server_stream_t *stream)
{
    return (exchange_t *)((char *)stream - offsetof(exchange_t, stream));
}

server_stream_t *server_response_stream(server_response_t *resp, int status,
                                        const char *content_type)
{
    if (!resp || !status_valid(status) || status == 204 || status == 304)
        return NULL;
    pthread_mutex_lock(&resp->lock);
    bool taken = resp->committed || resp->has_handle;
    pthread_mutex_unlock(&resp->lock);
    if (taken)
        return NULL;
    resp->status = status;
    set_content_type(resp, content_type);
    if (resp->oom)
        return NULL;
    pthread_mutex_lock(&resp->lock);
    resp->committed = true;
    resp->streaming = true;
    resp->has_handle = true;
    resp->refs++;
    mark_dirty(resp);
    pthread_mutex_unlock(&resp->lock);
    return &resp->stream;
}

int server_stream_write(server_stream_t *stream, const void *data, size_t len)
{
    if (!stream || (!data && len))
        return -1;
    exchange_t *ex = stream_exchange(stream);
    pthread_mutex_lock(&ex->lock);
    while (!ex->closed && !ex->stream_done && ex->queue.len >= ex->queue_limit)
        pthread_cond_wait(&ex->cond, &ex->lock);
    int rc = -1;
    if (!ex->closed && !ex->stream_done && buf_append(&ex->queue, data, len) == 0) {
        rc = 0;
        if (len)
            mark_dirty(ex);
    }
    /* A failed append leaves the buffer's sticky flag set; start afresh next time. */
    if (ex->queue.oom) {
        buf_free(&ex->queue);
        buf_init(&ex->queue);
    }
    pthread_mutex_unlock(&ex->lock);
    return rc;
}

int server_stream_printf(server_stream_t *stream, const char *fmt, ...)
{
    buf_t text = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vprintf(&text, fmt, ap);
    va_end(ap);
    if (rc == 0)
        rc = server_stream_write(stream, text.data ? text.data : "", text.len);
    buf_free(&text);
    return rc;
}

bool server_stream_is_closed(server_stream_t *stream)
{
    if (!stream)
        return true;
    exchange_t *ex = stream_exchange(stream);
    pthread_mutex_lock(&ex->lock);
    bool closed = ex->closed;
    pthread_mutex_unlock(&ex->lock);
    return closed;
}

void server_stream_close(server_stream_t *stream)
{
    if (!stream)
        return;
    exchange_t *ex = stream_exchange(stream);
    pthread_mutex_lock(&ex->lock);
    ex->stream_done = true;
    pthread_cond_broadcast(&ex->cond);
    mark_dirty(ex); /* the final chunk is due even with nothing queued */
    pthread_mutex_unlock(&ex->lock);
    exchange_release(ex);
}

/* ---- worker pools ------------------------------------------------------------------ */

static void run_handler(exchange_t *ex)
{
    pthread_mutex_lock(&ex->lock);
    bool gone = ex->closed;
    pthread_mutex_unlock(&ex->lock);
    /* The client left while the request waited for a worker: nobody to answer. */
    if (!gone)
        ex->route->fn(&ex->req, ex, ex->route->data);
    exchange_handler_done(ex);
    exchange_release(ex);
}

static void *worker_main(void *arg)
{
    worker_pool_t *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (!p->head && !p->stopping)
            pthread_cond_wait(&p->cond, &p->lock);
        if (p->stopping) {
            pthread_mutex_unlock(&p->lock);
            return NULL;
        }
        exchange_t *ex = p->head;
        p->head = ex->pool_next;
        if (!p->head)
            p->tail = NULL;
        ex->pool_next = NULL;
        pthread_mutex_unlock(&p->lock);
        run_handler(ex);
    }
}

int pool_start(server_listener_t *l, int nthreads)
{
    worker_pool_t *p = &l->pool;
    p->threads = calloc((size_t)nthreads, sizeof(pthread_t));
    if (!p->threads)
        return -1;
    for (int i = 0; i < nthreads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) {
            log_error("cannot start handler thread", "listener", l->name, NULL);
            return -1;
        }
        p->nthreads++;
    }
    return 0;
}

int pool_push(worker_pool_t *p, exchange_t *ex)
{
    pthread_mutex_lock(&p->lock);
    if (p->stopping) {
        pthread_mutex_unlock(&p->lock);
        return -1;
    }
    exchange_ref(ex);
    ex->pool_next = NULL;
    if (p->tail)
        p->tail->pool_next = ex;
    else
        p->head = ex;
    p->tail = ex;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

void pool_stop(worker_pool_t *p)
{
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    exchange_t *queued = p->head;
    p->head = p->tail = NULL;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    while (queued) {
        exchange_t *next = queued->pool_next;
        exchange_release(queued);
        queued = next;
    }
}

void pool_join(worker_pool_t *p)
{
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    p->nthreads = 0;
    free(p->threads);
    p->threads = NULL;
}

/*
 * Unit tests for pkg/server, with libcurl as the client against listeners on port 0:
 * routing (404, 405, parameters, prefixes), query and header access, JSON bodies,
 * the size limit (413) and chunked uploads (411), header and body timeouts,
 * keep-alive, connection limits under many concurrent clients, streamed responses
 * fed from another thread (and what happens when the client leaves), TLS with a
 * certificate reloaded while a stream opened before the reload continues, probes
 * and /metrics, and shutdown with a stream and handlers in flight.
 *
 * Timing assertions bound from below what must not happen early (a timeout) and
 * from above only with generous margins, so a slow machine (valgrind) cannot fail
 * them; a missing behaviour still fails them (the waits are bounded).
 */
#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "metrics/metrics.h"
#include "server/server.h"
#include "util/util.h"

/* Upper bound for things expected within milliseconds; a bug means far longer. */
#define PATIENCE 10.0

static char cert_dir[64];

/* ---- the client ------------------------------------------------------------------ */

typedef struct {
    const char *method; /* NULL: GET */
    const char *body;
    long body_len; /* 0: strlen(body) */
    const char *headers[8];
    const char *cainfo; /* TLS: trust this certificate (else no verification) */
    bool expect_continue;
} req_opts_t;

typedef struct {
    CURLcode code;
    long status;
    buf_t body;
    buf_t headers;
    char subject[256]; /* the server certificate's subject (TLS) */
    long new_connections;
} resp_t;

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    buf_append(arg, data, size * n);
    return size * n;
}

static void resp_free(resp_t *r)
{
    buf_free(&r->body);
    buf_free(&r->headers);
}

static void set_url(CURL *h, const char *scheme, int port, const char *path)
{
    char url[512];
    snprintf(url, sizeof(url), "%s://127.0.0.1:%d%s", scheme, port, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
}

static void read_subject(CURL *h, resp_t *r)
{
    struct curl_certinfo *ci = NULL;
    if (curl_easy_getinfo(h, CURLINFO_CERTINFO, &ci) != CURLE_OK || !ci || ci->num_of_certs < 1)
        return;
    for (struct curl_slist *s = ci->certinfo[0]; s; s = s->next)
        if (strncmp(s->data, "Subject:", 8) == 0)
            snprintf(r->subject, sizeof(r->subject), "%s", s->data + 8);
}

/* Performs one request on handle h (which may be reused for keep-alive). */
static void perform(CURL *h, const char *scheme, int port, const char *path, const req_opts_t *o,
                    resp_t *r)
{
    memset(r, 0, sizeof(*r));
    struct curl_slist *hdrs = NULL;
    set_url(h, scheme, port, path);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &r->headers);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)PATIENCE * 2);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (strcmp(scheme, "https") == 0) {
        curl_easy_setopt(h, CURLOPT_CERTINFO, 1L);
        if (o && o->cainfo) {
            curl_easy_setopt(h, CURLOPT_CAINFO, o->cainfo);
            curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
            curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
        } else {
            curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
        }
    }
    /* Reset what an earlier request on a reused handle may have set. */
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, o ? o->method : NULL);
    if (o && o->method && strcmp(o->method, "HEAD") == 0)
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    if (o && o->body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, o->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE,
                         o->body_len > 0 ? o->body_len : (long)strlen(o->body));
    }
    for (int i = 0; o && i < 8 && o->headers[i]; i++)
        hdrs = curl_slist_append(hdrs, o->headers[i]);
    hdrs = curl_slist_append(hdrs, o && o->expect_continue ? "Expect: 100-continue" : "Expect:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    r->code = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &r->new_connections);
    read_subject(h, r);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
}

static void request(const char *scheme, int port, const char *path, const req_opts_t *o, resp_t *r)
{
    CURL *h = curl_easy_init();
    ck_assert_ptr_nonnull(h);
    perform(h, scheme, port, path, o, r);
    curl_easy_cleanup(h);
}

static void get(int port, const char *path, resp_t *r)
{
    request("http", port, path, NULL, r);
}

static bool has_header(const resp_t *r, const char *line)
{
    return strcasestr(buf_str(&r->headers), line) != NULL;
}

/* ---- handlers -------------------------------------------------------------------- */

static void hello(const server_request_t *req, server_response_t *resp, void *data)
{
    (void)req;
    (void)data;
    server_response_header(resp, "X-Handler", "hello");
    server_response_text(resp, 200, "hello");
}

static void show_params(const server_request_t *req, server_response_t *resp, void *data)
{
    server_response_text(resp, 200, "%s %s/%s", (const char *)data,
                         server_request_param(req, "namespace"), server_request_param(req, "name"));
}

static void show_path(const server_request_t *req, server_response_t *resp, void *data)
{
    server_response_text(resp, 200, "%s %s", (const char *)data, req->path);
}

static void put_str(json_object *o, const char *key, const char *v)
{
    json_object_object_add(o, key, v ? json_object_new_string(v) : NULL);
}

static void echo(const server_request_t *req, server_response_t *resp, void *data)
{
    (void)data;
    json_object *o = json_object_new_object();
    put_str(o, "method", req->method);
    put_str(o, "path", req->path);
    put_str(o, "query", req->query);
    put_str(o, "follow", server_request_query(req, "follow"));
    put_str(o, "name", server_request_query(req, "name"));
    put_str(o, "x", server_request_query(req, "x"));
    put_str(o, "flag", server_request_query(req, "flag"));
    put_str(o, "missing", server_request_query(req, "missing"));
    put_str(o, "authorization", server_request_header(req, "Authorization"));
    put_str(o, "bearer", server_request_bearer_token(req));
    put_str(o, "signature", server_request_header(req, "X-Hub-Signature-256"));
    put_str(o, "gitlab", server_request_header(req, "x-gitlab-token"));
    put_str(o, "custom", server_request_header(req, "X-Custom-Thing"));
    put_str(o, "content_type", server_request_header(req, "content-type"));
    put_str(o, "remote", req->remote_addr);
    put_str(o, "listener", req->listener);
    json_object_object_add(o, "tls", json_object_new_boolean(req->tls));
    json_object_object_add(o, "body_len", json_object_new_int64((int64_t)req->body_len));
    server_response_json(resp, 200, o);
    json_object_put(o);
}

static void json_echo(const server_request_t *req, server_response_t *resp, void *data)
{
    (void)data;
    json_object *in;
    if (server_request_json(req, &in) < 0) {
        server_response_text(resp, 400, "bad json");
        return;
    }
    json_object *out = json_object_new_object();
    json_object_object_add(out, "got", in);
    server_response_json(resp, 201, out);
    json_object_put(out);
}

static void sleepy(const server_request_t *req, server_response_t *resp, void *data)
{
    (void)data;
    const char *ms = server_request_query(req, "ms");
    util_sleep((ms ? atof(ms) : 100) / 1000.0);
    server_response_text(resp, 200, "slept");
}

static void body_length(const server_request_t *req, server_response_t *resp, void *data)
{
    (void)data;
    server_response_text(resp, 200, "%zu", req->body_len);
}

/* The stream handler hands its stream to the test thread, which plays producer. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    server_stream_t *streams[4];
    int count;
} stream_box_t;

static stream_box_t box = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {NULL}, 0};

static void stream_handler(const server_request_t *req, server_response_t *resp, void *data)
{
    (void)req;
    (void)data;
    server_response_header(resp, "X-Stream", "yes");
    server_stream_t *st = server_response_stream(resp, 200, "text/plain");
    ck_assert_ptr_nonnull(st);
    /* Once committed, the response can no longer change. */
    ck_assert_int_eq(server_response_header(resp, "X-Late", "no"), -1);
    ck_assert_ptr_null(server_response_stream(resp, 200, "text/plain"));
    pthread_mutex_lock(&box.lock);
    box.streams[box.count++] = st;
    pthread_cond_broadcast(&box.cond);
    pthread_mutex_unlock(&box.lock);
}

/* The n-th stream handed over (0-based), waiting up to PATIENCE seconds. */
static server_stream_t *take_stream(int n)
{
    double deadline = util_monotonic() + PATIENCE;
    pthread_mutex_lock(&box.lock);
    while (box.count <= n && util_monotonic() < deadline) {
        pthread_mutex_unlock(&box.lock);
        util_sleep(0.005);
        pthread_mutex_lock(&box.lock);
    }
    server_stream_t *st = box.count > n ? box.streams[n] : NULL;
    pthread_mutex_unlock(&box.lock);
    ck_assert_msg(st != NULL, "no stream %d handed over", n);
    return st;
}

static void box_reset(void)
{
    pthread_mutex_lock(&box.lock);
    box.count = 0;
    pthread_mutex_unlock(&box.lock);
}

/* ---- a client in its own thread, for streams ---------------------------------------- */

typedef struct {
    const char *scheme;
    int port;
    const char *path;
    const char *cainfo;
    pthread_t thread;
    pthread_mutex_t lock;
    buf_t received;
    atomic_bool abort_after_first; /* the write callback fails once data arrived */
    resp_t resp;
    atomic_bool done;
} stream_client_t;

static size_t stream_collect(char *data, size_t size, size_t n, void *arg)
{
    stream_client_t *c = arg;
    pthread_mutex_lock(&c->lock);
    buf_append(&c->received, data, size * n);
    pthread_mutex_unlock(&c->lock);
    return atomic_load(&c->abort_after_first) ? 0 : size * n;
}

static void *stream_client_main(void *arg)
{
    stream_client_t *c = arg;
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, "Expect:");
    set_url(h, c->scheme, c->port, c->path);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, stream_collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &c->resp.headers);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)PATIENCE * 3);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (strcmp(c->scheme, "https") == 0) {
        curl_easy_setopt(h, CURLOPT_CERTINFO, 1L);
        curl_easy_setopt(h, CURLOPT_CAINFO, c->cainfo);
    }
    c->resp.code = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->resp.status);
    read_subject(h, &c->resp);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    atomic_store(&c->done, true);
    return NULL;
}

static void stream_client_start(stream_client_t *c, const char *scheme, int port, const char *path,
                                const char *cainfo)
{
    memset(c, 0, sizeof(*c));
    c->scheme = scheme;
    c->port = port;
    c->path = path;
    c->cainfo = cainfo;
    pthread_mutex_init(&c->lock, NULL);
    ck_assert_int_eq(pthread_create(&c->thread, NULL, stream_client_main, c), 0);
}

/* Waits until the client has received text (true) or PATIENCE passed (false). */
static bool stream_client_wait_for(stream_client_t *c, const char *text)
{
    double deadline = util_monotonic() + PATIENCE;
    while (util_monotonic() < deadline) {
        pthread_mutex_lock(&c->lock);
        bool seen = strstr(buf_str(&c->received), text) != NULL;
        pthread_mutex_unlock(&c->lock);
        if (seen)
            return true;
        util_sleep(0.005);
    }
    return false;
}

static void stream_client_join(stream_client_t *c)
{
    pthread_join(c->thread, NULL);
}

static void stream_client_free(stream_client_t *c)
{
    buf_free(&c->received);
    resp_free(&c->resp);
    pthread_mutex_destroy(&c->lock);
}

/* ---- fixtures -------------------------------------------------------------------------- */

static server_listener_options_t plain(void)
{
    return (server_listener_options_t){.name = "test", .address = "127.0.0.1:0"};
}

static void add_test_routes(server_listener_t *l)
{
    ck_assert_int_eq(server_route(l, "GET", "/hello", 0, hello, NULL), 0);
    ck_assert_int_eq(server_route(l, "GET", "/logs/namespaces/{namespace}/s2iruns/{name}", 0,
                                  show_params, "run"),
                     0);
    ck_assert_int_eq(server_route(l, "GET", "/static", SERVER_ROUTE_PREFIX, show_path, "prefix"),
                     0);
    ck_assert_int_eq(
        server_route(l, "POST", "/trigger", SERVER_ROUTE_OPTIONAL_SLASH, show_path, "trigger"), 0);
    ck_assert_int_eq(server_route(l, "PUT", "/trigger", 0, show_path, "trigger-put"), 0);
    ck_assert_int_eq(server_route(l, NULL, "/echo", 0, echo, NULL), 0);
    ck_assert_int_eq(server_route(l, "POST", "/json", 0, json_echo, NULL), 0);
    ck_assert_int_eq(server_route(l, "GET", "/sleep", 0, sleepy, NULL), 0);
    ck_assert_int_eq(server_route(l, "POST", "/length", 0, body_length, NULL), 0);
    ck_assert_int_eq(server_route(l, "GET", "/stream", 0, stream_handler, NULL), 0);
}

/* A running server with one plain listener carrying the test routes. */
static server_t *start_server(server_listener_options_t opts, server_listener_t **out)
{
    box_reset();
    server_t *s = server_new(NULL);
    ck_assert_ptr_nonnull(s);
    server_listener_t *l = server_add_listener(s, &opts);
    ck_assert_ptr_nonnull(l);
    add_test_routes(l);
    ck_assert_int_eq(server_start(s), 0);
    ck_assert_int_gt(server_listener_port(l), 0);
    *out = l;
    return s;
}

/* The listener's stats once `requests` answers are counted: the service thread counts
 * an answer just after writing its last byte, so a client can be a moment ahead. */
static server_listener_stats_t stats_after(server_listener_t *l, uint64_t requests)
{
    server_listener_stats_t st;
    double deadline = util_monotonic() + PATIENCE;
    do {
        server_listener_stats(l, &st);
        if (st.requests >= requests)
            break;
        util_sleep(0.005);
    } while (util_monotonic() < deadline);
    return st;
}

/* ---- routing, requests, responses ------------------------------------------------------ */

START_TEST(test_routes_match_and_unknown_paths_get_404_or_405)
{
    server_listener_t *l;
    server_t *s = start_server(plain(), &l);
    int port = server_listener_port(l);
    resp_t r;

    get(port, "/hello", &r);
    ck_assert_int_eq(r.code, CURLE_OK);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(buf_str(&r.body), "hello");
    ck_assert(has_header(&r, "x-handler: hello"));
    ck_assert(has_header(&r, "content-type: text/plain"));
    resp_free(&r);

    get(port, "/nope", &r);
    ck_assert_int_eq(r.status, 404);
    resp_free(&r);
    get(port, "/hello/more", &r); /* exact route: no prefix match */
    ck_assert_int_eq(r.status, 404);
    resp_free(&r);

    request("http", port, "/hello", &(req_opts_t){.method = "POST", .body = "x"}, &r);
    ck_assert_int_eq(r.status, 405);
    ck_assert(has_header(&r, "allow: GET, HEAD"));
    resp_free(&r);
    request("http", port, "/trigger", &(req_opts_t){.method = "DELETE"}, &r);
    ck_assert_int_eq(r.status, 405);
    ck_assert(has_header(&r, "allow: POST, PUT"));
    resp_free(&r);

    get(port, "/logs/namespaces/ns-1/s2iruns/run-a", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(buf_str(&r.body), "run ns-1/run-a");
    resp_free(&r);
    get(port, "/logs/namespaces//s2iruns/run-a", &r); /* empty parameter */
    ck_assert_int_eq(r.status, 404);
    resp_free(&r);

    get(port, "/static", &r);
    ck_assert_str_eq(buf_str(&r.body), "prefix /static");
    resp_free(&r);
    get(port, "/static/css/a.css", &r);
    ck_assert_str_eq(buf_str(&r.body), "prefix /static/css/a.css");
    resp_free(&r);
    get(port, "/staticky", &r);
    ck_assert_int_eq(r.status, 404);
    resp_free(&r);

    /* The console calls trigger URLs with and without the trailing slash. */
    request("http", port, "/trigger/", &(req_opts_t){.method = "POST", .body = ""}, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(buf_str(&r.body), "trigger /trigger/");
    resp_free(&r);

    request("http", port, "/hello", &(req_opts_t){.method = "HEAD"}, &r);
    ck_assert_int_eq(r.code, CURLE_OK);
    ck_assert_int_eq(r.status, 200);
    ck_assert(has_header(&r, "content-length: 5"));
    ck_assert_uint_eq(r.body.len, 0);
    resp_free(&r);

    server_free(s);
}
END_TEST

START_TEST(test_route_patterns_are_validated)
{
    server_t *s = server_new(NULL);
    server_listener_options_t o = plain();
    server_listener_t *l = server_add_listener(s, &o);
    ck_assert_int_eq(server_route(l, "GET", "no-slash", 0, hello, NULL), -1);
    ck_assert_int_eq(server_route(l, "GET", "/a{b}", 0, hello, NULL), -1);
    ck_assert_int_eq(server_route(l, "GET", "/{}", 0, hello, NULL), -1);
    ck_assert_int_eq(server_route(l, "GET", "/{a", 0, hello, NULL), -1);
    ck_assert_int_eq(server_route(l, "GET", "/a}", 0, hello, NULL), -1);
    ck_assert_int_eq(server_route(l, "get", "/a", 0, hello, NULL), -1);
    ck_assert_int_eq(server_route(l, "GET", "/{a}/x/{b}", 0, hello, NULL), 0);
    ck_assert_ptr_null(server_add_listener(s, &(server_listener_options_t){.name = "x"}));
    server_free(s);
}
END_TEST

START_TEST(test_query_headers_and_remote_address_reach_the_handler)
{
    server_listener_t *l;
    server_listener_options_t o = plain();
    o.extra_headers = (const char *const[]){"X-Custom-Thing", NULL};
    server_t *s = start_server(o, &l);
    resp_t r;
    req_opts_t ro = {.headers = {"Authorization: Bearer tok.en-123",
                                 "X-Hub-Signature-256: sha256=abcdef", "X-Gitlab-Token: s3cret",
                                 "X-Custom-Thing: yes", "X-Not-Captured: no",
                                 "Content-Type: application/json"}};
    request("http", server_listener_port(l), "/echo?follow=true&name=a%20b&x=a%26b&flag", &ro, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert(has_header(&r, "content-type: application/json"));
    json_object *o2 = json_tokener_parse(buf_str(&r.body));
    ck_assert_ptr_nonnull(o2);
    json_object *v;
#define FIELD(k) (json_object_object_get_ex(o2, k, &v) && v ? json_object_get_string(v) : NULL)
    ck_assert_str_eq(FIELD("method"), "GET");
    ck_assert_str_eq(FIELD("path"), "/echo");
    ck_assert_str_eq(FIELD("follow"), "true");
    ck_assert_str_eq(FIELD("name"), "a b");
    ck_assert_str_eq(FIELD("x"), "a&b");
    ck_assert_str_eq(FIELD("flag"), "");
    ck_assert_ptr_null(FIELD("missing"));
    ck_assert_str_eq(FIELD("query"), "follow=true&name=a b&x=a&b&flag");
    ck_assert_str_eq(FIELD("authorization"), "Bearer tok.en-123");
    ck_assert_str_eq(FIELD("bearer"), "tok.en-123");
    ck_assert_str_eq(FIELD("signature"), "sha256=abcdef");
    ck_assert_str_eq(FIELD("gitlab"), "s3cret");
    ck_assert_str_eq(FIELD("custom"), "yes");
    ck_assert_str_eq(FIELD("content_type"), "application/json");
    ck_assert_str_eq(FIELD("remote"), "127.0.0.1");
    ck_assert_str_eq(FIELD("listener"), "test");
    ck_assert_str_eq(FIELD("tls"), "false");
#undef FIELD
    json_object_put(o2);
    resp_free(&r);
    server_free(s);
}
END_TEST

START_TEST(test_json_body_is_echoed)
{
    server_listener_t *l;
    server_t *s = start_server(plain(), &l);
    int port = server_listener_port(l);
    resp_t r;
    const char *doc = "{\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"u-1\",\"n\":[1,2,3]}}";
    request(
        "http", port, "/json",
        &(req_opts_t){.method = "POST", .body = doc, .headers = {"Content-Type: application/json"}},
        &r);
    ck_assert_int_eq(r.status, 201);
    ck_assert_str_eq(buf_str(&r.body),
                     "{\"got\":{\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"u-1\","
                     "\"n\":[1,2,3]}}}");
    resp_free(&r);

    request("http", port, "/json", &(req_opts_t){.method = "POST", .body = "{\"a\": 1} trailing"},
            &r);
    ck_assert_int_eq(r.status, 400);
    resp_free(&r);
    request("http", port, "/json", &(req_opts_t){.method = "POST", .body = ""}, &r);
    ck_assert_int_eq(r.status, 400);
    resp_free(&r);
    server_free(s);
}
END_TEST

START_TEST(test_body_over_the_limit_gets_413)
{
    server_listener_t *l;
    server_listener_options_t o = plain();
    o.max_body_bytes = 4096;
    server_t *s = start_server(o, &l);
    int port = server_listener_port(l);
    char *big = malloc(8192);
    memset(big, 'x', 8192);
    resp_t r;

    request("http", port, "/length", &(req_opts_t){.method = "POST", .body = big, .body_len = 4096},
            &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(buf_str(&r.body), "4096");
    resp_free(&r);

    request("http", port, "/length", &(req_opts_t){.method = "POST", .body = big, .body_len = 4097},
            &r);
    ck_assert_int_eq(r.code, CURLE_OK);
    ck_assert_int_eq(r.status, 413);
    ck_assert(has_header(&r, "connection: close"));
    resp_free(&r);

    /* A client that asks first (Expect: 100-continue) gets the 413 instead of the go-ahead;
     * one under the limit gets the go-ahead without curl's one-second wait. */
    request("http", port, "/length",
            &(req_opts_t){.method = "POST", .body = big, .body_len = 8192, .expect_continue = true},
            &r);
    ck_assert_int_eq(r.status, 413);
    resp_free(&r);
    double t0 = util_monotonic();
    request("http", port, "/length",
            &(req_opts_t){.method = "POST", .body = big, .body_len = 3000, .expect_continue = true},
            &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(buf_str(&r.body), "3000");
    ck_assert(has_header(&r, "100 Continue"));
    ck_assert_msg(util_monotonic() - t0 < 0.9, "waited for curl's Expect timeout");
    resp_free(&r);

    /* lws cannot decode chunked uploads: refused rather than misread. */
    request(
        "http", port, "/length",
        &(req_opts_t){.method = "POST", .body = "abc", .headers = {"Transfer-Encoding: chunked"}},
        &r);
    ck_assert_int_eq(r.status, 411);
    resp_free(&r);

    /* The listener still serves after all that. */
    get(port, "/hello", &r);
    ck_assert_int_eq(r.status, 200);
    resp_free(&r);
    free(big);
    server_free(s);
}
END_TEST

START_TEST(test_keep_alive_reuses_the_connection)
{
    server_listener_t *l;
    server_t *s = start_server(plain(), &l);
    int port = server_listener_port(l);
    CURL *h = curl_easy_init();
    resp_t r;
    for (int i = 0; i < 3; i++) {
        perform(h, "http", port, "/hello", NULL, &r);
        ck_assert_int_eq(r.status, 200);
        ck_assert_int_eq(r.new_connections, i == 0 ? 1 : 0);
        resp_free(&r);
        perform(h, "http", port, "/length", &(req_opts_t){.method = "POST", .body = "12345"}, &r);
        ck_assert_str_eq(buf_str(&r.body), "5");
        ck_assert_int_eq(r.new_connections, 0);
        resp_free(&r);
    }
    curl_easy_cleanup(h);
    server_listener_stats_t st = stats_after(l, 6);
    ck_assert_uint_eq(st.accepted, 1);
    ck_assert_uint_eq(st.requests, 6);
    server_free(s);
}
END_TEST

/* ---- timeouts ------------------------------------------------------------------------- */

static int raw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = {.tv_sec = (time_t)PATIENCE};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* Seconds until the server closes fd (read returns 0 or a reset); -1 on our timeout. */
static double seconds_until_closed(int fd, double t0)
{
    char buf[256];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return util_monotonic() - t0;
        if (n < 0)
            return -1;
    }
}

START_TEST(test_slow_client_is_dropped_after_the_header_timeout)
{
    server_listener_t *l;
    server_listener_options_t o = plain();
    o.header_timeout = 1.0;
    server_t *s = start_server(o, &l);
    int port = server_listener_port(l);

    /* Half a request line, then silence. */
    double t0 = util_monotonic();
    int fd = raw_connect(port);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_gt(write(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n", 30), 0);
    double closed_after = seconds_until_closed(fd, t0);
    close(fd);
    ck_assert_msg(closed_after >= 0.95, "dropped too early: %.3f s", closed_after);
    ck_assert_msg(closed_after < 1.0 + PATIENCE / 2, "not dropped: %.3f s", closed_after);

    /* A connection sending nothing at all is dropped the same way. */
    t0 = util_monotonic();
    fd = raw_connect(port);
    closed_after = seconds_until_closed(fd, t0);
    close(fd);
    ck_assert_msg(closed_after >= 0.95 && closed_after < 1.0 + PATIENCE / 2, "%.3f s",
                  closed_after);

    server_listener_stats_t st;
    server_listener_stats(l, &st);
    ck_assert_uint_eq(st.timed_out, 2);
    ck_assert_uint_eq(st.requests, 0);

    /* Meanwhile ordinary clients are served. */
    resp_t r;
    get(port, "/hello", &r);
    ck_assert_int_eq(r.status, 200);
    resp_free(&r);
    server_free(s);
}
END_TEST

typedef struct {
    size_t sent;
    double stall;
} slow_upload_t;

/* Sends 10 bytes, then stalls longer than the body timeout before the other 90. */
static size_t slow_read(char *out, size_t size, size_t n, void *arg)
{
    slow_upload_t *u = arg;
    (void)size;
    (void)n;
    if (u->sent == 10)
        util_sleep(u->stall);
    size_t chunk = u->sent < 10 ? 10 : 90;
    if (u->sent >= 100)
        return 0;
    memset(out, 'b', chunk);
    u->sent += chunk;
    return chunk;
}

START_TEST(test_stalled_upload_is_dropped_after_the_body_timeout)
{
    server_listener_t *l;
    server_listener_options_t o = plain();
    o.body_timeout = 1.0;
    server_t *s = start_server(o, &l);
    slow_upload_t u = {0, 2.5};
    CURL *h = curl_easy_init();
    buf_t body = BUF_INIT;
    struct curl_slist *hdrs = curl_slist_append(NULL, "Expect:");
    set_url(h, "http", server_listener_port(l), "/length");
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 100L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, slow_read);
    curl_easy_setopt(h, CURLOPT_READDATA, &u);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)PATIENCE);
    CURLcode code = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    /* Dropped without an answer: the handler never saw the request. */
    ck_assert_msg(code != CURLE_OK, "upload completed: status %ld body %s", status, buf_str(&body));
    buf_free(&body);
    server_listener_stats_t st;
    server_listener_stats(l, &st);
    ck_assert_uint_eq(st.timed_out, 1);
    ck_assert_uint_eq(st.requests, 0);
    server_free(s);
}
END_TEST

/* ---- concurrency ------------------------------------------------------------------------ */

START_TEST(test_many_concurrent_connections_are_all_served_within_the_limit)
{
    enum { CLIENTS = 48 };
    server_listener_t *l;
    server_listener_options_t o = plain();
    o.max_connections = 6;
    o.workers = 4;
    server_t *s = start_server(o, &l);
    int port = server_listener_port(l);

    CURLM *multi = curl_multi_init();
    CURL *handles[CLIENTS];
    buf_t bodies[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        buf_init(&bodies[i]);
        handles[i] = curl_easy_init();
        set_url(handles[i], "http", port, "/sleep?ms=20");
        curl_easy_setopt(handles[i], CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(handles[i], CURLOPT_WRITEDATA, &bodies[i]);
        curl_easy_setopt(handles[i], CURLOPT_TIMEOUT, (long)PATIENCE * 3);
        curl_easy_setopt(handles[i], CURLOPT_FORBID_REUSE, 1L);
        curl_multi_add_handle(multi, handles[i]);
    }
    int running = 1;
    while (running) {
        curl_multi_perform(multi, &running);
        if (running)
            curl_multi_poll(multi, NULL, 0, 100, NULL);
    }
    int ok = 0;
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(multi, &left)))
        if (msg->msg == CURLMSG_DONE && msg->data.result == CURLE_OK)
            ok++;
    for (int i = 0; i < CLIENTS; i++) {
        long status = 0;
        curl_easy_getinfo(handles[i], CURLINFO_RESPONSE_CODE, &status);
        ck_assert_int_eq(status, 200);
        ck_assert_str_eq(buf_str(&bodies[i]), "slept");
        curl_multi_remove_handle(multi, handles[i]);
        curl_easy_cleanup(handles[i]);
        buf_free(&bodies[i]);
    }
    curl_multi_cleanup(multi);
    ck_assert_int_eq(ok, CLIENTS);

    server_listener_stats_t st = stats_after(l, CLIENTS);
    ck_assert_uint_eq(st.accepted, CLIENTS);
    ck_assert_uint_eq(st.requests, CLIENTS);
    ck_assert_int_le(st.max_active, 6);
    ck_assert_int_ge(st.max_active, 2);
    server_free(s);
}
END_TEST

/* ---- streaming ------------------------------------------------------------------------- */

START_TEST(test_stream_delivers_chunks_pushed_from_another_thread)
{
    server_listener_t *l;
    server_t *s = start_server(plain(), &l);
    stream_client_t c;
    stream_client_start(&c, "http", server_listener_port(l), "/stream", NULL);
    server_stream_t *st = take_stream(0);

    /* Each line must reach the client before the next is written: nothing is held
     * back until the end. */
    for (int i = 0; i < 5; i++) {
        char line[32], want[32];
        snprintf(line, sizeof(line), "line %d\n", i);
        snprintf(want, sizeof(want), "line %d", i);
        ck_assert_int_eq(server_stream_write(st, line, strlen(line)), 0);
        ck_assert_msg(stream_client_wait_for(&c, want), "%s not received", want);
    }
    ck_assert_int_eq(server_stream_printf(st, "%s", "last\n"), 0);
    ck_assert_int_eq(server_stream_write(st, "", 0), 0); /* nothing: no empty chunk */
    ck_assert(!server_stream_is_closed(st));
    server_stream_close(st);
    stream_client_join(&c);
    ck_assert_int_eq(c.resp.code, CURLE_OK);
    ck_assert_int_eq(c.resp.status, 200);
    ck_assert(has_header(&c.resp, "transfer-encoding: chunked"));
    ck_assert(has_header(&c.resp, "x-stream: yes"));
    ck_assert_str_eq(buf_str(&c.received), "line 0\nline 1\nline 2\nline 3\nline 4\nlast\n");
    stream_client_free(&c);
    server_free(s);
}
END_TEST

typedef struct {
    int port;
    const char *path;
    resp_t resp;
    pthread_t thread;
} bg_request_t;

static void *bg_main(void *arg)
{
    bg_request_t *b = arg;
    get(b->port, b->path, &b->resp);
    return NULL;
}

START_TEST(test_long_handlers_and_quiet_streams_are_not_cut)
{
    /* Short timeouts make lws's own backstop timeout short too (3 s): a handler and a
     * quiet stream that take longer must still complete. */
    server_listener_t *l;
    server_listener_options_t o = plain();
    o.header_timeout = o.body_timeout = o.write_timeout = 1;
    server_t *s = start_server(o, &l);
    int port = server_listener_port(l);
    bg_request_t slow = {.port = port, .path = "/sleep?ms=4000"};
    pthread_create(&slow.thread, NULL, bg_main, &slow);
    stream_client_t c;
    stream_client_start(&c, "http", port, "/stream", NULL);
    server_stream_t *st = take_stream(0);
    ck_assert_int_eq(server_stream_write(st, "start\n", 6), 0);
    ck_assert(stream_client_wait_for(&c, "start"));
    util_sleep(4);
    ck_assert_int_eq(server_stream_write(st, "still here\n", 11), 0);
    server_stream_close(st);
    stream_client_join(&c);
    ck_assert_int_eq(c.resp.code, CURLE_OK);
    ck_assert_str_eq(buf_str(&c.received), "start\nstill here\n");
    stream_client_free(&c);
    pthread_join(slow.thread, NULL);
    ck_assert_int_eq(slow.resp.code, CURLE_OK);
    ck_assert_str_eq(buf_str(&slow.resp.body), "slept");
    resp_free(&slow.resp);
    server_listener_stats_t stats;
    server_listener_stats(l, &stats);
    ck_assert_uint_eq(stats.timed_out, 0);
    server_free(s);
}
END_TEST

typedef struct {
    server_stream_t *st;
    size_t total;
    int rc;
} bulk_producer_t;

static void *bulk_produce(void *arg)
{
    bulk_producer_t *p = arg;
    char block[4096];
    for (size_t off = 0; off < p->total && p->rc == 0; off += sizeof(block)) {
        for (size_t i = 0; i < sizeof(block); i++)
            block[i] = (char)('a' + (off + i) % 26);
        p->rc = server_stream_write(p->st, block, sizeof(block));
    }
    server_stream_close(p->st);
    return NULL;
}

START_TEST(test_stream_of_megabytes_arrives_intact_through_backpressure)
{
    server_listener_t *l;
    server_listener_options_t o = plain();
    o.stream_buffer_bytes = 16 * 1024; /* the producer must wait for the socket */
    server_t *s = start_server(o, &l);
    stream_client_t c;
    stream_client_start(&c, "http", server_listener_port(l), "/stream", NULL);
    bulk_producer_t p = {take_stream(0), 2 * 1024 * 1024, 0};
    pthread_t producer;
    pthread_create(&producer, NULL, bulk_produce, &p);
    pthread_join(producer, NULL);
    stream_client_join(&c);
    ck_assert_int_eq(p.rc, 0);
    ck_assert_int_eq(c.resp.code, CURLE_OK);
    ck_assert_uint_eq(c.received.len, p.total);
    for (size_t i = 0; i < p.total; i++)
        if (c.received.data[i] != (char)('a' + i % 26))
            ck_abort_msg("byte %zu differs", i);
    stream_client_free(&c);
    server_free(s);
}
END_TEST

START_TEST(test_stream_writes_fail_once_the_client_is_gone)
{
    server_listener_t *l;
    server_t *s = start_server(plain(), &l);
    stream_client_t c;
    stream_client_start(&c, "http", server_listener_port(l), "/stream", NULL);
    atomic_store(&c.abort_after_first, true);
    server_stream_t *st = take_stream(0);
    ck_assert_int_eq(server_stream_write(st, "first\n", 6), 0);
    stream_client_join(&c); /* curl aborts on the first data */
    ck_assert_int_eq(c.resp.code, CURLE_WRITE_ERROR);
    double deadline = util_monotonic() + PATIENCE;
    int rc = 0;
    while (rc == 0 && util_monotonic() < deadline) {
        rc = server_stream_write(st, "more\n", 5);
        util_sleep(0.01);
    }
    ck_assert_int_eq(rc, -1);
    ck_assert(server_stream_is_closed(st));
    server_stream_close(st);
    stream_client_free(&c);
    server_free(s);
}
END_TEST

/* ---- TLS --------------------------------------------------------------------------------- */

static void make_cert(const char *name)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout %s/%s.key -out %s/%s.crt -days 1 -subj /CN=%s "
             "-addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
             cert_dir, name, cert_dir, name, name);
    ck_assert_int_eq(system(cmd), 0);
}

static char *cert_path(const char *name, const char *ext)
{
    return util_asprintf("%s/%s.%s", cert_dir, name, ext);
}

START_TEST(test_tls_reload_serves_new_certificate_while_old_stream_continues)
{
    make_cert("cert-a");
    make_cert("cert-b");
    char *a_crt = cert_path("cert-a", "crt"), *a_key = cert_path("cert-a", "key");
    char *b_crt = cert_path("cert-b", "crt"), *b_key = cert_path("cert-b", "key");

    box_reset();
    server_t *s = server_new(NULL);
    server_listener_options_t o = plain();
    o.name = "webhook";
    o.tls = &(server_tls_t){.cert_file = a_crt, .key_file = a_key};
    server_listener_t *l = server_add_listener(s, &o);
    ck_assert_ptr_nonnull(l);
    add_test_routes(l);
    ck_assert_int_eq(server_start(s), 0);
    int port = server_listener_port(l);
    resp_t r;

    request("https", port, "/echo", &(req_opts_t){.cainfo = a_crt}, &r);
    ck_assert_int_eq(r.code, CURLE_OK);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.subject, "cert-a"));
    ck_assert_ptr_nonnull(strstr(buf_str(&r.body), "\"tls\":true"));
    resp_free(&r);

    /* A stream opened on certificate A ... */
    stream_client_t c;
    stream_client_start(&c, "https", port, "/stream", a_crt);
    server_stream_t *st = take_stream(0);
    ck_assert_int_eq(server_stream_write(st, "before reload\n", 14), 0);
    ck_assert(stream_client_wait_for(&c, "before reload"));

    /* ... survives the switch to B, given as PEM text this time. */
    char *b_crt_pem = util_read_file(b_crt, NULL), *b_key_pem = util_read_file(b_key, NULL);
    ck_assert_int_eq(
        server_reload_tls(l, &(server_tls_t){.cert_pem = b_crt_pem, .key_pem = b_key_pem}), 0);
    request("https", port, "/hello", &(req_opts_t){.cainfo = b_crt}, &r);
    ck_assert_int_eq(r.code, CURLE_OK);
    ck_assert_ptr_nonnull(strstr(r.subject, "cert-b"));
    resp_free(&r);
    request("https", port, "/hello", &(req_opts_t){.cainfo = a_crt}, &r);
    ck_assert_int_eq(r.code, CURLE_PEER_FAILED_VERIFICATION);
    resp_free(&r);

    ck_assert_int_eq(server_stream_write(st, "after reload\n", 13), 0);
    server_stream_close(st);
    stream_client_join(&c);
    ck_assert_int_eq(c.resp.code, CURLE_OK);
    ck_assert_str_eq(buf_str(&c.received), "before reload\nafter reload\n");
    ck_assert_ptr_nonnull(strstr(c.resp.subject, "cert-a"));
    stream_client_free(&c);

    /* A pair that does not load is refused and B stays. */
    ck_assert_int_eq(
        server_reload_tls(l, &(server_tls_t){.cert_pem = "garbage", .key_pem = b_key_pem}), -1);
    ck_assert_int_eq(server_reload_tls(l, &(server_tls_t){.cert_file = a_crt, .key_file = b_key}),
                     -1);
    ck_assert_int_eq(
        server_reload_tls(l, &(server_tls_t){.cert_file = "/nonexistent", .key_file = b_key}), -1);
    request("https", port, "/hello", &(req_opts_t){.cainfo = b_crt}, &r);
    ck_assert_int_eq(r.code, CURLE_OK);
    resp_free(&r);

    /* And back to A by file. */
    ck_assert_int_eq(server_reload_tls(l, &(server_tls_t){.cert_file = a_crt, .key_file = a_key}),
                     0);
    request("https", port, "/hello", &(req_opts_t){.cainfo = a_crt}, &r);
    ck_assert_int_eq(r.code, CURLE_OK);
    ck_assert_ptr_nonnull(strstr(r.subject, "cert-a"));
    resp_free(&r);
    server_listener_stats_t stats;
    server_listener_stats(l, &stats);
    ck_assert_int_eq(stats.tls_generation, 3);

    server_free(s);
    free(b_crt_pem);
    free(b_key_pem);
    free(a_crt);
    free(a_key);
    free(b_crt);
    free(b_key);
}
END_TEST

START_TEST(test_tls_listener_refuses_bad_material_at_setup)
{
    make_cert("cert-c");
    char *crt = cert_path("cert-c", "crt");
    server_t *s = server_new(NULL);
    server_listener_options_t o = plain();
    o.tls = &(server_tls_t){.cert_file = crt, .key_file = crt}; /* no key in there */
    ck_assert_ptr_null(server_add_listener(s, &o));
    o.tls = &(server_tls_t){.cert_file = crt};
    ck_assert_ptr_null(server_add_listener(s, &o));
    server_free(s);
    free(crt);
}
END_TEST

/* ---- probes and metrics ----------------------------------------------------------------- */

static atomic_bool caches_synced;

static bool ready_when_synced(void *data, buf_t *reason)
{
    (void)data;
    if (atomic_load(&caches_synced))
        return true;
    buf_puts(reason, "caches not synced");
    return false;
}

START_TEST(test_probes_and_metrics_endpoints)
{
    metrics_registry_t *reg = metrics_registry_new();
    metrics_family_t *active =
        metrics_gauge_new(reg, "s2i_s2irun_active", "Active runs.", METRICS_LABELS("namespace"));
    metrics_gauge_set(active, METRICS_LABELS("ns1"), 2);
    server_t *s = server_new(&(server_options_t){.metrics = reg});
    server_listener_options_t o = plain();
    o.name = "probes";
    server_listener_t *l = server_add_listener(s, &o);
    ck_assert_int_eq(server_add_health_probes(l, ready_when_synced, NULL), 0);
    ck_assert_int_eq(server_add_metrics(l, reg), 0);
    ck_assert_int_eq(server_start(s), 0);
    int port = server_listener_port(l);
    resp_t r;

    atomic_store(&caches_synced, false);
    get(port, "/healthz", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(buf_str(&r.body), "ok\n");
    resp_free(&r);
    get(port, "/readyz", &r);
    ck_assert_int_eq(r.status, 503);
    ck_assert_str_eq(buf_str(&r.body), "not ready: caches not synced\n");
    resp_free(&r);
    atomic_store(&caches_synced, true);
    get(port, "/readyz/", &r);
    ck_assert_int_eq(r.status, 200);
    resp_free(&r);

    get(port, "/metrics", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert(has_header(&r, "content-type: text/plain; version=0.0.4; charset=utf-8"));
    const char *text = buf_str(&r.body);
    ck_assert_ptr_nonnull(strstr(text, "s2i_s2irun_active{namespace=\"ns1\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(
        text, "s2i_http_requests_total{listener=\"probes\",method=\"GET\",code=\"503\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(
        text, "s2i_http_requests_total{listener=\"probes\",method=\"GET\",code=\"200\"} 2\n"));
    /* This connection at least (earlier ones may not have been seen closing yet). */
    const char *conns = strstr(text, "s2i_http_connections{listener=\"probes\"} ");
    ck_assert_ptr_nonnull(conns);
    ck_assert_int_ge(atoi(conns + strlen("s2i_http_connections{listener=\"probes\"} ")), 1);
    ck_assert_ptr_nonnull(
        strstr(text, "s2i_http_request_duration_seconds_count{listener=\"probes\"} 3\n"));
    resp_free(&r);
    server_free(s);
    metrics_registry_free(reg);
}
END_TEST

START_TEST(test_bind_errors_fail_start)
{
    server_t *a = server_new(NULL);
    server_listener_options_t o = plain();
    server_listener_t *la = server_add_listener(a, &o);
    server_route(la, "GET", "/hello", 0, hello, NULL);
    ck_assert_int_eq(server_start(a), 0);
    ck_assert_int_eq(server_start(a), -1);

    /* The same port again. */
    char addr[32];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", server_listener_port(la));
    server_t *b = server_new(NULL);
    server_add_listener(b, &(server_listener_options_t){.address = addr});
    ck_assert_int_eq(server_start(b), -1);
    server_free(b);

    const char *bad[] = {"nonsense", "127.0.0.1", ":99999", "[::1:80", "1.2.3.4:x", "a:b:1"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++) {
        server_t *c = server_new(NULL);
        server_add_listener(c, &(server_listener_options_t){.address = bad[i]});
        ck_assert_msg(server_start(c) == -1, "%s accepted", bad[i]);
        server_free(c);
    }

    /* ":0" binds every interface. */
    server_t *d = server_new(NULL);
    server_listener_t *ld = server_add_listener(d, &(server_listener_options_t){.address = ":0"});
    server_route(ld, "GET", "/hello", 0, hello, NULL);
    ck_assert_int_eq(server_start(d), 0);
    resp_t r;
    get(server_listener_port(ld), "/hello", &r);
    ck_assert_int_eq(r.status, 200);
    resp_free(&r);
    server_free(d);
    server_free(a);
}
END_TEST

/* ---- shutdown -------------------------------------------------------------------------- */

START_TEST(test_shutdown_ends_open_stream_and_finishes_requests_in_flight)
{
    server_listener_t *l;
    server_t *s = start_server(plain(), &l);
    int port = server_listener_port(l);

    stream_client_t c;
    stream_client_start(&c, "http", port, "/stream", NULL);
    server_stream_t *st = take_stream(0);
    ck_assert_int_eq(server_stream_write(st, "building...\n", 12), 0);
    ck_assert(stream_client_wait_for(&c, "building"));

    bg_request_t slow = {.port = port, .path = "/sleep?ms=400"};
    pthread_create(&slow.thread, NULL, bg_main, &slow);
    util_sleep(0.15); /* the request is in its handler */

    double t0 = util_monotonic();
    server_stop(s, 5);
    double took = util_monotonic() - t0;
    ck_assert_msg(took < 4, "stop took %.2f s", took);

    /* The stream ended cleanly with what was sent; the producer learns on its next write. */
    stream_client_join(&c);
    ck_assert_int_eq(c.resp.code, CURLE_OK);
    ck_assert_str_eq(buf_str(&c.received), "building...\n");
    ck_assert_int_eq(server_stream_write(st, "more\n", 5), -1);
    ck_assert(server_stream_is_closed(st));
    stream_client_free(&c);

    /* The handler in flight finished and was answered. */
    pthread_join(slow.thread, NULL);
    ck_assert_int_eq(slow.resp.code, CURLE_OK);
    ck_assert_int_eq(slow.resp.status, 200);
    ck_assert_str_eq(buf_str(&slow.resp.body), "slept");
    ck_assert(has_header(&slow.resp, "connection: close"));
    resp_free(&slow.resp);

    /* Nobody listens any more. */
    int fd = raw_connect(port);
    ck_assert_int_eq(fd, -1);

    server_free(s);
    /* A handle released after the server is gone is fine. */
    server_stream_close(st);
}
END_TEST

START_TEST(test_shutdown_grace_is_bounded)
{
    server_listener_t *l;
    server_t *s = start_server(plain(), &l);
    int port = server_listener_port(l);
    bg_request_t slow = {.port = port, .path = "/sleep?ms=1500"};
    pthread_create(&slow.thread, NULL, bg_main, &slow);
    /* An idle keep-alive connection is closed at once. */
    int idle = raw_connect(port);
    ck_assert_int_ge(idle, 0);
    util_sleep(0.2);

    double t0 = util_monotonic();
    server_stop(s, 0.3);
    double took = util_monotonic() - t0;
    ck_assert_msg(took >= 0.25 && took < 1.2, "stop took %.2f s", took);
    ck_assert_double_ge(seconds_until_closed(idle, t0), 0);
    close(idle);

    pthread_join(slow.thread, NULL);
    ck_assert_int_ne(slow.resp.code, CURLE_OK); /* dropped at the deadline */
    resp_free(&slow.resp);
    server_stop(s, 1); /* idempotent */
    server_free(s);    /* waits for the sleeping handler */
}
END_TEST

/* ---- suite --------------------------------------------------------------------------------- */

static Suite *server_suite(void)
{
    Suite *s = suite_create("server");
    TCase *tc = tcase_create("http");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_routes_match_and_unknown_paths_get_404_or_405);
    tcase_add_test(tc, test_route_patterns_are_validated);
    tcase_add_test(tc, test_query_headers_and_remote_address_reach_the_handler);
    tcase_add_test(tc, test_json_body_is_echoed);
    tcase_add_test(tc, test_body_over_the_limit_gets_413);
    tcase_add_test(tc, test_keep_alive_reuses_the_connection);
    tcase_add_test(tc, test_slow_client_is_dropped_after_the_header_timeout);
    tcase_add_test(tc, test_stalled_upload_is_dropped_after_the_body_timeout);
    tcase_add_test(tc, test_many_concurrent_connections_are_all_served_within_the_limit);
    tcase_add_test(tc, test_stream_delivers_chunks_pushed_from_another_thread);
    tcase_add_test(tc, test_long_handlers_and_quiet_streams_are_not_cut);
    tcase_add_test(tc, test_stream_of_megabytes_arrives_intact_through_backpressure);
    tcase_add_test(tc, test_stream_writes_fail_once_the_client_is_gone);
    tcase_add_test(tc, test_tls_reload_serves_new_certificate_while_old_stream_continues);
    tcase_add_test(tc, test_tls_listener_refuses_bad_material_at_setup);
    tcase_add_test(tc, test_probes_and_metrics_endpoints);
    tcase_add_test(tc, test_bind_errors_fail_start);
    tcase_add_test(tc, test_shutdown_ends_open_stream_and_finishes_requests_in_flight);
    tcase_add_test(tc, test_shutdown_grace_is_bounded);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    snprintf(cert_dir, sizeof(cert_dir), "/tmp/test_server.XXXXXX");
    if (!mkdtemp(cert_dir)) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    SRunner *sr = srunner_create(server_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    curl_global_cleanup();
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", cert_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", cert_dir);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

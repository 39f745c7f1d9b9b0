/* Unit tests for the REST client (pkg/kube/client.c, paths.c, ratelimit.c): paths and
 * query strings, the token bucket, and the client's behaviour against a scripted HTTP
 * server running in the test (retries, auth refresh, errors, watch streaming and stop). */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kube/kube.h"

static const kube_resource_t pods = {"", "v1", "pods", true};
static const kube_resource_t jobs = {"batch", "v1", "jobs", true};
static const kube_resource_t nodes = {"", "v1", "nodes", false};
static const kube_resource_t crds = {"apiextensions.k8s.io", "v1", "customresourcedefinitions",
                                     false};

/* ---- paths and queries -------------------------------------------------------- */

static char *path_of(const kube_resource_t *r, const char *ns, const char *name, const char *sub)
{
    buf_t b = BUF_INIT;
    if (kube_resource_path(&b, r, ns, name, sub) < 0) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

#define ck_assert_path(expected, ...)                                                              \
    do {                                                                                           \
        char *p_ = path_of(__VA_ARGS__);                                                           \
        ck_assert_ptr_nonnull(p_);                                                                 \
        ck_assert_str_eq(p_, expected);                                                            \
        free(p_);                                                                                  \
    } while (0)

START_TEST(test_paths_for_core_group_and_named_groups)
{
    ck_assert_path("/api/v1/namespaces/ns/pods/name", &pods, "ns", "name", NULL);
    ck_assert_path("/api/v1/namespaces/ns/pods", &pods, "ns", NULL, NULL);
    ck_assert_path("/api/v1/pods", &pods, NULL, NULL, NULL);
    ck_assert_path("/api/v1/pods", &pods, "", NULL, NULL);
    ck_assert_path("/apis/batch/v1/namespaces/ns/jobs/name", &jobs, "ns", "name", NULL);
    ck_assert_path("/apis/batch/v1/namespaces/ns/jobs/name/status", &jobs, "ns", "name", "status");
    ck_assert_path("/api/v1/nodes/n1", &nodes, NULL, "n1", NULL);
    ck_assert_path("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/a.b.io", &crds, NULL,
                   "a.b.io", NULL);
    ck_assert_path("/api/v1/namespaces/ns/pods/p/log", &pods, "ns", "p", "log");
}
END_TEST

START_TEST(test_paths_escape_segments_and_reject_incomplete_input)
{
    ck_assert_path("/api/v1/namespaces/a%2Fb/pods/x%20y%3F%23", &pods, "a/b", "x y?#", NULL);
    ck_assert_ptr_null(path_of(&pods, "ns", NULL, "status"));
    kube_resource_t no_plural = {"", "v1", "", true};
    ck_assert_ptr_null(path_of(&no_plural, "ns", "x", NULL));
    ck_assert_ptr_null(path_of(NULL, "ns", "x", NULL));
}
END_TEST

START_TEST(test_list_query_escapes_selectors)
{
    buf_t b = BUF_INIT;
    ck_assert_int_eq(kube_list_query(&b, NULL), 0);
    ck_assert_str_eq(buf_str(&b), "");
    kube_list_options_t empty = {0};
    ck_assert_int_eq(kube_list_query(&b, &empty), 0);
    ck_assert_str_eq(buf_str(&b), "");
    kube_list_options_t o = {
        .label_selector = "app=web,tier in (a,b),!canary",
        .field_selector = "metadata.name=g1,status.phase!=Running",
        .limit = 500,
        .continue_token = "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTIsInN0YXJ0IjoiZzJcdTAwMDAifQ==",
        .resource_version = "0",
        .resource_version_match = "NotOlderThan",
    };
    ck_assert_int_eq(kube_list_query(&b, &o), 0);
    ck_assert_str_eq(buf_str(&b),
                     "?labelSelector=app%3Dweb%2Ctier%20in%20%28a%2Cb%29%2C%21canary"
                     "&fieldSelector=metadata.name%3Dg1%2Cstatus.phase%21%3DRunning"
                     "&limit=500"
                     "&continue=eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTIsInN0YXJ0IjoiZzJcdTAwMDAifQ%"
                     "3D%3D"
                     "&resourceVersion=0&resourceVersionMatch=NotOlderThan");
    buf_free(&b);
}
END_TEST

START_TEST(test_watch_and_write_queries)
{
    buf_t b = BUF_INIT;
    ck_assert_int_eq(kube_watch_query(&b, NULL), 0);
    ck_assert_str_eq(buf_str(&b), "?watch=1");
    buf_reset(&b);
    kube_watch_options_t w = {.resource_version = "218",
                              .label_selector = "a=b",
                              .allow_watch_bookmarks = true,
                              .timeout_seconds = 300};
    kube_watch_query(&b, &w);
    ck_assert_str_eq(buf_str(&b), "?watch=1&resourceVersion=218&labelSelector=a%3Db"
                                  "&allowWatchBookmarks=true&timeoutSeconds=300");
    buf_reset(&b);
    kube_write_query(&b, true, "s2i-operator", true);
    ck_assert_str_eq(buf_str(&b), "?dryRun=All&fieldManager=s2i-operator&force=true");
    buf_reset(&b);
    kube_write_query(&b, false, NULL, false);
    ck_assert_str_eq(buf_str(&b), "");
    buf_free(&b);
}
END_TEST

/* ---- token bucket ----------------------------------------------------------------- */

START_TEST(test_token_bucket_allows_burst_then_paces_at_qps)
{
    kube_token_bucket_t tb;
    kube_token_bucket_init(&tb, 5, 10);
    double t0 = tb.last;
    for (int i = 0; i < 10; i++)
        ck_assert(kube_token_bucket_reserve(&tb, t0) == 0);
    /* The 11th waits one token (0.2 s), the 12th two: callers queue up. */
    ck_assert_double_eq_tol(kube_token_bucket_reserve(&tb, t0), 0.2, 1e-9);
    ck_assert_double_eq_tol(kube_token_bucket_reserve(&tb, t0), 0.4, 1e-9);
    /* A second later 5 tokens came back, 2 of them owed: 3 free, then waits again. */
    for (int i = 0; i < 3; i++)
        ck_assert_double_eq_tol(kube_token_bucket_reserve(&tb, t0 + 1), 0, 1e-9);
    ck_assert_double_eq_tol(kube_token_bucket_reserve(&tb, t0 + 1), 0.2, 1e-9);
    /* Idle for a minute: the bucket holds at most burst tokens. */
    for (int i = 0; i < 10; i++)
        ck_assert(kube_token_bucket_reserve(&tb, t0 + 61) == 0);
    ck_assert(kube_token_bucket_reserve(&tb, t0 + 61) > 0);
    /* Time going backwards (another thread's older clock reading) does not refill. */
    ck_assert(kube_token_bucket_reserve(&tb, t0) > 0);
    kube_token_bucket_destroy(&tb);
}
END_TEST

START_TEST(test_token_bucket_unlimited_and_minimum_burst)
{
    kube_token_bucket_t tb;
    kube_token_bucket_init(&tb, 0, 0);
    for (int i = 0; i < 1000; i++)
        ck_assert(kube_token_bucket_reserve(&tb, 0) == 0);
    kube_token_bucket_destroy(&tb);
    kube_token_bucket_init(&tb, 2, 0);
    ck_assert(kube_token_bucket_reserve(&tb, tb.last) == 0);
    ck_assert_double_eq_tol(kube_token_bucket_reserve(&tb, tb.last), 0.5, 1e-9);
    kube_token_bucket_destroy(&tb);
}
END_TEST

/* ---- a scripted HTTP server ------------------------------------------------------- */

#define MAX_CONNS 64

typedef struct fake_request {
    char method[16];
    char target[1024];
    char authorization[256];
    char user_agent[128];
    char content_type[128];
    char accept[128];
    buf_t body;
} fake_request_t;

typedef struct fake_server fake_server_t;
/* Writes the answer to fd; returns false to close the connection afterwards. */
typedef bool (*fake_handler_t)(fake_server_t *s, int n, const fake_request_t *req, int fd);

struct fake_server {
    int listen_fd;
    int port;
    fake_handler_t handler;
    pthread_t acceptor;
    pthread_mutex_t lock;
    pthread_t conn_threads[MAX_CONNS];
    int conn_fds[MAX_CONNS];
    int conns;
    int requests;
    fake_request_t log[64]; /* the first 64 requests */
    atomic_bool stopping;
};

typedef struct conn_arg {
    fake_server_t *s;
    int fd;
} conn_arg_t;

static void write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        data += n;
        len -= (size_t)n;
    }
}

static void respond(int fd, int code, const char *extra_headers, const char *body)
{
    buf_t b = BUF_INIT;
    buf_printf(&b, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n%s", code, strlen(body),
               extra_headers ? extra_headers : "", body);
    write_all(fd, b.data, b.len);
    buf_free(&b);
}

static void header_value(const char *headers, const char *name, char *out, size_t len)
{
    out[0] = '\0';
    size_t n = strlen(name);
    for (const char *p = headers; p && *p; p = strstr(p, "\r\n") ? strstr(p, "\r\n") + 2 : NULL) {
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            const char *end = strstr(v, "\r\n");
            size_t vlen = end ? (size_t)(end - v) : strlen(v);
            if (vlen >= len)
                vlen = len - 1;
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return;
        }
    }
}

/* Reads one request; false at EOF or on a malformed request. */
static bool read_request(int fd, buf_t *in, fake_request_t *req)
{
    char *end;
    while (!(end = in->data ? strstr(in->data, "\r\n\r\n") : NULL)) {
        char chunk[4096];
        ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
        if (n <= 0)
            return false;
        buf_append(in, chunk, (size_t)n);
    }
    size_t head_len = (size_t)(end - in->data) + 4;
    *end = '\0';
    if (sscanf(in->data, "%15s %1023s", req->method, req->target) != 2)
        return false;
    char length[32];
    header_value(in->data, "Authorization", req->authorization, sizeof(req->authorization));
    header_value(in->data, "User-Agent", req->user_agent, sizeof(req->user_agent));
    header_value(in->data, "Content-Type", req->content_type, sizeof(req->content_type));
    header_value(in->data, "Accept", req->accept, sizeof(req->accept));
    header_value(in->data, "Content-Length", length, sizeof(length));
    size_t body_len = (size_t)strtoul(length, NULL, 10);
    while (in->len < head_len + body_len) {
        char chunk[4096];
        ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
        if (n <= 0)
            return false;
        buf_append(in, chunk, (size_t)n);
    }
    buf_init(&req->body);
    buf_append(&req->body, in->data + head_len, body_len);
    buf_consume(in, head_len + body_len);
    return true;
}

static void *serve_connection(void *p)
{
    conn_arg_t *arg = p;
    fake_server_t *s = arg->s;
    int fd = arg->fd;
    free(arg);
    buf_t in = BUF_INIT;
    for (;;) {
        fake_request_t req = {0};
        if (!read_request(fd, &in, &req)) {
            buf_free(&req.body);
            break;
        }
        pthread_mutex_lock(&s->lock);
        int n = s->requests++;
        if (n < (int)UTIL_ARRAY_LEN(s->log)) {
            s->log[n] = req;
            buf_init(&s->log[n].body);
            buf_append(&s->log[n].body, req.body.data ? req.body.data : "", req.body.len);
        }
        pthread_mutex_unlock(&s->lock);
        bool keep = s->handler(s, n, &req, fd);
        buf_free(&req.body);
        if (!keep)
            break;
    }
    buf_free(&in);
    shutdown(fd, SHUT_RDWR);
    return NULL;
}

static void *accept_loop(void *p)
{
    fake_server_t *s = p;
    for (;;) {
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            return NULL;
        }
        pthread_mutex_lock(&s->lock);
        if (atomic_load(&s->stopping) || s->conns == MAX_CONNS) {
            pthread_mutex_unlock(&s->lock);
            close(fd);
            continue;
        }
        conn_arg_t *arg = malloc(sizeof(*arg));
        arg->s = s;
        arg->fd = fd;
        s->conn_fds[s->conns] = fd;
        pthread_create(&s->conn_threads[s->conns], NULL, serve_connection, arg);
        s->conns++;
        pthread_mutex_unlock(&s->lock);
    }
}

static fake_server_t *fake_start(fake_handler_t handler)
{
    fake_server_t *s = calloc(1, sizeof(*s));
    s->handler = handler;
    pthread_mutex_init(&s->lock, NULL);
    s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    ck_assert_int_eq(listen(s->listen_fd, 64), 0);
    socklen_t len = sizeof(addr);
    getsockname(s->listen_fd, (struct sockaddr *)&addr, &len);
    s->port = ntohs(addr.sin_port);
    pthread_create(&s->acceptor, NULL, accept_loop, s);
    return s;
}

static void fake_stop(fake_server_t *s)
{
    atomic_store(&s->stopping, true);
    shutdown(s->listen_fd, SHUT_RDWR);
    pthread_join(s->acceptor, NULL);
    close(s->listen_fd);
    pthread_mutex_lock(&s->lock);
    int conns = s->conns;
    for (int i = 0; i < conns; i++)
        shutdown(s->conn_fds[i], SHUT_RDWR);
    pthread_mutex_unlock(&s->lock);
    for (int i = 0; i < conns; i++) {
        pthread_join(s->conn_threads[i], NULL);
        close(s->conn_fds[i]);
    }
    for (int i = 0; i < s->requests && i < (int)UTIL_ARRAY_LEN(s->log); i++)
        buf_free(&s->log[i].body);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* A kubeconfig for the fake server in a temporary directory. */
typedef struct env {
    char dir[64];
    char path[128];
    kube_config_t *config;
    kube_client_t *client;
    fake_server_t *server;
} env_t;

static void env_write_kubeconfig(env_t *e, const char *server, const char *extra_cluster)
{
    FILE *f = fopen(e->path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: %s\n%s"
            "contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n"
            "current-context: c\nusers:\n- name: u\n  user:\n    token: secret-token\n",
            server, extra_cluster ? extra_cluster : "");
    fclose(f);
}

static void env_open(env_t *e, fake_handler_t handler, const kube_client_options_t *opts)
{
    memset(e, 0, sizeof(*e));
    strcpy(e->dir, "/tmp/test_kube_client.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(e->dir));
    snprintf(e->path, sizeof(e->path), "%s/kubeconfig", e->dir);
    e->server = fake_start(handler);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", e->server->port);
    env_write_kubeconfig(e, url, NULL);
    char *err = NULL;
    if (kube_config_load_file(e->path, NULL, &e->config, &err) < 0)
        ck_abort_msg("kubeconfig: %s", err);
    kube_client_options_t defaults;
    kube_client_options_default(&defaults);
    defaults.qps = 0;
    if (kube_client_new(e->config, opts ? opts : &defaults, &e->client, &err) < 0)
        ck_abort_msg("client: %s", err);
}

static void env_close(env_t *e)
{
    kube_client_free(e->client);
    fake_stop(e->server);
    kube_config_free(e->config);
    unlink(e->path);
    rmdir(e->dir);
}

static const char pod_json[] =
    "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\","
    "\"resourceVersion\":\"5\"}}";

static const char not_found_json[] =
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
    "\"message\":\"pods \\\"p\\\" not found\",\"reason\":\"NotFound\",\"details\":{\"name\":"
    "\"p\",\"kind\":\"pods\"},\"code\":404}";

/* ---- client against the scripted server ----------------------------------------- */

static bool answer_pod(fake_server_t *s, int n, const fake_request_t *req, int fd)
{
    (void)s;
    (void)n;
    if (strstr(req->target, "/missing"))
        respond(fd, 404, "Content-Type: application/json\r\n", not_found_json);
    else
        respond(fd, strcmp(req->method, "POST") == 0 ? 201 : 200,
                "Content-Type: application/json\r\n", pod_json);
    return true;
}

START_TEST(test_client_sends_identity_auth_and_json_headers)
{
    env_t e;
    env_open(&e, answer_pod, NULL);
    kube_result_t r = KUBE_RESULT_INIT;
    ck_assert_int_eq(kube_get(e.client, &pods, "ns", "p", &r), KUBE_OK);
    ck_assert_int_eq(r.http_code, 200);
    ck_assert_str_eq(json_object_get_string(json_object_object_get(r.body, "kind")), "Pod");
    const fake_request_t *req = &e.server->log[0];
    ck_assert_str_eq(req->method, "GET");
    ck_assert_str_eq(req->target, "/api/v1/namespaces/ns/pods/p");
    ck_assert_str_eq(req->authorization, "Bearer secret-token");
    ck_assert_str_eq(req->user_agent, "s2i-operator/" S2I_VERSION);
    ck_assert_str_eq(req->accept, "application/json");

    ck_assert_int_eq(kube_get(e.client, &pods, "ns", "missing", &r), KUBE_ERR_NOT_FOUND);
    ck_assert_str_eq(r.message, "pods \"p\" not found");
    kube_result_clear(&r);
    env_close(&e);
}
END_TEST

START_TEST(test_client_reuses_its_connection)
{
    env_t e;
    env_open(&e, answer_pod, NULL);
    kube_result_t r = KUBE_RESULT_INIT;
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(kube_get(e.client, &pods, "ns", "p", &r), KUBE_OK);
    kube_result_clear(&r);
    ck_assert_int_eq(e.server->requests, 10);
    ck_assert_int_eq(e.server->conns, 1);
    env_close(&e);
}
END_TEST

START_TEST(test_client_writes_use_the_right_verbs_paths_and_bodies)
{
    env_t e;
    env_open(&e, answer_pod, NULL);
    kube_result_t r = KUBE_RESULT_INIT;
    json_object *pod = json_tokener_parse(pod_json);
    kube_write_options_t wo = {.dry_run = true, .field_manager = "s2i-operator"};

    ck_assert_int_eq(kube_create(e.client, &pods, NULL, pod, &wo, &r), KUBE_OK);
    ck_assert_int_eq(r.http_code, 201);
    ck_assert_int_eq(kube_update(e.client, &pods, NULL, pod, NULL, &r), KUBE_OK);
    ck_assert_int_eq(kube_update_status(e.client, &pods, "ns", pod, NULL, &r), KUBE_OK);
    static const kube_patch_type_t types[] = {KUBE_PATCH_MERGE, KUBE_PATCH_JSON,
                                              KUBE_PATCH_STRATEGIC, KUBE_PATCH_APPLY};
    kube_patch_options_t po = {.field_manager = "s2i-operator", .force = true};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(types); i++)
        ck_assert_int_eq(kube_patch(e.client, &jobs, "ns", "j", i == 1 ? "status" : NULL, types[i],
                                    "{\"metadata\":{\"labels\":{\"a\":\"b\"}}}", &po, &r),
                         KUBE_OK);
    kube_delete_options_t dopts = KUBE_DELETE_OPTIONS_INIT;
    dopts.propagation_policy = "Foreground";
    dopts.precondition_uid = "1234-uid";
    dopts.precondition_resource_version = "7";
    ck_assert_int_eq(kube_delete(e.client, &pods, "ns", "p", &dopts, &r), KUBE_OK);
    ck_assert_int_eq(kube_delete(e.client, &nodes, NULL, "n1", NULL, &r), KUBE_OK);
    kube_list_options_t lo = {.label_selector = "app=web", .limit = 2};
    ck_assert_int_eq(kube_list(e.client, &pods, NULL, &lo, &r), KUBE_OK);

    const fake_request_t *log = e.server->log;
    ck_assert_str_eq(log[0].method, "POST");
    ck_assert_str_eq(log[0].target,
                     "/api/v1/namespaces/ns/pods?dryRun=All&fieldManager=s2i-operator");
    ck_assert_str_eq(log[0].content_type, "application/json");
    json_object *sent = json_tokener_parse(buf_str(&log[0].body));
    ck_assert(json_object_equal(sent, pod));
    json_object_put(sent);
    ck_assert_str_eq(log[1].method, "PUT");
    ck_assert_str_eq(log[1].target, "/api/v1/namespaces/ns/pods/p");
    ck_assert_str_eq(log[2].target, "/api/v1/namespaces/ns/pods/p/status");
    static const char *const content_types[] = {
        "application/merge-patch+json", "application/json-patch+json",
        "application/strategic-merge-patch+json", "application/apply-patch+yaml"};
    for (int i = 0; i < 4; i++) {
        ck_assert_str_eq(log[3 + i].method, "PATCH");
        ck_assert_str_eq(log[3 + i].content_type, content_types[i]);
        ck_assert_str_eq(buf_str(&log[3 + i].body), "{\"metadata\":{\"labels\":{\"a\":\"b\"}}}");
    }
    ck_assert_str_eq(log[3].target,
                     "/apis/batch/v1/namespaces/ns/jobs/j?fieldManager=s2i-operator");
    ck_assert_str_eq(log[4].target,
                     "/apis/batch/v1/namespaces/ns/jobs/j/status?fieldManager=s2i-operator");
    ck_assert_str_eq(log[6].target,
                     "/apis/batch/v1/namespaces/ns/jobs/j?fieldManager=s2i-operator&force=true");
    ck_assert_str_eq(log[7].method, "DELETE");
    ck_assert_str_eq(log[7].content_type, "application/json");
    ck_assert_str_eq(buf_str(&log[7].body),
                     "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"propagationPolicy\":"
                     "\"Foreground\",\"preconditions\":{\"uid\":\"1234-uid\",\"resourceVersion\":"
                     "\"7\"}}");
    ck_assert_str_eq(log[8].method, "DELETE");
    ck_assert_str_eq(log[8].target, "/api/v1/nodes/n1");
    ck_assert_uint_eq(log[8].body.len, 0);
    ck_assert_str_eq(log[9].target, "/api/v1/pods?labelSelector=app%3Dweb&limit=2");
    json_object_put(pod);
    kube_result_clear(&r);
    env_close(&e);
}
END_TEST

START_TEST(test_client_refuses_requests_missing_name_or_namespace)
{
    env_t e;
    env_open(&e, answer_pod, NULL);
    kube_result_t r = KUBE_RESULT_INIT;
    ck_assert_int_eq(kube_get(e.client, &pods, NULL, "p", &r), KUBE_ERR_CLIENT);
    ck_assert_ptr_nonnull(strstr(r.message, "namespace is required"));
    ck_assert_int_eq(kube_get(e.client, &pods, "ns", NULL, &r), KUBE_ERR_CLIENT);
    json_object *nameless = json_tokener_parse("{\"metadata\":{}}");
    ck_assert_int_eq(kube_create(e.client, &pods, NULL, nameless, NULL, &r), KUBE_ERR_CLIENT);
    ck_assert_int_eq(kube_update(e.client, &pods, "ns", nameless, NULL, &r), KUBE_ERR_CLIENT);
    ck_assert_int_eq(kube_patch(e.client, &pods, "ns", "p", NULL, KUBE_PATCH_MERGE, NULL, NULL, &r),
                     KUBE_ERR_CLIENT);
    json_object_put(nameless);
    ck_assert_int_eq(e.server->requests, 0);
    kube_result_clear(&r);
    env_close(&e);
}
END_TEST

/* 401 on the first request, then fine: the client refreshes credentials and retries once. */
static bool unauthorized_once(fake_server_t *s, int n, const fake_request_t *req, int fd)
{
    (void)s;
    (void)req;
    if (n == 0)
        respond(fd, 401, NULL,
                "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
                "\"Failure\",\"message\":\"Unauthorized\",\"reason\":\"Unauthorized\","
                "\"code\":401}");
    else
        respond(fd, 200, NULL, pod_json);
    return true;
}

static bool unauthorized_always(fake_server_t *s, int n, const fake_request_t *req, int fd)
{
    (void)s;
    (void)n;
    (void)req;
    respond(fd, 401, NULL, "Unauthorized\n");
    return true;
}

START_TEST(test_client_retries_once_after_401)
{
    env_t e;
    env_open(&e, unauthorized_once, NULL);
    kube_result_t r = KUBE_RESULT_INIT;
    ck_assert_int_eq(kube_get(e.client, &pods, "ns", "p", &r), KUBE_OK);
    ck_assert_int_eq(e.server->requests, 2);
    env_close(&e);

    env_open(&e, unauthorized_always, NULL);
    ck_assert_int_eq(kube_get(e.client, &pods, "ns", "p", &r), KUBE_ERR_UNAUTHORIZED);
    ck_assert_int_eq(e.server->requests, 2);
    ck_assert_str_eq(r.message, "Unauthorized");
    kube_result_clear(&r);
    env_close(&e);
}
END_TEST

static const char too_many_json[] =
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
    "\"message\":\"Too many requests, please try again later.\",\"reason\":\"TooManyRequests\","
    "\"details\":{\"retryAfterSeconds\":1},\"code\":429}";

static bool busy_twice(fake_server_t *s, int n, const fake_request_t *req, int fd)
{
    (void)s;
    (void)req;
    if (n == 0)
        respond(fd, 429, "Retry-After: 1\r\n", too_many_json);
    else if (n == 1)
        respond(fd, 503, "Retry-After: 1\r\n", "<html><title>busy</title></html>");
    else
        respond(fd, 200, NULL, pod_json);
    return true;
}

static bool busy_always(fake_server_t *s, int n, const fake_request_t *req, int fd)
{
    (void)s;
    (void)n;
    (void)req;
    respond(fd, 429, "Retry-After: 3\r\n", too_many_json);
    return true;
}

START_TEST(test_client_honours_retry_after_on_429_and_503)
{
    env_t e;
    env_open(&e, busy_twice, NULL);
    kube_result_t r = KUBE_RESULT_INIT;
    double start = util_monotonic();
    ck_assert_int_eq(kube_get(e.client, &pods, "ns", "p", &r), KUBE_OK);
    double took = util_monotonic() - start;
    ck_assert_int_eq(e.server->requests, 3);
    ck_assert(took >= 1.9);
    ck_assert(took < 10);
    env_close(&e);

    /* With no retries left the typed error comes back with the server's Retry-After. */
    kube_client_options_t o;
    kube_client_options_default(&o);
    o.max_retries = 0;
    env_open(&e, busy_always, &o);
    ck_assert_int_eq(kube_get(e.client, &pods, "ns", "p", &r), KUBE_ERR_TOO_MANY_REQUESTS);
    ck_assert(r.retry_after == 3);
    ck_assert_int_eq(e.server->requests, 1);
    kube_client_free(e.client);

    /* The wait is capped by max_retry_wait. */
    o.max_retries = 2;
    o.max_retry_wait = 0.1;
    char *err = NULL;
    ck_assert_int_eq(kube_client_new(e.config, &o, &e.client, &err), 0);
    start = util_monotonic();
    ck_assert_int_eq(kube_get(e.client, &pods, "ns", "p", &r), KUBE_ERR_TOO_MANY_REQUESTS);
    ck_assert(util_monotonic() - start < 2);
    ck_assert_int_eq(e.server->requests, 4);
    kube_result_clear(&r);
    env_close(&e);
}
END_TEST

static bool proxy_errors(fake_server_t *s, int n, const fake_request_t *req, int fd)
{
    (void)s;
    (void)req;
    if (n == 0)
        respond(fd, 502, "Content-Type: text/html\r\n",
                "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body></body></html>");
    else
        respond(fd, 200, "Content-Type: text/html\r\n", "<html>login</html>");
    return true;
}

START_TEST(test_client_reports_proxy_pages_and_non_json_success)
{
    env_t e;
    env_open(&e, proxy_errors, NULL);
    kube_result_t r = KUBE_RESULT_INIT;
    ck_assert_int_eq(kube_get(e.client, &pods, "ns", "p", &r), KUBE_ERR_UNKNOWN);
    char line[256];
    ck_assert_str_eq(kube_error_str(&r, line, sizeof(line)), "BadGateway (502): 502 Bad Gateway");
    ck_assert_int_eq(kube_get(e.client, &pods, "ns", "p", &r), KUBE_ERR_DECODE);
    ck_assert_int_eq(r.http_code, 200);
    kube_result_clear(&r);
    env_close(&e);
}
END_TEST

static bool never_answer(fake_server_t *s, int n, const fake_request_t *req, int fd)
{
    (void)n;
    (void)req;
    (void)fd;
    while (!atomic_load(&s->stopping))
        util_sleep(0.02);
    return false;
}

START_TEST(test_client_transport_errors_carry_curls_message)
{
    kube_client_options_t o;
    kube_client_options_default(&o);
    o.timeout = 0.3;
    env_t e;
    env_open(&e, never_answer, &o);
    kube_result_t r = KUBE_RESULT_INIT;
    ck_assert_int_eq(kube_get(e.client, &pods, "ns", "p", &r), KUBE_ERR_TRANSPORT);
    ck_assert_int_eq(r.http_code, 0);
    ck_assert_ptr_nonnull(strstr(r.message, "timed out"));
    ck_assert_ptr_nonnull(strstr(r.message, "GET http://127.0.0.1:"));

    /* Nothing listens on the port any more: connection refused. */
    int port = e.server->port;
    env_close(&e);
    env_open(&e, answer_pod, NULL);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    env_write_kubeconfig(&e, url, NULL);
    kube_client_free(e.client);
    kube_config_free(e.config);
    char *err = NULL;
    ck_assert_int_eq(kube_config_load_file(e.path, NULL, &e.config, &err), 0);
    ck_assert_int_eq(kube_client_new(e.config, NULL, &e.client, &err), 0);
    ck_assert_int_eq(kube_get(e.client, &pods, "ns", "p", &r), KUBE_ERR_TRANSPORT);
    ck_assert_ptr_nonnull(strstr(r.message, "onnect"));
    char line[256];
    ck_assert(util_has_prefix(kube_error_str(&r, line, sizeof(line)), "Transport: GET "));
    kube_result_clear(&r);
    env_close(&e);
}
END_TEST

START_TEST(test_client_tls_server_name_rewrites_the_url)
{
    env_t e;
    env_open(&e, answer_pod, NULL);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/prefix/", e.server->port);
    env_write_kubeconfig(&e, url, "    tls-server-name: api.internal\n");
    kube_client_free(e.client);
    kube_config_free(e.config);
    char *err = NULL;
    ck_assert_int_eq(kube_config_load_file(e.path, NULL, &e.config, &err), 0);
    ck_assert_int_eq(kube_client_new(e.config, NULL, &e.client, &err), 0);
    char expected[96];
    snprintf(expected, sizeof(expected), "http://api.internal:%d/prefix", e.server->port);
    ck_assert_str_eq(kube_client_base_url(e.client), expected);
    /* The name is only used for TLS: connections still go to the real address. */
    kube_result_t r = KUBE_RESULT_INIT;
    ck_assert_int_eq(kube_get(e.client, &pods, "ns", "p", &r), KUBE_OK);
    ck_assert_str_eq(e.server->log[0].target, "/prefix/api/v1/namespaces/ns/pods/p");
    kube_result_clear(&r);
    env_close(&e);
}
END_TEST

/* ---- many threads, one client ---------------------------------------------------- */

typedef struct worker {
    kube_client_t *client;
    int ok;
} worker_t;

static void *get_many(void *p)
{
    worker_t *w = p;
    kube_result_t r = KUBE_RESULT_INIT;
    for (int i = 0; i < 25; i++)
        if (kube_get(w->client, &pods, "ns", "p", &r) == KUBE_OK)
            w->ok++;
    kube_result_clear(&r);
    return NULL;
}

START_TEST(test_client_is_shared_by_many_threads)
{
    kube_client_options_t o;
    kube_client_options_default(&o);
    o.qps = 0;
    o.max_idle_handles = 4;
    env_t e;
    env_open(&e, answer_pod, &o);
    pthread_t threads[8];
    worker_t workers[8];
    for (int i = 0; i < 8; i++) {
        workers[i] = (worker_t){e.client, 0};
        pthread_create(&threads[i], NULL, get_many, &workers[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(threads[i], NULL);
        ck_assert_int_eq(workers[i].ok, 25);
    }
    ck_assert_int_eq(e.server->requests, 200);
    ck_assert_int_le(e.server->conns, MAX_CONNS);
    env_close(&e);
}
END_TEST

START_TEST(test_client_rate_limits_requests)
{
    kube_client_options_t o;
    kube_client_options_default(&o);
    o.qps = 20;
    o.burst = 2;
    env_t e;
    env_open(&e, answer_pod, &o);
    kube_result_t r = KUBE_RESULT_INIT;
    double start = util_monotonic();
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(kube_get(e.client, &pods, "ns", "p", &r), KUBE_OK);
    /* 2 at once, then 6 more at 20/s: at least 0.3 s. */
    ck_assert(util_monotonic() - start >= 0.28);
    kube_result_clear(&r);
    env_close(&e);
}
END_TEST

/* ---- watch ----------------------------------------------------------------------- */

static void send_chunk(int fd, const char *data, size_t len)
{
    char head[32];
    snprintf(head, sizeof(head), "%zx\r\n", len);
    write_all(fd, head, strlen(head));
    write_all(fd, data, len);
    write_all(fd, "\r\n", 2);
}

static const char watch_stream[] =
    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"11\"}}}\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"12\"}}}"
    "\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"13\"}}}\n"
    "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"14\"}}}"
    "\n";

/* Streams the events in awkward pieces, then ends the response (as timeoutSeconds does). */
static bool stream_events(fake_server_t *s, int n, const fake_request_t *req, int fd)
{
    (void)s;
    (void)n;
    (void)req;
    const char *head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n";
    write_all(fd, head, strlen(head));
    size_t len = strlen(watch_stream), off = 0, step = 1;
    while (off < len) {
        size_t piece = step * 7 % 61 + 1;
        if (piece > len - off)
            piece = len - off;
        send_chunk(fd, watch_stream + off, piece);
        off += piece;
        step++;
        util_sleep(0.002);
    }
    write_all(fd, "0\r\n\r\n", 5);
    return true;
}

typedef struct seen {
    buf_t log;
    int stop_after;
    int count;
} seen_t;

static int on_event(const kube_watch_event_t *ev, void *data)
{
    seen_t *s = data;
    json_object *meta = json_object_object_get(ev->object, "metadata");
    buf_printf(&s->log, "%d:%s ", (int)ev->type,
               json_object_get_string(json_object_object_get(meta, "resourceVersion")));
    s->count++;
    return s->stop_after && s->count >= s->stop_after;
}

START_TEST(test_watch_streams_events_until_the_server_ends)
{
    env_t e;
    env_open(&e, stream_events, NULL);
    seen_t seen = {BUF_INIT, 0, 0};
    kube_watch_options_t wo = {
        .resource_version = "10", .allow_watch_bookmarks = true, .timeout_seconds = 60};
    kube_result_t r = KUBE_RESULT_INIT;
    ck_assert_int_eq(kube_watch(e.client, &pods, "ns", &wo, on_event, &seen, NULL, &r), KUBE_OK);
    ck_assert_str_eq(buf_str(&seen.log), "0:11 1:12 3:13 2:14 ");
    ck_assert_str_eq(e.server->log[0].target, "/api/v1/namespaces/ns/pods?watch=1&resourceVersion"
                                              "=10&allowWatchBookmarks=true&timeoutSeconds=60");
    /* The callback can end the watch. */
    buf_reset(&seen.log);
    seen.stop_after = 2;
    seen.count = 0;
    ck_assert_int_eq(kube_watch(e.client, &pods, NULL, NULL, on_event, &seen, NULL, &r), KUBE_OK);
    ck_assert_str_eq(buf_str(&seen.log), "0:11 1:12 ");
    buf_free(&seen.log);
    kube_result_clear(&r);
    env_close(&e);
}
END_TEST

static bool stream_then_expire(fake_server_t *s, int n, const fake_request_t *req, int fd)
{
    (void)s;
    (void)n;
    (void)req;
    const char *head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n";
    write_all(fd, head, strlen(head));
    const char *events =
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"2\"}}}"
        "\n"
        "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":"
        "{},\"status\":\"Failure\",\"message\":\"too old resource version: 1 (218)\",\"reason\":"
        "\"Expired\",\"code\":410}}\n";
    send_chunk(fd, events, strlen(events));
    write_all(fd, "0\r\n\r\n", 5);
    return true;
}

START_TEST(test_watch_error_event_ends_with_410_expired)
{
    env_t e;
    env_open(&e, stream_then_expire, NULL);
    seen_t seen = {BUF_INIT, 0, 0};
    kube_watch_options_t wo = {.resource_version = "1"};
    kube_result_t r = KUBE_RESULT_INIT;
    ck_assert_int_eq(kube_watch(e.client, &pods, "ns", &wo, on_event, &seen, NULL, &r),
                     KUBE_ERR_GONE);
    ck_assert(r.expired);
    ck_assert_int_eq(r.http_code, 410);
    ck_assert_str_eq(r.message, "too old resource version: 1 (218)");
    ck_assert_str_eq(buf_str(&seen.log), "0:2 ");
    buf_free(&seen.log);
    kube_result_clear(&r);
    env_close(&e);
}
END_TEST

static bool refuse_watch(fake_server_t *s, int n, const fake_request_t *req, int fd)
{
    (void)s;
    (void)req;
    if (n == 0)
        respond(fd, 410, NULL,
                "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
                "\"message\":\"The resourceVersion for the provided watch is too old.\","
                "\"reason\":\"Expired\",\"code\":410}");
    else {
        const char *head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        write_all(fd, head, strlen(head));
        send_chunk(fd, "{\"type\":\"ADDED\",\"object\":{}}\n<html>", 36);
        write_all(fd, "0\r\n\r\n", 5);
    }
    return true;
}

START_TEST(test_watch_http_errors_and_malformed_streams_are_typed)
{
    env_t e;
    env_open(&e, refuse_watch, NULL);
    seen_t seen = {BUF_INIT, 0, 0};
    kube_result_t r = KUBE_RESULT_INIT;
    ck_assert_int_eq(kube_watch(e.client, &pods, "ns", NULL, on_event, &seen, NULL, &r),
                     KUBE_ERR_GONE);
    ck_assert(r.expired);
    ck_assert_int_eq(kube_watch(e.client, &pods, "ns", NULL, on_event, &seen, NULL, &r),
                     KUBE_ERR_DECODE);
    ck_assert_ptr_nonnull(strstr(r.message, "expected '{', found 0x3c"));
    ck_assert_int_eq(seen.count, 1);
    buf_free(&seen.log);
    kube_result_clear(&r);
    env_close(&e);
}
END_TEST

/* Sends the headers and nothing else until the server stops. */
static bool idle_watch(fake_server_t *s, int n, const fake_request_t *req, int fd)
{
    (void)n;
    (void)req;
    const char *head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    write_all(fd, head, strlen(head));
    while (!atomic_load(&s->stopping))
        util_sleep(0.02);
    return false;
}

typedef struct stopper {
    atomic_bool *flag;
    double delay;
} stopper_t;

static void *stop_later(void *p)
{
    stopper_t *s = p;
    util_sleep(s->delay);
    atomic_store(s->flag, true);
    return NULL;
}

START_TEST(test_watch_stops_promptly_from_another_thread)
{
    env_t e;
    env_open(&e, idle_watch, NULL);
    atomic_bool stop = false;
    stopper_t stopper = {&stop, 0.3};
    pthread_t t;
    pthread_create(&t, NULL, stop_later, &stopper);
    seen_t seen = {BUF_INIT, 0, 0};
    kube_result_t r = KUBE_RESULT_INIT;
    double start = util_monotonic();
    ck_assert_int_eq(kube_watch(e.client, &pods, "ns", NULL, on_event, &seen, &stop, &r), KUBE_OK);
    double took = util_monotonic() - start;
    pthread_join(t, NULL);
    ck_assert(took >= 0.29);
    ck_assert_msg(took < 0.3 + 0.5, "stop took %.3f s", took - 0.3);
    kube_result_clear(&r);
    buf_free(&seen.log);
    env_close(&e);
}
END_TEST

static Suite *client_suite(void)
{
    Suite *s = suite_create("kube_client");
    TCase *offline = tcase_create("offline");
    tcase_add_test(offline, test_paths_for_core_group_and_named_groups);
    tcase_add_test(offline, test_paths_escape_segments_and_reject_incomplete_input);
    tcase_add_test(offline, test_list_query_escapes_selectors);
    tcase_add_test(offline, test_watch_and_write_queries);
    tcase_add_test(offline, test_token_bucket_allows_burst_then_paces_at_qps);
    tcase_add_test(offline, test_token_bucket_unlimited_and_minimum_burst);
    suite_add_tcase(s, offline);

    TCase *scripted = tcase_create("scripted-server");
    tcase_set_timeout(scripted, 60);
    tcase_add_test(scripted, test_client_sends_identity_auth_and_json_headers);
    tcase_add_test(scripted, test_client_reuses_its_connection);
    tcase_add_test(scripted, test_client_writes_use_the_right_verbs_paths_and_bodies);
    tcase_add_test(scripted, test_client_refuses_requests_missing_name_or_namespace);
    tcase_add_test(scripted, test_client_retries_once_after_401);
    tcase_add_test(scripted, test_client_honours_retry_after_on_429_and_503);
    tcase_add_test(scripted, test_client_reports_proxy_pages_and_non_json_success);
    tcase_add_test(scripted, test_client_transport_errors_carry_curls_message);
    tcase_add_test(scripted, test_client_tls_server_name_rewrites_the_url);
    tcase_add_test(scripted, test_client_is_shared_by_many_threads);
    tcase_add_test(scripted, test_client_rate_limits_requests);
    tcase_add_test(scripted, test_watch_streams_events_until_the_server_ends);
    tcase_add_test(scripted, test_watch_error_event_ends_with_410_expired);
    tcase_add_test(scripted, test_watch_http_errors_and_malformed_streams_are_typed);
    tcase_add_test(scripted, test_watch_stops_promptly_from_another_thread);
    suite_add_tcase(s, scripted);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(client_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

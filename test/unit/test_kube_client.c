/* Unit tests for the REST client (pkg/kube/client.c, paths.c, ratelimit.c): paths and
 * query strings, the token bucket, the client's behaviour against a scripted HTTP server
 * running in the test (retries, auth refresh, errors, watch streaming and stop), and
 * integration tests against test/kube-sim (started as a subprocess, HTTPS, token and
 * client-certificate auth). */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

/* ---- against kube-sim ----------------------------------------------------------- */

/* Fault rules scoped to resources no other test touches: two 429s on secrets GETs and
 * one 503 on serviceaccount lists, each asking for a 1 s Retry-After. */
#define SIM_FAULT_429                                                                              \
    "{\"verb\":\"get\",\"resource\":\"secrets\",\"code\":429,\"count\":2,\"retryAfter\":1}"
#define SIM_FAULT_503                                                                              \
    "{\"verb\":\"list\",\"resource\":\"serviceaccounts\",\"code\":503,\"count\":1,"                \
    "\"retryAfter\":1}"
/* Watch history per resource: small, so that a 410 is easy to provoke. */
#define SIM_HISTORY "40"

static struct sim {
    pid_t pid;
    char dir[64];
    char kubeconfig[128];
    char cert_kubeconfig[128];
    char url[128];
    char why[256]; /* why it did not start */
} sim;

static const kube_resource_t configmaps = {"", "v1", "configmaps", true};
static const kube_resource_t secrets = {"", "v1", "secrets", true};
static const kube_resource_t serviceaccounts = {"", "v1", "serviceaccounts", true};
static const kube_resource_t namespaces = {"", "v1", "namespaces", false};

/* The Makefile runs tests from the repository root; look upwards to be safe. Returns the
 * test/kube-sim directory (malloc'd) or NULL. */
static char *find_kube_sim(void)
{
    char dir[PATH_MAX];
    if (!getcwd(dir, sizeof(dir)))
        return NULL;
    for (int up = 0; up < 6; up++) {
        char *sim_dir = util_asprintf("%s/test/kube-sim", dir);
        char *probe = util_asprintf("%s/kube_sim/__main__.py", sim_dir);
        bool found = probe && access(probe, R_OK) == 0;
        free(probe);
        if (found)
            return sim_dir;
        free(sim_dir);
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir)
            return NULL;
        *slash = '\0';
    }
    return NULL;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void sim_stop(void)
{
    if (sim.pid > 0) {
        kill(sim.pid, SIGTERM);
        int status;
        for (int i = 0; i < 100 && waitpid(sim.pid, &status, WNOHANG) == 0; i++)
            util_sleep(0.05);
        if (waitpid(sim.pid, &status, WNOHANG) == 0) {
            kill(sim.pid, SIGKILL);
            waitpid(sim.pid, &status, 0);
        }
        sim.pid = 0;
    }
    if (sim.dir[0])
        nftw(sim.dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    sim.dir[0] = '\0';
}

/* Unchecked fixture: runs once in the parent process, so every test of the case uses the
 * same server. A failure to start is reported by each test (sim_require). */
static void sim_start(void)
{
    memset(&sim, 0, sizeof(sim));
    char *sim_dir = find_kube_sim();
    if (!sim_dir) {
        snprintf(sim.why, sizeof(sim.why), "test/kube-sim not found above the working directory");
        return;
    }
    strcpy(sim.dir, "/tmp/test_kube_sim.XXXXXX");
    if (!mkdtemp(sim.dir)) {
        snprintf(sim.why, sizeof(sim.why), "mkdtemp: %s", strerror(errno));
        sim.dir[0] = '\0';
        return;
    }
    snprintf(sim.kubeconfig, sizeof(sim.kubeconfig), "%s/kubeconfig", sim.dir);
    snprintf(sim.cert_kubeconfig, sizeof(sim.cert_kubeconfig), "%s/cert-kubeconfig", sim.dir);
    char out_path[128], cert_dir[128];
    snprintf(out_path, sizeof(out_path), "%s/stdout", sim.dir);
    snprintf(cert_dir, sizeof(cert_dir), "%s/certs", sim.dir);
    pid_t pid = fork();
    if (pid != 0)
        free(sim_dir);
    if (pid == 0) {
        FILE *out = freopen(out_path, "w", stdout);
        if (!out || chdir(sim_dir) < 0)
            _exit(126);
        execlp("python3", "python3", "-m", "kube_sim", "--port", "0", "--kubeconfig-out",
               sim.kubeconfig, "--client-cert-kubeconfig-out", sim.cert_kubeconfig, "--cert-dir",
               cert_dir, "--history", SIM_HISTORY, "--bookmark-interval", "1", "--controllers",
               "namespace", "--fault", SIM_FAULT_429, "--fault", SIM_FAULT_503, (char *)NULL);
        _exit(127);
    }
    if (pid < 0) {
        snprintf(sim.why, sizeof(sim.why), "fork: %s", strerror(errno));
        return;
    }
    sim.pid = pid;
    const char *prefix = "kube-sim listening on ";
    for (int i = 0; i < 600; i++) {
        char *text = util_read_file(out_path, NULL);
        char *line = text ? strstr(text, prefix) : NULL;
        if (line && strchr(line, '\n')) {
            line += strlen(prefix);
            *strchr(line, '\n') = '\0';
            snprintf(sim.url, sizeof(sim.url), "%s", line);
            free(text);
            return;
        }
        free(text);
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            sim.pid = 0;
            snprintf(sim.why, sizeof(sim.why), "kube-sim exited with status %d", status);
            sim_stop();
            return;
        }
        util_sleep(0.05);
    }
    snprintf(sim.why, sizeof(sim.why), "kube-sim did not report its URL within 30 s");
    sim_stop();
}

typedef struct sim_client {
    kube_config_t *config;
    kube_client_t *client;
} sim_client_t;

static void sim_connect_to(sim_client_t *sc, const char *kubeconfig)
{
    ck_assert_msg(sim.url[0], "kube-sim is not running: %s", sim.why);
    char *err = NULL;
    if (kube_config_load_file(kubeconfig, NULL, &sc->config, &err) < 0)
        ck_abort_msg("kube-sim kubeconfig: %s", err);
    kube_client_options_t o;
    kube_client_options_default(&o);
    o.qps = 0;
    if (kube_client_new(sc->config, &o, &sc->client, &err) < 0)
        ck_abort_msg("client: %s", err);
}

static void sim_connect(sim_client_t *sc)
{
    sim_connect_to(sc, sim.kubeconfig);
}

static void sim_disconnect(sim_client_t *sc)
{
    kube_client_free(sc->client);
    kube_config_free(sc->config);
}

static json_object *parse(const char *json)
{
    json_object *o = json_tokener_parse(json);
    ck_assert_ptr_nonnull(o);
    return o;
}

/* A string at a dotted path ("metadata.resourceVersion") of r's body, or NULL. */
static const char *body_str(const kube_result_t *r, const char *path)
{
    json_object *cur = r->body;
    char key[64];
    for (const char *p = path; cur && *p;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        snprintf(key, sizeof(key), "%.*s", (int)n, p);
        if (!json_object_object_get_ex(cur, key, &cur))
            return NULL;
        p += n + (dot ? 1 : 0);
    }
    return cur ? json_object_get_string(cur) : NULL;
}

static void ck_ok(kube_err_t err, const kube_result_t *r)
{
    char line[512];
    ck_assert_msg(err == KUBE_OK, "%s", kube_error_str(r, line, sizeof(line)));
}

static json_object *configmap(const char *name, const char *label, const char *value)
{
    char json[512];
    snprintf(json, sizeof(json),
             "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\","
             "\"labels\":{\"suite\":\"%s\"}},\"data\":{\"k\":\"%s\"}}",
             name, label, value);
    return parse(json);
}

START_TEST(test_sim_create_get_update_and_conflicts)
{
    sim_client_t sc;
    sim_connect(&sc);
    kube_result_t r = KUBE_RESULT_INIT;
    json_object *cm = configmap("crud-1", "crud", "v1");
    ck_ok(kube_create(sc.client, &configmaps, "default", cm, NULL, &r), &r);
    ck_assert_int_eq(r.http_code, 201);
    char *rv1 = util_strdup(body_str(&r, "metadata.resourceVersion"));
    ck_assert_ptr_nonnull(rv1);

    ck_assert_int_eq(kube_create(sc.client, &configmaps, "default", cm, NULL, &r),
                     KUBE_ERR_ALREADY_EXISTS);
    ck_assert_int_eq(r.http_code, 409);
    ck_assert_str_eq(r.reason, "AlreadyExists");

    /* A caller that wants no body gets none on success, and the whole error otherwise;
     * the wish outlives kube_result_clear. */
    kube_result_t quiet = KUBE_RESULT_INIT;
    quiet.skip_body = true;
    json_object *cm2 = configmap("crud-2", "crud", "v1");
    ck_ok(kube_create(sc.client, &configmaps, "default", cm2, NULL, &quiet), &quiet);
    ck_assert_int_eq(quiet.http_code, 201);
    ck_assert_ptr_null(quiet.body);
    ck_assert_int_eq(kube_create(sc.client, &configmaps, "default", cm2, NULL, &quiet),
                     KUBE_ERR_ALREADY_EXISTS);
    ck_assert_str_eq(quiet.reason, "AlreadyExists");
    ck_assert_ptr_nonnull(quiet.body);
    kube_result_clear(&quiet);
    ck_assert(quiet.skip_body);
    json_object_put(cm2);

    ck_ok(kube_get(sc.client, &configmaps, "default", "crud-1", &r), &r);
    ck_assert_str_eq(body_str(&r, "data.k"), "v1");

    /* Update from what we read; then again from the stale copy: 409 Conflict. */
    json_object *fresh = kube_result_take_body(&r);
    json_object_object_add(json_object_object_get(fresh, "data"), "k",
                           json_object_new_string("v2"));
    ck_ok(kube_update(sc.client, &configmaps, NULL, fresh, NULL, &r), &r);
    ck_assert_str_eq(body_str(&r, "data.k"), "v2");
    ck_assert_str_ne(body_str(&r, "metadata.resourceVersion"), rv1);
    ck_assert_int_eq(kube_update(sc.client, &configmaps, NULL, fresh, NULL, &r), KUBE_ERR_CONFLICT);
    ck_assert_str_eq(r.reason, "Conflict");

    /* A dry run answers like the real thing and stores nothing. */
    json_object *dry = configmap("crud-dry", "crud", "x");
    kube_write_options_t wo = {.dry_run = true, .field_manager = "s2i-operator-test"};
    ck_ok(kube_create(sc.client, &configmaps, "default", dry, &wo, &r), &r);
    ck_assert_int_eq(kube_get(sc.client, &configmaps, "default", "crud-dry", &r),
                     KUBE_ERR_NOT_FOUND);
    ck_assert_str_eq(r.reason, "NotFound");

    json_object_put(dry);
    json_object_put(fresh);
    json_object_put(cm);
    free(rv1);
    kube_result_clear(&r);
    sim_disconnect(&sc);
}
END_TEST

START_TEST(test_sim_invalid_object_gives_422_with_causes)
{
    sim_client_t sc;
    sim_connect(&sc);
    kube_result_t r = KUBE_RESULT_INIT;
    json_object *bad = configmap("Not_A_Valid_Name", "invalid", "x");
    ck_assert_int_eq(kube_create(sc.client, &configmaps, "default", bad, NULL, &r),
                     KUBE_ERR_INVALID);
    ck_assert_int_eq(r.http_code, 422);
    ck_assert_uint_ge(r.causes_len, 1);
    ck_assert_str_eq(r.causes[0].field, "metadata.name");
    ck_assert_ptr_nonnull(r.causes[0].reason);
    json_object_put(bad);
    kube_result_clear(&r);
    sim_disconnect(&sc);
}
END_TEST

START_TEST(test_sim_list_paginates_and_filters)
{
    sim_client_t sc;
    sim_connect(&sc);
    kube_result_t r = KUBE_RESULT_INIT;
    for (int i = 0; i < 5; i++) {
        char name[32];
        snprintf(name, sizeof(name), "page-%d", i);
        json_object *cm = configmap(name, "page", "x");
        ck_ok(kube_create(sc.client, &configmaps, "default", cm, NULL, &r), &r);
        json_object_put(cm);
    }
    kube_list_options_t lo = {.label_selector = "suite=page", .limit = 2};
    char *token = NULL;
    int pages = 0, items = 0;
    do {
        lo.continue_token = token;
        ck_ok(kube_list(sc.client, &configmaps, "default", &lo, &r), &r);
        free(token);
        token = util_strdup(body_str(&r, "metadata.continue"));
        if (token && !*token) {
            free(token);
            token = NULL;
        }
        json_object *list_items = json_object_object_get(r.body, "items");
        ck_assert_int_le(json_object_array_length(list_items), 2);
        items += (int)json_object_array_length(list_items);
        pages++;
    } while (token && pages < 10);
    ck_assert_int_eq(items, 5);
    ck_assert_int_eq(pages, 3);
    lo.continue_token = NULL;

    kube_list_options_t by_field = {.field_selector = "metadata.name=page-3"};
    ck_ok(kube_list(sc.client, &configmaps, "default", &by_field, &r), &r);
    json_object *list_items = json_object_object_get(r.body, "items");
    ck_assert_int_eq(json_object_array_length(list_items), 1);
    /* A label selector with set syntax and negation goes through escaped. */
    kube_list_options_t set = {.label_selector = "suite in (page,nothing),suite!=other"};
    ck_ok(kube_list(sc.client, &configmaps, "default", &set, &r), &r);
    ck_assert_int_eq(json_object_array_length(json_object_object_get(r.body, "items")), 5);
    /* Across all namespaces. */
    ck_ok(kube_list(sc.client, &configmaps, NULL, &lo, &r), &r);
    kube_result_clear(&r);
    sim_disconnect(&sc);
}
END_TEST

START_TEST(test_sim_patch_kinds)
{
    sim_client_t sc;
    sim_connect(&sc);
    kube_result_t r = KUBE_RESULT_INIT;
    json_object *cm = configmap("patch-1", "patch", "v1");
    ck_ok(kube_create(sc.client, &configmaps, "default", cm, NULL, &r), &r);
    kube_patch_options_t po = {.field_manager = "s2i-operator-test"};

    ck_ok(kube_patch(sc.client, &configmaps, "default", "patch-1", NULL, KUBE_PATCH_MERGE,
                     "{\"data\":{\"merge\":\"1\"}}", &po, &r),
          &r);
    ck_assert_str_eq(body_str(&r, "data.merge"), "1");
    ck_ok(kube_patch(sc.client, &configmaps, "default", "patch-1", NULL, KUBE_PATCH_JSON,
                     "[{\"op\":\"add\",\"path\":\"/data/json\",\"value\":\"2\"}]", &po, &r),
          &r);
    ck_assert_str_eq(body_str(&r, "data.json"), "2");
    ck_ok(kube_patch(sc.client, &configmaps, "default", "patch-1", NULL, KUBE_PATCH_STRATEGIC,
                     "{\"data\":{\"strategic\":\"3\"}}", &po, &r),
          &r);
    ck_assert_str_eq(body_str(&r, "data.strategic"), "3");
    po.force = true;
    ck_ok(kube_patch(sc.client, &configmaps, "default", "patch-1", NULL, KUBE_PATCH_APPLY,
                     "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
                     "\"patch-1\"},\"data\":{\"apply\":\"4\"}}",
                     &po, &r),
          &r);
    ck_assert_str_eq(body_str(&r, "data.apply"), "4");
    ck_assert_str_eq(body_str(&r, "data.merge"), "1");

    /* A JSON patch whose test fails, a malformed patch, a missing object. */
    kube_err_t err =
        kube_patch(sc.client, &configmaps, "default", "patch-1", NULL, KUBE_PATCH_JSON,
                   "[{\"op\":\"test\",\"path\":\"/data/k\",\"value\":\"nope\"}]", NULL, &r);
    ck_assert_msg(err == KUBE_ERR_INVALID || err == KUBE_ERR_CONFLICT, "got %s",
                  kube_err_name(err));
    ck_assert_int_eq(kube_patch(sc.client, &configmaps, "default", "patch-1", NULL,
                                KUBE_PATCH_MERGE, "{\"data\":", NULL, &r),
                     KUBE_ERR_BAD_REQUEST);
    ck_assert_int_eq(kube_patch(sc.client, &configmaps, "default", "patch-nope", NULL,
                                KUBE_PATCH_MERGE, "{}", NULL, &r),
                     KUBE_ERR_NOT_FOUND);
    json_object_put(cm);
    kube_result_clear(&r);
    sim_disconnect(&sc);
}
END_TEST

START_TEST(test_sim_update_status_writes_only_status)
{
    sim_client_t sc;
    sim_connect(&sc);
    kube_result_t r = KUBE_RESULT_INIT;
    json_object *job = parse(
        "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"status-1\"},"
        "\"spec\":{\"template\":{\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[{\"name\":"
        "\"c\",\"image\":\"busybox\"}]}}}}");
    ck_ok(kube_create(sc.client, &jobs, "default", job, NULL, &r), &r);
    json_object *created = kube_result_take_body(&r);
    json_object_object_add(created, "status", parse("{\"active\":1}"));
    ck_ok(kube_update_status(sc.client, &jobs, NULL, created, NULL, &r), &r);
    json_object *status = json_object_object_get(r.body, "status");
    ck_assert_int_eq(json_object_get_int(json_object_object_get(status, "active")), 1);
    /* Stale resourceVersion on /status: 409 as well. */
    ck_assert_int_eq(kube_update_status(sc.client, &jobs, NULL, created, NULL, &r),
                     KUBE_ERR_CONFLICT);
    json_object_put(created);
    json_object_put(job);
    kube_result_clear(&r);
    sim_disconnect(&sc);
}
END_TEST

START_TEST(test_sim_delete_with_preconditions_and_propagation)
{
    sim_client_t sc;
    sim_connect(&sc);
    kube_result_t r = KUBE_RESULT_INIT;
    json_object *cm = configmap("del-1", "delete", "x");
    ck_ok(kube_create(sc.client, &configmaps, "default", cm, NULL, &r), &r);
    char *uid = util_strdup(body_str(&r, "metadata.uid"));

    kube_delete_options_t wrong = KUBE_DELETE_OPTIONS_INIT;
    wrong.precondition_uid = "00000000-0000-0000-0000-000000000000";
    ck_assert_int_eq(kube_delete(sc.client, &configmaps, "default", "del-1", &wrong, &r),
                     KUBE_ERR_CONFLICT);
    kube_delete_options_t dry = KUBE_DELETE_OPTIONS_INIT;
    dry.dry_run = true;
    ck_ok(kube_delete(sc.client, &configmaps, "default", "del-1", &dry, &r), &r);
    ck_ok(kube_get(sc.client, &configmaps, "default", "del-1", &r), &r);

    kube_delete_options_t right = KUBE_DELETE_OPTIONS_INIT;
    right.precondition_uid = uid;
    right.propagation_policy = "Background";
    ck_ok(kube_delete(sc.client, &configmaps, "default", "del-1", &right, &r), &r);
    ck_assert_int_eq(kube_get(sc.client, &configmaps, "default", "del-1", &r), KUBE_ERR_NOT_FOUND);
    ck_assert_int_eq(kube_delete(sc.client, &configmaps, "default", "del-1", NULL, &r),
                     KUBE_ERR_NOT_FOUND);
    free(uid);
    json_object_put(cm);
    kube_result_clear(&r);
    sim_disconnect(&sc);
}
END_TEST

/* A watch on its own thread, recording events until DELETED of `until`. */
typedef struct sim_watch {
    kube_client_t *client;
    kube_watch_options_t opts;
    const char *until;
    buf_t log;
    kube_result_t result;
    atomic_bool stop;
    pthread_t thread;
} sim_watch_t;

static int sim_watch_event(const kube_watch_event_t *ev, void *data)
{
    sim_watch_t *w = data;
    static const char *const names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};
    json_object *meta = json_object_object_get(ev->object, "metadata");
    const char *name = json_object_get_string(json_object_object_get(meta, "name"));
    if (ev->type == KUBE_WATCH_BOOKMARK) {
        buf_puts(&w->log, "BOOKMARK ");
        return w->until == NULL;
    }
    buf_printf(&w->log, "%s:%s ", names[ev->type], name ? name : "");
    return w->until && ev->type == KUBE_WATCH_DELETED && util_streq(name, w->until);
}

static void *sim_watch_run(void *p)
{
    sim_watch_t *w = p;
    kube_watch(w->client, &configmaps, "default", &w->opts, sim_watch_event, w, &w->stop,
               &w->result);
    return NULL;
}

START_TEST(test_sim_watch_sees_changes_from_a_resource_version)
{
    sim_client_t sc;
    sim_connect(&sc);
    kube_result_t r = KUBE_RESULT_INIT;
    kube_list_options_t lo = {.field_selector = "metadata.name=watch-1"};
    ck_ok(kube_list(sc.client, &configmaps, "default", &lo, &r), &r);
    sim_watch_t w = {.client = sc.client, .until = "watch-1", .log = BUF_INIT};
    w.opts = (kube_watch_options_t){.resource_version = body_str(&r, "metadata.resourceVersion"),
                                    .field_selector = "metadata.name=watch-1",
                                    .timeout_seconds = 30};
    char *rv = util_strdup(w.opts.resource_version);
    w.opts.resource_version = rv;
    pthread_create(&w.thread, NULL, sim_watch_run, &w);

    json_object *cm = configmap("watch-1", "watch", "v1");
    ck_ok(kube_create(sc.client, &configmaps, "default", cm, NULL, &r), &r);
    ck_ok(kube_patch(sc.client, &configmaps, "default", "watch-1", NULL, KUBE_PATCH_MERGE,
                     "{\"data\":{\"k\":\"v2\"}}", NULL, &r),
          &r);
    ck_ok(kube_delete(sc.client, &configmaps, "default", "watch-1", NULL, &r), &r);
    /* Another object's changes are filtered out by the field selector. */
    json_object *other = configmap("watch-other", "watch", "v1");
    ck_ok(kube_create(sc.client, &configmaps, "default", other, NULL, &r), &r);

    pthread_join(w.thread, NULL);
    ck_ok(w.result.err, &w.result);
    ck_assert_str_eq(buf_str(&w.log), "ADDED:watch-1 MODIFIED:watch-1 DELETED:watch-1 ");
    buf_free(&w.log);
    kube_result_clear(&w.result);
    json_object_put(other);
    json_object_put(cm);
    free(rv);
    kube_result_clear(&r);
    sim_disconnect(&sc);
}
END_TEST

START_TEST(test_sim_watch_gets_bookmarks_and_stops_on_request)
{
    sim_client_t sc;
    sim_connect(&sc);
    sim_watch_t w = {.client = sc.client, .log = BUF_INIT};
    w.opts = (kube_watch_options_t){.allow_watch_bookmarks = true,
                                    .label_selector = "suite=nothing-here"};
    double start = util_monotonic();
    pthread_create(&w.thread, NULL, sim_watch_run, &w);
    pthread_join(w.thread, NULL);
    ck_ok(w.result.err, &w.result);
    ck_assert_str_eq(buf_str(&w.log), "BOOKMARK ");
    ck_assert(util_monotonic() - start < 5);

    /* An idle watch ends soon after the flag is set. */
    buf_reset(&w.log);
    w.opts.allow_watch_bookmarks = false;
    pthread_create(&w.thread, NULL, sim_watch_run, &w);
    util_sleep(0.5);
    start = util_monotonic();
    atomic_store(&w.stop, true);
    pthread_join(w.thread, NULL);
    /* The watch has no timeout: without the flag it would never end. The bound is loose
     * so a loaded CI machine does not fail a correct client. */
    ck_assert(util_monotonic() - start < 5);
    ck_ok(w.result.err, &w.result);
    buf_free(&w.log);
    kube_result_clear(&w.result);
    sim_disconnect(&sc);
}
END_TEST

START_TEST(test_sim_old_resource_version_gives_410_expired)
{
    sim_client_t sc;
    sim_connect(&sc);
    kube_result_t r = KUBE_RESULT_INIT;
    ck_ok(kube_list(sc.client, &configmaps, "default", NULL, &r), &r);
    char *old_rv = util_strdup(body_str(&r, "metadata.resourceVersion"));
    /* More changes than kube-sim keeps in its watch history. */
    for (int i = 0; i < 2 * atoi(SIM_HISTORY); i++) {
        char patch[64];
        snprintf(patch, sizeof(patch), "{\"data\":{\"k\":\"%d\"}}", i);
        if (i == 0) {
            json_object *cm = configmap("expire-1", "expire", "0");
            ck_ok(kube_create(sc.client, &configmaps, "default", cm, NULL, &r), &r);
            json_object_put(cm);
        } else {
            ck_ok(kube_patch(sc.client, &configmaps, "default", "expire-1", NULL, KUBE_PATCH_MERGE,
                             patch, NULL, &r),
                  &r);
        }
    }
    sim_watch_t w = {.client = sc.client, .log = BUF_INIT};
    w.opts = (kube_watch_options_t){.resource_version = old_rv};
    pthread_create(&w.thread, NULL, sim_watch_run, &w);
    pthread_join(w.thread, NULL);
    ck_assert_int_eq(w.result.err, KUBE_ERR_GONE);
    ck_assert(w.result.expired);
    ck_assert_int_eq(w.result.http_code, 410);

    kube_list_options_t exact = {.resource_version = old_rv, .resource_version_match = "Exact"};
    ck_assert_int_eq(kube_list(sc.client, &configmaps, "default", &exact, &r), KUBE_ERR_GONE);
    ck_assert(r.expired);
    buf_free(&w.log);
    kube_result_clear(&w.result);
    free(old_rv);
    kube_result_clear(&r);
    sim_disconnect(&sc);
}
END_TEST

START_TEST(test_sim_retry_after_faults_are_waited_out)
{
    sim_client_t sc;
    sim_connect(&sc);
    kube_result_t r = KUBE_RESULT_INIT;
    double start = util_monotonic();
    /* Two 429s with Retry-After: 1, then the real answer (the secret does not exist). */
    ck_assert_int_eq(kube_get(sc.client, &secrets, "default", "no-such-secret", &r),
                     KUBE_ERR_NOT_FOUND);
    ck_assert(util_monotonic() - start >= 1.9);
    start = util_monotonic();
    ck_ok(kube_list(sc.client, &serviceaccounts, "default", NULL, &r), &r);
    ck_assert(util_monotonic() - start >= 0.9);
    kube_result_clear(&r);
    sim_disconnect(&sc);
}
END_TEST

START_TEST(test_sim_client_certificate_auth)
{
    sim_client_t sc;
    sim_connect_to(&sc, sim.cert_kubeconfig);
    kube_result_t r = KUBE_RESULT_INIT;
    ck_ok(kube_get(sc.client, &namespaces, NULL, "default", &r), &r);
    ck_assert_str_eq(body_str(&r, "metadata.name"), "default");
    kube_result_clear(&r);
    sim_disconnect(&sc);
}
END_TEST

/* Writes a kubeconfig for kube-sim with the given cluster fields and token. */
static void write_sim_kubeconfig(const char *path, const char *cluster_fields, bool with_token)
{
    sim_client_t sc;
    sim_connect(&sc);
    kube_auth_t auth;
    char *err = NULL;
    ck_assert_int_eq(kube_config_auth(sc.config, &auth, &err), 0);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n%s"
            "contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n"
            "current-context: c\nusers:\n- name: u\n  user:\n    token: \"%s\"\n",
            cluster_fields, with_token ? auth.token : "wrong");
    fclose(f);
    kube_auth_clear(&auth);
    sim_disconnect(&sc);
}

static kube_err_t get_default_namespace(const char *kubeconfig, kube_result_t *r)
{
    sim_client_t sc;
    sim_connect_to(&sc, kubeconfig);
    kube_err_t err = kube_get(sc.client, &namespaces, NULL, "default", r);
    sim_disconnect(&sc);
    return err;
}

START_TEST(test_sim_tls_ca_file_server_name_and_insecure)
{
    ck_assert_msg(sim.url[0], "kube-sim is not running: %s", sim.why);
    char path[160], fields[512];
    snprintf(path, sizeof(path), "%s/tls-kubeconfig", sim.dir);
    const char *port = strrchr(sim.url, ':');
    ck_assert_ptr_nonnull(port);
    kube_result_t r = KUBE_RESULT_INIT;

    /* CA from a file, the server reached by IP, the certificate checked for a DNS name. */
    snprintf(fields, sizeof(fields),
             "    server: https://127.0.0.1%s\n    certificate-authority: %s/certs/ca.crt\n"
             "    tls-server-name: kubernetes.default.svc\n",
             port, sim.dir);
    write_sim_kubeconfig(path, fields, true);
    ck_ok(get_default_namespace(path, &r), &r);

    /* A name the certificate does not carry fails verification. */
    snprintf(fields, sizeof(fields),
             "    server: https://127.0.0.1%s\n    certificate-authority: %s/certs/ca.crt\n"
             "    tls-server-name: not-the-apiserver.example.com\n",
             port, sim.dir);
    write_sim_kubeconfig(path, fields, true);
    ck_assert_int_eq(get_default_namespace(path, &r), KUBE_ERR_TRANSPORT);

    /* Without the cluster CA the system roots do not vouch for kube-sim... */
    snprintf(fields, sizeof(fields), "    server: %s\n", sim.url);
    write_sim_kubeconfig(path, fields, true);
    ck_assert_int_eq(get_default_namespace(path, &r), KUBE_ERR_TRANSPORT);
    /* ...unless verification is switched off. */
    snprintf(fields, sizeof(fields), "    server: %s\n    insecure-skip-tls-verify: true\n",
             sim.url);
    write_sim_kubeconfig(path, fields, true);
    ck_ok(get_default_namespace(path, &r), &r);

    /* A wrong token: 401, after one refresh. */
    snprintf(fields, sizeof(fields), "    server: %s\n    insecure-skip-tls-verify: true\n",
             sim.url);
    write_sim_kubeconfig(path, fields, false);
    ck_assert_int_eq(get_default_namespace(path, &r), KUBE_ERR_UNAUTHORIZED);
    ck_assert_int_eq(r.http_code, 401);
    kube_result_clear(&r);
}
END_TEST

static void *sim_get_many(void *p)
{
    worker_t *w = p;
    kube_result_t r = KUBE_RESULT_INIT;
    for (int i = 0; i < 10; i++)
        if (kube_get(w->client, &namespaces, NULL, "default", &r) == KUBE_OK)
            w->ok++;
    kube_result_clear(&r);
    return NULL;
}

START_TEST(test_sim_many_threads_share_one_client)
{
    sim_client_t sc;
    sim_connect(&sc);
    pthread_t threads[8];
    worker_t workers[8];
    for (int i = 0; i < 8; i++) {
        workers[i] = (worker_t){sc.client, 0};
        pthread_create(&threads[i], NULL, sim_get_many, &workers[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(threads[i], NULL);
        ck_assert_int_eq(workers[i].ok, 10);
    }
    sim_disconnect(&sc);
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

    TCase *live = tcase_create("kube-sim");
    tcase_set_timeout(live, 120);
    tcase_add_unchecked_fixture(live, sim_start, sim_stop);
    tcase_add_test(live, test_sim_create_get_update_and_conflicts);
    tcase_add_test(live, test_sim_invalid_object_gives_422_with_causes);
    tcase_add_test(live, test_sim_list_paginates_and_filters);
    tcase_add_test(live, test_sim_patch_kinds);
    tcase_add_test(live, test_sim_update_status_writes_only_status);
    tcase_add_test(live, test_sim_delete_with_preconditions_and_propagation);
    tcase_add_test(live, test_sim_watch_sees_changes_from_a_resource_version);
    tcase_add_test(live, test_sim_watch_gets_bookmarks_and_stops_on_request);
    tcase_add_test(live, test_sim_old_resource_version_gives_410_expired);
    tcase_add_test(live, test_sim_retry_after_faults_are_waited_out);
    tcase_add_test(live, test_sim_client_certificate_auth);
    tcase_add_test(live, test_sim_tls_ca_file_server_name_and_insecure);
    tcase_add_test(live, test_sim_many_threads_share_one_client);
    suite_add_tcase(s, live);
    return s;
}

int main(void)
{
    /* Every server here is on loopback: a proxy from the environment must not interfere. */
    static const char *const proxy_vars[] = {"http_proxy", "https_proxy", "all_proxy",
                                             "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(proxy_vars); i++)
        unsetenv(proxy_vars[i]);
    SRunner *sr = srunner_create(client_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * Unit tests for pkg/controller/s2ibuilder: a builder's status (runCount, lastRun*, the
 * Ready and Stalled conditions), history limits, the finalizer and the deletion of a
 * deleted builder's runs, all computed from the run cache.
 *
 * The manager's informers are never started: the tests feed them as their threads would
 * (informer_apply_list) and call reconcile_builder directly. What the reconcile writes goes
 * to a scripted HTTP server in the test, which records every request and answers 200 with
 * the request's body (the object written), so the requests are what the tests check.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "controller/internal.h"
#include "controller/jpath.h"
#include "informer/informer_internal.h"
#include "util/util.h"

#define NS      "demo"
#define BUILDER "hello"
#define KEY     NS "/" BUILDER
#define T0      "2026-11-26T06:00:00Z"
#define T1      "2026-11-26T06:01:00Z"
#define T2      "2026-11-26T06:02:00Z"
#define T3      "2026-11-26T06:03:00Z"

/* ---- a scripted API server ---------------------------------------------------------- */

#define MAX_CONNS    16
#define MAX_REQUESTS 64

typedef struct request {
    char method[16];
    char target[512];
    json_object *body; /* NULL when the request had none */
} request_t;

typedef struct server {
    int listen_fd;
    int port;
    pthread_t acceptor;
    pthread_mutex_t lock;
    pthread_t conn_threads[MAX_CONNS];
    int conn_fds[MAX_CONNS];
    int conns;
    int requests;
    request_t log[MAX_REQUESTS];
    atomic_bool stopping;
} server_t;

typedef struct conn {
    server_t *s;
    int fd;
} conn_t;

static void send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        data += n;
        len -= (size_t)n;
    }
}

static bool recv_more(int fd, buf_t *in)
{
    char chunk[4096];
    ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    return n > 0 && buf_append(in, chunk, (size_t)n) == 0;
}

/* Reads one request, logs it and answers it; false at EOF. */
static bool serve_request(server_t *s, int fd, buf_t *in)
{
    char *end;
    while (!(end = in->data ? strstr(in->data, "\r\n\r\n") : NULL))
        if (!recv_more(fd, in))
            return false;
    size_t head_len = (size_t)(end - in->data) + 4;
    *end = '\0';
    request_t req = {0};
    if (sscanf(in->data, "%15s %511s", req.method, req.target) != 2)
        return false;
    size_t body_len = 0;
    for (const char *p = in->data; (p = strchr(p, '\n')); p++)
        if (strncasecmp(p + 1, "Content-Length:", 15) == 0)
            body_len = strtoul(p + 16, NULL, 10);
    while (in->len < head_len + body_len)
        if (!recv_more(fd, in))
            return false;
    char *body = malloc(body_len + 1);
    memcpy(body, in->data + head_len, body_len);
    body[body_len] = '\0';
    req.body = body_len ? json_tokener_parse(body) : NULL;
    buf_consume(in, head_len + body_len);
    pthread_mutex_lock(&s->lock);
    if (s->requests < MAX_REQUESTS)
        s->log[s->requests++] = req;
    else
        json_object_put(req.body);
    pthread_mutex_unlock(&s->lock);
    const char *answer = body_len ? body : "{}";
    buf_t out = BUF_INIT;
    buf_printf(&out,
               "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
               strlen(answer), answer);
    send_all(fd, out.data, out.len);
    buf_free(&out);
    free(body);
    return true;
}

static void *serve_connection(void *p)
{
    conn_t *c = p;
    buf_t in = BUF_INIT;
    while (serve_request(c->s, c->fd, &in))
        ;
    buf_free(&in);
    shutdown(c->fd, SHUT_RDWR);
    free(c);
    return NULL;
}

static void *accept_loop(void *p)
{
    server_t *s = p;
    for (;;) {
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0)
            return NULL;
        pthread_mutex_lock(&s->lock);
        if (atomic_load(&s->stopping) || s->conns == MAX_CONNS) {
            pthread_mutex_unlock(&s->lock);
            close(fd);
            continue;
        }
        conn_t *c = malloc(sizeof *c);
        c->s = s;
        c->fd = fd;
        s->conn_fds[s->conns] = fd;
        pthread_create(&s->conn_threads[s->conns++], NULL, serve_connection, c);
        pthread_mutex_unlock(&s->lock);
    }
}

static server_t *server_start(void)
{
    server_t *s = calloc(1, sizeof *s);
    ck_assert_ptr_nonnull(s);
    pthread_mutex_init(&s->lock, NULL);
    s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(s->listen_fd, (struct sockaddr *)&addr, sizeof addr), 0);
    ck_assert_int_eq(listen(s->listen_fd, 16), 0);
    socklen_t len = sizeof addr;
    getsockname(s->listen_fd, (struct sockaddr *)&addr, &len);
    s->port = ntohs(addr.sin_port);
    pthread_create(&s->acceptor, NULL, accept_loop, s);
    return s;
}

/* Forgets the requests logged so far. */
static void server_reset(server_t *s)
{
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->requests; i++)
        json_object_put(s->log[i].body);
    s->requests = 0;
    pthread_mutex_unlock(&s->lock);
}

static void server_stop(server_t *s)
{
    atomic_store(&s->stopping, true);
    shutdown(s->listen_fd, SHUT_RDWR);
    pthread_join(s->acceptor, NULL);
    close(s->listen_fd);
    for (int i = 0; i < s->conns; i++)
        shutdown(s->conn_fds[i], SHUT_RDWR);
    for (int i = 0; i < s->conns; i++) {
        pthread_join(s->conn_threads[i], NULL);
        close(s->conn_fds[i]);
    }
    server_reset(s);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* ---- the manager under test ----------------------------------------------------------- */

static server_t *server;
static kube_config_t *config;
static kube_client_t *client;
static controller_manager_t *manager;
static int builder_rv; /* each builder made is a new version, so a relist stores it */

static void setup(void)
{
    server = server_start();
    builder_rv = 10;
    char *kubeconfig = util_asprintf("apiVersion: v1\nkind: Config\n"
                                     "clusters:\n- name: c\n  cluster:\n"
                                     "    server: http://127.0.0.1:%d\n"
                                     "users:\n- name: u\n  user:\n    token: t\n"
                                     "contexts:\n- name: x\n  context:\n"
                                     "    cluster: c\n    user: u\n"
                                     "current-context: x\n",
                                     server->port);
    char *err = NULL;
    ck_assert_msg(kube_config_parse(kubeconfig, strlen(kubeconfig), NULL, NULL, &config, &err) == 0,
                  "%s", err ? err : "");
    free(kubeconfig);
    kube_client_options_t copts;
    kube_client_options_default(&copts);
    copts.qps = 0;
    ck_assert_int_eq(kube_client_new(config, &copts, &client, &err), 0);
    controller_options_t opts = {.builder_image = "registry.local/s2i-builder:test"};
    ck_assert_int_eq(controller_manager_new(client, &opts, &manager), 0);
}

static void teardown(void)
{
    controller_manager_free(manager);
    kube_client_free(client);
    kube_config_free(config);
    server_stop(server);
}

static json_object *parse(const char *text)
{
    json_object *obj = json_tokener_parse(text);
    ck_assert_msg(obj != NULL, "bad JSON: %s", text);
    return obj;
}

/* A valid builder with the finalizer; extra_spec and status are JSON members or "". */
static json_object *make_builder(const char *extra_meta, const char *extra_spec, const char *status)
{
    char *text = util_asprintf(
        "{\"apiVersion\":\"devops.kubesphere.io/v1alpha1\",\"kind\":\"S2iBuilder\","
        "\"metadata\":{\"name\":\"" BUILDER "\",\"namespace\":\"" NS "\",\"uid\":\"b-uid\","
        "\"resourceVersion\":\"%d\",\"generation\":2,"
        "\"finalizers\":[\"" BUILDER_FINALIZER "\"]%s%s},"
        "\"spec\":{\"config\":{\"builderImage\":\"registry.local/s2i/nodejs:18\","
        "\"builderPullPolicy\":\"if-not-present\",\"imageName\":\"registry.local/demo/"
        "hello\",\"tag\":\"v1\","
        "\"sourceUrl\":\"https://git.example.com/demo/hello.git\"}%s%s}%s%s}",
        builder_rv++, *extra_meta ? "," : "", extra_meta, *extra_spec ? "," : "", extra_spec,
        *status ? ",\"status\":" : "", status);
    json_object *obj = parse(text);
    free(text);
    return obj;
}

/* A run of the builder. start/done/created: RFC 3339 or NULL; state NULL: no runState. */
static json_object *make_run(const char *name, const char *state, const char *start,
                             const char *done, const char *created, bool deleting)
{
    buf_t b = BUF_INIT;
    buf_printf(&b,
               "{\"apiVersion\":\"devops.kubesphere.io/v1alpha1\",\"kind\":\"S2iRun\","
               "\"metadata\":{\"name\":\"%s\",\"namespace\":\"" NS "\",\"uid\":\"uid-%s\","
               "\"resourceVersion\":\"%d\"",
               name, name, (int)strlen(name));
    if (created)
        buf_printf(&b, ",\"creationTimestamp\":\"%s\"", created);
    if (deleting)
        buf_printf(&b, ",\"deletionTimestamp\":\"" T3 "\",\"finalizers\":[\"x\"]");
    buf_printf(&b, "},\"spec\":{\"builderName\":\"" BUILDER "\"},\"status\":{");
    const char *sep = "";
    if (state) {
        buf_printf(&b, "\"runState\":\"%s\"", state);
        sep = ",";
    }
    if (start) {
        buf_printf(&b, "%s\"startTime\":\"%s\"", sep, start);
        sep = ",";
    }
    if (done)
        buf_printf(&b, "%s\"completionTime\":\"%s\"", sep, done);
    buf_puts(&b, "}}");
    json_object *obj = parse(buf_str(&b));
    buf_free(&b);
    return obj;
}

/* Replaces what the informers hold: builder (consumed, or NULL) and the runs (consumed,
 * NULL-terminated). */
static void cache(json_object *builder, ...)
{
    json_object *runs[64];
    size_t n = 0;
    va_list ap;
    va_start(ap, builder);
    for (json_object *r; (r = va_arg(ap, json_object *));)
        runs[n++] = r;
    va_end(ap);
    ck_assert_int_eq(informer_apply_list(manager->runs, runs, n, "100"), 0);
    ck_assert_int_eq(
        informer_apply_list(manager->builders, builder ? &builder : NULL, builder ? 1 : 0, "100"),
        0);
    for (size_t i = 0; i < n; i++)
        json_object_put(runs[i]);
    json_object_put(builder);
}

static int requests(void)
{
    pthread_mutex_lock(&server->lock);
    int n = server->requests;
    pthread_mutex_unlock(&server->lock);
    return n;
}

static const request_t *request(int i)
{
    ck_assert_int_lt(i, requests());
    return &server->log[i];
}

/* The status of the one status write made. */
static json_object *written_status(void)
{
    ck_assert_int_eq(requests(), 1);
    const request_t *r = request(0);
    ck_assert_str_eq(r->method, "PUT");
    ck_assert_str_eq(r->target, "/apis/devops.kubesphere.io/v1alpha1/namespaces/" NS
                                "/s2ibuilders/" BUILDER "/status");
    json_object *st = jpath(r->body, "status");
    ck_assert_ptr_nonnull(st);
    return st;
}

static const char *str_at(json_object *obj, const char *path)
{
    const char *s = jpath_str(obj, path);
    return s ? s : "(absent)";
}

/* "name,name,...": the runs deleted, in order. */
static char *deleted_runs(void)
{
    buf_t b = BUF_INIT;
    buf_puts(&b, "");
    for (int i = 0; i < requests(); i++) {
        const request_t *r = request(i);
        ck_assert_str_eq(r->method, "DELETE");
        const char *name = strrchr(r->target, '/');
        buf_printf(&b, "%s%s", b.len ? "," : "", name + 1);
    }
    return buf_steal(&b);
}

/* ---- status ----------------------------------------------------------------------------- */

START_TEST(test_status_counts_live_runs_and_names_the_latest_started)
{
    cache(make_builder("", "", ""), make_run("a", "Successful", T0, T1, T0, false),
          make_run("b", "Running", T2, NULL, T1, false),
          make_run("c", "Not Running Yet", NULL, NULL, T2, false),
          make_run("d", "Running", T3, NULL, T2, true), NULL);
    ck_assert_int_eq(reconcile_builder(manager, KEY), 0);
    json_object *st = written_status();
    /* d is being deleted: neither counted nor last; c has not started: counted. */
    ck_assert_int_eq(jpath_int(st, "runCount", -1), 3);
    ck_assert_str_eq(str_at(st, "lastRunName"), "b");
    ck_assert_str_eq(str_at(st, "lastRunState"), "Running");
    ck_assert_str_eq(str_at(st, "lastRunStartTime"), T2);
    ck_assert_int_eq(jpath_int(st, "observedGeneration", -1), 2);
    json_object *ready = json_object_array_get_idx(jpath(st, "conditions"), 0);
    ck_assert_str_eq(str_at(ready, "type"), "Ready");
    ck_assert_msg(strcmp(str_at(ready, "status"), "True") == 0, "%s", str_at(ready, "message"));
    ck_assert_str_eq(str_at(ready, "reason"), "Ready");
    ck_assert_int_eq(json_object_array_length(jpath(st, "conditions")), 1);
}
END_TEST

START_TEST(test_status_breaks_a_start_time_tie_by_name_and_keeps_the_text)
{
    /* Same second, written differently: the time text is passed on as the run has it. */
    cache(make_builder("", "", ""),
          make_run("run-2", "Failed", "2026-11-26T06:02:00.5Z", T3, T0, false),
          make_run("run-10", "Successful", T2, T3, T0, false),
          make_run("run-3", "Running", "bad time", NULL, T0, false), NULL);
    ck_assert_int_eq(reconcile_builder(manager, KEY), 0);
    json_object *st = written_status();
    ck_assert_int_eq(jpath_int(st, "runCount", -1), 3);
    ck_assert_str_eq(str_at(st, "lastRunName"), "run-2");
    ck_assert_str_eq(str_at(st, "lastRunState"), "Failed");
    ck_assert_str_eq(str_at(st, "lastRunStartTime"), "2026-11-26T06:02:00.5Z");
}
END_TEST

START_TEST(test_status_drops_the_last_run_when_no_run_has_started)
{
    cache(make_builder("", "",
                       "{\"runCount\":4,\"lastRunName\":\"gone\",\"lastRunState\":\"Failed\","
                       "\"lastRunStartTime\":\"" T0 "\",\"extra\":\"kept\"}"),
          make_run("new", NULL, NULL, NULL, T0, false), NULL);
    ck_assert_int_eq(reconcile_builder(manager, KEY), 0);
    json_object *st = written_status();
    ck_assert_int_eq(jpath_int(st, "runCount", -1), 1);
    ck_assert_str_eq(str_at(st, "lastRunName"), "(absent)");
    ck_assert_str_eq(str_at(st, "lastRunState"), "(absent)");
    ck_assert_str_eq(str_at(st, "lastRunStartTime"), "(absent)");
    ck_assert_str_eq(str_at(st, "extra"), "kept");
}
END_TEST

START_TEST(test_status_is_not_written_again_when_unchanged)
{
    cache(make_builder("", "", ""), make_run("a", "Successful", T0, T1, T0, false), NULL);
    ck_assert_int_eq(reconcile_builder(manager, KEY), 0);
    char *status = util_strdup(json_object_to_json_string(written_status()));
    server_reset(server);
    cache(make_builder("", "", status), make_run("a", "Successful", T0, T1, T0, false), NULL);
    free(status);
    ck_assert_int_eq(reconcile_builder(manager, KEY), 0);
    ck_assert_int_eq(requests(), 0);
}
END_TEST

START_TEST(test_status_of_an_invalid_builder_is_stalled)
{
    cache(make_builder("", "\"fromTemplate\":{\"name\":\"missing\"}", ""), NULL);
    ck_assert_int_eq(reconcile_builder(manager, KEY), 0);
    json_object *st = written_status();
    ck_assert_int_eq(jpath_int(st, "runCount", -1), 0);
    json_object *conds = jpath(st, "conditions");
    ck_assert_int_eq(json_object_array_length(conds), 2);
    ck_assert_str_eq(str_at(json_object_array_get_idx(conds, 0), "reason"), "TemplateNotFound");
    ck_assert_str_eq(str_at(json_object_array_get_idx(conds, 1), "type"), "Stalled");
}
END_TEST

/* ---- history limits ------------------------------------------------------------------------ */

START_TEST(test_history_limits_delete_the_oldest_finished_runs)
{
    cache(make_builder("", "\"successfulRunsHistoryLimit\":1,\"failedRunsHistoryLimit\":0", ""),
          /* s-b and s-c finished in the same second: the one started first goes first */
          make_run("s-c", "Successful", T1, T2, T0, false),
          make_run("s-b", "Successful", T0, T2, T0, false),
          make_run("s-a", "Successful", T0, T1, T0, false),
          make_run("s-d", "Successful", T2, T3, T1, false),
          /* being deleted: not deleted again */
          make_run("s-old", "Successful", T0, T0, T0, true),
          make_run("f-a", "Failed", T0, T1, T0, false),
          make_run("r-a", "Running", T0, NULL, T0, false), NULL);
    ck_assert_int_eq(reconcile_builder(manager, KEY), 0);
    /* No status write: it follows once the deletions reach the cache. */
    char *deleted = deleted_runs();
    ck_assert_str_eq(deleted, "s-a,s-b,s-c,f-a");
    free(deleted);
    const request_t *r = request(0);
    ck_assert_str_eq(r->target,
                     "/apis/devops.kubesphere.io/v1alpha1/namespaces/" NS "/s2iruns/s-a");
    ck_assert_str_eq(str_at(r->body, "propagationPolicy"), "Background");
    ck_assert_str_eq(str_at(r->body, "preconditions.uid"), "uid-s-a");
}
END_TEST

START_TEST(test_history_limit_ties_fall_back_to_creation_then_name)
{
    cache(make_builder("", "\"successfulRunsHistoryLimit\":1", ""),
          make_run("y", "Successful", T0, T1, T0, false),
          make_run("x", "Successful", T0, T1, T0, false),
          make_run("w", "Successful", T0, T1, T1, false), NULL);
    ck_assert_int_eq(reconcile_builder(manager, KEY), 0);
    char *deleted = deleted_runs();
    ck_assert_str_eq(deleted, "x,y");
    free(deleted);
}
END_TEST

START_TEST(test_no_history_limit_keeps_every_run)
{
    cache(make_builder("", "", ""), make_run("a", "Successful", T0, T1, T0, false),
          make_run("b", "Failed", T1, T2, T0, false), NULL);
    ck_assert_int_eq(reconcile_builder(manager, KEY), 0);
    ck_assert_int_eq(jpath_int(written_status(), "runCount", -1), 2);
}
END_TEST

/* ---- finalizer and deletion ----------------------------------------------------------------- */

START_TEST(test_builder_without_finalizer_gets_it)
{
    json_object *b = make_builder("", "", "");
    jpath_del(b, "metadata.finalizers");
    cache(b, NULL);
    ck_assert_int_eq(reconcile_builder(manager, KEY), 0);
    ck_assert_int_ge(requests(), 1);
    const request_t *r = request(0);
    ck_assert_str_eq(r->method, "PATCH");
    ck_assert_str_eq(
        json_object_to_json_string_ext(r->body, JSON_C_TO_STRING_PLAIN),
        "[{\"op\":\"test\",\"path\":\"\\/metadata\\/resourceVersion\",\"value\":\"10\"},"
        "{\"op\":\"add\",\"path\":\"\\/metadata\\/finalizers\",\"value\":[\"" BUILDER_FINALIZER
        "\"]}]");
}
END_TEST

START_TEST(test_deleted_builder_deletes_its_runs_then_drops_the_finalizer)
{
    const char *deleting = "\"deletionTimestamp\":\"" T3 "\"";
    cache(make_builder(deleting, "", ""), make_run("a", "Successful", T0, T1, T0, false),
          make_run("b", "Running", T1, NULL, T0, true), make_run("c", NULL, NULL, NULL, T0, false),
          NULL);
    /* Runs left: delete those not being deleted yet, and come back later. */
    ck_assert_int_eq(reconcile_builder(manager, KEY), 500);
    char *deleted = deleted_runs();
    ck_assert(strcmp(deleted, "a,c") == 0 || strcmp(deleted, "c,a") == 0);
    free(deleted);
    server_reset(server);
    cache(make_builder(deleting, "", ""), NULL);
    ck_assert_int_eq(reconcile_builder(manager, KEY), 0);
    ck_assert_int_eq(requests(), 1);
    ck_assert_str_eq(request(0)->method, "PATCH");
    ck_assert_str_eq(
        json_object_to_json_string_ext(
            jpath(json_object_array_get_idx(request(0)->body, 1), "value"), JSON_C_TO_STRING_PLAIN),
        "[]");
}
END_TEST

START_TEST(test_unknown_builder_is_done)
{
    cache(NULL, make_run("a", "Successful", T0, T1, T0, false), NULL);
    ck_assert_int_eq(reconcile_builder(manager, KEY), 0);
    ck_assert_int_eq(requests(), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("controller_s2ibuilder");
    TCase *tc = tcase_create("reconcile_builder");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_status_counts_live_runs_and_names_the_latest_started);
    tcase_add_test(tc, test_status_breaks_a_start_time_tie_by_name_and_keeps_the_text);
    tcase_add_test(tc, test_status_drops_the_last_run_when_no_run_has_started);
    tcase_add_test(tc, test_status_is_not_written_again_when_unchanged);
    tcase_add_test(tc, test_status_of_an_invalid_builder_is_stalled);
    tcase_add_test(tc, test_history_limits_delete_the_oldest_finished_runs);
    tcase_add_test(tc, test_history_limit_ties_fall_back_to_creation_then_name);
    tcase_add_test(tc, test_no_history_limit_keeps_every_run);
    tcase_add_test(tc, test_builder_without_finalizer_gets_it);
    tcase_add_test(tc, test_deleted_builder_deletes_its_runs_then_drops_the_finalizer);
    tcase_add_test(tc, test_unknown_builder_is_done);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

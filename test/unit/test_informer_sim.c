/*
 * Integration tests for pkg/informer against test/kube-sim, started as a subprocess
 * (tests run from the repository root). Each scenario ends with the same two checks:
 *   - the informer's store equals the server (a fresh list: same keys, same
 *     resourceVersions), and
 *   - what the handlers were told adds up to the same state, with no update or delete of
 *     a key they were never told about, and no add of a key they already had (so a
 *     missing delete shows up as a key the handlers still hold).
 * Faults come from kube-sim's admin API: closed and expired watches, compaction, 500 /
 * 429 / 504 answers, latency, and an API server restart.
 */
#include <check.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "informer/informer.h"
#include "informer/informer_internal.h"
#include "util/util.h"

/* How long the store may take to catch up with the server; far beyond what is needed,
 * so that valgrind cannot make the tests fail. */
#define CONVERGE_SECONDS 60.0

/* ---- kube-sim -------------------------------------------------------------------- */

static struct {
    pid_t pid;
    int out_fd; /* kept open so kube-sim never writes to a closed pipe */
    char dir[64];
    char kubeconfig[128];
    char url[128];
} sim = {.pid = -1, .out_fd = -1};

static void sim_start(void)
{
    snprintf(sim.dir, sizeof(sim.dir), "/tmp/informer-sim-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(sim.dir));
    snprintf(sim.kubeconfig, sizeof(sim.kubeconfig), "%s/kubeconfig", sim.dir);
    char certs[128];
    snprintf(certs, sizeof(certs), "%s/certs", sim.dir);
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t parent = getpid();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* kube-sim goes when the test binary goes, however it ends */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        if (chdir("test/kube-sim") < 0)
            _exit(127);
        execlp("python3", "python3", "-m", "kube_sim", "--port", "0", "--kubeconfig-out",
               sim.kubeconfig, "--cert-dir", certs, "--bookmark-interval", "1", "--controllers",
               "namespace", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    sim.pid = pid;
    sim.out_fd = fds[0];
    /* wait for "kube-sim listening on URL" */
    char line[512];
    size_t len = 0;
    double deadline = util_monotonic() + 60;
    while (!memchr(line, '\n', len)) {
        struct pollfd p = {sim.out_fd, POLLIN, 0};
        ck_assert_msg(util_monotonic() < deadline, "kube-sim did not start in 60 s");
        if (poll(&p, 1, 1000) <= 0)
            continue;
        ssize_t n = read(sim.out_fd, line + len, sizeof(line) - 1 - len);
        ck_assert_msg(n > 0, "kube-sim exited before listening");
        len += (size_t)n;
    }
    line[len] = '\0';
    const char *prefix = "kube-sim listening on ";
    char *at = strstr(line, prefix);
    ck_assert_msg(at, "unexpected kube-sim output: %s", line);
    at += strlen(prefix);
    at[strcspn(at, "\r\n")] = '\0';
    snprintf(sim.url, sizeof(sim.url), "%s", at);
}

static void sim_stop(void)
{
    if (sim.pid > 0) {
        kill(sim.pid, SIGTERM);
        waitpid(sim.pid, NULL, 0);
        sim.pid = -1;
    }
    if (sim.out_fd >= 0)
        close(sim.out_fd);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sim.dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", sim.dir);
}

/* ---- clients, per test ---------------------------------------------------------------- */

static kube_config_t *config;
static kube_client_t *client;          /* the test's own requests */
static kube_client_t *informer_client; /* the informer's: few Retry-After retries */

static const kube_resource_t configmaps = {"", "v1", "configmaps", true};
static const kube_resource_t namespaces = {"", "v1", "namespaces", false};

static void clients_setup(void)
{
    char *err = NULL;
    ck_assert_msg(kube_config_load_file(sim.kubeconfig, NULL, &config, &err) == 0, "%s",
                  err ? err : "");
    kube_client_options_t opts;
    kube_client_options_default(&opts);
    opts.qps = -1;
    ck_assert_int_eq(kube_client_new(config, &opts, &client, &err), 0);
    opts.max_retries = 1;
    ck_assert_int_eq(kube_client_new(config, &opts, &informer_client, &err), 0);
}

static void clients_teardown(void)
{
    kube_client_free(informer_client);
    kube_client_free(client);
    kube_config_free(config);
}

/* POST/DELETE to kube-sim's admin API. */
static void admin(const char *method, const char *path, const char *body)
{
    kube_auth_t auth = {0};
    char *err = NULL;
    ck_assert_int_eq(kube_config_auth(config, &auth, &err), 0);
    CURL *h = curl_easy_init();
    char url[256], bearer[256];
    snprintf(url, sizeof(url), "%s/kube-sim/%s", sim.url, path);
    snprintf(bearer, sizeof(bearer), "Authorization: Bearer %s", auth.token);
    struct curl_slist *headers = curl_slist_append(NULL, bearer);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    struct curl_blob ca = {config->ca_data, config->ca_data_len, CURL_BLOB_COPY};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fwrite);
    FILE *sink = fopen("/dev/null", "w");
    curl_easy_setopt(h, CURLOPT_WRITEDATA, sink);
    CURLcode cc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    fclose(sink);
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    kube_auth_clear(&auth);
    ck_assert_msg(cc == CURLE_OK && code == 200, "%s %s: curl %d, HTTP %ld", method, path, cc,
                  code);
}

static void fault(const char *verb, int code, int count)
{
    char body[160];
    snprintf(body, sizeof(body),
             "{\"verb\":\"%s\",\"resource\":\"configmaps\",\"code\":%d,\"count\":%d,"
             "\"retryAfter\":1}",
             verb, code, count);
    admin("POST", "faults", body);
}

static void create_namespace(const char *ns)
{
    char body[128];
    snprintf(body, sizeof(body),
             "{\"kind\":\"Namespace\",\"apiVersion\":\"v1\",\"metadata\":"
             "{\"name\":\"%s\"}}",
             ns);
    json_object *obj = json_tokener_parse(body);
    kube_result_t r = KUBE_RESULT_INIT;
    kube_err_t err = kube_create(client, &namespaces, NULL, obj, NULL, &r);
    ck_assert_msg(err == KUBE_OK || err == KUBE_ERR_ALREADY_EXISTS, "namespace %s: %s", ns,
                  kube_err_name(err));
    kube_result_clear(&r);
    json_object_put(obj);
}

/* Creates a ConfigMap; a label "informer-test" when label is set. Returns the error. */
static kube_err_t cm_create(const char *ns, const char *name, const char *label)
{
    char *body = util_asprintf(
        "{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"%s\"%s%s%s},"
        "\"data\":{\"v\":\"0\",\"script\":\"#!/bin/sh\\nexec /usr/libexec/s2i/run\"}}",
        name, label ? ",\"labels\":{\"informer-test\":\"" : "", label ? label : "",
        label ? "\"}" : "");
    json_object *obj = json_tokener_parse(body);
    free(body);
    kube_result_t r = KUBE_RESULT_INIT;
    kube_write_options_t wo = {.field_manager = "informer-test"};
    kube_err_t err = kube_create(client, &configmaps, ns, obj, &wo, &r);
    kube_result_clear(&r);
    json_object_put(obj);
    return err;
}

static kube_err_t cm_patch(const char *ns, const char *name, const char *patch)
{
    kube_result_t r = KUBE_RESULT_INIT;
    kube_err_t err =
        kube_patch(client, &configmaps, ns, name, NULL, KUBE_PATCH_MERGE, patch, NULL, &r);
    kube_result_clear(&r);
    return err;
}

static kube_err_t cm_touch(const char *ns, const char *name, int value)
{
    char patch[64];
    snprintf(patch, sizeof(patch), "{\"data\":{\"v\":\"%d\"}}", value);
    return cm_patch(ns, name, patch);
}

static kube_err_t cm_delete(const char *ns, const char *name)
{
    kube_result_t r = KUBE_RESULT_INIT;
    kube_err_t err = kube_delete(client, &configmaps, ns, name, NULL, &r);
    kube_result_clear(&r);
    return err;
}

static void must(kube_err_t err, const char *what)
{
    ck_assert_msg(err == KUBE_OK, "%s: %s", what, kube_err_name(err));
}

/* The server's view: key -> resourceVersion. NULL while the server cannot answer. */
static strmap_t *server_state(const char *ns, const char *label_selector,
                              const char *field_selector)
{
    kube_list_options_t lo = {.label_selector = label_selector, .field_selector = field_selector};
    kube_result_t r = KUBE_RESULT_INIT;
    if (kube_list(client, &configmaps, ns, &lo, &r) != KUBE_OK) {
        kube_result_clear(&r);
        return NULL;
    }
    strmap_t *m = strmap_new(free);
    json_object *items;
    ck_assert(json_object_object_get_ex(r.body, "items", &items));
    for (size_t i = 0; i < json_object_array_length(items); i++) {
        json_object *item = json_object_array_get_idx(items, i), *meta, *rv;
        char *key = store_object_key(item);
        ck_assert(json_object_object_get_ex(item, "metadata", &meta) &&
                  json_object_object_get_ex(meta, "resourceVersion", &rv));
        strmap_set(m, key, strdup(json_object_get_string(rv)));
        free(key);
    }
    kube_result_clear(&r);
    return m;
}

static void wait_server_up(void)
{
    double deadline = util_monotonic() + 60;
    strmap_t *m;
    while (!(m = server_state("default", NULL, NULL))) {
        ck_assert_msg(util_monotonic() < deadline, "kube-sim did not come back");
        util_sleep(0.1);
    }
    strmap_free(m);
}

/* ---- what the handlers were told --------------------------------------------------------- */

typedef struct recorder {
    pthread_mutex_t lock;
    strmap_t *model; /* key -> resourceVersion (malloc'd) */
    int violations;
    char first_violation[256];
    size_t adds, updates, deletes, resync_updates;
} recorder_t;

static recorder_t rec;

static void recorder_reset(void)
{
    pthread_mutex_init(&rec.lock, NULL);
    rec.model = strmap_new(free);
    rec.violations = 0;
    rec.first_violation[0] = '\0';
    rec.adds = rec.updates = rec.deletes = rec.resync_updates = 0;
}

static void recorder_free(void)
{
    strmap_free(rec.model);
    pthread_mutex_destroy(&rec.lock);
}

static const char *rv_of(json_object *obj)
{
    json_object *meta, *rv;
    if (!json_object_object_get_ex(obj, "metadata", &meta) ||
        !json_object_object_get_ex(meta, "resourceVersion", &rv))
        return "";
    return json_object_get_string(rv);
}

static void violation(const char *what, const char *key)
{
    if (rec.violations++ == 0)
        snprintf(rec.first_violation, sizeof(rec.first_violation), "%s %s", what, key);
}

static void on_add(json_object *obj, void *data)
{
    (void)data;
    char *key = store_object_key(obj);
    pthread_mutex_lock(&rec.lock);
    rec.adds++;
    if (strmap_get(rec.model, key))
        violation("add of known", key);
    strmap_set(rec.model, key, strdup(rv_of(obj)));
    pthread_mutex_unlock(&rec.lock);
    free(key);
}

static void on_update(json_object *old_obj, json_object *new_obj, void *data)
{
    (void)data;
    char *key = store_object_key(new_obj);
    pthread_mutex_lock(&rec.lock);
    rec.updates++;
    if (old_obj == new_obj)
        rec.resync_updates++;
    const char *known = strmap_get(rec.model, key);
    if (!known)
        violation("update of unknown", key);
    else if (strcmp(known, rv_of(old_obj)) != 0)
        violation("update from a state never delivered", key);
    strmap_set(rec.model, key, strdup(rv_of(new_obj)));
    pthread_mutex_unlock(&rec.lock);
    free(key);
}

static void on_delete(json_object *obj, void *data)
{
    (void)data;
    char *key = store_object_key(obj);
    pthread_mutex_lock(&rec.lock);
    rec.deletes++;
    if (!strmap_del(rec.model, key))
        violation("delete of unknown", key);
    pthread_mutex_unlock(&rec.lock);
    free(key);
}

/* First difference between want (key -> rv) and got, or NULL when equal. */
static char *map_diff(strmap_t *want, strmap_t *got, const char *got_name)
{
    strmap_iter_t it;
    const char *key;
    void *rv;
    strmap_iter_init(&it, want);
    while (strmap_iter_next(&it, &key, &rv)) {
        const char *have = strmap_get(got, key);
        if (!have)
            return util_asprintf("%s lacks %s@%s", got_name, key, (char *)rv);
        if (strcmp(have, rv) != 0)
            return util_asprintf("%s has %s@%s, server @%s", got_name, key, have, (char *)rv);
    }
    strmap_iter_init(&it, got);
    while (strmap_iter_next(&it, &key, &rv))
        if (!strmap_get(want, key))
            return util_asprintf("%s has %s@%s, gone from the server", got_name, key, (char *)rv);
    return NULL;
}

static strmap_t *store_state(store_t *store)
{
    strmap_t *m = strmap_new(free);
    char **keys;
    size_t n;
    ck_assert_int_eq(store_list_keys(store, &keys, &n), 0);
    for (size_t i = 0; i < n; i++) {
        char *rv = store_get_resource_version(store, keys[i]);
        if (rv)
            strmap_set(m, keys[i], rv);
    }
    store_keys_free(keys, n);
    return m;
}

/* Waits until store and handlers agree with the server. */
static void expect_converged(informer_t *inf, const char *ns, const char *label_selector,
                             const char *field_selector)
{
    double deadline = util_monotonic() + CONVERGE_SECONDS;
    char *why = NULL;
    for (;;) {
        strmap_t *server = server_state(ns, label_selector, field_selector);
        if (server) {
            strmap_t *store = store_state(informer_store(inf));
            free(why);
            why = map_diff(server, store, "store");
            if (!why) {
                pthread_mutex_lock(&rec.lock);
                why = map_diff(server, rec.model, "handlers");
                pthread_mutex_unlock(&rec.lock);
            }
            strmap_free(store);
            strmap_free(server);
            if (!why)
                break;
        }
        if (util_monotonic() > deadline)
            ck_abort_msg("not converged after %.0f s: %s", CONVERGE_SECONDS,
                         why ? why : "server unreachable");
        util_sleep(0.05);
    }
    ck_assert_msg(rec.violations == 0, "%d inconsistent handler calls, first: %s", rec.violations,
                  rec.first_violation);
}

static informer_t *start_informer(const char *ns, const informer_options_t *extra)
{
    informer_options_t opts = extra ? *extra : (informer_options_t){0};
    opts.resource = &configmaps;
    opts.namespace = ns;
    if (!opts.page_size && !opts.page_bytes)
        opts.page_size = 10;
    if (!opts.backoff_initial)
        opts.backoff_initial = 0.05;
    if (!opts.backoff_max)
        opts.backoff_max = 0.5;
    informer_t *inf = informer_new(informer_client, &opts);
    ck_assert_ptr_nonnull(inf);
    informer_handlers_t h = {on_add, on_update, on_delete, NULL};
    ck_assert_int_eq(informer_add_handlers(inf, &h), 0);
    ck_assert_int_eq(informer_start(inf), 0);
    return inf;
}

static void create_many(const char *ns, int n)
{
    create_namespace(ns);
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "cm-%02d", i);
        must(cm_create(ns, name, NULL), name);
    }
}

static informer_stats_t stats_of(informer_t *inf)
{
    informer_stats_t st;
    informer_get_stats(inf, &st);
    return st;
}

static void setup(void)
{
    clients_setup();
    recorder_reset();
}

static void teardown(void)
{
    admin("DELETE", "faults", NULL);
    recorder_free();
    clients_teardown();
}

/* ---- scenarios ------------------------------------------------------------------------ */

START_TEST(test_sim_lists_pages_then_follows_watch_events)
{
    const char *ns = "inf-basic";
    create_many(ns, 25);
    /* adaptive paging with a tiny budget: the first page (20), then the smallest (10) */
    informer_options_t opts = {.transform = informer_transform_strip, .page_bytes = 1};
    informer_t *inf = start_informer(ns, &opts);
    ck_assert(informer_wait_for_sync(inf, CONVERGE_SECONDS));
    ck_assert(store_has_synced(informer_store(inf)));
    expect_converged(inf, ns, NULL, NULL);
    informer_stats_t st = stats_of(inf);
    ck_assert_uint_eq(st.list_pages, 2);
    ck_assert_uint_eq(st.lists, 1);
    ck_assert_uint_eq(st.objects, 26); /* and the namespace's kube-root-ca.crt */

    must(cm_touch(ns, "cm-01", 1), "touch");
    must(cm_touch(ns, "cm-01", 2), "touch");
    must(cm_delete(ns, "cm-02"), "delete");
    must(cm_create(ns, "new-1", NULL), "create");
    expect_converged(inf, ns, NULL, NULL);
    /* the transform dropped managedFields, which kube-sim writes */
    json_object *cm = informer_get(inf, "inf-basic/cm-01");
    json_object *meta, *data, *v;
    ck_assert(json_object_object_get_ex(cm, "metadata", &meta));
    ck_assert(!json_object_object_get_ex(meta, "managedFields", NULL));
    ck_assert(json_object_object_get_ex(cm, "data", &data) &&
              json_object_object_get_ex(data, "v", &v));
    ck_assert_str_eq(json_object_get_string(v), "2");
    json_object_put(cm);
    ck_assert_uint_eq(rec.deletes, 1);

    /* idle: bookmarks (every second here) move the resourceVersion on */
    double deadline = util_monotonic() + CONVERGE_SECONDS;
    while (stats_of(inf).bookmarks == 0) {
        ck_assert(util_monotonic() < deadline);
        util_sleep(0.1);
    }
    st = stats_of(inf);
    ck_assert_uint_ge(st.events, 5);
    ck_assert_uint_eq(st.errors, 0);
    ck_assert_uint_eq(st.relists, 0);
    /* stop is prompt while a watch is open */
    double t0 = util_monotonic();
    informer_stop(inf);
    /* The open watch would otherwise run for minutes; loose bound for loaded machines. */
    ck_assert_double_lt(util_monotonic() - t0, 10.0);
    informer_free(inf);
}
END_TEST

/* Random creates, updates and deletes on cm-00..cm-29 until *stop. */
typedef struct churn {
    const char *ns;
    atomic_bool stop;
    atomic_int ops;
} churn_t;

static void *churn_main(void *arg)
{
    churn_t *c = arg;
    unsigned int seed = 7;
    while (!atomic_load(&c->stop)) {
        char name[32];
        int i = rand_r(&seed) % 30;
        snprintf(name, sizeof(name), "cm-%02d", i);
        int op = rand_r(&seed) % 10;
        if (op < 2)
            cm_delete(c->ns, name);
        else if (cm_touch(c->ns, name, rand_r(&seed)) == KUBE_ERR_NOT_FOUND)
            cm_create(c->ns, name, NULL);
        atomic_fetch_add(&c->ops, 1);
        util_sleep(0.005);
    }
    return NULL;
}

static void churn_start(churn_t *c, pthread_t *t, const char *ns)
{
    c->ns = ns;
    atomic_init(&c->stop, false);
    atomic_init(&c->ops, 0);
    ck_assert_int_eq(pthread_create(t, NULL, churn_main, c), 0);
}

static void churn_stop(churn_t *c, pthread_t t)
{
    atomic_store(&c->stop, true);
    pthread_join(t, NULL);
}

START_TEST(test_sim_resumes_watch_closed_repeatedly_while_objects_change)
{
    const char *ns = "inf-closed";
    create_many(ns, 20);
    informer_t *inf = start_informer(ns, NULL);
    ck_assert(informer_wait_for_sync(inf, CONVERGE_SECONDS));
    churn_t c;
    pthread_t t;
    churn_start(&c, &t, ns);
    for (int i = 0; i < 8; i++) {
        util_sleep(0.4 + 0.1 * (i % 3));
        admin("POST", "close-watches", NULL);
    }
    churn_stop(&c, t);
    expect_converged(inf, ns, NULL, NULL);
    informer_stats_t st = stats_of(inf);
    ck_assert_int_gt(atomic_load(&c.ops), 50);
    ck_assert_uint_ge(st.watch_restarts, 4);
    /* every break was resumed from the last resourceVersion, none needed a list */
    ck_assert_uint_eq(st.relists, 0);
    ck_assert_uint_eq(st.lists, 1);
    informer_free(inf);
}
END_TEST

START_TEST(test_sim_relists_after_410_and_delivers_deletes_missed_meanwhile)
{
    const char *ns = "inf-gone";
    create_many(ns, 20);
    informer_t *inf = start_informer(ns, NULL);
    ck_assert(informer_wait_for_sync(inf, CONVERGE_SECONDS));
    expect_converged(inf, ns, NULL, NULL);

    /* keep the informer away: its watch breaks and every new one fails */
    fault("watch", 500, 0);
    admin("POST", "close-watches", NULL);
    double deadline = util_monotonic() + CONVERGE_SECONDS;
    while (stats_of(inf).errors == 0) {
        ck_assert(util_monotonic() < deadline);
        util_sleep(0.01);
    }
    for (int i = 0; i < 6; i++) {
        char name[32];
        snprintf(name, sizeof(name), "cm-%02d", i);
        must(cm_delete(ns, name), name);
    }
    must(cm_delete(ns, "cm-06"), "delete");
    must(cm_create(ns, "cm-06", NULL), "recreate"); /* same name, new uid */
    must(cm_touch(ns, "cm-07", 7), "touch");
    must(cm_create(ns, "late", NULL), "create");
    admin("POST", "compact", NULL); /* its resourceVersion is gone now */
    admin("DELETE", "faults", NULL);
    expect_converged(inf, ns, NULL, NULL);
    informer_stats_t st = stats_of(inf);
    ck_assert_uint_ge(st.relists, 1);
    ck_assert_uint_ge(st.errors, 1);
    ck_assert_uint_ge(rec.deletes, 7); /* six gone, one recreated */

    /* an ERROR 410 in an open watch, while objects change */
    churn_t c;
    pthread_t t;
    churn_start(&c, &t, ns);
    util_sleep(0.5);
    admin("POST", "expire-watches", NULL);
    util_sleep(0.5);
    churn_stop(&c, t);
    expect_converged(inf, ns, NULL, NULL);
    ck_assert_uint_gt(stats_of(inf).relists, st.relists);
    informer_free(inf);
}
END_TEST

START_TEST(test_sim_backs_off_on_500_and_429_from_list_and_watch)
{
    const char *ns = "inf-errors";
    create_many(ns, 15);
    fault("list", 500, 2);
    fault("list", 429, 2);
    fault("watch", 500, 2);
    fault("watch", 429, 2);
    informer_t *inf = start_informer(ns, NULL);
    ck_assert(informer_wait_for_sync(inf, CONVERGE_SECONDS));
    must(cm_touch(ns, "cm-03", 3), "touch");
    must(cm_delete(ns, "cm-04"), "delete");
    expect_converged(inf, ns, NULL, NULL);
    informer_stats_t st = stats_of(inf);
    /* list: 500, 500, 429 (after one Retry-After retry); watch: 500, 500, 429 */
    ck_assert_uint_ge(st.errors, 6);
    ck_assert_uint_eq(st.lists, 1);

    /* a watch failing again later is retried from where it was, without a list */
    fault("watch", 500, 3);
    admin("POST", "close-watches", NULL);
    must(cm_touch(ns, "cm-05", 5), "touch");
    must(cm_create(ns, "added-during-errors", NULL), "create");
    expect_converged(inf, ns, NULL, NULL);
    ck_assert_uint_ge(stats_of(inf).errors, st.errors + 3);
    ck_assert_uint_eq(stats_of(inf).relists, 0);
    informer_free(inf);
}
END_TEST

START_TEST(test_sim_retries_list_answering_504)
{
    const char *ns = "inf-504";
    create_many(ns, 5);
    fault("list", 504, 2);
    informer_t *inf = start_informer(ns, NULL);
    ck_assert(informer_wait_for_sync(inf, CONVERGE_SECONDS));
    expect_converged(inf, ns, NULL, NULL);
    ck_assert_uint_ge(stats_of(inf).errors, 2);
    informer_free(inf);
}
END_TEST

START_TEST(test_sim_restarts_list_when_continue_token_expires)
{
    const char *ns = "inf-continue";
    create_many(ns, 25);
    /* slow pages, so the snapshot can be compacted between page 1 and page 2 */
    admin("POST", "faults", "{\"verb\":\"list\",\"resource\":\"configmaps\",\"latencyMs\":1000}");
    informer_t *inf = start_informer(ns, NULL);
    double deadline = util_monotonic() + CONVERGE_SECONDS;
    while (stats_of(inf).list_pages < 1) {
        ck_assert(util_monotonic() < deadline);
        util_sleep(0.01);
    }
    must(cm_create(ns, "after-page-1", NULL), "create");
    admin("POST", "compact", NULL);
    admin("DELETE", "faults", NULL);
    ck_assert(informer_wait_for_sync(inf, CONVERGE_SECONDS));
    expect_converged(inf, ns, NULL, NULL);
    informer_stats_t st = stats_of(inf);
    /* page 1, page 2 answered 410, then the list again from the start in bigger pages */
    ck_assert_uint_ge(st.list_pages, 3);
    ck_assert_uint_eq(st.lists, 1);
    ck_assert_uint_eq(st.errors, 0);
    informer_free(inf);
}
END_TEST

/* Compaction that outruns every paginated list (slow pages, history compacted every
 * 50 ms while writes go on): the list is restarted with bigger pages, then made in one
 * request (client-go's FullListIfExpired); it completes without an error. Before, it
 * failed after three restarts and never synced while the compaction lasted. */
static atomic_bool compacting;
static void *compact_loop(void *arg)
{
    (void)arg;
    for (int i = 0; atomic_load(&compacting); i++) {
        cm_touch("inf-compact-side", "side", i);
        admin("POST", "compact", NULL);
        util_sleep(0.05);
    }
    return NULL;
}

START_TEST(test_sim_list_completes_while_compaction_outruns_its_pages)
{
    const char *ns = "inf-compacting";
    create_many(ns, 400);
    create_namespace("inf-compact-side");
    must(cm_create("inf-compact-side", "side", NULL), "create");
    admin("POST", "faults", "{\"verb\":\"list\",\"resource\":\"configmaps\",\"latencyMs\":200}");
    atomic_store(&compacting, true);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, compact_loop, NULL), 0);
    informer_options_t opts = {.page_size = 5};
    informer_t *inf = start_informer(ns, &opts);
    bool synced = informer_wait_for_sync(inf, CONVERGE_SECONDS);
    atomic_store(&compacting, false);
    pthread_join(t, NULL);
    admin("DELETE", "faults", NULL);
    ck_assert_msg(synced, "no complete list while compaction went on");
    informer_stats_t st = stats_of(inf);
    ck_assert_uint_eq(st.errors, 0);
    ck_assert_uint_eq(st.lists, 1);
    ck_assert_uint_ge(st.list_pages, 3); /* at least one expired continue token */
    ck_assert_uint_ge(store_len(informer_store(inf)), 400); /* + kube-root-ca.crt */
    expect_converged(inf, ns, NULL, NULL);
    informer_free(inf);
}
END_TEST

START_TEST(test_sim_survives_api_server_restart)
{
    const char *ns = "inf-restart";
    create_many(ns, 10);
    informer_t *inf = start_informer(ns, NULL);
    ck_assert(informer_wait_for_sync(inf, CONVERGE_SECONDS));
    must(cm_touch(ns, "cm-01", 1), "touch");
    expect_converged(inf, ns, NULL, NULL);
    admin("POST", "restart", "{\"downSeconds\":1,\"keepState\":true}");
    util_sleep(0.2);
    wait_server_up();
    must(cm_touch(ns, "cm-02", 2), "touch");
    must(cm_delete(ns, "cm-03"), "delete");
    must(cm_create(ns, "after-restart", NULL), "create");
    expect_converged(inf, ns, NULL, NULL);
    ck_assert_uint_ge(stats_of(inf).watch_restarts, 1);
    informer_free(inf);
}
END_TEST

START_TEST(test_sim_selectors_across_all_namespaces)
{
    create_namespace("inf-sel-a");
    create_namespace("inf-sel-b");
    must(cm_create("inf-sel-a", "in-1", "sel"), "create");
    must(cm_create("inf-sel-a", "out-1", NULL), "create");
    must(cm_create("inf-sel-b", "in-2", "sel"), "create");
    must(cm_create("inf-sel-b", "other", "other"), "create");
    informer_options_t opts = {.label_selector = "informer-test=sel"};
    informer_t *inf = start_informer(NULL, &opts);
    ck_assert(informer_wait_for_sync(inf, CONVERGE_SECONDS));
    expect_converged(inf, NULL, "informer-test=sel", NULL);
    ck_assert_uint_eq(store_len(informer_store(inf)), 2);
    /* an object leaving the selector is a delete; one entering it an add */
    must(cm_patch("inf-sel-a", "in-1", "{\"metadata\":{\"labels\":{\"informer-test\":null}}}"),
         "unlabel");
    must(cm_patch("inf-sel-b", "other", "{\"metadata\":{\"labels\":{\"informer-test\":\"sel\"}}}"),
         "relabel");
    expect_converged(inf, NULL, "informer-test=sel", NULL);
    ck_assert(store_contains(informer_store(inf), "inf-sel-b/other"));
    ck_assert(!store_contains(informer_store(inf), "inf-sel-a/in-1"));
    informer_free(inf);

    recorder_free();
    recorder_reset();
    opts = (informer_options_t){.field_selector = "metadata.name=in-2"};
    inf = start_informer("inf-sel-b", &opts);
    ck_assert(informer_wait_for_sync(inf, CONVERGE_SECONDS));
    expect_converged(inf, "inf-sel-b", NULL, "metadata.name=in-2");
    ck_assert_uint_eq(store_len(informer_store(inf)), 1);
    informer_free(inf);
}
END_TEST

START_TEST(test_sim_resync_redelivers_cached_objects)
{
    const char *ns = "inf-resync";
    create_many(ns, 3);
    informer_options_t opts = {.resync_period = 0.5};
    informer_t *inf = start_informer(ns, &opts);
    ck_assert(informer_wait_for_sync(inf, CONVERGE_SECONDS));
    double deadline = util_monotonic() + CONVERGE_SECONDS;
    while (stats_of(inf).resyncs < 2) {
        ck_assert(util_monotonic() < deadline);
        util_sleep(0.05);
    }
    expect_converged(inf, ns, NULL, NULL);
    pthread_mutex_lock(&rec.lock);
    ck_assert_uint_ge(rec.resync_updates, 8); /* 4 objects, twice */
    pthread_mutex_unlock(&rec.lock);
    informer_free(inf);
}
END_TEST

int main(void)
{
    log_set_verbosity(0);
    Suite *s = suite_create("informer-sim");
    TCase *tc = tcase_create("kube-sim");
    tcase_add_unchecked_fixture(tc, sim_start, sim_stop);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_sim_lists_pages_then_follows_watch_events);
    tcase_add_test(tc, test_sim_resumes_watch_closed_repeatedly_while_objects_change);
    tcase_add_test(tc, test_sim_relists_after_410_and_delivers_deletes_missed_meanwhile);
    tcase_add_test(tc, test_sim_backs_off_on_500_and_429_from_list_and_watch);
    tcase_add_test(tc, test_sim_retries_list_answering_504);
    tcase_add_test(tc, test_sim_restarts_list_when_continue_token_expires);
    tcase_add_test(tc, test_sim_list_completes_while_compaction_outruns_its_pages);
    tcase_add_test(tc, test_sim_survives_api_server_restart);
    tcase_add_test(tc, test_sim_selectors_across_all_namespaces);
    tcase_add_test(tc, test_sim_resync_redelivers_cached_objects);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

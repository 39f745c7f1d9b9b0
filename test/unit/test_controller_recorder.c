/*
 * Integration tests for pkg/controller/recorder against test/kube-sim, started once as a
 * subprocess (tests run from the repository root): the Events it writes (involved
 * object, reason, type, source), repeats folded into one Event whose count grows, the
 * per-object spam filter, flushing on free, and what happens when the API server
 * refuses or has lost an Event.
 *
 * Every test uses objects of its own (names and uids), so the tests share one server
 * and may run in any order.
 */
#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "controller/jpath.h"
#include "controller/recorder.h"
#include "kube/config.h"
#include "kube/kube.h"
#include "util/util.h"

static const kube_resource_t EVENTS = {"", "v1", "events", true};

/* ---- kube-sim ------------------------------------------------------------------------ */

static struct sim {
    pid_t pid;
    char dir[64];
    char kubeconfig[128];
    char url[128];
    char why[256]; /* why it did not start */
} sim;

/* Unchecked fixture: runs once in the parent process, so every test uses the same
 * server. A failure to start is reported by each test (sim_client_new). */
static void sim_start(void)
{
    memset(&sim, 0, sizeof sim);
    if (access("test/kube-sim/kube_sim/__main__.py", R_OK) != 0) {
        snprintf(sim.why, sizeof sim.why, "run the tests from the repository root");
        return;
    }
    snprintf(sim.dir, sizeof sim.dir, "/tmp/test-recorder-XXXXXX");
    if (!mkdtemp(sim.dir)) {
        snprintf(sim.why, sizeof sim.why, "mkdtemp: %s", strerror(errno));
        sim.dir[0] = '\0';
        return;
    }
    snprintf(sim.kubeconfig, sizeof sim.kubeconfig, "%s/kubeconfig", sim.dir);
    char out_path[128], cert_dir[128];
    snprintf(out_path, sizeof out_path, "%s/stdout", sim.dir);
    snprintf(cert_dir, sizeof cert_dir, "%s/certs", sim.dir);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* kube-sim goes when the test binary goes, however it ends. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent || !freopen(out_path, "w", stdout) || chdir("test/kube-sim") < 0)
            _exit(126);
        execlp("python3", "python3", "-m", "kube_sim", "--port", "0", "--kubeconfig-out",
               sim.kubeconfig, "--cert-dir", cert_dir, "--controllers", "namespace", (char *)NULL);
        _exit(127);
    }
    if (pid < 0) {
        snprintf(sim.why, sizeof sim.why, "fork: %s", strerror(errno));
        return;
    }
    sim.pid = pid;
    const char *prefix = "kube-sim listening on ";
    for (int i = 0; i < 1200; i++) {
        char *text = util_read_file(out_path, NULL);
        char *line = text ? strstr(text, prefix) : NULL;
        if (line && strchr(line, '\n')) {
            line += strlen(prefix);
            *strchr(line, '\n') = '\0';
            snprintf(sim.url, sizeof sim.url, "%s", line);
            free(text);
            return;
        }
        free(text);
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            sim.pid = 0;
            snprintf(sim.why, sizeof sim.why, "kube-sim exited with status %d", status);
            return;
        }
        util_sleep(0.05);
    }
    snprintf(sim.why, sizeof sim.why, "kube-sim did not report its URL within 60 s");
}

static void sim_stop(void)
{
    if (sim.pid > 0) {
        kill(sim.pid, SIGTERM);
        waitpid(sim.pid, NULL, 0);
        sim.pid = 0;
    }
    if (sim.dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", sim.dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", sim.dir);
    }
}

typedef struct sim_client {
    kube_config_t *config;
    kube_client_t *client;
} sim_client_t;

static void sim_client_new(sim_client_t *sc)
{
    ck_assert_msg(sim.url[0], "kube-sim is not running: %s", sim.why);
    char *err = NULL;
    if (kube_config_load_file(sim.kubeconfig, NULL, &sc->config, &err) < 0)
        ck_abort_msg("kube-sim kubeconfig: %s", err);
    kube_client_options_t o;
    kube_client_options_default(&o);
    o.qps = 0;
    if (kube_client_new(sc->config, &o, &sc->client, &err) < 0)
        ck_abort_msg("client: %s", err);
}

static void sim_client_free(sim_client_t *sc)
{
    kube_client_free(sc->client);
    kube_config_free(sc->config);
}

/* POST/DELETE to kube-sim's admin API (/kube-sim/<path>) with the admin token. */
static void sim_admin(sim_client_t *sc, const char *method, const char *path, const char *body)
{
    kube_auth_t auth = {0};
    char *err = NULL;
    ck_assert_msg(kube_config_auth(sc->config, &auth, &err) == 0, "%s", err ? err : "");
    CURL *h = curl_easy_init();
    ck_assert_ptr_nonnull(h);
    char url[256], bearer[256];
    snprintf(url, sizeof url, "%s/kube-sim/%s", sim.url, path);
    snprintf(bearer, sizeof bearer, "Authorization: Bearer %s", auth.token);
    struct curl_slist *headers = curl_slist_append(NULL, bearer);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    struct curl_blob ca = {sc->config->ca_data, sc->config->ca_data_len, CURL_BLOB_COPY};
    FILE *sink = fopen("/dev/null", "w");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fwrite);
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

/* ---- helpers ------------------------------------------------------------------------ */

static json_object *parse(const char *text)
{
    json_object *obj = json_tokener_parse(text);
    ck_assert_msg(obj != NULL, "bad test JSON: %s", text);
    return obj;
}

static const char *text(json_object *obj)
{
    return json_object_to_json_string_ext(obj,
                                          JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static const char *str_at(json_object *obj, const char *path)
{
    json_object *v = jpath(obj, path);
    ck_assert_msg(v && json_object_is_type(v, json_type_string), "%s is not a string in %s", path,
                  text(obj));
    return json_object_get_string(v);
}

/* An S2iRun as the informer holds it (it need not exist on the server: neither does
 * the API server check that an Event's object exists). */
static json_object *run_object(const char *ns, const char *name)
{
    char json[512];
    snprintf(json, sizeof json,
             "{\"apiVersion\":\"devops.kubesphere.io/v1alpha1\",\"kind\":\"S2iRun\","
             "\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"uid\":\"uid-%s\","
             "\"resourceVersion\":\"4711\"},\"spec\":{\"builderName\":\"b\"}}",
             name, ns, name);
    return parse(json);
}

/* The Events about the object named name in ns (a new list; its items). */
static json_object *events_about(sim_client_t *sc, const char *ns, const char *name)
{
    char selector[256];
    snprintf(selector, sizeof selector, "involvedObject.name=%s", name);
    kube_list_options_t opts = {.field_selector = selector};
    kube_result_t res = KUBE_RESULT_INIT;
    char line[512];
    ck_assert_msg(kube_list(sc->client, &EVENTS, ns, &opts, &res) == KUBE_OK, "list events: %s",
                  kube_error_str(&res, line, sizeof line));
    json_object *items = json_object_get(jpath(res.body, "items"));
    kube_result_clear(&res);
    ck_assert_ptr_nonnull(items);
    return items;
}

/* The one Event about name with the given reason. */
static json_object *event_with_reason(json_object *items, const char *reason)
{
    json_object *found = NULL;
    for (size_t i = 0; i < json_object_array_length(items); i++) {
        json_object *e = json_object_array_get_idx(items, i);
        if (util_streq(jpath_str(e, "reason"), reason)) {
            ck_assert_msg(!found, "two Events with reason %s: %s", reason, text(items));
            found = e;
        }
    }
    ck_assert_msg(found != NULL, "no Event with reason %s: %s", reason, text(items));
    return found;
}

static recorder_stats_t stats_of(recorder_t *r)
{
    recorder_stats_t s;
    recorder_get_stats(r, &s);
    return s;
}

/* ---- tests ---------------------------------------------------------------------------- */

START_TEST(test_event_names_the_object_reason_type_and_source)
{
    sim_client_t sc;
    sim_client_new(&sc);
    recorder_t *r = recorder_new(sc.client, "s2i-operator", "s2i-operator-7d9f-x2");
    ck_assert_ptr_nonnull(r);
    json_object *run = run_object("default", "created-run");
    recorder_event(r, run, "Normal", "Created", "created Job %s to build %s", "created-run-job",
                   "registry.local:5000/demo/app:v1");
    recorder_flush(r);
    recorder_stats_t s = stats_of(r);
    ck_assert_uint_eq(s.recorded, 1);
    ck_assert_uint_eq(s.created, 1);
    ck_assert_uint_eq(s.failed, 0);

    json_object *items = events_about(&sc, "default", "created-run");
    ck_assert_uint_eq(json_object_array_length(items), 1);
    json_object *e = json_object_array_get_idx(items, 0);
    ck_assert_str_eq(str_at(e, "involvedObject.apiVersion"), "devops.kubesphere.io/v1alpha1");
    ck_assert_str_eq(str_at(e, "involvedObject.kind"), "S2iRun");
    ck_assert_str_eq(str_at(e, "involvedObject.name"), "created-run");
    ck_assert_str_eq(str_at(e, "involvedObject.namespace"), "default");
    ck_assert_str_eq(str_at(e, "involvedObject.uid"), "uid-created-run");
    ck_assert_str_eq(str_at(e, "involvedObject.resourceVersion"), "4711");
    ck_assert_str_eq(str_at(e, "reason"), "Created");
    ck_assert_str_eq(str_at(e, "type"), "Normal");
    ck_assert_str_eq(str_at(e, "message"),
                     "created Job created-run-job to build registry.local:5000/demo/app:v1");
    ck_assert_str_eq(str_at(e, "source.component"), "s2i-operator");
    ck_assert_str_eq(str_at(e, "reportingComponent"), "s2i-operator");
    ck_assert_str_eq(str_at(e, "reportingInstance"), "s2i-operator-7d9f-x2");
    ck_assert_str_eq(str_at(e, "metadata.namespace"), "default");
    /* client-go's naming: "<object>.<hex time>". */
    ck_assert(util_has_prefix(str_at(e, "metadata.name"), "created-run."));
    ck_assert_int_eq(jpath_int(e, "count", 0), 1);
    time_t first, last;
    ck_assert_int_eq(util_parse_rfc3339(str_at(e, "firstTimestamp"), &first), 0);
    ck_assert_int_eq(util_parse_rfc3339(str_at(e, "lastTimestamp"), &last), 0);
    ck_assert_int_eq(first, last);
    ck_assert(first > time(NULL) - 300 && first <= time(NULL) + 1);

    json_object_put(items);
    json_object_put(run);
    recorder_free(r);
    sim_client_free(&sc);
}
END_TEST

START_TEST(test_repeated_event_is_folded_into_one_with_a_count)
{
    sim_client_t sc;
    sim_client_new(&sc);
    recorder_t *r = recorder_new(sc.client, "s2i-operator", NULL);
    json_object *run = run_object("default", "repeat-run");
    for (int i = 0; i < 3; i++) {
        recorder_event(r, run, "Warning", "SecretNotFound", "Secret %s not found", "registry-push");
        recorder_flush(r); /* apart in time, as reconciles are */
        if (i == 0)
            util_sleep(1.1); /* so that lastTimestamp moves on */
    }
    /* Another message is another Event. */
    recorder_event(r, run, "Warning", "SecretNotFound", "Secret %s not found", "git-basic-auth");
    recorder_flush(r);
    recorder_stats_t s = stats_of(r);
    ck_assert_uint_eq(s.recorded, 4);
    ck_assert_uint_eq(s.created, 2);
    ck_assert_uint_eq(s.patched, 2);
    ck_assert_uint_eq(s.dropped, 0);

    json_object *items = events_about(&sc, "default", "repeat-run");
    ck_assert_uint_eq(json_object_array_length(items), 2);
    json_object *folded = NULL, *other = NULL;
    for (size_t i = 0; i < 2; i++) {
        json_object *e = json_object_array_get_idx(items, i);
        if (strstr(str_at(e, "message"), "registry-push"))
            folded = e;
        else
            other = e;
    }
    ck_assert_ptr_nonnull(folded);
    ck_assert_ptr_nonnull(other);
    ck_assert_int_eq(jpath_int(folded, "count", 0), 3);
    ck_assert_int_eq(jpath_int(other, "count", 0), 1);
    ck_assert_str_eq(str_at(folded, "type"), "Warning");
    time_t first, last;
    ck_assert_int_eq(util_parse_rfc3339(str_at(folded, "firstTimestamp"), &first), 0);
    ck_assert_int_eq(util_parse_rfc3339(str_at(folded, "lastTimestamp"), &last), 0);
    ck_assert_msg(last > first, "lastTimestamp did not move: %s", text(folded));

    json_object_put(items);
    json_object_put(run);
    recorder_free(r);
    sim_client_free(&sc);
}
END_TEST

START_TEST(test_same_event_about_another_object_is_its_own)
{
    sim_client_t sc;
    sim_client_new(&sc);
    recorder_t *r = recorder_new(sc.client, "s2i-operator", NULL);
    json_object *a = run_object("default", "twin-a");
    json_object *b = run_object("default", "twin-b");
    recorder_event(r, a, "Normal", "Started", "the build started");
    recorder_event(r, b, "Normal", "Started", "the build started");
    recorder_event(r, a, "Normal", "Started", "the build started");
    recorder_flush(r);
    json_object *ea = events_about(&sc, "default", "twin-a");
    json_object *eb = events_about(&sc, "default", "twin-b");
    ck_assert_int_eq(jpath_int(event_with_reason(ea, "Started"), "count", 0), 2);
    ck_assert_int_eq(jpath_int(event_with_reason(eb, "Started"), "count", 0), 1);
    json_object_put(ea);
    json_object_put(eb);
    json_object_put(a);
    json_object_put(b);
    recorder_free(r);
    sim_client_free(&sc);
}
END_TEST

START_TEST(test_spam_filter_drops_events_beyond_the_burst)
{
    sim_client_t sc;
    sim_client_new(&sc);
    recorder_t *r = recorder_new(sc.client, "s2i-operator", NULL);
    json_object *hot = run_object("default", "hot-run");
    json_object *calm = run_object("default", "calm-run");
    /* client-go's EventSourceObjectSpamFilter: 25 per object, then one per 5 minutes. */
    for (int i = 0; i < 40; i++)
        recorder_event(r, hot, "Warning", "Looping", "attempt %d", i);
    recorder_event(r, calm, "Normal", "Created", "still heard");
    recorder_flush(r);
    recorder_stats_t s = stats_of(r);
    ck_assert_uint_eq(s.recorded, 41);
    ck_assert_uint_eq(s.dropped, 15);
    ck_assert_uint_eq(s.created, 26);

    json_object *items = events_about(&sc, "default", "hot-run");
    ck_assert_uint_eq(json_object_array_length(items), 25);
    /* The first 25 got through, in order. */
    for (size_t i = 0; i < 25; i++) {
        char want[32];
        snprintf(want, sizeof want, "attempt %zu", i);
        bool seen = false;
        for (size_t j = 0; j < 25; j++)
            seen |= util_streq(jpath_str(json_object_array_get_idx(items, j), "message"), want);
        ck_assert_msg(seen, "no Event \"%s\"", want);
    }
    json_object_put(items);
    items = events_about(&sc, "default", "calm-run");
    ck_assert_uint_eq(json_object_array_length(items), 1);
    json_object_put(items);

    /* Repeats count against the burst too (client-go filters after folding). */
    recorder_event(r, hot, "Warning", "Looping", "attempt 0");
    recorder_flush(r);
    ck_assert_uint_eq(stats_of(r).dropped, 16);
    json_object_put(hot);
    json_object_put(calm);
    recorder_free(r);
    sim_client_free(&sc);
}
END_TEST

START_TEST(test_free_writes_what_is_still_queued)
{
    sim_client_t sc;
    sim_client_new(&sc);
    recorder_t *r = recorder_new(sc.client, "s2i-operator", NULL);
    json_object *run = run_object("default", "flushed-run");
    for (int i = 0; i < 10; i++)
        recorder_event(r, run, "Normal", "Step", "step %d", i);
    recorder_free(r); /* no flush first */
    json_object *items = events_about(&sc, "default", "flushed-run");
    ck_assert_uint_eq(json_object_array_length(items), 10);
    json_object_put(items);
    json_object_put(run);
    sim_client_free(&sc);
}
END_TEST

START_TEST(test_event_about_a_cluster_scoped_object_goes_to_default)
{
    sim_client_t sc;
    sim_client_new(&sc);
    recorder_t *r = recorder_new(sc.client, "s2i-operator", NULL);
    json_object *tmpl = parse("{\"apiVersion\":\"devops.kubesphere.io/v1alpha1\",\"kind\":"
                              "\"S2iBuilderTemplate\",\"metadata\":{\"name\":\"nodejs-tmpl\","
                              "\"uid\":\"uid-nodejs-tmpl\"}}");
    recorder_event(r, tmpl, "Warning", "InvalidTemplate", "containerInfo is empty");
    recorder_flush(r);
    ck_assert_uint_eq(stats_of(r).created, 1);
    json_object *items = events_about(&sc, "default", "nodejs-tmpl");
    ck_assert_uint_eq(json_object_array_length(items), 1);
    json_object *e = json_object_array_get_idx(items, 0);
    ck_assert_ptr_null(jpath(e, "involvedObject.namespace"));
    ck_assert_str_eq(str_at(e, "involvedObject.kind"), "S2iBuilderTemplate");
    json_object_put(items);
    json_object_put(tmpl);
    recorder_free(r);
    sim_client_free(&sc);
}
END_TEST

START_TEST(test_event_gone_from_the_server_is_created_again)
{
    sim_client_t sc;
    sim_client_new(&sc);
    recorder_t *r = recorder_new(sc.client, "s2i-operator", NULL);
    json_object *run = run_object("default", "expired-run");
    recorder_event(r, run, "Normal", "Started", "the build started");
    recorder_flush(r);
    json_object *items = events_about(&sc, "default", "expired-run");
    ck_assert_uint_eq(json_object_array_length(items), 1);
    /* The API server's event TTL (1 h by default) removes it. */
    kube_result_t res = KUBE_RESULT_INIT;
    ck_assert_int_eq(kube_delete(sc.client, &EVENTS, "default",
                                 str_at(json_object_array_get_idx(items, 0), "metadata.name"), NULL,
                                 &res),
                     KUBE_OK);
    kube_result_clear(&res);
    json_object_put(items);

    recorder_event(r, run, "Normal", "Started", "the build started");
    recorder_flush(r);
    recorder_stats_t s = stats_of(r);
    ck_assert_uint_eq(s.created, 2);
    ck_assert_uint_eq(s.patched, 0);
    items = events_about(&sc, "default", "expired-run");
    ck_assert_uint_eq(json_object_array_length(items), 1);
    ck_assert_int_eq(jpath_int(json_object_array_get_idx(items, 0), "count", 0), 1);
    json_object_put(items);

    /* And the new one is folded into from then on. */
    recorder_event(r, run, "Normal", "Started", "the build started");
    recorder_flush(r);
    items = events_about(&sc, "default", "expired-run");
    ck_assert_int_eq(jpath_int(json_object_array_get_idx(items, 0), "count", 0), 2);
    json_object_put(items);
    json_object_put(run);
    recorder_free(r);
    sim_client_free(&sc);
}
END_TEST

START_TEST(test_refused_event_is_counted_as_failed)
{
    sim_client_t sc;
    sim_client_new(&sc);
    recorder_t *r = recorder_new(sc.client, "s2i-operator", NULL);
    json_object *run = run_object("no-such-namespace", "lost-run");
    recorder_event(r, run, "Normal", "Started", "the build started");
    recorder_flush(r);
    recorder_stats_t s = stats_of(r);
    ck_assert_uint_eq(s.recorded, 1);
    ck_assert_uint_eq(s.created, 0);
    ck_assert_uint_eq(s.failed, 1);
    json_object_put(run);
    recorder_free(r);
    sim_client_free(&sc);
}
END_TEST

START_TEST(test_long_message_is_cut_to_a_valid_note)
{
    sim_client_t sc;
    sim_client_new(&sc);
    recorder_t *r = recorder_new(sc.client, "s2i-operator", NULL);
    json_object *run = run_object("default", "chatty-run");
    /* 1 + 2 * 1500 bytes: a cut at 1024 bytes falls inside a two-byte character. */
    buf_t msg = BUF_INIT;
    buf_putc(&msg, 'x');
    for (int i = 0; i < 1500; i++)
        buf_puts(&msg, "\xc3\xa9"); /* é */
    recorder_event(r, run, "Warning", "Failed", "%s", buf_str(&msg));
    buf_free(&msg);
    recorder_flush(r);
    ck_assert_uint_eq(stats_of(r).created, 1);
    json_object *items = events_about(&sc, "default", "chatty-run");
    ck_assert_uint_eq(json_object_array_length(items), 1);
    const char *got = str_at(json_object_array_get_idx(items, 0), "message");
    ck_assert_uint_le(strlen(got), 1024);
    ck_assert_uint_ge(strlen(got), 1000);
    ck_assert_msg(strstr(got, "\xef\xbf\xbd") == NULL, "a character was cut in two");
    ck_assert_int_eq((unsigned char)got[strlen(got) - 1], 0xa9);
    json_object_put(items);
    json_object_put(run);
    recorder_free(r);
    sim_client_free(&sc);
}
END_TEST

START_TEST(test_objects_without_a_name_are_ignored)
{
    sim_client_t sc;
    sim_client_new(&sc);
    recorder_t *r = recorder_new(sc.client, "s2i-operator", NULL);
    json_object *nameless = parse("{\"kind\":\"S2iRun\",\"metadata\":{\"namespace\":\"default\"}}");
    recorder_event(r, nameless, "Normal", "Started", "x");
    recorder_event(r, NULL, "Normal", "Started", "x");
    recorder_event(NULL, nameless, "Normal", "Started", "x");
    recorder_flush(r);
    recorder_stats_t s = stats_of(r);
    ck_assert_uint_eq(s.created + s.failed + s.dropped, 0);
    json_object_put(nameless);
    recorder_free(r);
    recorder_free(NULL);
    recorder_flush(NULL);
    sim_client_free(&sc);
}
END_TEST

START_TEST(test_free_gives_up_on_a_slow_api_server_in_bounded_time)
{
    sim_client_t sc;
    sim_client_new(&sc);
    recorder_t *r = recorder_new(sc.client, "s2i-operator", NULL);
    json_object *run = run_object("default", "slow-run");
    /* Every Event write takes a second: writing out 40 would take 40 s. */
    sim_admin(&sc, "POST", "faults",
              "{\"verb\":\"create\",\"resource\":\"events\",\"latencyMs\":1000}");
    for (int i = 0; i < 40; i++)
        recorder_event(r, run, "Normal", "Step", "step %d", i);
    double start = util_monotonic();
    recorder_free(r);
    double took = util_monotonic() - start;
    sim_admin(&sc, "DELETE", "faults", NULL);
    ck_assert_msg(took < 20, "recorder_free took %.1f s", took);
    /* What it had time for was written. */
    json_object *items = events_about(&sc, "default", "slow-run");
    ck_assert_uint_ge(json_object_array_length(items), 1);
    ck_assert_uint_lt(json_object_array_length(items), 40);
    json_object_put(items);
    json_object_put(run);
    sim_client_free(&sc);
}
END_TEST

typedef struct thread_arg {
    recorder_t *r;
    int index;
} thread_arg_t;

static _Atomic bool work_busy;
static bool busy_flag(void *data)
{
    (void)data;
    return work_busy;
}

static size_t events_count(sim_client_t *sc, const char *name)
{
    json_object *items = events_about(sc, "default", name);
    size_t n = json_object_array_length(items);
    json_object_put(items);
    return n;
}

/* While the work is busy an event waits, at most max_delay; when the work is done it is
 * written at once; a writer that yields is still stopped in bounded time by free. */
START_TEST(test_events_yield_to_the_work_for_a_bounded_time)
{
    sim_client_t sc;
    sim_client_new(&sc);
    recorder_t *r = recorder_new(sc.client, "s2i-operator", NULL);
    recorder_set_yield(r, busy_flag, NULL, 3.0);
    json_object *run = run_object("default", "yield-run");

    work_busy = true;
    recorder_event(r, run, "Normal", "Created", "held");
    usleep(600 * 1000);
    ck_assert_uint_eq(events_count(&sc, "yield-run"), 0); /* held back */
    work_busy = false;
    double t0 = util_monotonic();
    recorder_flush(r);
    ck_assert_uint_eq(events_count(&sc, "yield-run"), 1);
    ck_assert(util_monotonic() - t0 < 2.0); /* not waiting out max_delay */

    /* Busy for good: written once max_delay has passed since it was recorded. */
    work_busy = true;
    t0 = util_monotonic();
    recorder_event(r, run, "Normal", "Succeeded", "late but there");
    recorder_flush(r);
    ck_assert(util_monotonic() - t0 >= 2.9);
    ck_assert_uint_eq(events_count(&sc, "yield-run"), 2);

    /* free does not wait for the work either. */
    recorder_event(r, run, "Normal", "Third", "at free");
    t0 = util_monotonic();
    recorder_free(r);
    ck_assert(util_monotonic() - t0 < 2.5);
    ck_assert_uint_eq(events_count(&sc, "yield-run"), 3);
    work_busy = false;
    json_object_put(run);
    sim_client_free(&sc);
}
END_TEST

static void *record_from_thread(void *data)
{
    thread_arg_t *a = data;
    char name[32];
    snprintf(name, sizeof name, "threaded-run-%d", a->index);
    json_object *run = run_object("default", name);
    for (int i = 0; i < 5; i++)
        recorder_event(a->r, run, "Normal", "Step", "step %d", i);
    for (int i = 0; i < 5; i++)
        recorder_event(a->r, run, "Normal", "Step", "step %d", i);
    json_object_put(run);
    return NULL;
}

START_TEST(test_events_from_many_threads_all_arrive)
{
    sim_client_t sc;
    sim_client_new(&sc);
    recorder_t *r = recorder_new(sc.client, "s2i-operator", NULL);
    pthread_t threads[8];
    thread_arg_t args[8];
    for (int i = 0; i < 8; i++) {
        args[i] = (thread_arg_t){r, i};
        ck_assert_int_eq(pthread_create(&threads[i], NULL, record_from_thread, &args[i]), 0);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(threads[i], NULL);
    recorder_flush(r);
    recorder_stats_t s = stats_of(r);
    ck_assert_uint_eq(s.recorded, 80);
    ck_assert_uint_eq(s.created, 40);
    ck_assert_uint_eq(s.patched, 40);
    for (int i = 0; i < 8; i++) {
        char name[32];
        snprintf(name, sizeof name, "threaded-run-%d", i);
        json_object *items = events_about(&sc, "default", name);
        ck_assert_uint_eq(json_object_array_length(items), 5);
        for (size_t j = 0; j < 5; j++)
            ck_assert_int_eq(jpath_int(json_object_array_get_idx(items, j), "count", 0), 2);
        json_object_put(items);
    }
    recorder_free(r);
    sim_client_free(&sc);
}
END_TEST

int main(void)
{
    /* The server is on loopback: a proxy from the environment must not interfere. */
    static const char *const proxy_vars[] = {"http_proxy", "https_proxy", "all_proxy",
                                             "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(proxy_vars); i++)
        unsetenv(proxy_vars[i]);
    log_set_verbosity(0);
    Suite *s = suite_create("controller/recorder");
    TCase *tc = tcase_create("kube-sim");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, sim_start, sim_stop);
    tcase_add_test(tc, test_event_names_the_object_reason_type_and_source);
    tcase_add_test(tc, test_repeated_event_is_folded_into_one_with_a_count);
    tcase_add_test(tc, test_same_event_about_another_object_is_its_own);
    tcase_add_test(tc, test_spam_filter_drops_events_beyond_the_burst);
    tcase_add_test(tc, test_free_writes_what_is_still_queued);
    tcase_add_test(tc, test_free_gives_up_on_a_slow_api_server_in_bounded_time);
    tcase_add_test(tc, test_event_about_a_cluster_scoped_object_goes_to_default);
    tcase_add_test(tc, test_event_gone_from_the_server_is_created_again);
    tcase_add_test(tc, test_refused_event_is_counted_as_failed);
    tcase_add_test(tc, test_long_message_is_cut_to_a_valid_note);
    tcase_add_test(tc, test_objects_without_a_name_are_ignored);
    tcase_add_test(tc, test_events_from_many_threads_all_arrive);
    tcase_add_test(tc, test_events_yield_to_the_work_for_a_bounded_time);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * Integration tests for pkg/leader against test/kube-sim, started as a subprocess (tests
 * run from the repository root), with short durations: lease 2 s, renew deadline 1.5 s,
 * retry 0.3 s, requests 0.5 s. Electors live in this process, so "two leaders at once"
 * is checked exactly: a sampler reads leader_is_leader of every elector every 10 ms and
 * counts the samples where more than one was true, which must stay zero. Faults come from
 * kube-sim's admin API, per user agent when only one elector is to suffer.
 */
#include <check.h>
#include <curl/curl.h>
#include <poll.h>
#include <pthread.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kube/kube.h"
#include "leader/leader.h"
#include "leader/leader_internal.h"
#include "util/util.h"

#define LEASE  2.0
#define RENEW  1.5
#define RETRY  0.3
#define JITTER 1.2
/* How long waits for something that must happen may take, far beyond need (valgrind). */
#define PATIENCE 20.0
/* Scheduling slack for "at once" (a thread waking from a timed wait, valgrind). */
#define SLACK 0.25
/* Slack for "soon after" (a few requests, under valgrind). */
#define LATE 1.0

/* ---- kube-sim (as test_informer_sim.c starts it) ----------------------------------- */

static struct {
    pid_t pid;
    int out_fd; /* kept open so kube-sim never writes to a closed pipe */
    char dir[64];
    char kubeconfig[128];
    char url[128];
} sim = {.pid = -1, .out_fd = -1};

static void sim_start(void)
{
    snprintf(sim.dir, sizeof(sim.dir), "/tmp/leader-sim-XXXXXX");
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
               sim.kubeconfig, "--cert-dir", certs, "--controllers", "namespace", (char *)NULL);
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

/* ---- the test's own client ----------------------------------------------------------- */

static kube_config_t *config;
static kube_client_t *client;

static const kube_resource_t leases = {"coordination.k8s.io", "v1", "leases", true};
#define NS "default"

static void setup(void)
{
    char *err = NULL;
    ck_assert_msg(kube_config_load_file(sim.kubeconfig, NULL, &config, &err) == 0, "%s",
                  err ? err : "");
    kube_client_options_t opts;
    kube_client_options_default(&opts);
    opts.qps = -1;
    opts.user_agent = "leader-test/client";
    ck_assert_int_eq(kube_client_new(config, &opts, &client, &err), 0);
}

static void sampler_abort(void);

static void teardown(void)
{
    sampler_abort();
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

/* Requests of verb on leases fail with code, count times (0: until cleared); only those
 * of user agent ua when given. */
static void fault(const char *verb, int code, int count, const char *ua)
{
    char body[256];
    snprintf(body, sizeof(body),
             "{\"verb\":\"%s\",\"resource\":\"leases\",\"code\":%d,\"count\":%d%s%s%s}", verb, code,
             count, ua ? ",\"userAgent\":\"" : "", ua ? ua : "", ua ? "\"" : "");
    admin("POST", "faults", body);
}

static void clear_faults(void)
{
    admin("DELETE", "faults", NULL);
}

/* The Lease as the server has it now; NULL when it does not exist. */
static json_object *lease_get(const char *name)
{
    kube_result_t r = KUBE_RESULT_INIT;
    kube_err_t err = kube_get(client, &leases, NS, name, &r);
    ck_assert_msg(err == KUBE_OK || err == KUBE_ERR_NOT_FOUND, "get lease %s: %s", name,
                  kube_err_name(err));
    json_object *obj = kube_result_take_body(&r);
    kube_result_clear(&r);
    if (err == KUBE_ERR_NOT_FOUND) {
        json_object_put(obj);
        return NULL;
    }
    return obj;
}

static const char *field(json_object *obj, const char *section, const char *key)
{
    json_object *s = NULL, *v = NULL;
    if (!json_object_object_get_ex(obj, section, &s) || !json_object_object_get_ex(s, key, &v))
        return NULL;
    return json_object_get_string(v);
}

static void lease_create(const char *name, const char *spec)
{
    char *body = util_asprintf("{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\","
                               "\"metadata\":{\"name\":\"%s\"},\"spec\":%s}",
                               name, spec);
    json_object *obj = json_tokener_parse(body);
    free(body);
    ck_assert_ptr_nonnull(obj);
    kube_result_t r = KUBE_RESULT_INIT;
    kube_err_t err = kube_create(client, &leases, NS, obj, NULL, &r);
    char msg[256];
    ck_assert_msg(err == KUBE_OK, "create lease %s: %s", name,
                  kube_error_str(&r, msg, sizeof(msg)));
    kube_result_clear(&r);
    json_object_put(obj);
}

static void lease_delete(const char *name)
{
    kube_result_t r = KUBE_RESULT_INIT;
    kube_err_t err = kube_delete(client, &leases, NS, name, NULL, &r);
    ck_assert_msg(err == KUBE_OK, "delete lease %s: %s", name, kube_err_name(err));
    kube_result_clear(&r);
}

/* ---- electors ------------------------------------------------------------------------- */

typedef struct elector {
    leader_t *l;
    char identity[96];
    char user_agent[64];
    pthread_mutex_t lock;
    int started, stopped, new_leaders;
    double started_at, stopped_at; /* monotonic, of the last call */
    double started_wall;           /* wall clock of the last on_started_leading */
    double first_new_leader_at;    /* monotonic, of the first on_new_leader */
    bool not_leader_in_started;    /* leader_is_leader() false inside on_started_leading */
    bool leader_in_stopped;        /* leader_is_leader() true inside on_stopped_leading */
    char new_leader[96];           /* the last identity given to on_new_leader */
} elector_t;

static void on_started(void *data)
{
    elector_t *e = data;
    double now = util_monotonic(), wall = util_now();
    bool leading = leader_is_leader(e->l);
    pthread_mutex_lock(&e->lock);
    e->started++;
    e->not_leader_in_started |= !leading;
    e->started_at = now;
    e->started_wall = wall;
    pthread_mutex_unlock(&e->lock);
}

static void on_stopped(void *data)
{
    elector_t *e = data;
    double now = util_monotonic();
    bool leading = leader_is_leader(e->l);
    pthread_mutex_lock(&e->lock);
    e->stopped++;
    e->stopped_at = now;
    e->leader_in_stopped |= leading;
    pthread_mutex_unlock(&e->lock);
}

static void on_new_leader(const char *identity, void *data)
{
    elector_t *e = data;
    double now = util_monotonic();
    pthread_mutex_lock(&e->lock);
    if (e->new_leaders++ == 0)
        e->first_new_leader_at = now;
    snprintf(e->new_leader, sizeof(e->new_leader), "%s", identity);
    pthread_mutex_unlock(&e->lock);
}

static void test_options(leader_options_t *o, const char *lease)
{
    leader_options_default(o);
    o->namespace = NS;
    o->name = lease;
    o->lease_duration = LEASE;
    o->renew_deadline = RENEW;
    o->retry_period = RETRY;
    o->jitter = JITTER;
    o->request_timeout = 0.5;
}

/* A started elector named "<name>" for lease; opts NULL: test_options. */
static elector_t *elector_start(const char *lease, const char *name, const leader_options_t *opts)
{
    elector_t *e = calloc(1, sizeof(*e));
    ck_assert_ptr_nonnull(e);
    pthread_mutex_init(&e->lock, NULL);
    char *id = NULL;
    ck_assert_int_eq(leader_identity_new(name, &id), 0);
    snprintf(e->identity, sizeof(e->identity), "%s", id);
    free(id);
    snprintf(e->user_agent, sizeof(e->user_agent), "leader-test/%s", name);
    leader_options_t o;
    if (opts)
        o = *opts;
    else
        test_options(&o, lease);
    o.identity = e->identity;
    o.user_agent = e->user_agent;
    leader_callbacks_t cb = {on_started, on_stopped, on_new_leader, e};
    char *err = NULL;
    ck_assert_msg(leader_new(config, &o, &cb, &e->l, &err) == 0, "%s", err ? err : "");
    ck_assert_int_eq(leader_start(e->l), 0);
    return e;
}

static void elector_free(elector_t *e)
{
    if (!e)
        return;
    leader_free(e->l); /* joins the election thread: its calls are over */
    ck_assert_msg(!e->not_leader_in_started, "%s: not leader in on_started_leading", e->identity);
    ck_assert_msg(!e->leader_in_stopped, "%s: leader in on_stopped_leading", e->identity);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

typedef struct calls {
    int started, stopped, new_leaders;
    double started_at, stopped_at, started_wall, first_new_leader_at;
    bool leader_in_stopped;
    char new_leader[96];
} calls_t;

static calls_t calls_of(elector_t *e)
{
    pthread_mutex_lock(&e->lock);
    calls_t c = {e->started,
                 e->stopped,
                 e->new_leaders,
                 e->started_at,
                 e->stopped_at,
                 e->started_wall,
                 e->first_new_leader_at,
                 e->leader_in_stopped,
                 ""};
    memcpy(c.new_leader, e->new_leader, sizeof(c.new_leader));
    pthread_mutex_unlock(&e->lock);
    return c;
}

/* ---- the sampler: never two leaders --------------------------------------------------- */

#define MAX_ELECTORS 4

static struct {
    pthread_mutex_t lock;
    elector_t *slots[MAX_ELECTORS];
    pthread_t thread;
    atomic_bool stop;
    bool running;
    long samples, overlaps;
} sampler;

static void *sampler_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&sampler.stop)) {
        pthread_mutex_lock(&sampler.lock);
        int leaders = 0;
        for (int i = 0; i < MAX_ELECTORS; i++)
            if (sampler.slots[i] && leader_is_leader(sampler.slots[i]->l))
                leaders++;
        sampler.samples++;
        if (leaders > 1)
            sampler.overlaps++;
        pthread_mutex_unlock(&sampler.lock);
        util_sleep(0.01);
    }
    return NULL;
}

static void sampler_start(void)
{
    pthread_mutex_init(&sampler.lock, NULL);
    memset(sampler.slots, 0, sizeof(sampler.slots));
    sampler.samples = sampler.overlaps = 0;
    atomic_store(&sampler.stop, false);
    ck_assert_int_eq(pthread_create(&sampler.thread, NULL, sampler_main, NULL), 0);
    sampler.running = true;
}

/* Puts e into slot i, freeing what was there (already stopped by the caller). */
static void sampler_put(int i, elector_t *e)
{
    pthread_mutex_lock(&sampler.lock);
    elector_t *old = sampler.slots[i];
    sampler.slots[i] = e;
    pthread_mutex_unlock(&sampler.lock);
    elector_free(old);
}

/* After a failed test (CK_FORK=no): no elector may outlive the config. */
static void sampler_abort(void)
{
    if (!sampler.running)
        return;
    atomic_store(&sampler.stop, true);
    pthread_join(sampler.thread, NULL);
    sampler.running = false;
    for (int i = 0; i < MAX_ELECTORS; i++) {
        leader_free(sampler.slots[i] ? sampler.slots[i]->l : NULL);
        if (sampler.slots[i])
            pthread_mutex_destroy(&sampler.slots[i]->lock);
        free(sampler.slots[i]);
        sampler.slots[i] = NULL;
    }
    pthread_mutex_destroy(&sampler.lock);
}

/* Stops sampling and frees the electors (checking what they were told). */
static void sampler_end(void)
{
    atomic_store(&sampler.stop, true);
    pthread_join(sampler.thread, NULL);
    sampler.running = false;
    for (int i = 0; i < MAX_ELECTORS; i++)
        sampler_put(i, NULL);
    pthread_mutex_destroy(&sampler.lock);
}

/* sampler_end, and there never were two leaders. */
static void sampler_finish(void)
{
    sampler_end();
    ck_assert_int_gt(sampler.samples, 10);
    ck_assert_msg(sampler.overlaps == 0, "two leaders at once in %ld of %ld samples",
                  sampler.overlaps, sampler.samples);
}

/* Waits for one of the electors in slots [0, n) to lead; returns its slot. */
static int wait_for_leader(int n, double patience)
{
    double deadline = util_monotonic() + patience;
    for (;;) {
        pthread_mutex_lock(&sampler.lock);
        int found = -1;
        for (int i = 0; i < n && found < 0; i++)
            if (sampler.slots[i] && leader_is_leader(sampler.slots[i]->l))
                found = i;
        pthread_mutex_unlock(&sampler.lock);
        if (found >= 0)
            return found;
        ck_assert_msg(util_monotonic() < deadline, "no leader after %.1f s", patience);
        util_sleep(0.005);
    }
}

static int wait_for_other_leader(int n, int not, double patience)
{
    double deadline = util_monotonic() + patience;
    for (;;) {
        int i = wait_for_leader(n, patience);
        if (i != not )
            return i;
        ck_assert_msg(util_monotonic() < deadline, "slot %d still leads", not );
        util_sleep(0.005);
    }
}

/* leader_is_leader turns true just before on_started_leading runs: wait for the call. */
static calls_t wait_started(elector_t *e, int n)
{
    double deadline = util_monotonic() + PATIENCE;
    while (calls_of(e).started < n) {
        ck_assert_msg(util_monotonic() < deadline, "%s: no on_started_leading", e->identity);
        util_sleep(0.002);
    }
    return calls_of(e);
}

static elector_t *slot(int i)
{
    pthread_mutex_lock(&sampler.lock);
    elector_t *e = sampler.slots[i];
    pthread_mutex_unlock(&sampler.lock);
    return e;
}

/* ---- tests ---------------------------------------------------------------------------- */

START_TEST(test_one_of_two_electors_leads)
{
    const char *name = "lease-one-of-two";
    sampler_start();
    sampler_put(0, elector_start(name, "pod-a", NULL));
    sampler_put(1, elector_start(name, "pod-b", NULL));
    int leader = wait_for_leader(2, PATIENCE);
    elector_t *l = slot(leader), *other = slot(1 - leader);

    /* for three lease durations nothing changes: the leader renews, the other waits */
    double until = util_monotonic() + 3 * LEASE;
    while (util_monotonic() < until) {
        ck_assert(leader_is_leader(l->l));
        ck_assert(!leader_is_leader(other->l));
        util_sleep(0.02);
    }
    calls_t lc = calls_of(l), oc = calls_of(other);
    ck_assert_int_eq(lc.started, 1);
    ck_assert_int_eq(lc.stopped, 0);
    ck_assert_int_eq(oc.started, 0);
    ck_assert_str_eq(lc.new_leader, l->identity);
    ck_assert_str_eq(oc.new_leader, l->identity);
    ck_assert_int_eq(lc.new_leaders, 1);
    ck_assert_int_eq(oc.new_leaders, 1);

    /* the Lease as client-go writes it, renewed every retry period */
    json_object *lease = lease_get(name);
    ck_assert_ptr_nonnull(lease);
    ck_assert_str_eq(field(lease, "spec", "holderIdentity"), l->identity);
    ck_assert_str_eq(field(lease, "spec", "leaseDurationSeconds"), "2");
    ck_assert_str_eq(field(lease, "spec", "leaseTransitions"), "0");
    regex_t re;
    ck_assert_int_eq(regcomp(&re,
                             "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    const char *renew = field(lease, "spec", "renewTime");
    ck_assert_msg(regexec(&re, renew, 0, NULL, 0) == 0, "renewTime %s", renew);
    ck_assert_msg(regexec(&re, field(lease, "spec", "acquireTime"), 0, NULL, 0) == 0,
                  "acquireTime %s", field(lease, "spec", "acquireTime"));
    regfree(&re);
    time_t renewed = 0;
    ck_assert_int_eq(util_parse_rfc3339(renew, &renewed), 0);
    ck_assert_int_le(labs((long)(renewed - time(NULL))), 2);
    util_sleep(2 * RETRY + 0.1);
    json_object *later = lease_get(name);
    ck_assert_str_ne(field(later, "spec", "renewTime"), renew);
    ck_assert_str_eq(field(later, "spec", "acquireTime"), field(lease, "spec", "acquireTime"));
    json_object_put(later);
    json_object_put(lease);
    sampler_finish();
}
END_TEST

/* The leader stops; its release lets the other lead within a second. */
static void check_release_handover(const char *name, bool watch, double within)
{
    leader_options_t o;
    test_options(&o, name);
    o.watch = watch;
    sampler_start();
    sampler_put(0, elector_start(name, "pod-a", &o));
    sampler_put(1, elector_start(name, "pod-b", &o));
    int leader = wait_for_leader(2, PATIENCE);
    util_sleep(3 * RETRY); /* the other has seen it held */
    elector_t *l = slot(leader), *other = slot(1 - leader);

    double t0 = util_monotonic();
    leader_stop(l->l);
    ck_assert(!leader_is_leader(l->l));
    ck_assert_int_eq(wait_for_other_leader(2, leader, PATIENCE), 1 - leader);
    double took = wait_started(other, 1).started_at - t0;
    ck_assert_msg(took <= within, "handover took %.3f s", took);
    calls_t lc = calls_of(l);
    ck_assert_int_eq(lc.started, 1);
    ck_assert_int_eq(lc.stopped, 1);
    ck_assert(!lc.leader_in_stopped);
    ck_assert_double_le(lc.stopped_at, t0 + SLACK);

    json_object *lease = lease_get(name);
    ck_assert_str_eq(field(lease, "spec", "holderIdentity"), other->identity);
    ck_assert_str_eq(field(lease, "spec", "leaseTransitions"), "1");
    json_object_put(lease);
    sampler_finish();
}

START_TEST(test_stopped_leader_releases_and_standby_leads_within_a_second)
{
    check_release_handover("lease-release-watch", true, 1.0);
}
END_TEST

START_TEST(test_stopped_leader_releases_and_polling_standby_leads_within_retry_period)
{
    /* without the watch: the standby's next try, at most retry * (1 + jitter) away */
    check_release_handover("lease-release-poll", false, RETRY * (1 + JITTER) + LATE);
}
END_TEST

START_TEST(test_stop_without_release_leaves_the_lease_held)
{
    const char *name = "lease-no-release";
    leader_options_t o;
    test_options(&o, name);
    o.release_on_stop = false;
    sampler_start();
    sampler_put(0, elector_start(name, "pod-a", &o));
    wait_for_leader(1, PATIENCE);
    elector_t *e = slot(0);
    wait_started(e, 1);
    leader_stop(e->l);
    ck_assert(!leader_is_leader(e->l));
    ck_assert_int_eq(calls_of(e).stopped, 1);
    json_object *lease = lease_get(name);
    ck_assert_str_eq(field(lease, "spec", "holderIdentity"), e->identity);
    ck_assert_str_eq(field(lease, "spec", "leaseDurationSeconds"), "2");
    json_object_put(lease);
    sampler_finish();
}
END_TEST

START_TEST(test_killed_leader_is_replaced_after_lease_duration_not_before)
{
    const char *name = "lease-killed";
    sampler_start();
    sampler_put(0, elector_start(name, "pod-a", NULL));
    sampler_put(1, elector_start(name, "pod-b", NULL));
    int leader = wait_for_leader(2, PATIENCE);
    util_sleep(3 * RETRY);
    elector_t *l = slot(leader), *other = slot(1 - leader);

    double t0 = util_monotonic();
    leader_abandon(l->l);
    ck_assert(!leader_is_leader(l->l));
    json_object *lease = lease_get(name); /* its last renewal */
    ck_assert_str_eq(field(lease, "spec", "holderIdentity"), l->identity);
    time_t renewed = 0;
    const char *renew = field(lease, "spec", "renewTime");
    ck_assert_int_eq(util_parse_rfc3339(renew, &renewed), 0);
    double renewed_at = (double)renewed + atof(strchr(renew, '.')); /* fraction */

    ck_assert_int_eq(wait_for_other_leader(2, leader, PATIENCE), 1 - leader);
    calls_t oc = wait_started(other, 1);
    /* not before: a lease duration after the last renewal was written ... */
    ck_assert_msg(oc.started_wall - renewed_at >= LEASE, "took over %.3f s after the last renewal",
                  oc.started_wall - renewed_at);
    /* ... and soon after: at the first try past it */
    double took = oc.started_at - t0;
    ck_assert_msg(took <= LEASE + RETRY * (1 + JITTER) + LATE, "took over %.3f s after the kill",
                  took);
    calls_t lc = calls_of(l);
    ck_assert_int_eq(lc.stopped, 0); /* a killed process says nothing */
    json_object_put(lease);
    lease = lease_get(name);
    ck_assert_str_eq(field(lease, "spec", "holderIdentity"), other->identity);
    ck_assert_str_eq(field(lease, "spec", "leaseTransitions"), "1");
    json_object_put(lease);
    sampler_finish();
}
END_TEST

START_TEST(test_denied_renewals_stop_leading_within_renew_deadline)
{
    const char *name = "lease-denied";
    leader_options_t o;
    test_options(&o, name);
    o.rejoin_after_loss = true;
    sampler_start();
    sampler_put(0, elector_start(name, "pod-a", &o));
    sampler_put(1, elector_start(name, "pod-b", &o));
    int leader = wait_for_leader(2, PATIENCE);
    util_sleep(3 * RETRY);
    elector_t *l = slot(leader);

    double t0 = util_monotonic();
    fault("update", 500, 100, NULL);
    double deadline = t0 + PATIENCE;
    while (calls_of(l).stopped == 0) {
        ck_assert(util_monotonic() < deadline);
        util_sleep(0.005);
    }
    calls_t lc = calls_of(l);
    ck_assert_msg(lc.stopped_at - t0 <= RENEW + SLACK, "on_stopped_leading %.3f s after the fault",
                  lc.stopped_at - t0);
    ck_assert(!lc.leader_in_stopped);
    ck_assert(!leader_is_leader(l->l));
    /* nobody can write: nobody leads */
    util_sleep(LEASE);
    ck_assert(!leader_is_leader(slot(0)->l) && !leader_is_leader(slot(1)->l));

    clear_faults();
    wait_for_leader(2, PATIENCE);
    sampler_finish();
}
END_TEST

START_TEST(test_lost_leadership_ends_the_election_without_rejoin)
{
    const char *name = "lease-lost-return";
    sampler_start();
    sampler_put(0, elector_start(name, "pod-a", NULL));
    wait_for_leader(1, PATIENCE);
    elector_t *e = slot(0);
    ck_assert(!leader_wait(e->l, 0.1));
    double t0 = util_monotonic();
    fault("update", 503, 0, e->user_agent);
    ck_assert(leader_wait(e->l, PATIENCE));
    calls_t c = calls_of(e);
    ck_assert_int_eq(c.started, 1);
    ck_assert_int_eq(c.stopped, 1);
    ck_assert_double_le(c.stopped_at - t0, RENEW + SLACK);
    ck_assert(!leader_is_leader(e->l));
    clear_faults();
    util_sleep(LEASE);
    ck_assert(!leader_is_leader(e->l)); /* it does not come back */
    ck_assert_int_eq(calls_of(e).started, 1);
    sampler_finish();
}
END_TEST

START_TEST(test_deleted_lease_is_recreated_by_its_leader)
{
    const char *name = "lease-deleted";
    sampler_start();
    sampler_put(0, elector_start(name, "pod-a", NULL));
    sampler_put(1, elector_start(name, "pod-b", NULL));
    int leader = wait_for_leader(2, PATIENCE);
    util_sleep(3 * RETRY);
    elector_t *l = slot(leader), *other = slot(1 - leader);
    json_object *lease = lease_get(name);
    char *uid = util_strdup(field(lease, "metadata", "uid"));
    json_object_put(lease);

    lease_delete(name);
    double deadline = util_monotonic() + PATIENCE;
    for (;;) {
        lease = lease_get(name);
        if (lease && strcmp(field(lease, "metadata", "uid"), uid) != 0)
            break;
        json_object_put(lease);
        ck_assert(util_monotonic() < deadline);
        util_sleep(0.02);
    }
    ck_assert_str_eq(field(lease, "spec", "holderIdentity"), l->identity);
    json_object_put(lease);
    free(uid);
    /* past a lease duration: the leader never stopped, the other never started */
    util_sleep(LEASE + RETRY);
    ck_assert(leader_is_leader(l->l));
    ck_assert_int_eq(calls_of(l).stopped, 0);
    ck_assert_int_eq(calls_of(other).started, 0);
    sampler_finish();
}
END_TEST

START_TEST(test_deleted_lease_of_a_killed_leader_is_recreated_after_lease_duration)
{
    const char *name = "lease-deleted-killed";
    sampler_start();
    sampler_put(0, elector_start(name, "pod-a", NULL));
    sampler_put(1, elector_start(name, "pod-b", NULL));
    int leader = wait_for_leader(2, PATIENCE);
    util_sleep(3 * RETRY);
    elector_t *l = slot(leader), *other = slot(1 - leader);
    leader_abandon(l->l);
    double t0 = util_monotonic();
    lease_delete(name);
    ck_assert_int_eq(wait_for_other_leader(2, leader, PATIENCE), 1 - leader);
    double took = wait_started(other, 1).started_at - t0;
    ck_assert_msg(took >= LEASE && took <= LEASE + RETRY * (1 + JITTER) + LATE,
                  "recreated %.3f s after the deletion", took);
    json_object *lease = lease_get(name);
    ck_assert_str_eq(field(lease, "spec", "holderIdentity"), other->identity);
    json_object_put(lease);
    sampler_finish();
}
END_TEST

START_TEST(test_garbage_leases_are_taken_after_a_full_lease_duration)
{
    /* a holder without times or duration (the API server accepts it; wrong JSON types it
     * refuses with 400, so those are covered by test_leader.c's record parsing) */
    lease_create("lease-garbage", "{\"holderIdentity\":\"ghost-without-times\"}");
    /* renewTimes far in the future and the past: never trusted, only observed */
    lease_create("lease-future", "{\"holderIdentity\":\"ghost\",\"leaseDurationSeconds\":1,"
                                 "\"renewTime\":\"2999-01-01T00:00:00.000000Z\"}");
    lease_create("lease-past", "{\"holderIdentity\":\"ghost\",\"leaseDurationSeconds\":1,"
                               "\"renewTime\":\"2000-01-01T00:00:00.000000Z\"}");
    const char *names[] = {"lease-garbage", "lease-future", "lease-past"};
    const double expiry[] = {LEASE, 1, 1}; /* our own duration for the unreadable one */
    double t0 = util_monotonic();
    sampler_start();
    for (int i = 0; i < 3; i++)
        sampler_put(i, elector_start(names[i], "pod-a", NULL));
    for (int i = 0; i < 3; i++) {
        elector_t *e = slot(i);
        calls_t c = wait_started(e, 1);
        /* not before the expiry counted from the start, and soon after the expiry counted
         * from the first observation (on_new_leader of the old holder) */
        double took = c.started_at - t0;
        ck_assert_msg(took >= expiry[i], "%s taken after %.3f s", names[i], took);
        took = c.started_at - c.first_new_leader_at;
        ck_assert_msg(took <= expiry[i] + RETRY * (1 + JITTER) + LATE,
                      "%s taken %.3f s after it was first seen", names[i], took);
        json_object *lease = lease_get(names[i]);
        ck_assert_str_eq(field(lease, "spec", "holderIdentity"), e->identity);
        ck_assert_str_eq(field(lease, "spec", "leaseDurationSeconds"), "2");
        ck_assert_str_eq(field(lease, "spec", "leaseTransitions"), "1");
        json_object_put(lease);
        ck_assert_str_eq(calls_of(e).new_leader, e->identity);
    }
    /* electors of different leases: all lead, which the sampler must not count */
    sampler_end();
}
END_TEST

START_TEST(test_transient_api_errors_are_retried)
{
    const char *name = "lease-transient";
    /* a first read that fails, a create refused twice (429 without client retries, 500) */
    fault("get", 500, 2, NULL);
    fault("create", 429, 1, NULL);
    fault("create", 500, 1, NULL);
    sampler_start();
    sampler_put(0, elector_start(name, "pod-a", NULL));
    wait_for_leader(1, PATIENCE);
    elector_t *e = slot(0);

    /* while leading: a failed renewal, a conflict and a 429 are no loss */
    fault("update", 503, 2, e->user_agent);
    util_sleep(4 * RETRY);
    fault("update", 409, 1, e->user_agent);
    util_sleep(4 * RETRY);
    fault("update", 429, 1, e->user_agent);
    fault("get", 500, 1, e->user_agent);
    util_sleep(4 * RETRY);
    ck_assert(leader_is_leader(e->l));
    ck_assert_int_eq(calls_of(e).stopped, 0);

    /* an API server outage shorter than the renew deadline */
    admin("POST", "restart", "{\"downSeconds\":0.5,\"keepState\":true}");
    util_sleep(LEASE);
    clear_faults();
    ck_assert(leader_is_leader(e->l));
    ck_assert_int_eq(calls_of(e).stopped, 0);
    sampler_finish();
}
END_TEST

START_TEST(test_never_two_leaders_through_transitions)
{
    const char *name = "lease-transitions";
    leader_options_t o;
    test_options(&o, name);
    o.rejoin_after_loss = true;
    char pod[16];
    int next_pod = 0;
    sampler_start();
    for (int i = 0; i < 3; i++) {
        snprintf(pod, sizeof(pod), "pod-%d", next_pod++);
        sampler_put(i, elector_start(name, pod, &o));
    }
    int leaderships = 0;
    for (int round = 0; round < 6; round++) {
        int leader = wait_for_leader(3, PATIENCE);
        leaderships++;
        util_sleep(3 * RETRY);
        elector_t *l = slot(leader);
        switch (round % 3) {
        case 0: /* graceful stop and a new replica */
            leader_stop(l->l);
            break;
        case 1: /* killed, and a new replica */
            leader_abandon(l->l);
            break;
        case 2: /* cut off from the API server: it must step down before another takes over */
            fault("write", 500, 0, l->user_agent);
            wait_for_other_leader(3, leader, PATIENCE);
            ck_assert_int_ge(calls_of(l).stopped, 1);
            clear_faults();
            continue;
        }
        wait_for_other_leader(3, leader, PATIENCE);
        snprintf(pod, sizeof(pod), "pod-%d", next_pod++);
        sampler_put(leader, elector_start(name, pod, &o));
    }
    ck_assert_int_eq(leaderships, 6);
    sampler_finish();
}
END_TEST

int main(void)
{
    log_set_verbosity(0);
    Suite *s = suite_create("leader-sim");
    TCase *tc = tcase_create("kube-sim");
    tcase_add_unchecked_fixture(tc, sim_start, sim_stop);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_one_of_two_electors_leads);
    tcase_add_test(tc, test_stopped_leader_releases_and_standby_leads_within_a_second);
    tcase_add_test(tc, test_stopped_leader_releases_and_polling_standby_leads_within_retry_period);
    tcase_add_test(tc, test_stop_without_release_leaves_the_lease_held);
    tcase_add_test(tc, test_killed_leader_is_replaced_after_lease_duration_not_before);
    tcase_add_test(tc, test_denied_renewals_stop_leading_within_renew_deadline);
    tcase_add_test(tc, test_lost_leadership_ends_the_election_without_rejoin);
    tcase_add_test(tc, test_deleted_lease_is_recreated_by_its_leader);
    tcase_add_test(tc, test_deleted_lease_of_a_killed_leader_is_recreated_after_lease_duration);
    tcase_add_test(tc, test_garbage_leases_are_taken_after_a_full_lease_duration);
    tcase_add_test(tc, test_transient_api_errors_are_retried);
    tcase_add_test(tc, test_never_two_leaders_through_transitions);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

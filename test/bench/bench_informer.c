/*
 * Benchmark of pkg/informer: what caching costs in memory and time. Prints numbers,
 * asserts nothing. Run from the repository root:
 *
 *   bench_informer [objects]      (default 10000 ConfigMaps of ~1 KiB)
 *
 * Starts test/kube-sim, creates the ConfigMaps with a few parallel writers, then runs each
 * informer configuration in a fresh process (this binary re-executed with --child), so
 * every RSS figure is that of a process holding one synced informer and nothing else:
 *   - sync time (start to has_synced), RSS before start / after sync / peak, and after
 *     malloc_trim(0), which shows how much of the peak was transient list pages;
 *   - store bytes per object (the store's own accounting, and malloc's in-use delta)
 *     against the object's JSON as the server sent it and after the transform;
 *   - store_get latency (inflate + parse) per object.
 * Then, in this process: events per second through the watch stream decoder alone, and
 * through the informer's event path (transform, entry build, store swap, handlers).
 */
#include <fcntl.h>
#include <malloc.h>
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
#include "kube/kube.h"
#include "util/util.h"

#define NAMESPACE          "bench"
#define OPERATOR_NAMESPACE "operator"
#define OPERATOR_RUNS      1000
#define WRITERS            8

static const kube_resource_t configmaps = {"", "v1", "configmaps", true};
static const kube_resource_t namespaces = {"", "v1", "namespaces", false};
static const kube_resource_t jobs = {"batch", "v1", "jobs", true};
static const kube_resource_t pods = {"", "v1", "pods", true};

static void die(const char *what)
{
    fprintf(stderr, "bench_informer: %s\n", what);
    exit(1);
}

/* ---- process memory ----------------------------------------------------------------- */

static long status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

static double mib(long kib)
{
    return (double)kib / 1024.0;
}

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* ---- kube-sim ----------------------------------------------------------------------- */

static pid_t sim_pid = -1;
static char sim_dir[64], sim_kubeconfig[128];

static void sim_start(void)
{
    snprintf(sim_dir, sizeof(sim_dir), "/tmp/bench-informer-XXXXXX");
    if (!mkdtemp(sim_dir))
        die("mkdtemp");
    snprintf(sim_kubeconfig, sizeof(sim_kubeconfig), "%s/kubeconfig", sim_dir);
    char certs[128];
    snprintf(certs, sizeof(certs), "%s/certs", sim_dir);
    int fds[2];
    if (pipe(fds) < 0)
        die("pipe");
    pid_t parent = getpid();
    sim_pid = fork();
    if (sim_pid < 0)
        die("fork");
    if (sim_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        if (chdir("test/kube-sim") < 0)
            _exit(127);
        execlp("python3", "python3", "-m", "kube_sim", "--port", "0", "--kubeconfig-out",
               sim_kubeconfig, "--cert-dir", certs, "--controllers", "namespace", "--history",
               "20000", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char line[512];
    size_t len = 0;
    while (!memchr(line, '\n', len)) {
        struct pollfd p = {fds[0], POLLIN, 0};
        if (poll(&p, 1, 60000) <= 0)
            die("kube-sim did not start");
        ssize_t n = read(fds[0], line + len, sizeof(line) - 1 - len);
        if (n <= 0)
            die("kube-sim exited");
        len += (size_t)n;
    }
    /* fds[0] stays open: kube-sim must never write into a closed pipe */
}

static void sim_stop(void)
{
    if (sim_pid > 0) {
        kill(sim_pid, SIGTERM);
        waitpid(sim_pid, NULL, 0);
    }
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sim_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", sim_dir);
}

static kube_client_t *new_client(const char *kubeconfig, kube_config_t **cfg)
{
    char *err = NULL;
    if (kube_config_load_file(kubeconfig, NULL, cfg, &err) < 0)
        die(err ? err : "kubeconfig");
    kube_client_options_t opts;
    kube_client_options_default(&opts);
    opts.qps = -1;
    kube_client_t *c;
    if (kube_client_new(*cfg, &opts, &c, &err) < 0)
        die(err ? err : "client");
    return c;
}

/* ---- objects ------------------------------------------------------------------------- */

/* A ConfigMap of about 1 KiB: a properties file and a script from one template with
 * per-object values, a random checksum, a few labels. */
static json_object *make_configmap(int i, unsigned int *seed)
{
    static const char *const builders[] = {"java-maven", "nodejs-16", "python-3.11", "golang-1.21",
                                           "ruby-3.2"};
    char checksum[65];
    for (int k = 0; k < 64; k++)
        checksum[k] = "0123456789abcdef"[rand_r(seed) % 16];
    checksum[64] = '\0';
    const char *builder = builders[i % 5];
    char *text = util_asprintf(
        "{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"run-%05d\","
        "\"labels\":{\"app.kubernetes.io/managed-by\":\"s2i-operator\","
        "\"devops.kubesphere.io/builder\":\"%s\",\"devops.kubesphere.io/run\":\"run-%05d\"}},"
        "\"data\":{\"application.properties\":\"server.port=%d\\nspring.application.name="
        "service-%d\\nspring.datasource.url=jdbc:postgresql://db-%d.prod.svc:5432/app\\n"
        "spring.datasource.username=app\\nlogging.level.root=INFO\\nlogging.level.io.kubesphere"
        "=DEBUG\\nmanagement.endpoints.web.exposure.include=health,info,prometheus\\n"
        "feature.flags=%s\\ncache.ttl.seconds=%d\\n\","
        "\"build.sh\":\"#!/bin/sh\\nset -eu\\ncd /tmp/src\\nexport BUILDER=%s\\n"
        "if [ -f pom.xml ]; then mvn -B -q package -DskipTests; fi\\n"
        "cp -r target/*.jar /deployments/ 2>/dev/null || true\\necho built run-%05d\\n\","
        "\"checksum\":\"sha256:%s\",\"revision\":\"%d\"}}",
        i, builder, i, 8000 + i % 1000, i, i % 17, i % 3 ? "a,b,c" : "a,d", 60 * (i % 10), builder,
        i, checksum, rand_r(seed) % 100000);
    json_object *obj = text ? json_tokener_parse(text) : NULL;
    free(text);
    if (!obj)
        die("make_configmap");
    return obj;
}

static size_t plain_len(json_object *obj)
{
    size_t len = 0;
    json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
                                      &len);
    return len;
}

typedef struct writer {
    kube_client_t *client;
    const char *ns;
    bool operator_set; /* a run's ConfigMap, Job and Pod (with a finished status) */
    int from, to;
    size_t json_bytes;     /* objects as the server answered them */
    size_t stripped_bytes; /* after informer_transform_strip */
} writer_t;

static void create_from_text(kube_client_t *c, const kube_resource_t *res, char *text,
                             kube_result_t *r)
{
    json_object *obj = text ? json_tokener_parse(text) : NULL;
    free(text);
    if (!obj)
        die("bad object text");
    kube_write_options_t wo = {.field_manager = "s2i-operator"};
    kube_err_t err = kube_create(c, res, OPERATOR_NAMESPACE, obj, &wo, r);
    json_object_put(obj);
    if (err != KUBE_OK && err != KUBE_ERR_ALREADY_EXISTS)
        die("create job/pod failed");
}

/* The Job of run i and its Pod, whose status says the build finished, as the operator's
 * caches would hold them. */
static void create_job_and_pod(kube_client_t *c, int i, kube_result_t *r)
{
    create_from_text(
        c, &jobs,
        util_asprintf("{\"kind\":\"Job\",\"apiVersion\":\"batch/v1\",\"metadata\":{\"name\":"
                      "\"run-%05d-build\",\"labels\":{\"devops.kubesphere.io/run\":\"run-%05d\"}},"
                      "\"spec\":{\"backoffLimit\":0,\"activeDeadlineSeconds\":3600,\"template\":{"
                      "\"metadata\":{\"labels\":{\"devops.kubesphere.io/run\":\"run-%05d\"}},"
                      "\"spec\":{\"restartPolicy\":\"Never\",\"initContainers\":[{\"name\":"
                      "\"copy-builder\",\"image\":\"kubespheredev/s2i-builder:v0.1.0\",\"command\":"
                      "[\"cp\",\"/s2i-builder\",\"/tools/\"]}],\"containers\":[{\"name\":\"build\","
                      "\"image\":\"kubespheredev/java-11-centos7:v0.0.1\",\"command\":"
                      "[\"/tools/s2i-builder\"],\"env\":[{\"name\":\"S2I_RUN\",\"value\":"
                      "\"run-%05d\"},{\"name\":\"S2I_SOURCE_URL\",\"value\":"
                      "\"https://github.com/kubesphere/devops-java-sample.git\"}]}]}}}}",
                      i, i, i, i),
        r);
    create_from_text(
        c, &pods,
        util_asprintf("{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":"
                      "\"run-%05d-build-x%04d\",\"labels\":{\"job-name\":\"run-%05d-build\","
                      "\"devops.kubesphere.io/run\":\"run-%05d\"}},\"spec\":{\"restartPolicy\":"
                      "\"Never\",\"containers\":[{\"name\":\"build\",\"image\":"
                      "\"kubespheredev/java-11-centos7:v0.0.1\"}]}}",
                      i, i % 10000, i, i),
        r);
    char name[64];
    snprintf(name, sizeof(name), "run-%05d-build-x%04d", i, i % 10000);
    char *status = util_asprintf(
        "{\"status\":{\"phase\":\"Succeeded\",\"conditions\":[{\"type\":\"Initialized\","
        "\"status\":\"True\",\"lastTransitionTime\":\"2024-05-01T10:00:00Z\"},{\"type\":"
        "\"Ready\",\"status\":\"False\",\"reason\":\"PodCompleted\",\"lastTransitionTime\":"
        "\"2024-05-01T10:03:00Z\"}],\"containerStatuses\":[{\"name\":\"build\",\"ready\":"
        "false,\"restartCount\":0,\"image\":\"kubespheredev/java-11-centos7:v0.0.1\","
        "\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\",\"message\":"
        "\"{\\\"image\\\":\\\"registry.local/app/run-%05d:latest\\\",\\\"digest\\\":"
        "\\\"sha256:%064d\\\",\\\"size\\\":81234567}\",\"startedAt\":"
        "\"2024-05-01T10:00:05Z\",\"finishedAt\":\"2024-05-01T10:03:00Z\"}}}]}}",
        i, i);
    kube_err_t err =
        kube_patch(c, &pods, OPERATOR_NAMESPACE, name, "status", KUBE_PATCH_MERGE, status, NULL, r);
    free(status);
    if (err != KUBE_OK)
        die("pod status patch failed");
}

static void *writer_main(void *arg)
{
    writer_t *w = arg;
    unsigned int seed = (unsigned int)w->from + 1;
    kube_result_t r = KUBE_RESULT_INIT;
    for (int i = w->from; i < w->to; i++) {
        json_object *obj = make_configmap(i, &seed);
        kube_write_options_t wo = {.field_manager = "bench"};
        kube_err_t err = kube_create(w->client, &configmaps, w->ns, obj, &wo, &r);
        json_object_put(obj);
        if (err != KUBE_OK && err != KUBE_ERR_ALREADY_EXISTS)
            die("create failed");
        if (err == KUBE_OK) {
            w->json_bytes += plain_len(r.body);
            w->stripped_bytes += plain_len(informer_transform_strip(r.body, NULL));
        }
        if (w->operator_set)
            create_job_and_pod(w->client, i, &r);
    }
    kube_result_clear(&r);
    return NULL;
}

/* ---- one informer configuration, in its own process ---------------------------------- */

static void on_add(json_object *obj, void *data)
{
    (void)obj;
    (*(size_t *)data)++;
}

/* Drops a Pod's spec: the operator reads a build pod's status only. */
static json_object *pod_status_only(json_object *obj, void *data)
{
    (void)data;
    json_object_object_del(obj, "spec");
    return informer_transform_strip(obj, NULL);
}

/* The operator's cache at its advertised size: runs, their Jobs and their Pods, one
 * informer each, one process. */
static int run_operator(const char *kubeconfig)
{
    kube_config_t *cfg;
    kube_client_t *client = new_client(kubeconfig, &cfg);
    long rss0 = status_kib("VmRSS"), anon0 = status_kib("RssAnon");
    const kube_resource_t *resources[] = {&configmaps, &jobs, &pods};
    const char *names[] = {"runs (ConfigMaps)", "jobs", "pods (status only)"};
    informer_t *inf[3];
    double t0 = util_monotonic();
    for (int i = 0; i < 3; i++) {
        informer_options_t opts = {
            .resource = resources[i],
            .namespace = OPERATOR_NAMESPACE,
            .transform = i == 2 ? pod_status_only : informer_transform_strip,
            .name = names[i],
            .page_size = getenv("BENCH_PAGE") ? atol(getenv("BENCH_PAGE")) : 0,
        };
        inf[i] = informer_new(client, &opts);
        informer_start(inf[i]);
    }
    for (int i = 0; i < 3; i++)
        if (!informer_wait_for_sync(inf[i], 600))
            die("no sync");
    double sync = util_monotonic() - t0;
    util_sleep(0.2);
    long rss1 = status_kib("VmRSS"), hwm = status_kib("VmHWM"), anon1 = status_kib("RssAnon");
    printf("%-22s 3 informers synced in %.2f s  RSS %5.2f -> %5.2f MiB (peak %5.2f, anon "
           "%4.2f -> %5.2f)\n",
           "operator", sync, mib(rss0), mib(rss1), mib(hwm), mib(anon0), mib(anon1));
    for (int i = 0; i < 3; i++) {
        informer_stats_t st;
        informer_get_stats(inf[i], &st);
        printf("    %-20s %5zu obj  store %7.1f KiB, %6.1f B/obj\n", names[i], st.objects,
               (double)st.store_bytes / 1024, (double)st.store_bytes / (double)st.objects);
        informer_free(inf[i]);
    }
    kube_client_free(client);
    kube_config_free(cfg);
    return 0;
}

static int run_child(const char *variant, const char *kubeconfig)
{
    if (strcmp(variant, "operator") == 0)
        return run_operator(kubeconfig);
    bool uncompressed = strstr(variant, "plain") != NULL;
    bool strip = strstr(variant, "strip") != NULL;
    long page = strstr(variant, "page500") ? 500 : 0; /* 0: adaptive */
    size_t dictionary = strstr(variant, "dict16k") ? 16384 : strstr(variant, "dict1k") ? 1024 : 0;
    const char *ns = strcmp(variant, "empty") == 0 ? "empty" : NAMESPACE;

    kube_config_t *cfg;
    kube_client_t *client = new_client(kubeconfig, &cfg);
    long rss0 = status_kib("VmRSS"), anon0 = status_kib("RssAnon");
    size_t heap0 = heap_in_use();
    size_t adds = 0;
    informer_options_t opts = {
        .resource = &configmaps,
        .namespace = ns,
        .page_size = page,
        .transform = strip ? informer_transform_strip : NULL,
        .store = {.uncompressed = uncompressed, .dictionary_bytes = dictionary},
    };
    informer_t *inf = informer_new(client, &opts);
    informer_handlers_t h = {.on_add = on_add, .data = &adds};
    informer_add_handlers(inf, &h);
    double t0 = util_monotonic();
    informer_start(inf);
    if (!informer_wait_for_sync(inf, 600))
        die("no sync");
    double sync = util_monotonic() - t0;
    util_sleep(0.2);
    long rss1 = status_kib("VmRSS"), hwm = status_kib("VmHWM"), anon1 = status_kib("RssAnon");
    size_t heap1 = heap_in_use();
    informer_stats_t st;
    informer_get_stats(inf, &st);
    malloc_trim(0);
    long rss2 = status_kib("VmRSS");

    char **keys;
    size_t n;
    double get_us = 0;
    if (store_list_keys(informer_store(inf), &keys, &n) == 0 && n) {
        double g0 = util_monotonic();
        for (size_t i = 0; i < n; i++)
            json_object_put(informer_get(inf, keys[i]));
        get_us = (util_monotonic() - g0) / (double)n * 1e6;
        store_keys_free(keys, n);
    }
    size_t objects = st.objects ? st.objects : 1;
    printf("%-22s %6zu obj  sync %5.2f s  RSS %5.2f -> %5.2f MiB (peak %5.2f, trimmed %5.2f, "
           "anon %4.2f -> %5.2f)  store %6.1f B/obj  heap %6.1f B/obj  get %4.1f us  pages %llu\n",
           variant, st.objects, sync, mib(rss0), mib(rss1), mib(hwm), mib(rss2), mib(anon0),
           mib(anon1), (double)st.store_bytes / (double)objects,
           (double)(heap1 - heap0) / (double)objects, get_us, (unsigned long long)st.list_pages);
    informer_free(inf);
    kube_client_free(client);
    kube_config_free(cfg);
    return adds == st.objects ? 0 : 1;
}

static void run_variant(const char *variant)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        execl("/proc/self/exe", "bench_informer", "--child", variant, sim_kubeconfig, (char *)NULL);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        printf("%-22s failed (status %d)\n", variant, status);
}

/* ---- event throughput, in memory ------------------------------------------------------- */

static int count_event(const kube_watch_event_t *ev, void *data)
{
    (void)ev;
    (*(size_t *)data)++;
    return 0;
}

static int informer_event(const kube_watch_event_t *ev, void *data)
{
    return informer_apply_event(data, ev) < 0;
}

static void bench_events(kube_client_t *client)
{
    enum { EVENTS = 20000, KEYS = 2000 };
    unsigned int seed = 3;
    buf_t stream = BUF_INIT;
    for (int i = 0; i < EVENTS; i++) {
        json_object *obj = make_configmap(i % KEYS, &seed);
        json_object *meta;
        json_object_object_get_ex(obj, "metadata", &meta);
        json_object_object_add(meta, "namespace", json_object_new_string(NAMESPACE));
        char rv[16], uid[48];
        snprintf(rv, sizeof(rv), "%d", 1000 + i);
        snprintf(uid, sizeof(uid), "uid-%d", i % KEYS);
        json_object_object_add(meta, "resourceVersion", json_object_new_string(rv));
        json_object_object_add(meta, "uid", json_object_new_string(uid));
        buf_printf(&stream, "{\"type\":\"%s\",\"object\":%s}\n", i < KEYS ? "ADDED" : "MODIFIED",
                   json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
                                                           JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(obj);
    }
    size_t count = 0;
    kube_watch_decoder_t *d = kube_watch_decoder_new(count_event, &count, 0);
    double t0 = util_monotonic();
    for (size_t off = 0; off < stream.len; off += 16384) {
        size_t len = stream.len - off < 16384 ? stream.len - off : 16384;
        kube_watch_decoder_feed(d, stream.data + off, len);
    }
    kube_watch_decoder_finish(d);
    double dt = util_monotonic() - t0;
    kube_watch_decoder_free(d);
    printf("watch decoder          %zu events (%.0f B each) in %.3f s: %.0f events/s, %.1f MB/s\n",
           count, (double)stream.len / EVENTS, dt, (double)count / dt,
           (double)stream.len / dt / 1e6);

    for (int compressed = 1; compressed >= 0; compressed--) {
        informer_options_t opts = {.resource = &configmaps,
                                   .transform = informer_transform_strip,
                                   .store = {.uncompressed = !compressed}};
        informer_t *inf = informer_new(client, &opts);
        size_t adds = 0;
        informer_handlers_t h = {.on_add = on_add, .data = &adds};
        informer_add_handlers(inf, &h);
        d = kube_watch_decoder_new(informer_event, inf, 0);
        t0 = util_monotonic();
        for (size_t off = 0; off < stream.len; off += 16384) {
            size_t len = stream.len - off < 16384 ? stream.len - off : 16384;
            kube_watch_decoder_feed(d, stream.data + off, len);
        }
        dt = util_monotonic() - t0;
        printf("decoder + informer     %zu events into a %s store in %.3f s: %.0f events/s\n",
               kube_watch_decoder_events(d), compressed ? "deflated" : "plain", dt,
               (double)kube_watch_decoder_events(d) / dt);
        kube_watch_decoder_free(d);
        informer_free(inf);
    }
    buf_free(&stream);
}

int main(int argc, char **argv)
{
    log_set_verbosity(0);
    log_set_fd(open("/dev/null", O_WRONLY));
    if (argc == 4 && strcmp(argv[1], "--child") == 0)
        return run_child(argv[2], argv[3]);
    int objects = argc > 1 ? atoi(argv[1]) : 10000;

    sim_start();
    kube_config_t *cfg;
    kube_client_t *client = new_client(sim_kubeconfig, &cfg);
    kube_result_t r = KUBE_RESULT_INIT;
    const char *names[] = {NAMESPACE, "empty", OPERATOR_NAMESPACE};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(names); i++) {
        char *text = util_asprintf(
            "{\"kind\":\"Namespace\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"%s\"}}",
            names[i]);
        json_object *ns = json_tokener_parse(text);
        free(text);
        kube_create(client, &namespaces, NULL, ns, NULL, &r);
        json_object_put(ns);
    }
    kube_result_clear(&r);

    writer_t w[WRITERS];
    pthread_t t[WRITERS];
    double t0 = util_monotonic();
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (writer_t){
            client, NAMESPACE, false, objects * i / WRITERS, objects * (i + 1) / WRITERS, 0, 0};
        pthread_create(&t[i], NULL, writer_main, &w[i]);
    }
    size_t json_bytes = 0, stripped = 0;
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(t[i], NULL);
        json_bytes += w[i].json_bytes;
        stripped += w[i].stripped_bytes;
    }
    printf("created %d ConfigMaps in %.1f s; JSON as served %.0f B/obj, after "
           "informer_transform_strip %.0f B/obj\n",
           objects, util_monotonic() - t0, (double)json_bytes / objects,
           (double)stripped / objects);

    t0 = util_monotonic();
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (writer_t){client,
                          OPERATOR_NAMESPACE,
                          true,
                          OPERATOR_RUNS * i / WRITERS,
                          OPERATOR_RUNS * (i + 1) / WRITERS,
                          0,
                          0};
        pthread_create(&t[i], NULL, writer_main, &w[i]);
    }
    for (int i = 0; i < WRITERS; i++)
        pthread_join(t[i], NULL);
    printf("created %d runs (ConfigMap + Job + Pod with status) in %.1f s\n", OPERATOR_RUNS,
           util_monotonic() - t0);

    const char *variants[] = {
        "empty",     "deflate-strip",        "deflate-strip-page500", "plain-strip", "deflate-raw",
        "plain-raw", "deflate-strip-dict1k", "deflate-strip-dict16k", "operator"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(variants); i++)
        run_variant(variants[i]);

    bench_events(client);
    kube_client_free(client);
    kube_config_free(cfg);
    sim_stop();
    return 0;
}

/*
 * s2i-operator: flags, configuration and wiring. No logic lives here.
 *
 *   s2i-operator [flags]                       run the controllers
 *   s2i-operator debug watch --resource jobs.v1.batch [-n NS] [-l SELECTOR]
 *                                              print informer events (a manual check
 *                                              against any cluster)
 */
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "controller/controller.h"
#include "controller/jobspec.h"
#include "httpapi/httpapi.h"
#include "informer/informer.h"
#include "kube/kube.h"
#include "leader/leader.h"
#include "metrics/metrics.h"
#include "server/server.h"
#include "util/util.h"
#include "webhook/webhook.h"

#define MAX_INSECURE 16

typedef struct flags {
    const char *kubeconfig;
    const char *context;
    const char *namespace;
    const char *builder_image;
    const char *builder_pull_policy;
    const char *log_url_base;
    const char *insecure[MAX_INSECURE + 1];
    size_t ninsecure;
    int workers;
    double qps;
    int burst;
    long default_timeout;
    double builder_status_interval;
    double run_status_interval;
    bool leader_elect;
    const char *leader_namespace;
    const char *leader_id;
    const char *metrics_address;
    const char *probe_address;
    const char *http_address;
    long max_concurrent_builds;
    long pending_timeout;
    int webhook_port;
    const char *webhook_namespace;
    const char *webhook_service;
    const char *webhook_secret;
    const char *webhook_cert_source;
    const char *webhook_cert_dir;
    const char *webhook_extra[MAX_INSECURE + 1];
    size_t nwebhook_extra;
    const char *mutating_config;
    const char *validating_config;
    double webhook_cert_validity;
    double webhook_ca_validity;
    double webhook_check_interval;
} flags_t;

static void usage(FILE *out)
{
    fprintf(
        out,
        "Usage: s2i-operator [flags]\n"
        "       s2i-operator debug watch --resource PLURAL.VERSION[.GROUP] [-n NAMESPACE] [-l "
        "SELECTOR]\n"
        "\n"
        "Flags:\n"
        "  --kubeconfig PATH              kubeconfig (default: $KUBECONFIG, in-cluster, "
        "~/.kube/config)\n"
        "  --context NAME                 kubeconfig context\n"
        "  --namespace NS                 watch one namespace (default: all)\n"
        "  --builder-image IMAGE          image of the build's prepare step (env S2IIMAGENAME)\n"
        "  --builder-image-pull-policy P  Always|IfNotPresent|Never (default IfNotPresent)\n"
        "  --workers N                    reconcile workers per controller (default 2)\n"
        "  --kube-api-qps N               client-side requests per second (default 1000;\n"
        "                                 the API server's priority and fairness is the guard)\n"
        "  --kube-api-burst N             client-side burst (default 2000)\n"
        "  --default-timeout SECONDS      build timeout of runs without spec.timeout (default "
        "3600)\n"
        "  --log-url-base URL             base of status.logURL (default: KubeSphere logging)\n"
        "  --insecure-registry HOST:PORT  registry reached over plain HTTP (repeatable)\n"
        "  --builder-status-interval S    seconds between a builder's status writes (default 1)\n"
        "  --run-status-interval S        seconds between a run's progress writes (default 3)\n"
        "  --leader-elect                 elect a leader with a Lease; only the leader reconciles\n"
        "  --leader-election-namespace NS namespace of the Lease (default: POD_NAMESPACE)\n"
        "  --leader-election-id NAME      name of the Lease (default s2i-operator-leader)\n"
        "  --metrics-bind-address ADDR    Prometheus /metrics (default :8080; 0 disables)\n"
        "  --health-probe-bind-address A  /healthz and /readyz (default :8081; 0 disables)\n"
        "  --http-bind-address ADDR      build logs and triggers (default :8082; 0 disables)\n"
        "  --max-concurrent-builds N      builds running at once in the cluster (default: no "
        "limit)\n"
        "  --pending-timeout DURATION     a build pod that has not started by then fails (default "
        "10m)\n"
        "  --webhook-port N               admission webhooks over HTTPS (default 9443; 0 "
        "disables)\n"
        "  --webhook-namespace NS         the operator's namespace (default: POD_NAMESPACE)\n"
        "  --webhook-service-name NAME    Service in front of the webhooks (default "
        "webhook-server-service)\n"
        "  --webhook-cert-secret NAME     Secret of the serving certificate (default "
        "s2i-webhook-server-cert)\n"
        "  --webhook-cert-source S        generate|secret|dir (default generate)\n"
        "  --webhook-cert-dir DIR         tls.crt and tls.key for --webhook-cert-source=dir\n"
        "  --webhook-extra-dns-name NAME  another SAN of generated certificates (repeatable)\n"
        "  --mutating-webhook-config NAME caBundle target (default "
        "mutating-webhook-configuration)\n"
        "  --validating-webhook-config N  caBundle target (default "
        "validating-webhook-configuration)\n"
        "  --webhook-cert-validity S      serving certificate validity (default 1 year)\n"
        "  --webhook-ca-validity S        CA validity (default 10 years)\n"
        "  --webhook-cert-check-interval S  seconds between certificate checks (default 60)\n"
        "  -v, --v N                      log verbosity (klog levels)\n"
        "  --log-format text|json         log format (default text)\n"
        "  --version                      print the version\n");
}

static const char *optval(const char *arg)
{
    /* klog-style "-v=4" arrives as "=4". */
    return arg && arg[0] == '=' ? arg + 1 : arg;
}

static int parse_flags(int argc, char **argv, flags_t *f)
{
    enum {
        O_KUBECONFIG = 1000,
        O_CONTEXT,
        O_NAMESPACE,
        O_BUILDER_IMAGE,
        O_PULL_POLICY,
        O_WORKERS,
        O_QPS,
        O_BURST,
        O_TIMEOUT,
        O_LOG_URL,
        O_INSECURE,
        O_BSI,
        O_RSI,
        O_LOG_FORMAT,
        O_VERSION,
        O_HELP,
        O_LEADER,
        O_LEADER_NS,
        O_LEADER_ID,
        O_METRICS,
        O_PROBES,
        O_HTTP,
        O_MAX_BUILDS,
        O_PENDING,
        O_WH_PORT,
        O_WH_NS,
        O_WH_SERVICE,
        O_WH_SECRET,
        O_WH_SOURCE,
        O_WH_DIR,
        O_WH_EXTRA,
        O_WH_MUTATING,
        O_WH_VALIDATING,
        O_WH_CERT_VALIDITY,
        O_WH_CA_VALIDITY,
        O_WH_CHECK
    };
    static const struct option opts[] = {
        {"kubeconfig", required_argument, NULL, O_KUBECONFIG},
        {"context", required_argument, NULL, O_CONTEXT},
        {"namespace", required_argument, NULL, O_NAMESPACE},
        {"builder-image", required_argument, NULL, O_BUILDER_IMAGE},
        {"builder-image-pull-policy", required_argument, NULL, O_PULL_POLICY},
        {"workers", required_argument, NULL, O_WORKERS},
        {"kube-api-qps", required_argument, NULL, O_QPS},
        {"kube-api-burst", required_argument, NULL, O_BURST},
        {"default-timeout", required_argument, NULL, O_TIMEOUT},
        {"log-url-base", required_argument, NULL, O_LOG_URL},
        {"insecure-registry", required_argument, NULL, O_INSECURE},
        {"builder-status-interval", required_argument, NULL, O_BSI},
        {"run-status-interval", required_argument, NULL, O_RSI},
        {"log-format", required_argument, NULL, O_LOG_FORMAT},
        {"leader-elect", optional_argument, NULL, O_LEADER},
        {"leader-election-namespace", required_argument, NULL, O_LEADER_NS},
        {"leader-election-id", required_argument, NULL, O_LEADER_ID},
        {"metrics-bind-address", required_argument, NULL, O_METRICS},
        {"health-probe-bind-address", required_argument, NULL, O_PROBES},
        {"http-bind-address", required_argument, NULL, O_HTTP},
        {"max-concurrent-builds", required_argument, NULL, O_MAX_BUILDS},
        {"pending-timeout", required_argument, NULL, O_PENDING},
        {"webhook-port", required_argument, NULL, O_WH_PORT},
        {"webhook-namespace", required_argument, NULL, O_WH_NS},
        {"webhook-service-name", required_argument, NULL, O_WH_SERVICE},
        {"webhook-cert-secret", required_argument, NULL, O_WH_SECRET},
        {"webhook-cert-source", required_argument, NULL, O_WH_SOURCE},
        {"webhook-cert-dir", required_argument, NULL, O_WH_DIR},
        {"webhook-extra-dns-name", required_argument, NULL, O_WH_EXTRA},
        {"mutating-webhook-config", required_argument, NULL, O_WH_MUTATING},
        {"validating-webhook-config", required_argument, NULL, O_WH_VALIDATING},
        {"webhook-cert-validity", required_argument, NULL, O_WH_CERT_VALIDITY},
        {"webhook-ca-validity", required_argument, NULL, O_WH_CA_VALIDITY},
        {"webhook-cert-check-interval", required_argument, NULL, O_WH_CHECK},
        {"v", required_argument, NULL, 'v'},
        {"version", no_argument, NULL, O_VERSION},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "v:n:", opts, NULL)) != -1) {
        const char *a = optval(optarg);
        switch (c) {
        case O_KUBECONFIG:
            f->kubeconfig = a;
            break;
        case O_CONTEXT:
            f->context = a;
            break;
        case 'n':
        case O_NAMESPACE:
            f->namespace = a;
            break;
        case O_BUILDER_IMAGE:
            f->builder_image = a;
            break;
        case O_PULL_POLICY:
            f->builder_pull_policy = a;
            break;
        case O_WORKERS:
            f->workers = atoi(a);
            break;
        case O_QPS:
            f->qps = atof(a);
            break;
        case O_BURST:
            f->burst = atoi(a);
            break;
        case O_TIMEOUT:
            f->default_timeout = atol(a);
            break;
        case O_LOG_URL:
            f->log_url_base = a;
            break;
        case O_INSECURE:
            if (f->ninsecure < MAX_INSECURE)
                f->insecure[f->ninsecure++] = a;
            break;
        case O_BSI:
            f->builder_status_interval = atof(a);
            break;
        case O_RSI:
            f->run_status_interval = atof(a);
            break;
        case O_LOG_FORMAT:
            if (strcmp(a, "json") == 0)
                log_set_format(LOG_FORMAT_JSON);
            else if (strcmp(a, "text") != 0) {
                fprintf(stderr, "s2i-operator: --log-format must be text or json\n");
                return -1;
            }
            break;
        case 'v':
            log_set_verbosity(atoi(a));
            break;
        case O_LEADER:
            f->leader_elect = !a || strcmp(a, "false") != 0;
            break;
        case O_LEADER_NS:
            f->leader_namespace = a;
            break;
        case O_LEADER_ID:
            f->leader_id = a;
            break;
        case O_METRICS:
            f->metrics_address = a;
            break;
        case O_PROBES:
            f->probe_address = a;
            break;
        case O_HTTP:
            f->http_address = a;
            break;
        case O_MAX_BUILDS:
            f->max_concurrent_builds = atol(a);
            break;
        case O_WH_PORT:
            f->webhook_port = atoi(a);
            break;
        case O_WH_NS:
            f->webhook_namespace = a;
            break;
        case O_WH_SERVICE:
            f->webhook_service = a;
            break;
        case O_WH_SECRET:
            f->webhook_secret = a;
            break;
        case O_WH_SOURCE:
            f->webhook_cert_source = a;
            break;
        case O_WH_DIR:
            f->webhook_cert_dir = a;
            break;
        case O_WH_EXTRA:
            if (f->nwebhook_extra < MAX_INSECURE)
                f->webhook_extra[f->nwebhook_extra++] = a;
            break;
        case O_WH_MUTATING:
            f->mutating_config = a;
            break;
        case O_WH_VALIDATING:
            f->validating_config = a;
            break;
        case O_WH_CERT_VALIDITY:
            f->webhook_cert_validity = atof(a);
            break;
        case O_WH_CA_VALIDITY:
            f->webhook_ca_validity = atof(a);
            break;
        case O_WH_CHECK:
            f->webhook_check_interval = atof(a);
            break;
        case O_PENDING:
            /* "10m", "90s" or plain seconds */
            f->pending_timeout =
                jobspec_parse_duration(a) > 0 ? jobspec_parse_duration(a) : atol(a);
            break;
        case O_VERSION:
            printf("s2i-operator %s\n", S2I_VERSION);
            exit(0);
        case O_HELP:
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    return 0;
}

typedef struct api_metrics {
    metrics_family_t *requests;
    metrics_family_t *latency;
} api_metrics_t;

static void observe_api(const char *method, long code, double seconds, void *data)
{
    api_metrics_t *am = data;
    char c[16];
    snprintf(c, sizeof c, "%ld", code);
    metrics_counter_inc(am->requests, METRICS_LABELS(method, c));
    metrics_histogram_observe(am->latency, METRICS_LABELS(method), seconds);
}

static int connect_client(const flags_t *f, api_metrics_t *am, kube_config_t **config,
                          kube_client_t **client)
{
    char *err = NULL;
    if (kube_config_load_default(f->kubeconfig, f->context, config, &err) < 0) {
        log_error("cannot load the cluster configuration", "error", err ? err : "unknown", NULL);
        free(err);
        return -1;
    }
    kube_client_options_t co;
    kube_client_options_default(&co);
    /* A burst of runs costs about three requests each (Job, Event, status): a limit of 50
     * capped a burst at 35 runs/s. The API server protects itself (API Priority and
     * Fairness answers 429, which the client honours); this limit only stops a runaway. */
    co.qps = f->qps > 0 ? f->qps : 1000;
    co.burst = f->burst > 0 ? f->burst : 2000;
    if (am && am->requests && am->latency) {
        co.observe = observe_api;
        co.observe_data = am;
    }
    if (kube_client_new(*config, &co, client, &err) < 0) {
        log_error("cannot create the API client", "error", err ? err : "unknown", NULL);
        free(err);
        kube_config_free(*config);
        return -1;
    }
    return 0;
}

/* Blocks SIGTERM/SIGINT in every thread (called before any is created) and waits for
 * one in the calling thread. */
static sigset_t stop_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    /* From the leader-election thread: SIGUSR1 won the Lease, SIGUSR2 lost it. */
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    return set;
}

/* ---- debug watch --------------------------------------------------------------------- */

static void print_event(const char *type, json_object *obj)
{
    json_object *md = NULL, *v = NULL;
    const char *ns = "", *name = "", *rv = "";
    if (json_object_object_get_ex(obj, "metadata", &md)) {
        if (json_object_object_get_ex(md, "namespace", &v))
            ns = json_object_get_string(v);
        if (json_object_object_get_ex(md, "name", &v))
            name = json_object_get_string(v);
        if (json_object_object_get_ex(md, "resourceVersion", &v))
            rv = json_object_get_string(v);
    }
    printf("%-8s %s%s%s rv=%s\n", type, ns, *ns ? "/" : "", name, rv);
    fflush(stdout);
}

static void dbg_add(json_object *o, void *d)
{
    (void)d;
    print_event("ADDED", o);
}

static void dbg_update(json_object *old, json_object *o, void *d)
{
    (void)d;
    (void)old;
    print_event("MODIFIED", o);
}

static void dbg_delete(json_object *o, void *d)
{
    (void)d;
    print_event("DELETED", o);
}

static int debug_watch(int argc, char **argv)
{
    const char *resource = NULL, *ns = NULL, *selector = NULL;
    flags_t f = {0};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!a)
            break;
        if ((strcmp(a, "--resource") == 0 || strcmp(a, "-r") == 0) && next)
            resource = argv[++i];
        else if ((strcmp(a, "-n") == 0 || strcmp(a, "--namespace") == 0) && next)
            ns = argv[++i];
        else if ((strcmp(a, "-l") == 0 || strcmp(a, "--selector") == 0) && next)
            selector = argv[++i];
        else if (strcmp(a, "--kubeconfig") == 0 && next)
            f.kubeconfig = argv[++i];
        else if (strncmp(a, "--kubeconfig=", 13) == 0)
            f.kubeconfig = a + 13;
    }
    if (!resource) {
        usage(stderr);
        return 2;
    }
    /* plural.version[.group]: "jobs.v1.batch", "pods.v1", "s2iruns.v1alpha1.devops.kubesphere.io"
     */
    char *copy = strdup(resource);
    char *plural = copy, *version = strchr(copy, '.');
    if (!version) {
        fprintf(stderr, "s2i-operator: --resource must be PLURAL.VERSION[.GROUP]\n");
        free(copy);
        return 2;
    }
    *version++ = '\0';
    char *group = strchr(version, '.');
    if (group)
        *group++ = '\0';
    kube_resource_t res = {group ? group : "", version, plural, true};
    if (strcmp(plural, "namespaces") == 0 || strcmp(plural, "nodes") == 0 ||
        strcmp(plural, "customresourcedefinitions") == 0 ||
        strcmp(plural, "s2ibuildertemplates") == 0)
        res.namespaced = false;
    sigset_t set = stop_signals();
    kube_config_t *config;
    kube_client_t *client;
    if (connect_client(&f, NULL, &config, &client) < 0) {
        free(copy);
        return 1;
    }
    informer_options_t o = {0};
    o.resource = &res;
    o.namespace = ns;
    o.label_selector = selector;
    o.transform = informer_transform_strip;
    informer_t *inf = informer_new(client, &o);
    informer_handlers_t h = {dbg_add, dbg_update, dbg_delete, NULL};
    int rc = 1;
    if (inf && informer_add_handlers(inf, &h) == 0 && informer_start(inf) == 0) {
        int sig;
        sigwait(&set, &sig);
        rc = 0;
    }
    informer_free(inf);
    kube_client_free(client);
    kube_config_free(config);
    free(copy);
    return rc;
}

/* ---- main ------------------------------------------------------------------------------- */

static pthread_t main_thread;

static void on_started_leading(void *data)
{
    (void)data;
    pthread_kill(main_thread, SIGUSR1);
}

static void on_stopped_leading(void *data)
{
    (void)data;
    pthread_kill(main_thread, SIGUSR2);
}

static void on_new_leader(const char *identity, void *data)
{
    (void)data;
    log_info("leader elected", "identity", identity, NULL);
}

static bool caches_ready(void *data, buf_t *reason)
{
    if (controller_manager_synced(data))
        return true;
    buf_puts(reason, "informer caches have not synced yet");
    return false;
}

static server_listener_t *listen_on(server_t *srv, const char *name, const char *address)
{
    if (!address || !*address || strcmp(address, "0") == 0)
        return NULL;
    server_listener_options_t lo = {0};
    lo.name = name;
    lo.address = address;
    return server_add_listener(srv, &lo);
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "debug") == 0 && strcmp(argv[2], "watch") == 0)
        return debug_watch(argc - 3, argv + 3);
    flags_t f = {0};
    f.builder_image = getenv("S2IIMAGENAME");
    f.metrics_address = ":8080";
    f.probe_address = ":8081";
    f.http_address = ":8082";
    f.webhook_port = 9443;
    f.leader_id = "s2i-operator-leader";
    if (parse_flags(argc, argv, &f) < 0)
        return 2;
    if (!f.builder_image || !*f.builder_image) {
        log_error("no builder image: set --builder-image or S2IIMAGENAME", NULL);
        return 2;
    }
    /* Each thread would otherwise get its own malloc arena that keeps its freed memory:
     * capping them halved the operator's RSS after a burst. */
    mallopt(M_ARENA_MAX, 2);
    main_thread = pthread_self();
    sigset_t set = stop_signals();
    metrics_registry_t *reg = metrics_registry_new();
    metrics_process_collector_register(reg);
    api_metrics_t am = {
        metrics_counter_new(
            reg, "s2i_kube_client_requests_total",
            "Requests to the Kubernetes API, by method and HTTP code (0: no answer).",
            METRICS_LABELS("method", "code")),
        metrics_histogram_new(reg, "s2i_kube_client_request_duration_seconds",
                              "Kubernetes API request latency, by method.",
                              METRICS_LABELS("method"), NULL, 0)};
    kube_config_t *config;
    kube_client_t *client;
    if (connect_client(&f, &am, &config, &client) < 0) {
        metrics_registry_free(reg);
        return 1;
    }
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    const char *pod = getenv("POD_NAME") ? getenv("POD_NAME") : host;
    controller_options_t co = {0};
    co.namespace = f.namespace;
    co.builder_image = f.builder_image;
    co.builder_image_pull_policy = f.builder_pull_policy;
    co.insecure_registries = f.ninsecure ? f.insecure : NULL;
    co.workers = f.workers;
    co.default_timeout = f.default_timeout;
    co.log_url_base = f.log_url_base;
    co.builder_status_interval = f.builder_status_interval;
    co.run_status_interval = f.run_status_interval;
    co.instance = pod;
    co.metrics = reg;
    co.max_concurrent_builds = f.max_concurrent_builds;
    co.pending_timeout = f.pending_timeout;
    controller_manager_t *mgr = NULL;
    server_t *srv = NULL;
    httpapi_t *api = NULL;
    kube_client_t *http_client = NULL;
    webhook_t *wh = NULL;
    kube_client_t *webhook_client = NULL;
    leader_t *leader = NULL;
    char *identity = NULL;
    int rc = 1;
    if (controller_manager_new(client, &co, &mgr) < 0 || controller_manager_start(mgr) < 0) {
        log_error("cannot start the controllers", NULL);
        goto out;
    }
    srv = server_new(&(server_options_t){.metrics = reg});
    server_listener_t *metrics_l = listen_on(srv, "metrics", f.metrics_address);
    server_listener_t *probes_l = listen_on(srv, "probes", f.probe_address);
    server_listener_t *http_l = listen_on(srv, "http", f.http_address);
    if (http_l) {
        /* Its own client: log followers must not spend the reconcilers' request budget. */
        kube_client_options_t ho;
        kube_client_options_default(&ho);
        ho.qps = 20;
        ho.burst = 40;
        char *err = NULL;
        if (kube_client_new(config, &ho, &http_client, &err) < 0 ||
            httpapi_new(&(httpapi_options_t){.client = http_client, .manager = mgr, .metrics = reg},
                        &api) < 0 ||
            httpapi_register(api, http_l) < 0) {
            log_error("cannot start the log and trigger endpoints", "error", err ? err : "", NULL);
            free(err);
            goto out;
        }
    }
    if (srv && f.webhook_port > 0) {
        /* Its own client with a short timeout: a live lookup must answer within the
         * webhook's timeoutSeconds (5). */
        kube_client_options_t wco = {0};
        kube_client_options_default(&wco);
        wco.qps = 20;
        wco.burst = 40;
        wco.timeout = 3;
        wco.max_retries = 0;
        char address[32], *err = NULL;
        snprintf(address, sizeof address, ":%d", f.webhook_port);
        const char *src = f.webhook_cert_source ? f.webhook_cert_source : "generate";
        webhook_options_t wo = {
            .address = address,
            .metrics = reg,
            .cert_source = strcmp(src, "secret") == 0 ? WEBHOOK_CERTS_SECRET
                           : strcmp(src, "dir") == 0  ? WEBHOOK_CERTS_FILES
                                                      : WEBHOOK_CERTS_GENERATE,
            .namespace = f.webhook_namespace       ? f.webhook_namespace
                         : getenv("POD_NAMESPACE") ? getenv("POD_NAMESPACE")
                         : config->namespace       ? config->namespace
                                                   : "default",
            .service_name = f.webhook_service,
            .extra_dns_names = f.nwebhook_extra ? f.webhook_extra : NULL,
            .cert_secret = f.webhook_secret,
            .cert_dir = f.webhook_cert_dir,
            .mutating_config = f.mutating_config,
            .validating_config = f.validating_config,
            .cert_validity = f.webhook_cert_validity,
            .ca_validity = f.webhook_ca_validity,
            .check_interval = f.webhook_check_interval,
        };
        webhook_lookup_from_manager(&wo.lookup, mgr);
        if (kube_client_new(config, &wco, &webhook_client, &err) < 0) {
            log_error("cannot make the webhooks' API client", "error", err ? err : "", NULL);
            free(err);
            goto out;
        }
        wo.client = webhook_client;
        if (webhook_new(&wo, &wh) < 0 || webhook_attach(wh, srv) < 0) {
            log_error("cannot serve the admission webhooks", NULL);
            goto out;
        }
    }
    if (!srv || (metrics_l && server_add_metrics(metrics_l, reg) < 0) ||
        (probes_l && server_add_health_probes(probes_l, caches_ready, mgr) < 0) ||
        server_start(srv) < 0) {
        log_error("cannot start the HTTP server", NULL);
        goto out;
    }
    if (wh && webhook_start(wh) < 0) {
        log_error("cannot start the webhook certificate checks", NULL);
        goto out;
    }
    char mport[16] = "off", pport[16] = "off", hport[16] = "off";
    if (http_l)
        snprintf(hport, sizeof hport, "%d", server_listener_port(http_l));
    if (metrics_l)
        snprintf(mport, sizeof mport, "%d", server_listener_port(metrics_l));
    if (probes_l)
        snprintf(pport, sizeof pport, "%d", server_listener_port(probes_l));
    log_info("s2i-operator started", "version", S2I_VERSION, "server", kube_client_base_url(client),
             "metricsPort", mport, "probesPort", pport, "httpPort", hport, "namespace",
             f.namespace ? f.namespace : "(all)", "builderImage", f.builder_image, "leaderElection",
             f.leader_elect ? "on" : "off", NULL);
    if (f.leader_elect) {
        leader_options_t lo;
        leader_options_default(&lo);
        char *err = NULL;
        lo.namespace = f.leader_namespace        ? f.leader_namespace
                       : getenv("POD_NAMESPACE") ? getenv("POD_NAMESPACE")
                       : config->namespace       ? config->namespace
                                                 : "default";
        lo.name = f.leader_id;
        if (leader_identity_new(pod, &identity) < 0) {
            log_error("cannot make a leader-election identity", NULL);
            goto out;
        }
        lo.identity = identity;
        leader_callbacks_t cb = {on_started_leading, on_stopped_leading, on_new_leader, NULL};
        if (leader_new(config, &lo, &cb, &leader, &err) < 0 || leader_start(leader) < 0) {
            log_error("cannot start leader election", "error", err ? err : "unknown", NULL);
            free(err);
            goto out;
        }
    } else if (controller_manager_run(mgr) < 0) {
        log_error("cannot start the reconcile workers", NULL);
        goto out;
    }
    if (controller_manager_wait_for_sync(mgr, 60))
        log_info("caches synced", NULL);
    for (;;) {
        /* Every second: memory a burst (or the initial lists and their reconciles) left
         * behind goes back to the system once the queues drain. It trims only after work,
         * so an idle operator does not. */
        controller_manager_release_memory(mgr);
        struct timespec tick = {1, 0};
        int sig = sigtimedwait(&set, NULL, &tick);
        if (sig < 0)
            continue; /* EAGAIN: the tick; EINTR */
        if (sig == SIGUSR1) {
            log_info("became the leader: reconciling", "identity", identity, NULL);
            if (controller_manager_run(mgr) < 0) {
                log_error("cannot start the reconcile workers", NULL);
                goto out;
            }
            continue;
        }
        if (sig == SIGUSR2) {
            /* As controller-runtime: a replica that lost the Lease exits, and is restarted as a
             * standby with fresh state, rather than risk reconciling beside the new leader. */
            log_error("lost the leader Lease: exiting", NULL);
            controller_manager_stop(mgr);
            rc = 1;
            goto out;
        }
        log_info("shutting down", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
        break;
    }
    controller_manager_stop(mgr);
    if (leader)
        leader_stop(leader); /* releases the Lease: a standby takes over at once */
    rc = 0;
out:
    webhook_stop(wh);
    if (srv)
        server_stop(srv, 5);
    if (api)
        httpapi_stop(api);
    server_free(srv);
    httpapi_free(api);
    kube_client_free(http_client);
    webhook_free(wh);
    kube_client_free(webhook_client);
    leader_free(leader);
    free(identity);
    controller_manager_free(mgr);
    kube_client_free(client);
    kube_config_free(config);
    metrics_registry_free(reg);
    if (rc == 0)
        log_info("stopped", NULL);
    return rc;
}

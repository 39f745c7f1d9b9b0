/*
 * pkg/webhook against test/kube-sim, end to end: kube-sim calls the webhooks as
 * kube-apiserver does (AdmissionReview v1 over HTTPS, verified against the caBundle for
 * <service>.<namespace>.svc; the Service's kube-sim/endpoint annotation points at this
 * process), and the real kubectl is the client. The webhook runs in this process with its
 * own certificate machinery and no caches, so every lookup is a live GET.
 *
 * Covered: the Secret and caBundle written at start; kubectl's denials with upstream's
 * texts; defaulting; the run's label and ownerReference (and garbage collection through
 * it); spec immutability of a started run; three forced rotations (CA, serving, CA) while
 * kubectl keeps creating objects — none may fail; a wrong SAN refused even with a CN that
 * names the host (no CN reliance); replicas sharing the Secret and racing to rotate it; a
 * deleted Secret replaced without refusals; cert-manager-style Secrets followed.
 */
#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/api.h"
#include "kube/kube.h"
#include "server/server.h"
#include "util/util.h"
#include "webhook/webhook.h"
#include "webhook/webhook_internal.h"

#define OPNS     "s2i-system"
#define NS       "demo"
#define SERVICE  "webhook-server-service"
#define PATIENCE 60.0

static const kube_resource_t secrets = {"", "v1", "secrets", true};
static const kube_resource_t runs = {"devops.kubesphere.io", "v1alpha1", "s2iruns", true};
static const kube_resource_t mutating = {"admissionregistration.k8s.io", "v1",
                                         "mutatingwebhookconfigurations", false};
static const kube_resource_t validating = {"admissionregistration.k8s.io", "v1",
                                           "validatingwebhookconfigurations", false};

/* ---- kube-sim (as test_leader_sim.c starts it) ----------------------------------------- */

static struct {
    pid_t pid;
    int out_fd;
    char dir[64];
    char kubeconfig[128];
} sim = {.pid = -1, .out_fd = -1};

static void sim_start(void)
{
    snprintf(sim.dir, sizeof(sim.dir), "/tmp/webhook-sim-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(sim.dir));
    snprintf(sim.kubeconfig, sizeof(sim.kubeconfig), "%s/kubeconfig", sim.dir);
    char certs[128], cache[128];
    snprintf(certs, sizeof(certs), "%s/certs", sim.dir);
    snprintf(cache, sizeof(cache), "%s/kubecache", sim.dir);
    setenv("KUBECONFIG", sim.kubeconfig, 1);
    setenv("KUBECACHEDIR", cache, 1);
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t parent = getpid();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        if (chdir("test/kube-sim") < 0)
            _exit(127);
        execlp("python3", "python3", "-m", "kube_sim", "--port", "0", "--kubeconfig-out",
               sim.kubeconfig, "--cert-dir", certs, "--controllers", "crd,namespace,gc",
               "--gc-discovery-delay", "0", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    sim.pid = pid;
    sim.out_fd = fds[0];
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

/* ---- kubectl --------------------------------------------------------------------------- */

/* Runs `kubectl <args>` (stdout and stderr into out, if given); with input, the text is
 * passed as a file: `-f FILE`. Returns the exit status. */
static int kubectl(buf_t *out, const char *input, const char *fmt, ...) UTIL_PRINTF(3, 4);
static int kubectl(buf_t *out, const char *input, const char *fmt, ...)
{
    char file[128] = "";
    if (input) {
        snprintf(file, sizeof(file), "%s/input-XXXXXX", sim.dir);
        int fd = mkstemp(file);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, input, strlen(input)), (ssize_t)strlen(input));
        close(fd);
    }
    buf_t cmd = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_puts(&cmd, "kubectl ");
    buf_vprintf(&cmd, fmt, ap);
    va_end(ap);
    if (input)
        buf_printf(&cmd, " -f %s", file);
    buf_puts(&cmd, " 2>&1");
    FILE *p = popen(buf_str(&cmd), "r");
    ck_assert_ptr_nonnull(p);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
        if (out)
            buf_append(out, chunk, n);
    int status = pclose(p);
    if (input)
        unlink(file);
    buf_free(&cmd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void kubectl_ok(const char *input, const char *fmt, ...) UTIL_PRINTF(2, 3);
static void kubectl_ok(const char *input, const char *fmt, ...)
{
    char args[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    buf_t out = BUF_INIT;
    int rc = kubectl(&out, input, "%s", args);
    ck_assert_msg(rc == 0, "kubectl %s: %s", args, buf_str(&out));
    buf_free(&out);
}

/* kubectl that must fail with text in its output. */
static void kubectl_denied(const char *input, const char *text, const char *fmt, ...)
    UTIL_PRINTF(3, 4);
static void kubectl_denied(const char *input, const char *text, const char *fmt, ...)
{
    char args[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    buf_t out = BUF_INIT;
    int rc = kubectl(&out, input, "%s", args);
    ck_assert_msg(rc != 0, "kubectl %s succeeded", args);
    ck_assert_msg(strstr(buf_str(&out), text), "kubectl %s:\n%s\nwant: %s", args, buf_str(&out),
                  text);
    buf_free(&out);
}

static json_object *kubectl_json(const char *fmt, ...) UTIL_PRINTF(1, 2);
static json_object *kubectl_json(const char *fmt, ...)
{
    char args[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    buf_t out = BUF_INIT;
    int rc = kubectl(&out, NULL, "%s -o json", args);
    ck_assert_msg(rc == 0, "kubectl %s: %s", args, buf_str(&out));
    json_object *obj = json_tokener_parse(buf_str(&out));
    ck_assert_msg(obj != NULL, "not JSON: %s", buf_str(&out));
    buf_free(&out);
    return obj;
}

static const char *at(json_object *obj, const char *path)
{
    /* "a.b.c" through objects */
    char key[128];
    const char *p = path;
    while (obj && *p) {
        size_t n = strcspn(p, ".");
        snprintf(key, sizeof(key), "%.*s", (int)n, p);
        json_object *next = NULL;
        if (!json_object_object_get_ex(obj, key, &next))
            return NULL;
        obj = next;
        p += n + (p[n] == '.');
    }
    return obj ? json_object_get_string(obj) : NULL;
}

/* ---- the operator's side ------------------------------------------------------------------ */

static kube_config_t *config;
static kube_client_t *client;
static server_t *srv;
static webhook_t *wh;

static const char *HOOKS_MUTATING =
    "{\"apiVersion\":\"admissionregistration.k8s.io/v1\",\"kind\":"
    "\"MutatingWebhookConfiguration\",\"metadata\":{\"name\":"
    "\"mutating-webhook-configuration\"},\"webhooks\":["
    "{\"name\":\"s2ibuilder.kb.io\",\"admissionReviewVersions\":[\"v1\"],\"sideEffects\":"
    "\"None\",\"failurePolicy\":\"Ignore\",\"timeoutSeconds\":5,\"clientConfig\":{\"service\":"
    "{\"namespace\":\"" OPNS "\",\"name\":\"" SERVICE "\",\"path\":"
    "\"/mutate-devops-kubesphere-io-v1alpha1-s2ibuilder\"}},\"rules\":[{\"operations\":"
    "[\"CREATE\",\"UPDATE\"],\"apiGroups\":[\"devops.kubesphere.io\"],\"apiVersions\":"
    "[\"v1alpha1\"],\"resources\":[\"s2ibuilders\"]}]},"
    "{\"name\":\"ms2irun.kb.io\",\"admissionReviewVersions\":[\"v1\"],\"sideEffects\":\"None\","
    "\"failurePolicy\":\"Ignore\",\"timeoutSeconds\":5,\"clientConfig\":{\"service\":"
    "{\"namespace\":\"" OPNS "\",\"name\":\"" SERVICE "\",\"path\":"
    "\"/mutate-devops-kubesphere-io-v1alpha1-s2irun\"}},\"rules\":[{\"operations\":"
    "[\"CREATE\"],\"apiGroups\":[\"devops.kubesphere.io\"],\"apiVersions\":[\"v1alpha1\"],"
    "\"resources\":[\"s2iruns\"]}]}]}";

#define VALIDATING_HOOK(name, path, resource)                                                      \
    "{\"name\":\"" name "\",\"admissionReviewVersions\":[\"v1\"],\"sideEffects\":\"None\","        \
    "\"failurePolicy\":\"Fail\",\"timeoutSeconds\":5,\"clientConfig\":{\"service\":"               \
    "{\"namespace\":\"" OPNS "\",\"name\":\"" SERVICE "\",\"path\":\"" path "\"}},"                \
    "\"rules\":[{\"operations\":[\"CREATE\",\"UPDATE\"],\"apiGroups\":"                            \
    "[\"devops.kubesphere.io\"],\"apiVersions\":[\"v1alpha1\"],\"resources\":[\"" resource         \
    "\"]}]}"

static const char *const HOOK_BUILDER = VALIDATING_HOOK(
    "vs2ibuilder.kb.io", "/validate-devops-kubesphere-io-v1alpha1-s2ibuilder", "s2ibuilders");
static const char *const HOOK_RUN =
    VALIDATING_HOOK("vs2irun.kb.io", "/validate-devops-kubesphere-io-v1alpha1-s2irun", "s2iruns");
static const char *const HOOK_TEMPLATE = VALIDATING_HOOK(
    "s2ibuildertemplate.kb.io", "/validate-devops-kubesphere-io-v1alpha1-s2ibuildertemplate",
    "s2ibuildertemplates");

static void service_at(const char *name, int port)
{
    char *svc = util_asprintf("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":"
                              "\"%s\",\"namespace\":\"" OPNS "\",\"annotations\":{\"kube-sim/"
                              "endpoint\":\"127.0.0.1:%d\"}},\"spec\":{\"ports\":[{\"port\":443,"
                              "\"targetPort\":9443}]}}",
                              name, port);
    kubectl_ok(svc, "apply");
    free(svc);
}

static void suite_start(void)
{
    sim_start();
    kubectl_ok(NULL, "apply -f crds");
    kubectl_ok(NULL, "wait --for=condition=established crd --all --timeout=60s");
    kubectl_ok(NULL, "create namespace " OPNS);
    kubectl_ok(NULL, "create namespace " NS);
    kubectl_ok(HOOKS_MUTATING, "apply");
    char *validating =
        util_asprintf("{\"apiVersion\":\"admissionregistration.k8s.io/v1\",\"kind\":"
                      "\"ValidatingWebhookConfiguration\",\"metadata\":{\"name\":"
                      "\"validating-webhook-configuration\"},\"webhooks\":[%s,%s,%s]}",
                      HOOK_BUILDER, HOOK_RUN, HOOK_TEMPLATE);
    kubectl_ok(validating, "apply");
    free(validating);

    char *err = NULL;
    ck_assert_msg(kube_config_load_file(sim.kubeconfig, NULL, &config, &err) == 0, "%s", err);
    kube_client_options_t co = {0};
    kube_client_options_default(&co);
    co.qps = -1;
    co.timeout = 5;
    co.user_agent = "webhook-test/operator";
    ck_assert_int_eq(kube_client_new(config, &co, &client, &err), 0);
    webhook_options_t o = {
        .address = "127.0.0.1:0",
        .client = client,
        .namespace = OPNS,
        .check_interval = 1,
        .ca_propagation_delay = 0.3,
        .startup_timeout = 30,
    };
    ck_assert_int_eq(webhook_new(&o, &wh), 0);
    srv = server_new(&(server_options_t){0});
    ck_assert_int_eq(webhook_attach(wh, srv), 0);
    ck_assert_int_eq(server_start(srv), 0);
    ck_assert_int_eq(webhook_start(wh), 0);
    service_at(SERVICE, server_listener_port(webhook_listener(wh)));
}

static void suite_stop(void)
{
    webhook_stop(wh);
    server_stop(srv, 5);
    server_free(srv);
    webhook_free(wh);
    kube_client_free(client);
    kube_config_free(config);
    sim_stop();
}

static char *data_pem(json_object *data, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(data, key, &v))
        return NULL;
    char *pem = webhook_base64_decode(json_object_get_string(v), NULL);
    ck_assert_ptr_nonnull(pem);
    return pem;
}

/* The Secret's data decoded, as material. */
static void secret_material(const char *name, cert_material_t *m)
{
    kube_result_t res = KUBE_RESULT_INIT;
    ck_assert_int_eq(kube_get(client, &secrets, OPNS, name, &res), KUBE_OK);
    json_object *data = json_object_object_get(res.body, "data");
    memset(m, 0, sizeof(*m));
    m->cert_pem = data_pem(data, "tls.crt");
    m->key_pem = data_pem(data, "tls.key");
    m->ca_pem = data_pem(data, "ca.crt");
    m->ca_key_pem = data_pem(data, "ca.key");
    ck_assert(m->cert_pem && m->key_pem && m->ca_pem);
    kube_result_clear(&res);
}

/* The caBundle of every webhook of a configuration, decoded; all must be equal. */
static char *config_bundle(const kube_resource_t *kind, const char *name)
{
    kube_result_t res = KUBE_RESULT_INIT;
    ck_assert_int_eq(kube_get(client, kind, NULL, name, &res), KUBE_OK);
    json_object *hooks = json_object_object_get(res.body, "webhooks");
    char *first = NULL;
    for (size_t i = 0; i < json_object_array_length(hooks); i++) {
        const char *b64 = at(json_object_array_get_idx(hooks, i), "clientConfig.caBundle");
        ck_assert_ptr_nonnull(b64);
        char *pem = webhook_base64_decode(b64, NULL);
        if (!first)
            first = pem;
        else {
            ck_assert_str_eq(pem, first);
            free(pem);
        }
    }
    kube_result_clear(&res);
    return first;
}

static const char *const names[] = {SERVICE "." OPNS ".svc", SERVICE "." OPNS ".svc.cluster.local",
                                    NULL};

/* ---- objects --------------------------------------------------------------------------- */

static char *builder_json(const char *name, const char *config_extra)
{
    return util_asprintf(
        "{\"apiVersion\":\"devops.kubesphere.io/v1alpha1\",\"kind\":\"S2iBuilder\",\"metadata\":"
        "{\"name\":\"%s\",\"namespace\":\"" NS "\"},\"spec\":{\"config\":{\"imageName\":"
        "\"registry.local/demo/%s\",\"sourceUrl\":\"https://git.local/%s.git\",\"builderImage\":"
        "\"kubesphere/java-8-centos7:v2.1.0\",\"builderPullPolicy\":\"if-not-present\"%s}}}",
        name, name, name, config_extra);
}

static char *run_json(const char *name, const char *spec_extra)
{
    return util_asprintf("{\"apiVersion\":\"devops.kubesphere.io/v1alpha1\",\"kind\":\"S2iRun\","
                         "\"metadata\":{\"name\":\"%s\",\"namespace\":\"" NS "\"},\"spec\":"
                         "{\"builderName\":\"java\"%s}}",
                         name, spec_extra);
}

static void set_run_state(const char *name, const char *state)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        kube_result_t res = KUBE_RESULT_INIT;
        ck_assert_int_eq(kube_get(client, &runs, NS, name, &res), KUBE_OK);
        json_object *status = json_object_new_object();
        json_object_object_add(status, "runState", json_object_new_string(state));
        json_object_object_add(res.body, "status", status);
        kube_result_t up = KUBE_RESULT_INIT;
        kube_err_t e = kube_update_status(client, &runs, NS, res.body, NULL, &up);
        kube_result_clear(&res);
        kube_result_clear(&up);
        if (e == KUBE_OK)
            return;
        ck_assert_int_eq(e, KUBE_ERR_CONFLICT);
    }
    ck_abort_msg("could not set the run's state");
}

/* ---- tests ------------------------------------------------------------------------------ */

START_TEST(test_secret_and_ca_bundle_written_at_start)
{
    kube_result_t res = KUBE_RESULT_INIT;
    ck_assert_int_eq(kube_get(client, &secrets, OPNS, WEBHOOK_DEFAULT_SECRET, &res), KUBE_OK);
    ck_assert_str_eq(at(res.body, "type"), "kubernetes.io/tls");
    kube_result_clear(&res);
    cert_material_t m;
    secret_material(WEBHOOK_DEFAULT_SECRET, &m);
    ck_assert_ptr_nonnull(m.ca_key_pem);
    char *why = NULL;
    ck_assert_msg(cert_verify_serving(m.cert_pem, m.key_pem, m.ca_pem, names, time(NULL), &why) ==
                      0,
                  "%s", why);
    char *bundle = config_bundle(&mutating, WEBHOOK_DEFAULT_MUTATING_CONFIG);
    ck_assert_str_eq(bundle, m.ca_pem);
    free(bundle);
    bundle = config_bundle(&validating, WEBHOOK_DEFAULT_VALIDATING_CONFIG);
    ck_assert_str_eq(bundle, m.ca_pem);
    free(bundle);

    /* caBundle is written only when it differs */
    ck_assert_int_eq(kube_get(client, &validating, NULL, WEBHOOK_DEFAULT_VALIDATING_CONFIG, &res),
                     KUBE_OK);
    char *rv = strdup(at(res.body, "metadata.resourceVersion"));
    kube_result_clear(&res);
    ck_assert_int_eq(webhook_rotate(wh, WEBHOOK_ROTATE_CHECK), 0);
    ck_assert_int_eq(kube_get(client, &validating, NULL, WEBHOOK_DEFAULT_VALIDATING_CONFIG, &res),
                     KUBE_OK);
    ck_assert_str_eq(at(res.body, "metadata.resourceVersion"), rv);
    kube_result_clear(&res);
    free(rv);
    /* and put back when someone changes it */
    kubectl_ok(NULL,
               "patch validatingwebhookconfiguration " WEBHOOK_DEFAULT_VALIDATING_CONFIG
               " --type=json -p '[{\"op\":\"replace\",\"path\":\"/webhooks/1/clientConfig/"
               "caBundle\",\"value\":\"%s\"}]'",
               "Zm9v");
    ck_assert_int_eq(webhook_rotate(wh, WEBHOOK_ROTATE_CHECK), 0);
    bundle = config_bundle(&validating, WEBHOOK_DEFAULT_VALIDATING_CONFIG);
    ck_assert_str_eq(bundle, m.ca_pem);
    free(bundle);
    cert_material_clear(&m);
}
END_TEST

START_TEST(test_kubectl_sees_upstream_denials)
{
    char *obj = builder_json("from-missing", "");
    /* a builder from a template that does not exist */
    char *from = util_asprintf("%.*s,\"fromTemplate\":{\"name\":\"missing\"}}}",
                               (int)(strlen(obj) - 2), obj);
    kubectl_denied(from,
                   "admission webhook \"vs2ibuilder.kb.io\" denied the request: Template not "
                   "found, pls check the template name  [missing] or create a template",
                   "create");
    free(from);
    free(obj);
    /* a builder image that is not a reference, no pull policy */
    obj = util_asprintf(
        "{\"apiVersion\":\"devops.kubesphere.io/v1alpha1\",\"kind\":\"S2iBuilder\",\"metadata\":"
        "{\"name\":\"bad\",\"namespace\":\"" NS "\"},\"spec\":{\"config\":{\"imageName\":\"r/x\","
        "\"sourceUrl\":\"https://git/x.git\",\"builderImage\":\"Kubesphere/Java:8\"}}}");
    kubectl_denied(obj,
                   "admission webhook \"vs2ibuilder.kb.io\" denied the request: [Invalid value "
                   "specified for \"builderPullPolicy\", Invalid value specified for "
                   "\"builderImage\": repository name must be "
                   "lowercase]",
                   "create");
    free(obj);
    /* a run with a tag that is not one */
    obj = run_json("bad-tag", ",\"newTag\":\"not a tag\"");
    kubectl_denied(obj,
                   "admission webhook \"vs2irun.kb.io\" denied the request: invalid "
                   "reference format",
                   "create");
    free(obj);
    /* a template without builder images */
    kubectl_denied("{\"apiVersion\":\"devops.kubesphere.io/v1alpha1\",\"kind\":"
                   "\"S2iBuilderTemplate\",\"metadata\":{\"name\":\"empty\"},\"spec\":"
                   "{\"defaultBaseImage\":\"a:1\"}}",
                   "admission webhook \"s2ibuildertemplate.kb.io\" denied the request: Required "
                   "value not specified for \"baseImages\"",
                   "create");
}
END_TEST

START_TEST(test_defaults_and_run_label_and_owner_reference)
{
    char *obj = builder_json("java", "");
    kubectl_ok(obj, "apply");
    free(obj);
    json_object *b = kubectl_json("get s2ibuilder java -n " NS);
    ck_assert_str_eq(at(b, "spec.config.revisionId"), "master");
    ck_assert_str_eq(at(b, "spec.config.tag"), "latest");
    char *uid = strdup(at(b, "metadata.uid"));
    json_object_put(b);

    /* set values are kept */
    obj = builder_json("java-dev", ",\"revisionId\":\"dev\",\"tag\":\"v1\"");
    kubectl_ok(obj, "apply");
    free(obj);
    b = kubectl_json("get s2ibuilder java-dev -n " NS);
    ck_assert_str_eq(at(b, "spec.config.revisionId"), "dev");
    ck_assert_str_eq(at(b, "spec.config.tag"), "v1");
    json_object_put(b);

    /* the run, created right after its builder: label and owner, from a live lookup */
    obj = run_json("java-1", "");
    kubectl_ok(obj, "create");
    free(obj);
    json_object *r = kubectl_json("get s2irun java-1 -n " NS);
    json_object *labels = json_object_object_get(json_object_object_get(r, "metadata"), "labels");
    ck_assert_str_eq(
        json_object_get_string(json_object_object_get(labels, API_LABEL_RUN_BUILDER_NAME)), "java");
    json_object *refs =
        json_object_object_get(json_object_object_get(r, "metadata"), "ownerReferences");
    ck_assert_uint_eq(json_object_array_length(refs), 1);
    json_object *ref = json_object_array_get_idx(refs, 0);
    ck_assert_str_eq(at(ref, "kind"), "S2iBuilder");
    ck_assert_str_eq(at(ref, "name"), "java");
    ck_assert_str_eq(at(ref, "uid"), uid);
    ck_assert(!json_object_get_boolean(json_object_object_get(ref, "controller")));
    ck_assert(!json_object_get_boolean(json_object_object_get(ref, "blockOwnerDeletion")));
    json_object_put(r);

    /* a run of a builder that does not exist yet: labelled, no owner */
    obj = util_asprintf("{\"apiVersion\":\"devops.kubesphere.io/v1alpha1\",\"kind\":\"S2iRun\","
                        "\"metadata\":{\"generateName\":\"later-\",\"namespace\":\"" NS "\"},"
                        "\"spec\":{\"builderName\":\"later\"}}");
    buf_t out = BUF_INIT;
    ck_assert_int_eq(kubectl(&out, obj, "create -o name"), 0);
    free(obj);
    char run_name[128];
    snprintf(run_name, sizeof(run_name), "%s", buf_str(&out));
    run_name[strcspn(run_name, "\n")] = '\0';
    buf_free(&out);
    r = kubectl_json("get %s -n " NS, run_name);
    labels = json_object_object_get(json_object_object_get(r, "metadata"), "labels");
    ck_assert_str_eq(
        json_object_get_string(json_object_object_get(labels, API_LABEL_RUN_BUILDER_NAME)),
        "later");
    ck_assert_ptr_null(at(r, "metadata.ownerReferences"));
    json_object_put(r);

    /* the builder goes, its runs go with it (the garbage collector, no operator needed) */
    kubectl_ok(NULL, "delete s2ibuilder java -n " NS " --wait=true");
    double deadline = util_monotonic() + PATIENCE;
    for (;;) {
        kube_result_t res = KUBE_RESULT_INIT;
        kube_err_t e = kube_get(client, &runs, NS, "java-1", &res);
        kube_result_clear(&res);
        if (e == KUBE_ERR_NOT_FOUND)
            break;
        ck_assert_msg(util_monotonic() < deadline, "the run outlived its builder");
        util_sleep(0.2);
    }
    free(uid);
}
END_TEST

START_TEST(test_started_run_spec_is_immutable_but_cancellable)
{
    char *obj = builder_json("imm", "");
    kubectl_ok(obj, "apply");
    free(obj);
    char *run = util_asprintf("{\"apiVersion\":\"devops.kubesphere.io/v1alpha1\",\"kind\":"
                              "\"S2iRun\",\"metadata\":{\"name\":\"imm-1\",\"namespace\":\"" NS
                              "\"},\"spec\":{\"builderName\":\"imm\",\"newTag\":\"v1\"}}");
    kubectl_ok(run, "apply");
    set_run_state("imm-1", "Running");
    /* the same again (GitOps) */
    kubectl_ok(run, "apply");
    char *changed = util_asprintf("{\"apiVersion\":\"devops.kubesphere.io/v1alpha1\",\"kind\":"
                                  "\"S2iRun\",\"metadata\":{\"name\":\"imm-1\",\"namespace\":"
                                  "\"" NS "\"},\"spec\":{\"builderName\":\"imm\",\"newTag\":"
                                  "\"v2\"}}");
    kubectl_denied(changed,
                   "admission webhook \"vs2irun.kb.io\" denied the request: Invalid value "
                   "specified for \"spec\": should not change s2i run spec when job started",
                   "apply");
    kubectl_ok(NULL, "patch s2irun imm-1 -n " NS
                     " --type=merge -p '{\"spec\":{\"state\":\"Cancelled\"}}'");
    json_object *r = kubectl_json("get s2irun imm-1 -n " NS);
    ck_assert_str_eq(at(r, "spec.state"), "Cancelled");
    json_object_put(r);
    set_run_state("imm-1", "Failed");
    kubectl_denied(changed, "the run has finished: create a new S2iRun to build again", "apply");
    free(changed);
    free(run);
}
END_TEST

/* ---- rotation under load ------------------------------------------------------------------ */

typedef struct load {
    atomic_bool stop;
    int id;
    int created;
    int failed;
    buf_t failures;
} load_t;

static void *create_loop(void *arg)
{
    load_t *l = arg;
    for (int i = 0; !atomic_load(&l->stop); i++) {
        char *obj = util_asprintf("{\"apiVersion\":\"devops.kubesphere.io/v1alpha1\",\"kind\":"
                                  "\"S2iRun\",\"metadata\":{\"name\":\"load-%d-%d\",\"namespace\":"
                                  "\"" NS "\"},\"spec\":{\"builderName\":\"load\"}}",
                                  l->id, i);
        buf_t out = BUF_INIT;
        if (kubectl(&out, obj, "create") == 0) {
            l->created++;
        } else {
            l->failed++;
            buf_printf(&l->failures, "load-%d-%d: %s\n", l->id, i, buf_str(&out));
        }
        buf_free(&out);
        free(obj);
    }
    return NULL;
}

START_TEST(test_rotations_while_creating_lose_no_request)
{
    char *obj = builder_json("load", "");
    kubectl_ok(obj, "apply");
    free(obj);
    cert_material_t before;
    secret_material(WEBHOOK_DEFAULT_SECRET, &before);
    server_listener_stats_t st;
    server_listener_stats(webhook_listener(wh), &st);
    int generation = st.tls_generation;

    load_t loads[2] = {{.id = 1}, {.id = 2}};
    pthread_t threads[2];
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&threads[i], NULL, create_loop, &loads[i]), 0);
    const webhook_rotation_t order[] = {WEBHOOK_ROTATE_CA, WEBHOOK_ROTATE_SERVING,
                                        WEBHOOK_ROTATE_CA};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(order); i++) {
        util_sleep(1.5);
        ck_assert_int_eq(webhook_rotate(wh, order[i]), 0);
    }
    util_sleep(1.5);
    for (int i = 0; i < 2; i++) {
        atomic_store(&loads[i].stop, true);
        pthread_join(threads[i], NULL);
    }
    for (int i = 0; i < 2; i++) {
        ck_assert_msg(loads[i].failed == 0, "%d of %d creates failed:\n%s", loads[i].failed,
                      loads[i].failed + loads[i].created, buf_str(&loads[i].failures));
        ck_assert_int_ge(loads[i].created, 3);
        buf_free(&loads[i].failures);
    }
    server_listener_stats(webhook_listener(wh), &st);
    ck_assert_int_eq(st.tls_generation, generation + 3);

    /* two CA rotations: the bundle holds the newest CA, then the two before it */
    cert_material_t after;
    secret_material(WEBHOOK_DEFAULT_SECRET, &after);
    ck_assert_uint_eq(cert_count(after.ca_pem), 3);
    ck_assert(!cert_same_first(after.ca_pem, before.ca_pem));
    ck_assert_ptr_nonnull(strstr(after.ca_pem, before.ca_pem));
    char *bundle = config_bundle(&validating, WEBHOOK_DEFAULT_VALIDATING_CONFIG);
    ck_assert_str_eq(bundle, after.ca_pem);
    free(bundle);
    pthread_mutex_lock(&wh->served_lock);
    ck_assert_str_eq(wh->served.cert_pem, after.cert_pem);
    pthread_mutex_unlock(&wh->served_lock);
    cert_material_clear(&before);
    cert_material_clear(&after);
}
END_TEST

/* ---- SANs, not CNs ------------------------------------------------------------------------ */

START_TEST(test_wrong_san_is_refused_whatever_the_cn_says)
{
    int port = server_listener_port(webhook_listener(wh));
    service_at("wrong-service", port);
    cert_material_t m;
    secret_material(WEBHOOK_DEFAULT_SECRET, &m);
    char *b64 = webhook_base64_encode(m.ca_pem, strlen(m.ca_pem));
    char *cfg = util_asprintf(
        "{\"apiVersion\":\"admissionregistration.k8s.io/v1\",\"kind\":"
        "\"ValidatingWebhookConfiguration\",\"metadata\":{\"name\":\"wrong-san\"},\"webhooks\":"
        "[{\"name\":\"wrong-san.kb.io\",\"admissionReviewVersions\":[\"v1\"],\"sideEffects\":"
        "\"None\",\"failurePolicy\":\"Fail\",\"timeoutSeconds\":5,\"clientConfig\":{\"caBundle\":"
        "\"%s\",\"service\":{\"namespace\":\"" OPNS "\",\"name\":\"wrong-service\",\"path\":"
        "\"/validate-devops-kubesphere-io-v1alpha1-s2ibuildertemplate\"}},\"rules\":[{"
        "\"operations\":[\"CREATE\"],\"apiGroups\":[\"devops.kubesphere.io\"],\"apiVersions\":"
        "[\"v1alpha1\"],\"resources\":[\"s2ibuildertemplates\"]}]}]}",
        b64);
    kubectl_ok(cfg, "apply");
    const char *tmpl = "{\"apiVersion\":\"devops.kubesphere.io/v1alpha1\",\"kind\":"
                       "\"S2iBuilderTemplate\",\"metadata\":{\"name\":\"san-%d\"},\"spec\":{"
                       "\"defaultBaseImage\":\"a:1\",\"containerInfo\":[{\"builderImage\":"
                       "\"a:1\"}]}}";
    char *t1 = util_asprintf(tmpl, 1);
    /* the serving certificate names webhook-server-service only */
    buf_t out = BUF_INIT;
    ck_assert_int_ne(kubectl(&out, t1, "create"), 0);
    ck_assert_msg(strstr(buf_str(&out), "failed calling webhook \"wrong-san.kb.io\"") &&
                      strstr(buf_str(&out), "certificate"),
                  "%s", buf_str(&out));
    buf_free(&out);

    /* a certificate whose CN names wrong-service, SANs the real service: still refused for
     * wrong-service, and accepted for the real one, which only its SANs name */
    char *cert = NULL, *key = NULL, *err = NULL;
    ck_assert_msg(cert_generate_serving(m.ca_pem, m.ca_key_pem, "wrong-service." OPNS ".svc", names,
                                        3600, time(NULL), &cert, &key, &err) == 0,
                  "%s", err);
    server_tls_t tls = {.cert_pem = cert, .key_pem = key};
    ck_assert_int_eq(server_reload_tls(webhook_listener(wh), &tls), 0);
    kubectl_denied(t1, "failed calling webhook \"wrong-san.kb.io\"", "create");
    kubectl_ok(NULL, "delete validatingwebhookconfiguration wrong-san");
    kubectl_ok(t1, "create");
    ck_assert_int_eq(webhook_rotate(wh, WEBHOOK_ROTATE_SERVING), 0);
    char *t2 = util_asprintf(tmpl, 2);
    kubectl_ok(t2, "create");
    free(t1);
    free(t2);
    free(cert);
    free(key);
    free(cfg);
    free(b64);
    cert_material_clear(&m);
}
END_TEST

/* ---- replicas ---------------------------------------------------------------------------- */

static webhook_t *replica(void)
{
    webhook_t *w = NULL;
    webhook_options_t o = {.client = client, .namespace = OPNS, .ca_propagation_delay = -1};
    ck_assert_int_eq(webhook_new(&o, &w), 0);
    return w;
}

typedef struct racer {
    webhook_t *w;
    webhook_rotation_t what;
    int rc;
} racer_t;

static void *race(void *arg)
{
    racer_t *r = arg;
    r->rc = webhook_rotate(r->w, r->what);
    return NULL;
}

START_TEST(test_replicas_share_the_secret_and_race_safely)
{
    cert_material_t m;
    secret_material(WEBHOOK_DEFAULT_SECRET, &m);
    webhook_t *b = replica();
    webhook_t *c = replica();
    /* a second replica adopts the certificate it finds */
    ck_assert_int_eq(webhook_rotate(b, WEBHOOK_ROTATE_CHECK), 0);
    ck_assert_str_eq(b->served.cert_pem, m.cert_pem);
    cert_material_clear(&m);

    /* both renew at once: one writes, the other reads the winner's and serves it */
    for (int round = 0; round < 3; round++) {
        racer_t rb = {b, round == 1 ? WEBHOOK_ROTATE_CA : WEBHOOK_ROTATE_SERVING, -1};
        racer_t rc = {c, rb.what, -1};
        pthread_t tb, tc;
        ck_assert_int_eq(pthread_create(&tb, NULL, race, &rb), 0);
        ck_assert_int_eq(pthread_create(&tc, NULL, race, &rc), 0);
        pthread_join(tb, NULL);
        pthread_join(tc, NULL);
        ck_assert_int_eq(rb.rc, 0);
        ck_assert_int_eq(rc.rc, 0);
        secret_material(WEBHOOK_DEFAULT_SECRET, &m);
        /* the loser adopted the Secret; the winner's write is the Secret */
        ck_assert(util_streq(b->served.cert_pem, m.cert_pem) ||
                  util_streq(c->served.cert_pem, m.cert_pem));
        ck_assert_int_eq(webhook_rotate(b, WEBHOOK_ROTATE_CHECK), 0);
        ck_assert_int_eq(webhook_rotate(c, WEBHOOK_ROTATE_CHECK), 0);
        ck_assert_str_eq(b->served.cert_pem, m.cert_pem);
        ck_assert_str_eq(c->served.cert_pem, m.cert_pem);
        cert_material_clear(&m);
    }
    webhook_free(b);
    webhook_free(c);
    /* the in-process webhook follows at its next check, and kubectl keeps working */
    ck_assert_int_eq(webhook_rotate(wh, WEBHOOK_ROTATE_CHECK), 0);
    char *obj = builder_json("after-race", "");
    kubectl_ok(obj, "create");
    free(obj);
}
END_TEST

START_TEST(test_deleted_secret_is_replaced_and_the_old_ca_still_trusted)
{
    cert_material_t old;
    secret_material(WEBHOOK_DEFAULT_SECRET, &old);
    kubectl_ok(NULL, "delete secret " WEBHOOK_DEFAULT_SECRET " -n " OPNS);
    ck_assert_int_eq(webhook_rotate(wh, WEBHOOK_ROTATE_CHECK), 0);
    cert_material_t now;
    secret_material(WEBHOOK_DEFAULT_SECRET, &now);
    ck_assert(!cert_same_first(now.ca_pem, old.ca_pem));
    /* the old CA is in the new bundle: a replica still serving the old certificate is
     * trusted until it reloads */
    char *old_ca = cert_bundle_merge(old.ca_pem, NULL, 0, time(NULL), 1);
    ck_assert_ptr_nonnull(strstr(now.ca_pem, old_ca));
    free(old_ca);
    char *obj = builder_json("after-delete", "");
    kubectl_ok(obj, "create");
    free(obj);
    cert_material_clear(&old);
    cert_material_clear(&now);
}
END_TEST

START_TEST(test_cert_manager_secret_is_followed)
{
    char *ca, *ca_key, *cert, *key, *err = NULL;
    ck_assert_int_eq(cert_generate_ca("cm-ca", 3600, time(NULL), &ca, &ca_key, &err), 0);
    ck_assert_int_eq(
        cert_generate_serving(ca, ca_key, "cm", names, 600, time(NULL), &cert, &key, &err), 0);
    char *b_cert = webhook_base64_encode(cert, strlen(cert));
    char *b_key = webhook_base64_encode(key, strlen(key));
    char *b_ca = webhook_base64_encode(ca, strlen(ca));
    char *secret = util_asprintf("{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"type\":"
                                 "\"kubernetes.io/tls\",\"metadata\":{\"name\":\"issued\","
                                 "\"namespace\":\"" OPNS "\"},\"data\":{\"tls.crt\":\"%s\","
                                 "\"tls.key\":\"%s\",\"ca.crt\":\"%s\"}}",
                                 b_cert, b_key, b_ca);
    kubectl_ok(secret, "apply");
    webhook_t *w = NULL;
    webhook_options_t o = {.client = client,
                           .namespace = OPNS,
                           .cert_source = WEBHOOK_CERTS_SECRET,
                           .cert_secret = "issued",
                           .mutating_config = "",
                           .validating_config = ""};
    ck_assert_int_eq(webhook_new(&o, &w), 0);
    ck_assert_int_eq(webhook_rotate(w, WEBHOOK_ROTATE_CHECK), 0);
    ck_assert_str_eq(w->served.cert_pem, cert);
    /* the issuer renews: followed; the issued Secret is never written */
    char *cert2, *key2;
    ck_assert_int_eq(
        cert_generate_serving(ca, ca_key, "cm", names, 600, time(NULL), &cert2, &key2, &err), 0);
    free(b_cert);
    free(b_key);
    b_cert = webhook_base64_encode(cert2, strlen(cert2));
    b_key = webhook_base64_encode(key2, strlen(key2));
    free(secret);
    secret = util_asprintf("{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"type\":"
                           "\"kubernetes.io/tls\",\"metadata\":{\"name\":\"issued\","
                           "\"namespace\":\"" OPNS "\"},\"data\":{\"tls.crt\":\"%s\","
                           "\"tls.key\":\"%s\",\"ca.crt\":\"%s\"}}",
                           b_cert, b_key, b_ca);
    kubectl_ok(secret, "apply");
    ck_assert_int_eq(webhook_rotate(w, WEBHOOK_ROTATE_CHECK), 0);
    ck_assert_str_eq(w->served.cert_pem, cert2);
    json_object *s = kubectl_json("get secret issued -n " OPNS);
    ck_assert_ptr_null(json_object_object_get(json_object_object_get(s, "data"), "ca.key"));
    json_object_put(s);
    webhook_free(w);
    char *all[] = {ca, ca_key, cert, key, cert2, key2, b_cert, b_key, b_ca, secret};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(all); i++)
        free(all[i]);
}
END_TEST

int main(void)
{
    log_set_verbosity(0);
    Suite *s = suite_create("webhook-sim");
    TCase *tc = tcase_create("kube-sim");
    tcase_add_unchecked_fixture(tc, suite_start, suite_stop);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_secret_and_ca_bundle_written_at_start);
    tcase_add_test(tc, test_kubectl_sees_upstream_denials);
    tcase_add_test(tc, test_defaults_and_run_label_and_owner_reference);
    tcase_add_test(tc, test_started_run_spec_is_immutable_but_cancellable);
    tcase_add_test(tc, test_rotations_while_creating_lose_no_request);
    tcase_add_test(tc, test_wrong_san_is_refused_whatever_the_cn_says);
    tcase_add_test(tc, test_replicas_share_the_secret_and_race_safely);
    tcase_add_test(tc, test_deleted_secret_is_replaced_and_the_old_ca_still_trusted);
    tcase_add_test(tc, test_cert_manager_secret_is_followed);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    /* one webhook and one kube-sim for all tests: no fork per test */
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

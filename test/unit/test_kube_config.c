/*
 * Unit tests for pkg/kube/config: kubeconfig loading and merging, in-cluster configuration,
 * token-file rotation, exec credential plugins and the error messages for broken input.
 * Fixtures live in test/unit/testdata/kubeconfig (paths relative to the repository root,
 * where the tests run); exec plugins and in-cluster roots are written to a temporary
 * directory per test.
 */
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kube/config.h"
#include "util/util.h"

#define TESTDATA "test/unit/testdata/kubeconfig"

static char tmp_dir[64]; /* "/tmp/test_kube_config.XXXXXX" */
static char *saved_home;

/* ---- helpers --------------------------------------------------------------- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void setup(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/test_kube_config.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
    unsetenv("KUBECONFIG");
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    unsetenv("POD_NAMESPACE");
}

static void teardown(void)
{
    nftw(tmp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (saved_home)
        setenv("HOME", saved_home, 1);
    else
        unsetenv("HOME");
}

/* A path inside the test's temporary directory (a small ring of static buffers). */
static const char *tmp_path(const char *name)
{
    static char ring[8][PATH_MAX];
    static int next;
    char *p = ring[next++ % 8];
    snprintf(p, PATH_MAX, "%s/%s", tmp_dir, name);
    return p;
}

static void write_file(const char *name, const char *content, mode_t mode)
{
    const char *path = tmp_path(name);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    for (char *slash = dir + strlen(tmp_dir) + 1; (slash = strchr(slash, '/')); slash++) {
        *slash = '\0';
        mkdir(dir, 0700);
        *slash = '/';
    }
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(content, f);
    fclose(f);
    chmod(path, mode);
}

static int read_counter(const char *name)
{
    char *text = util_read_file(tmp_path(name), NULL);
    int n = text ? atoi(text) : 0;
    free(text);
    return n;
}

static kube_config_t *load_ok(const char *paths, const char *context)
{
    kube_config_t *c = NULL;
    char *err = NULL;
    int rc = kube_config_load_file(paths, context, &c, &err);
    ck_assert_msg(rc == 0, "loading %s failed: %s", paths, err ? err : "(no message)");
    ck_assert_ptr_null(err);
    ck_assert_ptr_nonnull(c);
    return c;
}

static char *load_fails(const char *paths, const char *context)
{
    kube_config_t *c = NULL;
    char *err = NULL;
    ck_assert_int_eq(kube_config_load_file(paths, context, &c, &err), -1);
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(err);
    return err;
}

static void auth_ok(kube_config_t *c, kube_auth_t *a)
{
    char *err = NULL;
    int rc = kube_config_auth(c, a, &err);
    ck_assert_msg(rc == 0, "auth failed: %s", err ? err : "(no message)");
    ck_assert_ptr_null(err);
}

#define ck_assert_contains(haystack, needle)                                                       \
    ck_assert_msg(strstr((haystack), (needle)) != NULL, "\"%s\" does not contain \"%s\"",          \
                  (haystack), (needle))
#define ck_assert_not_contains(haystack, needle)                                                   \
    ck_assert_msg(strstr((haystack), (needle)) == NULL, "\"%s\" contains \"%s\"", (haystack),      \
                  (needle))

/* ---- kubeconfig: auth kinds, CA, paths ---------------------------------------- */

START_TEST(test_token_user_gives_bearer_token_server_and_namespace)
{
    kube_config_t *c = load_ok(TESTDATA "/basic.yaml", NULL);
    ck_assert_str_eq(c->server, "https://dev.example.com:6443");
    ck_assert_str_eq(c->namespace, "team-a");
    ck_assert_str_eq(c->context_name, "dev");
    ck_assert_str_eq(c->cluster_name, "dev-cluster");
    ck_assert_str_eq(c->user_name, "dev-token");
    ck_assert_str_eq(c->tls_server_name, "kubernetes.dev");
    ck_assert_str_eq(c->proxy_url, "http://proxy.example.com:3128");
    ck_assert_str_eq(c->source, "kubeconfig " TESTDATA "/basic.yaml");
    ck_assert(!c->in_cluster);
    ck_assert(!c->insecure_skip_tls_verify);
    kube_auth_t a;
    auth_ok(c, &a);
    ck_assert_str_eq(a.token, "dev-static-token");
    ck_assert_ptr_null(a.username);
    ck_assert_ptr_null(a.client_cert_pem);
    kube_auth_clear(&a);
    kube_config_free(c);
}
END_TEST

START_TEST(test_ca_data_is_decoded_to_pem_and_leaves_ca_file_unset)
{
    kube_config_t *c = load_ok(TESTDATA "/basic.yaml", "dev");
    const char *pem = "-----BEGIN CERTIFICATE-----\nDEV CA\n-----END CERTIFICATE-----\n";
    ck_assert_str_eq(c->ca_data, pem);
    ck_assert_uint_eq(c->ca_data_len, strlen(pem));
    ck_assert_ptr_null(c->ca_file);
    kube_config_free(c);
}
END_TEST

START_TEST(test_ca_file_and_client_cert_data_from_explicit_context)
{
    kube_config_t *c = load_ok(TESTDATA "/basic.yaml", "prod");
    ck_assert_str_eq(c->context_name, "prod");
    ck_assert_ptr_null(c->ca_data);
    ck_assert_ptr_nonnull(c->ca_file);
    ck_assert(util_has_suffix(c->ca_file, "/" TESTDATA "/certs/ca.crt"));
    ck_assert_int_eq(c->ca_file[0], '/');
    ck_assert_ptr_null(c->namespace);
    kube_auth_t a;
    auth_ok(c, &a);
    ck_assert_ptr_null(a.token);
    ck_assert_str_eq(a.client_cert_pem,
                     "-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n");
    ck_assert_str_eq(a.client_key_pem,
                     "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n");
    kube_auth_clear(&a);
    kube_config_free(c);
}
END_TEST

START_TEST(test_basic_auth_user_gives_username_and_password)
{
    kube_config_t *c = load_ok(TESTDATA "/basic.yaml", "basic");
    ck_assert_str_eq(c->namespace, "kube-system");
    kube_auth_t a;
    auth_ok(c, &a);
    ck_assert_str_eq(a.username, "admin");
    ck_assert_str_eq(a.password, "basic-secret-password");
    ck_assert_ptr_null(a.token);
    kube_auth_clear(&a);
    kube_config_free(c);
}
END_TEST

START_TEST(test_relative_paths_resolve_against_the_kubeconfig_directory)
{
    char cwd[PATH_MAX];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    kube_config_t *c = load_ok(TESTDATA "/relative.yaml", NULL);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "%s/" TESTDATA "/certs/ca.crt", cwd);
    ck_assert_str_eq(c->ca_file, want);
    snprintf(want, sizeof want, "%s/" TESTDATA "/creds/token", cwd);
    ck_assert_str_eq(c->token_file, want);
    ck_assert_str_eq(c->namespace, "relative-ns");
    /* Absolute paths keep working after the process changes directory. */
    ck_assert_int_eq(chdir("/"), 0);
    kube_auth_t a;
    auth_ok(c, &a);
    ck_assert_int_eq(chdir(cwd), 0);
    ck_assert_str_eq(a.token, "file-token-from-fixture");
    snprintf(want, sizeof want, "%s/" TESTDATA "/creds/client.crt", cwd);
    ck_assert_str_eq(a.client_cert_file, want);
    snprintf(want, sizeof want, "%s/" TESTDATA "/./creds/client.key", cwd);
    ck_assert_str_eq(a.client_key_file, want);
    kube_auth_clear(&a);
    kube_config_free(c);
}
END_TEST

START_TEST(test_token_file_wins_over_token)
{
    write_file("tok", "from-the-file\n", 0600);
    char *yaml = util_asprintf("current-context: x\n"
                               "clusters: [{name: c, cluster: {server: 'https://h'}}]\n"
                               "users: [{name: u, user: {token: inline, tokenFile: tok}}]\n"
                               "contexts: [{name: x, context: {cluster: c, user: u}}]\n");
    write_file("config", yaml, 0600);
    free(yaml);
    kube_config_t *c = load_ok(tmp_path("config"), NULL);
    kube_auth_t a;
    auth_ok(c, &a);
    ck_assert_str_eq(a.token, "from-the-file");
    kube_auth_clear(&a);
    kube_config_free(c);
}
END_TEST

START_TEST(test_server_without_scheme_defaults_like_client_go)
{
    const char *tls = "current-context: x\n"
                      "clusters: [{name: c, cluster: {server: 'h:6443', "
                      "insecure-skip-tls-verify: yes}}]\n"
                      "contexts: [{name: x, context: {cluster: c}}]\n";
    kube_config_t *c = NULL;
    char *err = NULL;
    ck_assert_int_eq(kube_config_parse(tls, strlen(tls), NULL, NULL, &c, &err), 0);
    ck_assert_str_eq(c->server, "https://h:6443");
    ck_assert(c->insecure_skip_tls_verify);
    ck_assert_ptr_null(c->user_name);
    kube_config_free(c);
    const char *plain = "current-context: x\n"
                        "clusters: [{name: c, cluster: {server: 'h:8080'}}]\n"
                        "contexts: [{name: x, context: {cluster: c}}]\n";
    ck_assert_int_eq(kube_config_parse(plain, strlen(plain), NULL, NULL, &c, &err), 0);
    ck_assert_str_eq(c->server, "http://h:8080");
    kube_config_free(c);
}
END_TEST

/* ---- merging ----------------------------------------------------------------- */

START_TEST(test_merged_files_first_definition_wins)
{
    kube_config_t *c = load_ok(TESTDATA "/merge-first.yaml:" TESTDATA "/merge-second.yaml", NULL);
    /* current-context comes from the only file that sets it (the second)... */
    ck_assert_str_eq(c->context_name, "merged");
    /* ...but the context, and the cluster it names, from the first file that defines them. */
    ck_assert_str_eq(c->namespace, "from-first");
    ck_assert_str_eq(c->server, "https://first.example.com");
    ck_assert(c->insecure_skip_tls_verify);
    ck_assert_str_eq(c->source, "kubeconfig " TESTDATA "/merge-first.yaml");
    kube_auth_t a;
    auth_ok(c, &a);
    ck_assert_str_eq(a.token, "second-file-token");
    kube_auth_clear(&a);
    kube_config_free(c);
}
END_TEST

START_TEST(test_merged_list_skips_missing_files_and_empty_entries)
{
    kube_config_t *c = load_ok(
        "/nonexistent/config::" TESTDATA "/merge-second.yaml:" TESTDATA "/merge-first.yaml", NULL);
    ck_assert_str_eq(c->server, "https://second.example.com");
    ck_assert_str_eq(c->namespace, "from-second");
    ck_assert_str_eq(c->user_name, "only-second");
    kube_config_free(c);
}
END_TEST

START_TEST(test_merged_list_of_only_missing_files_fails)
{
    char *err = load_fails("/nonexistent/a:/nonexistent/b", NULL);
    ck_assert_contains(err, "/nonexistent/a:/nonexistent/b");
    ck_assert_contains(err, "none of the files exist");
    free(err);
}
END_TEST

START_TEST(test_single_missing_file_fails_naming_it)
{
    char *err = load_fails("/nonexistent/config", NULL);
    ck_assert_contains(err, "/nonexistent/config");
    ck_assert_contains(err, "No such file");
    free(err);
}
END_TEST

START_TEST(test_unknown_explicit_context_fails)
{
    char *err = load_fails(TESTDATA "/basic.yaml", "staging");
    ck_assert_contains(err, "context \"staging\" not found");
    ck_assert_contains(err, "basic.yaml");
    free(err);
}
END_TEST

START_TEST(test_bad_yaml_error_names_file_line_and_column)
{
    char *err = load_fails(TESTDATA "/bad-syntax.yaml", NULL);
    ck_assert_contains(err, "kubeconfig " TESTDATA "/bad-syntax.yaml: line 5, column 6");
    ck_assert_contains(err, "YAML syntax error");
    ck_assert_contains(err, "flow mapping at line 4, column 12");
    free(err);
}
END_TEST

START_TEST(test_unused_broken_entries_do_not_matter)
{
    const char *yaml = "current-context: good\n"
                       "clusters:\n"
                       "- {name: good, cluster: {server: 'https://good'}}\n"
                       "- {name: broken, cluster: {server: x, certificate-authority-data: '!!!'}}\n"
                       "users:\n"
                       "- {name: broken, user: {token: a, username: b}}\n"
                       "- {user: {token: nameless}}\n"
                       "contexts:\n"
                       "- {name: good, context: {cluster: good}}\n"
                       "- {name: bad, context: {cluster: broken, user: broken}}\n";
    kube_config_t *c = NULL;
    char *err = NULL;
    ck_assert_int_eq(kube_config_parse(yaml, strlen(yaml), "/v/config", NULL, &c, &err), 0);
    ck_assert_str_eq(c->server, "https://good");
    kube_config_free(c);
    ck_assert_int_eq(kube_config_parse(yaml, strlen(yaml), "/v/config", "bad", &c, &err), -1);
    ck_assert_contains(err, "cluster \"broken\": certificate-authority-data: invalid base64");
    free(err);
}
END_TEST

/* ---- errors for broken input, table-driven --------------------------------- */

typedef struct error_case {
    const char *yaml;
    const char *context;
    const char *want1;
    const char *want2;
    const char *never; /* a secret that must not leak into the message */
} error_case_t;

#define CLUSTER_OK "clusters: [{name: c, cluster: {server: 'https://h'}}]\n"
#define CONTEXT_CU "current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"

static const error_case_t error_cases[] = {
    {"clusters: []\n", NULL, "kubeconfig /v/kube/config: current-context is not set", NULL, NULL},
    {CLUSTER_OK "contexts: [{name: x, context: {cluster: c}}]\n", "y", "context \"y\" not found",
     NULL, NULL},
    {"current-context: x\ncontexts:\n- name: x\n  context: {cluster: ghost}\n", NULL,
     "line 4: context \"x\": cluster \"ghost\" not found", NULL, NULL},
    {CLUSTER_OK "current-context: x\ncontexts: [{name: x, context: {cluster: c, user: ghost}}]\n",
     NULL, "context \"x\": user \"ghost\" not found", NULL, NULL},
    {"current-context: x\ncontexts: [{name: x, context: {user: u}}]\n", NULL,
     "context \"x\": cluster is not set", NULL, NULL},
    {"current-context: x\nclusters:\n- name: c\n  cluster: {}\n"
     "contexts: [{name: x, context: {cluster: c}}]\n",
     NULL, "line 3: cluster \"c\": server is not set", NULL, NULL},
    {"current-context: x\nclusters:\n- name: c\n  cluster:\n    server: https://h\n"
     "    certificate-authority-data: 'abc$def'\n"
     "contexts: [{name: x, context: {cluster: c}}]\n",
     NULL, "line 6: cluster \"c\": certificate-authority-data: invalid base64 at offset 3", NULL,
     NULL},
    {CLUSTER_OK CONTEXT_CU "users:\n- name: u\n  user:\n    client-certificate-data: Zm9v\n"
                           "    client-key-data: 'very-secret-key-material!'\n",
     NULL, "user \"u\": client-key-data: invalid base64", NULL, "very-secret-key-material"},
    {"current-context: x\nclusters: [{name: c, cluster: {server: 'https://h', "
     "certificate-authority: missing-ca.crt}}]\ncontexts: [{name: x, context: {cluster: c}}]\n",
     NULL, "certificate-authority /v/kube/missing-ca.crt: No such file or directory", NULL, NULL},
    {CLUSTER_OK CONTEXT_CU "users: [{name: u, user: {tokenFile: /nonexistent/token}}]\n", NULL,
     "user \"u\": tokenFile /nonexistent/token: No such file", NULL, NULL},
    {CLUSTER_OK CONTEXT_CU
     "users: [{name: u, user: {token: tok-secret-1, username: a, password: pw-secret-2}}]\n",
     NULL, "more than one authentication method", "tok-secret-1", "pw-secret-2"},
    {CLUSTER_OK CONTEXT_CU "users: [{name: u, user: {client-certificate-data: Zm9v}}]\n", NULL,
     "client-key or client-key-data must be set", NULL, NULL},
    {CLUSTER_OK CONTEXT_CU "users: [{name: u, user: {exec: {command: x}}}]\n", NULL,
     "exec.apiVersion is not set", NULL, NULL},
    {CLUSTER_OK CONTEXT_CU "users: [{name: u, user: {exec: {command: x, apiVersion: "
                           "client.authentication.k8s.io/v1}}}]\n",
     NULL, "exec.interactiveMode must be set", NULL, NULL},
    {CLUSTER_OK CONTEXT_CU "users: [{name: u, user: {exec: {command: x, apiVersion: "
                           "client.authentication.k8s.io/v1alpha1}}}]\n",
     NULL, "\"client.authentication.k8s.io/v1alpha1\" is not supported", NULL, NULL},
    {CLUSTER_OK CONTEXT_CU "users: [{name: u, user: {exec: {apiVersion: x}}}]\n", NULL,
     "exec.command is not set", NULL, NULL},
    {"current-context: x\nclusters: [{name: c, cluster: {server: 'https://h', "
     "insecure-skip-tls-verify: true, certificate-authority-data: Zm9v}}]\n"
     "contexts: [{name: x, context: {cluster: c}}]\n",
     NULL, "insecure-skip-tls-verify cannot be combined", NULL, NULL},
    {"clusters: {c: {server: x}}\n", NULL, "line 1: clusters: expected a list", NULL, NULL},
    {"clusters:\n- name: c\n  cluster:\n    insecure-skip-tls-verify: maybe\n", NULL,
     "line 4: cluster \"c\": insecure-skip-tls-verify: expected true or false", NULL, NULL},
    {"clusters:\n- {name: c, cluster: {server: a}}\n- {name: c, cluster: {server: b}}\n", NULL,
     "line 3: clusters: duplicate name \"c\"", NULL, NULL},
    {CLUSTER_OK CONTEXT_CU "users: [{name: u, user: {auth-provider: {name: oidc}}}]\n", NULL,
     "auth-provider \"oidc\" is not supported", NULL, NULL},
    {CLUSTER_OK CONTEXT_CU "users: [{name: u, user: {as: admin, token: t}}]\n", NULL,
     "as: impersonation is not supported", NULL, NULL},
    {"apiVersion: v1\nclusters:\n  - name: [\n", NULL, "kubeconfig /v/kube/config: line 4", NULL,
     NULL},
    {"just a string\n", NULL, "line 1: expected a mapping", NULL, NULL},
    {"current-context: \"a\\0b\"\n", NULL, "current-context: contains a NUL byte", NULL, NULL},
    {"clusters:\n- name: c\n  cluster:\n    server: {nested: map}\n", NULL,
     "line 4: cluster \"c\": server: expected a string", NULL, NULL},
    {CLUSTER_OK CONTEXT_CU "users: [{name: u, user: {exec: {command: x, args: oops}}}]\n", NULL,
     "user \"u\": exec: args: expected a list of strings", NULL, NULL},
    {CLUSTER_OK CONTEXT_CU "users: [{name: u, user: {exec: {command: x, env: [{value: v}]}}}]\n",
     NULL, "env[0].name: must be set", NULL, NULL},
};

START_TEST(test_broken_config_error_names_file_and_field)
{
    const error_case_t *tc = &error_cases[_i];
    kube_config_t *c = NULL;
    char *err = NULL;
    int rc = kube_config_parse(tc->yaml, strlen(tc->yaml), "/v/kube/config", tc->context, &c, &err);
    ck_assert_msg(rc == -1, "case %d: parsed although broken", _i);
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(err);
    ck_assert_contains(err, "/v/kube/config");
    ck_assert_contains(err, tc->want1);
    if (tc->want2)
        ck_assert_not_contains(err, tc->want2);
    if (tc->never)
        ck_assert_not_contains(err, tc->never);
    free(err);
}
END_TEST

#define BYTES(literal)                                                                             \
    {                                                                                              \
        literal, sizeof literal - 1                                                                \
    }

START_TEST(test_hostile_input_is_rejected_without_crashing)
{
    static const struct {
        const char *data;
        size_t len;
    } inputs[] = {
        BYTES("clusters: &c [*c]\ncurrent-context: x\n"),
        BYTES("contexts: [{name: x, context: &m {cluster: *m}}]\ncurrent-context: x\n"),
        BYTES("users: [{name: u, user: &u {exec: *u}}]\n"
              "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
              "clusters: [{name: c, cluster: {server: s}}]\ncurrent-context: x\n"),
        BYTES("a: *undefined\n"),
        BYTES("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["),
        BYTES("\xff\xfe\x00\x01garbage"),
        BYTES("current-context: x\x00\nclusters: []\n"),
        BYTES("clusters: [~, 1, [], {name: [x]}]\n"),
        BYTES("current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
              "clusters: [{name: c, cluster: {server: '/'}}]\n"),
        BYTES(""),
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(inputs); i++) {
        kube_config_t *c = NULL;
        char *err = NULL;
        int rc = kube_config_parse(inputs[i].data, inputs[i].len, NULL, NULL, &c, &err);
        ck_assert_msg(rc == -1, "input %zu was accepted", i);
        ck_assert_ptr_null(c);
        ck_assert_ptr_nonnull(err);
        ck_assert_contains(err, "<memory>");
        free(err);
    }
}
END_TEST

START_TEST(test_alias_amplification_is_refused)
{
    buf_t yaml = BUF_INIT;
    buf_puts(&yaml, "big: &big {");
    for (int i = 0; i < 20000; i++)
        buf_printf(&yaml, "k%d: v, ", i);
    buf_puts(&yaml, "}\nclusters: [");
    for (int i = 0; i < 20000; i++)
        buf_puts(&yaml, "*big, ");
    buf_puts(&yaml, "]\n");
    ck_assert(!yaml.oom);
    double start = util_monotonic();
    kube_config_t *c = NULL;
    char *err = NULL;
    ck_assert_int_eq(kube_config_parse(yaml.data, yaml.len, "/v/bomb.yaml", NULL, &c, &err), -1);
    /* Without the alias limit this input takes minutes (and gigabytes); the bound is
     * loose enough for valgrind and a loaded machine. */
    ck_assert_double_lt(util_monotonic() - start, 30.0);
    ck_assert_contains(err, "kubeconfig /v/bomb.yaml: line 2");
    ck_assert_contains(err, "more than 100 aliases");
    free(err);
    buf_free(&yaml);
}
END_TEST

START_TEST(test_deep_nesting_is_refused_quickly)
{
    size_t len = 200000;
    char *deep = malloc(len);
    ck_assert_ptr_nonnull(deep);
    memset(deep, '[', len);
    double start = util_monotonic();
    kube_config_t *c = NULL;
    char *err = NULL;
    ck_assert_int_eq(kube_config_parse(deep, len, "/v/deep.yaml", NULL, &c, &err), -1);
    /* Unbounded, this input took 132 s; the bound tolerates valgrind and load. */
    ck_assert_double_lt(util_monotonic() - start, 30.0);
    ck_assert_contains(err, "kubeconfig /v/deep.yaml: line 1, column 65: nested more than 64");
    free(err);
    free(deep);
}
END_TEST

/* ---- in-cluster ---------------------------------------------------------------- */

static void write_service_account(const char *token)
{
    write_file("sa/token", token, 0600);
    write_file("sa/ca.crt", "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", 0644);
    write_file("sa/namespace", "builds\n", 0644);
}

START_TEST(test_in_cluster_reads_token_ca_and_namespace)
{
    write_service_account("sa-token-1\n");
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    kube_config_t *c = NULL;
    char *err = NULL;
    ck_assert_int_eq(kube_config_in_cluster(tmp_path("sa"), &c, &err), 0);
    ck_assert_str_eq(c->server, "https://10.96.0.1:443");
    ck_assert_str_eq(c->ca_file, tmp_path("sa/ca.crt"));
    ck_assert_str_eq(c->namespace, "builds");
    ck_assert_str_eq(c->source, "in-cluster");
    ck_assert(c->in_cluster);
    kube_auth_t a;
    auth_ok(c, &a);
    ck_assert_str_eq(a.token, "sa-token-1");
    kube_auth_clear(&a);
    kube_config_free(c);
}
END_TEST

START_TEST(test_in_cluster_brackets_ipv6_host_and_prefers_pod_namespace)
{
    write_service_account("t");
    setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
    setenv("POD_NAMESPACE", "from-env", 1);
    kube_config_t *c = NULL;
    char *err = NULL;
    ck_assert_int_eq(kube_config_in_cluster(tmp_path("sa"), &c, &err), 0);
    ck_assert_str_eq(c->server, "https://[fd00:10:96::1]:6443");
    ck_assert_str_eq(c->namespace, "from-env");
    kube_config_free(c);
}
END_TEST

START_TEST(test_in_cluster_without_env_or_token_fails_clearly)
{
    kube_config_t *c = NULL;
    char *err = NULL;
    ck_assert_int_eq(kube_config_in_cluster(tmp_path("sa"), &c, &err), -1);
    ck_assert_contains(err, "KUBERNETES_SERVICE_HOST");
    free(err);
    setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    ck_assert_int_eq(kube_config_in_cluster(tmp_path("sa"), &c, &err), -1);
    ck_assert_contains(err, tmp_path("sa/token"));
    free(err);
    write_file("sa/token", " \n", 0600);
    ck_assert_int_eq(kube_config_in_cluster(tmp_path("sa"), &c, &err), -1);
    ck_assert_contains(err, "empty");
    free(err);
}
END_TEST

START_TEST(test_in_cluster_token_rotation_is_picked_up)
{
    write_service_account("first-token\n");
    setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    kube_config_t *c = NULL;
    char *err = NULL;
    ck_assert_int_eq(kube_config_in_cluster(tmp_path("sa"), &c, &err), 0);
    kube_auth_t a;
    auth_ok(c, &a);
    ck_assert_str_eq(a.token, "first-token");
    kube_auth_clear(&a);

    /* Rewritten in place. */
    write_file("sa/token", "second-token-longer\n", 0600);
    auth_ok(c, &a);
    ck_assert_str_eq(a.token, "second-token-longer");
    kube_auth_clear(&a);

    /* Replaced atomically with a same-sized file, as the kubelet's symlink swap does. */
    write_file("sa/token.new", "third--token-longer\n", 0600);
    ck_assert_int_eq(rename(tmp_path("sa/token.new"), tmp_path("sa/token")), 0);
    auth_ok(c, &a);
    ck_assert_str_eq(a.token, "third--token-longer");
    kube_auth_clear(&a);

    /* A vanished file keeps the last good token, even after invalidation, and says so in the
     * log without the token. */
    ck_assert_int_eq(unlink(tmp_path("sa/token")), 0);
    kube_config_invalidate_auth(c);
    int log_fd = open(tmp_path("log"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(log_fd, 0);
    log_set_fd(log_fd);
    auth_ok(c, &a);
    log_set_fd(2);
    close(log_fd);
    ck_assert_str_eq(a.token, "third--token-longer");
    kube_auth_clear(&a);
    char *log = util_read_file(tmp_path("log"), NULL);
    ck_assert_ptr_nonnull(log);
    ck_assert_contains(log, "using the previous token");
    ck_assert_contains(log, tmp_path("sa/token"));
    ck_assert_not_contains(log, "third--token-longer");
    free(log);
    kube_config_free(c);
}
END_TEST

/* ---- the default chain ---------------------------------------------------------- */

static void write_named_config(const char *name, const char *context)
{
    char *yaml = util_asprintf("current-context: %s\n"
                               "clusters: [{name: c, cluster: {server: 'https://%s'}}]\n"
                               "contexts: [{name: %s, context: {cluster: c}}]\n",
                               context, context, context);
    write_file(name, yaml, 0600);
    free(yaml);
}

static char *default_context(const char *explicit_path)
{
    kube_config_t *c = NULL;
    char *err = NULL;
    int rc = kube_config_load_default_at(explicit_path, NULL, tmp_path("sa"), &c, &err);
    ck_assert_msg(rc == 0, "load_default failed: %s", err ? err : "");
    char *name = strdup(c->in_cluster ? "in-cluster" : c->context_name);
    kube_config_free(c);
    return name;
}

START_TEST(test_load_default_order_explicit_env_in_cluster_home)
{
    setenv("HOME", tmp_path("home"), 1);
    write_named_config("home/.kube/config", "home");
    write_named_config("env.yaml", "env");
    write_named_config("explicit.yaml", "explicit");
    write_service_account("sa-token");

    char *name = default_context(NULL);
    ck_assert_str_eq(name, "home");
    free(name);

    setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    name = default_context(NULL);
    ck_assert_str_eq(name, "in-cluster");
    free(name);

    setenv("KUBECONFIG", tmp_path("env.yaml"), 1);
    name = default_context(NULL);
    ck_assert_str_eq(name, "env");
    free(name);

    name = default_context(tmp_path("explicit.yaml"));
    ck_assert_str_eq(name, "explicit");
    free(name);
}
END_TEST

START_TEST(test_load_default_falls_back_to_home_when_in_cluster_fails)
{
    setenv("HOME", tmp_path("home"), 1);
    write_named_config("home/.kube/config", "home");
    setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    char *name = default_context(NULL); /* no service-account files */
    ck_assert_str_eq(name, "home");
    free(name);

    ck_assert_int_eq(unlink(tmp_path("home/.kube/config")), 0);
    kube_config_t *c = NULL;
    char *err = NULL;
    ck_assert_int_eq(kube_config_load_default_at(NULL, NULL, tmp_path("sa"), &c, &err), -1);
    ck_assert_contains(err, "in-cluster: token file");
    free(err);

    unsetenv("KUBERNETES_SERVICE_HOST");
    ck_assert_int_eq(kube_config_load_default_at(NULL, NULL, tmp_path("sa"), &c, &err), -1);
    ck_assert_contains(err, "no Kubernetes configuration found");
    ck_assert_contains(err, tmp_path("home/.kube/config"));
    free(err);
}
END_TEST

/* ---- exec plugins --------------------------------------------------------------- */

/* Counts its runs in $COUNTER, saves KUBERNETES_EXEC_INFO to $INFO_OUT, and prints a token
 * made of its first argument and the run number. */
#define PLUGIN_PRELUDE                                                                             \
    "#!/bin/sh\n"                                                                                  \
    "n=$(cat \"$COUNTER\" 2>/dev/null || echo 0); n=$((n+1)); echo $n > \"$COUNTER\"\n"            \
    "printf '%%s' \"$KUBERNETES_EXEC_INFO\" > \"$INFO_OUT\"\n"

static void write_plugin(const char *name, const char *api_version, const char *expiration)
{
    char *script =
        util_asprintf(PLUGIN_PRELUDE "%s"
                                     "echo '{\"kind\":\"ExecCredential\",\"apiVersion\":\"%s\",'\n"
                                     "echo '\"status\":{\"token\":\"'tok-$1-$n'\"%s%s%s}}'\n",
                      util_streq(name, "slow.sh") ? "sleep 0.3\n" : "", api_version,
                      expiration ? ",\"expirationTimestamp\":\"" : "", expiration ? expiration : "",
                      expiration ? "\"" : "");
    write_file(name, script, 0755);
    free(script);
}

/* A kubeconfig whose user runs command (a path relative to the kubeconfig when it holds a '/')
 * with the argument "alpha". */
static kube_config_t *load_exec_config_mode(const char *command, const char *api_version,
                                            const char *user_extra, const char *mode)
{
    char *yaml =
        util_asprintf("current-context: x\n"
                      "clusters:\n"
                      "- name: c\n"
                      "  cluster:\n"
                      "    server: https://exec.example:6443\n"
                      "    certificate-authority-data: Zm9vYmFy\n"
                      "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
                      "users:\n"
                      "- name: u\n"
                      "  user:\n"
                      "%s"
                      "    exec:\n"
                      "      command: %s\n"
                      "      apiVersion: %s\n"
                      "      args: [alpha]\n"
                      "      interactiveMode: %s\n"
                      "      provideClusterInfo: true\n"
                      "      installHint: 'install it: apt-get install test-credential-plugin'\n"
                      "      env:\n"
                      "      - {name: COUNTER, value: '%s'}\n"
                      "      - {name: INFO_OUT, value: '%s'}\n",
                      user_extra ? user_extra : "", command, api_version, mode, tmp_path("count"),
                      tmp_path("exec-info"));
    write_file("exec.yaml", yaml, 0600);
    free(yaml);
    return load_ok(tmp_path("exec.yaml"), NULL);
}

static kube_config_t *load_exec_config(const char *command, const char *api_version,
                                       const char *user_extra)
{
    return load_exec_config_mode(command, api_version, user_extra, "IfAvailable");
}

#define V1      "client.authentication.k8s.io/v1"
#define V1BETA1 "client.authentication.k8s.io/v1beta1"

START_TEST(test_exec_token_with_future_expiry_is_cached)
{
    write_plugin("plugin.sh", V1, "2999-01-01T00:00:00Z");
    kube_config_t *c = load_exec_config("./plugin.sh", V1, NULL);
    ck_assert_int_eq(read_counter("count"), 0); /* nothing runs at load time */
    for (int i = 0; i < 3; i++) {
        kube_auth_t a;
        auth_ok(c, &a);
        ck_assert_str_eq(a.token, "tok-alpha-1");
        kube_auth_clear(&a);
    }
    ck_assert_int_eq(read_counter("count"), 1);

    char *info = util_read_file(tmp_path("exec-info"), NULL);
    ck_assert_ptr_nonnull(info);
    ck_assert_contains(info, "\"kind\":\"ExecCredential\"");
    ck_assert_contains(info, "\"apiVersion\":\"" V1 "\"");
    ck_assert_contains(info, "\"interactive\":false");
    ck_assert_contains(info, "\"server\":\"https://exec.example:6443\"");
    ck_assert_contains(info, "\"certificate-authority-data\":\"Zm9vYmFy\"");
    free(info);
    kube_config_free(c);
}
END_TEST

START_TEST(test_exec_token_with_past_expiry_reruns_on_every_call)
{
    write_plugin("plugin.sh", V1BETA1, "2001-01-01T00:00:00Z");
    kube_config_t *c = load_exec_config("./plugin.sh", V1BETA1, NULL);
    for (int i = 1; i <= 3; i++) {
        kube_auth_t a;
        auth_ok(c, &a);
        char want[32];
        snprintf(want, sizeof want, "tok-alpha-%d", i);
        ck_assert_str_eq(a.token, want);
        kube_auth_clear(&a);
    }
    ck_assert_int_eq(read_counter("count"), 3);
    kube_config_free(c);
}
END_TEST

START_TEST(test_exec_token_without_expiry_is_cached_until_invalidated)
{
    write_plugin("plugin.sh", V1, NULL);
    kube_config_t *c = load_exec_config("./plugin.sh", V1, NULL);
    kube_auth_t a;
    auth_ok(c, &a);
    kube_auth_clear(&a);
    auth_ok(c, &a);
    ck_assert_str_eq(a.token, "tok-alpha-1");
    kube_auth_clear(&a);
    kube_config_invalidate_auth(c); /* e.g. after a 401 */
    auth_ok(c, &a);
    ck_assert_str_eq(a.token, "tok-alpha-2");
    kube_auth_clear(&a);
    kube_config_free(c);
}
END_TEST

static void *auth_thread(void *arg)
{
    kube_auth_t a;
    char *err = NULL;
    if (kube_config_auth(arg, &a, &err) < 0) {
        free(err);
        return NULL;
    }
    char *token = strdup(a.token);
    kube_auth_clear(&a);
    return token;
}

START_TEST(test_exec_plugin_runs_once_for_concurrent_callers)
{
    write_plugin("slow.sh", V1, "2999-01-01T00:00:00Z");
    kube_config_t *c = load_exec_config("./slow.sh", V1, NULL);
    pthread_t threads[8];
    for (size_t i = 0; i < UTIL_ARRAY_LEN(threads); i++)
        ck_assert_int_eq(pthread_create(&threads[i], NULL, auth_thread, c), 0);
    for (size_t i = 0; i < UTIL_ARRAY_LEN(threads); i++) {
        char *token;
        pthread_join(threads[i], (void **)&token);
        ck_assert_pstr_eq(token, "tok-alpha-1");
        free(token);
    }
    ck_assert_int_eq(read_counter("count"), 1);
    kube_config_free(c);
}
END_TEST

START_TEST(test_exec_client_certificate_replaces_static_credentials)
{
    write_file("cert.sh",
               "#!/bin/sh\n"
               "cat <<'EOF'\n"
               "{\"kind\":\"ExecCredential\",\"apiVersion\":\"" V1 "\",\"status\":{"
               "\"clientCertificateData\":\"-----BEGIN CERTIFICATE-----\\nC\\n\","
               "\"clientKeyData\":\"-----BEGIN PRIVATE KEY-----\\nK\\n\"}}\n"
               "EOF\n",
               0755);
    kube_config_t *c = load_exec_config("./cert.sh", V1,
                                        "    client-certificate-data: Zm9v\n"
                                        "    client-key-data: YmFy\n"
                                        "    token: static-token\n");
    kube_auth_t a;
    auth_ok(c, &a);
    ck_assert_str_eq(a.client_cert_pem, "-----BEGIN CERTIFICATE-----\nC\n");
    ck_assert_str_eq(a.client_key_pem, "-----BEGIN PRIVATE KEY-----\nK\n");
    ck_assert_str_eq(a.token, "static-token"); /* the plugin gave no token */
    kube_auth_clear(&a);
    kube_config_free(c);
}
END_TEST

START_TEST(test_exec_failure_reports_stderr_and_hint_but_no_token)
{
    write_file("fail.sh",
               "#!/bin/sh\n"
               "echo '{\"kind\":\"ExecCredential\",\"apiVersion\":\"" V1 "\","
               "\"status\":{\"token\":\"stdout-token-must-not-leak\"}}'\n"
               "echo 'error: SSO session expired; cached static-secret-token rejected' >&2\n"
               "head -c 3000 /dev/zero | tr '\\0' x >&2\n"
               "exit 3\n",
               0755);
    kube_config_t *c = load_exec_config("./fail.sh", V1, "    token: static-secret-token\n");
    kube_auth_t a;
    char *err = NULL;
    ck_assert_int_eq(kube_config_auth(c, &a, &err), -1);
    ck_assert_ptr_null(a.token);
    ck_assert_ptr_nonnull(err);
    ck_assert_contains(err, "user \"u\": exec plugin");
    ck_assert_contains(err, "fail.sh failed with exit status 3");
    ck_assert_contains(err, "error: SSO session expired; cached [redacted] rejected");
    ck_assert_contains(err, "xxx...");
    ck_assert_contains(err, "install it: apt-get install test-credential-plugin");
    ck_assert_not_contains(err, "stdout-token-must-not-leak");
    ck_assert_not_contains(err, "static-secret-token");
    ck_assert_uint_lt(strlen(err), 1400);
    free(err);
    kube_config_free(c);
}
END_TEST

START_TEST(test_exec_missing_command_reports_install_hint)
{
    kube_config_t *c = load_exec_config("./not-installed.sh", V1, NULL);
    kube_auth_t a;
    char *err = NULL;
    ck_assert_int_eq(kube_config_auth(c, &a, &err), -1);
    ck_assert_contains(err, "not-installed.sh could not be found: No such file or directory");
    ck_assert_contains(err, "apt-get install test-credential-plugin");
    free(err);
    kube_config_free(c);
}
END_TEST

START_TEST(test_exec_bad_credential_is_rejected_without_quoting_stdout)
{
    static const char *outputs[] = {
        "not json at all secret-in-garbage",
        "{\"kind\":\"ExecCredential\",\"apiVersion\":\"" V1BETA1 "\","
        "\"status\":{\"token\":\"secret-in-garbage\"}}",
        "{\"kind\":\"ExecCredential\",\"apiVersion\":\"" V1 "\",\"status\":{}}",
        "{\"kind\":\"ExecCredential\",\"apiVersion\":\"" V1 "\","
        "\"status\":{\"clientCertificateData\":\"secret-in-garbage\"}}",
        "{\"kind\":\"ExecCredential\",\"apiVersion\":\"" V1 "\","
        "\"status\":{\"token\":\"secret-in-garbage\",\"expirationTimestamp\":\"soon\"}}",
    };
    static const char *wants[] = {"wrote no ExecCredential JSON", "returned apiVersion",
                                  "returned neither status.token", "returned only one of",
                                  "not RFC 3339"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(outputs); i++) {
        char *script = util_asprintf("#!/bin/sh\ncat <<'EOF'\n%s\nEOF\n", outputs[i]);
        write_file("bad.sh", script, 0755);
        free(script);
        kube_config_t *c = load_exec_config("./bad.sh", V1, NULL);
        kube_auth_t a;
        char *err = NULL;
        ck_assert_int_eq(kube_config_auth(c, &a, &err), -1);
        ck_assert_contains(err, wants[i]);
        ck_assert_not_contains(err, "secret-in-garbage");
        free(err);
        kube_config_free(c);
    }
}
END_TEST

START_TEST(test_exec_command_without_slash_is_looked_up_in_path)
{
    write_plugin("bin/kube-test-login", V1, NULL);
    char *path = util_asprintf("%s:%s", tmp_path("bin"), getenv("PATH"));
    char *saved_path = strdup(getenv("PATH"));
    setenv("PATH", path, 1);
    kube_config_t *c = load_exec_config("kube-test-login", V1, NULL);
    ck_assert_str_eq(c->exec->command, "kube-test-login");
    kube_auth_t a;
    char *err = NULL;
    int rc = kube_config_auth(c, &a, &err);
    setenv("PATH", saved_path, 1);
    free(saved_path);
    free(path);
    ck_assert_msg(rc == 0, "auth failed: %s", err);
    ck_assert_str_eq(a.token, "tok-alpha-1");
    kube_auth_clear(&a);
    kube_config_free(c);
}
END_TEST

START_TEST(test_exec_interactive_always_is_refused)
{
    write_plugin("plugin.sh", V1, NULL);
    kube_config_t *c = load_exec_config_mode("./plugin.sh", V1, NULL, "Always");
    kube_auth_t a;
    char *err = NULL;
    ck_assert_int_eq(kube_config_auth(c, &a, &err), -1);
    ck_assert_contains(err, "interactiveMode: Always");
    ck_assert_int_eq(read_counter("count"), 0);
    free(err);
    kube_config_free(c);
}
END_TEST

int main(void)
{
    const char *home = getenv("HOME");
    saved_home = home ? strdup(home) : NULL;
    Suite *s = suite_create("kube_config");
    TCase *tc = tcase_create("config");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_token_user_gives_bearer_token_server_and_namespace);
    tcase_add_test(tc, test_ca_data_is_decoded_to_pem_and_leaves_ca_file_unset);
    tcase_add_test(tc, test_ca_file_and_client_cert_data_from_explicit_context);
    tcase_add_test(tc, test_basic_auth_user_gives_username_and_password);
    tcase_add_test(tc, test_relative_paths_resolve_against_the_kubeconfig_directory);
    tcase_add_test(tc, test_token_file_wins_over_token);
    tcase_add_test(tc, test_server_without_scheme_defaults_like_client_go);
    tcase_add_test(tc, test_merged_files_first_definition_wins);
    tcase_add_test(tc, test_merged_list_skips_missing_files_and_empty_entries);
    tcase_add_test(tc, test_merged_list_of_only_missing_files_fails);
    tcase_add_test(tc, test_single_missing_file_fails_naming_it);
    tcase_add_test(tc, test_unknown_explicit_context_fails);
    tcase_add_test(tc, test_bad_yaml_error_names_file_line_and_column);
    tcase_add_test(tc, test_unused_broken_entries_do_not_matter);
    tcase_add_loop_test(tc, test_broken_config_error_names_file_and_field, 0,
                        (int)UTIL_ARRAY_LEN(error_cases));
    tcase_add_test(tc, test_hostile_input_is_rejected_without_crashing);
    tcase_add_test(tc, test_deep_nesting_is_refused_quickly);
    tcase_add_test(tc, test_alias_amplification_is_refused);
    tcase_add_test(tc, test_in_cluster_reads_token_ca_and_namespace);
    tcase_add_test(tc, test_in_cluster_brackets_ipv6_host_and_prefers_pod_namespace);
    tcase_add_test(tc, test_in_cluster_without_env_or_token_fails_clearly);
    tcase_add_test(tc, test_in_cluster_token_rotation_is_picked_up);
    tcase_add_test(tc, test_load_default_order_explicit_env_in_cluster_home);
    tcase_add_test(tc, test_load_default_falls_back_to_home_when_in_cluster_fails);
    tcase_add_test(tc, test_exec_token_with_future_expiry_is_cached);
    tcase_add_test(tc, test_exec_token_with_past_expiry_reruns_on_every_call);
    tcase_add_test(tc, test_exec_token_without_expiry_is_cached_until_invalidated);
    tcase_add_test(tc, test_exec_plugin_runs_once_for_concurrent_callers);
    tcase_add_test(tc, test_exec_client_certificate_replaces_static_credentials);
    tcase_add_test(tc, test_exec_failure_reports_stderr_and_hint_but_no_token);
    tcase_add_test(tc, test_exec_missing_command_reports_install_hint);
    tcase_add_test(tc, test_exec_bad_credential_is_rejected_without_quoting_stdout);
    tcase_add_test(tc, test_exec_command_without_slash_is_looked_up_in_path);
    tcase_add_test(tc, test_exec_interactive_always_is_refused);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    free(saved_home);
    return failed ? 1 : 0;
}

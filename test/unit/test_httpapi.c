/*
 * Unit tests for pkg/httpapi's pure pieces: GitHub signatures (GitHub's documented test
 * vector), branch matching, trigger bodies (JSON, form, none), run names, secrets, rate
 * buckets, log paths and pod container order; and its routes on a real listener (with
 * and without the trailing slash), their handlers told apart from the router's answers.
 *
 * The same binary is the test server of test/e2e/test_httpapi.py:
 *     test_httpapi serve --kubeconfig K [--address 127.0.0.1:0] [--port-file F]
 *                        [--controllers --builder-image IMAGE] [--trigger-rate R]
 *                        [--trigger-burst N] [--poll-interval S] [--max-log-streams N]
 * serves the httpapi routes (and /metrics) until SIGTERM — with --controllers backed by
 * an in-process controller manager, as the operator wires it.
 */
#include <check.h>
#include <curl/curl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpapi/httpapi.h"
#include "httpapi/httpapi_internal.h"

/* ---- GitHub signatures ---------------------------------------------------------------- */

/* docs.github.com "Validating webhook deliveries": the documented test values. */
#define GITHUB_SECRET    "It's a Secret to Everybody"
#define GITHUB_PAYLOAD   "Hello, World!"
#define GITHUB_SIGNATURE "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

START_TEST(test_github_signature_matches_the_documented_vector)
{
    char sig[72];
    httpapi_github_signature(GITHUB_SECRET, GITHUB_PAYLOAD, strlen(GITHUB_PAYLOAD), sig);
    ck_assert_str_eq(sig, GITHUB_SIGNATURE);
    ck_assert(httpapi_github_signature_valid(GITHUB_SECRET, GITHUB_PAYLOAD, strlen(GITHUB_PAYLOAD),
                                             GITHUB_SIGNATURE));
    /* Upper-case hex is the same signature. */
    ck_assert(httpapi_github_signature_valid(
        GITHUB_SECRET, GITHUB_PAYLOAD, strlen(GITHUB_PAYLOAD),
        "sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17"));
}
END_TEST

START_TEST(test_github_signature_rejects_wrong_missing_and_secretless)
{
    const char *body = GITHUB_PAYLOAD;
    size_t len = strlen(body);
    /* Another body, another secret, a truncated or sha1 header, none at all. */
    ck_assert(
        !httpapi_github_signature_valid(GITHUB_SECRET, "Hello, World?", len, GITHUB_SIGNATURE));
    ck_assert(!httpapi_github_signature_valid("another secret", body, len, GITHUB_SIGNATURE));
    ck_assert(!httpapi_github_signature_valid(GITHUB_SECRET, body, len,
                                              "sha256=757107ea0eb2509fc211221cce984b8a"));
    ck_assert(!httpapi_github_signature_valid(GITHUB_SECRET, body, len,
                                              "sha1=757107ea0eb2509fc211221cce984b8a37570b6d"));
    ck_assert(!httpapi_github_signature_valid(GITHUB_SECRET, body, len, NULL));
    ck_assert(!httpapi_github_signature_valid(GITHUB_SECRET, body, len, ""));
    /* An empty secret signs nothing: "" must not verify, not even its own HMAC. */
    char sig[72];
    httpapi_github_signature("", body, len, sig);
    ck_assert(!httpapi_github_signature_valid("", body, len, sig));
    ck_assert(!httpapi_github_signature_valid(NULL, body, len, sig));
    /* An empty body has a signature too. */
    httpapi_github_signature(GITHUB_SECRET, "", 0, sig);
    ck_assert(httpapi_github_signature_valid(GITHUB_SECRET, "", 0, sig));
}
END_TEST

/* ---- secrets ---------------------------------------------------------------------------- */

START_TEST(test_secret_comparison_never_matches_empty)
{
    ck_assert(util_secure_streq("s3cret", "s3cret"));
    ck_assert(!util_secure_streq("s3cret", "s3cre"));
    ck_assert(!util_secure_streq("s3cre", "s3cret"));
    ck_assert(!util_secure_streq("S3cret", "s3cret"));
    /* Upstream compared with ==, so a builder without secretCode opened to "?secretCode=". */
    ck_assert(!util_secure_streq("", ""));
    ck_assert(!util_secure_streq(NULL, ""));
    ck_assert(!util_secure_streq("", NULL));
    ck_assert(!util_secure_streq(NULL, NULL));
    ck_assert(!util_secure_streq("x", ""));
}
END_TEST

/* ---- branches ---------------------------------------------------------------------------- */

static int matches(const char *expr, const char *rev, const char *branch)
{
    char *err = NULL;
    int m = httpapi_branch_matches(expr, rev, branch, &err);
    if (m < 0)
        ck_assert_ptr_nonnull(err);
    else
        ck_assert_ptr_null(err);
    free(err);
    return m;
}

START_TEST(test_branch_from_ref_takes_heads_only)
{
    ck_assert_str_eq(httpapi_ref_branch("refs/heads/main"), "main");
    ck_assert_str_eq(httpapi_ref_branch("refs/heads/feature/login"), "feature/login");
    ck_assert_ptr_null(httpapi_ref_branch("refs/tags/v1.0.0"));
    ck_assert_ptr_null(httpapi_ref_branch("refs/heads/"));
    ck_assert_ptr_null(httpapi_ref_branch("main"));
    ck_assert_ptr_null(httpapi_ref_branch(""));
    ck_assert_ptr_null(httpapi_ref_branch(NULL));
}
END_TEST

START_TEST(test_branch_matches_expression_unanchored_as_go)
{
    /* Go's regexp.MatchString finds the pattern anywhere in the branch. */
    ck_assert_int_eq(matches("release", NULL, "release-1.2"), 1);
    ck_assert_int_eq(matches("release", NULL, "hotfix/release"), 1);
    ck_assert_int_eq(matches("^release-[0-9]+\\.[0-9]+$", NULL, "release-1.2"), 1);
    ck_assert_int_eq(matches("^release-[0-9]+\\.[0-9]+$", NULL, "release-1.2-rc"), 0);
    ck_assert_int_eq(matches("^(main|develop)$", NULL, "develop"), 1);
    ck_assert_int_eq(matches("^(main|develop)$", NULL, "developer"), 0);
    ck_assert_int_eq(matches("feat(ure)?/.+", NULL, "feat/x"), 1);
    ck_assert_int_eq(matches(".*", NULL, "anything"), 1);
    /* The expression wins over revisionId. */
    ck_assert_int_eq(matches("^dev$", "main", "main"), 0);
}
END_TEST

START_TEST(test_branch_without_expression_must_equal_revision)
{
    ck_assert_int_eq(matches(NULL, "main", "main"), 1);
    ck_assert_int_eq(matches("", "main", "main"), 1);
    ck_assert_int_eq(matches(NULL, "main", "main2"), 0);
    ck_assert_int_eq(matches(NULL, "main", "mai"), 0);
    /* No revisionId: the webhook's default, master. */
    ck_assert_int_eq(matches(NULL, NULL, "master"), 1);
    ck_assert_int_eq(matches(NULL, "", "master"), 1);
    ck_assert_int_eq(matches(NULL, "", "main"), 0);
    ck_assert_int_eq(matches(NULL, "main", NULL), 0);
}
END_TEST

START_TEST(test_branch_expression_that_does_not_compile_is_an_error)
{
    ck_assert_int_eq(matches("release-(", NULL, "release-1"), -1);
    ck_assert_int_eq(matches("[a-", NULL, "a"), -1);
}
END_TEST

/* ---- trigger bodies -------------------------------------------------------------------- */

typedef struct parsed {
    int rc;
    httpapi_overrides_t o;
    char *err;
} parsed_t;

static parsed_t parse(const char *content_type, const char *body)
{
    parsed_t p;
    p.rc = httpapi_parse_overrides(content_type, body, body ? strlen(body) : 0, &p.o, &p.err);
    if (p.rc == 0)
        ck_assert_ptr_null(p.err);
    else
        ck_assert_ptr_nonnull(p.err);
    return p;
}

static void parsed_free(parsed_t *p)
{
    httpapi_overrides_clear(&p->o);
    free(p->err);
}

START_TEST(test_body_none_is_fine_with_any_content_type)
{
    /* so#6: upstream refused a bodiless POST unless its Content-Type was JSON or a form. */
    const char *types[] = {NULL,
                           "",
                           "text/plain",
                           "application/octet-stream",
                           "application/json",
                           "application/x-www-form-urlencoded"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(types); i++) {
        parsed_t p = parse(types[i], "");
        ck_assert_int_eq(p.rc, 0);
        ck_assert_ptr_null(p.o.new_tag);
        ck_assert_ptr_null(p.o.new_revision_id);
        ck_assert_ptr_null(p.o.new_source_url);
        parsed_free(&p);
        p = parse(types[i], " \r\n");
        ck_assert_int_eq(p.rc, 0);
        parsed_free(&p);
    }
    parsed_t p = parse("application/json", NULL);
    ck_assert_int_eq(p.rc, 0);
    parsed_free(&p);
}
END_TEST

START_TEST(test_body_json_sets_overrides_as_gos_decoder)
{
    parsed_t p =
        parse("application/json", "{\"newTag\":\"v2\",\"newRevisionId\":\"abc123\",\"unknown\":7}");
    ck_assert_int_eq(p.rc, 0);
    ck_assert_str_eq(p.o.new_tag, "v2");
    ck_assert_str_eq(p.o.new_revision_id, "abc123");
    ck_assert_ptr_null(p.o.new_source_url);
    parsed_free(&p);
    /* Keys case-insensitively; parameters of the media type; no Content-Type at all. */
    p = parse("Application/JSON; charset=utf-8",
              "{\"NEWTAG\":\"v3\",\"newsourceurl\":\"http://x/a\"}");
    ck_assert_int_eq(p.rc, 0);
    ck_assert_str_eq(p.o.new_tag, "v3");
    ck_assert_str_eq(p.o.new_source_url, "http://x/a");
    parsed_free(&p);
    p = parse(NULL, "{\"newTag\":\"v4\"}");
    ck_assert_int_eq(p.rc, 0);
    ck_assert_str_eq(p.o.new_tag, "v4");
    parsed_free(&p);
    p = parse("application/vnd.trigger+json", "{\"newTag\":\"v5\"}");
    ck_assert_int_eq(p.rc, 0);
    ck_assert_str_eq(p.o.new_tag, "v5");
    parsed_free(&p);
    /* The exact spelling wins over a folded one, wherever it stands. */
    p = parse("application/json", "{\"newTag\":\"exact\",\"NewTag\":\"folded\"}");
    ck_assert_str_eq(p.o.new_tag, "exact");
    parsed_free(&p);
    /* null leaves a field unset; the literal null is an empty body. */
    p = parse("application/json", "{\"newTag\":null}");
    ck_assert_int_eq(p.rc, 0);
    ck_assert_ptr_null(p.o.new_tag);
    parsed_free(&p);
    p = parse("application/json", "null");
    ck_assert_int_eq(p.rc, 0);
    parsed_free(&p);
}
END_TEST

START_TEST(test_body_json_errors_are_400)
{
    const char *bad[] = {"{\"newTag\":", "{\"newTag\":1}", "{\"newRevisionId\":{}}",
                         "[1,2]",        "\"v2\"",         "{} {}",
                         "newTag=v2"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++) {
        parsed_t p = parse("application/json", bad[i]);
        ck_assert_msg(p.rc == 400, "%s: %d", bad[i], p.rc);
        ck_assert_ptr_null(p.o.new_tag);
        parsed_free(&p);
    }
    parsed_t p = parse("application/json", "{\"newTag\":true}");
    ck_assert_str_eq(p.err, "newTag: expected string");
    parsed_free(&p);
}
END_TEST

START_TEST(test_body_form_sets_overrides)
{
    parsed_t p = parse("application/x-www-form-urlencoded",
                       "newTag=v2.1&newRevisionId=feature%2Flogin&other=x&newSourceURL=a+b%20c");
    ck_assert_int_eq(p.rc, 0);
    ck_assert_str_eq(p.o.new_tag, "v2.1");
    ck_assert_str_eq(p.o.new_revision_id, "feature/login");
    ck_assert_str_eq(p.o.new_source_url, "a b c");
    parsed_free(&p);
    p = parse("application/x-www-form-urlencoded; charset=UTF-8", "other=1");
    ck_assert_int_eq(p.rc, 0);
    ck_assert_ptr_null(p.o.new_tag);
    parsed_free(&p);
}
END_TEST

START_TEST(test_body_of_another_media_type_is_415)
{
    parsed_t p = parse("text/plain", "newTag=v2");
    ck_assert_int_eq(p.rc, 415);
    parsed_free(&p);
    p = parse("application/xml", "<newTag>v2</newTag>");
    ck_assert_int_eq(p.rc, 415);
    parsed_free(&p);
}
END_TEST

START_TEST(test_form_value_decodes_and_finds_first)
{
    const char *body = "a=1&payload=%7B%22x%22%3A1%7D&flag&empty=&a=2&bad=%zz%4";
    size_t len = strlen(body);
    char *v = httpapi_form_value(body, len, "a");
    ck_assert_str_eq(v, "1");
    free(v);
    v = httpapi_form_value(body, len, "payload");
    ck_assert_str_eq(v, "{\"x\":1}");
    free(v);
    v = httpapi_form_value(body, len, "flag");
    ck_assert_str_eq(v, "");
    free(v);
    v = httpapi_form_value(body, len, "empty");
    ck_assert_str_eq(v, "");
    free(v);
    v = httpapi_form_value(body, len, "bad");
    ck_assert_str_eq(v, "%zz%4");
    free(v);
    ck_assert_ptr_null(httpapi_form_value(body, len, "missing"));
    ck_assert_ptr_null(httpapi_form_value(body, len, "pay"));
    /* Only len bytes count. */
    ck_assert_ptr_null(httpapi_form_value("a=1&b=2", 3, "b"));
}
END_TEST

/* ---- run names --------------------------------------------------------------------------- */

START_TEST(test_generate_name_fits_63_with_the_servers_suffix)
{
    char out[64];
    httpapi_generate_name("java-demo", out);
    ck_assert_str_eq(out, "java-demo-");
    /* The console's builder names reach 64 characters. */
    const char *long_name = "registry-example-com-team-project-service-name-latest-abcdef-x1z";
    ck_assert_uint_eq(strlen(long_name), 64);
    httpapi_generate_name(long_name, out);
    ck_assert_uint_eq(strlen(out) + 5, 63);
    ck_assert(strncmp(out, long_name, 57) == 0);
    ck_assert_int_eq(out[57], '-');
    /* A cut that ends in '-' or '.' would give "a--xxxxx" or "a.-xxxxx": trimmed. */
    char name[80];
    memset(name, 'a', 56);
    strcpy(name + 56, "-bcdef");
    httpapi_generate_name(name, out);
    ck_assert_uint_eq(strlen(out), 57);
    ck_assert_int_eq(out[55], 'a');
    ck_assert_int_eq(out[56], '-');
    memset(name, 'b', 55);
    strcpy(name + 55, ".-cdef");
    httpapi_generate_name(name, out);
    ck_assert_uint_eq(strlen(out), 56);
    ck_assert_int_eq(out[54], 'b');
    ck_assert_int_eq(out[55], '-');
    /* Exactly 57: kept whole. */
    memset(name, 'c', 57);
    name[57] = '\0';
    httpapi_generate_name(name, out);
    ck_assert_uint_eq(strlen(out), 58);
}
END_TEST

/* ---- rate buckets ------------------------------------------------------------------------ */

START_TEST(test_bucket_allows_burst_then_one_per_interval)
{
    httpapi_bucket_t b;
    httpapi_bucket_init(&b, 3, 100);
    for (int i = 0; i < 3; i++)
        ck_assert(httpapi_bucket_take(&b, 0.1, 3, 100) == 0);
    /* Empty: the next token comes in 10 s at 0.1/s, and nothing is taken meanwhile. */
    ck_assert_double_eq_tol(httpapi_bucket_take(&b, 0.1, 3, 100), 10, 1e-9);
    ck_assert_double_eq_tol(httpapi_bucket_take(&b, 0.1, 3, 104), 6, 1e-9);
    ck_assert(httpapi_bucket_take(&b, 0.1, 3, 110) == 0);
    ck_assert(httpapi_bucket_take(&b, 0.1, 3, 110) > 0);
    /* A long pause refills to the burst, no more. */
    for (int i = 0; i < 3; i++)
        ck_assert(httpapi_bucket_take(&b, 0.1, 3, 10000) == 0);
    ck_assert(httpapi_bucket_take(&b, 0.1, 3, 10000) > 0);
    /* A clock that goes back refills nothing. */
    ck_assert(httpapi_bucket_take(&b, 0.1, 3, 50) > 0);
}
END_TEST

/* ---- paths ------------------------------------------------------------------------------- */

static void ck_pod_path(const char *path, const char *ns, const char *pod)
{
    char *got_ns, *got_pod;
    bool ok = httpapi_parse_pod_path(path, &got_ns, &got_pod);
    if (!ns) {
        ck_assert_msg(!ok, "%s parsed", path);
        ck_assert_ptr_null(got_ns);
        ck_assert_ptr_null(got_pod);
        return;
    }
    ck_assert_msg(ok, "%s did not parse", path);
    ck_assert_str_eq(got_ns, ns);
    ck_assert_str_eq(got_pod, pod);
    free(got_ns);
    free(got_pod);
}

START_TEST(test_pod_path_takes_any_prefix_and_a_trailing_slash)
{
    ck_pod_path("/kapis/logging.kubesphere.io/v1alpha2/namespaces/dev/pods/java-1-abc-job-x7k2p",
                "dev", "java-1-abc-job-x7k2p");
    ck_pod_path("/namespaces/dev/pods/p1", "dev", "p1");
    ck_pod_path("/namespaces/dev/pods/p1/", "dev", "p1");
    ck_pod_path("/a/b/c/namespaces/n/pods/p", "n", "p");
    ck_pod_path("/namespaces/namespaces/pods/pods", "namespaces", "pods");
    ck_pod_path("/namespaces/dev/pods/", NULL, NULL);
    ck_pod_path("/namespaces//pods/p1", NULL, NULL);
    ck_pod_path("/namespaces/dev/pods/p1/log", NULL, NULL);
    ck_pod_path("/namespaces/dev/pod/p1", NULL, NULL);
    ck_pod_path("/namespace/dev/pods/p1", NULL, NULL);
    ck_pod_path("/xnamespaces/dev/pods/p1", NULL, NULL);
    ck_pod_path("namespaces/dev/pods/p1", NULL, NULL);
    ck_pod_path("/pods/p1", NULL, NULL);
    ck_pod_path("/", NULL, NULL);
    ck_pod_path("", NULL, NULL);
    ck_pod_path(NULL, NULL, NULL);
}
END_TEST

START_TEST(test_log_url_pod_as_the_console_reads_it)
{
    char *pod = httpapi_log_url_pod("http://ks-apigateway.kubesphere-system.svc/kapis/"
                                    "logging.kubesphere.io/v1alpha2/namespaces/dev/pods/"
                                    "java-1-abc-job-x7k2p?operation=query");
    ck_assert_str_eq(pod, "java-1-abc-job-x7k2p");
    free(pod);
    pod = httpapi_log_url_pod("http://s2i.svc/namespaces/dev/pods/p1");
    ck_assert_str_eq(pod, "p1");
    free(pod);
    ck_assert_ptr_null(httpapi_log_url_pod("http://s2i.svc/namespaces/dev/pods/"));
    ck_assert_ptr_null(httpapi_log_url_pod("http://s2i.svc/"));
    ck_assert_ptr_null(httpapi_log_url_pod(NULL));
}
END_TEST

START_TEST(test_follow_flag_values)
{
    ck_assert(httpapi_query_true("true"));
    ck_assert(httpapi_query_true("TRUE"));
    ck_assert(httpapi_query_true("1"));
    ck_assert(httpapi_query_true(""));
    ck_assert(httpapi_query_true("yes"));
    ck_assert(!httpapi_query_true("false"));
    ck_assert(!httpapi_query_true("0"));
    ck_assert(!httpapi_query_true(NULL));
}
END_TEST

/* ---- pods -------------------------------------------------------------------------------- */

static const char *POD_JSON =
    "{\"metadata\":{\"name\":\"r-job-x\",\"labels\":{\"devops.kubesphere.io/s2ir\":\"r\"}},"
    "\"spec\":{\"initContainers\":[{\"name\":\"prepare\"},{\"name\":\"build\"}],"
    "\"containers\":[{\"name\":\"runtime\"}]},"
    "\"status\":{\"phase\":\"Running\","
    "\"initContainerStatuses\":[{\"name\":\"prepare\",\"state\":{\"terminated\":{\"exitCode\":0}}},"
    "{\"name\":\"build\",\"state\":{\"running\":{}}}],"
    "\"containerStatuses\":[{\"name\":\"runtime\",\"state\":{\"waiting\":{\"reason\":"
    "\"PodInitializing\"}}}]}}";

START_TEST(test_pod_containers_in_execution_order_with_states)
{
    json_object *pod = json_tokener_parse(POD_JSON);
    ck_assert_ptr_nonnull(pod);
    const char **names;
    size_t n;
    ck_assert_int_eq(httpapi_pod_containers(pod, &names, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(names[0], "prepare");
    ck_assert_str_eq(names[1], "build");
    ck_assert_str_eq(names[2], "runtime");
    free(names);
    const char *reason;
    ck_assert_int_eq(httpapi_container_state(pod, "prepare", &reason),
                     HTTPAPI_CONTAINER_TERMINATED);
    ck_assert_int_eq(httpapi_container_state(pod, "build", &reason), HTTPAPI_CONTAINER_RUNNING);
    ck_assert_int_eq(httpapi_container_state(pod, "runtime", &reason), HTTPAPI_CONTAINER_WAITING);
    ck_assert_str_eq(reason, "PodInitializing");
    ck_assert_int_eq(httpapi_container_state(pod, "other", &reason), HTTPAPI_CONTAINER_WAITING);
    ck_assert_ptr_null(reason);
    ck_assert(!httpapi_pod_finished(pod));
    ck_assert_str_eq(httpapi_label(pod, "devops.kubesphere.io/s2ir"), "r");
    ck_assert_ptr_null(httpapi_label(pod, "missing"));
    json_object_put(pod);

    pod = json_tokener_parse("{\"spec\":{},\"status\":{\"phase\":\"Failed\"}}");
    ck_assert_int_eq(httpapi_pod_containers(pod, &names, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert(httpapi_pod_finished(pod));
    json_object_put(pod);
}
END_TEST

/* ---- routes -------------------------------------------------------------------------------
 * The routes on a real listener, with a client whose API server does not answer: what
 * reaches a handler then says so by its status (503 for a lookup, 401 before any lookup,
 * 400 before any lookup), what does not is the router's 404/405. */

static const char *DEAD_KUBECONFIG =
    "apiVersion: v1\nkind: Config\ncurrent-context: dead\n"
    "clusters: [{name: dead, cluster: {server: 'http://127.0.0.1:1'}}]\n"
    "users: [{name: u, user: {token: t}}]\n"
    "contexts: [{name: dead, context: {cluster: dead, user: u}}]\n";

typedef struct routed {
    kube_config_t *config;
    kube_client_t *client;
    server_t *srv;
    httpapi_t *api;
    int port;
} routed_t;

static void routed_start(routed_t *r)
{
    char *err = NULL;
    ck_assert_msg(kube_config_parse(DEAD_KUBECONFIG, strlen(DEAD_KUBECONFIG), NULL, NULL,
                                    &r->config, &err) == 0,
                  "%s", err);
    kube_client_options_t co = {0};
    kube_client_options_default(&co);
    co.qps = 0;
    co.max_retries = 0;
    co.timeout = 5;
    co.connect_timeout = 2;
    ck_assert_int_eq(kube_client_new(r->config, &co, &r->client, &err), 0);
    r->srv = server_new(&(server_options_t){0});
    server_listener_t *l = server_add_listener(
        r->srv, &(server_listener_options_t){.name = "http", .address = "127.0.0.1:0"});
    ck_assert_ptr_nonnull(l);
    ck_assert_int_eq(httpapi_new(&(httpapi_options_t){.client = r->client}, &r->api), 0);
    ck_assert_int_eq(httpapi_register(r->api, l), 0);
    ck_assert_int_eq(server_start(r->srv), 0);
    r->port = server_listener_port(l);
}

static void routed_stop(routed_t *r)
{
    server_stop(r->srv, 1);
    httpapi_stop(r->api);
    server_free(r->srv);
    httpapi_free(r->api);
    kube_client_free(r->client);
    kube_config_free(r->config);
}

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    buf_append(arg, data, size * n);
    return size * n;
}

/* The status of one request; the body into *body when given. */
static long fetch(const routed_t *r, const char *method, const char *path, const char *header,
                  buf_t *body)
{
    CURL *h = curl_easy_init();
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", r->port, path);
    buf_t sink = BUF_INIT;
    struct curl_slist *hdrs = header ? curl_slist_append(NULL, header) : NULL;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, body ? body : &sink);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    long status = 0;
    ck_assert_int_eq(curl_easy_perform(h), CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    buf_free(&sink);
    return status;
}

START_TEST(test_routes_with_and_without_the_trailing_slash)
{
    routed_t r;
    routed_start(&r);
    const char *triggers[] = {"/s2itrigger/v1alpha1/general/namespaces/ns/s2ibuilders/b",
                              "/s2itrigger/v1alpha1/general/namespaces/ns/s2ibuilders/b/",
                              "/s2itrigger/v1alpha1/general/namespaces/ns/s2ibuilders/b/"
                              "?secretCode=abc",
                              "/s2itrigger/v1alpha1/gitlab/namespaces/ns/s2ibuilders/b/"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(triggers); i++) {
        const char *method = strstr(triggers[i], "gitlab") ? "POST" : i % 2 ? "GET" : "POST";
        buf_t body = BUF_INIT;
        ck_assert_int_eq(fetch(&r, method, triggers[i], NULL, &body), 503);
        ck_assert_msg(strstr(buf_str(&body), "cannot be read now"), "%s", buf_str(&body));
        buf_free(&body);
    }
    /* GitHub: a request that is not a webhook is refused before any lookup. */
    ck_assert_int_eq(
        fetch(&r, "POST", "/s2itrigger/v1alpha1/github/namespaces/ns/s2ibuilders/b/", NULL, NULL),
        400);
    ck_assert_int_eq(
        fetch(&r, "GET", "/s2itrigger/v1alpha1/github/namespaces/ns/s2ibuilders/b", NULL, NULL),
        405);
    ck_assert_int_eq(
        fetch(&r, "PUT", "/s2itrigger/v1alpha1/general/namespaces/ns/s2ibuilders/b", NULL, NULL),
        405);
    /* Logs want a token before anything else. */
    const char *logs[] = {"/logs/namespaces/ns/s2iruns/r", "/logs/namespaces/ns/s2iruns/r/",
                          "/logs/namespaces/ns/s2iruns/r?follow=true",
                          "/kapis/logging.kubesphere.io/v1alpha2/namespaces/ns/pods/p"
                          "?operation=query",
                          "/namespaces/ns/pods/p/"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(logs); i++)
        ck_assert_msg(fetch(&r, "GET", logs[i], NULL, NULL) == 401, "%s", logs[i]);
    /* A token that cannot be reviewed (no API server): 503, not a guess. */
    ck_assert_int_eq(
        fetch(&r, "GET", "/logs/namespaces/ns/s2iruns/r", "Authorization: Bearer x", NULL), 503);
    /* Other shapes are not ours. */
    const char *others[] = {"/s2itrigger/v1alpha1/general/namespaces/ns/s2ibuilders",
                            "/s2itrigger/v1alpha1/general/namespaces/ns/s2ibuilders/b/x",
                            "/s2itrigger/v1alpha1/bitbucket/namespaces/ns/s2ibuilders/b",
                            "/logs/namespaces/ns/s2iruns",
                            "/namespaces/ns/pods/p/log",
                            "/"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(others); i++)
        ck_assert_msg(fetch(&r, "GET", others[i], NULL, NULL) == 404, "%s", others[i]);
    routed_stop(&r);
}
END_TEST

START_TEST(test_httpapi_new_requires_a_client)
{
    httpapi_t *api = (httpapi_t *)1;
    ck_assert_int_eq(httpapi_new(&(httpapi_options_t){0}, &api), -1);
    ck_assert_ptr_null(api);
    ck_assert_int_eq(httpapi_new(NULL, &api), -1);
    httpapi_free(NULL);
}
END_TEST

static Suite *httpapi_suite(void)
{
    Suite *s = suite_create("httpapi");
    TCase *tc = tcase_create("pure");
    tcase_add_test(tc, test_github_signature_matches_the_documented_vector);
    tcase_add_test(tc, test_github_signature_rejects_wrong_missing_and_secretless);
    tcase_add_test(tc, test_secret_comparison_never_matches_empty);
    tcase_add_test(tc, test_branch_from_ref_takes_heads_only);
    tcase_add_test(tc, test_branch_matches_expression_unanchored_as_go);
    tcase_add_test(tc, test_branch_without_expression_must_equal_revision);
    tcase_add_test(tc, test_branch_expression_that_does_not_compile_is_an_error);
    tcase_add_test(tc, test_body_none_is_fine_with_any_content_type);
    tcase_add_test(tc, test_body_json_sets_overrides_as_gos_decoder);
    tcase_add_test(tc, test_body_json_errors_are_400);
    tcase_add_test(tc, test_body_form_sets_overrides);
    tcase_add_test(tc, test_body_of_another_media_type_is_415);
    tcase_add_test(tc, test_form_value_decodes_and_finds_first);
    tcase_add_test(tc, test_generate_name_fits_63_with_the_servers_suffix);
    tcase_add_test(tc, test_bucket_allows_burst_then_one_per_interval);
    tcase_add_test(tc, test_pod_path_takes_any_prefix_and_a_trailing_slash);
    tcase_add_test(tc, test_log_url_pod_as_the_console_reads_it);
    tcase_add_test(tc, test_follow_flag_values);
    tcase_add_test(tc, test_pod_containers_in_execution_order_with_states);
    tcase_add_test(tc, test_httpapi_new_requires_a_client);
    suite_add_tcase(s, tc);
    TCase *routes = tcase_create("routes");
    tcase_set_timeout(routes, 60);
    tcase_add_test(routes, test_routes_with_and_without_the_trailing_slash);
    suite_add_tcase(s, routes);
    return s;
}

/* ---- the e2e test server ------------------------------------------------------------------ */

typedef struct serve_flags {
    const char *kubeconfig;
    const char *address;
    const char *port_file;
    const char *builder_image;
    const char *log_url_base;
    bool controllers;
    httpapi_options_t api;
} serve_flags_t;

static int parse_serve_flags(int argc, char **argv, serve_flags_t *f)
{
    static const struct option opts[] = {
        {"kubeconfig", required_argument, NULL, 'k'},
        {"address", required_argument, NULL, 'a'},
        {"port-file", required_argument, NULL, 'p'},
        {"controllers", no_argument, NULL, 'c'},
        {"builder-image", required_argument, NULL, 'b'},
        {"log-url-base", required_argument, NULL, 'u'},
        {"trigger-rate", required_argument, NULL, 'r'},
        {"trigger-burst", required_argument, NULL, 'B'},
        {"poll-interval", required_argument, NULL, 'i'},
        {"max-log-streams", required_argument, NULL, 'm'},
        {"auth-cache-ttl", required_argument, NULL, 't'},
        {"v", required_argument, NULL, 'v'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "v:", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            f->kubeconfig = optarg;
            break;
        case 'a':
            f->address = optarg;
            break;
        case 'p':
            f->port_file = optarg;
            break;
        case 'c':
            f->controllers = true;
            break;
        case 'b':
            f->builder_image = optarg;
            break;
        case 'u':
            f->log_url_base = optarg;
            break;
        case 'r':
            f->api.trigger_rate = atof(optarg);
            break;
        case 'B':
            f->api.trigger_burst = atoi(optarg);
            break;
        case 'i':
            f->api.log_poll_interval = atof(optarg);
            break;
        case 'm':
            f->api.max_log_streams = atoi(optarg);
            break;
        case 't':
            f->api.auth_cache_ttl = atof(optarg);
            break;
        case 'v':
            log_set_verbosity(atoi(optarg));
            break;
        default:
            return -1;
        }
    }
    return f->kubeconfig ? 0 : -1;
}

static int serve(int argc, char **argv)
{
    serve_flags_t f = {.address = "127.0.0.1:0", .builder_image = "e2e.local/s2i-prepare:test"};
    if (parse_serve_flags(argc, argv, &f) < 0) {
        fprintf(stderr, "usage: test_httpapi serve --kubeconfig K [--address A] [--port-file F] "
                        "[--controllers --builder-image I] [--trigger-rate R] [--trigger-burst N] "
                        "[--poll-interval S] [--max-log-streams N] [--auth-cache-ttl S]\n");
        return 2;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    kube_config_t *config = NULL;
    kube_client_t *client = NULL;
    controller_manager_t *mgr = NULL;
    metrics_registry_t *reg = metrics_registry_new();
    server_t *srv = NULL;
    httpapi_t *api = NULL;
    char *err = NULL;
    int rc = 1;
    kube_client_options_t co = {0};
    kube_client_options_default(&co);
    co.qps = 0;
    if (kube_config_load_file(f.kubeconfig, NULL, &config, &err) < 0 ||
        kube_client_new(config, &co, &client, &err) < 0) {
        fprintf(stderr, "serve: %s\n", err ? err : "no client");
        goto out;
    }
    if (f.controllers) {
        controller_options_t o = {.builder_image = f.builder_image,
                                  .log_url_base = f.log_url_base,
                                  .builder_status_interval = 0.2,
                                  .run_status_interval = 0.5,
                                  .instance = "test-httpapi"};
        if (controller_manager_new(client, &o, &mgr) < 0 || controller_manager_start(mgr) < 0 ||
            !controller_manager_wait_for_sync(mgr, 30) || controller_manager_run(mgr) < 0) {
            fprintf(stderr, "serve: the controllers did not start\n");
            goto out;
        }
    }
    f.api.client = client;
    f.api.manager = mgr;
    f.api.metrics = reg;
    srv = server_new(&(server_options_t){.metrics = reg});
    server_listener_t *l =
        srv ? server_add_listener(
                  srv,
                  &(server_listener_options_t){.name = "http", .address = f.address, .workers = 4})
            : NULL;
    if (!l || server_add_metrics(l, reg) < 0 || httpapi_new(&f.api, &api) < 0 ||
        httpapi_register(api, l) < 0 || server_start(srv) < 0) {
        fprintf(stderr, "serve: the server did not start\n");
        goto out;
    }
    printf("test_httpapi serving on port %d\n", server_listener_port(l));
    fflush(stdout);
    if (f.port_file) {
        FILE *pf = fopen(f.port_file, "w");
        if (pf) {
            fprintf(pf, "%d\n", server_listener_port(l));
            fclose(pf);
        }
    }
    int sig;
    sigwait(&set, &sig);
    rc = 0;
out:
    if (srv)
        server_stop(srv, 5);
    httpapi_stop(api);
    server_free(srv);
    httpapi_free(api);
    if (mgr)
        controller_manager_stop(mgr);
    controller_manager_free(mgr);
    kube_client_free(client);
    kube_config_free(config);
    metrics_registry_free(reg);
    free(err);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "serve") == 0)
        return serve(argc - 1, argv + 1);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    SRunner *sr = srunner_create(httpapi_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    curl_global_cleanup();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

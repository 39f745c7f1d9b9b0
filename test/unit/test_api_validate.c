/*
 * Unit tests for pkg/api's webhook logic: the builder's defaulting, the validation of
 * builders, runs and templates with upstream's exact error texts (pkg/errors and the
 * apimachinery aggregate), and template parameters turned into environment variables.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "util/util.h"

#define TESTDATA "test/unit/testdata/api/"

/* ---- helpers ---------------------------------------------------------------------------- */

static json_object *load(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, TESTDATA "%s", name);
    json_object *obj = json_object_from_file(path);
    ck_assert_msg(obj != NULL, "cannot read %s", path);
    return obj;
}

static api_s2ibuilder_t *builder_from(const char *json)
{
    json_object *obj = json_tokener_parse(json);
    ck_assert_ptr_nonnull(obj);
    api_s2ibuilder_t *b = NULL;
    char *err = NULL;
    ck_assert_msg(api_s2ibuilder_decode(obj, &b, &err) == 0, "%s", err);
    json_object_put(obj);
    return b;
}

static api_s2ibuilder_t *builder_file(const char *name)
{
    json_object *obj = load(name);
    api_s2ibuilder_t *b = NULL;
    ck_assert_int_eq(api_s2ibuilder_decode(obj, &b, NULL), 0);
    json_object_put(obj);
    return b;
}

static api_s2irun_t *run_from(const char *json)
{
    json_object *obj = json_tokener_parse(json);
    ck_assert_ptr_nonnull(obj);
    api_s2irun_t *r = NULL;
    char *err = NULL;
    ck_assert_msg(api_s2irun_decode(obj, &r, &err) == 0, "%s", err);
    json_object_put(obj);
    return r;
}

static api_s2ibuilder_template_t *template_file(void)
{
    json_object *obj = load("template.json");
    api_s2ibuilder_template_t *t = NULL;
    ck_assert_int_eq(api_s2ibuilder_template_decode(obj, &t, NULL), 0);
    json_object_put(obj);
    return t;
}

/* A valid S2I config as the console writes it, to break one field at a time. */
#define VALID_CONFIG                                                                               \
    "\"sourceUrl\": \"https://github.com/kubesphere/devops-java-sample.git\", "                    \
    "\"imageName\": \"kubesphere/hello-java\", \"builderImage\": "                                 \
    "\"kubesphere/java-8-centos7:v2.1.0\", \"builderPullPolicy\": \"if-not-present\""

/* Validates and checks the aggregated message ("" = valid). */
static void expect_builder(const api_s2ibuilder_t *b, const api_s2ibuilder_template_t *tmpl,
                           const char *want)
{
    api_errors_t errs;
    api_errors_init(&errs);
    int n = api_s2ibuilder_validate(b, tmpl, &errs);
    ck_assert_int_eq((size_t)n, errs.len);
    char *message = api_errors_message(&errs);
    ck_assert_str_eq(message, want);
    free(message);
    api_errors_clear(&errs);
}

static void expect_builder_json(const char *json, const char *want)
{
    api_s2ibuilder_t *b = builder_from(json);
    expect_builder(b, NULL, want);
    api_s2ibuilder_free(b);
}

static void expect_run(const api_s2irun_t *run, const api_s2irun_t *old,
                       const api_s2ibuilder_t *builder, const char *want, const char *field)
{
    api_errors_t errs;
    api_errors_init(&errs);
    int n = api_s2irun_validate(run, old, builder, &errs);
    ck_assert_int_eq((size_t)n, errs.len);
    char *message = api_errors_message(&errs);
    ck_assert_str_eq(message, want);
    if (field)
        ck_assert_str_eq(errs.items[0].field, field);
    free(message);
    api_errors_clear(&errs);
}

static void expect_template(const api_s2ibuilder_template_t *t, const char *want, const char *field)
{
    api_errors_t errs;
    api_errors_init(&errs);
    int n = api_s2ibuilder_template_validate(t, &errs);
    ck_assert_int_eq((size_t)n, errs.len);
    char *message = api_errors_message(&errs);
    ck_assert_str_eq(message, want);
    if (field)
        ck_assert_str_eq(errs.items[0].field, field);
    free(message);
    api_errors_clear(&errs);
}

/* ---- defaulting ---------------------------------------------------------------------------- */

START_TEST(test_default_sets_master_and_latest_only_when_empty)
{
    api_s2ibuilder_t *b = builder_from("{\"spec\": {\"config\": {" VALID_CONFIG "}}}");
    ck_assert_int_eq(api_s2ibuilder_default(b), 0);
    ck_assert_str_eq(b->spec.config->revision_id, API_DEFAULT_REVISION_ID);
    ck_assert_str_eq(b->spec.config->tag, API_DEFAULT_TAG);
    api_s2ibuilder_free(b);

    b = builder_from("{\"spec\": {\"config\": {\"revisionId\": \"dev\", \"tag\": \"v1\"}}}");
    ck_assert_int_eq(api_s2ibuilder_default(b), 0);
    ck_assert_str_eq(b->spec.config->revision_id, "dev");
    ck_assert_str_eq(b->spec.config->tag, "v1");
    api_s2ibuilder_free(b);

    b = builder_from("{\"spec\": {\"config\": {\"revisionId\": \"\", \"tag\": \"\"}}}");
    ck_assert_int_eq(api_s2ibuilder_default(b), 0);
    ck_assert_str_eq(b->spec.config->revision_id, "master");
    ck_assert_str_eq(b->spec.config->tag, "latest");
    api_s2ibuilder_free(b);
}
END_TEST

START_TEST(test_builder_without_config_is_not_defaulted_but_rejected)
{
    api_s2ibuilder_t *b = builder_from("{\"metadata\": {\"name\": \"x\"}, \"spec\": {}}");
    ck_assert_int_eq(api_s2ibuilder_default(b), 0);
    ck_assert_ptr_null(b->spec.config);
    api_errors_t errs;
    api_errors_init(&errs);
    ck_assert_int_eq(api_s2ibuilder_validate(b, NULL, &errs), 1);
    ck_assert_str_eq(errs.items[0].field, "spec.config");
    ck_assert_str_eq(errs.items[0].message, "Required value not specified for \"config\"");
    api_errors_clear(&errs);
    api_s2ibuilder_free(b);
}
END_TEST

/* ---- S2iBuilder validation ------------------------------------------------------------------ */

START_TEST(test_builder_samples_are_valid)
{
    api_s2ibuilder_t *b = builder_file("builder.json");
    expect_builder(b, NULL, "");
    api_s2ibuilder_free(b);

    api_s2ibuilder_template_t *t = template_file();
    b = builder_file("builder_from_template.json");
    expect_builder(b, t, "");
    api_s2ibuilder_free(b);
    api_s2ibuilder_template_free(t);

    expect_builder_json("{\"spec\": {\"config\": {" VALID_CONFIG "}}}", "");
}
END_TEST

START_TEST(test_builder_config_errors_are_aggregated_in_upstream_order)
{
    api_s2ibuilder_t *b = builder_from("{\"spec\": {\"config\": {\"imageName\": \"x\"}}}");
    api_errors_t errs;
    api_errors_init(&errs);
    ck_assert_int_eq(api_s2ibuilder_validate(b, NULL, &errs), 3);
    ck_assert_str_eq(errs.items[0].field, "spec.config.sourceUrl");
    ck_assert_str_eq(errs.items[0].message, "Required value not specified for \"sourceUrl\"");
    ck_assert_str_eq(errs.items[1].field, "spec.config.builderImage");
    ck_assert_str_eq(errs.items[2].field, "spec.config.builderPullPolicy");
    char *message = api_errors_message(&errs);
    ck_assert_str_eq(message, "[Required value not specified for \"sourceUrl\", Required value "
                              "not specified for \"builderImage\", Invalid value specified for "
                              "\"builderPullPolicy\"]");
    free(message);
    api_errors_clear(&errs);
    api_s2ibuilder_free(b);
}
END_TEST

START_TEST(test_builder_source_url_optional_for_b2i)
{
    expect_builder_json("{\"spec\": {\"config\": {\"isBinaryURL\": true, \"imageName\": \"x\", "
                        "\"builderImage\": \"kubesphere/tomcat85-java11-centos7\", "
                        "\"builderPullPolicy\": \"always\"}}}",
                        "");
}
END_TEST

START_TEST(test_builder_pull_policy_must_be_one_of_three_and_not_empty)
{
    const char *good[] = {"always", "never", "if-not-present"};
    char json[512];
    for (size_t i = 0; i < UTIL_ARRAY_LEN(good); i++) {
        snprintf(json, sizeof json,
                 "{\"spec\": {\"config\": {\"sourceUrl\": \"s\", \"builderImage\": \"b\", "
                 "\"builderPullPolicy\": \"%s\"}}}",
                 good[i]);
        expect_builder_json(json, "");
    }
    const char *bad[] = {"", "Always", "IfNotPresent"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++) {
        snprintf(json, sizeof json,
                 "{\"spec\": {\"config\": {\"sourceUrl\": \"s\", \"builderImage\": \"b\", "
                 "\"builderPullPolicy\": \"%s\"}}}",
                 bad[i]);
        expect_builder_json(json, "Invalid value specified for \"builderPullPolicy\"");
    }
}
END_TEST

START_TEST(test_builder_docker_network_mode)
{
    const char *good[] = {"bridge", "host", "container:web", "netns:/proc/1/ns/net", ""};
    const char *bad[] = {"none", "Host", "container", "bridge "};
    char json[512];
    for (size_t i = 0; i < UTIL_ARRAY_LEN(good) + UTIL_ARRAY_LEN(bad); i++) {
        bool ok = i < UTIL_ARRAY_LEN(good);
        snprintf(json, sizeof json,
                 "{\"spec\": {\"config\": {" VALID_CONFIG ", \"dockerNetworkMode\": \"%s\"}}}",
                 ok ? good[i] : bad[i - UTIL_ARRAY_LEN(good)]);
        expect_builder_json(json, ok ? "" : "Invalid value specified for \"dockerNetworkMode\"");
    }
}
END_TEST

START_TEST(test_builder_label_keys_must_not_be_empty)
{
    expect_builder_json("{\"spec\": {\"config\": {" VALID_CONFIG
                        ", \"labels\": {\"app\": \"x\", \"\": \"y\"}}}}",
                        "Invalid value specified for \"labels\"");
    expect_builder_json("{\"spec\": {\"config\": {" VALID_CONFIG ", \"labels\": {}}}}", "");
}
END_TEST

START_TEST(test_builder_image_must_be_a_docker_reference)
{
    expect_builder_json("{\"spec\": {\"config\": {\"sourceUrl\": \"s\", \"builderImage\": "
                        "\"Kubesphere/Java\", \"builderPullPolicy\": \"always\"}}}",
                        "Invalid value specified for \"builderImage\": repository name must be "
                        "lowercase");
    expect_builder_json("{\"spec\": {\"config\": {\"sourceUrl\": \"s\", \"builderImage\": "
                        "\"java:8:9\", \"builderPullPolicy\": \"always\"}}}",
                        "Invalid value specified for \"builderImage\": invalid reference format");
    expect_builder_json("{\"spec\": {\"config\": {\"sourceUrl\": \"s\", \"builderImage\": "
                        "\"harbor.example.com:8443/lib/java@sha256:"
                        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\", "
                        "\"builderPullPolicy\": \"always\"}}}",
                        "");
}
END_TEST

START_TEST(test_builder_each_authentication_needs_secret_or_credentials)
{
    static const struct {
        const char *key, *name;
    } auths[] = {
        {"runtimeAuthentication", "RuntimeAuthentication"},
        {"incrementalAuthentication", "IncrementalAuthentication"},
        {"pullAuthentication", "PullAuthentication"},
        {"pushAuthentication", "PushAuthentication"},
    };
    char json[1024], want[256];
    for (size_t i = 0; i < UTIL_ARRAY_LEN(auths); i++) {
        snprintf(json, sizeof json,
                 "{\"spec\": {\"config\": {" VALID_CONFIG ", \"%s\": {\"email\": \"a@b\"}}}}",
                 auths[i].key);
        snprintf(want, sizeof want,
                 "Required value not specified for \"%s username|password / secretRef\"",
                 auths[i].name);
        expect_builder_json(json, want);
        snprintf(json, sizeof json,
                 "{\"spec\": {\"config\": {" VALID_CONFIG ", \"%s\": {\"username\": \"u\"}}}}",
                 auths[i].key);
        expect_builder_json(json, "");
        snprintf(json, sizeof json,
                 "{\"spec\": {\"config\": {" VALID_CONFIG ", \"%s\": {\"secretRef\": {}}}}}",
                 auths[i].key);
        expect_builder_json(json, "");
    }
    expect_builder_json("{\"spec\": {\"config\": {" VALID_CONFIG
                        ", \"pullAuthentication\": {}, \"pushAuthentication\": {}}}}",
                        "[Required value not specified for \"PullAuthentication "
                        "username|password / secretRef\", Required value not specified for "
                        "\"PushAuthentication username|password / secretRef\"]");
}
END_TEST

START_TEST(test_builder_from_template_checks_end_validation)
{
    api_s2ibuilder_template_t *t = template_file();
    api_s2ibuilder_t *b = builder_file("builder_from_template.json");
    expect_builder(b, NULL,
                   "Template not found, pls check the template name  [python] or create a "
                   "template");

    /* A required parameter missing, or given without a value; config errors are not
     * reported then, as upstream returns first. */
    ck_assert_int_eq(api_set_string(&b->spec.from_template->parameters[0].value, ""), 0);
    ck_assert_int_eq(api_set_string(&b->spec.config->builder_pull_policy, "sometimes"), 0);
    expect_builder(b, t, "Required value not specified for \"Parameter:APP_FILE\"");
    ck_assert_int_eq(api_set_string(&b->spec.from_template->parameters[0].key, "OTHER"), 0);
    expect_builder(b, t, "Required value not specified for \"Parameter:APP_FILE\"");
    ck_assert_int_eq(api_set_string(&t->spec.parameters[1].key, "NEEDED\"TOO"), 0);
    t->spec.parameters[1].required = true;
    expect_builder(b, t,
                   "[Required value not specified for \"Parameter:APP_FILE\", Required value not "
                   "specified for \"Parameter:NEEDED\\\"TOO\"]");
    t->spec.parameters[1].required = false;
    ck_assert_int_eq(api_set_string(&b->spec.from_template->parameters[0].key, "APP_FILE"), 0);
    ck_assert_int_eq(api_set_string(&b->spec.from_template->parameters[0].value, "app.py"), 0);

    /* The chosen builder image must be one of the template's. */
    ck_assert_int_eq(api_set_string(&b->spec.from_template->builder_image, "kubesphere/other"), 0);
    expect_builder(b, t,
                   "builder's baseImage [kubesphere/other] not in builder baseImages "
                   "[[kubesphere/python-27-centos7:v2.1.0 kubesphere/python-36-centos7:v2.1.0 "
                   "kubesphere/python-36-centos7-runtime:v2.1.0]]");
    api_errors_t errs;
    api_errors_init(&errs);
    ck_assert_int_eq(api_s2ibuilder_validate(b, t, &errs), 1);
    ck_assert_str_eq(errs.items[0].field, "spec.fromTemplate.builderImage");
    api_errors_clear(&errs);

    /* Then config validation runs, without requiring a builder image. */
    ck_assert_int_eq(api_set_string(&b->spec.from_template->builder_image, NULL), 0);
    expect_builder(b, t, "Invalid value specified for \"builderPullPolicy\"");
    api_s2ibuilder_free(b);
    api_s2ibuilder_template_free(t);
}
END_TEST

START_TEST(test_builder_autoscale_annotation)
{
    api_s2ibuilder_t *b = builder_from("{\"spec\": {\"config\": {" VALID_CONFIG "}}}");
    const char *ok[] = {
        "[{\"Kind\": \"Deployment\",\"Name\":\"python-s2i\",\"initReplicas\":3},"
        "{\"Kind\":\"StatefulSet\",\"Name\":\"python-s2i\"}]",
        "[{ \"Kind\": \"StatefulSet\", \"Name\": \"web\", \"initReplicas\": 1, \"container\": "
        "\"c\" }]",
        "[{\"kind\": \"Deployment\"}, {\"kind\": \"Job\"}]", /* only the first is checked */
        "[]",
        "null",
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(ok); i++) {
        ck_assert_int_eq(api_map_set(&b->metadata.annotations, API_ANNOTATION_AUTOSCALE, ok[i]), 0);
        expect_builder(b, NULL, "");
    }
    ck_assert_int_eq(api_map_set(&b->metadata.annotations, API_ANNOTATION_AUTOSCALE,
                                 "[{\"Kind\": \"DaemonSet\", \"Name\": \"agent\"}]"),
                     0);
    ck_assert_int_eq(api_set_string(&b->spec.config->builder_pull_policy, NULL), 0);
    /* The annotation error ends validation: the config's is not reported. */
    expect_builder(b, NULL,
                   "Invalid value specified for \"devops.kubesphere.io/autoscale\": unsupport "
                   "workload type [DaemonSet], name [agent]");
    api_errors_t errs;
    api_errors_init(&errs);
    ck_assert_int_eq(api_s2ibuilder_validate(b, NULL, &errs), 1);
    ck_assert_str_eq(errs.items[0].field, "metadata.annotations[devops.kubesphere.io/autoscale]");
    api_errors_clear(&errs);

    const char *bad[] = {"", "{\"Kind\": \"Deployment\"}", "[{\"Kind\": 7}]", "[{,}]"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++) {
        ck_assert_int_eq(api_map_set(&b->metadata.annotations, API_ANNOTATION_AUTOSCALE, bad[i]),
                         0);
        api_errors_init(&errs);
        ck_assert_int_eq(api_s2ibuilder_validate(b, NULL, &errs), 1);
        ck_assert_msg(util_has_prefix(errs.items[0].message,
                                      "Invalid value specified for "
                                      "\"devops.kubesphere.io/autoscale\": "),
                      "%s", errs.items[0].message);
        api_errors_clear(&errs);
    }
    api_s2ibuilder_free(b);
}
END_TEST

START_TEST(test_builder_additions_are_checked)
{
    expect_builder_json("{\"spec\": {\"config\": {" VALID_CONFIG
                        "}, \"successfulRunsHistoryLimit\": 0, \"failedRunsHistoryLimit\": 3, "
                        "\"runPolicy\": \"SerialLatestOnly\"}}",
                        "");
    expect_builder_json("{\"spec\": {\"config\": {" VALID_CONFIG
                        "}, \"successfulRunsHistoryLimit\": -2, \"runPolicy\": \"Sometimes\"}}",
                        "[Invalid value specified for \"successfulRunsHistoryLimit\": must be a "
                        "non-negative integer, Invalid value specified for \"runPolicy\": must be "
                        "one of Parallel, Serial, SerialLatestOnly]");
}
END_TEST

START_TEST(test_errors_message_drops_repeats_like_the_aggregate)
{
    api_errors_t errs;
    api_errors_init(&errs);
    char *message = api_errors_message(&errs);
    ck_assert_str_eq(message, "");
    free(message);
    api_s2ibuilder_t *b =
        builder_from("{\"spec\": {\"config\": {" VALID_CONFIG ", \"pushAuthentication\": {}}}}");
    ck_assert_int_eq(api_s2ibuilder_validate(b, NULL, &errs), 1);
    ck_assert_int_eq(api_s2ibuilder_validate(b, NULL, &errs), 1);
    ck_assert_uint_eq(errs.len, 2);
    message = api_errors_message(&errs);
    ck_assert_str_eq(message,
                     "Required value not specified for \"PushAuthentication username|password / "
                     "secretRef\"");
    free(message);
    api_errors_clear(&errs);
    api_s2ibuilder_free(b);
}
END_TEST

/* ---- S2iRun validation ------------------------------------------------------------------------
 */

START_TEST(test_run_new_source_url_only_for_b2i_builders)
{
    api_s2irun_t *run = run_from("{\"spec\": {\"builderName\": \"b\", \"newSourceURL\": "
                                 "\"https://example.com/app.war\"}}");
    api_s2ibuilder_t *s2i = builder_file("builder.json");
    api_s2ibuilder_t *b2i = builder_from("{\"spec\": {\"config\": {\"isBinaryURL\": true}}}");
    api_s2ibuilder_t *no_config = builder_from("{\"spec\": {}}");
    expect_run(run, NULL, s2i,
               "Invalid value specified for \"newSourceURL\": only b2i could set newSourceURL",
               "spec.newSourceURL");
    expect_run(run, NULL, no_config,
               "Invalid value specified for \"newSourceURL\": only b2i could set newSourceURL",
               NULL);
    expect_run(run, NULL, b2i, "", NULL);
    expect_run(run, NULL, NULL, "", NULL); /* builder not found: allowed */
    api_s2ibuilder_free(s2i);
    api_s2ibuilder_free(b2i);
    api_s2ibuilder_free(no_config);
    api_s2irun_free(run);
}
END_TEST

START_TEST(test_run_spec_is_immutable_once_started_except_cancelling)
{
    json_object *obj = load("run.json");
    api_s2irun_t *old = NULL, *run = NULL;
    ck_assert_int_eq(api_s2irun_decode(obj, &old, NULL), 0);
    ck_assert_int_eq(api_s2irun_decode(obj, &run, NULL), 0);
    json_object_put(obj);

    expect_run(run, old, NULL, "", NULL);
    ck_assert_int_eq(api_set_string(&run->status.run_state, API_RUN_STATE_FAILED), 0);
    ck_assert_int_eq(api_map_set(&run->metadata.labels, "x", "y"), 0);
    expect_run(run, old, NULL, "", NULL); /* status and metadata may change */

    ck_assert_int_eq(api_set_string(&run->spec.state, API_RUN_SPEC_STATE_CANCELLED), 0);
    expect_run(run, old, NULL, "", NULL);

    run->spec.backoff_limit = 5;
    expect_run(run, old, NULL,
               "Invalid value specified for \"spec\": should not change s2i run spec when job "
               "started",
               "spec");
    run->spec.backoff_limit = old->spec.backoff_limit;
    ck_assert_int_eq(api_set_string(&run->spec.timeout, "2h"), 0);
    expect_run(run, old, NULL,
               "Invalid value specified for \"spec\": should not change s2i run spec when job "
               "started",
               NULL);
    ck_assert_int_eq(api_set_string(&run->spec.timeout, old->spec.timeout), 0);

    /* Cancelled cannot be taken back. */
    ck_assert_int_eq(api_set_string(&old->spec.state, API_RUN_SPEC_STATE_CANCELLED), 0);
    ck_assert_int_eq(api_set_string(&run->spec.state, NULL), 0);
    expect_run(run, old, NULL,
               "Invalid value specified for \"spec\": should not change s2i run spec when job "
               "started",
               NULL);

    /* Before the job started anything goes. */
    ck_assert_int_eq(api_set_string(&old->status.run_state, NULL), 0);
    run->spec.backoff_limit = 9;
    expect_run(run, old, NULL, "", NULL);
    api_s2irun_free(run);
    api_s2irun_free(old);
}
END_TEST

START_TEST(test_run_new_tag_must_be_a_tag)
{
    static const struct {
        const char *tag, *want;
    } cases[] = {
        {"v1.2.3", ""},
        {"Latest_2026-11", ""},
        {"5000/foo", ""}, /* "validate:5000/foo" parses: upstream accepts it too */
        {"bad tag", "invalid reference format"},
        {"-leading", "invalid reference format"},
        {"a:b", "invalid reference format"},
        {"x@sha256:abc", "invalid reference format"},
        {"x@sha256:0123456789abcdef0123456789abcdef", "invalid checksum digest length"},
    };
    char json[512];
    for (size_t i = 0; i < UTIL_ARRAY_LEN(cases); i++) {
        snprintf(json, sizeof json, "{\"spec\": {\"builderName\": \"b\", \"newTag\": \"%s\"}}",
                 cases[i].tag);
        api_s2irun_t *run = run_from(json);
        expect_run(run, NULL, NULL, cases[i].want, *cases[i].want ? "spec.newTag" : NULL);
        api_s2irun_free(run);
    }
    char long_tag[200];
    memset(long_tag, 'a', 129);
    long_tag[129] = '\0';
    snprintf(json, sizeof json, "{\"spec\": {\"newTag\": \"%s\"}}", long_tag);
    api_s2irun_t *run = run_from(json);
    expect_run(run, NULL, NULL, "invalid reference format", NULL);
    api_s2irun_free(run);
}
END_TEST

START_TEST(test_run_additions_are_checked)
{
    api_s2irun_t *run = run_from("{\"spec\": {\"builderName\": \"b\", \"timeout\": \"90s\", "
                                 "\"pendingTimeout\": \"1h30m\", \"state\": \"Cancelled\"}}");
    expect_run(run, NULL, NULL, "", NULL);
    api_s2irun_free(run);
    run = run_from("{\"spec\": {\"builderName\": \"b\", \"timeout\": \"soon\", "
                   "\"pendingTimeout\": \"-5m\", \"state\": \"Running\"}}");
    expect_run(run, NULL, NULL,
               "[Invalid value specified for \"timeout\": must be a positive duration such as "
               "30m or 1h30m, Invalid value specified for \"pendingTimeout\": must be a positive "
               "duration such as 30m or 1h30m, Invalid value specified for \"state\": the only "
               "value allowed is Cancelled]",
               "spec.timeout");
    api_s2irun_free(run);
    run = run_from("{\"spec\": {\"timeout\": \"0\"}}");
    expect_run(run, NULL, NULL,
               "Invalid value specified for \"timeout\": must be a positive duration such as "
               "30m or 1h30m",
               NULL);
    api_s2irun_free(run);
}
END_TEST

/* ---- S2iBuilderTemplate validation --------------------------------------------------------------
 */

START_TEST(test_template_rules_in_upstream_order)
{
    api_s2ibuilder_template_t *t = template_file();
    expect_template(t, "", NULL);

    ck_assert_int_eq(api_set_string(&t->spec.container_info[1].builder_image, "bad image"), 0);
    ck_assert_int_eq(api_set_string(&t->spec.default_base_image, "bad image"), 0);
    expect_template(t, "Invalid value specified for \"builderImage\": invalid reference format",
                    "spec.containerInfo[1].builderImage");
    ck_assert_int_eq(api_set_string(&t->spec.container_info[1].builder_image, "Bad/Image"), 0);
    ck_assert_int_eq(api_set_string(&t->spec.default_base_image, "Bad/Image"), 0);
    expect_template(t,
                    "Invalid value specified for \"builderImage\": repository name must be "
                    "lowercase",
                    "spec.containerInfo[1].builderImage");

    ck_assert_int_eq(api_set_string(&t->spec.default_base_image, "kubesphere/missing"), 0);
    expect_template(t,
                    "Invalid value specified for \"defaultBaseImage\": defaultBaseImage "
                    "[kubesphere/missing] should in [[kubesphere/python-27-centos7:v2.1.0 "
                    "Bad/Image kubesphere/python-36-centos7-runtime:v2.1.0]]",
                    "spec.defaultBaseImage");

    ck_assert_int_eq(api_set_string(&t->spec.default_base_image, ""), 0);
    expect_template(t, "Required value not specified for \"defaultBaseImage\"",
                    "spec.defaultBaseImage");
    api_s2ibuilder_template_free(t);

    json_object *obj = json_tokener_parse("{\"metadata\": {\"name\": \"empty\"}, \"spec\": "
                                          "{\"defaultBaseImage\": \"x\"}}");
    ck_assert_int_eq(api_s2ibuilder_template_decode(obj, &t, NULL), 0);
    json_object_put(obj);
    expect_template(t, "Required value not specified for \"baseImages\"", "spec.containerInfo");
    api_s2ibuilder_template_free(t);
}
END_TEST

/* ---- template parameters --------------------------------------------------------------------- */

START_TEST(test_parameter_to_environment_value_then_default_else_skipped)
{
    api_parameter_t p = {.key = "JAVA_OPTS", .value = "-Xmx1g", .default_value = "-Xmx512m"};
    api_environment_spec_t env;
    ck_assert_int_eq(api_parameter_to_environment(&p, &env), 1);
    ck_assert_str_eq(env.name, "JAVA_OPTS");
    ck_assert_str_eq(env.value, "-Xmx1g");
    api_environment_spec_clear(&env);
    p.value = "";
    ck_assert_int_eq(api_parameter_to_environment(&p, &env), 1);
    ck_assert_str_eq(env.value, "-Xmx512m");
    api_environment_spec_clear(&env);
    p.default_value = NULL;
    ck_assert_int_eq(api_parameter_to_environment(&p, &env), 0);
}
END_TEST

START_TEST(test_template_parameters_append_after_config_environment)
{
    api_s2ibuilder_t *b = builder_file("builder_from_template.json");
    const api_user_defined_template_t *from = b->spec.from_template;
    ck_assert_int_eq(
        api_s2i_config_append_parameters(b->spec.config, from->parameters, from->parameters_len),
        0);
    const api_s2i_config_t *c = b->spec.config;
    ck_assert_uint_eq(c->environment_len, 3);
    ck_assert_str_eq(c->environment[0].name, "PIP_INDEX_URL");
    ck_assert_str_eq(c->environment[1].name, "APP_FILE");
    ck_assert_str_eq(c->environment[1].value, "wsgi.py");
    ck_assert_str_eq(c->environment[2].name, "DISABLE_COLLECTSTATIC");
    ck_assert_str_eq(c->environment[2].value, "true");
    json_object *out = api_s2i_config_encode(c);
    ck_assert_str_eq(
        json_object_to_json_string_ext(json_object_object_get(out, "environment"),
                                       JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
        "[{\"name\":\"PIP_INDEX_URL\",\"value\":\"https://pypi.example.com/simple\"},"
        "{\"name\":\"APP_FILE\",\"value\":\"wsgi.py\"},{\"name\":"
        "\"DISABLE_COLLECTSTATIC\",\"value\":\"true\"}]");
    json_object_put(out);
    api_s2ibuilder_free(b);

    api_s2i_config_t *empty = api_s2i_config_new();
    api_parameter_t none = {.key = "X"};
    ck_assert_int_eq(api_s2i_config_append_parameters(empty, &none, 1), 0);
    ck_assert_uint_eq(empty->environment_len, 0);
    api_s2i_config_free(empty);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("api_validate");
    TCase *tc = tcase_create("webhooks");
    tcase_add_test(tc, test_default_sets_master_and_latest_only_when_empty);
    tcase_add_test(tc, test_builder_without_config_is_not_defaulted_but_rejected);
    tcase_add_test(tc, test_builder_samples_are_valid);
    tcase_add_test(tc, test_builder_config_errors_are_aggregated_in_upstream_order);
    tcase_add_test(tc, test_builder_source_url_optional_for_b2i);
    tcase_add_test(tc, test_builder_pull_policy_must_be_one_of_three_and_not_empty);
    tcase_add_test(tc, test_builder_docker_network_mode);
    tcase_add_test(tc, test_builder_label_keys_must_not_be_empty);
    tcase_add_test(tc, test_builder_image_must_be_a_docker_reference);
    tcase_add_test(tc, test_builder_each_authentication_needs_secret_or_credentials);
    tcase_add_test(tc, test_builder_from_template_checks_end_validation);
    tcase_add_test(tc, test_builder_autoscale_annotation);
    tcase_add_test(tc, test_builder_additions_are_checked);
    tcase_add_test(tc, test_errors_message_drops_repeats_like_the_aggregate);
    tcase_add_test(tc, test_run_new_source_url_only_for_b2i_builders);
    tcase_add_test(tc, test_run_spec_is_immutable_once_started_except_cancelling);
    tcase_add_test(tc, test_run_new_tag_must_be_a_tag);
    tcase_add_test(tc, test_run_additions_are_checked);
    tcase_add_test(tc, test_template_rules_in_upstream_order);
    tcase_add_test(tc, test_parameter_to_environment_value_then_default_else_skipped);
    tcase_add_test(tc, test_template_parameters_append_after_config_environment);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

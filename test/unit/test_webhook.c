/*
 * Unit tests for pkg/webhook without an API server: each admission webhook on
 * AdmissionReview fixtures (allowed, denied with upstream's exact text, the JSON patches
 * and where they point), malformed reviews, lookups that cannot answer, the certificates
 * (SANs, no CN host name, chains checked by OpenSSL's API and by the openssl command),
 * the rotation decision, CA bundles, and one HTTPS round trip through pkg/server with a
 * certificate reloaded from files.
 */
#include <check.h>
#include <curl/curl.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics/metrics.h"
#include "server/server.h"
#include "util/util.h"
#include "webhook/webhook.h"
#include "webhook/webhook_internal.h"

#define NS      "demo"
#define SERVICE "webhook-server-service"
#define DAY     86400.0
#define UID     "7a0c6d1e-0000-4000-8000-000000000001"

/* ---- a fake cache ----------------------------------------------------------------------- */

static struct {
    webhook_lookup_result_t builder_result;
    const char *builder_json;
    webhook_lookup_result_t template_result;
    const char *template_json;
    int builder_calls;
} fake;

static webhook_lookup_result_t fake_get(webhook_lookup_result_t result, const char *json,
                                        json_object **out)
{
    if (result == WEBHOOK_LOOKUP_FOUND) {
        *out = json_tokener_parse(json);
        ck_assert_ptr_nonnull(*out);
    }
    return result;
}

static webhook_lookup_result_t fake_builder(void *data, const char *ns, const char *name,
                                            json_object **out)
{
    (void)data;
    ck_assert_str_eq(ns, NS);
    ck_assert_ptr_nonnull(name);
    fake.builder_calls++;
    return fake_get(fake.builder_result, fake.builder_json, out);
}

static webhook_lookup_result_t fake_template(void *data, const char *ns, const char *name,
                                             json_object **out)
{
    (void)data;
    ck_assert_ptr_null(ns);
    ck_assert_ptr_nonnull(name);
    return fake_get(fake.template_result, fake.template_json, out);
}

static const char *const BUILDER_B2I =
    "{\"apiVersion\":\"devops.kubesphere.io/v1alpha1\",\"kind\":\"S2iBuilder\","
    "\"metadata\":{\"name\":\"java\",\"namespace\":\"demo\",\"uid\":\"uid-of-java\"},"
    "\"spec\":{\"config\":{\"imageName\":\"r/j\",\"sourceUrl\":\"https://g/j.git\","
    "\"builderImage\":\"kubesphere/java-8-centos7:v2.1.0\",\"builderPullPolicy\":"
    "\"if-not-present\",\"isBinaryURL\":false}}}";

static const char *const TEMPLATE =
    "{\"apiVersion\":\"devops.kubesphere.io/v1alpha1\",\"kind\":\"S2iBuilderTemplate\","
    "\"metadata\":{\"name\":\"java\"},\"spec\":{\"defaultBaseImage\":\"kubesphere/java-8:v1\","
    "\"containerInfo\":[{\"builderImage\":\"kubesphere/java-8:v1\"},"
    "{\"builderImage\":\"kubesphere/java-11:v1\"}],"
    "\"environment\":[{\"key\":\"MAVEN_MIRROR\",\"type\":\"string\",\"required\":true}]}}";

static metrics_registry_t *registry;
static webhook_t *wh;

static void setup(void)
{
    memset(&fake, 0, sizeof(fake));
    fake.builder_result = WEBHOOK_LOOKUP_NOT_FOUND;
    fake.template_result = WEBHOOK_LOOKUP_NOT_FOUND;
    registry = metrics_registry_new();
    webhook_options_t o = {
        .cert_source = WEBHOOK_CERTS_FILES,
        .cert_dir = "/nonexistent",
        .namespace = NS,
        .metrics = registry,
        .lookup = {fake_builder, fake_template, NULL},
    };
    ck_assert_int_eq(webhook_new(&o, &wh), 0);
}

static void teardown(void)
{
    webhook_free(wh);
    metrics_registry_free(registry);
}

/* ---- reviews and answers ----------------------------------------------------------------- */

typedef struct answer {
    int http;
    json_object *root;
    bool allowed;
    int code;
    const char *reason;
    const char *message;
    json_object *patch; /* decoded operations, or NULL */
} answer_t;

static char *review(const char *operation, const char *kind, const char *object, const char *old)
{
    return util_asprintf("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
                         "\"request\":{\"uid\":\"" UID "\",\"kind\":{\"group\":"
                         "\"devops.kubesphere.io\",\"version\":\"v1alpha1\",\"kind\":\"%s\"},"
                         "\"operation\":\"%s\",\"namespace\":\"" NS "\",\"object\":%s,"
                         "\"oldObject\":%s,\"dryRun\":false}}",
                         kind, operation, object ? object : "null", old ? old : "null");
}

static const char *str_of(json_object *obj, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(obj, key, &v) ? json_object_get_string(v) : NULL;
}

static answer_t serve_raw(webhook_id_t id, const char *content_type, const char *body)
{
    answer_t a = {0};
    buf_t out = BUF_INIT;
    webhook_serve(wh, id, content_type, body, strlen(body), &a.http, &out);
    a.root = json_tokener_parse(buf_str(&out));
    ck_assert_msg(a.root != NULL, "not JSON: %s", buf_str(&out));
    buf_free(&out);
    json_object *resp = json_object_object_get(a.root, "response");
    ck_assert_ptr_nonnull(resp);
    ck_assert_str_eq(str_of(a.root, "kind"), "AdmissionReview");
    a.allowed = json_object_get_boolean(json_object_object_get(resp, "allowed"));
    json_object *status = json_object_object_get(resp, "status");
    a.code = json_object_get_int(json_object_object_get(status, "code"));
    a.reason = str_of(status, "reason");
    a.message = str_of(status, "message");
    const char *patch = str_of(resp, "patch");
    if (patch) {
        ck_assert_str_eq(str_of(resp, "patchType"), "JSONPatch");
        char *ops = webhook_base64_decode(patch, NULL);
        ck_assert_ptr_nonnull(ops);
        a.patch = json_tokener_parse(ops);
        ck_assert_msg(json_object_is_type(a.patch, json_type_array), "patch: %s", ops);
        free(ops);
        json_object_object_add(a.root, "decoded-patch", a.patch); /* owned by root */
    }
    return a;
}

static answer_t serve(webhook_id_t id, const char *operation, const char *kind, const char *object,
                      const char *old)
{
    char *body = review(operation, kind, object, old);
    answer_t a = serve_raw(id, "application/json", body);
    free(body);
    ck_assert_int_eq(a.http, 200);
    ck_assert_str_eq(str_of(json_object_object_get(a.root, "response"), "uid"), UID);
    return a;
}

static void answer_free(answer_t *a)
{
    json_object_put(a->root);
}

static void assert_denied(answer_t *a, const char *message)
{
    ck_assert_msg(!a->allowed, "allowed, expected denial: %s", message);
    ck_assert_int_eq(a->code, 403);
    ck_assert_str_eq(a->reason, "Forbidden");
    ck_assert_str_eq(a->message, message);
    ck_assert_ptr_null(a->patch);
}

static void assert_allowed(answer_t *a)
{
    ck_assert_msg(a->allowed, "denied: %d %s", a->code, a->message ? a->message : "");
    ck_assert_int_eq(a->code, 200);
}

/* The patch's operation i, as "op path value-json". */
static char *op_text(answer_t *a, size_t i)
{
    ck_assert_ptr_nonnull(a->patch);
    ck_assert_uint_gt(json_object_array_length(a->patch), i);
    json_object *op = json_object_array_get_idx(a->patch, i);
    return util_asprintf(
        "%s %s %s", str_of(op, "op"), str_of(op, "path"),
        json_object_to_json_string_ext(json_object_object_get(op, "value"),
                                       JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void assert_op(answer_t *a, size_t i, const char *want)
{
    char *got = op_text(a, i);
    ck_assert_str_eq(got, want);
    free(got);
}

static double counter(const char *webhook, const char *result)
{
    metrics_family_t *f = metrics_counter_new(registry, "s2i_webhook_admission_requests_total",
                                              "Admission requests by webhook and result (allowed, "
                                              "denied, error).",
                                              METRICS_LABELS("webhook", "result"));
    double v = 0;
    metrics_get(f, METRICS_LABELS(webhook, result), &v);
    return v;
}

#define BUILDER(config)                                                                            \
    "{\"apiVersion\":\"devops.kubesphere.io/v1alpha1\",\"kind\":\"S2iBuilder\",\"metadata\":"      \
    "{\"name\":\"b\",\"namespace\":\"demo\"},\"spec\":{\"config\":" config "}}"
#define GOOD_CONFIG                                                                                \
    "{\"imageName\":\"r/app\",\"sourceUrl\":\"https://git/app.git\",\"builderImage\":"             \
    "\"kubesphere/java-8:v1\",\"builderPullPolicy\":\"if-not-present\""
#define RUN(meta, spec)                                                                            \
    "{\"apiVersion\":\"devops.kubesphere.io/v1alpha1\",\"kind\":\"S2iRun\",\"metadata\":"          \
    "{\"name\":\"r1\",\"namespace\":\"demo\"" meta "},\"spec\":" spec "}"
#define STARTED(state) ",\"status\":{\"runState\":\"" state "\"}"

/* ---- S2iBuilder -------------------------------------------------------------------------- */

START_TEST(test_builder_defaulter_patches_revision_and_tag)
{
    answer_t a =
        serve(WEBHOOK_MUTATE_BUILDER, "CREATE", "S2iBuilder", BUILDER(GOOD_CONFIG "}"), NULL);
    assert_allowed(&a);
    ck_assert_uint_eq(json_object_array_length(a.patch), 2);
    assert_op(&a, 0, "add /spec/config/revisionId \"master\"");
    assert_op(&a, 1, "add /spec/config/tag \"latest\"");
    answer_free(&a);

    /* values set are kept: no patch at all */
    a = serve(WEBHOOK_MUTATE_BUILDER, "UPDATE", "S2iBuilder",
              BUILDER(GOOD_CONFIG ",\"revisionId\":\"dev\",\"tag\":\"v1\"}"),
              BUILDER(GOOD_CONFIG "}"));
    assert_allowed(&a);
    ck_assert_ptr_null(a.patch);
    answer_free(&a);

    /* an empty value is replaced where it is, a key spelled another way too */
    a = serve(WEBHOOK_MUTATE_BUILDER, "CREATE", "S2iBuilder",
              BUILDER(GOOD_CONFIG ",\"RevisionId\":\"\",\"tag\":\"v2\"}"), NULL);
    assert_allowed(&a);
    ck_assert_uint_eq(json_object_array_length(a.patch), 1);
    assert_op(&a, 0, "add /spec/config/RevisionId \"master\"");
    answer_free(&a);
}
END_TEST

START_TEST(test_builder_defaulter_without_config_allows_and_never_crashes)
{
    const char *objects[] = {
        "{\"apiVersion\":\"devops.kubesphere.io/v1alpha1\",\"kind\":\"S2iBuilder\","
        "\"metadata\":{\"name\":\"b\"},\"spec\":{}}",
        "{\"apiVersion\":\"devops.kubesphere.io/v1alpha1\",\"kind\":\"S2iBuilder\","
        "\"metadata\":{\"name\":\"b\"}}",
        BUILDER("null"),
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(objects); i++) {
        answer_t a = serve(WEBHOOK_MUTATE_BUILDER, "CREATE", "S2iBuilder", objects[i], NULL);
        assert_allowed(&a);
        ck_assert_ptr_null(a.patch);
        answer_free(&a);
    }
    /* a config of the wrong type is a decode error, as controller-runtime's 400 */
    answer_t a = serve(WEBHOOK_MUTATE_BUILDER, "CREATE", "S2iBuilder", BUILDER("\"text\""), NULL);
    ck_assert(!a.allowed);
    ck_assert_int_eq(a.code, 400);
    ck_assert_ptr_nonnull(strstr(a.message, "spec.config"));
    answer_free(&a);
}
END_TEST

START_TEST(test_builder_validation_denies_with_upstream_texts)
{
    answer_t a =
        serve(WEBHOOK_VALIDATE_BUILDER, "CREATE", "S2iBuilder",
              BUILDER("{\"imageName\":\"r/app\",\"builderImage\":\"kubesphere/j:1\"}"), NULL);
    assert_denied(&a, "[Required value not specified for \"sourceUrl\", Invalid value specified "
                      "for \"builderPullPolicy\"]");
    answer_free(&a);

    a = serve(WEBHOOK_VALIDATE_BUILDER, "CREATE", "S2iBuilder",
              "{\"kind\":\"S2iBuilder\",\"metadata\":{\"name\":\"b\"},\"spec\":{}}", NULL);
    assert_denied(&a, "Required value not specified for \"config\"");
    answer_free(&a);

    a = serve(WEBHOOK_VALIDATE_BUILDER, "CREATE", "S2iBuilder", BUILDER(GOOD_CONFIG "}"), NULL);
    assert_allowed(&a);
    answer_free(&a);
    ck_assert(counter("validate-s2ibuilder", "denied") == 2);
    ck_assert(counter("validate-s2ibuilder", "allowed") == 1);
}
END_TEST

#define FROM_TEMPLATE(tmpl)                                                                        \
    "{\"apiVersion\":\"devops.kubesphere.io/v1alpha1\",\"kind\":\"S2iBuilder\",\"metadata\":"      \
    "{\"name\":\"b\"},\"spec\":{\"fromTemplate\":" tmpl ",\"config\":{\"imageName\":\"r/a\","      \
    "\"sourceUrl\":\"https://git/a.git\",\"builderPullPolicy\":\"if-not-present\"}}}"

START_TEST(test_builder_validation_looks_up_its_template)
{
    answer_t a = serve(WEBHOOK_VALIDATE_BUILDER, "CREATE", "S2iBuilder",
                       FROM_TEMPLATE("{\"name\":\"nope\"}"), NULL);
    assert_denied(&a,
                  "Template not found, pls check the template name  [nope] or create a template");
    answer_free(&a);

    fake.template_result = WEBHOOK_LOOKUP_FOUND;
    fake.template_json = TEMPLATE;
    a = serve(WEBHOOK_VALIDATE_BUILDER, "CREATE", "S2iBuilder",
              FROM_TEMPLATE("{\"name\":\"java\"}"), NULL);
    assert_denied(&a, "Required value not specified for \"Parameter:MAVEN_MIRROR\"");
    answer_free(&a);

    a = serve(WEBHOOK_VALIDATE_BUILDER, "CREATE", "S2iBuilder",
              FROM_TEMPLATE("{\"name\":\"java\",\"builderImage\":\"kubesphere/go:1\","
                            "\"parameters\":[{\"key\":\"MAVEN_MIRROR\",\"value\":\"m\"}]}"),
              NULL);
    assert_denied(&a, "builder's baseImage [kubesphere/go:1] not in builder baseImages "
                      "[[kubesphere/java-8:v1 kubesphere/java-11:v1]]");
    answer_free(&a);

    a = serve(WEBHOOK_VALIDATE_BUILDER, "CREATE", "S2iBuilder",
              FROM_TEMPLATE("{\"name\":\"java\",\"builderImage\":\"kubesphere/java-11:v1\","
                            "\"parameters\":[{\"key\":\"MAVEN_MIRROR\",\"value\":\"m\"}]}"),
              NULL);
    assert_allowed(&a);
    answer_free(&a);

    /* the cache cannot tell and there is no API to ask: an error, not a verdict */
    fake.template_result = WEBHOOK_LOOKUP_UNKNOWN;
    a = serve(WEBHOOK_VALIDATE_BUILDER, "CREATE", "S2iBuilder",
              FROM_TEMPLATE("{\"name\":\"java\"}"), NULL);
    ck_assert(!a.allowed);
    ck_assert_int_eq(a.code, 500);
    ck_assert_str_eq(a.message, "could not get S2iBuilderTemplate \"java\": no API client to ask");
    answer_free(&a);
    ck_assert(counter("validate-s2ibuilder", "error") == 1);
}
END_TEST

START_TEST(test_builder_updates_that_change_nothing_validated_are_allowed)
{
    const char *invalid = BUILDER("{\"imageName\":\"r/app\"}");
    const char *relabelled = "{\"apiVersion\":\"devops.kubesphere.io/v1alpha1\",\"kind\":"
                             "\"S2iBuilder\",\"metadata\":{\"name\":\"b\",\"labels\":{\"a\":\"b\"},"
                             "\"finalizers\":[\"s2ibuilders.finalizers.kubesphere.io\"]},"
                             "\"spec\":{\"config\":{\"imageName\":\"r/app\"}}}";
    /* a finalizer or a label on a builder accepted long ago */
    answer_t a = serve(WEBHOOK_VALIDATE_BUILDER, "UPDATE", "S2iBuilder", relabelled, invalid);
    assert_allowed(&a);
    answer_free(&a);
    /* a spec change is validated */
    a = serve(WEBHOOK_VALIDATE_BUILDER, "UPDATE", "S2iBuilder",
              BUILDER("{\"imageName\":\"r/other\"}"), invalid);
    ck_assert(!a.allowed);
    answer_free(&a);
    /* an autoscale annotation change is validated */
    const char *scaled = "{\"kind\":\"S2iBuilder\",\"metadata\":{\"name\":\"b\",\"annotations\":"
                         "{\"devops.kubesphere.io/autoscale\":\"[{\\\"kind\\\":\\\"Pod\\\","
                         "\\\"name\\\":\\\"x\\\"}]\"}},\"spec\":{\"config\":{\"imageName\":"
                         "\"r/app\"}}}";
    a = serve(WEBHOOK_VALIDATE_BUILDER, "UPDATE", "S2iBuilder", scaled, invalid);
    assert_denied(&a, "Invalid value specified for \"devops.kubesphere.io/autoscale\": unsupport "
                      "workload type [Pod], name [x]");
    answer_free(&a);
    /* being deleted: the finalizer must come off whatever the spec says */
    const char *deleting = "{\"kind\":\"S2iBuilder\",\"metadata\":{\"name\":\"b\","
                           "\"deletionTimestamp\":\"2026-01-01T00:00:00Z\"},\"spec\":{}}";
    a = serve(WEBHOOK_VALIDATE_BUILDER, "UPDATE", "S2iBuilder", deleting, invalid);
    assert_allowed(&a);
    answer_free(&a);
    /* DELETE is not ours to judge */
    a = serve(WEBHOOK_VALIDATE_BUILDER, "DELETE", "S2iBuilder", NULL, invalid);
    assert_allowed(&a);
    answer_free(&a);
}
END_TEST

/* ---- S2iRun ------------------------------------------------------------------------------- */

START_TEST(test_run_spec_is_immutable_once_started_except_cancel)
{
    const char *running =
        RUN("", "{\"builderName\":\"java\",\"newTag\":\"v1\"}" STARTED("Running"));
    answer_t a = serve(WEBHOOK_VALIDATE_RUN, "UPDATE", "S2iRun",
                       RUN("", "{\"builderName\":\"java\",\"newTag\":\"v2\"}"), running);
    assert_denied(&a, "Invalid value specified for \"spec\": should not change s2i run spec when "
                      "job started; only spec.state: Cancelled may still be set; create a new "
                      "S2iRun to build with another spec");
    answer_free(&a);

    a = serve(WEBHOOK_VALIDATE_RUN, "UPDATE", "S2iRun",
              RUN("", "{\"builderName\":\"java\",\"newTag\":\"v1\",\"state\":\"Cancelled\"}"),
              running);
    assert_allowed(&a);
    answer_free(&a);

    /* GitOps re-applies the same spec */
    a = serve(WEBHOOK_VALIDATE_RUN, "UPDATE", "S2iRun",
              RUN(",\"labels\":{\"x\":\"y\"}", "{\"builderName\":\"java\",\"newTag\":\"v1\"}"),
              running);
    assert_allowed(&a);
    answer_free(&a);

    const char *done =
        RUN("", "{\"builderName\":\"java\",\"newTag\":\"v1\"}" STARTED("Successful"));
    a = serve(WEBHOOK_VALIDATE_RUN, "UPDATE", "S2iRun",
              RUN("", "{\"builderName\":\"java\",\"newTag\":\"v3\"}"), done);
    assert_denied(&a, "Invalid value specified for \"spec\": should not change s2i run spec when "
                      "job started; the run has finished: create a new S2iRun to build again");
    answer_free(&a);

    /* not started yet: the spec may change */
    a = serve(WEBHOOK_VALIDATE_RUN, "UPDATE", "S2iRun",
              RUN("", "{\"builderName\":\"java\",\"newTag\":\"v4\"}"),
              RUN("", "{\"builderName\":\"java\",\"newTag\":\"v1\"}"));
    assert_allowed(&a);
    answer_free(&a);
    ck_assert_int_eq(fake.builder_calls, 0); /* no newSourceURL: no lookup */
}
END_TEST

START_TEST(test_run_validation_rules_and_texts)
{
    answer_t a = serve(WEBHOOK_VALIDATE_RUN, "CREATE", "S2iRun",
                       RUN("", "{\"builderName\":\"java\",\"newTag\":\"Bad Tag\"}"), NULL);
    assert_denied(&a, "invalid reference format");
    answer_free(&a);

    /* newSourceURL needs a B2I builder */
    fake.builder_result = WEBHOOK_LOOKUP_FOUND;
    fake.builder_json = BUILDER_B2I;
    a = serve(WEBHOOK_VALIDATE_RUN, "CREATE", "S2iRun",
              RUN("", "{\"builderName\":\"java\",\"newSourceURL\":\"https://x/a.jar\"}"), NULL);
    assert_denied(&a,
                  "Invalid value specified for \"newSourceURL\": only b2i could set newSourceURL");
    answer_free(&a);
    ck_assert_int_eq(fake.builder_calls, 1);

    /* a missing builder is allowed: the controller waits for it */
    fake.builder_result = WEBHOOK_LOOKUP_NOT_FOUND;
    a = serve(WEBHOOK_VALIDATE_RUN, "CREATE", "S2iRun",
              RUN("", "{\"builderName\":\"java\",\"newSourceURL\":\"https://x/a.jar\"}"), NULL);
    assert_allowed(&a);
    answer_free(&a);

    a = serve(WEBHOOK_VALIDATE_RUN, "CREATE", "S2iRun",
              RUN("", "{\"builderName\":\"java\",\"state\":\"Paused\"}"), NULL);
    assert_denied(&a, "Invalid value specified for \"state\": the only value allowed is Cancelled");
    answer_free(&a);
}
END_TEST

START_TEST(test_run_mutation_sets_builder_label_and_owner_reference)
{
    fake.builder_result = WEBHOOK_LOOKUP_FOUND;
    fake.builder_json = BUILDER_B2I;
    answer_t a =
        serve(WEBHOOK_MUTATE_RUN, "CREATE", "S2iRun", RUN("", "{\"builderName\":\"java\"}"), NULL);
    assert_allowed(&a);
    ck_assert_uint_eq(json_object_array_length(a.patch), 2);
    assert_op(&a, 0,
              "add /metadata/labels {\"labels.devops.kubesphere.io/builder-name\":\"java\"}");
    assert_op(&a, 1,
              "add /metadata/ownerReferences [{\"apiVersion\":\"devops.kubesphere.io/v1alpha1\","
              "\"kind\":\"S2iBuilder\",\"name\":\"java\",\"uid\":\"uid-of-java\","
              "\"controller\":false,\"blockOwnerDeletion\":false}]");
    answer_free(&a);

    /* labels and references already there: one more key (escaped), one more element */
    a = serve(WEBHOOK_MUTATE_RUN, "CREATE", "S2iRun",
              RUN(",\"labels\":{\"app\":\"x\"},\"ownerReferences\":[{\"apiVersion\":\"v1\","
                  "\"kind\":\"ConfigMap\",\"name\":\"c\",\"uid\":\"u\"}]",
                  "{\"builderName\":\"java\"}"),
              NULL);
    assert_allowed(&a);
    ck_assert_uint_eq(json_object_array_length(a.patch), 2);
    assert_op(&a, 0, "add /metadata/labels/labels.devops.kubesphere.io~1builder-name \"java\"");
    char *second = op_text(&a, 1);
    ck_assert(util_has_prefix(second, "add /metadata/ownerReferences/- {\"apiVersion\""));
    free(second);
    answer_free(&a);

    /* both already right: nothing to do */
    a = serve(WEBHOOK_MUTATE_RUN, "CREATE", "S2iRun",
              RUN(",\"labels\":{\"labels.devops.kubesphere.io/builder-name\":\"java\"},"
                  "\"ownerReferences\":[{\"apiVersion\":\"devops.kubesphere.io/v1alpha1\","
                  "\"kind\":\"S2iBuilder\",\"name\":\"java\",\"uid\":\"uid-of-java\"}]",
                  "{\"builderName\":\"java\"}"),
              NULL);
    assert_allowed(&a);
    ck_assert_ptr_null(a.patch);
    answer_free(&a);

    /* only at creation */
    a = serve(WEBHOOK_MUTATE_RUN, "UPDATE", "S2iRun", RUN("", "{\"builderName\":\"java\"}"),
              RUN("", "{\"builderName\":\"java\"}"));
    assert_allowed(&a);
    ck_assert_ptr_null(a.patch);
    answer_free(&a);
}
END_TEST

START_TEST(test_run_mutation_skips_what_it_cannot_set)
{
    /* a builder name longer than a label value may be: no label, still the reference */
    char name[80];
    memset(name, 'b', 64);
    name[64] = '\0';
    char *object = util_asprintf(RUN("", "{\"builderName\":\"%s\"}"), name);
    fake.builder_result = WEBHOOK_LOOKUP_FOUND;
    fake.builder_json = BUILDER_B2I;
    answer_t a = serve(WEBHOOK_MUTATE_RUN, "CREATE", "S2iRun", object, NULL);
    free(object);
    assert_allowed(&a);
    ck_assert_uint_eq(json_object_array_length(a.patch), 1);
    char *op = op_text(&a, 0);
    ck_assert(util_has_prefix(op, "add /metadata/ownerReferences "));
    free(op);
    answer_free(&a);

    /* 63 characters is still a label */
    name[63] = '\0';
    object = util_asprintf(RUN("", "{\"builderName\":\"%s\"}"), name);
    fake.builder_result = WEBHOOK_LOOKUP_NOT_FOUND;
    a = serve(WEBHOOK_MUTATE_RUN, "CREATE", "S2iRun", object, NULL);
    free(object);
    ck_assert_uint_eq(json_object_array_length(a.patch), 1);
    op = op_text(&a, 0);
    ck_assert(util_has_prefix(op, "add /metadata/labels {"));
    free(op);
    answer_free(&a);

    /* the builder cannot be looked up: the run is still created, labelled */
    fake.builder_result = WEBHOOK_LOOKUP_UNKNOWN;
    a = serve(WEBHOOK_MUTATE_RUN, "CREATE", "S2iRun", RUN("", "{\"builderName\":\"java\"}"), NULL);
    assert_allowed(&a);
    ck_assert_uint_eq(json_object_array_length(a.patch), 1);
    answer_free(&a);

    /* not a label value at all; no builder name */
    a = serve(WEBHOOK_MUTATE_RUN, "CREATE", "S2iRun", RUN("", "{\"builderName\":\"a b\"}"), NULL);
    assert_allowed(&a);
    ck_assert_ptr_null(a.patch);
    answer_free(&a);
    a = serve(WEBHOOK_MUTATE_RUN, "CREATE", "S2iRun", RUN("", "{}"), NULL);
    assert_allowed(&a);
    ck_assert_ptr_null(a.patch);
    answer_free(&a);
}
END_TEST

/* ---- S2iBuilderTemplate ------------------------------------------------------------------- */

START_TEST(test_template_validation_texts)
{
    answer_t a = serve(WEBHOOK_VALIDATE_TEMPLATE, "CREATE", "S2iBuilderTemplate",
                       "{\"kind\":\"S2iBuilderTemplate\",\"metadata\":{\"name\":\"t\"},"
                       "\"spec\":{\"defaultBaseImage\":\"a:1\"}}",
                       NULL);
    assert_denied(&a, "Required value not specified for \"baseImages\"");
    answer_free(&a);
    a = serve(WEBHOOK_VALIDATE_TEMPLATE, "CREATE", "S2iBuilderTemplate",
              "{\"kind\":\"S2iBuilderTemplate\",\"metadata\":{\"name\":\"t\"},\"spec\":"
              "{\"defaultBaseImage\":\"a:1\",\"containerInfo\":[{\"builderImage\":\"b:1\"}]}}",
              NULL);
    assert_denied(&a, "Invalid value specified for \"defaultBaseImage\": defaultBaseImage [a:1] "
                      "should in [[b:1]]");
    answer_free(&a);
    a = serve(WEBHOOK_VALIDATE_TEMPLATE, "CREATE", "S2iBuilderTemplate", TEMPLATE, NULL);
    assert_allowed(&a);
    answer_free(&a);
}
END_TEST

/* ---- malformed reviews ---------------------------------------------------------------------- */

START_TEST(test_malformed_reviews_are_400_with_the_reason)
{
    static const struct {
        const char *content_type;
        const char *body;
        const char *message;
    } cases[] = {
        {"text/plain", "{}", "contentType=text/plain, expected application/json"},
        {"application/json", "not json", "malformed AdmissionReview: the body is not valid JSON"},
        {"application/json", "{\"a\":1} x",
         "malformed AdmissionReview: the body is not valid JSON"},
        {"application/json", "[]", "malformed AdmissionReview: the body is not a JSON object"},
        {"application/json", "{\"kind\":\"Pod\"}",
         "malformed AdmissionReview: kind must be AdmissionReview"},
        {"application/json",
         "{\"kind\":\"AdmissionReview\",\"apiVersion\":\"admission.k8s.io/v2\"}",
         "malformed AdmissionReview: apiVersion must be admission.k8s.io/v1"},
        {"application/json; charset=utf-8",
         "{\"kind\":\"AdmissionReview\",\"apiVersion\":\"admission.k8s.io/v1\"}",
         "malformed AdmissionReview: request is missing"},
        {"application/json",
         "{\"kind\":\"AdmissionReview\",\"apiVersion\":\"admission.k8s.io/v1\",\"request\":{}}",
         "malformed AdmissionReview: request.uid is missing"},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(cases); i++) {
        answer_t a = serve_raw(WEBHOOK_VALIDATE_RUN, cases[i].content_type, cases[i].body);
        ck_assert_int_eq(a.http, 400);
        ck_assert(!a.allowed);
        ck_assert_int_eq(a.code, 400);
        ck_assert_str_eq(a.message, cases[i].message);
        answer_free(&a);
    }

    /* a review for another kind, or without its object: the API server sees why */
    answer_t a =
        serve(WEBHOOK_VALIDATE_RUN, "CREATE", "S2iBuilder", BUILDER(GOOD_CONFIG "}"), NULL);
    ck_assert(!a.allowed);
    ck_assert_int_eq(a.code, 400);
    ck_assert_str_eq(a.message, "this webhook admits devops.kubesphere.io/v1alpha1 S2iRun, not "
                                "devops.kubesphere.io S2iBuilder");
    answer_free(&a);
    a = serve(WEBHOOK_VALIDATE_RUN, "CREATE", "S2iRun", NULL, NULL);
    ck_assert_int_eq(a.code, 400);
    ck_assert_str_eq(a.message, "request.object is missing");
    answer_free(&a);
    /* a field of the wrong type */
    a = serve(WEBHOOK_VALIDATE_RUN, "CREATE", "S2iRun", RUN("", "{\"backoffLimit\":\"x\"}"), NULL);
    ck_assert_int_eq(a.code, 400);
    ck_assert_str_eq(a.message, "spec.backoffLimit: expected integer");
    answer_free(&a);
    ck_assert(counter("validate-s2irun", "error") == UTIL_ARRAY_LEN(cases) + 3);
}
END_TEST

START_TEST(test_v1beta1_reviews_are_answered_in_kind_and_subresources_allowed)
{
    char *body = review("UPDATE", "S2iRun", RUN("", "{\"builderName\":\"x\",\"newTag\":\"B A\"}"),
                        RUN("", "{}"));
    char *at = strstr(body, "admission.k8s.io/v1");
    ck_assert_ptr_nonnull(at);
    char *beta = util_asprintf("%.*sadmission.k8s.io/v1beta1%s", (int)(at - body), body,
                               at + strlen("admission.k8s.io/v1"));
    answer_t a = serve_raw(WEBHOOK_VALIDATE_RUN, "application/json", beta);
    ck_assert_int_eq(a.http, 200);
    ck_assert_str_eq(str_of(a.root, "apiVersion"), "admission.k8s.io/v1beta1");
    ck_assert(!a.allowed);
    answer_free(&a);
    free(beta);
    free(body);

    body = util_asprintf("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
                         "\"request\":{\"uid\":\"u\",\"kind\":{\"group\":\"devops.kubesphere.io\","
                         "\"kind\":\"S2iRun\"},\"operation\":\"UPDATE\",\"subResource\":"
                         "\"status\",\"object\":%s}}",
                         RUN("", "{\"newTag\":\"B A\"}"));
    a = serve_raw(WEBHOOK_VALIDATE_RUN, "application/json", body);
    ck_assert(a.allowed);
    answer_free(&a);
    free(body);
}
END_TEST

/* ---- base64 ------------------------------------------------------------------------------- */

START_TEST(test_base64_round_trips_and_rejects_garbage)
{
    const char *texts[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(texts); i++) {
        char *enc = webhook_base64_encode(texts[i], strlen(texts[i]));
        ck_assert_str_eq(enc, want[i]);
        size_t len = 99;
        char *dec = webhook_base64_decode(enc, &len);
        ck_assert_str_eq(dec, texts[i]);
        ck_assert_uint_eq(len, strlen(texts[i]));
        free(dec);
        free(enc);
    }
    const char *bad[] = {"Zg=", "Z===", "Zg==Zg==", "Zm9v!", "=Zm9", "Zm=v"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++)
        ck_assert_msg(webhook_base64_decode(bad[i], NULL) == NULL, "%s decoded", bad[i]);
}
END_TEST

/* ---- certificates ------------------------------------------------------------------------- */

static const char *const NAMES[] = {SERVICE ".demo.svc", SERVICE ".demo.svc.cluster.local",
                                    "127.0.0.1", NULL};

static void make_ca(time_t now, double validity, char **cert, char **key)
{
    char *err = NULL;
    ck_assert_msg(cert_generate_ca("test-ca", validity, now, cert, key, &err) == 0, "%s", err);
}

static void make_serving(const char *ca, const char *ca_key, time_t now, double validity,
                         const char *const *names, char **cert, char **key)
{
    char *err = NULL;
    ck_assert_msg(cert_generate_serving(ca, ca_key, "s2i-operator webhook", names, validity, now,
                                        cert, key, &err) == 0,
                  "%s", err);
}

static X509 *x509_of(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    ck_assert_ptr_nonnull(x);
    return x;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    fclose(f);
}

START_TEST(test_serving_certificate_names_hosts_in_sans_only_and_verifies)
{
    time_t now = time(NULL);
    char *ca, *ca_key, *cert, *key;
    make_ca(now, 10 * 365 * DAY, &ca, &ca_key);
    make_serving(ca, ca_key, now, 365 * DAY, NAMES, &cert, &key);

    X509 *x = x509_of(cert);
    GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    ck_assert_ptr_nonnull(sans);
    ck_assert_int_eq(sk_GENERAL_NAME_num(sans), 3);
    int type;
    ASN1_IA5STRING *dns = GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(sans, 0), &type);
    ck_assert_int_eq(type, GEN_DNS);
    ck_assert_str_eq((const char *)ASN1_STRING_get0_data(dns), SERVICE ".demo.svc");
    GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(sans, 2), &type);
    ck_assert_int_eq(type, GEN_IPADD);
    GENERAL_NAMES_free(sans);
    /* the CN is not a host name: only the SANs can make this verify */
    char cn[128];
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
    ck_assert_str_eq(cn, "s2i-operator webhook");
    ck_assert_int_eq(
        X509_check_host(x, SERVICE ".demo.svc", 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, NULL), 1);
    ck_assert_int_ne(X509_check_host(x, "other.demo.svc", 0, 0, NULL), 1);
    ck_assert_int_eq(X509_check_ca(x), 0);
    X509 *c = x509_of(ca);
    ck_assert_int_ge(X509_check_ca(c), 1);
    X509_free(c);
    X509_free(x);

    char *why = NULL;
    ck_assert_msg(cert_verify_serving(cert, key, ca, NAMES, now, &why) == 0, "%s", why);
    const char *wrong[] = {"other.demo.svc", NULL};
    ck_assert_int_eq(cert_verify_serving(cert, key, ca, wrong, now, &why), -1);
    ck_assert_str_eq(why, "the certificate is not valid for other.demo.svc");
    free(why);
    /* another key, another CA */
    char *ca2, *ca2_key;
    make_ca(now, 365 * DAY, &ca2, &ca2_key);
    ck_assert_int_eq(cert_verify_serving(cert, ca2_key, ca, NAMES, now, &why), -1);
    ck_assert_str_eq(why, "the serving key does not match the certificate");
    free(why);
    ck_assert_int_eq(cert_verify_serving(cert, key, ca2, NAMES, now, &why), -1);
    ck_assert(util_has_prefix(why, "the certificate does not verify against the CA bundle"));
    free(why);

    /* and the openssl command agrees, strictly, for the host name */
    char dir[] = "/tmp/webhook-certs-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char ca_path[64], cert_path[64], cmd[512];
    snprintf(ca_path, sizeof(ca_path), "%s/ca.crt", dir);
    snprintf(cert_path, sizeof(cert_path), "%s/tls.crt", dir);
    write_file(ca_path, ca);
    write_file(cert_path, cert);
    snprintf(cmd, sizeof(cmd),
             "openssl verify -x509_strict -purpose sslserver -verify_hostname %s -CAfile %s %s "
             ">/dev/null 2>&1",
             SERVICE ".demo.svc.cluster.local", ca_path, cert_path);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "openssl verify -verify_hostname %s -CAfile %s %s >/dev/null 2>&1",
             "s2i-operator", ca_path, cert_path);
    ck_assert_int_ne(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);

    free(ca2);
    free(ca2_key);
    free(ca);
    free(ca_key);
    free(cert);
    free(key);
}
END_TEST

START_TEST(test_serving_certificate_ends_with_its_ca)
{
    time_t now = time(NULL);
    char *ca, *ca_key, *cert, *key;
    make_ca(now, 1000, &ca, &ca_key);
    make_serving(ca, ca_key, now, 365 * DAY, NAMES, &cert, &key);
    cert_times_t ct, st;
    ck_assert_int_eq(cert_read_times(ca, &ct), 0);
    ck_assert_int_eq(cert_read_times(cert, &st), 0);
    ck_assert(st.not_after == ct.not_after);
    /* short validities backdate a tenth of themselves, long ones five minutes */
    ck_assert(ct.not_before == now - 100);
    free(cert);
    free(key);
    make_serving(ca, ca_key, now, 60, NAMES, &cert, &key);
    ck_assert_int_eq(cert_read_times(cert, &st), 0);
    ck_assert(st.not_before == now - 6 && st.not_after == now + 60);
    free(ca);
    free(ca_key);
    free(cert);
    free(key);
}
END_TEST

START_TEST(test_rotation_is_due_at_two_thirds_of_validity)
{
    cert_times_t t = {1000, 4000}; /* 3000 s */
    ck_assert(!cert_rotation_due(&t, 1000));
    ck_assert(!cert_rotation_due(&t, 2999));
    ck_assert(cert_rotation_due(&t, 3000));
    ck_assert(cert_rotation_due(&t, 3999));
    ck_assert(cert_rotation_due(&t, 4000)); /* expired */
    ck_assert(cert_rotation_due(&t, 999));  /* not valid yet */
    cert_times_t year = {0, (time_t)(365 * DAY)};
    ck_assert(!cert_rotation_due(&year, (time_t)(243 * DAY)));
    ck_assert(cert_rotation_due(&year, (time_t)(244 * DAY)));
}
END_TEST

START_TEST(test_assess_decides_keep_renew_or_regenerate)
{
    time_t now = time(NULL);
    cert_material_t m = {0};
    char *why = NULL;
    ck_assert_int_eq(cert_assess(&m, NAMES, now, &why), CERT_REGENERATE);
    free(why);

    /* fresh: keep */
    make_ca(now, 3000, &m.ca_pem, &m.ca_key_pem);
    make_serving(m.ca_pem, m.ca_key_pem, now, 900, NAMES, &m.cert_pem, &m.key_pem);
    ck_assert_int_eq(cert_assess(&m, NAMES, now, &why), CERT_KEEP);
    ck_assert_ptr_null(why);
    /* the serving certificate past 2/3 */
    ck_assert_int_eq(cert_assess(&m, NAMES, now + 600, &why), CERT_RENEW_SERVING);
    free(why);
    /* the CA past 2/3 wins */
    ck_assert_int_eq(cert_assess(&m, NAMES, now + 2000, &why), CERT_RENEW_CA);
    free(why);
    /* the CA expired: start over */
    ck_assert_int_eq(cert_assess(&m, NAMES, now + 3001, &why), CERT_REGENERATE);
    free(why);
    /* a name more (the service was renamed, an extra name configured) */
    const char *more[] = {SERVICE ".demo.svc", "hooks.example.com", NULL};
    ck_assert_int_eq(cert_assess(&m, more, now, &why), CERT_RENEW_SERVING);
    ck_assert_str_eq(why, "the certificate is not valid for hooks.example.com");
    free(why);

    /* after a CA renewal the old serving certificate, though trusted by the bundle, is
     * renewed under the new CA */
    char *new_ca, *new_key;
    make_ca(now, 3000, &new_ca, &new_key);
    const char *others[] = {m.ca_pem};
    char *bundle = cert_bundle_merge(new_ca, others, 1, now, 3);
    ck_assert_int_eq(cert_verify_serving(m.cert_pem, m.key_pem, bundle, NAMES, now, NULL), 0);
    free(m.ca_pem);
    free(m.ca_key_pem);
    m.ca_pem = bundle;
    m.ca_key_pem = new_key;
    ck_assert_int_eq(cert_assess(&m, NAMES, now, &why), CERT_RENEW_SERVING);
    free(why);
    /* a CA key that is not the first CA's */
    free(m.ca_key_pem);
    m.ca_key_pem = NULL;
    char *unused;
    make_ca(now, 3000, &unused, &m.ca_key_pem);
    ck_assert_int_eq(cert_assess(&m, NAMES, now, &why), CERT_REGENERATE);
    free(why);
    free(unused);
    free(new_ca);
    cert_material_clear(&m);
}
END_TEST

START_TEST(test_bundle_merge_keeps_valid_cas_in_order_once)
{
    time_t now = time(NULL);
    char *a, *ak, *b, *bk, *c, *ck, *old, *oldk, *leaf, *leafk;
    make_ca(now, 3000, &a, &ak);
    make_ca(now, 3000, &b, &bk);
    make_ca(now, 3000, &c, &ck);
    make_ca(now - 5000, 3000, &old, &oldk); /* expired */
    make_serving(b, bk, now, 300, NAMES, &leaf, &leafk);
    char *b_and_old = util_asprintf("%s%s", b, old);
    const char *others[] = {b_and_old, "garbage", leaf, a, c};
    char *bundle = cert_bundle_merge(a, others, UTIL_ARRAY_LEN(others), now, 3);
    ck_assert_ptr_nonnull(bundle);
    ck_assert_uint_eq(cert_count(bundle), 3);
    char *expect = util_asprintf("%s%s%s", a, b, c);
    ck_assert_str_eq(bundle, expect);
    free(expect);
    free(bundle);
    /* max 2 drops c; no others: just the first */
    bundle = cert_bundle_merge(a, others, UTIL_ARRAY_LEN(others), now, 2);
    ck_assert_uint_eq(cert_count(bundle), 2);
    free(bundle);
    bundle = cert_bundle_merge(a, NULL, 0, now, 3);
    ck_assert_str_eq(bundle, a);
    ck_assert(cert_same_first(bundle, a));
    ck_assert(!cert_same_first(bundle, b));
    free(bundle);
    ck_assert_ptr_null(cert_bundle_merge("nothing", NULL, 0, now, 3));
    char *all[] = {a, ak, b, bk, c, ck, old, oldk, leaf, leafk, b_and_old};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(all); i++)
        free(all[i]);
}
END_TEST

START_TEST(test_options_are_checked)
{
    webhook_t *w = NULL;
    webhook_options_t o = {.cert_source = WEBHOOK_CERTS_GENERATE, .namespace = NS};
    ck_assert_int_eq(webhook_new(&o, &w), -1); /* no client */
    const char *bad[] = {"ok.example.com", "bad,name", NULL};
    webhook_options_t f = {
        .cert_source = WEBHOOK_CERTS_FILES, .cert_dir = "/x", .extra_dns_names = bad};
    ck_assert_int_eq(webhook_new(&f, &w), -1);
    ck_assert_ptr_null(w);
    f.extra_dns_names = NULL;
    f.cert_dir = NULL;
    ck_assert_int_eq(webhook_new(&f, &w), -1);
}
END_TEST

/* ---- over HTTPS, with a reload ------------------------------------------------------------- */

typedef struct {
    long status;
    buf_t body;
} http_t;

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    buf_append(arg, data, size * n);
    return size * n;
}

static void post(int port, const char *ca_file, const char *path, const char *content_type,
                 const char *body, size_t len, http_t *out)
{
    memset(out, 0, sizeof(*out));
    CURL *h = curl_easy_init();
    char url[256], resolve[128], ct[128];
    snprintf(url, sizeof(url), "https://%s.demo.svc:%d%s", SERVICE, port, path);
    snprintf(resolve, sizeof(resolve), "%s.demo.svc:%d:127.0.0.1", SERVICE, port);
    snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
    struct curl_slist *res = curl_slist_append(NULL, resolve);
    struct curl_slist *hdrs = curl_slist_append(NULL, ct);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_RESOLVE, res);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_CAINFO, ca_file);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &out->body);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(h);
    ck_assert_msg(rc == CURLE_OK, "POST %s: %s", path, curl_easy_strerror(rc));
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(res);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
}

START_TEST(test_https_round_trip_limits_and_reload_from_files)
{
    char dir[] = "/tmp/webhook-files-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[128], ca_path[128];
    time_t now = time(NULL);
    char *ca, *ca_key, *cert, *key;
    make_ca(now, 10 * DAY, &ca, &ca_key);
    make_serving(ca, ca_key, now, DAY, NAMES, &cert, &key);
    snprintf(ca_path, sizeof(ca_path), "%s/ca.crt", dir);
    write_file(ca_path, ca);
    snprintf(path, sizeof(path), "%s/tls.crt", dir);
    write_file(path, cert);
    snprintf(path, sizeof(path), "%s/tls.key", dir);
    write_file(path, key);

    webhook_t *w = NULL;
    webhook_options_t o = {.cert_source = WEBHOOK_CERTS_FILES,
                           .cert_dir = dir,
                           .namespace = NS,
                           .address = "127.0.0.1:0",
                           .metrics = registry};
    ck_assert_int_eq(webhook_new(&o, &w), 0);
    server_t *srv = server_new(&(server_options_t){0});
    ck_assert_int_eq(webhook_attach(w, srv), 0);
    ck_assert_int_eq(server_start(srv), 0);
    ck_assert_int_eq(webhook_start(w), 0);
    int port = server_listener_port(webhook_listener(w));

    char *body = review("CREATE", "S2iBuilder", BUILDER(GOOD_CONFIG "}"), NULL);
    http_t r;
    post(port, ca_path, WEBHOOK_PATH_MUTATE_BUILDER, "application/json", body, strlen(body), &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(buf_str(&r.body), "\"patchType\":\"JSONPatch\""));
    buf_free(&r.body);
    post(port, ca_path, WEBHOOK_PATH_VALIDATE_RUN, "application/json", "{", 1, &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert_ptr_nonnull(strstr(buf_str(&r.body), "the body is not valid JSON"));
    buf_free(&r.body);
    size_t big = WEBHOOK_MAX_BODY_BYTES + 1;
    char *huge = malloc(big);
    memset(huge, ' ', big);
    post(port, ca_path, WEBHOOK_PATH_VALIDATE_RUN, "application/json", huge, big, &r);
    ck_assert_int_eq(r.status, 413);
    buf_free(&r.body);
    free(huge);

    /* a new pair under the same CA, picked up by a check */
    char *cert2, *key2;
    make_serving(ca, ca_key, now, 2 * DAY, NAMES, &cert2, &key2);
    snprintf(path, sizeof(path), "%s/tls.key", dir);
    write_file(path, key2);
    snprintf(path, sizeof(path), "%s/tls.crt", dir);
    write_file(path, cert2);
    server_listener_stats_t st;
    server_listener_stats(webhook_listener(w), &st);
    ck_assert_int_eq(st.tls_generation, 1);
    ck_assert_int_eq(webhook_rotate(w, WEBHOOK_ROTATE_CHECK), 0);
    server_listener_stats(webhook_listener(w), &st);
    ck_assert_int_eq(st.tls_generation, 2);
    ck_assert_int_eq(webhook_rotate(w, WEBHOOK_ROTATE_CHECK), 0); /* unchanged: no reload */
    server_listener_stats(webhook_listener(w), &st);
    ck_assert_int_eq(st.tls_generation, 2);
    post(port, ca_path, WEBHOOK_PATH_MUTATE_BUILDER, "application/json", body, strlen(body), &r);
    ck_assert_int_eq(r.status, 200);
    buf_free(&r.body);
    /* a broken pair is refused and the old one stays */
    write_file(path, "not a certificate");
    ck_assert_int_eq(webhook_rotate(w, WEBHOOK_ROTATE_CHECK), -1);
    post(port, ca_path, WEBHOOK_PATH_MUTATE_BUILDER, "application/json", body, strlen(body), &r);
    ck_assert_int_eq(r.status, 200);
    buf_free(&r.body);
    metrics_family_t *reloads =
        metrics_counter_new(registry, "s2i_webhook_certificate_reloads_total",
                            "Webhook certificates loaded after the first one.", NULL);
    double n = 0;
    ck_assert_int_eq(metrics_get(reloads, NULL, &n), 0);
    ck_assert(n == 1);

    webhook_stop(w);
    server_stop(srv, 5);
    server_free(srv);
    webhook_free(w);
    free(body);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
    char *all[] = {ca, ca_key, cert, key, cert2, key2};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(all); i++)
        free(all[i]);
}
END_TEST

int main(void)
{
    log_set_verbosity(0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("webhook");
    TCase *tc = tcase_create("admission");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_builder_defaulter_patches_revision_and_tag);
    tcase_add_test(tc, test_builder_defaulter_without_config_allows_and_never_crashes);
    tcase_add_test(tc, test_builder_validation_denies_with_upstream_texts);
    tcase_add_test(tc, test_builder_validation_looks_up_its_template);
    tcase_add_test(tc, test_builder_updates_that_change_nothing_validated_are_allowed);
    tcase_add_test(tc, test_run_spec_is_immutable_once_started_except_cancel);
    tcase_add_test(tc, test_run_validation_rules_and_texts);
    tcase_add_test(tc, test_run_mutation_sets_builder_label_and_owner_reference);
    tcase_add_test(tc, test_run_mutation_skips_what_it_cannot_set);
    tcase_add_test(tc, test_template_validation_texts);
    tcase_add_test(tc, test_malformed_reviews_are_400_with_the_reason);
    tcase_add_test(tc, test_v1beta1_reviews_are_answered_in_kind_and_subresources_allowed);
    tcase_add_test(tc, test_base64_round_trips_and_rejects_garbage);
    suite_add_tcase(s, tc);
    TCase *certs = tcase_create("certificates");
    tcase_add_checked_fixture(certs, setup, teardown);
    tcase_set_timeout(certs, 120);
    tcase_add_test(certs, test_serving_certificate_names_hosts_in_sans_only_and_verifies);
    tcase_add_test(certs, test_serving_certificate_ends_with_its_ca);
    tcase_add_test(certs, test_rotation_is_due_at_two_thirds_of_validity);
    tcase_add_test(certs, test_assess_decides_keep_renew_or_regenerate);
    tcase_add_test(certs, test_bundle_merge_keeps_valid_cas_in_order_once);
    tcase_add_test(certs, test_options_are_checked);
    tcase_add_test(certs, test_https_round_trip_limits_and_reload_from_files);
    suite_add_tcase(s, certs);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    curl_global_cleanup();
    return failed ? 1 : 0;
}

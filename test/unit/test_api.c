/*
 * Unit tests for pkg/api's JSON codec: upstream-style sample manifests round-trip unchanged,
 * keys match case-insensitively as Go's decoder does, unknown fields survive write-backs,
 * wrong types fail with the field path, and encoded values have the Go JSON types the
 * KubeSphere console's API server needs. Fixtures are in test/unit/testdata/api (paths are
 * relative to the repository root, where the tests run).
 */
#include <check.h>
#include <stdint.h>
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

static json_object *parse(const char *text)
{
    json_object *obj = json_tokener_parse(text);
    ck_assert_msg(obj != NULL || strcmp(text, "null") == 0, "bad test JSON: %s", text);
    return obj;
}

/* The value at a dotted path ("spec.config.tag"), NULL when absent or null. */
static json_object *at(json_object *obj, const char *path)
{
    char copy[256];
    snprintf(copy, sizeof copy, "%s", path);
    char *save = NULL;
    for (char *key = strtok_r(copy, ".", &save); key && obj; key = strtok_r(NULL, ".", &save)) {
        json_object *next = NULL;
        if (!json_object_object_get_ex(obj, key, &next))
            return NULL;
        obj = next;
    }
    return obj;
}

static bool has(json_object *obj, const char *path)
{
    char copy[256];
    snprintf(copy, sizeof copy, "%s", path);
    char *last = strrchr(copy, '.');
    json_object *parent = obj;
    const char *key = copy;
    if (last) {
        *last = '\0';
        parent = at(obj, copy);
        key = last + 1;
    }
    return parent && json_object_object_get_ex(parent, key, NULL);
}

static const char *str_at(json_object *obj, const char *path)
{
    json_object *v = at(obj, path);
    ck_assert_msg(v && json_object_is_type(v, json_type_string), "%s is not a string", path);
    return json_object_get_string(v);
}

static const char *text(json_object *obj)
{
    return json_object_to_json_string_ext(obj,
                                          JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static void assert_same_json(json_object *want, json_object *got)
{
    ck_assert_msg(json_object_equal(want, got), "JSON differs:\nwant %s\ngot  %s",
                  json_object_to_json_string_ext(want, JSON_C_TO_STRING_PLAIN),
                  json_object_to_json_string_ext(got, JSON_C_TO_STRING_PLAIN));
}

static api_s2ibuilder_t *decode_builder(json_object *obj)
{
    api_s2ibuilder_t *b = NULL;
    char *err = NULL;
    ck_assert_msg(api_s2ibuilder_decode(obj, &b, &err) == 0, "decode: %s", err ? err : "?");
    return b;
}

static api_s2irun_t *decode_run(json_object *obj)
{
    api_s2irun_t *r = NULL;
    char *err = NULL;
    ck_assert_msg(api_s2irun_decode(obj, &r, &err) == 0, "decode: %s", err ? err : "?");
    return r;
}

static time_t epoch(const char *rfc3339)
{
    time_t t;
    ck_assert_int_eq(util_parse_rfc3339(rfc3339, &t), 0);
    return t;
}

/* ---- round trips ------------------------------------------------------------------------ */

typedef enum { KIND_BUILDER, KIND_RUN, KIND_TEMPLATE } kind_t;

static json_object *round_trip(kind_t kind, json_object *obj)
{
    char *err = NULL;
    json_object *out = NULL;
    if (kind == KIND_BUILDER) {
        api_s2ibuilder_t *v = NULL;
        ck_assert_msg(api_s2ibuilder_decode(obj, &v, &err) == 0, "%s", err);
        out = api_s2ibuilder_encode(v);
        api_s2ibuilder_free(v);
    } else if (kind == KIND_RUN) {
        api_s2irun_t *v = NULL;
        ck_assert_msg(api_s2irun_decode(obj, &v, &err) == 0, "%s", err);
        out = api_s2irun_encode(v);
        api_s2irun_free(v);
    } else {
        api_s2ibuilder_template_t *v = NULL;
        ck_assert_msg(api_s2ibuilder_template_decode(obj, &v, &err) == 0, "%s", err);
        out = api_s2ibuilder_template_encode(v);
        api_s2ibuilder_template_free(v);
    }
    ck_assert_ptr_nonnull(out);
    return out;
}

static const struct {
    const char *file;
    kind_t kind;
} samples[] = {
    {"builder.json", KIND_BUILDER},   {"builder_from_template.json", KIND_BUILDER},
    {"run.json", KIND_RUN},           {"run_b2i.json", KIND_RUN},
    {"template.json", KIND_TEMPLATE},
};

START_TEST(test_samples_round_trip_byte_for_byte)
{
    json_object *in = load(samples[_i].file);
    json_object *out = round_trip(samples[_i].kind, in);
    assert_same_json(in, out);
    /* Keys keep their places too, so the serialised text is the same. */
    ck_assert_str_eq(text(out), text(in));
    json_object_put(out);
    json_object_put(in);
}
END_TEST

START_TEST(test_builder_sample_decodes_every_kind_of_field)
{
    json_object *in = load("builder.json");
    api_s2ibuilder_t *b = decode_builder(in);
    ck_assert_str_eq(b->metadata.name, "java-sample-latest-x7k");
    ck_assert_str_eq(b->metadata.namespace, "demo");
    ck_assert_int_eq(b->metadata.generation, 3);
    ck_assert(b->metadata.creation_timestamp.set);
    ck_assert_int_eq(b->metadata.creation_timestamp.seconds, epoch("2026-11-20T08:15:02Z"));
    ck_assert_str_eq(api_map_get(&b->metadata.labels, "s2i-type.kubesphere.io"), "s2i");
    ck_assert_str_eq(api_map_get(&b->metadata.annotations, "languageType"), "java");
    ck_assert(api_strings_contains(&b->metadata.finalizers, API_FINALIZER_BUILDER));

    const api_s2i_config_t *c = b->spec.config;
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(c->builder_image, "kubesphere/java-8-centos7:v2.1.0");
    ck_assert_str_eq(c->image_name, "harbor.example.com/demo/java-sample");
    ck_assert_str_eq(c->builder_pull_policy, API_PULL_IF_NOT_PRESENT);
    ck_assert(c->export && c->output_build_result && !c->incremental);
    ck_assert_uint_eq(c->environment_len, 2);
    ck_assert_str_eq(c->environment[1].name, "JAVA_OPTIONS");
    ck_assert_str_eq(c->environment[1].value, "-Xmx512m");
    ck_assert_ptr_nonnull(c->push_authentication);
    ck_assert_str_eq(c->push_authentication->secret_ref->name, "harbor-secret");
    ck_assert_ptr_null(c->pull_authentication);
    ck_assert_str_eq(c->git_secret_ref->name, "github-basic");
    ck_assert_str_eq(c->docker_config->end_point, "unix:///var/run/docker.sock");
    ck_assert_int_eq(c->cgroup_limits->memory_limit_bytes, 2147483648LL);
    ck_assert_int_eq(c->cgroup_limits->cpu_quota, -1);
    ck_assert_uint_eq(c->build_volumes.len, 1);
    ck_assert_str_eq(api_map_get(&c->labels, "app"), "java-sample");
    ck_assert_str_eq(c->runtime_image, "");

    ck_assert_int_eq(b->status.run_count, 2);
    ck_assert_str_eq(b->status.last_run_state, API_RUN_STATE_SUCCESSFUL);
    ck_assert_str_eq(b->status.last_run_name, "java-sample-latest-x7k-9zq");
    ck_assert_int_eq(b->status.last_run_start_time.seconds, epoch("2026-11-26T06:33:38Z"));
    ck_assert_ptr_null(b->spec.from_template);
    ck_assert_int_eq(b->spec.successful_runs_history_limit, -1);
    ck_assert_int_eq(b->spec.failed_runs_history_limit, -1);
    api_s2ibuilder_free(b);
    json_object_put(in);
}
END_TEST

START_TEST(test_run_sample_decodes_status_and_additions)
{
    json_object *in = load("run.json");
    api_s2irun_t *r = decode_run(in);
    ck_assert_str_eq(r->spec.builder_name, "java-sample-latest-x7k");
    ck_assert_int_eq(r->spec.backoff_limit, 2);
    ck_assert_int_eq(r->spec.seconds_after_finished, 600);
    ck_assert_str_eq(r->spec.timeout, "1h30m");
    ck_assert_str_eq(r->spec.pending_timeout, "10m");
    ck_assert_str_eq(r->status.run_state, API_RUN_STATE_SUCCESSFUL);
    ck_assert_int_eq(r->status.s2i_build_result->image_size, 6442450944LL);
    ck_assert_uint_eq(r->status.s2i_build_result->image_repo_tags.len, 1);
    ck_assert_str_eq(r->status.s2i_build_source->commit_id,
                     "9f1c2e7a0b4d6e8f1a2b3c4d5e6f708192a3b4c5");
    ck_assert_uint_eq(r->status.conditions_len, 1);
    ck_assert_str_eq(r->status.conditions[0].type, API_CONDITION_SUCCEEDED);
    ck_assert_int_eq(r->status.conditions[0].observed_generation, 1);
    ck_assert_int_eq(r->status.observed_generation, 1);
    ck_assert(util_has_prefix(r->status.log_tail, "[INFO] BUILD SUCCESS\n"));
    api_s2irun_free(r);
    json_object_put(in);

    in = load("run_b2i.json");
    r = decode_run(in);
    ck_assert_str_eq(r->spec.state, API_RUN_SPEC_STATE_CANCELLED);
    ck_assert(r->status.s2i_build_source->binary_size == UINT64_MAX);
    ck_assert_ptr_null(r->status.s2i_build_result);
    api_s2irun_free(r);
    json_object_put(in);
}
END_TEST

START_TEST(test_template_sample_decodes_parameters_from_environment)
{
    json_object *in = load("template.json");
    api_s2ibuilder_template_t *t = NULL;
    ck_assert_int_eq(api_s2ibuilder_template_decode(in, &t, NULL), 0);
    ck_assert_uint_eq(t->spec.container_info_len, 3);
    ck_assert_str_eq(t->spec.container_info[2].runtime_image, "python:3.6-slim");
    ck_assert(t->spec.container_info[2].runtime_artifacts[0].keep);
    ck_assert_uint_eq(t->spec.parameters_len, 2);
    ck_assert_str_eq(t->spec.parameters[0].key, "APP_FILE");
    ck_assert(t->spec.parameters[0].required);
    ck_assert_uint_eq(t->spec.parameters[1].opt_values.len, 2);
    ck_assert_str_eq(t->spec.default_base_image, "kubesphere/python-36-centos7:v2.1.0");
    api_s2ibuilder_template_free(t);
    json_object_put(in);
}
END_TEST

/* ---- unknown fields ------------------------------------------------------------------------ */

START_TEST(test_write_back_keeps_console_keys_and_changes_only_known_fields)
{
    json_object *in = load("builder.json");
    api_s2ibuilder_t *b = decode_builder(in);
    ck_assert_int_eq(api_set_string(&b->spec.config->tag, "v2"), 0);
    b->status.run_count = 3;
    ck_assert_int_eq(api_set_string(&b->status.last_run_state, API_RUN_STATE_RUNNING), 0);
    ck_assert_int_eq(api_map_set(&b->metadata.labels, "app", "java"), 0);
    json_object *out = api_s2ibuilder_encode(b);
    api_s2ibuilder_free(b);

    ck_assert_str_eq(str_at(out, "spec.config.tag"), "v2");
    ck_assert_int_eq(json_object_get_int(at(out, "status.runCount")), 3);
    ck_assert_str_eq(str_at(out, "metadata.labels.app"), "java");
    /* What the console wrote and we do not know is there, unchanged. */
    ck_assert_int_eq(json_object_get_int(at(out, "spec.config.replicas")), 0);
    ck_assert_str_eq(str_at(out, "spec.config.type"), "java");
    assert_same_json(at(in, "spec.config.x-console-extra"), at(out, "spec.config.x-console-extra"));
    assert_same_json(at(in, "metadata.managedFields"), at(out, "metadata.managedFields"));

    /* Undo the three edits in the input: then the objects are equal. */
    json_object_object_add(at(in, "spec.config"), "tag", json_object_new_string("v2"));
    json_object_object_add(at(in, "status"), "runCount", json_object_new_int(3));
    json_object_object_add(at(in, "status"), "lastRunState", json_object_new_string("Running"));
    json_object_object_add(at(in, "metadata.labels"), "app", json_object_new_string("java"));
    assert_same_json(in, out);
    json_object_put(out);
    json_object_put(in);
}
END_TEST

START_TEST(test_decoded_value_shares_nothing_with_the_input)
{
    json_object *in = load("builder.json");
    api_s2ibuilder_t *b = decode_builder(in);
    /* Changing (or freeing) the caller's object afterwards does not reach the value. */
    json_object_object_add(at(in, "spec.config"), "late", json_object_new_string("x"));
    json_object_object_del(at(in, "spec.config"), "type");
    json_object_put(in);
    json_object *out = api_s2ibuilder_encode(b);
    ck_assert(!has(out, "spec.config.late"));
    ck_assert_str_eq(str_at(out, "spec.config.type"), "java");
    /* And the encoded object is the caller's alone. */
    json_object_object_add(at(out, "spec.config"), "mine", json_object_new_int(1));
    json_object *again = api_s2ibuilder_encode(b);
    ck_assert(!has(again, "spec.config.mine"));
    json_object_put(again);
    json_object_put(out);
    api_s2ibuilder_free(b);
}
END_TEST

START_TEST(test_zero_values_written_by_hand_are_kept_and_cleared_values_dropped)
{
    json_object *in = parse("{\"apiVersion\": \"devops.kubesphere.io/v1alpha1\", \"kind\": "
                            "\"S2iBuilder\", \"metadata\": {\"name\": \"z\"}, "
                            "\"spec\": {\"config\": {\"incremental\": false, \"tag\": \"\", "
                            "\"labels\": {}, \"buildVolumes\": [], \"export\": true, "
                            "\"revisionId\": \"main\", \"imageName\": \"x\", \"sourceUrl\": "
                            "\"y\"}}, \"status\": {\"runCount\": 0}}");
    json_object *out = round_trip(KIND_BUILDER, in);
    ck_assert_str_eq(text(out), text(in));
    json_object_put(out);

    api_s2ibuilder_t *b = decode_builder(in);
    b->spec.config->export = false;
    ck_assert_int_eq(api_set_string(&b->spec.config->revision_id, NULL), 0);
    out = api_s2ibuilder_encode(b);
    ck_assert(!has(out, "spec.config.export"));
    ck_assert(!has(out, "spec.config.revisionId"));
    ck_assert(has(out, "spec.config.incremental"));
    json_object_put(out);
    api_s2ibuilder_free(b);
    json_object_put(in);
}
END_TEST

/* ---- case-insensitive keys ------------------------------------------------------------------ */

START_TEST(test_keys_match_case_insensitively_as_go_does)
{
    json_object *in = load("builder_mixed_case.json");
    api_s2ibuilder_t *b = decode_builder(in);
    const api_s2i_config_t *c = b->spec.config;
    ck_assert_str_eq(b->api_version, API_GROUP_VERSION);
    ck_assert_str_eq(b->metadata.name, "mixed-case");
    ck_assert_str_eq(b->metadata.namespace, "demo");
    ck_assert_str_eq(c->source_url, "https://github.com/kubesphere/devops-python-sample.git");
    ck_assert_str_eq(c->image_name, "kubesphere/hello-python");
    ck_assert_str_eq(c->builder_image, "kubesphere/python-36-centos7");
    ck_assert_str_eq(c->builder_pull_policy, "always");
    ck_assert(c->export && !c->is_binary_url);
    ck_assert_str_eq(c->push_authentication->username, "robot");
    ck_assert_str_eq(c->push_authentication->password, "s3cret");
    ck_assert_str_eq(c->push_authentication->server_address, "https://index.docker.io/v1/");
    ck_assert_str_eq(c->docker_config->end_point, "tcp://docker:2376");
    ck_assert(c->docker_config->use_tls && c->docker_config->tls_verify);
    ck_assert_str_eq(c->environment[0].name, "A");
    ck_assert_str_eq(c->callback_url, "https://hooks.example.com/done");
    ck_assert_str_eq(c->image_scripts_url, "image:///usr/libexec/s2i");
    ck_assert_str_eq(c->revision_id, "main");
    /* Go folds KELVIN SIGN onto k and LONG S onto s. */
    ck_assert(c->keep_symlinks);
    ck_assert_str_eq(c->secret_code, "k3lvin");

    json_object *out = api_s2ibuilder_encode(b);
    ck_assert_str_eq(str_at(out, "spec.config.sourceUrl"), c->source_url);
    ck_assert_str_eq(str_at(out, "spec.config.imageName"), c->image_name);
    ck_assert_str_eq(str_at(out, "spec.config.callbackUrl"), c->callback_url);
    ck_assert_str_eq(str_at(out, "spec.config.dockerConfig.endPoint"), "tcp://docker:2376");
    ck_assert_str_eq(str_at(out, "spec.config.dockerConfig.certFile"), "");
    ck_assert(has(out, "spec.config.keepSymlinks"));
    ck_assert(has(out, "spec.config.SomethingElse.kept"));
    ck_assert(!has(out, "spec.config.SourceURL"));
    ck_assert(!has(out, "Spec"));
    ck_assert_str_eq(str_at(out, "apiVersion"), API_GROUP_VERSION);
    ck_assert_str_eq(str_at(out, "kind"), API_KIND_BUILDER);
    ck_assert(!has(out, "KIND"));
    json_object_put(out);
    api_s2ibuilder_free(b);
    json_object_put(in);
}
END_TEST

START_TEST(test_later_key_wins_when_two_land_in_one_field)
{
    json_object *in = parse("{\"spec\": {\"config\": {\"tag\": \"a\", \"TAG\": \"b\"}}}");
    api_s2ibuilder_t *b = decode_builder(in);
    ck_assert_str_eq(b->spec.config->tag, "b");
    json_object *out = api_s2ibuilder_encode(b);
    ck_assert_str_eq(text(at(out, "spec.config")),
                     "{\"tag\":\"b\",\"imageName\":\"\",\"sourceUrl\":\"\"}");
    json_object_put(out);
    api_s2ibuilder_free(b);
    json_object_put(in);

    in = parse("{\"spec\": {\"config\": {\"Tag\": \"b\", \"tag\": \"a\"}}}");
    b = decode_builder(in);
    ck_assert_str_eq(b->spec.config->tag, "a");
    api_s2ibuilder_free(b);
    json_object_put(in);
}
END_TEST

/* ---- decode errors and nulls ------------------------------------------------------------------
 */

static const struct {
    kind_t kind;
    const char *json;
    const char *error;
} bad_types[] = {
    {KIND_RUN, "{\"status\": {\"s2iBuildResult\": {\"imageSize\": \"12\"}}}",
     "status.s2iBuildResult.imageSize: expected integer"},
    {KIND_BUILDER, "{\"spec\": {\"config\": {\"imageSize\": 1, \"imageName\": 5}}}",
     "spec.config.imageName: expected string"},
    {KIND_BUILDER,
     "{\"spec\": {\"config\": {\"environment\": [{\"name\": \"a\"}, {\"name\": 1}]}}}",
     "spec.config.environment[1].name: expected string"},
    {KIND_BUILDER, "{\"spec\": {\"config\": {\"labels\": {\"app\": 1}}}}",
     "spec.config.labels[app]: expected string"},
    {KIND_BUILDER, "{\"spec\": {\"config\": {\"export\": \"true\"}}}",
     "spec.config.export: expected boolean"},
    {KIND_BUILDER, "{\"spec\": {\"config\": {\"buildVolumes\": \"x\"}}}",
     "spec.config.buildVolumes: expected array"},
    {KIND_BUILDER, "{\"spec\": {\"config\": {\"buildVolumes\": [\"x\", 2]}}}",
     "spec.config.buildVolumes[1]: expected string"},
    {KIND_BUILDER, "{\"spec\": {\"config\": {\"pushAuthentication\": {\"secretRef\": \"s\"}}}}",
     "spec.config.pushAuthentication.secretRef: expected object"},
    {KIND_BUILDER, "{\"spec\": []}", "spec: expected object"},
    {KIND_BUILDER, "{\"status\": {\"conditions\": [1]}}", "status.conditions[0]: expected object"},
    {KIND_BUILDER, "{\"status\": {\"runCount\": 9223372036854775808}}",
     "status.runCount: integer out of range"},
    {KIND_BUILDER, "{\"spec\": {\"successfulRunsHistoryLimit\": 2147483648}}",
     "spec.successfulRunsHistoryLimit: integer out of range"},
    {KIND_RUN, "{\"spec\": {\"backoffLimit\": 3000000000}}",
     "spec.backoffLimit: integer out of range"},
    {KIND_RUN, "{\"spec\": {\"backoffLimit\": 1.0}}", "spec.backoffLimit: expected integer"},
    {KIND_RUN, "{\"spec\": {\"backoffLimit\": 1e2}}", "spec.backoffLimit: expected integer"},
    {KIND_RUN, "{\"status\": {\"s2iBuildSource\": {\"binarySize\": -1}}}",
     "status.s2iBuildSource.binarySize: expected non-negative integer"},
    {KIND_RUN, "{\"status\": {\"s2iBuildSource\": {\"binarySize\": \"12\"}}}",
     "status.s2iBuildSource.binarySize: expected integer"},
    {KIND_RUN, "{\"status\": {\"startTime\": \"yesterday\"}}",
     "status.startTime: expected RFC 3339 time"},
    {KIND_RUN, "{\"status\": {\"startTime\": \"9999-12-31T23:59:59-01:00\"}}",
     "status.startTime: expected RFC 3339 time"},
    {KIND_RUN, "{\"metadata\": {\"creationTimestamp\": 17}}",
     "metadata.creationTimestamp: expected RFC 3339 time"},
    {KIND_RUN,
     "{\"status\": {\"conditions\": [{\"type\": \"Succeeded\", \"lastTransitionTime\": "
     "\"\"}]}}",
     "status.conditions[0].lastTransitionTime: expected RFC 3339 time"},
    {KIND_TEMPLATE,
     "{\"spec\": {\"containerInfo\": [{}, {\"runtimeArtifacts\": [{\"keep\": \"yes\"}]}]}}",
     "spec.containerInfo[1].runtimeArtifacts[0].keep: expected boolean"},
    {KIND_TEMPLATE, "{\"spec\": {\"environment\": [{\"optValues\": [true]}]}}",
     "spec.environment[0].optValues[0]: expected string"},
    {KIND_TEMPLATE, "[]", "expected object"},
    {KIND_TEMPLATE, "\"S2iBuilderTemplate\"", "expected object"},
};

START_TEST(test_wrong_json_types_fail_with_the_field_path)
{
    json_object *in = parse(bad_types[_i].json);
    char *err = NULL;
    int rc;
    if (bad_types[_i].kind == KIND_BUILDER) {
        api_s2ibuilder_t *b = (api_s2ibuilder_t *)0x1;
        rc = api_s2ibuilder_decode(in, &b, &err);
        ck_assert_ptr_eq(b, (api_s2ibuilder_t *)0x1);
    } else if (bad_types[_i].kind == KIND_RUN) {
        api_s2irun_t *r = NULL;
        rc = api_s2irun_decode(in, &r, &err);
        ck_assert_ptr_null(r);
    } else {
        api_s2ibuilder_template_t *t = NULL;
        rc = api_s2ibuilder_template_decode(in, &t, &err);
        ck_assert_ptr_null(t);
    }
    ck_assert_int_eq(rc, -1);
    ck_assert_ptr_nonnull(err);
    ck_assert_str_eq(err, bad_types[_i].error);
    free(err);
    json_object_put(in);
}
END_TEST

START_TEST(test_null_empties_pointers_and_lists_and_leaves_values)
{
    json_object *in = parse("{\"metadata\": null, \"spec\": {\"config\": {\"tag\": null, "
                            "\"environment\": [null, {\"name\": \"A\", \"value\": null}], "
                            "\"buildVolumes\": [\"a\", null], \"labels\": {\"k\": null}, "
                            "\"dockerConfig\": null, \"export\": null}, \"fromTemplate\": null}, "
                            "\"status\": {\"lastRunName\": null, \"lastRunStartTime\": null}}");
    api_s2ibuilder_t *b = decode_builder(in);
    const api_s2i_config_t *c = b->spec.config;
    ck_assert_ptr_null(c->tag);
    ck_assert_uint_eq(c->environment_len, 2);
    ck_assert_ptr_null(c->environment[0].name);
    ck_assert_str_eq(c->environment[1].name, "A");
    ck_assert_str_eq(c->build_volumes.items[1], "");
    ck_assert_str_eq(api_map_get(&c->labels, "k"), "");
    ck_assert_ptr_null(c->docker_config);
    ck_assert_ptr_null(b->spec.from_template);
    ck_assert_ptr_null(b->status.last_run_name);
    ck_assert(!b->status.last_run_start_time.set);
    api_s2ibuilder_free(b);
    json_object_put(in);

    in = parse("{\"spec\": {\"config\": null}}");
    b = decode_builder(in);
    ck_assert_ptr_null(b->spec.config);
    api_s2ibuilder_free(b);
    json_object_put(in);

    char *err = NULL;
    ck_assert_int_eq(api_s2irun_decode(NULL, &(api_s2irun_t *){NULL}, &err), -1);
    ck_assert_str_eq(err, "expected object");
    free(err);
}
END_TEST

/* ---- encoding: JSON types and omitempty ------------------------------------------------------ */

START_TEST(test_status_fields_have_the_go_json_types)
{
    api_s2irun_t *r = api_s2irun_new();
    ck_assert_int_eq(api_set_string(&r->spec.builder_name, "b"), 0);
    r->status.start_time = (api_time_t){epoch("2026-11-26T06:33:38Z"), true};
    r->status.s2i_build_result = api_s2i_build_result_new();
    r->status.s2i_build_result->image_size = 6442450944LL;
    r->status.s2i_build_source = api_s2i_build_source_new();
    r->status.s2i_build_source->binary_size = UINT64_MAX;
    json_object *out = api_s2irun_encode(r);

    json_object *size = at(out, "status.s2iBuildResult.imageSize");
    ck_assert(json_object_is_type(size, json_type_int));
    ck_assert_int_eq(json_object_get_int64(size), 6442450944LL);
    json_object *binary = at(out, "status.s2iBuildSource.binarySize");
    ck_assert(json_object_is_type(binary, json_type_int));
    ck_assert(json_object_get_uint64(binary) == UINT64_MAX);
    ck_assert(strstr(text(out), "\"binarySize\":18446744073709551615") != NULL);
    ck_assert_str_eq(str_at(out, "status.startTime"), "2026-11-26T06:33:38Z");
    ck_assert(!has(out, "status.completionTime"));
    ck_assert(!has(out, "status.runState"));
    ck_assert_str_eq(str_at(out, "apiVersion"), API_GROUP_VERSION);
    ck_assert_str_eq(str_at(out, "kind"), API_KIND_RUN);
    ck_assert_str_eq(str_at(out, "spec.builderName"), "b");
    ck_assert(!has(out, "spec.backoffLimit"));
    json_object_put(out);
    api_s2irun_free(r);
}
END_TEST

START_TEST(test_builder_encodes_run_count_and_required_config_fields_always)
{
    api_s2ibuilder_t *b = api_s2ibuilder_new();
    b->spec.config = api_s2i_config_new();
    json_object *out = api_s2ibuilder_encode(b);
    /* runCount, imageName and sourceUrl have no omitempty upstream. */
    ck_assert_str_eq(text(out), "{\"metadata\":{},\"spec\":{\"config\":{\"imageName\":\"\","
                                "\"sourceUrl\":\"\"}},\"status\":{\"runCount\":0},"
                                "\"apiVersion\":\"devops.kubesphere.io/v1alpha1\",\"kind\":"
                                "\"S2iBuilder\"}");
    json_object_put(out);

    /* DockerConfig and CGroupLimits fields are written even when zero; a *string status field
     * is written when set, even empty; unset history limits are omitted, 0 is not. */
    b->spec.config->docker_config = api_docker_config_new();
    b->spec.config->cgroup_limits = api_cgroup_limits_new();
    b->spec.config->script_download_proxy_config = api_proxy_config_new();
    b->spec.config->git_secret_ref = api_local_object_reference_new();
    b->spec.config->pull_authentication = api_auth_config_new();
    b->spec.config->pull_authentication->secret_ref = api_local_object_reference_new();
    ck_assert_int_eq(api_set_string(&b->status.last_run_name, ""), 0);
    b->spec.failed_runs_history_limit = 0;
    out = api_s2ibuilder_encode(b);
    ck_assert_str_eq(text(at(out, "spec.config.dockerConfig")),
                     "{\"endPoint\":\"\",\"certFile\":\"\",\"keyFile\":\"\",\"caFile\":\"\","
                     "\"useTLS\":false,\"tlsVerify\":false}");
    ck_assert_str_eq(text(at(out, "spec.config.cgroupLimits")),
                     "{\"memoryLimitBytes\":0,\"cpuShares\":0,\"cpuPeriod\":0,\"cpuQuota\":0,"
                     "\"memorySwap\":0,\"parent\":\"\"}");
    ck_assert_str_eq(text(at(out, "spec.config.scriptDownloadProxyConfig")), "{}");
    ck_assert_str_eq(text(at(out, "spec.config.gitSecretRef")), "{}");
    ck_assert_str_eq(text(at(out, "spec.config.pullAuthentication")), "{\"secretRef\":{}}");
    ck_assert_str_eq(str_at(out, "status.lastRunName"), "");
    ck_assert(!has(out, "spec.successfulRunsHistoryLimit"));
    ck_assert_int_eq(json_object_get_int(at(out, "spec.failedRunsHistoryLimit")), 0);
    json_object_put(out);
    api_s2ibuilder_free(b);
}
END_TEST

START_TEST(test_conditions_encode_as_metav1_condition)
{
    api_s2ibuilder_t *b = api_s2ibuilder_new();
    api_condition_t ready = {.type = "Ready", .status = "True", .reason = "Resolved"};
    ck_assert_int_eq(api_condition_set(&b->status.conditions, &b->status.conditions_len, &ready,
                                       epoch("2026-11-26T06:33:38Z")),
                     1);
    b->status.observed_generation = 4;
    json_object *out = api_s2ibuilder_encode(b);
    ck_assert_str_eq(text(at(out, "status")),
                     "{\"runCount\":0,\"observedGeneration\":4,\"conditions\":[{\"type\":"
                     "\"Ready\",\"status\":\"True\",\"lastTransitionTime\":"
                     "\"2026-11-26T06:33:38Z\",\"reason\":\"Resolved\",\"message\":\"\"}]}");
    json_object_put(out);
    api_s2ibuilder_free(b);
}
END_TEST

START_TEST(test_copy_is_deep_and_equal)
{
    json_object *in = load("run.json");
    api_s2irun_t *r = decode_run(in);
    api_s2irun_t *copy = api_s2irun_copy(r);
    ck_assert_ptr_nonnull(copy);
    ck_assert_ptr_ne(copy->status.s2i_build_result, r->status.s2i_build_result);
    ck_assert_int_eq(api_set_string(&copy->status.run_state, API_RUN_STATE_FAILED), 0);
    ck_assert_str_eq(r->status.run_state, API_RUN_STATE_SUCCESSFUL);
    api_s2irun_free(r);
    json_object *out = api_s2irun_encode(copy);
    json_object_object_add(at(in, "status"), "runState", json_object_new_string("Failed"));
    assert_same_json(in, out);
    json_object_put(out);
    api_s2irun_free(copy);
    json_object_put(in);

    in = load("builder.json");
    api_s2ibuilder_t *b = decode_builder(in);
    api_s2ibuilder_t *bc = api_s2ibuilder_copy(b);
    api_s2i_config_t *config = api_s2i_config_copy(b->spec.config);
    api_s2ibuilder_free(b);
    out = api_s2ibuilder_encode(bc);
    assert_same_json(in, out);
    json_object_put(out);
    out = api_s2i_config_encode(config);
    assert_same_json(at(in, "spec.config"), out);
    json_object_put(out);
    api_s2i_config_free(config);
    api_s2ibuilder_free(bc);
    json_object_put(in);
}
END_TEST

START_TEST(test_pod_annotations_decode_as_result_and_source)
{
    json_object *result = parse("{\"imageID\": \"sha256:abc\", \"imageCreated\": "
                                "\"2026-11-26T06:40:55.1Z\", \"imageRepoTags\": [\"a:b\"], "
                                "\"imageSize\": 1234, \"commandPull\": \"docker pull a:b\"}");
    api_s2i_build_result_t *r = NULL;
    ck_assert_int_eq(api_s2i_build_result_decode(result, &r, NULL), 0);
    ck_assert_int_eq(r->image_size, 1234);
    ck_assert_ptr_null(r->image_name);
    ck_assert_int_eq(api_set_string(&r->image_name, "harbor/x"), 0);
    json_object *out = api_s2i_build_result_encode(r);
    ck_assert_str_eq(str_at(out, "imageName"), "harbor/x");
    ck_assert_str_eq(str_at(out, "imageCreated"), "2026-11-26T06:40:55.1Z");
    json_object_put(out);
    api_s2i_build_result_free(r);
    json_object_put(result);

    json_object *source = parse("{\"binaryName\": \"app.war\", \"binarySize\": 18500000, "
                                "\"CommitId\": \"abc\"}");
    api_s2i_build_source_t *s = NULL;
    ck_assert_int_eq(api_s2i_build_source_decode(source, &s, NULL), 0);
    ck_assert(s->binary_size == 18500000u);
    ck_assert_str_eq(s->commit_id, "abc");
    out = api_s2i_build_source_encode(s);
    ck_assert_str_eq(text(out), "{\"binaryName\":\"app.war\",\"binarySize\":18500000,"
                                "\"commitID\":\"abc\"}");
    json_object_put(out);
    api_s2i_build_source_free(s);
    json_object_put(source);

    char *err = NULL;
    source = parse("{\"binarySize\": -5}");
    ck_assert_int_eq(api_s2i_build_source_decode(source, &s, &err), -1);
    ck_assert_str_eq(err, "binarySize: expected non-negative integer");
    free(err);
    json_object_put(source);
}
END_TEST

/* ---- the autoscale annotation ------------------------------------------------------------------
 */

START_TEST(test_autoscale_annotation_as_the_console_writes_it)
{
    api_s2i_autoscale_list_t list;
    char *err = NULL;
    ck_assert_int_eq(api_s2i_autoscale_list_parse("[{ \"Kind\": \"Deployment\", \"Name\": "
                                                  "\"web\", \"initReplicas\": 2, \"container\": "
                                                  "\"app\" }, {\"kind\": \"StatefulSet\", "
                                                  "\"name\": \"db\", \"containers\": [\"a\"]}]",
                                                  &list, &err),
                     0);
    ck_assert_uint_eq(list.len, 2);
    ck_assert_str_eq(list.items[0].kind, API_KIND_DEPLOYMENT);
    ck_assert_str_eq(list.items[0].name, "web");
    ck_assert_int_eq(list.items[0].init_replicas, 2);
    ck_assert_uint_eq(list.items[0].containers.len, 0);
    ck_assert_int_eq(list.items[1].init_replicas, -1);
    ck_assert_str_eq(list.items[1].containers.items[0], "a");
    char *text_out = api_s2i_autoscale_list_format(&list);
    ck_assert_str_eq(text_out, "[{\"kind\":\"Deployment\",\"name\":\"web\",\"initReplicas\":2,"
                               "\"container\":\"app\"},{\"kind\":\"StatefulSet\",\"name\":\"db\","
                               "\"containers\":[\"a\"]}]");
    free(text_out);
    api_s2i_autoscale_list_clear(&list);

    ck_assert_int_eq(api_s2i_autoscale_list_parse("null", &list, NULL), 0);
    ck_assert_uint_eq(list.len, 0);
    ck_assert_int_eq(api_s2i_autoscale_list_parse(" [ ] ", &list, NULL), 0);
    ck_assert_uint_eq(list.len, 0);

    const char *bad[] = {"", "[", "{}", "[] x", "[{\"kind\": 1}]", "[1]"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++) {
        err = NULL;
        ck_assert_msg(api_s2i_autoscale_list_parse(bad[i], &list, &err) == -1, "%s", bad[i]);
        ck_assert_ptr_nonnull(err);
        free(err);
    }
    ck_assert_int_eq(api_s2i_autoscale_list_parse("{}", &list, &err), -1);
    ck_assert_str_eq(err, "expected array");
    free(err);
    ck_assert_int_eq(api_s2i_autoscale_list_parse("[{\"Name\": 1}]", &list, &err), -1);
    ck_assert_str_eq(err, "[0].name: expected string");
    free(err);
}
END_TEST

/* ---- field helpers ----------------------------------------------------------------------------
 */

START_TEST(test_map_and_string_list_helpers)
{
    api_map_t m = {NULL, 0};
    ck_assert_ptr_null(api_map_get(&m, "a"));
    ck_assert_int_eq(api_map_set(&m, "a", "1"), 0);
    ck_assert_int_eq(api_map_set(&m, "b", "2"), 0);
    ck_assert_int_eq(api_map_set(&m, "a", "3"), 0);
    ck_assert_uint_eq(m.len, 2);
    ck_assert_str_eq(m.items[0].key, "a");
    ck_assert_str_eq(api_map_get(&m, "a"), "3");
    ck_assert(api_map_delete(&m, "a"));
    ck_assert(!api_map_delete(&m, "a"));
    ck_assert_str_eq(m.items[0].key, "b");
    ck_assert(api_map_delete(&m, "b"));
    ck_assert_ptr_null(m.items);

    api_strings_t s = {NULL, 0};
    ck_assert_int_eq(api_strings_append(&s, "x"), 0);
    ck_assert_int_eq(api_strings_append(&s, "y"), 0);
    ck_assert_int_eq(api_strings_append(&s, "x"), 0);
    ck_assert(api_strings_contains(&s, "y"));
    ck_assert(api_strings_remove(&s, "x"));
    ck_assert_uint_eq(s.len, 1);
    ck_assert(!api_strings_remove(&s, "x"));
    ck_assert(api_strings_remove(&s, "y"));
    ck_assert_ptr_null(s.items);
}
END_TEST

START_TEST(test_condition_set_moves_transition_time_only_on_status_change)
{
    api_condition_t *list = NULL;
    size_t len = 0;
    api_condition_t c = {.type = "Succeeded", .status = "Unknown", .reason = "Running"};
    ck_assert_int_eq(api_condition_set(&list, &len, &c, 100), 1);
    ck_assert_int_eq(api_condition_set(&list, &len, &c, 200), 0);
    ck_assert_int_eq(list[0].last_transition_time.seconds, 100);
    c.message = "still running";
    c.observed_generation = 2;
    ck_assert_int_eq(api_condition_set(&list, &len, &c, 300), 1);
    ck_assert_int_eq(list[0].last_transition_time.seconds, 100);
    ck_assert_int_eq(list[0].observed_generation, 2);
    c.status = "False";
    c.reason = "Timeout";
    ck_assert_int_eq(api_condition_set(&list, &len, &c, 400), 1);
    ck_assert_int_eq(list[0].last_transition_time.seconds, 400);
    ck_assert_str_eq(list[0].reason, "Timeout");
    api_condition_t other = {.type = "Ready", .status = "True", .last_transition_time = {50, true}};
    ck_assert_int_eq(api_condition_set(&list, &len, &other, 500), 1);
    ck_assert_uint_eq(len, 2);
    ck_assert_int_eq(list[1].last_transition_time.seconds, 50);
    ck_assert_ptr_eq(api_condition_find(list, len, "Ready"), &list[1]);
    ck_assert_ptr_null(api_condition_find(list, len, "Missing"));
    api_condition_t untyped = {.status = "True"};
    ck_assert_int_eq(api_condition_set(&list, &len, &untyped, 0), -1);

    /* Freed as part of a status. */
    api_s2irun_t *r = api_s2irun_new();
    r->status.conditions = list;
    r->status.conditions_len = len;
    api_s2irun_free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("codec");
    tcase_add_loop_test(tc, test_samples_round_trip_byte_for_byte, 0, UTIL_ARRAY_LEN(samples));
    tcase_add_test(tc, test_builder_sample_decodes_every_kind_of_field);
    tcase_add_test(tc, test_run_sample_decodes_status_and_additions);
    tcase_add_test(tc, test_template_sample_decodes_parameters_from_environment);
    tcase_add_test(tc, test_write_back_keeps_console_keys_and_changes_only_known_fields);
    tcase_add_test(tc, test_decoded_value_shares_nothing_with_the_input);
    tcase_add_test(tc, test_zero_values_written_by_hand_are_kept_and_cleared_values_dropped);
    tcase_add_test(tc, test_keys_match_case_insensitively_as_go_does);
    tcase_add_test(tc, test_later_key_wins_when_two_land_in_one_field);
    tcase_add_loop_test(tc, test_wrong_json_types_fail_with_the_field_path, 0,
                        UTIL_ARRAY_LEN(bad_types));
    tcase_add_test(tc, test_null_empties_pointers_and_lists_and_leaves_values);
    tcase_add_test(tc, test_status_fields_have_the_go_json_types);
    tcase_add_test(tc, test_builder_encodes_run_count_and_required_config_fields_always);
    tcase_add_test(tc, test_conditions_encode_as_metav1_condition);
    tcase_add_test(tc, test_copy_is_deep_and_equal);
    tcase_add_test(tc, test_pod_annotations_decode_as_result_and_source);
    tcase_add_test(tc, test_autoscale_annotation_as_the_console_writes_it);
    tcase_add_test(tc, test_map_and_string_list_helpers);
    tcase_add_test(tc, test_condition_set_moves_transition_time_only_on_status_change);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

/*
 * Unit tests for pkg/controller/runstatus: an S2iRun's status from every Job and Pod shape
 * a build goes through, with the JSON types the KubeSphere console's API server decodes
 * (console-contract.md: a wrong type there breaks its cache for everyone).
 *
 * Inputs are the Job and Pod objects a real Kubernetes 1.24 produced
 * (test/conformance/samples), changed only where a shape needs it (a waiting reason, a
 * termination message); the run and its builder are in test/unit/testdata/controller.
 * Paths are relative to the repository root, where the tests run.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/jpath.h"
#include "controller/runstatus.h"
#include "util/util.h"

#define TESTDATA "test/unit/testdata/controller/"
#define SAMPLES  "test/conformance/samples/"
/* 2026-11-26T06:00:00Z: after everything in the samples. */
#define NOW      1795672800.0
#define NOW_TEXT "2026-11-26T06:00:00Z"
#define KS_LOGS  "http://ks-apigateway.kubesphere-system.svc/kapis/logging.kubesphere.io/v1alpha2"

/* ---- helpers ---------------------------------------------------------------------------- */

static json_object *load(const char *path)
{
    json_object *obj = json_object_from_file(path);
    ck_assert_msg(obj != NULL, "cannot read %s", path);
    return obj;
}

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

static bool contains(const char *haystack, const char *needle)
{
    return haystack && strstr(haystack, needle) != NULL;
}

/* A test case: the run (namespace default, as the samples), its builder, a Job, pods. */
typedef struct fixture {
    json_object *run;
    json_object *builder;
    json_object *job;
    json_object *pods[4];
    size_t npods;
    const char *log_url_base;
    /* outputs */
    json_object *status;
    run_phase_t phase;
    const char *pod;
    const char *container;
} fixture_t;

static void fixture_init(fixture_t *f, const char *job_sample)
{
    memset(f, 0, sizeof *f);
    f->run = load(TESTDATA "run.json");
    jpath_set_str(f->run, "metadata.namespace", "default");
    f->builder = load(TESTDATA "builder.json");
    f->job = load(job_sample);
}

/* Adds the pods of a sample (a Pod or a PodList); returns the first one added. */
static json_object *add_pods(fixture_t *f, const char *sample)
{
    json_object *obj = load(sample);
    json_object *items = jpath(obj, "items");
    json_object *first = NULL;
    if (items) {
        for (size_t i = 0; i < json_object_array_length(items); i++) {
            ck_assert_uint_lt(f->npods, 4);
            f->pods[f->npods++] = json_object_get(json_object_array_get_idx(items, i));
            if (!first)
                first = f->pods[f->npods - 1];
        }
        json_object_put(obj);
    } else {
        ck_assert_uint_lt(f->npods, 4);
        f->pods[f->npods++] = obj;
        first = obj;
    }
    return first;
}

static json_object *pod_named(fixture_t *f, const char *name)
{
    for (size_t i = 0; i < f->npods; i++)
        if (util_streq(jpath_str(f->pods[i], "metadata.name"), name))
            return f->pods[i];
    ck_abort_msg("no pod %s", name);
    return NULL;
}

static bool is_time(json_object *v)
{
    time_t t;
    return v && json_object_is_type(v, json_type_string) &&
           util_parse_rfc3339(json_object_get_string(v), &t) == 0;
}

/* An integer the Go int64 / uint64 fields take and the CRD allows (minimum 0). */
static bool is_size(json_object *v)
{
    return json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0 &&
           json_object_get_uint64(v) <= (uint64_t)INT64_MAX;
}

static void assert_only_strings(json_object *obj, const char *what, const char *except)
{
    json_object_object_foreach(obj, key, v)
    {
        if (except && strcmp(key, except) == 0)
            continue;
        ck_assert_msg(json_object_is_type(v, json_type_string), "%s.%s is not a string: %s", what,
                      key, text(obj));
    }
}

/* Every field has the type of upstream's Go struct (and of our CRD schema). */
static void assert_console_types(json_object *st)
{
    ck_assert_msg(json_object_is_type(st, json_type_object), "status: %s", text(st));
    json_object_object_foreach(st, key, v)
    {
        if (!strcmp(key, "startTime") || !strcmp(key, "completionTime")) {
            ck_assert_msg(is_time(v), "%s is not an RFC 3339 time: %s", key, text(st));
        } else if (!strcmp(key, "runState")) {
            const char *s = json_object_get_string(v);
            ck_assert_msg(json_object_is_type(v, json_type_string) &&
                              (!strcmp(s, "Running") || !strcmp(s, "Successful") ||
                               !strcmp(s, "Failed") || !strcmp(s, "Unknown")),
                          "runState: %s", text(st));
        } else if (!strcmp(key, "kubernetesJobName") || !strcmp(key, "logURL") ||
                   !strcmp(key, "logTail")) {
            ck_assert_msg(json_object_is_type(v, json_type_string), "%s: %s", key, text(st));
        } else if (!strcmp(key, "observedGeneration")) {
            ck_assert_msg(is_size(v), "observedGeneration: %s", text(st));
        } else if (!strcmp(key, "s2iBuildResult")) {
            assert_only_strings(v, key, NULL);
        } else if (!strcmp(key, "s2iBuildSource")) {
            assert_only_strings(v, key, "binarySize");
            json_object *size = jpath(v, "binarySize");
            ck_assert_msg(!size || is_size(size), "binarySize: %s", text(st));
        } else if (!strcmp(key, "conditions")) {
            ck_assert(json_object_is_type(v, json_type_array));
            for (size_t i = 0; i < json_object_array_length(v); i++) {
                json_object *c = json_object_array_get_idx(v, i);
                ck_assert_msg(is_time(jpath(c, "lastTransitionTime")), "%s", text(c));
                ck_assert_ptr_nonnull(jpath_str(c, "type"));
                ck_assert_ptr_nonnull(jpath_str(c, "status"));
                ck_assert_ptr_nonnull(jpath_str(c, "reason"));
                ck_assert_ptr_nonnull(jpath_str(c, "message"));
                json_object *g = jpath(c, "observedGeneration");
                ck_assert_msg(!g || is_size(g), "%s", text(c));
            }
        } else {
            ck_abort_msg("unexpected status field %s: %s", key, text(st));
        }
    }
}

/* s2iBuildResult checked apart: imageSize is its one integer, imageRepoTags its array. */
static void assert_result_types(json_object *result)
{
    json_object_object_foreach(result, key, v)
    {
        if (!strcmp(key, "imageSize")) {
            ck_assert_msg(is_size(v), "imageSize: %s", text(result));
        } else if (!strcmp(key, "imageRepoTags")) {
            ck_assert(json_object_is_type(v, json_type_array));
            for (size_t i = 0; i < json_object_array_length(v); i++)
                ck_assert(json_object_is_type(json_object_array_get_idx(v, i), json_type_string));
        } else {
            ck_assert_msg(json_object_is_type(v, json_type_string), "%s: %s", key, text(result));
        }
    }
}

static json_object *compute(fixture_t *f)
{
    runstatus_input_t in = {f->run, f->builder, f->job, f->pods, f->npods, f->log_url_base, NOW};
    json_object_put(f->status);
    f->phase = (run_phase_t)-1;
    f->status = runstatus_from_job(&in, &f->phase, &f->pod, &f->container);
    ck_assert_ptr_nonnull(f->status);
    json_object *copy = jpath_copy(f->status);
    json_object *result = jpath(copy, "s2iBuildResult");
    if (result) {
        assert_result_types(result);
        json_object_object_del(copy, "s2iBuildResult");
    }
    assert_console_types(copy);
    json_object_put(copy);
    return f->status;
}

static void fixture_free(fixture_t *f)
{
    json_object_put(f->status);
    for (size_t i = 0; i < f->npods; i++)
        json_object_put(f->pods[i]);
    json_object_put(f->job);
    json_object_put(f->builder);
    json_object_put(f->run);
}

/* The Succeeded condition of a status. */
static json_object *succeeded(json_object *st)
{
    json_object *conds = jpath(st, "conditions");
    ck_assert_msg(conds && json_object_is_type(conds, json_type_array), "%s", text(st));
    json_object *found = NULL;
    for (size_t i = 0; i < json_object_array_length(conds); i++) {
        json_object *c = json_object_array_get_idx(conds, i);
        if (util_streq(jpath_str(c, "type"), "Succeeded")) {
            ck_assert_msg(!found, "two Succeeded conditions: %s", text(st));
            found = c;
        }
    }
    ck_assert_msg(found != NULL, "no Succeeded condition: %s", text(st));
    return found;
}

static void assert_condition(json_object *st, const char *status, const char *reason)
{
    json_object *c = succeeded(st);
    ck_assert_str_eq(str_at(c, "status"), status);
    ck_assert_str_eq(str_at(c, "reason"), reason);
}

static const char *message_of(json_object *st)
{
    return str_at(succeeded(st), "message");
}

/* Replaces the pod's status by the given JSON. */
static void set_pod_status(json_object *pod, const char *status_json)
{
    json_object_object_add(pod, "status", parse(status_json));
}

/* A failed build pod whose main container "build" terminated with the given JSON. */
#define FAILED_BUILD_POD(terminated)                                                               \
    "{\"phase\":\"Failed\",\"initContainerStatuses\":[{\"name\":\"prepare\",\"state\":"            \
    "{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}}],\"containerStatuses\":"          \
    "[{\"name\":\"build\",\"state\":{\"terminated\":" terminated "}}]}"

/* The samples of a Job that failed twice: both pods failed as its first one did. */
static void failed_job_fixture(fixture_t *f)
{
    fixture_init(f, SAMPLES "job-failed.json");
    add_pods(f, SAMPLES "job-pods-after-first-failure.json");
    json_object *first = pod_named(f, "sample-job-4mc9b");
    json_object *second = pod_named(f, "sample-job-62pmx");
    json_object_object_add(second, "status", jpath_copy(jpath(first, "status")));
}

/* ---- pending and running -------------------------------------------------------------- */

START_TEST(test_job_just_created_without_pods_is_running_and_pending)
{
    fixture_t f;
    fixture_init(&f, SAMPLES "job-created.json");
    json_object *st = compute(&f);
    ck_assert_int_eq(f.phase, RUN_PHASE_PENDING);
    ck_assert_str_eq(str_at(st, "runState"), "Running");
    ck_assert_str_eq(str_at(st, "kubernetesJobName"), "sample-job");
    ck_assert_str_eq(str_at(st, "startTime"), "2026-11-26T05:26:38Z");
    /* No pod yet: no logURL (the console then waits), no completion. */
    ck_assert_ptr_null(jpath(st, "logURL"));
    ck_assert_ptr_null(jpath(st, "completionTime"));
    ck_assert_ptr_null(jpath(st, "s2iBuildResult"));
    ck_assert_ptr_null(f.pod);
    ck_assert_ptr_null(f.container);
    assert_condition(st, "Unknown", "Pending");
    ck_assert_msg(contains(message_of(st), "sample-job"), "%s", message_of(st));
    ck_assert_int_eq(jpath_int(st, "observedGeneration", 0), 1);
    ck_assert_int_eq(jpath_int(succeeded(st), "observedGeneration", 0), 1);
    ck_assert_str_eq(str_at(succeeded(st), "lastTransitionTime"), NOW_TEXT);
    fixture_free(&f);
}
END_TEST

START_TEST(test_job_without_start_time_starts_the_run_now)
{
    fixture_t f;
    fixture_init(&f, SAMPLES "job-created.json");
    jpath_del(f.job, "status.startTime");
    json_object *st = compute(&f);
    ck_assert_str_eq(str_at(st, "startTime"), NOW_TEXT);
    fixture_free(&f);
}
END_TEST

START_TEST(test_pod_created_sets_the_log_url_while_pending)
{
    fixture_t f;
    fixture_init(&f, SAMPLES "job-created.json");
    add_pods(&f, SAMPLES "job-pods-created.json");
    json_object *st = compute(&f);
    ck_assert_int_eq(f.phase, RUN_PHASE_PENDING);
    ck_assert_str_eq(str_at(st, "runState"), "Running");
    ck_assert_str_eq(str_at(st, "logURL"),
                     KS_LOGS "/namespaces/default/pods/sample-job-4mc9b?operation=query");
    ck_assert_str_eq(f.pod, "sample-job-4mc9b");
    assert_condition(st, "Unknown", "Pending");
    ck_assert_msg(contains(message_of(st), "waiting for pod sample-job-4mc9b"), "%s",
                  message_of(st));
    fixture_free(&f);
}
END_TEST

START_TEST(test_pending_pod_with_image_pull_back_off_says_so)
{
    fixture_t f;
    fixture_init(&f, SAMPLES "job-created.json");
    json_object *pod = add_pods(&f, SAMPLES "job-pods-created.json");
    set_pod_status(pod, "{\"phase\":\"Pending\",\"initContainerStatuses\":[{\"name\":\"prepare\","
                        "\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}}],"
                        "\"containerStatuses\":[{\"name\":\"build\",\"state\":{\"waiting\":"
                        "{\"reason\":\"ImagePullBackOff\",\"message\":\"Back-off pulling image "
                        "\\\"example.invalid/builder:1\\\"\"}}}]}");
    json_object *st = compute(&f);
    ck_assert_int_eq(f.phase, RUN_PHASE_PENDING);
    ck_assert_str_eq(str_at(st, "runState"), "Running");
    assert_condition(st, "Unknown", "ImagePullBackOff");
    ck_assert_msg(contains(message_of(st), "Back-off pulling image"), "%s", message_of(st));
    ck_assert_msg(contains(message_of(st), "sample-job-4mc9b"), "%s", message_of(st));
    ck_assert_ptr_nonnull(jpath(st, "logURL"));
    fixture_free(&f);
}
END_TEST

START_TEST(test_unschedulable_pod_says_why)
{
    fixture_t f;
    fixture_init(&f, SAMPLES "job-created.json");
    json_object *pod = add_pods(&f, SAMPLES "job-pods-created.json");
    set_pod_status(pod, "{\"phase\":\"Pending\",\"conditions\":[{\"type\":\"PodScheduled\","
                        "\"status\":\"False\",\"reason\":\"Unschedulable\",\"message\":\"0/3 "
                        "nodes are available: 3 Insufficient memory.\"}]}");
    json_object *st = compute(&f);
    ck_assert_int_eq(f.phase, RUN_PHASE_PENDING);
    assert_condition(st, "Unknown", "Unschedulable");
    ck_assert_msg(contains(message_of(st), "3 Insufficient memory"), "%s", message_of(st));
    fixture_free(&f);
}
END_TEST

START_TEST(test_creating_containers_are_not_a_waiting_reason)
{
    fixture_t f;
    fixture_init(&f, SAMPLES "job-created.json");
    json_object *pod = add_pods(&f, SAMPLES "job-pods-created.json");
    set_pod_status(pod, "{\"phase\":\"Pending\",\"conditions\":[{\"type\":\"PodScheduled\","
                        "\"status\":\"True\"}],\"initContainerStatuses\":[{\"name\":\"prepare\","
                        "\"state\":{\"waiting\":{\"reason\":\"ContainerCreating\"}}}],"
                        "\"containerStatuses\":[{\"name\":\"build\",\"state\":{\"waiting\":"
                        "{\"reason\":\"PodInitializing\"}}}]}");
    json_object *st = compute(&f);
    assert_condition(st, "Unknown", "Pending");
    fixture_free(&f);
}
END_TEST

START_TEST(test_running_pod_names_the_running_step)
{
    fixture_t f;
    fixture_init(&f, SAMPLES "job-created.json");
    json_object *pod = add_pods(&f, SAMPLES "job-pods-created.json");
    set_pod_status(pod, "{\"phase\":\"Pending\",\"initContainerStatuses\":[{\"name\":\"prepare\","
                        "\"state\":{\"running\":{\"startedAt\":\"2026-11-26T05:26:40Z\"}}}],"
                        "\"containerStatuses\":[{\"name\":\"build\",\"state\":{\"waiting\":"
                        "{\"reason\":\"PodInitializing\"}}}]}");
    json_object *st = compute(&f);
    ck_assert_int_eq(f.phase, RUN_PHASE_RUNNING);
    ck_assert_str_eq(str_at(st, "runState"), "Running");
    assert_condition(st, "Unknown", "Running");
    ck_assert_msg(contains(message_of(st), "step prepare"), "%s", message_of(st));
    /* The condition moved from Pending to Running without a status change. */
    json_object_object_add(f.run, "status", jpath_copy(st));
    set_pod_status(pod, "{\"phase\":\"Running\",\"initContainerStatuses\":[{\"name\":\"prepare\","
                        "\"state\":{\"terminated\":{\"exitCode\":0}}}],\"containerStatuses\":[{"
                        "\"name\":\"build\",\"state\":{\"running\":{}}}]}");
    st = compute(&f);
    ck_assert_msg(contains(message_of(st), "step build is running in pod sample-job-4mc9b"), "%s",
                  message_of(st));
    ck_assert_str_eq(str_at(st, "logURL"),
                     KS_LOGS "/namespaces/default/pods/sample-job-4mc9b?operation=query");
    fixture_free(&f);
}
END_TEST

START_TEST(test_log_url_keeps_the_console_path_with_the_query_only_for_kubesphere)
{
    char *url = runstatus_log_url(NULL, "demo", "run-abc-job-x1");
    ck_assert_str_eq(url, KS_LOGS "/namespaces/demo/pods/run-abc-job-x1?operation=query");
    free(url);
    url = runstatus_log_url("", "demo", "p");
    ck_assert_str_eq(url, KS_LOGS "/namespaces/demo/pods/p?operation=query");
    free(url);
    url = runstatus_log_url(KS_LOGS "/", "demo", "p");
    ck_assert_str_eq(url, KS_LOGS "/namespaces/demo/pods/p?operation=query");
    free(url);
    /* The operator's own log endpoint: same path shape, no KubeSphere query. */
    url = runstatus_log_url("https://s2i-operator.example.com/logs//", "demo", "p");
    ck_assert_str_eq(url, "https://s2i-operator.example.com/logs/namespaces/demo/pods/p");
    free(url);

    fixture_t f;
    fixture_init(&f, SAMPLES "job-created.json");
    add_pods(&f, SAMPLES "job-pods-created.json");
    f.log_url_base = "http://s2i-operator.s2i-system.svc:8080/logs";
    json_object *st = compute(&f);
    ck_assert_str_eq(str_at(st, "logURL"), "http://s2i-operator.s2i-system.svc:8080/logs"
                                           "/namespaces/default/pods/sample-job-4mc9b");
    fixture_free(&f);
}
END_TEST

START_TEST(test_job_retrying_after_the_first_failure_stays_running)
{
    fixture_t f;
    fixture_init(&f, SAMPLES "job-after-first-failure.json");
    add_pods(&f, SAMPLES "job-pods-after-first-failure.json");
    json_object *st = compute(&f);
    ck_assert_int_eq(f.phase, RUN_PHASE_PENDING);
    ck_assert_str_eq(str_at(st, "runState"), "Running");
    ck_assert_ptr_null(jpath(st, "completionTime"));
    /* The log is the new attempt's. */
    ck_assert_str_eq(f.pod, "sample-job-62pmx");
    ck_assert(util_has_suffix(str_at(st, "logURL"), "/pods/sample-job-62pmx?operation=query"));
    assert_condition(st, "Unknown", "Pending");
    ck_assert_msg(contains(message_of(st), "retry 1 of 1"), "%s", message_of(st));
    fixture_free(&f);
}
END_TEST

START_TEST(test_failed_attempt_waiting_for_its_retry_says_why)
{
    /* Between the first pod's failure and the Job's next pod (its back-off). */
    fixture_t f;
    fixture_init(&f, SAMPLES "job-after-first-failure.json");
    add_pods(&f, SAMPLES "job-pods-after-first-failure.json");
    json_object *first = pod_named(&f, "sample-job-4mc9b");
    set_pod_status(first, FAILED_BUILD_POD("{\"exitCode\":1,\"message\":"
                                           "\"AssembleFailed: npm install exited with code 1\"}"));
    json_object_put(f.pods[1]);
    f.pods[0] = first;
    f.npods = 1;
    json_object *st = compute(&f);
    ck_assert_int_eq(f.phase, RUN_PHASE_PENDING);
    ck_assert_str_eq(str_at(st, "runState"), "Running");
    ck_assert_ptr_null(jpath(st, "completionTime"));
    assert_condition(st, "Unknown", "AssembleFailed");
    ck_assert_str_eq(message_of(st),
                     "pod sample-job-4mc9b failed: npm install exited with code 1 (retry 1 of 1)");
    ck_assert_str_eq(f.container, "build");
    fixture_free(&f);
}
END_TEST

/* ---- success ------------------------------------------------------------------------------ */

START_TEST(test_complete_job_copies_the_termination_message_report)
{
    fixture_t f;
    fixture_init(&f, SAMPLES "job-succeeded.json");
    json_object *pod = add_pods(&f, SAMPLES "pod-succeeded.json");
    json_object *report = parse(
        "{\"s2iBuildResult\":{\"imageName\":\"ignored/by-upstream-rule\",\"imageSize\":"
        "48213376,\"imageID\":\"sha256:"
        "4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b9"
        "45\",\"imageCreated\":\"2026-11-26T05:26:56Z\",\"imageRepoTags\":[\"registry.local:5000/"
        "demo/hello-nodejs:v1.0.1\"],\"commandPull\":\"docker pull registry.local:5000/demo/"
        "hello-nodejs:v1.0.1\"},\"s2iBuildSource\":{\"sourceUrl\":\"https://git.example.com/demo/"
        "hello-nodejs.git\",\"revisionId\":\"v1.0.1\",\"builderImage\":\"registry.local:5000/s2i/"
        "nodejs-18:latest\",\"description\":\"hello\",\"commitID\":"
        "\"9f2c1e0d4b3a29187766554433221100ffeeddcc\",\"committerName\":\"Dev\","
        "\"committerEmail\":\"dev@example.com\",\"binaryName\":\"app.jar\",\"binarySize\":"
        "1048576}}");
    json_object *term = jpath(json_object_array_get_idx(jpath(pod, "status.containerStatuses"), 0),
                              "state.terminated");
    json_object_object_add(term, "message", json_object_new_string(text(report)));
    json_object *st = compute(&f);
    ck_assert_int_eq(f.phase, RUN_PHASE_SUCCEEDED);
    ck_assert_str_eq(str_at(st, "runState"), "Successful");
    ck_assert_str_eq(str_at(st, "completionTime"), "2026-11-26T05:26:57Z");
    ck_assert_str_eq(str_at(st, "startTime"), "2026-11-26T05:26:54Z");
    ck_assert_str_eq(str_at(st, "kubernetesJobName"), "ok-job");
    ck_assert_str_eq(f.pod, "ok-job-hklxl");
    assert_condition(st, "True", "Succeeded");
    ck_assert_msg(contains(message_of(st), "sha256:4f53cda1"), "%s", message_of(st));

    /* Everything reported, except imageName: upstream shows the builder's imageName. */
    json_object *want = jpath_copy(jpath(report, "s2iBuildResult"));
    json_object_object_add(want, "imageName",
                           json_object_new_string("registry.local:5000/demo/hello-nodejs"));
    ck_assert_msg(json_object_equal(want, jpath(st, "s2iBuildResult")), "%s",
                  text(jpath(st, "s2iBuildResult")));
    ck_assert_msg(json_object_equal(jpath(report, "s2iBuildSource"), jpath(st, "s2iBuildSource")),
                  "%s", text(jpath(st, "s2iBuildSource")));
    ck_assert(json_object_is_type(jpath(st, "s2iBuildResult.imageSize"), json_type_int));
    ck_assert(json_object_is_type(jpath(st, "s2iBuildSource.binarySize"), json_type_int));
    json_object_put(want);
    json_object_put(report);
    fixture_free(&f);
}
END_TEST

START_TEST(test_complete_job_with_an_empty_report_gets_the_builder_defaults)
{
    /* pod-succeeded.json as Kubernetes wrote it: message {"s2iBuildResult":{}}. */
    fixture_t f;
    fixture_init(&f, SAMPLES "job-succeeded.json");
    add_pods(&f, SAMPLES "pod-succeeded.json");
    json_object *st = compute(&f);
    ck_assert_str_eq(str_at(st, "runState"), "Successful");
    json_object *want_result = parse("{\"imageName\":\"registry.local:5000/demo/hello-nodejs\"}");
    json_object *want_source =
        parse("{\"builderImage\":\"registry.local:5000/s2i/nodejs-18:latest\","
              "\"sourceUrl\":\"https://git.example.com/demo/hello-nodejs.git\","
              "\"revisionId\":\"main\"}");
    ck_assert_msg(json_object_equal(want_result, jpath(st, "s2iBuildResult")), "%s", text(st));
    ck_assert_msg(json_object_equal(want_source, jpath(st, "s2iBuildSource")), "%s", text(st));
    json_object_put(want_result);
    json_object_put(want_source);

    /* A builder without revisionId: the console shows "master". */
    jpath_del(f.builder, "spec.config.revisionId");
    jpath_set_str(f.builder, "spec.config.description", "the hello app");
    st = compute(&f);
    ck_assert_str_eq(str_at(st, "s2iBuildSource.revisionId"), "master");
    ck_assert_str_eq(str_at(st, "s2iBuildSource.description"), "the hello app");
    fixture_free(&f);
}
END_TEST

START_TEST(test_complete_job_drops_report_fields_of_the_wrong_type)
{
    /* A bad builder image: sizes as text, negative, fractional or beyond int64, names as
     * numbers. ks-apiserver's Go types could not decode any of them, and our CRD schema
     * would refuse the whole status. */
    const char *bad_reports[] = {
        "{\"s2iBuildResult\":{\"imageSize\":\"48213376\",\"imageID\":42,\"imageRepoTags\":"
        "[\"a:1\",7,null]},\"s2iBuildSource\":{\"binarySize\":\"1M\",\"commitID\":true}}",
        "{\"s2iBuildResult\":{\"imageSize\":-1},\"s2iBuildSource\":{\"binarySize\":-1}}",
        "{\"s2iBuildResult\":{\"imageSize\":1.5e7},\"s2iBuildSource\":{\"binarySize\":2.5}}",
        "{\"s2iBuildResult\":{\"imageSize\":9223372036854775808},\"s2iBuildSource\":"
        "{\"binarySize\":18446744073709551615}}",
        "{\"s2iBuildResult\":{\"imageSize\":null,\"imageRepoTags\":\"a:1\"},"
        "\"s2iBuildSource\":{\"binarySize\":{}}}",
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad_reports); i++) {
        fixture_t f;
        fixture_init(&f, SAMPLES "job-succeeded.json");
        json_object *pod = add_pods(&f, SAMPLES "pod-succeeded.json");
        json_object *term =
            jpath(json_object_array_get_idx(jpath(pod, "status.containerStatuses"), 0),
                  "state.terminated");
        json_object_object_add(term, "message", json_object_new_string(bad_reports[i]));
        json_object *st = compute(&f); /* asserts the types */
        ck_assert_str_eq(str_at(st, "runState"), "Successful");
        ck_assert_msg(jpath(st, "s2iBuildResult.imageSize") == NULL, "report %zu: %s", i, text(st));
        ck_assert_msg(jpath(st, "s2iBuildSource.binarySize") == NULL, "report %zu: %s", i,
                      text(st));
        ck_assert_ptr_null(jpath(st, "s2iBuildResult.imageID"));
        ck_assert_ptr_null(jpath(st, "s2iBuildSource.commitID"));
        json_object *tags = jpath(st, "s2iBuildResult.imageRepoTags");
        if (tags)
            ck_assert_msg(json_object_array_length(tags) <= 1, "%s", text(tags));
        fixture_free(&f);
    }
}
END_TEST

START_TEST(test_complete_job_keeps_sizes_at_the_limits)
{
    fixture_t f;
    fixture_init(&f, SAMPLES "job-succeeded.json");
    json_object *pod = add_pods(&f, SAMPLES "pod-succeeded.json");
    json_object *term = jpath(json_object_array_get_idx(jpath(pod, "status.containerStatuses"), 0),
                              "state.terminated");
    json_object_object_add(
        term, "message",
        json_object_new_string("{\"s2iBuildResult\":{\"imageSize\":9223372036854775807},"
                               "\"s2iBuildSource\":{\"binarySize\":0}}"));
    json_object *st = compute(&f);
    ck_assert_int_eq(jpath_int(st, "s2iBuildResult.imageSize", -1), INT64_MAX);
    ck_assert_int_eq(jpath_int(st, "s2iBuildSource.binarySize", -1), 0);
    fixture_free(&f);
}
END_TEST

START_TEST(test_complete_job_reads_the_upstream_pod_annotations)
{
    /* The upstream builder image annotates its pod and writes no termination message. */
    fixture_t f;
    fixture_init(&f, SAMPLES "job-succeeded.json");
    json_object *pod = add_pods(&f, SAMPLES "pod-succeeded.json");
    jpath_del(json_object_array_get_idx(jpath(pod, "status.containerStatuses"), 0),
              "state.terminated.message");
    json_object *ann =
        parse("{\"s2iBuildResult\":\"{\\\"imageName\\\":\\\"x\\\",\\\"imageSize\\\":1234,"
              "\\\"imageID\\\":\\\"sha256:abc\\\",\\\"commandPull\\\":\\\"docker pull x:v1\\\"}\","
              "\"s2iBuildSource\":\"{\\\"sourceUrl\\\":\\\"https://u:t0k@git/"
              "x.git\\\",\\\"revisionId\\\":"
              "\\\"dev\\\",\\\"binarySize\\\":99}\"}");
    jpath_set(pod, "metadata.annotations", ann);
    json_object *st = compute(&f);
    ck_assert_str_eq(str_at(st, "runState"), "Successful");
    ck_assert_int_eq(jpath_int(st, "s2iBuildResult.imageSize", -1), 1234);
    ck_assert_str_eq(str_at(st, "s2iBuildResult.imageID"), "sha256:abc");
    ck_assert_str_eq(str_at(st, "s2iBuildResult.commandPull"), "docker pull x:v1");
    ck_assert_str_eq(str_at(st, "s2iBuildResult.imageName"),
                     "registry.local:5000/demo/hello-nodejs");
    /* Credentials in the URL are dropped. */
    ck_assert_str_eq(str_at(st, "s2iBuildSource.sourceUrl"), "https://git/x.git");
    ck_assert_str_eq(str_at(st, "s2iBuildSource.revisionId"), "dev");
    ck_assert_int_eq(jpath_int(st, "s2iBuildSource.binarySize", -1), 99);
    /* Missing there, taken from the builder. */
    ck_assert_str_eq(str_at(st, "s2iBuildSource.builderImage"),
                     "registry.local:5000/s2i/nodejs-18:latest");

    /* A termination message report wins over the annotations, per object. */
    json_object *term = jpath(json_object_array_get_idx(jpath(pod, "status.containerStatuses"), 0),
                              "state.terminated");
    json_object_object_add(
        term, "message",
        json_object_new_string("{\"s2iBuildResult\":{\"imageID\":\"sha256:def\"}}"));
    st = compute(&f);
    ck_assert_str_eq(str_at(st, "s2iBuildResult.imageID"), "sha256:def");
    ck_assert_ptr_null(jpath(st, "s2iBuildResult.imageSize"));
    ck_assert_str_eq(str_at(st, "s2iBuildSource.revisionId"), "dev");
    fixture_free(&f);
}
END_TEST

START_TEST(test_complete_job_takes_the_first_report_of_several_containers)
{
    fixture_t f;
    fixture_init(&f, SAMPLES "job-succeeded.json");
    json_object *pod = add_pods(&f, SAMPLES "pod-succeeded.json");
    set_pod_status(
        pod, "{\"phase\":\"Succeeded\",\"containerStatuses\":["
             "{\"name\":\"a\",\"state\":{\"terminated\":{\"exitCode\":0,\"message\":"
             "\"{\\\"s2iBuildSource\\\":{\\\"commitID\\\":\\\"aaa\\\"}}\"}}},"
             "{\"name\":\"b\",\"state\":{\"terminated\":{\"exitCode\":0,\"message\":"
             "\"{\\\"s2iBuildSource\\\":{\\\"commitID\\\":\\\"bbb\\\"},\\\"s2iBuildResult\\\":"
             "{\\\"imageID\\\":\\\"sha256:bbb\\\"}}\"}}},"
             "{\"name\":\"c\",\"state\":{\"terminated\":{\"exitCode\":0,\"message\":\"not json\"}}}"
             "]}");
    json_object *st = compute(&f);
    ck_assert_str_eq(str_at(st, "runState"), "Successful");
    ck_assert_str_eq(str_at(st, "s2iBuildSource.commitID"), "aaa");
    ck_assert_str_eq(str_at(st, "s2iBuildResult.imageID"), "sha256:bbb");
    fixture_free(&f);
}
END_TEST

START_TEST(test_complete_job_whose_pods_are_gone_still_succeeds)
{
    fixture_t f;
    fixture_init(&f, SAMPLES "job-succeeded.json");
    json_object *st = compute(&f);
    ck_assert_int_eq(f.phase, RUN_PHASE_SUCCEEDED);
    ck_assert_str_eq(str_at(st, "runState"), "Successful");
    ck_assert_ptr_null(f.pod);
    ck_assert_str_eq(str_at(st, "s2iBuildResult.imageName"),
                     "registry.local:5000/demo/hello-nodejs");
    fixture_free(&f);
}
END_TEST

/* ---- failure ------------------------------------------------------------------------------- */

START_TEST(test_failed_job_with_a_structured_termination_message_gives_its_reason)
{
    fixture_t f;
    failed_job_fixture(&f);
    set_pod_status(pod_named(&f, "sample-job-62pmx"),
                   FAILED_BUILD_POD("{\"exitCode\":1,\"reason\":\"Error\",\"message\":"
                                    "\"AssembleFailed: npm install exited with code 1\\n\"}"));
    json_object *st = compute(&f);
    ck_assert_int_eq(f.phase, RUN_PHASE_FAILED);
    ck_assert_str_eq(str_at(st, "runState"), "Failed");
    ck_assert_str_eq(str_at(st, "completionTime"), "2026-11-26T05:26:46Z");
    ck_assert_str_eq(f.pod, "sample-job-62pmx");
    ck_assert_str_eq(f.container, "build");
    assert_condition(st, "False", "AssembleFailed");
    ck_assert_str_eq(message_of(st), "npm install exited with code 1 (after 2 attempts)");
    ck_assert(util_has_suffix(str_at(st, "logURL"), "/pods/sample-job-62pmx?operation=query"));
    fixture_free(&f);
}
END_TEST

START_TEST(test_failed_job_with_an_unstructured_message_names_container_and_exit_code)
{
    /* The samples as Kubernetes wrote them: "assemble failed", exit code 1. */
    fixture_t f;
    failed_job_fixture(&f);
    json_object *st = compute(&f);
    ck_assert_int_eq(f.phase, RUN_PHASE_FAILED);
    ck_assert_str_eq(str_at(st, "runState"), "Failed");
    assert_condition(st, "False", "BuildFailed");
    ck_assert_str_eq(message_of(st),
                     "container build exited with code 1: assemble failed (after 2 attempts)");
    ck_assert_str_eq(f.container, "build");
    fixture_free(&f);
}
END_TEST

START_TEST(test_failed_job_with_a_log_tail_message_keeps_its_last_line)
{
    /* FallbackToLogsOnError: the message is the end of the log, whose first line looks
     * like "Word: text" by chance. */
    fixture_t f;
    failed_job_fixture(&f);
    set_pod_status(pod_named(&f, "sample-job-62pmx"),
                   FAILED_BUILD_POD("{\"exitCode\":2,\"reason\":\"Error\",\"message\":"
                                    "\"Error: Cannot find module 'express'\\n    at Module._"
                                    "resolveFilename\\nnpm ERR! code ELIFECYCLE\\n\"}"));
    json_object *st = compute(&f);
    assert_condition(st, "False", "BuildFailed");
    ck_assert_str_eq(message_of(st), "container build exited with code 2: npm ERR! code "
                                     "ELIFECYCLE (after 2 attempts)");
    fixture_free(&f);
}
END_TEST

START_TEST(test_failed_prepare_step_is_named)
{
    fixture_t f;
    failed_job_fixture(&f);
    set_pod_status(pod_named(&f, "sample-job-62pmx"),
                   "{\"phase\":\"Failed\",\"initContainerStatuses\":[{\"name\":\"prepare\","
                   "\"state\":{\"terminated\":{\"exitCode\":1,\"message\":\"SourceFetchFailed: "
                   "git clone https://git.example.com/demo/x.git: repository not found\"}}}],"
                   "\"containerStatuses\":[{\"name\":\"build\",\"state\":{\"waiting\":{\"reason\":"
                   "\"PodInitializing\"}}}]}");
    jpath_set(f.job, "status.failed", json_object_new_int(1));
    json_object *st = compute(&f);
    assert_condition(st, "False", "SourceFetchFailed");
    ck_assert_str_eq(message_of(st),
                     "git clone https://git.example.com/demo/x.git: repository not found");
    ck_assert_str_eq(f.container, "prepare");
    fixture_free(&f);
}
END_TEST

START_TEST(test_oom_killed_build_says_out_of_memory)
{
    fixture_t f;
    failed_job_fixture(&f);
    set_pod_status(pod_named(&f, "sample-job-62pmx"),
                   FAILED_BUILD_POD("{\"exitCode\":137,\"reason\":\"OOMKilled\"}"));
    json_object *st = compute(&f);
    assert_condition(st, "False", "OOMKilled");
    ck_assert_msg(contains(message_of(st), "container build ran out of memory (exit code 137)"),
                  "%s", message_of(st));
    ck_assert_str_eq(f.container, "build");
    fixture_free(&f);
}
END_TEST

START_TEST(test_evicted_pod_says_evicted)
{
    fixture_t f;
    failed_job_fixture(&f);
    set_pod_status(pod_named(&f, "sample-job-62pmx"),
                   "{\"phase\":\"Failed\",\"reason\":\"Evicted\",\"message\":\"The node was low "
                   "on resource: ephemeral-storage.\"}");
    json_object *st = compute(&f);
    assert_condition(st, "False", "PodEvicted");
    ck_assert_msg(contains(message_of(st), "sample-job-62pmx was evicted: The node was low on "
                                           "resource: ephemeral-storage."),
                  "%s", message_of(st));
    fixture_free(&f);
}
END_TEST

START_TEST(test_failed_pod_without_a_failed_container_still_fails)
{
    fixture_t f;
    failed_job_fixture(&f);
    set_pod_status(pod_named(&f, "sample-job-62pmx"), "{\"phase\":\"Failed\"}");
    json_object *st = compute(&f);
    assert_condition(st, "False", "BuildFailed");
    ck_assert_msg(contains(message_of(st), "build pod sample-job-62pmx failed"), "%s",
                  message_of(st));
    fixture_free(&f);
}
END_TEST

START_TEST(test_failed_job_whose_pods_are_gone_uses_the_job_message)
{
    fixture_t f;
    fixture_init(&f, SAMPLES "job-failed.json");
    json_object *st = compute(&f);
    ck_assert_int_eq(f.phase, RUN_PHASE_FAILED);
    assert_condition(st, "False", "BuildFailed");
    ck_assert_str_eq(message_of(st),
                     "Job has reached the specified backoff limit (after 2 attempts)");
    ck_assert_ptr_null(f.pod);
    fixture_free(&f);
}
END_TEST

START_TEST(test_deadline_exceeded_is_a_timeout)
{
    fixture_t f;
    fixture_init(&f, SAMPLES "job-failed.json");
    add_pods(&f, SAMPLES "job-pods-created.json");
    jpath_set(f.job, "spec.activeDeadlineSeconds", json_object_new_int(1800));
    json_object *cond = json_object_array_get_idx(jpath(f.job, "status.conditions"), 0);
    jpath_set_str(cond, "reason", "DeadlineExceeded");
    jpath_set_str(cond, "message", "Job was active longer than specified deadline");
    json_object *st = compute(&f);
    ck_assert_int_eq(f.phase, RUN_PHASE_FAILED);
    ck_assert_str_eq(str_at(st, "runState"), "Failed");
    ck_assert_str_eq(str_at(st, "completionTime"), "2026-11-26T05:26:46Z");
    assert_condition(st, "False", "Timeout");
    ck_assert_str_eq(message_of(st), "the build did not finish within 1800 seconds");
    fixture_free(&f);
}
END_TEST

START_TEST(test_pod_failure_reads_last_state_of_a_restarted_container)
{
    json_object *pod =
        parse("{\"metadata\":{\"name\":\"p\"},\"status\":{\"phase\":\"Running\","
              "\"containerStatuses\":[{\"name\":\"build\",\"state\":{\"running\":{}},"
              "\"lastState\":{\"terminated\":{\"exitCode\":3,\"message\":"
              "\"PushFailed: unauthorized\"}}}]}}");
    char *reason, *message;
    const char *container;
    runstatus_pod_failure(pod, &reason, &message, &container);
    ck_assert_str_eq(reason, "PushFailed");
    ck_assert_str_eq(message, "unauthorized");
    ck_assert_str_eq(container, "build");
    free(reason);
    free(message);
    runstatus_pod_failure(pod, &reason, &message, NULL);
    ck_assert_str_eq(reason, "PushFailed");
    free(reason);
    free(message);
    json_object_put(pod);
}
END_TEST

/* ---- conditions and the other status writers ------------------------------------------------ */

START_TEST(test_set_condition_keeps_the_transition_time_while_the_status_holds)
{
    json_object *st = json_object_new_object();
    runstatus_set_condition(st, "Unknown", "Pending", "waiting", 3, 1000.0);
    ck_assert_str_eq(str_at(succeeded(st), "lastTransitionTime"), "1970-01-01T00:16:40Z");
    /* Same status, new reason and message: the transition time stays. */
    runstatus_set_condition(st, "Unknown", "Running", "step build", 3, 2000.0);
    json_object *c = succeeded(st);
    ck_assert_str_eq(str_at(c, "lastTransitionTime"), "1970-01-01T00:16:40Z");
    ck_assert_str_eq(str_at(c, "reason"), "Running");
    ck_assert_str_eq(str_at(c, "message"), "step build");
    /* A new status moves it. */
    runstatus_set_condition(st, "False", "AssembleFailed", NULL, 4, 3000.0);
    c = succeeded(st);
    ck_assert_str_eq(str_at(c, "lastTransitionTime"), "1970-01-01T00:50:00Z");
    ck_assert_str_eq(str_at(c, "message"), "");
    ck_assert_int_eq(jpath_int(c, "observedGeneration", 0), 4);
    ck_assert_int_eq(jpath_int(st, "observedGeneration", 0), 4);
    ck_assert_uint_eq(json_object_array_length(jpath(st, "conditions")), 1);
    /* Other condition types are left alone. */
    json_object_array_add(jpath(st, "conditions"),
                          parse("{\"type\":\"Other\",\"status\":\"True\"}"));
    runstatus_set_condition(st, "True", "Succeeded", "done", 0, 4000.0);
    ck_assert_uint_eq(json_object_array_length(jpath(st, "conditions")), 2);
    ck_assert_str_eq(str_at(json_object_array_get_idx(jpath(st, "conditions"), 1), "status"),
                     "True");
    json_object_put(st);
}
END_TEST

START_TEST(test_recomputing_an_unchanged_run_gives_an_equal_status)
{
    /* What keeps the reconciler from writing the status on every pass. */
    fixture_t f;
    fixture_init(&f, SAMPLES "job-after-first-failure.json");
    add_pods(&f, SAMPLES "job-pods-after-first-failure.json");
    json_object *first = jpath_copy(compute(&f));
    json_object_object_add(f.run, "status", jpath_copy(first));
    runstatus_input_t in = {f.run, f.builder, f.job, f.pods, f.npods, NULL, NOW + 60};
    run_phase_t phase;
    json_object *second = runstatus_from_job(&in, &phase, NULL, NULL);
    ck_assert_msg(runstatus_equal(first, second), "%s\n%s", text(first), text(second));
    ck_assert(!runstatus_equal(first, NULL));
    ck_assert(runstatus_equal(NULL, NULL));
    json_object_put(second);
    json_object_put(first);
    fixture_free(&f);
}
END_TEST

START_TEST(test_status_keeps_what_the_run_already_has)
{
    fixture_t f;
    fixture_init(&f, SAMPLES "job-created.json");
    jpath_set(f.run, "status",
              parse("{\"startTime\":\"2026-11-26T05:20:00Z\",\"logURL\":\"" KS_LOGS
                    "/namespaces/default/pods/old?operation=query\",\"logTail\":\"x\"}"));
    json_object *st = compute(&f);
    ck_assert_str_eq(str_at(st, "startTime"), "2026-11-26T05:20:00Z");
    ck_assert(util_has_suffix(str_at(st, "logURL"), "/pods/old?operation=query"));
    ck_assert_str_eq(str_at(st, "logTail"), "x");
    fixture_free(&f);
}
END_TEST

START_TEST(test_runstatus_failed_finishes_the_run_with_the_reason)
{
    json_object *run = load(TESTDATA "run.json");
    ck_assert(!runstatus_finished(run));
    json_object *st = runstatus_failed(run, "BuilderNotFound", "S2iBuilder demo/x not found", NOW);
    ck_assert_str_eq(str_at(st, "runState"), "Failed");
    ck_assert_str_eq(str_at(st, "startTime"), NOW_TEXT);
    ck_assert_str_eq(str_at(st, "completionTime"), NOW_TEXT);
    assert_condition(st, "False", "BuilderNotFound");
    ck_assert_str_eq(message_of(st), "S2iBuilder demo/x not found");
    ck_assert_ptr_null(jpath(st, "kubernetesJobName"));
    assert_console_types(st);
    json_object_object_add(run, "status", st);
    ck_assert(runstatus_finished(run));

    /* A run that had started keeps its start. */
    jpath_set(run, "status",
              parse("{\"runState\":\"Running\",\"startTime\":\"2026-11-26T05:00:00Z\","
                    "\"kubernetesJobName\":\"j\"}"));
    ck_assert(!runstatus_finished(run));
    st = runstatus_failed(run, "Cancelled", "the run was cancelled", NOW);
    ck_assert_str_eq(str_at(st, "startTime"), "2026-11-26T05:00:00Z");
    ck_assert_str_eq(str_at(st, "kubernetesJobName"), "j");
    json_object_object_add(run, "status", st);
    ck_assert(runstatus_finished(run));
    jpath_set_str(run, "status.runState", "Successful");
    ck_assert(runstatus_finished(run));
    json_object_put(run);
}
END_TEST

START_TEST(test_runstatus_waiting_changes_only_the_condition)
{
    json_object *run = load(TESTDATA "run.json");
    json_object *st = runstatus_waiting(run, "BuilderNotFound", "waiting for S2iBuilder x", NOW);
    ck_assert_ptr_null(jpath(st, "runState"));
    ck_assert_ptr_null(jpath(st, "startTime"));
    assert_condition(st, "Unknown", "BuilderNotFound");
    assert_console_types(st);
    json_object_put(st);

    jpath_set_str(run, "status.runState", "Running");
    st = runstatus_waiting(run, "SecretNotFound", "waiting for Secret registry-push", NOW);
    ck_assert_str_eq(str_at(st, "runState"), "Running");
    assert_condition(st, "Unknown", "SecretNotFound");
    json_object_put(st);
    json_object_put(run);
}
END_TEST

static Suite *runstatus_suite(void)
{
    Suite *s = suite_create("controller/runstatus");
    TCase *running = tcase_create("running");
    tcase_add_test(running, test_job_just_created_without_pods_is_running_and_pending);
    tcase_add_test(running, test_job_without_start_time_starts_the_run_now);
    tcase_add_test(running, test_pod_created_sets_the_log_url_while_pending);
    tcase_add_test(running, test_pending_pod_with_image_pull_back_off_says_so);
    tcase_add_test(running, test_unschedulable_pod_says_why);
    tcase_add_test(running, test_creating_containers_are_not_a_waiting_reason);
    tcase_add_test(running, test_running_pod_names_the_running_step);
    tcase_add_test(running, test_log_url_keeps_the_console_path_with_the_query_only_for_kubesphere);
    tcase_add_test(running, test_job_retrying_after_the_first_failure_stays_running);
    tcase_add_test(running, test_failed_attempt_waiting_for_its_retry_says_why);
    suite_add_tcase(s, running);

    TCase *success = tcase_create("success");
    tcase_add_test(success, test_complete_job_copies_the_termination_message_report);
    tcase_add_test(success, test_complete_job_with_an_empty_report_gets_the_builder_defaults);
    tcase_add_test(success, test_complete_job_drops_report_fields_of_the_wrong_type);
    tcase_add_test(success, test_complete_job_keeps_sizes_at_the_limits);
    tcase_add_test(success, test_complete_job_reads_the_upstream_pod_annotations);
    tcase_add_test(success, test_complete_job_takes_the_first_report_of_several_containers);
    tcase_add_test(success, test_complete_job_whose_pods_are_gone_still_succeeds);
    suite_add_tcase(s, success);

    TCase *failure = tcase_create("failure");
    tcase_add_test(failure, test_failed_job_with_a_structured_termination_message_gives_its_reason);
    tcase_add_test(failure,
                   test_failed_job_with_an_unstructured_message_names_container_and_exit_code);
    tcase_add_test(failure, test_failed_job_with_a_log_tail_message_keeps_its_last_line);
    tcase_add_test(failure, test_failed_prepare_step_is_named);
    tcase_add_test(failure, test_oom_killed_build_says_out_of_memory);
    tcase_add_test(failure, test_evicted_pod_says_evicted);
    tcase_add_test(failure, test_failed_pod_without_a_failed_container_still_fails);
    tcase_add_test(failure, test_failed_job_whose_pods_are_gone_uses_the_job_message);
    tcase_add_test(failure, test_deadline_exceeded_is_a_timeout);
    tcase_add_test(failure, test_pod_failure_reads_last_state_of_a_restarted_container);
    suite_add_tcase(s, failure);

    TCase *conditions = tcase_create("conditions");
    tcase_add_test(conditions, test_set_condition_keeps_the_transition_time_while_the_status_holds);
    tcase_add_test(conditions, test_recomputing_an_unchanged_run_gives_an_equal_status);
    tcase_add_test(conditions, test_status_keeps_what_the_run_already_has);
    tcase_add_test(conditions, test_runstatus_failed_finishes_the_run_with_the_reason);
    tcase_add_test(conditions, test_runstatus_waiting_changes_only_the_condition);
    suite_add_tcase(s, conditions);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(runstatus_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * Unit tests for pkg/controller/jobspec: the build configuration of an S2iRun and the Job
 * that runs it. The representative Job is compared with a committed golden file; the rest
 * are single behaviours (names that fit label values, run overrides, defaults, templates,
 * secrets that are mounted and never copied, phased builds, resources, timeouts).
 *
 * Fixtures are in test/unit/testdata/controller (paths relative to the repository root,
 * where the tests run). The golden Job is job.golden.json; in it the pod-template
 * annotation devops.kubesphere.io/s2i-config holds the parsed build configuration instead
 * of its JSON text, so that the file can be read. After an intended change to the Job,
 * regenerate it and review the diff:
 *
 *   make build/test/test_controller_jobspec
 *   S2I_UPDATE_GOLDEN=1 build/test/test_controller_jobspec
 *   git diff test/unit/testdata/controller/job.golden.json
 */
#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/jobspec.h"
#include "controller/jpath.h"
#include "util/util.h"

#define TESTDATA "test/unit/testdata/controller/"
#define RUN_UID  "5b0e4c1d-7f3a-4e2b-9c8d-0a1b2c3d4e5f"
#define UID_TAIL "0a1b2c3d4e5f"

static const char *const INSECURE[] = {"registry.local:5000", NULL};
static const jobspec_options_t OPTS = {
    .builder_image = "registry.local:5000/s2i-operator/builder:0.1.0",
    .image_pull_policy = NULL,
    .default_timeout = 3600,
    .insecure_registries = INSECURE,
};

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

static int64_t int_at(json_object *obj, const char *path)
{
    json_object *v = jpath(obj, path);
    ck_assert_msg(v && json_object_is_type(v, json_type_int), "%s is not an integer in %s", path,
                  text(obj));
    return json_object_get_int64(v);
}

static json_object *array_at(json_object *obj, const char *path)
{
    json_object *v = jpath(obj, path);
    ck_assert_msg(v && json_object_is_type(v, json_type_array), "%s is not an array in %s", path,
                  text(obj));
    return v;
}

/* The element of the array at path whose "name" is name, or NULL. */
static json_object *named(json_object *obj, const char *path, const char *name)
{
    json_object *a = array_at(obj, path);
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *e = json_object_array_get_idx(a, i);
        if (util_streq(jpath_str(e, "name"), name))
            return e;
    }
    return NULL;
}

/* The build configuration for run/builder/template, which must succeed without a warning. */
static json_object *config_of(json_object *run, json_object *builder, json_object *tmpl)
{
    char *err = NULL, *warning = NULL;
    json_object *config = jobspec_build_config(run, builder, tmpl, &OPTS, &err, &warning);
    ck_assert_msg(config != NULL, "build config: %s", err ? err : "?");
    ck_assert_msg(warning == NULL, "unexpected warning: %s", warning);
    ck_assert_ptr_null(err);
    return config;
}

/* The error of a build configuration that must fail (malloc'd). */
static char *config_error(json_object *run, json_object *builder, json_object *tmpl)
{
    char *err = NULL, *warning = NULL;
    json_object *config = jobspec_build_config(run, builder, tmpl, &OPTS, &err, &warning);
    ck_assert_msg(config == NULL, "expected an error, got %s", text(config));
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_null(warning);
    return err;
}

/* Job for run and builder (no template). */
static json_object *job_of(json_object *run, json_object *builder)
{
    json_object *config = config_of(run, builder, NULL);
    json_object *job = jobspec_job(run, config, &OPTS);
    ck_assert_ptr_nonnull(job);
    json_object_put(config);
    return job;
}

/* A run named name with the fixture's uid. */
static json_object *run_named(const char *name)
{
    json_object *run = load("run.json");
    jpath_set_str(run, "metadata.name", name);
    return run;
}

static json_object *pod_spec(json_object *job)
{
    json_object *spec = jpath(job, "spec.template.spec");
    ck_assert_ptr_nonnull(spec);
    return spec;
}

/* The Job with its s2i-config annotation parsed in place (the golden file's form). */
static json_object *expand_config_annotation(json_object *job)
{
    json_object *copy = jpath_copy(job);
    json_object *ann = jpath(copy, "spec.template.metadata.annotations");
    const char *raw = jpath_child_str(ann, S2I_ANNOTATION_CONFIG);
    ck_assert_msg(raw != NULL, "the pod template has no %s annotation", S2I_ANNOTATION_CONFIG);
    json_object_object_add(ann, S2I_ANNOTATION_CONFIG, parse(raw));
    return copy;
}

/* A DNS-1123 label: at most 63 of [a-z0-9-], alphanumeric at both ends. */
static bool dns_label(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
            return false;
    return true;
}

/* A valid run name of length n made of dash-separated words, so that cuts at every
 * position land on letters and on dashes. */
static void make_run_name(char *out, size_t n)
{
    static const char pattern[] = "build-a-bc-def-ghij-k-lmnopq-r-";
    for (size_t i = 0; i < n; i++)
        out[i] = pattern[i % (sizeof pattern - 1)];
    if (out[n - 1] == '-')
        out[n - 1] = 'z';
    out[n] = '\0';
}

/* ---- the golden Job ---------------------------------------------------------------------- */

START_TEST(test_job_for_a_representative_run_matches_the_golden_file)
{
    json_object *run = load("run.json");
    json_object *builder = load("builder.json");
    json_object *job = job_of(run, builder);
    json_object *got = expand_config_annotation(job);
    const char *golden = TESTDATA "job.golden.json";
    if (getenv("S2I_UPDATE_GOLDEN")) {
        int rc = json_object_to_file_ext(golden, got,
                                         JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                             JSON_C_TO_STRING_NOSLASHESCAPE);
        ck_assert_msg(rc == 0, "cannot write %s", golden);
    }
    json_object *want = load("job.golden.json");
    ck_assert_msg(json_object_equal(want, got), "the Job differs from %s:\n%s", golden,
                  json_object_to_json_string_ext(got, JSON_C_TO_STRING_PRETTY |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(want);
    json_object_put(got);
    json_object_put(job);
    json_object_put(builder);
    json_object_put(run);
}
END_TEST

START_TEST(test_job_is_owned_by_its_run_as_controller)
{
    json_object *run = load("run.json");
    json_object *builder = load("builder.json");
    json_object *job = job_of(run, builder);
    json_object *owners = array_at(job, "metadata.ownerReferences");
    ck_assert_uint_eq(json_object_array_length(owners), 1);
    json_object *owner = json_object_array_get_idx(owners, 0);
    /* ks-apiserver hides Jobs whose controller is an S2iRun (console-contract.md C2). */
    ck_assert_str_eq(str_at(owner, "kind"), "S2iRun");
    ck_assert_str_eq(str_at(owner, "apiVersion"), "devops.kubesphere.io/v1alpha1");
    ck_assert_str_eq(str_at(owner, "name"), "hello-nodejs-run-1");
    ck_assert_str_eq(str_at(owner, "uid"), RUN_UID);
    ck_assert(jpath_bool(owner, "controller", false));
    ck_assert_str_eq(str_at(job, "metadata.namespace"), "demo");
    ck_assert_str_eq(jpath_child_str(jpath(job, "metadata.labels"), S2I_LABEL_RUN),
                     "hello-nodejs-run-1");
    ck_assert_str_eq(jpath_child_str(jpath(job, "spec.template.metadata.labels"), S2I_LABEL_RUN),
                     "hello-nodejs-run-1");
    json_object_put(job);
    json_object_put(builder);
    json_object_put(run);
}
END_TEST

/* ---- names ----------------------------------------------------------------------------- */

START_TEST(test_job_name_has_the_upstream_shape_when_it_fits)
{
    char out[64];
    jobspec_job_name("hello-nodejs-run-1", RUN_UID, out);
    ck_assert_str_eq(out, "hello-nodejs-run-1-" UID_TAIL "-job");
    /* 46 characters is the longest run name that fits as is. */
    char name[47];
    make_run_name(name, 46);
    jobspec_job_name(name, RUN_UID, out);
    char want[80];
    snprintf(want, sizeof want, "%s-%s-job", name, UID_TAIL);
    ck_assert_str_eq(out, want);
    ck_assert_uint_eq(strlen(out), 63);
    jobspec_run_label("hello-nodejs-run-1", out);
    ck_assert_str_eq(out, "hello-nodejs-run-1");
}
END_TEST

START_TEST(test_job_name_and_run_label_fit_a_label_for_run_names_of_1_to_80_chars)
{
    char jobs[81][64], labels[81][64];
    for (size_t n = 1; n <= 80; n++) {
        char name[81];
        make_run_name(name, n);
        jobspec_job_name(name, RUN_UID, jobs[n]);
        jobspec_run_label(name, labels[n]);
        ck_assert_msg(dns_label(jobs[n]), "job name for %zu chars: \"%s\"", n, jobs[n]);
        ck_assert_msg(dns_label(labels[n]), "run label for %zu chars: \"%s\"", n, labels[n]);
        ck_assert_msg(util_has_suffix(jobs[n], "-" UID_TAIL "-job"), "%s", jobs[n]);
        if (n <= 63)
            ck_assert_str_eq(labels[n], name);
        else
            ck_assert_uint_eq(strlen(labels[n]), 63);
        /* Every name here is a prefix of the longer ones: all must stay distinct. */
        for (size_t m = 1; m < n; m++) {
            char shorter[81];
            make_run_name(shorter, m);
            if (strcmp(shorter, name) == 0)
                continue;
            ck_assert_msg(strcmp(jobs[m], jobs[n]) != 0, "%zu and %zu chars: same job name %s", m,
                          n, jobs[n]);
            ck_assert_msg(strcmp(labels[m], labels[n]) != 0, "%zu and %zu chars: same label %s", m,
                          n, labels[n]);
        }
    }
}
END_TEST

START_TEST(test_long_names_differing_only_after_the_cut_get_distinct_names)
{
    char a[81], b[81];
    make_run_name(a, 80);
    snprintf(b, sizeof b, "%s", a);
    b[79] = a[79] == 'y' ? 'x' : 'y';
    char ja[64], jb[64], la[64], lb[64];
    jobspec_job_name(a, RUN_UID, ja);
    jobspec_job_name(b, RUN_UID, jb);
    jobspec_run_label(a, la);
    jobspec_run_label(b, lb);
    ck_assert_str_ne(ja, jb);
    ck_assert_str_ne(la, lb);
    /* The readable part is the start of the run's name. */
    ck_assert(strncmp(ja, a, 30) == 0);
    ck_assert(strncmp(la, a, 50) == 0);
}
END_TEST

START_TEST(test_cut_names_never_end_a_part_with_a_dash)
{
    /* Dashes exactly where the job name (37) and the run label (54) cut the name. */
    char name[75];
    memset(name, 'a', 74);
    name[74] = '\0';
    name[36] = '-';
    name[35] = '-';
    name[53] = '-';
    char job[64], label[64];
    jobspec_job_name(name, RUN_UID, job);
    jobspec_run_label(name, label);
    ck_assert_msg(dns_label(job), "%s", job);
    ck_assert_msg(dns_label(label), "%s", label);
    /* The part kept of the name ends alphanumeric before "-<hash>". */
    ck_assert_msg(strncmp(job, name, 35) == 0 && job[35] == '-' && job[36] != '-', "%s", job);
    size_t n = strlen(label);
    ck_assert_uint_eq(n, 62);
    ck_assert_msg(strncmp(label, name, 53) == 0 && label[53] == '-', "%s", label);
}
END_TEST

START_TEST(test_console_run_name_shapes_give_valid_distinct_job_names)
{
    /* Console builder names: `${image-tag}`.slice(0,60) + '-' + 3 random, up to 64 chars. */
    const char *builder =
        "harbor-example-com-library-very-long-application-name-latest-x7k"; /* 64 */
    ck_assert_uint_eq(strlen(builder), 64);
    char create[80], rerun1[80], rerun2[80];
    snprintf(create, sizeof create, "%.37s-abc", builder);    /* path 1: builder[:37]-abc */
    snprintf(rerun1, sizeof rerun1, "%s-rerun-abc", builder); /* path 2: 74 chars */
    snprintf(rerun2, sizeof rerun2, "%s-rerun-xyz", builder);
    ck_assert_uint_eq(strlen(rerun1), 74);

    char job[64], label[64];
    jobspec_job_name(create, RUN_UID, job);
    char want[128];
    snprintf(want, sizeof want, "%s-%s-job", create, UID_TAIL);
    ck_assert_str_eq(job, want);
    jobspec_run_label(create, label);
    ck_assert_str_eq(label, create);

    char job1[64], job2[64], label1[64], label2[64];
    jobspec_job_name(rerun1, RUN_UID, job1);
    jobspec_job_name(rerun2, RUN_UID, job2);
    jobspec_run_label(rerun1, label1);
    jobspec_run_label(rerun2, label2);
    ck_assert_msg(dns_label(job1), "%s", job1);
    ck_assert_msg(dns_label(job2), "%s", job2);
    ck_assert_msg(dns_label(label1), "%s", label1);
    ck_assert_msg(dns_label(label2), "%s", label2);
    ck_assert_str_ne(job1, job2);
    ck_assert_str_ne(label1, label2);
}
END_TEST

START_TEST(test_job_for_a_74_char_rerun_uses_the_short_names)
{
    const char *name = "harbor-example-com-library-very-long-application-name-latest-x7k-rerun-abc";
    json_object *run = run_named(name);
    json_object *builder = load("builder.json");
    json_object *job = job_of(run, builder);
    char want_job[64], want_label[64];
    jobspec_job_name(name, RUN_UID, want_job);
    jobspec_run_label(name, want_label);
    ck_assert_str_eq(str_at(job, "metadata.name"), want_job);
    ck_assert_str_eq(jpath_child_str(jpath(job, "metadata.labels"), S2I_LABEL_RUN), want_label);
    ck_assert_str_eq(jpath_child_str(jpath(job, "spec.template.metadata.labels"), S2I_LABEL_RUN),
                     want_label);
    /* The owner reference and the build configuration keep the full name. */
    ck_assert_str_eq(
        str_at(json_object_array_get_idx(array_at(job, "metadata.ownerReferences"), 0), "name"),
        name);
    json_object *expanded = expand_config_annotation(job);
    ck_assert_str_eq(str_at(jpath_child(jpath(expanded, "spec.template.metadata.annotations"),
                                        S2I_ANNOTATION_CONFIG),
                            "run.name"),
                     name);
    json_object_put(expanded);
    json_object_put(job);
    json_object_put(builder);
    json_object_put(run);
}
END_TEST

/* ---- build configuration ------------------------------------------------------------------ */

START_TEST(test_config_applies_the_run_overrides)
{
    json_object *run =
        parse("{\"metadata\":{\"name\":\"r\",\"namespace\":\"demo\",\"uid\":\"u-1\"},"
              "\"spec\":{\"builderName\":\"hello-nodejs\",\"newTag\":\"v9\","
              "\"newRevisionId\":\"feature/x\","
              "\"newSourceURL\":\"https://files.example.com/app-2.jar\"}}");
    json_object *builder = load("builder.json");
    json_object *config = config_of(run, builder, NULL);
    ck_assert_str_eq(str_at(config, "outputImage"), "registry.local:5000/demo/hello-nodejs:v9");
    ck_assert_str_eq(str_at(config, "config.tag"), "v9");
    ck_assert_str_eq(str_at(config, "config.imageName"), "registry.local:5000/demo/hello-nodejs");
    ck_assert_str_eq(str_at(config, "revisionId"), "feature/x");
    ck_assert_str_eq(str_at(config, "config.revisionId"), "feature/x");
    ck_assert_str_eq(str_at(config, "sourceUrl"), "https://files.example.com/app-2.jar");
    ck_assert_str_eq(str_at(config, "config.sourceUrl"), "https://files.example.com/app-2.jar");
    ck_assert_str_eq(str_at(config, "kind"), "S2iBuildConfig");
    ck_assert_int_eq(int_at(config, "version"), 1);
    ck_assert_str_eq(str_at(config, "run.name"), "r");
    ck_assert_str_eq(str_at(config, "run.namespace"), "demo");
    ck_assert_str_eq(str_at(config, "run.uid"), "u-1");
    ck_assert_str_eq(str_at(config, "run.builder"), "hello-nodejs");
    json_object_put(config);
    json_object_put(builder);
    json_object_put(run);
}
END_TEST

START_TEST(test_config_without_overrides_keeps_the_builder_values)
{
    /* The console's rerun sends newTag "" (or nothing): the builder's tag stands. */
    json_object *run =
        parse("{\"metadata\":{\"name\":\"r\",\"namespace\":\"demo\",\"uid\":\"u-1\"},"
              "\"spec\":{\"builderName\":\"hello-nodejs\",\"newTag\":\"\"}}");
    json_object *builder = load("builder.json");
    json_object *config = config_of(run, builder, NULL);
    ck_assert_str_eq(str_at(config, "outputImage"), "registry.local:5000/demo/hello-nodejs:v1.0.0");
    ck_assert_str_eq(str_at(config, "revisionId"), "main");
    ck_assert_str_eq(str_at(config, "sourceUrl"), "https://git.example.com/demo/hello-nodejs.git");
    json_object_put(config);
    json_object_put(builder);
    json_object_put(run);
}
END_TEST

START_TEST(test_config_defaults_tag_latest_and_revision_master)
{
    json_object *run =
        parse("{\"metadata\":{\"name\":\"r\",\"namespace\":\"demo\",\"uid\":\"u-1\"},"
              "\"spec\":{\"builderName\":\"b\"}}");
    json_object *builder =
        parse("{\"spec\":{\"config\":{\"imageName\":\"reg/app\",\"builderImage\":\"reg/b:1\","
              "\"sourceUrl\":\"https://git/x.git\",\"tag\":\"\"}}}");
    json_object *config = config_of(run, builder, NULL);
    ck_assert_str_eq(str_at(config, "config.tag"), "latest");
    ck_assert_str_eq(str_at(config, "outputImage"), "reg/app:latest");
    ck_assert_str_eq(str_at(config, "config.revisionId"), "master");
    ck_assert_str_eq(str_at(config, "revisionId"), "master");
    ck_assert_uint_eq(json_object_object_length(jpath(config, "secrets")), 0);
    ck_assert_uint_eq(json_object_array_length(array_at(config, "insecureRegistries")), 1);
    json_object_put(config);
    json_object_put(builder);
    json_object_put(run);
}
END_TEST

START_TEST(test_config_keeps_unknown_config_keys)
{
    /* The console copies every containerInfo key and `type` into spec.config, plus
     * `replicas`: they are not ours to drop. */
    json_object *run = load("run.json");
    json_object *builder = load("builder.json");
    jpath_set_str(builder, "spec.config.someFutureOption", "kept");
    json_object *config = config_of(run, builder, NULL);
    ck_assert_int_eq(int_at(config, "config.replicas"), 0);
    ck_assert_str_eq(str_at(config, "config.type"), "nodejs");
    ck_assert_str_eq(str_at(config, "config.someFutureOption"), "kept");
    ck_assert(jpath_bool(config, "config.export", false));
    ck_assert_str_eq(str_at(config, "config.contextDir"), "/");
    json_object_put(config);
    json_object_put(builder);
    json_object_put(run);
}
END_TEST

START_TEST(test_config_from_template_takes_the_builder_image_of_from_template)
{
    json_object *run = load("run.json");
    json_object *builder = load("builder.json");
    json_object *tmpl = load("template.json");
    jpath_del(builder, "spec.config.builderImage");
    jpath_set(builder, "spec.fromTemplate",
              parse("{\"name\":\"nodejs\",\"builderImage\":"
                    "\"registry.local:5000/s2i/nodejs-20:latest\"}"));
    json_object *config = config_of(run, builder, tmpl);
    ck_assert_str_eq(str_at(config, "config.builderImage"),
                     "registry.local:5000/s2i/nodejs-20:latest");
    json_object_put(config);
    json_object_put(tmpl);
    json_object_put(builder);
    json_object_put(run);
}
END_TEST

START_TEST(test_config_from_template_defaults_to_its_default_base_image)
{
    json_object *run = load("run.json");
    json_object *builder = load("builder.json");
    json_object *tmpl = load("template.json");
    /* fromTemplate wins over a builderImage in the config, as upstream. */
    jpath_set_str(builder, "spec.config.builderImage", "other/image:1");
    jpath_set(builder, "spec.fromTemplate", parse("{\"name\":\"nodejs\"}"));
    json_object *config = config_of(run, builder, tmpl);
    ck_assert_str_eq(str_at(config, "config.builderImage"),
                     "registry.local:5000/s2i/nodejs-18:latest");
    json_object *job = jobspec_job(run, config, &OPTS);
    ck_assert_str_eq(str_at(named(pod_spec(job), "containers", "build"), "image"),
                     "registry.local:5000/s2i/nodejs-18:latest");
    json_object_put(job);
    json_object_put(config);
    json_object_put(tmpl);
    json_object_put(builder);
    json_object_put(run);
}
END_TEST

START_TEST(test_config_template_parameters_are_appended_to_the_environment)
{
    json_object *run = load("run.json");
    json_object *builder = load("builder.json");
    json_object *tmpl = load("template.json");
    jpath_set(builder, "spec.fromTemplate",
              parse("{\"name\":\"nodejs\",\"parameters\":["
                    "{\"key\":\"NPM_MIRROR\",\"value\":\"https://npm.registry.local/\","
                    "\"defaultValue\":\"https://registry.npmjs.org/\"},"
                    "{\"key\":\"DEV_MODE\",\"type\":\"boolean\",\"defaultValue\":\"false\"},"
                    "{\"key\":\"NPM_RUN\",\"value\":\"\",\"defaultValue\":\"\"},"
                    "{\"key\":\"YARN_ENABLED\"},"
                    "{\"key\":\"\",\"value\":\"no name\"}]}"));
    json_object *config = config_of(run, builder, tmpl);
    json_object *want = parse("[{\"name\":\"NODE_ENV\",\"value\":\"production\"},"
                              "{\"name\":\"NPM_MIRROR\",\"value\":\"https://npm.registry.local/\"},"
                              "{\"name\":\"DEV_MODE\",\"value\":\"false\"}]");
    json_object *env = array_at(config, "config.environment");
    ck_assert_msg(json_object_equal(want, env), "environment: %s", text(env));
    json_object_put(want);
    json_object_put(config);

    /* Without environment in the config, the parameters make one. */
    jpath_del(builder, "spec.config.environment");
    config = config_of(run, builder, tmpl);
    env = array_at(config, "config.environment");
    ck_assert_uint_eq(json_object_array_length(env), 2);
    ck_assert_str_eq(str_at(json_object_array_get_idx(env, 0), "name"), "NPM_MIRROR");
    json_object_put(config);
    json_object_put(tmpl);
    json_object_put(builder);
    json_object_put(run);
}
END_TEST

START_TEST(test_config_refuses_a_builder_whose_template_is_missing)
{
    json_object *run = load("run.json");
    json_object *builder = load("builder.json");
    jpath_set(builder, "spec.fromTemplate", parse("{\"name\":\"nodejs\"}"));
    char *err = config_error(run, builder, NULL);
    ck_assert_str_eq(err, "S2iBuilderTemplate \"nodejs\" not found");
    free(err);
    json_object_put(builder);
    json_object_put(run);
}
END_TEST

START_TEST(test_config_refuses_a_builder_without_image_name_or_builder_image)
{
    json_object *run = load("run.json");
    json_object *builder = load("builder.json");
    jpath_set_str(builder, "spec.config.imageName", "");
    char *err = config_error(run, builder, NULL);
    ck_assert_str_eq(err, "Required value not specified for \"imageName\"");
    free(err);
    json_object_put(builder);

    builder = load("builder.json");
    jpath_del(builder, "spec.config.builderImage");
    err = config_error(run, builder, NULL);
    ck_assert_str_eq(err, "Required value not specified for \"builderImage\"");
    free(err);
    json_object_put(builder);

    builder = parse("{\"spec\":{}}");
    err = config_error(run, builder, NULL);
    ck_assert_str_eq(err, "the builder has no spec.config");
    free(err);
    json_object_put(builder);
    json_object_put(run);
}
END_TEST

START_TEST(test_config_strips_inline_passwords_with_a_warning)
{
    json_object *run = load("run.json");
    json_object *builder = load("builder.json");
    jpath_set(builder, "spec.config.pushAuthentication",
              parse("{\"username\":\"robot\",\"password\":\"s3cr3t-push\","
                    "\"serverAddress\":\"registry.local:5000\"}"));
    jpath_set(builder, "spec.config.incrementalAuthentication",
              parse("{\"username\":\"robot\",\"password\":\"s3cr3t-incr\"}"));
    /* The trigger secret is no business of the build either. */
    jpath_set_str(builder, "spec.config.secretCode", "s3cr3t-trigger");
    char *err = NULL, *warning = NULL;
    json_object *config = jobspec_build_config(run, builder, NULL, &OPTS, &err, &warning);
    ck_assert_ptr_nonnull(config);
    ck_assert_ptr_null(err);
    ck_assert_ptr_nonnull(warning);
    ck_assert_msg(strstr(warning, "secretRef") != NULL, "%s", warning);
    ck_assert_msg(strstr(warning, "s3cr3t") == NULL, "the warning shows a password: %s", warning);
    ck_assert_str_eq(str_at(config, "config.pushAuthentication.username"), "robot");
    ck_assert_ptr_null(jpath(config, "config.pushAuthentication.password"));
    ck_assert_ptr_null(jpath(config, "config.incrementalAuthentication.password"));
    ck_assert_ptr_null(jpath(config, "config.secretCode"));
    /* Nothing was mounted for them either. */
    ck_assert_ptr_null(jpath(config, "secrets.push"));
    json_object *job = jobspec_job(run, config, &OPTS);
    ck_assert_msg(strstr(text(job), "s3cr3t") == NULL, "a password reached the Job: %s", text(job));
    json_object_put(job);
    json_object_put(config);
    free(warning);

    /* The caller may not want the warning. */
    config = jobspec_build_config(run, builder, NULL, &OPTS, &err, NULL);
    ck_assert_ptr_nonnull(config);
    ck_assert_ptr_null(jpath(config, "config.pushAuthentication.password"));
    json_object_put(config);
    json_object_put(builder);
    json_object_put(run);
}
END_TEST

START_TEST(test_config_names_the_mount_of_each_referenced_secret)
{
    json_object *run = load("run.json");
    json_object *builder = load("builder.json");
    jpath_set_str(builder, "spec.config.runtimeAuthentication.secretRef.name", "registry-runtime");
    jpath_set_str(builder, "spec.config.incrementalAuthentication.secretRef.name", "registry-incr");
    json_object *config = config_of(run, builder, NULL);
    json_object *want = parse("{\"push\":\"/var/run/secrets/s2i/push\","
                              "\"pull\":\"/var/run/secrets/s2i/pull\","
                              "\"runtime\":\"/var/run/secrets/s2i/runtime\","
                              "\"incremental\":\"/var/run/secrets/s2i/incremental\","
                              "\"git\":\"/var/run/secrets/s2i/git\"}");
    ck_assert_msg(json_object_equal(want, jpath(config, "secrets")), "secrets: %s",
                  text(jpath(config, "secrets")));
    /* The references stay as they are: names, never contents. */
    ck_assert_str_eq(str_at(config, "config.pushAuthentication.secretRef.name"), "registry-push");
    ck_assert_str_eq(str_at(config, "config.gitSecretRef.name"), "git-basic-auth");
    ck_assert_str_eq(str_at(config, "sourceUrl"), "https://git.example.com/demo/hello-nodejs.git");
    json_object_put(want);
    json_object_put(config);
    json_object_put(builder);
    json_object_put(run);
}
END_TEST

/* ---- the Job ----------------------------------------------------------------------------------
 */

/* The volume mounting secret at /var/run/secrets/s2i/<kind>, mounted read-only by exactly
 * the containers in `in` (comma-separated). */
static void assert_secret_mounted(json_object *job, const char *secret, const char *kind,
                                  const char *in)
{
    json_object *spec = pod_spec(job);
    char volume[64], dir[96];
    snprintf(volume, sizeof volume, "s2i-%s-secret", kind);
    snprintf(dir, sizeof dir, "/var/run/secrets/s2i/%s", kind);
    json_object *v = named(spec, "volumes", volume);
    ck_assert_msg(v != NULL, "no volume %s", volume);
    ck_assert_str_eq(str_at(v, "secret.secretName"), secret);
    ck_assert_int_eq(int_at(v, "secret.defaultMode"), 0444);
    ck_assert_ptr_null(jpath(v, "secret.items"));
    const char *groups[] = {"initContainers", "containers"};
    for (size_t g = 0; g < 2; g++) {
        json_object *cs = array_at(spec, groups[g]);
        for (size_t i = 0; i < json_object_array_length(cs); i++) {
            json_object *c = json_object_array_get_idx(cs, i);
            const char *name = str_at(c, "name");
            json_object *m = named(c, "volumeMounts", volume);
            char want[64];
            snprintf(want, sizeof want, ",%s,", in);
            char key[64];
            snprintf(key, sizeof key, ",%s,", name);
            if (strstr(want, key)) {
                ck_assert_msg(m != NULL, "%s does not mount %s", name, volume);
                ck_assert_str_eq(str_at(m, "mountPath"), dir);
                ck_assert(jpath_bool(m, "readOnly", false));
            } else {
                ck_assert_msg(m == NULL, "%s mounts %s", name, volume);
            }
        }
    }
}

START_TEST(test_job_mounts_each_referenced_secret_read_only)
{
    json_object *run = load("run.json");
    json_object *builder = load("builder.json");
    jpath_set_str(builder, "spec.config.runtimeAuthentication.secretRef.name", "registry-runtime");
    jpath_set_str(builder, "spec.config.incrementalAuthentication.secretRef.name", "registry-incr");
    json_object *job = job_of(run, builder);
    assert_secret_mounted(job, "registry-push", "push", "build");
    assert_secret_mounted(job, "registry-pull", "pull", "build");
    assert_secret_mounted(job, "registry-runtime", "runtime", "build");
    assert_secret_mounted(job, "registry-incr", "incremental", "build");
    /* Source credentials are for the fetch step only. */
    assert_secret_mounted(job, "git-basic-auth", "git", "prepare");
    /* Nothing of a Secret is in the Job: no env from secrets, no projected contents. */
    ck_assert_msg(strstr(text(job), "secretKeyRef") == NULL, "%s", text(job));
    ck_assert_msg(strstr(text(job), "\"password\"") == NULL, "%s", text(job));
    json_object_put(job);
    json_object_put(builder);
    json_object_put(run);
}
END_TEST

START_TEST(test_job_pulls_private_builder_and_runtime_images_with_their_secrets)
{
    /* pullAuthentication is for the builder image and runtimeAuthentication for the
     * runtime image; here the kubelet pulls both, so it needs them as imagePullSecrets. */
    json_object *run = load("run.json");
    json_object *builder = load("builder.json");
    jpath_set_str(builder, "spec.config.runtimeImage", "registry.local:5000/base/nginx:1");
    jpath_set_str(builder, "spec.config.runtimeAuthentication.secretRef.name", "registry-runtime");
    json_object *job = job_of(run, builder);
    json_object *want = parse("[{\"name\":\"registry-pull\"},{\"name\":\"registry-runtime\"}]");
    json_object *got = jpath(pod_spec(job), "imagePullSecrets");
    ck_assert_msg(json_object_equal(want, got), "imagePullSecrets: %s", text(got));
    json_object_put(want);
    json_object_put(job);

    /* The same Secret for both is listed once; without either there is no list. */
    jpath_set_str(builder, "spec.config.runtimeAuthentication.secretRef.name", "registry-pull");
    job = job_of(run, builder);
    ck_assert_uint_eq(json_object_array_length(array_at(pod_spec(job), "imagePullSecrets")), 1);
    json_object_put(job);
    jpath_del(builder, "spec.config.runtimeAuthentication");
    jpath_del(builder, "spec.config.pullAuthentication");
    job = job_of(run, builder);
    ck_assert_ptr_null(jpath(pod_spec(job), "imagePullSecrets"));
    json_object_put(job);
    json_object_put(builder);
    json_object_put(run);
}
END_TEST

START_TEST(test_job_without_runtime_image_builds_in_the_main_container)
{
    json_object *run = load("run.json");
    json_object *builder = load("builder.json");
    json_object *job = job_of(run, builder);
    json_object *spec = pod_spec(job);
    json_object *init = array_at(spec, "initContainers");
    json_object *main = array_at(spec, "containers");
    ck_assert_uint_eq(json_object_array_length(init), 1);
    ck_assert_uint_eq(json_object_array_length(main), 1);
    json_object *prepare = json_object_array_get_idx(init, 0);
    json_object *build = json_object_array_get_idx(main, 0);
    ck_assert_str_eq(str_at(prepare, "name"), "prepare");
    ck_assert_str_eq(str_at(prepare, "image"), OPTS.builder_image);
    ck_assert_str_eq(str_at(prepare, "imagePullPolicy"), "IfNotPresent");
    ck_assert_str_eq(str_at(build, "name"), "build");
    ck_assert_str_eq(str_at(build, "image"), "registry.local:5000/s2i/nodejs-18:latest");
    ck_assert_str_eq(str_at(build, "imagePullPolicy"), "IfNotPresent");
    /* The bundle through its own loader, the step's name last. */
    json_object *command = array_at(build, "command");
    ck_assert_str_eq(str_at(json_object_array_get_idx(command, 0), ""), "/s2i/tools/ld.so");
    ck_assert_str_eq(
        str_at(json_object_array_get_idx(command, json_object_array_length(command) - 1), ""),
        "build");
    ck_assert_str_eq(str_at(build, "terminationMessagePolicy"), "FallbackToLogsOnError");
    ck_assert_str_eq(str_at(named(build, "env", "S2I_STEP"), "value"), "build");
    ck_assert_str_eq(str_at(named(build, "env", "S2I_CONFIG_PATH"), "value"),
                     "/etc/s2i/config.json");
    ck_assert_str_eq(str_at(named(build, "env", "POD_NAME"), "valueFrom.fieldRef.fieldPath"),
                     "metadata.name");
    /* The build step runs the tool prepare copied, which it may not change. */
    ck_assert(jpath_bool(named(build, "volumeMounts", "s2i-tools"), "readOnly", false));
    ck_assert(!jpath_bool(named(prepare, "volumeMounts", "s2i-tools"), "readOnly", false));
    json_object_put(job);
    json_object_put(builder);
    json_object_put(run);
}
END_TEST

START_TEST(test_job_with_runtime_image_runs_build_as_init_and_runtime_as_main)
{
    json_object *run = load("run.json");
    json_object *builder = load("builder.json");
    jpath_set_str(builder, "spec.config.runtimeImage", "registry.local:5000/base/nginx:1");
    jpath_set_str(builder, "spec.config.runtimeImagePullPolicy", "always");
    json_object *job = job_of(run, builder);
    json_object *spec = pod_spec(job);
    json_object *init = array_at(spec, "initContainers");
    json_object *main = array_at(spec, "containers");
    ck_assert_uint_eq(json_object_array_length(init), 2);
    ck_assert_uint_eq(json_object_array_length(main), 1);
    ck_assert_str_eq(str_at(json_object_array_get_idx(init, 0), "name"), "prepare");
    json_object *build = json_object_array_get_idx(init, 1);
    json_object *runtime = json_object_array_get_idx(main, 0);
    ck_assert_str_eq(str_at(build, "name"), "build");
    ck_assert_str_eq(str_at(build, "image"), "registry.local:5000/s2i/nodejs-18:latest");
    ck_assert_str_eq(str_at(runtime, "name"), "runtime");
    ck_assert_str_eq(str_at(runtime, "image"), "registry.local:5000/base/nginx:1");
    ck_assert_str_eq(str_at(runtime, "imagePullPolicy"), "Always");
    ck_assert_str_eq(str_at(named(runtime, "env", "S2I_STEP"), "value"), "runtime");
    /* The runtime step pushes: it has the push credentials and the limits too. */
    ck_assert_ptr_nonnull(named(runtime, "volumeMounts", "s2i-push-secret"));
    ck_assert_ptr_nonnull(jpath(runtime, "resources.limits.memory"));
    json_object_put(job);
    json_object_put(builder);
    json_object_put(run);
}
END_TEST

START_TEST(test_job_cgroup_limits_become_container_limits)
{
    json_object *run = load("run.json");
    json_object *builder = load("builder.json");
    json_object *job = job_of(run, builder);
    json_object *build = named(pod_spec(job), "containers", "build");
    json_object *want = parse("{\"limits\":{\"memory\":\"1073741824\",\"cpu\":\"1500m\"}}");
    ck_assert_msg(json_object_equal(want, jpath(build, "resources")), "%s",
                  text(jpath(build, "resources")));
    ck_assert_ptr_null(jpath(named(pod_spec(job), "initContainers", "prepare"), "resources"));
    json_object_put(want);
    json_object_put(job);

    /* Only memory; then none (all zero, as a Go zero value would say). */
    jpath_set(builder, "spec.config.cgroupLimits",
              parse("{\"memoryLimitBytes\":268435456,\"cpuShares\":0,\"cpuPeriod\":0,"
                    "\"cpuQuota\":0,\"memorySwap\":0}"));
    job = job_of(run, builder);
    want = parse("{\"limits\":{\"memory\":\"268435456\"}}");
    build = named(pod_spec(job), "containers", "build");
    ck_assert_msg(json_object_equal(want, jpath(build, "resources")), "%s",
                  text(jpath(build, "resources")));
    json_object_put(want);
    json_object_put(job);
    jpath_set(builder, "spec.config.cgroupLimits",
              parse("{\"memoryLimitBytes\":0,\"cpuShares\":0,\"cpuPeriod\":0,\"cpuQuota\":0,"
                    "\"memorySwap\":0}"));
    job = job_of(run, builder);
    ck_assert_ptr_null(jpath(named(pod_spec(job), "containers", "build"), "resources"));
    json_object_put(job);
    json_object_put(builder);
    json_object_put(run);
}
END_TEST

START_TEST(test_job_pull_policies_map_from_the_s2i_spelling)
{
    const char *cases[][2] = {
        {"always", "Always"}, {"never", "Never"}, {"if-not-present", "IfNotPresent"}, {"", NULL}};
    json_object *run = load("run.json");
    json_object *builder = load("builder.json");
    for (size_t i = 0; i < UTIL_ARRAY_LEN(cases); i++) {
        jpath_set_str(builder, "spec.config.builderPullPolicy", cases[i][0]);
        json_object *job = job_of(run, builder);
        json_object *build = named(pod_spec(job), "containers", "build");
        if (cases[i][1])
            ck_assert_str_eq(str_at(build, "imagePullPolicy"), cases[i][1]);
        else
            ck_assert_ptr_null(jpath(build, "imagePullPolicy"));
        json_object_put(job);
    }
    json_object_put(builder);
    json_object_put(run);
}
END_TEST

START_TEST(test_job_timeout_comes_from_the_run_or_the_default)
{
    json_object *run = load("run.json");
    json_object *builder = load("builder.json");
    json_object *job = job_of(run, builder);
    ck_assert_int_eq(int_at(job, "spec.activeDeadlineSeconds"), 1800);
    ck_assert_int_eq(int_at(job, "spec.backoffLimit"), 2);
    ck_assert_int_eq(int_at(job, "spec.ttlSecondsAfterFinished"), 600);
    json_object_put(job);

    jpath_del(run, "spec.timeout");
    jpath_del(run, "spec.secondsAfterFinished");
    jpath_del(run, "spec.backoffLimit");
    job = job_of(run, builder);
    ck_assert_int_eq(int_at(job, "spec.activeDeadlineSeconds"), OPTS.default_timeout);
    ck_assert_int_eq(int_at(job, "spec.backoffLimit"), 0);
    ck_assert_ptr_null(jpath(job, "spec.ttlSecondsAfterFinished"));
    json_object_put(job);

    /* The Job's deadline is the backstop for the build timeout plus the pending time. */
    jpath_set(run, "spec.pendingTimeout", json_object_new_string("5m"));
    job = job_of(run, builder);
    ck_assert_int_eq(int_at(job, "spec.activeDeadlineSeconds"), OPTS.default_timeout + 300);
    json_object_put(job);
    jobspec_options_t with_pending = OPTS;
    with_pending.pending_timeout = 600;
    jpath_del(run, "spec.pendingTimeout");
    json_object *config = config_of(run, builder, NULL);
    job = jobspec_job(run, config, &with_pending);
    ck_assert_int_eq(int_at(job, "spec.activeDeadlineSeconds"), OPTS.default_timeout + 600);
    json_object_put(job);
    json_object_put(config);

    /* Without options the default is an hour. */
    config = config_of(run, builder, NULL);
    job = jobspec_job(run, config, NULL);
    ck_assert_int_eq(int_at(job, "spec.activeDeadlineSeconds"), 3600);
    ck_assert_str_eq(str_at(named(pod_spec(job), "initContainers", "prepare"), "image"),
                     "s2i-operator/builder");
    json_object_put(job);
    json_object_put(config);
    json_object_put(builder);
    json_object_put(run);
}
END_TEST

START_TEST(test_parse_duration_accepts_what_the_crd_pattern_accepts)
{
    ck_assert_int_eq(jobspec_parse_duration("1h30m"), 5400);
    ck_assert_int_eq(jobspec_parse_duration("90s"), 90);
    ck_assert_int_eq(jobspec_parse_duration("2h"), 7200);
    ck_assert_int_eq(jobspec_parse_duration("30m"), 1800);
    ck_assert_int_eq(jobspec_parse_duration("1m30s"), 90);
    ck_assert_int_eq(jobspec_parse_duration("0s"), 0);
    /* The CRD's pattern allows fractions and sub-second units (Go's time.ParseDuration);
     * a positive duration never rounds down to "no timeout". */
    ck_assert_int_eq(jobspec_parse_duration("1.5h"), 5400);
    ck_assert_int_eq(jobspec_parse_duration(".5m"), 30);
    ck_assert_int_eq(jobspec_parse_duration("2.m"), 120);
    ck_assert_int_eq(jobspec_parse_duration("1500ms"), 2);
    ck_assert_int_eq(jobspec_parse_duration("500ms"), 1);
    ck_assert_int_eq(jobspec_parse_duration("1m500ms"), 61);
    ck_assert_int_eq(jobspec_parse_duration("3000000us"), 3);
    ck_assert_int_eq(jobspec_parse_duration("1ns"), 1);
}
END_TEST

START_TEST(test_parse_duration_rejects_garbage_negative_and_empty)
{
    const char *bad[] = {"",   "garbage", "-5s", "-1h",    "5",  "h",   "1h30",
                         "1d", "1 h",     "1H",  "1.2.3s", ".s", "+5s", "1hh"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++)
        ck_assert_msg(jobspec_parse_duration(bad[i]) == -1, "\"%s\" gave %ld", bad[i],
                      jobspec_parse_duration(bad[i]));
    ck_assert_int_eq(jobspec_parse_duration(NULL), -1);
    ck_assert_int_eq(jobspec_parse_duration("99999999999999999999h"), -1);
}
END_TEST

START_TEST(test_job_with_a_malformed_timeout_uses_the_default)
{
    json_object *run = load("run.json");
    json_object *builder = load("builder.json");
    jpath_set_str(run, "spec.timeout", "soon");
    json_object *job = job_of(run, builder);
    ck_assert_int_eq(int_at(job, "spec.activeDeadlineSeconds"), OPTS.default_timeout);
    json_object_put(job);
    json_object_put(builder);
    json_object_put(run);
}
END_TEST

START_TEST(test_job_is_unprivileged_without_host_access_or_api_token)
{
    json_object *run = load("run.json");
    json_object *builder = load("builder.json");
    json_object *job = job_of(run, builder);
    json_object *spec = pod_spec(job);
    ck_assert_str_eq(str_at(spec, "restartPolicy"), "Never");
    ck_assert(!jpath_bool(spec, "automountServiceAccountToken", true));
    ck_assert_str_eq(str_at(spec, "securityContext.seccompProfile.type"), "RuntimeDefault");
    ck_assert_msg(strstr(text(job), "hostPath") == NULL, "%s", text(job));
    ck_assert_msg(strstr(text(job), "docker.sock") == NULL, "%s", text(job));
    const char *groups[] = {"initContainers", "containers"};
    for (size_t g = 0; g < 2; g++) {
        json_object *cs = array_at(spec, groups[g]);
        for (size_t i = 0; i < json_object_array_length(cs); i++) {
            json_object *c = json_object_array_get_idx(cs, i);
            ck_assert(!jpath_bool(c, "securityContext.privileged", true));
            ck_assert(!jpath_bool(c, "securityContext.allowPrivilegeEscalation", true));
        }
    }
    /* Our own step runs as our image's non-root user; the others as their image says. */
    json_object *prep = named(spec, "initContainers", "prepare");
    ck_assert(jpath_bool(prep, "securityContext.runAsNonRoot", false));
    ck_assert_int_eq(jpath_int(prep, "securityContext.runAsUser", 0), S2I_PREPARE_UID);
    ck_assert_ptr_null(jpath(named(spec, "containers", "build"), "securityContext.runAsUser"));
    /* The configuration reaches the pod through the downward API, not a ConfigMap. */
    json_object *cfg = named(spec, "volumes", "s2i-config");
    ck_assert_str_eq(str_at(json_object_array_get_idx(array_at(cfg, "downwardAPI.items"), 0),
                            "fieldRef.fieldPath"),
                     "metadata.annotations['" S2I_ANNOTATION_CONFIG "']");
    json_object_put(job);
    json_object_put(builder);
    json_object_put(run);
}
END_TEST

START_TEST(test_job_placement_follows_the_builder_taint_and_affinity_keys)
{
    json_object *run = load("run.json");
    json_object *builder = load("builder.json");
    jpath_set_str(builder, "spec.config.taintKey", "example.com/builds");
    jpath_set_str(builder, "spec.config.nodeAffinityKey", "example.com/pool");
    jpath_set(builder, "spec.config.nodeAffinityValues", parse("[\"build\",\"ci\"]"));
    json_object *job = job_of(run, builder);
    json_object *spec = pod_spec(job);
    json_object *tol = array_at(spec, "tolerations");
    ck_assert_uint_eq(json_object_array_length(tol), 2);
    ck_assert_str_eq(str_at(json_object_array_get_idx(tol, 0), "key"), "example.com/builds");
    ck_assert_str_eq(str_at(json_object_array_get_idx(tol, 1), "effect"), "PreferNoSchedule");
    json_object *pref = json_object_array_get_idx(
        array_at(spec, "affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution"), 0);
    json_object *expr = json_object_array_get_idx(array_at(pref, "preference.matchExpressions"), 0);
    ck_assert_str_eq(str_at(expr, "key"), "example.com/pool");
    json_object *want = parse("[\"build\",\"ci\"]");
    ck_assert(json_object_equal(want, jpath(expr, "values")));
    /* Preferred, never required: clusters without CI nodes still build. */
    ck_assert_ptr_null(
        jpath(spec, "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"));
    json_object_put(want);
    json_object_put(job);
    json_object_put(builder);
    json_object_put(run);
}
END_TEST

static Suite *jobspec_suite(void)
{
    Suite *s = suite_create("controller/jobspec");
    TCase *names = tcase_create("names");
    tcase_add_test(names, test_job_name_has_the_upstream_shape_when_it_fits);
    tcase_add_test(names, test_job_name_and_run_label_fit_a_label_for_run_names_of_1_to_80_chars);
    tcase_add_test(names, test_long_names_differing_only_after_the_cut_get_distinct_names);
    tcase_add_test(names, test_cut_names_never_end_a_part_with_a_dash);
    tcase_add_test(names, test_console_run_name_shapes_give_valid_distinct_job_names);
    tcase_add_test(names, test_job_for_a_74_char_rerun_uses_the_short_names);
    suite_add_tcase(s, names);

    TCase *config = tcase_create("config");
    tcase_add_test(config, test_config_applies_the_run_overrides);
    tcase_add_test(config, test_config_without_overrides_keeps_the_builder_values);
    tcase_add_test(config, test_config_defaults_tag_latest_and_revision_master);
    tcase_add_test(config, test_config_keeps_unknown_config_keys);
    tcase_add_test(config, test_config_from_template_takes_the_builder_image_of_from_template);
    tcase_add_test(config, test_config_from_template_defaults_to_its_default_base_image);
    tcase_add_test(config, test_config_template_parameters_are_appended_to_the_environment);
    tcase_add_test(config, test_config_refuses_a_builder_whose_template_is_missing);
    tcase_add_test(config, test_config_refuses_a_builder_without_image_name_or_builder_image);
    tcase_add_test(config, test_config_strips_inline_passwords_with_a_warning);
    tcase_add_test(config, test_config_names_the_mount_of_each_referenced_secret);
    suite_add_tcase(s, config);

    TCase *job = tcase_create("job");
    tcase_add_test(job, test_job_for_a_representative_run_matches_the_golden_file);
    tcase_add_test(job, test_job_is_owned_by_its_run_as_controller);
    tcase_add_test(job, test_job_mounts_each_referenced_secret_read_only);
    tcase_add_test(job, test_job_pulls_private_builder_and_runtime_images_with_their_secrets);
    tcase_add_test(job, test_job_without_runtime_image_builds_in_the_main_container);
    tcase_add_test(job, test_job_with_runtime_image_runs_build_as_init_and_runtime_as_main);
    tcase_add_test(job, test_job_cgroup_limits_become_container_limits);
    tcase_add_test(job, test_job_pull_policies_map_from_the_s2i_spelling);
    tcase_add_test(job, test_job_timeout_comes_from_the_run_or_the_default);
    tcase_add_test(job, test_job_with_a_malformed_timeout_uses_the_default);
    tcase_add_test(job, test_job_is_unprivileged_without_host_access_or_api_token);
    tcase_add_test(job, test_job_placement_follows_the_builder_taint_and_affinity_keys);
    suite_add_tcase(s, job);

    TCase *duration = tcase_create("duration");
    tcase_add_test(duration, test_parse_duration_accepts_what_the_crd_pattern_accepts);
    tcase_add_test(duration, test_parse_duration_rejects_garbage_negative_and_empty);
    suite_add_tcase(s, duration);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(jobspec_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * pkg/build against real registries (Debian's docker-registry through hack/registry.sh,
 * skopeo to look at the result), as make and the build step use it:
 *   - push-rootfs makes the same image twice from the same tree (SOURCE_DATE_EPOCH), with
 *     the owners and config it was asked for;
 *   - a commit on top of that image pushes base layers by digest (mounted in the same
 *     registry, streamed to another one, never uploaded twice) plus the new layer, with
 *     the config the build describes, and reports what the registry holds;
 *   - the build's registry client takes credentials from a mounted docker-config Secret
 *     and a wrong password is an Unauthorized PushFailed without the password in it.
 * Run from the repository root.
 */
#include <check.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "build/build.h"
#include "build/build_internal.h"
#include "util/util.h"

#define SNPRINTF(buf, len, ...) ck_assert_int_lt(snprintf(buf, len, __VA_ARGS__), (int)(len))

static char scratch[] = "/tmp/test_build_registry_XXXXXX";
static char plain[64];  /* a registry without authentication */
static char authed[64]; /* one with htpasswd: builder / s3cr3t-pass */

static char *run(const char *cmd, int *status)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    buf_t out = BUF_INIT;
    buf_puts(&out, "");
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
        buf_append(&out, chunk, n);
    int st = pclose(p);
    if (status)
        *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    while (out.len && out.data[out.len - 1] == '\n')
        out.data[--out.len] = '\0';
    return buf_steal(&out);
}

static json_object *skopeo(const char *flags, const char *ref)
{
    char *cmd = util_asprintf("skopeo inspect --tls-verify=false %s docker://%s", flags, ref);
    int status = -1;
    char *out = run(cmd, &status);
    ck_assert_msg(status == 0, "%s: %s", cmd, out);
    json_object *j = json_tokener_parse(out);
    ck_assert_ptr_nonnull(j);
    free(out);
    free(cmd);
    return j;
}

static const char *jstr(json_object *o, const char *a, const char *b)
{
    json_object *v = NULL;
    ck_assert(json_object_object_get_ex(o, a, &v));
    if (b)
        ck_assert(json_object_object_get_ex(v, b, &v));
    return json_object_get_string(v);
}

static void put(const char *dir, const char *rel, const char *content, mode_t mode)
{
    char path[4096];
    SNPRINTF(path, sizeof(path), "%s/%s", dir, rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    ck_assert_int_eq(build_mkdirs(path, 0755), 0);
    *slash = '/';
    ck_assert_int_eq(build_write_file(path, content, strlen(content), mode), 0);
}

/* A base image "builder" pushed with push-rootfs; returns its digest. */
static void push_base(const char *ref, char digest[REGISTRY_DIGEST_LEN])
{
    char tree[4096];
    SNPRINTF(tree, sizeof(tree), "%s/base", scratch);
    put(tree, "usr/libexec/s2i/assemble", "#!/bin/sh\n", 0755);
    put(tree, "usr/libexec/s2i/run", "#!/bin/sh\n", 0755);
    put(tree, "etc/os-release", "NAME=test\n", 0644);
    const char *insecure[] = {plain, NULL};
    const char *labels[] = {"io.openshift.s2i.scripts-url=image:///usr/libexec/s2i", NULL};
    const char *env[] = {"PATH=/usr/bin:/bin", NULL};
    const char *cmd[] = {"/usr/libexec/s2i/usage", NULL};
    build_rootfs_layer_t layers[] = {{tree, 0, 0}};
    build_rootfs_options_t o = {.layers = layers,
                                .layers_len = 1,
                                .to = ref,
                                .cmd = cmd,
                                .env = env,
                                .labels = labels,
                                .user = "1001",
                                .workdir = "/opt/app",
                                .insecure = insecure,
                                .work = scratch};
    char *err = NULL;
    ck_assert_msg(build_push_rootfs(&o, &err) == 0, "%s", err);
    ck_assert_int_gt(o.size, 0);
    memcpy(digest, o.digest, REGISTRY_DIGEST_LEN);
}

START_TEST(test_push_rootfs_is_reproducible)
{
    setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
    char ref1[128], ref2[128], d1[REGISTRY_DIGEST_LEN], d2[REGISTRY_DIGEST_LEN];
    SNPRINTF(ref1, sizeof(ref1), "%s/s2i/base:1", plain);
    SNPRINTF(ref2, sizeof(ref2), "%s/s2i/again:2", plain);
    push_base(ref1, d1);
    sleep(1); /* other mtimes on disk */
    push_base(ref2, d2);
    ck_assert_str_eq(d1, d2);
    json_object *j = skopeo("", ref1);
    ck_assert_str_eq(jstr(j, "Digest", NULL), d1);
    json_object_put(j);
    j = skopeo("--config", ref1);
    ck_assert_str_eq(jstr(j, "config", "User"), "1001");
    ck_assert_str_eq(jstr(j, "config", "WorkingDir"), "/opt/app");
    ck_assert_str_eq(jstr(j, "created", NULL), "2023-11-14T22:13:20Z");
    json_object_put(j);
    unsetenv("SOURCE_DATE_EPOCH");
}
END_TEST

static build_config_t *config(const char *push_dir)
{
    char *json = util_asprintf(
        "{\"kind\":\"S2iBuildConfig\",\"version\":1,\"outputImage\":\"x\","
        "\"config\":{\"builderImage\":\"b\",\"description\":\"the app\","
        "\"environment\":[{\"name\":\"MODE\",\"value\":\"prod\"}],\"labels\":{\"team\":\"dev\"}},"
        "\"insecureRegistries\":[\"%s\",\"%s\"]%s%s%s}",
        plain, authed, push_dir ? ",\"secrets\":{\"push\":\"" : "", push_dir ? push_dir : "",
        push_dir ? "\"}" : "");
    build_config_t *c = NULL;
    char *err = NULL;
    ck_assert_msg(build_config_parse(json, strlen(json), &c, &err) == 0, "%s", err);
    free(json);
    return c;
}

/* The build's layer: one file, written like the build step writes it. */
static image_layer_info_t app_layer(const char *file)
{
    char tree[4096];
    SNPRINTF(tree, sizeof(tree), "%s/app", scratch);
    put(tree, "opt/app/server", "#!/bin/sh\necho hello\n", 0755);
    build_file_sink_t sink = {open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644)};
    ck_assert_int_ge(sink.fd, 0);
    image_layer_info_t info;
    char *err = NULL;
    ck_assert_int_eq(image_layer_from_dir(tree, NULL, build_file_sink_write, &sink, &info, &err),
                     IMAGE_OK);
    close(sink.fd);
    return info;
}

/* Commits base + the app layer to target with a client for cfg's push Secret. */
static build_err_t commit(const build_config_t *cfg, const char *base_ref, const char *target,
                          build_result_t *result, build_error_t *error)
{
    char *err = NULL;
    registry_client_t *c =
        build_registry_client(cfg, NULL, BUILD_SECRET_PUSH, BUILD_SECRET_COUNT, NULL, &err);
    ck_assert_msg(c != NULL, "%s", err);
    build_image_t base;
    registry_error_t e = REGISTRY_ERROR_INIT;
    ck_assert_int_eq(build_image_fetch(c, base_ref, &base, &e), REGISTRY_OK);
    char file[4096];
    SNPRINTF(file, sizeof(file), "%s/layer.tar.gz", scratch);
    image_layer_info_t layer = app_layer(file);
    build_source_info_t src = {.source_url = "https://git.example/app.git",
                               .revision_id = "main",
                               .commit_id = "89cb6d4",
                               .committer_name = "Ada",
                               .committer_email = "ada@example.com"};
    ck_assert_int_eq(image_config_add_layer(base.config, layer.diff_id, 1700000000, "s2i", NULL),
                     0);
    ck_assert_int_eq(build_commit_config(base.config, cfg, &src, "/usr/libexec/s2i/run", target,
                                         1700000000, &err),
                     0);
    build_commit_t cm = {&base, file, &layer, base.config, target};
    build_err_t rc = build_commit_push(c, &cm, result, error);
    build_image_clear(&base);
    registry_client_free(c);
    return rc;
}

START_TEST(test_commit_reuses_base_layers_and_describes_the_build)
{
    setenv("SOURCE_DATE_EPOCH", "1700000000", 1); /* the same layer each time */
    char base_ref[128], target[128], other[128], d[REGISTRY_DIGEST_LEN];
    SNPRINTF(base_ref, sizeof(base_ref), "%s/s2i/builder:1", plain);
    SNPRINTF(target, sizeof(target), "%s/team/app:v1", plain);
    push_base(base_ref, d);
    build_config_t *cfg = config(NULL);
    build_result_t r;
    build_error_t e = BUILD_ERROR_INIT;
    ck_assert_msg(commit(cfg, base_ref, target, &r, &e) == BUILD_OK, "%s", e.message);
    json_object *j = skopeo("", target);
    ck_assert_str_eq(jstr(j, "Digest", NULL), r.image_id);
    json_object_put(j);
    ck_assert_str_eq(r.repo_tags[0], target);
    char want[160];
    SNPRINTF(want, sizeof(want), "%s/team/app", plain);
    ck_assert_str_eq(r.image_name, want);
    /* Sizes are the compressed layers'; the base layer is the base's, by digest. */
    json_object *raw = skopeo("--raw", target), *base_raw = skopeo("--raw", base_ref);
    json_object *layers = NULL, *base_layers = NULL;
    json_object_object_get_ex(raw, "layers", &layers);
    json_object_object_get_ex(base_raw, "layers", &base_layers);
    ck_assert_uint_eq(json_object_array_length(layers), 2);
    ck_assert_str_eq(jstr(json_object_array_get_idx(layers, 0), "digest", NULL),
                     jstr(json_object_array_get_idx(base_layers, 0), "digest", NULL));
    int64_t size = 0;
    for (size_t i = 0; i < 2; i++) {
        json_object *v = NULL;
        json_object_object_get_ex(json_object_array_get_idx(layers, i), "size", &v);
        size += json_object_get_int64(v);
    }
    ck_assert_int_eq(r.image_size, size);
    json_object_put(raw);
    json_object_put(base_raw);
    j = skopeo("--config", target);
    json_object *cmd = NULL, *conf = NULL;
    json_object_object_get_ex(j, "config", &conf);
    json_object_object_get_ex(conf, "Cmd", &cmd);
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(cmd, 0)),
                     "/usr/libexec/s2i/run");
    json_object *labels = NULL;
    json_object_object_get_ex(conf, "Labels", &labels);
    ck_assert_str_eq(jstr(labels, "io.openshift.s2i.build.commit.id", NULL), "89cb6d4");
    ck_assert_str_eq(jstr(labels, "io.openshift.s2i.build.commit.author", NULL),
                     "Ada <ada@example.com>");
    ck_assert_str_eq(jstr(labels, "io.openshift.s2i.build.source-location", NULL),
                     "https://git.example/app.git");
    ck_assert_str_eq(jstr(labels, "io.openshift.s2i.scripts-url", NULL),
                     "image:///usr/libexec/s2i");
    ck_assert_str_eq(jstr(labels, "io.k8s.description", NULL), "the app");
    ck_assert_str_eq(jstr(labels, "team", NULL), "dev");
    ck_assert_str_eq(jstr(conf, "User", NULL), "1001");
    json_object *env = NULL;
    json_object_object_get_ex(conf, "Env", &env);
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(env, 1)), "MODE=prod");
    json_object_put(j);
    char first[REGISTRY_DIGEST_LEN];
    snprintf(first, sizeof(first), "%s", r.image_id);
    build_result_clear(&r);
    /* Again: the same image (nothing new to upload). */
    ck_assert_int_eq(commit(cfg, base_ref, target, &r, &e), BUILD_OK);
    ck_assert_str_eq(r.image_id, first);
    build_result_clear(&r);
    build_config_free(cfg);

    /* Another registry, with credentials from a Secret directory: the base layer is
     * streamed across. */
    char secret[4096];
    SNPRINTF(secret, sizeof(secret), "%s/push-secret", scratch);
    char *doc = util_asprintf("{\"auths\":{\"%s\":{\"username\":\"builder\",\"password\":"
                              "\"s3cr3t-pass\"}}}",
                              authed);
    put(secret, ".dockerconfigjson", doc, 0444);
    free(doc);
    cfg = config(secret);
    SNPRINTF(other, sizeof(other), "%s/team/app:v1", authed);
    ck_assert_msg(commit(cfg, base_ref, other, &r, &e) == BUILD_OK, "%s", e.message);
    char *cmdline = util_asprintf("skopeo inspect --tls-verify=false --creds builder:s3cr3t-pass "
                                  "docker://%s",
                                  other);
    int status = -1;
    char *out = run(cmdline, &status);
    ck_assert_msg(status == 0, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, r.image_id));
    free(out);
    free(cmdline);
    build_result_clear(&r);
    build_config_free(cfg);

    /* A wrong password: Unauthorized, and the password is in no message. */
    doc = util_asprintf("{\"auths\":{\"%s\":{\"username\":\"builder\",\"password\":"
                        "\"wrong-pass-123\"}}}",
                        authed);
    put(secret, ".dockerconfigjson", doc, 0444);
    free(doc);
    cfg = config(secret);
    ck_assert_int_eq(commit(cfg, base_ref, other, &r, &e), BUILD_ERR_PUSH);
    ck_assert_ptr_nonnull(strstr(e.message, "Unauthorized"));
    ck_assert_ptr_null(strstr(e.message, "wrong-pass-123"));
    char *line = build_failure_message(&e);
    ck_assert(util_has_prefix(line, "PushFailed: "));
    free(line);
    build_error_clear(&e);
    build_config_free(cfg);
    unsetenv("SOURCE_DATE_EPOCH");
}
END_TEST

int main(void)
{
    if (!mkdtemp(scratch)) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    char *cmd = util_asprintf("hack/registry.sh start %s/plain && hack/registry.sh start "
                              "%s/authed --auth builder:s3cr3t-pass",
                              scratch, scratch);
    int status = -1;
    char *out = run(cmd, &status);
    free(cmd);
    char *nl = out ? strchr(out, '\n') : NULL;
    if (status != 0 || !nl) {
        fprintf(stderr, "test_build_registry: cannot start registries: %s\n", out ? out : "");
        free(out);
        return EXIT_FAILURE;
    }
    *nl = '\0';
    snprintf(plain, sizeof(plain), "%s", out);
    snprintf(authed, sizeof(authed), "%s", nl + 1);
    free(out);
    Suite *s = suite_create("build_registry");
    TCase *tc = tcase_create("registry");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_push_rootfs_is_reproducible);
    tcase_add_test(tc, test_commit_reuses_base_layers_and_describes_the_build);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    cmd = util_asprintf("hack/registry.sh stop %s/plain; hack/registry.sh stop %s/authed%s%s",
                        scratch, scratch, failed ? "" : "; rm -rf ", failed ? "" : scratch);
    free(run(cmd, NULL));
    free(cmd);
    if (failed)
        fprintf(stderr, "test_build_registry: files kept in %s\n", scratch);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

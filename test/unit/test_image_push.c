/*
 * Integration test of pkg/image with pkg/registry, as the builder uses them: a base image
 * is made from a tree and pushed; "assemble" changes the tree; the snapshot diff becomes
 * one layer on top of the base's layers (reused by mount), with a config that says how to
 * run it; the result is pushed, inspected by skopeo, pulled back and unpacked, and must be
 * the changed tree. With SOURCE_DATE_EPOCH, building it twice gives the same digest.
 * Needs docker-registry and skopeo (hack/registry.sh); run from the repo root.
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

#include "image/image.h"
#include "registry/registry.h"
#include "util/util.h"

#define SNPRINTF(buf, len, ...) ck_assert_int_lt(snprintf(buf, len, __VA_ARGS__), (int)(len))

static char scratch[] = "/tmp/test_image_push_XXXXXX";
static char addr[64];

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

static void sh(const char *fmt, const char *a, const char *b)
{
    char *cmd = util_asprintf(fmt, a, b);
    int status = -1;
    char *out = run(cmd, &status);
    ck_assert_msg(status == 0, "%s: %s", cmd, out);
    free(out);
    free(cmd);
}

static void write_file(const char *dir, const char *rel, const char *content, mode_t mode)
{
    char p[4096];
    SNPRINTF(p, sizeof(p), "%s/%s", dir, rel);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(content, f);
    fclose(f);
    chmod(p, mode);
}

typedef struct fd_sink {
    int fd;
} fd_sink_t;

static int fd_write(void *data, const void *buf, size_t len)
{
    return write(((fd_sink_t *)data)->fd, buf, len) == (ssize_t)len ? 0 : -1;
}

/* A layer written to a file, then uploaded. */
static image_layer_info_t push_layer(registry_client_t *c, const registry_ref_t *repo,
                                     const char *root, const image_changes_t *changes,
                                     const char *file)
{
    fd_sink_t s = {.fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600)};
    ck_assert_int_ge(s.fd, 0);
    image_layer_info_t info;
    char *err = NULL;
    image_err_t rc = changes
                         ? image_layer_from_changes(root, changes, NULL, fd_write, &s, &info, &err)
                         : image_layer_from_dir(root, NULL, fd_write, &s, &info, &err);
    ck_assert_msg(rc == IMAGE_OK, "%s", err ? err : "");
    close(s.fd);
    registry_error_t e = REGISTRY_ERROR_INIT;
    ck_assert_msg(registry_blob_upload_file(c, repo, file, info.digest, &e) == REGISTRY_OK, "%s",
                  e.message);
    registry_error_clear(&e);
    return info;
}

static void push_json(registry_client_t *c, const registry_ref_t *repo, const char *data,
                      size_t len, const char *digest)
{
    char path[4096];
    SNPRINTF(path, sizeof(path), "%s/blob.json", scratch);
    FILE *f = fopen(path, "w");
    fwrite(data, 1, len, f);
    fclose(f);
    registry_error_t e = REGISTRY_ERROR_INIT;
    ck_assert_msg(registry_blob_upload_file(c, repo, path, digest, &e) == REGISTRY_OK, "%s",
                  e.message);
    registry_error_clear(&e);
    unlink(path);
}

/* Builds base + assemble layer, pushes it as repo:tag; returns the manifest digest. */
static void build_and_push(registry_client_t *c, const char *tree, const char *tag,
                           char digest_out[REGISTRY_DIGEST_LEN], registry_copy_how_t *how)
{
    char base_layer[4096], app_layer[4096];
    SNPRINTF(base_layer, sizeof(base_layer), "%s/base-%s.tar.gz", scratch, tag);
    SNPRINTF(app_layer, sizeof(app_layer), "%s/app-%s.tar.gz", scratch, tag);
    char *err = NULL;
    /* the builder image: a tree made now, so its mtimes are "now" */
    sh("rm -rf '%s' && mkdir -p '%s/usr/libexec/s2i'", tree, tree);
    sh("mkdir -p '%s/tmp' '%s/etc'", tree, tree);
    sh("mkdir -p '%s/opt/app' '%s/tmp/src'", tree, tree);
    write_file(tree, "usr/libexec/s2i/assemble", "#!/bin/sh\ncp -r /tmp/src/. /opt/app\n", 0755);
    write_file(tree, "usr/libexec/s2i/run", "#!/bin/sh\nexec /opt/app/server\n", 0755);
    write_file(tree, "etc/os-release", "NAME=test\n", 0644);
    write_file(tree, "tmp/stale", "removed by assemble\n", 0644);
    char *cmd = util_asprintf("touch -d @1600000000 $(find '%s' -mindepth 1)", tree);
    free(run(cmd, NULL));
    free(cmd);
    registry_ref_t base = REGISTRY_REF_INIT, app = REGISTRY_REF_INIT;
    char *s = util_asprintf("%s/push/builder:%s", addr, tag);
    ck_assert_int_eq(registry_ref_parse(s, &base, NULL), 0);
    free(s);
    s = util_asprintf("%s/push/app:%s", addr, tag);
    ck_assert_int_eq(registry_ref_parse(s, &app, NULL), 0);
    free(s);
    image_layer_info_t li = push_layer(c, &base, tree, NULL, base_layer);
    time_t created;
    ck_assert_int_eq(image_created_time(&created), 0);
    image_config_t *cfg = image_config_new("linux", "amd64");
    ck_assert_int_eq(image_config_add_layer(cfg, li.diff_id, created, "builder rootfs", NULL), 0);
    ck_assert_int_eq(image_config_set_env(cfg, "PATH", "/usr/bin:/bin"), 0);
    ck_assert_int_eq(
        image_config_set_label(cfg, "io.openshift.s2i.scripts-url", "image:///usr/libexec/s2i"), 0);
    char *data = NULL;
    size_t len = 0;
    char cfg_digest[REGISTRY_DIGEST_LEN];
    ck_assert_int_eq(image_config_encode(cfg, &data, &len, cfg_digest), IMAGE_OK);
    push_json(c, &base, data, len, cfg_digest);
    image_manifest_t *m = image_manifest_new(REGISTRY_MEDIA_OCI_MANIFEST);
    ck_assert_int_eq(image_manifest_set_config(m, NULL, cfg_digest, (int64_t)len), 0);
    ck_assert_int_eq(image_manifest_add_layer(m, NULL, li.digest, li.size), 0);
    free(data);
    ck_assert_int_eq(image_manifest_encode(m, &data, &len, NULL), IMAGE_OK);
    registry_error_t e = REGISTRY_ERROR_INIT;
    ck_assert_msg(registry_manifest_put(c, &base, image_manifest_media_type(m), data, len, NULL,
                                        &e) == REGISTRY_OK,
                  "%s", e.message);
    free(data);

    /* the build: snapshot, assemble, snapshot, diff */
    const char *exclude[] = {"/tmp/src"};
    image_snapshot_options_t so = {.exclude = exclude, .exclude_len = 1};
    image_snapshot_t *before = NULL, *after = NULL;
    ck_assert_int_eq(image_snapshot_take(tree, &so, &before, &err), IMAGE_OK);
    sh("mkdir -p '%s/opt/app/static' && rm -f '%s/tmp/stale'", tree, tree);
    write_file(tree, "opt/app/server", "#!/bin/sh\necho hello from s2i\n", 0755);
    write_file(tree, "opt/app/static/index.html", "<h1>hi</h1>\n", 0644);
    ck_assert_int_eq(image_snapshot_take(tree, &so, &after, &err), IMAGE_OK);
    image_changes_t ch = IMAGE_CHANGES_INIT;
    ck_assert_int_eq(image_snapshot_diff(before, after, &ch, &err), IMAGE_OK);
    ck_assert_uint_ge(ch.len, 4);
    /* the new image: the builder's layers reused (mounted), one more on top */
    ck_assert_int_eq(registry_blob_copy(c, &base, &app, li.digest, li.size, how, &e), REGISTRY_OK);
    image_layer_info_t la = push_layer(c, &app, tree, &ch, app_layer);
    ck_assert_int_eq(image_config_add_layer(cfg, la.diff_id, created, "s2i assemble", NULL), 0);
    const char *run_cmd[] = {"/usr/libexec/s2i/run"};
    ck_assert_int_eq(image_config_set_cmd(cfg, run_cmd, 1), 0);
    ck_assert_int_eq(image_config_set_workdir(cfg, "/opt/app"), 0);
    ck_assert_int_eq(image_config_set_user(cfg, "1001"), 0);
    ck_assert_int_eq(image_config_set_label(cfg, "io.openshift.s2i.build.commit.id", "abc123"), 0);
    ck_assert_int_eq(image_config_set_created(cfg, created), 0);
    ck_assert_int_eq(image_config_encode(cfg, &data, &len, cfg_digest), IMAGE_OK);
    push_json(c, &app, data, len, cfg_digest);
    ck_assert_int_eq(image_manifest_set_config(m, NULL, cfg_digest, (int64_t)len), 0);
    ck_assert_int_eq(image_manifest_add_layer(m, NULL, la.digest, la.size), 0);
    free(data);
    ck_assert_int_eq(image_manifest_encode(m, &data, &len, NULL), IMAGE_OK);
    ck_assert_msg(registry_manifest_put(c, &app, image_manifest_media_type(m), data, len,
                                        digest_out, &e) == REGISTRY_OK,
                  "%s", e.message);
    free(data);
    free(err);
    registry_error_clear(&e);
    image_changes_clear(&ch);
    image_snapshot_free(before);
    image_snapshot_free(after);
    image_manifest_free(m);
    image_config_free(cfg);
    registry_ref_clear(&base);
    registry_ref_clear(&app);
}

static registry_client_t *client(void)
{
    registry_client_t *c = registry_client_new(NULL);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(registry_client_set_insecure(c, addr, true), 0);
    return c;
}

START_TEST(test_build_push_inspect_pull_unpack)
{
    setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
    registry_client_t *c = client();
    char tree[4096];
    SNPRINTF(tree, sizeof(tree), "%s/tree", scratch);
    char digest[REGISTRY_DIGEST_LEN];
    registry_copy_how_t how;
    build_and_push(c, tree, "v1", digest, &how);
    ck_assert_int_eq(how, REGISTRY_COPY_MOUNTED);
    /* skopeo sees the image we meant */
    char *cmd =
        util_asprintf("skopeo inspect --tls-verify=false --config docker://%s/push/app:v1", addr);
    int status = -1;
    char *out = run(cmd, &status);
    ck_assert_msg(status == 0, "%s", out);
    json_object *j = json_tokener_parse(out), *config = NULL, *v = NULL;
    ck_assert_ptr_nonnull(j);
    ck_assert(json_object_object_get_ex(j, "config", &config));
    ck_assert(json_object_object_get_ex(config, "Cmd", &v));
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(v, 0)),
                     "/usr/libexec/s2i/run");
    ck_assert(json_object_object_get_ex(config, "Labels", &v));
    ck_assert(json_object_object_get_ex(v, "io.openshift.s2i.build.commit.id", &v));
    ck_assert_str_eq(json_object_get_string(v), "abc123");
    ck_assert(json_object_object_get_ex(config, "User", &v));
    ck_assert_str_eq(json_object_get_string(v), "1001");
    ck_assert(json_object_object_get_ex(j, "created", &v));
    ck_assert_str_eq(json_object_get_string(v), "2023-11-14T22:13:20Z");
    json_object_put(j);
    free(out);
    free(cmd);
    cmd = util_asprintf("skopeo inspect --tls-verify=false docker://%s/push/app:v1", addr);
    out = run(cmd, &status);
    j = json_tokener_parse(out);
    ck_assert(json_object_object_get_ex(j, "Digest", &v));
    ck_assert_str_eq(json_object_get_string(v), digest);
    json_object_put(j);
    free(out);
    free(cmd);
    /* pull it back and unpack it: the tree assemble left (minus what was excluded) */
    registry_ref_t app = REGISTRY_REF_INIT;
    char *s = util_asprintf("%s/push/app:v1", addr);
    ck_assert_int_eq(registry_ref_parse(s, &app, NULL), 0);
    free(s);
    registry_manifest_t m = REGISTRY_MANIFEST_INIT;
    registry_error_t e = REGISTRY_ERROR_INIT;
    ck_assert_int_eq(registry_manifest_get_image(c, &app, &m, &e), REGISTRY_OK);
    ck_assert_str_eq(m.digest, digest);
    image_manifest_t *man = NULL;
    ck_assert_int_eq(image_manifest_parse(m.data, m.len, m.media_type, &man, NULL), IMAGE_OK);
    ck_assert_uint_eq(image_manifest_layers_len(man), 2);
    char rootfs[4096], blob[4096];
    SNPRINTF(rootfs, sizeof(rootfs), "%s/rootfs", scratch);
    SNPRINTF(blob, sizeof(blob), "%s/pulled.tar.gz", scratch);
    mkdir(rootfs, 0755);
    for (size_t i = 0; i < image_manifest_layers_len(man); i++) {
        image_descriptor_t d;
        ck_assert_int_eq(image_manifest_layer(man, i, &d), 0);
        ck_assert_int_eq(registry_blob_get_file(c, &app, d.digest, blob, &e), REGISTRY_OK);
        char *err = NULL;
        ck_assert_msg(image_layer_extract_file(blob, rootfs, NULL, &err) == IMAGE_OK, "%s", err);
    }
    cmd = util_asprintf("diff -r --no-dereference '%s' '%s' && echo same", tree, rootfs);
    out = run(cmd, &status);
    ck_assert_msg(status == 0, "%s", out);
    free(out);
    free(cmd);
    /* the same build again: the same image, byte for byte */
    char again[REGISTRY_DIGEST_LEN];
    sleep(1); /* other mtimes on disk than the first build's */
    build_and_push(c, tree, "v2", again, &how);
    ck_assert_str_eq(again, digest);
    ck_assert_int_eq(how, REGISTRY_COPY_EXISTED); /* the same base layer, already there */
    image_manifest_free(man);
    registry_manifest_clear(&m);
    registry_ref_clear(&app);
    registry_error_clear(&e);
    registry_client_free(c);
    unsetenv("SOURCE_DATE_EPOCH");
}
END_TEST

int main(void)
{
    if (!mkdtemp(scratch)) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    char *cmd = util_asprintf("hack/registry.sh start %s/registry", scratch);
    int status = -1;
    char *out = run(cmd, &status);
    free(cmd);
    if (status != 0 || !out || !*out) {
        fprintf(stderr, "test_image_push: cannot start a registry: %s\n", out ? out : "");
        free(out);
        return EXIT_FAILURE;
    }
    snprintf(addr, sizeof(addr), "%s", out);
    free(out);
    Suite *s = suite_create("image_push");
    TCase *tc = tcase_create("registry");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_build_push_inspect_pull_unpack);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    cmd = util_asprintf("hack/registry.sh stop %s/registry%s%s", scratch,
                        failed ? "" : " && rm -rf ", failed ? "" : scratch);
    free(run(cmd, NULL));
    free(cmd);
    if (failed)
        fprintf(stderr, "test_image_push: files kept in %s\n", scratch);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

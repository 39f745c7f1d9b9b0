/*
 * build/incremental: S2I's incremental build without a container runtime.
 *
 * S2I runs save-artifacts in a container of the previous image and unpacks its tar output
 * into <destination>/artifacts of the new build. A build pod cannot start a container of
 * another image, so here the previous image's files come to the build instead:
 *   1. the previous image (incrementalFromTag, else the output image) is read from the
 *      registry; its layers above the builder image's (the layer(s) S2I added; just the
 *      last one when it was built on other builder layers) are unpacked into a private
 *      directory under /s2i/work;
 *   2. those files are laid over "/" where "/" has nothing (what the previous assemble
 *      produced: dependencies, caches, build output); files the builder image itself has
 *      are left alone;
 *   3. save-artifacts (this build's, from the scripts lookup) runs and its tar output is
 *      unpacked into <destination>/artifacts;
 *   4. every file and directory laid over "/" in step 2 is removed again, so the new layer
 *      holds only what the new assemble makes.
 * Any problem is logged and the build goes on from scratch, as S2I does when the previous
 * image is missing.
 */
#include "build/build_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct overlay {
    char **created; /* paths created on "/", in creation order */
    size_t len;
    char *const *excludes;
} overlay_t;

static bool excluded(char *const *excludes, const char *path)
{
    for (char *const *e = excludes; e && *e; e++) {
        size_t n = strlen(*e);
        if (strncmp(path, *e, n) == 0 && (path[n] == '\0' || path[n] == '/'))
            return true;
    }
    return false;
}

/* Lays what is under dir (rel: its path on "/") over "/" where nothing is. */
static int lay_over(overlay_t *o, const char *dir, const char *rel)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *from = build_path_join(dir, de->d_name);
        char *to = util_asprintf("%s/%s", rel, de->d_name);
        struct stat st, there;
        if (!from || !to || lstat(from, &st) < 0) {
            rc = -1;
        } else if (!excluded(o->excludes, to)) {
            bool exists = lstat(to, &there) == 0;
            if (S_ISDIR(st.st_mode) && exists && S_ISDIR(there.st_mode)) {
                rc = lay_over(o, from, to);
            } else if (!exists) {
                char *err = NULL;
                /* A copy of the whole entry; recorded before copying, so that a partial
                 * copy is removed too. */
                if (build_strv_push(&o->created, &o->len, to) < 0)
                    rc = -1;
                else if (build_copy_tree(from, to, NULL, &err) < 0)
                    log_v(1, "cannot restore a previous file", "path", to, "error", err, NULL);
                free(err);
            }
        }
        free(from);
        free(to);
    }
    closedir(d);
    return rc;
}

static void undo(overlay_t *o)
{
    for (size_t i = o->len; i > 0; i--)
        if (build_remove_tree(o->created[i - 1]) < 0)
            log_warn("cannot remove a restored file", "path", o->created[i - 1], "error",
                     strerror(errno), NULL);
    build_strv_free(o->created);
    o->created = NULL;
    o->len = 0;
}

/* The previous image's layers (from index first) unpacked into root. */
static int unpack_previous(registry_client_t *c, const build_image_t *prev, size_t first,
                           const char *work, const char *root)
{
    size_t n = image_manifest_layers_len(prev->manifest);
    for (size_t i = first; i < n; i++) {
        image_descriptor_t d;
        image_manifest_layer(prev->manifest, i, &d);
        char *file = util_asprintf("%s/previous-layer-%zu", work, i);
        registry_error_t e = REGISTRY_ERROR_INIT;
        char *err = NULL;
        int rc = -1;
        if (file && registry_blob_get_file(c, &prev->ref, d.digest, file, &e) == REGISTRY_OK &&
            image_layer_extract_file(file, root, NULL, &err) == IMAGE_OK)
            rc = 0;
        if (rc < 0) {
            char line[512];
            log_warn("cannot unpack the previous image", "layer", d.digest, "error",
                     err ? err : registry_error_str(&e, line, sizeof(line)), NULL);
        }
        if (file)
            unlink(file);
        free(file);
        free(err);
        registry_error_clear(&e);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Index of the first layer the previous image has above the builder's. */
static size_t first_own_layer(const build_image_t *prev, const build_image_t *builder)
{
    size_t n = image_manifest_layers_len(prev->manifest);
    size_t nb = image_manifest_layers_len(builder->manifest);
    bool same = n > nb;
    for (size_t i = 0; same && i < nb; i++) {
        image_descriptor_t a, b;
        image_manifest_layer(prev->manifest, i, &a);
        image_manifest_layer(builder->manifest, i, &b);
        same = strcmp(a.digest, b.digest) == 0;
    }
    return same ? nb : (n > 0 ? n - 1 : 0);
}

static void run_save_artifacts(const char *script, char *const *env, const char *work,
                               const char *artifacts_dir)
{
    char *tar = util_asprintf("%s/save-artifacts.tar", work);
    int fd = tar ? open(tar, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
    if (fd < 0) {
        log_warn("cannot create the artifacts file", "error", strerror(errno), NULL);
        free(tar);
        return;
    }
    const char *argv[] = {script, NULL};
    build_cmd_t cmd = {.argv = argv, .env = env, .stdout_fd = fd};
    log_info("running save-artifacts of the previous build", "script", script, NULL);
    int rc = build_cmd_run(&cmd, NULL);
    close(fd);
    char *err = NULL;
    if (rc != 0) {
        log_warn("save-artifacts failed: building from scratch", "exit",
                 rc < 0 ? strerror(errno) : "non-zero", NULL);
    } else if (build_mkdirs(artifacts_dir, 0755) < 0 ||
               image_layer_extract_file(tar, artifacts_dir, NULL, &err) != IMAGE_OK) {
        log_warn("cannot unpack the saved artifacts", "dir", artifacts_dir, "error",
                 err ? err : strerror(errno), NULL);
    } else {
        log_info("artifacts restored", "dir", artifacts_dir, NULL);
    }
    unlink(tar);
    free(tar);
    free(err);
}

void build_incremental_restore(const build_paths_t *paths, const build_config_t *cfg,
                               const build_image_t *builder, const char *target,
                               const char *destination, const build_scripts_t *scripts,
                               char *const *env)
{
    if (!scripts->save_artifacts) {
        log_info("incremental build without a save-artifacts script: building from scratch", NULL);
        return;
    }
    const char *from = cfg->s2i->incremental_from_tag && *cfg->s2i->incremental_from_tag
                           ? cfg->s2i->incremental_from_tag
                           : target;
    build_secret_t secret = build_config_secret(cfg, BUILD_SECRET_INCREMENTAL)
                                ? BUILD_SECRET_INCREMENTAL
                                : BUILD_SECRET_PUSH;
    char *err = NULL;
    registry_client_t *c =
        build_registry_client(cfg, paths->tools, secret, BUILD_SECRET_COUNT, NULL, &err);
    build_image_t prev = {0};
    registry_error_t e = REGISTRY_ERROR_INIT;
    char *root = util_asprintf("%s/previous-root", paths->work);
    char *artifacts = build_path_join(destination, "artifacts");
    char **excludes = build_snapshot_excludes();
    overlay_t o = {.excludes = excludes};
    if (!c || !root || !artifacts || !excludes) {
        log_warn("incremental build: building from scratch", "error", err ? err : "out of memory",
                 NULL);
        goto out;
    }
    registry_err_t rc = build_image_fetch(c, from, &prev, &e);
    if (rc != REGISTRY_OK) {
        char line[512];
        log_info("no previous image: building from scratch", "image", from, "error",
                 registry_error_str(&e, line, sizeof(line)), NULL);
        goto out;
    }
    if (build_mkdirs(root, 0700) < 0 ||
        unpack_previous(c, &prev, first_own_layer(&prev, builder), paths->work, root) < 0)
        goto out;
    if (lay_over(&o, root, "") < 0)
        log_warn("the previous image's files were restored in part", NULL);
    run_save_artifacts(scripts->save_artifacts, env, paths->work, artifacts);
out:
    undo(&o);
    if (root)
        build_remove_tree(root);
    free(root);
    free(artifacts);
    free(err);
    build_strv_free(excludes);
    registry_error_clear(&e);
    build_image_clear(&prev);
    registry_client_free(c);
}

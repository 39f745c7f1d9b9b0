/*
 * build/runtime: step `runtime` of a phased build, inside the runtime image as its user.
 * The artifacts the build step exported become one layer on top of the runtime image's
 * layers; the image runs the runtime image's run script.
 *
 * Without assemble-runtime the layer is made straight from the exported tar (nothing is
 * written to the runtime image's file system, so destinations the runtime user may not
 * write to work, as with docker's COPY), owned by the runtime image's user. With
 * assemble-runtime the artifacts are put in place first, the script runs, and the layer is
 * the snapshot difference, as in the build step.
 */
#include "build/build_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A numeric id of a name in /etc/passwd or /etc/group (field 3), or -1. */
static int64_t lookup_id(const char *db, const char *name, int64_t *primary_gid)
{
    FILE *f = fopen(db, "re");
    if (!f)
        return -1;
    char *line = NULL;
    size_t cap = 0;
    int64_t id = -1;
    while (id < 0 && getline(&line, &cap, f) > 0) {
        char *fields[4] = {0};
        char *p = line;
        for (size_t i = 0; i < 4; i++) {
            fields[i] = strsep(&p, ":\n");
            if (!fields[i])
                break;
        }
        if (fields[0] && fields[2] && strcmp(fields[0], name) == 0) {
            id = strtoll(fields[2], NULL, 10);
            if (primary_gid && fields[3])
                *primary_gid = strtoll(fields[3], NULL, 10);
        }
    }
    free(line);
    fclose(f);
    return id;
}

static bool numeric(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* The owner the artifacts get: the image's User ("name", "uid", "uid:gid", "name:group"),
 * names resolved in the runtime image's own files; root when the image names none. */
static void image_owner(const char *user, int64_t *uid, int64_t *gid)
{
    *uid = 0;
    *gid = 0;
    if (!user || !*user)
        return;
    char *copy = util_strdup(user);
    if (!copy)
        return;
    char *group = strchr(copy, ':');
    if (group)
        *group++ = '\0';
    int64_t primary = -1;
    *uid = numeric(copy) ? strtoll(copy, NULL, 10) : lookup_id("/etc/passwd", copy, &primary);
    if (numeric(copy)) {
        /* A uid's primary group, when /etc/passwd knows the uid. */
        FILE *f = fopen("/etc/passwd", "re");
        char *line = NULL;
        size_t cap = 0;
        while (f && getline(&line, &cap, f) > 0) {
            char *p = line, *name = strsep(&p, ":"), *pw = strsep(&p, ":");
            char *u = strsep(&p, ":"), *g = strsep(&p, ":");
            (void)name;
            (void)pw;
            if (u && g && strtoll(u, NULL, 10) == *uid) {
                primary = strtoll(g, NULL, 10);
                break;
            }
        }
        free(line);
        if (f)
            fclose(f);
    }
    if (group && *group)
        *gid = numeric(group) ? strtoll(group, NULL, 10) : lookup_id("/etc/group", group, NULL);
    else
        *gid = primary;
    if (*uid < 0)
        *uid = 0;
    if (*gid < 0)
        *gid = 0;
    free(copy);
}

static build_err_t layer_from_tar(const build_paths_t *paths, const image_config_t *image,
                                  const char *tar, const char *file, image_layer_info_t *info,
                                  build_error_t *error)
{
    image_layer_options_t opts;
    if (build_layer_options(&opts, error) != BUILD_OK)
        return error->err;
    int64_t uid, gid;
    image_owner(image_config_user(image), &uid, &gid);
    char *dir = util_asprintf("%s/runtime-artifacts-XXXXXX", paths->work);
    build_file_sink_t sink = {open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
    char *err = NULL;
    if (!dir || !mkdtemp(dir) || sink.fd < 0)
        build_error_set(error, BUILD_ERR_ARTIFACTS, "%s: %s", sink.fd < 0 ? file : paths->work,
                        strerror(errno));
    else if (build_artifacts_layer(tar, dir, "/", image_config_workdir(image), uid, gid, &opts,
                                   build_file_sink_write, &sink, info, &err) < 0)
        build_error_set(error, BUILD_ERR_ARTIFACTS, "%s", err ? err : "out of memory");
    if (sink.fd >= 0 && close(sink.fd) < 0)
        build_error_set(error, BUILD_ERR_ARTIFACTS, "%s: %s", file, strerror(errno));
    if (dir)
        build_remove_tree(dir);
    free(dir);
    free(err);
    return error->err;
}

static build_err_t layer_with_script(const build_paths_t *paths, const image_config_t *image,
                                     const char *tar, const char *script, char *const *env,
                                     const char *file, image_layer_info_t *info,
                                     build_error_t *error)
{
    char **excludes = build_snapshot_excludes();
    image_snapshot_t *before = NULL;
    char *dir = util_asprintf("%s/runtime-artifacts-XXXXXX", paths->work);
    char *err = NULL;
    if (!excludes || !dir || !mkdtemp(dir)) {
        build_error_set(error, BUILD_ERR_INTERNAL, "out of memory or %s: %s", paths->work,
                        strerror(errno));
        goto out;
    }
    if (build_snapshot(excludes, &before, error) != BUILD_OK)
        goto out;
    if (build_artifacts_install(tar, dir, "/", image_config_workdir(image), &err) < 0) {
        build_error_set(error, BUILD_ERR_ARTIFACTS, "installing the artifacts: %s",
                        err ? err : "out of memory");
        goto out;
    }
    if (build_run_script(script, env, error) == BUILD_OK)
        build_layer_since(before, excludes, file, info, error);
out:
    if (dir)
        build_remove_tree(dir);
    free(dir);
    free(err);
    image_snapshot_free(before);
    build_strv_free(excludes);
    return error->err;
}

build_err_t build_runtime(const build_paths_t *paths, const build_config_t *cfg,
                          build_result_t *result, build_error_t *error)
{
    memset(result, 0, sizeof(*result));
    build_source_info_t src = {0};
    build_image_t runtime = {0};
    build_scripts_t scripts = {0};
    registry_client_t *c = NULL;
    char *target = NULL, *tar = NULL, *file = NULL, *err = NULL;
    char **configured = build_config_environment(cfg);
    const char *unset[] = {"S2I_GIT_ASKPASS_DIR", NULL};
    char **env = configured ? build_env_merge(NULL, configured, unset) : NULL;
    const char *image = cfg->s2i->runtime_image;
    for (char **kv = configured; kv && *kv; kv++)
        if (util_has_prefix(*kv, "SOURCE_DATE_EPOCH="))
            setenv("SOURCE_DATE_EPOCH", *kv + strlen("SOURCE_DATE_EPOCH="), 1);
    if (!env) {
        build_error_set(error, BUILD_ERR_INTERNAL, "out of memory");
        goto out;
    }
    if (!image || !*image) {
        build_error_set(error, BUILD_ERR_INVALID_CONFIG, "runtimeImage: required");
        goto out;
    }
    if (build_load_source_info(paths, &src, error) != BUILD_OK ||
        !(target = build_output_target(cfg, error)))
        goto out;
    build_secret_t secret =
        build_config_secret(cfg, BUILD_SECRET_RUNTIME) ? BUILD_SECRET_RUNTIME : BUILD_SECRET_PULL;
    log_info("reading the runtime image", "image", image, NULL);
    if (build_pull_image(paths, cfg, secret, image, &runtime, error) != BUILD_OK)
        goto out;
    const char *dest = image_config_label(runtime.config, BUILD_LABEL_DESTINATION);
    if (build_scripts_find(cfg, runtime.config, NULL,
                           dest && *dest ? dest : BUILD_DEFAULT_DESTINATION, paths->work, true,
                           &scripts, error) != BUILD_OK)
        goto out;
    tar = build_path_join(paths->work, "artifacts.tar");
    file = build_path_join(paths->work, "layer.tar.gz");
    if (!tar || !file) {
        build_error_set(error, BUILD_ERR_INTERNAL, "out of memory");
        goto out;
    }
    image_layer_info_t layer;
    if (scripts.assemble_runtime)
        layer_with_script(paths, runtime.config, tar, scripts.assemble_runtime, env, file, &layer,
                          error);
    else
        layer_from_tar(paths, runtime.config, tar, file, &layer, error);
    if (error->err != BUILD_OK)
        goto out;
    time_t created;
    if (image_created_time(&created) < 0) {
        build_error_set(error, BUILD_ERR_INVALID_CONFIG, "SOURCE_DATE_EPOCH is malformed");
        goto out;
    }
    if (image_config_add_layer(runtime.config, layer.diff_id, created, "s2i runtime artifacts",
                               NULL) < 0 ||
        build_commit_config(runtime.config, cfg, &src, scripts.run, target, created, &err) < 0) {
        build_error_set(error, BUILD_ERR_INTERNAL, "%s", err ? err : "out of memory");
        goto out;
    }
    c = build_registry_client(cfg, paths->tools, BUILD_SECRET_PUSH, secret, runtime.ref.registry,
                              &err);
    if (!c) {
        build_error_set(error, BUILD_ERR_PUSH, "%s", err ? err : "out of memory");
        goto out;
    }
    build_commit_t cm = {&runtime, file, &layer, runtime.config, target};
    if (build_commit_push(c, &cm, result, error) == BUILD_OK) {
        result->source = src;
        memset(&src, 0, sizeof(src));
    }
out:
    registry_client_free(c);
    build_scripts_clear(&scripts);
    build_image_clear(&runtime);
    build_source_info_clear(&src);
    build_strv_free(configured);
    build_strv_free(env);
    free(target);
    free(tar);
    free(file);
    free(err);
    return error->err;
}

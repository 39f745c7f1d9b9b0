/*
 * build/assemble: step `build`, inside the builder image as its own user.
 *
 *   1. the builder image's manifest and config from the registry (the container has the
 *      image's files, not its configuration): labels, env, user, layers;
 *   2. a snapshot of "/" without the pod's mounts (/proc, /dev, the emptyDirs, secrets,
 *      /etc/hosts, ...: every mount point of the container but "/");
 *   3. the source copied to <destination>/src (.git left out, as S2I does), the scripts
 *      found (scripts.c), incremental artifacts restored into <destination>/artifacts;
 *   4. assemble runs with the configured environment, its output going straight to ours
 *      (the container log);
 *   5. phased build: the runtime artifacts are exported and the step ends here; else a
 *      second snapshot, the difference as one deterministic layer, and the commit.
 */
#include "build/build_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct step {
    const build_paths_t *paths;
    const build_config_t *cfg;
    build_error_t *error;
    build_source_info_t src;
    build_image_t builder;
    char *target;
    char *destination;
    char **excludes;
    char **env; /* assemble's environment */
    build_scripts_t scripts;
    image_snapshot_t *before;
    /* When each phase ended (util_monotonic), for the timings line a build ends with. */
    double started, pulled, snapshotted, prepared, assembled, layered;
} step_t;

static void step_free(step_t *s)
{
    build_source_info_clear(&s->src);
    build_image_clear(&s->builder);
    free(s->target);
    free(s->destination);
    build_strv_free(s->excludes);
    build_strv_free(s->env);
    build_scripts_clear(&s->scripts);
    image_snapshot_free(s->before);
}

/* SOURCE_DATE_EPOCH in the configured environment governs our layer and config too. */
static void adopt_source_date_epoch(char *const *env)
{
    for (char *const *kv = env; kv && *kv; kv++)
        if (util_has_prefix(*kv, "SOURCE_DATE_EPOCH="))
            setenv("SOURCE_DATE_EPOCH", *kv + strlen("SOURCE_DATE_EPOCH="), 1);
}

build_err_t build_load_source_info(const build_paths_t *paths, build_source_info_t *out,
                                   build_error_t *error)
{
    char *path = build_path_join(paths->work, "source.json");
    char *err = NULL;
    if (!path || build_source_info_load(path, out, &err) < 0)
        build_error_set(error, BUILD_ERR_INTERNAL, "the prepare step left no source: %s",
                        err ? err : "out of memory");
    free(err);
    free(path);
    return error->err;
}

build_err_t build_pull_image(const build_paths_t *paths, const build_config_t *cfg,
                             build_secret_t secret, const char *ref, build_image_t *out,
                             build_error_t *error)
{
    char *err = NULL;
    registry_client_t *c =
        build_registry_client(cfg, paths->tools, secret, BUILD_SECRET_COUNT, NULL, &err);
    if (!c) {
        build_error_set(error, BUILD_ERR_PULL, "%s", err ? err : "out of memory");
        free(err);
        return error->err;
    }
    registry_error_t e = REGISTRY_ERROR_INIT;
    if (build_image_fetch(c, ref, out, &e) != REGISTRY_OK) {
        char line[512];
        build_error_set(error, BUILD_ERR_PULL, "%s: %s", ref,
                        registry_error_str(&e, line, sizeof(line)));
    }
    registry_error_clear(&e);
    registry_client_free(c);
    return error->err;
}

build_err_t build_snapshot(char *const *excludes, image_snapshot_t **out, build_error_t *error)
{
    image_snapshot_options_t opts = {
        .exclude = (const char *const *)excludes,
        .exclude_len = build_strv_len(excludes),
        .one_file_system = true,
    };
    char *err = NULL;
    image_err_t rc = image_snapshot_take("/", &opts, out, &err);
    if (rc != IMAGE_OK)
        build_error_set(error, BUILD_ERR_SNAPSHOT, "snapshot of the file system: %s",
                        err ? err : image_err_name(rc));
    free(err);
    return error->err;
}

static build_err_t inject_source(step_t *s, const char *dest_src)
{
    const char *ctx = s->cfg->s2i->context_dir;
    char *from = build_path_join(s->paths->source, ctx ? ctx : "");
    const char *exclude = s->cfg->s2i->exclude_reg_exp && *s->cfg->s2i->exclude_reg_exp
                              ? s->cfg->s2i->exclude_reg_exp
                              : BUILD_DEFAULT_EXCLUDE;
    char *err = NULL;
    log_info("injecting the source", "into", dest_src, NULL);
    if (!from || build_copy_tree(from, dest_src, exclude, &err) < 0)
        build_error_set(s->error, BUILD_ERR_SNAPSHOT, "copying the source to %s: %s", dest_src,
                        err ? err : "out of memory");
    else if (chmod(dest_src, 0755) < 0) /* not the emptyDir's 0777 */
        log_warn("cannot set the mode of the source directory", "dir", dest_src, NULL);
    free(err);
    free(from);
    return s->error->err;
}

build_err_t build_run_script(const char *script, char *const *env, build_error_t *error)
{
    const char *argv[] = {script, NULL};
    build_cmd_t cmd = {.argv = argv, .env = env};
    log_info("running the script", "script", script, NULL);
    int rc = build_cmd_run(&cmd, NULL);
    const char *name = strrchr(script, '/') ? strrchr(script, '/') + 1 : script;
    if (rc < 0)
        return build_error_set(error, BUILD_ERR_ASSEMBLE, "cannot run %s: %s", name,
                               strerror(errno));
    if (rc != 0)
        return build_error_set(error, BUILD_ERR_ASSEMBLE, "%s exited with code %d", name, rc);
    return BUILD_OK;
}

static build_err_t export_artifacts(step_t *s)
{
    const api_s2i_config_t *c = s->cfg->s2i;
    char *tar = build_path_join(s->paths->work, "artifacts.tar");
    char *err = NULL;
    if (c->runtime_artifacts_len == 0)
        build_error_set(s->error, BUILD_ERR_INVALID_CONFIG,
                        "runtimeImage is set but runtimeArtifacts is empty");
    else if (!tar || build_artifacts_export("/", c->runtime_artifacts, c->runtime_artifacts_len,
                                            tar, &err) < 0)
        build_error_set(s->error, BUILD_ERR_ARTIFACTS, "%s", err ? err : "out of memory");
    else
        log_info("runtime artifacts exported", "file", tar, NULL);
    free(err);
    free(tar);
    return s->error->err;
}

build_err_t build_layer_since(const image_snapshot_t *before, char *const *excludes,
                              const char *file, image_layer_info_t *info, build_error_t *error)
{
    image_snapshot_t *after = NULL;
    image_changes_t changes = IMAGE_CHANGES_INIT;
    image_layer_options_t opts;
    char *err = NULL;
    if (build_snapshot(excludes, &after, error) != BUILD_OK ||
        build_layer_options(&opts, error) != BUILD_OK)
        goto out;
    image_err_t rc = image_snapshot_diff(before, after, &changes, &err);
    if (rc != IMAGE_OK) {
        build_error_set(error, BUILD_ERR_SNAPSHOT, "diff: %s", err ? err : image_err_name(rc));
        goto out;
    }
    for (size_t i = 0; i < changes.notes_len; i++)
        log_v(1, "not compared", "note", changes.notes[i], NULL);
    build_file_sink_t sink = {open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
    if (sink.fd < 0) {
        build_error_set(error, BUILD_ERR_SNAPSHOT, "%s: %s", file, strerror(errno));
        goto out;
    }
    rc = image_layer_from_changes("/", &changes, &opts, build_file_sink_write, &sink, info, &err);
    if (close(sink.fd) < 0 && rc == IMAGE_OK)
        rc = IMAGE_ERR_IO;
    if (rc != IMAGE_OK) {
        build_error_set(error, BUILD_ERR_SNAPSHOT, "writing the layer: %s",
                        err ? err : image_err_name(rc));
        goto out;
    }
    char count[32], bytes[32];
    snprintf(count, sizeof(count), "%zu", changes.len);
    snprintf(bytes, sizeof(bytes), "%lld", (long long)info->size);
    log_info("layer written", "changes", count, "bytes", bytes, "digest", info->digest, NULL);
out:
    free(err);
    image_changes_clear(&changes);
    image_snapshot_free(after);
    return error->err;
}

/* Where the time went: what the builder adds to assemble is everything but assemble. */
static void log_timings(const step_t *s)
{
    double done = util_monotonic();
    double phases[] = {s->pulled - s->started,
                       s->snapshotted - s->pulled,
                       s->prepared - s->snapshotted,
                       s->assembled - s->prepared,
                       s->layered - s->assembled,
                       done - s->layered,
                       (done - s->started) - (s->assembled - s->prepared)};
    char text[UTIL_ARRAY_LEN(phases)][32];
    for (size_t i = 0; i < UTIL_ARRAY_LEN(phases); i++)
        snprintf(text[i], sizeof(text[i]), "%.3fs", phases[i]);
    log_info("build step timings", "builderImage", text[0], "snapshot", text[1], "inject", text[2],
             "assemble", text[3], "layer", text[4], "push", text[5], "overhead", text[6], NULL);
}

static build_err_t commit(step_t *s, build_result_t *result)
{
    char *file = build_path_join(s->paths->work, "layer.tar.gz");
    image_layer_info_t layer;
    char *err = NULL;
    registry_client_t *c = NULL;
    time_t created;
    if (!file) {
        build_error_set(s->error, BUILD_ERR_INTERNAL, "out of memory");
        goto out;
    }
    if (build_layer_since(s->before, s->excludes, file, &layer, s->error) != BUILD_OK)
        goto out;
    s->layered = util_monotonic();
    if (image_created_time(&created) < 0) {
        build_error_set(s->error, BUILD_ERR_INVALID_CONFIG, "SOURCE_DATE_EPOCH is malformed");
        goto out;
    }
    image_config_t *config = s->builder.config;
    if (image_config_add_layer(config, layer.diff_id, created, "s2i assemble", NULL) < 0 ||
        build_commit_config(config, s->cfg, &s->src, s->scripts.run, s->target, created, &err) <
            0) {
        build_error_set(s->error, BUILD_ERR_INTERNAL, "%s", err ? err : "out of memory");
        goto out;
    }
    c = build_registry_client(s->cfg, s->paths->tools, BUILD_SECRET_PUSH, BUILD_SECRET_PULL,
                              s->builder.ref.registry, &err);
    if (!c) {
        build_error_set(s->error, BUILD_ERR_PUSH, "%s", err ? err : "out of memory");
        goto out;
    }
    build_commit_t cm = {&s->builder, file, &layer, config, s->target};
    if (build_commit_push(c, &cm, result, s->error) == BUILD_OK) {
        result->source = s->src;
        memset(&s->src, 0, sizeof(s->src));
        log_timings(s);
    }
out:
    registry_client_free(c);
    free(err);
    free(file);
    return s->error->err;
}

char *build_output_target(const build_config_t *cfg, build_error_t *error)
{
    const api_auth_config_t *push = cfg->s2i->push_authentication;
    char *err = NULL;
    char *target = build_resolve_output_image(cfg->output_image, push ? push->server_address : NULL,
                                              build_config_secret(cfg, BUILD_SECRET_PUSH), &err);
    if (!target)
        build_error_set(error, BUILD_ERR_INVALID_CONFIG, "outputImage: %s",
                        err ? err : "out of memory");
    else if (strcmp(target, cfg->output_image) != 0)
        log_info("the image name has no registry: pushing to the push Secret's", "image", target,
                 NULL);
    free(err);
    return target;
}

build_err_t build_build(const build_paths_t *paths, const build_config_t *cfg,
                        build_result_t *result, build_error_t *error)
{
    step_t s = {.paths = paths, .cfg = cfg, .error = error, .started = util_monotonic()};
    memset(result, 0, sizeof(*result));
    char **configured = build_config_environment(cfg);
    const char *unset[] = {"S2I_GIT_ASKPASS_DIR", NULL};
    s.env = configured ? build_env_merge(NULL, configured, unset) : NULL;
    s.excludes = build_snapshot_excludes();
    if (!s.env || !s.excludes) {
        build_error_set(error, BUILD_ERR_INTERNAL, "out of memory or no /proc/self/mountinfo");
        goto out;
    }
    adopt_source_date_epoch(configured);
    if (build_load_source_info(paths, &s.src, error) != BUILD_OK ||
        !(s.target = build_output_target(cfg, error)))
        goto out;
    if (!cfg->s2i->builder_image || !*cfg->s2i->builder_image) {
        build_error_set(error, BUILD_ERR_INVALID_CONFIG, "builderImage: required");
        goto out;
    }
    log_info("reading the builder image", "image", cfg->s2i->builder_image, NULL);
    if (build_pull_image(paths, cfg, BUILD_SECRET_PULL, cfg->s2i->builder_image, &s.builder,
                         error) != BUILD_OK)
        goto out;
    s.pulled = util_monotonic();
    const char *dest = cfg->s2i->destination && *cfg->s2i->destination
                           ? cfg->s2i->destination
                           : image_config_label(s.builder.config, BUILD_LABEL_DESTINATION);
    s.destination = util_strdup(dest && *dest ? dest : BUILD_DEFAULT_DESTINATION);
    char *dest_src = s.destination ? build_path_join(s.destination, "src") : NULL;
    if (!dest_src) {
        build_error_set(error, BUILD_ERR_INTERNAL, "out of memory");
        goto out;
    }
    if (cfg->s2i->assemble_user && *cfg->s2i->assemble_user)
        log_warn("assembleUser is not supported: assemble runs as the image's user", "user",
                 cfg->s2i->assemble_user, NULL);
    if (build_snapshot(s.excludes, &s.before, error) != BUILD_OK)
        goto done;
    s.snapshotted = util_monotonic();
    if (inject_source(&s, dest_src) != BUILD_OK ||
        build_scripts_find(cfg, s.builder.config, dest_src, s.destination, paths->work, false,
                           &s.scripts, error) != BUILD_OK)
        goto done;
    if (cfg->s2i->incremental)
        build_incremental_restore(paths, cfg, &s.builder, s.target, s.destination, &s.scripts,
                                  s.env);
    s.prepared = util_monotonic();
    if (build_run_script(s.scripts.assemble, s.env, error) != BUILD_OK)
        goto done;
    s.assembled = util_monotonic();
    if (cfg->s2i->runtime_image && *cfg->s2i->runtime_image)
        export_artifacts(&s);
    else
        commit(&s, result);
done:
    free(dest_src);
out:
    build_strv_free(configured);
    step_free(&s);
    return error->err;
}

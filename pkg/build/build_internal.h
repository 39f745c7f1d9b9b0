/*
 * build internals shared by the step files: processes, registry clients, images pulled
 * as manifest + config, commits.
 */
#ifndef S2I_BUILD_INTERNAL_H
#define S2I_BUILD_INTERNAL_H

#include "build/build.h"
#include "util/util.h"

/* ---- paths and strings (fsutil.c) ---- */

/* "<a>/<b>" with one slash between; malloc'd (NULL when out of memory). */
char *build_path_join(const char *a, const char *b);
/* Whether the path exists (lstat). */
bool build_path_exists(const char *path);
bool build_is_dir(const char *path);
/* mkdir -p with mode for what it creates. 0 / -1 with errno. */
int build_mkdirs(const char *path, mode_t mode);
/* Writes a whole file (created with mode, truncated). 0 / -1 with errno. */
int build_write_file(const char *path, const void *data, size_t len, mode_t mode);
/* Appends to a NULL-terminated string vector (copying s); 0 / -1. */
int build_strv_push(char ***v, size_t *len, const char *s);
size_t build_strv_len(char *const *v);

/* ---- processes (proc.c) ---- */

typedef struct build_cmd {
    const char *const *argv; /* argv[0] is looked up in PATH when it has no '/' */
    char *const *env;        /* NULL: the current environment */
    const char *cwd;         /* NULL: the current directory */
    int stdout_fd;           /* > 2: dup'ed onto 1; else inherited */
    bool capture;            /* collect stdout into out (stdout_fd ignored) */
    bool quiet_stderr;       /* stderr to /dev/null instead of ours */
} build_cmd_t;

/* Runs a command to completion. Returns its exit status (0..255, 128+N for a signal), or -1
 * when it could not be started (errno set). *out (capture) is malloc'd, NUL-terminated,
 * trailing newlines removed. SIGTERM/SIGINT received meanwhile are forwarded to the child's
 * process group. */
int build_cmd_run(const build_cmd_t *cmd, char **out);
/* The environment with overrides ("K=V" wins over an inherited K); NULL-terminated;
 * free with build_strv_free. unset (may be NULL) names variables of base to drop. */
char **build_env_merge(char *const *base, char *const *overrides, const char *const *unset);

/* ---- registry (auth.c) ---- */

/* A client for a build: insecure registries from the config, the CA bundle of the tools
 * when the image has none, credentials from the Secret of `kind` (and of `also`, for
 * another registry, e.g. the builder's when pushing; BUILD_SECRET_COUNT for none). */
registry_client_t *build_registry_client(const build_config_t *cfg, const char *tools_dir,
                                         build_secret_t kind, build_secret_t also,
                                         const char *also_registry, char **err);

/* ---- images (commit.c) ---- */

typedef struct build_image {
    registry_ref_t ref;
    registry_manifest_t raw; /* the manifest as the registry stores it */
    image_manifest_t *manifest;
    image_config_t *config;
    int64_t config_size;
} build_image_t;

void build_image_clear(build_image_t *img);
/* Fetches the image's manifest (the platform's, from an index) and config. */
registry_err_t build_image_fetch(registry_client_t *c, const char *ref, build_image_t *out,
                                 registry_error_t *error);
/* build_image_fetch with a client for the Secret of `secret`; PullFailed on failure. */
build_err_t build_pull_image(const build_paths_t *paths, const build_config_t *cfg,
                             build_secret_t secret, const char *ref, build_image_t *out,
                             build_error_t *error);

typedef struct build_commit {
    const build_image_t *base; /* its layers are the new image's first layers */
    const char *layer_file;    /* the new layer (gzip) */
    const image_layer_info_t *layer;
    image_config_t *config; /* the new config (layer already added), borrowed */
    const char *target;     /* the reference to push */
} build_commit_t;

/* Pushes base layers (existing / mounted / streamed), the new layer, the config and the
 * manifest (the base's flavour, the other one when the registry refuses it); fills
 * result. */
build_err_t build_commit_push(registry_client_t *c, const build_commit_t *commit,
                              build_result_t *result, build_error_t *error);

/* Uploads a blob held in memory unless the repository has it. */
registry_err_t build_push_bytes(registry_client_t *c, const registry_ref_t *repo, const char *data,
                                size_t len, const char *digest, registry_error_t *e);

/* The new image's config from the base's: Cmd, Env, labels describing the build. */
int build_commit_config(image_config_t *config, const build_config_t *cfg,
                        const build_source_info_t *src, const char *run_script, const char *target,
                        time_t created, char **err);

/* /s2i/work/source.json as prepare left it; InternalError when it is not there. */
build_err_t build_load_source_info(const build_paths_t *paths, build_source_info_t *out,
                                   build_error_t *error);
/* The reference to push (sr#38 applied); NULL with InvalidConfig. */
char *build_output_target(const build_config_t *cfg, build_error_t *error);

/* A snapshot of "/" without excludes; SnapshotFailed on failure. */
build_err_t build_snapshot(char *const *excludes, image_snapshot_t **out, build_error_t *error);
/* What changed under "/" since before, as one gzip layer written to file. */
build_err_t build_layer_since(const image_snapshot_t *before, char *const *excludes,
                              const char *file, image_layer_info_t *info, build_error_t *error);
/* Runs a script (assemble, assemble-runtime) with env, its output to ours; AssembleFailed
 * "<name> exited with code N" when it fails. */
build_err_t build_run_script(const char *script, char *const *env, build_error_t *error);

/* Exclusions of a snapshot of "/" in a pod: fixed paths and every mount point. */
char **build_snapshot_excludes(void);

/* A layer written to a file: the writer callback and its state. */
typedef struct build_file_sink {
    int fd;
} build_file_sink_t;
int build_file_sink_write(void *data, const void *buf, size_t len);

/* Layer options for a build: defaults (SOURCE_DATE_EPOCH) or an InvalidConfig error. */
build_err_t build_layer_options(image_layer_options_t *o, build_error_t *error);

/* ---- incremental builds (incremental.c) ---- */

/* Restores the previous image's save-artifacts output into <destination>/artifacts.
 * Never fails the build: problems are logged and the build goes on from scratch. */
void build_incremental_restore(const build_paths_t *paths, const build_config_t *cfg,
                               const build_image_t *builder, const char *target,
                               const char *destination, const build_scripts_t *scripts,
                               char *const *env);

/* ---- scripts (scripts.c) ---- */

/* Resolves the scripts (see build_scripts_t). names: which to look for ("assemble",
 * "run", "save-artifacts", "assemble-runtime"); required: which must exist. */
build_err_t build_scripts_find(const build_config_t *cfg, const image_config_t *image,
                               const char *source_dir, const char *destination,
                               const char *work_dir, bool runtime, build_scripts_t *out,
                               build_error_t *error);

#endif

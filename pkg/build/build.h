/*
 * build: the Source-to-Image steps s2i-builder runs in the build Job's pod (the pod
 * contract is in controller/jobspec.h), and the image tooling `make` uses to build our
 * own images.
 *
 *   config     /etc/s2i/config.json (kind S2iBuildConfig) decoded; spec.config through
 *              pkg/api, so keys match as Go's encoding/json matches them
 *   auth       docker config Secrets mounted under /var/run/secrets/s2i/<kind>; the
 *              output image's registry when imageName names none (upstream bug sr#38)
 *   scripts    where assemble/run/save-artifacts/assemble-runtime come from
 *   result     the termination message: the success JSON or "Reason: message"
 *   source     step `prepare`: git clone (credentials through GIT_ASKPASS or an ssh key,
 *              never in argv, URLs or messages) or a binary download, and the bundle copy
 *   assemble   step `build`: snapshot, inject the source, assemble, diff into one layer
 *   commit     the new image: base layers (mounted or copied) + the layer, config, push
 *   artifacts  phased builds: the runtime artifacts handed from `build` to `runtime`
 *   runtime    step `runtime`: the artifacts (and assemble-runtime) on the runtime image
 *   rootfs     `s2i-builder image push-rootfs`: directories become an image in a registry
 *
 * How a build runs
 *   prepare (our image)      copies the bundle to /s2i/tools, fetches the source into
 *                            /s2i/source, records the commit in /s2i/work/source.json.
 *   build (builder image)    fetches the builder image's manifest and config from the
 *                            registry (pull Secret), snapshots "/" (minus the pod's mounts),
 *                            copies the source to <destination>/src, restores incremental
 *                            artifacts, runs assemble with the configured environment
 *                            streaming its output, snapshots again, writes the difference as
 *                            one deterministic gzip layer and pushes builder layers + layer
 *                            with Cmd = <scripts>/run. In a phased build it stops after
 *                            assemble and exports the runtime artifacts to /s2i/work.
 *   runtime (runtime image)  puts the artifacts (and what assemble-runtime changes) into one
 *                            layer on top of the runtime image and pushes it.
 *
 * The bundle
 *   s2i-builder must run inside any builder image (glibc, musl, busybox, distroless), so it
 *   is shipped as a directory: the binary, every shared library it needs (ldd) in lib/, the
 *   dynamic loader as ld.so and a CA bundle in certs/ (hack/bundle.sh makes it). Steps in
 *   foreign images run it through its own loader:
 *     /s2i/tools/ld.so --inhibit-cache --library-path /s2i/tools/lib /s2i/tools/s2i-builder
 *   so nothing of the image's libc is used, and the processes it starts (assemble) see
 *   nothing of ours. The prepare image has the bundle at BUILD_BUNDLE_DIR. One thing of
 *   the image still reaches us: an LD_PRELOAD in its Env. The bundle is ~60 MiB, half of
 *   it ICU data that Debian's libarchive pulls in through libxml2 (never called).
 *
 * Ownership: every *_new / *_load / *_parse result is freed with its *_free (accepting NULL);
 * strings returned are malloc'd and the caller's. Nothing here is thread-safe; the steps
 * are one process each.
 * Errors: steps fill a build_error_t with the reason the operator shows (the termination
 * message's "Reason") and a message without secrets; other functions return 0 / -1 with
 * *err (malloc'd) when they can fail.
 */
#ifndef S2I_BUILD_H
#define S2I_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "api/api.h"
#include "image/image.h"
#include "registry/registry.h"

/* ---- the pod contract (controller/jobspec.h) --------------------------------------- */

#define BUILD_CONFIG_PATH     "/etc/s2i/config.json"
#define BUILD_TOOLS_DIR       "/s2i/tools"
#define BUILD_SOURCE_DIR      "/s2i/source"
#define BUILD_WORK_DIR        "/s2i/work"
#define BUILD_TERMINATION_LOG "/dev/termination-log"
#define BUILD_SECRETS_DIR     "/var/run/secrets/s2i"
/* Where the prepare image keeps the bundle (its /usr/local/bin/s2i-builder links here). */
#define BUILD_BUNDLE_DIR "/usr/local/lib/s2i-builder"
/* The file that marks a directory as a bundle (one line: the version). */
#define BUILD_BUNDLE_MARKER "bundle.txt"

/* S2I defaults. */
#define BUILD_DEFAULT_SCRIPTS_URL  "image:///usr/libexec/s2i"
#define BUILD_DEFAULT_DESTINATION  "/tmp"
#define BUILD_DEFAULT_EXCLUDE      "(^|/)\\.git(/|$)"
#define BUILD_DEFAULT_LABEL_PREFIX "io.openshift.s2i.build."
#define BUILD_LABEL_SCRIPTS_URL    "io.openshift.s2i.scripts-url"
#define BUILD_LABEL_DESTINATION    "io.openshift.s2i.destination"

/* ---- errors ---------------------------------------------------------------------------- */

typedef enum build_err {
    BUILD_OK = 0,
    BUILD_ERR_INVALID_CONFIG,    /* InvalidConfig */
    BUILD_ERR_SOURCE_FETCH,      /* SourceFetchFailed */
    BUILD_ERR_PULL,              /* PullFailed: builder, runtime or previous image */
    BUILD_ERR_SCRIPTS_NOT_FOUND, /* ScriptsNotFound */
    BUILD_ERR_ASSEMBLE,          /* AssembleFailed (assemble or assemble-runtime) */
    BUILD_ERR_SNAPSHOT,          /* SnapshotFailed: snapshot, diff or layer */
    BUILD_ERR_ARTIFACTS,         /* RuntimeArtifactsFailed */
    BUILD_ERR_PUSH,              /* PushFailed */
    BUILD_ERR_INTERNAL,          /* InternalError: out of memory, broken pod layout */
} build_err_t;

typedef struct build_error {
    build_err_t err;
    char *message; /* one line, no secrets; NULL while err is BUILD_OK */
} build_error_t;

#define BUILD_ERROR_INIT                                                                           \
    {                                                                                              \
        BUILD_OK, NULL                                                                             \
    }

/* "InvalidConfig", "AssembleFailed", ...; "" for BUILD_OK. */
const char *build_err_reason(build_err_t err);
/* Sets the error (the first one wins: later calls keep it) and returns err. */
build_err_t build_error_set(build_error_t *e, build_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void build_error_clear(build_error_t *e);

/* ---- config ------------------------------------------------------------------------------ */

typedef enum build_secret {
    BUILD_SECRET_PUSH,
    BUILD_SECRET_PULL,
    BUILD_SECRET_RUNTIME,
    BUILD_SECRET_INCREMENTAL,
    BUILD_SECRET_GIT,
    BUILD_SECRET_COUNT,
} build_secret_t;

typedef struct build_config {
    api_s2i_config_t *s2i; /* "config": the builder's spec.config as resolved for this run */
    char *output_image;    /* "outputImage": what to push, "<imageName>:<tag>" */
    char *source_url;      /* "sourceUrl" */
    char *revision_id;     /* "revisionId"; may be empty (the remote's HEAD) */
    char *run_namespace;   /* "run": namespace, name, uid, builder */
    char *run_name;
    char *run_uid;
    char *run_builder;
    char *secrets[BUILD_SECRET_COUNT]; /* mount directories, NULL when not mounted */
    char **insecure_registries;        /* "insecureRegistries", NULL-terminated */
    size_t insecure_len;
} build_config_t;

/* Decodes an S2iBuildConfig document: kind S2iBuildConfig, version 1, "config" an object
 * decoded as pkg/api's S2iConfig (a type error is an error), "outputImage" a valid image
 * reference, secrets absolute paths that do not climb. 0, or -1 with *err. */
int build_config_parse(const char *json, size_t len, build_config_t **out, char **err);
int build_config_load(const char *path, build_config_t **out, char **err);
void build_config_free(build_config_t *c);
/* The secret mount directory of a kind, or NULL. */
const char *build_config_secret(const build_config_t *c, build_secret_t kind);
/* The configured environment (config.environment, template parameters included by the
 * operator) as "NAME=value" strings, NULL-terminated, later entries winning over earlier
 * ones of the same name; NULL when out of memory. Free with build_strv_free. */
char **build_config_environment(const build_config_t *c);
void build_strv_free(char **v);

/* ---- registry credentials ----------------------------------------------------------- */

/* The docker config in a mounted Secret directory: .dockerconfigjson
 * (kubernetes.io/dockerconfigjson), .dockercfg (kubernetes.io/dockercfg) or config.json.
 * 1 with *out set, 0 when the directory holds none of them, -1 with *err (never a secret). */
int build_auth_load_dir(const char *dir, registry_auth_config_t **out, char **err);
/* The registries (host[:port], scheme and path stripped, docker.io for Docker Hub's
 * aliases) a docker config document names, in document order; NULL-terminated; NULL when
 * the document does not parse or memory ran out. */
char **build_auth_registries(const char *json, size_t len);
/* Whether an image reference names its registry ("host.tld/x", "host:5000/x",
 * "localhost/x") or leaves it to docker's default. */
bool build_ref_has_registry(const char *image);
/* The reference to push: image itself when it names a registry; else, as upstream users
 * expect (sr#38), the registry of server_address (pushAuthentication.serverAddress, scheme
 * stripped) or of the push Secret when its docker config has exactly one registry, else
 * docker.io. push_dir may be NULL. NULL with *err when image is invalid. */
char *build_resolve_output_image(const char *image, const char *server_address,
                                 const char *push_dir, char **err);

/* ---- scripts ------------------------------------------------------------------------------ */

typedef enum build_scripts_kind {
    BUILD_SCRIPTS_IMAGE, /* image:///path: a directory of the image */
    BUILD_SCRIPTS_FILE,  /* file:///path or a plain absolute path: copied into the image */
    BUILD_SCRIPTS_HTTP,  /* http(s)://...: downloaded into the image */
} build_scripts_kind_t;

typedef struct build_scripts_url {
    build_scripts_kind_t kind;
    char *location; /* the directory (IMAGE, FILE) or the URL without a trailing '/' */
} build_scripts_url_t;

/* Parses a scripts URL; 0, or -1 with *err (unknown scheme, relative path, empty). */
int build_scripts_url_parse(const char *url, build_scripts_url_t *out, char **err);
void build_scripts_url_clear(build_scripts_url_t *u);

/* The scripts a build uses, each found where S2I looks: config.scriptsUrl, then the
 * source's .s2i/bin, then the builder image's label io.openshift.s2i.scripts-url, then
 * image:///usr/libexec/s2i. Scripts found outside the image (scriptsUrl file:// or http,
 * .s2i/bin) are copied to <destination>/scripts so that the image keeps them. */
typedef struct build_scripts {
    char *assemble;         /* absolute path in the container, NULL when absent */
    char *run;              /* the path the image's Cmd gets */
    char *save_artifacts;   /* NULL when absent */
    char *assemble_runtime; /* runtime step only */
} build_scripts_t;

void build_scripts_clear(build_scripts_t *s);

/* ---- result -------------------------------------------------------------------------- */

typedef struct build_source_info {
    char *source_url; /* without credentials */
    char *revision_id;
    char *commit_id;
    char *committer_name;
    char *committer_email;
    char *commit_date; /* RFC 3339-ish git %cI */
    char *commit_message;
    char *binary_name; /* B2I */
    uint64_t binary_size;
    char *context_dir;
    char *builder_image;
    char *description;
} build_source_info_t;

void build_source_info_clear(build_source_info_t *s);
/* /s2i/work/source.json, written by prepare and read by build/runtime. 0 / -1 with *err. */
int build_source_info_save(const build_source_info_t *s, const char *path, char **err);
int build_source_info_load(const char *path, build_source_info_t *out, char **err);

typedef struct build_result {
    build_source_info_t source; /* what s2iBuildSource reports */
    char *image_name;           /* the repository pushed to, no tag */
    char *image_id;             /* the manifest digest */
    int64_t image_size;
    char *image_created; /* RFC 3339 */
    char **repo_tags;    /* NULL-terminated */
    char *command_pull;
} build_result_t;

void build_result_clear(build_result_t *r);
/* {"s2iBuildResult": {...}, "s2iBuildSource": {...}} (empty fields omitted); malloc'd. */
char *build_result_message(const build_result_t *r);
/* "<Reason>: <message>" on one line (newlines become spaces), at most ~1 KiB. */
char *build_failure_message(const build_error_t *e);
/* Writes the message to the termination log (path), truncated to its 4 KiB limit; the
 * message also goes to stderr when the file cannot be written. 0 / -1. */
int build_termination_write(const char *path, const char *message);

/* ---- the steps -------------------------------------------------------------------------- */

/* Where a step finds the pod's layout; build_paths_default gives the contract's paths,
 * tests and local runs override them. */
typedef struct build_paths {
    const char *config;          /* BUILD_CONFIG_PATH (or $S2I_CONFIG_PATH) */
    const char *tools;           /* BUILD_TOOLS_DIR */
    const char *source;          /* BUILD_SOURCE_DIR */
    const char *work;            /* BUILD_WORK_DIR */
    const char *termination_log; /* BUILD_TERMINATION_LOG */
    const char *bundle;          /* the bundle to copy (prepare); NULL: next to the program */
    const char *self;            /* the program, for GIT_ASKPASS; NULL: /proc/self/exe */
} build_paths_t;

void build_paths_default(build_paths_t *p);

/* Step prepare: the bundle to paths->tools, the source to paths->source, source.json. */
build_err_t build_prepare(const build_paths_t *paths, const build_config_t *cfg,
                          build_error_t *error);
/* Step build: see "How a build runs". On success *result is filled (a phased build's
 * build step fills nothing and returns BUILD_OK once the artifacts are exported). */
build_err_t build_build(const build_paths_t *paths, const build_config_t *cfg,
                        build_result_t *result, build_error_t *error);
/* Step runtime. */
build_err_t build_runtime(const build_paths_t *paths, const build_config_t *cfg,
                          build_result_t *result, build_error_t *error);

/* GIT_ASKPASS: git runs the program with a prompt ("Username for 'https://host': ");
 * the answer comes from <dir>/username or <dir>/password. 0, or -1 when there is none. */
int build_askpass(const char *dir, const char *prompt, char **answer);

/* ---- git -------------------------------------------------------------------------------- */

/* Whether a revision looks like a commit id (7 to 40 hex digits; 64 for sha256 repos):
 * those cannot be cloned with --branch and need a full clone and a checkout. */
bool build_revision_is_commit(const char *revision);
/* GIT_SSH_COMMAND for a private key file and a known_hosts file (accept-new: the first
 * contact records the host key). Paths are quoted for the shell git runs it with. */
char *build_git_ssh_command(const char *key_file, const char *known_hosts);

/* ---- runtime artifacts ------------------------------------------------------------------ */

/* Exports each artifact (source: an absolute path in the builder's filesystem under root,
 * a file or a directory, copied with its content) into an uncompressed tar at tar_path:
 * entry "<i>/<basename of source>[/...]" for artifact i, plus "artifacts.json" naming each
 * index's destination. root is "/" in the pod. 0 / -1 with *err. */
int build_artifacts_export(const char *root, const api_volume_spec_t *artifacts, size_t n,
                           const char *tar_path, char **err);

/* Where the artifacts of an export land in an image: each artifact goes into its
 * destination directory (relative destinations are relative to workdir, "" or NULL:
 * workdir itself, workdir "" meaning "/"). extract_dir is an empty directory to unpack the
 * tar into. The layer holds the artifacts owned by uid:gid (< 0: as unpacked), plus
 * directory entries for the destination's components that root (the runtime image's
 * filesystem) does not have. 0 / -1 with *err. */
int build_artifacts_layer(const char *tar_path, const char *extract_dir, const char *root,
                          const char *workdir, int64_t uid, int64_t gid,
                          const image_layer_options_t *opts, image_write_fn write, void *data,
                          image_layer_info_t *info, char **err);
/* Unpacks the artifacts onto root at their destinations (for assemble-runtime, which needs
 * them in place). 0 / -1 with *err. */
int build_artifacts_install(const char *tar_path, const char *extract_dir, const char *root,
                            const char *workdir, char **err);

/* ---- filesystem helpers ------------------------------------------------------------- */

/* The mount points of the current mount namespace (/proc/self/mountinfo, escapes decoded),
 * "/" left out; NULL-terminated; NULL when it cannot be read. */
char **build_mount_points(const char *mountinfo_path);
/* Copies src (a file, or a directory with everything under it) to dst, keeping modes,
 * symlinks and mtimes; dst's parents are created and an existing directory at dst is
 * merged into. Paths (relative to src) matching exclude (an ERE, may be NULL) are skipped.
 * Owners are whoever runs it. 0 / -1 with *err. */
int build_copy_tree(const char *src, const char *dst, const char *exclude, char **err);
/* rm -rf; 0, or -1 with errno. Missing is fine. */
int build_remove_tree(const char *path);

/* ---- images from directories --------------------------------------------------------- */

typedef struct build_rootfs_layer {
    const char *dir; /* its content becomes the layer's tree */
    int64_t uid;     /* < 0: owners as on disk */
    int64_t gid;
} build_rootfs_layer_t;

typedef struct build_rootfs_options {
    const build_rootfs_layer_t *layers;
    size_t layers_len;
    const char *to;                   /* the image reference to push */
    const char *const *cmd;           /* NULL-terminated or NULL */
    const char *const *entrypoint;    /* NULL-terminated or NULL */
    const char *const *env;           /* "K=V", NULL-terminated or NULL */
    const char *const *labels;        /* "K=V", NULL-terminated or NULL */
    const char *user;                 /* may be NULL */
    const char *workdir;              /* may be NULL */
    const char *manifest_type;        /* NULL: OCI */
    const char *authfile;             /* docker config for the registry, may be NULL */
    const char *const *insecure;      /* registries over plain HTTP, NULL-terminated or NULL */
    const char *work;                 /* a directory for the layer files */
    char digest[REGISTRY_DIGEST_LEN]; /* out: the manifest digest */
    int64_t size;                     /* out: sum of the compressed layer sizes */
} build_rootfs_options_t;

/* Each directory becomes one deterministic layer (SOURCE_DATE_EPOCH honoured), the config
 * says the rest; pushed to opts->to. 0 / -1 with *err. */
int build_push_rootfs(build_rootfs_options_t *opts, char **err);

#endif

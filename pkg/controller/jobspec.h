/*
 * controller/jobspec: the build configuration of an S2iRun and the Job that runs it.
 * Pure functions (no I/O), so they are tested with golden JSON.
 *
 * The builder contract (what s2i-builder finds in the Job's pod)
 * ---------------------------------------------------------------
 * Build configuration: /etc/s2i/config.json, projected by a downward-API volume from the
 * pod-template annotation `devops.kubesphere.io/s2i-config` (so the run needs no
 * ConfigMap and the Job is the run's only write). Its JSON:
 *   {"kind": "S2iBuildConfig", "version": 1,
 *    "run":    {"namespace", "name", "uid", "builder"},
 *    "config": <the builder's spec.config after the template, the run's overrides and
 *               defaulting, unknown keys kept, inline passwords removed>,
 *    "outputImage": "<registry/repo:tag>",      the image to push
 *    "sourceUrl": "<url>", "revisionId": "<rev>", the source to fetch (the operator adds no
 *                                                 credentials to it: git credentials are mounted)
 *    "secrets": {"push"|"pull"|"runtime"|"incremental"|"git": "<mount directory>"},
 *    "insecureRegistries": ["host:port", ...]}  from the operator's --insecure-registry
 * Secrets: each referenced Secret is mounted read-only (mode 0444) whole at
 *   /var/run/secrets/s2i/<push|pull|runtime|incremental|git>; nothing of a Secret's
 *   content is copied into the Job. The pull and runtime Secrets are also the pod's
 *   imagePullSecrets: the kubelet pulls the builder and runtime images.
 * Shared directories (emptyDir): /s2i/tools (the prepare step copies the self-contained
 *   s2i-builder here), /s2i/source (the fetched source), /s2i/work (layers and artifacts
 *   handed between steps).
 * Steps (container order = execution order):
 *   init  "prepare"  our image (--builder-image): `s2i-builder prepare` copies the tool,
 *                    fetches the source, records the commit.
 *   main  "build"    the builder image, as its own user: `/s2i/tools/ld.so --inhibit-cache
 *                    --library-path /s2i/tools/lib /s2i/tools/s2i-builder build` (the
 *                    bundle through its own loader, so any image's libc will do) injects
 *                    the source, runs assemble, commits and pushes.
 *   With spec.config.runtimeImage (phased build) "build" becomes an init container that
 *   exports the runtime artifacts, and the main container "runtime" runs in the runtime
 *   image: the same command with `runtime`.
 *   Environment of every step: S2I_CONFIG_PATH=/etc/s2i/config.json, S2I_STEP=<step>,
 *   POD_NAME, POD_NAMESPACE.
 * Result: the main container's termination message (/dev/termination-log): on success
 *   {"s2iBuildResult": {...}, "s2iBuildSource": {...}} (< 4 KiB); on failure one line
 *   "<Reason>: <message>" with Reason one of SourceFetchFailed, ScriptsNotFound,
 *   AssembleFailed, SnapshotFailed, PushFailed, PullFailed, InvalidConfig, ...; any step's
 *   non-zero exit fails the pod. terminationMessagePolicy FallbackToLogsOnError.
 * Security: no privileged container, no hostPath, no service-account token mounted,
 *   allowPrivilegeEscalation false, seccomp RuntimeDefault.
 */
#ifndef S2I_CONTROLLER_JOBSPEC_H
#define S2I_CONTROLLER_JOBSPEC_H

#include <json-c/json.h>
#include <stddef.h>

#define S2I_LABEL_RUN          "devops.kubesphere.io/s2ir"
#define S2I_LABEL_BUILDER_NAME "labels.devops.kubesphere.io/builder-name"
#define S2I_ANNOTATION_CONFIG  "devops.kubesphere.io/s2i-config"
#define S2I_CONFIG_DIR         "/etc/s2i"
#define S2I_SECRETS_DIR        "/var/run/secrets/s2i"
/* The prepare step runs our image as this user (its USER, config/images). */
#define S2I_PREPARE_UID 65532

typedef struct jobspec_options {
    const char *builder_image;              /* image of the prepare step (S2IIMAGENAME) */
    const char *image_pull_policy;          /* of the prepare image; NULL: IfNotPresent */
    long default_timeout;                   /* build timeout when the run sets none */
    long pending_timeout;                   /* pending deadline when the run sets none */
    const char *const *insecure_registries; /* NULL-terminated, may be NULL */
} jobspec_options_t;

/* The Job name of a run: "<run>-<last uid group>-job" as upstream, with the run part cut
 * (and a hash of the whole name added) so the result fits the 63 characters a label value
 * allows (upstream bug so#170). Writes at most 64 bytes including the NUL into out. */
void jobspec_job_name(const char *run_name, const char *run_uid, char out[static 64]);
/* A label value naming the run: the name itself when it fits 63 characters, else cut
 * with a hash. */
void jobspec_run_label(const char *run_name, char out[static 64]);

/* The build configuration (see above) for run, given its builder and, when the builder
 * says spec.fromTemplate, the S2iBuilderTemplate (may be NULL otherwise). Returns a new
 * object, or NULL with *err set (malloc'd) when the inputs do not make a build (missing
 * imageName, template parameter errors...). warnings (may be NULL) receives a malloc'd
 * message when something was dropped on purpose (inline passwords). */
json_object *jobspec_build_config(json_object *run, json_object *builder, json_object *tmpl,
                                  const jobspec_options_t *opts, char **err, char **warning);

/* The Job for run (owned by it, controller reference) running the build described by
 * config (borrowed). NULL when out of memory. */
json_object *jobspec_job(json_object *run, json_object *config, const jobspec_options_t *opts);

/* A duration as spec.timeout takes it (the CRD pattern: Go's time.ParseDuration without a
 * sign, e.g. "1h30m", "90s", "1.5h", "500ms") in whole seconds, rounded up so that a
 * positive duration never becomes 0; -1 when malformed or beyond Go's range (2^63 ns). */
long jobspec_parse_duration(const char *s);

#endif

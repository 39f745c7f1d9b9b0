/*
 * api: the devops.kubesphere.io/v1alpha1 kinds S2iBuilder, S2iRun and S2iBuilderTemplate as C
 * values, with their JSON codec, defaulting and validation (KubeSphere's s2ioperator webhooks),
 * docker image references and Kubernetes-style durations. No I/O.
 *
 * JSON, as Go's encoding/json does it
 *   Decoding matches object keys to fields as Go does: an exact match first, else a
 *   case-insensitive one (Go's folding, so "SourceURL", "sourceurl" and the console's "Kind"
 *   all land in their field); when two keys land in one field the later wins (whole: where
 *   Go would merge two objects or maps, the later replaces the earlier). JSON null
 *   leaves a value field as it is and empties a pointer, list or map, as in Go. A value of
 *   the wrong JSON type fails the whole decode with a message naming the field path:
 *   "spec.config.imageSize: expected integer", "status.conditions[0].type: expected string".
 *   Integers must be JSON integers in the Go type's range (1.0 is not an int, as in Go).
 *   Encoding writes exactly upstream's JSON names and Go types and omits what Go's
 *   `omitempty` omits: imageName, sourceUrl, runCount and the DockerConfig and CGroupLimits
 *   fields are always written, times as RFC 3339 UTC seconds ("2026-11-26T06:33:38Z"),
 *   binarySize as an unsigned integer.
 *
 * Unknown fields survive a write-back
 *   Every struct that is a JSON object keeps the object it was decoded from in `raw`.
 *   Encoding starts from it: keys that are not fields of the struct are copied unchanged and
 *   in place (the console writes e.g. "replicas" and "type" into spec.config), known fields
 *   are written from the struct under their canonical name, at the position of the key they
 *   were decoded from. An omitted field whose original value was the same zero value
 *   ("incremental": false, "tag": "", "labels": {}) keeps that value, so decoding and
 *   encoding an object changes nothing but what the caller changed and key spellings.
 *   A struct built in C (raw NULL) encodes its known fields only.
 *
 * Ownership
 *   Everything is a plain value owned by whoever holds it: every string is malloc'd and
 *   owned by its struct, pointer fields (config, fromTemplate, s2iBuildResult, ...) are
 *   allocated with their type's *_new and freed with the parent, lists are malloc'd arrays
 *   with a `<name>_len` count. To replace a string use api_set_string; to replace a pointer
 *   field free the old one with its *_free. `raw` holds a reference to a private copy of
 *   the decoded JSON (decoding deep-copies its input, which is borrowed and never changed),
 *   so a value shares nothing with the caller's json_object or with another value.
 *   *_new returns an initialised value (NULL when out of memory); *_free frees one and
 *   accepts NULL. metadata, spec and status are embedded in their object and live and die
 *   with it; the other embedded types have *_clear (api_errors_t also *_init). Strings
 *   returned by functions are the caller's to free().
 *
 * Thread-safety
 *   None needed and none given: values are owned by one thread at a time; distinct values
 *   may be used from different threads freely, as they share nothing.
 *
 * Errors
 *   Decoders return 0, or -1 with *err set to a malloc'd message (a type error with its
 *   field path, or "out of memory"); err may be NULL. Encoders return a new json_object the
 *   caller puts, or NULL when out of memory. Validators append to an initialised
 *   api_errors_t and return how many errors they added (0 = valid), or -1 when out of
 *   memory (the list then holds what was found so far). Other int functions return 0 on
 *   success and -1 on bad input or out of memory, leaving their outputs untouched.
 */
#ifndef S2I_API_H
#define S2I_API_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* ---- names ---------------------------------------------------------------------------- */

#define API_GROUP         "devops.kubesphere.io"
#define API_VERSION       "v1alpha1"
#define API_GROUP_VERSION "devops.kubesphere.io/v1alpha1"
#define API_KIND_BUILDER  "S2iBuilder"
#define API_KIND_RUN      "S2iRun"
#define API_KIND_TEMPLATE "S2iBuilderTemplate"

/* S2iRun status.runState and S2iBuilder status.lastRunState. */
#define API_RUN_STATE_NOT_RUNNING "Not Running Yet"
#define API_RUN_STATE_RUNNING     "Running"
#define API_RUN_STATE_SUCCESSFUL  "Successful"
#define API_RUN_STATE_FAILED      "Failed"
#define API_RUN_STATE_UNKNOWN     "Unknown"

/* S2iRun spec.state: the only value a user may set, to cancel a run. */
#define API_RUN_SPEC_STATE_CANCELLED "Cancelled"

/* S2iBuilder spec.runPolicy; empty means Parallel (upstream behaviour). */
#define API_RUN_POLICY_PARALLEL           "Parallel"
#define API_RUN_POLICY_SERIAL             "Serial"
#define API_RUN_POLICY_SERIAL_LATEST_ONLY "SerialLatestOnly"

/* S2iConfig pull policies and docker network modes. */
#define API_PULL_ALWAYS         "always"
#define API_PULL_NEVER          "never"
#define API_PULL_IF_NOT_PRESENT "if-not-present"

/* Labels, annotations and the finalizer upstream uses. */
#define API_LABEL_RUN_BUILDER_NAME        "labels.devops.kubesphere.io/builder-name"
#define API_LABEL_S2IRUN                  "devops.kubesphere.io/s2ir"
#define API_ANNOTATION_AUTOSCALE          "devops.kubesphere.io/autoscale"
#define API_ANNOTATION_COMPLETED_SCALE    "devops.kubesphere.io/completedscale"
#define API_ANNOTATION_DO_NOT_AUTOSCALE   "devops.kubesphere.io/donotautoscale"
#define API_ANNOTATION_WORKLOAD_INIT_DONE "devops.kubesphere.io/inithasbeencomplted" /* sic */
#define API_ANNOTATION_DESCRIPTION        "desc"
#define API_ANNOTATION_BUILD_RESULT       "s2iBuildResult"
#define API_ANNOTATION_BUILD_SOURCE       "s2iBuildSource"
#define API_FINALIZER_BUILDER             "s2ibuilders.finalizers.kubesphere.io"
#define API_KIND_DEPLOYMENT               "Deployment"
#define API_KIND_STATEFULSET              "StatefulSet"

/* Condition types and statuses of our status.conditions[]. */
#define API_CONDITION_SUCCEEDED "Succeeded" /* on runs */
#define API_CONDITION_READY     "Ready"     /* on builders */
#define API_CONDITION_TRUE      "True"
#define API_CONDITION_FALSE     "False"
#define API_CONDITION_UNKNOWN   "Unknown"

/* Defaults applied by the builder's mutating webhook. */
#define API_DEFAULT_REVISION_ID "master"
#define API_DEFAULT_TAG         "latest"

/* ---- small value types ------------------------------------------------------------------ */

/* A metav1.Time: whole seconds, UTC. `set` false is Go's nil/zero time. */
typedef struct api_time {
    time_t seconds;
    bool set;
} api_time_t;

/* []string. */
typedef struct api_strings {
    char **items;
    size_t len;
} api_strings_t;

/* map[string]string, kept in the order the keys were decoded or set. */
typedef struct api_pair {
    char *key;
    char *value;
} api_pair_t;

typedef struct api_map {
    api_pair_t *items;
    size_t len;
} api_map_t;

/* The part of metav1.ObjectMeta the operator reads and writes; every other metadata field
 * (ownerReferences, managedFields, ...) lives on in raw. */
typedef struct api_object_meta {
    json_object *raw;
    char *name;
    char *generate_name;
    char *namespace;
    char *uid;
    char *resource_version;
    int64_t generation;
    api_time_t creation_timestamp;
    api_time_t deletion_timestamp;
    api_map_t labels;
    api_map_t annotations;
    api_strings_t finalizers;
} api_object_meta_t;

/* metav1.Condition as our status.conditions[] carries it. */
typedef struct api_condition {
    json_object *raw;
    char *type;
    char *status; /* "True" | "False" | "Unknown" */
    int64_t observed_generation;
    api_time_t last_transition_time;
    char *reason;
    char *message;
} api_condition_t;

/* ---- S2iConfig and its parts -------------------------------------------------------------- */

/* corev1.LocalObjectReference. */
typedef struct api_local_object_reference {
    json_object *raw;
    char *name;
} api_local_object_reference_t;

typedef struct api_auth_config {
    json_object *raw;
    char *username;
    char *password;
    char *email;
    char *server_address;
    api_local_object_reference_t *secret_ref;
} api_auth_config_t;

typedef struct api_volume_spec {
    json_object *raw;
    char *source;
    char *destination;
    bool keep;
} api_volume_spec_t;

typedef struct api_docker_config {
    json_object *raw;
    char *end_point;
    char *cert_file;
    char *key_file;
    char *ca_file;
    bool use_tls;
    bool tls_verify;
} api_docker_config_t;

typedef struct api_cgroup_limits {
    json_object *raw;
    int64_t memory_limit_bytes;
    int64_t cpu_shares;
    int64_t cpu_period;
    int64_t cpu_quota;
    int64_t memory_swap;
    char *parent;
} api_cgroup_limits_t;

typedef struct api_proxy_config {
    json_object *raw;
    char *http_proxy;
    char *https_proxy;
} api_proxy_config_t;

typedef struct api_environment_spec {
    json_object *raw;
    char *name;
    char *value;
} api_environment_spec_t;

/* A template parameter (JSON key "environment" in the template spec). */
typedef struct api_parameter {
    json_object *raw;
    char *description;
    char *key;
    char *type;
    api_strings_t opt_values;
    bool required;
    char *default_value;
    char *value;
} api_parameter_t;

/* S2iBuilder spec.config: every field of upstream's S2iConfig, in its order. */
typedef struct api_s2i_config {
    json_object *raw;
    char *display_name;
    char *description;
    char *builder_image;
    char *builder_image_version;
    char *builder_base_image_version;
    char *runtime_image;
    char *output_image_name;
    char *runtime_image_pull_policy;
    api_auth_config_t *runtime_authentication;
    api_volume_spec_t *runtime_artifacts;
    size_t runtime_artifacts_len;
    api_docker_config_t *docker_config;
    api_auth_config_t *pull_authentication;
    api_auth_config_t *push_authentication;
    api_auth_config_t *incremental_authentication;
    char *docker_network_mode;
    bool preserve_working_dir;
    char *image_name; /* registry and repository, no tag; always encoded */
    char *tag;
    char *builder_pull_policy;
    char *previous_image_pull_policy;
    bool incremental;
    char *incremental_from_tag;
    bool remove_previous_image;
    api_environment_spec_t *environment;
    size_t environment_len;
    char *label_namespace;
    char *callback_url;
    char *scripts_url;
    char *destination;
    char *working_dir;
    char *working_source_dir;
    bool layered_build;
    char *context_dir;
    char *assemble_user;
    bool run_image;
    bool usage;
    api_volume_spec_t *injections;
    size_t injections_len;
    api_cgroup_limits_t *cgroup_limits;
    api_strings_t drop_capabilities;
    api_proxy_config_t *script_download_proxy_config;
    char *exclude_reg_exp;
    bool block_on_build;
    bool has_on_build;
    api_strings_t build_volumes;
    api_map_t labels;
    api_strings_t security_opt;
    bool keep_symlinks;
    char *as_dockerfile;
    char *image_work_dir;
    char *image_scripts_url;
    api_strings_t add_host;
    bool export;
    char *source_url; /* always encoded */
    bool is_binary_url;
    api_local_object_reference_t *git_secret_ref;
    char *revision_id;
    char *taint_key;
    char *node_affinity_key;
    api_strings_t node_affinity_values;
    bool output_build_result;
    char *branch_expression;
    char *secret_code;
} api_s2i_config_t;

/* ---- S2iBuilder -------------------------------------------------------------------------- */

/* spec.fromTemplate (upstream UserDefineTemplate). */
typedef struct api_user_defined_template {
    json_object *raw;
    char *name;
    api_parameter_t *parameters;
    size_t parameters_len;
    char *builder_image;
} api_user_defined_template_t;

typedef struct api_s2ibuilder_spec {
    json_object *raw;
    api_s2i_config_t *config;                   /* NULL when absent */
    api_user_defined_template_t *from_template; /* NULL when absent */
    int32_t successful_runs_history_limit;      /* -1: unset, keep all */
    int32_t failed_runs_history_limit;          /* -1: unset, keep all */
    char *run_policy;                           /* API_RUN_POLICY_*, empty = Parallel */
} api_s2ibuilder_spec_t;

typedef struct api_s2ibuilder_status {
    json_object *raw;
    int64_t run_count; /* always encoded */
    char *last_run_state;
    char *last_run_name; /* Go *string: NULL omits it, "" is written */
    api_time_t last_run_start_time;
    int64_t observed_generation;
    api_condition_t *conditions;
    size_t conditions_len;
} api_s2ibuilder_status_t;

typedef struct api_s2ibuilder {
    json_object *raw;
    char *api_version; /* encoded as API_GROUP_VERSION when empty */
    char *kind;        /* encoded as API_KIND_BUILDER when empty */
    api_object_meta_t metadata;
    api_s2ibuilder_spec_t spec;
    api_s2ibuilder_status_t status;
} api_s2ibuilder_t;

/* ---- S2iRun ------------------------------------------------------------------------------ */

typedef struct api_s2irun_spec {
    json_object *raw;
    char *builder_name;
    int32_t backoff_limit;
    int32_t seconds_after_finished;
    char *new_tag;
    char *new_revision_id;
    char *new_source_url;  /* JSON "newSourceURL" */
    char *timeout;         /* Kubernetes duration ("1h30m"); empty: the controller's default */
    char *state;           /* "" or API_RUN_SPEC_STATE_CANCELLED */
    char *pending_timeout; /* duration a run may wait for its pod to start; empty: default */
} api_s2irun_spec_t;

typedef struct api_s2i_build_result {
    json_object *raw;
    char *image_name;
    int64_t image_size; /* bytes, JSON int64 */
    char *image_id;
    char *image_created; /* RFC 3339 string as the builder reported it */
    api_strings_t image_repo_tags;
    char *command_pull;
} api_s2i_build_result_t;

typedef struct api_s2i_build_source {
    json_object *raw;
    char *source_url; /* JSON "sourceUrl" */
    char *revision_id;
    char *binary_name;
    uint64_t binary_size; /* JSON uint64: never negative, never a string */
    char *builder_image;
    char *description;
    char *commit_id; /* JSON "commitID" */
    char *committer_name;
    char *committer_email;
} api_s2i_build_source_t;

typedef struct api_s2irun_status {
    json_object *raw;
    api_time_t start_time;
    api_time_t completion_time;
    char *run_state;
    char *log_url; /* JSON "logURL" */
    char *kubernetes_job_name;
    api_s2i_build_result_t *s2i_build_result; /* NULL when absent */
    api_s2i_build_source_t *s2i_build_source; /* NULL when absent */
    api_condition_t *conditions;
    size_t conditions_len;
    int64_t observed_generation;
    char *log_tail;
} api_s2irun_status_t;

typedef struct api_s2irun {
    json_object *raw;
    char *api_version; /* encoded as API_GROUP_VERSION when empty */
    char *kind;        /* encoded as API_KIND_RUN when empty */
    api_object_meta_t metadata;
    api_s2irun_spec_t spec;
    api_s2irun_status_t status;
} api_s2irun_t;

/* ---- S2iBuilderTemplate ------------------------------------------------------------------ */

typedef struct api_container_info {
    json_object *raw;
    char *builder_image;
    char *runtime_image;
    api_volume_spec_t *runtime_artifacts;
    size_t runtime_artifacts_len;
    api_strings_t build_volumes;
} api_container_info_t;

typedef struct api_s2ibuilder_template_spec {
    json_object *raw;
    char *default_base_image;
    api_container_info_t *container_info;
    size_t container_info_len;
    char *code_framework;
    api_parameter_t *parameters; /* JSON "environment" */
    size_t parameters_len;
    char *version;
    char *description;
    char *icon_path;
} api_s2ibuilder_template_spec_t;

/* The template's status is empty upstream; whatever is there stays in raw. */
typedef struct api_s2ibuilder_template {
    json_object *raw;
    char *api_version; /* encoded as API_GROUP_VERSION when empty */
    char *kind;        /* encoded as API_KIND_TEMPLATE when empty */
    api_object_meta_t metadata;
    api_s2ibuilder_template_spec_t spec;
} api_s2ibuilder_template_t;

/* ---- the autoscale annotation --------------------------------------------------------------- */

/* One entry of the builder annotation devops.kubesphere.io/autoscale (and of a run's
 * completedscale). The console writes {"Kind", "Name", "initReplicas", "container"}: the
 * first two land here case-insensitively, "container" is kept in raw and otherwise ignored. */
typedef struct api_s2i_autoscale {
    json_object *raw;
    char *kind; /* API_KIND_DEPLOYMENT | API_KIND_STATEFULSET */
    char *name;
    int32_t init_replicas; /* -1: unset (Go nil) */
    api_strings_t containers;
} api_s2i_autoscale_t;

typedef struct api_s2i_autoscale_list {
    api_s2i_autoscale_t *items;
    size_t len;
} api_s2i_autoscale_list_t;

/* ---- lifetimes, decode, encode ------------------------------------------------------------ */

api_s2ibuilder_t *api_s2ibuilder_new(void);
void api_s2ibuilder_free(api_s2ibuilder_t *builder);
int api_s2ibuilder_decode(json_object *obj, api_s2ibuilder_t **out, char **err);
json_object *api_s2ibuilder_encode(const api_s2ibuilder_t *builder);
api_s2ibuilder_t *api_s2ibuilder_copy(const api_s2ibuilder_t *builder);

api_s2irun_t *api_s2irun_new(void);
void api_s2irun_free(api_s2irun_t *run);
int api_s2irun_decode(json_object *obj, api_s2irun_t **out, char **err);
json_object *api_s2irun_encode(const api_s2irun_t *run);
api_s2irun_t *api_s2irun_copy(const api_s2irun_t *run);

api_s2ibuilder_template_t *api_s2ibuilder_template_new(void);
void api_s2ibuilder_template_free(api_s2ibuilder_template_t *tmpl);
int api_s2ibuilder_template_decode(json_object *obj, api_s2ibuilder_template_t **out, char **err);
json_object *api_s2ibuilder_template_encode(const api_s2ibuilder_template_t *tmpl);

/* spec.config alone: the builder pod's config file, and the run's resolved config. */
api_s2i_config_t *api_s2i_config_new(void);
void api_s2i_config_free(api_s2i_config_t *config);
int api_s2i_config_decode(json_object *obj, api_s2i_config_t **out, char **err);
json_object *api_s2i_config_encode(const api_s2i_config_t *config);
api_s2i_config_t *api_s2i_config_copy(const api_s2i_config_t *config);

/* The pod annotations s2iBuildResult / s2iBuildSource and the builder's termination
 * message parts, decoded the same way. */
api_s2i_build_result_t *api_s2i_build_result_new(void);
void api_s2i_build_result_free(api_s2i_build_result_t *result);
int api_s2i_build_result_decode(json_object *obj, api_s2i_build_result_t **out, char **err);
json_object *api_s2i_build_result_encode(const api_s2i_build_result_t *result);

api_s2i_build_source_t *api_s2i_build_source_new(void);
void api_s2i_build_source_free(api_s2i_build_source_t *source);
int api_s2i_build_source_decode(json_object *obj, api_s2i_build_source_t **out, char **err);
json_object *api_s2i_build_source_encode(const api_s2i_build_source_t *source);

/* The other pointer fields' types. */
api_auth_config_t *api_auth_config_new(void);
void api_auth_config_free(api_auth_config_t *auth);
api_local_object_reference_t *api_local_object_reference_new(void);
void api_local_object_reference_free(api_local_object_reference_t *ref);
api_docker_config_t *api_docker_config_new(void);
void api_docker_config_free(api_docker_config_t *docker);
api_cgroup_limits_t *api_cgroup_limits_new(void);
void api_cgroup_limits_free(api_cgroup_limits_t *limits);
api_proxy_config_t *api_proxy_config_new(void);
void api_proxy_config_free(api_proxy_config_t *proxy);
api_user_defined_template_t *api_user_defined_template_new(void);
void api_user_defined_template_free(api_user_defined_template_t *from_template);

/* The autoscale annotation's JSON text, as Go's json.Unmarshal into []S2iAutoScale reads it
 * ("null" is an empty list). *out is filled only on success; clear it with
 * api_s2i_autoscale_list_clear. */
int api_s2i_autoscale_list_parse(const char *text, api_s2i_autoscale_list_t *out, char **err);
/* The list as JSON text (malloc'd), e.g. for the completedscale annotation. */
char *api_s2i_autoscale_list_format(const api_s2i_autoscale_list_t *list);
void api_s2i_autoscale_list_clear(api_s2i_autoscale_list_t *list);

/* ---- field helpers ------------------------------------------------------------------------ */

/* Replaces *field with a copy of value (NULL allowed), freeing the old string. */
int api_set_string(char **field, const char *value);

int api_strings_append(api_strings_t *list, const char *value);
bool api_strings_contains(const api_strings_t *list, const char *value);
/* Removes every occurrence; returns whether there was one. */
bool api_strings_remove(api_strings_t *list, const char *value);

/* NULL when absent. */
const char *api_map_get(const api_map_t *map, const char *key);
/* Inserts or replaces, keeping the key's position. */
int api_map_set(api_map_t *map, const char *key, const char *value);
bool api_map_delete(api_map_t *map, const char *key);

/* The condition of a type, NULL if none. */
api_condition_t *api_condition_find(api_condition_t *conditions, size_t len, const char *type);
/* meta.SetStatusCondition: adds the condition of cond->type or updates it in place;
 * lastTransitionTime becomes cond's (or now when cond has none) when the condition is new
 * or its status changes, and is kept otherwise. Returns 1 when anything changed, 0 when
 * nothing did, -1 when cond has no type or memory ran out (the condition may then be
 * partly updated; set it again). */
int api_condition_set(api_condition_t **conditions, size_t *len, const api_condition_t *cond,
                      time_t now);

/* Upstream Parameter.ToEnvironment: {name: key, value: value || defaultValue}; returns 1
 * with *out filled (strings the caller's: api_environment_spec_clear), 0 when both values
 * are empty (skipped), -1 when out of memory. */
int api_parameter_to_environment(const api_parameter_t *param, api_environment_spec_t *out);
void api_environment_spec_clear(api_environment_spec_t *env);
/* Appends ToEnvironment of each parameter to config->environment, after what is there, as
 * the upstream run controller does for a builder's fromTemplate.parameters. */
int api_s2i_config_append_parameters(api_s2i_config_t *config, const api_parameter_t *params,
                                     size_t len);

/* ---- defaulting --------------------------------------------------------------------------- */

/* The builder's mutating webhook (upstream Default()): spec.config.revisionId = "master" and
 * spec.config.tag = "latest" when empty. A builder without spec.config is left alone (upstream
 * panics there); validation rejects it. 0, or -1 when out of memory. */
int api_s2ibuilder_default(api_s2ibuilder_t *builder);

/* ---- validation --------------------------------------------------------------------------- */

/* One validation error: `field` is the JSON path of the offending value
 * ("spec.config.sourceUrl", "metadata.annotations[devops.kubesphere.io/autoscale]");
 * `message` is upstream's text for it (`Required value not specified for "sourceUrl"`). */
typedef struct api_field_error {
    char *field;
    char *message;
} api_field_error_t;

typedef struct api_errors {
    api_field_error_t *items;
    size_t len;
} api_errors_t;

void api_errors_init(api_errors_t *errs);
void api_errors_clear(api_errors_t *errs);
/* The errors as upstream's webhook reports them (k8s.io/apimachinery's aggregate): one
 * message alone, several as "[e1, e2]" with repeats dropped, "" for none. NULL when out of
 * memory. */
char *api_errors_message(const api_errors_t *errs);

/* The builder's validating webhook, upstream's checks in upstream's order: with
 * spec.fromTemplate, the template (NULL: not found) must exist, its required parameters
 * must be given with a value and fromTemplate.builderImage must be one of its builder
 * images (any of these ends validation, as upstream returns there); then the autoscale
 * annotation (ends validation too); then spec.config (validateConfig; a missing config is
 * `Required value not specified for "config"`) and our additions (history limits >= 0,
 * runPolicy), reported together. */
int api_s2ibuilder_validate(const api_s2ibuilder_t *builder, const api_s2ibuilder_template_t *tmpl,
                            api_errors_t *errs);

/* The run's validating webhook. builder: the run's builder, NULL when not found (allowed:
 * the controller waits for it). old: the stored run on update, NULL on create. Upstream's
 * checks, each ending validation: newSourceURL only for B2I builders; the spec is immutable
 * once status.runState is set, except for setting spec.state to Cancelled; newTag must be
 * a valid tag (parsed as "validate:<newTag>"). Then ours, together: timeout and
 * pendingTimeout parse as positive durations, state is empty or Cancelled. */
int api_s2irun_validate(const api_s2irun_t *run, const api_s2irun_t *old,
                        const api_s2ibuilder_t *builder, api_errors_t *errs);

/* The template's validating webhook (each check ends validation, as upstream): containerInfo
 * non-empty (reported as "baseImages"), defaultBaseImage set and one of the builder images,
 * every builder image a valid reference. */
int api_s2ibuilder_template_validate(const api_s2ibuilder_template_t *tmpl, api_errors_t *errs);

/* ---- docker image references -------------------------------------------------------------- */

/* distribution/reference's grammar: [domain[:port]/]path[:tag][@digest], path components
 * lower-case alphanumerics joined by '.', '_', "__" or dashes, tag [\w][\w.-]{0,127}, digest
 * sha256/sha384/sha512 with lower-case hex of the algorithm's length, name <= 255 chars.
 * IPv6 domains are not supported (the upstream library of 2019 did not either). */
typedef struct api_reference {
    char *domain; /* NULL when the name has none */
    char *path;
    char *tag;    /* NULL when none */
    char *digest; /* NULL when none */
} api_reference_t;

typedef enum {
    API_REF_OK = 0,
    API_REF_ERR_FORMAT,           /* "invalid reference format" */
    API_REF_ERR_NAME_EMPTY,       /* "repository name must have at least one component" */
    API_REF_ERR_NAME_UPPERCASE,   /* "repository name must be lowercase" */
    API_REF_ERR_NAME_TOO_LONG,    /* "repository name must not be more than 255 characters" */
    API_REF_ERR_DIGEST_FORMAT,    /* "invalid checksum digest format" */
    API_REF_ERR_DIGEST_LENGTH,    /* "invalid checksum digest length" */
    API_REF_ERR_DIGEST_ALGORITHM, /* "unsupported digest algorithm" */
    API_REF_ERR_NORMALIZED_UPPER, /* "invalid reference format: repository name must be
                                     lowercase" (normalized parse) */
    API_REF_ERR_IDENTIFIER,       /* a bare 64-hex image ID given as a name */
    API_REF_ERR_NO_MEMORY,
} api_reference_error_t;

/* reference.Parse. On success *out is filled (clear it with api_reference_clear). */
api_reference_error_t api_reference_parse(const char *s, api_reference_t *out);
/* reference.ParseNormalizedNamed: a familiar name ("ubuntu", "kubesphere/java:8") gains the
 * docker.io domain and, for one-component paths, "library/". */
api_reference_error_t api_reference_parse_normalized(const char *s, api_reference_t *out);
/* The error's text, as the Go library words it. */
const char *api_reference_strerror(api_reference_error_t err);
/* reference.TagNameOnly: adds the tag "latest" when there is neither tag nor digest. */
int api_reference_default_tag(api_reference_t *ref);
/* "domain/path:tag@digest" with the parts present (malloc'd). */
char *api_reference_string(const api_reference_t *ref);
/* reference.FamiliarString: without "docker.io/" and "library/". */
char *api_reference_familiar_string(const api_reference_t *ref);
void api_reference_clear(api_reference_t *ref);

/* ---- durations ---------------------------------------------------------------------------- */

/* Go's time.ParseDuration, as Kubernetes takes durations: "90s", "30m", "1h30m", "1.5h",
 * "300ms", "-2m"; units ns, us, µs, ms, s, m, h; "0" alone needs none. 0, or -1 when the
 * text is not a duration or overflows int64 nanoseconds. */
int api_duration_parse(const char *s, int64_t *out_ns);
/* Go's Duration.String ("1h30m0s", "1.5s", "0s") into out. */
void api_duration_format(int64_t ns, char out[static 40]);
/* The run's spec.timeout / spec.pendingTimeout in nanoseconds, or default_ns when empty.
 * -1 when the value does not parse (validation reports it). */
int api_s2irun_timeout(const api_s2irun_t *run, int64_t default_ns, int64_t *out_ns);
int api_s2irun_pending_timeout(const api_s2irun_t *run, int64_t default_ns, int64_t *out_ns);

#endif

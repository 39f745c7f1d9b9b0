/*
 * httpapi internals: the shared state of the endpoints, and the pure pieces (parsing,
 * matching, signatures, names, rate buckets) that the unit tests drive directly.
 *
 * Ownership: strings returned are malloc'd and the caller's; json_object results are new
 * references. Thread-safety: the pure functions have none to need; struct httpapi's
 * caches are guarded by its lock.
 */
#ifndef S2I_HTTPAPI_INTERNAL_H
#define S2I_HTTPAPI_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "httpapi/httpapi.h"
#include "util/util.h"

#define HTTPAPI_LABEL_RUN          "devops.kubesphere.io/s2ir"
#define HTTPAPI_LABEL_BUILDER_NAME "labels.devops.kubesphere.io/builder-name"
#define HTTPAPI_ANNOTATION_CREATOR "kubesphere.io/creator"
#define HTTPAPI_GROUP              "devops.kubesphere.io"

/* Caches stop growing here: expired entries are dropped first, then everything. */
#define HTTPAPI_CACHE_MAX 4096

/* API errors in a row a follower waits out before it gives up. */
#define HTTPAPI_FOLLOW_MAX_FAILURES 5

/* API lookups of builders the cache does not have: per second, and at once. */
#define HTTPAPI_MISS_RATE  5.0
#define HTTPAPI_MISS_BURST 20

/* A token bucket for one builder's runs. */
typedef struct httpapi_bucket {
    double tokens;
    double last; /* monotonic seconds of the last refill */
} httpapi_bucket_t;

struct httpapi {
    kube_client_t *client;
    controller_manager_t *manager;
    double auth_ttl;
    double trigger_rate;
    int trigger_burst;
    int max_streams;
    double poll_interval;

    pthread_mutex_t lock;         /* guards everything below */
    pthread_cond_t wake;          /* stop requested, or a stream thread ended */
    strmap_t *auth_cache;         /* token hash|ns|name -> double * (expiry, monotonic) */
    strmap_t *buckets;            /* ns/builder -> httpapi_bucket_t * */
    httpapi_bucket_t miss_bucket; /* builder lookups past the cache */
    int streams;                  /* follow threads alive */
    atomic_bool stopping;

    metrics_family_t *trigger_requests; /* {route,result} */
    metrics_family_t *log_requests;     /* {result} */
    metrics_family_t *streams_open;
};

/* ---- lookups (cache when synced, else the API server) -------------------------------- */

/* The object, or NULL with *err (KUBE_ERR_NOT_FOUND when it does not exist). */
json_object *httpapi_get_builder(httpapi_t *api, const char *ns, const char *name, kube_err_t *err);
json_object *httpapi_get_run(httpapi_t *api, const char *ns, const char *name, kube_err_t *err);
/* The run's build pods, newest first (cache: pods of its Jobs; API: pods labelled
 * devops.kubesphere.io/s2ir=<run>). Free with controller_objects_free. 0 or -1. */
int httpapi_run_pods(httpapi_t *api, json_object *run, json_object ***pods, size_t *len);

/* ---- handlers (one file each) ------------------------------------------------------- */

void httpapi_handle_run_log(const server_request_t *req, server_response_t *resp, void *data);
void httpapi_handle_pod_log(const server_request_t *req, server_response_t *resp, void *data);
void httpapi_handle_general_trigger(const server_request_t *req, server_response_t *resp,
                                    void *data);
void httpapi_handle_github_trigger(const server_request_t *req, server_response_t *resp,
                                   void *data);
void httpapi_handle_gitlab_trigger(const server_request_t *req, server_response_t *resp,
                                   void *data);

/* Authenticates the bearer token and authorizes get on s2iruns/<name> in ns (name "":
 * the whole namespace). 200 when allowed; otherwise the status (401, 403, 503, 500) of
 * the answer it put in resp. */
int httpapi_authorize(httpapi_t *api, const server_request_t *req, const char *ns, const char *name,
                      server_response_t *resp);

/* ---- small JSON helpers -------------------------------------------------------------- */

/* The value at a dotted path ("metadata.labels"), borrowed, or NULL. Keys containing
 * dots cannot be reached this way: use json_object_object_get_ex for the last step. */
json_object *httpapi_json_at(json_object *obj, const char *path);
/* The string at a path, or NULL when absent or not a string. */
const char *httpapi_json_str(json_object *obj, const char *path);
/* metadata.labels[key] / metadata.annotations[key], or NULL. */
const char *httpapi_label(json_object *obj, const char *key);

/* ---- paths --------------------------------------------------------------------------- */

/* Splits a path ending in "/namespaces/<ns>/pods/<pod>" (any prefix, an optional
 * trailing '/') into malloc'd ns and pod. false when it has another shape. */
bool httpapi_parse_pod_path(const char *path, char **ns, char **pod);
/* The pod name of a logURL (".../pods/<pod>[?query]"), malloc'd, or NULL. */
char *httpapi_log_url_pod(const char *log_url);
/* Whether a query value turns an option on: "", "true", "1", "yes" (any case). */
bool httpapi_query_true(const char *value);

/* ---- triggers ------------------------------------------------------------------------ */

/* What a trigger may change for one run (so#164). */
typedef struct httpapi_overrides {
    char *new_tag;
    char *new_revision_id;
    char *new_source_url;
} httpapi_overrides_t;

void httpapi_overrides_clear(httpapi_overrides_t *o);

/* Reads the overrides from a trigger's body: none when the body is empty (any
 * Content-Type, so#6); a JSON object (application/json, *+json, or no Content-Type) whose
 * keys newTag, newRevisionId, newSourceURL are matched case-insensitively as Go's decoder
 * does and must be strings (or null); or a form (application/x-www-form-urlencoded) with
 * those fields. Unknown keys are ignored. Returns 0; 400 (malformed, *err says why) or 415
 * (another media type). */
int httpapi_parse_overrides(const char *content_type, const char *body, size_t len,
                            httpapi_overrides_t *out, char **err);

/* The value of a field of an application/x-www-form-urlencoded body ('+' and %XX
 * decoded), malloc'd; NULL when absent. "" for "name" or "name=". */
char *httpapi_form_value(const char *body, size_t len, const char *name);

/* metadata.generateName for a builder's runs: "<builder>-", its builder part cut so that
 * with the 5 characters the API server appends the name stays within 63, and not ending
 * in '-' or '.' (which would make the generated name invalid). */
void httpapi_generate_name(const char *builder, char out[static 64]);

/* The branch of a push's ref: "refs/heads/<branch>" -> <branch>; NULL for anything else
 * (tags, notes, malformed). Borrowed from ref. */
const char *httpapi_ref_branch(const char *ref);

/* Whether a pushed branch starts a build: with an expression, it matches it anywhere
 * (POSIX extended regex, unanchored as Go's regexp.MatchString); without one, it equals
 * revision_id ("" or NULL: "master", the webhook's default). 1 yes, 0 no, -1 when the
 * expression does not compile (*err says why). */
int httpapi_branch_matches(const char *expression, const char *revision_id, const char *branch,
                           char **err);

/* "sha256=<hex>" of HMAC-SHA256(secret, body), into out. */
void httpapi_github_signature(const char *secret, const void *body, size_t len,
                              char out[static 72]);
/* Whether header is the right X-Hub-Signature-256 for body (constant-time compare). A NULL
 * or empty secret never verifies. */
bool httpapi_github_signature_valid(const char *secret, const void *body, size_t len,
                                    const char *header);

/* Initialises a full bucket at time now. */
void httpapi_bucket_init(httpapi_bucket_t *b, int burst, double now);
/* Takes a token at time now: 0 when one was there, else the seconds until one will be
 * (nothing taken). rate <= 0 never refills. */
double httpapi_bucket_take(httpapi_bucket_t *b, double rate, int burst, double now);

/* ---- logs ---------------------------------------------------------------------------- */

typedef enum httpapi_container_state {
    HTTPAPI_CONTAINER_WAITING, /* not started (or no status yet) */
    HTTPAPI_CONTAINER_RUNNING,
    HTTPAPI_CONTAINER_TERMINATED,
} httpapi_container_state_t;

/* Container names of a pod in execution order: spec.initContainers, then
 * spec.containers. *names is a malloc'd array of borrowed strings. 0 or -1. */
int httpapi_pod_containers(json_object *pod, const char ***names, size_t *len);
/* A container's state from the pod's status; *reason (borrowed, may be NULL) says why it
 * waits ("PodInitializing", "ErrImagePull"). */
httpapi_container_state_t httpapi_container_state(json_object *pod, const char *container,
                                                  const char **reason);
/* Whether the pod's phase is Succeeded or Failed. */
bool httpapi_pod_finished(json_object *pod);

#endif

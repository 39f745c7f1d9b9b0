/*
 * kube: a small Kubernetes REST client.
 *
 *   paths     resource descriptor -> "/apis/batch/v1/namespaces/ns/jobs/name", query strings
 *   errors    non-2xx answers (and watch ERROR events) decoded into a typed kube_result_t
 *   client    get/list/create/update/update-status/patch/delete over libcurl; QPS/burst
 *             limiter; 401 -> refresh credentials and retry once; Retry-After on 429/503
 *   watch     newline-delimited watch events, a streaming decoder usable without HTTP
 *
 * Ownership
 *   Every call that answers fills a caller-owned kube_result_t. It must be initialised
 *   (KUBE_RESULT_INIT or kube_result_init) before the first call; each call clears it
 *   before filling it, so one result may be reused for many calls. kube_result_clear
 *   frees what it holds. Strings and json_objects passed in are borrowed and their
 *   content is never modified; the client borrows its kube_config_t, which must outlive
 *   it. One caveat of json-c: serializing an object (create/update) writes the text into
 *   a buffer inside that object, so two threads must not send the same json_object at
 *   once (send a copy, or your own object).
 *
 * Thread-safety
 *   A kube_client_t is shared by any number of threads: requests take an easy handle
 *   from a pool, the limiter and the pool each have a mutex, and the curl share (DNS
 *   cache, TLS sessions) is guarded by one mutex per data kind. A kube_result_t and a
 *   kube_watch_decoder_t belong to one thread at a time.
 *
 * Connections
 *   Each pooled easy handle keeps its live connections between requests, so a worker
 *   that takes a handle reuses the keep-alive connection (or HTTP/2 session) the handle
 *   already has. The curl share object holds the DNS cache and TLS sessions only: libcurl
 *   documents sharing its connection cache between concurrent threads as unsupported
 *   (CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT), so we do not.
 *
 * TLS server name (kubeconfig tls-server-name)
 *   Implemented with CURLOPT_CONNECT_TO: the request URL names tls-server-name, and
 *   connections to it are redirected to the real server host and port. curl then sends
 *   SNI and verifies the certificate (CURLOPT_SSL_VERIFYHOST) against tls-server-name,
 *   as client-go does with tls.Config.ServerName. The one visible difference from
 *   client-go: the Host header (HTTP/2 :authority) also carries tls-server-name.
 *   When a CA file or CA data is given, only that CA is trusted (the system bundle is
 *   not loaded), again as client-go does.
 *
 * Errors
 *   Every operation returns its result's err (KUBE_OK on 2xx). The HTTP code, Status
 *   reason and message are kept for logs and events; kube_error_str formats one line.
 */
#ifndef S2I_KUBE_H
#define S2I_KUBE_H

#include <json-c/json.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "kube/config.h"
#include "util/util.h"

/* Nesting accepted in API objects and watch events: CRD schemas nest far deeper than
 * json-c's default of 32. */
#define KUBE_JSON_MAX_DEPTH 512

/* Parses exactly one JSON value (surrounding whitespace allowed) up to
 * KUBE_JSON_MAX_DEPTH deep, with a tokener kept per thread. NULL if not JSON. */
json_object *kube_json_parse(const char *text, size_t len);

/* ---- resources and paths ------------------------------------------------ */

/* What the API server calls a resource. group "" is the core group ("/api/v1"). */
typedef struct kube_resource {
    const char *group;
    const char *version;
    const char *plural;
    bool namespaced;
} kube_resource_t;

/* Appends the request path for a resource: "/api/v1/namespaces/ns/pods/name/status".
 * namespace NULL or "" omits the namespace segment (cluster-scoped resources, or a list
 * across all namespaces); name and subresource may be NULL. Segments are URL-escaped.
 * 0, or -1 when out of memory or when a subresource is given without a name. */
int kube_resource_path(buf_t *out, const kube_resource_t *resource, const char *namespace,
                       const char *name, const char *subresource);

typedef struct kube_list_options {
    const char *label_selector;         /* "app=web,tier in (a,b)" */
    const char *field_selector;         /* "metadata.name=x" */
    long limit;                         /* 0: no limit */
    const char *continue_token;         /* metadata.continue of the previous page */
    const char *resource_version;       /* "0" = any cached version */
    const char *resource_version_match; /* "NotOlderThan" or "Exact" (the server
                                           answers 400 without resource_version) */
} kube_list_options_t;

typedef struct kube_watch_options {
    const char *resource_version; /* where to start; NULL/"" = "now" (the server's choice) */
    const char *label_selector;
    const char *field_selector;
    bool allow_watch_bookmarks;
    long timeout_seconds; /* the server closes the watch after this long; 0 = server default */
} kube_watch_options_t;

/* Append the query string ("?labelSelector=a%3Db&limit=10"; nothing for a list without
 * options; a watch always starts "?watch=1"), values URL-escaped. opts may be NULL. */
int kube_list_query(buf_t *out, const kube_list_options_t *opts);
int kube_watch_query(buf_t *out, const kube_watch_options_t *opts);
/* The query of a write: dryRun=All, fieldManager=..., force=true (each only when set). */
int kube_write_query(buf_t *out, bool dry_run, const char *field_manager, bool force);

/* ---- results and typed errors ------------------------------------------- */

typedef enum kube_err {
    KUBE_OK = 0,
    KUBE_ERR_NOT_FOUND,              /* 404 */
    KUBE_ERR_ALREADY_EXISTS,         /* 409 reason AlreadyExists */
    KUBE_ERR_CONFLICT,               /* 409 (stale resourceVersion, failed precondition) */
    KUBE_ERR_GONE,                   /* 410, reason Gone or Expired (see result.expired) */
    KUBE_ERR_INVALID,                /* 422, details.causes kept */
    KUBE_ERR_BAD_REQUEST,            /* 400 */
    KUBE_ERR_FORBIDDEN,              /* 403 */
    KUBE_ERR_UNAUTHORIZED,           /* 401 (after one credential refresh) */
    KUBE_ERR_TOO_MANY_REQUESTS,      /* 429, after the allowed Retry-After retries */
    KUBE_ERR_SERVER_TIMEOUT,         /* reason ServerTimeout (500) */
    KUBE_ERR_TIMEOUT,                /* 504, reason Timeout */
    KUBE_ERR_INTERNAL,               /* 500 */
    KUBE_ERR_SERVICE_UNAVAILABLE,    /* 503 */
    KUBE_ERR_METHOD_NOT_ALLOWED,     /* 405 */
    KUBE_ERR_UNSUPPORTED_MEDIA_TYPE, /* 415 (e.g. strategic merge patch on a custom resource) */
    KUBE_ERR_TRANSPORT,              /* no HTTP answer: connect, TLS, timeout; curl's message */
    KUBE_ERR_DECODE,                 /* a 2xx whose body (or watch stream) is not valid JSON */
    KUBE_ERR_CLIENT,                 /* not sent: bad arguments, no credentials, out of memory */
    KUBE_ERR_UNKNOWN,                /* any other status */
} kube_err_t;

/* One entry of Status.details.causes (422 Invalid). */
typedef struct kube_status_cause {
    char *reason; /* "FieldValueInvalid" */
    char *field;  /* "spec.size" */
    char *message;
} kube_status_cause_t;

typedef struct kube_result {
    kube_err_t err;
    long http_code; /* 0 when there was no HTTP answer; Status.code for watch ERROR events */
    char *reason;   /* Status.reason, else the usual reason for http_code ("BadGateway"),
                       else the curl error name; NULL on success */
    char *message;  /* Status.message, else a one-line excerpt of the body; NULL on success */
    bool expired;   /* 410 with reason Expired: the resourceVersion was compacted */
    kube_status_cause_t *causes;
    size_t causes_len;
    double retry_after; /* seconds: Retry-After header or details.retryAfterSeconds; 0 if none */
    json_object *body;  /* the decoded body: the object/list on success, the Status on error
                           (when the body was JSON); NULL otherwise. Owned by the result. */
    bool skip_body;     /* set by the caller: a success's body is not wanted, so it is not
                           decoded (body stays NULL); kept by kube_result_clear */
} kube_result_t;

#define KUBE_RESULT_INIT                                                                           \
    {                                                                                              \
        0                                                                                          \
    }

void kube_result_init(kube_result_t *r);
/* Frees everything and resets to KUBE_OK. Accepts NULL. */
void kube_result_clear(kube_result_t *r);
/* Deep copy (body shared by reference count). 0, or -1 when out of memory
 * (dst still has err and http_code, some strings may be missing). */
int kube_result_copy(kube_result_t *dst, const kube_result_t *src);
/* Hands the body to the caller (who must json_object_put it); the result keeps NULL. */
json_object *kube_result_take_body(kube_result_t *r);

/* The Kubernetes-style name of an error: "NotFound", "Conflict", "Transport", "OK". */
const char *kube_err_name(kube_err_t err);
/* One line for logs and events: `NotFound (404): pods "x" not found` (the API server's
 * message of an Invalid already lists its causes). Writes into buf, truncating, and
 * returns it. */
const char *kube_error_str(const kube_result_t *r, char *buf, size_t len);

/* Decodes an HTTP answer into r (cleared first): 2xx -> KUBE_OK with the JSON body (empty
 * body: KUBE_OK, body NULL; not JSON: KUBE_ERR_DECODE); otherwise a typed error from the
 * Status body, or from the code alone when the body is empty or not a Status (a proxy's
 * HTML page): its first line becomes the message. retry_after (seconds, 0 = none) comes
 * from the Retry-After header. Returns r->err. */
kube_err_t kube_result_from_response(kube_result_t *r, long http_code, const char *body, size_t len,
                                     double retry_after);
/* Decodes a Status object (as in a watch ERROR event) into r (cleared first). http_code 0
 * takes Status.code. A Status with status "Success" gives KUBE_OK. Returns r->err. */
kube_err_t kube_result_from_status(kube_result_t *r, json_object *status, long http_code);
/* Sets r (cleared first) to an error without an HTTP answer. reason may be NULL. */
kube_err_t kube_result_set_error(kube_result_t *r, kube_err_t err, const char *reason,
                                 const char *fmt, ...) UTIL_PRINTF(4, 5);

/* ---- client-side rate limiter ------------------------------------------- */

/* Token bucket: `burst` requests at once, refilled at `qps` per second. Thread-safe. */
typedef struct kube_token_bucket {
    pthread_mutex_t lock;
    double qps; /* <= 0: unlimited */
    double burst;
    double tokens;
    double last; /* util_monotonic() time of the last refill */
} kube_token_bucket_t;

void kube_token_bucket_init(kube_token_bucket_t *tb, double qps, int burst);
void kube_token_bucket_destroy(kube_token_bucket_t *tb);
/* Takes one token at time `now` (seconds, monotonic) and returns how long the caller must
 * wait before sending (0 when a token was available). Waiting callers queue up: the
 * reservation is made now, so concurrent callers get increasing delays. */
double kube_token_bucket_reserve(kube_token_bucket_t *tb, double now);

/* ---- client ------------------------------------------------------------- */

typedef struct kube_client kube_client_t;

/* Start from kube_client_options_default and change what you need: zero is taken
 * literally (no request timeout, no retries, no limiter, no idle handles kept; a zero
 * connect_timeout leaves curl's own 300 s), not as "the default". */
typedef struct kube_client_options {
    double qps;              /* client-side limit; <= 0 disables it. Default 5 (client-go) */
    int burst;               /* default 10 */
    double timeout;          /* seconds per request (not watches). Default 30 */
    double connect_timeout;  /* seconds. Default 10 */
    int max_retries;         /* Retry-After retries on 429/503. Default 5; 0 = none */
    double max_retry_wait;   /* cap on one Retry-After wait, seconds. Default 30 */
    const char *user_agent;  /* default "s2i-operator/" S2I_VERSION; copied */
    size_t max_idle_handles; /* easy handles kept for reuse. Default 16 */
    /* Optional: called after every HTTP attempt (retries included) with the method
     * ("GET", ...), the HTTP code (0: no answer) and its duration; for metrics. Called on
     * the requesting thread; must be quick and thread-safe. */
    void (*observe)(const char *method, long code, double seconds, void *data);
    void *observe_data;
} kube_client_options_t;

void kube_client_options_default(kube_client_options_t *opts);

/* Creates a client for config (borrowed: it must outlive the client). opts may be NULL
 * for the defaults. 0, or -1 with *err set to a malloc'd message. */
int kube_client_new(kube_config_t *config, const kube_client_options_t *opts, kube_client_t **out,
                    char **err);
/* Frees the client. No request may be in flight. Accepts NULL. */
void kube_client_free(kube_client_t *c);
/* The API server's base URL the client sends to (tls-server-name applied). */
const char *kube_client_base_url(const kube_client_t *c);

/* Options of writes. dry_run sends dryRun=All; field_manager names the writer for
 * server-side field ownership (managedFields). */
typedef struct kube_write_options {
    bool dry_run;
    const char *field_manager;
} kube_write_options_t;

typedef enum kube_patch_type {
    KUBE_PATCH_MERGE,     /* application/merge-patch+json (RFC 7386) */
    KUBE_PATCH_JSON,      /* application/json-patch+json (RFC 6902) */
    KUBE_PATCH_STRATEGIC, /* application/strategic-merge-patch+json (built-in kinds only) */
    KUBE_PATCH_APPLY,     /* application/apply-patch+yaml: server-side apply; JSON is YAML */
} kube_patch_type_t;

typedef struct kube_patch_options {
    bool dry_run;
    const char *field_manager; /* required by the server for KUBE_PATCH_APPLY */
    bool force;                /* apply only: take ownership of conflicting fields */
} kube_patch_options_t;

typedef struct kube_delete_options {
    const char *propagation_policy; /* "Foreground", "Background", "Orphan"; NULL = default */
    const char *precondition_uid;   /* delete only this incarnation */
    const char *precondition_resource_version;
    long grace_period_seconds; /* < 0: unset (use KUBE_DELETE_OPTIONS_INIT) */
    bool dry_run;
} kube_delete_options_t;

#define KUBE_DELETE_OPTIONS_INIT                                                                   \
    {                                                                                              \
        NULL, NULL, NULL, -1, false                                                                \
    }

/* For all calls below: namespace NULL/"" for cluster-scoped resources (and, for list and
 * watch, for "all namespaces"). A namespaced resource written without a namespace
 * argument takes the object's metadata.namespace. out receives the answer; the return
 * value is out->err. */

kube_err_t kube_get(kube_client_t *c, const kube_resource_t *resource, const char *namespace,
                    const char *name, kube_result_t *out);
/* The list object (items, metadata.continue, metadata.resourceVersion). opts may be NULL. */
kube_err_t kube_list(kube_client_t *c, const kube_resource_t *resource, const char *namespace,
                     const kube_list_options_t *opts, kube_result_t *out);
kube_err_t kube_create(kube_client_t *c, const kube_resource_t *resource, const char *namespace,
                       json_object *object, const kube_write_options_t *opts, kube_result_t *out);
/* PUT to the object's metadata.name; a stale metadata.resourceVersion answers CONFLICT. */
kube_err_t kube_update(kube_client_t *c, const kube_resource_t *resource, const char *namespace,
                       json_object *object, const kube_write_options_t *opts, kube_result_t *out);
/* PUT to the /status subresource. */
kube_err_t kube_update_status(kube_client_t *c, const kube_resource_t *resource,
                              const char *namespace, json_object *object,
                              const kube_write_options_t *opts, kube_result_t *out);
/* PATCH name (or name/subresource; subresource may be NULL) with a patch document in the
 * syntax of type. opts may be NULL. */
kube_err_t kube_patch(kube_client_t *c, const kube_resource_t *resource, const char *namespace,
                      const char *name, const char *subresource, kube_patch_type_t type,
                      const char *patch, const kube_patch_options_t *opts, kube_result_t *out);
/* The body is the deleted object (or the object with deletionTimestamp set while finalizers
 * run), or a Status. opts may be NULL. */
kube_err_t kube_delete(kube_client_t *c, const kube_resource_t *resource, const char *namespace,
                       const char *name, const kube_delete_options_t *opts, kube_result_t *out);

/* The log of a pod's container (pods/log), appended to text. container NULL: the pod's
 * only container. tail_lines / limit_bytes: 0 = unset. A 4xx (pod gone, container not
 * started) is an error in out as for other calls; text is untouched then. */
kube_err_t kube_pod_log(kube_client_t *c, const char *namespace, const char *pod,
                        const char *container, long tail_lines, long limit_bytes, buf_t *text,
                        kube_result_t *out);

/* ---- watch -------------------------------------------------------------- */

typedef enum kube_watch_event_type {
    KUBE_WATCH_ADDED,
    KUBE_WATCH_MODIFIED,
    KUBE_WATCH_DELETED,
    KUBE_WATCH_BOOKMARK, /* object carries only metadata.resourceVersion (and annotations) */
    KUBE_WATCH_ERROR,    /* object is a Status; error holds it decoded (410 Expired, ...) */
} kube_watch_event_type_t;

typedef struct kube_watch_event {
    kube_watch_event_type_t type;
    json_object *object;        /* borrowed for the callback; json_object_get to keep it */
    const kube_result_t *error; /* KUBE_WATCH_ERROR only, else NULL */
} kube_watch_event_t;

/* Called once per event, in order. Return 0 to go on, non-zero to stop. */
typedef int (*kube_watch_fn)(const kube_watch_event_t *event, void *data);

/* The streaming decoder: bytes in, events out. Accepts events split anywhere across feeds,
 * many events in one feed, and whitespace (blank lines, keep-alive newlines) between
 * them. Holds at most one line and one event at a time: events are newline-terminated
 * (as the API server writes them), and a line or event longer than the limit is an
 * error. The events decoded never depend on how the bytes were cut. */
typedef struct kube_watch_decoder kube_watch_decoder_t;

#define KUBE_WATCH_DEFAULT_MAX_EVENT (64u << 20)

/* max_event_bytes: larger events are a decode error (0 = KUBE_WATCH_DEFAULT_MAX_EVENT).
 * NULL when out of memory. */
kube_watch_decoder_t *kube_watch_decoder_new(kube_watch_fn fn, void *data, size_t max_event_bytes);
void kube_watch_decoder_free(kube_watch_decoder_t *d);
/* Decodes len bytes, calling fn for every event completed. Returns 0 to continue; the
 * callback's non-zero value once it asked to stop (later bytes are ignored); -1 on
 * malformed input (kube_watch_decoder_error says what and where). After a non-zero
 * return every further feed returns the same value without decoding. */
int kube_watch_decoder_feed(kube_watch_decoder_t *d, const char *data, size_t len);
/* End of stream: 0, or -1 when it ended inside an event (truncated). */
int kube_watch_decoder_finish(kube_watch_decoder_t *d);
/* The reason for the last -1, or NULL. Valid until the decoder is freed. */
const char *kube_watch_decoder_error(const kube_watch_decoder_t *d);
/* Number of events delivered so far. */
size_t kube_watch_decoder_events(const kube_watch_decoder_t *d);

/* Watches resource from opts->resource_version, calling fn for ADDED, MODIFIED, DELETED
 * and BOOKMARK events until one of:
 *   - the server ends the stream (timeoutSeconds): KUBE_OK;
 *   - fn returns non-zero, or *stop becomes true: KUBE_OK, within ~100 ms of the flag
 *     being set (the transfer runs on a private curl multi handle polled at that rate,
 *     so no signal or wake-up call is needed; stop may be NULL);
 *   - an ERROR event: it is not passed to fn; out holds its Status decoded, e.g.
 *     KUBE_ERR_GONE with expired set for "too old resource version" — relist then;
 *   - an HTTP error at the start (typed as for other calls), a transport error, or a
 *     malformed stream (KUBE_ERR_DECODE).
 * A watch has no overall timeout: dead connections are found by TCP keep-alive, and when
 * timeout_seconds is set the transfer is abandoned 30 s after the server should have
 * ended it. No low-speed limit is used, because an idle watch legitimately sends nothing
 * (bookmarks are best-effort). Blocks the calling thread. */
kube_err_t kube_watch(kube_client_t *c, const kube_resource_t *resource, const char *namespace,
                      const kube_watch_options_t *opts, kube_watch_fn fn, void *data,
                      const atomic_bool *stop, kube_result_t *out);

#endif

/*
 * controller/internal: what the manager and the reconcilers share. Not a public header.
 */
#ifndef S2I_CONTROLLER_INTERNAL_H
#define S2I_CONTROLLER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "controller/controller.h"
#include "controller/jobspec.h"
#include "controller/recorder.h"
#include "informer/informer.h"
#include "workqueue/workqueue.h"

#define BUILDER_FINALIZER          "s2ibuilders.finalizers.kubesphere.io"
#define INDEX_RUNS_BY_BUILDER      "builder" /* "ns/builderName" */
#define INDEX_JOBS_BY_RUN          "run-uid" /* controller owner uid */
#define INDEX_PODS_BY_JOB          "job-uid" /* controller owner uid */
#define INDEX_BUILDERS_BY_TEMPLATE "template"

extern const kube_resource_t RES_RUNS, RES_BUILDERS, RES_TEMPLATES, RES_JOBS, RES_PODS,
    RES_DEPLOYMENTS, RES_STATEFULSETS, RES_SECRETS;

/* What a reconcile asks of its worker. */
typedef enum {
    RECONCILE_DONE = 0,   /* forget the key */
    RECONCILE_ERROR = -1, /* retry with the rate limiter's backoff */
} reconcile_result_t;

struct controller_manager {
    kube_client_t *client;
    controller_options_t opts;
    char *namespace;
    char *builder_image;
    char *pull_policy;
    char *log_url_base;
    char *instance;
    char **insecure; /* NULL-terminated copy */
    jobspec_options_t jobspec;

    informer_t *runs, *builders, *templates, *jobs, *pods;
    wq_t *run_queue, *builder_queue;
    pthread_t *workers;
    size_t nworkers;
    bool started;
    _Atomic bool stopped;        /* read by the workers */
    uint64_t reconciles_at_trim; /* controller_manager_release_memory (main thread) */
    recorder_t *recorder;

    pthread_mutex_t lock; /* guards last_write */
    strmap_t *last_write; /* run key -> double*: when its status was last written */

    _Atomic uint64_t run_reconciles, run_errors, builder_reconciles, builder_errors;
    _Atomic uint64_t jobs_created, run_status_writes, builder_status_writes;
    _Atomic uint64_t runs_succeeded, runs_failed;

    /* metrics (NULL families when no registry was given) */
    struct queue_metrics {
        const char *name;
        metrics_family_t *queue_seconds, *work_seconds;
    } metrics_run_queue, metrics_builder_queue;
    metrics_family_t *run_duration;
    metrics_family_t *gauge_active, *gauge_failed, *gauge_succeed, *gauge_unknown;
    metrics_family_t *reconciles, *reconcile_errors, *status_writes, *jobs_created_total;
    metrics_family_t *cache_objects, *cache_bytes, *queue_depth, *queue_adds, *queue_retries;
    strmap_t *run_counts;  /* namespace -> ns_count_t, refreshed per scrape (metrics.c) */
    strmap_t *ns_limits;   /* namespace -> ns_limit_t, guarded by lock (admission.c) */
    _Atomic bool queueing; /* a run was ever queued: watch for freed slots */
    /* Admission decisions under limits are made one at a time, and runs admitted whose
     * Job the cache does not show yet count as running (admission.c). */
    pthread_mutex_t admit_lock;
    strmap_t *admitted; /* run uid -> double*: when its Job was created; guarded by lock */
};

/* admission.c: may a run start its build now (run policy, concurrency limits)? */
typedef struct admission {
    bool admit;
    bool locked;     /* the slow path holds admit_lock until admission_done */
    bool superseded; /* fail the run with reason/message */
    char *reason;    /* when not admitted: Queued or Superseded */
    char *message;
} admission_t;
int run_admission(controller_manager_t *m, json_object *run, json_object *builder,
                  admission_t *out);
void admission_clear(admission_t *a);
/* After the Job create of an admitted run (created: it succeeded): counts the run as
 * running until the Job shows up in the cache, and releases admit_lock. */
void admission_done(controller_manager_t *m, admission_t *a, json_object *run, bool created);
const char *run_policy_of(json_object *builder);
/* After a build slot frees up: reconcile the runs still waiting for one. */
void enqueue_waiting_runs(controller_manager_t *m);

/* metrics.c */
void controller_metrics_init(controller_manager_t *m);
void controller_observe_queue(void *data, wq_metric_t metric, double seconds);
/* Observes a finished run's build time (from startTime to completionTime). */
void controller_observe_run(controller_manager_t *m, json_object *status);

/* Reconcilers: 0 = done, -1 = retry with backoff, > 0 = reconcile again after that many
 * milliseconds. */
long reconcile_run(controller_manager_t *m, const char *key);
long reconcile_builder(controller_manager_t *m, const char *key);
/* The run cache's projection (store_set_projection): the summary of a run that
 * reconcile_builder reads, so that a builder's status parses none of its runs. */
int builder_run_projection(json_object *run, void *data, store_projection_t *out);
/* status.runState ("" when unset) from a run's projection by builder_run_projection, or
 * NULL when the item has none. */
const char *run_projection_state(const store_projected_t *item);

/* Rolls a finished run's image out to the builder's autoscale workloads (autoscale.c).
 * 0 done or nothing to do, -1 retry. */
int autoscale_workloads(controller_manager_t *m, json_object *run, json_object *builder);

/* Drops what the controller remembers of a run (when its status was last written, its
 * admission): for a deleted run, and for a finished one, which is never paced or
 * admitted again: after a burst the maps would otherwise keep an entry per run it built. */
void forget_run(controller_manager_t *m, const char *key, const char *uid);

/* "ns/name" split into caller buffers; false when malformed. */
bool split_key(const char *key, char *ns, size_t ns_len, char *name, size_t name_len);

/* Enqueue helpers (delay in seconds, 0 = now). */
void enqueue_run(controller_manager_t *m, const char *ns, const char *name, double delay);
void enqueue_builder(controller_manager_t *m, const char *ns, const char *name, double delay);

/* Logs an API failure once, at the point of decision. */
void log_api_error(const char *what, const char *key, const kube_result_t *r);

#endif

/*
 * controller: the S2iRun, S2iBuilder and S2iBuilderTemplate controllers, and the
 * manager that runs them (controller-runtime's Manager in miniature).
 *
 * The manager owns one informer per watched resource -- S2iRuns, S2iBuilders,
 * S2iBuilderTemplates, and the Jobs and Pods labelled devops.kubesphere.io/s2ir (a
 * label selector: a big cluster's other pods are never cached) -- and one work queue
 * per controller. Informer handlers only enqueue keys; worker threads reconcile:
 *   s2irun      one Job per run; status from the Job and its pods; cancellation,
 *               timeouts, a deleted Job, a missing builder or secret
 *   s2ibuilder  finalizer, runCount/lastRun* from the runs-by-builder index (no list
 *               calls), written at most once per builder per status interval;
 *               run history limits; the Ready condition
 * Reconciles are level-triggered and idempotent: they read the caches, compute what
 * should be, and write only the difference, with the cached resourceVersion (a 409
 * requeues).
 *
 * Ownership: controller_manager_new/_free. The client is borrowed and must outlive
 * the manager.
 * Thread-safety: start/stop/free from one thread; stats and has_synced from any.
 * Errors: 0 / -1; failed reconciles are retried with the work queue's backoff.
 */
#ifndef S2I_CONTROLLER_H
#define S2I_CONTROLLER_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>
#include <stddef.h>

#include "kube/kube.h"
#include "metrics/metrics.h"

typedef struct controller_options {
    const char *namespace;                  /* watch this namespace only; NULL or "": all */
    const char *builder_image;              /* the prepare step's image (S2IIMAGENAME); required */
    const char *builder_image_pull_policy;  /* NULL: IfNotPresent */
    const char *const *insecure_registries; /* passed to builds; NULL-terminated or NULL */
    int workers;                            /* reconcile threads per controller; 0: 2 */
    long default_timeout;                   /* seconds of a run without spec.timeout; 0: 3600 */
    const char *log_url_base;               /* NULL: KubeSphere's logging API */
    double builder_status_interval;         /* seconds between a builder's status writes; 0: 1 */
    double run_status_interval;  /* minimum seconds between progress writes of a run; 0: 3 */
    const char *instance;        /* this replica's name, for events */
    metrics_registry_t *metrics; /* where to register the controller's metrics; NULL: none */
    long max_concurrent_builds;  /* builds running at once in the cluster; 0: no limit */
    long pending_timeout;        /* seconds a run's pod may stay unstarted; 0: 600 */
} controller_options_t;

typedef struct controller_manager controller_manager_t;

/* Counters for metrics. */
typedef struct controller_stats {
    uint64_t run_reconciles, run_errors;
    uint64_t builder_reconciles, builder_errors;
    uint64_t jobs_created;
    uint64_t run_status_writes, builder_status_writes;
    uint64_t runs_succeeded, runs_failed;
    uint64_t events_created, events_dropped;
    size_t runs_cached, builders_cached, jobs_cached, pods_cached;
    size_t cache_bytes;
} controller_stats_t;

int controller_manager_new(kube_client_t *client, const controller_options_t *opts,
                           controller_manager_t **out);
/* Starts the informers (the caches: webhooks and endpoints read them, and a standby
 * replica keeps them warm for a fast take-over). */
int controller_manager_start(controller_manager_t *m);
/* Starts the reconcile workers: the leader's part. After controller_manager_start. */
int controller_manager_run(controller_manager_t *m);
/* True once every informer has applied its first list. */
bool controller_manager_synced(controller_manager_t *m);
/* Hands back to the system the heap a burst of work left behind (glibc keeps freed memory
 * in its arenas), when the work queues are empty and there was work since the last
 * time. Call it now and then from one thread; it takes a few milliseconds. */
void controller_manager_release_memory(controller_manager_t *m);
/* Waits for the caches (timeout seconds, < 0: forever). */
bool controller_manager_wait_for_sync(controller_manager_t *m, double timeout);
/* Stops taking new work, lets in-flight reconciles finish, stops the informers and
 * flushes events. Idempotent. */
void controller_manager_stop(controller_manager_t *m);
void controller_manager_free(controller_manager_t *m);
void controller_manager_stats(controller_manager_t *m, controller_stats_t *out);

/* Read access to the caches for other parts of the operator (admission webhooks, the
 * log and trigger endpoints): a new reference the caller puts, or NULL when absent or
 * the caches have not synced. key: "namespace/name" (a template: "name"). */
json_object *controller_manager_get_run(controller_manager_t *m, const char *key);
json_object *controller_manager_get_builder(controller_manager_t *m, const char *key);
json_object *controller_manager_get_template(controller_manager_t *m, const char *name);
/* Pods of a run's Job(s), newest first (*out malloc'd array of new references, freed
 * with controller_objects_free). */
int controller_manager_run_pods(controller_manager_t *m, json_object *run, json_object ***out,
                                size_t *len);
void controller_objects_free(json_object **objs, size_t len);

#endif

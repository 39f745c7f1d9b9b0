/*
 * controller/runstatus: an S2iRun's status from its Job and the Job's Pods, as pure
 * functions (no I/O), so every Job/Pod shape is covered by unit tests.
 *
 * Status fields (upstream names and JSON types, console-contract.md): runState
 * Running|Successful|Failed, startTime, completionTime, kubernetesJobName (only once the
 * Job exists), logURL (".../namespaces/<ns>/pods/<pod>", as soon as a pod exists),
 * s2iBuildResult / s2iBuildSource, plus conditions[] with the `Succeeded` condition
 * (Unknown while pending or running, True, False with a reason), observedGeneration.
 *
 * Ownership: functions returning json_object* return a new reference.
 */
#ifndef S2I_CONTROLLER_RUNSTATUS_H
#define S2I_CONTROLLER_RUNSTATUS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#define RUN_STATE_RUNNING    "Running"
#define RUN_STATE_SUCCESSFUL "Successful"
#define RUN_STATE_FAILED     "Failed"

/* The default logURL base: KubeSphere's logging API, whose path the console parses. */
#define RUNSTATUS_DEFAULT_LOG_URL_BASE                                                             \
    "http://ks-apigateway.kubesphere-system.svc/kapis/logging.kubesphere.io/v1alpha2"

typedef enum run_phase {
    RUN_PHASE_PENDING,   /* Job created, pod not running yet */
    RUN_PHASE_RUNNING,   /* a build pod runs */
    RUN_PHASE_SUCCEEDED, /* finished: Successful */
    RUN_PHASE_FAILED,    /* finished: Failed */
} run_phase_t;

typedef struct runstatus_input {
    json_object *run;     /* the S2iRun */
    json_object *builder; /* its S2iBuilder, may be NULL */
    json_object *job;     /* its Job, not NULL */
    json_object **pods;   /* the Job's pods (any order) */
    size_t npods;
    const char *log_url_base; /* NULL: RUNSTATUS_DEFAULT_LOG_URL_BASE */
    double now;
} runstatus_input_t;

/* Whether a run's status says it finished (runState Successful or Failed). */
bool runstatus_finished(json_object *run);

/* The run's new status from its Job and pods: a copy of the current status with what
 * the Job says applied. *phase tells where the run is; *pod_out (may be NULL) the name of
 * the pod whose log tells the story (newest pod, or the failing one) or NULL. */
json_object *runstatus_from_job(const runstatus_input_t *in, run_phase_t *phase,
                                const char **pod_out, const char **container_out);

/* Sets the Succeeded condition (lastTransitionTime kept when status does not change). */
void runstatus_set_condition(json_object *status, const char *cond_status, const char *reason,
                             const char *message, long long generation, double now);

/* Sets a condition of any type (lastTransitionTime kept when status does not change). */
void runstatus_put_condition(json_object *status, const char *type, const char *cond_status,
                             const char *reason, const char *message, long long generation,
                             double now);
/* Derives the kstatus conditions from runState and Succeeded: Reconciling=True while
 * pending/queued/running, Stalled=True when Failed, Ready True only when Successful; each
 * with observedGeneration. Conditions that do not apply are removed. */
void runstatus_apply_kstatus(json_object *status, long long generation, double now);

/* A copy of the run's status, marked finished as Failed with reason/message (for what
 * the Job cannot say: cancelled, Job deleted, configuration errors). */
json_object *runstatus_failed(json_object *run, const char *reason, const char *message,
                              double now);

/* A copy of the run's status, waiting before any Job (builder or secret missing...):
 * Succeeded=Unknown with the reason, no runState change. */
json_object *runstatus_waiting(json_object *run, const char *reason, const char *message,
                               double now);

/* The failure of one pod: reason and message (malloc'd) from its container states,
 * termination messages ("Reason: message" lines from s2i-builder), eviction, OOM. */
void runstatus_pod_failure(json_object *pod, char **reason, char **message, const char **container);

/* logURL for a pod: "<base>/namespaces/<ns>/pods/<pod>" (+ "?operation=query" for the
 * KubeSphere logging base). malloc'd. */
char *runstatus_log_url(const char *base, const char *ns, const char *pod);

/* Same JSON (status comparisons ignore nothing: callers compare before writing). */
bool runstatus_equal(json_object *a, json_object *b);

#endif

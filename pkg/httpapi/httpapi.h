/*
 * httpapi: the operator's own HTTP endpoints beside the webhooks — build logs of runs
 * and the upstream-compatible trigger endpoints that start runs (KubeSphere's
 * s2ioperator served the triggers on :8081, Service s2ioperator-trigger-service).
 *
 * Logs (authenticated)
 *   GET /logs/namespaces/{ns}/s2iruns/{name}[?follow=true]
 *   GET <any prefix>/namespaces/{ns}/pods/{pod}[?follow=true]
 *       The second is the path shape of a run's status.logURL, which the KubeSphere
 *       console parses, so a logURL pointing here works outside KubeSphere too. Only
 *       pods labelled devops.kubesphere.io/s2ir (our builds) are served.
 *   The body (text/plain, chunked) is the build pod's log, container by container in
 *   execution order (init "prepare", then "build", then "runtime" when present), each
 *   introduced by a line "==> <container> <==". With follow the response stays open,
 *   follows the running container, moves on to the next as it starts and to a retry's
 *   new pod, and ends when the run has finished (or the client leaves). When the pod is
 *   gone, the run's status.logTail is served instead, after a note saying so.
 *   Authentication: "Authorization: Bearer <token>", checked with a TokenReview (401
 *   without a token or when it is not valid), then a SubjectAccessReview for verb get
 *   on s2iruns (group devops.kubesphere.io) in the namespace, for the run's name (the
 *   pod path: the whole namespace) — 403 when denied. Allowed decisions are cached for
 *   auth_cache_ttl seconds, keyed by a hash of the token: tokens are never stored or
 *   logged.
 *   Following reads pods/log of the running container every log_poll_interval seconds
 *   and sends what is new (kube_pod_log has no follow mode); a stream is a thread of
 *   this module, so it holds no server worker.
 *
 * Triggers (unauthenticated, secret-checked; each also with a trailing '/', which the
 * KubeSphere console puts in the URL it shows)
 *   GET|POST /s2itrigger/v1alpha1/general/namespaces/{ns}/s2ibuilders/{builder}
 *            ?secretCode=<code>
 *       secretCode must equal the builder's spec.config.secretCode (constant time; an
 *       empty secret never matches, unlike upstream). An optional body, JSON
 *       (application/json) or a form (application/x-www-form-urlencoded), may set
 *       newTag, newRevisionId and newSourceURL (so#164); no body at all is fine with any
 *       Content-Type (so#6).
 *   POST /s2itrigger/v1alpha1/github/namespaces/{ns}/s2ibuilders/{builder}
 *       GitHub push events. When the builder has a secretCode, X-Hub-Signature-256 must
 *       be the HMAC-SHA256 of the raw body with it. "ping" answers 200; other events
 *       than push 400. The branch (ref refs/heads/<b>) must match branchExpression
 *       (POSIX extended regex, unanchored as Go's MatchString) or, without one, equal
 *       revisionId (default master); the run builds head_commit.id. Pushes of tags,
 *       branch deletions and other branches are answered 200 and ignored.
 *   POST /s2itrigger/v1alpha1/gitlab/namespaces/{ns}/s2ibuilders/{builder}
 *       GitLab "Push Hook" events; X-Gitlab-Token must equal the builder's secretCode
 *       (so#168); branch from ref as above; the run builds checkout_sha.
 *   A trigger creates an S2iRun with generateName "<builder>-" (shortened so the name
 *   stays within 63 characters), spec.builderName (+ the overrides), the builder-name
 *   label and annotation kubesphere.io/creator ("auto-trigger", "trigger-<committer>"),
 *   and answers 201 {"namespace","name","builderName","logPath"}. 401: bad secret or
 *   signature; 404: unknown builder; 400: bad body or event; 429 with Retry-After: the
 *   builder's trigger budget (a token bucket: trigger_burst at once, trigger_rate per
 *   second after that) is used up, so a webhook storm cannot create unbounded runs.
 *   Body size is the listener's limit.
 *
 * Lookups use the controller manager's caches when it is given and synced, else GETs
 * against the API server (a standby replica, or no manager at all).
 *
 * Metrics (when a registry is given): s2i_trigger_requests_total{route,result},
 * s2i_log_requests_total{result}, s2i_log_streams_open.
 *
 * Ownership: httpapi_new/httpapi_free. The client, manager and registry are borrowed and
 * must outlive the httpapi. Shutdown order: server_stop, httpapi_stop, server_free
 * (waits for handlers), httpapi_free (waits for log streams).
 * Thread-safety: handlers run on server worker threads and share the httpapi (its caches
 * have their own mutexes); httpapi_register before server_start, from one thread.
 * Errors: 0 / -1 (bad arguments, out of memory).
 */
#ifndef S2I_HTTPAPI_H
#define S2I_HTTPAPI_H

#include "controller/controller.h"
#include "kube/kube.h"
#include "metrics/metrics.h"
#include "server/server.h"

typedef struct httpapi httpapi_t;

/* Zero fields take the defaults in brackets. */
typedef struct httpapi_options {
    kube_client_t *client;         /* required. Its QPS budget is shared with whoever else
                                      uses it: give the httpapi a client of its own so log
                                      followers cannot slow reconciles down. */
    controller_manager_t *manager; /* optional: cache lookups */
    metrics_registry_t *metrics;   /* optional */
    double auth_cache_ttl;         /* seconds an allowed decision is remembered [10];
                                      < 0: not cached */
    double trigger_rate;           /* runs per second per builder after the burst [0.1] */
    int trigger_burst;             /* runs at once per builder [5] */
    int max_log_streams;           /* follows open at once; beyond: 429 [64] */
    double log_poll_interval;      /* seconds between reads of a followed log [1] */
} httpapi_options_t;

int httpapi_new(const httpapi_options_t *opts, httpapi_t **out);
/* Adds the log and trigger routes to the listener. The pod-log route matches any path
 * ending in /namespaces/{ns}/pods/{pod}, so it is added as a catch-all for GET (other
 * paths: 404 from it, or 405 for other methods): register the httpapi after the
 * listener's other routes (or give it a listener of its own). */
int httpapi_register(httpapi_t *api, server_listener_t *listener);
/* Ends open log streams (they write a last note and close) and refuses new follows.
 * Idempotent. */
void httpapi_stop(httpapi_t *api);
/* httpapi_stop, waits for the stream threads, frees. NULL ok. */
void httpapi_free(httpapi_t *api);

#endif

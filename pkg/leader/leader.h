/*
 * leader: leader election on a coordination.k8s.io/v1 Lease, as client-go's
 * leaderelection package does it, so that of several operator replicas only one runs
 * the controllers.
 *
 * The Lease
 *   spec.holderIdentity (who leads; "" after a release), leaseDurationSeconds, acquireTime
 *   and renewTime (MicroTime: "2026-11-26T06:33:38.123456Z"), leaseTransitions (how often
 *   the holder changed). Every write is an update carrying the resourceVersion last read,
 *   so of two electors racing for the same version one gets 409 Conflict and has lost
 *   that round; a missing Lease is created.
 *
 * When a Lease counts as expired
 *   As client-go: never by comparing renewTime with our clock (the holder's clock may be
 *   wrong), but by our own monotonic clock: the record is expired lease_duration after the
 *   moment *we observed* it change. A holder that renews keeps changing renewTime, so it
 *   never expires for the others. A Lease we saw held and then found deleted is treated
 *   the same way (the deletion is the change we observed): its last holder may still be
 *   leading until its renew deadline, so it is recreated by another elector only a full
 *   lease duration later. (client-go recreates at once, which can make two leaders; the
 *   holder itself recreates at its next renewal. An elector that never saw the Lease still
 *   creates it at once: it cannot know of a holder.) Fields that cannot be read (a
 *   holderIdentity that is not a string, a leaseDurationSeconds that is not a positive
 *   32-bit integer) make the record one held by an unknown holder for our own
 *   lease_duration.
 *
 * Leading
 *   The leader renews every retry_period. Its leadership is valid until renew_deadline
 *   after the *start* of its last successful write (the server applied it later, and the
 *   others observed it later still, so they wait at least lease_duration - renew_deadline
 *   longer than the leader believes it leads). A renewal is only started when it can end
 *   (request_timeout) before that point, so the election thread is never inside a request
 *   when the deadline passes: on_stopped_leading is called at the deadline, and
 *   leader_is_leader turns false at the deadline even before that. Leadership also ends
 *   at once when a renewal finds another holder in the Lease. Then the elector either
 *   goes back to campaigning (rejoin_after_loss) or its thread ends (the default; as
 *   client-go's Run returns, and controller-runtime exits the process).
 *   Differences from client-go: the deadline counts from the last success, not from
 *   retry_period after it; on_stopped_leading is called before the release is written
 *   (the operator stops reconciling before a standby may start), and only after an
 *   on_started_leading (client-go calls it whenever Run returns; a leader_stop that comes
 *   while the Lease is being taken releases it without either call).
 *
 * Candidates
 *   retry every retry_period * (1 + jitter * random[0,1)) (client-go's JitterUntil with
 *   JitterFactor 1.2). With `watch`, a candidate also watches the Lease and tries at once
 *   when it is released or deleted, so a standby takes over a released Lease within a
 *   round trip instead of up to 4.4 s (2 s * 2.2) later.
 *
 * Release
 *   leader_stop while leading writes holderIdentity "" and leaseDurationSeconds 1
 *   (client-go's ReleaseOnCancel), unless release_on_stop is false.
 *
 * Threads and callbacks
 *   leader_start creates the election thread (and, with `watch`, a watch thread it owns).
 *   All three callbacks are called from the election thread, one at a time, never with a
 *   lock held: on_new_leader(identity) when the holder we observe changes (our own
 *   identity included; "" once the Lease was released), on_started_leading after
 *   leader_is_leader became true, on_stopped_leading after it became false (lost, or
 *   leader_stop while leading). Renewals wait while a callback runs, so callbacks must
 *   return quickly (start or signal the controllers, do not run them) and must not call
 *   leader_stop or leader_free. leader_is_leader, leader_identity and leader_wait may be
 *   called from any thread; leader_start, leader_stop and leader_free from the owner's.
 *
 * Requests
 *   The elector makes its own kube client from the config it is given: request_timeout
 *   per request (connect included), no client-side rate limit and no Retry-After retries
 *   (a 429 or 503 is one failed attempt, retried at the next period). The client's one
 *   retry of a 401 after refreshing credentials can make a request last twice
 *   request_timeout, and on_stopped_leading that much late; leader_is_leader still turns
 *   false at the deadline. Transport errors and error answers are logged once when a
 *   streak of failures starts; transitions (acquired, new leader, lost, released) are
 *   logged once each, with the Lease's namespace/name.
 *
 * Ownership
 *   leader_new copies the options' strings and borrows the config, which must outlive the
 *   elector; leader_free stops it first. Errors: functions return 0, or -1 with *err set
 *   to a malloc'd message (the caller frees it) where they take one.
 */
#ifndef S2I_LEADER_H
#define S2I_LEADER_H

#include <stdbool.h>

#include "kube/config.h"

typedef struct leader_callbacks {
    void (*on_started_leading)(void *data);
    void (*on_stopped_leading)(void *data);
    void (*on_new_leader)(const char *identity, void *data);
    void *data;
} leader_callbacks_t;

/* Start from leader_options_default: a zero is taken literally (and mostly rejected). */
typedef struct leader_options {
    const char *namespace;  /* required: the Lease's namespace */
    const char *name;       /* required: the Lease's name */
    const char *identity;   /* required: unique per process, see leader_identity_new */
    double lease_duration;  /* whole seconds, >= 1, > renew_deadline. Default 15 */
    double renew_deadline;  /* > jitter * retry_period. Default 10 */
    double retry_period;    /* Default 2 */
    double jitter;          /* candidates' extra random wait, as a fraction of retry_period.
                               Default 1.2 */
    double request_timeout; /* per request; retry_period + request_timeout must fit in
                               renew_deadline. Default 2 */
    bool release_on_stop;   /* write a released Lease on leader_stop. Default true */
    bool rejoin_after_loss; /* campaign again after losing; else the thread ends. Default
                               false */
    bool watch;             /* watch the Lease to take over a release at once. Default true */
    const char *user_agent; /* NULL: "s2i-operator/<version> leader-election" */
} leader_options_t;

typedef struct leader leader_t;

void leader_options_default(leader_options_t *opts);

/* "<pod_name>_<random UUID>" (controller-runtime's form) into *out (caller frees).
 * pod_name NULL or "": the host name, which is the pod's name in a pod. 0 or -1. */
int leader_identity_new(const char *pod_name, char **out);

/* Checks the options and makes the elector and its kube client; nothing runs yet.
 * callbacks may be NULL, as may each of its functions. 0, or -1 with *err set. */
int leader_new(kube_config_t *config, const leader_options_t *opts,
               const leader_callbacks_t *callbacks, leader_t **out, char **err);
/* Starts campaigning in a new thread. 0, or -1 (thread not created, or already started). */
int leader_start(leader_t *l);
/* Stops the election thread and waits for it: if leading, on_stopped_leading is called
 * and the Lease released (release_on_stop). Returns within about two request_timeouts
 * (the request in flight, the release) plus the time on_stopped_leading takes.
 * Harmless when not started or already stopped. */
void leader_stop(leader_t *l);
/* Waits up to timeout seconds for the election thread to end by itself (leadership lost
 * without rejoin_after_loss) or by leader_stop; true once it has ended. */
bool leader_wait(leader_t *l, double timeout);
/* True while we hold a valid lease: false before on_started_leading, and from the renew
 * deadline (or leader_stop) on, even before on_stopped_leading has run. Any thread. */
bool leader_is_leader(const leader_t *l);
const char *leader_identity(const leader_t *l);
/* Stops (as leader_stop) and frees. Accepts NULL. */
void leader_free(leader_t *l);

#endif

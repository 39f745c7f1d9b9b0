/*
 * leader: the elector — one thread that campaigns for the Lease, then renews it until it
 * is lost or the elector is stopped, in the steps of client-go's LeaderElector
 * (acquire, renew, tryAcquireOrRenew, release); and, with the watch option, a second
 * thread watching the Lease only to wake a candidate when it is released or deleted.
 * The timing rules are explained in leader.h.
 */
#include "leader/leader_internal.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube.h"
#include "util/util.h"

static const kube_resource_t leases = {"coordination.k8s.io", "v1", "leases", true};

/* The outcome of one tryAcquireOrRenew. */
typedef enum attempt {
    ATTEMPT_OK,     /* we hold the Lease, valid_until moved on */
    ATTEMPT_HELD,   /* someone else holds it and it has not expired */
    ATTEMPT_FAILED, /* an error, a lost race (409) or no time left: try again later */
    ATTEMPT_LOST,   /* while leading, the Lease names another holder */
} attempt_t;

struct leader {
    leader_options_t opts; /* strings owned */
    leader_callbacks_t cb;
    kube_client_t *client;
    char *key;            /* "namespace/name", for logs */
    char *field_selector; /* "metadata.name=<name>", for the watch */

    pthread_mutex_t lock; /* guards the flags below and the condition */
    pthread_cond_t cond;  /* signalled on stop, wake and the end of the thread (monotonic) */
    bool stopping;
    bool no_release; /* leader_abandon: stop as if killed */
    bool woken;      /* the watch saw the Lease released or deleted */
    bool finished;   /* the election thread has ended */
    bool started;
    bool joined;
    pthread_t thread;

    atomic_bool leading;
    atomic_int_least64_t valid_until_ns; /* monotonic; leadership ends there */
    atomic_bool watch_stop;

    /* Only the election thread touches these. */
    json_object *lease;      /* the Lease as last read or written (its resourceVersion) */
    lease_record_t observed; /* its record */
    double observed_time;    /* monotonic time the record last changed under our eyes */
    bool observed_absent;    /* the Lease was found deleted after having been seen */
    char *reported_leader;   /* the holder last given to on_new_leader */
    bool failing;            /* inside a streak of failed requests (logged once) */
    unsigned int seed;       /* for the jitter */
};

/* ---- options --------------------------------------------------------------------- */

void leader_options_default(leader_options_t *opts)
{
    *opts = (leader_options_t){
        .lease_duration = 15,
        .renew_deadline = 10,
        .retry_period = 2,
        .jitter = 1.2,
        .request_timeout = 2,
        .release_on_stop = true,
        .rejoin_after_loss = false,
        .watch = true,
    };
}

static int fail(char **err, const char *msg)
{
    if (err)
        *err = util_strdup(msg);
    return -1;
}

/* client-go's NewLeaderElector checks, plus ours: whole seconds (leaseDurationSeconds is
 * an integer) and a renewal that fits in the deadline. */
static int check_options(const leader_options_t *o, char **err)
{
    if (!o->namespace || !*o->namespace || !o->name || !*o->name)
        return fail(err, "leader election: the Lease namespace and name are required");
    if (!o->identity || !*o->identity)
        return fail(err, "leader election: an identity is required");
    if (!(o->retry_period > 0) || !(o->request_timeout > 0) || !(o->jitter >= 0))
        return fail(err, "leader election: retry period and request timeout must be > 0, "
                         "jitter >= 0");
    if (!(o->lease_duration >= 1) || o->lease_duration != floor(o->lease_duration) ||
        o->lease_duration > INT32_MAX)
        return fail(err, "leader election: the lease duration must be whole seconds, >= 1");
    if (!(o->lease_duration > o->renew_deadline))
        return fail(err, "leader election: the lease duration must be greater than the renew "
                         "deadline");
    if (!(o->renew_deadline > o->jitter * o->retry_period))
        return fail(err, "leader election: the renew deadline must be greater than jitter * "
                         "retry period");
    if (o->retry_period + o->request_timeout > o->renew_deadline)
        return fail(err, "leader election: retry period + request timeout must fit in the renew "
                         "deadline");
    return 0;
}

/* ---- life cycle ------------------------------------------------------------------- */

static void options_free(leader_options_t *o)
{
    free((char *)o->namespace);
    free((char *)o->name);
    free((char *)o->identity);
    free((char *)o->user_agent);
}

void leader_free(leader_t *l)
{
    if (!l)
        return;
    leader_stop(l);
    kube_client_free(l->client);
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->lock);
    json_object_put(l->lease);
    lease_record_clear(&l->observed);
    free(l->reported_leader);
    free(l->key);
    free(l->field_selector);
    options_free(&l->opts);
    free(l);
}

static int init_sync(leader_t *l)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        return -1;
    int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(&l->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0)
        return -1;
    if (pthread_mutex_init(&l->lock, NULL) != 0) {
        pthread_cond_destroy(&l->cond);
        return -1;
    }
    return 0;
}

int leader_new(kube_config_t *config, const leader_options_t *opts,
               const leader_callbacks_t *callbacks, leader_t **out, char **err)
{
    if (err)
        *err = NULL;
    if (!config || !opts || !out)
        return fail(err, "leader election: missing config or options");
    if (check_options(opts, err) != 0)
        return -1;
    leader_t *l = calloc(1, sizeof(*l));
    if (!l)
        return fail(err, "out of memory");
    if (init_sync(l) != 0) {
        free(l);
        return fail(err, "leader election: cannot create a mutex or condition");
    }
    l->opts = *opts;
    l->opts.namespace = util_strdup(opts->namespace);
    l->opts.name = util_strdup(opts->name);
    l->opts.identity = util_strdup(opts->identity);
    l->opts.user_agent = opts->user_agent
                             ? util_strdup(opts->user_agent)
                             : util_strdup("s2i-operator/" S2I_VERSION " leader-election");
    if (callbacks)
        l->cb = *callbacks;
    l->key = util_asprintf("%s/%s", opts->namespace, opts->name);
    l->field_selector = util_asprintf("metadata.name=%s", opts->name);
    l->reported_leader = util_strdup("");
    l->seed = (unsigned int)((uintptr_t)l ^ (uintptr_t)(util_monotonic() * 1e6));
    atomic_init(&l->leading, false);
    atomic_init(&l->valid_until_ns, 0);
    atomic_init(&l->watch_stop, false);
    if (!l->opts.namespace || !l->opts.name || !l->opts.identity || !l->opts.user_agent ||
        !l->key || !l->field_selector || !l->reported_leader) {
        leader_free(l);
        return fail(err, "out of memory");
    }

    kube_client_options_t copts;
    kube_client_options_default(&copts);
    copts.qps = -1;
    copts.timeout = opts->request_timeout;
    copts.connect_timeout = opts->request_timeout;
    copts.max_retries = 0;
    copts.user_agent = l->opts.user_agent;
    char *client_err = NULL;
    if (kube_client_new(config, &copts, &l->client, &client_err) != 0) {
        if (err)
            *err = util_asprintf("leader election: %s", client_err ? client_err : "no client");
        free(client_err);
        leader_free(l);
        return -1;
    }
    *out = l;
    return 0;
}

const char *leader_identity(const leader_t *l)
{
    return l->opts.identity;
}

/* ---- time ------------------------------------------------------------------------- */

static int64_t to_ns(double seconds)
{
    return (int64_t)(seconds * 1e9);
}

static double valid_until(const leader_t *l)
{
    return (double)atomic_load(&l->valid_until_ns) / 1e9;
}

bool leader_is_leader(const leader_t *l)
{
    return atomic_load(&l->leading) && util_monotonic() < valid_until(l);
}

static void deadline_timespec(double until, struct timespec *ts)
{
    double whole = floor(until);
    ts->tv_sec = (time_t)whole;
    ts->tv_nsec = (long)((until - whole) * 1e9);
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Waits until the monotonic time `until`, a stop or (when wakeable) a wake from the
 * watch. Returns true when the elector is stopping. */
static bool wait_until(leader_t *l, double until, bool wakeable)
{
    struct timespec ts;
    deadline_timespec(until, &ts);
    pthread_mutex_lock(&l->lock);
    while (!l->stopping && !(wakeable && l->woken) && util_monotonic() < until) {
        if (pthread_cond_timedwait(&l->cond, &l->lock, &ts) == ETIMEDOUT)
            break;
    }
    bool stopping = l->stopping;
    l->woken = false;
    pthread_mutex_unlock(&l->lock);
    return stopping;
}

static bool stopping(leader_t *l)
{
    pthread_mutex_lock(&l->lock);
    bool stopping = l->stopping;
    pthread_mutex_unlock(&l->lock);
    return stopping;
}

/* May a request start now? Not when stopping (so that leader_stop waits for one request
 * at most); a leader's must end before its deadline (see leader.h). */
static bool request_fits(leader_t *l)
{
    if (stopping(l))
        return false;
    return !atomic_load(&l->leading) ||
           util_monotonic() + l->opts.request_timeout <= valid_until(l);
}

/* ---- requests --------------------------------------------------------------------- */

static void log_failure(leader_t *l, const char *what, const kube_result_t *r)
{
    char msg[512];
    kube_error_str(r, msg, sizeof(msg));
    if (!l->failing)
        log_warn(what, "lease", l->key, "error", msg, NULL);
    else
        log_v(4, what, "lease", l->key, "error", msg, NULL);
    l->failing = true;
}

/* Takes the answer of a successful write or read as the Lease and record we observe,
 * noting the time when the record changed. */
static int observe(leader_t *l, kube_result_t *r, double now)
{
    json_object *lease = r->body;
    if (!json_object_is_type(lease, json_type_object))
        return -1;
    lease_record_t rec = {0};
    if (lease_record_parse(lease, (long)l->opts.lease_duration, &rec) != 0)
        return -1;
    if (l->observed_absent || !l->observed.raw || strcmp(rec.raw, l->observed.raw) != 0) {
        l->observed_time = now;
        if (!rec.duration_read && *rec.holder && strcmp(rec.holder, l->opts.identity) != 0)
            log_warn("leader election: Lease without a readable leaseDurationSeconds, waiting "
                     "our own lease duration",
                     "lease", l->key, "holder", rec.holder, NULL);
    }
    lease_record_clear(&l->observed);
    l->observed = rec;
    l->observed_absent = false;
    json_object_put(l->lease);
    l->lease = kube_result_take_body(r);
    return 0;
}

/* Writes our record: an update of l->lease (its resourceVersion), or a create when base is
 * NULL. On success the answer becomes the observed Lease and the deadline moves on. */
static attempt_t write_lease(leader_t *l, json_object *base, const char *acquire_time,
                             long transitions)
{
    if (!request_fits(l))
        return ATTEMPT_FAILED;
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    char now[32];
    lease_format_microtime(&wall, now);
    lease_spec_t spec = {
        .holder = l->opts.identity,
        .duration = (long)l->opts.lease_duration,
        .acquire_time = acquire_time && *acquire_time ? acquire_time : now,
        .renew_time = now,
        .transitions = transitions,
    };
    json_object *obj = lease_build(base, l->opts.namespace, l->opts.name, &spec);
    if (!obj) {
        log_error("leader election: out of memory", "lease", l->key, NULL);
        return ATTEMPT_FAILED;
    }
    kube_result_t r = KUBE_RESULT_INIT;
    double start = util_monotonic();
    kube_err_t err = base ? kube_update(l->client, &leases, l->opts.namespace, obj, NULL, &r)
                          : kube_create(l->client, &leases, l->opts.namespace, obj, NULL, &r);
    json_object_put(obj);
    attempt_t result = ATTEMPT_FAILED;
    if (err == KUBE_OK && observe(l, &r, util_monotonic()) == 0) {
        atomic_store(&l->valid_until_ns, to_ns(start + l->opts.renew_deadline));
        l->failing = false;
        result = ATTEMPT_OK;
    } else if (err == KUBE_ERR_CONFLICT || err == KUBE_ERR_ALREADY_EXISTS) {
        /* someone else wrote first: they won this round */
        log_v(4, "leader election: lost a race for the Lease", "lease", l->key, "error",
              kube_err_name(err), NULL);
    } else {
        if (err == KUBE_OK)
            kube_result_set_error(&r, KUBE_ERR_DECODE, NULL, "the answer is not a Lease");
        log_failure(l,
                    base ? "leader election: cannot update the Lease"
                         : "leader election: cannot create the Lease",
                    &r);
    }
    kube_result_clear(&r);
    return result;
}

/* client-go's tryAcquireOrRenew: a leader first renews from what it wrote last; otherwise
 * (or when that fails) read the Lease, create it if missing, and take it if we hold it
 * already, it is free, or it has expired by our observation. */
static attempt_t try_acquire_or_renew(leader_t *l)
{
    bool leading = atomic_load(&l->leading);
    if (leading && l->lease) {
        attempt_t a = write_lease(l, l->lease, l->observed.acquire_time, l->observed.transitions);
        if (a == ATTEMPT_OK)
            return a;
    }
    if (!request_fits(l))
        return ATTEMPT_FAILED;
    kube_result_t r = KUBE_RESULT_INIT;
    kube_err_t err = kube_get(l->client, &leases, l->opts.namespace, l->opts.name, &r);
    double now = util_monotonic();
    if (err == KUBE_ERR_NOT_FOUND) {
        kube_result_clear(&r);
        /* A holder we saw may lead until its deadline although its Lease is gone: count
         * the deletion as the change we observed (see leader.h). */
        const char *holder = l->observed.holder ? l->observed.holder : "";
        if (!leading && *holder && strcmp(holder, l->opts.identity) != 0) {
            if (!l->observed_absent) {
                l->observed_absent = true;
                l->observed_time = now;
                log_info("leader election: the Lease was deleted, waiting a lease duration "
                         "before recreating it",
                         "lease", l->key, "holder", holder, NULL);
            }
            if (now < l->observed_time + (double)l->observed.duration)
                return ATTEMPT_HELD;
        }
        return write_lease(l, NULL, NULL, 0);
    }
    if (err != KUBE_OK || observe(l, &r, now) != 0) {
        if (err == KUBE_OK)
            kube_result_set_error(&r, KUBE_ERR_DECODE, NULL, "the Lease is not a JSON object");
        log_failure(l, "leader election: cannot read the Lease", &r);
        kube_result_clear(&r);
        return ATTEMPT_FAILED;
    }
    kube_result_clear(&r);

    const lease_record_t *rec = &l->observed;
    bool ours = strcmp(rec->holder, l->opts.identity) == 0;
    if (leading && !ours)
        return ATTEMPT_LOST;
    if (*rec->holder && !ours && now < l->observed_time + (double)rec->duration) {
        l->failing = false; /* the API answers: no error streak */
        log_v(4, "leader election: the Lease is held and has not expired", "lease", l->key,
              "holder", rec->holder, NULL);
        return ATTEMPT_HELD;
    }
    /* ours already (keep when it was acquired), free or expired (a new transition) */
    return write_lease(l, l->lease, ours ? rec->acquire_time : NULL,
                       ours ? rec->transitions : rec->transitions + 1);
}

/* client-go's maybeReportTransition. */
static void report_new_leader(leader_t *l)
{
    const char *holder = l->observed.holder;
    if (!holder || strcmp(holder, l->reported_leader) == 0)
        return;
    char *copy = util_strdup(holder);
    if (!copy)
        return;
    free(l->reported_leader);
    l->reported_leader = copy;
    if (*holder && strcmp(holder, l->opts.identity) != 0)
        log_info("leader election: new leader", "lease", l->key, "leader", holder, NULL);
    if (l->cb.on_new_leader)
        l->cb.on_new_leader(holder, l->cb.data);
}

/* client-go's release: holderIdentity "" and leaseDurationSeconds 1, so that a candidate
 * takes the Lease at its next try (or, with a watch, at once). */
static void release(leader_t *l)
{
    if (!l->lease || strcmp(l->observed.holder, l->opts.identity) != 0)
        return;
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    char now[32];
    lease_format_microtime(&wall, now);
    lease_spec_t spec = {
        .holder = "",
        .duration = 1,
        .acquire_time = now,
        .renew_time = now,
        .transitions = l->observed.transitions,
    };
    json_object *obj = lease_build(l->lease, l->opts.namespace, l->opts.name, &spec);
    if (!obj) {
        log_error("leader election: out of memory releasing the Lease", "lease", l->key, NULL);
        return;
    }
    kube_result_t r = KUBE_RESULT_INIT;
    if (kube_update(l->client, &leases, l->opts.namespace, obj, NULL, &r) == KUBE_OK) {
        log_info("leader election: released the Lease", "lease", l->key, NULL);
        observe(l, &r, util_monotonic());
    } else {
        char msg[512];
        log_error("leader election: cannot release the Lease", "lease", l->key, "error",
                  kube_error_str(&r, msg, sizeof(msg)), NULL);
    }
    kube_result_clear(&r);
    json_object_put(obj);
}

/* ---- the watch -------------------------------------------------------------------- */

static void wake(leader_t *l)
{
    pthread_mutex_lock(&l->lock);
    l->woken = true;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
}

static int on_watch_event(const kube_watch_event_t *event, void *data)
{
    leader_t *l = data;
    bool free_now = event->type == KUBE_WATCH_DELETED;
    if (event->type == KUBE_WATCH_ADDED || event->type == KUBE_WATCH_MODIFIED) {
        lease_record_t rec = {0};
        if (lease_record_parse(event->object, 1, &rec) == 0)
            free_now = !*rec.holder;
        lease_record_clear(&rec);
    }
    if (free_now && !atomic_load(&l->leading))
        wake(l);
    return 0;
}

/* Sleeps up to seconds, returning early (true) when the watch is to stop. */
static bool watch_pause(leader_t *l, double seconds)
{
    double until = util_monotonic() + seconds;
    struct timespec ts;
    deadline_timespec(until, &ts);
    pthread_mutex_lock(&l->lock);
    while (!atomic_load(&l->watch_stop) && util_monotonic() < until) {
        if (pthread_cond_timedwait(&l->cond, &l->lock, &ts) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&l->lock);
    return atomic_load(&l->watch_stop);
}

/* Watches the one Lease from "now" (its current state arrives as ADDED), again and again
 * until told to stop; errors wait an exponential backoff. Events only wake the
 * campaign: the election thread reads the Lease itself. */
static void *watch_main(void *arg)
{
    leader_t *l = arg;
    backoff_t backoff;
    backoff_init(&backoff, l->opts.retry_period / 2, l->opts.lease_duration, 2, 0.5);
    kube_watch_options_t wopts = {.field_selector = l->field_selector, .timeout_seconds = 300};
    while (!atomic_load(&l->watch_stop)) {
        kube_result_t r = KUBE_RESULT_INIT;
        kube_err_t err = kube_watch(l->client, &leases, l->opts.namespace, &wopts, on_watch_event,
                                    l, &l->watch_stop, &r);
        if (err != KUBE_OK) {
            char msg[512];
            log_v(4, "leader election: watch of the Lease failed", "lease", l->key, "error",
                  kube_error_str(&r, msg, sizeof(msg)), NULL);
        } else {
            backoff_reset(&backoff);
        }
        kube_result_clear(&r);
        if (watch_pause(l, err == KUBE_OK ? 0.1 : backoff_next(&backoff)))
            break;
    }
    return NULL;
}

/* ---- the election thread ---------------------------------------------------------- */

typedef enum { LEAD_STOPPED, LEAD_LOST } lead_end_t;

/* client-go's acquire: true once we hold the Lease, false when stopping. */
static bool campaign(leader_t *l)
{
    log_info("leader election: attempting to acquire the Lease", "lease", l->key, "identity",
             l->opts.identity, NULL);
    for (;;) {
        pthread_mutex_lock(&l->lock);
        bool stop_now = l->stopping;
        l->woken = false;
        pthread_mutex_unlock(&l->lock);
        if (stop_now)
            return false;
        attempt_t a = try_acquire_or_renew(l);
        report_new_leader(l);
        if (a == ATTEMPT_OK)
            return true;
        double jitter = l->opts.jitter * ((double)rand_r(&l->seed) / ((double)RAND_MAX + 1.0));
        if (wait_until(l, util_monotonic() + l->opts.retry_period * (1 + jitter), true))
            return false;
    }
}

/* client-go's renew: a renewal every retry period, each started only if it can end before
 * the deadline; at the deadline, or when another holder shows up, leadership is lost. */
static lead_end_t lead(leader_t *l)
{
    double next = util_monotonic() + l->opts.retry_period;
    for (;;) {
        double deadline = valid_until(l);
        double latest_start = deadline - l->opts.request_timeout;
        if (wait_until(l, next <= latest_start ? next : deadline, true))
            return LEAD_STOPPED;
        double now = util_monotonic();
        if (now >= deadline) {
            log_warn("leader election: lost the Lease, not renewed within the renew deadline",
                     "lease", l->key, NULL);
            return LEAD_LOST;
        }
        if (now > latest_start)
            continue;
        next = now + l->opts.retry_period;
        attempt_t a = try_acquire_or_renew(l);
        report_new_leader(l);
        if (a == ATTEMPT_LOST) {
            log_warn("leader election: lost the Lease to another holder", "lease", l->key, "holder",
                     l->observed.holder, NULL);
            return LEAD_LOST;
        }
    }
}

static void *election_main(void *arg)
{
    leader_t *l = arg;
    pthread_t watcher;
    bool watching = l->opts.watch && pthread_create(&watcher, NULL, watch_main, l) == 0;
    if (l->opts.watch && !watching)
        log_warn("leader election: cannot start the watch of the Lease, polling only", "lease",
                 l->key, NULL);
    for (;;) {
        if (!campaign(l))
            break;
        /* leader_stop may have come while the Lease was being taken: then lead not at all */
        pthread_mutex_lock(&l->lock);
        bool stop_now = l->stopping;
        bool abandon = l->no_release;
        if (!stop_now)
            atomic_store(&l->leading, true);
        pthread_mutex_unlock(&l->lock);
        if (stop_now) {
            if (!abandon && l->opts.release_on_stop)
                release(l);
            break;
        }
        log_info("leader election: acquired the Lease", "lease", l->key, "identity",
                 l->opts.identity, NULL);
        if (l->cb.on_started_leading)
            l->cb.on_started_leading(l->cb.data);
        lead_end_t end = lead(l);
        atomic_store(&l->leading, false);
        pthread_mutex_lock(&l->lock);
        abandon = l->no_release;
        pthread_mutex_unlock(&l->lock);
        if (abandon)
            break;
        if (l->cb.on_stopped_leading)
            l->cb.on_stopped_leading(l->cb.data);
        if (end == LEAD_STOPPED) {
            if (l->opts.release_on_stop)
                release(l);
            break;
        }
        if (!l->opts.rejoin_after_loss)
            break;
    }
    if (watching) {
        pthread_mutex_lock(&l->lock);
        atomic_store(&l->watch_stop, true);
        pthread_cond_broadcast(&l->cond);
        pthread_mutex_unlock(&l->lock);
        pthread_join(watcher, NULL);
    }
    pthread_mutex_lock(&l->lock);
    l->finished = true;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

int leader_start(leader_t *l)
{
    pthread_mutex_lock(&l->lock);
    int rc = -1;
    if (!l->started && pthread_create(&l->thread, NULL, election_main, l) == 0) {
        l->started = true;
        rc = 0;
    }
    pthread_mutex_unlock(&l->lock);
    return rc;
}

static void stop(leader_t *l, bool abandon)
{
    pthread_mutex_lock(&l->lock);
    l->stopping = true;
    if (abandon) {
        l->no_release = true;
        /* a killed process leads no more, whatever its thread is doing */
        atomic_store(&l->leading, false);
    }
    pthread_cond_broadcast(&l->cond);
    bool join = l->started && !l->joined;
    l->joined = true;
    pthread_mutex_unlock(&l->lock);
    if (join)
        pthread_join(l->thread, NULL);
}

void leader_stop(leader_t *l)
{
    stop(l, false);
}

void leader_abandon(leader_t *l)
{
    stop(l, true);
}

bool leader_wait(leader_t *l, double timeout)
{
    double until = util_monotonic() + timeout;
    struct timespec ts;
    deadline_timespec(until, &ts);
    pthread_mutex_lock(&l->lock);
    while (l->started && !l->finished && util_monotonic() < until) {
        if (pthread_cond_timedwait(&l->cond, &l->lock, &ts) == ETIMEDOUT)
            break;
    }
    bool finished = l->started && l->finished;
    pthread_mutex_unlock(&l->lock);
    return finished;
}

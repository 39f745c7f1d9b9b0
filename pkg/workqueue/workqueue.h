/*
 * workqueue: client-go's rate-limited work queue, in C.
 *
 * Event handlers add string keys ("namespace/name"); reconcile workers take them
 * with wq_get, work, and call wq_done. The queue guarantees:
 *   - de-duplication: a key added while it is queued is queued once;
 *   - a key added while a worker holds it is marked dirty and queued again when
 *     that worker calls wq_done, so the last add is always seen by a reconcile;
 *   - a key is never held by two workers at once;
 *   - FIFO order among ready keys.
 *
 * Delays (wq_add_after, wq_add_rate_limited) go to a min-heap of deadlines that one
 * timer thread, started by wq_new, sleeps on with a timed condition wait
 * (CLOCK_MONOTONIC); when a deadline passes the key is added as by wq_add. While a
 * key waits, an add_after with an earlier deadline moves it forward and one with a
 * later deadline is dropped (client-go's delaying queue). A key that waits may also
 * be added directly; the delayed add then arrives later and is de-duplicated or
 * re-processed like any other add.
 *
 * Rate limiting is client-go's DefaultControllerRateLimiter: the delay of
 * wq_add_rate_limited is the larger of a per-key exponential backoff
 * (base_delay * 2^failures, capped at max_delay; failures counts the key's
 * rate-limited adds since its last wq_forget) and a global token bucket (qps, burst)
 * from which every rate-limited add reserves one token. Keys keep their failure
 * count until wq_forget, so a worker calls wq_forget when a key succeeds.
 *
 * Typical worker:
 *     char *key;
 *     while (wq_get(wq, &key)) {
 *         if (reconcile(key) == 0)
 *             wq_forget(wq, key);
 *         else
 *             wq_add_rate_limited(wq, key);
 *         wq_done(wq, key);
 *         free(key);
 *     }
 *
 * Ownership: wq_new returns a queue the caller frees with wq_free (NULL is fine).
 * Keys passed in are copied; the key wq_get hands out is a malloc'd copy the caller
 * frees (after wq_done, or before: wq_done only reads it).
 * Thread-safety: every function except wq_free may be called from any thread at any
 * time; one mutex guards the queue. wq_free must be the last call, after every
 * thread using the queue has returned from it.
 * Errors: functions that add return 0 on success, also when the add is absorbed
 * (already queued, or the queue is shut down), and -1 when out of memory, in which
 * case the queue is unchanged. wq_new returns NULL on bad options or when memory or
 * the timer thread cannot be had.
 */
#ifndef S2I_WORKQUEUE_H
#define S2I_WORKQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wq wq_t;

/* What an observation measures, for wq_observe_fn. */
typedef enum {
    WQ_METRIC_QUEUE_SECONDS, /* from the add that made a key ready to the wq_get that took it */
    WQ_METRIC_WORK_SECONDS,  /* from wq_get to wq_done */
} wq_metric_t;

/* Called once per observation, on the thread calling wq_get or wq_done, without the
 * queue's lock held, so it may take its own locks (a histogram's); it must not block
 * for long, as it delays that worker. */
typedef void (*wq_observe_fn)(void *data, wq_metric_t metric, double seconds);

/* Zero-initialised fields take client-go's defaults; NULL options mean all defaults. */
typedef struct wq_options {
    double base_delay; /* per-key backoff after the first failure, seconds; 0: 0.005 */
    double max_delay;  /* per-key backoff cap, seconds; 0: 1000 */
    double qps;        /* global token bucket refill, tokens per second; 0: 10; < 0: no bucket */
    int burst;         /* global token bucket size; 0: 100 */
    wq_observe_fn observe; /* optional, see wq_observe_fn */
    void *observe_data;
} wq_options_t;

/* Counters since wq_new, read together under the lock by wq_stats. Sums with their
 * counts give means; for distributions use wq_options_t.observe. */
typedef struct wq_stats {
    size_t depth;             /* keys ready and waiting for a worker (wq_len) */
    size_t in_flight;         /* keys handed out by wq_get and not yet done */
    size_t waiting;           /* keys waiting for a deadline (add_after, add_rate_limited) */
    uint64_t adds_total;      /* adds that made a key ready or dirty; absorbed adds not counted */
    uint64_t retries_total;   /* wq_add_after and wq_add_rate_limited calls, as client-go's
                                 retries metric */
    uint64_t gets_total;      /* keys handed out by wq_get */
    double queue_seconds_sum; /* summed WQ_METRIC_QUEUE_SECONDS over gets_total */
    uint64_t done_total;      /* wq_done calls for held keys */
    double work_seconds_sum;  /* summed WQ_METRIC_WORK_SECONDS over done_total */
} wq_stats_t;

/* A new queue, with its timer thread running. NULL when opts has a negative delay or
 * burst, or a max_delay below base_delay, or out of memory or threads. */
wq_t *wq_new(const wq_options_t *opts);
/* Shuts down (as wq_shutdown), stops the timer thread and frees everything. */
void wq_free(wq_t *wq);

/* Makes key ready now. Ignored after shutdown. 0, or -1 out of memory. */
int wq_add(wq_t *wq, const char *key);
/* Adds key once delay seconds have passed; a delay <= 0 adds now. If key already waits,
 * the earlier deadline wins: a waiting key moves forward to this call's deadline, or
 * this call is dropped if the key is due sooner anyway.
 * Ignored after shutdown. 0, or -1 out of memory. */
int wq_add_after(wq_t *wq, const char *key, double delay);
/* Adds key after the rate limiters' delay (see the top of this file) and counts one
 * more failure for it. Ignored after shutdown. 0, or -1 out of memory. */
int wq_add_rate_limited(wq_t *wq, const char *key);
/* Resets key's failure count, so its next rate-limited add waits base_delay again.
 * Does not remove key from the queue or from the delay heap. */
void wq_forget(wq_t *wq, const char *key);
/* How many rate-limited adds key has had since its last wq_forget. */
unsigned int wq_num_requeues(wq_t *wq, const char *key);

/* Blocks until a key is ready, marks it held and stores a malloc'd copy in *key_out
 * (caller frees); returns true. Returns false, with *key_out = NULL, once the queue is
 * shut down, even if keys are still queued: after shutdown no new work starts (client-go
 * hands out what is queued first; here level-triggered reconciles resume after restart).
 * If the copy cannot be allocated it logs, pauses and tries again rather than
 * failing the worker. */
bool wq_get(wq_t *wq, char **key_out);
/* Releases a key held since wq_get; if it was added meanwhile it becomes ready again.
 * A key that is not held is logged and ignored. */
void wq_done(wq_t *wq, const char *key);

/* Number of ready keys (not counting held or waiting keys), as client-go's Len. */
size_t wq_len(wq_t *wq);
void wq_stats(wq_t *wq, wq_stats_t *out);

/* Stops the queue: later adds are ignored, delayed keys are dropped, and every wq_get,
 * blocked or future, returns false. Held keys may still be done. Idempotent. */
void wq_shutdown(wq_t *wq);
/* wq_shutdown, then waits until every held key has been passed to wq_done. Must not
 * be called by a thread that holds a key: it would wait for itself. */
void wq_shutdown_drain(wq_t *wq);
/* Whether wq_shutdown has been called, for loops that do not block in wq_get. */
bool wq_shutting_down(wq_t *wq);

#endif

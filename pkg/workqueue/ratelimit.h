/*
 * workqueue/ratelimit: the two delay calculations behind wq_add_rate_limited, as pure
 * functions of an explicit clock so they can be tested without sleeping.
 *
 * Internal to the workqueue module (and its unit tests); callers use workqueue.h.
 * Not thread-safe: the queue calls these under its lock.
 */
#ifndef S2I_WORKQUEUE_RATELIMIT_H
#define S2I_WORKQUEUE_RATELIMIT_H

/* client-go's ItemExponentialFailureRateLimiter: base * 2^failures, capped at max,
 * where failures counts the earlier failures (0 for the first: delay = base). */
double wq_backoff_delay(double base, double max, unsigned int failures);

/* golang.org/x/time/rate's token bucket as client-go's BucketRateLimiter uses it: a
 * reservation always succeeds, taking the bucket into debt, and returns how long the
 * caller must wait for its token. */
typedef struct wq_bucket {
    double qps; /* <= 0: unlimited, every reservation waits 0 */
    double burst;
    double tokens;
    double last; /* clock of the last refill, seconds */
} wq_bucket_t;

/* A full bucket at clock now. */
void wq_bucket_init(wq_bucket_t *b, double qps, int burst, double now);
/* Takes one token at clock now; returns the wait in seconds (0 while within burst). */
double wq_bucket_reserve(wq_bucket_t *b, double now);

#endif

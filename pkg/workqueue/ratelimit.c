/*
 * workqueue/ratelimit: per-key exponential backoff and the global token bucket.
 */
#include "ratelimit.h"

double wq_backoff_delay(double base, double max, unsigned int failures)
{
    if (base <= 0)
        return 0;
    /* Doubling stops at max, so the loop is short whatever failures is, and the
     * result never overflows. */
    double delay = base;
    for (unsigned int i = 0; i < failures && delay < max; i++)
        delay *= 2;
    return delay < max ? delay : max;
}

void wq_bucket_init(wq_bucket_t *b, double qps, int burst, double now)
{
    b->qps = qps;
    b->burst = burst;
    b->tokens = burst;
    b->last = now;
}

double wq_bucket_reserve(wq_bucket_t *b, double now)
{
    if (b->qps <= 0)
        return 0;
    /* Callers read the clock before taking the queue's lock, so now may be a hair
     * older than last; such a reservation just refills nothing. */
    if (now > b->last) {
        b->tokens += (now - b->last) * b->qps;
        if (b->tokens > b->burst)
            b->tokens = b->burst;
        b->last = now;
    }
    b->tokens -= 1;
    return b->tokens >= 0 ? 0 : -b->tokens / b->qps;
}

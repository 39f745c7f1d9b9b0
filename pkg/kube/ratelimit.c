/*
 * kube/ratelimit: the client-side QPS/burst limiter (client-go's flowcontrol token
 * bucket). A request reserves a token and learns how long to wait for it; the wait
 * happens outside the lock, so concurrent callers queue up in reservation order instead
 * of spinning. Time is passed in, which keeps the arithmetic testable.
 */
#include "kube/kube.h"

void kube_token_bucket_init(kube_token_bucket_t *tb, double qps, int burst)
{
    pthread_mutex_init(&tb->lock, NULL);
    tb->qps = qps;
    tb->burst = burst < 1 ? 1 : burst;
    tb->tokens = tb->burst;
    tb->last = util_monotonic();
}

void kube_token_bucket_destroy(kube_token_bucket_t *tb)
{
    pthread_mutex_destroy(&tb->lock);
}

double kube_token_bucket_reserve(kube_token_bucket_t *tb, double now)
{
    if (tb->qps <= 0)
        return 0;
    pthread_mutex_lock(&tb->lock);
    if (now > tb->last) {
        tb->tokens += (now - tb->last) * tb->qps;
        if (tb->tokens > tb->burst)
            tb->tokens = tb->burst;
        tb->last = now;
    }
    /* Tokens may go negative: the debt is what later callers wait for. */
    tb->tokens -= 1;
    double wait = tb->tokens < 0 ? -tb->tokens / tb->qps : 0;
    pthread_mutex_unlock(&tb->lock);
    return wait;
}

/*
 * backoff: exponential delays with random jitter, as client-go's wait.Backoff,
 * so that many clients retrying the same server do not retry in lockstep.
 */
#include "util.h"

#include <stdlib.h>

void backoff_init(backoff_t *b, double initial, double max, double factor, double jitter)
{
    b->initial = initial;
    b->max = max;
    b->factor = factor;
    b->jitter = jitter;
    b->current = 0;
    b->seed = (unsigned int)((uintptr_t)b ^ (uintptr_t)(util_monotonic() * 1e6));
}

double backoff_next(backoff_t *b)
{
    if (b->current <= 0)
        b->current = b->initial;
    else
        b->current *= b->factor;
    if (b->current > b->max)
        b->current = b->max;
    double d = b->current;
    if (b->jitter > 0)
        d += d * b->jitter * ((double)rand_r(&b->seed) / (double)RAND_MAX);
    return d;
}

void backoff_reset(backoff_t *b)
{
    b->current = 0;
}

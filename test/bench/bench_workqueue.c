/*
 * bench_workqueue: throughput of the work queue's hot paths.
 *
 * For 1 and 4 threads: the threads add KEYS distinct keys (each adds its own share),
 * then the threads take and finish every key. Prints adds/s and get+done/s.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/util.h"
#include "workqueue/workqueue.h"

#define KEYS 1000000

typedef struct run {
    wq_t *wq;
    char **keys;
    int threads;
    atomic_int next_id;
    atomic_long remaining; /* gets still to do */
} run_t;

static void *adder(void *arg)
{
    run_t *r = arg;
    int id = atomic_fetch_add(&r->next_id, 1);
    for (int i = id; i < KEYS; i += r->threads) {
        if (wq_add(r->wq, r->keys[i]) != 0) {
            fprintf(stderr, "wq_add: out of memory\n");
            exit(1);
        }
    }
    return NULL;
}

static void *worker(void *arg)
{
    run_t *r = arg;
    char *key;
    /* Every key is queued before the workers start, so claiming a slot first
     * means wq_get never blocks on an empty queue. */
    while (atomic_fetch_sub(&r->remaining, 1) > 0 && wq_get(r->wq, &key)) {
        wq_done(r->wq, key);
        free(key);
    }
    return NULL;
}

static double run_threads(run_t *r, void *(*fn)(void *))
{
    pthread_t threads[16];
    atomic_store(&r->next_id, 0);
    double start = util_monotonic();
    for (int i = 0; i < r->threads; i++) {
        if (pthread_create(&threads[i], NULL, fn, r) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            exit(1);
        }
    }
    for (int i = 0; i < r->threads; i++)
        pthread_join(threads[i], NULL);
    return util_monotonic() - start;
}

static void bench(char **keys, int threads)
{
    run_t r = {.keys = keys, .threads = threads, .wq = wq_new(NULL)};
    if (!r.wq) {
        fprintf(stderr, "wq_new failed\n");
        exit(1);
    }
    double add_seconds = run_threads(&r, adder);
    if (wq_len(r.wq) != KEYS) {
        fprintf(stderr, "expected %d queued keys, have %zu\n", KEYS, wq_len(r.wq));
        exit(1);
    }
    atomic_store(&r.remaining, KEYS);
    double get_seconds = run_threads(&r, worker);
    printf("%d thread%s:\n", threads, threads == 1 ? "" : "s");
    printf("  workqueue adds/s: %.0f\n", KEYS / add_seconds);
    printf("  get+done/s: %.0f\n", KEYS / get_seconds);
    wq_free(r.wq);
}

int main(void)
{
    char **keys = malloc(KEYS * sizeof *keys);
    if (!keys)
        return 1;
    for (int i = 0; i < KEYS; i++) {
        keys[i] = util_asprintf("namespace-%d/object-%d", i % 100, i);
        if (!keys[i])
            return 1;
    }
    bench(keys, 1);
    bench(keys, 4);
    for (int i = 0; i < KEYS; i++)
        free(keys[i]);
    free(keys);
    return 0;
}

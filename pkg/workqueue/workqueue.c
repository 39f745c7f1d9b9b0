/*
 * workqueue: the de-duplicating, delaying, rate-limited queue of workqueue.h.
 *
 * Every key the queue knows has one item_t in a strmap, alive while the key is
 * dirty (added and not yet handed out), held by a worker, waiting in the delay heap,
 * or has failures to remember. A dirty key that no worker holds sits in the ready
 * ring; that is client-go's queue/dirty/processing trio folded into flags on one
 * record, so each operation is one hash lookup.
 *
 * The ring and the heap hold at most one slot per item and share a capacity that
 * grows when an item is created, so only item creation allocates and moving an item
 * between them (wq_done, the timer) cannot fail. The capacity halves again when items
 * are released and fill a quarter of it, so a burst of keys leaves no large arrays.
 */
#include "workqueue.h"

#include "ratelimit.h"
#include "util/util.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOT_WAITING      SIZE_MAX
#define INITIAL_CAPACITY 16

typedef struct item {
    double queued_at;  /* when it last became dirty */
    double started_at; /* when a worker took it */
    double ready_at;   /* its deadline while in the heap */
    size_t heap_index; /* NOT_WAITING when not in the heap */
    unsigned int failures;
    bool dirty;
    bool processing;
    char key[];
} item_t;

struct wq {
    pthread_mutex_t lock;
    pthread_cond_t ready_cond; /* wq_get waiters: a key became ready, or shutdown */
    pthread_cond_t timer_cond; /* the timer thread: a new earliest deadline, or shutdown */
    pthread_cond_t drain_cond; /* wq_shutdown_drain: in_flight fell to zero */
    pthread_t timer;

    strmap_t *items; /* key -> item_t, owning */
    size_t capacity; /* of ring and heap, >= strmap_len(items) */
    item_t **ring;   /* ready keys, FIFO */
    size_t ring_head;
    size_t ring_len;
    item_t **heap; /* waiting keys, min-heap on ready_at */
    size_t heap_len;
    size_t in_flight;
    bool shutting_down;

    double base_delay;
    double max_delay;
    wq_bucket_t bucket;
    wq_observe_fn observe; /* set once by wq_new, read without the lock */
    void *observe_data;

    uint64_t adds_total;
    uint64_t retries_total;
    uint64_t gets_total;
    double queue_seconds_sum;
    uint64_t done_total;
    double work_seconds_sum;
};

/* ---- ring and heap ------------------------------------------------------ */

/* Moves ring and heap to arrays of the given capacity (>= the items). -1 when out of
 * memory: they stay as they were. */
static int set_capacity(wq_t *wq, size_t capacity)
{
    item_t **ring = malloc(capacity * sizeof *ring);
    if (!ring)
        return -1;
    item_t **heap = realloc(wq->heap, capacity * sizeof *heap);
    if (!heap) {
        free(ring);
        return -1;
    }
    wq->heap = heap;
    for (size_t i = 0; i < wq->ring_len; i++)
        ring[i] = wq->ring[(wq->ring_head + i) % wq->capacity];
    free(wq->ring);
    wq->ring = ring;
    wq->ring_head = 0;
    wq->capacity = capacity;
    return 0;
}

static int grow_capacity(wq_t *wq)
{
    return set_capacity(wq, wq->capacity * 2);
}

/* Halves ring and heap once the items take a quarter of them (after a burst), keeping
 * capacity >= items; when out of memory they just stay larger. */
static void shrink_capacity(wq_t *wq)
{
    if (wq->capacity <= INITIAL_CAPACITY || strmap_len(wq->items) * 4 > wq->capacity)
        return;
    (void)set_capacity(wq, wq->capacity / 2);
}

static void ring_push(wq_t *wq, item_t *it)
{
    wq->ring[(wq->ring_head + wq->ring_len) % wq->capacity] = it;
    wq->ring_len++;
}

static item_t *ring_pop(wq_t *wq)
{
    item_t *it = wq->ring[wq->ring_head];
    wq->ring_head = (wq->ring_head + 1) % wq->capacity;
    wq->ring_len--;
    return it;
}

static void heap_place(wq_t *wq, size_t i, item_t *it)
{
    wq->heap[i] = it;
    it->heap_index = i;
}

static void heap_sift_up(wq_t *wq, size_t i)
{
    item_t *it = wq->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (wq->heap[parent]->ready_at <= it->ready_at)
            break;
        heap_place(wq, i, wq->heap[parent]);
        i = parent;
    }
    heap_place(wq, i, it);
}

static void heap_sift_down(wq_t *wq, size_t i)
{
    item_t *it = wq->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= wq->heap_len)
            break;
        if (child + 1 < wq->heap_len && wq->heap[child + 1]->ready_at < wq->heap[child]->ready_at)
            child++;
        if (it->ready_at <= wq->heap[child]->ready_at)
            break;
        heap_place(wq, i, wq->heap[child]);
        i = child;
    }
    heap_place(wq, i, it);
}

static item_t *heap_pop(wq_t *wq)
{
    item_t *top = wq->heap[0];
    top->heap_index = NOT_WAITING;
    wq->heap_len--;
    if (wq->heap_len > 0) {
        heap_place(wq, 0, wq->heap[wq->heap_len]);
        heap_sift_down(wq, 0);
    }
    return top;
}

/* ---- items -------------------------------------------------------------- */

static item_t *item_get_or_create(wq_t *wq, const char *key)
{
    item_t *it = strmap_get(wq->items, key);
    if (it)
        return it;
    if (strmap_len(wq->items) >= wq->capacity && grow_capacity(wq) < 0)
        return NULL;
    size_t len = strlen(key);
    it = malloc(sizeof *it + len + 1);
    if (!it)
        return NULL;
    memset(it, 0, sizeof *it);
    it->heap_index = NOT_WAITING;
    memcpy(it->key, key, len + 1);
    if (strmap_set(wq->items, key, it) < 0) {
        free(it);
        return NULL;
    }
    return it;
}

static void item_release_if_unused(wq_t *wq, item_t *it)
{
    if (it->dirty || it->processing || it->heap_index != NOT_WAITING || it->failures > 0)
        return;
    strmap_take(wq->items, it->key);
    free(it);
    shrink_capacity(wq);
}

/* client-go's Add: mark dirty, and queue unless a worker holds the key (wq_done
 * queues it then). */
static void enqueue_locked(wq_t *wq, item_t *it, double now)
{
    if (it->dirty)
        return;
    it->dirty = true;
    it->queued_at = now;
    wq->adds_total++;
    if (it->processing)
        return;
    ring_push(wq, it);
    pthread_cond_signal(&wq->ready_cond);
}

static void enqueue_after_locked(wq_t *wq, item_t *it, double delay, double now)
{
    wq->retries_total++;
    if (!(delay > 0)) {
        enqueue_locked(wq, it, now);
        return;
    }
    double ready_at = now + delay;
    if (it->heap_index != NOT_WAITING) {
        if (ready_at >= it->ready_at)
            return;
        it->ready_at = ready_at;
        heap_sift_up(wq, it->heap_index);
    } else {
        it->ready_at = ready_at;
        heap_place(wq, wq->heap_len++, it);
        heap_sift_up(wq, it->heap_index);
    }
    if (it->heap_index == 0)
        pthread_cond_signal(&wq->timer_cond);
}

/* ---- timer thread ------------------------------------------------------- */

static struct timespec monotonic_deadline(double at)
{
    struct timespec ts;
    ts.tv_sec = (time_t)at;
    ts.tv_nsec = (long)((at - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L)
        ts.tv_nsec = 999999999L;
    return ts;
}

static void *timer_main(void *arg)
{
    wq_t *wq = arg;
    pthread_mutex_lock(&wq->lock);
    while (!wq->shutting_down) {
        double now = util_monotonic();
        while (wq->heap_len > 0 && wq->heap[0]->ready_at <= now)
            enqueue_locked(wq, heap_pop(wq), now);
        if (wq->heap_len == 0) {
            pthread_cond_wait(&wq->timer_cond, &wq->lock);
        } else {
            struct timespec deadline = monotonic_deadline(wq->heap[0]->ready_at);
            pthread_cond_timedwait(&wq->timer_cond, &wq->lock, &deadline);
        }
    }
    pthread_mutex_unlock(&wq->lock);
    return NULL;
}

/* ---- lifecycle ---------------------------------------------------------- */

static int init_sync(wq_t *wq)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        return -1;
    /* Deadlines come from util_monotonic, so the timer waits on the same clock and a
     * wall-clock step cannot stall or rush delayed keys. */
    int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(&wq->timer_cond, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0)
        return -1;
    if (pthread_cond_init(&wq->ready_cond, NULL) != 0)
        goto no_ready;
    if (pthread_cond_init(&wq->drain_cond, NULL) != 0)
        goto no_drain;
    if (pthread_mutex_init(&wq->lock, NULL) != 0)
        goto no_lock;
    return 0;
no_lock:
    pthread_cond_destroy(&wq->drain_cond);
no_drain:
    pthread_cond_destroy(&wq->ready_cond);
no_ready:
    pthread_cond_destroy(&wq->timer_cond);
    return -1;
}

static void destroy_sync(wq_t *wq)
{
    pthread_mutex_destroy(&wq->lock);
    pthread_cond_destroy(&wq->drain_cond);
    pthread_cond_destroy(&wq->ready_cond);
    pthread_cond_destroy(&wq->timer_cond);
}

static void free_storage(wq_t *wq)
{
    strmap_free(wq->items);
    free(wq->ring);
    free(wq->heap);
    free(wq);
}

wq_t *wq_new(const wq_options_t *opts)
{
    wq_options_t o = opts ? *opts : (wq_options_t){0};
    if (o.base_delay == 0)
        o.base_delay = 0.005;
    if (o.max_delay == 0)
        o.max_delay = 1000;
    if (o.qps == 0)
        o.qps = 10;
    if (o.burst == 0)
        o.burst = 100;
    if (!(o.base_delay > 0) || !(o.max_delay >= o.base_delay) || o.burst < 0)
        return NULL;

    wq_t *wq = calloc(1, sizeof *wq);
    if (!wq)
        return NULL;
    wq->items = strmap_new(free);
    wq->capacity = INITIAL_CAPACITY;
    wq->ring = malloc(wq->capacity * sizeof *wq->ring);
    wq->heap = malloc(wq->capacity * sizeof *wq->heap);
    if (!wq->items || !wq->ring || !wq->heap) {
        free_storage(wq);
        return NULL;
    }
    wq->base_delay = o.base_delay;
    wq->max_delay = o.max_delay;
    wq_bucket_init(&wq->bucket, o.qps, o.burst, util_monotonic());
    wq->observe = o.observe;
    wq->observe_data = o.observe_data;
    if (init_sync(wq) < 0) {
        free_storage(wq);
        return NULL;
    }
    if (pthread_create(&wq->timer, NULL, timer_main, wq) != 0) {
        destroy_sync(wq);
        free_storage(wq);
        return NULL;
    }
    return wq;
}

void wq_free(wq_t *wq)
{
    if (!wq)
        return;
    wq_shutdown(wq);
    pthread_join(wq->timer, NULL);
    destroy_sync(wq);
    free_storage(wq);
}

void wq_shutdown(wq_t *wq)
{
    pthread_mutex_lock(&wq->lock);
    if (!wq->shutting_down) {
        wq->shutting_down = true;
        pthread_cond_broadcast(&wq->ready_cond);
        pthread_cond_signal(&wq->timer_cond);
    }
    pthread_mutex_unlock(&wq->lock);
}

void wq_shutdown_drain(wq_t *wq)
{
    wq_shutdown(wq);
    pthread_mutex_lock(&wq->lock);
    while (wq->in_flight > 0)
        pthread_cond_wait(&wq->drain_cond, &wq->lock);
    pthread_mutex_unlock(&wq->lock);
}

bool wq_shutting_down(wq_t *wq)
{
    pthread_mutex_lock(&wq->lock);
    bool shutting_down = wq->shutting_down;
    pthread_mutex_unlock(&wq->lock);
    return shutting_down;
}

/* ---- adding ------------------------------------------------------------- */

int wq_add(wq_t *wq, const char *key)
{
    double now = util_monotonic();
    int rc = 0;
    pthread_mutex_lock(&wq->lock);
    if (!wq->shutting_down) {
        item_t *it = item_get_or_create(wq, key);
        if (it)
            enqueue_locked(wq, it, now);
        else
            rc = -1;
    }
    pthread_mutex_unlock(&wq->lock);
    return rc;
}

int wq_add_after(wq_t *wq, const char *key, double delay)
{
    double now = util_monotonic();
    int rc = 0;
    pthread_mutex_lock(&wq->lock);
    if (!wq->shutting_down) {
        item_t *it = item_get_or_create(wq, key);
        if (it)
            enqueue_after_locked(wq, it, delay, now);
        else
            rc = -1;
    }
    pthread_mutex_unlock(&wq->lock);
    return rc;
}

int wq_add_rate_limited(wq_t *wq, const char *key)
{
    double now = util_monotonic();
    int rc = 0;
    pthread_mutex_lock(&wq->lock);
    if (!wq->shutting_down) {
        item_t *it = item_get_or_create(wq, key);
        if (it) {
            double delay = wq_backoff_delay(wq->base_delay, wq->max_delay, it->failures);
            if (it->failures < UINT_MAX)
                it->failures++;
            double bucket_delay = wq_bucket_reserve(&wq->bucket, now);
            enqueue_after_locked(wq, it, delay > bucket_delay ? delay : bucket_delay, now);
        } else {
            rc = -1;
        }
    }
    pthread_mutex_unlock(&wq->lock);
    return rc;
}

void wq_forget(wq_t *wq, const char *key)
{
    pthread_mutex_lock(&wq->lock);
    item_t *it = strmap_get(wq->items, key);
    if (it) {
        it->failures = 0;
        item_release_if_unused(wq, it);
    }
    pthread_mutex_unlock(&wq->lock);
}

unsigned int wq_num_requeues(wq_t *wq, const char *key)
{
    pthread_mutex_lock(&wq->lock);
    const item_t *it = strmap_get(wq->items, key);
    unsigned int failures = it ? it->failures : 0;
    pthread_mutex_unlock(&wq->lock);
    return failures;
}

/* ---- working ------------------------------------------------------------ */

bool wq_get(wq_t *wq, char **key_out)
{
    *key_out = NULL;
    char *copy = NULL;
    pthread_mutex_lock(&wq->lock);
    for (;;) {
        while (wq->ring_len == 0 && !wq->shutting_down)
            pthread_cond_wait(&wq->ready_cond, &wq->lock);
        if (wq->shutting_down) {
            pthread_mutex_unlock(&wq->lock);
            return false;
        }
        copy = strdup(wq->ring[wq->ring_head]->key);
        if (copy)
            break;
        /* Failing would end the worker for good; out of memory is more likely to
         * pass, and the key stays queued meanwhile. */
        pthread_mutex_unlock(&wq->lock);
        log_error("workqueue: out of memory copying a key, retrying", NULL);
        util_sleep(0.1);
        pthread_mutex_lock(&wq->lock);
    }
    double now = util_monotonic();
    item_t *it = ring_pop(wq);
    it->dirty = false;
    it->processing = true;
    it->started_at = now;
    wq->in_flight++;
    double queued = now - it->queued_at;
    wq->gets_total++;
    wq->queue_seconds_sum += queued;
    pthread_mutex_unlock(&wq->lock);
    if (wq->observe)
        wq->observe(wq->observe_data, WQ_METRIC_QUEUE_SECONDS, queued);
    *key_out = copy;
    return true;
}

void wq_done(wq_t *wq, const char *key)
{
    double now = util_monotonic();
    pthread_mutex_lock(&wq->lock);
    item_t *it = strmap_get(wq->items, key);
    if (!it || !it->processing) {
        pthread_mutex_unlock(&wq->lock);
        log_warn("workqueue: done for a key no worker holds", "key", key, NULL);
        return;
    }
    it->processing = false;
    double worked = now - it->started_at;
    wq->done_total++;
    wq->work_seconds_sum += worked;
    if (it->dirty) {
        ring_push(wq, it);
        pthread_cond_signal(&wq->ready_cond);
    } else {
        item_release_if_unused(wq, it);
    }
    if (--wq->in_flight == 0)
        pthread_cond_broadcast(&wq->drain_cond);
    pthread_mutex_unlock(&wq->lock);
    if (wq->observe)
        wq->observe(wq->observe_data, WQ_METRIC_WORK_SECONDS, worked);
}

/* ---- reading ------------------------------------------------------------ */

size_t wq_len(wq_t *wq)
{
    pthread_mutex_lock(&wq->lock);
    size_t len = wq->ring_len;
    pthread_mutex_unlock(&wq->lock);
    return len;
}

void wq_stats(wq_t *wq, wq_stats_t *out)
{
    pthread_mutex_lock(&wq->lock);
    *out = (wq_stats_t){
        .depth = wq->ring_len,
        .in_flight = wq->in_flight,
        .waiting = wq->heap_len,
        .adds_total = wq->adds_total,
        .retries_total = wq->retries_total,
        .gets_total = wq->gets_total,
        .queue_seconds_sum = wq->queue_seconds_sum,
        .done_total = wq->done_total,
        .work_seconds_sum = wq->work_seconds_sum,
    };
    pthread_mutex_unlock(&wq->lock);
}

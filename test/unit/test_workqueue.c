/*
 * Unit tests for pkg/workqueue: de-duplication, dirty re-queue, exclusive processing
 * under concurrency, delays, rate limiting, shutdown, stats.
 *
 * Timing assertions only bound elapsed time from below (a delay must not end early)
 * or, where a bug would mean seconds to minutes, from above with a bound far beyond
 * the expected time, so a slow machine (valgrind) cannot make them fail.
 */
#include <check.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"
#include "workqueue/ratelimit.h"
#include "workqueue/workqueue.h"

/* Tolerance for clock granularity on lower bounds. */
#define EPSILON 0.002
/* Upper bound for events expected within milliseconds; a bug means far longer. */
#define PATIENCE 5.0

static wq_options_t no_bucket(double base_delay, double max_delay)
{
    return (wq_options_t){.base_delay = base_delay, .max_delay = max_delay, .qps = -1};
}

/* Takes the next key, which must be want, and marks it done. */
static void expect_get_done(wq_t *wq, const char *want)
{
    char *key;
    ck_assert(wq_get(wq, &key));
    ck_assert_str_eq(key, want);
    wq_done(wq, key);
    free(key);
}

/* Polls until wq_len reaches want; false after PATIENCE seconds. */
static bool wait_for_len(wq_t *wq, size_t want)
{
    double deadline = util_monotonic() + PATIENCE;
    while (wq_len(wq) < want) {
        if (util_monotonic() > deadline)
            return false;
        util_sleep(0.001);
    }
    return true;
}

static bool wait_for_flag(atomic_int *flag, int want)
{
    double deadline = util_monotonic() + PATIENCE;
    while (atomic_load(flag) != want) {
        if (util_monotonic() > deadline)
            return false;
        util_sleep(0.001);
    }
    return true;
}

/* ---- de-duplication and re-queue ---------------------------------------- */

START_TEST(test_add_deduplicates_queued_key_and_keeps_fifo_order)
{
    wq_t *wq = wq_new(NULL);
    ck_assert_ptr_nonnull(wq);
    ck_assert_int_eq(wq_add(wq, "ns/a"), 0);
    ck_assert_int_eq(wq_add(wq, "ns/b"), 0);
    ck_assert_int_eq(wq_add(wq, "ns/a"), 0);
    ck_assert_int_eq(wq_add(wq, "ns/c"), 0);
    ck_assert_int_eq(wq_add(wq, "ns/b"), 0);
    ck_assert_uint_eq(wq_len(wq), 3);
    expect_get_done(wq, "ns/a");
    expect_get_done(wq, "ns/b");
    expect_get_done(wq, "ns/c");
    ck_assert_uint_eq(wq_len(wq), 0);
    wq_stats_t stats;
    wq_stats(wq, &stats);
    ck_assert_uint_eq(stats.adds_total, 3);
    wq_free(wq);
}
END_TEST

START_TEST(test_queue_keeps_fifo_order_as_it_grows_and_shrinks)
{
    /* A burst grows ring and heap; as the keys are done they shrink again, with keys
     * still queued (which keep their order) and one waiting far ahead (which stays). */
    wq_t *wq = wq_new(&(wq_options_t){.qps = -1});
    char key[32];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 3000; i++) {
            snprintf(key, sizeof key, "ns/k%d", i);
            ck_assert_int_eq(wq_add(wq, key), 0);
        }
        ck_assert_int_eq(wq_add_after(wq, "ns/later", 3600), 0);
        for (int i = 0; i < 2990; i++) {
            snprintf(key, sizeof key, "ns/k%d", i);
            expect_get_done(wq, key);
        }
        ck_assert_int_eq(wq_add(wq, "ns/last"), 0);
        for (int i = 2990; i < 3000; i++) {
            snprintf(key, sizeof key, "ns/k%d", i);
            expect_get_done(wq, key);
        }
        expect_get_done(wq, "ns/last");
        ck_assert_uint_eq(wq_len(wq), 0);
        wq_stats_t st;
        wq_stats(wq, &st);
        ck_assert_uint_eq(st.waiting, 1);
    }
    wq_free(wq);
}
END_TEST

START_TEST(test_add_while_processing_requeues_after_done)
{
    wq_t *wq = wq_new(NULL);
    char *key;
    wq_add(wq, "ns/a");
    ck_assert(wq_get(wq, &key));
    ck_assert_str_eq(key, "ns/a");

    /* Held: the adds mark it dirty once but must not hand it to another worker. */
    wq_add(wq, "ns/a");
    wq_add(wq, "ns/a");
    ck_assert_uint_eq(wq_len(wq), 0);
    wq_stats_t stats;
    wq_stats(wq, &stats);
    ck_assert_uint_eq(stats.in_flight, 1);

    wq_done(wq, key);
    free(key);
    ck_assert_uint_eq(wq_len(wq), 1);
    expect_get_done(wq, "ns/a");
    ck_assert_uint_eq(wq_len(wq), 0);
    wq_stats(wq, &stats);
    ck_assert_uint_eq(stats.adds_total, 2);
    ck_assert_uint_eq(stats.in_flight, 0);
    wq_free(wq);
}
END_TEST

START_TEST(test_done_without_add_does_not_requeue)
{
    wq_t *wq = wq_new(NULL);
    wq_add(wq, "ns/a");
    expect_get_done(wq, "ns/a");
    ck_assert_uint_eq(wq_len(wq), 0);
    /* Not held: ignored, and a queued key stays queued. */
    wq_add(wq, "ns/b");
    wq_done(wq, "ns/b");
    wq_done(wq, "ns/never-added");
    ck_assert_uint_eq(wq_len(wq), 1);
    expect_get_done(wq, "ns/b");
    wq_free(wq);
}
END_TEST

/* ---- concurrency -------------------------------------------------------- */

#define STRESS_KEYS      200
#define STRESS_PRODUCERS 4
#define STRESS_WORKERS   8
#define STRESS_ADDS      100000

typedef struct stress {
    wq_t *wq;
    char keys[STRESS_KEYS][24];
    atomic_int in_progress[STRESS_KEYS];
    /* add_generation counts adds of a key, bumped before each wq_add; a worker
     * records the generation it saw after wq_get. The last add must be seen. */
    atomic_ulong add_generation[STRESS_KEYS];
    atomic_ulong seen_generation[STRESS_KEYS];
    atomic_int overlaps;
    atomic_ulong processed;
    atomic_int next_producer;
} stress_t;

static void *stress_producer(void *arg)
{
    stress_t *s = arg;
    int id = atomic_fetch_add(&s->next_producer, 1);
    unsigned int seed = (unsigned int)id * 7919u + 1;
    for (int n = id; n < STRESS_ADDS; n += STRESS_PRODUCERS) {
        int k = rand_r(&seed) % STRESS_KEYS;
        atomic_fetch_add(&s->add_generation[k], 1);
        if (wq_add(s->wq, s->keys[k]) != 0)
            atomic_fetch_add(&s->overlaps, 1000000);
        if (n % 64 == 0)
            sched_yield();
    }
    return NULL;
}

static void *stress_worker(void *arg)
{
    stress_t *s = arg;
    char *key;
    while (wq_get(s->wq, &key)) {
        int k = atoi(key + strlen("ns/obj-"));
        if (atomic_exchange(&s->in_progress[k], 1) != 0)
            atomic_fetch_add(&s->overlaps, 1);
        atomic_store(&s->seen_generation[k], atomic_load(&s->add_generation[k]));
        /* Hold the key a little so that overlaps, if possible, would happen. */
        if (atomic_fetch_add(&s->processed, 1) % 8 == 0)
            sched_yield();
        atomic_store(&s->in_progress[k], 0);
        wq_done(s->wq, key);
        free(key);
    }
    return NULL;
}

START_TEST(test_key_is_never_processed_by_two_workers_at_once)
{
    static stress_t s;
    memset(&s, 0, sizeof s);
    s.wq = wq_new(NULL);
    ck_assert_ptr_nonnull(s.wq);
    for (int k = 0; k < STRESS_KEYS; k++)
        snprintf(s.keys[k], sizeof s.keys[k], "ns/obj-%d", k);

    pthread_t workers[STRESS_WORKERS], producers[STRESS_PRODUCERS];
    for (int i = 0; i < STRESS_WORKERS; i++)
        ck_assert_int_eq(pthread_create(&workers[i], NULL, stress_worker, &s), 0);
    for (int i = 0; i < STRESS_PRODUCERS; i++)
        ck_assert_int_eq(pthread_create(&producers[i], NULL, stress_producer, &s), 0);
    for (int i = 0; i < STRESS_PRODUCERS; i++)
        pthread_join(producers[i], NULL);

    /* Producers are done; wait until nothing is queued or held (read atomically
     * under the queue's lock), then stop the workers. */
    double deadline = util_monotonic() + 60;
    wq_stats_t stats;
    for (;;) {
        wq_stats(s.wq, &stats);
        if ((stats.depth == 0 && stats.in_flight == 0) || util_monotonic() > deadline)
            break;
        util_sleep(0.001);
    }
    ck_assert_uint_eq(stats.depth, 0);
    ck_assert_uint_eq(stats.in_flight, 0);
    wq_shutdown_drain(s.wq);
    for (int i = 0; i < STRESS_WORKERS; i++)
        pthread_join(workers[i], NULL);

    ck_assert_int_eq(atomic_load(&s.overlaps), 0);
    for (int k = 0; k < STRESS_KEYS; k++) {
        ck_assert_uint_gt(atomic_load(&s.add_generation[k]), 0);
        ck_assert_uint_eq(atomic_load(&s.seen_generation[k]), atomic_load(&s.add_generation[k]));
    }
    unsigned long processed = atomic_load(&s.processed);
    ck_assert_uint_ge(processed, STRESS_KEYS);
    ck_assert_uint_le(processed, STRESS_ADDS);
    wq_stats(s.wq, &stats);
    ck_assert_uint_eq(stats.gets_total, processed);
    ck_assert_uint_eq(stats.done_total, processed);
    ck_assert_uint_eq(stats.adds_total, processed);
    wq_free(s.wq);
}
END_TEST

/* ---- delays ------------------------------------------------------------- */

START_TEST(test_add_after_delivers_in_deadline_order)
{
    /* Scheduled out of order, so the heap has to reorder on both push and pop. */
    const int order[] = {7, 2, 11, 0, 5, 9, 3, 10, 1, 8, 4, 6};
    const int count = (int)UTIL_ARRAY_LEN(order);
    wq_t *wq = wq_new(NULL);
    char key[32];
    double start = util_monotonic();
    for (int i = 0; i < count; i++) {
        snprintf(key, sizeof key, "ns/obj-%d", order[i]);
        ck_assert_int_eq(wq_add_after(wq, key, 0.01 * (order[i] + 1)), 0);
    }
    for (int i = 0; i < count; i++) {
        snprintf(key, sizeof key, "ns/obj-%d", i);
        expect_get_done(wq, key);
        ck_assert_double_ge(util_monotonic() - start, 0.01 * (i + 1) - EPSILON);
    }
    wq_stats_t stats;
    wq_stats(wq, &stats);
    ck_assert_uint_eq(stats.waiting, 0);
    ck_assert_uint_eq(stats.retries_total, (uint64_t)count);
    wq_free(wq);
}
END_TEST

START_TEST(test_add_after_without_delay_adds_now)
{
    wq_t *wq = wq_new(NULL);
    wq_add_after(wq, "ns/a", 0);
    wq_add_after(wq, "ns/b", -1);
    ck_assert_uint_eq(wq_len(wq), 2);
    wq_stats_t stats;
    wq_stats(wq, &stats);
    ck_assert_uint_eq(stats.waiting, 0);
    expect_get_done(wq, "ns/a");
    expect_get_done(wq, "ns/b");
    wq_free(wq);
}
END_TEST

START_TEST(test_add_after_earlier_deadline_wins)
{
    wq_t *wq = wq_new(NULL);
    wq_stats_t stats;

    /* A later-scheduled, earlier deadline moves the waiting key forward... */
    wq_add_after(wq, "ns/a", 600);
    wq_add_after(wq, "ns/a", 0.02);
    wq_stats(wq, &stats);
    ck_assert_uint_eq(stats.waiting, 1);
    ck_assert(wait_for_len(wq, 1));
    wq_stats(wq, &stats);
    ck_assert_uint_eq(stats.waiting, 0);
    expect_get_done(wq, "ns/a");

    /* ...and a later deadline does not push an earlier one back. */
    wq_add_after(wq, "ns/b", 0.02);
    wq_add_after(wq, "ns/b", 600);
    ck_assert(wait_for_len(wq, 1));
    wq_stats(wq, &stats);
    ck_assert_uint_eq(stats.waiting, 0);
    expect_get_done(wq, "ns/b");
    wq_free(wq);
}
END_TEST

START_TEST(test_delayed_add_of_queued_key_is_not_duplicated)
{
    wq_t *wq = wq_new(NULL);
    wq_add(wq, "ns/a");
    wq_add_after(wq, "ns/a", 0.01);
    wq_stats_t stats;
    double deadline = util_monotonic() + PATIENCE;
    do {
        util_sleep(0.001);
        wq_stats(wq, &stats);
    } while (stats.waiting > 0 && util_monotonic() < deadline);
    ck_assert_uint_eq(stats.waiting, 0);
    ck_assert_uint_eq(wq_len(wq), 1);
    ck_assert_uint_eq(stats.adds_total, 1);
    wq_free(wq);
}
END_TEST

/* ---- rate limiting ------------------------------------------------------ */

START_TEST(test_backoff_delay_doubles_from_base_to_max)
{
    /* client-go's defaults: 5 ms doubling, capped at 1000 s. */
    ck_assert_double_eq_tol(wq_backoff_delay(0.005, 1000, 0), 0.005, 1e-12);
    ck_assert_double_eq_tol(wq_backoff_delay(0.005, 1000, 1), 0.010, 1e-12);
    ck_assert_double_eq_tol(wq_backoff_delay(0.005, 1000, 2), 0.020, 1e-12);
    ck_assert_double_eq_tol(wq_backoff_delay(0.005, 1000, 10), 5.12, 1e-9);
    ck_assert_double_eq_tol(wq_backoff_delay(0.005, 1000, 17), 655.36, 1e-6);
    ck_assert_double_eq(wq_backoff_delay(0.005, 1000, 18), 1000);
    ck_assert_double_eq(wq_backoff_delay(0.005, 1000, UINT_MAX), 1000);

    const double small[] = {0.001, 0.002, 0.004, 0.008, 0.01, 0.01, 0.01};
    for (unsigned int i = 0; i < UTIL_ARRAY_LEN(small); i++)
        ck_assert_double_eq_tol(wq_backoff_delay(0.001, 0.01, i), small[i], 1e-12);
}
END_TEST

START_TEST(test_rate_limited_delay_doubles_per_failure_up_to_max)
{
    wq_options_t opts = no_bucket(0.02, 0.08);
    wq_t *wq = wq_new(&opts);
    const double expected[] = {0.02, 0.04, 0.08, 0.08, 0.08, 0.08, 0.08, 0.08};
    for (unsigned int i = 0; i < UTIL_ARRAY_LEN(expected); i++) {
        double start = util_monotonic();
        ck_assert_int_eq(wq_add_rate_limited(wq, "ns/a"), 0);
        ck_assert_uint_eq(wq_num_requeues(wq, "ns/a"), i + 1);
        expect_get_done(wq, "ns/a");
        double elapsed = util_monotonic() - start;
        ck_assert_double_ge(elapsed, expected[i] - EPSILON);
        /* Without the cap the last delay would be 0.02 * 2^7 = 2.56 s. */
        if (i == UTIL_ARRAY_LEN(expected) - 1)
            ck_assert_double_lt(elapsed, 1.0);
    }
    wq_free(wq);
}
END_TEST

START_TEST(test_forget_resets_failures_per_key)
{
    wq_options_t opts = no_bucket(0.01, 600);
    wq_t *wq = wq_new(&opts);
    /* Twelve failures: the next delay would be 0.01 * 2^12 = 41 s. The key waits only
     * for the first (earliest) deadline. */
    for (int i = 0; i < 12; i++)
        wq_add_rate_limited(wq, "ns/a");
    wq_add_rate_limited(wq, "ns/b");
    ck_assert(wait_for_len(wq, 2));
    char *first, *second;
    ck_assert(wq_get(wq, &first));
    ck_assert(wq_get(wq, &second));
    ck_assert(strcmp(first, second) != 0);
    wq_done(wq, first);
    wq_done(wq, second);
    free(first);
    free(second);
    ck_assert_uint_eq(wq_num_requeues(wq, "ns/a"), 12);
    ck_assert_uint_eq(wq_num_requeues(wq, "ns/b"), 1);

    wq_forget(wq, "ns/a");
    ck_assert_uint_eq(wq_num_requeues(wq, "ns/a"), 0);
    ck_assert_uint_eq(wq_num_requeues(wq, "ns/b"), 1);
    double start = util_monotonic();
    wq_add_rate_limited(wq, "ns/a");
    ck_assert(wait_for_len(wq, 1));
    ck_assert_double_ge(util_monotonic() - start, 0.01 - EPSILON);
    expect_get_done(wq, "ns/a");
    ck_assert_uint_eq(wq_num_requeues(wq, "ns/a"), 1);

    /* Forget leaves a queued key queued. */
    wq_add(wq, "ns/c");
    wq_forget(wq, "ns/c");
    ck_assert_uint_eq(wq_len(wq), 1);
    wq_free(wq);
}
END_TEST

START_TEST(test_token_bucket_allows_burst_then_spaces_by_rate)
{
    wq_bucket_t b;
    wq_bucket_init(&b, 10, 3, 100.0);
    for (int i = 0; i < 3; i++)
        ck_assert_double_eq(wq_bucket_reserve(&b, 100.0), 0);
    ck_assert_double_eq_tol(wq_bucket_reserve(&b, 100.0), 0.1, 1e-9);
    ck_assert_double_eq_tol(wq_bucket_reserve(&b, 100.0), 0.2, 1e-9);
    /* Half a second pays the debt of 2 and refills 3, the burst. */
    ck_assert_double_eq(wq_bucket_reserve(&b, 100.5), 0);
    /* A long idle refills no more than the burst. */
    for (int i = 0; i < 3; i++)
        ck_assert_double_eq(wq_bucket_reserve(&b, 1000.0), 0);
    ck_assert_double_eq_tol(wq_bucket_reserve(&b, 1000.0), 0.1, 1e-9);
    /* A clock reading from before the last refill refills nothing. */
    ck_assert_double_eq_tol(wq_bucket_reserve(&b, 999.0), 0.2, 1e-9);

    wq_bucket_t unlimited;
    wq_bucket_init(&unlimited, -1, 1, 0);
    for (int i = 0; i < 10; i++)
        ck_assert_double_eq(wq_bucket_reserve(&unlimited, 0), 0);
}
END_TEST

START_TEST(test_token_bucket_spaces_rate_limited_adds_beyond_burst)
{
    /* Per-key backoff negligible: the bucket alone sets the pace. 2 keys pass at
     * once, the other 4 follow 20 ms apart: the last no earlier than 80 ms. */
    wq_options_t opts = {.base_delay = 1e-6, .max_delay = 1e-6, .qps = 50, .burst = 2};
    wq_t *wq = wq_new(&opts);
    double start = util_monotonic();
    char key[32];
    for (int i = 0; i < 6; i++) {
        snprintf(key, sizeof key, "ns/obj-%d", i);
        ck_assert_int_eq(wq_add_rate_limited(wq, key), 0);
    }
    for (int i = 0; i < 6; i++) {
        snprintf(key, sizeof key, "ns/obj-%d", i);
        expect_get_done(wq, key);
    }
    ck_assert_double_ge(util_monotonic() - start, 0.08 - EPSILON);
    wq_stats_t stats;
    wq_stats(wq, &stats);
    ck_assert_uint_eq(stats.retries_total, 6);
    wq_free(wq);
}
END_TEST

/* ---- shutdown ----------------------------------------------------------- */

typedef struct getter {
    wq_t *wq;
    atomic_int *returned;
    bool got;
    char *key;
} getter_t;

static void *blocked_getter(void *arg)
{
    getter_t *g = arg;
    g->got = wq_get(g->wq, &g->key);
    atomic_fetch_add(g->returned, 1);
    return NULL;
}

START_TEST(test_shutdown_wakes_blocked_getters)
{
    wq_t *wq = wq_new(NULL);
    atomic_int returned = 0;
    getter_t getters[4];
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) {
        getters[i] = (getter_t){.wq = wq, .returned = &returned, .got = true};
        ck_assert_int_eq(pthread_create(&threads[i], NULL, blocked_getter, &getters[i]), 0);
    }
    util_sleep(0.05);
    ck_assert_int_eq(atomic_load(&returned), 0);
    ck_assert(!wq_shutting_down(wq));
    wq_shutdown(wq);
    ck_assert(wq_shutting_down(wq));
    ck_assert(wait_for_flag(&returned, 4));
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        ck_assert(!getters[i].got);
        ck_assert_ptr_null(getters[i].key);
    }
    wq_free(wq);
}
END_TEST

START_TEST(test_get_after_shutdown_returns_false_with_keys_queued)
{
    wq_t *wq = wq_new(NULL);
    wq_add(wq, "ns/a");
    wq_shutdown(wq);
    wq_shutdown(wq);
    char *key = (char *)"unchanged";
    ck_assert(!wq_get(wq, &key));
    ck_assert_ptr_null(key);
    wq_free(wq);
}
END_TEST

START_TEST(test_adds_after_shutdown_are_ignored)
{
    wq_t *wq = wq_new(NULL);
    wq_shutdown(wq);
    ck_assert_int_eq(wq_add(wq, "ns/a"), 0);
    ck_assert_int_eq(wq_add_after(wq, "ns/b", 0.01), 0);
    ck_assert_int_eq(wq_add_rate_limited(wq, "ns/c"), 0);
    ck_assert_uint_eq(wq_len(wq), 0);
    ck_assert_uint_eq(wq_num_requeues(wq, "ns/c"), 0);
    wq_stats_t stats;
    wq_stats(wq, &stats);
    ck_assert_uint_eq(stats.waiting, 0);
    ck_assert_uint_eq(stats.adds_total, 0);
    ck_assert_uint_eq(stats.retries_total, 0);
    wq_free(wq);
}
END_TEST

typedef struct slow_worker {
    wq_t *wq;
    atomic_int finished;
} slow_worker_t;

static void *slow_worker(void *arg)
{
    slow_worker_t *w = arg;
    char *key;
    if (wq_get(w->wq, &key)) {
        util_sleep(0.1);
        atomic_store(&w->finished, 1);
        wq_done(w->wq, key);
        free(key);
    }
    return NULL;
}

START_TEST(test_shutdown_drain_waits_for_in_flight_keys)
{
    slow_worker_t w = {.wq = wq_new(NULL)};
    wq_add(w.wq, "ns/a");
    wq_add(w.wq, "ns/b");
    pthread_t thread;
    ck_assert_int_eq(pthread_create(&thread, NULL, slow_worker, &w), 0);
    double deadline = util_monotonic() + PATIENCE;
    wq_stats_t stats;
    do {
        util_sleep(0.001);
        wq_stats(w.wq, &stats);
    } while (stats.in_flight == 0 && util_monotonic() < deadline);
    ck_assert_uint_eq(stats.in_flight, 1);

    wq_shutdown_drain(w.wq);
    ck_assert_int_eq(atomic_load(&w.finished), 1);
    wq_stats(w.wq, &stats);
    ck_assert_uint_eq(stats.in_flight, 0);
    ck_assert_uint_eq(stats.done_total, 1);
    /* The queued key is not started once draining. */
    char *key;
    ck_assert(!wq_get(w.wq, &key));
    pthread_join(thread, NULL);
    /* Nothing held: returns at once. */
    wq_shutdown_drain(w.wq);
    wq_free(w.wq);
}
END_TEST

/* ---- construction and stats --------------------------------------------- */

START_TEST(test_new_rejects_bad_options)
{
    wq_options_t negative_base = {.base_delay = -1};
    wq_options_t max_below_base = {.base_delay = 2, .max_delay = 1};
    wq_options_t negative_burst = {.burst = -1};
    ck_assert_ptr_null(wq_new(&negative_base));
    ck_assert_ptr_null(wq_new(&max_below_base));
    ck_assert_ptr_null(wq_new(&negative_burst));
    wq_options_t defaults = {0};
    wq_t *wq = wq_new(&defaults);
    ck_assert_ptr_nonnull(wq);
    wq_free(wq);
    wq_free(NULL);
}
END_TEST

typedef struct observed {
    pthread_mutex_t lock;
    int count[2];
    double sum[2];
} observed_t;

static void observe(void *data, wq_metric_t metric, double seconds)
{
    observed_t *o = data;
    pthread_mutex_lock(&o->lock);
    o->count[metric]++;
    o->sum[metric] += seconds;
    pthread_mutex_unlock(&o->lock);
}

START_TEST(test_stats_and_observer_report_latency_and_work_duration)
{
    observed_t seen = {.lock = PTHREAD_MUTEX_INITIALIZER};
    wq_options_t opts = {.observe = observe, .observe_data = &seen};
    wq_t *wq = wq_new(&opts);
    wq_add(wq, "ns/a");
    wq_add(wq, "ns/a");
    wq_add(wq, "ns/b");
    util_sleep(0.02);
    char *key;
    ck_assert(wq_get(wq, &key));
    wq_stats_t stats;
    wq_stats(wq, &stats);
    ck_assert_uint_eq(stats.depth, 1);
    ck_assert_uint_eq(stats.in_flight, 1);
    ck_assert_uint_eq(stats.adds_total, 2);
    ck_assert_uint_eq(stats.gets_total, 1);
    ck_assert_double_ge(stats.queue_seconds_sum, 0.02 - EPSILON);
    util_sleep(0.02);
    wq_done(wq, key);
    free(key);
    wq_add_rate_limited(wq, "ns/c");
    wq_add_after(wq, "ns/d", 600);

    wq_stats(wq, &stats);
    ck_assert_uint_eq(stats.in_flight, 0);
    ck_assert_uint_eq(stats.done_total, 1);
    ck_assert_double_ge(stats.work_seconds_sum, 0.02 - EPSILON);
    ck_assert_uint_eq(stats.retries_total, 2);
    ck_assert_uint_ge(stats.waiting, 1);
    ck_assert_int_eq(seen.count[WQ_METRIC_QUEUE_SECONDS], 1);
    ck_assert_int_eq(seen.count[WQ_METRIC_WORK_SECONDS], 1);
    ck_assert_double_eq(seen.sum[WQ_METRIC_QUEUE_SECONDS], stats.queue_seconds_sum);
    ck_assert_double_eq(seen.sum[WQ_METRIC_WORK_SECONDS], stats.work_seconds_sum);
    wq_free(wq);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("workqueue");
    TCase *tc = tcase_create("core");
    /* Generous: valgrind slows the stress test; timing tests need well under 1 s. */
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_add_deduplicates_queued_key_and_keeps_fifo_order);
    tcase_add_test(tc, test_queue_keeps_fifo_order_as_it_grows_and_shrinks);
    tcase_add_test(tc, test_add_while_processing_requeues_after_done);
    tcase_add_test(tc, test_done_without_add_does_not_requeue);
    tcase_add_test(tc, test_key_is_never_processed_by_two_workers_at_once);
    tcase_add_test(tc, test_add_after_delivers_in_deadline_order);
    tcase_add_test(tc, test_add_after_without_delay_adds_now);
    tcase_add_test(tc, test_add_after_earlier_deadline_wins);
    tcase_add_test(tc, test_delayed_add_of_queued_key_is_not_duplicated);
    tcase_add_test(tc, test_backoff_delay_doubles_from_base_to_max);
    tcase_add_test(tc, test_rate_limited_delay_doubles_per_failure_up_to_max);
    tcase_add_test(tc, test_forget_resets_failures_per_key);
    tcase_add_test(tc, test_token_bucket_allows_burst_then_spaces_by_rate);
    tcase_add_test(tc, test_token_bucket_spaces_rate_limited_adds_beyond_burst);
    tcase_add_test(tc, test_shutdown_wakes_blocked_getters);
    tcase_add_test(tc, test_get_after_shutdown_returns_false_with_keys_queued);
    tcase_add_test(tc, test_adds_after_shutdown_are_ignored);
    tcase_add_test(tc, test_shutdown_drain_waits_for_in_flight_keys);
    tcase_add_test(tc, test_new_rejects_bad_options);
    tcase_add_test(tc, test_stats_and_observer_report_latency_and_work_duration);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

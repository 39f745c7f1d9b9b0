/* Unit tests for pkg/util: buffers, RFC 3339, backoff, strmap, pool. */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

START_TEST(test_buf_grows_and_stays_terminated)
{
    buf_t b = BUF_INIT;
    ck_assert_str_eq(buf_str(&b), "");
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(buf_printf(&b, "%d,", i), 0);
    ck_assert_uint_eq(strlen(b.data), b.len);
    ck_assert(util_has_prefix(b.data, "0,1,2,"));
    ck_assert(util_has_suffix(b.data, "998,999,"));
    buf_consume(&b, 2);
    ck_assert(util_has_prefix(b.data, "1,2,"));
    char *s = buf_steal(&b);
    ck_assert_ptr_null(b.data);
    free(s);
}
END_TEST

START_TEST(test_buf_escapes_json_and_url)
{
    buf_t b = BUF_INIT;
    buf_put_json_escaped(&b, "a\"b\\c\n\x01");
    ck_assert_str_eq(buf_str(&b), "a\\\"b\\\\c\\n\\u0001");
    buf_reset(&b);
    buf_put_url_escaped(&b, "app=web,tier in (a b)");
    ck_assert_str_eq(buf_str(&b), "app%3Dweb%2Ctier%20in%20%28a%20b%29");
    buf_free(&b);
}
END_TEST

START_TEST(test_rfc3339_round_trip_and_offsets)
{
    time_t t;
    ck_assert_int_eq(util_parse_rfc3339("2026-11-26T06:33:38Z", &t), 0);
    char out[32];
    util_format_rfc3339(t, out);
    ck_assert_str_eq(out, "2026-11-26T06:33:38Z");
    time_t t2;
    ck_assert_int_eq(util_parse_rfc3339("2026-11-26T08:33:38.123456+02:00", &t2), 0);
    ck_assert_int_eq((long)t, (long)t2);
    ck_assert_int_ne(util_parse_rfc3339("2026-11-26 garbage", &t2), 0);
    ck_assert_int_ne(util_parse_rfc3339("2026-13-01T00:00:00Z", &t2), 0);
    ck_assert_int_ne(util_parse_rfc3339("", &t2), 0);
    ck_assert_int_ne(util_parse_rfc3339(NULL, &t2), 0);
}
END_TEST

START_TEST(test_backoff_grows_to_max_with_bounded_jitter)
{
    backoff_t b;
    backoff_init(&b, 0.1, 1.0, 2.0, 0.5);
    double d1 = backoff_next(&b);
    ck_assert(d1 >= 0.1 && d1 <= 0.15 + 1e-9);
    for (int i = 0; i < 20; i++)
        backoff_next(&b);
    double d = backoff_next(&b);
    ck_assert(d >= 1.0 && d <= 1.5 + 1e-9);
    backoff_reset(&b);
    ck_assert(backoff_next(&b) <= 0.15 + 1e-9);
}
END_TEST

START_TEST(test_strmap_set_get_delete_many)
{
    strmap_t *m = strmap_new(free);
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "ns/obj-%d", i);
        ck_assert_int_eq(strmap_set(m, key, util_asprintf("v%d", i)), 0);
    }
    ck_assert_uint_eq(strmap_len(m), 5000);
    for (int i = 0; i < 5000; i += 2) {
        snprintf(key, sizeof key, "ns/obj-%d", i);
        ck_assert(strmap_del(m, key));
    }
    ck_assert_uint_eq(strmap_len(m), 2500);
    ck_assert_ptr_null(strmap_get(m, "ns/obj-0"));
    ck_assert_str_eq((char *)strmap_get(m, "ns/obj-1"), "v1");
    strmap_set(m, "ns/obj-1", util_strdup("replaced"));
    ck_assert_str_eq((char *)strmap_get(m, "ns/obj-1"), "replaced");
    size_t n = 0;
    strmap_iter_t it;
    strmap_iter_init(&it, m);
    while (strmap_iter_next(&it, NULL, NULL))
        n++;
    ck_assert_uint_eq(n, 2500);
    char *taken = strmap_take(m, "ns/obj-3");
    ck_assert_str_eq(taken, "v3");
    free(taken);
    strmap_free(m);
}
END_TEST

START_TEST(test_strmap_shrinks_after_a_burst_without_losing_keys)
{
    /* Emptied down to a few keys (the map shrinks on the way) and filled again: every
     * key stays reachable, with takes and deletes in an order unrelated to insertion. */
    strmap_t *m = strmap_new(free);
    char key[32];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 20000; i++) {
            snprintf(key, sizeof key, "ns/run-%d", i);
            ck_assert_int_eq(strmap_set(m, key, util_asprintf("%d", i)), 0);
        }
        for (int i = 0; i < 20000 - 7; i++) {
            int victim = (int)(((unsigned)i * 7919u) % 20000u);
            snprintf(key, sizeof key, "ns/run-%d", victim);
            if (i % 2) {
                ck_assert_msg(strmap_del(m, key), "%s missing", key);
            } else {
                char *v = strmap_take(m, key);
                ck_assert_int_eq(atoi(v), victim);
                free(v);
            }
        }
        ck_assert_uint_eq(strmap_len(m), 7);
        for (int i = 20000 - 7; i < 20000; i++) {
            int kept = (int)(((unsigned)i * 7919u) % 20000u);
            snprintf(key, sizeof key, "ns/run-%d", kept);
            ck_assert_int_eq(atoi(strmap_get(m, key)), kept);
        }
    }
    strmap_free(m);
}
END_TEST

START_TEST(test_secure_streq_rejects_empty)
{
    ck_assert(util_secure_streq("abc", "abc"));
    ck_assert(!util_secure_streq("abc", "abd"));
    ck_assert(!util_secure_streq("abc", "abcd"));
    ck_assert(!util_secure_streq("", ""));
    ck_assert(!util_secure_streq(NULL, "x"));
}
END_TEST

START_TEST(test_pool_reuses_released_slots_and_unmaps_empty_chunks)
{
    pool_t *p = pool_new();
    ck_assert_ptr_nonnull(p);
    enum { N = 3000 };
    static unsigned char *objs[N];
    size_t sizes[N];
    for (int i = 0; i < N; i++) {
        sizes[i] = 200 + (size_t)(i % 3) * 40; /* three size classes */
        objs[i] = pool_alloc(p, sizes[i]);
        ck_assert_ptr_nonnull(objs[i]);
        ck_assert_uint_eq((uintptr_t)objs[i] % 16, 0);
        ck_assert_uint_ge(pool_object_size(objs[i]), sizes[i]);
        ck_assert_uint_lt(pool_object_size(objs[i]), sizes[i] + 16);
        memset(objs[i], i & 0xff, sizes[i]);
    }
    pool_stats_t full;
    pool_stats(p, &full);
    ck_assert_uint_eq(full.objects, N);
    /* ~1000 objects of ~240 bytes per class: several 64 KiB chunks each */
    ck_assert_uint_ge(full.chunks, 9);
    for (int i = 0; i < N; i += 2)
        pool_release(objs[i]);
    for (int i = 0; i < N; i += 2) {
        objs[i] = pool_alloc(p, sizes[i]);
        memset(objs[i], i & 0xff, sizes[i]);
    }
    pool_stats_t again;
    pool_stats(p, &again);
    ck_assert_uint_eq(again.chunks, full.chunks); /* the freed slots were reused */
    for (int i = 0; i < N; i++) {
        for (size_t j = 0; j < sizes[i]; j++)
            ck_assert_uint_eq(objs[i][j], (unsigned)(i & 0xff));
        pool_release(objs[i]);
    }
    pool_stats(p, &again);
    ck_assert_uint_eq(again.objects, 0);
    ck_assert_uint_eq(again.chunks, 3); /* the last chunk of each class stays mapped */
    /* and serves again */
    void *o = pool_alloc(p, 230);
    ck_assert_ptr_nonnull(o);
    pool_release(o);
    pool_free(p);
}
END_TEST

START_TEST(test_pool_leaves_sizes_it_does_not_keep_to_malloc)
{
    pool_t *p = pool_new();
    ck_assert_ptr_null(pool_alloc(p, 0));
    ck_assert_ptr_null(pool_alloc(p, POOL_MAX_OBJECT + 1));
    void *o = pool_alloc(p, POOL_MAX_OBJECT);
    ck_assert_ptr_nonnull(o);
    ck_assert_uint_eq(pool_object_size(o), POOL_MAX_OBJECT);
    pool_release(o);
    pool_release(NULL);
    pool_free(p);
    pool_free(NULL);
}
END_TEST

START_TEST(test_pool_lives_until_its_last_object_is_released)
{
    pool_t *p = pool_new();
    char *a = pool_alloc(p, 100), *b = pool_alloc(p, 1000);
    pool_free(p); /* objects still out: the memory stays */
    memset(a, 'a', 100);
    memset(b, 'b', 1000);
    pool_release(a);
    ck_assert_uint_eq((unsigned char)b[999], 'b');
    pool_release(b); /* the pool goes with it (LeakSanitizer would say otherwise) */
}
END_TEST

typedef struct pool_worker {
    pool_t *pool;
    void **objs;
    size_t n;
} pool_worker_t;

static void *pool_release_all(void *arg)
{
    pool_worker_t *w = arg;
    for (size_t i = 0; i < w->n; i++)
        pool_release(w->objs[i]);
    for (size_t i = 0; i < w->n; i++) {
        w->objs[i] = pool_alloc(w->pool, 64 + i % 512);
        ck_assert_ptr_nonnull(w->objs[i]);
    }
    return NULL;
}

START_TEST(test_pool_objects_are_released_from_any_thread)
{
    pool_t *p = pool_new();
    enum { THREADS = 4, PER = 2000 };
    static void *objs[THREADS][PER];
    pool_worker_t w[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        for (int j = 0; j < PER; j++)
            objs[i][j] = pool_alloc(p, 32 + (size_t)j % 700);
        w[i] = (pool_worker_t){p, objs[i], PER};
    }
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, pool_release_all, &w[i]), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    pool_stats_t st;
    pool_stats(p, &st);
    ck_assert_uint_eq(st.objects, THREADS * PER);
    for (int i = 0; i < THREADS; i++)
        for (int j = 0; j < PER; j++)
            pool_release(objs[i][j]);
    pool_stats(p, &st);
    ck_assert_uint_eq(st.objects, 0);
    pool_free(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_buf_grows_and_stays_terminated);
    tcase_add_test(tc, test_buf_escapes_json_and_url);
    tcase_add_test(tc, test_rfc3339_round_trip_and_offsets);
    tcase_add_test(tc, test_backoff_grows_to_max_with_bounded_jitter);
    tcase_add_test(tc, test_strmap_set_get_delete_many);
    tcase_add_test(tc, test_strmap_shrinks_after_a_burst_without_losing_keys);
    tcase_add_test(tc, test_secure_streq_rejects_empty);
    tcase_add_test(tc, test_pool_reuses_released_slots_and_unmaps_empty_chunks);
    tcase_add_test(tc, test_pool_leaves_sizes_it_does_not_keep_to_malloc);
    tcase_add_test(tc, test_pool_lives_until_its_last_object_is_released);
    tcase_add_test(tc, test_pool_objects_are_released_from_any_thread);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

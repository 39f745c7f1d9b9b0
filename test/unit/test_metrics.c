/*
 * Unit tests for pkg/metrics: the exposition text (golden), escaping, number
 * formatting as client_golang writes it, histogram bucket math, label-set deletion,
 * get-or-create registration, scrape-time collection, the process collector and
 * concurrent observation.
 */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics/metrics.h"
#include "util/util.h"

/* The registry's whole text, as a malloc'd string. */
static char *render(metrics_registry_t *reg)
{
    buf_t out = BUF_INIT;
    ck_assert_int_eq(metrics_registry_write(reg, &out), 0);
    return buf_steal(&out);
}

static char *format(double v)
{
    buf_t out = BUF_INIT;
    ck_assert_int_eq(metrics_format_value(&out, v), 0);
    return buf_steal(&out);
}

START_TEST(test_exposition_matches_golden_text)
{
    metrics_registry_t *reg = metrics_registry_new();
    metrics_family_t *rec =
        metrics_counter_new(reg, "s2i_reconcile_total", "Reconciles by controller and result.",
                            METRICS_LABELS("controller", "result"));
    metrics_family_t *depth = metrics_gauge_new(reg, "s2i_workqueue_depth", "Depth.", NULL);
    const double bounds[] = {1, 5, 10};
    metrics_family_t *dur = metrics_histogram_new(reg, "s2i_run_duration_seconds", "Run duration.",
                                                  METRICS_LABELS("result"), bounds, 3);
    ck_assert_ptr_nonnull(rec);
    ck_assert_ptr_nonnull(depth);
    ck_assert_ptr_nonnull(dur);

    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(metrics_counter_inc(rec, METRICS_LABELS("s2irun", "success")), 0);
    metrics_counter_inc(rec, METRICS_LABELS("s2irun", "error"));
    metrics_counter_add(rec, METRICS_LABELS("s2ibuilder", "success"), 1);
    metrics_gauge_set(depth, NULL, 7);
    metrics_histogram_observe(dur, METRICS_LABELS("success"), 0.5);
    metrics_histogram_observe(dur, METRICS_LABELS("success"), 5);
    metrics_histogram_observe(dur, METRICS_LABELS("success"), 7.5);
    metrics_histogram_observe(dur, METRICS_LABELS("failed"), 20);

    const char *want = "# HELP s2i_reconcile_total Reconciles by controller and result.\n"
                       "# TYPE s2i_reconcile_total counter\n"
                       "s2i_reconcile_total{controller=\"s2ibuilder\",result=\"success\"} 1\n"
                       "s2i_reconcile_total{controller=\"s2irun\",result=\"error\"} 1\n"
                       "s2i_reconcile_total{controller=\"s2irun\",result=\"success\"} 3\n"
                       "# HELP s2i_run_duration_seconds Run duration.\n"
                       "# TYPE s2i_run_duration_seconds histogram\n"
                       "s2i_run_duration_seconds_bucket{result=\"failed\",le=\"1\"} 0\n"
                       "s2i_run_duration_seconds_bucket{result=\"failed\",le=\"5\"} 0\n"
                       "s2i_run_duration_seconds_bucket{result=\"failed\",le=\"10\"} 0\n"
                       "s2i_run_duration_seconds_bucket{result=\"failed\",le=\"+Inf\"} 1\n"
                       "s2i_run_duration_seconds_sum{result=\"failed\"} 20\n"
                       "s2i_run_duration_seconds_count{result=\"failed\"} 1\n"
                       "s2i_run_duration_seconds_bucket{result=\"success\",le=\"1\"} 1\n"
                       "s2i_run_duration_seconds_bucket{result=\"success\",le=\"5\"} 2\n"
                       "s2i_run_duration_seconds_bucket{result=\"success\",le=\"10\"} 3\n"
                       "s2i_run_duration_seconds_bucket{result=\"success\",le=\"+Inf\"} 3\n"
                       "s2i_run_duration_seconds_sum{result=\"success\"} 13\n"
                       "s2i_run_duration_seconds_count{result=\"success\"} 3\n"
                       "# HELP s2i_workqueue_depth Depth.\n"
                       "# TYPE s2i_workqueue_depth gauge\n"
                       "s2i_workqueue_depth 7\n";
    char *got = render(reg);
    ck_assert_str_eq(got, want);
    free(got);
    metrics_registry_free(reg);
}
END_TEST

START_TEST(test_unlabeled_histogram_and_empty_families)
{
    metrics_registry_t *reg = metrics_registry_new();
    const double bounds[] = {0.1, 1};
    metrics_family_t *h = metrics_histogram_new(reg, "lat_seconds", "Latency.", NULL, bounds, 2);
    /* A labeled family without series is left out entirely; an unlabeled one shows 0. */
    metrics_gauge_new(reg, "by_ns", "Per namespace.", METRICS_LABELS("namespace"));
    metrics_counter_new(reg, "plain_total", "Plain.", NULL);
    metrics_histogram_observe(h, NULL, 0.1);
    metrics_histogram_observe(h, NULL, 0.25);
    char *got = render(reg);
    ck_assert_str_eq(got, "# HELP lat_seconds Latency.\n"
                          "# TYPE lat_seconds histogram\n"
                          "lat_seconds_bucket{le=\"0.1\"} 1\n"
                          "lat_seconds_bucket{le=\"1\"} 2\n"
                          "lat_seconds_bucket{le=\"+Inf\"} 2\n"
                          "lat_seconds_sum 0.35\n"
                          "lat_seconds_count 2\n"
                          "# HELP plain_total Plain.\n"
                          "# TYPE plain_total counter\n"
                          "plain_total 0\n");
    free(got);
    metrics_registry_free(reg);
}
END_TEST

START_TEST(test_label_values_and_help_are_escaped)
{
    metrics_registry_t *reg = metrics_registry_new();
    metrics_family_t *g = metrics_gauge_new(
        reg, "escaped", "Help with \\ backslash\nand \"quotes\".", METRICS_LABELS("v"));
    metrics_gauge_set(g, METRICS_LABELS("a\"b\\c\nd"), 1);
    metrics_gauge_set(g, METRICS_LABELS(""), 2);
    metrics_gauge_set(g, METRICS_LABELS("ünï"), 3);
    char *got = render(reg);
    ck_assert_str_eq(got, "# HELP escaped Help with \\\\ backslash\\nand \"quotes\".\n"
                          "# TYPE escaped gauge\n"
                          "escaped{v=\"\"} 2\n"
                          "escaped{v=\"a\\\"b\\\\c\\nd\"} 1\n"
                          "escaped{v=\"ünï\"} 3\n");
    free(got);
    metrics_registry_free(reg);
}
END_TEST

START_TEST(test_values_formatted_as_go_formatfloat)
{
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {0, "0"},
        {1, "1"},
        {-2.5, "-2.5"},
        {100, "100"},
        {0.1, "0.1"},
        {0.005, "0.005"},
        {0.0001, "0.0001"},
        {0.00001, "1e-05"},
        {123456, "123456"},
        {1e6, "1e+06"},
        {1234567, "1.234567e+06"},
        {12345.678, "12345.678"},
        {1.0 / 3, "0.3333333333333333"},
        {9007199254740992.0, "9.007199254740992e+15"},
        {1e21, "1e+21"},
        {1.5e-300, "1.5e-300"},
        {INFINITY, "+Inf"},
        {-INFINITY, "-Inf"},
        {NAN, "NaN"},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(cases); i++) {
        char *got = format(cases[i].v);
        ck_assert_msg(strcmp(got, cases[i].want) == 0, "%.17g: got %s, want %s", cases[i].v, got,
                      cases[i].want);
        free(got);
    }
}
END_TEST

START_TEST(test_histogram_bucket_boundaries)
{
    metrics_registry_t *reg = metrics_registry_new();
    const double bounds[] = {1, 2, 4};
    metrics_family_t *h = metrics_histogram_new(reg, "h", "H.", NULL, bounds, 3);
    /* A value equal to a bound belongs to that bucket (le = less or equal). */
    const double obs[] = {-1, 1, 1.0000001, 2, 4, 4.5, 1000};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(obs); i++)
        ck_assert_int_eq(metrics_histogram_observe(h, NULL, obs[i]), 0);
    uint64_t count;
    double sum;
    ck_assert_int_eq(metrics_histogram_get(h, NULL, &count, &sum), 0);
    ck_assert_uint_eq(count, 7);
    ck_assert_double_eq_tol(sum, 1011.5000001, 1e-9);
    char *got = render(reg);
    ck_assert_ptr_nonnull(strstr(got, "h_bucket{le=\"1\"} 2\n"
                                      "h_bucket{le=\"2\"} 4\n"
                                      "h_bucket{le=\"4\"} 5\n"
                                      "h_bucket{le=\"+Inf\"} 7\n"));
    free(got);

    /* Default buckets: the Prometheus set. */
    metrics_family_t *d = metrics_histogram_new(reg, "d", "D.", NULL, NULL, 0);
    metrics_histogram_observe(d, NULL, 0.3);
    got = render(reg);
    ck_assert_ptr_nonnull(strstr(got, "d_bucket{le=\"0.005\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(got, "d_bucket{le=\"0.25\"} 0\n"
                                      "d_bucket{le=\"0.5\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(got, "d_bucket{le=\"10\"} 1\n"
                                      "d_bucket{le=\"+Inf\"} 1\n"));
    free(got);
    metrics_registry_free(reg);
}
END_TEST

START_TEST(test_bucket_generators_and_bad_buckets)
{
    double b[4];
    ck_assert_int_eq(metrics_exponential_buckets(0.5, 2, 4, b), 0);
    ck_assert_double_eq(b[0], 0.5);
    ck_assert_double_eq(b[3], 4);
    ck_assert_int_eq(metrics_linear_buckets(1, 0.5, 4, b), 0);
    ck_assert_double_eq(b[3], 2.5);
    ck_assert_int_eq(metrics_exponential_buckets(0, 2, 4, b), -1);
    ck_assert_int_eq(metrics_exponential_buckets(1, 1, 4, b), -1);
    ck_assert_int_eq(metrics_linear_buckets(1, 0, 4, b), -1);

    metrics_registry_t *reg = metrics_registry_new();
    const double unsorted[] = {1, 3, 2};
    const double duplicate[] = {1, 1};
    const double infinite[] = {1, INFINITY};
    ck_assert_ptr_null(metrics_histogram_new(reg, "a", "", NULL, unsorted, 3));
    ck_assert_ptr_null(metrics_histogram_new(reg, "b", "", NULL, duplicate, 2));
    ck_assert_ptr_null(metrics_histogram_new(reg, "c", "", NULL, infinite, 2));
    ck_assert_ptr_null(metrics_histogram_new(reg, "d", "", METRICS_LABELS("le"), NULL, 0));
    metrics_registry_free(reg);
}
END_TEST

START_TEST(test_delete_label_set)
{
    metrics_registry_t *reg = metrics_registry_new();
    metrics_family_t *g =
        metrics_gauge_new(reg, "s2i_s2irun_active", "Active runs.", METRICS_LABELS("namespace"));
    metrics_gauge_set(g, METRICS_LABELS("x"), 2);
    metrics_gauge_set(g, METRICS_LABELS("y"), 1);
    ck_assert(metrics_family_delete(g, METRICS_LABELS("x")));
    ck_assert(!metrics_family_delete(g, METRICS_LABELS("x")));
    double v;
    ck_assert_int_eq(metrics_get(g, METRICS_LABELS("x"), &v), -1);
    ck_assert_int_eq(metrics_get(g, METRICS_LABELS("y"), &v), 0);
    ck_assert_double_eq(v, 1);
    char *got = render(reg);
    ck_assert_ptr_null(strstr(got, "namespace=\"x\""));
    ck_assert_ptr_nonnull(strstr(got, "s2i_s2irun_active{namespace=\"y\"} 1\n"));
    free(got);

    /* A deleted series starts again from zero. */
    metrics_gauge_inc(g, METRICS_LABELS("x"));
    ck_assert_int_eq(metrics_get(g, METRICS_LABELS("x"), &v), 0);
    ck_assert_double_eq(v, 1);

    metrics_family_clear(g);
    ck_assert_int_eq(metrics_get(g, METRICS_LABELS("y"), &v), -1);
    got = render(reg);
    ck_assert_str_eq(got, "");
    free(got);
    metrics_registry_free(reg);
}
END_TEST

START_TEST(test_observation_errors)
{
    metrics_registry_t *reg = metrics_registry_new();
    metrics_family_t *c = metrics_counter_new(reg, "c_total", "C.", METRICS_LABELS("a", "b"));
    ck_assert_int_eq(metrics_counter_add(c, METRICS_LABELS("x", "y"), -1), -1);
    ck_assert_int_eq(metrics_counter_add(c, METRICS_LABELS("x", "y"), NAN), -1);
    ck_assert_int_eq(metrics_counter_inc(c, NULL), -1);
    ck_assert_int_eq(metrics_counter_inc(c, METRICS_LABELS("only-one")), -1);
    ck_assert_int_eq(metrics_gauge_set(c, METRICS_LABELS("x", "y"), 1), -1); /* wrong type */
    ck_assert_int_eq(metrics_histogram_observe(c, METRICS_LABELS("x", "y"), 1), -1);
    ck_assert_int_eq(metrics_counter_inc(NULL, NULL), -1);
    ck_assert_int_eq(metrics_counter_add(c, METRICS_LABELS("x", "y"), 2.5), 0);
    double v;
    ck_assert_int_eq(metrics_get(c, METRICS_LABELS("x", "y"), &v), 0);
    ck_assert_double_eq(v, 2.5);
    metrics_registry_free(reg);
}
END_TEST

START_TEST(test_registration_is_get_or_create)
{
    metrics_registry_t *reg = metrics_registry_new();
    metrics_family_t *a = metrics_counter_new(reg, "x_total", "X.", METRICS_LABELS("k"));
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_eq(metrics_counter_new(reg, "x_total", "X.", METRICS_LABELS("k")), a);
    ck_assert_ptr_null(metrics_gauge_new(reg, "x_total", "X.", METRICS_LABELS("k")));
    ck_assert_ptr_null(metrics_counter_new(reg, "x_total", "Other help.", METRICS_LABELS("k")));
    ck_assert_ptr_null(metrics_counter_new(reg, "x_total", "X.", METRICS_LABELS("j")));
    ck_assert_ptr_null(metrics_counter_new(reg, "x_total", "X.", NULL));

    ck_assert_ptr_null(metrics_counter_new(reg, "", "bad", NULL));
    ck_assert_ptr_null(metrics_counter_new(reg, "9lives", "bad", NULL));
    ck_assert_ptr_null(metrics_counter_new(reg, "has-dash", "bad", NULL));
    ck_assert_ptr_null(metrics_counter_new(reg, "ok", "bad label", METRICS_LABELS("__x")));
    ck_assert_ptr_null(metrics_counter_new(reg, "ok", "bad label", METRICS_LABELS("a:b")));
    ck_assert_ptr_null(metrics_counter_new(reg, "ok", "dup label", METRICS_LABELS("a", "a")));
    ck_assert_ptr_nonnull(metrics_counter_new(reg, "ns:sub_total", "Colons are fine.", NULL));
    metrics_registry_free(reg);
}
END_TEST

static int collect_calls;

static void collect_cache_sizes(metrics_family_t *f, void *data)
{
    const int *sizes = data;
    collect_calls++;
    metrics_gauge_set(f, METRICS_LABELS("s2iruns"), sizes[0]);
    metrics_gauge_set(f, METRICS_LABELS("jobs"), sizes[1]);
}

static double answer(void *data)
{
    return *(const double *)data;
}

START_TEST(test_collect_callbacks_run_at_scrape)
{
    metrics_registry_t *reg = metrics_registry_new();
    int sizes[2] = {3, 5};
    metrics_family_t *cache =
        metrics_gauge_new(reg, "cache_objects", "Objects in cache.", METRICS_LABELS("resource"));
    metrics_family_set_collect(cache, collect_cache_sizes, sizes);
    double value = 42;
    ck_assert_ptr_nonnull(metrics_gauge_func_new(reg, "the_answer", "Answer.", answer, &value));

    char *got = render(reg);
    ck_assert_int_eq(collect_calls, 1);
    ck_assert_ptr_nonnull(strstr(got, "cache_objects{resource=\"jobs\"} 5\n"
                                      "cache_objects{resource=\"s2iruns\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(got, "the_answer 42\n"));
    free(got);

    sizes[0] = 7;
    value = 0.5;
    got = render(reg);
    ck_assert_int_eq(collect_calls, 2);
    ck_assert_ptr_nonnull(strstr(got, "cache_objects{resource=\"s2iruns\"} 7\n"));
    ck_assert_ptr_nonnull(strstr(got, "the_answer 0.5\n"));
    free(got);
    metrics_registry_free(reg);
}
END_TEST

START_TEST(test_process_collector_reads_proc)
{
    metrics_registry_t *reg = metrics_registry_new();
    ck_assert_int_eq(metrics_process_collector_register(reg), 0);
    char *got = render(reg);
    ck_assert_ptr_nonnull(strstr(got, "# TYPE process_cpu_seconds_total counter\n"));
    ck_assert_ptr_nonnull(strstr(got, "# TYPE process_resident_memory_bytes gauge\n"));
    free(got);

    metrics_family_t *rss = metrics_gauge_new(reg, "process_resident_memory_bytes",
                                              "Resident memory size in bytes.", NULL);
    metrics_family_t *fds =
        metrics_gauge_new(reg, "process_open_fds", "Number of open file descriptors.", NULL);
    metrics_family_t *start =
        metrics_gauge_new(reg, "process_start_time_seconds",
                          "Start time of the process since unix epoch in seconds.", NULL);
    metrics_family_t *cpu = metrics_counter_new(
        reg, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", NULL);
    ck_assert_ptr_nonnull(rss);
    ck_assert_ptr_nonnull(fds);
    ck_assert_ptr_nonnull(start);
    ck_assert_ptr_nonnull(cpu);
    double v;
    ck_assert_int_eq(metrics_get(rss, NULL, &v), 0);
    ck_assert(v > 1024 * 1024);
    ck_assert_int_eq(metrics_get(fds, NULL, &v), 0);
    ck_assert(v >= 3);
    ck_assert_int_eq(metrics_get(start, NULL, &v), 0);
    ck_assert(fabs(v - util_now()) < 3600); /* the test started within the hour */
    ck_assert_int_eq(metrics_get(cpu, NULL, &v), 0);
    ck_assert(v >= 0);

    /* One more open descriptor shows at the next scrape. */
    double before;
    ck_assert_int_eq(metrics_get(fds, NULL, &before), 0);
    int fd = dup(0);
    ck_assert_int_ge(fd, 0);
    got = render(reg);
    free(got);
    ck_assert_int_eq(metrics_get(fds, NULL, &v), 0);
    ck_assert_double_eq(v, before + 1);
    close(fd);
    metrics_registry_free(reg);
}
END_TEST

#define THREADS    8
#define PER_THREAD 20000

typedef struct {
    metrics_registry_t *reg;
    metrics_family_t *counter;
    metrics_family_t *hist;
    metrics_family_t *gauge;
    int id;
} worker_arg_t;

static void *observe_many(void *p)
{
    worker_arg_t *a = p;
    const char *shard = a->id % 2 ? "odd" : "even";
    for (int i = 0; i < PER_THREAD; i++) {
        metrics_counter_inc(a->counter, METRICS_LABELS(shard));
        metrics_histogram_observe(a->hist, METRICS_LABELS(shard), (double)(i % 4));
        metrics_gauge_inc(a->gauge, NULL);
        metrics_gauge_dec(a->gauge, NULL);
        if (i % 1000 == 0) {
            /* Scrapes and deletions of another label set run alongside. */
            char *text = render(a->reg);
            free(text);
            metrics_counter_inc(a->counter, METRICS_LABELS("transient"));
            metrics_family_delete(a->counter, METRICS_LABELS("transient"));
        }
    }
    return NULL;
}

START_TEST(test_concurrent_observations_are_all_counted)
{
    metrics_registry_t *reg = metrics_registry_new();
    const double bounds[] = {0.5, 1.5, 2.5};
    worker_arg_t args[THREADS];
    pthread_t threads[THREADS];
    metrics_family_t *c = metrics_counter_new(reg, "ops_total", "Ops.", METRICS_LABELS("shard"));
    metrics_family_t *h =
        metrics_histogram_new(reg, "ops_value", "Op values.", METRICS_LABELS("shard"), bounds, 3);
    metrics_family_t *g = metrics_gauge_new(reg, "in_flight", "In flight.", NULL);
    for (int i = 0; i < THREADS; i++) {
        args[i] = (worker_arg_t){reg, c, h, g, i};
        ck_assert_int_eq(pthread_create(&threads[i], NULL, observe_many, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);

    double v;
    ck_assert_int_eq(metrics_get(c, METRICS_LABELS("even"), &v), 0);
    ck_assert_double_eq(v, THREADS / 2 * PER_THREAD);
    ck_assert_int_eq(metrics_get(c, METRICS_LABELS("odd"), &v), 0);
    ck_assert_double_eq(v, THREADS / 2 * PER_THREAD);
    ck_assert_int_eq(metrics_get(g, NULL, &v), 0);
    ck_assert_double_eq(v, 0);
    uint64_t count;
    double sum;
    ck_assert_int_eq(metrics_histogram_get(h, METRICS_LABELS("odd"), &count, &sum), 0);
    ck_assert_uint_eq(count, THREADS / 2 * PER_THREAD);
    /* Values cycle 0,1,2,3: a quarter of them in each bucket, sum 1.5 on average. */
    ck_assert_double_eq(sum, 1.5 * THREADS / 2 * PER_THREAD);
    char *text = render(reg);
    char want[128];
    snprintf(want, sizeof(want), "ops_value_bucket{shard=\"odd\",le=\"1.5\"} %d\n",
             THREADS / 2 * PER_THREAD / 2);
    ck_assert_ptr_nonnull(strstr(text, want));
    free(text);
    metrics_registry_free(reg);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_exposition_matches_golden_text);
    tcase_add_test(tc, test_unlabeled_histogram_and_empty_families);
    tcase_add_test(tc, test_label_values_and_help_are_escaped);
    tcase_add_test(tc, test_values_formatted_as_go_formatfloat);
    tcase_add_test(tc, test_histogram_bucket_boundaries);
    tcase_add_test(tc, test_bucket_generators_and_bad_buckets);
    tcase_add_test(tc, test_delete_label_set);
    tcase_add_test(tc, test_observation_errors);
    tcase_add_test(tc, test_registration_is_get_or_create);
    tcase_add_test(tc, test_collect_callbacks_run_at_scrape);
    tcase_add_test(tc, test_process_collector_reads_proc);
    tcase_add_test(tc, test_concurrent_observations_are_all_counted);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(metrics_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

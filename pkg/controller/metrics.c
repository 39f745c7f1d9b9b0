/*
 * metrics: what the controllers export to Prometheus.
 *
 * Upstream's gauges, by namespace, computed at scrape time from the caches (upstream
 * polled every 15 s over all namespaces): s2i_s2irun_active (Running), _failed,
 * _succeed, _unknown (any other state, empty included), s2i_s2ibuilder_created (the
 * KubeSphere project overview sums it). Ours: reconciles and errors per controller,
 * work queue depth/adds/retries and latency histograms, build durations by result,
 * cache sizes, status writes and Jobs created.
 */
#include "controller/internal.h"

#include <stdlib.h>
#include <string.h>

#include "controller/jpath.h"
#include "controller/runstatus.h"

typedef struct ns_count {
    double active, failed, succeed, unknown;
} ns_count_t;

static void count_runs(metrics_family_t *f, void *data)
{
    controller_manager_t *m = data;
    /* One pass per scrape fills all four families: this one is collected first (names
     * sort), and the others read what it left. */
    const char *which = f == m->gauge_active    ? "active"
                        : f == m->gauge_failed  ? "failed"
                        : f == m->gauge_succeed ? "succeed"
                                                : "unknown";
    if (strcmp(which, "active") == 0 || !m->run_counts) {
        strmap_free(m->run_counts);
        m->run_counts = strmap_new(free);
        /* From the runs' projections: listing the runs would parse all of them at once
         * on every scrape (10,000 runs: ~100 MiB, left to malloc after). */
        store_projected_t *runs = NULL;
        size_t n = 0;
        if (m->run_counts && store_list_projections(informer_store(m->runs), &runs, &n) == 0) {
            for (size_t i = 0; i < n; i++) {
                const char *slash = strchr(runs[i].key, '/');
                char ns[256] = "";
                if (slash && (size_t)(slash - runs[i].key) < sizeof ns) {
                    memcpy(ns, runs[i].key, (size_t)(slash - runs[i].key));
                    ns[slash - runs[i].key] = '\0';
                }
                ns_count_t *c = strmap_get(m->run_counts, ns);
                if (!c) {
                    c = calloc(1, sizeof *c);
                    if (!c || strmap_set(m->run_counts, ns, c) < 0) {
                        free(c);
                        continue;
                    }
                }
                const char *st = run_projection_state(&runs[i]);
                st = st ? st : "";
                if (strcmp(st, RUN_STATE_RUNNING) == 0)
                    c->active++;
                else if (strcmp(st, RUN_STATE_FAILED) == 0)
                    c->failed++;
                else if (strcmp(st, RUN_STATE_SUCCESSFUL) == 0)
                    c->succeed++;
                else
                    c->unknown++;
            }
            store_projections_free(runs, n);
        }
    }
    metrics_family_clear(f);
    strmap_iter_t it;
    const char *ns;
    void *v;
    strmap_iter_init(&it, m->run_counts);
    while (strmap_iter_next(&it, &ns, &v)) {
        ns_count_t *c = v;
        double value = strcmp(which, "active") == 0    ? c->active
                       : strcmp(which, "failed") == 0  ? c->failed
                       : strcmp(which, "succeed") == 0 ? c->succeed
                                                       : c->unknown;
        metrics_gauge_set(f, METRICS_LABELS(ns), value);
    }
}

static void count_builders(metrics_family_t *f, void *data)
{
    controller_manager_t *m = data;
    strmap_t *per = strmap_new(free);
    json_object **builders = NULL;
    size_t n = 0;
    if (per && store_list(informer_store(m->builders), &builders, &n) == 0) {
        for (size_t i = 0; i < n; i++) {
            const char *ns = jpath_str_or(builders[i], "metadata.namespace", "");
            double *c = strmap_get(per, ns);
            if (!c) {
                c = calloc(1, sizeof *c);
                if (!c || strmap_set(per, ns, c) < 0) {
                    free(c);
                    continue;
                }
            }
            (*c)++;
        }
        store_objects_free(builders, n);
    }
    metrics_family_clear(f);
    strmap_iter_t it;
    const char *ns;
    void *v;
    if (per) {
        strmap_iter_init(&it, per);
        while (strmap_iter_next(&it, &ns, &v))
            metrics_gauge_set(f, METRICS_LABELS(ns), *(double *)v);
    }
    strmap_free(per);
}

static void collect_counters(metrics_family_t *f, void *data)
{
    controller_manager_t *m = data;
    controller_stats_t st;
    controller_manager_stats(m, &st);
    if (f == m->reconciles) {
        metrics_counter_set(f, METRICS_LABELS("s2irun"), (double)st.run_reconciles);
        metrics_counter_set(f, METRICS_LABELS("s2ibuilder"), (double)st.builder_reconciles);
    } else if (f == m->reconcile_errors) {
        metrics_counter_set(f, METRICS_LABELS("s2irun"), (double)st.run_errors);
        metrics_counter_set(f, METRICS_LABELS("s2ibuilder"), (double)st.builder_errors);
    } else if (f == m->status_writes) {
        metrics_counter_set(f, METRICS_LABELS("s2irun"), (double)st.run_status_writes);
        metrics_counter_set(f, METRICS_LABELS("s2ibuilder"), (double)st.builder_status_writes);
    } else if (f == m->jobs_created_total) {
        metrics_counter_set(f, NULL, (double)st.jobs_created);
    } else if (f == m->cache_objects) {
        metrics_gauge_set(f, METRICS_LABELS("s2iruns"), (double)st.runs_cached);
        metrics_gauge_set(f, METRICS_LABELS("s2ibuilders"), (double)st.builders_cached);
        metrics_gauge_set(f, METRICS_LABELS("jobs"), (double)st.jobs_cached);
        metrics_gauge_set(f, METRICS_LABELS("pods"), (double)st.pods_cached);
    } else if (f == m->cache_bytes) {
        metrics_gauge_set(f, NULL, (double)st.cache_bytes);
    }
}

static void collect_queues(metrics_family_t *f, void *data)
{
    controller_manager_t *m = data;
    struct {
        const char *name;
        wq_t *q;
    } qs[] = {{"s2irun", m->run_queue}, {"s2ibuilder", m->builder_queue}};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(qs); i++) {
        if (!qs[i].q)
            continue;
        wq_stats_t st;
        wq_stats(qs[i].q, &st);
        if (f == m->queue_depth)
            metrics_gauge_set(f, METRICS_LABELS(qs[i].name), (double)st.depth);
        else if (f == m->queue_adds)
            metrics_counter_set(f, METRICS_LABELS(qs[i].name), (double)st.adds_total);
        else if (f == m->queue_retries)
            metrics_counter_set(f, METRICS_LABELS(qs[i].name), (double)st.retries_total);
    }
}

void controller_observe_queue(void *data, wq_metric_t metric, double seconds)
{
    struct queue_metrics *q = data;
    metrics_family_t *f = metric == WQ_METRIC_QUEUE_SECONDS ? q->queue_seconds : q->work_seconds;
    if (f)
        metrics_histogram_observe(f, METRICS_LABELS(q->name), seconds);
}

void controller_observe_run(controller_manager_t *m, json_object *status)
{
    if (!m->run_duration)
        return;
    time_t start, done;
    if (util_parse_rfc3339(jpath_str(status, "startTime"), &start) < 0 ||
        util_parse_rfc3339(jpath_str(status, "completionTime"), &done) < 0)
        return;
    const char *state = jpath_str_or(status, "runState", "Unknown");
    metrics_histogram_observe(m->run_duration, METRICS_LABELS(state), (double)(done - start));
}

void controller_metrics_init(controller_manager_t *m)
{
    metrics_registry_t *reg = m->opts.metrics;
    m->metrics_run_queue.name = "s2irun";
    m->metrics_builder_queue.name = "s2ibuilder";
    if (!reg)
        return;
    m->gauge_active = metrics_gauge_new(reg, "s2i_s2irun_active", "S2iRuns Running, by namespace.",
                                        METRICS_LABELS("namespace"));
    m->gauge_failed = metrics_gauge_new(reg, "s2i_s2irun_failed", "S2iRuns Failed, by namespace.",
                                        METRICS_LABELS("namespace"));
    m->gauge_succeed =
        metrics_gauge_new(reg, "s2i_s2irun_succeed", "S2iRuns Successful, by namespace.",
                          METRICS_LABELS("namespace"));
    m->gauge_unknown = metrics_gauge_new(
        reg, "s2i_s2irun_unknown", "S2iRuns in any other state (none yet included), by namespace.",
        METRICS_LABELS("namespace"));
    metrics_family_t *builders = metrics_gauge_new(
        reg, "s2i_s2ibuilder_created", "S2iBuilders, by namespace.", METRICS_LABELS("namespace"));
    metrics_family_t *runs[] = {m->gauge_active, m->gauge_failed, m->gauge_succeed,
                                m->gauge_unknown};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(runs); i++)
        if (runs[i])
            metrics_family_set_collect(runs[i], count_runs, m);
    if (builders)
        metrics_family_set_collect(builders, count_builders, m);
    m->reconciles = metrics_counter_new(reg, "s2i_controller_reconcile_total",
                                        "Reconciles, by controller.", METRICS_LABELS("controller"));
    m->reconcile_errors = metrics_counter_new(
        reg, "s2i_controller_reconcile_errors_total",
        "Reconciles that failed and were retried, by controller.", METRICS_LABELS("controller"));
    m->status_writes =
        metrics_counter_new(reg, "s2i_controller_status_writes_total",
                            "Status writes, by controller.", METRICS_LABELS("controller"));
    m->jobs_created_total =
        metrics_counter_new(reg, "s2i_controller_jobs_created_total", "Build Jobs created.", NULL);
    m->cache_objects = metrics_gauge_new(
        reg, "s2i_cache_objects", "Objects in the informer caches.", METRICS_LABELS("resource"));
    m->cache_bytes =
        metrics_gauge_new(reg, "s2i_cache_bytes", "Heap bytes held by the informer caches.", NULL);
    metrics_family_t *counters[] = {m->reconciles,         m->reconcile_errors, m->status_writes,
                                    m->jobs_created_total, m->cache_objects,    m->cache_bytes};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(counters); i++)
        if (counters[i])
            metrics_family_set_collect(counters[i], collect_counters, m);
    m->queue_depth = metrics_gauge_new(reg, "s2i_workqueue_depth", "Keys waiting for a worker.",
                                       METRICS_LABELS("name"));
    m->queue_adds =
        metrics_counter_new(reg, "s2i_workqueue_adds_total", "Keys added.", METRICS_LABELS("name"));
    m->queue_retries =
        metrics_counter_new(reg, "s2i_workqueue_retries_total", "Delayed and rate-limited adds.",
                            METRICS_LABELS("name"));
    metrics_family_t *queues[] = {m->queue_depth, m->queue_adds, m->queue_retries};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(queues); i++)
        if (queues[i])
            metrics_family_set_collect(queues[i], collect_queues, m);
    double buckets[12];
    metrics_exponential_buckets(0.001, 4, 12, buckets);
    metrics_family_t *qs = metrics_histogram_new(reg, "s2i_workqueue_queue_duration_seconds",
                                                 "Time a key waited before a worker took it.",
                                                 METRICS_LABELS("name"), buckets, 12);
    metrics_family_t *ws =
        metrics_histogram_new(reg, "s2i_workqueue_work_duration_seconds", "Time a reconcile took.",
                              METRICS_LABELS("name"), buckets, 12);
    m->metrics_run_queue.queue_seconds = m->metrics_builder_queue.queue_seconds = qs;
    m->metrics_run_queue.work_seconds = m->metrics_builder_queue.work_seconds = ws;
    double run_buckets[10];
    metrics_exponential_buckets(5, 2, 10, run_buckets);
    m->run_duration = metrics_histogram_new(
        reg, "s2i_s2irun_duration_seconds",
        "Build time of finished runs (startTime to completionTime), by result.",
        METRICS_LABELS("result"), run_buckets, 10);
}

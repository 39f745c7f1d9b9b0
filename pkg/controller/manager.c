/*
 * manager: informers, indexes, event handlers and worker threads for the S2iRun and
 * S2iBuilder controllers. See controller.h.
 */
#include "controller/internal.h"

#include <malloc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/jpath.h"
#include "controller/runstatus.h"

const kube_resource_t RES_RUNS = {"devops.kubesphere.io", "v1alpha1", "s2iruns", true};
const kube_resource_t RES_BUILDERS = {"devops.kubesphere.io", "v1alpha1", "s2ibuilders", true};
const kube_resource_t RES_TEMPLATES = {"devops.kubesphere.io", "v1alpha1", "s2ibuildertemplates",
                                       false};
const kube_resource_t RES_JOBS = {"batch", "v1", "jobs", true};
const kube_resource_t RES_PODS = {"", "v1", "pods", true};
const kube_resource_t RES_DEPLOYMENTS = {"apps", "v1", "deployments", true};
const kube_resource_t RES_STATEFULSETS = {"apps", "v1", "statefulsets", true};
const kube_resource_t RES_SECRETS = {"", "v1", "secrets", true};

bool split_key(const char *key, char *ns, size_t ns_len, char *name, size_t name_len)
{
    const char *slash = strchr(key, '/');
    if (!slash || (size_t)(slash - key) >= ns_len || strlen(slash + 1) >= name_len)
        return false;
    memcpy(ns, key, (size_t)(slash - key));
    ns[slash - key] = '\0';
    strcpy(name, slash + 1);
    return true;
}

static void enqueue(wq_t *q, const char *ns, const char *name, double delay)
{
    if (!q || !ns || !name || !*name)
        return;
    char key[512];
    if (snprintf(key, sizeof key, "%s/%s", ns, name) >= (int)sizeof key)
        return;
    if (delay > 0)
        wq_add_after(q, key, delay);
    else
        wq_add(q, key);
}

void enqueue_run(controller_manager_t *m, const char *ns, const char *name, double delay)
{
    enqueue(m->run_queue, ns, name, delay);
}

void enqueue_builder(controller_manager_t *m, const char *ns, const char *name, double delay)
{
    enqueue(m->builder_queue, ns, name, delay);
}

void log_api_error(const char *what, const char *key, const kube_result_t *r)
{
    char line[512];
    log_warn(what, "object", key, "error", kube_error_str(r, line, sizeof line), NULL);
}

/* ---- indexes ------------------------------------------------------------------------ */

static int index_run_builder(json_object *obj, void *data, store_values_t *out)
{
    (void)data;
    const char *ns = jpath_str(obj, "metadata.namespace");
    const char *b = jpath_str(obj, "spec.builderName");
    if (!ns || !b || !*b)
        return 0;
    char *v = util_asprintf("%s/%s", ns, b);
    int rc = v ? store_values_add(out, v) : -1;
    free(v);
    return rc;
}

/* The uid of the controlling owner of the given kind. */
static int index_controller_uid(json_object *obj, void *data, store_values_t *out)
{
    const char *kind = data;
    json_object *refs = jpath(obj, "metadata.ownerReferences");
    size_t n =
        refs && json_object_is_type(refs, json_type_array) ? json_object_array_length(refs) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *r = json_object_array_get_idx(refs, i);
        if (jpath_bool(r, "controller", false) && util_streq(jpath_str(r, "kind"), kind))
            return store_values_add(out, jpath_str_or(r, "uid", ""));
    }
    return 0;
}

static int index_builder_template(json_object *obj, void *data, store_values_t *out)
{
    (void)data;
    const char *t = jpath_str(obj, "spec.fromTemplate.name");
    return t && *t ? store_values_add(out, t) : 0;
}

/* A backlog of runs (more waiting than workers take at once): their Jobs go first, the
 * Events about them wait (recorder_set_yield), each up to EVENT_MAX_DELAY seconds. In a
 * burst of 1,000 runs the Events were a third of the API writes. */
#define EVENT_MAX_DELAY 2.0
static bool runs_backlogged(void *data)
{
    controller_manager_t *m = data;
    return m->run_queue && wq_len(m->run_queue) > (size_t)m->opts.workers;
}

/* ---- transforms: what the caches keep ----------------------------------------------- */

static void keep_only(json_object *obj, const char *const *keys)
{
    if (!obj || !json_object_is_type(obj, json_type_object))
        return;
    char *drop[64];
    size_t n = 0;
    json_object_object_foreach(obj, k, v)
    {
        (void)v;
        bool keep = false;
        for (const char *const *p = keys; *p; p++)
            keep |= strcmp(k, *p) == 0;
        if (!keep && n < UTIL_ARRAY_LEN(drop))
            drop[n++] = k;
    }
    for (size_t i = 0; i < n; i++)
        json_object_object_del(obj, drop[i]);
}

/* A Job without its pod template (the build configuration lives there and is the bulk
 * of the object): the controller reads metadata, a few spec fields and status. */
static json_object *transform_job(json_object *obj, void *data)
{
    obj = informer_transform_strip(obj, data);
    const char *spec_keys[] = {"backoffLimit", "activeDeadlineSeconds", "suspend",
                               "ttlSecondsAfterFinished", NULL};
    keep_only(jpath(obj, "spec"), spec_keys);
    return obj;
}

/* A Pod without its spec: status, owner and the upstream builder's result annotations. */
static json_object *transform_pod(json_object *obj, void *data)
{
    obj = informer_transform_strip(obj, data);
    json_object_object_del(obj, "spec");
    json_object *ann = jpath(obj, "metadata.annotations");
    const char *ann_keys[] = {"s2iBuildResult", "s2iBuildSource", NULL};
    keep_only(ann, ann_keys);
    const char *md_keys[] = {"name",
                             "namespace",
                             "uid",
                             "resourceVersion",
                             "creationTimestamp",
                             "deletionTimestamp",
                             "labels",
                             "annotations",
                             "ownerReferences",
                             NULL};
    keep_only(jpath(obj, "metadata"), md_keys);
    return obj;
}

/* ---- handlers ------------------------------------------------------------------------ */

void forget_run(controller_manager_t *m, const char *key, const char *uid)
{
    pthread_mutex_lock(&m->lock);
    strmap_del(m->last_write, key);
    if (m->admitted)
        strmap_del(m->admitted, uid);
    pthread_mutex_unlock(&m->lock);
}

static void run_changed(controller_manager_t *m, json_object *obj, bool builder_too)
{
    const char *ns = jpath_str(obj, "metadata.namespace");
    enqueue_run(m, ns, jpath_str(obj, "metadata.name"), 0);
    if (builder_too)
        enqueue_builder(m, ns, jpath_str(obj, "spec.builderName"), m->opts.builder_status_interval);
}

static void requeue_runs_of_builder(controller_manager_t *m, json_object *builder);

static void on_run_add(json_object *obj, void *data)
{
    controller_manager_t *m = data;
    run_changed(m, obj, true);
    if (!informer_has_synced(m->runs))
        return;
    /* Under a serial policy a new run concerns the builder's other queued runs (a newer
     * run supersedes them under SerialLatestOnly). */
    char bkey[512];
    snprintf(bkey, sizeof bkey, "%s/%s", jpath_str_or(obj, "metadata.namespace", ""),
             jpath_str_or(obj, "spec.builderName", ""));
    json_object *b = informer_get(m->builders, bkey);
    if (b && strcmp(run_policy_of(b), "Parallel") != 0)
        requeue_runs_of_builder(m, b);
    json_object_put(b);
}

static void on_run_update(json_object *old, json_object *obj, void *data)
{
    /* The builder's status depends on runState and startTime only. */
    bool builder =
        !util_streq(jpath_str(old, "status.runState"), jpath_str(obj, "status.runState")) ||
        !util_streq(jpath_str(old, "status.startTime"), jpath_str(obj, "status.startTime")) ||
        jpath_str(obj, "metadata.deletionTimestamp");
    run_changed(data, obj, builder);
    /* A finished build frees a slot for queued runs. */
    if (!runstatus_finished(old) && runstatus_finished(obj))
        enqueue_waiting_runs(data);
}

static void on_run_delete(json_object *obj, void *data)
{
    controller_manager_t *m = data;
    char key[512];
    snprintf(key, sizeof key, "%s/%s", jpath_str_or(obj, "metadata.namespace", ""),
             jpath_str_or(obj, "metadata.name", ""));
    forget_run(m, key, jpath_str_or(obj, "metadata.uid", ""));
    /* A deleted run changes runCount and maybe lastRunName: the builder must not point at
     * a run that is gone (the console spins forever on it). */
    enqueue_builder(m, jpath_str(obj, "metadata.namespace"), jpath_str(obj, "spec.builderName"), 0);
    enqueue_waiting_runs(m);
}

static void requeue_runs_of_builder(controller_manager_t *m, json_object *builder)
{
    char value[512];
    snprintf(value, sizeof value, "%s/%s", jpath_str_or(builder, "metadata.namespace", ""),
             jpath_str_or(builder, "metadata.name", ""));
    char **keys = NULL;
    size_t n = 0;
    if (store_index_keys(informer_store(m->runs), INDEX_RUNS_BY_BUILDER, value, &keys, &n) < 0)
        return;
    for (size_t i = 0; i < n; i++)
        wq_add(m->run_queue, keys[i]);
    store_keys_free(keys, n);
}

static void on_builder_add(json_object *obj, void *data)
{
    controller_manager_t *m = data;
    enqueue_builder(m, jpath_str(obj, "metadata.namespace"), jpath_str(obj, "metadata.name"), 0);
    /* Runs created before their builder wait for it. */
    requeue_runs_of_builder(m, obj);
}

static void on_builder_update(json_object *old, json_object *obj, void *data)
{
    controller_manager_t *m = data;
    enqueue_builder(m, jpath_str(obj, "metadata.namespace"), jpath_str(obj, "metadata.name"), 0);
    /* Only a change its runs can see (spec, annotations, deletion) concerns them: the
     * builder's own status writes must not cost a pass over all its runs. */
    json_object *oa = jpath(old, "metadata.annotations"), *na = jpath(obj, "metadata.annotations");
    if (jpath_int(old, "metadata.generation", 0) != jpath_int(obj, "metadata.generation", 0) ||
        !((oa == NULL && na == NULL) || (oa && na && json_object_equal(oa, na))) ||
        !util_streq(jpath_str(old, "metadata.deletionTimestamp"),
                    jpath_str(obj, "metadata.deletionTimestamp")))
        requeue_runs_of_builder(m, obj);
}

static void on_builder_delete(json_object *obj, void *data)
{
    requeue_runs_of_builder(data, obj);
}

static void on_template_event(json_object *obj, void *data)
{
    controller_manager_t *m = data;
    json_object **builders = NULL;
    size_t n = 0;
    if (store_by_index(informer_store(m->builders), INDEX_BUILDERS_BY_TEMPLATE,
                       jpath_str_or(obj, "metadata.name", ""), &builders, &n) < 0)
        return;
    for (size_t i = 0; i < n; i++)
        on_builder_add(builders[i], m);
    store_objects_free(builders, n);
}

static void on_template_update(json_object *old, json_object *obj, void *data)
{
    (void)old;
    on_template_event(obj, data);
}

/* A Job or Pod event reconciles the run that owns it. */
static void enqueue_owner_run_of_job(controller_manager_t *m, json_object *job)
{
    json_object *refs = jpath(job, "metadata.ownerReferences");
    size_t n =
        refs && json_object_is_type(refs, json_type_array) ? json_object_array_length(refs) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *r = json_object_array_get_idx(refs, i);
        if (jpath_bool(r, "controller", false) && util_streq(jpath_str(r, "kind"), "S2iRun"))
            enqueue_run(m, jpath_str(job, "metadata.namespace"), jpath_str(r, "name"), 0);
    }
}

static void on_job_add(json_object *obj, void *data)
{
    enqueue_owner_run_of_job(data, obj);
}

static void on_job_update(json_object *old, json_object *obj, void *data)
{
    (void)old;
    enqueue_owner_run_of_job(data, obj);
}

static void on_pod_event(json_object *obj, void *data)
{
    controller_manager_t *m = data;
    json_object *refs = jpath(obj, "metadata.ownerReferences");
    size_t n =
        refs && json_object_is_type(refs, json_type_array) ? json_object_array_length(refs) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *r = json_object_array_get_idx(refs, i);
        if (!util_streq(jpath_str(r, "kind"), "Job"))
            continue;
        char key[512];
        snprintf(key, sizeof key, "%s/%s", jpath_str_or(obj, "metadata.namespace", ""),
                 jpath_str_or(r, "name", ""));
        json_object *job = informer_get(m->jobs, key);
        if (job) {
            enqueue_owner_run_of_job(m, job);
            json_object_put(job);
        }
    }
}

static void on_pod_update(json_object *old, json_object *obj, void *data)
{
    (void)old;
    on_pod_event(obj, data);
}

/* ---- workers ------------------------------------------------------------------------- */

typedef struct worker_arg {
    controller_manager_t *m;
    wq_t *queue;
    long (*reconcile)(controller_manager_t *, const char *);
    _Atomic uint64_t *count, *errors;
} worker_arg_t;

static void *worker(void *arg)
{
    worker_arg_t *w = arg;
    char *key;
    /* As controller-runtime: no reconcile before every cache has synced. A run whose Job
     * is not cached yet would look as if its Job had been deleted, a builder with half its
     * runs would get a wrong runCount. */
    while (!w->m->stopped && !controller_manager_wait_for_sync(w->m, 1))
        ;
    while (wq_get(w->queue, &key)) {
        atomic_fetch_add(w->count, 1);
        long rc = w->reconcile(w->m, key);
        if (rc == 0) {
            wq_forget(w->queue, key);
        } else if (rc < 0) {
            atomic_fetch_add(w->errors, 1);
            wq_add_rate_limited(w->queue, key);
        } else {
            wq_forget(w->queue, key);
            wq_add_after(w->queue, key, (double)rc / 1000.0);
        }
        wq_done(w->queue, key);
        free(key);
    }
    free(w);
    return NULL;
}

/* ---- lifecycle ----------------------------------------------------------------------- */

static informer_t *make_informer(controller_manager_t *m, const kube_resource_t *res,
                                 const char *selector, informer_transform_fn transform,
                                 const informer_handlers_t *h)
{
    informer_options_t o = {0};
    o.resource = res;
    o.namespace = res->namespaced ? m->namespace : NULL;
    o.label_selector = selector;
    o.transform = transform ? transform : informer_transform_strip;
    informer_t *inf = informer_new(m->client, &o);
    if (inf && informer_add_handlers(inf, h) < 0) {
        informer_free(inf);
        return NULL;
    }
    return inf;
}

int controller_manager_new(kube_client_t *client, const controller_options_t *opts,
                           controller_manager_t **out)
{
    if (!client || !opts || !opts->builder_image || !*opts->builder_image)
        return -1;
    controller_manager_t *m = calloc(1, sizeof *m);
    if (!m)
        return -1;
    m->client = client;
    m->opts = *opts;
    m->namespace = util_strdup(opts->namespace && *opts->namespace ? opts->namespace : NULL);
    m->builder_image = util_strdup(opts->builder_image);
    m->pull_policy = util_strdup(opts->builder_image_pull_policy);
    m->log_url_base = util_strdup(opts->log_url_base);
    m->instance = util_strdup(opts->instance);
    size_t ni = 0;
    while (opts->insecure_registries && opts->insecure_registries[ni])
        ni++;
    m->insecure = calloc(ni + 1, sizeof *m->insecure);
    for (size_t i = 0; m->insecure && i < ni; i++)
        m->insecure[i] = util_strdup(opts->insecure_registries[i]);
    m->opts.namespace = m->namespace;
    m->opts.builder_image = m->builder_image;
    m->opts.log_url_base = m->log_url_base;
    if (m->opts.workers <= 0)
        m->opts.workers = 2;
    if (m->opts.default_timeout <= 0)
        m->opts.default_timeout = 3600;
    if (m->opts.builder_status_interval <= 0)
        m->opts.builder_status_interval = 1.0;
    if (m->opts.run_status_interval <= 0)
        m->opts.run_status_interval = 3.0;
    if (m->opts.pending_timeout <= 0)
        m->opts.pending_timeout = 600;
    m->jobspec.builder_image = m->builder_image;
    m->jobspec.image_pull_policy = m->pull_policy;
    m->jobspec.default_timeout = m->opts.default_timeout;
    m->jobspec.pending_timeout = m->opts.pending_timeout;
    m->jobspec.insecure_registries = (const char *const *)m->insecure;
    pthread_mutex_init(&m->lock, NULL);
    pthread_mutex_init(&m->admit_lock, NULL);
    m->admitted = strmap_new(free);
    m->last_write = strmap_new(free);

    controller_metrics_init(m);
    wq_options_t qo = {0};
    qo.observe = controller_observe_queue;
    qo.observe_data = &m->metrics_run_queue;
    m->run_queue = wq_new(&qo);
    qo.observe_data = &m->metrics_builder_queue;
    m->builder_queue = wq_new(&qo);
    m->recorder = recorder_new(client, "s2i-operator", m->instance);
    recorder_set_yield(m->recorder, runs_backlogged, m, EVENT_MAX_DELAY);

    informer_handlers_t hr = {on_run_add, on_run_update, on_run_delete, m};
    informer_handlers_t hb = {on_builder_add, on_builder_update, on_builder_delete, m};
    informer_handlers_t ht = {on_template_event, on_template_update, on_template_event, m};
    informer_handlers_t hj = {on_job_add, on_job_update, on_job_add, m};
    informer_handlers_t hp = {on_pod_event, on_pod_update, on_pod_event, m};
    m->runs = make_informer(m, &RES_RUNS, NULL, NULL, &hr);
    m->builders = make_informer(m, &RES_BUILDERS, NULL, NULL, &hb);
    m->templates = make_informer(m, &RES_TEMPLATES, NULL, NULL, &ht);
    m->jobs = make_informer(m, &RES_JOBS, S2I_LABEL_RUN, transform_job, &hj);
    m->pods = make_informer(m, &RES_PODS, S2I_LABEL_RUN, transform_pod, &hp);
    if (!m->last_write || !m->run_queue || !m->builder_queue || !m->recorder || !m->runs ||
        !m->builders || !m->templates || !m->jobs || !m->pods || !m->insecure ||
        store_add_index(informer_store(m->runs), INDEX_RUNS_BY_BUILDER, index_run_builder, NULL) <
            0 ||
        store_set_projection(informer_store(m->runs), builder_run_projection, NULL) < 0 ||
        store_add_index(informer_store(m->builders), INDEX_BUILDERS_BY_TEMPLATE,
                        index_builder_template, NULL) < 0 ||
        store_add_index(informer_store(m->jobs), INDEX_JOBS_BY_RUN, index_controller_uid,
                        "S2iRun") < 0 ||
        store_add_index(informer_store(m->pods), INDEX_PODS_BY_JOB, index_controller_uid, "Job") <
            0) {
        controller_manager_free(m);
        return -1;
    }
    *out = m;
    return 0;
}

int controller_manager_start(controller_manager_t *m)
{
    if (m->started)
        return -1;
    m->started = true;
    informer_t *all[] = {m->templates, m->builders, m->jobs, m->pods, m->runs};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(all); i++)
        if (informer_start(all[i]) < 0)
            return -1;
    return 0;
}

int controller_manager_run(controller_manager_t *m)
{
    if (!m->started || m->workers)
        return -1;
    size_t per = (size_t)m->opts.workers;
    m->workers = calloc(per * 2, sizeof *m->workers);
    if (!m->workers)
        return -1;
    for (size_t i = 0; i < per * 2; i++) {
        worker_arg_t *w = calloc(1, sizeof *w);
        if (!w)
            return -1;
        w->m = m;
        bool runs = i < per;
        w->queue = runs ? m->run_queue : m->builder_queue;
        w->reconcile = runs ? reconcile_run : reconcile_builder;
        w->count = runs ? &m->run_reconciles : &m->builder_reconciles;
        w->errors = runs ? &m->run_errors : &m->builder_errors;
        if (pthread_create(&m->workers[i], NULL, worker, w) != 0) {
            free(w);
            return -1;
        }
        m->nworkers++;
    }
    /* Work queued while this replica was a standby is still valid: the informer handlers
     * enqueued it; nothing to replay. */
    return 0;
}

void controller_manager_release_memory(controller_manager_t *m)
{
    if (!m || !m->run_queue || wq_len(m->run_queue) > 0 || wq_len(m->builder_queue) > 0)
        return;
    uint64_t work = atomic_load(&m->run_reconciles) + atomic_load(&m->builder_reconciles);
    if (work == m->reconciles_at_trim)
        return;
    m->reconciles_at_trim = work;
    malloc_trim(0);
}

bool controller_manager_synced(controller_manager_t *m)
{
    return informer_has_synced(m->runs) && informer_has_synced(m->builders) &&
           informer_has_synced(m->templates) && informer_has_synced(m->jobs) &&
           informer_has_synced(m->pods);
}

bool controller_manager_wait_for_sync(controller_manager_t *m, double timeout)
{
    informer_t *all[] = {m->templates, m->builders, m->jobs, m->pods, m->runs};
    double deadline = util_monotonic() + timeout;
    for (size_t i = 0; i < UTIL_ARRAY_LEN(all); i++) {
        double left = timeout < 0 ? -1 : deadline - util_monotonic();
        if (timeout >= 0 && left <= 0)
            return false;
        if (!informer_wait_for_sync(all[i], left))
            return false;
    }
    return true;
}

void controller_manager_stop(controller_manager_t *m)
{
    if (!m || m->stopped)
        return;
    m->stopped = true;
    if (m->run_queue)
        wq_shutdown_drain(m->run_queue);
    if (m->builder_queue)
        wq_shutdown_drain(m->builder_queue);
    for (size_t i = 0; i < m->nworkers; i++)
        pthread_join(m->workers[i], NULL);
    informer_t *all[] = {m->runs, m->builders, m->templates, m->jobs, m->pods};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(all); i++)
        informer_stop(all[i]);
    /* Queued events are written by recorder_free, within a bounded time. */
}

void controller_manager_free(controller_manager_t *m)
{
    if (!m)
        return;
    controller_manager_stop(m);
    informer_free(m->runs);
    informer_free(m->builders);
    informer_free(m->templates);
    informer_free(m->jobs);
    informer_free(m->pods);
    wq_free(m->run_queue);
    wq_free(m->builder_queue);
    recorder_free(m->recorder);
    strmap_free(m->last_write);
    strmap_free(m->run_counts);
    strmap_free(m->ns_limits);
    strmap_free(m->admitted);
    pthread_mutex_destroy(&m->admit_lock);
    pthread_mutex_destroy(&m->lock);
    for (size_t i = 0; m->insecure && m->insecure[i]; i++)
        free(m->insecure[i]);
    free(m->insecure);
    free(m->workers);
    free(m->namespace);
    free(m->builder_image);
    free(m->pull_policy);
    free(m->log_url_base);
    free(m->instance);
    free(m);
}

void controller_manager_stats(controller_manager_t *m, controller_stats_t *out)
{
    memset(out, 0, sizeof *out);
    out->run_reconciles = atomic_load(&m->run_reconciles);
    out->run_errors = atomic_load(&m->run_errors);
    out->builder_reconciles = atomic_load(&m->builder_reconciles);
    out->builder_errors = atomic_load(&m->builder_errors);
    out->jobs_created = atomic_load(&m->jobs_created);
    out->run_status_writes = atomic_load(&m->run_status_writes);
    out->builder_status_writes = atomic_load(&m->builder_status_writes);
    out->runs_succeeded = atomic_load(&m->runs_succeeded);
    out->runs_failed = atomic_load(&m->runs_failed);
    recorder_stats_t rs;
    recorder_get_stats(m->recorder, &rs);
    out->events_created = rs.created;
    out->events_dropped = rs.dropped;
    informer_t *all[] = {m->runs, m->builders, m->jobs, m->pods, m->templates};
    size_t *counts[] = {&out->runs_cached, &out->builders_cached, &out->jobs_cached,
                        &out->pods_cached, NULL};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(all); i++) {
        informer_stats_t st;
        informer_get_stats(all[i], &st);
        if (counts[i])
            *counts[i] = st.objects;
        out->cache_bytes += st.store_bytes;
    }
}

/* ---- cache access for other modules ------------------------------------------------- */

json_object *controller_manager_get_run(controller_manager_t *m, const char *key)
{
    return informer_has_synced(m->runs) ? informer_get(m->runs, key) : NULL;
}

json_object *controller_manager_get_builder(controller_manager_t *m, const char *key)
{
    return informer_has_synced(m->builders) ? informer_get(m->builders, key) : NULL;
}

json_object *controller_manager_get_template(controller_manager_t *m, const char *name)
{
    return informer_has_synced(m->templates) ? informer_get(m->templates, name) : NULL;
}

void controller_objects_free(json_object **objs, size_t len)
{
    store_objects_free(objs, len);
}

static int pod_newer_first(const void *a, const void *b)
{
    const char *ta = jpath_str_or(*(json_object *const *)a, "metadata.creationTimestamp", "");
    const char *tb = jpath_str_or(*(json_object *const *)b, "metadata.creationTimestamp", "");
    int c = strcmp(tb, ta);
    if (c)
        return c;
    return strcmp(jpath_str_or(*(json_object *const *)b, "metadata.name", ""),
                  jpath_str_or(*(json_object *const *)a, "metadata.name", ""));
}

int controller_manager_run_pods(controller_manager_t *m, json_object *run, json_object ***out,
                                size_t *len)
{
    *out = NULL;
    *len = 0;
    json_object **jobs = NULL;
    size_t njobs = 0;
    if (store_by_index(informer_store(m->jobs), INDEX_JOBS_BY_RUN,
                       jpath_str_or(run, "metadata.uid", ""), &jobs, &njobs) < 0)
        return -1;
    int rc = 0;
    for (size_t j = 0; j < njobs && rc == 0; j++) {
        json_object **pods = NULL;
        size_t n = 0;
        if (store_by_index(informer_store(m->pods), INDEX_PODS_BY_JOB,
                           jpath_str_or(jobs[j], "metadata.uid", ""), &pods, &n) < 0) {
            rc = -1;
            break;
        }
        json_object **grown = realloc(*out, (*len + n) * sizeof *grown);
        if (!grown && *len + n > 0) {
            store_objects_free(pods, n);
            rc = -1;
            break;
        }
        *out = grown;
        for (size_t i = 0; i < n; i++)
            (*out)[(*len)++] = pods[i];
        free(pods);
    }
    store_objects_free(jobs, njobs);
    if (rc < 0) {
        store_objects_free(*out, *len);
        *out = NULL;
        *len = 0;
        return -1;
    }
    if (*len > 1)
        qsort(*out, *len, sizeof **out, pod_newer_first);
    return 0;
}

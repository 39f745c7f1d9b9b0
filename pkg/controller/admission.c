/*
 * admission: whether a run may start its build now (run policy and concurrency limits).
 *
 *   spec.runPolicy on the builder
 *     Parallel          (default) every run starts at once
 *     Serial            one run of the builder at a time, in creation order
 *     SerialLatestOnly  as Serial, and a run that has not started yet is superseded by
 *                       any newer run of the builder (a running one finishes)
 *   --max-concurrent-builds N          builds running at once in the cluster
 *   namespace annotation devops.kubesphere.io/max-concurrent-builds: per namespace
 *
 * Waiting runs are ordered fairly across namespaces: round robin, one run per
 * namespace per round, namespaces in the order of their oldest waiting run, runs of a
 * namespace in creation order -- so one team's storm of runs delays another team's
 * run by at most one slot. Everything is derived from the objects (creation times,
 * Jobs, statuses), never kept in memory, so the order survives operator restarts.
 * Runs create no Job until admitted.
 *
 * With Parallel runs and no limit configured (the common case) the decision costs
 * nothing: no list of all runs is made.
 */
#include "controller/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/jpath.h"
#include "controller/runstatus.h"

#define NS_LIMIT_ANNOTATION "devops.kubesphere.io/max-concurrent-builds"
#define NS_LIMIT_TTL        30.0

typedef struct run_info {
    json_object *run; /* borrowed */
    const char *ns, *name, *builder, *uid;
    double created;
    bool active;  /* its Job runs */
    bool waiting; /* no Job yet, not finished */
    bool eligible;
    size_t round;   /* index among its namespace's eligible waiting runs */
    size_t ns_rank; /* rank of its namespace: order of the namespaces' oldest runs */
} run_info_t;

typedef struct ns_limit {
    long limit;
    double fetched;
} ns_limit_t;

static const kube_resource_t RES_NAMESPACES = {"", "v1", "namespaces", false};

/* A static string: callers may drop the builder object. */
const char *run_policy_of(json_object *builder)
{
    const char *p = jpath_str_or(builder, "spec.runPolicy", "Parallel");
    if (strcmp(p, "Serial") == 0)
        return "Serial";
    if (strcmp(p, "SerialLatestOnly") == 0)
        return "SerialLatestOnly";
    return "Parallel";
}

/* The namespace's build limit from its annotation (0: none), cached for a while. */
static long namespace_limit(controller_manager_t *m, const char *ns)
{
    pthread_mutex_lock(&m->lock);
    ns_limit_t *l = m->ns_limits ? strmap_get(m->ns_limits, ns) : NULL;
    if (l && util_monotonic() - l->fetched < NS_LIMIT_TTL) {
        long v = l->limit;
        pthread_mutex_unlock(&m->lock);
        return v;
    }
    pthread_mutex_unlock(&m->lock);
    long limit = 0;
    kube_result_t r = KUBE_RESULT_INIT;
    if (kube_get(m->client, &RES_NAMESPACES, NULL, ns, &r) == KUBE_OK) {
        const char *v = jpath_child_str(jpath(r.body, "metadata.annotations"), NS_LIMIT_ANNOTATION);
        limit = v ? atol(v) : 0;
        if (limit < 0)
            limit = 0;
    }
    kube_result_clear(&r);
    pthread_mutex_lock(&m->lock);
    if (!m->ns_limits)
        m->ns_limits = strmap_new(free);
    ns_limit_t *nl = m->ns_limits ? calloc(1, sizeof *nl) : NULL;
    if (nl) {
        nl->limit = limit;
        nl->fetched = util_monotonic();
        if (strmap_set(m->ns_limits, ns, nl) < 0)
            free(nl);
    }
    pthread_mutex_unlock(&m->lock);
    return limit;
}

static double created_of(json_object *obj)
{
    time_t t;
    const char *s = jpath_str(obj, "metadata.creationTimestamp");
    return s && util_parse_rfc3339(s, &t) == 0 ? (double)t : 0;
}

static int older_first(const void *a, const void *b)
{
    const run_info_t *x = *(run_info_t *const *)a, *y = *(run_info_t *const *)b;
    if (x->created != y->created)
        return x->created < y->created ? -1 : 1;
    int c = strcmp(x->ns, y->ns);
    return c ? c : strcmp(x->name, y->name);
}

static size_t active_in(const run_info_t *info, size_t n, const char *ns)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += info[i].active && strcmp(info[i].ns, ns) == 0;
    return k;
}

static int fair_first(const void *a, const void *b)
{
    const run_info_t *x = *(run_info_t *const *)a, *y = *(run_info_t *const *)b;
    if (x->round != y->round)
        return x->round < y->round ? -1 : 1;
    return x->ns_rank < y->ns_rank ? -1 : x->ns_rank > y->ns_rank;
}

static bool job_running(json_object *job)
{
    if (jpath_bool(job, "spec.suspend", false))
        return false;
    json_object *conds = jpath(job, "status.conditions");
    size_t n =
        conds && json_object_is_type(conds, json_type_array) ? json_object_array_length(conds) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(conds, i);
        const char *t = jpath_str(c, "type");
        if ((util_streq(t, "Complete") || util_streq(t, "Failed")) &&
            util_streq(jpath_str(c, "status"), "True"))
            return false;
    }
    return true;
}

static bool same_builder(const run_info_t *a, const run_info_t *b)
{
    return strcmp(a->ns, b->ns) == 0 && util_streq(a->builder, b->builder);
}

int run_admission(controller_manager_t *m, json_object *run, json_object *builder, admission_t *out)
{
    memset(out, 0, sizeof *out);
    const char *policy = run_policy_of(builder);
    const char *ns = jpath_str_or(run, "metadata.namespace", "");
    long ns_limit = namespace_limit(m, ns);
    long max = m->opts.max_concurrent_builds;
    if (strcmp(policy, "Parallel") == 0 && max <= 0 && ns_limit <= 0) {
        out->admit = true;
        return 0;
    }
    atomic_store(&m->queueing, true);
    pthread_mutex_lock(&m->admit_lock);
    out->locked = true;
    json_object **runs = NULL, **jobs = NULL;
    size_t nruns = 0, njobs = 0;
    if (store_list(informer_store(m->runs), &runs, &nruns) < 0 ||
        store_list(informer_store(m->jobs), &jobs, &njobs) < 0) {
        store_objects_free(runs, nruns);
        return -1;
    }
    run_info_t *info = calloc(nruns ? nruns : 1, sizeof *info);
    run_info_t **order = calloc(nruns ? nruns : 1, sizeof *order);
    strmap_t *running = strmap_new(NULL); /* run uid -> (void *)1 for runs whose Job runs */
    strmap_t *has_job = strmap_new(NULL);
    strmap_t *policies = strmap_new(NULL); /* "ns/builder" -> policy string (static) */
    int rc = 0;
    if (!info || !order || !running || !has_job || !policies) {
        rc = -1;
        goto out;
    }
    for (size_t i = 0; i < njobs; i++) {
        json_object *refs = jpath(jobs[i], "metadata.ownerReferences");
        for (size_t k = 0; refs && json_object_is_type(refs, json_type_array) &&
                           k < json_object_array_length(refs);
             k++) {
            json_object *ref = json_object_array_get_idx(refs, k);
            if (!util_streq(jpath_str(ref, "kind"), "S2iRun"))
                continue;
            strmap_set(has_job, jpath_str_or(ref, "uid", ""), (void *)1);
            if (job_running(jobs[i]))
                strmap_set(running, jpath_str_or(ref, "uid", ""), (void *)1);
        }
    }
    run_info_t *me = NULL;
    size_t nwait = 0;
    for (size_t i = 0; i < nruns; i++) {
        run_info_t *r = &info[i];
        r->run = runs[i];
        r->ns = jpath_str_or(runs[i], "metadata.namespace", "");
        r->name = jpath_str_or(runs[i], "metadata.name", "");
        r->builder = jpath_str_or(runs[i], "spec.builderName", "");
        r->uid = jpath_str_or(runs[i], "metadata.uid", "");
        r->created = created_of(runs[i]);
        bool finished = runstatus_finished(runs[i]);
        bool deleting = jpath_str(runs[i], "metadata.deletionTimestamp") != NULL;
        pthread_mutex_lock(&m->lock); /* m->admitted */
        double *at = m->admitted ? strmap_get(m->admitted, r->uid) : NULL;
        bool admitted = at != NULL;
        if (at && (strmap_get(has_job, r->uid) || util_monotonic() - *at > 60)) {
            strmap_del(m->admitted, r->uid); /* the cache shows its Job now */
            admitted = false;
        }
        pthread_mutex_unlock(&m->lock);
        r->active = !finished && (strmap_get(running, r->uid) != NULL || admitted);
        r->waiting = !finished && !deleting && !strmap_get(has_job, r->uid) && !admitted &&
                     !jpath_str(runs[i], "status.kubernetesJobName") &&
                     !util_streq(jpath_str(runs[i], "spec.state"), "Cancelled");
        if (util_streq(r->uid, jpath_str(run, "metadata.uid")))
            me = r;
        if (r->waiting)
            order[nwait++] = r;
    }
    if (!me || !me->waiting) {
        out->admit = true; /* it already has a Job: nothing to decide */
        goto out;
    }
    qsort(order, nwait, sizeof *order, older_first);

    /* The builder's policy: superseded or blocked? */
    if (strcmp(policy, "Parallel") != 0) {
        for (size_t i = 0; i < nruns; i++) {
            run_info_t *r = &info[i];
            if (r == me || !same_builder(r, me))
                continue;
            bool newer = r->created > me->created ||
                         (r->created == me->created && strcmp(r->name, me->name) > 0);
            if (strcmp(policy, "SerialLatestOnly") == 0 && newer) {
                out->superseded = true;
                out->reason = util_strdup("Superseded");
                out->message =
                    util_asprintf("superseded by the newer run %s of builder %s (runPolicy "
                                  "SerialLatestOnly)",
                                  r->name, me->builder);
                goto out;
            }
        }
        size_t ahead = 0;
        const char *blocker = NULL;
        for (size_t i = 0; i < nruns; i++) {
            run_info_t *r = &info[i];
            if (r == me || !same_builder(r, me))
                continue;
            if (r->active)
                blocker = r->name;
            else if (r->waiting && older_first(&r, &me) < 0)
                ahead++;
        }
        if (blocker || ahead) {
            out->reason = util_strdup("Queued");
            out->message = util_asprintf("position %zu for builder %s (runPolicy %s)%s%s",
                                         ahead + 1, me->builder, policy,
                                         blocker ? "; running: " : "", blocker ? blocker : "");
            goto out;
        }
    }
    /* Runs that their own builder's policy holds back do not take a place in the shared
     * queue. */
    for (size_t i = 0; i < nwait; i++) {
        run_info_t *w = order[i];
        w->eligible = true;
        char bkey[512];
        snprintf(bkey, sizeof bkey, "%s/%s", w->ns, w->builder);
        const char *p = strmap_get(policies, bkey);
        if (!p) {
            json_object *b = informer_get(m->builders, bkey);
            p = run_policy_of(b);
            json_object_put(b);
            strmap_set(policies, bkey, (void *)p);
        }
        if (strcmp(p, "Parallel") == 0)
            continue;
        for (size_t k = 0; k < nruns && w->eligible; k++) {
            run_info_t *r = &info[k];
            if (r != w && same_builder(r, w) &&
                (r->active || (r->waiting && older_first(&r, &w) < 0)))
                w->eligible = false;
        }
    }
    long active_total = 0, active_ns = 0;
    for (size_t i = 0; i < nruns; i++) {
        if (!info[i].active)
            continue;
        active_total++;
        if (strcmp(info[i].ns, me->ns) == 0)
            active_ns++;
    }
    /* Fair share across namespaces: a run's round is its namespace's running builds plus
     * its index among the namespace's eligible waiting runs, so each freed slot goes to
     * the namespace with the fewest builds running; within a round, namespaces go in the
     * order of their oldest waiting run. */
    strmap_t *seen = strmap_new(free);
    if (!seen) {
        rc = -1;
        goto out;
    }
    size_t nranks = 0, nfair = 0;
    for (size_t i = 0; i < nwait; i++) {
        run_info_t *w = order[i];
        if (!w->eligible)
            continue;
        size_t *counts = strmap_get(seen, w->ns); /* [0] = runs so far, [1] = rank */
        if (!counts) {
            counts = calloc(2, sizeof *counts);
            if (!counts || strmap_set(seen, w->ns, counts) < 0) {
                free(counts);
                strmap_free(seen);
                rc = -1;
                goto out;
            }
            counts[1] = nranks++;
        }
        w->round = counts[0]++ + active_in(info, nruns, w->ns);
        w->ns_rank = counts[1];
        order[nfair++] = w;
    }
    strmap_free(seen);
    qsort(order, nfair, sizeof *order, fair_first);
    size_t position = 0;
    while (position < nfair && order[position] != me)
        position++;
    size_t own_index = me->round - active_in(info, nruns, me->ns);
    bool cluster_ok = max <= 0 || active_total + (long)position < max;
    bool ns_ok = ns_limit <= 0 || active_ns + (long)own_index < ns_limit;
    if (cluster_ok && ns_ok) {
        out->admit = true;
        goto out;
    }
    out->reason = util_strdup("Queued");
    if (!ns_ok)
        out->message =
            util_asprintf("position %zu in namespace %s (%ld builds running, namespace limit "
                          "%ld)",
                          own_index + 1, me->ns, active_ns, ns_limit);
    else
        out->message = util_asprintf("position %zu in the cluster queue (%ld builds running, "
                                     "--max-concurrent-builds %ld)",
                                     position + 1, active_total, max);
out:
    strmap_free(running);
    strmap_free(has_job);
    strmap_free(policies);
    free(order);
    free(info);
    store_objects_free(runs, nruns);
    store_objects_free(jobs, njobs);
    return rc;
}

void admission_clear(admission_t *a)
{
    free(a->reason);
    free(a->message);
    a->reason = a->message = NULL;
}

void admission_done(controller_manager_t *m, admission_t *a, json_object *run, bool created)
{
    if (!a->locked)
        return;
    if (created && m->admitted) {
        double *t = malloc(sizeof *t);
        if (t) {
            *t = util_monotonic();
            pthread_mutex_lock(&m->lock);
            if (strmap_set(m->admitted, jpath_str_or(run, "metadata.uid", ""), t) < 0)
                free(t);
            pthread_mutex_unlock(&m->lock);
        }
    }
    a->locked = false;
    pthread_mutex_unlock(&m->admit_lock);
}

static bool has_job_in_cache(controller_manager_t *m, const char *uid)
{
    char **keys = NULL;
    size_t n = 0;
    if (store_index_keys(informer_store(m->jobs), INDEX_JOBS_BY_RUN, uid, &keys, &n) < 0)
        return false;
    store_keys_free(keys, n);
    return n > 0;
}

/*
 * A slot freed: reconcile the runs that may take it. Only the head of each builder's
 * queue can be next (the fair order takes a namespace's runs in creation order, and a
 * builder's policy holds back all but its oldest run), so those are enqueued, not every
 * waiting run: with a storm of queued runs each admission decision lists the cache, and
 * reconciling all of them on every finished build would cost O(n^2) per build and delay
 * a newly created run behind the whole storm. The others are looked at again by their
 * periodic requeue.
 */
void enqueue_waiting_runs(controller_manager_t *m)
{
    if (!atomic_load(&m->queueing))
        return;
    json_object **runs = NULL;
    size_t n = 0;
    if (store_list(informer_store(m->runs), &runs, &n) < 0)
        return;
    strmap_t *heads = strmap_new(NULL); /* "ns/builder" -> index into runs */
    for (size_t i = 0; i < n; i++) {
        json_object *r = runs[i];
        const char *uid = jpath_str_or(r, "metadata.uid", "");
        if (runstatus_finished(r) || jpath_str(r, "status.kubernetesJobName") ||
            jpath_str(r, "metadata.deletionTimestamp") ||
            util_streq(jpath_str(r, "spec.state"), "Cancelled"))
            continue;
        pthread_mutex_lock(&m->lock);
        bool admitted = m->admitted && strmap_get(m->admitted, uid);
        pthread_mutex_unlock(&m->lock);
        if (admitted || has_job_in_cache(m, uid))
            continue;
        if (!heads) { /* out of memory: fall back to all */
            enqueue_run(m, jpath_str(r, "metadata.namespace"), jpath_str(r, "metadata.name"), 0);
            continue;
        }
        char bkey[512];
        snprintf(bkey, sizeof bkey, "%s/%s", jpath_str_or(r, "metadata.namespace", ""),
                 jpath_str_or(r, "spec.builderName", ""));
        uintptr_t cur = (uintptr_t)strmap_get(heads, bkey);
        run_info_t a = {
            .ns = "", .name = jpath_str_or(r, "metadata.name", ""), .created = created_of(r)};
        if (cur) {
            json_object *h = runs[cur - 1];
            run_info_t b = {
                .ns = "", .name = jpath_str_or(h, "metadata.name", ""), .created = created_of(h)};
            const run_info_t *pa = &a, *pb = &b;
            if (older_first(&pa, &pb) >= 0)
                continue;
        }
        if (strmap_set(heads, bkey, (void *)(uintptr_t)(i + 1)) < 0)
            enqueue_run(m, jpath_str(r, "metadata.namespace"), jpath_str(r, "metadata.name"), 0);
    }
    for (size_t i = 0; heads && i < n; i++) {
        json_object *r = runs[i];
        char bkey[512];
        snprintf(bkey, sizeof bkey, "%s/%s", jpath_str_or(r, "metadata.namespace", ""),
                 jpath_str_or(r, "spec.builderName", ""));
        if ((uintptr_t)strmap_get(heads, bkey) == i + 1)
            enqueue_run(m, jpath_str(r, "metadata.namespace"), jpath_str(r, "metadata.name"), 0);
    }
    strmap_free(heads);
    store_objects_free(runs, n);
}

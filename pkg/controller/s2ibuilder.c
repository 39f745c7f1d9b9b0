/*
 * s2ibuilder: the S2iBuilder reconciler.
 *
 * Status (runCount, lastRunState, lastRunName, lastRunStartTime, Ready) is computed
 * from the runs-by-builder index of the run cache -- never by listing runs -- so its
 * cost does not grow with the cluster. Nor does it parse the builder's runs: the run
 * cache keeps beside each run a summary of the few fields read here (run_summary_t,
 * the store's projection of a run, made once when the run is cached), so a reconcile
 * costs a few comparisons per run and no memory per run beyond a pointer, where
 * inflating and parsing every run took most of the operator's CPU and heap once a
 * builder had thousands of runs. Run events enqueue the builder with a delay of
 * builder_status_interval and the queue folds repeated adds, so a burst of runs costs
 * one status write per interval. Deleting a builder deletes its runs first (finalizer
 * s2ibuilders.finalizers.kubesphere.io, as upstream). History limits delete the oldest
 * finished runs beyond successfulRunsHistoryLimit / failedRunsHistoryLimit.
 */
#include "controller/internal.h"

#include "api/api.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/jpath.h"
#include "controller/runstatus.h"

/* What a builder reconcile reads of a run: the run cache's projection of each run. The
 * name, namespace and uid are the cache's own (store_projected_t). */
typedef struct run_summary {
    double start;   /* status.startTime, 0 when unset or not a time */
    double done;    /* status.completionTime, likewise */
    double created; /* metadata.creationTimestamp, likewise */
    bool deleting;  /* metadata.deletionTimestamp is set */
    /* status.runState, NUL, then status.startTime as the run has it (when start is set:
     * it is passed on as lastRunStartTime), NUL; "" when unset */
    char text[];
} run_summary_t;

typedef struct run_ref {
    const run_summary_t *summary; /* borrowed from the index result */
    const char *name;             /* metadata.name, from the cache key */
    const char *key;              /* "namespace/name" */
    const char *uid;              /* NULL when the run has none */
} run_ref_t;

static double time_of(json_object *obj, const char *path)
{
    time_t t;
    const char *s = jpath_str(obj, path);
    return s && util_parse_rfc3339(s, &t) == 0 ? (double)t : 0;
}

int builder_run_projection(json_object *run, void *data, store_projection_t *out)
{
    (void)data;
    run_summary_t head;
    memset(&head, 0, sizeof head);
    head.start = time_of(run, "status.startTime");
    head.done = time_of(run, "status.completionTime");
    head.created = time_of(run, "metadata.creationTimestamp");
    head.deleting = jpath_str(run, "metadata.deletionTimestamp") != NULL;
    const char *state = jpath_str_or(run, "status.runState", "");
    const char *start = head.start > 0 ? jpath_str_or(run, "status.startTime", "") : "";
    return store_projection_add(out, &head, offsetof(run_summary_t, text)) < 0 ||
                   store_projection_add(out, state, strlen(state) + 1) < 0 ||
                   store_projection_add(out, start, strlen(start) + 1) < 0
               ? -1
               : 0;
}

const char *run_projection_state(const store_projected_t *item)
{
    if (!item->projection || item->projection_len < offsetof(run_summary_t, text) + 2)
        return NULL;
    return ((const run_summary_t *)item->projection)->text;
}

static const char *run_state(const run_ref_t *ref)
{
    return ref->summary->text;
}

static const char *run_start_text(const run_ref_t *ref)
{
    return ref->summary->text + strlen(ref->summary->text) + 1;
}

/* The summary of each run in items, or -1 when one has none (the run cache was made
 * without builder_run_projection). */
static int run_refs(const store_projected_t *items, size_t n, run_ref_t **out)
{
    run_ref_t *refs = calloc(n ? n : 1, sizeof *refs);
    if (!refs)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!items[i].projection || items[i].projection_len < offsetof(run_summary_t, text) + 2) {
            log_error("run cache without run summaries", "object", items[i].key, NULL);
            free(refs);
            return -1;
        }
        const char *slash = strchr(items[i].key, '/');
        refs[i].summary = items[i].projection;
        refs[i].name = slash ? slash + 1 : items[i].key;
        refs[i].key = items[i].key;
        refs[i].uid = *items[i].uid ? items[i].uid : NULL;
    }
    *out = refs;
    return 0;
}

static bool has_finalizer(json_object *obj, const char *fin)
{
    json_object *f = jpath(obj, "metadata.finalizers");
    size_t n = f && json_object_is_type(f, json_type_array) ? json_object_array_length(f) : 0;
    for (size_t i = 0; i < n; i++)
        if (util_streq(json_object_get_string(json_object_array_get_idx(f, i)), fin))
            return true;
    return false;
}

/* Sets the finalizers to the current list with fin added or removed, guarded by the
 * cached resourceVersion (a JSON patch "test"), so a concurrent change is not lost. */
static kube_err_t patch_finalizer(controller_manager_t *m, json_object *obj, const char *fin,
                                  bool add, kube_result_t *res)
{
    json_object *list = json_object_new_array();
    json_object *f = jpath(obj, "metadata.finalizers");
    size_t n = f && json_object_is_type(f, json_type_array) ? json_object_array_length(f) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *v = json_object_array_get_idx(f, i);
        if (!util_streq(json_object_get_string(v), fin))
            json_object_array_add(list, json_object_get(v));
    }
    if (add)
        json_object_array_add(list, json_object_new_string(fin));
    json_object *ops = json_object_new_array();
    json_object *test = json_object_new_object();
    json_object_object_add(test, "op", json_object_new_string("test"));
    json_object_object_add(test, "path", json_object_new_string("/metadata/resourceVersion"));
    json_object_object_add(
        test, "value", json_object_new_string(jpath_str_or(obj, "metadata.resourceVersion", "")));
    json_object_array_add(ops, test);
    json_object *op = json_object_new_object();
    json_object_object_add(op, "op", json_object_new_string(n ? "replace" : "add"));
    json_object_object_add(op, "path", json_object_new_string("/metadata/finalizers"));
    json_object_object_add(op, "value", list);
    json_object_array_add(ops, op);
    kube_err_t err =
        kube_patch(m->client, &RES_BUILDERS, jpath_str(obj, "metadata.namespace"),
                   jpath_str(obj, "metadata.name"), NULL, KUBE_PATCH_JSON,
                   json_object_to_json_string_ext(ops, JSON_C_TO_STRING_PLAIN), NULL, res);
    json_object_put(ops);
    return err;
}

static void delete_run(controller_manager_t *m, const run_ref_t *run, const char *why)
{
    char ns[256], name[512];
    if (!split_key(run->key, ns, sizeof ns, name, sizeof name))
        return; /* runs are namespaced: every key of the index has a namespace */
    kube_result_t res = KUBE_RESULT_INIT;
    kube_delete_options_t opts = KUBE_DELETE_OPTIONS_INIT;
    opts.propagation_policy = "Background";
    opts.precondition_uid = run->uid;
    kube_err_t err = kube_delete(m->client, &RES_RUNS, ns, name, &opts, &res);
    if (err != KUBE_OK && err != KUBE_ERR_NOT_FOUND && err != KUBE_ERR_CONFLICT)
        log_api_error(why, run->name, &res);
    kube_result_clear(&res);
}

/* Oldest first. Times have whole seconds, so runs finishing in the same second are
 * ordered by start, then creation, then name: never the newest deleted by a tie. */
static int by_done_oldest_first(const void *a, const void *b)
{
    const run_ref_t *x = a, *y = b;
    const run_summary_t *sx = x->summary, *sy = y->summary;
    if (sx->done != sy->done)
        return sx->done < sy->done ? -1 : 1;
    if (sx->start != sy->start)
        return sx->start < sy->start ? -1 : 1;
    if (sx->created != sy->created)
        return sx->created < sy->created ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Deletes the oldest finished runs of one outcome beyond limit. Returns how many. */
static size_t apply_history_limit(controller_manager_t *m, run_ref_t *refs, size_t n,
                                  const char *state, long long limit)
{
    if (limit < 0)
        return 0;
    run_ref_t *sel = calloc(n ? n : 1, sizeof *sel);
    if (!sel)
        return 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(run_state(&refs[i]), state) == 0 && !refs[i].summary->deleting)
            sel[k++] = refs[i];
    qsort(sel, k, sizeof *sel, by_done_oldest_first);
    size_t deleted = 0;
    for (size_t i = 0; i + (size_t)limit < k; i++) {
        delete_run(m, &sel[i], "cannot delete run beyond the history limit");
        deleted++;
    }
    free(sel);
    return deleted;
}

/* The Ready condition: what would stop this builder's runs from building, by the same
 * rules as the validating webhook (pkg/api), so a builder that slipped past admission
 * (webhook down, failurePolicy Ignore) says what is wrong with it. */
static void ready_condition(controller_manager_t *m, json_object *builder, const char **status,
                            char **reason, char **message)
{
    *status = "False";
    *reason = NULL;
    *message = NULL;
    const char *tname = jpath_str_or(builder, "spec.fromTemplate.name", NULL);
    json_object *tobj = tname ? informer_get(m->templates, tname) : NULL;
    api_s2ibuilder_t *b = NULL;
    api_s2ibuilder_template_t *t = NULL;
    char *err = NULL;
    api_errors_t errs;
    api_errors_init(&errs);
    if (api_s2ibuilder_decode(builder, &b, &err) < 0) {
        *reason = util_strdup("InvalidConfig");
        *message = err ? err : util_strdup("the builder cannot be decoded");
        err = NULL;
    } else if (tobj && api_s2ibuilder_template_decode(tobj, &t, &err) < 0) {
        *reason = util_strdup("InvalidTemplate");
        *message = err ? err : util_strdup("the template cannot be decoded");
        err = NULL;
    } else if (tname && !tobj) {
        *reason = util_strdup("TemplateNotFound");
        *message = util_asprintf("S2iBuilderTemplate \"%s\" not found", tname);
    } else if (api_s2ibuilder_default(b) == 0 && api_s2ibuilder_validate(b, t, &errs) == 0 &&
               errs.len == 0) {
        *status = "True";
        *reason = util_strdup("Ready");
        *message = util_strdup("runs of this builder can build");
    } else {
        *reason = util_strdup("InvalidConfig");
        *message = api_errors_message(&errs);
    }
    free(err);
    api_errors_clear(&errs);
    api_s2ibuilder_free(b);
    api_s2ibuilder_template_free(t);
    json_object_put(tobj);
}

static json_object *builder_status(controller_manager_t *m, json_object *builder, run_ref_t *refs,
                                   size_t n)
{
    json_object *st = jpath_copy(jpath(builder, "status"));
    if (!st || !json_object_is_type(st, json_type_object)) {
        json_object_put(st);
        st = json_object_new_object();
    }
    size_t count = 0;
    run_ref_t *last = NULL;
    for (size_t i = 0; i < n; i++) {
        const run_summary_t *r = refs[i].summary;
        if (r->deleting)
            continue;
        count++;
        /* Newest by startTime (strictly later wins; runs not started are never last:
         * upstream so#26). */
        if (r->start > 0 &&
            (!last || r->start > last->summary->start ||
             (r->start == last->summary->start && strcmp(refs[i].name, last->name) > 0)))
            last = &refs[i];
    }
    json_object_object_add(st, "runCount", json_object_new_int((int)count));
    if (last) {
        json_object_object_add(st, "lastRunName", json_object_new_string(last->name));
        json_object_object_add(st, "lastRunState", json_object_new_string(run_state(last)));
        json_object_object_add(st, "lastRunStartTime",
                               json_object_new_string(run_start_text(last)));
    } else {
        json_object_object_del(st, "lastRunName");
        json_object_object_del(st, "lastRunState");
        json_object_object_del(st, "lastRunStartTime");
    }
    const char *cstatus;
    char *reason, *message;
    ready_condition(m, builder, &cstatus, &reason, &message);
    long long gen = jpath_int(builder, "metadata.generation", 0);
    json_object *conds = json_object_new_array();
    json_object *cond = json_object_new_object();
    json_object *old = NULL;
    json_object *old_conds = jpath(st, "conditions");
    for (size_t i = 0; old_conds && json_object_is_type(old_conds, json_type_array) &&
                       i < json_object_array_length(old_conds);
         i++)
        if (util_streq(jpath_str(json_object_array_get_idx(old_conds, i), "type"), "Ready"))
            old = json_object_array_get_idx(old_conds, i);
    json_object_object_add(cond, "type", json_object_new_string("Ready"));
    json_object_object_add(cond, "status", json_object_new_string(cstatus));
    json_object_object_add(cond, "reason", json_object_new_string(reason ? reason : ""));
    json_object_object_add(cond, "message", json_object_new_string(message ? message : ""));
    if (old && util_streq(jpath_str(old, "status"), cstatus) &&
        jpath_str(old, "lastTransitionTime")) {
        json_object_object_add(cond, "lastTransitionTime",
                               json_object_new_string(jpath_str(old, "lastTransitionTime")));
    } else {
        char ts[32];
        util_format_rfc3339((time_t)util_now(), ts);
        json_object_object_add(cond, "lastTransitionTime", json_object_new_string(ts));
    }
    if (gen > 0) {
        json_object_object_add(cond, "observedGeneration", json_object_new_int64(gen));
        json_object_object_add(st, "observedGeneration", json_object_new_int64(gen));
    }
    json_object_array_add(conds, cond);
    if (strcmp(cstatus, "False") == 0) {
        /* kstatus: a builder that cannot build until someone edits it is Stalled. */
        json_object *stalled = json_object_new_object();
        json_object_object_add(stalled, "type", json_object_new_string("Stalled"));
        json_object_object_add(stalled, "status", json_object_new_string("True"));
        json_object_object_add(stalled, "reason", json_object_new_string(reason ? reason : ""));
        json_object_object_add(stalled, "message", json_object_new_string(message ? message : ""));
        json_object_object_add(stalled, "lastTransitionTime",
                               json_object_get(jpath(cond, "lastTransitionTime")));
        if (gen > 0)
            json_object_object_add(stalled, "observedGeneration", json_object_new_int64(gen));
        json_object_array_add(conds, stalled);
    }
    json_object_object_add(st, "conditions", conds);
    free(reason);
    free(message);
    return st;
}

long reconcile_builder(controller_manager_t *m, const char *key)
{
    json_object *builder = informer_get(m->builders, key);
    if (!builder)
        return 0;
    store_projected_t *runs = NULL;
    size_t n = 0;
    run_ref_t *refs = NULL;
    long rc = 0;
    kube_result_t res = KUBE_RESULT_INIT;
    if (store_index_projections(informer_store(m->runs), INDEX_RUNS_BY_BUILDER, key, &runs, &n) <
            0 ||
        run_refs(runs, n, &refs) < 0) {
        store_projections_free(runs, n);
        json_object_put(builder);
        return -1;
    }
    if (jpath_str(builder, "metadata.deletionTimestamp")) {
        if (has_finalizer(builder, BUILDER_FINALIZER)) {
            size_t left = 0;
            for (size_t i = 0; i < n; i++) {
                left++;
                if (!refs[i].summary->deleting)
                    delete_run(m, &refs[i], "cannot delete run of a deleted builder");
            }
            if (left) {
                rc = 500;
            } else {
                kube_err_t err = patch_finalizer(m, builder, BUILDER_FINALIZER, false, &res);
                if (err != KUBE_OK && err != KUBE_ERR_NOT_FOUND) {
                    if (err != KUBE_ERR_INVALID && err != KUBE_ERR_CONFLICT)
                        log_api_error("cannot remove builder finalizer", key, &res);
                    rc = err == KUBE_ERR_INVALID || err == KUBE_ERR_CONFLICT ? 200 : -1;
                }
            }
        }
        goto out;
    }
    if (!has_finalizer(builder, BUILDER_FINALIZER)) {
        kube_err_t err = patch_finalizer(m, builder, BUILDER_FINALIZER, true, &res);
        if (err == KUBE_ERR_INVALID || err == KUBE_ERR_CONFLICT) {
            rc = 200; /* the cache is behind: the next event brings us back */
            goto out;
        }
        if (err != KUBE_OK && err != KUBE_ERR_NOT_FOUND) {
            log_api_error("cannot add builder finalizer", key, &res);
            rc = -1;
            goto out;
        }
    }
    size_t deleted =
        apply_history_limit(m, refs, n, RUN_STATE_SUCCESSFUL,
                            jpath(builder, "spec.successfulRunsHistoryLimit")
                                ? jpath_int(builder, "spec.successfulRunsHistoryLimit", -1)
                                : -1) +
        apply_history_limit(m, refs, n, RUN_STATE_FAILED,
                            jpath(builder, "spec.failedRunsHistoryLimit")
                                ? jpath_int(builder, "spec.failedRunsHistoryLimit", -1)
                                : -1);
    if (deleted) {
        /* The status follows once the deletions reach the cache. */
        rc = 0;
        goto out;
    }
    json_object *st = builder_status(m, builder, refs, n);
    if (runstatus_equal(st, jpath(builder, "status"))) {
        json_object_put(st);
        goto out;
    }
    json_object *obj = jpath_copy(builder);
    json_object_object_add(obj, "status", st);
    kube_err_t err = kube_update_status(m->client, &RES_BUILDERS,
                                        jpath_str(builder, "metadata.namespace"), obj, NULL, &res);
    json_object_put(obj);
    if (err == KUBE_OK)
        atomic_fetch_add(&m->builder_status_writes, 1);
    else if (err == KUBE_ERR_CONFLICT)
        rc = 200;
    else if (err != KUBE_ERR_NOT_FOUND) {
        log_api_error("cannot write builder status", key, &res);
        rc = -1;
    }
out:
    kube_result_clear(&res);
    free(refs);
    store_projections_free(runs, n);
    json_object_put(builder);
    return rc;
}

/*
 * s2irun: the S2iRun reconciler. One Job per run, created once; the run's status
 * follows the Job and its pods; a finished run is never written again.
 *
 * Writes per run, in the common case: the Job (the only write before the build
 * starts: the builder label is set at admission by our mutating webhook, the build
 * configuration travels in the Job's pod template), then the status when the pod
 * appears and when the run finishes. Progress in between is written at most once per
 * run_status_interval, except when the pod is stuck (image pull, scheduling): that is
 * written at once.
 */
#include "controller/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/jpath.h"
#include "controller/runstatus.h"

#define LOG_TAIL_LINES     64
#define LOG_TAIL_BYTES     8192
#define REQUEUE_WAITING_MS 15000 /* upstream waits 15 s for a missing builder */

typedef struct run_ctx {
    controller_manager_t *m;
    const char *key;
    char ns[256];
    char name[256];
    json_object *run;
} run_ctx_t;

/* Remembers when the run was last written about (its status, or its Job created): the
 * status writes that are not urgent keep run_status_interval from it. */
static void note_write(controller_manager_t *m, const char *key)
{
    double *t = malloc(sizeof *t);
    if (!t)
        return;
    *t = util_monotonic();
    pthread_mutex_lock(&m->lock);
    if (strmap_set(m->last_write, key, t) < 0)
        free(t);
    pthread_mutex_unlock(&m->lock);
}

/* Writes status to the run (consumes status). 0 written, 1 conflict (the cache is
 * behind: reconcile again soon), -1 error. */
static int write_status(run_ctx_t *c, json_object *status)
{
    /* kstatus conditions (Reconciling / Stalled / Ready) follow runState and Succeeded, so
     * Flux, Argo CD and kstatus tools read progress the standard way. */
    runstatus_apply_kstatus(status, jpath_int(c->run, "metadata.generation", 0), util_now());
    json_object *obj = jpath_copy(c->run);
    if (!obj) {
        json_object_put(status);
        return -1;
    }
    json_object_object_add(obj, "status", status);
    kube_result_t res = KUBE_RESULT_INIT;
    res.skip_body = true; /* the watch brings the new object */
    kube_err_t err = kube_update_status(c->m->client, &RES_RUNS, c->ns, obj, NULL, &res);
    json_object_put(obj);
    int rc = 0;
    if (err == KUBE_OK) {
        atomic_fetch_add(&c->m->run_status_writes, 1);
        note_write(c->m, c->key);
    } else if (err == KUBE_ERR_CONFLICT) {
        rc = 1;
    } else if (err == KUBE_ERR_NOT_FOUND) {
        rc = 0;
    } else {
        log_api_error("cannot write run status", c->key, &res);
        rc = -1;
    }
    kube_result_clear(&res);
    return rc;
}

static long status_rc(int rc)
{
    return rc == 0 ? 0 : rc == 1 ? 200 : -1;
}

static double since_last_write(controller_manager_t *m, const char *key)
{
    pthread_mutex_lock(&m->lock);
    double *t = strmap_get(m->last_write, key);
    double since = t ? util_monotonic() - *t : 1e9;
    pthread_mutex_unlock(&m->lock);
    return since;
}

/* Waiting before any Job: write the reason once (unchanged statuses are not written). */
static long wait_with(run_ctx_t *c, const char *reason, const char *message, long requeue_ms)
{
    json_object *st = runstatus_waiting(c->run, reason, message, util_now());
    json_object *cur = jpath(c->run, "status");
    json_object *cur_cond = jpath(cur, "conditions");
    json_object *new_cond = jpath(st, "conditions");
    bool same = cur_cond && json_object_is_type(cur_cond, json_type_array) && new_cond &&
                json_object_array_length(cur_cond) == json_object_array_length(new_cond) &&
                util_streq(jpath_str(json_object_array_get_idx(cur_cond, 0), "reason"), reason) &&
                util_streq(jpath_str(json_object_array_get_idx(cur_cond, 0), "message"), message);
    if (same) {
        json_object_put(st);
        return requeue_ms;
    }
    /* A queue position moves with every build that starts: tell it, but not more often
     * than every 10 s per run. */
    if (strcmp(reason, "Queued") == 0 && cur_cond && json_object_array_length(cur_cond) > 0 &&
        util_streq(jpath_str(json_object_array_get_idx(cur_cond, 0), "reason"), reason) &&
        since_last_write(c->m, c->key) < 10) {
        json_object_put(st);
        return 10000;
    }
    if (strcmp(reason, "Queued") != 0)
        recorder_event(c->m->recorder, c->run, "Warning", reason, "%s", message);
    int rc = write_status(c, st);
    return rc == 0 ? requeue_ms : status_rc(rc);
}

static long fail_with(run_ctx_t *c, const char *reason, const char *message)
{
    recorder_event(c->m->recorder, c->run, "Warning", reason, "%s", message);
    int rc = write_status(c, runstatus_failed(c->run, reason, message, util_now()));
    if (rc == 0) {
        atomic_fetch_add(&c->m->runs_failed, 1);
        enqueue_builder(c->m, c->ns, jpath_str(c->run, "spec.builderName"), 0);
    }
    return status_rc(rc);
}

static json_object *job_of(controller_manager_t *m, json_object *run)
{
    json_object **jobs = NULL;
    size_t n = 0;
    json_object *job = NULL;
    if (store_by_index(informer_store(m->jobs), INDEX_JOBS_BY_RUN,
                       jpath_str_or(run, "metadata.uid", ""), &jobs, &n) == 0 &&
        n > 0)
        job = json_object_get(jobs[0]);
    store_objects_free(jobs, n);
    return job;
}

/* Sets the builder label when our mutating webhook did not (it is not installed, or
 * the run predates it): the KubeSphere console lists a builder's runs by it. */
static void ensure_builder_label(run_ctx_t *c, const char *builder)
{
    const char *have = jpath_child_str(jpath(c->run, "metadata.labels"), S2I_LABEL_BUILDER_NAME);
    if (util_streq(have, builder) || strlen(builder) > 63)
        return;
    json_object *patch = json_object_new_object();
    json_object *labels = json_object_new_object();
    json_object_object_add(labels, S2I_LABEL_BUILDER_NAME, json_object_new_string(builder));
    jpath_set(patch, "metadata.labels", labels);
    kube_result_t res = KUBE_RESULT_INIT;
    if (kube_patch(c->m->client, &RES_RUNS, c->ns, c->name, NULL, KUBE_PATCH_MERGE,
                   json_object_to_json_string_ext(patch, JSON_C_TO_STRING_PLAIN), NULL,
                   &res) != KUBE_OK)
        log_api_error("cannot label run with its builder", c->key, &res);
    kube_result_clear(&res);
    json_object_put(patch);
}

/* The first Secret the build references that does not exist, as a message; NULL when
 * all exist. A GET per reference: the operator caches no Secrets. */
static char *missing_secret(run_ctx_t *c, json_object *config)
{
    const char *refs[][2] = {
        {"pushAuthentication.secretRef.name", "pushAuthentication"},
        {"pullAuthentication.secretRef.name", "pullAuthentication"},
        {"runtimeAuthentication.secretRef.name", "runtimeAuthentication"},
        {"incrementalAuthentication.secretRef.name", "incrementalAuthentication"},
        {"gitSecretRef.name", "gitSecretRef"}};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(refs); i++) {
        const char *secret = jpath_str_or(config, refs[i][0], NULL);
        if (!secret)
            continue;
        kube_result_t res = KUBE_RESULT_INIT;
        kube_err_t err = kube_get(c->m->client, &RES_SECRETS, c->ns, secret, &res);
        kube_result_clear(&res);
        if (err == KUBE_ERR_NOT_FOUND)
            return util_asprintf("Secret \"%s\" (spec.config.%s) not found in namespace %s", secret,
                                 refs[i][1], c->ns);
    }
    return NULL;
}

static long start_build(run_ctx_t *c)
{
    admission_t adm = {0};
    bool created = false;
    controller_manager_t *m = c->m;
    const char *builder_name = jpath_str_or(c->run, "spec.builderName", NULL);
    if (!builder_name)
        return fail_with(c, "InvalidSpec", "spec.builderName is empty");
    char bkey[512];
    snprintf(bkey, sizeof bkey, "%s/%s", c->ns, builder_name);
    json_object *builder = informer_get(m->builders, bkey);
    if (!builder) {
        char *msg =
            util_asprintf("S2iBuilder \"%s\" not found in namespace %s", builder_name, c->ns);
        long rc =
            wait_with(c, "BuilderNotFound", msg ? msg : "builder not found", REQUEUE_WAITING_MS);
        free(msg);
        return rc;
    }
    json_object *tmpl = NULL;
    const char *tname = jpath_str_or(builder, "spec.fromTemplate.name", NULL);
    if (tname)
        tmpl = informer_get(m->templates, tname);
    char *err = NULL, *warning = NULL;
    json_object *config = jobspec_build_config(c->run, builder, tmpl, &m->jobspec, &err, &warning);
    long rc = 0;
    if (!config) {
        rc = wait_with(c, tname && !tmpl ? "TemplateNotFound" : "InvalidConfig",
                       err ? err : "invalid build configuration", REQUEUE_WAITING_MS);
        goto done;
    }
    if (run_admission(m, c->run, builder, &adm) < 0) {
        rc = -1;
        goto done;
    }
    if (adm.superseded || !adm.admit) {
        admission_done(m, &adm, c->run, false);
        rc = adm.superseded ? fail_with(c, adm.reason, adm.message)
                            : wait_with(c, adm.reason, adm.message, 30000);
        goto done;
    }
    char *missing = missing_secret(c, jpath(config, "config"));
    if (missing) {
        rc = wait_with(c, "SecretNotFound", missing, 10000);
        free(missing);
        goto done;
    }
    ensure_builder_label(c, builder_name);
    if (warning)
        recorder_event(m->recorder, c->run, "Warning", "InlineCredentialsIgnored", "%s", warning);
    json_object *job = jobspec_job(c->run, config, &m->jobspec);
    kube_result_t res = KUBE_RESULT_INIT;
    res.skip_body = true; /* the watch brings the new Job */
    kube_err_t kerr =
        job ? kube_create(m->client, &RES_JOBS, c->ns, job, NULL, &res) : KUBE_ERR_CLIENT;
    const char *job_name = jpath_str_or(job, "metadata.name", "");
    created = kerr == KUBE_OK;
    bool queue_decided = adm.locked;
    admission_done(m, &adm, c->run, created);
    if (kerr == KUBE_OK) {
        atomic_fetch_add(&m->jobs_created, 1);
        note_write(m, c->key);
        /* A slot may still be free: the next in line decides (a chain that stops at the
         * first run that has to wait). */
        if (queue_decided)
            enqueue_waiting_runs(m);
        recorder_event(m->recorder, c->run, "Normal", "Created", "created Job %s to build %s",
                       job_name, jpath_str_or(config, "outputImage", ""));
    } else if (kerr == KUBE_ERR_ALREADY_EXISTS) {
        /* Ours from an earlier reconcile that the cache has not shown yet, or a stranger's:
         * the Job informer tells which on the next event. */
        kube_result_t got = KUBE_RESULT_INIT;
        if (kube_get(m->client, &RES_JOBS, c->ns, job_name, &got) == KUBE_OK) {
            json_object *refs = jpath(got.body, "metadata.ownerReferences");
            bool ours = false;
            for (size_t i = 0; refs && json_object_is_type(refs, json_type_array) &&
                               i < json_object_array_length(refs);
                 i++)
                ours |= util_streq(jpath_str(json_object_array_get_idx(refs, i), "uid"),
                                   jpath_str(c->run, "metadata.uid"));
            if (!ours) {
                char *msg = util_asprintf("a Job named %s exists and does not belong to this run",
                                          job_name);
                rc = fail_with(c, "JobConflict", msg ? msg : "job name taken");
                free(msg);
            } else {
                rc = 500;
            }
        } else {
            rc = -1;
        }
        kube_result_clear(&got);
    } else if (kerr == KUBE_ERR_INVALID || kerr == KUBE_ERR_BAD_REQUEST ||
               kerr == KUBE_ERR_FORBIDDEN) {
        char line[512];
        char *msg =
            util_asprintf("the build Job was refused: %s", kube_error_str(&res, line, sizeof line));
        /* Forbidden: a quota may free up; the others are final. */
        if (kerr == KUBE_ERR_FORBIDDEN)
            rc = wait_with(c, "JobForbidden", msg ? msg : "forbidden", REQUEUE_WAITING_MS);
        else
            rc = fail_with(c, "InvalidJob", msg ? msg : "invalid job");
        free(msg);
    } else {
        log_api_error("cannot create build Job", c->key, &res);
        rc = -1;
    }
    kube_result_clear(&res);
    json_object_put(job);
done:
    admission_done(m, &adm, c->run, created);
    admission_clear(&adm);
    json_object_put(config);
    json_object_put(tmpl);
    json_object_put(builder);
    free(err);
    free(warning);
    return rc;
}

/* The last lines of a container's log, ANSI escape sequences removed, bounded. */
static char *log_tail(controller_manager_t *m, const char *ns, const char *pod,
                      const char *container)
{
    buf_t text = BUF_INIT;
    kube_result_t res = KUBE_RESULT_INIT;
    kube_err_t err = kube_pod_log(m->client, ns, pod, container, LOG_TAIL_LINES, 0, &text, &res);
    kube_result_clear(&res);
    if (err != KUBE_OK) {
        buf_free(&text);
        return NULL;
    }
    buf_t out = BUF_INIT;
    const char *s = buf_str(&text);
    if (text.len > LOG_TAIL_BYTES) {
        s += text.len - LOG_TAIL_BYTES;
        const char *nl = strchr(s, '\n');
        if (nl)
            s = nl + 1;
    }
    for (const char *p = s; *p; p++) {
        if (*p == '\x1b' && p[1] == '[') {
            p += 2;
            while (*p && !((*p >= '@' && *p <= '~')))
                p++;
            if (!*p)
                break;
            continue;
        }
        if ((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t')
            continue;
        buf_putc(&out, *p);
    }
    buf_free(&text);
    return buf_steal(&out);
}

/* The main container of a finished pod: the last app container. */
static const char *main_container(json_object *pod)
{
    json_object *cs = jpath(pod, "status.containerStatuses");
    size_t n = cs && json_object_is_type(cs, json_type_array) ? json_object_array_length(cs) : 0;
    return n ? jpath_str(json_object_array_get_idx(cs, n - 1), "name") : NULL;
}

static bool problem_reason(const char *reason)
{
    return reason && strcmp(reason, "Pending") != 0 && strcmp(reason, "Running") != 0;
}

static const char *cond_reason(json_object *status)
{
    json_object *conds = jpath(status, "conditions");
    size_t n =
        conds && json_object_is_type(conds, json_type_array) ? json_object_array_length(conds) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(conds, i);
        if (util_streq(jpath_str(c, "type"), "Succeeded"))
            return jpath_str(c, "reason");
    }
    return NULL;
}

static const char *cond_message(json_object *status, const char *def)
{
    json_object *conds = jpath(status, "conditions");
    size_t n =
        conds && json_object_is_type(conds, json_type_array) ? json_object_array_length(conds) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(conds, i);
        if (util_streq(jpath_str(c, "type"), "Succeeded"))
            return jpath_str_or(c, "message", def);
    }
    return def;
}

/* Whether the pod cache shows the pod that ended the Job (its termination message holds
 * the build result). No pod at all counts as not yet: the pod watch can lag the Job
 * watch. Either way the wait is bounded: 10s after the Job's end (its pods may be gone
 * for good), none for a deadline. */
static bool pods_caught_up(json_object *job, json_object **pods, size_t npods, run_phase_t phase)
{
    const char *want = phase == RUN_PHASE_SUCCEEDED ? "Succeeded" : "Failed";
    for (size_t i = 0; i < npods; i++)
        if (util_streq(jpath_str(pods[i], "status.phase"), want))
            return true;
    json_object *conds = jpath(job, "status.conditions");
    size_t n =
        conds && json_object_is_type(conds, json_type_array) ? json_object_array_length(conds) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(conds, i);
        if (!util_streq(jpath_str(c, "status"), "True"))
            continue;
        if (util_streq(jpath_str(c, "reason"), "DeadlineExceeded"))
            return true;
        time_t t;
        if (util_parse_rfc3339(jpath_str(c, "lastTransitionTime"), &t) == 0 &&
            util_now() - (double)t > 10)
            return true;
    }
    return false;
}

/* Stops the build (suspends the Job: its pod goes, the Job stays for the console) and
 * fails the run with reason and message. */
static long stop_build(run_ctx_t *c, json_object *job, const char *reason, const char *message)
{
    controller_manager_t *m = c->m;
    if (!jpath_bool(job, "spec.suspend", false)) {
        kube_result_t res = KUBE_RESULT_INIT;
        kube_err_t err =
            kube_patch(m->client, &RES_JOBS, c->ns, jpath_str_or(job, "metadata.name", ""), NULL,
                       KUBE_PATCH_MERGE, "{\"spec\":{\"suspend\":true}}", NULL, &res);
        if (err != KUBE_OK && err != KUBE_ERR_NOT_FOUND) {
            log_api_error("cannot suspend build Job", c->key, &res);
            kube_result_clear(&res);
            return -1;
        }
        kube_result_clear(&res);
    }
    return fail_with(c, reason, message);
}

static double parse_time(const char *s)
{
    time_t t;
    return s && util_parse_rfc3339(s, &t) == 0 ? (double)t : 0;
}

/* When the build itself started: the first container of the newest pod that ran. */
static double build_started(json_object **pods, size_t npods)
{
    double start = 0;
    const char *groups[] = {"status.initContainerStatuses", "status.containerStatuses"};
    for (size_t p = 0; p < npods; p++)
        for (size_t g = 0; g < 2; g++) {
            json_object *list = jpath(pods[p], groups[g]);
            size_t n = list && json_object_is_type(list, json_type_array)
                           ? json_object_array_length(list)
                           : 0;
            for (size_t i = 0; i < n; i++) {
                json_object *cs = json_object_array_get_idx(list, i);
                double t = parse_time(jpath_str(cs, "state.running.startedAt"));
                if (!t)
                    t = parse_time(jpath_str(cs, "state.terminated.startedAt"));
                if (t && (!start || t < start))
                    start = t;
            }
        }
    return start;
}

/* The pending deadline (pod not started within pendingTimeout, counted from the Job's
 * creation) and the build timeout (counted from the start of the build, independent of
 * the time spent pending). Returns milliseconds until the nearer one (0: none); sets
 * *reason and *message when one has passed. */
static long run_deadline(run_ctx_t *c, json_object *builder, json_object *job, json_object **pods,
                         size_t npods, run_phase_t phase, json_object *status, const char **reason,
                         char **message)
{
    controller_manager_t *m = c->m;
    double now = util_now();
    long pending = jobspec_parse_duration(jpath_str(c->run, "spec.pendingTimeout"));
    if (pending <= 0)
        pending = jobspec_parse_duration(jpath_str(builder, "spec.config.pendingTimeout"));
    if (pending <= 0)
        pending = m->opts.pending_timeout;
    long timeout = jobspec_parse_duration(jpath_str(c->run, "spec.timeout"));
    if (timeout <= 0)
        timeout = m->opts.default_timeout;
    double started = build_started(pods, npods);
    if (phase == RUN_PHASE_PENDING) {
        /* Nothing runs: the pod waits for a node, an image, a volume -- even after the
         * prepare step, when the builder image cannot be pulled. */
        double since = parse_time(jpath_str(job, "metadata.creationTimestamp"));
        if (!since)
            return 0;
        double left = since + (double)pending - now;
        if (left <= 0) {
            *reason = "PendingTimeout";
            *message = util_asprintf("the build pod did not start within %lds: %s", pending,
                                     cond_message(status, "no pod was created"));
            return 0;
        }
        return (long)(left * 1000) + 1;
    }
    if (!started)
        return 0;
    double left = started + (double)timeout - now;
    if (left <= 0) {
        *reason = "Timeout";
        *message = util_asprintf("the build did not finish within %ld seconds", timeout);
        return 0;
    }
    return (long)(left * 1000) + 1;
}

static long follow_job(run_ctx_t *c, json_object *job)
{
    controller_manager_t *m = c->m;
    if (util_streq(jpath_str(c->run, "spec.state"), "Cancelled"))
        return stop_build(c, job, "Cancelled", "the run was cancelled; its build was stopped");
    char bkey[512];
    snprintf(bkey, sizeof bkey, "%s/%s", c->ns, jpath_str_or(c->run, "spec.builderName", ""));
    json_object *builder = informer_get(m->builders, bkey);
    json_object **pods = NULL;
    size_t npods = 0;
    store_by_index(informer_store(m->pods), INDEX_PODS_BY_JOB,
                   jpath_str_or(job, "metadata.uid", ""), &pods, &npods);
    runstatus_input_t in = {c->run, builder, job, pods, npods, m->log_url_base, util_now()};
    run_phase_t phase;
    const char *pod_name = NULL, *container = NULL;
    json_object *status = runstatus_from_job(&in, &phase, &pod_name, &container);
    bool finished = phase == RUN_PHASE_SUCCEEDED || phase == RUN_PHASE_FAILED;
    long rc = 0;
    long deadline_ms = 0;
    if (finished && !pods_caught_up(job, pods, npods, phase)) {
        /* The Job says it ended but the pod cache has not seen the pod end yet: its
         * termination message (the build result) is not here. A finished run is never
         * written again, so wait for it rather than record an incomplete result. */
        json_object_put(status);
        rc = 200;
        goto out;
    }
    if (!finished) {
        char *why = NULL;
        const char *deadline_reason = NULL;
        deadline_ms =
            run_deadline(c, builder, job, pods, npods, phase, status, &deadline_reason, &why);
        if (deadline_reason) {
            json_object_put(status);
            rc = stop_build(c, job, deadline_reason, why);
            free(why);
            goto out;
        }
    }
    if (finished && pod_name) {
        if (!container) {
            for (size_t i = 0; i < npods; i++)
                if (util_streq(jpath_str(pods[i], "metadata.name"), pod_name))
                    container = main_container(pods[i]);
        }
        char *tail = log_tail(m, c->ns, pod_name, container);
        if (tail && *tail)
            json_object_object_add(status, "logTail", json_object_new_string(tail));
        free(tail);
    }
    json_object *cur = jpath(c->run, "status");
    if (runstatus_equal(cur, status)) {
        json_object_put(status);
        rc = deadline_ms;
        goto out;
    }
    /* The first sight of the pod is told at once (the console follows logURL); the Job's
     * name alone waits like any progress (its create counts as a write), so a pod that
     * shows up soon brings both in one write. */
    bool first = jpath_str(status, "logURL") &&
                 !util_streq(jpath_str(cur, "logURL"), jpath_str(status, "logURL"));
    const char *new_reason = cond_reason(status);
    bool newly_stuck = problem_reason(new_reason) && !util_streq(new_reason, cond_reason(cur));
    bool urgent = finished || first || newly_stuck;
    if (newly_stuck && !finished && phase == RUN_PHASE_PENDING &&
        (util_streq(new_reason, "ImagePullBackOff") || util_streq(new_reason, "ErrImagePull")))
        recorder_event(m->recorder, c->run, "Warning", "ImagePullFailed", "%s",
                       cond_message(status, "the image cannot be pulled"));
    if (!urgent) {
        double since = since_last_write(m, c->key);
        if (since < m->opts.run_status_interval) {
            json_object_put(status);
            rc = (long)((m->opts.run_status_interval - since) * 1000) + 1;
            if (deadline_ms > 0 && deadline_ms < rc)
                rc = deadline_ms;
            goto out;
        }
    }
    char *reason = util_strdup(cond_reason(status)); /* status is consumed by the write */
    json_object *final = finished ? json_object_get(status) : NULL;
    int wrc = write_status(c, status);
    if (wrc == 0) {
        if (finished) {
            controller_observe_run(m, final);
            if (phase == RUN_PHASE_SUCCEEDED) {
                atomic_fetch_add(&m->runs_succeeded, 1);
                recorder_event(m->recorder, c->run, "Normal", "Succeeded",
                               "the image was built and pushed");
            } else {
                atomic_fetch_add(&m->runs_failed, 1);
                recorder_event(m->recorder, c->run, "Warning", "Failed", "the build failed: %s",
                               reason ? reason : "unknown reason");
            }
            enqueue_builder(m, c->ns, jpath_str(c->run, "spec.builderName"), 0);
        }
    }
    free(reason);
    json_object_put(final);
    rc = status_rc(wrc);
    if (rc == 0 && deadline_ms > 0)
        rc = deadline_ms; /* come back when the pending or build deadline passes */
out:
    store_objects_free(pods, npods);
    json_object_put(builder);
    return rc;
}

/* The cache shows no Job for a run whose status names one: 0 when the API confirms it
 * is gone (or belongs to someone else), else the requeue delay (-1 on API errors). */
static long job_really_gone(run_ctx_t *c)
{
    kube_result_t got = KUBE_RESULT_INIT;
    kube_err_t err = kube_get(c->m->client, &RES_JOBS, c->ns,
                              jpath_str(c->run, "status.kubernetesJobName"), &got);
    long rc = 0;
    if (err == KUBE_OK) {
        json_object *refs = jpath(got.body, "metadata.ownerReferences");
        for (size_t i = 0; refs && json_object_is_type(refs, json_type_array) &&
                           i < json_object_array_length(refs);
             i++)
            if (util_streq(jpath_str(json_object_array_get_idx(refs, i), "uid"),
                           jpath_str(c->run, "metadata.uid")) &&
                !jpath_str(got.body, "metadata.deletionTimestamp"))
                rc = 500; /* ours and alive: the cache catches up */
    } else if (err != KUBE_ERR_NOT_FOUND) {
        log_api_error("cannot look up the build Job", c->key, &got);
        rc = -1;
    }
    kube_result_clear(&got);
    return rc;
}

long reconcile_run(controller_manager_t *m, const char *key)
{
    run_ctx_t c = {.m = m, .key = key};
    if (!split_key(key, c.ns, sizeof c.ns, c.name, sizeof c.name))
        return 0;
    c.run = informer_get(m->runs, key);
    if (!c.run)
        return 0;
    long rc = 0;
    if (jpath_str(c.run, "metadata.deletionTimestamp"))
        goto out;
    if (runstatus_finished(c.run)) {
        forget_run(m, key, jpath_str_or(c.run, "metadata.uid", ""));
        /* The status is final -- but a spec edit after the end (a GitOps tool re-applying
         * a changed run, a late cancel) must still be observed, or kstatus tools would
         * report it in progress forever. Only observedGeneration moves. */
        long long gen = jpath_int(c.run, "metadata.generation", 0);
        if (gen > 0 && jpath_int(c.run, "status.observedGeneration", 0) != gen) {
            json_object *st = jpath_copy(jpath(c.run, "status"));
            json_object *conds = jpath(st, "conditions");
            for (size_t i = 0; conds && json_object_is_type(conds, json_type_array) &&
                               i < json_object_array_length(conds);
                 i++)
                json_object_object_add(json_object_array_get_idx(conds, i), "observedGeneration",
                                       json_object_new_int64(gen));
            json_object_object_add(st, "observedGeneration", json_object_new_int64(gen));
            rc = status_rc(write_status(&c, st));
            goto out;
        }
        /* What remains is upstream's roll-out into workloads. */
        char bkey[512];
        snprintf(bkey, sizeof bkey, "%s/%s", c.ns, jpath_str_or(c.run, "spec.builderName", ""));
        json_object *builder = informer_get(m->builders, bkey);
        if (builder && autoscale_workloads(m, c.run, builder) < 0)
            rc = -1;
        json_object_put(builder);
        goto out;
    }
    json_object *job = job_of(m, c.run);
    if (job) {
        rc = follow_job(&c, job);
        json_object_put(job);
    } else if (jpath_str_or(c.run, "status.kubernetesJobName", NULL) &&
               (rc = job_really_gone(&c)) != 0) {
        /* The Job watch lags the run watch (our own status write of the Job name can
         * arrive first): still there, or the API cannot tell now. */
    } else if (jpath_str_or(c.run, "status.kubernetesJobName", NULL)) {
        char *msg =
            util_asprintf("the build Job %s was deleted before the build finished; the run is "
                          "not built again: create a new S2iRun",
                          jpath_str(c.run, "status.kubernetesJobName"));
        rc = fail_with(&c, "JobDeleted", msg ? msg : "the build Job was deleted");
        free(msg);
    } else if (util_streq(jpath_str(c.run, "spec.state"), "Cancelled")) {
        rc = fail_with(&c, "Cancelled", "the run was cancelled before its build started");
    } else {
        rc = start_build(&c);
    }
out:
    json_object_put(c.run);
    return rc;
}

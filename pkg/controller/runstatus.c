/*
 * runstatus: S2iRun status from the Job and its Pods. See runstatus.h.
 */
#include "controller/runstatus.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/jpath.h"
#include "util/util.h"

static void set_str(json_object *obj, const char *key, const char *value)
{
    json_object_object_add(obj, key, json_object_new_string(value));
}

static void set_time(json_object *obj, const char *key, double t)
{
    char ts[32];
    util_format_rfc3339((time_t)t, ts);
    set_str(obj, key, ts);
}

bool runstatus_finished(json_object *run)
{
    const char *state = jpath_str(run, "status.runState");
    return state &&
           (strcmp(state, RUN_STATE_SUCCESSFUL) == 0 || strcmp(state, RUN_STATE_FAILED) == 0);
}

bool runstatus_equal(json_object *a, json_object *b)
{
    if (!a || !b)
        return a == b;
    return json_object_equal(a, b) != 0;
}

char *runstatus_log_url(const char *base, const char *ns, const char *pod)
{
    if (!base || !*base)
        base = RUNSTATUS_DEFAULT_LOG_URL_BASE;
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    bool kubesphere = strstr(base, "logging.kubesphere.io") != NULL;
    return util_asprintf("%.*s/namespaces/%s/pods/%s%s", (int)n, base, ns, pod,
                         kubesphere ? "?operation=query" : "");
}

void runstatus_put_condition(json_object *status, const char *type, const char *cond_status,
                             const char *reason, const char *message, long long generation,
                             double now)
{
    json_object *conds = jpath(status, "conditions");
    if (!conds || !json_object_is_type(conds, json_type_array)) {
        conds = json_object_new_array();
        json_object_object_add(status, "conditions", conds);
    }
    json_object *cond = NULL;
    size_t n = json_object_array_length(conds);
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(conds, i);
        if (util_streq(jpath_str(c, "type"), type)) {
            cond = c;
            break;
        }
    }
    if (!cond) {
        cond = json_object_new_object();
        set_str(cond, "type", type);
        json_object_array_add(conds, cond);
    }
    if (!util_streq(jpath_str(cond, "status"), cond_status) ||
        !jpath_str(cond, "lastTransitionTime"))
        set_time(cond, "lastTransitionTime", now);
    set_str(cond, "status", cond_status);
    set_str(cond, "reason", reason);
    set_str(cond, "message", message ? message : "");
    if (generation > 0) {
        json_object_object_add(cond, "observedGeneration", json_object_new_int64(generation));
        json_object_object_add(status, "observedGeneration", json_object_new_int64(generation));
    }
}

void runstatus_set_condition(json_object *status, const char *cond_status, const char *reason,
                             const char *message, long long generation, double now)
{
    runstatus_put_condition(status, "Succeeded", cond_status, reason, message, generation, now);
}

static void drop_condition(json_object *status, const char *type)
{
    json_object *conds = jpath(status, "conditions");
    if (!conds || !json_object_is_type(conds, json_type_array))
        return;
    json_object *keep = json_object_new_array();
    size_t n = json_object_array_length(conds);
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(conds, i);
        if (!util_streq(jpath_str(c, "type"), type))
            json_object_array_add(keep, json_object_get(c));
    }
    json_object_object_add(status, "conditions", keep);
}

void runstatus_apply_kstatus(json_object *status, long long generation, double now)
{
    json_object *conds = jpath(status, "conditions");
    const char *reason = NULL, *message = NULL;
    size_t n =
        conds && json_object_is_type(conds, json_type_array) ? json_object_array_length(conds) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(conds, i);
        if (util_streq(jpath_str(c, "type"), "Succeeded")) {
            reason = jpath_str(c, "reason");
            message = jpath_str(c, "message");
        }
    }
    /* Copies: putting conditions rewrites the strings these point into. */
    char *r = util_strdup(reason ? reason : "Pending");
    char *msg = util_strdup(message ? message : "");
    const char *state = jpath_str(status, "runState");
    if (util_streq(state, RUN_STATE_SUCCESSFUL)) {
        drop_condition(status, "Reconciling");
        drop_condition(status, "Stalled");
        runstatus_put_condition(status, "Ready", "True", r, msg, generation, now);
    } else if (util_streq(state, RUN_STATE_FAILED)) {
        drop_condition(status, "Reconciling");
        runstatus_put_condition(status, "Stalled", "True", r, msg, generation, now);
        runstatus_put_condition(status, "Ready", "False", r, msg, generation, now);
    } else {
        drop_condition(status, "Stalled");
        runstatus_put_condition(status, "Reconciling", "True", r, msg, generation, now);
        runstatus_put_condition(status, "Ready", "False", r, msg, generation, now);
    }
    free(r);
    free(msg);
}

static json_object *status_copy(json_object *run)
{
    json_object *st = jpath_copy(jpath(run, "status"));
    if (!st || !json_object_is_type(st, json_type_object)) {
        json_object_put(st);
        st = json_object_new_object();
    }
    return st;
}

json_object *runstatus_failed(json_object *run, const char *reason, const char *message, double now)
{
    json_object *st = status_copy(run);
    set_str(st, "runState", RUN_STATE_FAILED);
    if (!jpath_str(st, "startTime"))
        set_time(st, "startTime", now);
    set_time(st, "completionTime", now);
    runstatus_set_condition(st, "False", reason, message, jpath_int(run, "metadata.generation", 0),
                            now);
    return st;
}

json_object *runstatus_waiting(json_object *run, const char *reason, const char *message,
                               double now)
{
    json_object *st = status_copy(run);
    runstatus_set_condition(st, "Unknown", reason, message,
                            jpath_int(run, "metadata.generation", 0), now);
    return st;
}

/* ---- pods ---------------------------------------------------------------------------- */

static double parse_time(const char *s)
{
    time_t t;
    return s && util_parse_rfc3339(s, &t) == 0 ? (double)t : 0;
}

/* Newest pod first: by creationTimestamp, then name (generated suffixes break ties). */
static int newer(json_object *a, json_object *b)
{
    double ta = parse_time(jpath_str(a, "metadata.creationTimestamp"));
    double tb = parse_time(jpath_str(b, "metadata.creationTimestamp"));
    if (ta != tb)
        return ta > tb ? -1 : 1;
    return strcmp(jpath_str_or(b, "metadata.name", ""), jpath_str_or(a, "metadata.name", ""));
}

static json_object *newest_pod(json_object **pods, size_t n, const char *phase)
{
    json_object *best = NULL;
    for (size_t i = 0; i < n; i++) {
        if (phase && !util_streq(jpath_str(pods[i], "status.phase"), phase))
            continue;
        if (!best || newer(pods[i], best) < 0)
            best = pods[i];
    }
    return best;
}

/* "Reason: message" as s2i-builder writes it: one line (a trailing newline aside), a
 * CamelCase word, a colon, a space. Several lines are a log tail (FallbackToLogsOnError)
 * whose first line only looks like that ("Error: Cannot find module"). */
static bool structured_line(const char *msg, char **reason, char **message)
{
    if (!msg || !isupper((unsigned char)msg[0]))
        return false;
    const char *p = msg;
    while (isalnum((unsigned char)*p))
        p++;
    if (p[0] != ':' || p[1] != ' ' || p - msg > 64)
        return false;
    const char *text = p + 2;
    size_t len = strcspn(text, "\n");
    for (const char *rest = text + len; *rest; rest++)
        if (!isspace((unsigned char)*rest))
            return false;
    *reason = util_asprintf("%.*s", (int)(p - msg), msg);
    *message = util_asprintf("%.*s", (int)len, text);
    return true;
}

static const char *last_line(const char *s, char *out, size_t len)
{
    if (!s)
        return "";
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
        n--;
    size_t start = n;
    while (start > 0 && s[start - 1] != '\n')
        start--;
    size_t m = n - start < len - 1 ? n - start : len - 1;
    memcpy(out, s + start, m);
    out[m] = '\0';
    return out;
}

void runstatus_pod_failure(json_object *pod, char **reason, char **message, const char **container)
{
    *reason = NULL;
    *message = NULL;
    if (container)
        *container = NULL;
    if (util_streq(jpath_str(pod, "status.reason"), "Evicted")) {
        *reason = util_strdup("PodEvicted");
        *message =
            util_asprintf("build pod %s was evicted: %s", jpath_str_or(pod, "metadata.name", ""),
                          jpath_str_or(pod, "status.message", "no reason given"));
        return;
    }
    const char *groups[] = {"status.initContainerStatuses", "status.containerStatuses"};
    for (size_t g = 0; g < 2; g++) {
        json_object *list = jpath(pod, groups[g]);
        size_t n =
            list && json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
        for (size_t i = 0; i < n; i++) {
            json_object *cs = json_object_array_get_idx(list, i);
            json_object *t = jpath(cs, "state.terminated");
            if (!t)
                t = jpath(cs, "lastState.terminated");
            if (!t || jpath_int(t, "exitCode", 0) == 0)
                continue;
            const char *name = jpath_str_or(cs, "name", "?");
            if (container)
                *container = name;
            const char *why = jpath_str(t, "reason");
            const char *msg = jpath_str(t, "message");
            if (util_streq(why, "OOMKilled")) {
                *reason = util_strdup("OOMKilled");
                *message = util_asprintf("container %s ran out of memory (exit code %lld)", name,
                                         (long long)jpath_int(t, "exitCode", 0));
                return;
            }
            if (structured_line(msg, reason, message))
                return;
            char line[256];
            *reason = util_strdup("BuildFailed");
            *message = util_asprintf("container %s exited with code %lld%s%s", name,
                                     (long long)jpath_int(t, "exitCode", 0), msg ? ": " : "",
                                     msg ? last_line(msg, line, sizeof line) : "");
            return;
        }
    }
    *reason = util_strdup("BuildFailed");
    *message = util_asprintf("build pod %s failed", jpath_str_or(pod, "metadata.name", ""));
}

/* Why a pod that has not started its build waits: a waiting container's reason, or the
 * scheduler's. NULL reason when there is nothing to say. */
static void pod_waiting(json_object *pod, const char **reason, const char **message)
{
    *reason = NULL;
    *message = NULL;
    const char *groups[] = {"status.initContainerStatuses", "status.containerStatuses"};
    for (size_t g = 0; g < 2; g++) {
        json_object *list = jpath(pod, groups[g]);
        size_t n =
            list && json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
        for (size_t i = 0; i < n; i++) {
            json_object *w = jpath(json_object_array_get_idx(list, i), "state.waiting");
            const char *r = jpath_str(w, "reason");
            if (r && strcmp(r, "PodInitializing") != 0 && strcmp(r, "ContainerCreating") != 0) {
                *reason = r;
                *message = jpath_str(w, "message");
                return;
            }
        }
    }
    json_object *conds = jpath(pod, "status.conditions");
    size_t n =
        conds && json_object_is_type(conds, json_type_array) ? json_object_array_length(conds) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(conds, i);
        if (util_streq(jpath_str(c, "type"), "PodScheduled") &&
            util_streq(jpath_str(c, "status"), "False")) {
            *reason = jpath_str_or(c, "reason", "Unschedulable");
            *message = jpath_str(c, "message");
            return;
        }
    }
}

/* The step running now: the first container (init order, then main) in state running. */
static const char *running_step(json_object *pod)
{
    const char *groups[] = {"status.initContainerStatuses", "status.containerStatuses"};
    for (size_t g = 0; g < 2; g++) {
        json_object *list = jpath(pod, groups[g]);
        size_t n =
            list && json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
        for (size_t i = 0; i < n; i++) {
            json_object *cs = json_object_array_get_idx(list, i);
            if (jpath(cs, "state.running"))
                return jpath_str(cs, "name");
        }
    }
    return NULL;
}

static json_object *job_condition(json_object *job, const char *type)
{
    json_object *conds = jpath(job, "status.conditions");
    size_t n =
        conds && json_object_is_type(conds, json_type_array) ? json_object_array_length(conds) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(conds, i);
        if (util_streq(jpath_str(c, "type"), type) && util_streq(jpath_str(c, "status"), "True"))
            return c;
    }
    return NULL;
}

/* ---- build result ---------------------------------------------------------------------- */

/* Copies a field of the builder's report when it has the Go type the console's
 * ks-apiserver decodes (a wrong type there breaks its whole cache). */
static void copy_typed(json_object *dst, json_object *src, const char *key, json_type type)
{
    json_object *v = jpath_child(src, key);
    if (!v || !json_object_is_type(v, type))
        return;
    /* Sizes (Go int64 imageSize, uint64 binarySize; CRD int64, minimum 0): json-c
     * holds integers beyond INT64_MAX as uint64, which get_int64 clamps. */
    if (type == json_type_int &&
        (json_object_get_int64(v) < 0 || json_object_get_uint64(v) > (uint64_t)INT64_MAX))
        return;
    json_object_object_add(dst, key, json_object_get(v));
}

static json_object *typed_result(json_object *r)
{
    json_object *out = json_object_new_object();
    const char *strs[] = {"imageName", "imageID", "imageCreated", "commandPull"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(strs); i++)
        copy_typed(out, r, strs[i], json_type_string);
    copy_typed(out, r, "imageSize", json_type_int);
    json_object *tags = jpath_child(r, "imageRepoTags");
    if (tags && json_object_is_type(tags, json_type_array)) {
        json_object *a = json_object_new_array();
        for (size_t i = 0; i < json_object_array_length(tags); i++) {
            json_object *t = json_object_array_get_idx(tags, i);
            if (json_object_is_type(t, json_type_string))
                json_object_array_add(a, json_object_get(t));
        }
        json_object_object_add(out, "imageRepoTags", a);
    }
    return out;
}

static json_object *typed_source(json_object *s)
{
    json_object *out = json_object_new_object();
    const char *strs[] = {"sourceUrl",   "revisionId", "binaryName",    "builderImage",
                          "description", "commitID",   "committerName", "committerEmail"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(strs); i++)
        copy_typed(out, s, strs[i], json_type_string);
    copy_typed(out, s, "binarySize", json_type_int);
    return out;
}

static json_object *parse_object(const char *text)
{
    if (!text)
        return NULL;
    json_object *o = json_tokener_parse(text);
    if (o && !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* The build report: the main container's termination message (our builder) or the pod's
 * s2iBuildResult/s2iBuildSource annotations (the upstream builder image), completed with
 * the builder's configuration as upstream does. */
static void apply_result(json_object *status, json_object *pod, json_object *builder)
{
    json_object *result = NULL, *source = NULL;
    json_object *cs = jpath(pod, "status.containerStatuses");
    size_t n = cs && json_object_is_type(cs, json_type_array) ? json_object_array_length(cs) : 0;
    /* Each object from the first container that reports it. */
    for (size_t i = 0; i < n && !(result && source); i++) {
        json_object *report =
            parse_object(jpath_str(json_object_array_get_idx(cs, i), "state.terminated.message"));
        if (report) {
            json_object *r = jpath(report, "s2iBuildResult");
            json_object *s = jpath(report, "s2iBuildSource");
            if (r && !result)
                result = typed_result(r);
            if (s && !source)
                source = typed_source(s);
            json_object_put(report);
        }
    }
    json_object *ann = jpath(pod, "metadata.annotations");
    if (!result) {
        json_object *r = parse_object(jpath_child_str(ann, "s2iBuildResult"));
        if (r) {
            result = typed_result(r);
            json_object_put(r);
        }
    }
    if (!source) {
        json_object *s = parse_object(jpath_child_str(ann, "s2iBuildSource"));
        if (s) {
            source = typed_source(s);
            json_object_put(s);
        }
    }
    if (!result)
        result = json_object_new_object();
    if (!source)
        source = json_object_new_object();
    json_object *config = jpath(builder, "spec.config");
    const char *image_name = jpath_str(config, "imageName");
    if (image_name)
        set_str(result, "imageName", image_name);
    if (!jpath_str(source, "builderImage") && jpath_str(config, "builderImage"))
        set_str(source, "builderImage", jpath_str(config, "builderImage"));
    if (!jpath_str(source, "sourceUrl") && jpath_str(config, "sourceUrl"))
        set_str(source, "sourceUrl", jpath_str(config, "sourceUrl"));
    /* Credentials written into the URL never reach the status. */
    char *safe_url = jpath_str(source, "sourceUrl")
                         ? util_url_without_credentials(jpath_str(source, "sourceUrl"))
                         : NULL;
    if (safe_url)
        set_str(source, "sourceUrl", safe_url);
    free(safe_url);
    if (!jpath_str(source, "description") && jpath_str_or(config, "description", NULL))
        set_str(source, "description", jpath_str(config, "description"));
    if (!jpath_str(source, "revisionId"))
        set_str(source, "revisionId", jpath_str_or(config, "revisionId", "master"));
    json_object_object_add(status, "s2iBuildResult", result);
    json_object_object_add(status, "s2iBuildSource", source);
}

/* ---- from the Job ------------------------------------------------------------------------- */

json_object *runstatus_from_job(const runstatus_input_t *in, run_phase_t *phase,
                                const char **pod_out, const char **container_out)
{
    json_object *st = status_copy(in->run);
    long long gen = jpath_int(in->run, "metadata.generation", 0);
    const char *ns = jpath_str_or(in->run, "metadata.namespace", "");
    set_str(st, "kubernetesJobName", jpath_str_or(in->job, "metadata.name", ""));
    const char *job_start = jpath_str(in->job, "status.startTime");
    if (!jpath_str(st, "startTime")) {
        if (job_start)
            set_str(st, "startTime", job_start);
        else
            set_time(st, "startTime", in->now);
    }
    json_object *pod = newest_pod(in->pods, in->npods, NULL);
    if (pod) {
        char *url = runstatus_log_url(in->log_url_base, ns, jpath_str_or(pod, "metadata.name", ""));
        if (url)
            set_str(st, "logURL", url);
        free(url);
    }
    if (pod_out)
        *pod_out = pod ? jpath_str(pod, "metadata.name") : NULL;
    if (container_out)
        *container_out = NULL;

    json_object *complete = job_condition(in->job, "Complete");
    json_object *failed = job_condition(in->job, "Failed");
    if (complete) {
        json_object *ok = newest_pod(in->pods, in->npods, "Succeeded");
        *phase = RUN_PHASE_SUCCEEDED;
        set_str(st, "runState", RUN_STATE_SUCCESSFUL);
        const char *done = jpath_str(in->job, "status.completionTime");
        if (done)
            set_str(st, "completionTime", done);
        else
            set_time(st, "completionTime", in->now);
        if (ok) {
            apply_result(st, ok, in->builder);
            if (pod_out)
                *pod_out = jpath_str(ok, "metadata.name");
        } else {
            apply_result(st, NULL, in->builder);
        }
        const char *image = jpath_str(st, "s2iBuildResult.imageID");
        char *msg = util_asprintf("the image was built and pushed%s%s", image ? ": " : "",
                                  image ? image : "");
        runstatus_set_condition(st, "True", "Succeeded", msg, gen, in->now);
        free(msg);
        return st;
    }
    if (failed) {
        *phase = RUN_PHASE_FAILED;
        set_str(st, "runState", RUN_STATE_FAILED);
        const char *when = jpath_str(failed, "lastTransitionTime");
        if (when)
            set_str(st, "completionTime", when);
        else
            set_time(st, "completionTime", in->now);
        json_object *bad = newest_pod(in->pods, in->npods, "Failed");
        if (!bad)
            bad = pod;
        if (bad && pod_out)
            *pod_out = jpath_str(bad, "metadata.name");
        if (util_streq(jpath_str(failed, "reason"), "DeadlineExceeded")) {
            char *msg =
                util_asprintf("the build did not finish within %lld seconds",
                              (long long)jpath_int(in->job, "spec.activeDeadlineSeconds", 0));
            runstatus_set_condition(st, "False", "Timeout", msg, gen, in->now);
            free(msg);
            return st;
        }
        char *reason = NULL, *message = NULL;
        if (bad) {
            runstatus_pod_failure(bad, &reason, &message, container_out);
        } else {
            reason = util_strdup("BuildFailed");
            message = util_strdup(jpath_str_or(failed, "message", "the build Job failed"));
        }
        long long attempts = jpath_int(in->job, "status.failed", 0);
        if (attempts > 1) {
            char *m = util_asprintf("%s (after %lld attempts)", message ? message : "", attempts);
            free(message);
            message = m;
        }
        runstatus_set_condition(st, "False", reason ? reason : "BuildFailed", message, gen,
                                in->now);
        free(reason);
        free(message);
        return st;
    }
    set_str(st, "runState", RUN_STATE_RUNNING);
    const char *step = pod ? running_step(pod) : NULL;
    long long failures = jpath_int(in->job, "status.failed", 0);
    char retry[64] = "";
    if (failures > 0)
        snprintf(retry, sizeof retry, " (retry %lld of %lld)", failures,
                 (long long)jpath_int(in->job, "spec.backoffLimit", 0));
    if (step) {
        *phase = RUN_PHASE_RUNNING;
        char *msg = util_asprintf("step %s is running in pod %s%s", step,
                                  jpath_str_or(pod, "metadata.name", ""), retry);
        runstatus_set_condition(st, "Unknown", "Running", msg, gen, in->now);
        free(msg);
        return st;
    }
    *phase = RUN_PHASE_PENDING;
    if (pod && util_streq(jpath_str(pod, "status.phase"), "Failed")) {
        /* An attempt failed and the Job has not yet retried it (its back-off takes 10 s,
         * then doubles) or given up: say why now, not "waiting for pod to start". */
        char *reason = NULL, *message = NULL;
        runstatus_pod_failure(pod, &reason, &message, container_out);
        char *msg = util_asprintf("pod %s failed: %s%s", jpath_str_or(pod, "metadata.name", ""),
                                  message ? message : "", retry);
        runstatus_set_condition(st, "Unknown", reason ? reason : "BuildFailed", msg, gen, in->now);
        free(msg);
        free(reason);
        free(message);
        return st;
    }
    const char *why = NULL, *what = NULL;
    if (pod)
        pod_waiting(pod, &why, &what);
    char *msg;
    if (why)
        msg = util_asprintf("pod %s: %s%s%s%s", jpath_str_or(pod, "metadata.name", ""), why,
                            what ? ": " : "", what ? what : "", retry);
    else if (pod)
        msg = util_asprintf("waiting for pod %s to start%s", jpath_str_or(pod, "metadata.name", ""),
                            retry);
    else
        msg = util_asprintf("waiting for Job %s to create its pod%s",
                            jpath_str_or(in->job, "metadata.name", ""), retry);
    runstatus_set_condition(st, "Unknown", why ? why : "Pending", msg, gen, in->now);
    free(msg);
    return st;
}

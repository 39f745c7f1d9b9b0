/*
 * httpapi/logs: a run's build log over HTTP — every container of the build pod in
 * execution order, read through the API server's pods/log, followed while the build
 * runs, and the run's status.logTail once the pod is gone.
 *
 * A follow is a session on a thread of its own (the stream outlives the handler), so a
 * long build holds no server worker. It polls: kube_pod_log has no follow mode, so the
 * running container's log is read every poll_interval and only what is new is sent.
 */
#include "httpapi/httpapi_internal.h"

#include <stdlib.h>
#include <string.h>

static const kube_resource_t RES_PODS = {"", "v1", "pods", true};
static const kube_resource_t RES_RUNS = {HTTPAPI_GROUP, "v1alpha1", "s2iruns", true};

#define TEXT_PLAIN "text/plain; charset=utf-8"

typedef struct log_session {
    httpapi_t *api;
    server_stream_t *stream;
    char *ns;
    char *run;      /* the run's name */
    char *only_pod; /* the pod path: this pod only; NULL: the run's pods */
    bool follow;
    char last;          /* the last byte sent ('\n' before any) */
    bool shown_pod;     /* some pod's containers were shown */
    bool waiting_noted; /* "waiting for the build" was sent */
    char **seen;        /* pods shown so far */
    size_t nseen;
    const char *result; /* for s2i_log_requests_total */
} log_session_t;

typedef enum pod_outcome {
    POD_DONE,    /* every container shown to its end (or as far as it got) */
    POD_GONE,    /* the pod was deleted */
    POD_STOPPED, /* the client left or the operator is stopping */
    POD_ERROR,   /* the API server could not be read; a note says so */
} pod_outcome_t;

static void count(httpapi_t *api, const char *result)
{
    if (api->log_requests)
        metrics_counter_inc(api->log_requests, METRICS_LABELS(result));
}

static bool stopped(log_session_t *s)
{
    return atomic_load(&s->api->stopping) || server_stream_is_closed(s->stream);
}

static bool send_bytes(log_session_t *s, const char *data, size_t len)
{
    if (len == 0)
        return !stopped(s);
    if (server_stream_write(s->stream, data, len) < 0)
        return false;
    s->last = data[len - 1];
    return true;
}

/* A line of ours, "==> ... <==", on a line of its own. */
static bool note(log_session_t *s, const char *fmt, ...) UTIL_PRINTF(2, 3);

static bool note(log_session_t *s, const char *fmt, ...)
{
    buf_t line = BUF_INIT;
    if (s->last != '\n')
        buf_putc(&line, '\n');
    buf_puts(&line, "==> ");
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&line, fmt, ap);
    va_end(ap);
    buf_puts(&line, " <==\n");
    bool ok = !line.oom && send_bytes(s, line.data, line.len);
    buf_free(&line);
    return ok;
}

/* Waits up to seconds; false when the stream closed or the operator is stopping. */
static bool pause_for(log_session_t *s, double seconds)
{
    double deadline = util_monotonic() + seconds;
    for (;;) {
        if (stopped(s))
            return false;
        double left = deadline - util_monotonic();
        if (left <= 0)
            return true;
        util_sleep(left < 0.1 ? left : 0.1);
    }
}

static json_object *get_pod(log_session_t *s, const char *name, kube_err_t *err)
{
    kube_result_t r = KUBE_RESULT_INIT;
    *err = kube_get(s->api->client, &RES_PODS, s->ns, name, &r);
    json_object *pod = *err == KUBE_OK ? kube_result_take_body(&r) : NULL;
    if (*err == KUBE_OK && !pod)
        *err = KUBE_ERR_DECODE;
    kube_result_clear(&r);
    return pod;
}

static bool run_finished(json_object *run)
{
    const char *state = httpapi_json_str(run, "status.runState");
    return util_streq(state, "Successful") || util_streq(state, "Failed");
}

/* Whether the session's run has finished, or is gone. */
static bool run_over(log_session_t *s)
{
    kube_err_t err;
    json_object *run = httpapi_get_run(s->api, s->ns, s->run, &err);
    bool over = run ? run_finished(run) : err == KUBE_ERR_NOT_FOUND;
    json_object_put(run);
    return over;
}

/* Sends one container's log: all of it, or (following) until it terminates. */
static pod_outcome_t stream_container(log_session_t *s, const char *pod_name, json_object **pod,
                                      const char *container)
{
    size_t offset = 0;
    bool header = false;
    int failures = 0; /* API errors in a row: a follower rides out a few */
    for (;;) {
        const char *reason;
        /* The state is read before the log: a container seen terminated has its whole
         * log in the read that follows. */
        httpapi_container_state_t st = httpapi_container_state(*pod, container, &reason);
        /* A container that waits in a finished pod, or in a finished run's pod (an image
         * that never pulls fails the run, not the pod), never starts. */
        if (st == HTTPAPI_CONTAINER_WAITING &&
            (!s->follow || httpapi_pod_finished(*pod) || run_over(s))) {
            bool ok =
                s->follow || httpapi_pod_finished(*pod)
                    ? note(s, "%s: did not run%s%s%s", container, reason ? " (" : "",
                           reason ? reason : "", reason ? ")" : "")
                    : note(s, "%s: not started yet (%s)", container, reason ? reason : "waiting");
            return ok ? POD_DONE : POD_STOPPED;
        }
        if (st != HTTPAPI_CONTAINER_WAITING) {
            if (!header && !note(s, "%s", container))
                return POD_STOPPED;
            header = true;
            buf_t text = BUF_INIT;
            kube_result_t r = KUBE_RESULT_INIT;
            kube_err_t err =
                kube_pod_log(s->api->client, s->ns, pod_name, container, 0, 0, &text, &r);
            pod_outcome_t outcome = POD_DONE;
            bool sent = true;
            if (err == KUBE_OK) {
                if (text.len < offset) {
                    /* The kubelet rotated the file: what is there now is all we can get. */
                    sent = note(s, "%s: log rotated, continuing with the current file", container);
                    offset = 0;
                }
                if (sent && text.len > offset)
                    sent = send_bytes(s, text.data + offset, text.len - offset);
                offset = text.len;
            } else if (err == KUBE_ERR_NOT_FOUND) {
                outcome = POD_GONE;
            } else if (err != KUBE_ERR_BAD_REQUEST &&
                       (!s->follow || ++failures > HTTPAPI_FOLLOW_MAX_FAILURES)) {
                /* 400: the container is not started as far as the kubelet knows (our view
                 * of the pod was ahead of it); anything else is worth a note. */
                char line[256];
                sent = note(s, "%s: the log cannot be read: %s", container,
                            kube_error_str(&r, line, sizeof line));
                outcome = POD_ERROR;
            }
            if (err == KUBE_OK)
                failures = 0;
            buf_free(&text);
            kube_result_clear(&r);
            if (!sent)
                return POD_STOPPED;
            if (outcome != POD_DONE)
                return outcome;
            /* A terminated container's log is complete; a transient error reads it again. */
            bool transient = err != KUBE_OK && err != KUBE_ERR_BAD_REQUEST;
            if (!s->follow || (st == HTTPAPI_CONTAINER_TERMINATED && !transient))
                return POD_DONE;
        }
        if (!pause_for(s, s->api->poll_interval))
            return POD_STOPPED;
        kube_err_t err;
        json_object *fresh = get_pod(s, pod_name, &err);
        if (fresh) {
            json_object_put(*pod);
            *pod = fresh;
        } else if (err == KUBE_ERR_NOT_FOUND) {
            return POD_GONE;
        } else if (++failures > HTTPAPI_FOLLOW_MAX_FAILURES) {
            return note(s, "pod %s cannot be read: %s", pod_name, kube_err_name(err)) ? POD_ERROR
                                                                                      : POD_STOPPED;
        }
    }
}

/* Sends the pod's containers in execution order. */
static pod_outcome_t stream_pod(log_session_t *s, const char *pod_name)
{
    kube_err_t err;
    json_object *pod = get_pod(s, pod_name, &err);
    if (!pod) {
        if (err == KUBE_ERR_NOT_FOUND)
            return POD_GONE;
        return note(s, "pod %s cannot be read: %s", pod_name, kube_err_name(err)) ? POD_ERROR
                                                                                  : POD_STOPPED;
    }
    /* Copies: stream_container replaces the pod object the names point into. */
    const char **borrowed = NULL;
    size_t n = 0;
    char **names = NULL;
    pod_outcome_t outcome = POD_DONE;
    if (httpapi_pod_containers(pod, &borrowed, &n) < 0 ||
        (n > 0 && !(names = calloc(n, sizeof *names))))
        outcome = POD_ERROR;
    for (size_t i = 0; i < n && names; i++)
        if (!(names[i] = strdup(borrowed[i])))
            outcome = POD_ERROR;
    free(borrowed);
    if (s->shown_pod && outcome == POD_DONE && !note(s, "pod %s (a retry)", pod_name))
        outcome = POD_STOPPED;
    if (outcome == POD_DONE)
        s->shown_pod = true;
    for (size_t i = 0; i < n && outcome == POD_DONE; i++)
        outcome = stream_container(s, pod_name, &pod, names[i]);
    for (size_t i = 0; i < n && names; i++)
        free(names[i]);
    free(names);
    json_object_put(pod);
    if (outcome == POD_GONE && !note(s, "pod %s was deleted", pod_name))
        outcome = POD_STOPPED;
    return outcome;
}

static bool seen(const log_session_t *s, const char *pod)
{
    for (size_t i = 0; i < s->nseen; i++)
        if (strcmp(s->seen[i], pod) == 0)
            return true;
    return false;
}

static void mark_seen(log_session_t *s, const char *pod)
{
    char **grown = realloc(s->seen, (s->nseen + 1) * sizeof *grown);
    if (!grown)
        return;
    s->seen = grown;
    if ((s->seen[s->nseen] = strdup(pod)) != NULL)
        s->nseen++;
}

/* The next pod to show, malloc'd, or NULL. The first: the pod the run's logURL names
 * when the run has finished (the controller points it at the pod that tells the story),
 * else the newest; the pods before it are history and are not shown. Then: a newer pod
 * (a retry) when one appears. */
static char *next_pod(log_session_t *s, json_object *run)
{
    json_object **pods = NULL;
    size_t n = 0;
    if (httpapi_run_pods(s->api, run, &pods, &n) < 0)
        return NULL;
    char *pick = NULL;
    bool first = s->nseen == 0;
    if (first && run_finished(run)) {
        char *wanted = httpapi_log_url_pod(httpapi_json_str(run, "status.logURL"));
        for (size_t i = 0; wanted && i < n && !pick; i++)
            if (util_streq(httpapi_json_str(pods[i], "metadata.name"), wanted))
                pick = strdup(wanted);
        free(wanted);
    }
    for (size_t i = 0; i < n && !pick; i++) {
        const char *name = httpapi_json_str(pods[i], "metadata.name");
        if (name && !seen(s, name))
            pick = strdup(name);
    }
    for (size_t i = 0; i < n && first && pick; i++) {
        const char *name = httpapi_json_str(pods[i], "metadata.name");
        if (name && strcmp(name, pick) != 0)
            mark_seen(s, name);
    }
    controller_objects_free(pods, n);
    return pick;
}

/* What is left once the pod is gone: the run's status.logTail. */
static void send_fallback(log_session_t *s, json_object *run)
{
    const char *tail = httpapi_json_str(run, "status.logTail");
    s->result = "fallback";
    if (tail && *tail) {
        if (note(s, "the build pod is gone: the last lines of its log, kept in status.logTail") &&
            send_bytes(s, tail, strlen(tail)) && s->last != '\n')
            send_bytes(s, "\n", 1);
    } else if (run_finished(run)) {
        note(s, "the build pod is gone and the run kept no log");
    } else {
        s->result = "ok";
        note(s, "the build has not started yet");
    }
}

static void session_run(log_session_t *s)
{
    for (;;) {
        kube_err_t err;
        json_object *run = httpapi_get_run(s->api, s->ns, s->run, &err);
        if (!run) {
            note(s, err == KUBE_ERR_NOT_FOUND ? "run %s was deleted" : "run %s cannot be read",
                 s->run);
            return;
        }
        bool finished = run_finished(run);
        char *pod = NULL;
        if (s->only_pod)
            pod = s->nseen == 0 ? strdup(s->only_pod) : NULL;
        else
            pod = next_pod(s, run);
        if (!pod) {
            bool more = s->follow && !finished && !s->only_pod;
            if (!more && !s->shown_pod)
                send_fallback(s, run);
            else if (!more && s->follow && !s->only_pod)
                note(s, "run %s: %s", s->run, httpapi_json_str(run, "status.runState"));
            else if (more && !s->shown_pod && !s->waiting_noted)
                s->waiting_noted = note(s, "waiting for the build of run %s to start", s->run);
            json_object_put(run);
            if (!more || !pause_for(s, s->api->poll_interval))
                return;
            continue;
        }
        json_object_put(run);
        pod_outcome_t outcome = stream_pod(s, pod);
        mark_seen(s, pod);
        free(pod);
        /* A pod deleted before anything of it was shown: go round again, which ends in
         * the fallback (or, following, waits for a retry's pod). */
        if (outcome == POD_STOPPED || outcome == POD_ERROR)
            return;
        if (!s->follow && s->shown_pod)
            return;
    }
}

static void session_free(log_session_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nseen; i++)
        free(s->seen[i]);
    free(s->seen);
    free(s->ns);
    free(s->run);
    free(s->only_pod);
    free(s);
}

static void *follow_thread(void *arg)
{
    log_session_t *s = arg;
    httpapi_t *api = s->api;
    session_run(s);
    server_stream_close(s->stream);
    session_free(s);
    if (api->streams_open)
        metrics_gauge_dec(api->streams_open, NULL);
    pthread_mutex_lock(&api->lock);
    api->streams--;
    pthread_cond_broadcast(&api->wake);
    pthread_mutex_unlock(&api->lock);
    return NULL;
}

/* Takes a follow slot; false when all are in use or the operator is stopping. */
static bool reserve_stream(httpapi_t *api)
{
    pthread_mutex_lock(&api->lock);
    bool ok = !atomic_load(&api->stopping) && api->streams < api->max_streams;
    if (ok)
        api->streams++;
    pthread_mutex_unlock(&api->lock);
    return ok;
}

static void release_stream(httpapi_t *api)
{
    pthread_mutex_lock(&api->lock);
    api->streams--;
    pthread_cond_broadcast(&api->wake);
    pthread_mutex_unlock(&api->lock);
}

/* Starts the response and runs the session: here, or on a thread when following. */
static void serve(httpapi_t *api, const server_request_t *req, server_response_t *resp,
                  const char *ns, const char *run, const char *only_pod)
{
    log_session_t *s = calloc(1, sizeof *s);
    if (s) {
        s->api = api;
        s->ns = strdup(ns);
        s->run = strdup(run);
        s->only_pod = only_pod ? strdup(only_pod) : NULL;
        s->follow = httpapi_query_true(server_request_query(req, "follow"));
        s->last = '\n';
        s->result = "ok";
    }
    if (!s || !s->ns || !s->run || (only_pod && !s->only_pod)) {
        session_free(s);
        server_response_text(resp, 500, "out of memory\n");
        count(api, "error");
        return;
    }
    if (s->follow && !reserve_stream(api)) {
        session_free(s);
        server_response_header(resp, "Retry-After", "10");
        server_response_text(resp, 429, "too many build logs are being followed; retry later\n");
        count(api, "busy");
        return;
    }
    server_response_header(resp, "Cache-Control", "no-store");
    server_response_header(resp, "X-Content-Type-Options", "nosniff");
    s->stream = server_response_stream(resp, 200, TEXT_PLAIN);
    if (!s->stream) {
        if (s->follow)
            release_stream(api);
        session_free(s);
        server_response_text(resp, 500, "out of memory\n");
        count(api, "error");
        return;
    }
    if (!s->follow) {
        session_run(s);
        count(api, s->result);
        server_stream_close(s->stream);
        session_free(s);
        return;
    }
    count(api, "follow");
    if (api->streams_open)
        metrics_gauge_inc(api->streams_open, NULL);
    pthread_t tid;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&tid, &attr, follow_thread, s);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        note(s, "the log cannot be followed now (no thread)");
        server_stream_close(s->stream);
        session_free(s);
        if (api->streams_open)
            metrics_gauge_dec(api->streams_open, NULL);
        release_stream(api);
    }
}

static void not_found(httpapi_t *api, server_response_t *resp, const char *fmt, const char *ns,
                      const char *name)
{
    json_object *st = json_object_new_object();
    char *msg = util_asprintf(fmt, name);
    json_object_object_add(st, "kind", json_object_new_string("Status"));
    json_object_object_add(st, "apiVersion", json_object_new_string("v1"));
    json_object_object_add(st, "status", json_object_new_string("Failure"));
    json_object_object_add(st, "message", json_object_new_string(msg ? msg : "not found"));
    json_object_object_add(st, "reason", json_object_new_string("NotFound"));
    json_object_object_add(st, "code", json_object_new_int(404));
    server_response_json(resp, 404, st);
    json_object_put(st);
    free(msg);
    count(api, "not_found");
    log_v(2, "log request for a missing object", "namespace", ns, "name", name, NULL);
}

static const char *auth_result(int status)
{
    return status == 401 ? "unauthorized" : status == 403 ? "forbidden" : "error";
}

void httpapi_handle_run_log(const server_request_t *req, server_response_t *resp, void *data)
{
    httpapi_t *api = data;
    const char *ns = server_request_param(req, "namespace");
    const char *name = server_request_param(req, "name");
    int status = httpapi_authorize(api, req, ns, name, resp);
    if (status != 200) {
        count(api, auth_result(status));
        return;
    }
    kube_err_t err;
    json_object *run = httpapi_get_run(api, ns, name, &err);
    if (!run) {
        if (err == KUBE_ERR_NOT_FOUND) {
            not_found(api, resp, "s2iruns." HTTPAPI_GROUP " \"%s\" not found", ns, name);
        } else {
            server_response_text(resp, 503, "the run cannot be read now: %s\n", kube_err_name(err));
            count(api, "error");
        }
        return;
    }
    json_object_put(run);
    serve(api, req, resp, ns, name, NULL);
}

/* The run whose logURL names the pod (the pod itself is gone), malloc'd, or NULL. */
static char *run_of_deleted_pod(httpapi_t *api, const char *ns, const char *pod)
{
    kube_result_t r = KUBE_RESULT_INIT;
    char *found = NULL;
    if (kube_list(api->client, &RES_RUNS, ns, NULL, &r) == KUBE_OK) {
        json_object *items = httpapi_json_at(r.body, "items");
        size_t n = items && json_object_is_type(items, json_type_array)
                       ? json_object_array_length(items)
                       : 0;
        for (size_t i = 0; i < n && !found; i++) {
            json_object *run = json_object_array_get_idx(items, i);
            char *logged = httpapi_log_url_pod(httpapi_json_str(run, "status.logURL"));
            if (util_streq(logged, pod))
                found = util_strdup(httpapi_json_str(run, "metadata.name"));
            free(logged);
        }
    }
    kube_result_clear(&r);
    return found;
}

void httpapi_handle_pod_log(const server_request_t *req, server_response_t *resp, void *data)
{
    httpapi_t *api = data;
    char *ns = NULL, *pod_name = NULL;
    if (!httpapi_parse_pod_path(req->path, &ns, &pod_name)) {
        server_response_text(resp, 404, "404 page not found\n");
        return;
    }
    /* The whole namespace's runs: which run the pod belongs to is not known yet, and
     * looking first would tell who may not read them which pods exist. */
    int status = httpapi_authorize(api, req, ns, "", resp);
    if (status != 200) {
        count(api, auth_result(status));
        goto out;
    }
    kube_result_t r = KUBE_RESULT_INIT;
    kube_err_t err = kube_get(api->client, &RES_PODS, ns, pod_name, &r);
    char *run = NULL;
    if (err == KUBE_OK) {
        run = util_strdup(httpapi_label(r.body, HTTPAPI_LABEL_RUN));
        kube_result_clear(&r);
        if (!run || !*run) {
            not_found(api, resp, "pod \"%s\" is not the build pod of an S2iRun", ns, pod_name);
            free(run);
            goto out;
        }
    } else if (err == KUBE_ERR_NOT_FOUND) {
        kube_result_clear(&r);
        run = run_of_deleted_pod(api, ns, pod_name);
        if (!run) {
            not_found(api, resp, "pods \"%s\" not found", ns, pod_name);
            goto out;
        }
    } else {
        char line[256];
        server_response_text(resp, 503, "the pod cannot be read now: %s\n",
                             kube_error_str(&r, line, sizeof line));
        kube_result_clear(&r);
        count(api, "error");
        goto out;
    }
    serve(api, req, resp, ns, run, pod_name);
    free(run);
out:
    free(ns);
    free(pod_name);
}

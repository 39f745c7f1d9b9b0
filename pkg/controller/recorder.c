/*
 * recorder: asynchronous, de-duplicating, rate-limited Kubernetes Events.
 * See recorder.h for the contract.
 */
#include "controller/recorder.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define QUEUE_MAX     1024  /* events waiting to be written */
#define CACHE_MAX     4096  /* folded events remembered (client-go's LRU size) */
#define YIELD_POLL_MS 50    /* how often a yielding writer asks whether the work is done */
#define SPAM_BURST    25.0  /* client-go EventSourceObjectSpamFilter defaults */
#define SPAM_REFILL   300.0 /* seconds per token */
#define FOLD_WINDOW   600.0 /* repeats within this are counted into one Event */
#define MAX_MESSAGE   1024  /* the API server rejects longer notes; we cut first */
#define FREE_TIMEOUT  5.0   /* seconds recorder_free goes on writing what is queued */

static const kube_resource_t EVENTS = {"", "v1", "events", true};

typedef struct pending {
    struct pending *next;
    char *api_version, *kind, *namespace, *name, *uid, *resource_version;
    char *type, *reason, *message;
    double when;   /* util_now(): the Event's timestamps */
    double queued; /* util_monotonic() when recorded */
} pending_t;

typedef struct folded {
    char *event_namespace;
    char *event_name;
    long count;
    double last;
} folded_t;

typedef struct bucket {
    double tokens;
    double last;
} bucket_t;

struct recorder {
    kube_client_t *client;
    char *component;
    char *instance;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_cond_t idle;
    pending_t *head, *tail;
    size_t queued;
    bool writing;
    bool stopping;
    double give_up;    /* util_monotonic() after which a stopping writer drops the queue */
    strmap_t *folded;  /* uid|type|reason|message -> folded_t */
    strmap_t *buckets; /* uid -> bucket_t */
    recorder_stats_t stats;
    bool (*busy)(void *); /* recorder_set_yield */
    void *busy_data;
    double max_delay;
    pthread_t thread;
};

static void pending_free(pending_t *p)
{
    if (!p)
        return;
    free(p->api_version);
    free(p->kind);
    free(p->namespace);
    free(p->name);
    free(p->uid);
    free(p->resource_version);
    free(p->type);
    free(p->reason);
    free(p->message);
    free(p);
}

static void folded_free(void *v)
{
    folded_t *f = v;
    if (!f)
        return;
    free(f->event_namespace);
    free(f->event_name);
    free(f);
}

static const char *str_at(json_object *obj, const char *section, const char *field)
{
    json_object *o = obj, *v;
    if (section && !json_object_object_get_ex(obj, section, &o))
        return NULL;
    if (!json_object_object_get_ex(o, field, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static void iso_time(double t, char out[static 32])
{
    util_format_rfc3339((time_t)t, out);
}

static json_object *event_object(recorder_t *r, const pending_t *p, const char *event_name,
                                 const char *event_ns)
{
    char ts[32];
    iso_time(p->when, ts);
    json_object *ev = json_object_new_object();
    json_object *md = json_object_new_object();
    json_object *io = json_object_new_object();
    json_object *src = json_object_new_object();
    json_object_object_add(ev, "apiVersion", json_object_new_string("v1"));
    json_object_object_add(ev, "kind", json_object_new_string("Event"));
    json_object_object_add(md, "name", json_object_new_string(event_name));
    json_object_object_add(md, "namespace", json_object_new_string(event_ns));
    json_object_object_add(ev, "metadata", md);
    if (p->api_version)
        json_object_object_add(io, "apiVersion", json_object_new_string(p->api_version));
    if (p->kind)
        json_object_object_add(io, "kind", json_object_new_string(p->kind));
    json_object_object_add(io, "name", json_object_new_string(p->name));
    if (p->namespace)
        json_object_object_add(io, "namespace", json_object_new_string(p->namespace));
    if (p->uid)
        json_object_object_add(io, "uid", json_object_new_string(p->uid));
    if (p->resource_version)
        json_object_object_add(io, "resourceVersion", json_object_new_string(p->resource_version));
    json_object_object_add(ev, "involvedObject", io);
    json_object_object_add(ev, "reason", json_object_new_string(p->reason));
    json_object_object_add(ev, "message", json_object_new_string(p->message));
    json_object_object_add(ev, "type", json_object_new_string(p->type));
    json_object_object_add(src, "component", json_object_new_string(r->component));
    json_object_object_add(ev, "source", src);
    json_object_object_add(ev, "firstTimestamp", json_object_new_string(ts));
    json_object_object_add(ev, "lastTimestamp", json_object_new_string(ts));
    json_object_object_add(ev, "count", json_object_new_int(1));
    json_object_object_add(ev, "reportingComponent", json_object_new_string(r->component));
    json_object_object_add(ev, "reportingInstance",
                           json_object_new_string(r->instance ? r->instance : ""));
    return ev;
}

static char *fold_key(const pending_t *p)
{
    return util_asprintf("%s\x1f%s\x1f%s\x1f%s", p->uid ? p->uid : p->name, p->type, p->reason,
                         p->message);
}

/* Creates the Event, or patches the count of the one it repeats. Runs on the writer
 * thread without the lock. */
static void write_event(recorder_t *r, const pending_t *p)
{
    char *key = fold_key(p);
    if (!key)
        return;
    const char *event_ns = p->namespace && *p->namespace ? p->namespace : "default";
    kube_result_t res = KUBE_RESULT_INIT;
    res.skip_body = true; /* nothing of the written Event is read back */

    pthread_mutex_lock(&r->lock);
    folded_t *f = strmap_get(r->folded, key);
    char *patch_name = NULL;
    long count = 0;
    if (f && p->when - f->last < FOLD_WINDOW) {
        patch_name = util_strdup(f->event_name);
        count = ++f->count;
        f->last = p->when;
    }
    pthread_mutex_unlock(&r->lock);

    if (patch_name) {
        char ts[32];
        iso_time(p->when, ts);
        char *body = util_asprintf("{\"count\":%ld,\"lastTimestamp\":\"%s\"}", count, ts);
        kube_err_t err = body ? kube_patch(r->client, &EVENTS, event_ns, patch_name, NULL,
                                           KUBE_PATCH_MERGE, body, NULL, &res)
                              : KUBE_ERR_CLIENT;
        free(body);
        free(patch_name);
        if (err == KUBE_OK) {
            pthread_mutex_lock(&r->lock);
            r->stats.patched++;
            pthread_mutex_unlock(&r->lock);
            kube_result_clear(&res);
            free(key);
            return;
        }
        /* The Event is gone (expired, deleted): start a new one. */
    }

    char *name = util_asprintf("%s.%llx", p->name, (unsigned long long)(util_now() * 1e9));
    json_object *ev = name ? event_object(r, p, name, event_ns) : NULL;
    kube_err_t err =
        ev ? kube_create(r->client, &EVENTS, event_ns, ev, NULL, &res) : KUBE_ERR_CLIENT;
    json_object_put(ev);
    pthread_mutex_lock(&r->lock);
    if (err == KUBE_OK) {
        r->stats.created++;
        if (strmap_len(r->folded) >= CACHE_MAX) {
            /* Forget everything rather than track recency: an Event folded later is merely
             * a new Event, never a lost one. */
            strmap_free(r->folded);
            r->folded = strmap_new(folded_free);
        }
        folded_t *nf = calloc(1, sizeof *nf);
        if (nf && r->folded) {
            nf->event_namespace = util_strdup(event_ns);
            nf->event_name = name;
            name = NULL;
            nf->count = 1;
            nf->last = p->when;
            if (strmap_set(r->folded, key, nf) < 0)
                folded_free(nf);
        } else {
            free(nf);
        }
    } else {
        r->stats.failed++;
    }
    pthread_mutex_unlock(&r->lock);
    if (err != KUBE_OK && err != KUBE_ERR_CLIENT) {
        char msg[256];
        log_v(2, "event not recorded", "object", p->name, "reason", p->reason, "error",
              kube_error_str(&res, msg, sizeof msg), NULL);
    }
    kube_result_clear(&res);
    free(name);
    free(key);
}

static void *writer(void *arg)
{
    recorder_t *r = arg;
    pthread_mutex_lock(&r->lock);
    for (;;) {
        while (!r->head && !r->stopping)
            pthread_cond_wait(&r->wake, &r->lock);
        if (!r->head)
            break;
        if (r->stopping && util_monotonic() > r->give_up) {
            /* Shutting down with a slow or absent API server: a process that must go
             * cannot wait for every write. */
            while (r->head) {
                pending_t *p = r->head;
                r->head = p->next;
                pending_free(p);
                r->stats.dropped++;
            }
            r->tail = NULL;
            r->queued = 0;
            break;
        }
        /* The API server's writes go to the work first: the oldest event waits while the
         * caller says it is busy, up to max_delay after it was recorded. */
        if (r->busy && !r->stopping && util_monotonic() - r->head->queued < r->max_delay &&
            r->busy(r->busy_data)) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until); /* the condition's clock */
            until.tv_nsec += YIELD_POLL_MS * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&r->wake, &r->lock, &until);
            continue;
        }
        pending_t *p = r->head;
        r->head = p->next;
        if (!r->head)
            r->tail = NULL;
        r->queued--;
        r->writing = true;
        pthread_mutex_unlock(&r->lock);
        write_event(r, p);
        pending_free(p);
        pthread_mutex_lock(&r->lock);
        r->writing = false;
        if (!r->head)
            pthread_cond_broadcast(&r->idle);
    }
    pthread_cond_broadcast(&r->idle);
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

recorder_t *recorder_new(kube_client_t *client, const char *component, const char *instance)
{
    recorder_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->client = client;
    r->component = util_strdup(component ? component : "s2i-operator");
    r->instance = util_strdup(instance);
    r->folded = strmap_new(folded_free);
    r->buckets = strmap_new(free);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->wake, NULL);
    pthread_cond_init(&r->idle, NULL);
    if (!r->component || !r->folded || !r->buckets ||
        pthread_create(&r->thread, NULL, writer, r) != 0) {
        strmap_free(r->folded);
        strmap_free(r->buckets);
        free(r->component);
        free(r->instance);
        pthread_mutex_destroy(&r->lock);
        pthread_cond_destroy(&r->wake);
        pthread_cond_destroy(&r->idle);
        free(r);
        return NULL;
    }
    return r;
}

void recorder_set_yield(recorder_t *r, bool (*busy)(void *), void *data, double max_delay)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->busy = busy;
    r->busy_data = data;
    r->max_delay = max_delay;
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->lock);
}

void recorder_flush(recorder_t *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    while (r->head || r->writing)
        pthread_cond_wait(&r->idle, &r->lock);
    pthread_mutex_unlock(&r->lock);
}

void recorder_free(recorder_t *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->stopping = true;
    r->give_up = util_monotonic() + FREE_TIMEOUT;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    while (r->head) {
        pending_t *p = r->head;
        r->head = p->next;
        pending_free(p);
    }
    strmap_free(r->folded);
    strmap_free(r->buckets);
    free(r->component);
    free(r->instance);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->wake);
    pthread_cond_destroy(&r->idle);
    free(r);
}

/* client-go's spam filter: a token bucket per object. Called with the lock held. */
static bool spam_allows(recorder_t *r, const char *uid, double now)
{
    bucket_t *b = strmap_get(r->buckets, uid);
    if (!b) {
        if (strmap_len(r->buckets) >= CACHE_MAX) {
            strmap_free(r->buckets);
            r->buckets = strmap_new(free);
            if (!r->buckets)
                return false;
        }
        b = calloc(1, sizeof *b);
        if (!b || strmap_set(r->buckets, uid, b) < 0) {
            free(b);
            return false;
        }
        b->tokens = SPAM_BURST;
        b->last = now;
    }
    b->tokens += (now - b->last) / SPAM_REFILL;
    if (b->tokens > SPAM_BURST)
        b->tokens = SPAM_BURST;
    b->last = now;
    if (b->tokens < 1.0)
        return false;
    b->tokens -= 1.0;
    return true;
}

void recorder_event(recorder_t *r, json_object *obj, const char *type, const char *reason,
                    const char *fmt, ...)
{
    if (!r || !obj)
        return;
    const char *name = str_at(obj, "metadata", "name");
    if (!name)
        return;
    pending_t *p = calloc(1, sizeof *p);
    if (!p)
        return;
    buf_t msg = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    if (msg.len > MAX_MESSAGE) {
        /* Cut before the character that crosses the limit, never inside it: a broken
         * UTF-8 sequence gets the Event refused (or mangled into U+FFFD). */
        size_t n = MAX_MESSAGE;
        while (n > 0 && ((unsigned char)msg.data[n] & 0xC0) == 0x80)
            n--;
        msg.len = n;
        msg.data[n] = '\0';
    }
    p->api_version = util_strdup(str_at(obj, NULL, "apiVersion"));
    p->kind = util_strdup(str_at(obj, NULL, "kind"));
    p->namespace = util_strdup(str_at(obj, "metadata", "namespace"));
    p->name = util_strdup(name);
    p->uid = util_strdup(str_at(obj, "metadata", "uid"));
    p->resource_version = util_strdup(str_at(obj, "metadata", "resourceVersion"));
    p->type = util_strdup(type);
    p->reason = util_strdup(reason);
    p->message = buf_steal(&msg);
    p->when = util_now();
    p->queued = util_monotonic();
    if (!p->name || !p->type || !p->reason || !p->message) {
        pending_free(p);
        return;
    }
    pthread_mutex_lock(&r->lock);
    r->stats.recorded++;
    if (r->stopping || r->queued >= QUEUE_MAX ||
        !spam_allows(r, p->uid ? p->uid : p->name, p->when)) {
        r->stats.dropped++;
        pthread_mutex_unlock(&r->lock);
        pending_free(p);
        return;
    }
    if (r->tail)
        r->tail->next = p;
    else
        r->head = p;
    r->tail = p;
    r->queued++;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->lock);
}

void recorder_get_stats(recorder_t *r, recorder_stats_t *out)
{
    pthread_mutex_lock(&r->lock);
    *out = r->stats;
    pthread_mutex_unlock(&r->lock);
}

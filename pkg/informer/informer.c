/*
 * informer/informer: what happens to the store and the handlers when an event or a list
 * arrives, and the informer's lifecycle (new, start, stop, wait for sync, stats).
 *
 * Every store write is: read the identity (key, resourceVersion, uid), transform, build
 * the compact entry, swap it in, and only then call handlers, with the lock released. A
 * handler gets the object as just received when there is one; the replaced object of an
 * update, or the stored one at a relist, is parsed from its entry, and only when some
 * handler wants it.
 *
 * The thread that lists and watches lives in reflector.c.
 */
#include "informer/informer_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_PAGE_BYTES      (64u << 10)
#define DEFAULT_BACKOFF_INITIAL 0.8
#define DEFAULT_BACKOFF_MAX     30.0

/* ---- handlers ------------------------------------------------------------------- */

static void dispatch_add(informer_t *inf, json_object *obj)
{
    for (size_t i = 0; i < inf->handlers_len; i++)
        if (inf->handlers[i].on_add)
            inf->handlers[i].on_add(obj, inf->handlers[i].data);
}

static void dispatch_update(informer_t *inf, json_object *old_obj, json_object *new_obj)
{
    for (size_t i = 0; i < inf->handlers_len; i++)
        if (inf->handlers[i].on_update)
            inf->handlers[i].on_update(old_obj, new_obj, inf->handlers[i].data);
}

static void dispatch_delete(informer_t *inf, json_object *obj)
{
    for (size_t i = 0; i < inf->handlers_len; i++)
        if (inf->handlers[i].on_delete)
            inf->handlers[i].on_delete(obj, inf->handlers[i].data);
}

/* The object of entry for a handler, or NULL (logged and counted) if it cannot be had. */
static json_object *object_for_handler(informer_t *inf, const store_entry_t *entry)
{
    json_object *obj = store_entry_object(inf->store, entry);
    if (!obj) {
        informer_meta_t meta;
        store_entry_meta(entry, &meta);
        log_error("cannot decode cached object for handlers", "informer", inf->name, "key",
                  meta.key, NULL);
        atomic_fetch_add(&inf->errors, 1);
    }
    return obj;
}

static void deliver_entry_add(informer_t *inf, const store_entry_t *entry)
{
    if (!inf->wants_add)
        return;
    json_object *obj = object_for_handler(inf, entry);
    if (obj)
        dispatch_add(inf, obj);
    json_object_put(obj);
}

static void deliver_entry_delete(informer_t *inf, const store_entry_t *entry)
{
    if (!inf->wants_delete)
        return;
    json_object *obj = object_for_handler(inf, entry);
    if (obj)
        dispatch_delete(inf, obj);
    json_object_put(obj);
}

static void deliver_entry_update(informer_t *inf, const store_entry_t *old,
                                 const store_entry_t *entry)
{
    if (!inf->wants_old)
        return;
    json_object *old_obj = object_for_handler(inf, old);
    json_object *new_obj = old_obj ? object_for_handler(inf, entry) : NULL;
    if (new_obj)
        dispatch_update(inf, old_obj, new_obj);
    json_object_put(old_obj);
    json_object_put(new_obj);
}

/* ---- applying events and lists ----------------------------------------------------- */

static void set_resource_version(informer_t *inf, const char *rv)
{
    if (!rv || !*rv || util_streq(rv, inf->resource_version))
        return;
    char *copy = strdup(rv);
    if (!copy)
        return; /* keep the older one: resuming from it replays events, harmlessly */
    free(inf->resource_version);
    inf->resource_version = copy;
}

const char *informer_resource_version(informer_t *informer)
{
    return informer->resource_version;
}

/* The transformed object to store for obj (borrowed), as a new reference; NULL on
 * failure. */
static json_object *transformed(informer_t *inf, json_object *obj)
{
    json_object_get(obj);
    if (!inf->transform)
        return obj;
    return inf->transform(obj, inf->transform_data);
}

/* The entry for obj (borrowed) with identity meta; NULL (logged) on failure. */
static store_entry_t *build_entry(informer_t *inf, json_object *obj, const informer_meta_t *meta,
                                  json_object **transformed_out)
{
    json_object *t = transformed(inf, obj);
    store_entry_t *e = t ? store_entry_build(inf->store, t, meta) : NULL;
    if (!e) {
        log_error("cannot cache object", "informer", inf->name, "key", meta->key, "reason",
                  t ? "index function failed, metadata too long or out of memory"
                    : "transform failed",
                  NULL);
        json_object_put(t);
        return NULL;
    }
    if (transformed_out)
        *transformed_out = t;
    else
        json_object_put(t);
    return e;
}

static const char *event_type_name(kube_watch_event_type_t type)
{
    static const char *const names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};
    return (size_t)type < UTIL_ARRAY_LEN(names) ? names[type] : "?";
}

/* Identity of obj with the strings copied, as a transform may free them. */
typedef struct owned_meta {
    informer_meta_t meta;
    char *key, *rv, *uid;
} owned_meta_t;

static int owned_meta_read(owned_meta_t *m, json_object *obj)
{
    const char *rv, *uid;
    memset(m, 0, sizeof(*m));
    if (informer_object_meta(obj, &m->key, &rv, &uid) < 0)
        return -1;
    m->rv = strdup(rv);
    m->uid = strdup(uid);
    if (!m->rv || !m->uid) {
        free(m->key);
        free(m->rv);
        free(m->uid);
        return -1;
    }
    m->meta = (informer_meta_t){m->key, m->rv, m->uid};
    return 0;
}

static void owned_meta_clear(owned_meta_t *m)
{
    free(m->key);
    free(m->rv);
    free(m->uid);
}

static int apply_upsert(informer_t *inf, json_object *object, const informer_meta_t *meta)
{
    json_object *obj = NULL;
    store_entry_t *e = build_entry(inf, object, meta, &obj);
    if (!e)
        return -1;
    int err;
    store_entry_t *old = store_swap(inf->store, e, &err);
    if (err < 0) {
        log_error("cannot cache object", "informer", inf->name, "key", meta->key, "reason",
                  "out of memory", NULL);
        store_entry_unref(e);
        json_object_put(obj);
        return -1;
    }
    if (!old) {
        dispatch_add(inf, obj);
    } else if (inf->wants_old) {
        json_object *old_obj = object_for_handler(inf, old);
        if (old_obj)
            dispatch_update(inf, old_obj, obj);
        json_object_put(old_obj);
    }
    store_entry_unref(old);
    json_object_put(obj);
    return 0;
}

static int apply_delete(informer_t *inf, json_object *object, const informer_meta_t *meta)
{
    store_entry_t *old = store_take(inf->store, meta->key);
    if (!old) {
        /* Resuming from a resourceVersion replays only what we have not seen, so this
         * is an object we never knew: nothing to tell anyone. */
        log_v(4, "delete of an object not cached", "informer", inf->name, "key", meta->key, NULL);
        return 0;
    }
    store_entry_unref(old);
    if (!inf->wants_delete)
        return 0;
    json_object *obj = transformed(inf, object);
    if (obj)
        dispatch_delete(inf, obj);
    else
        log_error("transform failed on a deleted object; handlers not told", "informer", inf->name,
                  "key", meta->key, NULL);
    json_object_put(obj);
    return 0;
}

int informer_apply_event(informer_t *informer, const kube_watch_event_t *event)
{
    informer_t *inf = informer;
    atomic_fetch_add(&inf->events, 1);
    if (event->type == KUBE_WATCH_BOOKMARK) {
        atomic_fetch_add(&inf->bookmarks, 1);
        json_object *meta, *rv;
        if (json_object_object_get_ex(event->object, "metadata", &meta) &&
            json_object_object_get_ex(meta, "resourceVersion", &rv))
            set_resource_version(inf, json_object_get_string(rv));
        return 0;
    }
    if (event->type == KUBE_WATCH_ERROR)
        return -1;
    owned_meta_t m;
    if (owned_meta_read(&m, event->object) < 0) {
        log_error("watch event without metadata.name", "informer", inf->name, "type",
                  event_type_name(event->type), NULL);
        return -1;
    }
    int rc = event->type == KUBE_WATCH_DELETED ? apply_delete(inf, event->object, &m.meta)
                                               : apply_upsert(inf, event->object, &m.meta);
    if (rc == 0)
        set_resource_version(inf, m.rv);
    owned_meta_clear(&m);
    return rc;
}

void informer_listed_clear(informer_listed_t *listed)
{
    store_entries_free(listed->entries, listed->len);
    *listed = (informer_listed_t){0};
}

int informer_listed_add(informer_t *informer, informer_listed_t *listed, json_object *item)
{
    if (listed->len == listed->cap) {
        size_t cap = listed->cap ? listed->cap * 2 : 64;
        store_entry_t **entries = realloc(listed->entries, cap * sizeof(*entries));
        if (!entries)
            return -1;
        listed->entries = entries;
        listed->cap = cap;
    }
    owned_meta_t m;
    if (owned_meta_read(&m, item) < 0) {
        log_error("listed object without metadata.name", "informer", informer->name, NULL);
        return -1;
    }
    store_entry_t *e = store_lookup(informer->store, m.key);
    if (e) {
        informer_meta_t have;
        store_entry_meta(e, &have);
        if (strcmp(have.resource_version, m.rv) != 0 || strcmp(have.uid, m.uid) != 0) {
            store_entry_unref(e);
            e = NULL;
        }
    }
    if (!e)
        e = build_entry(informer, item, &m.meta, NULL);
    owned_meta_clear(&m);
    if (!e)
        return -1;
    listed->entries[listed->len++] = e;
    return 0;
}

static void mark_synced(informer_t *inf)
{
    store_set_synced(inf->store);
    pthread_mutex_lock(&inf->lock);
    inf->synced = true;
    pthread_cond_broadcast(&inf->cond);
    pthread_mutex_unlock(&inf->lock);
}

static int apply_change(informer_t *inf, const informer_change_t *c, store_entry_t **stored,
                        store_entry_t **listed)
{
    if (c->type == INFORMER_CHANGE_DELETE) {
        informer_meta_t meta;
        store_entry_meta(stored[c->stored], &meta);
        store_entry_t *old = store_take(inf->store, meta.key);
        if (old)
            deliver_entry_delete(inf, old);
        store_entry_unref(old);
        return 0;
    }
    if (!listed)
        return -1;
    store_entry_t *e = listed[c->listed];
    store_entry_ref(e);
    int err;
    store_entry_t *old = store_swap(inf->store, e, &err);
    if (err < 0) {
        store_entry_unref(e);
        return -1;
    }
    if (!old || c->type == INFORMER_CHANGE_ADD) {
        if (old) /* stored after the snapshot: only this thread writes, so not expected */
            deliver_entry_delete(inf, old);
        deliver_entry_add(inf, e);
    } else if (c->type == INFORMER_CHANGE_REPLACE) {
        deliver_entry_delete(inf, old);
        deliver_entry_add(inf, e);
    } else {
        deliver_entry_update(inf, old, e);
    }
    store_entry_unref(old);
    return 0;
}

int informer_apply_listed(informer_t *informer, informer_listed_t *listed,
                          const char *resource_version)
{
    informer_t *inf = informer;
    store_entry_t **stored = NULL;
    size_t stored_len = 0;
    informer_meta_t *old_meta = NULL, *new_meta = NULL;
    informer_change_t *changes = NULL;
    size_t changes_len = 0;
    int rc = -1;
    if (store_snapshot(inf->store, &stored, &stored_len) < 0)
        goto out;
    old_meta = malloc((stored_len ? stored_len : 1) * sizeof(*old_meta));
    new_meta = malloc((listed->len ? listed->len : 1) * sizeof(*new_meta));
    if (!old_meta || !new_meta)
        goto out;
    for (size_t i = 0; i < stored_len; i++)
        store_entry_meta(stored[i], &old_meta[i]);
    for (size_t i = 0; i < listed->len; i++)
        store_entry_meta(listed->entries[i], &new_meta[i]);
    if (informer_relist_diff(old_meta, stored_len, new_meta, listed->len, &changes, &changes_len) <
        0)
        goto out;
    /* The metas point into entries we hold; the diff's output uses indexes only. */
    free(old_meta);
    free(new_meta);
    old_meta = new_meta = NULL;
    for (size_t i = 0; i < changes_len; i++)
        if (apply_change(inf, &changes[i], stored, listed->entries) < 0)
            goto out;
    rc = 0;
    bool first = !inf->synced;
    set_resource_version(inf, resource_version);
    atomic_fetch_add(&inf->lists, 1);
    if (!first)
        atomic_fetch_add(&inf->relists, 1);
    mark_synced(inf);
    if (first || changes_len || log_enabled(2)) {
        char objects[32], changed[32];
        snprintf(objects, sizeof(objects), "%zu", listed->len);
        snprintf(changed, sizeof(changed), "%zu", changes_len);
        log_info(first ? "informer synced" : "informer relisted", "informer", inf->name, "objects",
                 objects, "changes", changed, "resourceVersion",
                 resource_version ? resource_version : "", NULL);
    }
out:
    if (rc < 0)
        log_error("cannot apply list", "informer", inf->name, "reason", "out of memory", NULL);
    free(changes);
    free(old_meta);
    free(new_meta);
    store_entries_free(stored, stored_len);
    informer_listed_clear(listed);
    return rc;
}

int informer_apply_list(informer_t *informer, json_object **items, size_t len,
                        const char *resource_version)
{
    informer_listed_t listed = {0};
    for (size_t i = 0; i < len; i++)
        if (informer_listed_add(informer, &listed, items[i]) < 0) {
            informer_listed_clear(&listed);
            return -1;
        }
    return informer_apply_listed(informer, &listed, resource_version);
}

void informer_resync(informer_t *informer)
{
    atomic_fetch_add(&informer->resyncs, 1);
    if (!informer->wants_old)
        return;
    store_entry_t **entries;
    size_t n;
    if (store_snapshot(informer->store, &entries, &n) < 0) {
        log_error("cannot resync", "informer", informer->name, "reason", "out of memory", NULL);
        return;
    }
    for (size_t i = 0; i < n && !atomic_load(&informer->stop); i++) {
        json_object *obj = object_for_handler(informer, entries[i]);
        if (obj)
            dispatch_update(informer, obj, obj);
        json_object_put(obj);
    }
    store_entries_free(entries, n);
}

/* ---- transforms ------------------------------------------------------------------ */

json_object *informer_transform_strip(json_object *obj, void *data)
{
    (void)data;
    json_object *meta, *annotations;
    if (!json_object_object_get_ex(obj, "metadata", &meta) ||
        !json_object_is_type(meta, json_type_object))
        return obj;
    json_object_object_del(meta, "managedFields");
    if (json_object_object_get_ex(meta, "annotations", &annotations) &&
        json_object_is_type(annotations, json_type_object)) {
        json_object_object_del(annotations, "kubectl.kubernetes.io/last-applied-configuration");
        if (json_object_object_length(annotations) == 0)
            json_object_object_del(meta, "annotations");
    }
    return obj;
}

/* ---- lifecycle -------------------------------------------------------------------- */

static char *dup_or_null(const char *s, bool *oom)
{
    if (!s || !*s)
        return NULL;
    char *c = strdup(s);
    if (!c)
        *oom = true;
    return c;
}

informer_t *informer_new(kube_client_t *client, const informer_options_t *opts)
{
    if (!client || !opts || !opts->resource || !opts->resource->version ||
        !*opts->resource->version || !opts->resource->plural || !*opts->resource->plural ||
        opts->resync_period < 0 || opts->backoff_initial < 0 || opts->backoff_max < 0 ||
        opts->watch_timeout < 0)
        return NULL;
    informer_t *inf = calloc(1, sizeof(*inf));
    if (!inf)
        return NULL;
    bool oom = false;
    inf->client = client;
    inf->group = strdup(opts->resource->group ? opts->resource->group : "");
    inf->version = dup_or_null(opts->resource->version, &oom);
    inf->plural = dup_or_null(opts->resource->plural, &oom);
    inf->namespace = dup_or_null(opts->namespace, &oom);
    inf->label_selector = dup_or_null(opts->label_selector, &oom);
    inf->field_selector = dup_or_null(opts->field_selector, &oom);
    inf->name = strdup(opts->name && *opts->name ? opts->name : opts->resource->plural);
    inf->store = store_new(&opts->store);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&inf->lock, NULL);
    pthread_cond_init(&inf->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (oom || !inf->group || !inf->name || !inf->store) {
        informer_free(inf);
        return NULL;
    }
    inf->resource =
        (kube_resource_t){inf->group, inf->version, inf->plural, opts->resource->namespaced};
    inf->page_size = opts->page_size;
    inf->page_bytes = opts->page_bytes ? opts->page_bytes : DEFAULT_PAGE_BYTES;
    inf->resync_period = opts->resync_period;
    inf->watch_timeout = opts->watch_timeout;
    inf->backoff_initial = opts->backoff_initial ? opts->backoff_initial : DEFAULT_BACKOFF_INITIAL;
    inf->backoff_max = opts->backoff_max ? opts->backoff_max : DEFAULT_BACKOFF_MAX;
    inf->transform = opts->transform;
    inf->transform_data = opts->transform_data;
    atomic_init(&inf->stop, false);
    return inf;
}

void informer_free(informer_t *informer)
{
    if (!informer)
        return;
    informer_stop(informer);
    store_free(informer->store);
    free(informer->handlers);
    free(informer->group);
    free(informer->version);
    free(informer->plural);
    free(informer->namespace);
    free(informer->label_selector);
    free(informer->field_selector);
    free(informer->name);
    free(informer->resource_version);
    pthread_cond_destroy(&informer->cond);
    pthread_mutex_destroy(&informer->lock);
    free(informer);
}

store_t *informer_store(informer_t *informer)
{
    return informer->store;
}

int informer_add_handlers(informer_t *informer, const informer_handlers_t *handlers)
{
    if (informer->started || !handlers)
        return -1;
    informer_handlers_t *h = realloc(informer->handlers, (informer->handlers_len + 1) * sizeof(*h));
    if (!h)
        return -1;
    h[informer->handlers_len++] = *handlers;
    informer->handlers = h;
    informer->wants_add |= handlers->on_add != NULL;
    informer->wants_old |= handlers->on_update != NULL;
    informer->wants_delete |= handlers->on_delete != NULL;
    return 0;
}

int informer_start(informer_t *informer)
{
    if (informer->started)
        return -1;
    if (informer->resync_period > 0)
        informer->next_resync = util_monotonic() + informer->resync_period;
    int err = pthread_create(&informer->thread, NULL, informer_reflector_main, informer);
    if (err) {
        log_error("cannot start informer thread", "informer", informer->name, "error",
                  strerror(err), NULL);
        return -1;
    }
    informer->started = true;
    return 0;
}

void informer_stop(informer_t *informer)
{
    pthread_mutex_lock(&informer->lock);
    atomic_store(&informer->stop, true);
    pthread_cond_broadcast(&informer->cond);
    pthread_mutex_unlock(&informer->lock);
    if (informer->started && !informer->joined) {
        pthread_join(informer->thread, NULL);
        informer->joined = true;
    }
}

/* An absolute CLOCK_MONOTONIC time seconds from now. */
static struct timespec deadline_in(double seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    time_t whole = (time_t)seconds;
    ts.tv_sec += whole;
    ts.tv_nsec += (long)((seconds - (double)whole) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

bool informer_sleep(informer_t *informer, double seconds)
{
    struct timespec until = deadline_in(seconds > 0 ? seconds : 0);
    pthread_mutex_lock(&informer->lock);
    while (!atomic_load(&informer->stop) &&
           pthread_cond_timedwait(&informer->cond, &informer->lock, &until) != ETIMEDOUT)
        ;
    bool stopped = atomic_load(&informer->stop);
    pthread_mutex_unlock(&informer->lock);
    return stopped;
}

bool informer_has_synced(informer_t *informer)
{
    pthread_mutex_lock(&informer->lock);
    bool synced = informer->synced;
    pthread_mutex_unlock(&informer->lock);
    return synced;
}

bool informer_wait_for_sync(informer_t *informer, double timeout)
{
    struct timespec until = deadline_in(timeout > 0 ? timeout : 0);
    pthread_mutex_lock(&informer->lock);
    while (!informer->synced && !atomic_load(&informer->stop)) {
        if (timeout < 0)
            pthread_cond_wait(&informer->cond, &informer->lock);
        else if (pthread_cond_timedwait(&informer->cond, &informer->lock, &until) == ETIMEDOUT)
            break;
    }
    bool synced = informer->synced;
    pthread_mutex_unlock(&informer->lock);
    return synced;
}

json_object *informer_get(informer_t *informer, const char *key)
{
    return store_get(informer->store, key);
}

void informer_get_stats(informer_t *informer, informer_stats_t *out)
{
    *out = (informer_stats_t){
        .events = atomic_load(&informer->events),
        .bookmarks = atomic_load(&informer->bookmarks),
        .lists = atomic_load(&informer->lists),
        .relists = atomic_load(&informer->relists),
        .list_pages = atomic_load(&informer->list_pages),
        .watches = atomic_load(&informer->watches),
        .watch_restarts = atomic_load(&informer->watch_restarts),
        .errors = atomic_load(&informer->errors),
        .resyncs = atomic_load(&informer->resyncs),
        .objects = store_len(informer->store),
        .store_bytes = store_bytes(informer->store),
    };
}

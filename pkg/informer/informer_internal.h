/*
 * informer/informer_internal.h: what the informer's files share and the unit tests and
 * the benchmark reach, not part of the module's contract.
 *
 *   store entries  the compact, immutable, reference-counted form of one stored object,
 *                  built outside the store's lock and swapped in under it
 *   relist diff    the pure function deciding the events of a relist
 *   the informer   its state, shared by informer.c (store updates, handlers, lifecycle)
 *                  and reflector.c (the thread: list, watch, backoff)
 *   event entry    feeding one watch event or one complete list to an informer without
 *                  HTTP, as its thread does
 */
#ifndef S2I_INFORMER_INTERNAL_H
#define S2I_INFORMER_INTERNAL_H

#include "informer/informer.h"

#include <pthread.h>
#include <stdatomic.h>

/* ---- store entries ------------------------------------------------------------- */

typedef struct store_entry store_entry_t;

/* The identity of an object as the store and the diff need it; pointers borrowed. */
typedef struct informer_meta {
    const char *key;
    const char *resource_version; /* "" when missing */
    const char *uid;              /* "" when missing */
} informer_meta_t;

/* Reads key (malloc'd into *key_out), resourceVersion and uid (borrowed from obj, ""
 * when missing). -1 when obj has no metadata.name or out of memory. */
int informer_object_meta(json_object *obj, char **key_out, const char **rv_out,
                         const char **uid_out);

/* Builds the entry for obj (borrowed) under meta: runs the index functions, serializes
 * and deflates. Does not touch the map. The new entry holds one reference, for the
 * caller. NULL on failure (index function, out of memory, a field too long). */
store_entry_t *store_entry_build(store_t *store, json_object *obj, const informer_meta_t *meta);
void store_entry_ref(store_entry_t *entry);
void store_entry_unref(store_entry_t *entry); /* accepts NULL */
/* Borrowed strings, valid while the caller holds a reference. */
void store_entry_meta(const store_entry_t *entry, informer_meta_t *out);
/* A new json_object parsed from the entry's JSON; NULL when out of memory. */
json_object *store_entry_object(store_t *store, const store_entry_t *entry);
/* Bytes the entry's allocation takes (malloc_usable_size). */
size_t store_entry_bytes(const store_entry_t *entry);

/* Stores entry under its key, taking over the caller's reference. Returns the entry it
 * replaced (its reference now the caller's) or NULL. -1 in *err when the table cannot
 * grow (the store is then unchanged and the caller keeps its reference). */
store_entry_t *store_swap(store_t *store, store_entry_t *entry, int *err);
/* Removes the entry under key and returns it (the store's reference, now the caller's);
 * NULL if absent. */
store_entry_t *store_take(store_t *store, const char *key);
/* The entry under key with a new reference, or NULL. */
store_entry_t *store_lookup(store_t *store, const char *key);
/* Every entry, each with a new reference, in a malloc'd array (NULL when empty); free with
 * store_entries_free. */
int store_snapshot(store_t *store, store_entry_t ***out, size_t *len);
void store_entries_free(store_entry_t **entries, size_t len);
void store_set_synced(store_t *store);

/* ---- relist diff ------------------------------------------------------------------ */

typedef enum informer_change_type {
    INFORMER_CHANGE_ADD,     /* listed only */
    INFORMER_CHANGE_UPDATE,  /* both, another resourceVersion */
    INFORMER_CHANGE_REPLACE, /* both, another uid: the object was deleted and recreated */
    INFORMER_CHANGE_DELETE,  /* stored only */
} informer_change_type_t;

typedef struct informer_change {
    informer_change_type_t type;
    size_t stored; /* index into stored, or SIZE_MAX for an ADD */
    size_t listed; /* index into listed, or SIZE_MAX for a DELETE */
} informer_change_t;

/* The events that turn stored into listed: every DELETE first (in key order), then the
 * ADD/UPDATE/REPLACE of listed objects in list order. An object with the same key, uid
 * and resourceVersion on both sides is unchanged and yields nothing. A key listed twice
 * counts once, at its last occurrence. Keys must be unique in stored. *out is malloc'd
 * (NULL when there is no change). 0, or -1 out of memory. */
int informer_relist_diff(const informer_meta_t *stored, size_t stored_len,
                         const informer_meta_t *listed, size_t listed_len, informer_change_t **out,
                         size_t *out_len);

/* ---- the informer ------------------------------------------------------------------ */

struct informer {
    kube_client_t *client;
    kube_resource_t resource; /* strings below */
    char *group, *version, *plural;
    char *namespace, *label_selector, *field_selector, *name;
    long page_size;
    size_t page_bytes;
    double resync_period;
    long watch_timeout;
    double backoff_initial, backoff_max;
    informer_transform_fn transform;
    void *transform_data;
    store_t *store;
    informer_handlers_t *handlers;
    size_t handlers_len;
    bool wants_add, wants_delete;
    bool wants_old; /* some handler has on_update: parse the replaced object */

    pthread_t thread;
    bool started, joined; /* by the owner's thread only */
    atomic_bool stop;
    pthread_mutex_t lock; /* guards synced, and sleeps on cond */
    pthread_cond_t cond;  /* CLOCK_MONOTONIC; signalled on sync and on stop */
    bool synced;

    /* the informer's thread only */
    char *resource_version;
    double next_resync;

    atomic_uint_fast64_t events, bookmarks, lists, relists, list_pages, watches, watch_restarts,
        errors, resyncs;
};

/* Growable array of store entries (each holding a reference) collected by a list. */
typedef struct informer_listed {
    store_entry_t **entries;
    size_t len, cap;
} informer_listed_t;

/* Adds a listed item: the stored entry when its uid and resourceVersion are unchanged
 * (nothing parsed, nothing built: a relist after a short outage costs little memory),
 * else the entry of the transformed item. 0, or -1 (logged) when it cannot be stored. */
int informer_listed_add(informer_t *informer, informer_listed_t *listed, json_object *item);
void informer_listed_clear(informer_listed_t *listed);
/* Replaces the store's contents with listed (consumed) and calls the handlers; see
 * informer_apply_list. */
int informer_apply_listed(informer_t *informer, informer_listed_t *listed,
                          const char *resource_version);
/* Re-delivers every stored object to on_update. */
void informer_resync(informer_t *informer);
/* Sleeps up to seconds; true as soon as the informer is asked to stop. */
bool informer_sleep(informer_t *informer, double seconds);
void *informer_reflector_main(void *arg);

/* ---- feeding an informer without HTTP --------------------------------------------- */

/* Applies one watch event (ADDED, MODIFIED, DELETED, BOOKMARK) exactly as the informer's
 * thread does: transform, store, handlers, resourceVersion. 0, or -1 when the event cannot
 * be stored (no name, transform or index failure, out of memory): the thread relists then. */
int informer_apply_event(informer_t *informer, const kube_watch_event_t *event);
/* Applies a complete list as a relist does: items (borrowed, transformed in place) replace
 * the store's contents, with the handler calls of informer_relist_diff; marks the store
 * synced and remembers resource_version. 0, or -1 on failure (logged; the store may be
 * partly updated, and applying the list again completes it). */
int informer_apply_list(informer_t *informer, json_object **items, size_t len,
                        const char *resource_version);
/* The resourceVersion the next watch would start from (borrowed; NULL before a list). */
const char *informer_resource_version(informer_t *informer);

#endif

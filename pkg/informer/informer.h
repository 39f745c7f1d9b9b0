/*
 * informer: client-go's shared informer in C — a reflector that lists and watches one
 * resource, a store (cache) of what it saw, and event handlers told about each change.
 *
 *   store      thread-safe map "namespace/name" (or "name" when cluster-scoped) -> object,
 *              with named secondary indexes (runs by builder, pods by owner uid) and an
 *              optional projection per object (the few fields a reader needs, read
 *              without parsing the object)
 *   reflector  list (paginated) then watch from the list's resourceVersion with bookmarks;
 *              resume a broken watch from the last resourceVersion seen; relist on 410
 *              Gone, diffing the new list against the store so objects deleted while
 *              disconnected get their delete; exponential backoff with jitter on errors
 *   informer   reflector + store + handlers (add/update/delete), optional periodic
 *              resync, counters for metrics
 *
 * Memory
 *   The cache is what the operator's footprint is made of, so an object is never kept as
 *   a json-c tree (roughly ten times its JSON size). The store keeps each object as one
 *   allocation holding its key, resourceVersion, uid, index values and its JSON text,
 *   deflated against a dictionary taken from the first objects stored (store_options_t;
 *   Kubernetes objects of one kind share most of their text, so this is several times
 *   smaller than the JSON). store_get and friends parse a fresh json_object on each call:
 *   an inflate, a parse, and a json-c tree of ten times the JSON while it lives. A reader
 *   going over many objects often (a builder's status from all its runs) reads their
 *   projections instead: a small blob per object, computed once when the object is
 *   stored by the store's projection function (store_set_projection), kept in the
 *   object's allocation and handed out by index value without parsing anything
 *   (store_index_projections).
 *   An index costs a table slot per value (24 bytes; the value's text is the entries'
 *   own) plus an array only for values several objects share, and the entries are kept
 *   in the store's own pool (util pool), apart from the transient allocations of list
 *   pages and reconciles, so that those, once freed, leave pages malloc can give back.
 *   An informer's transform callback (controller-runtime's cache TransformFunc) cuts an
 *   object down before it is stored: informer_transform_strip drops managedFields and the
 *   last-applied-configuration annotation, which are often half an object.
 *   While listing, one page at a time is held decoded: kube_list returns a json-c tree,
 *   about 16 times the page's JSON (500 Pods of 5 KiB, client-go's page, would be 40 MiB
 *   for a moment, and malloc keeps such peaks). So by default the page size follows the
 *   objects: each page asks for as many items as fit page_bytes of JSON (64 KiB: ~1 MiB
 *   decoded), judged from the items of the page before; a fixed page_size overrides it.
 *   Each informer thread allocates from its own glibc malloc arena, where such peaks
 *   linger as free memory: a process counting MiB caps the arenas in main
 *   (mallopt(M_ARENA_MAX, 1); three informers over 3,000 objects: 7.1 -> 6.1 MiB anon).
 *
 * Threads
 *   One thread per informer: informer_start creates it, and it runs the list, the watch,
 *   the store updates and every handler call, in order. Handlers are never called with
 *   the store's lock held, so they may read the store (their own informer's too); they
 *   should be quick (typically: add a key to a work queue), as the next event waits.
 *   Several informers are several threads sharing one kube_client_t, which is thread-safe.
 *   A list request is not interruptible (kube_list takes no stop flag): informer_stop
 *   returns once a list in flight has answered; a watch and every wait stop within ~100 ms.
 *
 * Ownership
 *   store_new/store_free, informer_new/informer_free (free accepts NULL). json_objects
 *   handed out by store_get, store_list, store_by_index and informer_get are new
 *   references the caller puts (json_object_put); arrays from the list functions are
 *   freed with store_objects_free, store_keys_free and store_projections_free. Objects
 *   passed to store functions are borrowed and not modified. Handlers receive borrowed
 *   objects: valid for the call (json_object_get to keep one), shared by all handler
 *   sets, so not to be modified.
 *
 * Thread-safety
 *   Every store_* function may be called from any thread; one mutex guards the map and
 *   its indexes, and objects are parsed outside it. Indexes and the projection function
 *   must be set before the first object (before informer_start). The store of an
 *   informer is written only by the informer's thread: other threads read it.
 *   informer_stop, informer_has_synced, informer_wait_for_sync, informer_get and
 *   informer_get_stats may be called from any thread; informer_add_handlers and
 *   informer_start from the thread that created the informer, before it runs.
 *
 * Errors
 *   Functions return 0 on success and -1 on failure (out of memory, bad arguments,
 *   wrong state), leaving outputs untouched. The reflector never gives up: a failed list
 *   or watch is logged once with the resource, the HTTP code and reason, counted in
 *   errors, and retried after a backoff (0.8 s doubling to 30 s, plus up to 100%
 *   jitter, as client-go's reflector).
 */
#ifndef S2I_INFORMER_H
#define S2I_INFORMER_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kube/kube.h"

/* ---- keys ------------------------------------------------------------------ */

/* The store key of an object: "namespace/name", or "name" without a namespace (as
 * client-go's MetaNamespaceKeyFunc). A malloc'd string, or NULL when the object has no
 * metadata.name (or out of memory). */
char *store_object_key(json_object *obj);

/* ---- store ----------------------------------------------------------------- */

typedef struct store store_t;

/* What an index function adds its values to (opaque). */
typedef struct store_values store_values_t;

/* Adds one index value for the object being indexed (copied). Empty strings are ignored,
 * and so is a value the object already has for this index. 0, or -1 out of memory. */
int store_values_add(store_values_t *values, const char *value);

/* Computes an object's values for one index by calling store_values_add zero or more
 * times. obj is the object as stored (after any transform), borrowed. Returns 0, or -1
 * to report a failure (the object is then not stored). Called from the thread writing
 * the store, without the store's lock held; must not call into the same store. */
typedef int (*store_index_fn)(json_object *obj, void *data, store_values_t *out);

/* What a projection function adds its bytes to (opaque). */
typedef struct store_projection store_projection_t;

/* Appends len bytes (copied) to the projection being built. 0, or -1 out of memory. */
int store_projection_add(store_projection_t *projection, const void *bytes, size_t len);

/* Computes an object's projection: a small summary of the fields a frequent reader needs
 * (a struct, short strings), kept in the object's entry until the object is replaced or
 * deleted. Adds its bytes with store_projection_add (nothing: an empty projection; at
 * most 65535 bytes). obj is the object as stored (after any transform), borrowed. Returns
 * 0, or -1 to report a failure (the object is then not stored). Called from the thread
 * writing the store, without the store's lock held; must not call into the same store. */
typedef int (*store_projection_fn)(json_object *obj, void *data, store_projection_t *out);

/* One object's projection as store_index_projections hands it out. The strings and bytes
 * are the store's, valid until store_projections_free (a later update or delete of the
 * object does not change them). */
typedef struct store_projected {
    const char *key;              /* the store key */
    const char *uid;              /* metadata.uid, "" when missing */
    const char *resource_version; /* metadata.resourceVersion, "" when missing */
    /* The bytes the projection function added, aligned as malloc's memory (so they may be
     * read as the struct written); NULL when empty. */
    const void *projection;
    size_t projection_len;
    struct store_entry *entry; /* the reference that keeps the above valid; not for callers */
} store_projected_t;

typedef struct store_options {
    /* Keep the JSON text as it is instead of deflating it (one memcpy per read instead
     * of an inflate; several times the memory for typical objects). */
    bool uncompressed;
    /* Bytes of stored JSON that make up the shared deflate dictionary (the first objects
     * stored; the dictionary is fixed from then on). 0: 4096. At most 32768. */
    size_t dictionary_bytes;
} store_options_t;

/* A new, empty store. opts may be NULL for the defaults. NULL when out of memory. */
store_t *store_new(const store_options_t *opts);
void store_free(store_t *store);

/* Adds a named index. Only while the store is empty: -1 when it is not, when the name
 * is taken, or out of memory. data is passed to fn. */
int store_add_index(store_t *store, const char *name, store_index_fn fn, void *data);
/* Sets the projection function (one per store). Only while the store is empty: -1 when it
 * is not, or when a function is set already. data is passed to fn. */
int store_set_projection(store_t *store, store_projection_fn fn, void *data);

/* Adds obj, or replaces the object with the same key. 0, or -1 when obj has no name,
 * an index function failed, or out of memory (the store is then unchanged). */
int store_upsert(store_t *store, json_object *obj);
/* Removes the object stored under key. true if there was one. */
bool store_delete(store_t *store, const char *key);

/* A new reference to a freshly parsed copy of the object under key; NULL if absent. */
json_object *store_get(store_t *store, const char *key);
/* The stored object's metadata.resourceVersion (malloc'd), or NULL if absent. */
char *store_get_resource_version(store_t *store, const char *key);
bool store_contains(store_t *store, const char *key);

/* Every object (order unspecified) / every key. *out is a malloc'd array of *len
 * elements (NULL when empty), freed with store_objects_free / store_keys_free. */
int store_list(store_t *store, json_object ***out, size_t *len);
int store_list_keys(store_t *store, char ***out, size_t *len);
/* The objects / keys with value among their values for the named index. -1 when there
 * is no such index (or out of memory); an unknown value is an empty result. */
int store_by_index(store_t *store, const char *index, const char *value, json_object ***out,
                   size_t *len);
int store_index_keys(store_t *store, const char *index, const char *value, char ***out,
                     size_t *len);
/* The projections of the objects with value among their values for the named index,
 * without parsing or inflating anything. *out is a malloc'd array of *len items (NULL when
 * empty, order unspecified), freed with store_projections_free. -1 when there is no such
 * index (or out of memory); an unknown value is an empty result. */
int store_index_projections(store_t *store, const char *index, const char *value,
                            store_projected_t **out, size_t *len);
/* The projections of every object (order unspecified), as store_index_projections: a
 * pass over the whole cache that inflates and parses nothing, where store_list would
 * hold every object parsed at once (10,000 runs: ~100 MiB for a moment). */
int store_list_projections(store_t *store, store_projected_t **out, size_t *len);
void store_projections_free(store_projected_t *items, size_t len);
void store_objects_free(json_object **objects, size_t len);
void store_keys_free(char **keys, size_t len);

size_t store_len(store_t *store);
/* Heap bytes the store holds: objects, the key table, index tables and the dictionary
 * (the usable size of each allocation). */
size_t store_bytes(store_t *store);
/* True once the informer filling this store has applied its first complete list. */
bool store_has_synced(store_t *store);

/* ---- informer ---------------------------------------------------------------- */

typedef struct informer informer_t;

/* Event handlers; any may be NULL. Called on the informer's thread, in event order,
 * without the store's lock held. obj/old_obj/new_obj are borrowed (see Ownership).
 *   on_add     an object appeared (watch ADDED, or found by a list)
 *   on_update  an object changed (watch MODIFIED, or a list found another
 *              resourceVersion); at resync old_obj == new_obj, the stored object
 *   on_delete  an object went away: the final state from the watch DELETED event, or
 *              the last stored state when a relist found it gone. An object replaced
 *              by another of the same name (other uid) while the watch was down is
 *              delivered as on_delete(old) then on_add(new). */
typedef struct informer_handlers {
    void (*on_add)(json_object *obj, void *data);
    void (*on_update)(json_object *old_obj, json_object *new_obj, void *data);
    void (*on_delete)(json_object *obj, void *data);
    void *data;
} informer_handlers_t;

/* Reduces an object before it is stored and handed to handlers. Receives one reference
 * to obj (the decoded list item or watch event object, owned by nobody else: it may be
 * modified in place and returned) and returns one reference to the object to keep, or
 * NULL on failure (out of memory), which makes the informer relist after a backoff. The
 * store key, resourceVersion and uid are read before the transform, so it may drop them.
 * Called on the informer's thread. */
typedef json_object *(*informer_transform_fn)(json_object *obj, void *data);

/* A transform that removes metadata.managedFields and the
 * kubectl.kubernetes.io/last-applied-configuration annotation in place; data unused. */
json_object *informer_transform_strip(json_object *obj, void *data);

typedef struct informer_options {
    const kube_resource_t *resource; /* required; copied */
    const char *namespace;           /* NULL or "": all namespaces (or cluster-scoped) */
    const char *label_selector;      /* NULL: everything */
    const char *field_selector;
    long page_size;                  /* fixed list limit per request; 0: adaptive (page_bytes);
                                        < 0: no paging (one request for everything) */
    size_t page_bytes;               /* adaptive paging: JSON per page; 0: 64 KiB (see Memory) */
    double resync_period;            /* seconds between re-deliveries of every object; 0: never */
    long watch_timeout;              /* timeoutSeconds of each watch; 0: random in [300, 600) s */
    double backoff_initial;          /* seconds; 0: 0.8 */
    double backoff_max;              /* seconds; 0: 30 */
    informer_transform_fn transform; /* NULL: store objects as received */
    void *transform_data;
    store_options_t store; /* how the store keeps objects */
    const char *name;      /* for logs; NULL: the resource's plural */
} informer_options_t;

/* Counters since informer_new, for metrics. */
typedef struct informer_stats {
    uint64_t events;         /* watch events received (ADDED, MODIFIED, DELETED, BOOKMARK) */
    uint64_t bookmarks;      /* of which BOOKMARKs */
    uint64_t lists;          /* complete lists applied (the first one and every relist) */
    uint64_t relists;        /* lists after the first: 410 Gone, or an event not storable */
    uint64_t list_pages;     /* list requests answered */
    uint64_t watches;        /* watch requests started */
    uint64_t watch_restarts; /* watches ended by the server or the network and resumed */
    uint64_t errors;         /* failed list or watch requests and undecodable events */
    uint64_t resyncs;        /* periodic resyncs run */
    size_t objects;          /* objects cached now */
    size_t store_bytes;      /* store_bytes() now */
} informer_stats_t;

/* A new, stopped informer for opts->resource over client (borrowed: it must outlive the
 * informer). NULL on bad options or out of memory. */
informer_t *informer_new(kube_client_t *client, const informer_options_t *opts);
/* Stops the informer if it runs and frees it with its store. Accepts NULL. */
void informer_free(informer_t *informer);

/* The informer's store (owned by the informer), e.g. to add indexes before start or to
 * read from reconcilers. */
store_t *informer_store(informer_t *informer);
/* Adds a set of handlers (copied). Before informer_start only: -1 afterwards. */
int informer_add_handlers(informer_t *informer, const informer_handlers_t *handlers);

/* Starts the informer's thread. -1 if it was started before or the thread cannot be
 * created. An informer runs once: after informer_stop it cannot be started again. */
int informer_start(informer_t *informer);
/* Asks the thread to stop and waits for it. Handlers are not called after this returns.
 * Idempotent; fine on an informer never started. Not from a handler. */
void informer_stop(informer_t *informer);

bool informer_has_synced(informer_t *informer);
/* Waits until the first list has been applied. timeout in seconds (< 0: forever). True
 * if synced; false on timeout or when the informer is stopped first. */
bool informer_wait_for_sync(informer_t *informer, double timeout);

/* store_get on the informer's store. */
json_object *informer_get(informer_t *informer, const char *key);
void informer_get_stats(informer_t *informer, informer_stats_t *out);

#endif

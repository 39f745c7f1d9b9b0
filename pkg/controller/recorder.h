/*
 * controller/recorder: Kubernetes Events about our objects, as client-go's event
 * recorder writes them (core/v1 Events, which `kubectl describe` and the KubeSphere
 * console read).
 *
 * Recording never blocks a reconcile: events go to a bounded queue that one thread
 * writes out. Repeats of the same event (same object uid, type, reason and message)
 * within ten minutes are folded into one Event whose count and lastTimestamp are
 * patched, as client-go's EventCorrelator does; an object may emit a burst of 25
 * events, then one every five minutes (client-go's spam filter), so a hot loop
 * cannot flood the API server. Messages are the caller's text: callers never put
 * secret values in them.
 *
 * Ownership: recorder_new/recorder_free (free goes on writing what is queued for up
 * to 5 s, plus the one request in flight, then drops the rest). Objects passed in are
 * borrowed; the fields needed are copied.
 * Thread-safety: recorder_event may be called from any thread.
 */
#ifndef S2I_CONTROLLER_RECORDER_H
#define S2I_CONTROLLER_RECORDER_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "kube/kube.h"
#include "util/util.h"

typedef struct recorder recorder_t;

typedef struct recorder_stats {
    uint64_t recorded; /* recorder_event calls */
    uint64_t created;  /* Events created */
    uint64_t patched;  /* repeats folded into an existing Event */
    uint64_t dropped;  /* over the spam limit or the queue bound, or left at free */
    uint64_t failed;   /* writes the API server refused */
} recorder_stats_t;

/* component: source.component / reportingComponent ("s2i-operator"); instance: the
 * reporting instance (pod name). The client is borrowed and must outlive the recorder.
 * NULL when out of memory or the writer thread cannot start. */
recorder_t *recorder_new(kube_client_t *client, const char *component, const char *instance);
void recorder_free(recorder_t *r);

/* Records an event about obj (an API object with apiVersion, kind and metadata).
 * type: "Normal" or "Warning". */
void recorder_event(recorder_t *r, json_object *obj, const char *type, const char *reason,
                    const char *fmt, ...) UTIL_PRINTF(5, 6);

void recorder_get_stats(recorder_t *r, recorder_stats_t *out);

/* Events are news, the work comes first: while busy(data) says so (called on the
 * writer's thread, with the recorder's lock held: it must be quick and not record), the
 * writer holds back, each event at most max_delay seconds after it was recorded. So a
 * burst's Job creates are not slowed by its Events. busy NULL: write at once (default).
 * Not while stopping. */
void recorder_set_yield(recorder_t *r, bool (*busy)(void *), void *data, double max_delay);

/* Waits until the queue is empty, however long the API server takes (tests); at
 * shutdown recorder_free alone bounds the wait. */
void recorder_flush(recorder_t *r);

#endif

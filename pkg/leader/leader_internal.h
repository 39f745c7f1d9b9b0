/*
 * leader/leader_internal.h: what the elector's files share and its unit tests reach, not
 * part of the module's contract.
 *
 *   lease record  the Lease's spec read into C, tolerant of any garbage in it
 *   lease spec    the spec an elector writes (take, renew, release)
 *   test hook     stopping an elector as if its process were killed
 */
#ifndef S2I_LEADER_INTERNAL_H
#define S2I_LEADER_INTERNAL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <time.h>

#include "leader/leader.h"

/* The election record of one Lease, as read. All strings owned, never NULL once parsed. */
typedef struct lease_record {
    char *holder;       /* "" when absent, null or empty; a non-string holder as its JSON
                           text, so it counts as an unknown holder */
    long duration;      /* leaseDurationSeconds, or the fallback when unreadable */
    bool duration_read; /* false: the fallback was used */
    char *acquire_time; /* "" when absent or not a string */
    long transitions;   /* leaseTransitions, 0 when absent or unreadable */
    char *raw;          /* the spec's JSON text ("" without a spec): a change of it is a
                           change of the record, as client-go compares raw records */
} lease_record_t;

/* Reads lease (a Lease object, or anything else: never fails on content) into out,
 * clearing it first. fallback_duration (seconds) stands in for an unreadable
 * leaseDurationSeconds. 0, or -1 when out of memory (out cleared). */
int lease_record_parse(json_object *lease, long fallback_duration, lease_record_t *out);
void lease_record_clear(lease_record_t *r);

/* What an elector writes into spec (holder "" releases). */
typedef struct lease_spec {
    const char *holder;
    long duration;
    const char *acquire_time;
    const char *renew_time;
    long transitions;
} lease_spec_t;

/* A Lease to create (base NULL: apiVersion, kind, metadata.namespace/name) or to update
 * (a deep copy of base, keeping its metadata and so its resourceVersion), with its spec
 * replaced by spec. NULL when out of memory. The caller puts it. */
json_object *lease_build(json_object *base, const char *namespace, const char *name,
                         const lease_spec_t *spec);

/* A MicroTime, "2026-11-26T06:33:38.123456Z", for the wall clock time t. */
void lease_format_microtime(const struct timespec *t, char out[static 32]);

/* Test hook: stops the elector as a killed process would, without releasing the Lease and
 * without calling on_stopped_leading; leader_is_leader turns false. */
void leader_abandon(leader_t *l);

#endif

/*
 * lease: the Lease object as the elector reads and writes it. Reading never trusts the
 * content (another writer, a person with kubectl or a buggy client may have put anything
 * there); writing replaces the spec whole, as client-go's LeaseLock does.
 */
#include "leader/leader_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "util/util.h"

void lease_record_clear(lease_record_t *r)
{
    free(r->holder);
    free(r->acquire_time);
    free(r->raw);
    *r = (lease_record_t){0};
}

/* A non-negative integer field within int32, as the API types it; -1 otherwise. */
static long int32_field(json_object *spec, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(spec, key, &v) || !json_object_is_type(v, json_type_int))
        return -1;
    errno = 0;
    int64_t n = json_object_get_int64(v);
    if (errno != 0 || n < 0 || n > INT32_MAX)
        return -1;
    return (long)n;
}

int lease_record_parse(json_object *lease, long fallback_duration, lease_record_t *out)
{
    lease_record_clear(out);
    json_object *spec = NULL;
    if (!json_object_is_type(lease, json_type_object) ||
        !json_object_object_get_ex(lease, "spec", &spec) ||
        json_object_is_type(spec, json_type_null))
        spec = NULL;

    const char *holder = "";
    const char *acquire = "";
    json_object *v = NULL;
    if (json_object_is_type(spec, json_type_object)) {
        if (json_object_object_get_ex(spec, "holderIdentity", &v) &&
            !json_object_is_type(v, json_type_null))
            holder = json_object_is_type(v, json_type_string)
                         ? json_object_get_string(v)
                         : json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
        if (json_object_object_get_ex(spec, "acquireTime", &v) &&
            json_object_is_type(v, json_type_string))
            acquire = json_object_get_string(v);
        long d = int32_field(spec, "leaseDurationSeconds");
        out->duration_read = d > 0;
        out->duration = d > 0 ? d : fallback_duration;
        long t = int32_field(spec, "leaseTransitions");
        out->transitions = t > 0 ? t : 0;
    } else if (spec) {
        /* a spec that is not even an object: held by nobody we know */
        holder = json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN);
        out->duration = fallback_duration;
    } else {
        out->duration = fallback_duration;
    }
    out->holder = util_strdup(holder);
    out->acquire_time = util_strdup(acquire);
    out->raw =
        util_strdup(spec ? json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN) : "");
    if (!out->holder || !out->acquire_time || !out->raw) {
        lease_record_clear(out);
        return -1;
    }
    return 0;
}

static int add_string(json_object *obj, const char *key, const char *value)
{
    json_object *s = json_object_new_string(value);
    if (!s || json_object_object_add(obj, key, s) != 0) {
        json_object_put(s);
        return -1;
    }
    return 0;
}

static int add_int(json_object *obj, const char *key, long value)
{
    json_object *n = json_object_new_int64(value);
    if (!n || json_object_object_add(obj, key, n) != 0) {
        json_object_put(n);
        return -1;
    }
    return 0;
}

static json_object *new_lease(const char *namespace, const char *name)
{
    json_object *lease = json_object_new_object();
    json_object *meta = json_object_new_object();
    if (!lease || !meta || add_string(lease, "apiVersion", "coordination.k8s.io/v1") != 0 ||
        add_string(lease, "kind", "Lease") != 0 || add_string(meta, "name", name) != 0 ||
        add_string(meta, "namespace", namespace) != 0 ||
        json_object_object_add(lease, "metadata", meta) != 0) {
        json_object_put(meta);
        json_object_put(lease);
        return NULL;
    }
    return lease;
}

json_object *lease_build(json_object *base, const char *namespace, const char *name,
                         const lease_spec_t *spec)
{
    json_object *lease = NULL;
    if (base) {
        if (json_object_deep_copy(base, &lease, NULL) != 0)
            return NULL;
    } else {
        lease = new_lease(namespace, name);
    }
    json_object *s = json_object_new_object();
    if (!lease || !s || json_object_object_add(lease, "spec", s) != 0) {
        json_object_put(s);
        json_object_put(lease);
        return NULL;
    }
    if (add_string(s, "holderIdentity", spec->holder) != 0 ||
        add_int(s, "leaseDurationSeconds", spec->duration) != 0 ||
        add_string(s, "acquireTime", spec->acquire_time) != 0 ||
        add_string(s, "renewTime", spec->renew_time) != 0 ||
        add_int(s, "leaseTransitions", spec->transitions) != 0) {
        json_object_put(lease);
        return NULL;
    }
    return lease;
}

void lease_format_microtime(const struct timespec *t, char out[static 32])
{
    struct tm tm;
    gmtime_r(&t->tv_sec, &tm);
    size_t n = strftime(out, 24, "%Y-%m-%dT%H:%M:%S", &tm);
    unsigned int micros = (unsigned int)(t->tv_nsec / 1000) % 1000000u;
    snprintf(out + n, 32 - n, ".%06uZ", micros);
}

int leader_identity_new(const char *pod_name, char **out)
{
    char host[256];
    if (!pod_name || !*pod_name) {
        if (gethostname(host, sizeof(host)) != 0)
            return -1;
        host[sizeof(host) - 1] = '\0';
        pod_name = host;
    }
    unsigned char u[16];
    size_t got = 0;
    while (got < sizeof(u)) {
        ssize_t n = getrandom(u + got, sizeof(u) - got, 0);
        if (n < 0 && errno != EINTR)
            return -1;
        if (n > 0)
            got += (size_t)n;
    }
    u[6] = (unsigned char)((u[6] & 0x0f) | 0x40); /* version 4 */
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    char *id = util_asprintf("%s_%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                             "%02x%02x%02x%02x%02x%02x",
                             pod_name, u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
                             u[10], u[11], u[12], u[13], u[14], u[15]);
    if (!id)
        return -1;
    *out = id;
    return 0;
}

/*
 * Unit tests for pkg/informer without an API server: the store (keys, replace, delete,
 * indexes, projections, deflated storage, table growth and shrinking, many threads at once), the
 * relist diff, and the informer's event and list paths (handlers, transform, resync)
 * driven through informer_apply_event / informer_apply_list as its thread drives them.
 * The list/watch loop against kube-sim is tested in test_informer_sim.c.
 */
#include <check.h>
#include <stdalign.h>
#include <stdarg.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "informer/informer.h"
#include "informer/informer_internal.h"
#include "util/util.h"

/* ---- helpers ---------------------------------------------------------------------- */

/* A ConfigMap-like object; ns may be NULL (cluster-scoped). */
static json_object *make_obj(const char *ns, const char *name, const char *rv, const char *uid,
                             const char *builder)
{
    char *text = util_asprintf(
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{%s%s%s\"name\":\"%s\","
        "\"resourceVersion\":\"%s\",\"uid\":\"%s\",\"labels\":{\"builder\":\"%s\","
        "\"app.kubernetes.io/managed-by\":\"s2i-operator\"},\"creationTimestamp\":"
        "\"2024-05-01T10:00:00Z\"},\"data\":{\"script\":\"#!/bin/sh\\necho building %s/%s\","
        "\"path\":\"/usr/libexec/s2i\"}}",
        ns ? "\"namespace\":\"" : "", ns ? ns : "", ns ? "\"," : "", name, rv, uid,
        builder ? builder : "", ns ? ns : "", name);
    ck_assert_ptr_nonnull(text);
    json_object *obj = json_tokener_parse(text);
    ck_assert_ptr_nonnull(obj);
    free(text);
    return obj;
}

static const char *rv_of(json_object *obj)
{
    json_object *meta, *rv;
    if (!json_object_object_get_ex(obj, "metadata", &meta) ||
        !json_object_object_get_ex(meta, "resourceVersion", &rv))
        return "";
    return json_object_get_string(rv);
}

static bool has_path(json_object *obj, const char *a, const char *b)
{
    json_object *x, *y;
    if (!json_object_object_get_ex(obj, a, &x))
        return false;
    return !b || json_object_object_get_ex(x, b, &y);
}

/* Index function: the object's "builder" label. */
static int index_by_builder(json_object *obj, void *data, store_values_t *out)
{
    (void)data;
    json_object *meta, *labels, *b;
    if (json_object_object_get_ex(obj, "metadata", &meta) &&
        json_object_object_get_ex(meta, "labels", &labels) &&
        json_object_object_get_ex(labels, "builder", &b))
        return store_values_add(out, json_object_get_string(b));
    return 0;
}

/* Index function: every ownerReferences[].uid (zero or more values). */
static int index_by_owner(json_object *obj, void *data, store_values_t *out)
{
    (void)data;
    json_object *meta, *owners;
    if (!json_object_object_get_ex(obj, "metadata", &meta) ||
        !json_object_object_get_ex(meta, "ownerReferences", &owners))
        return 0;
    for (size_t i = 0; i < json_object_array_length(owners); i++) {
        json_object *uid;
        if (json_object_object_get_ex(json_object_array_get_idx(owners, i), "uid", &uid) &&
            store_values_add(out, json_object_get_string(uid)) < 0)
            return -1;
    }
    return 0;
}

static int index_fails(json_object *obj, void *data, store_values_t *out)
{
    (void)data;
    (void)out;
    return has_path(obj, "fail", NULL) ? -1 : 0;
}

static void set_owners(json_object *obj, const char *a, const char *b)
{
    json_object *meta;
    ck_assert(json_object_object_get_ex(obj, "metadata", &meta));
    json_object *owners = json_object_new_array();
    const char *uids[] = {a, b};
    for (size_t i = 0; i < 2; i++) {
        if (!uids[i])
            continue;
        json_object *ref = json_object_new_object();
        json_object_object_add(ref, "uid", json_object_new_string(uids[i]));
        json_object_array_add(owners, ref);
    }
    json_object_object_add(meta, "ownerReferences", owners);
}

/* Sorted, comma-joined keys of an index lookup, for one-line comparisons. */
static char *index_keys_str(store_t *s, const char *index, const char *value)
{
    char **keys;
    size_t n;
    ck_assert_int_eq(store_index_keys(s, index, value, &keys, &n), 0);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(keys[j], keys[i]) < 0) {
                char *t = keys[i];
                keys[i] = keys[j];
                keys[j] = t;
            }
    buf_t b = BUF_INIT;
    for (size_t i = 0; i < n; i++)
        buf_printf(&b, "%s%s", i ? "," : "", keys[i]);
    store_keys_free(keys, n);
    char *s_out = buf_steal(&b);
    return s_out ? s_out : strdup("");
}

static void upsert(store_t *s, json_object *obj)
{
    ck_assert_int_eq(store_upsert(s, obj), 0);
    json_object_put(obj);
}

/* A projection: the resourceVersion as a number, then the "builder" label's text. */
typedef struct summary {
    long long rv;
    char builder[];
} summary_t;

/* Projection function; data, when not NULL, counts the calls. An object with "fail"
 * fails it, one with "huge" makes a projection too long to keep. */
static int project_summary(json_object *obj, void *data, store_projection_t *out)
{
    if (data)
        (*(int *)data)++;
    if (has_path(obj, "fail", NULL))
        return -1;
    summary_t head;
    memset(&head, 0, sizeof(head));
    head.rv = atoll(rv_of(obj));
    json_object *meta, *labels, *b;
    const char *builder = json_object_object_get_ex(obj, "metadata", &meta) &&
                                  json_object_object_get_ex(meta, "labels", &labels) &&
                                  json_object_object_get_ex(labels, "builder", &b)
                              ? json_object_get_string(b)
                              : "";
    if (store_projection_add(out, &head, offsetof(summary_t, builder)) < 0 ||
        store_projection_add(out, builder, strlen(builder) + 1) < 0)
        return -1;
    static const char pad[4096];
    for (int i = 0; has_path(obj, "huge", NULL) && i < 16; i++)
        if (store_projection_add(out, pad, sizeof(pad)) < 0)
            return -1;
    return 0;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "key=rv:builder" of each item, sorted, comma-joined. */
static char *projected_str(const store_projected_t *items, size_t n)
{
    char **lines = calloc(n ? n : 1, sizeof(*lines));
    for (size_t i = 0; i < n; i++) {
        const summary_t *sum = items[i].projection;
        ck_assert_ptr_nonnull(sum);
        ck_assert_uint_eq((uintptr_t)sum % alignof(max_align_t), 0);
        ck_assert_uint_eq(items[i].projection_len,
                          offsetof(summary_t, builder) + strlen(sum->builder) + 1);
        lines[i] = util_asprintf("%s=%lld:%s", items[i].key, sum->rv, sum->builder);
    }
    qsort(lines, n, sizeof(*lines), compare_strings);
    buf_t b = BUF_INIT;
    buf_puts(&b, "");
    for (size_t i = 0; i < n; i++) {
        buf_printf(&b, "%s%s", i ? "," : "", lines[i]);
        free(lines[i]);
    }
    free(lines);
    return buf_steal(&b);
}

/* projected_str of an index lookup. */
static char *projections_str(store_t *s, const char *index, const char *value)
{
    store_projected_t *items;
    size_t n;
    ck_assert_int_eq(store_index_projections(s, index, value, &items, &n), 0);
    char *out = projected_str(items, n);
    store_projections_free(items, n);
    return out;
}

/* ---- store -------------------------------------------------------------------------- */

START_TEST(test_store_keys_objects_by_namespace_and_name)
{
    store_t *s = store_new(NULL);
    ck_assert_ptr_nonnull(s);
    upsert(s, make_obj("ns1", "a", "10", "u1", "b1"));
    upsert(s, make_obj("ns2", "a", "11", "u2", "b1"));
    upsert(s, make_obj(NULL, "node-1", "12", "u3", NULL));
    ck_assert_uint_eq(store_len(s), 3);
    ck_assert(store_contains(s, "ns1/a"));
    ck_assert(store_contains(s, "ns2/a"));
    ck_assert(store_contains(s, "node-1"));
    ck_assert(!store_contains(s, "a"));
    json_object *got = store_get(s, "ns2/a");
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(rv_of(got), "11");
    json_object_put(got);
    char *rv = store_get_resource_version(s, "node-1");
    ck_assert_str_eq(rv, "12");
    free(rv);
    ck_assert_ptr_null(store_get(s, "ns3/a"));
    ck_assert_ptr_null(store_get_resource_version(s, "ns3/a"));
    store_free(s);
}
END_TEST

START_TEST(test_store_object_key_needs_a_name)
{
    json_object *obj = json_tokener_parse("{\"metadata\":{\"namespace\":\"ns\"}}");
    ck_assert_ptr_null(store_object_key(obj));
    store_t *s = store_new(NULL);
    ck_assert_int_eq(store_upsert(s, obj), -1);
    ck_assert_uint_eq(store_len(s), 0);
    json_object_put(obj);
    obj = json_tokener_parse("{\"metadata\":{\"namespace\":\"\",\"name\":\"x\"}}");
    char *key = store_object_key(obj);
    ck_assert_str_eq(key, "x");
    free(key);
    json_object_put(obj);
    store_free(s);
}
END_TEST

START_TEST(test_store_upsert_replaces_and_delete_removes)
{
    store_t *s = store_new(NULL);
    upsert(s, make_obj("ns", "a", "1", "u1", "b1"));
    upsert(s, make_obj("ns", "a", "2", "u1", "b1"));
    ck_assert_uint_eq(store_len(s), 1);
    json_object *got = store_get(s, "ns/a");
    ck_assert_str_eq(rv_of(got), "2");
    json_object_put(got);
    ck_assert(store_delete(s, "ns/a"));
    ck_assert(!store_delete(s, "ns/a"));
    ck_assert_uint_eq(store_len(s), 0);
    ck_assert_ptr_null(store_get(s, "ns/a"));
    store_free(s);
}
END_TEST

START_TEST(test_store_list_returns_every_object_and_key)
{
    store_t *s = store_new(NULL);
    json_object **objs;
    char **keys;
    size_t n;
    ck_assert_int_eq(store_list(s, &objs, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(objs);
    for (int i = 0; i < 50; i++) {
        char name[16], rv[16];
        snprintf(name, sizeof(name), "o%02d", i);
        snprintf(rv, sizeof(rv), "%d", 100 + i);
        upsert(s, make_obj("ns", name, rv, name, "b"));
    }
    ck_assert_int_eq(store_list(s, &objs, &n), 0);
    ck_assert_uint_eq(n, 50);
    int seen[50] = {0};
    for (size_t i = 0; i < n; i++)
        seen[atoi(rv_of(objs[i])) - 100]++;
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(seen[i], 1);
    store_objects_free(objs, n);
    ck_assert_int_eq(store_list_keys(s, &keys, &n), 0);
    ck_assert_uint_eq(n, 50);
    for (size_t i = 0; i < n; i++)
        ck_assert(util_has_prefix(keys[i], "ns/o"));
    store_keys_free(keys, n);
    store_free(s);
}
END_TEST

START_TEST(test_store_index_finds_objects_by_value_and_follows_updates)
{
    store_t *s = store_new(NULL);
    ck_assert_int_eq(store_add_index(s, "builder", index_by_builder, NULL), 0);
    ck_assert_int_eq(store_add_index(s, "owner", index_by_owner, NULL), 0);
    upsert(s, make_obj("ns", "run-1", "1", "r1", "java"));
    upsert(s, make_obj("ns", "run-2", "2", "r2", "java"));
    upsert(s, make_obj("ns", "run-3", "3", "r3", "python"));
    json_object *pod = make_obj("ns", "pod-1", "4", "p1", NULL);
    set_owners(pod, "job-1", "job-2");
    upsert(s, pod);
    pod = make_obj("ns", "pod-2", "5", "p2", NULL);
    set_owners(pod, "job-1", "job-1"); /* one value, given twice */
    upsert(s, pod);

    char *k = index_keys_str(s, "builder", "java");
    ck_assert_str_eq(k, "ns/run-1,ns/run-2");
    free(k);
    k = index_keys_str(s, "owner", "job-1");
    ck_assert_str_eq(k, "ns/pod-1,ns/pod-2");
    free(k);
    k = index_keys_str(s, "owner", "job-2");
    ck_assert_str_eq(k, "ns/pod-1");
    free(k);
    k = index_keys_str(s, "builder", "ruby");
    ck_assert_str_eq(k, "");
    free(k);

    /* an update moves the object between values; a delete removes it */
    upsert(s, make_obj("ns", "run-2", "6", "r2", "python"));
    k = index_keys_str(s, "builder", "java");
    ck_assert_str_eq(k, "ns/run-1");
    free(k);
    k = index_keys_str(s, "builder", "python");
    ck_assert_str_eq(k, "ns/run-2,ns/run-3");
    free(k);
    ck_assert(store_delete(s, "ns/pod-1"));
    k = index_keys_str(s, "owner", "job-2");
    ck_assert_str_eq(k, "");
    free(k);

    json_object **objs;
    size_t n;
    ck_assert_int_eq(store_by_index(s, "builder", "python", &objs, &n), 0);
    ck_assert_uint_eq(n, 2);
    for (size_t i = 0; i < n; i++)
        ck_assert(util_streq(rv_of(objs[i]), "3") || util_streq(rv_of(objs[i]), "6"));
    store_objects_free(objs, n);
    ck_assert_int_eq(store_by_index(s, "nope", "python", &objs, &n), -1);
    char **keys;
    ck_assert_int_eq(store_index_keys(s, "nope", "x", &keys, &n), -1);
    store_free(s);
}
END_TEST

START_TEST(test_store_indexes_are_added_only_while_empty)
{
    store_t *s = store_new(NULL);
    ck_assert_int_eq(store_add_index(s, "builder", index_by_builder, NULL), 0);
    ck_assert_int_eq(store_add_index(s, "builder", index_by_builder, NULL), -1);
    ck_assert_int_eq(store_add_index(s, NULL, index_by_builder, NULL), -1);
    upsert(s, make_obj("ns", "a", "1", "u", "b"));
    ck_assert_int_eq(store_add_index(s, "owner", index_by_owner, NULL), -1);
    store_free(s);
}
END_TEST

START_TEST(test_store_index_failure_leaves_store_unchanged)
{
    store_t *s = store_new(NULL);
    ck_assert_int_eq(store_add_index(s, "builder", index_by_builder, NULL), 0);
    ck_assert_int_eq(store_add_index(s, "fails", index_fails, NULL), 0);
    upsert(s, make_obj("ns", "a", "1", "u", "b"));
    json_object *bad = make_obj("ns", "a", "2", "u", "c");
    json_object_object_add(bad, "fail", json_object_new_boolean(1));
    ck_assert_int_eq(store_upsert(s, bad), -1);
    json_object_put(bad);
    char *rv = store_get_resource_version(s, "ns/a");
    ck_assert_str_eq(rv, "1");
    free(rv);
    char *k = index_keys_str(s, "builder", "b");
    ck_assert_str_eq(k, "ns/a");
    free(k);
    store_free(s);
}
END_TEST

START_TEST(test_store_projection_is_made_once_when_an_object_is_stored)
{
    store_t *s = store_new(NULL);
    int calls = 0;
    ck_assert_int_eq(store_add_index(s, "builder", index_by_builder, NULL), 0);
    ck_assert_int_eq(store_set_projection(s, project_summary, &calls), 0);
    upsert(s, make_obj("ns", "run-1", "11", "u1", "java"));
    upsert(s, make_obj("ns", "run-2", "12", "u2", "java"));
    upsert(s, make_obj("ns", "run-3", "13", "u3", "python"));
    ck_assert_int_eq(calls, 3);

    char *p = projections_str(s, "builder", "java");
    ck_assert_str_eq(p, "ns/run-1=11:java,ns/run-2=12:java");
    free(p);
    p = projections_str(s, "builder", "python");
    ck_assert_str_eq(p, "ns/run-3=13:python");
    free(p);
    /* reading made no projection, and the object itself is unchanged by having one */
    ck_assert_int_eq(calls, 3);
    json_object *got = store_get(s, "ns/run-3");
    json_object *want = make_obj("ns", "run-3", "13", "u3", "python");
    ck_assert(json_object_equal(got, want));
    json_object_put(got);
    json_object_put(want);

    store_projected_t *items;
    size_t n;
    ck_assert_int_eq(store_index_projections(s, "builder", "python", &items, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(items[0].uid, "u3");
    ck_assert_str_eq(items[0].resource_version, "13");
    store_projections_free(items, n);
    store_free(s);
}
END_TEST

START_TEST(test_store_lists_every_projection_without_an_index)
{
    store_t *s = store_new(NULL);
    int calls = 0;
    ck_assert_int_eq(store_set_projection(s, project_summary, &calls), 0);
    store_projected_t *items;
    size_t n;
    ck_assert_int_eq(store_list_projections(s, &items, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(items);
    upsert(s, make_obj("ns", "run-1", "11", "u1", "java"));
    upsert(s, make_obj("other", "run-2", "12", "u2", "python"));
    upsert(s, make_obj(NULL, "run-3", "13", "u3", ""));
    ck_assert_int_eq(store_list_projections(s, &items, &n), 0);
    char *p = projected_str(items, n);
    ck_assert_str_eq(p, "ns/run-1=11:java,other/run-2=12:python,run-3=13:");
    free(p);
    /* the items hold their entries: a delete meanwhile does not pull them away */
    ck_assert(store_delete(s, "ns/run-1"));
    p = projected_str(items, n);
    ck_assert_str_eq(p, "ns/run-1=11:java,other/run-2=12:python,run-3=13:");
    free(p);
    store_projections_free(items, n);
    ck_assert_int_eq(calls, 3);
    store_free(s);
}
END_TEST

START_TEST(test_store_projection_follows_updates_and_deletes)
{
    store_t *s = store_new(NULL);
    ck_assert_int_eq(store_add_index(s, "builder", index_by_builder, NULL), 0);
    ck_assert_int_eq(store_set_projection(s, project_summary, NULL), 0);
    upsert(s, make_obj("ns", "run-1", "1", "u1", "java"));
    upsert(s, make_obj("ns", "run-2", "2", "u2", "java"));
    store_projected_t *held;
    size_t held_len;
    ck_assert_int_eq(store_index_projections(s, "builder", "java", &held, &held_len), 0);

    /* an update makes a new projection, and may move the object to another value */
    upsert(s, make_obj("ns", "run-1", "7", "u1", "java"));
    upsert(s, make_obj("ns", "run-2", "8", "u2", "python"));
    char *p = projections_str(s, "builder", "java");
    ck_assert_str_eq(p, "ns/run-1=7:java");
    free(p);
    p = projections_str(s, "builder", "python");
    ck_assert_str_eq(p, "ns/run-2=8:python");
    free(p);
    ck_assert(store_delete(s, "ns/run-1"));
    p = projections_str(s, "builder", "java");
    ck_assert_str_eq(p, "");
    free(p);

    /* what was handed out before stays as it was until freed (ASan and valgrind check
     * that the replaced entries live exactly that long) */
    p = projected_str(held, held_len);
    ck_assert_str_eq(p, "ns/run-1=1:java,ns/run-2=2:java");
    free(p);
    store_projections_free(held, held_len);
    ck_assert(store_delete(s, "ns/run-2"));
    ck_assert_uint_eq(store_len(s), 0);
    store_free(s);
}
END_TEST

START_TEST(test_store_projection_is_set_once_and_only_while_empty)
{
    store_t *s = store_new(NULL);
    ck_assert_int_eq(store_set_projection(s, NULL, NULL), -1);
    ck_assert_int_eq(store_set_projection(s, project_summary, NULL), 0);
    ck_assert_int_eq(store_set_projection(s, project_summary, NULL), -1);
    store_free(s);
    s = store_new(NULL);
    upsert(s, make_obj("ns", "a", "1", "u", "b"));
    ck_assert_int_eq(store_set_projection(s, project_summary, NULL), -1);
    store_free(s);
}
END_TEST

START_TEST(test_store_projection_failure_leaves_store_unchanged)
{
    store_t *s = store_new(NULL);
    ck_assert_int_eq(store_add_index(s, "builder", index_by_builder, NULL), 0);
    ck_assert_int_eq(store_set_projection(s, project_summary, NULL), 0);
    upsert(s, make_obj("ns", "a", "1", "u", "b"));
    json_object *bad = make_obj("ns", "a", "2", "u", "c");
    json_object_object_add(bad, "fail", json_object_new_boolean(1));
    ck_assert_int_eq(store_upsert(s, bad), -1);
    json_object_put(bad);
    bad = make_obj("ns", "a", "3", "u", "c");
    json_object_object_add(bad, "huge", json_object_new_boolean(1));
    ck_assert_int_eq(store_upsert(s, bad), -1);
    json_object_put(bad);
    char *p = projections_str(s, "builder", "b");
    ck_assert_str_eq(p, "ns/a=1:b");
    free(p);
    p = projections_str(s, "builder", "c");
    ck_assert_str_eq(p, "");
    free(p);
    store_free(s);
}
END_TEST

START_TEST(test_store_projections_without_a_function_are_empty)
{
    store_t *s = store_new(NULL);
    ck_assert_int_eq(store_add_index(s, "builder", index_by_builder, NULL), 0);
    upsert(s, make_obj("ns", "a", "1", "ua", "b"));
    store_projected_t *items;
    size_t n;
    ck_assert_int_eq(store_index_projections(s, "builder", "b", &items, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(items[0].key, "ns/a");
    ck_assert_str_eq(items[0].uid, "ua");
    ck_assert_ptr_null(items[0].projection);
    ck_assert_uint_eq(items[0].projection_len, 0);
    store_projections_free(items, n);
    ck_assert_int_eq(store_index_projections(s, "builder", "unknown", &items, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(items);
    ck_assert_int_eq(store_index_projections(s, "nope", "b", &items, &n), -1);
    store_free(s);
}
END_TEST

/* Objects come back equal to what went in, deflated or not, and deflating pays. */
static void round_trip(const store_options_t *opts, bool expect_smaller)
{
    store_t *s = store_new(opts);
    size_t json_bytes = 0;
    size_t base = store_bytes(s);
    enum { N = 300 };
    for (int i = 0; i < N; i++) {
        char name[32], rv[16], uid[48];
        snprintf(name, sizeof(name), "s2irun-%d", i);
        snprintf(rv, sizeof(rv), "%d", 1000 + i);
        snprintf(uid, sizeof(uid), "6f1c0f5e-1d2b-4c4e-9a61-%012d", i);
        json_object *obj = make_obj("builds", name, rv, uid, i % 2 ? "java" : "nodejs");
        json_bytes += strlen(json_object_to_json_string_ext(
            obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        upsert(s, obj);
    }
    for (int i = 0; i < N; i++) {
        char key[48], rv[16], uid[48];
        snprintf(key, sizeof(key), "builds/s2irun-%d", i);
        snprintf(rv, sizeof(rv), "%d", 1000 + i);
        snprintf(uid, sizeof(uid), "6f1c0f5e-1d2b-4c4e-9a61-%012d", i);
        json_object *want = make_obj("builds", key + 7, rv, uid, i % 2 ? "java" : "nodejs");
        json_object *got = store_get(s, key);
        ck_assert_ptr_nonnull(got);
        ck_assert_msg(json_object_equal(want, got), "%s differs: %s", key,
                      json_object_to_json_string(got));
        json_object_put(want);
        json_object_put(got);
    }
    size_t bytes = store_bytes(s) - base;
    if (expect_smaller)
        ck_assert_msg(bytes * 2 < json_bytes, "store %zu bytes for %zu bytes of JSON", bytes,
                      json_bytes);
    else
        ck_assert_msg(bytes > json_bytes, "store %zu bytes for %zu bytes of JSON", bytes,
                      json_bytes);
    store_free(s);
}

START_TEST(test_store_deflates_objects_and_gives_them_back_equal)
{
    round_trip(NULL, true);
}
END_TEST

START_TEST(test_store_gives_back_the_same_text_around_the_uid)
{
    /* The deflated text leaves out the object's uid (the entry has it): it must come back
     * where it was, also when other "uid" fields come first or start like it. */
    store_t *s = store_new(NULL);
    enum { N = 200 };
    char *texts[N];
    for (int i = 0; i < N; i++) {
        char *text = util_asprintf(
            "{\"kind\":\"Pod\",\"metadata\":{\"ownerReferences\":[{\"uid\":\"u-%d-x\"},"
            "{\"uid\":\"u-%d\\\"\"}],\"name\":\"p%d\",\"namespace\":\"ns\",\"uid\":\"u-%d\","
            "\"labels\":{\"controller-uid\":\"u-%d\"}},\"status\":{\"phase\":\"%s\"}}",
            i, i, i, i, i, i % 3 ? "Running" : "Succeeded");
        json_object *obj = json_tokener_parse(text);
        ck_assert_ptr_nonnull(obj);
        texts[i] = strdup(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
                                                                  JSON_C_TO_STRING_NOSLASHESCAPE));
        free(text);
        upsert(s, obj);
    }
    for (int i = 0; i < N; i++) {
        char key[32];
        snprintf(key, sizeof(key), "ns/p%d", i);
        json_object *got = store_get(s, key);
        ck_assert_ptr_nonnull(got);
        ck_assert_str_eq(json_object_to_json_string_ext(got, JSON_C_TO_STRING_PLAIN |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE),
                         texts[i]);
        json_object_put(got);
        free(texts[i]);
    }
    store_free(s);
}
END_TEST

START_TEST(test_store_uncompressed_keeps_plain_json)
{
    store_options_t opts = {.uncompressed = true};
    round_trip(&opts, false);
}
END_TEST

START_TEST(test_store_table_grows_and_shrinks_without_losing_keys)
{
    store_t *s = store_new(&(store_options_t){.uncompressed = true});
    enum { N = 5000 };
    size_t empty_bytes = store_bytes(s);
    for (int i = 0; i < N; i++) {
        char name[16];
        snprintf(name, sizeof(name), "k%d", i);
        upsert(s, make_obj("ns", name, "1", name, NULL));
    }
    ck_assert_uint_eq(store_len(s), N);
    /* delete in an order unrelated to insertion; every survivor stays reachable */
    for (int i = 0; i < N; i++) {
        int victim = (int)(((unsigned)i * 7919u) % N);
        char key[24];
        snprintf(key, sizeof(key), "ns/k%d", victim);
        ck_assert_msg(store_delete(s, key), "%s missing", key);
        if (i % 500 == 0)
            for (int j = i + 1; j < N; j++) {
                snprintf(key, sizeof(key), "ns/k%d", (int)(((unsigned)j * 7919u) % N));
                ck_assert_msg(store_contains(s, key), "%s lost after %d deletes", key, i + 1);
            }
    }
    ck_assert_uint_eq(store_len(s), 0);
    ck_assert_uint_eq(store_bytes(s), empty_bytes);
    store_free(s);
}
END_TEST

/* What an object of the random index test has: its "builder" label and owner uids. */
typedef struct model_obj {
    bool present;
    char builder[16];
    char owners[2][16];
} model_obj_t;

/* The keys the model expects for value of the index ("builder" or "owner"), as
 * index_keys_str gives them. */
static char *model_keys_str(const model_obj_t *objs, int n, bool builder, const char *value)
{
    char **keys = calloc((size_t)n, sizeof(*keys));
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        if (!objs[i].present)
            continue;
        bool has = builder ? strcmp(objs[i].builder, value) == 0
                           : strcmp(objs[i].owners[0], value) == 0 ||
                                 strcmp(objs[i].owners[1], value) == 0;
        if (has)
            keys[k++] = util_asprintf("ns/o%d", i);
    }
    qsort(keys, k, sizeof(*keys), compare_strings);
    buf_t b = BUF_INIT;
    buf_puts(&b, "");
    for (size_t i = 0; i < k; i++) {
        buf_printf(&b, "%s%s", i ? "," : "", keys[i]);
        free(keys[i]);
    }
    free(keys);
    return buf_steal(&b);
}

START_TEST(test_store_indexes_match_a_model_under_random_churn)
{
    /* Values shared by many objects (a builder's runs) and values of one object each (an
     * owner uid), moved and deleted at random: every lookup agrees with a plain model,
     * and the tables give back their memory once empty. */
    store_t *s = store_new(&(store_options_t){.uncompressed = true});
    ck_assert_int_eq(store_add_index(s, "builder", index_by_builder, NULL), 0);
    ck_assert_int_eq(store_add_index(s, "owner", index_by_owner, NULL), 0);
    size_t empty_bytes = store_bytes(s);
    enum { OBJECTS = 1500, STEPS = 12000 };
    model_obj_t *model = calloc(OBJECTS, sizeof(*model));
    unsigned seed = 12345;
    for (int step = 0; step < STEPS; step++) {
        int i = (int)(rand_r(&seed) % OBJECTS);
        char name[16], key[24];
        snprintf(name, sizeof(name), "o%d", i);
        snprintf(key, sizeof(key), "ns/%s", name);
        if (model[i].present && rand_r(&seed) % 4 == 0) {
            ck_assert(store_delete(s, key));
            model[i].present = false;
            continue;
        }
        model_obj_t *m = &model[i];
        m->present = true;
        snprintf(m->builder, sizeof(m->builder), "b%u", rand_r(&seed) % 5);
        snprintf(m->owners[0], sizeof(m->owners[0]), "u%u", rand_r(&seed) % 3000);
        snprintf(m->owners[1], sizeof(m->owners[1]), "u%u", rand_r(&seed) % 3000);
        json_object *obj = make_obj("ns", name, "1", name, m->builder);
        set_owners(obj, m->owners[0], m->owners[1]);
        upsert(s, obj);
        if (step % 1000 == 999)
            for (int v = 0; v < 3000; v += step % 7 + 1) {
                char value[16];
                snprintf(value, sizeof(value), v < 5 ? "b%d" : "u%d", v);
                bool builder = v < 5;
                char *want = model_keys_str(model, OBJECTS, builder, value);
                char *got = index_keys_str(s, builder ? "builder" : "owner", value);
                ck_assert_str_eq(got, want);
                free(want);
                free(got);
            }
    }
    for (int i = 0; i < OBJECTS; i++)
        if (model[i].present) {
            char key[24];
            snprintf(key, sizeof(key), "ns/o%d", i);
            ck_assert(store_delete(s, key));
        }
    ck_assert_uint_eq(store_len(s), 0);
    ck_assert_uint_eq(store_bytes(s), empty_bytes);
    free(model);
    store_free(s);
}
END_TEST

typedef struct worker_arg {
    store_t *store;
    int id;
} worker_arg_t;

enum { WORKERS = 4, PER_WORKER = 400 };

static void *writer(void *p)
{
    worker_arg_t *a = p;
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < PER_WORKER; i++) {
            char name[32], rv[16];
            snprintf(name, sizeof(name), "w%d-%d", a->id, i);
            snprintf(rv, sizeof(rv), "%d", round);
            json_object *obj = make_obj("ns", name, rv, name, i % 3 ? "even" : "odd");
            ck_assert_int_eq(store_upsert(a->store, obj), 0);
            json_object_put(obj);
            if (round == 2 && i % 2) {
                char key[40];
                snprintf(key, sizeof(key), "ns/%s", name);
                ck_assert(store_delete(a->store, key));
            }
        }
    return NULL;
}

static void *reader(void *p)
{
    worker_arg_t *a = p;
    for (int i = 0; i < 200; i++) {
        char key[40];
        snprintf(key, sizeof(key), "ns/w%d-%d", i % WORKERS, i);
        json_object *obj = store_get(a->store, key);
        if (obj)
            ck_assert(util_has_prefix(json_object_to_json_string(obj), "{"));
        json_object_put(obj);
        json_object **objs;
        size_t n;
        if (i % 20 == 0) {
            ck_assert_int_eq(store_by_index(a->store, "builder", "odd", &objs, &n), 0);
            for (size_t j = 0; j < n; j++)
                ck_assert_ptr_nonnull(objs[j]);
            store_objects_free(objs, n);
            ck_assert_int_eq(store_list(a->store, &objs, &n), 0);
            store_objects_free(objs, n);
        }
    }
    return NULL;
}

START_TEST(test_store_survives_concurrent_writers_and_readers)
{
    store_t *s = store_new(NULL);
    ck_assert_int_eq(store_add_index(s, "builder", index_by_builder, NULL), 0);
    pthread_t threads[2 * WORKERS];
    worker_arg_t args[2 * WORKERS];
    for (int i = 0; i < 2 * WORKERS; i++) {
        args[i] = (worker_arg_t){s, i % WORKERS};
        ck_assert_int_eq(pthread_create(&threads[i], NULL, i < WORKERS ? writer : reader, &args[i]),
                         0);
    }
    for (int i = 0; i < 2 * WORKERS; i++)
        pthread_join(threads[i], NULL);
    ck_assert_uint_eq(store_len(s), WORKERS * PER_WORKER / 2);
    size_t odd = 0;
    for (int w = 0; w < WORKERS; w++)
        for (int i = 0; i < PER_WORKER; i += 2) {
            char key[40];
            snprintf(key, sizeof(key), "ns/w%d-%d", w, i);
            char *rv = store_get_resource_version(s, key);
            ck_assert_msg(rv && strcmp(rv, "2") == 0, "%s at %s", key, rv ? rv : "(none)");
            free(rv);
            odd += i % 3 == 0;
        }
    char **keys;
    size_t n;
    ck_assert_int_eq(store_index_keys(s, "builder", "odd", &keys, &n), 0);
    ck_assert_uint_eq(n, odd);
    store_keys_free(keys, n);
    store_free(s);
}
END_TEST

/* ---- relist diff -------------------------------------------------------------------- */

static char *diff_str(const informer_meta_t *stored, size_t ns, const informer_meta_t *listed,
                      size_t nl)
{
    informer_change_t *c;
    size_t n;
    ck_assert_int_eq(informer_relist_diff(stored, ns, listed, nl, &c, &n), 0);
    buf_t b = BUF_INIT;
    static const char *const names[] = {"add", "update", "replace", "delete"};
    for (size_t i = 0; i < n; i++) {
        const char *key =
            c[i].type == INFORMER_CHANGE_DELETE ? stored[c[i].stored].key : listed[c[i].listed].key;
        if (c[i].type != INFORMER_CHANGE_ADD && c[i].type != INFORMER_CHANGE_DELETE)
            ck_assert_str_eq(stored[c[i].stored].key, listed[c[i].listed].key);
        buf_printf(&b, "%s%s %s", i ? ", " : "", names[c[i].type], key);
    }
    free(c);
    char *s = buf_steal(&b);
    return s ? s : strdup("");
}

START_TEST(test_relist_diff_of_empty_store_adds_everything_in_list_order)
{
    informer_meta_t listed[] = {{"ns/b", "2", "ub"}, {"ns/a", "1", "ua"}};
    char *s = diff_str(NULL, 0, listed, 2);
    ck_assert_str_eq(s, "add ns/b, add ns/a");
    free(s);
    s = diff_str(NULL, 0, NULL, 0);
    ck_assert_str_eq(s, "");
    free(s);
}
END_TEST

START_TEST(test_relist_diff_finds_updates_deletes_and_recreations)
{
    informer_meta_t stored[] = {
        {"ns/same", "1", "u1"},      {"ns/changed", "2", "u2"}, {"ns/gone-b", "3", "u3"},
        {"ns/recreated", "4", "u4"}, {"ns/gone-a", "5", "u5"},
    };
    informer_meta_t listed[] = {
        {"ns/new", "9", "u9"},
        {"ns/recreated", "8", "u4-new"},
        {"ns/changed", "7", "u2"},
        {"ns/same", "1", "u1"},
    };
    char *s = diff_str(stored, 5, listed, 4);
    ck_assert_str_eq(s, "delete ns/gone-a, delete ns/gone-b, add ns/new, replace ns/recreated, "
                        "update ns/changed");
    free(s);
    s = diff_str(stored, 5, NULL, 0);
    ck_assert_str_eq(s, "delete ns/changed, delete ns/gone-a, delete ns/gone-b, "
                        "delete ns/recreated, delete ns/same");
    free(s);
}
END_TEST

START_TEST(test_relist_diff_takes_the_last_copy_of_a_key_listed_twice)
{
    informer_meta_t stored[] = {{"ns/a", "1", "u"}};
    informer_meta_t listed[] = {
        {"ns/a", "2", "u"}, {"ns/a", "1", "u"}, {"ns/b", "1", "v"}, {"ns/b", "2", "v"}};
    informer_change_t *c;
    size_t n;
    ck_assert_int_eq(informer_relist_diff(stored, 1, listed, 4, &c, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(c[0].type, INFORMER_CHANGE_ADD);
    ck_assert_uint_eq(c[0].listed, 3);
    free(c);
}
END_TEST

/* Random stores and lists against a quadratic reference. */
START_TEST(test_relist_diff_matches_brute_force_on_random_input)
{
    unsigned int seed = 42;
    enum { KEYS = 40 };
    char names[KEYS][16], rvs[4][4] = {"1", "2", "3", "4"}, uids[2][4] = {"a", "b"};
    for (int k = 0; k < KEYS; k++)
        snprintf(names[k], sizeof(names[k]), "ns/k%02d", k);
    for (int round = 0; round < 200; round++) {
        informer_meta_t stored[KEYS], listed[KEYS];
        size_t ns = 0, nl = 0;
        for (int k = 0; k < KEYS; k++) {
            if (rand_r(&seed) % 3)
                stored[ns++] =
                    (informer_meta_t){names[k], rvs[rand_r(&seed) % 4], uids[rand_r(&seed) % 2]};
            if (rand_r(&seed) % 3)
                listed[nl++] =
                    (informer_meta_t){names[k], rvs[rand_r(&seed) % 4], uids[rand_r(&seed) % 2]};
        }
        for (size_t i = nl; i > 1; i--) { /* list order is not key order */
            size_t j = (size_t)rand_r(&seed) % i;
            informer_meta_t t = listed[i - 1];
            listed[i - 1] = listed[j];
            listed[j] = t;
        }
        informer_change_t *c;
        size_t n;
        ck_assert_int_eq(informer_relist_diff(stored, ns, listed, nl, &c, &n), 0);
        size_t want = 0;
        for (size_t i = 0; i < ns; i++) {
            size_t j = 0;
            while (j < nl && strcmp(listed[j].key, stored[i].key))
                j++;
            bool found = false;
            if (j == nl) {
                for (size_t x = 0; x < n; x++)
                    found |= c[x].type == INFORMER_CHANGE_DELETE && c[x].stored == i;
                ck_assert(found);
                want++;
            } else if (strcmp(listed[j].uid, stored[i].uid) ||
                       strcmp(listed[j].resource_version, stored[i].resource_version)) {
                informer_change_type_t t = strcmp(listed[j].uid, stored[i].uid)
                                               ? INFORMER_CHANGE_REPLACE
                                               : INFORMER_CHANGE_UPDATE;
                for (size_t x = 0; x < n; x++)
                    found |= c[x].type == t && c[x].stored == i && c[x].listed == j;
                ck_assert(found);
                want++;
            }
        }
        for (size_t j = 0; j < nl; j++) {
            size_t i = 0;
            while (i < ns && strcmp(listed[j].key, stored[i].key))
                i++;
            if (i == ns) {
                bool found = false;
                for (size_t x = 0; x < n; x++)
                    found |= c[x].type == INFORMER_CHANGE_ADD && c[x].listed == j;
                ck_assert(found);
                want++;
            }
        }
        ck_assert_uint_eq(n, want);
        for (size_t x = 1; x < n; x++) /* deletes come first */
            ck_assert(c[x - 1].type == INFORMER_CHANGE_DELETE ||
                      c[x].type != INFORMER_CHANGE_DELETE);
        free(c);
    }
}
END_TEST

/* ---- informer without HTTP ------------------------------------------------------------ */

static kube_config_t *test_config;
static kube_client_t *test_client;

static void client_setup(void)
{
    static const char kubeconfig[] = "apiVersion: v1\nkind: Config\n"
                                     "clusters:\n- name: c\n  cluster:\n"
                                     "    server: https://127.0.0.1:1\n"
                                     "users:\n- name: u\n  user:\n    token: t\n"
                                     "contexts:\n- name: x\n  context:\n"
                                     "    cluster: c\n    user: u\n"
                                     "current-context: x\n";
    char *err = NULL;
    ck_assert_msg(
        kube_config_parse(kubeconfig, sizeof(kubeconfig) - 1, NULL, NULL, &test_config, &err) == 0,
        "%s", err ? err : "");
    ck_assert_int_eq(kube_client_new(test_config, NULL, &test_client, &err), 0);
}

static void client_teardown(void)
{
    kube_client_free(test_client);
    kube_config_free(test_config);
}

static const kube_resource_t configmaps = {"", "v1", "configmaps", true};

/* Handler recorder: a log line per call, and a model of what handlers were told, which
 * must never see an update or delete of an unknown key, nor an add of a known one. */
typedef struct recorder {
    buf_t log;
    strmap_t *model; /* key -> resourceVersion (malloc'd) */
    int violations;
} recorder_t;

static void recorder_init(recorder_t *r)
{
    buf_init(&r->log);
    r->model = strmap_new(free);
    r->violations = 0;
}

static void recorder_clear(recorder_t *r)
{
    buf_free(&r->log);
    strmap_free(r->model);
}

static void on_add(json_object *obj, void *data)
{
    recorder_t *r = data;
    char *key = store_object_key(obj);
    buf_printf(&r->log, "add %s@%s;", key, rv_of(obj));
    if (strmap_get(r->model, key))
        r->violations++;
    strmap_set(r->model, key, strdup(rv_of(obj)));
    free(key);
}

static void on_update(json_object *old_obj, json_object *new_obj, void *data)
{
    recorder_t *r = data;
    char *key = store_object_key(new_obj);
    char *old_key = store_object_key(old_obj);
    buf_printf(&r->log, "update %s@%s>%s;", key, rv_of(old_obj), rv_of(new_obj));
    const char *known = strmap_get(r->model, key);
    if (!known || strcmp(old_key, key) || strcmp(known, rv_of(old_obj)))
        r->violations++;
    strmap_set(r->model, key, strdup(rv_of(new_obj)));
    free(key);
    free(old_key);
}

static void on_delete(json_object *obj, void *data)
{
    recorder_t *r = data;
    char *key = store_object_key(obj);
    buf_printf(&r->log, "delete %s@%s;", key, rv_of(obj));
    if (!strmap_del(r->model, key))
        r->violations++;
    free(key);
}

static informer_t *new_informer(const informer_options_t *extra, recorder_t *r)
{
    informer_options_t opts = extra ? *extra : (informer_options_t){0};
    opts.resource = &configmaps;
    informer_t *inf = informer_new(test_client, &opts);
    ck_assert_ptr_nonnull(inf);
    if (r) {
        informer_handlers_t h = {on_add, on_update, on_delete, r};
        ck_assert_int_eq(informer_add_handlers(inf, &h), 0);
    }
    return inf;
}

static int feed(informer_t *inf, kube_watch_event_type_t type, json_object *obj)
{
    kube_watch_event_t ev = {type, obj, NULL};
    int rc = informer_apply_event(inf, &ev);
    json_object_put(obj);
    return rc;
}

START_TEST(test_informer_watch_events_reach_store_and_handlers_in_order)
{
    recorder_t r;
    recorder_init(&r);
    informer_t *inf = new_informer(NULL, &r);
    ck_assert_int_eq(feed(inf, KUBE_WATCH_ADDED, make_obj("ns", "a", "1", "ua", "b")), 0);
    ck_assert_int_eq(feed(inf, KUBE_WATCH_MODIFIED, make_obj("ns", "a", "2", "ua", "b")), 0);
    /* MODIFIED of an unknown object is an add; ADDED of a known one an update */
    ck_assert_int_eq(feed(inf, KUBE_WATCH_MODIFIED, make_obj("ns", "b", "3", "ub", "b")), 0);
    ck_assert_int_eq(feed(inf, KUBE_WATCH_ADDED, make_obj("ns", "b", "4", "ub", "b")), 0);
    ck_assert_int_eq(feed(inf, KUBE_WATCH_DELETED, make_obj("ns", "a", "5", "ua", "b")), 0);
    /* a delete of an object never seen tells nobody */
    ck_assert_int_eq(feed(inf, KUBE_WATCH_DELETED, make_obj("ns", "zz", "6", "uz", "b")), 0);
    ck_assert_str_eq(informer_resource_version(inf), "6");
    ck_assert_int_eq(
        feed(inf, KUBE_WATCH_BOOKMARK,
             json_tokener_parse("{\"kind\":\"ConfigMap\",\"metadata\":{\"resourceVersion\":"
                                "\"9\"}}")),
        0);
    ck_assert_str_eq(informer_resource_version(inf), "9");
    ck_assert_str_eq(buf_str(&r.log), "add ns/a@1;update ns/a@1>2;add ns/b@3;update ns/b@3>4;"
                                      "delete ns/a@5;");
    ck_assert_int_eq(r.violations, 0);
    ck_assert_uint_eq(store_len(informer_store(inf)), 1);
    json_object *b = informer_get(inf, "ns/b");
    ck_assert_str_eq(rv_of(b), "4");
    json_object_put(b);
    /* an event without a name cannot be stored: the thread would relist */
    ck_assert_int_eq(feed(inf, KUBE_WATCH_ADDED, json_tokener_parse("{\"metadata\":{}}")), -1);
    informer_stats_t st;
    informer_get_stats(inf, &st);
    ck_assert_uint_eq(st.events, 8);
    ck_assert_uint_eq(st.bookmarks, 1);
    ck_assert_uint_eq(st.objects, 1);
    ck_assert_uint_gt(st.store_bytes, 0);
    informer_free(inf);
    recorder_clear(&r);
}
END_TEST

static json_object **make_list(size_t *len, ...)
{
    va_list ap;
    va_start(ap, len);
    json_object **items = calloc(16, sizeof(*items));
    size_t n = 0;
    const char *name;
    while ((name = va_arg(ap, const char *))) {
        const char *rv = va_arg(ap, const char *);
        const char *uid = va_arg(ap, const char *);
        items[n++] = make_obj("ns", name, rv, uid, "b");
    }
    va_end(ap);
    *len = n;
    return items;
}

static void free_list(json_object **items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        json_object_put(items[i]);
    free(items);
}

START_TEST(test_informer_relist_tells_handlers_what_changed_while_away)
{
    recorder_t r;
    recorder_init(&r);
    informer_t *inf = new_informer(NULL, &r);
    ck_assert(!informer_has_synced(inf));
    ck_assert(!store_has_synced(informer_store(inf)));
    size_t n;
    json_object **items =
        make_list(&n, "a", "1", "ua", "b", "2", "ub", "c", "3", "uc", "d", "4", "ud", (char *)NULL);
    ck_assert_int_eq(informer_apply_list(inf, items, n, "10"), 0);
    free_list(items, n);
    ck_assert(informer_has_synced(inf));
    ck_assert(store_has_synced(informer_store(inf)));
    ck_assert(informer_wait_for_sync(inf, 0));
    ck_assert_str_eq(informer_resource_version(inf), "10");
    ck_assert_str_eq(buf_str(&r.log), "add ns/a@1;add ns/b@2;add ns/c@3;add ns/d@4;");
    buf_reset(&r.log);

    /* away: a unchanged, b modified, c deleted, d deleted and recreated, e created */
    items = make_list(&n, "e", "15", "ue", "d", "14", "ud2", "b", "12", "ub", "a", "1", "ua",
                      (char *)NULL);
    ck_assert_int_eq(informer_apply_list(inf, items, n, "20"), 0);
    free_list(items, n);
    ck_assert_str_eq(buf_str(&r.log),
                     "delete ns/c@3;add ns/e@15;delete ns/d@4;add ns/d@14;update ns/b@2>12;");
    ck_assert_int_eq(r.violations, 0);
    ck_assert_str_eq(informer_resource_version(inf), "20");
    char **keys;
    ck_assert_int_eq(store_list_keys(informer_store(inf), &keys, &n), 0);
    ck_assert_uint_eq(n, 4);
    store_keys_free(keys, n);
    informer_stats_t st;
    informer_get_stats(inf, &st);
    ck_assert_uint_eq(st.lists, 2);
    ck_assert_uint_eq(st.relists, 1);

    /* an empty list deletes everything, with the stored state */
    buf_reset(&r.log);
    ck_assert_int_eq(informer_apply_list(inf, NULL, 0, "30"), 0);
    ck_assert_uint_eq(store_len(informer_store(inf)), 0);
    ck_assert_int_eq(r.violations, 0);
    ck_assert_uint_eq(strmap_len(r.model), 0);
    informer_free(inf);
    recorder_clear(&r);
}
END_TEST

/* Drops spec and data: what a Pod informer does to keep status only. */
static json_object *drop_data(json_object *obj, void *data)
{
    int *calls = data;
    (*calls)++;
    json_object_object_del(obj, "data");
    return informer_transform_strip(obj, NULL);
}

static void check_transformed(json_object *obj, void *data)
{
    (void)data;
    ck_assert(!has_path(obj, "data", NULL));
    ck_assert(!has_path(obj, "metadata", "managedFields"));
    ck_assert(has_path(obj, "metadata", "labels"));
}

static void check_transformed_update(json_object *old_obj, json_object *new_obj, void *data)
{
    check_transformed(old_obj, data);
    check_transformed(new_obj, data);
}

static json_object *with_managed_fields(json_object *obj)
{
    json_object *meta;
    ck_assert(json_object_object_get_ex(obj, "metadata", &meta));
    json_object_object_add(meta, "managedFields",
                           json_tokener_parse("[{\"manager\":\"kubectl\",\"operation\":\"Update\","
                                              "\"fieldsV1\":{\"f:data\":{\"f:script\":{}}}}]"));
    return obj;
}

static int index_sees_no_data(json_object *obj, void *data, store_values_t *out)
{
    (void)data;
    return store_values_add(out, has_path(obj, "data", NULL) ? "data" : "no-data");
}

START_TEST(test_informer_transform_runs_before_store_index_and_handlers)
{
    int calls = 0;
    informer_options_t opts = {.transform = drop_data, .transform_data = &calls};
    informer_t *inf = new_informer(&opts, NULL);
    informer_handlers_t h = {check_transformed, check_transformed_update, check_transformed, NULL};
    ck_assert_int_eq(informer_add_handlers(inf, &h), 0);
    ck_assert_int_eq(store_add_index(informer_store(inf), "data", index_sees_no_data, NULL), 0);
    size_t n;
    json_object **items = make_list(&n, "a", "1", "ua", (char *)NULL);
    with_managed_fields(items[0]);
    ck_assert_int_eq(informer_apply_list(inf, items, n, "1"), 0);
    free_list(items, n);
    ck_assert_int_eq(
        feed(inf, KUBE_WATCH_MODIFIED, with_managed_fields(make_obj("ns", "a", "2", "ua", "b"))),
        0);
    ck_assert_int_eq(feed(inf, KUBE_WATCH_ADDED, make_obj("ns", "b", "3", "ub", "b")), 0);
    ck_assert_int_eq(feed(inf, KUBE_WATCH_DELETED, make_obj("ns", "b", "4", "ub", "b")), 0);
    ck_assert_int_eq(calls, 4);
    json_object *a = informer_get(inf, "ns/a");
    check_transformed(a, NULL);
    ck_assert_str_eq(rv_of(a), "2");
    json_object_put(a);
    char *k = index_keys_str(informer_store(inf), "data", "no-data");
    ck_assert_str_eq(k, "ns/a");
    free(k);
    /* a relist that finds an unchanged object does not transform it again */
    items = make_list(&n, "a", "2", "ua", (char *)NULL);
    ck_assert_int_eq(informer_apply_list(inf, items, n, "5"), 0);
    free_list(items, n);
    ck_assert_int_eq(calls, 4);
    informer_free(inf);
}
END_TEST

static json_object *failing_transform(json_object *obj, void *data)
{
    (void)data;
    json_object_put(obj);
    return NULL;
}

START_TEST(test_informer_transform_failure_fails_the_event_and_keeps_the_store)
{
    recorder_t r;
    recorder_init(&r);
    informer_options_t opts = {.transform = failing_transform};
    informer_t *inf = new_informer(&opts, &r);
    ck_assert_int_eq(feed(inf, KUBE_WATCH_ADDED, make_obj("ns", "a", "1", "ua", "b")), -1);
    ck_assert_uint_eq(store_len(informer_store(inf)), 0);
    ck_assert_ptr_null(informer_resource_version(inf));
    size_t n;
    json_object **items = make_list(&n, "a", "1", "ua", (char *)NULL);
    ck_assert_int_eq(informer_apply_list(inf, items, n, "1"), -1);
    free_list(items, n);
    ck_assert(!informer_has_synced(inf));
    ck_assert_str_eq(buf_str(&r.log), "");
    informer_free(inf);
    recorder_clear(&r);
}
END_TEST

START_TEST(test_transform_strip_drops_managed_fields_and_last_applied)
{
    json_object *obj = with_managed_fields(make_obj("ns", "a", "1", "u", "b"));
    json_object *meta, *ann;
    json_object_object_get_ex(obj, "metadata", &meta);
    ann = json_object_new_object();
    json_object_object_add(ann, "kubectl.kubernetes.io/last-applied-configuration",
                           json_object_new_string("{\"big\":true}"));
    json_object_object_add(meta, "annotations", ann);
    ck_assert_ptr_eq(informer_transform_strip(obj, NULL), obj);
    ck_assert(!has_path(obj, "metadata", "managedFields"));
    ck_assert(!has_path(obj, "metadata", "annotations"));
    ck_assert(has_path(obj, "metadata", "labels"));
    ann = json_object_new_object();
    json_object_object_add(ann, "keep", json_object_new_string("me"));
    json_object_object_add(ann, "kubectl.kubernetes.io/last-applied-configuration",
                           json_object_new_string("{}"));
    json_object_object_add(meta, "annotations", ann);
    informer_transform_strip(obj, NULL);
    ck_assert_int_eq(json_object_object_length(ann), 1);
    json_object_put(obj);
    /* not an object with metadata: left alone */
    obj = json_object_new_string("x");
    ck_assert_ptr_eq(informer_transform_strip(obj, NULL), obj);
    json_object_put(obj);
}
END_TEST

START_TEST(test_informer_projects_objects_as_stored_and_keeps_unchanged_ones_at_relist)
{
    int transforms = 0;
    informer_options_t opts = {0};
    opts.transform = drop_data;
    opts.transform_data = &transforms;
    informer_t *inf = new_informer(&opts, NULL);
    store_t *s = informer_store(inf);
    int calls = 0;
    ck_assert_int_eq(store_add_index(s, "builder", index_by_builder, NULL), 0);
    ck_assert_int_eq(store_set_projection(s, project_summary, &calls), 0);
    ck_assert_int_eq(feed(inf, KUBE_WATCH_ADDED, make_obj("ns", "a", "1", "ua", "b")), 0);
    ck_assert_int_eq(feed(inf, KUBE_WATCH_MODIFIED, make_obj("ns", "a", "2", "ua", "b")), 0);
    ck_assert_int_eq(calls, 2);
    size_t n;
    json_object **items = make_list(&n, "a", "2", "ua", "c", "3", "uc", (char *)NULL);
    ck_assert_int_eq(informer_apply_list(inf, items, n, "10"), 0);
    free_list(items, n);
    /* a relist builds entries for what changed only, so a keeps its projection */
    ck_assert_int_eq(calls, 3);
    char *p = projections_str(s, "builder", "b");
    ck_assert_str_eq(p, "ns/a=2:b,ns/c=3:b");
    free(p);
    ck_assert_int_eq(feed(inf, KUBE_WATCH_DELETED, make_obj("ns", "a", "4", "ua", "b")), 0);
    p = projections_str(s, "builder", "b");
    ck_assert_str_eq(p, "ns/c=3:b");
    free(p);
    informer_free(inf);
}
END_TEST

START_TEST(test_informer_resync_redelivers_every_object_as_update)
{
    recorder_t r;
    recorder_init(&r);
    informer_t *inf = new_informer(NULL, &r);
    size_t n;
    json_object **items = make_list(&n, "a", "1", "ua", "b", "2", "ub", (char *)NULL);
    ck_assert_int_eq(informer_apply_list(inf, items, n, "2"), 0);
    free_list(items, n);
    buf_reset(&r.log);
    informer_resync(inf);
    const char *log = buf_str(&r.log);
    ck_assert_msg(strstr(log, "update ns/a@1>1;") && strstr(log, "update ns/b@2>2;"), "%s", log);
    ck_assert_int_eq(r.violations, 0);
    informer_stats_t st;
    informer_get_stats(inf, &st);
    ck_assert_uint_eq(st.resyncs, 1);
    informer_free(inf);
    recorder_clear(&r);
}
END_TEST

START_TEST(test_informer_lifecycle_without_server)
{
    ck_assert_ptr_null(informer_new(test_client, &(informer_options_t){0}));
    ck_assert_ptr_null(informer_new(NULL, &(informer_options_t){.resource = &configmaps}));
    ck_assert_ptr_null(informer_new(
        test_client, &(informer_options_t){.resource = &configmaps, .resync_period = -1}));
    informer_free(NULL);
    /* never started: stop and wait are harmless */
    informer_t *inf = new_informer(NULL, NULL);
    ck_assert(!informer_wait_for_sync(inf, 0.01));
    informer_stop(inf);
    informer_stop(inf);
    ck_assert(!informer_wait_for_sync(inf, -1));
    informer_free(inf);
    /* started against nothing: it retries until stopped, and stop is prompt */
    inf = new_informer(&(informer_options_t){.backoff_initial = 0.05}, NULL);
    ck_assert_int_eq(informer_start(inf), 0);
    ck_assert_int_eq(informer_start(inf), -1);
    informer_handlers_t h = {0};
    ck_assert_int_eq(informer_add_handlers(inf, &h), -1);
    ck_assert(!informer_wait_for_sync(inf, 0.3));
    double t0 = util_monotonic();
    informer_stop(inf);
    ck_assert_double_lt(util_monotonic() - t0, 5.0);
    informer_stats_t st;
    informer_get_stats(inf, &st);
    ck_assert_uint_gt(st.errors, 0);
    ck_assert_uint_eq(st.lists, 0);
    informer_free(inf);
}
END_TEST

int main(void)
{
    log_set_verbosity(0);
    Suite *s = suite_create("informer");
    TCase *tc = tcase_create("store");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_store_keys_objects_by_namespace_and_name);
    tcase_add_test(tc, test_store_object_key_needs_a_name);
    tcase_add_test(tc, test_store_upsert_replaces_and_delete_removes);
    tcase_add_test(tc, test_store_list_returns_every_object_and_key);
    tcase_add_test(tc, test_store_index_finds_objects_by_value_and_follows_updates);
    tcase_add_test(tc, test_store_indexes_are_added_only_while_empty);
    tcase_add_test(tc, test_store_index_failure_leaves_store_unchanged);
    tcase_add_test(tc, test_store_projection_is_made_once_when_an_object_is_stored);
    tcase_add_test(tc, test_store_projection_follows_updates_and_deletes);
    tcase_add_test(tc, test_store_lists_every_projection_without_an_index);
    tcase_add_test(tc, test_store_projection_is_set_once_and_only_while_empty);
    tcase_add_test(tc, test_store_projection_failure_leaves_store_unchanged);
    tcase_add_test(tc, test_store_projections_without_a_function_are_empty);
    tcase_add_test(tc, test_store_deflates_objects_and_gives_them_back_equal);
    tcase_add_test(tc, test_store_gives_back_the_same_text_around_the_uid);
    tcase_add_test(tc, test_store_uncompressed_keeps_plain_json);
    tcase_add_test(tc, test_store_table_grows_and_shrinks_without_losing_keys);
    tcase_add_test(tc, test_store_indexes_match_a_model_under_random_churn);
    tcase_add_test(tc, test_store_survives_concurrent_writers_and_readers);
    suite_add_tcase(s, tc);

    tc = tcase_create("diff");
    tcase_add_test(tc, test_relist_diff_of_empty_store_adds_everything_in_list_order);
    tcase_add_test(tc, test_relist_diff_finds_updates_deletes_and_recreations);
    tcase_add_test(tc, test_relist_diff_takes_the_last_copy_of_a_key_listed_twice);
    tcase_add_test(tc, test_relist_diff_matches_brute_force_on_random_input);
    suite_add_tcase(s, tc);

    tc = tcase_create("informer");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, client_setup, client_teardown);
    tcase_add_test(tc, test_informer_watch_events_reach_store_and_handlers_in_order);
    tcase_add_test(tc, test_informer_relist_tells_handlers_what_changed_while_away);
    tcase_add_test(tc, test_informer_transform_runs_before_store_index_and_handlers);
    tcase_add_test(tc, test_informer_transform_failure_fails_the_event_and_keeps_the_store);
    tcase_add_test(tc, test_transform_strip_drops_managed_fields_and_last_applied);
    tcase_add_test(tc, test_informer_projects_objects_as_stored_and_keeps_unchanged_ones_at_relist);
    tcase_add_test(tc, test_informer_resync_redelivers_every_object_as_update);
    tcase_add_test(tc, test_informer_lifecycle_without_server);
    suite_add_tcase(s, tc);

    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

/*
 * Unit tests for pkg/leader without an API server: reading Lease records whatever they
 * hold, the Lease written, MicroTime, identities, option checks, and an elector whose API
 * server cannot be reached. The election itself is tested against kube-sim in
 * test_leader_sim.c.
 */
#include <check.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "leader/leader.h"
#include "leader/leader_internal.h"
#include "util/util.h"

static lease_record_t parse(const char *json, long fallback)
{
    json_object *obj = json_tokener_parse(json);
    lease_record_t rec = {0};
    ck_assert_int_eq(lease_record_parse(obj, fallback, &rec), 0);
    json_object_put(obj);
    return rec;
}

START_TEST(test_record_reads_a_well_formed_lease)
{
    lease_record_t rec =
        parse("{\"metadata\":{\"name\":\"l\"},\"spec\":{\"holderIdentity\":\"pod-a_1\","
              "\"leaseDurationSeconds\":15,\"acquireTime\":\"2026-11-26T06:33:38.123456Z\","
              "\"renewTime\":\"2026-11-26T06:33:40.000001Z\",\"leaseTransitions\":3}}",
              99);
    ck_assert_str_eq(rec.holder, "pod-a_1");
    ck_assert_int_eq(rec.duration, 15);
    ck_assert(rec.duration_read);
    ck_assert_str_eq(rec.acquire_time, "2026-11-26T06:33:38.123456Z");
    ck_assert_int_eq(rec.transitions, 3);
    ck_assert_ptr_nonnull(strstr(rec.raw, "\"renewTime\":\"2026-11-26T06:33:40.000001Z\""));
    lease_record_clear(&rec);
}
END_TEST

START_TEST(test_record_without_spec_is_free_with_fallback_duration)
{
    const char *cases[] = {"{\"metadata\":{}}", "{\"spec\":null}", "{\"spec\":{}}",
                           "{\"spec\":{\"holderIdentity\":null}}",
                           "{\"spec\":{\"holderIdentity\":\"\"}}"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(cases); i++) {
        lease_record_t rec = parse(cases[i], 7);
        ck_assert_msg(strcmp(rec.holder, "") == 0, "%s: holder %s", cases[i], rec.holder);
        ck_assert_int_eq(rec.duration, 7);
        ck_assert(!rec.duration_read);
        ck_assert_int_eq(rec.transitions, 0);
        ck_assert_str_eq(rec.acquire_time, "");
        lease_record_clear(&rec);
    }
}
END_TEST

START_TEST(test_record_with_garbage_fields_is_held_by_an_unknown_holder)
{
    lease_record_t rec = parse("{\"spec\":{\"holderIdentity\":42,\"leaseDurationSeconds\":\"abc\","
                               "\"acquireTime\":7,\"renewTime\":\"yesterday\","
                               "\"leaseTransitions\":-4}}",
                               15);
    ck_assert_str_eq(rec.holder, "42");
    ck_assert_int_eq(rec.duration, 15);
    ck_assert(!rec.duration_read);
    ck_assert_str_eq(rec.acquire_time, "");
    ck_assert_int_eq(rec.transitions, 0);
    lease_record_clear(&rec);

    /* out of int32, negative, zero, fractional: all unreadable durations */
    const char *durations[] = {"99999999999", "-1", "0", "2.5", "true", "[]", "{}"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(durations); i++) {
        char json[160];
        snprintf(json, sizeof(json),
                 "{\"spec\":{\"holderIdentity\":\"x\",\"leaseDurationSeconds\":%s}}", durations[i]);
        rec = parse(json, 15);
        ck_assert_msg(rec.duration == 15 && !rec.duration_read, "%s read as %ld", durations[i],
                      rec.duration);
        lease_record_clear(&rec);
    }

    /* a spec that is not an object, and objects that are not Leases */
    rec = parse("{\"spec\":\"garbage\"}", 15);
    ck_assert_str_eq(rec.holder, "\"garbage\"");
    ck_assert_int_eq(rec.duration, 15);
    lease_record_clear(&rec);
    rec = parse("{\"spec\":[1,2]}", 15);
    ck_assert_str_ne(rec.holder, "");
    lease_record_clear(&rec);
    rec = parse("[1,2,3]", 15);
    ck_assert_str_eq(rec.holder, "");
    lease_record_clear(&rec);
    ck_assert_int_eq(lease_record_parse(NULL, 15, &rec), 0);
    ck_assert_str_eq(rec.holder, "");
    ck_assert_str_eq(rec.raw, "");
    lease_record_clear(&rec);
}
END_TEST

START_TEST(test_record_raw_changes_with_renew_time_only_when_spec_changes)
{
    lease_record_t a = parse("{\"metadata\":{\"resourceVersion\":\"1\"},\"spec\":{"
                             "\"holderIdentity\":\"x\",\"renewTime\":\"t1\"}}",
                             15);
    lease_record_t b = parse("{\"metadata\":{\"resourceVersion\":\"2\",\"labels\":{\"a\":\"b\"}},"
                             "\"spec\":{\"holderIdentity\":\"x\",\"renewTime\":\"t1\"}}",
                             15);
    lease_record_t c = parse("{\"metadata\":{\"resourceVersion\":\"3\"},\"spec\":{"
                             "\"holderIdentity\":\"x\",\"renewTime\":\"t2\"}}",
                             15);
    ck_assert_str_eq(a.raw, b.raw); /* metadata changes are no sign of life */
    ck_assert_str_ne(a.raw, c.raw);
    lease_record_clear(&a);
    lease_record_clear(&b);
    lease_record_clear(&c);
}
END_TEST

START_TEST(test_build_creates_a_lease_and_updates_keeping_metadata)
{
    lease_spec_t spec = {"me_1", 15, "2026-11-26T06:33:38.000001Z", "2026-11-26T06:33:39.5Z", 2};
    json_object *created = lease_build(NULL, "ns", "lock", &spec);
    ck_assert_ptr_nonnull(created);
    ck_assert_str_eq(
        json_object_to_json_string_ext(created,
                                       JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
        "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{"
        "\"name\":\"lock\",\"namespace\":\"ns\"},\"spec\":{\"holderIdentity\":\"me_1\","
        "\"leaseDurationSeconds\":15,\"acquireTime\":\"2026-11-26T06:33:38.000001Z\","
        "\"renewTime\":\"2026-11-26T06:33:39.5Z\",\"leaseTransitions\":2}}");

    json_object *base = json_tokener_parse(
        "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{\"name\":"
        "\"lock\",\"namespace\":\"ns\",\"resourceVersion\":\"42\",\"labels\":{\"k\":\"v\"}},"
        "\"spec\":{\"holderIdentity\":42,\"junk\":true}}");
    spec = (lease_spec_t){"", 1, "a", "b", 5};
    json_object *updated = lease_build(base, "ignored", "ignored", &spec);
    ck_assert_ptr_nonnull(updated);
    lease_record_t rec = {0};
    ck_assert_int_eq(lease_record_parse(updated, 15, &rec), 0);
    ck_assert_str_eq(rec.holder, "");
    ck_assert_int_eq(rec.duration, 1);
    ck_assert_int_eq(rec.transitions, 5);
    lease_record_clear(&rec);
    json_object *meta = json_object_object_get(updated, "metadata");
    ck_assert_str_eq(json_object_get_string(json_object_object_get(meta, "resourceVersion")), "42");
    ck_assert_str_eq(json_object_get_string(json_object_object_get(meta, "name")), "lock");
    ck_assert_ptr_null(json_object_object_get(json_object_object_get(updated, "spec"), "junk"));
    /* the base is untouched */
    ck_assert_int_eq(json_object_get_int(json_object_object_get(
                         json_object_object_get(base, "spec"), "holderIdentity")),
                     42);
    json_object_put(updated);
    json_object_put(base);
    json_object_put(created);
}
END_TEST

START_TEST(test_microtime_has_microseconds_and_z)
{
    struct timespec t = {1795674818, 123456789}; /* 2026-11-26T06:33:38.123456789Z */
    char out[32];
    lease_format_microtime(&t, out);
    ck_assert_str_eq(out, "2026-11-26T06:33:38.123456Z");
    t = (struct timespec){0, 999};
    lease_format_microtime(&t, out);
    ck_assert_str_eq(out, "1970-01-01T00:00:00.000000Z");
    time_t parsed = 0;
    ck_assert_int_eq(util_parse_rfc3339("2026-11-26T06:33:38.123456Z", &parsed), 0);
    ck_assert_int_eq(parsed, 1795674818);
}
END_TEST

START_TEST(test_identity_is_pod_name_and_random_uuid)
{
    char *a = NULL, *b = NULL, *host = NULL;
    ck_assert_int_eq(leader_identity_new("s2i-operator-7d9f-abcde", &a), 0);
    ck_assert_int_eq(leader_identity_new("s2i-operator-7d9f-abcde", &b), 0);
    ck_assert_int_eq(leader_identity_new(NULL, &host), 0);
    regex_t re;
    ck_assert_int_eq(regcomp(&re,
                             "^s2i-operator-7d9f-abcde_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-"
                             "[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    ck_assert_msg(regexec(&re, a, 0, NULL, 0) == 0, "%s", a);
    regfree(&re);
    ck_assert_str_ne(a, b);
    char name[256];
    ck_assert_int_eq(gethostname(name, sizeof(name)), 0);
    ck_assert(util_has_prefix(host, name));
    ck_assert_int_eq(host[strlen(name)], '_');
    free(a);
    free(b);
    free(host);
}
END_TEST

/* ---- electors without a reachable API server ------------------------------------ */

static kube_config_t *unreachable_config(void)
{
    /* port 1 on loopback: connection refused at once */
    const char *yaml = "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
                       "clusters:\n- name: k\n  cluster:\n    server: http://127.0.0.1:1\n"
                       "users:\n- name: u\n  user:\n    token: t\n"
                       "contexts:\n- name: c\n  context:\n    cluster: k\n    user: u\n";
    kube_config_t *config = NULL;
    char *err = NULL;
    ck_assert_msg(kube_config_parse(yaml, strlen(yaml), NULL, NULL, &config, &err) == 0, "%s",
                  err ? err : "");
    return config;
}

static void valid_options(leader_options_t *o)
{
    leader_options_default(o);
    o->namespace = "default";
    o->name = "lock";
    o->identity = "me_1";
}

static void expect_rejected(const leader_options_t *o, const char *why)
{
    kube_config_t *config = unreachable_config();
    leader_t *l = NULL;
    char *err = NULL;
    ck_assert_int_eq(leader_new(config, o, NULL, &l, &err), -1);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err, why), "expected \"%s\" in \"%s\"", why, err);
    ck_assert_ptr_null(l);
    free(err);
    kube_config_free(config);
}

START_TEST(test_options_default_to_client_go_values)
{
    leader_options_t o;
    leader_options_default(&o);
    ck_assert(o.lease_duration == 15 && o.renew_deadline == 10 && o.retry_period == 2);
    ck_assert(o.jitter == 1.2);
    ck_assert(o.release_on_stop && !o.rejoin_after_loss && o.watch);
}
END_TEST

START_TEST(test_options_are_checked)
{
    leader_options_t o;
    valid_options(&o);
    o.name = NULL;
    expect_rejected(&o, "name are required");
    valid_options(&o);
    o.identity = "";
    expect_rejected(&o, "identity");
    valid_options(&o);
    o.lease_duration = 10;
    expect_rejected(&o, "greater than the renew deadline");
    valid_options(&o);
    o.lease_duration = 15.5;
    expect_rejected(&o, "whole seconds");
    valid_options(&o);
    o.renew_deadline = 2.4;
    expect_rejected(&o, "jitter * retry period");
    valid_options(&o);
    o.request_timeout = 9;
    expect_rejected(&o, "must fit in the renew deadline");
    valid_options(&o);
    o.retry_period = 0;
    expect_rejected(&o, "must be > 0");
}
END_TEST

static atomic_int started_calls;
static void count_started(void *data)
{
    (void)data;
    atomic_fetch_add(&started_calls, 1);
}

START_TEST(test_unreachable_server_never_leads_and_stops_promptly)
{
    kube_config_t *config = unreachable_config();
    leader_options_t o;
    valid_options(&o);
    o.lease_duration = 2;
    o.renew_deadline = 1.5;
    o.retry_period = 0.1;
    o.request_timeout = 0.5;
    leader_callbacks_t cb = {.on_started_leading = count_started};
    leader_t *l = NULL;
    char *err = NULL;
    ck_assert_int_eq(leader_new(config, &o, &cb, &l, &err), 0);
    ck_assert_str_eq(leader_identity(l), "me_1");
    ck_assert(!leader_wait(l, 0)); /* not started */
    ck_assert_int_eq(leader_start(l), 0);
    ck_assert_int_eq(leader_start(l), -1);
    for (int i = 0; i < 50; i++) {
        ck_assert(!leader_is_leader(l));
        util_sleep(0.01);
    }
    ck_assert(!leader_wait(l, 0.2));
    double t0 = util_monotonic();
    leader_stop(l);
    ck_assert_double_lt(util_monotonic() - t0, 1.0);
    ck_assert(leader_wait(l, 0));
    leader_stop(l); /* again: harmless */
    ck_assert_int_eq(atomic_load(&started_calls), 0);
    leader_free(l);
    leader_free(NULL);
    kube_config_free(config);
}
END_TEST

int main(void)
{
    log_set_verbosity(0);
    Suite *s = suite_create("leader");
    TCase *tc = tcase_create("lease");
    tcase_add_test(tc, test_record_reads_a_well_formed_lease);
    tcase_add_test(tc, test_record_without_spec_is_free_with_fallback_duration);
    tcase_add_test(tc, test_record_with_garbage_fields_is_held_by_an_unknown_holder);
    tcase_add_test(tc, test_record_raw_changes_with_renew_time_only_when_spec_changes);
    tcase_add_test(tc, test_build_creates_a_lease_and_updates_keeping_metadata);
    tcase_add_test(tc, test_microtime_has_microseconds_and_z);
    tcase_add_test(tc, test_identity_is_pod_name_and_random_uuid);
    suite_add_tcase(s, tc);
    tc = tcase_create("elector");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_options_default_to_client_go_values);
    tcase_add_test(tc, test_options_are_checked);
    tcase_add_test(tc, test_unreachable_server_never_leads_and_stops_promptly);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

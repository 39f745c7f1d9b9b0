/* Unit tests for the watch stream decoder (pkg/kube/watch.c): however the bytes are cut,
 * the same events come out, in order; malformed streams stop with a clear error. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube.h"

/* What the callback saw: one "TYPE:name" line per event, and the last ERROR. */
typedef struct recorder {
    buf_t log;
    size_t events;
    size_t stop_after; /* 0 = never stop */
    size_t big_len;    /* length of object.data.big of the last event, if any */
    kube_result_t error;
} recorder_t;

static const char *const type_names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};

static int record(const kube_watch_event_t *ev, void *data)
{
    recorder_t *r = data;
    json_object *meta, *name, *dataobj, *big;
    const char *n = "";
    if (json_object_object_get_ex(ev->object, "metadata", &meta) &&
        json_object_object_get_ex(meta, "name", &name))
        n = json_object_get_string(name);
    if (ev->type == KUBE_WATCH_BOOKMARK &&
        json_object_object_get_ex(ev->object, "metadata", &meta) &&
        json_object_object_get_ex(meta, "resourceVersion", &name))
        n = json_object_get_string(name);
    if (json_object_object_get_ex(ev->object, "data", &dataobj) &&
        json_object_object_get_ex(dataobj, "big", &big))
        r->big_len = (size_t)json_object_get_string_len(big);
    buf_printf(&r->log, "%s:%s\n", type_names[ev->type], n);
    if (ev->type == KUBE_WATCH_ERROR) {
        ck_assert_ptr_nonnull(ev->error);
        kube_result_copy(&r->error, ev->error);
    } else {
        ck_assert_ptr_null(ev->error);
    }
    r->events++;
    return r->stop_after && r->events >= r->stop_after ? 42 : 0;
}

static void recorder_free(recorder_t *r)
{
    buf_free(&r->log);
    kube_result_clear(&r->error);
}

#define POD(type, name, rv)                                                                        \
    "{\"type\":\"" type "\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\","                   \
    "\"metadata\":{\"name\":\"" name "\",\"namespace\":\"default\",\"resourceVersion\":\"" rv      \
    "\",\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":"        \
    "\"busybox\",\"args\":[\"sh\",\"-c\",\"echo \\\"hi\\\" \\u00e9 \\\\ done\"]}]}}}\n"

static const char stream[] = POD("ADDED", "a", "10") POD("ADDED", "b", "11") POD(
    "MODIFIED", "a",
    "12") "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":"
          "{\"resourceVersion\":\"13\",\"annotations\":{\"k8s.io/"
          "initial-events-end\":\"true\"}}}}\n" POD("DELETED", "b", "14");

static const char expected[] = "ADDED:a\nADDED:b\nMODIFIED:a\nBOOKMARK:13\nDELETED:b\n";

/* Feeds s in pieces whose sizes come from rand_r(seed), 1..max_chunk bytes. */
static int feed_chunked(kube_watch_decoder_t *d, const char *s, size_t len, unsigned int *seed,
                        size_t max_chunk)
{
    size_t off = 0;
    while (off < len) {
        size_t n = 1 + (size_t)rand_r(seed) % max_chunk;
        if (n > len - off)
            n = len - off;
        int rc = kube_watch_decoder_feed(d, s + off, n);
        if (rc != 0)
            return rc;
        off += n;
    }
    return 0;
}

START_TEST(test_decoder_delivers_events_fed_byte_by_byte)
{
    recorder_t r = {0};
    kube_watch_decoder_t *d = kube_watch_decoder_new(record, &r, 0);
    for (size_t i = 0; i < sizeof(stream) - 1; i++)
        ck_assert_int_eq(kube_watch_decoder_feed(d, stream + i, 1), 0);
    ck_assert_int_eq(kube_watch_decoder_finish(d), 0);
    ck_assert_str_eq(buf_str(&r.log), expected);
    ck_assert_uint_eq(kube_watch_decoder_events(d), 5);
    kube_watch_decoder_free(d);
    recorder_free(&r);
}
END_TEST

START_TEST(test_decoder_gives_same_events_for_any_chunking)
{
    for (unsigned int iteration = 0; iteration < 2000; iteration++) {
        unsigned int seed = 1234 + iteration;
        recorder_t r = {0};
        kube_watch_decoder_t *d = kube_watch_decoder_new(record, &r, 0);
        size_t max_chunk = 1 + iteration % 97;
        ck_assert_int_eq(feed_chunked(d, stream, sizeof(stream) - 1, &seed, max_chunk), 0);
        ck_assert_int_eq(kube_watch_decoder_finish(d), 0);
        ck_assert_str_eq(buf_str(&r.log), expected);
        kube_watch_decoder_free(d);
        recorder_free(&r);
    }
}
END_TEST

START_TEST(test_decoder_delivers_several_events_from_one_chunk)
{
    recorder_t r = {0};
    kube_watch_decoder_t *d = kube_watch_decoder_new(record, &r, 0);
    ck_assert_int_eq(kube_watch_decoder_feed(d, stream, sizeof(stream) - 1), 0);
    ck_assert_str_eq(buf_str(&r.log), expected);
    /* Objects need no newline between them: a JSON stream decoder does not either. */
    const char glued[] = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"x\"}}}"
                         "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"x\"}}}";
    ck_assert_int_eq(kube_watch_decoder_feed(d, glued, sizeof(glued) - 1), 0);
    ck_assert_int_eq(kube_watch_decoder_finish(d), 0);
    ck_assert(util_has_suffix(buf_str(&r.log), "ADDED:x\nDELETED:x\n"));
    kube_watch_decoder_free(d);
    recorder_free(&r);
}
END_TEST

START_TEST(test_decoder_handles_a_5mib_object_in_random_chunks)
{
    const size_t big = 5u << 20;
    buf_t s = BUF_INIT;
    buf_puts(&s, POD("ADDED", "before", "1"));
    buf_puts(&s, "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":"
                 "{\"name\":\"huge\"},\"data\":{\"big\":\"");
    ck_assert_int_eq(buf_reserve(&s, big), 0);
    for (size_t i = 0; i < big; i++)
        s.data[s.len++] = (char)('a' + i % 26);
    s.data[s.len] = '\0';
    buf_puts(&s, "\"}}}\n");
    buf_puts(&s, POD("DELETED", "after", "3"));
    ck_assert(!s.oom);

    for (unsigned int seed = 1; seed <= 3; seed++) {
        recorder_t r = {0};
        kube_watch_decoder_t *d = kube_watch_decoder_new(record, &r, 0);
        unsigned int state = seed;
        ck_assert_int_eq(feed_chunked(d, s.data, s.len, &state, 16384), 0);
        ck_assert_int_eq(kube_watch_decoder_finish(d), 0);
        ck_assert_str_eq(buf_str(&r.log), "ADDED:before\nMODIFIED:huge\nDELETED:after\n");
        ck_assert_uint_eq(r.big_len, big);
        kube_watch_decoder_free(d);
        recorder_free(&r);
    }
    buf_free(&s);
}
END_TEST

START_TEST(test_decoder_turns_error_event_into_410_expired)
{
    /* Exactly what a real API server sends when the watch's resourceVersion is too old. */
    const char ev[] = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                      "\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old resource "
                      "version: 1 (218)\",\"reason\":\"Expired\",\"code\":410}}\n";
    recorder_t r = {0};
    kube_watch_decoder_t *d = kube_watch_decoder_new(record, &r, 0);
    unsigned int seed = 7;
    ck_assert_int_eq(feed_chunked(d, ev, sizeof(ev) - 1, &seed, 5), 0);
    ck_assert_str_eq(buf_str(&r.log), "ERROR:\n");
    ck_assert_int_eq(r.error.err, KUBE_ERR_GONE);
    ck_assert(r.error.expired);
    ck_assert_int_eq(r.error.http_code, 410);
    ck_assert_str_eq(r.error.reason, "Expired");
    ck_assert_str_eq(r.error.message, "too old resource version: 1 (218)");
    kube_watch_decoder_free(d);
    recorder_free(&r);
}
END_TEST

START_TEST(test_decoder_error_event_with_gone_reason_is_not_expired)
{
    const char ev[] = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"status\":\"Failure\","
                      "\"message\":\"gone\",\"reason\":\"Gone\",\"code\":410}}\n";
    recorder_t r = {0};
    kube_watch_decoder_t *d = kube_watch_decoder_new(record, &r, 0);
    ck_assert_int_eq(kube_watch_decoder_feed(d, ev, sizeof(ev) - 1), 0);
    ck_assert_int_eq(r.error.err, KUBE_ERR_GONE);
    ck_assert(!r.error.expired);
    /* An ERROR event whose Status claims success is still an error. */
    const char odd[] =
        "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"status\":\"Success\"}}\n";
    ck_assert_int_eq(kube_watch_decoder_feed(d, odd, sizeof(odd) - 1), 0);
    ck_assert_int_eq(r.error.err, KUBE_ERR_UNKNOWN);
    kube_watch_decoder_free(d);
    recorder_free(&r);
}
END_TEST

START_TEST(test_decoder_skips_blank_lines_and_keepalive_whitespace)
{
    const char s[] =
        "\n\n \r\n\t" POD("ADDED", "a", "1") "\n\n   \n" POD("ADDED", "b", "2") "\r\n\n";
    for (unsigned int seed = 0; seed < 200; seed++) {
        recorder_t r = {0};
        kube_watch_decoder_t *d = kube_watch_decoder_new(record, &r, 0);
        unsigned int state = seed;
        ck_assert_int_eq(feed_chunked(d, s, sizeof(s) - 1, &state, 1 + seed % 13), 0);
        /* Whitespace alone after the last event is a clean end. */
        ck_assert_int_eq(kube_watch_decoder_feed(d, "\n", 1), 0);
        ck_assert_int_eq(kube_watch_decoder_finish(d), 0);
        ck_assert_str_eq(buf_str(&r.log), "ADDED:a\nADDED:b\n");
        kube_watch_decoder_free(d);
        recorder_free(&r);
    }
}
END_TEST

/* Feeds s whole and returns the decoder's error (copied), asserting it failed. */
static char *malformed_error(const char *s, size_t *events)
{
    recorder_t r = {0};
    kube_watch_decoder_t *d = kube_watch_decoder_new(record, &r, 0);
    int rc = kube_watch_decoder_feed(d, s, strlen(s));
    if (rc == 0)
        rc = kube_watch_decoder_finish(d);
    ck_assert_int_eq(rc, -1);
    /* The decoder stays failed. */
    ck_assert_int_eq(kube_watch_decoder_feed(d, POD("ADDED", "z", "9"), 10), -1);
    ck_assert_int_eq(kube_watch_decoder_finish(d), -1);
    char *msg = util_strdup(kube_watch_decoder_error(d));
    *events = r.events;
    kube_watch_decoder_free(d);
    recorder_free(&r);
    ck_assert_ptr_nonnull(msg);
    return msg;
}

START_TEST(test_decoder_rejects_malformed_lines_with_a_clear_error)
{
    static const struct {
        const char *stream;
        const char *message_part;
        size_t events_before;
    } cases[] = {
        {POD("ADDED", "a", "1") "{\"type\": bad}\n", "malformed watch event at byte", 1},
        {"<html><body>502 Bad Gateway</body></html>", "expected '{', found 0x3c", 0},
        {POD("ADDED", "a", "1") "[1,2]\n", "expected '{'", 1},
        {"{\"object\":{}}\n", "has no type", 0},
        {"{\"type\":7,\"object\":{}}\n", "has no type", 0},
        {"{\"type\":\"CREATED\",\"object\":{}}\n", "unknown type \"CREATED\"", 0},
        {"{\"type\":\"ADDED\"}\n", "ADDED watch event at byte 0 has no object", 0},
        {"{\"type\":\"ADDED\",\"object\":\"pod\"}\n", "has no object", 0},
        {"{\"type\":\"ADDED\",\"object\":{},}\n", "malformed", 0},
        {"{\"type\":\"ADDED\",\"object\":{\"a\":tru}}\n", "malformed", 0},
        {"{\"type\":\"ADDED\",\"object\":{\"a\":1 \"b\":2}}\n", "malformed", 0},
        {"{\"type\":\"ADDED\",\"object\":{\"a\":1}", "ended inside an event", 0},
        {"\n\n{\"type\":\"ADDED\",\"obj", "ended inside an event (20 bytes", 0},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(cases); i++) {
        size_t events;
        char *msg = malformed_error(cases[i].stream, &events);
        if (!strstr(msg, cases[i].message_part))
            ck_abort_msg("case %zu: \"%s\" does not contain \"%s\"", i, msg, cases[i].message_part);
        ck_assert_uint_eq(events, cases[i].events_before);
        free(msg);
    }
}
END_TEST

START_TEST(test_decoder_reports_byte_offset_of_the_bad_event)
{
    size_t events;
    char *msg = malformed_error("{\"type\":\"ADDED\",\"object\":{}}\n  @", &events);
    ck_assert_str_eq(msg, "malformed watch stream at byte 31: expected '{', found 0x40");
    free(msg);
}
END_TEST

START_TEST(test_decoder_stops_when_the_callback_asks)
{
    recorder_t r = {.stop_after = 2};
    kube_watch_decoder_t *d = kube_watch_decoder_new(record, &r, 0);
    ck_assert_int_eq(kube_watch_decoder_feed(d, stream, sizeof(stream) - 1), 42);
    ck_assert_str_eq(buf_str(&r.log), "ADDED:a\nADDED:b\n");
    ck_assert_int_eq(kube_watch_decoder_feed(d, stream, sizeof(stream) - 1), 42);
    ck_assert_uint_eq(r.events, 2);
    ck_assert_int_eq(kube_watch_decoder_finish(d), 0);
    ck_assert_ptr_null(kube_watch_decoder_error(d));
    kube_watch_decoder_free(d);
    recorder_free(&r);
}
END_TEST

START_TEST(test_decoder_refuses_events_larger_than_the_limit)
{
    recorder_t r = {0};
    kube_watch_decoder_t *d = kube_watch_decoder_new(record, &r, 200);
    ck_assert_int_eq(kube_watch_decoder_feed(d, POD("ADDED", "a", "1"), 50), 0);
    buf_t s = BUF_INIT;
    buf_puts(&s, POD("ADDED", "a", "1"));
    buf_puts(&s, "{\"type\":\"ADDED\",\"object\":{\"data\":\"");
    for (int i = 0; i < 300; i++)
        buf_putc(&s, 'x');
    buf_puts(&s, "\"}}\n");
    recorder_t r2 = {0};
    kube_watch_decoder_t *d2 = kube_watch_decoder_new(record, &r2, 300);
    unsigned int seed = 3;
    ck_assert_int_eq(feed_chunked(d2, s.data, s.len, &seed, 7), -1);
    ck_assert_uint_eq(r2.events, 1);
    ck_assert_ptr_nonnull(strstr(kube_watch_decoder_error(d2), "larger than 300 bytes"));
    buf_free(&s);
    kube_watch_decoder_free(d2);
    kube_watch_decoder_free(d);
    recorder_free(&r);
    recorder_free(&r2);
}
END_TEST

START_TEST(test_decoder_accepts_deeply_nested_objects)
{
    /* CRD schemas nest properties far deeper than json-c's default limit of 32. */
    buf_t s = BUF_INIT;
    buf_puts(&s, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"deep\"},\"spec\":");
    for (int i = 0; i < 200; i++)
        buf_puts(&s, "{\"p\":");
    buf_puts(&s, "1");
    for (int i = 0; i < 200; i++)
        buf_putc(&s, '}');
    buf_puts(&s, "}}\n");
    recorder_t r = {0};
    kube_watch_decoder_t *d = kube_watch_decoder_new(record, &r, 0);
    ck_assert_int_eq(kube_watch_decoder_feed(d, s.data, s.len), 0);
    ck_assert_str_eq(buf_str(&r.log), "ADDED:deep\n");
    kube_watch_decoder_free(d);
    recorder_free(&r);
    buf_free(&s);
}
END_TEST

START_TEST(test_decoder_without_callback_counts_events)
{
    kube_watch_decoder_t *d = kube_watch_decoder_new(NULL, NULL, 0);
    ck_assert_int_eq(kube_watch_decoder_feed(d, stream, sizeof(stream) - 1), 0);
    ck_assert_uint_eq(kube_watch_decoder_events(d), 5);
    kube_watch_decoder_free(d);
    kube_watch_decoder_free(NULL);
}
END_TEST

START_TEST(test_decoder_accepts_pretty_printed_events_across_lines)
{
    const char s[] = "{\n  \"type\": \"ADDED\",\n  \"object\": {\n    \"metadata\": {\n"
                     "      \"name\": \"pretty\"\n    }\n  }\n}\n" POD("DELETED", "pretty", "2");
    for (unsigned int seed = 0; seed < 100; seed++) {
        recorder_t r = {0};
        kube_watch_decoder_t *d = kube_watch_decoder_new(record, &r, 0);
        unsigned int state = seed;
        ck_assert_int_eq(feed_chunked(d, s, sizeof(s) - 1, &state, 1 + seed % 11), 0);
        ck_assert_int_eq(kube_watch_decoder_finish(d), 0);
        ck_assert_str_eq(buf_str(&r.log), "ADDED:pretty\nDELETED:pretty\n");
        kube_watch_decoder_free(d);
        recorder_free(&r);
    }
}
END_TEST

START_TEST(test_decoder_outcome_does_not_depend_on_where_a_number_is_cut)
{
    /* json-c alone accepts "490" + "-}" fed separately; the decoder must not. */
    const char s[] = "{\"type\":\"ADDED\",\"object\":{\"n\":490-}}\n";
    const char *cut = strchr(s, '-');
    recorder_t r = {0};
    kube_watch_decoder_t *d = kube_watch_decoder_new(record, &r, 0);
    ck_assert_int_eq(kube_watch_decoder_feed(d, s, (size_t)(cut - s)), 0);
    ck_assert_int_eq(kube_watch_decoder_feed(d, cut, strlen(cut)), -1);
    ck_assert_uint_eq(r.events, 0);
    ck_assert_ptr_nonnull(strstr(kube_watch_decoder_error(d), "malformed watch event"));
    kube_watch_decoder_free(d);
    recorder_free(&r);
}
END_TEST

START_TEST(test_decoder_delivers_an_unterminated_last_event_at_finish)
{
    const char s[] = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"last\"}}}";
    recorder_t r = {0};
    kube_watch_decoder_t *d = kube_watch_decoder_new(record, &r, 0);
    ck_assert_int_eq(kube_watch_decoder_feed(d, s, sizeof(s) - 1), 0);
    ck_assert_uint_eq(r.events, 0);
    ck_assert_int_eq(kube_watch_decoder_finish(d), 0);
    ck_assert_str_eq(buf_str(&r.log), "ADDED:last\n");
    kube_watch_decoder_free(d);
    recorder_free(&r);
}
END_TEST

static Suite *watch_suite(void)
{
    Suite *s = suite_create("kube_watch");
    TCase *tc = tcase_create("decoder");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_decoder_delivers_events_fed_byte_by_byte);
    tcase_add_test(tc, test_decoder_gives_same_events_for_any_chunking);
    tcase_add_test(tc, test_decoder_delivers_several_events_from_one_chunk);
    tcase_add_test(tc, test_decoder_handles_a_5mib_object_in_random_chunks);
    tcase_add_test(tc, test_decoder_turns_error_event_into_410_expired);
    tcase_add_test(tc, test_decoder_error_event_with_gone_reason_is_not_expired);
    tcase_add_test(tc, test_decoder_skips_blank_lines_and_keepalive_whitespace);
    tcase_add_test(tc, test_decoder_rejects_malformed_lines_with_a_clear_error);
    tcase_add_test(tc, test_decoder_reports_byte_offset_of_the_bad_event);
    tcase_add_test(tc, test_decoder_stops_when_the_callback_asks);
    tcase_add_test(tc, test_decoder_refuses_events_larger_than_the_limit);
    tcase_add_test(tc, test_decoder_accepts_deeply_nested_objects);
    tcase_add_test(tc, test_decoder_without_callback_counts_events);
    tcase_add_test(tc, test_decoder_accepts_pretty_printed_events_across_lines);
    tcase_add_test(tc, test_decoder_outcome_does_not_depend_on_where_a_number_is_cut);
    tcase_add_test(tc, test_decoder_delivers_an_unterminated_last_event_at_finish);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(watch_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

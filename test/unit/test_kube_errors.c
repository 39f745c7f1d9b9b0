/* Unit tests for typed API errors (pkg/kube/errors.c). The Status bodies are the ones a
 * real kube-apiserver sent (shared/conformance/real-apiserver.json and samples/). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube.h"

static kube_err_t decode(kube_result_t *r, long code, const char *body)
{
    return kube_result_from_response(r, code, body, body ? strlen(body) : 0, 0);
}

START_TEST(test_404_not_found_keeps_reason_and_message)
{
    const char *body =
        "{\"apiVersion\":\"v1\",\"code\":404,\"details\":{\"group\":\"apidiff.example.com\","
        "\"kind\":\"gadgets\",\"name\":\"nope\"},\"kind\":\"Status\",\"message\":\"gadgets."
        "apidiff.example.com \\\"nope\\\" not found\",\"metadata\":{},\"reason\":\"NotFound\","
        "\"status\":\"Failure\"}";
    kube_result_t r = KUBE_RESULT_INIT;
    ck_assert_int_eq(decode(&r, 404, body), KUBE_ERR_NOT_FOUND);
    ck_assert_int_eq(r.http_code, 404);
    ck_assert_str_eq(r.reason, "NotFound");
    ck_assert_str_eq(r.message, "gadgets.apidiff.example.com \"nope\" not found");
    ck_assert(!r.expired);
    ck_assert_uint_eq(r.causes_len, 0);
    ck_assert_ptr_nonnull(r.body);
    char line[256];
    ck_assert_str_eq(kube_error_str(&r, line, sizeof(line)),
                     "NotFound (404): gadgets.apidiff.example.com \"nope\" not found");
    kube_result_clear(&r);
    ck_assert_int_eq(r.err, KUBE_OK);
    ck_assert_ptr_null(r.body);
}
END_TEST

START_TEST(test_409_distinguishes_already_exists_from_conflict)
{
    const char *exists =
        "{\"apiVersion\":\"v1\",\"code\":409,\"details\":{\"group\":\"apidiff.example.com\","
        "\"kind\":\"gadgets\",\"name\":\"g1\"},\"kind\":\"Status\",\"message\":\"gadgets."
        "apidiff.example.com \\\"g1\\\" already exists\",\"metadata\":{},\"reason\":"
        "\"AlreadyExists\",\"status\":\"Failure\"}";
    const char *conflict =
        "{\"apiVersion\":\"v1\",\"code\":409,\"details\":{\"group\":\"apidiff.example.com\","
        "\"kind\":\"gadgets\",\"name\":\"g1\"},\"kind\":\"Status\",\"message\":\"Operation "
        "cannot be fulfilled on gadgets.apidiff.example.com \\\"g1\\\": the object has been "
        "modified; please apply your changes to the latest version and try again\","
        "\"metadata\":{},\"reason\":\"Conflict\",\"status\":\"Failure\"}";
    kube_result_t r = KUBE_RESULT_INIT;
    ck_assert_int_eq(decode(&r, 409, exists), KUBE_ERR_ALREADY_EXISTS);
    ck_assert_str_eq(r.reason, "AlreadyExists");
    /* The same result is reused: the call clears it first. */
    ck_assert_int_eq(decode(&r, 409, conflict), KUBE_ERR_CONFLICT);
    ck_assert_str_eq(r.reason, "Conflict");
    ck_assert(util_has_prefix(r.message, "Operation cannot be fulfilled"));
    kube_result_clear(&r);
}
END_TEST

START_TEST(test_422_invalid_keeps_every_cause)
{
    const char *body =
        "{\"apiVersion\":\"v1\",\"code\":422,\"details\":{\"causes\":[{\"field\":\"spec.color\","
        "\"message\":\"Unsupported value: \\\"green\\\": supported values: \\\"red\\\", "
        "\\\"blue\\\"\",\"reason\":\"FieldValueNotSupported\"},{\"field\":\"spec.size\","
        "\"message\":\"Invalid value: -1: spec.size in body should be greater than or equal "
        "to 0\",\"reason\":\"FieldValueInvalid\"}],\"group\":\"apidiff.example.com\",\"kind\":"
        "\"Gadget\",\"name\":\"bad\"},\"kind\":\"Status\",\"message\":\"Gadget.apidiff.example."
        "com \\\"bad\\\" is invalid: [spec.color: Unsupported value: \\\"green\\\": supported "
        "values: \\\"red\\\", \\\"blue\\\", spec.size: Invalid value: -1: spec.size in body "
        "should be greater than or equal to 0]\",\"metadata\":{},\"reason\":\"Invalid\","
        "\"status\":\"Failure\"}";
    kube_result_t r = KUBE_RESULT_INIT;
    ck_assert_int_eq(decode(&r, 422, body), KUBE_ERR_INVALID);
    ck_assert_uint_eq(r.causes_len, 2);
    ck_assert_str_eq(r.causes[0].field, "spec.color");
    ck_assert_str_eq(r.causes[0].reason, "FieldValueNotSupported");
    ck_assert_str_eq(r.causes[0].message,
                     "Unsupported value: \"green\": supported values: \"red\", \"blue\"");
    ck_assert_str_eq(r.causes[1].field, "spec.size");
    ck_assert_str_eq(r.causes[1].reason, "FieldValueInvalid");

    kube_result_t copy = KUBE_RESULT_INIT;
    ck_assert_int_eq(kube_result_copy(&copy, &r), 0);
    kube_result_clear(&r);
    ck_assert_int_eq(copy.err, KUBE_ERR_INVALID);
    ck_assert_uint_eq(copy.causes_len, 2);
    ck_assert_str_eq(copy.causes[1].field, "spec.size");
    ck_assert_ptr_nonnull(copy.body);
    kube_result_clear(&copy);
}
END_TEST

START_TEST(test_410_expired_list_sets_the_expired_flag)
{
    const char *body = "{\n  \"kind\": \"Status\",\n  \"apiVersion\": \"v1\",\n  \"metadata\": "
                       "{},\n  \"status\": \"Failure\",\n  \"message\": \"The resourceVersion "
                       "for the provided list is too old.\",\n  \"reason\": \"Expired\",\n  "
                       "\"code\": 410\n}";
    kube_result_t r = KUBE_RESULT_INIT;
    ck_assert_int_eq(decode(&r, 410, body), KUBE_ERR_GONE);
    ck_assert(r.expired);
    ck_assert_str_eq(r.reason, "Expired");
    ck_assert_str_eq(r.message, "The resourceVersion for the provided list is too old.");
    ck_assert_int_eq(decode(&r, 410,
                            "{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"Gone\","
                            "\"message\":\"gone\",\"code\":410}"),
                     KUBE_ERR_GONE);
    ck_assert(!r.expired);
    kube_result_clear(&r);
}
END_TEST

START_TEST(test_each_status_reason_maps_to_its_error)
{
    static const struct {
        long code;
        const char *reason;
        kube_err_t err;
    } cases[] = {
        {400, "BadRequest", KUBE_ERR_BAD_REQUEST},
        {401, "Unauthorized", KUBE_ERR_UNAUTHORIZED},
        {403, "Forbidden", KUBE_ERR_FORBIDDEN},
        {404, "NotFound", KUBE_ERR_NOT_FOUND},
        {405, "MethodNotAllowed", KUBE_ERR_METHOD_NOT_ALLOWED},
        {409, "AlreadyExists", KUBE_ERR_ALREADY_EXISTS},
        {409, "Conflict", KUBE_ERR_CONFLICT},
        {410, "Gone", KUBE_ERR_GONE},
        {410, "Expired", KUBE_ERR_GONE},
        {415, "UnsupportedMediaType", KUBE_ERR_UNSUPPORTED_MEDIA_TYPE},
        {422, "Invalid", KUBE_ERR_INVALID},
        {429, "TooManyRequests", KUBE_ERR_TOO_MANY_REQUESTS},
        {500, "InternalError", KUBE_ERR_INTERNAL},
        {500, "ServerTimeout", KUBE_ERR_SERVER_TIMEOUT},
        {503, "ServiceUnavailable", KUBE_ERR_SERVICE_UNAVAILABLE},
        {504, "Timeout", KUBE_ERR_TIMEOUT},
        /* An unknown or missing reason falls back to the code, as client-go does. */
        {404, "", KUBE_ERR_NOT_FOUND},
        {409, "SomethingNew", KUBE_ERR_CONFLICT},
        {413, "RequestEntityTooLarge", KUBE_ERR_UNKNOWN},
        {418, NULL, KUBE_ERR_UNKNOWN},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(cases); i++) {
        buf_t body = BUF_INIT;
        buf_printf(&body,
                   "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
                   "\"status\":\"Failure\",\"message\":\"case %zu\",",
                   i);
        if (cases[i].reason)
            buf_printf(&body, "\"reason\":\"%s\",", cases[i].reason);
        buf_printf(&body, "\"code\":%ld}", cases[i].code);
        kube_result_t r = KUBE_RESULT_INIT;
        kube_err_t err = decode(&r, cases[i].code, body.data);
        if (err != cases[i].err)
            ck_abort_msg("case %zu (%ld %s): got %s", i, cases[i].code,
                         cases[i].reason ? cases[i].reason : "-", kube_err_name(err));
        ck_assert_int_eq(r.http_code, cases[i].code);
        ck_assert_ptr_nonnull(r.reason);
        ck_assert(*r.reason);
        kube_result_clear(&r);
        buf_free(&body);
    }
}
END_TEST

START_TEST(test_429_retry_after_from_header_or_details)
{
    const char *body = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
                       "\"Failure\",\"message\":\"Too many requests, please try again later.\","
                       "\"reason\":\"TooManyRequests\",\"details\":{\"retryAfterSeconds\":3},"
                       "\"code\":429}";
    kube_result_t r = KUBE_RESULT_INIT;
    ck_assert_int_eq(kube_result_from_response(&r, 429, body, strlen(body), 0),
                     KUBE_ERR_TOO_MANY_REQUESTS);
    ck_assert(r.retry_after == 3);
    ck_assert_int_eq(kube_result_from_response(&r, 429, body, strlen(body), 7),
                     KUBE_ERR_TOO_MANY_REQUESTS);
    ck_assert(r.retry_after == 7);
    kube_result_clear(&r);
}
END_TEST

START_TEST(test_403_forbidden_from_rbac)
{
    const char *body =
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
        "\"message\":\"jobs.batch is forbidden: User \\\"system:serviceaccount:s2i:operator\\\" "
        "cannot create resource \\\"jobs\\\" in API group \\\"batch\\\" in the namespace "
        "\\\"default\\\"\",\"reason\":\"Forbidden\",\"details\":{\"group\":\"batch\",\"kind\":"
        "\"jobs\"},\"code\":403}";
    kube_result_t r = KUBE_RESULT_INIT;
    ck_assert_int_eq(decode(&r, 403, body), KUBE_ERR_FORBIDDEN);
    ck_assert(util_has_prefix(r.message, "jobs.batch is forbidden"));
    kube_result_clear(&r);
}
END_TEST

START_TEST(test_proxy_html_gives_a_sensible_error)
{
    const char *nginx = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
                        "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>"
                        "\r\n</body>\r\n</html>\r\n";
    kube_result_t r = KUBE_RESULT_INIT;
    ck_assert_int_eq(decode(&r, 502, nginx), KUBE_ERR_UNKNOWN);
    ck_assert_int_eq(r.http_code, 502);
    ck_assert_str_eq(r.reason, "BadGateway");
    ck_assert_str_eq(r.message, "502 Bad Gateway");
    ck_assert_ptr_null(r.body);
    char line[128];
    ck_assert_str_eq(kube_error_str(&r, line, sizeof(line)), "BadGateway (502): 502 Bad Gateway");

    ck_assert_int_eq(decode(&r, 503, "<HTML><TITLE>Service  Unavailable</TITLE></HTML>"),
                     KUBE_ERR_SERVICE_UNAVAILABLE);
    ck_assert_str_eq(r.message, "Service Unavailable");
    ck_assert_int_eq(decode(&r, 500, "Internal Server Error\n\tat frame 1\n"), KUBE_ERR_INTERNAL);
    ck_assert_str_eq(r.reason, "InternalError");
    ck_assert_str_eq(r.message, "Internal Server Error at frame 1");
    ck_assert_int_eq(decode(&r, 404, "404 page not found\n"), KUBE_ERR_NOT_FOUND);
    ck_assert_str_eq(r.message, "404 page not found");
    kube_result_clear(&r);
}
END_TEST

START_TEST(test_json_that_is_not_a_status_decodes_by_code)
{
    kube_result_t r = KUBE_RESULT_INIT;
    ck_assert_int_eq(decode(&r, 409, "{\"error\":\"lock held\"}"), KUBE_ERR_CONFLICT);
    ck_assert_str_eq(r.reason, "Conflict");
    ck_assert_str_eq(r.message, "{\"error\":\"lock held\"}");
    ck_assert_ptr_nonnull(r.body);
    /* A Status that claims success on an error code is still an error. */
    ck_assert_int_eq(decode(&r, 500, "{\"kind\":\"Status\",\"status\":\"Success\"}"),
                     KUBE_ERR_INTERNAL);
    ck_assert_str_eq(r.reason, "InternalError");
    kube_result_clear(&r);
}
END_TEST

START_TEST(test_empty_error_bodies)
{
    kube_result_t r = KUBE_RESULT_INIT;
    ck_assert_int_eq(decode(&r, 503, NULL), KUBE_ERR_SERVICE_UNAVAILABLE);
    ck_assert_str_eq(r.reason, "ServiceUnavailable");
    ck_assert_str_eq(r.message, "the server answered HTTP 503 without a message");
    ck_assert_int_eq(decode(&r, 401, " \r\n"), KUBE_ERR_UNAUTHORIZED);
    ck_assert_int_eq(decode(&r, 504, ""), KUBE_ERR_TIMEOUT);
    ck_assert_str_eq(r.reason, "Timeout");
    ck_assert_int_eq(decode(&r, 599, ""), KUBE_ERR_UNKNOWN);
    ck_assert_str_eq(r.reason, "Unknown");
    char line[128];
    ck_assert_str_eq(kube_error_str(&r, line, sizeof(line)),
                     "Unknown (599): the server answered HTTP 599 without a message");
    kube_result_clear(&r);
}
END_TEST

START_TEST(test_success_bodies)
{
    kube_result_t r = KUBE_RESULT_INIT;
    ck_assert_int_eq(decode(&r, 200, "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"}}\n"),
                     KUBE_OK);
    ck_assert_int_eq(r.http_code, 200);
    ck_assert_ptr_null(r.reason);
    ck_assert_ptr_null(r.message);
    json_object *body = kube_result_take_body(&r);
    ck_assert_ptr_null(r.body);
    ck_assert_ptr_nonnull(body);
    json_object_put(body);
    /* DELETE answers a Status with status Success. */
    ck_assert_int_eq(decode(&r, 200,
                            "{\"apiVersion\":\"v1\",\"details\":{\"name\":\"g3\"},\"kind\":"
                            "\"Status\",\"metadata\":{},\"status\":\"Success\"}"),
                     KUBE_OK);
    ck_assert_int_eq(decode(&r, 204, ""), KUBE_OK);
    ck_assert_ptr_null(r.body);
    char line[64];
    ck_assert_str_eq(kube_error_str(&r, line, sizeof(line)), "OK (204)");
    kube_result_clear(&r);
}
END_TEST

START_TEST(test_2xx_body_that_is_not_json_is_a_decode_error)
{
    kube_result_t r = KUBE_RESULT_INIT;
    ck_assert_int_eq(decode(&r, 200, "<html><title>Login</title></html>"), KUBE_ERR_DECODE);
    ck_assert_int_eq(r.http_code, 200);
    ck_assert_str_eq(r.reason, "Decode");
    ck_assert_str_eq(r.message, "HTTP 200 with a body that is not JSON: Login");
    ck_assert_int_eq(decode(&r, 200, "{\"kind\":\"Pod\"} trailing"), KUBE_ERR_DECODE);
    ck_assert_int_eq(decode(&r, 201, "{\"kind\":\"Pod\""), KUBE_ERR_DECODE);
    kube_result_clear(&r);
}
END_TEST

START_TEST(test_watch_error_status_object)
{
    json_object *status = json_tokener_parse(
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
        "\"message\":\"too old resource version: 1 (218)\",\"reason\":\"Expired\",\"code\":410}");
    kube_result_t r = KUBE_RESULT_INIT;
    ck_assert_int_eq(kube_result_from_status(&r, status, 0), KUBE_ERR_GONE);
    ck_assert_int_eq(r.http_code, 410);
    ck_assert(r.expired);
    json_object_put(status);
    /* The result holds its own reference to the Status. */
    ck_assert_str_eq(json_object_get_string(json_object_object_get(r.body, "reason")), "Expired");
    ck_assert_int_eq(kube_result_from_status(&r, NULL, 0), KUBE_ERR_DECODE);
    kube_result_clear(&r);
}
END_TEST

START_TEST(test_error_str_truncates_and_names_every_error)
{
    kube_result_t r = KUBE_RESULT_INIT;
    kube_result_set_error(&r, KUBE_ERR_TRANSPORT, NULL, "GET %s: %s", "https://x/api",
                          "Failed to connect to x port 443: Connection refused");
    char small[16];
    ck_assert_str_eq(kube_error_str(&r, small, sizeof(small)), "Transport: GET ");
    char line[256];
    ck_assert_str_eq(kube_error_str(&r, line, sizeof(line)),
                     "Transport: GET https://x/api: Failed to connect to x port 443: Connection "
                     "refused");
    kube_result_clear(&r);
    for (int e = KUBE_OK; e <= KUBE_ERR_UNKNOWN; e++) {
        const char *name = kube_err_name((kube_err_t)e);
        ck_assert(e == KUBE_ERR_UNKNOWN || strcmp(name, "Unknown") != 0);
    }
    ck_assert_str_eq(kube_err_name((kube_err_t)999), "Unknown");
    kube_result_clear(NULL);
}
END_TEST

START_TEST(test_long_bodies_are_cut_on_a_utf8_boundary)
{
    buf_t body = BUF_INIT;
    buf_putc(&body, 'x');
    for (int i = 0; i < 300; i++)
        buf_puts(&body, "\xc3\xa9"); /* é */
    kube_result_t r = KUBE_RESULT_INIT;
    ck_assert_int_eq(decode(&r, 500, body.data), KUBE_ERR_INTERNAL);
    size_t len = strlen(r.message);
    ck_assert_uint_le(len, 201);
    ck_assert_uint_eq(len % 2, 1);
    ck_assert_uint_eq((unsigned char)r.message[len - 1], 0xa9);
    kube_result_clear(&r);
    buf_free(&body);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kube_errors");
    TCase *tc = tcase_create("status");
    tcase_add_test(tc, test_404_not_found_keeps_reason_and_message);
    tcase_add_test(tc, test_409_distinguishes_already_exists_from_conflict);
    tcase_add_test(tc, test_422_invalid_keeps_every_cause);
    tcase_add_test(tc, test_410_expired_list_sets_the_expired_flag);
    tcase_add_test(tc, test_each_status_reason_maps_to_its_error);
    tcase_add_test(tc, test_429_retry_after_from_header_or_details);
    tcase_add_test(tc, test_403_forbidden_from_rbac);
    tcase_add_test(tc, test_proxy_html_gives_a_sensible_error);
    tcase_add_test(tc, test_json_that_is_not_a_status_decodes_by_code);
    tcase_add_test(tc, test_empty_error_bodies);
    tcase_add_test(tc, test_success_bodies);
    tcase_add_test(tc, test_2xx_body_that_is_not_json_is_a_decode_error);
    tcase_add_test(tc, test_watch_error_status_object);
    tcase_add_test(tc, test_error_str_truncates_and_names_every_error);
    tcase_add_test(tc, test_long_bodies_are_cut_on_a_utf8_boundary);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

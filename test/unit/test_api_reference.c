/*
 * Unit tests for pkg/api's docker image references (distribution/reference's Parse and
 * ParseNormalizedNamed, with cases from its own test table) and Kubernetes-style durations
 * (Go's time.ParseDuration and Duration.String).
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "util/util.h"

#define HEX64 "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"

/* ---- references ------------------------------------------------------------------------- */

static const struct {
    const char *input;
    const char *domain, *path, *tag, *digest;
} valid_refs[] = {
    {"test_com", NULL, "test_com", NULL, NULL},
    {"test.com:tag", NULL, "test.com", "tag", NULL},
    {"test.com:5000", NULL, "test.com", "5000", NULL},
    {"test.com/repo:tag", "test.com", "repo", "tag", NULL},
    {"test:5000/repo", "test:5000", "repo", NULL, NULL},
    {"test:5000/repo:tag", "test:5000", "repo", "tag", NULL},
    {"test:5000/repo@sha256:" HEX64, "test:5000", "repo", NULL, "sha256:" HEX64},
    {"test:5000/repo:tag@sha256:" HEX64, "test:5000", "repo", "tag", "sha256:" HEX64},
    {"lowercase:Uppercase", NULL, "lowercase", "Uppercase", NULL},
    {"sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com", "bar/baz/quux", NULL, NULL},
    {"sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com", "bar/baz/quux",
     "some-long-tag", NULL},
    {"b.gcr.io/test.example.com/my-app:test.example.com", "b.gcr.io", "test.example.com/my-app",
     "test.example.com", NULL},
    {"xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "myimage", "xn--n3h.com", NULL},
    {"xn--7o8h.com/myimage:xn--7o8h.com@sha512:" HEX64 HEX64, "xn--7o8h.com", "myimage",
     "xn--7o8h.com", "sha512:" HEX64 HEX64},
    {"foo_bar.com:8080", NULL, "foo_bar.com", "8080", NULL},
    {"foo/foo_bar.com:8080", "foo", "foo_bar.com", "8080", NULL},
    {"a__b/c--d/e.f_g", NULL, "a__b/c--d/e.f_g", NULL, NULL}, /* "_" is not a domain */
    {"Foo.example/bar", "Foo.example", "bar", NULL, NULL},    /* domains may be upper-case */
    {"localhost:5000/team/app:v1", "localhost:5000", "team/app", "v1", NULL},
    {"kubesphere/java-8-centos7:v2.1.0", "kubesphere", "java-8-centos7", "v2.1.0", NULL},
    {"validate:v1.2.3", NULL, "validate", "v1.2.3", NULL},
    {"validate:5000/foo", "validate:5000", "foo", NULL, NULL},
};

START_TEST(test_reference_parses_valid_names)
{
    api_reference_t ref;
    api_reference_error_t err = api_reference_parse(valid_refs[_i].input, &ref);
    ck_assert_msg(err == API_REF_OK, "%s: %s", valid_refs[_i].input, api_reference_strerror(err));
    if (valid_refs[_i].domain)
        ck_assert_str_eq(ref.domain, valid_refs[_i].domain);
    else
        ck_assert_ptr_null(ref.domain);
    ck_assert_str_eq(ref.path, valid_refs[_i].path);
    if (valid_refs[_i].tag)
        ck_assert_str_eq(ref.tag, valid_refs[_i].tag);
    else
        ck_assert_ptr_null(ref.tag);
    if (valid_refs[_i].digest)
        ck_assert_str_eq(ref.digest, valid_refs[_i].digest);
    else
        ck_assert_ptr_null(ref.digest);
    char *again = api_reference_string(&ref);
    ck_assert_str_eq(again, valid_refs[_i].input);
    free(again);
    api_reference_clear(&ref);
}
END_TEST

static char long_name[300];

static const struct {
    const char *input;
    api_reference_error_t err;
} invalid_refs[] = {
    {"", API_REF_ERR_NAME_EMPTY},
    {":justtag", API_REF_ERR_FORMAT},
    {"@sha256:" HEX64, API_REF_ERR_FORMAT},
    {"repo@sha256:" HEX64 "f", API_REF_ERR_DIGEST_LENGTH},
    {"repo@sha256:fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
     API_REF_ERR_DIGEST_LENGTH},
    {"repo@sha256:FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
     API_REF_ERR_DIGEST_FORMAT},
    {"validname@invaliddigest:" HEX64, API_REF_ERR_DIGEST_ALGORITHM},
    {"repo@SHA256:" HEX64, API_REF_ERR_DIGEST_FORMAT},
    {"repo@sha256:abc", API_REF_ERR_FORMAT},
    {"repo@", API_REF_ERR_FORMAT},
    {"repo:", API_REF_ERR_FORMAT},
    {"Uppercase:tag", API_REF_ERR_NAME_UPPERCASE},
    {"test:5000/Uppercase/lowercase:tag", API_REF_ERR_NAME_UPPERCASE},
    {"aa/asdf$$^/aa", API_REF_ERR_FORMAT},
    {"a..b", API_REF_ERR_FORMAT},
    {"a___b", API_REF_ERR_FORMAT},
    {"a._b", API_REF_ERR_FORMAT},
    {"-a", API_REF_ERR_FORMAT},
    {"a-", API_REF_ERR_FORMAT},
    {"a//b", API_REF_ERR_FORMAT},
    {"a/", API_REF_ERR_FORMAT},
    {"-host.com/repo", API_REF_ERR_FORMAT},
    {"localhost:abc/repo", API_REF_ERR_FORMAT},
    {"localhost:/repo", API_REF_ERR_FORMAT},
    {"java:8:9", API_REF_ERR_FORMAT},
    {"repo:-tag", API_REF_ERR_FORMAT},
    {"repo:tag@sha256:" HEX64 "@x", API_REF_ERR_FORMAT},
    {"[::1]:5000/repo", API_REF_ERR_FORMAT},
    {long_name, API_REF_ERR_NAME_TOO_LONG},
};

START_TEST(test_reference_rejects_invalid_names_with_the_library_error)
{
    /* strings.Repeat("a/", 128) + "a:tag": a 257-character name. */
    for (int i = 0; i < 128; i++)
        memcpy(long_name + 2 * i, "a/", 2);
    strcpy(long_name + 256, "a:tag");
    api_reference_t ref = {NULL, NULL, NULL, NULL};
    api_reference_error_t err = api_reference_parse(invalid_refs[_i].input, &ref);
    ck_assert_msg(err == invalid_refs[_i].err, "%s: got %s, want %s", invalid_refs[_i].input,
                  api_reference_strerror(err), api_reference_strerror(invalid_refs[_i].err));
    ck_assert_ptr_null(ref.path);
}
END_TEST

START_TEST(test_reference_name_length_limit_is_255)
{
    /* strings.Repeat("a/", 127) + "a:tag-puts-this-over-max" is fine: 255 characters. */
    char name[300];
    for (int i = 0; i < 127; i++)
        memcpy(name + 2 * i, "a/", 2);
    strcpy(name + 254, "a:tag-puts-this-over-max");
    api_reference_t ref;
    ck_assert_int_eq(api_reference_parse(name, &ref), API_REF_OK);
    ck_assert_str_eq(ref.domain, "a");
    ck_assert_uint_eq(strlen(ref.path), 253);
    api_reference_clear(&ref);

    char tag[200] = "repo:";
    memset(tag + 5, 't', 128);
    tag[133] = '\0';
    ck_assert_int_eq(api_reference_parse(tag, &ref), API_REF_OK);
    api_reference_clear(&ref);
    strcat(tag, "t");
    ck_assert_int_eq(api_reference_parse(tag, &ref), API_REF_ERR_FORMAT);
}
END_TEST

START_TEST(test_reference_error_texts_are_the_libraries)
{
    ck_assert_str_eq(api_reference_strerror(API_REF_ERR_FORMAT), "invalid reference format");
    ck_assert_str_eq(api_reference_strerror(API_REF_ERR_NAME_UPPERCASE),
                     "repository name must be lowercase");
    ck_assert_str_eq(api_reference_strerror(API_REF_ERR_NAME_EMPTY),
                     "repository name must have at least one component");
    ck_assert_str_eq(api_reference_strerror(API_REF_ERR_NAME_TOO_LONG),
                     "repository name must not be more than 255 characters");
    ck_assert_str_eq(api_reference_strerror(API_REF_ERR_DIGEST_LENGTH),
                     "invalid checksum digest length");
    ck_assert_str_eq(api_reference_strerror(API_REF_ERR_DIGEST_FORMAT),
                     "invalid checksum digest format");
    ck_assert_str_eq(api_reference_strerror(API_REF_ERR_DIGEST_ALGORITHM),
                     "unsupported digest algorithm");
}
END_TEST

static const struct {
    const char *input, *full, *familiar;
} normalized[] = {
    {"ubuntu", "docker.io/library/ubuntu:latest", "ubuntu:latest"},
    {"kubesphere/java-8-centos7:v2.1.0", "docker.io/kubesphere/java-8-centos7:v2.1.0",
     "kubesphere/java-8-centos7:v2.1.0"},
    {"docker.io/nginx", "docker.io/library/nginx:latest", "nginx:latest"},
    {"index.docker.io/library/nginx:1.25", "docker.io/library/nginx:1.25", "nginx:1.25"},
    {"docker.io/library/a/b", "docker.io/library/a/b:latest", "library/a/b:latest"},
    {"localhost/foo", "localhost/foo:latest", "localhost/foo:latest"},
    {"localhost:5000/foo:tag", "localhost:5000/foo:tag", "localhost:5000/foo:tag"},
    {"harbor.example.com/demo/java-sample", "harbor.example.com/demo/java-sample:latest",
     "harbor.example.com/demo/java-sample:latest"},
    {"Foo/bar", "Foo/bar:latest", "Foo/bar:latest"},
    {"library/ubuntu@sha256:" HEX64, "docker.io/library/ubuntu@sha256:" HEX64,
     "ubuntu@sha256:" HEX64},
};

START_TEST(test_reference_normalises_docker_hub_names)
{
    api_reference_t ref;
    ck_assert_int_eq(api_reference_parse_normalized(normalized[_i].input, &ref), API_REF_OK);
    ck_assert_int_eq(api_reference_default_tag(&ref), 0);
    char *full = api_reference_string(&ref);
    char *familiar = api_reference_familiar_string(&ref);
    ck_assert_str_eq(full, normalized[_i].full);
    ck_assert_str_eq(familiar, normalized[_i].familiar);
    free(full);
    free(familiar);
    api_reference_clear(&ref);
}
END_TEST

START_TEST(test_reference_normalised_errors)
{
    api_reference_t ref;
    ck_assert_int_eq(api_reference_parse_normalized("Ubuntu", &ref), API_REF_ERR_NORMALIZED_UPPER);
    ck_assert_int_eq(api_reference_parse_normalized("library/Ubuntu:Tag", &ref),
                     API_REF_ERR_NORMALIZED_UPPER);
    ck_assert_int_eq(api_reference_parse_normalized(HEX64, &ref), API_REF_ERR_IDENTIFIER);
    ck_assert_int_eq(api_reference_parse_normalized("", &ref), API_REF_ERR_FORMAT);
    ck_assert_int_eq(api_reference_parse_normalized("a b", &ref), API_REF_ERR_FORMAT);
    ck_assert_str_eq(api_reference_strerror(API_REF_ERR_NORMALIZED_UPPER),
                     "invalid reference format: repository name must be lowercase");
}
END_TEST

/* ---- durations ----------------------------------------------------------------------------- */

static const struct {
    const char *text;
    int64_t ns;
} durations[] = {
    {"0", 0},
    {"-0", 0},
    {"+0", 0},
    {"5s", 5000000000LL},
    {"90s", 90000000000LL},
    {"30m", 1800000000000LL},
    {"1h30m", 5400000000000LL},
    {"1.5h", 5400000000000LL},
    {"300ms", 300000000LL},
    {"-2m", -120000000000LL},
    {"+5s", 5000000000LL},
    {"1h1m1s1ms1us1ns", 3661001001001LL},
    {"2\xc2\xb5s", 2000LL}, /* micro sign */
    {"2\xce\xbcs", 2000LL}, /* Greek mu */
    {".5s", 500000000LL},
    {"5.s", 5000000000LL},
    {"0.000000001s", 1LL},
    {"0.3333333333333333333h", 1200000000000LL},
    {"9223372036854775807ns", INT64_MAX},
    {"-9223372036854775808ns", INT64_MIN},
    {"2562047h47m16.854775807s", INT64_MAX},
};

START_TEST(test_duration_parses_go_syntax)
{
    int64_t ns = 42;
    ck_assert_msg(api_duration_parse(durations[_i].text, &ns) == 0, "%s", durations[_i].text);
    ck_assert_int_eq(ns, durations[_i].ns);
}
END_TEST

START_TEST(test_duration_rejects_what_go_rejects)
{
    const char *bad[] = {"",
                         "-",
                         "1",
                         "s",
                         "1x",
                         "1.5",
                         ".s",
                         "1hh",
                         "3 s",
                         "1h-1m",
                         "9223372036854775808ns",
                         "2562048h",
                         "-9223372036854775809ns",
                         "1e3s",
                         "\xc2\xb5s",
                         "one hour"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++) {
        int64_t ns = 42;
        ck_assert_msg(api_duration_parse(bad[i], &ns) == -1, "accepted %s", bad[i]);
        ck_assert_int_eq(ns, 42);
    }
    int64_t ns;
    ck_assert_int_eq(api_duration_parse(NULL, &ns), -1);
}
END_TEST

START_TEST(test_duration_formats_as_go)
{
    static const struct {
        int64_t ns;
        const char *text;
    } cases[] = {
        {0, "0s"},
        {1, "1ns"},
        {1100, "1.1\xc2\xb5s"},
        {2200000, "2.2ms"},
        {1500000000, "1.5s"},
        {5400000000000LL, "1h30m0s"},
        {-90000000000LL, "-1m30s"},
        {3661001001001LL, "1h1m1.001001001s"},
        {INT64_MAX, "2562047h47m16.854775807s"},
        {INT64_MIN, "-2562047h47m16.854775808s"},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(cases); i++) {
        char out[40];
        api_duration_format(cases[i].ns, out);
        ck_assert_str_eq(out, cases[i].text);
        int64_t back;
        ck_assert_int_eq(api_duration_parse(out, &back), 0);
        ck_assert_int_eq(back, cases[i].ns);
    }
}
END_TEST

START_TEST(test_run_timeouts_fall_back_to_the_default)
{
    api_s2irun_t *run = api_s2irun_new();
    int64_t ns;
    const int64_t hour = 3600LL * 1000000000LL;
    ck_assert_int_eq(api_s2irun_timeout(run, hour, &ns), 0);
    ck_assert_int_eq(ns, hour);
    ck_assert_int_eq(api_set_string(&run->spec.timeout, "90s"), 0);
    ck_assert_int_eq(api_s2irun_timeout(run, hour, &ns), 0);
    ck_assert_int_eq(ns, 90000000000LL);
    ck_assert_int_eq(api_set_string(&run->spec.pending_timeout, "ten minutes"), 0);
    ck_assert_int_eq(api_s2irun_pending_timeout(run, hour, &ns), -1);
    ck_assert_int_eq(api_set_string(&run->spec.pending_timeout, ""), 0);
    ck_assert_int_eq(api_s2irun_pending_timeout(run, 600, &ns), 0);
    ck_assert_int_eq(ns, 600);
    api_s2irun_free(run);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("api_reference");
    TCase *tc = tcase_create("reference");
    tcase_add_loop_test(tc, test_reference_parses_valid_names, 0, UTIL_ARRAY_LEN(valid_refs));
    tcase_add_loop_test(tc, test_reference_rejects_invalid_names_with_the_library_error, 0,
                        UTIL_ARRAY_LEN(invalid_refs));
    tcase_add_test(tc, test_reference_name_length_limit_is_255);
    tcase_add_test(tc, test_reference_error_texts_are_the_libraries);
    tcase_add_loop_test(tc, test_reference_normalises_docker_hub_names, 0,
                        UTIL_ARRAY_LEN(normalized));
    tcase_add_test(tc, test_reference_normalised_errors);
    suite_add_tcase(s, tc);
    TCase *td = tcase_create("duration");
    tcase_add_loop_test(td, test_duration_parses_go_syntax, 0, UTIL_ARRAY_LEN(durations));
    tcase_add_test(td, test_duration_rejects_what_go_rejects);
    tcase_add_test(td, test_duration_formats_as_go);
    tcase_add_test(td, test_run_timeouts_fall_back_to_the_default);
    suite_add_tcase(s, td);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

/*
 * libFuzzer target for pkg/api. The input is parsed as JSON and decoded as each kind (and as a
 * bare S2iConfig); whatever decodes is encoded, decoded again and encoded again, and the two
 * encodings must be equal (write-back is stable), a copy must encode the same, and defaulting
 * and validation must run clean. The same bytes, as a string, go through the reference parser,
 * the duration parser and the autoscale annotation parser, whose outputs must re-parse to
 * themselves. Nothing may crash, leak or trip a sanitizer.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Ipkg \
 *       $(pkg-config --cflags json-c) test/fuzz/fuzz_api.c pkg/api/[a-z]*.c pkg/util/[a-z]*.c \
 *       $(pkg-config --libs json-c) -lpthread -lm -o /tmp/fuzz_api
 *   mkdir -p /tmp/api-corpus && cp test/fuzz/corpus/api/[a-z]* /tmp/api-corpus/
 *   /tmp/fuzz_api -max_total_time=60 /tmp/api-corpus
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static void errors_run(api_errors_t *errs)
{
    char *message = api_errors_message(errs);
    CHECK(message != NULL);
    CHECK((errs->len == 0) == (message[0] == '\0'));
    free(message);
    api_errors_clear(errs);
}

static void fuzz_builder(json_object *obj)
{
    api_s2ibuilder_t *b = NULL;
    char *err = NULL;
    if (api_s2ibuilder_decode(obj, &b, &err) < 0) {
        CHECK(err != NULL);
        free(err);
        return;
    }
    json_object *first = api_s2ibuilder_encode(b);
    CHECK(first != NULL);
    api_s2ibuilder_t *again = NULL;
    CHECK(api_s2ibuilder_decode(first, &again, NULL) == 0);
    json_object *second = api_s2ibuilder_encode(again);
    CHECK(second != NULL && json_object_equal(first, second));
    api_s2ibuilder_t *copy = api_s2ibuilder_copy(b);
    CHECK(copy != NULL);
    json_object *copied = api_s2ibuilder_encode(copy);
    CHECK(copied != NULL && json_object_equal(first, copied));

    api_errors_t errs;
    api_errors_init(&errs);
    CHECK(api_s2ibuilder_validate(b, NULL, &errs) >= 0);
    errors_run(&errs);
    CHECK(api_s2ibuilder_default(copy) == 0);
    if (copy->spec.config && copy->spec.from_template)
        CHECK(api_s2i_config_append_parameters(copy->spec.config,
                                               copy->spec.from_template->parameters,
                                               copy->spec.from_template->parameters_len) == 0);
    json_object *defaulted = api_s2ibuilder_encode(copy);
    CHECK(defaulted != NULL);

    json_object_put(defaulted);
    json_object_put(copied);
    json_object_put(second);
    json_object_put(first);
    api_s2ibuilder_free(copy);
    api_s2ibuilder_free(again);
    api_s2ibuilder_free(b);
}

static void fuzz_run(json_object *obj)
{
    api_s2irun_t *r = NULL;
    char *err = NULL;
    if (api_s2irun_decode(obj, &r, &err) < 0) {
        CHECK(err != NULL);
        free(err);
        return;
    }
    json_object *first = api_s2irun_encode(r);
    CHECK(first != NULL);
    api_s2irun_t *again = NULL;
    CHECK(api_s2irun_decode(first, &again, NULL) == 0);
    json_object *second = api_s2irun_encode(again);
    CHECK(second != NULL && json_object_equal(first, second));

    api_errors_t errs;
    api_errors_init(&errs);
    /* Against itself as the stored object the spec is unchanged: never "should not change". */
    CHECK(api_s2irun_validate(again, r, NULL, &errs) >= 0);
    for (size_t i = 0; i < errs.len; i++)
        CHECK(strcmp(errs.items[i].field, "spec") != 0);
    errors_run(&errs);
    int64_t ns;
    (void)api_s2irun_timeout(r, 3600, &ns);
    (void)api_s2irun_pending_timeout(r, 600, &ns);

    json_object_put(second);
    json_object_put(first);
    api_s2irun_free(again);
    api_s2irun_free(r);
}

static void fuzz_template(json_object *obj)
{
    api_s2ibuilder_template_t *t = NULL;
    char *err = NULL;
    if (api_s2ibuilder_template_decode(obj, &t, &err) < 0) {
        CHECK(err != NULL);
        free(err);
        return;
    }
    json_object *first = api_s2ibuilder_template_encode(t);
    CHECK(first != NULL);
    api_s2ibuilder_template_t *again = NULL;
    CHECK(api_s2ibuilder_template_decode(first, &again, NULL) == 0);
    json_object *second = api_s2ibuilder_template_encode(again);
    CHECK(second != NULL && json_object_equal(first, second));

    api_errors_t errs;
    api_errors_init(&errs);
    CHECK(api_s2ibuilder_template_validate(t, &errs) >= 0);
    errors_run(&errs);
    /* The template against a builder that uses it. */
    api_s2ibuilder_t *b = api_s2ibuilder_new();
    CHECK(b != NULL);
    b->spec.from_template = api_user_defined_template_new();
    CHECK(b->spec.from_template != NULL);
    if (t->spec.container_info_len > 0)
        CHECK(api_set_string(&b->spec.from_template->builder_image,
                             t->spec.container_info[0].builder_image) == 0);
    api_errors_init(&errs);
    CHECK(api_s2ibuilder_validate(b, t, &errs) >= 0);
    errors_run(&errs);

    api_s2ibuilder_free(b);
    json_object_put(second);
    json_object_put(first);
    api_s2ibuilder_template_free(again);
    api_s2ibuilder_template_free(t);
}

static void fuzz_config(json_object *obj)
{
    api_s2i_config_t *c = NULL;
    if (api_s2i_config_decode(obj, &c, NULL) < 0)
        return;
    json_object *first = api_s2i_config_encode(c);
    CHECK(first != NULL);
    api_s2i_config_t *again = NULL;
    CHECK(api_s2i_config_decode(first, &again, NULL) == 0);
    json_object *second = api_s2i_config_encode(again);
    CHECK(second != NULL && json_object_equal(first, second));
    json_object_put(second);
    json_object_put(first);
    api_s2i_config_free(again);
    api_s2i_config_free(c);
}

static void fuzz_strings(const char *text)
{
    api_reference_t ref;
    if (api_reference_parse(text, &ref) == API_REF_OK) {
        char *s = api_reference_string(&ref);
        CHECK(s != NULL && strcmp(s, text) == 0);
        free(s);
        api_reference_clear(&ref);
    }
    if (api_reference_parse_normalized(text, &ref) == API_REF_OK) {
        CHECK(api_reference_default_tag(&ref) == 0);
        char *full = api_reference_string(&ref);
        char *familiar = api_reference_familiar_string(&ref);
        CHECK(full != NULL && familiar != NULL);
        /* The full name is a plain reference; the familiar one need not normalise back to
         * it ("docker.io/a.b/c" is familiar "a.b/c", whose domain is a.b), as in Go. */
        api_reference_t back;
        CHECK(api_reference_parse(full, &back) == API_REF_OK);
        char *full_again = api_reference_string(&back);
        CHECK(full_again != NULL && strcmp(full, full_again) == 0);
        free(full_again);
        api_reference_clear(&back);
        free(full);
        free(familiar);
        api_reference_clear(&ref);
    }
    int64_t ns;
    if (api_duration_parse(text, &ns) == 0) {
        char out[40];
        api_duration_format(ns, out);
        int64_t back;
        CHECK(api_duration_parse(out, &back) == 0 && back == ns);
    }
    api_s2i_autoscale_list_t list;
    char *err = NULL;
    if (api_s2i_autoscale_list_parse(text, &list, &err) == 0) {
        char *formatted = api_s2i_autoscale_list_format(&list);
        CHECK(formatted != NULL);
        api_s2i_autoscale_list_t again;
        CHECK(api_s2i_autoscale_list_parse(formatted, &again, NULL) == 0);
        CHECK(again.len == list.len);
        api_s2i_autoscale_list_clear(&again);
        free(formatted);
        api_s2i_autoscale_list_clear(&list);
    } else {
        CHECK(err != NULL);
        free(err);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 20)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    fuzz_strings(text);

    json_tokener *tok = json_tokener_new_ex(64);
    if (tok) {
        json_object *obj = json_tokener_parse_ex(tok, text, (int)size + 1);
        if (json_tokener_get_error(tok) == json_tokener_success) {
            fuzz_builder(obj);
            fuzz_run(obj);
            fuzz_template(obj);
            fuzz_config(obj);
        }
        json_object_put(obj);
        json_tokener_free(tok);
    }
    free(text);
    return 0;
}

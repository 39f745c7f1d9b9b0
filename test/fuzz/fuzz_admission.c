/*
 * libFuzzer target for pkg/webhook's admission path. The input's first byte picks the
 * webhook and what the fake caches answer (found / not found / cannot tell, for builders and
 * templates); the rest is the request body, served as the HTTP handler serves it. Whatever
 * the bytes, the answer must be a JSON AdmissionReview with a response, the HTTP status 200,
 * 400 or 500 (never allowed unless 200), and a patch only on an allowed answer, valid
 * base64 of a JSON array of operations with JSON pointer paths. The same bytes also go
 * through the base64 decoder, whose output must survive an encode and decode unchanged (the
 * text may come back different: the unused bits of the last group need not be zero, as
 * in Go's non-strict decoder). Nothing may crash, leak or trip a sanitizer.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Ipkg \
 *       $(pkg-config --cflags json-c openssl libwebsockets libcurl) test/fuzz/fuzz_admission.c \
 *       pkg/webhook/[a-z]*.c pkg/server/[a-z]*.c pkg/metrics/[a-z]*.c pkg/controller/[a-z]*.c \
 *       pkg/informer/[a-z]*.c pkg/workqueue/[a-z]*.c pkg/api/[a-z]*.c pkg/kube/[a-z]*.c \
 *       pkg/util/[a-z]*.c $(pkg-config --libs json-c openssl libwebsockets libcurl yaml-0.1 zlib) \
 *       -lpthread -lm -o /tmp/fuzz_admission
 *   mkdir -p /tmp/admission-corpus && cp test/fuzz/corpus/admission/[a-z]* /tmp/admission-corpus/
 *   /tmp/fuzz_admission -max_total_time=60 /tmp/admission-corpus
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"
#include "webhook/webhook.h"
#include "webhook/webhook_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static const char *const BUILDER =
    "{\"apiVersion\":\"devops.kubesphere.io/v1alpha1\",\"kind\":\"S2iBuilder\",\"metadata\":"
    "{\"name\":\"java\",\"namespace\":\"demo\",\"uid\":\"u-1\"},\"spec\":{\"config\":"
    "{\"imageName\":\"r/j\",\"sourceUrl\":\"https://g/j.git\",\"isBinaryURL\":true}}}";
static const char *const TEMPLATE =
    "{\"apiVersion\":\"devops.kubesphere.io/v1alpha1\",\"kind\":\"S2iBuilderTemplate\","
    "\"metadata\":{\"name\":\"java\"},\"spec\":{\"defaultBaseImage\":\"a:1\",\"containerInfo\":"
    "[{\"builderImage\":\"a:1\"}],\"environment\":[{\"key\":\"K\",\"required\":true}]}}";

static unsigned answer_mode; /* set per input: what the fake caches say */

static webhook_lookup_result_t fake(unsigned mode, const char *json, json_object **out)
{
    switch (mode % 3) {
    case 0:
        *out = json_tokener_parse(json);
        return *out ? WEBHOOK_LOOKUP_FOUND : WEBHOOK_LOOKUP_UNKNOWN;
    case 1:
        return WEBHOOK_LOOKUP_NOT_FOUND;
    default:
        return WEBHOOK_LOOKUP_UNKNOWN; /* no client: the webhook reports an error */
    }
}

static webhook_lookup_result_t get_builder(void *data, const char *ns, const char *name,
                                           json_object **out)
{
    (void)data;
    (void)ns;
    (void)name;
    return fake(answer_mode, BUILDER, out);
}

static webhook_lookup_result_t get_template(void *data, const char *ns, const char *name,
                                            json_object **out)
{
    (void)data;
    (void)ns;
    (void)name;
    return fake(answer_mode / 3, TEMPLATE, out);
}

static webhook_t *the_webhook(void)
{
    static webhook_t *wh;
    if (!wh) {
        log_set_fd(open("/dev/null", O_WRONLY));
        webhook_options_t o = {.cert_source = WEBHOOK_CERTS_FILES,
                               .cert_dir = "/nonexistent",
                               .namespace = "demo",
                               .lookup = {get_builder, get_template, NULL}};
        CHECK(webhook_new(&o, &wh) == 0);
    }
    return wh;
}

static void check_answer(int status, const buf_t *out)
{
    CHECK(status == 200 || status == 400 || status == 500);
    json_object *root = json_tokener_parse(buf_str(out));
    CHECK(root != NULL);
    json_object *resp = NULL, *v = NULL;
    CHECK(json_object_object_get_ex(root, "response", &resp));
    CHECK(json_object_object_get_ex(resp, "allowed", &v) &&
          json_object_is_type(v, json_type_boolean));
    bool allowed = json_object_get_boolean(v);
    CHECK(!(status != 200 && allowed));
    if (json_object_object_get_ex(resp, "patch", &v)) {
        CHECK(allowed);
        char *ops = webhook_base64_decode(json_object_get_string(v), NULL);
        CHECK(ops != NULL);
        json_object *list = json_tokener_parse(ops);
        CHECK(json_object_is_type(list, json_type_array) && json_object_array_length(list) > 0);
        for (size_t i = 0; i < json_object_array_length(list); i++) {
            json_object *op = json_object_array_get_idx(list, i), *path = NULL;
            CHECK(json_object_object_get_ex(op, "path", &path));
            CHECK(json_object_get_string(path)[0] == '/');
        }
        json_object_put(list);
        free(ops);
    }
    json_object_put(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    webhook_id_t id = (webhook_id_t)(data[0] % WEBHOOK_ID_COUNT);
    answer_mode = data[0] / WEBHOOK_ID_COUNT;
    /* The server hands handlers a NUL-terminated body. */
    char *body = malloc(size);
    CHECK(body != NULL);
    memcpy(body, data + 1, size - 1);
    body[size - 1] = '\0';

    buf_t out = BUF_INIT;
    int status = 0;
    webhook_serve(the_webhook(), id, "application/json", body, size - 1, &status, &out);
    check_answer(status, &out);
    buf_free(&out);

    size_t len = 0;
    char *decoded = webhook_base64_decode(body, &len);
    if (decoded) {
        char *text = webhook_base64_encode(decoded, len);
        size_t len2 = 0;
        char *again = text ? webhook_base64_decode(text, &len2) : NULL;
        CHECK(again != NULL && len2 == len && memcmp(again, decoded, len) == 0);
        free(again);
        free(text);
        free(decoded);
    }
    free(body);
    return 0;
}

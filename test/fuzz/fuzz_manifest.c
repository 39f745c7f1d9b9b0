/*
 * libFuzzer target for the JSON documents an image is made of: image manifests and configs
 * (pkg/image) and image indexes (pkg/registry's platform selection). Every input goes
 * through all three decoders. What must hold:
 *   - nothing crashes, leaks or reads out of bounds, whatever the bytes;
 *   - a document that decodes re-encodes, and the encoding decodes again to the same bytes
 *     (the round trip the builder relies on when it commits on top of a base image);
 *   - the config helpers work on any config that decoded (Env/Labels of odd types);
 *   - a manifest converted to the other flavour and back keeps its digest-bearing fields.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Ipkg \
 *     $(pkg-config --cflags json-c libcurl) test/fuzz/fuzz_manifest.c pkg/image/[a-z]*.c \
 *     pkg/registry/[a-z]*.c pkg/util/[a-z]*.c $(pkg-config --libs json-c libcurl openssl zlib
 * libarchive) \ -lpthread -lm -o /tmp/fuzz_manifest mkdir -p /tmp/corpus_manifest && cp -r
 * test/fuzz/corpus/manifest/. /tmp/corpus_manifest/ /tmp/fuzz_manifest -max_total_time=60
 * /tmp/corpus_manifest
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "registry/registry.h"
#include "util/util.h"

static void check_config(const char *data, size_t len)
{
    image_config_t *c = NULL;
    char *err = NULL;
    if (image_config_parse(data, len, &c, &err) != IMAGE_OK) {
        if (!err)
            abort(); /* every refusal says why */
        free(err);
        return;
    }
    char *out = NULL, *out2 = NULL;
    size_t out_len = 0, out2_len = 0;
    char d1[REGISTRY_DIGEST_LEN], d2[REGISTRY_DIGEST_LEN];
    if (image_config_encode(c, &out, &out_len, d1) != IMAGE_OK)
        abort();
    image_config_t *again = NULL;
    if (image_config_parse(out, out_len, &again, NULL) != IMAGE_OK)
        abort();
    if (image_config_encode(again, &out2, &out2_len, d2) != IMAGE_OK || out_len != out2_len ||
        memcmp(out, out2, out_len) != 0 || strcmp(d1, d2) != 0)
        abort();
    /* the helpers on whatever shape Env, Labels, Cmd have */
    const char *argv[4];
    image_config_cmd(c, argv, 4);
    image_config_entrypoint(c, argv, 4);
    image_config_env(c, "PATH");
    image_config_label(c, "a");
    image_config_user(c);
    for (size_t i = 0; i < image_config_diff_ids_len(c); i++)
        if (!registry_digest_valid(image_config_diff_id(c, i)))
            abort(); /* parse promised sha256 diff_ids */
    const char *run[] = {"/usr/libexec/s2i/run"};
    if (image_config_set_env(c, "PATH", "/bin") < 0 || image_config_set_label(c, "a", "b") < 0 ||
        image_config_set_cmd(c, run, 1) < 0 || image_config_set_user(c, "1001") < 0 ||
        image_config_add_layer(c, d1, 0, "fuzz", NULL) < 0)
        abort();
    if (!util_streq(image_config_env(c, "PATH"), "/bin") ||
        !util_streq(image_config_label(c, "a"), "b"))
        abort();
    free(out);
    free(out2);
    image_config_free(again);
    image_config_free(c);
}

static void check_manifest(const char *data, size_t len)
{
    image_manifest_t *m = NULL;
    char *err = NULL;
    if (image_manifest_parse(data, len, NULL, &m, &err) != IMAGE_OK) {
        if (!err)
            abort();
        free(err);
        return;
    }
    char *out = NULL, *out2 = NULL;
    size_t out_len = 0, out2_len = 0;
    if (image_manifest_encode(m, &out, &out_len, NULL) != IMAGE_OK)
        abort();
    image_manifest_t *again = NULL;
    if (image_manifest_parse(out, out_len, image_manifest_media_type(m), &again, NULL) != IMAGE_OK)
        abort();
    image_descriptor_t a, b;
    if (image_manifest_config(m, &a) < 0 || image_manifest_config(again, &b) < 0 ||
        strcmp(a.digest, b.digest) != 0 || a.size != b.size)
        abort();
    size_t n = image_manifest_layers_len(m);
    if (n != image_manifest_layers_len(again))
        abort();
    for (size_t i = 0; i < n; i++)
        if (image_manifest_layer(m, i, &a) < 0 || !registry_digest_valid(a.digest) || a.size < 0)
            abort();
    /* to the other flavour and back: digests and sizes untouched */
    const char *orig = image_manifest_media_type(m);
    const char *other = strcmp(orig, REGISTRY_MEDIA_OCI_MANIFEST) == 0
                            ? REGISTRY_MEDIA_DOCKER_MANIFEST
                            : REGISTRY_MEDIA_OCI_MANIFEST;
    char *orig_copy = strdup(orig);
    if (image_manifest_convert(again, other, &err) == IMAGE_OK) {
        if (image_manifest_convert(again, orig_copy, NULL) != IMAGE_OK)
            abort();
        for (size_t i = 0; i < n; i++) {
            image_manifest_layer(m, i, &a);
            image_manifest_layer(again, i, &b);
            if (strcmp(a.digest, b.digest) != 0 || a.size != b.size)
                abort();
        }
    } else {
        free(err);
    }
    if (image_manifest_encode(m, &out2, &out2_len, NULL) != IMAGE_OK || out2_len != out_len ||
        memcmp(out, out2, out_len) != 0)
        abort();
    free(orig_copy);
    free(out);
    free(out2);
    image_manifest_free(again);
    image_manifest_free(m);
}

static void check_index(const char *data, size_t len)
{
    static const char *const platforms[][3] = {
        {"linux", "amd64", NULL}, {"linux", "arm", "v7"}, {"linux", "arm64", ""}};
    for (size_t i = 0; i < sizeof(platforms) / sizeof(platforms[0]); i++) {
        registry_descriptor_t d = REGISTRY_DESCRIPTOR_INIT;
        char *err = NULL;
        registry_err_t rc = registry_index_select(data, len, platforms[i][0], platforms[i][1],
                                                  platforms[i][2], &d, &err);
        if (rc == REGISTRY_OK && !registry_digest_valid(d.digest))
            abort();
        if (rc != REGISTRY_OK && (!err || d.digest))
            abort();
        free(err);
        registry_descriptor_clear(&d);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    check_config((const char *)data, len);
    check_manifest((const char *)data, len);
    check_index((const char *)data, len);
    return 0;
}

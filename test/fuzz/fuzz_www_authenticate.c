/*
 * libFuzzer target for what registries send us in headers and what users type: the
 * WWW-Authenticate parser (pkg/registry/auth.c) and, on the same bytes, image reference
 * parsing (pkg/registry/reference.c). What must hold:
 *   - never a crash, leak or out-of-bounds read, and every refusal comes with a message;
 *   - a parsed challenge has a non-empty lower-case scheme and lower-case parameter names,
 *     and parsing is deterministic (appending the same header twice doubles the list);
 *   - a reference that parses prints as a string that parses to the same parts.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Ipkg \
 *     $(pkg-config --cflags json-c libcurl) test/fuzz/fuzz_www_authenticate.c \
 *     pkg/registry/[a-z]*.c pkg/util/[a-z]*.c $(pkg-config --libs json-c libcurl openssl zlib
 * libarchive) \ -lpthread -lm -o /tmp/fuzz_www_authenticate mkdir -p /tmp/corpus_wwwauth && cp -r
 * test/fuzz/corpus/www_authenticate/. /tmp/corpus_wwwauth/ /tmp/fuzz_www_authenticate
 * -max_total_time=60 /tmp/corpus_wwwauth
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry/registry.h"
#include "util/util.h"

static bool lower(const char *s)
{
    for (; *s; s++)
        if (isupper((unsigned char)*s))
            return false;
    return true;
}

static void check_challenges(const char *header)
{
    registry_challenges_t ch = REGISTRY_CHALLENGES_INIT;
    char *err = NULL;
    if (registry_challenges_parse(header, &ch, &err) < 0) {
        if (!err || ch.len != 0)
            abort();
        free(err);
        return;
    }
    if (ch.len == 0)
        abort();
    for (size_t i = 0; i < ch.len; i++) {
        const registry_challenge_t *c = &ch.items[i];
        if (!c->scheme || !*c->scheme || !lower(c->scheme))
            abort();
        for (size_t k = 0; k < c->params_len; k++)
            if (!c->params[k].name || !*c->params[k].name || !lower(c->params[k].name) ||
                !c->params[k].value)
                abort();
        if (registry_challenges_find(&ch, c->scheme) == NULL)
            abort();
    }
    size_t first = ch.len;
    if (registry_challenges_parse(header, &ch, &err) < 0 || ch.len != 2 * first)
        abort();
    for (size_t i = 0; i < first; i++)
        if (strcmp(ch.items[i].scheme, ch.items[first + i].scheme) != 0 ||
            ch.items[i].params_len != ch.items[first + i].params_len)
            abort();
    registry_challenges_clear(&ch);
}

static void check_reference(const char *s)
{
    registry_ref_t r = REGISTRY_REF_INIT, again = REGISTRY_REF_INIT;
    char *err = NULL;
    if (registry_ref_parse(s, &r, &err) < 0) {
        if (!err || r.registry)
            abort();
        free(err);
        return;
    }
    char *printed = registry_ref_string(&r);
    if (!printed || registry_ref_parse(printed, &again, NULL) < 0 ||
        !util_streq(r.registry, again.registry) || !util_streq(r.repository, again.repository) ||
        !util_streq(r.tag, again.tag) || !util_streq(r.digest, again.digest))
        abort();
    if (!registry_ref_reference(&r) || !registry_ref_api_host(&r))
        abort();
    free(printed);
    registry_ref_clear(&r);
    registry_ref_clear(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    char *s = malloc(len + 1);
    if (!s)
        return 0;
    memcpy(s, data, len);
    s[len] = '\0';
    check_challenges(s);
    check_reference(s);
    free(s);
    return 0;
}

/*
 * libFuzzer target for pkg/kube/config: arbitrary bytes parsed as a kubeconfig. Whatever the
 * input, parsing must not crash, leak or hang; a config that parses must free cleanly and hand
 * out its static credentials. Exec plugins are never run here (that would run fuzzed commands).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Ipkg \
 *       $(pkg-config --cflags json-c) test/fuzz/fuzz_kubeconfig.c pkg/kube/config*.c \
 *       pkg/util/[a-z]*.c $(pkg-config --libs yaml-0.1 json-c openssl) -lpthread -o
 * /tmp/fuzz_kubeconfig mkdir -p /tmp/kubeconfig-corpus   # new inputs go here, the seeds stay as
 * they are /tmp/fuzz_kubeconfig -max_total_time=30 /tmp/kubeconfig-corpus
 * test/fuzz/corpus/kubeconfig
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "kube/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kube_config_t *c = NULL;
    char *err = NULL;
    /* A path that does not exist anchors relative paths, so file checks fail fast. */
    if (kube_config_parse((const char *)data, size, "/nonexistent/fuzz/config", NULL, &c, &err) <
        0) {
        free(err);
        return 0;
    }
    if (!c->exec) {
        kube_auth_t auth;
        char *auth_err = NULL;
        if (kube_config_auth(c, &auth, &auth_err) == 0)
            kube_auth_clear(&auth);
        free(auth_err);
    }
    kube_config_free(c);
    return 0;
}

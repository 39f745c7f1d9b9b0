/*
 * libFuzzer target for the watch stream decoder (pkg/kube/watch.c). The first byte
 * picks how the rest is cut into feeds, so the fuzzer explores chunk boundaries as well
 * as content: events split anywhere must decode exactly as when fed whole.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Ipkg \
 *     $(pkg-config --cflags json-c) test/fuzz/fuzz_watch.c pkg/kube/watch.c \
 *     pkg/kube/errors.c pkg/util/[a-z]*.c $(pkg-config --libs json-c) -lpthread -o /tmp/fuzz_watch
 *   /tmp/fuzz_watch -max_total_time=30 test/fuzz/corpus/watch
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube.h"

typedef struct digest {
    buf_t log;
    size_t events;
} digest_t;

static int on_event(const kube_watch_event_t *ev, void *data)
{
    digest_t *d = data;
    const char *text = json_object_to_json_string_ext(ev->object, JSON_C_TO_STRING_PLAIN);
    buf_printf(&d->log, "%d:%s\n", (int)ev->type, text);
    if (ev->type == KUBE_WATCH_ERROR) {
        char line[128];
        buf_puts(&d->log, kube_error_str(ev->error, line, sizeof(line)));
    }
    d->events++;
    /* Exercise the stop path too: a callback may end the watch at any event. */
    return d->events == 1000 ? 1 : 0;
}

/* Decodes data fed in pieces of 1..max_chunk bytes; returns the final status. */
static int run(const uint8_t *data, size_t len, size_t max_chunk, digest_t *d)
{
    kube_watch_decoder_t *dec = kube_watch_decoder_new(on_event, d, 1u << 20);
    if (!dec)
        abort();
    int rc = 0;
    size_t off = 0, step = 0;
    while (rc == 0 && off < len) {
        size_t n = max_chunk ? 1 + (off * 31 + step++ * 17) % max_chunk : len - off;
        if (n > len - off)
            n = len - off;
        rc = kube_watch_decoder_feed(dec, (const char *)data + off, n);
        off += n;
    }
    if (rc == 0)
        rc = kube_watch_decoder_finish(dec);
    if (rc < 0 && !kube_watch_decoder_error(dec))
        abort();
    kube_watch_decoder_free(dec);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len == 0)
        return 0;
    size_t max_chunk = data[0];
    digest_t whole = {BUF_INIT, 0}, pieces = {BUF_INIT, 0};
    int rc_whole = run(data + 1, len - 1, 0, &whole);
    int rc_pieces = run(data + 1, len - 1, max_chunk, &pieces);
    /* Chunking must not change what comes out. */
    if (rc_whole != rc_pieces || whole.events != pieces.events ||
        strcmp(buf_str(&whole.log), buf_str(&pieces.log)) != 0)
        abort();
    buf_free(&whole.log);
    buf_free(&pieces.log);
    return 0;
}

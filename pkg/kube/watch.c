/*
 * kube/watch: the streaming decoder of a watch response. The API server writes one JSON
 * object per event ({"type":"ADDED","object":{...}}) followed by a newline; the bytes
 * reach us in whatever pieces the network delivered.
 *
 * Bytes are collected up to a newline and each whole line is handed to json-c's
 * incremental tokener. Lines, not network chunks, because json-c's incremental parser
 * does not give the same answer for every cut (a malformed number cut between "490" and
 * "-" is accepted, for one): no JSON token can span a newline, so cutting at newlines
 * makes the outcome independent of the network. An event may still span lines
 * (pretty-printed JSON), and a line may hold several events. Memory: the current line
 * plus the event being parsed, both capped by max_event_bytes, however long the stream.
 *
 * Whitespace between events (blank lines, keep-alive newlines) is skipped; anything else
 * that does not start an object is a malformed stream, and decoding stops: a watch that
 * silently skipped an event would leave a cache wrong with nobody noticing.
 *
 * No curl here: the decoder is unit-tested and fuzzed on its own.
 */
#include "kube/kube.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kube_watch_decoder {
    kube_watch_fn fn;
    void *data;
    size_t max_event;
    json_tokener *tok;
    bool in_event;      /* the tokener holds the start of an event */
    size_t event_bytes; /* bytes of the current event fed so far */
    size_t offset;      /* bytes of the stream consumed, for messages */
    size_t events;
    int state; /* 0 decoding; -1 malformed; else the callback's stop value */
    char *error;
    buf_t line; /* bytes after the last newline, not yet given to the tokener */
};

/* A line buffer grown past this is released after use rather than kept for the stream. */
#define LINE_KEEP_BYTES (64u << 10)

static const struct {
    const char *name;
    kube_watch_event_type_t type;
} event_types[] = {
    {"ADDED", KUBE_WATCH_ADDED},     {"MODIFIED", KUBE_WATCH_MODIFIED},
    {"DELETED", KUBE_WATCH_DELETED}, {"BOOKMARK", KUBE_WATCH_BOOKMARK},
    {"ERROR", KUBE_WATCH_ERROR},
};

kube_watch_decoder_t *kube_watch_decoder_new(kube_watch_fn fn, void *data, size_t max_event_bytes)
{
    kube_watch_decoder_t *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->tok = json_tokener_new_ex(KUBE_JSON_MAX_DEPTH);
    if (!d->tok) {
        free(d);
        return NULL;
    }
    /* No JSON_TOKENER_VALIDATE_UTF8: the API server (Go) writes only valid UTF-8, and
     * json-c's check also looks at the byte after an event's closing brace, failing a
     * valid event for whatever follows it on its line. */
    json_tokener_set_flags(d->tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
    d->fn = fn;
    d->data = data;
    d->max_event = max_event_bytes ? max_event_bytes : KUBE_WATCH_DEFAULT_MAX_EVENT;
    return d;
}

void kube_watch_decoder_free(kube_watch_decoder_t *d)
{
    if (!d)
        return;
    json_tokener_free(d->tok);
    free(d->error);
    buf_free(&d->line);
    free(d);
}

const char *kube_watch_decoder_error(const kube_watch_decoder_t *d)
{
    return d->error;
}

size_t kube_watch_decoder_events(const kube_watch_decoder_t *d)
{
    return d->events;
}

static int fail(kube_watch_decoder_t *d, const char *fmt, ...) UTIL_PRINTF(2, 3);

static int fail(kube_watch_decoder_t *d, const char *fmt, ...)
{
    buf_t msg = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    free(d->error);
    d->error = buf_steal(&msg);
    d->state = -1;
    return -1;
}

/* Checks the envelope of one complete event and hands it to the callback. */
static int deliver(kube_watch_decoder_t *d, json_object *event)
{
    size_t at = d->offset - d->event_bytes;
    json_object *type_obj, *object;
    if (!json_object_is_type(event, json_type_object) ||
        !json_object_object_get_ex(event, "type", &type_obj) ||
        !json_object_is_type(type_obj, json_type_string))
        return fail(d, "watch event at byte %zu has no type", at);
    const char *type_name = json_object_get_string(type_obj);
    kube_watch_event_t ev = {0};
    size_t i;
    for (i = 0; i < UTIL_ARRAY_LEN(event_types); i++)
        if (strcmp(event_types[i].name, type_name) == 0)
            break;
    if (i == UTIL_ARRAY_LEN(event_types))
        return fail(d, "watch event at byte %zu has unknown type \"%.40s\"", at, type_name);
    ev.type = event_types[i].type;
    if (!json_object_object_get_ex(event, "object", &object) ||
        !json_object_is_type(object, json_type_object))
        return fail(d, "%s watch event at byte %zu has no object", type_name, at);
    ev.object = object;

    kube_result_t error = KUBE_RESULT_INIT;
    if (ev.type == KUBE_WATCH_ERROR) {
        kube_result_from_status(&error, object, 0);
        /* An ERROR event always ends the watch, even with a Status that says Success. */
        if (error.err == KUBE_OK)
            kube_result_set_error(&error, KUBE_ERR_UNKNOWN, NULL, "watch ERROR event: %s",
                                  json_object_to_json_string(object));
        ev.error = &error;
    }
    d->events++;
    int rc = d->fn ? d->fn(&ev, d->data) : 0;
    kube_result_clear(&error);
    return rc;
}

static bool is_json_space(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* Gives one or more whole lines (or the last, unterminated one) to the tokener. */
static int decode_lines(kube_watch_decoder_t *d, const char *data, size_t len)
{
    size_t i = 0;
    while (d->state == 0 && i < len) {
        if (!d->in_event) {
            while (i < len && is_json_space(data[i])) {
                i++;
                d->offset++;
            }
            if (i == len)
                break;
            if (data[i] != '{')
                return fail(d, "malformed watch stream at byte %zu: expected '{', found 0x%02x",
                            d->offset, (unsigned char)data[i]);
            d->in_event = true;
            d->event_bytes = 0;
        }
        /* Never give the tokener more than one byte past the limit of one event. */
        size_t n = len - i;
        size_t room = d->max_event - d->event_bytes + 1;
        if (n > room)
            n = room;
        if (n > INT_MAX / 2)
            n = INT_MAX / 2;
        json_object *event = json_tokener_parse_ex(d->tok, data + i, (int)n);
        enum json_tokener_error jerr = json_tokener_get_error(d->tok);
        size_t used = json_tokener_get_parse_end(d->tok);
        i += used;
        d->offset += used;
        d->event_bytes += used;
        if (d->event_bytes > d->max_event) {
            json_object_put(event);
            return fail(d, "watch event at byte %zu is larger than %zu bytes",
                        d->offset - d->event_bytes, d->max_event);
        }
        if (event) {
            json_tokener_reset(d->tok);
            d->in_event = false;
            int rc = deliver(d, event);
            json_object_put(event);
            if (rc != 0 && d->state == 0)
                d->state = rc;
        } else if (jerr != json_tokener_continue) {
            return fail(d, "malformed watch event at byte %zu: %s", d->offset,
                        json_tokener_error_desc(jerr));
        }
    }
    return d->state;
}

int kube_watch_decoder_feed(kube_watch_decoder_t *d, const char *data, size_t len)
{
    while (d->state == 0 && len > 0) {
        const char *newline = memchr(data, '\n', len);
        size_t take = newline ? (size_t)(newline - data) + 1 : len;
        if (d->line.len + take > d->max_event + 1)
            return fail(d, "watch event at byte %zu is larger than %zu bytes", d->offset,
                        d->max_event);
        if (!newline) {
            if (buf_append(&d->line, data, take) < 0)
                return fail(d, "out of memory buffering a watch event");
            break;
        }
        if (d->line.len == 0) {
            decode_lines(d, data, take);
        } else {
            if (buf_append(&d->line, data, take) < 0)
                return fail(d, "out of memory buffering a watch event");
            decode_lines(d, d->line.data, d->line.len);
            if (d->line.cap > LINE_KEEP_BYTES)
                buf_free(&d->line);
            else
                buf_reset(&d->line);
        }
        data += take;
        len -= take;
    }
    return d->state;
}

int kube_watch_decoder_finish(kube_watch_decoder_t *d)
{
    if (d->state == 0 && d->line.len > 0) {
        decode_lines(d, d->line.data, d->line.len);
        buf_free(&d->line);
    }
    if (d->state < 0)
        return -1;
    if (d->state == 0 && d->in_event)
        return fail(d, "watch stream ended inside an event (%zu bytes of it received)",
                    d->event_bytes);
    return 0;
}

/*
 * informer/reflector: the informer's thread, client-go's Reflector.ListAndWatch as one
 * loop.
 *
 *   list    pages (limit + continue; the server sends continue "" on the last page) of
 *           page_size items, or, by default, of as many items as fit page_bytes of JSON
 *           judging by the previous page (the first asks for FIRST_PAGE_LIMIT), so that
 *           big objects (Pods) come in small pages and small ones (Leases) in big ones;
 *           read at the latest resourceVersion (no resourceVersion:
 *           a consistent read, as client-go relists after 410). Each item becomes a store
 *           entry as its page arrives and the page is freed before the next request, so
 *           a list costs one page of json-c trees, not the whole list. The complete list
 *           then replaces the store through the relist diff. A 410 on a continued page
 *           (the snapshot was compacted) restarts the list from the first page.
 *   watch   from the last resourceVersion seen (list, event or BOOKMARK), with
 *           allowWatchBookmarks and a server-side timeout. A watch that ends (timeout,
 *           closed connection, server restart) is resumed from there; one that answers
 *           410 Gone, as an HTTP status or as an ERROR event, means events were lost, so
 *           the informer relists.
 *   errors  every failed request waits for the backoff (0.8 s doubling to 30 s, 100%
 *           jitter, at least the server's Retry-After) and is retried the same way: a
 *           failed list lists again, a failed watch watches again from the same
 *           resourceVersion. A list answering 504 (e.g. "Too large resource version"
 *           from an API server behind its peers) is such a retry. The backoff resets
 *           after a successful list and after a watch that delivered events or lasted.
 *   resync  when due, the watch is ended (its timeout is cut to the next resync) and
 *           every cached object is delivered again as an update.
 */
#include "informer/informer_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A watch that lasted this long, or delivered an event, was healthy: reset the backoff. */
#define HEALTHY_WATCH_SECONDS 1.0
/* Watch timeoutSeconds range when not configured, as client-go's minWatchTimeout. */
#define MIN_WATCH_TIMEOUT 300
/* An expired continue token (the snapshot was compacted before the last page) restarts
 * the list with pages this many times bigger, MAX_LIST_RESTARTS times; then the list is
 * made in one request, as client-go's pager does (FullListIfExpired). Paging bounds the
 * decoded peak, but a list whose pages cannot outrun compaction must still finish. */
#define MAX_LIST_RESTARTS   3
#define RESTART_PAGE_GROWTH 4
/* Adaptive paging: the first page's limit, the bounds of later ones, and how many items
 * of a page are measured to judge the next. */
#define FIRST_PAGE_LIMIT 20
#define MIN_PAGE_LIMIT   10
#define MAX_PAGE_LIMIT   500
#define PAGE_SAMPLE      8

typedef struct watch_state {
    informer_t *inf;
    size_t events;
    bool failed;     /* an event could not be stored: relist */
    bool resync_due; /* ended by us for a resync */
} watch_state_t;

static bool stopping(informer_t *inf)
{
    return atomic_load(&inf->stop);
}

static void log_failure(informer_t *inf, const char *what, const kube_result_t *res)
{
    char line[512], code[16];
    snprintf(code, sizeof(code), "%ld", res->http_code);
    log_warn(what, "informer", inf->name, "code", code, "error",
             kube_error_str(res, line, sizeof(line)), NULL);
}

/* Waits before a retry: the next backoff delay, or the server's Retry-After if longer.
 * True when the informer is asked to stop meanwhile. */
static bool wait_backoff(informer_t *inf, backoff_t *b, double retry_after)
{
    double delay = backoff_next(b);
    if (retry_after > delay)
        delay = retry_after;
    char secs[32];
    snprintf(secs, sizeof(secs), "%.1f", delay);
    log_v(2, "retrying after backoff", "informer", inf->name, "seconds", secs, NULL);
    return informer_sleep(inf, delay);
}

static const char *object_string(json_object *obj, const char *field, const char *sub)
{
    json_object *a, *b;
    if (!json_object_object_get_ex(obj, field, &a) || !json_object_object_get_ex(a, sub, &b) ||
        !json_object_is_type(b, json_type_string))
        return NULL;
    return json_object_get_string(b);
}

/* The limit of the next page given the JSON size of the last page's items (measured on
 * up to PAGE_SAMPLE of them, before the transform shrinks them) and the budget of a page
 * (page_bytes, grown by restarts). */
static long next_page_limit(size_t page_bytes, long max_limit, json_object *items, size_t n)
{
    size_t sample = n < PAGE_SAMPLE ? n : PAGE_SAMPLE, bytes = 0;
    for (size_t i = 0; i < sample; i++) {
        size_t len = 0;
        json_object_to_json_string_length(json_object_array_get_idx(items, i),
                                          JSON_C_TO_STRING_PLAIN, &len);
        bytes += len;
    }
    if (!bytes)
        return FIRST_PAGE_LIMIT;
    size_t limit = page_bytes / (bytes / sample ? bytes / sample : 1);
    return limit < MIN_PAGE_LIMIT      ? MIN_PAGE_LIMIT
           : limit > (size_t)max_limit ? max_limit
                                       : (long)limit;
}

/* Lists every page into listed. KUBE_OK with *rv_out (malloc'd) set; an API error in res;
 * KUBE_ERR_CLIENT when an item cannot be stored. */
static kube_err_t list_pages(informer_t *inf, informer_listed_t *listed, kube_result_t *res,
                             char **rv_out)
{
    char *cont = NULL;
    int restarts = 0;
    long limit = inf->page_size > 0 ? inf->page_size : inf->page_size < 0 ? 0 : FIRST_PAGE_LIMIT;
    size_t page_bytes = inf->page_bytes; /* adaptive paging's budget */
    long max_limit = MAX_PAGE_LIMIT;
    for (;;) {
        kube_list_options_t opts = {
            .label_selector = inf->label_selector,
            .field_selector = inf->field_selector,
            .limit = limit,
            .continue_token = cont,
        };
        kube_err_t err = kube_list(inf->client, &inf->resource, inf->namespace, &opts, res);
        atomic_fetch_add(&inf->list_pages, 1);
        if (err == KUBE_ERR_GONE && cont) {
            free(cont);
            cont = NULL;
            informer_listed_clear(listed);
            if (restarts++ < MAX_LIST_RESTARTS) {
                limit *= RESTART_PAGE_GROWTH;
                page_bytes *= RESTART_PAGE_GROWTH;
                max_limit *= RESTART_PAGE_GROWTH;
                char lim[24];
                snprintf(lim, sizeof lim, "%ld", limit);
                log_info("list continue token expired, listing again with bigger pages", "informer",
                         inf->name, "limit", lim, NULL);
            } else {
                limit = 0;
                log_info("list continue token expired again, listing in one request", "informer",
                         inf->name, NULL);
            }
            continue;
        }
        free(cont);
        cont = NULL;
        if (err != KUBE_OK)
            return err;
        /* A list with nothing in it may carry "items": null, or no items at all. */
        json_object *items = NULL;
        if (res->body)
            json_object_object_get_ex(res->body, "items", &items);
        if (items && !json_object_is_type(items, json_type_array))
            return kube_result_set_error(res, KUBE_ERR_DECODE, NULL,
                                         "list answer's items is not an array");
        size_t n = items ? json_object_array_length(items) : 0;
        if (inf->page_size == 0 && n > 0 && limit > 0)
            limit = next_page_limit(page_bytes, max_limit, items, n);
        for (size_t i = 0; i < n; i++)
            if (informer_listed_add(inf, listed, json_object_array_get_idx(items, i)) < 0)
                return kube_result_set_error(res, KUBE_ERR_CLIENT, NULL,
                                             "listed object cannot be cached");
        const char *rv = object_string(res->body, "metadata", "resourceVersion");
        const char *next = object_string(res->body, "metadata", "continue");
        if (next && *next) {
            if (!(cont = strdup(next)))
                return kube_result_set_error(res, KUBE_ERR_CLIENT, NULL, "out of memory");
            kube_result_clear(res); /* free this page before fetching the next */
            if (stopping(inf)) {
                free(cont);
                return KUBE_OK;
            }
            continue;
        }
        /* Without it the watch would start at "now" and miss what changed meanwhile. */
        if (!rv || !*rv)
            return kube_result_set_error(res, KUBE_ERR_DECODE, NULL,
                                         "list answer has no metadata.resourceVersion");
        if (!(*rv_out = strdup(rv)))
            return kube_result_set_error(res, KUBE_ERR_CLIENT, NULL, "out of memory");
        kube_result_clear(res);
        return KUBE_OK;
    }
}

/* One complete list applied to the store, or an error in res. */
static kube_err_t list_and_replace(informer_t *inf, kube_result_t *res)
{
    informer_listed_t listed = {0};
    char *rv = NULL;
    kube_err_t err = list_pages(inf, &listed, res, &rv);
    if (err == KUBE_OK && !stopping(inf) && informer_apply_listed(inf, &listed, rv) < 0)
        err = kube_result_set_error(res, KUBE_ERR_CLIENT, NULL, "cannot apply list");
    informer_listed_clear(&listed);
    free(rv);
    return err;
}

static bool resync_due(informer_t *inf)
{
    return inf->resync_period > 0 && util_monotonic() >= inf->next_resync;
}

static void maybe_resync(informer_t *inf)
{
    if (!resync_due(inf))
        return;
    informer_resync(inf);
    inf->next_resync = util_monotonic() + inf->resync_period;
}

static int on_watch_event(const kube_watch_event_t *event, void *data)
{
    watch_state_t *w = data;
    w->events++;
    if (informer_apply_event(w->inf, event) < 0) {
        w->failed = true;
        return 1;
    }
    if (resync_due(w->inf)) {
        w->resync_due = true;
        return 1;
    }
    return 0;
}

static long watch_timeout(informer_t *inf, unsigned int *seed)
{
    long timeout = inf->watch_timeout > 0
                       ? inf->watch_timeout
                       : MIN_WATCH_TIMEOUT + (long)(rand_r(seed) % MIN_WATCH_TIMEOUT);
    if (inf->resync_period > 0) {
        double until = ceil(inf->next_resync - util_monotonic());
        long cut = until < 1 ? 1 : (long)until;
        if (cut < timeout)
            timeout = cut;
    }
    return timeout;
}

void *informer_reflector_main(void *arg)
{
    informer_t *inf = arg;
    backoff_t backoff;
    backoff_init(&backoff, inf->backoff_initial, inf->backoff_max, 2.0, 1.0);
    unsigned int seed = (unsigned int)(uintptr_t)inf ^ (unsigned int)(util_monotonic() * 1e6);
    kube_result_t res = KUBE_RESULT_INIT;
    bool need_list = true;
    int gone_streak = 0; /* watches in a row that answered 410 before any event */

    while (!stopping(inf)) {
        if (need_list) {
            kube_err_t err = list_and_replace(inf, &res);
            if (stopping(inf))
                break;
            if (err != KUBE_OK) {
                atomic_fetch_add(&inf->errors, 1);
                log_failure(inf, "list failed", &res);
                if (wait_backoff(inf, &backoff, res.retry_after))
                    break;
                continue;
            }
            need_list = false;
            backoff_reset(&backoff);
        }
        maybe_resync(inf);

        kube_watch_options_t opts = {
            .resource_version = inf->resource_version,
            .label_selector = inf->label_selector,
            .field_selector = inf->field_selector,
            .allow_watch_bookmarks = true,
            .timeout_seconds = watch_timeout(inf, &seed),
        };
        watch_state_t w = {.inf = inf};
        double started = util_monotonic();
        atomic_fetch_add(&inf->watches, 1);
        kube_err_t err = kube_watch(inf->client, &inf->resource, inf->namespace, &opts,
                                    on_watch_event, &w, &inf->stop, &res);
        if (stopping(inf))
            break;
        if (w.events > 0 || util_monotonic() - started >= HEALTHY_WATCH_SECONDS)
            backoff_reset(&backoff);
        if (w.failed) {
            /* The store missed an event it could not take: only a list repairs that. */
            atomic_fetch_add(&inf->errors, 1);
            need_list = true;
            if (wait_backoff(inf, &backoff, 0))
                break;
            continue;
        }
        if (w.resync_due)
            continue; /* resumes from the same resourceVersion after the resync */
        if (err == KUBE_ERR_GONE) {
            gone_streak = w.events ? 1 : gone_streak + 1;
            log_info("watch expired, relisting", "informer", inf->name, "resourceVersion",
                     inf->resource_version ? inf->resource_version : "", "message",
                     res.message ? res.message : "", NULL);
            need_list = true;
            /* A list whose resourceVersion is already too old to watch from would loop. */
            if (gone_streak > 1 && wait_backoff(inf, &backoff, 0))
                break;
            continue;
        }
        gone_streak = 0;
        if (err == KUBE_OK) {
            atomic_fetch_add(&inf->watch_restarts, 1);
            log_v(3, "watch ended, resuming", "informer", inf->name, "resourceVersion",
                  inf->resource_version ? inf->resource_version : "", NULL);
            if (w.events == 0 && util_monotonic() - started < HEALTHY_WATCH_SECONDS &&
                wait_backoff(inf, &backoff, 0))
                break;
            continue;
        }
        atomic_fetch_add(&inf->errors, 1);
        atomic_fetch_add(&inf->watch_restarts, 1);
        log_failure(inf, "watch failed", &res);
        if (wait_backoff(inf, &backoff, res.retry_after))
            break;
    }
    kube_result_clear(&res);
    return NULL;
}

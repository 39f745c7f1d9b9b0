/*
 * kube/paths: where a resource lives on the API server, and the query strings of list
 * and watch. Pure string building, no I/O, so it is tested without a server.
 */
#include "kube/kube.h"

#include <stdio.h>

static bool is_set(const char *s)
{
    return s && *s;
}

int kube_resource_path(buf_t *out, const kube_resource_t *resource, const char *namespace,
                       const char *name, const char *subresource)
{
    if (!resource || !is_set(resource->version) || !is_set(resource->plural))
        return -1;
    if (is_set(subresource) && !is_set(name))
        return -1;
    if (is_set(resource->group)) {
        buf_puts(out, "/apis/");
        buf_put_url_escaped(out, resource->group);
        buf_putc(out, '/');
    } else {
        buf_puts(out, "/api/");
    }
    buf_put_url_escaped(out, resource->version);
    if (is_set(namespace)) {
        buf_puts(out, "/namespaces/");
        buf_put_url_escaped(out, namespace);
    }
    buf_putc(out, '/');
    buf_put_url_escaped(out, resource->plural);
    if (is_set(name)) {
        buf_putc(out, '/');
        buf_put_url_escaped(out, name);
    }
    if (is_set(subresource)) {
        buf_putc(out, '/');
        buf_put_url_escaped(out, subresource);
    }
    return out->oom ? -1 : 0;
}

/* Appends "key=value" with the right separator; an unset value adds nothing. */
static void add_param(buf_t *out, bool *first, const char *key, const char *value)
{
    if (!is_set(value))
        return;
    buf_putc(out, *first ? '?' : '&');
    *first = false;
    buf_puts(out, key);
    buf_putc(out, '=');
    buf_put_url_escaped(out, value);
}

static void add_long(buf_t *out, bool *first, const char *key, long value)
{
    char num[32];
    snprintf(num, sizeof(num), "%ld", value);
    add_param(out, first, key, num);
}

int kube_list_query(buf_t *out, const kube_list_options_t *opts)
{
    if (!opts)
        return out->oom ? -1 : 0;
    bool first = true;
    add_param(out, &first, "labelSelector", opts->label_selector);
    add_param(out, &first, "fieldSelector", opts->field_selector);
    if (opts->limit > 0)
        add_long(out, &first, "limit", opts->limit);
    add_param(out, &first, "continue", opts->continue_token);
    add_param(out, &first, "resourceVersion", opts->resource_version);
    add_param(out, &first, "resourceVersionMatch", opts->resource_version_match);
    return out->oom ? -1 : 0;
}

int kube_watch_query(buf_t *out, const kube_watch_options_t *opts)
{
    bool first = true;
    add_param(out, &first, "watch", "1");
    if (opts) {
        add_param(out, &first, "resourceVersion", opts->resource_version);
        add_param(out, &first, "labelSelector", opts->label_selector);
        add_param(out, &first, "fieldSelector", opts->field_selector);
        if (opts->allow_watch_bookmarks)
            add_param(out, &first, "allowWatchBookmarks", "true");
        if (opts->timeout_seconds > 0)
            add_long(out, &first, "timeoutSeconds", opts->timeout_seconds);
    }
    return out->oom ? -1 : 0;
}

int kube_write_query(buf_t *out, bool dry_run, const char *field_manager, bool force)
{
    bool first = true;
    if (dry_run)
        add_param(out, &first, "dryRun", "All");
    add_param(out, &first, "fieldManager", field_manager);
    if (force)
        add_param(out, &first, "force", "true");
    return out->oom ? -1 : 0;
}

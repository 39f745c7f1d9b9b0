/*
 * server/route: route patterns ("/logs/namespaces/{namespace}/s2iruns/{name}") and
 * matching a request path and method against one.
 */
#include "server_internal.h"

#include <string.h>
#include <strings.h>

bool route_pattern_valid(const char *pattern)
{
    if (!pattern || pattern[0] != '/')
        return false;
    for (const char *p = pattern; *p; p++) {
        if (*p == '}')
            return false; /* a '}' outside a parameter */
        if (*p != '{')
            continue;
        /* A parameter is a whole segment: "/{name}" followed by '/' or the end. */
        if (p[-1] != '/')
            return false;
        const char *close = strchr(p, '}');
        if (!close || close == p + 1)
            return false;
        for (const char *q = p + 1; q < close; q++)
            if (*q == '/' || *q == '{')
                return false;
        if (close[1] != '\0' && close[1] != '/')
            return false;
        p = close;
    }
    return true;
}

bool route_match_path(const route_t *r, const char *path, kvlist_t *params)
{
    const char *p = r->pattern, *q = path;
    while (*p) {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            const char *end = q;
            while (*end && *end != '/')
                end++;
            if (end == q)
                return false;
            if (kvlist_add(params, p + 1, (size_t)(close - p - 1), q, (size_t)(end - q)) < 0)
                return false;
            q = end;
            p = close + 1;
            continue;
        }
        if (*p != *q)
            return false;
        p++;
        q++;
    }
    if (*q == '\0')
        return true;
    if ((r->flags & SERVER_ROUTE_OPTIONAL_SLASH) && strcmp(q, "/") == 0)
        return true;
    /* A prefix ends at a segment boundary: "/logs" covers "/logs/x", not "/logsx". */
    if ((r->flags & SERVER_ROUTE_PREFIX) && (p[-1] == '/' || *q == '/'))
        return true;
    return false;
}

bool route_match_method(const route_t *r, const char *method)
{
    if (!r->method)
        return true;
    if (strcmp(r->method, method) == 0)
        return true;
    return strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0;
}
